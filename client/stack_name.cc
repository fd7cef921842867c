#include "client/stack_name.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace stackd::client {
namespace {

constexpr char kPrefix[] = "stackd/";
constexpr size_t kPrefixLen = sizeof(kPrefix) - 1;
// Digits of the largest uint64_t.
constexpr size_t kMaxIdDigits = 20;

}  // namespace

bool ParseStackName(const sockaddr_un& addr, socklen_t len, StackName* out) {
  constexpr size_t kPathOffset = offsetof(sockaddr_un, sun_path);
  if (len <= kPathOffset + 1 || len > sizeof(addr)) return false;
  if (addr.sun_family != AF_UNIX || addr.sun_path[0] != '\0') return false;
  const char* name = addr.sun_path + 1;
  const size_t name_len = len - kPathOffset - 1;
  if (name_len <= kPrefixLen || std::memcmp(name, kPrefix, kPrefixLen) != 0) {
    return false;
  }
  size_t i = kPrefixLen;
  uint64_t id = 0;
  size_t digits = 0;
  for (; i < name_len && name[i] >= '0' && name[i] <= '9'; ++i, ++digits) {
    const uint64_t digit = static_cast<uint64_t>(name[i] - '0');
    if (digits >= kMaxIdDigits || id > (UINT64_MAX - digit) / 10) return false;
    id = id * 10 + digit;
  }
  if (digits == 0 || i >= name_len || name[i] != '/') return false;
  ++i;
  const size_t path_len = name_len - i;
  if (path_len == 0 || path_len >= sizeof(out->path)) return false;
  if (std::memchr(name + i, '\0', path_len) != nullptr) return false;
  out->id = id;
  std::memcpy(out->path, name + i, path_len);
  out->path[path_len] = '\0';
  return true;
}

bool FindStack(int fd, StackName* out) {
  const int saved_errno = errno;
  sockaddr_un addr;
  socklen_t len = sizeof(addr);
  const bool found = syscall(SYS_getpeername, fd, &addr, &len) == 0 &&
                     ParseStackName(addr, len, out);
  errno = saved_errno;
  return found;
}

}  // namespace stackd::client
