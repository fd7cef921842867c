// Unmodified programs under vustack against kernel peers, for the vustack
// integration tests: a namespace with nothing but loopback for the
// programs under vustack (what they do not send through the stack has
// nowhere to go, so a reply proves the stack carried it), background
// processes with bounded lives (servers on either side), a dnsmasq for
// names, and files of pattern bytes to compare downloads with.
//
//   app ns (lo only)                 test bed ns "stackd-t-PID-N"
//   program under vustack  --path->  stackd --TAP--> 10.42.0.1 / fd42::1
//                                                   kernel servers, clients
//
// Every wait is bounded; every process is killed and reaped by its owner's
// destructor and dies with the test process (PR_SET_PDEATHSIG).
#ifndef STACKD_TESTS_VUSTACK_PEER_H_
#define STACKD_TESTS_VUSTACK_PEER_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tests/testbed.h"

namespace stackd::testbed {

// The PATH the programs get: Debian's own tools, nothing from the
// caller's shims (pyenv's python3 lacks modules).
inline constexpr char kProgramPath[] = "/usr/sbin:/usr/bin:/sbin:/bin";
// Debian's python3, whatever comes first in a PATH.
inline constexpr char kPython[] = "/usr/bin/python3";

// A network namespace with only loopback up, named after the test bed's
// (so SweepStaleTestbeds() removes it after a killed test). Deleted by the
// destructor.
class AppNamespace {
 public:
  static absl::StatusOr<std::unique_ptr<AppNamespace>> Create(
      const Testbed& bed);
  ~AppNamespace();
  AppNamespace(const AppNamespace&) = delete;
  AppNamespace& operator=(const AppNamespace&) = delete;

  const std::string& name() const { return name_; }

 private:
  explicit AppNamespace(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

// The command line that runs `argv` in namespace `netns` ("" = this
// process's) with exactly the environment `env` (PATH=kProgramPath added
// unless `env` sets PATH).
std::vector<std::string> InNamespace(const std::string& netns,
                                     const std::vector<std::string>& env,
                                     const std::vector<std::string>& argv);

// The vustack binary in the test's runfiles.
absl::StatusOr<std::string> VustackBinary();

// A process in the background: stdin from /dev/null, stdout and stderr to
// a log file. Killed with its process group by Stop() and the destructor.
class Process {
 public:
  // Starts `argv` (argv[0] an absolute path, or a name found in
  // kProgramPath) with the environment of InNamespace().
  static absl::StatusOr<std::unique_ptr<Process>> Start(
      const std::string& netns, const std::vector<std::string>& env,
      const std::vector<std::string>& argv, const std::string& log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // Waits up to `timeout` for it to exit: its exit code (128 + N for
  // signal N), or nullopt if it still runs.
  std::optional<int> Wait(absl::Duration timeout);
  // SIGTERM to the group, SIGKILL after `grace`; reaped. Returns the exit
  // code (-1 if it had to be killed or was already reaped).
  int Stop(absl::Duration grace = absl::Seconds(3));
  // What it wrote so far.
  std::string Log() const;

 private:
  Process(pid_t pid, std::string log_path)
      : pid_(pid), log_path_(std::move(log_path)) {}
  pid_t pid_;
  std::string log_path_;
  std::optional<int> exit_code_;
};

// Waits until a TCP connection from namespace `netns` to `ip`:`port`
// succeeds (the connection is closed at once), at most `timeout`.
// DeadlineExceeded (with the last error) otherwise.
absl::Status WaitForListener(const std::string& netns, absl::string_view ip,
                             uint16_t port,
                             absl::Duration timeout = absl::Seconds(15));

// Writes `bytes` deterministic pseudo-random bytes (PatternSource with
// `seed`) to `path` and returns them.
absl::StatusOr<std::string> WritePatternFile(const std::string& path,
                                             uint64_t seed, size_t bytes);

std::string ReadWholeFile(const std::string& path);

// "N bytes, first difference at K" or "identical": for failure messages
// about large payloads.
std::string CompareBytes(absl::string_view expected, absl::string_view got);

// dnsmasq in the test bed's namespace on kKernelIp4 and kKernelIp6,
// answering `host_records` ("name,addr[,addr...]", as --host-record) and
// NXDOMAIN for everything else. Stopped by the destructor.
class Dnsmasq {
 public:
  static absl::StatusOr<std::unique_ptr<Dnsmasq>> Start(
      const Testbed& bed, const std::vector<std::string>& host_records);
  std::string Log() const { return process_->Log(); }

 private:
  std::unique_ptr<Process> process_;
};

}  // namespace stackd::testbed

#endif  // STACKD_TESTS_VUSTACK_PEER_H_
