#include "stackd/lwip_port/sys_arch.h"

#include <sys/random.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "lwip/arch.h"
#include "lwip/sys.h"

namespace stackd {
namespace {

std::atomic<std::thread::id> owner_thread{};
std::function<uint32_t()>& ClockOverride() {
  static auto* clock = new std::function<uint32_t()>();
  return *clock;
}

}  // namespace

void SetLwipOwnerThread() { owner_thread.store(std::this_thread::get_id()); }

void SetLwipClockForTest(std::function<uint32_t()> now_ms) {
  ClockOverride() = std::move(now_ms);
}

}  // namespace stackd

extern "C" {

u32_t sys_now(void) {
  auto& clock = stackd::ClockOverride();
  if (clock) return clock();
  auto now = std::chrono::steady_clock::now().time_since_epoch();
  return static_cast<u32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
}

void stackd_lwip_assert_core_locked(void) {
  if (stackd::owner_thread.load() != std::this_thread::get_id()) {
    std::fprintf(stderr, "stackd: lwIP called off the stack thread\n");
    std::abort();
  }
}

unsigned int stackd_lwip_rand(void) {
  unsigned int value = 0;
  if (getrandom(&value, sizeof(value), 0) != sizeof(value)) {
    value = static_cast<unsigned int>(std::rand());
  }
  return value;
}

}  // extern "C"
