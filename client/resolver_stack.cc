#include "client/resolver_stack.h"

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "client/defaults.h"
#include "client/stack_socket.h"
#include "proto/socket.pb.h"

namespace stackd::client {
namespace {

// Stacks whose settings are cached at once; more (a process that switches
// among many stacks) start the cache over.
constexpr size_t kMaxCachedStacks = 8;

struct CachedConfig {
  std::string path;
  ResolverConfig config;
};

// The cache. Never destroyed: threads may resolve while the process exits.
pthread_mutex_t cache_mutex = PTHREAD_MUTEX_INITIALIZER;
std::vector<CachedConfig>* cache = nullptr;
pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

void LockCache() { pthread_mutex_lock(&cache_mutex); }
void UnlockCache() { pthread_mutex_unlock(&cache_mutex); }

// A child forked while another thread held the lock gets it unlocked.
void RegisterAtFork() { pthread_atfork(LockCache, UnlockCache, UnlockCache); }

class CacheLock {
 public:
  CacheLock() {
    pthread_once(&atfork_once, RegisterAtFork);
    LockCache();
  }
  ~CacheLock() { UnlockCache(); }
  CacheLock(const CacheLock&) = delete;
  CacheLock& operator=(const CacheLock&) = delete;
};

ResolverConfig ConfigFromHello(const socket::v1::HelloResponse& hello) {
  ResolverConfig config;
  for (const socket::v1::Address& a : hello.dns_servers()) {
    DnsServerAddress server;
    if (a.family() == AF_INET && a.ip().size() == 4) {
      server.address.family = AF_INET;
    } else if (a.family() == AF_INET6 && a.ip().size() == 16) {
      server.address.family = AF_INET6;
      server.address.scope_id = a.scope_id();
    } else {
      continue;  // Malformed: not a server to ask.
    }
    std::memcpy(server.address.bytes.data(), a.ip().data(), a.ip().size());
    server.port = a.port() > 0 && a.port() <= 0xffff
                      ? static_cast<uint16_t>(a.port())
                      : static_cast<uint16_t>(kDnsPort);
    if (config.servers.size() < kMaxDnsServers) config.servers.push_back(server);
  }
  for (const std::string& domain : hello.search_domains()) {
    if (config.search.size() < kMaxSearchDomains && !domain.empty() &&
        domain.size() <= 253) {
      config.search.push_back(domain);
    }
  }
  bool inet = false;
  bool inet6 = false;
  for (int family : hello.families()) {
    inet = inet || family == AF_INET;
    inet6 = inet6 || family == AF_INET6;
  }
  if (inet || inet6) {
    config.inet = inet;
    config.inet6 = inet6;
  }
  return config;
}

// Closes the fd when it goes out of scope, keeping errno.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() {
    if (fd_ >= 0) {
      const int saved_errno = errno;
      close(fd_);
      errno = saved_errno;
    }
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

socklen_t ServerSockaddr(const DnsServerAddress& server, sockaddr_storage* out) {
  std::memset(out, 0, sizeof(*out));
  if (server.address.family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(out);
    in->sin_family = AF_INET;
    in->sin_port = htons(server.port);
    std::memcpy(&in->sin_addr, server.address.bytes.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(out);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(server.port);
  in6->sin6_scope_id = server.address.scope_id;
  std::memcpy(&in6->sin6_addr, server.address.bytes.data(), 16);
  return sizeof(sockaddr_in6);
}

// Whether a datagram from `from` comes from `server` (address and port;
// an IPv4 server may also appear IPv4-mapped).
bool FromServer(const sockaddr_storage& from, socklen_t len,
                const DnsServerAddress& server) {
  if (from.ss_family == AF_INET && len >= sizeof(sockaddr_in)) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&from);
    return server.address.family == AF_INET &&
           ntohs(in->sin_port) == server.port &&
           std::memcmp(&in->sin_addr, server.address.bytes.data(), 4) == 0;
  }
  if (from.ss_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&from);
    if (ntohs(in6->sin6_port) != server.port) return false;
    const auto* ip = reinterpret_cast<const uint8_t*>(&in6->sin6_addr);
    if (server.address.family == AF_INET6) {
      return std::memcmp(ip, server.address.bytes.data(), 16) == 0;
    }
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(ip, kMapped, 12) == 0 &&
           std::memcmp(ip + 12, server.address.bytes.data(), 4) == 0;
  }
  return false;
}

// Waits until `fd` reports `events` or the deadline passes. 0, ETIMEDOUT,
// or poll's errno.
int WaitFor(int fd, short events, int64_t deadline_ms) {
  for (;;) {
    const int64_t left = deadline_ms - MonotonicMs();
    if (left <= 0) return ETIMEDOUT;
    pollfd p{fd, events, 0};
    const int ready = poll(&p, 1, static_cast<int>(left));
    if (ready > 0) return 0;  // Ready, or an error the next call reports.
    if (ready < 0 && errno != EINTR) return errno;
  }
}

// Sends all of `data` on the stream `fd` by the deadline.
int SendAll(int fd, const uint8_t* data, size_t len, int64_t deadline_ms) {
  size_t sent = 0;
  while (sent < len) {
    const ssize_t n =
        ::send(fd, data + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return errno;
    if (int error = WaitFor(fd, POLLOUT, deadline_ms)) return error;
  }
  return 0;
}

// Receives exactly `len` bytes from the stream `fd` by the deadline.
int RecvAll(int fd, uint8_t* data, size_t len, int64_t deadline_ms) {
  size_t got = 0;
  while (got < len) {
    if (int error = WaitFor(fd, POLLIN, deadline_ms)) return error;
    const ssize_t n = ::recv(fd, data + got, len - got, MSG_DONTWAIT);
    if (n > 0) {
      got += static_cast<size_t>(n);
      continue;
    }
    if (n == 0) return ECONNRESET;  // The server closed before answering.
    if (errno != EAGAIN && errno != EINTR) return errno;
  }
  return 0;
}

}  // namespace

const char* ResolverStack(int family) {
  const int first = family == AF_INET6 ? AF_INET6 : AF_INET;
  const int second = first == AF_INET ? AF_INET6 : AF_INET;
  if (const char* path = DefaultStack(first)) return path;
  return DefaultStack(second);
}

int StackConfigSource::Get(ResolverConfig* config) {
  {
    CacheLock lock;
    if (cache != nullptr) {
      for (const CachedConfig& c : *cache) {
        if (c.path == path_) {
          *config = c.config;
          return 0;
        }
      }
    }
  }
  socket::v1::HelloResponse hello;
  if (int error = StackHello(path_.c_str(), &hello)) return error;
  *config = ConfigFromHello(hello);
  CacheLock lock;
  if (cache == nullptr) cache = new std::vector<CachedConfig>();
  for (CachedConfig& c : *cache) {
    if (c.path == path_) {
      c.config = *config;
      return 0;
    }
  }
  if (cache->size() >= kMaxCachedStacks) cache->clear();
  cache->push_back(CachedConfig{path_, *config});
  return 0;
}

void StackConfigSource::Refresh() {
  CacheLock lock;
  if (cache == nullptr) return;
  for (auto it = cache->begin(); it != cache->end(); ++it) {
    if (it->path == path_) {
      cache->erase(it);
      return;
    }
  }
}

int StackDnsTransport::ExchangeUdp(
    const DnsServerAddress& server, const std::vector<uint8_t>& query,
    int64_t deadline_ms,
    const std::function<bool(const std::vector<uint8_t>&)>& accept,
    std::vector<uint8_t>* reply) {
  int raw_fd = -1;
  if (int error = StackSocket(path_.c_str(), server.address.family,
                              SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                              &raw_fd)) {
    return error;
  }
  ScopedFd fd(raw_fd);
  sockaddr_storage to;
  const socklen_t to_len = ServerSockaddr(server, &to);
  for (;;) {
    const ssize_t n = ::sendto(fd.get(), query.data(), query.size(),
                               MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&to),
                               to_len);
    if (n >= 0) break;
    if (errno != EAGAIN && errno != EINTR) return errno;
    if (int error = WaitFor(fd.get(), POLLOUT, deadline_ms)) return error;
  }
  std::vector<uint8_t> buffer(dns::kMaxMessageBytes);
  for (;;) {
    if (int error = WaitFor(fd.get(), POLLIN, deadline_ms)) return error;
    sockaddr_storage from{};
    socklen_t from_len = sizeof(from);
    const ssize_t n =
        ::recvfrom(fd.get(), buffer.data(), buffer.size(), MSG_DONTWAIT,
                   reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return errno;  // ECONNREFUSED (port unreachable) and the like.
    }
    if (!FromServer(from, from_len, server)) continue;
    reply->assign(buffer.begin(), buffer.begin() + n);
    if (accept(*reply)) return 0;
  }
}

