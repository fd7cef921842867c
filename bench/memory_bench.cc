// memory_bench: the workloads of bench/memory, as echo server and as client.
//
//   memory_bench server [--stack=PATH] PORT STATUS
//   memory_bench client --stackd-pid=PID --n=N --rounds=R --port=PORT
//                       --stack-netns=NS --stack-addr=ADDR --stack-status=FILE
//                       --veth-netns=NS --veth-addr=ADDR --veth-status=FILE
//                       [--settle=SECONDS] [--after-close=SECONDS]
//
// The server is a one-thread epoll echo server on 0.0.0.0:PORT: its
// listener comes from msocket() on the stack at PATH with --stack, else
// from the kernel. After every batch of events it rewrites STATUS with
// "accepted A closed C", which is how the client learns that the
// application holds (or has let go of) every connection.
//
// The client holds both sets of connections at once (the veth set in a
// forked helper, so each process needs only N fds), so their echo rounds
// can be interleaved in one run: N kernel TCP connections from namespace
// --stack-netns (the TAP's kernel side) to the server on the stack at
// --stack-addr, and N from --veth-netns to a kernel server at --veth-addr
// (over a veth pair). It measures stackd's VmRSS (/proc/PID/status):
//   - at the start (baseline: stackd with one listener, no connection);
//   - with N idle connections established and accepted, before any data;
//   - after R echo rounds on each set, interleaved (stackd, veth, stackd,
//     ...): every connection sends 16 bytes, then one thread waits in
//     epoll until every echo is back; the time of each round;
//   - after every connection closed (client shutdown(SHUT_WR), server
//     closes on EOF, client reads EOF and closes), and --after-close
//     seconds later.
// Prints "key value..." lines for bench/memory to tabulate. A step that
// cannot complete prints "failed STEP COUNT WHAT" (COUNT: how many had
// succeeded) and exits 3; every wait is bounded.
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/msocket.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMessageBytes = 16;
// Connects in flight at once: below every listen backlog on the way.
constexpr size_t kConnectWindow = 256;
// A step fails when it makes no progress for this long.
constexpr auto kStall = std::chrono::seconds(20);
// An echo round fails when it takes longer than this in all (3 rounds of
// each kind and the wait after closing stay within 5 minutes).
constexpr auto kRoundLimit = std::chrono::seconds(40);

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "memory_bench: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

// Ends the run with a "failed" line (see the file comment).
[[noreturn]] void Fail(const std::string& step, size_t count, const std::string& what) {
  std::printf("failed %s %zu %s\n", step.c_str(), count, what.c_str());
  std::fflush(stdout);
  std::exit(3);
}

std::string ErrnoName(int e) {
  switch (e) {
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    case ENOBUFS: return "ENOBUFS";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EADDRINUSE: return "EADDRINUSE";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EPIPE: return "EPIPE";
    case EAGAIN: return "EAGAIN";
    default: return "errno" + std::to_string(e) + "(" + std::strerror(e) + ")";
  }
}

// Soft RLIMIT_NOFILE to the hard limit; if `needed` is more than that, the
// hard limit too (root may). Returns the soft limit in force.
rlim_t RaiseFileLimit(rlim_t needed) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < needed) {
    rlimit more{needed, needed};
    if (setrlimit(RLIMIT_NOFILE, &more) == 0) limit = more;
  }
  getrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_cur;
}

// ---------------------------------------------------------------- server

void WriteStatus(int fd, uint64_t accepted, uint64_t closed) {
  char line[64];
  int n = std::snprintf(line, sizeof(line), "accepted %020llu closed %020llu\n",
                        static_cast<unsigned long long>(accepted),
                        static_cast<unsigned long long>(closed));
  if (pwrite(fd, line, static_cast<size_t>(n), 0) != n) Die("write status");
}

