// The hosts file (/etc/hosts, hosts(5)) as the library's resolver reads it
// before asking DNS: "ADDRESS NAME [ALIAS...]" lines, '#' to the end of a
// line is a comment, IPv4 and IPv6 addresses, names compared ASCII
// case-insensitively (a final '.' on the name looked up is ignored).
// Lines that do not parse are skipped, as glibc skips them. Like glibc with
// "multi on" (Debian's host.conf), a name's addresses are collected from
// every line that names it.
//
// Thread: any; no state.
#ifndef CLIENT_RESOLVER_HOSTS_H_
#define CLIENT_RESOLVER_HOSTS_H_

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace stackd::client {

// An IPv4 or IPv6 address, network order.
struct HostAddress {
  int family = 0;                   // AF_INET or AF_INET6.
  std::array<uint8_t, 16> bytes{};  // IPv4 in the first 4 bytes.
  uint32_t scope_id = 0;            // IPv6 only.

  bool operator==(const HostAddress& other) const {
    return family == other.family && bytes == other.bytes &&
           scope_id == other.scope_id;
  }
  // The bytes that count: 4 or 16.
  size_t size() const { return family == AF_INET6 ? 16 : 4; }
};

inline constexpr char kHostsPath[] = "/etc/hosts";
// Larger hosts files are read up to this size.
inline constexpr size_t kMaxHostsFileBytes = 16 << 20;

// What the hosts file says about one name.
struct HostsMatch {
  std::string canonical;               // The first name of the first line.
  std::vector<std::string> aliases;    // The other names of those lines.
  std::vector<HostAddress> addresses;  // In file order, no duplicates.
};

// Looks `name` up in `hosts` (the file's text): addresses of the families
// asked for (`inet`, `inet6`). True if there is at least one.
bool LookupHostsByName(std::string_view hosts, std::string_view name,
                       bool inet, bool inet6, HostsMatch* out);

// The first name of the first line for `address` (an IPv4-mapped IPv6
// address also matches its IPv4 line). True if there is one.
bool LookupHostsByAddress(std::string_view hosts, const HostAddress& address,
                          std::string* name);

// The file at `path`, at most kMaxHostsFileBytes of it; "" if it cannot be
// read (no hosts file means no entries, as for glibc).
std::string ReadHostsFile(const char* path);

}  // namespace stackd::client

#endif  // CLIENT_RESOLVER_HOSTS_H_
