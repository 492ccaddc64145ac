#!/bin/bash
# gen-interop.sh OUTDIR - S/MIME test messages made by independent CMS
# implementations, for the PKI that gen-pki.sh made in the same OUTDIR.
#
#   NSS     cmsutil -S (detached, opaque; RSA alice and ECDSA carol),
#           cmsutil -E (encryption to bob)
#   GnuPG   gpgsm --detach-sign / --sign (alice), gpgsm --encrypt (to bob)
#           (gpgsm 2.2 imports alice from a 3DES PKCS#12 made here: it cannot
#           parse OpenSSL 3's default PBES2/AES one in pki/).  No carol:
#           gpgsm 2.2.40 segfaults importing carol's EC PKCS#12 and has no
#           ECDSA signing key then ("No secret key").
#   GnuTLS  certtool --p7-detached-sign / --p7-sign (alice, carol);
#           certtool cannot encrypt (GnuTLS has no EnvelopedData support)
#   OpenSSL openssl cms -encrypt with a subjectKeyIdentifier recipient and
#           AES-GCM, and to two recipients
#
# Each raw CMS object is wrapped in an S/MIME message by this script
# (multipart/signed with a base64 application/pkcs7-signature part, or
# application/pkcs7-mime).  For each implementation there is also a tampered
# copy and a From-changed copy of one message.
#
# Output (relative to OUTDIR; each run wipes and regenerates it):
#   interop/*.eml   messages (CRLF)
#   interop.tsv     rows in the cases.tsv format (see gen-pki.sh)
#   raw/            raw CMS objects (DER/BER, one PEM) and detached content
#   raw.tsv         cmsfile<TAB>contentfile-or-dash<TAB>settings<TAB>
#                   expected_status<TAB>expected_reasons<TAB>note
#                   (raw CMS gets no sender binding)
# The temporary NSS db lives in OUTDIR/tmp-interop, GNUPGHOME in a short
# mktemp directory (socket path limit); both are removed
# at the end (the gpg-agent started for it is stopped by its pid).  If
# /run/user/UID exists, gpg-agent puts its sockets there (GnuPG behaviour).
#
# Every message is checked with openssl cms -verify (-content for raw
# detached signatures) or -decrypt; the script fails if a check does not come
# out as expected.

set -eu
umask 022

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
OUT=$(cd -- "$1" && pwd -P)
cd "$OUT"
for f in trust/root-rsa.pem trust/root-ec.pem pki/alice@example.org.p12 \
	pki/bob@example.org.pem pki/carol@example.org.p12; do
	[ -f "$f" ] || { echo "$0: $OUT/$f missing; run gen-pki.sh first" >&2; exit 1; }
done
for tool in openssl certutil pk12util cmsutil gpgsm gpg-connect-agent certtool; do
	command -v "$tool" >/dev/null || { echo "$0: $tool not found" >&2; exit 1; }
done

rm -rf -- interop raw interop.tsv raw.tsv tmp-interop
mkdir -p interop raw tmp-interop
TMP=$OUT/tmp-interop
OPENSSL_CONF=$TMP/empty.cnf
export OPENSSL_CONF
: >"$OPENSSL_CONF"

AGENT_PID=
GNUPGHOME=
cleanup() {
	if [ -n "$AGENT_PID" ]; then kill "$AGENT_PID" 2>/dev/null || :; fi
	rm -rf -- "$TMP"
	if [ -n "$GNUPGHOME" ]; then rm -rf -- "$GNUPGHOME"; fi
}
trap cleanup EXIT

NOW=$(date -u +%s)
DATE=$(date -u -R -d "@$NOW")
SEQ=0
A=alice@example.org
C=carol@example.org
B=bob@example.org

# ------------------------------------------------------------------
# MIME helpers
# ------------------------------------------------------------------
crlf() { sed -i 's/\r*$/\r/' "$1"; }

