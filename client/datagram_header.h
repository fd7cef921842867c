// The header that starts every datagram on a stack UDP socket's pair
// (docs/socket-protocol.md, "UDP on the pair"), and the mark stackd leaves
// on the application's end of the pair: pure conversions between them and
// the socket addresses, control messages and limits programs see.
//
// Layout (64 bytes; multi-byte fields in network order):
//   0 version (2)   1 flags   2 peer family   3 local family
//   4 peer port (2)           6 error (2)
//   8 peer scope id (4)      12 interface index (4)
//  16 peer address (16)      32 local address (16)
//  48 more flags    49 TTL / hop limit   50 TOS / traffic class   51 0
//  52 local port (2)         54 0 (2)
//  56 arrival time (8): nanoseconds since the epoch (CLOCK_REALTIME)
// An IPv4 address fills the first 4 bytes of its field. Families are 0
// (none), AF_INET or AF_INET6. stackd and the library both use this file.
#ifndef CLIENT_DATAGRAM_HEADER_H_
#define CLIENT_DATAGRAM_HEADER_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

namespace stackd::client {

inline constexpr size_t kDatagramHeaderBytes = 64;
inline constexpr uint8_t kDatagramVersion = 2;
// stackd -> application: the control messages the socket asked for, each
// made from the header's fields: IP_PKTINFO / IPV6_PKTINFO (local address,
// interface), IP_TTL / IPV6_HOPLIMIT (ttl), IP_TOS / IPV6_TCLASS (tos),
// SO_TIMESTAMP (arrival time); in `more_flags` SO_TIMESTAMPNS and
// IP_ORIGDSTADDR / IPV6_ORIGDSTADDR (local address and port).
inline constexpr uint8_t kDatagramFlagPktInfo = 0x01;
inline constexpr uint8_t kDatagramFlagPktInfo6 = 0x02;
inline constexpr uint8_t kDatagramFlagTtl = 0x04;
inline constexpr uint8_t kDatagramFlagTos = 0x08;
inline constexpr uint8_t kDatagramFlagHopLimit = 0x10;
inline constexpr uint8_t kDatagramFlagTclass = 0x20;
inline constexpr uint8_t kDatagramFlagTimestamp = 0x40;
inline constexpr uint8_t kDatagramMoreTimestampNs = 0x01;
inline constexpr uint8_t kDatagramMoreOrigDst = 0x02;
inline constexpr uint8_t kDatagramMoreOrigDst6 = 0x04;
// stackd -> application: not a datagram but an error for the next receive
// call (`error`, e.g. ECONNREFUSED).
inline constexpr uint8_t kDatagramFlagError = 0x80;

// The largest UDP payloads through the stack: IPv4's, and IPv6's as lwIP's
// 16-bit packet lengths allow (Linux allows 65527 for IPv6).
inline constexpr size_t kMaxUdpPayload4 = 65507;
inline constexpr size_t kMaxUdpPayload6 = 65487;

struct DatagramHeader {
  uint8_t flags = 0;
  uint8_t family = 0;        // Of `peer`.
  uint8_t local_family = 0;  // Of `local`.
  uint16_t port = 0;         // Host order here.
  uint16_t error = 0;
  uint32_t scope_id = 0;
  uint32_t ifindex = 0;
  uint8_t peer[16] = {};
  uint8_t local[16] = {};
  uint8_t more_flags = 0;
  uint8_t ttl = 0;   // of the IP header that carried the datagram
  uint8_t tos = 0;
  uint16_t local_port = 0;  // Host order here.
  uint64_t time_ns = 0;
};

void EncodeDatagramHeader(const DatagramHeader& header,
                          uint8_t out[kDatagramHeaderBytes]);
// False if `len` bytes at `in` are not a header of this version (too short,
// another version, an unknown family).
bool DecodeDatagramHeader(const uint8_t* in, size_t len, DatagramHeader* out);

// Fills the peer fields of `header` with the destination `addr` of a send
// on a socket of `domain`, as Linux's udp_sendmsg / udpv6_sendmsg read it:
// an AF_INET address on an AF_INET6 socket travels IPv4-mapped; AF_UNSPEC
// on an AF_INET6 socket means "no address" (the connected peer) and sets
// nothing. Returns 0, or EINVAL (`len` too short, port 0 unless
// `any_port` (a ping socket's destination has none), unknown family on an
// AF_INET6 socket), EAFNOSUPPORT (AF_INET6 on an AF_INET socket).
int SetDatagramDestination(const sockaddr* addr, socklen_t len, int domain,
                           DatagramHeader* header, bool any_port = false);

// The largest payload the header's destination takes: kMaxUdpPayload4 for
// IPv4 and IPv4-mapped, kMaxUdpPayload6 for IPv6.
size_t MaxDatagramPayload(const DatagramHeader& header);

// The header's peer as a socket address; returns its size (0 if the
// header has no peer).
socklen_t DatagramPeer(const DatagramHeader& header, sockaddr_storage* out);

// The control messages the header asks for, written to `control`
// (`control_len` bytes) as recvmsg(2) does, in Linux's order: timestamps,
// then for an AF_INET6 socket IPV6_PKTINFO, then the IPv4 messages of an
// IPv4 datagram (IP_PKTINFO, IP_TTL, IP_TOS, IP_ORIGDSTADDR) or the IPv6
// ones of an IPv6 datagram (IPV6_HOPLIMIT, IPV6_TCLASS, IPV6_ORIGDSTADDR).
// Returns the bytes used; sets *truncated if some did not fit
// (MSG_CTRUNC).
size_t DatagramControl(const DatagramHeader& header, void* control,
                       size_t control_len, bool* truncated);

// The mark on the application's end of a UDP socket's pair (its
// SO_RCVLOWAT, a value AF_UNIX datagram sockets keep but do not use): it
// says "stack UDP socket", the socket's family and, when connected, the
// largest payload its peer takes.
inline constexpr int kDatagramMarkBase = 0x53400000;
inline constexpr int kDatagramMarkMask = 0x7ffc0000;
inline constexpr int kDatagramMarkInet6 = 0x00010000;
inline constexpr int kDatagramMarkPing = 0x00020000;  // An ICMP echo socket.
struct DatagramMark {
  int domain = AF_INET;           // AF_INET or AF_INET6.
  size_t connected_limit = 0;     // 0: not connected.
  bool ping = false;              // ICMP echo: datagrams are echo messages.
};
// True, and *out filled, if `value` is a mark.
bool ParseDatagramMark(int value, DatagramMark* out);

}  // namespace stackd::client

#endif  // CLIENT_DATAGRAM_HEADER_H_
