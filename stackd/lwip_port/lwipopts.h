// lwIP configuration for stackd.
//
// stackd runs one lwIP instance per process, owned by one thread (the stack
// thread), over a Linux TAP device with a large MTU. Values that differ from
// lwIP's defaults (src/include/lwip/opt.h), and why:
//
// - NO_SYS=1, no sequential/socket API: the stack thread drives lwIP's raw
//   API from an event loop; applications reach sockets through stackd's own
//   protocol, never through lwIP's sockets.
// - MEM_LIBC_MALLOC and MEMP_MEM_MALLOC: heap and pools come from malloc, so
//   no compile-time pool size caps the number of sockets, PCBs or pbufs.
//   Memory per connection is bounded by the windows below instead.
// - IPv4 and IPv6 both on, with ARP, ND, MLD and IGMP, fragmentation and
//   reassembly (a peer may still send fragments), loopback (the stack can
//   talk to its own addresses and 127.0.0.1/::1).
// - TCP_MSS 65480: the TAP MTU defaults to 65520 (the largest the kernel's
//   loopback-like devices use); 65520 - 20 (IPv4) - 20 (TCP) = 65480. lwIP
//   lowers it per connection to fit the netif MTU and the peer's MSS, and by
//   20 more for IPv6 (LWIP_TCP_CALCULATE_EFF_SEND_MSS). lwIP's sanity check
//   caps TCP_MSS at 16382 for the sockets API's u16 low-water marks, which
//   stackd does not use, so LWIP_DISABLE_TCP_SANITY_CHECKS is set; MEM_SIZE
//   is set above 64000 only to make mem_size_t 32 bits wide, so a full-size
//   segment plus headers never overflows an allocation size.
// - LWIP_WND_SCALE with TCP_WND and TCP_SND_BUF of 4 MiB (scale 7): a large
//   bandwidth-delay product through the TAP needs more than lwIP's 64 KiB.
//   These two numbers are also the per-connection memory bound.
// - TCP_QUEUE_OOSEQ and SACK: keep out-of-order data and tell the peer, so
//   loss costs one retransmission, not a window.
// - TCP_LISTEN_BACKLOG: real accept backlogs (listen(fd, n) is honoured).
// - SO_REUSE: ANY and specific addresses on the same port (mbind), and
//   SO_REUSEADDR as Linux programs expect.
// - LWIP_STATS: counters for the admin service.
// - LWIP_IPV6_DUP_DETECT_ATTEMPTS 0: addresses given on the command line are
//   usable at once (the operator owns the link).
// - Neighbour and ARP tables larger than the defaults: a test namespace may
//   hold dozens of peers on the link.
// - Linux's defaults on the wire: TTL and hop limit 64 (IP_DEFAULT_TTL,
//   LWIP_ICMP6_HL), an initial window of 10 segments (RFC 6928), an
//   initial retransmission timeout of 1 s (RFC 6298), ephemeral ports
//   32768-60999 chosen per RFC 6056 (lwIP patch 0009).
// - Linux's retransmission timing: a TCP timer of 20 ms (lwIP's slow timer,
//   its RTT clock, ticks every 40 ms; the default 500 ms tick made every
//   RTO at least 0.5 s), the RTT estimator started from the first sample
//   (patch 0016), RTO = SRTT + max(4 * RTTVAR, 200 ms) as Linux's
//   TCP_RTO_MIN (patch 0017), and zero-window probes one RTO after the
//   window closed, doubling up to 120 s (patch 0018); SYNs backed off as
//   data, so a connect to a silent host fails after 127 s (patch 0019);
//   the RTO doubles up to 120 s (patch 0032) and data is retransmitted 15
//   times (tcp_retries2; about 15 minutes from a 200 ms RTO), a SYN-ACK 5
//   times (tcp_synack_retries, dropped at 63 s; patch 0033); a closed
//   connection waits 60 s in FIN-WAIT-2 (tcp_fin_timeout; patch 0036).
// - A SYN above what a TIME-WAIT connection received, or with a newer
//   timestamp, reopens it (RFC 6191, patches 0020 and 0034); one with an
//   older timestamp is refused by PAWS; a SYN that does not reopen it gets
//   an ACK, as Linux.
// - TCP timestamps (RFC 7323) as Linux: offered in every SYN, used when the
//   peer agrees, the clock in ms plus an offset keyed per address pair
//   (patch 0021), and PAWS (patch 0022).
// - ECN (RFC 3168) when the peer asks for it, as Linux's tcp_ecn = 2
//   (patch 0024); stackd's own connects do not ask.
// - Checksums computed and checked in software: the TAP is opened without
//   IFF_VNET_HDR, so the kernel hands over complete checksums and expects
//   them back.
#ifndef STACKD_LWIP_PORT_LWIPOPTS_H_
#define STACKD_LWIP_PORT_LWIPOPTS_H_

