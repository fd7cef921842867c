/* c_client_server: a plain C11 program that is a TCP client or server on a
 * stackd stack, written against msocket() and the ordinary BSD calls only
 * (the client library serves them for stack sockets). tcp_c_program_test
 * runs it against kernel peers.
 *
 *   c_client_server client STACK IP PORT BYTES SEED
 *   c_client_server server STACK IP BYTES SEED
 *
 * The client connects to IP:PORT; the server listens on IP port 0 and
 * accepts one connection. Then either sends BYTES pattern bytes (from SEED)
 * while it reads what the peer sends, shuts down its sending side, reads to
 * end of stream, closes, and prints on stdout:
 *   server: "port P" as soon as it listens, then "peer IP PORT";
 *   client: "local IP PORT";
 *   both:   "received N HASH".
 * The pattern and HASH are PatternSource and StreamHash of
 * tests/netns_peer.h (xorshift64* words; FNV-1a over 8-byte words), so
 * the test can check every byte each way.
 *
 * Exit status 0 on success, 1 with a message on stderr otherwise, 2 for bad
 * usage. Bounded: SIGALRM ends it after 120 s.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <client/msocket.h>

enum { kChunk = 64 * 1024 };

/* --- The pattern and the hash (as tests/netns_peer.cc) ------------------ */

static uint64_t pattern_state;

static uint64_t pattern_next(void) {
  uint64_t x = pattern_state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  pattern_state = x;
  return x * UINT64_C(0x2545F4914F6CDD1D);
}

/* Fills `len` bytes; all but the last call take a multiple of 8. */
static void pattern_fill(unsigned char* p, size_t len) {
  while (len >= 8) {
    uint64_t v = pattern_next();
    memcpy(p, &v, 8);
    p += 8;
    len -= 8;
  }
  if (len > 0) {
    uint64_t v = pattern_next();
    memcpy(p, &v, len);
  }
}

static const uint64_t kFnvPrime = UINT64_C(0x100000001b3);

struct stream_hash {
  uint64_t hash;
  uint64_t pending;
  int pending_bytes;
  uint64_t bytes;
};

static void hash_init(struct stream_hash* h) {
  h->hash = UINT64_C(0xcbf29ce484222325);
  h->pending = 0;
  h->pending_bytes = 0;
  h->bytes = 0;
}

static void hash_update(struct stream_hash* h, const unsigned char* p,
                        size_t len) {
  h->bytes += len;
  for (size_t i = 0; i < len; ++i) {
    h->pending |= (uint64_t)p[i] << (8 * h->pending_bytes);
    if (++h->pending_bytes == 8) {
      h->hash = (h->hash ^ h->pending) * kFnvPrime;
      h->pending = 0;
      h->pending_bytes = 0;
    }
  }
}

static uint64_t hash_finish(const struct stream_hash* h) {
  uint64_t v = h->hash;
  if (h->pending_bytes != 0) v = (v ^ h->pending) * kFnvPrime;
  return (v ^ h->bytes) * kFnvPrime;
}

/* --- Helpers ---------------------------------------------------------------- */

static int fail(const char* what) {
  fprintf(stderr, "c_client_server: %s: %s\n", what, strerror(errno));
  return 1;
}

/* `text` as an IPv4 or IPv6 address with `port`; the family, or 0. */
static int parse_address(const char* text, unsigned port,
                         struct sockaddr_storage* ss, socklen_t* len) {
  struct sockaddr_in* in4 = (struct sockaddr_in*)ss;
  struct sockaddr_in6* in6 = (struct sockaddr_in6*)ss;
  memset(ss, 0, sizeof(*ss));
  if (inet_pton(AF_INET, text, &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    *len = sizeof(*in4);
    return AF_INET;
  }
  if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    *len = sizeof(*in6);
    return AF_INET6;
  }
  return 0;
}

/* Prints "LABEL IP PORT". */
static void print_address(const char* label, const struct sockaddr_storage* ss) {
  char text[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in* in4 = (const struct sockaddr_in*)ss;
    inet_ntop(AF_INET, &in4->sin_addr, text, sizeof(text));
    port = ntohs(in4->sin_port);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6* in6 = (const struct sockaddr_in6*)ss;
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    port = ntohs(in6->sin6_port);
  }
  printf("%s %s %u\n", label, text, port);
  fflush(stdout);
}

/* Sends `bytes` pattern bytes and reads to end of stream at the same time;
 * prints "received N HASH". */
