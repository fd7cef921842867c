#include "client/defaults.h"

#include <limits.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "client/stack_socket.h"

namespace stackd::client {
namespace {

const char* FamilyEnv(int domain) {
  switch (domain) {
    case AF_INET:
      return kStackInetEnv;
    case AF_INET6:
      return kStackInet6Env;
    default:
      return nullptr;
  }
}

// `path` made absolute against the working directory, so that programs
// that change directory (or inherit the default) still find the stack.
int AbsolutePath(const char* path, std::string* out) {
  if (path[0] == '/') {
    *out = path;
    return 0;
  }
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) return errno;
  *out = cwd;
  if (out->back() != '/') out->push_back('/');
  out->append(path);
  return 0;
}

int SetEnv(const char* name, const char* value) {
  return setenv(name, value, 1) == 0 ? 0 : errno;
}

// Makes the kernel's stack the default for `domain` again.
int ClearDefault(int domain) {
  if (domain == AF_UNSPEC) {
    unsetenv(kStackEnv);
    unsetenv(kStackInetEnv);
    unsetenv(kStackInet6Env);
    return 0;
  }
  const char* all = getenv(kStackEnv);
  if (all != nullptr && all[0] != '\0') {
    return SetEnv(FamilyEnv(domain), "");  // Overrides MSOCKET_STACK.
  }
  unsetenv(FamilyEnv(domain));
  return 0;
}

}  // namespace

const char* DefaultStack(int domain) {
  const char* name = FamilyEnv(domain);
  if (name == nullptr) return nullptr;
  const char* path = getenv(name);
  if (path == nullptr) path = getenv(kStackEnv);
  return path != nullptr && path[0] != '\0' ? path : nullptr;
}

int SetDefaultStack(const char* path, int domain) {
  if (domain != AF_UNSPEC && FamilyEnv(domain) == nullptr) {
    return EAFNOSUPPORT;
  }
  if (path == nullptr) return ClearDefault(domain);
  if (path[0] == '\0') return ENOENT;
  std::string absolute;
  if (int error = AbsolutePath(path, &absolute)) return error;
  socket::v1::HelloResponse hello;
  if (int error = StackHello(absolute.c_str(), &hello)) return error;
  bool inet = false;
  bool inet6 = false;
  for (int family : hello.families()) {
    inet = inet || family == AF_INET;
    inet6 = inet6 || family == AF_INET6;
  }
  const bool want_inet = domain == AF_INET || domain == AF_UNSPEC;
  const bool want_inet6 = domain == AF_INET6 || domain == AF_UNSPEC;
  if (!(want_inet && inet) && !(want_inet6 && inet6)) return EAFNOSUPPORT;
  if (want_inet && inet) {
    if (int error = SetEnv(kStackInetEnv, absolute.c_str())) return error;
  }
  if (want_inet6 && inet6) {
    if (int error = SetEnv(kStackInet6Env, absolute.c_str())) return error;
  }
  return 0;
}

}  // namespace stackd::client
