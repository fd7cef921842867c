// UDP through stackd, call by call, against kernel UDP sockets in the test
// bed's namespace: unconnected and connected sockets, names, MSG_TRUNC,
// MSG_PEEK, EMSGSIZE, EDESTADDRREQ, connect(AF_UNSPEC), IP_PKTINFO and
// IPV6_PKTINFO, sendmmsg/recvmmsg, FIONREAD, poll and epoll readiness,
// options, and what a datagram socket refuses (listen, accept).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/msocket.h"
#include "gtest/gtest.h"
#include "tests/netns_peer.h"
#include "tests/testbed.h"

namespace stackd::testbed {
namespace {

constexpr absl::Duration kWait = absl::Seconds(5);
// How long a test waits to be sure that nothing arrives.
constexpr absl::Duration kQuiet = absl::Milliseconds(300);

// What one receive returned.
struct Datagram {
  ssize_t n = -1;
  int error = 0;
  std::string data;
  SockAddr from;
  int msg_flags = 0;
};

// recvmsg(2) of up to `len` bytes with `flags`, after waiting at most
// `timeout` for the fd to turn readable (error ETIME if it did not).
Datagram Receive(int fd, size_t len, int flags = 0,
                 absl::Duration timeout = kWait) {
  Datagram d;
  if ((PollFor(fd, POLLIN, timeout) & POLLIN) == 0) {
    d.error = ETIME;
    return d;
  }
  d.data.resize(len);
  iovec iov{d.data.data(), len};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_name = &d.from.storage;
  msg.msg_namelen = sizeof(d.from.storage);
  d.n = recvmsg(fd, &msg, flags | MSG_DONTWAIT);
  if (d.n < 0) {
    d.error = errno;
    d.data.clear();
    return d;
  }
  d.from.len = msg.msg_namelen;
  d.msg_flags = msg.msg_flags;
  d.data.resize(std::min(static_cast<size_t>(d.n), len));
  return d;
}

// True if nothing arrives on `fd` for kQuiet.
bool Quiet(int fd) { return (PollFor(fd, POLLIN, kQuiet) & POLLIN) == 0; }

std::string Pattern(size_t len, uint64_t seed) {
  std::string s(len, '\0');
  PatternSource(seed).Fill(s.data(), len);
  return s;
}

class UdpTest : public TcpTest, public ::testing::WithParamInterface<Family> {
 protected:
  const Family& f() const { return GetParam(); }

  // A stack UDP socket of the family under test.
  ScopedFd StackUdp() {
    const int fd = StackSocket(f().domain, SOCK_DGRAM);
    EXPECT_GE(fd, 0) << std::strerror(errno);
    return ScopedFd(fd);
  }

  // A stack UDP socket bound to the stack's address, port 0; its address in
  // *bound.
  ScopedFd BoundStackUdp(SockAddr* bound) {
    ScopedFd fd = StackUdp();
    const SockAddr any = MakeSockAddr(f().stack_ip, 0);
    EXPECT_EQ(bind(fd.get(), any.get(), any.len), 0) << std::strerror(errno);
    absl::StatusOr<SockAddr> name = LocalName(fd.get());
    EXPECT_TRUE(name.ok()) << name.status();
    if (name.ok()) *bound = *name;
    return fd;
  }

  // A kernel UDP socket in the namespace, bound to the kernel's address,
  // port 0; its address in *bound.
  ScopedFd KernelUdp(SockAddr* bound) {
    absl::StatusOr<ScopedFd> fd = KernelSocket(bed_->netns(), f().domain, SOCK_DGRAM);
    EXPECT_TRUE(fd.ok()) << fd.status();
    if (!fd.ok()) return ScopedFd();
    const SockAddr any = MakeSockAddr(f().kernel_ip, 0);
    EXPECT_EQ(bind(fd->get(), any.get(), any.len), 0) << std::strerror(errno);
    absl::StatusOr<SockAddr> name = LocalName(fd->get());
    EXPECT_TRUE(name.ok()) << name.status();
    if (name.ok()) *bound = *name;
    return *std::move(fd);
  }

