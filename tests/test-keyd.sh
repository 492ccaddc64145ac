#!/bin/bash
# test-keyd.sh - the real smime-keyd on a temporary socket, asked through
# the core client (smimectl verify --owner, the stream the Dovecot plugin
# uses): sign-then-encrypt mail (gen-keyd.sh) verified, failed, without
# a key, unsigned; the daemon stopped, and a "keyd" that accepts and
# never answers (both: "encrypted" within keyd_timeout); garbage (random
# bytes, a huge size, a truncated body, silent clients, 50 of them at
# once, requests holding the byte budget) while a normal request still
# gets its answer and the daemon
# keeps serving; the socket's mode and group; a master key others can
# read or a passphrase master without -P refused; the plaintext's marker
# never in the log; SIGTERM removes the socket.  Prints "N passed, N
# failed".
set -u
: "${SMIMECTL:?}" "${SG_TESTDATA:?}" "${SMIME_KEYD:?}"
. "$(dirname -- "$0")/lib.sh"

D=$SG_TESTDATA
M=$D/keyd
K=$tmp/keys
MK=$tmp/master.key
SOCK=$tmp/run/keyd.sock
LOG=$tmp/keyd.log
kpid=
fpid=
at_exit() {
	[ -n "$kpid" ] && kill "$kpid" 2>/dev/null
	[ -n "$fpid" ] && kill "$fpid" 2>/dev/null
	wait 2>/dev/null
}
key() { "$SMIMECTL" key "$1" -c /dev/null --keystore "$K" --master-key "$MK" "${@:2}"; }

# the daemon's user and the socket's group: as root, nobody and a group
# that is not root's; else ourselves
if [ "$(id -u)" = 0 ]; then
	kuser=nobody
	kgroup=$(getent group nogroup >/dev/null && echo nogroup || echo nobody)
else
	kuser=$(id -un)
	kgroup=$(id -gn)
fi
cat >"$tmp/smimeguard.conf" <<CONF
trust_anchors = $D/trust
intermediates = $D/intermediates
keystore_dir = $K
keystore_master_key = $MK
keyd_socket = $SOCK
keyd_user = $kuser
keyd_socket_group = $kgroup
keyd_timeout = 5000
keyd_max_request_size = 1000000
CONF
chmod 600 "$tmp/smimeguard.conf"
sed 's/^keyd_timeout = .*/keyd_timeout = 20000/' "$tmp/smimeguard.conf" >"$tmp/smimeguard.conf.slow"
chmod 600 "$tmp/smimeguard.conf.slow"
# keyd_timeout 5 s for the checks of what keyd answers (a loaded or
# sanitised build may take a second), 1.5 s for those of a keyd that
# does not answer
sed 's/^keyd_timeout = .*/keyd_timeout = 1500/' "$tmp/smimeguard.conf" >"$tmp/smimeguard.conf.fast"
chmod 600 "$tmp/smimeguard.conf.fast"

key init >/dev/null 2>&1
check "import bob's key" 0 key import --address bob@example.org \
	--key "$D/pki/bob@example.org.key" --cert "$D/pki/bob@example.org.pem"
check "import bob's other key" 0 key import --address bob@example.org \
	--key "$D/certmap-keys/bob@example.org.key" --cert "$D/certmap/bob-new.pem"
# the socket's directory is the daemon's (as /run/smimeguard, tmpfiles.d)
mkdir -m 0750 "$tmp/run"
if [ "$(id -u)" = 0 ]; then
	chown -R "$kuser" "$K"
	chown "$kuser:$kgroup" "$tmp/run"
fi

