#include "stackd/sockets/tcp_socket.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>

#include "lwip/ip6_addr.h"
#include "lwip/netif.h"
#include "lwip/priv/tcp_priv.h"
#include "stackd/log.h"
#include "stackd/lwip_port/icmp_watch.h"
#include "stackd/lwip_port/tcp_urgent.h"
#include "stackd/sockets/lwip_errno.h"
#include "stackd/sockets/netif_facts.h"
#include "stackd/sockets/socket_table.h"
#include "stackd/sockets/tcp_binding.h"
#include "stackd/sockets/wire_address.h"

namespace stackd {
namespace {

namespace asio = boost::asio;
using socket::v1::Address;
using socket::v1::OptValue;

// Bytes read from the application in one go, at most.
constexpr size_t kTxChunk = 256 * 1024;
// lwIP's tcp_write and tcp_recved take 16-bit lengths.
constexpr size_t kMaxLwipLength = 0xffff;
// Leave room in lwIP's segment queue for one more full write.
constexpr int kQueueHeadroom = 64;
constexpr int kMaxIov = 64;
// How long TCP_CORK holds a partial segment at most (tcp(7): 200 ms).
constexpr auto kCorkCeiling = std::chrono::milliseconds(200);
// TCP_USER_TIMEOUT is checked at least this often (ms).
constexpr int kUserTimeoutCheckMs = 100;

Address Unspecified(int family) {
  ip_addr_t any;
  ip_addr_set_zero(&any);
  return ToWire(any, 0, family);
}

}  // namespace

TcpSocket::TcpSocket(SocketTable* table, uint64_t id, int family, int pair_fd,
                     tcp_pcb* pcb, State state)
    : table_(table),
      id_(id),
      family_(family),
      state_(state),
      pair_(table->io(), pair_fd),
      options_(Protocol::kTcp, family) {
  pair_.non_blocking(true);
  // A byte the application sends with MSG_OOB stays in the stream, where
  // SIOCATMARK finds it (PumpFromApp); without SO_OOBINLINE a read that
  // starts at it would drop it.
  const int one = 1;
  setsockopt(pair_fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one));
  SetTcpUrgentHandler(&TcpSocket::OnUrgent);
  peer_ = Unspecified(family);
  if (pcb != nullptr) AttachPcb(pcb);
  if (state_ == State::kConnected && pcb_ != nullptr) {
    peer_ = ToWire(pcb_->remote_ip, pcb_->remote_port, family_);
    rx_seq_ = pcb_->rcv_nxt;
  }
}

TcpSocket::~TcpSocket() {
  LeaveReuseportGroup();
  if (race_) race_->Stop();
  for (size_t i = 1; i < bound_.size(); ++i) tcp_abort(bound_[i]);
  DetachPcb();
  for (tcp_pcb* lpcb : listeners_) {
    tcp_arg(lpcb, nullptr);
    tcp_accept(lpcb, nullptr);
    tcp_close(lpcb);
  }
  for (pbuf* p : rx_queue_) pbuf_free(p);
  if (app_fd_ >= 0) close(app_fd_);
  if (deferred_app_fd_ >= 0) close(deferred_app_fd_);
}

void TcpSocket::AttachPcb(tcp_pcb* pcb) {
  pcb_ = pcb;
  tcp_arg(pcb, this);
  tcp_recv(pcb, &TcpSocket::OnRecv);
  tcp_sent(pcb, &TcpSocket::OnSent);
  tcp_err(pcb, &TcpSocket::OnError);
}

// Hands the PCB to lwIP for good: no more callbacks reach this socket.
void TcpSocket::DetachPcb() {
  if (pcb_ == nullptr) return;
  tcp_arg(pcb_, nullptr);
  tcp_recv(pcb_, nullptr);
  tcp_sent(pcb_, nullptr);
  tcp_err(pcb_, nullptr);
  tcp_poll(pcb_, nullptr, 0);
  pcb_ = nullptr;
}

void TcpSocket::Start() {
  if (state_ == State::kConnected) {
    WatchReadable();
    WatchUserTimeout();  // An accepted socket inherits TCP_USER_TIMEOUT.
  } else {
    WatchHangup();
  }
}

// --- Watching the pair ------------------------------------------------------

void TcpSocket::WatchReadable() {
  if (watching_read_ || !pair_.is_open()) return;
  watching_read_ = true;
  pair_.async_wait(asio::posix::stream_descriptor::wait_read,
                   [self = shared_from_this()](const boost::system::error_code& ec) {
                     self->watching_read_ = false;
                     if (ec || self->state_ == State::kClosed) return;
                     if (self->state_ != State::kListening) self->PumpFromApp();
                   });
}

// Before a connection exists the pair may hold gate bytes that must stay
// unread; only the application's last close matters then (an error-class
// wait completes on POLLHUP without consuming anything).
void TcpSocket::WatchHangup() {
  if (watching_hangup_ || !pair_.is_open()) return;
  watching_hangup_ = true;
  pair_.async_wait(asio::posix::stream_descriptor::wait_error,
                   [self = shared_from_this()](const boost::system::error_code& ec) {
                     self->watching_hangup_ = false;
                     if (ec || self->state_ == State::kClosed) return;
                     if (self->state_ != State::kOpen && self->state_ != State::kConnecting &&
                         self->state_ != State::kListening) {
                       return;
                     }
                     if (self->PairHungUp()) {
                       self->OnAppClosed(false);
                     } else {
                       self->WatchHangup();
                     }
                   });
}

void TcpSocket::WatchWritable() {
  if (watching_write_ || !pair_.is_open()) return;
  watching_write_ = true;
  pair_.async_wait(asio::posix::stream_descriptor::wait_write,
                   [self = shared_from_this()](const boost::system::error_code& ec) {
                     self->watching_write_ = false;
                     if (ec || self->state_ == State::kClosed) return;
                     self->FlushToApp();
                   });
}

bool TcpSocket::PairHungUp() const {
  if (!pair_.is_open()) return true;
  pollfd pfd{pair_.native_handle(), POLLIN, 0};
  return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP) != 0;
}

void TcpSocket::ClosePair() {
  boost::system::error_code ignored;
  pair_.close(ignored);
}

void TcpSocket::MaybeDrop() {
  if (state_ == State::kClosed) table_->Remove(id_, pending_error_);
}

// --- Network -> application ---------------------------------------------------

