/* msocket: sockets on a stackd userspace TCP/IP stack.
 *
 * A stack is named by the path where its stackd listens (e.g.
 * /dev/net/mynet). msocket() is socket(2) plus that path; the socket it
 * returns is a real fd (read, write, poll, epoll, fork and fd passing work
 * as usual), and the ordinary calls (bind, listen, accept, connect,
 * getsockname, setsockopt, shutdown, ...) work on it because this library
 * provides them: for fds that are not stack sockets they are libc's.
 * Linked into a program, or preloaded (libmsocket.so, as vustack does).
 *
 * Like libc, the library never prints, aborts or exits: calls fail with -1
 * and errno.
 */
#ifndef CLIENT_MSOCKET_H_
#define CLIENT_MSOCKET_H_

#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MSOCKET_EXPORT __attribute__((visibility("default")))
#else
#define MSOCKET_EXPORT
#endif

/* The `type` of msocket() that sets a default stack instead of opening a
 * socket. */
#define SOCK_DEFAULT 0

/* Opens a socket on the stack at `path`, as socket(2) does (`type` may
 * carry SOCK_NONBLOCK and SOCK_CLOEXEC). A null `path` means the process's
 * default stack for `domain` (environment variables MSOCKET_STACK_INET,
 * MSOCKET_STACK_INET6, or MSOCKET_STACK for both), or the kernel's when
 * there is none.
 *
 * With `type` SOCK_DEFAULT it opens nothing: it checks that `path` is a
 * stack serving `domain` and makes it this process's default for `domain`
 * (AF_UNSPEC: every family the stack serves), inherited across fork and
 * exec; a null `path` makes the kernel's stack the default again. Returns
 * 0.
 *
 * Returns the new fd, or -1 with errno:
 *   ENOENT        no such path.
 *   ENOTSUP       the path exists but is not a stack.
 *   EAFNOSUPPORT  the stack does not serve `domain`.
 *   EPROTONOSUPPORT, ESOCKTNOSUPPORT  as socket(2), from the stack.
 *   ETIMEDOUT     the stack did not answer within 10 seconds.
 *   EACCES, EMFILE, ENFILE, ENOMEM  as socket(2) and connect(2).
 */
MSOCKET_EXPORT int msocket(const char* path, int domain, int type,
                           int protocol);

/* Options of mconnectx(). Zero fields take the defaults. */
struct mconnect_opts {
  /* Start attempt i at i * stagger_ms milliseconds (RFC 8305's "Happy
   * Eyeballs" connection attempt delay); an attempt that fails starts the
   * next one at once. 0: every SYN leaves at once. */
  unsigned int stagger_ms;
  /* Fail with ETIMEDOUT when no attempt has won after this many
   * milliseconds. 0: each attempt gives up after its SYN retries
   * (TCP_SYNCNT). */
  unsigned int timeout_ms;
};

/* Connects the unconnected TCP stack socket `fd` to whichever of the
 * `naddrs` addresses answers first: the stack sends SYN to all of them,
 * completes the handshake only with the first SYN+ACK and resets every
 * other attempt, so no losing server ever accepts a connection. IPv4 and
 * IPv6 addresses may be mixed on an AF_INET6 socket without IPV6_V6ONLY.
 *
 * Returns the index of the winning address. On a non-blocking fd it fails
 * with EINPROGRESS; the fd turns writable when the race is over, SO_ERROR
 * then says 0 or the error of the last attempt that failed, and
 * getpeername() names the winner. SO_SNDTIMEO bounds a blocking call
 * (EINPROGRESS when it expires), a signal interrupts it (EINTR).
 * Errors: as connect(2), and EINVAL for 0 or more than 64 addresses,
 * EOPNOTSUPP for a fd that is not a stack TCP socket; when every attempt
 * fails, the errno of the last failure (ECONNREFUSED, ETIMEDOUT,
 * ENETUNREACH, ...). */
MSOCKET_EXPORT int mconnect(int fd, const struct sockaddr *const addrs[],
                            const socklen_t addrlens[], int naddrs);

/* mconnect() with options (`opts` may be NULL). */
MSOCKET_EXPORT int mconnectx(int fd, const struct sockaddr *const addrs[],
                             const socklen_t addrlens[], int naddrs,
                             const struct mconnect_opts *opts);

/* mconnectx() to every address `host` resolves to through the socket's own
 * stack (its hosts file and DNS servers, as getaddrinfo does for programs
 * whose default stack it is), port from `service` (a number or a name from
 * /etc/services). AF_INET sockets race the IPv4 addresses; AF_INET6 ones
 * all of them (IPv6 only with IPV6_V6ONLY). Returns the index of the winner
 * in the resolved list, whose first 64 addresses take part. Errors: as
 * mconnectx(); EHOSTUNREACH when the name has no address of a usable
 * family; EAGAIN when no name server answered; ENOENT for an unknown name.
 * `opts` may be NULL. */
MSOCKET_EXPORT int mconnect_host(int fd, const char *host, const char *service,
                                 const struct mconnect_opts *opts);

/* Binds the stack socket `fd` to every address:port of the vector, all or
 * nothing: listen() then listens on all of them through this one fd, and
 * getsockname() on an accepted socket tells which address and port the
 * client dialled. IPv4 and IPv6, different addresses and ports, and a
 * wildcard next to specific addresses may be mixed. Returns 0.
 * Errors: EINVAL (no addresses, more than 64, fd already bound),
 * EADDRINUSE (nothing stays bound), EADDRNOTAVAIL, EAFNOSUPPORT (a family
 * the socket cannot take), EOPNOTSUPP (not a stack socket). On a UDP socket
 * it receives on every pair; IP_PKTINFO / IPV6_RECVPKTINFO tell which local
 * address a datagram reached. */
MSOCKET_EXPORT int mbind(int fd, const struct sockaddr *const addrs[],
                         const socklen_t addrlens[], int naddrs);

#ifdef __cplusplus
}
#endif

#endif /* CLIENT_MSOCKET_H_ */
