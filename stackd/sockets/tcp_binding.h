// TCP binds on lwIP with Linux's rules: which address:port another PCB
// already holds where Linux would refuse a bind (lwIP compares only
// addresses of one type and lets SO_REUSEADDR share a listener's port),
// and mbind(3)'s set of PCBs, bound all or nothing.
//
// Thread: the stack thread only (they read and change lwIP's PCB lists).
#ifndef STACKD_SOCKETS_TCP_BINDING_H_
#define STACKD_SOCKETS_TCP_BINDING_H_

#include <cstdint>
#include <vector>

#include "lwip/tcp.h"

namespace stackd {

// Whether another listener already holds `ip`:`port` (Linux refuses such a
// bind even with SO_REUSEADDR; lwIP would let both reuse it).
bool ListenerHolds(const ip_addr_t& ip, uint16_t port);

// Whether a bound, not yet listening PCB other than `self` holds `ip`:`port`
// where Linux would refuse a second bind (not both SO_REUSEADDR).
bool BinderHolds(const tcp_pcb* self, const ip_addr_t& ip, uint16_t port, bool reuse);

// mbind: binds `pcb` to ips[0]:ports[0] and a new PCB, of pcb's IP type and
// with its socket options, to each further pair. The PCBs of the set share
// ports among themselves (ANY next to specific addresses), so each gets
// SOF_REUSEADDR. Returns 0 with `pcbs` = `pcb` then the new PCBs, in the
// order of the pairs; or ENOMEM, or the errno of the bind that failed, with
// every new PCB freed and `pcbs` empty (`pcb` may be left bound).
int BindEach(tcp_pcb* pcb, const std::vector<ip_addr_t>& ips,
             const std::vector<uint16_t>& ports, std::vector<tcp_pcb*>* pcbs);

}  // namespace stackd

#endif  // STACKD_SOCKETS_TCP_BINDING_H_
