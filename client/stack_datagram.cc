#include "client/stack_datagram.h"

#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

#include "client/address.h"
#include "client/fd_cache.h"
#include "client/libc.h"
#include "client/stack_socket.h"
#include "proto/socket.pb.h"

namespace stackd::client {
namespace {

using socket::v1::Request;
using socket::v1::Response;

// iovecs handed to the kernel directly (the header's and the caller's);
// more are gathered into one buffer first.
constexpr size_t kDirectIov = 64;
// Linux's UIO_MAXIOV: more iovecs are EMSGSIZE.
constexpr size_t kMaxIov = 1024;
// The smallest SO_SNDBUF for the application's end of the pair: the kernel
// doubles it, and an AF_UNIX packet larger than the send buffer is refused
// (EMSGSIZE) where a UDP socket would take it.
constexpr int kMinPairSndbuf = 36 * 1024;

size_t IovecBytes(const iovec* iov, size_t count) {
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) total += iov[i].iov_len;
  return total;
}

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// The control messages of a send, as Linux's ip_cmsg_send and
// ip6_datagram_send_ctl read them: IP_PKTINFO and IPV6_PKTINFO choose the
// source; SOL_SOCKET takes only a few types; the rest is ignored.
int ApplySendControl(const msghdr* msg, int domain, DatagramHeader* h) {
  if (msg->msg_controllen == 0) return 0;
  if (msg->msg_control == nullptr) return EFAULT;
  msghdr copy = *msg;
  for (cmsghdr* c = CMSG_FIRSTHDR(&copy); c != nullptr;
       c = CMSG_NXTHDR(&copy, c)) {
    if (c->cmsg_len < sizeof(cmsghdr) || c->cmsg_len > msg->msg_controllen) {
      return EINVAL;
    }
    const size_t data_len = c->cmsg_len - CMSG_LEN(0);
    if (c->cmsg_level == SOL_SOCKET) {
      switch (c->cmsg_type) {
        case SO_MARK:
        case SO_TIMESTAMPING_OLD:
        case SCM_TXTIME:
          break;  // Taken by UDP; nothing the stack uses.
        default:
          return EINVAL;  // SCM_RIGHTS, SCM_CREDENTIALS, ...
      }
    } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      if (data_len < sizeof(in_pktinfo)) return EINVAL;
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      h->ifindex = static_cast<uint32_t>(info.ipi_ifindex);
      if (info.ipi_spec_dst.s_addr != 0) {
        h->local_family = AF_INET;
        std::memset(h->local, 0, sizeof(h->local));
        std::memcpy(h->local, &info.ipi_spec_dst, 4);
      }
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
               domain == AF_INET6) {
      if (data_len < sizeof(in6_pktinfo)) return EINVAL;
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      h->ifindex = info.ipi6_ifindex;
      if (!IN6_IS_ADDR_UNSPECIFIED(&info.ipi6_addr)) {
        h->local_family = AF_INET6;
        std::memcpy(h->local, &info.ipi6_addr, 16);
      }
    }
  }
  return 0;
}

// Takes the next packet off the pair unread.
void DiscardOne(int fd) {
  iovec iov{nullptr, 0};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  libc::RecvMsg(fd, &m, MSG_DONTWAIT);
}

// Copies `len` bytes of `from` into the iovecs.
void Scatter(const uint8_t* from, size_t len, const iovec* iov, size_t count) {
  for (size_t i = 0; i < count && len > 0; ++i) {
    const size_t part = std::min(len, iov[i].iov_len);
    if (part > 0) std::memcpy(iov[i].iov_base, from, part);
    from += part;
    len -= part;
  }
}

