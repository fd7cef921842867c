// One watcher of the ICMP and ICMPv6 errors that reach the stack: a raw
// pcb per family sees every message before lwIP's own ICMP code, copies
// and parses it once (icmp_error.h), and hands it to the handler of the
// quoted packet's protocol: TCP's path MTU discovery (tcp_path_mtu.cc),
// UDP's socket errors (udp_socket.cc).
//
// Thread: the stack thread.
#ifndef STACKD_LWIP_PORT_ICMP_WATCH_H_
#define STACKD_LWIP_PORT_ICMP_WATCH_H_

#include <cstddef>
#include <cstdint>
#include <functional>

#include "lwip/tcp.h"
#include "stackd/lwip_port/icmp_error.h"

namespace stackd {

// Sees one error. `message` is the whole message, `n` bytes from the outer
// IP header on. Returns true to drop it: lwIP's own ICMP code then never
// sees it.
using IcmpErrorHandler =
    std::function<bool(const IcmpError& error, const uint8_t* message, size_t n)>;

// Hands errors that quote a packet of `protocol` (IP_PROTO_TCP,
// IP_PROTO_UDP, or IP_PROTO_ICMP for the echo requests of ping sockets of
// either family) to `handler` too, after the handlers added before it (the
// first that drops a message ends its round), and starts watching if that
// has not happened yet (after lwip_init()). Handlers stay for the process.
void AddIcmpErrorHandler(uint8_t protocol, IcmpErrorHandler handler);

// The TCP connection that sent the segment `error` quotes, if that
// segment's sequence number is one the connection sent and the peer has not
// acknowledged (SND.UNA..SND.NXT, RFC 5927 4.1, as Linux checks); else null.
tcp_pcb* QuotedTcpSender(const IcmpError& error);

}  // namespace stackd

#endif  // STACKD_LWIP_PORT_ICMP_WATCH_H_
