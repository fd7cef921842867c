// An edge-triggered epoll server on stack sockets, as an ordinary
// non-blocking server is written: one thread, EPOLLET on the listener and on
// every connection, accept and read until EAGAIN. 200 kernel clients connect
// at once; each sends a request and checks the reply, byte for byte, three
// times over on the same connection.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/netns_peer.h"
#include "tests/testbed.h"

namespace stackd::testbed {
namespace {

constexpr int kClients = 200;
constexpr int kRounds = 3;
constexpr size_t kRequestBytes = 3000;
constexpr absl::Duration kBudget = absl::Seconds(60);

// The reply to a request: every byte flipped, in reverse order.
std::string ReplyTo(const std::string& request) {
  std::string reply(request.rbegin(), request.rend());
  for (char& c : reply) c = static_cast<char>(c ^ 0x5a);
  return reply;
}

std::string RequestOf(int client) {
  std::string request(kRequestBytes, '\0');
  PatternSource(1000 + client).Fill(request.data(), request.size());
  return request;
}

// The stack side: serves until `stop`, at most until `deadline`. Returns
// the number of replies sent; problems go to `errors`.
struct ServerStats {
  int accepted = 0;
  int replied = 0;
  int closed_by_peer = 0;
  std::vector<std::string> errors;
};

void Serve(int listener, absl::Time deadline, const std::atomic<bool>& stop,
           ServerStats* stats) {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    stats->errors.push_back(absl::StrCat("epoll_create1: ", errno));
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.fd = listener;
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
  struct Conn {
    std::string in;
    std::string out;
    size_t sent = 0;
  };
  std::map<int, Conn> conns;
  auto close_conn = [&](int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns.erase(fd);
  };
  auto flush = [&](int fd, Conn& c) {
    while (c.sent < c.out.size()) {
      const ssize_t n = send(fd, c.out.data() + c.sent, c.out.size() - c.sent,
                             MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        if (n < 0 && errno != EAGAIN) {
          stats->errors.push_back(
              absl::StrCat("send: ", std::strerror(errno)));
        }
        return;  // EPOLLOUT (edge) will say when there is room.
      }
    }
    if (c.sent == c.out.size() && !c.out.empty()) {
      ++stats->replied;
      c.out.clear();
      c.sent = 0;
    }
  };
  epoll_event events[64];
  while (!stop.load() && absl::Now() < deadline) {
    const int n = epoll_wait(ep, events, 64, 50);
    if (n < 0 && errno != EINTR) {
      stats->errors.push_back(absl::StrCat("epoll_wait: ", std::strerror(errno)));
      break;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == listener) {
        // Edge-triggered: take every queued connection now.
        while (true) {
          const int c = accept4(listener, nullptr, nullptr,
                                SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) {
            if (errno != EAGAIN && errno != EINTR) {
              stats->errors.push_back(
                  absl::StrCat("accept4: ", std::strerror(errno)));
            }
            if (errno == EINTR) continue;
            break;
          }
          ++stats->accepted;
          epoll_event cev{};
          cev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
          cev.data.fd = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
          conns[c];
        }
        continue;
      }
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      Conn& c = it->second;
      if (events[i].events & EPOLLOUT) flush(fd, c);
      if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        bool eof = false;
        char buf[4096];
        while (true) {  // Edge-triggered: read until EAGAIN.
          const ssize_t r = recv(fd, buf, sizeof(buf), 0);
          if (r > 0) {
            c.in.append(buf, static_cast<size_t>(r));
            continue;
          }
          if (r < 0 && errno == EINTR) continue;
          if (r == 0) {
            eof = true;
          } else if (errno != EAGAIN) {
            stats->errors.push_back(
                absl::StrCat("recv: ", std::strerror(errno)));
            eof = true;
          }
          break;
        }
        if (c.in.size() >= kRequestBytes) {
          // A client sends its next request only after the reply.
          if (c.in.size() > kRequestBytes || !c.out.empty()) {
            stats->errors.push_back(
                absl::StrCat("request of ", c.in.size(), " bytes"));
          }
          c.out = ReplyTo(c.in.substr(0, kRequestBytes));
          c.in.clear();
          flush(fd, c);
        }
        if (eof) {
          ++stats->closed_by_peer;
          close_conn(fd);
        }
      }
    }
  }
  for (auto& [fd, c] : conns) close(fd);
  close(ep);
}

