// What stackctl prints: the admin service's answers as tables a person
// reads at a glance (as `ip addr` and `ss` print theirs), or as JSON for
// scripts (protobuf's JSON mapping of the same messages).
#ifndef STACKD_STACKCTL_RENDER_H_
#define STACKD_STACKCTL_RENDER_H_

#include <string>
#include <vector>

#include "proto/admin.pb.h"

namespace stackd::stackctl {

// `stackctl show`: the stack (path, versions, uptime), then one block per
// interface with its addresses, then the routes.
std::string RenderStack(const admin::v1::Stack& stack);

// `stackctl ss`: one row per socket under a header, columns aligned:
// Netid State Local Peer Process (as ss), and with `details` the byte
// counters and queues too. A socket with several local addresses (mbind)
// lists them joined by ','.
std::string RenderSockets(const std::vector<admin::v1::Socket>& sockets, bool details);

// One JSON object (`--json`), ending in a newline.
std::string RenderJson(const google::protobuf::Message& message);

}  // namespace stackd::stackctl

#endif  // STACKD_STACKCTL_RENDER_H_
