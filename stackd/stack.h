// Stack: the one lwIP instance of this process and its link.
//
// Stack initialises lwIP, brings up an Ethernet netif with the configured
// addresses and gateways, carries frames between the link (a TAP device in
// stackd, a fake in tests) and lwIP, and runs lwIP's timers. It knows
// nothing of Asio or file descriptors: the caller hands it frames and calls
// Poll() when NextTimeoutMs() has passed.
//
// Thread: lwIP keeps its state in globals, so at most one Stack exists at a
// time in a process, and every call must come from the thread that called
// Create() (LWIP_ASSERT_CORE_LOCKED checks it).
#ifndef STACKD_STACK_H_
#define STACKD_STACK_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "stackd/addresses.h"

struct netif;
struct pbuf;

namespace stackd {

class Stack {
 public:
  // Sends one Ethernet frame on the link. Returns false if the link could
  // not take it (the frame is then dropped and counted).
  using FrameSender = std::function<bool(const uint8_t* frame, size_t len)>;

  struct Options {
    std::string link_name;  // Shown to operators (the TAP's name).
    MacAddress mac;
    int mtu = 1500;
    std::vector<IpPrefix> addresses;
    std::vector<IpAddress> gateways;  // At most one per family.
  };

  // Initialises lwIP (once per process) and brings the link up. Errors:
  // FailedPrecondition if a Stack already exists in this process;
  // InvalidArgument for a gateway outside every configured prefix, or more
  // IPv6 addresses than lwIP holds per netif. lwIP decides on-link IPv6
  // destinations as if every prefix were /64.
  static absl::StatusOr<std::unique_ptr<Stack>> Create(const Options& options,
                                                       FrameSender send);
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  // Hands one frame received on the link to lwIP. Frames longer than the
  // MTU plus the Ethernet header and a VLAN tag (and never longer than
  // 65535 bytes, the most a pbuf holds), or shorter than an Ethernet header,
  // are dropped and counted.
  void Input(const uint8_t* frame, size_t len);

  // Runs lwIP's due timers and delivers looped-back packets.
  void Poll();

  // Called (from inside lwIP) when a packet is queued on lwIP's loopback
  // netif and none was waiting: the caller should call PollLoopback() soon,
  // not from inside the call. Without one, looped-back packets wait for the
  // next Poll().
  void SetLoopbackWaker(std::function<void()> waker) { loopback_waker_ = std::move(waker); }
  // Delivers the packets queued on the loopback netif.
  void PollLoopback();

  // From lwIP (patch 0015's hook): a packet now waits on the loopback netif.
  static void LoopbackQueued();

  // Milliseconds until Poll() has timer work to do (at most 1000).
  uint32_t NextTimeoutMs() const;

  const Options& options() const { return options_; }
  // The netifs on the link: the first carries the IPv6 addresses and the
  // first IPv4 address; lwIP has one IPv4 address per netif, so each further
  // IPv4 address gets a netif of its own on the same link.
  const std::vector<netif*>& link_netifs() const { return netifs_; }

  // Frames the link refused or that were malformed, by direction.
  uint64_t tx_dropped() const { return tx_dropped_; }
  uint64_t rx_dropped() const { return rx_dropped_; }

 private:
  Stack(const Options& options, FrameSender send);
  absl::Status Start();
  static int8_t LinkOutput(netif* nif, pbuf* p);
  static int8_t NetifInit(netif* nif);

  Options options_;
  FrameSender send_;
  std::vector<std::unique_ptr<netif>> owned_netifs_;
  std::vector<netif*> netifs_;
  std::vector<uint8_t> tx_buffer_;
  size_t max_rx_frame_;
  uint64_t tx_dropped_ = 0;
  uint64_t rx_dropped_ = 0;
  netif* loopback_ = nullptr;  // lwIP's lo0
  std::function<void()> loopback_waker_;
  bool loopback_wake_pending_ = false;
};

}  // namespace stackd

#endif  // STACKD_STACK_H_
