// Bad control traffic on the stack's PATH from one client does not disturb
// another client's transfer, nor stackd: garbage bytes, an oversized packet
// (70000 bytes), a wrong protocol version, a request with 3 fds, clients
// that connect and leave at once, and a flood of 1000 garbage packets, all
// while 64 MiB go each way through a stack socket with checksums. stackd
// answers each bad packet as docs/socket-protocol.md says, disconnects the
// flooding client, leaks no fd, and is alive and serving afterwards.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/msocket.h"
#include "gtest/gtest.h"
#include "proto/socket.pb.h"
#include "tests/netns_peer.h"
#include "tests/testbed.h"

namespace stackd::testbed {
namespace {

using socket::v1::Request;
using socket::v1::Response;

constexpr uint64_t kTransferBytes = uint64_t{64} << 20;
constexpr size_t kChunk = 256 * 1024;
constexpr absl::Duration kBudget = absl::Seconds(120);
constexpr absl::Duration kReplyTimeout = absl::Seconds(5);
constexpr int kFloodPackets = 1000;
// stackd disconnects a client after this many bad packets in a row
// (kMaxStrikes + 1 in stackd/sockets/control_server.cc); the test allows a
// little more.
constexpr int kMaxAnsweredBadPackets = 16;

// A raw control connection to PATH.
ScopedFd ControlConnect(const std::string& path) {
  ScopedFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return fd;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) !=
      0) {
    fd.reset();
  }
  return fd;
}

// Sends one packet with `fds` as SCM_RIGHTS. Returns the send errno or 0.
int SendPacket(int fd, const std::string& bytes,
               const std::vector<int>& fds = {}, int flags = 0) {
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  if (sendmsg(fd, &msg, MSG_NOSIGNAL | flags) !=
      static_cast<ssize_t>(bytes.size())) {
    return errno;
  }
  return 0;
}

// The next Response on a control connection: its error field, or a
// negative code: -1 no answer in time, -2 connection closed, -3 not a
// Response.
int NextAnswer(int fd, Response* response = nullptr) {
  if ((PollFor(fd, POLLIN, kReplyTimeout) & (POLLIN | POLLHUP)) == 0) {
    return -1;
  }
  char buf[65536];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
  iovec iov{buf, sizeof(buf)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  const ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); n >= 0 && c != nullptr;
       c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_type != SCM_RIGHTS) continue;
    for (size_t k = 0; k < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); ++k) {
      int received;
      std::memcpy(&received, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
      close(received);
    }
  }
  if (n == 0) return -2;
  if (n < 0) return errno == ECONNRESET ? -2 : -1;
  Response parsed;
  if (!parsed.ParseFromArray(buf, static_cast<int>(n))) return -3;
  if (response != nullptr) *response = parsed;
  return parsed.error();
}

std::string HelloRequest(uint32_t version) {
  Request r;
  r.set_version(version);
  r.mutable_hello();
  return r.SerializeAsString();
}

// Bytes that are no protobuf: a field number 0x1fffffff of wire type 7.
std::string Garbage(int i) {
  std::string g(16, '\xff');
  g[15] = static_cast<char>(i);
  return g;
}

