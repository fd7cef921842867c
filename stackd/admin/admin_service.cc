#include "stackd/admin/admin_service.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "proto/admin.grpc.pb.h"

namespace stackd::admin {
namespace {

constexpr absl::string_view kUnixScheme = "unix:";
constexpr mode_t kSocketMode = 0660;

// The file path of a "unix:PATH" or "unix:///ABSOLUTE" endpoint.
absl::StatusOr<std::string> UnixSocketPath(absl::string_view endpoint) {
  absl::string_view path = endpoint.substr(kUnixScheme.size());
  if (absl::StartsWith(path, "//")) {
    path.remove_prefix(2);
    if (!absl::StartsWith(path, "/")) {
      return absl::InvalidArgumentError(
          absl::StrCat(endpoint, ": a unix: endpoint names no host"));
    }
  }
  if (path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(endpoint, ": empty socket path"));
  }
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat(endpoint, ": socket path longer than ",
                     sizeof(sockaddr_un{}.sun_path) - 1, " bytes"));
  }
  return std::string(path);
}

// Removes the socket file at `path` if nothing answers on it; does nothing
// when there is no file. gRPC itself would unlink any socket file before
// binding, including a live stackd's: this check is what prevents that.
absl::Status RemoveStaleSocket(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::ErrnoToStatus(errno, absl::StrCat("stat ", path));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " exists and is not a socket"));
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket(AF_UNIX)");
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
  int rc = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  int connect_errno = errno;
  close(fd);
  // EAGAIN: a listener whose backlog is full, so alive.
  if (rc == 0 || connect_errno == EAGAIN) {
    return absl::AlreadyExistsError(
        absl::StrCat(path, " is in use: a server answers on it"));
  }
  if (connect_errno != ECONNREFUSED) {
    return absl::ErrnoToStatus(connect_errno, absl::StrCat("connect ", path));
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("unlink stale ", path));
  }
  return absl::OkStatus();
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  int code = static_cast<int>(status.code());
  // absl::StatusCode and grpc::StatusCode both number google.rpc.Code.
  static_assert(static_cast<int>(absl::StatusCode::kUnauthenticated) ==
                grpc::StatusCode::UNAUTHENTICATED);
  static_assert(static_cast<int>(absl::StatusCode::kUnavailable) ==
                grpc::StatusCode::UNAVAILABLE);
  if (code < grpc::StatusCode::CANCELLED ||
      code > grpc::StatusCode::UNAUTHENTICATED) {
    code = grpc::StatusCode::UNKNOWN;
  }
  return grpc::Status(static_cast<grpc::StatusCode>(code),
                      std::string(status.message()));
}

AdminService::AdminService(AdminBackend* backend) : backend_(backend) {}

grpc::Status AdminService::GetStack(grpc::ServerContext* /*context*/,
                                    const v1::GetStackRequest* /*request*/,
                                    v1::Stack* response) {
  absl::StatusOr<v1::Stack> stack = backend_->GetStack();
  if (!stack.ok()) return ToGrpcStatus(stack.status());
  *response = *std::move(stack);
  return grpc::Status::OK;
}

grpc::Status AdminService::ListInterfaces(
    grpc::ServerContext* /*context*/,
    const v1::ListInterfacesRequest* /*request*/,
    v1::ListInterfacesResponse* response) {
  absl::StatusOr<v1::Stack> stack = backend_->GetStack();
  if (!stack.ok()) return ToGrpcStatus(stack.status());
  response->mutable_interfaces()->Swap(stack->mutable_interfaces());
  return grpc::Status::OK;
}

grpc::Status AdminService::ListSockets(grpc::ServerContext* /*context*/,
                                       const v1::ListSocketsRequest* /*request*/,
                                       v1::ListSocketsResponse* response) {
  absl::StatusOr<v1::ListSocketsResponse> sockets = backend_->ListSockets();
  if (!sockets.ok()) return ToGrpcStatus(sockets.status());
  *response = *std::move(sockets);
  return grpc::Status::OK;
}

grpc::Status AdminService::KillSocket(grpc::ServerContext* /*context*/,
                                      const v1::KillSocketRequest* request,
                                      v1::KillSocketResponse* response) {
  absl::StatusOr<v1::KillSocketResponse> killed = backend_->KillSocket(request->id());
  if (!killed.ok()) return ToGrpcStatus(killed.status());
  *response = *std::move(killed);
  return grpc::Status::OK;
}

absl::StatusOr<std::unique_ptr<grpc::Server>> StartAdminServer(
    const std::string& endpoint, AdminService* service, int* selected_port) {
  std::string socket_path;
  if (absl::StartsWith(endpoint, kUnixScheme)) {
    absl::StatusOr<std::string> path = UnixSocketPath(endpoint);
    if (!path.ok()) return path.status();
    socket_path = *std::move(path);
    absl::Status removed = RemoveStaleSocket(socket_path);
    if (!removed.ok()) {
      return absl::Status(
          removed.code(),
          absl::StrCat("admin endpoint ", endpoint, ": ", removed.message()));
    }
  }

  // Must precede the builder: the plugin is added to builders made later.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(endpoint, grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("admin endpoint ", endpoint,
                     ": gRPC could not listen on it"));
  }

  if (!socket_path.empty() && chmod(socket_path.c_str(), kSocketMode) != 0) {
    absl::Status status = absl::ErrnoToStatus(
        errno, absl::StrCat("admin endpoint ", endpoint, ": chmod ",
                            socket_path));
    server->Shutdown();
    return status;
  }
  if (selected_port != nullptr) *selected_port = port;
  return server;
}

}  // namespace stackd::admin
