#include "tests/admin_client.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "proto/admin.grpc.pb.h"

namespace stackd::testbed {
namespace {

// One channel per endpoint, kept for the process's life.
std::shared_ptr<grpc::Channel> ChannelTo(const std::string& endpoint) {
  static std::mutex mu;
  static auto* channels =
      new std::map<std::string, std::shared_ptr<grpc::Channel>>();
  std::lock_guard<std::mutex> lock(mu);
  auto& channel = (*channels)[endpoint];
  if (channel == nullptr) {
    channel = grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials());
  }
  return channel;
}

}  // namespace

absl::StatusOr<std::vector<admin::v1::Socket>> ListSockets(
    const std::string& endpoint, absl::Duration timeout) {
  auto stub = admin::v1::StackAdmin::NewStub(ChannelTo(endpoint));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(timeout));
  admin::v1::ListSocketsResponse response;
  const grpc::Status status =
      stub->ListSockets(&context, admin::v1::ListSocketsRequest(), &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("ListSockets on ", endpoint, ": ",
                                     status.error_message()));
  }
  return std::vector<admin::v1::Socket>(response.sockets().begin(),
                                        response.sockets().end());
}

}  // namespace stackd::testbed
