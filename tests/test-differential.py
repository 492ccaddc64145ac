#!/usr/bin/env python3
"""test-differential.py - the verifier against Python's email, message by message

For every message of the generated test data (cases, interop, gate) that
smimectl judges signed/verified, Python's email package - a second,
independent reader of the same bytes, under both its compat32 and its
default policy - must see the same thing:

  * exactly one From field holding exactly one address, the one smimectl
    bound (the signer shown to the user);
  * for multipart/signed: exactly two parts, no structural defect, and the
    signature (part 2) verifies with `openssl cms` over part 1 exactly as
    Python splits it - so what a client shows is what was signed;
  * for encrypted verdicts: the root (or part 1 under a signature) is
    application/pkcs7-mime and nothing else in the message is text.

Any disagreement is a failure: the verifier must have judged the message
malformed (issue 10, DESIGN.md 3.11).  Environment: SMIMECTL, SG_TESTDATA.
Prints "N passed, N failed"; exits 1 on any failure.
"""
import base64
import email
import email.policy
import email.utils
import json
import os
import subprocess
import sys
import tempfile

SMIMECTL = os.environ["SMIMECTL"]
D = os.environ["SG_TESTDATA"]
AT = "2026-12-01T00:00:00Z"


def rows():
    for tsv in ("cases.tsv", "interop.tsv", "gate.tsv"):
        path = os.path.join(D, tsv)
        if not os.path.exists(path):
            sys.exit("missing %s (run gen-pki.sh, gen-interop.sh, gen-gate.py)" % path)
        with open(path) as f:
            for ln in f:
                if ln.startswith("#") or not ln.strip():
                    continue
                fields = ln.rstrip("\n").split("\t")
                if fields[1] == "-":        # default settings only
                    yield os.path.join(D, fields[0])


def verdicts(paths):
    p = subprocess.run([SMIMECTL, "verify", "--json", "--trust", os.path.join(D, "trust"),
                        "--crl", os.path.join(D, "crl"), "--intermediates",
                        os.path.join(D, "intermediates")] + paths,
                       stdout=subprocess.PIPE)
    if p.returncode not in (0, 1):
        sys.exit("smimectl verify failed (%d)" % p.returncode)
    return [json.loads(ln) for ln in p.stdout.decode().splitlines()]


def py_from(msg):
    froms = msg.get_all("From") or []
    if len(froms) != 1:
        return None
    addrs = email.utils.getaddresses([str(froms[0])])
    if len(addrs) != 1 or not addrs[0][1]:
        return None
    return addrs[0][1].lower()


def sig_over(content, sig_part):
    der = sig_part.get_payload(decode=True)
    with tempfile.NamedTemporaryFile() as c:
        c.write(content)
        c.flush()
        r = subprocess.run(["openssl", "cms", "-verify", "-binary", "-noverify",
                            "-inform", "DER", "-content", c.name, "-out", "/dev/null"],
                           input=der, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return r.returncode == 0


def part1_bytes(raw, boundary):
    """part 1 as whole-line readers (Python, Thunderbird) delimit it"""
    lines = raw.replace(b"\r\n", b"\n").split(b"\n")
    delim = b"--" + boundary.encode()
    starts = [i for i, ln in enumerate(lines) if ln.rstrip(b" \t") in (delim, delim + b"--")]
    if len(starts) < 3:
        return None
    return b"\r\n".join(lines[starts[0] + 1:starts[1]])


def check(path, v):
    """problems Python sees in a message smimectl calls verified"""
    raw = open(path, "rb").read()
    out = []
    for pol in (email.policy.compat32, email.policy.default):
        msg = email.message_from_bytes(raw, policy=pol)
        name = "compat32" if pol is email.policy.compat32 else "default"
        if msg.defects:
            out.append("%s: defects %s" % (name, msg.defects))
        frm = py_from(msg)
        bound = [s["email"].lower() for s in v["signers"] if s["email"]]
        if frm is None or frm not in bound:
            out.append("%s: From %r, signers %r" % (name, frm, bound))
        if msg.get_content_type() == "multipart/signed":
            parts = msg.get_payload()
            if not isinstance(parts, list) or len(parts) != 2:
                out.append("%s: %s parts" % (name, len(parts) if isinstance(parts, list) else 0))
                continue
            for p in msg.walk():
                if p.defects:
                    out.append("%s: part defects %s" % (name, p.defects))
            content = part1_bytes(raw, msg.get_boundary())
            if content is None or not sig_over(content, parts[1]):
                out.append("%s: the signature does not cover Python's part 1" % name)
    return out


def main():
    paths = sorted(set(rows()))
    passed = failed = 0
    for path, v in zip(paths, verdicts(paths)):
        if v["status"] != "signed/verified":
            continue
        problems = check(path, v)
        if problems:
            failed += 1
            print("FAIL: %s is verified, but Python reads it otherwise:" % os.path.relpath(path, D))
            for p in problems:
                print("  | " + p)
        else:
            passed += 1
    print("%d passed, %d failed" % (passed, failed))
    if passed < 20:
        print("too few verified messages: the test data is incomplete")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
