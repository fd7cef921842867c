#include "client/resolver.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace stackd::client {
namespace {

using dns::Message;
using dns::Record;

// A TCP exchange (connect, query, answer) may take this many UDP tries.
constexpr int kTcpTimeoutFactor = 2;

uint16_t RandomId() {
  uint16_t id = 0;
  if (getrandom(&id, sizeof(id), GRND_NONBLOCK) == sizeof(id)) return id;
  // No entropy yet (early boot): still different from call to call.
  static std::atomic<uint32_t> counter{0};
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint32_t mixed = static_cast<uint32_t>(ts.tv_nsec) ^
                         (static_cast<uint32_t>(ts.tv_nsec) >> 16) ^
                         counter.fetch_add(40503);
  return static_cast<uint16_t>(mixed);
}

// Errors that say this process ran out of something, not that the network
// failed: reported (EAI_SYSTEM), not retried later.
bool IsLocalError(int error) {
  return error == EMFILE || error == ENFILE || error == ENOMEM ||
         error == ENOBUFS;
}

bool IsMappedV4(const HostAddress& a) {
  static const uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return a.family == AF_INET6 && std::memcmp(a.bytes.data(), kPrefix, 12) == 0;
}

HostAddress MapV4(const HostAddress& v4) {
  HostAddress mapped;
  mapped.family = AF_INET6;
  mapped.bytes[10] = 0xff;
  mapped.bytes[11] = 0xff;
  std::memcpy(mapped.bytes.data() + 12, v4.bytes.data(), 4);
  return mapped;
}

void AddUnique(const HostAddress& a, std::vector<HostAddress>* list) {
  if (std::find(list->begin(), list->end(), a) == list->end()) {
    list->push_back(a);
  }
}

void AddUniqueName(const std::string& name, std::vector<std::string>* list) {
  for (const std::string& n : *list) {
    if (dns::SameName(n, name)) return;
  }
  list->push_back(name);
}

// The end of the CNAME chain that starts at `name` in `message`'s answers;
// the names passed on the way go to *aliases (if not null).
std::string FollowCnames(const Message& message, std::string_view name,
                         std::vector<std::string>* aliases) {
  std::string target(name);
  for (int hop = 0; hop < kMaxCnameHops; ++hop) {
    const Record* next = nullptr;
    for (const Record& r : message.answers) {
      if (r.type == dns::kTypeCname && r.rclass == dns::kClassIn &&
          dns::SameName(r.name, target)) {
        next = &r;
        break;
      }
    }
    if (next == nullptr || next->target.empty()) break;
    if (aliases != nullptr) AddUniqueName(target, aliases);
    target = next->target;
  }
  return target;
}

// Adds the `type` (A or AAAA) addresses that answer `name` to *out.
// Returns how many were new.
size_t ExtractAddresses(const Message& message, std::string_view name,
                        uint16_t type, HostResult* out) {
  const std::string target = FollowCnames(message, name, &out->aliases);
  const size_t before = out->addresses.size();
  for (const Record& r : message.answers) {
    if (r.type != type || r.rclass != dns::kClassIn ||
        !dns::SameName(r.name, target)) {
      continue;
    }
    HostAddress a;
    a.family = type == dns::kTypeA ? AF_INET : AF_INET6;
    if (r.rdata.size() != a.size()) continue;
    std::memcpy(a.bytes.data(), r.rdata.data(), a.size());
    AddUnique(a, &out->addresses);
  }
  const size_t added = out->addresses.size() - before;
  if (added > 0 && out->canonical.empty()) out->canonical = target;
  return added;
}

// The h_errno-style verdict on a question no server answered well.
NameStatus FailureStatus(const QueryResult& r, int* error) {
  switch (r.status) {
    case QueryStatus::kAnswer:
      return NameStatus::kNoData;
    case QueryStatus::kNxDomain:
    case QueryStatus::kBadName:
      return NameStatus::kNotFound;
    case QueryStatus::kServerFailure:
      return NameStatus::kTryAgain;
    case QueryStatus::kNoRecovery:
      return NameStatus::kNoRecovery;
    case QueryStatus::kNoAnswer:
      break;
  }
  if (IsLocalError(r.error)) {
    *error = r.error;
    return NameStatus::kSystem;
  }
  return NameStatus::kTryAgain;
}

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

// An IPv4 address in any form inet_aton(3) takes ("10.1", "0x7f.0.0.1"),
// with nothing after it (glibc's __inet_aton_exact).
bool ParseIpv4Numeric(const char* text, HostAddress* out) {
  if (text[0] == '\0') return false;
  for (const char* p = text; *p != '\0'; ++p) {
    if (!IsHexDigit(*p) && *p != '.' && *p != 'x' && *p != 'X') return false;
  }
  in_addr a{};
  if (inet_aton(text, &a) == 0) return false;
  *out = HostAddress();
  out->family = AF_INET;
  std::memcpy(out->bytes.data(), &a, 4);
  return true;
}

// What ParseIpv6Numeric() found.
enum class Ipv6Text { kNotIpv6, kIpv6, kBadScope };

// An IPv6 address, optionally with "%SCOPE" (an interface name or number).
// kBadScope: the address parses, the scope does not.
Ipv6Text ParseIpv6Numeric(const char* text, HostAddress* out) {
  const char* percent = std::strchr(text, '%');
  char addr[INET6_ADDRSTRLEN + 1];
  const size_t len = percent != nullptr ? static_cast<size_t>(percent - text)
                                        : std::strlen(text);
  if (len >= sizeof(addr)) return Ipv6Text::kNotIpv6;
  std::memcpy(addr, text, len);
  addr[len] = '\0';
  *out = HostAddress();
  if (inet_pton(AF_INET6, addr, out->bytes.data()) != 1) {
    return Ipv6Text::kNotIpv6;
  }
  out->family = AF_INET6;
  if (percent == nullptr) return Ipv6Text::kIpv6;
  const char* scope = percent + 1;
  const bool link_scoped =
      (out->bytes[0] == 0xfe && (out->bytes[1] & 0xc0) == 0x80) ||
      (out->bytes[0] == 0xff && ((out->bytes[1] & 0x0f) == 1 ||
                                 (out->bytes[1] & 0x0f) == 2));
  if (link_scoped && *scope != '\0') {
    const unsigned index = if_nametoindex(scope);
    if (index != 0) {
      out->scope_id = index;
      return Ipv6Text::kIpv6;
    }
  }
  if (*scope < '0' || *scope > '9') return Ipv6Text::kBadScope;
  char* end = nullptr;
  errno = 0;
  const unsigned long long number = std::strtoull(scope, &end, 10);
  if (*end != '\0' || errno != 0 || number > UINT32_MAX) {
    return Ipv6Text::kBadScope;
  }
  out->scope_id = static_cast<uint32_t>(number);
  return Ipv6Text::kIpv6;
}

// One line of glibc's protocol table for getaddrinfo (gaih_inet_typeproto).
struct Protocol {
  int socktype;
  int protocol;
  const char* name;
  bool by_default;    // Returned when no socket type is asked for.
  bool any_protocol;  // Takes any ai_protocol.
  bool no_service;    // Takes no service.
};

constexpr Protocol kProtocols[] = {
    {SOCK_STREAM, IPPROTO_TCP, "tcp", true, false, false},
    {SOCK_DGRAM, IPPROTO_UDP, "udp", true, false, false},
    {SOCK_DCCP, IPPROTO_DCCP, "dccp", false, false, false},
    {SOCK_DGRAM, IPPROTO_UDPLITE, "udplite", false, false, false},
    {SOCK_STREAM, IPPROTO_SCTP, "sctp", false, false, false},
    {SOCK_SEQPACKET, IPPROTO_SCTP, "sctp", false, false, false},
    {SOCK_RAW, 0, "raw", true, true, true},
};

// One socket type of the answer.
struct Service {
  int socktype;
  int protocol;
  uint16_t port;  // Network order.
};

// The port of service `name` for protocol `proto` (network order), from
// the services database. False if it has none.
bool LookupService(const char* name, const char* proto, uint16_t* port) {
  servent entry{};
  servent* result = nullptr;
  char buf[4096];
  if (getservbyname_r(name, proto, &entry, buf, sizeof(buf), &result) != 0 ||
      result == nullptr) {
    return false;
  }
  *port = static_cast<uint16_t>(result->s_port);
  return true;
}

constexpr int kKnownAiFlags = AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST |
                              AI_V4MAPPED | AI_ALL | AI_ADDRCONFIG | AI_IDN |
                              AI_CANONIDN | AI_NUMERICSERV |
                              0x0300;  // glibc's deprecated IDN flags.

// The socket types, protocols and ports of the answer, or an EAI_* error.
int ResolveServices(const char* service, const addrinfo& hints,
                    std::vector<Service>* out) {
  // A number, or a name (the number part says -1, as glibc's int).
  const char* name = nullptr;
  int number = 0;
  if (service != nullptr && service[0] != '\0') {
    char* end = nullptr;
    number = static_cast<int>(std::strtoul(service, &end, 10));
    if (*end != '\0') {
      if ((hints.ai_flags & AI_NUMERICSERV) != 0) return EAI_NONAME;
      number = -1;
    }
    if (number < 0) name = service;
  } else {
    service = nullptr;
  }
  const Protocol* chosen = nullptr;
  const bool asked = hints.ai_socktype != 0 || hints.ai_protocol != 0;
  if (asked) {
    for (const Protocol& p : kProtocols) {
      if ((hints.ai_socktype == 0 || hints.ai_socktype == p.socktype) &&
          (hints.ai_protocol == 0 || p.any_protocol ||
           hints.ai_protocol == p.protocol)) {
        chosen = &p;
        break;
      }
    }
    if (chosen == nullptr) {
      return hints.ai_socktype != 0 ? EAI_SOCKTYPE : EAI_SERVICE;
    }
  }
  auto entry = [&](const Protocol& p, uint16_t port) {
    return Service{hints.ai_socktype != 0 ? hints.ai_socktype : p.socktype,
                   hints.ai_protocol != 0 ? hints.ai_protocol : p.protocol,
                   port};
  };
  if (service != nullptr && chosen != nullptr && chosen->no_service) {
    return EAI_SERVICE;
  }
  if (name != nullptr) {
    if (chosen != nullptr) {
      uint16_t port = 0;
      if (!LookupService(name, chosen->name, &port)) return EAI_SERVICE;
      out->push_back(entry(*chosen, port));
      return 0;
    }
    for (const Protocol& p : kProtocols) {
      if (p.no_service) continue;
      uint16_t port = 0;
      if (LookupService(name, p.name, &port)) out->push_back(entry(p, port));
    }
    return out->empty() ? EAI_SERVICE : 0;
  }
  const uint16_t port = htons(static_cast<uint16_t>(number));
  if (chosen != nullptr) {
    out->push_back(entry(*chosen, port));
    return 0;
  }
  for (const Protocol& p : kProtocols) {
    if (p.by_default) out->push_back(entry(p, port));
  }
  return 0;
}

int EaiOf(NameStatus status, int error) {
  switch (status) {
    case NameStatus::kFound:
      return 0;
    case NameStatus::kNotFound:
    case NameStatus::kNoData:
      return EAI_NONAME;
    case NameStatus::kTryAgain:
      return EAI_AGAIN;
    case NameStatus::kNoRecovery:
      return EAI_FAIL;
    case NameStatus::kSystem:
      errno = error;
      return EAI_SYSTEM;
  }
  return EAI_FAIL;
}

// A node of getaddrinfo's list and its socket address, in one block so
// that glibc's freeaddrinfo(3) frees it too.
struct AddrInfoNode {
  addrinfo ai;
  union {
    sockaddr_in in;
    sockaddr_in6 in6;
  } address;
};

// The list for `addresses` x `services`, or null (out of memory).
addrinfo* BuildList(const std::vector<HostAddress>& addresses,
                    const std::vector<Service>& services, int flags,
                    const std::string* canonical) {
  addrinfo* head = nullptr;
  addrinfo** tail = &head;
  bool first = true;
  for (const HostAddress& a : addresses) {
    for (const Service& s : services) {
      auto* node = static_cast<AddrInfoNode*>(std::calloc(1, sizeof(AddrInfoNode)));
      if (node == nullptr) {
        FreeAddrInfo(head);
        return nullptr;
      }
      node->ai.ai_flags = flags;
      node->ai.ai_family = a.family;
      node->ai.ai_socktype = s.socktype;
      node->ai.ai_protocol = s.protocol;
      node->ai.ai_addr = reinterpret_cast<sockaddr*>(&node->address);
      if (a.family == AF_INET) {
        node->ai.ai_addrlen = sizeof(sockaddr_in);
        node->address.in.sin_family = AF_INET;
        node->address.in.sin_port = s.port;
        std::memcpy(&node->address.in.sin_addr, a.bytes.data(), 4);
      } else {
        node->ai.ai_addrlen = sizeof(sockaddr_in6);
        node->address.in6.sin6_family = AF_INET6;
        node->address.in6.sin6_port = s.port;
        node->address.in6.sin6_scope_id = a.scope_id;
        std::memcpy(&node->address.in6.sin6_addr, a.bytes.data(), 16);
      }
      *tail = &node->ai;
      tail = &node->ai.ai_next;
      if (first && canonical != nullptr) {
        node->ai.ai_canonname = strdup(canonical->c_str());
        if (node->ai.ai_canonname == nullptr) {
          FreeAddrInfo(head);
          return nullptr;
        }
      }
      first = false;
    }
  }
  return head;
}

// Whether `name` is only digits and dots (glibc treats it as an IPv4
// address, never a host name), or looks like an IPv6 address.
bool LooksLikeIpv4(const char* name) {
  if (name[0] == '\0') return false;
  size_t len = 0;
  for (const char* p = name; *p != '\0'; ++p, ++len) {
    if ((*p < '0' || *p > '9') && *p != '.') return false;
  }
  return name[len - 1] != '.';
}

bool LooksLikeIpv6(const char* name) {
  if (std::strchr(name, ':') == nullptr) return false;
  for (const char* p = name; *p != '\0'; ++p) {
    if (!IsHexDigit(*p) && *p != ':' && *p != '.') return false;
  }
  return true;
}

// Lays `host` out as a hostent in `buf`.
int FillHostent(const HostResult& host, int af, hostent* ret, char* buf,
                size_t buflen) {
  const size_t addr_len = af == AF_INET6 ? 16 : 4;
  std::vector<const HostAddress*> addresses;
  for (const HostAddress& a : host.addresses) {
    if (a.family == af) addresses.push_back(&a);
  }
  const size_t pointers =
      (addresses.size() + 1 + host.aliases.size() + 1) * sizeof(char*);
  size_t strings = host.canonical.size() + 1;
  for (const std::string& alias : host.aliases) strings += alias.size() + 1;
  const uintptr_t start = reinterpret_cast<uintptr_t>(buf);
  const size_t pad = (alignof(char*) - start % alignof(char*)) % alignof(char*);
  const size_t need = pad + pointers + addresses.size() * addr_len + strings;
  if (buf == nullptr || buflen < need) return ERANGE;
  char* p = buf + pad;
  auto** addr_list = reinterpret_cast<char**>(p);
  p += (addresses.size() + 1) * sizeof(char*);
  auto** alias_list = reinterpret_cast<char**>(p);
  p += (host.aliases.size() + 1) * sizeof(char*);
  for (size_t i = 0; i < addresses.size(); ++i) {
    std::memcpy(p, addresses[i]->bytes.data(), addr_len);
    addr_list[i] = p;
    p += addr_len;
  }
  addr_list[addresses.size()] = nullptr;
  auto copy = [&](const std::string& s) {
    char* at = p;
    std::memcpy(p, s.c_str(), s.size() + 1);
    p += s.size() + 1;
    return at;
  };
  ret->h_name = copy(host.canonical);
  for (size_t i = 0; i < host.aliases.size(); ++i) {
    alias_list[i] = copy(host.aliases[i]);
  }
  alias_list[host.aliases.size()] = nullptr;
  ret->h_aliases = alias_list;
  ret->h_addrtype = af;
  ret->h_length = static_cast<int>(addr_len);
  ret->h_addr_list = addr_list;
  return 0;
}

int CopyOut(const std::string& text, char* out, socklen_t len) {
  if (text.size() + 1 > len) return EAI_OVERFLOW;
  std::memcpy(out, text.c_str(), text.size() + 1);
  return 0;
}

}  // namespace

