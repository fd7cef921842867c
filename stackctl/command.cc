#include "stackctl/command.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdlib>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "proto/admin.grpc.pb.h"
#include "stackctl/render.h"

namespace stackd::stackctl {
namespace {

constexpr auto kCallTimeout = std::chrono::seconds(5);

// What an operator reads when the call failed.
std::string Explain(const grpc::Status& status, const std::string& endpoint) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::StrCat("no stackd answers at ", endpoint, " (", status.error_message(), ")");
    case grpc::StatusCode::UNIMPLEMENTED:
      return absl::StrCat(endpoint, " is not a stack's admin service (",
                          status.error_message(), ")");
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return status.error_message();
    default:
      return absl::StrCat(endpoint, ": ", status.error_message());
  }
}

template <typename Request, typename Response, typename Call>
int Ask(const std::string& endpoint, Call call, const Request& request, Response* response,
        std::ostream& err) {
  auto channel = grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials());
  auto stub = admin::v1::StackAdmin::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  const grpc::Status status = ((*stub).*call)(&context, request, response);
  if (!status.ok()) {
    err << "stackctl: " << Explain(status, endpoint) << "\n";
    return 1;
  }
  return 0;
}

int UsageError(const std::string& why, std::ostream& err) {
  err << "stackctl: " << why << "\n" << Usage();
  return 2;
}

}  // namespace

std::string Usage() {
  return "usage: stackctl [-s PATH] [--json] show\n"
         "       stackctl [-s PATH] [--json] ss [-i]\n"
         "       stackctl [-s PATH] [--json] kill ID\n"
         "  -s PATH   the stack (default $MSOCKET_STACK_INET); asks PATH.grpc\n"
         "  --json    one JSON object instead of a table\n"
         "  show      the stack, its interfaces and addresses, its routes\n"
         "  ss [-i]   its sockets; -i adds byte counters and queues\n"
         "  kill ID   kills TCP socket ID (as ss lists it), as ss -K: RST to\n"
         "            the peer, ECONNABORTED for its program\n";
}

int RunStackctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string path;
  if (const char* env = std::getenv("MSOCKET_STACK_INET")) path = env;
  bool json = false;
  bool details = false;
  std::string command;
  std::string kill_id;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      out << Usage();
      return 0;
    } else if (a == "-s") {
      if (++i == args.size()) return UsageError("-s needs a PATH", err);
      path = args[i];
    } else if (a == "--json") {
      json = true;
    } else if (a == "-i" && command == "ss") {
      details = true;
    } else if (command.empty() && (a == "show" || a == "ss" || a == "kill")) {
      command = a;
    } else if (command == "kill" && kill_id.empty()) {
      kill_id = a;
    } else {
      return UsageError(absl::StrCat("unknown argument '", a, "'"), err);
    }
  }
  if (command.empty()) return UsageError("which command?", err);
  if (path.empty()) return UsageError("which stack? give -s PATH", err);
  const std::string endpoint = absl::StrCat("unix:", path, ".grpc");

  if (command == "show") {
    admin::v1::Stack stack;
    if (int rc = Ask(endpoint, &admin::v1::StackAdmin::Stub::GetStack,
                     admin::v1::GetStackRequest(), &stack, err)) {
      return rc;
    }
    out << (json ? RenderJson(stack) : RenderStack(stack));
    return 0;
  }
  if (command == "kill") {
    admin::v1::KillSocketRequest request;
    uint64_t id = 0;
    if (kill_id.empty() || !absl::SimpleAtoi(kill_id, &id)) {
      return UsageError("kill needs a socket id (stackctl ss shows them)", err);
    }
    request.set_id(id);
    admin::v1::KillSocketResponse killed;
    if (int rc = Ask(endpoint, &admin::v1::StackAdmin::Stub::KillSocket, request, &killed, err)) {
      return rc;
    }
    out << (json ? RenderJson(killed) : absl::StrCat("killed ", killed.killed(), " socket",
                                                      killed.killed() == 1 ? "" : "s", "\n"));
    return 0;
  }
  admin::v1::ListSocketsResponse sockets;
  if (int rc = Ask(endpoint, &admin::v1::StackAdmin::Stub::ListSockets,
                   admin::v1::ListSocketsRequest(), &sockets, err)) {
    return rc;
  }
  out << (json ? RenderJson(sockets)
               : RenderSockets({sockets.sockets().begin(), sockets.sockets().end()}, details));
  return 0;
}

}  // namespace stackd::stackctl