# mail OUT BODY SUBJECT [HEADER...]
mail() {
	local o=$1 b=$2 s=$3 h
	shift 3
	SEQ=$((SEQ + 1))
	{
		for h in "$@"; do printf '%s\r\n' "$h"; done
		printf 'To: Bob <bob@example.org>\r\n'
		printf 'Subject: %s\r\n' "$s"
		printf 'Date: %s\r\n' "$DATE"
		printf 'Message-ID: <sg-interop-%s-%s@example.org>\r\n' "$SEQ" "$NOW"
		cat "$b"
	} >"$o"
	crlf "$o"
}

# wrap_detached OUT ENTITY SIG [MICALG]: multipart/signed; ENTITY must be
# CRLF canonical, it is copied byte for byte as the first part
wrap_detached() {
	local bd
	bd="----=_sg_$(basename "$1" | tr -c 'A-Za-z0-9\n' _)"
	{
		printf 'MIME-Version: 1.0\r\n'
		printf 'Content-Type: multipart/signed; protocol="application/pkcs7-signature";\r\n'
		printf ' micalg=%s; boundary="%s"\r\n\r\n' "${4:-sha-256}" "$bd"
		printf 'This is a cryptographically signed message in MIME format.\r\n\r\n'
		printf -- '--%s\r\n' "$bd"
		cat "$2"
		printf '\r\n--%s\r\n' "$bd"
		printf 'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\n'
		printf 'Content-Transfer-Encoding: base64\r\n'
		printf 'Content-Disposition: attachment; filename="smime.p7s"\r\n\r\n'
		base64 -w 76 "$3"
		printf -- '--%s--\r\n' "$bd"
	} >"$1"
	crlf "$1"
}

# wrap_opaque OUT CMS SMIME-TYPE
wrap_opaque() {
	{
		printf 'MIME-Version: 1.0\r\n'
		printf 'Content-Type: application/pkcs7-mime; smime-type=%s; name="smime.p7m"\r\n' "$3"
		printf 'Content-Transfer-Encoding: base64\r\n'
		printf 'Content-Disposition: attachment; filename="smime.p7m"\r\n\r\n'
		base64 -w 76 "$2"
	} >"$1"
	crlf "$1"
}

# The signed/encrypted MIME entity (CRLF canonical)
ENT=$TMP/entity
{
	printf 'Content-Type: text/plain; charset=UTF-8\r\n'
	printf 'Content-Transfer-Encoding: 7bit\r\n\r\n'
	printf 'Hello Bob,\r\n\r\nplease find the invoice attached.\r\n'
	printf 'Invoice total: 100 EUR\r\n\r\n-- \r\nAlice\r\n'
} >"$ENT"

# ------------------------------------------------------------------
# case tables and openssl self-checks
# ------------------------------------------------------------------
ITSV=$OUT/interop.tsv
RTSV=$OUT/raw.tsv
: >"$ITSV"
: >"$RTSV"
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$ITSV"; }
rawrow() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" >>"$RTSV"; }

