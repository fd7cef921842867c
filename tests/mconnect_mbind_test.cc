// mconnect and mbind through stackd, against kernel servers in the test
// bed's namespace: the race wins on the server that answers, and no losing
// server ever completes a handshake (counted on the kernel side, where
// accept queues and SYN-RECV/ESTABLISHED sockets show it); one fd listens
// on many address:port pairs and every accepted connection knows which one
// the client dialled.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/msocket.h"
#include "gtest/gtest.h"
#include "tests/admin_client.h"
#include "tests/netns_peer.h"
#include "tests/testbed.h"

namespace stackd::testbed {
namespace {

constexpr absl::Duration kIoTimeout = absl::Seconds(10);
constexpr uint16_t kClosedPort = 1;   // Nobody listens: the kernel sends RST.
constexpr uint16_t kSilentPort = 19;  // SYNs dropped by nftables.

class MconnectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto bed = Testbed::Create();
    ASSERT_TRUE(bed.ok()) << bed.status();
    bed_ = std::move(*bed);
  }

  ScopedFd StackSocket(int domain) {
    int fd = msocket(bed_->stack_path().c_str(), domain, SOCK_STREAM, 0);
    EXPECT_GE(fd, 0) << std::strerror(errno);
    timeval tv = absl::ToTimeval(kIoTimeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return ScopedFd(fd);
  }

  // How many connections wait in a kernel listener's accept queue (taken
  // off it, so a second call counts only new ones).
  int AcceptAll(int listener) {
    int flags = fcntl(listener, F_GETFL);
    fcntl(listener, F_SETFL, flags | O_NONBLOCK);
    int count = 0;
    for (;;) {
      int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
      if (fd < 0) break;
      close(fd);
      ++count;
    }
    return count;
  }

  // Kernel TCP sockets in the namespace on `port` in the given states.
  std::string KernelSockets(uint16_t port, const std::string& states) {
    CommandResult r = bed_->Run(
        absl::StrCat("ss -Htan state ", states, " '( sport = :", port, " )'"),
        absl::Seconds(5));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  std::unique_ptr<Testbed> bed_;
};

struct Vector {
  std::vector<SockAddr> addrs;
  std::vector<const sockaddr*> ptrs;
  std::vector<socklen_t> lens;
  void Add(const SockAddr& a) {
    addrs.push_back(a);
  }
  void Seal() {
    for (const auto& a : addrs) {
      ptrs.push_back(a.get());
      lens.push_back(a.len);
    }
  }
  int size() const { return static_cast<int>(addrs.size()); }
};

TEST_F(MconnectTest, WinsOnTheListeningServerAndNoOtherServerAccepts) {
  ASSERT_TRUE(AddNftRule(*bed_, "input", absl::StrCat("tcp dport ", kSilentPort, " drop")).ok());
  SockAddr listening;
  auto listener = KernelListener(bed_->netns(), kKernelIp4, 16, &listening);
  ASSERT_TRUE(listener.ok()) << listener.status();

  Vector v;
  v.Add(MakeSockAddr(kKernelIp4, kClosedPort));
  v.Add(MakeSockAddr(kKernelIp4, kSilentPort));
  v.Add(listening);
  v.Seal();
  ScopedFd fd = StackSocket(AF_INET);
  ASSERT_EQ(mconnect(fd.get(), v.ptrs.data(), v.lens.data(), v.size()), 2)
      << std::strerror(errno);
  auto peer = PeerName(fd.get());
  ASSERT_TRUE(peer.ok());
  EXPECT_EQ(peer->ToString(), listening.ToString());

  // Data flows on the winner.
  ASSERT_EQ(PollFor(listener->get(), POLLIN, kIoTimeout) & POLLIN, POLLIN);
  ScopedFd accepted(accept(listener->get(), nullptr, nullptr));
  ASSERT_GE(accepted.get(), 0);
  ASSERT_TRUE(SendAll(fd.get(), "ping", absl::Now() + kIoTimeout).ok());
  auto got = RecvExactly(accepted.get(), 4, absl::Now() + kIoTimeout);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "ping");

  // Exactly one connection in total; nothing half-open anywhere else.
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(AcceptAll(listener->get()), 0);
  EXPECT_EQ(KernelSockets(kSilentPort, "syn-recv"), "");
  EXPECT_EQ(KernelSockets(kSilentPort, "established"), "");
  EXPECT_EQ(KernelSockets(kClosedPort, "syn-recv"), "");
  EXPECT_EQ(KernelSockets(kClosedPort, "established"), "");
}

TEST_F(MconnectTest, LateServerAcceptsNothing) {
  SockAddr early, late;
  auto early_listener = KernelListener(bed_->netns(), kKernelIp4, 16, &early);
  auto late_listener = KernelListener(bed_->netns(), kKernelIp4, 16, &late);
  ASSERT_TRUE(early_listener.ok() && late_listener.ok());
  // The late server's SYN+ACKs are held back until the race is over.
  ASSERT_TRUE(AddNftRule(*bed_, "output",
                         absl::StrCat("tcp sport ", late.port(), " tcp flags & (syn|ack) == (syn|ack) drop"))
                  .ok());
  Vector v;
  v.Add(late);
  v.Add(early);
  v.Seal();
  ScopedFd fd = StackSocket(AF_INET);
  ASSERT_EQ(mconnect(fd.get(), v.ptrs.data(), v.lens.data(), v.size()), 1)
      << std::strerror(errno);
  // Let the late server's SYN+ACK through now: its retransmission meets a
  // stack that answers RST.
  ASSERT_TRUE(ClearNftRules(*bed_).ok());
  absl::SleepFor(absl::Milliseconds(2500));
  EXPECT_EQ(AcceptAll(late_listener->get()), 0);
  EXPECT_EQ(KernelSockets(late.port(), "syn-recv"), "");
  EXPECT_EQ(KernelSockets(late.port(), "established"), "");
  EXPECT_EQ(AcceptAll(early_listener->get()), 1);
}

TEST_F(MconnectTest, MixesIpv4AndIpv6OnADualStackSocket) {
  SockAddr v6;
  auto listener6 = KernelListener(bed_->netns(), kKernelIp6, 16, &v6);
  ASSERT_TRUE(listener6.ok());
  Vector v;
  v.Add(MakeSockAddr(kKernelIp4, kClosedPort));  // sockaddr_in on AF_INET6.
  v.Add(v6);
  v.Seal();
  ScopedFd fd = StackSocket(AF_INET6);
  ASSERT_EQ(mconnect(fd.get(), v.ptrs.data(), v.lens.data(), v.size()), 1)
      << std::strerror(errno);
  auto peer = PeerName(fd.get());
  ASSERT_TRUE(peer.ok());
  EXPECT_EQ(peer->ip(), kKernelIp6);

  // And an IPv4 winner on the same kind of socket is reported IPv4-mapped.
  SockAddr v4;
  auto listener4 = KernelListener(bed_->netns(), kKernelIp4, 16, &v4);
  ASSERT_TRUE(listener4.ok());
  Vector w;
  w.Add(MakeSockAddr(kKernelIp6, kClosedPort));
  w.Add(v4);
  w.Seal();
  ScopedFd fd2 = StackSocket(AF_INET6);
  ASSERT_EQ(mconnect(fd2.get(), w.ptrs.data(), w.lens.data(), w.size()), 1)
      << std::strerror(errno);
  peer = PeerName(fd2.get());
  ASSERT_TRUE(peer.ok());
  EXPECT_EQ(peer->ip(), absl::StrCat("::ffff:", kKernelIp4));
}

TEST_F(MconnectTest, AllRefusedFailsWithTheLastError) {
  Vector v;
  v.Add(MakeSockAddr(kKernelIp4, kClosedPort));
  v.Add(MakeSockAddr(kKernelIp4, kClosedPort + 1));
  v.Seal();
  ScopedFd fd = StackSocket(AF_INET);
  EXPECT_EQ(mconnect(fd.get(), v.ptrs.data(), v.lens.data(), v.size()), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
}

TEST_F(MconnectTest, NonBlockingRaceShowsCandidatesThenTimesOut) {
  ASSERT_TRUE(AddNftRule(*bed_, "input", "tcp dport { 19, 20 } drop").ok());
  Vector v;
  v.Add(MakeSockAddr(kKernelIp4, 19));
  v.Add(MakeSockAddr(kKernelIp4, 20));
  v.Seal();
  int fd = msocket(bed_->stack_path().c_str(), AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  ASSERT_GE(fd, 0);
  ScopedFd owned(fd);
  mconnect_opts opts{};
  opts.timeout_ms = 1500;
  ASSERT_EQ(mconnectx(fd, v.ptrs.data(), v.lens.data(), v.size(), &opts), -1);
  ASSERT_EQ(errno, EINPROGRESS);
  EXPECT_EQ(PollFor(fd, POLLOUT, absl::Milliseconds(300)) & POLLOUT, 0);

  auto sockets = ListSockets(bed_->grpc_endpoint());
  ASSERT_TRUE(sockets.ok()) << sockets.status();
  int racing = 0;
  for (const auto& s : *sockets) {
    if (s.state() == "connecting") racing = s.candidates_size();
  }
  EXPECT_EQ(racing, 2);

  ASSERT_NE(PollFor(fd, POLLOUT, absl::Seconds(5)) & POLLOUT, 0);
  int error = 0;
  socklen_t len = sizeof(error);
  ASSERT_EQ(getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len), 0);
  EXPECT_EQ(error, ETIMEDOUT);
}

TEST_F(MconnectTest, RejectsBadVectors) {
  ScopedFd fd = StackSocket(AF_INET);
  EXPECT_EQ(mconnect(fd.get(), nullptr, nullptr, 0), -1);
  EXPECT_EQ(errno, EINVAL);
  SockAddr v6 = MakeSockAddr(kKernelIp6, 80);
  const sockaddr* p[] = {v6.get()};
  socklen_t l[] = {v6.len};
  EXPECT_EQ(mconnect(fd.get(), p, l, 1), -1);
  EXPECT_EQ(errno, EAFNOSUPPORT);
  int kernel_fd = socket(AF_INET, SOCK_STREAM, 0);
  ScopedFd kernel(kernel_fd);
  EXPECT_EQ(mconnect(kernel_fd, p, l, 1), -1);
  EXPECT_EQ(errno, EOPNOTSUPP);
}

// mconnect_host: the name resolves through the socket's own stack (dnsmasq
// in the namespace, stackd --dns), and the race runs over every address.
TEST(MconnectHostTest, ResolvesThroughTheStackAndRaces) {
  Testbed::Options options;
  options.extra_stackd_flags = {absl::StrCat("--dns=", kKernelIp4)};
  auto bed = Testbed::Create(options);
  ASSERT_TRUE(bed.ok()) << bed.status();
  const std::string pid_file = (*bed)->dir() + "/dnsmasq.pid";
  CommandResult started = (*bed)->Run(
      absl::StrCat("/usr/sbin/dnsmasq --no-resolv --no-hosts --bind-interfaces --listen-address=",
                   kKernelIp4, " --local=/test/ --host-record=race.test,", kKernelIp4, ",", kKernelIp6,
                   " --pid-file=", pid_file),
      absl::Seconds(10));
  ASSERT_EQ(started.exit_code, 0) << started.err;
  struct KillDnsmasq {
    std::string pid_file;
    ~KillDnsmasq() { system(absl::StrCat("kill $(cat ", pid_file, ") 2>/dev/null").c_str()); }
  } kill_dnsmasq{pid_file};

  // Only the IPv6 address listens on the port; IPv4 refuses.
  SockAddr v6;
  auto listener = KernelListener((*bed)->netns(), kKernelIp6, 16, &v6);
  ASSERT_TRUE(listener.ok());
  int fd = msocket((*bed)->stack_path().c_str(), AF_INET6, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  ScopedFd owned(fd);
  timeval tv = absl::ToTimeval(kIoTimeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  const std::string port = std::to_string(v6.port());
  int winner = -1;
  // dnsmasq may take a moment to answer: a bounded retry on EAGAIN.
  for (int i = 0; i < 20; ++i) {
    winner = mconnect_host(fd, "race.test", port.c_str(), nullptr);
    if (winner >= 0 || errno != EAGAIN) break;
    absl::SleepFor(absl::Milliseconds(250));
  }
  ASSERT_GE(winner, 0) << std::strerror(errno);
  auto peer = PeerName(fd);
  ASSERT_TRUE(peer.ok());
  EXPECT_EQ(peer->ToString(), v6.ToString());

  int other = msocket((*bed)->stack_path().c_str(), AF_INET6, SOCK_STREAM, 0);
  ScopedFd other_owned(other);
  EXPECT_EQ(mconnect_host(other, "missing.test", port.c_str(), nullptr), -1);
  EXPECT_EQ(errno, ENOENT);
}

// mbind: two IPv4 pairs (one a wildcard), two IPv6 pairs, two ports.
TEST_F(MconnectTest, MbindListensOnFourPairsThroughOneFd) {
  constexpr uint16_t kPortA = 7101, kPortB = 7102;
  Vector v;
  v.Add(MakeSockAddr(kStackIp4, kPortA));
  v.Add(MakeSockAddr("0.0.0.0", kPortB));
  v.Add(MakeSockAddr(kStackIp6, kPortA));
  v.Add(MakeSockAddr(kStackIp6, kPortB));
  v.Seal();
  ScopedFd fd = StackSocket(AF_INET6);
  ASSERT_EQ(mbind(fd.get(), v.ptrs.data(), v.lens.data(), v.size()), 0) << std::strerror(errno);
  ASSERT_EQ(listen(fd.get(), 64), 0) << std::strerror(errno);

  auto sockets = ListSockets(bed_->grpc_endpoint());
  ASSERT_TRUE(sockets.ok());
  int listening_addresses = 0;
  for (const auto& s : *sockets) {
    if (s.state() == "listening") listening_addresses = s.local_size();
  }
  EXPECT_EQ(listening_addresses, 4);

  // What a dual-stack socket reports for each target.
  const std::string targets[] = {
      absl::StrCat("[::ffff:", kStackIp4, "]:", kPortA),
      absl::StrCat("[::ffff:", kStackIp4, "]:", kPortB),
      absl::StrCat("[", kStackIp6, "]:", kPortA),
      absl::StrCat("[", kStackIp6, "]:", kPortB),
  };
  const SockAddr dial[] = {
      MakeSockAddr(kStackIp4, kPortA), MakeSockAddr(kStackIp4, kPortB),
      MakeSockAddr(kStackIp6, kPortA), MakeSockAddr(kStackIp6, kPortB)};
  constexpr int kConnections = 1000;
  constexpr int kBatch = 50;
  int right = 0;
  std::map<int, int> per_target;
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  for (int done = 0; done < kConnections && absl::Now() < deadline; done += kBatch) {
    // Each client names its target in its first byte: clients of one batch
    // may share a local port (different destinations), so the peer address
    // alone cannot tell them apart.
    std::vector<ScopedFd> clients;
    for (int i = 0; i < kBatch; ++i) {
      const char t = static_cast<char>((done + i) % 4);
      auto c = KernelConnect(bed_->netns(), dial[static_cast<int>(t)], kIoTimeout);
      ASSERT_TRUE(c.ok()) << c.status();
      ASSERT_TRUE(SendAll(c->get(), std::string(1, t), absl::Now() + kIoTimeout).ok());
      clients.push_back(std::move(*c));
    }
    for (int i = 0; i < kBatch; ++i) {
      ASSERT_NE(PollFor(fd.get(), POLLIN, kIoTimeout) & POLLIN, 0);
      ScopedFd a(accept(fd.get(), nullptr, nullptr));
      ASSERT_GE(a.get(), 0) << std::strerror(errno);
      auto local = LocalName(a.get());
      ASSERT_TRUE(local.ok());
      auto t = RecvExactly(a.get(), 1, absl::Now() + kIoTimeout);
      ASSERT_TRUE(t.ok()) << t.status();
      const int target = (*t)[0];
      ASSERT_TRUE(target >= 0 && target < 4);
      if (local->ToString() == targets[target]) ++right;
      ++per_target[target];
    }
  }
  EXPECT_EQ(right, kConnections);
  for (int t = 0; t < 4; ++t) EXPECT_EQ(per_target[t], kConnections / 4) << targets[t];

  // Closing the fd closes every listener.
  fd.reset();
  absl::SleepFor(absl::Milliseconds(200));
  for (const SockAddr& d : dial) {
    auto c = KernelConnect(bed_->netns(), d, kIoTimeout);
    EXPECT_EQ(ErrnoOf(c.status()), ECONNREFUSED) << d.ToString();
  }
}

// mbind on UDP: one socket receives on every pair, and IP_PKTINFO /
// IPV6_PKTINFO say which local address each datagram reached.
TEST_F(MconnectTest, MbindUdpReceivesOnEveryPairWithPktinfo) {
  constexpr uint16_t kPortA = 7301, kPortB = 7302;
  int fd = msocket(bed_->stack_path().c_str(), AF_INET6, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  ScopedFd owned(fd);
  int one = 1;
  ASSERT_EQ(setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)), 0) << std::strerror(errno);
  ASSERT_EQ(setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)), 0)
      << std::strerror(errno);
  const SockAddr pairs[] = {MakeSockAddr(kStackIp4, kPortA), MakeSockAddr(kStackIp6, kPortB)};
  const sockaddr* p[] = {pairs[0].get(), pairs[1].get()};
  const socklen_t l[] = {pairs[0].len, pairs[1].len};
  ASSERT_EQ(mbind(fd, p, l, 2), 0) << std::strerror(errno);

  for (int i = 0; i < 2; ++i) {
    auto sender = KernelSocket(bed_->netns(), pairs[i].family(), SOCK_DGRAM);
    ASSERT_TRUE(sender.ok());
    const std::string payload = absl::StrCat("to pair ", i);
    ASSERT_EQ(sendto(sender->get(), payload.data(), payload.size(), 0, pairs[i].get(), pairs[i].len),
              static_cast<ssize_t>(payload.size()));
    ASSERT_NE(PollFor(fd, POLLIN, kIoTimeout) & POLLIN, 0);
    char buf[256];
    alignas(cmsghdr) char control[256];
    iovec iov{buf, sizeof(buf)};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = recvmsg(fd, &msg, 0);
    ASSERT_EQ(n, static_cast<ssize_t>(payload.size())) << std::strerror(errno);
    EXPECT_EQ(std::string(buf, n), payload);
    std::string local;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      char text[INET6_ADDRSTRLEN] = "";
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof(info));
        inet_ntop(AF_INET, &info.ipi_addr, text, sizeof(text));
        local = text;
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO && local.empty()) {
        in6_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof(info));
        inet_ntop(AF_INET6, &info.ipi6_addr, text, sizeof(text));
        local = text;
      }
    }
    const std::string want = pairs[i].ip();
    EXPECT_TRUE(local == want || local == absl::StrCat("::ffff:", want)) << local;
  }
}

