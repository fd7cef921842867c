#include "stackd/control/path_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace stackd {
namespace {

sockaddr_un Address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

// Connects a client to `path`; returns the connect() errno, 0 on success.
int ConnectError(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  const sockaddr_un addr = Address(path);
  const int rc =
      connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int err = rc == 0 ? 0 : errno;
  close(fd);
  return err;
}

class PathSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Not TEST_TMPDIR: Bazel's is too long for sun_path.
    char dir[] = "/tmp/stackd-pathsock-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr) << std::strerror(errno);
    dir_ = dir;
    path_ = dir_ + "/stack";
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  std::string path_;
};

TEST_F(PathSocketTest, FreshBindListensWithMode0660WhateverTheUmask) {
  for (const mode_t mask : {0000, 0077}) {
    const mode_t old_mask = umask(mask);
    absl::StatusOr<PathSocket> sock = PathSocket::Listen(path_);
    umask(old_mask);
    ASSERT_TRUE(sock.ok()) << sock.status();
    EXPECT_EQ(sock->path(), path_);

    struct stat st {};
    ASSERT_EQ(lstat(path_.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0660) << "umask " << mask;
    EXPECT_NE(fcntl(sock->fd(), F_GETFL) & O_NONBLOCK, 0);
    EXPECT_NE(fcntl(sock->fd(), F_GETFD) & FD_CLOEXEC, 0);

    EXPECT_EQ(ConnectError(path_), 0);
    const int conn = accept4(sock->fd(), nullptr, nullptr, SOCK_CLOEXEC);
    EXPECT_GE(conn, 0) << std::strerror(errno);
    if (conn >= 0) close(conn);
  }
}

TEST_F(PathSocketTest, LiveSocketIsFailedPreconditionAndKept) {
  absl::StatusOr<PathSocket> first = PathSocket::Listen(path_);
  ASSERT_TRUE(first.ok()) << first.status();
  struct stat before {};
  ASSERT_EQ(lstat(path_.c_str(), &before), 0);

  absl::StatusOr<PathSocket> second = PathSocket::Listen(path_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);

  struct stat after {};
  ASSERT_EQ(lstat(path_.c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_EQ(ConnectError(path_), 0);
}

TEST_F(PathSocketTest, StaleSocketIsReplaced) {
  // What a crashed stackd leaves: a bound socket file with no listener.
  const int dead = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  const sockaddr_un addr = Address(path_);
  ASSERT_EQ(bind(dead, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)),
            0);
  close(dead);
  ASSERT_EQ(ConnectError(path_), ECONNREFUSED);

  absl::StatusOr<PathSocket> sock = PathSocket::Listen(path_);
  ASSERT_TRUE(sock.ok()) << sock.status();
  EXPECT_EQ(ConnectError(path_), 0);
}

TEST_F(PathSocketTest, RegularFileIsFailedPreconditionAndKept) {
  std::ofstream(path_) << "not a socket";
  EXPECT_EQ(PathSocket::Listen(path_).status().code(),
            absl::StatusCode::kFailedPrecondition);
  struct stat st {};
  ASSERT_EQ(lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST_F(PathSocketTest, MissingDirectoryIsNotFound) {
  const std::string missing = dir_ + "/missing";
  absl::StatusOr<PathSocket> sock = PathSocket::Listen(missing + "/stack");
  EXPECT_EQ(sock.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(sock.status().message(), missing));
}

TEST_F(PathSocketTest, BadPathIsInvalidArgument) {
  EXPECT_EQ(PathSocket::Listen("").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PathSocket::Listen(dir_ + "/" + std::string(108, 'x'))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PathSocketTest, DestructorRemovesTheFile) {
  {
    absl::StatusOr<PathSocket> sock = PathSocket::Listen(path_);
    ASSERT_TRUE(sock.ok()) << sock.status();
  }
  struct stat st {};
  EXPECT_EQ(lstat(path_.c_str(), &st), -1);
  EXPECT_EQ(errno, ENOENT);
}

TEST_F(PathSocketTest, DestructorKeepsAFileThatReplacedOurs) {
  {
    absl::StatusOr<PathSocket> sock = PathSocket::Listen(path_);
    ASSERT_TRUE(sock.ok()) << sock.status();
    ASSERT_EQ(unlink(path_.c_str()), 0);
    std::ofstream(path_) << "someone else's";
  }
  struct stat st {};
  ASSERT_EQ(lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST_F(PathSocketTest, MoveTransfersOwnership) {
  absl::StatusOr<PathSocket> sock = PathSocket::Listen(path_);
  ASSERT_TRUE(sock.ok()) << sock.status();
  const int fd = sock->fd();
  {
    PathSocket moved = *std::move(sock);
    EXPECT_EQ(moved.fd(), fd);
    EXPECT_EQ(sock->fd(), -1);
    sock = absl::StatusOr<PathSocket>(absl::UnknownError("dropped"));
    EXPECT_EQ(ConnectError(path_), 0);  // The moved-from one did not unlink.
  }
  EXPECT_EQ(ConnectError(path_), ENOENT);
}

}  // namespace
}  // namespace stackd
