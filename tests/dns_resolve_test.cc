// Name resolution through the stack: a dnsmasq in the test bed's namespace
// serves names on 10.42.0.1 and fd42::1, stackd is started with
// --dns=10.42.0.1 --search=example.test, and getaddrinfo, gethostbyname*,
// getnameinfo and res_query, called in a child process whose default stack
// is the test bed's (MSOCKET_STACK), must resolve through the stack: this
// process lives in the root namespace, whose own resolver cannot reach
// 10.42.0.1 (checked too). nftables counters in the namespace show that
// queries arrive from the stack's address, over UDP, and over TCP for an
// answer too large for UDP.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <resolv.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/netns_peer.h"
#include "tests/testbed.h"

namespace stackd::testbed {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kDnsmasq[] = "/usr/sbin/dnsmasq";
// Addresses of many.example.test: more A records than a 512-byte UDP
// answer holds (16 bytes each), so the answer comes truncated.
constexpr int kManyRecords = 60;
// The longest one resolution in the child may take: the resolver's bound
// (2 tries of 2 s per question, a few questions) with room to spare.
constexpr absl::Duration kChildTimeout = absl::Seconds(40);

// A DNS query for www.example.test A (id 0x4242), for the readiness probe.
std::vector<uint8_t> ProbeQuery() {
  std::vector<uint8_t> q = {0x42, 0x42, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  for (const char* label : {"www", "example", "test"}) {
    q.push_back(static_cast<uint8_t>(std::strlen(label)));
    q.insert(q.end(), label, label + std::strlen(label));
  }
  q.insert(q.end(), {0, 0, 1, 0, 1});
  return q;
}

// dnsmasq in the test bed's namespace, in the foreground, as a child of
// this process that dies with it (PR_SET_PDEATHSIG); stopped by the
// destructor.
class Dnsmasq {
 public:
  static absl::StatusOr<std::unique_ptr<Dnsmasq>> Start(const Testbed& bed) {
    const std::string many = bed.dir() + "/many.hosts";
    {
      std::ofstream out(many, std::ios::trunc);
      for (int i = 1; i <= kManyRecords; ++i) {
        out << "10.43.0." << i << " many.example.test\n";
      }
      if (!out.good()) return absl::InternalError("cannot write " + many);
    }
    std::unique_ptr<Dnsmasq> d(new Dnsmasq(bed));
    d->args_ = {
        kDnsmasq,
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--bogus-priv",
        "--bind-interfaces",
        absl::StrCat("--listen-address=", kKernelIp4),
        absl::StrCat("--listen-address=", kKernelIp6),
        "--user=root",
        "--group=root",
        absl::StrCat("--pid-file=", bed.dir(), "/dnsmasq.pid"),
        // Every name it does not know is NXDOMAIN (no upstream).
        "--local=/#/",
        absl::StrCat("--host-record=www.example.test,", kKernelIp4, ",",
                     kKernelIp6),
        "--host-record=v4only.example.test,10.42.0.7",
        "--host-record=v6only.example.test,fd42::7",
        "--cname=alias.example.test,www.example.test",
        absl::StrCat("--addn-hosts=", many),
        "--log-queries",
        absl::StrCat("--log-facility=", bed.dir(), "/dnsmasq.log"),
    };
    if (absl::Status s = d->Spawn(); !s.ok()) return s;
    if (absl::Status s = d->WaitUntilAnswering(absl::Seconds(10)); !s.ok()) {
      return absl::Status(s.code(),
                          absl::StrCat(s.message(), "; dnsmasq log: ", d->Log()));
    }
    return d;
  }

  ~Dnsmasq() { Stop(); }

  // SIGTERM, SIGKILL after 5 s; reaped.
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (absl::Now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    pid_ = -1;
  }

  std::string Log() const {
    std::ifstream in(bed_.dir() + "/dnsmasq.log");
    std::string text((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    return text;
  }

 private:
  explicit Dnsmasq(const Testbed& bed) : bed_(bed) {}

  absl::Status Spawn() {
    std::vector<char*> argv;
    for (std::string& a : args_) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string netns_path = "/run/netns/" + bed_.netns();
    const std::string out_path = bed_.dir() + "/dnsmasq.out";
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) return absl::ErrnoToStatus(errno, "fork");
    if (pid == 0) {
      // Only async-signal-safe calls from here on.
      if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) {
        _exit(127);
      }
      const int ns = open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
      if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) _exit(126);
      const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out >= 0) {
        dup2(out, 1);
        dup2(out, 2);
      }
      execv(kDnsmasq, argv.data());
      _exit(127);
    }
    pid_ = pid;
    return absl::OkStatus();
  }

