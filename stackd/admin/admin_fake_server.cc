// admin_fake_server ENDPOINT: serves StackAdmin for a fixed fake stack (path
// "/dev/net/fake-stack") on ENDPOINT until SIGTERM or SIGINT. Prints
// "listening on ENDPOINT" when it serves. For tests of generic gRPC clients.
#include <signal.h>
#include <stdio.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "proto/admin.pb.h"
#include "stackd/admin/admin_service.h"

namespace stackd::admin {
namespace {

class FakeBackend final : public AdminBackend {
 public:
  absl::StatusOr<v1::ListSocketsResponse> ListSockets() override {
    return v1::ListSocketsResponse();
  }
  absl::StatusOr<v1::KillSocketResponse> KillSocket(uint64_t id) override {
    return absl::NotFoundError(absl::StrCat("no socket ", id));
  }
  absl::StatusOr<v1::Stack> GetStack() override {
    v1::Stack stack;
    stack.set_path("/dev/net/fake-stack");
    stack.set_version("0.0.0-fake");
    stack.set_lwip_version("2.2.1");
    stack.set_uptime_seconds(12.5);
    stack.set_tap_name("tap-fake");
    stack.set_mtu(1500);
    stack.set_mac("02:00:00:00:00:01");
    v1::Interface* tap = stack.add_interfaces();
    tap->set_name("tap-fake");
    tap->set_kind("tap");
    tap->set_mtu(1500);
    tap->set_mac("02:00:00:00:00:01");
    tap->set_up(true);
    tap->add_addresses("10.42.0.2/24");
    tap->add_addresses("fd42::2/64");
    tap->set_netns("stackd-fake");
    v1::Interface* lo = stack.add_interfaces();
    lo->set_name("lo");
    lo->set_kind("loopback");
    lo->set_mtu(65535);
    lo->set_up(true);
    lo->add_addresses("127.0.0.1/8");
    lo->add_addresses("::1/128");
    v1::Route* route = stack.add_routes();
    route->set_destination("0.0.0.0/0");
    route->set_gateway("10.42.0.1");
    route->set_interface("tap-fake");
    v1::Counter* counter = stack.add_counters();
    counter->set_protocol("tcp");
    counter->set_name("xmit");
    counter->set_value(42);
    return stack;
  }
};

// Serves until SIGTERM or SIGINT.
absl::Status Serve(const std::string& endpoint) {
  // Blocked before gRPC starts its threads, so that they inherit the mask
  // and only sigwait() below takes the signals.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  FakeBackend backend;
  AdminService service(&backend);
  absl::StatusOr<std::unique_ptr<grpc::Server>> server =
      StartAdminServer(endpoint, &service);
  if (!server.ok()) return server.status();
  printf("listening on %s\n", endpoint.c_str());
  fflush(stdout);
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  (*server)->Shutdown();
  return absl::OkStatus();
}

}  // namespace
}  // namespace stackd::admin

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s ENDPOINT\n", argv[0]);
    return 2;
  }
  absl::Status status = stackd::admin::Serve(argv[1]);
  if (!status.ok()) {
    fprintf(stderr, "admin_fake_server: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
