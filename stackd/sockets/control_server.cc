#include "stackd/sockets/control_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <chrono>

#include <cerrno>
#include <cstring>
#include <vector>

#include "client/fd_message.h"
#include "lwip/tcp.h"
#include "proto/socket.pb.h"
#include "stackd/log.h"
#include "stackd/sockets/tcp_socket.h"
#include "stackd/sockets/udp_socket.h"

namespace stackd {
namespace {

namespace asio = boost::asio;
using socket::v1::Request;
using socket::v1::Response;

// A client that sends this many bad packets is disconnected.
constexpr int kMaxStrikes = 8;
// A control connection that brings no request for this long is closed: a
// call's whole exchange takes milliseconds, and the library gives up on its
// own after 10 s.
constexpr auto kIdleTimeout = std::chrono::seconds(10);
// After the process ran out of file descriptors, how long accepting pauses
// before it tries again (clients wait in the listen backlog meanwhile).
constexpr auto kFdExhaustionPause = std::chrono::milliseconds(100);
// Clients answered EMFILE in one go while fds are exhausted.
constexpr int kMaxRefusalsPerWake = 256;
// File descriptors a request may carry (one is used; the rest are refused).
constexpr int kMaxFdsPerRequest = 4;

// File descriptors received with a request, closed unless taken.
class ReceivedFds {
 public:
  ~ReceivedFds() {
    for (int fd : fds_) {
      if (fd >= 0) close(fd);
    }
  }
  void Add(int fd) { fds_.push_back(fd); }
  size_t size() const { return fds_.size(); }
  int Borrow(size_t i) const { return fds_[i]; }
  int Take(size_t i) {
    int fd = fds_[i];
    fds_[i] = -1;
    return fd;
  }

