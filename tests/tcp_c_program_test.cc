// A C program on the stack (tests/c_client_server.c, compiled as C11 with
// only <client/msocket.h> and POSIX headers) as a client and as a server,
// with kernel peers: the bytes each way are checked by checksum, and the
// addresses it reports by the kernel's view of the same connection.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/netns_peer.h"
#include "tests/testbed.h"

namespace stackd::testbed {
namespace {

constexpr uint64_t kBytes = 16 << 20;
constexpr uint64_t kProgramSeed = 0xc0de;
constexpr uint64_t kKernelSeed = 0xfeed;
constexpr absl::Duration kTimeout = absl::Seconds(60);

// The program, running with its stdout on a pipe (stderr: a file in the
// test bed's dir, shown on failure).
class Program {
 public:
  Program() = default;
  ~Program() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int status;
      waitpid(pid_, &status, 0);
    }
  }

  bool Start(const std::vector<std::string>& argv, const std::string& err_path) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) return false;
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                         0644);
    std::vector<char*> c_argv;
    for (const std::string& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
    c_argv.push_back(nullptr);
    std::fflush(stdout);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      dup2(err, 2);
      execv(c_argv[0], c_argv.data());
      _exit(127);
    }
    close(out[1]);
    close(err);
    out_.reset(out[0]);
    err_path_ = err_path;
    return pid_ > 0;
  }

  // The next line of its stdout (without the newline), or "" at the end or
  // after `timeout`.
  std::string ReadLine(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      const size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      if ((PollFor(out_.get(), POLLIN, deadline - absl::Now()) &
           (POLLIN | POLLHUP)) == 0) {
        return "";
      }
      char buf[256];
      const ssize_t n = read(out_.get(), buf, sizeof(buf));
      if (n <= 0) return "";
      buffer_.append(buf, static_cast<size_t>(n));
    }
  }

  // Its exit code, or -1 if it ran past `timeout` (then it is killed).
  int Wait(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (pid_ > 0) {
      int status = 0;
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        return 128 + WTERMSIG(status);
      }
      if (absl::Now() >= deadline) return -1;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return -1;
  }

  std::string Stderr() const {
    std::string text;
    FILE* f = std::fopen(err_path_.c_str(), "r");
    if (f == nullptr) return text;
    char buf[1024];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
    std::fclose(f);
    return text;
  }

 private:
  pid_t pid_ = -1;
  ScopedFd out_;
  std::string buffer_;
  std::string err_path_;
};

std::string Hex(uint64_t v) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016" PRIx64, v);
  return text;
}

class TcpCProgramTest : public TcpTest,
                        public ::testing::WithParamInterface<Family> {
 protected:
  std::string Binary() {
    absl::StatusOr<std::string> path = Runfile("tests/c_client_server");
    EXPECT_TRUE(path.ok()) << path.status();
    return path.ok() ? *path : "";
  }

  // The kernel side of the exchange: sends kBytes of kKernelSeed's pattern
  // and shuts down, while it checks that kProgramSeed's kBytes arrive and
  // then end of stream.
  void KernelSide(int fd) {
    const absl::Time deadline = absl::Now() + kTimeout;
    absl::StatusOr<uint64_t> sent = absl::UnknownError("not run");
    std::thread sender([&] {
      sent = SendPattern(fd, kKernelSeed, kBytes, deadline);
      shutdown(fd, SHUT_WR);
    });
    absl::StatusOr<uint64_t> received = RecvAndHash(fd, kBytes, deadline);
    RecvResult eof = RecvOnce(fd, 1, deadline);
    sender.join();
    ASSERT_TRUE(sent.ok()) << sent.status();
    ASSERT_TRUE(received.ok()) << received.status();
    EXPECT_EQ(*received, PatternHash(kProgramSeed, kBytes))
        << "the program's bytes differ";
    EXPECT_EQ(eof.n, 0) << "no end of stream after the program's bytes: "
                        << std::strerror(eof.error);
  }

  // The program's last line: what it received.
  void ExpectReceivedLine(const std::string& line) {
    EXPECT_EQ(line, absl::StrCat("received ", kBytes, " ",
                                 Hex(PatternHash(kKernelSeed, kBytes))))
        << "the kernel's bytes differ at the program";
  }
};

INSTANTIATE_TEST_SUITE_P(Families, TcpCProgramTest,
                         ::testing::Values(kIpv4, kIpv6), FamilyName());

TEST_P(TcpCProgramTest, ClientExchangesWithKernelServer) {
  const Family& f = GetParam();
  SockAddr server;
  absl::StatusOr<ScopedFd> listener =
      KernelListener(bed_->netns(), f.kernel_ip, 4, &server);
  ASSERT_TRUE(listener.ok()) << listener.status();

  Program program;
  ASSERT_TRUE(program.Start(
      {Binary(), "client", bed_->stack_path(), std::string(f.kernel_ip),
       absl::StrCat(server.port()), absl::StrCat(kBytes),
       absl::StrCat(kProgramSeed)},
      bed_->dir() + "/client.err"));
  ASSERT_NE(PollFor(listener->get(), POLLIN, kTimeout) & POLLIN, 0)
      << program.Stderr();
  SockAddr seen;
  seen.len = sizeof(seen.storage);
  ScopedFd conn(accept4(listener->get(), seen.get(), &seen.len, SOCK_CLOEXEC));
  ASSERT_GE(conn.get(), 0) << std::strerror(errno);

  EXPECT_EQ(program.ReadLine(kTimeout),
            absl::StrCat("local ", seen.ip(), " ", seen.port()));
  EXPECT_EQ(seen.ip(), f.stack_ip);
  KernelSide(conn.get());
  ExpectReceivedLine(program.ReadLine(kTimeout));
  EXPECT_EQ(program.Wait(kTimeout), 0) << program.Stderr();
}

TEST_P(TcpCProgramTest, ServerExchangesWithKernelClient) {
  const Family& f = GetParam();
  Program program;
  ASSERT_TRUE(program.Start(
      {Binary(), "server", bed_->stack_path(), std::string(f.stack_ip),
       absl::StrCat(kBytes), absl::StrCat(kProgramSeed)},
      bed_->dir() + "/server.err"));
  const std::string port_line = program.ReadLine(kTimeout);
  std::vector<std::string> words = absl::StrSplit(port_line, ' ');
  int port = 0;
  ASSERT_TRUE(words.size() == 2 && words[0] == "port" &&
              absl::SimpleAtoi(words[1], &port) && port > 0)
      << "first line: \"" << port_line << "\"; stderr: " << program.Stderr();

  absl::StatusOr<ScopedFd> client = KernelConnect(
      bed_->netns(), MakeSockAddr(f.stack_ip, static_cast<uint16_t>(port)),
      absl::Seconds(10));
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<SockAddr> client_name = LocalName(client->get());
  ASSERT_TRUE(client_name.ok());
  EXPECT_EQ(program.ReadLine(kTimeout),
            absl::StrCat("peer ", f.kernel_ip, " ", client_name->port()));
  KernelSide(client->get());
  ExpectReceivedLine(program.ReadLine(kTimeout));
  EXPECT_EQ(program.Wait(kTimeout), 0) << program.Stderr();
}

}  // namespace
}  // namespace stackd::testbed
