// Kernel peers for the TCP integration tests: kernel sockets made inside a
// test bed's namespace (so they talk to stackd over the TAP), nftables rules
// there for loss and silence, socket addresses, and I/O helpers whose every
// wait is bounded by a deadline.
//
// A kernel socket belongs to the network namespace of the thread that made
// it, for its whole life. KernelSocket() makes one on a short-lived thread
// that entered the namespace, so the test's own threads never change
// namespace.
//
// The I/O helpers work on kernel fds and on stack fds alike (a stack fd is a
// real fd; the client library answers what the kernel cannot).
#ifndef STACKD_TESTS_NETNS_PEER_H_
#define STACKD_TESTS_NETNS_PEER_H_

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/testbed.h"

namespace stackd::testbed {

// An fd closed by the destructor (if >= 0).
class ScopedFd {
 public:
  ScopedFd() = default;
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() { reset(); }
  ScopedFd(ScopedFd&& other) noexcept : fd_(other.release()) {}
  ScopedFd& operator=(ScopedFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;

  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Makes socket(domain, type, protocol) inside the network namespace `netns`
// (a name under /run/netns). Errors: the errno of open(2), setns(2) or
// socket(2), as a Status.
absl::StatusOr<ScopedFd> KernelSocket(const std::string& netns, int domain,
                                      int type, int protocol = 0);

// A socket address (IPv4 or IPv6) with its length.
struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;

  const sockaddr* get() const {
    return reinterpret_cast<const sockaddr*>(&storage);
  }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  // The address without the port ("10.42.0.1", "fd42::1", "::ffff:1.2.3.4").
  std::string ip() const;
  uint16_t port() const;
  // "10.42.0.1:80", "[fd42::1]:80".
  std::string ToString() const;
};

// `ip` (IPv4 or IPv6 text) and `port`. Aborts the test program on a
// malformed `ip`: the tests only pass constants.
SockAddr MakeSockAddr(absl::string_view ip, uint16_t port);

// getsockname(2) / getpeername(2); errors carry the errno.
absl::StatusOr<SockAddr> LocalName(int fd);
absl::StatusOr<SockAddr> PeerName(int fd);

// A kernel TCP socket in `netns`, bound to `ip` port 0 and listening.
// The chosen address comes back in *bound.
absl::StatusOr<ScopedFd> KernelListener(const std::string& netns,
                                        absl::string_view ip, int backlog,
                                        SockAddr* bound);

// A kernel TCP client in `netns`, connected (blocking, at most `timeout`)
// to `to`. The errno of a failed connect is in the Status
// (absl::ErrnoToStatus), see ErrnoOf().
absl::StatusOr<ScopedFd> KernelConnect(const std::string& netns,
                                       const SockAddr& to,
                                       absl::Duration timeout);

// The errno a Status made by these helpers carries (0 for OK, -1 if none).
int ErrnoOf(const absl::Status& status);

// poll(2) for `events` on `fd` for at most `timeout`: the revents, or 0 if
// nothing happened in time. Retries on EINTR.
short PollFor(int fd, short events, absl::Duration timeout);

// Sends all `len` bytes (MSG_NOSIGNAL), waiting for room at most until
// `deadline`. Errors: DeadlineExceeded, or the send errno.
absl::Status SendAll(int fd, const void* data, size_t len,
                     absl::Time deadline);
absl::Status SendAll(int fd, absl::string_view data, absl::Time deadline);

// Receives exactly `len` bytes by `deadline`. Errors: DeadlineExceeded,
// OutOfRange if the stream ended first (what arrived is in the message),
// or the recv errno.
absl::StatusOr<std::string> RecvExactly(int fd, size_t len,
                                        absl::Time deadline);

// Receives until end of stream (at most `max` bytes) by `deadline`.
// Errors: DeadlineExceeded, ResourceExhausted past `max`, or the recv errno.
absl::StatusOr<std::string> RecvToEof(int fd, size_t max, absl::Time deadline);

// What one recv(2) of up to `len` bytes returned, waiting at most until
// `deadline` for the fd to become readable: n >= 0, or -1 with `error`
// (ETIME if the deadline passed: the test's own timeout, which no socket
// call reports).
struct RecvResult {
  ssize_t n = -1;
  int error = 0;
  std::string data;
};
RecvResult RecvOnce(int fd, size_t len, absl::Time deadline);

// A 64-bit checksum of a byte stream that does not depend on how the stream
// was cut into pieces: FNV-1a over 8-byte little-endian words (the tail
// padded with its length).
class StreamHash {
 public:
  void Update(const void* data, size_t len);
  uint64_t Finish() const;
  uint64_t bytes() const { return bytes_; }

