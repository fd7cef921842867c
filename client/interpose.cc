// The BSD socket calls, under their libc names, for programs that link the
// library or preload it: a call on a stack socket is served with the
// stack's help (stack_socket.h, stack_datagram.h); every other call goes to
// libc untouched (libc.h). Whether an fd is a stack socket costs one
// getpeername system call (stack_name.h).
//
// The data calls (read, recv*, write, send*, readv, writev, sendmmsg,
// recvmmsg, ioctl FIONREAD) first ask whether the fd is a stack UDP
// socket, whose datagrams carry a header: one getsockopt(SO_RCVLOWAT)
// system call the first time for each fd number (fd_cache.h: remembered
// for fds that are not, until close, dup2 and the rest change the number's
// meaning), and on every call on a stack UDP socket. On a TCP stack socket
// the kernel moves the bytes; read, recv and friends are then only looked
// at when they return 0, to turn the end of a stream that a reset or
// timeout closed into the error Linux reports.
//
// close, dup, dup2, dup3, fcntl, closefrom and close_range go to libc; the
// library only forgets what it knew of the numbers they touch. Not
// interposed, because the kernel answers them on the real fd: ioctl (but
// FIONREAD on a UDP socket), poll, select, epoll.

// The fortified variants must not be inline wrappers here: this file
// defines the names themselves.
#undef _FORTIFY_SOURCE

#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <new>

#include "client/defaults.h"
#include "client/fd_cache.h"
#include "client/libc.h"
#include "client/msocket.h"
#include "client/stack_datagram.h"
#include "client/stack_name.h"
#include "client/guarded.h"
#include "client/stack_socket.h"

using stackd::client::DatagramMark;
using stackd::client::FindDatagramSocket;
using stackd::client::FindStack;
using stackd::client::StackName;
namespace libc = stackd::client::libc;
namespace client = stackd::client;

