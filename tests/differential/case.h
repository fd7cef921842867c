// One case of the differential harness: a behaviour a program can observe,
// written once against a World and run on kernel sockets and on stack
// sockets; tests/differential/differential_test.cc compares the records.
#ifndef STACKD_TESTS_DIFFERENTIAL_CASE_H_
#define STACKD_TESTS_DIFFERENTIAL_CASE_H_

#include <functional>
#include <string>
#include <vector>

#include "tests/differential/world.h"

namespace stackd::differential {

struct Case {
  // "contract/behaviour", e.g. "tcp_connect/eisconn": letters, digits, _
  // and one /.
  std::string name;
  // The families it runs over.
  std::vector<Ip> ips;
  // True if the case has a peer (a connection, a datagram): it runs on the
  // stack's loopback and across the TAP. False: the socket alone (options,
  // binds), run once on the stack.
  bool peer = true;
  std::function<void(World&, Ip, Record&)> run;
  // True if the peer must be the kernel (it sends raw ICMP): the case runs
  // across the TAP only, not on the stack's loopback.
  bool kernel_peer = false;
};

// The families most cases run over.
inline const std::vector<Ip> kAllIps = {Ip::kV4, Ip::kV6, Ip::kMapped};
inline const std::vector<Ip> kV4V6 = {Ip::kV4, Ip::kV6};

// Each file of cases adds its own.
void AddOptionCases(std::vector<Case>& cases);
void AddTcpCases(std::vector<Case>& cases);
void AddListenerCases(std::vector<Case>& cases);
void AddUdpCases(std::vector<Case>& cases);

// Where stackd differs from Linux by design or for now: the reason, or
// nullptr if it must match. `id` is "case/ip/world" (world: stack_lo,
// stack_tap, stack).
const char* KnownDifference(const std::string& id);

}  // namespace stackd::differential

#endif  // STACKD_TESTS_DIFFERENTIAL_CASE_H_
