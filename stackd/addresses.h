// Value types for the addresses stackd is configured with: IP addresses,
// prefixes (CIDR) and Ethernet MAC addresses, parsed from and printed as the
// text an operator types. Free of lwIP so that flag parsing, the admin
// service and tests can use them.
#ifndef STACKD_ADDRESSES_H_
#define STACKD_ADDRESSES_H_

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace stackd {

// An IPv4 or IPv6 address in network byte order.
struct IpAddress {
  int family = AF_UNSPEC;           // AF_INET or AF_INET6.
  std::array<uint8_t, 16> bytes{};  // IPv4 uses the first 4 bytes.

  // Parses "10.0.0.1" or "fd00::1". InvalidArgument otherwise.
  static absl::StatusOr<IpAddress> Parse(absl::string_view text);
  std::string ToString() const;
  bool operator==(const IpAddress& other) const {
    return family == other.family && bytes == other.bytes;
  }
};

// An address with a prefix length, as in "10.42.0.2/24".
struct IpPrefix {
  IpAddress address;
  int length = 0;

  // Parses "ADDR/LEN"; LEN must be 0..32 for IPv4 and 0..128 for IPv6.
  // Without "/LEN" the prefix is a host route (32 or 128). InvalidArgument
  // with the reason otherwise.
  static absl::StatusOr<IpPrefix> Parse(absl::string_view text);
  std::string ToString() const;
  // The address with the host bits cleared ("10.42.0.0/24").
  IpPrefix Network() const;
};

// A 48-bit Ethernet address.
struct MacAddress {
  std::array<uint8_t, 6> bytes{};

  // Parses "02:00:5e:10:00:01" (hex pairs separated by ':' or '-').
  // Rejects multicast addresses (low bit of the first byte set).
  static absl::StatusOr<MacAddress> Parse(absl::string_view text);
  // A locally administered unicast address derived from `seed` (stable for
  // the same seed, so a stack keeps its MAC across restarts).
  static MacAddress FromSeed(absl::string_view seed);
  std::string ToString() const;
};

}  // namespace stackd

#endif  // STACKD_ADDRESSES_H_
