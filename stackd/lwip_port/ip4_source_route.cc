// IPv4 source routing (LWIP_HOOK_IP4_INPUT). A packet with a loose or
// strict source route option (RFC 791 3.1, types 131 and 137) names the
// path its answers should take back: a sender can pass itself off as any
// host on that path and still see the answers. Linux drops such packets
// unless net.ipv4.conf.*.accept_source_route is set (default 0), and RFC
// 7126 4.3.3.1.2 and 4.4.3.1.2 recommend the same. lwIP accepts them, so
// stackd drops them before lwIP sees them.
#include <cstdint>

#include "lwip/pbuf.h"
#include "lwip/stats.h"
#include "lwip_hooks.h"

namespace stackd {
namespace {

constexpr uint8_t kOptionEnd = 0;
constexpr uint8_t kOptionNop = 1;
constexpr uint8_t kOptionLooseSourceRoute = 131;
constexpr uint8_t kOptionStrictSourceRoute = 137;

// True if the options of the header `h` (`len` bytes, 20 to 60) carry a
// source route. Malformed options end the walk: lwIP's own checks, or the
// transport's, deal with the rest.
bool HasSourceRoute(const uint8_t* h, size_t len) {
  for (size_t at = 20; at < len;) {
    const uint8_t type = h[at];
    if (type == kOptionEnd) return false;
    if (type == kOptionNop) {
      ++at;
      continue;
    }
    if (at + 1 >= len || h[at + 1] < 2) return false;
    if (type == kOptionLooseSourceRoute || type == kOptionStrictSourceRoute) return true;
    at += h[at + 1];
  }
  return false;
}

}  // namespace
}  // namespace stackd

extern "C" int stackd_ip4_input(struct pbuf* p, struct netif*) {
  // Most packets have no options: one byte says so.
  if (p->len == 0 || (static_cast<const uint8_t*>(p->payload)[0] & 0x0f) <= 5) return 0;
  uint8_t header[60];
  const u16_t got = pbuf_copy_partial(p, header, sizeof(header), 0);
  if (got < 20) return 0;  // lwIP drops it as too short.
  const size_t len = static_cast<size_t>(header[0] & 0x0f) * 4;
  if (len <= 20 || len > got) return 0;
  if (!stackd::HasSourceRoute(header, len)) return 0;
  IP_STATS_INC(ip.opterr);
  IP_STATS_INC(ip.drop);
  pbuf_free(p);
  return 1;
}
