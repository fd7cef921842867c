#include "stackd/addresses.h"

#include <sys/socket.h>

#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace stackd {
namespace {

// IpAddress ------------------------------------------------------------------

TEST(IpAddressTest, ParsesIpv4) {
  auto addr = IpAddress::Parse("10.42.0.2");
  ASSERT_TRUE(addr.ok()) << addr.status();
  EXPECT_EQ(addr->family, AF_INET);
  EXPECT_EQ(addr->bytes[0], 10);
  EXPECT_EQ(addr->bytes[1], 42);
  EXPECT_EQ(addr->bytes[2], 0);
  EXPECT_EQ(addr->bytes[3], 2);
  for (size_t i = 4; i < addr->bytes.size(); ++i) EXPECT_EQ(addr->bytes[i], 0);
  EXPECT_EQ(addr->ToString(), "10.42.0.2");
}

TEST(IpAddressTest, ParsesIpv6) {
  auto addr = IpAddress::Parse("fd42::2");
  ASSERT_TRUE(addr.ok()) << addr.status();
  EXPECT_EQ(addr->family, AF_INET6);
  EXPECT_EQ(addr->bytes[0], 0xfd);
  EXPECT_EQ(addr->bytes[1], 0x42);
  EXPECT_EQ(addr->bytes[15], 2);
  EXPECT_EQ(addr->ToString(), "fd42::2");
}

TEST(IpAddressTest, ToStringIsCanonical) {
  // Parsing the printed form gives the same address back, and the printed
  // form is the canonical one (lower case, longest zero run compressed).
  for (const char* text :
       {"0.0.0.0", "255.255.255.255", "192.168.1.1", "::", "::1",
        "fe80::1:2", "2001:db8::ff00:42:8329", "::ffff:10.0.0.1"}) {
    SCOPED_TRACE(text);
    auto addr = IpAddress::Parse(text);
    ASSERT_TRUE(addr.ok()) << addr.status();
    EXPECT_EQ(addr->ToString(), text);
    auto again = IpAddress::Parse(addr->ToString());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *addr);
  }
  auto upper = IpAddress::Parse("FD42:0:0::0:1");
  ASSERT_TRUE(upper.ok());
  EXPECT_EQ(upper->ToString(), "fd42::1");
}

TEST(IpAddressTest, RejectsBadInput) {
  for (const char* text :
       {"", "10.1.2", "10.1.2.3.4", "10.1.2.256", "10.0.0.1/24", " 10.0.0.1",
        "10.0.0.1 ", "host", "fd42:::1", "fd42::1::2", "fd42::g", "::1%eth0",
        "1:2:3:4:5:6:7:8:9"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(IpAddress::Parse(text).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(IpAddressTest, EqualityComparesFamilyAndBytes) {
  auto a = IpAddress::Parse("10.0.0.1");
  auto b = IpAddress::Parse("10.0.0.1");
  auto c = IpAddress::Parse("10.0.0.2");
  // The same first four bytes as 10.0.0.1, but IPv6.
  auto v6 = IpAddress::Parse("a00:1::");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && v6.ok());
  EXPECT_TRUE(*a == *b);
  EXPECT_FALSE(*a == *c);
  EXPECT_FALSE(*a == *v6);

  IpAddress v4_zero;
  v4_zero.family = AF_INET;
  IpAddress v6_zero;
  v6_zero.family = AF_INET6;
  EXPECT_FALSE(v4_zero == v6_zero);
}

TEST(IpAddressTest, DefaultPrintsEmpty) {
  EXPECT_EQ(IpAddress().ToString(), "");
}

// IpPrefix -------------------------------------------------------------------

TEST(IpPrefixTest, ParsesIpv4Cidr) {
  auto prefix = IpPrefix::Parse("10.42.0.2/24");
  ASSERT_TRUE(prefix.ok()) << prefix.status();
  EXPECT_EQ(prefix->address.family, AF_INET);
  EXPECT_EQ(prefix->address.ToString(), "10.42.0.2");
  EXPECT_EQ(prefix->length, 24);
  EXPECT_EQ(prefix->ToString(), "10.42.0.2/24");
}

TEST(IpPrefixTest, ParsesIpv6Cidr) {
  auto prefix = IpPrefix::Parse("fd42::2/64");
  ASSERT_TRUE(prefix.ok()) << prefix.status();
  EXPECT_EQ(prefix->address.family, AF_INET6);
  EXPECT_EQ(prefix->length, 64);
  EXPECT_EQ(prefix->ToString(), "fd42::2/64");
}

TEST(IpPrefixTest, WithoutLengthIsAHostRoute) {
  auto v4 = IpPrefix::Parse("10.0.0.1");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->length, 32);
  EXPECT_EQ(v4->ToString(), "10.0.0.1/32");

  auto v6 = IpPrefix::Parse("fd42::1");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->length, 128);
  EXPECT_EQ(v6->ToString(), "fd42::1/128");
}

TEST(IpPrefixTest, AcceptsBoundaryLengths) {
  for (const char* text :
       {"0.0.0.0/0", "10.0.0.1/32", "::/0", "fd42::1/128", "10.0.0.1/08"}) {
    SCOPED_TRACE(text);
    EXPECT_TRUE(IpPrefix::Parse(text).ok());
  }
}

TEST(IpPrefixTest, RoundTrips) {
  for (const char* text : {"10.42.0.2/24", "0.0.0.0/0", "192.168.7.9/32",
                           "fd42::2/64", "::/0", "fe80::1/10",
                           "2001:db8::1/128"}) {
    SCOPED_TRACE(text);
    auto prefix = IpPrefix::Parse(text);
    ASSERT_TRUE(prefix.ok()) << prefix.status();
    EXPECT_EQ(prefix->ToString(), text);
    auto again = IpPrefix::Parse(prefix->ToString());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->address, prefix->address);
    EXPECT_EQ(again->length, prefix->length);
  }
}