  size_t Limit() const { return f().domain == AF_INET ? 65507 : 65487; }
};

TEST_P(UdpTest, UnconnectedBothWays) {
  SockAddr stack_addr, kernel_addr;
  ScopedFd stack = BoundStackUdp(&stack_addr);
  ScopedFd kernel = KernelUdp(&kernel_addr);
  EXPECT_EQ(stack_addr.ip(), std::string(f().stack_ip));
  EXPECT_NE(stack_addr.port(), 0) << "bind to port 0 picks a port";

  const std::string out = Pattern(1000, 1);
  ASSERT_EQ(sendto(stack.get(), out.data(), out.size(), 0, kernel_addr.get(), kernel_addr.len),
            static_cast<ssize_t>(out.size()))
      << std::strerror(errno);
  Datagram got = Receive(kernel.get(), 2000);
  ASSERT_EQ(got.n, 1000) << std::strerror(got.error);
  EXPECT_EQ(got.data, out);
  EXPECT_EQ(got.from.ToString(), stack_addr.ToString());

  const std::string back = Pattern(1400, 2);
  ASSERT_EQ(sendto(kernel.get(), back.data(), back.size(), 0, stack_addr.get(), stack_addr.len),
            static_cast<ssize_t>(back.size()));
  got = Receive(stack.get(), 2000);
  ASSERT_EQ(got.n, 1400) << std::strerror(got.error);
  EXPECT_EQ(got.data, back);
  EXPECT_EQ(got.from.ToString(), kernel_addr.ToString());

  // recvfrom with a short address buffer: truncated, full length reported.
  ASSERT_EQ(sendto(kernel.get(), "x", 1, 0, stack_addr.get(), stack_addr.len), 1);
  ASSERT_NE(PollFor(stack.get(), POLLIN, kWait) & POLLIN, 0);
  char c = 0;
  sockaddr_storage from{};
  socklen_t from_len = 4;
  ASSERT_EQ(recvfrom(stack.get(), &c, 1, 0, reinterpret_cast<sockaddr*>(&from), &from_len), 1);
  EXPECT_EQ(c, 'x');
  EXPECT_EQ(from_len, kernel_addr.len);

  // Zero-length datagrams both ways.
  ASSERT_EQ(sendto(stack.get(), "", 0, 0, kernel_addr.get(), kernel_addr.len), 0);
  got = Receive(kernel.get(), 10);
  EXPECT_EQ(got.n, 0) << std::strerror(got.error);
  ASSERT_EQ(sendto(kernel.get(), "", 0, 0, stack_addr.get(), stack_addr.len), 0);
  got = Receive(stack.get(), 10);
  EXPECT_EQ(got.n, 0) << std::strerror(got.error);
  EXPECT_EQ(got.from.ToString(), kernel_addr.ToString());
}

// The library remembers which fd numbers are not stack datagram sockets
// (client/fd_cache.h), so that read() on a file costs no extra system call.
// A stack UDP socket that takes such a number, by dup2, fcntl(F_DUPFD) or
// after close_range, is still found: its datagrams come without the pair's
// header, and a send carries its destination.
TEST_P(UdpTest, DataCallsFindAStackSocketOnAnFdNumberThatWasAFile) {
  SockAddr stack_addr, kernel_addr;
  ScopedFd stack = BoundStackUdp(&stack_addr);
  ScopedFd kernel = KernelUdp(&kernel_addr);
  ASSERT_GE(stack.get(), 0);
  ASSERT_GE(kernel.get(), 0);
  // A file at `fd`, read through the library: its number is now known.
  auto file_read_at = [](int fd) {
    const int file = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    EXPECT_GE(file, 0);
    EXPECT_EQ(dup2(file, fd), fd);
    close(file);
    char c = 1;
    EXPECT_EQ(read(fd, &c, 1), 1);
    EXPECT_EQ(c, 0);
  };
  auto round_trip = [&](int fd, const std::string& what) {
    SCOPED_TRACE(what);
    const std::string out = Pattern(100, fd);
    ASSERT_EQ(sendto(fd, out.data(), out.size(), 0, kernel_addr.get(), kernel_addr.len), 100)
        << std::strerror(errno);
    Datagram got = Receive(kernel.get(), 200);
    EXPECT_EQ(got.data, out);
    ASSERT_EQ(sendto(kernel.get(), "back", 4, 0, stack_addr.get(), stack_addr.len), 4);
    ASSERT_NE(PollFor(fd, POLLIN, kWait) & POLLIN, 0);
    char buf[64];
    EXPECT_EQ(read(fd, buf, sizeof(buf)), 4) << "the datagram alone, no header";
    EXPECT_EQ(std::string(buf, 4), "back");
  };
  const int number = 300;
  file_read_at(number);
  ASSERT_EQ(dup2(stack.get(), number), number);
  round_trip(number, "dup2 onto it");
  close(number);

  file_read_at(number);
  ASSERT_EQ(syscall(SYS_close, number), 0);  // Not through the library:
  ASSERT_EQ(fcntl(stack.get(), F_DUPFD, number), number);  // F_DUPFD forgets.
  round_trip(number, "fcntl(F_DUPFD) at it");
  close(number);

  file_read_at(number);
  ASSERT_EQ(close_range(number, number + 10, 0), 0);
  ASSERT_EQ(syscall(SYS_dup3, stack.get(), number, 0), number);  // Not through it either.
  round_trip(number, "close_range, then a raw dup3");
  close(number);
}

// Who may make ping sockets: stackd --ping-group-range, as Linux's
// net.ipv4.ping_group_range (this test runs with gid 0). Outside it,
// EACCES, as Linux; the other family's ICMP is no protocol of the family.
TEST(PingGroupRangeTest, OnlyTheGroupsInTheRangeMakePingSockets) {
  ASSERT_EQ(getgid(), 0u);
  for (const char* range : {"1-0", "1-100", "0-0"}) {
    SCOPED_TRACE(range);
    Testbed::Options options;
    options.extra_stackd_flags = {absl::StrCat("--ping-group-range=", range)};
    absl::StatusOr<std::unique_ptr<Testbed>> bed = Testbed::Create(options);
    ASSERT_TRUE(bed.ok()) << bed.status();
    const char* path = (*bed)->stack_path().c_str();
    const bool allowed = std::string(range) == "0-0";
    for (auto [domain, protocol] : {std::pair<int, int>{AF_INET, IPPROTO_ICMP},
                                    std::pair<int, int>{AF_INET6, IPPROTO_ICMPV6}}) {
      errno = 0;
      const int fd = msocket(path, domain, SOCK_DGRAM, protocol);
      if (allowed) {
        EXPECT_GE(fd, 0) << std::strerror(errno);
      } else {
        EXPECT_EQ(fd, -1);
        EXPECT_EQ(errno, EACCES);
      }
      if (fd >= 0) close(fd);
    }
    errno = 0;
    EXPECT_EQ(msocket(path, AF_INET, SOCK_DGRAM, IPPROTO_ICMPV6), -1);
    EXPECT_EQ(errno, EPROTONOSUPPORT);
  }
}

TEST_P(UdpTest, SendWithoutBindPicksAPort) {
  SockAddr kernel_addr;
  ScopedFd kernel = KernelUdp(&kernel_addr);
  ScopedFd stack = StackUdp();
  absl::StatusOr<SockAddr> before = LocalName(stack.get());
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->port(), 0);
  ASSERT_EQ(sendto(stack.get(), "hi", 2, 0, kernel_addr.get(), kernel_addr.len), 2);
  Datagram got = Receive(kernel.get(), 10);
  ASSERT_EQ(got.n, 2);
  absl::StatusOr<SockAddr> after = LocalName(stack.get());
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_NE(after->port(), 0);
  EXPECT_EQ(after->port(), got.from.port());
  // The answer comes back to the port that was picked.
  ASSERT_EQ(sendto(kernel.get(), "ok", 2, 0, got.from.get(), got.from.len), 2);
  got = Receive(stack.get(), 10);
  EXPECT_EQ(got.data, "ok");
}

TEST_P(UdpTest, ConnectedSocketFiltersOtherPeers) {
  SockAddr kernel_addr, other_addr;
  ScopedFd kernel = KernelUdp(&kernel_addr);
  ScopedFd other = KernelUdp(&other_addr);
  ScopedFd stack = StackUdp();
  ASSERT_EQ(connect(stack.get(), kernel_addr.get(), kernel_addr.len), 0) << std::strerror(errno);
  absl::StatusOr<SockAddr> peer = PeerName(stack.get());
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(peer->ToString(), kernel_addr.ToString());
  // As Linux: the source address the route picks, and a port.
  absl::StatusOr<SockAddr> local = LocalName(stack.get());
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(local->ip(), std::string(f().stack_ip));
  EXPECT_NE(local->port(), 0);

  // send, write, writev without an address go to the peer.
  ASSERT_EQ(send(stack.get(), "one", 3, 0), 3) << std::strerror(errno);
  ASSERT_EQ(write(stack.get(), "two", 3), 3) << std::strerror(errno);
  iovec parts[2] = {{const_cast<char*>("thr"), 3}, {const_cast<char*>("ee"), 2}};
  ASSERT_EQ(writev(stack.get(), parts, 2), 5) << std::strerror(errno);
  for (const char* want : {"one", "two", "three"}) {
    Datagram got = Receive(kernel.get(), 100);
    EXPECT_EQ(got.data, want);
    EXPECT_EQ(got.from.ToString(), local->ToString());
  }

  // The peer's datagrams arrive; another sender's are filtered out.
  ASSERT_EQ(sendto(other.get(), "stranger", 8, 0, local->get(), local->len), 8);
  ASSERT_EQ(sendto(kernel.get(), "friend", 6, 0, local->get(), local->len), 6);
  char buf[64];
  ASSERT_NE(PollFor(stack.get(), POLLIN, kWait) & POLLIN, 0);
  ASSERT_EQ(recv(stack.get(), buf, sizeof(buf), 0), 6);
  EXPECT_EQ(std::string(buf, 6), "friend");
  EXPECT_TRUE(Quiet(stack.get())) << "a datagram from another peer got through";
  ASSERT_EQ(sendto(kernel.get(), "again", 5, 0, local->get(), local->len), 5);
  ASSERT_NE(PollFor(stack.get(), POLLIN, kWait) & POLLIN, 0);
  ASSERT_EQ(read(stack.get(), buf, sizeof(buf)), 5);
  EXPECT_EQ(std::string(buf, 5), "again");

  // sendto with an address still works on a connected socket.
  ASSERT_EQ(sendto(stack.get(), "direct", 6, 0, other_addr.get(), other_addr.len), 6);
  Datagram got = Receive(other.get(), 100);
  EXPECT_EQ(got.data, "direct");
}

TEST_P(UdpTest, UnconnectedSendWithoutAddressIsEdestaddrreq) {
  ScopedFd stack = StackUdp();
  EXPECT_EQ(send(stack.get(), "x", 1, 0), -1);
  EXPECT_EQ(errno, EDESTADDRREQ);
  EXPECT_EQ(write(stack.get(), "x", 1), -1);
  EXPECT_EQ(errno, EDESTADDRREQ);
  sockaddr_storage peer;
  socklen_t len = sizeof(peer);
  EXPECT_EQ(getpeername(stack.get(), reinterpret_cast<sockaddr*>(&peer), &len), -1);
  EXPECT_EQ(errno, ENOTCONN);
}

TEST_P(UdpTest, ConnectToUnspecDissolvesTheAssociation) {
  SockAddr kernel_addr, other_addr;
  ScopedFd kernel = KernelUdp(&kernel_addr);
  ScopedFd other = KernelUdp(&other_addr);
  // Bound to a port of its own choosing: that port stays.
  const SockAddr stack_addr = MakeSockAddr(f().stack_ip, 5300);
  ScopedFd stack = StackUdp();
  ASSERT_EQ(bind(stack.get(), stack_addr.get(), stack_addr.len), 0) << std::strerror(errno);
  ASSERT_EQ(connect(stack.get(), kernel_addr.get(), kernel_addr.len), 0);
  ASSERT_EQ(send(stack.get(), "a", 1, 0), 1);
  ASSERT_EQ(Receive(kernel.get(), 10).data, "a");

  sockaddr unspec{};
  unspec.sa_family = AF_UNSPEC;
  ASSERT_EQ(connect(stack.get(), &unspec, sizeof(unspec)), 0) << std::strerror(errno);
  sockaddr_storage peer;
  socklen_t len = sizeof(peer);
  EXPECT_EQ(getpeername(stack.get(), reinterpret_cast<sockaddr*>(&peer), &len), -1);
  EXPECT_EQ(errno, ENOTCONN);
  EXPECT_EQ(send(stack.get(), "b", 1, 0), -1);
  EXPECT_EQ(errno, EDESTADDRREQ);
  // The bound address stays; any peer may send again.
  absl::StatusOr<SockAddr> local = LocalName(stack.get());
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->ToString(), stack_addr.ToString());
  ASSERT_EQ(sendto(other.get(), "c", 1, 0, stack_addr.get(), stack_addr.len), 1);
  Datagram got = Receive(stack.get(), 10);
  EXPECT_EQ(got.data, "c");
  EXPECT_EQ(got.from.ToString(), other_addr.ToString());
  // And it can connect again, elsewhere.
  ASSERT_EQ(connect(stack.get(), other_addr.get(), other_addr.len), 0);
  ASSERT_EQ(send(stack.get(), "d", 1, 0), 1);
  EXPECT_EQ(Receive(other.get(), 10).data, "d");

