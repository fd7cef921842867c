// SO_REUSEPORT for TCP listeners, as Linux has it (socket(7)): sockets of
// one owner that set SO_REUSEPORT before bind may listen on the same
// address and port, and each new connection goes to one of them, chosen by
// a hash of its addresses and ports.
//
// lwIP takes one listening PCB per address and port: the first listener
// holds it for the group, the others join the group without a PCB of their
// own, and when the holder leaves the next member takes the PCB over.
//
// Thread: the stack thread only.
#ifndef STACKD_SOCKETS_TCP_REUSEPORT_H_
#define STACKD_SOCKETS_TCP_REUSEPORT_H_

#include <memory>
#include <vector>

#include "lwip/tcp.h"

namespace stackd {

class TcpSocket;

class ReuseportGroup {
 public:
  // Members in the order they started listening.
  void Add(std::weak_ptr<TcpSocket> member);
  void Remove(const TcpSocket* member);
  // Which member a new connection `pcb` goes to (a keyed hash of its
  // addresses and ports: the same connection, the same member); null if
  // none is left.
  std::shared_ptr<TcpSocket> Pick(const tcp_pcb* pcb);
  // The oldest member still there; null if none.
  std::shared_ptr<TcpSocket> First();

 private:
  // Drops members that are gone.
  void Prune();

  std::vector<std::weak_ptr<TcpSocket>> members_;
};

}  // namespace stackd

#endif  // STACKD_SOCKETS_TCP_REUSEPORT_H_