int CountFds(pid_t pid) {
  std::error_code ec;
  int n = 0;
  for (auto it = std::filesystem::directory_iterator(
           absl::StrCat("/proc/", pid, "/fd"), ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return ec ? -1 : n;
}

// One round of every kind of abuse, with checks of what stackd answers.
// Returns a description of each deviation (empty: all as specified).
// `flood_connections` counts the connections the flood needed (stackd
// disconnected the others).
std::vector<std::string> AbuseRound(const std::string& path, int stack_fd,
                                    int* flood_connections) {
  std::vector<std::string> problems;
  auto expect = [&](bool ok, const std::string& what) {
    if (!ok) problems.push_back(what);
  };

  {  // Garbage, then a good request on the same connection.
    ScopedFd c = ControlConnect(path);
    expect(c.get() >= 0, "connect for garbage");
    expect(SendPacket(c.get(), Garbage(1)) == 0, "send garbage");
    const int answer = NextAnswer(c.get());
    expect(answer == EINVAL, absl::StrCat("garbage answered ", answer));
    expect(SendPacket(c.get(), HelloRequest(1)) == 0, "send hello");
    Response hello;
    expect(NextAnswer(c.get(), &hello) == 0 && hello.has_hello(),
           "hello after garbage not answered");
  }
  {  // A packet larger than 65536 bytes.
    ScopedFd c = ControlConnect(path);
    const int sndbuf = 1 << 20;
    setsockopt(c.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    const std::string big(70000, '\x08');
    const int sent = SendPacket(c.get(), big);
    expect(sent == 0, absl::StrCat("send 70000 bytes: ", std::strerror(sent)));
    const int answer = NextAnswer(c.get());
    expect(answer == EMSGSIZE, absl::StrCat("70000 bytes answered ", answer));
  }
  {  // Wrong versions.
    ScopedFd c = ControlConnect(path);
    for (uint32_t version : {0u, 2u, 0xffffffffu}) {
      expect(SendPacket(c.get(), HelloRequest(version)) == 0, "send version");
      const int answer = NextAnswer(c.get());
      expect(answer == EPROTONOSUPPORT,
             absl::StrCat("version ", version, " answered ", answer));
    }
  }
  {  // A request about a socket, carrying 3 fds (the socket's among them).
    ScopedFd c = ControlConnect(path);
    Request r;
    r.set_version(1);
    r.mutable_get_name()->set_peer(true);
    const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    expect(SendPacket(c.get(), r.SerializeAsString(),
                      {stack_fd, null_fd, stack_fd}) == 0,
           "send 3 fds");
    close(null_fd);
    const int answer = NextAnswer(c.get());
    expect(answer == EINVAL, absl::StrCat("3 fds answered ", answer));
    // And a proper one-fd request still works on the same connection.
    expect(SendPacket(c.get(), r.SerializeAsString(), {stack_fd}) == 0,
           "send 1 fd");
    Response name;
    expect(NextAnswer(c.get(), &name) == 0 && name.has_address(),
           "get_name with one fd not answered");
  }
  {  // A request, then leaving without reading the answer.
    ScopedFd c = ControlConnect(path);
    SendPacket(c.get(), HelloRequest(1));
  }
  // Clients that connect and leave at once.
  for (int i = 0; i < 100; ++i) {
    ScopedFd c = ControlConnect(path);
    expect(c.get() >= 0, "connect and leave");
  }
  // A flood of garbage: stackd answers a few and then disconnects the
  // client; the flooder reconnects until all 1000 packets are sent.
  int sent = 0;
  int connections = 0;
  const absl::Time flood_deadline = absl::Now() + absl::Seconds(30);
  while (sent < kFloodPackets && absl::Now() < flood_deadline &&
         connections < kFloodPackets) {
    ScopedFd c = ControlConnect(path);
    if (c.get() < 0) {
      problems.push_back(absl::StrCat("flood connect: ", std::strerror(errno)));
      break;
    }
    ++connections;
    int here = 0;
    int answers = 0;
    bool closed = false;
    while (!closed && absl::Now() < flood_deadline) {
      const int error = sent < kFloodPackets
                            ? SendPacket(c.get(), Garbage(sent), {},
                                         MSG_DONTWAIT)
                            : EAGAIN;
      if (error == 0) {
        ++sent;
        ++here;
        continue;
      }
      if (error != EAGAIN) {  // EPIPE, ECONNRESET: stackd hung up.
        closed = true;
        break;
      }
      // The queue is full (or all is sent): take an answer off.
      const int answer = NextAnswer(c.get());
      if (answer == -2) {
        closed = true;
      } else if (answer < 0) {
        break;  // Silence: stackd keeps the client (checked below).
      } else {
        ++answers;
      }
    }
    if (here > kMaxAnsweredBadPackets) {
      expect(closed, absl::StrCat("flooding client not disconnected after ",
                                  here, " garbage packets"));
    }
    expect(answers <= kMaxAnsweredBadPackets,
           absl::StrCat("stackd answered ", answers, " garbage packets on one "
                        "connection"));
  }
  *flood_connections += connections;
  expect(sent == kFloodPackets,
         absl::StrCat("flood sent only ", sent, " packets"));
  return problems;
}

class TcpControlAbuseTest : public TcpTest {};

TEST_F(TcpControlAbuseTest, BadControlTrafficDisturbsNoTransfer) {
  absl::StatusOr<StackKernelPair> conn =
      ConnectStackAndKernel(*bed_, kIpv4, Dialer::kStack);
  ASSERT_TRUE(conn.ok()) << conn.status();
  const pid_t stackd = bed_->stackd_pid();
  // stackd closes the control connections of the calls above when it
  // sees them hang up: let its fd count settle first.
  int fds_before = CountFds(stackd);
  for (int i = 0; i < 20; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    const int now = CountFds(stackd);
    if (now == fds_before) break;
    fds_before = now;
  }
  ASSERT_GT(fds_before, 0);

  const absl::Time deadline = absl::Now() + kBudget;
  std::atomic<int> rounds{0};
  std::atomic<bool> transfer_done{false};
  // The senders go slowly until the abuse has run twice, so that it runs
  // while the data flows; then at full speed.
  auto paced_send = [&](int fd, uint64_t seed, absl::StatusOr<uint64_t>* out) {
    PatternSource source(seed);
    StreamHash hash;
    std::vector<char> buf(kChunk);
    for (uint64_t done = 0; done < kTransferBytes; done += kChunk) {
      source.Fill(buf.data(), buf.size());
      hash.Update(buf.data(), buf.size());
      absl::Status s = SendAll(fd, buf.data(), buf.size(), deadline);
      if (!s.ok()) {
        *out = s;
        return;
      }
      if (rounds.load() < 2) absl::SleepFor(absl::Milliseconds(20));
    }
    *out = hash.Finish();
  };
  absl::StatusOr<uint64_t> sent_out = absl::UnknownError("not run");
  absl::StatusOr<uint64_t> sent_in = absl::UnknownError("not run");
  absl::StatusOr<uint64_t> got_out = absl::UnknownError("not run");
  absl::StatusOr<uint64_t> got_in = absl::UnknownError("not run");
  std::thread s1([&] { paced_send(conn->stack.get(), 21, &sent_out); });
  std::thread s2([&] { paced_send(conn->kernel.get(), 22, &sent_in); });
  std::thread r1([&] {
    got_out = RecvAndHash(conn->kernel.get(), kTransferBytes, deadline);
  });
  std::thread r2([&] {
    got_in = RecvAndHash(conn->stack.get(), kTransferBytes, deadline);
    transfer_done = true;
  });

  std::vector<std::string> problems;
  int rounds_while_transferring = 0;
  int flood_connections = 0;
  for (int i = 0; i < 20 && absl::Now() < deadline; ++i) {
    const bool transferring = !transfer_done.load();
    std::vector<std::string> p =
        AbuseRound(bed_->stack_path(), conn->stack.get(), &flood_connections);
    problems.insert(problems.end(), p.begin(), p.end());
    ++rounds;
    if (transferring && !transfer_done.load()) ++rounds_while_transferring;
    if (transfer_done.load() && rounds.load() >= 2) break;
  }
  s1.join();
  s2.join();
  r1.join();
  r2.join();
  std::printf("[ info ] %d abuse rounds, %d of them wholly during the "
              "transfer; the floods of %d packets needed %d connections\n",
              rounds.load(), rounds_while_transferring, kFloodPackets,
              flood_connections);

  EXPECT_GE(rounds_while_transferring, 1);
  for (const std::string& p : problems) ADD_FAILURE() << p;
  ASSERT_TRUE(sent_out.ok()) << sent_out.status();
  ASSERT_TRUE(sent_in.ok()) << sent_in.status();
  ASSERT_TRUE(got_out.ok()) << got_out.status();
  ASSERT_TRUE(got_in.ok()) << got_in.status();
  EXPECT_EQ(*got_out, *sent_out) << "stack -> kernel bytes differ";
  EXPECT_EQ(*got_in, *sent_in) << "kernel -> stack bytes differ";

  // stackd is alive, kept no fd of the bad clients, and serves.
  ASSERT_EQ(kill(stackd, 0), 0) << "stackd is gone";
  int fds_after = CountFds(stackd);
  const absl::Time settle = absl::Now() + absl::Seconds(2);
  while (fds_after != fds_before && absl::Now() < settle) {
    absl::SleepFor(absl::Milliseconds(20));
    fds_after = CountFds(stackd);
  }
  EXPECT_EQ(fds_after, fds_before) << "stackd's fd count changed";
  absl::StatusOr<StackKernelPair> again =
      ConnectStackAndKernel(*bed_, kIpv6, Dialer::kKernel);
  ASSERT_TRUE(again.ok()) << again.status();
  const absl::Time io_deadline = absl::Now() + absl::Seconds(10);
  ASSERT_TRUE(SendAll(again->stack.get(), "still here", io_deadline).ok());
  absl::StatusOr<std::string> got =
      RecvExactly(again->kernel.get(), 10, io_deadline);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "still here");
}


// CPU seconds (user + system) that process `pid` has used, or -1.
double CpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(stat.substr(paren + 2));
  std::string field;
  long long utime = -1, stime = -1;
  for (int i = 3; fields >> field; ++i) {  // Field 3 is the state.
    if (i == 14) utime = std::stoll(field);
    if (i == 15) {
      stime = std::stoll(field);
      break;
    }
  }
  if (utime < 0 || stime < 0) return -1;
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// What stackd did with a control connection that never sent a request.
enum class IdleFate { kOpen, kRefused, kClosed };
IdleFate FateOf(int fd, int* refusal_errno) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 0) <= 0) return IdleFate::kOpen;
  char buf[256];
  const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
  if (n > 0) {
    Response r;
    if (r.ParseFromArray(buf, static_cast<int>(n)) && r.error() != 0) {
      *refusal_errno = r.error();
      return IdleFate::kRefused;
    }
  }
  return IdleFate::kClosed;
}