  // As Linux: a port that bind() left to the stack (port 0) is given back
  // when the association dissolves; the bound address stays.
  SockAddr loose_addr;
  ScopedFd loose = BoundStackUdp(&loose_addr);
  ASSERT_EQ(connect(loose.get(), kernel_addr.get(), kernel_addr.len), 0);
  ASSERT_EQ(connect(loose.get(), &unspec, sizeof(unspec)), 0);
  local = LocalName(loose.get());
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->ip(), std::string(f().stack_ip));
  EXPECT_EQ(local->port(), 0);
  // Not bound at all: nothing is left.
  ScopedFd unbound = StackUdp();
  ASSERT_EQ(connect(unbound.get(), kernel_addr.get(), kernel_addr.len), 0);
  ASSERT_EQ(connect(unbound.get(), &unspec, sizeof(unspec)), 0);
  local = LocalName(unbound.get());
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->ip(), std::string(f().any_ip));
  EXPECT_EQ(local->port(), 0);
}

TEST_P(UdpTest, PortUnreachableRefusesAConnectedSocket) {
  // A port nobody listens on: the kernel answers ICMP port unreachable.
  SockAddr closed_addr;
  {
    ScopedFd gone = KernelUdp(&closed_addr);
  }
  // Unconnected: the ICMP error is not reported, as on Linux.
  ScopedFd loose = StackUdp();
  ASSERT_EQ(sendto(loose.get(), "x", 1, 0, closed_addr.get(), closed_addr.len), 1);
  EXPECT_TRUE(Quiet(loose.get()));
  // ICMP errors are rate-limited by the kernel: let the bucket refill.
  absl::SleepFor(absl::Milliseconds(1100));

  ScopedFd stack = StackUdp();
  ASSERT_EQ(connect(stack.get(), closed_addr.get(), closed_addr.len), 0);
  ASSERT_EQ(send(stack.get(), "knock", 5, 0), 5);
  Datagram got = Receive(stack.get(), 100);
  EXPECT_EQ(got.n, -1);
  EXPECT_EQ(got.error, ECONNREFUSED) << std::strerror(got.error);
  // Reported once.
  char c;
  EXPECT_EQ(recv(stack.get(), &c, 1, MSG_DONTWAIT), -1);
  EXPECT_EQ(errno, EAGAIN);
}

