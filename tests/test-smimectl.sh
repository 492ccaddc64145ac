#!/bin/sh
# test-smimectl.sh - smimectl verify and cert lookup as a mail
# administrator uses them: exit codes, --json lines (parsed by Python's json
# module), several files with one trust store, standard input, --content,
# config file + override, and usage errors.  Prints "N passed, N failed".
set -u
: "${SMIMECTL:?}" "${SG_TESTDATA:?}"
D=$SG_TESTDATA
. "$(dirname -- "$0")/lib.sh"

# pycheck NAME PROGRAM EXPR: python3 PROGRAM over $tmp/out and EXPR succeeds
pycheck() {
	if python3 -c "$2" "$tmp/out" "$3" 2> "$tmp/pyerr"; then
		ok
	else
		bad "$1"
		sed 's/^/  | /' "$tmp/pyerr" | tail -5
	fi
}

json_check() {	# json_check NAME PYTHON-EXPR-over-list-d
	pycheck "$1" '
import json, sys
d = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
keys = ["file", "status", "keywords", "reasons", "detail", "signers", "encryption"]
for o in d:
    assert list(o.keys()) == keys, o.keys()
    for s in o["signers"]:
        assert list(s.keys()) == ["email", "subject", "issuer", "serial", "result", "reasons"], s.keys()
assert eval(sys.argv[2]), d
' "$2"
}

T="--trust $D/trust --crl $D/crl"
check "good verifies" 0 "$SMIMECTL" verify $T "$D/msg/alice-detached.eml"
grep -q "signed/verified" "$tmp/out" && ok || bad "text output"
check "tampered fails" 1 "$SMIMECTL" verify $T "$D/msg/alice-detached-tampered.eml"
check "json several files" 1 "$SMIMECTL" verify $T --json "$D/msg/alice-detached.eml" \
	"$D/msg/alice-detached-tampered.eml" "$D/msg/encrypted-aes256cbc.eml" "$D/msg/plain.eml"
json_check "json statuses" '[o["status"] for o in d] == ["signed/verified", "signed/failed", "encrypted", "none"] and d[1]["reasons"] == ["bad-signature"] and d[2]["encryption"]["recipients"]'
check "stdin" 0 sh -c "\"$SMIMECTL\" verify $T --json < \"$D/msg/carol-opaque.eml\""
json_check "stdin file name" 'd[0]["file"] == "-" and d[0]["signers"][0]["email"] == "carol@example.org"'
check "raw p7s with --content" 0 "$SMIMECTL" verify $T --json --content "$D/raw/content.txt" "$D/raw/gnutls-alice-detached.p7s"
check "raw p7s tampered content" 1 "$SMIMECTL" verify $T --content "$D/raw/content-tampered.txt" "$D/raw/gnutls-alice-detached.p7s"
check "sha1 rejected" 1 "$SMIMECTL" verify $T "$D/msg/alice-sha1.eml"
check "sha1 allowed" 0 "$SMIMECTL" verify $T --allow-sha1 --json "$D/msg/alice-sha1.eml"
json_check "sha1 weak keyword" '"$SMIMEWeak" in d[0]["keywords"]'
check "binding off" 0 "$SMIMECTL" verify $T --sender-binding off "$D/msg/from-mallory.eml"
check "at in the far future" 1 "$SMIMECTL" verify $T --json --at 2099-01-01T00:00:00Z "$D/msg/alice-detached.eml"
json_check "expired at" '"expired" in d[0]["reasons"]'
printf 'trust_anchors = %s/trust\ncrl_dirs = %s/crl\nrevocation_check = hard\n' "$D" "$D" > "$tmp/sg.conf"
check "config file" 0 "$SMIMECTL" verify -c "$tmp/sg.conf" "$D/msg/alice-detached.eml"
check "config + override" 0 "$SMIMECTL" verify -c "$tmp/sg.conf" --revocation none "$D/msg/revoked.eml"
check "no trust anchors: not verified" 1 "$SMIMECTL" verify "$D/msg/alice-detached.eml"
grep -q "no trust anchors" "$tmp/err" && ok || bad "no-anchor warning"
check "missing file" 2 "$SMIMECTL" verify $T /nonexistent.eml
check "bad option" 2 "$SMIMECTL" verify --frobnicate
check "bad mode" 2 "$SMIMECTL" verify $T --revocation sometimes "$D/msg/plain.eml"
check "bad time" 2 "$SMIMECTL" verify $T --at yesterday "$D/msg/plain.eml"
check "bad config" 2 "$SMIMECTL" verify -c /nonexistent.conf "$D/msg/plain.eml"
check "unknown command" 2 "$SMIMECTL" frobnicate
check "help" 0 "$SMIMECTL" verify --help
grep -q -- "--sender-binding" "$tmp/out" && ok || bad "help text"
check "version" 0 "$SMIMECTL" version

