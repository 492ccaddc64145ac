#!/usr/bin/env python3
"""gen-gate.py DIR - hostile structure and sender variants, with genuine twins

Writes DIR/gate/*.eml and DIR/gate.tsv from the test PKI that gen-pki.sh
made in DIR (pki/, intermediates/).  Each row is

    file <TAB> settings <TAB> status <TAB> reasons <TAB> note <TAB> flags

flags: "enc" (the verdict must carry $SMIMEEncrypted), "noenc" (it must
not), "attack" (a forgery or a smuggling attempt: never verified, never
encrypted) and "-".  Every attack here was a forgery or a plaintext leak
on an earlier version (issue 10): a reader (Dovecot, Python's email,
Thunderbird) sees another structure or another sender than the verifier.
Signatures are made with the openssl command over the exact bytes, so
each message is genuinely signed; only the structure around it lies.
"""
import base64
import os
import subprocess
import sys
import tempfile

DIR = sys.argv[1]
OUT = os.path.join(DIR, "gate")
os.makedirs(OUT, exist_ok=True)
TMP = tempfile.mkdtemp(prefix="gen-gate.")
ROWS = []


def pki(addr, ext):
    return os.path.join(DIR, "pki", "%s.%s" % (addr, ext))


def inter(addr):
    name = "int-ec.pem" if addr.startswith("carol@") else "int-rsa.pem"
    return os.path.join(DIR, "intermediates", name)


