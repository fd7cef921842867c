#include "stackd/stack_report.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "lwip/init.h"
#include "lwip/ip4_addr.h"
#include "lwip/ip6_addr.h"
#include "lwip/netif.h"
#include "lwip/stats.h"
#include "stackd/version.h"

namespace stackd {
namespace {

using admin::v1::Interface;

IpAddress FromIp4(const ip4_addr_t* a) {
  IpAddress out;
  out.family = AF_INET;
  std::memcpy(out.bytes.data(), &a->addr, 4);
  return out;
}

IpAddress FromIp6(const ip6_addr_t* a) {
  IpAddress out;
  out.family = AF_INET6;
  std::memcpy(out.bytes.data(), a->addr, 16);
  return out;
}

int PrefixLength(const ip4_addr_t* mask) {
  return __builtin_popcount(ip4_addr_get_u32(mask));
}

// The configured prefix length of an IPv6 address; lwIP itself has none.
int Ip6PrefixLength(const Stack& stack, const IpAddress& a) {
  for (const auto& p : stack.options().addresses) {
    if (p.address == a) return p.length;
  }
  if (ip6_addr_isloopback(reinterpret_cast<const ip6_addr_t*>(a.bytes.data()))) return 128;
  return 64;  // Link-local and addresses lwIP made itself.
}

void AddAddresses(const Stack& stack, const netif* nif, Interface* out) {
  if (!ip4_addr_isany_val(*netif_ip4_addr(nif))) {
    out->add_addresses(IpPrefix{FromIp4(netif_ip4_addr(nif)),
                                PrefixLength(netif_ip4_netmask(nif))}
                           .ToString());
  }
  for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; ++i) {
    if (!ip6_addr_isvalid(netif_ip6_addr_state(nif, i))) continue;
    IpAddress a = FromIp6(netif_ip6_addr(nif, i));
    out->add_addresses(IpPrefix{a, Ip6PrefixLength(stack, a)}.ToString());
  }
}

void AddCounters(const char* protocol, const stats_proto& s,
                 admin::v1::Stack* out) {
  const std::pair<const char*, STAT_COUNTER> fields[] = {
      {"xmit", s.xmit},     {"recv", s.recv},       {"fw", s.fw},
      {"drop", s.drop},     {"chkerr", s.chkerr},   {"lenerr", s.lenerr},
      {"memerr", s.memerr}, {"rterr", s.rterr},     {"proterr", s.proterr},
      {"opterr", s.opterr}, {"err", s.err},         {"cachehit", s.cachehit},
  };
  for (const auto& [name, value] : fields) {
    auto* c = out->add_counters();
    c->set_protocol(protocol);
    c->set_name(name);
    c->set_value(value);
  }
}

}  // namespace

admin::v1::Stack DescribeStack(const Stack& stack, const StackIdentity& id) {
  admin::v1::Stack out;
  const Stack::Options& options = stack.options();
  out.set_path(id.path);
  out.set_version(kStackdVersion);
  out.set_lwip_version(LWIP_VERSION_STRING);
  out.set_uptime_seconds(std::chrono::duration<double>(
                             std::chrono::steady_clock::now() - id.started)
                             .count());
  out.set_tap_name(options.link_name);
  out.set_mtu(options.mtu);
  out.set_mac(options.mac.ToString());

  Interface* tap = out.add_interfaces();
  tap->set_name(options.link_name);
  tap->set_kind("tap");
  tap->set_mtu(options.mtu);
  tap->set_mac(options.mac.ToString());
  tap->set_up(netif_is_up(stack.link_netifs().front()) &&
              netif_is_link_up(stack.link_netifs().front()));
  tap->set_netns(id.netns);
  for (const netif* nif : stack.link_netifs()) AddAddresses(stack, nif, tap);

  // lwIP's loopback netif (127.0.0.1, ::1).
  for (const netif* nif = netif_list; nif != nullptr; nif = nif->next) {
    if (nif->name[0] != 'l' || nif->name[1] != 'o') continue;
    Interface* lo = out.add_interfaces();
    lo->set_name("lo");
    lo->set_kind("loopback");
    lo->set_mtu(nif->mtu);
    lo->set_up(netif_is_up(nif));
    AddAddresses(stack, nif, lo);
  }

  // Connected prefixes, then default routes.
  for (const IpPrefix& p : options.addresses) {
    auto* r = out.add_routes();
    r->set_destination(p.Network().ToString());
    r->set_interface(options.link_name);
  }
  for (const IpAddress& gw : options.gateways) {
    auto* r = out.add_routes();
    r->set_destination(gw.family == AF_INET ? "0.0.0.0/0" : "::/0");
    r->set_gateway(gw.ToString());
    r->set_interface(options.link_name);
  }

  auto* link = out.add_counters();
  link->set_protocol("link");
  link->set_name("tx_dropped_by_tap");
  link->set_value(stack.tx_dropped());
  AddCounters("link", lwip_stats.link, &out);
  AddCounters("etharp", lwip_stats.etharp, &out);
  AddCounters("ip_frag", lwip_stats.ip_frag, &out);
  AddCounters("ip", lwip_stats.ip, &out);
  AddCounters("icmp", lwip_stats.icmp, &out);
  AddCounters("udp", lwip_stats.udp, &out);
  AddCounters("tcp", lwip_stats.tcp, &out);
  AddCounters("ip6", lwip_stats.ip6, &out);
  AddCounters("ip6_frag", lwip_stats.ip6_frag, &out);
  AddCounters("icmp6", lwip_stats.icmp6, &out);
  AddCounters("nd6", lwip_stats.nd6, &out);
  return out;
}

