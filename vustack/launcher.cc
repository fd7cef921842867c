#include "vustack/launcher.h"

#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/msocket.h"
#include "client/stack_socket.h"

namespace stackd::vustack {
namespace {

// The workspace's name in runfiles trees (WORKSPACE: workspace(name = ...)).
constexpr char kWorkspace[] = "stackd";
// execvp(3)'s search path when PATH is unset.
constexpr char kDefaultSearchPath[] = "/bin:/usr/bin";

void Complain(const std::string& message) {
  std::fprintf(stderr, "vustack: %s\n", message.c_str());
}

// The canonical absolute form of an existing `path`, or nullopt.
std::optional<std::string> RealPath(const std::string& path) {
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) return std::nullopt;
  return std::string(resolved);
}

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Reads exactly `len` bytes at `offset`. False on a short read or error.
bool ReadAt(int fd, void* buf, size_t len, off_t offset) {
  size_t done = 0;
  while (done < len) {
    const ssize_t n = pread(fd, static_cast<char*>(buf) + done, len - done,
                            offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Whether the program headers of an ELF file name an interpreter.
template <typename Ehdr, typename Phdr>
Linkage LinkageOf(int fd) {
  Ehdr header;
  if (!ReadAt(fd, &header, sizeof(header), 0)) return Linkage::kNotElf;
  if (header.e_phentsize < sizeof(Phdr) || header.e_phnum == 0 ||
      header.e_phnum == PN_XNUM) {
    return Linkage::kNotElf;
  }
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    Phdr ph;
    const off_t at = static_cast<off_t>(header.e_phoff) +
                     static_cast<off_t>(i) * header.e_phentsize;
    if (!ReadAt(fd, &ph, sizeof(ph), at)) return Linkage::kNotElf;
    if (ph.p_type == PT_INTERP) return Linkage::kDynamic;
  }
  return Linkage::kStatic;
}

// A status with the code absl::ErrnoToStatus gives `error` and `message`
// alone (without strerror's text).
absl::Status ErrnoStatus(int error, const std::string& message) {
  return absl::Status(absl::ErrnoToStatus(error, "").code(), message);
}

// What went wrong with the stack at `path`, for a person.
std::string Describe(const std::string& path, int error) {
  if (error == ENAMETOOLONG) {
    return absl::StrCat(path, ": path too long for a unix socket (at most ",
                        sizeof(sockaddr_un::sun_path) - 1, " bytes)");
  }
  if (error == ETIMEDOUT) {
    return absl::StrCat(path, ": the stack did not answer");
  }
  return absl::StrCat(path, ": ", std::strerror(error));
}

std::string FamilyList(const std::vector<int>& families) {
  std::vector<std::string> names;
  for (int f : families) names.push_back(FamilyName(f));
  return names.empty() ? "nothing" : absl::StrJoin(names, " ");
}

}  // namespace

std::string Usage() {
  return "usage: vustack [-f FAMILIES] [-s] STACK COMMAND [ARGS...]\n"
         "       vustack -s STACK\n"
         "Runs COMMAND with STACK (the path a stackd serves, e.g.\n"
         "/run/stackd/blue) as its default network stack: libmsocket.so is\n"
         "preloaded, so its sockets and name lookups go through STACK.\n"
         "  -f FAMILIES  comma list of the families to put on STACK:\n"
         "               ip (ipv4 and ipv6), ipv4 (ip4, inet), ipv6 (ip6,\n"
         "               inet6). Default: every family STACK serves. The\n"
         "               others keep the caller's default (the kernel).\n"
         "  -s           print the families STACK serves (and then run\n"
         "               COMMAND, if one is given)\n"
         "  -h, --help   this text\n"
         "Exit status: COMMAND's; 127 if COMMAND is not found, 126 if it\n"
         "cannot be executed, 125 if vustack itself fails.\n"
         "Statically linked programs, raw syscall() and io_uring sockets\n"
         "cannot be reached by LD_PRELOAD and stay on the kernel's stack.\n";
}

absl::StatusOr<std::vector<int>> ParseFamilies(absl::string_view list) {
  std::vector<int> families;
  auto add = [&families](int f) {
    if (std::find(families.begin(), families.end(), f) == families.end()) {
      families.push_back(f);
    }
  };
  if (list.empty()) {
    return absl::InvalidArgumentError("-f needs a list of families");
  }
  for (absl::string_view item : absl::StrSplit(list, ',')) {
    if (item == "ip") {
      add(AF_INET);
      add(AF_INET6);
    } else if (item == "ipv4" || item == "ip4" || item == "inet") {
      add(AF_INET);
    } else if (item == "ipv6" || item == "ip6" || item == "inet6") {
      add(AF_INET6);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown family '", item,
          "' (known: ip, ipv4, ip4, inet, ipv6, ip6, inet6)"));
    }
  }
  return families;
}