# ---- smimectl cert lookup ----------------------------------------------
cert_json_check() {	# cert_json_check NAME PYTHON-EXPR-over-list-d
	pycheck "$1" '
import json, sys
d = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
keys = ["address", "found", "map", "certificates"]
ckeys = ["subject", "issuer", "serial", "not_before", "not_after",
         "fingerprint", "ski", "emails", "key", "key_usage", "map", "source",
         "usable", "selected", "pinned", "reasons", "detail"]
for o in d:
    assert list(o.keys()) == keys, o.keys()
    for c in o["certificates"]:
        assert list(c.keys()) == ckeys, c.keys()
assert eval(sys.argv[2]), d
' "$2"
}

CM="--map dir:$D/certmap --trust $D/trust --intermediates $D/intermediates --crl $D/crl"
check "cert lookup usable" 0 "$SMIMECTL" cert lookup $CM bob@example.org
grep -q "selected: .*Bob Example (2)" "$tmp/out" && grep -q "sha256:" "$tmp/out" &&
	ok || bad "cert lookup text"
check "cert lookup none usable" 1 "$SMIMECTL" cert lookup $CM expired@example.org
grep -q "rejected (expired)" "$tmp/out" && ok || bad "cert lookup why not"
check "cert lookup json" 1 "$SMIMECTL" cert lookup $CM --json BOB@Example.org \
	nobody@example.org revoked@example.org ecdh@example.org
cert_json_check "cert lookup json fields" 'len(d) == 4 and d[0]["found"] and d[0]["address"] == "bob@example.org" and [c["selected"] for c in d[0]["certificates"]] == [True, False] and d[0]["certificates"][0]["not_before"] > d[0]["certificates"][1]["not_before"] and not d[1]["found"] and d[1]["certificates"] == [] and d[1]["map"] == "" and d[2]["certificates"][0]["reasons"] == ["revoked"] and d[3]["certificates"][0]["key"].startswith("EC-")'
printf 'trust_anchors = %s/trust\nintermediates = %s/intermediates\ncrl_dirs = %s/crl\ncertificate_maps = dir:%s/certmap\n' \
	"$D" "$D" "$D" "$D" > "$tmp/cm.conf"
check "cert lookup config file" 0 "$SMIMECTL" cert lookup -c "$tmp/cm.conf" -q ecdh@example.org badku@example.org
check "cert lookup override" 0 "$SMIMECTL" cert lookup -c "$tmp/cm.conf" --revocation none revoked@example.org
check "cert lookup at" 1 "$SMIMECTL" cert lookup -c "$tmp/cm.conf" --json --at 2099-01-01T00:00:00Z bob@example.org
cert_json_check "cert lookup at: expired" 'd[0]["certificates"][0]["reasons"] == ["expired"]'
check "cert lookup ldap map" 2 "$SMIMECTL" cert lookup --map ldap:/etc/smimeguard/ldap.cf bob@example.org
grep -Eq "without LDAP support|ldap:/etc/smimeguard/ldap.cf: No such file" "$tmp/err" && ok || bad "ldap map message"
check "cert lookup unreadable map" 2 "$SMIMECTL" cert lookup --map dir:/nonexistent/certs --json bob@example.org
python3 -c 'import json,sys; o=json.loads(open(sys.argv[1]).read()); assert o["address"]=="bob@example.org" and "/nonexistent/certs" in o["error"]' "$tmp/out" &&
	ok || bad "map error json"
