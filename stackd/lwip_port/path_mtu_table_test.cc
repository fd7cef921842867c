#include "stackd/lwip_port/path_mtu_table.h"

#include <gtest/gtest.h>

namespace stackd {
namespace {

constexpr uint32_t kLifetime = 600'000;

TEST(PathMtuTableTest, KnowsNothingUntilTold) {
  PathMtuTable table(4, kLifetime);
  EXPECT_EQ(table.Find(1, 0), std::nullopt);
}

TEST(PathMtuTableTest, AnMtuOnlyFalls) {
  PathMtuTable table(4, kLifetime);
  table.Learn(1, 1400, 0);
  EXPECT_EQ(table.Find(1, 10), 1400);
  table.Learn(1, 1500, 20);
  EXPECT_EQ(table.Find(1, 30), 1400) << "a higher report is ignored";
  table.Learn(1, 1280, 40);
  EXPECT_EQ(table.Find(1, 50), 1280);
  EXPECT_EQ(table.Find(2, 50), std::nullopt) << "per destination";
}

TEST(PathMtuTableTest, ExpiresAfterItsLifetimeFromTheLastFall) {
  PathMtuTable table(4, kLifetime);
  table.Learn(1, 1400, 1000);
  table.Learn(1, 1300, 5000);  // Starts the lifetime again.
  EXPECT_EQ(table.Find(1, 5000 + kLifetime - 1), 1300);
  EXPECT_EQ(table.Find(1, 5000 + kLifetime), std::nullopt);
  EXPECT_EQ(table.size(), 0u);
  // After expiry any report counts again, a higher one too.
  table.Learn(1, 1500, 5000 + kLifetime + 1);
  EXPECT_EQ(table.Find(1, 5000 + kLifetime + 2), 1500);
}

TEST(PathMtuTableTest, SurvivesTheClockWrapping) {
  PathMtuTable table(4, kLifetime);
  const uint32_t before_wrap = 0xffffffffu - 1000;
  table.Learn(1, 1400, before_wrap);
  EXPECT_EQ(table.Find(1, 5000), 1400);  // 6 s later, after the wrap.
  EXPECT_EQ(table.Find(1, kLifetime - 1000), std::nullopt);
}

TEST(PathMtuTableTest, WhenFullTheFirstLearnedMakesRoom) {
  PathMtuTable table(3, kLifetime);
  table.Learn(1, 1400, 100);
  table.Learn(2, 1400, 200);
  table.Learn(3, 1400, 300);
  table.Learn(4, 1400, 400);
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.Find(1, 500), std::nullopt);
  EXPECT_EQ(table.Find(2, 500), 1400);
  EXPECT_EQ(table.Find(4, 500), 1400);
}

TEST(PathMtuTableTest, WhenFullExpiredEntriesGoFirst) {
  PathMtuTable table(3, kLifetime);
  table.Learn(1, 1400, 0);
  table.Learn(2, 1400, kLifetime / 2);
  table.Learn(3, 1400, kLifetime / 2);
  table.Learn(4, 1400, kLifetime + 1);  // 1 has expired.
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.Find(2, kLifetime + 2), 1400);
  EXPECT_EQ(table.Find(3, kLifetime + 2), 1400);
  EXPECT_EQ(table.Find(4, kLifetime + 2), 1400);
}

TEST(PathMtuTableTest, ZeroCapacityKeepsNothing) {
  PathMtuTable table(0, kLifetime);
  table.Learn(1, 1400, 0);
  EXPECT_EQ(table.Find(1, 1), std::nullopt);
}

}  // namespace
}  // namespace stackd
