// Unmodified servers from Debian's packages under vustack, listening on the
// stack, with kernel clients in the test bed's namespace: python3 -m
// http.server, nginx (sendfile, tcp_nopush, IPv4 and IPv6 listeners),
// iperf3 -s, socat and Node.js's http server. The servers run in a
// namespace of their own with nothing but loopback, so a client that gets
// an answer got it through the stack; each check compares the bytes that
// came through.
#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testbed.h"
#include "tests/vustack_peer.h"

namespace stackd::testbed {
namespace {

constexpr absl::Duration kProgramTimeout = absl::Seconds(60);
constexpr size_t kPayloadBytes = 5 * 1024 * 1024 + 3;

struct Shared {
  std::unique_ptr<Testbed> bed;
  std::unique_ptr<AppNamespace> app;
  std::string vustack;
  std::string www;
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
  while (at < json.size() && isspace(static_cast<unsigned char>(json[at]))) {
    ++at;
  }
  size_t end = at;
  while (end < json.size() && (isdigit(json[end]) || json[end] == '.')) ++end;
  double value = 0;
  if (!absl::SimpleAtod(json.substr(at, end - at), &value)) return -1;
  return static_cast<int64_t>(value);
}

class VustackServersTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    shared_ = new Shared();
    setup_ = Prepare(shared_);
  }

  static void TearDownTestSuite() {
    delete shared_;
    shared_ = nullptr;
  }

  static absl::Status Prepare(Shared* s) {
    absl::StatusOr<std::unique_ptr<Testbed>> bed = Testbed::Create();
    if (!bed.ok()) return bed.status();
    s->bed = *std::move(bed);
    absl::StatusOr<std::unique_ptr<AppNamespace>> app =
        AppNamespace::Create(*s->bed);
    if (!app.ok()) return app.status();
    s->app = *std::move(app);
    absl::StatusOr<std::string> vustack = VustackBinary();
    if (!vustack.ok()) return vustack.status();
    s->vustack = *vustack;
    s->www = s->bed->dir() + "/www";
    if (mkdir(s->www.c_str(), 0755) != 0) {
      return absl::ErrnoToStatus(errno, s->www);
    }
    s->payload_path = s->www + "/payload.bin";
    absl::StatusOr<std::string> payload =
        WritePatternFile(s->payload_path, 9, kPayloadBytes);
    if (!payload.ok()) return payload.status();
    s->payload = *std::move(payload);
    return absl::OkStatus();
  }

  void SetUp() override { ASSERT_TRUE(setup_.ok()) << setup_; }

  void TearDown() override {
    if (HasFailure() && server_ != nullptr) {
      std::fprintf(stderr, "server log:\n%s\n", server_->Log().c_str());
    }
    server_.reset();
    if (HasFailure()) {
      std::fprintf(stderr, "stackd log:\n%s\n",
                   shared_->bed->StackdLog().c_str());
    }
  }

  // Starts `argv` under vustack in the namespace without a network and
  // waits until the kernel reaches it at the stack's `port` (IPv4; 0: does
  // not wait).
  void StartServer(const std::vector<std::string>& argv, uint16_t port) {
    std::vector<std::string> full = {shared_->vustack,
                                     shared_->bed->stack_path()};
    full.insert(full.end(), argv.begin(), argv.end());
    absl::StatusOr<std::unique_ptr<Process>> p =
        Process::Start(shared_->app->name(), {"HOME=/root"}, full,
                       shared_->bed->dir() + "/server.log");
    ASSERT_TRUE(p.ok()) << p.status();
    server_ = *std::move(p);
    if (port == 0) return;
    absl::Status ready = WaitForListener(shared_->bed->netns(), kStackIp4, port);
    ASSERT_TRUE(ready.ok()) << ready;
  }

  // Runs `argv` in the test bed's namespace (a kernel client).
  static CommandResult Kernel(const std::vector<std::string>& argv) {
    return RunArgv(InNamespace(shared_->bed->netns(), {}, argv),
                   kProgramTimeout);
  }

  // curl in the kernel's namespace fetches `url`: the payload.
  static void ExpectPayloadFrom(const std::string& url) {
    CommandResult r = Kernel({"curl", "-sS", "--max-time", "30", url});
    EXPECT_EQ(r.exit_code, 0) << url << "\n" << r.err;
    EXPECT_TRUE(r.out == shared_->payload)
        << url << ": " << CompareBytes(shared_->payload, r.out) << "\n"
        << r.err;
  }

