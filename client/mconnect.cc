// mconnect(), mconnectx() and mbind(): the C API over StackMConnect and
// StackMBind.
#include <cerrno>
#include <new>

#include "client/msocket.h"
#include "client/stack_name.h"
#include "client/stack_socket.h"

namespace {

using stackd::client::FindStack;
using stackd::client::StackName;

template <typename Call>
int Guarded(Call call) {
  try {
    return call();
  } catch (const std::bad_alloc&) {
    return ENOMEM;
  } catch (...) {
    return EPROTO;
  }
}

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
