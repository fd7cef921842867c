// A stack UDP socket that does not read while a kernel peer sends it a
// burst of 10,000 datagrams: what its receive buffer cannot hold is dropped
// as Linux drops it, counted in ListSockets (rx_dropped), and stackd's
// memory does not grow with the burst (VmRSS before and after). What was
// kept is intact, and the socket receives again once drained.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/msocket.h"
#include "gtest/gtest.h"
#include "proto/admin.pb.h"
#include "tests/admin_client.h"
#include "tests/netns_peer.h"
#include "tests/testbed.h"

namespace stackd::testbed {
namespace {

constexpr int kBurst = 10000;
constexpr size_t kSize = 1400;
// Datagrams sent before a short pause, so that the TAP's own queue (not
// the socket's buffer) never overflows: the count must add up.
constexpr int kPaceEvery = 50;
// "A few MiB": far below the 13.4 MiB the burst carries.
constexpr int64_t kMaxRssGrowthKib = 4 * 1024;

// VmRSS of process `pid` in KiB, or -1.
int64_t RssKib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) != 0) continue;
    std::vector<std::string> parts =
        absl::StrSplit(line, ' ', absl::SkipWhitespace());
    int64_t kib = -1;
    if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kib)) return kib;
  }
  return -1;
}

// The stack's entry for the UDP socket bound to `local`, if any.
absl::StatusOr<admin::v1::Socket> FindSocket(const Testbed& bed, const std::string& local) {
  absl::StatusOr<std::vector<admin::v1::Socket>> all = ListSockets(bed.grpc_endpoint());
  if (!all.ok()) return all.status();
  for (const admin::v1::Socket& s : *all) {
    for (const std::string& l : s.local()) {
      if (s.protocol() == "udp" && l == local) return s;
    }
  }
  return absl::NotFoundError(absl::StrCat("no udp socket on ", local));
}

class UdpOverflowTest : public TcpTest, public ::testing::WithParamInterface<Family> {};

