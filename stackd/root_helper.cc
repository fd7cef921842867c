#include "stackd/root_helper.h"

#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace stackd {
namespace {

constexpr size_t kMaxPaths = 4;
constexpr int kReplyTimeoutMs = 2000;

// Requests (one packet each): a pair, or the end.
struct Request {
  char op;  // 'P': a pair; 'F': remove the files, answer, exit.
  int type;
  int buffer_bytes;
};

struct Endpoint {
  char path[4096];
  dev_t dev;
  ino_t ino;
};

// Sends `fds` (0 or 2) with a one-int packet holding `error`.
void Answer(int fd, int error, const int* fds, int count) {
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
  iovec iov{&error, sizeof(error)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (count > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(count * sizeof(int));
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(count * sizeof(int));
    std::memcpy(CMSG_DATA(c), fds, count * sizeof(int));
  }
  (void)!sendmsg(fd, &msg, MSG_NOSIGNAL);
}

// The helper's whole life, between fork and _exit: async-signal-safe
// calls only.
[[noreturn]] void Serve(const Endpoint* endpoints, size_t count, int fd) {
  prctl(PR_SET_NAME, "stackd-root", 0, 0, 0);
  // Leave stackd's other fds (the TAP above all: a TAP lives as long as an
  // fd of it is open) to stackd.
  for (int other = 3; other < 1024; ++other) {
    if (other != fd) close(other);
  }
  for (;;) {
    Request req{};
    const ssize_t n = recv(fd, &req, sizeof(req), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == static_cast<ssize_t>(sizeof(req)) && req.op == 'P') {
      int pair[2];
      const int type = req.type == SOCK_SEQPACKET ? SOCK_SEQPACKET : SOCK_STREAM;
      if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, pair) != 0) {
        Answer(fd, errno, nullptr, 0);
        continue;
      }
      const int size = req.buffer_bytes;
      setsockopt(pair[0], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
      setsockopt(pair[0], SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
      Answer(fd, 0, pair, 2);
      close(pair[0]);
      close(pair[1]);
      continue;
    }
    // 'F', EOF (stackd is gone) or anything else: remove and leave.
    for (size_t i = 0; i < count; ++i) {
      struct stat st;
      if (lstat(endpoints[i].path, &st) == 0 && st.st_dev == endpoints[i].dev &&
          st.st_ino == endpoints[i].ino) {
        unlink(endpoints[i].path);
      }
    }
    Answer(fd, 0, nullptr, 0);
    _exit(0);
  }
}

}  // namespace

absl::StatusOr<RootHelper> RootHelper::Start(const std::vector<std::string>& paths) {
  Endpoint endpoints[kMaxPaths];
  const size_t count = paths.size() < kMaxPaths ? paths.size() : kMaxPaths;
  for (size_t i = 0; i < count; ++i) {
    if (paths[i].size() >= sizeof(endpoints[i].path)) {
      return absl::InvalidArgumentError(absl::StrCat("path too long: ", paths[i]));
    }
    std::memcpy(endpoints[i].path, paths[i].c_str(), paths[i].size() + 1);
    struct stat st;
    if (lstat(paths[i].c_str(), &st) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("lstat ", paths[i]));
    }
    endpoints[i].dev = st.st_dev;
    endpoints[i].ino = st.st_ino;
  }
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    return absl::ErrnoToStatus(errno, "socketpair for the root helper");
  }
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close(fds[0]);
    close(fds[1]);
    return absl::ErrnoToStatus(err, "fork the root helper");
  }
  if (pid == 0) Serve(endpoints, count, fds[1]);
  close(fds[1]);
  return RootHelper(pid, fds[0]);
}

RootHelper::RootHelper(RootHelper&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), fd_(std::exchange(other.fd_, -1)) {}

RootHelper::~RootHelper() {
  if (fd_ >= 0) close(fd_);
}

int RootHelper::MakePair(int type, int buffer_bytes, int fds[2]) {
  if (fd_ < 0) return EPIPE;
  const Request req{'P', type, buffer_bytes};
  if (send(fd_, &req, sizeof(req), MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof(req))) {
    return errno != 0 ? errno : EPIPE;
  }
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, kReplyTimeoutMs) <= 0) return ETIMEDOUT;
  int error = 0;
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))];
  iovec iov{&error, sizeof(error)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  const ssize_t n = recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC);
  if (n != static_cast<ssize_t>(sizeof(error))) return n == 0 ? EPIPE : errno;
  int got = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
        c->cmsg_len == CMSG_LEN(2 * sizeof(int))) {
      std::memcpy(fds, CMSG_DATA(c), 2 * sizeof(int));
      got = 2;
    }
  }
  if (error != 0) return error;
  return got == 2 ? 0 : EPROTO;
}

void RootHelper::Finish() {
  if (fd_ < 0) return;
  const Request req{'F', 0, 0};
  (void)!send(fd_, &req, sizeof(req), MSG_NOSIGNAL);
  pollfd p{fd_, POLLIN, 0};
  poll(&p, 1, kReplyTimeoutMs);
  close(fd_);
  fd_ = -1;
}

}  // namespace stackd