struct IdleCounts {
  int opened = 0;
  int refused_enobufs = 0;
  int refused_other = 0;
  int closed = 0;
};

IdleCounts CountFates(const std::vector<ScopedFd>& fds) {
  IdleCounts counts;
  counts.opened = static_cast<int>(fds.size());
  for (const ScopedFd& fd : fds) {
    int error = 0;
    switch (FateOf(fd.get(), &error)) {
      case IdleFate::kOpen:
        break;
      case IdleFate::kRefused:
        (error == ENOBUFS ? counts.refused_enobufs : counts.refused_other)++;
        break;
      case IdleFate::kClosed:
        ++counts.closed;
        break;
    }
  }
  return counts;
}

// Opens up to `count` control connections to `path` within `budget`.
std::vector<ScopedFd> OpenIdle(const std::string& path, int count, absl::Duration budget) {
  std::vector<ScopedFd> fds;
  const absl::Time deadline = absl::Now() + budget;
  while (static_cast<int>(fds.size()) < count && absl::Now() < deadline) {
    ScopedFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) break;
    timeval tv{1, 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) continue;
    fds.push_back(std::move(fd));
  }
  return fds;
}

// A user that holds 1,100 idle control connections (more than stackd's
// default fd limit once was) gets 256 of them; the rest are answered
// ENOBUFS. stackd does not spin, another user's sockets work meanwhile, and
// the idle connections are closed after 10 s.
TEST_F(TcpControlAbuseTest, IdleControlConnectionsOfOneUserDenyNoOtherUser) {
  // Let another user reach the stack: search on the bed's directory,
  // read and write on PATH.
  ASSERT_EQ(chmod(bed_->dir().c_str(), 0711), 0);
  ASSERT_EQ(chmod(bed_->stack_path().c_str(), 0666), 0);
  int report[2];
  int go_on[2];
  ASSERT_EQ(pipe(report), 0);
  ASSERT_EQ(pipe(go_on), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(report[0]);
    close(go_on[1]);
    if (setresgid(1234, 1234, 1234) != 0 || setresuid(1234, 1234, 1234) != 0) _exit(2);
    std::vector<ScopedFd> fds = OpenIdle(bed_->stack_path(), 1100, absl::Seconds(20));
    absl::SleepFor(absl::Milliseconds(500));
    IdleCounts first = CountFates(fds);
    write(report[1], &first, sizeof(first));
    char c;
    read(go_on[0], &c, 1);  // The parent has checked stackd meanwhile.
    absl::SleepFor(absl::Seconds(11));
    IdleCounts later = CountFates(fds);
    write(report[1], &later, sizeof(later));
    _exit(0);
  }
  close(report[1]);
  close(go_on[0]);
  ScopedFd report_fd(report[0]);
  ScopedFd go_on_fd(go_on[1]);
  auto read_counts = [&](IdleCounts* out) {
    return PollFor(report_fd.get(), POLLIN, absl::Seconds(30)) != 0 &&
           read(report_fd.get(), out, sizeof(*out)) == sizeof(*out);
  };
  IdleCounts first;
  const bool got_first = read_counts(&first);
  const double cpu_before = CpuSeconds(bed_->stackd_pid());
  absl::SleepFor(absl::Seconds(2));
  const double cpu_after = CpuSeconds(bed_->stackd_pid());
  // Another user (root here) is served while the idle connections stand.
  const absl::Time start = absl::Now();
  absl::StatusOr<StackKernelPair> conn = ConnectStackAndKernel(*bed_, kIpv4, Dialer::kStack);
  const absl::Duration connect_time = absl::Now() - start;
  write(go_on_fd.get(), "x", 1);
  IdleCounts later;
  const bool got_later = read_counts(&later);
  int status = 0;
  waitpid(child, &status, 0);

  ASSERT_TRUE(got_first);
  std::printf("[ info ] idle user: %d opened, %d refused ENOBUFS, %d refused otherwise, "
              "%d closed; stackd used %.2f s of CPU in 2 s; connect took %s\n",
              first.opened, first.refused_enobufs, first.refused_other, first.closed,
              cpu_after - cpu_before, absl::FormatDuration(connect_time).c_str());
  EXPECT_EQ(first.opened, 1100);
  EXPECT_EQ(first.refused_enobufs, first.opened - 256);
  EXPECT_EQ(first.refused_other + first.closed, 0);
  EXPECT_LT(cpu_after - cpu_before, 0.5) << "stackd spins";
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_LT(connect_time, absl::Seconds(2));
  ASSERT_TRUE(got_later);
  EXPECT_EQ(later.refused_enobufs + later.refused_other + later.closed, later.opened)
      << "idle connections left open after 11 s";
  EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
}

