#include "client/datagram_header.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace stackd::client {
namespace {

sockaddr_in Ipv4(const char* ip, uint16_t port) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET, ip, &in.sin_addr), 1);
  return in;
}

sockaddr_in6 Ipv6(const char* ip, uint16_t port, uint32_t scope = 0) {
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  in6.sin6_scope_id = scope;
  EXPECT_EQ(inet_pton(AF_INET6, ip, &in6.sin6_addr), 1);
  return in6;
}

const sockaddr* Sa(const void* p) { return static_cast<const sockaddr*>(p); }

TEST(DatagramHeaderTest, EncodesTheDocumentedLayout) {
  DatagramHeader h;
  h.flags = kDatagramFlagPktInfo;
  h.family = AF_INET6;
  h.local_family = AF_INET;
  h.port = 0x1234;
  h.error = 0x0102;
  h.scope_id = 0x0a0b0c0d;
  h.ifindex = 7;
  for (int i = 0; i < 16; ++i) h.peer[i] = static_cast<uint8_t>(0x40 + i);
  for (int i = 0; i < 4; ++i) h.local[i] = static_cast<uint8_t>(0x80 + i);
  uint8_t out[kDatagramHeaderBytes];
  std::memset(out, 0xee, sizeof(out));
  EncodeDatagramHeader(h, out);
  EXPECT_EQ(out[0], 2);
  EXPECT_EQ(out[1], kDatagramFlagPktInfo);
  EXPECT_EQ(out[2], AF_INET6);
  EXPECT_EQ(out[3], AF_INET);
  EXPECT_EQ(out[4], 0x12);  // Network order.
  EXPECT_EQ(out[5], 0x34);
  EXPECT_EQ(out[6], 0x01);
  EXPECT_EQ(out[7], 0x02);
  EXPECT_EQ(out[8], 0x0a);
  EXPECT_EQ(out[11], 0x0d);
  EXPECT_EQ(out[12], 0);
  EXPECT_EQ(out[15], 7);
  EXPECT_EQ(out[16], 0x40);
  EXPECT_EQ(out[31], 0x4f);
  EXPECT_EQ(out[32], 0x80);
  EXPECT_EQ(out[35], 0x83);
  EXPECT_EQ(out[36], 0);  // The rest of an IPv4 field is zero.
  EXPECT_EQ(out[47], 0);
  EXPECT_EQ(out[48], 0);
  EXPECT_EQ(out[63], 0);
}

TEST(DatagramHeaderTest, EncodesTheReceiveFields) {
  DatagramHeader h;
  h.more_flags = kDatagramMoreOrigDst;
  h.ttl = 64;
  h.tos = 0x28;
  h.local_port = 0xabcd;
  h.time_ns = 0x0102030405060708ULL;
  uint8_t out[kDatagramHeaderBytes];
  EncodeDatagramHeader(h, out);
  EXPECT_EQ(out[48], kDatagramMoreOrigDst);
  EXPECT_EQ(out[49], 64);
  EXPECT_EQ(out[50], 0x28);
  EXPECT_EQ(out[52], 0xab);
  EXPECT_EQ(out[53], 0xcd);
  EXPECT_EQ(out[56], 0x01);
  EXPECT_EQ(out[63], 0x08);
  DatagramHeader back;
  ASSERT_TRUE(DecodeDatagramHeader(out, sizeof(out), &back));
  EXPECT_EQ(back.time_ns, h.time_ns);
  EXPECT_EQ(back.local_port, 0xabcd);
}