check "cert lookup no address" 2 "$SMIMECTL" cert lookup $CM
check "cert lookup help" 0 "$SMIMECTL" cert lookup --help
grep -q -- "--map TYPE:NAME" "$tmp/out" && ok || bad "cert help text"
check "help cert" 0 "$SMIMECTL" help cert
check "cert unknown subcommand" 2 "$SMIMECTL" cert frobnicate

# policy test: example.org counts as external here, so certmap/ answers
printf 'example.org encrypt\nopen.example none\n' > "$tmp/policy"
printf 'trust_anchors = %s/trust\nintermediates = %s/intermediates\ncrl_dirs = %s/crl\ncertificate_maps = dir:%s/certmap\ninternal_domains = internal.example\nencryption_policy_maps = %s/policy\n' \
	"$D" "$D" "$D" "$D" "$tmp" > "$tmp/pol.conf"
check "policy: internal" 0 "$SMIMECTL" policy test -c "$tmp/pol.conf" --sender a@internal.example --recipient b@internal.example
grep -q "no requirement (internal recipient)" "$tmp/out" && ok || bad "policy internal text"
check "policy: open domain" 0 "$SMIMECTL" policy test -c "$tmp/pol.conf" --sender a@internal.example --recipient x@open.example
check "policy: no certificate" 1 "$SMIMECTL" policy test -c "$tmp/pol.conf" --sender a@internal.example --recipient nobody@example.org
grep -q "no S/MIME certificate is known" "$tmp/out" && ok || bad "policy no-cert text"
check "policy: certificate known" 0 "$SMIMECTL" policy test -c "$tmp/pol.conf" --sender a@internal.example --recipient bob@example.org
check "policy: plaintext refused" 1 "$SMIMECTL" policy test -c "$tmp/pol.conf" --sender a@internal.example --recipient bob@example.org --message "$D/msg/plain.eml"
grep -q "not encrypted" "$tmp/out" && ok || bad "policy plaintext text"
# the null sender and Auto-Submitted are exempt only when named, and
# then only for the named clients (issue 10, item 3)
check "policy: null sender not exempt" 1 "$SMIMECTL" policy test -c "$tmp/pol.conf" --sender "" --recipient bob@example.org --message "$D/msg/plain.eml"
grep -q "not-encrypted" "$tmp/out" && ok || bad "policy null sender reason"
check "policy: auto-replied not exempt" 1 "$SMIMECTL" policy test -c "$tmp/pol.conf" --sender a@internal.example --recipient bob@example.org --auto-submitted auto-replied --message "$D/msg/plain.eml"
{ cat "$tmp/pol.conf"; printf 'policy_exemptions = null-sender, auto-submitted\npolicy_exemption_clients = 192.0.2.0/24\n'; } > "$tmp/pol-ex.conf"
check "policy: null sender, exempt client" 0 "$SMIMECTL" policy test -c "$tmp/pol-ex.conf" --sender "" --client 192.0.2.7 --recipient bob@example.org --message "$D/msg/plain.eml"
grep -q "exempt client" "$tmp/out" && ok || bad "policy exempt client text"
check "policy: null sender, other client" 1 "$SMIMECTL" policy test -c "$tmp/pol-ex.conf" --sender "" --client 198.51.100.7 --recipient bob@example.org --message "$D/msg/plain.eml"
check "policy: null sender, no client" 1 "$SMIMECTL" policy test -c "$tmp/pol-ex.conf" --sender "" --recipient bob@example.org --message "$D/msg/plain.eml"
check "policy: auto-replied, exempt client" 0 "$SMIMECTL" policy test -c "$tmp/pol-ex.conf" --sender a@internal.example --client 192.0.2.7 --recipient bob@example.org --auto-submitted auto-replied --message "$D/msg/plain.eml"
check "policy: Auto-Submitted nope" 1 "$SMIMECTL" policy test -c "$tmp/pol-ex.conf" --sender a@internal.example --client 192.0.2.7 --recipient bob@example.org --auto-submitted nope --message "$D/msg/plain.eml"
{ printf 'Auto-Submitted: auto-generated\r\n'; cat "$D/msg/plain.eml"; } > "$tmp/auto.eml"
check "policy: Auto-Submitted in the message" 0 "$SMIMECTL" policy test -c "$tmp/pol-ex.conf" --sender a@internal.example --client 192.0.2.7 --recipient bob@example.org --message "$tmp/auto.eml"
{ printf 'Auto-Submitted: auto-generated\r\nAuto-Submitted: no\r\n'; cat "$D/msg/plain.eml"; } > "$tmp/auto2.eml"
check "policy: two Auto-Submitted fields" 1 "$SMIMECTL" policy test -c "$tmp/pol-ex.conf" --sender a@internal.example --client 192.0.2.7 --recipient bob@example.org --message "$tmp/auto2.eml"
# recipients as Postfix routes them (issue 10, items 1 and 2)
check "policy: percent hack" 1 "$SMIMECTL" policy test -c "$tmp/pol.conf" --sender a@internal.example --recipient "nobody%example.org@internal.example"
grep -q "routed to <nobody@example.org>" "$tmp/out" && ok || bad "policy routed text"
check "policy: bang path, trailing dot" 1 "$SMIMECTL" policy test -c "$tmp/pol.conf" --sender a@internal.example --recipient "EXAMPLE.org.!nobody@internal.example"
check "policy: quoted @" 0 "$SMIMECTL" policy test -c "$tmp/pol.conf" --sender a@internal.example --recipient '"bob@example.org"@internal.example'
grep -q "a usable certificate is known" "$tmp/out" && ok || bad "policy quoted @ lookup"
check "policy: address literal" 1 "$SMIMECTL" policy test -c "$tmp/pol.conf" --sender a@internal.example --recipient "bob@[192.0.2.1]"
grep -q "refused: 553 5.1.3" "$tmp/out" && ok || bad "policy literal text"
long=nico+$(printf '%0300d' 0)@example.org
check "policy: 300-octet address" 1 "$SMIMECTL" policy test -c "$tmp/pol.conf" --sender a@internal.example --recipient "$long"
grep -q "refused: 501 5.5.4" "$tmp/out" && ok || bad "policy long text"
# what Postfix says about the route ({rcpt_mailer})
check "policy: internal transport" 0 "$SMIMECTL" policy test -c "$tmp/pol.conf" --sender a@internal.example --transport lmtp --recipient nobody@example.org
grep -q "internal transport lmtp" "$tmp/out" && ok || bad "policy transport text"
check "policy: other transport" 1 "$SMIMECTL" policy test -c "$tmp/pol.conf" --sender a@internal.example --transport smtp --recipient nobody@example.org
# the cipher floor (issue 10, item 6)
{ cat "$tmp/pol.conf"; printf 'certificate_maps = dir:%s/cipher/certs\n' "$D"; } > "$tmp/pol-c.conf"
check "policy: AES-128-CBC" 0 "$SMIMECTL" policy test -c "$tmp/pol-c.conf" --sender a@internal.example --recipient bob@example.org --message "$D/msg/encrypted-aes128cbc.eml"
for c in des rc2-40 3des; do
	check "policy: $c refused" 1 "$SMIMECTL" policy test -c "$tmp/pol-c.conf" --sender a@internal.example --recipient bob@example.org --message "$D/msg/encrypted-$c.eml"
	grep -q "weak-cipher" "$tmp/out" && ok || bad "policy $c reason"
