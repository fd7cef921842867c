// UDP sockets: sending without and with a destination, connect and its
// undoing, datagram boundaries and sizes, ICMP errors on connected and
// unconnected sockets (IP_RECVERR), the control messages a receiver asks
// for, broadcast permission, ping sockets. udp(7), ip(7), ipv6(7).
#include <time.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/sockios.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/differential/case.h"

namespace stackd::differential {
namespace {

using absl::Milliseconds;
using absl::Seconds;

// A bound UDP socket under test and a bound peer, each knowing the other's
// address.
struct UdpPair {
  int mine = -1;
  int theirs = -1;
  SockAddr mine_at;    // as the peer sends to it
  SockAddr theirs_at;  // as the socket under test sends to it
};

UdpPair MakePair(World& w, Ip ip) {
  UdpPair p;
  p.mine = w.Socket(ip, SOCK_DGRAM);
  p.theirs = w.PeerSocket(ip, SOCK_DGRAM);
  SockAddr a = w.Local(ip), b = w.PeerForPeer(ip);
  bind(p.mine, a.get(), a.len);
  bind(p.theirs, b.get(), b.len);
  auto an = testbed::LocalName(p.mine);
  auto bn = testbed::LocalName(p.theirs);
  if (!an.ok() || !bn.ok()) return UdpPair{};
  p.mine_at = w.LocalForPeer(ip, an->port());
  p.theirs_at = w.Peer(ip, bn->port());
  return p;
}

std::string SendTo(int fd, const std::string& s, const SockAddr& to, int flags = 0) {
  const ssize_t n = sendto(fd, s.data(), s.size(), flags, to.get(), to.len);
  return n < 0 ? absl::StrCat("-1 ", ErrnoName(errno)) : absl::StrCat(n);
}

std::string Send(int fd, const std::string& s, int flags = 0) {
  const ssize_t n = send(fd, s.data(), s.size(), flags);
  return n < 0 ? absl::StrCat("-1 ", ErrnoName(errno)) : absl::StrCat(n);
}

// recvmsg after waiting for data: bytes, flags, source and control
// messages (by level/type, with int values where they have one).
std::string RecvMsg(World& w, int fd, size_t room, int flags = 0,
                    bool wait = true) {
  if (wait) PollBits(fd, POLLIN, Seconds(2), absl::ZeroDuration());
  char buf[256];
  char control[512];
  sockaddr_storage from;
  memset(&from, 0, sizeof(from));
  iovec v{buf, std::min(room, sizeof(buf))};
  msghdr m{};
  m.msg_name = &from;
  m.msg_namelen = sizeof(from);
  m.msg_iov = &v;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof(control);
  const ssize_t n = recvmsg(fd, &m, flags | MSG_DONTWAIT);
  if (n < 0) return absl::StrCat("-1 ", ErrnoName(errno));
  std::vector<std::string> cmsgs;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
    std::string item = absl::StrCat(c->cmsg_level, "/", c->cmsg_type);
    const size_t data = c->cmsg_len - CMSG_LEN(0);
    if ((c->cmsg_level == IPPROTO_IP && (c->cmsg_type == IP_TTL || c->cmsg_type == IP_TOS)) ||
        (c->cmsg_level == IPPROTO_IPV6 && (c->cmsg_type == IPV6_HOPLIMIT || c->cmsg_type == IPV6_TCLASS))) {
      int v = 0;
      if (data == 1) v = *CMSG_DATA(c); else memcpy(&v, CMSG_DATA(c), sizeof(v));
      absl::StrAppend(&item, "=", v, " (", data, "B)");
    } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof(pi));
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_addr = pi.ipi_addr;
      absl::StrAppend(&item, "=", w.Describe(reinterpret_cast<sockaddr*>(&sa), sizeof(sa)),
                      pi.ipi_ifindex > 0 ? " if>0" : " if=0");
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof(pi));
      sockaddr_in6 sa{};
      sa.sin6_family = AF_INET6;
      sa.sin6_addr = pi.ipi6_addr;
      absl::StrAppend(&item, "=", w.Describe(reinterpret_cast<sockaddr*>(&sa), sizeof(sa)),
                      pi.ipi6_ifindex > 0 ? " if>0" : " if=0");
    } else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
               (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
      sock_extended_err e;
      memcpy(&e, CMSG_DATA(c), sizeof(e));
      absl::StrAppend(&item, "=", ErrnoName(e.ee_errno), " origin ", e.ee_origin,
                      " type ", e.ee_type, " code ", e.ee_code, " info ", e.ee_info);
    } else {
      absl::StrAppend(&item, " (", data, "B)");
    }
    cmsgs.push_back(item);
  }
  return absl::StrCat(n, " \"", std::string(buf, std::min<size_t>(n, v.iov_len)),
                      "\" flags=", m.msg_flags, " from=",
                      m.msg_namelen ? w.Describe(reinterpret_cast<sockaddr*>(&from), m.msg_namelen) : "none",
                      " cmsg=[", absl::StrJoin(cmsgs, ","), "]");
}

