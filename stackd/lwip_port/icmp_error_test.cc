#include "stackd/lwip_port/icmp_error.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <vector>

#include "lwip/ip_addr.h"

namespace stackd {
namespace {

using Bytes = std::vector<uint8_t>;

void Put16(Bytes& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}

// RFC 1071, written out here so that the parser's own arithmetic is not
// what checks it.
uint16_t Checksum(const Bytes& b, size_t from, size_t to, uint32_t sum = 0) {
  for (size_t i = from; i < to; i += 2) {
    sum += static_cast<uint32_t>(b[i] << 8) | (i + 1 < to ? b[i + 1] : 0);
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// The first 8 bytes of a TCP header: ports 40000 -> 80, sequence number.
Bytes Transport(uint16_t sport, uint16_t dport, uint32_t seq) {
  return {static_cast<uint8_t>(sport >> 8), static_cast<uint8_t>(sport),
          static_cast<uint8_t>(dport >> 8), static_cast<uint8_t>(dport),
          static_cast<uint8_t>(seq >> 24),  static_cast<uint8_t>(seq >> 16),
          static_cast<uint8_t>(seq >> 8),   static_cast<uint8_t>(seq)};
}

Bytes Ip4Header(uint8_t proto, const uint8_t src[4], const uint8_t dst[4], size_t total) {
  Bytes h(20, 0);
  h[0] = 0x45;
  Put16(h, 2, static_cast<uint16_t>(total));
  h[8] = 64;
  h[9] = proto;
  std::copy(src, src + 4, h.begin() + 12);
  std::copy(dst, dst + 4, h.begin() + 16);
  Put16(h, 10, Checksum(h, 0, 20));
  return h;
}

const uint8_t kRouter4[4] = {10, 42, 0, 9};
const uint8_t kStack4[4] = {10, 42, 0, 2};
const uint8_t kPeer4[4] = {10, 99, 0, 1};

// An ICMP error from the router about a TCP segment the stack sent.
Bytes Icmp4(uint8_t type, uint8_t code, uint16_t mtu, uint8_t inner_proto = 6) {
  const Bytes t = Transport(40000, 80, 0x01020304);
  Bytes inner = Ip4Header(inner_proto, kStack4, kPeer4, 20 + 1400);
  inner.insert(inner.end(), t.begin(), t.end());
  Bytes icmp = {type, code, 0, 0, 0, 0, 0, 0};
  Put16(icmp, 6, mtu);
  icmp.insert(icmp.end(), inner.begin(), inner.end());
  Put16(icmp, 2, Checksum(icmp, 0, icmp.size()));
  Bytes m = Ip4Header(1, kRouter4, kStack4, 20 + icmp.size());
  m.insert(m.end(), icmp.begin(), icmp.end());
  return m;
}

Bytes Ip6Header(uint8_t next, uint8_t src_last, uint8_t dst_last, size_t payload) {
  Bytes h(40, 0);
  h[0] = 0x60;
  Put16(h, 4, static_cast<uint16_t>(payload));
  h[6] = next;
  h[7] = 64;
  h[8] = 0xfd;
  h[23] = src_last;
  h[24] = 0xfd;
  h[39] = dst_last;
  return h;
}

Bytes Icmp6(uint8_t type, uint8_t code, uint32_t info) {
  const Bytes t = Transport(40000, 80, 0x01020304);
  Bytes inner = Ip6Header(6, 2, 1, 1400);  // stack ::2 -> peer ::1
  inner.insert(inner.end(), t.begin(), t.end());
  Bytes icmp = {type, code, 0, 0, static_cast<uint8_t>(info >> 24),
                static_cast<uint8_t>(info >> 16), static_cast<uint8_t>(info >> 8),
                static_cast<uint8_t>(info)};
  icmp.insert(icmp.end(), inner.begin(), inner.end());
  Bytes m = Ip6Header(58, 9, 2, icmp.size());  // router ::9 -> stack ::2
  // Pseudo-header: addresses, upper-layer length, next header.
  uint32_t sum = 0;
  for (size_t i = 8; i < 40; i += 2) sum += static_cast<uint32_t>(m[i] << 8) | m[i + 1];
  sum += static_cast<uint32_t>(icmp.size()) + 58;
  Put16(icmp, 2, Checksum(icmp, 0, icmp.size(), sum));
  m.insert(m.end(), icmp.begin(), icmp.end());
  return m;
}

// A host unreachable from the router about an ICMP message of `type` (an
// echo request: 8) that the stack sent with identifier 0x1234.
Bytes Icmp4AboutIcmp(uint8_t type) {
  const Bytes quoted = {type, 0, 0, 0, 0x12, 0x34, 0, 7};
  Bytes inner = Ip4Header(1, kStack4, kPeer4, 20 + 64);
  inner.insert(inner.end(), quoted.begin(), quoted.end());
  Bytes icmp = {3, 1, 0, 0, 0, 0, 0, 0};
  icmp.insert(icmp.end(), inner.begin(), inner.end());
  Put16(icmp, 2, Checksum(icmp, 0, icmp.size()));
  Bytes m = Ip4Header(1, kRouter4, kStack4, 20 + icmp.size());
  m.insert(m.end(), icmp.begin(), icmp.end());
  return m;
}

// A ping socket's echo request quoted: its identifier is the "port".
TEST(IcmpErrorTest, AnErrorAboutAnEchoRequestNamesItsIdentifier) {
  const Bytes m = Icmp4AboutIcmp(8);
  std::optional<IcmpError> e = ParseIcmpError(m.data(), m.size());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->protocol, 1);
  EXPECT_EQ(e->local_port, 0x1234);
  EXPECT_EQ(e->remote_port, 0);
  EXPECT_EQ(e->transport_at, 20u + 8u + 20u) << "the quoted echo request";
  // About any other ICMP message (an echo reply, an error): nobody's.
  for (uint8_t other : {0, 3, 11}) {
    const Bytes n = Icmp4AboutIcmp(other);
    EXPECT_FALSE(ParseIcmpError(n.data(), n.size()).has_value()) << int(other);
  }
}

TEST(IcmpErrorTest, FragmentationNeededNamesTheConnectionAndTheMtu) {
  const Bytes m = Icmp4(3, 4, 1280);
  auto e = ParseIcmpError(m.data(), m.size());
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->v4);
  EXPECT_EQ(e->protocol, 6);
  EXPECT_EQ(e->local_port, 40000);
  EXPECT_EQ(e->remote_port, 80);
  EXPECT_EQ(e->transport_word, 0x01020304u);
  EXPECT_EQ(e->PathMtu(), 1280u);
  ip_addr_t stack, peer, router;
  IP_ADDR4(&stack, 10, 42, 0, 2);
  IP_ADDR4(&peer, 10, 99, 0, 1);
  IP_ADDR4(&router, 10, 42, 0, 9);
  EXPECT_TRUE(SameAddress(e->local, stack));
  EXPECT_TRUE(SameAddress(e->remote, peer));
  EXPECT_TRUE(SameAddress(e->offender, router));
  EXPECT_FALSE(SameAddress(e->local, peer));
  EXPECT_EQ(e->transport_at, 48u);
  EXPECT_EQ(e->length, m.size());
}

TEST(IcmpErrorTest, OtherErrorsParseWithoutAPathMtu) {
  for (auto [type, code] : {std::pair{3, 3}, {3, 1}, {11, 0}, {12, 0}}) {
    const Bytes m = Icmp4(static_cast<uint8_t>(type), static_cast<uint8_t>(code), 0);
    auto e = ParseIcmpError(m.data(), m.size());
    ASSERT_TRUE(e.has_value()) << type << "/" << code;
    EXPECT_EQ(e->type, type);
    EXPECT_EQ(e->code, code);
    EXPECT_FALSE(e->PathMtu().has_value());
  }
  // "Fragmentation needed" from a router that predates RFC 1191: MTU 0.
  const Bytes old = Icmp4(3, 4, 0);
  auto e = ParseIcmpError(old.data(), old.size());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->PathMtu(), 0u);
}

TEST(IcmpErrorTest, PacketTooBigNamesTheConnectionAndTheMtu) {
  const Bytes m = Icmp6(2, 0, 1280);
  auto e = ParseIcmpError(m.data(), m.size());
  ASSERT_TRUE(e.has_value());
  EXPECT_FALSE(e->v4);
  EXPECT_EQ(e->local_port, 40000);
  EXPECT_EQ(e->remote_port, 80);
  EXPECT_EQ(e->transport_word, 0x01020304u);
  EXPECT_EQ(e->PathMtu(), 1280u);
  EXPECT_EQ(ip_2_ip6(&e->local)->addr[3], PP_HTONL(2));
  EXPECT_EQ(ip_2_ip6(&e->remote)->addr[3], PP_HTONL(1));
  EXPECT_EQ(ip_2_ip6(&e->offender)->addr[3], PP_HTONL(9));
  EXPECT_FALSE(ParseIcmpError(Icmp6(1, 4, 0).data(), 96)->PathMtu().has_value());
}

TEST(IcmpErrorTest, BadChecksumsAreRefused) {
  Bytes m4 = Icmp4(3, 4, 1280);
  m4[20 + 6] ^= 0x01;  // The MTU changes, the checksum does not.
  EXPECT_FALSE(ParseIcmpError(m4.data(), m4.size()).has_value());
  Bytes m6 = Icmp6(2, 0, 1280);
  m6[8] ^= 0x01;  // The source address is in the pseudo-header.
  EXPECT_FALSE(ParseIcmpError(m6.data(), m6.size()).has_value());
}

TEST(IcmpErrorTest, WhatIsNoErrorOrQuotesTooLittleIsRefused) {
  const Bytes echo = Icmp4(8, 0, 0);
  EXPECT_FALSE(ParseIcmpError(echo.data(), echo.size()).has_value());
  const Bytes icmp_in_icmp = Icmp4(3, 4, 1280, /*inner_proto=*/1);
  EXPECT_FALSE(ParseIcmpError(icmp_in_icmp.data(), icmp_in_icmp.size()).has_value());
  const Bytes m4 = Icmp4(3, 4, 1280);
  for (size_t n = 0; n < m4.size(); ++n) {
    EXPECT_FALSE(ParseIcmpError(m4.data(), n).has_value()) << n << " bytes";
  }
  const Bytes m6 = Icmp6(2, 0, 1280);
  for (size_t n = 0; n < m6.size(); ++n) {
    EXPECT_FALSE(ParseIcmpError(m6.data(), n).has_value()) << n << " bytes";
  }
  EXPECT_FALSE(ParseIcmpError(nullptr, 0).has_value());
}

// Linux's reading of each error for a UDP socket (icmp_err_convert,
// icmpv6_err_convert and the callers in net/ipv4/udp.c, net/ipv6/udp.c).
TEST(IcmpErrorTest, UdpReportsAreLinuxs) {
  struct Want {
    bool v4;
    uint8_t type, code;
    int error;
    bool hard;
    uint32_t info;
  };
  const Want wants[] = {
      {true, 3, 0, ENETUNREACH, false, 0},  {true, 3, 1, EHOSTUNREACH, false, 0},
      {true, 3, 2, ENOPROTOOPT, true, 0},   {true, 3, 3, ECONNREFUSED, true, 0},
      {true, 3, 4, EMSGSIZE, true, 1280},   {true, 3, 7, EHOSTDOWN, true, 0},
      {true, 3, 13, EHOSTUNREACH, true, 0}, {true, 3, 99, EHOSTUNREACH, false, 0},
      {true, 11, 0, EHOSTUNREACH, false, 0}, {true, 12, 0, EPROTO, true, 0},
      {false, 1, 0, ENETUNREACH, false, 0}, {false, 1, 1, EACCES, true, 0},
      {false, 1, 3, EHOSTUNREACH, false, 0}, {false, 1, 4, ECONNREFUSED, true, 0},
      {false, 1, 9, EPROTO, true, 0},       {false, 2, 0, EMSGSIZE, true, 1280},
      {false, 3, 0, EHOSTUNREACH, false, 0}, {false, 4, 0, EPROTO, true, 0},
  };
  for (const Want& w : wants) {
    const uint32_t mtu = (w.v4 && w.type == 3 && w.code == 4) || (!w.v4 && w.type == 2) ? 1280 : 0;
    const Bytes m = w.v4 ? Icmp4(w.type, w.code, static_cast<uint16_t>(mtu))
                         : Icmp6(w.type, w.code, mtu);
    auto e = ParseIcmpError(m.data(), m.size());
    ASSERT_TRUE(e.has_value());
    auto r = ReportForSocket(*e);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->error, w.error) << int{w.type} << "/" << int{w.code} << (w.v4 ? " v4" : " v6");
    EXPECT_EQ(r->hard, w.hard) << int{w.type} << "/" << int{w.code} << (w.v4 ? " v4" : " v6");
    EXPECT_EQ(r->info, w.info) << int{w.type} << "/" << int{w.code} << (w.v4 ? " v4" : " v6");
  }
}

}  // namespace
}  // namespace stackd
