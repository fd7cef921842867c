#include "stackd/lwip_port/icmp_watch.h"

#include <optional>
#include <utility>
#include <vector>

#include "lwip/ip.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/raw.h"
#include "lwip/tcp.h"

namespace stackd {
namespace {

struct Handlers {
  std::vector<IcmpErrorHandler> tcp;
  std::vector<IcmpErrorHandler> udp;
  std::vector<IcmpErrorHandler> ping;  // Quoted echo requests, both families.
};


Handlers& handlers() {
  static Handlers h;
  return h;
}
std::vector<IcmpErrorHandler>& HandlersOf(uint8_t protocol) {
  if (protocol == IP_PROTO_TCP) return handlers().tcp;
  if (protocol == IP_PROTO_UDP) return handlers().udp;
  return handlers().ping;
}

// Raw pcb callback: `p` starts with the IP header. Returns 0 (lwIP's own
// ICMP code sees the message) unless a handler drops it.
u8_t OnIcmp(void*, raw_pcb*, pbuf* p, const ip_addr_t*) {
  // The whole message: the outer IP header, the ICMP header, the quoted IP
  // and transport headers and what the error quotes of the payload (Linux
  // quotes up to 576 bytes of ICMP, 1280 of ICMPv6).
  uint8_t b[1500];
  if (p->tot_len > sizeof(b)) return 0;
  const u16_t n = pbuf_copy_partial(p, b, sizeof(b), 0);
  const std::optional<IcmpError> e = ParseIcmpError(b, n);
  if (!e) return 0;
  for (const IcmpErrorHandler& handler : HandlersOf(e->protocol)) {
    if (handler(*e, b, n)) {
      pbuf_free(p);
      return 1;
    }
  }
  return 0;
}

void Watch() {
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

}  // namespace

tcp_pcb* QuotedTcpSender(const IcmpError& e) {
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

void AddIcmpErrorHandler(uint8_t protocol, IcmpErrorHandler handler) {
  HandlersOf(protocol).push_back(std::move(handler));
  Watch();
}

}  // namespace stackd
