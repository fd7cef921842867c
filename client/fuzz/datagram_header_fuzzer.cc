// libFuzzer target: datagram headers on a UDP socket's pair, as the
// library decodes what stackd wrote (client/datagram_header.h), and the
// peer address and control messages it builds from them.
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>

#include "client/datagram_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stackd::client;
  std::unique_ptr<uint8_t[]> in(new uint8_t[size == 0 ? 1 : size]);
  if (size != 0) std::memcpy(in.get(), data, size);
  DatagramHeader header;
  if (!DecodeDatagramHeader(in.get(), size, &header)) return 0;
  sockaddr_storage peer;
  DatagramPeer(header, &peer);
  MaxDatagramPayload(header);
  alignas(cmsghdr) uint8_t control[256];
  for (size_t room : {size_t{0}, size_t{16}, sizeof(control)}) {
    bool truncated = false;
    if (DatagramControl(header, control, room, &truncated) > room) std::abort();
  }
  int mark = 0;
  std::memcpy(&mark, in.get(), size < sizeof(mark) ? 0 : sizeof(mark));
  DatagramMark parsed;
  ParseDatagramMark(mark, &parsed);
  return 0;
}
