// Socket options as Linux keeps them, for every protocol stackd serves.
//
// One table (socket_options.cc) says, for each integer option a stack
// socket takes: its level and name, which sockets have it (TCP, UDP, IPv6
// only), how setsockopt(2) checks and normalises a value, what
// getsockopt(2) then reports, and the value of a fresh socket, each as
// Linux 6.1 does it (socket(7), tcp(7), udp(7), ip(7), ipv6(7); the
// differential harness in tests/differential compares). SocketOptions holds
// one socket's values. TcpSocket and UdpSocket ask it first and then tell
// lwIP what an option changes; options whose value lives elsewhere (SO_ERROR,
// SO_ACCEPTCONN, a connected socket's TCP_MAXSEG and IP_MTU, memberships)
// stay with the socket.
//
// What the options do. Every option here is checked, kept and read back
// as Linux does; these also act:
//   TCP: SO_REUSEADDR, SO_REUSEPORT (tcp_reuseport.h), SO_KEEPALIVE,
//        SO_LINGER, TCP_NODELAY, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT,
//        TCP_SYNCNT, IP_TTL, IPV6_UNICAST_HOPS, IP_TOS, IPV6_TCLASS,
//        IP_FREEBIND, IPV6_FREEBIND, TCP_CORK, TCP_DEFER_ACCEPT,
//        TCP_USER_TIMEOUT, SO_OOBINLINE (received urgent data; accepted
//        sockets inherit them all, as on Linux)
//   UDP: SO_REUSEADDR, SO_REUSEPORT, SO_BROADCAST, SO_RCVBUF, SO_TIMESTAMP,
//        SO_TIMESTAMPNS, IP_TTL, IP_TOS, IP_PKTINFO, IP_RECVTTL, IP_RECVTOS,
//        IP_RECVORIGDSTADDR, IP_MULTICAST_TTL, IP_MULTICAST_LOOP,
//        IP_FREEBIND and their IPv6 counterparts
// These are kept but do nothing yet (lwIP has no such mechanism, or stackd
// does not drive it): SO_DONTROUTE,
// SO_PRIORITY, SO_MARK, SO_RCVLOWAT, SO_SNDBUF and SO_RCVBUF on TCP
// (lwIP's buffers are fixed), TCP_QUICKACK, TCP_MAXSEG, TCP_LINGER2,
// TCP_WINDOW_CLAMP, TCP_NOTSENT_LOWAT, IP_MTU_DISCOVER and
// IPV6_MTU_DISCOVER (path MTU discovery is always on, as Linux's default
// IP_PMTUDISC_WANT: DONT and DO change nothing), IP_RECVERR and
// IPV6_RECVERR on TCP (UDP's error queue works), IP_BIND_ADDRESS_NO_PORT,
// IPV6_MTU.
#ifndef STACKD_SOCKETS_OPTIONS_SOCKET_OPTIONS_H_
#define STACKD_SOCKETS_OPTIONS_SOCKET_OPTIONS_H_

#include <cstdint>
#include <utility>
#include <vector>

namespace stackd {

enum class Protocol { kTcp, kUdp };

class SocketOptions {
 public:
  // `family`: AF_INET or AF_INET6 (IPPROTO_IPV6 options need AF_INET6).
  SocketOptions(Protocol protocol, int family);

  // Whether the table has (level, name) for this socket at all.
  bool Has(int level, int name) const;

  // setsockopt(level, name) with an int value (the library has read it
  // from the caller's buffer with Linux's length rules). 0: stored,
  // normalised; otherwise Linux's errno (EINVAL out of range, ENOPROTOOPT
  // for a read-only or unknown option, EOPNOTSUPP, EPERM).
  int Set(int level, int name, int value);

  // getsockopt(level, name): what Linux reports. ENOPROTOOPT if unknown.
  int Get(int level, int name, int* value) const;

  // The stored value, for the socket to act on (the table's normalised
  // form, e.g. SO_SNDBUF doubled; seconds for TCP_KEEPIDLE). Aborts on an
  // option the table does not have: a programming error.
  int value(int level, int name) const;
  bool flag(int level, int name) const { return value(level, name) != 0; }
  // Whether the application has set it (successfully) on this socket.
  bool IsSet(int level, int name) const;

  // SO_LINGER as Linux keeps it: turning it off keeps the old time.
  void SetLinger(bool on, int seconds);
  bool linger_on() const { return linger_on_; }
  int linger_seconds() const { return linger_seconds_; }

  // Copies every value from `other` (an accepted socket inherits its
  // listener's options, as Linux clones them).
  void InheritFrom(const SocketOptions& other) {
    changed_ = other.changed_;
    linger_on_ = other.linger_on_;
    linger_seconds_ = other.linger_seconds_;
  }

 private:
  int Index(int level, int name) const;  // into the table, or -1

  Protocol protocol_;
  int family_;
  // The options set on this socket (table index, stored value); every
  // other option has the table's initial value. Most sockets set few.
  std::vector<std::pair<uint16_t, int>> changed_;
  bool linger_on_ = false;
  int linger_seconds_ = 0;
};

// Host values Linux's defaults come from (/proc/sys/net/...), read once.
struct SystemBuffers {
  int wmem_default, wmem_max, rmem_default, rmem_max;
  int tcp_wmem_default, tcp_rmem_default, tcp_rmem_max;
};
const SystemBuffers& HostBuffers();

}  // namespace stackd

#endif  // STACKD_SOCKETS_OPTIONS_SOCKET_OPTIONS_H_
