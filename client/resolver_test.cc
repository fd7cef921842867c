#include "client/resolver.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "client/resolver_hosts.h"
#include "client/resolver_message.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stackd::client {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// --- Helpers ---------------------------------------------------------------

HostAddress V4(const char* text) {
  HostAddress a;
  a.family = AF_INET;
  EXPECT_EQ(inet_pton(AF_INET, text, a.bytes.data()), 1) << text;
  return a;
}

HostAddress V6(const char* text) {
  HostAddress a;
  a.family = AF_INET6;
  EXPECT_EQ(inet_pton(AF_INET6, text, a.bytes.data()), 1) << text;
  return a;
}

std::string Text(const HostAddress& a) {
  char buf[INET6_ADDRSTRLEN];
  return inet_ntop(a.family, a.bytes.data(), buf, sizeof(buf));
}

std::vector<std::string> Texts(const std::vector<HostAddress>& list) {
  std::vector<std::string> out;
  for (const HostAddress& a : list) out.push_back(Text(a));
  return out;
}

void Put16(uint16_t v, std::vector<uint8_t>* out) {
  out->push_back(static_cast<uint8_t>(v >> 8));
  out->push_back(static_cast<uint8_t>(v));
}

void Put32(uint32_t v, std::vector<uint8_t>* out) {
  Put16(static_cast<uint16_t>(v >> 16), out);
  Put16(static_cast<uint16_t>(v), out);
}

// One record of a fake answer: an address, or a name (CNAME, PTR).
struct FakeRecord {
  std::string name;
  uint16_t type;
  HostAddress address;  // A, AAAA.
  std::string target;   // CNAME, PTR.
};

FakeRecord A(const std::string& name, const char* ip) {
  return {name, dns::kTypeA, V4(ip), ""};
}
FakeRecord Aaaa(const std::string& name, const char* ip) {
  return {name, dns::kTypeAaaa, V6(ip), ""};
}
FakeRecord Cname(const std::string& name, const std::string& target) {
  return {name, dns::kTypeCname, HostAddress(), target};
}
FakeRecord Ptr(const std::string& name, const std::string& target) {
  return {name, dns::kTypePtr, HostAddress(), target};
}

// A name in wire form; a name equal to the question's is written as a
// pointer to it (offset 12), exercising compression.
void PutName(const std::string& name, const std::string& question,
             std::vector<uint8_t>* out) {
  if (dns::SameName(name, question)) {
    out->push_back(0xc0);
    out->push_back(12);
    return;
  }
  ASSERT_TRUE(dns::EncodeName(name, out)) << name;
}

// The answer to `query` (which must parse) with `rcode` and `records`.
std::vector<uint8_t> Answer(const std::vector<uint8_t>& query, int rcode,
                            const std::vector<FakeRecord>& records,
                            bool truncated = false) {
  dns::Message q;
  EXPECT_TRUE(dns::ParseMessage(query.data(), query.size(), false, &q));
  EXPECT_EQ(q.questions.size(), 1u);
  std::vector<uint8_t> out;
  Put16(q.id, &out);
  Put16(static_cast<uint16_t>(0x8180 | (truncated ? 0x0200 : 0) | rcode),
        &out);
  Put16(1, &out);
  Put16(static_cast<uint16_t>(records.size()), &out);
  Put16(0, &out);
  Put16(0, &out);
  const std::string& qname = q.questions[0].name;
  EXPECT_TRUE(dns::EncodeName(qname, &out));
  Put16(q.questions[0].type, &out);
  Put16(q.questions[0].qclass, &out);
  for (const FakeRecord& r : records) {
    PutName(r.name, qname, &out);
    Put16(r.type, &out);
    Put16(dns::kClassIn, &out);
    Put32(300, &out);
    std::vector<uint8_t> data;
    if (r.type == dns::kTypeA || r.type == dns::kTypeAaaa) {
      data.assign(r.address.bytes.begin(),
                  r.address.bytes.begin() + r.address.size());
    } else {
      PutName(r.target, qname, &data);
    }
    Put16(static_cast<uint16_t>(data.size()), &out);
    out.insert(out.end(), data.begin(), data.end());
  }
  return out;
}

// A DNS server in a map: (name, type) -> records or an rcode.
struct Zone {
  std::map<std::pair<std::string, uint16_t>, std::vector<FakeRecord>> records;
  std::set<std::string> names;  // Names that exist (else NXDOMAIN).

  void Add(const FakeRecord& r) {
    std::string key = r.name;
    for (char& c : key) c = static_cast<char>(std::tolower(c));
    records[{key, r.type}].push_back(r);
    names.insert(key);
  }

  std::vector<uint8_t> Respond(const std::vector<uint8_t>& query) const {
    dns::Message q;
    EXPECT_TRUE(dns::ParseMessage(query.data(), query.size(), false, &q));
    std::string name = q.questions[0].name;
    for (char& c : name) c = static_cast<char>(std::tolower(c));
    const uint16_t type = q.questions[0].type;
    std::vector<FakeRecord> answer;
    // Follow CNAMEs as a recursive server does.
    for (int hop = 0; hop < 8; ++hop) {
      auto cname = records.find({name, dns::kTypeCname});
      if (cname == records.end() || type == dns::kTypeCname) break;
      answer.push_back(cname->second[0]);
      name = cname->second[0].target;
    }
    auto it = records.find({name, type});
    if (it != records.end()) {
      answer.insert(answer.end(), it->second.begin(), it->second.end());
    }
    if (answer.empty() && names.count(name) == 0) {
      return Answer(query, dns::kNxDomain, {});
    }
    return Answer(query, dns::kNoError, answer);
  }
};

// What one fake server does with a query.
enum class Behaviour {
  kAnswer,
  kSilent,
  kServFail,
  kRefused,
  kFormErr,
  kUnreachable
};

// DnsTransport over fake servers, keyed by the server's port. Each UDP
// exchange first offers the resolver junk it must refuse (another id,
// another question, garbage), then the zone's answer; answers over 512
// bytes come truncated over UDP and whole over TCP.
class FakeTransport : public DnsTransport {
 public:
  int ExchangeUdp(const DnsServerAddress& server,
                  const std::vector<uint8_t>& query, int64_t deadline_ms,
                  const std::function<bool(const std::vector<uint8_t>&)>& accept,
                  std::vector<uint8_t>* reply) override {
    ++udp_queries;
    EXPECT_GT(deadline_ms, MonotonicMs());
    udp_servers.push_back(server.port);
    const Behaviour b = Behave(server);
    if (b == Behaviour::kSilent) return ETIMEDOUT;
    if (b == Behaviour::kUnreachable) return ECONNREFUSED;
    // Junk first: none of it may be accepted.
    std::vector<uint8_t> wrong_id = zone.Respond(query);
    wrong_id[0] ^= 0x5a;
    std::vector<uint8_t> garbage = {1, 2, 3};
    std::vector<uint8_t> other_question = query;
    other_question[2] |= 0x80;  // A response...
    other_question[other_question.size() - 3] ^= 0x01;  // ...of another type.
    for (const auto* junk : {&wrong_id, &garbage, &other_question}) {
      EXPECT_FALSE(accept(*junk));
    }
    std::vector<uint8_t> answer = Respond(b, query);
    if (answer.size() > dns::kMaxUdpBytes) {
      // As a server does: the header and question, TC set, no records.
      answer = Answer(query, dns::kNoError, {}, /*truncated=*/true);
    }
    EXPECT_TRUE(accept(answer));
    *reply = answer;
    return 0;
  }

  int ExchangeTcp(const DnsServerAddress& server,
                  const std::vector<uint8_t>& query, int64_t deadline_ms,
                  std::vector<uint8_t>* reply) override {
    ++tcp_queries;
    EXPECT_GT(deadline_ms, MonotonicMs());
    const Behaviour b = Behave(server);
    if (b == Behaviour::kSilent) return ETIMEDOUT;
    if (b == Behaviour::kUnreachable) return ECONNREFUSED;
    *reply = Respond(b, query);
    return 0;
  }

