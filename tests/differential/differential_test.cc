// The differential harness: every case of tests/differential/*_cases.cc runs
// on kernel sockets and on stack sockets, and the two records must be
// equal. A case stackd is known to fail (known_differences.cc) is reported
// as skipped with its reason while it differs, and fails once it matches,
// so the list only shrinks.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/differential/case.h"
#include "tests/testbed.h"

namespace stackd::differential {
namespace {

// One test bed for every case, made by the first and removed by
// BedEnvironment at the end. A bed that cannot be made fails every case.
// Ping sockets are allowed to every group on both sides: the kernel's
// (the bed's namespace's net.ipv4.ping_group_range) and stackd's.
constexpr char kPingGroupRange[] = "0 2147483647";

testbed::Testbed* Bed() {
  static testbed::Testbed* bed = [] {
    testbed::Testbed::Options options;
    options.extra_stackd_flags = {"--ping-group-range=0-2147483647"};
    auto made = testbed::Testbed::Create(options);
    if (!made.ok()) {
      fprintf(stderr, "test bed: %s\n", made.status().ToString().c_str());
      return static_cast<testbed::Testbed*>(nullptr);
    }
    const testbed::CommandResult set = (*made)->Run(
        absl::StrCat("sysctl -qw net.ipv4.ping_group_range='", kPingGroupRange, "'"));
    if (set.exit_code != 0) {
      fprintf(stderr, "test bed: ping_group_range: %s\n", set.err.c_str());
      return static_cast<testbed::Testbed*>(nullptr);
    }
    return made->release();
  }();
  return bed;
}

// Removes the test bed when the program ends.
class BedEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { delete Bed(); }
};

const std::vector<Case>& AllCases() {
  static const std::vector<Case>* cases = [] {
    auto* v = new std::vector<Case>;
    AddOptionCases(*v);
    AddTcpCases(*v);
    AddListenerCases(*v);
    AddUdpCases(*v);
    return v;
  }();
  return *cases;
}

struct Param {
  size_t index;  // into AllCases()
  Ip ip;
  WorldKind world;

  std::string Id() const {
    const Case& c = AllCases()[index];
    return absl::StrCat(c.name, "/", IpName(ip), "/",
                        c.peer ? WorldName(world) : "stack");
  }
};

std::vector<Param> AllParams() {
  std::vector<Param> params;
  const auto& cases = AllCases();
  for (size_t i = 0; i < cases.size(); ++i) {
    for (Ip ip : cases[i].ips) {
      params.push_back({i, ip, WorldKind::kStackTap});
      if (cases[i].peer && !cases[i].kernel_peer) {
        params.push_back({i, ip, WorldKind::kStackLoopback});
      }
    }
  }
  return params;
}

std::string RunIn(WorldKind kind, const Case& c, Ip ip) {
  // Every wait in a case is bounded; a case that still hangs (a bug of the
  // harness or a call that blocks where it must not) kills the test
  // program with SIGALRM rather than the CI job with its timeout.
  alarm(60);
  std::string record_text;
  {
    World world(kind, *Bed());
    Record record;
    c.run(world, ip, record);
    record_text = record.ToString();
  }
  alarm(0);
  return record_text;
}

// Linux's record of a case, made once for both stack worlds.
const std::string& KernelRecord(const Case& c, Ip ip) {
  static auto* records = new std::map<std::string, std::string>;
  const std::string key = absl::StrCat(c.name, "/", IpName(ip));
  auto it = records->find(key);
  if (it == records->end()) {
    it = records->emplace(key, RunIn(WorldKind::kKernel, c, ip)).first;
  }
  return it->second;
}

class Differential : public ::testing::TestWithParam<Param> {};

TEST_P(Differential, MatchesLinux) {
  ASSERT_NE(Bed(), nullptr);
  const Param& p = GetParam();
  const Case& c = AllCases()[p.index];
  const std::string& linux_record = KernelRecord(c, p.ip);
  const std::string stack_record = RunIn(p.world, c, p.ip);
  const std::string id = p.Id();
  // DIFFERENTIAL_DUMP=FILE appends both records of every case to FILE, for
  // a person reading what Linux does.
  if (const char* dump = getenv("DIFFERENTIAL_DUMP")) {
    if (FILE* f = fopen(dump, "a")) {
      fprintf(f, "== %s\n-- linux\n%s-- stackd\n%s", id.c_str(),
              linux_record.c_str(), stack_record.c_str());
      fclose(f);
    }
  }
  const char* known = KnownDifference(id);
  if (known != nullptr) {
    ASSERT_NE(linux_record, stack_record)
        << id << " matches Linux now: remove it from known_differences.cc ("
        << known << ")";
    GTEST_SKIP() << "known difference: " << known << "\nLinux:\n"
                 << linux_record << "stackd:\n"
                 << stack_record;
  }
  EXPECT_EQ(linux_record, stack_record) << id;
}

std::string ParamName(const ::testing::TestParamInfo<Param>& info) {
  std::string name = info.param.Id();
  for (char& ch : name) {
    if (ch == '/') ch = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Cases, Differential, ::testing::ValuesIn(AllParams()),
                         ParamName);

}  // namespace
}  // namespace stackd::differential

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(
      new stackd::differential::BedEnvironment);
  return RUN_ALL_TESTS();
}