err_t TcpSocket::OnRecv(void* arg, tcp_pcb* pcb, pbuf* p, err_t err) {
  auto* self = static_cast<TcpSocket*>(arg);
  if (self == nullptr) {
    if (p != nullptr) {
      tcp_recved(pcb, p->tot_len);
      pbuf_free(p);
    }
    return ERR_OK;
  }
  if (self->deferred_app_fd_ >= 0) {
    // TCP_DEFER_ACCEPT: data or a FIN ends the wait (after this callback).
    asio::post(self->table_->io(), [weak = self->weak_from_this()] {
      if (auto s = weak.lock()) s->DeferralEnds();
    });
  }
  if (p == nullptr) {
    self->remote_fin_ = true;
    err_t result = ERR_OK;
    if (self->app_eof_) {
      // Both directions are finished: lwIP completes the close alone.
      self->DetachPcb();
      if (tcp_close(pcb) != ERR_OK) {
        tcp_abort(pcb);
        result = ERR_ABRT;
      }
    }
    self->FlushToApp();
    return result;
  }
  (void)err;
  if (self->app_read_shut_) {
    self->rx_seq_ += p->tot_len;
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    if (pcb->state == FIN_WAIT_1 || pcb->state == FIN_WAIT_2) {
      // Data for a socket shut both ways: Linux answers with RST, and the
      // application's next read reports the reset.
      self->DetachPcb();
      tcp_abort(pcb);
      self->Fail(ECONNRESET);
      return ERR_ABRT;
    }
    return ERR_OK;
  }
  // Linux acknowledges the first segments of a connection at once
  // (quick-ack mode, up to TCP_MAX_QUICKACKS) instead of after the delayed
  // ACK timer: a peer waiting on its initial window is not held up.
  if (self->quick_acks_left_ > 0) {
    --self->quick_acks_left_;
    tcp_ack_now(pcb);
  }
  self->rx_queue_.push_back(p);
  self->rx_queued_ += p->tot_len;
  self->FlushToApp();
  return ERR_OK;
}

void TcpSocket::OnUrgent(tcp_pcb* pcb, uint32_t urgent_seq) {
  // Only the socket's own connection (an mconnect candidate's arg is not a
  // TcpSocket); a pointer into what the application already has is stale.
  if (pcb->recv != &TcpSocket::OnRecv || pcb->callback_arg == nullptr) return;
  auto* self = static_cast<TcpSocket*>(pcb->callback_arg);
  if (TCP_SEQ_LT(urgent_seq, self->rx_seq_)) return;
  self->urgent_seq_ = urgent_seq;
  self->urgent_pending_ = true;
}

void TcpSocket::ConsumeRx(size_t written) {
  bytes_in_ += written;
  rx_queued_ -= written;
  rx_seq_ += static_cast<uint32_t>(written);
  for (size_t left = written; pcb_ != nullptr && left > 0;) {
    size_t part = std::min(left, kMaxLwipLength);
    tcp_recved(pcb_, static_cast<u16_t>(part));
    left -= part;
  }
  rx_offset_ += written;
  while (!rx_queue_.empty() && rx_offset_ >= rx_queue_.front()->tot_len) {
    rx_offset_ -= rx_queue_.front()->tot_len;
    pbuf_free(rx_queue_.front());
    rx_queue_.pop_front();
  }
}

void TcpSocket::FlushToApp() {
  while (!rx_queue_.empty() && pair_.is_open()) {
    // Up to the urgent byte, if one is queued; it goes out of band on the
    // pair (an AF_UNIX stream keeps one such byte, as TCP does), unless
    // SO_OOBINLINE asks for it in the stream.
    size_t limit = rx_queued_;
    if (urgent_pending_) {
      const uint32_t ahead = urgent_seq_ - rx_seq_;
      if (TCP_SEQ_LT(urgent_seq_, rx_seq_) || options_.flag(SOL_SOCKET, SO_OOBINLINE)) {
        urgent_pending_ = false;
      } else if (ahead < rx_queued_) {
        limit = ahead;
      }
    }
    if (limit == 0) {
      uint8_t byte = pbuf_get_at(rx_queue_.front(), static_cast<u16_t>(rx_offset_));
      if (send(pair_.native_handle(), &byte, 1, MSG_OOB | MSG_DONTWAIT | MSG_NOSIGNAL) != 1) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) WatchWritable();
        return;
      }
      urgent_pending_ = false;
      ConsumeRx(1);
      continue;
    }
    iovec iov[kMaxIov];
    int n_iov = 0;
    size_t skip = rx_offset_;
    size_t room = limit;
    for (pbuf* chain : rx_queue_) {
      for (pbuf* q = chain; q != nullptr && n_iov < kMaxIov && room > 0; q = q->next) {
        if (skip >= q->len) {
          skip -= q->len;
          continue;
        }
        iov[n_iov].iov_base = static_cast<uint8_t*>(q->payload) + skip;
        iov[n_iov].iov_len = std::min<size_t>(q->len - skip, room);
        room -= iov[n_iov].iov_len;
        skip = 0;
        ++n_iov;
      }
      if (n_iov == kMaxIov || room == 0) break;
    }
    ssize_t n = writev(pair_.native_handle(), iov, n_iov);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        WatchWritable();
      } else if (errno != EINTR) {
        // The application is gone; the read side notices and closes.
        WatchReadable();
      }
      return;
    }
    ConsumeRx(static_cast<size_t>(n));
  }
  if (rx_queue_.empty() && remote_fin_ && !fin_to_app_ && pair_.is_open()) {
    fin_to_app_ = true;
    shutdown(pair_.native_handle(), SHUT_WR);
  }
}

// --- Application -> network ---------------------------------------------------

err_t TcpSocket::OnSent(void* arg, tcp_pcb*, u16_t len) {
  auto* self = static_cast<TcpSocket*>(arg);
  if (self != nullptr) {
    self->bytes_acked_ += len;
    self->soft_error_ = 0;  // Something got through (Linux's tcp_ack).
  }
  if (self != nullptr && self->waiting_for_sndbuf_) {
    self->waiting_for_sndbuf_ = false;
    self->PumpFromApp();
  }
  return ERR_OK;
}

// Where PumpFromApp reads the application's bytes before tcp_write copies
// them into lwIP's segments: one buffer for every socket (only the stack
// thread pumps, one socket at a time), so an idle connection costs none.
static std::vector<uint8_t>& TxScratch() {
  static auto* buffer = new std::vector<uint8_t>(kTxChunk);
  return *buffer;
}

// How many bytes tcp_write can still queue on `pcb` before its segment
// queue is full (TCP_SND_QUEUELEN pbufs, where tcp_write fails): a pbuf per
// segment of at most the MSS, or half the peer's largest window if that is
// smaller (tcp_write's own rule), less one for the last segment it may
// extend, and kQueueHeadroom spare. With a 536-byte MSS, 4 MiB of send
// buffer is 7,800 segments: the buffer alone does not bound the queue.
static size_t QueueRoom(const tcp_pcb* pcb) {
  const size_t queued = tcp_sndqueuelen(pcb);
  if (queued + kQueueHeadroom >= TCP_SND_QUEUELEN) return 0;
  size_t segment = std::min<size_t>(pcb->mss, pcb->snd_wnd_max / 2);
  if (segment == 0) segment = pcb->mss;
  return (TCP_SND_QUEUELEN - queued - kQueueHeadroom - 1) * segment;
}

// Whether the pair holds a byte the application sent with MSG_OOB (AF_UNIX
// keeps it in the stream with SO_OOBINLINE and says POLLPRI), and whether
// it is the next byte to read.
static bool UrgentQueued(int fd) {
  pollfd pfd{fd, POLLPRI, 0};
  return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLPRI) != 0;
}
static bool AtUrgentMark(int fd) {
  int at_mark = 0;
  return ioctl(fd, SIOCATMARK, &at_mark) == 0 && at_mark != 0;
}