int64_t MonotonicMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::vector<std::string> SearchCandidates(
    std::string_view name, const std::vector<std::string>& search, int ndots) {
  std::vector<std::string> out;
  if (name.empty()) return out;
  if (name.back() == '.') {
    name.remove_suffix(1);
    if (!name.empty()) out.emplace_back(name);
    return out;
  }
  std::vector<std::string> domains;
  for (const std::string& d : search) {
    if (domains.size() >= kMaxSearchDomains) break;
    std::string_view domain = d;
    if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
    if (domain.empty()) continue;
    std::string full(name);
    full += '.';
    full += domain;
    AddUniqueName(full, &domains);
  }
  const auto dots = static_cast<int>(std::count(name.begin(), name.end(), '.'));
  if (dots >= ndots) out.emplace_back(name);
  for (std::string& d : domains) {
    if (!dns::SameName(d, name)) out.push_back(std::move(d));
  }
  if (dots < ndots) out.emplace_back(name);
  return out;
}

void OrderAddresses(bool prefer_inet6, std::vector<HostAddress>* addresses) {
  const int first = prefer_inet6 ? AF_INET6 : AF_INET;
  std::stable_partition(
      addresses->begin(), addresses->end(),
      [first](const HostAddress& a) { return a.family == first; });
}

Resolver::Resolver(ResolverConfigSource* config, DnsTransport* transport,
                   std::function<std::string()> read_hosts)
    : config_source_(config),
      transport_(transport),
      read_hosts_(std::move(read_hosts)) {}

