#include "client/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>

#include "gtest/gtest.h"

namespace stackd::client {
namespace {

using socket::v1::Address;

sockaddr_in Inet(const char* ip, uint16_t port) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  inet_pton(AF_INET, ip, &in.sin_addr);
  return in;
}

sockaddr_in6 Inet6(const char* ip, uint16_t port, uint32_t scope = 0) {
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  in6.sin6_scope_id = scope;
  inet_pton(AF_INET6, ip, &in6.sin6_addr);
  return in6;
}

const sockaddr* Sa(const void* p) { return static_cast<const sockaddr*>(p); }

TEST(AddressFromSockaddr, Ipv4) {
  sockaddr_in in = Inet("10.42.0.2", 8080);
  Address a;
  ASSERT_EQ(AddressFromSockaddr(Sa(&in), sizeof(in), AddressUse::kConnect, &a),
            0);
  EXPECT_EQ(a.family(), AF_INET);
  EXPECT_EQ(a.ip(), std::string("\x0a\x2a\x00\x02", 4));
  EXPECT_EQ(a.port(), 8080u);
  EXPECT_EQ(a.scope_id(), 0u);
}

TEST(AddressFromSockaddr, Ipv6WithScopeAndFlowinfo) {
  sockaddr_in6 in6 = Inet6("fe80::1", 443, 7);
  in6.sin6_flowinfo = htonl(0x12345);
  Address a;
  ASSERT_EQ(AddressFromSockaddr(Sa(&in6), sizeof(in6), AddressUse::kBind, &a),
            0);
  EXPECT_EQ(a.family(), AF_INET6);
  ASSERT_EQ(a.ip().size(), 16u);
  EXPECT_EQ(std::memcmp(a.ip().data(), &in6.sin6_addr, 16), 0);
  EXPECT_EQ(a.port(), 443u);
  EXPECT_EQ(a.scope_id(), 7u);
  EXPECT_EQ(a.flowinfo(), 0x12345u);
}

TEST(AddressFromSockaddr, Ipv6WithoutScopeIdField) {
  // RFC 2133's 24-byte sockaddr_in6 has no scope id: Linux takes it.
  sockaddr_in6 in6 = Inet6("fd42::2", 22, 9);
  Address a;
  ASSERT_EQ(AddressFromSockaddr(Sa(&in6), 24, AddressUse::kConnect, &a), 0);
  EXPECT_EQ(a.scope_id(), 0u);
  EXPECT_EQ(a.port(), 22u);
}

TEST(AddressFromSockaddr, MappedIpv4StaysIpv6) {
  sockaddr_in6 in6 = Inet6("::ffff:10.42.0.1", 80);
  Address a;
  ASSERT_EQ(
      AddressFromSockaddr(Sa(&in6), sizeof(in6), AddressUse::kConnect, &a), 0);
  EXPECT_EQ(a.family(), AF_INET6);
  EXPECT_EQ(a.ip().substr(10), std::string("\xff\xff\x0a\x2a\x00\x01", 6));
}

TEST(AddressFromSockaddr, ShortLengthsAreEinval) {
  sockaddr_in in = Inet("10.0.0.1", 1);
  sockaddr_in6 in6 = Inet6("::1", 1);
  Address a;
  EXPECT_EQ(
      AddressFromSockaddr(Sa(&in), sizeof(in) - 1, AddressUse::kConnect, &a),
      EINVAL);
  EXPECT_EQ(AddressFromSockaddr(Sa(&in6), 23, AddressUse::kBind, &a), EINVAL);
  EXPECT_EQ(AddressFromSockaddr(Sa(&in), 1, AddressUse::kConnect, &a), EINVAL);
  EXPECT_EQ(AddressFromSockaddr(Sa(&in), 0, AddressUse::kConnect, &a), EINVAL);
  // Longer than sockaddr_storage, or negative as the kernel's int.
  sockaddr_storage big{};
  EXPECT_EQ(
      AddressFromSockaddr(Sa(&big), sizeof(big) + 1, AddressUse::kConnect, &a),
      EINVAL);
  EXPECT_EQ(AddressFromSockaddr(Sa(&big), static_cast<socklen_t>(-1),
                                AddressUse::kConnect, &a),
            EINVAL);
}

TEST(AddressFromSockaddr, NullAddressIsEfault) {
  Address a;
  EXPECT_EQ(AddressFromSockaddr(nullptr, sizeof(sockaddr_in),
                                AddressUse::kConnect, &a),
            EFAULT);
}

TEST(AddressFromSockaddr, OtherFamiliesAreEafnosupport) {
  sockaddr_storage s{};
  s.ss_family = AF_UNIX;
  Address a;
  EXPECT_EQ(AddressFromSockaddr(Sa(&s), sizeof(s), AddressUse::kConnect, &a),
            EAFNOSUPPORT);
  // connect(2) to AF_UNSPEC dissolves a TCP association on Linux; the stack
  // cannot, so it is refused.
  s.ss_family = AF_UNSPEC;
  EXPECT_EQ(AddressFromSockaddr(Sa(&s), sizeof(s), AddressUse::kConnect, &a),
            EAFNOSUPPORT);
}

TEST(AddressFromSockaddr, BindTakesUnspecAnyAsIpv4Any) {
  sockaddr_in in = Inet("0.0.0.0", 5000);
  in.sin_family = AF_UNSPEC;
  Address a;
  ASSERT_EQ(AddressFromSockaddr(Sa(&in), sizeof(in), AddressUse::kBind, &a), 0);
  EXPECT_EQ(a.family(), AF_INET);
  EXPECT_EQ(a.ip(), std::string(4, '\0'));
  EXPECT_EQ(a.port(), 5000u);
  in = Inet("10.0.0.1", 5000);
  in.sin_family = AF_UNSPEC;
  EXPECT_EQ(AddressFromSockaddr(Sa(&in), sizeof(in), AddressUse::kBind, &a),
            EAFNOSUPPORT);
}

Address Wire(int family, const std::string& ip, uint32_t port) {
  Address a;
  a.set_family(family);
  a.set_ip(ip);
  a.set_port(port);
  return a;
}

TEST(AddressToSockaddr, Ipv4RoundTrip) {
  sockaddr_in in = Inet("192.0.2.7", 65535);
  Address a;
  ASSERT_EQ(AddressFromSockaddr(Sa(&in), sizeof(in), AddressUse::kConnect, &a),
            0);
  sockaddr_in out{};
  socklen_t len = sizeof(out);
  ASSERT_EQ(AddressToSockaddr(a, reinterpret_cast<sockaddr*>(&out), &len), 0);
  EXPECT_EQ(len, sizeof(sockaddr_in));
  EXPECT_EQ(std::memcmp(&in, &out, sizeof(in)), 0);
}

TEST(AddressToSockaddr, Ipv6RoundTripWithScope) {
  sockaddr_in6 in6 = Inet6("fe80::abcd", 1234, 3);
  in6.sin6_flowinfo = htonl(5);
  Address a;
  ASSERT_EQ(AddressFromSockaddr(Sa(&in6), sizeof(in6), AddressUse::kBind, &a),
            0);
  sockaddr_storage out{};
  socklen_t len = sizeof(out);
  ASSERT_EQ(AddressToSockaddr(a, reinterpret_cast<sockaddr*>(&out), &len), 0);
  EXPECT_EQ(len, sizeof(sockaddr_in6));
  EXPECT_EQ(std::memcmp(&in6, &out, sizeof(in6)), 0);
}

TEST(AddressToSockaddr, TruncatesAndReportsFullSize) {
  Address a = Wire(AF_INET6, std::string(16, '\x01'), 80);
  unsigned char buf[32];
  std::memset(buf, 0xee, sizeof(buf));
  socklen_t len = 4;
  ASSERT_EQ(AddressToSockaddr(a, reinterpret_cast<sockaddr*>(buf), &len), 0);
  EXPECT_EQ(len, sizeof(sockaddr_in6));
  sa_family_t family;
  std::memcpy(&family, buf, sizeof(family));
  EXPECT_EQ(family, AF_INET6);
  EXPECT_EQ(buf[2], 0);  // The port's first byte (80 = 0x0050).
  EXPECT_EQ(buf[3], 0x50);
  EXPECT_EQ(buf[4], 0xee);  // Untouched past the caller's length.
}

TEST(AddressToSockaddr, ZeroLengthWithNullAddressGivesSize) {
  Address a = Wire(AF_INET, std::string(4, '\0'), 0);
  socklen_t len = 0;
  ASSERT_EQ(AddressToSockaddr(a, nullptr, &len), 0);
  EXPECT_EQ(len, sizeof(sockaddr_in));
}

TEST(AddressToSockaddr, BadArguments) {
  Address a = Wire(AF_INET, std::string(4, '\0'), 0);
  sockaddr_in out;
  socklen_t len = sizeof(out);
  EXPECT_EQ(AddressToSockaddr(a, reinterpret_cast<sockaddr*>(&out), nullptr),
            EFAULT);
  EXPECT_EQ(AddressToSockaddr(a, nullptr, &len), EFAULT);
  len = static_cast<socklen_t>(-1);
  EXPECT_EQ(AddressToSockaddr(a, reinterpret_cast<sockaddr*>(&out), &len),
            EINVAL);
}

TEST(AddressToSockaddr, MalformedAnswersAreEproto) {
  sockaddr_storage out;
  socklen_t len = sizeof(out);
  auto* sa = reinterpret_cast<sockaddr*>(&out);
  EXPECT_EQ(
      AddressToSockaddr(Wire(AF_INET, std::string(16, '\0'), 1), sa, &len),
      EPROTO);
  EXPECT_EQ(
      AddressToSockaddr(Wire(AF_INET6, std::string(4, '\0'), 1), sa, &len),
      EPROTO);
  EXPECT_EQ(
      AddressToSockaddr(Wire(AF_INET, std::string(4, '\0'), 65536), sa, &len),
      EPROTO);
  EXPECT_EQ(AddressToSockaddr(Wire(AF_UNIX, std::string(4, '\0'), 1), sa, &len),
            EPROTO);
  EXPECT_EQ(AddressToSockaddr(Address(), sa, &len), EPROTO);
  EXPECT_EQ(len, sizeof(out));  // Left alone on failure.
}

}  // namespace
}  // namespace stackd::client
