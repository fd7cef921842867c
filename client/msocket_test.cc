// msocket() and the interposed calls end to end against a fake stackd: a
// thread that serves the socket protocol on a SOCK_SEQPACKET socket in a
// temporary directory and hands out socketpair ends bound to
// "\0stackd/ID/PATH", as stackd does. The calls in this file go through the
// library's definitions (it is linked in), so a plain kernel socket's calls
// are checked to reach libc untouched as well.
#include "client/msocket.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "client/stack_name.h"
#include "gtest/gtest.h"
#include "proto/socket.pb.h"

namespace {

using stackd::socket::v1::AcceptRecord;
using stackd::socket::v1::Address;
using stackd::socket::v1::Request;
using stackd::socket::v1::Response;

constexpr size_t kRecordBytes = 128;

Address Inet(uint32_t host_order_ip, uint32_t port) {
  Address a;
  a.set_family(AF_INET);
  const uint32_t ip = htonl(host_order_ip);
  a.set_ip(&ip, sizeof(ip));
  a.set_port(port);
  return a;
}

ino_t Inode(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

// Kernel-level views of an fd, bypassing the library.
int KernelSndbuf(int fd) {
  int v = 0;
  socklen_t len = sizeof(v);
  syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_SNDBUF, &v, &len);
  return v;
}

bool Writable(int fd) {
  pollfd p{fd, POLLOUT, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) != 0;
}

// A fake stackd. Serves one control connection at a time on its own thread.
class FakeStack {
 public:
  enum class Mode { kServe, kGarbage, kHangUp };

