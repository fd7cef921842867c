// RootHelper: the two things stackd still needs root for once it has
// dropped it (stackd/sandbox.h), done by a small process forked before the
// drop that keeps root and does nothing else:
// - socketpairs whose stackd end has buffers above net.core.wmem_max /
//   rmem_max (SO_SNDBUFFORCE, SO_RCVBUFFORCE need CAP_NET_ADMIN), so the
//   pair is not the bottleneck between lwIP and the application;
// - removing the stack's socket files (PATH, PATH.grpc) when stackd ends,
//   from a directory stackd may no longer write. Finish() (an orderly exit)
//   asks for it and waits; if stackd dies any other way (a crash, kill -9)
//   the helper sees its end of their socketpair close and removes them on
//   its own. A file is removed only if it is still the one stackd made
//   (same device and inode), so a newer stackd's files are left alone.
//
// The helper reads one kind of request from one peer (stackd): a byte that
// names a socket type. It makes only async-signal-safe calls, so Start()
// is safe in a threaded process.
//
// Thread: MakePair() and Finish() from one thread at a time (the stack
// thread).
#ifndef STACKD_ROOT_HELPER_H_
#define STACKD_ROOT_HELPER_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace stackd {

class RootHelper {
 public:
  // Forks the helper, which removes `paths` (each must exist now) at the
  // end. Errors: the errno of lstat, socketpair or fork.
  static absl::StatusOr<RootHelper> Start(const std::vector<std::string>& paths);

  RootHelper(RootHelper&& other) noexcept;
  RootHelper& operator=(RootHelper&&) = delete;
  // Without Finish(), leaving closes the connection: the helper removes the
  // files and exits.
  ~RootHelper();

  // A new socketpair of `type` (SOCK_STREAM or SOCK_SEQPACKET, close-on-exec)
  // whose fds[0] has send and receive buffers of `buffer_bytes`. Returns 0
  // or an errno (EPIPE if the helper is gone).
  int MakePair(int type, int buffer_bytes, int fds[2]);

  // Asks the helper to remove the files now and waits for it (at most 2 s).
  void Finish();

  pid_t pid() const { return pid_; }

 private:
  RootHelper(pid_t pid, int fd) : pid_(pid), fd_(fd) {}
  pid_t pid_;
  int fd_;  // SOCK_SEQPACKET to the helper.
};

}  // namespace stackd

#endif  // STACKD_ROOT_HELPER_H_
