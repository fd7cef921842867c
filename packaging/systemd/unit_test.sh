#!/bin/sh
# stackd@.service as systemd reads it: `systemd-analyze verify` of an
# instance, with ExecStart pointing at the stackd under test (verify checks
# that the command exists), must pass without a word: a warning (an unknown
# key, a bad value) fails the test too.
set -eu
unit="$1"
stackd="$(readlink -f "$2")"
dir="${TEST_TMPDIR:-$(mktemp -d)}/units"
mkdir -p "$dir"
sed "s|/usr/local/bin/stackd|$stackd|" "$unit" > "$dir/stackd@blue.service"
grep -q "^ExecStart=$stackd --config=/etc/stackd/%i.conf /run/stackd/%i$" "$dir/stackd@blue.service"
grep -q '^Type=notify$' "$dir/stackd@blue.service"
out=$(systemd-analyze verify "$dir/stackd@blue.service" 2>&1) || {
  echo "systemd-analyze verify failed: $out"
  exit 1
}
if [ -n "$out" ]; then
  echo "systemd-analyze verify complained: $out"
  exit 1
fi
echo "PASS: stackd@.service verifies"