cat trust/*.pem >"$TMP/roots.pem"
NCHK=0
NBAD=0
CHKLOG=$TMP/checks.log
: >"$CHKLOG"
chk() {
	local n=$1 e=$2 got
	shift 2
	NCHK=$((NCHK + 1))
	if "$@" >"$TMP/chk.out" 2>&1; then got=ok; else got=fail; fi
	if [ "$got" = "$e" ]; then
		printf '  ok    %-40s openssl: %s\n' "$n" "$got" >>"$CHKLOG"
	else
		NBAD=$((NBAD + 1))
		printf '  WRONG %-40s openssl: %s (expected %s)\n' "$n" "$got" "$e" >>"$CHKLOG"
		sed 's/^/        /' "$TMP/chk.out" | head -5 >>"$CHKLOG"
	fi
}
v() {
	openssl cms -verify -purpose smimesign -CAfile "$TMP/roots.pem" \
		-in "$1" -out /dev/null
}
# vraw CMS [CONTENT]: raw DER/BER (or PEM if the name ends in .pem)
vraw() {
	local fmt=DER
	case $1 in *.pem) fmt=PEM ;; esac
	if [ $# -gt 1 ]; then
		openssl cms -verify -purpose smimesign -CAfile "$TMP/roots.pem" \
			-inform "$fmt" -in "$1" -content "$2" -binary -out /dev/null
	else
		openssl cms -verify -purpose smimesign -CAfile "$TMP/roots.pem" \
			-inform "$fmt" -in "$1" -binary -out /dev/null
	fi
}
dec() {
	openssl cms -decrypt -recip pki/$B.pem -inkey pki/$B.key -in "$1" \
		-out "$TMP/dec.out" && cmp -s "$TMP/dec.out" "$ENT"
}
decraw() {
	openssl cms -decrypt -inform DER -recip pki/$B.pem -inkey pki/$B.key \
		-in "$1" -out "$TMP/dec.out" && cmp -s "$TMP/dec.out" "$ENT"
}
# info CMS: "BER-indefinite" or "definite" (for the report)
info() {
	if openssl asn1parse -inform DER -in "$1" | grep -q 'l=inf'; then
		echo BER-indefinite
	else
		echo definite
	fi
}
FORMS=$TMP/forms.log
: >"$FORMS"

# signed_set IMPL ADDR DET OPQ NOTE: messages for a detached and an opaque
# signature by ADDR made with IMPL
signed_set() {
	local impl=$1 a=$2 det=$3 opq=$4 note=$5 who
	who="From: <$a>"
	wrap_detached "$TMP/e.$impl-$a-d" "$ENT" "$det"
	mail "interop/$impl-${a%@*}-detached.eml" "$TMP/e.$impl-$a-d" \
		"$impl detached" "$who"
	wrap_opaque "$TMP/e.$impl-$a-o" "$opq" signed-data
	mail "interop/$impl-${a%@*}-opaque.eml" "$TMP/e.$impl-$a-o" \
		"$impl opaque" "$who"
	for m in detached opaque; do
		chk "$impl-${a%@*}-$m" ok v "interop/$impl-${a%@*}-$m.eml"
		row "interop/$impl-${a%@*}-$m.eml" - signed/verified - "$note, $m"
	done
	row "interop/$impl-${a%@*}-detached.eml" revocation_check=hard signed/verified - \
		"$note, detached, hard mode"
	printf '  %-8s %-6s detached: %s, opaque: %s\n' "$impl" "${a%@*}" \
		"$(info "$det")" "$(info "$opq")" >>"$FORMS"
}

# bad_copies IMPL ADDR: tampered and From-changed copies of the detached one
bad_copies() {
	local impl=$1 a=${2%@*} src
	src=interop/$impl-$a-detached.eml
	sed 's/Invoice total: 100 EUR/Invoice total: 900 EUR/' "$src" \
		>"interop/$impl-$a-detached-tampered.eml"
	chk "$impl-$a-detached-tampered" fail v "interop/$impl-$a-detached-tampered.eml"
	row "interop/$impl-$a-detached-tampered.eml" - signed/failed bad-signature \
		"$impl: one byte of the signed text changed"
	sed "s/^From: .*/From: Mallory <mallory@example.org>\\r/" "$src" \
		>"interop/$impl-$a-from-mallory.eml"
	grep -q '^From: Mallory' "interop/$impl-$a-from-mallory.eml"
	chk "$impl-$a-from-mallory" ok v "interop/$impl-$a-from-mallory.eml"
	row "interop/$impl-$a-from-mallory.eml" - signed/failed sender-mismatch \
		"$impl: From changed to mallory"
}

# encrypted_msg IMPL CMS NOTE [SMIME-TYPE]
encrypted_msg() {
	wrap_opaque "$TMP/e.$1-enc" "$2" "${4:-enveloped-data}"
	mail "interop/$1-encrypted.eml" "$TMP/e.$1-enc" "$1 encrypted" "From: <$A>"
	chk "$1-encrypted" ok dec "interop/$1-encrypted.eml"
	row "interop/$1-encrypted.eml" - encrypted - "$3"
}

cp "$ENT" raw/content.txt
sed 's/Invoice total: 100 EUR/Invoice total: 900 EUR/' "$ENT" >raw/content-tampered.txt

# ------------------------------------------------------------------
# NSS
# ------------------------------------------------------------------
NSSDB=sql:$TMP/nssdb
mkdir -p "$TMP/nssdb"
: >"$TMP/nsspw"
certutil -N -d "$NSSDB" --empty-password
for a in $A $C; do
	pk12util -i "pki/$a.p12" -d "$NSSDB" -W test -k "$TMP/nsspw" >/dev/null
