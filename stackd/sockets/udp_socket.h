// UdpSocket: one application UDP socket, i.e. an lwIP udp_pcb joined to
// stackd's end of a SOCK_SEQPACKET socketpair whose other end the
// application holds. Each packet on the pair is one datagram: a fixed
// 48-byte header (the peer's and the local address) and the payload.
// docs/socket-protocol.md ("UDP on the pair") is the contract.
//
// Network -> application: lwIP's receive callback writes header + payload
// to the pair without waiting; when the pair is full the datagram is
// dropped and counted (rx_dropped), as Linux drops on a full receive
// buffer. stackd itself queues nothing, so its memory does not grow with
// what the peers send.
// Application -> network: datagrams are read off the pair in bounded
// batches while it is readable and handed to udp_sendto.
// An ICMP port unreachable for a connected socket's peer becomes an error
// record on the pair: the application's next receive fails with
// ECONNREFUSED.
//
// Thread: the stack thread only (lwIP callbacks and Asio handlers run
// there). A UdpSocket is owned by its SocketTable, which the socket asks to
// drop it once the application has closed every copy of its fd.
#ifndef STACKD_SOCKETS_UDP_SOCKET_H_
#define STACKD_SOCKETS_UDP_SOCKET_H_

#include <sys/types.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "lwip/ip_addr.h"
#include "lwip/udp.h"
#include "proto/socket.pb.h"
#include "client/datagram_header.h"
#include "stackd/lwip_port/icmp_error.h"
#include "stackd/sockets/options/socket_options.h"
#include "stackd/sockets/ping_echo.h"
#include "stackd/sockets/socket.h"

