// TCP connections as a program sees them: connecting, names, sending and
// receiving with flags, shutdown in every state, end of stream and resets,
// addresses across families. tcp(7), socket(7), connect(2), recv(2),
// shutdown(2).
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/tcp.h>  // Linux's whole struct tcp_info
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

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

// A port on the peer's address with nothing listening: a listener's port,
// closed again.
SockAddr ClosedPeerPort(World& w, Ip ip) {
  SockAddr at;
  const int l = PeerListener(w, ip, &at);
  w.Close(l);
  return at;
}

std::string RecvText(int fd, size_t len, int flags) {
  char buf[256];
  memset(buf, '#', sizeof(buf));
  const ssize_t n = recv(fd, buf, std::min(len, sizeof(buf)), flags);
  if (n < 0) return absl::StrCat("-1 ", ErrnoName(errno));
  return absl::StrCat(n, " \"", std::string(buf, std::min(len, sizeof(buf))),
                      "\"");
}

// Waits until `fd` is readable, then recv as RecvText.
std::string RecvWait(int fd, size_t len, int flags = 0) {
  PollBits(fd, POLLIN, Seconds(3), absl::ZeroDuration());
  return RecvText(fd, len, flags | MSG_DONTWAIT);
}

std::string SendText(int fd, const std::string& s, int flags = 0) {
  const ssize_t n = send(fd, s.data(), s.size(), flags | MSG_NOSIGNAL);
  return n < 0 ? absl::StrCat("-1 ", ErrnoName(errno)) : absl::StrCat(n);
}

std::string SoError(int fd) { return GetInt(fd, SOL_SOCKET, SO_ERROR); }

std::string Name(World& w, int fd, bool peer) {
  sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  socklen_t len = sizeof(ss);
  const int r = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
                     : getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (r != 0) return absl::StrCat("-1 ", ErrnoName(errno));
  return absl::StrCat(w.Describe(reinterpret_cast<sockaddr*>(&ss), len),
                      " len=", len);
}