void SetInt(int fd, int level, int name, int v) {
  setsockopt(fd, level, name, &v, sizeof(v));
}

int IpLevel(Ip ip) { return ip == Ip::kV4 ? IPPROTO_IP : IPPROTO_IPV6; }

// The IPv4 address of `a` (AF_INET, or a v4-mapped AF_INET6), or its IPv6
// address, as bytes.
std::string AddressBytes(const SockAddr& a) {
  if (a.family() == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(a.get());
    return std::string(reinterpret_cast<const char*>(&in->sin_addr), 4);
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a.get());
  const auto* bytes = reinterpret_cast<const char*>(&in6->sin6_addr);
  if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return std::string(bytes + 12, 4);
  return std::string(bytes, 16);
}

uint16_t Checksum(const std::string& b) {
  uint32_t sum = 0;
  for (size_t i = 0; i < b.size(); i += 2) {
    sum += (static_cast<uint8_t>(b[i]) << 8) |
           (i + 1 < b.size() ? static_cast<uint8_t>(b[i + 1]) : 0);
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// Sends, from the raw ICMP(v6) socket `raw` on the peer's side, an error of
// `type`/`code` about the datagram "q" that p.mine sent to p.theirs: the
// quoted IP header, UDP header and payload, as a router would.
std::string SendIcmpError(int raw, bool v4, int type, int code, const UdpPair& p) {
  const std::string src = AddressBytes(p.mine_at);
  const std::string dst = AddressBytes(p.theirs_at);
  auto be16 = [](uint16_t v) { return std::string{static_cast<char>(v >> 8), static_cast<char>(v)}; };
  std::string udp = be16(p.mine_at.port()) + be16(p.theirs_at.port()) + be16(9) +
                    std::string(2, '\0') + "q";
  std::string inner;
  if (v4) {
    inner = std::string("\x45\x00", 2) + be16(static_cast<uint16_t>(20 + udp.size())) +
            std::string("\x12\x34\x40\x00\x40\x11\x00\x00", 8) + src + dst;
    const uint16_t sum = Checksum(inner);
    inner[10] = static_cast<char>(sum >> 8);
    inner[11] = static_cast<char>(sum);
  } else {
    inner = std::string("\x60\x00\x00\x00", 4) + be16(static_cast<uint16_t>(udp.size())) +
            std::string("\x11\x40", 2) + src + dst;
  }
  // Parameter problem: the pointer (ICMP) or offset (ICMPv6) names the
  // TTL / hop limit field.
  const char pointer = v4 ? 8 : 7;
  std::string icmp{static_cast<char>(type), static_cast<char>(code), 0, 0,
                   (type == 12 && v4) ? pointer : '\0', 0, 0,
                   (type == 4 && !v4) ? pointer : '\0'};
  icmp += inner + udp;
  if (v4) {
    const uint16_t sum = Checksum(icmp);
    icmp[2] = static_cast<char>(sum >> 8);
    icmp[3] = static_cast<char>(sum);
  }  // The kernel computes ICMPv6 checksums.
  SockAddr to = p.mine_at;
  if (to.family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(to.get())->sin_port = 0;
  } else {
    reinterpret_cast<sockaddr_in6*>(to.get())->sin6_port = 0;
  }
  const ssize_t n = sendto(raw, icmp.data(), icmp.size(), 0, to.get(), to.len);
  return n < 0 ? absl::StrCat("-1 ", ErrnoName(errno)) : "sent";
}

void AddBasicCases(std::vector<Case>& cases) {
  cases.push_back({"udp/v6only_mapped", {Ip::kMapped}, false,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = w.Socket(ip, SOCK_DGRAM);
                     SetInt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
                     const SockAddr local = w.Local(ip);
                     r.Ret("bind mapped", bind(fd, local.get(), local.len));
                   }});
  cases.push_back({"udp/send_unconnected", kAllIps, false,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = w.Socket(ip, SOCK_DGRAM);
                     r.Add("send", Send(fd, "x"));
                     r.Add("recv dontwait", RecvMsg(w, fd, 4, 0, false));
                     r.Add("getsockname", [&] {
                       auto n = testbed::LocalName(fd);
                       return n.ok() ? w.Describe(*n) : std::string("error");
                     }());
                     sockaddr_storage ss;
                     socklen_t len = sizeof(ss);
                     r.Ret("getpeername", getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len));
                   }});
  cases.push_back({"udp/sendto_autobinds", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     UdpPair p = MakePair(w, ip);
                     const int fd = w.Socket(ip, SOCK_DGRAM);
                     r.Add("sendto", SendTo(fd, "auto", p.theirs_at));
                     auto n = testbed::LocalName(fd);
                     r.Add("getsockname", n.ok() ? w.Describe(*n) : "error");
                     r.Add("peer got", RecvMsg(w, p.theirs, 16));
                   }});
  cases.push_back({"udp/connect_and_undo", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     UdpPair p = MakePair(w, ip);
                     r.Ret("connect", connect(p.mine, p.theirs_at.get(), p.theirs_at.len));
                     r.Add("send", Send(p.mine, "one"));
                     r.Add("peer got", RecvMsg(w, p.theirs, 16));
                     // A datagram from another sender is not delivered.
                     const int other = w.PeerSocket(ip, SOCK_DGRAM);
                     r.Add("other sends", SendTo(other, "spam", p.mine_at));
                     r.Add("peer replies", SendTo(p.theirs, "two", p.mine_at));
                     r.Add("got", RecvMsg(w, p.mine, 16));
                     r.Add("then", RecvMsg(w, p.mine, 16, 0, false));
                     sockaddr unspec{};
                     unspec.sa_family = AF_UNSPEC;
                     r.Ret("connect unspec", connect(p.mine, &unspec, sizeof(unspec)));
                     sockaddr_storage ss;
                     socklen_t len = sizeof(ss);
                     r.Ret("getpeername", getpeername(p.mine, reinterpret_cast<sockaddr*>(&ss), &len));
                     r.Add("getsockname", [&] {
                       auto n = testbed::LocalName(p.mine);
                       return n.ok() ? w.Describe(*n) : std::string("error");
                     }());
                     r.Add("send", Send(p.mine, "x"));
                     r.Ret("connect unspec again", connect(p.mine, &unspec, sizeof(unspec)));
                   }});
  cases.push_back({"udp/connect_wildcard", kAllIps, false,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = w.Socket(ip, SOCK_DGRAM);
                     SockAddr any = w.Any(ip, 9);
                     if (ip == Ip::kMapped) any = testbed::MakeSockAddr("::ffff:0.0.0.0", 9);
                     r.Ret("connect any", connect(fd, any.get(), any.len));
                     sockaddr_storage ss;
                     socklen_t len = sizeof(ss);
                     if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
                       r.Add("getpeername", w.Describe(reinterpret_cast<sockaddr*>(&ss), len));
                     } else {
                       r.Add("getpeername", ErrnoName(errno));
                     }
                   }});
  cases.push_back({"udp/sizes", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     UdpPair p = MakePair(w, ip);
                     const size_t max = ip == Ip::kV6 ? 65527 : 65507;
                     for (size_t n : {max, max + 1, size_t{70000}}) {
                       std::string big(n, 'u');
                       r.Add(absl::StrCat("sendto max", n == max ? "" : "+"),
                             SendTo(p.mine, big, p.theirs_at));
                     }
                     r.Add("zero length", SendTo(p.mine, "", p.theirs_at));
                     PollBits(p.theirs, POLLIN, Seconds(2), Milliseconds(50));
                     int avail = -1;
                     ioctl(p.theirs, FIONREAD, &avail);
                     r.Add("fionread", avail == static_cast<int>(max) ? "max" : absl::StrCat(avail));
                     r.Add("recv big truncated", RecvMsg(w, p.theirs, 8));
                     r.Add("recv zero", RecvMsg(w, p.theirs, 8));
                   }});
  cases.push_back({"udp/msg_trunc_peek", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     UdpPair p = MakePair(w, ip);
                     SendTo(p.theirs, "0123456789", p.mine_at);
                     PollBits(p.mine, POLLIN, Seconds(2));
                     char buf[4];
                     r.Ret("recv trunc", recv(p.mine, buf, 4, MSG_TRUNC | MSG_PEEK));
                     r.Add("peek", RecvMsg(w, p.mine, 4, MSG_PEEK));
                     r.Add("recv", RecvMsg(w, p.mine, 4));
                     r.Add("empty", RecvMsg(w, p.mine, 4, 0, false));
                   }});
  cases.push_back({"udp/bind_conflict", kAllIps, false,
                   [](World& w, Ip ip, Record& r) {
                     const int a = w.Socket(ip, SOCK_DGRAM);
                     SockAddr local = w.Local(ip);
                     bind(a, local.get(), local.len);
                     auto n = testbed::LocalName(a);
                     if (!n.ok()) return;
                     const int b = w.Socket(ip, SOCK_DGRAM);
                     r.Ret("bind same", bind(b, n->get(), n->len));
                     r.Ret("bind twice", bind(a, n->get(), n->len));
                   }});
}

