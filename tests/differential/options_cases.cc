// Socket options at every level, as getsockopt and setsockopt show them on
// a fresh socket: the default, what each of a set of values reads back as
// (or the error that refuses it), short option lengths, and the options of
// one protocol asked of another. socket(7), tcp(7), udp(7), ip(7), ipv6(7).
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/differential/case.h"

namespace stackd::differential {
namespace {

enum Proto { kTcp = 1, kUdp = 2 };

struct IntOption {
  const char* name;
  int level;
  int option;
  int protos;  // kTcp | kUdp: the sockets it belongs to
  // Whether setting it is a case (not for read-only options).
  bool settable = true;
};

#define OPT(level, name) #name, level, name
const IntOption kIntOptions[] = {
    {OPT(SOL_SOCKET, SO_REUSEADDR), kTcp | kUdp},
    {OPT(SOL_SOCKET, SO_REUSEPORT), kTcp | kUdp},
    {OPT(SOL_SOCKET, SO_KEEPALIVE), kTcp | kUdp},
    {OPT(SOL_SOCKET, SO_BROADCAST), kTcp | kUdp},
    {OPT(SOL_SOCKET, SO_DONTROUTE), kTcp | kUdp},
    {OPT(SOL_SOCKET, SO_OOBINLINE), kTcp | kUdp},
    {OPT(SOL_SOCKET, SO_PRIORITY), kTcp | kUdp},
    {OPT(SOL_SOCKET, SO_SNDBUF), kTcp | kUdp},
    {OPT(SOL_SOCKET, SO_RCVBUF), kTcp | kUdp},
    {OPT(SOL_SOCKET, SO_RCVLOWAT), kTcp | kUdp},
    {OPT(SOL_SOCKET, SO_SNDLOWAT), kTcp | kUdp},
    {OPT(SOL_SOCKET, SO_TIMESTAMP), kTcp | kUdp},
    {OPT(SOL_SOCKET, SO_TIMESTAMPNS), kTcp | kUdp},
    {OPT(SOL_SOCKET, SO_MARK), kTcp | kUdp},
    {OPT(SOL_SOCKET, SO_PASSCRED), kTcp | kUdp},
    {OPT(SOL_SOCKET, SO_TYPE), kTcp | kUdp, false},
    {OPT(SOL_SOCKET, SO_DOMAIN), kTcp | kUdp, false},
    {OPT(SOL_SOCKET, SO_PROTOCOL), kTcp | kUdp, false},
    {OPT(SOL_SOCKET, SO_ACCEPTCONN), kTcp | kUdp, false},
    {OPT(SOL_SOCKET, SO_ERROR), kTcp | kUdp, false},
    {OPT(IPPROTO_TCP, TCP_NODELAY), kTcp},
    {OPT(IPPROTO_TCP, TCP_MAXSEG), kTcp},
    {OPT(IPPROTO_TCP, TCP_CORK), kTcp},
    {OPT(IPPROTO_TCP, TCP_KEEPIDLE), kTcp},
    {OPT(IPPROTO_TCP, TCP_KEEPINTVL), kTcp},
    {OPT(IPPROTO_TCP, TCP_KEEPCNT), kTcp},
    {OPT(IPPROTO_TCP, TCP_SYNCNT), kTcp},
    {OPT(IPPROTO_TCP, TCP_LINGER2), kTcp},
    {OPT(IPPROTO_TCP, TCP_DEFER_ACCEPT), kTcp},
    {OPT(IPPROTO_TCP, TCP_WINDOW_CLAMP), kTcp},
    {OPT(IPPROTO_TCP, TCP_QUICKACK), kTcp},
    {OPT(IPPROTO_TCP, TCP_USER_TIMEOUT), kTcp},
    {OPT(IPPROTO_TCP, TCP_NOTSENT_LOWAT), kTcp},
    {OPT(IPPROTO_IP, IP_TOS), kTcp | kUdp},
    {OPT(IPPROTO_IP, IP_TTL), kTcp | kUdp},
    {OPT(IPPROTO_IP, IP_RECVTOS), kTcp | kUdp},
    {OPT(IPPROTO_IP, IP_RECVTTL), kTcp | kUdp},
    {OPT(IPPROTO_IP, IP_PKTINFO), kTcp | kUdp},
    {OPT(IPPROTO_IP, IP_RECVERR), kTcp | kUdp},
    {OPT(IPPROTO_IP, IP_RECVORIGDSTADDR), kTcp | kUdp},
    {OPT(IPPROTO_IP, IP_MTU_DISCOVER), kTcp | kUdp},
    {OPT(IPPROTO_IP, IP_MTU), kTcp | kUdp, false},
    {OPT(IPPROTO_IP, IP_MULTICAST_TTL), kUdp},
    {OPT(IPPROTO_IP, IP_MULTICAST_LOOP), kUdp},
    {OPT(IPPROTO_IP, IP_FREEBIND), kTcp | kUdp},
    {OPT(IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT), kTcp | kUdp},
    {OPT(IPPROTO_IPV6, IPV6_V6ONLY), kTcp | kUdp},
    {OPT(IPPROTO_IPV6, IPV6_TCLASS), kTcp | kUdp},
    {OPT(IPPROTO_IPV6, IPV6_UNICAST_HOPS), kTcp | kUdp},
    {OPT(IPPROTO_IPV6, IPV6_RECVTCLASS), kTcp | kUdp},
    {OPT(IPPROTO_IPV6, IPV6_RECVHOPLIMIT), kTcp | kUdp},
    {OPT(IPPROTO_IPV6, IPV6_RECVPKTINFO), kTcp | kUdp},
    {OPT(IPPROTO_IPV6, IPV6_RECVERR), kTcp | kUdp},
    {OPT(IPPROTO_IPV6, IPV6_MTU_DISCOVER), kTcp | kUdp},
    {OPT(IPPROTO_IPV6, IPV6_MTU), kTcp | kUdp, false},
    {OPT(IPPROTO_IPV6, IPV6_MULTICAST_HOPS), kUdp},
    {OPT(IPPROTO_IPV6, IPV6_MULTICAST_LOOP), kUdp},
    {OPT(IPPROTO_IPV6, IPV6_RECVORIGDSTADDR), kTcp | kUdp},
};
#undef OPT

// The values every settable option is tried with: off, on, a small and a
// large number, the -1 that many options take as "the default", and one
// past 16 bits.
const int kValues[] = {0, 1, -1, 300, 100000};

std::string ValueName(int v) { return v < 0 ? absl::StrCat("m", -v) : absl::StrCat(v); }

const char* LevelName(int level) {
  switch (level) {
    case SOL_SOCKET: return "sol_socket";
    case IPPROTO_TCP: return "tcp";
    case IPPROTO_IP: return "ip";
    case IPPROTO_IPV6: return "ipv6";
  }
  return "level";
}

// The families an option of `level` is asked on: its default and short
// lengths on every family it can apply to, values on one.
std::vector<Ip> IpsFor(int level) {
  if (level == IPPROTO_IP) return {Ip::kV4, Ip::kMapped};
  if (level == IPPROTO_IPV6) return {Ip::kV6};
  return kV4V6;
}
std::vector<Ip> ValueIpsFor(int level) {
  return {level == IPPROTO_IPV6 ? Ip::kV6 : Ip::kV4};
}

int Fresh(World& w, Ip ip, int proto) {
  return w.Socket(ip, proto == kTcp ? SOCK_STREAM : SOCK_DGRAM);
}

std::string Lower(const char* s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(tolower(c));
  return out;
}

void AddIntOption(std::vector<Case>& cases, const IntOption& o, int proto) {
  const std::string base = absl::StrCat(
      "option_", proto == kTcp ? "tcp" : "udp", "/", Lower(o.name));
  const IntOption opt = o;
  if ((o.protos & proto) == 0) {
    // Asked of the other protocol's socket.
    cases.push_back({base + "_foreign", IpsFor(o.level), false,
                     [opt, proto](World& w, Ip ip, Record& r) {
                       const int fd = Fresh(w, ip, proto);
                       r.Add("get", GetInt(fd, opt.level, opt.option));
                       const int one = 1;
                       r.Ret("set 1", setsockopt(fd, opt.level, opt.option,
                                                 &one, sizeof(one)));
                     }});
    return;
  }
  cases.push_back({base + "_default", IpsFor(o.level), false,
                   [opt, proto](World& w, Ip ip, Record& r) {
                     const int fd = Fresh(w, ip, proto);
                     r.Add("get", GetInt(fd, opt.level, opt.option));
                   }});
  // A short buffer: getsockopt with room for one byte, setsockopt with
  // two (ip(7) options take a byte, others refuse it).
  cases.push_back({base + "_short", IpsFor(o.level), false,
                   [opt, proto](World& w, Ip ip, Record& r) {
                     const int fd = Fresh(w, ip, proto);
                     unsigned char small[4] = {0xee, 0xee, 0xee, 0xee};
                     socklen_t len = 1;
                     r.Ret("get len 1",
                           getsockopt(fd, opt.level, opt.option, small, &len));
                     r.Add("got", absl::StrCat("len=", len, " byte0=",
                                               static_cast<int>(small[0])));
                     if (!opt.settable) return;
                     const uint16_t two = 1;
                     r.Ret("set len 2", setsockopt(fd, opt.level, opt.option,
                                                   &two, sizeof(two)));
                     r.Ret("set len 0",
                           setsockopt(fd, opt.level, opt.option, &two, 0));
                     r.Add("get", GetInt(fd, opt.level, opt.option));
                   }});
  if (!o.settable) {
    cases.push_back({base + "_set", IpsFor(o.level), false,
                     [opt, proto](World& w, Ip ip, Record& r) {
                       const int fd = Fresh(w, ip, proto);
                       const int one = 1;
                       r.Ret("set 1", setsockopt(fd, opt.level, opt.option,
                                                 &one, sizeof(one)));
                     }});
    return;
  }
  for (int v : kValues) {
    cases.push_back({absl::StrCat(base, "_", ValueName(v)), ValueIpsFor(o.level),
                     false, [opt, proto, v](World& w, Ip ip, Record& r) {
                       const int fd = Fresh(w, ip, proto);
                       r.Ret("set", setsockopt(fd, opt.level, opt.option, &v,
                                               sizeof(v)));
                       r.Add("get", GetInt(fd, opt.level, opt.option));
                     }});
  }
}

std::string GetLinger(int fd) {
  linger l{-7, -7};
  socklen_t len = sizeof(l);
  if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len) != 0) {
    return absl::StrCat("-1 ", ErrnoName(errno));
  }
  return absl::StrCat("{", l.l_onoff, ",", l.l_linger, "} len=", len);
}

