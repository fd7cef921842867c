// libFuzzer target: DNS answers from the network, as the library's resolver
// reads them (client/resolver_message.h). Every input is parsed whole and
// question-only, every name in it is read from every offset, and what
// parses is checked against the query it would answer, with the sanitizers
// watching for reads outside the message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>

#include "client/resolver_message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace dns = stackd::client::dns;
  if (size > dns::kMaxMessageBytes) return 0;
  // An exact-size copy, so that a read past the end is the sanitizer's.
  std::unique_ptr<uint8_t[]> msg(new uint8_t[size == 0 ? 1 : size]);
  if (size != 0) std::memcpy(msg.get(), data, size);
  for (bool questions_only : {false, true}) {
    dns::Message parsed;
    if (dns::ParseMessage(msg.get(), size, questions_only, &parsed)) {
      dns::AnswersQuery(parsed, 0x1234, "example.com", dns::kTypeA, dns::kClassIn);
    }
  }
  for (size_t offset = 0; offset < size && offset < 512; ++offset) {
    size_t at = offset;
    std::string name;
    if (dns::ReadName(msg.get(), size, &at, &name) && at > size) std::abort();
  }
  return 0;
}
