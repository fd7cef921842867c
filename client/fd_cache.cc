#include "client/fd_cache.h"

#include <atomic>
#include <cstdint>

namespace stackd::client {
namespace {

// One bit per fd number: set = known not to be a stack datagram socket.
std::atomic<uint64_t> known_not_datagram[kCachedFds / 64];

bool Cached(int fd) { return fd >= 0 && fd < kCachedFds; }

}  // namespace

bool KnownNotDatagram(int fd) {
  if (!Cached(fd)) return false;
  const uint64_t bit = uint64_t{1} << (fd % 64);
  return (known_not_datagram[fd / 64].load(std::memory_order_acquire) & bit) != 0;
}

void RememberNotDatagram(int fd) {
  if (!Cached(fd)) return;
  known_not_datagram[fd / 64].fetch_or(uint64_t{1} << (fd % 64), std::memory_order_acq_rel);
}

void ForgetFd(int fd) {
  if (!Cached(fd)) return;
  known_not_datagram[fd / 64].fetch_and(~(uint64_t{1} << (fd % 64)), std::memory_order_acq_rel);
}

void ForgetFds(unsigned first, unsigned last) {
  if (first >= static_cast<unsigned>(kCachedFds) || first > last) return;
  if (last >= static_cast<unsigned>(kCachedFds)) last = kCachedFds - 1;
  for (unsigned fd = first; fd <= last;) {
    if (fd % 64 == 0 && last - fd >= 63) {
      known_not_datagram[fd / 64].store(0, std::memory_order_release);
      fd += 64;
    } else {
      ForgetFd(static_cast<int>(fd));
      ++fd;
    }
  }
}

}  // namespace stackd::client