void AddErrorCases(std::vector<Case>& cases) {
  cases.push_back({"udp/icmp_refused_connected", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     UdpPair p = MakePair(w, ip);
                     w.Close(p.theirs);
                     r.Ret("connect", connect(p.mine, p.theirs_at.get(), p.theirs_at.len));
                     r.Add("send", Send(p.mine, "x"));
                     r.Add("poll", PollBits(p.mine, POLLERR, Seconds(1)));
                     r.Add("so_error", GetInt(p.mine, SOL_SOCKET, SO_ERROR));
                     r.Add("send again", Send(p.mine, "y"));
                     absl::SleepFor(Milliseconds(100));
                     r.Add("recv", RecvMsg(w, p.mine, 4, 0, false));
                     r.Add("recv again", RecvMsg(w, p.mine, 4, 0, false));
                   }});
  cases.push_back({"udp/icmp_refused_unconnected", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     UdpPair p = MakePair(w, ip);
                     w.Close(p.theirs);
                     r.Add("sendto", SendTo(p.mine, "x", p.theirs_at));
                     absl::SleepFor(Milliseconds(200));
                     r.Add("poll", PollNow(p.mine));
                     r.Add("recv", RecvMsg(w, p.mine, 4, 0, false));
                     r.Add("sendto again", SendTo(p.mine, "y", p.theirs_at));
                   }});
  cases.push_back({"udp/recverr_queue", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     UdpPair p = MakePair(w, ip);
                     w.Close(p.theirs);
                     SetInt(p.mine, IpLevel(ip), ip == Ip::kV4 ? IP_RECVERR : IPV6_RECVERR, 1);
                     if (ip == Ip::kMapped) SetInt(p.mine, IPPROTO_IP, IP_RECVERR, 1);
                     r.Add("sendto", SendTo(p.mine, "q", p.theirs_at));
                     r.Add("poll", PollBits(p.mine, POLLERR, Seconds(1)));
                     r.Add("errqueue", RecvMsg(w, p.mine, 4, MSG_ERRQUEUE, false));
                     r.Add("errqueue empty", RecvMsg(w, p.mine, 4, MSG_ERRQUEUE, false));
                     r.Add("so_error", GetInt(p.mine, SOL_SOCKET, SO_ERROR));
                   }});
  // ICMP errors other than "port unreachable", from a router on the path
  // (a raw socket of the peer's): what each becomes for a connected
  // socket with and without IP_RECVERR (icmp_err_convert; hard errors
  // only without it). Not "fragmentation needed" or "packet too big": on
  // Linux's loopback they would lower the path MTU for later cases.
  for (bool recverr : {false, true}) {
    Case c{recverr ? "udp_icmp/errors_queued" : "udp_icmp/errors_hard_only", kAllIps, true,
           [recverr](World& w, Ip ip, Record& r) {
             UdpPair p = MakePair(w, ip);
             if (p.mine < 0) return;
             if (recverr) {
               SetInt(p.mine, IpLevel(ip), ip == Ip::kV4 ? IP_RECVERR : IPV6_RECVERR, 1);
               if (ip == Ip::kMapped) SetInt(p.mine, IPPROTO_IP, IP_RECVERR, 1);
             }
             r.Ret("connect", connect(p.mine, p.theirs_at.get(), p.theirs_at.len));
             const bool v4 = ip != Ip::kV6;
             const int raw = w.PeerSocket(v4 ? AF_INET : AF_INET6, SOCK_RAW,
                                          v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6);
             if (raw < 0) {
               r.Add("raw socket", ErrnoName(errno));
               return;
             }
             const std::vector<std::pair<int, int>> errors =
                 v4 ? std::vector<std::pair<int, int>>{{3, 0}, {3, 1}, {3, 2}, {3, 10}, {3, 13},
                                                       {11, 0}, {12, 0}}
                    : std::vector<std::pair<int, int>>{{1, 0}, {1, 1}, {1, 3}, {3, 0}, {4, 0}};
             for (auto [type, code] : errors) {
               r.Add("send", SendTo(p.mine, "q", p.theirs_at));
               const std::string what = absl::StrCat("icmp ", type, "/", code);
               r.Add(what, SendIcmpError(raw, v4, type, code, p));
               absl::SleepFor(absl::Milliseconds(30));
               r.Add(what + " errqueue", RecvMsg(w, p.mine, 4, MSG_ERRQUEUE, false));
               r.Add(what + " so_error", GetInt(p.mine, SOL_SOCKET, SO_ERROR));
               r.Add(what + " recv", RecvMsg(w, p.mine, 4, 0, false));
             }
           }};
    c.kernel_peer = true;
    cases.push_back(std::move(c));
  }
  cases.push_back({"udp/errqueue_empty", kAllIps, false,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = w.Socket(ip, SOCK_DGRAM);
                     r.Add("errqueue", RecvMsg(w, fd, 4, MSG_ERRQUEUE, false));
                   }});
}

