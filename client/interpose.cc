// The BSD socket calls, under their libc names, for programs that link the
// library or preload it: a call on a stack socket is served with the
// stack's help (stack_socket.h); every other call goes to libc untouched
// (libc.h). Whether an fd is a stack socket costs one getpeername system
// call (stack_name.h). read, recv and friends are only looked at when they
// return 0, to turn the end of a stream that a reset or timeout closed into
// the error Linux reports.
//
// Not interposed, because the kernel answers them on the real fd: write,
// send, writev, close, dup, fcntl, ioctl (FIONBIO, FIONREAD), poll, select,
// epoll.

// The fortified variants must not be inline wrappers here: this file
// defines the names themselves.
#undef _FORTIFY_SOURCE

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <new>

#include "client/defaults.h"
#include "client/libc.h"
#include "client/msocket.h"
#include "client/stack_name.h"
#include "client/stack_socket.h"

using stackd::client::FindStack;
using stackd::client::StackName;
namespace libc = stackd::client::libc;
namespace client = stackd::client;

namespace {

// Runs `call` (returning 0 or an errno) without letting an exception (out
// of memory inside protobuf) escape into a C caller.
template <typename Call>
int Guarded(Call call) {
  try {
    return call();
  } catch (const std::bad_alloc&) {
    return ENOMEM;
  } catch (...) {
    return EPROTO;
  }
}

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

int AcceptOnStack(int fd, const StackName& stack, sockaddr* addr,
                  socklen_t* len, int flags) {
  const int saved_errno = errno;
  int new_fd = -1;
  const int error = Guarded([&] {
    return client::StackAccept(fd, stack, addr, len, flags, &new_fd);
  });
  if (error != 0) return Finish(error, saved_errno);
  errno = saved_errno;
  return new_fd;
}

size_t IovecBytes(const iovec* iov, size_t count) {
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) total += iov[i].iov_len;
  return total;
}

}  // namespace

#define INTERPOSE extern "C" __attribute__((visibility("default")))

INTERPOSE int socket(int domain, int type, int protocol) __THROW {
  if ((domain == AF_INET || domain == AF_INET6) &&
      (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_STREAM &&
      (protocol == 0 || protocol == IPPROTO_TCP)) {
    if (const char* path = client::DefaultStack(domain)) {
      const int saved_errno = errno;
      int fd = -1;
      const int error = Guarded([&] {
        return client::StackSocket(path, domain, type, protocol, &fd);
      });
      if (error != 0) return Finish(error, saved_errno);
      errno = saved_errno;
      return fd;
    }
  }
  return libc::Socket(domain, type, protocol);
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
  return Finish(Guarded([&] {
                  return client::StackGetOpt(fd, stack, level, name, value,
                                             len);
                }),
                saved_errno);
}

INTERPOSE ssize_t read(int fd, void* buf, size_t count) {
  const ssize_t n = libc::Read(fd, buf, count);
  return n == 0 ? AfterEndOfStream(fd, count) : n;
}

INTERPOSE ssize_t __read_chk(int fd, void* buf, size_t count, size_t buf_size) {
  const ssize_t n = libc::ReadChk(fd, buf, count, buf_size);
  return n == 0 ? AfterEndOfStream(fd, count) : n;
}

INTERPOSE ssize_t recv(int fd, void* buf, size_t len, int flags) {
  const ssize_t n = libc::Recv(fd, buf, len, flags);
  return n == 0 ? AfterEndOfStream(fd, len) : n;
}

INTERPOSE ssize_t __recv_chk(int fd, void* buf, size_t len, size_t buf_size,
                             int flags) {
  const ssize_t n = libc::RecvChk(fd, buf, len, buf_size, flags);
  return n == 0 ? AfterEndOfStream(fd, len) : n;
}

INTERPOSE ssize_t recvfrom(int fd, void* buf, size_t len, int flags,
                           sockaddr* addr, socklen_t* addr_len) {
  const ssize_t n = libc::RecvFrom(fd, buf, len, flags, addr, addr_len);
  return n == 0 ? AfterEndOfStream(fd, len) : n;
}

INTERPOSE ssize_t __recvfrom_chk(int fd, void* buf, size_t len, size_t buf_size,
                                 int flags, sockaddr* addr,
                                 socklen_t* addr_len) {
  const ssize_t n =
      libc::RecvFromChk(fd, buf, len, buf_size, flags, addr, addr_len);
  return n == 0 ? AfterEndOfStream(fd, len) : n;
}

INTERPOSE ssize_t recvmsg(int fd, msghdr* msg, int flags) {
  const ssize_t n = libc::RecvMsg(fd, msg, flags);
  if (n != 0) return n;
  return AfterEndOfStream(fd, IovecBytes(msg->msg_iov, msg->msg_iovlen));
}

INTERPOSE ssize_t readv(int fd, const iovec* iov, int iovcnt) {
  const ssize_t n = libc::ReadV(fd, iov, iovcnt);
  if (n != 0) return n;
  return AfterEndOfStream(fd, IovecBytes(iov, static_cast<size_t>(iovcnt)));
}

INTERPOSE ssize_t sendmsg(int fd, const msghdr* msg, int flags) {
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