void SetLinger(int fd, int on, int secs) {
  linger l{on, secs};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

// Fills `fd`'s way to a peer that does not read until send would block
// (bounded): the number of bytes is not recorded, it depends on buffers.
void FillUp(int fd) {
  std::string chunk(64 * 1024, 'f');
  const absl::Time deadline = absl::Now() + Seconds(5);
  int idle = 0;
  while (absl::Now() < deadline && idle < 3) {
    const ssize_t n = send(fd, chunk.data(), chunk.size(),
                           MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      idle = 0;
      continue;
    }
    if (errno != EAGAIN) return;
    // Room may come back as stackd moves bytes on.
    ++idle;
    PollBits(fd, POLLOUT, Milliseconds(200), absl::ZeroDuration());
  }
}

void AddConnectCases(std::vector<Case>& cases) {
  cases.push_back({"tcp_connect/refused_nonblocking", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     const SockAddr closed = ClosedPeerPort(w, ip);
                     const int fd = w.Socket(ip, SOCK_STREAM);
                     r.Add("connect", ConnectWait(fd, closed));
                     r.Add("so_error after", SoError(fd));
                     r.Add("poll", PollNow(fd));
                     r.Add("getpeername", Name(w, fd, true));
                     r.Add("send", SendText(fd, "x"));
                     r.Add("recv", RecvText(fd, 1, MSG_DONTWAIT));
                     r.Add("connect again", ConnectWait(fd, closed));
                   }});
  cases.push_back({"tcp_connect/after_reset", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     SockAddr peer;
                     peer.len = sizeof(peer.storage);
                     getpeername(c.mine, peer.get(), &peer.len);
                     SetLinger(c.theirs, 1, 0);
                     w.Close(c.theirs);
                     r.Add("poll", PollBits(c.mine, POLLIN, Seconds(2), absl::ZeroDuration()));
                     r.Add("recv", RecvText(c.mine, 1, MSG_DONTWAIT));
                     r.Ret("connect again", connect(c.mine, peer.get(), peer.len));
                     r.Add("so_error", SoError(c.mine));
                   }});
  cases.push_back({"tcp_connect/refused_blocking", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     const SockAddr closed = ClosedPeerPort(w, ip);
                     const int fd = w.Socket(ip, SOCK_STREAM);
                     r.Add("connect", Bounded([&] {
                             return (long)connect(fd, closed.get(), closed.len);
                           }, Seconds(5)));
                     r.Add("so_error", SoError(fd));
                   }});
  cases.push_back({"tcp_connect/eisconn", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     SockAddr at;
                     const int l = PeerListener(w, ip, &at);
                     const int fd = w.Socket(ip, SOCK_STREAM);
                     r.Add("connect", ConnectWait(fd, at));
                     r.Ret("connect again", connect(fd, at.get(), at.len));
                     const SockAddr other = ClosedPeerPort(w, ip);
                     r.Ret("connect elsewhere", connect(fd, other.get(), other.len));
                     const int flags = fcntl(fd, F_GETFL);
                     fcntl(fd, F_SETFL, flags | O_NONBLOCK);
                     r.Ret("nonblocking again", connect(fd, at.get(), at.len));
                     (void)l;
                   }});
  // A listener with backlog 0 takes one connection; the SYN of a second
  // is dropped, so its connect stays in progress.
  cases.push_back({"tcp_connect/ealready", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     SockAddr at;
                     PeerListener(w, ip, &at, 0);
                     const int first = w.Socket(ip, SOCK_STREAM);
                     r.Add("first", ConnectWait(first, at));
                     const int fd = w.Socket(ip, SOCK_STREAM | SOCK_NONBLOCK);
                     r.Ret("second", connect(fd, at.get(), at.len));
                     absl::SleepFor(Milliseconds(100));
                     r.Ret("second again", connect(fd, at.get(), at.len));
                     r.Add("poll", PollNow(fd));
                     r.Add("getpeername", Name(w, fd, true));
                     r.Add("so_error", SoError(fd));
                   }});
  cases.push_back({"tcp_connect/to_itself", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = w.Socket(ip, SOCK_STREAM);
                     SockAddr local = w.Local(ip);
                     r.Ret("bind", bind(fd, local.get(), local.len));
                     auto name = testbed::LocalName(fd);
                     if (!name.ok()) return;
                     // Linux completes a simultaneous open at once: short
                     // bounds keep the stack's wait brief.
                     r.Add("connect", ConnectWait(fd, *name, Seconds(1)));
                     r.Add("send", SendText(fd, "self", MSG_DONTWAIT));
                     PollBits(fd, POLLIN, Seconds(1), absl::ZeroDuration());
                     r.Add("recv", RecvText(fd, 4, MSG_DONTWAIT));
                     r.Add("getpeername", Name(w, fd, true));
                   }});
  cases.push_back({"tcp_connect/names", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = w.Socket(ip, SOCK_STREAM);
                     r.Add("fresh getsockname", Name(w, fd, false));
                     r.Add("fresh getpeername", Name(w, fd, true));
                     SockAddr at;
                     PeerListener(w, ip, &at);
                     r.Add("connect", ConnectWait(fd, at));
                     r.Add("getsockname", Name(w, fd, false));
                     r.Add("getpeername", Name(w, fd, true));
                     sockaddr_in6 small;
                     socklen_t len = 4;
                     r.Ret("getsockname len 4",
                           getsockname(fd, reinterpret_cast<sockaddr*>(&small), &len));
                     r.Add("len", absl::StrCat(len));
                   }});
  cases.push_back({"tcp_connect/af_unspec_disconnects", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     sockaddr unspec{};
                     unspec.sa_family = AF_UNSPEC;
                     r.Ret("connect unspec", connect(c.mine, &unspec, sizeof(unspec)));
                     r.Add("getpeername", Name(w, c.mine, true));
                     r.Add("peer poll", PollBits(c.theirs, POLLIN, Seconds(2)));
                     r.Add("peer recv", RecvText(c.theirs, 4, MSG_DONTWAIT));
                     SockAddr at;
                     PeerListener(w, ip, &at);
                     r.Add("connect again", ConnectWait(c.mine, at));
                   }});
  cases.push_back({"tcp_connect/bad_addresses", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = w.Socket(ip, SOCK_STREAM);
                     sockaddr_in v4{};
                     v4.sin_family = AF_INET;
                     v4.sin_port = htons(9);
                     v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                     sockaddr_in6 v6{};
                     v6.sin6_family = AF_INET6;
                     v6.sin6_port = htons(9);
                     v6.sin6_addr = in6addr_loopback;
                     r.Ret("connect short", connect(fd, reinterpret_cast<sockaddr*>(&v6), 3));
                     if (ip == Ip::kV4) {
                       r.Ret("connect in6", connect(fd, reinterpret_cast<sockaddr*>(&v6), sizeof(v6)));
                     } else {
                       r.Ret("connect in4", connect(fd, reinterpret_cast<sockaddr*>(&v4), sizeof(v4)));
                     }
                     sockaddr bad{};
                     bad.sa_family = AF_UNIX;
                     r.Ret("connect unix", connect(fd, &bad, sizeof(bad)));
                     r.Ret("connect null", connect(fd, nullptr, 0));
                   }});
  cases.push_back({"tcp_connect/v6only_mapped", {Ip::kMapped}, true,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = w.Socket(ip, SOCK_STREAM);
                     const int one = 1;
                     r.Ret("v6only", setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)));
                     SockAddr at;
                     PeerListener(w, ip, &at);
                     r.Ret("connect", connect(fd, at.get(), at.len));
                     const SockAddr local = w.Local(ip);
                     r.Ret("bind mapped", bind(fd, local.get(), local.len));
                   }});
}

