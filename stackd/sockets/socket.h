// Socket: what the control server can ask of any socket of the stack, TCP
// or UDP. Each call returns 0 or the errno the library hands to the
// application (proto/socket.proto lists the errors of each request).
//
// Thread: the stack thread only.
#ifndef STACKD_SOCKETS_SOCKET_H_
#define STACKD_SOCKETS_SOCKET_H_

#include <sys/types.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "proto/socket.pb.h"

namespace stackd {

// What an operator sees of a socket (ListSockets).
struct SocketSummary {
  uint64_t id = 0;
  std::string protocol;  // "tcp", "udp".
  std::string state;
  std::vector<socket::v1::Address> local;  // More than one after mbind.
  socket::v1::Address peer;
  std::vector<socket::v1::Address> candidates;  // mconnect in progress.
  pid_t owner_pid = 0;
  uid_t owner_uid = 0;
  uint64_t bytes_in = 0;   // From the network to the application.
  uint64_t bytes_out = 0;  // From the application to the network.
  uint64_t rx_queued = 0;  // Received, not yet handed to the application.
  uint64_t tx_queued = 0;  // Taken from the application, not yet acked.
  uint64_t rx_dropped = 0; // Datagrams dropped for a full receive buffer.
  int family = 0;
};

class Socket {
 public:
  virtual ~Socket() = default;

  // Starts watching the pair. Called once, after the table holds the socket.
  virtual void Start() = 0;

  virtual int Bind(const socket::v1::Address& address,
                   socket::v1::Address* bound) = 0;
  virtual int Listen(int backlog) = 0;
  // `app_fd` is a copy of the application's fd; ownership passes to the
  // socket, which closes it when it no longer needs it.
  virtual int Connect(const socket::v1::Address& address, uint32_t gate_bytes,
                      int app_sndbuf, int app_fd) = 0;
  virtual int GetName(bool peer, socket::v1::Address* out) const = 0;
  virtual int SetOpt(int level, int name, const socket::v1::OptValue& value) = 0;
  virtual int GetOpt(int level, int name, socket::v1::OptValue* value) = 0;
  // `app_fd` is the application's fd, borrowed.
  virtual int Shutdown(int how, int app_fd) = 0;
  // recvmsg(MSG_ERRQUEUE): EAGAIN unless the socket queues errors.
  virtual int TakeQueuedError(bool peek, socket::v1::QueuedError* out) {
    (void)peek;
    (void)out;
    return EAGAIN;
  }

  // The operator kills the socket (the admin service's KillSocket, as
  // Linux's `ss -K`): 0, or EOPNOTSUPP where a socket cannot be killed.
  virtual int Kill() { return EOPNOTSUPP; }

  // Housekeeping from the stack thread's timer.
  virtual void Tick() {}

  virtual uint64_t id() const = 0;
  virtual void set_owner(pid_t pid, uid_t uid) = 0;
  virtual SocketSummary Summary() const = 0;
};

}  // namespace stackd

#endif  // STACKD_SOCKETS_SOCKET_H_