std::string GetTimeval(int fd, int option) {
  timeval t{-7, -7};
  socklen_t len = sizeof(t);
  if (getsockopt(fd, SOL_SOCKET, option, &t, &len) != 0) {
    return absl::StrCat("-1 ", ErrnoName(errno));
  }
  return absl::StrCat("{", t.tv_sec, ",", t.tv_usec, "} len=", len);
}

std::string GetString(int fd, int level, int option, socklen_t room) {
  char buf[64];
  memset(buf, '#', sizeof(buf));
  socklen_t len = room;
  if (getsockopt(fd, level, option, buf, &len) != 0) {
    return absl::StrCat("-1 ", ErrnoName(errno));
  }
  std::string s(buf, std::min<size_t>(len, sizeof(buf)));
  for (char& c : s) {
    if (c == '\0') c = '.';
  }
  return absl::StrCat("\"", s, "\" len=", len);
}

void AddStructOptions(std::vector<Case>& cases) {
  for (int proto : {kTcp, kUdp}) {
    const std::string p = proto == kTcp ? "tcp" : "udp";
    cases.push_back({"option_" + p + "/so_linger", kV4V6, false,
                     [proto](World& w, Ip ip, Record& r) {
                       const int fd = Fresh(w, ip, proto);
                       r.Add("default", GetLinger(fd));
                       for (linger l : {linger{1, 5}, linger{7, 0},
                                        linger{0, 9}, linger{1, -3}}) {
                         r.Ret(absl::StrCat("set {", l.l_onoff, ",",
                                            l.l_linger, "}"),
                               setsockopt(fd, SOL_SOCKET, SO_LINGER, &l,
                                          sizeof(l)));
                         r.Add("get", GetLinger(fd));
                       }
                       const int one = 1;
                       r.Ret("set int", setsockopt(fd, SOL_SOCKET, SO_LINGER,
                                                   &one, sizeof(one)));
                     }});
    for (int option : {SO_RCVTIMEO, SO_SNDTIMEO}) {
      const std::string n = option == SO_RCVTIMEO ? "so_rcvtimeo" : "so_sndtimeo";
      cases.push_back({"option_" + p + "/" + n, kV4V6, false,
                       [proto, option](World& w, Ip ip, Record& r) {
                         const int fd = Fresh(w, ip, proto);
                         r.Add("default", GetTimeval(fd, option));
                         for (timeval t :
                              {timeval{1, 500000}, timeval{0, 1},
                               timeval{0, 2000000}, timeval{-1, 0},
                               timeval{0, -1}, timeval{0, 0}}) {
                           r.Ret(absl::StrCat("set {", t.tv_sec, ",",
                                              t.tv_usec, "}"),
                                 setsockopt(fd, SOL_SOCKET, option, &t,
                                            sizeof(t)));
                           r.Add("get", GetTimeval(fd, option));
                         }
                         const int one = 1;
                         r.Ret("set int", setsockopt(fd, SOL_SOCKET, option,
                                                     &one, sizeof(one)));
                       }});
    }
  }
  // TCP_CONGESTION: Linux's default (cubic) is not what lwIP runs; "reno"
  // is accepted by both, an unknown name by neither.
  cases.push_back({"option_tcp/tcp_congestion_default", kV4V6, false,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = Fresh(w, ip, kTcp);
                     r.Add("get", GetString(fd, IPPROTO_TCP, TCP_CONGESTION, 16));
                   }});
  cases.push_back({"option_tcp/tcp_congestion_set", kV4V6, false,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = Fresh(w, ip, kTcp);
                     for (const char* name : {"reno", "nosuchalgo", ""}) {
                       r.Ret(absl::StrCat("set \"", name, "\""),
                             setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name,
                                        strlen(name)));
                       r.Add("get", GetString(fd, IPPROTO_TCP, TCP_CONGESTION, 16));
                     }
                     r.Add("get room 2", GetString(fd, IPPROTO_TCP, TCP_CONGESTION, 2));
                   }});
  cases.push_back({"option_tcp/tcp_info_unconnected", kV4V6, false,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = Fresh(w, ip, kTcp);
                     tcp_info info;
                     memset(&info, 0xee, sizeof(info));
                     socklen_t len = sizeof(info);
                     r.Ret("get", getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len));
                     r.Add("state", absl::StrCat(info.tcpi_state));
                     r.Add("len_ok", len >= 104 ? "yes" : absl::StrCat(len));
                     r.Add("rto", absl::StrCat(info.tcpi_rto));
                     r.Add("snd_mss", absl::StrCat(info.tcpi_snd_mss));
                     r.Add("rcv_mss", absl::StrCat(info.tcpi_rcv_mss));
                     r.Add("cwnd", absl::StrCat(info.tcpi_snd_cwnd));
                     r.Add("retransmits", absl::StrCat(info.tcpi_retransmits));
                   }});
  cases.push_back({"option_udp/so_detach_filter", kV4V6, false,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = Fresh(w, ip, kUdp);
                     const int zero = 0;
                     r.Ret("detach", setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER,
                                                &zero, sizeof(zero)));
                   }});
  cases.push_back({"option_tcp/unknown", kV4V6, false,
                   [](World& w, Ip ip, Record& r) {
                     const int fd = Fresh(w, ip, kTcp);
                     r.Add("sol_socket 999", GetInt(fd, SOL_SOCKET, 999));
                     r.Add("tcp 999", GetInt(fd, IPPROTO_TCP, 999));
                     r.Add("level 999", GetInt(fd, 999, 1));
                     const int one = 1;
                     r.Ret("set sol_socket 999",
                           setsockopt(fd, SOL_SOCKET, 999, &one, sizeof(one)));
                     r.Ret("set level 999",
                           setsockopt(fd, 999, 1, &one, sizeof(one)));
                   }});
}

}  // namespace

void AddOptionCases(std::vector<Case>& cases) {
  for (const IntOption& o : kIntOptions) {
    AddIntOption(cases, o, kTcp);
    AddIntOption(cases, o, kUdp);
  }
  AddStructOptions(cases);
}

}  // namespace stackd::differential