absl::StatusOr<Invocation> ParseCommandLine(
    const std::vector<std::string>& args) {
  Invocation inv;
  size_t i = 1;
  auto add_families = [&inv](absl::string_view list) -> absl::Status {
    absl::StatusOr<std::vector<int>> parsed = ParseFamilies(list);
    if (!parsed.ok()) return parsed.status();
    for (int f : *parsed) {
      if (std::find(inv.families.begin(), inv.families.end(), f) ==
          inv.families.end()) {
        inv.families.push_back(f);
      }
    }
    return absl::OkStatus();
  };
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "--help") {
      inv.help = true;
      return inv;
    }
    if (a == "--supported") {
      inv.show_families = true;
      continue;
    }
    if (absl::StartsWith(a, "--families")) {
      absl::string_view rest = absl::string_view(a).substr(10);
      if (absl::ConsumePrefix(&rest, "=")) {
        if (absl::Status s = add_families(rest); !s.ok()) return s;
        continue;
      }
      if (rest.empty()) {
        if (i + 1 >= args.size()) {
          return absl::InvalidArgumentError("--families needs a list");
        }
        if (absl::Status s = add_families(args[++i]); !s.ok()) return s;
        continue;
      }
    }
    if (a.size() < 2 || a[0] != '-' || a[1] == '-') {
      if (a.size() >= 2 && a[0] == '-' && a[1] == '-') {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown option ", a));
      }
      break;  // STACK.
    }
    // A cluster of short options: -s, -h, -f LIST, -fLIST, -sf LIST.
    for (size_t k = 1; k < a.size(); ++k) {
      const char c = a[k];
      if (c == 's') {
        inv.show_families = true;
      } else if (c == 'h') {
        inv.help = true;
        return inv;
      } else if (c == 'f') {
        std::string list;
        if (k + 1 < a.size()) {
          list = a.substr(k + 1);
        } else if (i + 1 < args.size()) {
          list = args[++i];
        } else {
          return absl::InvalidArgumentError("-f needs a list of families");
        }
        if (absl::Status s = add_families(list); !s.ok()) return s;
        break;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown option -", std::string(1, c)));
      }
    }
  }
  if (i >= args.size()) return absl::InvalidArgumentError("missing STACK");
  inv.stack = args[i++];
  if (inv.stack.empty()) return absl::InvalidArgumentError("empty STACK");
  inv.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i),
                     args.end());
  if (inv.command.empty() && !inv.show_families) {
    return absl::InvalidArgumentError("missing COMMAND");
  }
  return inv;
}

std::string FamilyName(int family) {
  switch (family) {
    case AF_INET:
      return "ipv4";
    case AF_INET6:
      return "ipv6";
    default:
      return absl::StrCat("family ", family);
  }
}

absl::StatusOr<std::vector<int>> StackFamilies(const std::string& path) {
  socket::v1::HelloResponse hello;
  const int error = client::StackHello(path.c_str(), &hello);
  if (error == ENOENT) {
    return absl::NotFoundError(
        absl::StrCat(path, ": no such stack (nothing at that path)"));
  }
  if (error == ENOTSUP) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": not a stack (no stackd answers there)"));
  }
  if (error != 0) return ErrnoStatus(error, Describe(path, error));
  std::vector<int> families;
  for (int wanted : {AF_INET, AF_INET6}) {
    for (int f : hello.families()) {
      if (f == wanted) {
        families.push_back(f);
        break;
      }
    }
  }
  return families;
}

