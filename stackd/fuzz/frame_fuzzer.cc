// libFuzzer target: frames from a hostile link into the stack.
//
// The input is a sequence of frames, each prefixed by its length (2 bytes,
// big-endian), handed to Stack::Input() in turn, with lwIP's fake clock
// moved between them by the low bits of the length, so that timers
// (reassembly, retransmission, ARP and ND) run too. The stack has IPv4 and
// IPv6 addresses, a TCP listener (backlog 2) that accepts and echoes, and a UDP socket
// that echoes, so that frames reach every layer. Anything lwIP asserts, or
// the sanitizers see, is a finding.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"
#include "stackd/addresses.h"
#include "stackd/lwip_port/sys_arch.h"
#include "stackd/stack.h"

namespace {

uint32_t fake_now_ms = 1'000'000;

err_t Echo(void*, tcp_pcb* pcb, pbuf* p, err_t) {
  if (p == nullptr) {
    tcp_arg(pcb, nullptr);
    tcp_recv(pcb, nullptr);
    if (tcp_close(pcb) != ERR_OK) tcp_abort(pcb);
    return ERR_OK;
  }
  for (pbuf* q = p; q != nullptr; q = q->next) {
    tcp_write(pcb, q->payload, q->len, TCP_WRITE_FLAG_COPY);
  }
  tcp_recved(pcb, p->tot_len);
  pbuf_free(p);
  return ERR_OK;
}

err_t Accept(void*, tcp_pcb* pcb, err_t err) {
  if (err != ERR_OK || pcb == nullptr) return ERR_VAL;
  tcp_recv(pcb, Echo);
  return ERR_OK;
}

void UdpEcho(void*, udp_pcb* pcb, pbuf* p, const ip_addr_t* addr, u16_t port) {
  udp_sendto(pcb, p, addr, port);
  pbuf_free(p);
}

// The stack, its listener and its UDP socket, made once per process (lwIP
// keeps its state in globals).
stackd::Stack* TheStack() {
  static stackd::Stack* stack = [] {
    stackd::SetLwipClockForTest([] { return fake_now_ms; });
    stackd::Stack::Options options;
    options.link_name = "fuzz0";
    options.mac.bytes = {0x02, 0, 0, 0, 0, 0x02};
    options.mtu = 65520;
    options.addresses.push_back(*stackd::IpPrefix::Parse("10.42.0.2/24"));
    options.addresses.push_back(*stackd::IpPrefix::Parse("10.43.0.2/24"));
    options.addresses.push_back(*stackd::IpPrefix::Parse("fd42::2/64"));
    auto made = stackd::Stack::Create(options, [](const uint8_t*, size_t) { return true; });
    if (!made.ok()) std::abort();
    tcp_pcb* pcb = tcp_new_ip_type(IPADDR_TYPE_ANY);
    tcp_bind(pcb, IP_ANY_TYPE, 7777);
    // A backlog of 2: a few SYNs fill it, so SYN cookies are reached too.
    pcb = tcp_listen_with_backlog(pcb, 2);
    tcp_accept(pcb, Accept);
    udp_pcb* udp = udp_new_ip_type(IPADDR_TYPE_ANY);
    udp_bind(udp, IP_ANY_TYPE, 9999);
    udp_recv(udp, UdpEcho, nullptr);
    return made->release();
  }();
  return stack;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  stackd::Stack* stack = TheStack();
  size_t at = 0;
  while (at + 2 <= size) {
    const size_t len = static_cast<size_t>(data[at]) << 8 | data[at + 1];
    at += 2;
    const size_t take = len <= size - at ? len : size - at;
    // Copied, so that reads past the frame are the sanitizer's to see.
    std::unique_ptr<uint8_t[]> frame(new uint8_t[take == 0 ? 1 : take]);
    if (take != 0) std::memcpy(frame.get(), data + at, take);
    stack->Input(frame.get(), take);
    at += take;
    fake_now_ms += static_cast<uint32_t>(len & 0x3ff);
    stack->Poll();
  }
  // Let timers run past every age lwIP keeps (reassembly 60 s, TIME-WAIT
  // 60 s, neighbour queues), then drop every connection, so that one
  // input's state does not pile up into the next. lwIP runs a cyclic timer
  // once per late call, so the clock moves in steps shorter than its
  // fastest timer's interval.
  for (int i = 0; i < 800; ++i) {
    fake_now_ms += 200;
    stack->Poll();
  }
  while (tcp_active_pcbs != nullptr) tcp_abort(tcp_active_pcbs);
  while (tcp_tw_pcbs != nullptr) tcp_abort(tcp_tw_pcbs);
  return 0;
}