start() {	# start the daemon, wait until it says it listens (after the
		# socket's mode, group and the privilege drop; up to 30 s)
	local n
	n=$(grep -c "listening on" "$LOG" 2>/dev/null)
	"$SMIME_KEYD" -f -c "$tmp/smimeguard.conf" "$@" >>"$LOG" 2>&1 &
	kpid=$!
	for _ in $(seq 1 600); do
		[ "$(grep -c "listening on" "$LOG")" -gt "${n:-0}" ] && return 0
		kill -0 "$kpid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
verify_with() {	# verify_with CONF FILE [smimectl options]: as bob, with CONF
	local c="$1"
	shift
	"$SMIMECTL" verify -c "$c" --owner bob@example.org "$@"
}
verify() {	# verify FILE [smimectl options]: status line in $tmp/out
	verify_with "$tmp/smimeguard.conf" "$@"
}

# ---- refusals at start ----
chmod 640 "$MK"
check "a master key group can read is refused" 1 "$SMIME_KEYD" -f -c "$tmp/smimeguard.conf"
expect "the refusal says how to fix it" 'grep -q "chmod" "$tmp/err"'
expect "no socket after the refusal" '[ ! -e "$SOCK" ]'
chmod 600 "$MK"
printf 'pass phrase\n' >"$tmp/pp"
"$SMIMECTL" key init -c /dev/null --keystore "$tmp/k2" --master-key "$tmp/pmaster.key" \
	--passphrase --kdf-cost minimum --passphrase-file "$tmp/pp" >/dev/null 2>&1
sed "s|^keystore_master_key = .*|keystore_master_key = $tmp/pmaster.key|" \
	"$tmp/smimeguard.conf" >"$tmp/p.conf"
chmod 600 "$tmp/p.conf"
check "a passphrase master without -P is refused" 1 "$SMIME_KEYD" -f -c "$tmp/p.conf"
expect "the refusal names -P" 'grep -q -- "-P FILE" "$tmp/err"'

# ---- serving ----
expect "smime-keyd starts" start
expect "socket mode 0660" '[ "$(stat -c %a "$SOCK")" = 660 ]'
expect "socket group $kgroup" '[ "$(stat -c %G "$SOCK")" = "$kgroup" ]'
if [ "$(id -u)" = 0 ]; then
	expect "runs as $kuser" '[ "$(ps -o user= -p "$kpid")" = "$kuser" ]'
	# a user outside the socket's group cannot connect, one in it can
	# (the control: the path is reachable, python runs as that user)
	conn_as() {	# GID: connect to the socket as uid 12345 and group GID
		setpriv --reuid=12345 --regid="$1" --clear-groups /usr/bin/python3 -c \
			"import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])" \
			"$SOCK" 2>/dev/null
	}
	expect "a user in the socket's group can connect" "conn_as $(getent group "$kgroup" | cut -d: -f3)"
	expect "a user outside the group cannot connect" '! conn_as 12345'
fi
# not dumpable: the kernel gives its /proc files to root
expect "not dumpable (PR_SET_DUMPABLE 0)" '[ "$(stat -c %u /proc/$kpid/environ)" = 0 ]'
expect "core dumps off" '[ "$(sed -n "s/^Max core file size *\([0-9a-z]*\).*/\1/p" /proc/$kpid/limits)" = 0 ]'

check "verified" 0 verify "$M/verified.eml"
expect "status encrypted+signed/verified" 'grep -q ": encrypted+signed/verified$" "$tmp/out"'
expect "the signer shown" 'grep -q "signer 1: verified alice@example.org" "$tmp/out"'
check "verified with the old key" 0 verify "$M/verified-old.eml"
expect "old key: verified" 'grep -q ": encrypted+signed/verified$" "$tmp/out"'
check "tampered" 1 verify "$M/tampered.eml"
expect "status encrypted+signed/failed" 'grep -q ": encrypted+signed/failed$" "$tmp/out"'
expect "bad-signature" 'grep -q "bad-signature" "$tmp/out"'
check "inner From not the outer one" 1 verify "$M/innerfrom.eml"
expect "innerfrom: failed, sender-mismatch" 'grep -q ": encrypted+signed/failed$" "$tmp/out" && grep -q sender-mismatch "$tmp/out"'
check "no key" 1 verify "$M/carol.eml"
expect "no key: encrypted" 'grep -q ": encrypted$" "$tmp/out" && grep -q "No stored key" "$tmp/out"'
check "unsigned" 1 verify "$M/unsigned.eml"
expect "unsigned: encrypted" 'grep -q ": encrypted$" "$tmp/out" && grep -q "not signed" "$tmp/out"'
expect "one log line per request, with peer, key and duration" \
	'[ "$(grep -c "peer uid=[0-9]* pid=[0-9]* owner=<bob@example.org> size=[0-9]* status=" "$LOG")" -ge 6 ] && grep -q "key=[0-9a-f]\{64\} ms=" "$LOG"'

# ---- garbage and concurrency ----
cat >"$tmp/garbage.py" <<'PY'
import os, socket, sys, threading, time, subprocess
sock, smimectl, conf, msg, kpid = sys.argv[1:6]
def threads():
    return len(os.listdir("/proc/%s/task" % kpid))
# keyd runs a thread per connection: with none open, this many (the
# last request's thread may still be ending)
idle = threads()
for _ in range(10):
    time.sleep(0.05)
    idle = min(idle, threads())
def wait_threads(n):
    # until keyd runs n threads (up to 10 s): its connection threads
    # end, or start, after the client acts, later on a loaded machine
    for _ in range(200):
        if threads() == n:
            return True
        time.sleep(0.05)
    return False
def conn():
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    return s
def reply(s, timeout=15):
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except (ConnectionResetError, socket.timeout):
        pass
    return data
out = {}
# random bytes
s = conn(); s.sendall(os.urandom(3000)); out["random"] = reply(s)
# a huge size
s = conn(); s.sendall(b"SGKEYD 1\nowner=bob@example.org\nsize=99999999999999\n\n")
out["huge"] = reply(s)
# a truncated body
s = conn(); s.sendall(b"SGKEYD 1\nowner=bob@example.org\nsize=5000\n\nabc")
s.shutdown(socket.SHUT_WR); out["truncated"] = reply(s)
# an endless header
s = conn()
try:
    s.sendall(b"SGKEYD 1\nowner=" + b"a" * 5000)
except OSError:
    pass
out["longhead"] = reply(s)
# NUL and control bytes in the owner
s = conn(); s.sendall(b"SGKEYD 1\nowner=bob\x00@example.org\nsize=1\n\nx")
out["nul"] = reply(s)
# requests that announce 1,000,000 bytes and send a few hold the byte
# budget (4 x keyd_max_request_size): past four, one is told "busy" at
# once.  keyd reserves a request's bytes when its thread has read the
# header, so they are sent one by one until one is told busy (on a
# loaded machine a thread may read its header late: then more than four
# are sent)
big = []
out["budget"] = b""
for _ in range(12):
    s = conn(); s.sendall(b"SGKEYD 1\nowner=bob@example.org\nsize=1000000\n\nab")
    r = reply(s, 1)
    if r:
        out["budget"] = r
        break
    big.append(s)
out["held"] = len(big)
for b in big:
    b.close()
time.sleep(0.3)
# 50 silent clients, held open
silent = [conn() for _ in range(50)]
time.sleep(0.3)
t0 = time.time()
subprocess.run([smimectl, "verify", "-c", conf, msg], capture_output=True)
base = time.time() - t0
t0 = time.time()
r = subprocess.run([smimectl, "verify", "-c", conf, "--owner",
                    "bob@example.org", msg], capture_output=True, text=True)
out["normal_s"] = time.time() - t0 - base
out["normal"] = r.stdout
for s in silent:
    s.close()
out["idle_again"] = wait_threads(idle)
# closed: keyd closed s within wait seconds (end of input, or a reply)
def closed(s, wait):
    s.settimeout(wait)
    try:
        s.recv(1)
        return True
    except socket.timeout:
        return False
    except OSError:
        return True
# 80 silent clients, more than keyd_max_clients (64): each new one past
# the limit closes the one silent longest, and a real request still gets
# its answer (before, it was closed at once until a silent one timed out)
silent = [conn() for _ in range(80)]
out["accepted_80"] = wait_threads(idle + 64)
out["kept_last"] = not closed(silent[-1], 0.3)
r = subprocess.run([smimectl, "verify", "-c", conf, "--owner",
                    "bob@example.org", msg], capture_output=True, text=True)
out["crowded"] = r.stdout
out["evicted_first"] = closed(silent[0], 5)
for s in silent:
    s.close()
# 20 real requests at once (keyd_timeout 20 s: 20 clients on a loaded
# or sanitised build may take longer than 5 s; this is about answers)
res = [None] * 20
def one(i):
    res[i] = subprocess.run([smimectl, "verify", "-c", conf + ".slow", "--owner",
                             "bob@example.org", msg], capture_output=True,
                            text=True).stdout
ts = [threading.Thread(target=one, args=(i,)) for i in range(20)]
[t.start() for t in ts]; [t.join() for t in ts]
out["concurrent_ok"] = sum(1 for x in res if ": encrypted+signed/verified" in x)
for k, v in out.items():
    print(k, repr(v))
PY
check "garbage and concurrency" 0 python3 "$tmp/garbage.py" "$SOCK" "$SMIMECTL" "$tmp/smimeguard.conf" "$M/verified.eml" "$kpid"
expect "random bytes: status=error" 'grep -q "^random .*status=error" "$tmp/out"'
expect "huge size: refused" 'grep -q "^huge .*status=error.*keyd_max_request_size" "$tmp/out"'
expect "truncated body: status=error" 'grep -q "^truncated .*status=error" "$tmp/out"'
expect "endless header: status=error" 'grep -q "^longhead .*status=error" "$tmp/out"'
expect "NUL in the header: status=error" 'grep -q "^nul .*status=error" "$tmp/out"'
expect "over the byte budget: busy" 'grep -q "^budget .*status=error.*busy" "$tmp/out"'
expect "... after four held it (or more, sent before their threads read them)" 'awk "/^held / { exit !(\$2 >= 4) }" "$tmp/out"'
# (within keyd_timeout, 5 s: a silent client holds its thread for 10 s)
expect "a normal request answered beside 50 silent clients" 'grep -q "^normal .*encrypted+signed/verified" "$tmp/out"'
expect "the 50 silent clients' threads end when they close" 'grep -q "^idle_again True" "$tmp/out"'
expect "80 silent clients: 64 held (keyd_max_clients), 16 closed" 'grep -q "^accepted_80 True" "$tmp/out"'
expect "80 silent clients (over keyd_max_clients): a real request answered" 'grep -q "^crowded .*encrypted+signed/verified" "$tmp/out"'
expect "... the silent one longest was closed for it, the newest kept" 'grep -q "^evicted_first True" "$tmp/out" && grep -q "^kept_last True" "$tmp/out"'
expect "... and keyd logged it" 'grep -q "the one silent longest (uid=.*) is closed for a new one" "$LOG"'
expect "20 requests at once all verified" 'grep -q "^concurrent_ok 20$" "$tmp/out"'
expect "the daemon still serves" 'kill -0 "$kpid"'
check "verified after the garbage" 0 verify "$M/verified.eml"

# ---- a message over keyd_max_request_size (1,000,000 here) ----
# the stream keeps it in its spill file (past 1 MiB) and sends it from
# there; keyd answers "error" and closes while the client still writes:
# the client must not die of SIGPIPE, and says why
{ printf 'Content-Type: text/plain\r\n\r\n'; head -c 1200000 /dev/zero | tr '\0' 'x' | fold -w 76 | sed 's/$/\r/'; } >"$tmp/big.txt"
openssl cms -encrypt -aes-256-gcm -from alice@example.org -to bob@example.org \
	-subject big -in "$tmp/big.txt" "$D/pki/bob@example.org.pem" >"$tmp/big.eml" 2>/dev/null
check "a message over keyd_max_request_size" 1 verify "$M/verified.eml" "$tmp/big.eml"
expect "over the limit: encrypted, keyd's refusal said, no SIGPIPE" \
	'[ "$got" -eq 1 ] && grep -q "big.eml: encrypted$" "$tmp/out" && grep -q "refused the request: the message is over keyd_max_request_size" "$tmp/out"'

# ---- the plaintext never in the log, nor in a reply ----
expect "no plaintext marker in the log" '! grep -q "SECRET-PLAINTEXT-MARKER" "$LOG"'
expect "no plaintext marker in a reply" '! grep -rq "SECRET-PLAINTEXT-MARKER" "$tmp/out"'

# ---- keyd that never answers, keyd stopped ----
cat >"$tmp/mute.py" <<'PY'
import socket, sys, time
import os
# listening before the path appears (bound elsewhere, then renamed)
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1] + ".new"); s.listen(8)
os.rename(sys.argv[1] + ".new", sys.argv[1])
held = []
while True:
    c, _ = s.accept(); held.append(c)