// recvmsg(MSG_ERRQUEUE): the oldest ICMP error the stack queued for the
// socket (IP_RECVERR / IPV6_RECVERR), as Linux's ip_recv_error and
// ipv6_recv_error return it: the datagram's payload as data, where it was
// going as the name, and a control message (SOL_IP/IP_RECVERR, or
// SOL_IPV6/IPV6_RECVERR on an AF_INET6 socket) with sock_extended_err
// followed by the offender's address. EAGAIN if none is queued.
int ReceiveQueuedError(int fd, msghdr* msg, int flags, size_t* received) {
  StackName stack;
  if (!FindStack(fd, &stack)) return EAGAIN;
  socket::v1::Request request;
  request.mutable_err_queue()->set_peek((flags & MSG_PEEK) != 0);
  socket::v1::Response response;
  if (int error = StackCall(fd, stack, &request, &response)) return error;
  const socket::v1::QueuedError& e = response.queued_error();
  size_t room = 0;
  for (size_t i = 0; i < msg->msg_iovlen; ++i) room += msg->msg_iov[i].iov_len;
  const std::string& payload = e.payload();
  const size_t copied = std::min(room, payload.size());
  Scatter(reinterpret_cast<const uint8_t*>(payload.data()), copied, msg->msg_iov,
          msg->msg_iovlen);
  msg->msg_flags = MSG_ERRQUEUE | (copied < payload.size() ? MSG_TRUNC : 0);
  if (msg->msg_name != nullptr) {
    socklen_t len = msg->msg_namelen;
    if (AddressToSockaddr(e.destination(), static_cast<sockaddr*>(msg->msg_name), &len) != 0) {
      return EPROTO;
    }
    msg->msg_namelen = len;
  }
  struct {
    sock_extended_err ee;
    sockaddr_storage offender;
  } err{};
  err.ee.ee_errno = static_cast<uint32_t>(e.error());
  err.ee.ee_origin = static_cast<uint8_t>(e.origin());
  err.ee.ee_type = static_cast<uint8_t>(e.type());
  err.ee.ee_code = static_cast<uint8_t>(e.code());
  err.ee.ee_info = e.info();
  socklen_t offender_len = sizeof(err.offender);
  if (AddressToSockaddr(e.offender(), reinterpret_cast<sockaddr*>(&err.offender),
                        &offender_len) != 0) {
    return EPROTO;
  }
  const bool v6 = err.offender.ss_family == AF_INET6;
  const size_t data_len = sizeof(err.ee) + offender_len;
  if (msg->msg_control != nullptr && msg->msg_controllen >= CMSG_SPACE(data_len)) {
    cmsghdr* c = CMSG_FIRSTHDR(msg);
    c->cmsg_level = v6 ? SOL_IPV6 : SOL_IP;
    c->cmsg_type = v6 ? IPV6_RECVERR : IP_RECVERR;
    c->cmsg_len = CMSG_LEN(data_len);
    std::memcpy(CMSG_DATA(c), &err, data_len);
    msg->msg_controllen = CMSG_SPACE(data_len);
  } else {
    msg->msg_controllen = 0;
    msg->msg_flags |= MSG_CTRUNC;
  }
  *received = (flags & MSG_TRUNC) != 0 ? payload.size() : copied;
  return 0;
}

// Whether the stack still holds the socket's error (and takes it): false
// once getsockopt(SO_ERROR) has taken it. If the stack cannot be asked,
// the error stands.
bool ErrorStillPending(int fd) {
  StackName stack;
  if (!FindStack(fd, &stack)) return true;
  int error = 0;
  socklen_t len = sizeof(error);
  if (StackGetOpt(fd, stack, SOL_SOCKET, SO_ERROR, &error, &len) != 0) return true;
  return error != 0;
}

// Linux binds an unbound socket to an ephemeral port on its first send,
// even one that then fails: a wildcard bind, which the stack refuses
// (EINVAL) on a socket bound already. Only on that error path: a send that
// reaches the stack is bound by it.
void AutoBind(int fd, int domain) {
  StackName stack;
  if (!FindStack(fd, &stack)) return;
  sockaddr_storage any{};
  any.ss_family = static_cast<sa_family_t>(domain);
  const socklen_t len = domain == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  StackBind(fd, stack, reinterpret_cast<const sockaddr*>(&any), len);
}

}  // namespace

bool FindDatagramSocket(int fd, DatagramMark* mark) {
  if (KnownNotDatagram(fd)) return false;
  const int saved_errno = errno;
  int value = 0;
  socklen_t len = sizeof(value);
  const bool answered = syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_RCVLOWAT, &value, &len) == 0;
  const bool found = answered && len == sizeof(value) && ParseDatagramMark(value, mark);
  // An fd that is a socket without the mark, or no socket, stays what it
  // is until it is closed or replaced (fd_cache.h). A stack datagram
  // socket's mark is read every time: connect changes it.
  if (!found && (answered || errno == ENOTSOCK)) RememberNotDatagram(fd);
  errno = saved_errno;
  return found;
}

