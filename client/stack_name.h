// Telling stack sockets from every other fd. stackd binds its end of each
// socket's pair to the abstract Unix address "\0stackd/NONCE/PATH", so the real
// getpeername(2) on the application's end names the socket's stack
// (docs/socket-protocol.md, "Recognising a stack socket"). One system call,
// no table: it survives fork, exec, dup and fd passing.
#ifndef CLIENT_STACK_NAME_H_
#define CLIENT_STACK_NAME_H_

#include <sys/socket.h>
#include <sys/un.h>

#include <cstdint>

namespace stackd::client {

// The stack that serves one socket.
struct StackName {
  uint64_t id = 0;  // The name's random nonce (not the socket's id).
  // The stack's PATH, NUL-terminated (fits: it came from a sun_path).
  char path[sizeof(sockaddr_un::sun_path)] = {};
};

// Parses `len` bytes of the address getpeername(2) returned. True, and *out
// filled, only for an AF_UNIX abstract address "\0stackd/NONCE/PATH" with a
// decimal ID and a non-empty PATH without NUL bytes.
bool ParseStackName(const sockaddr_un& addr, socklen_t len, StackName* out);

// True, and *out filled, if `fd` is a stack socket. Asks the kernel
// (SYS_getpeername, whatever else interposes getpeername); preserves errno.
// Thread: any; async-signal-safe.
bool FindStack(int fd, StackName* out);

}  // namespace stackd::client

#endif  // CLIENT_STACK_NAME_H_