bool Resolver::LoadConfig() {
  if (!config_loaded_) {
    config_loaded_ = true;
    config_error_ = config_source_ != nullptr ? config_source_->Get(&config_)
                                              : ENOENT;
    config_ok_ = config_error_ == 0;
    if (config_ok_ && config_.servers.size() > kMaxDnsServers) {
      config_.servers.resize(kMaxDnsServers);
    }
    if (config_ok_ && config_.attempts < 1) config_.attempts = 1;
    if (config_ok_ && config_.timeout_ms < 1) config_.timeout_ms = 1;
  }
  return config_ok_;
}

const std::string& Resolver::Hosts() {
  if (!hosts_loaded_) {
    hosts_loaded_ = true;
    hosts_ = read_hosts_ ? read_hosts_() : ReadHostsFile(kHostsPath);
  }
  return hosts_;
}

void Resolver::Families(bool* inet, bool* inet6, bool* prefer_inet6) {
  *inet = true;
  *inet6 = true;
  *prefer_inet6 = false;
  if (!LoadConfig() || (!config_.inet && !config_.inet6)) return;
  *inet = config_.inet;
  *inet6 = config_.inet6;
  *prefer_inet6 = config_.inet6;
}

std::string Resolver::LocalDomain() {
  if (!LoadConfig() || config_.search.empty()) return "";
  return config_.search[0];
}

