#include "client/control.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "client/fd_message.h"
#include "client/libc.h"

namespace stackd::client {
namespace {

using socket::v1::Request;
using socket::v1::Response;

// File descriptors one answer may carry before it is malformed; room for a
// few so that extra ones are received (and closed) rather than leaked into
// a truncated control message.
constexpr int kMaxReceivedFds = 4;
// How long to look for a refusal the stack sent before it hung up.
constexpr int64_t kRefusalReadMs = 100;

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Closes the fd it holds when it goes out of scope; preserves errno.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() {
    if (fd_ >= 0) {
      const int saved_errno = errno;
      close(fd_);
      errno = saved_errno;
    }
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// Sets the socket's send timeout (connect(2) and sendmsg(2) on a Unix
// socket honour it) to what is left until `deadline_ms`. False if nothing
// is left.
bool SetSendTimeout(int fd, int64_t deadline_ms) {
  const int64_t left = deadline_ms - NowMs();
  if (left <= 0) return false;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(left / 1000);
  tv.tv_usec = static_cast<suseconds_t>((left % 1000) * 1000);
  libc::SetSockOpt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  return true;
}

int Connect(int fd, const char* path, int64_t deadline_ms) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const size_t path_len = std::strlen(path);
  if (path_len == 0) return ENOENT;
  if (path_len >= sizeof(addr.sun_path)) return ENAMETOOLONG;
  std::memcpy(addr.sun_path, path, path_len);
  const auto len = static_cast<socklen_t>(sizeof(addr));
  for (;;) {
    if (!SetSendTimeout(fd, deadline_ms)) return ETIMEDOUT;
    if (libc::Connect(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0) {
      return 0;
    }
    switch (errno) {
      case EINTR:
        continue;
      case EISCONN:
        return 0;
      case EAGAIN:  // The stack's backlog stayed full until the timeout.
        return ETIMEDOUT;
      default:
        return errno;
    }
  }
}

int Send(int fd, const std::string& bytes, int fd_to_send,
         int64_t deadline_ms) {
  const FdMessage msg(bytes.data(), bytes.size(), fd_to_send);
  for (;;) {
    const ssize_t n = libc::SendMsg(fd, msg.get(), MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(bytes.size())) return 0;
    if (n >= 0) return EPROTO;  // A packet is sent whole or not at all.
    switch (errno) {
      case EINTR:
        if (!SetSendTimeout(fd, deadline_ms)) return ETIMEDOUT;
        continue;
      case EAGAIN:
        return ETIMEDOUT;
      case EPIPE:
      case ECONNRESET:
        return ECONNRESET;
      default:
        return errno;
    }
  }
}

void CloseAll(const int* fds, int count) {
  for (int i = 0; i < count; ++i) close(fds[i]);
}

// Reads the answer. `passcred`: SO_PASSCRED is on, so every packet carries
// credentials and a 0 without them is the end of the connection rather than
// an empty Response (one whose fields are all default).
int Receive(int fd, int64_t deadline_ms, bool passcred, Response* response,
            int* received_fd) {
  std::unique_ptr<char[]> buffer(new (std::nothrow) char[kMaxMessageBytes]);
  if (buffer == nullptr) return ENOMEM;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred)) +
                                CMSG_SPACE(sizeof(int) * kMaxReceivedFds)];
  iovec iov{buffer.get(), kMaxMessageBytes};
  msghdr msg{};
  ssize_t n;
  bool reset_seen = false;
  for (;;) {
    const int64_t left = deadline_ms - NowMs();
    if (left <= 0) return ETIMEDOUT;
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno != EINTR) return errno;
    if (ready <= 0) continue;
    msg = msghdr{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    n = libc::RecvMsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n >= 0) break;
    if (errno == EINTR || errno == EAGAIN) continue;
    if (errno == ECONNRESET) {
      // The stack hung up with our request unread (it turned us away):
      // the reset comes first, then the answer it left, if any.
      if (reset_seen) return ECONNRESET;
      reset_seen = true;
      continue;
    }
    return errno;
  }
  int fds[kMaxReceivedFds * 2];
  int fd_count = 0;
  bool credentials = false;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
       c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_CREDENTIALS) credentials = true;
    if (c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t k = 0; k < count && fd_count < kMaxReceivedFds * 2; ++k) {
      std::memcpy(&fds[fd_count++], CMSG_DATA(c) + k * sizeof(int),
                  sizeof(int));
    }
  }
  if (n == 0 && passcred && !credentials) {
    CloseAll(fds, fd_count);
    return ECONNRESET;
  }
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || fd_count > 1 ||
      !response->ParseFromArray(buffer.get(), static_cast<int>(n))) {
    CloseAll(fds, fd_count);
    return EPROTO;
  }
  if (fd_count == 1) {
    if (received_fd != nullptr) {
      *received_fd = fds[0];
    } else {
      close(fds[0]);
    }
  }
  return 0;
}

}  // namespace

int ControlCall(const char* path, Request* request, int fd, Response* response,
                int* received_fd) {
  if (received_fd != nullptr) *received_fd = -1;
  if (path == nullptr) return ENOENT;
  const int64_t deadline_ms = NowMs() + kControlTimeoutMs;
  request->set_version(socket::v1::PROTOCOL_VERSION_CURRENT);
  std::string bytes;
  if (!request->SerializeToString(&bytes)) return EPROTO;
  if (bytes.size() > kMaxMessageBytes) return EMSGSIZE;

  ScopedFd control(libc::Socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (control.get() < 0) return errno;
  const int one = 1;
  const bool passcred = libc::SetSockOpt(control.get(), SOL_SOCKET, SO_PASSCRED,
                                         &one, sizeof(one)) == 0;
  if (int error = Connect(control.get(), path, deadline_ms)) return error;
  if (int error = Send(control.get(), bytes, fd, deadline_ms)) {
    // A stack that turns a client away (too many control connections)
    // answers with the reason before it hangs up: read it if it is there.
    response->Clear();
    if (error == ECONNRESET &&
        Receive(control.get(), NowMs() + kRefusalReadMs, passcred, response,
                received_fd) == 0 &&
        response->error() != 0) {
      return 0;
    }
    return error;
  }
  response->Clear();
  return Receive(control.get(), deadline_ms, passcred, response, received_fd);
}

}  // namespace stackd::client
