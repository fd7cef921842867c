#include "stackd/lwip_port/tcp_path_mtu.h"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "lwip/ip.h"
#include "lwip/tcp.h"
#include "stackd/lwip_port/icmp_error.h"
#include "stackd/lwip_port/icmp_watch.h"

namespace stackd {
namespace {

// Linux's floors: net.ipv4.route.min_pmtu, and IPv6's minimum link MTU.
constexpr uint32_t kMinPathMtu4 = 552;
constexpr uint32_t kMinPathMtu6 = 1280;


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
  tcp_pmtu_update(pcb, static_cast<u16_t>(std::min<uint32_t>(mtu, 0xffff)));
  return false;
}

}  // namespace

void WatchTcpPathMtu() {
  static bool watching = false;
  if (watching) return;
  watching = true;
  AddIcmpErrorHandler(IP_PROTO_TCP, &OnTcpError);
}

}  // namespace stackd
