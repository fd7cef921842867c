// The one table that turns lwIP's err_t into the errno an application sees.
#ifndef STACKD_SOCKETS_LWIP_ERRNO_H_
#define STACKD_SOCKETS_LWIP_ERRNO_H_

namespace stackd {

// Maps an lwIP err_t (ERR_OK, ERR_MEM, ...) to an errno value (0 for
// ERR_OK). `connecting` says the error ended a connection attempt, where
// lwIP's ERR_RST means "refused" and ERR_ABRT "timed out".
int LwipErrToErrno(int err, bool connecting = false);

}  // namespace stackd

#endif  // STACKD_SOCKETS_LWIP_ERRNO_H_
