#include "stackd/control/path_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace stackd {
namespace {

constexpr mode_t kSocketMode = 0660;

std::string Directory(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Makes room at `path` for a new socket: nothing there is fine, a socket file
// that refuses connections (its stackd is gone) is unlinked, anything else is
// an error.
absl::Status RemoveStaleSocket(const std::string& path,
                               const sockaddr_un& addr) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    const int err = errno;
    // A missing directory is reported by bind().
    if (err == ENOENT) return absl::OkStatus();
    return absl::ErrnoToStatus(err, absl::StrCat("stat ", path));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " exists and is not a socket"));
  }
  const int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe < 0) return absl::ErrnoToStatus(errno, "socket");
  const int rc =
      connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int err = errno;
  close(probe);
  if (rc == 0 || err == EAGAIN) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is served by a live stackd"));
  }
  if (err != ECONNREFUSED) {
    return absl::ErrnoToStatus(err, absl::StrCat("connect ", path));
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno,
                               absl::StrCat("unlink stale socket ", path));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PathSocket> PathSocket::Listen(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path) ||
      path.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid socket path \"", path, "\": 1 to ",
        sizeof(addr.sun_path) - 1, " bytes"));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (absl::Status status = RemoveStaleSocket(path, addr); !status.ok()) {
    return status;
  }

  const int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  absl::Cleanup close_fd = [fd] { close(fd); };
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(
          absl::StrCat("directory ", Directory(path), " does not exist"));
    }
    if (err == EADDRINUSE) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, " was bound by another process while binding it"));
    }
    return absl::ErrnoToStatus(err, absl::StrCat("bind ", path));
  }
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("stat ", path));
  }
  std::move(close_fd).Cancel();
  // From here on the PathSocket owns the fd and the file: errors remove both.
  PathSocket sock(fd, path, st.st_dev, st.st_ino);
  if (chmod(path.c_str(), kSocketMode) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("chmod ", path));
  }
  if (listen(fd, SOMAXCONN) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("listen ", path));
  }
  return sock;
}

PathSocket::PathSocket(int fd, std::string path, dev_t dev, ino_t ino)
    : fd_(fd), path_(std::move(path)), dev_(dev), ino_(ino) {}

PathSocket::PathSocket(PathSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      dev_(other.dev_),
      ino_(other.ino_) {}

PathSocket& PathSocket::operator=(PathSocket&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    dev_ = other.dev_;
    ino_ = other.ino_;
  }
  return *this;
}

PathSocket::~PathSocket() { Close(); }

void PathSocket::Close() {
  if (fd_ < 0) return;
  // Unlink while still listening: a stackd starting meanwhile finds this file
  // live and does not replace it, so the unlink cannot remove its file.
  struct stat st {};
  if (lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ &&
      st.st_ino == ino_) {
    unlink(path_.c_str());
  }
  close(fd_);
  fd_ = -1;
}

}  // namespace stackd
