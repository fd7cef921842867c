// The differential harness's view of a network: a World makes the socket
// under test and its peers, and names their addresses, so that one case
// (tests/differential/case.h) runs unchanged on kernel sockets and on stack
// sockets and records what a program can observe.
//
//   world       socket under test          its peer              addresses
//   kernel      kernel, test bed netns     kernel, same netns    127.0.0.1, ::1
//   stack-lo    stackd                     stackd                127.0.0.1, ::1
//   stack-tap   stackd                     kernel across the TAP 10.42.0.x, fd42::x
//
// A case's record holds no address, port or time itself, only classes of
// them (World::Describe), so the records of different worlds compare equal
// exactly when the behaviour is the same.
#ifndef STACKD_TESTS_DIFFERENTIAL_WORLD_H_
#define STACKD_TESTS_DIFFERENTIAL_WORLD_H_

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tests/netns_peer.h"
#include "tests/testbed.h"

namespace stackd::differential {

using testbed::SockAddr;

// An address family as a case sees it. kMapped: an AF_INET6 socket under
// test that speaks IPv4 through v4-mapped addresses, with AF_INET peers.
enum class Ip { kV4, kV6, kMapped };
const char* IpName(Ip ip);

enum class WorldKind { kKernel, kStackLoopback, kStackTap };
const char* WorldName(WorldKind kind);

class World {
 public:
  World(WorldKind kind, const testbed::Testbed& bed);
  ~World();  // closes every socket it made
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  WorldKind kind() const { return kind_; }
  bool is_stack() const { return kind_ != WorldKind::kKernel; }

  // The domain of the socket under test for `ip`, and of its peers.
  static int Domain(Ip ip);
  static int PeerDomain(Ip ip);

  // socket(2) for the socket under test / a peer; -1 with errno. The world
  // closes them at its end (a case may close one earlier with Close()).
  int Socket(int domain, int type, int protocol = 0);
  int PeerSocket(int domain, int type, int protocol = 0);
  // Socket(Domain(ip), type) and PeerSocket(PeerDomain(ip), type).
  int Socket(Ip ip, int type) { return Socket(Domain(ip), type); }
  int PeerSocket(Ip ip, int type) { return PeerSocket(PeerDomain(ip), type); }
  void Close(int fd);
  // Closes `fd` with the world's own sockets (an accepted fd). Returns fd.
  int Own(int fd);
  // The world no longer closes `fd`: the case does (on another thread).
  void Release(int fd);

  // The address of the side of the socket under test, as that socket binds
  // it (in Domain(ip)) and as its peers dial it (in PeerDomain(ip)).
  SockAddr Local(Ip ip, uint16_t port = 0) const;
  SockAddr LocalForPeer(Ip ip, uint16_t port = 0) const;
  // The peer's address, as the socket under test dials it and as a peer
  // binds it.
  SockAddr Peer(Ip ip, uint16_t port = 0) const;
  SockAddr PeerForPeer(Ip ip, uint16_t port = 0) const;
  // The wildcard address of Domain(ip).
  SockAddr Any(Ip ip, uint16_t port = 0) const;

  // Makes the kernel in the test bed's namespace answer every TCP segment
  // that arrives for `port` with ICMP "host unreachable" (ICMPv6 "address
  // unreachable"), as a router to a host gone would: an nftables rule,
  // removed when the world ends. False if nft failed.
  bool RejectTcpToPort(uint16_t port);

  // An address as a record shows it: "in4/host:P", "mapped-in6/any:0",
  // "none" (an empty or AF_UNSPEC name). "host" is the local or the peer
  // address, which are one on loopback.
  std::string Describe(const sockaddr* addr, socklen_t len) const;
  std::string Describe(const SockAddr& addr) const {
    return Describe(addr.get(), addr.len);
  }

 private:
  // A stack socket (on_stack) or a kernel one in the test bed's netns,
  // owned by the world.
  int Open(bool on_stack, int domain, int type, int protocol);
  std::string LocalIp(Ip ip) const;
  std::string PeerIp(Ip ip) const;

  WorldKind kind_;
  const testbed::Testbed& bed_;
  std::vector<int> fds_;
  std::vector<std::string> nft_tables_;
};

// What one case observed, a line per observation.
class Record {
 public:
  // `what` = `value`.
  void Add(absl::string_view what, absl::string_view value);
  // A call's result: "N" if it is >= 0, else "-1 ENAME" from errno.
  // Returns `result`, so a case can go on with it.
  long Ret(absl::string_view what, long result);

  const std::vector<std::string>& lines() const { return lines_; }
  std::string ToString() const;

 private:
  std::vector<std::string> lines_;
};

// SIGPIPEs the process got (differential_test counts them instead of
// dying): a case compares the count before and after a call.
int SigpipeCount();

// "ECONNREFUSED" for ECONNREFUSED, "0" for 0.
std::string ErrnoName(int error);

// poll(2) on `fd` for `events` for at most `timeout`; then, once something
// is ready, waits `settle` more (state travels through stackd
// asynchronously) and reports every bit that is set: "IN|OUT|RDHUP",
// "none" if nothing came in time.
std::string PollBits(int fd, short events, absl::Duration timeout,
                     absl::Duration settle = absl::Milliseconds(30));
// Every bit set now, after `settle`.
std::string PollNow(int fd, absl::Duration settle = absl::Milliseconds(30));

// getsockopt(level, name) as an int: "V" or "-1 ENAME"; with "/len=N" if
// the returned length is not sizeof(int).
std::string GetInt(int fd, int level, int name);

// Runs `call` on a thread and waits up to `timeout` for it. Returns what it
// returned (with errno), or "hangs" if it did not return in time: the
// thread is left behind, and `unblock` (if given) is run to free it.
std::string Bounded(const std::function<long()>& call, absl::Duration timeout,
                    const std::function<void()>& unblock = nullptr);

// Connects the socket under test (non-blocking) to `to` and waits up to
// `timeout` for the outcome: "0" or "-1 ENAME" (SO_ERROR). The socket
// keeps its blocking mode.
std::string ConnectWait(int fd, const SockAddr& to,
                        absl::Duration timeout = absl::Seconds(3));

// A peer TCP listener bound to port 0 on the peer address; its address as
// the socket under test dials it is in *addr.
int PeerListener(World& w, Ip ip, SockAddr* addr, int backlog = 16);
// A TCP listener under test on the local address; *addr as peers dial it.
int LocalListener(World& w, Ip ip, SockAddr* addr, int backlog = 16);

// accept(2) on `fd`, waiting at most `timeout` for a connection: the new
// fd, or -1 with errno (ETIME if none came in time).
int AcceptWithin(int fd, absl::Duration timeout);

// A connected TCP pair: `mine` is the socket under test (it dialled),
// `theirs` the peer's accepted end. Both -1 if it failed.
struct Connection {
  int mine = -1;
  int theirs = -1;
};
Connection Connect(World& w, Ip ip);
// The same with the peer dialling a listener under test.
Connection Accepted(World& w, Ip ip);

}  // namespace stackd::differential

#endif  // STACKD_TESTS_DIFFERENTIAL_WORLD_H_
