// Stack over a fake link: the test hands Ethernet frames to Stack::Input()
// and reads back the frames lwIP sends. No TAP, no root, no real time (lwIP's
// clock is a fake that only the test moves).
#include "stackd/stack.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "lwip/ip_addr.h"
#include "lwip/nd6.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"
#include "stackd/addresses.h"
#include "stackd/lwip_port/sys_arch.h"
#include "stackd/lwip_port/tcp_path_mtu.h"

namespace stackd {
namespace {

using Bytes = std::vector<uint8_t>;
using Mac = std::array<uint8_t, 6>;
using Ip4 = std::array<uint8_t, 4>;
using Ip6 = std::array<uint8_t, 16>;

constexpr Mac kStackMac = {0x02, 0, 0, 0, 0, 0x02};
constexpr Mac kPeerMac = {0x02, 0, 0, 0, 0, 0x01};
constexpr Mac kBroadcastMac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr Mac kZeroMac = {};

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherArp = 0x0806;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr size_t kEthHeader = 14;
constexpr size_t kIp4Header = 20;
constexpr size_t kIp6Header = 40;

constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoIcmp6 = 58;

Ip4 V4(const char* text) {
  Ip4 out{};
  EXPECT_EQ(inet_pton(AF_INET, text, out.data()), 1) << text;
  return out;
}

Ip6 V6(const char* text) {
  Ip6 out{};
  EXPECT_EQ(inet_pton(AF_INET6, text, out.data()), 1) << text;
  return out;
}

// Byte helpers ----------------------------------------------------------------

void Put8(Bytes& b, uint8_t v) { b.push_back(v); }
void Put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void Put32(Bytes& b, uint32_t v) {
  Put16(b, static_cast<uint16_t>(v >> 16));
  Put16(b, static_cast<uint16_t>(v));
}
template <size_t N>
void PutArray(Bytes& b, const std::array<uint8_t, N>& a) {
  b.insert(b.end(), a.begin(), a.end());
}
void PutBytes(Bytes& b, const Bytes& more) {
  b.insert(b.end(), more.begin(), more.end());
}

uint16_t Get16(const Bytes& b, size_t at) {
  return static_cast<uint16_t>(b.at(at) << 8 | b.at(at + 1));
}
uint32_t Get32(const Bytes& b, size_t at) {
  return static_cast<uint32_t>(Get16(b, at)) << 16 | Get16(b, at + 2);
}
template <size_t N>
std::array<uint8_t, N> GetArray(const Bytes& b, size_t at) {
  std::array<uint8_t, N> out{};
  for (size_t i = 0; i < N; ++i) out[i] = b.at(at + i);
  return out;
}
Bytes Slice(const Bytes& b, size_t at, size_t len) {
  EXPECT_LE(at + len, b.size());
  if (at + len > b.size()) return {};
  return Bytes(b.begin() + at, b.begin() + at + len);
}

// The Internet checksum (RFC 1071) of `data`, continuing from `sum`.
uint32_t SumWords(const uint8_t* data, size_t len, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < len; i += 2) sum += data[i] << 8 | data[i + 1];
  if (len % 2 == 1) sum += data[len - 1] << 8;
  return sum;
}
uint16_t FoldChecksum(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}
uint16_t Checksum(const Bytes& data, uint32_t sum = 0) {
  return FoldChecksum(SumWords(data.data(), data.size(), sum));
}
uint32_t PseudoHeaderSum4(const Ip4& src, const Ip4& dst, uint8_t proto,
                          size_t len) {
  uint32_t sum = SumWords(src.data(), 4);
  sum = SumWords(dst.data(), 4, sum);
  return sum + proto + static_cast<uint32_t>(len);
}
uint32_t PseudoHeaderSum6(const Ip6& src, const Ip6& dst, uint8_t next,
                          size_t len) {
  uint32_t sum = SumWords(src.data(), 16);
  sum = SumWords(dst.data(), 16, sum);
  return sum + static_cast<uint32_t>(len) + next;
}
// Writes the checksum of `b` (with `sum` already added) at `at`.
void FillChecksum(Bytes& b, size_t at, uint32_t sum = 0) {
  b[at] = b[at + 1] = 0;
  uint16_t c = Checksum(b, sum);
  b[at] = static_cast<uint8_t>(c >> 8);
  b[at + 1] = static_cast<uint8_t>(c);
}

// Frame builders --------------------------------------------------------------

Bytes Ethernet(const Mac& dst, const Mac& src, uint16_t type,
               const Bytes& payload) {
  Bytes b;
  PutArray(b, dst);
  PutArray(b, src);
  Put16(b, type);
  PutBytes(b, payload);
  return b;
}

// An ARP packet (RFC 826) for Ethernet and IPv4.
Bytes Arp(uint16_t op, const Mac& sha, const Ip4& spa, const Mac& tha,
          const Ip4& tpa) {
  Bytes b;
  Put16(b, 1);           // Hardware: Ethernet.
  Put16(b, kEtherIpv4);  // Protocol: IPv4.
  Put8(b, 6);
  Put8(b, 4);
  Put16(b, op);
  PutArray(b, sha);
  PutArray(b, spa);
  PutArray(b, tha);
  PutArray(b, tpa);
  return b;
}
constexpr uint16_t kArpRequest = 1;
constexpr uint16_t kArpReply = 2;

Bytes ArpRequestFrame(const Ip4& sender, const Ip4& target) {
  return Ethernet(kBroadcastMac, kPeerMac, kEtherArp,
                  Arp(kArpRequest, kPeerMac, sender, kZeroMac, target));
}

// An IPv4 header without options, with a valid checksum, then `payload`;
// `fragment` is the flags and offset field (default: don't fragment).
Bytes Ipv4(const Ip4& src, const Ip4& dst, uint8_t proto,
           const Bytes& payload, uint16_t fragment = 0x4000) {
  Bytes b;
  Put8(b, 0x45);
  Put8(b, 0);
  Put16(b, static_cast<uint16_t>(kIp4Header + payload.size()));
  Put16(b, 0x4242);  // Identification.
  Put16(b, fragment);
  Put8(b, 64);
  Put8(b, proto);
  Put16(b, 0);
  PutArray(b, src);
  PutArray(b, dst);
  FillChecksum(b, 10);
  PutBytes(b, payload);
  return b;
}

// ICMP (v4) echo request or reply with a valid checksum.
Bytes IcmpEcho(uint8_t type, uint16_t id, uint16_t seq, const Bytes& data) {
  Bytes b;
  Put8(b, type);
  Put8(b, 0);
  Put16(b, 0);
  Put16(b, id);
  Put16(b, seq);
  PutBytes(b, data);
  FillChecksum(b, 2);
  return b;
}
constexpr uint8_t kIcmpEchoReply = 0;
constexpr uint8_t kIcmpEchoRequest = 8;

// A TCP segment as a peer sends it.
struct Segment {
  uint16_t sport = 0;
  uint16_t dport = 0;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;
  Bytes options;  // Padded to 32 bits.
  Bytes payload;
  int data_offset_words = -1;  // >= 0 overrides the header length field.
  uint16_t window = 65535;
};

// The TCP header and payload of `seg`, with a valid checksum.
Bytes TcpBytes(const Ip4& src, const Ip4& dst, const Segment& seg) {
  Bytes opts = seg.options;
  while (opts.size() % 4 != 0) opts.push_back(0);
  int words = seg.data_offset_words >= 0
                  ? seg.data_offset_words
                  : static_cast<int>((20 + opts.size()) / 4);
  Bytes b;
  Put16(b, seg.sport);
  Put16(b, seg.dport);
  Put32(b, seg.seq);
  Put32(b, seg.ack);
  Put8(b, static_cast<uint8_t>(words << 4));
  Put8(b, seg.flags);
  Put16(b, seg.window);
  Put16(b, 0);  // Checksum.
  Put16(b, 0);  // Urgent pointer.
  PutBytes(b, opts);
  PutBytes(b, seg.payload);
  FillChecksum(b, 16, PseudoHeaderSum4(src, dst, kProtoTcp, b.size()));
  return b;
}

// A TCP header without ACK, with `options`.
Bytes Tcp(const Ip4& src, const Ip4& dst, uint16_t sport, uint16_t dport,
          uint32_t seq, uint8_t flags, const Bytes& options,
          int data_offset_words = -1) {
  Segment seg;
  seg.sport = sport;
  seg.dport = dport;
  seg.seq = seq;
  seg.flags = flags;
  seg.options = options;
  seg.data_offset_words = data_offset_words;
  return TcpBytes(src, dst, seg);
}
constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpSyn = 0x02;
constexpr uint8_t kTcpRst = 0x04;
constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kTcpAck = 0x10;

// An IPv6 header, then `payload`.
Bytes Ipv6(const Ip6& src, const Ip6& dst, uint8_t next, uint8_t hop_limit,
           const Bytes& payload) {
  Bytes b;
  Put32(b, 0x60000000);
  Put16(b, static_cast<uint16_t>(payload.size()));
  Put8(b, next);
  Put8(b, hop_limit);
  PutArray(b, src);
  PutArray(b, dst);
  PutBytes(b, payload);
  return b;
}

// An ICMPv6 message (type, code, then `body`) with the checksum over the
// IPv6 pseudo-header.
Bytes Icmp6(const Ip6& src, const Ip6& dst, uint8_t type, uint8_t code,
            const Bytes& body) {
  Bytes b;
  Put8(b, type);
  Put8(b, code);
  Put16(b, 0);
  PutBytes(b, body);
  FillChecksum(b, 2, PseudoHeaderSum6(src, dst, kProtoIcmp6, b.size()));
  return b;
}
constexpr uint8_t kIcmp6EchoRequest = 128;
constexpr uint8_t kIcmp6EchoReply = 129;
constexpr uint8_t kIcmp6NeighbourSolicitation = 135;
constexpr uint8_t kIcmp6NeighbourAdvertisement = 136;
constexpr uint8_t kNdOptSourceLinkAddress = 1;
constexpr uint8_t kNdOptTargetLinkAddress = 2;

// The solicited-node multicast address of `a` (RFC 4291 2.7.1) and its MAC.
Ip6 SolicitedNode(const Ip6& a) {
  Ip6 out = V6("ff02::1:ff00:0");
  out[13] = a[13];
  out[14] = a[14];
  out[15] = a[15];
  return out;
}
Mac MulticastMac(const Ip6& a) {
  return {0x33, 0x33, a[12], a[13], a[14], a[15]};
}

// A Neighbour Solicitation for `target` from `src`, with the source
// link-layer address option, as a whole frame to the solicited-node group.
Bytes NeighbourSolicitationFrame(const Ip6& src, const Ip6& target) {
  Ip6 dst = SolicitedNode(target);
  Bytes body;
  Put32(body, 0);  // Reserved.
  PutArray(body, target);
  Put8(body, kNdOptSourceLinkAddress);
  Put8(body, 1);  // Length in units of 8 bytes.
  PutArray(body, kPeerMac);
  return Ethernet(MulticastMac(dst), kPeerMac, kEtherIpv6,
                  Ipv6(src, dst, kProtoIcmp6, 255,
                       Icmp6(src, dst, kIcmp6NeighbourSolicitation, 0, body)));
}

Bytes Icmp6EchoBody(uint16_t id, uint16_t seq, const Bytes& data) {
  Bytes body;
  Put16(body, id);
  Put16(body, seq);
  PutBytes(body, data);
  return body;
}

Bytes Text(const std::string& s) { return Bytes(s.begin(), s.end()); }

// `seg` from the peer (10.42.0.1) to the stack (10.42.0.2), as a frame.
Bytes PeerTcpFrame(const Segment& seg) {
  const Ip4 src = V4("10.42.0.1");
  const Ip4 dst = V4("10.42.0.2");
  return Ethernet(kStackMac, kPeerMac, kEtherIpv4,
                  Ipv4(src, dst, kProtoTcp, TcpBytes(src, dst, seg)));
}

// The fake clock --------------------------------------------------------------

// Only moves forward, across tests too: lwIP's timer list lives as long as
// the process.
uint32_t fake_now_ms = 1'000'000;

// lwIP's counters, which only ever grow (16 bits: deltas are taken mod 2^16).
uint16_t Delta(uint16_t after, uint16_t before) {
  return static_cast<uint16_t>(after - before);
}

class StackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLwipClockForTest([] { return fake_now_ms; });
  }

  static Stack::Options Ipv4Options() {
    Stack::Options options;
    options.link_name = "fake0";
    options.mac.bytes = kStackMac;
    options.mtu = 1500;
    options.addresses.push_back(*IpPrefix::Parse("10.42.0.2/24"));
    return options;
  }

  static Stack::Options Ipv6Options() {
    Stack::Options options = Ipv4Options();
    options.addresses.clear();
    options.addresses.push_back(*IpPrefix::Parse("fd42::2/64"));
    return options;
  }

  // A FrameSender that appends to sent_.
  Stack::FrameSender Recorder() {
    return [this](const uint8_t* frame, size_t len) {
      sent_.emplace_back(frame, frame + len);
      return true;
    };
  }

  // Creates stack_ and forgets what it sent while coming up.
  void Start(const Stack::Options& options) {
    auto stack = Stack::Create(options, Recorder());
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = std::move(*stack);
    sent_.clear();
  }

  void Send(const Bytes& frame) { stack_->Input(frame.data(), frame.size()); }

  std::vector<Bytes> TakeSent() {
    std::vector<Bytes> out;
    out.swap(sent_);
    return out;
  }

  // Teaches the stack kPeerMac for 10.42.0.1 with an ARP request, and
  // swallows the reply.
  void LearnPeerIpv4() {
    Send(ArpRequestFrame(V4("10.42.0.1"), V4("10.42.0.2")));
    ASSERT_EQ(TakeSent().size(), 1u);
  }

  // Declared before stack_, so the stack (which may still send while it
  // shuts down) goes first.
  std::vector<Bytes> sent_;
  std::unique_ptr<Stack> stack_;
};

// Checks the Ethernet header of `frame` and returns its payload.
Bytes ExpectEthernet(const Bytes& frame, const Mac& dst, uint16_t type) {
  EXPECT_GE(frame.size(), kEthHeader);
  if (frame.size() < kEthHeader) return {};
  EXPECT_EQ(GetArray<6>(frame, 0), dst);
  EXPECT_EQ(GetArray<6>(frame, 6), kStackMac);
  EXPECT_EQ(Get16(frame, 12), type);
  return Slice(frame, kEthHeader, frame.size() - kEthHeader);
}

// Checks an IPv4 packet's header (version, length, checksum, addresses,
// protocol) and returns its payload.
Bytes ExpectIpv4(const Bytes& packet, const Ip4& src, const Ip4& dst,
                 uint8_t proto) {
  EXPECT_GE(packet.size(), kIp4Header);
  if (packet.size() < kIp4Header) return {};
  EXPECT_EQ(packet[0], 0x45);
  size_t total = Get16(packet, 2);
  EXPECT_LE(total, packet.size());
  EXPECT_EQ(packet[9], proto);
  EXPECT_EQ(GetArray<4>(packet, 12), src);
  EXPECT_EQ(GetArray<4>(packet, 16), dst);
  EXPECT_EQ(Checksum(Slice(packet, 0, kIp4Header)), 0) << "IPv4 checksum";
  if (total > packet.size() || total < kIp4Header) return {};
  return Slice(packet, kIp4Header, total - kIp4Header);
}

