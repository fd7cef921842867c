// mconnect_bench: what mconnect costs and what it saves (bench/mconnect).
//
//   mconnect_bench STACK NETNS ROUNDS
//
// STACK is a stackd whose TAP's kernel side is namespace NETNS, addressed
// 10.42.0.1; port 19 there must be silent (SYNs dropped by nftables). The
// program makes two kernel listeners in NETNS (A and B) and measures, over
// ROUNDS rounds each:
//  - latency: connect() to A against mconnect() to {closed port, silent
//    port, A}, from the call to an established socket (median and p90);
//  - waste: two servers that both answer, raced by the user-space way
//    (non-blocking connect to both, keep the first writable, close the
//    other) and by mconnect(): connections the losing server accepted.
// Prints "key value" lines for bench/mconnect to tabulate.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "client/msocket.h"

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "mconnect_bench: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

// A kernel listener in `netns` on 10.42.0.1, port chosen by the kernel.
int ListenIn(const std::string& netns, sockaddr_in* bound) {
  int fd = -1;
  std::thread([&] {
    int ns = open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) return;
    close(ns);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  }).join();
  if (fd < 0) Die("listener in netns");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, "10.42.0.1", &a.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(fd, 4096) != 0) {
    Die("bind/listen");
  }
  socklen_t len = sizeof(*bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(bound), &len);
  return fd;
}

int Drain(int listener) {
  int n = 0;
  for (int fd; (fd = accept(listener, nullptr, nullptr)) >= 0; ++n) close(fd);
  return n;
}

sockaddr_in At(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, "10.42.0.1", &a.sin_addr);
  return a;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * (v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: mconnect_bench STACK NETNS ROUNDS\n");
    return 2;
  }
  const char* stack = argv[1];
  const std::string netns = argv[2];
  const int rounds = std::max(1, std::min(std::atoi(argv[3]), 100000));
  sockaddr_in a{}, b{};
  int la = ListenIn(netns, &a);
  int lb = ListenIn(netns, &b);
  const sockaddr_in closed = At(1), silent = At(19);

  // Latency.
  std::vector<double> plain, raced;
  for (int i = 0; i < rounds; ++i) {
    int fd = msocket(stack, AF_INET, SOCK_STREAM, 0);
    auto t0 = Clock::now();
    if (connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0) Die("connect");
    plain.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    close(fd);

    fd = msocket(stack, AF_INET, SOCK_STREAM, 0);
    const sockaddr* addrs[] = {reinterpret_cast<const sockaddr*>(&closed),
                               reinterpret_cast<const sockaddr*>(&silent),
                               reinterpret_cast<const sockaddr*>(&a)};
    const socklen_t lens[] = {sizeof(closed), sizeof(silent), sizeof(a)};
    t0 = Clock::now();
    if (mconnect(fd, addrs, lens, 3) != 2) Die("mconnect");
    raced.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    close(fd);
    Drain(la);
  }
  std::printf("connect_median_us %.1f\n", Percentile(plain, 0.5));
  std::printf("connect_p90_us %.1f\n", Percentile(plain, 0.9));
  std::printf("mconnect_median_us %.1f\n", Percentile(raced, 0.5));
  std::printf("mconnect_p90_us %.1f\n", Percentile(raced, 0.9));

  // Waste: both servers answer; count what the losers accepted.
  usleep(300000);
  Drain(la);
  Drain(lb);
  int kept = 0;
  for (int i = 0; i < rounds; ++i) {
    int s1 = msocket(stack, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int s2 = msocket(stack, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(s1, reinterpret_cast<const sockaddr*>(&a), sizeof(a));
    connect(s2, reinterpret_cast<const sockaddr*>(&b), sizeof(b));
    pollfd p[2] = {{s1, POLLOUT, 0}, {s2, POLLOUT, 0}};
    if (poll(p, 2, 5000) <= 0) Die("poll");
    // Keep the first writable one, as a user-space race does.
    if (p[0].revents & POLLOUT) {
      close(s2);
      close(s1);
    } else {
      close(s1);
      close(s2);
    }
    ++kept;
  }
  usleep(500000);
  const int userspace_accepted = Drain(la) + Drain(lb);
  for (int i = 0; i < rounds; ++i) {
    int fd = msocket(stack, AF_INET, SOCK_STREAM, 0);
    const sockaddr* addrs[] = {reinterpret_cast<const sockaddr*>(&a),
                               reinterpret_cast<const sockaddr*>(&b)};
    const socklen_t lens[] = {sizeof(a), sizeof(b)};
    if (mconnect(fd, addrs, lens, 2) < 0) Die("mconnect race");
    close(fd);
  }
  usleep(500000);
  const int mconnect_accepted = Drain(la) + Drain(lb);
  std::printf("userspace_loser_accepts %d\n", userspace_accepted - kept);
  std::printf("mconnect_loser_accepts %d\n", mconnect_accepted - rounds);
  std::printf("rounds %d\n", rounds);
  return 0;
}
