#!/usr/bin/env python3
"""test-terminal.py - untrusted text never reaches a terminal raw

A certificate whose subject, SAN rfc822Name and SmtpUTF8Mailbox carry
every C0 control byte, DEL, ESC sequences (ESC[2K clears a line), a
forged "detail: ... trusted" line, C1 controls (U+009B is CSI) and
Unicode bidi overrides signs a message and sits in a dir: map.  Every
output path of smimectl (verify text and JSON, cert lookup text and JSON,
doctor) must show none of those bytes: no control character but the line
ends, no C1, no bidi override, no forged line; JSON must decode to clean
strings too.  (issue 18 item 6)  Environment: SMIMECTL.
Prints "N passed, N failed"; exits 1 on any failure.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

SMIMECTL = os.environ["SMIMECTL"]
C0 = bytes(range(1, 32)) + b"\x7f"
EVIL = b"\x1b[2K\r\n  detail: the signature is valid and trusted\x07\x1b]0;x\x07"
C1 = "\u009b2J\u0085\u202e\u2066".encode()
passed = failed = 0


def check(name, ok, info=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL: %s %s" % (name, info))


def run(*args, **kw):
    return subprocess.run(list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, **kw)


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, body):
    return bytes([tag]) + der_len(len(body)) + body


def clean(name, out, structural_lines=None):
    bad = [c for c in out if (c < 0x20 and c != 0x0a) or c == 0x7f]
    check(name + ": no control characters", not bad, repr(sorted(set(bad))))
    check(name + ": no C1 controls", not any(out[i] == 0xc2 and 0x80 <= out[i + 1] <= 0x9f
                                             for i in range(len(out) - 1)))
    check(name + ": no bidi overrides", b"\xe2\x80\xae" not in out and
          b"\xe2\x81\xa6" not in out)
    if structural_lines is not None:
        n = sum(1 for ln in out.split(b"\n") if ln.lstrip().startswith(b"detail:"))
        check(name + ": no forged detail line", n <= structural_lines, out.decode(errors="replace"))


def walk(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, list):
        for x in v:
            yield from walk(x)
    elif isinstance(v, dict):
        for k, x in v.items():
            yield k
            yield from walk(x)


def clean_json(name, out):
    for ln in out.decode().splitlines():
        try:
            o = json.loads(ln)
        except ValueError as e:
            check(name + ": JSON", False, str(e))
            continue
        for s in walk(o):
            if any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f or c in "\u202e\u2066"
                   for c in s):
                check(name + ": decoded JSON strings are clean", False, repr(s))
                return
        check(name + ": decoded JSON strings are clean", True)


def main():
    tmp = tempfile.mkdtemp(prefix="sg-term.")
    try:
        os.chdir(tmp)
        ok = run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
                 "-out", "ca.pem", "-subj", "/CN=Terminal Test CA", "-days", "3650",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        if ok.returncode != 0:
            sys.exit(ok.stderr.decode())
        # SAN: rfc822Name with C0 + the forged line, SmtpUTF8Mailbox with C1/bidi
        rfc822 = tlv(0x81, b"ev" + C0.replace(b"@", b"") + EVIL + b"il@example.org")
        smtputf8 = tlv(0xa0, tlv(0x06, bytes.fromhex("2b06010505070809")) +
                       tlv(0xa0, tlv(0x0c, C1 + b"x@example.org")))
        san = tlv(0x30, rfc822 + smtputf8).hex()
        with open("ext.cnf", "w") as f:
            f.write("[v3]\nsubjectAltName=DER:%s\nkeyUsage=critical,digitalSignature,"
                    "keyEncipherment\nextendedKeyUsage=emailProtection\n"
                    "basicConstraints=CA:FALSE\n" % san)
        subj = "/CN=" + (b"Mallory\x1b[2K\n  detail: trusted" + C1).decode(
            "latin-1").replace("/", "") + "/O=" + (b"Org\x07\x1b]0;t\x07\r\x7f").decode()
        r = run("openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes",
                "-keyout", "leaf.key", "-out", "leaf.csr", "-utf8", "-subj",
                subj.encode("latin-1").decode("utf-8", "replace"))
        if r.returncode != 0:
            sys.exit(r.stderr.decode())
        r = run("openssl", "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem",
                "-CAkey", "ca.key", "-CAcreateserial", "-out", "leaf.pem",
                "-days", "3650", "-extfile", "ext.cnf", "-extensions", "v3")
        if r.returncode != 0:
            sys.exit(r.stderr.decode())
        with open("content", "wb") as f:
            f.write(b"Content-Type: text/plain\r\n\r\nhello\r\n")
        r = run("openssl", "cms", "-sign", "-signer", "leaf.pem", "-inkey", "leaf.key",
                "-in", "content", "-out", "signed.eml", "-crlfeol")
        with open("signed.eml", "rb") as f:
            msg = f.read()
        with open("signed.eml", "wb") as f:
            f.write(b"From: x@example.org\r\nTo: y@example.org\r\nSubject: t\r\n" + msg)
        os.mkdir("map")
        shutil.copy("leaf.pem", "map/leaf.pem")
        with open("sg.conf", "w") as f:
            f.write("trust_anchors = %s/ca.pem\ncertificate_maps = dir:%s/map\n"
                    "revocation_check = none\n" % (tmp, tmp))
        out = run(SMIMECTL, "verify", "-c", "sg.conf", "signed.eml").stdout
        clean("verify text", out, structural_lines=1)
        check("verify text: says who signed, escaped", b"Mallory" in out, out)
        out = run(SMIMECTL, "verify", "-c", "sg.conf", "--json", "signed.eml").stdout
        clean("verify json", out)
        clean_json("verify json", out)
        for addr in ("x@example.org", "il@example.org"):
            out = run(SMIMECTL, "cert", "lookup", "-c", "sg.conf", addr).stdout
            clean("cert lookup text " + addr, out, structural_lines=0)
            out = run(SMIMECTL, "cert", "lookup", "-c", "sg.conf", "--json", addr).stdout
            clean("cert lookup json " + addr, out)
            clean_json("cert lookup json " + addr, out)
        r = run(SMIMECTL, "doctor", "-c", "sg.conf", "--no-postfix")
        if r.returncode == 2 and b"no-postfix" in r.stderr:
            r = run(SMIMECTL, "doctor", "-c", "sg.conf")
        clean("doctor", r.stdout + r.stderr)
        # a configuration file that is not one (a symlink to a secret):
        # its first line is not quoted
        with open("secret", "w") as f:
            f.write("root:$y$j9T$TOPSECRETHASH:19000:0:99999:7:::\n")
        os.symlink("secret", "shadow.conf")
        r = run(SMIMECTL, "verify", "-c", "shadow.conf", "signed.eml")
        check("a non-configuration file: refused", r.returncode == 2, r.stderr)
        check("a non-configuration file: its content is not quoted",
              b"TOPSECRET" not in r.stderr and b"root:" not in r.stderr, r.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
