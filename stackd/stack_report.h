// The admin service's view of a Stack: its interfaces, routes and lwIP's
// counters as a stackd.admin.v1.Stack message.
#ifndef STACKD_STACK_REPORT_H_
#define STACKD_STACK_REPORT_H_

#include <chrono>
#include <string>

#include "proto/admin.pb.h"
#include "stackd/sockets/socket_table.h"
#include "stackd/stack.h"

namespace stackd {

// What the report needs beyond the Stack itself.
struct StackIdentity {
  std::string path;   // The stack's PATH.
  std::string netns;  // Namespace of the TAP's kernel side ("" = ours).
  std::chrono::steady_clock::time_point started;
};

// Describes `stack`. Stack thread only (reads lwIP's state).
admin::v1::Stack DescribeStack(const Stack& stack, const StackIdentity& id);

// The stack's interfaces as the client library shows them to programs
// (getifaddrs, if_nameindex): the link under the TAP's name, lwIP's
// loopback as "lo". Stack thread only.
void DescribeInterfacesForClients(const Stack& stack, socket::v1::InterfaceList* out);

// Lists the sockets in `table`. Stack thread only.
admin::v1::ListSocketsResponse DescribeSockets(const SocketTable& table);

}  // namespace stackd

#endif  // STACKD_STACK_REPORT_H_