done
{ cat "$tmp/pol-c.conf"; printf 'allow_3des = yes\n'; } > "$tmp/pol-3des.conf"
check "policy: 3DES allowed" 0 "$SMIMECTL" policy test -c "$tmp/pol-3des.conf" --sender a@internal.example --recipient bob@example.org --message "$D/msg/encrypted-3des.eml"
check "policy: password RecipientInfo" 1 "$SMIMECTL" policy test -c "$tmp/pol-c.conf" --sender a@internal.example --recipient bob@example.org --message "$D/msg/encrypted-pwri.eml"
grep -q "password-recipient.*RecipientInfo 2" "$tmp/out" && ok || bad "policy pwri reason"
check "policy: usage" 2 "$SMIMECTL" policy test -c "$tmp/pol.conf" --recipient x@y.example

# doctor: the trust store, CRLs and (dir: map) addresses; LDAP: tests/ldap/
T="--trust $D/trust --intermediates $D/intermediates --crl $D/crl"
check "doctor: clean" 0 "$SMIMECTL" doctor --no-postfix $T
grep -q "no problems found" "$tmp/out" && ok || bad "doctor clean text"
check "doctor: clean json" 0 "$SMIMECTL" doctor --no-postfix $T --json
python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); assert o == {"clean": True, "findings": [], "errors": []}, o' "$tmp/out" &&
	ok || bad "doctor clean json"
