// Conversions between the socket protocol's Address and lwIP's addresses.
#ifndef STACKD_SOCKETS_WIRE_ADDRESS_H_
#define STACKD_SOCKETS_WIRE_ADDRESS_H_

#include <cstdint>

#include "lwip/ip_addr.h"
#include "proto/socket.pb.h"

namespace stackd {

// Converts `in` for a socket of family `socket_family` (AF_INET or
// AF_INET6). On an AF_INET6 socket that is not `v6only`, an IPv4-mapped
// address (::ffff:a.b.c.d) becomes the IPv4 address. Returns 0, or
// EAFNOSUPPORT (family does not fit the socket) or EINVAL (bad length,
// mapped address on a v6only socket is accepted by Linux but cannot reach
// anything: ENETUNREACH is left to routing).
int FromWire(const socket::v1::Address& in, int socket_family, bool v6only,
             ip_addr_t* ip, uint16_t* port);

// mconnect and mbind take IPv4 addresses on an AF_INET6 socket as their
// IPv4-mapped form, as connect() and bind() take them: `a` as a socket of
// `socket_family` would be given it (unchanged unless it is IPv4 on an
// AF_INET6 socket).
socket::v1::Address InFamily(const socket::v1::Address& a, int socket_family);

// The address a socket of `socket_family` reports: IPv4 addresses on an
// AF_INET6 socket appear IPv4-mapped.
socket::v1::Address ToWire(const ip_addr_t& ip, uint16_t port,
                           int socket_family);

}  // namespace stackd

#endif  // STACKD_SOCKETS_WIRE_ADDRESS_H_
