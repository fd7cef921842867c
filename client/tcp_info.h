// getsockopt(TCP_INFO) for a stack socket: Linux's struct tcp_info (the
// whole one of <linux/tcp.h>, which glibc's <netinet/tcp.h> cuts short)
// filled from what stackd reports, every other field 0.
#ifndef STACKD_CLIENT_TCP_INFO_H_
#define STACKD_CLIENT_TCP_INFO_H_

#include <sys/socket.h>

#include "proto/socket.pb.h"

namespace stackd::client {

// Copies at most *len bytes of the struct to `value`; *len becomes what
// was copied. 0, or EFAULT.
int CopyTcpInfo(const socket::v1::TcpInfo& info, void* value, socklen_t* len);

}  // namespace stackd::client

#endif  // STACKD_CLIENT_TCP_INFO_H_