int RunServer(const char* stack, int port, const char* status_path) {
  RaiseFileLimit(0);
  int status = open(status_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (status < 0) Die("open status");
  int lfd = stack != nullptr ? msocket(stack, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)
                             : socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (lfd < 0) Die("socket");
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) Die("bind");
  if (listen(lfd, 4096) != 0) Die("listen");
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) Die("epoll_create1");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = lfd;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0) Die("epoll_ctl listener");
  uint64_t accepted = 0, closed = 0;
  WriteStatus(status, accepted, closed);
  std::printf("ready\n");
  std::fflush(stdout);
  std::vector<epoll_event> events(1024);
  char buf[4096];
  // After accept4 fails (out of fds), the listener stays out of epoll for
  // 100 ms rather than spinning on it.
  bool accept_paused = false;
  int last_accept_errno = 0;
  Clock::time_point resume_accept;
  for (;;) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()),
                       accept_paused ? 100 : -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      Die("epoll_wait");
    }
    uint64_t before_a = accepted, before_c = closed;
    if (accept_paused && Clock::now() >= resume_accept) {
      ev.events = EPOLLIN;
      ev.data.fd = lfd;
      epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
      accept_paused = false;
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == lfd) {
        for (;;) {
          int c = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno != last_accept_errno) {  // Once per kind of failure.
              std::fprintf(stderr, "memory_bench: accept4 after %llu: %s\n",
                           static_cast<unsigned long long>(accepted), std::strerror(errno));
              last_accept_errno = errno;
            }
            epoll_ctl(ep, EPOLL_CTL_DEL, lfd, nullptr);
            accept_paused = true;
            resume_accept = Clock::now() + std::chrono::milliseconds(100);
            break;
          }
          epoll_event cev{};
          cev.events = EPOLLIN | EPOLLRDHUP;
          cev.data.fd = c;
          if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev) != 0) Die("epoll_ctl conn");
          ++accepted;
        }
        continue;
      }
      ssize_t r = read(fd, buf, sizeof(buf));
      if (r > 0) {
        const char* p = buf;
        while (r > 0) {
          ssize_t w = send(fd, p, static_cast<size_t>(r), MSG_NOSIGNAL);
          if (w < 0 && errno == EINTR) continue;
          if (w <= 0) break;  // An echo of 16 bytes never fills a buffer.
          p += w;
          r -= w;
        }
        continue;
      }
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
      close(fd);
      ++closed;
    }
    if (accepted != before_a || closed != before_c) WriteStatus(status, accepted, closed);
  }
}

// ---------------------------------------------------------------- client

struct ServerStatus {
  uint64_t accepted = 0;
  uint64_t closed = 0;
};

ServerStatus ReadStatus(const std::string& path) {
  ServerStatus s;
  std::ifstream in(path);
  std::string a, c;
  in >> a >> s.accepted >> c >> s.closed;
  return s;
}

// VmRSS of `pid` in KiB; 0 if it is gone.
long RssKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

// Where `pid`'s resident memory is, in KiB, from /proc/PID/smaps: the brk
// heap, other anonymous mappings (malloc arenas of other threads, large
// allocations, stacks), file-backed mappings.
struct RssParts {
  long heap = 0;
  long anon = 0;
  long file = 0;
  long anon_mappings = 0;
};

RssParts Breakdown(pid_t pid) {
  RssParts parts;
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps");
  std::string line;
  int kind = 0;  // 0 heap, 1 anonymous, 2 file.
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    bool header = std::isxdigit(static_cast<unsigned char>(line[0])) &&
                  line.find('-') != std::string::npos && line.find(':') > line.find(' ');
    if (header) {
      std::istringstream f(line);
      std::string range, perms, offset, dev, inode, name;
      f >> range >> perms >> offset >> dev >> inode;
      std::getline(f, name);
      name.erase(0, name.find_first_not_of(' '));
      if (name == "[heap]") {
        kind = 0;
      } else if (name.empty() || name[0] == '[') {
        kind = 1;
        if (name.empty()) ++parts.anon_mappings;
      } else {
        kind = 2;
      }
    } else if (line.rfind("Rss:", 0) == 0) {
      long kib = std::atol(line.c_str() + 4);
      (kind == 0 ? parts.heap : kind == 1 ? parts.anon : parts.file) += kib;
    }
  }
  return parts;
}

// CPU time (user + system, all threads) `pid` has used, in ms.
long CpuMs(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  // After the command name: state (field 3) ... utime (14), stime (15).
  std::istringstream f(stat.substr(paren + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && f >> field; ++i) {
    if (i == 14) utime = std::atol(field.c_str());
    if (i == 15) stime = std::atol(field.c_str());
  }
  return (utime + stime) * 1000 / sysconf(_SC_CLK_TCK);
}

size_t CountFds(pid_t pid) {
  size_t n = 0;
  DIR* d = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (d == nullptr) return 0;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n >= 2 ? n - 2 : 0;
}

void SetNetns(const std::string& name) {
  int ns = open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) Die(("setns " + name).c_str());
  close(ns);
}

// One set of N connections to one server, with its own epoll instance.
struct Path {
  std::string name;  // "stackd" or "veth".
  std::string netns;
  sockaddr_in server{};
  std::string status;
  std::vector<int> fds;
  int ep = -1;
};

