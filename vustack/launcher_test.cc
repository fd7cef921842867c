// vustack's launcher without root or a TAP: the command line, finding
// libmsocket.so, resolving commands, ELF linkage, LD_PRELOAD, and the
// defaults against a fake stack that answers Hello on a SOCK_SEQPACKET
// socket in a temporary directory.
#include "vustack/launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/socket.pb.h"

namespace stackd::vustack {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A temporary directory, removed with everything in it.
class TempDir {
 public:
  // In $TEST_TMPDIR, or in /tmp with `short_path` (room for unix socket
  // paths).
  explicit TempDir(bool short_path = false) {
    const char* base = short_path ? nullptr : getenv("TEST_TMPDIR");
    std::string pattern = absl::StrCat(base != nullptr ? base : "/tmp",
                                       "/launcher_test.XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

  // Creates the file `relative` (and its directories) with `mode`.
  std::string File(const std::string& relative, mode_t mode,
                   const std::string& content = "") const {
    const std::string full = absl::StrCat(path_, "/", relative);
    std::filesystem::create_directories(
        std::filesystem::path(full).parent_path());
    std::ofstream(full) << content;
    chmod(full.c_str(), mode);
    return full;
  }

 private:
  std::string path_;
};

// A fake stack: answers every HelloRequest with `families`, anything else
// with EINVAL. Short unix socket paths: /tmp, not TEST_TMPDIR.
class FakeHelloStack {
 public:
  explicit FakeHelloStack(std::vector<int> families)
      : families_(std::move(families)) {
    char dir[] = "/tmp/vustack_fake.XXXXXX";
    if (mkdtemp(dir) == nullptr) std::abort();
    dir_ = dir;
    path_ = dir_ + "/stack";
    listen_fd_ = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path_.c_str());
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) ||
        ::listen(listen_fd_, 16) || pipe2(stop_, O_CLOEXEC)) {
      std::abort();
    }
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeHelloStack() {
    char c = 0;
    (void)!write(stop_[1], &c, 1);
    thread_.join();
    close(stop_[0]);
    close(stop_[1]);
    close(listen_fd_);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  void Serve() {
    for (;;) {
      pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
      if (poll(p, 2, -1) < 0) continue;
      if (p[1].revents != 0) return;
      const int c = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      char buf[4096];
      const ssize_t n = recv(c, buf, sizeof(buf), 0);
      socket::v1::Request request;
      socket::v1::Response response;
      response.set_version(socket::v1::PROTOCOL_VERSION_CURRENT);
      if (n > 0 && request.ParseFromArray(buf, static_cast<int>(n)) &&
          request.has_hello()) {
        for (int f : families_) response.mutable_hello()->add_families(f);
        response.mutable_hello()->set_stack_path(path_);
      } else {
        response.set_error(EINVAL);
      }
      const std::string bytes = response.SerializeAsString();
      (void)!send(c, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      close(c);
    }
  }

  std::vector<int> families_;
  std::string dir_;
  std::string path_;
  int listen_fd_ = -1;
  int stop_[2] = {-1, -1};
  std::thread thread_;
};

// Clears the process's default stacks around each test that sets them.
class DefaultsTest : public ::testing::Test {
 protected:
  void SetUp() override { Clear(); }
  void TearDown() override { Clear(); }
  static void Clear() {
    unsetenv("MSOCKET_STACK");
    unsetenv("MSOCKET_STACK_INET");
    unsetenv("MSOCKET_STACK_INET6");
  }
};

TEST(ParseFamiliesTest, Names) {
  EXPECT_THAT(*ParseFamilies("ip"), ElementsAre(AF_INET, AF_INET6));
  EXPECT_THAT(*ParseFamilies("ipv4"), ElementsAre(AF_INET));
  EXPECT_THAT(*ParseFamilies("ip4"), ElementsAre(AF_INET));
  EXPECT_THAT(*ParseFamilies("inet"), ElementsAre(AF_INET));
  EXPECT_THAT(*ParseFamilies("ipv6"), ElementsAre(AF_INET6));
  EXPECT_THAT(*ParseFamilies("ip6"), ElementsAre(AF_INET6));
  EXPECT_THAT(*ParseFamilies("inet6"), ElementsAre(AF_INET6));
  EXPECT_THAT(*ParseFamilies("ipv6,ipv4"), ElementsAre(AF_INET6, AF_INET));
  EXPECT_THAT(*ParseFamilies("inet,ip4,ip"), ElementsAre(AF_INET, AF_INET6));
}

TEST(ParseFamiliesTest, Errors) {
  for (const char* bad : {"", "ipx", "ip,", ",ip", "IPV4", "unix", "ip4 ip6"}) {
    absl::StatusOr<std::vector<int>> r = ParseFamilies(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << bad;
  }
  EXPECT_THAT(ParseFamilies("ipx").status().message(), HasSubstr("'ipx'"));
}

std::vector<std::string> Args(std::initializer_list<const char*> list) {
  return std::vector<std::string>(list.begin(), list.end());
}

TEST(ParseCommandLineTest, StackAndCommand) {
  absl::StatusOr<Invocation> inv =
      ParseCommandLine(Args({"vustack", "/run/s", "curl", "-v", "-f", "x"}));
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->stack, "/run/s");
  EXPECT_THAT(inv->families, IsEmpty());
  EXPECT_FALSE(inv->show_families);
  // The command's own options are left alone.
  EXPECT_THAT(inv->command, ElementsAre("curl", "-v", "-f", "x"));
}

TEST(ParseCommandLineTest, FamilyOptions) {
  absl::StatusOr<Invocation> inv =
      ParseCommandLine(Args({"vustack", "-f", "ipv6", "-fip4", "s", "c"}));
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_THAT(inv->families, ElementsAre(AF_INET6, AF_INET));
  inv = ParseCommandLine(Args({"vustack", "-sf", "ip", "s", "c"}));
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_TRUE(inv->show_families);
  EXPECT_THAT(inv->families, ElementsAre(AF_INET, AF_INET6));
  inv = ParseCommandLine(Args({"vustack", "--families=inet6", "s", "c"}));
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_THAT(inv->families, ElementsAre(AF_INET6));
  inv = ParseCommandLine(Args({"vustack", "--families", "inet", "s", "c"}));
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_THAT(inv->families, ElementsAre(AF_INET));
}

TEST(ParseCommandLineTest, ShowFamiliesNeedsNoCommand) {
  absl::StatusOr<Invocation> inv = ParseCommandLine(Args({"vustack", "-s", "s"}));
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_TRUE(inv->show_families);
  EXPECT_EQ(inv->stack, "s");
  EXPECT_THAT(inv->command, IsEmpty());
  inv = ParseCommandLine(Args({"vustack", "--supported", "s", "true"}));
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_TRUE(inv->show_families);
  EXPECT_THAT(inv->command, ElementsAre("true"));
}

TEST(ParseCommandLineTest, DoubleDashEndsOptions) {
  absl::StatusOr<Invocation> inv =
      ParseCommandLine(Args({"vustack", "-f", "ip4", "--", "-odd", "cmd"}));
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->stack, "-odd");
  EXPECT_THAT(inv->command, ElementsAre("cmd"));
}

TEST(ParseCommandLineTest, Help) {
  EXPECT_TRUE(ParseCommandLine(Args({"vustack", "-h"}))->help);
  EXPECT_TRUE(ParseCommandLine(Args({"vustack", "--help"}))->help);
  EXPECT_THAT(Usage(), HasSubstr("vustack [-f FAMILIES] [-s] STACK COMMAND"));
}

TEST(ParseCommandLineTest, UsageErrors) {
  const std::vector<std::vector<std::string>> bad = {
      Args({"vustack"}),
      Args({"vustack", "s"}),                 // No command.
      Args({"vustack", "-f"}),                // No list.
      Args({"vustack", "-f", "ipx", "s", "c"}),
      Args({"vustack", "-x", "s", "c"}),
      Args({"vustack", "--bogus", "s", "c"}),
      Args({"vustack", "-s"}),                // No stack.
      Args({"vustack", "", "c"}),             // Empty stack.
  };
  for (const auto& args : bad) {
    absl::StatusOr<Invocation> inv = ParseCommandLine(args);
    EXPECT_TRUE(absl::IsInvalidArgument(inv.status()))
        << args.size() << " " << (args.size() > 1 ? args[1] : "");
  }
  EXPECT_EQ(ParseCommandLine(Args({"vustack", "s"})).status().message(),
            "missing COMMAND");
  EXPECT_EQ(ParseCommandLine(Args({"vustack"})).status().message(),
            "missing STACK");
}

TEST(PreloadListTest, LibraryFirstThenTheCallersEntries) {
  EXPECT_EQ(PreloadList("/l/libmsocket.so", ""), "/l/libmsocket.so");
  EXPECT_EQ(PreloadList("/l/libmsocket.so", "/a.so"),
            "/l/libmsocket.so:/a.so");
  EXPECT_EQ(PreloadList("/l/libmsocket.so", " /a.so  /b.so::/c.so "),
            "/l/libmsocket.so:/a.so:/b.so:/c.so");
  // Nested vustacks preload it once.
  EXPECT_EQ(PreloadList("/l/libmsocket.so", "/a.so:/l/libmsocket.so"),
            "/l/libmsocket.so:/a.so");
}

TEST(FindPreloadLibraryTest, BazelOutputTree) {
  TempDir d;
  const std::string exe = d.File("bin/vustack/vustack", 0755);
  const std::string lib = d.File("bin/client/libmsocket.so", 0755);
  absl::StatusOr<std::string> found = FindPreloadLibrary(exe, "");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, std::filesystem::canonical(lib).string());
}

TEST(FindPreloadLibraryTest, Runfiles) {
  TempDir d;
  const std::string exe = d.File("x/vustack", 0755);
  const std::string lib =
      d.File("x/vustack.runfiles/stackd/client/libmsocket.so", 0755);
  absl::StatusOr<std::string> found = FindPreloadLibrary(exe, "");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, std::filesystem::canonical(lib).string());

