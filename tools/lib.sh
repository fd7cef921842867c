# shellcheck shell=bash
# Shell helpers shared by tools/demo, tools/test, tools/bench and bench/*.
# Source it; it defines functions and variables only. Callers set `prog`
# (the name their messages start with) before sourcing.
#
# Every wait here is bounded.

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian's python3 (with python3-grpcio), whatever python3 comes first in
# the caller's PATH (pyenv shims, virtualenvs).
PY=/usr/bin/python3

say() { echo "${prog:-stackd}: $*"; }
warn() { echo "${prog:-stackd}: $*" >&2; }
die() { echo "${prog:-stackd}: $*" >&2; exit 1; }

require_root() {
  [ "$(id -u)" = 0 ] || die "must run as root (network namespaces, TAP devices); try: sudo $0"
}

# Prints a command, then runs it.
show() {
  echo "+ $*"
  "$@"
}

# stackd's binary: $STACKD_BIN if set, else Bazel's (built if needed).
stackd_bin() {
  if [ -n "${STACKD_BIN:-}" ]; then
    [ -x "$STACKD_BIN" ] || die "STACKD_BIN=$STACKD_BIN is not an executable"
    echo "$STACKD_BIN"
    return
  fi
  local log
  log=$(mktemp)
  if ! (cd "$top" && bazel build --color=no --curses=no //stackd:stackd) >"$log" 2>&1; then
    grep -v 'linux-sandbox' "$log" | tail -n 30 >&2
    rm -f "$log"
    die "bazel build //stackd:stackd failed"
  fi
  rm -f "$log"
  echo "$top/bazel-bin/stackd/stackd"
}

# True if PATH is a unix socket that accepts a connection now.
socket_accepts() {
  "$PY" - "$1" <<'PYEOF' 2>/dev/null
import socket, sys
for kind in (socket.SOCK_STREAM, socket.SOCK_SEQPACKET):
    s = socket.socket(socket.AF_UNIX, kind)
    try:
        s.connect(sys.argv[1])
        sys.exit(0)
    except OSError as e:
        if e.errno != 91:  # EPROTOTYPE: try the other socket type
            sys.exit(1)
    finally:
        s.close()
sys.exit(1)
PYEOF
}

# wait_stackd_ready PID PATH SECONDS: waits until stackd (PID) accepts
# connections on PATH and PATH.grpc. Fails if it exits or time runs out.
wait_stackd_ready() {
  local pid=$1 path=$2 seconds=$3 i
  for ((i = 0; i < seconds * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    if socket_accepts "$path" && socket_accepts "$path.grpc"; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# stop_pid PID [SECONDS]: SIGTERM, then SIGKILL after SECONDS (default 5).
# Returns at once if PID is gone.
stop_pid() {
  local pid=$1 seconds=${2:-5} i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < seconds * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  warn "pid $pid ignored SIGTERM for ${seconds}s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

# delete_netns NAME: deletes the namespace if it exists.
delete_netns() {
  if [ -e "/run/netns/$1" ]; then
    ip netns delete "$1" || warn "could not delete namespace $1"
  fi
}

# median_rtt_ms FILE: the median of the "time=X ms" values in ping's output
# in FILE; empty if there are none.
median_rtt_ms() {
  sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' "$1" | sort -g |
    awk '{v[NR] = $1}
         END {
           if (NR == 0) exit
           if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
           printf "%.3f\n", m
         }'
}