QueryResult Resolver::QueryServers(std::string_view name, uint16_t type,
                                   uint16_t qclass) {
  QueryResult result;
  const uint16_t id = RandomId();
  std::vector<uint8_t> query;
  if (!dns::EncodeQuery(id, name, type, qclass, &query)) {
    result.status = QueryStatus::kBadName;
    return result;
  }
  if (!LoadConfig()) {
    result.error = config_error_;
    return result;
  }
  const size_t count = config_.servers.size();
  std::vector<bool> answered(count, false);
  bool servfail = false;
  bool no_recovery = false;
  int last_error = ETIMEDOUT;
  auto accept = [&](const std::vector<uint8_t>& reply) {
    Message m;
    if (!dns::ParseMessage(reply.data(), reply.size(), true, &m) ||
        !dns::AnswersQuery(m, id, name, type, qclass)) {
      return false;
    }
    // A truncated answer's records may be cut; the rest must parse whole.
    return m.truncated ||
           dns::ParseMessage(reply.data(), reply.size(), false, &m);
  };
  for (int round = 0; round < config_.attempts; ++round) {
    for (size_t i = 0; i < count; ++i) {
      if (answered[i]) continue;
      const DnsServerAddress& server = config_.servers[i];
      std::vector<uint8_t> reply;
      int error = transport_->ExchangeUdp(
          server, query, MonotonicMs() + config_.timeout_ms, accept, &reply);
      if (error != 0) {
        last_error = error;
        continue;
      }
      Message m;
      if (!dns::ParseMessage(reply.data(), reply.size(), true, &m)) continue;
      if (m.truncated) {
        error = transport_->ExchangeTcp(
            server, query,
            MonotonicMs() + kTcpTimeoutFactor * config_.timeout_ms, &reply);
        if (error != 0) {
          last_error = error;
          continue;
        }
      }
      if (!dns::ParseMessage(reply.data(), reply.size(), false, &m) ||
          !dns::AnswersQuery(m, id, name, type, qclass)) {
        last_error = EPROTO;
        continue;
      }
      result.raw = std::move(reply);
      result.message = std::move(m);
      switch (result.message.rcode) {
        case dns::kNoError:
          result.status = QueryStatus::kAnswer;
          return result;
        case dns::kNxDomain:
          result.status = QueryStatus::kNxDomain;
          return result;
        case dns::kServFail:
        case dns::kRefused:
        case dns::kNotImp:
          servfail = true;  // As glibc: the next server may do better.
          break;
        default:
          no_recovery = true;
          break;
      }
      answered[i] = true;  // Asking it again would get the same.
    }
  }
  if (servfail) {
    result.status = QueryStatus::kServerFailure;
  } else if (no_recovery) {
    result.status = QueryStatus::kNoRecovery;
  } else {
    result.status = QueryStatus::kNoAnswer;
    result.error = count == 0 ? 0 : last_error;
  }
  return result;
}

