#!/bin/bash
# coldstart.sh [BUILDDIR] [--runs N] - a new process to its first verdict
#
# Builds what issue 14 names for the cold start (in a temporary directory,
# removed afterwards; BENCH_COLD_DATA=DIR keeps and reuses it): a trust
# store of 200 CA certificates (199 fillers and the root of the signer), a
# dir: map of 10,000 certificates (bench-certmap --dir), a signer whose
# certificate can also be encrypted to, and a message it signed.  Then
# runs BUILDDIR/bench/bench-coldstart twice, N new processes each (default
# 20): with certificate_maps = dir:MAP (what the first verdict costs) and
# with harvest_map = dir:MAP as well (the first harvest loads the map).
# Prints both tables.  See RESULTS.md ("Cold start").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$here/..
runs=20
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) build=$1; shift ;;
	esac
done
build=$(cd "$build" && pwd)
for p in bench-coldstart bench-certmap; do
	[ -x "$build/bench/$p" ] || { echo "coldstart.sh: no $build/bench/$p (make -C $build/bench)" >&2; exit 2; }
done

if [ -n "${BENCH_COLD_DATA:-}" ]; then
	d=$BENCH_COLD_DATA
	mkdir -p "$d"
else
	d=$(mktemp -d "${TMPDIR:-/tmp}/coldstart.XXXXXX")
	trap 'rm -rf "$d"' EXIT
fi

if [ ! -f "$d/.complete" ]; then
	echo "coldstart.sh: generating 200 CA certificates, a signer and 10,000 map certificates in $d" >&2
	mkdir -p "$d/cas"
	for i in $(seq 1 199); do
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout /dev/null -out "$d/cas/filler$i.pem" -days 365 \
			-subj "/CN=Filler CA $i" -addext basicConstraints=critical,CA:TRUE \
			-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
	done
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/root.key" -out "$d/root.pem" \
		-days 365 -subj "/CN=Cold Start Root" -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -keyout "$d/signer.key" -out "$d/signer.csr" \
		-subj "/CN=Signer/emailAddress=signer@example.org" 2>/dev/null
	printf '%s\n' "basicConstraints=critical,CA:FALSE" \
		"keyUsage=critical,digitalSignature,keyEncipherment" \
		"extendedKeyUsage=emailProtection" \
		"subjectAltName=email:signer@example.org" > "$d/signer.ext"
	openssl x509 -req -in "$d/signer.csr" -CA "$d/root.pem" -CAkey "$d/root.key" \
		-CAcreateserial -days 300 -extfile "$d/signer.ext" -out "$d/signer.pem" 2>/dev/null
	cat "$d"/cas/filler*.pem "$d/root.pem" > "$d/anchors.pem"
	printf 'From: signer@example.org\r\nTo: bob@example.org\r\nSubject: cold start\r\n' > "$d/head"
	printf 'Content-Type: text/plain\r\n\r\nThe first message of a new process.\r\n' > "$d/body"
	openssl cms -sign -in "$d/body" -signer "$d/signer.pem" -inkey "$d/signer.key" \
		-md sha256 > "$d/signed.part"
	cat "$d/head" "$d/signed.part" > "$d/message.eml"
	rm -rf "$d/map"
	"$build/bench/bench-certmap" --count 10000 --seconds 0.05 --dir "$d/map" > "$d/certmap.out"
	touch "$d/.complete"
fi
n=$(grep -c 'BEGIN CERTIFICATE' "$d/anchors.pem")
m=$(find "$d/map/certs" -type f | wc -l)
printf '%s\n' "trust_anchors = $d/anchors.pem" "revocation_check = none" \
	"certificate_maps = dir:$d/map/certs" > "$d/verify.conf"
cp "$d/verify.conf" "$d/harvest.conf"
echo "harvest_map = dir:$d/map/certs" >> "$d/harvest.conf"

echo "== $n trust anchors, certificate_maps = dir: with $m files"
"$build/bench/bench-coldstart" --runs "$runs" "$d/verify.conf" "$d/message.eml"
echo
echo "== the same, and harvest_map = dir: with $m files"
"$build/bench/bench-coldstart" --runs "$runs" "$d/harvest.conf" "$d/message.eml"