int DatagramSend(int fd, const DatagramMark& mark, const msghdr* msg,
                 int flags, size_t* sent) {
  if (msg == nullptr) return EFAULT;
  if ((flags & MSG_OOB) != 0) return EOPNOTSUPP;
  if (msg->msg_iovlen > kMaxIov) return EMSGSIZE;
  if (msg->msg_iovlen > 0 && msg->msg_iov == nullptr) return EFAULT;
  DatagramHeader h;
  if (msg->msg_name != nullptr && msg->msg_namelen > 0) {
    if (int error = SetDatagramDestination(static_cast<const sockaddr*>(msg->msg_name),
                                           msg->msg_namelen, mark.domain, &h, mark.ping)) {
      return error;
    }
  }
  size_t limit;
  if (h.family == 0) {
    if (mark.connected_limit == 0) {
      AutoBind(fd, mark.domain);  // As inet_send_prepare, before the check.
      return EDESTADDRREQ;
    }
    limit = mark.connected_limit;
  } else {
    limit = MaxDatagramPayload(h);
  }
  if (int error = ApplySendControl(msg, mark.domain, &h)) return error;
  const size_t total = IovecBytes(msg->msg_iov, msg->msg_iovlen);
  if (total > limit) return EMSGSIZE;
  if (mark.ping) {
    // As Linux's ping_common_sendmsg: an echo request (type 8, ICMPv6 128,
    // code 0) with at least its 8-byte header, or EINVAL.
    uint8_t icmp[2] = {0xff, 0xff};
    size_t got = 0;
    for (size_t i = 0; i < msg->msg_iovlen && got < 2; ++i) {
      const auto* b = static_cast<const uint8_t*>(msg->msg_iov[i].iov_base);
      for (size_t k = 0; k < msg->msg_iov[i].iov_len && got < 2; ++k) icmp[got++] = b[k];
    }
    if (total < 8 || icmp[0] != (mark.domain == AF_INET6 ? 128 : 8) || icmp[1] != 0) {
      return EINVAL;
    }
  }

  uint8_t head[kDatagramHeaderBytes];
  EncodeDatagramHeader(h, head);
  iovec iov[kDirectIov + 1];
  iov[0] = iovec{head, sizeof(head)};
  size_t count = 1;
  std::unique_ptr<uint8_t[]> gathered;
  if (msg->msg_iovlen <= kDirectIov) {
    for (size_t i = 0; i < msg->msg_iovlen; ++i) iov[count++] = msg->msg_iov[i];
  } else {
    gathered.reset(new (std::nothrow) uint8_t[total > 0 ? total : 1]);
    if (gathered == nullptr) return ENOMEM;
    uint8_t* p = gathered.get();
    for (size_t i = 0; i < msg->msg_iovlen; ++i) {
      if (msg->msg_iov[i].iov_len > 0) {
        std::memcpy(p, msg->msg_iov[i].iov_base, msg->msg_iov[i].iov_len);
      }
      p += msg->msg_iov[i].iov_len;
    }
    iov[count++] = iovec{gathered.get(), total};
  }
  msghdr out{};
  out.msg_iov = iov;
  out.msg_iovlen = count;
  // No SIGPIPE: a UDP socket shut down for sending fails with EPIPE only.
  const ssize_t n = libc::SendMsg(fd, &out, (flags & MSG_DONTWAIT) | MSG_NOSIGNAL);
  if (n < 0) return errno;
  *sent = static_cast<size_t>(n) >= sizeof(head) ? static_cast<size_t>(n) - sizeof(head) : 0;
  return 0;
}