void TcpSocket::PumpFromApp() {
  if (state_ != State::kConnected) return;
  std::vector<uint8_t>& tx_buffer = TxScratch();
  bool wrote = false;
  // A read stops before the byte the application sent with MSG_OOB, so the
  // byte can only start a read: it is read alone and leaves as urgent data,
  // in the same segment as what came before it (as Linux sends it). One
  // poll per wake-up says whether such a byte waits; one that comes later
  // comes with a readiness of its own.
  const int fd = pair_.native_handle();
  bool urgent_queued = UrgentQueued(fd);
  while (pcb_ != nullptr && !app_eof_) {
    const size_t space = std::min<size_t>(tcp_sndbuf(pcb_), QueueRoom(pcb_));
    if (space == 0) {
      waiting_for_sndbuf_ = true;
      break;
    }
    const bool urgent = urgent_queued && AtUrgentMark(fd);
    const size_t want = urgent ? 1 : std::min(space, tx_buffer.size());
    ssize_t n = read(fd, tx_buffer.data(), want);
    if (n > 0) {
      // tcp_sndbuf() and QueueRoom() promised the room, so tcp_write takes
      // it all.
      for (size_t off = 0; off < static_cast<size_t>(n);) {
        size_t part = std::min(static_cast<size_t>(n) - off, kMaxLwipLength);
        u8_t flags = TCP_WRITE_FLAG_COPY;
        if (off + part < static_cast<size_t>(n)) flags |= TCP_WRITE_FLAG_MORE;
        err_t err = tcp_write(pcb_, tx_buffer.data() + off, static_cast<u16_t>(part), flags);
        if (err != ERR_OK) {
          // Out of memory: nothing sane to do with bytes we cannot queue.
          tcp_abort(pcb_);  // Calls OnError, which fails the socket.
          return;
        }
        off += part;
      }
      if (urgent) tcp_urgent(pcb_);
      bytes_out_ += static_cast<uint64_t>(n);
      wrote = true;
      // A short read took all there was (or stopped at an urgent byte that
      // came after the poll, and so with a readiness of its own): what
      // comes later wakes us again, and no read is spent on EAGAIN. After
      // a full read, an urgent byte may be next.
      if (static_cast<size_t>(n) < want && !urgent_queued) {
        WatchReadable();
        break;
      }
      urgent_queued = UrgentQueued(fd);
      continue;
    }
    if (n == 0) {
      if (PairHungUp()) {
        OnAppClosed(false);
        return;
      }
      // shutdown(SHUT_WR) by the application: FIN after the data.
      app_eof_ = true;
      if (remote_fin_) {
        if (tcp_close(pcb_) != ERR_OK) tcp_abort(pcb_);
        DetachPcb();
      } else {
        tcp_shutdown(pcb_, 0, 1);
      }
      // Keep watching: the application's final close still has to be seen.
      WatchReadable();
      return;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      WatchReadable();
      break;
    }
    if (errno == EINTR) continue;
    // ECONNRESET: the application closed with data it never read.
    OnAppClosed(true);
    return;
  }
  if (wrote && pcb_ != nullptr) {
    tcp_output(pcb_);
    if (tcp_corked(pcb_) && pcb_->unsent != nullptr) HoldCorked();
  }
  if (pcb_ == nullptr && state_ == State::kConnected && app_eof_) {
    // Both FINs done and lwIP owns the PCB: wait for the final close.
    if (PairHungUp()) {
      OnAppClosed(false);
    } else {
      WatchReadable();
    }
  }
}

void TcpSocket::HoldCorked() {
  if (cork_timer_armed_) return;
  if (cork_timer_ == nullptr) {
    cork_timer_ = std::make_unique<asio::steady_timer>(table_->io());
  }
  cork_timer_armed_ = true;
  cork_timer_->expires_after(kCorkCeiling);
  cork_timer_->async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || self == nullptr) return;
    self->cork_timer_armed_ = false;
    tcp_pcb* pcb = self->pcb_;
    if (pcb == nullptr || !tcp_corked(pcb) || pcb->unsent == nullptr) return;
    tcp_uncork(pcb);
    tcp_output(pcb);
    tcp_cork(pcb);
  });
}

void TcpSocket::WatchUserTimeout() {
  if (user_timer_armed_ || state_ != State::kConnected || pcb_ == nullptr) return;
  const int ms = options_.value(IPPROTO_TCP, TCP_USER_TIMEOUT);
  if (ms <= 0) return;
  if (user_timer_ == nullptr) {
    user_timer_ = std::make_unique<asio::steady_timer>(table_->io());
    progress_ack_ = pcb_->lastack;
    progress_since_ = std::chrono::steady_clock::now();
  }
  user_timer_armed_ = true;
  // Looked at four times per timeout (at most every 100 ms): the
  // connection ends within a quarter of the timeout after it expires.
  user_timer_->expires_after(
      std::chrono::milliseconds(std::clamp(ms / 4, 1, kUserTimeoutCheckMs)));
  user_timer_->async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || self == nullptr) return;
    self->user_timer_armed_ = false;
    self->CheckUserTimeout();
  });
}

