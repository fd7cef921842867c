#include "client/stack_name.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace stackd::client {
namespace {

// An abstract address whose name (after the leading NUL) is `name`.
socklen_t Abstract(const std::string& name, sockaddr_un* addr) {
  *addr = sockaddr_un{};
  addr->sun_family = AF_UNIX;
  std::memcpy(addr->sun_path + 1, name.data(), name.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 +
                                name.size());
}

TEST(ParseStackName, Ours) {
  sockaddr_un addr;
  StackName out;
  ASSERT_TRUE(
      ParseStackName(addr, Abstract("stackd/12//dev/net/x", &addr), &out));
  EXPECT_EQ(out.id, 12u);
  EXPECT_STREQ(out.path, "/dev/net/x");
}

TEST(ParseStackName, LargestIdAndRelativePath) {
  sockaddr_un addr;
  StackName out;
  ASSERT_TRUE(ParseStackName(
      addr, Abstract("stackd/18446744073709551615/net", &addr), &out));
  EXPECT_EQ(out.id, UINT64_MAX);
  EXPECT_STREQ(out.path, "net");
}

TEST(ParseStackName, NotOurs) {
  sockaddr_un addr;
  StackName out;
  for (const char* name :
       {"stackd", "stackd/", "stackd/12", "stackd/12/", "stackd//dev/x",
        "stackd/x1//dev/x", "stackd/-1//dev/x", "stackd/1a//dev/x",
        "Stackd/1//dev/x", "other/1//dev/x", "stackd/18446744073709551616/p",
        "stackd/123456789012345678901/p"}) {
    EXPECT_FALSE(ParseStackName(addr, Abstract(name, &addr), &out)) << name;
  }
  // A NUL inside the path.
  EXPECT_FALSE(ParseStackName(
      addr, Abstract(std::string("stackd/1//dev\0x", 15), &addr), &out));
}

TEST(ParseStackName, PathnameAndUnnamedAreNotOurs) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, "stackd/1//dev/net/x");
  StackName out;
  EXPECT_FALSE(ParseStackName(
      addr, offsetof(sockaddr_un, sun_path) + std::strlen(addr.sun_path) + 1,
      &out));
  EXPECT_FALSE(ParseStackName(addr, sizeof(sa_family_t), &out));
  EXPECT_FALSE(ParseStackName(addr, 0, &out));
}

TEST(ParseStackName, OtherFamilyIsNotOurs) {
  sockaddr_un addr;
  const socklen_t len = Abstract("stackd/1//dev/net/x", &addr);
  addr.sun_family = AF_INET;
  StackName out;
  EXPECT_FALSE(ParseStackName(addr, len, &out));
}

TEST(FindStack, SocketPairEndBoundToTheName) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  sockaddr_un addr;
  const std::string name =
      "stackd/77//tmp/find-stack-" + std::to_string(getpid());
  ASSERT_EQ(
      bind(sv[0], reinterpret_cast<sockaddr*>(&addr), Abstract(name, &addr)),
      0);
  StackName out;
  errno = 1234;
  ASSERT_TRUE(FindStack(sv[1], &out));
  EXPECT_EQ(errno, 1234);
  EXPECT_EQ(out.id, 77u);
  EXPECT_EQ(std::string(out.path),
            "/tmp/find-stack-" + std::to_string(getpid()));
  // stackd's own end has an unnamed peer; and a closed stack end still
  // names the stack (the peer's address outlives it).
  EXPECT_FALSE(FindStack(sv[0], &out));
  close(sv[0]);
  EXPECT_TRUE(FindStack(sv[1], &out));
  close(sv[1]);
}

TEST(FindStack, OtherFdsAreNotStackSockets) {
  StackName out;
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  errno = 0;
  EXPECT_FALSE(FindStack(pipe_fds[0], &out));
  EXPECT_EQ(errno, 0);
  close(pipe_fds[0]);
  close(pipe_fds[1]);
  EXPECT_FALSE(FindStack(-1, &out));
  int s = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(s, 0);
  EXPECT_FALSE(FindStack(s, &out));
  close(s);
}

}  // namespace
}  // namespace stackd::client