 private:
  std::vector<int> fds_;
};

}  // namespace

class ControlServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ControlServer* server, int fd, const ucred& cred)
      : server_(server), stream_(server->io_, fd), idle_(server->io_), cred_(cred) {
    server_->Admit(cred_.uid);
  }
  ~Connection() { server_->Release(cred_.uid); }

  void Wait() {
    ArmIdleTimer();
    stream_.async_wait(asio::posix::stream_descriptor::wait_read,
                       [self = shared_from_this()](const boost::system::error_code& ec) {
                         self->idle_.cancel();
                         if (ec) return;
                         if (self->ReadPackets()) self->Wait();
                       });
  }

 private:
  // Serves the packets waiting on the connection. False: close it.
  bool ReadPackets() {
    for (int i = 0; i < 64; ++i) {
      int fd = stream_.native_handle();
      ssize_t size = recv(fd, nullptr, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
      if (size < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      if (size == 0) return false;  // Closed (an empty packet is no request).
      ReceivedFds fds;
      std::vector<char> buffer(static_cast<size_t>(size) <= kMaxControlMessageBytes ? size : 1);
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerRequest)];
      iovec iov{buffer.data(), buffer.size()};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (n < 0) return errno == EAGAIN || errno == EINTR;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t k = 0; k < count; ++k) {
          int received;
          std::memcpy(&received, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
          fds.Add(received);
        }
      }
      Response response;
      response.set_version(socket::v1::PROTOCOL_VERSION_CURRENT);
      int reply_fd = -1;
      ++server_->requests_;
      Request request;
      if (static_cast<size_t>(size) > kMaxControlMessageBytes) {
        response.set_error(EMSGSIZE);
      } else if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 ||
                 !request.ParseFromArray(buffer.data(), static_cast<int>(n))) {
        response.set_error(EINVAL);
      } else if (request.version() != socket::v1::PROTOCOL_VERSION_CURRENT) {
        response.set_error(EPROTONOSUPPORT);
      } else {
        reply_fd = Dispatch(request, fds, &response);
      }
      if (response.error() == EMSGSIZE || response.error() == EINVAL ||
          response.error() == EPROTONOSUPPORT) {
        if (reply_fd < 0 && response.result_case() == Response::RESULT_NOT_SET &&
            ++strikes_ > kMaxStrikes) {
          ++server_->bad_requests_;
          Log(1, "control client pid %d: too many bad requests, disconnected", cred_.pid);
          return false;
        }
      }
      bool sent = Reply(response, reply_fd);
      if (reply_fd >= 0) close(reply_fd);
      if (!sent) return false;
    }
    return true;
  }

  bool Reply(const Response& response, int fd) {
    const std::string bytes = response.SerializeAsString();
    const client::FdMessage msg(bytes.data(), bytes.size(), fd);
    return sendmsg(stream_.native_handle(), msg.get(), MSG_DONTWAIT | MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }

  // Carries out one request. Returns an fd to send with the reply, or -1.
  int Dispatch(const Request& request, ReceivedFds& fds, Response* response) {
    SocketTable* table = server_->table_;
    switch (request.op_case()) {
      case Request::kHello: {
        auto* hello = response->mutable_hello();
        hello->add_families(AF_INET);
        hello->add_families(AF_INET6);
        hello->set_stack_path(server_->stack_path_);
        for (const ResolverSettings::Server& dns : server_->resolver_.dns_servers) {
          auto* address = hello->add_dns_servers();
          address->set_family(dns.family);
          address->set_ip(reinterpret_cast<const char*>(dns.ip.data()),
                          dns.family == AF_INET6 ? 16 : 4);
          address->set_port(dns.port);
        }
        for (const std::string& domain : server_->resolver_.search_domains) {
          hello->add_search_domains(domain);
        }
        return -1;
      }
      case Request::kSocket:
        return NewSocket(request.socket(), response);
      case Request::kInterfaces:
        if (server_->interfaces_source_) {
          server_->interfaces_source_(response->mutable_interfaces());
        } else {
          response->set_error(EOPNOTSUPP);
        }
        return -1;
      case Request::OP_NOT_SET:
        response->set_error(EINVAL);
        return -1;
      default:
        break;
    }
    // The rest act on the socket whose fd rides along.
    if (fds.size() != 1) {
      response->set_error(fds.size() == 0 ? EBADF : EINVAL);
      return -1;
    }
    struct stat st;
    if (fstat(fds.Borrow(0), &st) != 0 || !S_ISSOCK(st.st_mode)) {
      response->set_error(ENOTSOCK);
      return -1;
    }
    std::shared_ptr<Socket> s = table->Find(st.st_ino);
    if (s == nullptr) {
      AnswerForGoneSocket(request, st.st_ino, response);
      return -1;
    }
    if (int error = CheckBindPermission(request)) {
      response->set_error(error);
      return -1;
    }
    int error = 0;
    switch (request.op_case()) {
      case Request::kBind:
        error = s->Bind(request.bind().address(), response->mutable_address());
        break;
      case Request::kListen:
        error = s->Listen(request.listen().backlog());
        break;
      case Request::kConnect: {
        const auto& c = request.connect();
        error = s->Connect(c.address(), c.gate_bytes(), c.app_sndbuf(), fds.Take(0));
        break;
      }
      case Request::kMconnect:
      case Request::kMbind: {
        auto* tcp = dynamic_cast<TcpSocket*>(s.get());
        auto* udp = dynamic_cast<UdpSocket*>(s.get());
        if (udp != nullptr && request.op_case() == Request::kMbind) {
          error = udp->MultiBind(request.mbind(), response->mutable_addresses());
        } else if (tcp == nullptr) {
          error = EOPNOTSUPP;
        } else if (request.op_case() == Request::kMconnect) {
          error = tcp->MultiConnect(request.mconnect(), fds.Take(0));
        } else {
          error = tcp->MultiBind(request.mbind(), response->mutable_addresses());
        }
        break;
      }
      case Request::kGetName:
        error = s->GetName(request.get_name().peer(), response->mutable_address());
        break;
      case Request::kSetOpt:
        error = s->SetOpt(request.set_opt().level(), request.set_opt().name(),
                          request.set_opt().value());
        break;
      case Request::kGetOpt:
        error = s->GetOpt(request.get_opt().level(), request.get_opt().name(),
                          response->mutable_opt());
        break;
      case Request::kErrQueue:
        error = s->TakeQueuedError(request.err_queue().peek(),
                                   response->mutable_queued_error());
        break;
      case Request::kShutdown:
        error = s->Shutdown(request.shutdown().how(), fds.Borrow(0));
        break;
      default:
        error = EINVAL;
    }
    if (error != 0) {
      response->clear_result();
      response->set_error(error);
    }
    return -1;
  }

  // Ports below the policy's unprivileged_port_start are for root only, as
  // Linux's net.ipv4.ip_unprivileged_port_start (1024) without
  // CAP_NET_BIND_SERVICE. EACCES, as bind(2).
  int CheckBindPermission(const Request& request) const {
    if (cred_.uid == 0) return 0;
    const uint32_t start = server_->policy_.unprivileged_port_start;
    auto privileged = [start](const socket::v1::Address& a) {
      return a.port() != 0 && a.port() < start;
    };
    if (request.op_case() == Request::kBind && privileged(request.bind().address())) {
      return EACCES;
    }
    if (request.op_case() == Request::kMbind) {
      for (const auto& a : request.mbind().addresses()) {
        if (privileged(a)) return EACCES;
      }
    }
    return 0;
  }

  // A socket that was closed by stackd (reset, failed connect): its error
  // once through SO_ERROR, then what Linux says of a dead socket.
  void AnswerForGoneSocket(const Request& request, ino_t ino, Response* response) {
    SocketTable* table = server_->table_;
    if (!table->IsGone(ino)) {
      response->set_error(ENOTSOCK);
      return;
    }
    if (request.op_case() == Request::kGetOpt && request.get_opt().level() == SOL_SOCKET &&
        request.get_opt().name() == SO_ERROR) {
      response->mutable_opt()->set_int_value(table->TakeError(ino));
      return;
    }
    if (request.op_case() == Request::kShutdown || request.op_case() == Request::kGetName) {
      response->set_error(ENOTCONN);
      return;
    }
    if (request.op_case() == Request::kGetOpt && request.get_opt().level() == IPPROTO_TCP &&
        request.get_opt().name() == TCP_INFO) {
      // Linux still reports a closed socket: TCP_CLOSE, nothing else.
      response->mutable_opt()->mutable_tcp_info()->set_state(TCP_CLOSE);
      return;
    }
    if (request.op_case() == Request::kConnect) {
      // As Linux's inet_stream_connect on a closed socket (a failed
      // attempt, a reset): its error if not yet taken, else ECONNABORTED.
      const int error = table->TakeError(ino);
      response->set_error(error != 0 ? error : ECONNABORTED);
      return;
    }
    response->set_error(EINVAL);
  }

  int NewSocket(const socket::v1::SocketRequest& req, Response* response) {
    SocketTable* table = server_->table_;
    if (req.domain() != AF_INET && req.domain() != AF_INET6) {
      response->set_error(EAFNOSUPPORT);
      return -1;
    }
    if (req.type() == SOCK_DGRAM) {
      const bool ping = req.protocol() == IPPROTO_ICMP || req.protocol() == IPPROTO_ICMPV6;
      const ControlPolicy& policy = server_->policy_;
      if (ping && (req.domain() == AF_INET) == (req.protocol() == IPPROTO_ICMP) &&
          (cred_.gid < policy.ping_group_low || cred_.gid > policy.ping_group_high)) {
        response->set_error(EACCES);  // As Linux outside ping_group_range.
        return -1;
      }
      int app_fd = -1;
      if (int error = UdpSocket::Create(table, req.domain(), req.protocol(), cred_.pid,
                                        cred_.uid, &app_fd)) {
        response->set_error(error);
        return -1;
      }
      response->mutable_socket();
      return app_fd;
    }
    if (req.type() != SOCK_STREAM) {
      response->set_error(ESOCKTNOSUPPORT);
      return -1;
    }
    if (req.protocol() != 0 && req.protocol() != IPPROTO_TCP) {
      response->set_error(EPROTONOSUPPORT);
      return -1;
    }
    tcp_pcb* pcb = tcp_new_ip_type(req.domain() == AF_INET ? IPADDR_TYPE_V4 : IPADDR_TYPE_ANY);
    if (pcb == nullptr) {
      response->set_error(ENOMEM);
      return -1;
    }
    uint64_t id = table->NextId();
    SocketTable::Pair pair;
    if (int error = table->NewPair(&pair)) {
      tcp_abort(pcb);
      response->set_error(error);
      return -1;
    }
    auto s = std::make_shared<TcpSocket>(table, id, req.domain(), pair.stack_fd, pcb,
                                         TcpSocket::State::kOpen);
    s->set_owner(cred_.pid, cred_.uid);
    table->Add(s, pair.app_ino);
    s->Start();
    response->mutable_socket();
    Log(2, "socket %d: created for pid %d", static_cast<int>(id), cred_.pid);
    return pair.app_fd;
  }

  // Closes the connection if no request arrives within kIdleTimeout.
  void ArmIdleTimer() {
    idle_.expires_after(kIdleTimeout);
    idle_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) {
        ++self->server_->idle_closed_;
        Log(2, "control client pid %d: idle, disconnected", self->cred_.pid);
        boost::system::error_code ignored;
        self->stream_.cancel(ignored);  // The read wait lets go of the last reference.
      }
    });
  }

  ControlServer* server_;
  asio::posix::stream_descriptor stream_;
  asio::steady_timer idle_;
  ucred cred_{};
  int strikes_ = 0;
};

