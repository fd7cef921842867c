#include "client/resolver_message.h"

#include <netinet/in.h>
#include <sys/socket.h>

namespace stackd::client::dns {
namespace {

// Compression pointers followed in one name at most: each points before
// itself, so a name cannot loop, but a long chain of pointers to pointers
// is still refused early.
constexpr int kMaxPointers = 64;
// Record sizes at least: a question is a 1-byte name and 4 bytes; a record
// a 1-byte name and 10 bytes.
constexpr size_t kMinQuestionBytes = 5;
constexpr size_t kMinRecordBytes = 11;

uint16_t Get16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

uint32_t Get32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) |
         (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}

void Put16(uint16_t v, std::vector<uint8_t>* out) {
  out->push_back(static_cast<uint8_t>(v >> 8));
  out->push_back(static_cast<uint8_t>(v & 0xff));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Whether dn_expand(3) writes `c` with a backslash in front.
bool IsSpecial(uint8_t c) {
  switch (c) {
    case '"':
    case '.':
    case ';':
    case '\\':
    case '(':
    case ')':
    case '@':
    case '$':
      return true;
    default:
      return false;
  }
}

void AppendLabel(const uint8_t* label, size_t len, std::string* text) {
  for (size_t i = 0; i < len; ++i) {
    const uint8_t c = label[i];
    if (IsSpecial(c)) {
      text->push_back('\\');
      text->push_back(static_cast<char>(c));
    } else if (c > 0x20 && c < 0x7f) {
      text->push_back(static_cast<char>(c));
    } else {
      text->push_back('\\');
      text->push_back(static_cast<char>('0' + c / 100));
      text->push_back(static_cast<char>('0' + (c / 10) % 10));
      text->push_back(static_cast<char>('0' + c % 10));
    }
  }
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

bool ParseQuestion(const uint8_t* msg, size_t len, size_t* offset,
                   Question* q) {
  if (!ReadName(msg, len, offset, &q->name)) return false;
  if (len - *offset < 4) return false;
  q->type = Get16(msg + *offset);
  q->qclass = Get16(msg + *offset + 2);
  *offset += 4;
  return true;
}

// Reads one resource record; `keep` false skips the data after checking
// its bounds (authority and additional sections).
bool ParseRecord(const uint8_t* msg, size_t len, size_t* offset, bool keep,
                 Record* r) {
  if (!ReadName(msg, len, offset, &r->name)) return false;
  if (len - *offset < 10) return false;
  const uint8_t* p = msg + *offset;
  r->type = Get16(p);
  r->rclass = Get16(p + 2);
  r->ttl = Get32(p + 4);
  const size_t rdlength = Get16(p + 8);
  *offset += 10;
  if (len - *offset < rdlength) return false;
  const size_t rdata = *offset;
  *offset += rdlength;
  if (!keep) return true;
  r->rdata.assign(msg + rdata, msg + rdata + rdlength);
  r->target.clear();
  if (r->rclass == kClassIn) {
    if (r->type == kTypeA && rdlength != 4) return false;
    if (r->type == kTypeAaaa && rdlength != 16) return false;
  }
  if (r->type == kTypeCname || r->type == kTypePtr) {
    // The name may point anywhere before it, but must fill the data.
    size_t name_end = rdata;
    if (!ReadName(msg, rdata + rdlength, &name_end, &r->target)) return false;
    if (name_end != rdata + rdlength) return false;
  }
  return true;
}

}  // namespace

bool EncodeName(std::string_view name, std::vector<uint8_t>* out) {
  std::vector<uint8_t> wire;
  if (name == "." || name.empty()) {
    out->push_back(0);
    return true;
  }
  size_t i = 0;
  while (i < name.size()) {
    const size_t length_at = wire.size();
    wire.push_back(0);
    size_t label = 0;
    while (i < name.size() && name[i] != '.') {
      uint8_t c = static_cast<uint8_t>(name[i]);
      if (c == '\\') {
        if (i + 1 >= name.size()) return false;
        if (IsDigit(name[i + 1])) {
          if (i + 3 >= name.size()) return false;  // "\DDD" needs 3 digits.
          if (!IsDigit(name[i + 2]) || !IsDigit(name[i + 3])) return false;
          const int value = (name[i + 1] - '0') * 100 +
                            (name[i + 2] - '0') * 10 + (name[i + 3] - '0');
          if (value > 255) return false;
          c = static_cast<uint8_t>(value);
          i += 4;
        } else {
          c = static_cast<uint8_t>(name[i + 1]);
          i += 2;
        }
      } else {
        ++i;
      }
      if (++label > kMaxLabelBytes) return false;
      wire.push_back(c);
    }
    if (label == 0) return false;  // "a..b", ".a"
    wire[length_at] = static_cast<uint8_t>(label);
    if (i < name.size()) ++i;  // The '.'; a final one ends the name.
    if (wire.size() + 1 > kMaxWireNameBytes) return false;
  }
  wire.push_back(0);
  out->insert(out->end(), wire.begin(), wire.end());
  return true;
}

bool EncodeQuery(uint16_t id, std::string_view name, uint16_t type,
                 uint16_t qclass, std::vector<uint8_t>* out) {
  std::vector<uint8_t> query;
  Put16(id, &query);
  Put16(0x0100, &query);  // Standard query, RD.
  Put16(1, &query);       // One question.
  Put16(0, &query);
  Put16(0, &query);
  Put16(0, &query);
  if (!EncodeName(name, &query)) return false;
  Put16(type, &query);
  Put16(qclass, &query);
  *out = std::move(query);
  return true;
}

bool ReadName(const uint8_t* msg, size_t len, size_t* offset,
              std::string* name) {
  name->clear();
  size_t pos = *offset;
  size_t wire = 0;
  int pointers = 0;
  bool jumped = false;
  for (;;) {
    if (pos >= len) return false;
    const uint8_t b = msg[pos];
    if ((b & 0xc0) == 0xc0) {
      if (len - pos < 2) return false;
      const size_t target = (static_cast<size_t>(b & 0x3f) << 8) | msg[pos + 1];
      if (target >= pos || ++pointers > kMaxPointers) return false;
      if (!jumped) {
        *offset = pos + 2;
        jumped = true;
      }
      pos = target;
      continue;
    }
    if ((b & 0xc0) != 0) return false;  // 0x40 and 0x80: no such labels.
    if (b == 0) {
      if (!jumped) *offset = pos + 1;
      return true;
    }
    if (len - pos - 1 < b) return false;
    wire += 1 + b;
    if (wire + 1 > kMaxWireNameBytes) return false;
    if (!name->empty()) name->push_back('.');
    AppendLabel(msg + pos + 1, b, name);
    pos += 1 + b;
  }
}

bool SameName(std::string_view a, std::string_view b) {
  if (!a.empty() && a.back() == '.') a.remove_suffix(1);
  if (!b.empty() && b.back() == '.') b.remove_suffix(1);
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

bool ParseMessage(const uint8_t* msg, size_t len, bool questions_only,
                  Message* out) {
  if (msg == nullptr || len < kHeaderBytes) return false;
  Message m;
  m.id = Get16(msg);
  const uint16_t flags = Get16(msg + 2);
  m.response = (flags & 0x8000) != 0;
  m.opcode = (flags >> 11) & 0xf;
  m.truncated = (flags & 0x0200) != 0;
  m.rcode = flags & 0xf;
  const size_t qdcount = Get16(msg + 4);
  const size_t ancount = Get16(msg + 6);
  const size_t nscount = Get16(msg + 8);
  const size_t arcount = Get16(msg + 10);
  const size_t body = len - kHeaderBytes;
  // Counts that cannot fit are refused before anything is stored for them.
  if (qdcount * kMinQuestionBytes > body) return false;
  if (!questions_only &&
      qdcount * kMinQuestionBytes +
              (ancount + nscount + arcount) * kMinRecordBytes >
          body) {
    return false;
  }
  size_t offset = kHeaderBytes;
  for (size_t i = 0; i < qdcount; ++i) {
    Question q;
    if (!ParseQuestion(msg, len, &offset, &q)) return false;
    m.questions.push_back(std::move(q));
  }
  if (!questions_only) {
    for (size_t i = 0; i < ancount; ++i) {
      Record r;
      if (!ParseRecord(msg, len, &offset, true, &r)) return false;
      m.answers.push_back(std::move(r));
    }
    Record skipped;
    for (size_t i = 0; i < nscount + arcount; ++i) {
      if (!ParseRecord(msg, len, &offset, false, &skipped)) return false;
    }
  }
  *out = std::move(m);
  return true;
}

bool AnswersQuery(const Message& reply, uint16_t id, std::string_view name,
                  uint16_t type, uint16_t qclass) {
  return reply.response && reply.opcode == 0 && reply.id == id &&
         reply.questions.size() == 1 && reply.questions[0].type == type &&
         reply.questions[0].qclass == qclass &&
         SameName(reply.questions[0].name, name);
}

std::string ReverseName(int family, const uint8_t* ip) {
  static const char kHex[] = "0123456789abcdef";
  std::string name;
  if (family == AF_INET) {
    for (int i = 3; i >= 0; --i) {
      name += std::to_string(ip[i]);
      name += '.';
    }
    name += "in-addr.arpa";
    return name;
  }
  for (int i = 15; i >= 0; --i) {
    name += kHex[ip[i] & 0xf];
    name += '.';
    name += kHex[ip[i] >> 4];
    name += '.';
  }
  name += "ip6.arpa";
  return name;
}

}  // namespace stackd::client::dns
