#!/bin/bash
# seeds.sh OUTDIR - make the seed corpora of the fuzzers in OUTDIR/seeds
#
# Collects, at run time (nothing large is committed):
#   - the third-party corpora (tests/data/corpora of the repository, or
#     $SG_CORPORA): mail (*.eml, *.env) and raw CMS (*.bin);
#   - the test PKI's messages: tests/gen-pki.sh is run into OUTDIR/gen-pki
#     (skipped when it fails, e.g. without python3; SG_FUZZ_NO_GENPKI=1
#     skips it too; it is not rerun when OUTDIR/gen-pki/msg exists);
#   - the messages of fuzz/build.sh's tiny PKI (OUTDIR/bin/pki/msg).
# and splits them per fuzzer:
#   seeds/verify, seeds/mime  every message;
#   seeds/cms                 the CMS objects inside the messages (with
#                             python3) and the raw ones, in fuzz-cms's
#                             layout: 0x00 + CMS, or 0xff + content + 0xff +
#                             CMS for a detached signature;
#   (all but config)          python3 also makes RFC 3274 compressed-data
#                             that expands 1000-fold (over a 1 MiB limit)
#                             and compressed-data over a signed message;
#   seeds/config              conf.d/smimeguard.conf and a few samples;
#   seeds/policy              policy delegation request streams;
#   seeds/ldap                directory answers made of the tiny PKI's
#                             certificates, ldap: map files, filters;
#   seeds/keyd                smime-keyd request headers and replies.
# Seeds are named by their SHA-1, so reruns do not duplicate them.

set -eu

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
FUZZ_DIR=$(cd -- "$(dirname -- "$0")" && pwd -P)
SRC=$(dirname -- "$FUZZ_DIR")
mkdir -p -- "$1"
OUT=$(cd -- "$1" && pwd -P)
SEEDS=$OUT/seeds
CORPORA=${SG_CORPORA:-$SRC/tests/data/corpora}

mkdir -p "$SEEDS/verify" "$SEEDS/mime" "$SEEDS/cms" "$SEEDS/config"

# add DIR FILE - copy FILE into DIR under its SHA-1
add() {
	local sum
	sum=$(sha1sum <"$2")
	cp -- "$2" "$1/${sum%% *}"
}

# add_raw_cms DIR FILE - a raw CMS object as a fuzz-cms seed (no content)
add_raw_cms() {
	local tmp=$OUT/seed.tmp
	{ printf '\000'; cat -- "$2"; } >"$tmp"
	add "$1" "$tmp"
	rm -f -- "$tmp"
}

mail_dirs=()
if [ -d "$CORPORA" ]; then
	mail_dirs+=("$CORPORA")
	while IFS= read -r -d '' f; do
		add_raw_cms "$SEEDS/cms" "$f"
	done < <(find "$CORPORA" -type f -name '*.bin' -print0)
	# RFC 4134 4.3 is detached over ExContent.bin: pair it with every
	# SignedData so some seeds are real detached signatures
	ex=$CORPORA/rfc4134-examples/ExContent.bin
	if [ -f "$ex" ]; then
		for f in "$CORPORA"/rfc4134-examples/4.*.bin; do
			{ printf '\377'; cat -- "$ex"; printf '\377'; cat -- "$f"; } \
				>"$OUT/seed.tmp"
			add "$SEEDS/cms" "$OUT/seed.tmp"
		done
		rm -f -- "$OUT/seed.tmp"
	fi
else
	echo "seeds.sh: no corpora at $CORPORA (skipped)" >&2
fi

if [ "${SG_FUZZ_NO_GENPKI:-0}" != 1 ]; then
	if [ -d "$OUT/gen-pki/msg" ] ||
	   bash "$SRC/tests/gen-pki.sh" "$OUT/gen-pki" >"$OUT/gen-pki.log" 2>&1; then
		mail_dirs+=("$OUT/gen-pki/msg")
	else
		echo "seeds.sh: tests/gen-pki.sh failed, see $OUT/gen-pki.log (skipped)" >&2
		rm -rf -- "$OUT/gen-pki"
	fi