  // Asks dnsmasq from a kernel socket in the namespace until it answers.
  absl::Status WaitUntilAnswering(absl::Duration timeout) {
    absl::StatusOr<ScopedFd> fd = KernelSocket(bed_.netns(), AF_INET, SOCK_DGRAM);
    if (!fd.ok()) return fd.status();
    const SockAddr server = MakeSockAddr(kKernelIp4, 53);
    const std::vector<uint8_t> query = ProbeQuery();
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return absl::InternalError(
            absl::StrCat("dnsmasq exited with status ", status));
      }
      sendto(fd->get(), query.data(), query.size(), 0, server.get(), server.len);
      if (PollFor(fd->get(), POLLIN, absl::Milliseconds(200)) & POLLIN) {
        uint8_t reply[512];
        const ssize_t n = recv(fd->get(), reply, sizeof(reply), 0);
        if (n >= 12 && reply[0] == 0x42 && reply[1] == 0x42) {
          return absl::OkStatus();
        }
      }
    }
    return absl::DeadlineExceededError("dnsmasq did not answer");
  }

  const Testbed& bed_;
  std::vector<std::string> args_;
  pid_t pid_ = -1;
};

// Runs `body` in a forked child with MSOCKET_STACK set to `stack` (unset
// everywhere when `stack` is empty) and returns the text it produced.
// Bounded by kChildTimeout; a child that does not finish is killed.
absl::StatusOr<std::string> InChild(const std::string& stack,
                                    const std::function<std::string()>& body) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe");
  const pid_t pid = fork();
  if (pid < 0) return absl::ErrnoToStatus(errno, "fork");
  if (pid == 0) {
    close(pipe_fds[0]);
    unsetenv("MSOCKET_STACK");
    unsetenv("MSOCKET_STACK_INET");
    unsetenv("MSOCKET_STACK_INET6");
    if (!stack.empty()) setenv("MSOCKET_STACK", stack.c_str(), 1);
    const std::string out = body();
    size_t sent = 0;
    while (sent < out.size()) {
      const ssize_t n = write(pipe_fds[1], out.data() + sent, out.size() - sent);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    _exit(0);
  }
  close(pipe_fds[1]);
  std::string out;
  const absl::Time deadline = absl::Now() + kChildTimeout;
  bool timed_out = false;
  for (;;) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      timed_out = true;
      break;
    }
    if ((PollFor(pipe_fds[0], POLLIN, left) & (POLLIN | POLLHUP)) == 0) continue;
    char buf[4096];
    const ssize_t n = read(pipe_fds[0], buf, sizeof(buf));
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(pipe_fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  if (timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat("the child did not finish in ", absl::FormatDuration(kChildTimeout),
                     "; it had said: ", out));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("the child died: status ", status));
  }
  return out;
}

std::string AddressText(const sockaddr* sa) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, text,
              sizeof(text));
  } else if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr,
              text, sizeof(text));
  }
  return text;
}

// getaddrinfo(node, "80", SOCK_STREAM, family, flags) as text:
// "canon=NAME ADDR ADDR ..." or "error N".
std::string Gai(const char* node, int family, int flags = 0) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = flags;
  addrinfo* res = nullptr;
  const int rc = getaddrinfo(node, "80", &hints, &res);
  if (rc != 0) return absl::StrCat("error ", rc);
  std::vector<std::string> parts;
  for (addrinfo* p = res; p != nullptr; p = p->ai_next) {
    if (p->ai_canonname != nullptr) {
      parts.push_back(absl::StrCat("canon=", p->ai_canonname));
    }
    const auto* in = reinterpret_cast<const sockaddr_in*>(p->ai_addr);
    if (ntohs(in->sin_port) != 80) parts.push_back("bad-port");
    parts.push_back(AddressText(p->ai_addr));
  }
  freeaddrinfo(res);
  return absl::StrJoin(parts, " ");
}