  Behaviour Behave(const DnsServerAddress& server) const {
    auto it = behaviour.find(server.port);
    return it == behaviour.end() ? Behaviour::kAnswer : it->second;
  }

  std::vector<uint8_t> Respond(Behaviour b, const std::vector<uint8_t>& query) {
    if (b == Behaviour::kServFail) return Answer(query, dns::kServFail, {});
    if (b == Behaviour::kRefused) return Answer(query, dns::kRefused, {});
    if (b == Behaviour::kFormErr) return Answer(query, dns::kFormErr, {});
    return zone.Respond(query);
  }

  Zone zone;
  std::map<uint16_t, Behaviour> behaviour;
  int udp_queries = 0;
  int tcp_queries = 0;
  std::vector<uint16_t> udp_servers;
};

class FakeConfig : public ResolverConfigSource {
 public:
  int Get(ResolverConfig* out) override {
    ++gets;
    if (error != 0) return error;
    *out = config;
    return 0;
  }
  void Refresh() override { ++refreshes; }

  ResolverConfig config;
  int error = 0;
  int gets = 0;
  int refreshes = 0;
};

DnsServerAddress Server(uint16_t port) {
  DnsServerAddress s;
  s.address = V4("192.0.2.53");
  s.port = port;
  return s;
}

// A resolver on fake servers 1 and 2, search domain example.test, and a
// hosts file of our own.
class ResolverTest : public ::testing::Test {
 protected:
  ResolverTest() {
    config_.config.servers = {Server(1), Server(2)};
    config_.config.search = {"example.test"};
  }

  Resolver MakeResolver() {
    return Resolver(&config_, &transport_, [this] { return hosts_; });
  }

  FakeConfig config_;
  FakeTransport transport_;
  std::string hosts_ =
      "127.0.0.1 localhost\n"
      "10.9.9.9 filehost.example.test filehost  # a comment\n"
      "fd09::9 filehost.example.test\n";
};

// --- DNS messages ----------------------------------------------------------

TEST(DnsMessageTest, EncodesAQuery) {
  std::vector<uint8_t> q;
  ASSERT_TRUE(dns::EncodeQuery(0x1234, "www.Example.test.", dns::kTypeAaaa,
                               dns::kClassIn, &q));
  const std::vector<uint8_t> expected = {
      0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,  // Header, RD.
      3, 'w', 'w', 'w', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e',
      4, 't', 'e', 's', 't', 0, 0, 28, 0, 1};
  EXPECT_EQ(q, expected);
}

TEST(DnsMessageTest, NameEncodingLimits) {
  std::vector<uint8_t> out;
  EXPECT_TRUE(dns::EncodeName(".", &out));
  EXPECT_EQ(out, std::vector<uint8_t>{0});
  for (const char* bad : {"a..b", ".a", "..", "a\\", "a\\25", "a\\256"}) {
    SCOPED_TRACE(bad);
    out.clear();
    EXPECT_FALSE(dns::EncodeName(bad, &out));
    EXPECT_THAT(out, IsEmpty());
  }
  EXPECT_TRUE(dns::EncodeName(std::string(63, 'a') + ".b", &out));
  EXPECT_FALSE(dns::EncodeName(std::string(64, 'a') + ".b", &out));
  // 4 * 63-byte labels: 4 * 64 + 1 = 257 bytes on the wire.
  std::string label(63, 'x');
  std::string too_long = label + "." + label + "." + label + "." + label;
  EXPECT_FALSE(dns::EncodeName(too_long, &out));
  // 253 characters of text is the most that fits 255 wire bytes.
  std::string fits = label + "." + label + "." + label + "." + std::string(61, 'y');
  EXPECT_EQ(fits.size(), 253u);
  out.clear();
  EXPECT_TRUE(dns::EncodeName(fits, &out));
  EXPECT_EQ(out.size(), 255u);
  // Escapes: "\." is a dot inside a label, "\DDD" a byte.
  out.clear();
  ASSERT_TRUE(dns::EncodeName("a\\.b\\001.c", &out));
  EXPECT_EQ(out, (std::vector<uint8_t>{4, 'a', '.', 'b', 1, 1, 'c', 0}));
  size_t offset = 0;
  std::string name;
  ASSERT_TRUE(dns::ReadName(out.data(), out.size(), &offset, &name));
  EXPECT_EQ(name, "a\\.b\\001.c");
  EXPECT_EQ(offset, out.size());
}

// A hand-made answer: the question www.example.test A, a CNAME to
// web.example.test whose "example.test" is a pointer into the question, an
// A record for web.example.test named by a pointer to the CNAME's data.
std::vector<uint8_t> CompressedAnswer() {
  std::vector<uint8_t> m = {0xab, 0xcd, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0};
  // 12: question name.
  const uint8_t qname[] = {3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l',
                           'e', 4, 't', 'e', 's', 't', 0};
  m.insert(m.end(), qname, qname + sizeof(qname));
  Put16(dns::kTypeA, &m);
  Put16(dns::kClassIn, &m);
  // 34: CNAME record, owner = pointer to 12.
  m.push_back(0xc0);
  m.push_back(12);
  Put16(dns::kTypeCname, &m);
  Put16(dns::kClassIn, &m);
  Put32(60, &m);
  Put16(6, &m);
  const size_t web = m.size();  // 46: "web" + pointer to "example" at 16.
  m.insert(m.end(), {3, 'w', 'e', 'b', 0xc0, 16});
  // A record, owner = pointer to the CNAME target.
  m.push_back(0xc0);
  m.push_back(static_cast<uint8_t>(web));
  Put16(dns::kTypeA, &m);
  Put16(dns::kClassIn, &m);
  Put32(60, &m);
  Put16(4, &m);
  m.insert(m.end(), {192, 0, 2, 7});
  return m;
}

TEST(DnsMessageTest, ParsesCompressedNames) {
  const std::vector<uint8_t> m = CompressedAnswer();
  dns::Message parsed;
  ASSERT_TRUE(dns::ParseMessage(m.data(), m.size(), false, &parsed));
  EXPECT_EQ(parsed.id, 0xabcd);
  EXPECT_TRUE(parsed.response);
  EXPECT_FALSE(parsed.truncated);
  EXPECT_EQ(parsed.rcode, dns::kNoError);
  ASSERT_EQ(parsed.questions.size(), 1u);
  EXPECT_EQ(parsed.questions[0].name, "www.example.test");
  ASSERT_EQ(parsed.answers.size(), 2u);
  EXPECT_EQ(parsed.answers[0].name, "www.example.test");
  EXPECT_EQ(parsed.answers[0].target, "web.example.test");
  EXPECT_EQ(parsed.answers[1].name, "web.example.test");
  EXPECT_EQ(parsed.answers[1].rdata, (std::vector<uint8_t>{192, 0, 2, 7}));
  EXPECT_TRUE(dns::AnswersQuery(parsed, 0xabcd, "WWW.example.TEST.",
                                dns::kTypeA, dns::kClassIn));
  EXPECT_FALSE(dns::AnswersQuery(parsed, 0xabce, "www.example.test",
                                 dns::kTypeA, dns::kClassIn));
  EXPECT_FALSE(dns::AnswersQuery(parsed, 0xabcd, "ww.example.test",
                                 dns::kTypeA, dns::kClassIn));
  EXPECT_FALSE(dns::AnswersQuery(parsed, 0xabcd, "www.example.test",
                                 dns::kTypeAaaa, dns::kClassIn));
}