  explicit FakeStack(Mode mode = Mode::kServe) : mode_(mode) {
    char dir[] = "/tmp/msocket_test.XXXXXX";
    if (mkdtemp(dir) == nullptr) std::abort();
    dir_ = dir;
    path_ = dir_ + "/stack";
    listen_fd_ = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path_.c_str());
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) ||
        ::listen(listen_fd_, 64) || pipe2(stop_, O_CLOEXEC)) {
      std::abort();
    }
    thread_ = std::thread([this] { Serve(); });
  }

  ~FakeStack() {
    char c = 0;
    (void)!write(stop_[1], &c, 1);
    thread_.join();
    close(stop_[0]);
    close(stop_[1]);
    close(listen_fd_);
    for (auto& [ino, s] : sockets_) {
      if (s.a_fd >= 0) close(s.a_fd);
      if (s.app_copy >= 0) close(s.app_copy);
    }
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }

  const std::string& path() const { return path_; }

  std::vector<int> families = {AF_INET, AF_INET6};
  // What GetName(peer) answers for a connected socket.
  Address peer = Inet(0x0a2a0001, 80);

  // Requests served, oldest first.
  std::vector<Request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  size_t request_count() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_.size();
  }

  // The stack's end of the socket whose application end is `fd`.
  int StackEnd(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
    return sockets_.at(Inode(fd)).a_fd;
  }

  // Ends a connect in progress as stackd does: success opens the gate,
  // failure records the error and closes the stack's end.
  void FinishConnect(int fd, int error) {
    std::lock_guard<std::mutex> lock(mu_);
    Socket& s = sockets_.at(Inode(fd));
    if (error != 0) {
      s.error = error;
      close(s.a_fd);
      s.a_fd = -1;
    } else {
      s.connected = true;
      if (s.app_sndbuf > 0) {
        // The system call itself: the library's setsockopt would ask this
        // very stack, whose lock is held.
        syscall(SYS_setsockopt, s.app_copy, SOL_SOCKET, SO_SNDBUF,
                &s.app_sndbuf, sizeof(s.app_sndbuf));
      }
      std::vector<char> sink(s.gate_bytes);
      size_t got = 0;
      while (got < sink.size()) {
        ssize_t n = read(s.a_fd, sink.data() + got, sink.size() - got);
        if (n <= 0) break;
        got += static_cast<size_t>(n);
      }
    }
    s.connecting = false;
    close(s.app_copy);
    s.app_copy = -1;
  }

  // A reset: records `error` and closes the stack's end.
  void Reset(int fd, int error) {
    std::lock_guard<std::mutex> lock(mu_);
    Socket& s = sockets_.at(Inode(fd));
    s.error = error;
    close(s.a_fd);
    s.a_fd = -1;
  }

  // Queues one accepted connection on listener `fd`, as stackd does: a
  // record with a new pair's application end. Returns that end's inode.
  ino_t PushAccept(int fd, const Address& peer_address,
                   const std::string* raw_record = nullptr,
                   bool with_fd = true) {
    std::lock_guard<std::mutex> lock(mu_);
    const Socket& listener = sockets_.at(Inode(fd));
    int pair[2] = {-1, -1};
    ino_t ino = 0;
    if (with_fd) {
      ino = NewPair(pair);
      Socket& s = sockets_[ino];
      s.connected = true;
    }
    std::string record(kRecordBytes, '\0');
    if (raw_record != nullptr) {
      record = *raw_record;
    } else {
      AcceptRecord r;
      *r.mutable_local() = Inet(0x0a2a0002, 8080);
      *r.mutable_peer() = peer_address;
      const std::string body = r.SerializeAsString();
      record[0] = 1;
      record[2] = static_cast<char>(body.size());
      record.replace(4, body.size(), body);
    }
    SendWithFd(listener.a_fd, record, pair[1]);
    if (pair[1] >= 0) close(pair[1]);
    return ino;
  }

 private:
  struct Socket {
    uint64_t id = 0;
    int a_fd = -1;
    int app_copy = -1;  // The application's fd, kept while connecting.
    int error = 0;
    bool connected = false;
    bool connecting = false;
    bool listening = false;
    uint32_t gate_bytes = 0;
    int app_sndbuf = 0;
    std::map<std::pair<int, int>, int64_t> options;
  };

  static void SendWithFd(int fd, const std::string& bytes, int fd_to_send) {
    iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (fd_to_send >= 0) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &fd_to_send, sizeof(int));
    }
    sendmsg(fd, &msg, MSG_NOSIGNAL);
  }

  // A pair like stackd's: [0] bound to "\0stackd/ID/PATH" (kept), [1] for
  // the application. Returns [1]'s inode; mu_ held.
  ino_t NewPair(int pair[2]) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair)) std::abort();
    const uint64_t id = ++next_id_;
    const std::string name = "stackd/" + std::to_string(id) + "/" + path_;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path + 1, name.data(), name.size());
    if (::bind(pair[0], reinterpret_cast<sockaddr*>(&addr),
               offsetof(sockaddr_un, sun_path) + 1 + name.size())) {
      std::abort();
    }
    const ino_t ino = Inode(pair[1]);
    Socket& s = sockets_[ino];
    s.id = id;
    s.a_fd = pair[0];
    return ino;
  }

  void Serve() {
    for (;;) {
      pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
      if (poll(p, 2, -1) < 0) continue;
      if (p[1].revents != 0) return;
      const int conn = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      ServeOne(conn);
      close(conn);
    }
  }

  void ServeOne(int conn) {
    std::vector<char> buf(65536);
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) return;
    int fd = -1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_type == SCM_RIGHTS)
        std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
    }
    if (mode_ == Mode::kHangUp) {
      if (fd >= 0) close(fd);
      return;
    }
    if (mode_ == Mode::kGarbage) {
      if (fd >= 0) close(fd);
      send(conn, "\xff\xff\xff", 3, MSG_NOSIGNAL);
      return;
    }
    Request request;
    Response response;
    int reply_fd = -1;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!request.ParseFromArray(buf.data(), static_cast<int>(n)) ||
          request.version() != 1) {
        response.set_error(EPROTONOSUPPORT);
      } else {
        requests_.push_back(request);
        reply_fd = Dispatch(request, fd, &response);
      }
    }
    SendWithFd(conn, response.SerializeAsString(), reply_fd);
    if (reply_fd >= 0) close(reply_fd);
    if (fd >= 0) close(fd);
  }

  // mu_ held. Returns an fd to send back, or -1.
  int Dispatch(const Request& request, int fd, Response* response) {
    switch (request.op_case()) {
      case Request::kHello:
        for (int f : families) response->mutable_hello()->add_families(f);
        response->mutable_hello()->set_stack_path(path_);
        return -1;
      case Request::kSocket: {
        if (request.socket().type() != SOCK_STREAM) {
          response->set_error(ESOCKTNOSUPPORT);
          return -1;
        }
        int pair[2];
        NewPair(pair);
        response->mutable_socket();
        return pair[1];
      }
      default:
        break;
    }
    auto it = sockets_.find(fd >= 0 ? Inode(fd) : 0);
    if (it == sockets_.end()) {
      response->set_error(fd < 0 ? EBADF : ENOTSOCK);
      return -1;
    }
    Socket& s = it->second;
    switch (request.op_case()) {
      case Request::kBind:
        *response->mutable_address() = request.bind().address();
        break;
      case Request::kListen:
        s.listening = true;
        break;
      case Request::kConnect:
        if (s.connecting) {
          response->set_error(EALREADY);
        } else if (s.connected || s.listening) {
          response->set_error(EISCONN);
        } else {
          s.connecting = true;
          s.gate_bytes = request.connect().gate_bytes();
          s.app_sndbuf = request.connect().app_sndbuf();
          s.app_copy = dup(fd);
          response->set_error(EINPROGRESS);
        }
        break;
      case Request::kGetName:
        if (!request.get_name().peer()) {
          *response->mutable_address() = Inet(0x0a2a0002, 4000);
        } else if (s.connected) {
          *response->mutable_address() = peer;
        } else {
          response->set_error(ENOTCONN);
        }
        break;
      case Request::kSetOpt: {
        const auto& o = request.set_opt();
        s.options[{o.level(), o.name()}] = o.value().has_linger()
                                               ? o.value().linger().seconds()
                                               : o.value().int_value();
        break;
      }
      case Request::kGetOpt: {
        const auto& o = request.get_opt();
        if (o.level() == SOL_SOCKET && o.name() == SO_ERROR) {
          response->mutable_opt()->set_int_value(s.error);
          s.error = 0;
        } else if (o.level() == SOL_SOCKET && o.name() == SO_LINGER) {
          response->mutable_opt()->mutable_linger()->set_on(true);
          response->mutable_opt()->mutable_linger()->set_seconds(
              static_cast<int>(s.options[{SOL_SOCKET, SO_LINGER}]));
        } else if (o.level() == IPPROTO_TCP && o.name() == TCP_NODELAY) {
          response->mutable_opt()->set_int_value(
              s.options[{IPPROTO_TCP, TCP_NODELAY}]);
        } else if (o.level() == SOL_SOCKET && o.name() == SO_ACCEPTCONN) {
          response->mutable_opt()->set_int_value(s.listening ? 1 : 0);
        } else if (o.level() == IPPROTO_TCP && o.name() == TCP_INFO) {
          response->mutable_opt()->mutable_tcp_info()->set_state(
              s.connected ? TCP_ESTABLISHED : s.listening ? TCP_LISTEN : TCP_CLOSE);
        } else {
          response->set_error(ENOPROTOOPT);
        }
        break;
      }
      case Request::kShutdown:
        if (!s.connected) response->set_error(ENOTCONN);
        break;
      default:
        response->set_error(EINVAL);
    }
    return -1;
  }

  const Mode mode_;
  std::string dir_;
  std::string path_;
  int listen_fd_ = -1;
  int stop_[2] = {-1, -1};
  std::thread thread_;
  std::mutex mu_;
  std::vector<Request> requests_;
  std::map<ino_t, Socket> sockets_;
  uint64_t next_id_ = 0;
};

