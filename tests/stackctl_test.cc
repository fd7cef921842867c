// stackctl against a real stackd in a test bed: what `show` and `ss` print
// (tables and JSON), and its errors and exit statuses.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "client/msocket.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/netns_peer.h"
#include "tests/testbed.h"

namespace stackd::testbed {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

class StackctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Testbed>> bed = Testbed::Create();
    ASSERT_TRUE(bed.ok()) << bed.status();
    bed_ = *std::move(bed);
    absl::StatusOr<std::string> stackctl = Runfile("stackctl/stackctl");
    ASSERT_TRUE(stackctl.ok()) << stackctl.status();
    stackctl_ = *stackctl;
  }

  CommandResult Stackctl(std::vector<std::string> args) {
    args.insert(args.begin(), stackctl_);
    return RunArgv(args, absl::Seconds(20));
  }

  std::unique_ptr<Testbed> bed_;
  std::string stackctl_;
};

TEST_F(StackctlTest, ShowsTheStackItsInterfacesAndAddresses) {
  CommandResult r = Stackctl({"-s", bed_->stack_path(), "show"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("stack ", bed_->stack_path(), "  stackd ")));
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat(bed_->tap_name(), ": <UP> mtu ")));
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat(" netns ", bed_->netns(), "\n")));
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("    inet ", kStackIp4, "/")));
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("    inet6 ", kStackIp6, "/")));
  EXPECT_EQ(r.err, "");
  r = Stackctl({"-s", bed_->stack_path(), "--json", "show"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("\"tap_name\":\"", bed_->tap_name(), "\"")));
}

TEST_F(StackctlTest, ListsTheStacksSocketsWithTheirOwner) {
  const int fd = msocket(bed_->stack_path().c_str(), AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_port = htons(8123);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof(any)), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  CommandResult r = Stackctl({"-s", bed_->stack_path(), "ss"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, MatchesRegex("Id +Netid +State +Local +Peer +Process\n(.*\n)*"));
  EXPECT_THAT(r.out, MatchesRegex(absl::StrCat("(.*\n)*[0-9]+ +tcp +listening +0\\.0\\.0\\.0:8123 +\\* +pid=",
                                               getpid(), ",uid=", getuid(), "\n(.*\n)*")));
  r = Stackctl({"-s", bed_->stack_path(), "ss", "-i"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("BytesIn  BytesOut  RecvQ  SendQ  Dropped\n"));
  r = Stackctl({"-s", bed_->stack_path(), "--json", "ss"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"local\":[\"0.0.0.0:8123\"]"));
  close(fd);
}

// kill ID, as Linux's ss -K: the peer gets a RST, the program
// ECONNABORTED, and the socket is gone from ss.
TEST_F(StackctlTest, KillResetsTheConnectionAsSsK) {
  absl::StatusOr<ScopedFd> listener = KernelSocket(bed_->netns(), AF_INET, SOCK_STREAM);
  ASSERT_TRUE(listener.ok()) << listener.status();
  sockaddr_in at{};
  at.sin_family = AF_INET;
  ASSERT_EQ(inet_pton(AF_INET, std::string(kKernelIp4).c_str(), &at.sin_addr), 1);
  ASSERT_EQ(bind(listener->get(), reinterpret_cast<sockaddr*>(&at), sizeof(at)), 0);
  ASSERT_EQ(listen(listener->get(), 4), 0);
  socklen_t len = sizeof(at);
  ASSERT_EQ(getsockname(listener->get(), reinterpret_cast<sockaddr*>(&at), &len), 0);
  const int fd = msocket(bed_->stack_path().c_str(), AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&at), sizeof(at)), 0) << strerror(errno);
  const int peer = accept(listener->get(), nullptr, nullptr);
  ASSERT_GE(peer, 0);

  const std::string remote = absl::StrCat(kKernelIp4, ":", ntohs(at.sin_port));
  CommandResult r = Stackctl({"-s", bed_->stack_path(), "ss"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string id;
  for (absl::string_view line : absl::StrSplit(r.out, '\n')) {
    if (absl::StrContains(line, remote)) id = std::string(line.substr(0, line.find(' ')));
  }
  ASSERT_FALSE(id.empty()) << r.out;

  r = Stackctl({"-s", bed_->stack_path(), "kill", id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "killed 1 socket\n");
  pollfd pfd{peer, POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, 2000), 1);
  char c;
  EXPECT_EQ(recv(peer, &c, 1, 0), -1);
  EXPECT_EQ(errno, ECONNRESET) << "the peer got a RST";
  pfd = {fd, POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, 2000), 1);
  EXPECT_EQ(recv(fd, &c, 1, 0), -1);
  EXPECT_EQ(errno, ECONNABORTED) << "as after Linux's ss -K";
  r = Stackctl({"-s", bed_->stack_path(), "ss"});
  EXPECT_THAT(r.out, Not(HasSubstr(remote)));
  r = Stackctl({"-s", bed_->stack_path(), "kill", id});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, absl::StrCat("stackctl: no socket ", id, "\n"));
  close(peer);
  close(fd);
}

TEST_F(StackctlTest, ClearErrorsAndExitStatuses) {
  CommandResult r = Stackctl({"-s", bed_->dir() + "/nothing-here", "show"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("stackctl: no stackd answers at unix:",
                                            bed_->dir(), "/nothing-here.grpc")));
  r = Stackctl({"-s", bed_->stack_path(), "frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("stackctl: unknown argument 'frobnicate'\nusage: stackctl"));
  r = Stackctl({"show"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("which stack? give -s PATH"));
  r = Stackctl({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("usage: stackctl"));
}

}  // namespace
}  // namespace stackd::testbed
