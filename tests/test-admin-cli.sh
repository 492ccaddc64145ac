#!/bin/bash
# test-admin-cli.sh - what an administrator types (issue 16): smimectl
# config (postconf-like), unknown settings with "did you mean" in
# smimectl, smimectl doctor and the daemons, the daemons' -n (check the
# configuration and exit), -h/--help and -V.  Prints "N passed, N failed".
set -u
: "${SG_BUILD:?}"
smimectl=$SG_BUILD/tools/smimectl
policyd=$SG_BUILD/postfix-policy/smime-policyd
milter=$SG_BUILD/postfix-policy/smime-milter
. "$(dirname -- "$0")/lib.sh"
umask 022

# check_out NAME STATUS PATTERN COMMAND...: exit status and output (stdout
# and stderr together) matching the extended regex PATTERN
check_out() {
	local name=$1 want=$2 pat=$3 got; shift 3
	"$@" > "$tmp/out" 2>&1
	got=$?
	if [ "$got" != "$want" ]; then
		bad "$name: exit $got, want $want"; sed 's/^/    /' "$tmp/out"; return
	fi
	if [ -n "$pat" ] && ! grep -Eq -- "$pat" "$tmp/out"; then
		bad "$name: output does not match /$pat/"; sed 's/^/    /' "$tmp/out"; return
	fi
	ok
}

mkdir -p "$tmp/trust" "$tmp/crl" "$tmp/certs"
OPENSSL_CONF=/dev/null openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	-nodes -keyout "$tmp/ca.key" -out "$tmp/trust/ca.pem" -subj "/CN=Test CA" \
	-days 30 -addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
echo "ext.example encrypt" > "$tmp/policy"
cat > "$tmp/good.conf" <<EOF2
base = $tmp
trust_anchors = \$base/trust
internal_domains = example.org
encryption_policy_maps = texthash:$tmp/policy
certificate_maps = dir:\${base}/certs
EOF2
{ cat "$tmp/good.conf"; echo "trsut_anchors = $tmp/trust"; echo "crl_dir = $tmp/crl"; } > "$tmp/typo.conf"
# a misspelt name that is also why the configuration fails
sed 's/^certificate_maps/certifcate_maps/' "$tmp/good.conf" > "$tmp/broken.conf"

# ---- smimectl config -----------------------------------------------------------
check_out "config -d: every default" 0 '^revocation_check = soft$' "$smimectl" config -d
check_out "config -d: empty defaults" 0 '^trust_anchors =$' "$smimectl" config -d
check_out "config -d NAME" 0 '^max_mime_depth = 32$' "$smimectl" config -d max_mime_depth
check_out "config -n: only what the file sets" 0 '^internal_domains = example.org$' \
	"$smimectl" config -c "$tmp/good.conf" -n
"$smimectl" config -c "$tmp/good.conf" -n > "$tmp/n" 2>&1
if grep -q '^revocation_check' "$tmp/n"; then bad "config -n prints defaults"; else ok; fi
if grep -q '^base = ' "$tmp/n"; then ok; else bad "config -n omits the file's own variable"; cat "$tmp/n"; fi
check_out "config NAME: in effect, raw" 0 '^trust_anchors = \$base/trust$' \
	"$smimectl" config -c "$tmp/good.conf" trust_anchors
check_out "config -x NAME: expanded" 0 "^trust_anchors = $tmp/trust\$" \
	"$smimectl" config -c "$tmp/good.conf" -x trust_anchors
check_out "config: an unknown NAME" 1 'no_such_setting: unknown setting' \
	"$smimectl" config -c "$tmp/good.conf" no_such_setting
check_out "config -d -n" 2 'exclude each other' "$smimectl" config -d -n
check_out "config --table" 0 "^policy_action	reject	reject\|defer\|hold\|monitor\$" "$smimectl" config --table
check_out "config: warns about unknown settings" 0 'warning: .*typo.conf, line 7: unknown setting crl_dir \(did you mean crl_dirs\?\)' \
	"$smimectl" config -c "$tmp/typo.conf" -n
check_out "help config" 0 'smimectl config' "$smimectl" help config
check_out "config -c /dev/null reads nothing" 0 '' "$smimectl" config -c /dev/null -n
[ -s "$tmp/out" ] && bad "config -c /dev/null -n printed something" || ok

# ---- smimectl doctor and the other commands ---------------------------------------
check_out "doctor: clean configuration" 0 'no problems found' "$smimectl" doctor -c "$tmp/good.conf"
check_out "doctor: unknown settings are findings" 1 '\[unknown-setting\] .*line 6: unknown setting trsut_anchors \(did you mean trust_anchors\?\)' \
	"$smimectl" doctor -c "$tmp/typo.conf"
check_out "doctor: each with its line" 1 'line 7: unknown setting crl_dir \(did you mean crl_dirs\?\)' \
	"$smimectl" doctor -c "$tmp/typo.conf"