void Report(const char* key, long value) { std::printf("%s %ld\n", key, value); }

void ReportRss(const char* key, pid_t pid) {
  long rss = RssKib(pid);
  if (rss == 0) Fail(key, 0, "stackd-gone");
  Report(key, rss);
  std::fflush(stdout);
}

void ReportBreakdown(const char* prefix, pid_t pid) {
  RssParts p = Breakdown(pid);
  std::printf("%s_heap_kib %ld\n%s_anon_kib %ld\n%s_file_kib %ld\n%s_anon_mappings %ld\n",
              prefix, p.heap, prefix, p.anon, prefix, p.file, prefix, p.anon_mappings);
  std::printf("%s_fds %zu\n", prefix, CountFds(pid));
}

// Opens `n` connections on `path`, kConnectWindow at a time; then waits
// until its server reports them all accepted.
void ConnectAll(Path& path, size_t n) {
  SetNetns(path.netns);
  path.ep = epoll_create1(EPOLL_CLOEXEC);
  if (path.ep < 0) Die("epoll_create1");
  path.fds.reserve(n);
  const std::string step = "connect-" + path.name;
  size_t started = 0, established = 0, in_flight = 0;
  std::vector<epoll_event> events(kConnectWindow);
  auto progress = Clock::now();
  while (established < n) {
    while (started < n && in_flight < kConnectWindow) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) Fail(step, established, "socket:" + ErrnoName(errno));
      int r = connect(fd, reinterpret_cast<sockaddr*>(&path.server), sizeof(path.server));
      if (r != 0 && errno != EINPROGRESS) Fail(step, established, "connect:" + ErrnoName(errno));
      epoll_event ev{};
      ev.events = EPOLLOUT;
      ev.data.u64 = path.fds.size();
      if (epoll_ctl(path.ep, EPOLL_CTL_ADD, fd, &ev) != 0) Die("epoll_ctl");
      path.fds.push_back(fd);
      ++started;
      ++in_flight;
    }
    int k = epoll_wait(path.ep, events.data(), static_cast<int>(events.size()), 100);
    if (k < 0 && errno != EINTR) Die("epoll_wait");
    for (int i = 0; i < k; ++i) {
      int fd = path.fds[events[i].data.u64];
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) Fail(step, established, "SO_ERROR:" + ErrnoName(err));
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = events[i].data.u64;
      epoll_ctl(path.ep, EPOLL_CTL_MOD, fd, &ev);
      ++established;
      --in_flight;
      progress = Clock::now();
    }
    if (Clock::now() - progress > kStall) Fail(step, established, "stalled");
  }
  // The handshakes are done; the application may still be accepting.
  uint64_t last = 0;
  progress = Clock::now();
  for (;;) {
    ServerStatus s = ReadStatus(path.status);
    if (s.accepted >= n) break;
    if (s.accepted != last) progress = Clock::now();
    last = s.accepted;
    if (Clock::now() - progress > kStall) Fail("accept-" + path.name, s.accepted, "stalled");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// One echo round on `path`: milliseconds from the first send to the last
// byte of the last echo.
double EchoRound(Path& path, int round) {
  const std::string step = "echo-" + path.name + "-" + std::to_string(round);
  const size_t n = path.fds.size();
  char msg[kMessageBytes];
  std::memset(msg, 'a' + round % 26, sizeof(msg));
  std::vector<uint8_t> got(n, 0);
  std::vector<epoll_event> events(1024);
  char buf[256];
  auto start = Clock::now();
  for (size_t i = 0; i < n; ++i) {
    ssize_t w = send(path.fds[i], msg, sizeof(msg), MSG_NOSIGNAL);
    if (w != static_cast<ssize_t>(sizeof(msg))) {
      Fail(step, i, w < 0 ? "send:" + ErrnoName(errno) : "short-send");
    }
  }
  size_t done = 0;
  auto progress = Clock::now();
  while (done < n) {
    int k = epoll_wait(path.ep, events.data(), static_cast<int>(events.size()), 100);
    if (k < 0 && errno != EINTR) Die("epoll_wait");
    for (int i = 0; i < k; ++i) {
      size_t idx = events[i].data.u64;
      ssize_t r = read(path.fds[idx], buf, sizeof(buf));
      if (r < 0 && errno == EAGAIN) continue;
      if (r <= 0) Fail(step, done, r == 0 ? "eof" : "read:" + ErrnoName(errno));
      if (got[idx] + r > static_cast<ssize_t>(kMessageBytes)) Fail(step, done, "too-much");
      got[idx] = static_cast<uint8_t>(got[idx] + r);
      if (got[idx] == kMessageBytes) ++done;
      progress = Clock::now();
    }
    auto now = Clock::now();
    if (now - progress > kStall) Fail(step, done, "stalled");
    if (now - start > kRoundLimit) Fail(step, done, "over-40s");
  }
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Closes every connection of `path` the polite way and waits until its
// server has closed them all too.
void CloseAll(Path& path) {
  const std::string step = "close-" + path.name;
  const size_t n = path.fds.size();
  uint64_t closed_before = ReadStatus(path.status).closed;
  for (int fd : path.fds) shutdown(fd, SHUT_WR);
  std::vector<bool> eof(n, false);
  std::vector<epoll_event> events(1024);
  char buf[256];
  size_t done = 0;
  auto progress = Clock::now();
  while (done < n) {
    int k = epoll_wait(path.ep, events.data(), static_cast<int>(events.size()), 100);
    if (k < 0 && errno != EINTR) Die("epoll_wait");
    for (int i = 0; i < k; ++i) {
      size_t idx = events[i].data.u64;
      ssize_t r = read(path.fds[idx], buf, sizeof(buf));
      if (r < 0 && errno == EAGAIN) continue;
      if (r > 0) continue;
      if (!eof[idx]) {
        eof[idx] = true;
        ++done;
        epoll_ctl(path.ep, EPOLL_CTL_DEL, path.fds[idx], nullptr);
        progress = Clock::now();
      }
    }
    if (Clock::now() - progress > kStall) Fail(step, done, "stalled");
  }
  for (int fd : path.fds) close(fd);
  path.fds.clear();
  progress = Clock::now();
  uint64_t last = 0;
  for (;;) {
    ServerStatus s = ReadStatus(path.status);
    if (s.closed - closed_before >= n) break;
    if (s.closed != last) progress = Clock::now();
    last = s.closed;
    if (Clock::now() - progress > kStall) Fail(step + "-server", s.closed - closed_before, "stalled");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::map<std::string, std::string> ParseFlags(int argc, char** argv, int first) {
  std::map<std::string, std::string> flags;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    size_t eq = a.find('=');
    if (a.rfind("--", 0) != 0 || eq == std::string::npos) {
      std::fprintf(stderr, "memory_bench: bad argument %s\n", a.c_str());
      std::exit(2);
    }
    flags[a.substr(2, eq - 2)] = a.substr(eq + 1);
  }
  return flags;
}

sockaddr_in Address(const std::string& text, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, text.c_str(), &a.sin_addr) != 1) {
    std::fprintf(stderr, "memory_bench: bad address %s\n", text.c_str());
    std::exit(2);
  }
  return a;
}

// The veth connections live in a helper process (fork), so that neither
// process needs more than N fds (RLIMIT_NOFILE is per process; the hard
// limit may be little above N). The parent drives it over a socketpair,
// one request at a time: 'c' connect all, 'e' echo round ARG, 'x' close
// all; the answer is the time it took in ms. A helper whose step fails
// prints its own "failed" line and exits 3; the parent then exits 3 too.
double Ms(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Request {
  char command;
  int arg;
};

[[noreturn]] void ServeHelper(int sock, Path& path, size_t n) {
  for (;;) {
    Request req{};
    if (read(sock, &req, sizeof(req)) != sizeof(req)) std::_Exit(0);
    auto t0 = Clock::now();
    double ms = 0;
    switch (req.command) {
      case 'c':
        ConnectAll(path, n);
        ms = Ms(t0);
        break;
      case 'e':
        ms = EchoRound(path, req.arg);
        break;
      case 'x':
        CloseAll(path);
        ms = Ms(t0);
        break;
      default:
        std::_Exit(2);
    }
    std::fflush(stdout);
    if (write(sock, &ms, sizeof(ms)) != sizeof(ms)) std::_Exit(0);
  }
}

struct Helper {
  int sock = -1;
  pid_t pid = -1;
};

Helper StartHelper(Path& path, size_t n) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) Die("socketpair");
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) Die("fork");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // Never outlives the client.
    close(sv[0]);
    ServeHelper(sv[1], path, n);
  }
  close(sv[1]);
  return Helper{sv[0], pid};
}

