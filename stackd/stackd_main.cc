// stackd: serves one userspace TCP/IP stack. See config.h for the flags.
#include <cstdio>

#include "stackd/config.h"
#include "stackd/daemon.h"

int main(int argc, char** argv) {
  auto cl = stackd::ParseCommandLine(argc, argv);
  if (!cl.ok()) {
    std::fprintf(stderr, "stackd: %s\n", std::string(cl.status().message()).c_str());
    return 2;
  }
  if (cl->help) {
    std::fputs(stackd::Usage().c_str(), stdout);
    return 0;
  }
  absl::Status status = stackd::RunStackd(cl->config);
  if (!status.ok()) {
    std::fprintf(stderr, "stackd: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
