#include "stackd/stack.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/init.h"
#include "lwip/ip4_addr.h"
#include "lwip/ip6_addr.h"
#include "lwip/mld6.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/stats.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"
#include "stackd/lwip_port/sys_arch.h"
#include "stackd/lwip_port/tcp_path_mtu.h"

namespace stackd {
namespace {

constexpr size_t kEthernetHeader = 14;
constexpr size_t kVlanTag = 4;
// Ethernet's minimum frame without the FCS. lwIP reads fixed-size headers
// (ARP, IPv4, IPv6) before checking the frame's length, trusting a NIC to
// pad short frames to this size; a TAP does not.
constexpr size_t kMinFrame = 60;
// A pbuf's length is 16 bits: no frame longer than this can reach lwIP,
// whatever the MTU (which may be up to 65535 itself).
constexpr size_t kMaxPbufFrame = 0xffff;

Stack* live_stack = nullptr;

ip4_addr_t ToIp4(const IpAddress& a) {
  ip4_addr_t out;
  std::memcpy(&out.addr, a.bytes.data(), 4);
  return out;
}

ip6_addr_t ToIp6(const IpAddress& a) {
  ip6_addr_t out;
  std::memcpy(out.addr, a.bytes.data(), 16);
  ip6_addr_clear_zone(&out);
  return out;
}

bool InPrefix(const IpPrefix& prefix, const IpAddress& a) {
  if (prefix.address.family != a.family) return false;
  IpPrefix other{a, prefix.length};
  return other.Network().address == prefix.Network().address;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Stack>> Stack::Create(const Options& options,
                                                     FrameSender send) {
  if (live_stack != nullptr) {
    return absl::FailedPreconditionError("an lwIP stack already runs in this process");
  }
  SetLwipOwnerThread();
  static bool lwip_initialised = false;
  if (!lwip_initialised) {
    lwip_init();
    // lwIP's loopback netif has MTU 0 ("none"), so TCP takes TCP_MSS
    // whole: an IPv6 segment of 65480 bytes and its headers (65540) do not
    // fit in a pbuf, and a connection over ::1 stalled at its first
    // full-sized segment. 65535 keeps every packet within a pbuf (IPv6 MSS
    // 65475; the IPv4 MSS stays 65480).
    if (netif* lo = netif_find("lo0")) lo->mtu = 0xffff;
    WatchTcpPathMtu();
    lwip_initialised = true;
  }
  std::unique_ptr<Stack> stack(new Stack(options, std::move(send)));
  live_stack = stack.get();
  stack->loopback_ = netif_find("lo0");
  SetLoopbackQueuedHandler(&Stack::LoopbackQueued);
  if (auto status = stack->Start(); !status.ok()) return status;
  return stack;
}

Stack::Stack(const Options& options, FrameSender send)
    : options_(options),
      send_(std::move(send)),
      max_rx_frame_(std::min(options_.mtu + kEthernetHeader + kVlanTag, kMaxPbufFrame)) {
  tx_buffer_.resize(options_.mtu + kEthernetHeader + kVlanTag);
}

Stack::~Stack() {
  for (netif* nif : netifs_) {
    SetIp6Gateway(nif, nullptr);
    netif_set_down(nif);
    netif_remove(nif);
  }
  live_stack = nullptr;
}

absl::Status Stack::Start() {
  std::vector<const IpPrefix*> v4;
  std::vector<const IpPrefix*> v6;
  for (const auto& a : options_.addresses) {
    (a.address.family == AF_INET ? v4 : v6).push_back(&a);
  }
  if (v6.size() + 1 > LWIP_IPV6_NUM_ADDRESSES) {
    return absl::InvalidArgumentError(absl::StrCat(
        "at most ", LWIP_IPV6_NUM_ADDRESSES - 1, " IPv6 addresses per stack"));
  }
  size_t count = v4.empty() ? 1 : v4.size();
  for (size_t i = 0; i < count; ++i) {
    auto nif = std::make_unique<netif>();
    ip4_addr_t addr, mask, gw;
    ip4_addr_set_zero(&addr);
    ip4_addr_set_zero(&mask);
    ip4_addr_set_zero(&gw);
    if (i < v4.size()) {
      addr = ToIp4(v4[i]->address);
      ip4_addr_set_u32(&mask, v4[i]->length == 0
                                  ? 0
                                  : lwip_htonl(~0u << (32 - v4[i]->length)));
      for (const auto& g : options_.gateways) {
        if (g.family == AF_INET && InPrefix(*v4[i], g)) gw = ToIp4(g);
      }
    }
    if (netif_add(nif.get(), &addr, &mask, &gw, this, &Stack::NetifInit,
                  ethernet_input) == nullptr) {
      return absl::InternalError("lwIP refused the link netif");
    }
    netifs_.push_back(nif.get());
    owned_netifs_.push_back(std::move(nif));
  }
  netif* primary = netifs_.front();

  netif_create_ip6_linklocal_address(primary, 1);
  netif_ip6_addr_set_state(primary, 0, IP6_ADDR_PREFERRED);
  for (const IpPrefix* p : v6) {
    ip6_addr_t addr = ToIp6(p->address);
    s8_t index = -1;
    if (netif_add_ip6_address(primary, &addr, &index) != ERR_OK) {
      return absl::InvalidArgumentError(
          absl::StrCat("lwIP refused IPv6 address ", p->ToString()));
    }
    netif_ip6_addr_set_state(primary, index, IP6_ADDR_PREFERRED);
  }

  for (const auto& g : options_.gateways) {
    // IPv6 routers are usually named by their link-local address.
    bool on_link = g.family == AF_INET6 && g.bytes[0] == 0xfe && (g.bytes[1] & 0xc0) == 0x80;
    for (const auto& a : options_.addresses) on_link |= InPrefix(a, g);
    if (!on_link) {
      return absl::InvalidArgumentError(absl::StrCat(
          "gateway ", g.ToString(), " is not inside any --addr prefix"));
    }
    if (g.family == AF_INET6) {
      ip6_addr_t gw = ToIp6(g);
      SetIp6Gateway(primary, &gw);
    }
  }
  // Off-link IPv4 traffic leaves through the netif that has the gateway.
  netif* default_netif = primary;
  for (netif* nif : netifs_) {
    if (!ip4_addr_isany_val(*netif_ip4_gw(nif))) default_netif = nif;
  }
  netif_set_default(default_netif);
  for (netif* nif : netifs_) {
    netif_set_link_up(nif);
    netif_set_up(nif);
  }
  return absl::OkStatus();
}

int8_t Stack::NetifInit(netif* nif) {
  auto* stack = static_cast<Stack*>(nif->state);
  nif->name[0] = 'e';
  nif->name[1] = 't';
  nif->mtu = static_cast<u16_t>(stack->options_.mtu);
  nif->hwaddr_len = ETH_HWADDR_LEN;
  std::memcpy(nif->hwaddr, stack->options_.mac.bytes.data(), ETH_HWADDR_LEN);
  nif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET |
               NETIF_FLAG_IGMP | NETIF_FLAG_MLD6;
  nif->output = etharp_output;
  nif->output_ip6 = ethip6_output;
  nif->linkoutput = &Stack::LinkOutput;
  return ERR_OK;
}

int8_t Stack::LinkOutput(netif* nif, pbuf* p) {
  auto* stack = static_cast<Stack*>(nif->state);
  if (p->tot_len > stack->tx_buffer_.size()) {
    ++stack->tx_dropped_;
    LINK_STATS_INC(link.lenerr);
    return ERR_BUF;
  }
  const uint8_t* frame;
  if (p->next == nullptr) {
    frame = static_cast<const uint8_t*>(p->payload);
  } else {
    pbuf_copy_partial(p, stack->tx_buffer_.data(), p->tot_len, 0);
    frame = stack->tx_buffer_.data();
  }
  if (!stack->send_(frame, p->tot_len)) {
    ++stack->tx_dropped_;
    LINK_STATS_INC(link.drop);
    return ERR_IF;
  }
  LINK_STATS_INC(link.xmit);
  return ERR_OK;
}

void Stack::Input(const uint8_t* frame, size_t len) {
  netif* primary = netifs_.front();
  if (len < kEthernetHeader || len > max_rx_frame_) {
    ++rx_dropped_;
    LINK_STATS_INC(link.lenerr);
    return;
  }
  LINK_STATS_INC(link.recv);
  // lwIP answers ARP only for the address of the netif a frame arrives on;
  // IP packets are matched against every netif by ip4_input/ip6_input. So
  // ARP goes to each IPv4 netif, everything else to one netif.
  bool is_arp = frame[12] == 0x08 && frame[13] == 0x06;
  // An IPv4 packet enters through the netif that owns its destination:
  // lwIP sends ICMP echo replies out of the netif a request came in on.
  netif* ip_target = primary;
  if (netifs_.size() > 1 && frame[12] == 0x08 && frame[13] == 0x00 &&
      len >= kEthernetHeader + 20) {
    ip4_addr_t dst;
    std::memcpy(&dst.addr, frame + kEthernetHeader + 16, sizeof(dst.addr));
    for (netif* nif : netifs_) {
      if (ip4_addr_eq(netif_ip4_addr(nif), &dst)) ip_target = nif;
    }
  }
  size_t targets = is_arp ? netifs_.size() : 1;
  for (size_t i = 0; i < targets; ++i) {
    // len <= max_rx_frame_ <= 0xffff, so neither length is cut short here.
    size_t padded = std::max(len, kMinFrame);
    pbuf* p = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(padded), PBUF_RAM);
    if (p == nullptr) {
      ++rx_dropped_;
      LINK_STATS_INC(link.memerr);
      return;
    }
    std::memcpy(p->payload, frame, len);
    std::memset(static_cast<uint8_t*>(p->payload) + len, 0, padded - len);
    netif* nif = is_arp ? netifs_[i] : ip_target;
    if (nif->input(p, nif) != ERR_OK) pbuf_free(p);
  }
}

void Stack::Poll() {
  sys_check_timeouts();
  netif_poll_all();
}

// From LWIP_HOOK_NETIF_LOOP_QUEUED (lwIP patch 0015, hooks.cc): a packet
// waits on the loopback netif, and none did before.
void Stack::LoopbackQueued() {
  Stack* s = live_stack;
  if (s == nullptr || !s->loopback_waker_ || s->loopback_wake_pending_) return;
  s->loopback_wake_pending_ = true;
  s->loopback_waker_();
}

void Stack::PollLoopback() {
  loopback_wake_pending_ = false;
  if (loopback_ != nullptr) netif_poll(loopback_);
}

uint32_t Stack::NextTimeoutMs() const {
  u32_t sleep = sys_timeouts_sleeptime();
  return sleep > 1000 ? 1000 : sleep;
}

}  // namespace stackd
