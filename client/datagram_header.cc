#include "client/datagram_header.h"

#include <netinet/in.h>

#include <cerrno>
#include <cstring>

namespace stackd::client {
namespace {

// Linux's minimum for an AF_INET6 address: sockaddr_in6 without scope id.
constexpr socklen_t kSin6LenRfc2133 = 24;

uint32_t LoadBe32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | p[3];
}

void StoreBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

bool IsV4Mapped(const uint8_t* ip) {
  static const uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(ip, kPrefix, sizeof(kPrefix)) == 0;
}

bool KnownFamily(uint8_t family) {
  return family == 0 || family == AF_INET || family == AF_INET6;
}

// Appends one control message; false if it does not fit.
bool PutControl(int level, int type, const void* data, size_t len,
                uint8_t* control, size_t control_len, size_t* used) {
  const size_t space = CMSG_SPACE(len);
  // The last message may go without its trailing padding, as the kernel's
  // put_cmsg() does.
  const size_t need = CMSG_LEN(len);
  if (*used + need > control_len) return false;
  cmsghdr c{};
  c.cmsg_len = CMSG_LEN(len);
  c.cmsg_level = level;
  c.cmsg_type = type;
  std::memcpy(control + *used, &c, sizeof(c));
  std::memcpy(control + *used + CMSG_LEN(0), data, len);
  *used += *used + space <= control_len ? space : need;
  return true;
}

}  // namespace

void EncodeDatagramHeader(const DatagramHeader& h,
                          uint8_t out[kDatagramHeaderBytes]) {
  std::memset(out, 0, kDatagramHeaderBytes);
  out[0] = kDatagramVersion;
  out[1] = h.flags;
  out[2] = h.family;
  out[3] = h.local_family;
  out[4] = static_cast<uint8_t>(h.port >> 8);
  out[5] = static_cast<uint8_t>(h.port);
  out[6] = static_cast<uint8_t>(h.error >> 8);
  out[7] = static_cast<uint8_t>(h.error);
  StoreBe32(out + 8, h.scope_id);
  StoreBe32(out + 12, h.ifindex);
  std::memcpy(out + 16, h.peer, 16);
  std::memcpy(out + 32, h.local, 16);
}

bool DecodeDatagramHeader(const uint8_t* in, size_t len, DatagramHeader* out) {
  if (in == nullptr || len < kDatagramHeaderBytes || in[0] != kDatagramVersion) {
    return false;
  }
  if (!KnownFamily(in[2]) || !KnownFamily(in[3])) return false;
  out->flags = in[1];
  out->family = in[2];
  out->local_family = in[3];
  out->port = static_cast<uint16_t>((in[4] << 8) | in[5]);
  out->error = static_cast<uint16_t>((in[6] << 8) | in[7]);
  out->scope_id = LoadBe32(in + 8);
  out->ifindex = LoadBe32(in + 12);
  std::memcpy(out->peer, in + 16, 16);
  std::memcpy(out->local, in + 32, 16);
  return true;
}

int SetDatagramDestination(const sockaddr* addr, socklen_t len, int domain,
                           DatagramHeader* h) {
  if (static_cast<int>(len) < 0) return EINVAL;
  if (len < sizeof(sa_family_t)) return EINVAL;
  sa_family_t family;
  std::memcpy(&family, addr, sizeof(family));
  if (domain == AF_INET6 && family == AF_UNSPEC) return 0;
  if (family == AF_INET || (domain == AF_INET && family == AF_UNSPEC)) {
    if (len < sizeof(sockaddr_in)) return EINVAL;
    sockaddr_in in;
    std::memcpy(&in, addr, sizeof(in));
    if (in.sin_port == 0) return EINVAL;
    h->port = ntohs(in.sin_port);
    h->scope_id = 0;
    std::memset(h->peer, 0, sizeof(h->peer));
    if (domain == AF_INET) {
      h->family = AF_INET;
      std::memcpy(h->peer, &in.sin_addr, 4);
    } else {
      h->family = AF_INET6;
      h->peer[10] = h->peer[11] = 0xff;
      std::memcpy(h->peer + 12, &in.sin_addr, 4);
    }
    return 0;
  }
  if (family != AF_INET6) return domain == AF_INET ? EAFNOSUPPORT : EINVAL;
  if (domain == AF_INET) return EAFNOSUPPORT;
  if (len < kSin6LenRfc2133) return EINVAL;
  sockaddr_in6 in6{};
  std::memcpy(&in6, addr, len < sizeof(in6) ? len : sizeof(in6));
  if (in6.sin6_port == 0) return EINVAL;
  h->family = AF_INET6;
  h->port = ntohs(in6.sin6_port);
  h->scope_id = len >= sizeof(sockaddr_in6) ? in6.sin6_scope_id : 0;
  std::memcpy(h->peer, &in6.sin6_addr, 16);
  return 0;
}

size_t MaxDatagramPayload(const DatagramHeader& h) {
  if (h.family == AF_INET6 && !IsV4Mapped(h.peer)) return kMaxUdpPayload6;
  return kMaxUdpPayload4;
}

socklen_t DatagramPeer(const DatagramHeader& h, sockaddr_storage* out) {
  std::memset(out, 0, sizeof(*out));
  if (h.family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(out);
    in->sin_family = AF_INET;
    in->sin_port = htons(h.port);
    std::memcpy(&in->sin_addr, h.peer, 4);
    return sizeof(sockaddr_in);
  }
  if (h.family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(out);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(h.port);
    std::memcpy(&in6->sin6_addr, h.peer, 16);
    in6->sin6_scope_id = h.scope_id;
    return sizeof(sockaddr_in6);
  }
  return 0;
}

size_t DatagramControl(const DatagramHeader& h, void* control,
                       size_t control_len, bool* truncated) {
  *truncated = false;
  if (control == nullptr) control_len = 0;
  auto* out = static_cast<uint8_t*>(control);
  size_t used = 0;
  // The local address as IPv4, if it is one (IPv4-mapped on an AF_INET6
  // socket).
  const bool local4 = h.local_family == AF_INET ||
                      (h.local_family == AF_INET6 && IsV4Mapped(h.local));
  if ((h.flags & kDatagramFlagPktInfo) != 0 && local4) {
    in_pktinfo info{};
    info.ipi_ifindex = static_cast<int>(h.ifindex);
    std::memcpy(&info.ipi_addr, h.local_family == AF_INET ? h.local : h.local + 12, 4);
    info.ipi_spec_dst = info.ipi_addr;
    if (!PutControl(IPPROTO_IP, IP_PKTINFO, &info, sizeof(info), out,
                    control_len, &used)) {
      *truncated = true;
    }
  }
  if ((h.flags & kDatagramFlagPktInfo6) != 0 && h.local_family == AF_INET6) {
    in6_pktinfo info{};
    std::memcpy(&info.ipi6_addr, h.local, 16);
    info.ipi6_ifindex = h.ifindex;
    if (!PutControl(IPPROTO_IPV6, IPV6_PKTINFO, &info, sizeof(info), out,
                    control_len, &used)) {
      *truncated = true;
    }
  }
  return used;
}

bool ParseDatagramMark(int value, DatagramMark* out) {
  if ((value & kDatagramMarkMask) != kDatagramMarkBase) return false;
  out->domain = (value & kDatagramMarkInet6) != 0 ? AF_INET6 : AF_INET;
  out->connected_limit = static_cast<size_t>(value & 0xffff);
  return true;
}

}  // namespace stackd::client
