#!/bin/bash
# test-daemon-config.sh - smime-policyd (and smime-milter when built)
# refuse a configuration that others could change: smimeguard.conf, a
# trust anchor, a CRL directory entry or a policy map writable by group or
# others stops the start with a message naming the file and the fix; the
# same files with sane modes start.  A reload (SIGHUP) onto an unsafe
# file keeps the old configuration.  The socket's path appears only when
# it listens.  Prints "N passed, N failed".
set -u
: "${SG_BUILD:?}"
policyd=$SG_BUILD/postfix-policy/smime-policyd
milter=$SG_BUILD/postfix-policy/smime-milter
. "$(dirname -- "$0")/lib.sh"
umask 022

mkdir -p "$tmp/trust" "$tmp/crl" "$tmp/certs"
OPENSSL_CONF=/dev/null openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	-nodes -keyout "$tmp/ca.key" -out "$tmp/trust/ca.pem" -subj "/CN=Test CA" \
	-days 30 2>/dev/null
echo "ext.example encrypt" > "$tmp/policy"
cat > "$tmp/sg.conf" <<EOF2
trust_anchors = $tmp/trust
crl_dirs = $tmp/crl
internal_domains = example.org
encryption_policy_maps = texthash:$tmp/policy
certificate_maps = dir:$tmp/certs
EOF2

# start DAEMON: run it with -s on an empty request stream; exit status
start() {
	"$1" -c "$tmp/sg.conf" -s -e </dev/null >"$tmp/out" 2>"$tmp/err"
}

succeeds() {	# succeeds NAME COMMAND...
	local name=$1
	shift
	if "$@"; then
		ok
	else
		bad "$name"
		sed 's/^/  | /' "$tmp/out" "$tmp/err" | head -10
	fi
}

refused() {	# refused NAME PATH-IN-MESSAGE
	if ! start "$policyd" && grep -q "$2.* is writable by group or others" "$tmp/err" &&
	   grep -q "chmod go-w" "$tmp/err"; then
		ok
	else
		bad "$1 (not refused, or no clear message)"
		sed 's/^/  | /' "$tmp/err" | head -10
	fi
}

succeeds "sane modes: smime-policyd starts" start "$policyd"
for f in "$tmp/sg.conf" "$tmp/trust/ca.pem" "$tmp/trust" "$tmp/policy" "$tmp/certs"; do
	chmod g+w "$f"
	refused "group-writable $f" "$f"
	chmod g-w,o+w "$f"
	refused "world-writable $f" "$f"
	chmod o-w "$f"
done
touch "$tmp/crl/dropped.pem"
chmod 666 "$tmp/crl/dropped.pem"
refused "world-writable file inside crl_dirs" "$tmp/crl/dropped.pem"
rm -f "$tmp/crl/dropped.pem"
# issue 18: another user's file, a symlink to a writable file, a
# writable directory above
chown nobody "$tmp/trust/ca.pem"
refused "a trust anchor owned by another user" "$tmp/trust/ca.pem"
chown root "$tmp/trust/ca.pem"
mkdir -p "$tmp/elsewhere"
cp "$tmp/trust/ca.pem" "$tmp/elsewhere/ca2.pem"
chmod 666 "$tmp/elsewhere/ca2.pem"
ln -s "$tmp/elsewhere/ca2.pem" "$tmp/trust/link.pem"
refused "a symlink to a world-writable trust anchor" "$tmp/trust/link.pem"
rm -f "$tmp/trust/link.pem"
mkdir -p "$tmp/open/deeper"
chmod 777 "$tmp/open"
mv "$tmp/policy" "$tmp/open/deeper/policy"
sed -i "s|$tmp/policy|$tmp/open/deeper/policy|" "$tmp/sg.conf"
refused "a world-writable directory above a policy map" "$tmp/open"
mv "$tmp/open/deeper/policy" "$tmp/policy"
sed -i "s|$tmp/open/deeper/policy|$tmp/policy|" "$tmp/sg.conf"
succeeds "sane again: starts" start "$policyd"
if [ -x "$milter" ]; then
	chmod o+w "$tmp/trust/ca.pem"
	if ! "$milter" -c "$tmp/sg.conf" -l "unix:$tmp/milter.sock" -e >"$tmp/out" 2>"$tmp/err" &&
	   grep -q "is writable by group or others" "$tmp/err"; then
		ok
	else
		bad "smime-milter starts with a world-writable trust anchor"
		sed 's/^/  | /' "$tmp/err" | head -5
	fi
	chmod o-w "$tmp/trust/ca.pem"
