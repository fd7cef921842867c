// Telling whoever started stackd that it serves, and when it stops:
//   --ready-fd=N   one line ("READY=1") written to fd N, which is then
//                  closed, once PATH and PATH.grpc accept connections (as
//                  slirp4netns's --ready-fd);
//   NOTIFY_SOCKET  systemd's notify protocol (sd_notify(3), the documented
//                  datagram protocol: "READY=1", "STATUS=...",
//                  "STOPPING=1", "MAINPID=N" in one datagram to the
//                  AF_UNIX socket named there, '@' for an abstract name).
//
// Open() takes both before stackd drops its privileges (the notify socket
// may be root's); the messages go later.
//
// Thread: one (the daemon's).
#ifndef STACKD_READINESS_H_
#define STACKD_READINESS_H_

#include <string>

#include "absl/status/statusor.h"

namespace stackd {

class Readiness {
 public:
  // `ready_fd`: -1 for none. `notify_socket`: $NOTIFY_SOCKET, nullptr or ""
  // for none. InvalidArgument: ready_fd is not an open fd; a notify socket
  // name that is not absolute or abstract, or too long. The error of
  // socket(2)/connect(2) otherwise.
  static absl::StatusOr<Readiness> Open(int ready_fd, const char* notify_socket);

  Readiness(Readiness&& other) noexcept;
  Readiness& operator=(Readiness&& other) noexcept;
  Readiness(const Readiness&) = delete;
  Readiness& operator=(const Readiness&) = delete;
  ~Readiness();

  // Serving: the ready line (once), READY=1 with `status` and MAINPID.
  void Ready(const std::string& status);
  // Going away: STOPPING=1 with `status`.
  void Stopping(const std::string& status);

 private:
  Readiness(int ready_fd, int notify_fd) : ready_fd_(ready_fd), notify_fd_(notify_fd) {}
  void Notify(const std::string& message);

  int ready_fd_ = -1;
  int notify_fd_ = -1;
};

}  // namespace stackd

#endif  // STACKD_READINESS_H_