TEST_F(MconnectTest, MbindIsAllOrNothing) {
  constexpr uint16_t kTaken = 7201, kFree = 7202;
  ScopedFd holder = StackSocket(AF_INET);
  SockAddr taken = MakeSockAddr(kStackIp4, kTaken);
  ASSERT_EQ(bind(holder.get(), taken.get(), taken.len), 0);
  ASSERT_EQ(listen(holder.get(), 4), 0);

  Vector v;
  v.Add(MakeSockAddr(kStackIp4, kFree));
  v.Add(taken);
  v.Seal();
  ScopedFd fd = StackSocket(AF_INET);
  EXPECT_EQ(mbind(fd.get(), v.ptrs.data(), v.lens.data(), v.size()), -1);
  EXPECT_EQ(errno, EADDRINUSE);
  // Nothing stayed bound: the free pair is free, for this socket too.
  ScopedFd other = StackSocket(AF_INET);
  SockAddr free_pair = MakeSockAddr(kStackIp4, kFree);
  EXPECT_EQ(bind(other.get(), free_pair.get(), free_pair.len), 0) << std::strerror(errno);
  auto name = LocalName(fd.get());
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(name->port(), 0);

  EXPECT_EQ(mbind(fd.get(), nullptr, nullptr, 0), -1);
  EXPECT_EQ(errno, EINVAL);
  SockAddr v6 = MakeSockAddr(kStackIp6, kFree);
  const sockaddr* p[] = {v6.get()};
  socklen_t l[] = {v6.len};
  EXPECT_EQ(mbind(fd.get(), p, l, 1), -1);
  EXPECT_EQ(errno, EAFNOSUPPORT);
}

}  // namespace
}  // namespace stackd::testbed