NameStatus Resolver::QueryHost(const std::string& name, bool inet, bool inet6,
                               HostResult* out, bool* no_answer, int* error) {
  *no_answer = false;
  HostResult found;
  bool any = false;
  const uint16_t types[] = {dns::kTypeA, dns::kTypeAaaa};
  const bool wanted[] = {inet, inet6};
  for (int t = 0; t < 2; ++t) {
    if (!wanted[t]) continue;
    QueryResult r = QueryServers(name, types[t], dns::kClassIn);
    if (r.status == QueryStatus::kAnswer) {
      if (ExtractAddresses(r.message, name, types[t], &found) > 0) any = true;
      continue;
    }
    if (any) break;  // Keep what the first question gave.
    if (r.status == QueryStatus::kNoAnswer) {
      *no_answer = true;
      RefreshConfig();
    }
    // NXDOMAIN holds for every type; a failure is not waited out twice.
    return FailureStatus(r, error);
  }
  if (!any) return NameStatus::kNoData;
  if (found.canonical.empty()) found.canonical = name;
  *out = std::move(found);
  return NameStatus::kFound;
}

void Resolver::RefreshConfig() {
  if (refreshed_ || config_source_ == nullptr) return;
  refreshed_ = true;
  config_source_->Refresh();
}

NameStatus Resolver::LookupHost(std::string_view name, bool inet, bool inet6,
                                HostResult* out, int* error) {
  if (name.empty() || (!inet && !inet6)) return NameStatus::kNotFound;
  HostsMatch match;
  if (LookupHostsByName(Hosts(), name, inet, inet6, &match)) {
    out->canonical = std::move(match.canonical);
    out->aliases = std::move(match.aliases);
    out->addresses = std::move(match.addresses);
    bool mixed = false;
    for (const HostAddress& a : out->addresses) {
      mixed = mixed || a.family != out->addresses[0].family;
    }
    if (mixed) {  // Only then does the order need the stack's families.
      bool served_inet, served_inet6, prefer_inet6;
      Families(&served_inet, &served_inet6, &prefer_inet6);
      OrderAddresses(prefer_inet6, &out->addresses);
    }
    return NameStatus::kFound;
  }
  if (!LoadConfig()) {
    if (IsLocalError(config_error_)) {
      *error = config_error_;
      return NameStatus::kSystem;
    }
    return NameStatus::kTryAgain;
  }
  bool got_nodata = false;
  bool got_servfail = false;
  for (const std::string& candidate :
       SearchCandidates(name, config_.search, config_.ndots)) {
    bool no_answer = false;
    const NameStatus s =
        QueryHost(candidate, inet, inet6, out, &no_answer, error);
    switch (s) {
      case NameStatus::kFound:
        OrderAddresses(config_.inet6, &out->addresses);
        return s;
      case NameStatus::kNotFound:
        continue;
      case NameStatus::kNoData:
        got_nodata = true;
        continue;
      case NameStatus::kTryAgain:
        // SERVFAIL: the next name may do better. No answer at all: stop.
        if (no_answer) return s;
        got_servfail = true;
        continue;
      default:
        return s;
    }
  }
  if (got_nodata) return NameStatus::kNoData;
  if (got_servfail) return NameStatus::kTryAgain;
  return NameStatus::kNotFound;
}

