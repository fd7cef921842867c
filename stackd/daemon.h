// The stackd daemon: brings up the TAP, the lwIP stack, the client socket
// at PATH and the gRPC admin service, then runs the stack thread until
// SIGINT or SIGTERM.
#ifndef STACKD_DAEMON_H_
#define STACKD_DAEMON_H_

#include "absl/status/status.h"
#include "stackd/config.h"

namespace stackd {

// Runs one stack as configured. The calling thread becomes the stack thread
// (it owns lwIP). Returns OK after a clean shutdown by signal, having
// removed PATH, the admin socket and a TAP it created; otherwise the error
// that stopped it (the TAP, PATH or the admin endpoint could not be set up).
absl::Status RunStackd(const StackConfig& config);

}  // namespace stackd

#endif  // STACKD_DAEMON_H_