class MsocketTest : public ::testing::Test {
 protected:
  void SetUp() override { ClearEnv(); }
  void TearDown() override { ClearEnv(); }
  static void ClearEnv() {
    unsetenv("MSOCKET_STACK");
    unsetenv("MSOCKET_STACK_INET");
    unsetenv("MSOCKET_STACK_INET6");
  }
  FakeStack stack_;
};

TEST_F(MsocketTest, SocketArrivesWithFlags) {
  errno = 4321;
  const int fd =
      msocket(stack_.path().c_str(), AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  ASSERT_GE(fd, 0) << strerror(errno);
  EXPECT_EQ(errno, 4321);
  EXPECT_NE(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
  EXPECT_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  stackd::client::StackName name;
  ASSERT_TRUE(stackd::client::FindStack(fd, &name));
  EXPECT_EQ(std::string(name.path), stack_.path());
  const auto requests = stack_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].socket().domain(), AF_INET);
  EXPECT_EQ(requests[0].socket().type(), SOCK_STREAM);  // Flags stripped.
  close(fd);

  const int fd2 =
      msocket(stack_.path().c_str(), AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd2, 0);
  EXPECT_EQ(fcntl(fd2, F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(fcntl(fd2, F_GETFD) & FD_CLOEXEC, 0);
  close(fd2);
}

TEST_F(MsocketTest, StackErrorsComeBack) {
  errno = 0;
  EXPECT_EQ(msocket(stack_.path().c_str(), AF_INET, SOCK_DGRAM, 0), -1);
  EXPECT_EQ(errno, ESOCKTNOSUPPORT);
}

TEST_F(MsocketTest, MissingPathIsEnoent) {
  errno = 0;
  EXPECT_EQ(msocket("/nonexistent/stack", AF_INET, SOCK_STREAM, 0), -1);
  EXPECT_EQ(errno, ENOENT);
  const std::string missing = stack_.path() + ".missing";
  EXPECT_EQ(msocket(missing.c_str(), AF_INET, SOCK_STREAM, 0), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(msocket(missing.c_str(), AF_INET, SOCK_DEFAULT, 0), -1);
  EXPECT_EQ(errno, ENOENT);
}

TEST_F(MsocketTest, RegularFileIsEnotsup) {
  const std::string file = stack_.path() + ".file";
  const int f = open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(f, 0);
  close(f);
  errno = 0;
  EXPECT_EQ(msocket(file.c_str(), AF_INET, SOCK_STREAM, 0), -1);
  EXPECT_EQ(errno, ENOTSUP);
  EXPECT_EQ(msocket(file.c_str(), AF_INET, SOCK_DEFAULT, 0), -1);
  EXPECT_EQ(errno, ENOTSUP);
  unlink(file.c_str());
}

TEST_F(MsocketTest, OtherSocketsAreEnotsup) {
  // A stream socket (connect: EPROTOTYPE).
  const std::string path = stack_.path() + ".stream";
  const int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(s, 4), 0);
  errno = 0;
  EXPECT_EQ(msocket(path.c_str(), AF_INET, SOCK_STREAM, 0), -1);
  EXPECT_EQ(errno, ENOTSUP);
  close(s);
  // Nobody listening any more (a dead stack's file: ECONNREFUSED).
  EXPECT_EQ(msocket(path.c_str(), AF_INET, SOCK_STREAM, 0), -1);
  EXPECT_EQ(errno, ENOTSUP);
  unlink(path.c_str());

  // Seqpacket servers that are not stacks: garbage, or no answer.
  FakeStack garbage(FakeStack::Mode::kGarbage);
  EXPECT_EQ(msocket(garbage.path().c_str(), AF_INET, SOCK_STREAM, 0), -1);
  EXPECT_EQ(errno, ENOTSUP);
  EXPECT_EQ(msocket(garbage.path().c_str(), AF_UNSPEC, SOCK_DEFAULT, 0), -1);
  EXPECT_EQ(errno, ENOTSUP);
  FakeStack hangup(FakeStack::Mode::kHangUp);
  EXPECT_EQ(msocket(hangup.path().c_str(), AF_INET, SOCK_STREAM, 0), -1);
  EXPECT_EQ(errno, ENOTSUP);
  EXPECT_EQ(getenv("MSOCKET_STACK_INET"), nullptr);
}

TEST_F(MsocketTest, DefaultStackGoesToTheEnvironment) {
  ASSERT_EQ(msocket(stack_.path().c_str(), AF_INET, SOCK_DEFAULT, 0), 0);
  ASSERT_NE(getenv("MSOCKET_STACK_INET"), nullptr);
  EXPECT_EQ(std::string(getenv("MSOCKET_STACK_INET")), stack_.path());
  EXPECT_EQ(getenv("MSOCKET_STACK_INET6"), nullptr);

  // socket(2) for TCP and UDP over IPv4 now goes to the stack; the rest
  // does not.
  const size_t before = stack_.request_count();
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  stackd::client::StackName name;
  EXPECT_TRUE(stackd::client::FindStack(fd, &name));
  EXPECT_EQ(stack_.request_count(), before + 1);
  close(fd);
  // (This fake stack serves TCP only and refuses UDP.)
  EXPECT_EQ(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), -1);
  EXPECT_EQ(errno, ESOCKTNOSUPPORT);
  EXPECT_EQ(stack_.request_count(), before + 2);
  const int raw_udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDPLITE);
  const int tcp6 = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(tcp6, 0);
  if (raw_udp >= 0) EXPECT_FALSE(stackd::client::FindStack(raw_udp, &name));
  EXPECT_FALSE(stackd::client::FindStack(tcp6, &name));
  EXPECT_EQ(stack_.request_count(), before + 2);
  if (raw_udp >= 0) close(raw_udp);
  close(tcp6);

  // msocket(NULL, ...) uses the default too.
  const int fd2 = msocket(nullptr, AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd2, 0);
  EXPECT_TRUE(stackd::client::FindStack(fd2, &name));
  close(fd2);

  // A null path gives the family back to the kernel.
  ASSERT_EQ(msocket(nullptr, AF_INET, SOCK_DEFAULT, 0), 0);
  EXPECT_EQ(getenv("MSOCKET_STACK_INET"), nullptr);
  const int kernel = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(kernel, 0);
  EXPECT_FALSE(stackd::client::FindStack(kernel, &name));
  close(kernel);
}

