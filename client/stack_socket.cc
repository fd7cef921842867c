#include "client/stack_socket.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <climits>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "client/accept_record.h"
#include "client/address.h"
#include "client/fd_cache.h"
#include "client/control.h"
#include "client/libc.h"
#include "client/tcp_info.h"

namespace stackd::client {
namespace {

using socket::v1::Address;
using socket::v1::OptValue;
using socket::v1::Request;
using socket::v1::Response;

// Gate writes per connect: the gate closes after one or two with the
// smallest send buffer; the bound only keeps a misbehaving kernel from
// looping us.
constexpr int kMaxGateWrites = 64;
constexpr size_t kGateChunkBytes = 4096;
// SCM_RIGHTS room when reading an accept record: one fd is expected, a few
// more are received (and closed) rather than lost in a truncated message.
constexpr int kMaxRecordFds = 4;
// The largest errno value; anything else in a Response is malformed.
constexpr int kMaxErrno = 4095;

// The errno of the application's call when a control call about an existing
// socket got no answer.
int NoAnswerError(int error) {
  switch (error) {
    case ENOENT:
    case ENOTDIR:
    case ECONNREFUSED:
    case ENOTSOCK:
    case EPROTOTYPE:
    case ECONNRESET:
      return ENETDOWN;  // The stack is gone.
    default:
      return error;
  }
}

// The errno of msocket() and friends when a control call to `path` got no
// answer: the path does not exist, or is not a stack.
int NotAStackError(int error) {
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      return ENOENT;
    case ECONNREFUSED:
    case ENOTSOCK:
    case EPROTOTYPE:
    case ECONNRESET:
    case EPROTO:
      return ENOTSUP;
    default:
      return error;
  }
}

int AnswerError(const Response& response) {
  const int error = response.error();
  return error >= 0 && error <= kMaxErrno ? error : EPROTO;
}

// One control call about the stack socket `fd`: 0 or the errno for the
// application.
int Call(int fd, const StackName& stack, Request* request, Response* response) {
  if (int error = ControlCall(stack.path, request, fd, response, nullptr)) {
    return NoAnswerError(error);
  }
  return AnswerError(*response);
}

bool IsNonBlocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  return flags >= 0 && (flags & O_NONBLOCK) != 0;
}

bool IsTimeoutOption(int level, int name) {
  return level == SOL_SOCKET &&
         (name == SO_RCVTIMEO || name == SO_SNDTIMEO
#ifdef SO_RCVTIMEO_NEW
          || name == SO_RCVTIMEO_NEW || name == SO_SNDTIMEO_NEW
#endif
#ifdef SO_RCVTIMEO_OLD
          || name == SO_RCVTIMEO_OLD || name == SO_SNDTIMEO_OLD
#endif
         );
}

int RealOptionError(int result) { return result == 0 ? 0 : errno; }

// Copies `size` bytes of `from` to the application's option buffer as
// getsockopt(2) does: at most *len bytes, then *len is what was copied.
int CopyOption(const void* from, socklen_t size, void* value, socklen_t* len) {
  const socklen_t n = *len < size ? *len : size;
  if (n > 0 && value == nullptr) return EFAULT;
  if (n > 0) std::memcpy(value, from, n);
  *len = n;
  return 0;
}

// SO_ERROR: the stack's recorded error, else the fd's own (reading it clears
// it, so a later read does not report it again). A stack that is gone has
// taken the connection with it: ENETDOWN unless the fd knows better.
int SocketError(int fd, const StackName& stack, int* value) {
  Request request;
  request.mutable_get_opt()->set_level(SOL_SOCKET);
  request.mutable_get_opt()->set_name(SO_ERROR);
  Response response;
  const int error = Call(fd, stack, &request, &response);
  int kernel = 0;
  socklen_t len = sizeof(kernel);
  if (libc::GetSockOpt(fd, SOL_SOCKET, SO_ERROR, &kernel, &len) != 0) {
    kernel = 0;
  }
  if (error == ENETDOWN) {
    *value = kernel != 0 ? kernel : ENETDOWN;
    return 0;
  }
  if (error != 0) return error;
  const int64_t recorded = response.opt().int_value();
  if (recorded < 0 || recorded > kMaxErrno) return EPROTO;
  *value = recorded != 0 ? static_cast<int>(recorded) : kernel;
  return 0;
}