namespace {

using stackd::client::Guarded;

// What the application's call returns: 0 with errno as it was on entry, or
// -1 with errno = `error`.
int Finish(int error, int saved_errno) {
  errno = error != 0 ? error : saved_errno;
  return error != 0 ? -1 : 0;
}

// After a read-like call returned 0 for `requested` > 0 bytes: 0 (end of
// stream), or -1 with the error a reset or timeout left on a stack socket.
ssize_t AfterEndOfStream(int fd, size_t requested) {
  if (requested == 0) return 0;
  StackName stack;
  if (!FindStack(fd, &stack)) return 0;
  const int saved_errno = errno;
  const int error = Guarded([&] { return client::StackErrorAtEof(fd, stack); });
  return Finish(error, saved_errno);
}

// After a read-like call on a stream failed with ECONNRESET: on a stack
// socket that is the pair, which stackd closed while the application's
// bytes were still unread (a reset, a timeout); the call reports the
// connection's own error instead, as Linux does, and consumes it.
ssize_t AfterPairReset(int fd) {
  StackName stack;
  if (FindStack(fd, &stack)) {
    const int error = Guarded([&] { return client::StackErrorAtEof(fd, stack); });
    if (error != 0) {
      errno = error;
      return -1;
    }
  }
  errno = ECONNRESET;
  return -1;
}

// What a read-like call of `requested` bytes on a stream returns when
// libc's returned `n`: end of stream and the pair's reset mean the
// connection's error on a stack socket.
ssize_t AfterStreamRead(int fd, ssize_t n, size_t requested) {
  if (n == 0) return AfterEndOfStream(fd, requested);
  if (n < 0 && errno == ECONNRESET) return AfterPairReset(fd);
  return n;
}

// After a stream send failed with EPIPE. On a stack socket whose
// connection was reset, as Linux, the first send after the reset reports
// ECONNRESET (without SIGPIPE) and only later ones EPIPE. `signal`: raise
// the SIGPIPE that the caller's flags ask for (the library sent with
// MSG_NOSIGNAL to decide first).
ssize_t AfterBrokenPipe(int fd, bool signal) {
  StackName stack;
  if (FindStack(fd, &stack)) {
    const int error = Guarded([&] { return client::StackErrorAtEof(fd, stack); });
    if (error != 0 && error != EPIPE) {
      errno = error;
      return -1;
    }
  }
  if (signal) pthread_kill(pthread_self(), SIGPIPE);
  errno = EPIPE;
  return -1;
}

// send(2) on a stream socket (or any fd send takes): as libc's, with
// AfterBrokenPipe's answer to EPIPE.
ssize_t SendStream(int fd, const void* buf, size_t len, int flags) {
  const ssize_t n = libc::Send(fd, buf, len, flags | MSG_NOSIGNAL);
  if (n < 0 && errno == EPIPE) return AfterBrokenPipe(fd, (flags & MSG_NOSIGNAL) == 0);
  return n;
}

// recv(2) on a stream socket with MSG_TRUNC: on a stack socket, as Linux's
// TCP, the bytes are taken (or with MSG_PEEK looked at) but not copied.
// Other fds get libc's recv.
ssize_t RecvTruncating(int fd, void* buf, size_t len, int flags) {
  StackName stack;
  if ((flags & MSG_TRUNC) == 0 || !FindStack(fd, &stack)) {
    return libc::Recv(fd, buf, len, flags);
  }
  char scratch[16384];
  ssize_t total = 0;
  const int rest = flags & ~MSG_TRUNC;
  do {
    const size_t want = std::min(sizeof(scratch), len - static_cast<size_t>(total));
    const ssize_t n = libc::Recv(fd, scratch, (flags & MSG_PEEK) ? std::min(len, sizeof(scratch)) : want,
                                 total > 0 ? rest | MSG_DONTWAIT : rest);
    if (n <= 0) return total > 0 ? total : n;
    total += n;
    // A peek sees at most one scratch buffer: it reports that much.
    if ((flags & MSG_PEEK) != 0 || static_cast<size_t>(n) < want) break;
  } while (static_cast<size_t>(total) < len);
  return total;
}

int AcceptOnStack(int fd, const StackName& stack, sockaddr* addr,
                  socklen_t* len, int flags) {
  DatagramMark mark;
  if (FindDatagramSocket(fd, &mark)) {
    errno = EOPNOTSUPP;  // As Linux for a UDP socket.
    return -1;
  }
  const int saved_errno = errno;
  int new_fd = -1;
  const int error = Guarded([&] {
    return client::StackAccept(fd, stack, addr, len, flags, &new_fd);
  });
  if (error != 0) return Finish(error, saved_errno);
  errno = saved_errno;
  return new_fd;
}

// The fd numbers that SCM_RIGHTS brought in `msg` may now be stack sockets.
void ForgetReceivedFds(const msghdr* msg) {
  if (msg == nullptr || msg->msg_control == nullptr) return;
  for (cmsghdr* c = CMSG_FIRSTHDR(msg); c != nullptr;
       c = CMSG_NXTHDR(const_cast<msghdr*>(msg), c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int received;
      std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      client::ForgetFd(received);
    }
  }
}

size_t IovecBytes(const iovec* iov, size_t count) {
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) total += iov[i].iov_len;
  return total;
}

// A receive on a stack UDP socket, returned as recvmsg(2) returns it.
ssize_t ReceiveDatagram(int fd, msghdr* msg, int flags) {
  const int saved_errno = errno;
  size_t received = 0;
  const int error = Guarded(
      [&] { return client::DatagramReceive(fd, msg, flags, &received); });
  if (error != 0) {
    errno = error;
    return -1;
  }
  errno = saved_errno;
  return static_cast<ssize_t>(received);
}

ssize_t ReceiveDatagram(int fd, void* buf, size_t len, int flags,
                        sockaddr* addr, socklen_t* addr_len) {
  if (addr != nullptr && addr_len == nullptr) {
    errno = EFAULT;
    return -1;
  }
  if (addr != nullptr && static_cast<int>(*addr_len) < 0) {
    errno = EINVAL;
    return -1;
  }
  iovec iov{buf, len};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (addr != nullptr) {
    msg.msg_name = addr;
    msg.msg_namelen = *addr_len;
  }
  const ssize_t n = ReceiveDatagram(fd, &msg, flags);
  if (n >= 0 && addr != nullptr) *addr_len = msg.msg_namelen;
  return n;
}

