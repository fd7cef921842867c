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

#ifdef __cplusplus
}
#endif

#endif /* CLIENT_MSOCKET_H_ */