// Makes `fd` look not writable: the smallest send buffer, then bytes until
// it is full. Returns how many bytes were written (the stack drains them
// when the handshake is done).
uint32_t WriteGate(int fd) {
  static const char kZeros[kGateChunkBytes] = {};
  const int smallest = 1;  // The kernel raises it to its minimum.
  libc::SetSockOpt(fd, SOL_SOCKET, SO_SNDBUF, &smallest, sizeof(smallest));
  uint32_t written = 0;
  for (int i = 0; i < kMaxGateWrites; ++i) {
    const ssize_t n = libc::SendTo(fd, kZeros, sizeof(kZeros),
                                   MSG_DONTWAIT | MSG_NOSIGNAL, nullptr, 0);
    if (n > 0) {
      written += static_cast<uint32_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;  // EAGAIN: closed. EPIPE: the stack's end is gone.
    }
  }
  return written;
}

// The fd's SO_SNDTIMEO in milliseconds; -1 for none (wait forever).
int SendTimeoutMs(int fd) {
  timeval tv{};
  socklen_t len = sizeof(tv);
  if (libc::GetSockOpt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) != 0) return -1;
  if (tv.tv_sec == 0 && tv.tv_usec == 0) return -1;
  const int64_t ms =
      static_cast<int64_t>(tv.tv_sec) * 1000 + (tv.tv_usec + 999) / 1000;
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// A blocking connect in progress: waits until the fd turns writable (the
// stack opened the gate or closed its end), then reports SO_ERROR.
// `peer`, if not null, gets the connected peer: a successful wait then
// costs one control call (getpeername) instead of two.
int WaitForConnect(int fd, const StackName& stack, Address* peer) {
  const int timeout_ms = SendTimeoutMs(fd);
  const int64_t deadline_ms = timeout_ms < 0 ? 0 : NowMs() + timeout_ms;
  for (;;) {
    int wait_ms = -1;
    if (timeout_ms >= 0) {
      const int64_t left = deadline_ms - NowMs();
      if (left <= 0) return EINPROGRESS;  // As Linux when SO_SNDTIMEO expires.
      wait_ms = static_cast<int>(left);
    }
    pollfd p{fd, POLLOUT, 0};
    const int ready = poll(&p, 1, wait_ms);
    if (ready < 0) return errno;  // EINTR: the attempt goes on, as Linux.
    if (ready > 0) break;
  }
  if (peer != nullptr) {
    Request request;
    request.mutable_get_name()->set_peer(true);
    Response response;
    if (Call(fd, stack, &request, &response) == 0) {
      *peer = response.address();
      return 0;
    }
  }
  int error = 0;
  if (int call_error = SocketError(fd, stack, &error)) return call_error;
  return error;
}

// TCP options that programs set as hints and yet treat a failure as fatal
// (nginx's TCP_CORK under `tcp_nopush`, its TCP_DEFER_ACCEPT under
// `deferred`): on a socket the stack has already closed (EINVAL) they are
// accepted without effect, as Linux still takes them.
bool IsHintWithoutEffect(int level, int name) {
  return level == IPPROTO_TCP && (name == TCP_CORK || name == TCP_DEFER_ACCEPT);
}

// The congestion control lwIP implements (RFC 5681: slow start, congestion
// avoidance, fast retransmit and recovery), by Linux's name for it.
constexpr char kCongestionControl[] = "reno";
// Linux's TCP_CA_NAME_MAX: TCP_CONGESTION's buffer.
constexpr socklen_t kCongestionNameBytes = 16;

// setsockopt(TCP_CONGESTION): only the algorithm the stack has; others are
// ENOENT, as Linux says of an algorithm it does not have.
int SetCongestionControl(const void* value, socklen_t len) {
  if (static_cast<int>(len) < 1) return EINVAL;
  if (value == nullptr) return EFAULT;
  char name[kCongestionNameBytes] = {};
  std::memcpy(name, value, len < sizeof(name) - 1 ? len : sizeof(name) - 1);
  return std::strcmp(name, kCongestionControl) == 0 ? 0 : ENOENT;
}

