// The resolver's view of a stack (resolver.h): the stack's resolver
// settings from its HelloResponse, cached per process and stack path, and
// DNS exchanges over sockets of that stack: msocket(stack, family,
// SOCK_DGRAM) for UDP, SOCK_STREAM for TCP, driven through the library's
// own socket calls (interpose.cc), so no packet leaves through the kernel's
// stack.
//
// Thread: any. The cache is shared by the process's threads (a mutex kept
// consistent across fork); each exchange uses its own sockets.
#ifndef CLIENT_RESOLVER_STACK_H_
#define CLIENT_RESOLVER_STACK_H_

#include <string>

#include "client/resolver.h"

namespace stackd::client {

// The stack that resolves names for a lookup of `family` (AF_UNSPEC,
// AF_INET or AF_INET6): that family's default stack (defaults.h), else the
// other family's; null if the process has no default stack (libc then
// resolves as usual).
const char* ResolverStack(int family);

// The configuration of the stack at `path`: HelloResponse's dns_servers
// (port 53 when the answer says 0), search_domains and families, with the
// resolver's timeouts. Asked once per process and path, again after
// Refresh(). Errors of Get(): those of StackHello() (ENOENT, ENOTSUP,
// ETIMEDOUT, EMFILE, ...).
class StackConfigSource : public ResolverConfigSource {
 public:
  explicit StackConfigSource(std::string path) : path_(std::move(path)) {}
  int Get(ResolverConfig* config) override;
  void Refresh() override;

 private:
  std::string path_;
};

// DNS over the stack at `path`. ExchangeUdp() opens a datagram socket on
// the stack for the server's family, sends the query to the server and
// reads datagrams until one from the server's address and port is
// accepted. ExchangeTcp() connects a stream socket to the server and
// exchanges one length-prefixed message each way. Every wait ends at the
// deadline (ETIMEDOUT); the sockets are closed before returning.
class StackDnsTransport : public DnsTransport {
 public:
  explicit StackDnsTransport(std::string path) : path_(std::move(path)) {}
  int ExchangeUdp(
      const DnsServerAddress& server, const std::vector<uint8_t>& query,
      int64_t deadline_ms,
      const std::function<bool(const std::vector<uint8_t>&)>& accept,
      std::vector<uint8_t>* reply) override;
  int ExchangeTcp(const DnsServerAddress& server,
                  const std::vector<uint8_t>& query, int64_t deadline_ms,
                  std::vector<uint8_t>* reply) override;

 private:
  std::string path_;
};

}  // namespace stackd::client

#endif  // CLIENT_RESOLVER_STACK_H_