void AddControlMessageCases(std::vector<Case>& cases) {
  struct Recv {
    const char* name;
    bool v6;  // the IPv6 option (else IPv4)
    int option;
  };
  for (Recv o : {Recv{"ip_recvttl", false, IP_RECVTTL}, Recv{"ip_recvtos", false, IP_RECVTOS},
                 Recv{"ip_pktinfo", false, IP_PKTINFO},
                 Recv{"ip_recvorigdstaddr", false, IP_RECVORIGDSTADDR},
                 Recv{"ipv6_recvhoplimit", true, IPV6_RECVHOPLIMIT},
                 Recv{"ipv6_recvtclass", true, IPV6_RECVTCLASS},
                 Recv{"ipv6_recvpktinfo", true, IPV6_RECVPKTINFO}}) {
    std::vector<Ip> ips = o.v6 ? std::vector<Ip>{Ip::kV6, Ip::kMapped}
                               : std::vector<Ip>{Ip::kV4, Ip::kMapped};
    cases.push_back({std::string("udp_cmsg/") + o.name, ips, true,
                     [o](World& w, Ip ip, Record& r) {
                       UdpPair p = MakePair(w, ip);
                       r.Ret("set", setsockopt(p.mine, o.v6 ? IPPROTO_IPV6 : IPPROTO_IP,
                                               o.option, (const int[]){1}, sizeof(int)));
                       SendTo(p.theirs, "cm", p.mine_at);
                       r.Add("recv", RecvMsg(w, p.mine, 4));
                     }});
  }
  // Every receive option at once: the messages and their order.
  cases.push_back({"udp_cmsg/all_at_once", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     UdpPair p = MakePair(w, ip);
                     SetInt(p.mine, SOL_SOCKET, SO_TIMESTAMP, 1);
                     if (ip != Ip::kV6) {
                       for (int o : {IP_PKTINFO, IP_RECVTTL, IP_RECVTOS, IP_RECVORIGDSTADDR}) {
                         SetInt(p.mine, IPPROTO_IP, o, 1);
                       }
                     }
                     if (ip != Ip::kV4) {
                       for (int o : {IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS,
                                     IPV6_RECVORIGDSTADDR}) {
                         SetInt(p.mine, IPPROTO_IPV6, o, 1);
                       }
                     }
                     SendTo(p.theirs, "all", p.mine_at);
                     r.Add("recv", RecvMsg(w, p.mine, 4));
                   }});
  cases.push_back({"udp_cmsg/tos_sent", {Ip::kV4, Ip::kMapped}, true,
                   [](World& w, Ip ip, Record& r) {
                     UdpPair p = MakePair(w, ip);
                     SetInt(p.theirs, IPPROTO_IP, IP_RECVTOS, 1);
                     SetInt(p.theirs, IPPROTO_IP, IP_RECVTTL, 1);
                     r.Ret("tos", setsockopt(p.mine, IPPROTO_IP, IP_TOS, (const int[]){0x28}, sizeof(int)));
                     r.Ret("ttl", setsockopt(p.mine, IPPROTO_IP, IP_TTL, (const int[]){33}, sizeof(int)));
                     r.Add("sendto", SendTo(p.mine, "t", p.theirs_at));
                     r.Add("peer", RecvMsg(w, p.theirs, 4));
                   }});
  cases.push_back({"udp_cmsg/tclass_sent", {Ip::kV6}, true,
                   [](World& w, Ip ip, Record& r) {
                     UdpPair p = MakePair(w, ip);
                     SetInt(p.theirs, IPPROTO_IPV6, IPV6_RECVTCLASS, 1);
                     SetInt(p.theirs, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
                     r.Ret("tclass", setsockopt(p.mine, IPPROTO_IPV6, IPV6_TCLASS, (const int[]){0x28}, sizeof(int)));
                     r.Ret("hops", setsockopt(p.mine, IPPROTO_IPV6, IPV6_UNICAST_HOPS, (const int[]){33}, sizeof(int)));
                     r.Add("sendto", SendTo(p.mine, "t", p.theirs_at));
                     r.Add("peer", RecvMsg(w, p.theirs, 4));
                   }});
  cases.push_back({"udp_cmsg/default_ttl_seen", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     UdpPair p = MakePair(w, ip);
                     const bool v6 = ip == Ip::kV6;
                     SetInt(p.theirs, v6 ? IPPROTO_IPV6 : IPPROTO_IP,
                            v6 ? IPV6_RECVHOPLIMIT : IP_RECVTTL, 1);
                     SendTo(p.mine, "d", p.theirs_at);
                     r.Add("peer", RecvMsg(w, p.theirs, 4));
                   }});
  cases.push_back({"udp_cmsg/so_timestamp", kAllIps, true,
                   [](World& w, Ip ip, Record& r) {
                     UdpPair p = MakePair(w, ip);
                     SetInt(p.mine, SOL_SOCKET, SO_TIMESTAMP, 1);
                     SendTo(p.theirs, "ts", p.mine_at);
                     r.Add("recv", RecvMsg(w, p.mine, 4));
                     SetInt(p.mine, SOL_SOCKET, SO_TIMESTAMP, 0);
                     SetInt(p.mine, SOL_SOCKET, SO_TIMESTAMPNS, 1);
                     SendTo(p.theirs, "ns", p.mine_at);
                     r.Add("recv ns", RecvMsg(w, p.mine, 4));
                     timeval tv{};
                     r.Ret("siocgstamp", ioctl(p.mine, SIOCGSTAMP, &tv));
                     r.Add("stamp recent", tv.tv_sec > 1000000000 ? "yes" : "no");
                   }});
  cases.push_back({"udp_cmsg/siocgstamp_none", kAllIps, false,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = w.Socket(ip, SOCK_DGRAM);
                     timeval tv{};
                     r.Ret("siocgstamp", ioctl(fd, SIOCGSTAMP, &tv));
                   }});
}

