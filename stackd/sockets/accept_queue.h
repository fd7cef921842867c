// AcceptQueue: a listening TcpSocket's accepted connections, from the
// moment lwIP hands one over until the application has read its accept
// record. Each connection goes to the application as a record on the
// listener's pair carrying its fd (SCM_RIGHTS) and both addresses
// (docs/socket-protocol.md, "Listening sockets"); the queue learns which
// records were read from the pair's SIOCOUTQ and tells lwIP's backlog.
// Under TCP_DEFER_ACCEPT it holds a connection back until its deferral
// ends. On shutdown(SHUT_RD) or close of the listener, connections never
// accepted are reset, as Linux does.
//
// Thread: the stack thread only. A listening TcpSocket owns its queue; the
// queue reaches the listener through AcceptQueue::Owner and each accepted
// TcpSocket through AcceptQueue::Connection.
#ifndef STACKD_SOCKETS_ACCEPT_QUEUE_H_
#define STACKD_SOCKETS_ACCEPT_QUEUE_H_

#include <sys/types.h>

#include <deque>
#include <memory>
#include <vector>

#include "proto/socket.pb.h"

namespace stackd {

class AcceptQueue {
 public:
  // What the queue asks of an accepted connection.
  class Connection {
   public:
    // Whether the connection is over (its socket closed).
    virtual bool IsClosed() const = 0;
    // Whether it still has its PCB.
    virtual bool HasPcb() const = 0;
    // Whether the application's end of its pair is gone.
    virtual bool PairHungUp() const = 0;
    // The record that announces it: its local address and its peer.
    virtual socket::v1::AcceptRecord Record() const = 0;
    // Whether lwIP still counts it as queued on the listener
    // (tcp_backlog_delayed).
    virtual bool BacklogDelayed() const = 0;
    // The application has it: lwIP's backlog no longer counts it
    // (tcp_backlog_accepted, if the PCB is still there).
    virtual void BacklogAccepted() = 0;
    // Ends it as the application's close would; with a RST if `reset`.
    virtual void Close(bool reset) = 0;
    // TCP_DEFER_ACCEPT: the application's end of its pair, held until the
    // handover, and that end's inode; ownership of the fd passes to the
    // caller.
    virtual int TakeHeldFd(ino_t* app_ino) = 0;
    // TCP_DEFER_ACCEPT: the listener goes before the handover; the
    // connection goes without a RST.
    virtual void Abandon() = 0;

   protected:
    ~Connection() = default;
  };

  // What the queue asks of the listener it serves.
  class Owner {
   public:
    // stackd's end of the listener's pair, or -1 once it is closed.
    virtual int PairFd() const = 0;
    // Whether the listener was shut down (shutdown(SHUT_RD)).
    virtual bool ListenerShut() const = 0;
    // Puts `c` in the socket table, found by the inode of the application's
    // end of its pair.
    virtual void Admit(const std::shared_ptr<Connection>& c, ino_t app_ino) = 0;

   protected:
    ~Owner() = default;
  };

  // `owner` must outlive the queue.
  explicit AcceptQueue(Owner* owner) : owner_(owner) {}
  AcceptQueue(const AcceptQueue&) = delete;
  AcceptQueue& operator=(const AcceptQueue&) = delete;

  // Hands `c` to the application: its record with `app_fd` (closed here)
  // on the pair, then the table and the queue. False if the pair's queue
  // is full (nothing is admitted then).
  bool Offer(const std::shared_ptr<Connection>& c, int app_fd, ino_t app_ino);
  // TCP_DEFER_ACCEPT: keeps `c` until HandOver() or Forget().
  void Defer(const std::shared_ptr<Connection>& c);
  // A deferred connection `c` is ready (data, FIN, or its time is up):
  // the record goes to the application now.
  void HandOver(const std::shared_ptr<Connection>& c);
  // A deferred connection `c` ended before it was handed over.
  void Forget(const std::shared_ptr<Connection>& c);
  // The listener goes: its deferred connections go without a RST, as
  // Linux drops its request sockets (the peers learn of it when they send).
  void DropDeferred();

  // Accept-queue accounting, from the stack thread's timer: the records
  // the application has read since are accepted connections.
  void Tick();
  // The application closed the listener: which queued connections it had
  // accepted (their records read).
  void MarkAcceptedAtClose();
  // shutdown(SHUT_RD or SHUT_RDWR) of the listener, once its listening
  // PCBs are closed: resets the connections not yet accepted, drops the
  // deferred ones and wakes blocked accepts with end records.
  void Shut();
  // The listener's listening PCBs are closed: resets the connections the
  // application never accepted and forgets the rest.
  void Close();

 private:
  // Sends `c`'s accept record with `app_fd` (closed here) on the pair;
  // false if the pair's queue is full.
  bool SendRecord(const Connection& c, int app_fd);

  Owner* const owner_;
  // Connections handed to the application, oldest first, whose records it
  // may not have read yet.
  std::deque<std::weak_ptr<Connection>> queue_;
  // TCP_DEFER_ACCEPT: connections not yet handed over.
  std::vector<std::shared_ptr<Connection>> deferred_;
  // Kernel memory one accept record takes on the pair (SIOCOUTQ units).
  int record_cost_ = 0;
};

}  // namespace stackd

#endif  // STACKD_SOCKETS_ACCEPT_QUEUE_H_
