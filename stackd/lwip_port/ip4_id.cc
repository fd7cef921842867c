// The IPv4 Identification field (LWIP_HOOK_IP4_OUTPUT_ID, lwIP patch 0013).
// lwIP alone counts one ID for every packet of the stack, so a peer that
// receives two packets learns how many went to others in between (RFC
// 7739 5.1: idle scans, counting another connection's traffic). Here each
// flow (addresses, protocol, and the ports of TCP and UDP) counts on its
// own, from a random start, in one of 4096 counters chosen by SipHash
// under a secret drawn at start: what Linux gives a connected socket (a
// counter of its own) and, through its keyed table, everything else.
#include <sodium.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "lwip/ip4_addr.h"
#include "lwip/pbuf.h"
#include "lwip/prot/ip.h"
#include "lwip_hooks.h"

namespace stackd {
namespace {

constexpr size_t kCounters = 4096;

struct IdCounters {
  IdCounters() {
    if (sodium_init() < 0) std::abort();  // Only if the system has no randomness at all.
    crypto_shorthash_keygen(key);
    randombytes_buf(next, sizeof(next));
  }
  unsigned char key[crypto_shorthash_KEYBYTES];
  uint16_t next[kCounters];
};

IdCounters& Counters() {
  static IdCounters* counters = new IdCounters();
  return *counters;
}

}  // namespace
}  // namespace stackd

extern "C" uint16_t stackd_ip4_id(const struct pbuf* p, uint16_t ip_hlen,
                                  const struct ip4_addr* src, const struct ip4_addr* dest,
                                  uint8_t proto) {
  // Source, destination, protocol, and the transport header's ports.
  unsigned char flow[4 + 4 + 1 + 4] = {};
  if (src != nullptr) std::memcpy(flow, &src->addr, 4);
  if (dest != nullptr) std::memcpy(flow + 4, &dest->addr, 4);
  flow[8] = proto;
  if ((proto == IP_PROTO_TCP || proto == IP_PROTO_UDP) && p->tot_len >= ip_hlen + 4) {
    pbuf_copy_partial(p, flow + 9, 4, ip_hlen);
  }
  stackd::IdCounters& c = stackd::Counters();
  unsigned char hash[crypto_shorthash_BYTES];
  crypto_shorthash(hash, flow, sizeof(flow), c.key);
  uint32_t bucket;
  std::memcpy(&bucket, hash, sizeof(bucket));
  return c.next[bucket % stackd::kCounters]++;
}