void AddBroadcastCases(std::vector<Case>& cases) {
  cases.push_back({"udp/broadcast_permission", {Ip::kV4}, false,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = w.Socket(ip, SOCK_DGRAM);
                     SockAddr bcast = testbed::MakeSockAddr("255.255.255.255", 9);
                     r.Add("without", SendTo(fd, "b", bcast));
                     SetInt(fd, SOL_SOCKET, SO_BROADCAST, 1);
                     r.Add("with", SendTo(fd, "b", bcast));
                   }});
  cases.push_back({"udp/multicast_defaults", kAllIps, false,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = w.Socket(ip, SOCK_DGRAM);
                     const bool v6 = ip == Ip::kV6;
                     r.Add("ttl", v6 ? GetInt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS)
                                     : GetInt(fd, IPPROTO_IP, IP_MULTICAST_TTL));
                     r.Add("loop", v6 ? GetInt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP)
                                      : GetInt(fd, IPPROTO_IP, IP_MULTICAST_LOOP));
                     r.Add("if", v6 ? GetInt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF)
                                    : GetInt(fd, IPPROTO_IP, IP_MULTICAST_IF));
                   }});
  cases.push_back({"udp/ping_socket", {Ip::kV4, Ip::kV6}, false,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = w.Socket(World::Domain(ip), SOCK_DGRAM,
                                             ip == Ip::kV4 ? IPPROTO_ICMP : IPPROTO_ICMPV6);
                     r.Ret("socket", fd < 0 ? -1 : 0);
                     // The other family's ICMP is no protocol of this one.
                     errno = 0;
                     const int other = w.Socket(World::Domain(ip), SOCK_DGRAM,
                                                ip == Ip::kV4 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
                     r.Ret("other family's", other < 0 ? -1 : 0);
                   }});
}

