#!/bin/bash
# test-crl.sh - smimectl crl import / crl fetch as an administrator uses
# them, with a throwaway CA made here (a root, a sub-CA whose certificate
# names the root's CRL distribution point on a local HTTP server, an
# impostor with the root's name and another key, an unrelated CA) and a
# real HTTP server (python3 http.server) on loopback that also acts as a
# proxy, answers 404, garbage, and hangs.  Checks outcomes, exit codes,
# the files in the CRL directory (atomically replaced, never by an older
# CRL), that verification picks an imported CRL up, and that a failed
# download, an unwritable directory or a full disk keep the CRL in
# effect.  Prints "N passed, N failed".
set -u
: "${SMIMECTL:?}"
. "$(dirname -- "$0")/lib.sh"
server_pid=""
at_exit() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
	if mountpoint -q "$tmp/full" 2>/dev/null; then
		umount "$tmp/full"
	fi
}

# ---- a local HTTP server: files, a proxy, 404, garbage, a hang ----
mkdir -p "$tmp/www"
cat > "$tmp/server.py" <<'EOF'
import http.server, os, sys, time, urllib.parse
root, log = sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(log, "a") as f:
            f.write(self.path + "\n")
        path = urllib.parse.urlsplit(self.path).path     # proxy: absolute URI
        if path == "/hang":
            time.sleep(30)
            return
        if path.startswith("/redirect-"):
            # /redirect-PORT-NAME: 302 to http://127.0.0.1:PORT/NAME,
            # /redirect-local-NAME: 302 to http://localhost:<our port>/NAME
            _, kind, name = path.split("-", 2)
            port = self.server.server_address[1] if kind == "local" else kind
            host = "localhost" if kind == "local" else "127.0.0.1"
            self.send_response(302)
            self.send_header("Location", "http://%s:%s/%s" % (host, port, name))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path == "/garbage":
            body = b"<html>not a CRL</html>"
        else:
            p = os.path.join(root, os.path.basename(path))
            if not os.path.isfile(p):
                self.send_error(404)
                return
            body = open(p, "rb").read()
        self.send_response(200)
        self.send_header("Content-Type", "application/pkix-crl")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer.daemon_threads = True
srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
with open(os.environ["SG_PORT_FILE"] + ".new", "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(os.environ["SG_PORT_FILE"] + ".new", os.environ["SG_PORT_FILE"])
srv.serve_forever()
EOF
# on a free port (0: the kernel's choice), which it writes to $tmp/port
SG_PORT_FILE=$tmp/port python3 "$tmp/server.py" 0 "$tmp/www" "$tmp/http.log" &
server_pid=$!
port=$(http_up "$tmp/port") || { echo "FAIL: the test HTTP server did not start"; exit 1; }
URL=http://127.0.0.1:$port

# ---- the CA ----
export OPENSSL_CONF=/dev/null
ca() {	# ca NAME: a CA directory with openssl ca's database
	mkdir -p "$tmp/$1/new"
	: > "$tmp/$1/index.txt"
	echo 1000 > "$tmp/$1/crlnumber"
	cat > "$tmp/$1/ca.cnf" <<EOF
[ca]
default_ca = c
[c]
dir = $tmp/$1
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
crlnumber = \$dir/crlnumber
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
default_md = sha256
default_days = 365
default_crl_days = 30
crl_extensions = crl_ext
policy = p
[crl_ext]
authorityKeyIdentifier = keyid:always
[p]
commonName = supplied
[v3_sub]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
crlDistributionPoints = URI:$URL/root.crl, URI:ldap://ldap.invalid/cn=root
EOF
	openssl rand -hex 8 > "$tmp/$1/serial"
}
selfsigned() {	# selfsigned NAME SUBJECT
	ca "$1"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$tmp/$1/ca.key" -out "$tmp/$1/ca.pem" -subj "$2" -days 365 \
		-addext "basicConstraints=critical,CA:true" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
gencrl() {	# gencrl NAME OUT [openssl ca options]
	local name=$1 out=$2
	shift 2
	openssl ca -config "$tmp/$name/ca.cnf" -gencrl -out "$out" "$@" 2>/dev/null
}
selfsigned root "/CN=CRL Test Root"
selfsigned other "/CN=Unrelated CA"
selfsigned impostor "/CN=CRL Test Root"
ca sub
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$tmp/sub/ca.key" -out "$tmp/sub/ca.csr" -subj "/CN=CRL Test Sub CA" 2>/dev/null
openssl ca -batch -config "$tmp/root/ca.cnf" -extensions v3_sub -in "$tmp/sub/ca.csr" \
	-out "$tmp/sub/ca.pem" 2>/dev/null
mkdir -p "$tmp/trust" "$tmp/inter" "$tmp/crl" "$tmp/crl2"
cp "$tmp/root/ca.pem" "$tmp/trust/root.pem"
cp "$tmp/sub/ca.pem" "$tmp/inter/sub.pem"
gencrl root "$tmp/root-1.crl"		# number 1000
gencrl root "$tmp/root-2.crl"		# number 1001
gencrl sub "$tmp/sub-1.crl"
gencrl other "$tmp/other.crl"
gencrl impostor "$tmp/impostor.crl"
gencrl root "$tmp/root-expired.crl" -crlhours 1 -crl_lastupdate 20200101000000Z \
	-crl_nextupdate 20200102000000Z
openssl crl -in "$tmp/root-2.crl" -outform DER -out "$tmp/root-2.der" 2>/dev/null
if [ ! -s "$tmp/sub/ca.pem" ] || [ ! -s "$tmp/root-expired.crl" ]; then
	echo "FAIL: could not make the test CA"
	exit 1
fi
S="--trust $tmp/trust --intermediates $tmp/inter --crl $tmp/crl"

# ---- import ----
check "import a CRL" 0 "$SMIMECTL" crl import $S "$tmp/root-1.crl"
expect "import: written as PEM into crl_dirs" \
	'[ "$(ls "$tmp/crl" | wc -l)" -eq 1 ] && grep -q "BEGIN X509 CRL" "$tmp"/crl/crl-*.pem'
expect "import: text says installed and where" 'grep -q "^installed: .*CRL of CN=CRL Test Root .* -> $tmp/crl/crl-" "$tmp/out"'
check "import the same CRL again" 0 "$SMIMECTL" crl import $S "$tmp/root-1.crl"
expect "import: unchanged" 'grep -q "^unchanged: " "$tmp/out"'
check "import a newer CRL (DER)" 0 "$SMIMECTL" crl import $S --json "$tmp/root-2.der"
expect "import: newer replaces the file, number in JSON" \
	'python3 -c "import json,sys; o=json.loads(open(sys.argv[1]).read()); assert o[\"outcome\"]==\"installed\" and o[\"number\"]==\"4097\" and o[\"delta\"] is False, o" "$tmp/out" &&
	 [ "$(ls "$tmp/crl" | wc -l)" -eq 1 ] && openssl crl -in "$tmp"/crl/crl-*.pem -noout -crlnumber | grep -q 0x1001'
check "import an older CRL" 1 "$SMIMECTL" crl import $S "$tmp/root-1.crl"
expect "import: older one kept out" 'grep -q "^kept-newer: " "$tmp/out" && openssl crl -in "$tmp"/crl/crl-*.pem -noout -crlnumber | grep -q 0x1001'
# a CA re-keyed under the same name restarts cRLNumber: its CRLs are
# another scope (authority key identifier), never kept out as older
mkdir -p "$tmp/trust-rekey" "$tmp/crl-rekey"
cp "$tmp/root/ca.pem" "$tmp/trust-rekey/root-old.pem"
cp "$tmp/impostor/ca.pem" "$tmp/trust-rekey/root-new.pem"
R="--trust $tmp/trust-rekey --crl $tmp/crl-rekey"
check "re-keyed CA: the old key's CRL" 0 "$SMIMECTL" crl import $R "$tmp/root-2.crl"
check "re-keyed CA: the new key's CRL (lower number) is installed beside it" 0 \
	"$SMIMECTL" crl import $R "$tmp/impostor.crl"
expect "re-keyed CA: both CRLs in effect" \
	'grep -q "^installed: " "$tmp/out" && [ "$(ls "$tmp/crl-rekey" | wc -l)" -eq 2 ]'
check "import a CRL of an unknown CA" 1 "$SMIMECTL" crl import $S "$tmp/other.crl"
expect "import: unknown CA named, with the fix" 'grep -q "issued by CN=Unrelated CA, which is not a CA of the trust store" "$tmp/out"'
check "import a CRL with the right name and the wrong key" 1 "$SMIMECTL" crl import $S "$tmp/impostor.crl"
expect "import: signature does not verify" 'grep -q "signature does not verify" "$tmp/out"'
check "import an expired CRL" 1 "$SMIMECTL" crl import $S --crl-dir "$tmp/crl2" "$tmp/root-expired.crl"
expect "import: expired says so" 'grep -q "It expired at 2020-01-02T00:00:00Z" "$tmp/out" && [ -z "$(ls "$tmp/crl2")" ]'
check "import an expired CRL with --force" 0 "$SMIMECTL" crl import $S --crl-dir "$tmp/crl2" --force "$tmp/root-expired.crl"
check "import: dry run" 0 "$SMIMECTL" crl import $S --dry-run "$tmp/sub-1.crl"
expect "import: dry run writes nothing" '[ "$(ls "$tmp/crl" | wc -l)" -eq 1 ] && grep -q "dry run" "$tmp/out"'
check "import several files, one bad" 1 "$SMIMECTL" crl import $S "$tmp/sub-1.crl" /etc/hostname /nonexistent
expect "import: the good one installed, the others failed" \
	'[ "$(grep -c "^installed: " "$tmp/out")" -eq 1 ] && [ "$(grep -c "^failed: " "$tmp/out")" -eq 2 ]'
check "import: no files" 2 "$SMIMECTL" crl import $S
check "import: no CRL directory" 2 "$SMIMECTL" crl import --trust "$tmp/trust" "$tmp/root-1.crl"
expect "import: says what to do" 'grep -q "crl_dirs names no directory" "$tmp/err"'
mkdir -p "$tmp/crl-empty"
check "import: directory not writable" 2 "$SMIMECTL" crl import --trust "$tmp/trust" \
	--crl "$tmp/crl-empty" --crl-dir /proc/1 "$tmp/root-2.crl"
expect "import: says it cannot write" 'grep -q "cannot write" "$tmp/out"'
# a full disk: the old CRL stays whole
mkdir -p "$tmp/full"
if mount -t tmpfs -o size=4k tmpfs "$tmp/full" 2>/dev/null; then
	cp "$tmp/root-1.crl" "$tmp/full/keep.pem" 2>/dev/null
	head -c 3000 /dev/zero > "$tmp/full/filler" 2>/dev/null
	cat "$tmp/root-2.crl" "$tmp/root-2.crl" "$tmp/root-2.crl" > "$tmp/big.crl"
	for i in 1 2 3 4; do cat "$tmp/sub-1.crl" >> "$tmp/big.crl"; done
	check "import onto a full disk" 2 "$SMIMECTL" crl import --trust "$tmp/trust" \
		--intermediates "$tmp/inter" --crl "$tmp/full" "$tmp/root-2.crl"
	expect "full disk: the CRL in effect is intact, no temporary file left" \
		'cmp -s "$tmp/full/keep.pem" "$tmp/root-1.crl" && [ -z "$(ls -A "$tmp/full" | grep "^\.")" ]'
	umount "$tmp/full"
else
	echo "note: cannot mount a tmpfs here; the full-disk check did not run"
fi
# verification picks the imported CRL up: a certificate the root revoked
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$tmp/leaf.key" -out "$tmp/leaf.csr" -subj "/CN=leaf" 2>/dev/null
openssl ca -batch -config "$tmp/root/ca.cnf" -in "$tmp/leaf.csr" -out "$tmp/leaf.pem" 2>/dev/null
openssl ca -config "$tmp/root/ca.cnf" -revoke "$tmp/leaf.pem" 2>/dev/null
gencrl root "$tmp/root-3.crl"
check "import the CRL revoking the leaf" 0 "$SMIMECTL" crl import $S "$tmp/root-3.crl"
expect "import: one revoked entry reported" 'grep -q "1 revoked)" "$tmp/out"'
check "doctor is clean with the imported CRLs" 0 "$SMIMECTL" doctor --no-postfix $S
if openssl verify -crl_check -CAfile "$tmp/trust/root.pem" -CRLfile "$tmp"/crl/crl-*.pem \
	"$tmp/leaf.pem" 2>&1 | grep -q "revoked"; then
	ok
else
	bad "openssl does not see the leaf revoked by the imported CRL"
fi

# ---- fetch ----
cp "$tmp/root-3.crl" "$tmp/www/root.crl"
cp "$tmp/sub-1.crl" "$tmp/www/sub.crl"
rm -f "$tmp"/crl/*
: > "$tmp/http.log"
cat > "$tmp/sg.conf" <<EOF
trust_anchors = $tmp/trust
intermediates = $tmp/inter
crl_dirs = $tmp/crl
crl_fetch_urls = $URL/sub.crl
crl_fetch_timeout = 5
# the test's HTTP server is on loopback
crl_fetch_allow_local = yes
EOF
check "fetch from the distribution points" 0 "$SMIMECTL" crl fetch -c "$tmp/sg.conf"
expect "fetch: the root's CRL (from the sub-CA's certificate) and crl_fetch_urls; ldap: skipped" \
	'grep -qx "/root.crl" "$tmp/http.log" && grep -qx "/sub.crl" "$tmp/http.log" &&
	 [ "$(ls "$tmp/crl" | wc -l)" -eq 2 ] && ! grep -q ldap "$tmp/out"'
check "fetch again: unchanged" 0 "$SMIMECTL" crl fetch -c "$tmp/sg.conf" -q
expect "fetch -q prints nothing when all is well" '[ ! -s "$tmp/out" ]'
before=$(cat "$tmp"/crl/*.pem | sha256sum)
check "fetch: 404 and garbage" 1 "$SMIMECTL" crl fetch -c "$tmp/sg.conf" --json "$URL/missing.crl" "$URL/garbage"
expect "fetch: both failed, CRLs in effect untouched" \
	'[ "$(grep -c "\"outcome\":\"failed\"" "$tmp/out")" -eq 2 ] && [ "$(cat "$tmp"/crl/*.pem | sha256sum)" = "$before" ]'
t0=$(date +%s)
check "fetch: a server that hangs" 1 "$SMIMECTL" crl fetch -c "$tmp/sg.conf" --timeout 2 "$URL/hang"
expect "fetch: the timeout holds" '[ $(($(date +%s) - t0)) -lt 10 ] && grep -q "download failed" "$tmp/out"'
: > "$tmp/http.log"
# ---- redirects and local addresses (issue 18: a redirect from a plain-HTTP
# distribution point must not send the server to any host and port) ----
SG_PORT_FILE=$tmp/port2 python3 "$tmp/server.py" 0 "$tmp/www" "$tmp/http2.log" &
server2_pid=$!
port2=$(server_pid=$server2_pid http_up "$tmp/port2") ||
	{ echo "FAIL: the second test HTTP server did not start"; exit 1; }
: > "$tmp/http2.log"
check "fetch: a redirect to another port is refused by default" 1 \
	"$SMIMECTL" crl fetch -c "$tmp/sg.conf" "$URL/redirect-$port2-sub.crl"
expect "... and the other port got no request, the output says why" \
	'[ ! -s "$tmp/http2.log" ] && cat "$tmp/out" "$tmp/err" | grep -q "redirect"'
sed 's/^crl_fetch_allow_local = yes$/crl_fetch_allow_local = yes\ncrl_fetch_redirects = same-host/' \
	"$tmp/sg.conf" > "$tmp/sg-redir.conf"
check "fetch: same-host redirects allowed: another port is still refused" 1 \
	"$SMIMECTL" crl fetch -c "$tmp/sg-redir.conf" "$URL/redirect-$port2-sub.crl"
expect "... and the other port got no request" '[ ! -s "$tmp/http2.log" ]'
check "fetch: same-host redirects allowed: the same host and port is followed" 0 \
	"$SMIMECTL" crl fetch -c "$tmp/sg-redir.conf" "$URL/redirect-$port-sub.crl"
grep -v '^crl_fetch_allow_local' "$tmp/sg.conf" > "$tmp/sg-nolocal.conf"
check "fetch: a loopback URL is refused unless crl_fetch_allow_local" 1 \
	"$SMIMECTL" crl fetch -c "$tmp/sg-nolocal.conf" "http://localhost:$port/sub.crl"
expect "... and says how to allow it" 'cat "$tmp/out" "$tmp/err" | grep -q "crl_fetch_allow_local"'
kill "$server2_pid" 2>/dev/null; wait "$server2_pid" 2>/dev/null

check "fetch through a proxy" 0 "$SMIMECTL" crl fetch -c "$tmp/sg.conf" --proxy "$URL" http://crl.invalid/root.crl
expect "fetch: the proxy got the absolute URL" 'grep -Eqx "http://crl.invalid(:80)?/root.crl" "$tmp/http.log"'
kill "$server_pid" 2>/dev/null
wait "$server_pid" 2>/dev/null
server_pid=""
check "fetch: server down" 1 "$SMIMECTL" crl fetch -c "$tmp/sg.conf"
expect "fetch: server down keeps the CRLs, says so" \
	'[ "$(cat "$tmp"/crl/*.pem | sha256sum)" = "$before" ] && grep -q "the CRL in effect is kept" "$tmp/out"'
check "crl: help" 0 "$SMIMECTL" help crl
check "crl: no subcommand" 2 "$SMIMECTL" crl
check "crl: --force with fetch" 2 "$SMIMECTL" crl fetch --force -c "$tmp/sg.conf"

summary
