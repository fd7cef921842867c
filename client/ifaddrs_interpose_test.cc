// getifaddrs, if_nameindex, if_nametoindex and if_indextoname as a
// program with the library linked in (or preloaded) sees them, against a
// fake stack that answers InterfacesRequest and one that predates it: the
// stack's interfaces for the families it is the default for, the
// kernel's for the others, libc's answers without a default stack.
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "client/msocket.h"
#include "gtest/gtest.h"
#include "proto/socket.pb.h"

namespace {

using stackd::socket::v1::Interface;
using stackd::socket::v1::InterfaceList;
namespace socket_v1 = stackd::socket::v1;

void AddAddress(Interface* nif, int family, const char* text, uint32_t prefix,
                uint32_t scope = 0) {
  auto* a = nif->add_addresses();
  a->set_prefix_length(prefix);
  a->mutable_address()->set_family(family);
  unsigned char bytes[16];
  ASSERT_EQ(inet_pton(family, text, bytes), 1);
  a->mutable_address()->set_ip(bytes, family == AF_INET ? 4 : 16);
  a->mutable_address()->set_scope_id(scope);
}

InterfaceList TwoInterfaces() {
  InterfaceList list;
  Interface* lo = list.add_interfaces();
  lo->set_name("lo");
  lo->set_index(1);
  lo->set_flags(IFF_UP | IFF_RUNNING | IFF_LOOPBACK);
  lo->set_mtu(1500);
  AddAddress(lo, AF_INET, "127.0.0.1", 8);
  AddAddress(lo, AF_INET6, "::1", 128);
  Interface* tap = list.add_interfaces();
  tap->set_name("st0");
  tap->set_index(2);
  tap->set_flags(IFF_UP | IFF_RUNNING | IFF_BROADCAST | IFF_MULTICAST);
  tap->set_mtu(65520);
  tap->set_mac(std::string("\x02\x00\x00\x00\x00\x07", 6));
  AddAddress(tap, AF_INET, "10.42.0.2", 24);
  AddAddress(tap, AF_INET6, "fd42::2", 64);
  AddAddress(tap, AF_INET6, "fe80::7", 64, 2);
  return list;
}

std::string Text(const sockaddr* sa) {
  if (sa == nullptr) return "-";
  char buf[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf,
              sizeof(buf));
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
    if (in6->sin6_scope_id != 0) {
      return std::string(buf) + "%" + std::to_string(in6->sin6_scope_id);
    }
  } else if (sa->sa_family == AF_PACKET) {
    const auto* ll = reinterpret_cast<const sockaddr_ll*>(sa);
    std::string s = "ll#" + std::to_string(ll->sll_ifindex) + "/" +
                    std::to_string(ll->sll_hatype) + "/";
    for (int i = 0; i < ll->sll_halen; ++i) {
      char hex[4];
      std::snprintf(hex, sizeof(hex), "%02x", ll->sll_addr[i]);
      s += hex;
    }
    return s;
  }
  return buf;
}

// One line per node: "name family-address mask broadcast".
std::vector<std::string> Lines(const ifaddrs* list) {
  std::vector<std::string> lines;
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    lines.push_back(std::string(i->ifa_name) + " " + Text(i->ifa_addr) + " " +
                    Text(i->ifa_netmask) + " " + Text(i->ifa_broadaddr));
  }
  return lines;
}