def openssl(*args, data=None):
    r = subprocess.run(["openssl"] + list(args), input=data,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        sys.exit("openssl %s: %s" % (" ".join(args), r.stderr.decode()))
    return r.stdout


def sign(addr, content, opaque=False):
    """DER SignedData over content (detached unless opaque)"""
    path = os.path.join(TMP, "in")
    with open(path, "wb") as f:
        f.write(content)
    args = ["cms", "-sign", "-binary", "-md", "sha256",
            "-signer", pki(addr, "pem"), "-inkey", pki(addr, "key"),
            "-certfile", inter(addr), "-in", path, "-outform", "DER"]
    if opaque:
        args.append("-nodetach")
    return openssl(*args)


def encrypt(content, cipher="-aes-256-cbc"):
    path = os.path.join(TMP, "in")
    with open(path, "wb") as f:
        f.write(content)
    return openssl("cms", "-encrypt", "-binary", cipher, "-in", path,
                   "-outform", "DER", pki("bob@example.org", "pem"))


def b64(der):
    s = base64.encodebytes(der).decode().replace("\n", "\r\n")
    return s.encode()


def hdr(frm, subject, extra=b""):
    return (b"From: " + frm + b"\r\nTo: bob@example.org\r\nSubject: " +
            subject + b"\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\n"
            b"Message-ID: <" + subject.replace(b" ", b".") +
            b"@gate.example>\r\nMIME-Version: 1.0\r\n" + extra)


TEXT = b"Content-Type: text/plain; charset=us-ascii\r\n\r\nPay invoice 4711 to the usual account.\r\n"
EVIL = b"Content-Type: text/plain; charset=us-ascii\r\n\r\nPay invoice 4711 to account EVIL-666.\r\n"


def sigpart(der):
    return (b"Content-Type: application/pkcs7-signature; name=smime.p7s\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=smime.p7s\r\n\r\n" +
            b64(der))


def detached(frm, subject, part1, signer, boundary=b"sg-gate-b1",
             ctype=None, preamble=b"This is an S/MIME signed message.\r\n",
             epilogue=b"", extra_hdr=b"", sig=None, body=None):
    """multipart/signed over part1 (signed exactly as given)"""
    if sig is None:
        sig = sign(signer, part1)
    if ctype is None:
        ctype = (b'multipart/signed; protocol="application/pkcs7-signature";'
                 b' micalg=sha-256; boundary="' + boundary + b'"')
    if body is None:
        body = (preamble + b"--" + boundary + b"\r\n" + part1 + b"\r\n--" +
                boundary + b"\r\n" + sigpart(sig) + b"\r\n--" + boundary +
                b"--\r\n" + epilogue)
    return hdr(frm, subject, extra_hdr + b"Content-Type: " + ctype +
               b"\r\n\r\n") + body


def opaque(frm, subject, content, signer, ctype=None, extra_hdr=b""):
    der = sign(signer, content, opaque=True)
    if ctype is None:
        ctype = (b"application/pkcs7-mime; smime-type=signed-data;"
                 b" name=smime.p7m")
    return hdr(frm, subject, extra_hdr + b"Content-Type: " + ctype +
               b"\r\nContent-Transfer-Encoding: base64\r\n\r\n") + b64(der)


def enveloped(frm, subject, content, ctype=None, tail=b""):
    der = encrypt(content)
    if ctype is None:
        ctype = (b"application/pkcs7-mime; smime-type=enveloped-data;"
                 b" name=smime.p7m")
    return hdr(frm, subject, b"Content-Type: " + ctype +
               b"\r\nContent-Transfer-Encoding: base64\r\n\r\n") + b64(der) + tail


def enveloped_entity(content):
    return (b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data;"
            b" name=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
            b64(encrypt(content)))


def put(name, data, status, reasons, note, flags="-"):
    with open(os.path.join(OUT, name + ".eml"), "wb") as f:
        f.write(data)
    note = note.replace("\r", "\\r").replace("\n", "\\n").replace("\t", " ")
    ROWS.append("\t".join(["gate/" + name + ".eml", "-", status, reasons,
                           note, flags]))


AL = b"alice@example.org"
CA = b"carol@example.org"
ALICE = "alice@example.org"
CAROL = "carol@example.org"

# ---- genuine twins: the gate must not touch them ----
put("ok-detached", detached(AL, b"ok detached", TEXT, ALICE),
    "signed/verified", "-", "genuine multipart/signed", "noenc")
put("ok-opaque", opaque(AL, b"ok opaque", TEXT, ALICE),
    "signed/verified", "-", "genuine signed-data", "noenc")
put("ok-display-name", detached(b'"Smith, Alice" <alice@example.org>',
                                b"ok display", TEXT, ALICE),
    "signed/verified", "-", "quoted display name with a comma")
put("ok-encoded-name", detached(b"=?utf-8?q?Alice_M=C3=BCller?= <alice@example.org>",
                                b"ok encoded", TEXT, ALICE),
    "signed/verified", "-", "encoded-word display name")
mixed = (b'Content-Type: multipart/mixed; boundary="sg-inner-x"\r\n\r\n'
         b"--sg-inner-x\r\n" + TEXT + b"--sg-inner-x\r\n"
         b"Content-Type: application/octet-stream; name*=utf-8''r%C3%A9sum%C3%A9.pdf\r\n"
         b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
         b"--sg-inner-x--\r\n")
put("ok-nested", detached(AL, b"ok nested", mixed, ALICE),
    "signed/verified", "-", "multipart/mixed inside, RFC 2231 file name")
wrapped = (b"Content-Type: message/rfc822; forwarded=no\r\n\r\n" +
           hdr(AL, b"inner", TEXT))
put("ok-wrapper", detached(AL, b"ok wrapper", wrapped, ALICE),
    "signed/verified", "-", "RFC 8551 3.1 wrapper, inner From = signer")
hp = (b"Content-Type: text/plain; charset=us-ascii; hp=clear\r\n"
      b"From: alice@example.org\r\nSubject: protected\r\n\r\nhello\r\n")
put("ok-hp", detached(AL, b"ok hp", hp, ALICE),
    "signed/verified", "-", "RFC 9788 header protection, inner From = signer")
put("ok-enveloped", enveloped(AL, b"ok enveloped", TEXT),
    "encrypted", "-", "genuine EnvelopedData", "enc")
put("ok-sign-outside", detached(AL, b"ok sign outside", enveloped_entity(TEXT), ALICE),
    "signed/verified", "-", "signature over EnvelopedData", "enc")

# ---- From: readers name alice, the signer is carol ----
for i, frm in enumerate([
        b"alice@example.org <carol@example.org>",
        b"<alice@example.org> <carol@example.org>",
        b"alice(x)@example.org <carol@example.org>",
        b'"alice@example.org" <carol@example.org>',
        b"=?utf-8?q?alice=40example=2Eorg?= <carol@example.org>",
        b"=?utf-8?b?YWxpY2VAZXhhbXBsZS5vcmc=?= <carol@example.org>",
        b"alice\xef\xbc\xa0example.org <carol@example.org>",
        b"carol@example.org (alice@example.org)",
        b"Alice <carol@example.org>\r\n <alice@example.org>"]):
    put("from-%d" % i, detached(frm, b"from %d" % i, TEXT, CAROL),
        "signed/failed", "sender-mismatch",
        "From read as another address: " + frm.decode("utf-8", "replace"), "attack")
put("from-group", detached(b"alice@example.org:carol@example.org;", b"from group",
                           TEXT, CAROL),
    "signed/failed", "multiple-from", "a group: Dovecot shows alice", "attack")

# ---- boundary tricks over a genuine signature ----
sig = sign(ALICE, TEXT)
genuine = (b"--B0\r\n" + TEXT + b"\r\n--B0\r\n" + sigpart(sig) + b"\r\n--B0--\r\n")
evil_first = (b"--EVIL\r\n" + EVIL + b"\r\n--EVIL\r\n" + sigpart(sig) +
              b"\r\n--EVIL--\r\n")
for name, ct, body, note in [
        ("dup-boundary", b'multipart/signed; protocol="application/pkcs7-signature"; '
         b'boundary="EVIL"; boundary="B0"', evil_first + genuine,
         "boundary twice: readers split on EVIL"),
        ("dup-boundary-case", b'multipart/signed; protocol="application/pkcs7-signature"; '
         b'boundary="B0"; BOUNDARY="EVIL"', genuine + evil_first,
         "boundary and BOUNDARY: jsmime takes the last"),
        ("rfc2231-boundary", b'multipart/signed; protocol="application/pkcs7-signature"; '
         b"boundary*=us-ascii''EVIL; boundary=B0", genuine + evil_first,
         "RFC 2231 boundary beside a plain one"),
        ("rfc2231-only", b'multipart/signed; protocol="application/pkcs7-signature"; '
         b"boundary*0=B; boundary*1=0", genuine,
         "RFC 2231 continuation only: Dovecot and jsmime see no boundary"),
        ("dup-protocol", b'multipart/signed; protocol="application/pkcs7-signature"; '
         b'protocol="text/plain"; boundary="B0"', genuine,
         "protocol twice"),
        ("comment-boundary", b'multipart/signed; protocol="application/pkcs7-signature"; '
         b'(boundary="EVIL";) boundary="B0"', genuine,
         "a comment hiding a parameter from compat32 readers"),
        ("media-space", b'multipart /signed; protocol="application/pkcs7-signature"; '
         b'boundary="B0"', genuine, "space in the media type"),
        ("long-boundary", b'multipart/signed; protocol="application/pkcs7-signature"; '
         b'boundary="' + b"B" * 90 + b'"',
         genuine.replace(b"--B0", b"--" + b"B" * 90),
         "a 90-character boundary: Dovecot truncates at 80"),
        ("prefix-delimiter", b'multipart/signed; protocol="application/pkcs7-signature"; '
         b'boundary="B0"', b"--B0X\r\n" + EVIL + b"\r\n" + genuine,
         "a line --B0X: Dovecot and OpenSSL start a part there"),
        ("close-junk", b'multipart/signed; protocol="application/pkcs7-signature"; '
         b'boundary="B0"', genuine.replace(b"--B0--\r\n", b"--B0--junk\r\n--B0--\r\n"),
         "--B0--junk: a close delimiter for prefix readers only"),
        ("no-close", b'multipart/signed; protocol="application/pkcs7-signature"; '
         b'boundary="B0"', genuine.replace(b"\r\n--B0--\r\n", b"\r\n"),
         "no close delimiter"),
        ("bare-cr", b'multipart/signed; protocol="application/pkcs7-signature"; '
         b'boundary="B0"', b"--B0\r\n" + EVIL + b"\r--B0\r\n" + TEXT + b"\r\n--B0\r\n" +
         sigpart(sig) + b"\r\n--B0--\r\n",
         "a bare CR before a delimiter: Python's email splits there"),
]:
    msg = hdr(AL, name.encode(), b"Content-Type: " + ct + b"\r\n\r\n") + body
    put(name, msg, "signed/failed", "malformed", note, "attack")

msg = hdr(AL, b"dup-ctype", b"Content-Type: text/plain\r\n"
          b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; '
          b'boundary="B0"\r\n\r\n') + genuine
put("dup-ctype", msg, "none", "-", "two Content-Type fields: every reader takes the first (text/plain)", "noenc")
msg = hdr(AL, b"header-no-colon", b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; '
          b'boundary="B0"\r\nnot a header line\r\n\r\n') + genuine
put("header-no-colon", msg, "signed/failed", "malformed",
    "a header line without a colon: Python starts the body there", "attack")

# inside the signed content: a genuinely signed part 1 whose own
# structure is ambiguous (the signer, or whoever built it, lies)
for name, part1, note in [
        ("inner-prefix-boundary",
         b'Content-Type: multipart/mixed; boundary="sg-gate-b1x"\r\n\r\n'
         b"--sg-gate-b1x\r\n" + TEXT + b"--sg-gate-b1x--\r\n",
         "an inner boundary that has the outer one as a prefix"),
        ("inner-stray",
         b'Content-Type: multipart/mixed; boundary="in1"\r\n\r\n'
         b"--in1\r\n" + TEXT + b"--in1junk\r\n" + EVIL + b"--in1--\r\n",
         "a line --in1junk inside the signed content"),
        ("inner-dup-ctype",
         b"Content-Type: text/plain\r\nContent-Type: text/html\r\n\r\nhello\r\n",
         "two Content-Type fields in the signed part"),
        ("inner-cte-two-words",
         b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64 x\r\n\r\naGVsbG8=\r\n",
         "a Content-Transfer-Encoding of two words"),
]:
    put(name, detached(AL, name.encode(), part1, ALICE), "signed/failed",
        "malformed", note, "attack")
put("opaque-inner-stray", opaque(AL, b"opaque inner stray",
                                 b'Content-Type: multipart/mixed; boundary="in1"\r\n\r\n'
                                 b"--in1\r\n" + TEXT + b"--in1X\r\n" + EVIL +
                                 b"--in1--\r\n", ALICE),
    "signed/failed", "malformed", "signed-data whose content has a stray delimiter", "attack")
sp = b"Content-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64 (x)\r\n\r\n" + b64(sig)
msg = hdr(AL, b"sig-cte", b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; '
          b'boundary="B0"\r\n\r\n') + b"--B0\r\n" + TEXT + b"\r\n--B0\r\n" + sp + b"\r\n--B0--\r\n"
put("sig-cte-comment", msg, "signed/failed", "malformed",
    "a comment in the signature part's transfer encoding", "attack")

# ---- wrapped and protected headers: the inner From is another person ----
wrapped = (b"Content-Type: message/rfc822; forwarded=no\r\n\r\n" +
           hdr(AL, b"inner", TEXT))
put("wrapper-other-from", detached(CA, b"wrapper other", wrapped, CAROL),
    "signed/failed", "sender-mismatch",
    "carol signs an RFC 8551 wrapper whose inner From is alice", "attack")
hp = (b"Content-Type: text/plain; charset=us-ascii; hp=clear\r\n"
      b"From: alice@example.org\r\n\r\nhello\r\n")
put("hp-other-from", detached(CA, b"hp other", hp, CAROL),
    "signed/failed", "sender-mismatch",
    "carol signs a part whose protected From is alice", "attack")

# ---- encryption that is not: outbound this must be refused ----
tail = b64(TEXT)
put("enc-trailing", enveloped(AL, b"enc trailing", TEXT, tail=tail),
    "none", "malformed", "plaintext as base64 after the EnvelopedData", "noenc")
put("enc-label-only", hdr(AL, b"enc label", b"Content-Type: application/pkcs7-mime;"
                          b" smime-type=enveloped-data\r\nContent-Transfer-Encoding: base64\r\n\r\n") +
    b64(TEXT), "none", "malformed", "an enveloped-data label on plaintext", "noenc")
put("enc-dup-smime-type", enveloped(AL, b"enc dup", TEXT,
                                    ctype=b"application/pkcs7-mime; smime-type=enveloped-data;"
                                    b" smime-type=signed-data"),
    "none", "malformed", "smime-type twice", "noenc")
put("enc-dup-boundary", detached(AL, b"enc dup boundary", enveloped_entity(TEXT), ALICE,
                                 boundary=b"B0",
                                 ctype=b'multipart/signed; protocol="application/pkcs7-signature";'
                                 b' boundary="PLAIN"; boundary="B0"'),
    "signed/failed", "malformed", "a second boundary whose parts readers see", "noenc")
put("enc-preamble", detached(AL, b"enc preamble", enveloped_entity(TEXT), ALICE,
                             preamble=b"Pay invoice 4711\r\nto account EVIL-666.\r\n"),
    "signed/verified", "-", "plaintext in the preamble beside the ciphertext", "noenc")
put("enc-epilogue", detached(AL, b"enc epilogue", enveloped_entity(TEXT), ALICE,
                             epilogue=b"Pay invoice 4711 to account EVIL-666.\r\n"),
    "signed/verified", "-", "plaintext in the epilogue beside the ciphertext", "noenc")

# ---- found by an independent attacker (second round) ----
for i, frm in enumerate([
        b"=?utf-7?q?alice+AEA-example.org?= <carol@example.org>",
        b"=?utf-7?b?QWxpY2UgK0FEdy1hbGljZStBRUEtZXhhbXBsZS5vcmcrQUQ0LQ==?= <carol@example.org>",
        b"=?shift_jis?b?YWxpY2WBl2V4YW1wbGUub3Jn?= <carol@example.org>",
        b"=?gbk?b?YWxpY2WjwGV4YW1wbGUub3Jn?= <carol@example.org>",
        b"alice=?utf-8?q?=40?=example.org <carol@example.org>",
        b"Alice=?utf-8?q?_=3Calice=40example.org=3E?= <carol@example.org>",
        b"=?windows-1252?q?=8Balice=9B?= <carol@example.org>",
        b"\xe2\x80\xaeecilA <carol@example.org>",
        b"Alice \xc2\x85 <carol@example.org>"]):
    put("from-2-%d" % i, detached(frm, b"from 2 %d" % i, TEXT, CAROL),
        "signed/failed", "sender-mismatch",
        "display name readers decode to an address or reorder: " +
        frm.decode("utf-8", "replace"), "attack")
put("ok-latin1-name", detached(b"=?iso-8859-1?q?J=F6rg_M=FCller?= <carol@example.org>",
                               b"ok latin1", TEXT, CAROL),
    "signed/verified", "-", "ISO-8859-1 encoded display name")
# the gate's own limits: what lies deeper is not checked, never verified
inner = (b"Content-Type: multipart/alternative; boundary*=us-ascii''Bz; boundary=\"Az\"\r\n\r\n"
         b"--Bz\r\n" + EVIL + b"--Bz--\r\n--Az\r\n" + TEXT + b"--Az--\r\n")
deep = inner
for lvl in range(34, 0, -1):
    b = b"Lv%02d" % lvl
    deep = (b"Content-Type: multipart/mixed; boundary=\"" + b + b"\"\r\n\r\n--" + b +
            b"\r\n" + deep + b"\r\n--" + b + b"--\r\n")
put("gate-too-deep", detached(AL, b"gate too deep", deep, ALICE),
    "signed", "too-complex", "34 nested multiparts around an ambiguous one", "attack")
wide = b"Content-Type: multipart/mixed; boundary=\"Wd\"\r\n\r\n"
for i in range(1001):
    wide += b"--Wd\r\nContent-Type: text/plain\r\n\r\nfiller\r\n"
wide += b"--Wd\r\n" + inner + b"\r\n--Wd--\r\n"
put("gate-too-wide", detached(AL, b"gate too wide", wide, ALICE),
    "signed", "too-complex", "1002 parts, the last one ambiguous", "attack")
# the signature slot beside real ciphertext holds plaintext
enc_part = enveloped_entity(TEXT)
secret = b"CONFIDENTIAL: the merger closes Friday.\r\n"
for name, sig_part in [
        ("enc-sigslot-b64", b"Content-Type: application/pkcs7-signature; name=smime.p7s\r\n"
         b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(secret)),
        ("enc-sigslot-7bit", b"Content-Type: application/pkcs7-signature; name=smime.p7s\r\n\r\n" + secret),
        ("enc-sigslot-econtent", sigpart(sign(ALICE, secret, opaque=True)))]:
    body = (b"--B0\r\n" + enc_part + b"\r\n--B0\r\n" + sig_part + b"\r\n--B0--\r\n")
    put(name, hdr(AL, name.encode(), b'Content-Type: multipart/signed; protocol='
                  b'"application/pkcs7-signature"; boundary="B0"\r\n\r\n') + body,
        "signed/failed", "-", "plaintext in the signature part beside EnvelopedData", "noenc")
# an encrypted label on plaintext, with a header over the limits
many = b"".join(b"X-F%05d: a\r\n" % i for i in range(10001))
put("enc-label-big-header", hdr(AL, b"enc big header", many +
                                b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\r\n") +
    secret, "none", "too-complex", "an enveloped-data label on plaintext behind 10,001 header fields", "noenc")
# bytes inside the ContentInfo after the SignedData
der = sign(ALICE, TEXT, opaque=True)


def tlv_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def parse_tlv(b, i):
    tag = b[i]
    ln = b[i + 1]
    if ln < 0x80:
        return tag, i + 2, ln
    k = ln & 0x7f
    return tag, i + 2 + k, int.from_bytes(b[i + 2:i + 2 + k], "big")


_, ci_body, ci_len = parse_tlv(der, 0)
_, oid_body, oid_len = parse_tlv(der, ci_body)
ex_at = oid_body + oid_len
_, ex_body, ex_len = parse_tlv(der, ex_at)
hidden = b"\x04" + tlv_len(len(secret)) + secret
ex = b"\xa0" + tlv_len(ex_len + len(hidden)) + der[ex_body:ex_body + ex_len] + hidden
ci = der[ci_body:ex_at] + ex
cijunk = b"\x30" + tlv_len(len(ci)) + ci
put("cms-hidden-in-contentinfo", hdr(AL, b"cms hidden", b"Content-Type: application/pkcs7-mime; "
                                     b"smime-type=signed-data; name=smime.p7m\r\n"
                                     b"Content-Transfer-Encoding: base64\r\n\r\n") + b64(cijunk),
    "signed/failed", "malformed", "an OCTET STRING after the SignedData inside [0]", "attack")
# OpenSSL reads lines in 1023-byte pieces: a delimiter at offset 1023
longline = (b"Content-Type: text/plain\r\n\r\n" + b"x" * 1023 + b"--B0\r\n" + b"hello\r\n")
sig = sign(ALICE, longline)
msg = hdr(AL, b"long line", b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; '
          b'boundary="B0"\r\n\r\n') + b"--B0\r\n" + longline + b"\r\n--B0\r\n" + sigpart(sig) + b"\r\n--B0--\r\n"
put("long-line-1023", msg, "signed/failed", "malformed",
    "--B0 at offset 1023 of a long line: a delimiter for OpenSSL", "attack")
# a message/rfc822 root without forwarded=no is a wrapper to clients too
wrapped = b"Content-Type: message/rfc822\r\n\r\n" + hdr(AL, b"inner", TEXT)
put("wrapper-no-param", detached(CA, b"wrapper no param", wrapped, CAROL),
    "signed/failed", "sender-mismatch", "carol signs message/rfc822 (no parameter) from alice", "attack")
b64multi = (b"Content-Type: multipart/mixed; boundary=\"in2\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
            b64(b"--in2\r\n" + EVIL + b"--in2--\r\n"))
put("inner-multipart-base64", detached(AL, b"inner multipart base64", b64multi, ALICE),
    "signed/failed", "malformed", "a base64-encoded multipart in the signed part", "attack")

# ---- weak signatures and keys on the path, not only in the SignerInfo ----
def ca_sign(csr, ca_dir, out, ext, md="-sha256", days="3650"):
    with open(os.path.join(TMP, "ext.cnf"), "w") as f:
        f.write("[v3]\n" + ext)
    openssl("x509", "-req", "-in", csr, "-CA", os.path.join(ca_dir, "cert.pem"),
            "-CAkey", os.path.join(ca_dir, "key.pem"), "-CAcreateserial",
            "-CAserial", os.path.join(TMP, "serial"), md, "-days", days,
            "-out", out, "-extfile", os.path.join(TMP, "ext.cnf"), "-extensions", "v3")


LEAF_EXT = ("subjectAltName=email:alice@example.org\nkeyUsage=critical,digitalSignature,"
            "keyEncipherment\nextendedKeyUsage=emailProtection\nbasicConstraints=CA:FALSE\n")
CA_EXT = ("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
          "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")


def weak_signer(name, key_bits, int_bits=None, leaf_md="-sha256", int_md="-sha256"):
    """a leaf for alice under int-rsa (or under a new intermediate with
    int_bits under root-rsa); returns (cert, key, extra certs)"""
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    ca = os.path.join(DIR, "ca", "int-rsa")
    extra = inter(ALICE)
    if int_bits is not None:
        openssl("req", "-new", "-newkey", "rsa:%d" % int_bits, "-nodes",
                "-keyout", os.path.join(d, "key.pem"), "-out", os.path.join(d, "ca.csr"),
                "-subj", "/O=Example Org/CN=Weak %s CA" % name)
        ca_sign(os.path.join(d, "ca.csr"), os.path.join(DIR, "ca", "root-rsa"),
                os.path.join(d, "cert.pem"), CA_EXT, md=int_md)
        ca = d
        extra = os.path.join(d, "cert.pem")
    openssl("req", "-new", "-newkey", "rsa:%d" % key_bits, "-nodes", "-keyout",
            os.path.join(d, "leaf.key"), "-out", os.path.join(d, "leaf.csr"),
            "-subj", "/O=Example Org/CN=Alice %s" % name)
    ca_sign(os.path.join(d, "leaf.csr"), ca, os.path.join(d, "leaf.pem"), LEAF_EXT, md=leaf_md)
    return os.path.join(d, "leaf.pem"), os.path.join(d, "leaf.key"), extra


def sign_with(cert, key, extra, content):
    path = os.path.join(TMP, "in")
    with open(path, "wb") as f:
        f.write(content)
    return openssl("cms", "-sign", "-binary", "-md", "sha256", "-signer", cert,
                   "-inkey", key, "-certfile", extra, "-in", path, "-outform", "DER")


for name, kw, status, reasons, note in [
        ("path-sha1-leaf", dict(key_bits=2048, leaf_md="-sha1"), "signed/failed",
         "weak-algorithm", "the signer certificate is signed with sha1WithRSA"),
        ("path-md5-ca", dict(key_bits=2048, int_bits=2048, int_md="-md5"), "signed/failed",
         "weak-algorithm", "the intermediate is signed with md5WithRSA"),
        ("path-512-ca", dict(key_bits=2048, int_bits=512), "signed/failed",
         "weak-key", "a 512-bit RSA intermediate signs the signer"),
        ("path-1024-ca", dict(key_bits=2048, int_bits=1024), "signed/verified",
         "weak-key", "a 1024-bit RSA intermediate: verified, weak"),
]:
    cert, key, extra = weak_signer(name, **kw)
    der = sign_with(cert, key, extra, TEXT)
    put(name, detached(AL, name.encode(), TEXT, None, sig=der), status, reasons, note,
        "attack" if status != "signed/verified" else "-")
cert, key, extra = weak_signer("path-sha1-allowed", key_bits=2048, leaf_md="-sha1")
put("path-sha1-allowed", detached(AL, b"path sha1 allowed", TEXT, None,
                                  sig=sign_with(cert, key, extra, TEXT)),
    "signed/verified", "weak-algorithm", "allow_sha1_signatures=yes: verified, weak")
ROWS[-1] = ROWS[-1].replace("\t-\tsigned/verified", "\tallow_sha1_signatures=yes\tsigned/verified", 1)

with open(os.path.join(DIR, "gate.tsv"), "w") as f:
    f.write("# gen-gate.py: file, settings, status, reasons, note, flags\n")
    for r in ROWS:
        f.write(r + "\n")
print("gen-gate.py: %d messages in %s" % (len(ROWS), OUT))
