#include "stackctl/render.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stackd::stackctl {
namespace {

using ::testing::HasSubstr;

admin::v1::Socket Sock(uint64_t id, const char* state, std::vector<std::string> local,
                       const char* remote) {
  admin::v1::Socket s;
  s.set_id(id);
  s.set_protocol("tcp");
  s.set_family("inet");
  s.set_state(state);
  for (const std::string& l : local) s.add_local(l);
  s.set_remote(remote);
  s.set_owner_pid(42);
  s.set_owner_uid(1000);
  s.set_bytes_in(7);
  return s;
}

TEST(RenderTest, StackLikeIpAddr) {
  admin::v1::Stack stack;
  stack.set_path("/run/stackd/blue");
  stack.set_version("0.1");
  stack.set_lwip_version("2.2.1");
  stack.set_uptime_seconds(3725);
  admin::v1::Interface* nif = stack.add_interfaces();
  nif->set_name("tap0");
  nif->set_kind("tap");
  nif->set_mtu(65520);
  nif->set_mac("02:00:00:00:00:01");
  nif->set_up(true);
  nif->set_netns("blue");
  nif->add_addresses("10.42.0.2/24");
  nif->add_addresses("fd42::2/64");
  admin::v1::Route* r = stack.add_routes();
  r->set_destination("default");
  r->set_gateway("10.42.0.1");
  r->set_interface("tap0");
  EXPECT_EQ(RenderStack(stack),
            "stack /run/stackd/blue  stackd 0.1, lwIP 2.2.1, up 1h02m\n"
            "tap0: <UP> mtu 65520 tap link 02:00:00:00:00:01 netns blue\n"
            "    inet 10.42.0.2/24\n"
            "    inet6 fd42::2/64\n"
            "routes:\n"
            "    default via 10.42.0.1 dev tap0\n");
}

TEST(RenderTest, SocketsInAlignedColumns) {
  const std::string table = RenderSockets(
      {Sock(1, "LISTEN", {"0.0.0.0:80"}, ""),
       Sock(12, "ESTABLISHED", {"10.42.0.2:80"}, "10.42.0.1:40000"),
       Sock(3, "BOUND", {"10.42.0.2:53", "10.42.0.3:53"}, "")},
      /*details=*/false);
  EXPECT_EQ(table,
            "Id  Netid  State        Local                      Peer             Process\n"
            "1   tcp    LISTEN       0.0.0.0:80                 *                pid=42,uid=1000\n"
            "12  tcp    ESTABLISHED  10.42.0.2:80               10.42.0.1:40000  pid=42,uid=1000\n"
            "3   tcp    BOUND        10.42.0.2:53,10.42.0.3:53  *                pid=42,uid=1000\n");
  EXPECT_THAT(RenderSockets({Sock(1, "LISTEN", {"0.0.0.0:80"}, "")}, /*details=*/true),
              HasSubstr("BytesIn  BytesOut  RecvQ  SendQ  Dropped\n"));
  EXPECT_EQ(RenderSockets({}, false), "Id  Netid  State  Local  Peer  Process\n");
}

TEST(RenderTest, JsonKeepsTheProtoNames) {
  admin::v1::ListSocketsResponse r;
  *r.add_sockets() = Sock(5, "LISTEN", {"0.0.0.0:22"}, "");
  const std::string json = RenderJson(r);
  EXPECT_THAT(json, HasSubstr("\"owner_pid\":42"));
  EXPECT_THAT(json, HasSubstr("\"local\":[\"0.0.0.0:22\"]"));
  EXPECT_EQ(json.back(), '\n');
}

}  // namespace
}  // namespace stackd::stackctl