// ICMP echo ("ping") datagram sockets (net.ipv4.ping_group_range allows
// them on both sides here, differential_test.cc): an echo request to the
// peer and its reply, with the identifier the socket chose or was bound to.
void AddPingCases(std::vector<Case>& cases) {
  for (uint16_t bound : {uint16_t{0}, uint16_t{4242}}) {
    cases.push_back(
        {bound == 0 ? "ping/echo" : "ping/echo_bound", kV4V6, true,
         [bound](World& w, Ip ip, Record& r) {
           const bool v6 = ip == Ip::kV6;
           const int fd = w.Socket(World::Domain(ip), SOCK_DGRAM, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
           if (fd < 0) return r.Add("socket", ErrnoName(errno));
           if (bound != 0) {
             SockAddr at = w.Any(ip, bound);
             r.Ret("bind", bind(fd, at.get(), at.len));
           }
           auto ident = [&] {
             sockaddr_storage name{};
             socklen_t len = sizeof(name);
             getsockname(fd, reinterpret_cast<sockaddr*>(&name), &len);
             return ntohs(name.ss_family == AF_INET6
                              ? reinterpret_cast<sockaddr_in6*>(&name)->sin6_port
                              : reinterpret_cast<sockaddr_in*>(&name)->sin_port);
           };
           r.Add("ident before", bound != 0 && ident() == bound ? "bound" : absl::StrCat(ident()));
           std::string request = {static_cast<char>(v6 ? 128 : 8), 0, 0, 0, 0x55, 0x66, 0, 7};
           request += "ping";
           SockAddr to = w.Peer(ip, 0);
           r.Ret("send", sendto(fd, request.data(), request.size(), 0, to.get(), to.len));
           const uint16_t id = ident();
           r.Add("ident after", id == 0 ? "0" : (bound != 0 && id == bound ? "bound" : "chosen"));
           if (PollBits(fd, POLLIN, absl::Seconds(2)) == "none") return r.Add("reply", "none");
           char buf[64];
           sockaddr_storage from{};
           socklen_t from_len = sizeof(from);
           const ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
                                      reinterpret_cast<sockaddr*>(&from), &from_len);
           if (n < 8) return r.Add("reply", absl::StrCat(n, " ", ErrnoName(errno)));
           const uint16_t reply_id = static_cast<uint16_t>((uint8_t)buf[4] << 8 | (uint8_t)buf[5]);
           r.Add("reply", absl::StrCat("type=", (uint8_t)buf[0], " code=", (uint8_t)buf[1],
                                       " id=", reply_id == id ? "ident" : absl::StrCat(reply_id),
                                       " seq=", (uint8_t)buf[7], " data=", std::string(buf + 8, n - 8)));
           r.Add("from", w.Describe(reinterpret_cast<sockaddr*>(&from), from_len));
         }});
  }
  cases.push_back({"ping/not_an_echo_request", kV4V6, true,
                   [](World& w, Ip ip, Record& r) {
                     const bool v6 = ip == Ip::kV6;
                     const int fd = w.Socket(World::Domain(ip), SOCK_DGRAM,
                                             v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
                     if (fd < 0) return r.Add("socket", ErrnoName(errno));
                     SockAddr to = w.Peer(ip, 0);
                     const std::string timestamp = {13, 0, 0, 0, 0, 1, 0, 1};
                     r.Ret("other type", sendto(fd, timestamp.data(), timestamp.size(), 0,
                                                to.get(), to.len));
                     const std::string shorter = {static_cast<char>(v6 ? 128 : 8), 0, 0};
                     r.Ret("short", sendto(fd, shorter.data(), shorter.size(), 0, to.get(), to.len));
                   }});
}

}  // namespace

void AddUdpCases(std::vector<Case>& cases) {
  AddBasicCases(cases);
  AddErrorCases(cases);
  AddControlMessageCases(cases);
  AddBroadcastCases(cases);
  AddPingCases(cases);
}

}  // namespace stackd::differential
