// Urgent data (RFC 9293 3.8.5). lwIP ignores the URG bit and delivers the
// urgent byte in the stream like any other; stackd learns where it is from
// the segment hook (LWIP_HOOK_TCP_INPACKET_PCB) and hands it to the
// application out of band, as Linux does unless SO_OOBINLINE is set.
//
// Thread: the stack thread.
#ifndef STACKD_LWIP_PORT_TCP_URGENT_H_
#define STACKD_LWIP_PORT_TCP_URGENT_H_

#include <cstdint>

struct tcp_pcb;
struct tcp_hdr;

namespace stackd {

// Called for a segment of `pcb` with URG set that lwIP is about to
// process: `urgent_seq` is the sequence number of the urgent byte,
// SEG.SEQ + SEG.UP - 1 (the BSD reading, which Linux follows by default).
using TcpUrgentHandler = void (*)(tcp_pcb* pcb, uint32_t urgent_seq);

// Sets the one handler (nullptr: none).
void SetTcpUrgentHandler(TcpUrgentHandler handler);

// From the segment hook, for a segment lwIP will process (its seqno in
// host order, as tcp_input leaves it).
void ReportTcpUrgent(tcp_pcb* pcb, const tcp_hdr* hdr);

}  // namespace stackd

#endif  // STACKD_LWIP_PORT_TCP_URGENT_H_