// getsockopt(TCP_INFO): stackd's report of the connection, in Linux's
// struct.
int GetTcpInfo(int fd, const StackName& stack, void* value, socklen_t* len) {
  Request request;
  request.mutable_get_opt()->set_level(IPPROTO_TCP);
  request.mutable_get_opt()->set_name(TCP_INFO);
  Response response;
  if (int error = Call(fd, stack, &request, &response)) return error;
  return CopyTcpInfo(response.opt().tcp_info(), value, len);
}

}  // namespace

int StackSocket(const char* path, int domain, int type, int protocol, int* fd) {
  Request request;
  auto* socket = request.mutable_socket();
  socket->set_domain(domain);
  socket->set_type(type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC));
  socket->set_protocol(protocol);
  Response response;
  int received = -1;
  if (int error = ControlCall(path, &request, -1, &response, &received)) {
    return NotAStackError(error);
  }
  if (int error = AnswerError(response)) {
    if (received >= 0) close(received);
    return error;
  }
  if (received < 0) return EPROTO;
  // The fd came close-on-exec (MSG_CMSG_CLOEXEC), so no exec in another
  // thread could leak it before this point.
  if ((type & SOCK_CLOEXEC) == 0 && fcntl(received, F_SETFD, 0) != 0) {
    const int error = errno;
    close(received);
    return error;
  }
  if ((type & SOCK_NONBLOCK) != 0) {
    const int flags = fcntl(received, F_GETFL);
    if (flags < 0 || fcntl(received, F_SETFL, flags | O_NONBLOCK) != 0) {
      const int error = errno;
      close(received);
      return error;
    }
  }
  ForgetFd(received);  // The number may have been a file the library knew.
  *fd = received;
  return 0;
}

int StackHello(const char* path, socket::v1::HelloResponse* hello) {
  Request request;
  request.mutable_hello();
  Response response;
  if (int error = ControlCall(path, &request, -1, &response, nullptr)) {
    return NotAStackError(error);
  }
  if (int error = AnswerError(response)) return error;
  // Something that answers but not with Hello is not a stack.
  if (!response.has_hello()) return ENOTSUP;
  *hello = response.hello();
  return 0;
}

namespace {

// inet6_bind and inet6_connect check the length before the family: an
// address shorter than RFC 2133's sockaddr_in6 (24 bytes) on an AF_INET6
// socket is EINVAL, whatever its family. The library does not know the
// socket's family, so it asks only when an address was refused for its
// family (EAFNOSUPPORT). AF_UNSPEC goes first in connect (a disconnect).
int LengthBeforeFamily(int fd, const StackName& stack, const sockaddr* addr,
                       socklen_t len, int error) {
  if (error != EAFNOSUPPORT || len >= kSin6LenRfc2133 || addr == nullptr) return error;
  int domain = 0;
  socklen_t domain_len = sizeof(domain);
  if (StackGetOpt(fd, stack, SOL_SOCKET, SO_DOMAIN, &domain, &domain_len) != 0) return error;
  return domain == AF_INET6 ? EINVAL : error;
}

}  // namespace

int StackBind(int fd, const StackName& stack, const sockaddr* addr,
              socklen_t len) {
  Request request;
  int error = AddressFromSockaddr(addr, len, AddressUse::kBind,
                                  request.mutable_bind()->mutable_address());
  if (error == 0) {
    Response response;
    error = Call(fd, stack, &request, &response);
  }
  return LengthBeforeFamily(fd, stack, addr, len, error);
}

int StackListen(int fd, const StackName& stack, int backlog) {
  Request request;
  request.mutable_listen()->set_backlog(backlog);
  Response response;
  if (int error = Call(fd, stack, &request, &response)) return error;
  // A listener is never writable on Linux, and a write to it is EPIPE:
  // the gate takes POLLOUT away, and shutting the fd for writing makes a
  // write fail at once rather than wait for room. stackd leaves the gate
  // bytes unread. (A second listen() finds the fd shut already.)
  pollfd p{fd, POLLOUT, 0};
  if (poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) != 0) {
    WriteGate(fd);
    libc::Shutdown(fd, SHUT_WR);
  }
  return 0;
}

