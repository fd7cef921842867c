#include "stackd/lwip_port/tcp_path_mtu.h"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/raw.h"
#include "lwip/tcp.h"
#include "stackd/lwip_port/icmp_error.h"

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

// Raw pcb callback: `p` starts with the IP header. Returns 0 (lwIP's own
// ICMP code sees the message) except for a "packet too big" about TCP
// that quotes no segment a connection sent: that one is dropped here, so
// that lwIP's destination cache does not learn a forged MTU for the peer
// (as Linux, which learns it only through the connection).
u8_t OnIcmp(void*, raw_pcb*, pbuf* p, const ip_addr_t*) {
  uint8_t b[1500];
  if (p->tot_len > sizeof(b)) return 0;  // An error message is at most 1280 bytes.
  const u16_t n = pbuf_copy_partial(p, b, sizeof(b), 0);
  const std::optional<IcmpError> e = ParseIcmpError(b, n);
  if (!e || e->protocol != IP_PROTO_TCP) return 0;
  const std::optional<uint32_t> reported = e->PathMtu();
  if (!reported) return 0;
  const uint32_t mtu = std::max(*reported, e->v4 ? kMinPathMtu4 : kMinPathMtu6);
  tcp_pcb* pcb = Sender(*e);
  if (pcb == nullptr) {
    if (e->v4) return 0;
    pbuf_free(p);
    return 1;
  }
  tcp_pmtu_update(pcb, static_cast<u16_t>(std::min<uint32_t>(mtu, 0xffff)));
  return 0;
}

}  // namespace

void WatchTcpPathMtu() {
  static raw_pcb* watch4 = nullptr;
  static raw_pcb* watch6 = nullptr;
  if (watch4 == nullptr) {
    watch4 = raw_new_ip_type(IPADDR_TYPE_V4, IP_PROTO_ICMP);
    if (watch4 != nullptr) raw_recv(watch4, &OnIcmp, nullptr);
  }
  if (watch6 == nullptr) {
    watch6 = raw_new_ip_type(IPADDR_TYPE_V6, IP6_NEXTH_ICMP6);
    if (watch6 != nullptr) raw_recv(watch6, &OnIcmp, nullptr);
  }
}

}  // namespace stackd