TEST_F(MsocketTest, DefaultForUnspecCoversWhatTheStackServes) {
  stack_.families = {AF_INET6};
  errno = 0;
  EXPECT_EQ(msocket(stack_.path().c_str(), AF_INET, SOCK_DEFAULT, 0), -1);
  EXPECT_EQ(errno, EAFNOSUPPORT);
  EXPECT_EQ(msocket(stack_.path().c_str(), AF_UNIX, SOCK_DEFAULT, 0), -1);
  EXPECT_EQ(errno, EAFNOSUPPORT);
  ASSERT_EQ(msocket(stack_.path().c_str(), AF_UNSPEC, SOCK_DEFAULT, 0), 0);
  EXPECT_EQ(getenv("MSOCKET_STACK_INET"), nullptr);
  ASSERT_NE(getenv("MSOCKET_STACK_INET6"), nullptr);
  EXPECT_EQ(std::string(getenv("MSOCKET_STACK_INET6")), stack_.path());
  stack_.families = {};
  EXPECT_EQ(msocket(stack_.path().c_str(), AF_UNSPEC, SOCK_DEFAULT, 0), -1);
  EXPECT_EQ(errno, EAFNOSUPPORT);
}

TEST_F(MsocketTest, MsocketStackCoversBothFamilies) {
  setenv("MSOCKET_STACK", stack_.path().c_str(), 1);
  stackd::client::StackName name;
  const int fd6 = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  ASSERT_GE(fd6, 0);
  EXPECT_TRUE(stackd::client::FindStack(fd6, &name));
  close(fd6);
  // A family's empty variable means the kernel, whatever MSOCKET_STACK says.
  setenv("MSOCKET_STACK_INET", "", 1);
  const int fd4 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd4, 0);
  EXPECT_FALSE(stackd::client::FindStack(fd4, &name));
  close(fd4);
}

