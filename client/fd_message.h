// FdMessage: a sendmsg(2) message of one buffer that carries one file
// descriptor as SCM_RIGHTS (or none), the shape of every fd handover
// between the library and stackd (control replies, accept records).
#ifndef STACKD_CLIENT_FD_MESSAGE_H_
#define STACKD_CLIENT_FD_MESSAGE_H_

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstring>

namespace stackd::client {

class FdMessage {
 public:
  // `data` must outlive the message; `fd` < 0 sends no descriptor.
  FdMessage(const void* data, size_t len, int fd) {
    iov_.iov_base = const_cast<void*>(data);
    iov_.iov_len = len;
    msg_.msg_iov = &iov_;
    msg_.msg_iovlen = 1;
    if (fd < 0) return;
    msg_.msg_control = control_;
    msg_.msg_controllen = sizeof(control_);
    cmsghdr* c = CMSG_FIRSTHDR(&msg_);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  FdMessage(const FdMessage&) = delete;
  FdMessage& operator=(const FdMessage&) = delete;

  const msghdr* get() const { return &msg_; }

 private:
  iovec iov_{};
  alignas(cmsghdr) char control_[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg_{};
};

}  // namespace stackd::client

#endif  // STACKD_CLIENT_FD_MESSAGE_H_
