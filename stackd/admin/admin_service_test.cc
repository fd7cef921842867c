#include "stackd/admin/admin_service.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "proto/admin.pb.h"

namespace stackd::admin {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::Stack FakeStack() {
  v1::Stack stack;
  stack.set_path("/dev/net/test");
  stack.set_version("1.2.3");
  stack.set_lwip_version("2.2.1");
  stack.set_uptime_seconds(3.25);
  stack.set_tap_name("tap7");
  stack.set_mtu(1400);
  stack.set_mac("02:00:00:00:00:07");
  v1::Interface* tap = stack.add_interfaces();
  tap->set_name("tap7");
  tap->set_kind("tap");
  tap->set_mtu(1400);
  tap->set_mac("02:00:00:00:00:07");
  tap->set_up(true);
  tap->add_addresses("10.42.0.2/24");
  tap->add_addresses("fd42::2/64");
  tap->set_netns("ns7");
  v1::Interface* lo = stack.add_interfaces();
  lo->set_name("lo");
  lo->set_kind("loopback");
  lo->set_mtu(65535);
  lo->set_up(true);
  lo->add_addresses("127.0.0.1/8");
  v1::Route* route = stack.add_routes();
  route->set_destination("0.0.0.0/0");
  route->set_gateway("10.42.0.1");
  route->set_interface("tap7");
  v1::Counter* counter = stack.add_counters();
  counter->set_protocol("tcp");
  counter->set_name("drop");
  counter->set_value(5);
  return stack;
}

// Answers GetStack with whatever the test set.
class FakeBackend final : public AdminBackend {
 public:
  absl::StatusOr<v1::Stack> GetStack() override { return answer_; }
  absl::StatusOr<v1::ListSocketsResponse> ListSockets() override {
    if (!answer_.ok()) return answer_.status();
    v1::ListSocketsResponse sockets;
    auto* s = sockets.add_sockets();
    s->set_id(7);
    s->set_state("ESTABLISHED");
    s->add_local("10.42.0.2:80");
    return sockets;
  }
  // Socket 7 exists and is TCP; 8 exists and is not.
  absl::StatusOr<v1::KillSocketResponse> KillSocket(uint64_t id) override {
    if (id == 8) return absl::FailedPreconditionError("socket 8 is not a TCP socket");
    if (id != 7) return absl::NotFoundError(absl::StrCat("no socket ", id));
    v1::KillSocketResponse killed;
    killed.set_killed(1);
    return killed;
  }
  void set_answer(absl::StatusOr<v1::Stack> answer) {
    answer_ = std::move(answer);
  }

 private:
  absl::StatusOr<v1::Stack> answer_ = FakeStack();
};

// The service in an in-process server, called through a real stub.
class AdminServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::StackAdmin::NewStub(
        server_->InProcessChannel(grpc::ChannelArguments()));
  }
  void TearDown() override { server_->Shutdown(); }

  FakeBackend backend_;
  AdminService service_{&backend_};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::StackAdmin::Stub> stub_;
};

TEST_F(AdminServiceTest, GetStackReturnsTheBackendsStack) {
  grpc::ClientContext context;
  v1::Stack stack;
  grpc::Status status = stub_->GetStack(&context, {}, &stack);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(stack.path(), "/dev/net/test");
  EXPECT_EQ(stack.version(), "1.2.3");
  EXPECT_EQ(stack.lwip_version(), "2.2.1");
  EXPECT_EQ(stack.uptime_seconds(), 3.25);
  EXPECT_EQ(stack.tap_name(), "tap7");
  EXPECT_EQ(stack.mtu(), 1400);
  EXPECT_EQ(stack.mac(), "02:00:00:00:00:07");
  ASSERT_EQ(stack.interfaces_size(), 2);
  EXPECT_EQ(stack.interfaces(0).kind(), "tap");
  EXPECT_TRUE(stack.interfaces(0).up());
  EXPECT_THAT(stack.interfaces(0).addresses(),
              ElementsAre("10.42.0.2/24", "fd42::2/64"));
  EXPECT_EQ(stack.interfaces(0).netns(), "ns7");
  ASSERT_EQ(stack.routes_size(), 1);
  EXPECT_EQ(stack.routes(0).gateway(), "10.42.0.1");
  EXPECT_EQ(stack.routes(0).interface(), "tap7");
  ASSERT_EQ(stack.counters_size(), 1);
  EXPECT_EQ(stack.counters(0).protocol(), "tcp");
  EXPECT_EQ(stack.counters(0).name(), "drop");
  EXPECT_EQ(stack.counters(0).value(), 5u);
}

