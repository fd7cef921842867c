#include "stackd/lwip_port/path_mtu_table.h"

namespace stackd {

PathMtuTable::PathMtuTable(size_t capacity, uint32_t lifetime_ms)
    : capacity_(capacity), lifetime_ms_(lifetime_ms) {}

void PathMtuTable::Learn(uint32_t destination, uint16_t mtu, uint32_t now_ms) {
  auto it = entries_.find(destination);
  if (it != entries_.end() && !Expired(it->second, now_ms)) {
    // Linux's __ip_rt_update_pmtu(): never raised, and a lower report
    // starts the lifetime again.
    if (mtu < it->second.mtu) it->second = {mtu, now_ms};
    return;
  }
  if (it != entries_.end()) {
    it->second = {mtu, now_ms};
    return;
  }
  if (capacity_ == 0) return;
  if (entries_.size() >= capacity_) MakeRoom(now_ms);
  entries_.emplace(destination, Entry{mtu, now_ms});
}

std::optional<uint16_t> PathMtuTable::Find(uint32_t destination, uint32_t now_ms) {
  auto it = entries_.find(destination);
  if (it == entries_.end()) return std::nullopt;
  if (Expired(it->second, now_ms)) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.mtu;
}

// Expired entries go; if none had, the one learned first (the oldest by
// the wrapping clock).
void PathMtuTable::MakeRoom(uint32_t now_ms) {
  auto oldest = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (Expired(it->second, now_ms)) {
      it = entries_.erase(it);
      continue;
    }
    if (oldest == entries_.end() ||
        now_ms - it->second.learned_ms > now_ms - oldest->second.learned_ms) {
      oldest = it;
    }
    ++it;
  }
  if (entries_.size() >= capacity_ && oldest != entries_.end()) entries_.erase(oldest);
}

}  // namespace stackd
