#include "client/interfaces.h"

#include <net/if_arp.h>
#include <netinet/in.h>
#include <netpacket/packet.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "client/control.h"

namespace stackd::client {
namespace {

using socket::v1::InterfaceList;

// Each sockaddr in a laid-out list starts at a multiple of this.
constexpr size_t kAlign = alignof(sockaddr_storage);

size_t Aligned(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

template <typename T>
std::string Bytes(const T& value) {
  return std::string(reinterpret_cast<const char*>(&value), sizeof(value));
}

// `bits` leading one bits in `len` bytes.
void PrefixMask(uint32_t bits, uint8_t* mask, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    const uint32_t here = bits >= 8 ? 8 : bits;
    mask[i] = static_cast<uint8_t>(here == 0 ? 0 : 0xff << (8 - here));
    bits -= here;
  }
}

// The sockaddr of a non-null kernel address, by its family; empty if the
// family is not one this file copies.
std::string KernelSockaddr(const sockaddr* sa) {
  if (sa == nullptr) return "";
  switch (sa->sa_family) {
    case AF_INET:
      return std::string(reinterpret_cast<const char*>(sa), sizeof(sockaddr_in));
    case AF_INET6:
      return std::string(reinterpret_cast<const char*>(sa), sizeof(sockaddr_in6));
    default:
      return "";
  }
}

}  // namespace

int StackInterfaces(const char* path, InterfaceList* list) {
  socket::v1::Request request;
  request.mutable_interfaces();
  socket::v1::Response response;
  if (int error = ControlCall(path, &request, -1, &response, nullptr)) {
    switch (error) {
      case ENOENT:
      case ENOTDIR:
        return ENOENT;
      case ECONNREFUSED:
      case ENOTSOCK:
      case EPROTOTYPE:
      case ECONNRESET:
      case EPROTO:
        return ENOTSUP;
      default:
        return error;
    }
  }
  // A stackd built before the request existed parses it as one without an
  // operation (EINVAL); one built with it in the proto but without a
  // handler takes it for a request about a socket and misses the fd
  // (EBADF).
  if ((response.error() == EINVAL || response.error() == EBADF) &&
      !response.has_interfaces()) {
    return EOPNOTSUPP;
  }
  if (response.error() != 0) {
    return response.error() > 0 && response.error() < 4096 ? response.error()
                                                           : EPROTO;
  }
  *list = response.interfaces();
  return 0;
}

void AppendStackEntries(const InterfaceList& list, bool inet, bool inet6,
                        std::vector<IfAddrEntry>* out) {
  for (const socket::v1::Interface& nif : list.interfaces()) {
    if (nif.name().empty() || nif.name().size() >= IF_NAMESIZE) continue;
    IfAddrEntry link;
    link.name = nif.name();
    link.flags = nif.flags();
    sockaddr_ll ll{};
    ll.sll_family = AF_PACKET;
    ll.sll_ifindex = static_cast<int>(nif.index());
    ll.sll_hatype = nif.mac().size() == 6 ? ARPHRD_ETHER
                    : (nif.flags() & IFF_LOOPBACK) != 0 ? ARPHRD_LOOPBACK
                                                        : ARPHRD_NONE;
    const size_t halen =
        nif.mac().size() <= sizeof(ll.sll_addr) ? nif.mac().size() : 0;
    ll.sll_halen = static_cast<unsigned char>(halen);
    std::memcpy(ll.sll_addr, nif.mac().data(), halen);
    link.addr = Bytes(ll);
    out->push_back(link);

    for (const socket::v1::InterfaceAddress& a : nif.addresses()) {
      const socket::v1::Address& ip = a.address();
      IfAddrEntry e;
      e.name = nif.name();
      e.flags = nif.flags();
      if (ip.family() == AF_INET && inet && ip.ip().size() == 4 &&
          a.prefix_length() <= 32) {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        std::memcpy(&addr.sin_addr, ip.ip().data(), 4);
        sockaddr_in mask{};
        mask.sin_family = AF_INET;
        PrefixMask(a.prefix_length(), reinterpret_cast<uint8_t*>(&mask.sin_addr), 4);
        e.addr = Bytes(addr);
        e.netmask = Bytes(mask);
        if ((nif.flags() & IFF_BROADCAST) != 0) {
          sockaddr_in broadcast = addr;
          broadcast.sin_addr.s_addr |= ~mask.sin_addr.s_addr;
          e.broadaddr = Bytes(broadcast);
        }
      } else if (ip.family() == AF_INET6 && inet6 && ip.ip().size() == 16 &&
                 a.prefix_length() <= 128) {
        sockaddr_in6 addr{};
        addr.sin6_family = AF_INET6;
        std::memcpy(&addr.sin6_addr, ip.ip().data(), 16);
        addr.sin6_scope_id = ip.scope_id();
        sockaddr_in6 mask{};
        mask.sin6_family = AF_INET6;
        PrefixMask(a.prefix_length(), mask.sin6_addr.s6_addr, 16);
        e.addr = Bytes(addr);
        e.netmask = Bytes(mask);
      } else {
        continue;
      }
      out->push_back(e);
    }
  }
}

void AppendKernelEntries(const ifaddrs* list, bool inet, bool inet6,
                         std::vector<IfAddrEntry>* out) {
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_name == nullptr) continue;
    const int family = i->ifa_addr->sa_family;
    if (!((family == AF_INET && inet) || (family == AF_INET6 && inet6))) {
      continue;
    }
    IfAddrEntry e;
    e.name = i->ifa_name;
    e.flags = i->ifa_flags;
    e.addr = KernelSockaddr(i->ifa_addr);
    e.netmask = KernelSockaddr(i->ifa_netmask);
    e.broadaddr = KernelSockaddr(i->ifa_broadaddr);
    out->push_back(e);
  }
}