namespace stackd {

class SocketTable;

// The header of every packet on the pair, shared with the library.
using client::DatagramHeader;

class UdpSocket : public Socket,
                  public PingEndpoint,
                  public std::enable_shared_from_this<UdpSocket> {
 public:
  // Makes a UDP socket of `family` (AF_INET, AF_INET6) for the process
  // `pid`/`uid`: a pcb, a pair, an entry in `table`. On 0, *app_fd is the
  // application's end of the pair (the caller sends it, then closes it).
  // `protocol` IPPROTO_ICMP (AF_INET) or IPPROTO_ICMPV6 (AF_INET6) makes an
  // ICMP echo ("ping") socket instead (ping_echo.h): the same datagram
  // socket, whose port is its echo identifier and whose datagrams are echo
  // requests and replies; its pcb only holds its addresses and options.
  // Errors: EPROTONOSUPPORT (another protocol), ENOMEM, and NewPair's.
  static int Create(SocketTable* table, int family, int protocol, pid_t pid,
                    uid_t uid, int* app_fd);

  // `pair_fd` is stackd's end (ownership passes); `pcb` a fresh pcb.
  UdpSocket(SocketTable* table, uint64_t id, int family, int pair_fd,
            udp_pcb* pcb, bool ping = false);
  ~UdpSocket() override;
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  void Start() override;

  // Errors: EINVAL (already bound), EADDRINUSE, EADDRNOTAVAIL,
  // EAFNOSUPPORT.
  int Bind(const socket::v1::Address& address, socket::v1::Address* bound) override;
  // mbind(3): receives on every address:port, all or nothing; sends leave
  // from the first. The datagram header's local address (IP_PKTINFO) tells
  // which address a datagram reached.
  int MultiBind(const socket::v1::MBindRequest& request,
                socket::v1::AddressList* bound);

 private:
  void RemoveExtraPcbs();

 public:
  // EOPNOTSUPP, as Linux for a datagram socket.
  int Listen(int backlog) override;
  // Sets the default peer at once (0) or, for family AF_UNSPEC, dissolves
  // the association. `app_fd` is closed here after its connection mark is
  // updated (docs/socket-protocol.md). Errors: EAFNOSUPPORT, EINVAL,
  // ENETUNREACH (no route), EADDRINUSE.
  int Connect(const socket::v1::Address& address, uint32_t gate_bytes,
              int app_sndbuf, int app_fd) override;
  int GetName(bool peer, socket::v1::Address* out) const override;
  int SetOpt(int level, int name, const socket::v1::OptValue& value) override;
  int GetOpt(int level, int name, socket::v1::OptValue* value) override;
  // Applies `how` to `app_fd` (borrowed) so receiving or sending ends as
  // on Linux. ENOTCONN on an unconnected socket (after applying it, as
  // Linux does).
  int Shutdown(int how, int app_fd) override;
  // recvmsg(MSG_ERRQUEUE) with IP_RECVERR / IPV6_RECVERR set.
  int TakeQueuedError(bool peek, socket::v1::QueuedError* out) override;

  void set_owner(pid_t pid, uid_t uid) override {
    owner_pid_ = pid;
    owner_uid_ = uid;
  }
  uint64_t id() const override { return id_; }
  SocketSummary Summary() const override;

  // PingEndpoint, for a ping socket.
  const ip_addr_t& ping_local() const override { return pcb_->local_ip; }
  const ip_addr_t* ping_peer() const override { return connected_ ? &pcb_->remote_ip : nullptr; }
  bool ping_reuse() const override;
  void OnEchoReply(const pbuf* message, const ip_addr_t& from) override;

  // The value of the connection mark (SO_RCVLOWAT on the application's
  // end): kMarkBase, kMarkInet6 for an AF_INET6 socket, kMarkPing for a
  // ping socket, and the largest
  // payload the connected peer takes (0 when not connected).
  static constexpr int kMarkBase = 0x53400000;
  static constexpr int kMarkInet6 = 0x00010000;
  static constexpr int kMarkPing = 0x00020000;
  // The largest payloads: IPv4's, and IPv6's as lwIP's 16-bit packet
  // lengths allow (65535 bytes with the IPv6 and UDP headers).
  static constexpr size_t kMaxPayload4 = 65507;
  static constexpr size_t kMaxPayload6 = 65487;

 private:
  int CheckPortSharing(const ip_addr_t& ip, uint16_t port) const;
  static void OnRecv(void* arg, udp_pcb* pcb, pbuf* p, const ip_addr_t* addr,
                     u16_t port);
  // An ICMP or ICMPv6 error about a datagram (`message` is the whole
  // message, icmp_watch.h), for the socket that sent it.
  static void OnIcmpError(const IcmpError& error, const uint8_t* message);
  // Starts handing UDP's ICMP errors to OnIcmpError (idempotent).
  static void WatchIcmp();
  // Connected sockets, for OnIcmpError.
  void SetConnected(bool connected);
  // IP_RECVERR for IPv4 traffic (`v4`), IPV6_RECVERR for IPv6.
  bool RecvErr(bool v4) const;
  // Sockets with either option set, for OnIcmpError: their errors are queued.
  void WatchRecvErr();

  void WatchReadable();
  void WatchHangup();
  // Reads up to a bounded number of datagrams off the pair and sends them.
  void PumpFromApp();
  void SendOne(const uint8_t* data, size_t len);
  // Writes `header` + `p` (null for a header alone) to the pair without
  // waiting. Returns 0 or the errno of sendmsg(2): EAGAIN when the pair
  // had no room.
  int Deliver(const DatagramHeader& header, const pbuf* p);
  void OnAppClosed();
  bool PairHungUp() const;
  void SetMark(int app_fd) const;
  // A fresh pcb with this socket's options, in place of pcb_ (connect to
  // AF_UNSPEC gives back a port that connect chose).
  int ReplacePcb();
  void ApplyOptions();
  int Membership(int level, int name, const socket::v1::Membership& m);
  void LeaveAllGroups();
  int ReceiveBufferBytes() const;
  // Marks in `h` the control messages the application asked for, with the
  // values they carry (during lwIP's receive callback).
  void AskForControl(DatagramHeader* h) const;

  // A received datagram (`p`) from `addr`:`port` for the application.
  void Receive(const pbuf* p, const ip_addr_t& addr, uint16_t port);
  // A ping socket's echo request.
  void SendEcho(const uint8_t* icmp, size_t len, const ip_addr_t& dst, const ip_addr_t& src);

  SocketTable* table_;
  const uint64_t id_;
  const int family_;
  const bool ping_;
  udp_pcb* pcb_;
  mutable boost::asio::posix::stream_descriptor pair_;
  bool closed_ = false;
  bool watching_read_ = false;
  bool watching_hangup_ = false;
  bool app_write_shut_ = false;  // The application shut down sending.

  bool connected_ = false;
  bool bound_explicitly_ = false;
  socket::v1::Address peer_;

  // Options: the integer ones in the shared table, the rest here.
  SocketOptions options_;
  bool v6only_ = false;
  uint32_t mcast_ifindex_ = 0;
  uint32_t mcast_addr4_ = 0;  // Network order.
  int pending_error_ = 0;
  // IP_RECVERR: ICMP errors for recvmsg(MSG_ERRQUEUE), oldest first.
  std::deque<socket::v1::QueuedError> err_queue_;
  struct Group {
    ip_addr_t group;
    uint32_t ifindex;
  };
  std::vector<Group> groups_;

  pid_t owner_pid_ = 0;
  uid_t owner_uid_ = 0;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
  uint64_t rx_dropped_ = 0;   // Pair full.
  uint64_t tx_dropped_ = 0;   // Bad header, no route, refused by lwIP.
  // mbind: the PCBs of the second and later pairs.
  std::vector<udp_pcb*> extra_pcbs_;
};

}  // namespace stackd

#endif  // STACKD_SOCKETS_UDP_SOCKET_H_
