#include "stackd/sockets/options/socket_options.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>

namespace stackd {
namespace {

constexpr unsigned kTcp = 1;
constexpr unsigned kUdp = 2;
constexpr unsigned kBoth = kTcp | kUdp;

// Linux's constants (include/net/sock.h, include/net/tcp.h).
constexpr int kSockMinSndbuf = 4608;  // SOCK_MIN_SNDBUF on x86_64
constexpr int kSockMinRcvbuf = 2304;  // SOCK_MIN_RCVBUF
constexpr int kTcpMinMss = 88;
constexpr int kMaxTcpWindow = 32767;
constexpr int kTcpMssDefault = 536;
constexpr int kMaxTcpKeepIdle = 32767;
constexpr int kMaxTcpKeepIntvl = 32767;
constexpr int kMaxTcpKeepCnt = 127;
constexpr int kMaxTcpSyncnt = 127;
constexpr int kTcpFinTimeout = 60;     // net.ipv4.tcp_fin_timeout, seconds
constexpr int kTcpFinTimeoutMax = 120;  // TCP_FIN_TIMEOUT_MAX / HZ
constexpr int kDefaultTtl = 64;         // net.ipv4.ip_default_ttl
constexpr int kIpPmtudiscWant = 1;      // net.ipv4.ip_no_pmtu_disc = 0
constexpr int kIpPmtudiscOmit = 5;
constexpr int kInetEcnMask = 3;

int ReadSysctl(const char* path, int field, int fallback) {
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return fallback;
  int values[3] = {fallback, fallback, fallback};
  const int n = std::fscanf(f, "%d %d %d", &values[0], &values[1], &values[2]);
  std::fclose(f);
  if (n <= field || values[field] <= 0) return fallback;
  return values[field];
}

// Linux's secs_to_retrans / retrans_to_secs for TCP_DEFER_ACCEPT: the
// seconds are kept as a number of SYN-ACK retransmissions (initial timeout
// 1 s, doubling up to 120 s), and read back as those retransmissions' time.
int SecondsToRetransmits(int seconds) {
  int retrans = 0;
  if (seconds > 0) {
    int timeout = 1;
    int period = timeout;
    retrans = 1;
    while (seconds > period && retrans < 255) {
      ++retrans;
      timeout = std::min(timeout * 2, 120);
      period += timeout;
    }
  }
  return retrans;
}
int RetransmitsToSeconds(int retrans) {
  int period = 0;
  if (retrans > 0) {
    int timeout = 1;
    period = timeout;
    while (--retrans) {
      timeout = std::min(timeout * 2, 120);
      period += timeout;
    }
  }
  return period;
}

// --- Rules: how a value is checked and stored, and reported ------------------

using SetRule = int (*)(int value, int* stored);
using GetRule = int (*)(int stored, Protocol protocol, int* reported);

int Bool(int v, int* stored) {
  *stored = v != 0;
  return 0;
}
int Any(int v, int* stored) {
  *stored = v;
  return 0;
}
template <int kMin, int kMax>
int Range(int v, int* stored) {
  if (v < kMin || v > kMax) return EINVAL;
  *stored = v;
  return 0;
}
int ReadOnly(int, int*) { return ENOPROTOOPT; }
int NotSupported(int, int*) { return EOPNOTSUPP; }
int Invalid(int, int*) { return EINVAL; }

int NoFilter(int, int*) { return ENOENT; }
// IPV6_MTU: 0 (the route's) or at least IPv6's minimum MTU.
int SetIpv6Mtu(int v, int* stored) {
  if (v != 0 && v < 1280) return EINVAL;
  *stored = v;
  return 0;
}

int Stored(int stored, Protocol, int* reported) {
  *reported = stored;
  return 0;
}
int NotSupportedGet(int, Protocol, int*) { return EOPNOTSUPP; }
int NoSuchOptionGet(int, Protocol, int*) { return ENOPROTOOPT; }

// SO_SNDBUF / SO_RCVBUF: capped at the host's maximum, then doubled (the
// kernel's bookkeeping share), never below Linux's minimum. 0 stored: not
// set, the protocol's default is reported.
int SetSndbuf(int v, int* stored) {
  const unsigned capped = std::min<unsigned>(static_cast<unsigned>(v),
                                             HostBuffers().wmem_max);
  *stored = std::max(static_cast<int>(capped) * 2, kSockMinSndbuf);
  return 0;
}
int SetRcvbuf(int v, int* stored) {
  const unsigned capped = std::min<unsigned>(static_cast<unsigned>(v),
                                             HostBuffers().rmem_max);
  *stored = std::max(static_cast<int>(capped) * 2, kSockMinRcvbuf);
  return 0;
}
int GetSndbuf(int stored, Protocol p, int* reported) {
  *reported = stored != 0 ? stored
              : p == Protocol::kTcp ? HostBuffers().tcp_wmem_default
                                    : HostBuffers().wmem_default;
  return 0;
}
int GetRcvbuf(int stored, Protocol p, int* reported) {
  *reported = stored != 0 ? stored
              : p == Protocol::kTcp ? HostBuffers().tcp_rmem_default
                                    : HostBuffers().rmem_default;
  return 0;
}
// SO_RCVLOWAT: negative is INT_MAX, 0 is 1; TCP caps it at half the
// largest receive buffer (tcp_set_rcvlowat).
int SetRcvlowatTcp(int v, int* stored) {
  if (v < 0) v = INT_MAX;
  v = std::min(v, HostBuffers().tcp_rmem_max / 2);
  *stored = v == 0 ? 1 : v;
  return 0;
}
int SetRcvlowatUdp(int v, int* stored) {
  if (v < 0) v = INT_MAX;
  *stored = v == 0 ? 1 : v;
  return 0;
}
int SetMaxseg(int v, int* stored) {
  if (v != 0 && (v < kTcpMinMss || v > kMaxTcpWindow)) return EINVAL;
  *stored = v;
  return 0;
}
int GetMaxseg(int stored, Protocol, int* reported) {
  *reported = stored != 0 ? stored : kTcpMssDefault;
  return 0;
}
// TCP_LINGER2: negative turns FIN-WAIT-2 lingering off (-1), 0 is the
// system's tcp_fin_timeout, more than 120 s is 120 s.
int SetLinger2(int v, int* stored) {
  *stored = v < 0 ? -1 : std::min(v, kTcpFinTimeoutMax);
  return 0;
}
int GetLinger2(int stored, Protocol, int* reported) {
  *reported = stored < 0 ? -1 : stored == 0 ? kTcpFinTimeout : stored;
  return 0;
}
int SetDeferAccept(int v, int* stored) {
  *stored = SecondsToRetransmits(v);
  return 0;
}
int GetDeferAccept(int stored, Protocol, int* reported) {
  *reported = RetransmitsToSeconds(stored);
  return 0;
}
// TCP_WINDOW_CLAMP: 0 clears it, anything else is at least half of
// SOCK_MIN_RCVBUF.
int SetWindowClamp(int v, int* stored) {
  *stored = v == 0 ? 0 : std::max(v, kSockMinRcvbuf / 2);
  return 0;
}
int SetUserTimeout(int v, int* stored) {
  if (v < 0) return EINVAL;
  *stored = v;
  return 0;
}
// IP_TOS: one byte; on TCP the ECN bits are the stack's, not the caller's.
int SetTosTcp(int v, int* stored) {
  *stored = v & 0xff & ~kInetEcnMask;
  return 0;
}
int SetTosUdp(int v, int* stored) {
  *stored = v & 0xff;
  return 0;
}
// IP_TTL, IPV6_UNICAST_HOPS: 1..255 (IPv6: 0..255), -1 is the default.
int SetTtl(int v, int* stored) {
  if (v != -1 && (v < 1 || v > 255)) return EINVAL;
  *stored = v;
  return 0;
}
int SetHops(int v, int* stored) {
  if (v < -1 || v > 255) return EINVAL;
  *stored = v;
  return 0;
}
int GetTtl(int stored, Protocol, int* reported) {
  *reported = stored == -1 ? kDefaultTtl : stored;
  return 0;
}
// IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS: 0..255, -1 is 1.
int SetMulticastTtl(int v, int* stored) {
  if (v < -1 || v > 255) return EINVAL;
  *stored = v == -1 ? 1 : v;
  return 0;
}
// IPV6_TCLASS: 0..255, -1 is 0; on TCP the ECN bits stay the stack's.
int SetTclassTcp(int v, int* stored) {
  if (v < -1 || v > 255) return EINVAL;
  *stored = v == -1 ? 0 : (v & ~kInetEcnMask);
  return 0;
}
int SetTclassUdp(int v, int* stored) {
  if (v < -1 || v > 255) return EINVAL;
  *stored = v == -1 ? 0 : v;
  return 0;
}
int SetMulticastLoop6(int v, int* stored) {
  if (v != 0 && v != 1) return EINVAL;
  *stored = v;
  return 0;
}

struct Rule {
  int level;
  int name;
  unsigned protocols;  // kTcp, kUdp
  int initial;         // stored value of a fresh socket
  SetRule set;
  GetRule get;
};

// Every integer option a stack socket has. An option with different rules
// for TCP and UDP has one row for each.
const Rule kRules[] = {
    // socket(7)
    {SOL_SOCKET, SO_REUSEADDR, kBoth, 0, Bool, Stored},
    {SOL_SOCKET, SO_REUSEPORT, kBoth, 0, Bool, Stored},
    {SOL_SOCKET, SO_KEEPALIVE, kBoth, 0, Bool, Stored},
    {SOL_SOCKET, SO_BROADCAST, kBoth, 0, Bool, Stored},
    {SOL_SOCKET, SO_DONTROUTE, kBoth, 0, Bool, Stored},
    {SOL_SOCKET, SO_OOBINLINE, kBoth, 0, Bool, Stored},
    {SOL_SOCKET, SO_TIMESTAMP, kBoth, 0, Bool, Stored},
    {SOL_SOCKET, SO_TIMESTAMPNS, kBoth, 0, Bool, Stored},
    {SOL_SOCKET, SO_PRIORITY, kBoth, 0, Any, Stored},
    {SOL_SOCKET, SO_MARK, kBoth, 0, Any, Stored},
    {SOL_SOCKET, SO_SNDBUF, kBoth, 0, SetSndbuf, GetSndbuf},
    {SOL_SOCKET, SO_RCVBUF, kBoth, 0, SetRcvbuf, GetRcvbuf},
    {SOL_SOCKET, SO_RCVLOWAT, kTcp, 1, SetRcvlowatTcp, Stored},
    {SOL_SOCKET, SO_RCVLOWAT, kUdp, 1, SetRcvlowatUdp, Stored},
    {SOL_SOCKET, SO_SNDLOWAT, kBoth, 1, ReadOnly, Stored},
    {SOL_SOCKET, SO_PASSCRED, kBoth, 0, NotSupported, NotSupportedGet},
    // No socket filter is ever attached (SO_ATTACH_FILTER is not taken).
    {SOL_SOCKET, SO_DETACH_FILTER, kBoth, 0, NoFilter, NoSuchOptionGet},
    // tcp(7)
    {IPPROTO_TCP, TCP_NODELAY, kTcp, 0, Bool, Stored},
    {IPPROTO_TCP, TCP_CORK, kTcp, 0, Bool, Stored},
    {IPPROTO_TCP, TCP_QUICKACK, kTcp, 1, Bool, Stored},
    {IPPROTO_TCP, TCP_MAXSEG, kTcp, 0, SetMaxseg, GetMaxseg},
    {IPPROTO_TCP, TCP_KEEPIDLE, kTcp, 7200, Range<1, kMaxTcpKeepIdle>, Stored},
    {IPPROTO_TCP, TCP_KEEPINTVL, kTcp, 75, Range<1, kMaxTcpKeepIntvl>, Stored},
    {IPPROTO_TCP, TCP_KEEPCNT, kTcp, 9, Range<1, kMaxTcpKeepCnt>, Stored},
    {IPPROTO_TCP, TCP_SYNCNT, kTcp, 6, Range<1, kMaxTcpSyncnt>, Stored},
    {IPPROTO_TCP, TCP_LINGER2, kTcp, 0, SetLinger2, GetLinger2},
    {IPPROTO_TCP, TCP_DEFER_ACCEPT, kTcp, 0, SetDeferAccept, GetDeferAccept},
    {IPPROTO_TCP, TCP_WINDOW_CLAMP, kTcp, 0, SetWindowClamp, Stored},
    {IPPROTO_TCP, TCP_USER_TIMEOUT, kTcp, 0, SetUserTimeout, Stored},
    {IPPROTO_TCP, TCP_NOTSENT_LOWAT, kTcp, 0, Any, Stored},
    // ip(7)
    {IPPROTO_IP, IP_TOS, kTcp, 0, SetTosTcp, Stored},
    {IPPROTO_IP, IP_TOS, kUdp, 0, SetTosUdp, Stored},
    {IPPROTO_IP, IP_TTL, kBoth, -1, SetTtl, GetTtl},
    {IPPROTO_IP, IP_RECVTOS, kBoth, 0, Bool, Stored},
    {IPPROTO_IP, IP_RECVTTL, kBoth, 0, Bool, Stored},
    {IPPROTO_IP, IP_PKTINFO, kBoth, 0, Bool, Stored},
    {IPPROTO_IP, IP_RECVERR, kBoth, 0, Bool, Stored},
    {IPPROTO_IP, IP_RECVORIGDSTADDR, kBoth, 0, Bool, Stored},
    {IPPROTO_IP, IP_FREEBIND, kBoth, 0, Bool, Stored},
    {IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, kBoth, 0, Bool, Stored},
    {IPPROTO_IP, IP_MTU_DISCOVER, kBoth, kIpPmtudiscWant,
     Range<0, kIpPmtudiscOmit>, Stored},
    {IPPROTO_IP, IP_MULTICAST_TTL, kTcp, 1, Invalid, Stored},
    {IPPROTO_IP, IP_MULTICAST_TTL, kUdp, 1, SetMulticastTtl, Stored},
    {IPPROTO_IP, IP_MULTICAST_LOOP, kBoth, 1, Bool, Stored},
    // ipv6(7), AF_INET6 sockets only
    {IPPROTO_IPV6, IPV6_FREEBIND, kBoth, 0, Bool, Stored},
    {IPPROTO_IPV6, IPV6_TCLASS, kTcp, 0, SetTclassTcp, Stored},
    {IPPROTO_IPV6, IPV6_TCLASS, kUdp, 0, SetTclassUdp, Stored},
    {IPPROTO_IPV6, IPV6_UNICAST_HOPS, kBoth, -1, SetHops, GetTtl},
    {IPPROTO_IPV6, IPV6_RECVTCLASS, kBoth, 0, Bool, Stored},
    {IPPROTO_IPV6, IPV6_RECVHOPLIMIT, kBoth, 0, Bool, Stored},
    {IPPROTO_IPV6, IPV6_RECVPKTINFO, kBoth, 0, Bool, Stored},
    {IPPROTO_IPV6, IPV6_RECVERR, kBoth, 0, Bool, Stored},
    {IPPROTO_IPV6, IPV6_RECVORIGDSTADDR, kBoth, 0, Bool, Stored},
    {IPPROTO_IPV6, IPV6_MTU_DISCOVER, kBoth, kIpPmtudiscWant,
     Range<0, kIpPmtudiscOmit>, Stored},
    {IPPROTO_IPV6, IPV6_MULTICAST_HOPS, kTcp, 1, ReadOnly, Stored},
    {IPPROTO_IPV6, IPV6_MULTICAST_HOPS, kUdp, 1, SetMulticastTtl, Stored},
    // IPV6_MTU caps the fragment size; getsockopt reports the route's MTU
    // (the socket answers it).
    {IPPROTO_IPV6, IPV6_MTU, kBoth, 0, SetIpv6Mtu, Stored},
    {IPPROTO_IPV6, IPV6_MULTICAST_LOOP, kBoth, 1, SetMulticastLoop6, Stored},
};
constexpr int kRuleCount = sizeof(kRules) / sizeof(kRules[0]);

}  // namespace

const SystemBuffers& HostBuffers() {
  static const SystemBuffers buffers = [] {
    SystemBuffers b;
    b.wmem_default = ReadSysctl("/proc/sys/net/core/wmem_default", 0, 212992);
    b.wmem_max = ReadSysctl("/proc/sys/net/core/wmem_max", 0, 212992);
    b.rmem_default = ReadSysctl("/proc/sys/net/core/rmem_default", 0, 212992);
    b.rmem_max = ReadSysctl("/proc/sys/net/core/rmem_max", 0, 212992);
    b.tcp_wmem_default = ReadSysctl("/proc/sys/net/ipv4/tcp_wmem", 1, 16384);
    b.tcp_rmem_default = ReadSysctl("/proc/sys/net/ipv4/tcp_rmem", 1, 131072);
    b.tcp_rmem_max = ReadSysctl("/proc/sys/net/ipv4/tcp_rmem", 2, 6291456);
    return b;
  }();
  return buffers;
}

SocketOptions::SocketOptions(Protocol protocol, int family)
    : protocol_(protocol), family_(family) {}

int SocketOptions::Index(int level, int name) const {
  if (level == IPPROTO_IPV6 && family_ != AF_INET6) return -1;
  const unsigned mine = protocol_ == Protocol::kTcp ? kTcp : kUdp;
  for (int i = 0; i < kRuleCount; ++i) {
    const Rule& r = kRules[i];
    if (r.level == level && r.name == name && (r.protocols & mine) != 0) {
      return i;
    }
  }
  return -1;
}

bool SocketOptions::Has(int level, int name) const {
  return Index(level, name) >= 0;
}

int SocketOptions::Set(int level, int name, int v) {
  const int i = Index(level, name);
  if (i < 0) return ENOPROTOOPT;
  int stored = 0;
  if (int error = kRules[i].set(v, &stored)) return error;
  for (auto& [index, value] : changed_) {
    if (index == i) {
      value = stored;
      return 0;
    }
  }
  changed_.emplace_back(static_cast<uint16_t>(i), stored);
  return 0;
}

int SocketOptions::Get(int level, int name, int* reported) const {
  const int i = Index(level, name);
  if (i < 0) {
    // Linux's ip_getsockopt answers every level it does not know with
    // EOPNOTSUPP; ipv6_getsockopt, and every setsockopt, with ENOPROTOOPT.
    const int own = protocol_ == Protocol::kTcp ? IPPROTO_TCP : IPPROTO_UDP;
    const bool known_level = level == SOL_SOCKET || level == IPPROTO_IP || level == own;
    return family_ == AF_INET && !known_level ? EOPNOTSUPP : ENOPROTOOPT;
  }
  return kRules[i].get(value(level, name), protocol_, reported);
}

void SocketOptions::SetLinger(bool on, int seconds) {
  linger_on_ = on;
  if (on) linger_seconds_ = seconds;
}

bool SocketOptions::IsSet(int level, int name) const {
  const int i = Index(level, name);
  for (const auto& entry : changed_) {
    if (entry.first == i) return true;
  }
  return false;
}

int SocketOptions::value(int level, int name) const {
  const int i = Index(level, name);
  if (i < 0) std::abort();
  for (const auto& [index, value] : changed_) {
    if (index == i) return value;
  }
  return kRules[i].initial;
}

}  // namespace stackd
