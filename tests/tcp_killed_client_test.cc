// A client killed with SIGKILL while it holds 500 stack sockets (connected,
// listening, bound and fresh): stackd notices every last close by itself
// and ListSockets is back to its baseline within 2 s; the connections'
// kernel peers see an orderly end.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/msocket.h"
#include "gtest/gtest.h"
#include "tests/admin_client.h"
#include "tests/netns_peer.h"
#include "tests/testbed.h"

namespace stackd::testbed {
namespace {

constexpr int kSockets = 500;
constexpr int kConnected = 100;  // Sockets [0, 100): connected.
constexpr int kListening = 50;   // [100, 150): listening.
constexpr int kBound = 100;      // [150, 250): bound; the rest only made.
constexpr absl::Duration kCleanupBound = absl::Seconds(2);

// What the child reports on its pipe: how many sockets it opened, and the
// errno of the step that failed (0 if none).
struct ChildReport {
  int opened = 0;
  int step = 0;  // 1 msocket, 2 connect, 3 bind, 4 listen.
  int error = 0;
};

// The child: waits for a byte on `go`, opens the sockets, reports on
// `ready`, then waits to be killed. Never returns.
[[noreturn]] void RunChild(const std::string& path, const SockAddr& server,
                           int go, int ready) {
  alarm(60);  // Never outlive a broken test.
  char byte;
  if (read(go, &byte, 1) != 1) _exit(2);
  ChildReport report;
  for (int i = 0; i < kSockets; ++i) {
    const int domain = i % 2 == 0 ? AF_INET : AF_INET6;
    const int fd = msocket(path.c_str(),
                           i < kConnected ? server.family() : domain,
                           SOCK_STREAM, 0);
    if (fd < 0) {
      report.step = 1;
      report.error = errno;
      break;
    }
    if (i < kConnected) {
      timeval tv{5, 0};
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
      if (connect(fd, server.get(), server.len) != 0) {
        report.step = 2;
        report.error = errno;
        break;
      }
    } else if (i < kConnected + kListening + kBound) {
      const SockAddr any = MakeSockAddr(domain == AF_INET ? "0.0.0.0" : "::", 0);
      if (bind(fd, any.get(), any.len) != 0) {
        report.step = 3;
        report.error = errno;
        break;
      }
      if (i < kConnected + kListening && listen(fd, 8) != 0) {
        report.step = 4;
        report.error = errno;
        break;
      }
    }
    ++report.opened;
  }
  if (write(ready, &report, sizeof(report)) != sizeof(report)) _exit(3);
  while (true) pause();
}

TEST_F(TcpTest, KilledClientsSocketsAreGoneWithinTwoSeconds) {
  // 500 sockets and a few more fds in the child.
  rlimit nofile{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &nofile), 0);
  if (nofile.rlim_cur < 1024 && nofile.rlim_max >= 1024) {
    nofile.rlim_cur = 1024;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &nofile), 0) << std::strerror(errno);
  }
  ASSERT_GE(nofile.rlim_cur, 1024u) << "RLIMIT_NOFILE too low for the test";

  SockAddr server;
  absl::StatusOr<ScopedFd> listener =
      KernelListener(bed_->netns(), kKernelIp4, 512, &server);
  ASSERT_TRUE(listener.ok()) << listener.status();

  int go[2], ready[2];
  ASSERT_EQ(pipe2(go, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(ready, O_CLOEXEC), 0);
  ScopedFd go_write(go[1]), ready_read(ready[0]);
  // Forked before the first gRPC call, so the child has no gRPC threads to
  // lose.
  std::fflush(stdout);
  const pid_t child = fork();
  ASSERT_GE(child, 0) << std::strerror(errno);
  if (child == 0) {
    close(go[1]);
    close(ready[0]);
    RunChild(bed_->stack_path(), server, go[0], ready[1]);
  }
  close(go[0]);
  close(ready[1]);
  // Whatever happens below, the child does not survive the test.
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      if (pid <= 0) return;
      kill(pid, SIGKILL);
      int status;
      waitpid(pid, &status, 0);
    }
  } reaper{child};

  absl::StatusOr<std::vector<admin::v1::Socket>> baseline =
      ListSockets(bed_->grpc_endpoint());
  ASSERT_TRUE(baseline.ok()) << baseline.status();

  ASSERT_EQ(write(go_write.get(), "g", 1), 1);
  ASSERT_NE(PollFor(ready_read.get(), POLLIN, absl::Seconds(60)) & POLLIN, 0)
      << "the child did not open its sockets in time";
  ChildReport report;
  ASSERT_EQ(read(ready_read.get(), &report, sizeof(report)),
            static_cast<ssize_t>(sizeof(report)));
  ASSERT_EQ(report.opened, kSockets)
      << "step " << report.step << ": " << std::strerror(report.error);

  absl::StatusOr<std::vector<admin::v1::Socket>> full =
      ListSockets(bed_->grpc_endpoint());
  ASSERT_TRUE(full.ok()) << full.status();
  ASSERT_EQ(full->size(), baseline->size() + kSockets);
  std::map<std::string, int> states;
  int owned = 0;
  for (const admin::v1::Socket& s : *full) {
    if (s.owner_pid() == child) {
      ++owned;
      ++states[s.state()];
    }
  }
  EXPECT_EQ(owned, kSockets);
  EXPECT_EQ(states["ESTABLISHED"], kConnected);
  EXPECT_EQ(states["listening"], kListening);
  EXPECT_EQ(states["open"], kSockets - kConnected - kListening);

  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  reaper.pid = 0;  // Reaped.
  const absl::Time killed = absl::Now();

  size_t left = full->size();
  int polls = 0;
  while (absl::Now() - killed < kCleanupBound + absl::Seconds(3) &&
         polls < 1000) {
    ++polls;
    absl::StatusOr<std::vector<admin::v1::Socket>> now =
        ListSockets(bed_->grpc_endpoint());
    ASSERT_TRUE(now.ok()) << now.status();
    left = now->size();
    if (left == baseline->size()) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  const absl::Duration took = absl::Now() - killed;
  std::printf("[ info ] %d sockets of a killed client gone after %s\n",
              kSockets, absl::FormatDuration(took).c_str());
  EXPECT_EQ(left, baseline->size())
      << (left - baseline->size()) << " sockets still listed after "
      << absl::FormatDuration(took);
  EXPECT_LE(took, kCleanupBound);

  // The kernel ends of the connections see FIN (nothing was left unread).
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  int ended = 0;
  for (int i = 0; i < kConnected; ++i) {
    if ((PollFor(listener->get(), POLLIN, deadline - absl::Now()) & POLLIN) ==
        0) {
      break;
    }
    ScopedFd c(accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (c.get() < 0) break;
    RecvResult r = RecvOnce(c.get(), 16, deadline);
    if (r.n == 0) ++ended;
  }
  EXPECT_EQ(ended, kConnected);

  // And the stack serves new sockets.
  ScopedFd fresh(StackSocket(AF_INET));
  EXPECT_GE(fresh.get(), 0) << std::strerror(errno);
}

}  // namespace
}  // namespace stackd::testbed
