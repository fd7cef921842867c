// The platform half of lwIP for stackd: the clock lwIP's timers read, the
// random source, and the check that only the stack thread touches lwIP.
//
// Thread: SetLwipOwnerThread() must be called by the thread that will own
// lwIP before lwip_init(); every lwIP call after that must come from it.
#ifndef STACKD_LWIP_PORT_SYS_ARCH_H_
#define STACKD_LWIP_PORT_SYS_ARCH_H_

#include <cstdint>
#include <functional>

struct netif;
struct ip6_addr;

namespace stackd {

// Makes the calling thread the owner of lwIP. LWIP_ASSERT_CORE_LOCKED()
// aborts on any other thread.
void SetLwipOwnerThread();

// Replaces the millisecond clock behind sys_now() (tests use a fake clock).
// An empty function restores the steady clock.
void SetLwipClockForTest(std::function<uint32_t()> now_ms);

// Sets (or, with nullptr, clears) the IPv6 default gateway of a netif, used
// for destinations that are not on any link. Stack thread only.
void SetIp6Gateway(const netif* nif, const ip6_addr* gateway);

// Called when a packet is queued on lwIP's loopback netif and none was
// waiting (lwIP patch 0015's hook); nullptr: nobody is told, and the packet
// waits for the next netif_poll().
void SetLoopbackQueuedHandler(void (*handler)());

}  // namespace stackd

#endif  // STACKD_LWIP_PORT_SYS_ARCH_H_
