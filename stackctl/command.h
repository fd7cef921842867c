// stackctl: the operator's view of a stack, through its admin service
// only (gRPC at PATH.grpc; proto/admin.proto).
//
//   stackctl [-s PATH] [--json] show      the stack, its interfaces, routes
//   stackctl [-s PATH] [--json] ss [-i]   its sockets (-i: counters, queues)
//   stackctl [-s PATH] [--json] kill ID   kills TCP socket ID, as ss -K
//
// PATH defaults to $MSOCKET_STACK_INET (what vustack sets). Exit status: 0,
// 1 when the stack cannot be asked (no stackd at PATH.grpc, not a stack's
// admin service, the call refused: no such socket), 2 for a usage error.
#ifndef STACKD_STACKCTL_COMMAND_H_
#define STACKD_STACKCTL_COMMAND_H_

#include <ostream>
#include <string>
#include <vector>

namespace stackd::stackctl {

// Runs stackctl with `args` (without the program name), printing to `out`
// and `err`; returns the exit status.
int RunStackctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// The usage text.
std::string Usage();

}  // namespace stackd::stackctl

#endif  // STACKD_STACKCTL_COMMAND_H_
