#include "tests/testbed.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

extern char** environ;

namespace stackd::testbed {
namespace {

// Commands run with this PATH, whatever the caller's: Debian's own tools
// (python3 with python3-grpcio, ip, ping) and nothing from the user's shims.
constexpr char kSystemPath[] =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// How long stackd gets to exit after SIGTERM before SIGKILL, in cleanup.
constexpr absl::Duration kStopGrace = absl::Seconds(5);
// How long a command's output is still read after the command exited
// (a background child may hold the pipes open).
constexpr absl::Duration kDrainGrace = absl::Seconds(1);
constexpr absl::Duration kPollStep = absl::Milliseconds(20);
// Linux's IFNAMSIZ - 1.
constexpr size_t kMaxIfNameLength = 15;

absl::Status ErrnoStatus(int error, absl::string_view what) {
  return absl::ErrnoToStatus(error, what);
}

// WaitUntil()'s status for a child that waitpid() does not know.
constexpr int kLostChild = -1;

int ExitCode(int wait_status) {
  if (wait_status == kLostChild) return -1;
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

std::string Trim(absl::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.remove_suffix(1);
  return std::string(s);
}

// argv[0] if it holds a '/', else the first executable of that name in
// kSystemPath.
std::optional<std::string> ResolveProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  std::stringstream dirs(kSystemPath);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

// The environment for children: ours with PATH replaced by kSystemPath.
std::vector<std::string> ChildEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (absl::StartsWith(*e, "PATH=")) continue;
    env.emplace_back(*e);
  }
  env.push_back(absl::StrCat("PATH=", kSystemPath));
  return env;
}

struct SpawnOptions {
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // Put the child in a process group of its own (so all of it can be
  // killed at once).
  bool own_process_group = false;
  // Sent to the child when this thread dies.
  int death_signal = SIGKILL;
};

// fork + execve with the given stdio. Returns the child's pid.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv,
                            const SpawnOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  std::optional<std::string> program = ResolveProgram(argv[0]);
  if (!program) {
    return absl::NotFoundError(
        absl::StrCat("no program ", argv[0], " in ", kSystemPath));
  }
  // Everything the child uses is prepared before fork: after it, only
  // async-signal-safe calls.
  std::vector<std::string> env = ChildEnvironment();
  std::vector<char*> c_argv;
  for (const std::string& a : argv)
    c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  std::vector<char*> c_env;
  for (const std::string& e : env)
    c_env.push_back(const_cast<char*>(e.c_str()));
  c_env.push_back(nullptr);
  const pid_t parent = getpid();

  const pid_t pid = fork();
  if (pid < 0) return ErrnoStatus(errno, "fork");
  if (pid == 0) {
    if (prctl(PR_SET_PDEATHSIG, options.death_signal) != 0) _exit(127);
    if (getppid() != parent) _exit(127);  // The parent died before prctl.
    if (options.own_process_group) setpgid(0, 0);
    if (dup2(options.stdin_fd, 0) < 0 || dup2(options.stdout_fd, 1) < 0 ||
        dup2(options.stderr_fd, 2) < 0) {
      _exit(127);
    }
    execve(program->c_str(), c_argv.data(), c_env.data());
    _exit(127);
  }
  return pid;
}

// Waits for child `pid` until `deadline`. Returns its wait status, or
// nullopt if it is still running.
std::optional<int> WaitUntil(pid_t pid, absl::Time deadline) {
  while (true) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return kLostChild;
    if (absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(kPollStep);
  }
}

// Sends SIGKILL and reaps; SIGKILL cannot be ignored, so this ends.
void KillAndReap(pid_t pid, bool process_group) {
  kill(process_group ? -pid : pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

bool ProcessAlive(pid_t pid) { return kill(pid, 0) == 0 || errno == EPERM; }


std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// "PID" from kNetnsPrefix + "PID-N[...]", or nullopt.
std::optional<pid_t> OwnerPid(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, kNetnsPrefix)) return std::nullopt;
  const size_t dash = name.find('-');
  if (dash == absl::string_view::npos) return std::nullopt;
  int pid = 0;
  if (!absl::SimpleAtoi(name.substr(0, dash), &pid) || pid <= 0) {
    return std::nullopt;
  }
  return pid;
}