  TempDir r;
  const std::string lib2 = r.File("rf/stackd/client/libmsocket.so", 0755);
  found = FindPreloadLibrary(r.path() + "/elsewhere/vustack",
                             r.path() + "/rf");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, std::filesystem::canonical(lib2).string());
}

TEST(FindPreloadLibraryTest, InstalledLayouts) {
  TempDir d;
  const std::string exe = d.File("usr/bin/vustack", 0755);
  const std::string lib = d.File("usr/lib/libmsocket.so", 0755);
  absl::StatusOr<std::string> found = FindPreloadLibrary(exe, "");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, std::filesystem::canonical(lib).string());

  const std::string beside = d.File("opt/libmsocket.so", 0755);
  found = FindPreloadLibrary(d.path() + "/opt/vustack", "");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, std::filesystem::canonical(beside).string());
}

TEST(FindPreloadLibraryTest, MissingOrUnusable) {
  TempDir d;
  absl::StatusOr<std::string> found =
      FindPreloadLibrary(d.path() + "/bin/vustack", "");
  EXPECT_TRUE(absl::IsNotFound(found.status()));
  EXPECT_THAT(found.status().message(), HasSubstr("libmsocket.so"));
  // A directory of that name is not the library.
  std::filesystem::create_directories(d.path() + "/bin/libmsocket.so");
  EXPECT_TRUE(
      absl::IsNotFound(FindPreloadLibrary(d.path() + "/bin/vustack", "").status()));
  // LD_PRELOAD splits on spaces and colons.
  d.File("odd dir/libmsocket.so", 0755);
  EXPECT_TRUE(absl::IsInvalidArgument(
      FindPreloadLibrary(d.path() + "/odd dir/vustack", "").status()));
}

