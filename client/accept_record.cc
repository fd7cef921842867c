#include "client/accept_record.h"

#include <cerrno>

namespace stackd::client {
namespace {

constexpr size_t kHeaderBytes = 4;

uint16_t LoadLe16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

}  // namespace

int ParseAcceptRecord(const void* data, size_t size,
                      socket::v1::AcceptRecord* out) {
  if (data == nullptr || size != kAcceptRecordBytes) return EPROTO;
  const auto* bytes = static_cast<const uint8_t*>(data);
  if (LoadLe16(bytes) != kAcceptRecordVersion) return EPROTO;
  const size_t length = LoadLe16(bytes + 2);
  if (length > size - kHeaderBytes) return EPROTO;
  if (!out->ParseFromArray(bytes + kHeaderBytes, static_cast<int>(length))) {
    return EPROTO;
  }
  if (!out->has_peer()) return EPROTO;
  return 0;
}

}  // namespace stackd::client
