#include "tap/tap_device.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace stackd::tap {
namespace {

// Runs a shell command and returns its exit status.
int Shell(const std::string& command) { return std::system(command.c_str()); }

// What `ip -n NETNS link show dev IFNAME` says about an interface.
struct Link {
  bool exists = false;
  bool up = false;
  int mtu = 0;
};

Link ShowLink(const std::string& netns, const std::string& ifname) {
  const std::string command = absl::StrCat("ip -n ", netns,
                                           " -o link show dev ", ifname,
                                           " 2>/dev/null");
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof(buf), pipe) != nullptr) out += buf;
  Link link;
  link.exists = pclose(pipe) == 0;
  if (!link.exists) return link;
  // "7: stackd0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 65520 qdisc ..."
  const size_t open = out.find('<');
  const size_t close = out.find('>', open);
  if (open != std::string::npos && close != std::string::npos) {
    for (absl::string_view flag :
         absl::StrSplit(out.substr(open + 1, close - open - 1), ',')) {
      if (flag == "UP") link.up = true;
    }
  }
  const size_t mtu = out.find(" mtu ");
  if (mtu != std::string::npos) {
    absl::string_view rest = absl::string_view(out).substr(mtu + 5);
    EXPECT_TRUE(absl::SimpleAtoi(rest.substr(0, rest.find(' ')), &link.mtu));
  }
  return link;
}

// The inode of the calling thread's network namespace.
ino_t ThreadNetns() {
  struct stat st {};
  EXPECT_EQ(stat("/proc/thread-self/ns/net", &st), 0);
  return st.st_ino;
}

class TapDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    netns_ = absl::StrCat("stackd-taptest-", getpid());
    Shell(absl::StrCat("ip netns del ", netns_, " 2>/dev/null"));
    ASSERT_EQ(Shell(absl::StrCat("ip netns add ", netns_)), 0);
  }
  void TearDown() override {
    Shell(absl::StrCat("ip netns del ", netns_, " 2>/dev/null"));
  }

  TapOptions Options(const std::string& ifname, int mtu = 0) const {
    TapOptions opts;
    opts.ifname = ifname;
    opts.netns = netns_;
    opts.mtu = mtu;
    return opts;
  }

  std::string netns_;
};

