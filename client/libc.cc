#include "client/libc.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

extern "C" {
// glibc's fortified entry points; not declared without _FORTIFY_SOURCE.
ssize_t __read_chk(int fd, void* buf, size_t count, size_t buf_size);
ssize_t __recv_chk(int fd, void* buf, size_t len, size_t buf_size, int flags);
ssize_t __recvfrom_chk(int fd, void* buf, size_t len, size_t buf_size,
                       int flags, sockaddr* addr, socklen_t* addr_len);
}

namespace stackd::client::libc {
namespace {

// The definition of `name` after this object's (libc's), resolved once.
// Null if there is none.
template <typename F>
F Next(std::atomic<void*>* slot, const char* name) {
  void* f = slot->load(std::memory_order_acquire);
  if (f == nullptr) {
    f = dlsym(RTLD_NEXT, name);
    if (f != nullptr) slot->store(f, std::memory_order_release);
  }
  return reinterpret_cast<F>(f);
}

// Declares the slot for `name` and calls the next definition with `args`
// if there is one.
#define CALL_NEXT(name, type, ...)                                \
  do {                                                            \
    static std::atomic<void*> slot{nullptr};                      \
    if (auto f = Next<type>(&slot, #name)) return f(__VA_ARGS__); \
  } while (0)

}  // namespace

int Socket(int domain, int type, int protocol) {
  CALL_NEXT(socket, decltype(&::socket), domain, type, protocol);
  return static_cast<int>(syscall(SYS_socket, domain, type, protocol));
}

int Bind(int fd, const sockaddr* addr, socklen_t len) {
  CALL_NEXT(bind, decltype(&::bind), fd, addr, len);
  return static_cast<int>(syscall(SYS_bind, fd, addr, len));
}

int Listen(int fd, int backlog) {
  CALL_NEXT(listen, decltype(&::listen), fd, backlog);
  return static_cast<int>(syscall(SYS_listen, fd, backlog));
}

int Accept(int fd, sockaddr* addr, socklen_t* len) {
  CALL_NEXT(accept, decltype(&::accept), fd, addr, len);
  return static_cast<int>(syscall(SYS_accept4, fd, addr, len, 0));
}

int Accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  CALL_NEXT(accept4, decltype(&::accept4), fd, addr, len, flags);
  return static_cast<int>(syscall(SYS_accept4, fd, addr, len, flags));
}

int Connect(int fd, const sockaddr* addr, socklen_t len) {
  CALL_NEXT(connect, decltype(&::connect), fd, addr, len);
  return static_cast<int>(syscall(SYS_connect, fd, addr, len));
}

int GetSockName(int fd, sockaddr* addr, socklen_t* len) {
  CALL_NEXT(getsockname, decltype(&::getsockname), fd, addr, len);
  return static_cast<int>(syscall(SYS_getsockname, fd, addr, len));
}

int GetPeerName(int fd, sockaddr* addr, socklen_t* len) {
  CALL_NEXT(getpeername, decltype(&::getpeername), fd, addr, len);
  return static_cast<int>(syscall(SYS_getpeername, fd, addr, len));
}

int Shutdown(int fd, int how) {
  CALL_NEXT(shutdown, decltype(&::shutdown), fd, how);
  return static_cast<int>(syscall(SYS_shutdown, fd, how));
}

int SetSockOpt(int fd, int level, int name, const void* value, socklen_t len) {
  CALL_NEXT(setsockopt, decltype(&::setsockopt), fd, level, name, value, len);
  return static_cast<int>(syscall(SYS_setsockopt, fd, level, name, value, len));
}

int GetSockOpt(int fd, int level, int name, void* value, socklen_t* len) {
  CALL_NEXT(getsockopt, decltype(&::getsockopt), fd, level, name, value, len);
  return static_cast<int>(syscall(SYS_getsockopt, fd, level, name, value, len));
}

ssize_t Read(int fd, void* buf, size_t count) {
  CALL_NEXT(read, decltype(&::read), fd, buf, count);
  return syscall(SYS_read, fd, buf, count);
}

ssize_t ReadChk(int fd, void* buf, size_t count, size_t buf_size) {
  CALL_NEXT(__read_chk, decltype(&::__read_chk), fd, buf, count, buf_size);
  return syscall(SYS_read, fd, buf, std::min(count, buf_size));
}

ssize_t Recv(int fd, void* buf, size_t len, int flags) {
  CALL_NEXT(recv, decltype(&::recv), fd, buf, len, flags);
  return syscall(SYS_recvfrom, fd, buf, len, flags, nullptr, nullptr);
}

ssize_t RecvChk(int fd, void* buf, size_t len, size_t buf_size, int flags) {
  CALL_NEXT(__recv_chk, decltype(&::__recv_chk), fd, buf, len, buf_size, flags);
  return syscall(SYS_recvfrom, fd, buf, std::min(len, buf_size), flags, nullptr,
                 nullptr);
}

ssize_t RecvFrom(int fd, void* buf, size_t len, int flags, sockaddr* addr,
                 socklen_t* addr_len) {
  CALL_NEXT(recvfrom, decltype(&::recvfrom), fd, buf, len, flags, addr,
            addr_len);
  return syscall(SYS_recvfrom, fd, buf, len, flags, addr, addr_len);
}

ssize_t RecvFromChk(int fd, void* buf, size_t len, size_t buf_size, int flags,
                    sockaddr* addr, socklen_t* addr_len) {
  CALL_NEXT(__recvfrom_chk, decltype(&::__recvfrom_chk), fd, buf, len, buf_size,
            flags, addr, addr_len);
  return syscall(SYS_recvfrom, fd, buf, std::min(len, buf_size), flags, addr,
                 addr_len);
}

ssize_t RecvMsg(int fd, msghdr* msg, int flags) {
  CALL_NEXT(recvmsg, decltype(&::recvmsg), fd, msg, flags);
  return syscall(SYS_recvmsg, fd, msg, flags);
}

ssize_t ReadV(int fd, const iovec* iov, int iovcnt) {
  CALL_NEXT(readv, decltype(&::readv), fd, iov, iovcnt);
  return syscall(SYS_readv, fd, iov, iovcnt);
}

ssize_t SendMsg(int fd, const msghdr* msg, int flags) {
  CALL_NEXT(sendmsg, decltype(&::sendmsg), fd, msg, flags);
  return syscall(SYS_sendmsg, fd, msg, flags);
}

ssize_t SendTo(int fd, const void* buf, size_t len, int flags,
               const sockaddr* addr, socklen_t addr_len) {
  CALL_NEXT(sendto, decltype(&::sendto), fd, buf, len, flags, addr, addr_len);
  return syscall(SYS_sendto, fd, buf, len, flags, addr, addr_len);
}

ssize_t Write(int fd, const void* buf, size_t count) {
  CALL_NEXT(write, decltype(&::write), fd, buf, count);
  return syscall(SYS_write, fd, buf, count);
}

ssize_t WriteV(int fd, const iovec* iov, int iovcnt) {
  CALL_NEXT(writev, decltype(&::writev), fd, iov, iovcnt);
  return syscall(SYS_writev, fd, iov, iovcnt);
}

ssize_t Send(int fd, const void* buf, size_t len, int flags) {
  CALL_NEXT(send, decltype(&::send), fd, buf, len, flags);
  return syscall(SYS_sendto, fd, buf, len, flags, nullptr, 0);
}

int SendMMsg(int fd, mmsghdr* msgs, unsigned int vlen, int flags) {
  CALL_NEXT(sendmmsg, decltype(&::sendmmsg), fd, msgs, vlen, flags);
  return static_cast<int>(syscall(SYS_sendmmsg, fd, msgs, vlen, flags));
}

int RecvMMsg(int fd, mmsghdr* msgs, unsigned int vlen, int flags,
             timespec* timeout) {
  CALL_NEXT(recvmmsg, decltype(&::recvmmsg), fd, msgs, vlen, flags, timeout);
  return static_cast<int>(
      syscall(SYS_recvmmsg, fd, msgs, vlen, flags, timeout));
}

int Ioctl(int fd, unsigned long request, void* arg) {
  using IoctlFn = int (*)(int, unsigned long, ...);
  CALL_NEXT(ioctl, IoctlFn, fd, request, arg);
  return static_cast<int>(syscall(SYS_ioctl, fd, request, arg));
}

int Close(int fd) {
  CALL_NEXT(close, decltype(&::close), fd);
  return static_cast<int>(syscall(SYS_close, fd));
}

int Dup(int fd) {
  CALL_NEXT(dup, decltype(&::dup), fd);
  return static_cast<int>(syscall(SYS_dup, fd));
}

int Dup2(int fd, int new_fd) {
  CALL_NEXT(dup2, decltype(&::dup2), fd, new_fd);
  if (fd == new_fd) return static_cast<int>(syscall(SYS_fcntl, fd, F_GETFD)) < 0 ? -1 : fd;
  return static_cast<int>(syscall(SYS_dup3, fd, new_fd, 0));
}

int Dup3(int fd, int new_fd, int flags) {
  CALL_NEXT(dup3, decltype(&::dup3), fd, new_fd, flags);
  return static_cast<int>(syscall(SYS_dup3, fd, new_fd, flags));
}

int Fcntl(int fd, int cmd, void* arg) {
  using FcntlFn = int (*)(int, int, ...);
  CALL_NEXT(fcntl, FcntlFn, fd, cmd, arg);
  return static_cast<int>(syscall(SYS_fcntl, fd, cmd, arg));
}

void CloseFrom(int low_fd) {
  using CloseFromFn = void (*)(int);
  static std::atomic<void*> slot{nullptr};
  if (auto f = Next<CloseFromFn>(&slot, "closefrom")) return f(low_fd);
  syscall(SYS_close_range, static_cast<unsigned>(low_fd), ~0u, 0);
}

int CloseRange(unsigned int first, unsigned int last, int flags) {
  using CloseRangeFn = int (*)(unsigned int, unsigned int, int);
  CALL_NEXT(close_range, CloseRangeFn, first, last, flags);
  return static_cast<int>(syscall(SYS_close_range, first, last, flags));
}

#undef CALL_NEXT

}  // namespace stackd::client::libc
