#include "stackd/log.h"

#include <atomic>

namespace stackd {
namespace {
std::atomic<int> verbosity{0};
}  // namespace

void SetLogVerbosity(int v) { verbosity.store(v); }
int LogVerbosity() { return verbosity.load(); }

}  // namespace stackd