NameStatus Resolver::LookupAddress(const HostAddress& address,
                                   std::string* name, int* error) {
  if (LookupHostsByAddress(Hosts(), address, name)) return NameStatus::kFound;
  HostAddress query = address;
  if (IsMappedV4(address)) {
    query = HostAddress();
    query.family = AF_INET;
    std::memcpy(query.bytes.data(), address.bytes.data() + 12, 4);
  }
  const std::string reverse = dns::ReverseName(query.family, query.bytes.data());
  if (!LoadConfig()) return NameStatus::kTryAgain;
  QueryResult r = QueryServers(reverse, dns::kTypePtr, dns::kClassIn);
  if (r.status != QueryStatus::kAnswer) {
    if (r.status == QueryStatus::kNoAnswer) RefreshConfig();
    return FailureStatus(r, error);
  }
  const std::string target = FollowCnames(r.message, reverse, nullptr);
  for (const Record& rec : r.message.answers) {
    if (rec.type == dns::kTypePtr && rec.rclass == dns::kClassIn &&
        dns::SameName(rec.name, target) && !rec.target.empty()) {
      *name = rec.target;
      return NameStatus::kFound;
    }
  }
  return NameStatus::kNoData;
}

NameStatus Resolver::Query(std::string_view name, uint16_t qclass,
                           uint16_t type, bool search,
                           std::vector<uint8_t>* answer, int* error) {
  if (!LoadConfig()) {
    if (IsLocalError(config_error_)) {
      *error = config_error_;
      return NameStatus::kSystem;
    }
    return NameStatus::kTryAgain;
  }
  std::vector<std::string> candidates;
  if (search) {
    candidates = SearchCandidates(name, config_.search, config_.ndots);
  } else {
    candidates.emplace_back(name);
  }
  bool got_nodata = false;
  bool got_servfail = false;
  for (const std::string& candidate : candidates) {
    QueryResult r = QueryServers(candidate, type, qclass);
    if (!r.raw.empty()) *answer = std::move(r.raw);
    switch (r.status) {
      case QueryStatus::kAnswer:
        if (!r.message.answers.empty()) return NameStatus::kFound;
        got_nodata = true;
        continue;
      case QueryStatus::kNxDomain:
      case QueryStatus::kBadName:
        continue;
      case QueryStatus::kServerFailure:
        got_servfail = true;
        continue;
      case QueryStatus::kNoRecovery:
        return NameStatus::kNoRecovery;
      case QueryStatus::kNoAnswer:
        RefreshConfig();
        return FailureStatus(r, error);
    }
  }
  if (got_nodata) return NameStatus::kNoData;
  if (got_servfail) return NameStatus::kTryAgain;
  return NameStatus::kNotFound;
}

