// lwIP hooks (LWIP_HOOK_FILENAME): included by lwIP's sources after its own
// headers. Implemented in hooks.cc.
#ifndef STACKD_LWIP_PORT_LWIP_HOOKS_H_
#define STACKD_LWIP_PORT_LWIP_HOOKS_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct netif;
struct ip6_addr;
struct ip_addr;
struct ip4_addr;
struct pbuf;
struct tcp_pcb;
struct tcp_hdr;

// The IPv6 next hop for an off-link destination: the configured gateway of
// the netif, or NULL when there is none (lwIP then asks its router list).
const struct ip6_addr* stackd_nd6_get_gw(struct netif* netif,
                                         const struct ip6_addr* dest);

// The initial sequence number of a new connection (RFC 6528; tcp_keyed_hash.cc).
uint32_t stackd_tcp_isn(const struct ip_addr* local_ip, uint16_t local_port,
                        const struct ip_addr* remote_ip, uint16_t remote_port);

// A SYN cookie's hash (lwIP patch 0008, RFC 4987 3.6; tcp_keyed_hash.cc): keyed
// with the ISN secret over the connection, the peer's ISN and `counter`.
uint32_t stackd_tcp_syncookie(const struct ip_addr* local_ip, uint16_t local_port,
                              const struct ip_addr* remote_ip, uint16_t remote_port,
                              uint32_t peer_isn, uint32_t counter);

// RFC 6056's per-destination offset for a connection's ephemeral port
// (lwIP patch 0009; tcp_keyed_hash.cc): keyed with the ISN secret.
uint32_t stackd_tcp_port_offset(const struct ip_addr* local_ip, const struct ip_addr* remote_ip,
                                uint16_t remote_port);

// The offset of a connection's TCP timestamp clock (lwIP patch 0021;
// tcp_keyed_hash.cc): keyed with the ISN secret over the two addresses.
uint32_t stackd_tcp_ts_offset(const struct ip_addr* local_ip, const struct ip_addr* remote_ip);

// Which member of a SO_REUSEPORT group takes a new connection
// (tcp_reuseport.cc): keyed with the ISN secret, so the spread is even
// whatever ports the peers choose, and no peer can aim at one member.
uint32_t stackd_tcp_reuseport_hash(const struct ip_addr* local_ip, uint16_t local_port,
                                   const struct ip_addr* remote_ip, uint16_t remote_port);

// Every IPv4 packet before lwIP reads it (ip4_options.cc): packets with a
// source route option are dropped (nonzero: eaten), and an echo request's
// record route option is filled, as Linux.
int stackd_ip4_input(struct pbuf* p, struct netif* inp);

// The IPv4 Identification field of an outgoing packet (lwIP patch 0013;
// ip4_id.cc): a counter per flow, so that no peer can count what the stack
// sends to others (RFC 7739).
uint16_t stackd_ip4_id(const struct pbuf* p, uint16_t ip_hlen, const struct ip4_addr* src,
                       const struct ip4_addr* dest, uint8_t proto);

// A packet waits on lwIP's loopback netif, and none did before (lwIP patch
// 0015; stack.cc): the stack thread delivers it at once, not at its next
// timer.
void stackd_netif_loop_queued(struct netif* netif);

// RFC 9293 / RFC 5961 checks on a segment of a connection before lwIP sees
// it (tcp_segment_check.cc). ERR_OK: lwIP processes it; anything else: it
// is dropped (a challenge ACK may have been sent). A segment that passes
// reports its urgent pointer (tcp_urgent.h).
int8_t stackd_tcp_inpacket(struct tcp_pcb* pcb, struct tcp_hdr* hdr);

// The path MTU learned for an IPv4 destination, or 0 (lwIP patch 0031;
// tcp_path_mtu.cc): lwIP keeps IPv4 path MTUs nowhere.
uint16_t stackd_ip4_path_mtu(const struct ip4_addr* dest, struct netif* netif);

#ifdef __cplusplus
}
#endif

#define LWIP_HOOK_ND6_GET_GW(netif, dest) stackd_nd6_get_gw(netif, dest)
#define LWIP_HOOK_TCP_ISN(local_ip, local_port, remote_ip, remote_port) \
  stackd_tcp_isn(local_ip, local_port, remote_ip, remote_port)
#define LWIP_HOOK_TCP_TS_OFFSET(local_ip, remote_ip) stackd_tcp_ts_offset(local_ip, remote_ip)
#define LWIP_HOOK_TCP_SYNCOOKIE(local_ip, local_port, remote_ip, remote_port, peer_isn, \
                                counter)                                              \
  stackd_tcp_syncookie(local_ip, local_port, remote_ip, remote_port, peer_isn, counter)
#define LWIP_HOOK_TCP_PORT_OFFSET(local_ip, remote_ip, remote_port) \
  stackd_tcp_port_offset(local_ip, remote_ip, remote_port)
#define LWIP_HOOK_IP4_INPUT(p, inp) stackd_ip4_input(p, inp)
#define LWIP_HOOK_IP4_PATH_MTU(dest, netif) stackd_ip4_path_mtu(dest, netif)
#define LWIP_HOOK_IP4_OUTPUT_ID(p, ip_hlen, src, dest, proto) \
  stackd_ip4_id(p, ip_hlen, src, dest, proto)
#define LWIP_HOOK_NETIF_LOOP_QUEUED(netif) stackd_netif_loop_queued(netif)
#define LWIP_HOOK_TCP_INPACKET_PCB(pcb, hdr, optlen, opt1len, opt2, p) \
  stackd_tcp_inpacket(pcb, hdr)

#endif  // STACKD_LWIP_PORT_LWIP_HOOKS_H_