TEST_F(TcpTest, EdgeTriggeredEpollServerServes200Clients) {
  ScopedFd listener(StackSocket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK));
  ASSERT_GE(listener.get(), 0) << std::strerror(errno);
  const SockAddr any_port = MakeSockAddr(kStackIp4, 0);
  ASSERT_EQ(bind(listener.get(), any_port.get(), any_port.len), 0)
      << std::strerror(errno);
  ASSERT_EQ(listen(listener.get(), SOMAXCONN), 0) << std::strerror(errno);
  absl::StatusOr<SockAddr> bound = LocalName(listener.get());
  ASSERT_TRUE(bound.ok());

  const absl::Time start = absl::Now();
  const absl::Time deadline = start + kBudget;
  std::atomic<bool> stop{false};
  ServerStats stats;
  std::thread server(
      [&] { Serve(listener.get(), deadline, stop, &stats); });

  // The kernel clients, all connecting at once, driven by one epoll loop.
  struct Client {
    ScopedFd fd;
    int round = 0;
    std::string request;
    size_t sent = 0;
    std::string reply;
    bool done = false;
    std::string error;
  };
  std::vector<Client> clients(kClients);
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(ep, 0);
  for (int i = 0; i < kClients; ++i) {
    absl::StatusOr<ScopedFd> fd = KernelSocket(
        bed_->netns(), AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
    ASSERT_TRUE(fd.ok()) << fd.status();
    clients[i].fd = *std::move(fd);
    clients[i].request = RequestOf(i * kRounds);
    const int r = connect(clients[i].fd.get(), bound->get(), bound->len);
    ASSERT_TRUE(r == 0 || errno == EINPROGRESS) << std::strerror(errno);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u32 = static_cast<uint32_t>(i);
    ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, clients[i].fd.get(), &ev), 0);
  }
  int done = 0;
  epoll_event events[64];
  while (done < kClients && absl::Now() < deadline) {
    const int n = epoll_wait(ep, events, 64, 100);
    for (int k = 0; k < n; ++k) {
      Client& c = clients[events[k].data.u32];
      if (c.done) continue;
      const int fd = c.fd.get();
    next_round:
      while (c.sent < c.request.size()) {
        const ssize_t w = send(fd, c.request.data() + c.sent,
                               c.request.size() - c.sent, MSG_NOSIGNAL);
        if (w <= 0) {
          if (w < 0 && errno != EAGAIN && errno != EINTR) {
            c.error = absl::StrCat("send: ", std::strerror(errno));
            c.done = true;
            ++done;
          }
          break;
        }
        c.sent += static_cast<size_t>(w);
      }
      if (c.done) continue;
      char buf[4096];
      while (true) {
        const ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r > 0) {
          c.reply.append(buf, static_cast<size_t>(r));
          continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
          c.error = r == 0 ? "end of stream before the whole reply"
                           : absl::StrCat("recv: ", std::strerror(errno));
          c.done = true;
          ++done;
        }
        break;
      }
      if (!c.done && c.reply.size() >= kRequestBytes) {
        if (c.reply != ReplyTo(c.request)) {
          c.error = absl::StrCat("round ", c.round, ": wrong reply (",
                                 c.reply.size(), " bytes)");
          c.done = true;
          ++done;
          continue;
        }
        if (++c.round < kRounds) {
          c.request = RequestOf(events[k].data.u32 * kRounds + c.round);
          c.sent = 0;
          c.reply.clear();
          goto next_round;  // Edge-triggered: nothing says "writable" again.
        }
        c.done = true;
        ++done;
        c.fd.reset();  // The server sees end of stream and closes too.
      }
    }
  }
  const absl::Duration took = absl::Now() - start;
  close(ep);

  // Give the server a moment to see the last closes, then stop it.
  const absl::Time settle = absl::Now() + absl::Seconds(5);
  while (stats.closed_by_peer < kClients && absl::Now() < settle) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  stop = true;
  server.join();
  std::printf(
      "[ info ] %d clients x %d rounds served in %s (accepted %d, replied "
      "%d)\n",
      kClients, kRounds, absl::FormatDuration(took).c_str(), stats.accepted,
      stats.replied);

  int good = 0;
  for (int i = 0; i < kClients; ++i) {
    const Client& c = clients[i];
    if (!c.error.empty()) {
      ADD_FAILURE() << "client " << i << ": " << c.error;
    } else if (c.round != kRounds) {
      ADD_FAILURE() << "client " << i << ": only " << c.round << " rounds";
    } else {
      ++good;
    }
  }
  EXPECT_EQ(good, kClients);
  EXPECT_EQ(stats.accepted, kClients);
  EXPECT_EQ(stats.replied, kClients * kRounds);
  EXPECT_EQ(stats.closed_by_peer, kClients);
  EXPECT_TRUE(stats.errors.empty())
      << stats.errors.size() << " server errors, first: " << stats.errors[0];
}

}  // namespace
}  // namespace stackd::testbed