#ifdef __cplusplus
extern "C" {
#endif
// Aborts unless the caller is the thread that owns lwIP (see sys_arch.h).
void stackd_lwip_assert_core_locked(void);
// Random numbers for ports, ISNs and IDs.
unsigned int stackd_lwip_rand(void);
#ifdef __cplusplus
}
#endif

// Threading.
#define NO_SYS 1
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_ASSERT_CORE_LOCKED() stackd_lwip_assert_core_locked()

// Memory.
#define MEM_ALIGNMENT 8
#define MEM_LIBC_MALLOC 1
#define MEM_SIZE (16 * 1024 * 1024)
#define MEMP_MEM_MALLOC 1
#define MEM_USE_POOLS 0
#define LWIP_SUPPORT_CUSTOM_PBUF 1
#define PBUF_POOL_BUFSIZE 2048

// Link layer.
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define ARP_TABLE_SIZE 64
#define ARP_QUEUEING 1
// Linux gives up resolving a neighbour after 3 s (patch 0027) and tells
// the sender (patch 0026: a local ICMP host unreachable).
#define ARP_MAXPENDING 3
#define LWIP_NEIGHBOR_UNREACHABLE_ICMP 1
// Packets held per neighbour while ARP resolves it (lwIP: 3; Linux about
// 100): a burst to a new neighbour must not lose all but the last three.
#define ARP_QUEUE_LEN 100
#define ETHARP_SUPPORT_STATIC_ENTRIES 1
#define LWIP_NETIF_LOOPBACK 1
#define LWIP_HAVE_LOOPIF 1
#define LWIP_LOOPBACK_MAX_PBUFS 0
#define LWIP_NETIF_STATUS_CALLBACK 1
#define LWIP_NETIF_LINK_CALLBACK 1
#define LWIP_SINGLE_NETIF 0

// IPv4.
#define LWIP_IPV4 1
#define IP_FORWARD 0
#define IP_REASSEMBLY 1
#define IP_FRAG 1
#define IP_REASS_MAX_PBUFS 256
// Path MTU discovery, as Linux: TCP segments leave with Don't Fragment
// (lwIP patch 0014), and "fragmentation needed" lowers the connection's
// MSS (patch 0012, tcp_path_mtu.cc).
#define IP_DF_ON_TCP 1
#define LWIP_ICMP 1
// An ICMP error quotes the datagram up to 576 bytes of ICMP, as Linux
// (RFC 1812 4.3.2.3): 576 - 20 (IP) - 8 (ICMP) - 20 (the quoted IP
// header). lwIP patch 0011 makes it settable.
#define ICMP_DEST_UNREACH_DATASIZE 528
#define LWIP_IGMP 1
#define LWIP_DHCP 0
#define LWIP_AUTOIP 0
#define LWIP_RAW 1
#define IP_DEFAULT_TTL 64
#define LWIP_BROADCAST_PING 0

// IPv6.
#define LWIP_IPV6 1
#define LWIP_IPV6_NUM_ADDRESSES 8
#define LWIP_IPV6_FORWARD 0
#define LWIP_IPV6_FRAG 1
#define LWIP_IPV6_REASS 1
#define IPV6_FRAG_COPYHEADER 1
#define LWIP_IPV6_MLD 1
#define LWIP_ICMP6 1
#define LWIP_ICMP6_HL 64
#define LWIP_IPV6_AUTOCONFIG 0
#define LWIP_IPV6_DHCP6 0
#define LWIP_IPV6_DUP_DETECT_ATTEMPTS 0
#define LWIP_ND6_NUM_NEIGHBORS 64
#define LWIP_ND6_NUM_DESTINATIONS 64
#define LWIP_ND6_PATH_MTU_LIFETIME 600  // stackd::kPathMtuLifetimeSeconds
#define LWIP_ND6_NUM_PREFIXES 8
#define LWIP_ND6_NUM_ROUTERS 4
#define LWIP_ND6_QUEUEING 1
#define MEMP_NUM_ND6_QUEUE 100
#define LWIP_ND6_ALLOW_RA_UPDATES 0

// UDP.
#define LWIP_UDP 1
#define LWIP_UDPLITE 0
#define LWIP_NETBUF_RECVINFO 0