// stackd out of file descriptors: the clients it cannot take are answered
// EMFILE, it does not spin, and it serves again once fds are free.
TEST_F(TcpControlAbuseTest, RunningOutOfFdsTurnsClientsAwayWithoutSpinning) {
  // prlimit(1) on another user's process needs CAP_SYS_RESOURCE, which root
  // lacks in some containers: this stackd stays root, like its caller.
  bed_.reset();
  Testbed::Options options;
  options.extra_stackd_flags = {"--user=root"};
  absl::StatusOr<std::unique_ptr<Testbed>> bed = Testbed::Create(options);
  ASSERT_TRUE(bed.ok()) << bed.status();
  bed_ = *std::move(bed);
  const pid_t stackd = bed_->stackd_pid();
  CommandResult limit = RunArgv(
      {"prlimit", absl::StrCat("--pid=", stackd), "--nofile=128:128"}, absl::Seconds(10));
  ASSERT_EQ(limit.exit_code, 0) << limit.err;
  std::vector<ScopedFd> fds = OpenIdle(bed_->stack_path(), 200, absl::Seconds(20));
  absl::SleepFor(absl::Milliseconds(500));
  const double cpu_before = CpuSeconds(stackd);
  absl::SleepFor(absl::Seconds(2));
  const double cpu_after = CpuSeconds(stackd);
  int emfile = 0;
  int open = 0;
  for (const ScopedFd& fd : fds) {
    int error = 0;
    IdleFate fate = FateOf(fd.get(), &error);
    if (fate == IdleFate::kRefused && error == EMFILE) ++emfile;
    if (fate == IdleFate::kOpen) ++open;
  }
  std::printf("[ info ] %zu connections: %d open, %d refused EMFILE; %.2f s of CPU in 2 s\n",
              fds.size(), open, emfile, cpu_after - cpu_before);
  EXPECT_GT(emfile, 0);
  EXPECT_LT(cpu_after - cpu_before, 0.5) << "stackd spins";
  // A socket call now fails with a clear error rather than hanging.
  errno = 0;
  const int refused = StackSocket(AF_INET);
  const int refused_errno = errno;
  if (refused >= 0) close(refused);
  EXPECT_TRUE(refused < 0 && (refused_errno == EMFILE || refused_errno == ENOBUFS))
      << "socket() gave " << refused << " errno " << std::strerror(refused_errno);
  fds.clear();
  absl::SleepFor(absl::Milliseconds(300));
  absl::StatusOr<StackKernelPair> conn = ConnectStackAndKernel(*bed_, kIpv4, Dialer::kStack);
  ASSERT_TRUE(conn.ok()) << conn.status();
}

