#include "stackd/sockets/socket_table.h"

#include <malloc.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstddef>
#include <cstring>

namespace stackd {
namespace {

// Removed sockets whose error is kept for a late SO_ERROR.
constexpr size_t kMaxGone = 4096;
// Buffer of stackd's end of a pair. Larger than the default so the pair is
// not the bottleneck between lwIP and the application.
constexpr int kPairBufferBytes = 2 * 1024 * 1024;
// Sockets removed between two malloc_trim() calls.
constexpr size_t kTrimAfterRemovals = 256;
// Nonces drawn for a pair's name before NewPair gives up with EADDRINUSE.
constexpr int kMaxNameAttempts = 8;

}  // namespace

SocketTable::SocketTable(boost::asio::io_context& io, std::string stack_path)
    : io_(io), stack_path_(std::move(stack_path)) {}

SocketTable::~SocketTable() = default;

int SocketTable::NewPair(Pair* out, int type) {
  int fds[2];
  if (pair_maker_) {
    if (int error = pair_maker_(type, kPairBufferBytes, fds)) return error;
  } else {
    if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) != 0) return errno;
    int size = kPairBufferBytes;
    setsockopt(fds[0], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
    setsockopt(fds[0], SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
  }
  // The name carries a random nonce, not the socket's id: a name that can
  // be guessed can be bound first by anyone on the host, and every new
  // socket of the stack would then fail. A collision (with a squatter's
  // lucky guess or another stack) draws a new nonce.
  int error = EADDRINUSE;
  for (int attempt = 0; attempt < kMaxNameAttempts && error == EADDRINUSE; ++attempt) {
    uint64_t nonce = 0;
    if (getrandom(&nonce, sizeof(nonce), 0) != sizeof(nonce)) {
      error = errno;
      break;
    }
    sockaddr_un name{};
    name.sun_family = AF_UNIX;
    std::string text = "stackd/" + std::to_string(nonce) + "/" + stack_path_;
    if (text.size() + 1 > sizeof(name.sun_path)) {
      error = ENAMETOOLONG;
      break;
    }
    std::memcpy(name.sun_path + 1, text.data(), text.size());
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + text.size());
    error = bind(fds[0], reinterpret_cast<sockaddr*>(&name), len) == 0 ? 0 : errno;
  }
  struct stat st;
  if (error == 0 && fstat(fds[1], &st) != 0) error = errno;
  if (error != 0) {
    close(fds[0]);
    close(fds[1]);
    return error;
  }
  out->stack_fd = fds[0];
  out->app_fd = fds[1];
  out->app_ino = st.st_ino;
  return 0;
}

void SocketTable::Add(std::shared_ptr<Socket> socket, ino_t app_ino) {
  uint64_t id = socket->id();
  by_inode_[app_ino] = id;
  gone_.erase(app_ino);
  sockets_[id] = Entry{std::move(socket), app_ino};
}

std::shared_ptr<Socket> SocketTable::Find(ino_t ino) const {
  auto it = by_inode_.find(ino);
  if (it == by_inode_.end()) return nullptr;
  auto s = sockets_.find(it->second);
  return s == sockets_.end() ? nullptr : s->second.socket;
}

void SocketTable::Remove(uint64_t id, int last_error) {
  auto it = sockets_.find(id);
  if (it == sockets_.end()) return;
  ino_t ino = it->second.app_ino;
  by_inode_.erase(ino);
  ticking_.erase(id);
  ++removed_since_trim_;
  if (gone_.emplace(ino, last_error).second) gone_order_.push_back(ino);
  while (gone_order_.size() > kMaxGone) {
    gone_.erase(gone_order_.front());
    gone_order_.pop_front();
  }
  // The socket may be the caller: let it finish before it is destroyed.
  std::shared_ptr<Socket> doomed = std::move(it->second.socket);
  sockets_.erase(it);
  boost::asio::post(io_, [doomed] {});
}

int SocketTable::TakeError(ino_t ino) {
  auto it = gone_.find(ino);
  if (it == gone_.end()) return 0;
  int error = it->second;
  it->second = 0;
  return error;
}

bool SocketTable::IsGone(ino_t ino) const { return gone_.count(ino) != 0; }

void SocketTable::Tick() {
  std::vector<std::shared_ptr<Socket>> due;
  due.reserve(ticking_.size());
  for (uint64_t id : ticking_) {
    auto it = sockets_.find(id);
    if (it != sockets_.end()) due.push_back(it->second.socket);
  }
  for (auto& s : due) s->Tick();
  if (removed_since_trim_ >= kTrimAfterRemovals) {
    // What a burst of connections left in malloc's free lists goes back to
    // the system (glibc keeps it otherwise, and RSS stays at the peak).
    malloc_trim(0);
    removed_since_trim_ = 0;
  }
}

int SocketTable::Kill(uint64_t id) {
  auto it = sockets_.find(id);
  if (it == sockets_.end()) return ENOENT;
  // The socket may remove itself from the table while it dies.
  std::shared_ptr<Socket> socket = it->second.socket;
  return socket->Kill();
}

std::vector<SocketSummary> SocketTable::List() const {
  std::vector<SocketSummary> out;
  out.reserve(sockets_.size());
  for (const auto& [id, entry] : sockets_) out.push_back(entry.socket->Summary());
  return out;
}

}  // namespace stackd
