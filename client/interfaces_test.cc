// A stack's interfaces as getifaddrs(3) and if_nameindex(3) lists: the
// entries, their layout (freed by glibc's own freeifaddrs and
// if_freenameindex), and the control call against a fake stack that
// answers it, and one that predates it.
#include "client/interfaces.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if_arp.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "proto/socket.pb.h"

namespace stackd::client {
namespace {

using socket::v1::Interface;
using socket::v1::InterfaceList;

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

TEST(InterfacesTest, StackEntriesLaidOutAsGlibcFreesThem) {
  std::vector<IfAddrEntry> entries;
  AppendStackEntries(TwoInterfaces(), true, true, &entries);
  ifaddrs* list = nullptr;
  ASSERT_EQ(LayOutIfAddrs(entries, &list), 0);
  ASSERT_NE(list, nullptr);
  EXPECT_EQ(Lines(list),
            (std::vector<std::string>{
                "lo ll#1/772/ - -",
                "lo 127.0.0.1 255.0.0.0 -",
                "lo ::1 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff -",
                "st0 ll#2/1/020000000007 - -",
                "st0 10.42.0.2 255.255.255.0 10.42.0.255",
                "st0 fd42::2 ffff:ffff:ffff:ffff:: -",
                "st0 fe80::7%2 ffff:ffff:ffff:ffff:: -",
            }));
  EXPECT_EQ(list->ifa_flags, static_cast<unsigned>(IFF_UP | IFF_RUNNING | IFF_LOOPBACK));
  EXPECT_EQ(list->ifa_data, nullptr);
  freeifaddrs(list);  // glibc's: one free() of the block.
}

TEST(InterfacesTest, OnlyTheFamiliesAsked) {
  std::vector<IfAddrEntry> entries;
  AppendStackEntries(TwoInterfaces(), true, false, &entries);
  ifaddrs* list = nullptr;
  ASSERT_EQ(LayOutIfAddrs(entries, &list), 0);
  EXPECT_EQ(Lines(list), (std::vector<std::string>{
                             "lo ll#1/772/ - -",
                             "lo 127.0.0.1 255.0.0.0 -",
                             "st0 ll#2/1/020000000007 - -",
                             "st0 10.42.0.2 255.255.255.0 10.42.0.255",
                         }));
  freeifaddrs(list);
}

TEST(InterfacesTest, MalformedAddressesAndNamesAreLeftOut) {
  InterfaceList list;
  Interface* bad = list.add_interfaces();
  bad->set_name("a-name-much-too-long-for-linux");
  bad->set_index(3);
  Interface* ok = list.add_interfaces();
  ok->set_name("ok0");
  ok->set_index(4);
  auto* a = ok->add_addresses();
  a->mutable_address()->set_family(AF_INET);
  a->mutable_address()->set_ip("\x01\x02\x03", 3);  // Too short.
  AddAddress(ok, AF_INET, "10.0.0.1", 33);           // Prefix too long.
  std::vector<IfAddrEntry> entries;
  AppendStackEntries(list, true, true, &entries);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].name, "ok0");
}

TEST(InterfacesTest, NoEntriesIsANullList) {
  ifaddrs* list = reinterpret_cast<ifaddrs*>(1);
  ASSERT_EQ(LayOutIfAddrs({}, &list), 0);
  EXPECT_EQ(list, nullptr);
}

TEST(InterfacesTest, KernelEntriesOfTheFamiliesAsked) {
  ifaddrs* kernel = nullptr;
  ASSERT_EQ(getifaddrs(&kernel), 0);
  size_t inet = 0;
  for (ifaddrs* i = kernel; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr != nullptr && i->ifa_addr->sa_family == AF_INET) ++inet;
  }
  std::vector<IfAddrEntry> entries;
  AppendKernelEntries(kernel, true, false, &entries);
  EXPECT_EQ(entries.size(), inet);
  ifaddrs* copy = nullptr;
  ASSERT_EQ(LayOutIfAddrs(entries, &copy), 0);
  std::vector<std::string> expected;
  for (ifaddrs* i = kernel; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr != nullptr && i->ifa_addr->sa_family == AF_INET) {
      expected.push_back(std::string(i->ifa_name) + " " + Text(i->ifa_addr) +
                         " " + Text(i->ifa_netmask) + " " +
                         Text(i->ifa_broadaddr));
    }
  }
  EXPECT_EQ(Lines(copy), expected);
  freeifaddrs(copy);
  freeifaddrs(kernel);
}

TEST(InterfacesTest, NameIndexAndLookups) {
  const InterfaceList list = TwoInterfaces();
  struct if_nameindex* names = nullptr;
  ASSERT_EQ(NameIndex(list, &names), 0);
  ASSERT_NE(names, nullptr);
  EXPECT_EQ(names[0].if_index, 1u);
  EXPECT_STREQ(names[0].if_name, "lo");
  EXPECT_EQ(names[1].if_index, 2u);
  EXPECT_STREQ(names[1].if_name, "st0");
  EXPECT_EQ(names[2].if_index, 0u);
  EXPECT_EQ(names[2].if_name, nullptr);
  if_freenameindex(names);  // glibc's.
  EXPECT_EQ(IndexOf(list, "st0"), 2u);
  EXPECT_EQ(IndexOf(list, "eth0"), 0u);
  EXPECT_EQ(IndexOf(list, nullptr), 0u);
  ASSERT_NE(NameOf(list, 1), nullptr);
  EXPECT_EQ(*NameOf(list, 1), "lo");
  EXPECT_EQ(NameOf(list, 9), nullptr);
  EXPECT_EQ(NameOf(list, 0), nullptr);
}

// A fake stack that answers every request with `response` (version set).
class FakeStack {
 public:
  explicit FakeStack(socket::v1::Response response)
      : response_(std::move(response)) {
    response_.set_version(socket::v1::PROTOCOL_VERSION_CURRENT);
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
  socket::v1::Response response_;
  std::string dir_;
  std::string path_;
  int fd_ = -1;
  int stop_[2] = {-1, -1};
  std::thread thread_;
};

TEST(StackInterfacesTest, TheStacksAnswer) {
  socket::v1::Response response;
  *response.mutable_interfaces() = TwoInterfaces();
  FakeStack stack(response);
  InterfaceList list;
  ASSERT_EQ(StackInterfaces(stack.path().c_str(), &list), 0);
  ASSERT_EQ(list.interfaces_size(), 2);
  EXPECT_EQ(list.interfaces(1).name(), "st0");
}

TEST(StackInterfacesTest, AnOlderStackdIsNotSupported) {
  socket::v1::Response response;
  response.set_error(EINVAL);  // What it says of a request it cannot parse.
  FakeStack stack(response);
  InterfaceList list;
  EXPECT_EQ(StackInterfaces(stack.path().c_str(), &list), EOPNOTSUPP);
}

TEST(StackInterfacesTest, AStackdWithoutAHandlerIsNotSupported) {
  socket::v1::Response response;
  response.set_error(EBADF);  // It took the request for one about a socket.
  FakeStack stack(response);
  InterfaceList list;
  EXPECT_EQ(StackInterfaces(stack.path().c_str(), &list), EOPNOTSUPP);
}

TEST(StackInterfacesTest, NoStack) {
  InterfaceList list;
  EXPECT_EQ(StackInterfaces("/nonexistent/stack", &list), ENOENT);
}

}  // namespace
}  // namespace stackd::client
