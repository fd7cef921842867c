// vustack: runs a command on a chosen stack. See launcher.h.
#include <cstdio>
#include <string>
#include <vector>

#include "vustack/launcher.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv, argv + argc);
  auto invocation = stackd::vustack::ParseCommandLine(args);
  if (!invocation.ok()) {
    std::fprintf(stderr, "vustack: %s\n%s",
                 std::string(invocation.status().message()).c_str(),
                 stackd::vustack::Usage().c_str());
    return stackd::vustack::kExitFailure;
  }
  if (invocation->help) {
    std::fputs(stackd::vustack::Usage().c_str(), stdout);
    return 0;
  }
  return stackd::vustack::Run(*invocation);
}
