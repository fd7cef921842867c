// How a TCP connection through stackd ends, seen by the application: a
// peer's FIN is end of stream after all the data, a peer's RST is
// ECONNRESET and then EPIPE (with SIGPIPE unless MSG_NOSIGNAL), and
// shutdown(SHUT_WR) half-closes in either direction while the other
// direction goes on. Also the other way round: the stack side's abortive
// close (SO_LINGER {1, 0}, or unread data) resets the kernel peer. Each case
// runs with the stack as client and as server, over IPv4 and IPv6.
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
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

constexpr absl::Duration kIoTimeout = absl::Seconds(10);
// More than the pair and lwIP hold at once, so that some of it is still in
// flight when the FIN is sent.
constexpr uint64_t kTailBytes = 16 << 20;

struct Case {
  Family family;
  Dialer dialer;
  const char* name;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::atomic<int> sigpipes{0};
void CountSigpipe(int) { sigpipes.fetch_add(1); }

// Counts SIGPIPE instead of dying of it, for the life of the object.
class SigpipeCounter {
 public:
  SigpipeCounter() {
    struct sigaction sa {};
    sa.sa_handler = &CountSigpipe;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, &old_);
    sigpipes = 0;
  }
  ~SigpipeCounter() { sigaction(SIGPIPE, &old_, nullptr); }
  int count() const { return sigpipes.load(); }

 private:
  struct sigaction old_ {};
};

void SetLingerZero(int fd) {
  const linger l{1, 0};
  ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0)
      << std::strerror(errno);
}

class TcpCloseTest : public TcpTest, public ::testing::WithParamInterface<Case> {
 protected:
  void SetUp() override {
    TcpTest::SetUp();
    if (HasFatalFailure()) return;
    absl::StatusOr<StackKernelPair> c =
        ConnectStackAndKernel(*bed_, GetParam().family, GetParam().dialer);
    ASSERT_TRUE(c.ok()) << c.status();
    conn_ = *std::move(c);
  }

  StackKernelPair conn_;
};

INSTANTIATE_TEST_SUITE_P(
    Cases, TcpCloseTest,
    ::testing::Values(Case{kIpv4, Dialer::kStack, "Ipv4StackClient"},
                      Case{kIpv4, Dialer::kKernel, "Ipv4StackServer"},
                      Case{kIpv6, Dialer::kStack, "Ipv6StackClient"},
                      Case{kIpv6, Dialer::kKernel, "Ipv6StackServer"}),
    [](const ::testing::TestParamInfo<Case>& info) {
      return std::string(info.param.name);
    });

TEST_P(TcpCloseTest, PeerFinIsEndOfStreamAfterAllData) {
  const absl::Time deadline = absl::Now() + kIoTimeout * 3;
  absl::StatusOr<uint64_t> sent = absl::UnknownError("not run");
  std::thread peer([&] {
    sent = SendPattern(conn_.kernel.get(), 7, kTailBytes, deadline);
    conn_.kernel.reset();  // An ordinary close: FIN after the data.
  });
  absl::StatusOr<uint64_t> received =
      RecvAndHash(conn_.stack.get(), kTailBytes, deadline);
  peer.join();
  ASSERT_TRUE(sent.ok()) << sent.status();
  ASSERT_TRUE(received.ok()) << received.status();
  EXPECT_EQ(*received, *sent);
  RecvResult r = RecvOnce(conn_.stack.get(), 64, deadline);
  EXPECT_EQ(r.n, 0) << std::strerror(r.error);
  r = RecvOnce(conn_.stack.get(), 64, deadline);
  EXPECT_EQ(r.n, 0) << "end of stream is sticky: " << std::strerror(r.error);
  char byte;
  EXPECT_EQ(read(conn_.stack.get(), &byte, 1), 0) << std::strerror(errno);
}

TEST_P(TcpCloseTest, PeerResetIsEconnresetThenEpipe) {
  const absl::Time deadline = absl::Now() + kIoTimeout;
  ASSERT_TRUE(SendAll(conn_.kernel.get(), "last words", deadline).ok());
  absl::StatusOr<std::string> got =
      RecvExactly(conn_.stack.get(), 10, deadline);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "last words");

  SetLingerZero(conn_.kernel.get());
  conn_.kernel.reset();  // RST.
  // The reset shows as readable (and hung up) on the stack fd.
  EXPECT_NE(PollFor(conn_.stack.get(), POLLIN, kIoTimeout) & POLLIN, 0);
  char buf[64];
  EXPECT_EQ(read(conn_.stack.get(), buf, sizeof(buf)), -1);
  EXPECT_EQ(errno, ECONNRESET) << std::strerror(errno);

  const std::string data = "after the reset";
  EXPECT_EQ(send(conn_.stack.get(), data.data(), data.size(), MSG_NOSIGNAL),
            -1);
  EXPECT_EQ(errno, EPIPE) << std::strerror(errno);

  SigpipeCounter counter;
  EXPECT_EQ(write(conn_.stack.get(), data.data(), data.size()), -1);
  EXPECT_EQ(errno, EPIPE) << std::strerror(errno);
  EXPECT_EQ(counter.count(), 1) << "write without MSG_NOSIGNAL: no SIGPIPE";
  EXPECT_EQ(send(conn_.stack.get(), data.data(), data.size(), MSG_NOSIGNAL),
            -1);
  EXPECT_EQ(counter.count(), 1) << "MSG_NOSIGNAL raised SIGPIPE";
}

