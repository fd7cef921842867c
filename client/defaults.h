// The process's default stacks, kept in the environment so that fork and
// exec inherit them (vustack sets them for the programs it runs):
//   MSOCKET_STACK_INET, MSOCKET_STACK_INET6: the stack for that family;
//   MSOCKET_STACK: the stack for both, where the family's own is unset.
// A family's variable that is set but empty means "the kernel's stack",
// even when MSOCKET_STACK is set.
#ifndef CLIENT_DEFAULTS_H_
#define CLIENT_DEFAULTS_H_

namespace stackd::client {

inline constexpr char kStackEnv[] = "MSOCKET_STACK";
inline constexpr char kStackInetEnv[] = "MSOCKET_STACK_INET";
inline constexpr char kStackInet6Env[] = "MSOCKET_STACK_INET6";

// The default stack's path for `domain`, or null: the kernel serves the
// family (no default, or `domain` is neither AF_INET nor AF_INET6). The
// pointer is into the environment; valid until it changes.
const char* DefaultStack(int domain);

// msocket(path, domain, SOCK_DEFAULT, 0): checks that `path` is a stack
// (HelloRequest) that serves `domain` and makes it the default for
// `domain` (AF_UNSPEC: every family it serves). A null `path` makes the
// kernel's stack the default again. A relative `path` is stored absolute.
// Returns 0 or: EAFNOSUPPORT (`domain` is not AF_UNSPEC, AF_INET or
// AF_INET6, or the stack does not serve it), ENOENT (no such path),
// ENOTSUP (not a stack), ENOMEM, or the control call's own errors.
// Thread: as setenv(3): not while other threads read the environment.
int SetDefaultStack(const char* path, int domain);

}  // namespace stackd::client

#endif  // CLIENT_DEFAULTS_H_