PY
# what smimectl costs without keyd (process start, local verdict): the
# timing checks below measure what keyd adds to it
ms() { echo $(( $(date +%s%N) / 1000000 )); }
t0=$(ms)
"$SMIMECTL" verify -c "$tmp/smimeguard.conf" "$M/verified.eml" >/dev/null
base=$(( $(ms) - t0 ))
python3 "$tmp/mute.py" "$tmp/mute.sock" & fpid=$!
for _ in $(seq 1 200); do [ -S "$tmp/mute.sock" ] && break; sleep 0.05; done
t0=$(ms)
check "a keyd that never answers" 1 verify_with "$tmp/smimeguard.conf.fast" \
	--keyd-socket "$tmp/mute.sock" "$M/verified.eml"
t1=$(ms)
expect "mute: encrypted, saying why" 'grep -q ": encrypted$" "$tmp/out" && grep -q "did not answer within 1500 ms" "$tmp/out"'
# at least keyd_timeout (its deadline starts at connect), and well short
# of three of them (one per connect, write and read)
expect "mute: gives up after keyd_timeout (1.5 s), not much later ($((t1 - t0)) ms, $base without keyd)" \
	'[ $((t1 - t0)) -ge 1450 ] && [ $((t1 - t0 - base)) -lt 4000 ]'