int DatagramReceive(int fd, msghdr* msg, int flags, size_t* received) {
  if (msg == nullptr) return EFAULT;
  if ((flags & MSG_OOB) != 0) return EOPNOTSUPP;
  if (msg->msg_iovlen > kMaxIov) return EMSGSIZE;
  if (msg->msg_iovlen > 0 && msg->msg_iov == nullptr) return EFAULT;
  if ((flags & MSG_ERRQUEUE) != 0) return ReceiveQueuedError(fd, msg, flags, received);
  const int kernel_flags = flags & (MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
  const size_t room = IovecBytes(msg->msg_iov, msg->msg_iovlen);

  uint8_t head[kDatagramHeaderBytes];
  iovec iov[kDirectIov + 1];
  iov[0] = iovec{head, sizeof(head)};
  size_t count = 1;
  std::unique_ptr<uint8_t[]> bounce;
  if (msg->msg_iovlen <= kDirectIov) {
    for (size_t i = 0; i < msg->msg_iovlen; ++i) iov[count++] = msg->msg_iov[i];
  } else {
    const size_t size = std::min<size_t>(room, 0xffff);
    bounce.reset(new (std::nothrow) uint8_t[size > 0 ? size : 1]);
    if (bounce == nullptr) return ENOMEM;
    iov[count++] = iovec{bounce.get(), size};
  }
  for (;;) {
    msghdr in{};
    in.msg_iov = iov;
    in.msg_iovlen = count;
    const ssize_t n = libc::RecvMsg(fd, &in, kernel_flags);
    if (n < 0) return errno;
    if (n == 0) {
      // The pair ended: shut down for receiving (0, as Linux), or closed
      // by the stack (its recorded error, ENETDOWN if it is gone).
      msg->msg_flags = 0;
      msg->msg_controllen = 0;
      StackName stack;
      if (FindStack(fd, &stack)) {
        if (int error = StackErrorAtEof(fd, stack)) return error;
      }
      *received = 0;
      return 0;
    }
    DatagramHeader h;
    if (static_cast<size_t>(n) < sizeof(head) ||
        !DecodeDatagramHeader(head, sizeof(head), &h)) {
      // Not from the stack (someone wrote to the pair directly): skip it.
      if ((kernel_flags & MSG_PEEK) != 0) DiscardOne(fd);
      continue;
    }
    if ((h.flags & kDatagramFlagError) != 0) {
      if ((kernel_flags & MSG_PEEK) != 0) DiscardOne(fd);
      // The error is the socket's until taken, by this call or by
      // getsockopt(SO_ERROR) before it, as Linux's sk_err: only an error
      // the stack still holds is reported.
      if (!ErrorStillPending(fd)) continue;
      return h.error != 0 ? h.error : EIO;
    }
    // With MSG_TRUNC the kernel returned the packet's full length.
    const size_t payload = static_cast<size_t>(n) - sizeof(head);
    const size_t copied = std::min(payload, room);
    if (bounce != nullptr) Scatter(bounce.get(), copied, msg->msg_iov, msg->msg_iovlen);
    msg->msg_flags = in.msg_flags & MSG_TRUNC;
    if (msg->msg_name != nullptr) {
      sockaddr_storage peer;
      const socklen_t full = DatagramPeer(h, &peer);
      std::memcpy(msg->msg_name, &peer, std::min(msg->msg_namelen, full));
      msg->msg_namelen = full;
    }
    bool truncated = false;
    msg->msg_controllen =
        DatagramControl(h, msg->msg_control, msg->msg_controllen, &truncated);
    if (truncated) msg->msg_flags |= MSG_CTRUNC;
    *received = (flags & MSG_TRUNC) != 0 ? payload : copied;
    return 0;
  }
}

int DatagramSendMany(int fd, const DatagramMark& mark, mmsghdr* msgs,
                     unsigned int vlen, int flags, int* count) {
  if (vlen > kMaxIov) vlen = kMaxIov;
  if (vlen > 0 && msgs == nullptr) return EFAULT;
  unsigned int i = 0;
  for (; i < vlen; ++i) {
    size_t sent = 0;
    if (int error = DatagramSend(fd, mark, &msgs[i].msg_hdr, flags, &sent)) {
      if (i == 0) return error;
      break;
    }
    msgs[i].msg_len = static_cast<unsigned int>(sent);
  }
  *count = static_cast<int>(i);
  return 0;
}

int DatagramReceiveMany(int fd, mmsghdr* msgs, unsigned int vlen, int flags,
                        timespec* timeout, int* count) {
  if (vlen > kMaxIov) vlen = kMaxIov;
  if (vlen > 0 && msgs == nullptr) return EFAULT;
  int64_t deadline = 0;
  if (timeout != nullptr) {
    if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000) {
      return EINVAL;
    }
    deadline = NowNs() + static_cast<int64_t>(timeout->tv_sec) * 1000000000 + timeout->tv_nsec;
  }
  unsigned int i = 0;
  for (; i < vlen; ++i) {
    int f = flags & ~MSG_WAITFORONE;
    if (i > 0 && (flags & MSG_WAITFORONE) != 0) f |= MSG_DONTWAIT;
    size_t received = 0;
    if (int error = DatagramReceive(fd, &msgs[i].msg_hdr, f, &received)) {
      if (i == 0) return error;
      break;
    }
    msgs[i].msg_len = static_cast<unsigned int>(received);
    // As Linux, the timeout is looked at after each datagram.
    if (timeout != nullptr && NowNs() >= deadline) {
      ++i;
      break;
    }
  }
  if (timeout != nullptr) {
    const int64_t left = std::max<int64_t>(deadline - NowNs(), 0);
    timeout->tv_sec = static_cast<time_t>(left / 1000000000);
    timeout->tv_nsec = static_cast<long>(left % 1000000000);
  }
  *count = static_cast<int>(i);
  return 0;
}

