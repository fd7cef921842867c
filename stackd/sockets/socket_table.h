// SocketTable: every socket of the stack, found by the inode of the
// application's end of its pair (how a control request proves it holds the
// socket), plus the errors of sockets that are gone but whose application
// may still ask SO_ERROR.
//
// Thread: the stack thread only.
#ifndef STACKD_SOCKETS_SOCKET_TABLE_H_
#define STACKD_SOCKETS_SOCKET_TABLE_H_

#include <sys/socket.h>
#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "stackd/sockets/socket.h"

namespace stackd {

class SocketTable {
 public:
  // `stack_path` is the stack's PATH, written into every pair's abstract
  // name (docs/socket-protocol.md, "Recognising a stack socket").
  SocketTable(boost::asio::io_context& io, std::string stack_path);
  ~SocketTable();

  boost::asio::io_context& io() { return io_; }

  // A new socketpair of `type` (SOCK_STREAM for TCP, SOCK_SEQPACKET for
  // UDP): stackd's end is bound to the abstract name "stackd/NONCE/PATH"
  // (NONCE a random 64-bit number, so no other process can take the name
  // first) and tuned for throughput. Returns 0 or an errno (EMFILE, ENFILE,
  // ENOMEM, ENAMETOOLONG for a PATH too long for the name, EADDRINUSE if
  // eight random names were all taken).
  struct Pair {
    int stack_fd = -1;
    int app_fd = -1;
    ino_t app_ino = 0;
  };
  int NewPair(Pair* out, int type = SOCK_STREAM);

  // Makes socketpairs for NewPair() when stackd may not raise their
  // buffers itself (RootHelper::MakePair); by default, socketpair(2) here.
  using PairMaker = std::function<int(int type, int buffer_bytes, int fds[2])>;
  void set_pair_maker(PairMaker maker) { pair_maker_ = std::move(maker); }
  uint64_t NextId() { return next_id_++; }

  void Add(std::shared_ptr<Socket> socket, ino_t app_ino);
  // The live socket whose application end has inode `ino`, or null.
  std::shared_ptr<Socket> Find(ino_t ino) const;
  // Forgets socket `id` (after the current callback returns). Its last
  // error stays answerable by inode for a while: TakeError().
  void Remove(uint64_t id, int last_error);
  // The recorded error of a removed socket (once; 0 if none or unknown).
  int TakeError(ino_t ino);
  // Whether a removed socket with this inode is remembered.
  bool IsGone(ino_t ino) const;

  // Socket `id` has housekeeping to do on every Tick() (a listener's
  // accept queue) until it is removed. Only such sockets are visited: a
  // tick costs nothing per idle connection.
  void WantTicks(uint64_t id) { ticking_.insert(id); }

  // The stack thread's timer: Tick() on the sockets that asked, and memory
  // given back to the system after many sockets went (malloc_trim).
  void Tick();
  std::vector<SocketSummary> List() const;
  // Socket::Kill() of socket `id`; ENOENT if there is none.
  int Kill(uint64_t id);
  size_t size() const { return sockets_.size(); }

 private:
  struct Entry {
    std::shared_ptr<Socket> socket;
    ino_t app_ino = 0;
  };
  boost::asio::io_context& io_;
  const std::string stack_path_;
  uint64_t next_id_ = 1;
  std::set<uint64_t> ticking_;
  PairMaker pair_maker_;
  size_t removed_since_trim_ = 0;
  std::map<uint64_t, Entry> sockets_;
  std::map<ino_t, uint64_t> by_inode_;
  // Removed sockets: inode -> error, bounded, oldest dropped first.
  std::map<ino_t, int> gone_;
  std::deque<ino_t> gone_order_;
};

}  // namespace stackd

#endif  // STACKD_SOCKETS_SOCKET_TABLE_H_