fi

# a reload onto an unsafe file keeps the running configuration
"$policyd" -c "$tmp/sg.conf" -l "unix:$tmp/policy.sock" -e 2>"$tmp/daemon.log" &
pid=$!
for i in $(seq 50); do [ -S "$tmp/policy.sock" ] && break; sleep 0.1; done
chmod o+w "$tmp/sg.conf"
kill -HUP "$pid"
sleep 0.5
reply=$(printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nsender=a@example.org\nrecipient=b@ext.example\n\n' |
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])
s.sendall(sys.stdin.buffer.read()); print(s.recv(1000).decode().strip())' "$tmp/policy.sock" 2>&1)
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
chmod o-w "$tmp/sg.conf"
if grep -q "reload failed; keeping the previous configuration" "$tmp/daemon.log" &&
   grep -q "writable by group or others" "$tmp/daemon.log" &&
   [[ $reply == "action=550 5.7.1"* ]]; then
	ok
else
	bad "reload onto an unsafe configuration (reply: $reply)"
	sed 's/^/  | /' "$tmp/daemon.log" | tail -5
fi

# the socket's path appears only when it accepts connections: a client
# that connects the moment it sees the path (as Postfix may at a
# restart) is never refused, and a SIGHUP sent then is a reload, not
# the end of the daemon.  strace holds listen() and signalfd() for
# 0.3 s each, so a daemon that shows the path before either is caught
# every time (3 starts)
refused=0
died=0
for _ in 1 2 3; do
	rm -f "$tmp/race.sock" "$tmp/race.ready"
	# the client first, watching for the path
	python3 - "$tmp/race.sock" "$tmp/race.ready" <<'PY' &
import os, socket, sys, time
open(sys.argv[2], "w").close()
deadline = time.time() + 30
while not os.path.exists(sys.argv[1]):
    if time.time() > deadline:
        sys.exit(1)
    time.sleep(0.001)
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError:
    sys.exit(1)
PY
	wpid=$!
	for _ in $(seq 300); do [ -e "$tmp/race.ready" ] && break; sleep 0.05; done
	strace -f -qq -o /dev/null -e trace=listen,signalfd4 \
		-e inject=listen,signalfd4:delay_enter=300000 \
		"$policyd" -c "$tmp/sg.conf" -l "unix:$tmp/race.sock" -e 2>>"$tmp/race.log" &
	pid=$!
	wait "$wpid" || refused=$((refused + 1))
	# the daemon is strace's child (the libtool wrapper execs it)
	pkill -HUP -P "$pid" 2>/dev/null
	sleep 1
	pgrep -P "$pid" >/dev/null || died=$((died + 1))
	pkill -TERM -P "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
done
if [ "$refused" -eq 0 ] && [ "$died" -eq 0 ]; then
	ok
else
	bad "socket seen before it listens: $refused of 3 connects refused, $died of 3 daemons ended by an early SIGHUP"
	tail -5 "$tmp/race.log" | sed 's/^/  | /'
fi

# smimectl doctor says the same before the daemons are restarted
if [ -n "${SMIMECTL:-}" ]; then
	chmod o+w "$tmp/policy"
	"$SMIMECTL" doctor --no-postfix -c "$tmp/sg.conf" >"$tmp/out" 2>&1
	rc=$?
	chmod o-w "$tmp/policy"
	if [ "$rc" -eq 1 ] && grep -q "^\[unsafe-permissions\] $tmp/policy is writable" "$tmp/out"; then
		ok
	else
		bad "doctor does not report the world-writable policy map (exit $rc)"
		sed 's/^/  | /' "$tmp/out" | head -5
	fi
fi

summary