check "doctor: expired CRL" 1 "$SMIMECTL" doctor --no-postfix $T --crl "$D/crl-stale"
grep -q "^\[crl-expired\] .*int-rsa-stale.crl.pem" "$tmp/out" && grep -q "^    fix: " "$tmp/out" &&
	ok || bad "doctor expired CRL text"
check "doctor: CRLs not yet valid" 1 "$SMIMECTL" doctor --no-postfix $T --at @1000000000
grep -q "crl-not-yet-valid" "$tmp/out" && ok || bad "doctor not-yet-valid"
check "doctor: unreadable trust path" 1 "$SMIMECTL" doctor --no-postfix --trust /nonexistent/trust --crl "$D/crl"
grep -q "^\[path-unreadable\] trust_anchors: /nonexistent/trust" "$tmp/out" && ok || bad "doctor unreadable text"
check "doctor: hard mode, intermediates without CRL" 1 "$SMIMECTL" doctor --no-postfix --trust "$D/trust" --intermediates "$D/intermediates" --crl "$D/crl-rootonly" --revocation hard --json
python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); f=o["findings"]; assert sorted(x["code"] for x in f) == ["crl-missing"] * 2 and all("Mail CA" in x["about"] for x in f), f' "$tmp/out" &&
	ok || bad "doctor crl-missing"
check "doctor: missing intermediate" 1 "$SMIMECTL" doctor --no-postfix --trust "$D/trust" --crl "$D/crl" --map "dir:$D/certmap" --json bob@example.org ecdh@example.org
python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
m = [f for f in o["findings"] if f["code"] == "missing-issuer"]
assert {f["address"] for f in m} == {"bob@example.org", "ecdh@example.org"}, m
assert {f["about"] for f in m} == {"CN=Example Org Mail CA RSA,O=Example Org,C=DE", "CN=Example Org Mail CA ECC,O=Example Org,C=DE"}, m
assert all(f["fix"].startswith("import the CA certificate of CN=Example Org Mail CA") for f in m), m
' "$tmp/out" && ok || bad "doctor missing-issuer json"
check "doctor: address clean" 0 "$SMIMECTL" doctor --no-postfix $T --map "dir:$D/certmap" bob@example.org
check "doctor: no certificate" 1 "$SMIMECTL" doctor --no-postfix $T --map "dir:$D/certmap" nobody@example.org
check "doctor: address, unusable context" 2 "$SMIMECTL" doctor --no-postfix --trust /nonexistent/trust --map "dir:$D/certmap" bob@example.org
check "doctor: help" 0 "$SMIMECTL" help doctor
check "doctor: usage" 2 "$SMIMECTL" doctor --no-postfix --frobnicate