TEST_P(UdpTest, ShutdownAsLinux) {
  ScopedFd loose = StackUdp();
  EXPECT_EQ(shutdown(loose.get(), SHUT_RDWR), -1);
  EXPECT_EQ(errno, ENOTCONN);

  SockAddr kernel_addr;
  ScopedFd kernel = KernelUdp(&kernel_addr);
  ScopedFd stack = StackUdp();
  ASSERT_EQ(connect(stack.get(), kernel_addr.get(), kernel_addr.len), 0);
  absl::StatusOr<SockAddr> local = LocalName(stack.get());
  ASSERT_TRUE(local.ok());
  ASSERT_EQ(shutdown(stack.get(), SHUT_WR), 0) << std::strerror(errno);
  EXPECT_EQ(send(stack.get(), "x", 1, 0), -1);
  EXPECT_EQ(errno, EPIPE);
  // Receiving goes on.
  ASSERT_EQ(sendto(kernel.get(), "still", 5, 0, local->get(), local->len), 5);
  EXPECT_EQ(Receive(stack.get(), 10).data, "still");
  ASSERT_EQ(shutdown(stack.get(), SHUT_RD), 0) << std::strerror(errno);
  char c;
  EXPECT_EQ(recv(stack.get(), &c, 1, 0), 0) << "a receive after SHUT_RD returns at once";
}