int LayOutIfAddrs(const std::vector<IfAddrEntry>& entries, ifaddrs** out) {
  *out = nullptr;
  if (entries.empty()) return 0;
  size_t total = Aligned(entries.size() * sizeof(ifaddrs));
  for (const IfAddrEntry& e : entries) {
    total += Aligned(e.addr.size()) + Aligned(e.netmask.size()) +
             Aligned(e.broadaddr.size()) + Aligned(e.name.size() + 1);
  }
  char* block = static_cast<char*>(std::calloc(1, total));
  if (block == nullptr) return ENOMEM;
  auto* nodes = reinterpret_cast<ifaddrs*>(block);
  char* data = block + Aligned(entries.size() * sizeof(ifaddrs));
  auto place = [&data](const std::string& bytes) -> char* {
    if (bytes.empty()) return nullptr;
    char* at = data;
    std::memcpy(at, bytes.data(), bytes.size());
    data += Aligned(bytes.size());
    return at;
  };
  for (size_t i = 0; i < entries.size(); ++i) {
    const IfAddrEntry& e = entries[i];
    ifaddrs& node = nodes[i];
    node.ifa_next = i + 1 < entries.size() ? &nodes[i + 1] : nullptr;
    node.ifa_flags = e.flags;
    node.ifa_addr = reinterpret_cast<sockaddr*>(place(e.addr));
    node.ifa_netmask = reinterpret_cast<sockaddr*>(place(e.netmask));
    node.ifa_broadaddr = reinterpret_cast<sockaddr*>(place(e.broadaddr));
    node.ifa_data = nullptr;
    node.ifa_name = place(e.name + std::string(1, '\0'));
  }
  *out = nodes;
  return 0;
}

int NameIndex(const InterfaceList& list, struct if_nameindex** out) {
  const size_t n = static_cast<size_t>(list.interfaces_size());
  auto* array =
      static_cast<struct if_nameindex*>(std::calloc(n + 1, sizeof(struct if_nameindex)));
  if (array == nullptr) return ENOMEM;
  size_t used = 0;
  for (const socket::v1::Interface& nif : list.interfaces()) {
    if (nif.name().empty() || nif.index() == 0) continue;
    char* name = strdup(nif.name().c_str());
    if (name == nullptr) {
      for (size_t i = 0; i < used; ++i) std::free(array[i].if_name);
      std::free(array);
      return ENOMEM;
    }
    array[used].if_index = nif.index();
    array[used].if_name = name;
    ++used;
  }
  *out = array;
  return 0;
}

unsigned int IndexOf(const InterfaceList& list, const char* name) {
  if (name == nullptr) return 0;
  for (const socket::v1::Interface& nif : list.interfaces()) {
    if (nif.name() == name) return nif.index();
  }
  return 0;
}

const std::string* NameOf(const InterfaceList& list, unsigned int index) {
  for (const socket::v1::Interface& nif : list.interfaces()) {
    if (index != 0 && nif.index() == index) return &nif.name();
  }
  return nullptr;
}

}  // namespace stackd::client