void AddBindCases(std::vector<Case>& cases) {
  cases.push_back({"tcp_bind/twice_and_after_connect", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = w.Socket(ip, SOCK_STREAM);
                     SockAddr local = w.Local(ip);
                     r.Ret("bind", bind(fd, local.get(), local.len));
                     r.Ret("bind again", bind(fd, local.get(), local.len));
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     r.Ret("bind connected", bind(c.mine, local.get(), local.len));
                   }});
  cases.push_back({"tcp_bind/ephemeral_port", kAllIps, false,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = w.Socket(ip, SOCK_STREAM);
                     SockAddr any = w.Any(ip);
                     r.Ret("bind", bind(fd, any.get(), any.len));
                     auto name = testbed::LocalName(fd);
                     if (!name.ok()) return;
                     const int port = name->port();
                     r.Add("port in 32768..60999",
                           port >= 32768 && port <= 60999 ? "yes" : "no");
                     r.Add("getsockname", w.Describe(*name));
                   }});
  cases.push_back({"tcp_bind/listen_autobinds", kAllIps, false,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = w.Socket(ip, SOCK_STREAM);
                     r.Ret("listen", listen(fd, 4));
                     r.Add("getsockname", Name(w, fd, false));
                     r.Add("acceptconn", GetInt(fd, SOL_SOCKET, SO_ACCEPTCONN));
                   }});
  cases.push_back({"tcp_bind/not_local", kAllIps, false,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = w.Socket(ip, SOCK_STREAM);
                     SockAddr other = testbed::MakeSockAddr(
                         ip == Ip::kV4 ? "192.0.2.7" :
                         ip == Ip::kV6 ? "2001:db8::7" : "::ffff:192.0.2.7", 0);
                     r.Ret("bind", bind(fd, other.get(), other.len));
                     const int one = 1;
                     setsockopt(fd, ip == Ip::kV4 ? IPPROTO_IP : IPPROTO_IPV6,
                                ip == Ip::kV4 ? IP_FREEBIND : IPV6_FREEBIND,
                                &one, sizeof(one));
                     r.Ret("bind freebind", bind(fd, other.get(), other.len));
                   }});
  cases.push_back({"tcp_bind/wrong_family", kAllIps, false,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = w.Socket(ip, SOCK_STREAM);
                     sockaddr_in v4{};
                     v4.sin_family = AF_INET;
                     sockaddr_in6 v6{};
                     v6.sin6_family = AF_INET6;
                     if (ip == Ip::kV4) {
                       r.Ret("bind in6", bind(fd, reinterpret_cast<sockaddr*>(&v6), sizeof(v6)));
                       sockaddr_in unspec{};
                       unspec.sin_family = AF_UNSPEC;
                       r.Ret("bind unspec any", bind(fd, reinterpret_cast<sockaddr*>(&unspec), sizeof(unspec)));
                     } else {
                       r.Ret("bind in4", bind(fd, reinterpret_cast<sockaddr*>(&v4), sizeof(v4)));
                     }
                     r.Ret("bind short", bind(fd, reinterpret_cast<sockaddr*>(&v6), 2));
                   }});
  cases.push_back({"tcp_bind/conflicts", kAllIps, false,
                   [](World& w, Ip ip, Record& r) {
                     const int a = w.Socket(ip, SOCK_STREAM);
                     SockAddr local = w.Local(ip);
                     r.Ret("bind a", bind(a, local.get(), local.len));
                     auto name = testbed::LocalName(a);
                     if (!name.ok()) return;
                     const int b = w.Socket(ip, SOCK_STREAM);
                     r.Ret("bind b same", bind(b, name->get(), name->len));
                     SockAddr any = w.Any(ip, name->port());
                     r.Ret("bind b any", bind(b, any.get(), any.len));
                     const int one = 1;
                     const int c = w.Socket(ip, SOCK_STREAM);
                     setsockopt(a, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                     setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                     r.Ret("bind c reuseaddr (a bound)", bind(c, name->get(), name->len));
                     r.Ret("listen a", listen(a, 4));
                     const int d = w.Socket(ip, SOCK_STREAM);
                     setsockopt(d, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                     r.Ret("bind d reuseaddr (a listens)", bind(d, name->get(), name->len));
                   }});
  cases.push_back({"tcp_bind/reuseport", kAllIps, false,
                   [](World& w, Ip ip, Record& r) {
                     const int one = 1;
                     const int a = w.Socket(ip, SOCK_STREAM);
                     setsockopt(a, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
                     SockAddr local = w.Local(ip);
                     r.Ret("bind a", bind(a, local.get(), local.len));
                     auto name = testbed::LocalName(a);
                     if (!name.ok()) return;
                     r.Ret("listen a", listen(a, 4));
                     const int b = w.Socket(ip, SOCK_STREAM);
                     setsockopt(b, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
                     r.Ret("bind b", bind(b, name->get(), name->len));
                     r.Ret("listen b", listen(b, 4));
                     const int c = w.Socket(ip, SOCK_STREAM);
                     r.Ret("bind c without", bind(c, name->get(), name->len));
                   }});
  cases.push_back({"tcp_bind/dual_stack", {Ip::kMapped}, true,
                   [](World& w, Ip ip, Record& r) {
                     for (int v6only : {0, 1}) {
                       const int l = w.Socket(ip, SOCK_STREAM);
                       setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
                       SockAddr any = w.Any(ip);
                       r.Ret("bind ::", bind(l, any.get(), any.len));
                       r.Ret("listen", listen(l, 4));
                       auto name = testbed::LocalName(l);
                       if (!name.ok()) return;
                       const int c = w.PeerSocket(ip, SOCK_STREAM);
                       r.Add(absl::StrCat("v4 connect, v6only=", v6only),
                             ConnectWait(c, w.LocalForPeer(ip, name->port())));
                       const int a = AcceptWithin(l, Milliseconds(500));
                       r.Add("accepted", a >= 0 ? Name(w, w.Own(a), true)
                                                : ErrnoName(errno));
                       const int v4 = w.Socket(AF_INET, SOCK_STREAM);
                       SockAddr any4 = testbed::MakeSockAddr("0.0.0.0", name->port());
                       r.Ret("v4 bind same port", bind(v4, any4.get(), any4.len));
                     }
                   }});
}

void AddIoCases(std::vector<Case>& cases) {
  cases.push_back({"tcp_io/unconnected", kAllIps, false,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = w.Socket(ip, SOCK_STREAM);
                     r.Add("send", SendText(fd, "x"));
                     r.Add("recv", RecvText(fd, 1, MSG_DONTWAIT));
                     r.Add("recv blocking", Bounded([fd] {
                             char c;
                             return (long)recv(fd, &c, 1, 0);
                           }, Seconds(1)));
                     char c = 'x';
                     const int pipes = SigpipeCount();
                     r.Ret("write 0", write(fd, &c, 0));
                     r.Ret("write 1", write(fd, &c, 1));
                     r.Add("sigpipes", absl::StrCat(SigpipeCount() - pipes));
                     r.Add("poll", PollNow(fd));
                     r.Add("so_error", SoError(fd));
                   }});
  cases.push_back({"tcp_io/listener", kAllIps, false,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = w.Socket(ip, SOCK_STREAM);
                     r.Ret("listen", listen(fd, 4));
                     r.Add("send", SendText(fd, "x"));
                     r.Add("recv", RecvText(fd, 1, MSG_DONTWAIT));
                     r.Add("poll", PollNow(fd));
                   }});
  cases.push_back({"tcp_io/msg_trunc", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     r.Add("send", SendText(c.theirs, "hello world"));
                     PollBits(c.mine, POLLIN, Seconds(2));
                     r.Add("recv trunc", RecvText(c.mine, 5, MSG_TRUNC));
                     r.Add("recv peek|trunc", RecvText(c.mine, 3, MSG_PEEK | MSG_TRUNC));
                     r.Add("recv", RecvText(c.mine, 16, MSG_DONTWAIT));
                   }});
  cases.push_back({"tcp_io/msg_peek", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     r.Add("send", SendText(c.theirs, "hello world"));
                     PollBits(c.mine, POLLIN, Seconds(2));
                     r.Add("peek", RecvText(c.mine, 5, MSG_PEEK));
                     r.Add("peek again", RecvText(c.mine, 20, MSG_PEEK | MSG_DONTWAIT));
                     r.Add("recv", RecvText(c.mine, 20, MSG_DONTWAIT));
                     r.Add("peek empty", RecvText(c.mine, 5, MSG_PEEK | MSG_DONTWAIT));
                   }});
  cases.push_back({"tcp_io/msg_waitall", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     const int theirs = c.theirs;
                     std::thread later([theirs] {
                       send(theirs, "abc", 3, MSG_NOSIGNAL);
                       absl::SleepFor(Milliseconds(150));
                       send(theirs, "def", 3, MSG_NOSIGNAL);
                       absl::SleepFor(Milliseconds(150));
                       send(theirs, "gh", 2, MSG_NOSIGNAL);
                       shutdown(theirs, SHUT_WR);
                     });
                     const int mine = c.mine;
                     r.Add("waitall 6", Bounded([mine] {
                             char buf[6];
                             return (long)recv(mine, buf, 6, MSG_WAITALL);
                           }, Seconds(3)));
                     r.Add("waitall 6 at eof", Bounded([mine] {
                             char buf[6];
                             return (long)recv(mine, buf, 6, MSG_WAITALL);
                           }, Seconds(3)));
                     later.join();
                     r.Add("dontwait|waitall", RecvText(mine, 4, MSG_DONTWAIT | MSG_WAITALL));
                   }});
  cases.push_back({"tcp_io/dontwait_empty", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     r.Add("recv", RecvText(c.mine, 4, MSG_DONTWAIT));
                     r.Add("poll", PollNow(c.mine));
                     r.Add("recv blocking", Bounded([&c] {
                             char b;
                             return (long)recv(c.mine, &b, 1, 0);
                           }, Milliseconds(300), [&c] {
                             send(c.theirs, "u", 1, MSG_NOSIGNAL);
                           }));
                   }});
  cases.push_back({"tcp_io/recvfrom_connected", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     SendText(c.theirs, "abcd");
                     PollBits(c.mine, POLLIN, Seconds(2));
                     sockaddr_storage from;
                     memset(&from, 0xee, sizeof(from));
                     socklen_t len = sizeof(from);
                     char buf[2];
                     r.Ret("recvfrom", recvfrom(c.mine, buf, 2, 0,
                                                reinterpret_cast<sockaddr*>(&from), &len));
                     r.Add("addrlen", absl::StrCat(len));
                     r.Add("family byte", absl::StrCat(reinterpret_cast<unsigned char*>(&from)[0]));
                     msghdr m{};
                     iovec v{buf, 2};
                     m.msg_name = &from;
                     m.msg_namelen = sizeof(from);
                     m.msg_iov = &v;
                     m.msg_iovlen = 1;
                     r.Ret("recvmsg", recvmsg(c.mine, &m, 0));
                     r.Add("msg_namelen", absl::StrCat(m.msg_namelen));
                     r.Add("msg_flags", absl::StrCat(m.msg_flags));
                   }});
  cases.push_back({"tcp_io/sendto_connected", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     const SockAddr other = ClosedPeerPort(w, ip);
                     r.Ret("sendto other", sendto(c.mine, "ab", 2, MSG_NOSIGNAL,
                                                  other.get(), other.len));
                     r.Add("peer got", RecvWait(c.theirs, 2));
                   }});
  cases.push_back({"tcp_io/fionread_siocoutq", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     int n = -1;
                     r.Ret("fionread empty", ioctl(c.mine, FIONREAD, &n));
                     r.Add("n", absl::StrCat(n));
                     SendText(c.theirs, "0123456789");
                     PollBits(c.mine, POLLIN, Seconds(2), Milliseconds(50));
                     r.Ret("fionread", ioctl(c.mine, FIONREAD, &n));
                     r.Add("n", absl::StrCat(n));
                     r.Ret("siocoutq", ioctl(c.mine, SIOCOUTQ, &n));
                     r.Add("outq", absl::StrCat(n));
                     int mark = -1;
                     r.Ret("siocatmark", ioctl(c.mine, SIOCATMARK, &mark));
                     r.Add("mark", absl::StrCat(mark));
                   }});
  cases.push_back({"tcp_io/urgent", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     SendText(c.theirs, "ab");
                     r.Add("send oob", SendText(c.theirs, "X", MSG_OOB));
                     SendText(c.theirs, "cd");
                     absl::SleepFor(Milliseconds(100));
                     r.Add("poll", PollNow(c.mine));
                     r.Add("recv", RecvText(c.mine, 8, MSG_DONTWAIT));
                     r.Add("recv oob", RecvText(c.mine, 1, MSG_OOB | MSG_DONTWAIT));
                     r.Add("recv rest", RecvText(c.mine, 8, MSG_DONTWAIT));
                   }});
  cases.push_back({"tcp_io/oob_none", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     r.Add("recv oob", RecvText(c.mine, 1, MSG_OOB | MSG_DONTWAIT));
                     r.Add("send oob", SendText(c.mine, "Y", MSG_OOB));
                     r.Add("peer", RecvWait(c.theirs, 1));
                   }});
  cases.push_back({"tcp_io/large_blocking_write", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     const int theirs = c.theirs;
                     size_t total = 0;
                     std::thread reader([theirs, &total] {
                       std::vector<char> buf(1 << 16);
                       const absl::Time end = absl::Now() + Seconds(10);
                       while (total < (8u << 20) && absl::Now() < end) {
                         if (PollBits(theirs, POLLIN, Milliseconds(500),
                                      absl::ZeroDuration()) == "none") continue;
                         const ssize_t n = recv(theirs, buf.data(), buf.size(), MSG_DONTWAIT);
                         if (n <= 0) break;
                         total += n;
                       }
                     });
                     const int mine = c.mine;
                     r.Add("send 8 MiB", Bounded([mine] {
                             static std::vector<char> big(8 << 20, 'z');
                             return (long)send(mine, big.data(), big.size(), MSG_NOSIGNAL);
                           }, Seconds(10)));
                     reader.join();
                     r.Add("peer read", absl::StrCat(total));
                   }});
  // Ten 1-byte requests and answers with TCP_NODELAY: each takes a round
  // trip, not a timer (over the stack's own loopback each took about
  // 100 ms until looped-back packets woke the stack).
  cases.push_back({"tcp_io/ten_round_trips", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     const int one = 1;
                     setsockopt(c.mine, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                     setsockopt(c.theirs, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                     const absl::Time start = absl::Now();
                     std::string got;
                     for (int i = 0; i < 10; ++i) {
                       SendText(c.mine, "q");
                       got += RecvWait(c.theirs, 1);
                       SendText(c.theirs, "a");
                       got += RecvWait(c.mine, 1);
                     }
                     const absl::Duration took = absl::Now() - start;
                     r.Add("answers", got);
                     r.Add("took", took < Milliseconds(500) ? "before 500 ms" : "later");
                   }});
  // A peer with a small MSS (536, the IPv4 default of RFC 9293) that reads
  // nothing for a second: the writer's queue fills with small segments,
  // and every byte still arrives once the peer reads.
  cases.push_back({"tcp_io/large_write_small_mss", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     const int listener = w.PeerSocket(ip, SOCK_STREAM);
                     const int mss = 536;
                     setsockopt(listener, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss));
                     const SockAddr bind_at = w.PeerForPeer(ip);
                     if (bind(listener, bind_at.get(), bind_at.len) != 0 ||
                         listen(listener, 4) != 0) {
                       return r.Add("listen", ErrnoName(errno));
                     }
                     auto name = testbed::LocalName(listener);
                     if (!name.ok()) return r.Add("listen", "no name");
                     const int mine = w.Socket(ip, SOCK_STREAM);
                     r.Add("connect", ConnectWait(mine, w.Peer(ip, name->port())));
                     const int theirs = w.Own(AcceptWithin(listener, Seconds(3)));
                     if (theirs < 0) return r.Add("accept", ErrnoName(errno));
                     size_t total = 0;
                     std::thread reader([theirs, &total] {
                       absl::SleepFor(Seconds(1));
                       std::vector<char> buf(1 << 16);
                       const absl::Time end = absl::Now() + Seconds(12);
                       while (total < (6u << 20) && absl::Now() < end) {
                         if (PollBits(theirs, POLLIN, Milliseconds(500),
                                      absl::ZeroDuration()) == "none") continue;
                         const ssize_t n = recv(theirs, buf.data(), buf.size(), MSG_DONTWAIT);
                         if (n <= 0) break;
                         total += n;
                       }
                     });
                     r.Add("send 6 MiB", Bounded([mine] {
                             static std::vector<char> big(6 << 20, 's');
                             return (long)send(mine, big.data(), big.size(), MSG_NOSIGNAL);
                           }, Seconds(12)));
                     reader.join();
                     r.Add("peer read", absl::StrCat(total));
                   }});
}