TEST_P(UdpTest, MsgTruncAndPeek) {
  SockAddr stack_addr, kernel_addr;
  ScopedFd stack = BoundStackUdp(&stack_addr);
  ScopedFd kernel = KernelUdp(&kernel_addr);
  const std::string big = Pattern(1000, 3);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(sendto(kernel.get(), big.data(), big.size(), 0, stack_addr.get(), stack_addr.len),
              1000);
  }
  ASSERT_EQ(sendto(kernel.get(), "tail", 4, 0, stack_addr.get(), stack_addr.len), 4);

  // Peek: the datagram stays; a peek with MSG_TRUNC tells its length.
  Datagram peek = Receive(stack.get(), 10, MSG_PEEK | MSG_TRUNC);
  EXPECT_EQ(peek.n, 1000);
  EXPECT_EQ(peek.data, big.substr(0, 10));
  EXPECT_NE(peek.msg_flags & MSG_TRUNC, 0);
  EXPECT_EQ(peek.from.ToString(), kernel_addr.ToString());
  EXPECT_EQ(recv(stack.get(), nullptr, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT), 1000);
  int pending = -1;
  ASSERT_EQ(ioctl(stack.get(), FIONREAD, &pending), 0) << std::strerror(errno);
  EXPECT_EQ(pending, 1000);
  Datagram whole = Receive(stack.get(), 2000, MSG_PEEK);
  EXPECT_EQ(whole.n, 1000);
  EXPECT_EQ(whole.data, big);

  // A short buffer: the rest of the datagram is gone, MSG_TRUNC says so.
  Datagram part = Receive(stack.get(), 100);
  EXPECT_EQ(part.n, 100);
  EXPECT_EQ(part.data, big.substr(0, 100));
  EXPECT_NE(part.msg_flags & MSG_TRUNC, 0);
  // With MSG_TRUNC in the flags the real length comes back.
  Datagram trunc = Receive(stack.get(), 100, MSG_TRUNC);
  EXPECT_EQ(trunc.n, 1000);
  EXPECT_EQ(trunc.data, big.substr(0, 100));
  // A buffer that fits: no MSG_TRUNC.
  Datagram fits = Receive(stack.get(), 1000);
  EXPECT_EQ(fits.n, 1000);
  EXPECT_EQ(fits.msg_flags & MSG_TRUNC, 0);
  // The next datagram starts afresh.
  Datagram tail = Receive(stack.get(), 100);
  EXPECT_EQ(tail.data, "tail");
  ASSERT_EQ(ioctl(stack.get(), FIONREAD, &pending), 0);
  EXPECT_EQ(pending, 0);
  char probe;
  EXPECT_EQ(recv(stack.get(), &probe, 1, MSG_DONTWAIT), -1);
  EXPECT_EQ(errno, EAGAIN);
}

TEST_P(UdpTest, LargestDatagramAndEmsgsize) {
  SockAddr stack_addr, kernel_addr;
  ScopedFd stack = BoundStackUdp(&stack_addr);
  ScopedFd kernel = KernelUdp(&kernel_addr);
  // Even with the smallest send buffer the largest datagram goes out.
  const int tiny = 1;
  ASSERT_EQ(setsockopt(stack.get(), SOL_SOCKET, SO_SNDBUF, &tiny, sizeof(tiny)), 0);
  const size_t limit = Limit();
  const std::string too_big = Pattern(limit + 1, 4);
  EXPECT_EQ(sendto(stack.get(), too_big.data(), too_big.size(), 0, kernel_addr.get(),
                   kernel_addr.len),
            -1);
  EXPECT_EQ(errno, EMSGSIZE);
  const std::string largest = too_big.substr(0, limit);
  ASSERT_EQ(sendto(stack.get(), largest.data(), largest.size(), 0, kernel_addr.get(),
                   kernel_addr.len),
            static_cast<ssize_t>(limit))
      << std::strerror(errno);
  Datagram got = Receive(kernel.get(), 70000);
  ASSERT_EQ(got.n, static_cast<ssize_t>(limit)) << std::strerror(got.error);
  EXPECT_TRUE(got.data == largest) << "the largest datagram differs";
  ASSERT_EQ(sendto(kernel.get(), largest.data(), largest.size(), 0, stack_addr.get(),
                   stack_addr.len),
            static_cast<ssize_t>(limit));
  got = Receive(stack.get(), 70000);
  ASSERT_EQ(got.n, static_cast<ssize_t>(limit)) << std::strerror(got.error);
  EXPECT_TRUE(got.data == largest) << "the largest datagram differs";

  // Connected: the limit of the peer's family.
  ASSERT_EQ(connect(stack.get(), kernel_addr.get(), kernel_addr.len), 0);
  EXPECT_EQ(send(stack.get(), too_big.data(), too_big.size(), 0), -1);
  EXPECT_EQ(errno, EMSGSIZE);
  EXPECT_EQ(send(stack.get(), largest.data(), largest.size(), 0), static_cast<ssize_t>(limit));
}

