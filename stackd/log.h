// Minimal logging for stackd: one line per event on stderr, prefixed with
// "stackd: ". Level 0 is always shown; higher levels need -v flags.
#ifndef STACKD_LOG_H_
#define STACKD_LOG_H_

#include <cstdio>

#include "absl/strings/str_format.h"

namespace stackd {

// How many -v flags were given; read by Log().
void SetLogVerbosity(int verbosity);
int LogVerbosity();

template <typename... Args>
void Log(int level, const absl::FormatSpec<Args...>& format,
         const Args&... args) {
  if (level > LogVerbosity()) return;
  std::string line = absl::StrFormat(format, args...);
  std::fprintf(stderr, "stackd: %s\n", line.c_str());
}

}  // namespace stackd

#endif  // STACKD_LOG_H_
