#include "stackd/sockets/options/socket_options.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <climits>

#include "gtest/gtest.h"

namespace stackd {
namespace {

int Get(const SocketOptions& o, int level, int name) {
  int v = -12345;
  EXPECT_EQ(o.Get(level, name, &v), 0) << level << "/" << name;
  return v;
}

TEST(SocketOptionsTest, BooleansAreNormalised) {
  SocketOptions o(Protocol::kTcp, AF_INET);
  EXPECT_EQ(Get(o, SOL_SOCKET, SO_KEEPALIVE), 0);
  EXPECT_EQ(o.Set(SOL_SOCKET, SO_KEEPALIVE, 300), 0);
  EXPECT_EQ(Get(o, SOL_SOCKET, SO_KEEPALIVE), 1);
  EXPECT_TRUE(o.flag(SOL_SOCKET, SO_KEEPALIVE));
  EXPECT_EQ(o.Set(SOL_SOCKET, SO_KEEPALIVE, 0), 0);
  EXPECT_FALSE(o.flag(SOL_SOCKET, SO_KEEPALIVE));
}

TEST(SocketOptionsTest, BuffersAreDoubledAndClamped) {
  SocketOptions o(Protocol::kTcp, AF_INET);
  EXPECT_EQ(Get(o, SOL_SOCKET, SO_SNDBUF), HostBuffers().tcp_wmem_default);
  ASSERT_EQ(o.Set(SOL_SOCKET, SO_SNDBUF, 1), 0);
  EXPECT_EQ(Get(o, SOL_SOCKET, SO_SNDBUF), 4608);
  ASSERT_EQ(o.Set(SOL_SOCKET, SO_SNDBUF, 10000), 0);
  EXPECT_EQ(Get(o, SOL_SOCKET, SO_SNDBUF), 20000);
  ASSERT_EQ(o.Set(SOL_SOCKET, SO_SNDBUF, -1), 0);  // unsigned: the maximum
  EXPECT_EQ(Get(o, SOL_SOCKET, SO_SNDBUF), 2 * HostBuffers().wmem_max);
  ASSERT_EQ(o.Set(SOL_SOCKET, SO_RCVBUF, 0), 0);
  EXPECT_EQ(Get(o, SOL_SOCKET, SO_RCVBUF), 2304);
  SocketOptions udp(Protocol::kUdp, AF_INET);
  EXPECT_EQ(Get(udp, SOL_SOCKET, SO_RCVBUF), HostBuffers().rmem_default);
}

TEST(SocketOptionsTest, TcpRangesAsLinux) {
  SocketOptions o(Protocol::kTcp, AF_INET6);
  EXPECT_EQ(o.Set(IPPROTO_TCP, TCP_KEEPIDLE, 0), EINVAL);
  EXPECT_EQ(o.Set(IPPROTO_TCP, TCP_KEEPIDLE, 32768), EINVAL);
  EXPECT_EQ(Get(o, IPPROTO_TCP, TCP_KEEPIDLE), 7200);
  EXPECT_EQ(o.Set(IPPROTO_TCP, TCP_KEEPCNT, 128), EINVAL);
  EXPECT_EQ(o.Set(IPPROTO_TCP, TCP_MAXSEG, 87), EINVAL);
  EXPECT_EQ(Get(o, IPPROTO_TCP, TCP_MAXSEG), 536);
  EXPECT_EQ(o.Set(IPPROTO_TCP, TCP_MAXSEG, 1200), 0);
  EXPECT_EQ(Get(o, IPPROTO_TCP, TCP_MAXSEG), 1200);
  EXPECT_EQ(o.Set(IPPROTO_TCP, TCP_USER_TIMEOUT, -1), EINVAL);
}

TEST(SocketOptionsTest, Linger2AndDeferAccept) {
  SocketOptions o(Protocol::kTcp, AF_INET);
  EXPECT_EQ(Get(o, IPPROTO_TCP, TCP_LINGER2), 60);
  o.Set(IPPROTO_TCP, TCP_LINGER2, 300);
  EXPECT_EQ(Get(o, IPPROTO_TCP, TCP_LINGER2), 120);
  o.Set(IPPROTO_TCP, TCP_LINGER2, -5);
  EXPECT_EQ(Get(o, IPPROTO_TCP, TCP_LINGER2), -1);
  // Rounded up to the SYN-ACK retransmission schedule 1+2+4+...+120.
  o.Set(IPPROTO_TCP, TCP_DEFER_ACCEPT, 300);
  EXPECT_EQ(Get(o, IPPROTO_TCP, TCP_DEFER_ACCEPT), 367);
  o.Set(IPPROTO_TCP, TCP_DEFER_ACCEPT, 1);
  EXPECT_EQ(Get(o, IPPROTO_TCP, TCP_DEFER_ACCEPT), 1);
  o.Set(IPPROTO_TCP, TCP_DEFER_ACCEPT, 100000);
  EXPECT_EQ(Get(o, IPPROTO_TCP, TCP_DEFER_ACCEPT), 29887);
}

TEST(SocketOptionsTest, IpLevel) {
  SocketOptions tcp(Protocol::kTcp, AF_INET);
  EXPECT_EQ(Get(tcp, IPPROTO_IP, IP_TTL), 64);
  EXPECT_EQ(tcp.Set(IPPROTO_IP, IP_TTL, 0), EINVAL);
  EXPECT_EQ(tcp.Set(IPPROTO_IP, IP_TTL, 256), EINVAL);
  EXPECT_EQ(tcp.Set(IPPROTO_IP, IP_TOS, -1), 0);
  EXPECT_EQ(Get(tcp, IPPROTO_IP, IP_TOS), 252);  // ECN bits are the stack's
  EXPECT_EQ(tcp.Set(IPPROTO_IP, IP_MULTICAST_TTL, 3), EINVAL);
  EXPECT_EQ(tcp.Set(IPPROTO_IP, IP_MTU_DISCOVER, 6), EINVAL);
  EXPECT_EQ(Get(tcp, IPPROTO_IP, IP_MTU_DISCOVER), 1);
}

TEST(SocketOptionsTest, Ipv6LevelNeedsAnIpv6Socket) {
  SocketOptions v4(Protocol::kUdp, AF_INET);
  int v;
  // As ip_getsockopt: a level an AF_INET socket does not know.
  EXPECT_EQ(v4.Get(IPPROTO_IPV6, IPV6_UNICAST_HOPS, &v), EOPNOTSUPP);
  EXPECT_EQ(v4.Set(IPPROTO_IPV6, IPV6_UNICAST_HOPS, 3), ENOPROTOOPT);
  SocketOptions v6(Protocol::kUdp, AF_INET6);
  EXPECT_EQ(v6.Set(IPPROTO_IPV6, IPV6_UNICAST_HOPS, 3), 0);
  EXPECT_EQ(Get(v6, IPPROTO_IPV6, IPV6_UNICAST_HOPS), 3);
  EXPECT_EQ(v6.Set(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 2), EINVAL);
}

TEST(SocketOptionsTest, UnknownAndForeignOptions) {
  SocketOptions udp(Protocol::kUdp, AF_INET);
  int v;
  // As ip_getsockopt and ipv6_getsockopt: a level the protocol does not
  // know.
  EXPECT_EQ(udp.Get(IPPROTO_TCP, TCP_NODELAY, &v), EOPNOTSUPP);
  SocketOptions udp6(Protocol::kUdp, AF_INET6);
  EXPECT_EQ(udp6.Get(IPPROTO_TCP, TCP_NODELAY, &v), ENOPROTOOPT);
  EXPECT_EQ(udp.Set(SOL_SOCKET, 999, 1), ENOPROTOOPT);
  EXPECT_EQ(udp.Set(SOL_SOCKET, SO_SNDLOWAT, 1), ENOPROTOOPT);
  EXPECT_EQ(Get(udp, SOL_SOCKET, SO_SNDLOWAT), 1);
  EXPECT_EQ(udp.Get(SOL_SOCKET, SO_PASSCRED, &v), EOPNOTSUPP);
}

TEST(SocketOptionsTest, AcceptedSocketsInherit) {
  SocketOptions listener(Protocol::kTcp, AF_INET);
  listener.Set(IPPROTO_TCP, TCP_NODELAY, 1);
  listener.Set(IPPROTO_TCP, TCP_USER_TIMEOUT, 1234);
  SocketOptions accepted(Protocol::kTcp, AF_INET);
  accepted.InheritFrom(listener);
  EXPECT_TRUE(accepted.flag(IPPROTO_TCP, TCP_NODELAY));
  EXPECT_EQ(accepted.value(IPPROTO_TCP, TCP_USER_TIMEOUT), 1234);
}

}  // namespace
}  // namespace stackd