ControlServer::ControlServer(asio::io_context& io, int listen_fd, SocketTable* table,
                             std::string stack_path, ResolverSettings resolver,
                             ControlPolicy policy)
    : io_(io),
      listener_(io, dup(listen_fd)),
      pause_(io),
      table_(table),
      stack_path_(std::move(stack_path)),
      resolver_(std::move(resolver)),
      policy_(policy),
      reserve_fd_(open("/dev/null", O_RDONLY | O_CLOEXEC)) {}

ControlServer::~ControlServer() {
  if (reserve_fd_ >= 0) close(reserve_fd_);
}

void ControlServer::Start() { WaitForClients(); }

size_t ControlServer::clients_of(uid_t uid) const {
  auto it = clients_by_uid_.find(uid);
  return it == clients_by_uid_.end() ? 0 : it->second;
}

void ControlServer::Admit(uid_t uid) {
  ++clients_;
  ++clients_by_uid_[uid];
}

void ControlServer::Release(uid_t uid) {
  --clients_;
  auto it = clients_by_uid_.find(uid);
  if (it != clients_by_uid_.end() && --it->second == 0) clients_by_uid_.erase(it);
}

void ControlServer::WaitForClients() {
  listener_.async_wait(asio::posix::stream_descriptor::wait_read,
                       [this](const boost::system::error_code& ec) {
                         if (ec) return;
                         if (AcceptClients()) {
                           WaitForClients();
                         } else {
                           PauseAccepting();
                         }
                       });
}

