// stackd end to end: a real stackd on a TAP in a private namespace, with the
// kernel as its peer (ping) and the admin service reached through gRPC
// server reflection only. Also how stackd refuses bad command lines and
// endpoints that are taken, and what it leaves behind when it stops.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testbed.h"

namespace stackd::testbed {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

// ping -c3 -W2 takes about 2 s when answered and at most ~4 s when not.
constexpr absl::Duration kPingTimeout = absl::Seconds(20);
// The reflection client gives each RPC 10 s.
constexpr absl::Duration kClientTimeout = absl::Seconds(30);

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> NonEmptyLines(absl::string_view text) {
  return absl::StrSplit(text, '\n', absl::SkipWhitespace());
}

std::string Describe(const CommandResult& r) {
  return absl::StrCat("exit code ", r.exit_code,
                      r.timed_out ? " (timed out)" : "", "\n--- stdout:\n",
                      r.out, "--- stderr:\n", r.err);
}

// Runs tests/grpc_reflection_client.py with Debian's python3.
CommandResult ReflectionClient(const std::vector<std::string>& args) {
  absl::StatusOr<std::string> client =
      Runfile("tests/grpc_reflection_client.py");
  if (!client.ok()) {
    CommandResult r;
    r.err = client.status().ToString();
    return r;
  }
  std::vector<std::string> argv = {"python3", *client};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunArgv(argv, kClientTimeout);
}

// Reduces a GetStack JSON response (file argv[1]) to lines a test can
// match: "path=P", "tap_name=T", "address=INTERFACE ADDRESS/PREFIX".
constexpr char kSummarizeStack[] = R"(
import json, sys
with open(sys.argv[1]) as f:
    stack = json.load(f)
print("path=" + str(stack.get("path", "")))
print("tap_name=" + str(stack.get("tap_name", "")))
for interface in stack.get("interfaces", []):
    for address in interface.get("addresses", []):
        print("address=%s %s" % (interface.get("name", ""), address))
)";

// A stackd that started is expected to have refused: it exited by itself,
// with an error code (not a crash), and said why in exactly one line.
void ExpectRefused(const CommandResult& r) {
  EXPECT_FALSE(r.timed_out) << Describe(r);
  EXPECT_GT(r.exit_code, 0) << Describe(r);
  EXPECT_LT(r.exit_code, 128) << "killed by a signal: " << Describe(r);
  EXPECT_THAT(NonEmptyLines(r.err), SizeIs(1)) << Describe(r);
}

class StackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Testbed>> bed = Testbed::Create();
    ASSERT_TRUE(bed.ok()) << bed.status();
    bed_ = *std::move(bed);
  }

  CommandResult Ping(absl::string_view address) {
    return bed_->Run(absl::StrCat("ping -c3 -W2 ", address), kPingTimeout);
  }

  // The TAP named `name` exists in the test bed's namespace.
  bool LinkExists(const std::string& name) {
    return RunArgv({"ip", "-n", bed_->netns(), "link", "show", name},
                   absl::Seconds(10))
               .exit_code == 0;
  }

  std::unique_ptr<Testbed> bed_;
};

TEST_F(StackTest, AnswersPingOverIpv4) {
  CommandResult r = Ping(kStackIp4);
  EXPECT_EQ(r.exit_code, 0) << Describe(r) << bed_->StackdLog();
}

TEST_F(StackTest, AnswersPingOverIpv6) {
  CommandResult r = Ping(kStackIp6);
  EXPECT_EQ(r.exit_code, 0) << Describe(r) << bed_->StackdLog();
}

