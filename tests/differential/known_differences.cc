// Where stackd's sockets differ from Linux's, by design or not yet fixed,
// in one place. An entry is a glob over case ids ("case/ip/world") and the
// reason. A listed case that matches Linux fails, so fixed entries go.
#include <fnmatch.h>

#include <string>

#include "tests/differential/case.h"

namespace stackd::differential {
namespace {

struct Difference {
  const char* pattern;
  const char* reason;
};

const Difference kDifferences[] = {
    // --- By the design of the pair (docs/socket-protocol.md) ---------------
    // The kernel raises POLLERR on an AF_UNIX socket only when its peer
    // closes with unread data; stackd cannot make the application's end
    // report a TCP reset as POLLERR. read/recv/send report the reset.
    {"tcp_close/peer_resets/*", "no POLLERR on the pair after a reset"},
    {"tcp_close/peer_closes_then_writes/*", "no POLLERR on the pair after a reset"},
    {"tcp_connect/after_reset/*", "no POLLERR on the pair after a reset"},
    {"tcp_close/linger_zero_resets/*/stack_lo", "peer is a stack socket: no POLLERR after a reset"},
    {"tcp_close/unread_data_resets/*/stack_lo", "peer is a stack socket: no POLLERR after a reset"},
    {"tcp_listen/close_with_queue/*/stack_lo", "peer is a stack socket: no POLLERR after a reset"},
    {"tcp_listen/reset_before_accept/*", "no POLLERR on the pair after a reset"},
    {"tcp_listen/shutdown_r*_with_queue/*", "poll bits of a shut listener (IN|RDHUP, not OUT|HUP); listen() again is EINVAL: the pair cannot be reopened"},
    {"tcp_listen/shutdown_wakes_accept/*", "poll bits of a shut listener (IN|RDHUP, not OUT|HUP); listen() again is EINVAL: the pair cannot be reopened"},
    // An unconnected or listening socket's fd is already the pair: writes
    // are taken (later sent, or dropped on a listener), reads wait.
    {"tcp_io/unconnected/*", "an unconnected fd is the pair: writable, reads block (Linux: EPIPE, ENOTCONN)"},
    {"tcp_io/listener/*", "a listener's fd is the pair: recv reads nothing (Linux: ENOTCONN)"},
    // shutdown(SHUT_RD) ends the pair's direction to the application;
    // Linux keeps queueing what arrives later.
    {"tcp_shutdown/connected_rd/*", "SHUT_RD ends the pair's stream for good (Linux still delivers later data)"},
    {"tcp_shutdown/connected_rdwr/*", "SHUT_RDWR: the reset for later data is sent, but the pair already reads EOF"},
    // UDP errors: a datagram pair has no error queue and no POLLERR.
    {"udp/icmp_refused_connected/*", "no POLLERR on the pair for an ICMP error (SO_ERROR and the next receive report it, as Linux)"},
    {"udp/recverr_queue/*", "no POLLERR on the pair for a queued error (recvmsg(MSG_ERRQUEUE) returns it as Linux)"},
    // An unconnected send goes to the pair and is taken: a routing error
    // found later by stackd cannot be sendto's return value.
    {"udp/broadcast_permission/*", "255.255.255.255 without a default route: taken by the pair, where Linux's sendto says ENETUNREACH"},
    {"udp_cmsg/so_timestamp/*", "SIOCGSTAMP is not served (the control messages are)"},
    {"udp_cmsg/siocgstamp_none/*", "SIOCGSTAMP is not served: ENOTTY, not ENOENT"},
    // --- What lwIP does not have (yet) --------------------------------------
    {"tcp_connect/to_itself/*", "lwIP has no simultaneous open: a socket cannot connect to itself"},
    {"tcp_info/established/*", "TCP_INFO: lwIP measures RTT in 40 ms timer ticks (rtt 0 on a fast path), counts no segments; cwnd one segment apart"},
    {"tcp_connect/af_unspec_disconnects/*", "connect(AF_UNSPEC) does not disconnect a TCP socket"},
    {"udp/sizes/v6/*", "lwIP's 16-bit lengths: IPv6 datagrams up to 65487 bytes (Linux 65527)"},
    // --- Values that are Linux's own ------------------------------------------
    {"option_tcp/tcp_congestion_default/*", "by design: lwIP runs Reno; Linux reports the host's default (bbr, cubic)"},
    {"option_*/so_linger/*", "a negative l_linger: Linux reports its jiffies arithmetic"},
};

}  // namespace

const char* KnownDifference(const std::string& id) {
  for (const Difference& d : kDifferences) {
    if (fnmatch(d.pattern, id.c_str(), 0) == 0) return d.reason;
  }
  return nullptr;
}

}  // namespace stackd::differential