// gethostbyname2(name, af) as text: "NAME [alias=A] ADDR..." or
// "h_errno N".
std::string Ghbn2(const char* name, int af) {
  hostent* h = af == AF_INET ? gethostbyname(name) : gethostbyname2(name, af);
  if (h == nullptr) return absl::StrCat("h_errno ", h_errno);
  std::vector<std::string> parts = {h->h_name};
  for (char** a = h->h_aliases; *a != nullptr; ++a) {
    parts.push_back(absl::StrCat("alias=", *a));
  }
  for (char** a = h->h_addr_list; *a != nullptr; ++a) {
    char text[INET6_ADDRSTRLEN];
    inet_ntop(h->h_addrtype, *a, text, sizeof(text));
    parts.push_back(text);
  }
  return absl::StrJoin(parts, " ");
}

// The nftables counters this test adds: DNS packets into the namespace
// from the stack's addresses, by transport.
struct DnsCounters {
  uint64_t udp = 0;
  uint64_t tcp = 0;
};

class DnsResolveTest : public ::testing::Test {
 protected:
  // stackd's resolver flags.
  virtual std::vector<std::string> DnsFlags() const {
    return {absl::StrCat("--dns=", kKernelIp4), "--search=example.test"};
  }

  void SetUp() override {
    Testbed::Options options;
    options.extra_stackd_flags = DnsFlags();
    absl::StatusOr<std::unique_ptr<Testbed>> bed = Testbed::Create(options);
    ASSERT_TRUE(bed.ok()) << bed.status();
    bed_ = *std::move(bed);
    for (const char* rule : {
             "ip saddr 10.42.0.2 udp dport 53 counter",
             "ip saddr 10.42.0.2 tcp dport 53 tcp flags syn counter",
             "ip6 saddr fd42::2 udp dport 53 counter",
             "ip6 saddr fd42::2 tcp dport 53 tcp flags syn counter",
         }) {
      ASSERT_TRUE(AddNftRule(*bed_, "input", rule).ok());
    }
    absl::StatusOr<std::unique_ptr<Dnsmasq>> dnsmasq = Dnsmasq::Start(*bed_);
    ASSERT_TRUE(dnsmasq.ok()) << dnsmasq.status();
    dnsmasq_ = *std::move(dnsmasq);
  }

  void TearDown() override {
    if (HasFailure() && bed_ != nullptr) {
      std::fprintf(stderr, "stackd log:\n%s\n", bed_->StackdLog().c_str());
      if (dnsmasq_ != nullptr) {
        std::fprintf(stderr, "dnsmasq log:\n%s\n", dnsmasq_->Log().c_str());
      }
    }
    dnsmasq_.reset();  // Before the namespace goes.
    bed_.reset();
  }

  // `body`'s text, run in a child that resolves through the test bed.
  std::string OnStack(const std::function<std::string()>& body) {
    absl::StatusOr<std::string> out = InChild(bed_->stack_path(), body);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : "";
  }

  DnsCounters Counters() {
    DnsCounters c;
    CommandResult r = bed_->Run("nft list chain inet stackd_test input");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    for (absl::string_view line : absl::StrSplit(r.out, '\n')) {
      const size_t at = line.find("counter packets ");
      if (at == absl::string_view::npos) continue;
      uint64_t packets = 0;
      absl::string_view rest = line.substr(at + 16);
      EXPECT_TRUE(absl::SimpleAtoi(rest.substr(0, rest.find(' ')), &packets));
      (absl::StrContains(line, "udp") ? c.udp : c.tcp) += packets;
    }
    return c;
  }

  std::unique_ptr<Testbed> bed_;
  std::unique_ptr<Dnsmasq> dnsmasq_;
};

TEST_F(DnsResolveTest, GetAddrInfoBothFamiliesOverUdpFromTheStack) {
  EXPECT_EQ(OnStack([] { return Gai("www.example.test", AF_UNSPEC); }),
            "fd42::1 10.42.0.1");  // The stack has IPv6: IPv6 first.
  EXPECT_EQ(OnStack([] { return Gai("www.example.test", AF_INET); }),
            "10.42.0.1");
  EXPECT_EQ(OnStack([] { return Gai("www.example.test", AF_INET6); }),
            "fd42::1");
  const DnsCounters c = Counters();
  EXPECT_GE(c.udp, 4u);  // A and AAAA, then one each: from 10.42.0.2.
  EXPECT_EQ(c.tcp, 0u);
}

