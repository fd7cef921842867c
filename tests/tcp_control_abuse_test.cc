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
#include <sys/un.h>
#include <unistd.h>

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

}  // namespace
}  // namespace stackd::testbed
