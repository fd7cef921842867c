#include "tests/netns_peer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/msocket.h"

namespace stackd::testbed {
namespace {

constexpr char kErrnoPayload[] = "stackd.test/errno";
constexpr char kNftTable[] = "inet stackd_test";
constexpr size_t kChunk = 256 * 1024;

absl::Status ErrnoError(int error, absl::string_view what) {
  absl::Status status = absl::ErrnoToStatus(error, what);
  status.SetPayload(kErrnoPayload, absl::Cord(absl::StrCat(error)));
  return status;
}

int MillisLeft(absl::Time deadline) {
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(
      std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1000));
}

std::string CommandText(const CommandResult& r) {
  return absl::StrCat("exit ", r.exit_code, r.timed_out ? " (timed out)" : "",
                      ": ", r.out, r.err);
}

}  // namespace

void ScopedFd::reset(int fd) {
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
}

absl::StatusOr<ScopedFd> KernelSocket(const std::string& netns, int domain,
                                      int type, int protocol) {
  int fd = -1;
  int error = 0;
  std::string what;
  std::thread maker([&] {
    const std::string path = "/run/netns/" + netns;
    const int ns = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0) {
      error = errno;
      what = "open " + path;
      return;
    }
    // Only this thread changes namespace, and it ends right after.
    if (setns(ns, CLONE_NEWNET) != 0) {
      error = errno;
      what = "setns " + path;
      close(ns);
      return;
    }
    close(ns);
    fd = socket(domain, type | SOCK_CLOEXEC, protocol);
    if (fd < 0) {
      error = errno;
      what = "socket";
    }
  });
  maker.join();
  if (fd < 0) return ErrnoError(error, what);
  return ScopedFd(fd);
}

std::string SockAddr::ip() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr,
              text, sizeof(text));
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6,
              &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, text,
              sizeof(text));
  } else {
    return absl::StrCat("<family ", family(), ">");
  }
  return text;
}

uint16_t SockAddr::port() const {
  if (family() == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  }
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return 0;
}

std::string SockAddr::ToString() const {
  if (family() == AF_INET6) return absl::StrCat("[", ip(), "]:", port());
  return absl::StrCat(ip(), ":", port());
}

SockAddr MakeSockAddr(absl::string_view ip, uint16_t port) {
  SockAddr a;
  const std::string text(ip);
  auto* in4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (inet_pton(AF_INET, text.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    a.len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, text.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    a.len = sizeof(sockaddr_in6);
  } else {
    std::fprintf(stderr, "MakeSockAddr: bad address %s\n", text.c_str());
    std::abort();
  }
  return a;
}

absl::StatusOr<SockAddr> LocalName(int fd) {
  SockAddr a;
  a.len = sizeof(a.storage);
  if (getsockname(fd, a.get(), &a.len) != 0) {
    return ErrnoError(errno, "getsockname");
  }
  return a;
}

absl::StatusOr<SockAddr> PeerName(int fd) {
  SockAddr a;
  a.len = sizeof(a.storage);
  if (getpeername(fd, a.get(), &a.len) != 0) {
    return ErrnoError(errno, "getpeername");
  }
  return a;
}

absl::StatusOr<ScopedFd> KernelListener(const std::string& netns,
                                        absl::string_view ip, int backlog,
                                        SockAddr* bound) {
  const SockAddr want = MakeSockAddr(ip, 0);
  absl::StatusOr<ScopedFd> fd = KernelSocket(netns, want.family(), SOCK_STREAM);
  if (!fd.ok()) return fd.status();
  const int one = 1;
  setsockopt(fd->get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd->get(), want.get(), want.len) != 0) {
    return ErrnoError(errno, absl::StrCat("bind ", want.ToString()));
  }
  if (listen(fd->get(), backlog) != 0) return ErrnoError(errno, "listen");
  absl::StatusOr<SockAddr> name = LocalName(fd->get());
  if (!name.ok()) return name.status();
  if (bound != nullptr) *bound = *name;
  return fd;
}

