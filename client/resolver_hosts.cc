#include "client/resolver_hosts.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdio>
#include <cstring>

#include "client/resolver_message.h"

namespace stackd::client {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// One line of the file, split into whitespace-separated fields (at most
// kMaxFields; the rest are ignored).
constexpr size_t kMaxFields = 64;

struct Line {
  std::string_view fields[kMaxFields];
  size_t count = 0;
};

// Calls `visit(line)` for each line with an address and a name, in order,
// until it returns false.
template <typename Visit>
void ForEachLine(std::string_view text, Visit visit) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    const size_t hash = line.find('#');
    if (hash != std::string_view::npos) line = line.substr(0, hash);
    Line fields;
    size_t i = 0;
    while (i < line.size() && fields.count < kMaxFields) {
      while (i < line.size() && IsSpace(line[i])) ++i;
      const size_t start = i;
      while (i < line.size() && !IsSpace(line[i])) ++i;
      if (i > start) fields.fields[fields.count++] = line.substr(start, i - start);
    }
    if (fields.count < 2) continue;
    if (!visit(fields)) return;
  }
}

// Parses the address field. False for anything but a plain IPv4 or IPv6
// address.
bool ParseAddress(std::string_view text, HostAddress* out) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.size() >= sizeof(buf)) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  *out = HostAddress();
  if (inet_pton(AF_INET, buf, out->bytes.data()) == 1) {
    out->family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, buf, out->bytes.data()) == 1) {
    out->family = AF_INET6;
    return true;
  }
  return false;
}

bool IsMappedV4(const HostAddress& a) {
  static const uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return a.family == AF_INET6 && std::memcmp(a.bytes.data(), kPrefix, 12) == 0;
}

bool SameAddress(const HostAddress& line, const HostAddress& wanted) {
  if (line.family == wanted.family) {
    return std::memcmp(line.bytes.data(), wanted.bytes.data(), line.size()) == 0;
  }
  if (line.family == AF_INET && IsMappedV4(wanted)) {
    return std::memcmp(line.bytes.data(), wanted.bytes.data() + 12, 4) == 0;
  }
  return false;
}

}  // namespace

bool LookupHostsByName(std::string_view hosts, std::string_view name,
                       bool inet, bool inet6, HostsMatch* out) {
  *out = HostsMatch();
  if (name.empty()) return false;
  ForEachLine(hosts, [&](const Line& line) {
    bool named = false;
    for (size_t i = 1; i < line.count && !named; ++i) {
      named = dns::SameName(line.fields[i], name) && line.fields[i] != ".";
    }
    if (!named) return true;
    HostAddress address;
    if (!ParseAddress(line.fields[0], &address)) return true;
    if ((address.family == AF_INET && !inet) ||
        (address.family == AF_INET6 && !inet6)) {
      return true;
    }
    bool seen = false;
    for (const HostAddress& a : out->addresses) seen = seen || a == address;
    if (!seen) out->addresses.push_back(address);
    for (size_t i = 1; i < line.count; ++i) {
      std::string n(line.fields[i]);
      if (out->canonical.empty()) {
        out->canonical = std::move(n);
        continue;
      }
      bool known = dns::SameName(n, out->canonical);
      for (const std::string& alias : out->aliases) {
        known = known || dns::SameName(alias, n);
      }
      if (!known) out->aliases.push_back(std::move(n));
    }
    return true;
  });
  return !out->addresses.empty();
}

bool LookupHostsByAddress(std::string_view hosts, const HostAddress& address,
                          std::string* name) {
  bool found = false;
  ForEachLine(hosts, [&](const Line& line) {
    HostAddress a;
    if (!ParseAddress(line.fields[0], &a) || !SameAddress(a, address)) {
      return true;
    }
    *name = std::string(line.fields[1]);
    found = true;
    return false;
  });
  return found;
}

std::string ReadHostsFile(const char* path) {
  std::string text;
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return text;
  char buf[16384];
  for (;;) {
    const size_t n = std::fread(buf, 1, sizeof(buf), f);
    if (n == 0) break;
    const size_t room = kMaxHostsFileBytes - text.size();
    text.append(buf, n < room ? n : room);
    if (text.size() >= kMaxHostsFileBytes) break;
  }
  std::fclose(f);
  return text;
}

}  // namespace stackd::client