namespace {

std::string Endpoint(const socket::v1::Address& a) {
  IpAddress ip;
  ip.family = a.family();
  size_t n = std::min(a.ip().size(), ip.bytes.size());
  std::memcpy(ip.bytes.data(), a.ip().data(), n);
  std::string host = ip.ToString();
  if (a.family() == AF_INET6) host = absl::StrCat("[", host, "]");
  return absl::StrCat(host, ":", a.port());
}

}  // namespace

namespace {

socket::v1::InterfaceAddress* AddClientAddress(const IpPrefix& p, uint32_t index,
                                               socket::v1::Interface* out) {
  auto* a = out->add_addresses();
  a->mutable_address()->set_family(p.address.family);
  a->mutable_address()->set_ip(std::string(reinterpret_cast<const char*>(p.address.bytes.data()),
                                           p.address.family == AF_INET ? 4 : 16));
  if (p.address.family == AF_INET6 && p.address.bytes[0] == 0xfe &&
      (p.address.bytes[1] & 0xc0) == 0x80) {
    a->mutable_address()->set_scope_id(index);
  }
  a->set_prefix_length(static_cast<uint32_t>(p.length));
  return a;
}

// The addresses of one netif as prefixes.
std::vector<IpPrefix> Prefixes(const Stack& stack, const netif* nif) {
  std::vector<IpPrefix> out;
  if (!ip4_addr_isany_val(*netif_ip4_addr(nif))) {
    out.push_back({FromIp4(netif_ip4_addr(nif)), PrefixLength(netif_ip4_netmask(nif))});
  }
  for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; ++i) {
    if (!ip6_addr_isvalid(netif_ip6_addr_state(nif, i))) continue;
    IpAddress a = FromIp6(netif_ip6_addr(nif, i));
    out.push_back({a, Ip6PrefixLength(stack, a)});
  }
  return out;
}

}  // namespace

void DescribeInterfacesForClients(const Stack& stack, socket::v1::InterfaceList* out) {
  constexpr uint32_t kUp = 0x1, kBroadcast = 0x2, kLoopback = 0x8, kRunning = 0x40,
                     kMulticast = 0x1000;  // Linux's IFF_* values.
  const netif* primary = stack.link_netifs().front();
  auto* link = out->add_interfaces();
  link->set_name(stack.options().link_name.substr(0, 15));
  link->set_index(netif_get_index(primary));
  link->set_flags((netif_is_up(primary) ? kUp | kRunning : 0) | kBroadcast | kMulticast);
  link->set_mtu(primary->mtu);
  link->set_mac(std::string(reinterpret_cast<const char*>(primary->hwaddr), primary->hwaddr_len));
  for (const netif* nif : stack.link_netifs()) {
    for (const IpPrefix& p : Prefixes(stack, nif)) AddClientAddress(p, link->index(), link);
  }
  for (const netif* nif = netif_list; nif != nullptr; nif = nif->next) {
    if (nif->name[0] != 'l' || nif->name[1] != 'o') continue;
    auto* lo = out->add_interfaces();
    lo->set_name("lo");
    lo->set_index(netif_get_index(nif));
    lo->set_flags((netif_is_up(nif) ? kUp | kRunning : 0) | kLoopback);
    lo->set_mtu(nif->mtu ? nif->mtu : 65536);
    for (const IpPrefix& p : Prefixes(stack, nif)) AddClientAddress(p, lo->index(), lo);
  }
}

admin::v1::ListSocketsResponse DescribeSockets(const SocketTable& table) {
  admin::v1::ListSocketsResponse out;
  for (const SocketSummary& s : table.List()) {
    auto* entry = out.add_sockets();
    entry->set_id(s.id);
    entry->set_protocol(s.protocol);
    entry->set_family(s.family == AF_INET ? "inet" : "inet6");
    entry->set_state(s.state);
    for (const auto& a : s.local) entry->add_local(Endpoint(a));
    for (const auto& a : s.candidates) entry->add_candidates(Endpoint(a));
    entry->set_rx_dropped(s.rx_dropped);
    if (s.peer.port() != 0) entry->set_remote(Endpoint(s.peer));
    entry->set_owner_pid(s.owner_pid);
    entry->set_owner_uid(s.owner_uid);
    entry->set_bytes_in(s.bytes_in);
    entry->set_bytes_out(s.bytes_out);
    entry->set_rx_queued(s.rx_queued);
    entry->set_tx_queued(s.tx_queued);
  }
  return out;
}

}  // namespace stackd