# doctor and Postfix's settings (issue 10): postconf -c DIR reads a
# main.cf/master.cf written here
if command -v postconf >/dev/null 2>&1 || [ -x /usr/sbin/postconf ]; then
	PATH=$PATH:/usr/sbin
	pf=$tmp/postfix
	mkdir -p "$pf"
	pfgood() {
		cat > "$pf/main.cf" <<'EOF'
allow_percent_hack = no
swap_bangpath = no
resolve_dequoted_address = no
smime_milter = unix:/run/smimeguard/milter.sock
non_smtpd_milters = $smime_milter
milter_default_action = tempfail
default_transport = sgcheck:[127.0.0.1]:10026
EOF
		cat > "$pf/master.cf" <<'EOF'
smtp      inet  n       -       y       -       -       smtpd
submission inet n       -       y       -       -       smtpd
  -o smtpd_milters=$smime_milter
sgcheck   unix  -       -       n       -       -       smtp
127.0.0.1:10026 inet n  -       n       -       -       smtpd
  -o smtpd_milters=$smime_milter
  -o receive_override_options=no_address_mappings
  -o content_filter=smtp:
EOF
	}
	# pfwant NAME CODES: the finding codes of the last --json run, sorted
	pfwant() {
		got=$(python3 -c 'import json,sys; print(" ".join(sorted(f["code"] for f in json.load(open(sys.argv[1]))["findings"])))' "$tmp/out" 2>/dev/null)
		if [ "$got" = "$2" ]; then ok; else bad "$1: codes '$got', want '$2'"; fi
	}
	T="--trust $D/trust --intermediates $D/intermediates --crl $D/crl"
	pfgood
	check "doctor postfix: hardened" 0 "$SMIMECTL" doctor $T --postfix-config "$pf"
	grep -q "no problems found" "$tmp/out" && ok || bad "doctor postfix clean"
	# Postfix's defaults (and a submission service with the milter)
	printf 'smime_milter = unix:/run/smimeguard/milter.sock\n' > "$pf/main.cf"
	check "doctor postfix: defaults" 1 "$SMIMECTL" doctor $T --json --postfix-config "$pf"
	pfwant "doctor postfix: defaults" "postfix-bang-path postfix-dequoted-address postfix-no-after-queue-check postfix-non-smtpd-milters postfix-percent-hack"
	grep -q 'postconf -e allow_percent_hack=no' "$tmp/out" && ok || bad "doctor postfix fix text"
	printf 'smtp inet n - y - - smtpd\n' > "$pf/master.cf"
	check "doctor postfix: no milter anywhere" 1 "$SMIMECTL" doctor $T --json --postfix-config "$pf"
	pfwant "doctor postfix: no milter anywhere" "postfix-bang-path postfix-dequoted-address postfix-no-after-queue-check postfix-no-milter postfix-non-smtpd-milters postfix-percent-hack"
	pfgood
	printf 'milter_default_action = accept\ninternal_mail_filter_classes = bounce\nmilter_rcpt_macros = i {rcpt_addr}\n' >> "$pf/main.cf"
	check "doctor postfix: accept, bounce, macros" 1 "$SMIMECTL" doctor $T --json --postfix-config "$pf"
	pfwant "doctor postfix: accept, bounce, macros" "postfix-bounce-filter postfix-milter-accept postfix-milter-macros"
	pfgood
	printf '  -o milter_default_action=accept\n' >> "$pf/master.cf"
	check "doctor postfix: a service that accepts" 1 "$SMIMECTL" doctor $T --json --postfix-config "$pf"
	pfwant "doctor postfix: a service that accepts" "postfix-milter-accept"
	# an after-queue check that is not one: no content_filter, another
	# port, not on loopback
	pfgood
	sed -i '/content_filter=smtp:/d' "$pf/master.cf"
	check "doctor postfix: check without content_filter" 1 "$SMIMECTL" doctor $T --json --postfix-config "$pf"
	pfwant "doctor postfix: check without content_filter" "postfix-no-after-queue-check"
	pfgood
	sed -i 's/10026$/10027/' "$pf/main.cf"
	check "doctor postfix: check on another port" 1 "$SMIMECTL" doctor $T --json --postfix-config "$pf"
	pfwant "doctor postfix: check on another port" "postfix-no-after-queue-check"
	pfgood
	sed -i 's/^default_transport = .*/default_transport = sgcheck:[192.0.2.1]:10026/' "$pf/main.cf"
	check "doctor postfix: check not on loopback" 1 "$SMIMECTL" doctor $T --json --postfix-config "$pf"
	pfwant "doctor postfix: check not on loopback" "postfix-no-after-queue-check"
	check "doctor postfix: --no-postfix" 0 "$SMIMECTL" doctor $T --no-postfix --postfix-config "$pf"
	check "doctor postfix: no such directory" 2 "$SMIMECTL" doctor $T --postfix-config "$tmp/nonexistent"
	grep -q "postconf" "$tmp/err" && ok || bad "doctor postfix error text"