// Ends processes that were started with --netns=NETNS (stackds serving the
// namespace): SIGTERM, then SIGKILL for those still there after 3 s.
void EndProcessesServing(const std::string& netns) {
  const std::string flag = absl::StrCat("--netns=", netns);
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid)) continue;
    std::string cmdline = ReadFile(entry.path().string() + "/cmdline");
    std::vector<std::string> args;
    std::stringstream s(cmdline);
    std::string arg;
    while (std::getline(s, arg, '\0')) args.push_back(arg);
    for (size_t i = 0; i < args.size(); ++i) {
      if (args[i] == flag || (args[i] == "--netns" && i + 1 < args.size() &&
                              args[i + 1] == netns)) {
        pids.push_back(pid);
        break;
      }
    }
  }
  for (pid_t pid : pids) kill(pid, SIGTERM);
  const absl::Time deadline = absl::Now() + absl::Seconds(3);
  for (pid_t pid : pids) {
    while (ProcessAlive(pid) && absl::Now() < deadline)
      absl::SleepFor(kPollStep);
    if (ProcessAlive(pid)) kill(pid, SIGKILL);
  }
}

}  // namespace

bool AcceptsConnections(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) return false;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  for (int type : {SOCK_STREAM, SOCK_SEQPACKET}) {
    const int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const int r = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    const int error = errno;
    close(fd);
    if (r == 0) return true;
    if (error != EPROTOTYPE) return false;
  }
  return false;
}

CommandResult RunArgv(const std::vector<std::string>& argv,
                      absl::Duration timeout) {
  CommandResult result;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    result.err = absl::StrCat("pipe2: ", std::strerror(errno));
    return result;
  }
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.err = absl::StrCat("pipe2: ", std::strerror(errno));
    close(out_pipe[0]);
    close(out_pipe[1]);
    return result;
  }
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  SpawnOptions options;
  options.stdin_fd = null_fd;
  options.stdout_fd = out_pipe[1];
  options.stderr_fd = err_pipe[1];
  options.own_process_group = true;
  absl::StatusOr<pid_t> pid = Spawn(argv, options);
  close(null_fd);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (!pid.ok()) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    result.err = pid.status().ToString();
    return result;
  }

  const absl::Time deadline = absl::Now() + timeout;
  absl::Time drain_deadline = deadline;
  std::optional<int> status;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  while (true) {
    if (!status) {
      status = WaitUntil(*pid, absl::InfinitePast());
      if (status)
        drain_deadline = std::min(deadline, absl::Now() + kDrainGrace);
    }
    const bool pipes_open = fds[0].fd >= 0 || fds[1].fd >= 0;
    if (status && !pipes_open) break;
    const absl::Time now = absl::Now();
    if (now >= (status ? drain_deadline : deadline)) break;
    if (!pipes_open) {
      absl::SleepFor(kPollStep);
      continue;
    }
    const int wait_ms = static_cast<int>(absl::ToInt64Milliseconds(
        std::min(kPollStep, (status ? drain_deadline : deadline) - now)));
    if (poll(fds, 2, std::max(wait_ms, 1)) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      const ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        sinks[i]->append(buf, n);
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        close(fds[i].fd);
        fds[i].fd = -1;
      }
    }
  }
  for (pollfd& p : fds) {
    if (p.fd >= 0) close(p.fd);
  }
  if (status) {
    result.exit_code = ExitCode(*status);
  } else {
    KillAndReap(*pid, /*process_group=*/true);
    result.timed_out = true;
    result.exit_code = -1;
    absl::StrAppend(&result.err, "\n[testbed: killed after ",
                    absl::FormatDuration(timeout), ": ",
                    absl::StrJoin(argv, " "), "]\n");
  }
  return result;
}

CommandResult RunShell(const std::string& command, absl::Duration timeout) {
  return RunArgv({"sh", "-c", command}, timeout);
}

absl::StatusOr<std::string> Runfile(absl::string_view workspace_path) {
  for (const char* var : {"TEST_SRCDIR", "RUNFILES_DIR"}) {
    const char* root = getenv(var);
    if (root == nullptr || *root == '\0') continue;
    std::string path = absl::StrCat(root, "/stackd/", workspace_path);
    if (access(path.c_str(), F_OK) == 0) return path;
  }
  return absl::NotFoundError(
      absl::StrCat("runfile ", workspace_path,
                   " not found under $TEST_SRCDIR or $RUNFILES_DIR"));
}

absl::StatusOr<std::string> StackdBinary() {
  const char* bin = getenv("STACKD_BIN");
  if (bin != nullptr && *bin != '\0') {
    if (access(bin, X_OK) != 0) {
      return absl::NotFoundError(
          absl::StrCat("STACKD_BIN=", bin, " is not an executable"));
    }
    return std::string(bin);
  }
  return Runfile("stackd/stackd");
}