TEST(ResolveCommandTest, SearchesPathLikeExecvp) {
  TempDir d;
  const std::string tool = d.File("b/tool", 0755, "#!/bin/sh\n");
  d.File("a/tool", 0644, "not executable");
  const std::string path = d.path() + "/a:" + d.path() + "/b";
  absl::StatusOr<std::string> r = ResolveCommand("tool", path.c_str());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, tool);
  r = ResolveCommand("sh", "/nonexistent:/bin:/usr/bin");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "/bin/sh");
  // PATH unset: execvp's default.
  r = ResolveCommand("sh", nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "/bin/sh");
}

TEST(ResolveCommandTest, NotFoundIs127) {
  absl::StatusOr<std::string> r =
      ResolveCommand("no-such-command-here", "/bin:/usr/bin");
  EXPECT_TRUE(absl::IsNotFound(r.status()));
  EXPECT_EQ(ExitCodeFor(r.status()), kExitNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("command not found"));
  r = ResolveCommand("/no/such/file", "/bin");
  EXPECT_TRUE(absl::IsNotFound(r.status()));
  EXPECT_EQ(ExitCodeFor(r.status()), 127);
  EXPECT_EQ(ExitCodeFor(ResolveCommand("", "/bin").status()), 127);
}

TEST(ResolveCommandTest, NotExecutableIs126) {
  TempDir d;
  const std::string file = d.File("a/tool", 0644, "data");
  const std::string path = d.path() + "/a";
  absl::StatusOr<std::string> r = ResolveCommand("tool", path.c_str());
  EXPECT_TRUE(absl::IsPermissionDenied(r.status())) << r.status();
  EXPECT_EQ(ExitCodeFor(r.status()), kExitCannotExecute);
  r = ResolveCommand(file, nullptr);
  EXPECT_EQ(ExitCodeFor(r.status()), 126);
  r = ResolveCommand(d.path(), nullptr);  // A directory.
  EXPECT_TRUE(absl::IsPermissionDenied(r.status())) << r.status();
}

