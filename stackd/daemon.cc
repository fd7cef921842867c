#include "stackd/daemon.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "stackd/admin/admin_service.h"
#include "stackd/control/path_socket.h"
#include "stackd/readiness.h"
#include "stackd/root_helper.h"
#include "stackd/log.h"
#include "stackd/sandbox.h"
#include "stackd/sockets/control_server.h"
#include "stackd/sockets/socket_table.h"
#include "stackd/stack.h"
#include "stackd/stack_report.h"
#include "tap/tap_device.h"

namespace stackd {
namespace {

namespace asio = boost::asio;

// Frames read from the TAP in one go before lwIP's timers and other work
// get a turn.
constexpr int kMaxFramesPerBatch = 256;
// The longest the stack thread sleeps between two looks at lwIP's timers,
// so that a timer lwIP adds while we sleep is never late by more.
constexpr uint32_t kMaxTimerSleepMs = 100;
// How long an admin call waits for the stack thread.
constexpr auto kAdminCallTimeout = std::chrono::seconds(5);
// How long in-flight admin calls get to finish at shutdown.
constexpr auto kAdminShutdownGrace = std::chrono::seconds(1);

// Runs `work` on the stack thread and waits for its result. Called from gRPC
// threads. DeadlineExceeded if the stack thread does not answer in time.
template <typename T>
absl::StatusOr<T> CallOnStackThread(asio::io_context& io,
                                    std::function<absl::StatusOr<T>()> work) {
  auto task = std::make_shared<std::packaged_task<absl::StatusOr<T>()>>(
      std::move(work));
  std::future<absl::StatusOr<T>> result = task->get_future();
  asio::post(io, [task] { (*task)(); });
  if (result.wait_for(kAdminCallTimeout) != std::future_status::ready) {
    return absl::DeadlineExceededError("the stack thread did not answer in time");
  }
  return result.get();
}

// net.ipv4.ping_group_range of the namespace stackd runs in ("1 0", Linux's
// default, if it cannot be read).
std::pair<uint32_t, uint32_t> HostPingGroupRange() {
  std::pair<uint32_t, uint32_t> range{1, 0};
  if (FILE* f = std::fopen("/proc/sys/net/ipv4/ping_group_range", "re")) {
    unsigned low = 1, high = 0;
    if (std::fscanf(f, "%u %u", &low, &high) == 2) range = {low, high};
    std::fclose(f);
  }
  return range;
}

// --dns and --search, as the control server hands them to clients.
ResolverSettings ResolverSettingsOf(const StackConfig& config) {
  ResolverSettings settings;
  for (const DnsServer& dns : config.dns_servers) {
    settings.dns_servers.push_back(
        {dns.address.family, dns.address.bytes, static_cast<uint16_t>(dns.port)});
  }
  settings.search_domains = config.search_domains;
  return settings;
}

class Daemon : public admin::AdminBackend {
 public:
  explicit Daemon(const StackConfig& config)
      : config_(config),
        tap_io_(io_),
        timer_(io_),
        signals_(io_, SIGINT, SIGTERM),
        admin_service_(this) {}

  absl::StatusOr<admin::v1::Stack> GetStack() override {
    return CallOnStackThread<admin::v1::Stack>(
        io_, [this]() -> absl::StatusOr<admin::v1::Stack> {
          return DescribeStack(*stack_, identity_);
        });
  }

  absl::StatusOr<admin::v1::KillSocketResponse> KillSocket(uint64_t id) override {
    return CallOnStackThread<admin::v1::KillSocketResponse>(
        io_, [this, id]() -> absl::StatusOr<admin::v1::KillSocketResponse> {
          const int error = sockets_->Kill(id);
          if (error == ENOENT) return absl::NotFoundError(absl::StrCat("no socket ", id));
          if (error == EOPNOTSUPP) {
            return absl::FailedPreconditionError(
                absl::StrCat("socket ", id, " is not a TCP socket: only TCP sockets can be killed"));
          }
          admin::v1::KillSocketResponse killed;
          killed.set_killed(1);
          return killed;
        });
  }

  absl::StatusOr<admin::v1::ListSocketsResponse> ListSockets() override {
    return CallOnStackThread<admin::v1::ListSocketsResponse>(
        io_, [this]() -> absl::StatusOr<admin::v1::ListSocketsResponse> {
          return DescribeSockets(*sockets_);
        });
  }