"$smimectl" doctor -c "$tmp/typo.conf" > "$tmp/d" 2>&1
if grep -q '^smimectl: warning' "$tmp/d"; then bad "doctor reports them twice"; else ok; fi
check_out "doctor --json: the finding" 1 '"code":"unknown-setting"' "$smimectl" doctor --json -c "$tmp/typo.conf"
check_out "cert lookup warns too" 1 'smimectl: warning: .*unknown setting trsut_anchors' \
	"$smimectl" cert lookup -c "$tmp/typo.conf" nobody@ext.example
check_out "policy test warns too" 1 'smimectl: warning: .*unknown setting crl_dir' \
	"$smimectl" policy test -c "$tmp/typo.conf" --sender a@example.org --recipient b@ext.example

# ---- the daemons --------------------------------------------------------------
for d in "$policyd" "$milter"; do
	[ -x "$d" ] || continue
	n=$(basename "$d")
	check_out "$n -h" 0 "^usage: $n.*" "$d" -h
	check_out "$n --help names -n" 0 '^  -n  ' "$d" --help
	check_out "$n -V" 0 "^$n \(smimeguard\) [0-9]" "$d" -V
	check_out "$n -x: usage on stderr" 2 "^usage: $n" "$d" -x
	check_out "$n -n: valid" 0 "configuration $tmp/good.conf is valid" "$d" -n -c "$tmp/good.conf"
	check_out "$n -n: did you mean" 0 'warning: .*line 6: unknown setting trsut_anchors \(did you mean trust_anchors\?\)' \
		"$d" -n -c "$tmp/typo.conf"
	check_out "$n -n: the misspelling is named when it breaks the start" 1 \
		'unknown setting certifcate_maps \(did you mean certificate_maps\?\)' "$d" -n -c "$tmp/broken.conf"
	check_out "$n -n: missing file" 1 'cannot open' "$d" -n -c "$tmp/none.conf"
	chmod g+w "$tmp/good.conf"
	check_out "$n -n: group-writable configuration refused" 1 'writable' "$d" -n -c "$tmp/good.conf"
	chmod g-w "$tmp/good.conf"
done

# ---- every program's settings (settings/sg-settings.h) ------------------------
# one file for all: no program warns about another's settings, each one
# checks them all, smimectl config shows them with their defaults
keyd=$SG_BUILD/keyd/smime-keyd
{ cat "$tmp/good.conf"
  echo "policy_request_timeout = 10"
  echo "policyd_status_socket = $tmp/policyd.status"
  echo "milter_status_socket = $tmp/milter.status"
  echo "crl_fetch_urls = http://crl.example/ca.crl"
  echo "keyd_socket = $tmp/keyd.sock"
  echo "keyd_socket_group = nogroup"
  echo "keyd_max_clients = 8"
  echo "keyd_max_request_size = 1000000"
  echo "keystore_dir = $tmp/keys"
  echo "keystore_master_key = $tmp/master.key"; } > "$tmp/all.conf"
sed 's/^keyd_max_clients = 8/keyd_max_clients = 0/' "$tmp/all.conf" > "$tmp/badkeyd.conf"
for d in "$policyd" "$milter"; do
	[ -x "$d" ] || continue
	n=$(basename "$d")
	check_out "$n -n: another program's settings are no unknown settings" 0 \
		"configuration $tmp/all.conf is valid" "$d" -n -c "$tmp/all.conf"
	if grep -q 'unknown setting' "$tmp/out"; then bad "$n warns about another program's setting"; cat "$tmp/out"; else ok; fi
	check_out "$n -n: another program's setting is checked too" 1 \
		"keyd_max_clients: '0' is not a positive number" "$d" -n -c "$tmp/badkeyd.conf"
done
check_out "config: no warning for any program's setting" 0 '^policy_request_timeout = 10$' \
	"$smimectl" config -c "$tmp/all.conf" -n
if grep -q 'unknown setting' "$tmp/out"; then bad "smimectl config warns about a program's setting"; cat "$tmp/out"; else ok; fi
check_out "config -d: a daemon's default" 0 '^keyd_max_clients = 64$' "$smimectl" config -d keyd_max_clients
check_out "config: a daemon's setting in effect" 0 '^milter_status_socket = '"$tmp"'/milter.status$' \
	"$smimectl" config -c "$tmp/all.conf" milter_status_socket
check_out "config --table: a daemon's setting" 0 "^policy_request_timeout	30	number, 1 to 1000000\$" \
	"$smimectl" config --table
check_out "config: a daemon's setting is checked" 2 "keyd_max_clients: '0' is not a positive number" \
	"$smimectl" config -c "$tmp/badkeyd.conf" -n
if [ -x "$keyd" ]; then
	check_out "smime-keyd: no warning for the other programs' settings" 1 \
		'master' "$keyd" -f -c "$tmp/all.conf"
	if grep -q 'unknown setting' "$tmp/out"; then bad "smime-keyd warns about another program's setting"; cat "$tmp/out"; else ok; fi
fi

summary