fi
# pinned_certificates: a partner's self-signed certificate, no CA
mkdir -p "$tmp/partners" "$tmp/pinned"
OPENSSL_CONF=/dev/null openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/partner.key" \
	-out "$tmp/partners/good.pem" -subj "/CN=Partner" -days 365 \
	-addext "keyUsage=critical,digitalSignature,keyEncipherment" \
	-addext "extendedKeyUsage=emailProtection" \
	-addext "subjectAltName=email:partner-good@ext.example" 2>/dev/null
cp "$tmp/partners/good.pem" "$tmp/pinned/"
printf 'trust_anchors = %s\ncertificate_maps = dir:%s\n' "$D/trust" "$tmp/partners" > "$tmp/nopin.conf"
cp "$tmp/nopin.conf" "$tmp/pin.conf"
printf 'pinned_certificates = %s\n' "$tmp/pinned" >> "$tmp/pin.conf"
check "pinned: a self-signed partner is untrusted" 1 "$SMIMECTL" cert lookup -c "$tmp/nopin.conf" --json partner-good@ext.example
cert_json_check "pinned: untrusted without the pin" 'd[0]["certificates"][0]["reasons"] == ["untrusted"] and d[0]["certificates"][0]["pinned"] is False'
check "pinned: usable once pinned" 0 "$SMIMECTL" cert lookup -c "$tmp/pin.conf" --json partner-good@ext.example
cert_json_check "pinned: selected, marked pinned, said so" 'd[0]["certificates"][0]["selected"] and d[0]["certificates"][0]["pinned"] and "pinned partner certificate" in d[0]["certificates"][0]["detail"]'
check "pinned: an expired pinned certificate is not usable" 1 "$SMIMECTL" cert lookup -c "$tmp/pin.conf" --at 2099-01-01T00:00:00Z --json partner-good@ext.example
cert_json_check "pinned: expired" 'd[0]["certificates"][0]["reasons"] == ["expired"] and "pinned, but expired" in d[0]["certificates"][0]["detail"]'
check "pinned: text output says so" 0 "$SMIMECTL" cert lookup -c "$tmp/pin.conf" partner-good@ext.example
grep -q "pinned" "$tmp/out" && ok || bad "pinned: text output"

printf 'bob@example.org\n\n# comment\nnobody@example.org\n' | "$SMIMECTL" cert lookup $T --map "dir:$D/certmap" --json - > "$tmp/out" 2>&1
rc=$?
python3 -c 'import json,sys; d=[json.loads(l) for l in open(sys.argv[1])]; assert [x["found"] for x in d] == [True, False], d' "$tmp/out" && [ $rc -eq 1 ] &&
	ok || bad "cert lookup addresses from stdin"

summary