  absl::Status Run() {
    const std::string& netns = config_.netns.empty() ? config_.netns_path : config_.netns;
    identity_ = {config_.path, netns, std::chrono::steady_clock::now()};
    auto readiness = Readiness::Open(config_.ready_fd, std::getenv("NOTIFY_SOCKET"));
    if (!readiness.ok()) return readiness.status();
    auto path = PathSocket::Listen(config_.path);
    if (!path.ok()) return path.status();
    path_ = std::make_unique<PathSocket>(std::move(*path));

    tap::TapOptions tap_options;
    tap_options.ifname = config_.tap_name;
    tap_options.netns = config_.netns;
    tap_options.netns_path = config_.netns_path;
    tap_options.mtu = config_.mtu;
    auto tap = tap::TapDevice::Open(tap_options);
    if (!tap.ok()) return tap.status();
    tap_ = std::make_unique<tap::TapDevice>(std::move(*tap));

    Stack::Options stack_options;
    stack_options.link_name = tap_->name();
    stack_options.mac = config_.mac ? *config_.mac : MacAddress::FromSeed(config_.path);
    stack_options.mtu = tap_->mtu();
    stack_options.addresses = config_.addresses;
    stack_options.gateways = config_.gateways;
    int tap_fd = tap_->fd();
    auto stack = Stack::Create(stack_options, [tap_fd](const uint8_t* frame, size_t len) {
      return ::write(tap_fd, frame, len) == static_cast<ssize_t>(len);
    });
    if (!stack.ok()) return stack.status();
    stack_ = std::move(*stack);
    // Packets between the stack's own addresses go at once, not at the
    // next timer.
    stack_->SetLoopbackWaker([this] { asio::post(io_, [this] { stack_->PollLoopback(); }); });

    boost::system::error_code ec;
    tap_io_.assign(::dup(tap_fd), ec);
    if (ec) return absl::InternalError(absl::StrCat("watch TAP: ", ec.message()));
    sockets_ = std::make_unique<SocketTable>(io_, config_.path);
    ControlPolicy policy;
    policy.unprivileged_port_start = static_cast<uint32_t>(config_.unprivileged_port_start);
    policy.max_clients_per_uid = static_cast<size_t>(config_.max_calls_per_uid);
    const auto [ping_low, ping_high] = config_.ping_group_range
                                           ? *config_.ping_group_range
                                           : HostPingGroupRange();
    policy.ping_group_low = ping_low;
    policy.ping_group_high = ping_high;
    control_ = std::make_unique<ControlServer>(io_, path_->fd(), sockets_.get(), config_.path,
                                               ResolverSettingsOf(config_), policy);
    control_->set_interfaces_source([this](socket::v1::InterfaceList* out) {
      DescribeInterfacesForClients(*stack_, out);
    });

    // The admin endpoint comes up last: once it answers, the stack is ready.
    auto server = admin::StartAdminServer(config_.grpc_endpoint, &admin_service_);
    if (!server.ok()) return server.status();
    admin_server_ = std::move(*server);

    if (absl::Status status = Confine(); !status.ok()) return status;

    rx_buffer_.resize(static_cast<size_t>(tap_->mtu()) + 64);
    WaitForFrames();
    ArmTimer();
    control_->Start();
    std::thread stopper;
    signals_.async_wait([this, &stopper, &readiness](const boost::system::error_code& error,
                                                     int signo) {
      if (error) return;
      Log(0, "signal %d: shutting down", signo);
      readiness->Stopping(absl::StrCat("signal ", signo, ": shutting down"));
      // Admin calls in flight need the stack thread to finish: stop gRPC
      // first, from another thread, then the stack thread.
      stopper = std::thread([this] {
        admin_server_->Shutdown(std::chrono::system_clock::now() + kAdminShutdownGrace);
        asio::post(io_, [this] { io_.stop(); });
      });
    });

    const std::string serving = absl::StrCat(
        "serving ", config_.path, " on TAP ", tap_->name(),
        netns.empty() ? "" : absl::StrCat(" in netns ", netns));
    Log(0, "%s (MTU %d, MAC %s)", serving, tap_->mtu(), stack_options.mac.ToString());
    readiness->Ready(serving);
    io_.run();
    if (stopper.joinable()) stopper.join();
    admin_server_->Shutdown();
    admin_server_->Wait();
    if (root_helper_) root_helper_->Finish();
    return absl::OkStatus();
  }

