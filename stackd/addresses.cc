#include "stackd/addresses.h"

#include <arpa/inet.h>

#include <cstdio>
#include <functional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace stackd {

absl::StatusOr<IpAddress> IpAddress::Parse(absl::string_view text) {
  std::string s(text);
  IpAddress addr;
  if (inet_pton(AF_INET, s.c_str(), addr.bytes.data()) == 1) {
    addr.family = AF_INET;
    return addr;
  }
  if (inet_pton(AF_INET6, s.c_str(), addr.bytes.data()) == 1) {
    addr.family = AF_INET6;
    return addr;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", text, "' is not an IPv4 or IPv6 address"));
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = "";
  if (family != AF_INET && family != AF_INET6) return "";
  inet_ntop(family, bytes.data(), buf, sizeof(buf));
  return buf;
}

absl::StatusOr<IpPrefix> IpPrefix::Parse(absl::string_view text) {
  size_t slash = text.find('/');
  auto addr = IpAddress::Parse(text.substr(0, slash));
  if (!addr.ok()) return addr.status();
  int max_len = addr->family == AF_INET ? 32 : 128;
  IpPrefix prefix{*addr, max_len};
  if (slash == absl::string_view::npos) return prefix;
  absl::string_view len_text = text.substr(slash + 1);
  if (!absl::SimpleAtoi(len_text, &prefix.length) || prefix.length < 0 ||
      prefix.length > max_len || len_text.empty() ||
      len_text.find_first_not_of("0123456789") != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "': prefix length must be 0 to ", max_len));
  }
  return prefix;
}

std::string IpPrefix::ToString() const {
  return absl::StrCat(address.ToString(), "/", length);
}

IpPrefix IpPrefix::Network() const {
  IpPrefix net = *this;
  int total = address.family == AF_INET ? 32 : 128;
  for (int bit = length; bit < total; ++bit) {
    net.address.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
  }
  return net;
}

absl::StatusOr<MacAddress> MacAddress::Parse(absl::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a MAC address: ", why));
  };
  if (text.size() != 17) return bad("expected six hex pairs like 02:00:00:00:00:01");
  MacAddress mac;
  for (int i = 0; i < 6; ++i) {
    if (i > 0 && text[i * 3 - 1] != ':' && text[i * 3 - 1] != '-') {
      return bad("pairs must be separated by ':'");
    }
    int value = 0;
    if (!absl::ascii_isxdigit(text[i * 3]) ||
        !absl::ascii_isxdigit(text[i * 3 + 1]) ||
        !absl::SimpleHexAtoi(text.substr(i * 3, 2), &value)) {
      return bad("not hexadecimal");
    }
    mac.bytes[i] = static_cast<uint8_t>(value);
  }
  if (mac.bytes[0] & 1) return bad("multicast addresses cannot name an interface");
  return mac;
}

MacAddress MacAddress::FromSeed(absl::string_view seed) {
  // FNV-1a: stable across runs and builds, unlike std::hash.
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : seed) {
    h = (h ^ c) * 1099511628211ull;
  }
  MacAddress mac;
  for (int i = 0; i < 6; ++i) mac.bytes[i] = static_cast<uint8_t>(h >> (8 * i));
  mac.bytes[0] = static_cast<uint8_t>((mac.bytes[0] & 0xfe) | 0x02);
  return mac;
}

std::string MacAddress::ToString() const {
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1],
                         bytes[2], bytes[3], bytes[4], bytes[5]);
}

}  // namespace stackd