TEST_F(MsocketTest, GetNamesGoToTheStack) {
  const int fd = msocket(stack_.path().c_str(), AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in in{};
  socklen_t len = sizeof(in);
  errno = 0;
  EXPECT_EQ(getpeername(fd, reinterpret_cast<sockaddr*>(&in), &len), -1);
  EXPECT_EQ(errno, ENOTCONN);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&in), &len), 0);
  EXPECT_EQ(len, sizeof(sockaddr_in));
  EXPECT_EQ(in.sin_family, AF_INET);
  EXPECT_EQ(ntohs(in.sin_port), 4000);
  EXPECT_EQ(ntohl(in.sin_addr.s_addr), 0x0a2a0002u);

  // Connected: the peer the stack reports, truncated like Linux.
  stack_.FinishConnect(fd, 0);  // No connect pending: just marks it.
  errno = 77;
  len = sizeof(in);
  ASSERT_EQ(getpeername(fd, reinterpret_cast<sockaddr*>(&in), &len), 0);
  EXPECT_EQ(errno, 77);
  EXPECT_EQ(ntohs(in.sin_port), 80);
  EXPECT_EQ(ntohl(in.sin_addr.s_addr), 0x0a2a0001u);
  unsigned char small[4] = {0xee, 0xee, 0xee, 0xee};
  len = 3;
  ASSERT_EQ(getpeername(fd, reinterpret_cast<sockaddr*>(small), &len), 0);
  EXPECT_EQ(len, sizeof(sockaddr_in));
  EXPECT_EQ(small[2], 0);  // Port 80, high byte.
  EXPECT_EQ(small[3], 0xee);
  EXPECT_EQ(getpeername(fd, nullptr, nullptr), -1);
  EXPECT_EQ(errno, EFAULT);
  close(fd);
}

TEST_F(MsocketTest, BindListenShutdown) {
  const int fd = msocket(stack_.path().c_str(), AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(8080);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&in), sizeof(in)), 0);
  errno = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&in), sizeof(in) - 1), -1);
  EXPECT_EQ(errno, EINVAL);
  ASSERT_EQ(listen(fd, 16), 0);
  EXPECT_EQ(shutdown(fd, SHUT_WR), -1);  // The fake: not connected.
  EXPECT_EQ(errno, ENOTCONN);
  const auto requests = stack_.requests();
  ASSERT_EQ(requests.size(), 4u);  // socket, bind, listen, shutdown.
  EXPECT_EQ(requests[1].bind().address().port(), 8080u);
  EXPECT_EQ(requests[2].listen().backlog(), 16);
  EXPECT_EQ(requests[3].shutdown().how(), SHUT_WR);
  close(fd);
}

TEST_F(MsocketTest, Options) {
  const int fd = msocket(stack_.path().c_str(), AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  const int one = 1;
  ASSERT_EQ(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
  int value = 0;
  socklen_t len = sizeof(value);
  ASSERT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &len), 0);
  EXPECT_EQ(value, 1);
  EXPECT_EQ(len, sizeof(int));

  linger l{1, 5};
  ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0);
  linger back{};
  len = sizeof(back);
  ASSERT_EQ(getsockopt(fd, SOL_SOCKET, SO_LINGER, &back, &len), 0);
  EXPECT_EQ(back.l_onoff, 1);
  EXPECT_EQ(back.l_linger, 5);

  errno = 0;
  EXPECT_EQ(getsockopt(fd, SOL_SOCKET, SO_PRIORITY, &value, &len), -1);
  EXPECT_EQ(errno, ENOPROTOOPT);

  // Lengths and pointers are checked like Linux, without asking the stack.
  const size_t before = stack_.request_count();
  EXPECT_EQ(setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, 2), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(int)), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, nullptr, sizeof(int)), -1);
  EXPECT_EQ(errno, EFAULT);
  EXPECT_EQ(getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &value, nullptr), -1);
  EXPECT_EQ(errno, EFAULT);
  EXPECT_EQ(stack_.request_count(), before);

  // Timeouts are the fd's own.
  timeval tv{3, 0};
  ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
  timeval kernel_tv{};
  len = sizeof(kernel_tv);
  ASSERT_EQ(
      syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_RCVTIMEO, &kernel_tv, &len),
      0);
  EXPECT_EQ(kernel_tv.tv_sec, 3);
  EXPECT_EQ(stack_.request_count(), before);

  // Buffers go to the stack and to the fd.
  const int sndbuf = 50000;
  ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
  EXPECT_EQ(stack_.request_count(), before + 1);
  EXPECT_EQ(KernelSndbuf(fd), 2 * sndbuf);
  close(fd);
}

