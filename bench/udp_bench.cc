// udp_bench: the UDP workloads of bench/udp, as client and as server.
//
//   udp_bench server PORT                        kernel UDP server (IPv4 and IPv6)
//   udp_bench send [--stack=PATH] ADDR PORT SIZE SECONDS
//   udp_bench recv [--stack=PATH] ADDR PORT SIZE SECONDS
//
// With --stack the client's socket comes from msocket() on that stack,
// otherwise from the kernel: the same code measures both.
//
// send: the client sends SIZE-byte datagrams as fast as its socket takes
// them for SECONDS; the server counts what arrives. recv: the server sends
// SIZE-byte datagrams as fast as it can for SECONDS; the client counts what
// arrives. Either way the rate is what the receiver got, from its first
// datagram to its last, and each client mode prints one line
// "MODE DATAGRAMS_PER_SECOND GBIT_PER_SECOND LOSS_PERCENT".
//
// The first byte of each datagram says what it is: 'B' begin a sink run
// (answer 'b'), 'D' data to count, 'E' end the run (answer 'e' and the
// counts), 'S' start a source run (SIZE, SECONDS follow), 'd' data from the
// source, 'f' the source finished (how many it sent follows).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/msocket.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxDatagram = 65536;
constexpr int kControlTries = 50;
constexpr int kControlWaitMs = 100;
// The socket buffers both paths ask for (both are capped by rmem_max and
// wmem_max the same way).
constexpr int kBufferBytes = 4 << 20;

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "udp_bench: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

void PutU64(char* p, uint64_t v) { std::memcpy(p, &v, sizeof(v)); }
uint64_t GetU64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// --- Server ------------------------------------------------------------------

struct SinkRun {
  uint64_t count = 0;
  uint64_t bytes = 0;
  Clock::time_point first, last;
};

void Source(int fd, sockaddr_storage to, socklen_t to_len, uint32_t size, uint32_t seconds) {
  std::vector<char> buf(size < 1 ? 1 : size, 'x');
  buf[0] = 'd';
  const auto end = Clock::now() + std::chrono::seconds(seconds);
  uint64_t sent = 0;
  while (Clock::now() < end) {
    for (int i = 0; i < 64; ++i) {
      if (sendto(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&to), to_len) > 0) {
        ++sent;
      }
    }
  }
  char fin[9];
  fin[0] = 'f';
  PutU64(fin + 1, sent);
  for (int i = 0; i < 20; ++i) {
    sendto(fd, fin, sizeof(fin), 0, reinterpret_cast<sockaddr*>(&to), to_len);
    usleep(10000);
  }
}

int RunServer(int port) {
  int fd = socket(AF_INET6, SOCK_DGRAM, 0);
  if (fd < 0) Die("socket");
  int zero = 0;
  setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kBufferBytes, sizeof(kBufferBytes));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kBufferBytes, sizeof(kBufferBytes));
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) Die("bind");
  std::printf("ready\n");
  std::fflush(stdout);
  std::vector<char> buf(kMaxDatagram);
  SinkRun run;
  std::atomic<bool> sourcing{false};
  for (;;) {
    sockaddr_storage from;
    socklen_t from_len = sizeof(from);
    const ssize_t n = recvfrom(fd, buf.data(), buf.size(), 0,
                               reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n <= 0) continue;
    switch (buf[0]) {
      case 'D':
        if (run.count == 0) run.first = Clock::now();
        run.last = Clock::now();
        ++run.count;
        run.bytes += static_cast<uint64_t>(n);
        break;
      case 'B':
        run = SinkRun();
        sendto(fd, "b", 1, 0, reinterpret_cast<sockaddr*>(&from), from_len);
        break;
      case 'E': {
        char reply[25];
        reply[0] = 'e';
        PutU64(reply + 1, run.count);
        PutU64(reply + 9, run.bytes);
        const double s = run.count > 1 ? Seconds(run.first, run.last) : 0;
        PutU64(reply + 17, static_cast<uint64_t>(s * 1e9));
        sendto(fd, reply, sizeof(reply), 0, reinterpret_cast<sockaddr*>(&from), from_len);
        break;
      }
      case 'S': {
        if (n < 9 || sourcing.exchange(true)) break;
        uint32_t size, seconds;
        std::memcpy(&size, buf.data() + 1, 4);
        std::memcpy(&seconds, buf.data() + 5, 4);
        if (size > 65000 || seconds > 60) {
          sourcing = false;
          break;
        }
        std::thread([fd, from, from_len, size, seconds, &sourcing] {
          Source(fd, from, from_len, size, seconds);
          sourcing = false;
        }).detach();
        break;
      }
      default:
        break;
    }
  }
}

// --- Client ------------------------------------------------------------------

struct Target {
  const char* stack = nullptr;
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = AF_INET;
};

int OpenSocket(const Target& t) {
  int fd = t.stack != nullptr ? msocket(t.stack, t.family, SOCK_DGRAM, 0)
                              : socket(t.family, SOCK_DGRAM, 0);
  if (fd < 0) Die("socket");
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kBufferBytes, sizeof(kBufferBytes));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kBufferBytes, sizeof(kBufferBytes));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&t.addr), t.len) != 0) Die("connect");
  return fd;
}

