#include "stackd/readiness.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace stackd {
namespace {

// A datagram socket bound to an abstract name, as systemd's notify socket.
struct NotifyListener {
  NotifyListener() {
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    name = absl::StrCat("@stackd-readiness-test-", getpid());
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path + 1, name.data() + 1, name.size() - 1);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr),
                   static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size())),
              0);
  }
  ~NotifyListener() { close(fd); }
  std::string Next() {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 2000) != 1) return "(nothing)";
    char buf[512];
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    return n < 0 ? "(error)" : std::string(buf, static_cast<size_t>(n));
  }
  int fd;
  std::string name;
};

TEST(ReadinessTest, ReadyLineOnTheFdThenClosed) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  {
    absl::StatusOr<Readiness> r = Readiness::Open(p[1], nullptr);
    ASSERT_TRUE(r.ok()) << r.status();
    r->Ready("serving");
    char buf[32];
    ASSERT_EQ(read(p[0], buf, sizeof(buf)), 8);
    EXPECT_EQ(std::string(buf, 8), "READY=1\n");
    EXPECT_EQ(read(p[0], buf, sizeof(buf)), 0) << "closed after the line";
    r->Ready("again");  // Once only.
  }
  close(p[0]);
}

TEST(ReadinessTest, NotifySocketGetsReadyAndStopping) {
  NotifyListener listener;
  absl::StatusOr<Readiness> r = Readiness::Open(-1, listener.name.c_str());
  ASSERT_TRUE(r.ok()) << r.status();
  r->Ready("serving /dev/net/x");
  EXPECT_EQ(listener.Next(),
            absl::StrCat("READY=1\nSTATUS=serving /dev/net/x\nMAINPID=", getpid(), "\n"));
  r->Stopping("signal 15");
  EXPECT_EQ(listener.Next(), "STOPPING=1\nSTATUS=signal 15\n");
}

TEST(ReadinessTest, NothingAskedNothingDone) {
  absl::StatusOr<Readiness> r = Readiness::Open(-1, "");
  ASSERT_TRUE(r.ok()) << r.status();
  r->Ready("serving");
  r->Stopping("done");
}

TEST(ReadinessTest, ClearErrors) {
  EXPECT_EQ(Readiness::Open(1000, nullptr).status().message(), "--ready-fd: fd 1000 is not open");
  EXPECT_EQ(Readiness::Open(-1, "relative").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(Readiness::Open(-1, "@stackd-readiness-test-nobody-listens").ok());
  EXPECT_FALSE(Readiness::Open(-1, std::string(200, '/').c_str()).ok());
}

}  // namespace
}  // namespace stackd
