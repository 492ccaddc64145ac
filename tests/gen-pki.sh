#!/bin/bash
# gen-pki.sh OUTDIR - generate the smimeguard test PKI and S/MIME test messages
#
# Uses the openssl CLI (plus python3, standard library only, for CMS DER
# surgery that openssl cannot do).  Writes only under OUTDIR; every run wipes
# and regenerates what it owns there (also the outputs of gen-interop.sh,
# which depend on this PKI).  No network, no interaction.
#
# Output layout (all paths relative to OUTDIR):
#   trust/          trust anchors: root-rsa.pem, root-ec.pem
#   intermediates/  int-rsa.pem (under root-rsa), int-ec.pem (under root-ec)
#   crl/            current CRLs (PEM) of all four CAs; int-rsa revokes
#                   revoked@example.org (crlNumber N, the delta base)
#   crl-delta/      crl/* plus int-rsa-delta.crl.pem: delta CRL with
#                   deltaCRLIndicator N that adds deltarevoked@example.org
#   crl-stale/      current root CRLs, int-ec CRL, and an int-rsa CRL whose
#                   nextUpdate is in the past
#   crl-rootonly/   only the two root CRLs (no CRL for the intermediates)
#   pki/ADDR.pem .key .p12 (p12 password "test", chain included) per signer;
#                   ADDR.chain.pem = issuing intermediate + root
#   ca/             CA keys and openssl ca databases (rogue CA: ca/rogue/)
#   msg/*.eml       test messages (CRLF unless the name says lf)
#   cases.tsv       file<TAB>settings<TAB>expected_status<TAB>expected_reasons<TAB>note
#   certmap/        a dir: certificate map for the certificate-resolution
#                   tests (see "Certificate maps" below); certmap-keys/ its
#                   new keys; certmap-msg/ messages to and from bob
#
# cases.tsv: settings are smimeguard.conf overrides (name=value, space
# separated, paths relative to OUTDIR) applied on top of
#   trust_anchors=trust crl_dirs=crl revocation_check=soft sender_binding=strict
# or "-"; "at=@UNIXTIME" sets the validation time.  expected_reasons is a comma
# list of reason tokens that must all be present, or "-".  No header line.
#
# Every message is checked with "openssl cms -verify -purpose smimesign" (or
# -decrypt) against what it is meant to be; a summary is printed and the
# script fails if a check does not come out as expected.

set -eu
umask 022

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
mkdir -p -- "$1"
OUT=$(cd -- "$1" && pwd -P)
cd "$OUT"

# Outputs this script (and gen-interop.sh) own: wipe them for idempotency.
rm -rf -- trust intermediates crl crl-delta crl-stale crl-rootonly pki ca \
	msg tmp cases.tsv interop raw interop.tsv raw.tsv tmp-interop \
	certmap certmap-keys certmap-msg
mkdir -p trust intermediates crl crl-delta crl-stale crl-rootonly pki ca \
	msg tmp
TMP=$OUT/tmp

# Keep openssl away from the system configuration.
OPENSSL_CONF=$TMP/empty.cnf
export OPENSSL_CONF
: >"$OPENSSL_CONF"

NOW=$(date -u +%s)
DAY=86400
# asn1 UTCTime (YYMMDDHHMMSSZ) for NOW + $1 seconds
t() { date -u -d "@$((NOW + $1))" +%y%m%d%H%M%SZ; }

SG_EMAIL=none@example.org
SG_DELTA_BASE=0
export SG_EMAIL SG_DELTA_BASE

# ------------------------------------------------------------------
# DER surgery helper (python3, standard library only)
# ------------------------------------------------------------------
cat >"$TMP/der.py" <<'PYEOF'
"""Minimal BER/DER tree editor for the CMS cases openssl cannot produce."""
import sys
import zlib


def parse_one(b, i):
    t = b[i]
    i += 1
    if t & 0x1f == 0x1f:
        raise ValueError("high tag numbers not supported")
    lb = b[i]
    i += 1
    if lb == 0x80:
        length = None
    elif lb & 0x80:
        n = lb & 0x7f
        length = int.from_bytes(b[i:i + n], "big")
        i += n
    else:
        length = lb
    cons = bool(t & 0x20)
    if length is None:
        if not cons:
            raise ValueError("indefinite primitive")
        kids = []
        while b[i:i + 2] != b"\0\0":
            k, i = parse_one(b, i)
            kids.append(k)
        return [t, kids, True], i + 2
    end = i + length
    if end > len(b):
        raise ValueError("truncated")
    if cons:
        kids = []
        j = i
        while j < end:
            k, j = parse_one(b, j)
            kids.append(k)
        if j != end:
            raise ValueError("bad constructed length")
        return [t, kids, False], end
    return [t, bytes(b[i:end]), False], end


def parse(b):
    node, end = parse_one(b, 0)
    if end != len(b):
        raise ValueError("trailing data")
    return node


def enc_len(n):
    if n < 0x80:
        return bytes([n])
    s = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(s)]) + s


def encode(node):
    t, v = node[0], node[1]
    body = b"".join(encode(k) for k in v) if isinstance(v, list) else v
    return bytes([t]) + enc_len(len(body)) + body


def tlv(t, body):
    return bytes([t]) + enc_len(len(body)) + body


def oid(dotted):
    p = [int(x) for x in dotted.split(".")]
    out = bytearray([40 * p[0] + p[1]])
    for x in p[2:]:
        chunk = [x & 0x7f]
        x >>= 7
        while x:
            chunk.append(0x80 | (x & 0x7f))
            x >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, bytes(out))


def has_indef(node):
    if node[2]:
        return True
    return isinstance(node[1], list) and any(has_indef(k) for k in node[1])


def signed_data(root):
    # ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT SignedData }
    if root[1][0][1] != oid("1.2.840.113549.1.7.2")[2:]:
        raise ValueError("not SignedData")
    return root[1][1][1][0]


def rd(path):
    with open(path, "rb") as f:
        return f.read()