TEST_F(StackTest, ReflectionListsAdminService) {
  CommandResult r = ReflectionClient({bed_->grpc_endpoint(), "list"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(NonEmptyLines(r.out), Contains("stackd.admin.v1.StackAdmin"))
      << Describe(r);
}

TEST_F(StackTest, GetStackReportsPathTapAndAddresses) {
  CommandResult r = ReflectionClient(
      {bed_->grpc_endpoint(), "call", "stackd.admin.v1.StackAdmin/GetStack"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);

  const std::string json_path = bed_->dir() + "/get_stack.json";
  {
    std::ofstream json(json_path);
    json << r.out;
    ASSERT_TRUE(json.good()) << json_path;
  }
  CommandResult summary =
      RunArgv({"python3", "-c", kSummarizeStack, json_path}, absl::Seconds(10));
  ASSERT_EQ(summary.exit_code, 0) << Describe(summary) << "JSON: " << r.out;
  const std::vector<std::string> lines = NonEmptyLines(summary.out);
  EXPECT_THAT(lines, Contains("path=" + bed_->stack_path())) << r.out;
  EXPECT_THAT(lines, Contains("tap_name=" + bed_->tap_name())) << r.out;
  EXPECT_THAT(lines, Contains(absl::StrCat("address=", bed_->tap_name(), " ",
                                           kStackIp4, "/", kIp4PrefixLength)))
      << r.out;
  EXPECT_THAT(lines, Contains(absl::StrCat("address=", bed_->tap_name(), " ",
                                           kStackIp6, "/", kIp6PrefixLength)))
      << r.out;
}

// A burst over thousands of connections must not overflow the kernel's
// queue of frames for stackd (its default of 1000 did).
TEST_F(StackTest, TapQueueHoldsTenThousandFrames) {
  // ip netns exec mounts the bed's own /sys.
  CommandResult r = bed_->Run(absl::StrCat("cat /sys/class/net/", bed_->tap_name(), "/tx_queue_len"));
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  int qlen = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(r.out), &qlen)) << r.out;
  EXPECT_GE(qlen, 10000);
}

TEST_F(StackTest, SigtermExitsZeroAndRemovesEndpointsAndTap) {
  ASSERT_TRUE(LinkExists(bed_->tap_name()));
  absl::StatusOr<int> code = bed_->StopStackd(SIGTERM);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << bed_->StackdLog();
  EXPECT_FALSE(Exists(bed_->stack_path()));
  EXPECT_FALSE(Exists(bed_->grpc_path()));
  EXPECT_FALSE(LinkExists(bed_->tap_name()));
}

TEST_F(StackTest, SigintExitsZeroAndRemovesEndpointsAndTap) {
  absl::StatusOr<int> code = bed_->StopStackd(SIGINT);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << bed_->StackdLog();
  EXPECT_FALSE(Exists(bed_->stack_path()));
  EXPECT_FALSE(Exists(bed_->grpc_path()));
  EXPECT_FALSE(LinkExists(bed_->tap_name()));
}

TEST_F(StackTest, RefusesSecondStackdOnLivePath) {
  // Another TAP and address, so that only the path is in conflict.
  const std::string other_tap = bed_->tap_name() + "x";
  CommandResult second =
      bed_->RunStackd({"--netns=" + bed_->netns(), "--tap=" + other_tap,
                       "--addr=10.42.0.3/24", bed_->stack_path()});
  ExpectRefused(second);
  EXPECT_FALSE(LinkExists(other_tap)) << "the refused stackd left its TAP";

  // The first stackd is untouched: its endpoints and its stack still work.
  EXPECT_TRUE(Exists(bed_->stack_path()));
  CommandResult ping = Ping(kStackIp4);
  EXPECT_EQ(ping.exit_code, 0) << Describe(ping) << bed_->StackdLog();
  CommandResult list = ReflectionClient({bed_->grpc_endpoint(), "list"});
  EXPECT_EQ(list.exit_code, 0) << Describe(list);
}

// stackd drops root: its root helper removes PATH and PATH.grpc even after
// kill -9, within 2 s.
TEST_F(StackTest, EndpointsOfAKilledStackdAreRemovedByItsRootHelper) {
  absl::StatusOr<int> code = bed_->StopStackd(SIGKILL);
  ASSERT_TRUE(code.ok()) << code.status();
  ASSERT_EQ(*code, 128 + SIGKILL);
  const absl::Time deadline = absl::Now() + absl::Seconds(2);
  while ((Exists(bed_->stack_path()) || Exists(bed_->grpc_path())) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_FALSE(Exists(bed_->stack_path()));
  EXPECT_FALSE(Exists(bed_->grpc_path()));

  absl::Status started = bed_->StartStackd();
  ASSERT_TRUE(started.ok()) << started;
  CommandResult ping = Ping(kStackIp4);
  EXPECT_EQ(ping.exit_code, 0) << Describe(ping) << bed_->StackdLog();
}

// A socket file nobody serves (its stackd and root helper both gone) is
// replaced by the next stackd.
TEST_F(StackTest, ReplacesStaleSocketFiles) {
  ASSERT_TRUE(bed_->StopStackd(SIGTERM).ok());
  for (const std::string& path : {bed_->stack_path(), bed_->grpc_path()}) {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << path;
    close(fd);  // The file stays; nothing listens on it.
  }
  absl::Status started = bed_->StartStackd();
  ASSERT_TRUE(started.ok()) << started;
  CommandResult ping = Ping(kStackIp4);
  EXPECT_EQ(ping.exit_code, 0) << Describe(ping) << bed_->StackdLog();
  CommandResult list = ReflectionClient({bed_->grpc_endpoint(), "list"});
  EXPECT_EQ(list.exit_code, 0) << Describe(list);
}

// Once serving, stackd is nobody, with no capability, no_new_privs and a
// seccomp filter (/proc/PID/status), while the other tests pass through it.
TEST_F(StackTest, ServesAsNobodyWithoutCapabilitiesUnderSeccomp) {
  std::ifstream in(absl::StrCat("/proc/", bed_->stackd_pid(), "/status"));
  std::string status((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> lines = NonEmptyLines(status);
  EXPECT_THAT(lines, Contains("Uid:\t65534\t65534\t65534\t65534")) << status;
  EXPECT_THAT(lines, Contains("Gid:\t65534\t65534\t65534\t65534")) << status;
  EXPECT_THAT(lines, Contains("CapEff:\t0000000000000000")) << status;
  EXPECT_THAT(lines, Contains("CapPrm:\t0000000000000000")) << status;
  EXPECT_THAT(lines, Contains("CapBnd:\t0000000000000000")) << status;
  EXPECT_THAT(lines, Contains("NoNewPrivs:\t1")) << status;
  EXPECT_THAT(lines, Contains("Seccomp:\t2")) << status;
  // And it still serves.
  CommandResult ping = Ping(kStackIp4);
  EXPECT_EQ(ping.exit_code, 0) << Describe(ping) << bed_->StackdLog();
  EXPECT_THAT(bed_->StackdLog(), Not(HasSubstr("seccomp refused")));
}

// A namespace and a temp dir, but no stackd: for command lines that stackd
// must refuse.
class StackdRefusalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Testbed::Options options;
    options.start_stackd = false;
    absl::StatusOr<std::unique_ptr<Testbed>> bed = Testbed::Create(options);
    ASSERT_TRUE(bed.ok()) << bed.status();
    bed_ = *std::move(bed);
  }

  // Expects that nothing of a refused stackd is left behind.
  void ExpectNothingLeft(const std::string& path) {
    EXPECT_FALSE(Exists(path));
    EXPECT_FALSE(Exists(path + ".grpc"));
    CommandResult link =
        RunArgv({"ip", "-n", bed_->netns(), "link", "show", bed_->tap_name()},
                absl::Seconds(10));
    EXPECT_NE(link.exit_code, 0) << "TAP left behind: " << link.out;
  }

  std::unique_ptr<Testbed> bed_;
};

TEST_F(StackdRefusalTest, MissingPathDirectory) {
  const std::string path = bed_->dir() + "/missing/net";
  std::vector<std::string> args = bed_->StackdFlags();
  args.push_back(path);
  ExpectRefused(bed_->RunStackd(args));
  ExpectNothingLeft(path);
}

TEST_F(StackdRefusalTest, MalformedAddress) {
  ExpectRefused(
      bed_->RunStackd({"--netns=" + bed_->netns(), "--tap=" + bed_->tap_name(),
                       "--addr=10.1.2.3/99", bed_->stack_path()}));
  ExpectNothingLeft(bed_->stack_path());
}

TEST_F(StackdRefusalTest, MissingNetns) {
  const std::string absent = absl::StrCat("stackd-absent-", getpid());
  ASSERT_FALSE(Exists("/run/netns/" + absent));
  ExpectRefused(
      bed_->RunStackd({"--netns=" + absent, "--tap=" + bed_->tap_name(),
                       "--addr=10.42.0.2/24", bed_->stack_path()}));
  ExpectNothingLeft(bed_->stack_path());
  // Nor in stackd's own namespace.
  EXPECT_NE(RunArgv({"ip", "link", "show", bed_->tap_name()}, absl::Seconds(10))
                .exit_code,
            0);
}

// --netns-path: the TAP's kernel side in the namespace named by its file
// (here the bind mount of `ip netns add`; a container's /proc/PID/ns/net
// alike), and GetStack reports that path.
TEST(StackdNetnsPathTest, TapInTheNamespaceGivenByPathAnswersPing) {
  Testbed::Options options;
  options.netns_by_path = true;
  absl::StatusOr<std::unique_ptr<Testbed>> bed = Testbed::Create(options);
  ASSERT_TRUE(bed.ok()) << bed.status();
  CommandResult r = (*bed)->Run(absl::StrCat("ping -c3 -W2 ", kStackIp4), kPingTimeout);
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_THAT((*bed)->StackdLog(),
              HasSubstr(absl::StrCat(" in netns /run/netns/", (*bed)->netns())));
}

// --ready-fd and systemd's notify protocol: the line comes only once PATH
// and PATH.grpc accept connections, and the fd is closed after it; the
// notify socket gets READY=1 with a status and stackd's pid, then
// STOPPING=1 on SIGTERM.
TEST(StackdReadinessTest, ReadyFdAndNotifySocketTellWhenStackdServesAndStops) {
  const int listener = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  const std::string name = absl::StrCat("stackd-notify-test-", getpid());
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr),
                 static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size())),
            0);
  auto next_datagram = [listener]() -> std::string {
    pollfd pfd{listener, POLLIN, 0};
    if (poll(&pfd, 1, 10000) != 1) return "(nothing in 10 s)";
    char buf[512];
    const ssize_t n = recv(listener, buf, sizeof(buf), 0);
    return n < 0 ? "(error)" : std::string(buf, static_cast<size_t>(n));
  };
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);  // Not close-on-exec: stackd inherits ready[1].
  ASSERT_EQ(setenv("NOTIFY_SOCKET", ("@" + name).c_str(), 1), 0);
  Testbed::Options options;
  options.start_stackd = false;
  options.extra_stackd_flags = {absl::StrCat("--ready-fd=", ready[1])};
  absl::StatusOr<std::unique_ptr<Testbed>> made = Testbed::Create(options);
  ASSERT_TRUE(made.ok()) << made.status();
  Testbed& bed = **made;
  absl::Status started;
  std::thread start([&] { started = bed.StartStackd(); });
  // The line, read as soon as it comes: by then both endpoints answer.
  pollfd pfd{ready[0], POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, 10000), 1) << "no ready line in 10 s";
  const bool path_answers = AcceptsConnections(bed.stack_path());
  const bool grpc_answers = AcceptsConnections(bed.grpc_path());
  start.join();
  ASSERT_TRUE(started.ok()) << started;
  unsetenv("NOTIFY_SOCKET");
  close(ready[1]);
  EXPECT_TRUE(path_answers);
  EXPECT_TRUE(grpc_answers);
  char line[64];
  ASSERT_EQ(read(ready[0], line, sizeof(line)), 8);
  EXPECT_EQ(std::string(line, 8), "READY=1\n");
  EXPECT_EQ(read(ready[0], line, sizeof(line)), 0) << "stackd closed the fd";
  close(ready[0]);
  EXPECT_EQ(next_datagram(),
            absl::StrCat("READY=1\nSTATUS=serving ", bed.stack_path(), " on TAP ",
                         bed.tap_name(), " in netns ", bed.netns(), "\nMAINPID=",
                         bed.stackd_pid(), "\n"));
  absl::StatusOr<int> code = bed.StopStackd(SIGTERM);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(next_datagram(), "STOPPING=1\nSTATUS=signal 15: shutting down\n");
  close(listener);
}

}  // namespace
}  // namespace stackd::testbed
