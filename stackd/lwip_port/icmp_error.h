// An ICMP or ICMPv6 error message as lwIP hands it to a raw pcb (the outer
// IP header first), read far enough to find the socket whose packet it
// quotes: by the quoted packet's addresses, protocol and ports.
#ifndef STACKD_LWIP_PORT_ICMP_ERROR_H_
#define STACKD_LWIP_PORT_ICMP_ERROR_H_

#include <cstddef>
#include <cstdint>
#include <optional>

#include "lwip/ip_addr.h"

namespace stackd {

// ICMP (RFC 792) and ICMPv6 (RFC 4443) types and codes stackd acts on.
inline constexpr uint8_t kIcmp4DestUnreachable = 3;
inline constexpr uint8_t kIcmp4PortUnreachable = 3;
inline constexpr uint8_t kIcmp4FragmentationNeeded = 4;
inline constexpr uint8_t kIcmp4TimeExceeded = 11;
inline constexpr uint8_t kIcmp4ParameterProblem = 12;
inline constexpr uint8_t kIcmp6DestUnreachable = 1;
inline constexpr uint8_t kIcmp6PacketTooBig = 2;
inline constexpr uint8_t kIcmp6TimeExceeded = 3;
inline constexpr uint8_t kIcmp6ParameterProblem = 4;
inline constexpr uint8_t kIcmp6PortUnreachable = 4;
inline constexpr uint8_t kIcmp4EchoRequest = 8;
inline constexpr uint8_t kIcmp6EchoRequest = 128;

struct IcmpError {
  bool v4 = true;  // ICMP over IPv4, else ICMPv6
  uint8_t type = 0;
  uint8_t code = 0;
  // Bytes 4-7 of the ICMP header: the next-hop MTU of "fragmentation
  // needed" (low 16 bits, RFC 1191), the MTU of "packet too big".
  uint32_t info = 0;
  ip_addr_t offender;  // who sent the message
  // The quoted packet, which stackd sent: its source is ours.
  ip_addr_t local;
  ip_addr_t remote;
  // IP_PROTO_TCP, IP_PROTO_UDP, or IP_PROTO_ICMP / IP6_NEXTH_ICMP6 for the
  // echo request of a ping socket, whose identifier is then local_port
  // (remote_port 0).
  uint8_t protocol = 0;
  uint16_t local_port = 0;
  uint16_t remote_port = 0;
  // Bytes 4-7 of the quoted transport header (TCP: the sequence number),
  // host order.
  uint32_t transport_word = 0;
  // Where the quoted transport header starts in the message, and how many
  // bytes of the message there are from the outer IP header on.
  size_t transport_at = 0;
  size_t length = 0;

  // The largest IP packet the path carries, if this error is a
  // "fragmentation needed" or a "packet too big" (which may say 0).
  std::optional<uint32_t> PathMtu() const;
};

// What Linux makes of an error for a socket (icmp_err_convert() and
// icmpv6_err_convert() as __udp4_lib_err(), __udp6_lib_err(), tcp_v4_err()
// and tcp_v6_err() use them, with path MTU discovery on, Linux's default):
// the errno, whether it is "hard" (reported to a connected UDP socket even
// without IP_RECVERR), and the ee_info of sock_extended_err.
struct IcmpErrorReport {
  int error = 0;
  bool hard = false;
  uint32_t info = 0;
};
std::optional<IcmpErrorReport> ReportForSocket(const IcmpError& e);

// Parses `message` (`n` bytes from the outer IP header on). Empty unless it
// is a well-formed ICMP or ICMPv6 error with a correct checksum, quoting
// at least 8 bytes of a TCP or UDP header or of an echo request.
std::optional<IcmpError> ParseIcmpError(const uint8_t* message, size_t n);

// The same address, ignoring IPv6 zones (a quoted packet carries none).
bool SameAddress(const ip_addr_t& a, const ip_addr_t& b);

}  // namespace stackd

#endif  // STACKD_LWIP_PORT_ICMP_ERROR_H_
