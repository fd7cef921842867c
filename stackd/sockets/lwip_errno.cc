#include "stackd/sockets/lwip_errno.h"

#include <cerrno>

#include "lwip/err.h"

namespace stackd {

int LwipErrToErrno(int err, bool connecting) {
  switch (err) {
    case ERR_OK: return 0;
    case ERR_MEM: return ENOMEM;
    case ERR_BUF: return ENOBUFS;
    case ERR_TIMEOUT: return ETIMEDOUT;
    case ERR_RTE: return ENETUNREACH;
    case ERR_INPROGRESS: return EINPROGRESS;
    case ERR_VAL: return EINVAL;
    case ERR_WOULDBLOCK: return EWOULDBLOCK;
    case ERR_USE: return EADDRINUSE;
    case ERR_ALREADY: return EALREADY;
    case ERR_ISCONN: return EISCONN;
    case ERR_CONN: return ENOTCONN;
    case ERR_IF: return ENETDOWN;
    // lwIP reports a retransmission or SYN timeout as an abort.
    case ERR_ABRT: return ETIMEDOUT;
    case ERR_RST: return connecting ? ECONNREFUSED : ECONNRESET;
    case ERR_CLSD: return ENOTCONN;
    case ERR_ARG: return EINVAL;
    default: return EIO;
  }
}

}  // namespace stackd
