#include "stackd/config.h"

#include <sys/socket.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stackd {
namespace {

using ::testing::ElementsAre;

// Runs ParseCommandLine on "stackd" followed by `args`.
absl::StatusOr<CommandLine> Parse(const std::vector<const char*>& args) {
  std::vector<const char*> argv = {"stackd"};
  argv.insert(argv.end(), args.begin(), args.end());
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data());
}

absl::StatusCode CodeOf(const std::vector<const char*>& args) {
  return Parse(args).status().code();
}

std::vector<std::string> Strings(const std::vector<IpPrefix>& prefixes) {
  std::vector<std::string> out;
  for (const auto& p : prefixes) out.push_back(p.ToString());
  return out;
}

std::vector<std::string> Strings(const std::vector<IpAddress>& addresses) {
  std::vector<std::string> out;
  for (const auto& a : addresses) out.push_back(a.ToString());
  return out;
}

TEST(ParseCommandLineTest, DefaultsWithOnlyPath) {
  auto cl = Parse({"/dev/net/mynet"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_FALSE(cl->help);
  const StackConfig& c = cl->config;
  EXPECT_EQ(c.path, "/dev/net/mynet");
  EXPECT_EQ(c.tap_name, "");
  EXPECT_EQ(c.netns, "");
  EXPECT_TRUE(c.addresses.empty());
  EXPECT_TRUE(c.gateways.empty());
  EXPECT_EQ(c.mtu, 0);
  EXPECT_FALSE(c.mac.has_value());
  EXPECT_EQ(c.grpc_endpoint, "unix:/dev/net/mynet.grpc");
  EXPECT_EQ(c.verbosity, 0);
  EXPECT_TRUE(c.dns_servers.empty());
  EXPECT_TRUE(c.search_domains.empty());
  EXPECT_EQ(c.unprivileged_port_start, 1024);
  EXPECT_EQ(c.max_calls_per_uid, 256);
  EXPECT_EQ(c.user, "nobody");
}

TEST(ParseCommandLineTest, AccessPolicyFlags) {
  auto cl = Parse({"/dev/net/x", "--unprivileged-port-start=0", "--max-calls-per-uid=16",
                   "--user=daemon"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->config.user, "daemon");
  EXPECT_EQ(CodeOf({"/dev/net/x", "--user="}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cl->config.unprivileged_port_start, 0);
  EXPECT_EQ(cl->config.max_calls_per_uid, 16);
  for (const char* bad : {"--unprivileged-port-start=-1", "--unprivileged-port-start=65537",
                          "--unprivileged-port-start=x", "--max-calls-per-uid=0",
                          "--max-calls-per-uid=4097"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(CodeOf({"/dev/net/x", bad}), absl::StatusCode::kInvalidArgument);
  }
}

TEST(ParseCommandLineTest, ReadyFd) {
  auto cl = Parse({"/dev/net/x"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->config.ready_fd, -1) << "none unless asked";
  cl = Parse({"/dev/net/x", "--ready-fd=5"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->config.ready_fd, 5);
  for (const char* bad : {"--ready-fd=-1", "--ready-fd=x", "--ready-fd="}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(CodeOf({"/dev/net/x", bad}), absl::StatusCode::kInvalidArgument);
  }
}

TEST(ParseCommandLineTest, PingGroupRange) {
  auto cl = Parse({"/dev/net/x"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_FALSE(cl->config.ping_group_range.has_value()) << "the host's, unless given";
  cl = Parse({"/dev/net/x", "--ping-group-range=0-2147483647"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->config.ping_group_range, (std::pair<uint32_t, uint32_t>{0, 2147483647}));
  cl = Parse({"/dev/net/x", "--ping-group-range=1 0"});  // Linux's spelling.
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->config.ping_group_range, (std::pair<uint32_t, uint32_t>{1, 0}));
  for (const char* bad : {"--ping-group-range=5", "--ping-group-range=a-b",
                          "--ping-group-range=0-2147483648", "--ping-group-range=-1-5"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(CodeOf({"/dev/net/x", bad}), absl::StatusCode::kInvalidArgument);
  }
}

TEST(ParseCommandLineTest, NetnsPath) {
  auto cl = Parse({"/dev/net/x", "--netns-path=/proc/42/ns/net"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->config.netns_path, "/proc/42/ns/net");
  EXPECT_EQ(cl->config.netns, "");
  EXPECT_EQ(CodeOf({"/dev/net/x", "--netns-path=proc/42/ns/net"}),
            absl::StatusCode::kInvalidArgument);
  auto both = Parse({"/dev/net/x", "--netns=blue", "--netns-path=/proc/42/ns/net"});
  EXPECT_EQ(both.status().message(), "--netns and --netns-path: give one of them");
}

// A config file in the test's temp dir with `text`; its path.
std::string ConfigFile(const std::string& name, const std::string& text) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(ConfigFileTest, EveryFlagCanStandInTheFile) {
  const std::string file = ConfigFile("all.conf", R"(# The blue stack.
path: "/run/stackd/blue"
tap: "tap0"
netns: "blue"
addr: "10.42.0.2/24"
addr: "fd42::2/64"
gw: "10.42.0.1"
mtu: 1500
mac: "02:00:00:00:00:01"
grpc: "unix:/run/stackd/blue.admin"
dns: "10.42.0.1"
search: "example.org"
unprivileged_port_start: 0
max_calls_per_uid: 16
user: "daemon"
ready_fd: 7
verbose: 2
)");
  const std::string flag = "--config=" + file;
  auto cl = Parse({flag.c_str()});
  ASSERT_TRUE(cl.ok()) << cl.status();
  const StackConfig& c = cl->config;
  EXPECT_EQ(c.path, "/run/stackd/blue");
  EXPECT_EQ(c.tap_name, "tap0");
  EXPECT_EQ(c.netns, "blue");
  ASSERT_EQ(c.addresses.size(), 2u);
  EXPECT_EQ(c.addresses[1].ToString(), "fd42::2/64");
  ASSERT_EQ(c.gateways.size(), 1u);
  EXPECT_EQ(c.mtu, 1500);
  ASSERT_TRUE(c.mac.has_value());
  EXPECT_EQ(c.grpc_endpoint, "unix:/run/stackd/blue.admin");
  ASSERT_EQ(c.dns_servers.size(), 1u);
  EXPECT_EQ(c.search_domains, std::vector<std::string>{"example.org"});
  EXPECT_EQ(c.unprivileged_port_start, 0);
  EXPECT_EQ(c.max_calls_per_uid, 16);
  EXPECT_EQ(c.user, "daemon");
  EXPECT_EQ(c.ready_fd, 7);
  EXPECT_EQ(c.verbosity, 2);
}

TEST(ConfigFileTest, TheCommandLineWins) {
  const std::string file = ConfigFile("base.conf",
                                      "path: \"/run/stackd/a\"\nmtu: 1500\n"
                                      "addr: \"10.1.0.2/24\"\naddr: \"10.2.0.2/24\"\nverbose: 2\n");
  const std::string flag = "--config=" + file;
  auto cl = Parse({flag.c_str(), "--mtu=9000", "--addr=10.3.0.2/24", "-v", "/run/stackd/b"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->config.path, "/run/stackd/b");
  EXPECT_EQ(cl->config.mtu, 9000);
  ASSERT_EQ(cl->config.addresses.size(), 1u) << "the command line's list replaces the file's";
  EXPECT_EQ(cl->config.addresses[0].ToString(), "10.3.0.2/24");
  EXPECT_EQ(cl->config.verbosity, 1);
  // And the file alone.
  cl = Parse({flag.c_str()});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->config.addresses.size(), 2u);
}

TEST(ConfigFileTest, ErrorsNameTheFileLineAndKey) {
  const std::string unknown = ConfigFile("unknown.conf", "path: \"/run/x\"\n\nmut: 1500\n");
  auto cl = Parse({("--config=" + unknown).c_str()});
  ASSERT_FALSE(cl.ok());
  EXPECT_THAT(std::string(cl.status().message()),
              ::testing::AllOf(::testing::StartsWith(unknown + ":3:"), ::testing::HasSubstr("mut")));
  const std::string bad = ConfigFile("bad.conf", "path: \"/run/x\"\nmtu: 100\n");
  cl = Parse({("--config=" + bad).c_str()});
  ASSERT_FALSE(cl.ok());
  EXPECT_THAT(std::string(cl.status().message()),
              ::testing::StartsWith(bad + ":2: --mtu: '100' must be"));
  const std::string typed = ConfigFile("typed.conf", "mtu: \"big\"\n");
  cl = Parse({("--config=" + typed).c_str(), "/run/x"});
  ASSERT_FALSE(cl.ok());
  EXPECT_THAT(std::string(cl.status().message()), ::testing::StartsWith(typed + ":1:"));
  cl = Parse({"--config=/nonexistent/stackd.conf", "/run/x"});
  ASSERT_FALSE(cl.ok());
  EXPECT_THAT(std::string(cl.status().message()),
              ::testing::HasSubstr("--config: cannot read /nonexistent/stackd.conf"));
}

// Checks the configuration that both spellings of the full flag set give.
void ExpectAllFlags(const absl::StatusOr<CommandLine>& cl) {
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_FALSE(cl->help);
  const StackConfig& c = cl->config;
  EXPECT_EQ(c.path, "/dev/net/mynet");
  EXPECT_EQ(c.tap_name, "tap7");
  EXPECT_EQ(c.netns, "peerns");
  EXPECT_THAT(Strings(c.addresses),
              ElementsAre("10.42.0.2/24", "fd42::2/64", "10.43.0.2/16"));
  EXPECT_THAT(Strings(c.gateways), ElementsAre("10.42.0.1", "fd42::1"));
  EXPECT_EQ(c.mtu, 9000);
  ASSERT_TRUE(c.mac.has_value());
  EXPECT_EQ(c.mac->ToString(), "02:00:00:00:00:02");
  EXPECT_EQ(c.grpc_endpoint, "localhost:50051");
  EXPECT_EQ(c.verbosity, 2);
}

TEST(ParseCommandLineTest, AllFlagsWithEquals) {
  ExpectAllFlags(Parse({"--tap=tap7", "--netns=peerns", "--addr=10.42.0.2/24",
                        "--addr=fd42::2/64", "--addr=10.43.0.2/16",
                        "--gw=10.42.0.1", "--gw=fd42::1", "--mtu=9000",
                        "--mac=02:00:00:00:00:02", "--grpc=localhost:50051",
                        "-v", "--verbose", "/dev/net/mynet"}));
}

TEST(ParseCommandLineTest, AllFlagsWithSeparateValues) {
  ExpectAllFlags(Parse({"--tap", "tap7", "--netns", "peerns", "--addr",
                        "10.42.0.2/24", "--addr", "fd42::2/64", "--addr",
                        "10.43.0.2/16", "--gw", "10.42.0.1", "--gw", "fd42::1",
                        "--mtu", "9000", "--mac", "02:00:00:00:00:02",
                        "--grpc", "localhost:50051", "--verbose", "-v",
                        "/dev/net/mynet"}));
}

TEST(ParseCommandLineTest, PathMayComeFirstOrAfterDoubleDash) {
  auto first = Parse({"/dev/net/mynet", "--mtu=1500"});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->config.path, "/dev/net/mynet");
  EXPECT_EQ(first->config.mtu, 1500);

  auto dashes = Parse({"--mtu=1500", "--", "/dev/net/--odd"});
  ASSERT_TRUE(dashes.ok()) << dashes.status();
  EXPECT_EQ(dashes->config.path, "/dev/net/--odd");
}

TEST(ParseCommandLineTest, EqualsValueMayContainEquals) {
  auto cl = Parse({"--grpc=dns:///host?a=b", "/dev/net/mynet"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->config.grpc_endpoint, "dns:///host?a=b");
}

TEST(ParseCommandLineTest, GrpcDefaultFollowsPath) {
  auto cl = Parse({"/run/stacks/a"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->config.grpc_endpoint, "unix:/run/stacks/a.grpc");
}

TEST(ParseCommandLineTest, RepeatedAddrKeepsOrder) {
  auto cl = Parse({"--addr=10.0.0.1/8", "--addr", "10.1.0.1/16",
                   "--addr=fd00::1", "/dev/net/x"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_THAT(Strings(cl->config.addresses),
              ElementsAre("10.0.0.1/8", "10.1.0.1/16", "fd00::1/128"));
}

TEST(ParseCommandLineTest, OneGatewayPerFamilyIsAccepted) {
  auto cl = Parse({"--addr=10.42.0.2/24", "--addr=fd42::2/64",
                   "--gw=fd42::1", "--gw=10.42.0.1", "/dev/net/x"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_THAT(Strings(cl->config.gateways),
              ElementsAre("fd42::1", "10.42.0.1"));
}

TEST(ParseCommandLineTest, Help) {
  for (const char* flag : {"--help", "-h"}) {
    SCOPED_TRACE(flag);
    // Help wins even without PATH.
    auto alone = Parse({flag});
    ASSERT_TRUE(alone.ok()) << alone.status();
    EXPECT_TRUE(alone->help);

    auto with_path = Parse({"--mtu=1500", "/dev/net/x", flag});
    ASSERT_TRUE(with_path.ok()) << with_path.status();
    EXPECT_TRUE(with_path->help);
  }
  EXPECT_FALSE(Usage().empty());
}

TEST(ParseCommandLineTest, MissingPath) {
  EXPECT_EQ(CodeOf({}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf({"--addr=10.0.0.1/24"}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf({"--"}), absl::StatusCode::kInvalidArgument);
}

TEST(ParseCommandLineTest, MoreThanOnePath) {
  EXPECT_EQ(CodeOf({"/dev/net/a", "/dev/net/b"}),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf({"/dev/net/a", "--", "/dev/net/b"}),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseCommandLineTest, RelativePath) {
  for (const char* path : {"mynet", "./mynet", "net/mynet", ""}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(CodeOf({path}), absl::StatusCode::kInvalidArgument);
  }
}

TEST(ParseCommandLineTest, UnknownFlag) {
  EXPECT_EQ(CodeOf({"--bogus=1", "/dev/net/x"}),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf({"--bogus", "1", "/dev/net/x"}),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf({"--=1", "/dev/net/x"}), absl::StatusCode::kInvalidArgument);
  // Flag names are exact: no prefixes, no other case.
  EXPECT_EQ(CodeOf({"--ad=10.0.0.1", "/dev/net/x"}),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf({"--MTU=1500", "/dev/net/x"}),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseCommandLineTest, FlagWithoutValue) {
  for (const char* flag : {"--tap", "--netns", "--addr", "--gw", "--mtu",
                           "--mac", "--grpc", "--dns", "--search"}) {
    SCOPED_TRACE(flag);
    EXPECT_EQ(CodeOf({"/dev/net/x", flag}), absl::StatusCode::kInvalidArgument);
  }
}

TEST(ParseCommandLineTest, MtuRange) {
  for (const char* mtu : {"1280", "1500", "65535"}) {
    SCOPED_TRACE(mtu);
    auto cl = Parse({"--mtu", mtu, "/dev/net/x"});
    ASSERT_TRUE(cl.ok()) << cl.status();
    EXPECT_EQ(cl->config.mtu, std::stoi(mtu));
  }
  for (const char* mtu :
       {"1279", "65536", "0", "-1500", "", "1500x", "abc", "99999999999"}) {
    SCOPED_TRACE(mtu);
    EXPECT_EQ(CodeOf({"--mtu", mtu, "/dev/net/x"}),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(CodeOf({(std::string("--mtu=") + mtu).c_str(), "/dev/net/x"}),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(ParseCommandLineTest, BadValues) {
  for (const std::vector<const char*>& args :
       std::vector<std::vector<const char*>>{
           {"--addr=10.1.2.3/99", "/x"},
           {"--addr=10.1.2/24", "/x"},
           {"--addr=fd42::1/129", "/x"},
           {"--addr=10.0.0.1/", "/x"},
           {"--addr=", "/x"},
           {"--gw=10.0.0", "/x"},
           {"--gw=10.0.0.1/24", "/x"},
           {"--mac=01:00:5e:00:00:01", "/x"},  // Multicast.
           {"--mac=02:00:00:00:00", "/x"},     // Short.
           {"--mac", "zz:00:00:00:00:01", "/x"},
       }) {
    SCOPED_TRACE(args[0]);
    EXPECT_EQ(CodeOf(args), absl::StatusCode::kInvalidArgument);
  }
}

TEST(ParseCommandLineTest, TwoGatewaysOfOneFamily) {
  EXPECT_EQ(CodeOf({"--addr=10.42.0.2/24", "--gw=10.42.0.1", "--gw=10.42.0.254",
                    "/dev/net/x"}),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf({"--addr=fd42::2/64", "--gw=fd42::1", "--gw=fd42::fe",
                    "/dev/net/x"}),
            absl::StatusCode::kInvalidArgument);
  // The same gateway twice is still two gateways.
  EXPECT_EQ(CodeOf({"--addr=10.42.0.2/24", "--gw=10.42.0.1", "--gw=10.42.0.1",
                    "/dev/net/x"}),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseCommandLineTest, GatewayWithoutAddressOfItsFamily) {
  EXPECT_EQ(CodeOf({"--gw=10.42.0.1", "/dev/net/x"}),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf({"--addr=fd42::2/64", "--gw=10.42.0.1", "/dev/net/x"}),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf({"--addr=10.42.0.2/24", "--gw=fd42::1", "/dev/net/x"}),
            absl::StatusCode::kInvalidArgument);
}

std::vector<std::string> Strings(const std::vector<DnsServer>& servers) {
  std::vector<std::string> out;
  for (const auto& s : servers) out.push_back(s.ToString());
  return out;
}

TEST(ParseCommandLineTest, DnsServersAndSearchDomainsKeepOrder) {
  auto cl = Parse({"--dns=10.42.0.1", "--dns", "[fd42::1]:5353",
                   "--dns=192.0.2.7:1053", "--search=example.test",
                   "--search", "Corp.Example.", "/dev/net/x"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_THAT(Strings(cl->config.dns_servers),
              ElementsAre("10.42.0.1:53", "[fd42::1]:5353", "192.0.2.7:1053"));
  EXPECT_THAT(cl->config.search_domains,
              ElementsAre("example.test", "Corp.Example"));
}

TEST(DnsServerTest, ParsesEverySpelling) {
  for (const auto& [text, expected] :
       std::vector<std::pair<const char*, const char*>>{
           {"10.0.0.1", "10.0.0.1:53"},
           {"10.0.0.1:5353", "10.0.0.1:5353"},
           {"fd00::1", "[fd00::1]:53"},
           {"[fd00::1]", "[fd00::1]:53"},
           {"[fd00::1]:1", "[fd00::1]:1"},
           {"::1", "[::1]:53"},
           {"10.0.0.1:65535", "10.0.0.1:65535"},
       }) {
    SCOPED_TRACE(text);
    auto server = DnsServer::Parse(text);
    ASSERT_TRUE(server.ok()) << server.status();
    EXPECT_EQ(server->ToString(), expected);
  }
  for (const char* bad :
       {"", "10.0.0", "10.0.0.1:", "10.0.0.1:0", "10.0.0.1:65536",
        "10.0.0.1:-5", "10.0.0.1:5x", "[fd00::1", "[fd00::1]x53",
        "[10.0.0.1]:53", "fd00::1:", "[fd00::1]:", "host.example:53",
        "10.0.0.1/24"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(DnsServer::Parse(bad).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(ParseCommandLineTest, BadDnsAndSearchValues) {
  for (const std::vector<const char*>& args :
       std::vector<std::vector<const char*>>{
           {"--dns=10.0.0.1:99999", "/x"},
           {"--dns=name.example", "/x"},
           {"--search=", "/x"},
           {"--search=.", "/x"},
           {"--search=a..b", "/x"},
           {"--search=.a", "/x"},
           {"--search=a b", "/x"},
           {"--search=exa$mple.test", "/x"},
       }) {
    SCOPED_TRACE(args[0]);
    EXPECT_EQ(CodeOf(args), absl::StatusCode::kInvalidArgument);
  }
  const std::string long_label = "--search=" + std::string(64, 'a') + ".test";
  EXPECT_EQ(CodeOf({long_label.c_str(), "/x"}),
            absl::StatusCode::kInvalidArgument);
  std::string long_name = "--search=";
  for (int i = 0; i < 64; ++i) long_name += "abc.";
  long_name += "test";  // 260 bytes.
  EXPECT_EQ(CodeOf({long_name.c_str(), "/x"}),
            absl::StatusCode::kInvalidArgument);
  const std::string max_label = "--search=" + std::string(63, 'a') + ".test";
  EXPECT_TRUE(Parse({max_label.c_str(), "/x"}).ok());
}

TEST(ParseCommandLineTest, AtMostThreeServersAndSixDomains) {
  EXPECT_TRUE(Parse({"--dns=10.0.0.1", "--dns=10.0.0.2", "--dns=10.0.0.3",
                     "/x"})
                  .ok());
  EXPECT_EQ(CodeOf({"--dns=10.0.0.1", "--dns=10.0.0.2", "--dns=10.0.0.3",
                    "--dns=10.0.0.4", "/x"}),
            absl::StatusCode::kInvalidArgument);
  std::vector<const char*> args;
  for (int i = 0; i < 6; ++i) args.push_back("--search=a.test");
  args.push_back("/x");
  EXPECT_TRUE(Parse(args).ok());
  args.insert(args.begin(), "--search=b.test");
  EXPECT_EQ(CodeOf(args), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace stackd