fi
if [ -d "$OUT/bin/pki/msg" ]; then
	mail_dirs+=("$OUT/bin/pki/msg")
	for f in "$OUT"/bin/pki/msg/*.p7[cms]; do
		[ -f "$f" ] && add_raw_cms "$SEEDS/cms" "$f"
	done
	# detached content with a signature, and with an EnvelopedData
	for f in signed-detached.p7s encrypted-gcm.p7m; do
		if [ ! -f "$OUT/bin/pki/ca/body.txt" ] ||
		   [ ! -f "$OUT/bin/pki/msg/$f" ]; then
			continue
		fi
		{ printf '\377'; cat -- "$OUT/bin/pki/ca/body.txt"; printf '\377'
		  cat -- "$OUT/bin/pki/msg/$f"; } >"$OUT/seed.tmp"
		add "$SEEDS/cms" "$OUT/seed.tmp"
		rm -f -- "$OUT/seed.tmp"
	done
fi

mails=()
if [ "${#mail_dirs[@]}" -gt 0 ]; then
	while IFS= read -r -d '' f; do
		mails+=("$f")
		add "$SEEDS/verify" "$f"
		add "$SEEDS/mime" "$f"
	done < <(find "${mail_dirs[@]}" -type f \( -name '*.eml' -o -name '*.env' \) -print0)
fi

# the CMS inside the messages, byte-exact (python3, standard library)
if [ "${#mails[@]}" -gt 0 ] && command -v python3 >/dev/null 2>&1; then
	python3 - "$SEEDS" "${mails[@]}" <<'PYEOF' || echo "seeds.sh: CMS extraction failed (skipped)" >&2
import base64
import email
import hashlib
import os
import re
import sys
import zlib

PKCS7 = ("application/pkcs7-mime", "application/x-pkcs7-mime",
         "application/pkcs7-signature", "application/x-pkcs7-signature")


def save(outdir, data):
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(data)


def detached(raw, msg):
    """0xff/sep + canonical first part + sep + signature DER, or None"""
    boundary = msg.get_param("boundary")
    parts = msg.get_payload()
    if not boundary or not isinstance(parts, list) or len(parts) != 2:
        return None
    sig = parts[1].get_payload(decode=True)
    if not sig:
        return None
    canon = re.sub(rb"(?<!\r)\n", b"\r\n", raw)
    delim = b"\r\n--" + boundary.encode("latin-1", "replace")
    head_end = canon.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    body = canon[head_end + 2:]
    first = body.find(delim)
    if first < 0:
        return None
    start = body.find(b"\r\n", first + len(delim))
    second = body.find(delim, start)
    if start < 0 or second < 0:
        return None
    content = body[start + 2:second]
    for sep in range(0xff, 0x7f, -1):
        if sep not in content:
            return bytes([sep]) + content + bytes([sep]) + sig
    return None


def der(tag, content):
    n = len(content)
    if n < 0x80:
        head = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + head + content


def compressed(inner):
    """an RFC 3274 ContentInfo of compressed-data around inner"""
    ct_compressed = bytes.fromhex("060b2a864886f70d0109100109")
    alg_zlib = bytes.fromhex("060b2a864886f70d0109100308")
    ct_data = bytes.fromhex("06092a864886f70d010701")
    cd = der(0x30, der(0x02, b"\x00") + der(0x30, alg_zlib) +
             der(0x30, ct_data + der(0xa0, der(0x04, zlib.compress(inner, 9)))))
    return der(0x30, ct_compressed + der(0xa0, cd))


def as_mail(cms):
    b64 = base64.encodebytes(cms).replace(b"\n", b"\r\n")
    return (b"From: fuzz@example.org\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: application/pkcs7-mime; smime-type=compressed-data;"
            b" name=smime.p7z\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + b64)


def main():
    seeds = sys.argv[1]
    outdir = os.path.join(seeds, "cms")
    signed = None
    for path in sys.argv[2:]:
        with open(path, "rb") as f:
            raw = f.read()
        if path.endswith("/signed-opaque.eml"):
            signed = raw
        try:
            msg = email.message_from_bytes(raw)
        except Exception:
            continue
        if (msg.get_content_type() == "multipart/signed"):
            seed = detached(raw, msg)
            if seed:
                save(outdir, seed)
        for part in msg.walk():
            name = (part.get_filename() or "").lower()
            if (part.get_content_type() in PKCS7 or name.endswith(".p7m")
                    or name.endswith(".p7s")):
                try:
                    der_ = part.get_payload(decode=True)
                except Exception:
                    continue
                if der_:
                    save(outdir, b"\x00" + der_)
    text = b"Content-Type: text/plain\r\n\r\n"
    inners = [text + b"A" * 200000, text + b"B" * 2000000]
    if signed:
        inners.append(signed)
    for inner in inners:
        cms = compressed(inner)
        save(outdir, b"\x00" + cms)
        save(os.path.join(seeds, "verify"), as_mail(cms))
        save(os.path.join(seeds, "mime"), as_mail(cms))


main()
PYEOF
fi

# configuration samples: paths name the files fuzz-config's scratch
# directory holds (empty, garbage.pem, dir/)
if [ -f "$SRC/conf.d/smimeguard.conf" ]; then
	add "$SEEDS/config" "$SRC/conf.d/smimeguard.conf"
fi
conf() {
	printf '%s\n' "$@" >"$OUT/seed.tmp"
	add "$SEEDS/config" "$OUT/seed.tmp"
	rm -f -- "$OUT/seed.tmp"
}
conf "# all core settings" \
	"config_dir = dir" \
	"trust_anchors = \$config_dir, ." \
	"intermediates = \${config_dir}" \
	"crl_dirs = dir empty" \
	"revocation_check = hard" \
	"sender_binding = relaxed" \
	"allow_sha1_signatures = yes" \
	"certificate_policies = 1.2.3.4, 2.5.29.32.0" \
	"max_message_size = 1048576" \
	"max_mime_depth = 8" \
	"max_mime_parts = 100" \
	"max_cms_nesting = 2" \
	"max_certificates = 8"
conf "a = \$b\$b" "b = \${c}\${c}" "c = x\$\$y" \
	"revocation_check = \$mode" "mode = none" \
	"max_mime_depth = \$depth" "depth = 4" \
	"trust_anchors = dir," "  dir" "	garbage.pem" \
	"smime_policyd_listen = inet:127.0.0.1:10040"
conf "loop = \$loop" "max_certificates = \$loop"
conf "revocation_check = sometimes"
conf "continuation without setting" " x"
conf "certificate_policies = not.an.oid"
conf "trust_anchors = garbage.pem"
conf "internal_domains = example.org, .example.org" \
	"encryption_policy_maps = texthash:policy.map" \
	"policy_action = defer" \
	"policy_exempt_senders = postmaster@example.org" \
	"policy_exempt_recipients = \$internal_domains" \
	"certificate_maps = dir:dir" \
	"harvest_map = dir:dir" \
	"#map" \
	"# key requirement [action]" \
	"example.com encrypt" \
	".example.com encrypt-aead+sign reject" \
	"bob@example.com sign monitor" \
	"@example.net encrypt+sign hold"
conf "internal_domains = \${oops" "encryption_policy_maps = \${oops"

# policy delegation requests (fuzz-policy): whole streams as Postfix sends
mkdir -p "$SEEDS/policy"
req() {
	printf '%s\n' "$@" "" >"$OUT/seed.tmp"
	add "$SEEDS/policy" "$OUT/seed.tmp"
	rm -f -- "$OUT/seed.tmp"
}
req request=smtpd_access_policy protocol_state=RCPT protocol_name=ESMTP \
	client_address=192.0.2.1 helo_name=mx.ext.example \
	sender=alice@example.org recipient=bob@ext.example \
	recipient_count=0 queue_id= instance=123.456.0 size=0 \
	sasl_username=alice
req request=smtpd_access_policy protocol_state=RCPT \
	sender=boss@example.org recipient=carol@sub.ext.example \
	request=smtpd_access_policy protocol_state=RCPT \
	sender=robot@example.org recipient=bob@ext.example
req request=smtpd_access_policy protocol_state=END-OF-MESSAGE \
	sender=alice@example.org recipient=
req request=smtpd_access_policy protocol_state=RCPT sender= \
	recipient=local@example.org
printf 'request=smtpd_access_policy\r\nprotocol_state=RCPT\r\nrecipient=bob@ext.example\r\n\r\nrequest=smtpd_access_policy\nprotocol_state=RCPT\nrecipient=x@ext.example\n\n' \
	>"$OUT/seed.tmp" && add "$SEEDS/policy" "$OUT/seed.tmp"
rm -f -- "$OUT/seed.tmp"

# ldap: answers, map files and filters (fuzz-ldap): records of
# [attribute][length:2][value] made from the tiny PKI's certificates
mkdir -p "$SEEDS/ldap"
if [ -d "$OUT/bin/pki/ca" ] && command -v python3 >/dev/null 2>&1; then
	bundle=$OUT/bin/pki/bundle.p7b
	openssl crl2pkcs7 -nocrl -certfile "$OUT/bin/pki/ca/signer.pem" \
		-certfile "$OUT/bin/pki/trust/ca.pem" -outform DER \
		-out "$bundle" 2>/dev/null || bundle=""
	python3 - "$SEEDS/ldap" "$OUT/bin/pki" "$bundle" <<'PYEOF' || echo "seeds.sh: ldap seeds failed (skipped)" >&2
import hashlib
import os
import ssl
import sys

out, pki, bundle = sys.argv[1], sys.argv[2], sys.argv[3]


def save(data):
    with open(os.path.join(out, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def rec(attr, value):
    return bytes([attr]) + len(value).to_bytes(2, "big") + value


pems = {}
for name in ("signer", "rsa", "rsa1024", "ec224"):
    path = os.path.join(pki, "ca", name + ".pem")
    if os.path.exists(path):
        with open(path) as f:
            pems[name] = f.read()
ders = {n: ssl.PEM_cert_to_DER_cert(p) for n, p in pems.items()}
p7 = open(bundle, "rb").read() if bundle else b""
rsa = ders.get("rsa", b"")
ec = ders.get("signer", b"")
save(b"\x00" + rec(2, rsa))
save(b"\x00" + rec(0, p7) + rec(3, rsa))
save(b"\x00" + rec(1, ec) + rec(3, ec) + rec(4, b"bob@ext.example"))
save(b"\x00" + rec(0xff, b"cn=Bob\nEvil,dc=example") + rec(2, rsa) +
     rec(0xff, b"cn=Carol,dc=example") + rec(0, p7) + rec(9, b"x;binary"))
save(b"\x00" + rec(3, pems.get("rsa", "").encode()) +
     rec(1, ("-----BEGIN PKCS7-----\n" + "\n".join(
         __import__("base64").encodebytes(p7).decode().split()) +
         "\n-----END PKCS7-----\n").encode()))
for d in ders.values():
    save(b"\x00" + rec(2, d))
save(b"\x01server_host = ldap://127.0.0.1:389, ldaps://ldap2.example:636\n"
     b"search_base = dc=example,dc=org\nscope = sub\n"
     b"query_filter = (&(objectClass=inetOrgPerson)(mail=%s))\n"
     b"result_attribute = userSMIMECertificate;binary, userCertificate\n"
     b"domain = example.org, ext.example\nbind = no\ntimeout = 2\n"
     b"cache_ttl = 60\nnegative_cache_ttl = 10\nsize_limit = 10\n"
     b"dereference = 0\nversion = 3\nstart_tls = no\n")
save(b"\x01server_host = ldapi://%2Frun%2Fslapd%2Fldapi\nbind = sasl\n"
     b"sasl_mech = EXTERNAL\n  # comment\nsearch_base =\n dc=example\n")
save(b"\x01bind_dn = cn=admin\nbind_pw = secret\ntls_require_cert = no\n"
     b"tls_ca_cert_file = /nonexistent\nserver_port = 3890\n"
     b"server_host = host1 host2:1389\n")
save(b"\x02(|(mail=%s)(proxyAddresses=smtp:%s)(uid=%u)(dc=%d)%%)\x00"
     b"b*o)b(\\x@ext.example")
save(b"\x02(mail=%s)\x00\xc3\xa9l\xc3\xa8ve@\xc3\xa9cole.example")
PYEOF
fi

# smime-keyd (fuzz-keyd): 0x00 + a request header, 0x01 + a reply
mkdir -p "$SEEDS/keyd"
kd() {
	printf "$1" >"$OUT/seed.tmp"
	add "$SEEDS/keyd" "$OUT/seed.tmp"
	rm -f -- "$OUT/seed.tmp"
}
kd '\000SGKEYD 1\nowner=bob@example.org\nsize=5321'
kd '\000SGKEYD 1\nsize=12\nowner=a@b.example'
kd '\000SGKEYD 1\nowner=bob@example.org\nsize=99999999999999999999'
kd '\000SGKEYD 1\nowner=bob@example.org\nowner=eve@example.org\nsize=1'
kd '\000SGKEYD 2\nowner=bob@example.org\nsize=1'
kd '\001status=encrypted+signed/verified\nreasons=\ndetail=encrypted for 1 recipient (aes-256-cbc); signed by alice@example.org: verified\nweak=no\nfrom=alice@example.org\nsigners=1\nsigner.0.email=alice@example.org\nsigner.0.subject=CN=Alice\nsigner.0.issuer=CN=Example CA\nsigner.0.serial=1001\nsigner.0.digest=sha256\nsigner.0.result=verified\nsigner.0.reasons=\nsigner.0.bound=yes\n\n'
kd '\001status=encrypted+signed/failed\nreasons=untrusted,sender-mismatch\ndetail=signed by mallory\nweak=yes\nfrom=alice@example.org\nsigners=1\nsigner.0.email=mallory@evil.example\nsigner.0.result=failed\nsigner.0.reasons=untrusted\nsigner.0.bound=no\n\n'
kd '\001status=encrypted\nreasons=\ndetail=no key of bob@example.org opens it\nweak=no\nfrom=\nsigners=0\n\n'
kd '\001status=error\ndetail=busy\n\n'
kd '\001status=signed/verified\nsigners=0\n\n'

for d in verify mime cms config policy ldap keyd; do
	n=$(find "$SEEDS/$d" -type f | wc -l)
	printf 'seeds.sh: %-6s %4d seeds\n' "$d" "$n"
done