// Checks an IPv6 header and returns its payload.
Bytes ExpectIpv6(const Bytes& packet, const Ip6& src, const Ip6& dst,
                 uint8_t next) {
  EXPECT_GE(packet.size(), kIp6Header);
  if (packet.size() < kIp6Header) return {};
  EXPECT_EQ(packet[0] >> 4, 6);
  size_t payload = Get16(packet, 4);
  EXPECT_LE(kIp6Header + payload, packet.size());
  EXPECT_EQ(packet[6], next);
  EXPECT_EQ(GetArray<16>(packet, 8), src);
  EXPECT_EQ(GetArray<16>(packet, 24), dst);
  if (kIp6Header + payload > packet.size()) return {};
  return Slice(packet, kIp6Header, payload);
}

// 1. ARP ----------------------------------------------------------------------

TEST_F(StackTest, AnswersArpRequestForItsAddress) {
  Start(Ipv4Options());
  Send(ArpRequestFrame(V4("10.42.0.1"), V4("10.42.0.2")));

  std::vector<Bytes> sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  Bytes arp = ExpectEthernet(sent[0], kPeerMac, kEtherArp);
  ASSERT_GE(arp.size(), 28u);
  EXPECT_EQ(Get16(arp, 0), 1);           // Ethernet.
  EXPECT_EQ(Get16(arp, 2), kEtherIpv4);  // IPv4.
  EXPECT_EQ(arp[4], 6);
  EXPECT_EQ(arp[5], 4);
  EXPECT_EQ(Get16(arp, 6), kArpReply);
  EXPECT_EQ(GetArray<6>(arp, 8), kStackMac);
  EXPECT_EQ(GetArray<4>(arp, 14), V4("10.42.0.2"));
  EXPECT_EQ(GetArray<6>(arp, 18), kPeerMac);
  EXPECT_EQ(GetArray<4>(arp, 24), V4("10.42.0.1"));
}

TEST_F(StackTest, IgnoresArpRequestForOtherAddresses) {
  Start(Ipv4Options());
  Send(ArpRequestFrame(V4("10.42.0.1"), V4("10.42.0.99")));
  Send(ArpRequestFrame(V4("10.42.0.1"), V4("10.43.0.2")));
  EXPECT_TRUE(TakeSent().empty());
}

TEST_F(StackTest, AnswersArpForEveryIpv4Address) {
  Stack::Options options = Ipv4Options();
  options.addresses.push_back(*IpPrefix::Parse("10.43.0.2/16"));
  Start(options);
  ASSERT_EQ(stack_->link_netifs().size(), 2u);

  Send(ArpRequestFrame(V4("10.43.0.1"), V4("10.43.0.2")));
  std::vector<Bytes> sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  Bytes arp = ExpectEthernet(sent[0], kPeerMac, kEtherArp);
  ASSERT_GE(arp.size(), 28u);
  EXPECT_EQ(Get16(arp, 6), kArpReply);
  EXPECT_EQ(GetArray<4>(arp, 14), V4("10.43.0.2"));
  EXPECT_EQ(GetArray<4>(arp, 24), V4("10.43.0.1"));
}

// 2. ICMP echo ----------------------------------------------------------------

// Checks that `frame` is an echo reply from 10.42.0.2 to 10.42.0.1.
void ExpectEchoReply(const Bytes& frame, uint16_t id, uint16_t seq,
                     const Bytes& data) {
  Bytes ip = ExpectEthernet(frame, kPeerMac, kEtherIpv4);
  Bytes icmp = ExpectIpv4(ip, V4("10.42.0.2"), V4("10.42.0.1"), kProtoIcmp);
  ASSERT_GE(icmp.size(), 8u);
  EXPECT_EQ(icmp[0], kIcmpEchoReply);
  EXPECT_EQ(icmp[1], 0);
  EXPECT_EQ(Checksum(icmp), 0) << "ICMP checksum";
  EXPECT_EQ(Get16(icmp, 4), id);
  EXPECT_EQ(Get16(icmp, 6), seq);
  EXPECT_EQ(Slice(icmp, 8, icmp.size() - 8), data);
}

Bytes EchoRequestFrame(uint16_t id, uint16_t seq, const Bytes& data) {
  return Ethernet(kStackMac, kPeerMac, kEtherIpv4,
                  Ipv4(V4("10.42.0.1"), V4("10.42.0.2"), kProtoIcmp,
                       IcmpEcho(kIcmpEchoRequest, id, seq, data)));
}

// An echo request from the peer with IPv4 `options` (a multiple of 4 bytes).
Bytes EchoRequestWithOptions(const Bytes& options, bool good_checksum = true) {
  Bytes ip = Ipv4(V4("10.42.0.1"), V4("10.42.0.2"), kProtoIcmp,
                  IcmpEcho(kIcmpEchoRequest, 9, 1, Text("rr")));
  ip.insert(ip.begin() + kIp4Header, options.begin(), options.end());
  ip[0] = static_cast<uint8_t>(0x40 | (kIp4Header + options.size()) / 4);
  ip[2] = static_cast<uint8_t>(ip.size() >> 8);
  ip[3] = static_cast<uint8_t>(ip.size());
  Bytes header = Slice(ip, 0, kIp4Header + options.size());
  FillChecksum(header, 10);
  std::copy(header.begin(), header.end(), ip.begin());
  if (!good_checksum) ip[11] ^= 1;
  return Ethernet(kStackMac, kPeerMac, kEtherIpv4, ip);
}

// Record route, as Linux (ip4_options.cc): the echo reply carries the
// option with the stack's address recorded twice, on the way in and on the
// way out; a full option stays as it is.
TEST_F(StackTest, EchoReplyRecordsRouteAsLinux) {
  Start(Ipv4Options());
  LearnPeerIpv4();
  Bytes rr = {7, 39, 4};  // 9 empty slots.
  rr.resize(39, 0);
  rr.push_back(0);  // End of options.
  Send(EchoRequestWithOptions(rr));
  std::vector<Bytes> sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  Bytes ip = ExpectEthernet(sent[0], kPeerMac, kEtherIpv4);
  ASSERT_EQ(ip[0], 0x4f) << "the reply carries the 40 bytes of options";
  EXPECT_EQ(ip[kIp4Header + 2], 12) << "two slots filled";
  const Ip4 stack = V4("10.42.0.2");
  EXPECT_EQ(Slice(ip, kIp4Header + 3, 4), Bytes(stack.begin(), stack.end()));
  EXPECT_EQ(Slice(ip, kIp4Header + 7, 4), Bytes(stack.begin(), stack.end()));
  EXPECT_EQ(Slice(ip, kIp4Header + 11, 4), Bytes(4, 0));

  Bytes full = {7, 7, 8, 1, 2, 3, 4, 0};  // One slot, taken.
  Send(EchoRequestWithOptions(full));
  sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ip = ExpectEthernet(sent[0], kPeerMac, kEtherIpv4);
  EXPECT_EQ(Slice(ip, kIp4Header, 8), full);

  // A header lwIP drops for its checksum is not made good by the filling.
  Send(EchoRequestWithOptions(rr, false));
  EXPECT_TRUE(TakeSent().empty());
}

TEST_F(StackTest, AnswersPingFromKnownPeer) {
  Start(Ipv4Options());
  LearnPeerIpv4();
  const Bytes data = Text("stackd ping payload, odd length");

  Send(EchoRequestFrame(0x1234, 7, data));

  std::vector<Bytes> sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ExpectEchoReply(sent[0], 0x1234, 7, data);
}

TEST_F(StackTest, ResolvesUnknownPeerBeforeAnsweringPing) {
  Start(Ipv4Options());
  const Bytes data = Text("queued while ARP resolves");

  Send(EchoRequestFrame(0xbeef, 1, data));

  // lwIP does not learn MACs from IP packets: it asks, and queues the reply.
  std::vector<Bytes> sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  Bytes arp = ExpectEthernet(sent[0], kBroadcastMac, kEtherArp);
  ASSERT_GE(arp.size(), 28u);
  EXPECT_EQ(Get16(arp, 6), kArpRequest);
  EXPECT_EQ(GetArray<6>(arp, 8), kStackMac);
  EXPECT_EQ(GetArray<4>(arp, 14), V4("10.42.0.2"));
  EXPECT_EQ(GetArray<4>(arp, 24), V4("10.42.0.1"));

  Send(Ethernet(kStackMac, kPeerMac, kEtherArp,
                Arp(kArpReply, kPeerMac, V4("10.42.0.1"), kStackMac,
                    V4("10.42.0.2"))));

  sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ExpectEchoReply(sent[0], 0xbeef, 1, data);
}

TEST_F(StackTest, DropsPingWithBadChecksum) {
  Start(Ipv4Options());
  LearnPeerIpv4();
  const stats_proto icmp_before = lwip_stats.icmp;

  Bytes frame = EchoRequestFrame(1, 1, Text("x"));
  frame.back() ^= 0xff;  // Payload no longer matches the ICMP checksum.
  Send(frame);

  EXPECT_TRUE(TakeSent().empty());
  EXPECT_EQ(Delta(lwip_stats.icmp.chkerr, icmp_before.chkerr), 1);
}

// Disabled: fails today. Stack::Input() hands every IP packet to the first
// netif, and lwIP's icmp_input() sends the echo reply out of the netif the
// request came in on, which has no route to 10.43.0.1 (etharp_output returns
// ERR_RTE), so no reply leaves. Enable once Input() picks the netif that owns
// the IPv4 destination.
TEST_F(StackTest, AnswersPingOnSecondIpv4Address) {
  // The second address lives on a netif of its own.
  Stack::Options options = Ipv4Options();
  options.addresses.push_back(*IpPrefix::Parse("10.43.0.2/16"));
  Start(options);
  const Ip4 peer = V4("10.43.0.1");
  const Ip4 second = V4("10.43.0.2");
  Send(ArpRequestFrame(peer, second));
  ASSERT_EQ(TakeSent().size(), 1u);

  const Bytes data = Text("to the second address");
  Send(Ethernet(kStackMac, kPeerMac, kEtherIpv4,
                Ipv4(peer, second, kProtoIcmp,
                     IcmpEcho(kIcmpEchoRequest, 0x2222, 3, data))));

  std::vector<Bytes> sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  Bytes ip = ExpectEthernet(sent[0], kPeerMac, kEtherIpv4);
  Bytes icmp = ExpectIpv4(ip, second, peer, kProtoIcmp);
  ASSERT_GE(icmp.size(), 8u);
  EXPECT_EQ(icmp[0], kIcmpEchoReply);
  EXPECT_EQ(Checksum(icmp), 0) << "ICMP checksum";
  EXPECT_EQ(Get16(icmp, 4), 0x2222);
  EXPECT_EQ(Get16(icmp, 6), 3);
  EXPECT_EQ(Slice(icmp, 8, icmp.size() - 8), data);
}

// 3. IPv6 neighbour discovery and ICMPv6 echo ---------------------------------

TEST_F(StackTest, AnswersNeighbourSolicitationAndPing6) {
  Start(Ipv6Options());
  const Ip6 stack_ip = V6("fd42::2");
  const Ip6 peer_ip = V6("fd42::1");
  ASSERT_EQ(MulticastMac(SolicitedNode(stack_ip)),
            (Mac{0x33, 0x33, 0xff, 0x00, 0x00, 0x02}));

  Send(NeighbourSolicitationFrame(peer_ip, stack_ip));

  std::vector<Bytes> sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  Bytes ip = ExpectEthernet(sent[0], kPeerMac, kEtherIpv6);
  Bytes na = ExpectIpv6(ip, stack_ip, peer_ip, kProtoIcmp6);
  EXPECT_EQ(ip.at(7), 255) << "hop limit";
  ASSERT_GE(na.size(), 32u);
  EXPECT_EQ(na[0], kIcmp6NeighbourAdvertisement);
  EXPECT_EQ(na[1], 0);
  EXPECT_EQ(Checksum(na, PseudoHeaderSum6(stack_ip, peer_ip, kProtoIcmp6,
                                          na.size())),
            0)
      << "ICMPv6 checksum";
  EXPECT_EQ(na[4] & 0x40, 0x40) << "solicited flag";
  EXPECT_EQ(na[4] & 0x20, 0x20) << "override flag";
  EXPECT_EQ(na[4] & 0x80, 0) << "router flag";
  EXPECT_EQ(GetArray<16>(na, 8), stack_ip);
  EXPECT_EQ(na[24], kNdOptTargetLinkAddress);
  EXPECT_EQ(na[25], 1);
  EXPECT_EQ(GetArray<6>(na, 26), kStackMac);

  const Bytes data = Text("ping6 payload");
  Send(Ethernet(kStackMac, kPeerMac, kEtherIpv6,
                Ipv6(peer_ip, stack_ip, kProtoIcmp6, 64,
                     Icmp6(peer_ip, stack_ip, kIcmp6EchoRequest, 0,
                           Icmp6EchoBody(0x4321, 9, data)))));

  sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ip = ExpectEthernet(sent[0], kPeerMac, kEtherIpv6);
  Bytes echo = ExpectIpv6(ip, stack_ip, peer_ip, kProtoIcmp6);
  ASSERT_GE(echo.size(), 8u);
  EXPECT_EQ(echo[0], kIcmp6EchoReply);
  EXPECT_EQ(echo[1], 0);
  EXPECT_EQ(Checksum(echo, PseudoHeaderSum6(stack_ip, peer_ip, kProtoIcmp6,
                                            echo.size())),
            0)
      << "ICMPv6 checksum";
  EXPECT_EQ(Get16(echo, 4), 0x4321);
  EXPECT_EQ(Get16(echo, 6), 9);
  EXPECT_EQ(Slice(echo, 8, echo.size() - 8), data);
}

// Hostile IPv6 input (third_party/lwip/patches) ------------------------------

class Ipv6InputTest : public StackTest {
 protected:
  const Ip6 stack_ip_ = V6("fd42::2");
  const Ip6 peer_ip_ = V6("fd42::1");

  // The stack knows the peer's MAC and has it in its destination cache.
  void StartAndMeetPeer() {
    Start(Ipv6Options());
    Send(NeighbourSolicitationFrame(peer_ip_, stack_ip_));
    ASSERT_EQ(TakeSent().size(), 1u);
    ASSERT_EQ(Ping(1, 16), 1u);
  }

  // Sends an echo request with `size` bytes of data; returns how many
  // frames the stack sent back.
  size_t Ping(uint16_t seq, size_t size) {
    Send(Ethernet(kStackMac, kPeerMac, kEtherIpv6,
                  Ipv6(peer_ip_, stack_ip_, kProtoIcmp6, 64,
                       Icmp6(peer_ip_, stack_ip_, kIcmp6EchoRequest, 0,
                             Icmp6EchoBody(0x77, seq, Bytes(size, 0x61))))));
    return TakeSent().size();
  }