TEST(DatagramHeaderTest, ControlMessagesInLinuxOrder) {
  DatagramHeader h;
  h.flags = kDatagramFlagTimestamp | kDatagramFlagPktInfo | kDatagramFlagTtl |
            kDatagramFlagTos;
  h.local_family = AF_INET;
  h.local[0] = 10;
  h.ttl = 63;
  h.tos = 0x10;
  h.time_ns = 1500000000123456789ULL;
  alignas(cmsghdr) uint8_t control[256];
  bool truncated = true;
  const size_t used = DatagramControl(h, control, sizeof(control), &truncated);
  EXPECT_FALSE(truncated);
  msghdr m{};
  m.msg_control = control;
  m.msg_controllen = used;
  std::vector<std::pair<int, int>> seen;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
    seen.emplace_back(c->cmsg_level, c->cmsg_type);
    if (c->cmsg_type == IP_TTL && c->cmsg_level == IPPROTO_IP) {
      int ttl;
      std::memcpy(&ttl, CMSG_DATA(c), sizeof(ttl));
      EXPECT_EQ(ttl, 63);
    }
    if (c->cmsg_type == IP_TOS && c->cmsg_level == IPPROTO_IP) {
      EXPECT_EQ(c->cmsg_len, CMSG_LEN(1));
    }
    if (c->cmsg_type == SCM_TIMESTAMP && c->cmsg_level == SOL_SOCKET) {
      timeval tv;
      std::memcpy(&tv, CMSG_DATA(c), sizeof(tv));
      EXPECT_EQ(tv.tv_sec, 1500000000);
      EXPECT_EQ(tv.tv_usec, 123456);
    }
  }
  const std::vector<std::pair<int, int>> want = {{SOL_SOCKET, SCM_TIMESTAMP},
                                                 {IPPROTO_IP, IP_PKTINFO},
                                                 {IPPROTO_IP, IP_TTL},
                                                 {IPPROTO_IP, IP_TOS}};
  EXPECT_EQ(seen, want);
}

TEST(DatagramHeaderTest, RoundTrips) {
  DatagramHeader h;
  h.flags = kDatagramFlagPktInfo6;
  h.family = AF_INET;
  h.local_family = AF_INET6;
  h.port = 65535;
  h.scope_id = 3;
  h.ifindex = 0xfffffffe;
  h.peer[0] = 10;
  h.local[15] = 1;
  uint8_t bytes[kDatagramHeaderBytes];
  EncodeDatagramHeader(h, bytes);
  DatagramHeader back;
  ASSERT_TRUE(DecodeDatagramHeader(bytes, sizeof(bytes), &back));
  EXPECT_EQ(back.flags, h.flags);
  EXPECT_EQ(back.family, h.family);
  EXPECT_EQ(back.local_family, h.local_family);
  EXPECT_EQ(back.port, h.port);
  EXPECT_EQ(back.scope_id, h.scope_id);
  EXPECT_EQ(back.ifindex, h.ifindex);
  EXPECT_EQ(std::memcmp(back.peer, h.peer, 16), 0);
  EXPECT_EQ(std::memcmp(back.local, h.local, 16), 0);
}

TEST(DatagramHeaderTest, RefusesWhatIsNotAHeader) {
  DatagramHeader h;
  h.family = AF_INET;
  uint8_t bytes[kDatagramHeaderBytes];
  EncodeDatagramHeader(h, bytes);
  DatagramHeader out;
  EXPECT_FALSE(DecodeDatagramHeader(bytes, kDatagramHeaderBytes - 1, &out));
  EXPECT_FALSE(DecodeDatagramHeader(nullptr, 0, &out));
  bytes[0] = 1;  // Another version.
  EXPECT_FALSE(DecodeDatagramHeader(bytes, sizeof(bytes), &out));
  bytes[0] = 2;
  bytes[2] = AF_UNIX;  // No such peer family.
  EXPECT_FALSE(DecodeDatagramHeader(bytes, sizeof(bytes), &out));
  bytes[2] = AF_INET;
  bytes[3] = 99;
  EXPECT_FALSE(DecodeDatagramHeader(bytes, sizeof(bytes), &out));
  bytes[3] = 0;
  EXPECT_TRUE(DecodeDatagramHeader(bytes, sizeof(bytes), &out));
}

TEST(DatagramHeaderTest, Ipv4DestinationOnBothFamilies) {
  const sockaddr_in to = Ipv4("10.42.0.1", 53);
  DatagramHeader h4;
  ASSERT_EQ(SetDatagramDestination(Sa(&to), sizeof(to), AF_INET, &h4), 0);
  EXPECT_EQ(h4.family, AF_INET);
  EXPECT_EQ(h4.port, 53);
  EXPECT_EQ(std::memcmp(h4.peer, &to.sin_addr, 4), 0);
  EXPECT_EQ(MaxDatagramPayload(h4), kMaxUdpPayload4);

  // On an AF_INET6 socket an AF_INET address travels IPv4-mapped, with
  // IPv4's limit.
  DatagramHeader h6;
  ASSERT_EQ(SetDatagramDestination(Sa(&to), sizeof(to), AF_INET6, &h6), 0);
  EXPECT_EQ(h6.family, AF_INET6);
  EXPECT_EQ(h6.peer[10], 0xff);
  EXPECT_EQ(h6.peer[11], 0xff);
  EXPECT_EQ(std::memcmp(h6.peer + 12, &to.sin_addr, 4), 0);
  EXPECT_EQ(MaxDatagramPayload(h6), kMaxUdpPayload4);
}

