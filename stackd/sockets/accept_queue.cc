#include "stackd/sockets/accept_queue.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "client/fd_message.h"

namespace stackd {
namespace {

constexpr size_t kAcceptRecordBytes = 128;
// End records sent when a listener is shut down: as many blocked accept()
// calls wake at once (docs/socket-protocol.md).
constexpr int kEndRecords = 16;

}  // namespace

bool AcceptQueue::Offer(const std::shared_ptr<Connection>& c, int app_fd, ino_t app_ino) {
  if (!SendRecord(*c, app_fd)) return false;
  owner_->Admit(c, app_ino);
  queue_.push_back(c);
  return true;
}

void AcceptQueue::Defer(const std::shared_ptr<Connection>& c) { deferred_.push_back(c); }

bool AcceptQueue::SendRecord(const Connection& c, int app_fd) {
  socket::v1::AcceptRecord record = c.Record();
  std::string body = record.SerializeAsString();
  uint8_t buf[kAcceptRecordBytes] = {};
  if (body.size() + 4 > sizeof(buf)) {
    close(app_fd);
    return false;
  }
  buf[0] = 1;
  buf[2] = static_cast<uint8_t>(body.size());
  std::memcpy(buf + 4, body.data(), body.size());
  const client::FdMessage msg(buf, sizeof(buf), app_fd);
  const int pair_fd = owner_->PairFd();
  int outq_before = 0;
  ioctl(pair_fd, SIOCOUTQ, &outq_before);
  ssize_t sent = sendmsg(pair_fd, msg.get(), MSG_DONTWAIT | MSG_NOSIGNAL);
  close(app_fd);
  int outq_after = 0;
  if (sent > 0 && ioctl(pair_fd, SIOCOUTQ, &outq_after) == 0 &&
      outq_after > outq_before) {
    // SIOCOUTQ counts the kernel's memory for the queued records, not
    // their bytes: learn what one record costs.
    record_cost_ = std::max(record_cost_, outq_after - outq_before);
  }
  return sent == static_cast<ssize_t>(sizeof(buf));
}

void AcceptQueue::HandOver(const std::shared_ptr<Connection>& c) {
  deferred_.erase(std::remove(deferred_.begin(), deferred_.end(), c), deferred_.end());
  ino_t app_ino = 0;
  const int app_fd = c->TakeHeldFd(&app_ino);
  if (c->IsClosed() || !c->HasPcb() || owner_->ListenerShut()) {
    close(app_fd);
    if (!c->IsClosed()) c->Close(/*reset=*/true);
    return;
  }
  if (!Offer(c, app_fd, app_ino)) {
    c->Close(/*reset=*/true);  // A full queue: as a full backlog.
    return;
  }
  Tick();
}

void AcceptQueue::Forget(const std::shared_ptr<Connection>& c) {
  deferred_.erase(std::remove(deferred_.begin(), deferred_.end(), c), deferred_.end());
}

void AcceptQueue::DropDeferred() {
  std::vector<std::shared_ptr<Connection>> deferred;
  deferred.swap(deferred_);
  for (auto& c : deferred) c->Abandon();
}

void AcceptQueue::Tick() {
  if (queue_.empty()) return;
  int outq = 0;
  if (ioctl(owner_->PairFd(), SIOCOUTQ, &outq) != 0) return;
  const size_t cost = static_cast<size_t>(std::max(record_cost_, 1));
  size_t unread = (static_cast<size_t>(outq) + cost - 1) / cost;
  while (queue_.size() > unread) {
    if (auto c = queue_.front().lock(); c && c->BacklogDelayed() && c->HasPcb()) {
      c->BacklogAccepted();
    }
    queue_.pop_front();
  }
}

void AcceptQueue::MarkAcceptedAtClose() {
  // The application's end of the listener is gone, and with it the records
  // it had not read: the kernel has dropped their fds, so the connections
  // never accepted already see their pair hung up. One whose pair is still
  // open was accepted, however soon after its record the listener closed.
  for (auto& weak : queue_) {
    auto c = weak.lock();
    if (c == nullptr || !c->BacklogDelayed() || c->PairHungUp()) continue;
    c->BacklogAccepted();
  }
}

void AcceptQueue::Shut() {
  std::vector<std::shared_ptr<Connection>> unaccepted;
  for (auto& weak : queue_) {
    if (auto c = weak.lock(); c && !c->IsClosed()) unaccepted.push_back(c);
  }
  queue_.clear();
  for (auto& c : unaccepted) c->Close(/*reset=*/true);
  DropDeferred();
  // End records (version 0, no fd) wake blocked accepts with EINVAL; the
  // library asks before it blocks again. A full pair takes fewer.
  if (const int pair_fd = owner_->PairFd(); pair_fd >= 0) {
    uint8_t end[kAcceptRecordBytes] = {};
    for (int i = 0; i < kEndRecords; ++i) {
      if (send(pair_fd, end, sizeof(end), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) break;
    }
  }
}

void AcceptQueue::Close() {
  // Connections the application never accepted are reset, as Linux does.
  // Their records died with the listener's fd, which closed their fds.
  for (auto& weak : queue_) {
    if (auto c = weak.lock(); c && !c->IsClosed() && c->PairHungUp()) {
      c->Close(/*reset=*/true);
    }
  }
  queue_.clear();
}

}  // namespace stackd