// Sends `request` until an answer starting with `answer` arrives; the
// answer is left in *reply. False if none came.
bool Ask(int fd, const char* request, size_t len, char answer, std::vector<char>* reply,
         ssize_t* reply_len) {
  for (int i = 0; i < kControlTries; ++i) {
    send(fd, request, len, 0);
    const auto until = Clock::now() + std::chrono::milliseconds(kControlWaitMs);
    while (Clock::now() < until) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, kControlWaitMs) <= 0) continue;
      const ssize_t n = recv(fd, reply->data(), reply->size(), MSG_DONTWAIT);
      if (n > 0 && (*reply)[0] == answer) {
        *reply_len = n;
        return true;
      }
    }
  }
  return false;
}

void Report(const char* mode, uint64_t count, uint64_t bytes, double seconds, uint64_t sent) {
  const double pps = seconds > 0 ? count / seconds : 0;
  const double gbps = seconds > 0 ? bytes * 8 / seconds / 1e9 : 0;
  const double loss = sent > 0 && sent >= count ? 100.0 * (sent - count) / sent : 0;
  std::printf("%s %.0f %.3f %.1f\n", mode, pps, gbps, loss);
}

int RunSend(const Target& t, size_t size, int seconds) {
  int fd = OpenSocket(t);
  std::vector<char> reply(64);
  ssize_t reply_len = 0;
  if (!Ask(fd, "B", 1, 'b', &reply, &reply_len)) Die("no answer to begin");
  std::vector<char> buf(size < 1 ? 1 : size, 'x');
  buf[0] = 'D';
  const auto end = Clock::now() + std::chrono::seconds(seconds);
  uint64_t sent = 0;
  while (Clock::now() < end) {
    for (int i = 0; i < 64; ++i) {
      if (send(fd, buf.data(), buf.size(), 0) > 0) ++sent;
    }
  }
  usleep(200000);  // Let the last datagrams arrive.
  if (!Ask(fd, "E", 1, 'e', &reply, &reply_len) || reply_len < 25) Die("no answer to end");
  const uint64_t count = GetU64(reply.data() + 1);
  const uint64_t bytes = GetU64(reply.data() + 9);
  const double s = GetU64(reply.data() + 17) / 1e9;
  Report("send", count, bytes, s, sent);
  close(fd);
  return 0;
}

int RunRecv(const Target& t, size_t size, int seconds) {
  int fd = OpenSocket(t);
  char request[9];
  request[0] = 'S';
  const uint32_t size32 = static_cast<uint32_t>(size), seconds32 = static_cast<uint32_t>(seconds);
  std::memcpy(request + 1, &size32, 4);
  std::memcpy(request + 5, &seconds32, 4);
  std::vector<char> buf(kMaxDatagram);
  uint64_t count = 0, bytes = 0, sent = 0;
  Clock::time_point first, last;
  bool finished = false;
  // Ask until the first datagram arrives.
  for (int i = 0; i < kControlTries && count == 0 && !finished; ++i) {
    send(fd, request, sizeof(request), 0);
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, kControlWaitMs) <= 0) continue;
    const ssize_t n = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n > 0 && buf[0] == 'd') {
      first = last = Clock::now();
      count = 1;
      bytes = static_cast<uint64_t>(n);
    }
  }
  if (count == 0) Die("no data from the server");
  const auto give_up = Clock::now() + std::chrono::seconds(seconds + 5);
  while (!finished && Clock::now() < give_up) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    for (int i = 0; i < 256; ++i) {
      const ssize_t n = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n <= 0) break;
      if (buf[0] == 'd') {
        last = Clock::now();
        ++count;
        bytes += static_cast<uint64_t>(n);
      } else if (buf[0] == 'f' && n >= 9) {
        sent = GetU64(buf.data() + 1);
        finished = true;
        break;
      }
    }
  }
  Report("recv", count, bytes, Seconds(first, last), sent);
  close(fd);
  return 0;
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
  if (args.size() != 5 || (args[0] != "send" && args[0] != "recv")) {
    std::fprintf(stderr,
                 "usage: udp_bench server PORT | {send|recv} [--stack=PATH] ADDR PORT SIZE "
                 "SECONDS\n");
    return 2;
  }
  const int port = std::atoi(args[2].c_str());
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
    std::fprintf(stderr, "udp_bench: bad address %s\n", args[1].c_str());
    return 2;
  }
  const size_t size = static_cast<size_t>(std::atol(args[3].c_str()));
  const int seconds = std::atoi(args[4].c_str());
  if (size < 1 || size > 65000 || seconds < 1 || seconds > 60) {
    std::fprintf(stderr, "udp_bench: SIZE must be 1..65000, SECONDS 1..60\n");
    return 2;
  }
  return args[0] == "send" ? RunSend(target, size, seconds) : RunRecv(target, size, seconds);
}