TEST_F(AdminServiceTest, KillSocketAnswersWithTheBackendsCountOrStatus) {
  auto kill = [&](uint64_t id, v1::KillSocketResponse* response) {
    grpc::ClientContext context;
    v1::KillSocketRequest request;
    request.set_id(id);
    return stub_->KillSocket(&context, request, response);
  };
  v1::KillSocketResponse response;
  ASSERT_TRUE(kill(7, &response).ok());
  EXPECT_EQ(response.killed(), 1u);
  grpc::Status status = kill(9, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "no socket 9");
  EXPECT_EQ(kill(8, &response).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(AdminServiceTest, ListSocketsReturnsTheBackendsSockets) {
  grpc::ClientContext context;
  v1::ListSocketsResponse response;
  grpc::Status status = stub_->ListSockets(&context, {}, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.sockets_size(), 1);
  EXPECT_EQ(response.sockets(0).id(), 7u);
  EXPECT_EQ(response.sockets(0).state(), "ESTABLISHED");
  EXPECT_EQ(response.sockets(0).local(0), "10.42.0.2:80");
}

TEST_F(AdminServiceTest, ListInterfacesReturnsTheStacksInterfaces) {
  grpc::ClientContext context;
  v1::ListInterfacesResponse response;
  grpc::Status status = stub_->ListInterfaces(&context, {}, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.interfaces_size(), 2);
  EXPECT_EQ(response.interfaces(0).name(), "tap7");
  EXPECT_EQ(response.interfaces(0).mac(), "02:00:00:00:00:07");
  EXPECT_EQ(response.interfaces(1).name(), "lo");
  EXPECT_EQ(response.interfaces(1).kind(), "loopback");
  EXPECT_EQ(response.interfaces(1).mtu(), 65535);
}

TEST_F(AdminServiceTest, BackendErrorArrivesWithItsCode) {
  backend_.set_answer(absl::UnavailableError("stack thread gone"));
  {
    grpc::ClientContext context;
    v1::Stack stack;
    grpc::Status status = stub_->GetStack(&context, {}, &stack);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(status.error_message(), "stack thread gone");
  }
  {
    grpc::ClientContext context;
    v1::ListInterfacesResponse response;
    grpc::Status status = stub_->ListInterfaces(&context, {}, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  backend_.set_answer(absl::DeadlineExceededError("slow"));
  grpc::ClientContext context;
  v1::Stack stack;
  EXPECT_EQ(stub_->GetStack(&context, {}, &stack).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST(ToGrpcStatusTest, KeepsCodeAndMessage) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  grpc::Status status = ToGrpcStatus(absl::PermissionDeniedError("no"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(), "no");
  EXPECT_EQ(ToGrpcStatus(absl::NotFoundError("")).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ToGrpcStatus(absl::UnauthenticatedError("")).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ToGrpcStatus(absl::Status(static_cast<absl::StatusCode>(99), "x"))
                .error_code(),
            grpc::StatusCode::UNKNOWN);
}

// StartAdminServer on real endpoints, in a directory of its own under /tmp
// (a unix socket path must fit in 108 bytes; TEST_TMPDIR may be longer).
class StartAdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/stackd-admin-test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override {
    std::string command = "rm -rf '" + dir_ + "'";
    system(command.c_str());
  }

  // GetStack through a channel to `endpoint`.
  grpc::Status CallGetStack(const std::string& endpoint, v1::Stack* stack) {
    auto stub = v1::StackAdmin::NewStub(
        grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    return stub->GetStack(&context, {}, stack);
  }

  std::string dir_;
  FakeBackend backend_;
  AdminService service_{&backend_};
};

TEST_F(StartAdminServerTest, ServesOnUnixSocketWithMode0660) {
  std::string path = dir_ + "/a.grpc";
  absl::StatusOr<std::unique_ptr<grpc::Server>> server =
      StartAdminServer("unix:" + path, &service_);
  ASSERT_TRUE(server.ok()) << server.status();
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660);
  v1::Stack stack;
  grpc::Status status = CallGetStack("unix:" + path, &stack);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(stack.path(), "/dev/net/test");
  (*server)->Shutdown();
}

TEST_F(StartAdminServerTest, RefusesASocketThatAnswers) {
  std::string endpoint = "unix:" + dir_ + "/a.grpc";
  absl::StatusOr<std::unique_ptr<grpc::Server>> first =
      StartAdminServer(endpoint, &service_);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::unique_ptr<grpc::Server>> second =
      StartAdminServer(endpoint, &service_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(second.status().message(), HasSubstr(endpoint));
  // The first server still owns the socket.
  v1::Stack stack;
  grpc::Status status = CallGetStack(endpoint, &stack);
  EXPECT_TRUE(status.ok()) << status.error_message();
  (*first)->Shutdown();
}

TEST_F(StartAdminServerTest, ReplacesAStaleSocket) {
  std::string path = dir_ + "/a.grpc";
  // A socket file that nothing listens on, as a crashed server leaves it.
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);

  absl::StatusOr<std::unique_ptr<grpc::Server>> server =
      StartAdminServer("unix:" + path, &service_);
  ASSERT_TRUE(server.ok()) << server.status();
  v1::Stack stack;
  grpc::Status status = CallGetStack("unix:" + path, &stack);
  EXPECT_TRUE(status.ok()) << status.error_message();
  (*server)->Shutdown();
}

TEST_F(StartAdminServerTest, RefusesAFileThatIsNotASocket) {
  std::string path = dir_ + "/a.grpc";
  std::ofstream(path) << "keep me";
  absl::StatusOr<std::unique_ptr<grpc::Server>> server =
      StartAdminServer("unix:" + path, &service_);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition);
  std::string contents;
  std::getline(std::ifstream(path), contents);
  EXPECT_EQ(contents, "keep me");
}

TEST_F(StartAdminServerTest, RefusesAPathTooLongForAUnixSocket) {
  std::string endpoint = "unix:" + dir_ + "/" + std::string(120, 'x');
  EXPECT_EQ(StartAdminServer(endpoint, &service_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(StartAdminServerTest, UnavailableWhenTheDirectoryIsMissing) {
  std::string endpoint = "unix:" + dir_ + "/no/such/dir/a.grpc";
  absl::StatusOr<std::unique_ptr<grpc::Server>> server =
      StartAdminServer(endpoint, &service_);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(server.status().message(), HasSubstr(endpoint));
}

TEST_F(StartAdminServerTest, ServesOnTcpPortZero) {
  int port = 0;
  absl::StatusOr<std::unique_ptr<grpc::Server>> server =
      StartAdminServer("127.0.0.1:0", &service_, &port);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT(port, 0);
  v1::Stack stack;
  grpc::Status status =
      CallGetStack("127.0.0.1:" + std::to_string(port), &stack);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(stack.tap_name(), "tap7");
  (*server)->Shutdown();
}

}  // namespace
}  // namespace stackd::admin
