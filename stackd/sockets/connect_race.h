// ConnectRace: the handshakes of one mconnect(3) (MConnectRequest), raced.
// Each address gets a PCB of its own, started stagger_ms after the one
// before it, or at once when an attempt fails (RFC 8305). The first attempt
// whose SYN+ACK arrives wins; every other one is reset before lwIP ACKs, so
// no losing server ever completes a handshake (DESIGN.md, "mconnect and
// mbind on lwIP").
//
// Thread: the stack thread only (lwIP callbacks and Asio handlers run
// there). A TcpSocket owns its race for the rest of its life and hears of
// the outcome, once, through ConnectRace::Owner.
#ifndef STACKD_SOCKETS_CONNECT_RACE_H_
#define STACKD_SOCKETS_CONNECT_RACE_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "lwip/tcp.h"

namespace stackd {

// Shared only so that its timers can tell when it is gone (weak_ptr).
class ConnectRace : public std::enable_shared_from_this<ConnectRace> {
 public:
  // One address to try.
  struct Target {
    ip_addr_t ip;
    uint16_t port = 0;
  };

  // What the race asks of the socket it runs for, and where it reports.
  class Owner {
   public:
    // Whether the socket still waits for the outcome; false once it has
    // been closed. Attempts that answer after that are reset.
    virtual bool RaceWanted() const = 0;
    // Gives a new attempt's PCB the socket's options.
    virtual void SetUpAttempt(tcp_pcb* pcb) const = 0;
    // TCP_SYNCNT if the application set it, else 0 (lwIP's own limit).
    // Read when an attempt starts and at every poll of one.
    virtual int SynRetries() const = 0;
    // `pcb` finished its handshake with `winner`, and every other attempt
    // is gone. The PCB is the owner's now: its arg and error callback
    // still point at the race, and the owner sets its own at once.
    virtual void RaceWon(tcp_pcb* pcb, const Target& winner) = 0;
    // Every attempt failed (`error` is the last one's errno), or the
    // timeout passed (ETIMEDOUT). No attempt is left.
    virtual void RaceLost(int error) = 0;

   protected:
    ~Owner() = default;
  };

  // `template_pcb` is the socket's own PCB, never connected: the attempts
  // copy its options and local address; the race frees it when it ends.
  // `owner` must outlive the race. Make it with std::make_shared; nothing
  // starts before Start().
  ConnectRace(boost::asio::io_context& io, Owner* owner, tcp_pcb* template_pcb,
              std::vector<Target> targets);
  ~ConnectRace();
  ConnectRace(const ConnectRace&) = delete;
  ConnectRace& operator=(const ConnectRace&) = delete;

  // Starts attempt i after i * `stagger_ms` (0: all at once) and gives up
  // with ETIMEDOUT after `timeout_ms` (0: the SYN retries decide). The
  // outcome may be reported before Start() returns (every attempt failed
  // at once). Call once.
  void Start(uint32_t stagger_ms, uint32_t timeout_ms);

  // Resets every attempt still running and frees the template PCB,
  // reporting nothing. Safe to call again, and after the race has ended.
  void Stop();

  // The addresses still being tried, in the order given.
  std::vector<Target> Pending() const;

 private:
  // One attempt.
  struct Candidate {
    ConnectRace* race = nullptr;
    size_t index = 0;
    tcp_pcb* pcb = nullptr;  // Null before it starts and once it is over.
    Target target;
    bool done = false;
    std::unique_ptr<boost::asio::steady_timer> start_timer;
  };

  // lwIP callbacks (arg is the Candidate).
  static err_t OnRaceConnected(void* arg, tcp_pcb* pcb, err_t err);
  static void OnRaceError(void* arg, err_t err);
  static err_t OnRacePoll(void* arg, tcp_pcb* pcb);
  void StartCandidate(Candidate* c);
  void CandidateFailed(Candidate* c, int error);
  // Ends the race: resets every attempt but `winner` (may be null).
  void EndRace(Candidate* winner);

  boost::asio::io_context& io_;
  Owner* const owner_;
  std::vector<std::unique_ptr<Candidate>> candidates_;
  std::unique_ptr<boost::asio::steady_timer> race_timer_;
  int race_error_ = ETIMEDOUT;  // Of the last attempt that failed.
  tcp_pcb* template_pcb_ = nullptr;
};

}  // namespace stackd

#endif  // STACKD_SOCKETS_CONNECT_RACE_H_
