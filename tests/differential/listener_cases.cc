// Listening sockets: accept in every mode, what accepted sockets inherit,
// shutdown and close of a listener with queued connections, connections
// reset before they are accepted, TCP_DEFER_ACCEPT, SO_REUSEPORT groups.
// listen(2), accept(2), tcp(7).
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/differential/case.h"

namespace stackd::differential {
namespace {

using absl::Milliseconds;
using absl::Seconds;

std::string RecvText(int fd, int flags = MSG_DONTWAIT) {
  char buf[16];
  const ssize_t n = recv(fd, buf, sizeof(buf), flags);
  if (n < 0) return absl::StrCat("-1 ", ErrnoName(errno));
  return absl::StrCat(n, " \"", std::string(buf, n), "\"");
}

// A peer that dials `at`; "0" once connected.
std::string Dial(World& w, Ip ip, const SockAddr& at, int* fd) {
  *fd = w.PeerSocket(ip, SOCK_STREAM);
  return ConnectWait(*fd, at);
}

// A socket under test with SO_REUSEPORT set.
int ReuseportSocket(World& w, Ip ip) {
  const int one = 1;
  const int fd = w.Socket(ip, SOCK_STREAM);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  return fd;
}

// A listener under test with SO_REUSEPORT on the local address; its name
// in *name. -1 if it could not be made.
int ReuseportListener(World& w, Ip ip, int backlog, SockAddr* name) {
  const int fd = ReuseportSocket(w, ip);
  SockAddr local = w.Local(ip);
  bind(fd, local.get(), local.len);
  listen(fd, backlog);
  auto bound = testbed::LocalName(fd);
  if (!bound.ok()) return -1;
  *name = *bound;
  return fd;
}

void AddAcceptCases(std::vector<Case>& cases) {
  cases.push_back({"tcp_listen/accept_nonblocking_empty", kAllIps, false,
                   [](World& w, Ip ip, Record& r) {
                     SockAddr at;
                     const int l = LocalListener(w, ip, &at);
                     fcntl(l, F_SETFL, O_NONBLOCK);
                     r.Ret("accept", accept(l, nullptr, nullptr));
                     r.Add("poll", PollNow(l));
                     r.Ret("accept4 bad flags", accept4(l, nullptr, nullptr, 0x40000000));
                   }});
  cases.push_back({"tcp_listen/accept_not_listening", kAllIps, false,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = w.Socket(ip, SOCK_STREAM | SOCK_NONBLOCK);
                     r.Ret("accept", accept(fd, nullptr, nullptr));
                     SockAddr local = w.Local(ip);
                     bind(fd, local.get(), local.len);
                     r.Ret("accept bound", accept(fd, nullptr, nullptr));
                   }});
  cases.push_back({"tcp_listen/listen_twice_and_connected", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     SockAddr at;
                     const int l = LocalListener(w, ip, &at);
                     r.Ret("listen again", listen(l, 64));
                     r.Ret("listen negative", listen(l, -1));
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     r.Ret("listen connected", listen(c.mine, 4));
                   }});
  cases.push_back({"tcp_listen/accept_names_and_flags", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     SockAddr at;
                     const int l = LocalListener(w, ip, &at);
                     r.Add("poll empty", PollNow(l));
                     int peer;
                     r.Add("dial", Dial(w, ip, at, &peer));
                     r.Add("poll", PollBits(l, POLLIN, Seconds(2)));
                     sockaddr_storage from;
                     socklen_t len = sizeof(from);
                     const int a = w.Own(accept4(l, reinterpret_cast<sockaddr*>(&from), &len,
                                                 SOCK_NONBLOCK | SOCK_CLOEXEC));
                     r.Add("accept4", a >= 0 ? w.Describe(reinterpret_cast<sockaddr*>(&from), len)
                                             : ErrnoName(errno));
                     r.Add("nonblock", (fcntl(a, F_GETFL) & O_NONBLOCK) ? "yes" : "no");
                     r.Add("cloexec", (fcntl(a, F_GETFD) & FD_CLOEXEC) ? "yes" : "no");
                     r.Add("acceptconn", GetInt(a, SOL_SOCKET, SO_ACCEPTCONN));
                     r.Add("listener acceptconn", GetInt(l, SOL_SOCKET, SO_ACCEPTCONN));
                     r.Add("type", GetInt(a, SOL_SOCKET, SO_TYPE));
                     r.Add("poll after", PollNow(l));
                     int d2;
                     Dial(w, ip, at, &d2);
                     PollBits(l, POLLIN, Seconds(2));
                     len = 2;  // too short: the name is cut, len says the full size
                     const int b = w.Own(accept(l, reinterpret_cast<sockaddr*>(&from), &len));
                     r.Add("accept short len", b >= 0 ? absl::StrCat(len) : ErrnoName(errno));
                     (void)peer;
                   }});
  cases.push_back({"tcp_listen/accepted_inherits", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     SockAddr at;
                     const int l = LocalListener(w, ip, &at);
                     const int one = 1;
                     const int timeout = 1234;
                     const int idle = 77;
                     setsockopt(l, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                     setsockopt(l, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
                     setsockopt(l, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof(timeout));
                     setsockopt(l, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
                     linger lg{1, 3};
                     setsockopt(l, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
                     int peer;
                     Dial(w, ip, at, &peer);
                     const int a = w.Own(AcceptWithin(l, Seconds(2)));
                     r.Add("nodelay", GetInt(a, IPPROTO_TCP, TCP_NODELAY));
                     r.Add("keepalive", GetInt(a, SOL_SOCKET, SO_KEEPALIVE));
                     r.Add("user_timeout", GetInt(a, IPPROTO_TCP, TCP_USER_TIMEOUT));
                     r.Add("keepidle", GetInt(a, IPPROTO_TCP, TCP_KEEPIDLE));
                     linger got{};
                     socklen_t len = sizeof(got);
                     getsockopt(a, SOL_SOCKET, SO_LINGER, &got, &len);
                     r.Add("linger", absl::StrCat(got.l_onoff, ",", got.l_linger));
                   }});
  cases.push_back({"tcp_listen/reset_before_accept", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     SockAddr at;
                     const int l = LocalListener(w, ip, &at);
                     int peer;
                     r.Add("dial", Dial(w, ip, at, &peer));
                     PollBits(l, POLLIN, Seconds(2));
                     send(peer, "hi", 2, MSG_NOSIGNAL);
                     linger lg{1, 0};
                     setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
                     w.Close(peer);
                     absl::SleepFor(Milliseconds(200));
                     r.Add("poll", PollNow(l));
                     const int a = w.Own(AcceptWithin(l, Milliseconds(500)));
                     r.Add("accept", a >= 0 ? "fd" : ErrnoName(errno));
                     if (a < 0) return;
                     r.Add("accepted poll", PollNow(a));
                     r.Add("recv", RecvText(a));
                     r.Add("recv again", RecvText(a));
                     r.Add("so_error", GetInt(a, SOL_SOCKET, SO_ERROR));
                   }});
  cases.push_back({"tcp_listen/fin_before_accept", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     SockAddr at;
                     const int l = LocalListener(w, ip, &at);
                     int peer;
                     r.Add("dial", Dial(w, ip, at, &peer));
                     send(peer, "bye", 3, MSG_NOSIGNAL);
                     w.Close(peer);
                     absl::SleepFor(Milliseconds(200));
                     const int a = w.Own(AcceptWithin(l, Milliseconds(500)));
                     r.Add("accept", a >= 0 ? "fd" : ErrnoName(errno));
                     if (a < 0) return;
                     r.Add("accepted poll", PollNow(a));
                     r.Add("recv", RecvText(a));
                     r.Add("recv eof", RecvText(a));
                     r.Add("getpeername ok", [&] {
                       sockaddr_storage ss;
                       socklen_t len = sizeof(ss);
                       return getpeername(a, reinterpret_cast<sockaddr*>(&ss), &len) == 0
                                  ? std::string("yes") : ErrnoName(errno);
                     }());
                   }});
}

