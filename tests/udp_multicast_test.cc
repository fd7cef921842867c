// Multicast through stackd: a stack UDP socket joins a group (IGMP for
// IPv4, MLD for IPv6), a kernel socket in the test bed's namespace sends to
// the group over the TAP, and the stack socket receives it, with the group
// as the datagram's local address; before joining and after leaving it
// does not. Joining twice and leaving a group not joined fail as on Linux.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "client/msocket.h"
#include "gtest/gtest.h"
#include "tests/netns_peer.h"
#include "tests/testbed.h"

namespace stackd::testbed {
namespace {

constexpr absl::Duration kWait = absl::Seconds(5);
constexpr absl::Duration kQuiet = absl::Milliseconds(300);
constexpr uint16_t kPort = 5353;

class UdpMulticastTest : public TcpTest {
 protected:
  // The kernel's index of the TAP inside the namespace.
  int TapIndex() {
    CommandResult r = bed_->Run(absl::StrCat("cat /sys/class/net/", bed_->tap_name(), "/ifindex"));
    int index = 0;
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(r.out), &index)) << r.out;
    return index;
  }

  // recvmsg with IP_PKTINFO / IPV6_PKTINFO: the payload and the local
  // (destination) address, or an empty payload if nothing came.
  struct Got {
    std::string data;
    std::string local;
    SockAddr from;
  };
  Got ReceiveWithInfo(int fd, absl::Duration timeout) {
    Got got;
    if ((PollFor(fd, POLLIN, timeout) & POLLIN) == 0) return got;
    char buf[256];
    iovec iov{buf, sizeof(buf)};
    alignas(cmsghdr) char control[256];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    msg.msg_name = &got.from.storage;
    msg.msg_namelen = sizeof(got.from.storage);
    const ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
    if (n < 0) return got;
    got.from.len = msg.msg_namelen;
    got.data.assign(buf, static_cast<size_t>(n));
    char text[INET6_ADDRSTRLEN] = {};
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof(info));
        inet_ntop(AF_INET, &info.ipi_addr, text, sizeof(text));
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof(info));
        inet_ntop(AF_INET6, &info.ipi6_addr, text, sizeof(text));
      }
    }
    got.local = text;
    return got;
  }
};

TEST_F(UdpMulticastTest, Ipv4GroupThroughIgmp) {
  const char* group = "239.42.0.7";
  CommandResult route = bed_->Run(
      absl::StrCat("ip route add 224.0.0.0/4 dev ", bed_->tap_name()));
  ASSERT_EQ(route.exit_code, 0) << route.err;

  ScopedFd stack(StackSocket(AF_INET, SOCK_DGRAM));
  ASSERT_GE(stack.get(), 0) << std::strerror(errno);
  const int one = 1;
  ASSERT_EQ(setsockopt(stack.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
  ASSERT_EQ(setsockopt(stack.get(), IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)), 0);
  const SockAddr any = MakeSockAddr("0.0.0.0", kPort);
  ASSERT_EQ(bind(stack.get(), any.get(), any.len), 0) << std::strerror(errno);

  absl::StatusOr<ScopedFd> kernel = KernelSocket(bed_->netns(), AF_INET, SOCK_DGRAM);
  ASSERT_TRUE(kernel.ok()) << kernel.status();
  const SockAddr to = MakeSockAddr(group, kPort);

  // Not a member yet: the stack does not take it.
  ASSERT_EQ(sendto(kernel->get(), "early", 5, 0, to.get(), to.len), 5) << std::strerror(errno);
  EXPECT_TRUE(ReceiveWithInfo(stack.get(), kQuiet).data.empty());

  ip_mreq mreq{};
  inet_pton(AF_INET, group, &mreq.imr_multiaddr);
  mreq.imr_interface.s_addr = htonl(INADDR_ANY);
  ASSERT_EQ(setsockopt(stack.get(), IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)), 0)
      << std::strerror(errno);
  EXPECT_EQ(setsockopt(stack.get(), IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)), -1);
  EXPECT_EQ(errno, EADDRINUSE);
  ip_mreq unicast = mreq;
  inet_pton(AF_INET, "10.42.0.1", &unicast.imr_multiaddr);
  EXPECT_EQ(setsockopt(stack.get(), IPPROTO_IP, IP_ADD_MEMBERSHIP, &unicast, sizeof(unicast)),
            -1);
  EXPECT_EQ(errno, EINVAL);

  ASSERT_EQ(sendto(kernel->get(), "hello group", 11, 0, to.get(), to.len), 11);
  Got got = ReceiveWithInfo(stack.get(), kWait);
  EXPECT_EQ(got.data, "hello group");
  EXPECT_EQ(got.local, group);
  EXPECT_EQ(got.from.ip(), std::string(kKernelIp4));

  // ip_mreqn with the stack's address names the interface just as well.
  ASSERT_EQ(setsockopt(stack.get(), IPPROTO_IP, IP_DROP_MEMBERSHIP, &mreq, sizeof(mreq)), 0)
      << std::strerror(errno);
  EXPECT_EQ(setsockopt(stack.get(), IPPROTO_IP, IP_DROP_MEMBERSHIP, &mreq, sizeof(mreq)), -1);
  EXPECT_EQ(errno, EADDRNOTAVAIL);
  ASSERT_EQ(sendto(kernel->get(), "left", 4, 0, to.get(), to.len), 4);
  EXPECT_TRUE(ReceiveWithInfo(stack.get(), kQuiet).data.empty()) << "received after leaving";

  ip_mreqn mreqn{};
  mreqn.imr_multiaddr = mreq.imr_multiaddr;
  inet_pton(AF_INET, std::string(kStackIp4).c_str(), &mreqn.imr_address);
  ASSERT_EQ(setsockopt(stack.get(), IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreqn, sizeof(mreqn)), 0)
      << std::strerror(errno);
  ASSERT_EQ(sendto(kernel->get(), "back", 4, 0, to.get(), to.len), 4);
  EXPECT_EQ(ReceiveWithInfo(stack.get(), kWait).data, "back");
}

