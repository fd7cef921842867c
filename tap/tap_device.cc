#include "tap/tap_device.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace stackd::tap {
namespace {

constexpr int kCreatedMtu = 65520;
// Frames the kernel queues for stackd on the TAP (its txqueuelen; the
// kernel's default is 1000). A burst over 10,000 connections overflowed
// 1000 and the lost segments waited for retransmission timers.
constexpr int kMinTxQueueLen = 10000;
constexpr char kNamePattern[] = "stackd%d";
constexpr char kNetnsDir[] = "/var/run/netns/";

// The status of a failed system call: absl::ErrnoToStatus's code and
// "what: strerror" text, then the hint that tells the operator what to do.
absl::Status SysError(int err, absl::string_view what,
                      absl::string_view hint = "") {
  absl::Status status = absl::ErrnoToStatus(err, what);
  if (hint.empty()) return status;
  return absl::Status(status.code(),
                      absl::StrCat(status.message(), " (", hint, ")"));
}

// The hint for a call that fails only without CAP_NET_ADMIN.
absl::string_view NetAdminHint(int err) {
  return err == EPERM || err == EACCES ? "stackd needs CAP_NET_ADMIN" : "";
}

bool HasBadChar(absl::string_view name) {
  return std::any_of(name.begin(), name.end(), [](unsigned char c) {
    return c == '/' || c == ':' || c == '\0' || std::isspace(c);
  });
}

// The same rules as the kernel's dev_valid_name() and `ip netns add`.
absl::Status ValidateOptions(const TapOptions& opts) {
  const std::string& ifname = opts.ifname;
  if (ifname.size() >= IFNAMSIZ || ifname == "." || ifname == ".." ||
      HasBadChar(ifname)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid interface name \"", ifname, "\": at most ", IFNAMSIZ - 1,
        " bytes, without '/', ':' or whitespace"));
  }
  const std::string& netns = opts.netns;
  if (netns.size() > NAME_MAX || netns == "." || netns == ".." ||
      netns.find('/') != std::string::npos ||
      netns.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid network namespace name \"", netns, "\""));
  }
  if (!opts.netns_path.empty() &&
      (opts.netns_path[0] != '/' || !opts.netns.empty() ||
       opts.netns_path.find('\0') != std::string::npos)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid network namespace path \"", opts.netns_path,
        "\": an absolute path, and not with a namespace name"));
  }
  if (opts.mtu < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid MTU ", opts.mtu));
  }
  return absl::OkStatus();
}

// Moves the calling thread into a named network namespace; the destructor
// moves it back. A thread that cannot return would silently put every later
// socket of that thread in the wrong network, so that aborts.
class ScopedNetns {
 public:
  ScopedNetns() = default;
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;

  ~ScopedNetns() {
    if (original_ < 0) return;
    if (setns(original_, CLONE_NEWNET) != 0) {
      std::fprintf(stderr, "stackd: cannot return to the original network "
                           "namespace: %s\n", std::strerror(errno));
      std::abort();
    }
    close(original_);
  }

  // Enters /var/run/netns/NAME; "" stays where the thread is. Call once.
  absl::Status Enter(const std::string& name) {
    if (name.empty()) return absl::OkStatus();
    return EnterPath(absl::StrCat(kNetnsDir, name),
                     absl::StrCat("network namespace ", name,
                                  " not found (create it with `ip netns add ", name, "`)"));
  }

  // Enters the namespace whose file is `path` (/proc/PID/ns/net, a bind
  // mount of one); `missing` is the error text if there is none.
  absl::Status EnterPath(const std::string& path, const std::string& missing) {
    const int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (target < 0) {
      const int err = errno;
      if (err == ENOENT) return absl::NotFoundError(missing);
      return SysError(err, absl::StrCat("open ", path));
    }
    absl::Cleanup close_target = [target] { close(target); };
    const int original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (original < 0) {
      return SysError(errno, "open /proc/thread-self/ns/net");
    }
    if (setns(target, CLONE_NEWNET) != 0) {
      const int err = errno;
      close(original);
      return SysError(err, absl::StrCat("setns ", path),
                      err == EPERM   ? "stackd needs CAP_SYS_ADMIN"
                      : err == EINVAL ? "not a network namespace"
                                      : "");
    }
    original_ = original;
    return absl::OkStatus();
  }

 private:
  int original_ = -1;
};

