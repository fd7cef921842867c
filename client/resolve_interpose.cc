// The name-resolution calls under their libc names, for programs that link
// the library or preload it (vustack): for a process with a default stack
// (defaults.h) they resolve through that stack (resolver.h,
// resolver_stack.h); otherwise, and for families other than AF_INET and
// AF_INET6, they are libc's, found with dlsym(RTLD_NEXT).
//
// Interposed: getaddrinfo, freeaddrinfo, gethostbyname, gethostbyname2,
// gethostbyname_r, gethostbyname2_r, getnameinfo, res_query, res_search and
// their aliases (__res_query, __res_search, res_nquery, res_nsearch,
// __res_nquery, __res_nsearch; the res_state of the res_n* calls is
// ignored: the stack's settings apply). gai_strerror is libc's: the error
// codes are glibc's own.
//
// freeaddrinfo frees lists of both origins: the library allocates them as
// glibc does (one malloc block per node, one for ai_canonname).

#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <new>
#include <vector>

#include "client/resolver.h"
#include "client/resolver_stack.h"

namespace client = stackd::client;

namespace {

// The next definition of `name` (libc's), resolved once; null if none.
template <typename F>
F Next(std::atomic<void*>* slot, const char* name) {
  void* f = slot->load(std::memory_order_acquire);
  if (f == nullptr) {
    f = dlsym(RTLD_NEXT, name);
    if (f != nullptr) slot->store(f, std::memory_order_release);
  }
  return reinterpret_cast<F>(f);
}

#define LIBC(name, type)                          \
  ([]() {                                         \
    static std::atomic<void*> slot{nullptr};      \
    return Next<type>(&slot, #name);              \
  }())

using GetAddrInfoFn = int (*)(const char*, const char*, const addrinfo*,
                              addrinfo**);
using GetHostByNameFn = hostent* (*)(const char*);
using GetHostByName2Fn = hostent* (*)(const char*, int);
using GetHostByNameRFn = int (*)(const char*, hostent*, char*, size_t,
                                 hostent**, int*);
using GetHostByName2RFn = int (*)(const char*, int, hostent*, char*, size_t,
                                  hostent**, int*);
using GetNameInfoFn = int (*)(const sockaddr*, socklen_t, char*, socklen_t,
                              char*, socklen_t, int);
using ResQueryFn = int (*)(const char*, int, int, unsigned char*, int);

// The resolver parts for one call on `stack`.
struct StackResolver {
  explicit StackResolver(const char* stack)
      : config(stack), transport(stack), resolver(&config, &transport) {}
  client::StackConfigSource config;
  client::StackDnsTransport transport;
  client::Resolver resolver;
};

// gethostbyname2_r on the stack, with C++ exceptions (out of memory)
// turned into errors.
int HostByNameOnStack(const char* stack, const char* name, int af,
                      hostent* ret, char* buf, size_t buflen,
                      hostent** result, int* h_errnop) {
  try {
    StackResolver r(stack);
    return client::GetHostByName(&r.resolver, name, af, ret, buf, buflen,
                                 result, h_errnop);
  } catch (...) {
    *result = nullptr;
    *h_errnop = NETDB_INTERNAL;
    return ENOMEM;
  }
}

// gethostbyname's static answer: one per thread.
struct HostBuffer {
  hostent host;
  std::vector<char> data;
};
// The largest buffer an answer may take (a 64 KiB DNS answer fits).
constexpr size_t kMaxHostBuffer = 1 << 20;

// gethostbyname2 on `stack`, with the per-thread answer.
hostent* HostByName(const char* stack, const char* name, int af) {
  thread_local HostBuffer buffer;
  const int saved_errno = errno;
  int h_error = 0;
  hostent* result = nullptr;
  size_t size = buffer.data.size() < 1024 ? 1024 : buffer.data.size();
  for (;;) {
    try {
      buffer.data.resize(size);
    } catch (...) {
      h_errno = NETDB_INTERNAL;
      errno = ENOMEM;
      return nullptr;
    }
    const int error =
        HostByNameOnStack(stack, name, af, &buffer.host, buffer.data.data(),
                          buffer.data.size(), &result, &h_error);
    if (error == ERANGE && size < kMaxHostBuffer) {
      size *= 4;
      continue;
    }
    if (result == nullptr) {
      h_errno = h_error;
      if (h_error == NETDB_INTERNAL) {
        errno = error;
      } else {
        errno = saved_errno;
      }
      return nullptr;
    }
    errno = saved_errno;
    return result;
  }
}

// gethostbyname2_r on `stack`.
int HostByNameR(const char* stack, const char* name, int af, hostent* ret,
                char* buf, size_t buflen, hostent** result, int* h_errnop) {
  const int saved_errno = errno;
  const int error =
      HostByNameOnStack(stack, name, af, ret, buf, buflen, result, h_errnop);
  errno = error != 0 ? error : saved_errno;
  return error;
}

// res_query / res_search on the stack (or libc's `fallback`).
int Query(const char* name, int qclass, int type, unsigned char* answer,
          int anslen, bool search, ResQueryFn fallback) {
  const char* stack = client::ResolverStack(AF_UNSPEC);
  if (stack == nullptr) {
    if (fallback != nullptr) return fallback(name, qclass, type, answer, anslen);
    h_errno = NO_RECOVERY;
    return -1;
  }
  const int saved_errno = errno;
  int h_error = 0;
  int n;
  try {
    StackResolver r(stack);
    n = client::ResQuery(&r.resolver, name, qclass, type, search, answer,
                         anslen, &h_error);
  } catch (...) {
    h_errno = NETDB_INTERNAL;
    errno = ENOMEM;
    return -1;
  }
  if (n < 0) {
    h_errno = h_error;
    if (h_error != NETDB_INTERNAL) errno = saved_errno;
  } else {
    errno = saved_errno;
  }
  return n;
}

int ResQueryCall(const char* name, int qclass, int type, unsigned char* answer,
                 int anslen) {
  return Query(name, qclass, type, answer, anslen, false,
               LIBC(res_query, ResQueryFn));
}

int ResSearchCall(const char* name, int qclass, int type,
                  unsigned char* answer, int anslen) {
  return Query(name, qclass, type, answer, anslen, true,
               LIBC(res_search, ResQueryFn));
}

}  // namespace

#define INTERPOSE extern "C" __attribute__((visibility("default")))

INTERPOSE int getaddrinfo(const char* node, const char* service,
                          const addrinfo* hints, addrinfo** res) {
  const char* stack =
      client::ResolverStack(hints != nullptr ? hints->ai_family : AF_UNSPEC);
  if (stack == nullptr) {
    if (auto f = LIBC(getaddrinfo, GetAddrInfoFn)) {
      return f(node, service, hints, res);
    }
    return EAI_SYSTEM;
  }
  const int saved_errno = errno;
  int result;
  try {
    StackResolver r(stack);
    result = client::GetAddrInfo(&r.resolver, node, service, hints, res);
  } catch (const std::bad_alloc&) {
    result = EAI_MEMORY;
  } catch (...) {
    result = EAI_FAIL;
  }
  if (result != EAI_SYSTEM) errno = saved_errno;
  return result;
}

INTERPOSE void freeaddrinfo(addrinfo* ai) __THROW { client::FreeAddrInfo(ai); }

INTERPOSE hostent* gethostbyname(const char* name) {
  const char* stack = client::ResolverStack(AF_INET);
  if (stack != nullptr) return HostByName(stack, name, AF_INET);
  if (auto f = LIBC(gethostbyname, GetHostByNameFn)) return f(name);
  h_errno = NO_RECOVERY;
  return nullptr;
}

INTERPOSE hostent* gethostbyname2(const char* name, int af) {
  const char* stack = client::ResolverStack(af);
  if (stack != nullptr) return HostByName(stack, name, af);
  if (auto f = LIBC(gethostbyname2, GetHostByName2Fn)) return f(name, af);
  h_errno = NO_RECOVERY;
  return nullptr;
}

INTERPOSE int gethostbyname_r(const char* name, hostent* ret, char* buf,
                              size_t buflen, hostent** result, int* h_errnop) {
  const char* stack = client::ResolverStack(AF_INET);
  if (stack != nullptr) {
    return HostByNameR(stack, name, AF_INET, ret, buf, buflen, result,
                       h_errnop);
  }
  if (auto f = LIBC(gethostbyname_r, GetHostByNameRFn)) {
    return f(name, ret, buf, buflen, result, h_errnop);
  }
  *result = nullptr;
  *h_errnop = NO_RECOVERY;
  return ENOSYS;
}

INTERPOSE int gethostbyname2_r(const char* name, int af, hostent* ret,
                               char* buf, size_t buflen, hostent** result,
                               int* h_errnop) {
  const char* stack = client::ResolverStack(af);
  if (stack != nullptr) {
    return HostByNameR(stack, name, af, ret, buf, buflen, result, h_errnop);
  }
  if (auto f = LIBC(gethostbyname2_r, GetHostByName2RFn)) {
    return f(name, af, ret, buf, buflen, result, h_errnop);
  }
  *result = nullptr;
  *h_errnop = NO_RECOVERY;
  return ENOSYS;
}

INTERPOSE int getnameinfo(const sockaddr* sa, socklen_t salen, char* host,
                          socklen_t hostlen, char* serv, socklen_t servlen,
                          int flags) {
  const int family =
      sa != nullptr && salen >= sizeof(sa_family_t) ? sa->sa_family : AF_UNSPEC;
  const char* stack = family == AF_INET || family == AF_INET6
                          ? client::ResolverStack(family)
                          : nullptr;
  if (stack == nullptr) {
    if (auto f = LIBC(getnameinfo, GetNameInfoFn)) {
      return f(sa, salen, host, hostlen, serv, servlen, flags);
    }
    return EAI_SYSTEM;
  }
  const int saved_errno = errno;
  int result;
  try {
    StackResolver r(stack);
    result = client::GetNameInfo(&r.resolver, sa, salen, host, hostlen, serv,
                                 servlen, flags);
  } catch (const std::bad_alloc&) {
    result = EAI_MEMORY;
  } catch (...) {
    result = EAI_FAIL;
  }
  if (result != EAI_SYSTEM) errno = saved_errno;
  return result;
}

INTERPOSE int res_query(const char* name, int qclass, int type,
                        unsigned char* answer, int anslen) __THROW {
  return ResQueryCall(name, qclass, type, answer, anslen);
}

INTERPOSE int __res_query(const char* name, int qclass, int type,
                          unsigned char* answer, int anslen) {
  return ResQueryCall(name, qclass, type, answer, anslen);
}

INTERPOSE int res_search(const char* name, int qclass, int type,
                         unsigned char* answer, int anslen) __THROW {
  return ResSearchCall(name, qclass, type, answer, anslen);
}

INTERPOSE int __res_search(const char* name, int qclass, int type,
                           unsigned char* answer, int anslen) {
  return ResSearchCall(name, qclass, type, answer, anslen);
}

// res_n*: the stack's settings replace those of `state`. Without a default
// stack they are libc's, with `state`.
using ResNQueryFn = int (*)(res_state, const char*, int, int, unsigned char*,
                            int);

INTERPOSE int res_nquery(res_state state, const char* name, int qclass,
                         int type, unsigned char* answer, int anslen) __THROW {
  if (client::ResolverStack(AF_UNSPEC) == nullptr) {
    if (auto f = LIBC(res_nquery, ResNQueryFn)) {
      return f(state, name, qclass, type, answer, anslen);
    }
  }
  return ResQueryCall(name, qclass, type, answer, anslen);
}

INTERPOSE int __res_nquery(res_state state, const char* name, int qclass,
                           int type, unsigned char* answer, int anslen) {
  return res_nquery(state, name, qclass, type, answer, anslen);
}

INTERPOSE int res_nsearch(res_state state, const char* name, int qclass,
                          int type, unsigned char* answer, int anslen) __THROW {
  if (client::ResolverStack(AF_UNSPEC) == nullptr) {
    if (auto f = LIBC(res_nsearch, ResNQueryFn)) {
      return f(state, name, qclass, type, answer, anslen);
    }
  }
  return ResSearchCall(name, qclass, type, answer, anslen);
}

INTERPOSE int __res_nsearch(res_state state, const char* name, int qclass,
                            int type, unsigned char* answer, int anslen) {
  return res_nsearch(state, name, qclass, type, answer, anslen);
}
