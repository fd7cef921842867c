// TCP binds on lwIP with Linux's rules: which address:port another PCB
// already holds where Linux would refuse a bind (lwIP compares only
// addresses of one type and lets SO_REUSEADDR share a listener's port),
// and mbind(3)'s set of PCBs, bound all or nothing.
//
// Thread: the stack thread only (they read and change lwIP's PCB lists).
#ifndef STACKD_SOCKETS_TCP_BINDING_H_
#define STACKD_SOCKETS_TCP_BINDING_H_

#include <sys/types.h>

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

// What a holder of an address:port lets a later bind share, as Linux's
// sk_reuse, sk_reuseport and owner.
struct Sharing {
  bool reuseaddr = false;
  bool reuseport = false;
  uid_t uid = 0;
};

// Whether binding `ip`:`port` with `mine` conflicts with a PCB other than
// `self` that holds it, as Linux's inet_csk_bind_conflict: a listener
// unless both have SO_REUSEPORT and one owner; a bound PCB unless that, or
// both have SO_REUSEADDR. `sharing_of` tells what a holder allows.
bool BindConflicts(const tcp_pcb* self, const ip_addr_t& ip, uint16_t port,
                   const Sharing& mine, Sharing (*sharing_of)(const tcp_pcb*));

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