TEST_P(UdpTest, PktInfoReportsTheLocalAddress) {
  SockAddr kernel_addr;
  ScopedFd kernel = KernelUdp(&kernel_addr);
  ScopedFd stack = StackUdp();
  const SockAddr any = MakeSockAddr(f().any_ip, 0);
  ASSERT_EQ(bind(stack.get(), any.get(), any.len), 0);
  absl::StatusOr<SockAddr> local = LocalName(stack.get());
  ASSERT_TRUE(local.ok());
  const int one = 1;
  const int level = f().domain == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
  const int name = f().domain == AF_INET ? IP_PKTINFO : IPV6_RECVPKTINFO;
  ASSERT_EQ(setsockopt(stack.get(), level, name, &one, sizeof(one)), 0) << std::strerror(errno);
  int value = 0;
  socklen_t value_len = sizeof(value);
  ASSERT_EQ(getsockopt(stack.get(), level, name, &value, &value_len), 0);
  EXPECT_EQ(value, 1);

  const SockAddr to = MakeSockAddr(f().stack_ip, local->port());
  ASSERT_EQ(sendto(kernel.get(), "info", 4, 0, to.get(), to.len), 4);
  ASSERT_NE(PollFor(stack.get(), POLLIN, kWait) & POLLIN, 0);
  char buf[16];
  iovec iov{buf, sizeof(buf)};
  alignas(cmsghdr) char control[256];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ASSERT_EQ(recvmsg(stack.get(), &msg, 0), 4) << std::strerror(errno);
  EXPECT_EQ(msg.msg_flags & MSG_CTRUNC, 0);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  ASSERT_NE(c, nullptr) << "no control message";
  char text[INET6_ADDRSTRLEN] = {};
  if (f().domain == AF_INET) {
    ASSERT_EQ(c->cmsg_level, IPPROTO_IP);
    ASSERT_EQ(c->cmsg_type, IP_PKTINFO);
    in_pktinfo info;
    std::memcpy(&info, CMSG_DATA(c), sizeof(info));
    inet_ntop(AF_INET, &info.ipi_addr, text, sizeof(text));
    EXPECT_GT(info.ipi_ifindex, 0);
  } else {
    ASSERT_EQ(c->cmsg_level, IPPROTO_IPV6);
    ASSERT_EQ(c->cmsg_type, IPV6_PKTINFO);
    in6_pktinfo info;
    std::memcpy(&info, CMSG_DATA(c), sizeof(info));
    inet_ntop(AF_INET6, &info.ipi6_addr, text, sizeof(text));
    EXPECT_GT(info.ipi6_ifindex, 0u);
  }
  EXPECT_EQ(std::string(text), std::string(f().stack_ip));
  EXPECT_EQ(CMSG_NXTHDR(&msg, c), nullptr);

  // No room for it: MSG_CTRUNC.
  ASSERT_EQ(sendto(kernel.get(), "more", 4, 0, to.get(), to.len), 4);
  ASSERT_NE(PollFor(stack.get(), POLLIN, kWait) & POLLIN, 0);
  msg.msg_control = nullptr;
  msg.msg_controllen = 0;
  ASSERT_EQ(recvmsg(stack.get(), &msg, 0), 4);
  EXPECT_NE(msg.msg_flags & MSG_CTRUNC, 0);

  // Turned off: no control message.
  const int zero = 0;
  ASSERT_EQ(setsockopt(stack.get(), level, name, &zero, sizeof(zero)), 0);
  ASSERT_EQ(sendto(kernel.get(), "none", 4, 0, to.get(), to.len), 4);
  ASSERT_NE(PollFor(stack.get(), POLLIN, kWait) & POLLIN, 0);
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ASSERT_EQ(recvmsg(stack.get(), &msg, 0), 4);
  EXPECT_EQ(msg.msg_controllen, 0u);
}