void TcpSocket::CheckUserTimeout() {
  if (state_ != State::kConnected || pcb_ == nullptr) return;
  const int ms = options_.value(IPPROTO_TCP, TCP_USER_TIMEOUT);
  if (ms <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  const bool outstanding = pcb_->unacked != nullptr || pcb_->unsent != nullptr;
  if (!outstanding || pcb_->lastack != progress_ack_) {
    progress_ack_ = pcb_->lastack;
    progress_since_ = now;
  } else if (now - progress_since_ >= std::chrono::milliseconds(ms)) {
    // Linux's tcp_write_err: the connection ends without a RST.
    tcp_pcb* pcb = pcb_;
    DetachPcb();
    tcp_abandon(pcb, /*reset=*/0);
    Fail(TimeoutError(ETIMEDOUT));
    return;
  }
  WatchUserTimeout();
}

// --- Errors and closing -------------------------------------------------------

void TcpSocket::OnError(void* arg, err_t err) {
  auto* self = static_cast<TcpSocket*>(arg);
  if (self == nullptr) return;
  self->pcb_ = nullptr;  // lwIP has freed it.
  if (self->state_ == State::kConnecting) {
    self->FinishConnect(LwipErrToErrno(err, /*connecting=*/true));
  } else if (err == ERR_CLSD) {
    self->FlushToApp();
  } else if (err == ERR_RST && self->remote_fin_) {
    // A reset after the peer's FIN (CLOSE_WAIT): Linux's tcp_reset records
    // EPIPE, not ECONNRESET.
    self->Fail(EPIPE);
  } else {
    self->Fail(self->TimeoutError(LwipErrToErrno(err)));
  }
}

// Linux's tcp_write_err: a connection that times out reports the ICMP
// error it last got (sk_err_soft), if any, rather than ETIMEDOUT.
int TcpSocket::TimeoutError(int error) const {
  return error == ETIMEDOUT && soft_error_ != 0 ? soft_error_ : error;
}

void TcpSocket::WatchIcmp() {
  static bool watching = false;
  if (watching) return;
  watching = true;
  AddIcmpErrorHandler(IP_PROTO_TCP, [](const IcmpError& e, const uint8_t*, size_t) {
    return OnIcmpError(e);
  });
}

bool TcpSocket::OnIcmpError(const IcmpError& e) {
  // "Fragmentation needed" and "packet too big" are path MTU discovery's
  // (tcp_path_mtu.cc); source quench and the rest are ignored, as Linux.
  if (e.PathMtu()) return false;
  const std::optional<IcmpErrorReport> report = ReportForSocket(e);
  if (!report) return false;
  // Only for a segment in flight, and only for a TcpSocket's own pcb (not
  // a mconnect race's attempt).
  tcp_pcb* pcb = QuotedTcpSender(e);
  if (pcb == nullptr || pcb->errf != &TcpSocket::OnError || pcb->callback_arg == nullptr) {
    return false;
  }
  auto* self = static_cast<TcpSocket*>(pcb->callback_arg);
  if (self->state_ == State::kConnected) {
    // An established connection lives on (RFC 1122 4.2.3.9: a soft error
    // for TCP), as on Linux without IP_RECVERR.
    self->soft_error_ = report->error;
    return false;
  }
  if (pcb->state == SYN_SENT && self->state_ == State::kConnecting) {
    Log(2, "socket %llu: tcp, connect failed: ICMP error %u/%u (errno %d)",
        static_cast<unsigned long long>(self->id_), e.type, e.code, report->error);
    self->DetachPcb();
    tcp_abandon(pcb, /*reset=*/0);
    self->FinishConnect(report->error);
  }
  return false;
}

int TcpSocket::Kill() {
  if (state_ == State::kClosed) return 0;
  Log(1, "socket %llu: tcp, killed by the operator", static_cast<unsigned long long>(id_));
  tcp_pcb* pcb = pcb_;
  DetachPcb();
  if (pcb != nullptr) tcp_abort(pcb);  // RST unless CLOSED or SYN_SENT.
  if (state_ == State::kConnecting) {
    FinishConnect(ECONNABORTED);
  } else {
    Fail(ECONNABORTED);
  }
  return 0;
}

void TcpSocket::Fail(int error) {
  LeaveDeferral();
  pending_error_ = error;
  for (pbuf* p : rx_queue_) pbuf_free(p);
  rx_queue_.clear();
  rx_offset_ = 0;
  rx_queued_ = 0;
  DetachPcb();
  CloseListeners();
  ClosePair();
  state_ = State::kClosed;
  MaybeDrop();
}

void TcpSocket::OnAppClosed(bool reset) {
  LeaveDeferral();
  if (backlog_delayed_) {
    // Still counted as queued on its listener: either the application
    // accepted it since the listener last looked (the listener can tell
    // while it is open), or the listener was closed with the connection
    // unaccepted, which Linux answers with RST (MarkAcceptedAtClose told
    // the accepted ones apart when the listener closed). Left: the
    // listener's end already gone but not yet seen by stackd, where data
    // the application wrote is the only sure sign of an accepted
    // connection; one accepted, left silent and closed then is reset too.
    auto listener = listener_.lock();
    if (listener && listener->state_ == State::kListening && !listener->PairHungUp()) {
      listener->Tick();
    }
    if (backlog_delayed_ && bytes_out_ == 0) reset = true;
  }
  if (state_ == State::kListening) {
    LeaveReuseportGroup();
    accept_queue_.MarkAcceptedAtClose();
    CloseListeners();
    accept_queue_.DropDeferred();
  } else if (pcb_ != nullptr) {
    bool abort = reset || (options_.linger_on() && options_.linger_seconds() == 0) ||
                 !rx_queue_.empty() || state_ == State::kConnecting;
    tcp_pcb* pcb = pcb_;
    DetachPcb();
    if (abort || tcp_close(pcb) != ERR_OK) tcp_abort(pcb);
  }
  for (pbuf* p : rx_queue_) pbuf_free(p);
  rx_queue_.clear();
  rx_queued_ = 0;
  ClosePair();
  state_ = State::kClosed;
  MaybeDrop();
}

void TcpSocket::ShutListener() {
  // As Linux's tcp_disconnect of a listener: it stops listening (new SYNs
  // are refused), every connection not yet accepted is reset, and accept()
  // fails with EINVAL, also in threads blocked in it: they see the end of
  // the pair, and the library skips the records of the reset connections
  // still queued before it.
  Tick();
  LeaveReuseportGroup();
  for (tcp_pcb* lpcb : listeners_) {
    tcp_arg(lpcb, nullptr);
    tcp_accept(lpcb, nullptr);
    tcp_close(lpcb);
  }
  listeners_.clear();
  accept_queue_.Shut();
  // The state stays: the pair is still watched for the application's close.
  listener_shut_ = true;
}

void TcpSocket::CloseListeners() {
  for (tcp_pcb* lpcb : listeners_) {
    tcp_arg(lpcb, nullptr);
    tcp_accept(lpcb, nullptr);
    tcp_close(lpcb);
  }
  listeners_.clear();
  accept_queue_.Close();
}

// --- Connect ------------------------------------------------------------------

int TcpSocket::ConnectAnswer() {
  switch (state_) {
    case State::kConnecting: return EALREADY;
    case State::kConnected:
      // As Linux: the first connect() after a non-blocking one completed
      // collects its result (0); later ones are EISCONN.
      if (!connect_reported_) {
        connect_reported_ = true;
        return 0;
      }
      return EISCONN;
    case State::kListening: return EISCONN;
    case State::kClosed:
      if (!connect_reported_) {
        // A non-blocking connect that failed: its error if SO_ERROR did
        // not take it, else ECONNABORTED (Linux's sock_error path).
        connect_reported_ = true;
        const int error = pending_error_;
        pending_error_ = 0;
        return error != 0 ? error : ECONNABORTED;
      }
      return EISCONN;
    case State::kOpen: break;
  }
  return kConnectGoesOn;
}

int TcpSocket::Connect(const Address& address, uint32_t gate_bytes,
                       int app_sndbuf, int app_fd) {
  // An immediate refusal leaves no gate behind: a later attempt on the
  // same socket must not send the first attempt's gate bytes as data.
  auto refuse = [&](int error) {
    close(app_fd);
    if (state_ == State::kOpen || state_ == State::kListening) DrainGate(gate_bytes);
    return error;
  };
  if (int answer = ConnectAnswer(); answer != kConnectGoesOn) return refuse(answer);
  if (pcb_ == nullptr) return refuse(EBADF);
  WatchIcmp();
  if (bound_.size() > 1) return refuse(EINVAL);
  ip_addr_t ip;
  uint16_t port;
  if (int error = FromWire(address, family_, v6only_, &ip, &port)) return refuse(error);
  if (ip_addr_isany(&ip)) {
    // Linux connects "any" to the loopback address.
    if (IP_IS_V4(&ip)) {
      ip_addr_set_ip4_u32(&ip, PP_HTONL(INADDR_LOOPBACK));
    } else {
      ip_addr_set_zero_ip6(&ip);
      ip_2_ip6(&ip)->addr[3] = PP_HTONL(1);
    }
  }
  err_t err = tcp_connect(pcb_, &ip, port, &TcpSocket::OnConnected);
  if (err != ERR_OK) return refuse(LwipErrToErrno(err, true));
  ApplyOptions(pcb_);  // the peer's family decides between IP and IPv6 options
  state_ = State::kConnecting;
  connect_reported_ = false;
  gate_bytes_ = gate_bytes;
  app_sndbuf_ = app_sndbuf;
  app_fd_ = app_fd;
  peer_ = ToWire(ip, port, family_);
  if (SynCount() > 0) tcp_poll(pcb_, &TcpSocket::OnPoll, 1);
  return EINPROGRESS;
}

err_t TcpSocket::OnPoll(void* arg, tcp_pcb* pcb) {
  auto* self = static_cast<TcpSocket*>(arg);
  if (self == nullptr || self->state_ != State::kConnecting) return ERR_OK;
  // TCP_SYNCNT: give up once the SYN was retransmitted that many times
  // and the last retransmission timed out too.
  if (pcb->nrtx > self->SynCount()) {
    tcp_abort(pcb);  // OnError fails the connect with ETIMEDOUT.
    return ERR_ABRT;
  }
  return ERR_OK;
}

err_t TcpSocket::OnConnected(void* arg, tcp_pcb* pcb, err_t err) {
  auto* self = static_cast<TcpSocket*>(arg);
  if (self == nullptr) return ERR_OK;
  if (err != ERR_OK) {
    self->FinishConnect(LwipErrToErrno(err, true));
    return ERR_OK;
  }
  tcp_poll(pcb, nullptr, 0);
  self->FinishConnect(0);
  return ERR_OK;
}

void TcpSocket::FinishConnect(int error) {
  if (error != 0) {
    if (app_fd_ >= 0) close(app_fd_);
    app_fd_ = -1;
    // Closing our end with the gate bytes unread makes the application's
    // fd report POLLOUT|POLLHUP|POLLERR, as a failed connect does.
    Fail(error);
    return;
  }
  state_ = State::kConnected;
  if (pcb_ != nullptr) rx_seq_ = pcb_->rcv_nxt;
  if (app_fd_ >= 0) {
    if (app_sndbuf_ > 0) {
      setsockopt(app_fd_, SOL_SOCKET, SO_SNDBUF, &app_sndbuf_, sizeof(app_sndbuf_));
    }
    close(app_fd_);
    app_fd_ = -1;
  }
  // The gate bytes are the first bytes on the pair; once they are gone the
  // application's fd turns writable.
  DrainGate(gate_bytes_);
  gate_bytes_ = 0;
  WatchReadable();
  WatchUserTimeout();
  FlushToApp();
}

void TcpSocket::DrainGate(uint32_t bytes) {
  uint8_t sink[4096];
  while (bytes > 0 && pair_.is_open()) {
    ssize_t n = read(pair_.native_handle(), sink, std::min<size_t>(bytes, sizeof(sink)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    bytes -= static_cast<uint32_t>(n);
  }
}

// --- Listen and accept ----------------------------------------------------------

int TcpSocket::Listen(int backlog) {
  // A listener shut down has lost its pair's direction to the application,
  // where accepted connections would go: it cannot listen again.
  if (state_ == State::kListening) return listener_shut_ ? EINVAL : 0;
  if (state_ != State::kOpen || pcb_ == nullptr) return EINVAL;
  if (pcb_->local_port == 0) {
    err_t err = tcp_bind(pcb_, &pcb_->local_ip, 0);
    if (err != ERR_OK) return LwipErrToErrno(err);
  }
  if (JoinReuseportGroup()) {
    state_ = State::kListening;
    table_->WantTicks(id_);
    WatchHangup();
    return 0;
  }
  // Linux queues backlog + 1 connections; lwIP's backlog is a u8.
  int limit = backlog < 0 ? 255 : std::min(backlog + 1, 255);
  std::vector<tcp_pcb*> pcbs = bound_.empty() ? std::vector<tcp_pcb*>{pcb_} : bound_;
  // lwIP frees a PCB that it turns into a listener; ours are only the new ones.
  DetachPcb();
  bound_.clear();
  for (size_t i = 0; i < pcbs.size(); ++i) {
    err_t err = ERR_OK;
    tcp_pcb* lpcb = tcp_listen_with_backlog_and_err(pcbs[i], static_cast<u8_t>(limit), &err);
    if (lpcb == nullptr) {
      // Undo: the socket ends up closed rather than half listening.
      for (size_t j = i; j < pcbs.size(); ++j) tcp_abort(pcbs[j]);
      CloseListeners();
      state_ = State::kClosed;
      return LwipErrToErrno(err);
    }
    tcp_arg(lpcb, this);
    tcp_accept(lpcb, &TcpSocket::OnAccept);
    listeners_.push_back(lpcb);
  }
  state_ = State::kListening;
  table_->WantTicks(id_);
  // The library leaves the gate on a listener's fd and shuts it for
  // writing: nothing to read, only the application's close to notice.
  WatchHangup();
  return 0;
}

err_t TcpSocket::OnAccept(void* arg, tcp_pcb* newpcb, err_t err) {
  auto* self = static_cast<TcpSocket*>(arg);
  if (self == nullptr || err != ERR_OK || newpcb == nullptr) return ERR_VAL;
  if (self->reuseport_group_ != nullptr) {
    // SO_REUSEPORT: the connection goes to one of the group's listeners,
    // chosen by a hash of its addresses and ports, as Linux spreads them.
    if (auto chosen = self->reuseport_group_->Pick(newpcb)) return chosen->Accept(newpcb);
  }
  return self->Accept(newpcb);
}

Sharing TcpSocket::SharingOf(const tcp_pcb* pcb) {
  Sharing sharing;
  sharing.reuseaddr = ip_get_option(pcb, SOF_REUSEADDR);
  // Only a PCB of a TcpSocket says more: a listener's or a bound socket's.
  const bool ours = pcb->state == LISTEN
      ? reinterpret_cast<const tcp_pcb_listen*>(pcb)->accept == &TcpSocket::OnAccept
      : pcb->recv == &TcpSocket::OnRecv;
  if (!ours || pcb->callback_arg == nullptr) return sharing;
  const auto* socket = static_cast<const TcpSocket*>(pcb->callback_arg);
  sharing.reuseaddr = socket->reuseaddr();
  sharing.reuseport = socket->reuseport();
  sharing.uid = socket->owner_uid_;
  return sharing;
}

bool TcpSocket::JoinReuseportGroup() {
  if (!reuseport() || pcb_ == nullptr || pcb_->local_port == 0 || !bound_.empty()) return false;
  for (tcp_pcb_listen* l = tcp_listen_pcbs.listen_pcbs; l != nullptr; l = l->next) {
    if (l->accept != &TcpSocket::OnAccept || l->callback_arg == nullptr ||
        l->local_port != pcb_->local_port || !ip_addr_eq(&l->local_ip, &pcb_->local_ip)) {
      continue;
    }
    auto* holder = static_cast<TcpSocket*>(l->callback_arg);
    if (!holder->reuseport() || holder->owner_uid_ != owner_uid_) return false;
    if (holder->reuseport_group_ == nullptr) {
      holder->reuseport_group_ = std::make_shared<ReuseportGroup>();
      holder->reuseport_group_->Add(holder->weak_from_this());
    }
    reuseport_group_ = holder->reuseport_group_;
    reuseport_group_->Add(weak_from_this());
    // The holder's listening PCB serves the group; this socket keeps only
    // its address.
    ip_addr_copy(group_ip_, pcb_->local_ip);
    group_port_ = pcb_->local_port;
    tcp_pcb* own = pcb_;
    DetachPcb();
    if (tcp_close(own) != ERR_OK) tcp_abort(own);
    return true;
  }
  return false;
}

void TcpSocket::LeaveReuseportGroup() {
  if (reuseport_group_ == nullptr) return;
  std::shared_ptr<ReuseportGroup> group = std::move(reuseport_group_);
  group->Remove(this);
  if (listeners_.empty()) return;
  // This socket holds the group's PCB: the next listener takes it over.
  std::shared_ptr<TcpSocket> next = group->First();
  if (next == nullptr) return;
  for (tcp_pcb* lpcb : listeners_) tcp_arg(lpcb, next.get());
  next->listeners_ = std::move(listeners_);
  listeners_.clear();
}

err_t TcpSocket::Accept(tcp_pcb* newpcb) {
  uint64_t id = table_->NextId();
  SocketTable::Pair pair;
  if (table_->NewPair(&pair) != 0) return ERR_MEM;
  auto s = std::make_shared<TcpSocket>(table_, id, family_, pair.stack_fd,
                                       newpcb, State::kConnected);
  s->set_owner(owner_pid_, owner_uid_);
  s->listener_ = weak_from_this();
  // Linux clones the listener: the accepted socket has its options.
  s->options_.InheritFrom(options_);
  s->v6only_ = v6only_;
  s->ApplyOptions(newpcb);
  tcp_backlog_delayed(newpcb);
  s->backlog_delayed_ = true;
  int defer_seconds = 0;
  options_.Get(IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_seconds);
  if (defer_seconds > 0) {
    // As Linux: the application sees the connection once data (or a FIN)
    // has come, or after the deferral rounded to SYN-ACK retransmissions.
    s->deferred_app_fd_ = pair.app_fd;
    s->deferred_app_ino_ = pair.app_ino;
    s->defer_timer_ = std::make_unique<asio::steady_timer>(table_->io());
    s->defer_timer_->expires_after(std::chrono::seconds(defer_seconds));
    s->defer_timer_->async_wait(
        [weak = std::weak_ptr<TcpSocket>(s)](const boost::system::error_code& ec) {
          if (auto self = weak.lock(); !ec && self) self->DeferralEnds();
        });
    accept_queue_.Defer(s->AsConnection());
    s->Start();
    return ERR_OK;
  }
  if (!accept_queue_.Offer(s->AsConnection(), pair.app_fd, pair.app_ino)) {
    // The accept queue on the pair is full: refuse like a full backlog.
    s->DetachPcb();
    return ERR_MEM;
  }
  s->Start();
  Tick();
  return ERR_OK;
}

socket::v1::AcceptRecord TcpSocket::Record() const {
  socket::v1::AcceptRecord record;
  *record.mutable_local() = ToWire(pcb_->local_ip, pcb_->local_port, family_);
  *record.mutable_peer() = peer_;
  return record;
}

std::shared_ptr<AcceptQueue::Connection> TcpSocket::AsConnection() {
  // The base is private: shared_ptr's own conversion cannot see it.
  return std::shared_ptr<AcceptQueue::Connection>(
      shared_from_this(), static_cast<AcceptQueue::Connection*>(this));
}

void TcpSocket::Admit(const std::shared_ptr<AcceptQueue::Connection>& c, ino_t app_ino) {
  table_->Add(std::shared_ptr<TcpSocket>(c, static_cast<TcpSocket*>(c.get())), app_ino);
}

void TcpSocket::BacklogAccepted() {
  if (pcb_ != nullptr) tcp_backlog_accepted(pcb_);
  backlog_delayed_ = false;
}

void TcpSocket::DeferralEnds() {
  if (deferred_app_fd_ < 0) return;
  if (defer_timer_ != nullptr) defer_timer_->cancel();
  auto listener = listener_.lock();
  if (listener == nullptr || listener->state_ != State::kListening) {
    OnAppClosed(/*reset=*/true);
    return;
  }
  listener->accept_queue_.HandOver(AsConnection());
}

int TcpSocket::TakeHeldFd(ino_t* app_ino) {
  const int app_fd = deferred_app_fd_;
  deferred_app_fd_ = -1;
  *app_ino = deferred_app_ino_;
  return app_fd;
}

void TcpSocket::LeaveDeferral() {
  if (deferred_app_fd_ < 0) return;
  close(deferred_app_fd_);
  deferred_app_fd_ = -1;
  if (defer_timer_ != nullptr) defer_timer_->cancel();
  if (auto listener = listener_.lock()) {
    // The listener may hold the last reference: end it after this call.
    auto self = shared_from_this();
    listener->accept_queue_.Forget(AsConnection());
    asio::post(table_->io(), [self] {});
  }
}

void TcpSocket::Abandon() {
  if (tcp_pcb* pcb = pcb_) {
    DetachPcb();
    tcp_abandon(pcb, /*reset=*/0);
  }
  if (state_ != State::kClosed) {
    OnAppClosed(/*reset=*/false);
  } else {
    LeaveDeferral();
  }
}

void TcpSocket::Tick() {
  if (state_ != State::kListening) return;
  accept_queue_.Tick();
}

// --- mbind ---------------------------------------------------------------------

namespace {

constexpr int kMaxMultiAddresses = 64;

}  // namespace

int TcpSocket::MultiBind(const socket::v1::MBindRequest& request,
                         socket::v1::AddressList* bound) {
  const int n = request.addresses_size();
  if (n == 0 || n > kMaxMultiAddresses) return EINVAL;
  if (state_ != State::kOpen || pcb_ == nullptr || pcb_->local_port != 0 || !bound_.empty()) {
    return EINVAL;
  }
  std::vector<ip_addr_t> ips(n);
  std::vector<uint16_t> ports(n);
  for (int i = 0; i < n; ++i) {
    if (int error = FromWire(InFamily(request.addresses(i), family_), family_, v6only_,
                             &ips[i], &ports[i])) {
      return error == ENETUNREACH ? EAFNOSUPPORT : error;
    }
    if (!IsLocalAddress(ips[i])) return EADDRNOTAVAIL;
    if (ports[i] != 0 && ListenerHolds(ips[i], ports[i])) return EADDRINUSE;
    for (int j = 0; j < i; ++j) {
      if (ports[i] != 0 && ports[i] == ports[j] && ip_addr_eq(&ips[i], &ips[j])) return EADDRINUSE;
    }
  }
  const u8_t type = IP_GET_TYPE(&pcb_->local_ip);  // Before BindEach binds pcb_.
  std::vector<tcp_pcb*> pcbs;
  if (int error = BindEach(pcb_, ips, ports, &pcbs)) {
    // Nothing stays bound: lwIP cannot unbind, so the socket gets a new PCB.
    tcp_pcb* old = pcb_;
    DetachPcb();
    tcp_pcb* fresh = tcp_new_ip_type(type);
    if (fresh != nullptr) {
      fresh->so_options = old->so_options;
      if (!reuseaddr()) ip_reset_option(fresh, SOF_REUSEADDR);
      AttachPcb(fresh);
    }
    tcp_abort(old);
    return error;
  }
  bound_ = pcbs;
  for (tcp_pcb* pcb : bound_) {
    *bound->add_addresses() = ToWire(pcb->local_ip, pcb->local_port, family_);
  }
  return 0;
}

// --- mconnect -------------------------------------------------------------------

int TcpSocket::MultiConnect(const socket::v1::MConnectRequest& request, int app_fd) {
  socket::v1::Address unused;
  auto refuse = [&](int error) {
    close(app_fd);
    if (state_ == State::kOpen) DrainGate(request.gate_bytes());
    return error;
  };
  if (int answer = ConnectAnswer(); answer != kConnectGoesOn) return refuse(answer);
  const int n = request.addresses_size();
  if (n == 0 || n > kMaxMultiAddresses || pcb_ == nullptr || bound_.size() > 1) {
    return refuse(EINVAL);
  }
  std::vector<ConnectRace::Target> targets(n);
  for (int i = 0; i < n; ++i) {
    if (int error = FromWire(InFamily(request.addresses(i), family_), family_, v6only_,
                             &targets[i].ip, &targets[i].port)) {
      return refuse(error == ENETUNREACH ? EAFNOSUPPORT : error);
    }
  }
  // The attempts inherit what the application set on the socket.
  race_ = std::make_shared<ConnectRace>(table_->io(), static_cast<ConnectRace::Owner*>(this),
                                        pcb_, std::move(targets));
  DetachPcb();
  state_ = State::kConnecting;
  gate_bytes_ = request.gate_bytes();
  app_sndbuf_ = request.app_sndbuf();
  app_fd_ = app_fd;
  race_->Start(request.stagger_ms(), request.timeout_ms());
  return EINPROGRESS;
}

void TcpSocket::RaceWon(tcp_pcb* pcb, const ConnectRace::Target& winner) {
  AttachPcb(pcb);
  peer_ = ToWire(winner.ip, winner.port, family_);
  FinishConnect(0);
}

// --- Bind, names, options, shutdown ---------------------------------------------

int TcpSocket::Bind(const Address& address, Address* bound) {
  if (state_ != State::kOpen || pcb_ == nullptr || pcb_->local_port != 0) return EINVAL;
  ip_addr_t ip;
  uint16_t port;
  if (int error = FromWire(address, family_, v6only_, &ip, &port)) {
    // As inet6_bind: a v4-mapped address on an IPV6_V6ONLY socket.
    return error == ENETUNREACH ? EINVAL : error;
  }
  // IP_FREEBIND / IPV6_FREEBIND: any address, as Linux allows.
  if (!IsLocalAddress(ip) && !options_.flag(IPPROTO_IP, IP_FREEBIND) &&
      !(family_ == AF_INET6 && options_.flag(IPPROTO_IPV6, IPV6_FREEBIND))) {
    return EADDRNOTAVAIL;
  }
  // lwIP compares only addresses of one type; a dual-stack "::" overlaps
  // both families, as on Linux.
  if (port != 0 && BindConflicts(pcb_, ip, port, SharingOf(pcb_), &TcpSocket::SharingOf)) {
    return EADDRINUSE;
  }
  // lwIP lets PCBs share a port only if all have SOF_REUSEADDR; the rules
  // above are Linux's (ApplyOptions sets it for SO_REUSEPORT too).
  if (reuseaddr() || reuseport()) ip_set_option(pcb_, SOF_REUSEADDR);
  err_t err = tcp_bind(pcb_, &ip, port);
  if (err != ERR_OK) return LwipErrToErrno(err);
  return GetName(false, bound);
}

int TcpSocket::GetName(bool peer, Address* out) const {
  if (peer) {
    if (state_ != State::kConnected || pcb_ == nullptr) return ENOTCONN;
    *out = peer_;
    return 0;
  }
  const tcp_pcb* pcb = pcb_ != nullptr ? pcb_ : (listeners_.empty() ? nullptr : listeners_.front());
  if (pcb == nullptr && group_port_ != 0) {
    *out = ToWire(group_ip_, group_port_, family_);
    return 0;
  }
  if (pcb == nullptr) {
    *out = Unspecified(family_);
    return 0;
  }
  *out = ToWire(pcb->local_ip, pcb->local_port, family_);
  return 0;
}

void TcpSocket::FillTcpInfo(socket::v1::TcpInfo* info) const {
  // Linux's numbering of the states (include/net/tcp_states.h), by lwIP's.
  static const uint32_t kLinuxState[] = {
      7 /* CLOSED: TCP_CLOSE */,     10 /* LISTEN */,   2 /* SYN_SENT */,
      3 /* SYN_RCVD: TCP_SYN_RECV */, 1 /* ESTABLISHED */, 4 /* FIN_WAIT_1 */,
      5 /* FIN_WAIT_2 */,            8 /* CLOSE_WAIT */, 11 /* CLOSING */,
      9 /* LAST_ACK */,              6 /* TIME_WAIT */};
  constexpr uint32_t kTickUs = TCP_SLOW_INTERVAL * 1000;  // lwIP's RTT clock
  constexpr uint32_t kInfiniteSsthresh = 0x7fffffff;
  info->set_bytes_acked(bytes_acked_);
  info->set_bytes_received(bytes_in_);
  if (state_ == State::kListening) {
    info->set_state(listener_shut_ ? 7 : 10);
    return;
  }
  const tcp_pcb* pcb = pcb_;
  if (pcb == nullptr) {
    info->set_state(7);
    return;
  }
  info->set_state(kLinuxState[pcb->state]);
  const uint32_t mss = tcp_mss(pcb);
  info->set_snd_mss(mss);
  info->set_rto_us(static_cast<uint32_t>(pcb->rto) * kTickUs);
  info->set_retransmits(pcb->nrtx);
  if (pcb->state == CLOSED) {
    // What a connection from this socket starts with.
    info->set_snd_cwnd(LWIP_TCP_CALC_INITIAL_CWND(mss) / mss);
    info->set_snd_ssthresh(kInfiniteSsthresh);
    return;
  }
  info->set_rcv_mss(mss);
  info->set_rtt_us(static_cast<uint32_t>(pcb->sa >> 3) * kTickUs);
  info->set_rttvar_us(static_cast<uint32_t>(pcb->sv >> 2) * kTickUs);
  info->set_snd_cwnd(mss > 0 ? pcb->cwnd / mss : 0);
  info->set_snd_ssthresh(pcb->ssthresh >= TCP_SND_BUF ? kInfiniteSsthresh
                                                      : pcb->ssthresh / mss);
  uint32_t unacked = 0;
  for (const tcp_seg* seg = pcb->unacked; seg != nullptr; seg = seg->next) ++unacked;
  info->set_unacked(unacked);
}

int TcpSocket::SynCount() const {
  return options_.IsSet(IPPROTO_TCP, TCP_SYNCNT) ? options_.value(IPPROTO_TCP, TCP_SYNCNT)
                                                 : 0;
}

void TcpSocket::ApplyOptions(tcp_pcb* pcb) const {
  if (pcb == nullptr) return;
  auto option = [pcb](bool on, u8_t flag) {
    if (on) ip_set_option(pcb, flag);
    else ip_reset_option(pcb, flag);
  };
  option(reuseaddr() || reuseport(), SOF_REUSEADDR);
  option(options_.flag(SOL_SOCKET, SO_KEEPALIVE), SOF_KEEPALIVE);
  if (pcb->state == LISTEN) return;  // the rest lives in a full tcp_pcb only
  if (options_.flag(IPPROTO_TCP, TCP_NODELAY)) tcp_nagle_disable(pcb);
  else tcp_nagle_enable(pcb);
  if (options_.flag(IPPROTO_TCP, TCP_CORK)) {
    tcp_cork(pcb);
  } else if (tcp_corked(pcb)) {
    tcp_uncork(pcb);
    tcp_output(pcb);  // Uncorking pushes what waited, as on Linux.
  }
  pcb->keep_idle = static_cast<u32_t>(options_.value(IPPROTO_TCP, TCP_KEEPIDLE)) * 1000;
  pcb->keep_intvl = static_cast<u32_t>(options_.value(IPPROTO_TCP, TCP_KEEPINTVL)) * 1000;
  pcb->keep_cnt = static_cast<u32_t>(options_.value(IPPROTO_TCP, TCP_KEEPCNT));
  // An IPv6 socket speaking IPv4 (a v4-mapped peer) uses the IPv4 options,
  // as Linux does.
  const bool v6 = family_ == AF_INET6 && !IP_IS_V4_VAL(pcb->remote_ip);
  int ttl;
  options_.Get(v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_UNICAST_HOPS : IP_TTL, &ttl);
  pcb->ttl = static_cast<u8_t>(ttl);
  pcb->tos = static_cast<u8_t>(
      options_.value(v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_TCLASS : IP_TOS));
}

int TcpSocket::SetOpt(int level, int name, const OptValue& value) {
  if (level == SOL_SOCKET && name == SO_LINGER) {
    if (!value.has_linger()) return EINVAL;
    options_.SetLinger(value.linger().on(), value.linger().seconds());
    return 0;
  }
  if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY) {
    if (family_ != AF_INET6) return ENOPROTOOPT;
    if (state_ != State::kOpen || (pcb_ != nullptr && pcb_->local_port != 0)) return EINVAL;
    v6only_ = value.int_value() != 0;
    if (pcb_ != nullptr) {
      u8_t type = v6only_ ? IPADDR_TYPE_V6 : IPADDR_TYPE_ANY;
      IP_SET_TYPE_VAL(pcb_->local_ip, type);
      IP_SET_TYPE_VAL(pcb_->remote_ip, type);
    }
    return 0;
  }
  const int v = static_cast<int>(value.int_value());
  // Linux clears a window clamp only on a closed socket.
  if (level == IPPROTO_TCP && name == TCP_WINDOW_CLAMP && v == 0 &&
      state_ != State::kOpen) {
    return EINVAL;
  }
  if (int error = options_.Set(level, name, v)) return error;
  if (level == IPPROTO_TCP && name == TCP_USER_TIMEOUT && pcb_ != nullptr) {
    progress_ack_ = pcb_->lastack;  // The time counts from now.
    progress_since_ = std::chrono::steady_clock::now();
    WatchUserTimeout();
  }
  ApplyOptions(pcb_);
  for (tcp_pcb* lpcb : listeners_) ApplyOptions(lpcb);
  return 0;
}

int TcpSocket::GetOpt(int level, int name, OptValue* value) {
  auto set = [&](int64_t v) {
    value->set_int_value(v);
    return 0;
  };
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_LINGER:
        value->mutable_linger()->set_on(options_.linger_on());
        value->mutable_linger()->set_seconds(options_.linger_seconds());
        return 0;
      case SO_ERROR: {
        int error = pending_error_;
        pending_error_ = 0;
        return set(error);
      }
      case SO_TYPE: return set(SOCK_STREAM);
      case SO_DOMAIN: return set(family_);
      case SO_PROTOCOL: return set(IPPROTO_TCP);
      case SO_ACCEPTCONN: return set(state_ == State::kListening && !listener_shut_);
      default: break;
    }
  }
  const bool connected = state_ == State::kConnected && pcb_ != nullptr;
  if (level == IPPROTO_TCP && name == TCP_MAXSEG && connected) return set(tcp_mss(pcb_));
  if (level == IPPROTO_TCP && name == TCP_INFO) {
    FillTcpInfo(value->mutable_tcp_info());
    return 0;
  }
  if ((level == IPPROTO_IP && name == IP_MTU) ||
      (level == IPPROTO_IPV6 && name == IPV6_MTU && family_ == AF_INET6)) {
    if (!connected) return ENOTCONN;
    const int mtu = PathMtu(pcb_->local_ip, pcb_->remote_ip);
    if (mtu == 0) return ENOTCONN;
    return set(mtu);
  }
  if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY) {
    if (family_ != AF_INET6) return ENOPROTOOPT;
    return set(v6only_);
  }
  int v = 0;
  if (int error = options_.Get(level, name, &v)) return error;
  return set(v);
}

