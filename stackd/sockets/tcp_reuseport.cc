#include "stackd/sockets/tcp_reuseport.h"

#include <algorithm>
#include <cstdint>

namespace stackd {
namespace {

// FNV-1a over the connection's peer address and both ports: the same
// connection always lands on the same member of an unchanged group.
uint32_t ConnectionHash(const tcp_pcb* pcb) {
  uint32_t hash = 2166136261u;
  auto mix = [&hash](const void* data, size_t len) {
    const auto* bytes = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < len; ++i) {
      hash ^= bytes[i];
      hash *= 16777619u;
    }
  };
  if (IP_IS_V4(&pcb->remote_ip)) {
    mix(&ip_2_ip4(&pcb->remote_ip)->addr, 4);
  } else {
    mix(ip_2_ip6(&pcb->remote_ip)->addr, 16);
  }
  mix(&pcb->remote_port, sizeof(pcb->remote_port));
  mix(&pcb->local_port, sizeof(pcb->local_port));
  return hash;
}

}  // namespace

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
  return members_[ConnectionHash(pcb) % members_.size()].lock();
}

std::shared_ptr<TcpSocket> ReuseportGroup::First() {
  Prune();
  return members_.empty() ? nullptr : members_.front().lock();
}

}  // namespace stackd
