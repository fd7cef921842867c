#include "stackd/lwip_port/tcp_path_mtu.h"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "lwip/ip.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "stackd/lwip_port/icmp_error.h"
#include "stackd/lwip_port/icmp_watch.h"

namespace stackd {
namespace {

// Linux's floors: net.ipv4.route.min_pmtu, and IPv6's minimum link MTU.
constexpr uint32_t kMinPathMtu4 = 552;
constexpr uint32_t kMinPathMtu6 = 1280;

// The connection that sent the quoted segment, if its sequence number is
// one the connection sent and the peer has not acknowledged.
tcp_pcb* Sender(const IcmpError& e) {
  for (tcp_pcb* pcb = tcp_active_pcbs; pcb != nullptr; pcb = pcb->next) {
    if (pcb->local_port != e.local_port || pcb->remote_port != e.remote_port ||
        !SameAddress(pcb->local_ip, e.local) || !SameAddress(pcb->remote_ip, e.remote)) {
      continue;
    }
    const uint32_t seq = e.transport_word;
    const bool sent = TCP_SEQ_GEQ(seq, pcb->lastack) && TCP_SEQ_LEQ(seq, pcb->snd_nxt);
    return sent ? pcb : nullptr;
  }
  return nullptr;
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
  tcp_pcb* pcb = Sender(e);
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