// Options whose answer the library shapes: TCP_INFO (Linux's struct from
// the stack's report) and TCP_CONGESTION (the library's).
TEST_F(MsocketTest, TcpOptionsTheLibraryAnswers) {
  const int fd = msocket(stack_.path().c_str(), AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  tcp_info info{};
  socklen_t len = sizeof(info);
  ASSERT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len), 0);
  EXPECT_EQ(len, sizeof(info));
  EXPECT_EQ(info.tcpi_state, TCP_CLOSE);  // Neither connected nor listening.
  EXPECT_EQ(info.tcpi_total_retrans, 0u);

  char algorithm[16] = "garbage";
  len = sizeof(algorithm);
  ASSERT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, algorithm, &len), 0);
  EXPECT_STREQ(algorithm, "reno");
  EXPECT_EQ(len, 16u);
  EXPECT_EQ(setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "reno", 4), 0);
  errno = 0;
  EXPECT_EQ(setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "cubic", 5), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "reno", 0), -1);
  EXPECT_EQ(errno, EINVAL);

  // What the stack refuses stays refused.
  int value = 0;
  len = sizeof(value);
  errno = 0;
  EXPECT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &value, &len), -1);
  EXPECT_EQ(errno, ENOPROTOOPT);
  close(fd);
}

TEST_F(MsocketTest, NonBlockingConnectGatesTheFd) {
  const int fd =
      msocket(stack_.path().c_str(), AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  ASSERT_GE(fd, 0);
  const int sndbuf = 50000;
  ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
  ASSERT_TRUE(Writable(fd));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(80);
  to.sin_addr.s_addr = htonl(0x0a2a0001);
  errno = 0;
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)), -1);
  ASSERT_EQ(errno, EINPROGRESS);
  EXPECT_FALSE(Writable(fd));
  const Request last = stack_.requests().back();
  ASSERT_TRUE(last.has_connect());
  EXPECT_GT(last.connect().gate_bytes(), 0u);
  EXPECT_EQ(last.connect().app_sndbuf(), sndbuf);
  EXPECT_EQ(last.connect().address().port(), 80u);
  // The gate bytes are waiting on the stack's end.
  int queued = 0;
  ASSERT_EQ(ioctl(stack_.StackEnd(fd), FIONREAD, &queued), 0);
  EXPECT_EQ(static_cast<uint32_t>(queued), last.connect().gate_bytes());

  // Again while in progress: no new gate, the stack says EALREADY.
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)), -1);
  EXPECT_EQ(errno, EALREADY);
  EXPECT_EQ(stack_.requests().back().connect().gate_bytes(), 0u);

  stack_.FinishConnect(fd, 0);
  pollfd p{fd, POLLOUT, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1);
  int error = -1;
  socklen_t len = sizeof(error);
  ASSERT_EQ(getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len), 0);
  EXPECT_EQ(error, 0);
  EXPECT_EQ(KernelSndbuf(fd), 2 * sndbuf);

  // Connected: EISCONN (the stack's answer), and nothing written into the
  // stream.
  const size_t before = stack_.request_count();
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)), -1);
  EXPECT_EQ(errno, EISCONN);
  ASSERT_EQ(ioctl(stack_.StackEnd(fd), FIONREAD, &queued), 0);
  EXPECT_EQ(queued, 0);
  EXPECT_EQ(stack_.request_count(), before + 2);  // The GetName probe, the connect.
  EXPECT_EQ(KernelSndbuf(fd), 2 * sndbuf);

  // Data flows both ways over the pair.
  ASSERT_EQ(write(fd, "hello", 5), 5);
  char buf[8] = {};
  ASSERT_EQ(read(stack_.StackEnd(fd), buf, sizeof(buf)), 5);
  EXPECT_STREQ(buf, "hello");
  close(fd);
}

TEST_F(MsocketTest, BlockingConnectWaitsForTheHandshake) {
  const int fd = msocket(stack_.path().c_str(), AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  std::thread finisher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stack_.FinishConnect(fd, 0);
  });
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(80);
  errno = 99;
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0);
  EXPECT_EQ(errno, 99);
  finisher.join();
  EXPECT_TRUE(Writable(fd));
  close(fd);
}

TEST_F(MsocketTest, BlockingConnectReportsTheFailure) {
  const int fd = msocket(stack_.path().c_str(), AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  std::thread finisher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stack_.FinishConnect(fd, ECONNREFUSED);
  });
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(81);
  errno = 0;
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
  finisher.join();
  // The error was taken, the kernel's ECONNRESET from the unread gate too.
  int error = -1;
  socklen_t len = sizeof(error);
  ASSERT_EQ(getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len), 0);
  EXPECT_EQ(error, 0);
  close(fd);
}

TEST_F(MsocketTest, BlockingConnectHonoursSndtimeo) {
  const int fd = msocket(stack_.path().c_str(), AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  timeval tv{0, 200000};
  ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  const auto start = std::chrono::steady_clock::now();
  errno = 0;
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)), -1);
  EXPECT_EQ(errno, EINPROGRESS);
  EXPECT_GE(std::chrono::steady_clock::now() - start,
            std::chrono::milliseconds(150));
  EXPECT_FALSE(Writable(fd));
  close(fd);
}