def wr(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main(argv):
    op = argv[1]
    if op == "zero-signers":        # IN OUT
        root = parse(rd(argv[2]))
        sd = signed_data(root)
        if sd[1][-1][0] != 0x31:
            raise ValueError("no signerInfos SET")
        sd[1][-1] = [0x31, [], False]
        wr(argv[3], encode(root))
    elif op == "add-crl":           # IN CRL.der OUT
        root = parse(rd(argv[2]))
        sd = signed_data(root)
        crl = parse(rd(argv[3]))
        kids = sd[1]
        tags = [k[0] for k in kids]
        if 0xa1 in tags:
            kids[tags.index(0xa1)][1].append(crl)
        else:
            pos = tags.index(0xa0) + 1 if 0xa0 in tags else 3
            kids.insert(pos, [0xa1, [crl], False])
        wr(argv[4], encode(root))
    elif op == "break-signer":      # IN SERIALHEX OUT
        root = parse(rd(argv[2]))
        sd = signed_data(root)
        want = int(argv[3], 16)
        hit = 0
        for si in sd[1][-1][1]:
            sid = si[1][1]
            if sid[0] != 0x30 or int.from_bytes(sid[1][1][1], "big") != want:
                continue
            for k in si[1]:
                if k[0] == 0x04:
                    v = bytearray(k[1])
                    v[len(v) // 2] ^= 0x01
                    k[1] = bytes(v)
                    hit += 1
                    break
        if hit != 1:
            raise ValueError("signer %s not found" % argv[3])
        wr(argv[4], encode(root))
    elif op == "replace":           # IN OLD NEW OUT (same length, once)
        data = rd(argv[2])
        old, new = argv[3].encode(), argv[4].encode()
        if len(old) != len(new) or data.count(old) != 1:
            raise ValueError("replace: need exactly one same-length match")
        wr(argv[5], data.replace(old, new))
    elif op == "compress":          # IN OUT: RFC 3274 CompressedData, zlib
        content = rd(argv[2])
        eci = tlv(0x30, oid("1.2.840.113549.1.7.1")
                  + tlv(0xa0, tlv(0x04, zlib.compress(content, 9))))
        cd = tlv(0x30, tlv(0x02, b"\0")
                 + tlv(0x30, oid("1.2.840.113549.1.9.16.3.8")) + eci)
        ci = tlv(0x30, oid("1.2.840.113549.1.9.16.1.9") + tlv(0xa0, cd))
        # self-check: parse back and inflate
        back = parse(ci)[1][1][1][0][1][2][1][1][1][0][1]
        if zlib.decompress(back) != content:
            raise ValueError("compress round trip failed")
        wr(argv[3], ci)
    elif op == "info":              # IN: signer count, BER or DER
        root = parse(rd(argv[2]))
        try:
            n = len(signed_data(root)[1][-1][1])
        except (ValueError, IndexError):
            n = -1
        print("signers=%d %s" % (n, "BER-indefinite" if has_indef(root)
                                 else "definite"))
    else:
        raise SystemExit("unknown op " + op)


main(sys.argv)
PYEOF
der() { python3 "$TMP/der.py" "$@"; }

# ------------------------------------------------------------------
# CAs
# ------------------------------------------------------------------
# ca_init NAME: an openssl ca directory with a throwaway config
ca_init() {
	local d
	d=$OUT/ca/$1
	mkdir -p "$d/newcerts"
	: >"$d/index.txt"
	echo "unique_subject = no" >"$d/index.txt.attr"
	openssl rand -hex 8 | sed 's/^./1/' >"$d/serial"
	echo 1000 >"$d/crlnumber"
	cat >"$d/ca.cnf" <<EOF
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = $d
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
certificate = \$dir/cert.pem
private_key = \$dir/key.pem
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_days = 365
default_crl_days = 30
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = yes
crl_extensions = crl_ext
[ policy_any ]
countryName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied
emailAddress = optional
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = placeholder
[ crl_ext ]
authorityKeyIdentifier = keyid:always
freshestCRL = URI:http://crl.example.org/delta.crl
[ crl_delta ]
authorityKeyIdentifier = keyid:always
deltaCRL = critical,ASN1:INTEGER:\$ENV::SG_DELTA_BASE
[ v3_root ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_int ]
basicConstraints = critical,CA:true,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ ee_rsa ]
basicConstraints = CA:false
keyUsage = critical,digitalSignature,nonRepudiation,keyEncipherment
extendedKeyUsage = emailProtection
subjectAltName = email:\$ENV::SG_EMAIL
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ ee_ec ]
basicConstraints = CA:false
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = emailProtection
subjectAltName = email:\$ENV::SG_EMAIL
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ ee_nosan ]
basicConstraints = CA:false
keyUsage = critical,digitalSignature,nonRepudiation,keyEncipherment
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ ee_badku ]
basicConstraints = CA:false
keyUsage = critical,keyEncipherment
extendedKeyUsage = emailProtection
subjectAltName = email:\$ENV::SG_EMAIL
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ ee_badeku ]
basicConstraints = CA:false
keyUsage = critical,digitalSignature,nonRepudiation,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = email:\$ENV::SG_EMAIL
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
}

# genkey FILE rsa2048|rsa1024|ec
genkey() {
	case $2 in
	rsa*) openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:${2#rsa}" \
		-out "$1" 2>/dev/null ;;
	ec) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-pkeyopt ec_param_enc:named_curve -out "$1" ;;
	esac
}

# issue CA KEYFILE SUBJECT EXT START END OUTCERT
issue() {
	local cnf
	cnf=$OUT/ca/$1/ca.cnf
	openssl req -new -config "$cnf" -key "$2" -subj "$3" -out "$TMP/req.csr"
	openssl ca -batch -config "$cnf" -preserveDN -notext -extensions "$4" \
		-startdate "$5" -enddate "$6" -in "$TMP/req.csr" -out "$7" \
		2>"$TMP/ca.log" || { cat "$TMP/ca.log" >&2; exit 1; }
}

# mkroot NAME KEYTYPE SUBJECT
mkroot() {
	local d
	ca_init "$1"
	d=$OUT/ca/$1
	genkey "$d/key.pem" "$2"
	openssl req -new -config "$d/ca.cnf" -key "$d/key.pem" -subj "$3" \
		-out "$TMP/req.csr"
	openssl ca -batch -config "$d/ca.cnf" -selfsign -keyfile "$d/key.pem" \
		-preserveDN -notext -extensions v3_root \
		-startdate "$(t $((-3650 * DAY)))" -enddate "$(t $((7300 * DAY)))" \
		-in "$TMP/req.csr" -out "$d/cert.pem" 2>"$TMP/ca.log" ||
		{ cat "$TMP/ca.log" >&2; exit 1; }
}

# mkint NAME PARENT KEYTYPE SUBJECT
mkint() {
	local d
	ca_init "$1"
	d=$OUT/ca/$1
	genkey "$d/key.pem" "$3"
	issue "$2" "$d/key.pem" "$4" v3_int \
		"$(t $((-3000 * DAY)))" "$(t $((5000 * DAY)))" "$d/cert.pem"
}

mkroot root-rsa rsa2048 "/C=DE/O=Example Org/CN=Example Org Root CA RSA"
mkint int-rsa root-rsa rsa2048 "/C=DE/O=Example Org/CN=Example Org Mail CA RSA"
mkroot root-ec ec "/C=DE/O=Example Org/CN=Example Org Root CA ECC"
mkint int-ec root-ec ec "/C=DE/O=Example Org/CN=Example Org Mail CA ECC"
mkroot rogue rsa2048 "/C=XX/O=Rogue Inc/CN=Rogue Root CA"

cp ca/root-rsa/cert.pem trust/root-rsa.pem
cp ca/root-ec/cert.pem trust/root-ec.pem
cp ca/int-rsa/cert.pem intermediates/int-rsa.pem
cp ca/int-ec/cert.pem intermediates/int-ec.pem

# ------------------------------------------------------------------
# End entities
# ------------------------------------------------------------------
# ee ADDR CA KEYTYPE EXT START END SUBJECT
ee() {
	SG_EMAIL=$1
	genkey "pki/$1.key" "$3"
	issue "$2" "pki/$1.key" "$7" "$4" "$5" "$6" "pki/$1.pem"
	case $2 in
	int-rsa) cat ca/int-rsa/cert.pem ca/root-rsa/cert.pem ;;
	int-ec) cat ca/int-ec/cert.pem ca/root-ec/cert.pem ;;
	*) cat "ca/$2/cert.pem" ;;
	esac >"pki/$1.chain.pem"
	openssl pkcs12 -export -in "pki/$1.pem" -inkey "pki/$1.key" \
		-certfile "pki/$1.chain.pem" -name "$1" -passout pass:test \
		-out "pki/$1.p12"
}
S=$(t $((-30 * DAY)))
E=$(t $((730 * DAY)))
O="/O=Example Org"
ee alice@example.org int-rsa rsa2048 ee_rsa "$S" "$E" "/CN=Alice Example$O"
ee bob@example.org int-rsa rsa2048 ee_rsa "$S" "$E" "/CN=Bob Example$O"
ee carol@example.org int-ec ec ee_ec "$S" "$E" "/CN=Carol Example$O"
ee dave@example.org int-rsa rsa2048 ee_nosan "$S" "$E" \
	"/CN=Dave Example$O/emailAddress=dave@example.org"
ee expired@example.org int-rsa rsa2048 ee_rsa \
	"$(t $((-400 * DAY)))" "$(t $((-30 * DAY)))" "/CN=Expired Example$O"
ee future@example.org int-rsa rsa2048 ee_rsa \
	"$(t $((30 * DAY)))" "$(t $((760 * DAY)))" "/CN=Future Example$O"
ee revoked@example.org int-rsa rsa2048 ee_rsa "$S" "$E" "/CN=Revoked Example$O"
ee deltarevoked@example.org int-rsa rsa2048 ee_rsa "$S" "$E" \
	"/CN=Deltarevoked Example$O"
