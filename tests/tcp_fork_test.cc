// Stack sockets in other processes: a connected socket and a listening one
// handed to a child over a Unix socket (SCM_RIGHTS) keep working there
// (names, I/O, accept), and a child made by fork() uses the socket it
// inherited (I/O, setsockopt, shutdown) while the parent still holds it.
//
// The children run plain code that returns an exit code (no gtest
// assertions in a forked child); each code says what went wrong.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/netns_peer.h"
#include "tests/testbed.h"

namespace stackd::testbed {
namespace {

constexpr absl::Duration kIoTimeout = absl::Seconds(10);
// A child that runs longer than this is ended by SIGALRM (exit code 142).
constexpr unsigned kChildAlarmSeconds = 30;

// Runs `body` in a forked child that exits with its result.
pid_t ForkChild(const std::function<int()>& body) {
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid == 0) {
    alarm(kChildAlarmSeconds);
    _exit(body());
  }
  return pid;
}

// The child's exit code (128 + N for signal N), or -1 if it was still
// running after `timeout` (it is killed then).
int WaitChild(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    if (r < 0 && errno != EINTR) return -1;
    if (absl::Now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

// Sends `fd` and `text` on a Unix socket as one message.
bool SendFd(int unix_fd, int fd, const std::string& text) {
  iovec iov{const_cast<char*>(text.data()), text.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  return sendmsg(unix_fd, &msg, MSG_NOSIGNAL) ==
         static_cast<ssize_t>(text.size());
}

// Receives one fd and its text; -1 if none came (within the socket's
// SO_RCVTIMEO).
int ReceiveFd(int unix_fd, std::string* text) {
  char buf[512];
  iovec iov{buf, sizeof(buf)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  const ssize_t n = recvmsg(unix_fd, &msg, MSG_CMSG_CLOEXEC);
  if (n <= 0) return -1;
  text->assign(buf, static_cast<size_t>(n));
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (c == nullptr || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
  return fd;
}

struct UnixPair {
  ScopedFd parent;
  ScopedFd child;
};

UnixPair MakeUnixPair() {
  int sv[2] = {-1, -1};
  UnixPair p;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return p;
  p.parent.reset(sv[0]);
  p.child.reset(sv[1]);
  timeval tv = absl::ToTimeval(kIoTimeout);
  setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return p;
}

class TcpForkTest : public TcpTest,
                    public ::testing::WithParamInterface<Family> {};

INSTANTIATE_TEST_SUITE_P(Families, TcpForkTest,
                         ::testing::Values(kIpv4, kIpv6), FamilyName());

// Child exit codes of the SCM_RIGHTS tests.
enum PassedCode {
  kPassedOk = 0,
  kNoFd = 10,
  kNoPeerName = 11,
  kWrongPeerName = 12,
  kSendFailed = 13,
  kRecvFailed = 14,
  kWrongData = 15,
  kNoLocalName = 16,
  kWrongLocalName = 17,
  kAcceptFailed = 18,
};

TEST_P(TcpForkTest, ConnectedSocketPassedWithScmRightsWorksInChild) {
  const Family& f = GetParam();
  UnixPair unix_pair = MakeUnixPair();
  ASSERT_GE(unix_pair.child.get(), 0) << std::strerror(errno);

  // The child knows nothing of the socket but what comes over the pair.
  const int child_end = unix_pair.child.get();
  const pid_t child = ForkChild([child_end]() -> int {
    std::string expected;
    const int fd = ReceiveFd(child_end, &expected);
    if (fd < 0) return kNoFd;
    // expected = "LOCAL PEER"
    const std::string expected_local = expected.substr(0, expected.find(' '));
    const std::string expected_peer = expected.substr(expected.find(' ') + 1);
    absl::StatusOr<SockAddr> peer = PeerName(fd);
    if (!peer.ok()) return kNoPeerName;
    if (peer->ToString() != expected_peer) return kWrongPeerName;
    absl::StatusOr<SockAddr> local = LocalName(fd);
    if (!local.ok()) return kNoLocalName;
    if (local->ToString() != expected_local) return kWrongLocalName;
    const absl::Time deadline = absl::Now() + kIoTimeout;
    if (!SendAll(fd, "hello from the child", deadline).ok()) return kSendFailed;
    absl::StatusOr<std::string> got = RecvExactly(fd, 18, deadline);
    if (!got.ok()) return kRecvFailed;
    if (*got != "hello to the child") return kWrongData;
    close(fd);
    return kPassedOk;
  });
  ASSERT_GT(child, 0) << std::strerror(errno);
  unix_pair.child.reset();

  // Made after the fork: the child can only have it from the message.
  absl::StatusOr<StackKernelPair> conn =
      ConnectStackAndKernel(*bed_, f, Dialer::kStack);
  ASSERT_TRUE(conn.ok()) << conn.status();
  absl::StatusOr<SockAddr> local = LocalName(conn->stack.get());
  absl::StatusOr<SockAddr> peer = PeerName(conn->stack.get());
  ASSERT_TRUE(local.ok() && peer.ok());
  ASSERT_TRUE(SendFd(unix_pair.parent.get(), conn->stack.get(),
                     local->ToString() + " " + peer->ToString()))
      << std::strerror(errno);
  conn->stack.reset();  // The child holds the only copy now.

  const absl::Time deadline = absl::Now() + kIoTimeout;
  absl::StatusOr<std::string> got =
      RecvExactly(conn->kernel.get(), 20, deadline);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "hello from the child");
  ASSERT_TRUE(SendAll(conn->kernel.get(), "hello to the child", deadline).ok());
  EXPECT_EQ(WaitChild(child, kIoTimeout * 2), kPassedOk);
  // The child's close was the last: the kernel sees the orderly end.
  RecvResult r = RecvOnce(conn->kernel.get(), 16, deadline);
  EXPECT_EQ(r.n, 0) << std::strerror(r.error);
}

TEST_P(TcpForkTest, ListeningSocketPassedWithScmRightsAcceptsInChild) {
  const Family& f = GetParam();
  UnixPair unix_pair = MakeUnixPair();
  ASSERT_GE(unix_pair.child.get(), 0) << std::strerror(errno);
  const int child_end = unix_pair.child.get();
  const pid_t child = ForkChild([child_end]() -> int {
    std::string expected_peer_ip;
    const int listener = ReceiveFd(child_end, &expected_peer_ip);
    if (listener < 0) return kNoFd;
    if ((PollFor(listener, POLLIN, kIoTimeout) & POLLIN) == 0) {
      return kAcceptFailed;
    }
    SockAddr peer;
    peer.len = sizeof(peer.storage);
    const int fd = accept(listener, peer.get(), &peer.len);
    if (fd < 0) return kAcceptFailed;
    if (peer.ip() != expected_peer_ip) return kWrongPeerName;
    const absl::Time deadline = absl::Now() + kIoTimeout;
    absl::StatusOr<std::string> got = RecvExactly(fd, 4, deadline);
    if (!got.ok()) return kRecvFailed;
    if (*got != "ping") return kWrongData;
    if (!SendAll(fd, "pong", deadline).ok()) return kSendFailed;
    close(fd);
    close(listener);
    return kPassedOk;
  });
  ASSERT_GT(child, 0) << std::strerror(errno);
  unix_pair.child.reset();

  ScopedFd listener(StackSocket(f.domain));
  ASSERT_GE(listener.get(), 0) << std::strerror(errno);
  const SockAddr any_port = MakeSockAddr(f.stack_ip, 0);
  ASSERT_EQ(bind(listener.get(), any_port.get(), any_port.len), 0);
  ASSERT_EQ(listen(listener.get(), 4), 0) << std::strerror(errno);
  absl::StatusOr<SockAddr> bound = LocalName(listener.get());
  ASSERT_TRUE(bound.ok());
  ASSERT_TRUE(SendFd(unix_pair.parent.get(), listener.get(),
                     std::string(f.kernel_ip)));
  listener.reset();

  absl::StatusOr<ScopedFd> client =
      KernelConnect(bed_->netns(), *bound, kIoTimeout);
  ASSERT_TRUE(client.ok()) << client.status();
  const absl::Time deadline = absl::Now() + kIoTimeout;
  ASSERT_TRUE(SendAll(client->get(), "ping", deadline).ok());
  absl::StatusOr<std::string> got = RecvExactly(client->get(), 4, deadline);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "pong");
  EXPECT_EQ(WaitChild(child, kIoTimeout * 2), kPassedOk);
}

// Child exit codes of the fork test.
enum InheritedCode {
  kInheritedOk = 0,
  kChildNoPeer = 20,
  kChildSetOptFailed = 21,
  kChildGetOptWrong = 22,
  kChildSendFailed = 23,
  kChildShutdownFailed = 24,
  kChildWriteAfterShutdown = 25,
};

TEST_P(TcpForkTest, ForkedChildUsesInheritedSocket) {
  const Family& f = GetParam();
  absl::StatusOr<StackKernelPair> conn =
      ConnectStackAndKernel(*bed_, f, Dialer::kStack);
  ASSERT_TRUE(conn.ok()) << conn.status();
  absl::StatusOr<SockAddr> peer = PeerName(conn->stack.get());
  ASSERT_TRUE(peer.ok());
  int nodelay = -1;
  socklen_t len = sizeof(nodelay);
  ASSERT_EQ(getsockopt(conn->stack.get(), IPPROTO_TCP, TCP_NODELAY, &nodelay,
                       &len),
            0);
  ASSERT_EQ(nodelay, 0);

  const int fd = conn->stack.get();
  const std::string expected_peer = peer->ToString();
  const pid_t child = ForkChild([fd, expected_peer]() -> int {
    absl::StatusOr<SockAddr> p = PeerName(fd);
    if (!p.ok() || p->ToString() != expected_peer) return kChildNoPeer;
    const int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
      return kChildSetOptFailed;
    }
    int value = 0;
    socklen_t value_len = sizeof(value);
    if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &value_len) != 0 ||
        value != 1) {
      return kChildGetOptWrong;
    }
    if (!SendAll(fd, "from the child", absl::Now() + kIoTimeout).ok()) {
      return kChildSendFailed;
    }
    // Shuts down the socket itself, not just this process's fd.
    if (shutdown(fd, SHUT_WR) != 0) return kChildShutdownFailed;
    if (send(fd, "x", 1, MSG_NOSIGNAL) != -1 || errno != EPIPE) {
      return kChildWriteAfterShutdown;
    }
    return kInheritedOk;  // _exit closes the child's copy.
  });
  ASSERT_GT(child, 0) << std::strerror(errno);
  EXPECT_EQ(WaitChild(child, kIoTimeout * 2), kInheritedOk);

  // What the child did is seen from the parent's copy and from the peer.
  len = sizeof(nodelay);
  ASSERT_EQ(getsockopt(conn->stack.get(), IPPROTO_TCP, TCP_NODELAY, &nodelay,
                       &len),
            0)
      << std::strerror(errno);
  EXPECT_EQ(nodelay, 1) << "the child's setsockopt did not reach the socket";
  const absl::Time deadline = absl::Now() + kIoTimeout;
  absl::StatusOr<std::string> got =
      RecvToEof(conn->kernel.get(), 1 << 20, deadline);
  ASSERT_TRUE(got.ok()) << got.status()
                        << " (the child's shutdown sent no FIN?)";
  EXPECT_EQ(*got, "from the child");
  // The parent still holds the socket: the other direction is open.
  ASSERT_TRUE(SendAll(conn->kernel.get(), "to the parent", deadline).ok());
  got = RecvExactly(conn->stack.get(), 13, deadline);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "to the parent");
  conn->kernel.reset();
  RecvResult r = RecvOnce(conn->stack.get(), 16, deadline);
  EXPECT_EQ(r.n, 0) << std::strerror(r.error);
}

}  // namespace
}  // namespace stackd::testbed
