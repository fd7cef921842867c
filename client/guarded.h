// Guarded(): runs a call that returns 0 or an errno without letting a C++
// exception (out of memory inside protobuf) escape into a C caller. For the
// library's entry points (interpose.cc, mconnect.cc).
#ifndef CLIENT_GUARDED_H_
#define CLIENT_GUARDED_H_

#include <cerrno>
#include <new>

namespace stackd::client {

template <typename Call>
int Guarded(Call call) {
  try {
    return call();
  } catch (const std::bad_alloc&) {
    return ENOMEM;
  } catch (...) {
    return EPROTO;
  }
}

}  // namespace stackd::client

#endif  // CLIENT_GUARDED_H_
