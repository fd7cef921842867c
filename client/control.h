// The control channel: one call to a stack on its PATH. Each call opens its
// own SOCK_SEQPACKET connection, sends one Request (with at most one fd as
// SCM_RIGHTS), reads one Response (with at most one fd) and closes, so
// threads, fork and programs that close every fd never share or lose a
// control connection (docs/socket-protocol.md, "Two kinds of channel").
#ifndef CLIENT_CONTROL_H_
#define CLIENT_CONTROL_H_

#include <cstddef>

#include "proto/socket.pb.h"

namespace stackd::client {

// The largest packet either side sends.
inline constexpr size_t kMaxMessageBytes = 65536;
// How long one call may take, connecting included.
inline constexpr int kControlTimeoutMs = 10000;

// Sends `request` (its version set to PROTOCOL_VERSION_CURRENT here) to the
// stack at `path`, with `fd` as SCM_RIGHTS unless it is -1, and waits for
// the Response. On 0, *response is the answer (its error() is the stack's
// verdict) and *received_fd is -1 or the fd that came with it,
// close-on-exec, owned by the caller; with a null `received_fd` such an fd
// is closed.
//
// Returns 0, or why no answer came:
//   ENOENT, ENOTDIR, EACCES, ENAMETOOLONG: as connect(2) to `path` (an empty
//     `path` is ENOENT).
//   ECONNREFUSED: `path` is a socket nobody listens on (a dead stack).
//   ENOTSOCK, EPROTOTYPE: `path` is not a stack (not a socket, or one of
//     another type).
//   ECONNRESET: the stack closed the connection without answering.
//   ETIMEDOUT: no answer within kControlTimeoutMs.
//   EPROTO: the answer is not a Response (unparsable, truncated, too long,
//     more than one fd).
//   EMFILE, ENFILE, ENOBUFS, ENOMEM: no resources for the call.
// Thread: any. Never raises SIGPIPE. errno is unspecified afterwards.
int ControlCall(const char* path, socket::v1::Request* request, int fd,
                socket::v1::Response* response, int* received_fd);

}  // namespace stackd::client

#endif  // CLIENT_CONTROL_H_
