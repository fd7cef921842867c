// mconnect(), mconnectx() and mbind(): the C API over StackMConnect and
// StackMBind.
#include <cerrno>
#include <new>

#include <netdb.h>
#include <netinet/in.h>

#include <vector>

#include "client/msocket.h"
#include "client/resolver.h"
#include "client/resolver_stack.h"
#include "client/stack_name.h"
#include "client/guarded.h"
#include "client/stack_socket.h"

namespace {

using stackd::client::FindStack;
using stackd::client::StackName;

using stackd::client::Guarded;

}  // namespace

extern "C" {

MSOCKET_EXPORT int mconnectx(int fd, const struct sockaddr* const addrs[],
                             const socklen_t addrlens[], int naddrs,
                             const struct mconnect_opts* opts) {
  StackName stack;
  if (!FindStack(fd, &stack)) {
    errno = EOPNOTSUPP;
    return -1;
  }
  const int saved_errno = errno;
  int winner = -1;
  const int error = Guarded([&] {
    return stackd::client::StackMConnect(
        fd, stack, addrs, addrlens, naddrs, opts ? opts->stagger_ms : 0,
        opts ? opts->timeout_ms : 0, &winner);
  });
  if (error != 0) {
    errno = error;
    return -1;
  }
  errno = saved_errno;
  return winner >= 0 ? winner : 0;
}

MSOCKET_EXPORT int mconnect(int fd, const struct sockaddr* const addrs[],
                            const socklen_t addrlens[], int naddrs) {
  return mconnectx(fd, addrs, addrlens, naddrs, nullptr);
}

MSOCKET_EXPORT int mconnect_host(int fd, const char* host, const char* service,
                                 const struct mconnect_opts* opts) {
  StackName stack;
  if (!FindStack(fd, &stack)) {
    errno = EOPNOTSUPP;
    return -1;
  }
  if (host == nullptr || service == nullptr) {
    errno = EINVAL;
    return -1;
  }
  int domain = AF_INET;
  socklen_t len = sizeof(domain);
  int v6only = 0;
  socklen_t v6len = sizeof(v6only);
  if (stackd::client::StackGetOpt(fd, stack, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) {
    errno = EOPNOTSUPP;
    return -1;
  }
  if (domain == AF_INET6) {
    stackd::client::StackGetOpt(fd, stack, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &v6len);
  }
  // Resolved through the fd's own stack, whatever the process's default.
  stackd::client::StackConfigSource config(stack.path);
  stackd::client::StackDnsTransport transport(stack.path);
  stackd::client::Resolver resolver(&config, &transport);
  addrinfo hints{};
  hints.ai_family = domain == AF_INET ? AF_INET : (v6only ? AF_INET6 : AF_UNSPEC);
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  int rc = Guarded([&] {
    return stackd::client::GetAddrInfo(&resolver, host, service, &hints, &list);
  });
  if (rc != 0) {
    errno = rc == EAI_AGAIN ? EAGAIN
            : rc == EAI_NONAME ? ENOENT
            : rc == EAI_ADDRFAMILY || rc == EAI_FAMILY ? EHOSTUNREACH
            : rc == EAI_SERVICE ? EINVAL
            : rc == EAI_MEMORY ? ENOMEM
            : rc == EAI_SYSTEM ? errno
                               : EHOSTUNREACH;
    return -1;
  }
  std::vector<const sockaddr*> addrs;
  std::vector<socklen_t> lens;
  for (addrinfo* ai = list; ai != nullptr && addrs.size() < 64; ai = ai->ai_next) {
    addrs.push_back(ai->ai_addr);
    lens.push_back(ai->ai_addrlen);
  }
  int result = -1;
  if (addrs.empty()) {
    errno = EHOSTUNREACH;
  } else {
    result = mconnectx(fd, addrs.data(), lens.data(), static_cast<int>(addrs.size()), opts);
  }
  const int saved = errno;
  stackd::client::FreeAddrInfo(list);
  errno = saved;
  return result;
}

MSOCKET_EXPORT int mbind(int fd, const struct sockaddr* const addrs[],
                         const socklen_t addrlens[], int naddrs) {
  StackName stack;
  if (!FindStack(fd, &stack)) {
    errno = EOPNOTSUPP;
    return -1;
  }
  const int saved_errno = errno;
  const int error = Guarded([&] {
    return stackd::client::StackMBind(fd, stack, addrs, addrlens, naddrs);
  });
  if (error != 0) {
    errno = error;
    return -1;
  }
  errno = saved_errno;
  return 0;
}

}  // extern "C"
