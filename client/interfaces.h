// A stack's network interfaces as getifaddrs(3) and if_nameindex(3) return
// them, for programs whose default stack it is (ifaddrs_interpose.cc).
//
// The lists are laid out as glibc lays out its own, so that glibc's
// freeifaddrs(3) and if_freenameindex(3) free them: a getifaddrs list is
// one malloc() block that starts with its first node (glibc's freeifaddrs
// is free()); an if_nameindex array is one malloc() block whose names are
// each their own malloc() (glibc frees each name, then the array).
//
// Thread: any. No function here keeps state.
#ifndef CLIENT_INTERFACES_H_
#define CLIENT_INTERFACES_H_

#include <ifaddrs.h>
#include <net/if.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "proto/socket.pb.h"

namespace stackd::client {

// Asks the stack at `path` for its interfaces (InterfacesRequest). Returns
// 0, EOPNOTSUPP when the stack does not answer the request (a stackd that
// predates it answers EINVAL, or EBADF), or why it got no answer (ENOENT,
// ENOTSUP, ETIMEDOUT, ... as StackSocket()).
int StackInterfaces(const char* path, socket::v1::InterfaceList* list);

// One node of a getifaddrs(3) list before it is laid out.
struct IfAddrEntry {
  std::string name;
  unsigned int flags = 0;
  // Empty (no address) or a whole sockaddr of the entry's family.
  std::string addr;
  std::string netmask;
  std::string broadaddr;  // ifa_broadaddr / ifa_dstaddr (ifa_ifu).
};

// The entries for the interfaces of `list`: for each interface one
// AF_PACKET entry (its MAC and index as a sockaddr_ll), then one per
// address of a family in the set (`inet`, `inet6`), with its netmask and,
// for IPv4 on a broadcast interface, its broadcast address. Addresses
// that are malformed are left out.
void AppendStackEntries(const socket::v1::InterfaceList& list, bool inet,
                        bool inet6, std::vector<IfAddrEntry>* out);

// The AF_INET (if `inet`) and AF_INET6 (if `inet6`) entries of a kernel
// getifaddrs(3) list, copied.
void AppendKernelEntries(const ifaddrs* list, bool inet, bool inet6,
                         std::vector<IfAddrEntry>* out);

// Lays `entries` out as one malloc() block that glibc's freeifaddrs()
// frees; *out is null for no entries. Returns 0 or ENOMEM.
int LayOutIfAddrs(const std::vector<IfAddrEntry>& entries, ifaddrs** out);

// if_nameindex(3) for `list`: malloc()ed as glibc's if_freenameindex()
// expects, ending with {0, NULL}. Returns 0 or ENOMEM.
int NameIndex(const socket::v1::InterfaceList& list, struct if_nameindex** out);

// The index of the interface named `name`, or 0.
unsigned int IndexOf(const socket::v1::InterfaceList& list, const char* name);

// The name of the interface with `index`, or null.
const std::string* NameOf(const socket::v1::InterfaceList& list,
                          unsigned int index);

}  // namespace stackd::client

#endif  // CLIENT_INTERFACES_H_
