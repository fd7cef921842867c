// vustack: runs an unmodified program on a chosen stack, as vuos' vustack
// does. It makes the stack the process's default (msocket(path, family,
// SOCK_DEFAULT, 0), so the client library owns the environment variables),
// preloads libmsocket.so (LD_PRELOAD, in front of what the caller had) and
// executes the command in its place:
//
//   vustack [-f FAMILIES] [-s] STACK COMMAND [ARGS...]
//
// Families not chosen with -f keep whatever default the caller had (none:
// the kernel), so vustacks nest. Statically linked commands are run with a
// warning: LD_PRELOAD cannot reach them.
//
// Exit status, as env(1) and timeout(1): the command's own when it ran;
// 127 when COMMAND was not found; 126 when it was found but could not be
// executed; 125 when vustack itself failed (usage, a missing STACK, a path
// that is not a stack, a family the stack does not serve, no
// libmsocket.so).
#ifndef VUSTACK_LAUNCHER_H_
#define VUSTACK_LAUNCHER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace stackd::vustack {

inline constexpr int kExitFailure = 125;
inline constexpr int kExitCannotExecute = 126;
inline constexpr int kExitNotFound = 127;

// The preloaded library's file name.
inline constexpr char kLibraryName[] = "libmsocket.so";

// What the command line asks for.
struct Invocation {
  std::string stack;
  // AF_INET and/or AF_INET6, without repeats, in the order given; empty:
  // every family the stack serves.
  std::vector<int> families;
  bool show_families = false;  // -s
  bool help = false;           // -h, --help
  // COMMAND and its arguments; empty only with -s or --help.
  std::vector<std::string> command;
};

// The usage text, for --help and usage errors.
std::string Usage();

// Parses -f's comma list: "ip" (IPv4 and IPv6), "ipv4", "ip4", "inet",
// "ipv6", "ip6", "inet6" (case-sensitive). Repeats are dropped.
// InvalidArgument for an empty list, an empty item or an unknown name.
absl::StatusOr<std::vector<int>> ParseFamilies(absl::string_view list);

// Parses the whole command line (args[0] is vustack's own name). Options
// end at the first non-option (STACK) or at "--"; -f may repeat.
// InvalidArgument, with the reason, for a usage error.
absl::StatusOr<Invocation> ParseCommandLine(
    const std::vector<std::string>& args);

// "ipv4" or "ipv6" (or "family N").
std::string FamilyName(int family);

// The families the stack at `path` serves (its HelloResponse), AF_INET
// before AF_INET6. Errors: NotFound (no such path), FailedPrecondition (the
// path is not a stack), or the errno of the control call (ETIMEDOUT,
// EACCES, ...) as absl::ErrnoToStatus.
absl::StatusOr<std::vector<int>> StackFamilies(const std::string& path);

// Makes the stack at `path` this process's default for `families` (empty:
// every family it serves) through msocket(path, family, SOCK_DEFAULT, 0),
// which writes the environment the command inherits. Errors carry
// msocket's errno (absl::ErrnoToStatus): ENOENT, ENOTSUP, EAFNOSUPPORT,
// ... with a message for a person.
absl::Status SetDefaultStacks(const std::string& path,
                              const std::vector<int>& families);

// Where libmsocket.so is for the vustack executable at `self_exe` (its
// real path, symlinks resolved): in the Bazel output tree
// (DIR/../client/, DIR = dirname(self_exe)), in its runfiles
// (self_exe.runfiles/stackd/client/, or $RUNFILES_DIR/stackd/client/ when
// `runfiles_dir` is not empty), next to it (DIR/) or in an installed
// layout (DIR/../lib/). The first that exists wins; the path returned is
// absolute and normalised. NotFound, listing where it looked, otherwise;
// InvalidArgument if the path holds a character LD_PRELOAD splits on
// (space or colon).
absl::StatusOr<std::string> FindPreloadLibrary(const std::string& self_exe,
                                               const std::string& runfiles_dir);

// LD_PRELOAD's new value: `library` first, then the entries of `existing`
// (the caller's LD_PRELOAD, entries split on spaces and colons) except
// `library` itself, joined with ':'.
std::string PreloadList(absl::string_view library, absl::string_view existing);

// Finds `name` as execvp(3) does: a name with a '/' is taken as it is;
// otherwise each directory of `search_path` (empty entries: the working
// directory; null: "/bin:/usr/bin") is tried in order for an executable
// regular file. Returns its path, or: NotFound (nothing of that name:
// exit 127), PermissionDenied (only files that cannot be executed, or a
// directory: exit 126).
absl::StatusOr<std::string> ResolveCommand(const std::string& name,
                                           const char* search_path);

// How an executable file is linked.
enum class Linkage {
  kDynamic,  // ELF with a program interpreter (the dynamic loader).
  kStatic,   // ELF without one (static or static-pie): LD_PRELOAD never applies.
  kNotElf,   // A script or anything else.
};

// Reads the ELF header and program headers of `path`. Errors: the errno of
// open/read (absl::ErrnoToStatus); a truncated or malformed ELF is
// kNotElf.
absl::StatusOr<Linkage> ExecutableLinkage(const std::string& path);

// The exit status a failed ResolveCommand or exec maps to: 127 for
// NotFound, 126 otherwise.
int ExitCodeFor(const absl::Status& command_error);

// Carries out `invocation`: prints the families (-s), sets the defaults,
// finds the library, warns about a static command, sets LD_PRELOAD and
// executes the command. Returns only on failure (or after -s without a
// command), with the exit status; the reason has been written to stderr
// in one line starting "vustack: ". Under `bazel run` it first changes to
// the directory bazel was run from ($BUILD_WORKING_DIRECTORY), so that
// relative paths mean what the user meant.
int Run(const Invocation& invocation);

}  // namespace stackd::vustack

#endif  // VUSTACK_LAUNCHER_H_