// A fake stack that answers every request with `response` (version set).
class FakeStack {
 public:
  explicit FakeStack(socket_v1::Response response)
      : response_(std::move(response)) {
    response_.set_version(socket_v1::PROTOCOL_VERSION_CURRENT);
    char dir[] = "/tmp/interfaces_test.XXXXXX";
    if (mkdtemp(dir) == nullptr) std::abort();
    dir_ = dir;
    path_ = dir_ + "/stack";
    fd_ = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path_.c_str());
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd_, 4) != 0 || pipe2(stop_, O_CLOEXEC) != 0) {
      std::abort();
    }
    thread_ = std::thread([this] {
      for (;;) {
        pollfd p[2] = {{fd_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0 || p[1].revents != 0) return;
        const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        char buf[1024];
        if (recv(c, buf, sizeof(buf), 0) > 0) {
          const std::string bytes = response_.SerializeAsString();
          (void)!send(c, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        }
        close(c);
      }
    });
  }
  ~FakeStack() {
    (void)!write(stop_[1], "x", 1);
    thread_.join();
    close(stop_[0]);
    close(stop_[1]);
    close(fd_);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  socket_v1::Response response_;
  std::string dir_;
  std::string path_;
  int fd_ = -1;
  int stop_[2] = {-1, -1};
  std::thread thread_;
};

class IfAddrsInterposeTest : public ::testing::Test {
 protected:
  void SetUp() override { Clear(); }
  void TearDown() override { Clear(); }
  static void Clear() {
    unsetenv("MSOCKET_STACK");
    unsetenv("MSOCKET_STACK_INET");
    unsetenv("MSOCKET_STACK_INET6");
  }
  static std::vector<std::string> GetIfAddrs() {
    ifaddrs* list = nullptr;
    EXPECT_EQ(getifaddrs(&list), 0) << std::strerror(errno);
    std::vector<std::string> lines = Lines(list);
    freeifaddrs(list);
    return lines;
  }
  static socket_v1::Response Answer() {
    socket_v1::Response response;
    *response.mutable_interfaces() = TwoInterfaces();
    return response;
  }
};

TEST_F(IfAddrsInterposeTest, TheStacksInterfacesForBothFamilies) {
  FakeStack stack(Answer());
  setenv("MSOCKET_STACK", stack.path().c_str(), 1);
  EXPECT_EQ(GetIfAddrs(),
            (std::vector<std::string>{
                "lo ll#1/772/ - -",
                "lo 127.0.0.1 255.0.0.0 -",
                "lo ::1 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff -",
                "st0 ll#2/1/020000000007 - -",
                "st0 10.42.0.2 255.255.255.0 10.42.0.255",
                "st0 fd42::2 ffff:ffff:ffff:ffff:: -",
                "st0 fe80::7%2 ffff:ffff:ffff:ffff:: -",
            }));
  struct if_nameindex* names = if_nameindex();
  ASSERT_NE(names, nullptr);
  EXPECT_STREQ(names[0].if_name, "lo");
  EXPECT_STREQ(names[1].if_name, "st0");
  EXPECT_EQ(names[1].if_index, 2u);
  EXPECT_EQ(names[2].if_name, nullptr);
  if_freenameindex(names);
  EXPECT_EQ(if_nametoindex("st0"), 2u);
  errno = 0;
  EXPECT_EQ(if_nametoindex("eth0"), 0u);
  EXPECT_EQ(errno, ENODEV);
  char name[IF_NAMESIZE];
  ASSERT_EQ(if_indextoname(2, name), name);
  EXPECT_STREQ(name, "st0");
  errno = 0;
  EXPECT_EQ(if_indextoname(77, name), nullptr);
  EXPECT_EQ(errno, ENXIO);
}

TEST_F(IfAddrsInterposeTest, AFamilyOnTheKernelShowsTheKernelsAddresses) {
  // The kernel's own IPv6 addresses, for comparison.
  std::vector<std::string> kernel6;
  for (const std::string& line : GetIfAddrs()) {
    if (line.find(':') != std::string::npos &&
        line.find(" ll#") == std::string::npos) {
      kernel6.push_back(line);
    }
  }
  FakeStack stack(Answer());
  setenv("MSOCKET_STACK_INET", stack.path().c_str(), 1);
  std::vector<std::string> expected = {
      "lo ll#1/772/ - -",
      "lo 127.0.0.1 255.0.0.0 -",
      "st0 ll#2/1/020000000007 - -",
      "st0 10.42.0.2 255.255.255.0 10.42.0.255",
  };
  expected.insert(expected.end(), kernel6.begin(), kernel6.end());
  EXPECT_EQ(GetIfAddrs(), expected);
  // The if_* calls: the IPv4 stack's, as IPv6 has none.
  EXPECT_EQ(if_nametoindex("st0"), 2u);
}

TEST_F(IfAddrsInterposeTest, AnOlderStackdLeavesItToLibc) {
  const std::vector<std::string> kernel = GetIfAddrs();
  const unsigned int lo = if_nametoindex("lo");
  socket_v1::Response refusal;
  refusal.set_error(EINVAL);
  FakeStack stack(refusal);
  setenv("MSOCKET_STACK", stack.path().c_str(), 1);
  EXPECT_EQ(GetIfAddrs(), kernel);
  EXPECT_EQ(if_nametoindex("lo"), lo);
  EXPECT_EQ(if_nametoindex("st0"), 0u);
}

TEST_F(IfAddrsInterposeTest, AStackThatIsGoneIsAnError) {
  setenv("MSOCKET_STACK", "/nonexistent/stack", 1);
  ifaddrs* list = nullptr;
  EXPECT_EQ(getifaddrs(&list), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(if_nameindex(), nullptr);
  EXPECT_EQ(errno, ENOENT);
}

}  // namespace
