// Path MTU discovery for TCP (RFC 1191, RFC 8201): an ICMP "fragmentation
// needed" or ICMPv6 "packet too big" that quotes a segment of a connection,
// with a sequence number between SND.UNA and SND.NXT (RFC 5927 4.1, as
// Linux checks), lowers that connection's MSS, and what did not fit is
// sent again at once (lwIP patch 0012, tcp_pmtu_update). As on Linux, a
// reported MTU below 552 (IPv4) or 1280 (IPv6) counts as that floor.
//
// lwIP's destination cache keeps an IPv6 path's MTU for later connections;
// IPv4 has no such cache in lwIP, so a later IPv4 connection learns the
// path's MTU again from its first full-sized segment.
//
// Thread: the stack thread.
#ifndef STACKD_LWIP_PORT_TCP_PATH_MTU_H_
#define STACKD_LWIP_PORT_TCP_PATH_MTU_H_

namespace stackd {

// Starts watching ICMP and ICMPv6 for path MTU errors (idempotent; after
// lwip_init()).
void WatchTcpPathMtu();

}  // namespace stackd

#endif  // STACKD_LWIP_PORT_TCP_PATH_MTU_H_
