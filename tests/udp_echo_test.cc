// 100,000 datagrams of random sizes, up to the largest the family takes,
// from a stack UDP socket to a kernel UDP echo server in the test bed's
// namespace and back, over IPv4 and over IPv6. Every echo is checked
// against what was sent (its sequence number, size and a checksum of its
// bytes), and its source against the server's address.
//
// A window bounds what is in flight (datagrams and bytes), so no buffer on
// the way has to drop anything: on the TAP, with no loss injected, none is
// expected. A datagram whose echo does not come back in time is sent again,
// a bounded number of times; the test reports how many were resent and
// fails if that is more than one in a thousand, or if any datagram never
// comes back intact.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <deque>
#include <string>
#include <thread>
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

constexpr uint32_t kDatagrams = 100000;
constexpr size_t kMinSize = 8;  // Room for the sequence number.
constexpr size_t kWindowDatagrams = 16;
constexpr size_t kWindowBytes = 256 * 1024;
constexpr absl::Duration kResendAfter = absl::Milliseconds(500);
constexpr int kMaxResends = 5;
constexpr absl::Duration kBudget = absl::Seconds(120);

uint64_t Fnv(const void* data, size_t len) {
  uint64_t h = 0xcbf29ce484222325ULL;
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < len; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

// Datagram `seq`: its sequence number, then pattern bytes of its own.
void FillDatagram(uint32_t seq, size_t size, std::string* out) {
  out->resize(size);
  const uint64_t tag = seq;
  std::memcpy(out->data(), &tag, sizeof(tag));
  PatternSource(0xd47a0000ULL + seq).Fill(out->data() + sizeof(tag), size - sizeof(tag));
}

// A kernel UDP echo server on its own thread, until Stop().
class KernelEcho {
 public:
  explicit KernelEcho(ScopedFd fd) : fd_(std::move(fd)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~KernelEcho() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t echoed() const { return echoed_; }
  int error() const { return error_; }

 private:
  void Run() {
    std::vector<char> buf(70000);
    while (!stop_) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      for (;;) {
        sockaddr_storage from;
        socklen_t from_len = sizeof(from);
        const ssize_t n = recvfrom(fd_.get(), buf.data(), buf.size(), MSG_DONTWAIT,
                                   reinterpret_cast<sockaddr*>(&from), &from_len);
        if (n < 0) {
          if (errno != EAGAIN && errno != EINTR) error_ = errno;
          break;
        }
        if (sendto(fd_.get(), buf.data(), static_cast<size_t>(n), 0,
                   reinterpret_cast<sockaddr*>(&from), from_len) == n) {
          ++echoed_;
        } else {
          error_ = errno;
        }
      }
    }
  }

  ScopedFd fd_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> echoed_{0};
  std::atomic<int> error_{0};
  std::thread thread_;
};

class UdpEchoTest : public TcpTest, public ::testing::WithParamInterface<Family> {};

TEST_P(UdpEchoTest, HundredThousandRandomSizesEchoed) {
  const Family& f = GetParam();
  const size_t limit = f.domain == AF_INET ? 65507 : 65487;

  absl::StatusOr<ScopedFd> kernel = KernelSocket(bed_->netns(), f.domain, SOCK_DGRAM);
  ASSERT_TRUE(kernel.ok()) << kernel.status();
  const int big = 4 << 20;
  ASSERT_EQ(setsockopt(kernel->get(), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)), 0);
  ASSERT_EQ(setsockopt(kernel->get(), SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)), 0);
  const SockAddr kany = MakeSockAddr(f.kernel_ip, 0);
  ASSERT_EQ(bind(kernel->get(), kany.get(), kany.len), 0) << std::strerror(errno);
  absl::StatusOr<SockAddr> server = LocalName(kernel->get());
  ASSERT_TRUE(server.ok()) << server.status();
  KernelEcho echo(*std::move(kernel));

  ScopedFd stack(StackSocket(f.domain, SOCK_DGRAM));
  ASSERT_GE(stack.get(), 0) << std::strerror(errno);
  const int rcvbuf = 1 << 20;  // Capped at rmem_max, as on Linux.
  ASSERT_EQ(setsockopt(stack.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
  ASSERT_EQ(setsockopt(stack.get(), SOL_SOCKET, SO_SNDBUF, &rcvbuf, sizeof(rcvbuf)), 0);

  // The sizes: the extremes first, then uniform in [kMinSize, limit].
  std::vector<uint32_t> sizes(kDatagrams);
  uint64_t rng = 0x5eed5eedULL ^ static_cast<uint64_t>(f.domain);
  for (uint32_t i = 0; i < kDatagrams; ++i) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    sizes[i] = static_cast<uint32_t>(kMinSize + rng % (limit - kMinSize + 1));
  }
  sizes[0] = static_cast<uint32_t>(limit);
  sizes[1] = kMinSize;

  struct State {
    absl::Time sent;
    int resends = 0;
    bool done = false;
  };
  std::vector<State> state(kDatagrams);
  std::deque<uint32_t> in_flight;  // Oldest first; done ones are skipped.
  size_t in_flight_bytes = 0;
  size_t in_flight_count = 0;
  uint32_t next = 0, done = 0;
  uint64_t resends = 0, duplicates = 0, bad_source = 0, bytes = 0;
  uint64_t sent_hash = 0, received_hash = 0;
  std::string out, in(70000, '\0'), expected;
  std::string failure;

  auto send_one = [&](uint32_t seq) {
    FillDatagram(seq, sizes[seq], &out);
    const ssize_t n = sendto(stack.get(), out.data(), out.size(), 0, server->get(), server->len);
    if (n != static_cast<ssize_t>(out.size())) {
      failure = absl::StrCat("sendto of datagram ", seq, " (", out.size(), " bytes): ",
                             n < 0 ? std::strerror(errno) : "short");
      return false;
    }
    state[seq].sent = absl::Now();
    return true;
  };

  const absl::Time start = absl::Now();
  const absl::Time deadline = start + kBudget;
  while (done < kDatagrams && failure.empty()) {
    if (absl::Now() > deadline) {
      failure = absl::StrCat("out of time with ", done, " of ", kDatagrams, " echoed");
      break;
    }
    while (next < kDatagrams && in_flight_count < kWindowDatagrams &&
           in_flight_bytes + sizes[next] <= kWindowBytes + limit) {
      if (!send_one(next)) break;
      sent_hash += Fnv(out.data(), out.size());
      in_flight.push_back(next);
      in_flight_bytes += sizes[next];
      ++in_flight_count;
      ++next;
    }
    if (!failure.empty()) break;
    pollfd p{stack.get(), POLLIN, 0};
    const int ready = poll(&p, 1, 100);
    if (ready > 0) {
      for (;;) {
        sockaddr_storage from;
        socklen_t from_len = sizeof(from);
        const ssize_t n = recvfrom(stack.get(), in.data(), in.size(), MSG_DONTWAIT,
                                   reinterpret_cast<sockaddr*>(&from), &from_len);
        if (n < 0) {
          if (errno != EAGAIN && errno != EINTR) {
            failure = absl::StrCat("recvfrom: ", std::strerror(errno));
          }
          break;
        }
        if (from_len != server->len || std::memcmp(&from, &server->storage, from_len) != 0) {
          ++bad_source;
        }
        uint64_t tag = UINT64_MAX;
        if (n >= static_cast<ssize_t>(sizeof(tag))) std::memcpy(&tag, in.data(), sizeof(tag));
        if (tag >= next) {
          failure = absl::StrCat("an echo of ", n, " bytes names datagram ", tag,
                                 ", which was never sent");
          break;
        }
        const uint32_t seq = static_cast<uint32_t>(tag);
        FillDatagram(seq, sizes[seq], &expected);
        if (static_cast<size_t>(n) != expected.size() ||
            std::memcmp(in.data(), expected.data(), expected.size()) != 0) {
          failure = absl::StrCat("the echo of datagram ", seq, " differs: ", n,
                                 " bytes, expected ", expected.size());
          break;
        }
        if (state[seq].done) {
          ++duplicates;  // A resent datagram whose first echo was late.
          continue;
        }
        state[seq].done = true;
        received_hash += Fnv(in.data(), static_cast<size_t>(n));
        bytes += static_cast<uint64_t>(n);
        ++done;
        in_flight_bytes -= sizes[seq];
        --in_flight_count;
      }
    }
    // Forget what came back; send again what is overdue.
    while (!in_flight.empty() && state[in_flight.front()].done) in_flight.pop_front();
    const absl::Time now = absl::Now();
    for (uint32_t seq : in_flight) {
      if (state[seq].done || now - state[seq].sent < kResendAfter) continue;
      if (++state[seq].resends > kMaxResends) {
        failure = absl::StrCat("datagram ", seq, " (", sizes[seq], " bytes) never came back after ",
                               kMaxResends, " resends");
        break;
      }
      ++resends;
      if (!send_one(seq)) break;
    }
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  echo.Stop();
  std::printf(
      "[ info ] %s: %u of %u datagrams echoed in %.2f s (%.0f datagrams/s, %.0f MiB/s each "
      "way), %" PRIu64 " resent, %" PRIu64 " duplicates, server echoed %" PRIu64 "\n",
      f.name, done, kDatagrams, seconds, done / std::max(seconds, 1e-3),
      bytes / std::max(seconds, 1e-3) / (1 << 20), resends, duplicates, echo.echoed());
  std::fflush(stdout);
  ASSERT_TRUE(failure.empty()) << failure;
  EXPECT_EQ(done, kDatagrams);
  EXPECT_EQ(received_hash, sent_hash) << "the checksums of what went and came back differ";
  EXPECT_EQ(bad_source, 0u) << "echoes from an address other than the server's";
  EXPECT_EQ(echo.error(), 0) << std::strerror(echo.error());
  EXPECT_LE(resends, kDatagrams / 1000) << "more than one in a thousand datagrams was lost";
}

INSTANTIATE_TEST_SUITE_P(Families, UdpEchoTest, ::testing::Values(kIpv4, kIpv6), FamilyName());

}  // namespace
}  // namespace stackd::testbed
