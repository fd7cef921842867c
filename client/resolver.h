// The library's own resolver: what getaddrinfo(3), gethostbyname(3),
// getnameinfo(3) and res_query(3) do for a process whose default stack is
// set, with every DNS packet travelling through that stack
// (resolve_interpose.cc exports the libc names). glibc's resolver cannot
// be used: it opens its sockets inside libc, where interposition does not
// see them, so its queries would leave through the kernel's stack.
//
// Order of sources: numeric addresses; the hosts file (resolver_hosts.h);
// then DNS: the stack's servers and search domains (stackd --dns,
// --search, from HelloResponse), A and AAAA queries over UDP, each server
// in turn with a timeout per try and a bounded number of rounds, the same
// query over TCP when an answer comes truncated. Names are searched as
// glibc searches them with "options ndots:1" (SearchCandidates()).
//
// Address order (documented policy, RFC 6724 kept simple): addresses of
// the preferred family first, each family in the order its source gave.
// IPv6 is preferred when the stack serves IPv6 (HelloResponse.families),
// else IPv4.
//
// Errors are glibc's: EAI_* from GetAddrInfo() and GetNameInfo(), h_errno
// values from GetHostByName() and ResQuery(). Nothing here prints, aborts
// or exits; every wait is bounded by the configured timeouts.
//
// Whatever reaches the network comes in through ResolverConfigSource and
// DnsTransport, so tests drive all of it without a stack.
//
// Thread: a Resolver serves one call on one thread; make one per call.
// The functions below are thread-safe given their own Resolver.
#ifndef CLIENT_RESOLVER_H_
#define CLIENT_RESOLVER_H_

#include <netdb.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "client/resolver_hosts.h"
#include "client/resolver_message.h"