// A blocked send in progress while the peer resets: Linux returns the
// bytes it took (here recorded as "1"), or ECONNRESET if it took none.
void AddBlockedWriteCase(std::vector<Case>& cases) {
  cases.push_back({"tcp_io/blocked_write_returns_on_reset", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     FillUp(c.mine);
                     const int mine = c.mine;
                     const int theirs = c.theirs;
                     w.Release(theirs);  // the resetter closes it
                     std::thread resetter([theirs] {
                       absl::SleepFor(Milliseconds(300));
                       linger l{1, 0};
                       setsockopt(theirs, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
                       close(theirs);
                     });
                     r.Add("blocked send", Bounded([mine] {
                             static std::vector<char> big(4 << 20, 'b');
                             return (long)send(mine, big.data(), big.size(), MSG_NOSIGNAL);
                           }, Seconds(5)));
                     resetter.join();
                   }});
}

void AddCloseCases(std::vector<Case>& cases) {
  cases.push_back({"tcp_close/peer_fin", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     r.Ret("peer shutdown wr", shutdown(c.theirs, SHUT_WR));
                     r.Add("poll", PollBits(c.mine, POLLIN, Seconds(2)));
                     r.Add("recv", RecvText(c.mine, 4, MSG_DONTWAIT));
                     r.Add("recv again", RecvText(c.mine, 4, MSG_DONTWAIT));
                     r.Add("send", SendText(c.mine, "back"));
                     r.Add("peer recv", RecvWait(c.theirs, 4));
                   }});
  cases.push_back({"tcp_close/peer_closes_then_writes", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     w.Close(c.theirs);
                     r.Add("poll", PollBits(c.mine, POLLIN, Seconds(2)));
                     r.Add("recv", RecvText(c.mine, 4, MSG_DONTWAIT));
                     r.Add("send 1", SendText(c.mine, "a"));
                     PollBits(c.mine, POLLERR, Seconds(1));
                     r.Add("poll after rst", PollNow(c.mine, Milliseconds(100)));
                     r.Add("send 2", SendText(c.mine, "b"));
                     r.Add("send 3", SendText(c.mine, "c"));
                     r.Add("recv after", RecvText(c.mine, 4, MSG_DONTWAIT));
                     r.Add("so_error", SoError(c.mine));
                   }});
  cases.push_back({"tcp_close/peer_resets", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     SetLinger(c.theirs, 1, 0);
                     w.Close(c.theirs);
                     r.Add("poll", PollBits(c.mine, POLLIN, Seconds(2), Milliseconds(100)));
                     r.Add("recv", RecvText(c.mine, 4, MSG_DONTWAIT));
                     r.Add("recv again", RecvText(c.mine, 4, MSG_DONTWAIT));
                     r.Add("send", SendText(c.mine, "a"));
                     r.Add("so_error", SoError(c.mine));
                     r.Add("getpeername", Name(w, c.mine, true));
                     r.Ret("shutdown", shutdown(c.mine, SHUT_RDWR));
                   }});
  cases.push_back({"tcp_close/peer_resets_write_first", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     SetLinger(c.theirs, 1, 0);
                     w.Close(c.theirs);
                     PollBits(c.mine, POLLIN, Seconds(2), Milliseconds(100));
                     r.Add("send 1", SendText(c.mine, "a"));
                     r.Add("send 2", SendText(c.mine, "a"));
                     r.Add("so_error", SoError(c.mine));
                   }});
  cases.push_back({"tcp_close/linger_zero_resets", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     SetLinger(c.mine, 1, 0);
                     w.Close(c.mine);
                     r.Add("peer poll", PollBits(c.theirs, POLLIN, Seconds(2), Milliseconds(100)));
                     r.Add("peer recv", RecvText(c.theirs, 4, MSG_DONTWAIT));
                   }});
  cases.push_back({"tcp_close/unread_data_resets", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     SendText(c.theirs, "unread");
                     PollBits(c.mine, POLLIN, Seconds(2), Milliseconds(50));
                     w.Close(c.mine);
                     r.Add("peer poll", PollBits(c.theirs, POLLIN, Seconds(2), Milliseconds(100)));
                     r.Add("peer recv", RecvText(c.theirs, 4, MSG_DONTWAIT));
                     r.Add("peer send", SendText(c.theirs, "x"));
                   }});
  cases.push_back({"tcp_close/close_delivers_fin", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     SendText(c.mine, "last words");
                     w.Close(c.mine);
                     r.Add("peer recv", RecvWait(c.theirs, 10));
                     r.Add("peer eof", RecvWait(c.theirs, 4));
                     r.Add("peer poll", PollNow(c.theirs));
                   }});
}