void AddShutdownCases(std::vector<Case>& cases) {
  cases.push_back({"tcp_listen/shutdown_wakes_accept", kAllIps, false,
                   [](World& w, Ip ip, Record& r) {
                     SockAddr at;
                     const int l = LocalListener(w, ip, &at);
                     std::thread later([l] {
                       absl::SleepFor(Milliseconds(200));
                       shutdown(l, SHUT_RD);
                     });
                     r.Add("blocked accept", Bounded([l] {
                             const int a = accept(l, nullptr, nullptr);
                             return (long)(a >= 0 ? 0 : a);  // 0: a connection
                           }, Seconds(3)));
                     later.join();
                     r.Add("poll", PollNow(l));
                     r.Add("acceptconn", GetInt(l, SOL_SOCKET, SO_ACCEPTCONN));
                     r.Add("accept after", Bounded([l] {
                             const int a = accept4(l, nullptr, nullptr, SOCK_NONBLOCK);
                             return (long)(a >= 0 ? 0 : a);  // 0: a connection
                           }, Seconds(1)));
                     r.Ret("listen again", listen(l, 4));
                     r.Add("acceptconn again", GetInt(l, SOL_SOCKET, SO_ACCEPTCONN));
                     r.Add("poll again", PollNow(l));
                   }});
  for (int how : {SHUT_RD, SHUT_WR, SHUT_RDWR}) {
    const std::string n = how == SHUT_RD ? "rd" : how == SHUT_WR ? "wr" : "rdwr";
    cases.push_back({"tcp_listen/shutdown_" + n + "_with_queue", kAllIps, true,
                     [how](World& w, Ip ip, Record& r) {
                       SockAddr at;
                       const int l = LocalListener(w, ip, &at);
                       int peer;
                       r.Add("dial", Dial(w, ip, at, &peer));
                       PollBits(l, POLLIN, Seconds(2));
                       r.Ret("shutdown", shutdown(l, how));
                       r.Add("poll", PollNow(l, Milliseconds(100)));
                       r.Add("peer poll", PollBits(peer, POLLIN, Milliseconds(500)));
                       r.Add("peer recv", RecvText(peer));
                       r.Add("accept", Bounded([l] {
                               const int a = accept4(l, nullptr, nullptr, SOCK_NONBLOCK);
                               return (long)(a >= 0 ? 0 : a);  // 0: a connection
                             }, Seconds(1)));
                       r.Ret("listen again", listen(l, 4));
                       int again;
                       r.Add("dial again", Dial(w, ip, at, &again));
                     }});
  }
  cases.push_back({"tcp_listen/close_with_queue", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     SockAddr at;
                     const int l = LocalListener(w, ip, &at);
                     int peer;
                     r.Add("dial", Dial(w, ip, at, &peer));
                     PollBits(l, POLLIN, Seconds(2));
                     w.Close(l);
                     r.Add("peer poll", PollBits(peer, POLLIN, Seconds(1), Milliseconds(100)));
                     r.Add("peer recv", RecvText(peer));
                     r.Add("peer send", [&] {
                       const ssize_t n = send(peer, "x", 1, MSG_NOSIGNAL);
                       return n < 0 ? absl::StrCat("-1 ", ErrnoName(errno)) : absl::StrCat(n);
                     }());
                     int late;
                     r.Add("dial after close", Dial(w, ip, at, &late));
                   }});
}