ssize_t ReceiveDatagram(int fd, const iovec* iov, int iovcnt) {
  if (iovcnt < 0) {
    errno = EINVAL;
    return -1;
  }
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = static_cast<size_t>(iovcnt);
  return ReceiveDatagram(fd, &msg, 0);
}

// A send on a stack UDP socket, returned as sendmsg(2) returns it.
ssize_t SendDatagram(int fd, const DatagramMark& mark, const msghdr* msg,
                     int flags) {
  const int saved_errno = errno;
  size_t sent = 0;
  const int error = Guarded(
      [&] { return client::DatagramSend(fd, mark, msg, flags, &sent); });
  if (error != 0) {
    errno = error;
    return -1;
  }
  errno = saved_errno;
  return static_cast<ssize_t>(sent);
}

ssize_t SendDatagram(int fd, const DatagramMark& mark, const void* buf,
                     size_t len, int flags, const sockaddr* addr,
                     socklen_t addr_len) {
  // sendto(2) with an address of length 0 is an address all the same.
  if (addr != nullptr && addr_len < sizeof(sa_family_t)) {
    errno = EINVAL;
    return -1;
  }
  iovec iov{const_cast<void*>(buf), len};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_name = const_cast<sockaddr*>(addr);
  msg.msg_namelen = addr != nullptr ? addr_len : 0;
  return SendDatagram(fd, mark, &msg, flags);
}

ssize_t SendDatagram(int fd, const DatagramMark& mark, const iovec* iov,
                     int iovcnt) {
  if (iovcnt < 0) {
    errno = EINVAL;
    return -1;
  }
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = static_cast<size_t>(iovcnt);
  return SendDatagram(fd, mark, &msg, 0);
}

}  // namespace

#define INTERPOSE extern "C" __attribute__((visibility("default")))

// Linux's SOCK_MAX: socket types at or above it are EINVAL.
constexpr int kSockMax = 11;

INTERPOSE int socket(int domain, int type, int protocol) __THROW {
  const int base_type = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  const char* path = (domain == AF_INET || domain == AF_INET6) ? client::DefaultStack(domain)
                                                               : nullptr;
  if (path == nullptr) return libc::Socket(domain, type, protocol);
  // ICMP echo (ping) sockets too: stackd serves them, or refuses them as
  // Linux outside its ping_group_range (EACCES, after which ping tries a
  // raw socket).
  if ((base_type == SOCK_STREAM && (protocol == 0 || protocol == IPPROTO_TCP)) ||
      (base_type == SOCK_DGRAM && (protocol == 0 || protocol == IPPROTO_UDP ||
                                   protocol == IPPROTO_ICMP || protocol == IPPROTO_ICMPV6))) {
    const int saved_errno = errno;
    int fd = -1;
    const int error = Guarded([&] {
      return client::StackSocket(path, domain, type, protocol, &fd);
    });
    if (error != 0) return Finish(error, saved_errno);
    errno = saved_errno;
    return fd;
  }
  // Any other socket of these families would be the host's, and the
  // program would reach the network around its stack. stackd serves no raw
  // sockets: refuse them as Linux refuses them to a program without the
  // privilege (EPERM), and other protocols as Linux refuses one it does
  // not have.
  if (base_type == SOCK_RAW) {
    errno = EPERM;
  } else if (base_type == SOCK_STREAM || base_type == SOCK_DGRAM) {
    errno = EPROTONOSUPPORT;
  } else if (base_type < 0 || base_type >= kSockMax) {
    errno = EINVAL;
  } else {
    errno = ESOCKTNOSUPPORT;  // SOCK_SEQPACKET (SCTP), SOCK_DCCP, ...
  }
  return -1;
}

