// A SYN flood from forged addresses (hping3 --rand-source in the test bed's
// namespace) does not keep a stack listener from new connections: with its
// backlog full of half-open connections, stackd answers SYNs with SYN
// cookies (lwIP patch 0008), a kernel client's handshake completes during
// the flood, and the connection carries data both ways. Before cookies the
// listener dropped every SYN until the half-open connections timed out,
// 20 s after the flood.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/netns_peer.h"
#include "tests/testbed.h"

namespace stackd::testbed {
namespace {

constexpr uint16_t kPort = 7070;
constexpr int kBacklog = 8;

class SynFloodTest : public TcpTest {};

// accept(2) on `listener` within `timeout`; -1 if nothing came.
int AcceptWithin(int listener, absl::Duration timeout) {
  if ((PollFor(listener, POLLIN, timeout) & POLLIN) == 0) return -1;
  return accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
}

TEST_F(SynFloodTest, ListenerTakesConnectionsDuringAFloodOfForgedSyns) {
  ScopedFd listener(StackSocket(AF_INET));
  ASSERT_GE(listener.get(), 0) << std::strerror(errno);
  const SockAddr any = MakeSockAddr("0.0.0.0", kPort);
  ASSERT_EQ(bind(listener.get(), any.get(), any.len), 0) << std::strerror(errno);
  ASSERT_EQ(listen(listener.get(), kBacklog), 0) << std::strerror(errno);

  // About 20,000 SYNs a second from random addresses for 4 s.
  CommandResult flood;
  std::thread flooder([&] {
    flood = bed_->Run(absl::StrCat("timeout 4 hping3 -q -S -p ", kPort, " -i u50 --rand-source ",
                                   kStackIp4, " 2>&1; true"),
                      absl::Seconds(15));
  });
  absl::SleepFor(absl::Seconds(1));  // The backlog is full of half-open ones by now.

  const SockAddr stack = MakeSockAddr(kStackIp4, kPort);
  const absl::Time start = absl::Now();
  absl::StatusOr<ScopedFd> client = KernelConnect(bed_->netns(), stack, absl::Seconds(2));
  const absl::Duration took = absl::Now() - start;
  const bool flooding = absl::Now() < start + absl::Seconds(2);
  ScopedFd accepted;
  if (client.ok()) accepted = ScopedFd(AcceptWithin(listener.get(), absl::Seconds(5)));
  flooder.join();
  std::printf("[ info ] connect during the flood took %s; hping3: %s\n",
              absl::FormatDuration(took).c_str(), flood.out.c_str());

  ASSERT_TRUE(client.ok()) << "connect during the flood: " << client.status();
  EXPECT_TRUE(flooding) << "the flood was over before the connect returned";
  EXPECT_LT(took, absl::Seconds(1)) << "the first SYN should be answered";
  ASSERT_GE(accepted.get(), 0) << "the stack did not accept the connection";
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  ASSERT_TRUE(SendAll(client->get(), "through the flood", deadline).ok());
  absl::StatusOr<std::string> got = RecvExactly(accepted.get(), 17, deadline);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "through the flood");
  ASSERT_TRUE(SendAll(accepted.get(), "and back", deadline).ok());
  got = RecvExactly(client->get(), 8, deadline);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "and back");

  // And right after the flood, too.
  absl::StatusOr<ScopedFd> after = KernelConnect(bed_->netns(), stack, absl::Seconds(2));
  ASSERT_TRUE(after.ok()) << "connect after the flood: " << after.status();
  ScopedFd accepted_after(AcceptWithin(listener.get(), absl::Seconds(5)));
  EXPECT_GE(accepted_after.get(), 0);
}

}  // namespace
}  // namespace stackd::testbed