TEST_P(UdpTest, PktInfoOnSendChoosesTheSource) {
  SockAddr kernel_addr;
  ScopedFd kernel = KernelUdp(&kernel_addr);
  ScopedFd stack = StackUdp();
  char payload[] = "src";
  iovec iov{payload, 3};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  msghdr msg{};
  msg.msg_name = kernel_addr.get();
  msg.msg_namelen = kernel_addr.len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  cmsghdr* c = reinterpret_cast<cmsghdr*>(control);
  if (f().domain == AF_INET) {
    in_pktinfo info{};
    inet_pton(AF_INET, std::string(f().stack_ip).c_str(), &info.ipi_spec_dst);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(info));
    std::memcpy(CMSG_DATA(c), &info, sizeof(info));
    msg.msg_controllen = CMSG_SPACE(sizeof(info));
  } else {
    in6_pktinfo info{};
    inet_pton(AF_INET6, std::string(f().stack_ip).c_str(), &info.ipi6_addr);
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(info));
    std::memcpy(CMSG_DATA(c), &info, sizeof(info));
    msg.msg_controllen = CMSG_SPACE(sizeof(info));
  }
  ASSERT_EQ(sendmsg(stack.get(), &msg, 0), 3) << std::strerror(errno);
  Datagram got = Receive(kernel.get(), 10);
  EXPECT_EQ(got.data, "src");
  EXPECT_EQ(got.from.ip(), std::string(f().stack_ip));

  // SCM_RIGHTS is not for UDP: EINVAL, as Linux.
  int fds[1] = {0};
  alignas(cmsghdr) char rights[CMSG_SPACE(sizeof(fds))] = {};
  msg.msg_control = rights;
  msg.msg_controllen = sizeof(rights);
  c = reinterpret_cast<cmsghdr*>(rights);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(fds));
  std::memcpy(CMSG_DATA(c), fds, sizeof(fds));
  EXPECT_EQ(sendmsg(stack.get(), &msg, 0), -1);
  EXPECT_EQ(errno, EINVAL);
}

TEST_P(UdpTest, SendmmsgAndRecvmmsg) {
  SockAddr stack_addr, kernel_addr;
  ScopedFd stack = BoundStackUdp(&stack_addr);
  ScopedFd kernel = KernelUdp(&kernel_addr);
  // One round trip first: until the kernel's MAC address is known lwIP
  // queues only the last ARP_QUEUE_LEN (3) packets for it, and a burst
  // sent before that would lose the rest.
  ASSERT_EQ(sendto(stack.get(), "arp", 3, 0, kernel_addr.get(), kernel_addr.len), 3);
  ASSERT_EQ(Receive(kernel.get(), 10).data, "arp");
  constexpr int kCount = 8;
  std::vector<std::string> out;
  std::vector<iovec> iovs(kCount);
  std::vector<mmsghdr> msgs(kCount);
  for (int i = 0; i < kCount; ++i) {
    out.push_back(Pattern(100 + i, 10 + i));
    iovs[i] = iovec{out[i].data(), out[i].size()};
    msgs[i] = mmsghdr{};
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = kernel_addr.get();
    msgs[i].msg_hdr.msg_namelen = kernel_addr.len;
  }
  ASSERT_EQ(sendmmsg(stack.get(), msgs.data(), kCount, 0), kCount) << std::strerror(errno);
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(msgs[i].msg_len, out[i].size());
    Datagram got = Receive(kernel.get(), 1000);
    EXPECT_EQ(got.data, out[i]);
    ASSERT_EQ(sendto(kernel.get(), got.data.data(), got.data.size(), 0, stack_addr.get(),
                     stack_addr.len),
              static_cast<ssize_t>(got.data.size()));
  }
  std::vector<std::string> in(kCount, std::string(2000, '\0'));
  std::vector<sockaddr_storage> from(kCount);
  for (int i = 0; i < kCount; ++i) {
    iovs[i] = iovec{in[i].data(), in[i].size()};
    msgs[i] = mmsghdr{};
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &from[i];
    msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
  }
  // A blocking recvmmsg without MSG_WAITFORONE waits for all of them.
  timespec timeout{5, 0};
  ASSERT_EQ(recvmmsg(stack.get(), msgs.data(), kCount, 0, &timeout), kCount)
      << std::strerror(errno);
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(in[i].substr(0, msgs[i].msg_len), out[i]);
    EXPECT_EQ(msgs[i].msg_hdr.msg_namelen, kernel_addr.len);
  }
  // Nothing left: a non-blocking call fails with EAGAIN.
  EXPECT_EQ(recvmmsg(stack.get(), msgs.data(), kCount, MSG_DONTWAIT, nullptr), -1);
  EXPECT_EQ(errno, EAGAIN);
}

TEST_P(UdpTest, ReadinessUnderPollAndEpoll) {
  SockAddr stack_addr, kernel_addr;
  ScopedFd stack = BoundStackUdp(&stack_addr);
  ScopedFd kernel = KernelUdp(&kernel_addr);
  pollfd p{stack.get(), POLLIN | POLLOUT, 0};
  ASSERT_EQ(poll(&p, 1, 0), 1);
  EXPECT_EQ(p.revents, POLLOUT) << "writable, nothing to read";

  ScopedFd ep(epoll_create1(EPOLL_CLOEXEC));
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.fd = stack.get();
  ASSERT_EQ(epoll_ctl(ep.get(), EPOLL_CTL_ADD, stack.get(), &ev), 0);
  epoll_event out[4];
  EXPECT_EQ(epoll_wait(ep.get(), out, 4, 0), 0);
  ASSERT_EQ(sendto(kernel.get(), "ready", 5, 0, stack_addr.get(), stack_addr.len), 5);
  ASSERT_EQ(epoll_wait(ep.get(), out, 4, 5000), 1);
  EXPECT_NE(out[0].events & EPOLLIN, 0u);
  char buf[16];
  EXPECT_EQ(recv(stack.get(), buf, sizeof(buf), MSG_DONTWAIT), 5);
  p.revents = 0;
  ASSERT_EQ(poll(&p, 1, 0), 1);
  EXPECT_EQ(p.revents, POLLOUT) << "read empty again";
}