INTERPOSE int bind(int fd, const sockaddr* addr, socklen_t len) __THROW {
  StackName stack;
  if (!FindStack(fd, &stack)) return libc::Bind(fd, addr, len);
  const int saved_errno = errno;
  return Finish(
      Guarded([&] { return client::StackBind(fd, stack, addr, len); }),
      saved_errno);
}

INTERPOSE int listen(int fd, int backlog) __THROW {
  StackName stack;
  if (!FindStack(fd, &stack)) return libc::Listen(fd, backlog);
  const int saved_errno = errno;
  return Finish(
      Guarded([&] { return client::StackListen(fd, stack, backlog); }),
      saved_errno);
}

INTERPOSE int accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  StackName stack;
  if (!FindStack(fd, &stack)) return libc::Accept4(fd, addr, len, flags);
  return AcceptOnStack(fd, stack, addr, len, flags);
}

INTERPOSE int accept(int fd, sockaddr* addr, socklen_t* len) {
  StackName stack;
  if (!FindStack(fd, &stack)) return libc::Accept(fd, addr, len);
  return AcceptOnStack(fd, stack, addr, len, 0);
}

INTERPOSE int connect(int fd, const sockaddr* addr, socklen_t len) {
  StackName stack;
  if (!FindStack(fd, &stack)) return libc::Connect(fd, addr, len);
  const int saved_errno = errno;
  DatagramMark mark;
  if (FindDatagramSocket(fd, &mark)) {
    return Finish(Guarded([&] {
                    return client::DatagramConnect(fd, stack, addr, len);
                  }),
                  saved_errno);
  }
  return Finish(
      Guarded([&] { return client::StackConnect(fd, stack, addr, len); }),
      saved_errno);
}

INTERPOSE int getsockname(int fd, sockaddr* addr, socklen_t* len) __THROW {
  StackName stack;
  if (!FindStack(fd, &stack)) return libc::GetSockName(fd, addr, len);
  const int saved_errno = errno;
  return Finish(Guarded([&] {
                  return client::StackGetName(fd, stack, false, addr, len);
                }),
                saved_errno);
}

INTERPOSE int getpeername(int fd, sockaddr* addr, socklen_t* len) __THROW {
  StackName stack;
  if (!FindStack(fd, &stack)) return libc::GetPeerName(fd, addr, len);
  const int saved_errno = errno;
  return Finish(
      Guarded([&] { return client::StackGetName(fd, stack, true, addr, len); }),
      saved_errno);
}

INTERPOSE int shutdown(int fd, int how) __THROW {
  StackName stack;
  if (!FindStack(fd, &stack)) return libc::Shutdown(fd, how);
  const int saved_errno = errno;
  return Finish(Guarded([&] { return client::StackShutdown(fd, stack, how); }),
                saved_errno);
}

INTERPOSE int setsockopt(int fd, int level, int name, const void* value,
                         socklen_t len) __THROW {
  StackName stack;
  if (!FindStack(fd, &stack)) {
    return libc::SetSockOpt(fd, level, name, value, len);
  }
  const int saved_errno = errno;
  DatagramMark mark;
  if (FindDatagramSocket(fd, &mark)) {
    return Finish(Guarded([&] {
                    return client::DatagramSetOpt(fd, stack, level, name,
                                                  value, len);
                  }),
                  saved_errno);
  }
  return Finish(Guarded([&] {
                  return client::StackSetOpt(fd, stack, level, name, value,
                                             len);
                }),
                saved_errno);
}

INTERPOSE int getsockopt(int fd, int level, int name, void* value,
                         socklen_t* len) __THROW {
  StackName stack;
  if (!FindStack(fd, &stack)) {
    return libc::GetSockOpt(fd, level, name, value, len);
  }
  const int saved_errno = errno;
  DatagramMark mark;
  if (FindDatagramSocket(fd, &mark)) {
    return Finish(Guarded([&] {
                    return client::DatagramGetOpt(fd, stack, level, name,
                                                  value, len);
                  }),
                  saved_errno);
  }
  return Finish(Guarded([&] {
                  return client::StackGetOpt(fd, stack, level, name, value,
                                             len);
                }),
                saved_errno);
}