  // The peer's Packet Too Big with `mtu`, quoting a packet the stack sent.
  void TooBig(uint32_t mtu) {
    Bytes body;
    Put32(body, mtu);
    PutBytes(body, Ipv6(stack_ip_, peer_ip_, kProtoIcmp6, 64, Bytes(8, 0)));
    Send(Icmp6Frame(peer_ip_, 2, 0, body, 64));
  }

  // An ICMPv6 message from the peer, as a frame.
  Bytes Icmp6Frame(const Ip6& src, uint8_t type, uint8_t code, const Bytes& body,
                   uint8_t hop_limit = 255) {
    return Ethernet(kStackMac, kPeerMac, kEtherIpv6,
                    Ipv6(src, stack_ip_, kProtoIcmp6, hop_limit,
                         Icmp6(src, stack_ip_, type, code, body)));
  }
};

// Patch 0001: a Packet Too Big below 1280 once made ip6_frag() loop forever
// (MTU < 56) or send 8-byte fragments.
TEST_F(Ipv6InputTest, PacketTooBigBelowMinimumMtuIsRaisedTo1280) {
  StartAndMeetPeer();
  for (uint32_t mtu : {56u, 48u, 0u}) {
    SCOPED_TRACE(mtu);
    TooBig(mtu);
    // 1000 bytes fit in 1280: one reply, not fragments.
    EXPECT_EQ(Ping(2, 1000), 1u);
  }
  // 1280 is still honoured: a larger reply is fragmented.
  EXPECT_EQ(Ping(3, 1400), 2u);
}

// Patch 0030: a Packet Too Big never raises the path MTU (RFC 8201 4),
// nor past the link's MTU.
TEST_F(Ipv6InputTest, PacketTooBigNeverRaisesThePathMtu) {
  StartAndMeetPeer();
  TooBig(1300);
  EXPECT_EQ(Ping(2, 1400), 2u) << "fragmented at 1300";
  TooBig(1500);
  EXPECT_EQ(Ping(3, 1400), 2u) << "a higher MTU is ignored";
  TooBig(9000);
  EXPECT_EQ(Ping(4, 1400), 2u);
  TooBig(1280);
  EXPECT_EQ(Ping(5, 1250), 2u) << "a lower one is taken";
}

// Patch 0029: a learned path MTU stands for 10 minutes (Linux's
// mtu_expires), then the link's MTU is used again.
TEST_F(Ipv6InputTest, LearnedPathMtuExpiresAfterTenMinutes) {
  StartAndMeetPeer();
  TooBig(1280);
  ip6_addr_t peer;
  std::memcpy(&peer.addr, peer_ip_.data(), 16);
  ip6_addr_clear_zone(&peer);
  netif* nif = netif_list;
  while (nif != nullptr && nif->name[0] == 'l' && nif->name[1] == 'o') nif = nif->next;
  ASSERT_NE(nif, nullptr);
  EXPECT_EQ(nd6_get_destination_mtu(&peer, nif), 1280);
  auto advance_s = [&](int seconds) {
    for (int i = 0; i < seconds; ++i) {
      fake_now_ms += 1000;
      stack_->Poll();
    }
  };
  advance_s(kPathMtuLifetimeSeconds - 2);
  EXPECT_EQ(nd6_get_destination_mtu(&peer, nif), 1280);
  advance_s(3);
  EXPECT_EQ(nd6_get_destination_mtu(&peer, nif), 1500);
}

// An IPv6 fragment of the peer's datagram `id`.
Bytes Fragment(const Ip6& src, const Ip6& dst, uint16_t offset_bytes, bool more,
               const Bytes& data, uint32_t id = 0x1234) {
  Bytes frag;
  Put8(frag, kProtoIcmp6);
  Put8(frag, 0);
  Put16(frag, static_cast<uint16_t>(offset_bytes | (more ? 1 : 0)));
  Put32(frag, id);
  PutBytes(frag, data);
  return Ethernet(kStackMac, kPeerMac, kEtherIpv6, Ipv6(src, dst, 44, 64, frag));
}

// Patch 0002: fragments whose reassembly would be longer than 65535 bytes
// once tripped an assertion that stopped the process.
TEST_F(Ipv6InputTest, FragmentsReassemblingPast65535BytesAreDropped) {
  Stack::Options options = Ipv6Options();
  options.mtu = 65520;
  Start(options);
  Send(NeighbourSolicitationFrame(peer_ip_, stack_ip_));
  ASSERT_EQ(TakeSent().size(), 1u);
  // A datagram that fits reassembles: an echo request in two parts.
  Bytes echo = Icmp6(peer_ip_, stack_ip_, kIcmp6EchoRequest, 0,
                     Icmp6EchoBody(0x55, 1, Bytes(2000 - 8, 0x64)));
  Send(Fragment(peer_ip_, stack_ip_, 0, true, Slice(echo, 0, 1024)));
  Send(Fragment(peer_ip_, stack_ip_, 1024, false, Slice(echo, 1024, echo.size() - 1024)));
  std::vector<Bytes> sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  Bytes reply = ExpectIpv6(ExpectEthernet(sent[0], kPeerMac, kEtherIpv6), stack_ip_,
                           peer_ip_, kProtoIcmp6);
  EXPECT_EQ(reply.size(), 2000u);
  const auto before = lwip_stats.ip6_frag;
  for (size_t total : {size_t{65496}, size_t{65504}, size_t{65520}, size_t{65528}}) {
    SCOPED_TRACE(total);
    // Fragmentable part of `total` bytes in two fragments: 32768 + rest.
    Send(Fragment(peer_ip_, stack_ip_, 0, true, Bytes(32768, 0x62)));
    Send(Fragment(peer_ip_, stack_ip_, 32768, false, Bytes(total - 32768, 0x63)));
    EXPECT_TRUE(TakeSent().empty());
  }
  EXPECT_GE(Delta(lwip_stats.ip6_frag.proterr, before.proterr), 4);
  // The stack still reassembles other datagrams.
  Send(Fragment(peer_ip_, stack_ip_, 0, true, Slice(echo, 0, 1024), 0x99));
  Send(Fragment(peer_ip_, stack_ip_, 1024, false, Slice(echo, 1024, echo.size() - 1024), 0x99));
  EXPECT_EQ(TakeSent().size(), 1u);
}

// Patch 0003: a link-layer address option of length 0 once let lwIP copy 6
// bytes from past the packet into the neighbour cache.
TEST_F(Ipv6InputTest, NeighbourAdvertisementWithZeroLengthOptionIsDropped) {
  StartAndMeetPeer();
  const auto before = lwip_stats.nd6;
  Bytes body;
  Put32(body, 0x20000000);  // Override.
  PutArray(body, peer_ip_);
  Put8(body, kNdOptTargetLinkAddress);
  Put8(body, 0);  // Length 0: the packet ends here.
  Send(Icmp6Frame(peer_ip_, kIcmp6NeighbourAdvertisement, 0, body));
  EXPECT_EQ(Delta(lwip_stats.nd6.lenerr, before.lenerr), 1);
  // The neighbour entry is as it was: replies still go to kPeerMac.
  Send(Ethernet(kStackMac, kPeerMac, kEtherIpv6,
                Ipv6(peer_ip_, stack_ip_, kProtoIcmp6, 64,
                     Icmp6(peer_ip_, stack_ip_, kIcmp6EchoRequest, 0,
                           Icmp6EchoBody(0x77, 5, Text("x"))))));
  std::vector<Bytes> sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ExpectEthernet(sent[0], kPeerMac, kEtherIpv6);
}

// Patch 0004: a Redirect is taken only from the first-hop router of the
// destination it names.
TEST_F(Ipv6InputTest, RedirectFromAnotherHostThanTheFirstHopIsIgnored) {
  StartAndMeetPeer();
  const Ip6 attacker = V6("fe80::666");
  const Ip6 elsewhere = V6("fe80::777");
  auto redirect_body = [&](const Ip6& target) {
    Bytes body;
    Put32(body, 0);
    PutArray(body, target);    // Target: the better first hop.
    PutArray(body, peer_ip_);  // Destination: the peer.
    return body;
  };
  const auto before = lwip_stats.nd6;
  Send(Icmp6Frame(attacker, 137, 0, redirect_body(elsewhere)));
  EXPECT_EQ(Delta(lwip_stats.nd6.proterr, before.proterr), 1);
  // Replies to the peer still go straight to it (no NS for fe80::777).
  EXPECT_EQ(Ping(6, 16), 1u);
}

// Patch 0005: RFC 8200 8.1, UDP over IPv6 must carry a checksum.
TEST_F(Ipv6InputTest, UdpWithZeroChecksumOverIpv6IsDropped) {
  StartAndMeetPeer();
  udp_pcb* pcb = udp_new_ip_type(IPADDR_TYPE_ANY);
  ASSERT_NE(pcb, nullptr);
  ASSERT_EQ(udp_bind(pcb, IP_ANY_TYPE, 9999), ERR_OK);
  int received = 0;
  udp_recv(pcb, [](void* arg, udp_pcb*, pbuf* p, const ip_addr_t*, u16_t) {
    ++*static_cast<int*>(arg);
    pbuf_free(p);
  }, &received);
  auto datagram = [&](bool with_checksum) {
    Bytes udp;
    Put16(udp, 5555);
    Put16(udp, 9999);
    Put16(udp, 8 + 4);
    Put16(udp, 0);
    PutBytes(udp, Text("data"));
    if (with_checksum) FillChecksum(udp, 6, PseudoHeaderSum6(peer_ip_, stack_ip_, 17, udp.size()));
    return Ethernet(kStackMac, kPeerMac, kEtherIpv6, Ipv6(peer_ip_, stack_ip_, 17, 64, udp));
  };
  const auto before = lwip_stats.udp;
  Send(datagram(false));
  EXPECT_EQ(received, 0);
  EXPECT_EQ(Delta(lwip_stats.udp.chkerr, before.chkerr), 1);
  Send(datagram(true));
  EXPECT_EQ(received, 1);
  udp_remove(pcb);
}

TEST_F(StackTest, IgnoresNeighbourSolicitationForOtherAddress) {
  Start(Ipv6Options());
  Send(NeighbourSolicitationFrame(V6("fd42::1"), V6("fd42::99")));
  EXPECT_TRUE(TakeSent().empty());
}

TEST_F(StackTest, DropsNeighbourSolicitationWithBadHopLimit) {
  Start(Ipv6Options());
  Bytes frame = NeighbourSolicitationFrame(V6("fd42::1"), V6("fd42::2"));
  frame[kEthHeader + 7] = 64;  // RFC 4861 7.1.1: must be 255.
  const auto nd6_before = lwip_stats.nd6;
  Send(frame);
  EXPECT_TRUE(TakeSent().empty());
  EXPECT_EQ(Delta(lwip_stats.nd6.proterr, nd6_before.proterr), 1);
}

// 4. One stack per process ----------------------------------------------------

TEST_F(StackTest, SecondStackIsRefusedWhileOneExists) {
  Start(Ipv4Options());
  std::vector<Bytes> other_sent;
  auto second = Stack::Create(Ipv4Options(),
                              [&](const uint8_t* frame, size_t len) {
                                other_sent.emplace_back(frame, frame + len);
                                return true;
                              });
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);

  // The refused Create did not disturb the running stack.
  LearnPeerIpv4();
  EXPECT_TRUE(other_sent.empty());
}

TEST_F(StackTest, StackCanBeRecreatedAfterDestruction) {
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    Start(round % 2 == 0 ? Ipv4Options() : Ipv6Options());
    if (round % 2 == 0) {
      LearnPeerIpv4();
    } else {
      Send(NeighbourSolicitationFrame(V6("fd42::1"), V6("fd42::2")));
      EXPECT_EQ(TakeSent().size(), 1u);
    }
    stack_.reset();
    EXPECT_TRUE(sent_.empty()) << "frames sent while shutting down";
    sent_.clear();
  }
}

TEST_F(StackTest, DestroyedStackForgetsItsNeighbours) {
  // The first stack learns the peer's MAC; the next one must ARP again.
  Start(Ipv4Options());
  LearnPeerIpv4();
  stack_.reset();
  sent_.clear();

  Start(Ipv4Options());
  Send(EchoRequestFrame(5, 5, Text("again")));
  std::vector<Bytes> sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  Bytes arp = ExpectEthernet(sent[0], kBroadcastMac, kEtherArp);
  ASSERT_GE(arp.size(), 28u);
  EXPECT_EQ(Get16(arp, 6), kArpRequest);
}

// 5. Malformed input ----------------------------------------------------------

TEST_F(StackTest, DropsFramesShorterThanEthernetHeader) {
  Start(Ipv4Options());
  const uint16_t link_lenerr = lwip_stats.link.lenerr;
  const Bytes frame(13, 0xff);
  stack_->Input(frame.data(), 0);
  stack_->Input(frame.data(), 1);
  stack_->Input(frame.data(), 13);
  EXPECT_EQ(stack_->rx_dropped(), 3u);
  EXPECT_EQ(Delta(lwip_stats.link.lenerr, link_lenerr), 3);
  EXPECT_TRUE(TakeSent().empty());
}

TEST_F(StackTest, HeaderOnlyFrameReachesLwipWhichDropsIt) {
  Start(Ipv4Options());
  const auto etharp_before = lwip_stats.etharp;
  Bytes frame = Ethernet(kBroadcastMac, kPeerMac, kEtherArp, {});
  ASSERT_EQ(frame.size(), kEthHeader);
  Send(frame);
  // Long enough for Stack; lwIP finds no valid ARP header.
  EXPECT_EQ(stack_->rx_dropped(), 0u);
  EXPECT_EQ(Delta(lwip_stats.etharp.proterr, etharp_before.proterr), 1);
  EXPECT_EQ(Delta(lwip_stats.etharp.drop, etharp_before.drop), 1);
  EXPECT_TRUE(TakeSent().empty());
}

TEST_F(StackTest, DropsFramesLongerThanMtu) {
  Start(Ipv4Options());
  LearnPeerIpv4();
  // The largest frame: MTU + Ethernet header + a VLAN tag.
  Bytes data(1500 - kIp4Header - 8, 0x5a);
  Bytes largest = EchoRequestFrame(3, 3, data);
  largest.resize(largest.size() + 4, 0);  // Trailing bytes lwIP ignores.
  ASSERT_EQ(largest.size(), 1518u);
  Send(largest);
  EXPECT_EQ(stack_->rx_dropped(), 0u);
  std::vector<Bytes> sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ExpectEchoReply(sent[0], 3, 3, data);

  const uint16_t link_lenerr = lwip_stats.link.lenerr;
  Bytes too_long = largest;
  too_long.push_back(0);
  Send(too_long);
  EXPECT_EQ(stack_->rx_dropped(), 1u);
  EXPECT_EQ(Delta(lwip_stats.link.lenerr, link_lenerr), 1);
  EXPECT_TRUE(TakeSent().empty());
}

