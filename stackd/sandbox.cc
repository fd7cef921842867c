#include "stackd/sandbox.h"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace stackd {
namespace {

absl::Status Errno(int error, const std::string& what) {
  return absl::ErrnoToStatus(error, what);
}

// The system calls of a serving stackd: its own (the stack thread's event
// loop, the pairs, the control server), glibc's and Asio's underneath, and
// gRPC's threads. Measured with strace -f over the integration tests, plus
// what glibc may use in their place (e.g. clone for clone3).
constexpr const char* kAllowed[] = {
    // I/O on fds.
    "read", "write", "readv", "writev", "pread64", "pwrite64", "close", "lseek", "fcntl",
    "dup", "dup2", "dup3", "ioctl", "openat", "newfstatat", "fstat", "statx", "lstat", "stat",
    "access", "faccessat", "faccessat2", "readlink", "readlinkat", "getdents64",
    // Sockets (socket() itself: AF_UNIX only, below).
    "socketpair", "bind", "listen", "accept", "accept4", "connect", "getsockname",
    "getpeername", "setsockopt", "getsockopt", "sendmsg", "recvmsg", "sendto", "recvfrom",
    "sendmmsg", "recvmmsg", "shutdown",
    // Waiting.
    "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll",
    "select", "pselect6", "eventfd2", "timerfd_create", "timerfd_settime", "timerfd_gettime",
    "pipe2", "nanosleep", "clock_nanosleep", "sched_yield", "futex", "restart_syscall",
    // Memory.
    "mmap", "munmap", "mprotect", "mremap", "madvise", "brk", "membarrier",
    // Threads and signals.
    "clone", "clone3", "set_robust_list", "rseq", "set_tid_address", "exit", "exit_group",
    "gettid", "getpid", "getppid", "tgkill", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
    "sigaltstack", "sched_getaffinity", "sched_getparam", "sched_getscheduler", "arch_prctl",
    // Time, identity, limits, randomness.
    "clock_gettime", "clock_getres", "gettimeofday", "getrandom", "getuid", "geteuid", "getgid",
    "getegid", "getresuid", "getresgid", "prlimit64", "getrlimit", "uname", "sysinfo",
    "getrusage",
    // Leaving: removing PATH, PATH.grpc (refused by the file system once
    // stackd is no longer root; the root helper does it then).
    "unlink", "unlinkat",
};

// SIGSYS from the filter: say which call was refused and make it fail with
// EPERM instead of killing the process. Async-signal-safe.
void OnForbiddenCall(int, siginfo_t* info, void* context) {
  char line[96] = "stackd: seccomp refused system call ";
  size_t len = std::strlen(line);
  char digits[16];
  int n = 0;
  unsigned int number = static_cast<unsigned int>(info->si_syscall);
  do {
    digits[n++] = static_cast<char>('0' + number % 10);
    number /= 10;
  } while (number != 0 && n < 15);
  while (n > 0) line[len++] = digits[--n];
  const char tail[] = " (EPERM)\n";
  std::memcpy(line + len, tail, sizeof(tail) - 1);
  len += sizeof(tail) - 1;
  (void)!::write(STDERR_FILENO, line, len);
  auto* uc = static_cast<ucontext_t*>(context);
#if defined(__x86_64__)
  uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
#elif defined(__aarch64__)
  uc->uc_mcontext.regs[0] = static_cast<unsigned long long>(-EPERM);
#else
#error "set the return register of a refused system call for this architecture"
#endif
}

}  // namespace

absl::Status DropPrivileges(const std::string& user) {
  if (user == "root") return absl::InvalidArgumentError("--user=root: nothing to drop to");
  if (geteuid() == 0) {
    errno = 0;
    const passwd* pw = getpwnam(user.c_str());
    if (pw == nullptr) {
      return absl::NotFoundError(absl::StrCat("--user: no user named '", user, "'"));
    }
    const uid_t uid = pw->pw_uid;
    const gid_t gid = pw->pw_gid;
    // The bounding set is per thread and only matters for execve, which
    // the seccomp filter forbids; emptying it on this thread still shows
    // in /proc/PID/status and keeps a later exec from getting anything.
    for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
      if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
        return Errno(errno, absl::StrCat("drop capability ", cap, " from the bounding set"));
      }
    }
    if (setgroups(0, nullptr) != 0) return Errno(errno, "setgroups");
    // glibc applies these to every thread. Leaving uid 0 clears the
    // permitted, effective and ambient capabilities.
    if (setresgid(gid, gid, gid) != 0) return Errno(errno, "setresgid");
    if (setresuid(uid, uid, uid) != 0) return Errno(errno, "setresuid");
    if (setuid(0) == 0) return absl::InternalError("could become root again after dropping it");
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Errno(errno, "set no_new_privs");
  return absl::OkStatus();
}

absl::Status ConfineSystemCalls() {
  struct sigaction action {};
  action.sa_sigaction = OnForbiddenCall;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  if (sigaction(SIGSYS, &action, nullptr) != 0) return Errno(errno, "sigaction SIGSYS");

  std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(seccomp_init(SCMP_ACT_TRAP),
                                                       seccomp_release);
  if (ctx == nullptr) return absl::InternalError("seccomp_init failed");
  // Every thread (gRPC's too), and no_new_privs if not set already.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_TSYNC, 1); rc != 0) {
    return absl::InternalError(absl::StrCat("seccomp TSYNC: ", std::strerror(-rc)));
  }
  for (const char* name : kAllowed) {
    const int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // Not on this architecture.
    if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 0); rc != 0) {
      return absl::InternalError(absl::StrCat("seccomp allow ", name, ": ", std::strerror(-rc)));
    }
  }
  // socket(2) only for AF_UNIX (gRPC's and the library's own kind); stackd
  // makes no other socket once it serves.
  if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
                                SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
      rc != 0) {
    return absl::InternalError(absl::StrCat("seccomp allow socket: ", std::strerror(-rc)));
  }
  // prctl(2) only to name threads.
  for (int option : {PR_SET_NAME, PR_GET_NAME}) {
    if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                                  SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(option)));
        rc != 0) {
      return absl::InternalError(absl::StrCat("seccomp allow prctl: ", std::strerror(-rc)));
    }
  }
  if (int rc = seccomp_load(ctx.get()); rc != 0) {
    return absl::InternalError(absl::StrCat("seccomp_load: ", std::strerror(-rc)));
  }
  return absl::OkStatus();
}

}  // namespace stackd