// TCP.
#define LWIP_TCP 1
#define TCP_MSS 65480
#define LWIP_DISABLE_TCP_SANITY_CHECKS 1
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 7
#define TCP_WND (4 * 1024 * 1024)
#define TCP_SND_BUF (4 * 1024 * 1024)
#define TCP_SND_QUEUELEN 4096
#define TCP_SNDLOWAT (TCP_SND_BUF / 2)
#define TCP_SNDQUEUELOWAT (TCP_SND_QUEUELEN / 2)
#define TCP_OVERSIZE TCP_MSS
#define TCP_QUEUE_OOSEQ 1
#define TCP_OOSEQ_MAX_BYTES TCP_WND
#define TCP_OOSEQ_MAX_PBUFS 0
#define LWIP_TCP_SACK_OUT 1
#define LWIP_TCP_MAX_SACK_NUM 4
#define TCP_LISTEN_BACKLOG 1
#define TCP_DEFAULT_LISTEN_BACKLOG 128
#define LWIP_TCP_KEEPALIVE 1
#define LWIP_TCP_TIMESTAMPS 1
#define LWIP_TCP_PAWS 1
#define LWIP_TCP_ECN 1
#define LWIP_TCP_URGENT_SEND 1
#define LWIP_TCP_PCB_NUM_EXT_ARGS 1
#define LWIP_CALLBACK_API 1
#define LWIP_EVENT_API 0
#define SO_REUSE 1
#define SO_REUSE_RXTOALL 1
#define TCP_CALCULATE_EFF_SEND_MSS 1
#define LWIP_TCP_RTO_TIME 1000
#define TCP_TMR_INTERVAL 20
#define LWIP_TCP_RTO_MIN 200
#define LWIP_TCP_PERSIST_FROM_RTO 1
#define LWIP_TCP_SYN_BACKOFF 1
#define LWIP_TCP_RTO_MAX 120000  // Linux's TCP_RTO_MAX
#define TCP_MAXRTX 15            // tcp_retries2
#define TCP_SYNACKMAXRTX 5       // tcp_synack_retries
#define TCP_SYN_RCVD_TIMEOUT 75000  // past the 63 s the SYN-ACKs take
#define TCP_FIN_WAIT_TIMEOUT 60000  // net.ipv4.tcp_fin_timeout (patch 0036)
#define TCP_TIMEWAIT_REOPEN 1
// Ephemeral ports as Linux's net.ipv4.ip_local_port_range (32768 60999);
// lwIP's END is the first port past the range.
#define TCP_LOCAL_PORT_RANGE_START 0x8000
#define TCP_LOCAL_PORT_RANGE_END 61000
#define TCP_ENSURE_LOCAL_PORT_RANGE(port) \
  ((u16_t)(TCP_LOCAL_PORT_RANGE_START +     \
           (port) % (TCP_LOCAL_PORT_RANGE_END - TCP_LOCAL_PORT_RANGE_START)))
#define LWIP_TCP_CALC_INITIAL_CWND(mss) ((tcpwnd_size_t)(10U * (mss)))

// Name resolution is done by the client library, not by lwIP.
#define LWIP_DNS 0

// Checksums.
#define CHECKSUM_GEN_IP 1
#define CHECKSUM_GEN_UDP 1
#define CHECKSUM_GEN_TCP 1
#define CHECKSUM_GEN_ICMP 1
#define CHECKSUM_GEN_ICMP6 1
#define CHECKSUM_CHECK_IP 1
#define CHECKSUM_CHECK_UDP 1
#define CHECKSUM_CHECK_TCP 1
#define CHECKSUM_CHECK_ICMP 1
#define CHECKSUM_CHECK_ICMP6 1
#define LWIP_CHECKSUM_ON_COPY 1

// Statistics for the admin service.
#define LWIP_STATS 1
#define LWIP_STATS_DISPLAY 0
#define LINK_STATS 1
#define ETHARP_STATS 1
#define IP_STATS 1
#define IPFRAG_STATS 1
#define ICMP_STATS 1
#define IGMP_STATS 1
#define UDP_STATS 1
#define TCP_STATS 1
#define MEM_STATS 1
#define MEMP_STATS 1
#define IP6_STATS 1
#define ICMP6_STATS 1
#define IP6_FRAG_STATS 1
#define MLD6_STATS 1
#define ND6_STATS 1
#define MIB2_STATS 0

// Hooks (implemented in stackd/lwip_port/hooks.cc).
#define LWIP_HOOK_FILENAME "lwip_hooks.h"

#endif  // STACKD_LWIP_PORT_LWIPOPTS_H_