done
certutil -A -d "$NSSDB" -n root-rsa -t C,C,C -i trust/root-rsa.pem
certutil -A -d "$NSSDB" -n root-ec -t C,C,C -i trust/root-ec.pem
certutil -A -d "$NSSDB" -n bob -t ,, -i pki/$B.pem
for a in $A $C; do
	cmsutil -S -T -G -P -H SHA256 -N "$a" -d "$NSSDB" -f "$TMP/nsspw" \
		-i "$ENT" -o "$TMP/nss-$a.p7s"
	cmsutil -S -G -P -H SHA256 -N "$a" -d "$NSSDB" -f "$TMP/nsspw" \
		-i "$ENT" -o "$TMP/nss-$a.p7m"
	signed_set nss "$a" "$TMP/nss-$a.p7s" "$TMP/nss-$a.p7m" \
		"NSS cmsutil ($([ "$a" = $A ] && echo RSA || echo ECDSA))"
done
bad_copies nss $A
cmsutil -E -r bob -d "$NSSDB" -f "$TMP/nsspw" -i "$ENT" -o "$TMP/nss-enc.p7m"
encrypted_msg nss "$TMP/nss-enc.p7m" "NSS cmsutil EnvelopedData to bob (NSS picks aes-128-cbc)"
printf '  %-8s %-6s enveloped: %s\n' nss bob "$(info "$TMP/nss-enc.p7m")" >>"$FORMS"

cp "$TMP/nss-$A.p7s" raw/nss-alice-detached.p7s
cp "$TMP/nss-$A.p7m" raw/nss-alice-opaque.p7m
cp "$TMP/nss-$C.p7s" raw/nss-carol-detached.p7s
cp "$TMP/nss-enc.p7m" raw/nss-encrypted.p7m
chk raw/nss-alice-detached.p7s ok vraw raw/nss-alice-detached.p7s raw/content.txt
chk raw/nss-alice-opaque.p7m ok vraw raw/nss-alice-opaque.p7m
chk raw/nss-carol-detached.p7s ok vraw raw/nss-carol-detached.p7s raw/content.txt
chk raw/nss-encrypted.p7m ok decraw raw/nss-encrypted.p7m
rawrow raw/nss-alice-detached.p7s raw/content.txt - signed/verified - "NSS detached (BER, signer cert twice in certificates)"
rawrow raw/nss-alice-opaque.p7m - - signed/verified - "NSS opaque (BER indefinite lengths)"
rawrow raw/nss-carol-detached.p7s raw/content.txt - signed/verified - "NSS ECDSA detached"
rawrow raw/nss-encrypted.p7m - - encrypted - "NSS EnvelopedData"

# ------------------------------------------------------------------
# GnuPG gpgsm
# ------------------------------------------------------------------
# a short home: gpg-agent's socket lives in it when /run/user/UID does not
# exist, and a unix socket path must stay under 108 bytes (OUTDIR can be
# deep, e.g. in "make distcheck")
GNUPGHOME=$(mktemp -d "${TMPDIR:-/tmp}/sg-gnupg.XXXXXX")
export GNUPGHOME
chmod 700 "$GNUPGHOME"
cat >"$GNUPGHOME/gpgsm.conf" <<'EOF'
disable-crl-checks
disable-trusted-cert-crl-check
disable-dirmngr
include-certs -2
EOF
printf 'allow-loopback-pinentry\n' >"$GNUPGHOME/gpg-agent.conf"
for r in root-rsa root-ec; do
	openssl x509 -in "trust/$r.pem" -noout -fingerprint -sha1 |
		sed 's/.*=//; s/$/ S/'
