// What stackd gives up once it has made its TAP, its sockets and its admin
// server: root, every capability, the right to gain privileges again, and
// every system call it does not use.
//
// Thread: any; both act on every thread of the process.
#ifndef STACKD_SANDBOX_H_
#define STACKD_SANDBOX_H_

#include <string>

#include "absl/status/status.h"

namespace stackd {

// Becomes `user` (its uid, primary gid and no supplementary groups), with
// an empty capability bounding set on this thread and no capabilities left
// in any thread, and sets no_new_privs. Needs root; a process that is not
// root keeps its identity and only sets no_new_privs. Errors: NotFound for
// an unknown user, InvalidArgument for "root" (nothing to drop to), the
// errno of the call that failed otherwise.
absl::Status DropPrivileges(const std::string& user);

// Loads a seccomp filter (libseccomp) on every thread that allows only the
// system calls stackd makes while it serves; any other call fails with
// EPERM, and a line naming its number goes to stderr. Requires
// no_new_privs or CAP_SYS_ADMIN. Errors: Internal with what libseccomp
// refused.
absl::Status ConfineSystemCalls();

}  // namespace stackd

#endif  // STACKD_SANDBOX_H_
