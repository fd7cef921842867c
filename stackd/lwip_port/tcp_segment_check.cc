// Checks on segments of synchronized connections that lwIP 2.2.1 does not
// make, run from LWIP_HOOK_TCP_INPACKET_PCB before lwIP processes them.
// What Linux does, and RFC 9293 / RFC 5961 ask:
// - a segment without ACK (and without SYN or RST) is dropped
//   (RFC 9293 3.10.7.4, "if the ACK bit is off, drop the segment");
// - an ACK of data never sent (SEG.ACK > SND.NXT) is dropped with a
//   challenge ACK (RFC 9293 3.10.7.4; Linux 6.18 answers it so, measured
//   by tests/wire);
// - an ACK older than SND.UNA - MAX.SND.WND is dropped with a challenge ACK
//   (RFC 5961 5.2);
// - an RST whose sequence number is in the window but not RCV.NXT, and a
//   SYN, get a challenge ACK (RFC 5961 3.2, 4.2) and are dropped;
// - challenge ACKs are limited to one per 500 ms per connection, like
//   Linux's net.ipv4.tcp_invalid_ratelimit.
// An exact RST (SEQ == RCV.NXT) and everything else go on to lwIP.
#include <cstdint>

#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip_hooks.h"
#include "stackd/lwip_port/tcp_urgent.h"

namespace stackd {
namespace {

constexpr uint32_t kChallengeAckIntervalMs = 500;

// The ext-arg slot that holds, per connection, when the last challenge ACK
// went out (sys_now() | 1, so that 0 means "never").
uint8_t ChallengeSlot() {
  static const uint8_t slot = tcp_ext_arg_alloc_id();
  return slot;
}

bool Synchronized(tcp_state state) {
  switch (state) {
    case ESTABLISHED:
    case FIN_WAIT_1:
    case FIN_WAIT_2:
    case CLOSE_WAIT:
    case CLOSING:
    case LAST_ACK:
      return true;
    default:
      return false;
  }
}

void ChallengeAck(tcp_pcb* pcb) {
  const uint32_t now = sys_now();
  const auto last = reinterpret_cast<uintptr_t>(tcp_ext_arg_get(pcb, ChallengeSlot()));
  if (last != 0 && now - static_cast<uint32_t>(last) < kChallengeAckIntervalMs) return;
  tcp_ext_arg_set(pcb, ChallengeSlot(), reinterpret_cast<void*>(uintptr_t{now | 1u}));
  tcp_send_empty_ack(pcb);
}

err_t Drop() {
  TCP_STATS_INC(tcp.proterr);
  TCP_STATS_INC(tcp.drop);
  return ERR_VAL;
}

int8_t CheckSegment(tcp_pcb* pcb, const tcp_hdr* hdr) {
  if (!Synchronized(pcb->state)) return ERR_OK;
  const uint8_t flags = TCPH_FLAGS(hdr);
  // tcp_input() has turned the header's numbers to host order already.
  const uint32_t seq = hdr->seqno;
  const uint32_t ack = hdr->ackno;
  if (flags & TCP_RST) {
    if (seq == pcb->rcv_nxt) return ERR_OK;
    if (TCP_SEQ_BETWEEN(seq, pcb->rcv_nxt, pcb->rcv_nxt + pcb->rcv_wnd)) ChallengeAck(pcb);
    return Drop();
  }
  if (flags & TCP_SYN) {
    ChallengeAck(pcb);
    return Drop();
  }
  if ((flags & TCP_ACK) == 0) return Drop();
  if (TCP_SEQ_GT(ack, pcb->snd_nxt)) {
    ChallengeAck(pcb);
    return Drop();
  }
  if (TCP_SEQ_LT(ack, pcb->lastack - pcb->snd_wnd_max)) {
    ChallengeAck(pcb);
    return Drop();
  }
  return ERR_OK;
}

}  // namespace
}  // namespace stackd

// The segment hook: the checks, then what lwIP does not read of a segment
// it will process (the urgent pointer).
extern "C" int8_t stackd_tcp_inpacket(struct tcp_pcb* pcb, struct tcp_hdr* hdr) {
  const int8_t verdict = stackd::CheckSegment(pcb, hdr);
  if (verdict == ERR_OK) stackd::ReportTcpUrgent(pcb, hdr);
  return verdict;
}