TEST_P(UdpOverflowTest, UndrainedBurstIsDroppedAndCounted) {
  const Family& f = GetParam();
  ScopedFd stack(StackSocket(f.domain, SOCK_DGRAM));
  ASSERT_GE(stack.get(), 0) << std::strerror(errno);
  const SockAddr any = MakeSockAddr(f.stack_ip, 0);
  ASSERT_EQ(bind(stack.get(), any.get(), any.len), 0) << std::strerror(errno);
  absl::StatusOr<SockAddr> addr = LocalName(stack.get());
  ASSERT_TRUE(addr.ok()) << addr.status();
  absl::StatusOr<ScopedFd> kernel = KernelSocket(bed_->netns(), f.domain, SOCK_DGRAM);
  ASSERT_TRUE(kernel.ok()) << kernel.status();

  absl::StatusOr<admin::v1::Socket> before = FindSocket(*bed_, addr->ToString());
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->rx_dropped(), 0u);
  EXPECT_EQ(before->state(), "bound");
  // Warm up stackd's allocator with datagrams the application reads, so
  // that RSS measures the burst and not first use.
  std::string payload(kSize, 'w');
  std::string buf(2 * kSize, '\0');
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(sendto(kernel->get(), payload.data(), payload.size(), 0, addr->get(), addr->len),
              static_cast<ssize_t>(kSize));
    ASSERT_NE(PollFor(stack.get(), POLLIN, absl::Seconds(5)) & POLLIN, 0);
    ASSERT_EQ(recv(stack.get(), buf.data(), buf.size(), 0), static_cast<ssize_t>(kSize));
  }
  const uint64_t warm_bytes = 200 * kSize;
  const int64_t rss_before = RssKib(bed_->stackd_pid());
  ASSERT_GT(rss_before, 0);

  for (int i = 0; i < kBurst; ++i) {
    std::memcpy(payload.data(), &i, sizeof(i));
    ASSERT_EQ(sendto(kernel->get(), payload.data(), payload.size(), 0, addr->get(), addr->len),
              static_cast<ssize_t>(kSize))
        << std::strerror(errno);
    if (i % kPaceEvery == kPaceEvery - 1) absl::SleepFor(absl::Microseconds(500));
  }
  // Wait until stackd has seen the whole burst: delivered + dropped.
  admin::v1::Socket after;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (true) {
    absl::StatusOr<admin::v1::Socket> s = FindSocket(*bed_, addr->ToString());
    ASSERT_TRUE(s.ok()) << s.status();
    after = *s;
    if ((after.bytes_in() - warm_bytes) / kSize + after.rx_dropped() >= kBurst) break;
    ASSERT_LT(absl::Now(), deadline)
        << "stackd saw " << (after.bytes_in() - warm_bytes) / kSize << " delivered and "
        << after.rx_dropped() << " dropped of " << kBurst;
    absl::SleepFor(absl::Milliseconds(20));
  }
  const int64_t rss_after = RssKib(bed_->stackd_pid());
  const uint64_t delivered = (after.bytes_in() - warm_bytes) / kSize;
  std::printf("[ info ] %s: %d datagrams of %zu bytes: %" PRIu64 " kept, %" PRIu64
              " dropped; stackd VmRSS %" PRId64 " KiB -> %" PRId64 " KiB\n",
              f.name, kBurst, kSize, delivered, after.rx_dropped(), rss_before, rss_after);
  std::fflush(stdout);
  EXPECT_GT(after.rx_dropped(), 0u);
  EXPECT_EQ(delivered + after.rx_dropped(), static_cast<uint64_t>(kBurst));
  EXPECT_GT(after.rx_queued(), 0u);
  EXPECT_LT(rss_after - rss_before, kMaxRssGrowthKib) << "stackd grew with the burst";

  // What was kept is intact and in order; then the socket is empty.
  uint64_t drained = 0;
  int last = -1;
  for (;;) {
    const ssize_t n = recv(stack.get(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      EXPECT_EQ(errno, EAGAIN);
      break;
    }
    ASSERT_EQ(n, static_cast<ssize_t>(kSize));
    int seq;
    std::memcpy(&seq, buf.data(), sizeof(seq));
    EXPECT_GT(seq, last);
    last = seq;
    EXPECT_EQ(buf.substr(sizeof(seq), kSize - sizeof(seq)),
              std::string(kSize - sizeof(seq), 'w'));
    ++drained;
  }
  EXPECT_EQ(drained, delivered);

  // Drained, it receives again.
  ASSERT_EQ(sendto(kernel->get(), "again", 5, 0, addr->get(), addr->len), 5);
  ASSERT_NE(PollFor(stack.get(), POLLIN, absl::Seconds(5)) & POLLIN, 0);
  EXPECT_EQ(recv(stack.get(), buf.data(), buf.size(), 0), 5);
  absl::StatusOr<admin::v1::Socket> last_state = FindSocket(*bed_, addr->ToString());
  ASSERT_TRUE(last_state.ok());
  EXPECT_EQ(last_state->rx_dropped(), after.rx_dropped());
  EXPECT_EQ(last_state->rx_queued(), 0u);
}

TEST_P(UdpOverflowTest, ClosingTheSocketRemovesIt) {
  const Family& f = GetParam();
  ScopedFd stack(StackSocket(f.domain, SOCK_DGRAM));
  ASSERT_GE(stack.get(), 0);
  const SockAddr any = MakeSockAddr(f.stack_ip, 0);
  ASSERT_EQ(bind(stack.get(), any.get(), any.len), 0);
  absl::StatusOr<SockAddr> addr = LocalName(stack.get());
  ASSERT_TRUE(addr.ok());
  const int copy = dup(stack.get());
  ASSERT_TRUE(FindSocket(*bed_, addr->ToString()).ok());
  stack.reset();
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_TRUE(FindSocket(*bed_, addr->ToString()).ok()) << "a copy of the fd is still open";
  close(copy);
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (FindSocket(*bed_, addr->ToString()).ok()) {
    ASSERT_LT(absl::Now(), deadline) << "the socket outlived its last fd";
    absl::SleepFor(absl::Milliseconds(20));
  }
  // Its port is free again.
  ScopedFd again(StackSocket(f.domain, SOCK_DGRAM));
  ASSERT_GE(again.get(), 0);
  EXPECT_EQ(bind(again.get(), addr->get(), addr->len), 0) << std::strerror(errno);
}

INSTANTIATE_TEST_SUITE_P(Families, UdpOverflowTest, ::testing::Values(kIpv4, kIpv6),
                         FamilyName());

}  // namespace
}  // namespace stackd::testbed