TEST(DnsMessageTest, RefusesPointerLoopsAndForwardPointers) {
  size_t offset;
  std::string name;
  // A pointer to itself.
  std::vector<uint8_t> self = {0xc0, 0};
  offset = 0;
  EXPECT_FALSE(dns::ReadName(self.data(), self.size(), &offset, &name));
  // A forward pointer (to a valid name after it).
  std::vector<uint8_t> forward = {0xc0, 2, 1, 'a', 0};
  offset = 0;
  EXPECT_FALSE(dns::ReadName(forward.data(), forward.size(), &offset, &name));
  // Two pointers at each other: the second points forward.
  std::vector<uint8_t> pair = {0xc0, 2, 0xc0, 0};
  offset = 2;
  EXPECT_FALSE(dns::ReadName(pair.data(), pair.size(), &offset, &name));
  // A label followed by a pointer back to the label: a loop that only the
  // length limit ends.
  std::vector<uint8_t> cycle = {1, 'a', 0xc0, 0};
  offset = 0;
  EXPECT_FALSE(dns::ReadName(cycle.data(), cycle.size(), &offset, &name));
  // Reserved label types 0x40 and 0x80.
  for (uint8_t kind : {0x40, 0x80}) {
    std::vector<uint8_t> reserved = {kind, 'a', 0};
    offset = 0;
    EXPECT_FALSE(dns::ReadName(reserved.data(), reserved.size(), &offset, &name));
  }
  // A label running past the end.
  std::vector<uint8_t> overrun = {5, 'a', 'b'};
  offset = 0;
  EXPECT_FALSE(dns::ReadName(overrun.data(), overrun.size(), &offset, &name));
  // No root label.
  std::vector<uint8_t> open = {1, 'a'};
  offset = 0;
  EXPECT_FALSE(dns::ReadName(open.data(), open.size(), &offset, &name));
}

TEST(DnsMessageTest, RefusesEveryTruncation) {
  const std::vector<uint8_t> m = CompressedAnswer();
  dns::Message parsed;
  for (size_t len = 0; len < m.size(); ++len) {
    SCOPED_TRACE(len);
    std::vector<uint8_t> cut(m.begin(), m.begin() + len);
    EXPECT_FALSE(dns::ParseMessage(cut.data(), cut.size(), false, &parsed));
  }
  // The question alone is enough for questions_only.
  EXPECT_TRUE(dns::ParseMessage(m.data(), 34, true, &parsed));
  EXPECT_FALSE(dns::ParseMessage(m.data(), 33, true, &parsed));
  EXPECT_FALSE(dns::ParseMessage(nullptr, 0, true, &parsed));
}

TEST(DnsMessageTest, RefusesBadRecordData) {
  std::vector<uint8_t> m = CompressedAnswer();
  dns::Message parsed;
  // An A record of 3 bytes.
  std::vector<uint8_t> short_a = m;
  short_a[short_a.size() - 5] = 3;
  short_a.pop_back();
  EXPECT_FALSE(dns::ParseMessage(short_a.data(), short_a.size(), false, &parsed));
  // A CNAME whose name does not fill its data.
  std::vector<uint8_t> long_cname = m;
  long_cname[45] = 7;  // rdlength 6 -> 7: the name ends before the data.
  EXPECT_FALSE(
      dns::ParseMessage(long_cname.data(), long_cname.size(), false, &parsed));
  // More answers announced than present.
  std::vector<uint8_t> more = m;
  more[7] = 3;
  EXPECT_FALSE(dns::ParseMessage(more.data(), more.size(), false, &parsed));
  // Counts that cannot fit, refused without reading on.
  std::vector<uint8_t> huge = m;
  huge[6] = 0xff;
  huge[7] = 0xff;
  EXPECT_FALSE(dns::ParseMessage(huge.data(), huge.size(), false, &parsed));
}

// Random bytes, and random mutations of a good answer: never a crash, a
// read past the end (run it under ASan to see those) or an unbounded name.
TEST(DnsMessageTest, SurvivesRandomInput) {
  std::mt19937 rng(20240611);
  const std::vector<uint8_t> good = CompressedAnswer();
  int parsed_ok = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> m;
    if (i % 2 == 0) {
      m.resize(rng() % 600);
      for (uint8_t& b : m) b = static_cast<uint8_t>(rng());
      if (m.size() >= 12 && i % 4 == 0) {
        // Plausible counts so that the parser gets past the header.
        m[4] = 0;
        m[5] = 1;
        m[6] = 0;
        m[7] = static_cast<uint8_t>(rng() % 4);
        m[8] = m[9] = m[10] = m[11] = 0;
      }
    } else {
      m = good;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) {
        m[rng() % m.size()] = static_cast<uint8_t>(rng());
      }
      if (rng() % 3 == 0) m.resize(rng() % (m.size() + 1));
    }
    // Copied to an exact-size heap block, so that a read past the end
    // is a real overrun.
    std::unique_ptr<uint8_t[]> exact(new uint8_t[m.size() + 1]);
    std::copy(m.begin(), m.end(), exact.get());
    dns::Message parsed;
    for (bool questions_only : {false, true}) {
      if (dns::ParseMessage(exact.get(), m.size(), questions_only, &parsed)) {
        ++parsed_ok;
        for (const auto& q : parsed.questions) EXPECT_LE(q.name.size(), 4 * 255u);
        for (const auto& r : parsed.answers) {
          EXPECT_LE(r.name.size(), 4 * 255u);
          EXPECT_LE(r.target.size(), 4 * 255u);
        }
      }
    }
    size_t offset = m.empty() ? 0 : rng() % m.size();
    std::string name;
    if (dns::ReadName(exact.get(), m.size(), &offset, &name)) {
      EXPECT_LE(offset, m.size());
      EXPECT_LE(name.size(), 4 * 255u);
    }
  }
  EXPECT_GT(parsed_ok, 0);  // The mutations keep some answers valid.
}

TEST(DnsMessageTest, ReverseNames) {
  EXPECT_EQ(dns::ReverseName(AF_INET, V4("10.42.0.1").bytes.data()),
            "1.0.42.10.in-addr.arpa");
  EXPECT_EQ(dns::ReverseName(AF_INET6, V6("fd42::1").bytes.data()),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.4.d.f."
            "ip6.arpa");
}

// --- The hosts file --------------------------------------------------------

constexpr char kHosts[] =
    "# The usual.\n"
    "127.0.0.1\tlocalhost\n"
    "::1 localhost ip6-localhost ip6-loopback\n"
    "   \n"
    "10.0.0.1 Alpha.example alpha a1 # trailing comment\n"
    "10.0.0.2 alpha.example\n"
    "10.0.0.1 alpha.example\n"  // A duplicate address.
    "fd00::1 alpha.example beta\n"
    "not-an-address bogus.example\n"
    "10.0.0.9\n"  // No name.
    "10.0.0.3 #commented.example\n"
    "300.1.1.1 bad.example\n"
    "10.0.0.4 last.example";  // No final newline.

TEST(HostsTest, FindsAddressesOfEveryLine) {
  HostsMatch m;
  ASSERT_TRUE(LookupHostsByName(kHosts, "ALPHA.example.", true, true, &m));
  EXPECT_EQ(m.canonical, "Alpha.example");
  EXPECT_THAT(m.aliases, ElementsAre("alpha", "a1", "beta"));
  EXPECT_THAT(Texts(m.addresses), ElementsAre("10.0.0.1", "10.0.0.2", "fd00::1"));

  ASSERT_TRUE(LookupHostsByName(kHosts, "alpha.example", false, true, &m));
  EXPECT_THAT(Texts(m.addresses), ElementsAre("fd00::1"));
  ASSERT_TRUE(LookupHostsByName(kHosts, "a1", true, false, &m));
  EXPECT_THAT(Texts(m.addresses), ElementsAre("10.0.0.1"));
  EXPECT_FALSE(LookupHostsByName(kHosts, "a1", false, true, &m));

  ASSERT_TRUE(LookupHostsByName(kHosts, "localhost", true, true, &m));
  EXPECT_THAT(Texts(m.addresses), ElementsAre("127.0.0.1", "::1"));
  ASSERT_TRUE(LookupHostsByName(kHosts, "last.example", true, true, &m));
  EXPECT_THAT(Texts(m.addresses), ElementsAre("10.0.0.4"));

  for (const char* missing : {"bogus.example", "commented.example",
                              "bad.example", "10.0.0.9", "", "alph",
                              "alpha.example.com"}) {
    SCOPED_TRACE(missing);
    EXPECT_FALSE(LookupHostsByName(kHosts, missing, true, true, &m));
  }
  EXPECT_FALSE(LookupHostsByName("", "localhost", true, true, &m));
}