// A pbuf holds at most 65535 bytes: with a large MTU, frames of 65536 bytes
// and more must be dropped before lwIP's 16-bit lengths see them (they were
// once cut to 16 bits for the allocation but copied in full).
TEST_F(StackTest, DropsFramesLongerThanAPbufWhateverTheMtu) {
  for (int mtu : {65520, 65535}) {
    SCOPED_TRACE(mtu);
    Stack::Options options = Ipv4Options();
    options.mtu = mtu;
    Start(options);
    LearnPeerIpv4();
    const uint16_t link_lenerr = lwip_stats.link.lenerr;
    uint64_t dropped = 0;
    for (size_t len : {size_t{65536}, size_t{65537}, size_t{65538},
                       size_t{65539}, size_t{65553}, size_t{70000},
                       size_t{1} << 20}) {
      SCOPED_TRACE(len);
      Bytes frame = EchoRequestFrame(9, 9, Text("oversized"));
      frame.resize(len, 0xa5);
      Send(frame);
      ++dropped;
      EXPECT_EQ(stack_->rx_dropped(), dropped);
      EXPECT_TRUE(TakeSent().empty());
    }
    EXPECT_EQ(Delta(lwip_stats.link.lenerr, link_lenerr), dropped);
    // A frame of exactly 65535 bytes is the longest lwIP can hold: it gets
    // through (the IPv4 packet in it is shorter; lwIP ignores the rest).
    Bytes longest = EchoRequestFrame(9, 10, Text("longest"));
    longest.resize(65535, 0);
    Send(longest);
    EXPECT_EQ(stack_->rx_dropped(), dropped);
    std::vector<Bytes> sent = TakeSent();
    ASSERT_EQ(sent.size(), 1u);
    ExpectEchoReply(sent[0], 9, 10, Text("longest"));
    stack_.reset();
  }
}

// Every length a hostile link can hand over, around the boundaries: never
// fatal, and the stack still answers afterwards.
TEST_F(StackTest, SurvivesFramesOfEveryBoundaryLength) {
  Stack::Options options = Ipv4Options();
  Start(options);
  LearnPeerIpv4();
  const Bytes ping = EchoRequestFrame(4, 4, Text("still here"));
  for (uint16_t type : {kEtherIpv4, kEtherIpv6, kEtherArp, uint16_t{0x8100}}) {
    for (size_t len : {size_t{0}, size_t{13}, size_t{14}, size_t{15}, size_t{33},
                       size_t{34}, size_t{54}, size_t{59}, size_t{60}, size_t{61},
                       size_t{1513}, size_t{1514}, size_t{1518}, size_t{1519}}) {
      SCOPED_TRACE(testing::Message() << "type " << type << " len " << len);
      // A header of the given type, then the bytes of a valid ping cut or
      // padded to the length.
      Bytes frame = ping;
      frame[12] = static_cast<uint8_t>(type >> 8);
      frame[13] = static_cast<uint8_t>(type);
      frame.resize(len, 0xee);
      stack_->Input(frame.data(), frame.size());
      TakeSent();
    }
  }
  Send(ping);
  std::vector<Bytes> sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ExpectEchoReply(sent[0], 4, 4, Text("still here"));
}

// The truncated-header tests below are the ones that matter under
// AddressSanitizer: lwIP reads fixed-size headers before it checks the length.
//   bazel --output_base=/tmp/asan test //stackd:stack_test \
//     --copt=-fsanitize=address --linkopt=-fsanitize=address
TEST_F(StackTest, DropsTruncatedIpv4Header) {
  Start(Ipv4Options());
  LearnPeerIpv4();
  Bytes full = EchoRequestFrame(1, 1, Text("truncated"));
  const auto ip_before = lwip_stats.ip;
  for (size_t ip_bytes : {1, 4, 10, 19}) {
    SCOPED_TRACE(ip_bytes);
    Bytes frame(full.begin(), full.begin() + kEthHeader + ip_bytes);
    Send(frame);
  }
  EXPECT_EQ(stack_->rx_dropped(), 0u);
  // Each is a length error, or a checksum error if the link padded the frame.
  EXPECT_EQ(Delta(lwip_stats.ip.lenerr, ip_before.lenerr) +
                Delta(lwip_stats.ip.chkerr, ip_before.chkerr),
            4);
  EXPECT_EQ(Delta(lwip_stats.ip.drop, ip_before.drop), 4);
  EXPECT_TRUE(TakeSent().empty());
}

TEST_F(StackTest, DropsIpv4PacketLongerThanFrame) {
  Start(Ipv4Options());
  LearnPeerIpv4();
  Bytes frame = EchoRequestFrame(1, 1, Text("12345678"));
  // Claim 100 bytes where there are 36, and keep the header checksum valid.
  Bytes ip(frame.begin() + kEthHeader, frame.end());
  ip[2] = 0;
  ip[3] = 100;
  Bytes header(ip.begin(), ip.begin() + kIp4Header);
  FillChecksum(header, 10);
  std::copy(header.begin(), header.end(), frame.begin() + kEthHeader);
  ASSERT_LT(frame.size() - kEthHeader, 100u);

  const auto ip_before = lwip_stats.ip;
  Send(frame);
  EXPECT_EQ(Delta(lwip_stats.ip.lenerr, ip_before.lenerr), 1);
  EXPECT_EQ(Delta(lwip_stats.ip.drop, ip_before.drop), 1);
  EXPECT_TRUE(TakeSent().empty());
}

TEST_F(StackTest, DropsIpv4HeaderWithBadLengthOrChecksum) {
  Start(Ipv4Options());
  LearnPeerIpv4();
  const auto ip_before = lwip_stats.ip;

  Bytes short_ihl = EchoRequestFrame(1, 1, Text("x"));
  short_ihl[kEthHeader] = 0x44;  // IHL 4: 16 bytes, less than the minimum.
  Send(short_ihl);
  EXPECT_EQ(Delta(lwip_stats.ip.lenerr, ip_before.lenerr), 1);

  Bytes bad_sum = EchoRequestFrame(1, 1, Text("x"));
  bad_sum[kEthHeader + 10] ^= 0x01;
  Send(bad_sum);
  EXPECT_EQ(Delta(lwip_stats.ip.chkerr, ip_before.chkerr), 1);

  EXPECT_EQ(Delta(lwip_stats.ip.drop, ip_before.drop), 2);
  EXPECT_TRUE(TakeSent().empty());
}

// A listening TCP socket on port 7777 of every address, closed at the end of
// the test.
class TcpListener {
 public:
  TcpListener() {
    tcp_pcb* pcb = tcp_new_ip_type(IPADDR_TYPE_ANY);
    EXPECT_NE(pcb, nullptr);
    EXPECT_EQ(tcp_bind(pcb, IP_ANY_TYPE, 7777), ERR_OK);
    pcb_ = tcp_listen(pcb);
    EXPECT_NE(pcb_, nullptr);
  }
  ~TcpListener() {
    if (pcb_ != nullptr) tcp_close(pcb_);
  }

 private:
  tcp_pcb* pcb_ = nullptr;
};

// Sends a SYN to 10.42.0.2:7777 from port `sport` with `options`.
Bytes SynFrame(uint16_t sport, uint32_t seq, const Bytes& options,
               int data_offset_words = -1) {
  const Ip4 src = V4("10.42.0.1");
  const Ip4 dst = V4("10.42.0.2");
  return Ethernet(
      kStackMac, kPeerMac, kEtherIpv4,
      Ipv4(src, dst, kProtoTcp,
           Tcp(src, dst, sport, 7777, seq, kTcpSyn, options,
               data_offset_words)));
}

// Checks that `frame` is a SYN-ACK for a SYN with sequence number `seq`
// from port `sport`.
void ExpectSynAck(const Bytes& frame, uint16_t sport, uint32_t seq) {
  const Ip4 src = V4("10.42.0.2");
  const Ip4 dst = V4("10.42.0.1");
  Bytes ip = ExpectEthernet(frame, kPeerMac, kEtherIpv4);
  Bytes tcp = ExpectIpv4(ip, src, dst, kProtoTcp);
  ASSERT_GE(tcp.size(), 20u);
  EXPECT_EQ(Get16(tcp, 0), 7777);
  EXPECT_EQ(Get16(tcp, 2), sport);
  EXPECT_EQ(Get32(tcp, 8), seq + 1);
  EXPECT_EQ(tcp[13], kTcpSyn | kTcpAck);
  EXPECT_EQ(Checksum(tcp, PseudoHeaderSum4(src, dst, kProtoTcp, tcp.size())),
            0)
      << "TCP checksum";
}

TEST_F(StackTest, SynWithGarbageOptionsIsAnsweredWithoutThem) {
  Start(Ipv4Options());
  LearnPeerIpv4();
  TcpListener listener;
  const auto tcp_before = lwip_stats.tcp;

  struct Case {
    const char* what;
    Bytes options;
  };
  const std::vector<Case> cases = {
      {"unknown option with length 0", {30, 0, 1, 1}},
      {"unknown option with length 1", {30, 1, 1, 1}},
      {"MSS option with length 0", {2, 0, 0x05, 0xb4}},
      {"MSS option cut by the header end", {1, 1, 2, 4}},
      {"option running past the header", {8, 200, 0, 0, 0, 0, 0, 0}},
      {"kind byte without length at the end", {1, 1, 1, 30}},
      {"all ones", Bytes(40, 0xff)},
  };
  uint16_t sport = 40000;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const uint32_t seq = 1000u * sport;
    Send(SynFrame(sport, seq, c.options));
    std::vector<Bytes> sent = TakeSent();
    ASSERT_EQ(sent.size(), 1u);
    ExpectSynAck(sent[0], sport, seq);
    ++sport;
  }
  EXPECT_EQ(Delta(lwip_stats.tcp.lenerr, tcp_before.lenerr), 0);
  EXPECT_EQ(Delta(lwip_stats.tcp.chkerr, tcp_before.chkerr), 0);
}

// ISNs are RFC 6528's: a keyed hash of the 4-tuple plus a clock. From one
// peer, SYNs from consecutive ports must not get ISNs that differ by a
// little (lwIP's own counter moved them by 1 to 3).
TEST_F(StackTest, InitialSequenceNumbersAreUnguessable) {
  Start(Ipv4Options());
  LearnPeerIpv4();
  TcpListener listener;
  std::vector<uint32_t> isns;
  for (uint16_t sport = 50000; sport < 50064; ++sport) {
    Send(SynFrame(sport, 1, {}));
    std::vector<Bytes> sent = TakeSent();
    ASSERT_EQ(sent.size(), 1u);
    Bytes tcp = ExpectIpv4(ExpectEthernet(sent[0], kPeerMac, kEtherIpv4), V4("10.42.0.2"),
                           V4("10.42.0.1"), kProtoTcp);
    ASSERT_GE(tcp.size(), 20u);
    isns.push_back(Get32(tcp, 4));
  }
  int close_pairs = 0;
  for (size_t i = 1; i < isns.size(); ++i) {
    const uint32_t gap = isns[i] - isns[i - 1];
    if (gap < (1u << 16) || gap > ~0u - (1u << 16)) ++close_pairs;
  }
  // Random 32-bit values fall within 2^16 of each other with p = 3e-5.
  EXPECT_LE(close_pairs, 2) << "consecutive ISNs differ by less than 65536";
}

// Linux's defaults on the wire: TTL and hop limit 64, and a SYN-ACK
// retransmitted after about 1 s (initial RTO 1 s, RFC 6298), not 3 s.
TEST_F(StackTest, RepliesCarryTtl64AndSynAckIsRetransmittedAfterOneSecond) {
  Start(Ipv4Options());
  LearnPeerIpv4();
  Send(EchoRequestFrame(8, 8, Text("ttl")));
  std::vector<Bytes> sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  Bytes ip = ExpectEthernet(sent[0], kPeerMac, kEtherIpv4);
  ASSERT_GE(ip.size(), kIp4Header);
  EXPECT_EQ(ip[8], 64) << "TTL of an echo reply";

  TcpListener listener;
  Send(SynFrame(41000, 5, {}));
  sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ip = ExpectEthernet(sent[0], kPeerMac, kEtherIpv4);
  EXPECT_EQ(ip[8], 64) << "TTL of a SYN-ACK";
  // The link also carries the stack's own IPv6 chatter (MLD): look only
  // at IPv4 frames.
  uint32_t waited_ms = 0;
  std::vector<Bytes> ipv4;
  // Steps shorter than the TCP timer (20 ms), which lwIP re-arms from the
  // time it fires: a longer step would stretch every tick to the step.
  while (ipv4.empty() && waited_ms < 5000) {
    fake_now_ms += 10;
    waited_ms += 10;
    stack_->Poll();
    for (Bytes& frame : TakeSent()) {
      if (Get16(frame, 12) == kEtherIpv4) ipv4.push_back(std::move(frame));
    }
  }
  ASSERT_EQ(ipv4.size(), 1u) << "no SYN-ACK retransmission in 5 s";
  ExpectSynAck(ipv4[0], 41000, 5);
  EXPECT_GE(waited_ms, 500u);
  EXPECT_LE(waited_ms, 1500u) << "SYN-ACK retransmitted after " << waited_ms << " ms";
}

// RFC 9293 3.10.7.1: a segment with ACK to no connection gets
// <SEQ=SEG.ACK><CTL=RST>; one without ACK gets
// <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> (patch 0007).
TEST_F(StackTest, AckToClosedPortGetsPlainReset) {
  Start(Ipv4Options());
  LearnPeerIpv4();
  const Ip4 src = V4("10.42.0.1");
  const Ip4 dst = V4("10.42.0.2");
  auto send = [&](uint8_t flags, uint32_t seq, uint32_t ack, const std::string& data) {
    Segment seg;
    seg.sport = 42000;
    seg.dport = 7778;  // Nothing listens there.
    seg.seq = seq;
    seg.ack = ack;
    seg.flags = flags;
    seg.payload = Text(data);
    Send(PeerTcpFrame(seg));
    std::vector<Bytes> sent = TakeSent();
    EXPECT_EQ(sent.size(), 1u);
    if (sent.size() != 1) return Bytes();
    return ExpectIpv4(ExpectEthernet(sent[0], kPeerMac, kEtherIpv4), dst, src, kProtoTcp);
  };
  Bytes rst = send(kTcpAck | kTcpPsh, 1000, 777777, "data");
  ASSERT_GE(rst.size(), 20u);
  EXPECT_EQ(rst[13], kTcpRst);
  EXPECT_EQ(Get32(rst, 4), 777777u);
  EXPECT_EQ(Get32(rst, 8), 0u);
  rst = send(kTcpSyn, 5000, 0, "");
  ASSERT_GE(rst.size(), 20u);
  EXPECT_EQ(rst[13], kTcpRst | kTcpAck);
  EXPECT_EQ(Get32(rst, 4), 0u);
  EXPECT_EQ(Get32(rst, 8), 5001u);
  // An ACK to a listener's port: a plain RST too.
  TcpListener listener;
  Segment seg;
  seg.sport = 42001;
  seg.dport = 7777;
  seg.seq = 9;
  seg.ack = 4242;
  seg.flags = kTcpAck;
  Send(PeerTcpFrame(seg));
  std::vector<Bytes> sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  rst = ExpectIpv4(ExpectEthernet(sent[0], kPeerMac, kEtherIpv4), dst, src, kProtoTcp);
  ASSERT_GE(rst.size(), 20u);
  EXPECT_EQ(rst[13], kTcpRst);
  EXPECT_EQ(Get32(rst, 4), 4242u);
}