absl::StatusOr<int> SweepStaleTestbeds() {
  int removed = 0;
  absl::Status status;
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator("/run/netns", ec)) {
    const std::string name = entry.path().filename().string();
    const std::optional<pid_t> owner = OwnerPid(name);
    if (!owner || ProcessAlive(*owner)) continue;
    EndProcessesServing(name);
    CommandResult r =
        RunArgv({"ip", "netns", "delete", name}, absl::Seconds(10));
    if (r.exit_code == 0) {
      ++removed;
    } else if (status.ok()) {
      status = absl::InternalError(
          absl::StrCat("ip netns delete ", name, ": ", Trim(r.err)));
    }
  }
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(kRunDir), ec)) {
    const std::optional<pid_t> owner =
        OwnerPid(entry.path().filename().string());
    if (!owner || ProcessAlive(*owner)) continue;
    std::error_code remove_ec;
    std::filesystem::remove_all(entry.path(), remove_ec);
  }
  if (!status.ok()) return status;
  return removed;
}

Testbed::Testbed(Options options, std::string stackd_binary)
    : options_(options), stackd_binary_(std::move(stackd_binary)) {}

absl::StatusOr<std::unique_ptr<Testbed>> Testbed::Create(Options options) {
  // Once per process: leftovers of killed test processes would otherwise
  // pile up (and their stackds keep running).
  static const bool swept = [] {
    absl::StatusOr<int> r = SweepStaleTestbeds();
    if (!r.ok())
      std::fprintf(stderr, "testbed: sweep: %s\n",
                   r.status().ToString().c_str());
    return true;
  }();
  (void)swept;

  absl::StatusOr<std::string> binary = StackdBinary();
  if (!binary.ok()) return binary.status();
  std::unique_ptr<Testbed> bed(new Testbed(options, *std::move(binary)));
  // On failure `bed`'s destructor removes what Init() made.
  absl::Status status = bed->Init();
  if (!status.ok()) return status;
  return bed;
}

absl::Status Testbed::Init() {
  static std::atomic<int> counter{0};
  const int n = ++counter;
  netns_ = absl::StrCat(kNetnsPrefix, getpid(), "-", n);
  tap_name_ = absl::StrCat("st", getpid(), "-", n);
  if (tap_name_.size() > kMaxIfNameLength) {
    return absl::InternalError(absl::StrCat("tap name too long: ", tap_name_));
  }

  if (mkdir(std::string(kRunDir).c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, absl::StrCat("mkdir ", kRunDir));
  }
  std::string dir_template = absl::StrCat(kRunDir, "/", netns_, ".XXXXXX");
  if (mkdtemp(dir_template.data()) == nullptr) {
    return ErrnoStatus(errno, absl::StrCat("mkdtemp ", dir_template));
  }
  dir_ = dir_template;
  stack_path_ = dir_ + "/net";

  CommandResult r = RunArgv({"ip", "netns", "add", netns_}, absl::Seconds(10));
  if (r.exit_code != 0) {
    return absl::InternalError(
        absl::StrCat("ip netns add ", netns_, ": ", Trim(r.err)));
  }
  netns_made_ = true;
  r = RunArgv({"ip", "-n", netns_, "link", "set", "lo", "up"},
              absl::Seconds(10));
  if (r.exit_code != 0) {
    return absl::InternalError(
        absl::StrCat("ip link set lo up: ", Trim(r.err)));
  }
  if (options_.start_stackd) return StartStackd();
  return absl::OkStatus();
}

Testbed::~Testbed() {
  if (stackd_pid_ > 0) {
    absl::StatusOr<int> exit_code = StopStackd(SIGTERM, kStopGrace);
    if (!exit_code.ok()) {
      std::fprintf(stderr, "testbed: %s\n",
                   exit_code.status().ToString().c_str());
    }
  }
  if (netns_made_) {
    CommandResult r =
        RunArgv({"ip", "netns", "delete", netns_}, absl::Seconds(10));
    if (r.exit_code != 0) {
      std::fprintf(stderr, "testbed: ip netns delete %s: %s\n", netns_.c_str(),
                   Trim(r.err).c_str());
    }
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::vector<std::string> Testbed::StackdFlags() const {
  std::vector<std::string> flags = {
      options_.netns_by_path ? absl::StrCat("--netns-path=/run/netns/", netns_)
                             : absl::StrCat("--netns=", netns_),
      absl::StrCat("--tap=", tap_name_),
      absl::StrCat("--addr=", kStackIp4, "/", kIp4PrefixLength),
      absl::StrCat("--addr=", kStackIp6, "/", kIp6PrefixLength),
  };
  flags.insert(flags.end(), options_.extra_stackd_flags.begin(),
               options_.extra_stackd_flags.end());
  return flags;
}

absl::Status Testbed::StartStackd() {
  if (stackd_pid_ > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("stackd runs already as pid ", stackd_pid_));
  }
  const std::string log_path = dir_ + "/stackd.log";
  const int log_fd =
      open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) return ErrnoStatus(errno, absl::StrCat("open ", log_path));
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  std::vector<std::string> argv = {stackd_binary_};
  for (std::string& flag : StackdFlags()) argv.push_back(std::move(flag));
  argv.push_back(stack_path_);
  SpawnOptions options;
  options.stdin_fd = null_fd;
  options.stdout_fd = log_fd;
  options.stderr_fd = log_fd;
  // SIGTERM lets stackd remove its sockets and TAP if the test dies.
  options.death_signal = SIGTERM;
  absl::StatusOr<pid_t> pid = Spawn(argv, options);
  close(log_fd);
  close(null_fd);
  if (!pid.ok()) return pid.status();
  stackd_pid_ = *pid;

  const absl::Time deadline = absl::Now() + options_.ready_timeout;
  absl::Status status = WaitUntilReady(deadline);
  if (status.ok()) status = AddressKernelSide(deadline);
  if (!status.ok() && stackd_pid_ > 0) {
    KillAndReap(stackd_pid_, /*process_group=*/false);
    stackd_pid_ = -1;
  }
  return status;
}