ee badku@example.org int-rsa rsa2048 ee_badku "$S" "$E" "/CN=Badku Example$O"
ee badeku@example.org int-rsa rsa2048 ee_badeku "$S" "$E" "/CN=Badeku Example$O"
ee weak1024@example.org int-rsa rsa1024 ee_rsa "$S" "$E" "/CN=Weak Example$O"
ee untrusted@example.org rogue rsa2048 ee_rsa "$S" "$E" "/CN=Untrusted Example/O=Rogue Inc"

# ------------------------------------------------------------------
# CRLs
# ------------------------------------------------------------------
# gencrl CA OUT [extra openssl ca args]
gencrl() {
	local c=$1 o=$2
	shift 2
	openssl ca -batch -config "ca/$c/ca.cnf" -gencrl -out "$o" "$@" \
		2>"$TMP/ca.log" || { cat "$TMP/ca.log" >&2; exit 1; }
}
openssl ca -batch -config ca/int-rsa/ca.cnf -revoke pki/revoked@example.org.pem \
	-crl_reason keyCompromise 2>"$TMP/ca.log" || { cat "$TMP/ca.log" >&2; exit 1; }
for c in root-rsa int-rsa root-ec int-ec; do
	gencrl "$c" "crl/$c.crl.pem" -crldays 30
