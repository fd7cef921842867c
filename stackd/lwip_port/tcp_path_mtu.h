// Path MTU discovery for TCP (RFC 1191, RFC 8201): an ICMP "fragmentation
// needed" or ICMPv6 "packet too big" that quotes a segment of a connection,
// with a sequence number between SND.UNA and SND.NXT (RFC 5927 4.1, as
// Linux checks), lowers that connection's MSS, and what did not fit is
// sent again at once (lwIP patch 0012, tcp_pmtu_update). As on Linux, a
// reported MTU below 552 (IPv4) or 1280 (IPv6) counts as that floor.
//
// The path MTU is kept per destination for later connections, for 10
// minutes from the last time it fell (Linux's mtu_expires), and IP_MTU and
// IPV6_MTU report it: for IPv6 in lwIP's destination cache (patches 0029,
// 0030), for IPv4 in a table of stackd's (lwIP has none; patch 0031 lets
// TCP size its segments from it).
//
// Thread: the stack thread.
#ifndef STACKD_LWIP_PORT_TCP_PATH_MTU_H_
#define STACKD_LWIP_PORT_TCP_PATH_MTU_H_

#include <cstdint>

struct ip4_addr;

namespace stackd {

// How long a learned path MTU stands: Linux's net.ipv4.route.mtu_expires
// and net.ipv6.route.mtu_expires.
constexpr uint32_t kPathMtuLifetimeSeconds = 600;

// The path MTU learned for an IPv4 destination, or 0 if none is known.
uint16_t LearnedIp4PathMtu(const ip4_addr& destination);

// Starts watching ICMP and ICMPv6 for path MTU errors (idempotent; after
// lwip_init()).
void WatchTcpPathMtu();

}  // namespace stackd

#endif  // STACKD_LWIP_PORT_TCP_PATH_MTU_H_
