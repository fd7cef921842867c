// ControlServer: answers the socket protocol (proto/socket.proto) on the
// stack's PATH: makes sockets, and carries out control calls on them.
//
// Every packet is size-checked before it is read and parsed before it is
// trusted; a malformed one gets an error reply and repeated ones cost the
// client its connection, never stackd its life or another client its
// service.
//
// Thread: the stack thread only.
#ifndef STACKD_SOCKETS_CONTROL_SERVER_H_
#define STACKD_SOCKETS_CONTROL_SERVER_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "stackd/sockets/socket_table.h"

namespace stackd {

inline constexpr size_t kMaxControlMessageBytes = 65536;

// How programs on this stack resolve names (stackd --dns, --search): handed
// to the client library in every HelloResponse.
struct ResolverSettings {
  struct Server {
    int family = 0;                // AF_INET or AF_INET6.
    std::array<uint8_t, 16> ip{};  // Network order; IPv4 in the first 4.
    uint16_t port = 53;
  };
  std::vector<Server> dns_servers;
  std::vector<std::string> search_domains;
};

// What the control server allows its clients.
struct ControlPolicy {
  // How many control connections are served at once. A connection over a
  // limit is answered ENOBUFS and closed; the library returns that errno
  // from the call. One control connection lives only for the call that
  // made it, so these bound concurrent calls, not sockets.
  size_t max_clients = 4096;
  size_t max_clients_per_uid = 256;
  // Binding a port below this takes root (bind(2) fails with EACCES), as
  // Linux's net.ipv4.ip_unprivileged_port_start. stackd --unprivileged-port-start.
  uint32_t unprivileged_port_start = 1024;
  // Who may make ICMP echo (ping) sockets: a client whose gid is in
  // [low, high], as Linux's net.ipv4.ping_group_range; others get EACCES.
  // The default, Linux's own, lets nobody.
  uint32_t ping_group_low = 1;
  uint32_t ping_group_high = 0;
};

class ControlServer {
 public:
  // `listen_fd` is the PATH socket (SOCK_SEQPACKET, listening,
  // non-blocking); borrowed, it must outlive the server.
  //
  // A connection that sends no request for 10 s is closed. When the process
  // runs out of file descriptors, waiting clients are answered EMFILE one at
  // a time (a reserve fd makes room) and accepting pauses briefly instead
  // of spinning.
  ControlServer(boost::asio::io_context& io, int listen_fd, SocketTable* table,
                std::string stack_path, ResolverSettings resolver = {},
                ControlPolicy policy = {});
  ~ControlServer();

  // Starts accepting clients.
  void Start();

  // What InterfacesRequest answers (getifaddrs(3) in the library): filled
  // on the stack thread by whoever knows the stack's interfaces. Without
  // one, the request is answered EOPNOTSUPP.
  using InterfacesSource = std::function<void(socket::v1::InterfaceList*)>;
  void set_interfaces_source(InterfacesSource source) {
    interfaces_source_ = std::move(source);
  }

  // Counters for operators.
  uint64_t requests() const { return requests_; }
  uint64_t bad_requests() const { return bad_requests_; }
  size_t clients() const { return clients_; }
  size_t clients_of(uid_t uid) const;
  // Connections refused (limits, no fds), and closed for idling.
  uint64_t turned_away() const { return turned_away_; }
  uint64_t idle_closed() const { return idle_closed_; }
  uint64_t fd_exhausted() const { return fd_exhausted_; }

 private:
  class Connection;
  void WaitForClients();
  // Accepts what the backlog holds. False: out of fds, pause first.
  bool AcceptClients();
  bool TurnAwayWithReserveFd();
  void PauseAccepting();
  static void Refuse(int fd, int error);
  void Admit(uid_t uid);
  void Release(uid_t uid);

  boost::asio::io_context& io_;
  boost::asio::posix::stream_descriptor listener_;
  boost::asio::steady_timer pause_;
  SocketTable* table_;
  const std::string stack_path_;
  const ResolverSettings resolver_;
  const ControlPolicy policy_;
  InterfacesSource interfaces_source_;
  int reserve_fd_;
  uint64_t requests_ = 0;
  uint64_t bad_requests_ = 0;
  uint64_t turned_away_ = 0;
  uint64_t idle_closed_ = 0;
  uint64_t fd_exhausted_ = 0;
  bool warned_limit_ = false;
  bool warned_fds_ = false;
  size_t clients_ = 0;
  std::unordered_map<uid_t, size_t> clients_by_uid_;
};

}  // namespace stackd

#endif  // STACKD_SOCKETS_CONTROL_SERVER_H_
