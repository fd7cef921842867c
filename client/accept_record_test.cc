#include "client/accept_record.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace stackd::client {
namespace {

using socket::v1::AcceptRecord;

// A record as stackd writes it: version, length, message, zero padding.
std::string Record(uint16_t version, const std::string& body,
                   int length_delta = 0) {
  std::string r(kAcceptRecordBytes, '\0');
  const auto length = static_cast<uint16_t>(body.size() + length_delta);
  r[0] = static_cast<char>(version & 0xff);
  r[1] = static_cast<char>(version >> 8);
  r[2] = static_cast<char>(length & 0xff);
  r[3] = static_cast<char>(length >> 8);
  r.replace(4, body.size(), body);
  return r;
}

std::string GoodBody() {
  AcceptRecord rec;
  rec.mutable_local()->set_family(AF_INET);
  rec.mutable_local()->set_ip(std::string("\x0a\x2a\x00\x02", 4));
  rec.mutable_local()->set_port(80);
  rec.mutable_peer()->set_family(AF_INET6);
  rec.mutable_peer()->set_ip(std::string(15, '\0') + "\x01");
  rec.mutable_peer()->set_port(40000);
  rec.mutable_peer()->set_scope_id(2);
  return rec.SerializeAsString();
}

TEST(ParseAcceptRecord, Good) {
  const std::string r = Record(1, GoodBody());
  AcceptRecord out;
  ASSERT_EQ(ParseAcceptRecord(r.data(), r.size(), &out), 0);
  EXPECT_EQ(out.local().port(), 80u);
  EXPECT_EQ(out.peer().family(), AF_INET6);
  EXPECT_EQ(out.peer().port(), 40000u);
  EXPECT_EQ(out.peer().scope_id(), 2u);
}

TEST(ParseAcceptRecord, LargestBodyFits) {
  // Padding the peer's IP out so that the message fills the record.
  AcceptRecord rec;
  rec.mutable_peer()->set_family(AF_INET);
  rec.mutable_peer()->set_ip(std::string(4, '\x01'));
  std::string body = rec.SerializeAsString();
  // local: field tag and length (2 bytes), ip's tag and length (2 bytes).
  rec.mutable_local()->set_ip(
      std::string(kAcceptRecordBytes - 4 - body.size() - 4, 'x'));
  body = rec.SerializeAsString();
  ASSERT_EQ(body.size(), kAcceptRecordBytes - 4);
  const std::string r = Record(1, body);
  AcceptRecord out;
  EXPECT_EQ(ParseAcceptRecord(r.data(), r.size(), &out), 0);
}

TEST(ParseAcceptRecord, Truncated) {
  const std::string r = Record(1, GoodBody());
  AcceptRecord out;
  EXPECT_EQ(ParseAcceptRecord(r.data(), kAcceptRecordBytes - 1, &out), EPROTO);
  EXPECT_EQ(ParseAcceptRecord(r.data(), 3, &out), EPROTO);
  EXPECT_EQ(ParseAcceptRecord(r.data(), 0, &out), EPROTO);
  EXPECT_EQ(ParseAcceptRecord(nullptr, kAcceptRecordBytes, &out), EPROTO);
}

TEST(ParseAcceptRecord, MessageCutShort) {
  // The length field claims less than the message: it no longer parses.
  const std::string body = GoodBody();
  const std::string r = Record(1, body, -3);
  AcceptRecord out;
  EXPECT_EQ(ParseAcceptRecord(r.data(), r.size(), &out), EPROTO);
}

TEST(ParseAcceptRecord, LengthPastRecord) {
  std::string r = Record(1, GoodBody());
  r[2] = static_cast<char>(kAcceptRecordBytes - 3);  // 125 > 124.
  r[3] = 0;
  AcceptRecord out;
  EXPECT_EQ(ParseAcceptRecord(r.data(), r.size(), &out), EPROTO);
  r[2] = '\xff';
  r[3] = '\xff';
  EXPECT_EQ(ParseAcceptRecord(r.data(), r.size(), &out), EPROTO);
}

TEST(ParseAcceptRecord, WrongVersion) {
  AcceptRecord out;
  for (uint16_t version : {0, 2, 0x100, 0xffff}) {
    const std::string r = Record(version, GoodBody());
    EXPECT_EQ(ParseAcceptRecord(r.data(), r.size(), &out), EPROTO) << version;
  }
}

TEST(ParseAcceptRecord, NoPeer) {
  AcceptRecord rec;
  rec.mutable_local()->set_family(AF_INET);
  const std::string r = Record(1, rec.SerializeAsString());
  AcceptRecord out;
  EXPECT_EQ(ParseAcceptRecord(r.data(), r.size(), &out), EPROTO);
}

TEST(ParseAcceptRecord, Garbage) {
  AcceptRecord out;
  std::string r = Record(1, std::string(40, '\xff'));
  EXPECT_EQ(ParseAcceptRecord(r.data(), r.size(), &out), EPROTO);
  // Deterministic noise behind a valid header: never a crash, and nothing
  // without a peer is accepted.
  uint32_t x = 12345;
  for (int round = 0; round < 2000; ++round) {
    std::string noise(kAcceptRecordBytes, '\0');
    for (char& c : noise) {
      x = x * 1103515245 + 12345;
      c = static_cast<char>(x >> 16);
    }
    noise[0] = 1;
    noise[1] = 0;
    noise[2] = static_cast<char>(round % 125);
    noise[3] = 0;
    const int error = ParseAcceptRecord(noise.data(), noise.size(), &out);
    if (error == 0) EXPECT_TRUE(out.has_peer());
  }
}

}  // namespace
}  // namespace stackd::client