 private:
  // Everything stackd needs root for is done: become config_.user (unless
  // "root"), with a root helper for the pairs' buffers and for removing
  // PATH and PATH.grpc at the end, and confine the system calls.
  absl::Status Confine() {
    if (config_.user != "root" && geteuid() == 0) {
      std::vector<std::string> endpoints = {config_.path};
      if (absl::StartsWith(config_.grpc_endpoint, "unix:")) {
        endpoints.push_back(config_.grpc_endpoint.substr(5));
      }
      auto helper = RootHelper::Start(endpoints);
      if (!helper.ok()) return helper.status();
      root_helper_.emplace(std::move(*helper));
      sockets_->set_pair_maker([this](int type, int buffer_bytes, int fds[2]) {
        return root_helper_->MakePair(type, buffer_bytes, fds);
      });
      if (absl::Status status = DropPrivileges(config_.user); !status.ok()) return status;
    } else if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
      return absl::ErrnoToStatus(errno, "set no_new_privs");
    }
    return ConfineSystemCalls();
  }

  void WaitForFrames() {
    tap_io_.async_wait(asio::posix::stream_descriptor::wait_read,
                       [this](const boost::system::error_code& error) {
                         if (error) return;
                         ReadFrames();
                         WaitForFrames();
                       });
  }

  // Reads what the TAP holds, up to a batch, and lets lwIP take it in.
  void ReadFrames() {
    for (int i = 0; i < kMaxFramesPerBatch; ++i) {
      ssize_t n = ::read(tap_->fd(), rx_buffer_.data(), rx_buffer_.size());
      if (n <= 0) break;  // EAGAIN: drained. Other errors: retried on the next wake-up.
      stack_->Input(rx_buffer_.data(), static_cast<size_t>(n));
    }
    stack_->Poll();
  }

  void ArmTimer() {
    uint32_t sleep_ms = std::min(stack_->NextTimeoutMs(), kMaxTimerSleepMs);
    timer_.expires_after(std::chrono::milliseconds(sleep_ms));
    timer_.async_wait([this](const boost::system::error_code& error) {
      if (error) return;
      stack_->Poll();
      sockets_->Tick();
      ArmTimer();
    });
  }

  const StackConfig& config_;
  std::unique_ptr<PathSocket> path_;
  std::unique_ptr<tap::TapDevice> tap_;
  std::unique_ptr<Stack> stack_;
  // Destroyed after everything that uses it but before the stack: its
  // pending handlers own sockets (shared_ptr), which outlive sockets_ until
  // then. Destroying the stack aborts every PCB still attached, and a live
  // socket's tcp_err callback would call into the destroyed SocketTable.
  asio::io_context io_;
  asio::posix::stream_descriptor tap_io_;
  asio::steady_timer timer_;
  asio::signal_set signals_;
  std::vector<uint8_t> rx_buffer_;
  StackIdentity identity_;
  std::optional<RootHelper> root_helper_;
  admin::AdminService admin_service_;
  std::unique_ptr<grpc::Server> admin_server_;
  // Declared last: sockets go before the stack they live on.
  std::unique_ptr<SocketTable> sockets_;
  std::unique_ptr<ControlServer> control_;
};

// Every socket costs stackd a file descriptor (its end of the pair): take
// the most the system allows this process.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == limit.rlim_max) return;
  rlim_t wanted = limit.rlim_max;
  limit.rlim_cur = wanted;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    Log(0, "cannot raise RLIMIT_NOFILE to %llu: %s", static_cast<unsigned long long>(wanted),
        strerror(errno));
  }
}

}  // namespace

absl::Status RunStackd(const StackConfig& config) {
  ::signal(SIGPIPE, SIG_IGN);
  RaiseFileLimit();
  // Socket files are made 0660 explicitly; keep the window before that shut.
  ::umask(007);
  SetLogVerbosity(config.verbosity);
  Daemon daemon(config);
  return daemon.Run();
}

}  // namespace stackd