int StackConnect(int fd, const StackName& stack, const sockaddr* addr,
                 socklen_t len) {
  Address address;
  if (int error =
          AddressFromSockaddr(addr, len, AddressUse::kConnect, &address)) {
    sa_family_t family = AF_UNSPEC;
    if (addr != nullptr && len >= sizeof(family)) std::memcpy(&family, addr, sizeof(family));
    return family == AF_UNSPEC ? error : LengthBeforeFamily(fd, stack, addr, len, error);
  }
  const int error = GatedConnect(fd, stack, [&](Request* request, uint32_t gate_bytes,
                                                int app_sndbuf) {
    auto* connect = request->mutable_connect();
    *connect->mutable_address() = address;
    connect->set_gate_bytes(gate_bytes);
    connect->set_app_sndbuf(app_sndbuf);
  });
  return LengthBeforeFamily(fd, stack, addr, len, error);
}

int GatedConnect(
    int fd, const StackName& stack,
    const std::function<void(Request*, uint32_t, int)>& make_request,
    Address* peer) {
  Response response;
  // The gate goes only on a writable fd the stack reports unconnected: on a
  // connected socket the stack reads the fd as data, and a fd that is not
  // writable is gated already (a connect is in progress).
  uint32_t gate_bytes = 0;
  int app_sndbuf = 0;
  pollfd p{fd, POLLOUT, 0};
  bool writable = poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) != 0;
  if (writable) {
    Request probe;
    probe.mutable_get_name()->set_peer(true);
    const int error = Call(fd, stack, &probe, &response);
    if (error != 0 && error != ENOTCONN) return error;
    // Connected: no gate, and the stack says 0 (the first connect after a
    // non-blocking one completed) or EISCONN.
    if (error == 0) writable = false;
  }
  if (writable) {
    int sndbuf = 0;
    socklen_t sndbuf_len = sizeof(sndbuf);
    if (libc::GetSockOpt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sndbuf_len) ==
        0) {
      app_sndbuf = sndbuf / 2;  // Linux reports twice the value set.
    }
    gate_bytes = WriteGate(fd);
  }
  Request request;
  make_request(&request, gate_bytes, app_sndbuf);
  int error = ControlCall(stack.path, &request, fd, &response, nullptr);
  error = error != 0 ? NoAnswerError(error) : AnswerError(response);
  if (error == 0) return 0;
  if (error == EINPROGRESS || error == EALREADY) {
    if (IsNonBlocking(fd)) return error;
    const int outcome = WaitForConnect(fd, stack, peer);
    if (outcome == 0) {
      // This call collects the result, as a blocking connect on Linux: a
      // later connect() is EISCONN.
      Request collect;
      make_request(&collect, 0, 0);
      Response ignored;
      ControlCall(stack.path, &collect, fd, &ignored, nullptr);
    }
    return outcome;
  }
  // Refused at once: give the fd its send buffer back (the stack does too,
  // and reads the gate bytes off its end).
  if (app_sndbuf > 0) {
    libc::SetSockOpt(fd, SOL_SOCKET, SO_SNDBUF, &app_sndbuf,
                     sizeof(app_sndbuf));
  }
  return error;
}

namespace {

constexpr int kMaxMultiAddresses = 64;

// The Address of each sockaddr, for a request about many addresses.
int Addresses(const sockaddr* const addrs[], const socklen_t lens[], int n,
              AddressUse use, std::vector<Address>* out) {
  if (n <= 0 || n > kMaxMultiAddresses || addrs == nullptr || lens == nullptr) {
    return n <= 0 || n > kMaxMultiAddresses ? EINVAL : EFAULT;
  }
  out->resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    if (addrs[i] == nullptr) return EFAULT;
    if (int error = AddressFromSockaddr(addrs[i], lens[i], use, &(*out)[i])) {
      return error;
    }
  }
  return 0;
}

// IPv4 addresses as IPv4-mapped IPv6 ones, so that a peer reported by an
// AF_INET6 socket compares equal to the sockaddr_in it was given as.
std::string Normalized(const Address& a) {
  std::string ip = a.ip();
  if (a.family() == AF_INET) ip = std::string("\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) + ip;
  return ip + ":" + std::to_string(a.port());
}

}  // namespace