void AddShutdownCases(std::vector<Case>& cases) {
  cases.push_back({"tcp_shutdown/unconnected", kAllIps, false,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = w.Socket(ip, SOCK_STREAM);
                     r.Ret("rd", shutdown(fd, SHUT_RD));
                     r.Ret("wr", shutdown(fd, SHUT_WR));
                     r.Ret("rdwr", shutdown(fd, SHUT_RDWR));
                     r.Ret("how 3", shutdown(fd, 3));
                     r.Ret("how -1", shutdown(fd, -1));
                   }});
  for (int how : {SHUT_RD, SHUT_WR, SHUT_RDWR}) {
    const std::string n = how == SHUT_RD ? "rd" : how == SHUT_WR ? "wr" : "rdwr";
    cases.push_back({"tcp_shutdown/connected_" + n, kAllIps, true,
                     [how](World& w, Ip ip, Record& r) {
                       Connection c = Connect(w, ip);
                       if (c.mine < 0) return r.Add("connect", "failed");
                       r.Ret("shutdown", shutdown(c.mine, how));
                       r.Add("poll", PollNow(c.mine, Milliseconds(100)));
                       r.Add("recv", RecvText(c.mine, 4, MSG_DONTWAIT));
                       r.Add("send", SendText(c.mine, "me"));
                       r.Add("peer poll", PollBits(c.theirs, POLLIN, Milliseconds(500)));
                       r.Add("peer recv", RecvText(c.theirs, 4, MSG_DONTWAIT));
                       r.Add("peer send", SendText(c.theirs, "you"));
                       absl::SleepFor(Milliseconds(100));
                       r.Add("recv after peer send", RecvText(c.mine, 4, MSG_DONTWAIT));
                       r.Ret("shutdown again", shutdown(c.mine, how));
                       r.Add("getpeername", Name(w, c.mine, true));
                     }});
  }
  cases.push_back({"tcp_shutdown/after_reset", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     SetLinger(c.theirs, 1, 0);
                     w.Close(c.theirs);
                     PollBits(c.mine, POLLIN, Seconds(2), Milliseconds(100));
                     r.Ret("shutdown wr", shutdown(c.mine, SHUT_WR));
                     r.Ret("shutdown rd", shutdown(c.mine, SHUT_RD));
                   }});
  cases.push_back({"tcp_shutdown/time_wait", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     r.Ret("shutdown wr", shutdown(c.mine, SHUT_WR));
                     RecvWait(c.theirs, 4);
                     w.Close(c.theirs);
                     r.Add("recv eof", RecvWait(c.mine, 4));
                     absl::SleepFor(Milliseconds(100));
                     r.Ret("shutdown rd (time-wait)", shutdown(c.mine, SHUT_RD));
                     r.Ret("shutdown rdwr (time-wait)", shutdown(c.mine, SHUT_RDWR));
                     r.Add("getpeername", Name(w, c.mine, true));
                     tcp_info info{};
                     socklen_t len = sizeof(info);
                     getsockopt(c.mine, IPPROTO_TCP, TCP_INFO, &info, &len);
                     r.Add("tcpi_state", absl::StrCat(info.tcpi_state));
                   }});
}

