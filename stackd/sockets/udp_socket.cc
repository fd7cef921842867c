#include "stackd/sockets/udp_socket.h"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>

#include "lwip/igmp.h"
#include "lwip/ip.h"
#include "lwip/ip6.h"
#include "lwip/ip6_addr.h"
#include "lwip/mld6.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/prot/ip.h"
#include "lwip/prot/ip6.h"
#include "stackd/log.h"
#include "stackd/lwip_port/icmp_error.h"
#include "stackd/lwip_port/icmp_watch.h"
#include "stackd/sockets/lwip_errno.h"
#include "stackd/sockets/netif_facts.h"
#include "stackd/sockets/ping_echo.h"
#include "stackd/sockets/socket_table.h"
#include "stackd/sockets/wire_address.h"

namespace stackd {
namespace {

namespace asio = boost::asio;
using socket::v1::Address;
using socket::v1::OptValue;
using socket::v1::QueuedError;

// Datagrams taken from one application per turn of the event loop, so one
// busy sender cannot starve the others or the network.
constexpr int kMaxDatagramsPerTurn = 64;
// Datagrams read with one recvmmsg(2).
constexpr int kBatch = 16;
// Room for the largest packet on the pair (header and payload), and one
// byte more to notice a packet that is too large (MSG_TRUNC).
constexpr size_t kSlotBytes = client::kDatagramHeaderBytes + 0xffff + 1;
// pbuf segments written to the pair with one sendmsg(2); a longer chain
// (a datagram reassembled from many fragments) is copied first.
constexpr int kMaxIov = 64;
// The smallest send buffer for stackd's end: one largest datagram always
// fits (AF_UNIX refuses a packet larger than the buffer with EMSGSIZE).
// The kernel doubles the value it is given.
constexpr int kMinPairSndbuf = 40 * 1024;

// The buffers recvmmsg(2) fills, shared by every UDP socket: only the stack
// thread uses them, one socket at a time.
struct Scratch {
  std::vector<uint8_t> bytes = std::vector<uint8_t>(kBatch * kSlotBytes);
  iovec iov[kBatch];
  mmsghdr msgs[kBatch];
};
Scratch& SharedScratch() {
  static Scratch* scratch = new Scratch();
  return *scratch;
}

// Every connected UDP socket (stack thread only), for ICMP errors.
std::set<UdpSocket*>& ConnectedSockets() {
  static auto* sockets = new std::set<UdpSocket*>();
  return *sockets;
}

// Every UDP socket with IP_RECVERR or IPV6_RECVERR, for ICMP errors.
std::set<UdpSocket*>& RecvErrSockets() {
  static auto* sockets = new std::set<UdpSocket*>();
  return *sockets;
}

// Linux's sock_extended_err origins (linux/errqueue.h).
constexpr uint32_t kSoEeOriginIcmp = 2;
constexpr uint32_t kSoEeOriginIcmp6 = 3;
// How many errors a socket's queue keeps (Linux bounds it by the receive
// buffer).
constexpr size_t kMaxQueuedErrors = 64;

bool IsV4Mapped(const uint8_t* ip) {
  static const uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(ip, kPrefix, sizeof(kPrefix)) == 0;
}

// Whether `ip` is an IPv4 broadcast address on any of the stack's links.
bool IsBroadcast(const ip_addr_t& ip) {
  if (!IP_IS_V4_VAL(ip)) return false;
  const uint32_t addr = ip_2_ip4(&ip)->addr;
  if (addr == IPADDR_BROADCAST) return true;
  if (addr == IPADDR_ANY) return false;
  for (netif* nif = netif_list; nif != nullptr; nif = nif->next) {
    if (!ip4_addr_isany_val(*netif_ip4_addr(nif)) &&
        ip4_addr_isbroadcast(ip_2_ip4(&ip), nif)) {
      return true;
    }
  }
  return false;
}

// An address from the datagram header (`family`, 4 or 16 bytes) in the
// socket protocol's form, for FromWire().
Address HeaderAddress(uint8_t family, const uint8_t* ip, uint16_t port,
                      uint32_t scope_id) {
  Address a;
  a.set_family(family);
  a.set_ip(reinterpret_cast<const char*>(ip), family == AF_INET ? 4 : 16);
  a.set_port(port);
  a.set_scope_id(scope_id);
  return a;
}

// Copies `a` (as ToWire() made it) into a header's address field.
void ToHeader(const Address& a, uint8_t* family, uint8_t ip[16]) {
  *family = static_cast<uint8_t>(a.family());
  std::memset(ip, 0, 16);
  std::memcpy(ip, a.ip().data(), std::min<size_t>(a.ip().size(), 16));
}

}  // namespace

// --- Life cycle ----------------------------------------------------------------

int UdpSocket::Create(SocketTable* table, int family, int protocol, pid_t pid,
                      uid_t uid, int* app_fd) {
  const bool ping = (family == AF_INET && protocol == IPPROTO_ICMP) ||
                    (family == AF_INET6 && protocol == IPPROTO_ICMPV6);
  if (!ping && protocol != 0 && protocol != IPPROTO_UDP) return EPROTONOSUPPORT;
  udp_pcb* pcb = udp_new_ip_type(family == AF_INET ? IPADDR_TYPE_V4 : IPADDR_TYPE_ANY);
  if (pcb == nullptr) return ENOMEM;
  uint64_t id = table->NextId();
  SocketTable::Pair pair;
  if (int error = table->NewPair(&pair, SOCK_SEQPACKET)) {
    udp_remove(pcb);
    return error;
  }
  auto s = std::make_shared<UdpSocket>(table, id, family, pair.stack_fd, pcb, ping);
  s->set_owner(pid, uid);
  s->SetMark(pair.app_fd);
  table->Add(s, pair.app_ino);
  s->Start();
  *app_fd = pair.app_fd;
  Log(2, "socket %d: %s, created for pid %d", id, ping ? "ping" : "udp", pid);
  return 0;
}

UdpSocket::UdpSocket(SocketTable* table, uint64_t id, int family, int pair_fd,
                     udp_pcb* pcb, bool ping)
    : table_(table),
      id_(id),
      family_(family),
      ping_(ping),
      pcb_(pcb),
      pair_(table->io(), pair_fd),
      options_(Protocol::kUdp, family) {
  pair_.non_blocking(true);
  ip_addr_t any;
  ip_addr_set_zero(&any);
  peer_ = ToWire(any, 0, family_);
  ApplyOptions();
  // The pair holds what the application has not read: its send buffer on
  // stackd's end is the socket's receive buffer.
  int size = std::max(ReceiveBufferBytes() / 2, kMinPairSndbuf);
  setsockopt(pair_fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
}

UdpSocket::~UdpSocket() {
  if (ping_) PingUnbind(this);
  RemoveExtraPcbs();
  ConnectedSockets().erase(this);
  RecvErrSockets().erase(this);
  LeaveAllGroups();
  if (pcb_ != nullptr) {
    udp_recv(pcb_, nullptr, nullptr);
    udp_remove(pcb_);
  }
}

void UdpSocket::Start() { WatchReadable(); }

void UdpSocket::ApplyOptions() {
  udp_recv(pcb_, &UdpSocket::OnRecv, this);
  if (options_.flag(SOL_SOCKET, SO_REUSEADDR) || options_.flag(SOL_SOCKET, SO_REUSEPORT)) {
    ip_set_option(pcb_, SOF_REUSEADDR);
  } else {
    ip_reset_option(pcb_, SOF_REUSEADDR);
  }
  if (options_.flag(SOL_SOCKET, SO_BROADCAST)) ip_set_option(pcb_, SOF_BROADCAST);
  else ip_reset_option(pcb_, SOF_BROADCAST);
  // An IPv6 socket connected to a v4-mapped peer uses the IPv4 options.
  const bool v6 = family_ == AF_INET6 && !(connected_ && IP_IS_V4_VAL(pcb_->remote_ip));
  const int level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
  int ttl;
  options_.Get(level, v6 ? IPV6_UNICAST_HOPS : IP_TTL, &ttl);
  pcb_->ttl = static_cast<u8_t>(ttl);
  pcb_->tos = static_cast<u8_t>(options_.value(level, v6 ? IPV6_TCLASS : IP_TOS));
  udp_set_multicast_ttl(pcb_, static_cast<u8_t>(options_.value(
                                  level, v6 ? IPV6_MULTICAST_HOPS : IP_MULTICAST_TTL)));
  if (options_.flag(level, v6 ? IPV6_MULTICAST_LOOP : IP_MULTICAST_LOOP))
    udp_set_flags(pcb_, UDP_FLAGS_MULTICAST_LOOP);
  else udp_clear_flags(pcb_, UDP_FLAGS_MULTICAST_LOOP);
  udp_set_multicast_netif_index(pcb_, static_cast<u8_t>(mcast_ifindex_));
  ip4_addr_t m4;
  m4.addr = mcast_addr4_;
  udp_set_multicast_netif_addr(pcb_, &m4);
}

int UdpSocket::ReplacePcb() {
  u8_t type = family_ == AF_INET ? IPADDR_TYPE_V4 : (v6only_ ? IPADDR_TYPE_V6 : IPADDR_TYPE_ANY);
  udp_pcb* fresh = udp_new_ip_type(type);
  if (fresh == nullptr) return ENOMEM;
  udp_recv(pcb_, nullptr, nullptr);
  udp_remove(pcb_);
  pcb_ = fresh;
  if (ping_) PingUnbind(this);  // The identifier went with the old pcb.
  ApplyOptions();
  return 0;
}

// --- Watching the pair ------------------------------------------------------------

void UdpSocket::WatchReadable() {
  if (watching_read_ || closed_ || !pair_.is_open()) return;
  watching_read_ = true;
  pair_.async_wait(asio::posix::stream_descriptor::wait_read,
                   [self = shared_from_this()](const boost::system::error_code& ec) {
                     self->watching_read_ = false;
                     if (ec || self->closed_) return;
                     self->PumpFromApp();
                   });
}

// After the application shut down sending, only its last close matters (an
// error-class wait completes on POLLHUP without reading anything).
void UdpSocket::WatchHangup() {
  if (watching_hangup_ || closed_ || !pair_.is_open()) return;
  watching_hangup_ = true;
  pair_.async_wait(asio::posix::stream_descriptor::wait_error,
                   [self = shared_from_this()](const boost::system::error_code& ec) {
                     self->watching_hangup_ = false;
                     if (ec || self->closed_) return;
                     if (self->PairHungUp()) {
                       self->OnAppClosed();
                     } else {
                       self->WatchHangup();
                     }
                   });
}

bool UdpSocket::PairHungUp() const {
  if (!pair_.is_open()) return true;
  pollfd pfd{pair_.native_handle(), POLLIN, 0};
  return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP) != 0;
}

void UdpSocket::OnAppClosed() {
  if (closed_) return;
  closed_ = true;
  if (ping_) PingUnbind(this);
  RemoveExtraPcbs();
  SetConnected(false);
  LeaveAllGroups();
  if (pcb_ != nullptr) {
    udp_recv(pcb_, nullptr, nullptr);
    udp_remove(pcb_);
    pcb_ = nullptr;
  }
  boost::system::error_code ignored;
  pair_.close(ignored);
  Log(2, "socket %d: udp, closed (bytes in %d, out %d; datagrams dropped: rx %d, tx %d)",
      id_, bytes_in_, bytes_out_, rx_dropped_, tx_dropped_);
  table_->Remove(id_, pending_error_);
}

// --- Application -> network -------------------------------------------------------

void UdpSocket::PumpFromApp() {
  if (closed_ || app_write_shut_) return;
  Scratch& s = SharedScratch();
  const int fd = pair_.native_handle();
  int budget = kMaxDatagramsPerTurn;
  while (budget > 0) {
    const int want = std::min(budget, kBatch);
    for (int i = 0; i < want; ++i) {
      s.iov[i].iov_base = s.bytes.data() + static_cast<size_t>(i) * kSlotBytes;
      s.iov[i].iov_len = kSlotBytes;
      s.msgs[i].msg_hdr = msghdr{};
      s.msgs[i].msg_hdr.msg_iov = &s.iov[i];
      s.msgs[i].msg_hdr.msg_iovlen = 1;
      s.msgs[i].msg_len = 0;
    }
    const int n = recvmmsg(fd, s.msgs, static_cast<unsigned>(want), MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        WatchReadable();
      } else {
        OnAppClosed();
      }
      return;
    }
    for (int i = 0; i < n; ++i) {
      const size_t len = s.msgs[i].msg_len;
      if (len == 0) {
        // End of file (the application closed or shut down sending), or
        // an empty packet that did not come from the library.
        pollfd pfd{fd, POLLIN | POLLRDHUP, 0};
        const short revents = poll(&pfd, 1, 0) == 1 ? pfd.revents : 0;
        if ((revents & POLLHUP) != 0) {
          OnAppClosed();
          return;
        }
        if ((revents & POLLRDHUP) != 0) {
          app_write_shut_ = true;
          WatchHangup();
          return;
        }
        ++tx_dropped_;
        continue;
      }
      if ((s.msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0) {
        ++tx_dropped_;
        Log(3, "socket %d: udp, oversized packet from the application dropped",
            id_);
        continue;
      }
      SendOne(static_cast<const uint8_t*>(s.iov[i].iov_base), len);
      if (closed_) return;
    }
    if (n < want) {
      // recvmmsg stopped early: the pair is empty (EAGAIN) for now.
      WatchReadable();
      return;
    }
    budget -= n;
  }
  // More may be waiting: come back after the others had their turn. (The
  // pair's readiness is edge-triggered, so waiting now could miss them.)
  asio::post(table_->io(), [self = shared_from_this()] {
    if (!self->closed_) self->PumpFromApp();
  });
}

// The source address IP_PKTINFO / IPV6_PKTINFO asked for on sendmsg (a
// v4-mapped one as IPv4), or any.
static ip_addr_t PktinfoSource(const DatagramHeader& h) {
  ip_addr_t src;
  ip_addr_set_zero(&src);
  if (h.local_family == AF_INET) {
    ip_addr_set_zero_ip4(&src);
    std::memcpy(&ip_2_ip4(&src)->addr, h.local, 4);
  } else if (h.local_family == AF_INET6) {
    if (IsV4Mapped(h.local)) {
      ip_addr_set_zero_ip4(&src);
      std::memcpy(&ip_2_ip4(&src)->addr, h.local + 12, 4);
    } else {
      ip_addr_set_zero_ip6(&src);
      std::memcpy(ip_2_ip6(&src)->addr, h.local, 16);
    }
  }
  return src;
}

void UdpSocket::SendOne(const uint8_t* data, size_t len) {
  DatagramHeader h;
  if (!client::DecodeDatagramHeader(data, len, &h) || (h.flags & client::kDatagramFlagError) != 0) {
    ++tx_dropped_;
    Log(3, "socket %d: udp, bad datagram header dropped", id_);
    return;
  }
  const size_t payload = len - client::kDatagramHeaderBytes;
  ip_addr_t dst;
  uint16_t port = 0;
  if (h.family == 0) {
    if (!connected_) {
      ++tx_dropped_;  // The library answers EDESTADDRREQ before sending.
      return;
    }
    ip_addr_copy(dst, pcb_->remote_ip);
    port = pcb_->remote_port;
  } else if (FromWire(HeaderAddress(h.family, h.peer, h.port, h.scope_id), family_,
                      v6only_, &dst, &port) != 0) {
    ++tx_dropped_;
    return;
  }
  if (payload > (IP_IS_V4_VAL(dst) ? kMaxPayload4 : kMaxPayload6) ||
      (IsBroadcast(dst) && !options_.flag(SOL_SOCKET, SO_BROADCAST))) {
    ++tx_dropped_;  // EMSGSIZE, EACCES on Linux.
    return;
  }
  if (ping_) {
    ip_addr_t src = PktinfoSource(h);
    if (ip_addr_isany(&src) || IP_GET_TYPE(&src) != IP_GET_TYPE(&dst)) {
      ip_addr_copy(src, pcb_->local_ip);
    }
    SendEcho(data + client::kDatagramHeaderBytes, payload, dst, src);
    return;
  }
  pbuf* p = pbuf_alloc(PBUF_TRANSPORT, static_cast<u16_t>(payload), PBUF_RAM);
  if (p == nullptr) {
    ++tx_dropped_;
    return;
  }
  if (payload > 0) std::memcpy(p->payload, data + client::kDatagramHeaderBytes, payload);
  if (family_ == AF_INET6 && h.family != 0) {
    // Linux: an IPv6 socket sending to an IPv4 peer uses the IPv4 options.
    const bool v4 = IP_IS_V4_VAL(dst);
    int ttl;
    options_.Get(v4 ? IPPROTO_IP : IPPROTO_IPV6, v4 ? IP_TTL : IPV6_UNICAST_HOPS, &ttl);
    pcb_->ttl = static_cast<u8_t>(ttl);
    pcb_->tos = static_cast<u8_t>(
        options_.value(v4 ? IPPROTO_IP : IPPROTO_IPV6, v4 ? IP_TOS : IPV6_TCLASS));
  }
  err_t err;
  if (h.local_family != 0 || h.ifindex != 0) {
    // IP_PKTINFO / IPV6_PKTINFO on sendmsg: the source address and/or the
    // interface to send from.
    const ip_addr_t src = PktinfoSource(h);
    const bool has_src = h.local_family != 0 && !ip_addr_isany(&src);
    netif* nif = nullptr;
    if (h.ifindex != 0) {
      nif = h.ifindex <= 255 ? netif_get_by_index(static_cast<u8_t>(h.ifindex)) : nullptr;
    } else {
      nif = ip_route(has_src ? &src : &pcb_->local_ip, &dst);
    }
    if (nif == nullptr || (has_src && (IP_GET_TYPE(&src) != IP_GET_TYPE(&dst) ||
                                       !IsLocalAddress(src)))) {
      pbuf_free(p);
      ++tx_dropped_;
      return;
    }
    err = has_src ? udp_sendto_if_src(pcb_, p, &dst, port, nif, &src)
                  : udp_sendto_if(pcb_, p, &dst, port, nif);
  } else if (h.family == 0) {
    err = udp_send(pcb_, p);
  } else {
    err = udp_sendto(pcb_, p, &dst, port);
  }
  pbuf_free(p);
  if (err != ERR_OK) {
    ++tx_dropped_;
    Log(3, "socket %d: udp, send failed: %s", id_,
        std::strerror(LwipErrToErrno(err)));
    return;
  }
  bytes_out_ += payload;
}

// --- Network -> application ---------------------------------------------------------

// A ping socket's echo request: its identifier (chosen now if it has
// none, as Linux's ping_sendmsg binds), the checksum, and out.
void UdpSocket::SendEcho(const uint8_t* icmp, size_t len, const ip_addr_t& dst,
                         const ip_addr_t& src) {
  const bool v6 = family_ == AF_INET6;
  if (v6 && IP_IS_V4_VAL(dst)) {
    ++tx_dropped_;  // An ICMPv6 socket cannot reach an IPv4 peer (EINVAL).
    return;
  }
  if (pcb_->local_port == 0) {
    uint16_t ident = 0;
    if (PingBind(this, v6, pcb_->local_ip, &ident) != 0) {
      ++tx_dropped_;
      return;
    }
    pcb_->local_port = ident;
  }
  if (int error = PingSend(v6, pcb_->local_port, icmp, len, dst, src, pcb_->ttl, pcb_->tos)) {
    ++tx_dropped_;
    Log(3, "socket %d: ping, send failed: %s", id_, std::strerror(error));
    return;
  }
  bytes_out_ += len;
}

bool UdpSocket::ping_reuse() const { return options_.flag(SOL_SOCKET, SO_REUSEADDR); }

void UdpSocket::OnEchoReply(const pbuf* message, const ip_addr_t& from) {
  if (!closed_) Receive(message, from, 0);
}

void UdpSocket::OnRecv(void* arg, udp_pcb*, pbuf* p, const ip_addr_t* addr, u16_t port) {
  auto* self = static_cast<UdpSocket*>(arg);
  if (self != nullptr && !self->closed_) self->Receive(p, *addr, port);
  pbuf_free(p);
}

void UdpSocket::Receive(const pbuf* p, const ip_addr_t& addr, uint16_t port) {
  DatagramHeader h;
  ToHeader(ToWire(addr, port, family_), &h.family, h.peer);
  h.port = port;
  if (IP_IS_V6(&addr) && ip6_addr_has_zone(ip_2_ip6(&addr))) {
    h.scope_id = ip6_addr_zone(ip_2_ip6(&addr));
  }
  ToHeader(ToWire(*ip_current_dest_addr(), 0, family_), &h.local_family, h.local);
  if (netif* in = ip_current_input_netif()) h.ifindex = netif_get_index(in);
  AskForControl(&h);
  const size_t bytes = p->tot_len;
  const int error = Deliver(h, p);
  if (error == 0) {
    bytes_in_ += bytes;
  } else if (error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS || error == ENOMEM) {
    ++rx_dropped_;  // The receive buffer is full, as Linux counts it.
  }
  // Otherwise the application shut down receiving or is gone: nothing to
  // count.
}

void UdpSocket::AskForControl(DatagramHeader* h) const {
  // The control messages the application will get are made by the library
  // from the header; here is what they say: the options that ask for them,
  // and the IP header (valid during lwIP's receive callback).
  const SocketOptions& o = options_;
  const bool v6 = family_ == AF_INET6;
  if (o.flag(IPPROTO_IP, IP_PKTINFO)) h->flags |= client::kDatagramFlagPktInfo;
  if (o.flag(IPPROTO_IP, IP_RECVTTL)) h->flags |= client::kDatagramFlagTtl;
  if (o.flag(IPPROTO_IP, IP_RECVTOS)) h->flags |= client::kDatagramFlagTos;
  if (o.flag(IPPROTO_IP, IP_RECVORIGDSTADDR)) h->more_flags |= client::kDatagramMoreOrigDst;
  if (v6) {
    if (o.flag(IPPROTO_IPV6, IPV6_RECVPKTINFO)) h->flags |= client::kDatagramFlagPktInfo6;
    if (o.flag(IPPROTO_IPV6, IPV6_RECVHOPLIMIT)) h->flags |= client::kDatagramFlagHopLimit;
    if (o.flag(IPPROTO_IPV6, IPV6_RECVTCLASS)) h->flags |= client::kDatagramFlagTclass;
    if (o.flag(IPPROTO_IPV6, IPV6_RECVORIGDSTADDR)) {
      h->more_flags |= client::kDatagramMoreOrigDst6;
    }
  }
  // SO_TIMESTAMPNS wins over SO_TIMESTAMP, as Linux's sock_recv_timestamp.
  if (o.flag(SOL_SOCKET, SO_TIMESTAMPNS)) {
    h->more_flags |= client::kDatagramMoreTimestampNs;
  } else if (o.flag(SOL_SOCKET, SO_TIMESTAMP)) {
    h->flags |= client::kDatagramFlagTimestamp;
  }
  if ((h->flags & client::kDatagramFlagTimestamp) != 0 ||
      (h->more_flags & client::kDatagramMoreTimestampNs) != 0) {
    timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    h->time_ns = static_cast<uint64_t>(now.tv_sec) * 1000000000u +
                 static_cast<uint64_t>(now.tv_nsec);
  }
  if (pcb_ != nullptr) h->local_port = pcb_->local_port;
  if (const ip_hdr* ip4 = ip4_current_header(); ip4 != nullptr && ip_current_is_v6() == 0) {
    h->ttl = IPH_TTL(ip4);
    h->tos = IPH_TOS(ip4);
  } else if (const ip6_hdr* ip6 = ip6_current_header(); ip6 != nullptr) {
    h->ttl = IP6H_HOPLIM(ip6);
    h->tos = static_cast<uint8_t>(IP6H_TC(ip6));
  }
}

int UdpSocket::Deliver(const DatagramHeader& header, const pbuf* p) {
  uint8_t head[client::kDatagramHeaderBytes];
  client::EncodeDatagramHeader(header, head);
  iovec iov[kMaxIov];
  int n = 0;
  iov[n++] = iovec{head, sizeof(head)};
  std::vector<uint8_t> copy;
  for (const pbuf* q = p; q != nullptr && q->len > 0; q = q->next) {
    if (n == kMaxIov) {
      copy.resize(p->tot_len);
      pbuf_copy_partial(p, copy.data(), p->tot_len, 0);
      n = 1;
      iov[n++] = iovec{copy.data(), copy.size()};
      break;
    }
    iov[n++] = iovec{q->payload, q->len};
  }
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = static_cast<size_t>(n);
  while (true) {
    if (sendmsg(pair_.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) return 0;
    if (errno != EINTR) return errno;
  }
}

// --- ICMP errors --------------------------------------------------------------------

void UdpSocket::SetConnected(bool connected) {
  connected_ = connected;
  if (connected) {
    ConnectedSockets().insert(this);
    WatchIcmp();
  } else {
    ConnectedSockets().erase(this);
  }
}

void UdpSocket::WatchIcmp() {
  static bool watching = false;
  if (watching) return;
  watching = true;
  for (uint8_t protocol : {IP_PROTO_UDP, IP_PROTO_ICMP}) {  // ICMP: ping sockets'.
    AddIcmpErrorHandler(protocol, [](const IcmpError& e, const uint8_t* message, size_t) {
      OnIcmpError(e, message);
      return false;  // lwIP's own ICMP code sees it too.
    });
  }
}

void UdpSocket::OnIcmpError(const IcmpError& icmp, const uint8_t* b) {
  if (ConnectedSockets().empty() && RecvErrSockets().empty()) return;
  const std::optional<IcmpErrorReport> report = ReportForSocket(icmp);
  if (!report) return;
  auto sent_by = [&](const UdpSocket* s) {
    // A ping socket's errors quote its echo requests, with its identifier.
    const bool ping_error = icmp.protocol != IP_PROTO_UDP;
    const udp_pcb* pcb = s->pcb_;
    if (pcb == nullptr || s->closed_ || s->ping_ != ping_error ||
        pcb->local_port != icmp.local_port) {
      return false;
    }
    if (!ip_addr_isany(&pcb->local_ip) && !SameAddress(pcb->local_ip, icmp.local)) {
      return false;
    }
    return !s->connected_ || (pcb->remote_port == icmp.remote_port &&
                              SameAddress(pcb->remote_ip, icmp.remote));
  };
  UdpSocket* target = nullptr;
  for (UdpSocket* s : RecvErrSockets()) {
    if (sent_by(s)) target = s;
  }
  for (UdpSocket* s : ConnectedSockets()) {
    if (target == nullptr && sent_by(s)) target = s;
  }
  if (target == nullptr) return;
  if (target->RecvErr(icmp.v4)) {
    // IP_RECVERR / IPV6_RECVERR: queued with the details, as Linux's
    // ip_icmp_error (bounded: the oldest go first).
    QueuedError e;
    e.set_error(report->error);
    e.set_origin(icmp.v4 ? kSoEeOriginIcmp : kSoEeOriginIcmp6);
    e.set_type(icmp.type);
    e.set_code(icmp.code);
    e.set_info(report->info);
    // The payload: after the UDP header; a ping socket's, the echo request
    // itself (Linux's ping_err hands ip_icmp_error the ICMP header).
    const size_t payload_at = icmp.transport_at + (target->ping_ ? 0 : 8);
    if (icmp.length > payload_at) {
      e.set_payload(reinterpret_cast<const char*>(b + payload_at), icmp.length - payload_at);
    }
    *e.mutable_offender() = ToWire(icmp.offender, 0, target->family_);
    *e.mutable_destination() = ToWire(icmp.remote, icmp.remote_port, target->family_);
    target->err_queue_.push_back(std::move(e));
    while (target->err_queue_.size() > kMaxQueuedErrors) target->err_queue_.pop_front();
  } else if (!target->connected_ || !report->hard) {
    // Without RECVERR, Linux reports only hard errors, and only to
    // connected sockets (RFC 1122 4.1.3.3).
    return;
  }
  // The next receive call fails with the error, unless SO_ERROR or the
  // error queue takes it first (the library asks which).
  target->pending_error_ = report->error;
  DatagramHeader h;
  h.flags = client::kDatagramFlagError;
  h.error = report->error;
  target->Deliver(h, nullptr);
  Log(3, "socket %d: %s, ICMP error %u/%u from the path (errno %d)", target->id_,
      target->ping_ ? "ping" : "udp", icmp.type, icmp.code, report->error);
}

bool UdpSocket::RecvErr(bool v4) const {
  // An IPv6 socket's IPv4 traffic follows IP_RECVERR, as on Linux.
  return v4 ? options_.flag(IPPROTO_IP, IP_RECVERR)
            : family_ == AF_INET6 && options_.flag(IPPROTO_IPV6, IPV6_RECVERR);
}

int UdpSocket::TakeQueuedError(bool peek, QueuedError* out) {
  if (err_queue_.empty()) return EAGAIN;
  *out = err_queue_.front();
  if (peek) return 0;
  err_queue_.pop_front();
  // As sock_dequeue_err_skb: the socket's error becomes the next one's.
  pending_error_ = err_queue_.empty() ? 0 : err_queue_.front().error();
  return 0;
}

void UdpSocket::WatchRecvErr() {
  if (RecvErr(true) || RecvErr(false)) {
    RecvErrSockets().insert(this);
    WatchIcmp();
  } else {
    RecvErrSockets().erase(this);
    err_queue_.clear();
  }
}

// --- Control calls ----------------------------------------------------------------

// Linux's rule for sharing a UDP port (udp_lib_lport_inuse): two sockets
// share it if both set SO_REUSEADDR, or both set SO_REUSEPORT and belong to
// the same user. lwIP knows one SOF_REUSEADDR for both options and no
// owners, so where lwIP would let two sockets share, this says whether
// Linux would. Returns EADDRINUSE for a socket of another user (or without
// the options in common) on the same port and an overlapping address.
int UdpSocket::CheckPortSharing(const ip_addr_t& ip, uint16_t port) const {
  if (port == 0) return 0;
  for (const udp_pcb* other = udp_pcbs; other != nullptr; other = other->next) {
    if (other->recv != &UdpSocket::OnRecv || other->local_port != port) continue;
    const auto* owner = static_cast<const UdpSocket*>(other->recv_arg);
    if (owner == this || !ip_get_option(other, SOF_REUSEADDR)) continue;
    const bool overlap = ip_addr_isany(&other->local_ip) || ip_addr_isany(&ip) ||
                         ip_addr_eq(&other->local_ip, &ip);
    if (!overlap) continue;
    auto both = [&](int name) {
      return options_.flag(SOL_SOCKET, name) && owner->options_.flag(SOL_SOCKET, name);
    };
    const bool shared =
        both(SO_REUSEADDR) || (both(SO_REUSEPORT) && owner_uid_ == owner->owner_uid_);
    if (!shared) return EADDRINUSE;
  }
  return 0;
}

int UdpSocket::Bind(const Address& address, Address* bound) {
  if (closed_ || pcb_ == nullptr) return EBADF;
  if (pcb_->local_port != 0) return EINVAL;
  ip_addr_t ip;
  uint16_t port;
  if (int error = FromWire(address, family_, v6only_, &ip, &port)) {
    // As inet6_bind: a v4-mapped address on an IPV6_V6ONLY socket.
    return error == ENETUNREACH ? EINVAL : error;
  }
  const bool freebind = options_.flag(IPPROTO_IP, IP_FREEBIND) ||
                        (family_ == AF_INET6 && options_.flag(IPPROTO_IPV6, IPV6_FREEBIND));
  if (!freebind && !IsLocalAddress(ip) && !ip_addr_ismulticast(&ip) && !IsBroadcast(ip)) {
    return EADDRNOTAVAIL;
  }
  if (ping_) {
    // The port is the echo identifier (0: a free one).
    // An ICMPv6 socket takes no IPv4 (v4-mapped) address.
    if (family_ == AF_INET6 && IP_IS_V4_VAL(ip)) return EAFNOSUPPORT;
    ip_addr_t old;
    ip_addr_copy(old, pcb_->local_ip);
    ip_addr_copy(pcb_->local_ip, ip);
    uint16_t ident = port;
    if (int error = PingBind(this, family_ == AF_INET6, ip, &ident)) {
      ip_addr_copy(pcb_->local_ip, old);
      return error;
    }
    pcb_->local_port = ident;
    bound_explicitly_ = port != 0;
    return GetName(false, bound);
  }
  if (int error = CheckPortSharing(ip, port)) return error;
  err_t err = udp_bind(pcb_, &ip, port);
  if (err != ERR_OK) return LwipErrToErrno(err);
  bound_explicitly_ = port != 0;
  return GetName(false, bound);
}

void UdpSocket::RemoveExtraPcbs() {
  for (udp_pcb* pcb : extra_pcbs_) {
    udp_recv(pcb, nullptr, nullptr);
    udp_remove(pcb);
  }
  extra_pcbs_.clear();
}

int UdpSocket::MultiBind(const socket::v1::MBindRequest& request,
                         socket::v1::AddressList* bound) {
  if (ping_) return EOPNOTSUPP;
  const int n = request.addresses_size();
  if (n == 0 || n > 64) return EINVAL;
  if (closed_ || pcb_ == nullptr) return EBADF;
  if (pcb_->local_port != 0 || !extra_pcbs_.empty()) return EINVAL;
  std::vector<ip_addr_t> ips(n);
  std::vector<uint16_t> ports(n);
  for (int i = 0; i < n; ++i) {
    if (int error = FromWire(InFamily(request.addresses(i), family_), family_, v6only_,
                             &ips[i], &ports[i])) {
      return error == ENETUNREACH ? EAFNOSUPPORT : error;
    }
    if (!IsLocalAddress(ips[i]) && !ip_addr_ismulticast(&ips[i]) && !IsBroadcast(ips[i])) {
      return EADDRNOTAVAIL;
    }
    if (int error = CheckPortSharing(ips[i], ports[i])) return error;
  }
  const u8_t type = IP_GET_TYPE(&pcb_->local_ip);
  std::vector<udp_pcb*> made;
  int error = 0;
  for (int i = 0; i < n && error == 0; ++i) {
    udp_pcb* pcb = pcb_;
    if (i > 0) {
      pcb = udp_new_ip_type(type);
      if (pcb == nullptr) {
        error = ENOMEM;
        break;
      }
      pcb->so_options = pcb_->so_options;
      udp_recv(pcb, &UdpSocket::OnRecv, this);
      made.push_back(pcb);
    }
    // The set shares ports among its own PCBs (a wildcard next to a
    // specific address).
    ip_set_option(pcb, SOF_REUSEADDR);
    err_t err = udp_bind(pcb, &ips[i], ports[i]);
    if (err != ERR_OK) error = LwipErrToErrno(err);
  }
  if (error != 0) {
    for (udp_pcb* pcb : made) {
      udp_recv(pcb, nullptr, nullptr);
      udp_remove(pcb);
    }
    // lwIP cannot unbind: nothing stays bound, so the socket gets a new PCB.
    if (int replace_error = ReplacePcb()) return replace_error;
    return error;
  }
  extra_pcbs_ = made;
  bound_explicitly_ = true;
  GetName(false, bound->add_addresses());
  for (udp_pcb* pcb : extra_pcbs_) {
    *bound->add_addresses() = ToWire(pcb->local_ip, pcb->local_port, family_);
  }
  return 0;
}

int UdpSocket::Listen(int) { return EOPNOTSUPP; }

int UdpSocket::Connect(const Address& address, uint32_t, int, int app_fd) {
  auto finish = [&](int error) {
    if (app_fd >= 0) {
      SetMark(app_fd);
      close(app_fd);
    }
    return error;
  };
  if (closed_ || pcb_ == nullptr) return finish(EBADF);
  if (address.family() == AF_UNSPEC) {
    // Dissolve the association. As Linux, a port that bind() did not ask
    // for is given back (the next send picks a new one); a bound address
    // stays.
    udp_disconnect(pcb_);
    SetConnected(false);
    ip_addr_t any;
    ip_addr_set_zero(&any);
    peer_ = ToWire(any, 0, family_);
    if (!bound_explicitly_ && pcb_->local_port != 0) {
      ip_addr_t keep;
      ip_addr_copy(keep, pcb_->local_ip);
      if (int error = ReplacePcb()) return finish(error);
      if (!ip_addr_isany(&keep)) ip_addr_copy(pcb_->local_ip, keep);
    }
    return finish(0);
  }
  ip_addr_t ip;
  uint16_t port;
  if (int error = FromWire(address, family_, v6only_, &ip, &port)) return finish(error);
  if (ip_addr_isany(&ip)) {
    // Linux connects "any" to the loopback address.
    if (IP_IS_V4_VAL(ip)) {
      ip_addr_set_ip4_u32(&ip, PP_HTONL(INADDR_LOOPBACK));
    } else {
      ip_addr_set_zero_ip6(&ip);
      ip_2_ip6(&ip)->addr[3] = PP_HTONL(1);
    }
  }
  if (IsBroadcast(ip) && !options_.flag(SOL_SOCKET, SO_BROADCAST)) return finish(EACCES);
  if (!ip_addr_ismulticast(&ip) && ip_route(&pcb_->local_ip, &ip) == nullptr) {
    return finish(ENETUNREACH);
  }
  if (ping_) {
    if (family_ == AF_INET6 && IP_IS_V4_VAL(ip)) return finish(EAFNOSUPPORT);
    // Replies come from the peer only; the identifier is the send's.
    ip_addr_copy(pcb_->remote_ip, ip);
    pcb_->remote_port = 0;
  } else {
    err_t err = udp_connect(pcb_, &ip, port);
    if (err != ERR_OK) return finish(LwipErrToErrno(err));
  }
  SetConnected(true);
  peer_ = ToWire(pcb_->remote_ip, pcb_->remote_port, family_);
  return finish(0);
}

void UdpSocket::SetMark(int app_fd) const {
  int mark = kMarkBase | (family_ == AF_INET6 ? kMarkInet6 : 0) | (ping_ ? kMarkPing : 0);
  if (connected_ && pcb_ != nullptr) {
    mark |= static_cast<int>(IP_IS_V4_VAL(pcb_->remote_ip) ? kMaxPayload4 : kMaxPayload6);
  }
  setsockopt(app_fd, SOL_SOCKET, SO_RCVLOWAT, &mark, sizeof(mark));
}

int UdpSocket::GetName(bool peer, Address* out) const {
  if (peer) {
    if (!connected_) return ENOTCONN;
    *out = peer_;
    return 0;
  }
  if (pcb_ == nullptr) {
    ip_addr_t any;
    ip_addr_set_zero(&any);
    *out = ToWire(any, 0, family_);
    return 0;
  }
  ip_addr_t local;
  ip_addr_copy(local, pcb_->local_ip);
  if (connected_ && ip_addr_isany(&local)) {
    // As Linux: a connected socket reports the source address the route
    // to its peer picks.
    if (netif* nif = ip_route(&pcb_->local_ip, &pcb_->remote_ip)) {
      if (IP_IS_V4_VAL(pcb_->remote_ip)) {
        ip_addr_copy_from_ip4(local, *netif_ip4_addr(nif));
      } else if (const ip_addr_t* src =
                     ip6_select_source_address(nif, ip_2_ip6(&pcb_->remote_ip))) {
        ip_addr_copy(local, *src);
      }
    }
  }
  *out = ToWire(local, pcb_->local_port, family_);
  return 0;
}

int UdpSocket::ReceiveBufferBytes() const {
  int bytes = 0;
  options_.Get(SOL_SOCKET, SO_RCVBUF, &bytes);
  return bytes;
}

int UdpSocket::SetOpt(int level, int name, const OptValue& value) {
  if (closed_ || pcb_ == nullptr) return EBADF;
  const int64_t v = value.int_value();
  if (level == SOL_SOCKET && name == SO_LINGER) {
    // Taken and kept, as Linux does; a datagram socket has nothing to linger on.
    if (!value.has_linger()) return EINVAL;
    options_.SetLinger(value.linger().on(), value.linger().seconds());
    return 0;
  }
  if (level == IPPROTO_IP) {
    switch (name) {
      case IP_MULTICAST_IF: {
        if (!value.has_membership()) {
          if (v != 0) return EINVAL;
          mcast_ifindex_ = 0;
          mcast_addr4_ = 0;
          ApplyOptions();
          return 0;
        }
        const auto& m = value.membership();
        if (m.ifindex() > 255 || (m.ifindex() != 0 && netif_get_by_index(
                                                          static_cast<u8_t>(m.ifindex())) == nullptr)) {
          return ENODEV;
        }
        uint32_t addr = 0;
        if (m.interface_address().size() == 4) {
          std::memcpy(&addr, m.interface_address().data(), 4);
        } else if (!m.interface_address().empty()) {
          return EINVAL;
        }
        if (addr != 0) {
          ip_addr_t ip;
          ip_addr_set_ip4_u32(&ip, addr);
          if (!IsLocalAddress(ip)) return EADDRNOTAVAIL;
        }
        mcast_ifindex_ = m.ifindex();
        mcast_addr4_ = addr;
        ApplyOptions();
        return 0;
      }
      case IP_ADD_MEMBERSHIP:
      case IP_DROP_MEMBERSHIP:
        return Membership(level, name, value.membership());
      default:
        break;
    }
  }
  if (level == IPPROTO_IPV6 && family_ == AF_INET6) {
    switch (name) {
      case IPV6_V6ONLY:
        if (pcb_->local_port != 0 || connected_) return EINVAL;
        v6only_ = v != 0;
        IP_SET_TYPE_VAL(pcb_->local_ip, v6only_ ? IPADDR_TYPE_V6 : IPADDR_TYPE_ANY);
        IP_SET_TYPE_VAL(pcb_->remote_ip, v6only_ ? IPADDR_TYPE_V6 : IPADDR_TYPE_ANY);
        return 0;
      case IPV6_MULTICAST_IF:
        if (v < 0 || v > 255 ||
            (v != 0 && netif_get_by_index(static_cast<u8_t>(v)) == nullptr)) {
          return ENODEV;
        }
        mcast_ifindex_ = static_cast<uint32_t>(v);
        ApplyOptions();
        return 0;
      case IPV6_JOIN_GROUP:
      case IPV6_LEAVE_GROUP:
        return Membership(level, name, value.membership());
      default:
        break;
    }
  }
  if (int error = options_.Set(level, name, static_cast<int>(v))) return error;
  if ((level == IPPROTO_IP && name == IP_RECVERR) ||
      (level == IPPROTO_IPV6 && name == IPV6_RECVERR)) {
    WatchRecvErr();
  }
  if (level == SOL_SOCKET && name == SO_RCVBUF && pair_.is_open()) {
    // The pair holds what the application has not read: its send buffer
    // on stackd's end is the socket's receive buffer.
    int size = std::max(ReceiveBufferBytes() / 2, kMinPairSndbuf);
    setsockopt(pair_.native_handle(), SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
  }
  ApplyOptions();
  return 0;
}

int UdpSocket::GetOpt(int level, int name, OptValue* value) {
  auto set = [&](int64_t v) {
    value->set_int_value(v);
    return 0;
  };
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_ERROR: {
        const int error = pending_error_;
        pending_error_ = 0;
        return set(error);
      }
      case SO_TYPE: return set(SOCK_DGRAM);
      case SO_DOMAIN: return set(family_);
      case SO_PROTOCOL: return set(IPPROTO_UDP);
      case SO_ACCEPTCONN: return set(0);
      case SO_LINGER:
        value->mutable_linger()->set_on(options_.linger_on());
        value->mutable_linger()->set_seconds(options_.linger_seconds());
        return 0;
      default: break;
    }
  }
  if (level == IPPROTO_IP && name == IP_MULTICAST_IF) {
    auto* m = value->mutable_membership();
    m->set_interface_address(std::string(reinterpret_cast<const char*>(&mcast_addr4_), 4));
    m->set_ifindex(mcast_ifindex_);
    return 0;
  }
  if ((level == IPPROTO_IP && name == IP_MTU) ||
      (level == IPPROTO_IPV6 && name == IPV6_MTU && family_ == AF_INET6)) {
    if (!connected_ || pcb_ == nullptr) return ENOTCONN;
    const int mtu = PathMtu(pcb_->local_ip, pcb_->remote_ip);
    if (mtu == 0) return ENOTCONN;
    return set(mtu);
  }
  if (level == IPPROTO_IPV6 && family_ == AF_INET6) {
    if (name == IPV6_V6ONLY) return set(v6only_);
    if (name == IPV6_MULTICAST_IF) return set(mcast_ifindex_);
  }
  int v = 0;
  if (int error = options_.Get(level, name, &v)) return error;
  return set(v);
}

int UdpSocket::Membership(int level, int name, const socket::v1::Membership& m) {
  const bool join = name == IP_ADD_MEMBERSHIP || name == IPV6_JOIN_GROUP;
  const std::string& group_bytes = m.group();
  ip_addr_t group;
  if (level == IPPROTO_IP) {
    if (group_bytes.size() != 4) return EINVAL;
    ip_addr_set_zero_ip4(&group);
    std::memcpy(&ip_2_ip4(&group)->addr, group_bytes.data(), 4);
    if (!ip4_addr_ismulticast(ip_2_ip4(&group))) return EINVAL;
  } else {
    if (group_bytes.size() != 16) return EINVAL;
    ip_addr_set_zero_ip6(&group);
    std::memcpy(ip_2_ip6(&group)->addr, group_bytes.data(), 16);
    if (!ip6_addr_ismulticast(ip_2_ip6(&group))) return EINVAL;
  }
  netif* nif = nullptr;
  uint32_t ifindex = m.ifindex();
  if (ifindex != 0) {
    nif = ifindex <= 255 ? netif_get_by_index(static_cast<u8_t>(ifindex)) : nullptr;
    if (nif == nullptr) return ENODEV;
  } else if (m.interface_address().size() == 4) {
    uint32_t addr;
    std::memcpy(&addr, m.interface_address().data(), 4);
    if (addr != 0) {
      for (netif* n = netif_list; n != nullptr; n = n->next) {
        if (netif_ip4_addr(n)->addr == addr) nif = n;
      }
      if (nif == nullptr) return ENODEV;
      ifindex = netif_get_index(nif);
    }
  }
  auto same = [&](const Group& g) {
    return g.ifindex == ifindex && ip_addr_eq(&g.group, &group);
  };
  auto it = std::find_if(groups_.begin(), groups_.end(), same);
  if (join && it != groups_.end()) return EADDRINUSE;
  if (!join && it == groups_.end()) return EADDRNOTAVAIL;
  err_t err;
  if (IP_IS_V4_VAL(group)) {
    if (join) {
      err = nif ? igmp_joingroup_netif(nif, ip_2_ip4(&group))
                : igmp_joingroup(IP4_ADDR_ANY4, ip_2_ip4(&group));
    } else {
      err = nif ? igmp_leavegroup_netif(nif, ip_2_ip4(&group))
                : igmp_leavegroup(IP4_ADDR_ANY4, ip_2_ip4(&group));
    }
  } else {
    if (join) {
      err = nif ? mld6_joingroup_netif(nif, ip_2_ip6(&group))
                : mld6_joingroup(IP6_ADDR_ANY6, ip_2_ip6(&group));
    } else {
      err = nif ? mld6_leavegroup_netif(nif, ip_2_ip6(&group))
                : mld6_leavegroup(IP6_ADDR_ANY6, ip_2_ip6(&group));
    }
  }
  if (join) {
    if (err != ERR_OK) return err == ERR_VAL ? ENODEV : LwipErrToErrno(err);
    groups_.push_back(Group{group, ifindex});
  } else {
    groups_.erase(it);
  }
  return 0;
}

void UdpSocket::LeaveAllGroups() {
  for (const Group& g : groups_) {
    netif* nif = g.ifindex != 0 && g.ifindex <= 255
                     ? netif_get_by_index(static_cast<u8_t>(g.ifindex))
                     : nullptr;
    if (IP_IS_V4_VAL(g.group)) {
      if (nif) igmp_leavegroup_netif(nif, ip_2_ip4(&g.group));
      else igmp_leavegroup(IP4_ADDR_ANY4, ip_2_ip4(&g.group));
    } else {
      if (nif) mld6_leavegroup_netif(nif, ip_2_ip6(&g.group));
      else mld6_leavegroup(IP6_ADDR_ANY6, ip_2_ip6(&g.group));
    }
  }
  groups_.clear();
}

int UdpSocket::Shutdown(int how, int app_fd) {
  if (how < SHUT_RD || how > SHUT_RDWR) return EINVAL;
  // As Linux: the shutdown takes effect even on an unconnected socket,
  // which then reports ENOTCONN.
  shutdown(app_fd, how);
  return connected_ ? 0 : ENOTCONN;
}

SocketSummary UdpSocket::Summary() const {
  SocketSummary s;
  s.id = id_;
  s.protocol = ping_ ? (family_ == AF_INET6 ? "icmp6" : "icmp") : "udp";
  s.family = family_;
  if (closed_) {
    s.state = "closed";
  } else if (connected_) {
    s.state = "connected";
  } else {
    s.state = pcb_ != nullptr && pcb_->local_port != 0 ? "bound" : "open";
  }
  GetName(false, &s.local.emplace_back());
  for (const udp_pcb* pcb : extra_pcbs_) {
    s.local.push_back(ToWire(pcb->local_ip, pcb->local_port, family_));
  }
  if (connected_) s.peer = peer_;
  s.owner_pid = owner_pid_;
  s.owner_uid = owner_uid_;
  s.bytes_in = bytes_in_;
  s.bytes_out = bytes_out_;
  s.rx_dropped = rx_dropped_;
  if (pair_.is_open()) {
    int queued = 0;
    // Written to the pair, not yet read by the application (the kernel's
    // accounting, header and bookkeeping included).
    if (ioctl(pair_.native_handle(), SIOCOUTQ, &queued) == 0 && queued > 0) {
      s.rx_queued = static_cast<uint64_t>(queued);
    }
    // Sent by the application, not yet taken by stackd.
    if (ioctl(pair_.native_handle(), SIOCINQ, &queued) == 0 && queued > 0) {
      s.tx_queued = static_cast<uint64_t>(queued);
    }
  }
  return s;
}

}  // namespace stackd