TEST(DatagramHeaderTest, Ipv6Destination) {
  const sockaddr_in6 to = Ipv6("fe80::1", 5353, 4);
  DatagramHeader h;
  ASSERT_EQ(SetDatagramDestination(Sa(&to), sizeof(to), AF_INET6, &h), 0);
  EXPECT_EQ(h.family, AF_INET6);
  EXPECT_EQ(h.port, 5353);
  EXPECT_EQ(h.scope_id, 4u);
  EXPECT_EQ(MaxDatagramPayload(h), kMaxUdpPayload6);
  // RFC 2133's shorter sockaddr_in6 has no scope id.
  DatagramHeader short_form;
  ASSERT_EQ(SetDatagramDestination(Sa(&to), 24, AF_INET6, &short_form), 0);
  EXPECT_EQ(short_form.scope_id, 0u);
}

TEST(DatagramHeaderTest, DestinationErrorsAsLinux) {
  const sockaddr_in to4 = Ipv4("10.42.0.1", 53);
  const sockaddr_in6 to6 = Ipv6("fd42::1", 53);
  DatagramHeader h;
  EXPECT_EQ(SetDatagramDestination(Sa(&to6), sizeof(to6), AF_INET, &h), EAFNOSUPPORT);
  EXPECT_EQ(SetDatagramDestination(Sa(&to4), sizeof(to4) - 1, AF_INET, &h), EINVAL);
  EXPECT_EQ(SetDatagramDestination(Sa(&to6), 23, AF_INET6, &h), EINVAL);
  EXPECT_EQ(SetDatagramDestination(Sa(&to4), 1, AF_INET, &h), EINVAL);
  const sockaddr_in port0 = Ipv4("10.42.0.1", 0);
  EXPECT_EQ(SetDatagramDestination(Sa(&port0), sizeof(port0), AF_INET, &h), EINVAL);
  // A ping socket's destination has no port.
  EXPECT_EQ(SetDatagramDestination(Sa(&port0), sizeof(port0), AF_INET, &h, /*any_port=*/true), 0);
  sockaddr_in unix_family = to4;
  unix_family.sin_family = AF_UNIX;
  EXPECT_EQ(SetDatagramDestination(Sa(&unix_family), sizeof(unix_family), AF_INET, &h),
            EAFNOSUPPORT);
  EXPECT_EQ(SetDatagramDestination(Sa(&unix_family), sizeof(unix_family), AF_INET6, &h),
            EINVAL);
  // AF_UNSPEC: an AF_INET socket reads it as AF_INET; an AF_INET6 socket
  // as "no address".
  sockaddr_in unspec = to4;
  unspec.sin_family = AF_UNSPEC;
  DatagramHeader as4;
  EXPECT_EQ(SetDatagramDestination(Sa(&unspec), sizeof(unspec), AF_INET, &as4), 0);
  EXPECT_EQ(as4.family, AF_INET);
  DatagramHeader none;
  EXPECT_EQ(SetDatagramDestination(Sa(&unspec), sizeof(unspec), AF_INET6, &none), 0);
  EXPECT_EQ(none.family, 0);
}

TEST(DatagramHeaderTest, PeerAsSocketAddress) {
  DatagramHeader h;
  const sockaddr_in6 from = Ipv6("fe80::2", 9, 5);
  ASSERT_EQ(SetDatagramDestination(Sa(&from), sizeof(from), AF_INET6, &h), 0);
  sockaddr_storage out;
  ASSERT_EQ(DatagramPeer(h, &out), sizeof(sockaddr_in6));
  EXPECT_EQ(std::memcmp(&out, &from, sizeof(from)), 0);

  DatagramHeader h4;
  const sockaddr_in from4 = Ipv4("10.42.0.1", 7);
  ASSERT_EQ(SetDatagramDestination(Sa(&from4), sizeof(from4), AF_INET, &h4), 0);
  ASSERT_EQ(DatagramPeer(h4, &out), sizeof(sockaddr_in));
  EXPECT_EQ(std::memcmp(&out, &from4, sizeof(from4)), 0);

  DatagramHeader empty;
  EXPECT_EQ(DatagramPeer(empty, &out), 0u);
}

