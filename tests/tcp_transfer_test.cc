// Bulk TCP through stackd: 256 MiB each way at the same time between a
// stack socket and a kernel socket, with a checksum of the bytes on both
// sides, over a clean link and with 2% of the packets dropped both ways by
// nftables on the kernel side. Each run prints how long it took.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/msocket.h"
#include "gtest/gtest.h"
#include "tests/netns_peer.h"
#include "tests/testbed.h"

namespace stackd::testbed {
namespace {

constexpr uint64_t kBytesEachWay = uint64_t{256} << 20;
constexpr uint64_t kSeedStackToKernel = 0x5eed0001;
constexpr uint64_t kSeedKernelToStack = 0x5eed0002;
// The bound of one run, both directions together.
constexpr absl::Duration kCleanBudget = absl::Seconds(120);
constexpr absl::Duration kLossyBudget = absl::Seconds(150);

// One direction: `from` sends the pattern of `seed`, then shuts down its
// sending side; `to` hashes what arrives and then expects end of stream.
struct Direction {
  absl::StatusOr<uint64_t> sent = absl::UnknownError("not run");
  absl::StatusOr<uint64_t> received = absl::UnknownError("not run");
  absl::Status eof = absl::UnknownError("not run");
  absl::Duration took;
};

void RunDirection(int from, int to, uint64_t seed, absl::Time deadline,
                  Direction* d) {
  const absl::Time start = absl::Now();
  std::thread sender([&] {
    d->sent = SendPattern(from, seed, kBytesEachWay, deadline);
    if (d->sent.ok() && shutdown(from, SHUT_WR) != 0) {
      d->sent = absl::ErrnoToStatus(errno, "shutdown(SHUT_WR)");
    }
  });
  d->received = RecvAndHash(to, kBytesEachWay, deadline);
  if (d->received.ok()) {
    d->took = absl::Now() - start;
    RecvResult r = RecvOnce(to, 1, deadline);
    d->eof = r.n == 0 ? absl::OkStatus()
                      : absl::InternalError(absl::StrCat(
                            "after the data: recv gave ", r.n, ", ",
                            std::strerror(r.error), " instead of EOF"));
  }
  sender.join();
}

void ExpectDirection(const Direction& d, uint64_t seed, const char* what) {
  SCOPED_TRACE(what);
  ASSERT_TRUE(d.sent.ok()) << d.sent.status();
  ASSERT_TRUE(d.received.ok()) << d.received.status();
  EXPECT_EQ(*d.sent, PatternHash(seed, kBytesEachWay));
  EXPECT_EQ(*d.received, *d.sent) << "the bytes differ";
  EXPECT_TRUE(d.eof.ok()) << d.eof;
}

class TcpTransferTest : public TcpTest {
 protected:
  // 256 MiB each way at once; prints the time of each direction.
  void Transfer(const Family& f, Dialer dialer, absl::Duration budget,
                const char* label) {
    absl::StatusOr<StackKernelPair> c = ConnectStackAndKernel(*bed_, f, dialer);
    ASSERT_TRUE(c.ok()) << c.status();
    const absl::Time start = absl::Now();
    const absl::Time deadline = start + budget;
    Direction out, in;
    std::thread outbound([&] {
      RunDirection(c->stack.get(), c->kernel.get(), kSeedStackToKernel,
                   deadline, &out);
    });
    RunDirection(c->kernel.get(), c->stack.get(), kSeedKernelToStack, deadline,
                 &in);
    outbound.join();
    const absl::Duration total = absl::Now() - start;
    const double mib = static_cast<double>(kBytesEachWay >> 20);
    std::printf(
        "[ info ] %s %s: 256 MiB each way at once in %.2f s "
        "(stack->kernel %.2f s, %.0f MiB/s; kernel->stack %.2f s, "
        "%.0f MiB/s)\n",
        f.name, label, absl::ToDoubleSeconds(total),
        absl::ToDoubleSeconds(out.took),
        mib / std::max(absl::ToDoubleSeconds(out.took), 1e-3),
        absl::ToDoubleSeconds(in.took),
        mib / std::max(absl::ToDoubleSeconds(in.took), 1e-3));
    std::fflush(stdout);
    ExpectDirection(out, kSeedStackToKernel, "stack -> kernel");
    ExpectDirection(in, kSeedKernelToStack, "kernel -> stack");
  }

  // Drops `percent`% of the TCP packets on the TAP, both ways.
  void AddLoss(int percent) {
    for (const char* rule : {"input", "output"}) {
      const std::string match = std::string(rule) == "input"
                                    ? "iifname \"" + bed_->tap_name() + "\""
                                    : "oifname \"" + bed_->tap_name() + "\"";
      absl::Status s = AddNftRule(
          *bed_, rule,
          absl::StrCat(match, " meta l4proto tcp numgen random mod 100 < ",
                       percent, " counter drop"));
      ASSERT_TRUE(s.ok()) << s;
    }
  }
};

TEST_F(TcpTransferTest, StackClient256MiBEachWayIpv4) {
  Transfer(kIpv4, Dialer::kStack, kCleanBudget, "stack client, clean");
}

TEST_F(TcpTransferTest, KernelClient256MiBEachWayIpv6) {
  Transfer(kIpv6, Dialer::kKernel, kCleanBudget, "kernel client, clean");
}

TEST_F(TcpTransferTest, StackClient256MiBEachWayWithTwoPercentLoss) {
  AddLoss(2);
  Transfer(kIpv4, Dialer::kStack, kLossyBudget, "stack client, 2% loss");
  CommandResult counters =
      bed_->Run("nft list table inet stackd_test", absl::Seconds(10));
  std::printf("[ info ] nft counters after the lossy run:\n%s\n",
              counters.out.c_str());
}

TEST_F(TcpTransferTest, KernelClient256MiBEachWayWithTwoPercentLoss) {
  AddLoss(2);
  Transfer(kIpv6, Dialer::kKernel, kLossyBudget, "kernel client, 2% loss");
}

}  // namespace
}  // namespace stackd::testbed
