// The admin service of a test bed's stackd, for tests that count what the
// stack holds: ListSockets through gRPC (//proto:admin_cc_proto), fast
// enough to poll every few milliseconds.
//
// gRPC starts threads on first use: a test that forks should fork before
// the first call.
#ifndef STACKD_TESTS_ADMIN_CLIENT_H_
#define STACKD_TESTS_ADMIN_CLIENT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/admin.pb.h"

namespace stackd::testbed {

// Every socket of the stack at `endpoint` ("unix:PATH.grpc"), each call
// bounded by `timeout`. Errors: the RPC's status, as an absl::Status.
absl::StatusOr<std::vector<admin::v1::Socket>> ListSockets(
    const std::string& endpoint, absl::Duration timeout = absl::Seconds(5));

}  // namespace stackd::testbed

#endif  // STACKD_TESTS_ADMIN_CLIENT_H_