TEST_F(DnsResolveTest, FamiliesCnamesAndSearchDomains) {
  EXPECT_EQ(OnStack([] { return Gai("v4only.example.test", AF_UNSPEC); }),
            "10.42.0.7");
  EXPECT_EQ(OnStack([] { return Gai("v6only.example.test", AF_UNSPEC); }),
            "fd42::7");
  EXPECT_EQ(OnStack([] { return Gai("v6only.example.test", AF_INET); }),
            absl::StrCat("error ", EAI_NONAME));
  EXPECT_EQ(OnStack([] {
              return Gai("v4only.example.test", AF_INET6, AI_V4MAPPED);
            }),
            "::ffff:10.42.0.7");
  // "www" has no dot: the search domain first.
  EXPECT_EQ(OnStack([] { return Gai("www", AF_INET, AI_CANONNAME); }),
            "canon=www.example.test 10.42.0.1");
  EXPECT_EQ(OnStack([] { return Gai("alias", AF_INET6, AI_CANONNAME); }),
            "canon=www.example.test fd42::1");
  // The hosts file comes first and needs no DNS.
  EXPECT_EQ(OnStack([] { return Gai("localhost", AF_INET); }), "127.0.0.1");
}

TEST_F(DnsResolveTest, TruncatedAnswerIsFetchedOverTcp) {
  std::vector<std::string> expected;
  for (int i = 1; i <= kManyRecords; ++i) {
    expected.push_back(absl::StrCat("10.43.0.", i));
  }
  const std::string got =
      OnStack([] { return Gai("many.example.test", AF_INET); });
  std::vector<std::string> addresses = absl::StrSplit(got, ' ');
  std::sort(addresses.begin(), addresses.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(addresses, expected) << got;
  const DnsCounters c = Counters();
  EXPECT_GE(c.udp, 1u);
  EXPECT_GE(c.tcp, 1u);  // The SYN of the TCP retry.
}

TEST_F(DnsResolveTest, GetHostByNameFamily) {
  EXPECT_EQ(OnStack([] { return Ghbn2("alias.example.test", AF_INET); }),
            "www.example.test alias=alias.example.test 10.42.0.1");
  EXPECT_EQ(OnStack([] { return Ghbn2("www", AF_INET6); }),
            "www.example.test fd42::1");
  EXPECT_EQ(OnStack([] { return Ghbn2("nosuch.example.test", AF_INET); }),
            absl::StrCat("h_errno ", HOST_NOT_FOUND));
  EXPECT_EQ(OnStack([] { return Ghbn2("v4only.example.test", AF_INET6); }),
            absl::StrCat("h_errno ", NO_DATA));
  EXPECT_EQ(OnStack([] {
              hostent ret;
              hostent* result = nullptr;
              char buf[1024];
              int h = 0;
              const int rc = gethostbyname_r("www.example.test", &ret, buf,
                                             sizeof(buf), &result, &h);
              if (rc != 0 || result == nullptr) {
                return absl::StrCat("rc ", rc, " h ", h);
              }
              char text[INET_ADDRSTRLEN];
              inet_ntop(AF_INET, ret.h_addr_list[0], text, sizeof(text));
              return std::string(text);
            }),
            "10.42.0.1");
  const std::string many =
      OnStack([] { return Ghbn2("many.example.test", AF_INET); });
  EXPECT_EQ(std::vector<std::string>(absl::StrSplit(many, ' ')).size(),
            1u + kManyRecords)
      << many;
}

TEST_F(DnsResolveTest, GetNameInfoReverse) {
  auto reverse = [](const char* ip, int flags) {
    sockaddr_storage ss{};
    socklen_t len;
    if (std::strchr(ip, ':') != nullptr) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(53);
      inet_pton(AF_INET6, ip, &in6->sin6_addr);
      len = sizeof(*in6);
    } else {
      auto* in = reinterpret_cast<sockaddr_in*>(&ss);
      in->sin_family = AF_INET;
      in->sin_port = htons(53);
      inet_pton(AF_INET, ip, &in->sin_addr);
      len = sizeof(*in);
    }
    char host[NI_MAXHOST];
    char serv[NI_MAXSERV];
    const int rc = getnameinfo(reinterpret_cast<sockaddr*>(&ss), len, host,
                               sizeof(host), serv, sizeof(serv), flags);
    if (rc != 0) return absl::StrCat("error ", rc);
    return absl::StrCat(host, " ", serv);
  };
  EXPECT_EQ(OnStack([&] { return reverse("10.42.0.1", NI_NAMEREQD); }),
            "www.example.test domain");
  EXPECT_EQ(OnStack([&] { return reverse("fd42::1", 0); }),
            "www.example.test domain");
  EXPECT_EQ(OnStack([&] { return reverse("10.42.0.99", NI_NAMEREQD); }),
            absl::StrCat("error ", EAI_NONAME));
  EXPECT_EQ(OnStack([&] { return reverse("10.42.0.99", NI_NUMERICSERV); }),
            "10.42.0.99 53");
  EXPECT_EQ(OnStack([&] { return reverse("10.42.0.1", NI_NUMERICHOST); }),
            "10.42.0.1 domain");
}