TEST(HostsTest, FindsNamesOfAddresses) {
  std::string name;
  ASSERT_TRUE(LookupHostsByAddress(kHosts, V4("10.0.0.1"), &name));
  EXPECT_EQ(name, "Alpha.example");
  ASSERT_TRUE(LookupHostsByAddress(kHosts, V6("::ffff:10.0.0.2"), &name));
  EXPECT_EQ(name, "alpha.example");
  ASSERT_TRUE(LookupHostsByAddress(kHosts, V6("fd00::1"), &name));
  EXPECT_EQ(name, "alpha.example");
  EXPECT_FALSE(LookupHostsByAddress(kHosts, V4("10.0.0.9"), &name));
  EXPECT_FALSE(LookupHostsByAddress(kHosts, V4("10.0.0.3"), &name));
  EXPECT_FALSE(LookupHostsByAddress(kHosts, V6("fd00::2"), &name));
}

// Random hosts files: no crash, answers only from lines that parse.
TEST(HostsTest, SurvivesRandomText) {
  std::mt19937 rng(7);
  const char alphabet[] = "0123456789abcdef.:# \t\nxyz-";
  int found = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string text(rng() % 300, ' ');
    for (char& c : text) c = alphabet[rng() % (sizeof(alphabet) - 1)];
    if (i % 2 == 0) text.insert(rng() % (text.size() + 1), "\n10.0.0.1 x\n");
    HostsMatch m;
    if (LookupHostsByName(text, "x", true, true, &m)) {
      ++found;
      EXPECT_FALSE(m.addresses.empty());
      EXPECT_FALSE(m.canonical.empty());
      // "x" stood alone on a line, outside a comment.
      bool alone = false;
      for (size_t at = text.find('x'); at != std::string::npos && !alone;
           at = text.find('x', at + 1)) {
        const bool before = at == 0 || text[at - 1] == ' ' || text[at - 1] == '\t';
        const bool after = at + 1 == text.size() || text[at + 1] == ' ' ||
                           text[at + 1] == '\t' || text[at + 1] == '\n' ||
                           text[at + 1] == '#';
        alone = before && after;
      }
      EXPECT_TRUE(alone) << text;
    }
    std::string name;
    LookupHostsByAddress(text, V4("1.2.3.4"), &name);
  }
  EXPECT_GE(found, 1000);  // At least the lines put in.
}

// --- Search list and order -------------------------------------------------

TEST(SearchTest, ExpandsLikeGlibcWithNdotsOne) {
  const std::vector<std::string> search = {"a.test", "b.test.", "a.test"};
  EXPECT_THAT(SearchCandidates("www", search, 1),
              ElementsAre("www.a.test", "www.b.test", "www"));
  EXPECT_THAT(SearchCandidates("www.x", search, 1),
              ElementsAre("www.x", "www.x.a.test", "www.x.b.test"));
  EXPECT_THAT(SearchCandidates("www.x", search, 2),
              ElementsAre("www.x.a.test", "www.x.b.test", "www.x"));
  EXPECT_THAT(SearchCandidates("www.", search, 1), ElementsAre("www"));
  EXPECT_THAT(SearchCandidates("www", {}, 1), ElementsAre("www"));
  EXPECT_THAT(SearchCandidates("", search, 1), IsEmpty());
  EXPECT_THAT(SearchCandidates(".", search, 1), IsEmpty());
  std::vector<std::string> many;
  for (int i = 0; i < 10; ++i) many.push_back("d" + std::to_string(i) + ".test");
  EXPECT_EQ(SearchCandidates("h", many, 1).size(), kMaxSearchDomains + 1);
}

TEST(OrderTest, PreferredFamilyFirstOrderKept) {
  std::vector<HostAddress> list = {V4("10.0.0.1"), V6("fd00::1"),
                                   V4("10.0.0.2"), V6("fd00::2")};
  OrderAddresses(true, &list);
  EXPECT_THAT(Texts(list),
              ElementsAre("fd00::1", "fd00::2", "10.0.0.1", "10.0.0.2"));
  OrderAddresses(false, &list);
  EXPECT_THAT(Texts(list),
              ElementsAre("10.0.0.1", "10.0.0.2", "fd00::1", "fd00::2"));
}

// --- Lookups through fake servers -----------------------------------------

TEST_F(ResolverTest, ResolvesBothFamiliesIpv6First) {
  transport_.zone.Add(A("www.example.test", "192.0.2.1"));
  transport_.zone.Add(A("www.example.test", "192.0.2.2"));
  transport_.zone.Add(Aaaa("www.example.test", "2001:db8::1"));
  Resolver r = MakeResolver();
  HostResult host;
  int error = 0;
  ASSERT_EQ(r.LookupHost("www.example.test", true, true, &host, &error),
            NameStatus::kFound);
  EXPECT_EQ(host.canonical, "www.example.test");
  EXPECT_THAT(Texts(host.addresses),
              ElementsAre("2001:db8::1", "192.0.2.1", "192.0.2.2"));
  EXPECT_EQ(transport_.udp_queries, 2);  // A and AAAA, first server.
  EXPECT_EQ(transport_.tcp_queries, 0);
  EXPECT_EQ(config_.gets, 1);  // Asked once per Resolver.

  config_.config.inet6 = false;  // A stack without IPv6: IPv4 first.
  Resolver v4 = MakeResolver();
  ASSERT_EQ(v4.LookupHost("www.example.test", true, true, &host, &error),
            NameStatus::kFound);
  EXPECT_THAT(Texts(host.addresses),
              ElementsAre("192.0.2.1", "192.0.2.2", "2001:db8::1"));
}

TEST_F(ResolverTest, FollowsCnamesAndSearchesShortNames) {
  transport_.zone.Add(Cname("alias.example.test", "real.example.test"));
  transport_.zone.Add(A("real.example.test", "192.0.2.9"));
  Resolver r = MakeResolver();
  HostResult host;
  int error = 0;
  ASSERT_EQ(r.LookupHost("alias", true, false, &host, &error),
            NameStatus::kFound);
  EXPECT_EQ(host.canonical, "real.example.test");
  EXPECT_THAT(host.aliases, ElementsAre("alias.example.test"));
  EXPECT_THAT(Texts(host.addresses), ElementsAre("192.0.2.9"));
}

TEST_F(ResolverTest, TruncatedAnswerIsAskedAgainOverTcp) {
  std::vector<std::string> expected;
  for (int i = 1; i <= 60; ++i) {
    const std::string ip = "10.43.0." + std::to_string(i);
    transport_.zone.Add(A("many.example.test", ip.c_str()));
    expected.push_back(ip);
  }
  Resolver r = MakeResolver();
  HostResult host;
  int error = 0;
  ASSERT_EQ(r.LookupHost("many.example.test", true, false, &host, &error),
            NameStatus::kFound);
  EXPECT_EQ(Texts(host.addresses), expected);
  EXPECT_EQ(transport_.tcp_queries, 1);
}

TEST_F(ResolverTest, HostsFileComesFirst) {
  transport_.zone.Add(A("filehost.example.test", "192.0.2.99"));
  Resolver r = MakeResolver();
  HostResult host;
  int error = 0;
  ASSERT_EQ(r.LookupHost("FileHost", true, true, &host, &error),
            NameStatus::kFound);
  EXPECT_EQ(host.canonical, "filehost.example.test");
  EXPECT_THAT(host.aliases, ElementsAre("filehost"));
  EXPECT_THAT(Texts(host.addresses), ElementsAre("10.9.9.9"));
  // Both lines name the full name; the stack serves IPv6: IPv6 first.
  ASSERT_EQ(r.LookupHost("filehost.example.test.", true, true, &host, &error),
            NameStatus::kFound);
  EXPECT_THAT(Texts(host.addresses), ElementsAre("fd09::9", "10.9.9.9"));
  EXPECT_EQ(transport_.udp_queries, 0);
}

