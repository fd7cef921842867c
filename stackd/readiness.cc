#include "stackd/readiness.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace stackd {

absl::StatusOr<Readiness> Readiness::Open(int ready_fd, const char* notify_socket) {
  if (ready_fd >= 0 && fcntl(ready_fd, F_GETFD) < 0) {
    return absl::InvalidArgumentError(absl::StrCat("--ready-fd: fd ", ready_fd, " is not open"));
  }
  int notify_fd = -1;
  if (notify_socket != nullptr && notify_socket[0] != '\0') {
    const size_t len = std::strlen(notify_socket);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if ((notify_socket[0] != '/' && notify_socket[0] != '@') || len >= sizeof(addr.sun_path)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "NOTIFY_SOCKET='", notify_socket, "': not an absolute path or an @abstract name"));
    }
    std::memcpy(addr.sun_path, notify_socket, len);
    if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
    notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (notify_fd < 0) return absl::ErrnoToStatus(errno, "NOTIFY_SOCKET: socket");
    const socklen_t addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
    if (connect(notify_fd, reinterpret_cast<const sockaddr*>(&addr), addr_len) != 0) {
      const int error = errno;
      close(notify_fd);
      return absl::ErrnoToStatus(error, absl::StrCat("NOTIFY_SOCKET='", notify_socket, "'"));
    }
  }
  return Readiness(ready_fd, notify_fd);
}

Readiness::Readiness(Readiness&& other) noexcept
    : ready_fd_(std::exchange(other.ready_fd_, -1)),
      notify_fd_(std::exchange(other.notify_fd_, -1)) {}

Readiness& Readiness::operator=(Readiness&& other) noexcept {
  if (this != &other) {
    if (ready_fd_ >= 0) close(ready_fd_);
    if (notify_fd_ >= 0) close(notify_fd_);
    ready_fd_ = std::exchange(other.ready_fd_, -1);
    notify_fd_ = std::exchange(other.notify_fd_, -1);
  }
  return *this;
}

Readiness::~Readiness() {
  if (ready_fd_ >= 0) close(ready_fd_);
  if (notify_fd_ >= 0) close(notify_fd_);
}

void Readiness::Ready(const std::string& status) {
  if (ready_fd_ >= 0) {
    static constexpr char kLine[] = "READY=1\n";
    // A reader that went away changes nothing for the stack.
    (void)!write(ready_fd_, kLine, sizeof(kLine) - 1);
    close(ready_fd_);
    ready_fd_ = -1;
  }
  Notify(absl::StrCat("READY=1\nSTATUS=", status, "\nMAINPID=", getpid(), "\n"));
}

void Readiness::Stopping(const std::string& status) {
  Notify(absl::StrCat("STOPPING=1\nSTATUS=", status, "\n"));
}

void Readiness::Notify(const std::string& message) {
  if (notify_fd_ < 0) return;
  (void)!send(notify_fd_, message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace stackd
