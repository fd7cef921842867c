#include "stackd/sockets/netif_facts.h"

#include "lwip/ip.h"
#include "lwip/nd6.h"
#include "lwip/netif.h"
#include "stackd/lwip_port/tcp_path_mtu.h"

namespace stackd {

bool IsLocalAddress(const ip_addr_t& ip) {
  if (ip_addr_isany(&ip)) return true;
  for (netif* nif = netif_list; nif != nullptr; nif = nif->next) {
    if (IP_IS_V4_VAL(ip)) {
      if (ip4_addr_eq(ip_2_ip4(&ip), netif_ip4_addr(nif))) return true;
    } else if (netif_get_ip6_addr_match(nif, ip_2_ip6(&ip)) >= 0) {
      return true;
    }
  }
  return false;
}

int PathMtu(const ip_addr_t& local, const ip_addr_t& remote) {
  netif* n = ip_route(&local, &remote);
  if (n == nullptr) return 0;
  // lwIP's loopback (lo0) carries 65535 bytes (stack.cc); Linux's lo says
  // 65536.
  const bool loopback = n->name[0] == 'l' && n->name[1] == 'o';
  if (loopback || n->mtu == 0) return 65536;
  if (IP_IS_V6(&remote)) return nd6_get_destination_mtu(ip_2_ip6(&remote), n);
  const uint16_t learned = LearnedIp4PathMtu(*ip_2_ip4(&remote));
  return learned != 0 && learned < n->mtu ? learned : n->mtu;
}

}  // namespace stackd
