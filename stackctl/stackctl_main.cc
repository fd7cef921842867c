// stackctl: see command.h.
#include <iostream>
#include <string>
#include <vector>

#include "stackctl/command.h"

int main(int argc, char** argv) {
  return stackd::stackctl::RunStackctl(std::vector<std::string>(argv + 1, argv + argc),
                                       std::cout, std::cerr);
}