TEST_F(DnsResolveTest, ResQueryReturnsTheRawAnswer) {
  const std::string out = OnStack([] {
    unsigned char answer[4096];
    const int n = res_query("www.example.test", C_IN, T_A, answer,
                            sizeof(answer));
    if (n < 12) return absl::StrCat("res_query ", n, " h_errno ", h_errno);
    const int ancount = (answer[6] << 8) | answer[7];
    const unsigned char* rdata = answer + n - 4;  // The one A record.
    std::string text = absl::StrCat("ancount ", ancount, " rcode ",
                                    answer[3] & 0xf, " last ", rdata[0], ".",
                                    rdata[1], ".", rdata[2], ".", rdata[3]);
    // res_search applies the search domain; the big answer comes whole.
    const int big = res_search("many", C_IN, T_A, answer, sizeof(answer));
    absl::StrAppend(&text, " many ", big > 512 ? "big" : "small", " ",
                    big >= 12 ? ((answer[6] << 8) | answer[7]) : -1);
    const int missing = res_query("nosuch.example.test", C_IN, T_A, answer,
                                  sizeof(answer));
    absl::StrAppend(&text, " missing ", missing, " h_errno ", h_errno);
    return text;
  });
  EXPECT_EQ(out, absl::StrCat("ancount 1 rcode 0 last 10.42.0.1 many big ",
                              kManyRecords, " missing -1 h_errno ",
                              HOST_NOT_FOUND));
}

TEST_F(DnsResolveTest, MissingNameIsNoName) {
  EXPECT_EQ(OnStack([] { return Gai("nosuch.example.test", AF_UNSPEC); }),
            absl::StrCat("error ", EAI_NONAME));
  EXPECT_EQ(OnStack([] { return Gai("nosuch", AF_UNSPEC); }),
            absl::StrCat("error ", EAI_NONAME));
}

TEST_F(DnsResolveTest, SilentServerIsTryAgainWithinTheBound) {
  dnsmasq_->Stop();
  // Silent, not refusing: no port unreachable either.
  ASSERT_TRUE(AddNftRule(*bed_, "input", "udp dport 53 drop").ok());
  ASSERT_TRUE(AddNftRule(*bed_, "input", "tcp dport 53 drop").ok());
  const absl::Time start = absl::Now();
  EXPECT_EQ(OnStack([] { return Gai("www.example.test", AF_UNSPEC); }),
            absl::StrCat("error ", EAI_AGAIN));
  const absl::Duration took = absl::Now() - start;
  // Two tries of 2 s of the one server, for the first question only.
  EXPECT_GE(took, absl::Milliseconds(3500));
  EXPECT_LE(took, absl::Seconds(12));
  EXPECT_EQ(OnStack([] { return Ghbn2("www.example.test", AF_INET); }),
            absl::StrCat("h_errno ", TRY_AGAIN));
  // The hosts file still answers.
  EXPECT_EQ(OnStack([] { return Gai("localhost", AF_INET); }), "127.0.0.1");
}

