// Who may bind what, compared with the kernel: the same sequence of
// binds by root and by another user (uid 1234) runs once on kernel sockets
// in the test bed's namespace and once on stack sockets, and every bind
// must end the same way. The rules under test (Linux's):
// - ports below 1024 need root (net.ipv4.ip_unprivileged_port_start), EACCES;
// - two UDP sockets share a port if both set SO_REUSEADDR, or both set
//   SO_REUSEPORT and have the same owner; otherwise EADDRINUSE. Without the
//   owner rule another user could take a port's datagrams (for TCP, its
//   connections); bound TCP sockets follow the same rule.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "client/msocket.h"
#include "gtest/gtest.h"
#include "tests/netns_peer.h"
#include "tests/testbed.h"

namespace stackd::testbed {
namespace {

constexpr uid_t kOtherUser = 1234;

struct Step {
  const char* what;
  bool other_user;
  int type;    // SOCK_DGRAM or SOCK_STREAM.
  int option;  // SO_REUSEADDR, SO_REUSEPORT or 0.
  uint16_t port;
  int expected;  // What Linux does, checked too so the bench cannot drift.
};

const Step kSteps[] = {
    {"root UDP SO_REUSEPORT 47001", false, SOCK_DGRAM, SO_REUSEPORT, 47001, 0},
    {"other UDP SO_REUSEPORT 47001", true, SOCK_DGRAM, SO_REUSEPORT, 47001, EADDRINUSE},
    {"root UDP SO_REUSEPORT 47001 again", false, SOCK_DGRAM, SO_REUSEPORT, 47001, 0},
    {"root UDP SO_REUSEADDR 47002", false, SOCK_DGRAM, SO_REUSEADDR, 47002, 0},
    {"other UDP SO_REUSEADDR 47002", true, SOCK_DGRAM, SO_REUSEADDR, 47002, 0},
    {"other UDP plain 47002", true, SOCK_DGRAM, 0, 47002, EADDRINUSE},
    {"other UDP SO_REUSEPORT 47002", true, SOCK_DGRAM, SO_REUSEPORT, 47002, EADDRINUSE},
    {"other UDP 80", true, SOCK_DGRAM, 0, 80, EACCES},
    {"other TCP 1023", true, SOCK_STREAM, 0, 1023, EACCES},
    {"other TCP 1024", true, SOCK_STREAM, 0, 1024, 0},
    {"root TCP 80", false, SOCK_STREAM, 0, 80, 0},
    {"other UDP port 0", true, SOCK_DGRAM, 0, 0, 0},
    // TCP's SO_REUSEPORT groups (tcp_reuseport.h) have the owner rule too.
    {"root TCP SO_REUSEPORT 47003", false, SOCK_STREAM, SO_REUSEPORT, 47003, 0},
    {"other TCP SO_REUSEPORT 47003", true, SOCK_STREAM, SO_REUSEPORT, 47003, EADDRINUSE},
    {"root TCP SO_REUSEPORT 47003 again", false, SOCK_STREAM, SO_REUSEPORT, 47003, 0},
    {"root TCP plain 47003", false, SOCK_STREAM, 0, 47003, EADDRINUSE},
    {"root TCP SO_REUSEADDR 47004", false, SOCK_STREAM, SO_REUSEADDR, 47004, 0},
    {"other TCP SO_REUSEADDR 47004", true, SOCK_STREAM, SO_REUSEADDR, 47004, 0},
    {"other TCP SO_REUSEPORT 47004", true, SOCK_STREAM, SO_REUSEPORT, 47004, EADDRINUSE},
};

// A process that made one socket, bound it, told the result, and holds the
// socket until `release` is closed.
struct Holder {
  pid_t pid = -1;
  int release = -1;
};

// Runs `step` in a child: on kernel sockets in namespace `netns`, or on the
// stack at `stack_path`. Returns the bind's errno (0: bound), or -1 if the
// child failed before it could bind.
int RunStep(const Step& step, const std::string& netns, const std::string& stack_path,
            std::vector<Holder>* holders) {
  int report[2];
  int release[2];
  if (pipe(report) != 0 || pipe(release) != 0) return -1;
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    close(report[0]);
    close(release[1]);
    int result = -1;
    do {
      if (stack_path.empty()) {
        const int ns = open(("/var/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
        if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) break;
      }
      if (step.other_user &&
          (setresgid(kOtherUser, kOtherUser, kOtherUser) != 0 ||
           setresuid(kOtherUser, kOtherUser, kOtherUser) != 0)) {
        break;
      }
      const int fd = stack_path.empty() ? socket(AF_INET, step.type, 0)
                                        : msocket(stack_path.c_str(), AF_INET, step.type, 0);
      if (fd < 0) break;
      const int one = 1;
      if (step.option != 0 && setsockopt(fd, SOL_SOCKET, step.option, &one, sizeof(one)) != 0) {
        break;
      }
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(step.port);
      result = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 ? 0 : errno;
    } while (false);
    if (write(report[1], &result, sizeof(result)) != sizeof(result)) _exit(1);
    char c;
    (void)!read(release[0], &c, 1);  // EOF: the parent is done.
    _exit(0);
  }
  close(report[1]);
  close(release[0]);
  holders->push_back({pid, release[1]});
  int result = -1;
  if (PollFor(report[0], POLLIN, absl::Seconds(10)) == 0 ||
      read(report[0], &result, sizeof(result)) != sizeof(result)) {
    result = -1;
  }
  close(report[0]);
  return result;
}

void ReleaseAll(std::vector<Holder>* holders) {
  for (const Holder& h : *holders) close(h.release);
  for (const Holder& h : *holders) waitpid(h.pid, nullptr, 0);
  holders->clear();
}

std::string Name(int error) { return error <= 0 ? absl::StrCat(error) : strerrorname_np(error); }

class BindPolicyTest : public TcpTest {};

TEST_F(BindPolicyTest, PortSharingAndPrivilegedPortsAsOnLinux) {
  // Another user must reach the stack: search on the bed's directory, read
  // and write on PATH.
  ASSERT_EQ(chmod(bed_->dir().c_str(), 0711), 0);
  ASSERT_EQ(chmod(bed_->stack_path().c_str(), 0666), 0);
  std::vector<std::string> kernel_record, stack_record;
  for (bool on_stack : {false, true}) {
    std::vector<Holder> holders;
    for (const Step& step : kSteps) {
      const int result =
          RunStep(step, bed_->netns(), on_stack ? bed_->stack_path() : "", &holders);
      (on_stack ? stack_record : kernel_record)
          .push_back(absl::StrCat(step.what, ": ", Name(result)));
      if (!on_stack) {
        EXPECT_EQ(result, step.expected) << "the kernel: " << step.what;
      }
    }
    ReleaseAll(&holders);
  }
  EXPECT_EQ(absl::StrJoin(stack_record, "\n"), absl::StrJoin(kernel_record, "\n"));
}

}  // namespace
}  // namespace stackd::testbed