int DatagramPending(int fd, int* bytes) {
  uint8_t head[kDatagramHeaderBytes];
  iovec iov{head, sizeof(head)};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  const ssize_t n = libc::RecvMsg(fd, &m, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
  *bytes = 0;
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : errno;
  DatagramHeader h;
  if (static_cast<size_t>(n) >= sizeof(head) &&
      DecodeDatagramHeader(head, sizeof(head), &h) &&
      (h.flags & kDatagramFlagError) == 0) {
    *bytes = static_cast<int>(static_cast<size_t>(n) - sizeof(head));
  }
  return 0;
}

int DatagramConnect(int fd, const StackName& stack, const sockaddr* addr,
                    socklen_t len) {
  if (static_cast<int>(len) < 0 || len > sizeof(sockaddr_storage)) return EINVAL;
  if (len > 0 && addr == nullptr) return EFAULT;
  if (len < sizeof(sa_family_t)) return EINVAL;
  sa_family_t family;
  std::memcpy(&family, addr, sizeof(family));
  Request request;
  auto* address = request.mutable_connect()->mutable_address();
  if (family == AF_UNSPEC) {
    address->set_family(AF_UNSPEC);
  } else if (int error = AddressFromSockaddr(addr, len, AddressUse::kConnect, address)) {
    return error;
  }
  Response response;
  return StackCall(fd, stack, &request, &response);
}

int DatagramSetOpt(int fd, const StackName& stack, int level, int name,
                   const void* value, socklen_t len) {
  if (static_cast<int>(len) < 0) return EINVAL;
  if (len > 0 && value == nullptr) return EFAULT;
  const bool membership = (level == IPPROTO_IP && (name == IP_ADD_MEMBERSHIP ||
                                                   name == IP_DROP_MEMBERSHIP ||
                                                   name == IP_MULTICAST_IF)) ||
                          (level == IPPROTO_IPV6 && (name == IPV6_JOIN_GROUP ||
                                                     name == IPV6_LEAVE_GROUP));
  if (membership) {
    Request request;
    auto* set_opt = request.mutable_set_opt();
    set_opt->set_level(level);
    set_opt->set_name(name);
    auto* m = set_opt->mutable_value()->mutable_membership();
    if (level == IPPROTO_IP) {
      // As Linux: an ip_mreqn if long enough, else an ip_mreq (or for
      // IP_MULTICAST_IF, an in_addr).
      ip_mreqn mreq{};
      if (len >= sizeof(ip_mreqn)) {
        std::memcpy(&mreq, value, sizeof(mreq));
      } else if (name != IP_MULTICAST_IF && len >= sizeof(ip_mreq)) {
        std::memcpy(&mreq, value, sizeof(ip_mreq));
      } else if (name == IP_MULTICAST_IF && len >= sizeof(in_addr)) {
        std::memcpy(&mreq.imr_address, value, sizeof(in_addr));
      } else {
        return EINVAL;
      }
      if (name != IP_MULTICAST_IF) m->set_group(&mreq.imr_multiaddr, 4);
      m->set_interface_address(&mreq.imr_address, 4);
      m->set_ifindex(static_cast<uint32_t>(mreq.imr_ifindex));
    } else {
      if (len < sizeof(ipv6_mreq)) return EINVAL;
      ipv6_mreq mreq;
      std::memcpy(&mreq, value, sizeof(mreq));
      m->set_group(&mreq.ipv6mr_multiaddr, 16);
      m->set_ifindex(mreq.ipv6mr_interface);
    }
    Response response;
    return StackCall(fd, stack, &request, &response);
  }
  if (int error = StackSetOpt(fd, stack, level, name, value, len)) return error;
  if (level == SOL_SOCKET && name == SO_SNDBUF) {
    int size;
    std::memcpy(&size, value, sizeof(size));
    size = std::max(size, kMinPairSndbuf);
    libc::SetSockOpt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  }
  return 0;
}

int DatagramGetOpt(int fd, const StackName& stack, int level, int name,
                   void* value, socklen_t* len) {
  if (len == nullptr) return EFAULT;
  if (static_cast<int>(*len) < 0) return EINVAL;
  if (*len > 0 && value == nullptr) return EFAULT;
  if (level == IPPROTO_IP && name == IP_MULTICAST_IF) {
    Request request;
    request.mutable_get_opt()->set_level(level);
    request.mutable_get_opt()->set_name(name);
    Response response;
    if (int error = StackCall(fd, stack, &request, &response)) return error;
    in_addr addr{};
    const std::string& bytes = response.opt().membership().interface_address();
    if (bytes.size() == 4) std::memcpy(&addr, bytes.data(), 4);
    const socklen_t n = std::min<socklen_t>(*len, sizeof(addr));
    std::memcpy(value, &addr, n);
    *len = n;
    return 0;
  }
  return StackGetOpt(fd, stack, level, name, value, len);
}

}  // namespace stackd::client
