#include "stackd/config.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "stackd/config_file.h"

namespace stackd {
namespace {

absl::Status FlagError(absl::string_view flag, const absl::Status& why) {
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, ": ", why.message()));
}

// A search domain as resolv.conf takes it: dot-separated labels of 1 to 63
// letters, digits, '-' or '_', at most 253 bytes, one final dot allowed
// (and dropped).
absl::StatusOr<std::string> ParseSearchDomain(absl::string_view text) {
  absl::string_view domain = text;
  if (absl::EndsWith(domain, ".")) domain.remove_suffix(1);
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a domain name: ", why));
  };
  if (domain.empty()) return bad("empty");
  if (domain.size() > 253) return bad("longer than 253 bytes");
  size_t label = 0;
  for (char c : domain) {
    if (c == '.') {
      if (label == 0) return bad("empty label");
      label = 0;
      continue;
    }
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' &&
        c != '_') {
      return bad("only letters, digits, '-', '_' and '.'");
    }
    if (++label > 63) return bad("a label is longer than 63 bytes");
  }
  if (label == 0) return bad("empty label");
  return std::string(domain);
}

absl::Status ApplyFlag(absl::string_view name, absl::string_view value,
                       StackConfig& config) {
  if (name == "tap") {
    config.tap_name = std::string(value);
  } else if (name == "netns") {
    config.netns = std::string(value);
  } else if (name == "netns-path") {
    if (value.empty() || value[0] != '/') {
      return absl::InvalidArgumentError(absl::StrCat(
          "--netns-path: '", value, "' must be an absolute path, e.g. /proc/PID/ns/net"));
    }
    config.netns_path = std::string(value);
  } else if (name == "addr") {
    auto prefix = IpPrefix::Parse(value);
    if (!prefix.ok()) return FlagError(name, prefix.status());
    config.addresses.push_back(*prefix);
  } else if (name == "gw") {
    auto gw = IpAddress::Parse(value);
    if (!gw.ok()) return FlagError(name, gw.status());
    config.gateways.push_back(*gw);
  } else if (name == "mtu") {
    int mtu = 0;
    if (!absl::SimpleAtoi(value, &mtu) || mtu < 1280 || mtu > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("--mtu: '", value, "' must be a number from 1280 to 65535"));
    }
    config.mtu = mtu;
  } else if (name == "unprivileged-port-start") {
    int start = 0;
    if (!absl::SimpleAtoi(value, &start) || start < 0 || start > 65536) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--unprivileged-port-start: '", value, "' must be a number from 0 to 65536"));
    }
    config.unprivileged_port_start = start;
  } else if (name == "max-calls-per-uid") {
    int calls = 0;
    if (!absl::SimpleAtoi(value, &calls) || calls < 1 || calls > 4096) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--max-calls-per-uid: '", value, "' must be a number from 1 to 4096"));
    }
    config.max_calls_per_uid = calls;
  } else if (name == "ready-fd") {
    int fd = -1;
    if (!absl::SimpleAtoi(value, &fd) || fd < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--ready-fd: '", value, "' must be a file descriptor number"));
    }
    config.ready_fd = fd;
  } else if (name == "ping-group-range") {
    // "LOW-HIGH" (or Linux's "LOW HIGH"); LOW > HIGH lets nobody.
    const size_t dash = value.find_first_of("- ");
    uint32_t low = 0, high = 0;
    if (dash == absl::string_view::npos || !absl::SimpleAtoi(value.substr(0, dash), &low) ||
        !absl::SimpleAtoi(value.substr(dash + 1), &high) || low > 2147483647u ||
        high > 2147483647u) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--ping-group-range: '", value, "' must be LOW-HIGH, gids from 0 to 2147483647"));
    }
    config.ping_group_range = std::make_pair(low, high);
  } else if (name == "user") {
    if (value.empty()) return absl::InvalidArgumentError("--user: needs a user name");
    config.user = std::string(value);
  } else if (name == "mac") {
    auto mac = MacAddress::Parse(value);
    if (!mac.ok()) return FlagError(name, mac.status());
    config.mac = *mac;
  } else if (name == "grpc") {
    config.grpc_endpoint = std::string(value);
  } else if (name == "dns") {
    auto server = DnsServer::Parse(value);
    if (!server.ok()) return FlagError(name, server.status());
    if (config.dns_servers.size() >= kMaxDnsServers) {
      return absl::InvalidArgumentError(
          absl::StrCat("--dns: at most ", kMaxDnsServers, " servers"));
    }
    config.dns_servers.push_back(*server);
  } else if (name == "search") {
    auto domain = ParseSearchDomain(value);
    if (!domain.ok()) return FlagError(name, domain.status());
    if (config.search_domains.size() >= kMaxSearchDomains) {
      return absl::InvalidArgumentError(
          absl::StrCat("--search: at most ", kMaxSearchDomains, " domains"));
    }
    config.search_domains.push_back(*std::move(domain));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown flag --", name, " (see --help)"));
  }
  return absl::OkStatus();
}