TEST_F(ResolverTest, NamesThatDoNotExistOrHaveNoData) {
  transport_.zone.Add(A("v4only.example.test", "192.0.2.4"));
  Resolver r = MakeResolver();
  HostResult host;
  int error = 0;
  EXPECT_EQ(r.LookupHost("missing.example.test", true, true, &host, &error),
            NameStatus::kNotFound);
  // NXDOMAIN for A: AAAA is not asked. Two names searched: as it is, then
  // with the search domain.
  EXPECT_EQ(transport_.udp_queries, 2);
  EXPECT_EQ(r.LookupHost("v4only.example.test", false, true, &host, &error),
            NameStatus::kNoData);
  EXPECT_EQ(config_.refreshes, 0);
}

TEST_F(ResolverTest, SilentServersEndInTryAgainWithinTheAttempts) {
  transport_.behaviour[1] = Behaviour::kSilent;
  transport_.behaviour[2] = Behaviour::kUnreachable;
  transport_.zone.Add(A("www.example.test", "192.0.2.1"));
  Resolver r = MakeResolver();
  HostResult host;
  int error = 0;
  EXPECT_EQ(r.LookupHost("www", true, true, &host, &error),
            NameStatus::kTryAgain);
  // One question (A), 2 rounds over 2 servers; the search stops there.
  EXPECT_THAT(transport_.udp_servers, ElementsAre(1, 2, 1, 2));
  EXPECT_EQ(config_.refreshes, 1);
}

TEST_F(ResolverTest, ServerFailureTriesTheNextServer) {
  transport_.behaviour[1] = Behaviour::kServFail;
  transport_.zone.Add(A("www.example.test", "192.0.2.1"));
  Resolver r = MakeResolver();
  HostResult host;
  int error = 0;
  ASSERT_EQ(r.LookupHost("www.example.test", true, false, &host, &error),
            NameStatus::kFound);
  EXPECT_THAT(transport_.udp_servers, ElementsAre(1, 2));

  transport_.behaviour[2] = Behaviour::kServFail;
  transport_.udp_servers.clear();
  Resolver all_fail = MakeResolver();
  EXPECT_EQ(all_fail.LookupHost("www.example.test", true, false, &host, &error),
            NameStatus::kTryAgain);
  // A server that answered is not asked again; the search goes on after
  // SERVFAIL (www.example.test, then www.example.test.example.test).
  EXPECT_THAT(transport_.udp_servers, ElementsAre(1, 2, 1, 2));

  // REFUSED counts as SERVFAIL (glibc tries the next server for both);
  // FORMERR is final.
  transport_.behaviour[1] = Behaviour::kRefused;
  transport_.behaviour[2] = Behaviour::kAnswer;
  transport_.udp_servers.clear();
  Resolver refused = MakeResolver();
  EXPECT_EQ(refused.LookupHost("www.example.test", true, false, &host, &error),
            NameStatus::kFound);
  EXPECT_THAT(transport_.udp_servers, ElementsAre(1, 2));
  transport_.behaviour[2] = Behaviour::kRefused;
  Resolver all_refuse = MakeResolver();
  EXPECT_EQ(all_refuse.LookupHost("www.example.test", true, false, &host, &error),
            NameStatus::kTryAgain);
  transport_.behaviour[1] = transport_.behaviour[2] = Behaviour::kFormErr;
  Resolver formerr = MakeResolver();
  EXPECT_EQ(formerr.LookupHost("www.example.test", true, false, &host, &error),
            NameStatus::kNoRecovery);
}

TEST_F(ResolverTest, NoStackMeansTryAgainButHostsStillWork) {
  config_.error = ECONNREFUSED;
  Resolver r = MakeResolver();
  HostResult host;
  int error = 0;
  EXPECT_EQ(r.LookupHost("www.example.test", true, true, &host, &error),
            NameStatus::kTryAgain);
  EXPECT_EQ(r.LookupHost("localhost", true, true, &host, &error),
            NameStatus::kFound);
  config_.error = EMFILE;
  Resolver out_of_fds = MakeResolver();
  EXPECT_EQ(out_of_fds.LookupHost("www.example.test", true, true, &host, &error),
            NameStatus::kSystem);
  EXPECT_EQ(error, EMFILE);
}

TEST_F(ResolverTest, ReverseLookups) {
  transport_.zone.Add(Ptr("7.2.0.192.in-addr.arpa", "seven.example.test"));
  Resolver r = MakeResolver();
  std::string name;
  int error = 0;
  ASSERT_EQ(r.LookupAddress(V4("192.0.2.7"), &name, &error), NameStatus::kFound);
  EXPECT_EQ(name, "seven.example.test");
  ASSERT_EQ(r.LookupAddress(V6("::ffff:192.0.2.7"), &name, &error),
            NameStatus::kFound);
  EXPECT_EQ(name, "seven.example.test");
  ASSERT_EQ(r.LookupAddress(V4("10.9.9.9"), &name, &error), NameStatus::kFound);
  EXPECT_EQ(name, "filehost.example.test");  // From the hosts file.
  EXPECT_EQ(r.LookupAddress(V4("192.0.2.8"), &name, &error),
            NameStatus::kNotFound);
}

TEST_F(ResolverTest, RawQueries) {
  transport_.zone.Add(A("www.example.test", "192.0.2.1"));
  Resolver r = MakeResolver();
  std::vector<uint8_t> answer;
  int error = 0;
  ASSERT_EQ(r.Query("www.example.test", dns::kClassIn, dns::kTypeA, false,
                    &answer, &error),
            NameStatus::kFound);
  dns::Message m;
  ASSERT_TRUE(dns::ParseMessage(answer.data(), answer.size(), false, &m));
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].rdata, (std::vector<uint8_t>{192, 0, 2, 1}));
  // res_query does not search; res_search does.
  answer.clear();
  EXPECT_EQ(r.Query("www", dns::kClassIn, dns::kTypeA, false, &answer, &error),
            NameStatus::kNotFound);
  ASSERT_FALSE(answer.empty());  // The NXDOMAIN answer is there to read.
  ASSERT_TRUE(dns::ParseMessage(answer.data(), answer.size(), false, &m));
  EXPECT_EQ(m.rcode, dns::kNxDomain);
  EXPECT_EQ(r.Query("www", dns::kClassIn, dns::kTypeA, true, &answer, &error),
            NameStatus::kFound);
  EXPECT_EQ(r.Query("www", dns::kClassIn, dns::kTypeAaaa, true, &answer, &error),
            NameStatus::kNoData);
}

TEST_F(ResolverTest, ResQueryCopiesAndCutsTheAnswer) {
  transport_.zone.Add(A("www.example.test", "192.0.2.1"));
  Resolver r = MakeResolver();
  unsigned char buf[512];
  int h = 0;
  const int n = ResQuery(&r, "www.example.test", dns::kClassIn, dns::kTypeA,
                         false, buf, sizeof(buf), &h);
  ASSERT_GT(n, 12);
  EXPECT_EQ(buf[2] & 0x02, 0);
  unsigned char small[20];
  EXPECT_EQ(ResQuery(&r, "www.example.test", dns::kClassIn, dns::kTypeA, false,
                     small, sizeof(small), &h),
            20);
  EXPECT_NE(small[2] & 0x02, 0);  // TC: there was more.
  EXPECT_EQ(ResQuery(&r, "nope.example.test", dns::kClassIn, dns::kTypeA, false,
                     buf, sizeof(buf), &h),
            -1);
  EXPECT_EQ(h, HOST_NOT_FOUND);
  EXPECT_EQ(ResQuery(&r, "www.example.test", dns::kClassIn, dns::kTypeAaaa,
                     false, buf, sizeof(buf), &h),
            -1);
  EXPECT_EQ(h, NO_DATA);
  transport_.behaviour[1] = transport_.behaviour[2] = Behaviour::kSilent;
  Resolver silent = MakeResolver();
  EXPECT_EQ(ResQuery(&silent, "www.example.test", dns::kClassIn, dns::kTypeA,
                     false, buf, sizeof(buf), &h),
            -1);
  EXPECT_EQ(h, TRY_AGAIN);
  EXPECT_EQ(ResQuery(&silent, nullptr, 1, 1, false, buf, sizeof(buf), &h), -1);
  EXPECT_EQ(h, NETDB_INTERNAL);
}

