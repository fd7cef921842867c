#include "stackd/sockets/ping_echo.h"

#include <cerrno>
#include <cstring>
#include <map>

#include "lwip/inet_chksum.h"
#include "lwip/ip.h"
#include "lwip/raw.h"
#include "stackd/sockets/lwip_errno.h"

namespace stackd {
namespace {

constexpr uint8_t kEchoRequest4 = 8;
constexpr uint8_t kEchoReply4 = 0;
constexpr uint8_t kEchoRequest6 = 128;
constexpr uint8_t kEchoReply6 = 129;
constexpr size_t kIcmpHeader = 8;

struct Family {
  raw_pcb* pcb = nullptr;
  // Identifier -> endpoints (several with SO_REUSEADDR or different
  // local addresses).
  std::multimap<uint16_t, PingEndpoint*> by_ident;
  uint16_t next = 1;  // Where the search for a free identifier starts.
};

Family& FamilyOf(bool v6) {
  static Family families[2];
  return families[v6 ? 1 : 0];
}

bool Overlap(const ip_addr_t& a, const ip_addr_t& b) {
  return ip_addr_isany(&a) || ip_addr_isany(&b) || ip_addr_eq(&a, &b);
}

// Every ICMP(v6) packet the stack receives, before lwIP's own ICMP code:
// an echo reply whose identifier a ping socket holds is that socket's
// (eaten, 1); anything else goes on to lwIP (0).
u8_t OnRaw(void* arg, raw_pcb*, pbuf* p, const ip_addr_t* from) {
  const bool v6 = arg != nullptr;
  const u16_t header = ip_current_header_tot_len();
  uint8_t icmp[kIcmpHeader];
  if (p->tot_len < header + kIcmpHeader ||
      pbuf_copy_partial(p, icmp, kIcmpHeader, header) != kIcmpHeader) {
    return 0;
  }
  if (icmp[0] != (v6 ? kEchoReply6 : kEchoReply4) || icmp[1] != 0) return 0;
  const uint16_t ident = static_cast<uint16_t>(icmp[4] << 8 | icmp[5]);
  Family& f = FamilyOf(v6);
  auto [first, last] = f.by_ident.equal_range(ident);
  for (auto it = first; it != last; ++it) {
    PingEndpoint* e = it->second;
    const ip_addr_t& local = e->ping_local();
    if (!ip_addr_isany(&local) && !ip_addr_eq(&local, ip_current_dest_addr())) continue;
    if (const ip_addr_t* peer = e->ping_peer(); peer != nullptr && !ip_addr_eq(peer, from)) {
      continue;
    }
    // The ICMP message alone, for the socket (its own pbuf, since lwIP
    // still owns `p`'s payload pointer).
    pbuf* copy = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(p->tot_len - header), PBUF_RAM);
    if (copy == nullptr) break;
    pbuf_copy_partial(p, copy->payload, copy->tot_len, header);
    e->OnEchoReply(copy, *from);
    pbuf_free(copy);
    pbuf_free(p);
    return 1;
  }
  return 0;
}

raw_pcb* PcbOf(bool v6) {
  Family& f = FamilyOf(v6);
  if (f.pcb == nullptr) {
    f.pcb = raw_new_ip_type(v6 ? IPADDR_TYPE_V6 : IPADDR_TYPE_V4,
                            v6 ? IP6_NEXTH_ICMP6 : IP_PROTO_ICMP);
    if (f.pcb == nullptr) return nullptr;
    // A non-null arg tells the callback it is IPv6's.
    raw_recv(f.pcb, &OnRaw, v6 ? &f : nullptr);
    if (v6) {
      // lwIP computes the ICMPv6 checksum (the pseudo-header's) at offset 2.
      f.pcb->chksum_reqd = 1;
      f.pcb->chksum_offset = 2;
    }
  }
  return f.pcb;
}

}  // namespace

int PingBind(PingEndpoint* e, bool v6, const ip_addr_t& local, uint16_t* ident) {
  if (PcbOf(v6) == nullptr) return ENOMEM;
  Family& f = FamilyOf(v6);
  auto taken = [&](uint16_t id) {
    auto [first, last] = f.by_ident.equal_range(id);
    for (auto it = first; it != last; ++it) {
      if (it->second == e) continue;
      if (Overlap(it->second->ping_local(), local) &&
          !(e->ping_reuse() && it->second->ping_reuse())) {
        return true;
      }
    }
    return false;
  };
  if (*ident == 0) {
    for (int tries = 0; tries < 0xffff && *ident == 0; ++tries) {
      const uint16_t id = f.next;
      f.next = static_cast<uint16_t>(f.next == 0xffff ? 1 : f.next + 1);
      if (!taken(id)) *ident = id;
    }
    if (*ident == 0) return EAGAIN;
  } else if (taken(*ident)) {
    return EADDRINUSE;
  }
  PingUnbind(e);
  f.by_ident.emplace(*ident, e);
  return 0;
}

void PingUnbind(PingEndpoint* e) {
  for (bool v6 : {false, true}) {
    Family& f = FamilyOf(v6);
    for (auto it = f.by_ident.begin(); it != f.by_ident.end();) {
      it = it->second == e ? f.by_ident.erase(it) : std::next(it);
    }
  }
}

int PingSend(bool v6, uint16_t ident, const uint8_t* icmp, size_t len, const ip_addr_t& dst,
             const ip_addr_t& src, uint8_t ttl, uint8_t tos) {
  if (len < kIcmpHeader || len > 0xffff) return EINVAL;
  if (icmp[0] != (v6 ? kEchoRequest6 : kEchoRequest4) || icmp[1] != 0) return EINVAL;
  raw_pcb* pcb = PcbOf(v6);
  if (pcb == nullptr) return ENOMEM;
  pbuf* p = pbuf_alloc(PBUF_IP, static_cast<u16_t>(len), PBUF_RAM);
  if (p == nullptr) return ENOMEM;
  auto* b = static_cast<uint8_t*>(p->payload);
  std::memcpy(b, icmp, len);
  b[4] = static_cast<uint8_t>(ident >> 8);
  b[5] = static_cast<uint8_t>(ident);
  b[2] = b[3] = 0;
  if (!v6) {
    const u16_t sum = inet_chksum(b, static_cast<u16_t>(len));
    std::memcpy(b + 2, &sum, 2);
  }
  pcb->ttl = ttl;
  pcb->tos = tos;
  err_t err;
  if (ip_addr_isany(&src)) {
    err = raw_sendto(pcb, p, &dst);
  } else {
    netif* nif = ip_route(&src, &dst);
    err = nif == nullptr ? ERR_RTE : raw_sendto_if_src(pcb, p, &dst, nif, &src);
  }
  pbuf_free(p);
  return err == ERR_OK ? 0 : LwipErrToErrno(err);
}

}  // namespace stackd