// --- The fd calls --------------------------------------------------------------
// The kernel answers these on the real fd; the library only forgets what it
// knew of the fd numbers they free or fill (fd_cache.h).

INTERPOSE int close(int fd) {
  const int result = libc::Close(fd);
  client::ForgetFd(fd);
  return result;
}

INTERPOSE int dup(int fd) __THROW {
  const int new_fd = libc::Dup(fd);
  client::ForgetFd(new_fd);
  return new_fd;
}

INTERPOSE int dup2(int fd, int new_fd) __THROW {
  const int result = libc::Dup2(fd, new_fd);
  client::ForgetFd(new_fd);
  return result;
}

INTERPOSE int dup3(int fd, int new_fd, int flags) __THROW {
  const int result = libc::Dup3(fd, new_fd, flags);
  client::ForgetFd(new_fd);
  return result;
}

// The third argument, when there is one, is an int or a pointer: passed on
// as glibc's own fcntl reads it.
INTERPOSE int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  const int result = libc::Fcntl(fd, cmd, arg);
  if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) client::ForgetFd(result);
  return result;
}

// glibc's large-file name for the same call.
INTERPOSE int fcntl64(int fd, int cmd, ...) __attribute__((alias("fcntl")));

INTERPOSE void closefrom(int low_fd) __THROW {
  libc::CloseFrom(low_fd);
  if (low_fd >= 0) client::ForgetFds(static_cast<unsigned>(low_fd), ~0u);
}

INTERPOSE int close_range(unsigned int first, unsigned int last, int flags) __THROW {
  const int result = libc::CloseRange(first, last, flags);
  client::ForgetFds(first, last);
  return result;
}

// --- The data calls ------------------------------------------------------------

INTERPOSE ssize_t read(int fd, void* buf, size_t count) {
  DatagramMark mark;
  if (FindDatagramSocket(fd, &mark)) {
    return ReceiveDatagram(fd, buf, count, 0, nullptr, nullptr);
  }
  const ssize_t n = libc::Read(fd, buf, count);
  return AfterStreamRead(fd, n, count);
}

INTERPOSE ssize_t __read_chk(int fd, void* buf, size_t count, size_t buf_size) {
  DatagramMark mark;
  // An overflowing count goes to libc, which reports it as glibc does.
  if (count <= buf_size && FindDatagramSocket(fd, &mark)) {
    return ReceiveDatagram(fd, buf, count, 0, nullptr, nullptr);
  }
  const ssize_t n = libc::ReadChk(fd, buf, count, buf_size);
  return AfterStreamRead(fd, n, count);
}

INTERPOSE ssize_t recv(int fd, void* buf, size_t len, int flags) {
  DatagramMark mark;
  if (FindDatagramSocket(fd, &mark)) {
    return ReceiveDatagram(fd, buf, len, flags, nullptr, nullptr);
  }
  const ssize_t n = RecvTruncating(fd, buf, len, flags);
  return AfterStreamRead(fd, n, len);
}

INTERPOSE ssize_t __recv_chk(int fd, void* buf, size_t len, size_t buf_size,
                             int flags) {
  DatagramMark mark;
  if (len <= buf_size && FindDatagramSocket(fd, &mark)) {
    return ReceiveDatagram(fd, buf, len, flags, nullptr, nullptr);
  }
  const ssize_t n = libc::RecvChk(fd, buf, len, buf_size, flags);
  return AfterStreamRead(fd, n, len);
}