// The resolver from many threads at once: per-call state, a shared cache
// of the stack's settings, gethostbyname's answer per thread.
TEST_F(DnsResolveTest, ThreadsResolveAtOnce) {
  EXPECT_EQ(OnStack([] {
              constexpr int kThreads = 8;
              constexpr int kRounds = 10;
              std::atomic<int> good{0};
              std::vector<std::thread> threads;
              for (int t = 0; t < kThreads; ++t) {
                threads.emplace_back([&good, t] {
                  for (int i = 0; i < kRounds; ++i) {
                    const bool alias = (i + t) % 2 == 0;
                    const std::string got = Gai(
                        alias ? "alias" : "www.example.test", AF_UNSPEC);
                    const std::string host = Ghbn2(
                        alias ? "v4only.example.test" : "www.example.test",
                        AF_INET);
                    if (got == "fd42::1 10.42.0.1" &&
                        host == (alias ? "v4only.example.test 10.42.0.7"
                                       : "www.example.test 10.42.0.1")) {
                      ++good;
                    }
                  }
                });
              }
              for (std::thread& th : threads) th.join();
              return std::to_string(good.load());
            }),
            std::to_string(8 * 10));
}

// Without a default stack the calls are libc's, whose resolver (in the
// root namespace) has no route to the test's server: the names do not
// resolve there. Proof that the answers above came through the stack.
TEST_F(DnsResolveTest, HostResolverCannotSeeTheServer) {
  absl::StatusOr<std::string> out = InChild("", [] {
    return Gai("www.example.test", AF_UNSPEC) + " / " +
           Gai("many.example.test", AF_INET);
  });
  // A host resolver that hangs until the child is killed resolves nothing
  // either.
  if (out.ok()) {
    EXPECT_THAT(*out, StartsWith("error "));
    EXPECT_THAT(*out, HasSubstr(" / error "));
  } else {
    EXPECT_EQ(out.status().code(), absl::StatusCode::kDeadlineExceeded);
  }
  EXPECT_EQ(Counters().udp, 0u);
}

// An unmodified program (getent) with the library preloaded, as vustack
// runs programs.
TEST_F(DnsResolveTest, PreloadedIntoAnUnmodifiedProgram) {
  absl::StatusOr<std::string> lib = Runfile("client/libmsocket.so");
  ASSERT_TRUE(lib.ok()) << lib.status();
  CommandResult r = RunArgv(
      {"env", absl::StrCat("LD_PRELOAD=", *lib),
       absl::StrCat("MSOCKET_STACK=", bed_->stack_path()), "getent", "ahosts",
       "alias.example.test"},
      kChildTimeout);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 6u) << r.out;  // 2 addresses x STREAM, DGRAM, RAW.
  EXPECT_THAT(lines[0], StartsWith("fd42::1"));
  EXPECT_THAT(lines[0], HasSubstr("www.example.test"));
  EXPECT_THAT(lines[3], StartsWith("10.42.0.1"));
  r = RunArgv({"env", absl::StrCat("LD_PRELOAD=", *lib),
               absl::StrCat("MSOCKET_STACK=", bed_->stack_path()), "getent",
               "hosts", "nosuch.example.test"},
              kChildTimeout);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;  // getent: not found.
}

// Two servers: the first (10.42.0.3) does not exist, so every question
// waits out one try there; the second is dnsmasq over IPv6. No search
// domain.
class DnsFailoverTest : public DnsResolveTest {
 protected:
  std::vector<std::string> DnsFlags() const override {
    return {"--dns=10.42.0.3", absl::StrCat("--dns=[", kKernelIp6, "]:53")};
  }
};

TEST_F(DnsFailoverTest, SecondServerOverIpv6Answers) {
  const absl::Time start = absl::Now();
  EXPECT_EQ(OnStack([] { return Gai("www.example.test", AF_INET); }),
            "10.42.0.1");
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(1500));  // The first server's try.
  EXPECT_LE(took, absl::Seconds(10));
  const DnsCounters c = Counters();
  EXPECT_GE(c.udp, 1u);  // From fd42::2 (10.42.0.3 is not in the table).
  EXPECT_EQ(OnStack([] { return Gai("www", AF_INET); }),
            absl::StrCat("error ", EAI_NONAME));  // No search domain.
}

}  // namespace
}  // namespace stackd::testbed