namespace stackd::client {

inline constexpr int kDnsPort = 53;
// resolv.conf's defaults and limits (glibc uses 5 s; a stack's server is
// usually near).
inline constexpr int kDefaultNdots = 1;
inline constexpr int kDefaultTimeoutMs = 2000;
inline constexpr int kDefaultAttempts = 2;
inline constexpr size_t kMaxDnsServers = 3;
inline constexpr size_t kMaxSearchDomains = 6;
// CNAMEs followed in one answer.
inline constexpr int kMaxCnameHops = 16;

struct DnsServerAddress {
  HostAddress address;
  uint16_t port = kDnsPort;
};

// What the resolver knows about the stack it resolves through.
struct ResolverConfig {
  std::vector<DnsServerAddress> servers;  // At most kMaxDnsServers used.
  std::vector<std::string> search;        // At most kMaxSearchDomains used.
  bool inet = true;   // The stack serves IPv4 (AI_ADDRCONFIG).
  bool inet6 = true;  // The stack serves IPv6; IPv6 addresses go first.
  int ndots = kDefaultNdots;
  int timeout_ms = kDefaultTimeoutMs;  // One try of one server over UDP.
  int attempts = kDefaultAttempts;     // Rounds over the servers.
};

// CLOCK_MONOTONIC in milliseconds: the clock of every deadline here.
int64_t MonotonicMs();

// Where the configuration comes from (the stack's HelloResponse, cached).
class ResolverConfigSource {
 public:
  virtual ~ResolverConfigSource() = default;
  // 0 and *config, or the errno of asking the stack.
  virtual int Get(ResolverConfig* config) = 0;
  // No server answered with the configuration Get() gave: it may be stale
  // (a restarted stack), so the next Get() asks again.
  virtual void Refresh() = 0;
};

// How DNS messages reach a server.
class DnsTransport {
 public:
  virtual ~DnsTransport() = default;
  // Sends `query` to `server` in one datagram and waits, until
  // `deadline_ms` (MonotonicMs()), for a datagram from that server's
  // address and port for which `accept` returns true; the first such one
  // goes to *reply. Others are dropped. Returns 0, ETIMEDOUT, or the errno
  // of a socket call (ECONNREFUSED, ENETUNREACH, EMFILE, ...).
  virtual int ExchangeUdp(
      const DnsServerAddress& server, const std::vector<uint8_t>& query,
      int64_t deadline_ms,
      const std::function<bool(const std::vector<uint8_t>&)>& accept,
      std::vector<uint8_t>* reply) = 0;
  // The same over one TCP connection (RFC 1035 4.2.2: a 2-byte length
  // before each message); the first message back goes to *reply.
  virtual int ExchangeTcp(const DnsServerAddress& server,
                          const std::vector<uint8_t>& query,
                          int64_t deadline_ms,
                          std::vector<uint8_t>* reply) = 0;
};

// How a lookup ended, as h_errno tells it (plus kSystem: a local error,
// errno given separately).
enum class NameStatus {
  kFound,
  kNotFound,    // HOST_NOT_FOUND: NXDOMAIN, or no source knows the name.
  kNoData,      // NO_DATA: the name exists, without that kind of record.
  kTryAgain,    // TRY_AGAIN: no server answered, or SERVFAIL, REFUSED.
  kNoRecovery,  // NO_RECOVERY: a format error, an unknown rcode.
  kSystem,      // NETDB_INTERNAL: a local error (errno).
};

// One name's addresses.
struct HostResult {
  std::string canonical;             // The end of the CNAME chain.
  std::vector<std::string> aliases;  // Names that led there.
  std::vector<HostAddress> addresses;
};

// The names to query for `name`, in order, as glibc's res_search(3) does:
// a name with a final '.' is only itself (without the dot); a name with at
// least `ndots` dots is tried as it is first and then with each search
// domain; a shorter one with each search domain first and as it is last.
std::vector<std::string> SearchCandidates(
    std::string_view name, const std::vector<std::string>& search, int ndots);

// Puts the `prefer_inet6` family first, keeping the order within each
// family (a stable partition).
void OrderAddresses(bool prefer_inet6, std::vector<HostAddress>* addresses);

// One question asked of the servers.
enum class QueryStatus {
  kAnswer,         // NOERROR; the answer may hold nothing of the type.
  kNxDomain,       // NXDOMAIN.
  kServerFailure,  // Every server that answered said SERVFAIL, REFUSED or
                   // NOTIMP (glibc moves on to the next server for those).
  kNoRecovery,     // A server answered FORMERR or an unknown rcode.
  kNoAnswer,       // No server answered (timeouts, errors, no servers).
  kBadName,        // The name cannot be put in a query.
};

struct QueryResult {
  QueryStatus status = QueryStatus::kNoAnswer;
  std::vector<uint8_t> raw;  // The answer as received (kAnswer, kNxDomain,
                             // and the last kServerFailure/kNoRecovery one).
  dns::Message message;      // `raw` parsed.
  int error = 0;             // kNoAnswer: the last transport errno.
};

// One call's resolver.
class Resolver {
 public:
  // `config` and `transport` are borrowed. `read_hosts` gives the hosts
  // file's text (ReadHostsFile(kHostsPath) when null); it is read at most
  // once per Resolver.
  Resolver(ResolverConfigSource* config, DnsTransport* transport,
           std::function<std::string()> read_hosts = nullptr);

  // The families the stack serves and whether IPv6 goes first; both
  // served, IPv4 first, if the stack cannot be asked.
  void Families(bool* inet, bool* inet6, bool* prefer_inet6);

  // Addresses of `name` for the families asked (at least one): the hosts
  // file, else DNS with the search list. kFound fills *out, addresses
  // ordered (OrderAddresses()). kSystem sets *error.
  NameStatus LookupHost(std::string_view name, bool inet, bool inet6,
                        HostResult* out, int* error);

  // The name of `address`: the hosts file, else a PTR query (in-addr.arpa
  // for IPv4 and IPv4-mapped addresses, ip6.arpa otherwise).
  NameStatus LookupAddress(const HostAddress& address, std::string* name,
                           int* error);

  // res_query(3) (`search` false) or res_search(3): the raw answer, in
  // *answer whenever a server answered (also for errors, as glibc leaves
  // it in the caller's buffer). kFound only for NOERROR with answers.
  NameStatus Query(std::string_view name, uint16_t qclass, uint16_t type,
                   bool search, std::vector<uint8_t>* answer, int* error);