INTERPOSE ssize_t recvfrom(int fd, void* buf, size_t len, int flags,
                           sockaddr* addr, socklen_t* addr_len) {
  DatagramMark mark;
  if (FindDatagramSocket(fd, &mark)) {
    return ReceiveDatagram(fd, buf, len, flags, addr, addr_len);
  }
  StackName stack;
  if (addr != nullptr && addr_len != nullptr && FindStack(fd, &stack)) {
    // A connected stream socket names no sender: Linux leaves the address
    // alone and says its length is 0 (the pair would name itself).
    const ssize_t n = RecvTruncating(fd, buf, len, flags);
    if (n >= 0) *addr_len = 0;
    return AfterStreamRead(fd, n, len);
  }
  const ssize_t n = (flags & MSG_TRUNC) != 0
                        ? RecvTruncating(fd, buf, len, flags)
                        : libc::RecvFrom(fd, buf, len, flags, addr, addr_len);
  return AfterStreamRead(fd, n, len);
}

INTERPOSE ssize_t __recvfrom_chk(int fd, void* buf, size_t len, size_t buf_size,
                                 int flags, sockaddr* addr,
                                 socklen_t* addr_len) {
  DatagramMark mark;
  if (len <= buf_size && FindDatagramSocket(fd, &mark)) {
    return ReceiveDatagram(fd, buf, len, flags, addr, addr_len);
  }
  const ssize_t n =
      libc::RecvFromChk(fd, buf, len, buf_size, flags, addr, addr_len);
  return AfterStreamRead(fd, n, len);
}

INTERPOSE ssize_t recvmsg(int fd, msghdr* msg, int flags) {
  DatagramMark mark;
  if (FindDatagramSocket(fd, &mark)) return ReceiveDatagram(fd, msg, flags);
  StackName stack;
  const bool named = msg != nullptr && msg->msg_name != nullptr;
  const bool stack_stream = (named || (flags & MSG_TRUNC) != 0) && FindStack(fd, &stack);
  if (stack_stream && (flags & MSG_TRUNC) != 0 && msg->msg_iovlen == 1) {
    const ssize_t n = RecvTruncating(fd, msg->msg_iov[0].iov_base,
                                     msg->msg_iov[0].iov_len, flags);
    if (n >= 0) {
      msg->msg_namelen = 0;
      msg->msg_controllen = 0;
      msg->msg_flags = 0;
    }
    return AfterStreamRead(fd, n, msg->msg_iov[0].iov_len);
  }
  const ssize_t n = libc::RecvMsg(fd, msg, flags);
  if (n >= 0) ForgetReceivedFds(msg);
  // As Linux's TCP: no sender address (the pair would name itself).
  if (n >= 0 && stack_stream) msg->msg_namelen = 0;
  return AfterStreamRead(fd, n, n == 0 ? IovecBytes(msg->msg_iov, msg->msg_iovlen) : 0);
}

INTERPOSE ssize_t readv(int fd, const iovec* iov, int iovcnt) {
  DatagramMark mark;
  if (FindDatagramSocket(fd, &mark)) return ReceiveDatagram(fd, iov, iovcnt);
  const ssize_t n = libc::ReadV(fd, iov, iovcnt);
  return AfterStreamRead(fd, n, n == 0 ? IovecBytes(iov, static_cast<size_t>(iovcnt)) : 0);
}

INTERPOSE int recvmmsg(int fd, mmsghdr* msgs, unsigned int vlen, int flags,
                       timespec* timeout) {
  DatagramMark mark;
  if (!FindDatagramSocket(fd, &mark)) {
    const int count = libc::RecvMMsg(fd, msgs, vlen, flags, timeout);
    for (int i = 0; i < count; ++i) ForgetReceivedFds(&msgs[i].msg_hdr);
    return count;
  }
  const int saved_errno = errno;
  int count = 0;
  const int error = Guarded([&] {
    return client::DatagramReceiveMany(fd, msgs, vlen, flags, timeout, &count);
  });
  if (error != 0) return Finish(error, saved_errno);
  errno = saved_errno;
  return count;
}