int GetAddrInfo(Resolver* resolver, const char* node, const char* service,
                const addrinfo* hints, addrinfo** res) {
  addrinfo defaults{};
  defaults.ai_flags = AI_V4MAPPED | AI_ADDRCONFIG;  // glibc's AI_DEFAULT.
  const addrinfo& req = hints != nullptr ? *hints : defaults;
  if (node != nullptr && node[0] == '*' && node[1] == '\0') node = nullptr;
  if (node == nullptr && service == nullptr) return EAI_NONAME;
  if ((req.ai_flags & ~kKnownAiFlags) != 0) return EAI_BADFLAGS;
  if ((req.ai_flags & AI_CANONNAME) != 0 && node == nullptr) {
    return EAI_BADFLAGS;
  }
  int family = req.ai_family;
  if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6) {
    return EAI_FAMILY;
  }
  bool served_inet = true;
  bool served_inet6 = true;
  bool prefer_inet6 = false;
  const bool need_families =
      (req.ai_flags & AI_ADDRCONFIG) != 0 ||
      (family == AF_UNSPEC && node == nullptr);
  if (need_families) {
    resolver->Families(&served_inet, &served_inet6, &prefer_inet6);
  }
  if ((req.ai_flags & AI_ADDRCONFIG) != 0) {
    if (family == AF_UNSPEC) {
      if (!served_inet) family = AF_INET6;
      if (!served_inet6) family = AF_INET;
    } else if ((family == AF_INET && !served_inet) ||
               (family == AF_INET6 && !served_inet6)) {
      return EAI_NONAME;
    }
  }

  std::vector<Service> services;
  if (int error = ResolveServices(service, req, &services)) return error;

  std::vector<HostAddress> addresses;
  std::string canonical;
  if (node == nullptr) {
    const bool passive = (req.ai_flags & AI_PASSIVE) != 0;
    if (family == AF_UNSPEC || family == AF_INET6) {
      HostAddress a;
      a.family = AF_INET6;
      if (!passive) a.bytes[15] = 1;
      addresses.push_back(a);
    }
    if (family == AF_UNSPEC || family == AF_INET) {
      HostAddress a;
      a.family = AF_INET;
      if (!passive) {
        a.bytes[0] = 127;
        a.bytes[3] = 1;
      }
      addresses.push_back(a);
    }
    OrderAddresses(prefer_inet6, &addresses);
  } else {
    HostAddress numeric;
    bool is_numeric = false;
    Ipv6Text v6 = Ipv6Text::kNotIpv6;
    if (ParseIpv4Numeric(node, &numeric)) {
      is_numeric = true;
      if (family == AF_INET6) {
        if ((req.ai_flags & AI_V4MAPPED) == 0) return EAI_ADDRFAMILY;
        numeric = MapV4(numeric);
      }
    } else if ((v6 = ParseIpv6Numeric(node, &numeric)) != Ipv6Text::kNotIpv6) {
      // As glibc: the family is checked before the scope, and an
      // IPv4-mapped address serves AF_INET as its IPv4 address.
      is_numeric = true;
      if (family == AF_INET) {
        if (!IsMappedV4(numeric)) return EAI_ADDRFAMILY;
        HostAddress v4;
        v4.family = AF_INET;
        std::memcpy(v4.bytes.data(), numeric.bytes.data() + 12, 4);
        numeric = v4;
      }
      if (v6 == Ipv6Text::kBadScope) return EAI_NONAME;
    }
    if (is_numeric) {
      addresses.push_back(numeric);
      canonical = node;
    } else if ((req.ai_flags & AI_NUMERICHOST) != 0) {
      return EAI_NONAME;
    } else {
      const bool mapped =
          family == AF_INET6 && (req.ai_flags & AI_V4MAPPED) != 0;
      HostResult host;
      int error = 0;
      const NameStatus status =
          resolver->LookupHost(node, family != AF_INET6 || mapped,
                               family != AF_INET, &host, &error);
      if (status != NameStatus::kFound) return EaiOf(status, error);
      if (mapped) {
        bool has_v6 = false;
        for (const HostAddress& a : host.addresses) {
          has_v6 = has_v6 || a.family == AF_INET6;
        }
        const bool all = (req.ai_flags & AI_ALL) != 0;
        for (const HostAddress& a : host.addresses) {
          if (a.family == AF_INET6) {
            addresses.push_back(a);
          } else if (all || !has_v6) {
            addresses.push_back(MapV4(a));
          }
        }
      } else {
        addresses = std::move(host.addresses);
      }
      if (addresses.empty()) return EAI_NONAME;
      canonical = host.canonical.empty() ? std::string(node) : host.canonical;
    }
  }
  addrinfo* list = BuildList(
      addresses, services, req.ai_flags,
      (req.ai_flags & AI_CANONNAME) != 0 ? &canonical : nullptr);
  if (list == nullptr) return EAI_MEMORY;
  *res = list;
  return 0;
}

void FreeAddrInfo(addrinfo* ai) {
  while (ai != nullptr) {
    addrinfo* next = ai->ai_next;
    std::free(ai->ai_canonname);
    std::free(ai);
    ai = next;
  }
}

int GetNameInfo(Resolver* resolver, const sockaddr* sa, socklen_t salen,
                char* host, socklen_t hostlen, char* serv, socklen_t servlen,
                int flags) {
  constexpr int kKnownNiFlags = NI_NUMERICHOST | NI_NUMERICSERV | NI_NOFQDN |
                                NI_NAMEREQD | NI_DGRAM | NI_IDN |
                                0xc0;  // glibc's deprecated IDN flags.
  if ((flags & ~kKnownNiFlags) != 0) return EAI_BADFLAGS;
  if (sa == nullptr || salen < sizeof(sa_family_t)) return EAI_FAMILY;
  if ((flags & NI_NAMEREQD) != 0 && host == nullptr && serv == nullptr) {
    return EAI_NONAME;
  }
  HostAddress address;
  uint16_t port = 0;
  if (sa->sa_family == AF_INET) {
    if (salen < sizeof(sockaddr_in)) return EAI_FAMILY;
    sockaddr_in in;
    std::memcpy(&in, sa, sizeof(in));
    address.family = AF_INET;
    std::memcpy(address.bytes.data(), &in.sin_addr, 4);
    port = in.sin_port;
  } else if (sa->sa_family == AF_INET6) {
    if (salen < sizeof(sockaddr_in6)) return EAI_FAMILY;
    sockaddr_in6 in6;
    std::memcpy(&in6, sa, sizeof(in6));
    address.family = AF_INET6;
    std::memcpy(address.bytes.data(), &in6.sin6_addr, 16);
    address.scope_id = in6.sin6_scope_id;
    port = in6.sin6_port;
  } else {
    return EAI_FAMILY;
  }

  if (host != nullptr && hostlen > 0) {
    bool done = false;
    if ((flags & NI_NUMERICHOST) == 0) {
      std::string name;
      int error = 0;
      HostAddress lookup = address;
      lookup.scope_id = 0;
      const NameStatus status = resolver->LookupAddress(lookup, &name, &error);
      switch (status) {
        case NameStatus::kFound: {
          if ((flags & NI_NOFQDN) != 0) {
            const std::string domain = resolver->LocalDomain();
            const size_t at = domain.empty() ? std::string::npos
                                             : name.find(domain);
            if (at != std::string::npos && at > 0 && name[at - 1] == '.') {
              name.resize(at - 1);
            }
          }
          if (int e = CopyOut(name, host, hostlen)) return e;
          done = true;
          break;
        }
        case NameStatus::kTryAgain:
          return EAI_AGAIN;
        case NameStatus::kSystem:
          errno = error;
          return EAI_SYSTEM;
        default:
          break;  // No name: numeric, unless one is required.
      }
    }
    if (!done) {
      if ((flags & NI_NAMEREQD) != 0) return EAI_NONAME;
      char text[INET6_ADDRSTRLEN + 16];
      if (inet_ntop(address.family, address.bytes.data(), text,
                    sizeof(text)) == nullptr) {
        return EAI_SYSTEM;
      }
      std::string numeric = text;
      if (address.family == AF_INET6 && address.scope_id != 0) {
        // The scope names one of the stack's interfaces, which the
        // kernel's if_indextoname(3) does not know: always its number.
        numeric += '%';
        numeric += std::to_string(address.scope_id);
      }
      if (int e = CopyOut(numeric, host, hostlen)) return e;
    }
  }

  if (serv != nullptr && servlen > 0) {
    if ((flags & NI_NUMERICSERV) == 0) {
      servent entry{};
      servent* result = nullptr;
      char buf[4096];
      if (getservbyport_r(port, (flags & NI_DGRAM) != 0 ? "udp" : "tcp",
                          &entry, buf, sizeof(buf), &result) == 0 &&
          result != nullptr) {
        return CopyOut(result->s_name, serv, servlen);
      }
    }
    return CopyOut(std::to_string(ntohs(port)), serv, servlen);
  }
  return 0;
}

