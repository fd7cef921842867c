#!/bin/sh
# Fails if libmsocket.so exports anything but the C API and the libc calls
# it interposes (a stray symbol would interpose on the programs it is
# preloaded into), or if an expected one is missing.
set -eu
lib="$1"
allowed="__read_chk __recv_chk __recvfrom_chk accept accept4 bind connect
getpeername getsockname getsockopt listen mbind mconnect mconnect_host mconnectx msocket read readv recv recvfrom
recvmmsg recvmsg send sendmmsg sendmsg sendto setsockopt shutdown socket
ioctl write writev"

# Calls watched so that what the library knows of an fd number is
# forgotten when it changes meaning (fd_cache.h).
fd_calls="close dup dup2 dup3 fcntl fcntl64 closefrom close_range"

# Name resolution through the stack (resolve_interpose.cc).
resolver="getaddrinfo freeaddrinfo gethostbyname gethostbyname2 gethostbyname_r
gethostbyname2_r getnameinfo res_query __res_query res_search __res_search
res_nquery __res_nquery res_nsearch __res_nsearch"

# The stack's interfaces (ifaddrs_interpose.cc).
interfaces="getifaddrs if_nameindex if_nametoindex if_indextoname"

exported=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sort)
expected=$(printf '%s\n' $allowed $fd_calls $resolver $interfaces | sort)
if [ "$exported" != "$expected" ]; then
  echo "libmsocket.so exports differ from the allowed list:"
  printf '%s\n' "$expected" > "${TEST_TMPDIR:-/tmp}/expected"
  printf '%s\n' "$exported" > "${TEST_TMPDIR:-/tmp}/exported"
  diff "${TEST_TMPDIR:-/tmp}/expected" "${TEST_TMPDIR:-/tmp}/exported" || true
  exit 1
fi
echo "PASS: $(echo "$exported" | wc -l) symbols"
