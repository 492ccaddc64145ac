#!/bin/bash
# bench-keyd.sh BUILDDIR [--seconds S] [--clients N] - decrypt-to-verify
# messages/s through smime-keyd against the same work in-process, in one
# run (issue 15 item 7; figures in RESULTS.md).  Uses the test PKI and
# sign-then-encrypt mail of BUILDDIR/tests/data-gen (make -C tests
# testdata.stamp): a keystore with bob's key, smime-keyd on a temporary
# socket (stopped by its pid at the end), then bench-keyd.
set -eu
B=$(cd "${1:?BUILDDIR}" && pwd); shift
D=$B/tests/data-gen
[ -f "$D/keyd/verified.eml" ] || make -C "$B/tests" testdata.stamp >/dev/null
tmp=$(mktemp -d)
kpid=
trap '[ -n "$kpid" ] && kill "$kpid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
cat >"$tmp/smimeguard.conf" <<CONF
trust_anchors = $D/trust
intermediates = $D/intermediates
keystore_dir = $tmp/keys
keystore_master_key = $tmp/master.key
keyd_socket = $tmp/keyd.sock
keyd_user = $(id -un)
keyd_timeout = 30000
CONF
chmod 600 "$tmp/smimeguard.conf"
S="$B/tools/smimectl"
"$S" key init -c "$tmp/smimeguard.conf" >/dev/null
"$S" key import -c "$tmp/smimeguard.conf" --address bob@example.org \
	--key "$D/pki/bob@example.org.key" --cert "$D/pki/bob@example.org.pem" >/dev/null
# (keyd_user is this user: started as root the daemon stays root here,
# which is fine for a benchmark, never for a server)
"$B/keyd/smime-keyd" -f -c "$tmp/smimeguard.conf" 2>"$tmp/keyd.log" &
kpid=$!
for _ in $(seq 1 100); do [ -S "$tmp/keyd.sock" ] && break; sleep 0.05; done
"$B/bench/bench-keyd" "$@" "$tmp/smimeguard.conf" bob@example.org "$D/keyd/verified.eml"
echo "smime-keyd log lines: $(grep -c 'status=encrypted+signed/verified' "$tmp/keyd.log")"
