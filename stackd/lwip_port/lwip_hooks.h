// lwIP hooks (LWIP_HOOK_FILENAME): included by lwIP's sources after its own
// headers. Implemented in hooks.cc.
#ifndef STACKD_LWIP_PORT_LWIP_HOOKS_H_
#define STACKD_LWIP_PORT_LWIP_HOOKS_H_

#ifdef __cplusplus
extern "C" {
#endif

struct netif;
struct ip6_addr;

// The IPv6 next hop for an off-link destination: the configured gateway of
// the netif, or NULL when there is none (lwIP then asks its router list).
const struct ip6_addr* stackd_nd6_get_gw(struct netif* netif,
                                         const struct ip6_addr* dest);

#ifdef __cplusplus
}
#endif

#define LWIP_HOOK_ND6_GET_GW(netif, dest) stackd_nd6_get_gw(netif, dest)

#endif  // STACKD_LWIP_PORT_LWIP_HOOKS_H_