TEST(ExecutableLinkageTest, DynamicStaticAndScripts) {
  EXPECT_EQ(*ExecutableLinkage("/bin/sh"), Linkage::kDynamic);
  const char* srcdir = getenv("TEST_SRCDIR");
  ASSERT_NE(srcdir, nullptr);
  const std::string static_hello =
      absl::StrCat(srcdir, "/stackd/vustack/static_hello");
  EXPECT_EQ(*ExecutableLinkage(static_hello), Linkage::kStatic);
  // Debian's ldconfig is static-pie: no interpreter either.
  if (access("/sbin/ldconfig", R_OK) == 0) {
    EXPECT_EQ(*ExecutableLinkage("/sbin/ldconfig"), Linkage::kStatic);
  }
  TempDir d;
  EXPECT_EQ(*ExecutableLinkage(d.File("s", 0755, "#!/bin/sh\necho\n")),
            Linkage::kNotElf);
  EXPECT_EQ(*ExecutableLinkage(d.File("t", 0755, "\x7f" "ELF")),
            Linkage::kNotElf);  // Truncated.
  EXPECT_FALSE(ExecutableLinkage(d.path() + "/missing").ok());
}

TEST_F(DefaultsTest, FamiliesOfAStack) {
  FakeHelloStack both({AF_INET6, AF_INET});
  EXPECT_THAT(*StackFamilies(both.path()), ElementsAre(AF_INET, AF_INET6));
  FakeHelloStack v4({AF_INET});
  EXPECT_THAT(*StackFamilies(v4.path()), ElementsAre(AF_INET));
  EXPECT_EQ(FamilyName(AF_INET), "ipv4");
  EXPECT_EQ(FamilyName(AF_INET6), "ipv6");
}