absl::Status SetDefaultStacks(const std::string& path,
                              const std::vector<int>& families) {
  std::vector<int> domains = families;
  if (domains.empty()) domains.push_back(AF_UNSPEC);
  for (int domain : domains) {
    if (msocket(path.c_str(), domain, SOCK_DEFAULT, 0) == 0) continue;
    const int error = errno;
    switch (error) {
      case ENOENT:
        return ErrnoStatus(
            error, absl::StrCat(path, ": no such stack (nothing at that path)"));
      case ENOTSUP:
        return ErrnoStatus(
            error, absl::StrCat(path, ": not a stack (no stackd answers there)"));
      case EAFNOSUPPORT: {
        absl::StatusOr<std::vector<int>> served = StackFamilies(path);
        return ErrnoStatus(
            error, absl::StrCat(path, " does not serve ",
                                domain == AF_UNSPEC ? "ipv4 or ipv6"
                                                    : FamilyName(domain),
                                served.ok() ? absl::StrCat(" (it serves ",
                                                           FamilyList(*served),
                                                           ")")
                                            : ""));
      }
      default:
        return ErrnoStatus(error, Describe(path, error));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> FindPreloadLibrary(const std::string& self_exe,
                                               const std::string& runfiles_dir) {
  const std::string dir = DirName(self_exe);
  const std::string in_workspace = absl::StrCat("/", kWorkspace, "/client/");
  std::vector<std::string> candidates = {
      absl::StrCat(dir, "/../client/", kLibraryName),
      absl::StrCat(self_exe, ".runfiles", in_workspace, kLibraryName),
  };
  if (!runfiles_dir.empty()) {
    candidates.push_back(absl::StrCat(runfiles_dir, in_workspace, kLibraryName));
  }
  candidates.push_back(absl::StrCat(dir, "/", kLibraryName));
  candidates.push_back(absl::StrCat(dir, "/../lib/", kLibraryName));
  for (const std::string& candidate : candidates) {
    if (!IsRegularFile(candidate)) continue;
    std::optional<std::string> real = RealPath(candidate);
    if (!real) continue;
    if (real->find_first_of(": ") != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          *real, ": LD_PRELOAD cannot name a path with a space or a colon"));
    }
    return *real;
  }
  return absl::NotFoundError(absl::StrCat("cannot find ", kLibraryName,
                                          "; looked for ",
                                          absl::StrJoin(candidates, ", ")));
}

std::string PreloadList(absl::string_view library, absl::string_view existing) {
  std::vector<std::string> entries = {std::string(library)};
  for (absl::string_view e :
       absl::StrSplit(existing, absl::ByAnyChar(": "), absl::SkipEmpty())) {
    if (e != library) entries.emplace_back(e);
  }
  return absl::StrJoin(entries, ":");
}

absl::StatusOr<std::string> ResolveCommand(const std::string& name,
                                           const char* search_path) {
  if (name.empty()) {
    return absl::NotFoundError(": command not found");
  }
  auto check = [](const std::string& path) -> int {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return errno;
    if (S_ISDIR(st.st_mode)) return EISDIR;
    if (access(path.c_str(), X_OK) != 0) return errno;
    return 0;
  };
  if (name.find('/') != std::string::npos) {
    const int error = check(name);
    if (error == 0) return name;
    if (error == ENOENT || error == ENOTDIR) {
      return absl::NotFoundError(
          absl::StrCat(name, ": ", std::strerror(error)));
    }
    return absl::PermissionDeniedError(
        absl::StrCat(name, ": ", std::strerror(error)));
  }
  int seen = 0;  // The most telling error of a file that exists.
  for (absl::string_view dir : absl::StrSplit(
           search_path != nullptr ? search_path : kDefaultSearchPath, ':')) {
    const std::string candidate =
        dir.empty() ? name : absl::StrCat(dir, "/", name);
    const int error = check(candidate);
    if (error == 0) return candidate;
    if (error != ENOENT && error != ENOTDIR && error != EISDIR) seen = error;
  }
  if (seen != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat(name, ": ", std::strerror(seen)));
  }
  return absl::NotFoundError(absl::StrCat(name, ": command not found"));
}

