// The BSD socket calls on stack UDP sockets: what a UDP socket's calls
// return on Linux, for a socket whose datagrams travel over a
// SOCK_SEQPACKET socketpair, each behind a header with the addresses
// (docs/socket-protocol.md, "UDP on the pair"; datagram_header.h).
//
// The data calls (send and receive) need no control call: the mark on the
// fd (FindDatagramSocket) says whether it is a stack UDP socket, its family
// and whether it is connected, at the cost of one getsockopt(2) per call on
// any fd. The rest (connect, options) ask the stack.
//
// Each function returns 0 or the errno the application's call fails with.
// Thread: any.
#ifndef CLIENT_STACK_DATAGRAM_H_
#define CLIENT_STACK_DATAGRAM_H_

#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include <cstddef>

#include "client/datagram_header.h"
#include "client/stack_name.h"

namespace stackd::client {

// True, and *mark filled, if `fd` is a stack UDP socket. One getsockopt(2)
// (the raw system call); preserves errno. Async-signal-safe.
bool FindDatagramSocket(int fd, DatagramMark* mark);

// sendmsg(2): one datagram of the iovecs' bytes to msg_name, or to the
// connected peer. IP_PKTINFO / IPV6_PKTINFO control messages choose the
// source address and interface. *sent is the payload's size.
// Errors: EDESTADDRREQ (no address, not connected), EMSGSIZE (over the
// limit, datagram_header.h), EINVAL, EAFNOSUPPORT (the address),
// EOPNOTSUPP (MSG_OOB), EAGAIN, EINTR, EPIPE (shut down for sending),
// EFAULT.
int DatagramSend(int fd, const DatagramMark& mark, const msghdr* msg,
                 int flags, size_t* sent);

// recvmsg(2): one datagram into the iovecs, its source in msg_name, the
// control messages the socket asked for, MSG_TRUNC in msg_flags when the
// datagram was longer than the buffers. MSG_PEEK, MSG_DONTWAIT and
// MSG_TRUNC (the full length returned) work as on Linux. *received is the
// byte count recvmsg returns. At the end of the pair (the application shut
// down receiving, or the stack is gone) it is 0, or the error the stack
// reports (ENETDOWN when it is gone).
// Errors: EAGAIN, EINTR, ECONNREFUSED (an ICMP port unreachable for a
// connected socket), EOPNOTSUPP (MSG_OOB), EFAULT.
int DatagramReceive(int fd, msghdr* msg, int flags, size_t* received);

// sendmmsg(2) / recvmmsg(2) on top of the above: the number of messages
// done in *count; an error only if the first message failed.
int DatagramSendMany(int fd, const DatagramMark& mark, mmsghdr* msgs,
                     unsigned int vlen, int flags, int* count);
int DatagramReceiveMany(int fd, mmsghdr* msgs, unsigned int vlen, int flags,
                        timespec* timeout, int* count);

// ioctl(FIONREAD): the size of the next datagram's payload, 0 if none.
int DatagramPending(int fd, int* bytes);

// connect(2): sets the default peer, or dissolves the association for
// AF_UNSPEC. Errors: as the stack's ConnectRequest, EINVAL, EFAULT,
// EAFNOSUPPORT.
int DatagramConnect(int fd, const StackName& stack, const sockaddr* addr,
                    socklen_t len);

// setsockopt(2)/getsockopt(2) on a stack UDP socket: the multicast options'
// structures (ip_mreq, ip_mreqn, ipv6_mreq, IP_MULTICAST_IF's in_addr) and
// IPPROTO_IP's one-byte values, then StackSetOpt / StackGetOpt. SO_SNDBUF
// keeps the pair's own buffer large enough for the largest datagram.
int DatagramSetOpt(int fd, const StackName& stack, int level, int name,
                   const void* value, socklen_t len);
int DatagramGetOpt(int fd, const StackName& stack, int level, int name,
                   void* value, socklen_t* len);

}  // namespace stackd::client

#endif  // CLIENT_STACK_DATAGRAM_H_
