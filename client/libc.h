// The definitions that the library's own socket calls hide: libc's socket,
// connect, read and the rest, found with dlsym(RTLD_NEXT) the first time each
// is used. The library calls these for every fd that is not a stack socket,
// and for its own control connections, so it never calls itself.
//
// Thread: any; resolution is lock-free (racing first calls resolve the same
// pointer), so it is also safe in a child after fork. If a name cannot be
// resolved (a static executable), the call goes to the system call directly.
// Every function behaves as the libc function of the same name: -1 (or 0
// for the end of a stream) and errno.
#ifndef CLIENT_LIBC_H_
#define CLIENT_LIBC_H_

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

namespace stackd::client::libc {

int Socket(int domain, int type, int protocol);
int Bind(int fd, const sockaddr* addr, socklen_t len);
int Listen(int fd, int backlog);
int Accept(int fd, sockaddr* addr, socklen_t* len);
int Accept4(int fd, sockaddr* addr, socklen_t* len, int flags);
int Connect(int fd, const sockaddr* addr, socklen_t len);
int GetSockName(int fd, sockaddr* addr, socklen_t* len);
int GetPeerName(int fd, sockaddr* addr, socklen_t* len);
int Shutdown(int fd, int how);
int SetSockOpt(int fd, int level, int name, const void* value, socklen_t len);
int GetSockOpt(int fd, int level, int name, void* value, socklen_t* len);
ssize_t Read(int fd, void* buf, size_t count);
ssize_t ReadChk(int fd, void* buf, size_t count, size_t buf_size);
ssize_t Recv(int fd, void* buf, size_t len, int flags);
ssize_t RecvChk(int fd, void* buf, size_t len, size_t buf_size, int flags);
ssize_t RecvFrom(int fd, void* buf, size_t len, int flags, sockaddr* addr,
                 socklen_t* addr_len);
ssize_t RecvFromChk(int fd, void* buf, size_t len, size_t buf_size, int flags,
                    sockaddr* addr, socklen_t* addr_len);
ssize_t RecvMsg(int fd, msghdr* msg, int flags);
ssize_t ReadV(int fd, const iovec* iov, int iovcnt);
ssize_t SendMsg(int fd, const msghdr* msg, int flags);
ssize_t SendTo(int fd, const void* buf, size_t len, int flags,
               const sockaddr* addr, socklen_t addr_len);
// The datagram path (stack_datagram.h) interposes these too.
ssize_t Write(int fd, const void* buf, size_t count);
ssize_t WriteV(int fd, const iovec* iov, int iovcnt);
ssize_t Send(int fd, const void* buf, size_t len, int flags);
int SendMMsg(int fd, mmsghdr* msgs, unsigned int vlen, int flags);
int RecvMMsg(int fd, mmsghdr* msgs, unsigned int vlen, int flags,
             timespec* timeout);
int Ioctl(int fd, unsigned long request, void* arg);
// The fd calls the library watches so that what it knows of an fd number
// (fd_cache.h) is forgotten when the number changes meaning.
int Close(int fd);
int Dup(int fd);
int Dup2(int fd, int new_fd);
int Dup3(int fd, int new_fd, int flags);
int Fcntl(int fd, int cmd, void* arg);
void CloseFrom(int low_fd);
int CloseRange(unsigned int first, unsigned int last, int flags);

}  // namespace stackd::client::libc

#endif  // CLIENT_LIBC_H_
