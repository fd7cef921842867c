#include "client/address.h"

#include <netinet/in.h>

#include <cerrno>
#include <cstring>

namespace stackd::client {

int AddressFromSockaddr(const sockaddr* addr, socklen_t len, AddressUse use,
                        socket::v1::Address* out) {
  // As the kernel's move_addr_to_kernel() and inet{,6}_{bind,connect}.
  if (static_cast<int>(len) < 0 || len > sizeof(sockaddr_storage)) {
    return EINVAL;
  }
  if (len == 0) return EINVAL;
  if (addr == nullptr) return EFAULT;
  if (len < sizeof(sa_family_t)) return EINVAL;
  sa_family_t family;
  std::memcpy(&family, addr, sizeof(family));
  out->Clear();
  switch (family) {
    case AF_UNSPEC:
      if (use != AddressUse::kBind) return EAFNOSUPPORT;
      if (len < sizeof(sockaddr_in)) return EINVAL;
      {
        sockaddr_in in;
        std::memcpy(&in, addr, sizeof(in));
        if (in.sin_addr.s_addr != htonl(INADDR_ANY)) return EAFNOSUPPORT;
        out->set_family(AF_INET);
        out->set_ip(&in.sin_addr, sizeof(in.sin_addr));
        out->set_port(ntohs(in.sin_port));
      }
      return 0;
    case AF_INET: {
      if (len < sizeof(sockaddr_in)) return EINVAL;
      sockaddr_in in;
      std::memcpy(&in, addr, sizeof(in));
      out->set_family(AF_INET);
      out->set_ip(&in.sin_addr, sizeof(in.sin_addr));
      out->set_port(ntohs(in.sin_port));
      return 0;
    }
    case AF_INET6: {
      if (len < kSin6LenRfc2133) return EINVAL;
      sockaddr_in6 in6{};
      std::memcpy(&in6, addr, len < sizeof(in6) ? len : sizeof(in6));
      out->set_family(AF_INET6);
      out->set_ip(&in6.sin6_addr, sizeof(in6.sin6_addr));
      out->set_port(ntohs(in6.sin6_port));
      out->set_flowinfo(ntohl(in6.sin6_flowinfo));
      if (len >= sizeof(sockaddr_in6)) out->set_scope_id(in6.sin6_scope_id);
      return 0;
    }
    default:
      return EAFNOSUPPORT;
  }
}

socklen_t SockaddrSize(const socket::v1::Address& address) {
  if (address.port() > 0xffff) return 0;
  if (address.family() == AF_INET && address.ip().size() == 4) {
    return sizeof(sockaddr_in);
  }
  if (address.family() == AF_INET6 && address.ip().size() == 16) {
    return sizeof(sockaddr_in6);
  }
  return 0;
}

int AddressToSockaddr(const socket::v1::Address& address, sockaddr* addr,
                      socklen_t* len) {
  if (len == nullptr) return EFAULT;
  if (static_cast<int>(*len) < 0) return EINVAL;
  if (addr == nullptr && *len != 0) return EFAULT;
  const socklen_t full = SockaddrSize(address);
  if (full == 0) return EPROTO;
  sockaddr_storage storage{};
  if (address.family() == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(address.port()));
    std::memcpy(&in->sin_addr, address.ip().data(), 4);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(address.port()));
    in6->sin6_flowinfo = htonl(address.flowinfo());
    std::memcpy(&in6->sin6_addr, address.ip().data(), 16);
    in6->sin6_scope_id = address.scope_id();
  }
  if (*len > 0) std::memcpy(addr, &storage, *len < full ? *len : full);
  *len = full;
  return 0;
}

}  // namespace stackd::client