int StackMConnect(int fd, const StackName& stack, const sockaddr* const addrs[],
                  const socklen_t lens[], int n, uint32_t stagger_ms,
                  uint32_t timeout_ms, int* winner) {
  *winner = -1;
  std::vector<Address> addresses;
  if (int error = Addresses(addrs, lens, n, AddressUse::kConnect, &addresses)) {
    return error;
  }
  Address peer;
  int error = GatedConnect(
      fd, stack,
      [&](Request* request, uint32_t gate_bytes, int app_sndbuf) {
        auto* m = request->mutable_mconnect();
        for (const Address& a : addresses) *m->add_addresses() = a;
        m->set_gate_bytes(gate_bytes);
        m->set_app_sndbuf(app_sndbuf);
        m->set_stagger_ms(stagger_ms);
        m->set_timeout_ms(timeout_ms);
      },
      &peer);
  if (error != 0) return error;
  const std::string winning = Normalized(peer);
  for (int i = 0; i < n; ++i) {
    if (Normalized(addresses[static_cast<size_t>(i)]) == winning) {
      *winner = i;
      break;
    }
  }
  return 0;
}

int StackMBind(int fd, const StackName& stack, const sockaddr* const addrs[],
               const socklen_t lens[], int n) {
  std::vector<Address> addresses;
  if (int error = Addresses(addrs, lens, n, AddressUse::kBind, &addresses)) {
    return error;
  }
  Request request;
  auto* m = request.mutable_mbind();
  for (const Address& a : addresses) *m->add_addresses() = a;
  Response response;
  return Call(fd, stack, &request, &response);
}

namespace {

// Whether stackd has closed its end of an accepted connection's pair.
bool ConnectionGone(int fd) {
  pollfd p{fd, 0, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLHUP) != 0;
}

bool StillListening(int fd, const StackName& stack) {
  Request request;
  request.mutable_get_opt()->set_level(SOL_SOCKET);
  request.mutable_get_opt()->set_name(SO_ACCEPTCONN);
  Response response;
  return Call(fd, stack, &request, &response) == 0 && response.opt().int_value() != 0;
}

}  // namespace

int StackAccept(int fd, const StackName& stack, sockaddr* addr, socklen_t* len,
                int flags, int* new_fd) {
  if ((flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) != 0) return EINVAL;
  // Checked before a connection is taken off the queue, so that a bad
  // argument does not cost the connection.
  if (addr != nullptr) {
    if (len == nullptr) return EFAULT;
    if (static_cast<int>(*len) < 0) return EINVAL;
  }
  uint8_t record[kAcceptRecordBytes];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxRecordFds)];
  iovec iov{record, sizeof(record)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  const int recv_flags =
      MSG_WAITALL | ((flags & SOCK_CLOEXEC) != 0 ? MSG_CMSG_CLOEXEC : 0);
  // accept() on a socket that does not listen is EINVAL at once, as Linux,
  // not a wait on a pair that will never carry a connection. Asked only
  // when no record is ready.
  pollfd ready{fd, POLLIN, 0};
  if (poll(&ready, 1, 0) == 0 && !StillListening(fd, stack)) return EINVAL;
  const ssize_t n = libc::RecvMsg(fd, &msg, recv_flags);
  // ECONNRESET: stackd closed a listener's end with the gate bytes unread
  // (the socket failed or is gone): as the end of the records below.
  if (n < 0 && errno != ECONNRESET) return errno;
  if (n < 0) {
    int error = 0;
    if (SocketError(fd, stack, &error) != 0 || error == 0) return EINVAL;
    return error;
  }
  int fds[kMaxRecordFds];
  int fd_count = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
       c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t k = 0; k < count && fd_count < kMaxRecordFds; ++k) {
      std::memcpy(&fds[fd_count++], CMSG_DATA(c) + k * sizeof(int),
                  sizeof(int));
    }
  }
  auto discard = [&](int error) {
    for (int i = 0; i < fd_count; ++i) close(fds[i]);
    return error;
  };
  if (n == 0 && fd_count == 0) {
    // The stack closed the listener: its recorded error, else what Linux
    // says of accept on a socket that does not listen.
    int error = 0;
    if (SocketError(fd, stack, &error) != 0 || error == 0) return EINVAL;
    return error;
  }
  if (static_cast<size_t>(n) == sizeof(record) && fd_count == 0 &&
      record[0] == kAcceptRecordEnd && record[1] == 0) {
    // The listener was shut down: Linux's accept() fails with EINVAL.
    return EINVAL;
  }
  if (static_cast<size_t>(n) != sizeof(record) || fd_count != 1 ||
      (msg.msg_flags & MSG_CTRUNC) != 0) {
    return discard(EPROTO);
  }
  socket::v1::AcceptRecord parsed;
  if (ParseAcceptRecord(record, sizeof(record), &parsed) != 0 ||
      SockaddrSize(parsed.peer()) == 0) {
    return discard(EPROTO);
  }
  if (ConnectionGone(fds[0]) && !StillListening(fd, stack)) {
    // Reset by shutdown() of the listener before it was accepted: Linux
    // never returns it. The next record, or the end of them (EINVAL).
    discard(0);
    return StackAccept(fd, stack, addr, len, flags, new_fd);
  }
  if (addr != nullptr) {
    if (int error = AddressToSockaddr(parsed.peer(), addr, len)) {
      return discard(error);
    }
  }
  if ((flags & SOCK_NONBLOCK) != 0) {
    const int fl = fcntl(fds[0], F_GETFL);
    if (fl < 0 || fcntl(fds[0], F_SETFL, fl | O_NONBLOCK) != 0) {
      return discard(errno);
    }
  }
  ForgetFd(fds[0]);
  *new_fd = fds[0];
  return 0;
}

