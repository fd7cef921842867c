// The vustack binary against a real stackd: -s, the errors and exit
// statuses a user sees, the environment the command gets (defaults,
// LD_PRELOAD), -f choosing families, the warning for static programs,
// relative stack paths under `bazel run`, and a program that closes,
// dup2()s and forks its fds and connects from many threads. The commands
// run in a namespace with nothing but loopback, so what reaches the kernel
// servers came through the stack.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/socket.pb.h"
#include "tests/testbed.h"
#include "tests/vustack_peer.h"

namespace stackd::testbed {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

constexpr absl::Duration kProgramTimeout = absl::Seconds(60);
constexpr uint16_t kHttpPort = 8080;
constexpr uint16_t kEchoPort = 7000;
constexpr char kPage[] = "a page from the kernel's side\n";

struct Shared {
  std::unique_ptr<Testbed> bed;
  std::unique_ptr<AppNamespace> app;
  std::vector<std::unique_ptr<Process>> servers;
  std::string vustack;
};

// The value of NAME in `env` output, or nullopt.
std::optional<std::string> EnvValue(const std::string& env_output,
                                    absl::string_view name) {
  for (absl::string_view line : absl::StrSplit(env_output, '\n')) {
    if (absl::ConsumePrefix(&line, absl::StrCat(name, "="))) {
      return std::string(line);
    }
  }
  return std::nullopt;
}

// The stack's answer to InterfacesRequest: the list, Unimplemented when
// the stack does not answer the request, or why there was no answer.
absl::StatusOr<socket::v1::InterfaceList> AskInterfaces(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  socket::v1::Request request;
  request.set_version(socket::v1::PROTOCOL_VERSION_CURRENT);
  request.mutable_interfaces();
  const std::string bytes = request.SerializeAsString();
  char answer[65536];
  ssize_t n = -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(bytes.size())) {
    n = recv(fd, answer, sizeof(answer), 0);
  }
  const int error = errno;
  close(fd);
  socket::v1::Response response;
  if (n <= 0 || !response.ParseFromArray(answer, static_cast<int>(n))) {
    return absl::ErrnoToStatus(n < 0 ? error : EPROTO, "InterfacesRequest");
  }
  // EINVAL: built before the request existed; EBADF: built with it in the
  // proto but without a handler (it asks for the socket's fd).
  if ((response.error() == EINVAL || response.error() == EBADF) &&
      !response.has_interfaces()) {
    return absl::UnimplementedError("the stack predates InterfacesRequest");
  }
  if (response.error() != 0) {
    return absl::ErrnoToStatus(response.error(), "InterfacesRequest");
  }
  return response.interfaces();
}

class VustackLauncherTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    shared_ = new Shared();
    setup_ = Prepare(shared_);
  }
  static void TearDownTestSuite() {
    delete shared_;
    shared_ = nullptr;
  }

  static absl::Status Prepare(Shared* s) {
    absl::StatusOr<std::unique_ptr<Testbed>> bed = Testbed::Create();
    if (!bed.ok()) return bed.status();
    s->bed = *std::move(bed);
    absl::StatusOr<std::unique_ptr<AppNamespace>> app =
        AppNamespace::Create(*s->bed);
    if (!app.ok()) return app.status();
    s->app = *std::move(app);
    absl::StatusOr<std::string> vustack = VustackBinary();
    if (!vustack.ok()) return vustack.status();
    s->vustack = *vustack;
    const std::string www = s->bed->dir() + "/www";
    if (mkdir(www.c_str(), 0755) != 0) return absl::ErrnoToStatus(errno, www);
    std::ofstream(www + "/page.txt") << kPage;
    const std::vector<std::vector<std::string>> servers = {
        {kPython, "-m", "http.server", std::to_string(kHttpPort), "--bind",
         "::", "--directory", www},
        {"socat",
         absl::StrCat("TCP6-LISTEN:", kEchoPort, ",ipv6only=0,reuseaddr,fork"),
         "PIPE"},
    };
    for (size_t i = 0; i < servers.size(); ++i) {
      absl::StatusOr<std::unique_ptr<Process>> p =
          Process::Start(s->bed->netns(), {}, servers[i],
                         absl::StrCat(s->bed->dir(), "/server", i, ".log"));
      if (!p.ok()) return p.status();
      s->servers.push_back(*std::move(p));
    }
    for (uint16_t port : {kHttpPort, kEchoPort}) {
      absl::Status ready = WaitForListener(s->bed->netns(), kKernelIp4, port);
      if (!ready.ok()) return ready;
    }
    return absl::OkStatus();
  }

  void SetUp() override { ASSERT_TRUE(setup_.ok()) << setup_; }

  void TearDown() override {
    if (HasFailure() && shared_ != nullptr && shared_->bed != nullptr) {
      std::fprintf(stderr, "stackd log:\n%s\n", shared_->bed->StackdLog().c_str());
    }
  }

  // vustack with `args`, in the namespace without a network, with the
  // environment `env` (and PATH).
  static CommandResult Vustack(const std::vector<std::string>& args,
                               const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {shared_->vustack};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunArgv(InNamespace(shared_->app->name(), env, argv),
                   kProgramTimeout);
  }

  static const std::string& Stack() { return shared_->bed->stack_path(); }

  static std::string PageUrl(absl::string_view host) {
    return absl::StrCat("http://", host, ":", kHttpPort, "/page.txt");
  }

  static Shared* shared_;
  static absl::Status setup_;
};