// One connection accepted by a lwIP listener on port 7777, driven from the
// peer's side by frames. What the application reads is kept in received().
class AcceptedConnection {
 public:
  static constexpr uint16_t kPeerPort = 45000;

  AcceptedConnection() {
    tcp_pcb* pcb = tcp_new_ip_type(IPADDR_TYPE_ANY);
    EXPECT_EQ(tcp_bind(pcb, IP_ANY_TYPE, 7777), ERR_OK);
    listener_ = tcp_listen(pcb);
    tcp_arg(listener_, this);
    tcp_accept(listener_, [](void* arg, tcp_pcb* newpcb, err_t) -> err_t {
      auto* self = static_cast<AcceptedConnection*>(arg);
      self->pcb_ = newpcb;
      tcp_arg(newpcb, self);
      tcp_recv(newpcb, [](void* arg, tcp_pcb* tpcb, pbuf* p, err_t) -> err_t {
        auto* self = static_cast<AcceptedConnection*>(arg);
        if (p == nullptr) return ERR_OK;
        std::string chunk(p->tot_len, '\0');
        pbuf_copy_partial(p, chunk.data(), p->tot_len, 0);
        self->received_ += chunk;
        tcp_recved(tpcb, p->tot_len);
        pbuf_free(p);
        return ERR_OK;
      });
      tcp_err(newpcb, [](void* arg, err_t) {
        auto* self = static_cast<AcceptedConnection*>(arg);
        self->pcb_ = nullptr;
        self->reset_ = true;
      });
      return ERR_OK;
    });
  }
  ~AcceptedConnection() {
    if (pcb_ != nullptr) {
      tcp_arg(pcb_, nullptr);
      tcp_err(pcb_, nullptr);
      tcp_recv(pcb_, nullptr);
      tcp_abort(pcb_);
    }
    tcp_close(listener_);
  }

  // The peer's segment to the listener's port, as a frame.
  static Bytes Frame(uint32_t seq, uint32_t ack, uint8_t flags, const std::string& data = "") {
    Segment seg;
    seg.sport = kPeerPort;
    seg.dport = 7777;
    seg.seq = seq;
    seg.ack = ack;
    seg.flags = flags;
    seg.payload = Text(data);
    return PeerTcpFrame(seg);
  }

  tcp_pcb* pcb() const { return pcb_; }
  const std::string& received() const { return received_; }
  bool reset() const { return reset_; }

 private:
  tcp_pcb* listener_ = nullptr;
  tcp_pcb* pcb_ = nullptr;
  std::string received_;
  bool reset_ = false;
};

// The TCP fields of a segment the stack sent.
struct SentSegment {
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;
  size_t payload = 0;
};
SentSegment ParseSent(const Bytes& frame) {
  Bytes tcp = ExpectIpv4(ExpectEthernet(frame, kPeerMac, kEtherIpv4), V4("10.42.0.2"),
                         V4("10.42.0.1"), kProtoTcp);
  SentSegment out;
  if (tcp.size() < 20) {
    ADD_FAILURE() << "short TCP segment";
    return out;
  }
  out.seq = Get32(tcp, 4);
  out.ack = Get32(tcp, 8);
  out.flags = tcp[13];
  out.payload = tcp.size() - (tcp[12] >> 4) * 4;
  return out;
}

class TcpSegmentCheckTest : public StackTest {
 protected:
  static constexpr uint32_t kPeerIsn = 1000;

  // Completes the handshake; afterwards peer_seq_ is RCV.NXT and
  // stack_seq_ SND.NXT of the stack's side.
  void Establish() {
    Start(Ipv4Options());
    LearnPeerIpv4();
    conn_ = std::make_unique<AcceptedConnection>();
    Send(AcceptedConnection::Frame(kPeerIsn, 0, kTcpSyn));
    std::vector<Bytes> sent = TakeSent();
    ASSERT_EQ(sent.size(), 1u);
    SentSegment synack = ParseSent(sent[0]);
    ASSERT_EQ(synack.flags, kTcpSyn | kTcpAck);
    peer_seq_ = kPeerIsn + 1;
    stack_seq_ = synack.seq + 1;
    Send(AcceptedConnection::Frame(peer_seq_, stack_seq_, kTcpAck));
    ASSERT_NE(conn_->pcb(), nullptr);
    ASSERT_EQ(conn_->pcb()->state, ESTABLISHED);
    TakeSent();
  }

  // Sends `data` in order with a correct ACK, and checks that it arrives.
  void SendGoodData(const std::string& data) {
    const size_t before = conn_->received().size();
    Send(AcceptedConnection::Frame(peer_seq_, stack_seq_, kTcpAck | kTcpPsh, data));
    peer_seq_ += static_cast<uint32_t>(data.size());
    EXPECT_EQ(conn_->received().substr(before), data);
  }

  // The one segment the stack sent since the last look: an ACK of
  // peer_seq_ from stack_seq_, without data.
  void ExpectChallengeAck() {
    std::vector<Bytes> sent = TakeSent();
    ASSERT_EQ(sent.size(), 1u) << "expected one (challenge) ACK";
    SentSegment ack = ParseSent(sent[0]);
    EXPECT_EQ(ack.flags, kTcpAck);
    EXPECT_EQ(ack.seq, stack_seq_);
    EXPECT_EQ(ack.ack, peer_seq_);
    EXPECT_EQ(ack.payload, 0u);
  }

  std::unique_ptr<AcceptedConnection> conn_;
  uint32_t peer_seq_ = 0;
  uint32_t stack_seq_ = 0;
};

TEST_F(TcpSegmentCheckTest, DataWithoutAckBitIsDropped) {
  Establish();
  Send(AcceptedConnection::Frame(peer_seq_, 0, kTcpPsh, "injected"));
  EXPECT_EQ(conn_->received(), "");
  EXPECT_TRUE(TakeSent().empty());
  SendGoodData("real");
  EXPECT_EQ(conn_->received(), "real");
}

TEST_F(TcpSegmentCheckTest, DataAckingUnsentDataIsDropped) {
  Establish();
  for (uint32_t ahead : {1u, 1000u, 1u << 30}) {
    SCOPED_TRACE(ahead);
    Send(AcceptedConnection::Frame(peer_seq_, stack_seq_ + ahead, kTcpAck | kTcpPsh, "injected"));
    EXPECT_EQ(conn_->received(), "");
    // Dropped with a challenge ACK, as Linux does.
    ExpectChallengeAck();
    fake_now_ms += 600;
  }
  SendGoodData("real");
}

TEST_F(TcpSegmentCheckTest, TooOldAckGetsOneChallengeAckPerHalfSecond) {
  Establish();
  const uint32_t too_old = stack_seq_ - 1 - 65535 - 1;  // Below SND.UNA - MAX.SND.WND.
  Send(AcceptedConnection::Frame(peer_seq_, too_old, kTcpAck | kTcpPsh, "injected"));
  EXPECT_EQ(conn_->received(), "");
  ExpectChallengeAck();
  fake_now_ms += 100;
  Send(AcceptedConnection::Frame(peer_seq_, too_old, kTcpAck | kTcpPsh, "injected"));
  EXPECT_TRUE(TakeSent().empty()) << "challenge ACKs are limited to one per 500 ms";
  fake_now_ms += 500;
  Send(AcceptedConnection::Frame(peer_seq_, too_old, kTcpAck | kTcpPsh, "injected"));
  ExpectChallengeAck();
  EXPECT_EQ(conn_->received(), "");
  // An old ACK inside the window is fine (a duplicate ACK with data).
  SendGoodData("real");
}

TEST_F(TcpSegmentCheckTest, InWindowResetGetsChallengeAckExactResetCloses) {
  Establish();
  Send(AcceptedConnection::Frame(peer_seq_ + 10, 0, kTcpRst));
  ExpectChallengeAck();
  EXPECT_FALSE(conn_->reset());
  Send(AcceptedConnection::Frame(peer_seq_ + 100000000, 0, kTcpRst));  // Outside.
  EXPECT_TRUE(TakeSent().empty());
  EXPECT_FALSE(conn_->reset());
  SendGoodData("still up");
  Send(AcceptedConnection::Frame(peer_seq_, 0, kTcpRst));
  EXPECT_TRUE(conn_->reset());
}

TEST_F(TcpSegmentCheckTest, SynOnEstablishedGetsChallengeAck) {
  Establish();
  Send(AcceptedConnection::Frame(peer_seq_ + 5000, 0, kTcpSyn));
  ExpectChallengeAck();
  EXPECT_FALSE(conn_->reset());
  fake_now_ms += 100;
  Send(AcceptedConnection::Frame(peer_seq_ + 5000, 0, kTcpSyn));
  EXPECT_TRUE(TakeSent().empty());
  SendGoodData("after syn");
}

TEST_F(TcpSegmentCheckTest, AckOfUnsentDataAfterCloseGetsChallengeAck) {
  Establish();
  // The stack closes: FIN_WAIT_1 once the peer has the FIN.
  tcp_pcb* pcb = conn_->pcb();
  ASSERT_EQ(tcp_close(pcb), ERR_OK);
  std::vector<Bytes> sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_EQ(ParseSent(sent[0]).flags & kTcpFin, kTcpFin);
  stack_seq_ += 1;  // The FIN.
  ASSERT_EQ(pcb->state, FIN_WAIT_1);
  Send(AcceptedConnection::Frame(peer_seq_, stack_seq_ + 1000, kTcpAck, ""));
  ExpectChallengeAck();
  EXPECT_EQ(pcb->state, FIN_WAIT_1);
}

// Ephemeral ports (lwIP patch 0009) -------------------------------------------

class EphemeralPortTest : public StackTest {
 protected:
  void TearDown() override {
    for (tcp_pcb* pcb : pcbs_) tcp_abort(pcb);
  }
  // A new connection to 10.42.0.1:`port`; its local port, or 0 if lwIP
  // found none (ERR_BUF).
  uint16_t Connect(uint16_t port) {
    tcp_pcb* pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
    ip_addr_t peer = IPADDR4_INIT_BYTES(10, 42, 0, 1);
    const err_t err = tcp_connect(pcb, &peer, port, nullptr);
    if (err != ERR_OK) {
      EXPECT_EQ(err, ERR_BUF);
      tcp_abort(pcb);
      return 0;
    }
    pcbs_.push_back(pcb);
    return pcb->local_port;
  }
  std::vector<tcp_pcb*> pcbs_;
};

// RFC 6056: consecutive connections to one destination do not get
// consecutive ports (lwIP's counter gave +1 each time), and they stay in
// Linux's range.
TEST_F(EphemeralPortTest, PortsAreInLinuxsRangeAndNotSequential) {
  Start(Ipv4Options());
  LearnPeerIpv4();
  std::vector<uint16_t> ports;
  for (int i = 0; i < 64; ++i) ports.push_back(Connect(80));
  int steps_of_one = 0;
  for (size_t i = 0; i < ports.size(); ++i) {
    EXPECT_GE(ports[i], 32768);
    EXPECT_LT(ports[i], 61000);
    if (i > 0 && ports[i] == ports[i - 1] + 1) ++steps_of_one;
  }
  EXPECT_LT(steps_of_one, 32) << "ports go up by one";
  std::sort(ports.begin(), ports.end());
  EXPECT_EQ(std::adjacent_find(ports.begin(), ports.end()), ports.end()) << "a port twice";
  TakeSent();
}

// Connections to different destinations share local ports, as on Linux:
// with every port of the range in use towards 10.42.0.1:80, a connection
// to port 81 still gets one, and one more to port 80 fails at once.
TEST_F(EphemeralPortTest, PortsAreSharedAcrossDestinationsUntilTheTupleIsTaken) {
  Start(Ipv4Options());
  LearnPeerIpv4();
  constexpr int kRange = 61000 - 32768;
  int made = 0;
  for (int i = 0; i < kRange && Connect(80) != 0; ++i) ++made;
  sent_.clear();
  EXPECT_EQ(made, kRange) << "every port of the range, once";
  EXPECT_EQ(Connect(80), 0) << "no port left for this four-tuple";
  EXPECT_NE(Connect(81), 0) << "another destination shares the ports";
  TakeSent();
}

// SYN cookies (lwIP patch 0008) ---------------------------------------------

class SynCookieTest : public StackTest {
 protected:
  void SetUp() override {
    StackTest::SetUp();
    Start(Ipv4Options());
    LearnPeerIpv4();
    tcp_pcb* pcb = tcp_new_ip_type(IPADDR_TYPE_ANY);
    ASSERT_EQ(tcp_bind(pcb, IP_ANY_TYPE, 7777), ERR_OK);
    listener_ = tcp_listen_with_backlog(pcb, 1);
    ASSERT_NE(listener_, nullptr);
    tcp_arg(listener_, this);
    tcp_accept(listener_, [](void* arg, tcp_pcb* newpcb, err_t err) -> err_t {
      if (err != ERR_OK || newpcb == nullptr) return ERR_VAL;
      // As stackd: counted in the backlog until the application accepts.
      tcp_backlog_delayed(newpcb);
      static_cast<SynCookieTest*>(arg)->accepted_.push_back(newpcb);
      return ERR_OK;
    });
  }
  void TearDown() override {
    for (tcp_pcb* pcb : accepted_) tcp_abort(pcb);
    if (listener_ != nullptr) tcp_close(listener_);
  }

  // The peer's segment from `sport` to the listener, as a frame.
  static Bytes Frame(uint16_t sport, uint32_t seq, uint32_t ack, uint8_t flags,
                     const Bytes& options = {}, uint16_t window = 65535) {
    Segment seg;
    seg.sport = sport;
    seg.dport = 7777;
    seg.seq = seq;
    seg.ack = ack;
    seg.flags = flags;
    seg.options = options;
    seg.window = window;
    return PeerTcpFrame(seg);
  }

  // Sends a SYN (MSS 1460, window scale 7) and returns the one SYN|ACK.
  Bytes Syn(uint16_t sport, uint32_t isn) {
    Send(Frame(sport, isn, 0, kTcpSyn, {2, 4, 0x05, 0xb4, 1, 3, 3, 7}));
    std::vector<Bytes> sent = TakeSent();
    EXPECT_EQ(sent.size(), 1u);
    if (sent.size() != 1) return {};
    Bytes tcp = ExpectIpv4(ExpectEthernet(sent[0], kPeerMac, kEtherIpv4), V4("10.42.0.2"),
                           V4("10.42.0.1"), kProtoTcp);
    EXPECT_EQ(tcp.size() >= 20 ? tcp[13] : 0, kTcpSyn | kTcpAck);
    EXPECT_EQ(tcp.size() >= 12 ? Get32(tcp, 8) : 0, isn + 1);
    return tcp;
  }

  // Options of a TCP segment, by kind.
  static std::vector<uint8_t> OptionKinds(const Bytes& tcp) {
    std::vector<uint8_t> kinds;
    const size_t end = (tcp[12] >> 4) * 4;
    for (size_t i = 20; i < end && i < tcp.size();) {
      if (tcp[i] == 0) break;
      if (tcp[i] == 1) {
        ++i;
        continue;
      }
      kinds.push_back(tcp[i]);
      if (i + 1 >= tcp.size() || tcp[i + 1] < 2) break;
      i += tcp[i + 1];
    }
    return kinds;
  }