absl::StatusOr<ScopedFd> KernelConnect(const std::string& netns,
                                       const SockAddr& to,
                                       absl::Duration timeout) {
  absl::StatusOr<ScopedFd> fd =
      KernelSocket(netns, to.family(), SOCK_STREAM | SOCK_NONBLOCK);
  if (!fd.ok()) return fd.status();
  if (connect(fd->get(), to.get(), to.len) != 0) {
    if (errno != EINPROGRESS) {
      return ErrnoError(errno, absl::StrCat("connect ", to.ToString()));
    }
    if ((PollFor(fd->get(), POLLOUT, timeout) & (POLLOUT | POLLERR)) == 0) {
      return ErrnoError(ETIMEDOUT, absl::StrCat("connect ", to.ToString(),
                                                " (test's own timeout)"));
    }
    int error = 0;
    socklen_t len = sizeof(error);
    getsockopt(fd->get(), SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) {
      return ErrnoError(error, absl::StrCat("connect ", to.ToString()));
    }
  }
  const int flags = fcntl(fd->get(), F_GETFL);
  fcntl(fd->get(), F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

int ErrnoOf(const absl::Status& status) {
  if (status.ok()) return 0;
  absl::optional<absl::Cord> payload = status.GetPayload(kErrnoPayload);
  int error = -1;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &error)) return -1;
  return error;
}

short PollFor(int fd, short events, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    pollfd p{fd, events, 0};
    const int r = poll(&p, 1, MillisLeft(deadline));
    if (r > 0) return p.revents;
    if (r < 0 && errno != EINTR) return POLLNVAL;
    if (r == 0 && absl::Now() >= deadline) return 0;
  }
}

absl::Status SendAll(int fd, const void* data, size_t len,
                     absl::Time deadline) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    const ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      len -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      return ErrnoError(errno, "send");
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("send: ", len, " bytes still unsent"));
    }
    pollfd pfd{fd, POLLOUT, 0};
    poll(&pfd, 1, MillisLeft(deadline));
  }
  return absl::OkStatus();
}

absl::Status SendAll(int fd, absl::string_view data, absl::Time deadline) {
  return SendAll(fd, data.data(), data.size(), deadline);
}

RecvResult RecvOnce(int fd, size_t len, absl::Time deadline) {
  RecvResult result;
  std::string buf(len, '\0');
  while (true) {
    const ssize_t n = recv(fd, buf.data(), len, MSG_DONTWAIT);
    if (n >= 0) {
      result.n = n;
      buf.resize(static_cast<size_t>(n));
      result.data = std::move(buf);
      return result;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      result.error = errno;
      return result;
    }
    if (absl::Now() >= deadline) {
      result.error = ETIME;  // The test's own timeout, not the socket's.
      return result;
    }
    pollfd pfd{fd, POLLIN, 0};
    poll(&pfd, 1, MillisLeft(deadline));
  }
}

absl::StatusOr<std::string> RecvExactly(int fd, size_t len,
                                        absl::Time deadline) {
  std::string out;
  out.reserve(len);
  while (out.size() < len) {
    RecvResult r = RecvOnce(fd, std::min(len - out.size(), kChunk), deadline);
    if (r.n > 0) {
      out += r.data;
    } else if (r.n == 0) {
      return absl::OutOfRangeError(absl::StrCat(
          "end of stream after ", out.size(), " of ", len, " bytes: ", out));
    } else if (r.error == ETIME) {
      return absl::DeadlineExceededError(
          absl::StrCat("recv: ", out.size(), " of ", len, " bytes in time"));
    } else {
      return ErrnoError(r.error, absl::StrCat("recv after ", out.size(),
                                              " bytes"));
    }
  }
  return out;
}

absl::StatusOr<std::string> RecvToEof(int fd, size_t max,
                                      absl::Time deadline) {
  std::string out;
  while (true) {
    RecvResult r = RecvOnce(fd, kChunk, deadline);
    if (r.n == 0) return out;
    if (r.n > 0) {
      out += r.data;
      if (out.size() > max) {
        return absl::ResourceExhaustedError(
            absl::StrCat("more than ", max, " bytes before end of stream"));
      }
    } else if (r.error == ETIME) {
      return absl::DeadlineExceededError(
          absl::StrCat("no end of stream in time after ", out.size(),
                       " bytes"));
    } else {
      return ErrnoError(r.error,
                        absl::StrCat("recv after ", out.size(), " bytes"));
    }
  }
}

