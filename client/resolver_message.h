// DNS messages (RFC 1035) as the library's resolver sends and reads them:
// queries are encoded here, answers parsed here, with every length and
// offset checked against the message, because an answer is whatever some
// host on the network chose to send. A malformed answer is refused (false),
// never read past its end; name compression is followed only backwards,
// so pointer loops end.
//
// Names are text as dn_expand(3) writes them: labels joined by '.', no
// final dot; '.', '\\' and bytes outside printable ASCII inside a label
// escaped ("\\.", "\\\\", "\\DDD"). EncodeName() reads the same escapes.
//
// Thread: any; no state.
#ifndef CLIENT_RESOLVER_MESSAGE_H_
#define CLIENT_RESOLVER_MESSAGE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace stackd::client::dns {

inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypeCname = 5;
inline constexpr uint16_t kTypePtr = 12;
inline constexpr uint16_t kTypeAaaa = 28;
inline constexpr uint16_t kClassIn = 1;

inline constexpr size_t kHeaderBytes = 12;
// The largest answer over UDP without EDNS(0), which queries do not offer.
inline constexpr size_t kMaxUdpBytes = 512;
// The largest message at all (TCP's 16-bit length prefix).
inline constexpr size_t kMaxMessageBytes = 65535;
// A name on the wire: at most 255 bytes including length bytes and root.
inline constexpr size_t kMaxWireNameBytes = 255;
inline constexpr size_t kMaxLabelBytes = 63;

// Response codes.
inline constexpr int kNoError = 0;
inline constexpr int kFormErr = 1;
inline constexpr int kServFail = 2;
inline constexpr int kNxDomain = 3;
inline constexpr int kNotImp = 4;
inline constexpr int kRefused = 5;

// `name` in wire form (length-prefixed labels, root label last) appended
// to *out. A final '.' is allowed; "" and "." are the root. False (and
// *out unchanged) for an empty label, a label over 63 bytes, a name over
// 255 bytes, or a bad escape.
bool EncodeName(std::string_view name, std::vector<uint8_t>* out);

// A standard query with recursion desired: header with `id`, one question
// (`name`, `type`, `qclass`). False if `name` cannot be encoded.
bool EncodeQuery(uint16_t id, std::string_view name, uint16_t type,
                 uint16_t qclass, std::vector<uint8_t>* out);

// Reads the name at *offset of the `len` bytes at `msg`, following
// compression pointers (each must point before itself, at most
// kMaxWireNameBytes bytes of labels in all); *offset moves past the name
// as it is written there. False, with *offset and *name unspecified, for a
// name that leaves the message, a forward or self pointer, reserved label
// types, or more than 255 bytes.
bool ReadName(const uint8_t* msg, size_t len, size_t* offset,
              std::string* name);

// Whether two names are the same: ASCII case-insensitive, a final '.'
// ignored.
bool SameName(std::string_view a, std::string_view b);

struct Question {
  std::string name;
  uint16_t type = 0;
  uint16_t qclass = 0;
};

struct Record {
  std::string name;
  uint16_t type = 0;
  uint16_t rclass = 0;
  uint32_t ttl = 0;
  std::vector<uint8_t> rdata;  // As on the wire (for A and AAAA: the address).
  std::string target;          // CNAME and PTR: the name the data holds.
};

struct Message {
  uint16_t id = 0;
  bool response = false;   // QR.
  int opcode = 0;
  bool truncated = false;  // TC.
  int rcode = 0;
  std::vector<Question> questions;
  std::vector<Record> answers;  // The answer section only.
};

// Parses the `len` bytes at `msg`. With `questions_only`, stops after the
// question section (for a truncated answer, whose records may be cut).
// False if the message is malformed anywhere it was read: a short header,
// counts beyond the data, a bad name, an A record whose data is not 4 bytes
// (AAAA: 16), a CNAME or PTR whose data is not exactly one name. Bytes
// after the last section are ignored.
bool ParseMessage(const uint8_t* msg, size_t len, bool questions_only,
                  Message* out);

// Whether `reply` answers the query (`id`, `name`, `type`, `qclass`): a
// response (QR) to a standard query with that id and exactly that
// question (the name compared with SameName()).
bool AnswersQuery(const Message& reply, uint16_t id, std::string_view name,
                  uint16_t type, uint16_t qclass);

// "4.3.2.1.in-addr.arpa" for 1.2.3.4 (`family` AF_INET, 4 bytes at `ip`),
// or the 32-nibble ip6.arpa name for an IPv6 address.
std::string ReverseName(int family, const uint8_t* ip);

}  // namespace stackd::client::dns

#endif  // CLIENT_RESOLVER_MESSAGE_H_