TEST_F(MsocketTest, ConnectChecksTheAddressFirst) {
  const int fd = msocket(stack_.path().c_str(), AF_INET6, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  const size_t before = stack_.request_count();
  sockaddr_in6 to{};
  to.sin6_family = AF_INET6;
  errno = 0;
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&to), 20), -1);
  EXPECT_EQ(errno, EINVAL);
  to.sin6_family = AF_UNIX;
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)), -1);
  EXPECT_EQ(errno, EAFNOSUPPORT);
  EXPECT_EQ(stack_.request_count(), before);
  EXPECT_TRUE(Writable(fd));
  close(fd);
}

TEST_F(MsocketTest, AcceptReadsRecords) {
  const int fd =
      msocket(stack_.path().c_str(), AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(listen(fd, 8), 0);
  errno = 0;
  EXPECT_EQ(accept(fd, nullptr, nullptr), -1);
  EXPECT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK);

  const ino_t ino = stack_.PushAccept(fd, Inet(0x0a2a0001, 40000));
  sockaddr_in peer{};
  socklen_t len = sizeof(peer);
  errno = 5;
  const int conn = accept4(fd, reinterpret_cast<sockaddr*>(&peer), &len,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
  ASSERT_GE(conn, 0) << strerror(errno);
  EXPECT_EQ(errno, 5);
  EXPECT_EQ(Inode(conn), ino);
  EXPECT_EQ(len, sizeof(sockaddr_in));
  EXPECT_EQ(ntohs(peer.sin_port), 40000);
  EXPECT_EQ(ntohl(peer.sin_addr.s_addr), 0x0a2a0001u);
  EXPECT_NE(fcntl(conn, F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(fcntl(conn, F_GETFD) & FD_CLOEXEC, 0);
  stackd::client::StackName name;
  EXPECT_TRUE(stackd::client::FindStack(conn, &name));
  // The accepted socket is a stack socket like any other.
  len = sizeof(peer);
  ASSERT_EQ(getpeername(conn, reinterpret_cast<sockaddr*>(&peer), &len), 0);
  EXPECT_EQ(ntohs(peer.sin_port), 80);
  close(conn);

  stack_.PushAccept(fd, Inet(0x0a2a0001, 40001));
  const int plain = accept(fd, nullptr, nullptr);
  ASSERT_GE(plain, 0);
  EXPECT_EQ(fcntl(plain, F_GETFL) & O_NONBLOCK, 0);
  EXPECT_EQ(fcntl(plain, F_GETFD) & FD_CLOEXEC, 0);
  close(plain);

  errno = 0;
  EXPECT_EQ(accept4(fd, nullptr, nullptr, 0x4000000), -1);
  EXPECT_EQ(errno, EINVAL);
  close(fd);
}

TEST_F(MsocketTest, MalformedRecordsAreEproto) {
  const int fd =
      msocket(stack_.path().c_str(), AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(listen(fd, 8), 0);
  const std::string garbage(kRecordBytes, '\x7f');
  stack_.PushAccept(fd, Address(), &garbage);
  errno = 0;
  EXPECT_EQ(accept(fd, nullptr, nullptr), -1);
  EXPECT_EQ(errno, EPROTO);
  // A good record without its fd.
  stack_.PushAccept(fd, Inet(1, 2), nullptr, /*with_fd=*/false);
  EXPECT_EQ(accept(fd, nullptr, nullptr), -1);
  EXPECT_EQ(errno, EPROTO);
  // The queue is in step again afterwards.
  stack_.PushAccept(fd, Inet(1, 3));
  const int conn = accept(fd, nullptr, nullptr);
  EXPECT_GE(conn, 0);
  close(conn);
  close(fd);
}

TEST_F(MsocketTest, AcceptOnClosedListener) {
  const int fd = msocket(stack_.path().c_str(), AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(listen(fd, 8), 0);
  stack_.Reset(fd, 0);
  errno = 0;
  EXPECT_EQ(accept(fd, nullptr, nullptr), -1);
  EXPECT_EQ(errno, EINVAL);
  close(fd);
}

TEST_F(MsocketTest, ResetTurnsEofIntoTheError) {
  const int fd = msocket(stack_.path().c_str(), AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  stack_.FinishConnect(fd, 0);
  ASSERT_EQ(write(stack_.StackEnd(fd), "ab", 2), 2);
  stack_.Reset(fd, ECONNRESET);
  char buf[4];
  EXPECT_EQ(read(fd, buf, sizeof(buf)), 2);  // Data first.
  errno = 0;
  EXPECT_EQ(read(fd, buf, sizeof(buf)), -1);
  EXPECT_EQ(errno, ECONNRESET);
  // Reported once, as Linux; then the end of the stream.
  EXPECT_EQ(recv(fd, buf, sizeof(buf), 0), 0);
  EXPECT_EQ(read(fd, buf, 0), 0);
  close(fd);

  const int fd2 = msocket(stack_.path().c_str(), AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd2, 0);
  stack_.FinishConnect(fd2, 0);
  stack_.Reset(fd2, ETIMEDOUT);
  iovec iov{buf, sizeof(buf)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  errno = 0;
  EXPECT_EQ(recvmsg(fd2, &msg, 0), -1);
  EXPECT_EQ(errno, ETIMEDOUT);
  close(fd2);
}

TEST_F(MsocketTest, FinIsAPlainEndOfStream) {
  const int fd = msocket(stack_.path().c_str(), AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  stack_.FinishConnect(fd, 0);
  ASSERT_EQ(shutdown(stack_.StackEnd(fd), SHUT_WR), 0);  // stackd's FIN.
  const size_t before = stack_.request_count();
  char buf[4];
  errno = 12;
  EXPECT_EQ(read(fd, buf, sizeof(buf)), 0);
  EXPECT_EQ(errno, 12);
  iovec iov{buf, sizeof(buf)};
  EXPECT_EQ(readv(fd, &iov, 1), 0);
  EXPECT_EQ(stack_.request_count(), before);  // Nothing to ask.
  close(fd);
}

TEST_F(MsocketTest, SendmsgWithFdsIsEinval) {
  const int fd = msocket(stack_.path().c_str(), AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  stack_.FinishConnect(fd, 0);
  char data[] = "x";
  iovec iov{data, 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  const int zero = 0;
  std::memcpy(CMSG_DATA(c), &zero, sizeof(int));
  errno = 0;
  EXPECT_EQ(sendmsg(fd, &msg, 0), -1);
  EXPECT_EQ(errno, EINVAL);
  msg.msg_control = nullptr;
  msg.msg_controllen = 0;
  EXPECT_EQ(sendmsg(fd, &msg, 0), 1);
  // The same message passes fds on a plain Unix socket.
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  EXPECT_EQ(sendmsg(sv[0], &msg, 0), 1);
  close(sv[0]);
  close(sv[1]);
  close(fd);
}

TEST_F(MsocketTest, StackGoneIsEnetdown) {
  int fd;
  {
    FakeStack gone;
    fd = msocket(gone.path().c_str(), AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
  }
  sockaddr_in in{};
  socklen_t len = sizeof(in);
  errno = 0;
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&in), &len), -1);
  EXPECT_EQ(errno, ENETDOWN);
  int error = 0;
  len = sizeof(error);
  ASSERT_EQ(getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len), 0);
  EXPECT_TRUE(error == ENETDOWN || error == ECONNRESET) << error;
  close(fd);
}

TEST_F(MsocketTest, KernelSocketsGoToLibcUntouched) {
  const size_t before = stack_.request_count();
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
            0);
  ASSERT_EQ(listen(listener, 4), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ASSERT_NE(addr.sin_port, 0);
  const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
            0);
  sockaddr_in peer{};
  len = sizeof(peer);
  const int server =
      accept4(listener, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
  ASSERT_GE(server, 0);
  EXPECT_EQ(ntohl(peer.sin_addr.s_addr), INADDR_LOOPBACK);
  sockaddr_in seen{};
  len = sizeof(seen);
  ASSERT_EQ(getpeername(client, reinterpret_cast<sockaddr*>(&seen), &len), 0);
  EXPECT_EQ(seen.sin_port, addr.sin_port);
  const int one = 1;
  ASSERT_EQ(setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
  int value = 0;
  len = sizeof(value);
  ASSERT_EQ(getsockopt(client, IPPROTO_TCP, TCP_NODELAY, &value, &len), 0);
  EXPECT_EQ(value, 1);
  ASSERT_EQ(send(client, "hi", 2, 0), 2);
  char buf[4];
  ASSERT_EQ(recv(server, buf, sizeof(buf), 0), 2);
  ASSERT_EQ(shutdown(client, SHUT_WR), 0);
  errno = 31;
  EXPECT_EQ(read(server, buf, sizeof(buf)), 0);
  EXPECT_EQ(errno, 31);
  // Errors are libc's own.
  errno = 0;
  EXPECT_EQ(getpeername(listener, reinterpret_cast<sockaddr*>(&seen), &len),
            -1);
  EXPECT_EQ(errno, ENOTCONN);
  EXPECT_EQ(connect(-1, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), -1);
  EXPECT_EQ(errno, EBADF);
  close(server);
  close(client);
  close(listener);
  EXPECT_EQ(stack_.request_count(), before);
}

TEST_F(MsocketTest, ThreadsMakeTheirOwnCalls) {
  const int fd = msocket(stack_.path().c_str(), AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        sockaddr_in in{};
        socklen_t len = sizeof(in);
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&in), &len) != 0 ||
            ntohs(in.sin_port) != 4000) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  close(fd);
}

}  // namespace