void StreamHash::Update(const void* data, size_t len) {
  constexpr uint64_t kPrime = 0x100000001b3ULL;
  const auto* p = static_cast<const uint8_t*>(data);
  bytes_ += len;
  // Complete a word begun by an earlier piece.
  while (len > 0 && pending_bytes_ != 0) {
    pending_ |= static_cast<uint64_t>(*p) << (8 * pending_bytes_);
    ++p;
    --len;
    if (++pending_bytes_ == 8) {
      hash_ = (hash_ ^ pending_) * kPrime;
      pending_ = 0;
      pending_bytes_ = 0;
    }
  }
  uint64_t h = hash_;
  while (len >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);  // Little-endian machines only (x86-64).
    h = (h ^ word) * kPrime;
    p += 8;
    len -= 8;
  }
  hash_ = h;
  while (len > 0) {
    pending_ |= static_cast<uint64_t>(*p) << (8 * pending_bytes_);
    ++pending_bytes_;
    ++p;
    --len;
  }
}

uint64_t StreamHash::Finish() const {
  constexpr uint64_t kPrime = 0x100000001b3ULL;
  uint64_t h = hash_;
  if (pending_bytes_ != 0) h = (h ^ pending_) * kPrime;
  return (h ^ bytes_) * kPrime;
}

void PatternSource::Fill(void* data, size_t len) {
  auto* p = static_cast<uint8_t*>(data);
  uint64_t x = state_;
  while (len >= 8) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    const uint64_t v = x * 0x2545F4914F6CDD1DULL;
    std::memcpy(p, &v, 8);
    p += 8;
    len -= 8;
  }
  if (len > 0) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    const uint64_t v = x * 0x2545F4914F6CDD1DULL;
    std::memcpy(p, &v, len);
  }
  state_ = x;
}

absl::Status AddNftRule(const Testbed& bed, absl::string_view chain,
                        absl::string_view rule) {
  const std::string script = absl::StrCat(
      "table ", kNftTable, " {\n",
      "  chain input { type filter hook input priority 0; policy accept; }\n",
      "  chain output { type filter hook output priority 0; policy accept; }\n",
      "}\n",
      "add rule ", kNftTable, " ", chain, " ", rule, "\n");
  const std::string path = bed.dir() + "/nft.rules";
  {
    std::ofstream out(path, std::ios::trunc);
    out << script;
    if (!out.good()) return absl::InternalError("cannot write " + path);
  }
  CommandResult r = bed.Run("nft -f " + path, absl::Seconds(10));
  if (r.exit_code != 0) {
    return absl::InternalError(
        absl::StrCat("nft -f (", script, "): ", CommandText(r)));
  }
  return absl::OkStatus();
}

