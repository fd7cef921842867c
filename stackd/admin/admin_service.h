// The gRPC admin service of stackd (stackd.admin.v1.StackAdmin, see
// proto/admin.proto) and the server that publishes it on the stack's admin
// endpoint, with server reflection so that generic clients (grpcurl,
// tests/grpc_reflection_client.py) work without our .proto files.
//
// The service never touches lwIP: it asks an AdminBackend, which the daemon
// implements by posting to the stack thread and waiting for the answer.
#ifndef STACKD_ADMIN_ADMIN_SERVICE_H_
#define STACKD_ADMIN_ADMIN_SERVICE_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "proto/admin.grpc.pb.h"

namespace stackd::admin {

// What the admin service needs from the stack.
class AdminBackend {
 public:
  virtual ~AdminBackend() = default;

  // A snapshot of the stack, taken at one moment on the stack thread.
  // Called on gRPC's threads, possibly from several at once; the
  // implementation posts to the stack thread and blocks until it answers.
  // Errors are passed to the gRPC client with the same code, e.g.
  // absl::UnavailableError when the stack thread is gone or does not answer.
  virtual absl::StatusOr<v1::Stack> GetStack() = 0;

  // Every socket of the stack, from the stack thread. Same contract.
  virtual absl::StatusOr<v1::ListSocketsResponse> ListSockets() = 0;

  // Kills socket `id` (proto/admin.proto, KillSocket). Same contract;
  // NotFound, FailedPrecondition as the RPC says.
  virtual absl::StatusOr<v1::KillSocketResponse> KillSocket(uint64_t id) = 0;
};

// The StackAdmin service over an AdminBackend. Thread-safe: handlers run on
// gRPC's threads and only call the backend.
class AdminService final : public v1::StackAdmin::Service {
 public:
  // `backend` must outlive the service.
  explicit AdminService(AdminBackend* backend);

  AdminService(const AdminService&) = delete;
  AdminService& operator=(const AdminService&) = delete;

  // The backend's snapshot, or its error as a gRPC status.
  grpc::Status GetStack(grpc::ServerContext* context,
                        const v1::GetStackRequest* request,
                        v1::Stack* response) override;

  // The interfaces of the backend's snapshot, or its error as a gRPC status.
  grpc::Status ListInterfaces(grpc::ServerContext* context,
                              const v1::ListInterfacesRequest* request,
                              v1::ListInterfacesResponse* response) override;
  grpc::Status ListSockets(grpc::ServerContext* context,
                           const v1::ListSocketsRequest* request,
                           v1::ListSocketsResponse* response) override;
  grpc::Status KillSocket(grpc::ServerContext* context, const v1::KillSocketRequest* request,
                          v1::KillSocketResponse* response) override;

 private:
  AdminBackend* const backend_;
};

// `status` as a gRPC status with the same code and message. absl and gRPC
// share google.rpc.Code's numbering; a code outside it becomes UNKNOWN.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Starts a gRPC server that serves `service` and server reflection on
// `endpoint`, in gRPC's address syntax: "unix:/dev/net/mynet.grpc",
// "127.0.0.1:0", "[::1]:50051". `service` must outlive the server. Stores
// the bound TCP port in `*selected_port` when it is not null (useful with
// port 0; gRPC reports 1 for unix: endpoints).
//
// For a "unix:PATH" endpoint: a socket file already at PATH is removed only
// if nothing answers on it (a stale file left by a crashed stackd); the new
// socket file gets mode 0660. The file exists with the process umask's mode
// for a moment before the chmod, so run stackd with a umask that denies
// others (e.g. 007). gRPC removes the file when the server shuts down.
//
// Errors, each naming the endpoint:
//   ALREADY_EXISTS      something answers on PATH (another stackd?).
//   FAILED_PRECONDITION PATH exists and is not a socket.
//   INVALID_ARGUMENT    PATH is empty or too long for a unix socket address.
//   UNAVAILABLE         gRPC could not listen on the endpoint (address in
//                       use, no such directory, permission denied, bad
//                       syntax; gRPC does not say which).
//   other codes         from stat, connect, unlink or chmod on PATH
//                       (absl::ErrnoToStatus).
absl::StatusOr<std::unique_ptr<grpc::Server>> StartAdminServer(
    const std::string& endpoint, AdminService* service,
    int* selected_port = nullptr);

}  // namespace stackd::admin

#endif  // STACKD_ADMIN_ADMIN_SERVICE_H_