  tcp_pcb* listener_ = nullptr;
  std::vector<tcp_pcb*> accepted_;
};

TEST_F(SynCookieTest, FullBacklogAnswersWithCookieWhoseAckMakesTheConnection) {
  // Fills the backlog of 1 with a half-open connection.
  Bytes first = Syn(46001, 100);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(OptionKinds(first), (std::vector<uint8_t>{2, 3})) << "a kept SYN: MSS and WS";
  // The next SYN gets a cookie: MSS only, no state.
  Bytes cookie = Syn(46002, 5000);
  ASSERT_FALSE(cookie.empty());
  EXPECT_EQ(OptionKinds(cookie), (std::vector<uint8_t>{2})) << "a cookie carries no WS";
  const uint32_t iss = Get32(cookie, 4);
  // Its ACK completes the handshake: half-open connections are the SYN
  // queue, not the accept queue, and do not stand in its way.
  Send(Frame(46002, 5001, iss + 1, kTcpAck));
  ASSERT_EQ(accepted_.size(), 1u);
  EXPECT_EQ(accepted_[0]->state, ESTABLISHED);
  EXPECT_EQ(accepted_[0]->remote_port, 46002);
  EXPECT_EQ(accepted_[0]->snd_nxt, iss + 1);
  EXPECT_EQ(accepted_[0]->rcv_nxt, 5001u);
  EXPECT_EQ(accepted_[0]->mss, 1460);
  TakeSent();
  // The half-open connection completes too.
  Send(Frame(46001, 101, Get32(first, 4) + 1, kTcpAck));
  ASSERT_EQ(accepted_.size(), 2u);
  EXPECT_EQ(accepted_[1]->remote_port, 46001);
  // Now the accept queue is full (2 waiting, backlog 1): a SYN is dropped,
  // as Linux drops it, with neither a cookie nor state.
  TakeSent();
  Send(Frame(46003, 9, 0, kTcpSyn));
  EXPECT_TRUE(TakeSent().empty());
}

TEST_F(SynCookieTest, WrongOrOldCookieIsReset) {
  Syn(46011, 1);  // The backlog is full from here on.
  auto expect_reset = [&](uint16_t sport, uint32_t seq, uint32_t ack) {
    Send(Frame(sport, seq, ack, kTcpAck));
    std::vector<Bytes> sent = TakeSent();
    ASSERT_EQ(sent.size(), 1u);
    Bytes rst = ExpectIpv4(ExpectEthernet(sent[0], kPeerMac, kEtherIpv4), V4("10.42.0.2"),
                           V4("10.42.0.1"), kProtoTcp);
    EXPECT_EQ(rst[13], kTcpRst);
  };
  const uint32_t wrong = Get32(Syn(46012, 7000), 4);
  expect_reset(46012, 7001, wrong + 2);              // Not the cookie + 1.
  expect_reset(46012, 7002, wrong + 1);              // Another peer ISN.
  const uint32_t old = Get32(Syn(46013, 9000), 4);
  fake_now_ms += 140'000;                             // Two clock periods later.
  expect_reset(46013, 9001, old + 1);
  EXPECT_TRUE(accepted_.empty());
  // A fresh cookie still works after all that.
  const uint32_t fresh = Get32(Syn(46014, 11000), 4);
  Send(Frame(46014, 11001, fresh + 1, kTcpAck));
  EXPECT_EQ(accepted_.size(), 1u);
}

// Retransmission and persist timing (lwIP patches 0016-0018) ----------------

// SynCookieTest's listener and frames, with the clock moved in 10 ms steps,
// below the TCP timer's 20 ms (lwIP re-arms it from the time it fires).
class TcpTimerTest : public SynCookieTest {
 protected:
  void SetUp() override {
    SynCookieTest::SetUp();
    // lwIP's RTT clock (slow timer ticks) starts with the first connection
    // of the process, and rttest 0 means "not timing": a SYN-ACK sent at
    // tick 0 would give no sample.
    if (tcp_ticks == 0) tcp_ticks = 1;
  }

  void Advance(uint32_t ms) {
    for (uint32_t i = 0; i < ms; i += 10) {
      fake_now_ms += 10;
      stack_->Poll();
    }
  }

  // The connection from `sport` after a handshake whose round trip took
  // `rtt_ms`, its ACK carrying `window` (scaled by 2^7).
  tcp_pcb* Establish(uint16_t sport, uint32_t rtt_ms, uint16_t window) {
    const Bytes syn_ack = Syn(sport, 1000);
    if (syn_ack.size() < 8) return nullptr;
    Advance(rtt_ms);
    Send(Frame(sport, 1001, Get32(syn_ack, 4) + 1, kTcpAck, {}, window));
    TakeSent();
    return accepted_.empty() ? nullptr : accepted_.back();
  }

  // Moves the clock on until the stack sends a TCP segment to `sport`, for
  // at most 3 s: how long that took and the segment (empty if none).
  std::pair<uint32_t, Bytes> NextSegment(uint16_t sport) {
    for (uint32_t waited = 10; waited <= 3000; waited += 10) {
      Advance(10);
      for (Bytes& frame : TakeSent()) {
        if (Get16(frame, 12) != kEtherIpv4) continue;
        Bytes tcp = ExpectIpv4(ExpectEthernet(frame, kPeerMac, kEtherIpv4), V4("10.42.0.2"),
                               V4("10.42.0.1"), kProtoTcp);
        if (tcp.size() >= 20 && Get16(tcp, 2) == sport) return {waited, tcp};
      }
    }
    return {0, {}};
  }

  // Writes one byte on `pcb` and returns when its first retransmission
  // came (ms after the first transmission; 0 if none in 3 s).
  uint32_t FirstRetransmission(tcp_pcb* pcb, uint16_t sport) {
    EXPECT_EQ(tcp_write(pcb, "x", 1, TCP_WRITE_FLAG_COPY), ERR_OK);
    EXPECT_EQ(tcp_output(pcb), ERR_OK);
    std::vector<Bytes> sent = TakeSent();
    EXPECT_EQ(sent.size(), 1u) << "the byte goes out at once";
    auto [ms, again] = NextSegment(sport);
    EXPECT_FALSE(again.empty()) << "no retransmission in 3 s";
    if (again.empty()) return 0;
    EXPECT_EQ(again.size(), 21u) << "the byte again";
    return ms;
  }
};

// With a round trip below the timer's resolution the RTO is Linux's
// minimum, 200 ms (patch 0017): not one 40 ms tick, and not the initial
// 1 s averaged down slowly (patch 0016).
TEST_F(TcpTimerTest, RtoAfterAFastHandshakeIsTheMinimum) {
  tcp_pcb* pcb = Establish(46100, 0, 65535);
  ASSERT_NE(pcb, nullptr);
  const uint32_t ms = FirstRetransmission(pcb, 46100);
  EXPECT_GE(ms, 160u);
  EXPECT_LE(ms, 250u);
}

// A 200 ms handshake is the first RTT sample: SRTT 200 ms, RTTVAR 100 ms,
// so RTO = 200 + 4 * 100 = 600 ms, as Linux (RFC 6298 2.2, patch 0016).
// Averaged into the initial estimate it came to about 960 ms.
TEST_F(TcpTimerTest, FirstRttSampleSetsTheRto) {
  tcp_pcb* pcb = Establish(46101, 200, 65535);
  ASSERT_NE(pcb, nullptr);
  const uint32_t ms = FirstRetransmission(pcb, 46101);
  EXPECT_GE(ms, 520u);
  EXPECT_LE(ms, 680u);
}

// A window closed from the start: the first zero-window probe one RTO
// (200 ms) later, the next after twice that (patch 0018; Linux's
// tcp_probe_timer). lwIP's fixed table waited 1.5 s, then 3 s.
TEST_F(TcpTimerTest, ZeroWindowProbesFollowTheRto) {
  tcp_pcb* pcb = Establish(46102, 0, 0);
  ASSERT_NE(pcb, nullptr);
  ASSERT_EQ(tcp_write(pcb, "abc", 3, TCP_WRITE_FLAG_COPY), ERR_OK);
  ASSERT_EQ(tcp_output(pcb), ERR_OK);
  EXPECT_TRUE(TakeSent().empty()) << "nothing fits a zero window";
  auto [first_ms, first] = NextSegment(46102);
  ASSERT_FALSE(first.empty()) << "no zero-window probe in 3 s";
  EXPECT_GE(first_ms, 160u);
  EXPECT_LE(first_ms, 250u);
  auto [second_ms, second] = NextSegment(46102);
  ASSERT_FALSE(second.empty()) << "no second probe in 3 s";
  EXPECT_GE(second_ms, 380u);
  EXPECT_LE(second_ms, 420u);
}

// tcp_fasttmr() walks the pcbs only when one has work for it (patch 0025):
// an idle connection costs no walk, and a delayed ACK still goes out at the
// next tick.
TEST_F(TcpTimerTest, FastTimerSkipsIdleConnectionsButSendsDelayedAcks) {
  tcp_pcb* pcb = Establish(46103, 0, 65535);
  ASSERT_NE(pcb, nullptr);
  Advance(100);
  EXPECT_EQ(tcp_fasttmr_needed, 0) << "nothing pending: no walk";
  Segment seg;
  seg.sport = 46103;
  seg.dport = 7777;
  seg.seq = pcb->rcv_nxt;
  seg.ack = pcb->snd_nxt;
  seg.flags = kTcpAck | kTcpPsh;
  seg.payload = Text("lone");
  const uint32_t expected_ack = pcb->rcv_nxt + 4;
  Send(PeerTcpFrame(seg));
  auto [ms, ack] = NextSegment(46103);
  ASSERT_FALSE(ack.empty()) << "the delayed ACK never came";
  EXPECT_LE(ms, 40u);
  EXPECT_EQ(Get32(ack, 8), expected_ack);
  Advance(40);
  EXPECT_EQ(tcp_fasttmr_needed, 0);
}