int TcpSocket::Shutdown(int how, int app_fd) {
  if (how < SHUT_RD || how > SHUT_RDWR) return EINVAL;
  if (state_ == State::kListening) {
    if (listener_shut_) return ENOTCONN;
    if (how == SHUT_WR) return 0;  // Linux: nothing to shut on a listener
    ShutListener();
    return 0;
  }
  // Both directions finished (lwIP keeps the PCB for TIME-WAIT): Linux's
  // socket is closed then.
  if (state_ != State::kConnected || pcb_ == nullptr) return ENOTCONN;
  if (how == SHUT_RD || how == SHUT_RDWR) {
    app_read_shut_ = true;
    for (pbuf* p : rx_queue_) {
      if (pcb_ != nullptr) tcp_recved(pcb_, p->tot_len);
      pbuf_free(p);
    }
    rx_queue_.clear();
    rx_offset_ = 0;
    rx_queued_ = 0;
    shutdown(app_fd, SHUT_RD);
  }
  if (how == SHUT_WR || how == SHUT_RDWR) {
    // The pair carries the rest of the data, then EOF: PumpFromApp sends
    // the FIN after the last byte.
    shutdown(app_fd, SHUT_WR);
  }
  return 0;
}

SocketSummary TcpSocket::Summary() const {
  static const char* const kStates[] = {"open", "listening", "connecting",
                                        "connected", "closed"};
  SocketSummary s;
  s.id = id_;
  s.protocol = "tcp";
  s.family = family_;
  s.state = kStates[static_cast<int>(state_)];
  if (pcb_ != nullptr && state_ == State::kConnected) {
    static const char* const kTcpStates[] = {
        "CLOSED",     "LISTEN",     "SYN_SENT", "SYN_RCVD",  "ESTABLISHED",
        "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK",
        "TIME_WAIT"};
    s.state = kTcpStates[pcb_->state];
  }
  for (const tcp_pcb* l : listeners_) {
    s.local.push_back(ToWire(l->local_ip, l->local_port, family_));
  }
  for (size_t i = 1; i < bound_.size(); ++i) {
    if (i == 1) GetName(false, &s.local.emplace_back());
    s.local.push_back(ToWire(bound_[i]->local_ip, bound_[i]->local_port, family_));
  }
  if (s.local.empty()) GetName(false, &s.local.emplace_back());
  if (race_) {
    for (const auto& t : race_->Pending()) s.candidates.push_back(ToWire(t.ip, t.port, family_));
  }
  if (state_ == State::kConnected || state_ == State::kConnecting) s.peer = peer_;
  s.owner_pid = owner_pid_;
  s.owner_uid = owner_uid_;
  s.bytes_in = bytes_in_;
  s.bytes_out = bytes_out_;
  s.rx_queued = rx_queued_;
  s.tx_queued = pcb_ != nullptr ? TCP_SND_BUF - tcp_sndbuf(pcb_) : 0;
  return s;
}

}  // namespace stackd