// --- getaddrinfo -----------------------------------------------------------

// One result node, comparable.
struct Node {
  int flags, family, socktype, protocol;
  socklen_t addrlen;
  std::string address;
  int port;
  uint32_t scope;
  std::string canonname;
  bool operator<(const Node& o) const {
    return std::tie(family, socktype, protocol, address, port) <
           std::tie(o.family, o.socktype, o.protocol, o.address, o.port);
  }
  bool operator==(const Node& o) const {
    return std::tie(flags, family, socktype, protocol, addrlen, address, port,
                    scope, canonname) ==
           std::tie(o.flags, o.family, o.socktype, o.protocol, o.addrlen,
                    o.address, o.port, o.scope, o.canonname);
  }
};

std::ostream& operator<<(std::ostream& os, const Node& n) {
  return os << "{f" << n.flags << " " << n.family << "/" << n.socktype << "/"
            << n.protocol << " " << n.address << " port " << n.port << " %"
            << n.scope << " len " << n.addrlen << " canon '" << n.canonname
            << "'}";
}

std::vector<Node> Nodes(const addrinfo* ai) {
  std::vector<Node> out;
  for (; ai != nullptr; ai = ai->ai_next) {
    Node n{ai->ai_flags, ai->ai_family, ai->ai_socktype, ai->ai_protocol,
           ai->ai_addrlen, "", 0, 0,
           ai->ai_canonname != nullptr ? ai->ai_canonname : ""};
    char buf[INET6_ADDRSTRLEN] = "";
    if (ai->ai_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(ai->ai_addr);
      inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
      n.port = ntohs(in->sin_port);
    } else {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(ai->ai_addr);
      inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
      n.port = ntohs(in6->sin6_port);
      n.scope = in6->sin6_scope_id;
    }
    n.address = buf;
    out.push_back(n);
  }
  return out;
}

struct Hints {
  int flags, family, socktype, protocol;
};

// Our getaddrinfo and glibc's, on inputs that need no name service.
TEST_F(ResolverTest, GetAddrInfoMatchesGlibcWithoutNames) {
  const char* nodes[] = {"1.2.3.4", "127.1", "0x7f.1", "10", "::1",
                         "fd42::1", "::ffff:1.2.3.4", "fe80::1%1",
                         "2001:db8::1%7", "1.2.3.4.5", "1.2.3.",
                         "::1%", "1.2.3.4 ", "", "*", nullptr};
  const char* services[] = {nullptr, "", "80", "http", "domain", "70000",
                            " 80", "-1", "no-such-service", "0x10"};
  const Hints hint_sets[] = {
      {0, AF_UNSPEC, 0, 0},
      {AI_PASSIVE, AF_UNSPEC, 0, 0},
      {AI_CANONNAME, AF_UNSPEC, SOCK_STREAM, 0},
      {AI_NUMERICSERV, AF_UNSPEC, SOCK_DGRAM, 0},
      {0, AF_INET, 0, IPPROTO_UDP},
      {0, AF_INET6, SOCK_STREAM, 0},
      {AI_V4MAPPED, AF_INET6, 0, 0},
      {AI_V4MAPPED | AI_ALL, AF_INET6, SOCK_STREAM, 0},
      {0, AF_UNSPEC, SOCK_RAW, 0},
      {0, AF_UNSPEC, SOCK_SEQPACKET, 0},
      {0, AF_UNSPEC, 0, IPPROTO_SCTP},
      {0, AF_UNSPEC, 0, IPPROTO_ICMP},
      {0, AF_UNSPEC, SOCK_STREAM, IPPROTO_UDP},
      {0, AF_UNSPEC, 99, 0},
      {0, 99, 0, 0},
      {0x10000, AF_UNSPEC, 0, 0},
      {AI_CANONNAME | AI_PASSIVE, AF_INET, 0, 0},
  };
  int compared = 0;
  for (const Hints& h : hint_sets) {
    for (const char* node : nodes) {
      for (const char* service : services) {
        addrinfo hints{};
        // Numeric only: glibc must not ask anyone about a name.
        hints.ai_flags = h.flags | AI_NUMERICHOST;
        hints.ai_family = h.family;
        hints.ai_socktype = h.socktype;
        hints.ai_protocol = h.protocol;
        SCOPED_TRACE(testing::Message()
                     << "node " << (node ? node : "NULL") << " service "
                     << (service ? service : "NULL") << " flags " << h.flags
                     << " family " << h.family << " socktype " << h.socktype
                     << " protocol " << h.protocol);
        addrinfo* theirs = nullptr;
        const int their_rc = ::getaddrinfo(node, service, &hints, &theirs);
        Resolver r = MakeResolver();
        addrinfo* ours = nullptr;
        const int our_rc = GetAddrInfo(&r, node, service, &hints, &ours);
        EXPECT_EQ(our_rc, their_rc);
        if (our_rc == 0 && their_rc == 0) {
          std::vector<Node> a = Nodes(ours);
          std::vector<Node> b = Nodes(theirs);
          if (node == nullptr || std::string(node) == "*") {
            // Both families of the wildcard: glibc orders them by its own
            // (the kernel's) view; we by the stack's. Same set.
            std::sort(a.begin(), a.end());
            std::sort(b.begin(), b.end());
          }
          EXPECT_EQ(a, b);
          ++compared;
        }
        if (ours != nullptr) FreeAddrInfo(ours);
        if (theirs != nullptr) ::freeaddrinfo(theirs);
      }
    }
  }
  EXPECT_GT(compared, 100);
  EXPECT_EQ(transport_.udp_queries, 0);
}

TEST_F(ResolverTest, GetAddrInfoOfNames) {
  transport_.zone.Add(A("www.example.test", "192.0.2.1"));
  transport_.zone.Add(Aaaa("www.example.test", "2001:db8::1"));
  transport_.zone.Add(A("v4.example.test", "192.0.2.4"));
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_CANONNAME;
  addrinfo* res = nullptr;
  {
    Resolver r = MakeResolver();
    ASSERT_EQ(GetAddrInfo(&r, "www", "https", &hints, &res), 0);
    std::vector<Node> nodes = Nodes(res);
    ASSERT_EQ(nodes.size(), 2u);
    EXPECT_EQ(nodes[0].address, "2001:db8::1");
    EXPECT_EQ(nodes[0].port, 443);
    EXPECT_EQ(nodes[0].canonname, "www.example.test");
    EXPECT_EQ(nodes[1].address, "192.0.2.1");
    EXPECT_EQ(nodes[1].canonname, "");  // Only the first carries it.
    FreeAddrInfo(res);
  }
  {
    hints.ai_family = AF_INET;
    hints.ai_flags = 0;
    Resolver r = MakeResolver();
    ASSERT_EQ(GetAddrInfo(&r, "www.example.test", nullptr, &hints, &res), 0);
    EXPECT_EQ(Nodes(res).size(), 1u);
    EXPECT_EQ(Nodes(res)[0].address, "192.0.2.1");
    FreeAddrInfo(res);
  }
  {
    // V4MAPPED: AAAA when there is one, else mapped A; AI_ALL: both.
    hints.ai_family = AF_INET6;
    hints.ai_flags = AI_V4MAPPED;
    Resolver r = MakeResolver();
    ASSERT_EQ(GetAddrInfo(&r, "v4.example.test", nullptr, &hints, &res), 0);
    EXPECT_EQ(Nodes(res)[0].address, "::ffff:192.0.2.4");
    FreeAddrInfo(res);
    ASSERT_EQ(GetAddrInfo(&r, "www.example.test", nullptr, &hints, &res), 0);
    ASSERT_EQ(Nodes(res).size(), 1u);
    EXPECT_EQ(Nodes(res)[0].address, "2001:db8::1");
    FreeAddrInfo(res);
    hints.ai_flags = AI_V4MAPPED | AI_ALL;
    ASSERT_EQ(GetAddrInfo(&r, "www.example.test", nullptr, &hints, &res), 0);
    ASSERT_EQ(Nodes(res).size(), 2u);
    EXPECT_EQ(Nodes(res)[1].address, "::ffff:192.0.2.1");
    FreeAddrInfo(res);
    hints.ai_flags = 0;
    EXPECT_EQ(GetAddrInfo(&r, "v4.example.test", nullptr, &hints, &res),
              EAI_NONAME);
  }
}

