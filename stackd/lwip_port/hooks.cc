// lwIP hook implementations (declared in lwip_hooks.h).
#include "stackd/lwip_port/sys_arch.h"

#include <map>

#include "lwip/ip6_addr.h"
#include "lwip/netif.h"
#include "lwip_hooks.h"

namespace stackd {
namespace {

std::map<const netif*, ip6_addr_t>& Ip6Gateways() {
  static auto* gateways = new std::map<const netif*, ip6_addr_t>();
  return *gateways;
}

void (*loopback_queued)() = nullptr;

}  // namespace

void SetLoopbackQueuedHandler(void (*handler)()) { loopback_queued = handler; }

void SetIp6Gateway(const netif* nif, const ip6_addr_t* gateway) {
  stackd_lwip_assert_core_locked();
  if (gateway == nullptr) {
    Ip6Gateways().erase(nif);
  } else {
    Ip6Gateways()[nif] = *gateway;
  }
}

}  // namespace stackd

extern "C" const struct ip6_addr* stackd_nd6_get_gw(struct netif* nif,
                                                    const struct ip6_addr*) {
  auto& gateways = stackd::Ip6Gateways();
  auto it = gateways.find(nif);
  return it == gateways.end() ? nullptr : &it->second;
}

extern "C" void stackd_netif_loop_queued(struct netif*) {
  if (stackd::loopback_queued != nullptr) stackd::loopback_queued();
}