absl::StatusOr<Linkage> ExecutableLinkage(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, path);
  unsigned char ident[EI_NIDENT];
  Linkage linkage = Linkage::kNotElf;
  if (ReadAt(fd, ident, sizeof(ident), 0) &&
      std::memcmp(ident, ELFMAG, SELFMAG) == 0) {
    if (ident[EI_CLASS] == ELFCLASS64) {
      linkage = LinkageOf<Elf64_Ehdr, Elf64_Phdr>(fd);
    } else if (ident[EI_CLASS] == ELFCLASS32) {
      linkage = LinkageOf<Elf32_Ehdr, Elf32_Phdr>(fd);
    }
  }
  close(fd);
  return linkage;
}

int ExitCodeFor(const absl::Status& command_error) {
  return absl::IsNotFound(command_error) ? kExitNotFound : kExitCannotExecute;
}

int Run(const Invocation& invocation) {
  if (const char* dir = getenv("BUILD_WORKING_DIRECTORY")) {
    if (chdir(dir) != 0) {
      Complain(absl::StrCat("cannot change to ", dir, ": ",
                            std::strerror(errno)));
      return kExitFailure;
    }
    unsetenv("BUILD_WORKING_DIRECTORY");
  }

  if (invocation.show_families) {
    absl::StatusOr<std::vector<int>> families = StackFamilies(invocation.stack);
    if (!families.ok()) {
      Complain(std::string(families.status().message()));
      return kExitFailure;
    }
    std::printf("%s\n", FamilyList(*families).c_str());
    std::fflush(stdout);
    if (invocation.command.empty()) return 0;
  }

  if (absl::Status s = SetDefaultStacks(invocation.stack, invocation.families);
      !s.ok()) {
    Complain(std::string(s.message()));
    return kExitFailure;
  }

  absl::StatusOr<std::string> program =
      ResolveCommand(invocation.command[0], getenv("PATH"));
  if (!program.ok()) {
    Complain(std::string(program.status().message()));
    return ExitCodeFor(program.status());
  }

  std::optional<std::string> self = RealPath("/proc/self/exe");
  const char* runfiles = getenv("RUNFILES_DIR");
  absl::StatusOr<std::string> library =
      FindPreloadLibrary(self.value_or(""), runfiles != nullptr ? runfiles : "");
  if (!library.ok()) {
    Complain(std::string(library.status().message()));
    return kExitFailure;
  }

  absl::StatusOr<Linkage> linkage = ExecutableLinkage(*program);
  if (linkage.ok() && *linkage == Linkage::kStatic) {
    Complain(absl::StrCat(
        "warning: ", *program,
        " is statically linked: LD_PRELOAD cannot reach it, its sockets "
        "stay on the kernel's stack"));
  }

  const char* existing = getenv("LD_PRELOAD");
  const std::string preload =
      PreloadList(*library, existing != nullptr ? existing : "");
  if (setenv("LD_PRELOAD", preload.c_str(), 1) != 0) {
    Complain(absl::StrCat("cannot set LD_PRELOAD: ", std::strerror(errno)));
    return kExitFailure;
  }

  std::vector<char*> argv;
  for (const std::string& a : invocation.command) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  execv(program->c_str(), argv.data());
  int error = errno;
  if (error == ENOEXEC) {
    // As execvp(3): a file without a known format is a shell script.
    std::vector<char*> sh_argv = {const_cast<char*>("sh"),
                                  const_cast<char*>(program->c_str())};
    sh_argv.insert(sh_argv.end(), argv.begin() + 1, argv.end());
    execv("/bin/sh", sh_argv.data());
    error = errno;
  }
  Complain(absl::StrCat(invocation.command[0], ": ", std::strerror(error)));
  return error == ENOENT ? kExitNotFound : kExitCannotExecute;
}

}  // namespace stackd::vustack