kill "$fpid"; wait "$fpid" 2>/dev/null; fpid=

# ---- an impostor at keyd_socket: its verdict is believed only from
# keyd_user or root, so a process of another user that put a socket
# there (a writable directory, a keyd that is down) forges nothing ----
if [ "$(id -u)" = 0 ]; then
	imp=$(mktemp -d /tmp/sg-impostor.XXXXXX)
	chmod 0777 "$imp"
	cat >"$tmp/impostor.py" <<'PY'
import socket, sys
import os
# listening before the path appears (bound elsewhere, then renamed)
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1] + ".new"); s.listen(8)
os.rename(sys.argv[1] + ".new", sys.argv[1])
while True:
    c, _ = s.accept()
    try:
        c.settimeout(5)
        c.sendall(b"status=encrypted+signed/verified\nreasons=\ndetail=forged\n"
                  b"weak=no\nfrom=alice@example.org\nsigners=1\n"
                  b"signer.0.email=alice@example.org\n"
                  b"signer.0.result=verified\nsigner.0.bound=yes\n\n")
    except OSError:
        pass
    c.close()
PY
	setpriv --reuid=12345 --regid=12345 --clear-groups \
		/usr/bin/python3 - "$imp/keyd.sock" <"$tmp/impostor.py" & fpid=$!
	for _ in $(seq 1 200); do [ -S "$imp/keyd.sock" ] && break; sleep 0.05; done
	check "an impostor's verdict (uid 12345)" 1 verify --keyd-socket "$imp/keyd.sock" "$M/verified.eml"
	expect "impostor: not believed, still encrypted, saying why" \
		'grep -q ": encrypted$" "$tmp/out" && grep -q "served by uid 12345" "$tmp/out"'
	kill "$fpid"; wait "$fpid" 2>/dev/null; fpid=
	rm -rf "$imp"
fi

kill -TERM "$kpid"; wait "$kpid"; st=$?; kpid=
expect "SIGTERM: clean exit" '[ "$st" -eq 0 ]'
expect "SIGTERM: socket removed" '[ ! -e "$SOCK" ]'
t0=$(ms)
check "keyd stopped" 1 verify_with "$tmp/smimeguard.conf.slow" "$M/verified.eml"
t1=$(ms)
expect "stopped: encrypted, saying why" 'grep -q ": encrypted$" "$tmp/out" && grep -q "not reachable" "$tmp/out"'
# keyd_timeout is 20 s here: a client that waited for it fails this
expect "stopped: at once, not after keyd_timeout ($((t1 - t0)) ms)" '[ $((t1 - t0 - base)) -lt 5000 ]'

summary
