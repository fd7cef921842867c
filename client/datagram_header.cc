#include "client/datagram_header.h"

#include <netinet/in.h>
#include <sys/time.h>
#include <time.h>

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
  out[48] = h.more_flags;
  out[49] = h.ttl;
  out[50] = h.tos;
  out[52] = static_cast<uint8_t>(h.local_port >> 8);
  out[53] = static_cast<uint8_t>(h.local_port);
  StoreBe32(out + 56, static_cast<uint32_t>(h.time_ns >> 32));
  StoreBe32(out + 60, static_cast<uint32_t>(h.time_ns));
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
  out->more_flags = in[48];
  out->ttl = in[49];
  out->tos = in[50];
  out->local_port = static_cast<uint16_t>((in[52] << 8) | in[53]);
  out->time_ns = (uint64_t{LoadBe32(in + 56)} << 32) | LoadBe32(in + 60);
  return true;
}

int SetDatagramDestination(const sockaddr* addr, socklen_t len, int domain,
                           DatagramHeader* h, bool any_port) {
  if (static_cast<int>(len) < 0) return EINVAL;
  if (len < sizeof(sa_family_t)) return EINVAL;
  sa_family_t family;
  std::memcpy(&family, addr, sizeof(family));
  if (domain == AF_INET6 && family == AF_UNSPEC) return 0;
  if (family == AF_INET || (domain == AF_INET && family == AF_UNSPEC)) {
    if (len < sizeof(sockaddr_in)) return EINVAL;
    sockaddr_in in;
    std::memcpy(&in, addr, sizeof(in));
    if (in.sin_port == 0 && !any_port) return EINVAL;
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
  if (in6.sin6_port == 0 && !any_port) return EINVAL;
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
  auto put = [&](int level, int type, const void* data, size_t len) {
    if (!PutControl(level, type, data, len, out, control_len, &used)) *truncated = true;
  };
  if ((h.flags & kDatagramFlagTimestamp) != 0) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(h.time_ns / 1000000000);
    tv.tv_usec = static_cast<suseconds_t>((h.time_ns % 1000000000) / 1000);
    put(SOL_SOCKET, SCM_TIMESTAMP, &tv, sizeof(tv));
  }
  if ((h.more_flags & kDatagramMoreTimestampNs) != 0) {
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(h.time_ns / 1000000000);
    ts.tv_nsec = static_cast<long>(h.time_ns % 1000000000);
    put(SOL_SOCKET, SCM_TIMESTAMPNS, &ts, sizeof(ts));
  }
  // The local address as IPv4, if it is one (IPv4-mapped on an AF_INET6
  // socket).
  const bool local4 = h.local_family == AF_INET ||
                      (h.local_family == AF_INET6 && IsV4Mapped(h.local));
  const uint8_t* local4_bytes = h.local_family == AF_INET ? h.local : h.local + 12;
  if ((h.flags & kDatagramFlagPktInfo6) != 0 && h.local_family == AF_INET6) {
    in6_pktinfo info{};
    std::memcpy(&info.ipi6_addr, h.local, 16);
    info.ipi6_ifindex = h.ifindex;
    put(IPPROTO_IPV6, IPV6_PKTINFO, &info, sizeof(info));
  }
  if (local4) {
    if ((h.flags & kDatagramFlagPktInfo) != 0) {
      in_pktinfo info{};
      info.ipi_ifindex = static_cast<int>(h.ifindex);
      std::memcpy(&info.ipi_addr, local4_bytes, 4);
      info.ipi_spec_dst = info.ipi_addr;
      put(IPPROTO_IP, IP_PKTINFO, &info, sizeof(info));
    }
    if ((h.flags & kDatagramFlagTtl) != 0) {
      const int ttl = h.ttl;
      put(IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl));
    }
    if ((h.flags & kDatagramFlagTos) != 0) {
      const uint8_t tos = h.tos;  // one byte, as Linux's ip_cmsg_recv_tos
      put(IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
    }
    if ((h.more_flags & kDatagramMoreOrigDst) != 0) {
      sockaddr_in dst{};
      dst.sin_family = AF_INET;
      dst.sin_port = htons(h.local_port);
      std::memcpy(&dst.sin_addr, local4_bytes, 4);
      put(IPPROTO_IP, IP_ORIGDSTADDR, &dst, sizeof(dst));
    }
  } else if (h.local_family == AF_INET6) {
    if ((h.flags & kDatagramFlagHopLimit) != 0) {
      const int hops = h.ttl;
      put(IPPROTO_IPV6, IPV6_HOPLIMIT, &hops, sizeof(hops));
    }
    if ((h.flags & kDatagramFlagTclass) != 0) {
      const int tclass = h.tos;
      put(IPPROTO_IPV6, IPV6_TCLASS, &tclass, sizeof(tclass));
    }
    if ((h.more_flags & kDatagramMoreOrigDst6) != 0) {
      sockaddr_in6 dst{};
      dst.sin6_family = AF_INET6;
      dst.sin6_port = htons(h.local_port);
      std::memcpy(&dst.sin6_addr, h.local, 16);
      put(IPPROTO_IPV6, IPV6_ORIGDSTADDR, &dst, sizeof(dst));
    }
  }
  return used;
}

bool ParseDatagramMark(int value, DatagramMark* out) {
  if ((value & kDatagramMarkMask) != kDatagramMarkBase) return false;
  out->domain = (value & kDatagramMarkInet6) != 0 ? AF_INET6 : AF_INET;
  out->connected_limit = static_cast<size_t>(value & 0xffff);
  out->ping = (value & kDatagramMarkPing) != 0;
  return true;
}

}  // namespace stackd::client
