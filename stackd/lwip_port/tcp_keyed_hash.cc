// The TCP numbers an attacker must not guess, all from one keyed hash
// (SipHash-2-4 over a connection's addresses and ports) under one secret:
//
// Initial sequence numbers as RFC 6528 asks: ISN = M + F(4-tuple, secret),
// where M is a clock that ticks every 4 microseconds and F is SipHash-2-4
// (libsodium's crypto_shorthash) keyed with a secret drawn at start. An
// observer who sees one connection's ISN learns nothing of another's.
// SYN cookies (lwIP patch 0008) hash under the same secret, with the
// peer's ISN and a coarse clock instead of M, and so does the
// per-destination offset of ephemeral ports (RFC 6056 3.3.3, patch 0009)
// and the choice of a SO_REUSEPORT group's member for a connection, and
// the offset of the TCP timestamp clock per address pair (patch 0021).
#include <sodium.h>

#include <chrono>
#include <cstdint>
#include <cstring>

#include "lwip/ip_addr.h"
#include "lwip_hooks.h"
#include "stackd/lwip_port/sys_arch.h"

namespace stackd {
namespace {

struct IsnSecret {
  IsnSecret() {
    if (sodium_init() < 0) std::abort();  // Only if the system has no randomness at all.
    crypto_shorthash_keygen(key);
  }
  unsigned char key[crypto_shorthash_KEYBYTES];
};

const IsnSecret& Secret() {
  static const IsnSecret* secret = new IsnSecret();
  return *secret;
}

// Appends `a` as a family byte and 16 address bytes.
unsigned char* PutAddress(unsigned char* out, const ip_addr_t* a) {
  std::memset(out, 0, 17);
  if (IP_IS_V6(a)) {
    out[0] = 6;
    std::memcpy(out + 1, ip_2_ip6(a)->addr, 16);
  } else {
    out[0] = 4;
    std::memcpy(out + 1, &ip_2_ip4(a)->addr, 4);
  }
  return out + 17;
}

// SipHash-2-4 under the secret of: a tag, both addresses and ports, and
// `extra` (up to 8 bytes).
uint64_t HashConnection(unsigned char tag, const ip_addr_t* local_ip, uint16_t local_port,
                        const ip_addr_t* remote_ip, uint16_t remote_port,
                        const unsigned char* extra, size_t extra_len) {
  unsigned char input[1 + 2 * 17 + 4 + 8] = {tag};
  unsigned char* at = PutAddress(input + 1, local_ip);
  at = PutAddress(at, remote_ip);
  at[0] = static_cast<unsigned char>(local_port >> 8);
  at[1] = static_cast<unsigned char>(local_port);
  at[2] = static_cast<unsigned char>(remote_port >> 8);
  at[3] = static_cast<unsigned char>(remote_port);
  at += 4;
  if (extra_len != 0) std::memcpy(at, extra, extra_len);
  at += extra_len;
  unsigned char hash[crypto_shorthash_BYTES];
  crypto_shorthash(hash, input, static_cast<unsigned long long>(at - input), Secret().key);
  uint64_t out;
  std::memcpy(&out, hash, sizeof(out));
  return out;
}

uint32_t TcpIsn(const ip_addr_t* local_ip, uint16_t local_port, const ip_addr_t* remote_ip,
                uint16_t remote_port) {
  const auto f = static_cast<uint32_t>(
      HashConnection('I', local_ip, local_port, remote_ip, remote_port, nullptr, 0));
  const auto now = std::chrono::steady_clock::now().time_since_epoch();
  const auto m = static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(now).count() / 4);
  return m + f;
}

uint32_t TcpSynCookie(const ip_addr_t* local_ip, uint16_t local_port, const ip_addr_t* remote_ip,
                      uint16_t remote_port, uint32_t peer_isn, uint32_t counter) {
  unsigned char extra[8];
  std::memcpy(extra, &peer_isn, 4);
  std::memcpy(extra + 4, &counter, 4);
  return static_cast<uint32_t>(HashConnection('C', local_ip, local_port, remote_ip, remote_port,
                                              extra, sizeof(extra)));
}

uint32_t TcpPortOffset(const ip_addr_t* local_ip, const ip_addr_t* remote_ip,
                       uint16_t remote_port) {
  return static_cast<uint32_t>(
      HashConnection('P', local_ip, 0, remote_ip, remote_port, nullptr, 0));
}

// As Linux's secure_tcp_ts_off(): one offset per address pair, so that
// TSval tells nothing of the clock and links no connections of different
// pairs, while PAWS still works across connections of one pair.
uint32_t TcpTimestampOffset(const ip_addr_t* local_ip, const ip_addr_t* remote_ip) {
  return static_cast<uint32_t>(HashConnection('T', local_ip, 0, remote_ip, 0, nullptr, 0));
}

uint32_t TcpReuseportHash(const ip_addr_t* local_ip, uint16_t local_port,
                          const ip_addr_t* remote_ip, uint16_t remote_port) {
  return static_cast<uint32_t>(
      HashConnection('R', local_ip, local_port, remote_ip, remote_port, nullptr, 0));
}

}  // namespace
}  // namespace stackd

extern "C" uint32_t stackd_tcp_reuseport_hash(const ip_addr_t* local_ip, uint16_t local_port,
                                              const ip_addr_t* remote_ip, uint16_t remote_port) {
  return stackd::TcpReuseportHash(local_ip, local_port, remote_ip, remote_port);
}

extern "C" uint32_t stackd_tcp_ts_offset(const ip_addr_t* local_ip, const ip_addr_t* remote_ip) {
  return stackd::TcpTimestampOffset(local_ip, remote_ip);
}

extern "C" uint32_t stackd_tcp_port_offset(const ip_addr_t* local_ip, const ip_addr_t* remote_ip,
                                           uint16_t remote_port) {
  return stackd::TcpPortOffset(local_ip, remote_ip, remote_port);
}

extern "C" uint32_t stackd_tcp_syncookie(const ip_addr_t* local_ip, uint16_t local_port,
                                         const ip_addr_t* remote_ip, uint16_t remote_port,
                                         uint32_t peer_isn, uint32_t counter) {
  return stackd::TcpSynCookie(local_ip, local_port, remote_ip, remote_port, peer_isn, counter);
}

extern "C" uint32_t stackd_tcp_isn(const ip_addr_t* local_ip, uint16_t local_port,
                                   const ip_addr_t* remote_ip, uint16_t remote_port) {
  return stackd::TcpIsn(local_ip, local_port, remote_ip, remote_port);
}