// Sets the MTU of `ifname` (unless `mtu` is 0), brings it up and returns the
// MTU it has then. Runs in the interface's namespace: the ioctl socket must be
// made there.
absl::StatusOr<int> ConfigureInterface(const std::string& ifname, int mtu) {
  const int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return SysError(errno, "socket for interface ioctls");
  absl::Cleanup close_sock = [sock] { close(sock); };

  ifreq ifr{};
  std::memcpy(ifr.ifr_name, ifname.data(), ifname.size());
  if (mtu != 0) {
    ifr.ifr_mtu = mtu;
    if (ioctl(sock, SIOCSIFMTU, &ifr) != 0) {
      const int err = errno;
      return SysError(err, absl::StrCat("set MTU ", mtu, " on ", ifname),
                      NetAdminHint(err));
    }
  }
  if (ioctl(sock, SIOCGIFTXQLEN, &ifr) == 0 && ifr.ifr_qlen < kMinTxQueueLen) {
    ifr.ifr_qlen = kMinTxQueueLen;
    if (ioctl(sock, SIOCSIFTXQLEN, &ifr) != 0) {
      const int err = errno;
      return SysError(err, absl::StrCat("set txqueuelen of ", ifname), NetAdminHint(err));
    }
  }
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) != 0) {
    return SysError(errno, absl::StrCat("get flags of ", ifname));
  }
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(sock, SIOCSIFFLAGS, &ifr) != 0) {
    const int err = errno;
    return SysError(err, absl::StrCat("bring up ", ifname), NetAdminHint(err));
  }
  if (ioctl(sock, SIOCGIFMTU, &ifr) != 0) {
    return SysError(errno, absl::StrCat("get MTU of ", ifname));
  }
  return ifr.ifr_mtu;
}

}  // namespace

absl::StatusOr<TapDevice> TapDevice::Open(const TapOptions& opts) {
  if (absl::Status status = ValidateOptions(opts); !status.ok()) return status;
  ScopedNetns netns;
  absl::Status entered =
      opts.netns_path.empty()
          ? netns.Enter(opts.netns)
          : netns.EnterPath(opts.netns_path, absl::StrCat("network namespace path ",
                                                          opts.netns_path, " not found"));
  if (!entered.ok()) return entered;

  const std::string requested =
      opts.ifname.empty() ? kNamePattern : opts.ifname;
  const bool exists =
      !opts.ifname.empty() && if_nametoindex(opts.ifname.c_str()) != 0;
  const int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return SysError(err, "open /dev/net/tun",
                    err == ENOENT || err == ENODEV ? "is the tun module loaded?"
                                                   : NetAdminHint(err));
  }
  TapDevice tap(fd, "", opts.netns_path.empty() ? opts.netns : opts.netns_path, 0,
                /*created=*/!exists);

  ifreq ifr{};
  std::memcpy(ifr.ifr_name, requested.data(), requested.size());
  // IFF_TUN_EXCL: when creating, fail instead of attaching to a device of
  // that name that appeared since if_nametoindex().
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (exists ? 0 : IFF_TUN_EXCL);
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    const int err = errno;
    if (err == EBUSY) {
      return absl::UnavailableError(absl::StrCat(
          "TAP device ", requested, " is in use by another process"));
    }
    if (err == EINVAL && exists) {
      return absl::InvalidArgumentError(absl::StrCat(
          "interface ", requested,
          " exists and is not a single-queue TAP device"));
    }
    return SysError(err, absl::StrCat("TUNSETIFF ", requested),
                    NetAdminHint(err));
  }
  tap.name_.assign(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));

  const int mtu = opts.mtu != 0 ? opts.mtu : (exists ? 0 : kCreatedMtu);
  absl::StatusOr<int> actual_mtu = ConfigureInterface(tap.name_, mtu);
  if (!actual_mtu.ok()) return actual_mtu.status();
  tap.mtu_ = *actual_mtu;
  return tap;
}

TapDevice::TapDevice(int fd, std::string name, std::string netns, int mtu,
                     bool created)
    : fd_(fd),
      name_(std::move(name)),
      netns_(std::move(netns)),
      mtu_(mtu),
      created_(created) {}

TapDevice::TapDevice(TapDevice&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      name_(std::move(other.name_)),
      netns_(std::move(other.netns_)),
      mtu_(other.mtu_),
      created_(other.created_) {}

TapDevice& TapDevice::operator=(TapDevice&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    name_ = std::move(other.name_);
    netns_ = std::move(other.netns_);
    mtu_ = other.mtu_;
    created_ = other.created_;
  }
  return *this;
}

TapDevice::~TapDevice() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace stackd::tap
