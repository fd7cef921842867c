// tcp_bench: the TCP workloads of bench/tcp, as client and as server.
//
//   tcp_bench server PORT                 kernel TCP server (IPv4 and IPv6)
//   tcp_bench send   [--stack=PATH] ADDR PORT BYTES
//   tcp_bench recv   [--stack=PATH] ADDR PORT BYTES
//   tcp_bench rr     [--stack=PATH] ADDR PORT SECONDS
//   tcp_bench crr    [--stack=PATH] ADDR PORT SECONDS
//
// With --stack the client's socket comes from msocket() on that stack,
// otherwise from the kernel: the same code measures both. Each client mode
// prints one line "MODE VALUE UNIT". The first byte a client sends picks
// the server's job: 'S' sink (read to EOF, answer the byte count), 'R'
// source (send the 8-byte count that follows, then close), 'E' echo one
// byte at a time, 'C' close at once.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "client/msocket.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kChunk = 256 * 1024;

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "tcp_bench: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

bool WriteAll(int fd, const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

bool ReadAll(int fd, void* data, size_t len) {
  char* p = static_cast<char*>(data);
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

void Serve(int fd) {
  char job = 0;
  if (!ReadAll(fd, &job, 1)) {
    close(fd);
    return;
  }
  std::vector<char> buf(kChunk);
  if (job == 'S') {
    uint64_t total = 0;
    ssize_t n;
    while ((n = read(fd, buf.data(), buf.size())) > 0) total += static_cast<uint64_t>(n);
    WriteAll(fd, &total, sizeof(total));
  } else if (job == 'R') {
    uint64_t total = 0;
    if (ReadAll(fd, &total, sizeof(total))) {
      while (total > 0) {
        size_t part = total < buf.size() ? static_cast<size_t>(total) : buf.size();
        if (!WriteAll(fd, buf.data(), part)) break;
        total -= part;
      }
    }
  } else if (job == 'E') {
    char c;
    while (ReadAll(fd, &c, 1) && WriteAll(fd, &c, 1)) {
    }
  }
  close(fd);
}

int RunServer(int port) {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) Die("socket");
  int one = 1, zero = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) Die("bind");
  if (listen(fd, 1024) != 0) Die("listen");
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) {
    int c = accept(fd, nullptr, nullptr);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      Die("accept");
    }
    std::thread(Serve, c).detach();
  }
}

struct Target {
  const char* stack = nullptr;
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = AF_INET;
};

int Connect(const Target& t) {
  int fd = t.stack != nullptr ? msocket(t.stack, t.family, SOCK_STREAM, 0)
                              : socket(t.family, SOCK_STREAM, 0);
  if (fd < 0) Die("socket");
  if (connect(fd, reinterpret_cast<const sockaddr*>(&t.addr), t.len) != 0) Die("connect");
  return fd;
}

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args;
  Target target;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--stack=", 0) == 0) {
      target.stack = argv[i] + 8;
    } else {
      args.push_back(a);
    }
  }
  if (args.size() == 2 && args[0] == "server") return RunServer(std::atoi(args[1].c_str()));
  if (args.size() != 4) {
    std::fprintf(stderr, "usage: tcp_bench server PORT | {send|recv|rr|crr} [--stack=PATH] ADDR PORT N\n");
    return 2;
  }
  const std::string& mode = args[0];
  int port = std::atoi(args[2].c_str());
  auto* in4 = reinterpret_cast<sockaddr_in*>(&target.addr);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&target.addr);
  if (inet_pton(AF_INET, args[1].c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(static_cast<uint16_t>(port));
    target.len = sizeof(*in4);
    target.family = AF_INET;
  } else if (inet_pton(AF_INET6, args[1].c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    target.len = sizeof(*in6);
    target.family = AF_INET6;
  } else {
    std::fprintf(stderr, "tcp_bench: bad address %s\n", args[1].c_str());
    return 2;
  }
  const double n = std::atof(args[3].c_str());
  std::vector<char> buf(kChunk, 'x');

  if (mode == "send") {
    uint64_t total = static_cast<uint64_t>(n), left = total, got = 0;
    int fd = Connect(target);
    auto start = Clock::now();
    WriteAll(fd, "S", 1);
    while (left > 0) {
      size_t part = left < buf.size() ? static_cast<size_t>(left) : buf.size();
      if (!WriteAll(fd, buf.data(), part)) Die("send");
      left -= part;
    }
    shutdown(fd, SHUT_WR);
    if (!ReadAll(fd, &got, sizeof(got)) || got != total) Die("sink count");
    std::printf("send %.3f Gbit/s\n", total * 8 / Seconds(start) / 1e9);
    close(fd);
  } else if (mode == "recv") {
    uint64_t total = static_cast<uint64_t>(n), got = 0;
    int fd = Connect(target);
    auto start = Clock::now();
    WriteAll(fd, "R", 1);
    WriteAll(fd, &total, sizeof(total));
    ssize_t r;
    while ((r = read(fd, buf.data(), buf.size())) > 0) got += static_cast<uint64_t>(r);
    if (got != total) Die("short source");
    std::printf("recv %.3f Gbit/s\n", total * 8 / Seconds(start) / 1e9);
    close(fd);
  } else if (mode == "rr") {
    int fd = Connect(target);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    WriteAll(fd, "E", 1);
    uint64_t count = 0;
    auto start = Clock::now();
    char c = 'x';
    while (Seconds(start) < n) {
      for (int i = 0; i < 100; ++i) {
        if (!WriteAll(fd, &c, 1) || !ReadAll(fd, &c, 1)) Die("rr");
      }
      count += 100;
    }
    std::printf("rr %.0f trans/s\n", count / Seconds(start));
    close(fd);
  } else if (mode == "crr") {
    uint64_t count = 0;
    auto start = Clock::now();
    while (Seconds(start) < n) {
      int fd = Connect(target);
      WriteAll(fd, "C", 1);
      char c;
      read(fd, &c, 1);  // EOF once the server closed.
      close(fd);
      ++count;
    }
    std::printf("crr %.0f conn/s\n", count / Seconds(start));
  } else {
    std::fprintf(stderr, "tcp_bench: unknown mode %s\n", mode.c_str());
    return 2;
  }
  return 0;
}
