#include "client/msocket.h"

#include <cerrno>
#include <new>

#include "client/defaults.h"
#include "client/libc.h"
#include "client/stack_socket.h"

extern "C" MSOCKET_EXPORT int msocket(const char* path, int domain, int type,
                                      int protocol) {
  using namespace stackd::client;
  const int saved_errno = errno;
  int error;
  int fd = 0;
  try {
    if (type == SOCK_DEFAULT) {
      error = SetDefaultStack(path, domain);
    } else {
      if (path == nullptr) path = DefaultStack(domain);
      if (path == nullptr) return libc::Socket(domain, type, protocol);
      error = StackSocket(path, domain, type, protocol, &fd);
    }
  } catch (const std::bad_alloc&) {
    error = ENOMEM;
  } catch (...) {
    error = EPROTO;
  }
  if (error != 0) {
    errno = error;
    return -1;
  }
  errno = saved_errno;
  return fd;
}