TEST(IpPrefixTest, RejectsBadInput) {
  for (const char* text :
       {"10.1.2.3/99", "10.1.2.3/33", "10.1.2/24", "fd42::1/129",
        "10.0.0.1/", "10.0.0.1/2x", "10.0.0.1/-1", "10.0.0.1/+8",
        "10.0.0.1/ 8", "10.0.0.1/8 ", "10.0.0.1/24/8", "/24", "",
        "fd42::1/", "fd42::1/0x40", "host/24",
        "10.0.0.1/99999999999999999999"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(IpPrefix::Parse(text).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(IpPrefixTest, NetworkClearsHostBits) {
  struct Case {
    const char* in;
    const char* out;
  };
  for (const Case& c : {
           Case{"10.42.0.2/24", "10.42.0.0/24"},
           Case{"10.42.7.200/20", "10.42.0.0/20"},
           Case{"10.42.255.255/17", "10.42.128.0/17"},
           Case{"10.42.0.2/32", "10.42.0.2/32"},
           Case{"10.42.0.2/0", "0.0.0.0/0"},
           Case{"255.255.255.255/1", "128.0.0.0/1"},
           Case{"fd42::1:2/64", "fd42::/64"},
           Case{"fd42:1:2:3:4:5:6:7/65", "fd42:1:2:3::/65"},
           Case{"fd42:1:2:3:ffff:5:6:7/66", "fd42:1:2:3:c000::/66"},
           Case{"fd42::7/128", "fd42::7/128"},
           Case{"fd42::7/0", "::/0"},
       }) {
    SCOPED_TRACE(c.in);
    auto prefix = IpPrefix::Parse(c.in);
    ASSERT_TRUE(prefix.ok()) << prefix.status();
    IpPrefix net = prefix->Network();
    EXPECT_EQ(net.ToString(), c.out);
    EXPECT_EQ(net.length, prefix->length);
    // Network() does not change the prefix it is called on.
    EXPECT_EQ(prefix->ToString(), c.in);
  }
}

TEST(IpPrefixTest, NetworkOfIpv4LeavesUnusedBytesZero) {
  auto prefix = IpPrefix::Parse("10.42.0.2/8");
  ASSERT_TRUE(prefix.ok());
  IpPrefix net = prefix->Network();
  for (size_t i = 4; i < net.address.bytes.size(); ++i) {
    EXPECT_EQ(net.address.bytes[i], 0) << i;
  }
  auto other = IpAddress::Parse("10.0.0.0");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(net.address, *other);
}

// MacAddress -----------------------------------------------------------------

TEST(MacAddressTest, ParsesColonAndDashForms) {
  auto colon = MacAddress::Parse("02:00:5e:10:00:01");
  ASSERT_TRUE(colon.ok()) << colon.status();
  const std::array<uint8_t, 6> want = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x01};
  EXPECT_EQ(colon->bytes, want);
  EXPECT_EQ(colon->ToString(), "02:00:5e:10:00:01");

  auto dash = MacAddress::Parse("02-00-5E-10-00-01");
  ASSERT_TRUE(dash.ok()) << dash.status();
  EXPECT_EQ(dash->bytes, want);
  EXPECT_EQ(dash->ToString(), "02:00:5e:10:00:01");
}

TEST(MacAddressTest, RoundTrips) {
  for (const char* text : {"00:00:00:00:00:00", "02:00:00:00:00:02",
                           "fe:ff:ff:ff:ff:ff", "52:54:00:12:34:56"}) {
    SCOPED_TRACE(text);
    auto mac = MacAddress::Parse(text);
    ASSERT_TRUE(mac.ok()) << mac.status();
    EXPECT_EQ(mac->ToString(), text);
  }
}

TEST(MacAddressTest, RejectsMulticast) {
  for (const char* text :
       {"01:00:5e:00:00:01", "33:33:00:00:00:01", "ff:ff:ff:ff:ff:ff",
        "03:00:00:00:00:00"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(MacAddress::Parse(text).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(MacAddressTest, RejectsMalformed) {
  for (const char* text : {
           "",
           "02:00:00:00:00",        // Five pairs.
           "02:00:00:00:00:0",      // Short last pair.
           "02:00:00:00:00:00:00",  // Seven pairs.
           "02:00:00:00:00:001",
           "0200.0000.0002",
           "02:00:00:00:00:0g",
           "02:00:00:00:00:zz",
           "02.00.00.00.00.02",
           "02:00:00:00:00 02",
           "020:00:00:00:00:2",
       }) {
    SCOPED_TRACE(text);
    EXPECT_EQ(MacAddress::Parse(text).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(MacAddressTest, RejectsPairsThatAreNotTwoHexDigits) {
  // Each pair must be exactly two hex digits: no sign, no space, no "0x".
  for (const char* text : {"02:00:00:00:00:-1", "02:00:00:00:00:+f",
                           "02:00:00:00:00: f", "02:00:00:00:00:f ",
                           "02:00:00:00: 1:00", "02:00:00:00:00:0x"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(MacAddress::Parse(text).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(MacAddressTest, FromSeedIsStable) {
  MacAddress a = MacAddress::FromSeed("/dev/net/mynet");
  MacAddress b = MacAddress::FromSeed("/dev/net/mynet");
  EXPECT_EQ(a.bytes, b.bytes);
  // Pinned: the MAC must not change between builds or releases, or a
  // restarted stack would confuse its peers' neighbour caches. The values are
  // the low 48 bits of 64-bit FNV-1a (published vectors: "" ->
  // 0xcbf29ce484222325, "a" -> 0xaf63dc4c8601ec8c), least significant byte
  // first, with the first byte made unicast and locally administered.
  EXPECT_EQ(MacAddress::FromSeed("").ToString(), "26:23:22:84:e4:9c");
  EXPECT_EQ(MacAddress::FromSeed("a").ToString(), "8e:ec:01:86:4c:dc");
  EXPECT_EQ(a.ToString(), "7e:98:d0:0e:71:17");
}

TEST(MacAddressTest, FromSeedDiffersBySeed) {
  EXPECT_NE(MacAddress::FromSeed("/dev/net/a").bytes,
            MacAddress::FromSeed("/dev/net/b").bytes);
  EXPECT_NE(MacAddress::FromSeed("/dev/net/mynet").bytes,
            MacAddress::FromSeed("/dev/net/mynet2").bytes);
}

TEST(MacAddressTest, FromSeedIsLocallyAdministeredUnicast) {
  for (const char* seed : {"", "a", "/dev/net/mynet", "/dev/net/other",
                           "\xff\xff\xff", "stackd0", "stackd1"}) {
    SCOPED_TRACE(seed);
    MacAddress mac = MacAddress::FromSeed(seed);
    EXPECT_EQ(mac.bytes[0] & 0x01, 0) << "multicast bit set";
    EXPECT_EQ(mac.bytes[0] & 0x02, 0x02) << "locally administered bit clear";
    // And Parse accepts what FromSeed makes.
    auto parsed = MacAddress::Parse(mac.ToString());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->bytes, mac.bytes);
  }
}

}  // namespace
}  // namespace stackd
