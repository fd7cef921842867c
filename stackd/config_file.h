// stackd --config=FILE: the file (protobuf text format of
// stackd.config.v1.StackdConfig, proto/stackd_config.proto) read as the
// flags it stands for, so that a file's value is checked exactly as the
// same flag on the command line (config.h).
#ifndef STACKD_CONFIG_FILE_H_
#define STACKD_CONFIG_FILE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace stackd {

// One field of the file as a flag: "addr" with "10.42.0.2/24", at `line`
// (1-based). The file's PATH comes as name "path"; `verbose: N` as name
// "verbose" with the count.
struct FileFlag {
  std::string name;
  std::string value;
  int line = 0;
};

// The fields of `file` in the order of the message's fields (a repeated
// field's values in the file's order). InvalidArgument "FILE:LINE:COLUMN:
// what" for text that does not parse (an unknown key, a bad value for its
// type); NotFound / PermissionDenied if it cannot be read.
absl::StatusOr<std::vector<FileFlag>> ReadConfigFile(const std::string& file);

}  // namespace stackd

#endif  // STACKD_CONFIG_FILE_H_
