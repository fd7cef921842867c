// The stack's PATH endpoint (e.g. /dev/net/mynet): the listening Unix seqpacket
// socket on which the client library connects to speak the socket protocol.
// The file's mode (0660) and SO_PEERCRED decide who may use the stack.
//
// PathSocket::Listen() takes the path over from a stackd that crashed, never
// from a live one, and the socket file goes away with the PathSocket.
#ifndef STACKD_CONTROL_PATH_SOCKET_H_
#define STACKD_CONTROL_PATH_SOCKET_H_

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"

namespace stackd {

// A listening socket bound at a path. Movable, not copyable.
class PathSocket {
 public:
  // Binds a Unix seqpacket socket at `path`, gives the file mode 0660 (whatever
  // the umask) and then listens, so no one connects before the mode is set.
  // The fd is non-blocking and close-on-exec. A relative `path` is resolved
  // against the working directory, at this call and in the destructor.
  //
  // If a socket file is already at `path`, Listen() connects to it: if it
  // answers (or its backlog is full), another stackd serves the path and
  // Listen() fails, leaving the file alone; that stackd sees one connection
  // that closes at once. If the connection is refused, the file is stale (its
  // stackd died) and Listen() replaces it. Two stackds started at the same
  // moment on one stale path may both replace it; start one per path.
  //
  // Thread: any.
  //
  // Errors:
  //   InvalidArgument: `path` is empty, holds '\0' or is longer than
  //     sockaddr_un allows (107 bytes).
  //   FailedPrecondition: `path` is served by a live stackd, or became bound
  //     while this call was binding it; `path` exists and is not a socket.
  //   NotFound: the directory of `path` does not exist.
  //   PermissionDenied: the directory or the existing socket is not
  //     accessible.
  //   Others: as errno maps to absl::StatusCode.
  static absl::StatusOr<PathSocket> Listen(const std::string& path);

  PathSocket(PathSocket&& other) noexcept;
  PathSocket& operator=(PathSocket&& other) noexcept;
  PathSocket(const PathSocket&) = delete;
  PathSocket& operator=(const PathSocket&) = delete;

  // Unlinks the socket file if it is still the one Listen() created (not a
  // file someone put there since), then closes the fd.
  ~PathSocket();

  // The listening fd; -1 after a move.
  int fd() const { return fd_; }
  // The path as given to Listen().
  const std::string& path() const { return path_; }

 private:
  PathSocket(int fd, std::string path, dev_t dev, ino_t ino);
  void Close();

  int fd_ = -1;
  std::string path_;
  // Identity of the socket file that Listen() created.
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

}  // namespace stackd

#endif  // STACKD_CONTROL_PATH_SOCKET_H_