int GetHostByName(Resolver* resolver, const char* name, int af, hostent* ret,
                  char* buf, size_t buflen, hostent** result, int* h_errnop) {
  *result = nullptr;
  if (af != AF_INET && af != AF_INET6) {
    *h_errnop = NETDB_INTERNAL;
    return EAFNOSUPPORT;
  }
  if (name == nullptr) {
    *h_errnop = HOST_NOT_FOUND;
    return 0;
  }
  HostResult host;
  NameStatus status = NameStatus::kFound;
  int error = 0;
  HostAddress numeric;
  if (LooksLikeIpv4(name)) {
    if (af != AF_INET || !ParseIpv4Numeric(name, &numeric)) {
      status = NameStatus::kNotFound;
    }
  } else if (LooksLikeIpv6(name)) {
    if (af != AF_INET6 || std::strchr(name, '%') != nullptr ||
        ParseIpv6Numeric(name, &numeric) != Ipv6Text::kIpv6) {
      status = NameStatus::kNotFound;
    }
  } else {
    status = resolver->LookupHost(name, af == AF_INET, af == AF_INET6, &host,
                                  &error);
  }
  if (status == NameStatus::kFound && numeric.family != 0) {
    host.canonical = name;
    host.addresses.push_back(numeric);
  }
  switch (status) {
    case NameStatus::kFound:
      break;
    case NameStatus::kNotFound:
      *h_errnop = HOST_NOT_FOUND;
      return 0;
    case NameStatus::kNoData:
      *h_errnop = NO_DATA;
      return 0;
    case NameStatus::kTryAgain:
      *h_errnop = TRY_AGAIN;
      return EAGAIN;
    case NameStatus::kNoRecovery:
      *h_errnop = NO_RECOVERY;
      return ENOENT;
    case NameStatus::kSystem:
      *h_errnop = NETDB_INTERNAL;
      return error;
  }
  if (host.canonical.empty()) host.canonical = name;
  if (FillHostent(host, af, ret, buf, buflen) != 0) {
    *h_errnop = NETDB_INTERNAL;
    return ERANGE;
  }
  *h_errnop = NETDB_SUCCESS;
  *result = ret;
  return 0;
}

int ResQuery(Resolver* resolver, const char* name, int qclass, int type,
             bool search, unsigned char* answer, int anslen, int* h_errnop) {
  if (name == nullptr || answer == nullptr || anslen < 0 || qclass < 0 ||
      qclass > 0xffff || type < 0 || type > 0xffff) {
    *h_errnop = NETDB_INTERNAL;
    errno = EINVAL;
    return -1;
  }
  std::vector<uint8_t> reply;
  int error = 0;
  const NameStatus status =
      resolver->Query(name, static_cast<uint16_t>(qclass),
                      static_cast<uint16_t>(type), search, &reply, &error);
  const size_t copied = std::min(reply.size(), static_cast<size_t>(anslen));
  if (copied > 0) std::memcpy(answer, reply.data(), copied);
  if (copied < reply.size() && copied >= 3) answer[2] |= 0x02;  // TC.
  switch (status) {
    case NameStatus::kFound:
      return static_cast<int>(copied);
    case NameStatus::kNotFound:
      *h_errnop = HOST_NOT_FOUND;
      break;
    case NameStatus::kNoData:
      *h_errnop = NO_DATA;
      break;
    case NameStatus::kTryAgain:
      *h_errnop = TRY_AGAIN;
      break;
    case NameStatus::kNoRecovery:
      *h_errnop = NO_RECOVERY;
      break;
    case NameStatus::kSystem:
      *h_errnop = NETDB_INTERNAL;
      errno = error;
      break;
  }
  return -1;
}

}  // namespace stackd::client
