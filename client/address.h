// Conversions between the socket addresses programs pass to bind(2),
// connect(2), getsockname(2) and friends and the socket protocol's Address,
// with the length checks and truncation rules Linux applies.
#ifndef CLIENT_ADDRESS_H_
#define CLIENT_ADDRESS_H_

#include <sys/socket.h>

#include "proto/socket.pb.h"

namespace stackd::client {

// The shortest sockaddr_in6 the kernel takes (RFC 2133's, without
// sin6_scope_id): inet6_bind and inet6_connect refuse shorter, EINVAL.
inline constexpr socklen_t kSin6LenRfc2133 = 24;

// What the address is for: bind(2) also takes AF_UNSPEC with INADDR_ANY
// (as Linux does for AF_INET sockets); connect(2) does not.
enum class AddressUse { kBind, kConnect };

// Converts `len` bytes at `addr` (an AF_INET or AF_INET6 socket address) to
// `out`: the IP in network order, the port in host order, the IPv6 scope id
// (when `len` covers it) and flow info. An IPv4-mapped IPv6 address stays an
// AF_INET6 address; the stack decides what it means for the socket.
// Returns 0, or:
//   EINVAL: `len` is shorter than the family's address (sockaddr_in, or the
//     24 bytes of RFC 2133's sockaddr_in6) or longer than sockaddr_storage.
//   EFAULT: `addr` is null and `len` is not 0.
//   EAFNOSUPPORT: the family is neither AF_INET nor AF_INET6.
int AddressFromSockaddr(const sockaddr* addr, socklen_t len, AddressUse use,
                        socket::v1::Address* out);

// The full size of the sockaddr for `address` (sizeof(sockaddr_in) or
// sizeof(sockaddr_in6)); 0 if `address` is malformed.
socklen_t SockaddrSize(const socket::v1::Address& address);

// Writes the sockaddr for `address` to `addr` as getsockname(2) does: at
// most *len bytes (truncating), then sets *len to the full size.
// Returns 0, or:
//   EFAULT: `len` is null, or `addr` is null and *len is not 0.
//   EINVAL: *len is negative (as an int).
//   EPROTO: `address` is malformed (family, IP length, port): the stack's
//     answer cannot be trusted.
int AddressToSockaddr(const socket::v1::Address& address, sockaddr* addr,
                      socklen_t* len);

}  // namespace stackd::client

#endif  // CLIENT_ADDRESS_H_