// The stack side's abortive close: SO_LINGER {1, 0} sends RST.
TEST_P(TcpCloseTest, LingerZeroCloseResetsPeer) {
  SetLingerZero(conn_.stack.get());
  linger l{};
  socklen_t len = sizeof(l);
  ASSERT_EQ(getsockopt(conn_.stack.get(), SOL_SOCKET, SO_LINGER, &l, &len), 0);
  EXPECT_EQ(l.l_onoff, 1);
  EXPECT_EQ(l.l_linger, 0);
  conn_.stack.reset();
  RecvResult r = RecvOnce(conn_.kernel.get(), 64, absl::Now() + kIoTimeout);
  EXPECT_EQ(r.n, -1) << "read " << r.n << " bytes instead of a reset";
  EXPECT_EQ(r.error, ECONNRESET) << std::strerror(r.error);
}

// Closing with received data unread resets the peer, as on Linux.
TEST_P(TcpCloseTest, CloseWithUnreadDataResetsPeer) {
  const absl::Time deadline = absl::Now() + kIoTimeout;
  ASSERT_TRUE(SendAll(conn_.kernel.get(), "never read", deadline).ok());
  // Let it arrive on the stack fd before the close.
  ASSERT_NE(PollFor(conn_.stack.get(), POLLIN, kIoTimeout) & POLLIN, 0);
  conn_.stack.reset();
  RecvResult r = RecvOnce(conn_.kernel.get(), 64, deadline);
  EXPECT_EQ(r.n, -1) << "read " << r.n << " bytes instead of a reset";
  EXPECT_EQ(r.error, ECONNRESET) << std::strerror(r.error);
}

// shutdown(SHUT_WR) on the stack side: the kernel reads the data and then
// end of stream, and can still send; the stack side reads all of it.
TEST_P(TcpCloseTest, StackHalfCloseKeepsReceiving) {
  const absl::Time deadline = absl::Now() + kIoTimeout * 3;
  ASSERT_TRUE(SendAll(conn_.stack.get(), "request", deadline).ok());
  ASSERT_EQ(shutdown(conn_.stack.get(), SHUT_WR), 0) << std::strerror(errno);

  absl::StatusOr<std::string> request =
      RecvToEof(conn_.kernel.get(), 1 << 20, deadline);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(*request, "request");

  // Writing after SHUT_WR is EPIPE, as on Linux.
  EXPECT_EQ(send(conn_.stack.get(), "x", 1, MSG_NOSIGNAL), -1);
  EXPECT_EQ(errno, EPIPE) << std::strerror(errno);

  absl::StatusOr<uint64_t> sent = absl::UnknownError("not run");
  std::thread peer([&] {
    sent = SendPattern(conn_.kernel.get(), 11, kTailBytes, deadline);
    shutdown(conn_.kernel.get(), SHUT_WR);
  });
  absl::StatusOr<uint64_t> received =
      RecvAndHash(conn_.stack.get(), kTailBytes, deadline);
  peer.join();
  ASSERT_TRUE(sent.ok()) << sent.status();
  ASSERT_TRUE(received.ok()) << received.status();
  EXPECT_EQ(*received, *sent);
  RecvResult r = RecvOnce(conn_.stack.get(), 64, deadline);
  EXPECT_EQ(r.n, 0) << std::strerror(r.error);
}

// shutdown(SHUT_WR) on the kernel side: the stack side reads end of stream
// and can still send; the kernel reads all of it and then end of stream.
TEST_P(TcpCloseTest, PeerHalfCloseKeepsSending) {
  const absl::Time deadline = absl::Now() + kIoTimeout * 3;
  ASSERT_TRUE(SendAll(conn_.kernel.get(), "request", deadline).ok());
  ASSERT_EQ(shutdown(conn_.kernel.get(), SHUT_WR), 0) << std::strerror(errno);

  absl::StatusOr<std::string> request =
      RecvToEof(conn_.stack.get(), 1 << 20, deadline);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(*request, "request");
  // A half-closed connection is not hung up: the stack fd stays writable
  // and says nothing of an error.
  const short revents = PollFor(conn_.stack.get(), POLLOUT, kIoTimeout);
  EXPECT_NE(revents & POLLOUT, 0);
  EXPECT_EQ(revents & (POLLERR | POLLHUP), 0) << "revents " << revents;

  absl::StatusOr<uint64_t> sent = absl::UnknownError("not run");
  std::thread writer([&] {
    sent = SendPattern(conn_.stack.get(), 13, kTailBytes, deadline);
    if (sent.ok()) conn_.stack.reset();  // Both FINs: an orderly end.
  });
  absl::StatusOr<uint64_t> received =
      RecvAndHash(conn_.kernel.get(), kTailBytes, deadline);
  writer.join();
  ASSERT_TRUE(sent.ok()) << sent.status();
  ASSERT_TRUE(received.ok()) << received.status();
  EXPECT_EQ(*received, *sent);
  RecvResult r = RecvOnce(conn_.kernel.get(), 64, deadline);
  EXPECT_EQ(r.n, 0) << std::strerror(r.error);
}

}  // namespace
}  // namespace stackd::testbed