TEST_F(UdpMulticastTest, Ipv6GroupThroughMld) {
  const char* group = "ff0e::42:7";
  ScopedFd stack(StackSocket(AF_INET6, SOCK_DGRAM));
  ASSERT_GE(stack.get(), 0) << std::strerror(errno);
  const int one = 1;
  ASSERT_EQ(setsockopt(stack.get(), IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)), 0);
  const SockAddr any = MakeSockAddr("::", kPort);
  ASSERT_EQ(bind(stack.get(), any.get(), any.len), 0) << std::strerror(errno);

  absl::StatusOr<ScopedFd> kernel = KernelSocket(bed_->netns(), AF_INET6, SOCK_DGRAM);
  ASSERT_TRUE(kernel.ok()) << kernel.status();
  const int tap = TapIndex();
  ASSERT_GT(tap, 0);
  ASSERT_EQ(setsockopt(kernel->get(), IPPROTO_IPV6, IPV6_MULTICAST_IF, &tap, sizeof(tap)), 0)
      << std::strerror(errno);
  const SockAddr to = MakeSockAddr(group, kPort);

  ASSERT_EQ(sendto(kernel->get(), "early", 5, 0, to.get(), to.len), 5) << std::strerror(errno);
  EXPECT_TRUE(ReceiveWithInfo(stack.get(), kQuiet).data.empty());

  ipv6_mreq mreq{};
  inet_pton(AF_INET6, group, &mreq.ipv6mr_multiaddr);
  mreq.ipv6mr_interface = 0;
  ASSERT_EQ(setsockopt(stack.get(), IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq, sizeof(mreq)), 0)
      << std::strerror(errno);
  EXPECT_EQ(setsockopt(stack.get(), IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq, sizeof(mreq)), -1);
  EXPECT_EQ(errno, EADDRINUSE);

  ASSERT_EQ(sendto(kernel->get(), "hello group", 11, 0, to.get(), to.len), 11);
  Got got = ReceiveWithInfo(stack.get(), kWait);
  EXPECT_EQ(got.data, "hello group");
  EXPECT_EQ(got.local, group);
  EXPECT_EQ(got.from.ip().rfind("fe80::", 0) == 0 || got.from.ip() == std::string(kKernelIp6),
            true)
      << got.from.ToString();

  ASSERT_EQ(setsockopt(stack.get(), IPPROTO_IPV6, IPV6_LEAVE_GROUP, &mreq, sizeof(mreq)), 0)
      << std::strerror(errno);
  ASSERT_EQ(sendto(kernel->get(), "left", 4, 0, to.get(), to.len), 4);
  EXPECT_TRUE(ReceiveWithInfo(stack.get(), kQuiet).data.empty()) << "received after leaving";
}

TEST_F(UdpMulticastTest, ClosingLeavesTheGroup) {
  const char* group = "239.42.0.8";
  CommandResult route = bed_->Run(
      absl::StrCat("ip route add 224.0.0.0/4 dev ", bed_->tap_name()));
  ASSERT_EQ(route.exit_code, 0) << route.err;
  ip_mreq mreq{};
  inet_pton(AF_INET, group, &mreq.imr_multiaddr);
  {
    ScopedFd member(StackSocket(AF_INET, SOCK_DGRAM));
    ASSERT_GE(member.get(), 0);
    ASSERT_EQ(setsockopt(member.get(), IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)), 0);
  }
  // The member is gone; a socket on the port that never joined gets
  // nothing once stackd has seen the close.
  ScopedFd listener(StackSocket(AF_INET, SOCK_DGRAM));
  ASSERT_GE(listener.get(), 0);
  const SockAddr any = MakeSockAddr("0.0.0.0", kPort);
  ASSERT_EQ(bind(listener.get(), any.get(), any.len), 0);
  absl::StatusOr<ScopedFd> kernel = KernelSocket(bed_->netns(), AF_INET, SOCK_DGRAM);
  ASSERT_TRUE(kernel.ok());
  const SockAddr to = MakeSockAddr(group, kPort);
  absl::SleepFor(absl::Milliseconds(200));
  ASSERT_EQ(sendto(kernel->get(), "orphan", 6, 0, to.get(), to.len), 6);
  EXPECT_TRUE(ReceiveWithInfo(listener.get(), kQuiet).data.empty())
      << "the group outlived the socket that joined it";
}

}  // namespace
}  // namespace stackd::testbed
