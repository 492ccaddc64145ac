#!/bin/sh
# gen-bench.sh - generate the benchmark corpus for bench-verify
#
# Usage: gen-bench.sh [-f] OUTDIR
#
# With the openssl CLI ($OPENSSL, default "openssl") this writes, for each
# algorithm ALG in rsa (RSA-2048) and ec (ECDSA P-256):
#   OUTDIR/ALG-root.pem          trust anchor (self-signed root CA)
#   OUTDIR/ALG-intermediate.pem  intermediate CA (carried in each message)
#   OUTDIR/ALG-signer.pem        signer certificate (+ ALG-signer.key)
#   OUTDIR/ALG-SIZE.eml          detached-signed multipart/signed message,
#                                CRLF line endings, From: bench@example.org
#   OUTDIR/ALG-SIZE.content      the signed first part, byte for byte
#   OUTDIR/ALG-SIZE.p7s          the detached CMS signature (DER)
# for SIZE in 2k, 50k and 1m (approximate text/plain body size).
#
# Idempotent: a complete corpus in OUTDIR is left alone (exit 0); -f
# regenerates it.  Keys are fresh on each generation.
set -eu

OPENSSL=${OPENSSL:-openssl}
ALGS="rsa ec"
SIZES="2k 50k 1m"
STAMP=.gen-bench-complete

force=0
if [ "${1:-}" = "-f" ]; then
	force=1
	shift
fi
if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 [-f] OUTDIR" >&2
	exit 2
fi
out=$1

# Already complete?
if [ "$force" -eq 0 ] && [ -f "$out/$STAMP" ]; then
	complete=1
	for alg in $ALGS; do
		[ -s "$out/$alg-root.pem" ] || complete=0
		for size in $SIZES; do
			for ext in eml content p7s; do
				[ -s "$out/$alg-$size.$ext" ] || complete=0
			done
		done
	done
	if [ "$complete" -eq 1 ]; then
		echo "gen-bench: corpus in $out is complete (use -f to regenerate)"
		exit 0
	fi
fi

mkdir -p "$out"
rm -f "$out/$STAMP"
work=$(mktemp -d "${TMPDIR:-/tmp}/gen-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

cat > "$work/ext.cnf" <<'EOF'
[ root ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ intermediate ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ signer ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = emailProtection
subjectAltName = email:bench@example.org
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

# genkey ALG FILE
genkey() {
	case $1 in
	rsa) "$OPENSSL" genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
		-out "$2" 2>/dev/null ;;
	ec)  "$OPENSSL" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-pkeyopt ec_param_enc:named_curve -out "$2" 2>/dev/null ;;
	esac
}

# issue NAME SUBJECT ISSUER_CERT ISSUER_KEY EXTSECTION  (files in $work)
issue() {
	"$OPENSSL" req -new -key "$work/$1.key" -subj "$2" \
		-config "$work/ext.cnf" -out "$work/$1.csr"
	"$OPENSSL" x509 -req -in "$work/$1.csr" -sha256 -days 3650 \
		-CA "$3" -CAkey "$4" -set_serial "0x$("$OPENSSL" rand -hex 8)" \
		-extfile "$work/ext.cnf" -extensions "$5" \
		-out "$work/$1.pem" 2>/dev/null
}

# body BYTES FILE: a MIME entity (header + text/plain lines), CRLF
body() {
	awk -v n="$1" 'BEGIN {
		printf "Content-Type: text/plain; charset=us-ascii\r\n"
		printf "Content-Transfer-Encoding: 7bit\r\n\r\n"
		total = 0
		for (i = 1; total < n; i++) {
			line = sprintf("%06d The quick brown fox jumps over the lazy dog; pack my box.", i)
			printf "%s\r\n", line
			total += length(line) + 2
		}
	}' > "$2"
}

for alg in $ALGS; do
	case $alg in
	rsa) label="RSA-2048" ;;
	ec)  label="ECDSA P-256" ;;
	esac
	echo "gen-bench: $label chain"
	for c in root intermediate signer; do
		genkey "$alg" "$work/$alg-$c.key"
	done
	"$OPENSSL" req -new -x509 -key "$work/$alg-root.key" -sha256 \
		-days 3650 -subj "/O=smimeguard bench/CN=Bench $label Root CA" \
		-set_serial "0x$("$OPENSSL" rand -hex 8)" \
		-config "$work/ext.cnf" -extensions root \
		-out "$work/$alg-root.pem"
	issue "$alg-intermediate" \
		"/O=smimeguard bench/CN=Bench $label Intermediate CA" \
		"$work/$alg-root.pem" "$work/$alg-root.key" intermediate
	issue "$alg-signer" "/O=smimeguard bench/CN=Bench Signer" \
		"$work/$alg-intermediate.pem" "$work/$alg-intermediate.key" \
		signer
	"$OPENSSL" verify -CAfile "$work/$alg-root.pem" \
		-untrusted "$work/$alg-intermediate.pem" -purpose smimesign \
		"$work/$alg-signer.pem" >/dev/null

	for size in $SIZES; do
		case $size in
		2k)  bytes=2048 ;;
		50k) bytes=51200 ;;
		1m)  bytes=1048576 ;;
		esac
		name=$alg-$size
		body "$bytes" "$work/$name.content"
		{
			printf 'From: Bench Sender <bench@example.org>\r\n'
			printf 'To: recipient@example.org\r\n'
			printf 'Subject: smimeguard benchmark %s\r\n' "$name"
			printf 'Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n'
			printf 'Message-ID: <%s@bench.example.org>\r\n' "$name"
			# openssl writes MIME-Version, Content-Type and the
			# multipart/signed body.  Even with -crlfeol its base64
			# lines end in a bare LF, so normalise every line to CRLF
			# (the signed first part is CRLF already).
			"$OPENSSL" cms -sign -md sha256 -crlfeol \
				-in "$work/$name.content" \
				-signer "$work/$alg-signer.pem" \
				-inkey "$work/$alg-signer.key" \
				-certfile "$work/$alg-intermediate.pem" |
				awk '{ sub(/\r$/, ""); printf "%s\r\n", $0 }'
		} > "$work/$name.eml"
		"$OPENSSL" cms -cmsout -in "$work/$name.eml" -inform SMIME \
			-outform DER -out "$work/$name.p7s"
		# Check both forms before publishing them.
		"$OPENSSL" cms -verify -in "$work/$name.eml" \
			-CAfile "$work/$alg-root.pem" -out /dev/null 2>/dev/null
		"$OPENSSL" cms -verify -in "$work/$name.p7s" -inform DER \
			-content "$work/$name.content" -binary \
			-CAfile "$work/$alg-root.pem" -out /dev/null 2>/dev/null
		echo "gen-bench:   $name.eml ($(wc -c < "$work/$name.eml") bytes)"
	done
done

for alg in $ALGS; do
	for c in root intermediate signer; do
		cp "$work/$alg-$c.pem" "$out/"
	done
	cp "$work/$alg-signer.key" "$out/"
	for size in $SIZES; do
		for ext in eml content p7s; do
			cp "$work/$alg-$size.$ext" "$out/"
		done
	done
done
: > "$out/$STAMP"
echo "gen-bench: corpus written to $out"
