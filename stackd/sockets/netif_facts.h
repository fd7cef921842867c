// What the stack's netifs say about addresses, for the sockets' calls.
//
// Thread: the stack thread.
#ifndef STACKD_SOCKETS_NETIF_FACTS_H_
#define STACKD_SOCKETS_NETIF_FACTS_H_

#include "lwip/ip_addr.h"

namespace stackd {

// Whether `ip` is an address of this stack (or a wildcard): what bind()
// accepts without IP_FREEBIND.
bool IsLocalAddress(const ip_addr_t& ip);

// The MTU of the path from `local` to `remote`, as Linux's IP_MTU and
// IPV6_MTU report it: the route's, or lower if the path MTU learned for
// `remote` is (tcp_path_mtu.h); the loopback says 65536, as Linux's lo; 0
// if there is no route.
int PathMtu(const ip_addr_t& local, const ip_addr_t& remote);

}  // namespace stackd

#endif  // STACKD_SOCKETS_NETIF_FACTS_H_