 private:
  uint64_t hash_ = 0xcbf29ce484222325ULL;
  uint64_t pending_ = 0;
  int pending_bytes_ = 0;
  uint64_t bytes_ = 0;
};

// Deterministic pseudo-random bytes (xorshift64*), for payloads that show
// reordering, loss and duplication in a checksum.
class PatternSource {
 public:
  explicit PatternSource(uint64_t seed) : state_(seed | 1) {}
  void Fill(void* data, size_t len);

 private:
  uint64_t state_;
};

// nftables rules in the test bed's namespace: one table ("inet
// stackd_test") with an input and an output filter chain. Rules are nft
// rule text ("tcp dport 9 drop"). Everything goes away with the namespace
// too.
absl::Status AddNftRule(const Testbed& bed, absl::string_view chain,
                        absl::string_view rule);
// Deletes the table (and so every rule). OK if there was none.
absl::Status ClearNftRules(const Testbed& bed);

// The payload bytes of a whole transfer: sends `bytes` pattern bytes from
// `seed` on `fd` (by `deadline`) and returns their StreamHash.
absl::StatusOr<uint64_t> SendPattern(int fd, uint64_t seed, uint64_t bytes,
                                     absl::Time deadline);
// Receives `bytes` bytes from `fd` (by `deadline`) and returns their
// StreamHash. Errors: as RecvExactly.
absl::StatusOr<uint64_t> RecvAndHash(int fd, uint64_t bytes,
                                     absl::Time deadline);
// The StreamHash of what SendPattern(seed, bytes) sends, without sending.
uint64_t PatternHash(uint64_t seed, uint64_t bytes);

// One IP family as the tests use it: the domain and both ends' addresses.
struct Family {
  int domain;
  absl::string_view stack_ip;
  absl::string_view kernel_ip;
  // The wildcard address of the family ("0.0.0.0", "::").
  absl::string_view any_ip;
  const char* name;  // "Ipv4", "Ipv6": for test names.
};
inline constexpr Family kIpv4{AF_INET, kStackIp4, kKernelIp4, "0.0.0.0",
                              "Ipv4"};
inline constexpr Family kIpv6{AF_INET6, kStackIp6, kKernelIp6, "::", "Ipv6"};

// gtest prints a Family parameter by its name.
inline void PrintTo(const Family& f, std::ostream* os) { *os << f.name; }

// For INSTANTIATE_TEST_SUITE_P over kIpv4 and kIpv6.
struct FamilyName {
  template <typename ParamInfo>
  std::string operator()(const ParamInfo& info) const {
    return info.param.name;
  }
};

// Which side of a stack-kernel connection dials.
enum class Dialer { kStack, kKernel };

// A connected TCP connection between a stack socket and a kernel socket in
// the test bed's namespace, over family `f`; `dialer` connects to a
// listener on the other side (bound to port 0 on its address). The
// listeners are closed again. Waits at most `timeout` for each step.
struct StackKernelPair {
  ScopedFd stack;
  ScopedFd kernel;
};
absl::StatusOr<StackKernelPair> ConnectStackAndKernel(
    const Testbed& bed, const Family& f, Dialer dialer,
    absl::Duration timeout = absl::Seconds(10));

// A test with its own Testbed (namespace, TAP, stackd). On failure,
// TearDown() prints stackd's log.
class TcpTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // msocket() on the test bed's stack; -1 with errno on failure.
  int StackSocket(int domain, int type = SOCK_STREAM);

  std::unique_ptr<Testbed> bed_;
};

}  // namespace stackd::testbed

#endif  // STACKD_TESTS_NETNS_PEER_H_
