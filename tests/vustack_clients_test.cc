// Unmodified clients from Debian's packages under vustack, against kernel
// servers in the test bed's namespace: curl (by address, both families,
// and by name), wget, python3 (urllib and asyncio), iperf3 -c, nc, socat
// and Node.js's http client. Each runs in a namespace of its own with
// nothing but loopback, so whatever arrives came through the stack; each
// check compares the bytes that came through with what the server had.
//
// Kernel side (namespace of the test bed, one per test suite):
//   python3 -m http.server on [::]:8080 (dual stack) serving payload.bin,
//   socat echo on [::]:7000 (dual stack), iperf3 -s on 5201, dnsmasq
//   answering www.example.test (10.42.0.1, fd42::1); stackd runs with
//   --dns=10.42.0.1.
#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testbed.h"
#include "tests/vustack_peer.h"

namespace stackd::testbed {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kProgramTimeout = absl::Seconds(60);
constexpr size_t kPayloadBytes = 3 * 1024 * 1024 + 17;
constexpr char kName[] = "www.example.test";
constexpr uint16_t kHttpPort = 8080;
constexpr uint16_t kEchoPort = 7000;
constexpr uint16_t kIperfPort = 5201;

// Everything the tests share: made once for the suite.
struct Kernel {
  std::unique_ptr<Testbed> bed;
  std::unique_ptr<AppNamespace> app;
  std::unique_ptr<Dnsmasq> dns;
  std::vector<std::unique_ptr<Process>> servers;
  std::string vustack;
  std::string payload_path;
  std::string payload;
};

// The number after "key": in the object after `section` of iperf3's JSON;
// -1 if absent.
int64_t JsonNumberAfter(const std::string& json, const std::string& section,
                        const std::string& key) {
  size_t at = json.find(absl::StrCat("\"", section, "\""));
  if (at == std::string::npos) return -1;
  at = json.find(absl::StrCat("\"", key, "\":"), at);
  if (at == std::string::npos) return -1;
  at += key.size() + 3;
  while (at < json.size() && isspace(static_cast<unsigned char>(json[at]))) ++at;
  size_t end = at;
  while (end < json.size() && (isdigit(json[end]) || json[end] == '.')) ++end;
  double value = 0;
  if (!absl::SimpleAtod(json.substr(at, end - at), &value)) return -1;
  return static_cast<int64_t>(value);
}

class VustackClientsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    kernel_ = new Kernel();
    setup_ = Prepare(kernel_);
  }

  static void TearDownTestSuite() {
    delete kernel_;  // Servers, then the namespaces and stackd.
    kernel_ = nullptr;
  }

  static absl::Status Prepare(Kernel* k) {
    Testbed::Options options;
    // Ping sockets for every group: the programs here run as root.
    options.extra_stackd_flags = {absl::StrCat("--dns=", kKernelIp4),
                                  "--ping-group-range=0-2147483647"};
    absl::StatusOr<std::unique_ptr<Testbed>> bed = Testbed::Create(options);
    if (!bed.ok()) return bed.status();
    k->bed = *std::move(bed);
    absl::StatusOr<std::unique_ptr<AppNamespace>> app =
        AppNamespace::Create(*k->bed);
    if (!app.ok()) return app.status();
    k->app = *std::move(app);
    absl::StatusOr<std::string> vustack = VustackBinary();
    if (!vustack.ok()) return vustack.status();
    k->vustack = *vustack;

    const std::string www = k->bed->dir() + "/www";
    if (mkdir(www.c_str(), 0755) != 0) return absl::ErrnoToStatus(errno, www);
    k->payload_path = www + "/payload.bin";
    absl::StatusOr<std::string> payload =
        WritePatternFile(k->payload_path, 6, kPayloadBytes);
    if (!payload.ok()) return payload.status();
    k->payload = *std::move(payload);

    absl::StatusOr<std::unique_ptr<Dnsmasq>> dns = Dnsmasq::Start(
        *k->bed, {absl::StrCat(kName, ",", kKernelIp4, ",", kKernelIp6)});
    if (!dns.ok()) return dns.status();
    k->dns = *std::move(dns);

    const std::string ns = k->bed->netns();
    const std::vector<std::vector<std::string>> servers = {
        {kPython, "-m", "http.server", std::to_string(kHttpPort), "--bind",
         "::", "--directory", www},
        {"socat", absl::StrCat("TCP6-LISTEN:", kEchoPort,
                               ",ipv6only=0,reuseaddr,fork"),
         "PIPE"},
        {"iperf3", "-s", "-p", std::to_string(kIperfPort)},
    };
    for (size_t i = 0; i < servers.size(); ++i) {
      absl::StatusOr<std::unique_ptr<Process>> p = Process::Start(
          ns, {}, servers[i],
          absl::StrCat(k->bed->dir(), "/server", i, ".log"));
      if (!p.ok()) return p.status();
      k->servers.push_back(*std::move(p));
    }
    for (uint16_t port : {kHttpPort, kEchoPort, kIperfPort}) {
      if (absl::Status s = WaitForListener(ns, kKernelIp4, port); !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

  void SetUp() override { ASSERT_TRUE(setup_.ok()) << setup_; }

  void TearDown() override {
    if (HasFailure() && kernel_ != nullptr && kernel_->bed != nullptr) {
      std::fprintf(stderr, "stackd log:\n%s\n",
                   kernel_->bed->StackdLog().c_str());
      for (const auto& p : kernel_->servers) {
        std::fprintf(stderr, "server %d log:\n%s\n", p->pid(), p->Log().c_str());
      }
    }
  }

  // Runs `argv` under vustack on the test bed's stack, in the namespace
  // without a network.
  static CommandResult OnStack(const std::vector<std::string>& argv,
                               absl::Duration timeout = kProgramTimeout) {
    std::vector<std::string> full = {kernel_->vustack,
                                     kernel_->bed->stack_path()};
    full.insert(full.end(), argv.begin(), argv.end());
    return RunArgv(InNamespace(kernel_->app->name(), {"HOME=/root"}, full),
                   timeout);
  }

  static std::string Url(absl::string_view host) {
    return absl::StrCat("http://", host, ":", kHttpPort, "/payload.bin");
  }

  // The payload fetched with `argv` (writing it to stdout) matches.
  static void ExpectPayload(const std::vector<std::string>& argv) {
    CommandResult r = OnStack(argv);
    EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(argv, " ") << "\n" << r.err;
    EXPECT_TRUE(r.out == kernel_->payload)
        << absl::StrJoin(argv, " ") << ": "
        << CompareBytes(kernel_->payload, r.out) << "\n"
        << r.err;
  }

  static Kernel* kernel_;
  static absl::Status setup_;
};

Kernel* VustackClientsTest::kernel_ = nullptr;
absl::Status VustackClientsTest::setup_;

TEST_F(VustackClientsTest, CurlByIpv4Address) {
  ExpectPayload({"curl", "-sS", "--max-time", "30", Url(kKernelIp4)});
}

TEST_F(VustackClientsTest, CurlByIpv6Address) {
  ExpectPayload({"curl", "-sS", "--max-time", "30",
                 Url(absl::StrCat("[", kKernelIp6, "]"))});
}

TEST_F(VustackClientsTest, CurlByNameResolvedThroughTheStack) {
  ExpectPayload({"curl", "-sS", "--max-time", "30", Url(kName)});
  ExpectPayload({"curl", "-4", "-sS", "--max-time", "30", Url(kName)});
  // dnsmasq heard the questions from the stack's addresses.
  const std::string log = kernel_->dns->Log();
  EXPECT_THAT(log, HasSubstr(absl::StrCat("query[A] ", kName, " from ")));
  EXPECT_TRUE(absl::StrContains(log, absl::StrCat("from ", kStackIp4)) ||
              absl::StrContains(log, absl::StrCat("from ", kStackIp6)))
      << log;
}

TEST_F(VustackClientsTest, WgetByName) {
  ExpectPayload({"wget", "-q", "-T", "30", "-t", "1", "-O", "-", Url(kName)});
}

TEST_F(VustackClientsTest, PythonUrllib) {
  ExpectPayload({kPython, "-c",
                 "import sys, urllib.request\n"
                 "body = urllib.request.urlopen(sys.argv[1], timeout=30).read()\n"
                 "sys.stdout.buffer.write(body)\n",
                 Url(kName)});
}

TEST_F(VustackClientsTest, PythonAsyncioEcho) {
  // Name lookup in the loop's executor, a non-blocking connect, and the
  // payload echoed back by the kernel's socat.
  ExpectPayload(
      {kPython, "-c",
       "import asyncio, sys\n"
       "async def main():\n"
       "    data = open(sys.argv[1], 'rb').read()\n"
       "    r, w = await asyncio.wait_for(\n"
       "        asyncio.open_connection(sys.argv[2], int(sys.argv[3])), 30)\n"
       "    async def send():\n"
       "        w.write(data)\n"
       "        await w.drain()\n"
       "        w.write_eof()\n"
       "    sender = asyncio.create_task(send())\n"
       "    echoed = await asyncio.wait_for(r.read(), 30)\n"
       "    await sender\n"
       "    w.close()\n"
       "    sys.stdout.buffer.write(echoed)\n"
       "asyncio.run(main())\n",
       kernel_->payload_path, kName, std::to_string(kEchoPort)});
}

// Sockets stackd does not serve do not silently become the host's: a raw or
// ping socket would let the program (ping, for one) reach the network
// around its stack. Refused as Linux refuses them without the privilege.
TEST_F(VustackClientsTest, RawAndPingSocketsDoNotEscapeTheStack) {
  CommandResult r = OnStack(
      {kPython, "-c",
       "import errno, socket\n"
       "def attempt(*args):\n"
       "    try:\n"
       "        socket.socket(*args).close()\n"
       "        return 'opened'\n"
       "    except OSError as e:\n"
       "        return errno.errorcode[e.errno]\n"
       "S = socket\n"
       "print(attempt(S.AF_INET, S.SOCK_RAW, S.IPPROTO_ICMP),\n"
       "      attempt(S.AF_INET6, S.SOCK_RAW, S.IPPROTO_ICMPV6),\n"
       "      attempt(S.AF_INET, S.SOCK_DGRAM, S.IPPROTO_ICMP),\n"
       "      attempt(S.AF_INET6, S.SOCK_DGRAM, S.IPPROTO_ICMPV6),\n"
       "      attempt(S.AF_INET, S.SOCK_DGRAM, S.IPPROTO_UDPLITE),\n"
       "      attempt(S.AF_INET, S.SOCK_STREAM, 0))\n"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // Raw sockets are refused as to a program without CAP_NET_RAW; ping
  // sockets are the stack's.
  EXPECT_EQ(r.out, "EPERM EPERM opened opened EPROTONOSUPPORT opened\n") << r.err;
}

// Debian's ping, unmodified: its ICMP echo (datagram) socket is the
// stack's, so the echoes cross the TAP to the kernel and back.
TEST_F(VustackClientsTest, PingThroughTheStack) {
  for (absl::string_view ip : {kKernelIp4, kKernelIp6}) {
    CommandResult r = OnStack({"ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", std::string(ip)});
    EXPECT_EQ(r.exit_code, 0) << ip << "\n" << r.out << r.err;
    EXPECT_THAT(r.out, HasSubstr("3 packets transmitted, 3 received, 0% packet loss")) << r.out;
    EXPECT_THAT(r.out, HasSubstr(absl::StrCat("64 bytes from ", ip, ": icmp_seq=1 ttl=64")))
        << r.out;
  }
}

// ping to an address nobody on the link has: after the 3 s of address
// resolution the stack reports each echo request as unreachable to its
// sender, and ping prints it, as on Linux ("From <own address> icmp_seq=1
// Destination Host Unreachable"; lwIP patch 0035, the error queue of
// ping sockets).
TEST_F(VustackClientsTest, PingReportsAnUnreachableNeighbour) {
  for (const auto& [ip, own, says] :
       {std::tuple<const char*, absl::string_view, const char*>{
            "10.42.0.99", kStackIp4, "Destination Host Unreachable"},
        std::tuple<const char*, absl::string_view, const char*>{
            "fd42::99", kStackIp6, "Destination unreachable: Address unreachable"}}) {
    CommandResult r = OnStack({"ping", "-n", "-c", "1", "-W", "6", ip});
    EXPECT_EQ(r.exit_code, 1) << ip << "\n" << r.out << r.err;
    EXPECT_THAT(r.out, HasSubstr(absl::StrCat("From ", own, " icmp_seq=1 ", says))) << r.out;
    EXPECT_THAT(r.out, HasSubstr("1 packets transmitted, 0 received, +1 errors")) << r.out;
  }
}

TEST_F(VustackClientsTest, NetcatEchoIpv4) {
  ExpectPayload({"sh", "-c",
                 absl::StrCat("exec nc -N ", kKernelIp4, " ", kEchoPort, " < ",
                              kernel_->payload_path)});
}

TEST_F(VustackClientsTest, SocatEchoIpv6) {
  ExpectPayload({"sh", "-c",
                 absl::StrCat("exec socat -t 30 - TCP6:[", kKernelIp6, "]:",
                              kEchoPort, " < ", kernel_->payload_path)});
}

TEST_F(VustackClientsTest, NodeHttpClient) {
  ExpectPayload(
      {"node", "-e",
       "const http = require('http');\n"
       "http.get(process.argv[1], (res) => {\n"
       "  const chunks = [];\n"
       "  res.on('data', (c) => chunks.push(c));\n"
       "  res.on('end', () => {\n"
       "    if (res.statusCode !== 200) process.exit(2);\n"
       "    process.stdout.write(Buffer.concat(chunks));\n"
       "  });\n"
       "}).on('error', (e) => { console.error(e); process.exit(1); });\n",
       Url(kName)});
}

TEST_F(VustackClientsTest, Iperf3Client) {
  CommandResult r = OnStack({"iperf3", "-c", std::string(kKernelIp4), "-p",
                             std::to_string(kIperfPort), "-t", "2", "-J"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // (iperf3 -J exits with 0 even when it failed: the JSON says.)
  const int64_t sent = JsonNumberAfter(r.out, "sum_sent", "bytes");
  const int64_t received = JsonNumberAfter(r.out, "sum_received", "bytes");
  // Two seconds at even 100 Mbit/s.
  EXPECT_GT(sent, 25 * 1000 * 1000) << r.out;
  // What the kernel's iperf3 says it received: all of it but what was
  // still in flight when the end-of-test message overtook it on the
  // control connection (the pair's buffers, lwIP's send buffer).
  EXPECT_GT(received, 25 * 1000 * 1000) << r.out;
  EXPECT_LE(received, sent);
  EXPECT_LE(sent - received, 16 * 1024 * 1024)
      << "sent " << sent << ", received " << received;
  EXPECT_EQ(r.out.find("\"error\""), std::string::npos) << r.out;
  // TCP_INFO and TCP_CONGESTION answered: no warnings.
  EXPECT_EQ(r.err, "");
}

}  // namespace
}  // namespace stackd::testbed