// Asks the helper for one step; its time in ms.
double Ask(Helper& h, char command, int arg) {
  Request req{command, arg};
  if (write(h.sock, &req, sizeof(req)) != sizeof(req)) Die("write to helper");
  double ms = 0;
  if (read(h.sock, &ms, sizeof(ms)) != sizeof(ms)) {
    // The helper failed (its "failed" line is out) or died.
    int status = 0;
    waitpid(h.pid, &status, 0);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 3)) {
      Fail(std::string("helper-") + command, 0, "helper-died-status-" + std::to_string(status));
    }
    std::exit(3);
  }
  return ms;
}

int RunClient(std::map<std::string, std::string> f) {
  for (const char* k : {"stackd-pid", "n", "rounds", "port", "stack-netns", "stack-addr",
                        "stack-status", "veth-netns", "veth-addr", "veth-status"}) {
    if (f.count(k) == 0) {
      std::fprintf(stderr, "memory_bench: client needs --%s\n", k);
      return 2;
    }
  }
  const pid_t pid = std::atoi(f["stackd-pid"].c_str());
  const size_t n = std::strtoul(f["n"].c_str(), nullptr, 10);
  const int rounds = std::atoi(f["rounds"].c_str());
  const int port = std::atoi(f["port"].c_str());
  const int settle = f.count("settle") ? std::atoi(f["settle"].c_str()) : 2;
  const int after_close = f.count("after-close") ? std::atoi(f["after-close"].c_str()) : 60;

  rlim_t nofile = RaiseFileLimit(n + 64);
  Path stack{"stackd", f["stack-netns"], Address(f["stack-addr"], port), f["stack-status"], {}, -1};
  Path veth{"veth", f["veth-netns"], Address(f["veth-addr"], port), f["veth-status"], {}, -1};
  Helper helper = StartHelper(veth, n);

  Report("n", static_cast<long>(n));
  Report("client_nofile", static_cast<long>(nofile));
  ReportRss("rss_base_kib", pid);
  ReportBreakdown("base", pid);

  auto t0 = Clock::now();
  ConnectAll(stack, n);
  Report("connect_stackd_ms", static_cast<long>(Ms(t0)));
  std::this_thread::sleep_for(std::chrono::seconds(settle));
  ReportRss("rss_idle_kib", pid);
  ReportBreakdown("idle", pid);
  // What N idle connections cost stackd in CPU: its timers walk them.
  constexpr int kIdleCpuSeconds = 5;
  const long cpu0 = CpuMs(pid);
  std::this_thread::sleep_for(std::chrono::seconds(kIdleCpuSeconds));
  Report("idle_cpu_ms", CpuMs(pid) - cpu0);
  Report("idle_cpu_s", kIdleCpuSeconds);

  Report("connect_veth_ms", static_cast<long>(Ask(helper, 'c', 0)));
  std::fflush(stdout);

  for (int r = 0; r < rounds; ++r) {
    std::printf("echo_stackd_ms %.3f\n", EchoRound(stack, r));
    std::fflush(stdout);
    std::printf("echo_veth_ms %.3f\n", Ask(helper, 'e', r));
    std::fflush(stdout);
  }
  std::this_thread::sleep_for(std::chrono::seconds(settle));
  ReportRss("rss_after_echo_kib", pid);
  ReportBreakdown("echo", pid);

  Ask(helper, 'x', 0);
  close(helper.sock);
  waitpid(helper.pid, nullptr, 0);
  t0 = Clock::now();
  CloseAll(stack);
  Report("close_stackd_ms", static_cast<long>(Ms(t0)));
  ReportRss("rss_closed_kib", pid);
  std::this_thread::sleep_for(std::chrono::seconds(after_close));
  ReportRss("rss_closed_later_kib", pid);
  ReportBreakdown("later", pid);
  Report("after_close_s", after_close);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc >= 2 && std::strcmp(argv[1], "server") == 0) {
    const char* stack = nullptr;
    std::vector<const char*> args;
    for (int i = 2; i < argc; ++i) {
      if (std::strncmp(argv[i], "--stack=", 8) == 0) {
        stack = argv[i] + 8;
      } else {
        args.push_back(argv[i]);
      }
    }
    if (args.size() == 2) return RunServer(stack, std::atoi(args[0]), args[1]);
  } else if (argc >= 2 && std::strcmp(argv[1], "client") == 0) {
    return RunClient(ParseFlags(argc, argv, 2));
  }
  std::fprintf(stderr,
               "usage: memory_bench server [--stack=PATH] PORT STATUS\n"
               "       memory_bench client --stackd-pid=PID --n=N --rounds=R --port=PORT "
               "--stack-netns=NS --stack-addr=ADDR --stack-status=FILE --veth-netns=NS "
               "--veth-addr=ADDR --veth-status=FILE [--settle=S] [--after-close=S]\n");
  return 2;
}
