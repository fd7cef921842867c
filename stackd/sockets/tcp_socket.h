// TcpSocket: one application TCP socket, i.e. an lwIP PCB (or several
// listening PCBs) joined to stackd's end of a socketpair whose other end the
// application holds. docs/socket-protocol.md is the contract: how connect,
// data, FIN, RST, close and accept look on the pair.
//
// Thread: the stack thread only (lwIP callbacks and Asio handlers run
// there). A TcpSocket is owned by its SocketTable, which the socket asks to
// drop it once both the PCB and the application's fd are gone.
#ifndef STACKD_SOCKETS_TCP_SOCKET_H_
#define STACKD_SOCKETS_TCP_SOCKET_H_

#include <sys/socket.h>
#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "lwip/tcp.h"
#include "proto/socket.pb.h"
#include "stackd/lwip_port/icmp_error.h"
#include "stackd/sockets/accept_queue.h"
#include "stackd/sockets/connect_race.h"
#include "stackd/sockets/options/socket_options.h"
#include "stackd/sockets/socket.h"
#include "stackd/sockets/tcp_binding.h"
#include "stackd/sockets/tcp_reuseport.h"

namespace stackd {

class SocketTable;

class TcpSocket : public Socket,
                  public std::enable_shared_from_this<TcpSocket>,
                  private ConnectRace::Owner,
                  private AcceptQueue::Owner,
                  private AcceptQueue::Connection {
 public:
  enum class State { kOpen, kListening, kConnecting, kConnected, kClosed };

  // The socket's side of the pair, ready for use: `pair_fd` is stackd's
  // end (ownership passes to the socket). `pcb` is a fresh PCB, or an
  // accepted one (then `state` is kConnected).
  TcpSocket(SocketTable* table, uint64_t id, int family, int pair_fd,
            tcp_pcb* pcb, State state);
  ~TcpSocket() override;
  TcpSocket(const TcpSocket&) = delete;
  TcpSocket& operator=(const TcpSocket&) = delete;

  // Starts watching the pair. Call once, after the table holds the socket.
  void Start() override;

  // The control calls. Each returns 0 or an errno value, as the library
  // will return it (see proto/socket.proto for the errors of each).
  int Bind(const socket::v1::Address& address, socket::v1::Address* bound) override;
  int Listen(int backlog) override;
  // `app_fd` is a copy of the application's fd, kept until the handshake
  // ends (to restore its send buffer); ownership passes to the socket.
  int Connect(const socket::v1::Address& address, uint32_t gate_bytes,
              int app_sndbuf, int app_fd) override;
  // mconnect(3): races a handshake to every address (see MConnectRequest).
  int MultiConnect(const socket::v1::MConnectRequest& request, int app_fd);
  // mbind(3): binds to every address, all or nothing; `bound` gets them
  // with their ports.
  int MultiBind(const socket::v1::MBindRequest& request,
                socket::v1::AddressList* bound);
  int GetName(bool peer, socket::v1::Address* out) const override;
  int SetOpt(int level, int name, const socket::v1::OptValue& value) override;
  int GetOpt(int level, int name, socket::v1::OptValue* value) override;
  // `app_fd` is the application's fd (borrowed): SHUT_WR and SHUT_RD act on
  // it so the pair shows the same thing a TCP socket would.
  int Shutdown(int how, int app_fd) override;
  // As Linux's tcp_abort (`ss -K`): RST to the peer of a synchronized
  // connection, ECONNABORTED for the application (a listener's accept, a
  // connect, a read or write).
  int Kill() override;

  // Housekeeping from the stack thread's timer: accept-queue accounting.
  void Tick() override;

  void set_owner(pid_t pid, uid_t uid) override {
    owner_pid_ = pid;
    owner_uid_ = uid;
  }
  uint64_t id() const override { return id_; }
  SocketSummary Summary() const override;

 private:
  // lwIP callbacks (arg is the TcpSocket).
  static err_t OnRecv(void* arg, tcp_pcb* pcb, pbuf* p, err_t err);
  static err_t OnSent(void* arg, tcp_pcb* pcb, u16_t len);
  static void OnError(void* arg, err_t err);
  // An ICMP or ICMPv6 error that quotes a segment of a TcpSocket's pcb (in
  // SND.UNA..SND.NXT), as Linux's tcp_v4_err/tcp_v6_err: during the
  // handshake the connect fails at once with the error. Never drops the
  // message. (Linux also keeps an error about an established connection
  // as its "soft" error, reported if the connection times out; not yet.)
  static bool OnIcmpError(const IcmpError& error);
  // Starts handing TCP's ICMP errors to OnIcmpError (idempotent).
  static void WatchIcmp();
  static err_t OnConnected(void* arg, tcp_pcb* pcb, err_t err);
  static err_t OnAccept(void* arg, tcp_pcb* pcb, err_t err);
  static err_t OnPoll(void* arg, tcp_pcb* pcb);

  // ConnectRace::Owner: the mconnect race in progress.
  bool RaceWanted() const override { return state_ == State::kConnecting; }
  void SetUpAttempt(tcp_pcb* pcb) const override { ApplyOptions(pcb); }
  int SynRetries() const override { return SynCount(); }
  void RaceWon(tcp_pcb* pcb, const ConnectRace::Target& winner) override;
  void RaceLost(int error) override { FinishConnect(error); }

  // AcceptQueue::Owner: a listener's accepted connections.
  int PairFd() const override { return pair_.is_open() ? pair_.native_handle() : -1; }
  bool ListenerShut() const override { return listener_shut_; }
  void Admit(const std::shared_ptr<AcceptQueue::Connection>& c, ino_t app_ino) override;

  // AcceptQueue::Connection: this socket, accepted on a listener.
  bool IsClosed() const override { return state_ == State::kClosed; }
  bool HasPcb() const override { return pcb_ != nullptr; }
  socket::v1::AcceptRecord Record() const override;
  bool BacklogDelayed() const override { return backlog_delayed_; }
  void BacklogAccepted() override;
  void Close(bool reset) override { OnAppClosed(reset); }
  int TakeHeldFd(ino_t* app_ino) override;
  void Abandon() override;
  // This socket as its listener's queue holds it.
  std::shared_ptr<AcceptQueue::Connection> AsConnection();

  void AttachPcb(tcp_pcb* pcb);
  void DetachPcb();
  void WatchReadable();
  void WatchWritable();
  void WatchHangup();
  // Network -> application: writes what lwIP gave us to the pair.
  void FlushToApp();
  // `written` bytes of rx_queue_ reached the application.
  void ConsumeRx(size_t written);
  // The segment hook saw an urgent pointer on `pcb` (tcp_urgent.h).
  static void OnUrgent(tcp_pcb* pcb, uint32_t urgent_seq);
  // Application -> network: reads the pair into lwIP's send buffer.
  void PumpFromApp();
  // A partial segment waits corked: sends it once the ceiling has passed.
  void HoldCorked();
  // TCP_USER_TIMEOUT on a connected socket: watches that what was sent is
  // acknowledged; data unacknowledged (or unsendable into a zero window)
  // for longer ends the connection with ETIMEDOUT (or the ICMP error it
  // last got: TimeoutError), as Linux does.
  void WatchUserTimeout();
  void CheckUserTimeout();
  int TimeoutError(int error) const;
  // What connect() or mconnect() answers in the socket's state without
  // starting an attempt (0, EALREADY, EISCONN, the failed attempt's
  // error), or kConnectGoesOn on an unconnected socket.
  static constexpr int kConnectGoesOn = -1;
  int ConnectAnswer();
  // Ends a connection attempt: 0 on success, else the errno.
  void FinishConnect(int error);
  // Reads and drops `bytes` gate bytes from the head of the pair.
  void DrainGate(uint32_t bytes);
  // The pcb is gone (RST, timeout): record `error` and close our end.
  void Fail(int error);
  // The application closed every copy of its fd.
  void OnAppClosed(bool reset);
  // Accept: hands a new connection to the application, or under
  // TCP_DEFER_ACCEPT keeps it until data comes or the time is up.
  err_t Accept(tcp_pcb* newpcb);
  // Of a deferred connection: tells its listener it is ready.
  void DeferralEnds();
  // Of a deferred connection that ends before it was handed over: closes
  // the held fd and leaves the listener's list.
  void LeaveDeferral();
  // Tells lwIP what the options say, on `pcb` (the socket's own PCB, a
  // listener's, an mconnect candidate's).
  void ApplyOptions(tcp_pcb* pcb) const;
  // getsockopt(TCP_INFO).
  void FillTcpInfo(socket::v1::TcpInfo* info) const;
  // SO_REUSEPORT: what this socket lets a later bind share (tcp_binding.h).
  static Sharing SharingOf(const tcp_pcb* pcb);
  // listen() on the address and port of a listener of this owner with
  // SO_REUSEPORT: joins its group (tcp_reuseport.h) instead of making a
  // listening PCB; false if there is none.
  bool JoinReuseportGroup();
  // Leaves the group; a holder hands its listening PCB to the next member.
  void LeaveReuseportGroup();
  bool reuseport() const { return options_.flag(SOL_SOCKET, SO_REUSEPORT); }
  // shutdown(SHUT_RD or SHUT_RDWR) of a listener.
  void ShutListener();
  bool reuseaddr() const { return options_.flag(SOL_SOCKET, SO_REUSEADDR); }
  // TCP_SYNCNT if the application set it, else 0 (lwIP's own limit).
  int SynCount() const;
  void CloseListeners();
  void ClosePair();
  void MaybeDrop();
  bool PairHungUp() const override;

  SocketTable* table_;
  const uint64_t id_;
  const int family_;
  State state_;
  tcp_pcb* pcb_ = nullptr;
  std::vector<tcp_pcb*> listeners_;
  // SO_REUSEPORT: the listeners sharing this one's address and port, and
  // (for a member without the PCB) that address and port.
  std::shared_ptr<ReuseportGroup> reuseport_group_;
  ip_addr_t group_ip_{};
  uint16_t group_port_ = 0;
  // mbind: every bound PCB (the first is pcb_) until listen().
  std::vector<tcp_pcb*> bound_;
  // mconnect: the race, from MultiConnect on.
  std::shared_ptr<ConnectRace> race_;
  mutable boost::asio::posix::stream_descriptor pair_;
  bool watching_read_ = false;
  bool watching_write_ = false;
  bool watching_hangup_ = false;

  // Options: the integer ones in the shared table, the rest here.
  SocketOptions options_;
  bool v6only_ = false;
  int pending_error_ = 0;
  // False from a connect() that returned EINPROGRESS until a later
  // connect() has reported its outcome.
  bool connect_reported_ = true;
  // shutdown(SHUT_RD) of a listener: no longer listening (ShutListener).
  bool listener_shut_ = false;

  // Connect in progress.
  uint32_t gate_bytes_ = 0;
  int app_sndbuf_ = 0;
  int app_fd_ = -1;
  socket::v1::Address peer_;

  // Network -> application.
  std::deque<pbuf*> rx_queue_;
  size_t rx_offset_ = 0;  // Into rx_queue_.front().
  uint64_t rx_queued_ = 0;
  bool remote_fin_ = false;
  uint32_t rx_seq_ = 0;  // Sequence number of rx_queue_'s first byte.
  // Urgent data: the urgent byte, not yet handed over out of band.
  bool urgent_pending_ = false;
  uint32_t urgent_seq_ = 0;
  int quick_acks_left_ = 16;  // Linux's TCP_MAX_QUICKACKS.
  bool app_read_shut_ = false;  // shutdown(SHUT_RD): drop what arrives.
  bool fin_to_app_ = false;     // We did shutdown(pair, SHUT_WR).

  // Application -> network.
  bool app_eof_ = false;
  bool waiting_for_sndbuf_ = false;
  // TCP_CORK: lwIP holds a partial last segment (tcp_cork); as on Linux it
  // leaves after kCorkCeiling at the latest.
  std::unique_ptr<boost::asio::steady_timer> cork_timer_;
  bool cork_timer_armed_ = false;
  // TCP_USER_TIMEOUT: the acknowledged sequence number last seen to move
  // (or with nothing outstanding), and when.
  std::unique_ptr<boost::asio::steady_timer> user_timer_;
  bool user_timer_armed_ = false;
  uint32_t progress_ack_ = 0;
  std::chrono::steady_clock::time_point progress_since_;

  // Listening: the accepted connections (accept_queue.h).
  AcceptQueue accept_queue_{static_cast<AcceptQueue::Owner*>(this)};
  std::weak_ptr<TcpSocket> listener_;  // For an accepted socket.
  // TCP_DEFER_ACCEPT, on a connection not yet handed over (its listener's
  // queue holds it): the application's end of its pair, held until then,
  // its inode, and the deferral's timer.
  int deferred_app_fd_ = -1;
  ino_t deferred_app_ino_ = 0;
  std::unique_ptr<boost::asio::steady_timer> defer_timer_;
  bool backlog_delayed_ = false;

  pid_t owner_pid_ = 0;
  uid_t owner_uid_ = 0;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
  uint64_t bytes_acked_ = 0;  // TCP_INFO's tcpi_bytes_acked
  // The errno of the last ICMP error for the established connection
  // (Linux's sk_err_soft): reported instead of ETIMEDOUT if it times out,
  // forgotten when the peer acknowledges data.
  int soft_error_ = 0;
};

}  // namespace stackd

#endif  // STACKD_SOCKETS_TCP_SOCKET_H_