TEST(DatagramHeaderTest, PktInfoControlMessages) {
  DatagramHeader h;
  h.flags = kDatagramFlagPktInfo | kDatagramFlagPktInfo6;
  h.local_family = AF_INET6;  // An IPv4 datagram on an AF_INET6 socket.
  h.local[10] = h.local[11] = 0xff;
  h.local[12] = 10;
  h.local[13] = 42;
  h.local[15] = 2;
  h.ifindex = 3;
  alignas(cmsghdr) uint8_t control[256];
  bool truncated = true;
  const size_t used = DatagramControl(h, control, sizeof(control), &truncated);
  EXPECT_FALSE(truncated);
  msghdr msg{};
  msg.msg_control = control;
  msg.msg_controllen = used;
  // As Linux's udpv6_recvmsg: IPV6_PKTINFO first, then the IPv4 messages.
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->cmsg_level, IPPROTO_IPV6);
  EXPECT_EQ(c->cmsg_type, IPV6_PKTINFO);
  in6_pktinfo info6;
  std::memcpy(&info6, CMSG_DATA(c), sizeof(info6));
  EXPECT_EQ(info6.ipi6_ifindex, 3u);
  char text[INET6_ADDRSTRLEN];
  EXPECT_STREQ(inet_ntop(AF_INET6, &info6.ipi6_addr, text, sizeof(text)),
               "::ffff:10.42.0.2");
  c = CMSG_NXTHDR(&msg, c);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->cmsg_level, IPPROTO_IP);
  EXPECT_EQ(c->cmsg_type, IP_PKTINFO);
  in_pktinfo info;
  std::memcpy(&info, CMSG_DATA(c), sizeof(info));
  EXPECT_EQ(info.ipi_ifindex, 3);
  EXPECT_STREQ(inet_ntop(AF_INET, &info.ipi_addr, text, sizeof(text)), "10.42.0.2");
  EXPECT_EQ(CMSG_NXTHDR(&msg, c), nullptr);

  // Too little room: what fits, and MSG_CTRUNC.
  const size_t first = DatagramControl(h, control, CMSG_SPACE(sizeof(in6_pktinfo)), &truncated);
  EXPECT_TRUE(truncated);
  EXPECT_EQ(first, CMSG_SPACE(sizeof(in6_pktinfo)));
  EXPECT_EQ(DatagramControl(h, nullptr, 0, &truncated), 0u);
  EXPECT_TRUE(truncated);
  // Nothing asked for: nothing written.
  DatagramHeader plain;
  plain.local_family = AF_INET;
  EXPECT_EQ(DatagramControl(plain, control, sizeof(control), &truncated), 0u);
  EXPECT_FALSE(truncated);
}

TEST(DatagramHeaderTest, Mark) {
  DatagramMark m;
  EXPECT_FALSE(ParseDatagramMark(1, &m));  // The kernel's default.
  EXPECT_FALSE(ParseDatagramMark(0x7fffffff, &m));
  EXPECT_FALSE(ParseDatagramMark(kDatagramMarkBase | 0x40000, &m));
  ASSERT_TRUE(ParseDatagramMark(kDatagramMarkBase, &m));
  EXPECT_EQ(m.domain, AF_INET);
  EXPECT_EQ(m.connected_limit, 0u);
  EXPECT_FALSE(m.ping);
  ASSERT_TRUE(ParseDatagramMark(kDatagramMarkBase | kDatagramMarkPing, &m));
  EXPECT_TRUE(m.ping) << "an ICMP echo socket";
  ASSERT_TRUE(ParseDatagramMark(kDatagramMarkBase | kDatagramMarkInet6 |
                                    static_cast<int>(kMaxUdpPayload6),
                                &m));
  EXPECT_EQ(m.domain, AF_INET6);
  EXPECT_EQ(m.connected_limit, kMaxUdpPayload6);
}

}  // namespace
}  // namespace stackd::client
