#include "stackd/lwip_port/tcp_urgent.h"

#include "lwip/def.h"
#include "lwip/prot/tcp.h"

namespace stackd {
namespace {

TcpUrgentHandler urgent_handler = nullptr;

}  // namespace

void SetTcpUrgentHandler(TcpUrgentHandler handler) { urgent_handler = handler; }

void ReportTcpUrgent(tcp_pcb* pcb, const tcp_hdr* hdr) {
  if (urgent_handler == nullptr || (TCPH_FLAGS(hdr) & TCP_URG) == 0) return;
  const uint16_t pointer = lwip_ntohs(hdr->urgp);
  if (pointer == 0) return;  // Points before the segment: nothing urgent in it.
  // tcp_input has turned seqno (not urgp) into host order already.
  urgent_handler(pcb, hdr->seqno + pointer - 1);
}

}  // namespace stackd