done >"$GNUPGHOME/trustlist.txt"
# gpgsm 2.2 cannot read OpenSSL 3's default PKCS#12 (PBES2 with
# hmacWithSHA256): make a 3DES one for it, from the same key and chain.
# gpgsm's PKCS#12 parser also fails now and then on one encoding ("error
# at outer.outer.seq", seen in CI): each retry makes a new file (new salt,
# so other lengths).
GPGSM() { gpgsm --batch --no-tty --pinentry-mode loopback "$@"; }
# start the agent first and wait for it (gpgsm's own autostart raced with
# the PKCS#12 import now and then); retry the import if needed
AGENT_PID=$(gpg-connect-agent 'getinfo pid' /bye 2>/dev/null | sed -n 's/^D //p')
for try in 1 2 3 4 5; do
	openssl pkcs12 -export -in pki/$A.pem -inkey pki/$A.key \
		-certfile pki/$A.chain.pem -name $A -passout pass:test \
		-keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1 \
		-out "$TMP/alice-3des.p12"
	if echo test | GPGSM --passphrase-fd 0 --import "$TMP/alice-3des.p12" \
		2>"$TMP/gpgsm.log"; then
		break
	fi
	if [ "$try" = 5 ]; then
		cat "$TMP/gpgsm.log" >&2
		exit 1
	fi
	sleep 1
done
GPGSM --import trust/root-rsa.pem trust/root-ec.pem pki/$B.pem 2>"$TMP/gpgsm.log" ||
	{ cat "$TMP/gpgsm.log" >&2; exit 1; }
echo test | GPGSM --passphrase-fd 0 --digest-algo SHA256 -u $A --detach-sign \
	-o "$TMP/gpgsm.p7s" "$ENT" 2>"$TMP/gpgsm.log" || { cat "$TMP/gpgsm.log" >&2; exit 1; }
echo test | GPGSM --passphrase-fd 0 --digest-algo SHA256 -u $A --sign \
	-o "$TMP/gpgsm.p7m" "$ENT" 2>"$TMP/gpgsm.log" || { cat "$TMP/gpgsm.log" >&2; exit 1; }
signed_set gpgsm $A "$TMP/gpgsm.p7s" "$TMP/gpgsm.p7m" "GnuPG gpgsm (RSA)"
bad_copies gpgsm $A
GPGSM --cipher-algo AES256 -r $B --encrypt -o "$TMP/gpgsm-enc.p7m" "$ENT" \
	2>"$TMP/gpgsm.log" || { cat "$TMP/gpgsm.log" >&2; exit 1; }
encrypted_msg gpgsm "$TMP/gpgsm-enc.p7m" "GnuPG gpgsm EnvelopedData aes-256-cbc to bob"
printf '  %-8s %-6s enveloped: %s\n' gpgsm bob "$(info "$TMP/gpgsm-enc.p7m")" >>"$FORMS"
if [ -n "$AGENT_PID" ]; then kill "$AGENT_PID" 2>/dev/null || :; fi
AGENT_PID=

cp "$TMP/gpgsm.p7s" raw/gpgsm-alice-detached.p7s
cp "$TMP/gpgsm.p7m" raw/gpgsm-alice-opaque.p7m
chk raw/gpgsm-alice-detached.p7s ok vraw raw/gpgsm-alice-detached.p7s raw/content.txt
chk "raw/gpgsm-alice-detached.p7s tampered" fail vraw raw/gpgsm-alice-detached.p7s raw/content-tampered.txt
chk raw/gpgsm-alice-opaque.p7m ok vraw raw/gpgsm-alice-opaque.p7m
rawrow raw/gpgsm-alice-detached.p7s raw/content.txt - signed/verified - "gpgsm detached"
rawrow raw/gpgsm-alice-detached.p7s raw/content-tampered.txt - signed/failed bad-signature \
	"gpgsm detached, content changed"
rawrow raw/gpgsm-alice-detached.p7s raw/content.txt "revocation_check=hard crl_dirs=crl-rootonly" \
	signed revocation-unknown "gpgsm detached, hard mode without intermediate CRL"
rawrow raw/gpgsm-alice-opaque.p7m - - signed/verified - "gpgsm opaque"

