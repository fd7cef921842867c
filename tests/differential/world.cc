#include "tests/differential/world.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/msocket.h"

namespace stackd::differential {

const char* IpName(Ip ip) {
  switch (ip) {
    case Ip::kV4: return "v4";
    case Ip::kV6: return "v6";
    case Ip::kMapped: return "mapped";
  }
  return "?";
}

const char* WorldName(WorldKind kind) {
  switch (kind) {
    case WorldKind::kKernel: return "kernel";
    case WorldKind::kStackLoopback: return "stack_lo";
    case WorldKind::kStackTap: return "stack_tap";
  }
  return "?";
}

World::World(WorldKind kind, const testbed::Testbed& bed)
    : kind_(kind), bed_(bed) {}

World::~World() {
  for (int fd : fds_) close(fd);
  for (const std::string& table : nft_tables_) {
    bed_.Run(absl::StrCat("nft delete table inet ", table));
  }
}

bool World::RejectTcpToPort(uint16_t port) {
  const std::string table = absl::StrCat("difftest_reject_", port);
  const testbed::CommandResult made = bed_.Run(absl::StrCat(
      "nft add table inet ", table, " && nft add chain inet ", table,
      " input '{ type filter hook input priority 0; }' && nft add rule inet ", table,
      " input tcp dport ", port, " reject with icmpx type host-unreachable"));
  nft_tables_.push_back(table);
  return made.exit_code == 0;
}

int World::Domain(Ip ip) { return ip == Ip::kV4 ? AF_INET : AF_INET6; }
int World::PeerDomain(Ip ip) { return ip == Ip::kV6 ? AF_INET6 : AF_INET; }

int World::Open(bool on_stack, int domain, int type, int protocol) {
  int fd;
  if (on_stack) {
    fd = msocket(bed_.stack_path().c_str(), domain, type, protocol);
  } else {
    auto made = testbed::KernelSocket(bed_.netns(), domain, type, protocol);
    if (!made.ok()) {
      errno = testbed::ErrnoOf(made.status());
      return -1;
    }
    fd = made->release();
  }
  if (fd >= 0) fds_.push_back(fd);
  return fd;
}

int World::Socket(int domain, int type, int protocol) {
  return Open(is_stack(), domain, type, protocol);
}

int World::PeerSocket(int domain, int type, int protocol) {
  return Open(kind_ == WorldKind::kStackLoopback, domain, type, protocol);
}

int World::Own(int fd) {
  if (fd >= 0) fds_.push_back(fd);
  return fd;
}

void World::Release(int fd) {
  for (auto it = fds_.begin(); it != fds_.end(); ++it) {
    if (*it == fd) {
      fds_.erase(it);
      return;
    }
  }
}

void World::Close(int fd) {
  for (auto it = fds_.begin(); it != fds_.end(); ++it) {
    if (*it == fd) {
      fds_.erase(it);
      close(fd);
      return;
    }
  }
}

std::string World::LocalIp(Ip ip) const {
  const bool tap = kind_ == WorldKind::kStackTap;
  if (ip == Ip::kV6) return std::string(tap ? testbed::kStackIp6 : "::1");
  return std::string(tap ? testbed::kStackIp4 : "127.0.0.1");
}

std::string World::PeerIp(Ip ip) const {
  const bool tap = kind_ == WorldKind::kStackTap;
  if (ip == Ip::kV6) return std::string(tap ? testbed::kKernelIp6 : "::1");
  return std::string(tap ? testbed::kKernelIp4 : "127.0.0.1");
}

SockAddr World::Local(Ip ip, uint16_t port) const {
  const std::string a = LocalIp(ip);
  return testbed::MakeSockAddr(ip == Ip::kMapped ? "::ffff:" + a : a, port);
}
SockAddr World::LocalForPeer(Ip ip, uint16_t port) const {
  return testbed::MakeSockAddr(LocalIp(ip), port);
}
SockAddr World::Peer(Ip ip, uint16_t port) const {
  const std::string a = PeerIp(ip);
  return testbed::MakeSockAddr(ip == Ip::kMapped ? "::ffff:" + a : a, port);
}
SockAddr World::PeerForPeer(Ip ip, uint16_t port) const {
  return testbed::MakeSockAddr(PeerIp(ip), port);
}
SockAddr World::Any(Ip ip, uint16_t port) const {
  return testbed::MakeSockAddr(ip == Ip::kV4 ? "0.0.0.0" : "::", port);
}

std::string World::Describe(const sockaddr* addr, socklen_t len) const {
  if (len == 0 || addr->sa_family == AF_UNSPEC) return "none";
  SockAddr a;
  if (len > sizeof(a.storage)) return "other";
  memcpy(&a.storage, addr, len);
  a.len = len;
  std::string ip = a.ip();
  const bool mapped = ip.rfind("::ffff:", 0) == 0;
  if (mapped) ip = ip.substr(7);
  // On loopback the local and the peer address are one address, so both
  // are "host" in every world.
  std::string what = "other";
  if (ip == "0.0.0.0" || ip == "::") {
    what = "any";
  } else if (ip == LocalIp(Ip::kV4) || ip == LocalIp(Ip::kV6) ||
             ip == PeerIp(Ip::kV4) || ip == PeerIp(Ip::kV6) ||
             ip == "127.0.0.1" || ip == "::1") {
    what = "host";
  }
  const uint16_t port = a.port();
  return absl::StrCat(mapped ? "mapped-" : "",
                      a.family() == AF_INET ? "in4/" : "in6/", what,
                      port == 0 ? ":0" : ":P");
}

void Record::Add(absl::string_view what, absl::string_view value) {
  lines_.push_back(absl::StrCat(what, " = ", value));
}

long Record::Ret(absl::string_view what, long result) {
  const int saved = errno;
  Add(what, result >= 0 ? absl::StrCat(result)
                        : absl::StrCat(result, " ", ErrnoName(saved)));
  errno = saved;
  return result;
}

std::string Record::ToString() const {
  return absl::StrCat(absl::StrJoin(lines_, "\n"), "\n");
}

namespace {
std::atomic<int> sigpipes{0};
void OnSigpipe(int) { sigpipes.fetch_add(1); }
const bool sigpipe_counted = [] {
  struct sigaction sa {};
  sa.sa_handler = OnSigpipe;
  sigaction(SIGPIPE, &sa, nullptr);
  return true;
}();
}  // namespace

int SigpipeCount() {
  (void)sigpipe_counted;
  return sigpipes.load();
}

std::string ErrnoName(int error) {
  if (error == 0) return "0";
  const char* name = strerrorname_np(error);
  return name != nullptr ? name : absl::StrCat("errno", error);
}

namespace {

std::string BitNames(short revents) {
  static const struct {
    short bit;
    const char* name;
  } kBits[] = {{POLLIN, "IN"},     {POLLPRI, "PRI"}, {POLLOUT, "OUT"},
               {POLLRDHUP, "RDHUP"}, {POLLERR, "ERR"}, {POLLHUP, "HUP"},
               {POLLNVAL, "NVAL"}};
  std::vector<std::string> names;
  for (const auto& b : kBits) {
    if (revents & b.bit) names.push_back(b.name);
  }
  return names.empty() ? "none" : absl::StrJoin(names, "|");
}

short PollOnce(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  int n;
  do {
    n = poll(&p, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  return n > 0 ? p.revents : 0;
}

}  // namespace

std::string PollBits(int fd, short events, absl::Duration timeout,
                     absl::Duration settle) {
  const short got = PollOnce(
      fd, events, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (got == 0) return "none";
  return PollNow(fd, settle);
}

std::string PollNow(int fd, absl::Duration settle) {
  absl::SleepFor(settle);
  return BitNames(PollOnce(fd, POLLIN | POLLPRI | POLLOUT | POLLRDHUP, 0));
}

std::string GetInt(int fd, int level, int name) {
  int value = 0;
  socklen_t len = sizeof(value);
  if (getsockopt(fd, level, name, &value, &len) != 0) {
    return absl::StrCat("-1 ", ErrnoName(errno));
  }
  return len == sizeof(value) ? absl::StrCat(value)
                              : absl::StrCat(value, "/len=", len);
}

std::string Bounded(const std::function<long()>& call, absl::Duration timeout,
                    const std::function<void()>& unblock) {
  struct State {
    std::mutex mu;
    bool done = false;
    std::string result;
  };
  auto state = std::make_shared<State>();
  std::thread([state, call] {
    const long r = call();
    const int saved = errno;
    std::lock_guard<std::mutex> lock(state->mu);
    state->result = r >= 0 ? absl::StrCat(r)
                           : absl::StrCat(r, " ", ErrnoName(saved));
    state->done = true;
  }).detach();
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    {
      std::lock_guard<std::mutex> lock(state->mu);
      if (state->done) return state->result;
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
  if (unblock) unblock();
  return "hangs";
}

std::string ConnectWait(int fd, const SockAddr& to, absl::Duration timeout) {
  const int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  std::string result;
  if (connect(fd, to.get(), to.len) == 0) {
    result = "0";
  } else if (errno != EINPROGRESS) {
    result = absl::StrCat("-1 ", ErrnoName(errno));
  } else if (PollOnce(fd, POLLOUT, static_cast<int>(
                                       absl::ToInt64Milliseconds(timeout))) ==
             0) {
    result = "pending";
  } else {
    int error = 0;
    socklen_t len = sizeof(error);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
    result = error == 0 ? "0" : absl::StrCat("-1 ", ErrnoName(error));
  }
  fcntl(fd, F_SETFL, flags);
  return result;
}

namespace {

int ListenOn(int fd, SockAddr at, int backlog, SockAddr* addr) {
  if (fd < 0) return -1;
  if (bind(fd, at.get(), at.len) != 0 || listen(fd, backlog) != 0) return -1;
  auto name = testbed::LocalName(fd);
  if (!name.ok()) return -1;
  return static_cast<int>(name->port());
}

}  // namespace

int PeerListener(World& w, Ip ip, SockAddr* addr, int backlog) {
  const int fd = w.PeerSocket(ip, SOCK_STREAM);
  const int port = ListenOn(fd, w.PeerForPeer(ip), backlog, addr);
  if (port < 0) return -1;
  *addr = w.Peer(ip, static_cast<uint16_t>(port));
  return fd;
}

int LocalListener(World& w, Ip ip, SockAddr* addr, int backlog) {
  const int fd = w.Socket(ip, SOCK_STREAM);
  const int port = ListenOn(fd, w.Local(ip), backlog, addr);
  if (port < 0) return -1;
  *addr = w.LocalForPeer(ip, static_cast<uint16_t>(port));
  return fd;
}

int AcceptWithin(int fd, absl::Duration timeout) {
  if (PollOnce(fd, POLLIN, static_cast<int>(
                               absl::ToInt64Milliseconds(timeout))) == 0) {
    errno = ETIME;
    return -1;
  }
  return accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
}

Connection Connect(World& w, Ip ip) {
  Connection c;
  SockAddr at;
  const int listener = PeerListener(w, ip, &at);
  if (listener < 0) return c;
  const int mine = w.Socket(ip, SOCK_STREAM);
  if (mine < 0 || ConnectWait(mine, at) != "0") return c;
  const int theirs = AcceptWithin(listener, absl::Seconds(3));
  if (theirs < 0) return c;
  c.mine = mine;
  c.theirs = w.Own(theirs);
  w.Close(listener);
  return c;
}

Connection Accepted(World& w, Ip ip) {
  Connection c;
  SockAddr at;
  const int listener = LocalListener(w, ip, &at);
  if (listener < 0) return c;
  const int theirs = w.PeerSocket(ip, SOCK_STREAM);
  if (theirs < 0 || ConnectWait(theirs, at) != "0") return c;
  const int mine = AcceptWithin(listener, absl::Seconds(3));
  if (mine < 0) return c;
  c.mine = w.Own(mine);
  c.theirs = theirs;
  w.Close(listener);
  return c;
}

}  // namespace stackd::differential