  static std::string Url(absl::string_view host, uint16_t port,
                         absl::string_view path = "/payload.bin") {
    return absl::StrCat("http://", host, ":", port, path);
  }
  static std::string Url6(uint16_t port,
                          absl::string_view path = "/payload.bin") {
    return absl::StrCat("http://[", kStackIp6, "]:", port, path);
  }

  static Shared* shared_;
  static absl::Status setup_;
  std::unique_ptr<Process> server_;
};

Shared* VustackServersTest::shared_ = nullptr;
absl::Status VustackServersTest::setup_;

TEST_F(VustackServersTest, PythonHttpServerBothFamilies) {
  ASSERT_NO_FATAL_FAILURE(StartServer(
      {kPython, "-m", "http.server", "8000", "--bind", "::", "--directory",
       shared_->www},
      8000));
  ExpectPayloadFrom(Url(kStackIp4, 8000));
  ExpectPayloadFrom(Url6(8000));
  // It saw the kernel's addresses as its peers.
  const std::string log = server_->Log();
  EXPECT_THAT(log, ::testing::HasSubstr(absl::StrCat(kKernelIp4, " - - ")));
  EXPECT_THAT(log, ::testing::HasSubstr(absl::StrCat(kKernelIp6, " - - ")));
}

TEST_F(VustackServersTest, Nginx) {
  const std::string dir = shared_->bed->dir() + "/nginx";
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  // An upstream on the kernel's side for nginx's own connections.
  absl::StatusOr<std::unique_ptr<Process>> upstream = Process::Start(
      shared_->bed->netns(), {},
      {kPython, "-m", "http.server", "8090", "--bind", std::string(kKernelIp4),
       "--directory", shared_->www},
      dir + "/upstream.log");
  ASSERT_TRUE(upstream.ok()) << upstream.status();
  ASSERT_TRUE(WaitForListener(shared_->bed->netns(), kKernelIp4, 8090).ok());
  const std::string conf = dir + "/nginx.conf";
  {
    std::ofstream out(conf);
    // nginx replaces its environment with TZ alone; these keep the
    // default stack for its own connections (proxy_pass).
    out << "env MSOCKET_STACK_INET;\n"
        << "env MSOCKET_STACK_INET6;\n"
        << "daemon off;\n"
        << "master_process off;\n"
        << "worker_processes 1;\n"
        << "error_log " << dir << "/error.log info;\n"
        << "pid " << dir << "/nginx.pid;\n"
        << "events { worker_connections 64; }\n"
        << "http {\n"
        << "  access_log " << dir << "/access.log;\n";
    for (const char* temp : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
      out << "  " << temp << "_temp_path " << dir << "/tmp;\n";
    }
    out << "  sendfile on;\n"      // sendfile(2) into the socket's pair.
        << "  tcp_nopush on;\n"    // TCP_CORK around each response.
        << "  tcp_nodelay on;\n"
        << "  keepalive_timeout 5;\n"
        << "  server {\n"
        << "    listen " << kStackIp4 << ":8001;\n"
        << "    listen [" << kStackIp6 << "]:8001;\n"
        << "    root " << shared_->www << ";\n"
        << "    location /proxied/ { proxy_pass http://" << kKernelIp4
        << ":8090/; }\n"
        << "  }\n"
        << "}\n";
    ASSERT_TRUE(out.good());
  }
  ASSERT_NO_FATAL_FAILURE(
      StartServer({"nginx", "-p", dir, "-c", conf}, 8001));
  ExpectPayloadFrom(Url(kStackIp4, 8001));
  ExpectPayloadFrom(Url6(8001));
  // Two requests on one kept-alive connection.
  CommandResult r = Kernel({"curl", "-sS", "--max-time", "30",
                            Url(kStackIp4, 8001), Url(kStackIp4, 8001)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out == shared_->payload + shared_->payload)
      << CompareBytes(shared_->payload + shared_->payload, r.out);
  // Proxied: nginx's own connection to the upstream goes through the stack
  // too (its namespace has no other way out).
  ExpectPayloadFrom(Url(kStackIp4, 8001, "/proxied/payload.bin"));
  EXPECT_THAT((*upstream)->Log(), ::testing::HasSubstr(absl::StrCat(
                                      kStackIp4, " - - ")));
  // A 404 is an answer too.
  r = Kernel({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
              "--max-time", "30", Url6(8001, "/missing")});
  EXPECT_EQ(r.out, "404") << r.err;
  server_->Stop();
  const std::string errors = ReadWholeFile(dir + "/error.log");
  // Nothing went wrong but the missing file.
  for (absl::string_view line : absl::StrSplit(errors, '\n')) {
    if (absl::StrContains(line, "/missing")) continue;
    for (const char* level : {"[alert]", "[crit]", "[emerg]", "[error]"}) {
      EXPECT_FALSE(absl::StrContains(line, level)) << line;
    }
  }
  EXPECT_THAT(ReadWholeFile(dir + "/access.log"),
              ::testing::HasSubstr(absl::StrCat(kKernelIp6, " - - ")));
}

TEST_F(VustackServersTest, Iperf3Server) {
  // One test (-1), so no readiness probe: the client retries until the
  // server listens.
  ASSERT_NO_FATAL_FAILURE(
      StartServer({"iperf3", "-s", "-1", "-p", "5202", "-J"}, /*port=*/0));
  CommandResult r;
  for (int attempt = 0; attempt < 50; ++attempt) {
    r = Kernel({"iperf3", "-c", std::string(kStackIp4), "-p", "5202", "-t", "2",
                "-J"});
    // iperf3 -J exits with 0 even when it could not connect.
    if (!absl::StrContains(r.out, "unable to connect")) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_EQ(r.out.find("\"error\""), std::string::npos) << r.out;
  std::optional<int> server_exit = server_->Wait(absl::Seconds(20));
  ASSERT_TRUE(server_exit.has_value()) << r.out;
  EXPECT_EQ(*server_exit, 0);
  const std::string server_json = server_->Log();
  const int64_t client_sent = JsonNumberAfter(r.out, "sum_sent", "bytes");
  const int64_t server_received =
      JsonNumberAfter(server_json, "sum_received", "bytes");
  EXPECT_GT(server_received, 25 * 1000 * 1000) << server_json;
  // The server's count reached the client in the results exchange.
  EXPECT_EQ(JsonNumberAfter(r.out, "sum_received", "bytes"), server_received)
      << r.out;
  // The server stops counting when the client's end-of-test message
  // arrives on the control connection; what was still in flight on the
  // data connection then (lwIP's 4 MiB window, the pair's buffers, the
  // kernel's send buffer) is not counted.
  EXPECT_LE(server_received, client_sent);
  EXPECT_LE(client_sent - server_received, 16 * 1024 * 1024)
      << "sent " << client_sent << ", received " << server_received;
  EXPECT_EQ(server_json.find("\"error\""), std::string::npos) << server_json;
}

TEST_F(VustackServersTest, SocatEchoServerBothFamilies) {
  ASSERT_NO_FATAL_FAILURE(StartServer(
      {"socat", "TCP6-LISTEN:7001,ipv6only=0,reuseaddr,fork", "PIPE"}, 7001));
  for (absl::string_view ip : {kStackIp4, kStackIp6}) {
    CommandResult r = Kernel(
        {"sh", "-c",
         absl::StrCat("exec nc -N ", ip, " 7001 < ", shared_->payload_path)});
    EXPECT_EQ(r.exit_code, 0) << ip << r.err;
    EXPECT_TRUE(r.out == shared_->payload)
        << ip << ": " << CompareBytes(shared_->payload, r.out);
  }
}

TEST_F(VustackServersTest, NodeHttpServer) {
  ASSERT_NO_FATAL_FAILURE(StartServer(
      {"node", "-e",
       "const fs = require('fs');\n"
       "require('http').createServer((req, res) => {\n"
       "  if (req.url !== '/payload.bin') { res.statusCode = 404; res.end(); return; }\n"
       "  res.setHeader('Content-Length', fs.statSync(process.argv[1]).size);\n"
       "  fs.createReadStream(process.argv[1]).pipe(res);\n"
       "}).listen(8002);\n",
       shared_->payload_path},
      8002));
  ExpectPayloadFrom(Url(kStackIp4, 8002));
  ExpectPayloadFrom(Url6(8002));
}

}  // namespace
}  // namespace stackd::testbed
