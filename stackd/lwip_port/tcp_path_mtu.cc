#include "stackd/lwip_port/tcp_path_mtu.h"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "lwip/ip.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "stackd/lwip_port/icmp_error.h"
#include "stackd/lwip_port/icmp_watch.h"
#include "lwip_hooks.h"
#include "stackd/lwip_port/path_mtu_table.h"

namespace stackd {
namespace {

// Linux's floors: net.ipv4.route.min_pmtu, and IPv6's minimum link MTU.
constexpr uint32_t kMinPathMtu4 = 552;
constexpr uint32_t kMinPathMtu6 = 1280;

// IPv4 destinations whose path MTU stackd keeps; when more learn one, the
// one learned first is forgotten (Linux's route exceptions are bounded too).
constexpr size_t kIp4PathMtuEntries = 1024;

PathMtuTable& Ip4PathMtus() {
  static auto* table = new PathMtuTable(kIp4PathMtuEntries, kPathMtuLifetimeSeconds * 1000);
  return *table;
}

// An ICMP error that quotes a TCP segment. Keeps it for lwIP's own ICMP
// code (false) except for a "packet too big" that quotes no segment a
// connection sent: that one is dropped, so that lwIP's destination cache
// does not learn a forged MTU for the peer (as Linux, which learns it only
// through the connection).
bool OnTcpError(const IcmpError& e, const uint8_t*, size_t) {
  const std::optional<uint32_t> reported = e.PathMtu();
  if (!reported) return false;
  const uint32_t mtu = std::max(*reported, e.v4 ? kMinPathMtu4 : kMinPathMtu6);
  tcp_pcb* pcb = QuotedTcpSender(e);
  if (pcb == nullptr) return !e.v4;
  const auto mtu16 = static_cast<u16_t>(std::min<uint32_t>(mtu, 0xffff));
  if (e.v4 && IP_IS_V4(&pcb->remote_ip)) {
    Ip4PathMtus().Learn(ip4_addr_get_u32(ip_2_ip4(&pcb->remote_ip)), mtu16, sys_now());
  }
  tcp_pmtu_update(pcb, mtu16);
  return false;
}

}  // namespace

uint16_t LearnedIp4PathMtu(const ip4_addr& destination) {
  return Ip4PathMtus().Find(ip4_addr_get_u32(&destination), sys_now()).value_or(0);
}

void WatchTcpPathMtu() {
  static bool watching = false;
  if (watching) return;
  watching = true;
  AddIcmpErrorHandler(IP_PROTO_TCP, &OnTcpError);
}

}  // namespace stackd

extern "C" uint16_t stackd_ip4_path_mtu(const ip4_addr* dest, netif*) {
  return stackd::LearnedIp4PathMtu(*dest);
}