TEST_P(UdpTest, OptionsAsLinux) {
  ScopedFd stack = StackUdp();
  auto get = [&](int level, int name) {
    int v = -1;
    socklen_t len = sizeof(v);
    EXPECT_EQ(getsockopt(stack.get(), level, name, &v, &len), 0)
        << level << "/" << name << ": " << std::strerror(errno);
    return v;
  };
  EXPECT_EQ(get(SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
  EXPECT_EQ(get(SOL_SOCKET, SO_PROTOCOL), IPPROTO_UDP);
  EXPECT_EQ(get(SOL_SOCKET, SO_DOMAIN), f().domain);
  EXPECT_EQ(get(SOL_SOCKET, SO_ERROR), 0);
  EXPECT_EQ(get(SOL_SOCKET, SO_BROADCAST), 0);
  const int one = 1;
  ASSERT_EQ(setsockopt(stack.get(), SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)), 0);
  EXPECT_EQ(get(SOL_SOCKET, SO_BROADCAST), 1);
  ASSERT_EQ(setsockopt(stack.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
  EXPECT_EQ(get(SOL_SOCKET, SO_REUSEADDR), 1);
  const int size = 65536;
  ASSERT_EQ(setsockopt(stack.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)), 0);
  EXPECT_EQ(get(SOL_SOCKET, SO_RCVBUF), 2 * size);
  ASSERT_EQ(setsockopt(stack.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)), 0);
  EXPECT_EQ(get(SOL_SOCKET, SO_SNDBUF), 2 * size);
  EXPECT_EQ(listen(stack.get(), 1), -1);
  EXPECT_EQ(errno, EOPNOTSUPP);
  EXPECT_EQ(accept(stack.get(), nullptr, nullptr), -1);
  EXPECT_EQ(errno, EOPNOTSUPP);
  if (f().domain == AF_INET6) {
    EXPECT_EQ(get(IPPROTO_IPV6, IPV6_V6ONLY), 0);
    ASSERT_EQ(setsockopt(stack.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)), 0);
    EXPECT_EQ(get(IPPROTO_IPV6, IPV6_V6ONLY), 1);
  } else {
    int v;
    socklen_t len = sizeof(v);
    EXPECT_EQ(getsockopt(stack.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v, &len), -1);
    EXPECT_EQ(errno, EOPNOTSUPP);  // As ip_getsockopt answers a foreign level.
  }
  // A one-byte IPPROTO_IP value, as Linux takes it.
  const unsigned char ttl = 7;
  ASSERT_EQ(setsockopt(stack.get(), IPPROTO_IP, IP_MULTICAST_TTL, &ttl, 1), 0)
      << std::strerror(errno);
  EXPECT_EQ(get(IPPROTO_IP, IP_MULTICAST_TTL), 7);
}

TEST_P(UdpTest, DualStackSocketReachesIpv4) {
  if (f().domain != AF_INET6) GTEST_SKIP() << "AF_INET6 only";
  absl::StatusOr<ScopedFd> kernel = KernelSocket(bed_->netns(), AF_INET, SOCK_DGRAM);
  ASSERT_TRUE(kernel.ok());
  const SockAddr kany = MakeSockAddr(kIpv4.kernel_ip, 0);
  ASSERT_EQ(bind(kernel->get(), kany.get(), kany.len), 0);
  absl::StatusOr<SockAddr> kernel_addr = LocalName(kernel->get());
  ASSERT_TRUE(kernel_addr.ok());
  ScopedFd stack = StackUdp();
  const SockAddr any = MakeSockAddr("::", 0);
  ASSERT_EQ(bind(stack.get(), any.get(), any.len), 0);
  // An AF_INET address on an AF_INET6 socket, as Linux takes it.
  ASSERT_EQ(sendto(stack.get(), "v4", 2, 0, kernel_addr->get(), kernel_addr->len), 2)
      << std::strerror(errno);
  Datagram got = Receive(kernel->get(), 10);
  ASSERT_EQ(got.data, "v4");
  ASSERT_EQ(sendto(kernel->get(), "back", 4, 0, got.from.get(), got.from.len), 4);
  Datagram back = Receive(stack.get(), 10);
  EXPECT_EQ(back.data, "back");
  EXPECT_EQ(back.from.family(), AF_INET6);
  EXPECT_EQ(back.from.ip(), "::ffff:" + std::string(kIpv4.kernel_ip));
}

INSTANTIATE_TEST_SUITE_P(Families, UdpTest, ::testing::Values(kIpv4, kIpv6), FamilyName());

}  // namespace
}  // namespace stackd::testbed
