#include "stackd/sockets/tcp_reuseport.h"

#include <algorithm>
#include <cstdint>

#include "lwip_hooks.h"

namespace stackd {

void ReuseportGroup::Add(std::weak_ptr<TcpSocket> member) {
  members_.push_back(std::move(member));
}

void ReuseportGroup::Remove(const TcpSocket* member) {
  members_.erase(std::remove_if(members_.begin(), members_.end(),
                                [member](const std::weak_ptr<TcpSocket>& m) {
                                  auto s = m.lock();
                                  return s == nullptr || s.get() == member;
                                }),
                 members_.end());
}

void ReuseportGroup::Prune() {
  members_.erase(std::remove_if(members_.begin(), members_.end(),
                                [](const std::weak_ptr<TcpSocket>& m) { return m.expired(); }),
                 members_.end());
}

std::shared_ptr<TcpSocket> ReuseportGroup::Pick(const tcp_pcb* pcb) {
  Prune();
  if (members_.empty()) return nullptr;
  return members_[stackd_tcp_reuseport_hash(&pcb->local_ip, pcb->local_port, &pcb->remote_ip,
                                            pcb->remote_port) %
                  members_.size()].lock();
}

std::shared_ptr<TcpSocket> ReuseportGroup::First() {
  Prune();
  return members_.empty() ? nullptr : members_.front().lock();
}

}  // namespace stackd