TEST_F(ResolverTest, GetAddrInfoErrors) {
  transport_.zone.Add(A("www.example.test", "192.0.2.1"));
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  Resolver r = MakeResolver();
  EXPECT_EQ(GetAddrInfo(&r, "missing.example.test", "80", &hints, &res),
            EAI_NONAME);
  EXPECT_EQ(GetAddrInfo(&r, "www.example.test", "no-such-service", &hints, &res),
            EAI_SERVICE);
  EXPECT_EQ(GetAddrInfo(&r, nullptr, nullptr, &hints, &res), EAI_NONAME);
  hints.ai_flags = AI_CANONNAME;
  EXPECT_EQ(GetAddrInfo(&r, nullptr, "80", &hints, &res), EAI_BADFLAGS);
  hints.ai_flags = AI_NUMERICHOST;
  EXPECT_EQ(GetAddrInfo(&r, "www.example.test", "80", &hints, &res), EAI_NONAME);
  hints.ai_flags = 0;
  hints.ai_family = AF_PACKET;
  EXPECT_EQ(GetAddrInfo(&r, "www.example.test", "80", &hints, &res), EAI_FAMILY);

  transport_.behaviour[1] = transport_.behaviour[2] = Behaviour::kSilent;
  hints.ai_family = AF_UNSPEC;
  Resolver silent = MakeResolver();
  EXPECT_EQ(GetAddrInfo(&silent, "www.example.test", "80", &hints, &res),
            EAI_AGAIN);
  transport_.behaviour[1] = transport_.behaviour[2] = Behaviour::kRefused;
  Resolver refused = MakeResolver();
  EXPECT_EQ(GetAddrInfo(&refused, "www.example.test", "80", &hints, &res),
            EAI_AGAIN);  // As glibc.
  transport_.behaviour[1] = transport_.behaviour[2] = Behaviour::kFormErr;
  Resolver formerr = MakeResolver();
  EXPECT_EQ(GetAddrInfo(&formerr, "www.example.test", "80", &hints, &res),
            EAI_FAIL);
  config_.error = EMFILE;
  Resolver no_fds = MakeResolver();
  errno = 0;
  EXPECT_EQ(GetAddrInfo(&no_fds, "www.example.test", "80", &hints, &res),
            EAI_SYSTEM);
  EXPECT_EQ(errno, EMFILE);
}

TEST_F(ResolverTest, AddrConfigUsesTheStacksFamilies) {
  transport_.zone.Add(A("www.example.test", "192.0.2.1"));
  transport_.zone.Add(Aaaa("www.example.test", "2001:db8::1"));
  config_.config.inet6 = false;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* res = nullptr;
  Resolver r = MakeResolver();
  ASSERT_EQ(GetAddrInfo(&r, "www.example.test", "80", &hints, &res), 0);
  ASSERT_EQ(Nodes(res).size(), 1u);
  EXPECT_EQ(Nodes(res)[0].address, "192.0.2.1");
  FreeAddrInfo(res);
  hints.ai_family = AF_INET6;
  EXPECT_EQ(GetAddrInfo(&r, "www.example.test", "80", &hints, &res),
            EAI_NONAME);
  hints.ai_flags = 0;  // Without AI_ADDRCONFIG the family is not checked.
  ASSERT_EQ(GetAddrInfo(&r, "www.example.test", "80", &hints, &res), 0);
  EXPECT_EQ(Nodes(res)[0].address, "2001:db8::1");
  FreeAddrInfo(res);
  // The wildcard: IPv4 first on a stack without IPv6... then IPv6 first.
  hints.ai_family = AF_UNSPEC;
  hints.ai_flags = AI_PASSIVE;
  ASSERT_EQ(GetAddrInfo(&r, nullptr, "80", &hints, &res), 0);
  EXPECT_EQ(Nodes(res)[0].address, "0.0.0.0");
  FreeAddrInfo(res);
  config_.config.inet6 = true;
  Resolver both = MakeResolver();
  ASSERT_EQ(GetAddrInfo(&both, nullptr, "80", &hints, &res), 0);
  EXPECT_EQ(Nodes(res)[0].address, "::");
  FreeAddrInfo(res);
}

TEST(FreeAddrInfoTest, FreesGlibcLists) {
  addrinfo* res = nullptr;
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_CANONNAME;
  ASSERT_EQ(::getaddrinfo("10.1.2.3", "80", &hints, &res), 0);
  FreeAddrInfo(res);  // A leak or a double free would show under ASan.
  FreeAddrInfo(nullptr);
}

// --- getnameinfo -----------------------------------------------------------

sockaddr_in6 Sin6(const char* ip, uint16_t port, uint32_t scope = 0) {
  sockaddr_in6 s{};
  s.sin6_family = AF_INET6;
  s.sin6_port = htons(port);
  s.sin6_scope_id = scope;
  inet_pton(AF_INET6, ip, &s.sin6_addr);
  return s;
}

sockaddr_in Sin(const char* ip, uint16_t port) {
  sockaddr_in s{};
  s.sin_family = AF_INET;
  s.sin_port = htons(port);
  inet_pton(AF_INET, ip, &s.sin_addr);
  return s;
}

TEST_F(ResolverTest, GetNameInfoMatchesGlibcForNumbers) {
  const sockaddr_in v4 = Sin("192.0.2.1", 80);
  const sockaddr_in6 v6 = Sin6("2001:db8::1", 53);
  const sockaddr_in6 scoped = Sin6("2001:db8::2", 5353, 7);
  const sockaddr_in unknown_port = Sin("192.0.2.1", 1);
  const std::pair<const sockaddr*, socklen_t> addresses[] = {
      {reinterpret_cast<const sockaddr*>(&v4), sizeof(v4)},
      {reinterpret_cast<const sockaddr*>(&v6), sizeof(v6)},
      {reinterpret_cast<const sockaddr*>(&scoped), sizeof(scoped)},
      {reinterpret_cast<const sockaddr*>(&unknown_port), sizeof(unknown_port)},
      {reinterpret_cast<const sockaddr*>(&v4), sizeof(v4) - 1},
      {reinterpret_cast<const sockaddr*>(&v6), sizeof(sockaddr_in)},
  };
  const int flag_sets[] = {NI_NUMERICHOST,
                           NI_NUMERICHOST | NI_NUMERICSERV,
                           NI_NUMERICHOST | NI_DGRAM,
                           NI_NUMERICHOST | 0x1000};
  const socklen_t lengths[] = {0, 4, 8, 16, NI_MAXHOST};
  for (const auto& [sa, salen] : addresses) {
    for (int flags : flag_sets) {
      for (socklen_t hostlen : lengths) {
        for (socklen_t servlen : {socklen_t{0}, socklen_t{2}, socklen_t{32}}) {
          SCOPED_TRACE(testing::Message() << "family " << sa->sa_family << " len "
                                          << salen << " flags " << flags
                                          << " hostlen " << hostlen
                                          << " servlen " << servlen);
          char host_a[NI_MAXHOST] = "", serv_a[32] = "";
          char host_b[NI_MAXHOST] = "", serv_b[32] = "";
          Resolver r = MakeResolver();
          const int ours = GetNameInfo(&r, sa, salen, host_a, hostlen, serv_a,
                                       servlen, flags);
          const int theirs = ::getnameinfo(sa, salen, host_b, hostlen, serv_b,
                                           servlen, flags);
          EXPECT_EQ(ours, theirs);
          if (ours == 0 && theirs == 0) {
            EXPECT_STREQ(host_a, host_b);
            EXPECT_STREQ(serv_a, serv_b);
          }
        }
      }
    }
  }
  EXPECT_EQ(transport_.udp_queries, 0);
}