TEST_F(DefaultsTest, MissingStackAndNotAStack) {
  TempDir d(/*short_path=*/true);
  absl::StatusOr<std::vector<int>> f = StackFamilies(d.path() + "/nothing");
  EXPECT_TRUE(absl::IsNotFound(f.status())) << f.status();
  EXPECT_THAT(f.status().message(), HasSubstr("no such stack"));
  const std::string file = d.File("plain", 0644, "x");
  f = StackFamilies(file);
  EXPECT_TRUE(absl::IsFailedPrecondition(f.status())) << f.status();
  EXPECT_THAT(f.status().message(), HasSubstr("not a stack"));

  absl::Status s = SetDefaultStacks(d.path() + "/nothing", {});
  EXPECT_THAT(s.message(), HasSubstr("no such stack"));
  EXPECT_EQ(s.code(), absl::ErrnoToStatus(ENOENT, "").code());
  s = SetDefaultStacks(file, {AF_INET});
  EXPECT_THAT(s.message(), HasSubstr("not a stack"));
  EXPECT_EQ(getenv("MSOCKET_STACK_INET"), nullptr);

  const std::string long_path = "/tmp/" + std::string(200, 'x');
  f = StackFamilies(long_path);
  EXPECT_THAT(f.status().message(), HasSubstr("too long"));
  EXPECT_THAT(SetDefaultStacks(long_path, {}).message(), HasSubstr("too long"));
}

TEST_F(DefaultsTest, EveryServedFamilyByDefault) {
  FakeHelloStack v4({AF_INET});
  ASSERT_TRUE(SetDefaultStacks(v4.path(), {}).ok());
  ASSERT_NE(getenv("MSOCKET_STACK_INET"), nullptr);
  EXPECT_EQ(std::string(getenv("MSOCKET_STACK_INET")), v4.path());
  EXPECT_EQ(getenv("MSOCKET_STACK_INET6"), nullptr);  // Stays the kernel's.
}

TEST_F(DefaultsTest, ChosenFamiliesOnlyAndOthersInherited) {
  FakeHelloStack both({AF_INET, AF_INET6});
  setenv("MSOCKET_STACK", "/outer/stack", 1);
  ASSERT_TRUE(SetDefaultStacks(both.path(), {AF_INET6}).ok());
  EXPECT_EQ(std::string(getenv("MSOCKET_STACK_INET6")), both.path());
  EXPECT_EQ(getenv("MSOCKET_STACK_INET"), nullptr);
  EXPECT_EQ(std::string(getenv("MSOCKET_STACK")), "/outer/stack");
}

TEST_F(DefaultsTest, UnservedFamilyIsRefusedWithWhatIsServed) {
  FakeHelloStack v4({AF_INET});
  absl::Status s = SetDefaultStacks(v4.path(), {AF_INET6});
  EXPECT_EQ(s.code(), absl::ErrnoToStatus(EAFNOSUPPORT, "").code());
  EXPECT_THAT(s.message(), HasSubstr("does not serve ipv6 (it serves ipv4)"));
  FakeHelloStack none({});
  s = SetDefaultStacks(none.path(), {});
  EXPECT_THAT(s.message(), HasSubstr("does not serve ipv4 or ipv6"));
}

TEST_F(DefaultsTest, RelativeStackPathIsStoredAbsolute) {
  FakeHelloStack v4({AF_INET});
  const std::string cwd = std::filesystem::current_path();
  const std::string dir = std::filesystem::path(v4.path()).parent_path();
  ASSERT_EQ(chdir(dir.c_str()), 0);
  const absl::Status s = SetDefaultStacks("stack", {AF_INET});
  ASSERT_EQ(chdir(cwd.c_str()), 0);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(std::string(getenv("MSOCKET_STACK_INET")), v4.path());
}

}  // namespace
}  // namespace stackd::vustack