  // One question to the servers: each server in turn per round, a
  // truncated UDP answer asked again over TCP, answers matched by id and
  // question.
  QueryResult QueryServers(std::string_view name, uint16_t type,
                           uint16_t qclass);

  // The stack's first search domain ("" if none): the local domain that
  // NI_NOFQDN strips.
  std::string LocalDomain();

 private:
  // Loads the configuration once; false if the stack cannot be asked.
  bool LoadConfig();
  const std::string& Hosts();
  // A and/or AAAA for one fully qualified name. *no_answer: no server
  // answered (the search ends there).
  NameStatus QueryHost(const std::string& name, bool inet, bool inet6,
                       HostResult* out, bool* no_answer, int* error);
  // Tells the config source, once per Resolver, that no server answered.
  void RefreshConfig();

  ResolverConfigSource* config_source_;
  DnsTransport* transport_;
  std::function<std::string()> read_hosts_;
  bool config_loaded_ = false;
  bool config_ok_ = false;
  int config_error_ = 0;
  ResolverConfig config_;
  bool hosts_loaded_ = false;
  std::string hosts_;
  bool refreshed_ = false;
};

// getaddrinfo(3) with glibc's semantics (hints, AI_* flags, services from
// the services database, one result per socket type when none is asked),
// names looked up with `resolver`. Returns 0 and *res, a list that
// freeaddrinfo(3) frees (each node one malloc block, ai_canonname another,
// as glibc's), or EAI_NONAME, EAI_AGAIN, EAI_FAIL, EAI_FAMILY,
// EAI_SOCKTYPE, EAI_SERVICE, EAI_BADFLAGS, EAI_ADDRFAMILY, EAI_MEMORY,
// EAI_SYSTEM (errno set).
int GetAddrInfo(Resolver* resolver, const char* node, const char* service,
                const addrinfo* hints, addrinfo** res);

// freeaddrinfo(3) for lists made by GetAddrInfo() or by glibc.
void FreeAddrInfo(addrinfo* ai);

// getnameinfo(3) for AF_INET and AF_INET6 with glibc's semantics: the host
// by LookupAddress() unless NI_NUMERICHOST (numeric when no name is found,
// unless NI_NAMEREQD: EAI_NONAME), the service from the services database
// unless NI_NUMERICSERV. Returns 0, EAI_BADFLAGS, EAI_FAMILY, EAI_NONAME,
// EAI_AGAIN, EAI_FAIL, EAI_OVERFLOW, EAI_MEMORY, EAI_SYSTEM.
int GetNameInfo(Resolver* resolver, const sockaddr* sa, socklen_t salen,
                char* host, socklen_t hostlen, char* serv, socklen_t servlen,
                int flags);

// gethostbyname2_r(3): `af` AF_INET or AF_INET6; numeric addresses, the
// hosts file, DNS. Returns 0 with *result = ret (found) or null and
// *h_errnop = HOST_NOT_FOUND / NO_DATA; EAGAIN with TRY_AGAIN; ERANGE
// with NETDB_INTERNAL if `buflen` is too small; EAFNOSUPPORT for another
// `af`; another errno with NETDB_INTERNAL or NO_RECOVERY.
int GetHostByName(Resolver* resolver, const char* name, int af, hostent* ret,
                  char* buf, size_t buflen, hostent** result, int* h_errnop);

// res_query(3) / res_search(3): the answer's length (at most `anslen`
// bytes copied; a longer answer is cut and its TC bit set), or -1 with
// *h_errnop (HOST_NOT_FOUND, NO_DATA, TRY_AGAIN, NO_RECOVERY,
// NETDB_INTERNAL with errno).
int ResQuery(Resolver* resolver, const char* name, int qclass, int type,
             bool search, unsigned char* answer, int anslen, int* h_errnop);

}  // namespace stackd::client

#endif  // CLIENT_RESOLVER_H_