TEST_F(ResolverTest, GetNameInfoLooksNamesUp) {
  transport_.zone.Add(Ptr("1.2.0.192.in-addr.arpa", "one.example.test"));
  transport_.zone.Add(Ptr(dns::ReverseName(AF_INET6, V6("2001:db8::1").bytes.data()),
                          "six.example.test"));
  const sockaddr_in one = Sin("192.0.2.1", 80);
  const sockaddr_in6 six = Sin6("2001:db8::1", 22);
  const sockaddr_in nobody = Sin("192.0.2.200", 80);
  char host[NI_MAXHOST];
  char serv[NI_MAXSERV];
  Resolver r = MakeResolver();
  ASSERT_EQ(GetNameInfo(&r, reinterpret_cast<const sockaddr*>(&one), sizeof(one),
                        host, sizeof(host), serv, sizeof(serv), 0),
            0);
  EXPECT_STREQ(host, "one.example.test");
  EXPECT_STREQ(serv, "http");
  ASSERT_EQ(GetNameInfo(&r, reinterpret_cast<const sockaddr*>(&six), sizeof(six),
                        host, sizeof(host), serv, sizeof(serv), NI_NAMEREQD),
            0);
  EXPECT_STREQ(host, "six.example.test");
  EXPECT_STREQ(serv, "ssh");
  ASSERT_EQ(GetNameInfo(&r, reinterpret_cast<const sockaddr*>(&one), sizeof(one),
                        host, sizeof(host), nullptr, 0, NI_NOFQDN),
            0);
  EXPECT_STREQ(host, "one");  // The stack's first search domain is local.
  EXPECT_EQ(GetNameInfo(&r, reinterpret_cast<const sockaddr*>(&one), sizeof(one),
                        host, 8, nullptr, 0, 0),
            EAI_OVERFLOW);
  ASSERT_EQ(GetNameInfo(&r, reinterpret_cast<const sockaddr*>(&nobody),
                        sizeof(nobody), host, sizeof(host), nullptr, 0, 0),
            0);
  EXPECT_STREQ(host, "192.0.2.200");
  EXPECT_EQ(GetNameInfo(&r, reinterpret_cast<const sockaddr*>(&nobody),
                        sizeof(nobody), host, sizeof(host), nullptr, 0,
                        NI_NAMEREQD),
            EAI_NONAME);
  transport_.behaviour[1] = transport_.behaviour[2] = Behaviour::kSilent;
  Resolver silent = MakeResolver();
  EXPECT_EQ(GetNameInfo(&silent, reinterpret_cast<const sockaddr*>(&nobody),
                        sizeof(nobody), host, sizeof(host), nullptr, 0, 0),
            EAI_AGAIN);
}

// --- gethostbyname ---------------------------------------------------------

TEST_F(ResolverTest, GetHostByName) {
  transport_.zone.Add(Cname("www.example.test", "web.example.test"));
  transport_.zone.Add(A("web.example.test", "192.0.2.1"));
  transport_.zone.Add(A("web.example.test", "192.0.2.2"));
  transport_.zone.Add(Aaaa("web.example.test", "2001:db8::1"));
  transport_.zone.Add(A("v4.example.test", "192.0.2.4"));
  hostent ret;
  hostent* result = nullptr;
  char buf[2048];
  int h = -7;
  Resolver r = MakeResolver();
  ASSERT_EQ(GetHostByName(&r, "www", AF_INET, &ret, buf, sizeof(buf), &result,
                          &h),
            0);
  ASSERT_EQ(result, &ret);
  EXPECT_STREQ(ret.h_name, "web.example.test");
  ASSERT_NE(ret.h_aliases[0], nullptr);
  EXPECT_STREQ(ret.h_aliases[0], "www.example.test");
  EXPECT_EQ(ret.h_aliases[1], nullptr);
  EXPECT_EQ(ret.h_addrtype, AF_INET);
  EXPECT_EQ(ret.h_length, 4);
  ASSERT_NE(ret.h_addr_list[1], nullptr);
  EXPECT_EQ(ret.h_addr_list[2], nullptr);
  EXPECT_EQ(std::memcmp(ret.h_addr_list[1], V4("192.0.2.2").bytes.data(), 4), 0);

  ASSERT_EQ(GetHostByName(&r, "web.example.test", AF_INET6, &ret, buf,
                          sizeof(buf), &result, &h),
            0);
  EXPECT_EQ(ret.h_length, 16);
  EXPECT_EQ(std::memcmp(ret.h_addr_list[0], V6("2001:db8::1").bytes.data(), 16),
            0);

  // Numbers, as glibc: the family must fit, and digits-and-dots that do not
  // parse are not a name.
  ASSERT_EQ(GetHostByName(&r, "127.1", AF_INET, &ret, buf, sizeof(buf), &result,
                          &h),
            0);
  EXPECT_STREQ(ret.h_name, "127.1");
  EXPECT_EQ(GetHostByName(&r, "1.2.3.4", AF_INET6, &ret, buf, sizeof(buf),
                          &result, &h),
            0);
  EXPECT_EQ(result, nullptr);
  EXPECT_EQ(h, HOST_NOT_FOUND);
  EXPECT_EQ(GetHostByName(&r, "::1", AF_INET, &ret, buf, sizeof(buf), &result,
                          &h),
            0);
  EXPECT_EQ(h, HOST_NOT_FOUND);
  EXPECT_EQ(GetHostByName(&r, "1.2.3.4.5", AF_INET, &ret, buf, sizeof(buf),
                          &result, &h),
            0);
  EXPECT_EQ(h, HOST_NOT_FOUND);

  EXPECT_EQ(GetHostByName(&r, "missing.example.test", AF_INET, &ret, buf,
                          sizeof(buf), &result, &h),
            0);
  EXPECT_EQ(result, nullptr);
  EXPECT_EQ(h, HOST_NOT_FOUND);
  EXPECT_EQ(GetHostByName(&r, "v4.example.test", AF_INET6, &ret, buf,
                          sizeof(buf), &result, &h),
            0);
  EXPECT_EQ(h, NO_DATA);
  char tiny[16];
  EXPECT_EQ(GetHostByName(&r, "www", AF_INET, &ret, tiny, sizeof(tiny), &result,
                          &h),
            ERANGE);
  EXPECT_EQ(h, NETDB_INTERNAL);
  EXPECT_EQ(result, nullptr);
  EXPECT_EQ(GetHostByName(&r, "www", AF_PACKET, &ret, buf, sizeof(buf), &result,
                          &h),
            EAFNOSUPPORT);
  transport_.behaviour[1] = transport_.behaviour[2] = Behaviour::kSilent;
  Resolver silent = MakeResolver();
  EXPECT_EQ(GetHostByName(&silent, "www", AF_INET, &ret, buf, sizeof(buf),
                          &result, &h),
            EAGAIN);
  EXPECT_EQ(h, TRY_AGAIN);
}

TEST_F(ResolverTest, GetHostByNameFromHostsFile) {
  hostent ret;
  hostent* result = nullptr;
  char buf[1024];
  int h = 0;
  Resolver r = MakeResolver();
  ASSERT_EQ(GetHostByName(&r, "filehost", AF_INET, &ret, buf, sizeof(buf),
                          &result, &h),
            0);
  ASSERT_NE(result, nullptr);
  EXPECT_STREQ(ret.h_name, "filehost.example.test");
  EXPECT_STREQ(ret.h_aliases[0], "filehost");
  EXPECT_EQ(transport_.udp_queries, 0);
}

}  // namespace
}  // namespace stackd::client