absl::Status Testbed::WaitUntilReady(absl::Time deadline) {
  while (true) {
    std::optional<int> status = WaitUntil(stackd_pid_, absl::InfinitePast());
    if (status) {
      stackd_pid_ = -1;
      return absl::InternalError(
          absl::StrCat("stackd exited with code ", ExitCode(*status),
                       " before it was ready; its output: ", StackdLog()));
    }
    if (AcceptsConnections(stack_path_) && AcceptsConnections(grpc_path())) {
      return absl::OkStatus();
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "stackd did not accept connections on ", stack_path_, " and ",
          grpc_path(), " within ", absl::FormatDuration(options_.ready_timeout),
          "; its output: ", StackdLog()));
    }
    absl::SleepFor(kPollStep);
  }
}

absl::Status Testbed::AddressKernelSide(absl::Time deadline) {
  const std::vector<std::vector<std::string>> commands = {
      {"ip", "-n", netns_, "addr", "replace",
       absl::StrCat(kKernelIp4, "/", kIp4PrefixLength), "dev", tap_name_},
      {"ip", "-n", netns_, "addr", "replace",
       absl::StrCat(kKernelIp6, "/", kIp6PrefixLength), "dev", tap_name_,
       "nodad"},
  };
  for (const auto& command : commands) {
    // The TAP may show up in the namespace a moment after the sockets.
    while (true) {
      CommandResult r = RunArgv(command, absl::Seconds(10));
      if (r.exit_code == 0) break;
      if (absl::Now() >= deadline) {
        return absl::InternalError(
            absl::StrCat(absl::StrJoin(command, " "), ": ", Trim(r.err)));
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int> Testbed::StopStackd(int signal, absl::Duration timeout) {
  if (stackd_pid_ <= 0) return absl::FailedPreconditionError("no stackd runs");
  const pid_t pid = stackd_pid_;
  kill(pid, signal);
  std::optional<int> status = WaitUntil(pid, absl::Now() + timeout);
  stackd_pid_ = -1;
  if (!status) {
    KillAndReap(pid, /*process_group=*/false);
    return absl::DeadlineExceededError(absl::StrCat(
        "stackd (pid ", pid, ") did not exit within ",
        absl::FormatDuration(timeout), " of signal ", signal, "; killed it"));
  }
  return ExitCode(*status);
}

std::string Testbed::StackdLog() const {
  return ReadFile(dir_ + "/stackd.log");
}

CommandResult Testbed::Run(const std::string& command,
                           absl::Duration timeout) const {
  return RunArgv({"ip", "netns", "exec", netns_, "sh", "-c", command}, timeout);
}

CommandResult Testbed::RunStackd(const std::vector<std::string>& args,
                                 absl::Duration timeout) const {
  std::vector<std::string> argv = {stackd_binary_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunArgv(argv, timeout);
}

}  // namespace stackd::testbed

#ifdef STACKD_TESTBED_SWEEP_MAIN
// //tests:testbed_sweep, which tools/test runs before the tests: removes
// what test beds of killed test processes left behind.
int main() {
  absl::StatusOr<int> removed = stackd::testbed::SweepStaleTestbeds();
  if (!removed.ok()) {
    std::fprintf(stderr, "testbed_sweep: %s\n",
                 removed.status().ToString().c_str());
    return 1;
  }
  if (*removed > 0) {
    std::printf("testbed_sweep: removed %d stale test namespace(s)\n",
                *removed);
  }
  return 0;
}
#endif  // STACKD_TESTBED_SWEEP_MAIN