void AddMoreCases(std::vector<Case>& cases) {
  // Linux counts the queue against backlog + 1.
  cases.push_back({"tcp_listen/backlog_limit", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     SockAddr at;
                     const int l = LocalListener(w, ip, &at, 2);
                     // One handshake at a time, as on Linux's loopback
                     // (where connect() completes within the call): a
                     // burst of SYNs meets SYN cookies, whose outcome
                     // depends on when each ACK arrives, on Linux too.
                     int connected = 0;
                     for (int i = 0; i < 5; ++i) {
                       const int p = w.PeerSocket(ip, SOCK_STREAM | SOCK_NONBLOCK);
                       connect(p, at.get(), at.len);
                       pollfd pf{p, POLLOUT, 0};
                       if (poll(&pf, 1, 200) == 1 && (pf.revents & POLLOUT)) ++connected;
                     }
                     r.Add("peers connected", absl::StrCat(connected));
                     int accepted = 0;
                     while (accepted < 10) {
                       const int a = AcceptWithin(l, Milliseconds(100));
                       if (a < 0) break;
                       w.Own(a);
                       ++accepted;
                     }
                     r.Add("accepted at once", absl::StrCat(accepted));
                   }});
  cases.push_back({"tcp_listen/defer_accept", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     SockAddr at;
                     const int l = w.Socket(ip, SOCK_STREAM);
                     const int secs = 2;
                     r.Ret("defer", setsockopt(l, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs)));
                     r.Add("get", GetInt(l, IPPROTO_TCP, TCP_DEFER_ACCEPT));
                     SockAddr local = w.Local(ip);
                     bind(l, local.get(), local.len);
                     listen(l, 4);
                     auto name = testbed::LocalName(l);
                     if (!name.ok()) return;
                     const SockAddr dial = w.LocalForPeer(ip, name->port());
                     int peer;
                     r.Add("dial", Dial(w, ip, dial, &peer));
                     r.Add("poll before data", PollBits(l, POLLIN, Milliseconds(400)));
                     send(peer, "data", 4, MSG_NOSIGNAL);
                     r.Add("poll after data", PollBits(l, POLLIN, Seconds(2)));
                     const int a = w.Own(AcceptWithin(l, Seconds(1)));
                     r.Add("recv", a >= 0 ? RecvText(a) : ErrnoName(errno));
                   }});
  // TCP_DEFER_ACCEPT without data: Linux hands the connection over once the
  // deferral (rounded up to SYN-ACK retransmissions: 1 s here) is over.
  cases.push_back({"tcp_listen/defer_accept_times_out", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     const int l = w.Socket(ip, SOCK_STREAM);
                     const int secs = 1;
                     r.Ret("defer", setsockopt(l, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs)));
                     SockAddr local = w.Local(ip);
                     bind(l, local.get(), local.len);
                     listen(l, 4);
                     auto name = testbed::LocalName(l);
                     if (!name.ok()) return;
                     const SockAddr dial = w.LocalForPeer(ip, name->port());
                     int peer;
                     const absl::Time start = absl::Now();
                     r.Add("dial", Dial(w, ip, dial, &peer));
                     r.Add("poll at 500 ms", PollBits(l, POLLIN, Milliseconds(500)));
                     r.Add("poll within 3 s", PollBits(l, POLLIN, Seconds(3)));
                     const absl::Duration took = absl::Now() - start;
                     r.Add("ready", took < Milliseconds(800)    ? "before 0.8 s"
                                    : took < Milliseconds(2000) ? "0.8-2 s"
                                                                : "later");
                     const int a = w.Own(AcceptWithin(l, Seconds(1)));
                     r.Add("accept", a >= 0 ? "fd" : ErrnoName(errno));
                     send(peer, "late", 4, MSG_NOSIGNAL);
                     r.Add("recv", a >= 0 ? (PollBits(a, POLLIN, Seconds(1)), RecvText(a))
                                          : "none");
                   }});
  // A deferred connection whose peer closes first is handed over with its
  // FIN; a listener closed with a deferred connection resets it.
  cases.push_back({"tcp_listen/defer_accept_fin_and_close", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     const int l = w.Socket(ip, SOCK_STREAM);
                     const int secs = 5;
                     setsockopt(l, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs));
                     SockAddr local = w.Local(ip);
                     bind(l, local.get(), local.len);
                     listen(l, 4);
                     auto name = testbed::LocalName(l);
                     if (!name.ok()) return;
                     const SockAddr dial = w.LocalForPeer(ip, name->port());
                     int closer, waiter;
                     r.Add("dial", Dial(w, ip, dial, &closer));
                     r.Add("dial", Dial(w, ip, dial, &waiter));
                     r.Ret("peer shutdown", shutdown(closer, SHUT_WR));
                     r.Add("poll", PollBits(l, POLLIN, Seconds(2)));
                     const int a = w.Own(AcceptWithin(l, Seconds(1)));
                     r.Add("recv", a >= 0 ? RecvText(a) : ErrnoName(errno));
                     r.Add("second", ErrnoName(AcceptWithin(l, Milliseconds(300)) < 0 ? errno : 0));
                     w.Close(l);
                     r.Add("waiter", PollBits(waiter, POLLIN, Seconds(2)));
                     r.Add("waiter recv", RecvText(waiter));
                   }});
  cases.push_back({"tcp_listen/reuseport_spreads", kV4V6, true,
                   [](World& w, Ip ip, Record& r) {
                     SockAddr name;
                     const int a = ReuseportListener(w, ip, 64, &name);
                     if (a < 0) return;
                     const int b = ReuseportSocket(w, ip);
                     r.Ret("bind b", bind(b, name.get(), name.len));
                     r.Ret("listen b", listen(b, 64));
                     const SockAddr dial = w.LocalForPeer(ip, name.port());
                     for (int i = 0; i < 24; ++i) {
                       int p;
                       Dial(w, ip, dial, &p);
                     }
                     absl::SleepFor(Milliseconds(200));
                     int got_a = 0, got_b = 0;
                     for (int i = 0; i < 30; ++i) {
                       const int x = AcceptWithin(a, absl::ZeroDuration());
                       if (x >= 0) { w.Own(x); ++got_a; }
                       const int y = AcceptWithin(b, absl::ZeroDuration());
                       if (y >= 0) { w.Own(y); ++got_b; }
                     }
                     r.Add("total", absl::StrCat(got_a + got_b));
                     r.Add("both got some", got_a > 0 && got_b > 0 ? "yes" : "no");
                   }});
  // The first listener of a SO_REUSEPORT group goes: the others go on
  // taking connections; when the last goes, the port is free again.
  cases.push_back({"tcp_listen/reuseport_first_leaves", kV4V6, true,
                   [](World& w, Ip ip, Record& r) {
                     SockAddr name;
                     const int a = ReuseportListener(w, ip, 16, &name);
                     if (a < 0) return;
                     const int b = ReuseportSocket(w, ip);
                     r.Ret("bind b", bind(b, name.get(), name.len));
                     r.Ret("listen b", listen(b, 16));
                     auto b_name = testbed::LocalName(b);
                     r.Add("b's name", b_name.ok() && b_name->port() == name.port() ? "same port"
                                                                                    : "other");
                     w.Close(a);
                     absl::SleepFor(Milliseconds(50));
                     const SockAddr dial = w.LocalForPeer(ip, name.port());
                     int accepted = 0;
                     for (int i = 0; i < 4; ++i) {
                       int p;
                       r.Add("dial", Dial(w, ip, dial, &p));
                       const int x = AcceptWithin(b, Seconds(1));
                       if (x >= 0) { w.Own(x); ++accepted; }
                     }
                     r.Add("b accepted", absl::StrCat(accepted));
                     w.Close(b);
                     absl::SleepFor(Milliseconds(50));
                     int p;
                     r.Add("dial after both", Dial(w, ip, dial, &p));
                     const int c = w.Socket(ip, SOCK_STREAM);
                     r.Ret("bind without", bind(c, name.get(), name.len));
                   }});
  // Another owner cannot join: Linux compares the sockets' uids.
  cases.push_back({"tcp_listen/reuseport_needs_both", kV4V6, false,
                   [](World& w, Ip ip, Record& r) {
                     const int a = w.Socket(ip, SOCK_STREAM);
                     SockAddr local = w.Local(ip);
                     bind(a, local.get(), local.len);
                     listen(a, 4);
                     auto name = testbed::LocalName(a);
                     if (!name.ok()) return;
                     const int b = ReuseportSocket(w, ip);
                     r.Ret("bind b (a without)", bind(b, name->get(), name->len));
                     const int c = ReuseportSocket(w, ip);
                     r.Ret("bind c", bind(c, local.get(), local.len));
                     auto c_name = testbed::LocalName(c);
                     if (!c_name.ok()) return;
                     const int d = ReuseportSocket(w, ip);
                     r.Ret("bind d (c bound, not listening)", bind(d, c_name->get(), c_name->len));
                     r.Ret("listen c", listen(c, 4));
                     r.Ret("listen d", listen(d, 4));
                   }});
}

}  // namespace

void AddListenerCases(std::vector<Case>& cases) {
  AddAcceptCases(cases);
  AddShutdownCases(cases);
  AddMoreCases(cases);
}

}  // namespace stackd::differential
