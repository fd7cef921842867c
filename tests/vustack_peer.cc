#include "tests/vustack_peer.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tests/netns_peer.h"

namespace stackd::testbed {
namespace {

constexpr absl::Duration kPollStep = absl::Milliseconds(20);

// `name` if it holds a '/', else the first executable of that name in
// kProgramPath; empty if none.
std::string FindProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  for (absl::string_view dir : absl::StrSplit(kProgramPath, ':')) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<AppNamespace>> AppNamespace::Create(
    const Testbed& bed) {
  const std::string name = bed.netns() + "-app";
  CommandResult r = RunArgv({"ip", "netns", "add", name}, absl::Seconds(10));
  if (r.exit_code != 0) {
    return absl::InternalError(absl::StrCat("ip netns add ", name, ": ", r.err));
  }
  std::unique_ptr<AppNamespace> ns(new AppNamespace(name));
  r = RunArgv({"ip", "-n", name, "link", "set", "lo", "up"}, absl::Seconds(10));
  if (r.exit_code != 0) {
    return absl::InternalError(absl::StrCat("lo up in ", name, ": ", r.err));
  }
  return ns;
}

AppNamespace::~AppNamespace() {
  RunArgv({"ip", "netns", "delete", name_}, absl::Seconds(10));
}

std::vector<std::string> InNamespace(const std::string& netns,
                                     const std::vector<std::string>& env,
                                     const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  if (!netns.empty()) out = {"ip", "netns", "exec", netns};
  out.push_back("env");
  out.push_back("-i");
  bool has_path = false;
  for (const std::string& e : env) {
    has_path = has_path || absl::StartsWith(e, "PATH=");
    out.push_back(e);
  }
  if (!has_path) out.push_back(absl::StrCat("PATH=", kProgramPath));
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

absl::StatusOr<std::string> VustackBinary() {
  return Runfile("vustack/vustack");
}

absl::StatusOr<std::unique_ptr<Process>> Process::Start(
    const std::string& netns, const std::vector<std::string>& env,
    const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<std::string> full = InNamespace(netns, env, argv);
  const std::string program = FindProgram(full[0]);
  if (program.empty()) {
    return absl::NotFoundError(absl::StrCat("no program ", full[0]));
  }
  std::vector<char*> c_argv;
  for (std::string& a : full) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  char* no_env[] = {nullptr};
  const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                       0644);
  if (log < 0) return absl::ErrnoToStatus(errno, "open " + log_path);
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int error = errno;
    close(log);
    close(null_fd);
    return absl::ErrnoToStatus(error, "fork");
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here on.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
    setpgid(0, 0);
    if (dup2(null_fd, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0) {
      _exit(127);
    }
    execve(program.c_str(), c_argv.data(), no_env);
    _exit(127);
  }
  close(log);
  close(null_fd);
  setpgid(pid, pid);  // Also here, so that Stop() works at once.
  return std::unique_ptr<Process>(new Process(pid, log_path));
}

Process::~Process() { Stop(absl::Seconds(1)); }

std::optional<int> Process::Wait(absl::Duration timeout) {
  if (exit_code_) return exit_code_;
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = ExitCodeOf(status);
      // What it left running in its group goes too.
      kill(-pid_, SIGKILL);
      return exit_code_;
    }
    if (r < 0 && errno != EINTR) {
      exit_code_ = -1;
      return exit_code_;
    }
    if (absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(kPollStep);
  }
}

int Process::Stop(absl::Duration grace) {
  if (exit_code_) return *exit_code_;
  kill(-pid_, SIGTERM);
  if (std::optional<int> code = Wait(grace)) return *code;
  kill(-pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  exit_code_ = -1;
  return -1;
}

std::string Process::Log() const { return ReadWholeFile(log_path_); }

absl::Status WaitForListener(const std::string& netns, absl::string_view ip,
                             uint16_t port, absl::Duration timeout) {
  const SockAddr to = MakeSockAddr(ip, port);
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last;
  while (absl::Now() < deadline) {
    absl::StatusOr<ScopedFd> fd =
        KernelConnect(netns, to, absl::Milliseconds(500));
    if (fd.ok()) return absl::OkStatus();
    last = fd.status();
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "nothing listens on ", to.ToString(), " in ", netns, ": ",
      last.ToString()));
}

absl::StatusOr<std::string> WritePatternFile(const std::string& path,
                                             uint64_t seed, size_t bytes) {
  std::string data(bytes, '\0');
  PatternSource(seed).Fill(data.data(), data.size());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  if (!out.good()) return absl::InternalError("cannot write " + path);
  return data;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string CompareBytes(absl::string_view expected, absl::string_view got) {
  if (expected == got) return "identical";
  size_t i = 0;
  while (i < expected.size() && i < got.size() && expected[i] == got[i]) ++i;
  return absl::StrCat("expected ", expected.size(), " bytes, got ", got.size(),
                      ", first difference at byte ", i);
}

absl::StatusOr<std::unique_ptr<Dnsmasq>> Dnsmasq::Start(
    const Testbed& bed, const std::vector<std::string>& host_records) {
  std::vector<std::string> argv = {
      "/usr/sbin/dnsmasq",
      "--keep-in-foreground",
      "--conf-file=/dev/null",
      "--no-resolv",
      "--no-hosts",
      "--bind-interfaces",
      absl::StrCat("--listen-address=", kKernelIp4),
      absl::StrCat("--listen-address=", kKernelIp6),
      "--user=root",
      "--group=root",
      absl::StrCat("--pid-file=", bed.dir(), "/dnsmasq.pid"),
      "--local=/#/",  // No upstream: every other name is NXDOMAIN.
      "--log-queries",
      "--log-facility=-",
  };
  for (const std::string& record : host_records) {
    argv.push_back(absl::StrCat("--host-record=", record));
  }
  absl::StatusOr<std::unique_ptr<Process>> p =
      Process::Start(bed.netns(), {}, argv, bed.dir() + "/dnsmasq.log");
  if (!p.ok()) return p.status();
  std::unique_ptr<Dnsmasq> d(new Dnsmasq());
  d->process_ = *std::move(p);
  // dnsmasq answers on TCP as well: it is ready once port 53 takes a
  // connection.
  if (absl::Status s = WaitForListener(bed.netns(), kKernelIp4, 53); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(s.message(), "; dnsmasq: ",
                                               d->process_->Log()));
  }
  return d;
}

}  // namespace stackd::testbed
