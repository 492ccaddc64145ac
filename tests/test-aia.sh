#!/bin/bash
# test-aia.sh - chains that complete themselves (intermediate_cache,
# aia_fetch, smimectl ca fetch) against a real HTTP server on loopback.
#
# A throwaway PKI made here: a root (the only trust anchor), an
# intermediate published only at the leaf's AIA caIssuers URL, a leaf
# whose client "left out" the intermediate (the message carries the
# signer's certificate only); an unrelated CA; and a second hierarchy
# whose root is not configured.  The server answers the caIssuers URL
# as DER, PEM, a PKCS#7 bundle, an unrelated CA, garbage, a huge body, a
# redirect or a hang, as the test says.  Checks that the chain verifies
# after fetching and only then, that every bad answer is refused and
# caches nothing, that a fetch never happens while mail is verified with
# cache-only, and that nothing fetched widens trust: an intermediate
# under an unconfigured root stays untrusted, a fetched root is refused.
# Prints "N passed, N failed".
set -u
: "${SMIMECTL:?}"
. "$(dirname -- "$0")/lib.sh"
server_pid=""
at_exit() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
}

npem() {	# npem DIR: the number of cached certificates
	find "$1" -maxdepth 1 -name '*.pem' 2>/dev/null | wc -l
}

# ---- the HTTP server: /ca answers as $tmp/mode says ----
mkdir -p "$tmp/www"
cat > "$tmp/server.py" <<'EOF'
import http.server, os, sys, time, urllib.parse
root, log, modefile = sys.argv[2], sys.argv[3], sys.argv[4]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(log, "a") as f:
            f.write(self.path + "\n")
        path = urllib.parse.urlsplit(self.path).path
        mode = open(modefile).read().strip()
        if path == "/ca":
            if mode == "hang":
                time.sleep(30)
                return
            if mode == "redirect":
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.1:%d/inter.der" % self.server.server_address[1])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if mode == "garbage":
                body = b"<html>not a certificate</html>"
            elif mode == "huge":
                body = b"A" * (2 * 1024 * 1024)
            else:
                body = open(os.path.join(root, "inter." + mode), "rb").read()
        else:
            p = os.path.join(root, os.path.basename(path))
            if not os.path.isfile(p):
                self.send_error(404)
                return
            body = open(p, "rb").read()
        self.send_response(200)
        self.send_header("Content-Type", "application/pkix-cert")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer.daemon_threads = True
srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
with open(os.environ["SG_PORT_FILE"] + ".new", "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(os.environ["SG_PORT_FILE"] + ".new", os.environ["SG_PORT_FILE"])
srv.serve_forever()
EOF
echo der > "$tmp/mode"
# on a free port (0: the kernel's choice), which it writes to $tmp/port
SG_PORT_FILE=$tmp/port python3 "$tmp/server.py" 0 "$tmp/www" "$tmp/http.log" "$tmp/mode" &
server_pid=$!
port=$(http_up "$tmp/port") || { echo "FAIL: the test HTTP server did not start"; exit 1; }
URL=http://127.0.0.1:$port

# ---- the PKI ----
export OPENSSL_CONF=/dev/null
cd "$tmp" || exit 1
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
root() {	# root NAME SUBJECT
	key "$1.key"
	openssl req -x509 -new -key "$1.key" -out "$1.pem" -subj "$2" -days 365 \
		-addext "basicConstraints=critical,CA:true" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" 2>/dev/null
}
issue() {	# issue NAME SUBJECT ISSUER EXTFILE
	key "$1.key"
	openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
	openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" \
		-CAcreateserial -days 300 -extfile "$4" -out "$1.pem" 2>/dev/null
}
cat > ca.ext <<EOF
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
leaf_ext() {	# leaf_ext ADDRESS URL
	cat <<EOF
basicConstraints = CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = emailProtection
subjectAltName = email:$1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
authorityInfoAccess = caIssuers;URI:$2
EOF
}
root root "/CN=AIA Test Root"
issue inter "/CN=AIA Test Intermediate" root ca.ext
root other "/CN=AIA Unrelated CA"
leaf_ext alice@aia.test "$URL/ca" > alice.ext
issue alice "/CN=Alice" inter alice.ext
# a hierarchy whose root is not configured
root root2 "/CN=Unconfigured Root"
issue inter2 "/CN=Intermediate Under Unconfigured Root" root2 ca.ext
leaf_ext mallory@aia.test "$URL/inter2.der" > mallory.ext
issue mallory "/CN=Mallory" inter2 mallory.ext
leaf_ext eve@aia.test "$URL/root2.der" > eve.ext
issue eve "/CN=Eve" root2 eve.ext

openssl x509 -in inter.pem -outform DER -out www/inter.der
cp inter.pem www/inter.pem
openssl crl2pkcs7 -nocrl -certfile inter.pem -outform DER -out www/inter.p7c 2>/dev/null
openssl x509 -in other.pem -outform DER -out www/inter.unrelated
openssl x509 -in inter2.pem -outform DER -out www/inter2.der
openssl x509 -in root2.pem -outform DER -out www/root2.der
sign() {	# sign NAME ADDRESS OUT: signer certificate only, no chain
	printf 'Content-Type: text/plain\r\n\r\nHello from %s\r\n' "$2" > body.txt
	openssl cms -sign -signer "$1.pem" -inkey "$1.key" -md sha256 \
		-from "$2" -to "bob@example.org" -subject "AIA test" \
		-in body.txt -out "$3" 2>/dev/null
}
sign alice alice@aia.test alice.eml
sign mallory mallory@aia.test mallory.eml
sign eve eve@aia.test eve.eml
if [ ! -s alice.eml ] || [ ! -s eve.eml ] || [ ! -s www/inter.p7c ]; then
	echo "FAIL: could not make the test PKI"
	exit 1
fi
expect "the message carries the signer's certificate only" \
	'[ "$(openssl cms -cmsout -print -in alice.eml 2>/dev/null | grep -c "subject: CN *= *")" -eq 1 ]'

conf() {	# conf NAME CACHE [settings...]
	local name=$1 cache=$2
	shift 2
	{
		echo "trust_anchors = $tmp/root.pem"
		echo "revocation_check = none"
		[ -n "$cache" ] && echo "intermediate_cache = $cache"
		echo "crl_fetch_allow_local = yes"
		for s in "$@"; do echo "$s"; done
	} > "$tmp/$name.conf"
}
mode() { echo "$1" > "$tmp/mode"; : > "$tmp/http.log"; }

# ---- without the cache: untrusted, and ca fetch says what to set ----
conf plain ""
check "without the intermediate: not verified" 1 "$SMIMECTL" verify -c plain.conf alice.eml
expect "... untrusted" 'grep -q "untrusted" "$tmp/out"'
check "ca fetch without intermediate_cache" 2 "$SMIMECTL" ca fetch -c plain.conf --for alice.eml
expect "... says to set intermediate_cache" 'grep -q "intermediate_cache is not set" "$tmp/err"'
echo "aia_fetch = yes" >> plain.conf
check "aia_fetch without intermediate_cache is a configuration error" 2 \
	"$SMIMECTL" verify -c plain.conf alice.eml

# ---- bad answers: refused, nothing cached ----
conf c1 "$tmp/cache1"
mkdir -p cache1
for m in garbage unrelated huge redirect; do
	mode $m
	check "ca fetch: the URL answers $m" 1 "$SMIMECTL" ca fetch -c c1.conf --for alice.eml
	expect "... nothing cached ($m)" '[ "$(npem cache1)" -eq 0 ]'
	expect "... the server was asked ($m)" 'grep -qx "/ca" "$tmp/http.log"'
done
expect "garbage: not a certificate" 'mode garbage; "$SMIMECTL" ca fetch -c c1.conf --for alice.eml | grep -q "not a certificate"'
expect "unrelated CA: no CA that issued it" 'mode unrelated; "$SMIMECTL" ca fetch -c c1.conf --for alice.eml | grep -q "no CA certificate that issued it"'
expect "huge: larger than the limit" 'mode huge; "$SMIMECTL" ca fetch -c c1.conf --for alice.eml | grep -q "larger than"'
expect "redirect: not followed" 'mode redirect; "$SMIMECTL" ca fetch -c c1.conf --for alice.eml | grep -q "redirect"'
mode hang
start=$(date +%s)
check "ca fetch: the URL hangs" 1 "$SMIMECTL" ca fetch -c c1.conf --for alice.eml --timeout 2
expect "... gives up within the timeout" '[ $(($(date +%s) - start)) -lt 10 ]'
expect "... nothing cached (hang)" '[ "$(npem cache1)" -eq 0 ]'
check "still not verified after the bad answers" 1 "$SMIMECTL" verify -c c1.conf alice.eml

# loopback targets are refused unless configured
mode der
conf nolocal "$tmp/cache1"
sed -i '/crl_fetch_allow_local/d' nolocal.conf
check "ca fetch: a loopback URL without crl_fetch_allow_local" 1 \
	"$SMIMECTL" ca fetch -c nolocal.conf --for alice.eml
expect "... refused before connecting" '[ ! -s "$tmp/http.log" ] && grep -q "loopback" "$tmp/out"'

# ---- good answers: DER, PEM, PKCS#7 ----
for m in der pem p7c; do
	conf "g$m" "$tmp/cache-$m"
	mkdir -p "cache-$m"
	mode $m
	check "ca fetch: the URL answers $m" 0 "$SMIMECTL" ca fetch -c "g$m.conf" --for alice.eml
	expect "... stored ($m)" 'grep -q "^stored: CN *= *Alice" "$tmp/out" && [ "$(npem cache-$m)" -eq 1 ]'
	check "... then the message verifies ($m)" 0 "$SMIMECTL" verify -c "g$m.conf" alice.eml
done
expect "the cached file is the intermediate" \
	'openssl x509 -in cache-der/*.pem -noout -subject | grep -q "AIA Test Intermediate"'
mode der
check "ca fetch again: the chain is complete" 0 "$SMIMECTL" ca fetch -c gder.conf --for alice.eml
expect "... present, no download" 'grep -q "^present:" "$tmp/out" && [ ! -s "$tmp/http.log" ]'
check "ca fetch --json" 0 "$SMIMECTL" ca fetch -c gder.conf --for alice.eml --json
expect "... one JSON object per step" \
	'python3 -c "import json,sys; o=json.loads(open(sys.argv[1]).readline()); assert o[\"outcome\"]==\"present\" and o[\"source\"]==\"alice.eml\", o" "$tmp/out"'

# --for ADDRESS: the certificates of certificate_maps
mkdir -p map cache-addr
cp alice.pem map/
conf addr "$tmp/cache-addr" "certificate_maps = dir:$tmp/map"
check "ca fetch --for an address" 0 "$SMIMECTL" ca fetch -c addr.conf --for alice@aia.test
expect "... stored" '[ "$(npem cache-addr)" -eq 1 ]'

# ---- aia_fetch = yes: while verifying ----
mkdir -p cache-yes
conf yes "$tmp/cache-yes" "aia_fetch = yes"
mode der
check "aia_fetch = yes: verified at once" 0 "$SMIMECTL" verify -c yes.conf alice.eml
expect "... and cached" '[ "$(npem cache-yes)" -eq 1 ]'
mkdir -p cache-yes2
conf yes2 "$tmp/cache-yes2" "aia_fetch = yes" "aia_fetch_timeout = 2"
mode hang
start=$(date +%s)
check "aia_fetch = yes, a hanging URL: not verified" 1 "$SMIMECTL" verify -c yes2.conf alice.eml
expect "... within aia_fetch_timeout" '[ $(($(date +%s) - start)) -lt 8 ]'
expect "... untrusted, nothing cached" 'grep -q untrusted "$tmp/out" && [ "$(npem cache-yes2)" -eq 0 ]'

# ---- aia_fetch = cache-only: queued, fetched by smimectl ca fetch ----
mkdir -p cache-q
conf q "$tmp/cache-q" "aia_fetch = cache-only"
mode der
check "cache-only: not verified yet" 1 "$SMIMECTL" verify -c q.conf alice.eml
expect "... no download while verifying" '[ ! -s "$tmp/http.log" ]'
expect "... the certificate is queued" '[ "$(npem cache-q/pending)" -eq 1 ] && [ "$(npem cache-q)" -eq 0 ]'
check "ca fetch (the queue)" 0 "$SMIMECTL" ca fetch -c q.conf
expect "... stored, the queue emptied" '[ "$(npem cache-q)" -eq 1 ] && [ "$(npem cache-q/pending)" -eq 0 ]'
check "cache-only: verified afterwards" 0 "$SMIMECTL" verify -c q.conf alice.eml
# a failed download stays queued for the next run
mkdir -p cache-q2
conf q2 "$tmp/cache-q2" "aia_fetch = cache-only"
"$SMIMECTL" verify -c q2.conf alice.eml >/dev/null 2>&1
mode garbage
check "ca fetch (the queue), a rejected answer" 1 "$SMIMECTL" ca fetch -c q2.conf -q
expect "... dropped from the queue (rejected is final)" '[ "$(npem cache-q2/pending)" -eq 0 ]'
"$SMIMECTL" verify -c q2.conf alice.eml >/dev/null 2>&1	# same process rule: new process, queued again
expect "... a later message queues it again" '[ "$(npem cache-q2/pending)" -eq 1 ]'
kill "$server_pid" 2>/dev/null
wait "$server_pid" 2>/dev/null
server_pid=""
check "ca fetch (the queue), server down" 1 "$SMIMECTL" ca fetch -c q2.conf -q
expect "... kept in the queue for the next run" '[ "$(npem cache-q2/pending)" -eq 1 ]'
# again on the same port (the certificates' AIA URLs name it)
rm -f "$tmp/port"
SG_PORT_FILE=$tmp/port python3 "$tmp/server.py" "$port" "$tmp/www" "$tmp/http.log" "$tmp/mode" &
server_pid=$!
http_up "$tmp/port" >/dev/null || { echo "FAIL: the test HTTP server did not start again on port $port"; exit 1; }

# ---- smimectl doctor says where a missing issuer can be fetched ----
check "doctor: a queued certificate" 1 "$SMIMECTL" doctor -c q2.conf
expect "... aia-pending with the command and the URL" \
	'grep -q "^\[aia-pending\] the chain of CN *= *Alice is missing CN *= *AIA Test Intermediate" "$tmp/out" &&
	 grep -q "smimectl ca fetch.* can get it from $URL/ca" "$tmp/out"'
mkdir -p cache-d
conf d "$tmp/cache-d" "certificate_maps = dir:$tmp/map"
check "doctor ADDRESS: a certificate whose issuer is missing" 1 "$SMIMECTL" doctor -c d.conf alice@aia.test
expect "... missing-issuer: ca fetch --for the address, and the URL" \
	'grep -q "^\[missing-issuer\]" "$tmp/out" &&
	 grep -q "smimectl ca fetch --for alice@aia.test. can get it from $URL/ca" "$tmp/out"'
conf dmissing "$tmp/no-such-dir"
check "doctor: intermediate_cache that is not a directory" 1 "$SMIMECTL" doctor -c dmissing.conf
expect "... intermediate-cache-missing" 'grep -q "^\[intermediate-cache-missing\]" "$tmp/out"'

# ---- nothing fetched widens trust ----
mkdir -p cache-m
conf m "$tmp/cache-m"
check "an intermediate under an unconfigured root" 1 "$SMIMECTL" ca fetch -c m.conf --for mallory.eml
expect "... is cached (a path, not trust)" '[ "$(npem cache-m)" -eq 1 ]'
expect "... the chain still ends at no anchor" 'grep -q "^no-url: CN *= *Intermediate Under Unconfigured Root" "$tmp/out"'
check "... and the message stays untrusted" 1 "$SMIMECTL" verify -c m.conf mallory.eml
expect "... untrusted" 'grep -q "untrusted" "$tmp/out"'
check "a fetched root" 1 "$SMIMECTL" ca fetch -c m.conf --for eve.eml
expect "... is refused: roots come from trust_anchors" \
	'grep -q "not a trust anchor" "$tmp/out" && [ "$(npem cache-m)" -eq 1 ]'
check "... and the message stays untrusted" 1 "$SMIMECTL" verify -c m.conf eve.eml
# a root dropped into the cache by hand is not an anchor either
cp root2.pem cache-m/
check "a root in the cache by hand: still untrusted" 1 "$SMIMECTL" verify -c m.conf eve.eml

summary