static int exchange(int fd, uint64_t bytes) {
  static unsigned char out[kChunk];
  static unsigned char in[kChunk];
  size_t out_len = 0;
  size_t out_off = 0;
  uint64_t queued = 0;
  int sending = 1;
  int receiving = 1;
  struct stream_hash hash;
  hash_init(&hash);

  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return fail("fcntl O_NONBLOCK");
  }
  while (sending || receiving) {
    if (sending && out_off == out_len) {
      if (queued == bytes) {
        if (shutdown(fd, SHUT_WR) != 0) return fail("shutdown");
        sending = 0;
        continue;
      }
      uint64_t left = bytes - queued;
      out_len = left < kChunk ? (size_t)left : kChunk;
      out_off = 0;
      pattern_fill(out, out_len);
      queued += out_len;
    }
    struct pollfd p;
    p.fd = fd;
    p.events = (short)((sending ? POLLOUT : 0) | (receiving ? POLLIN : 0));
    p.revents = 0;
    int ready = poll(&p, 1, 10000);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return fail("poll");
    }
    if (ready == 0) {
      errno = ETIMEDOUT;
      return fail("poll: nothing happened for 10 s");
    }
    if (receiving && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = read(fd, in, sizeof(in));
      if (n > 0) {
        hash_update(&hash, in, (size_t)n);
      } else if (n == 0) {
        receiving = 0;
      } else if (errno != EAGAIN && errno != EINTR) {
        return fail("read");
      }
    }
    if (sending && (p.revents & (POLLOUT | POLLERR))) {
      ssize_t n = send(fd, out + out_off, out_len - out_off, MSG_NOSIGNAL);
      if (n > 0) {
        out_off += (size_t)n;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return fail("send");
      }
    }
  }
  printf("received %llu %016llx\n", (unsigned long long)hash.bytes,
         (unsigned long long)hash_finish(&hash));
  fflush(stdout);
  return 0;
}

static int run_client(const char* stack, const char* ip, unsigned port,
                      uint64_t bytes) {
  struct sockaddr_storage to;
  socklen_t to_len;
  int family = parse_address(ip, port, &to, &to_len);
  if (family == 0) {
    fprintf(stderr, "c_client_server: bad address %s\n", ip);
    return 2;
  }
  int fd = msocket(stack, family, SOCK_STREAM, 0);
  if (fd < 0) return fail("msocket");
  if (connect(fd, (struct sockaddr*)&to, to_len) != 0) return fail("connect");
  struct sockaddr_storage local;
  socklen_t local_len = sizeof(local);
  if (getsockname(fd, (struct sockaddr*)&local, &local_len) != 0) {
    return fail("getsockname");
  }
  print_address("local", &local);
  int result = exchange(fd, bytes);
  if (close(fd) != 0) return fail("close");
  return result;
}

static int run_server(const char* stack, const char* ip, uint64_t bytes) {
  struct sockaddr_storage at;
  socklen_t at_len;
  int family = parse_address(ip, 0, &at, &at_len);
  if (family == 0) {
    fprintf(stderr, "c_client_server: bad address %s\n", ip);
    return 2;
  }
  int listener = msocket(stack, family, SOCK_STREAM, 0);
  if (listener < 0) return fail("msocket");
  int one = 1;
  if (setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
    return fail("setsockopt SO_REUSEADDR");
  }
  if (bind(listener, (struct sockaddr*)&at, at_len) != 0) return fail("bind");
  if (listen(listener, 1) != 0) return fail("listen");
  struct sockaddr_storage bound;
  socklen_t bound_len = sizeof(bound);
  if (getsockname(listener, (struct sockaddr*)&bound, &bound_len) != 0) {
    return fail("getsockname");
  }
  printf("port %u\n", family == AF_INET
                          ? ntohs(((struct sockaddr_in*)&bound)->sin_port)
                          : ntohs(((struct sockaddr_in6*)&bound)->sin6_port));
  fflush(stdout);
  struct sockaddr_storage peer;
  socklen_t peer_len = sizeof(peer);
  int fd = accept(listener, (struct sockaddr*)&peer, &peer_len);
  if (fd < 0) return fail("accept");
  print_address("peer", &peer);
  close(listener);
  int result = exchange(fd, bytes);
  if (close(fd) != 0) return fail("close");
  return result;
}

static int usage(void) {
  fprintf(stderr,
          "usage: c_client_server client STACK IP PORT BYTES SEED\n"
          "       c_client_server server STACK IP BYTES SEED\n");
  return 2;
}

int main(int argc, char** argv) {
  alarm(120);
  if (argc == 7 && strcmp(argv[1], "client") == 0) {
    pattern_state = strtoull(argv[6], NULL, 0) | 1;
    return run_client(argv[2], argv[3], (unsigned)strtoul(argv[4], NULL, 10),
                      strtoull(argv[5], NULL, 10));
  }
  if (argc == 6 && strcmp(argv[1], "server") == 0) {
    pattern_state = strtoull(argv[5], NULL, 0) | 1;
    return run_server(argv[2], argv[3], strtoull(argv[4], NULL, 10));
  }
  return usage();
}