# ------------------------------------------------------------------
# GnuTLS certtool
# ------------------------------------------------------------------
for a in $A $C; do
	# signer first, then its intermediate: certtool signs with the first
	# certificate and, with --p7-include-cert, puts the whole list in
	cp "pki/$a.pem" "$TMP/gt-chain.pem"
	awk '/BEGIN CERT/{n++} n==1' "pki/$a.chain.pem" >>"$TMP/gt-chain.pem"
	cp "$TMP/gt-chain.pem" "$TMP/gt-chain-${a%@*}.pem"
	certtool --p7-detached-sign --p7-include-cert --p7-time --hash SHA256 \
		--load-certificate "$TMP/gt-chain.pem" --load-privkey "pki/$a.key" \
		--infile "$ENT" --outder --outfile "$TMP/gnutls-$a.p7s" 2>/dev/null
	certtool --p7-sign --p7-include-cert --p7-time --hash SHA256 \
		--load-certificate "$TMP/gt-chain.pem" --load-privkey "pki/$a.key" \
		--infile "$ENT" --outder --outfile "$TMP/gnutls-$a.p7m" 2>/dev/null
	signed_set gnutls "$a" "$TMP/gnutls-$a.p7s" "$TMP/gnutls-$a.p7m" \
		"GnuTLS certtool ($([ "$a" = $A ] && echo RSA || echo ECDSA))"
done
bad_copies gnutls $A
certtool --p7-sign --p7-include-cert --p7-time --hash SHA256 \
	--load-certificate "$TMP/gt-chain-carol.pem" --load-privkey pki/$C.key \
	--infile "$ENT" --outfile raw/gnutls-carol-opaque.p7m.pem 2>/dev/null
grep -q 'BEGIN PKCS7' raw/gnutls-carol-opaque.p7m.pem
cp "$TMP/gnutls-$A.p7s" raw/gnutls-alice-detached.p7s
chk raw/gnutls-alice-detached.p7s ok vraw raw/gnutls-alice-detached.p7s raw/content.txt
chk raw/gnutls-carol-opaque.p7m.pem ok vraw raw/gnutls-carol-opaque.p7m.pem
rawrow raw/gnutls-alice-detached.p7s raw/content.txt - signed/verified - "certtool detached (DER)"
rawrow raw/gnutls-carol-opaque.p7m.pem - - signed/verified - \
	"certtool opaque ECDSA, PEM with BEGIN PKCS7 armour"

# ------------------------------------------------------------------
# OpenSSL encryption variants
# ------------------------------------------------------------------
openssl cms -encrypt -aes-128-gcm -keyid -binary -in "$ENT" -outform DER \
	-out "$TMP/ossl-ski.p7m" pki/$B.pem
encrypted_msg openssl-ski-gcm "$TMP/ossl-ski.p7m" \
	"AuthEnvelopedData aes-128-gcm, recipient by subjectKeyIdentifier" authEnveloped-data
openssl cms -encrypt -aes256 -binary -in "$ENT" -outform DER \
	-out "$TMP/ossl-2r.p7m" pki/$B.pem pki/$A.pem
encrypted_msg openssl-two-recipients "$TMP/ossl-2r.p7m" \
	"EnvelopedData aes-256-cbc to bob and alice"
cp "$TMP/ossl-ski.p7m" raw/openssl-ski-gcm.p7m
chk raw/openssl-ski-gcm.p7m ok decraw raw/openssl-ski-gcm.p7m
rawrow raw/openssl-ski-gcm.p7m - - encrypted - "AuthEnvelopedData, SKI recipient"

# ------------------------------------------------------------------
# Summary
# ------------------------------------------------------------------
for f in interop/*.eml; do
	grep -q "^$f	" "$ITSV" || { echo "no row for $f" >&2; exit 1; }
done
cat <<EOF
gen-interop: $OUT
  messages: $(find interop -name '*.eml' | wc -l) in interop/, $(wc -l <"$ITSV") rows in interop.tsv
  raw CMS:  $(wc -l <"$RTSV") rows in raw.tsv
  encodings:
$(cat "$FORMS")
  openssl self-checks: $NCHK, unexpected: $NBAD
EOF
if [ "$NBAD" -ne 0 ] || [ "${SG_VERBOSE:-0}" = 1 ]; then cat "$CHKLOG"; fi
[ "$NBAD" -eq 0 ]