int StackGetName(int fd, const StackName& stack, bool peer, sockaddr* addr,
                 socklen_t* len) {
  Request request;
  request.mutable_get_name()->set_peer(peer);
  Response response;
  if (int error = Call(fd, stack, &request, &response)) return error;
  if (!response.has_address()) return EPROTO;
  return AddressToSockaddr(response.address(), addr, len);
}

int StackShutdown(int fd, const StackName& stack, int how) {
  Request request;
  request.mutable_shutdown()->set_how(how);
  Response response;
  return Call(fd, stack, &request, &response);
}

int StackSetOpt(int fd, const StackName& stack, int level, int name,
                const void* value, socklen_t len) {
  if (IsTimeoutOption(level, name)) {
    return RealOptionError(libc::SetSockOpt(fd, level, name, value, len));
  }
  if (static_cast<int>(len) < 0) return EINVAL;
  if (level == IPPROTO_TCP && name == TCP_CONGESTION) {
    return SetCongestionControl(value, len);
  }
  Request request;
  auto* set_opt = request.mutable_set_opt();
  set_opt->set_level(level);
  set_opt->set_name(name);
  int int_value = 0;
  if (level == SOL_SOCKET && name == SO_LINGER) {
    if (len < sizeof(linger)) return EINVAL;
    if (value == nullptr) return EFAULT;
    linger l;
    std::memcpy(&l, value, sizeof(l));
    set_opt->mutable_value()->mutable_linger()->set_on(l.l_onoff != 0);
    set_opt->mutable_value()->mutable_linger()->set_seconds(l.l_linger);
  } else if (level == IPPROTO_IP && len < sizeof(int)) {
    // As Linux's ip_setsockopt: a shorter value is one byte, and none at
    // all is 0, except for the options that check for a byte.
    if (len == 0 && (name == IP_MULTICAST_TTL || name == IP_MULTICAST_LOOP ||
                     name == IP_FREEBIND)) {
      return EINVAL;
    }
    if (len > 0 && value == nullptr) return EFAULT;
    int_value = len > 0 ? *static_cast<const unsigned char*>(value) : 0;
    set_opt->mutable_value()->set_int_value(int_value);
  } else {
    if (len < sizeof(int)) return EINVAL;
    if (value == nullptr) return EFAULT;
    std::memcpy(&int_value, value, sizeof(int_value));
    set_opt->mutable_value()->set_int_value(int_value);
  }
  Response response;
  if (int error = Call(fd, stack, &request, &response)) {
    // EINVAL: the stack has closed the socket (a reset, or both sides
    // done), where Linux still takes options; nginx uncorks such sockets.
    if (error == EINVAL && IsHintWithoutEffect(level, name)) {
      return 0;
    }
    return error;
  }
  if (level == SOL_SOCKET && (name == SO_SNDBUF || name == SO_RCVBUF)) {
    // The stack reports it; the pair's own buffer should follow it too.
    libc::SetSockOpt(fd, level, name, &int_value, sizeof(int_value));
  }
  return 0;
}

