#include "stackd/sockets/connect_race.h"

#include <chrono>
#include <utility>

#include "stackd/sockets/lwip_errno.h"

namespace stackd {

namespace asio = boost::asio;

ConnectRace::ConnectRace(asio::io_context& io, Owner* owner, tcp_pcb* template_pcb,
                         std::vector<Target> targets)
    : io_(io), owner_(owner), template_pcb_(template_pcb) {
  for (size_t i = 0; i < targets.size(); ++i) {
    auto c = std::make_unique<Candidate>();
    c->race = this;
    c->index = i;
    c->target = targets[i];
    candidates_.push_back(std::move(c));
  }
}

ConnectRace::~ConnectRace() { EndRace(nullptr); }

void ConnectRace::Start(uint32_t stagger_ms, uint32_t timeout_ms) {
  std::weak_ptr<ConnectRace> weak = weak_from_this();
  if (timeout_ms > 0) {
    race_timer_ = std::make_unique<asio::steady_timer>(io_);
    race_timer_->expires_after(std::chrono::milliseconds(timeout_ms));
    race_timer_->async_wait([weak](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || !self->owner_->RaceWanted()) return;
      self->EndRace(nullptr);
      self->owner_->RaceLost(ETIMEDOUT);
    });
  }
  for (auto& c : candidates_) {
    uint32_t delay = stagger_ms * static_cast<uint32_t>(c->index);
    if (delay == 0) {
      StartCandidate(c.get());
      continue;
    }
    Candidate* raw = c.get();
    c->start_timer = std::make_unique<asio::steady_timer>(io_);
    c->start_timer->expires_after(std::chrono::milliseconds(delay));
    c->start_timer->async_wait([weak, raw](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || raw->done || raw->pcb != nullptr) return;
      self->StartCandidate(raw);
    });
  }
}

void ConnectRace::Stop() { EndRace(nullptr); }

std::vector<ConnectRace::Target> ConnectRace::Pending() const {
  std::vector<Target> pending;
  for (const auto& c : candidates_) {
    if (!c->done) pending.push_back(c->target);
  }
  return pending;
}

void ConnectRace::StartCandidate(Candidate* c) {
  if (!owner_->RaceWanted() || c->done || c->pcb != nullptr) return;
  if (c->start_timer) c->start_timer->cancel();
  tcp_pcb* pcb = tcp_new_ip_type(IP_GET_TYPE(&template_pcb_->local_ip));
  if (pcb == nullptr) {
    CandidateFailed(c, ENOMEM);
    return;
  }
  pcb->so_options = template_pcb_->so_options;
  if (!ip_addr_isany(&template_pcb_->local_ip)) tcp_bind(pcb, &template_pcb_->local_ip, 0);
  tcp_arg(pcb, c);
  tcp_err(pcb, &ConnectRace::OnRaceError);
  err_t err = tcp_connect(pcb, &c->target.ip, c->target.port, &ConnectRace::OnRaceConnected);
  if (err != ERR_OK) {
    tcp_arg(pcb, nullptr);
    tcp_err(pcb, nullptr);
    tcp_abort(pcb);
    CandidateFailed(c, LwipErrToErrno(err, true));
    return;
  }
  c->pcb = pcb;
  owner_->SetUpAttempt(pcb);
  if (owner_->SynRetries() > 0) tcp_poll(pcb, &ConnectRace::OnRacePoll, 1);
}

err_t ConnectRace::OnRaceConnected(void* arg, tcp_pcb* pcb, err_t err) {
  auto* c = static_cast<Candidate*>(arg);
  ConnectRace* self = c != nullptr ? c->race : nullptr;
  if (self == nullptr || err != ERR_OK || c->done || !self->owner_->RaceWanted()) {
    // Lost the race: lwIP has not ACKed the SYN+ACK yet, and the abort
    // answers it with RST, so this server never completes a handshake.
    tcp_arg(pcb, nullptr);
    tcp_err(pcb, nullptr);
    tcp_abort(pcb);
    if (c != nullptr) c->pcb = nullptr;
    return ERR_ABRT;
  }
  c->pcb = nullptr;
  c->done = true;
  self->EndRace(c);
  tcp_poll(pcb, nullptr, 0);
  self->owner_->RaceWon(pcb, c->target);
  return ERR_OK;
}

void ConnectRace::OnRaceError(void* arg, err_t err) {
  auto* c = static_cast<Candidate*>(arg);
  if (c == nullptr || c->race == nullptr) return;
  c->pcb = nullptr;  // Freed by lwIP.
  c->race->CandidateFailed(c, LwipErrToErrno(err, /*connecting=*/true));
}

err_t ConnectRace::OnRacePoll(void* arg, tcp_pcb* pcb) {
  auto* c = static_cast<Candidate*>(arg);
  if (c == nullptr || c->race == nullptr) return ERR_OK;
  if (pcb->nrtx > c->race->owner_->SynRetries()) {
    tcp_abort(pcb);  // OnRaceError drops this attempt with ETIMEDOUT.
    return ERR_ABRT;
  }
  return ERR_OK;
}

void ConnectRace::CandidateFailed(Candidate* c, int error) {
  c->done = true;
  race_error_ = error;
  if (!owner_->RaceWanted()) return;
  // RFC 8305: when an attempt fails, start the next one now.
  for (auto& next : candidates_) {
    if (!next->done && next->pcb == nullptr) {
      StartCandidate(next.get());
      break;
    }
  }
  if (!owner_->RaceWanted()) return;  // The started one ended it.
  for (auto& other : candidates_) {
    if (!other->done) return;
  }
  EndRace(nullptr);
  owner_->RaceLost(race_error_);
}

void ConnectRace::EndRace(Candidate* winner) {
  if (race_timer_) race_timer_->cancel();
  for (auto& c : candidates_) {
    if (c.get() == winner) continue;
    c->done = true;
    if (c->start_timer) c->start_timer->cancel();
    if (c->pcb != nullptr) {
      tcp_pcb* pcb = c->pcb;
      c->pcb = nullptr;
      tcp_arg(pcb, nullptr);
      tcp_err(pcb, nullptr);
      tcp_abort(pcb);  // RST: a server that answered late accepts nothing.
    }
  }
  if (template_pcb_ != nullptr) {
    tcp_pcb* t = template_pcb_;
    template_pcb_ = nullptr;
    tcp_abort(t);  // Never connected; frees it.
  }
}

}  // namespace stackd
