// IPv4 options as Linux handles them, before lwIP reads a packet
// (LWIP_HOOK_IP4_INPUT).
//
// Source routes: a packet with a loose or strict source route option
// (RFC 791 3.1, types 131 and 137) names the path its answers should take
// back: a sender can pass itself off as any host on that path and still see
// the answers. Linux drops such packets unless
// net.ipv4.conf.*.accept_source_route is set (default 0), and RFC 7126
// 4.3.3.1.2 and 4.4.3.1.2 recommend the same. lwIP accepts them, so stackd
// drops them.
//
// Record route (type 7): Linux records its address in the option of a
// packet it receives (ip_options_compile) and again in the reply that
// echoes the option (ip_options_build), so `ping -R` shows the host twice.
// lwIP echoes an echo request's options unchanged, so stackd fills both
// slots in the request: the reply then carries them. Only echo requests
// come back with their options, so only they are filled.
#include <cstdint>
#include <cstring>

#include "lwip/inet_chksum.h"
#include "lwip/pbuf.h"
#include "lwip/stats.h"
#include "lwip_hooks.h"

namespace stackd {
namespace {

constexpr uint8_t kOptionEnd = 0;
constexpr uint8_t kOptionNop = 1;
constexpr uint8_t kOptionRecordRoute = 7;
constexpr uint8_t kOptionLooseSourceRoute = 131;
constexpr uint8_t kOptionStrictSourceRoute = 137;
constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kIcmpEchoRequest = 8;

// What the options of the header `h` (`len` bytes, 20 to 60) hold.
// Malformed options end the walk: lwIP's own checks, or the transport's,
// deal with the rest.
struct Options {
  bool source_route = false;
  size_t record_route = 0;  // Offset of the option in the header, or 0.
};

Options ParseOptions(const uint8_t* h, size_t len) {
  Options found;
  for (size_t at = 20; at < len;) {
    const uint8_t type = h[at];
    if (type == kOptionEnd) break;
    if (type == kOptionNop) {
      ++at;
      continue;
    }
    if (at + 1 >= len || h[at + 1] < 2 || at + h[at + 1] > len) break;
    if (type == kOptionLooseSourceRoute || type == kOptionStrictSourceRoute) {
      found.source_route = true;
    } else if (type == kOptionRecordRoute && h[at + 1] >= 3 && found.record_route == 0) {
      found.record_route = at;
    }
    at += h[at + 1];
  }
  return found;
}

// Records the echo request's destination (this stack's address) in up to
// two free slots of its record route option at `rr`, as Linux does on the
// way in and on the way out. `h` is the header (`len` bytes) of `p`, whose
// checksum must be right: a packet lwIP would drop is left as it is.
void RecordRouteInEcho(pbuf* p, uint8_t* h, size_t len, size_t rr) {
  const uint16_t fragment = static_cast<uint16_t>(h[6] << 8 | h[7]);
  if (h[9] != kProtoIcmp || (fragment & 0x3fff) != 0) return;
  uint8_t icmp_type;
  if (pbuf_copy_partial(p, &icmp_type, 1, static_cast<u16_t>(len)) != 1 ||
      icmp_type != kIcmpEchoRequest) {
    return;
  }
  if (inet_chksum(h, static_cast<u16_t>(len)) != 0) return;
  const uint8_t option_len = h[rr + 1];
  uint8_t& pointer = h[rr + 2];
  bool changed = false;
  for (int slot = 0; slot < 2 && pointer >= 4 && pointer + 3 <= option_len; ++slot) {
    std::memcpy(h + rr + pointer - 1, h + 16, 4);  // The destination address.
    pointer = static_cast<uint8_t>(pointer + 4);
    changed = true;
  }
  if (!changed) return;
  h[10] = h[11] = 0;
  const u16_t sum = inet_chksum(h, static_cast<u16_t>(len));
  std::memcpy(h + 10, &sum, 2);
  pbuf_take_at(p, h, static_cast<u16_t>(len), 0);
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
  const stackd::Options options = stackd::ParseOptions(header, len);
  if (options.source_route) {
    IP_STATS_INC(ip.opterr);
    IP_STATS_INC(ip.drop);
    pbuf_free(p);
    return 1;
  }
  if (options.record_route != 0) {
    stackd::RecordRouteInEcho(p, header, len, options.record_route);
  }
  return 0;
}