bool ControlServer::AcceptClients() {
  for (;;) {
    int fd = accept4(listener_.native_handle(), nullptr, nullptr,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) return TurnAwayWithReserveFd();
      // EAGAIN: the backlog is empty. ECONNABORTED and the like: that
      // client is gone; wait for the next.
      return true;
    }
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      close(fd);
      continue;
    }
    if (clients_ >= policy_.max_clients || clients_of(cred.uid) >= policy_.max_clients_per_uid) {
      ++turned_away_;
      if (!warned_limit_) {
        warned_limit_ = true;
        Log(0, "control: turning clients away (uid %u holds %zu of %zu connections, %zu in all)",
            static_cast<unsigned>(cred.uid), clients_of(cred.uid),
            policy_.max_clients_per_uid, clients_);
      }
      Refuse(fd, ENOBUFS);
      continue;
    }
    std::make_shared<Connection>(this, fd, cred)->Wait();
  }
}

void ControlServer::Refuse(int fd, int error) {
  Response response;
  response.set_version(socket::v1::PROTOCOL_VERSION_CURRENT);
  response.set_error(error);
  std::string bytes = response.SerializeAsString();
  send(fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  // A request left unread would make the client's next receive fail with
  // ECONNRESET before it sees the answer.
  char sink[256];
  while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0) {
  }
  close(fd);
}

bool ControlServer::TurnAwayWithReserveFd() {
  ++fd_exhausted_;
  if (!warned_fds_) {
    warned_fds_ = true;
    Log(0, "control: out of file descriptors; turning clients away until some close");
  }
  // The reserve fd makes room to take waiting clients off the backlog one
  // at a time and tell them why, so they need not wait for their timeout.
  for (int i = 0; i < kMaxRefusalsPerWake && reserve_fd_ >= 0; ++i) {
    close(reserve_fd_);
    int fd = accept4(listener_.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      ++turned_away_;
      Refuse(fd, EMFILE);
    }
    reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;
  }
  return false;
}

void ControlServer::PauseAccepting() {
  pause_.expires_after(kFdExhaustionPause);
  pause_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) WaitForClients();
  });
}

}  // namespace stackd
