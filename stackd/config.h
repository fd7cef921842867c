// stackd's configuration and its command line.
//
//   stackd [flags] PATH
//
// PATH names the stack: the Unix socket that the client library speaks to.
// See Usage() for the flags.
#ifndef STACKD_CONFIG_H_
#define STACKD_CONFIG_H_

#include <cstddef>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "stackd/addresses.h"

namespace stackd {

inline constexpr int kDefaultMtu = 65520;

// Name resolution through the stack (--dns, --search): what stackd tells
// the client library in HelloResponse. The limits are resolv.conf's
// (MAXNS, MAXDNSRCH), which keep a lookup's worst case bounded.
inline constexpr int kDefaultDnsPort = 53;
inline constexpr size_t kMaxDnsServers = 3;
inline constexpr size_t kMaxSearchDomains = 6;

// A DNS server the library queries through the stack.
struct DnsServer {
  IpAddress address;
  int port = kDefaultDnsPort;

  // Parses "10.0.0.1", "10.0.0.1:5353", "fd00::1" or "[fd00::1]:5353".
  // InvalidArgument with the reason otherwise (port outside 1..65535).
  static absl::StatusOr<DnsServer> Parse(absl::string_view text);
  // "10.0.0.1:53", "[fd00::1]:53".
  std::string ToString() const;
};

struct StackConfig {
  std::string path;      // The stack's Unix socket, e.g. /dev/net/mynet.
  std::string tap_name;  // "" lets the kernel pick (stackd0, stackd1, ...).
  std::string netns;     // Namespace of the TAP's kernel side; "" = ours.
  std::string netns_path;  // Or its file (/proc/PID/ns/net); not with netns.
  std::vector<IpPrefix> addresses;
  std::vector<IpAddress> gateways;  // At most one per family.
  int mtu = 0;  // 0: kDefaultMtu for a TAP we create, else the device's.
  std::optional<MacAddress> mac;  // Unset: derived from path.
  std::string grpc_endpoint;      // gRPC target; default "unix:PATH.grpc".
  std::vector<DnsServer> dns_servers;      // --dns, in the order given.
  std::vector<std::string> search_domains;  // --search, without a final dot.
  int verbosity = 0;
  // Binding a port below this needs root (Linux's
  // net.ipv4.ip_unprivileged_port_start); 0 lets everyone bind any port.
  int unprivileged_port_start = 1024;
  // Control connections (concurrent calls) served per uid.
  int max_calls_per_uid = 256;
  // Who stackd becomes once its TAP and sockets are made ("root": stay).
  std::string user = "nobody";
  // --ready-fd: where "READY=1" goes once the stack serves (readiness.h);
  // -1: nowhere.
  int ready_fd = -1;
  // --ping-group-range: the gids that may make ICMP echo (ping) sockets,
  // as Linux's net.ipv4.ping_group_range. Unset: the value of the namespace
  // stackd starts in (/proc/sys/net/ipv4/ping_group_range).
  std::optional<std::pair<uint32_t, uint32_t>> ping_group_range;
};

// What ParseCommandLine found: either a configuration to run, or a request
// for help (print Usage() and exit 0).
struct CommandLine {
  bool help = false;
  StackConfig config;
};

// Parses argv (argv[0] is the program name). Flags take "--flag=value" or
// "--flag value". InvalidArgument with a message naming the bad flag or
// value: unknown flag, missing PATH, relative PATH, malformed CIDR or
// address, MTU out of 1280..65535 (IPv6 needs 1280), two gateways of one
// family, a gateway without an address of its family, a malformed --dns
// server or --search domain, more than kMaxDnsServers servers or
// kMaxSearchDomains domains.
absl::StatusOr<CommandLine> ParseCommandLine(int argc, const char* const argv[]);

// The flags, one per line, for --help.
std::string Usage();

}  // namespace stackd

#endif  // STACKD_CONFIG_H_