Shared* VustackLauncherTest::shared_ = nullptr;
absl::Status VustackLauncherTest::setup_;

TEST_F(VustackLauncherTest, ShowsTheFamiliesOfTheStack) {
  CommandResult r = Vustack({"-s", Stack()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ipv4 ipv6\n");
  EXPECT_EQ(r.err, "");
  // With a command too: the list, then the command.
  r = Vustack({"-s", Stack(), "echo", "then this"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ipv4 ipv6\nthen this\n");
}

TEST_F(VustackLauncherTest, RefusesWhatIsNotAStack) {
  CommandResult r = Vustack({shared_->bed->dir() + "/nothing", "true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_THAT(r.err, HasSubstr("no such stack"));
  EXPECT_EQ(r.out, "");
  const std::string file = shared_->bed->dir() + "/plain-file";
  std::ofstream(file) << "not a socket\n";
  r = Vustack({file, "true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_THAT(r.err, HasSubstr("not a stack"));
  // A unix socket that speaks something else (the admin service's gRPC).
  r = Vustack({"-s", shared_->bed->grpc_path()});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_THAT(r.err, HasSubstr("not a stack"));
  // One line each.
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = Vustack({"-f", "ipx", Stack(), "true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_THAT(r.err, HasSubstr("unknown family 'ipx'"));
  r = Vustack({Stack()});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_THAT(r.err, HasSubstr("missing COMMAND"));
}

TEST_F(VustackLauncherTest, MissingCommandIs127AndUnrunnableIs126) {
  CommandResult r = Vustack({Stack(), "no-such-command-anywhere"});
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_EQ(r.err, "vustack: no-such-command-anywhere: command not found\n");
  r = Vustack({Stack(), "/no/such/program"});
  EXPECT_EQ(r.exit_code, 127);
  const std::string data = shared_->bed->dir() + "/data-file";
  std::ofstream(data) << "data\n";
  chmod(data.c_str(), 0644);
  r = Vustack({Stack(), data});
  EXPECT_EQ(r.exit_code, 126);
  EXPECT_THAT(r.err, HasSubstr("Permission denied"));
  r = Vustack({Stack(), shared_->bed->dir()});
  EXPECT_EQ(r.exit_code, 126);
}

TEST_F(VustackLauncherTest, TheCommandsOutputAndStatusAlone) {
  // The library prints nothing; the status is the command's.
  CommandResult r = Vustack(
      {Stack(), "sh", "-c", "echo out; echo err >&2; exit 7"});
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST_F(VustackLauncherTest, EnvironmentOfTheCommand) {
  CommandResult r =
      Vustack({Stack(), "env"}, {"LD_PRELOAD=/nonexistent/libother.so"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(EnvValue(r.out, "MSOCKET_STACK_INET"), Stack());
  EXPECT_EQ(EnvValue(r.out, "MSOCKET_STACK_INET6"), Stack());
  const std::optional<std::string> preload = EnvValue(r.out, "LD_PRELOAD");
  ASSERT_TRUE(preload.has_value()) << r.out;
  EXPECT_THAT(*preload, StartsWith("/"));
  EXPECT_THAT(*preload, EndsWith("/libmsocket.so:/nonexistent/libother.so"));

  r = Vustack({"-f", "inet", Stack(), "env"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(EnvValue(r.out, "MSOCKET_STACK_INET"), Stack());
  EXPECT_EQ(EnvValue(r.out, "MSOCKET_STACK_INET6"), std::nullopt);
  EXPECT_EQ(EnvValue(r.out, "MSOCKET_STACK"), std::nullopt);
  EXPECT_THAT(*EnvValue(r.out, "LD_PRELOAD"), EndsWith("/libmsocket.so"));
}

TEST_F(VustackLauncherTest, BothFamiliesThroughTheStack) {
  for (absl::string_view host :
       {std::string(kKernelIp4), absl::StrCat("[", kKernelIp6, "]")}) {
    CommandResult r =
        Vustack({Stack(), "curl", "-sS", "--max-time", "20", PageUrl(host)});
    EXPECT_EQ(r.exit_code, 0) << host << r.err;
    EXPECT_EQ(r.out, kPage) << host;
  }
  // Without vustack nothing gets out of this namespace.
  CommandResult r = RunArgv(
      InNamespace(shared_->app->name(), {},
                  {"curl", "-sS", "--max-time", "5", PageUrl(kKernelIp4)}),
      kProgramTimeout);
  EXPECT_EQ(r.exit_code, 7) << r.out << r.err;  // Could not connect.
}

TEST_F(VustackLauncherTest, ChosenFamiliesOnly) {
  // -f ipv4: IPv6 stays on the kernel, which has no route here.
  CommandResult r = Vustack({"-f", "ipv4", Stack(), "curl", "-sS",
                             "--max-time", "20", PageUrl(kKernelIp4)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, kPage);
  r = Vustack({"-f", "ipv4", Stack(), "curl", "-sS", "--max-time", "20",
               PageUrl(absl::StrCat("[", kKernelIp6, "]"))});
  EXPECT_EQ(r.exit_code, 7) << r.out << r.err;
  // -f ip6: the other way round.
  r = Vustack({"-f", "ip6", Stack(), "curl", "-sS", "--max-time", "20",
               PageUrl(absl::StrCat("[", kKernelIp6, "]"))});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, kPage);
  r = Vustack({"-f", "ip6", Stack(), "curl", "-sS", "--max-time", "20",
               PageUrl(kKernelIp4)});
  EXPECT_EQ(r.exit_code, 7) << r.out << r.err;
}

TEST_F(VustackLauncherTest, WarnsAboutStaticCommands) {
  absl::StatusOr<std::string> program = Runfile("vustack/static_hello");
  ASSERT_TRUE(program.ok()) << program.status();
  CommandResult r = Vustack({Stack(), *program, "a", "b"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "static hello a b\n");
  EXPECT_THAT(r.err, StartsWith("vustack: warning: "));
  EXPECT_THAT(r.err, HasSubstr("statically linked"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  // Dynamic ones are not warned about.
  r = Vustack({Stack(), "true"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
}

TEST_F(VustackLauncherTest, RelativeStackPathAndBazelRunDirectory) {
  const std::string dir = shared_->bed->dir();
  const std::string name = Stack().substr(dir.size() + 1);
  CommandResult r = Vustack(
      {"-s", name}, {absl::StrCat("BUILD_WORKING_DIRECTORY=", dir)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ipv4 ipv6\n");
  // The command runs in that directory and gets the stack's absolute path.
  r = Vustack({name, "sh", "-c", "pwd; echo $MSOCKET_STACK_INET"},
              {absl::StrCat("BUILD_WORKING_DIRECTORY=", dir)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, absl::StrCat(dir, "\n", Stack(), "\n"));
  r = RunArgv(InNamespace(shared_->app->name(), {},
                          {"sh", "-c",
                           absl::StrCat("cd ", dir, " && exec ", shared_->vustack,
                                        " ", name, " sh -c 'echo $MSOCKET_STACK_INET6'")}),
              kProgramTimeout);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, Stack() + "\n");
}

TEST_F(VustackLauncherTest, ProgramThatClosesMovesAndForksItsFds) {
  absl::StatusOr<std::string> program = Runfile("tests/vustack_fd_program");
  ASSERT_TRUE(program.ok()) << program.status();
  for (absl::string_view ip : {kKernelIp4, kKernelIp6}) {
    CommandResult r = Vustack(
        {Stack(), *program, std::string(ip), std::to_string(kEchoPort)});
    EXPECT_EQ(r.exit_code, 0) << ip << "\n" << r.out << r.err;
    EXPECT_EQ(r.out,
              "ok after closefrom and close_range\n"
              "ok with every fd number taken\n"
              "ok moved to fd 200\n"
              "ok moved onto stdin\n"
              "ok across fork\n"
              "ok 8 threads\n")
        << ip << "\n" << r.err;
  }
}

// getifaddrs (Node.js's os.networkInterfaces()) and if_nameindex
// (Python's socket.if_nameindex()) show the stack's interfaces.
TEST_F(VustackLauncherTest, InterfacesAreTheStacks) {
  // (With a stackd that does not answer, the library falls back to the
  // kernel's interfaces: client/ifaddrs_interpose_test.cc.)
  absl::StatusOr<socket::v1::InterfaceList> list = AskInterfaces(Stack());
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_GE(list->interfaces_size(), 2);  // The TAP's and lwIP's loopback.
  std::string names;
  for (const socket::v1::Interface& nif : list->interfaces()) {
    absl::StrAppend(&names, "(", nif.index(), ", '", nif.name(), "')");
  }
  CommandResult r = Vustack(
      {Stack(), kPython, "-c",
       "import socket\n"
       "print(''.join('(%d, %r)' % (i, n) for i, n in socket.if_nameindex()))\n"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, names + "\n");
  // The namespace's kernel has only "lo": the TAP's name is the stack's.
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("'", shared_->bed->tap_name(), "'")));
  EXPECT_THAT(r.out, HasSubstr("'lo'"));
  r = Vustack({Stack(), "node", "-e",
               "const all = Object.values(require('os').networkInterfaces()).flat();\n"
               "console.log(all.map((a) => a.cidr).sort().join(' '));\n"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat(kStackIp4, "/", kIp4PrefixLength)));
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat(kStackIp6, "/", kIp6PrefixLength)));
}

}  // namespace
}  // namespace stackd::testbed