absl::Status Validate(const StackConfig& config) {
  if (!config.netns.empty() && !config.netns_path.empty()) {
    return absl::InvalidArgumentError("--netns and --netns-path: give one of them");
  }
  for (int family : {AF_INET, AF_INET6}) {
    int gateways = 0;
    bool has_address = false;
    for (const auto& gw : config.gateways) gateways += gw.family == family;
    for (const auto& a : config.addresses) has_address |= a.address.family == family;
    const char* name = family == AF_INET ? "IPv4" : "IPv6";
    if (gateways > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--gw: more than one ", name, " gateway"));
    }
    if (gateways == 1 && !has_address) {
      return absl::InvalidArgumentError(
          absl::StrCat("--gw: an ", name, " gateway needs an ", name,
                       " --addr"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DnsServer> DnsServer::Parse(absl::string_view text) {
  absl::string_view host = text;
  absl::string_view port_text;
  bool has_port = false;
  if (absl::StartsWith(text, "[")) {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "': '[' without ']'"));
    }
    host = text.substr(1, close - 1);
    absl::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') {
        return absl::InvalidArgumentError(
            absl::StrCat("'", text, "': expected ':PORT' after ']'"));
      }
      port_text = rest.substr(1);
      has_port = true;
    }
  } else if (const size_t colon = text.find(':');
             colon != absl::string_view::npos &&
             text.find(':', colon + 1) == absl::string_view::npos) {
    // One colon: IPv4 with a port. More: a bare IPv6 address.
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    has_port = true;
  }
  auto address = IpAddress::Parse(host);
  if (!address.ok()) return address.status();
  if (absl::StartsWith(text, "[") && address->family != AF_INET6) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "': only IPv6 addresses go in brackets"));
  }
  DnsServer server;
  server.address = *address;
  if (has_port) {
    int port = 0;
    if (port_text.empty() ||
        port_text.find_first_not_of("0123456789") != absl::string_view::npos ||
        !absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", text, "': the port must be a number from 1 to 65535"));
    }
    server.port = port;
  }
  return server;
}

std::string DnsServer::ToString() const {
  if (address.family == AF_INET6) {
    return absl::StrCat("[", address.ToString(), "]:", port);
  }
  return absl::StrCat(address.ToString(), ":", port);
}

