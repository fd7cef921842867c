#include "stackd/lwip_port/icmp_error.h"

#include <cerrno>
#include <cstring>
#include <iterator>

#include "lwip/inet_chksum.h"
#include "lwip/prot/ip.h"
#include "lwip/prot/ip6.h"

namespace stackd {
namespace {

constexpr size_t kIcmpHeader = 8;
constexpr size_t kQuotedTransport = 8;  // ports and the next 4 bytes
constexpr size_t kMaxMessage = 65535;

uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

uint32_t Get32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}

void SetIp4(ip_addr_t* a, const uint8_t* bytes) {
  ip_addr_set_zero_ip4(a);
  std::memcpy(&ip_2_ip4(a)->addr, bytes, 4);
}

void SetIp6(ip_addr_t* a, const uint8_t* bytes) {
  ip_addr_set_zero_ip6(a);
  std::memcpy(ip_2_ip6(a)->addr, bytes, 16);
}

// TCP, UDP, or an echo request of a ping socket (ICMP over IPv4, ICMPv6
// over IPv6, as `quoted_icmp`).
bool QuotesTransport(uint8_t protocol, uint8_t quoted_icmp) {
  return protocol == IP_PROTO_TCP || protocol == IP_PROTO_UDP || protocol == quoted_icmp;
}

// The one's complement sum of `a` then `b` is all ones (`a` has an even
// length): the checksum over both is right.
bool ChecksumOk(const uint8_t* a, size_t a_len, const uint8_t* b, size_t b_len) {
  uint32_t sum = 0;
  if (a_len != 0) sum += static_cast<uint16_t>(~inet_chksum(a, static_cast<u16_t>(a_len)));
  sum += static_cast<uint16_t>(~inet_chksum(b, static_cast<u16_t>(b_len)));
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

std::optional<IcmpError> ParseIcmp4(const uint8_t* b, size_t n) {
  if (n < 20) return std::nullopt;
  const size_t outer = static_cast<size_t>(b[0] & 0x0f) * 4;
  if (outer < 20 || b[9] != IP_PROTO_ICMP) return std::nullopt;
  const size_t total = Get16(b + 2);
  if (total < outer + kIcmpHeader || total > n) return std::nullopt;
  const uint8_t* icmp = b + outer;
  const size_t icmp_len = total - outer;
  if (!ChecksumOk(nullptr, 0, icmp, icmp_len)) return std::nullopt;
  IcmpError e;
  e.v4 = true;
  e.type = icmp[0];
  e.code = icmp[1];
  if (e.type != kIcmp4DestUnreachable && e.type != kIcmp4TimeExceeded &&
      e.type != kIcmp4ParameterProblem) {
    return std::nullopt;
  }
  e.info = Get32(icmp + 4);
  const uint8_t* inner = icmp + kIcmpHeader;
  if (icmp_len < kIcmpHeader + 20 || (inner[0] >> 4) != 4) return std::nullopt;
  const size_t inner_len = static_cast<size_t>(inner[0] & 0x0f) * 4;
  if (inner_len < 20 || icmp_len < kIcmpHeader + inner_len + kQuotedTransport ||
      !QuotesTransport(inner[9], IP_PROTO_ICMP)) {
    return std::nullopt;
  }
  e.protocol = inner[9];
  SetIp4(&e.offender, b + 12);
  SetIp4(&e.local, inner + 12);
  SetIp4(&e.remote, inner + 16);
  e.transport_at = outer + kIcmpHeader + inner_len;
  e.length = total;
  return e;
}

std::optional<IcmpError> ParseIcmp6(const uint8_t* b, size_t n) {
  constexpr size_t kIp6Header = 40;
  if (n < kIp6Header + kIcmpHeader || b[6] != IP6_NEXTH_ICMP6) return std::nullopt;
  const size_t icmp_len = Get16(b + 4);
  if (icmp_len < kIcmpHeader || kIp6Header + icmp_len > n) return std::nullopt;
  const uint8_t* icmp = b + kIp6Header;
  // The pseudo-header (RFC 8200 8.1): both addresses, the length, the
  // next header.
  uint8_t pseudo[40] = {};
  std::memcpy(pseudo, b + 8, 32);
  pseudo[34] = static_cast<uint8_t>(icmp_len >> 8);
  pseudo[35] = static_cast<uint8_t>(icmp_len);
  pseudo[39] = IP6_NEXTH_ICMP6;
  if (!ChecksumOk(pseudo, sizeof(pseudo), icmp, icmp_len)) return std::nullopt;
  IcmpError e;
  e.v4 = false;
  e.type = icmp[0];
  e.code = icmp[1];
  if (e.type != kIcmp6DestUnreachable && e.type != kIcmp6PacketTooBig &&
      e.type != kIcmp6TimeExceeded && e.type != kIcmp6ParameterProblem) {
    return std::nullopt;
  }
  e.info = Get32(icmp + 4);
  const uint8_t* inner = icmp + kIcmpHeader;
  if (icmp_len < kIcmpHeader + kIp6Header + kQuotedTransport || (inner[0] >> 4) != 6 ||
      !QuotesTransport(inner[6], IP6_NEXTH_ICMP6)) {
    return std::nullopt;  // Extension headers in the quoted packet: not ours.
  }
  e.protocol = inner[6];
  SetIp6(&e.offender, b + 8);
  SetIp6(&e.local, inner + 8);
  SetIp6(&e.remote, inner + 24);
  e.transport_at = kIp6Header + kIcmpHeader + kIp6Header;
  e.length = kIp6Header + icmp_len;
  return e;
}

}  // namespace

std::optional<uint32_t> IcmpError::PathMtu() const {
  if (v4 && type == kIcmp4DestUnreachable && code == kIcmp4FragmentationNeeded) {
    return info & 0xffff;
  }
  if (!v4 && type == kIcmp6PacketTooBig) return info;
  return std::nullopt;
}

std::optional<IcmpErrorReport> ReportForSocket(const IcmpError& e) {
  IcmpErrorReport r;
  if (e.v4) {
    // icmp_err_convert[], by "destination unreachable" code.
    static constexpr struct {
      int error;
      bool hard;
    } kUnreachable[] = {
        {ENETUNREACH, false},   // net unreachable
        {EHOSTUNREACH, false},  // host unreachable
        {ENOPROTOOPT, true},    // protocol unreachable
        {ECONNREFUSED, true},   // port unreachable
        {EMSGSIZE, false},      // fragmentation needed (below)
        {EOPNOTSUPP, false},    // source route failed
        {ENETUNREACH, true},    // net unknown
        {EHOSTDOWN, true},      // host unknown
        {ENONET, true},         // host isolated
        {ENETUNREACH, true},    // net prohibited
        {EHOSTUNREACH, true},   // host prohibited
        {ENETUNREACH, false},   // net unreachable for TOS
        {EHOSTUNREACH, false},  // host unreachable for TOS
        {EHOSTUNREACH, true},   // communication prohibited
        {EHOSTUNREACH, true},   // host precedence violation
        {EHOSTUNREACH, true},   // precedence cutoff
    };
    switch (e.type) {
      case kIcmp4TimeExceeded:
        r.error = EHOSTUNREACH;
        return r;
      case kIcmp4ParameterProblem:
        r.error = EPROTO;
        r.hard = true;
        r.info = e.info >> 24;  // the pointer
        return r;
      case kIcmp4DestUnreachable:
        if (e.code == kIcmp4FragmentationNeeded) {
          r.error = EMSGSIZE;
          r.hard = true;  // IP_PMTUDISC_WANT
          r.info = e.info & 0xffff;
        } else if (e.code < std::size(kUnreachable)) {
          r.error = kUnreachable[e.code].error;
          r.hard = kUnreachable[e.code].hard;
        } else {
          r.error = EHOSTUNREACH;
        }
        return r;
      default:
        return std::nullopt;
    }
  }
  r.info = e.info;
  switch (e.type) {
    case kIcmp6DestUnreachable: {
      static constexpr struct {
        int error;
        bool hard;
      } kUnreachable[] = {
          {ENETUNREACH, false},   // no route
          {EACCES, true},         // administratively prohibited
          {EHOSTUNREACH, false},  // beyond the scope of the source
          {EHOSTUNREACH, false},  // address unreachable
          {ECONNREFUSED, true},   // port unreachable
          {EACCES, true},         // source address failed policy
          {EACCES, true},         // reject route
      };
      if (e.code < std::size(kUnreachable)) {
        r.error = kUnreachable[e.code].error;
        r.hard = kUnreachable[e.code].hard;
      } else {
        r.error = EPROTO;
        r.hard = true;
      }
      return r;
    }
    case kIcmp6PacketTooBig:
      r.error = EMSGSIZE;
      r.hard = true;  // IPV6_PMTUDISC_WANT
      return r;
    case kIcmp6TimeExceeded:
      r.error = EHOSTUNREACH;
      return r;
    case kIcmp6ParameterProblem:
      r.error = EPROTO;
      r.hard = true;
      return r;
    default:
      return std::nullopt;
  }
}

bool SameAddress(const ip_addr_t& a, const ip_addr_t& b) {
  if (IP_IS_V4_VAL(a) != IP_IS_V4_VAL(b)) return false;
  return IP_IS_V4_VAL(a) ? ip4_addr_eq(ip_2_ip4(&a), ip_2_ip4(&b))
                         : ip6_addr_zoneless_eq(ip_2_ip6(&a), ip_2_ip6(&b));
}

std::optional<IcmpError> ParseIcmpError(const uint8_t* message, size_t n) {
  if (message == nullptr || n == 0 || n > kMaxMessage) return std::nullopt;
  std::optional<IcmpError> e;
  switch (message[0] >> 4) {
    case 4:
      e = ParseIcmp4(message, n);
      break;
    case 6:
      e = ParseIcmp6(message, n);
      break;
    default:
      return std::nullopt;
  }
  if (!e) return e;
  const uint8_t* t = message + e->transport_at;
  if (e->protocol == IP_PROTO_ICMP || e->protocol == IP6_NEXTH_ICMP6) {
    // A ping socket's echo request: its identifier is its "port".
    if (t[0] != (e->v4 ? kIcmp4EchoRequest : kIcmp6EchoRequest) || t[1] != 0) {
      return std::nullopt;
    }
    e->local_port = Get16(t + 4);
    e->remote_port = 0;
  } else {
    e->local_port = Get16(t);
    e->remote_port = Get16(t + 2);
  }
  e->transport_word = Get32(t + 4);
  return e;
}

}  // namespace stackd
