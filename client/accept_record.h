// The records a listening stack socket carries instead of data
// (docs/socket-protocol.md, "Listening sockets"): kAcceptRecordBytes bytes,
// a little-endian u16 version (1), a little-endian u16 length N, N bytes of
// an AcceptRecord message, zero padding. The new connection's fd rides on
// the record as SCM_RIGHTS.
#ifndef CLIENT_ACCEPT_RECORD_H_
#define CLIENT_ACCEPT_RECORD_H_

#include <cstddef>
#include <cstdint>

#include "proto/socket.pb.h"

namespace stackd::client {

inline constexpr size_t kAcceptRecordBytes = 128;
inline constexpr uint16_t kAcceptRecordVersion = 1;
// A record of version 0 with no fd: the listener was shut down; accept()
// fails with EINVAL. stackd sends a few, to wake every blocked accept.
inline constexpr uint16_t kAcceptRecordEnd = 0;

// Parses one record of `size` bytes at `data` into *out. Returns 0, or
// EPROTO: `size` is not kAcceptRecordBytes, the version is not 1, N runs
// past the record, the message does not parse, or it has no peer address.
int ParseAcceptRecord(const void* data, size_t size,
                      socket::v1::AcceptRecord* out);

}  // namespace stackd::client

#endif  // CLIENT_ACCEPT_RECORD_H_
