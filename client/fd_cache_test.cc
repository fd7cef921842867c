#include "client/fd_cache.h"

#include <gtest/gtest.h>

namespace stackd::client {
namespace {

TEST(FdCacheTest, KnowsOnlyWhatItWasTold) {
  EXPECT_FALSE(KnownNotDatagram(5));
  RememberNotDatagram(5);
  EXPECT_TRUE(KnownNotDatagram(5));
  EXPECT_FALSE(KnownNotDatagram(4));
  EXPECT_FALSE(KnownNotDatagram(6));
  ForgetFd(5);
  EXPECT_FALSE(KnownNotDatagram(5));
}

TEST(FdCacheTest, FdsOutsideTheCacheAreNeverKnown) {
  RememberNotDatagram(-1);
  RememberNotDatagram(kCachedFds);
  EXPECT_FALSE(KnownNotDatagram(-1));
  EXPECT_FALSE(KnownNotDatagram(kCachedFds));
  ForgetFd(-1);
  ForgetFd(kCachedFds);
}

TEST(FdCacheTest, ForgetsRanges) {
  for (int fd = 60; fd < 300; ++fd) RememberNotDatagram(fd);
  ForgetFds(63, 200);
  EXPECT_TRUE(KnownNotDatagram(62));
  for (int fd = 63; fd <= 200; ++fd) EXPECT_FALSE(KnownNotDatagram(fd)) << fd;
  EXPECT_TRUE(KnownNotDatagram(201));
  ForgetFds(250, ~0u);  // close_range(250, ~0U): to the end.
  EXPECT_TRUE(KnownNotDatagram(249));
  EXPECT_FALSE(KnownNotDatagram(299));
  ForgetFds(300, 10);  // first > last: nothing.
  EXPECT_TRUE(KnownNotDatagram(249));
  ForgetFds(0, ~0u);
  EXPECT_FALSE(KnownNotDatagram(62));
}

}  // namespace
}  // namespace stackd::client
