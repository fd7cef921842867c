#!/bin/bash
# tests/grpc_reflection_client.py against admin_fake_server on a unix socket:
# `list` shows StackAdmin and the reflection service, `call` returns the
# fake stack, and failures give a non-zero exit status and one stderr line.
set -euo pipefail

runfiles="${RUNFILES_DIR:-${TEST_SRCDIR}}/${TEST_WORKSPACE}"
server_bin="${runfiles}/stackd/admin/admin_fake_server"
client_py="${runfiles}/tests/grpc_reflection_client.py"
# Debian's interpreter: python3-grpcio and python3-protobuf live there.
python="${PYTHON:-/usr/bin/python3}"

# /tmp, not TEST_TMPDIR: a unix socket path must fit in 108 bytes.
dir="$(mktemp -d /tmp/stackd-admin-test.XXXXXX)"
server_pid=""
cleanup() {
  if [[ -n "${server_pid}" ]]; then
    kill "${server_pid}" 2>/dev/null || true
    wait "${server_pid}" 2>/dev/null || true
  fi
  rm -rf "${dir}"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

endpoint="unix:${dir}/fake.grpc"
client() {
  "${python}" "${client_py}" "${endpoint}" "$@"
}

"${server_bin}" "${endpoint}" >"${dir}/server.out" 2>"${dir}/server.err" &
server_pid=$!
for _ in $(seq 100); do
  grep -q '^listening on ' "${dir}/server.out" && break
  kill -0 "${server_pid}" 2>/dev/null ||
    fail "admin_fake_server exited: $(cat "${dir}/server.err")"
  sleep 0.1
done
grep -q '^listening on ' "${dir}/server.out" ||
  fail "admin_fake_server did not start within 10 s"

mode="$(stat -c %a "${dir}/fake.grpc")"
[[ "${mode}" == "660" ]] || fail "socket mode is ${mode}, want 660"

# list
services="$(client list)" || fail "list failed"
echo "${services}"
grep -qx 'stackd.admin.v1.StackAdmin' <<<"${services}" ||
  fail "list does not show stackd.admin.v1.StackAdmin"
grep -qx 'grpc.reflection.v1alpha.ServerReflection' <<<"${services}" ||
  fail "list does not show grpc.reflection.v1alpha.ServerReflection"

# call GetStack, default request
stack="$(client call stackd.admin.v1.StackAdmin/GetStack)" ||
  fail "call GetStack failed"
echo "${stack}"
"${python}" - "${stack}" <<'PY' || fail "GetStack JSON is not the fake stack"
import json, sys
s = json.loads(sys.argv[1])
assert s["path"] == "/dev/net/fake-stack", s
assert s["tap_name"] == "tap-fake", s
assert s["lwip_version"] == "2.2.1", s
assert s["interfaces"][0]["addresses"] == ["10.42.0.2/24", "fd42::2/64"], s
assert s["routes"][0]["gateway"] == "10.42.0.1", s
assert s["counters"][0] == {"protocol": "tcp", "name": "xmit",
                            "value": "42"}, s
PY

# call ListInterfaces with an explicit JSON request
interfaces="$(client call stackd.admin.v1.StackAdmin/ListInterfaces '{}')" ||
  fail "call ListInterfaces failed"
grep -q '"kind": "loopback"' <<<"${interfaces}" ||
  fail "ListInterfaces does not show loopback: ${interfaces}"

# Failures: exit status 1, exactly one line on stderr.
expect_failure() {
  local want_status="$1"
  shift
  local status=0
  "$@" >"${dir}/out" 2>"${dir}/err" || status=$?
  [[ "${status}" == "${want_status}" ]] ||
    fail "$* exited ${status}, want ${want_status}; stderr: $(cat "${dir}/err")"
  [[ "$(wc -l <"${dir}/err")" == 1 ]] ||
    fail "$* printed other than one stderr line: $(cat "${dir}/err")"
  cat "${dir}/err"
}
expect_failure 1 client call stackd.admin.v1.StackAdmin/NoSuchMethod
expect_failure 1 client call no.such.Service/Get
expect_failure 2 client call stackd.admin.v1.StackAdmin/GetStack '{"bogus": 1}'
expect_failure 2 client frobnicate
endpoint="unix:${dir}/nobody-here.grpc"
expect_failure 1 client list

echo PASS
