// Which fds the library knows are not stack datagram sockets, so that the
// data calls (read, write, recv, send and the rest) on files, pipes, kernel
// sockets and TCP stack sockets cost no system call to ask
// (FindDatagramSocket in stack_datagram.h asks once per fd number).
//
// What is known is forgotten wherever an fd number can come to mean
// something else through the library's calls: close, dup2, dup3, closefrom,
// close_range and the fds that socket, accept, dup, fcntl(F_DUPFD) and
// recvmsg (SCM_RIGHTS) return (interpose.cc). Forgetting is always safe;
// knowing wrongly is not, so only a system call's answer teaches it. An fd
// number that a raw system call (not libc's function) closes and then
// fills with a stack datagram socket is the one case it misses.
//
// Thread: any (lock-free); fds from 0 to kCachedFds - 1 are cached.
#ifndef STACKD_CLIENT_FD_CACHE_H_
#define STACKD_CLIENT_FD_CACHE_H_

namespace stackd::client {

inline constexpr int kCachedFds = 1 << 16;

// True only if RememberNotDatagram(fd) came after the last ForgetFd that
// covered it.
bool KnownNotDatagram(int fd);
void RememberNotDatagram(int fd);
void ForgetFd(int fd);
// Every fd from `first` to `last`, both included (close_range).
void ForgetFds(unsigned first, unsigned last);

}  // namespace stackd::client

#endif  // STACKD_CLIENT_FD_CACHE_H_
