// A test bed for integration tests: a private network namespace whose TAP
// is served by a live stackd, with the kernel side addressed so that
// ordinary kernel tools (ping, nc, python) act as stackd's peers.
//
//   ns "stackd-t-PID-N"            stackd (test's own namespace)
//   TAP "stPID-N" 10.42.0.1/24  <->  lwIP 10.42.0.2/24
//                 fd42::1/64           fd42::2/64
//
// Everything a Testbed makes (namespace, temp dir, stackd) is removed by its
// destructor whatever the test did, and stackd dies with the test process
// (PR_SET_PDEATHSIG). Leftovers of a test process that was killed outright
// are removed by SweepStaleTestbeds(), which tools/test runs before testing.
//
// Every wait here is bounded. Needs root (network namespaces, TAP devices).
// Not thread-safe: use a Testbed from one thread.
#ifndef STACKD_TESTS_TESTBED_H_
#define STACKD_TESTS_TESTBED_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace stackd::testbed {

// The kernel's and stackd's addresses on the TAP.
inline constexpr absl::string_view kKernelIp4 = "10.42.0.1";
inline constexpr absl::string_view kStackIp4 = "10.42.0.2";
inline constexpr int kIp4PrefixLength = 24;
inline constexpr absl::string_view kKernelIp6 = "fd42::1";
inline constexpr absl::string_view kStackIp6 = "fd42::2";
inline constexpr int kIp6PrefixLength = 64;

// Names of test beds start with this; SweepStaleTestbeds() owns them.
inline constexpr absl::string_view kNetnsPrefix = "stackd-t-";
// Temp dirs (stack paths) live under this directory: a unix socket path must
// fit in 108 bytes, which Bazel's TEST_TMPDIR does not guarantee.
inline constexpr absl::string_view kRunDir = "/run/stackd-test";

// What a finished (or abandoned) command did.
struct CommandResult {
  // The exit code; 128 + N if a signal N killed it; -1 if it could not be
  // started or was killed because it ran out of time.
  int exit_code = -1;
  bool timed_out = false;
  std::string out;  // its stdout
  std::string err;  // its stderr
};

// Runs argv[0] (searched in a fixed system PATH) with the given arguments,
// stdin from /dev/null, and waits at most `timeout`; on timeout kills its
// whole process group. Never fails: see CommandResult::exit_code.
CommandResult RunArgv(const std::vector<std::string>& argv,
                      absl::Duration timeout);

// RunArgv({"sh", "-c", command}, timeout).
CommandResult RunShell(const std::string& command, absl::Duration timeout);

// True if `path` is a unix socket that accepts a connection now.
bool AcceptsConnections(const std::string& path);

// The stackd binary under test: $STACKD_BIN if set, else the runfile
// stackd/stackd. NotFound if neither exists.
absl::StatusOr<std::string> StackdBinary();

// A data file of this workspace (e.g. "tests/grpc_reflection_client.py")
// in the test's runfiles. NotFound if it is not there.
absl::StatusOr<std::string> Runfile(absl::string_view workspace_path);

// Removes what test beds of dead processes left: namespaces named
// kNetnsPrefix + "PID-N" whose PID is gone, stackd processes serving them,
// and their directories under kRunDir. Test beds of live processes are left
// alone, so this is safe while other tests run. Returns how many namespaces
// it removed; an error if one could not be removed.
absl::StatusOr<int> SweepStaleTestbeds();

class Testbed {
 public:
  struct Options {
    // Start stackd (and address the kernel side) in Create(). Without it the
    // bed has a namespace and a temp dir; StartStackd() starts stackd later.
    bool start_stackd = true;
    // How long stackd may take to become ready.
    absl::Duration ready_timeout = absl::Seconds(10);
    // More flags for stackd, after the test bed's own (e.g. "--dns=...").
    std::vector<std::string> extra_stackd_flags;
    // Name the namespace to stackd by its file (--netns-path=/run/netns/NAME,
    // the bind mount `ip netns add` made) instead of its name.
    bool netns_by_path = false;
  };

  // Makes the namespace and the temp dir and, unless told otherwise, starts
  // stackd and addresses the kernel side of its TAP. Errors: whatever step
  // failed, with stackd's stderr if stackd did not become ready. Whatever
  // was made before the failure is removed again.
  static absl::StatusOr<std::unique_ptr<Testbed>> Create(Options options);
  static absl::StatusOr<std::unique_ptr<Testbed>> Create() {
    return Create(Options());
  }

  // Stops stackd (SIGTERM, SIGKILL after 5 s), deletes the namespace and
  // the temp dir.
  ~Testbed();

  Testbed(const Testbed&) = delete;
  Testbed& operator=(const Testbed&) = delete;

  const std::string& netns() const { return netns_; }
  const std::string& tap_name() const { return tap_name_; }
  // The temp dir that holds the stack path (and anything else a test makes).
  const std::string& dir() const { return dir_; }
  // The stack path (a unix socket), e.g. /run/stackd-test/stackd-t-7-1.x/net.
  const std::string& stack_path() const { return stack_path_; }
  // stack_path() + ".grpc": where the admin service listens.
  std::string grpc_path() const { return stack_path_ + ".grpc"; }
  // "unix:" + grpc_path().
  std::string grpc_endpoint() const { return "unix:" + grpc_path(); }
  // The running stackd's pid, or -1 if none runs.
  pid_t stackd_pid() const { return stackd_pid_; }

  // The flags the test bed gives stackd (without the stack path), then
  // Options::extra_stackd_flags.
  std::vector<std::string> StackdFlags() const;

  // Starts stackd with StackdFlags() on stack_path(), waits until it is
  // ready (both sockets accept connections) and addresses the kernel side of
  // the TAP. Works again after StopStackd(). FailedPrecondition if a stackd
  // runs already; DeadlineExceeded or Internal (with stackd's stderr) if it
  // did not become ready.
  absl::Status StartStackd();

  // Sends `signal` to stackd and waits up to `timeout` for it to exit.
  // Returns its exit code (128 + N if signal N killed it). If it does not
  // exit in time it is killed and DeadlineExceeded returned.
  // FailedPrecondition if no stackd runs.
  absl::StatusOr<int> StopStackd(int signal,
                                 absl::Duration timeout = absl::Seconds(10));

  // What the test bed's stackd (the latest one) wrote to stdout and stderr.
  std::string StackdLog() const;

  // Runs `command` with sh inside the namespace (ip netns exec), bounded by
  // `timeout`.
  CommandResult Run(const std::string& command,
                    absl::Duration timeout = absl::Seconds(30)) const;

  // Runs another stackd in the foreground with these arguments (flags and
  // path, nothing added), bounded by `timeout`: for tests of refusals.
  CommandResult RunStackd(const std::vector<std::string>& args,
                          absl::Duration timeout = absl::Seconds(10)) const;

 private:
  Testbed(Options options, std::string stackd_binary);
  absl::Status Init();
  absl::Status WaitUntilReady(absl::Time deadline);
  absl::Status AddressKernelSide(absl::Time deadline);

  Options options_;
  std::string stackd_binary_;
  std::string netns_;
  bool netns_made_ = false;
  std::string tap_name_;
  std::string dir_;
  std::string stack_path_;
  pid_t stackd_pid_ = -1;
};

}  // namespace stackd::testbed

#endif  // STACKD_TESTS_TESTBED_H_
