#!/bin/bash
# gen-keyd.sh OUT - sign-then-encrypt mail (Outlook's order) for
# decrypt-to-verify (suite-keyd.c, test-keyd.sh), made by openssl cms
# from the test PKI that gen-pki.sh wrote into OUT: alice signs, the
# result is encrypted to bob (whose keys the tests store).  OUT/keyd/:
#   verified.eml      signed (opaque), encrypted to bob's pki certificate
#   verified-old.eml  the same, encrypted to bob's other certificate
#                     (certmap/bob-new.pem): a second stored key
#   tampered.eml      signed (detached), a byte of the signed text changed
#                     before encryption: the inner signature fails
#   unsigned.eml      plain text encrypted to bob
#   carol.eml         signed, encrypted to carol only: no key of bob's
#   innerfrom.eml     signed content whose own From (mallory) is not the
#                     encrypted message's From (alice)
# Each plaintext holds the marker SECRET-PLAINTEXT-MARKER-7a1f, which must
# never appear in a log or reply.
set -eu
out=$1
P=$out/pki
K=$out/keyd
mkdir -p "$K"
crlf() { sed 's/$/\r/'; }
printf 'Content-Type: text/plain; charset=us-ascii\n\nThe quarterly figures, SECRET-PLAINTEXT-MARKER-7a1f.\n' | crlf >"$K/body.txt"
sign() {	# sign [extra openssl args] < in > out
	openssl cms -sign -signer "$P/alice@example.org.pem" \
		-inkey "$P/alice@example.org.key" \
		-certfile "$P/alice@example.org.chain.pem" -md sha256 "$@"
}
enc() {		# enc CERT < in > out
	openssl cms -encrypt -aes-256-gcm -from alice@example.org \
		-to bob@example.org -subject "Figures" "$@"
}
sign -nodetach -in "$K/body.txt" >"$K/signed.mime"
enc "$P/bob@example.org.pem" <"$K/signed.mime" >"$K/verified.eml"
enc "$out/certmap/bob-new.pem" <"$K/signed.mime" >"$K/verified-old.eml"
enc "$P/carol@example.org.pem" <"$K/signed.mime" >"$K/carol.eml"
enc "$P/bob@example.org.pem" <"$K/body.txt" >"$K/unsigned.eml"
sign -in "$K/body.txt" >"$K/detached.mime"
grep -q 'quarterly figures' "$K/detached.mime"
sed 's/quarterly figures/quarterly FIGURES/' "$K/detached.mime" >"$K/tampered.mime"
enc "$P/bob@example.org.pem" <"$K/tampered.mime" >"$K/tampered.eml"
sign -nodetach -from mallory@example.org -in "$K/body.txt" >"$K/mallory.mime"
grep -q '^From: mallory@example.org' "$K/mallory.mime"
enc "$P/bob@example.org.pem" <"$K/mallory.mime" >"$K/innerfrom.eml"
rm -f "$K"/*.mime