TEST(TapOptionsTest, RejectsBadNamesBeforeAnySystemCall) {
  for (const char* ifname : {"stackd-0123456789", "a/b", "a b", "a\tb", "a:b",
                             ".", ".."}) {
    TapOptions opts;
    opts.ifname = ifname;
    // A namespace that does not exist: validation must come first.
    opts.netns = "stackd-taptest-does-not-exist";
    EXPECT_EQ(TapDevice::Open(opts).status().code(),
              absl::StatusCode::kInvalidArgument)
        << ifname;
  }
  for (const char* netns : {"a/b", "..", "."}) {
    TapOptions opts;
    opts.netns = netns;
    EXPECT_EQ(TapDevice::Open(opts).status().code(),
              absl::StatusCode::kInvalidArgument)
        << netns;
  }
  TapOptions opts;
  opts.mtu = -1;
  opts.netns = "stackd-taptest-does-not-exist";
  EXPECT_EQ(TapDevice::Open(opts).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TapDeviceTest, CreatesInNamespaceAndDisappearsWhenClosed) {
  const ino_t netns_before = ThreadNetns();
  std::string name;
  {
    absl::StatusOr<TapDevice> tap = TapDevice::Open(Options(""));
    ASSERT_TRUE(tap.ok()) << tap.status();
    EXPECT_EQ(ThreadNetns(), netns_before);
    name = tap->name();
    EXPECT_TRUE(absl::StartsWith(name, "stackd")) << name;
    EXPECT_TRUE(tap->created());
    EXPECT_EQ(tap->mtu(), 65520);
    EXPECT_EQ(tap->netns(), netns_);

    const Link link = ShowLink(netns_, name);
    EXPECT_TRUE(link.exists);
    EXPECT_TRUE(link.up);
    EXPECT_EQ(link.mtu, 65520);

    // Attached, non-blocking and close-on-exec: once the frames the kernel
    // sends on link-up (IPv6 router solicitations, MLD reports) are read,
    // EAGAIN (a detached tun fd would fail with EBADFD).
    EXPECT_NE(fcntl(tap->fd(), F_GETFL) & O_NONBLOCK, 0);
    EXPECT_NE(fcntl(tap->fd(), F_GETFD) & FD_CLOEXEC, 0);
    char frame[70000];
    ssize_t n = 0;
    for (int i = 0; i < 100 && (n = read(tap->fd(), frame, sizeof(frame))) > 0; ++i) {
    }
    EXPECT_EQ(n, -1);
    EXPECT_EQ(errno, EAGAIN);
  }
  EXPECT_FALSE(ShowLink(netns_, name).exists);
}

// A namespace named by its file, as a container's /proc/PID/ns/net: here
// the bind mount `ip netns add` made.
TEST_F(TapDeviceTest, CreatesInNamespaceGivenByPath) {
  const ino_t netns_before = ThreadNetns();
  TapOptions opts;
  opts.ifname = "stk-bypath";
  opts.netns_path = absl::StrCat("/var/run/netns/", netns_);
  absl::StatusOr<TapDevice> tap = TapDevice::Open(opts);
  ASSERT_TRUE(tap.ok()) << tap.status();
  EXPECT_EQ(ThreadNetns(), netns_before);
  EXPECT_EQ(tap->netns(), opts.netns_path);
  EXPECT_TRUE(ShowLink(netns_, "stk-bypath").exists);
}

TEST(TapOptionsTest, NamespacePathMustBeAbsoluteExistingAndAlone) {
  TapOptions opts;
  opts.netns_path = "relative/ns";
  EXPECT_EQ(TapDevice::Open(opts).status().code(), absl::StatusCode::kInvalidArgument);
  opts.netns_path = "/proc/self/ns/net";
  opts.netns = "other";
  EXPECT_EQ(TapDevice::Open(opts).status().code(), absl::StatusCode::kInvalidArgument);
  opts.netns.clear();
  opts.netns_path = "/nonexistent/ns/net";
  EXPECT_EQ(TapDevice::Open(opts).status().code(), absl::StatusCode::kNotFound);
  opts.netns_path = "/proc/self/status";  // A file, not a namespace.
  EXPECT_EQ(TapDevice::Open(opts).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TapDeviceTest, CreatesWithGivenNameAndMtu) {
  const std::string name = "stackd-tap-0123";  // IFNAMSIZ - 1 bytes.
  absl::StatusOr<TapDevice> tap = TapDevice::Open(Options(name, 9000));
  ASSERT_TRUE(tap.ok()) << tap.status();
  EXPECT_EQ(tap->name(), name);
  EXPECT_TRUE(tap->created());
  EXPECT_EQ(tap->mtu(), 9000);
  EXPECT_EQ(ShowLink(netns_, name).mtu, 9000);
}

TEST_F(TapDeviceTest, AttachesToPersistentDeviceAndLeavesIt) {
  ASSERT_EQ(Shell(absl::StrCat("ip -n ", netns_,
                             " tuntap add dev stk-persist mode tap")),
            0);
  {
    absl::StatusOr<TapDevice> tap = TapDevice::Open(Options("stk-persist"));
    ASSERT_TRUE(tap.ok()) << tap.status();
    EXPECT_FALSE(tap->created());
    EXPECT_EQ(tap->name(), "stk-persist");
    EXPECT_EQ(tap->mtu(), 1500);  // Left as it was.
    const Link link = ShowLink(netns_, "stk-persist");
    EXPECT_TRUE(link.up);
    EXPECT_EQ(link.mtu, 1500);
  }
  EXPECT_TRUE(ShowLink(netns_, "stk-persist").exists);
}

TEST_F(TapDeviceTest, SecondOpenOfAttachedDeviceIsBusy) {
  ASSERT_EQ(Shell(absl::StrCat("ip -n ", netns_,
                             " tuntap add dev stk-busy mode tap")),
            0);
  absl::StatusOr<TapDevice> first = TapDevice::Open(Options("stk-busy"));
  ASSERT_TRUE(first.ok()) << first.status();

  const ino_t netns_before = ThreadNetns();
  absl::StatusOr<TapDevice> second = TapDevice::Open(Options("stk-busy"));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(second.status().message(), "stk-busy"));
  EXPECT_EQ(ThreadNetns(), netns_before);
}

TEST_F(TapDeviceTest, SecondOpenOfCreatedDeviceIsBusy) {
  absl::StatusOr<TapDevice> first = TapDevice::Open(Options("stk-mine"));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(TapDevice::Open(Options("stk-mine")).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_TRUE(ShowLink(netns_, "stk-mine").exists);
}

TEST_F(TapDeviceTest, ExistingInterfaceThatIsNotTapIsInvalid) {
  EXPECT_EQ(TapDevice::Open(Options("lo")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TapDeviceTest, MissingNamespaceIsNotFound) {
  const ino_t netns_before = ThreadNetns();
  TapOptions opts;
  opts.netns = netns_ + "-missing";
  absl::StatusOr<TapDevice> tap = TapDevice::Open(opts);
  EXPECT_EQ(tap.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(tap.status().message(), opts.netns));
  EXPECT_EQ(ThreadNetns(), netns_before);
}

TEST_F(TapDeviceTest, MoveTransfersTheDevice) {
  absl::StatusOr<TapDevice> tap = TapDevice::Open(Options("stk-move"));
  ASSERT_TRUE(tap.ok()) << tap.status();
  const int fd = tap->fd();
  TapDevice moved = *std::move(tap);
  EXPECT_EQ(moved.fd(), fd);
  EXPECT_EQ(tap->fd(), -1);
  EXPECT_EQ(moved.name(), "stk-move");
  EXPECT_TRUE(ShowLink(netns_, "stk-move").exists);
}

}  // namespace
}  // namespace stackd::tap