absl::StatusOr<CommandLine> ParseCommandLine(int argc,
                                             const char* const argv[]) {
  CommandLine cl;
  StackConfig& config = cl.config;
  std::vector<absl::string_view> positional;
  std::vector<std::pair<absl::string_view, absl::string_view>> given;
  std::string config_file;
  int verbose = 0;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      cl.help = true;
      return cl;
    }
    if (arg == "-v" || arg == "--verbose") {
      ++verbose;
      continue;
    }
    if (arg == "--") {
      for (++i; i < argc; ++i) positional.push_back(argv[i]);
      break;
    }
    if (!absl::StartsWith(arg, "--")) {
      positional.push_back(arg);
      continue;
    }
    absl::string_view name = arg.substr(2);
    absl::string_view value;
    size_t eq = name.find('=');
    if (eq != absl::string_view::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " needs a value"));
    }
    if (name == "config") {
      if (value.empty()) return absl::InvalidArgumentError("--config: needs a file");
      config_file = std::string(value);
    } else {
      given.emplace_back(name, value);
    }
  }
  // The file first, then the command line, whose flags win: a file's
  // field is skipped when the command line has that flag.
  std::string file_path;
  if (!config_file.empty()) {
    auto fields = ReadConfigFile(config_file);
    if (!fields.ok()) return fields.status();
    auto on_command_line = [&given](const std::string& name) {
      for (const auto& g : given) {
        if (g.first == name) return true;
      }
      return false;
    };
    for (const FileFlag& f : *fields) {
      absl::Status status;
      if (f.name == "path") {
        file_path = f.value;
      } else if (f.name == "verbose") {
        int n = 0;
        if (verbose == 0 && absl::SimpleAtoi(f.value, &n)) config.verbosity = std::max(n, 0);
      } else if (!on_command_line(f.name)) {
        status = ApplyFlag(f.name, f.value, config);
      }
      if (!status.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(config_file, ":", f.line, ": ", status.message()));
      }
    }
  }
  config.verbosity += verbose;
  for (const auto& [name, value] : given) {
    if (auto status = ApplyFlag(name, value, config); !status.ok()) {
      return status;
    }
  }
  if (positional.empty() && !file_path.empty()) positional.push_back(file_path);
  if (positional.size() != 1) {
    return absl::InvalidArgumentError(
        positional.empty() ? "missing PATH (the stack's socket, e.g. /dev/net/mynet)"
                           : "expected one PATH, got more");
  }
  config.path = std::string(positional[0]);
  if (config.path.empty() || config.path[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("PATH '", config.path, "' must be absolute"));
  }
  // Each socket's pair is named "\0stackd/NONCE/PATH" (docs/socket-protocol.md),
  // which must fit sockaddr_un with a 20-digit NONCE.
  constexpr size_t kMaxPathBytes = 107 - sizeof("stackd//") - 20;
  if (config.path.size() > kMaxPathBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PATH '", config.path, "' is longer than ", kMaxPathBytes, " bytes"));
  }
  if (config.grpc_endpoint.empty()) {
    config.grpc_endpoint = absl::StrCat("unix:", config.path, ".grpc");
  }
  if (auto status = Validate(config); !status.ok()) return status;
  return cl;
}

std::string Usage() {
  return R"(usage: stackd [flags] PATH

Runs a userspace TCP/IP stack (lwIP) on a TAP device and serves its sockets
at the Unix socket PATH (for example /dev/net/mynet).

  --tap=IFNAME      create the TAP, or attach to an existing persistent one
                    (default: a new one named by the kernel, stackdN)
  --netns=NAME      the TAP's kernel side lives in network namespace NAME
  --netns-path=PATH or in the one whose file is PATH, e.g. a container's
                    /proc/PID/ns/net
  --addr=CIDR       an address of the stack, IPv4 or IPv6 (repeatable)
  --gw=ADDR         default gateway, one per family (repeatable)
  --mtu=N           MTU of the TAP (default 65520 for a TAP stackd creates)
  --mac=MAC         the stack's MAC address (default: derived from PATH)
  --grpc=ENDPOINT   admin service endpoint (default unix:PATH.grpc)
  --dns=ADDR[:PORT] a DNS server that programs using the stack resolve
                    names with, through the stack; IPv6 as [ADDR]:PORT
                    (repeatable, at most 3, port 53 unless given)
  --search=DOMAIN   a search domain for short names (repeatable, at most 6)
  --unprivileged-port-start=N
                    ports below N need root to bind (default 1024, as Linux;
                    0 allows every user every port)
  --max-calls-per-uid=N
                    control calls served at once for one user (default 256;
                    more get ENOBUFS)
  --user=NAME       who stackd becomes once its TAP and sockets are made
                    (default nobody; root keeps root), with no capabilities,
                    no_new_privs and a seccomp filter in any case
  --ping-group-range=LOW-HIGH
                    the gids that may make ICMP echo (ping) sockets, as
                    Linux's net.ipv4.ping_group_range (default: that of the
                    namespace stackd starts in; LOW > HIGH: nobody)
  --ready-fd=N      write "READY=1" and a newline to fd N and close it once
                    PATH and PATH.grpc accept connections (with
                    NOTIFY_SOCKET set, stackd also tells systemd READY=1
                    and STOPPING=1, as sd_notify does)
  --config=FILE     the flags from FILE first (protobuf text format, one
                    field per flag: `addr: "10.42.0.2/24"`, `path: "..."`;
                    proto/stackd_config.proto); the command line wins
  -v, --verbose     more log lines (repeat for per-packet detail)
  -h, --help        this text
)";
}

}  // namespace stackd