done
BASE_NO=$(openssl crl -in crl/int-rsa.crl.pem -noout -crlnumber | sed 's/.*=//; s/^0x//')
# stale: lastUpdate now, nextUpdate one second later
gencrl int-rsa crl-stale/int-rsa-stale.crl.pem -crlsec 1
STALE_MADE=$(date -u +%s)
cp crl/root-rsa.crl.pem crl/root-ec.crl.pem crl/int-ec.crl.pem crl-stale/
cp crl/root-rsa.crl.pem crl/root-ec.crl.pem crl-rootonly/
cp crl/*.crl.pem crl-delta/
openssl ca -batch -config ca/int-rsa/ca.cnf -revoke pki/deltarevoked@example.org.pem \
	-crl_reason keyCompromise 2>"$TMP/ca.log" || { cat "$TMP/ca.log" >&2; exit 1; }
SG_DELTA_BASE=$((0x$BASE_NO))
gencrl int-rsa crl-delta/int-rsa-delta.crl.pem -crldays 30 -crlexts crl_delta
SG_DELTA_BASE=0
openssl crl -in crl/int-rsa.crl.pem -outform DER -out "$TMP/int-rsa.crl.der"

# CAfile bundles for the openssl self-checks (certs + CRLs in one file)
cat trust/*.pem >"$TMP/roots.pem"
for d in crl crl-delta crl-stale crl-rootonly; do
	cat trust/*.pem "$d"/*.pem >"$TMP/ca+$d.pem"
done
cat trust/*.pem intermediates/*.pem >"$TMP/roots+ints.pem"

# ------------------------------------------------------------------
# Messages
# ------------------------------------------------------------------
DATE=$(date -u -R -d "@$NOW")
SEQ=0

# crlf FILE: normalise all line ends to CRLF in place
crlf() { sed -i 's/\r*$/\r/' "$1"; }

# entity FILE TEXT...: a text/plain MIME entity, CRLF, one line per arg
entity() {
	local f=$1 l
	shift
	{
		printf 'Content-Type: text/plain; charset=UTF-8\r\n'
		printf 'Content-Transfer-Encoding: 7bit\r\n\r\n'
		for l in "$@"; do printf '%s\r\n' "$l"; done
	} >"$f"
}
entity "$TMP/body.txt" "Hello Bob," "" "please find the invoice attached." \
	"Invoice total: 100 EUR" "" "-- " "Alice"
BODY=$TMP/body.txt

# mail OUT BODYFILE SUBJECT [HEADER...]: the header lines given (From etc.),
# then To/Subject/Date/Message-ID, then BODYFILE (starting with its own MIME
# headers); result normalised to CRLF.
mail() {
	local o=$1 b=$2 s=$3 h
	shift 3
	SEQ=$((SEQ + 1))
	{
		for h in "$@"; do printf '%s\r\n' "$h"; done
		printf 'To: Bob <bob@example.org>\r\n'
		printf 'Subject: %s\r\n' "$s"
		printf 'Date: %s\r\n' "$DATE"
		printf 'Message-ID: <sg-%s-%s@example.org>\r\n' "$SEQ" "$NOW"
		cat "$b"
	} >"$o"
	crlf "$o"
}

# chain FILE for a signer: issuing intermediate only (root is not sent)
intof() {
	case $1 in
	carol@*) echo "$OUT/intermediates/int-ec.pem" ;;
	untrusted@*) echo "$OUT/ca/rogue/cert.pem" ;;
	*) echo "$OUT/intermediates/int-rsa.pem" ;;
	esac
}

# smime OUT ADDR detached|opaque IN [openssl cms args]: openssl's own S/MIME
# output (MIME-Version + Content-Type ...), CRLF
smime() {
	local o=$1 a=$2 m=$3 i=$4
	shift 4
	set -- -md sha256 -certfile "$(intof "$a")" "$@"
	[ "$m" = opaque ] && set -- -nodetach "$@"
	openssl cms -sign -signer "pki/$a.pem" -inkey "pki/$a.key" -in "$i" \
		-crlfeol -out "$o" "$@"
	crlf "$o"
}

# sigder OUT ADDR detached|opaque IN [args]: DER SignedData over IN as is
sigder() {
	local o=$1 a=$2 m=$3 i=$4
	shift 4
	set -- -md sha256 -certfile "$(intof "$a")" "$@"
	[ "$m" = opaque ] && set -- -nodetach "$@"
	openssl cms -sign -binary -signer "pki/$a.pem" -inkey "pki/$a.key" \
		-in "$i" -outform DER -out "$o" "$@"
}

B64() { base64 -w 76 "$1"; }

# wrap_detached OUT ENTITY SIG.der [MICALG [PROTO]]: multipart/signed entity
wrap_detached() {
	local bd p
	bd="----=_sg_$(basename "$1" | tr -c 'A-Za-z0-9\n' _)"
	p=${5:-application/pkcs7-signature}
	{
		printf 'MIME-Version: 1.0\r\n'
		printf 'Content-Type: multipart/signed; protocol="%s"; micalg=%s;\r\n' \
			"$p" "${4:-sha-256}"
		printf ' boundary="%s"\r\n\r\n' "$bd"
		printf 'This is a cryptographically signed message in MIME format.\r\n\r\n'
		printf -- '--%s\r\n' "$bd"
		cat "$2"
		printf '\r\n--%s\r\n' "$bd"
		printf 'Content-Type: %s; name="smime.p7s"\r\n' "$p"
		printf 'Content-Transfer-Encoding: base64\r\n'
		printf 'Content-Disposition: attachment; filename="smime.p7s"\r\n\r\n'
		B64 "$3"
		printf -- '--%s--\r\n' "$bd"
	} >"$1"
	crlf "$1"
}

# wrap_opaque OUT CMS.der SMIME-TYPE|- [NAME]: application/pkcs7-mime entity
wrap_opaque() {
	local n
	n=${4:-smime.p7m}
	{
		printf 'MIME-Version: 1.0\r\n'
		if [ "$3" = - ]; then
			printf 'Content-Type: application/pkcs7-mime; name="%s"\r\n' "$n"
		else
			printf 'Content-Type: application/pkcs7-mime; smime-type=%s; name="%s"\r\n' "$3" "$n"
		fi
		printf 'Content-Transfer-Encoding: base64\r\n'
		printf 'Content-Disposition: attachment; filename="%s"\r\n\r\n' "$n"
		B64 "$2"
	} >"$1"
	crlf "$1"
}

# multipart/mixed entity of the given part files (each a MIME entity)
mixed() {
	local o=$1 p bd
	shift
	bd="----=_sg_mixed_$SEQ"
	{
		printf 'MIME-Version: 1.0\r\n'
		printf 'Content-Type: multipart/mixed; boundary="%s"\r\n\r\n' "$bd"
		for p in "$@"; do
			printf -- '--%s\r\n' "$bd"
			cat "$p"
			printf '\r\n'
		done
		printf -- '--%s--\r\n' "$bd"
	} >"$o"
	crlf "$o"
}

# ---- case table ---------------------------------------------------
CASES=$OUT/cases.tsv
: >"$CASES"
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$CASES"; }

# ---- openssl self-checks -------------------------------------------
NCHK=0
NBAD=0
CHKLOG=$TMP/checks.log
: >"$CHKLOG"
# chk NAME ok|fail CMD...: run CMD, compare success with expectation
chk() {
	local n=$1 e=$2 got
	shift 2
	NCHK=$((NCHK + 1))
	if "$@" >"$TMP/chk.out" 2>&1; then got=ok; else got=fail; fi
	if [ "$got" = "$e" ]; then
		printf '  ok    %-44s openssl: %s\n' "$n" "$got" >>"$CHKLOG"
	else
		NBAD=$((NBAD + 1))
		printf '  WRONG %-44s openssl: %s (expected %s)\n' "$n" "$got" "$e" >>"$CHKLOG"
		sed 's/^/        /' "$TMP/chk.out" | head -5 >>"$CHKLOG"
	fi
}
# v FILE [args]: openssl S/MIME verify of a message against the trust roots
v() {
	local f=$1
	shift
	openssl cms -verify -purpose smimesign -CAfile "$TMP/roots.pem" \
		-in "$f" -out /dev/null "$@"
}
vcrl() {
	local f=$1 d=$2
	shift 2
	openssl cms -verify -purpose smimesign -CAfile "$TMP/ca+$d.pem" \
		-crl_check_all -in "$f" -out /dev/null "$@"
}
vder() {
	local f=$1
	shift
	openssl cms -verify -purpose smimesign -CAfile "$TMP/roots.pem" \
		-inform DER -in "$f" -out /dev/null "$@"
}

M=msg
AL="From: Alice Example <alice@example.org>"
CA_="From: Carol Example <carol@example.org>"

# ---- good messages -------------------------------------------------
smime "$TMP/s.alice-d" alice@example.org detached "$BODY"
mail $M/alice-detached.eml "$TMP/s.alice-d" "Invoice (detached)" "$AL"
smime "$TMP/s.alice-o" alice@example.org opaque "$BODY"
mail $M/alice-opaque.eml "$TMP/s.alice-o" "Invoice (opaque)" "$AL"
smime "$TMP/s.carol-d" carol@example.org detached "$BODY"
mail $M/carol-detached.eml "$TMP/s.carol-d" "ECDSA detached" "$CA_"
smime "$TMP/s.carol-o" carol@example.org opaque "$BODY"
mail $M/carol-opaque.eml "$TMP/s.carol-o" "ECDSA opaque" "$CA_"
for f in alice-detached alice-opaque carol-detached carol-opaque; do
	chk "$f" ok v $M/$f.eml
	chk "$f (crl_check_all)" ok vcrl $M/$f.eml crl
	row $M/$f.eml - signed/verified - "good signature"
	row $M/$f.eml revocation_check=hard signed/verified - "hard mode, all CRLs current"
	row $M/$f.eml revocation_check=none signed/verified - "no revocation check"
done
row $M/alice-detached.eml "revocation_check=hard crl_dirs=crl-rootonly" signed \
	revocation-unknown "hard mode, no CRL for the intermediate"
row $M/alice-detached.eml "crl_dirs=crl-rootonly" signed/verified - \
	"soft mode tolerates the missing intermediate CRL"
row $M/alice-detached.eml "revocation_check=hard crl_dirs=crl-stale" signed \
	revocation-unknown "hard mode, intermediate CRL past nextUpdate"
row $M/alice-detached.eml "crl_dirs=crl-stale" signed/verified - \
	"soft mode: stale CRL (not listing alice) is not a failure"
row $M/alice-detached.eml "crl_dirs=crl-delta revocation_check=hard" signed/verified - \
	"delta CRL present, alice not listed"
row $M/alice-detached.eml "sender_binding=relaxed" signed/verified - "relaxed mode"
row $M/alice-detached.eml "sender_binding=off" signed/verified - "binding off"
row $M/alice-detached.eml "at=@$((NOW + 1095 * DAY)) revocation_check=none" \
	signed/failed expired "validated 3 years ahead: alice's certificate expired"
row $M/alice-detached.eml "at=@$((NOW - 60 * DAY)) revocation_check=none" \
	signed/failed not-yet-valid "validated 60 days ago: before alice's notBefore"
row $M/carol-detached.eml "revocation_check=hard crl_dirs=crl-rootonly" signed \
	revocation-unknown "hard mode, no CRL for the EC intermediate"

# LF and header variants (unsigned headers, same signature)
tr -d '\r' <$M/alice-detached.eml >$M/alice-detached-lf.eml
tr -d '\r' <$M/alice-opaque.eml >$M/alice-opaque-lf.eml
chk alice-detached-lf ok v $M/alice-detached-lf.eml
chk alice-opaque-lf ok v $M/alice-opaque-lf.eml
row $M/alice-detached-lf.eml - signed/verified - "stored with LF line ends; verify in CRLF form"
row $M/alice-opaque-lf.eml - signed/verified - "opaque, LF line ends"

sed -e 's#application/pkcs7-signature#application/x-pkcs7-signature#g' \
	-e 's#micalg="sha-256"#micalg=SHA256#' \
	$M/alice-detached.eml >$M/alice-detached-x-pkcs7.eml
chk alice-detached-x-pkcs7 ok v $M/alice-detached-x-pkcs7.eml
row $M/alice-detached-x-pkcs7.eml - signed/verified - \
	"protocol application/x-pkcs7-signature, micalg=SHA256"
sed -e 's#^Content-Type: application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"#Content-Type: application/x-pkcs7-mime; name=smime.p7m#' \
	$M/alice-opaque.eml >$M/alice-opaque-no-smime-type.eml
grep -q '^Content-Type: application/x-pkcs7-mime; name=smime.p7m' $M/alice-opaque-no-smime-type.eml
chk alice-opaque-no-smime-type ok v $M/alice-opaque-no-smime-type.eml
row $M/alice-opaque-no-smime-type.eml - signed/verified - \
	"application/x-pkcs7-mime without smime-type: the CMS content type decides"

# ---- tampering -----------------------------------------------------
sed 's/Invoice total: 100 EUR/Invoice total: 900 EUR/' $M/alice-detached.eml \
	>$M/alice-detached-tampered.eml
cmp -s $M/alice-detached.eml $M/alice-detached-tampered.eml &&
	{ echo "tamper failed" >&2; exit 1; }
chk alice-detached-tampered fail v $M/alice-detached-tampered.eml
row $M/alice-detached-tampered.eml - signed/failed bad-signature "one byte of the signed text changed"
row $M/alice-detached-tampered.eml revocation_check=none signed/failed bad-signature "tampered, no revocation"

sigder "$TMP/alice-o.der" alice@example.org opaque "$BODY"
der replace "$TMP/alice-o.der" "total: 100 EUR" "total: 900 EUR" "$TMP/alice-o-t.der"
wrap_opaque "$TMP/e.alice-o-t" "$TMP/alice-o-t.der" signed-data
mail $M/alice-opaque-tampered.eml "$TMP/e.alice-o-t" "Invoice (opaque, tampered)" "$AL"
chk alice-opaque-tampered fail v $M/alice-opaque-tampered.eml
row $M/alice-opaque-tampered.eml - signed/failed bad-signature "byte of the eContent changed"

# ---- sender binding --------------------------------------------------
mail $M/from-mallory.eml "$TMP/s.alice-d" "Invoice" "From: Mallory <mallory@example.org>"
chk from-mallory ok v $M/from-mallory.eml
row $M/from-mallory.eml - signed/failed sender-mismatch "From is not the signer"
row $M/from-mallory.eml sender_binding=off signed/verified - "binding off"
row $M/from-mallory.eml sender_binding=relaxed signed/failed sender-mismatch "no Sender header either"

mail $M/from-displayname-trick.eml "$TMP/s.alice-d" "Invoice" \
	'From: "alice@example.org" <mallory@example.org>'
chk from-displayname-trick ok v $M/from-displayname-trick.eml
row $M/from-displayname-trick.eml - signed/failed sender-mismatch \
	"display name looks like the signer, addr-spec is mallory"

mail $M/from-encoded-name.eml "$TMP/s.alice-d" "Invoice" \
	"From: =?UTF-8?B?QWxpY2Ugw5xiZXJtYW5u?= <alice@example.org>"
chk from-encoded-name ok v $M/from-encoded-name.eml
row $M/from-encoded-name.eml - signed/verified - "RFC 2047 display name, addr-spec alice"

mail $M/from-case.eml "$TMP/s.alice-d" "Invoice" "From: ALICE@Example.ORG"
chk from-case ok v $M/from-case.eml
row $M/from-case.eml - signed/verified - "bare addr-spec, different case"

mail $M/from-missing.eml "$TMP/s.alice-d" "Invoice"
chk from-missing ok v $M/from-missing.eml
row $M/from-missing.eml - signed/failed no-from "no From header"
row $M/from-missing.eml sender_binding=off signed/verified - "no From, binding off"

mail $M/from-twice.eml "$TMP/s.alice-d" "Invoice" "$AL" "From: Mallory <mallory@example.org>"
chk from-twice ok v $M/from-twice.eml
row $M/from-twice.eml - signed/failed multiple-from "two From headers"
row $M/from-twice.eml sender_binding=off signed/verified - "two From, binding off"

mail $M/from-two-mailboxes.eml "$TMP/s.alice-d" "Invoice" \
	"From: Alice <alice@example.org>, Mallory <mallory@example.org>"
chk from-two-mailboxes ok v $M/from-two-mailboxes.eml
row $M/from-two-mailboxes.eml - signed/failed multiple-from \
	"one From header with two mailboxes (token assumed multiple-from)"
row $M/from-two-mailboxes.eml sender_binding=off signed/verified - "binding off"

mail $M/sender-header.eml "$TMP/s.alice-d" "Invoice" \
	"From: Mallory <mallory@example.org>" "Sender: Alice <alice@example.org>"
chk sender-header ok v $M/sender-header.eml
row $M/sender-header.eml - signed/failed sender-mismatch "strict: From only"
row $M/sender-header.eml sender_binding=relaxed signed/verified - "relaxed: Sender matches"

smime "$TMP/s.dave" dave@example.org detached "$BODY"
mail $M/dave-subject-email.eml "$TMP/s.dave" "Subject-DN e-mail only" "From: Dave <dave@example.org>"
chk dave-subject-email ok v $M/dave-subject-email.eml
row $M/dave-subject-email.eml - signed/verified - "address only in subject emailAddress, no SAN"

# ---- certificate problems ---------------------------------------------
# signer_case NAME ADDR SUBJECT: detached message from ADDR
signer_case() {
	smime "$TMP/s.$1" "$2" detached "$BODY"
	mail "$M/$1.eml" "$TMP/s.$1" "$3" "From: <$2>"
}
signer_case expired expired@example.org "Expired signer"
chk expired fail v $M/expired.eml
chk "expired (attime in validity)" ok v $M/expired.eml -attime $((NOW - 200 * DAY))
row $M/expired.eml - signed/failed expired "signer certificate expired 30 days ago"
row $M/expired.eml revocation_check=none signed/failed expired "expired, no revocation check"
row $M/expired.eml "at=@$((NOW - 200 * DAY)) revocation_check=none" signed/verified - \
	"validated 200 days ago, inside the validity period"

signer_case future future@example.org "Not yet valid signer"
chk future fail v $M/future.eml
chk "future (attime in validity)" ok v $M/future.eml -attime $((NOW + 60 * DAY))
row $M/future.eml - signed/failed not-yet-valid "notBefore 30 days ahead"
row $M/future.eml "at=@$((NOW + 60 * DAY)) revocation_check=none" signed/verified - \
	"validated 60 days ahead"

signer_case revoked revoked@example.org "Revoked signer"
chk revoked ok v $M/revoked.eml
chk "revoked (crl_check_all)" fail vcrl $M/revoked.eml crl
row $M/revoked.eml - signed/failed revoked "revoked by the intermediate CRL (soft)"
row $M/revoked.eml revocation_check=hard signed/failed revoked "hard mode"
row $M/revoked.eml revocation_check=none signed/verified - "no revocation check"
row $M/revoked.eml "crl_dirs=crl-stale" signed/failed revoked \
	"stale CRL still lists the revocation (soft)"
row $M/revoked.eml "crl_dirs=crl-delta" signed/failed revoked "base CRL of the delta pair lists it"

signer_case deltarevoked deltarevoked@example.org "Revoked in delta CRL"
chk "deltarevoked (base CRL)" ok vcrl $M/deltarevoked.eml crl
chk "deltarevoked (base+delta)" fail vcrl $M/deltarevoked.eml crl-delta -use_deltas
row $M/deltarevoked.eml - signed/verified - "crl/ has only the base CRL, which does not list it"
row $M/deltarevoked.eml crl_dirs=crl-delta signed/failed revoked \
	"listed only in the delta CRL (deltaCRLIndicator = base crlNumber $((0x$BASE_NO)))"
row $M/deltarevoked.eml "crl_dirs=crl-delta revocation_check=hard" signed/failed revoked \
	"delta CRL, hard mode"

signer_case badku badku@example.org "keyEncipherment only"
chk badku fail v $M/badku.eml
chk "badku (-purpose any)" ok openssl cms -verify -purpose any -CAfile "$TMP/roots.pem" -in $M/badku.eml -out /dev/null
row $M/badku.eml - signed/failed key-usage "keyUsage keyEncipherment only"

signer_case badeku badeku@example.org "serverAuth only"
chk badeku fail v $M/badeku.eml
row $M/badeku.eml - signed/failed key-usage "extendedKeyUsage serverAuth only"

signer_case weak1024 weak1024@example.org "RSA-1024 signer"
chk weak1024 ok v $M/weak1024.eml
row $M/weak1024.eml - signed/verified weak-key "RSA-1024: verified, weak-key, keyword \$SMIMEWeak"

signer_case untrusted untrusted@example.org "Rogue CA signer"
chk untrusted fail v $M/untrusted.eml
chk "untrusted (rogue as anchor)" ok openssl cms -verify -purpose smimesign \
	-CAfile ca/rogue/cert.pem -in $M/untrusted.eml -out /dev/null
row $M/untrusted.eml - signed/failed untrusted "issued by a rogue CA not in the trust store (rogue root in CMS)"

# intermediate neither in the message nor configured
openssl cms -sign -md sha256 -signer pki/alice@example.org.pem \
	-inkey pki/alice@example.org.key -in "$BODY" -crlfeol -out "$TMP/s.noint"
crlf "$TMP/s.noint"
mail $M/alice-no-intermediate.eml "$TMP/s.noint" "Without intermediate" "$AL"
chk alice-no-intermediate fail v $M/alice-no-intermediate.eml
# (cms -verify ignores -certfile; intermediates in the CAfile still need the root)
chk "alice-no-intermediate (+intermediates)" ok openssl cms -verify -purpose smimesign \
	-CAfile "$TMP/roots+ints.pem" -in $M/alice-no-intermediate.eml -out /dev/null
row $M/alice-no-intermediate.eml - signed/failed untrusted "CMS carries only the signer certificate"
row $M/alice-no-intermediate.eml intermediates=intermediates signed/verified - \
	"intermediate from configuration"
row $M/alice-no-intermediate.eml "intermediates=intermediates revocation_check=hard" \
	signed/verified - "configured intermediate, hard mode"

# ---- algorithms --------------------------------------------------------
smime "$TMP/s.sha1" alice@example.org detached "$BODY" -md sha1
mail $M/alice-sha1.eml "$TMP/s.sha1" "SHA-1 signature" "$AL"
grep -q 'micalg="sha1"\|micalg=sha1\|micalg="sha-1"' $M/alice-sha1.eml
chk alice-sha1 ok v $M/alice-sha1.eml
row $M/alice-sha1.eml - signed/failed weak-algorithm "SHA-1 digest"
row $M/alice-sha1.eml allow_sha1_signatures=yes signed/verified - \
	"SHA-1 allowed by config: verified + keyword \$SMIMEWeak"

# ---- CMS structure --------------------------------------------------------
der zero-signers "$TMP/alice-o.der" "$TMP/zero.der"
[ "$(der info "$TMP/zero.der")" = "signers=0 definite" ]
wrap_opaque "$TMP/e.zero" "$TMP/zero.der" signed-data
mail $M/zero-signers.eml "$TMP/e.zero" "SignedData without SignerInfos" "$AL"
chk zero-signers fail v $M/zero-signers.eml
row $M/zero-signers.eml - signed/failed no-signers "opaque SignedData with an empty signerInfos SET"

# detached + eContent: the same text verifies (issue 12), other text is
# the eContent-confusion attack
wrap_detached "$TMP/e.same" "$BODY" "$TMP/alice-o.der"
mail $M/econtent-same.eml "$TMP/e.same" "Detached + identical eContent" "$AL"
chk "econtent-same (CMS alone)" ok vder "$TMP/alice-o.der"
chk econtent-same ok v $M/econtent-same.eml
row $M/econtent-same.eml - signed/verified - \
	"multipart/signed whose SignedData also carries eContent, identical to part 1"
entity "$TMP/body-other.txt" "Hello Bob," "" "please find the invoice attached." \
	"Invoice total: 900 EUR, new account" "" "-- " "Alice"
sigder "$TMP/alice-other.der" alice@example.org opaque "$TMP/body-other.txt"
wrap_detached "$TMP/e.amb" "$BODY" "$TMP/alice-other.der"
mail $M/ambiguous-content.eml "$TMP/e.amb" "Detached + other eContent" "$AL"
# (openssl digests part 1, which is not what was signed, and fails too;
# data/pyca/ has the twin openssl accepts: eContent put into a detached
# signature of part 1)
chk "ambiguous-content (openssl)" fail v $M/ambiguous-content.eml
row $M/ambiguous-content.eml - signed/failed ambiguous-content \
	"multipart/signed: part 1 is not the eContent that was signed"

sigder "$TMP/two.der" alice@example.org detached "$BODY" \
	-signer pki/bob@example.org.pem -inkey pki/bob@example.org.key
[ "$(der info "$TMP/two.der")" = "signers=2 definite" ]
BOBSER=$(openssl x509 -in pki/bob@example.org.pem -noout -serial | sed 's/.*=//')
der break-signer "$TMP/two.der" "$BOBSER" "$TMP/two-bad.der"
wrap_detached "$TMP/e.two-ok" "$BODY" "$TMP/two.der"
wrap_detached "$TMP/e.two" "$BODY" "$TMP/two-bad.der"
mail $M/two-signers.eml "$TMP/e.two-ok" "Two signers" "$AL"
mail $M/two-signers-one-bad.eml "$TMP/e.two" "Two signers, one bad" "$AL"
chk two-signers ok v $M/two-signers.eml
chk two-signers-one-bad fail v $M/two-signers-one-bad.eml
row $M/two-signers.eml - signed/verified - \
	"alice + bob, both good; From alice matches one of the two signers"
row $M/two-signers-one-bad.eml - signed/failed bad-signature \
	"alice good, bob's signature value has one bit flipped"

# partial: signed entity inside multipart/mixed with an unsigned footer
entity "$TMP/footer.txt" "_______________________________________________" \
	"example-list mailing list" "https://lists.example.org/example-list"
mixed "$TMP/e.partial" "$TMP/s.alice-d" "$TMP/footer.txt"
mail $M/partial-footer.eml "$TMP/e.partial" "[example-list] Invoice" "$AL"
chk "partial-footer (signed part)" ok v "$TMP/s.alice-d"
row $M/partial-footer.eml - signed partial "multipart/signed inside multipart/mixed + list footer"

# forwarded signed message as message/rfc822 attachment
{
	printf 'Content-Type: message/rfc822\r\n'
	printf 'Content-Disposition: attachment; filename="fwd.eml"\r\n\r\n'
	cat $M/alice-detached.eml
} >"$TMP/fwd.part"
entity "$TMP/fwdtext.txt" "See the attached message."
mixed "$TMP/e.fwd" "$TMP/fwdtext.txt" "$TMP/fwd.part"
mail $M/forwarded-signed.eml "$TMP/e.fwd" "Fwd: Invoice" "From: Bob <bob@example.org>"
row $M/forwarded-signed.eml - signed partial "signed message only as a message/rfc822 attachment"

# unsigned
{
	printf 'MIME-Version: 1.0\r\n'
	cat "$BODY"
} >"$TMP/e.plain"
mail $M/plain.eml "$TMP/e.plain" "Plain" "$AL"
row $M/plain.eml - none - "no S/MIME at all"

# ---- encryption -------------------------------------------------------------
BOB=pki/bob@example.org.pem
{
	printf 'MIME-Version: 1.0\r\n'
	cat "$BODY"
} >"$TMP/plain-entity"
openssl cms -encrypt -aes256 -in "$TMP/plain-entity" -binary -crlfeol \
	-out "$TMP/e.enc-cbc" "$BOB"
crlf "$TMP/e.enc-cbc"
mail $M/encrypted-aes256cbc.eml "$TMP/e.enc-cbc" "Encrypted (CBC)" "$AL"
openssl cms -encrypt -aes-256-gcm -in "$TMP/plain-entity" -binary -crlfeol \
	-out "$TMP/e.enc-gcm" "$BOB"
crlf "$TMP/e.enc-gcm"
mail $M/encrypted-aes256gcm.eml "$TMP/e.enc-gcm" "Encrypted (GCM)" "$AL"
grep -q 'smime-type=authEnveloped-data' $M/encrypted-aes256gcm.eml
# dec FILE: decrypt with bob's key
dec() {
	openssl cms -decrypt -recip "$BOB" -inkey pki/bob@example.org.key \
		-in "$1" -out "$TMP/dec.out"
}
chk encrypted-aes256cbc ok dec $M/encrypted-aes256cbc.eml
chk encrypted-aes256gcm ok dec $M/encrypted-aes256gcm.eml
row $M/encrypted-aes256cbc.eml - encrypted - "EnvelopedData aes-256-cbc to bob (keyword \$SMIMEWeak: CBC)"
row $M/encrypted-aes256gcm.eml - encrypted - "AuthEnvelopedData aes-256-gcm to bob"

# the cipher floor of the outbound policy (suite-policy.c): content
# encryption weaker than 128 bits, 3DES, an AuthEnvelopedData that names
# CBC, and RecipientInfos opened by a password or a shared key.  DES and
# RC2 need OpenSSL's legacy provider.
mkdir -p cipher/certs
cp "$BOB" cipher/certs/bob.pem
# encm NAME SUBJECT OPENSSL-OPTIONS...: msg/encrypted-NAME.eml to bob
encm() {
	local n=$1 subj=$2
	shift 2
	openssl cms -encrypt "$@" -in "$TMP/plain-entity" -binary -crlfeol \
		-out "$TMP/e.enc-$n" "$BOB"
	crlf "$TMP/e.enc-$n"
	mail "$M/encrypted-$n.eml" "$TMP/e.enc-$n" "$subj" "$AL"
}
LEGACY="-provider legacy -provider default"
# shellcheck disable=SC2086
encm des "Encrypted (DES)" -des $LEGACY
# shellcheck disable=SC2086
encm rc2-40 "Encrypted (RC2-40)" -rc2-40 $LEGACY
# shellcheck disable=SC2086
encm rc2-128 "Encrypted (RC2-128)" -rc2-128 $LEGACY
encm 3des "Encrypted (3DES)" -des3
encm aes128cbc "Encrypted (AES-128-CBC)" -aes128
encm aes128gcm "Encrypted (AES-128-GCM)" -aes-128-gcm
encm camellia128 "Encrypted (Camellia-128)" -camellia128
encm pwri "Encrypted to bob and a password" -aes256 -pwri_password "not a secret"
encm kekri "Encrypted to bob and a shared key" -aes256 \
	-secretkey 000102030405060708090a0b0c0d0e0f -secretkeyid 0a0b0c
grep -q 'smime-type=enveloped-data' $M/encrypted-des.eml
chk encrypted-3des ok dec $M/encrypted-3des.eml
chk encrypted-pwri ok dec $M/encrypted-pwri.eml
# AuthEnvelopedData whose algorithm says aes-256-cbc: the GCM OID
# (2.16.840.1.101.3.4.1.46) patched to CBC (...1.42)
openssl cms -encrypt -aes-256-gcm -in "$TMP/plain-entity" -binary \
	-outform DER -out "$TMP/authenv.der" "$BOB"
python3 - "$TMP/authenv.der" "$TMP/authenv-cbc.der" <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
gcm = bytes.fromhex("060960864801650304012e")
assert d.count(gcm) == 1, "the GCM OID is not there once"
open(sys.argv[2], "wb").write(d.replace(gcm, gcm[:-1] + b"\x2a"))
PY
{
	printf 'MIME-Version: 1.0\r\n'
	printf 'Content-Type: application/pkcs7-mime; smime-type=authEnveloped-data; name=smime.p7m\r\n'
	printf 'Content-Transfer-Encoding: base64\r\n\r\n'
	base64 -w 76 "$TMP/authenv-cbc.der"
} >"$TMP/e.enc-authenv-cbc"
mail "$M/encrypted-authenv-cbc.eml" "$TMP/e.enc-authenv-cbc" "AuthEnvelopedData, CBC" "$AL"
row $M/encrypted-des.eml - encrypted weak-algorithm "EnvelopedData des-cbc to bob"
row $M/encrypted-rc2-40.eml - encrypted weak-algorithm "EnvelopedData rc2-40 to bob"
row $M/encrypted-rc2-128.eml - encrypted weak-algorithm "EnvelopedData rc2 (128 bits) to bob"
row $M/encrypted-3des.eml - encrypted weak-algorithm "EnvelopedData des-ede3-cbc to bob"
row $M/encrypted-aes128cbc.eml - encrypted - "EnvelopedData aes-128-cbc to bob"
row $M/encrypted-aes128gcm.eml - encrypted - "AuthEnvelopedData aes-128-gcm to bob"
row $M/encrypted-camellia128.eml - encrypted - "EnvelopedData camellia-128-cbc to bob"
row $M/encrypted-pwri.eml - encrypted - "EnvelopedData to bob and a password (PWRI)"
row $M/encrypted-kekri.eml - encrypted - "EnvelopedData to bob and a shared key (KEKRI)"
row $M/encrypted-authenv-cbc.eml - encrypted - "AuthEnvelopedData naming aes-256-cbc"

# sign then encrypt
openssl cms -encrypt -aes-256-gcm -in "$TMP/s.alice-d" -binary -crlfeol \
	-out "$TMP/e.s-e" "$BOB"
crlf "$TMP/e.s-e"
mail $M/sign-then-encrypt.eml "$TMP/e.s-e" "Signed, then encrypted" "$AL"
chk sign-then-encrypt ok dec $M/sign-then-encrypt.eml
chk "sign-then-encrypt (inner)" ok v "$TMP/dec.out"
row $M/sign-then-encrypt.eml - encrypted - "encrypted root, signature inside (no keystore)"

# encrypt then sign: opaque signature over the enveloped entity
sed -n '/^MIME-Version/!p' "$TMP/e.enc-cbc" >"$TMP/enc-entity"
smime "$TMP/s.e-s" alice@example.org opaque "$TMP/enc-entity" -binary
mail $M/encrypt-then-sign.eml "$TMP/s.e-s" "Encrypted, then signed" "$AL"
chk encrypt-then-sign ok v $M/encrypt-then-sign.eml
row $M/encrypt-then-sign.eml - signed/verified - \
	"outer opaque signature over EnvelopedData: also keyword \$SMIMEEncrypted"

# signed over signed: carol's opaque signature over alice's signed message
smime "$TMP/s.s-s" carol@example.org opaque "$TMP/s.alice-d" -binary
mail $M/signed-over-signed.eml "$TMP/s.s-s" "Signed twice" "$CA_"
chk signed-over-signed ok v $M/signed-over-signed.eml
row $M/signed-over-signed.eml - signed/verified - \
	"carol's outer signature (From carol) over alice's signed entity"

# embedded ciphertext: enveloped part that is not the root
mixed "$TMP/e.embenc" "$TMP/plain-entity" "$TMP/enc-entity"
mail $M/embedded-ciphertext.eml "$TMP/e.embenc" "Encrypted attachment" "$AL"
row $M/embedded-ciphertext.eml - none embedded-ciphertext \
	"enveloped-data attachment inside multipart/mixed (status assumed none)"

# compressed-data around a signed message
if openssl cms -compress -in "$BODY" -outform DER -out "$TMP/zcheck" 2>/dev/null; then
	openssl cms -compress -in "$TMP/s.alice-d" -binary -outform DER \
		-out "$TMP/comp.der"
	ZNOTE="openssl cms -compress"
else
	# This OpenSSL has no zlib: build the RFC 3274 structure in python.
	der compress "$TMP/s.alice-d" "$TMP/comp.der"
	ZNOTE="CompressedData built with python zlib (this OpenSSL lacks zlib)"
fi
wrap_opaque "$TMP/e.comp" "$TMP/comp.der" compressed-data smime.p7z
mail $M/compressed-signed.eml "$TMP/e.comp" "Compressed signed message" "$AL"
openssl asn1parse -inform DER -in "$TMP/comp.der" >/dev/null
chk "compressed-signed (inner)" ok v "$TMP/s.alice-d"
row $M/compressed-signed.eml - signed/verified - "compression layer over a signed entity; $ZNOTE"

# CRL carried inside the CMS (crls field), added by DER surgery
sigder "$TMP/rev.der" revoked@example.org detached "$BODY"
der add-crl "$TMP/rev.der" "$TMP/int-rsa.crl.der" "$TMP/rev-crl.der"
wrap_detached "$TMP/e.rev-crl" "$BODY" "$TMP/rev-crl.der"
mail $M/revoked-crl-in-cms.eml "$TMP/e.rev-crl" "CRL in CMS" "From: <revoked@example.org>"
sigder "$TMP/al.der" alice@example.org detached "$BODY"
der add-crl "$TMP/al.der" "$TMP/int-rsa.crl.der" "$TMP/al-crl.der"
wrap_detached "$TMP/e.al-crl" "$BODY" "$TMP/al-crl.der"
mail $M/alice-crl-in-cms.eml "$TMP/e.al-crl" "CRL in CMS" "$AL"
openssl cms -cmsout -print -inform DER -in "$TMP/rev-crl.der" | grep -q 'crls:' 
chk revoked-crl-in-cms ok v $M/revoked-crl-in-cms.eml
chk "revoked-crl-in-cms (crl_check_all, CMS CRLs)" fail vcrl $M/revoked-crl-in-cms.eml crl-rootonly
chk alice-crl-in-cms ok v $M/alice-crl-in-cms.eml
chk "alice-crl-in-cms (crl_check_all, CMS CRLs)" ok vcrl $M/alice-crl-in-cms.eml crl-rootonly
row $M/revoked-crl-in-cms.eml crl_dirs=crl-rootonly signed/failed revoked \
	"intermediate CRL only inside the CMS crls field"
row $M/alice-crl-in-cms.eml "crl_dirs=crl-rootonly revocation_check=hard" signed/verified - \
	"hard mode satisfied by the CRL inside the CMS"

# ------------------------------------------------------------------
# Certificate maps (certmap/): recipients' certificates for encryption
# ------------------------------------------------------------------
# A dir: map for suite-certmap.c and test-smimectl.sh.  Everything above is
# finished: the new certificates are issued after the CRLs (which do not
# list them) and pki/ certificates are copied as they are.
#   bob-2026.pem      pki/bob (RSA keyEncipherment, notBefore -30 d)   usable
#   bob-new.pem       bob, notBefore -10 d                             usable, newest
#   ecdh.pem          ecdh@, EC P-256 keyUsage keyAgreement (int-ec)    usable
#   signonly.pem      signonly@, RSA digitalSignature only              key-usage
#   carol.pem         pki/carol (EC, digitalSignature only)             key-usage
#   badeku.pem        pki/badeku (EKU serverAuth)                       key-usage
#   badku.pem         pki/badku (keyEncipherment only)                  usable
#   expired.pem       pki/expired                                       expired
#   revoked.pem       pki/revoked (listed in crl/)                      revoked
#   rogue.pem         pki/untrusted (rogue CA)                          untrusted
#   weak.pem          pki/weak1024                                      weak-key
#   future.cer        pki/future as DER                                 not-yet-valid
#   upper.pem         SAN Erin.Upper@EXAMPLE.ORG                        usable
#   bundle.pem        pki/alice + pki/dave (subject emailAddress only)  usable
#   utf8.pem          SAN SmtpUTF8Mailbox jörg@example.org               usable
#   bundle.p7b        PKCS#7 certs-only (DER) with frank@               usable
#   notes.txt, stray-key.pem   not certificates (skipped)
# certmap-keys/ holds the new keys.  certmap-msg/:
#   bob-new-keyid.eml   encrypted to bob-new, RecipientInfo by SKI
#   bob-signed.eml      signed by pki/bob (older), From bob
#   bob-new-signed.eml  signed by bob-new, From bob
CM=certmap
CMK=certmap-keys
mkdir -p $CM $CMK certmap-msg
cat >"$TMP/cm-ext.cnf" <<'EOF'
[ cm_signonly ]
basicConstraints = CA:false
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = emailProtection
subjectAltName = email:$ENV::SG_EMAIL
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ cm_ecdh ]
basicConstraints = CA:false
keyUsage = critical,keyAgreement
extendedKeyUsage = emailProtection
subjectAltName = email:$ENV::SG_EMAIL
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ cm_utf8 ]
basicConstraints = CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = emailProtection
subjectAltName = @cm_utf8_san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ cm_utf8_san ]
otherName.1 = 1.3.6.1.5.5.7.8.9;FORMAT:UTF8,UTF8:jörg@example.org
EOF
# cm_issue CA ADDR KEYTYPE EXT START END SUBJECT OUT [extfile]
cm_issue() {
	local cnf=$OUT/ca/$1/ca.cnf
	SG_EMAIL=$2
	genkey "$CMK/$2.key" "$3"
	openssl req -new -config "$cnf" -key "$CMK/$2.key" -subj "$7" -out "$TMP/req.csr"
	openssl ca -batch -config "$cnf" ${9:+-extfile "$9"} -preserveDN -notext \
		-extensions "$4" -startdate "$5" -enddate "$6" -in "$TMP/req.csr" \
		-out "$8" 2>"$TMP/ca.log" || { cat "$TMP/ca.log" >&2; exit 1; }
}
cm_issue int-rsa bob@example.org rsa2048 ee_rsa "$(t $((-10 * DAY)))" \
	"$(t $((700 * DAY)))" "/CN=Bob Example (2)$O" $CM/bob-new.pem
cm_issue int-rsa signonly@example.org rsa2048 cm_signonly "$S" "$E" \
	"/CN=Signonly Example$O" $CM/signonly.pem "$TMP/cm-ext.cnf"
cm_issue int-ec ecdh@example.org ec cm_ecdh "$S" "$E" \
	"/CN=Ecdh Example$O" $CM/ecdh.pem "$TMP/cm-ext.cnf"
cm_issue int-rsa Erin.Upper@EXAMPLE.ORG rsa2048 ee_rsa "$S" "$E" \
	"/CN=Erin Upper$O" $CM/upper.pem
cm_issue int-rsa joerg@example.org rsa2048 cm_utf8 "$S" "$E" \
	"/CN=Joerg Example$O" $CM/utf8.pem "$TMP/cm-ext.cnf"
cm_issue int-rsa frank@example.org rsa2048 ee_rsa "$S" "$E" \
	"/CN=Frank Example$O" "$TMP/frank.pem"
SG_EMAIL=none@example.org
cp pki/bob@example.org.pem $CM/bob-2026.pem
cp pki/carol@example.org.pem $CM/carol.pem
cp pki/badeku@example.org.pem $CM/badeku.pem
cp pki/badku@example.org.pem $CM/badku.pem
cp pki/expired@example.org.pem $CM/expired.pem
cp pki/revoked@example.org.pem $CM/revoked.pem
cp pki/untrusted@example.org.pem $CM/rogue.pem
cp pki/weak1024@example.org.pem $CM/weak.pem
openssl x509 -in pki/future@example.org.pem -outform DER -out $CM/future.cer
cat pki/alice@example.org.pem pki/dave@example.org.pem >$CM/bundle.pem
openssl crl2pkcs7 -nocrl -certfile "$TMP/frank.pem" -outform DER -out $CM/bundle.p7b
printf 'Certificates of our partners.\n' >$CM/notes.txt
genkey $CM/stray-key.pem rsa2048
grep -q 'BEGIN PRIVATE KEY' $CM/stray-key.pem
openssl asn1parse -in $CM/utf8.pem | grep -qi '0C116AC3B672'
openssl x509 -in $CM/ecdh.pem -noout -text | grep -q 'Key Agreement'

# certmap-msg/: encrypted by SKI to bob-new; signed by the older and the
# newer bob certificate
openssl cms -encrypt -aes-256-gcm -keyid -in "$TMP/plain-entity" -binary \
	-crlfeol -out "$TMP/e.cm-keyid" $CM/bob-new.pem
crlf "$TMP/e.cm-keyid"
mail certmap-msg/bob-new-keyid.eml "$TMP/e.cm-keyid" "Encrypted by SKI" "$AL"
openssl cms -decrypt -recip $CM/bob-new.pem -inkey $CMK/bob@example.org.key \
	-in certmap-msg/bob-new-keyid.eml -out /dev/null
BOBF="From: Bob Example <bob@example.org>"
smime "$TMP/s.cm-bob" bob@example.org detached "$BODY"
mail certmap-msg/bob-signed.eml "$TMP/s.cm-bob" "Signed by bob (older)" "$BOBF"
openssl cms -sign -md sha256 -signer $CM/bob-new.pem -inkey $CMK/bob@example.org.key \
	-certfile intermediates/int-rsa.pem -in "$BODY" -crlfeol -out "$TMP/s.cm-bobnew"
crlf "$TMP/s.cm-bobnew"
mail certmap-msg/bob-new-signed.eml "$TMP/s.cm-bobnew" "Signed by bob (newer)" "$BOBF"
for f in bob-signed bob-new-signed; do
	v certmap-msg/$f.eml >/dev/null 2>&1 ||
		{ echo "certmap-msg/$f.eml does not verify" >&2; exit 1; }
done

# ------------------------------------------------------------------
# Summary
# ------------------------------------------------------------------
now2=$(date -u +%s)
if [ "$now2" -le $((STALE_MADE + 1)) ]; then sleep 2; fi
chk "alice-detached (stale CRL, crl_check_all)" fail vcrl $M/alice-detached.eml crl-stale

# every msg file must have a row, every row a file
for f in "$M"/*.eml; do
	grep -q "^$f	" "$CASES" || { echo "no case row for $f" >&2; exit 1; }
done
cut -f1 "$CASES" | while read -r f; do [ -f "$f" ] || { echo "missing $f" >&2; exit 1; }; done

CHKLOG_TEXT=$(cat "$CHKLOG")
rm -rf "$TMP"
cat <<EOF
gen-pki: $OUT
  certificates: $(find pki -name '*.pem' ! -name '*.chain.pem' | wc -l) end entities, 5 CAs
  messages:     $(find msg -name '*.eml' | wc -l) in msg/, $(wc -l <"$CASES") rows in cases.tsv
  openssl self-checks: $NCHK, unexpected: $NBAD
EOF
if [ "$NBAD" -ne 0 ] || [ "${SG_VERBOSE:-0}" = 1 ]; then
	printf '%s\n' "$CHKLOG_TEXT"
fi
[ "$NBAD" -eq 0 ]
