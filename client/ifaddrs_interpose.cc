// The interface calls under their libc names, for programs that link the
// library or preload it (vustack): a program whose default stack is a
// stackd sees that stack's interfaces (interfaces.h).
//
// getifaddrs: the interfaces of the default stack of each family (one
// AF_PACKET entry per interface, then its addresses of the families that
// stack is the default for); the addresses of a family that stays on the
// kernel are the kernel's. Without a default stack it is libc's.
//
// if_nameindex, if_nametoindex, if_indextoname: the interfaces of the
// IPv6 default stack, else of the IPv4 one (the indexes that the stack's
// scope ids, IP_PKTINFO and multicast options use); else libc's.
//
// A stackd that does not answer InterfacesRequest leaves it to libc, as
// if the stack were not there. freeifaddrs and if_freenameindex are
// libc's: the lists are laid out as glibc's own.

#include <dlfcn.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "client/defaults.h"
#include "client/interfaces.h"

namespace client = stackd::client;
using stackd::socket::v1::InterfaceList;

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

#define LIBC(name, type)                     \
  ([]() {                                    \
    static std::atomic<void*> slot{nullptr}; \
    return Next<type>(&slot, #name);         \
  }())

using GetIfAddrsFn = int (*)(ifaddrs**);
using IfNameIndexFn = struct if_nameindex* (*)();
using IfNameToIndexFn = unsigned int (*)(const char*);
using IfIndexToNameFn = char* (*)(unsigned int, char*);

// The interfaces of the stack at `path`: 0, EOPNOTSUPP (an older stackd:
// use the kernel's) or an errno; exceptions (out of memory) are ENOMEM.
int Interfaces(const char* path, InterfaceList* list) {
  try {
    return client::StackInterfaces(path, list);
  } catch (...) {
    return ENOMEM;
  }
}

// The stack whose interfaces the if_* calls describe, or null.
const char* IndexStack() {
  const char* stack = client::DefaultStack(AF_INET6);
  return stack != nullptr ? stack : client::DefaultStack(AF_INET);
}

// getifaddrs with at least one default stack. Returns 0 or an errno; *out
// null with 0 and `*use_libc` true means "libc's answer".
int StackGetIfAddrs(ifaddrs** out, bool* use_libc) {
  *use_libc = false;
  const char* paths[2] = {client::DefaultStack(AF_INET),
                          client::DefaultStack(AF_INET6)};
  InterfaceList lists[2];
  bool on_stack[2] = {false, false};
  for (int i = 0; i < 2; ++i) {
    if (paths[i] == nullptr) continue;
    if (i == 1 && paths[0] != nullptr && on_stack[0] &&
        std::strcmp(paths[0], paths[1]) == 0) {
      on_stack[1] = true;  // The same stack: asked once.
      continue;
    }
    const int error = Interfaces(paths[i], &lists[i]);
    if (error == EOPNOTSUPP) continue;
    if (error != 0) return error;
    on_stack[i] = true;
  }
  if (!on_stack[0] && !on_stack[1]) {
    *use_libc = true;
    return 0;
  }
  std::vector<client::IfAddrEntry> entries;
  if (on_stack[0] && on_stack[1] && std::strcmp(paths[0], paths[1]) == 0) {
    client::AppendStackEntries(lists[0], true, true, &entries);
  } else {
    if (on_stack[0]) client::AppendStackEntries(lists[0], true, false, &entries);
    if (on_stack[1]) client::AppendStackEntries(lists[1], false, true, &entries);
  }
  if (!on_stack[0] || !on_stack[1]) {
    auto libc_getifaddrs = LIBC(getifaddrs, GetIfAddrsFn);
    ifaddrs* kernel = nullptr;
    if (libc_getifaddrs == nullptr) return ENOSYS;
    if (libc_getifaddrs(&kernel) != 0) return errno;
    client::AppendKernelEntries(kernel, !on_stack[0], !on_stack[1], &entries);
    freeifaddrs(kernel);
  }
  return client::LayOutIfAddrs(entries, out);
}

}  // namespace

#define INTERPOSE extern "C" __attribute__((visibility("default")))

INTERPOSE int getifaddrs(ifaddrs** ifap) __THROW {
  if (client::DefaultStack(AF_INET) != nullptr ||
      client::DefaultStack(AF_INET6) != nullptr) {
    const int saved_errno = errno;
    bool use_libc = false;
    ifaddrs* list = nullptr;
    int error;
    try {
      error = StackGetIfAddrs(&list, &use_libc);
    } catch (...) {
      error = ENOMEM;
    }
    if (!use_libc) {
      if (error != 0) {
        errno = error;
        return -1;
      }
      *ifap = list;
      errno = saved_errno;
      return 0;
    }
  }
  if (auto f = LIBC(getifaddrs, GetIfAddrsFn)) return f(ifap);
  errno = ENOSYS;
  return -1;
}

INTERPOSE struct if_nameindex* if_nameindex() __THROW {
  if (const char* stack = IndexStack()) {
    const int saved_errno = errno;
    InterfaceList list;
    int error = Interfaces(stack, &list);
    if (error != EOPNOTSUPP) {
      struct if_nameindex* array = nullptr;
      if (error == 0) error = client::NameIndex(list, &array);
      errno = error != 0 ? error : saved_errno;
      return error != 0 ? nullptr : array;
    }
  }
  if (auto f = LIBC(if_nameindex, IfNameIndexFn)) return f();
  errno = ENOSYS;
  return nullptr;
}

INTERPOSE unsigned int if_nametoindex(const char* name) __THROW {
  if (const char* stack = IndexStack()) {
    const int saved_errno = errno;
    InterfaceList list;
    const int error = Interfaces(stack, &list);
    if (error != EOPNOTSUPP) {
      if (error != 0) {
        errno = error;
        return 0;
      }
      const unsigned int index = client::IndexOf(list, name);
      errno = index == 0 ? ENODEV : saved_errno;  // As glibc's.
      return index;
    }
  }
  if (auto f = LIBC(if_nametoindex, IfNameToIndexFn)) return f(name);
  errno = ENOSYS;
  return 0;
}

INTERPOSE char* if_indextoname(unsigned int index, char* name) __THROW {
  if (const char* stack = IndexStack()) {
    const int saved_errno = errno;
    InterfaceList list;
    const int error = Interfaces(stack, &list);
    if (error != EOPNOTSUPP) {
      if (error != 0) {
        errno = error;
        return nullptr;
      }
      const std::string* found = client::NameOf(list, index);
      if (found == nullptr || found->size() >= IF_NAMESIZE) {
        errno = ENXIO;  // As glibc's.
        return nullptr;
      }
      std::memcpy(name, found->c_str(), found->size() + 1);
      errno = saved_errno;
      return name;
    }
  }
  if (auto f = LIBC(if_indextoname, IfIndexToNameFn)) return f(index, name);
  errno = ENOSYS;
  return nullptr;
}