int StackDnsTransport::ExchangeTcp(const DnsServerAddress& server,
                                   const std::vector<uint8_t>& query,
                                   int64_t deadline_ms,
                                   std::vector<uint8_t>* reply) {
  if (query.size() > dns::kMaxMessageBytes) return EMSGSIZE;
  int raw_fd = -1;
  if (int error = StackSocket(path_.c_str(), server.address.family,
                              SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                              &raw_fd)) {
    return error;
  }
  ScopedFd fd(raw_fd);
  sockaddr_storage to;
  const socklen_t to_len = ServerSockaddr(server, &to);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), to_len) != 0) {
    if (errno != EINPROGRESS && errno != EINTR) return errno;
    if (int error = WaitFor(fd.get(), POLLOUT, deadline_ms)) return error;
    int so_error = 0;
    socklen_t len = sizeof(so_error);
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) {
      return errno;
    }
    if (so_error != 0) return so_error;
  }
  std::vector<uint8_t> framed;
  framed.reserve(query.size() + 2);
  framed.push_back(static_cast<uint8_t>(query.size() >> 8));
  framed.push_back(static_cast<uint8_t>(query.size() & 0xff));
  framed.insert(framed.end(), query.begin(), query.end());
  if (int error = SendAll(fd.get(), framed.data(), framed.size(), deadline_ms)) {
    return error;
  }
  uint8_t length[2];
  if (int error = RecvAll(fd.get(), length, sizeof(length), deadline_ms)) {
    return error;
  }
  const size_t size = (static_cast<size_t>(length[0]) << 8) | length[1];
  if (size < dns::kHeaderBytes) return EPROTO;
  reply->resize(size);
  return RecvAll(fd.get(), reply->data(), size, deadline_ms);
}

}  // namespace stackd::client