absl::Status ClearNftRules(const Testbed& bed) {
  CommandResult r = bed.Run(
      absl::StrCat("nft list table ", kNftTable,
                   " >/dev/null 2>&1 || exit 0; nft delete table ", kNftTable),
      absl::Seconds(10));
  if (r.exit_code != 0) {
    return absl::InternalError("nft delete table: " + CommandText(r));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> SendPattern(int fd, uint64_t seed, uint64_t bytes,
                                     absl::Time deadline) {
  PatternSource source(seed);
  StreamHash hash;
  std::vector<char> buf(kChunk);
  uint64_t left = bytes;
  while (left > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
    source.Fill(buf.data(), n);
    hash.Update(buf.data(), n);
    absl::Status sent = SendAll(fd, buf.data(), n, deadline);
    if (!sent.ok()) {
      return absl::Status(sent.code(),
                          absl::StrCat("after ", bytes - left, " of ", bytes,
                                       " bytes: ", sent.message()));
    }
    left -= n;
  }
  return hash.Finish();
}

absl::StatusOr<uint64_t> RecvAndHash(int fd, uint64_t bytes,
                                     absl::Time deadline) {
  StreamHash hash;
  std::vector<char> buf(kChunk);
  while (hash.bytes() < bytes) {
    const size_t want = static_cast<size_t>(
        std::min<uint64_t>(bytes - hash.bytes(), buf.size()));
    const ssize_t n = recv(fd, buf.data(), want, MSG_DONTWAIT);
    if (n > 0) {
      hash.Update(buf.data(), static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      return absl::OutOfRangeError(absl::StrCat(
          "end of stream after ", hash.bytes(), " of ", bytes, " bytes"));
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return ErrnoError(errno,
                        absl::StrCat("recv after ", hash.bytes(), " bytes"));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "recv: ", hash.bytes(), " of ", bytes, " bytes in time"));
    }
    pollfd pfd{fd, POLLIN, 0};
    poll(&pfd, 1, MillisLeft(deadline));
  }
  return hash.Finish();
}

absl::StatusOr<StackKernelPair> ConnectStackAndKernel(const Testbed& bed,
                                                      const Family& f,
                                                      Dialer dialer,
                                                      absl::Duration timeout) {
  StackKernelPair c;
  if (dialer == Dialer::kStack) {
    SockAddr server;
    absl::StatusOr<ScopedFd> listener =
        KernelListener(bed.netns(), f.kernel_ip, 4, &server);
    if (!listener.ok()) return listener.status();
    c.stack.reset(msocket(bed.stack_path().c_str(), f.domain, SOCK_STREAM, 0));
    if (c.stack.get() < 0) return ErrnoError(errno, "msocket");
    // The blocking connect is bounded by SO_SNDTIMEO.
    timeval tv = absl::ToTimeval(timeout);
    setsockopt(c.stack.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(c.stack.get(), server.get(), server.len) != 0) {
      return ErrnoError(errno, "connect " + server.ToString());
    }
    timeval none{};
    setsockopt(c.stack.get(), SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
    if ((PollFor(listener->get(), POLLIN, timeout) & POLLIN) == 0) {
      return absl::DeadlineExceededError("the kernel accepted nothing");
    }
    c.kernel.reset(accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (c.kernel.get() < 0) return ErrnoError(errno, "accept (kernel)");
    return c;
  }
  ScopedFd listener(
      msocket(bed.stack_path().c_str(), f.domain, SOCK_STREAM, 0));
  if (listener.get() < 0) return ErrnoError(errno, "msocket");
  const SockAddr any_port = MakeSockAddr(f.stack_ip, 0);
  if (bind(listener.get(), any_port.get(), any_port.len) != 0) {
    return ErrnoError(errno, "bind");
  }
  if (listen(listener.get(), 4) != 0) return ErrnoError(errno, "listen");
  absl::StatusOr<SockAddr> bound = LocalName(listener.get());
  if (!bound.ok()) return bound.status();
  absl::StatusOr<ScopedFd> client =
      KernelConnect(bed.netns(), *bound, timeout);
  if (!client.ok()) return client.status();
  c.kernel = *std::move(client);
  if ((PollFor(listener.get(), POLLIN, timeout) & POLLIN) == 0) {
    return absl::DeadlineExceededError("the stack accepted nothing");
  }
  c.stack.reset(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (c.stack.get() < 0) return ErrnoError(errno, "accept (stack)");
  return c;
}

void TcpTest::SetUp() {
  absl::StatusOr<std::unique_ptr<Testbed>> bed = Testbed::Create();
  ASSERT_TRUE(bed.ok()) << bed.status();
  bed_ = *std::move(bed);
}

void TcpTest::TearDown() {
  if (HasFailure() && bed_ != nullptr) {
    std::fprintf(stderr, "--- stackd log (%s):\n%s--- end of stackd log\n",
                 bed_->netns().c_str(), bed_->StackdLog().c_str());
  }
}

int TcpTest::StackSocket(int domain, int type) {
  return msocket(bed_->stack_path().c_str(), domain, type, 0);
}

uint64_t PatternHash(uint64_t seed, uint64_t bytes) {
  PatternSource source(seed);
  StreamHash hash;
  std::vector<char> buf(kChunk);
  while (hash.bytes() < bytes) {
    const size_t n = static_cast<size_t>(
        std::min<uint64_t>(bytes - hash.bytes(), buf.size()));
    source.Fill(buf.data(), n);
    hash.Update(buf.data(), n);
  }
  return hash.Finish();
}

}  // namespace stackd::testbed
