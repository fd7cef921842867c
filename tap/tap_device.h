// The Linux TAP device that carries a stack's Ethernet frames: stackd reads
// and writes whole frames on TapDevice::fd(), and the kernel side of the same
// device is an ordinary interface, possibly in another network namespace,
// where the peers of the stack live.
//
// TapDevice::Open() creates a new TAP (which goes away with its fd) or attaches
// to an existing persistent one made with `ip tuntap add dev X mode tap`.
#ifndef TAP_TAP_DEVICE_H_
#define TAP_TAP_DEVICE_H_

#include <string>

#include "absl/status/statusor.h"

namespace stackd::tap {

struct TapOptions {
  // Interface name. "" lets the kernel choose one with the pattern "stackd%d".
  std::string ifname;
  // Network namespace of the kernel-side interface: "" is the caller's own,
  // anything else a name under /var/run/netns (as `ip netns add` makes).
  std::string netns;
  // Or the namespace by the path of its file, e.g. a container's
  // /proc/PID/ns/net (absolute; not with `netns`).
  std::string netns_path;
  // MTU to set. 0 means 65520 when Open() creates the device, and leaves the
  // MTU as it is when Open() attaches to an existing one.
  int mtu = 0;
};

// An open TAP device (IFF_TAP | IFF_NO_PI): each read() on fd() returns one
// Ethernet frame, each write() sends one. Movable, not copyable. The fd is
// non-blocking and close-on-exec, and works from any namespace and thread.
class TapDevice {
 public:
  // If an interface named opts.ifname exists in opts.netns, attaches to it;
  // otherwise creates a TAP device there. Either way sets the MTU (see
  // TapOptions::mtu) and brings the interface up.
  //
  // Thread: any. For the duration of the call the calling thread enters
  // opts.netns (setns(2)); it is back in its own namespace when Open()
  // returns, whatever the result.
  //
  // Errors (the message names the device and, where it helps, the fix):
  //   InvalidArgument: opts.ifname longer than 15 bytes or holding '/', ':'
  //     or whitespace, or "." / ".."; a bad opts.netns name; opts.mtu < 0
  //     (all checked before any system call); an MTU the kernel refuses; an
  //     existing interface of that name that is not a single-queue TAP.
  //   NotFound: opts.netns does not exist; /dev/net/tun is missing.
  //   PermissionDenied: the process lacks CAP_NET_ADMIN (or CAP_SYS_ADMIN to
  //     enter opts.netns), or the persistent device belongs to another user.
  //   Unavailable: the TAP device is in use by another process.
  //   Others: as errno maps to absl::StatusCode.
  static absl::StatusOr<TapDevice> Open(const TapOptions& opts);

  TapDevice(TapDevice&& other) noexcept;
  TapDevice& operator=(TapDevice&& other) noexcept;
  TapDevice(const TapDevice&) = delete;
  TapDevice& operator=(const TapDevice&) = delete;

  // Closes the fd. A device that Open() created disappears with it; an
  // attached persistent device stays, without carrier.
  ~TapDevice();

  // The frame fd; -1 after a move.
  int fd() const { return fd_; }
  // The interface name the kernel gave the device.
  const std::string& name() const { return name_; }
  // The interface MTU read back after Open() set it.
  int mtu() const { return mtu_; }
  // True if Open() created the device, false if it attached to one.
  bool created() const { return created_; }
  // The namespace of the kernel-side interface, as in TapOptions::netns
  // (or its netns_path).
  const std::string& netns() const { return netns_; }

 private:
  TapDevice(int fd, std::string name, std::string netns, int mtu,
            bool created);

  int fd_ = -1;
  std::string name_;
  std::string netns_;
  int mtu_ = 0;
  bool created_ = false;
};

}  // namespace stackd::tap

#endif  // TAP_TAP_DEVICE_H_