int StackGetOpt(int fd, const StackName& stack, int level, int name,
                void* value, socklen_t* len) {
  if (IsTimeoutOption(level, name)) {
    return RealOptionError(libc::GetSockOpt(fd, level, name, value, len));
  }
  if (len == nullptr) return EFAULT;
  if (static_cast<int>(*len) < 0) return EINVAL;
  if (*len > 0 && value == nullptr) return EFAULT;
  if (level == SOL_SOCKET && name == SO_ERROR) {
    int error = 0;
    if (int call_error = SocketError(fd, stack, &error)) return call_error;
    return CopyOption(&error, sizeof(error), value, len);
  }
  if (level == IPPROTO_TCP && name == TCP_INFO) {
    return GetTcpInfo(fd, stack, value, len);
  }
  if (level == IPPROTO_TCP && name == TCP_CONGESTION) {
    char algorithm[kCongestionNameBytes] = {};
    std::memcpy(algorithm, kCongestionControl, sizeof(kCongestionControl));
    return CopyOption(algorithm, sizeof(algorithm), value, len);
  }
  Request request;
  request.mutable_get_opt()->set_level(level);
  request.mutable_get_opt()->set_name(name);
  Response response;
  if (int error = Call(fd, stack, &request, &response)) return error;
  const OptValue& answer = response.opt();
  if (answer.value_case() == OptValue::kLinger) {
    linger l{};
    l.l_onoff = answer.linger().on() ? 1 : 0;
    l.l_linger = answer.linger().seconds();
    return CopyOption(&l, sizeof(l), value, len);
  }
  const int64_t wide = answer.int_value();
  if (wide < INT_MIN || wide > INT_MAX) return EPROTO;
  const int int_value = static_cast<int>(wide);
  if (level == IPPROTO_IP && *len > 0 && *len < sizeof(int) && int_value >= 0 &&
      int_value <= 255) {
    // As Linux's ip_getsockopt: a short buffer gets a value that fits in
    // one byte as that byte.
    *static_cast<unsigned char*>(value) = static_cast<unsigned char>(int_value);
    *len = 1;
    return 0;
  }
  return CopyOption(&int_value, sizeof(int_value), value, len);
}

int StackErrorAtEof(int fd, const StackName& stack) {
  // A FIN from the peer only shuts the stack's end for writing; an error
  // (reset, timeout) closes it, and then the fd reports POLLHUP. Only then
  // is there something to ask.
  pollfd p{fd, 0, 0};
  if (poll(&p, 1, 0) != 1 || (p.revents & (POLLHUP | POLLERR)) == 0) return 0;
  int error = 0;
  if (SocketError(fd, stack, &error) != 0) return 0;  // Keep the EOF.
  return error;
}

int StackCheckSend(const msghdr* msg, int flags, msghdr* sendable) {
  if ((flags & MSG_FASTOPEN) != 0) return EOPNOTSUPP;
  if (msg->msg_controllen > 0) {
    if (msg->msg_control == nullptr) return EFAULT;
    // As the kernel's sock_cmsg_send() for TCP: other levels are ignored,
    // SOL_SOCKET takes only these.
    msghdr copy = *msg;
    for (cmsghdr* c = CMSG_FIRSTHDR(&copy); c != nullptr;
         c = CMSG_NXTHDR(&copy, c)) {
      if (c->cmsg_len < sizeof(cmsghdr) || c->cmsg_len > msg->msg_controllen) {
        return EINVAL;
      }
      if (c->cmsg_level != SOL_SOCKET) continue;
      switch (c->cmsg_type) {
        case SO_MARK:
        case SO_TIMESTAMPING_OLD:
        case SCM_TXTIME:
          break;  // Taken by TCP; nothing the stack uses.
        default:
          return EINVAL;  // SCM_RIGHTS, SCM_CREDENTIALS, ...
      }
    }
  }
  *sendable = *msg;
  sendable->msg_name = nullptr;
  sendable->msg_namelen = 0;
  sendable->msg_control = nullptr;
  sendable->msg_controllen = 0;
  return 0;
}

int StackCall(int fd, const StackName& stack, Request* request,
              Response* response) {
  return Call(fd, stack, request, response);
}

}  // namespace stackd::client
