// Path MTUs learned per destination (RFC 1191), kept as Linux keeps them in
// its route exceptions: an MTU only falls (a report that is not lower is
// ignored), stands for a lifetime after it was learned (Linux's
// net.ipv4.route.mtu_expires, 600 s) and then goes, so that a path whose
// MTU grew is used in full again. At most `capacity` destinations: when
// full, the entry learned first makes room.
//
// Times are a millisecond clock that may wrap (lwIP's sys_now()).
//
// Thread: not thread-safe; stackd uses it on the stack thread.
#ifndef STACKD_LWIP_PORT_PATH_MTU_TABLE_H_
#define STACKD_LWIP_PORT_PATH_MTU_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>

namespace stackd {

class PathMtuTable {
 public:
  PathMtuTable(size_t capacity, uint32_t lifetime_ms);

  // `destination`'s path MTU is `mtu` from `now_ms` on, unless a lower one
  // is known.
  void Learn(uint32_t destination, uint16_t mtu, uint32_t now_ms);

  // The path MTU known for `destination` at `now_ms`, if one is.
  std::optional<uint16_t> Find(uint32_t destination, uint32_t now_ms);

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    uint16_t mtu;
    uint32_t learned_ms;
  };

  bool Expired(const Entry& e, uint32_t now_ms) const {
    return now_ms - e.learned_ms >= lifetime_ms_;
  }
  void MakeRoom(uint32_t now_ms);

  size_t capacity_;
  uint32_t lifetime_ms_;
  std::unordered_map<uint32_t, Entry> entries_;
};

}  // namespace stackd

#endif  // STACKD_LWIP_PORT_PATH_MTU_TABLE_H_
