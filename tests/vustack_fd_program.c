/* An unmodified program (it knows nothing of stackd) that is rough with
 * its file descriptors, for vustack_launcher_test: it closes every fd but
 * stdio (closefrom, close_range), dup2()s over every fd number the library
 * could have kept for itself, moves a socket onto another fd number and
 * onto stdin, forks, and makes connections from many threads at once.
 * Every step is an echo round trip with the server at IP PORT (a kernel
 * socat echoing what it reads); it prints one line per step that passed
 * and exits 1 at the first that failed.
 *
 * Usage: vustack_fd_program IP PORT */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define kThreads 8
#define kRoundsPerThread 10

static const char *server_ip;
static const char *server_port;

static int fail(const char *step) {
  printf("FAILED %s: %s\n", step, strerror(errno));
  fflush(stdout);
  exit(1);
}

/* A connected TCP socket to the server, resolved with getaddrinfo. */
static int dial(void) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof(hints));
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST;
  if (getaddrinfo(server_ip, server_port, &hints, &res) != 0) return -1;
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

/* Sends `text`, half-closes, reads the echo to the end: 0 if it matched. */
static int round_trip(int fd, const char *text) {
  const size_t len = strlen(text);
  const int one = 1;
  /* Control calls through the stack: an option and the names. */
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) return -1;
  struct sockaddr_storage name;
  socklen_t name_len = sizeof(name);
  if (getsockname(fd, (struct sockaddr *)&name, &name_len) != 0) return -1;
  name_len = sizeof(name);
  if (getpeername(fd, (struct sockaddr *)&name, &name_len) != 0) return -1;
  if (write(fd, text, len) != (ssize_t)len) return -1;
  if (shutdown(fd, SHUT_WR) != 0) return -1;
  char buf[256];
  size_t got = 0;
  for (;;) {
    const ssize_t n = read(fd, buf + got, sizeof(buf) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    got += (size_t)n;
    if (got == sizeof(buf)) return -1;
  }
  if (got != len || memcmp(buf, text, len) != 0) {
    errno = EBADMSG;
    return -1;
  }
  return 0;
}

static void step(const char *name, int fd, const char *text) {
  if (fd < 0 || round_trip(fd, text) != 0) fail(name);
  close(fd);
  printf("ok %s\n", name);
  fflush(stdout);
}

static void *thread_main(void *arg) {
  long failures = 0;
  char text[64];
  for (int i = 0; i < kRoundsPerThread; ++i) {
    snprintf(text, sizeof(text), "thread %ld round %d\n", (long)(intptr_t)arg, i);
    const int fd = dial();
    if (fd < 0 || round_trip(fd, text) != 0) ++failures;
    if (fd >= 0) close(fd);
  }
  return (void *)failures;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s IP PORT\n", argv[0]);
    return 2;
  }
  server_ip = argv[1];
  server_port = argv[2];

  /* 1. Nothing but stdio is left. */
  closefrom(3);
  if (close_range(3, ~0U, 0) != 0) fail("close_range");
  step("after closefrom and close_range", dial(), "one\n");

  /* 2. Whatever fd numbers a library could keep, /dev/null is there now;
   * then close them all again. */
  const int null_fd = open("/dev/null", O_RDWR);
  if (null_fd < 0) fail("open /dev/null");
  for (int fd = 3; fd < 256; ++fd) {
    if (fd != null_fd) dup2(null_fd, fd);
  }
  step("with every fd number taken", dial(), "two\n");
  close_range(3, ~0U, 0);

  /* 3. A socket moved to another number, and one onto stdin. */
  int fd = dial();
  if (fd < 0) fail("dial for dup2");
  if (dup2(fd, 200) != 200) fail("dup2 200");
  close(fd);
  step("moved to fd 200", 200, "three\n");
  fd = dial();
  if (fd < 0 || dup2(fd, 0) != 0) fail("dup2 0");
  close(fd);
  step("moved onto stdin", 0, "four\n");

  /* 4. Across fork: the child uses an inherited socket and a new one. */
  fd = dial();
  if (fd < 0) fail("dial before fork");
  fflush(stdout);
  const pid_t child = fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    if (round_trip(fd, "five\n") != 0) _exit(3);
    const int own = dial();
    if (own < 0 || round_trip(own, "six\n") != 0) _exit(4);
    _exit(0);
  }
  close(fd);
  int status = 0;
  if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    errno = ECHILD;
    fail("child after fork");
  }
  printf("ok across fork\n");

  /* 5. Many threads at once. */
  pthread_t threads[kThreads];
  for (long i = 0; i < kThreads; ++i) {
    if (pthread_create(&threads[i], NULL, thread_main, (void *)i) != 0) {
      fail("pthread_create");
    }
  }
  long failures = 0;
  for (int i = 0; i < kThreads; ++i) {
    void *result = NULL;
    pthread_join(threads[i], &result);
    failures += (long)result;
  }
  if (failures != 0) {
    errno = EIO;
    fail("threads");
  }
  printf("ok %d threads\n", kThreads);
  return 0;
}