INTERPOSE ssize_t write(int fd, const void* buf, size_t count) {
  DatagramMark mark;
  if (FindDatagramSocket(fd, &mark)) {
    return SendDatagram(fd, mark, buf, count, 0, nullptr, 0);
  }
  const ssize_t n = libc::Write(fd, buf, count);
  // write() has no MSG_NOSIGNAL: the kernel's SIGPIPE has gone already.
  if (n < 0 && errno == EPIPE) return AfterBrokenPipe(fd, false);
  return n;
}

INTERPOSE ssize_t writev(int fd, const iovec* iov, int iovcnt) {
  DatagramMark mark;
  if (FindDatagramSocket(fd, &mark)) return SendDatagram(fd, mark, iov, iovcnt);
  return libc::WriteV(fd, iov, iovcnt);
}

INTERPOSE ssize_t send(int fd, const void* buf, size_t len, int flags) {
  DatagramMark mark;
  if (FindDatagramSocket(fd, &mark)) {
    return SendDatagram(fd, mark, buf, len, flags, nullptr, 0);
  }
  return SendStream(fd, buf, len, flags);
}

INTERPOSE ssize_t sendmsg(int fd, const msghdr* msg, int flags) {
  DatagramMark mark;
  if (FindDatagramSocket(fd, &mark)) return SendDatagram(fd, mark, msg, flags);
  // Only a message with a destination or control data, or a Fast Open,
  // differs between TCP and the pair.
  if (msg == nullptr || (msg->msg_name == nullptr && msg->msg_controllen == 0 &&
                         (flags & MSG_FASTOPEN) == 0)) {
    return libc::SendMsg(fd, msg, flags);
  }
  StackName stack;
  if (!FindStack(fd, &stack)) return libc::SendMsg(fd, msg, flags);
  msghdr sendable;
  if (int error = client::StackCheckSend(msg, flags, &sendable)) {
    errno = error;
    return -1;
  }
  return libc::SendMsg(fd, &sendable, flags);
}

INTERPOSE ssize_t sendto(int fd, const void* buf, size_t len, int flags,
                         const sockaddr* addr, socklen_t addr_len) {
  DatagramMark mark;
  if (FindDatagramSocket(fd, &mark)) {
    return SendDatagram(fd, mark, buf, len, flags, addr, addr_len);
  }
  if (addr == nullptr && (flags & MSG_FASTOPEN) == 0) {
    return libc::SendTo(fd, buf, len, flags, addr, addr_len);
  }
  StackName stack;
  if (!FindStack(fd, &stack)) {
    return libc::SendTo(fd, buf, len, flags, addr, addr_len);
  }
  if ((flags & MSG_FASTOPEN) != 0) {
    errno = EOPNOTSUPP;
    return -1;
  }
  return libc::SendTo(fd, buf, len, flags, nullptr, 0);  // TCP ignores it.
}

INTERPOSE int sendmmsg(int fd, mmsghdr* msgs, unsigned int vlen, int flags) {
  DatagramMark mark;
  if (!FindDatagramSocket(fd, &mark)) {
    return libc::SendMMsg(fd, msgs, vlen, flags);
  }
  const int saved_errno = errno;
  int count = 0;
  const int error = Guarded([&] {
    return client::DatagramSendMany(fd, mark, msgs, vlen, flags, &count);
  });
  if (error != 0) return Finish(error, saved_errno);
  errno = saved_errno;
  return count;
}

INTERPOSE int ioctl(int fd, unsigned long request, ...) __THROW {
  va_list args;
  va_start(args, request);
  void* arg = va_arg(args, void*);
  va_end(args);
  DatagramMark mark;
  // FIONREAD on a UDP socket is the size of the next datagram's payload;
  // the pair would count every queued packet with its header.
  if (request == FIONREAD && FindDatagramSocket(fd, &mark)) {
    const int saved_errno = errno;
    int bytes = 0;
    int error = client::DatagramPending(fd, &bytes);
    if (error == 0 && arg == nullptr) error = EFAULT;
    if (error != 0) return Finish(error, saved_errno);
    std::memcpy(arg, &bytes, sizeof(bytes));
    errno = saved_errno;
    return 0;
  }
  return libc::Ioctl(fd, request, arg);
}