// A connect to a host that never answers: SYNs again after 1, 2, 4 ... s
// and ETIMEDOUT at 127 s, as Linux with tcp_syn_retries 6 (patch 0019).
// Without the back-off, a SYN every second and failure after about 7 s.
TEST_F(TcpTimerTest, SynRetransmissionsBackOffAsLinux) {
  tcp_pcb* pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
  ASSERT_NE(pcb, nullptr);
  static bool failed;
  failed = false;
  tcp_err(pcb, [](void*, err_t) { failed = true; });
  ip_addr_t peer;
  ASSERT_TRUE(ipaddr_aton("10.42.0.1", &peer));
  ASSERT_EQ(tcp_connect(pcb, &peer, 9, nullptr), ERR_OK);
  EXPECT_EQ(TakeSent().size(), 1u) << "the first SYN";
  std::vector<uint32_t> syn_ms;
  uint32_t failed_ms = 0;
  for (uint32_t ms = 10; ms <= 140'000 && failed_ms == 0; ms += 10) {
    Advance(10);
    for (const Bytes& frame : TakeSent()) {
      if (Get16(frame, 12) == kEtherIpv4) syn_ms.push_back(ms);
    }
    if (failed) failed_ms = ms;
  }
  const std::vector<uint32_t> linux_ms = {1000, 3000, 7000, 15000, 31000, 63000};
  ASSERT_EQ(syn_ms.size(), linux_ms.size());
  for (size_t i = 0; i < linux_ms.size(); ++i) {
    EXPECT_NEAR(syn_ms[i], linux_ms[i], 100) << "retransmission " << i + 1;
  }
  EXPECT_NEAR(failed_ms, 127'000, 200) << "when the connect fails";
  if (!failed) tcp_abort(pcb);
}

// Data that is never acknowledged: retransmitted 15 times (tcp_retries2)
// with the RTO doubling up to 120 s, and the connection given up one RTO
// after the last, without a RST, as Linux (patch 0032): about 15 minutes
// from a 200 ms RTO, where lwIP gave up after about 3.
TEST_F(TcpTimerTest, DataRetransmissionsBackOffTo120sAndGiveUpAsLinux) {
  tcp_pcb* pcb = Establish(46103, 0, 65535);
  ASSERT_NE(pcb, nullptr);
  static bool failed;
  failed = false;
  tcp_err(pcb, [](void*, err_t) { failed = true; });
  ASSERT_EQ(tcp_write(pcb, "x", 1, TCP_WRITE_FLAG_COPY), ERR_OK);
  ASSERT_EQ(tcp_output(pcb), ERR_OK);
  ASSERT_EQ(TakeSent().size(), 1u);
  std::vector<uint32_t> sent_ms;
  uint32_t failed_ms = 0;
  size_t rsts = 0;
  for (uint32_t ms = 10; ms <= 1'500'000 && failed_ms == 0; ms += 10) {
    Advance(10);
    std::vector<Bytes> frames = TakeSent();
    for (size_t i = 0; i < frames.size(); ++i) {
      if (Get16(frames[i], 12) != kEtherIpv4) {
        // The stack asks for the peer (its ARP entry aged out): the peer
        // asks back, which teaches the stack again and lets the queued
        // segment go. The stack's answer is not asked back.
        if (Get16(frames[i], 12) != kEtherArp || Get16(frames[i], 20) != 1) continue;
        Send(ArpRequestFrame(V4("10.42.0.1"), V4("10.42.0.2")));
        for (Bytes& more : TakeSent()) frames.push_back(std::move(more));
        continue;
      }
      Bytes tcp = ExpectIpv4(ExpectEthernet(frames[i], kPeerMac, kEtherIpv4),
                             V4("10.42.0.2"), V4("10.42.0.1"), kProtoTcp);
      if (tcp.size() < 20 || Get16(tcp, 2) != 46103) continue;
      if (tcp[13] & kTcpRst) {
        ++rsts;
      } else {
        sent_ms.push_back(ms);
      }
    }
    if (failed) failed_ms = ms;
  }
  if (failed) accepted_.clear();  // lwIP freed it.
  ASSERT_EQ(sent_ms.size(), 15u) << "retransmissions";
  const double rto = sent_ms[0];
  EXPECT_GE(rto, 160);
  EXPECT_LE(rto, 250);
  double expected = 0, interval = rto;
  for (size_t i = 0; i < sent_ms.size(); ++i) {
    expected += interval;
    EXPECT_NEAR(sent_ms[i], expected, 50 + expected / 100) << "retransmission " << i + 1;
    interval = std::min(interval * 2, 120'000.0);
  }
  EXPECT_NEAR(failed_ms, expected + interval, 50 + expected / 100) << "given up one RTO later";
  EXPECT_EQ(rsts, 0u) << "Linux sends no RST when it gives up";
}

// A SYN whose SYN-ACK is never acknowledged: 5 retransmissions
// (tcp_synack_retries) at 1, 3, 7, 15 and 31 s, and the half-open
// connection dropped at 63 s, as Linux (patch 0033).
TEST_F(TcpTimerTest, SynAckRetransmissionsStopAfterFiveAsLinux) {
  ASSERT_FALSE(Syn(46104, 1000).empty());
  auto half_open = [] {
    for (tcp_pcb* p = tcp_active_pcbs; p != nullptr; p = p->next) {
      if (p->state == SYN_RCVD && p->remote_port == 46104) return true;
    }
    return false;
  };
  std::vector<uint32_t> synack_ms;
  uint32_t dropped_ms = 0;
  for (uint32_t ms = 10; ms <= 90'000 && dropped_ms == 0; ms += 10) {
    Advance(10);
    for (const Bytes& frame : TakeSent()) {
      if (Get16(frame, 12) == kEtherIpv4) synack_ms.push_back(ms);
    }
    if (!half_open()) dropped_ms = ms;
  }
  const std::vector<uint32_t> linux_ms = {1000, 3000, 7000, 15000, 31000};
  ASSERT_EQ(synack_ms.size(), linux_ms.size()) << testing::PrintToString(synack_ms) << " dropped " << dropped_ms;
  for (size_t i = 0; i < linux_ms.size(); ++i) {
    EXPECT_NEAR(synack_ms[i], linux_ms[i], 100) << "retransmission " << i + 1;
  }
  EXPECT_NEAR(dropped_ms, 63'000, 200) << "when the half-open connection goes";
}

// Closed by the application and its FIN acknowledged, the connection
// waits 60 s in FIN-WAIT-2 for the peer's FIN (Linux's tcp_fin_timeout;
// patch 0036), not lwIP's 20 s.
TEST_F(TcpTimerTest, FinWait2LastsSixtySecondsAsLinux) {
  tcp_pcb* pcb = Establish(46105, 0, 65535);
  ASSERT_NE(pcb, nullptr);
  accepted_.pop_back();  // lwIP owns it once closed.
  const uint32_t snd_nxt = pcb->snd_nxt;
  ASSERT_EQ(tcp_close(pcb), ERR_OK);
  TakeSent();  // The FIN.
  Send(Frame(46105, 1001, snd_nxt + 1, kTcpAck));
  auto in_fin_wait_2 = [] {
    for (tcp_pcb* p = tcp_active_pcbs; p != nullptr; p = p->next) {
      if (p->remote_port == 46105 && p->state == FIN_WAIT_2) return true;
    }
    return false;
  };
  ASSERT_TRUE(in_fin_wait_2());
  uint32_t gone_ms = 0;
  for (uint32_t ms = 1000; ms <= 90'000 && gone_ms == 0; ms += 1000) {
    Advance(1000);
    TakeSent();
    if (!in_fin_wait_2()) gone_ms = ms;
  }
  EXPECT_NEAR(gone_ms, 61'000, 1000) << "when FIN-WAIT-2 gave up";
}

// The stack closed first, so its side is in TIME-WAIT. A SYN from the same
// port above everything received reopens the connection, with an ISN above
// every sequence number of the old one (RFC 6191, Linux: SND.NXT + 65537;
// patch 0020); an old SYN gets an ACK, as on Linux (patch 0034; the wire
// probe time_wait_syn_rules has the timestamp rules).
TEST_F(SynCookieTest, SynAboveTimeWaitReopensTheConnection) {
  const uint32_t iss = Get32(Syn(46200, 1000), 4);
  Send(Frame(46200, 1001, iss + 1, kTcpAck));
  ASSERT_EQ(accepted_.size(), 1u);
  tcp_pcb* pcb = accepted_.back();
  accepted_.pop_back();  // lwIP frees it in TIME-WAIT.
  ASSERT_EQ(tcp_close(pcb), ERR_OK);
  std::vector<Bytes> sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u) << "the stack's FIN";
  Send(Frame(46200, 1001, iss + 2, kTcpAck | kTcpFin));
  ASSERT_EQ(TakeSent().size(), 1u) << "the ACK of the peer's FIN";
  ASSERT_NE(tcp_tw_pcbs, nullptr) << "TIME-WAIT";

  Send(Frame(46200, 1002, 0, kTcpSyn));  // Not above RCV.NXT (1002).
  sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  Bytes reply = ExpectIpv4(ExpectEthernet(sent[0], kPeerMac, kEtherIpv4), V4("10.42.0.2"),
                           V4("10.42.0.1"), kProtoTcp);
  EXPECT_EQ(reply[13] & (kTcpRst | kTcpAck | kTcpSyn), kTcpAck) << "an old SYN is refused";
  EXPECT_EQ(Get32(reply, 8), 1002u) << "with what the old connection received";

  const Bytes syn_ack = Syn(46200, 101'000);
  ASSERT_GE(syn_ack.size(), 8u);
  EXPECT_EQ(Get32(syn_ack, 4), iss + 2 + 65537) << "the new ISN follows the old sequence space";
  EXPECT_EQ(tcp_tw_pcbs, nullptr) << "the TIME-WAIT connection is gone";
  Send(Frame(46200, 101'001, Get32(syn_ack, 4) + 1, kTcpAck));
  ASSERT_EQ(accepted_.size(), 1u);
  EXPECT_EQ(accepted_[0]->state, ESTABLISHED);
}

// RFC 7323 timestamps: TSval/TSecr of a segment's option, if it has one.
std::optional<std::pair<uint32_t, uint32_t>> Timestamps(const Bytes& tcp) {
  const size_t end = std::min<size_t>((tcp[12] >> 4) * 4, tcp.size());
  for (size_t i = 20; i + 1 < end;) {
    if (tcp[i] == 0) break;
    if (tcp[i] == 1) {
      ++i;
      continue;
    }
    if (tcp[i] == 8 && tcp[i + 1] == 10 && i + 10 <= end) {
      return std::make_pair(Get32(tcp, i + 2), Get32(tcp, i + 6));
    }
    if (tcp[i + 1] < 2) break;
    i += tcp[i + 1];
  }
  return std::nullopt;
}

Bytes TimestampOption(uint32_t tsval, uint32_t tsecr) {
  Bytes b = {1, 1, 8, 10};
  Put32(b, tsval);
  Put32(b, tsecr);
  return b;
}

// Timestamps are echoed, on a clock of the stack's own (sys_now() plus an
// offset per address pair, patch 0021), and PAWS (patch 0022) drops a
// segment whose TSval is older than the last one taken (RFC 7323 5.3), with
// an ACK, while the same bytes with a current TSval are taken.
TEST_F(SynCookieTest, TimestampsAreEchoedAndPawsDropsOldDuplicates) {
  Send(Frame(46300, 1000, 0, kTcpSyn, {2, 4, 0x05, 0xb4, 1, 3, 3, 7, 1, 1, 8, 10, 0, 0, 0x10,
                                       0, 0, 0, 0, 0}));  // TSval 4096.
  std::vector<Bytes> sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  const Bytes syn_ack = ExpectIpv4(ExpectEthernet(sent[0], kPeerMac, kEtherIpv4),
                                   V4("10.42.0.2"), V4("10.42.0.1"), kProtoTcp);
  const auto ts = Timestamps(syn_ack);
  ASSERT_TRUE(ts.has_value()) << "the SYN-ACK carries timestamps";
  EXPECT_EQ(ts->second, 4096u) << "TSecr echoes the SYN's TSval";
  const uint32_t offset = ts->first - static_cast<uint32_t>(fake_now_ms);
  EXPECT_NE(offset, 0u) << "TSval is not the stack's clock itself";
  const uint32_t iss = Get32(syn_ack, 4);
  Send(Frame(46300, 1001, iss + 1, kTcpAck, TimestampOption(5000, ts->first)));
  ASSERT_EQ(accepted_.size(), 1u);
  tcp_pcb* pcb = accepted_[0];
  TakeSent();

  auto data = [&](uint32_t tsval) {
    Segment seg;
    seg.sport = 46300;
    seg.dport = 7777;
    seg.seq = pcb->rcv_nxt;
    seg.ack = iss + 1;
    seg.flags = kTcpAck | kTcpPsh;
    seg.options = TimestampOption(tsval, ts->first);
    seg.payload = Text("data");
    Send(PeerTcpFrame(seg));
  };
  const uint32_t rcv_nxt = pcb->rcv_nxt;
  data(6000);
  EXPECT_EQ(pcb->rcv_nxt, rcv_nxt + 4) << "a current TSval is taken";
  TakeSent();
  data(5500);  // Older than TS.Recent (6000): an old duplicate.
  EXPECT_EQ(pcb->rcv_nxt, rcv_nxt + 4) << "PAWS drops it";
  sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u) << "and acknowledges it";
  const Bytes ack = ExpectIpv4(ExpectEthernet(sent[0], kPeerMac, kEtherIpv4), V4("10.42.0.2"),
                               V4("10.42.0.1"), kProtoTcp);
  EXPECT_EQ(Get32(ack, 8), rcv_nxt + 4);
  ASSERT_TRUE(Timestamps(ack).has_value());
  EXPECT_EQ(Timestamps(ack)->second, 6000u) << "TS.Recent did not go back";
  data(6001);
  EXPECT_EQ(pcb->rcv_nxt, rcv_nxt + 8) << "the next current segment is taken";

  // A second connection between the same two addresses: the same offset.
  tcp_backlog_accepted(pcb);  // Room in the backlog of 1.
  fake_now_ms += 10;
  Send(Frame(46301, 9000, 0, kTcpSyn, {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0}));
  sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  const auto ts2 = Timestamps(ExpectIpv4(ExpectEthernet(sent[0], kPeerMac, kEtherIpv4),
                                         V4("10.42.0.2"), V4("10.42.0.1"), kProtoTcp));
  ASSERT_TRUE(ts2.has_value());
  EXPECT_EQ(ts2->first - static_cast<uint32_t>(fake_now_ms), offset);
}

// A SYN cut into 8-byte IPv4 fragments (the smallest there are) is
// reassembled and answered, as Linux answers it (patch 0023). tcp_input
// dropped it as too short: its header spanned several pbufs.
TEST_F(SynCookieTest, SynInEightByteFragmentsIsAnswered) {
  Segment seg;
  seg.sport = 46400;
  seg.dport = 7777;
  seg.seq = 77;
  seg.flags = kTcpSyn;
  seg.options = {2, 4, 0x05, 0xb4, 4, 2, 1, 1, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};
  const Ip4 src = V4("10.42.0.1");
  const Ip4 dst = V4("10.42.0.2");
  const Bytes tcp = TcpBytes(src, dst, seg);
  ASSERT_EQ(tcp.size() % 8, 4u);
  for (size_t at = 0; at < tcp.size(); at += 8) {
    const size_t n = std::min<size_t>(8, tcp.size() - at);
    const bool more = at + n < tcp.size();
    Send(Ethernet(kStackMac, kPeerMac, kEtherIpv4,
                  Ipv4(src, dst, kProtoTcp, Slice(tcp, at, n),
                       static_cast<uint16_t>((more ? 0x2000 : 0) | (at / 8)))));
  }
  std::vector<Bytes> sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u) << "one SYN-ACK";
  const Bytes reply = ExpectIpv4(ExpectEthernet(sent[0], kPeerMac, kEtherIpv4), dst, src,
                                 kProtoTcp);
  EXPECT_EQ(reply[13], kTcpSyn | kTcpAck);
  EXPECT_EQ(Get32(reply, 8), 78u);
}

// ECN (RFC 3168, patch 0024) -------------------------------------------------

constexpr uint8_t kTcpEce = 0x40;
constexpr uint8_t kTcpUrg = 0x20;
constexpr uint8_t kTcpCwr = 0x80;

// `frame` (an IPv4 frame) with its TOS byte set to `tos`.
Bytes WithTos(Bytes frame, uint8_t tos) {
  frame[kEthHeader + 1] = tos;
  Bytes header = Slice(frame, kEthHeader, kIp4Header);
  FillChecksum(header, 10);
  std::copy(header.begin(), header.end(), frame.begin() + kEthHeader);
  return frame;
}

// A peer that asks for ECN gets it, as from Linux (tcp_ecn = 2): ECE in
// the SYN-ACK, new data ECT(0), CE echoed with ECE until CWR, and an ECE
// halves the window once and is answered with CWR.
TEST_F(SynCookieTest, EcnWhenThePeerAsksForIt) {
  Send(Frame(46500, 1000, 0, kTcpSyn | kTcpEce | kTcpCwr, {2, 4, 0x05, 0xb4}));
  std::vector<Bytes> sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  Bytes tcp = ExpectIpv4(ExpectEthernet(sent[0], kPeerMac, kEtherIpv4), V4("10.42.0.2"),
                         V4("10.42.0.1"), kProtoTcp);
  EXPECT_EQ(tcp[13], kTcpSyn | kTcpAck | kTcpEce) << "an ECN-setup SYN-ACK";
  EXPECT_EQ(ExpectEthernet(sent[0], kPeerMac, kEtherIpv4)[1] & 3, 0) << "a SYN-ACK is not ECT";
  const uint32_t iss = Get32(tcp, 4);
  Send(Frame(46500, 1001, iss + 1, kTcpAck));
  ASSERT_EQ(accepted_.size(), 1u);
  tcp_pcb* pcb = accepted_[0];
  tcp_nagle_disable(pcb);  // Each write goes at once.
  TakeSent();

  // New data is ECT(0).
  ASSERT_EQ(tcp_write(pcb, "abcd", 4, TCP_WRITE_FLAG_COPY), ERR_OK);
  ASSERT_EQ(tcp_output(pcb), ERR_OK);
  sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  Bytes ip = ExpectEthernet(sent[0], kPeerMac, kEtherIpv4);
  EXPECT_EQ(ip[1] & 3, 2) << "ECT(0) on new data";
  EXPECT_EQ(ip[kIp4Header + 13] & (kTcpEce | kTcpCwr), 0);

  // A CE-marked segment from the peer is acknowledged at once, with ECE.
  auto data = [&](uint8_t flags, uint8_t tos, uint32_t ack, const std::string& text) {
    Segment seg;
    seg.sport = 46500;
    seg.dport = 7777;
    seg.seq = pcb->rcv_nxt;
    seg.ack = ack;
    seg.flags = static_cast<uint8_t>(kTcpAck | flags);
    seg.payload = Text(text);
    Send(WithTos(PeerTcpFrame(seg), tos));
    return TakeSent();
  };
  sent = data(0, 0x03, iss + 1, "ce");
  ASSERT_EQ(sent.size(), 1u) << "an ACK at once";
  tcp = ExpectIpv4(ExpectEthernet(sent[0], kPeerMac, kEtherIpv4), V4("10.42.0.2"),
                   V4("10.42.0.1"), kProtoTcp);
  EXPECT_EQ(tcp[13] & kTcpEce, kTcpEce) << "CE is echoed";
  // The echo goes on until the peer's CWR.
  sent = data(kTcpCwr, 0x02, iss + 1, "cwr");
  tcp_output(pcb);  // Any delayed ACK goes now.
  sent = TakeSent();
  for (const Bytes& frame : sent) {
    tcp = ExpectIpv4(ExpectEthernet(frame, kPeerMac, kEtherIpv4), V4("10.42.0.2"),
                     V4("10.42.0.1"), kProtoTcp);
    EXPECT_EQ(tcp[13] & kTcpEce, 0) << "no ECE after CWR";
  }

  // An ECE from the peer: the window is halved once, and CWR goes on the
  // next new data.
  ASSERT_EQ(tcp_write(pcb, "efgh", 4, TCP_WRITE_FLAG_COPY), ERR_OK);
  ASSERT_EQ(tcp_output(pcb), ERR_OK);
  TakeSent();
  pcb->cwnd = 20 * pcb->mss;
  data(kTcpEce, 0x02, iss + 1 + 4, "x");
  EXPECT_EQ(pcb->cwnd, 10u * pcb->mss) << "halved";
  EXPECT_EQ(pcb->ssthresh, 10u * pcb->mss);
  data(kTcpEce, 0x02, iss + 1 + 4, "y");  // The same window: no second cut.
  EXPECT_EQ(pcb->cwnd, 10u * pcb->mss);
  ASSERT_EQ(tcp_write(pcb, "ijkl", 4, TCP_WRITE_FLAG_COPY), ERR_OK);
  ASSERT_EQ(tcp_output(pcb), ERR_OK);
  sent = TakeSent();
  ASSERT_FALSE(sent.empty());
  ip = ExpectEthernet(sent.back(), kPeerMac, kEtherIpv4);
  EXPECT_EQ(ip[kIp4Header + 13] & kTcpCwr, kTcpCwr) << "CWR on the next new data";
  EXPECT_EQ(ip[1] & 3, 2);

  // A retransmission is not ECT (RFC 3168 6.1.5).
  uint32_t waited = 0;
  std::vector<Bytes> again;
  while (again.empty() && waited < 3000) {
    fake_now_ms += 10;
    waited += 10;
    stack_->Poll();
    for (Bytes& frame : TakeSent()) {
      if (Get16(frame, 12) == kEtherIpv4) again.push_back(std::move(frame));
    }
  }
  ASSERT_FALSE(again.empty()) << "no retransmission in 3 s";
  ip = ExpectEthernet(again[0], kPeerMac, kEtherIpv4);
  EXPECT_EQ(ip[1] & 3, 0) << "a retransmission is not ECT";
}

// A SYN that does not ask for ECN gets a plain SYN-ACK and no ECT.
TEST_F(SynCookieTest, NoEcnUnlessThePeerAsks) {
  const Bytes syn_ack = Syn(46501, 1000);
  ASSERT_GE(syn_ack.size(), 20u);
  EXPECT_EQ(syn_ack[13], kTcpSyn | kTcpAck);
  Send(Frame(46501, 1001, Get32(syn_ack, 4) + 1, kTcpAck));
  ASSERT_EQ(accepted_.size(), 1u);
  TakeSent();
  ASSERT_EQ(tcp_write(accepted_[0], "abcd", 4, TCP_WRITE_FLAG_COPY), ERR_OK);
  ASSERT_EQ(tcp_output(accepted_[0]), ERR_OK);
  std::vector<Bytes> sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(ExpectEthernet(sent[0], kPeerMac, kEtherIpv4)[1] & 3, 0);
}

// An IPv4 path MTU learned from "fragmentation needed" for a connection is
// kept for the destination (tcp_path_mtu.cc, patch 0031): a later
// connection starts with segments that fit; after 10 minutes it is gone.
TEST_F(SynCookieTest, Ip4PathMtuIsKeptForTheDestinationForTenMinutes) {
  auto establish = [&](uint16_t sport) -> tcp_pcb* {
    const Bytes syn_ack = Syn(sport, 1000);
    if (syn_ack.size() < 8) return nullptr;
    Send(Frame(sport, 1001, Get32(syn_ack, 4) + 1, kTcpAck));
    if (accepted_.empty()) return nullptr;
    tcp_pcb* pcb = accepted_.back();
    tcp_backlog_accepted(pcb);
    TakeSent();
    return pcb;
  };
  ip4_addr_t peer;
  IP4_ADDR(&peer, 10, 42, 0, 1);
  tcp_pcb* first = establish(46600);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->mss, 1460);
  EXPECT_EQ(LearnedIp4PathMtu(peer), 0);

  const std::string full(1460, 'x');
  ASSERT_EQ(tcp_write(first, full.data(), full.size(), TCP_WRITE_FLAG_COPY), ERR_OK);
  ASSERT_EQ(tcp_output(first), ERR_OK);
  std::vector<Bytes> sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  const Bytes ip = ExpectEthernet(sent[0], kPeerMac, kEtherIpv4);
  Bytes icmp;
  Put8(icmp, 3);  // Destination unreachable,
  Put8(icmp, 4);  // fragmentation needed.
  Put16(icmp, 0);
  Put16(icmp, 0);
  Put16(icmp, 1200);  // Next-hop MTU.
  PutBytes(icmp, Slice(ip, 0, kIp4Header + 8));
  FillChecksum(icmp, 2);
  Send(Ethernet(kStackMac, kPeerMac, kEtherIpv4,
                Ipv4(V4("10.42.0.1"), V4("10.42.0.2"), kProtoIcmp, icmp)));
  EXPECT_EQ(first->mss, 1160);
  EXPECT_EQ(LearnedIp4PathMtu(peer), 1200);
  TakeSent();

  tcp_pcb* second = establish(46601);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->mss, 1160) << "a new connection starts with what fits";

  for (tcp_pcb* pcb : accepted_) tcp_abort(pcb);
  accepted_.clear();
  for (uint32_t i = 0; i < kPathMtuLifetimeSeconds; ++i) {
    fake_now_ms += 1000;
    stack_->Poll();
  }
  EXPECT_EQ(LearnedIp4PathMtu(peer), 0) << "expired";
  TakeSent();
  LearnPeerIpv4();  // The ARP entry aged out too.
  tcp_pcb* third = establish(46602);
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(third->mss, 1460);
}

// send(MSG_OOB) as Linux sends it (patch 0028): the urgent pointer points
// after the urgent byte, every segment below it carries URG (the
// retransmission of earlier data too), Nagle does not hold urgent data,
// and an ACK of the mark ends urgent mode.
TEST_F(SynCookieTest, UrgentDataCarriesTheUrgentPointer) {
  const Bytes syn_ack = Syn(46502, 1000);
  ASSERT_GE(syn_ack.size(), 20u);
  const uint32_t iss = Get32(syn_ack, 4);
  Send(Frame(46502, 1001, iss + 1, kTcpAck));
  ASSERT_EQ(accepted_.size(), 1u);
  tcp_pcb* pcb = accepted_[0];
  TakeSent();
  auto tcp_of = [](const Bytes& frame) {
    return ExpectIpv4(ExpectEthernet(frame, kPeerMac, kEtherIpv4), V4("10.42.0.2"),
                      V4("10.42.0.1"), kProtoTcp);
  };
  auto urgp = [](const Bytes& tcp) { return static_cast<uint16_t>(tcp[18] << 8 | tcp[19]); };

  ASSERT_EQ(tcp_write(pcb, "ab", 2, TCP_WRITE_FLAG_COPY), ERR_OK);
  ASSERT_EQ(tcp_output(pcb), ERR_OK);
  std::vector<Bytes> sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(tcp_of(sent[0])[13] & kTcpUrg, 0) << "ordinary data";

  // "cd" with "d" urgent, while "ab" is unacknowledged: Nagle would hold it.
  ASSERT_EQ(tcp_write(pcb, "cd", 2, TCP_WRITE_FLAG_COPY), ERR_OK);
  tcp_urgent(pcb);
  ASSERT_EQ(tcp_output(pcb), ERR_OK);
  sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u) << "urgent data is not held by Nagle";
  Bytes tcp = tcp_of(sent[0]);
  EXPECT_EQ(Get32(tcp, 4), iss + 3);
  EXPECT_EQ(tcp[13] & kTcpUrg, kTcpUrg);
  EXPECT_EQ(urgp(tcp), 2) << "the pointer is after the urgent byte";

  // A retransmission from "ab" is below the mark too.
  tcp_rexmit_rto(pcb);
  sent = TakeSent();
  ASSERT_GE(sent.size(), 1u);
  tcp = tcp_of(sent[0]);
  EXPECT_EQ(Get32(tcp, 4), iss + 1);
  EXPECT_EQ(tcp[13] & kTcpUrg, kTcpUrg);
  EXPECT_EQ(urgp(tcp), 4);

  // Once the mark is acknowledged, new data is ordinary again.
  Send(Frame(46502, 1001, iss + 5, kTcpAck));
  TakeSent();
  ASSERT_EQ(tcp_write(pcb, "ef", 2, TCP_WRITE_FLAG_COPY), ERR_OK);
  ASSERT_EQ(tcp_output(pcb), ERR_OK);
  sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  tcp = tcp_of(sent[0]);
  EXPECT_EQ(tcp[13] & kTcpUrg, 0);
  EXPECT_EQ(urgp(tcp), 0);
}

TEST_F(StackTest, DropsTcpHeaderLongerThanSegment) {
  Start(Ipv4Options());
  LearnPeerIpv4();
  TcpListener listener;
  const auto tcp_before = lwip_stats.tcp;

  // Data offset 15 words (60 bytes) in a 24-byte segment.
  Send(SynFrame(41000, 1, {2, 4, 0x05, 0xb4}, 15));
  // Data offset 4 words: less than the fixed header.
  Send(SynFrame(41001, 1, {}, 4));

  EXPECT_TRUE(TakeSent().empty());
  EXPECT_EQ(Delta(lwip_stats.tcp.lenerr, tcp_before.lenerr), 2);
  EXPECT_EQ(Delta(lwip_stats.tcp.drop, tcp_before.drop), 2);
}

TEST_F(StackTest, DropsTruncatedIpv6Header) {
  Start(Ipv6Options());
  Bytes full = NeighbourSolicitationFrame(V6("fd42::1"), V6("fd42::2"));
  const auto ip6_before = lwip_stats.ip6;
  for (size_t ip_bytes : {1, 8, 39}) {
    SCOPED_TRACE(ip_bytes);
    Send(Bytes(full.begin(), full.begin() + kEthHeader + ip_bytes));
  }
  // And a payload length beyond the frame.
  Bytes long_claim = full;
  long_claim[kEthHeader + 4] = 0x05;  // 1280+ bytes claimed.
  Send(long_claim);
  EXPECT_EQ(stack_->rx_dropped(), 0u);
  EXPECT_EQ(Delta(lwip_stats.ip6.drop, ip6_before.drop), 4);
  EXPECT_TRUE(TakeSent().empty());
}

// An ARP packet is 28 bytes. A request cut short must not be answered, even
// when the bytes it lacks would have made it a request for our address.
TEST_F(StackTest, TruncatedArpRequestIsNotAnswered) {
  Start(Ipv4Options());
  Bytes full = ArpRequestFrame(V4("10.42.0.1"), V4("10.42.0.2"));
  for (size_t arp_bytes : {1, 8, 27}) {
    SCOPED_TRACE(arp_bytes);
    Send(Bytes(full.begin(), full.begin() + kEthHeader + arp_bytes));
  }
  EXPECT_TRUE(TakeSent().empty());
  // The complete request still is.
  Send(full);
  EXPECT_EQ(TakeSent().size(), 1u);
}

// 6. Configuration errors -----------------------------------------------------

TEST_F(StackTest, GatewayOutsideEveryPrefixIsRefused) {
  for (const char* gw : {"10.43.0.1", "fd43::1"}) {
    SCOPED_TRACE(gw);
    Stack::Options options = Ipv4Options();
    options.addresses.push_back(*IpPrefix::Parse("fd42::2/64"));
    options.gateways.push_back(*IpAddress::Parse(gw));
    auto stack = Stack::Create(options, Recorder());
    EXPECT_EQ(stack.status().code(), absl::StatusCode::kInvalidArgument);
  }
  // The refused stacks left nothing behind: a good one comes up.
  Stack::Options options = Ipv4Options();
  options.gateways.push_back(*IpAddress::Parse("10.42.0.1"));
  Start(options);
  LearnPeerIpv4();
}

TEST_F(StackTest, GatewayInsideAPrefixIsAccepted) {
  Stack::Options options = Ipv4Options();
  options.addresses.push_back(*IpPrefix::Parse("fd42::2/64"));
  options.gateways.push_back(*IpAddress::Parse("10.42.0.1"));
  options.gateways.push_back(*IpAddress::Parse("fd42::1"));
  Start(options);
  ASSERT_EQ(stack_->link_netifs().size(), 1u);
}

TEST_F(StackTest, TooManyIpv6AddressesAreRefused) {
  Stack::Options options = Ipv4Options();
  for (int i = 1; i <= LWIP_IPV6_NUM_ADDRESSES; ++i) {
    options.addresses.push_back(
        *IpPrefix::Parse("fd42::" + std::to_string(i) + "/64"));
  }
  auto stack = Stack::Create(options, Recorder());
  EXPECT_EQ(stack.status().code(), absl::StatusCode::kInvalidArgument);

  options.addresses.pop_back();  // One slot is the link-local address.
  Start(options);
}

// Timers ----------------------------------------------------------------------

// Runs Poll() every 100 ms of fake time for `ms` milliseconds.
void RunFor(Stack& stack, uint32_t ms) {
  for (uint32_t t = 0; t < ms; t += 100) {
    fake_now_ms += 100;
    stack.Poll();
  }
}

// The ARP requests for `target` among `frames`.
int CountArpRequests(const std::vector<Bytes>& frames, const Ip4& target) {
  int count = 0;
  for (const Bytes& f : frames) {
    if (f.size() >= kEthHeader + 28 && Get16(f, 12) == kEtherArp &&
        Get16(f, kEthHeader + 6) == kArpRequest &&
        GetArray<4>(f, kEthHeader + 24) == target) {
      ++count;
    }
  }
  return count;
}

TEST_F(StackTest, RetriesArpOnTheFakeClockThenGivesUp) {
  Start(Ipv4Options());
  EXPECT_LE(stack_->NextTimeoutMs(), 1000u);
  Send(EchoRequestFrame(0x77, 1, Text("never answered")));
  EXPECT_EQ(CountArpRequests(TakeSent(), V4("10.42.0.1")), 1);

  // lwIP asks again on each ARP tick (1 s) until the entry is ARP_MAXPENDING
  // (3, patch 0027) ticks old, then drops it with the queued echo reply:
  // three requests in all, as Linux's 3 probes. An echo reply is ICMP, so
  // no ICMP host unreachable is made about it (patch 0026).
  RunFor(*stack_, 10'000);
  EXPECT_EQ(CountArpRequests(TakeSent(), V4("10.42.0.1")), 2);

  // A late answer finds nothing queued.
  Send(Ethernet(kStackMac, kPeerMac, kEtherArp,
                Arp(kArpReply, kPeerMac, V4("10.42.0.1"), kStackMac,
                    V4("10.42.0.2"))));
  EXPECT_TRUE(TakeSent().empty());
  EXPECT_LE(stack_->NextTimeoutMs(), 1000u);
}

TEST_F(StackTest, LearntNeighbourExpiresOnTheFakeClock) {
  Start(Ipv4Options());
  LearnPeerIpv4();
  Send(EchoRequestFrame(1, 1, Text("a")));
  std::vector<Bytes> sent = TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ExpectEchoReply(sent[0], 1, 1, Text("a"));

  // ARP_MAXAGE is 300 ticks of 1 s.
  RunFor(*stack_, 301'000);
  TakeSent();  // lwIP's own MLD and router solicitation traffic.

  Send(EchoRequestFrame(1, 2, Text("b")));
  EXPECT_EQ(CountArpRequests(TakeSent(), V4("10.42.0.1")), 1);
}

}  // namespace
}  // namespace stackd