void AddInfoCases(std::vector<Case>& cases) {
  cases.push_back({"tcp_info/established", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     SendText(c.mine, "ping");
                     RecvWait(c.theirs, 4);
                     absl::SleepFor(Milliseconds(50));
                     tcp_info info;
                     memset(&info, 0, sizeof(info));
                     socklen_t len = sizeof(info);
                     r.Ret("get", getsockopt(c.mine, IPPROTO_TCP, TCP_INFO, &info, &len));
                     r.Add("state", absl::StrCat(info.tcpi_state));
                     r.Add("rto > 0", info.tcpi_rto > 0 ? "yes" : "no");
                     r.Add("snd_mss > 0", info.tcpi_snd_mss > 0 ? "yes" : "no");
                     r.Add("rcv_mss > 0", info.tcpi_rcv_mss > 0 ? "yes" : "no");
                     r.Add("snd_cwnd", absl::StrCat(info.tcpi_snd_cwnd));
                     r.Add("unacked", absl::StrCat(info.tcpi_unacked));
                     r.Add("total_retrans", absl::StrCat(info.tcpi_total_retrans));
                     r.Add("bytes_acked", absl::StrCat(info.tcpi_bytes_acked));
                     r.Add("bytes_received", absl::StrCat(info.tcpi_bytes_received));
                     r.Add("segs_out >= 3", info.tcpi_segs_out >= 3 ? "yes" : "no");
                     r.Add("segs_in >= 2", info.tcpi_segs_in >= 2 ? "yes" : "no");
                     r.Add("rtt > 0", info.tcpi_rtt > 0 ? "yes" : "no");
                     socklen_t small = 8;
                     r.Ret("get 8", getsockopt(c.mine, IPPROTO_TCP, TCP_INFO, &info, &small));
                     r.Add("len", absl::StrCat(small));
                   }});
  cases.push_back({"tcp_info/connected_options", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     // The MSS follows the route's MTU (loopback's or the
                     // TAP's): only its class is compared.
                     int mss = 0;
                     socklen_t mss_len = sizeof(mss);
                     getsockopt(c.mine, IPPROTO_TCP, TCP_MAXSEG, &mss, &mss_len);
                     r.Add("maxseg", mss >= 1200 ? ">= 1200" : absl::StrCat(mss));
                     r.Add("nodelay", GetInt(c.mine, IPPROTO_TCP, TCP_NODELAY));
                     r.Add("so_error", SoError(c.mine));
                     r.Add("acceptconn", GetInt(c.mine, SOL_SOCKET, SO_ACCEPTCONN));
                     const int one = 1;
                     r.Ret("set maxseg", setsockopt(c.mine, IPPROTO_TCP, TCP_MAXSEG, &one, sizeof(one)));
                     // The value is the route's MTU, which differs between
                     // loopback and the TAP: only its class is compared.
                     int mtu = 0;
                     socklen_t len = sizeof(mtu);
                     const int got = ip == Ip::kV4
                         ? getsockopt(c.mine, IPPROTO_IP, IP_MTU, &mtu, &len)
                         : getsockopt(c.mine, IPPROTO_IPV6, IPV6_MTU, &mtu, &len);
                     r.Add("mtu", got != 0 ? absl::StrCat("-1 ", ErrnoName(errno))
                                           : mtu >= 1280 ? ">= 1280" : absl::StrCat(mtu));
                   }});
}