// Names that anyone on the host can bind first must not decide whether a
// socket can be made: a squatter holding the abstract names "stackd/N/PATH"
// for N = 0..2999 (what the ids of the next sockets once were) blocks
// neither new sockets nor accepted connections.
TEST_F(TcpControlAbuseTest, SquattedPairNamesBlockNoSocket) {
  std::vector<ScopedFd> squatted;
  for (int n = 0; n < 3000; ++n) {
    ScopedFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_GE(fd.get(), 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string name = absl::StrCat("stackd/", n, "/", bed_->stack_path());
    ASSERT_LT(name.size() + 1, sizeof(addr.sun_path));
    std::memcpy(addr.sun_path + 1, name.data(), name.size());
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) == 0) {
      squatted.push_back(std::move(fd));
    }
  }
  ASSERT_GT(squatted.size(), 2900u);
  // Outgoing connections, UDP sockets and accepted connections all work.
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<StackKernelPair> out = ConnectStackAndKernel(*bed_, kIpv4, Dialer::kStack);
    ASSERT_TRUE(out.ok()) << "stack dials, round " << i << ": " << out.status();
    absl::StatusOr<StackKernelPair> in = ConnectStackAndKernel(*bed_, kIpv6, Dialer::kKernel);
    ASSERT_TRUE(in.ok()) << "kernel dials, round " << i << ": " << in.status();
    const int udp = StackSocket(AF_INET, SOCK_DGRAM);
    ASSERT_GE(udp, 0) << std::strerror(errno);
    close(udp);
  }
}

}  // namespace
}  // namespace stackd::testbed
