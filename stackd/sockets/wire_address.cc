#include "stackd/sockets/wire_address.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace stackd {

int FromWire(const socket::v1::Address& in, int socket_family, bool v6only,
             ip_addr_t* ip, uint16_t* port) {
  const std::string& bytes = in.ip();
  if (in.port() > 0xffff) return EINVAL;
  *port = static_cast<uint16_t>(in.port());
  if (in.family() == AF_INET) {
    if (socket_family != AF_INET) return EAFNOSUPPORT;
    if (bytes.size() != 4) return EINVAL;
    ip_addr_set_zero_ip4(ip);
    std::memcpy(&ip_2_ip4(ip)->addr, bytes.data(), 4);
    return 0;
  }
  if (in.family() != AF_INET6) return EAFNOSUPPORT;
  if (socket_family != AF_INET6) return EAFNOSUPPORT;
  if (bytes.size() != 16) return EINVAL;
  static const uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0,
                                            0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(bytes.data(), kMappedPrefix, 12) == 0) {
    if (v6only) return ENETUNREACH;
    ip_addr_set_zero_ip4(ip);
    std::memcpy(&ip_2_ip4(ip)->addr, bytes.data() + 12, 4);
    return 0;
  }
  ip_addr_set_zero_ip6(ip);
  std::memcpy(ip_2_ip6(ip)->addr, bytes.data(), 16);
  if (ip6_addr_islinklocal(ip_2_ip6(ip))) {
    ip6_addr_set_zone(ip_2_ip6(ip), static_cast<u8_t>(in.scope_id()));
  }
  // "::" on a dual-stack socket means every address of both families.
  if (!v6only && ip6_addr_isany(ip_2_ip6(ip))) {
    *ip = *IP_ANY_TYPE;
  }
  return 0;
}

socket::v1::Address ToWire(const ip_addr_t& ip, uint16_t port,
                           int socket_family) {
  socket::v1::Address out;
  out.set_port(port);
  if (socket_family == AF_INET) {
    out.set_family(AF_INET);
    uint32_t v4 = IP_IS_V4(&ip) ? ip_2_ip4(&ip)->addr : 0;
    out.set_ip(std::string(reinterpret_cast<const char*>(&v4), 4));
    return out;
  }
  out.set_family(AF_INET6);
  uint8_t bytes[16] = {};
  if (IP_IS_V4(&ip) && !IP_IS_ANY_TYPE_VAL(ip)) {
    bytes[10] = bytes[11] = 0xff;
    std::memcpy(bytes + 12, &ip_2_ip4(&ip)->addr, 4);
  } else if (IP_IS_V6(&ip)) {
    std::memcpy(bytes, ip_2_ip6(&ip)->addr, 16);
    if (ip6_addr_has_zone(ip_2_ip6(&ip))) {
      out.set_scope_id(ip6_addr_zone(ip_2_ip6(&ip)));
    }
  }
  out.set_ip(std::string(reinterpret_cast<const char*>(bytes), 16));
  return out;
}

socket::v1::Address InFamily(const socket::v1::Address& a, int socket_family) {
  if (socket_family != AF_INET6 || a.family() != AF_INET || a.ip().size() != 4) return a;
  socket::v1::Address mapped = a;
  mapped.set_family(AF_INET6);
  mapped.set_ip(std::string("\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) + a.ip());
  return mapped;
}

}  // namespace stackd
