// The BSD socket calls on stack sockets, carried out with the stack's help
// (docs/socket-protocol.md): what a TCP socket's calls return on Linux,
// for a socket whose data travels over a socketpair.
//
// Each function takes the application's fd and the stack that serves it
// (FindStack()), and returns 0 or the errno the application's call fails
// with. errno itself is unspecified afterwards; the caller sets it. A stack
// that is gone (its PATH missing or refusing, or closing without an answer)
// is ENETDOWN. The stack's own errors are those of proto/socket.proto.
//
// Thread: any. Each call opens its own control connection.
#ifndef CLIENT_STACK_SOCKET_H_
#define CLIENT_STACK_SOCKET_H_

#include <sys/socket.h>

#include <cstdint>
#include <functional>

#include "client/stack_name.h"
#include "proto/socket.pb.h"

namespace stackd::client {

// Asks the stack at `path` for a new socket (SocketRequest with `type`
// without SOCK_NONBLOCK and SOCK_CLOEXEC) and applies those two flags to
// the fd that comes back, stored in *fd.
// Errors: ENOENT (no such path), ENOTSUP (path is not a stack), the stack's
// answer (EAFNOSUPPORT, EPROTONOSUPPORT, ESOCKTNOSUPPORT, ENOMEM), or the
// call's own (ETIMEDOUT, EACCES, EMFILE, ...).
int StackSocket(const char* path, int domain, int type, int protocol, int* fd);

// Asks the stack at `path` which families it serves (HelloRequest).
// Errors: as StackSocket().
int StackHello(const char* path, socket::v1::HelloResponse* hello);

int StackBind(int fd, const StackName& stack, const sockaddr* addr,
              socklen_t len);
int StackListen(int fd, const StackName& stack, int backlog);

// connect(2): gates the fd (not writable until the handshake is done), asks
// the stack, and for a blocking fd waits for the result, honouring
// SO_SNDTIMEO (EINPROGRESS when it expires, as Linux) and signals (EINTR;
// the attempt goes on). EALREADY on a non-blocking fd while a connect is in
// progress (a blocking fd waits for it), EISCONN once connected.
int StackConnect(int fd, const StackName& stack, const sockaddr* addr,
                 socklen_t len);

// The connect machinery behind StackConnect and StackMConnect: gates the
// fd, sends the request `make_request` fills in (given the gate's size and
// the send buffer to restore), and waits like StackConnect. When a blocking
// connect succeeds, `peer` (if not null) gets the peer's address.
int GatedConnect(
    int fd, const StackName& stack,
    const std::function<void(socket::v1::Request*, uint32_t gate_bytes,
                             int app_sndbuf)>& make_request,
    socket::v1::Address* peer = nullptr);

// mconnect(3): races a handshake to every address (MConnectRequest). For a
// blocking fd that connected, *winner is the index of the address that won;
// otherwise -1. Errors: as StackConnect, EINVAL (no addresses or over 64).
int StackMConnect(int fd, const StackName& stack, const sockaddr* const addrs[],
                  const socklen_t lens[], int n, uint32_t stagger_ms,
                  uint32_t timeout_ms, int* winner);

// mbind(3): binds to every address, all or nothing (MBindRequest).
int StackMBind(int fd, const StackName& stack, const sockaddr* const addrs[],
               const socklen_t lens[], int n);

// accept4(2) on a listening stack socket: reads one accept record. The new
// fd, with `flags` (SOCK_NONBLOCK, SOCK_CLOEXEC) applied, is stored in
// *new_fd. Errors: EINVAL (bad flags; the listener was closed by the stack
// and left no error), EFAULT (`addr` without `len`), EAGAIN (non-blocking,
// queue empty), EINTR, EPROTO (a malformed record; its fd is closed), the
// listener's recorded error.
int StackAccept(int fd, const StackName& stack, sockaddr* addr, socklen_t* len,
                int flags, int* new_fd);

// getsockname(2) (`peer` false) or getpeername(2) (`peer` true).
int StackGetName(int fd, const StackName& stack, bool peer, sockaddr* addr,
                 socklen_t* len);

int StackShutdown(int fd, const StackName& stack, int how);

// setsockopt(2)/getsockopt(2). SO_RCVTIMEO and SO_SNDTIMEO act on the fd
// itself; SO_RCVBUF and SO_SNDBUF go to the stack and to the fd; SO_ERROR is
// the stack's error (else the fd's own, which is cleared too); the rest go
// to the stack, which answers ENOPROTOOPT for options it does not keep.
// The library shapes TCP_INFO (Linux's struct from the stack's report) and
// answers TCP_CONGESTION ("reno", lwIP's; setting another is ENOENT), and
// takes TCP_CORK and TCP_DEFER_ACCEPT on a socket the stack has already
// closed (EINVAL), as Linux still takes them there.
int StackSetOpt(int fd, const StackName& stack, int level, int name,
                const void* value, socklen_t len);
int StackGetOpt(int fd, const StackName& stack, int level, int name,
                void* value, socklen_t* len);

// After a read on `fd` returned 0 (end of stream): the error the read
// returns instead (the connection's recorded error, e.g. ECONNRESET or
// ETIMEDOUT), or 0 for a real end of stream.
int StackErrorAtEof(int fd, const StackName& stack);

// sendmsg(2)'s checks for a TCP socket: a control message at SOL_SOCKET
// that TCP does not take (SCM_RIGHTS, SCM_CREDENTIALS, ...) is EINVAL;
// MSG_FASTOPEN is EOPNOTSUPP (the stack has no TCP Fast Open). Returns 0
// and *sendable, the message to hand to the kernel: without a destination
// (TCP ignores it) and without control messages.
int StackCheckSend(const msghdr* msg, int flags, msghdr* sendable);

// One control call about the stack socket `fd` (which rides along): 0 or
// the errno for the application (ENETDOWN if the stack is gone, the
// stack's answer otherwise). For calls this file does not wrap.
int StackCall(int fd, const StackName& stack, socket::v1::Request* request,
              socket::v1::Response* response);

}  // namespace stackd::client

#endif  // CLIENT_STACK_SOCKET_H_