// TCP_CORK (tcp(7)): partial segments wait until uncorked, a close, or
// 200 ms; full ones go at once.
void AddCorkCases(std::vector<Case>& cases) {
  auto cork = [](int fd, int on) {
    return setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
  };
  cases.push_back({"tcp_cork/partial_waits_200ms", kAllIps, true,
                   [cork](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     r.Ret("cork", cork(c.mine, 1));
                     r.Add("get", GetInt(c.mine, IPPROTO_TCP, TCP_CORK));
                     const absl::Time sent = absl::Now();
                     r.Add("send", SendText(c.mine, "abc"));
                     r.Add("peer after 100 ms",
                           PollBits(c.theirs, POLLIN, Milliseconds(100), absl::ZeroDuration()));
                     r.Add("peer within 1 s",
                           PollBits(c.theirs, POLLIN, Seconds(1), absl::ZeroDuration()));
                     const absl::Duration took = absl::Now() - sent;
                     r.Add("arrived", took < Milliseconds(150)   ? "before 150 ms"
                                      : took < Milliseconds(600) ? "150-600 ms"
                                                                 : "later");
                     r.Add("recv", RecvText(c.theirs, 8, MSG_DONTWAIT));
                   }});
  cases.push_back({"tcp_cork/uncork_pushes_one_segment", kAllIps, true,
                   [cork](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     const int one = 1;
                     setsockopt(c.mine, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                     r.Ret("cork", cork(c.mine, 1));
                     r.Add("send", SendText(c.mine, "ab"));
                     r.Add("send", SendText(c.mine, "cd"));
                     r.Add("peer after 50 ms",
                           PollBits(c.theirs, POLLIN, Milliseconds(50), absl::ZeroDuration()));
                     r.Ret("uncork", cork(c.mine, 0));
                     r.Add("peer", PollBits(c.theirs, POLLIN, Milliseconds(100)));
                     r.Add("recv", RecvText(c.theirs, 8, MSG_DONTWAIT));
                   }});
  cases.push_back({"tcp_cork/close_flushes", kAllIps, true,
                   [cork](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     r.Ret("cork", cork(c.mine, 1));
                     r.Add("send", SendText(c.mine, "xy"));
                     w.Close(c.mine);
                     // Before the 200 ms ceiling would send it (a loaded
                     // machine needs the margin).
                     r.Add("peer", PollBits(c.theirs, POLLIN, Milliseconds(150)));
                     r.Add("recv", RecvText(c.theirs, 8, MSG_DONTWAIT));
                     r.Add("recv again", RecvText(c.theirs, 8, MSG_DONTWAIT));
                   }});
  cases.push_back({"tcp_cork/full_segments_go", kAllIps, true,
                   [cork](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     r.Ret("cork", cork(c.mine, 1));
                     const std::string big(200000, 'q');
                     r.Add("send", SendText(c.mine, big, MSG_DONTWAIT));
                     r.Add("peer after 100 ms",
                           PollBits(c.theirs, POLLIN, Milliseconds(100), absl::ZeroDuration()));
                   }});
}

// TCP_USER_TIMEOUT (tcp(7)): data left unacknowledged, here by a zero
// window the peer never opens, ends the connection with ETIMEDOUT; an
// idle connection, or one whose data is acknowledged, lives on.
void AddUserTimeoutCases(std::vector<Case>& cases) {
  cases.push_back({"tcp_user_timeout/zero_window", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     const int ms = 1000;
                     r.Ret("set", setsockopt(c.mine, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms)));
                     FillUp(c.mine);
                     const absl::Time full = absl::Now();
                     const std::string bits = PollBits(c.mine, POLLIN, Seconds(8), absl::ZeroDuration());
                     const absl::Duration took = absl::Now() - full;
                     r.Add("readable", bits == "none" ? "no" : "yes");
                     r.Add("ended", took < Seconds(4) ? "within 4 s" : "later");
                     r.Add("recv", RecvText(c.mine, 4, MSG_DONTWAIT));
                     r.Add("send", SendText(c.mine, "x"));
                   }});
  // The peer's host is gone and a router says so ("host unreachable" for
  // every segment): Linux keeps the connection (a soft error, RFC 1122
  // 4.2.3.9) until it times out, and then reports that error, not
  // ETIMEDOUT (tcp_write_err: sk_err_soft). The kernel peer's namespace
  // answers with the ICMP, so the case runs across the TAP only.
  {
    Case c{"tcp_user_timeout/soft_icmp_error", kAllIps, true,
           [](World& w, Ip ip, Record& r) {
             Connection c = Connect(w, ip);
             if (c.mine < 0) return r.Add("connect", "failed");
             sockaddr_storage peer{};
             socklen_t len = sizeof(peer);
             getpeername(c.mine, reinterpret_cast<sockaddr*>(&peer), &len);
             const uint16_t port = ntohs(peer.ss_family == AF_INET
                                             ? reinterpret_cast<sockaddr_in*>(&peer)->sin_port
                                             : reinterpret_cast<sockaddr_in6*>(&peer)->sin6_port);
             if (!w.RejectTcpToPort(port)) return r.Add("nft", "failed");
             const int ms = 1000;
             r.Ret("set", setsockopt(c.mine, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms)));
             r.Add("send", SendText(c.mine, "lost"));
             absl::SleepFor(Milliseconds(300));
             r.Add("while retrying", PollNow(c.mine, absl::ZeroDuration()) == "OUT" ? "writable" : "other");
             const std::string bits = PollBits(c.mine, POLLIN, Seconds(5), absl::ZeroDuration());
             r.Add("readable", bits == "none" ? "no" : "yes");
             r.Add("recv", RecvText(c.mine, 4, MSG_DONTWAIT));
             r.Add("recv again", RecvText(c.mine, 4, MSG_DONTWAIT));
           }};
    c.kernel_peer = true;
    cases.push_back(std::move(c));
  }
  cases.push_back({"tcp_user_timeout/acked_lives_on", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     Connection c = Connect(w, ip);
                     if (c.mine < 0) return r.Add("connect", "failed");
                     const int ms = 200;
                     r.Ret("set", setsockopt(c.mine, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms)));
                     r.Add("get", GetInt(c.mine, IPPROTO_TCP, TCP_USER_TIMEOUT));
                     for (int i = 0; i < 4; ++i) {
                       SendText(c.mine, "tick");
                       RecvWait(c.theirs, 4);
                       absl::SleepFor(Milliseconds(150));
                     }
                     r.Add("poll", PollNow(c.mine));
                     r.Add("send", SendText(c.mine, "last"));
                     r.Add("peer", RecvWait(c.theirs, 4));
                   }});
  cases.push_back({"tcp_user_timeout/inherited", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     SockAddr at;
                     const int l = LocalListener(w, ip, &at, 4);
                     const int ms = 700;
                     setsockopt(l, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
                     const int p = w.PeerSocket(ip, SOCK_STREAM);
                     r.Add("dial", ConnectWait(p, at));
                     const int a = w.Own(AcceptWithin(l, Seconds(2)));
                     r.Add("accepted", GetInt(a, IPPROTO_TCP, TCP_USER_TIMEOUT));
                   }});
}

}  // namespace

void AddTcpCases(std::vector<Case>& cases) {
  AddConnectCases(cases);
  AddBindCases(cases);
  AddIoCases(cases);
  AddBlockedWriteCase(cases);
  AddCloseCases(cases);
  AddShutdownCases(cases);
  AddInfoCases(cases);
  AddCorkCases(cases);
  AddUserTimeoutCases(cases);
}

}  // namespace stackd::differential
