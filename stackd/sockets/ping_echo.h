// The traffic of ICMP echo ("ping") datagram sockets, as Linux's
// SOCK_DGRAM/IPPROTO_ICMP and IPPROTO_ICMPV6 sockets (net/ipv4/ping.c): a
// socket has an identifier (its "port", chosen at bind or at the first
// send), the echo requests it sends carry it, and the echo replies that
// carry it are the socket's. One raw lwIP pcb per family sends and
// receives for all of them; echo requests to the stack stay lwIP's to
// answer.
//
// Thread: the stack thread.
#ifndef STACKD_SOCKETS_PING_ECHO_H_
#define STACKD_SOCKETS_PING_ECHO_H_

#include <cstdint>

#include "lwip/ip_addr.h"
#include "lwip/pbuf.h"

namespace stackd {

// A ping socket, as the transport sees it.
class PingEndpoint {
 public:
  virtual ~PingEndpoint() = default;
  // The addresses it takes replies for: its local address (any: every)
  // and, if connected, its peer.
  virtual const ip_addr_t& ping_local() const = 0;
  virtual const ip_addr_t* ping_peer() const = 0;  // Null unless connected.
  virtual bool ping_reuse() const = 0;             // SO_REUSEADDR.
  // An echo reply for it: `message` is the ICMP message (header first),
  // valid during the call, while lwIP's ip_current_* describe its packet.
  virtual void OnEchoReply(const pbuf* message, const ip_addr_t& from) = 0;
};

// Gives `e` (of IPv6 if `v6`) the identifier `*ident` for `local`, or a
// free one if *ident is 0 (then stored). EADDRINUSE if another endpoint of
// the family has it for an overlapping address and not both reuse;
// EAGAIN if none is free.
int PingBind(PingEndpoint* e, bool v6, const ip_addr_t& local, uint16_t* ident);
// Forgets `e`'s identifier (close, disconnect).
void PingUnbind(PingEndpoint* e);

// Sends the echo request `icmp` (an ICMP or ICMPv6 message, at least its
// 8-byte header; `len` bytes) from `e`'s identifier to `dst`, from `src`
// unless it is any, with `ttl` and `tos`: the identifier goes in, the
// checksum is made. EINVAL: not an echo request (type 8 / 128, code 0) or
// shorter than its header; ENOMEM; a routing errno.
int PingSend(bool v6, uint16_t ident, const uint8_t* icmp, size_t len, const ip_addr_t& dst,
             const ip_addr_t& src, uint8_t ttl, uint8_t tos);

}  // namespace stackd

#endif  // STACKD_SOCKETS_PING_ECHO_H_
