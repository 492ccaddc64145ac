#!/usr/bin/env python3
"""gen-policy.py DIR - certificate-policy processing (RFC 5280 6.1) cases

Writes DIR/policy/ (one trust anchor, CA chains, signed messages) and
DIR/policy.tsv in the cases.tsv format of gen-pki.sh:

    file <TAB> settings <TAB> status <TAB> reasons <TAB> note

Every chain hangs under one trust anchor (policy/root.pem; RFC 5280 takes
no policy information from the anchor) and is built with the openssl
command: `openssl x509 -new` with certificatePolicies (with and without
user notice and CPS qualifiers, critical or not), policyMappings,
policyConstraints (requireExplicitPolicy, inhibitPolicyMapping) and
inhibitAnyPolicy extensions, and self-issued CA certificates (same name,
new key).  Each leaf signs one multipart/signed message (From: the
leaf's address); the intermediates travel in the message.  Rows give the
setting `certificate_policies` (the explicit user-initial-policy-set) or
none (the default: any-policy, RFC 5280 6.1.1).  Every case has a valid
and an invalid variant; an invalid path is `signed/failed` + `untrusted`.

Each row is checked here with two implementations before it is written:
OpenSSL's `openssl verify -policy_check` (with the user set made explicit:
anyPolicy by default) and NSS's libpkix (`vfychain -pp`, its own RFC 5280
policy code).  The script fails when either disagrees with the row.
EC P-256 keys; the commands run two at a time.
"""
import base64
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile

if len(sys.argv) != 2:
    sys.exit("usage: gen-policy.py OUTDIR")
for tool in ("openssl", "vfychain"):
    if shutil.which(tool) is None:
        sys.exit("gen-policy.py: %s not found (vfychain: libnss3-tools)" % tool)
DIR = os.path.abspath(sys.argv[1])
OUT = os.path.join(DIR, "policy")
TSV = os.path.join(DIR, "policy.tsv")
shutil.rmtree(OUT, ignore_errors=True)
os.makedirs(OUT)
TMP = tempfile.mkdtemp(prefix="gen-policy.")
ENV = dict(os.environ, OPENSSL_CONF=os.path.join(TMP, "empty.cnf"))
open(ENV["OPENSSL_CONF"], "w").close()
POOL = concurrent.futures.ThreadPoolExecutor(max_workers=2)

# NIST's test policy OIDs (the arc PKITS uses for the same purpose)
P = {i: "2.16.840.1.101.3.2.1.48.%d" % i for i in range(1, 6)}
P1, P2, P3, P4 = P[1], P[2], P[3], P[4]
ANY = "2.5.29.32.0"
NAMES = {ANY: "anyPolicy"}
NAMES.update({v: "P%d" % k for k, v in P.items()})
ADDR = "alice@example.org"


def run(*args, ok=(0,)):
    r = subprocess.run(args, env=ENV, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if r.returncode not in ok:
        sys.exit("%s: %s" % (" ".join(args), r.stderr.decode()))
    return r


def path(name, ext):
    return os.path.join(OUT, "%s.%s" % (name, ext))


# ------------------------------------------------------------------
# certificates
# ------------------------------------------------------------------
class Cert:
    """one certificate: name, issuer (a Cert or None for the anchor),
    extension text, self-issued flag"""

    def __init__(self, name, parent, ext, ca, self_issued=False):
        self.name, self.parent, self.ext, self.ca = name, parent, ext, ca
        self.self_issued = self_issued
        if self_issued:
            self.subject = parent.subject
        elif ca:
            self.subject = "/O=smimeguard tests/CN=Policy CA %s" % name
        else:
            self.subject = "/O=smimeguard tests/CN=Policy %s/emailAddress=%s" % (
                name, ADDR)

    def chain(self):
        """the certificates between the anchor and this one, nearest first"""
        out, c = [], self.parent
        while c is not None and c.parent is not None:
            out.append(c)
            c = c.parent
        return out


CERTS = {}
SERIAL = [0x5000]


def policies_ext(cp, critical, qualifiers):
    """certificatePolicies lines (and sections) for the extension file"""
    items, sections = [], []
    for i, oid in enumerate(cp):
        if qualifiers:
            sec = "pol%d" % i
            items.append("@" + sec)
            sections.append(
                "[%s]\npolicyIdentifier = %s\nCPS.1 = http://pki.example.org/cps\n"
                "userNotice.1 = @notice%d\n[notice%d]\nexplicitText = \"UTF8:"
                "Test policy %s, for tests only\"\norganization = \"Example Org\"\n"
                "noticeNumbers = 1, 2\n" % (sec, oid, i, i, NAMES.get(oid, oid)))
        else:
            items.append(oid)
    line = "certificatePolicies = %s%s\n" % ("critical, " if critical else "",
                                             ", ".join(items))
    return line, "".join(sections)


def make(name, parent, ca=True, cp=None, crit=False, qual=False, pm=None,
         rep=None, ipm=None, iap=None, si=False):
    """declare a CA (ca=True) or a leaf under parent (a name or None)"""
    lines = []
    if ca:
        lines += ["basicConstraints = critical, CA:true",
                  "keyUsage = critical, keyCertSign, cRLSign"]
    else:
        lines += ["basicConstraints = CA:false",
                  "keyUsage = critical, digitalSignature, nonRepudiation",
                  "extendedKeyUsage = emailProtection",
                  "subjectAltName = email:" + ADDR]
    lines += ["subjectKeyIdentifier = hash", "authorityKeyIdentifier = keyid"]
    extra = ""
    if cp is not None:
        line, extra = policies_ext(cp, crit, qual)
        lines.append(line.rstrip("\n"))
    if pm:
        lines.append("policyMappings = critical, " +
                     ", ".join("%s:%s" % m for m in pm))
    pc = []
    if rep is not None:
        pc.append("requireExplicitPolicy:%d" % rep)
    if ipm is not None:
        pc.append("inhibitPolicyMapping:%d" % ipm)
    if pc:
        lines.append("policyConstraints = critical, " + ", ".join(pc))
    if iap is not None:
        lines.append("inhibitAnyPolicy = critical, %d" % iap)
    ext = "[ext]\n" + "\n".join(lines) + "\n" + extra
    c = Cert(name, CERTS[parent] if parent else None, ext, ca, si)
    desc = []
    if cp is not None:
        desc.append("policies " + ",".join(NAMES.get(o, o) for o in cp) +
                    (" (critical)" if crit else "") +
                    (" with notice+CPS qualifiers" if qual else ""))
    elif parent is not None:
        desc.append("no policies")
    if pm:
        desc.append("maps " + ",".join("%s->%s" % (NAMES[a], NAMES[b])
                                       for a, b in pm))
    if rep is not None:
        desc.append("requireExplicitPolicy=%d" % rep)
    if ipm is not None:
        desc.append("inhibitPolicyMapping=%d" % ipm)
    if iap is not None:
        desc.append("inhibitAnyPolicy=%d" % iap)
    c.desc = ("self-issued " if si else "") + " ".join(desc)
    CERTS[name] = c
    return c


def build(c):
    """key (CAs: their own; leaves share one) and certificate"""
    if c.ca:
        key = path(c.name, "key")
        run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-pkeyopt", "ec_param_enc:named_curve",
            "-out", key)
        run("openssl", "pkey", "-in", key, "-pubout", "-out", path(c.name, "pub"))
        c.key = key
    else:
        c.key = LEAF_KEY
    extfile = os.path.join(TMP, c.name + ".cnf")
    with open(extfile, "w") as f:
        f.write(c.ext)
    SERIAL[0] += 1
    args = ["openssl", "x509", "-new", "-subj", c.subject, "-days", "3650",
            "-set_serial", str(SERIAL[0]), "-extfile", extfile,
            "-extensions", "ext", "-out", path(c.name, "pem")]
    if c.parent is None:
        args += ["-key", c.key]
    else:
        args += ["-force_pubkey", path(c.name, "pub") if c.ca else LEAF_PUB,
                 "-CA", path(c.parent.name, "pem"), "-CAkey", c.parent.key]
    run(*args)


# ------------------------------------------------------------------
# the cases
# ------------------------------------------------------------------
ROWS = []   # (leaf, user set or None, expect_ok, note)


def row(leaf, user, ok, note):
    ROWS.append((leaf, user, ok, note))


make("root", None, cp=None)

# -- certificatePolicies (6.1.3 (d), (e)) ---------------------------------
make("cp1", "root", cp=[P1])
make("cp1-p1", "cp1", ca=False, cp=[P1])
row("cp1-p1", None, True, "P1 on the whole path, no policy constraints")
row("cp1-p1", [P1], True, "user set {P1}")
row("cp1-p1", [P2, P1], True, "user set {P2, P1}")
row("cp1-p1", [P2], False, "user set {P2}, the path has only P1")

make("none", "root")
make("none-none", "none", ca=False)
row("none-none", None, True, "no policies anywhere, nothing requires one")
row("none-none", [P1], False, "no policies anywhere, user set {P1}")

make("rep0", "root", cp=[P1], rep=0)
make("rep0-p1", "rep0", ca=False, cp=[P1])
make("rep0-p2", "rep0", ca=False, cp=[P2])
make("rep0-none", "rep0", ca=False)
make("rep0-any", "rep0", ca=False, cp=[ANY])
row("rep0-p1", None, True, "CA requires an explicit policy, leaf P1 (was "
    "'no explicit policy' before issue 12)")
row("rep0-p1", [P2], False, "as above, user set {P2}")
row("rep0-p2", None, False, "CA P1 requires an explicit policy, leaf P2")
row("rep0-none", None, False, "CA requires an explicit policy, leaf has none")
row("rep0-any", None, True, "leaf asserts anyPolicy under P1")
row("rep0-any", [P1], True, "leaf anyPolicy, user set {P1}")
row("rep0-any", [P2], False, "leaf anyPolicy, user set {P2}")

make("ovl", "root", cp=[P1, P2], rep=0)
make("ovl-p2p3", "ovl", ca=False, cp=[P2, P3])
make("ovl-p3p4", "ovl", ca=False, cp=[P3, P4])
row("ovl-p2p3", None, True, "overlapping sets {P1,P2} and {P2,P3}")
row("ovl-p2p3", [P2], True, "overlapping sets, user set {P2}")
row("ovl-p2p3", [P1], False, "overlapping sets, user set {P1} (not in the leaf)")
row("ovl-p2p3", [P3], False, "overlapping sets, user set {P3} (not in the CA)")
row("ovl-p3p4", None, False, "disjoint sets {P1,P2} and {P3,P4}")

make("qual", "root", cp=[P1, P3], qual=True, rep=0)
make("qual-p1", "qual", ca=False, cp=[P1], crit=True, qual=True)
make("qual-p2", "qual", ca=False, cp=[P2], crit=True, qual=True)
row("qual-p1", None, True, "user notice and CPS qualifiers, critical in the leaf")
row("qual-p1", [P1], True, "qualifiers, user set {P1}")
row("qual-p2", None, False, "qualifiers, leaf policy P2 not in the CA's")

make("anyca", "root", cp=[ANY], rep=0)
make("anyca-p1", "anyca", ca=False, cp=[P1])
make("anyca-none", "anyca", ca=False)
row("anyca-p1", None, True, "CA asserts anyPolicy, leaf P1")
row("anyca-p1", [P1], True, "CA anyPolicy, leaf P1, user set {P1}")
row("anyca-p1", [P3], False, "CA anyPolicy, leaf P1, user set {P3}")
row("anyca-none", None, False, "CA anyPolicy and requireExplicitPolicy, leaf none")

# -- requireExplicitPolicy at several depths (6.1.4 (h) (i), 6.1.5 (a) (b)) --
# after certificate i with requireExplicitPolicy=k, a policy is needed
# when k is at most the number of certificates that follow (not counting
# self-issued CAs); below, the leaf has no policy and k moves across that
# boundary
make("r1", "root", cp=[P1], rep=1)
make("r1-none", "r1", ca=False)
make("r1-p1", "r1", ca=False, cp=[P1])
row("r1-none", None, False, "requireExplicitPolicy=1 at depth 1, one certificate follows")
row("r1-p1", None, True, "requireExplicitPolicy=1 at depth 1, leaf P1")
make("r2", "root", cp=[P1], rep=2)
make("r2-none", "r2", ca=False)
make("r2-sub", "r2", cp=[P1])
make("r2-sub-none", "r2-sub", ca=False)
make("r2-sub-p1", "r2-sub", ca=False, cp=[P1])
row("r2-none", None, True, "requireExplicitPolicy=2 at depth 1, one certificate follows")
row("r2-sub-none", None, False, "requireExplicitPolicy=2 at depth 1, two certificates follow")
row("r2-sub-p1", None, True, "requireExplicitPolicy=2, two certificates follow, leaf P1")
make("r3", "root", cp=[P1], rep=3)
make("r3-sub", "r3", cp=[P1])
make("r3-sub-none", "r3-sub", ca=False)
make("r3-sub2", "r3-sub", cp=[P1])
make("r3-sub2-none", "r3-sub2", ca=False)
row("r3-sub-none", None, True, "requireExplicitPolicy=3 at depth 1, two certificates follow")
row("r3-sub2-none", None, False, "requireExplicitPolicy=3 at depth 1, three certificates follow")
make("d1", "root", cp=[P1])
make("d2", "d1", cp=[P1], rep=1)
make("d2-none", "d2", ca=False)
make("d2-p1", "d2", ca=False, cp=[P1])
make("d2c", "d1", cp=[P1], rep=2)
make("d2c-none", "d2c", ca=False)
row("d2-none", None, False, "requireExplicitPolicy=1 at depth 2, leaf without policy")
row("d2-p1", None, True, "requireExplicitPolicy=1 at depth 2, leaf P1")
row("d2c-none", None, True, "requireExplicitPolicy=2 at depth 2, one certificate follows")
make("mid", "root", cp=[P1], rep=0)
make("mid-nopol", "mid", cp=None)
make("mid-nopol-p1", "mid-nopol", ca=False, cp=[P1])
make("mid-p1", "mid", cp=[P1])
make("mid-p1-p1", "mid-p1", ca=False, cp=[P1])
row("mid-nopol-p1", None, False, "requireExplicitPolicy=0, a CA in the middle has no policies")
row("mid-p1-p1", None, True, "requireExplicitPolicy=0, P1 on every certificate")
make("ee-rep", "cp1", ca=False, cp=[P1], rep=0)
make("ee-rep-none", "cp1", ca=False, rep=0)
row("ee-rep", None, True, "requireExplicitPolicy=0 in the leaf, leaf P1")
row("ee-rep-none", None, False, "requireExplicitPolicy=0 in the leaf, leaf without policy")
# self-issued CAs do not count (6.1.4 (h))
make("s2", "root", cp=[P1], rep=2)
make("s2-si", "s2", cp=[P1], si=True)
make("s2-si-none", "s2-si", ca=False)
make("s1", "root", cp=[P1], rep=1)
make("s1-si", "s1", cp=[P1], si=True)
make("s1-si-none", "s1-si", ca=False)
row("s2-si-none", None, True, "requireExplicitPolicy=2, a self-issued CA (not counted) "
    "and a leaf without policy (compare r2-sub-none)")
row("s1-si-none", None, False, "requireExplicitPolicy=1, a self-issued CA, leaf without policy")

# -- policyMappings (6.1.4 (a) (b)) ---------------------------------------
make("map", "root", cp=[P1], pm=[(P1, P2)], rep=0)
make("map-p2", "map", ca=False, cp=[P2])
make("map-p1", "map", ca=False, cp=[P1])
make("map-sub", "map", cp=[P2])
make("map-sub-p2", "map-sub", ca=False, cp=[P2])
make("map-sub-p1", "map-sub", ca=False, cp=[P1])
row("map-p2", None, True, "1-to-1 mapping P1->P2, leaf P2")
row("map-p2", [P1], True, "mapping P1->P2, leaf P2, user set {P1} (the anchor's domain)")
row("map-p2", [P2], False, "mapping P1->P2, leaf P2, user set {P2} (the subject's domain)")
row("map-p1", None, False, "mapping P1->P2, leaf still asserts P1")
row("map-sub-p2", None, True, "mapping P1->P2, a CA and a leaf with P2")
row("map-sub-p1", None, False, "mapping P1->P2, a CA with P2, leaf P1")
make("m1n", "root", cp=[P1], pm=[(P1, P2), (P1, P3)], rep=0)
make("m1n-p3", "m1n", ca=False, cp=[P3])
make("m1n-p4", "m1n", ca=False, cp=[P4])
row("m1n-p3", None, True, "1-to-many mapping P1->P2,P3, leaf P3")
row("m1n-p3", [P1], True, "1-to-many mapping, leaf P3, user set {P1}")
row("m1n-p4", None, False, "1-to-many mapping P1->P2,P3, leaf P4")
make("anymap", "root", cp=[ANY], pm=[(P1, P2)], rep=0)
make("anymap-p2", "anymap", ca=False, cp=[P2])
make("anymap-p3", "anymap", ca=False, cp=[P3])
row("anymap-p2", None, True, "CA anyPolicy maps P1->P2, leaf P2")
row("anymap-p2", [P1], True, "CA anyPolicy maps P1->P2, leaf P2, user set {P1}")
row("anymap-p3", [P1], False, "CA anyPolicy maps P1->P2, leaf P3, user set {P1}")
# a mapping from or to anyPolicy makes the path invalid (6.1.4 (a))
make("map2any", "root", cp=[P1], pm=[(P1, ANY)])
make("map2any-p1", "map2any", ca=False, cp=[P1])
make("mapfromany", "root", cp=[P1], pm=[(ANY, P2)])
make("mapfromany-p2", "mapfromany", ca=False, cp=[P2])
row("map2any-p1", None, False, "a mapping P1->anyPolicy (no constraint needed to fail)")
row("mapfromany-p2", None, False, "a mapping anyPolicy->P2")
# inhibitPolicyMapping (6.1.4 (b) (2), (h), (i))
make("ipm0", "root", cp=[P1], ipm=0, rep=0)
make("ipm0-map", "ipm0", cp=[P1], pm=[(P1, P2)])
make("ipm0-map-p2", "ipm0-map", ca=False, cp=[P2])
make("ipm1", "root", cp=[P1], ipm=1, rep=0)
make("ipm1-map", "ipm1", cp=[P1], pm=[(P1, P2)])
make("ipm1-map-p2", "ipm1-map", ca=False, cp=[P2])
make("ipm1-mid", "ipm1", cp=[P1])
make("ipm1-mid-map", "ipm1-mid", cp=[P1], pm=[(P1, P2)])
make("ipm1-mid-map-p2", "ipm1-mid-map", ca=False, cp=[P2])
make("ipm1-si", "ipm1", cp=[P1], si=True)
make("ipm1-si-map", "ipm1-si", cp=[P1], pm=[(P1, P2)])
make("ipm1-si-map-p2", "ipm1-si-map", ca=False, cp=[P2])
row("ipm0-map-p2", None, False, "inhibitPolicyMapping=0, the next CA maps P1->P2")
row("ipm1-map-p2", None, True, "inhibitPolicyMapping=1, the next CA maps P1->P2")
row("ipm1-mid-map-p2", None, False, "inhibitPolicyMapping=1, the CA after next maps P1->P2")
row("ipm1-si-map-p2", None, True, "inhibitPolicyMapping=1, a self-issued CA (not "
    "counted), then a CA maps P1->P2")

# -- inhibitAnyPolicy (6.1.3 (d) (2), 6.1.4 (h) (j)) ----------------------
make("iap0", "root", cp=[P1], iap=0, rep=0)
make("iap0-any", "iap0", ca=False, cp=[ANY])
make("iap0-p1", "iap0", ca=False, cp=[P1])
make("iap0-anysub", "iap0", cp=[ANY])
make("iap0-anysub-p1", "iap0-anysub", ca=False, cp=[P1])
make("iap0-si", "iap0", cp=[ANY], si=True)
make("iap0-si-p1", "iap0-si", ca=False, cp=[P1])
row("iap0-any", None, False, "inhibitAnyPolicy=0, leaf asserts only anyPolicy")
row("iap0-p1", None, True, "inhibitAnyPolicy=0, leaf P1")
row("iap0-anysub-p1", None, False, "inhibitAnyPolicy=0, next CA asserts only anyPolicy")
row("iap0-si-p1", None, True, "inhibitAnyPolicy=0, a self-issued CA with anyPolicy "
    "(honoured for self-issued CAs)")
make("iap1", "root", cp=[P1], iap=1, rep=0)
make("iap1-anysub", "iap1", cp=[ANY])
make("iap1-anysub-p1", "iap1-anysub", ca=False, cp=[P1])
make("iap1-anysub-any", "iap1-anysub", ca=False, cp=[ANY])
make("iap1-si", "iap1", cp=[P1], si=True)
make("iap1-si-anysub", "iap1-si", cp=[ANY])
make("iap1-si-anysub-p1", "iap1-si-anysub", ca=False, cp=[P1])
make("iap1-raise", "iap1", cp=[P1], iap=5)
make("iap1-raise-anysub", "iap1-raise", cp=[ANY])
make("iap1-raise-anysub-p1", "iap1-raise-anysub", ca=False, cp=[P1])
row("iap1-anysub-p1", None, True, "inhibitAnyPolicy=1, next CA anyPolicy, leaf P1")
row("iap1-anysub-p1", [P1], True, "inhibitAnyPolicy=1, next CA anyPolicy, user set {P1}")
row("iap1-anysub-any", None, False, "inhibitAnyPolicy=1, next CA and leaf anyPolicy")
row("iap1-si-anysub-p1", None, True, "inhibitAnyPolicy=1, a self-issued CA (not "
    "counted), then a CA with anyPolicy")
row("iap1-raise-anysub-p1", None, False, "inhibitAnyPolicy=1, the next CA tries 5 "
    "(cannot raise it), then a CA with anyPolicy")

# ------------------------------------------------------------------
# build: keys and certificates level by level, two at a time
# ------------------------------------------------------------------
LEAF_KEY = path("leaf", "key")
LEAF_PUB = path("leaf", "pub")
run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
    "ec_paramgen_curve:P-256", "-pkeyopt", "ec_param_enc:named_curve",
    "-out", LEAF_KEY)
run("openssl", "pkey", "-in", LEAF_KEY, "-pubout", "-out", LEAF_PUB)


def depth(c):
    n = 0
    while c.parent is not None:
        c, n = c.parent, n + 1
    return n


for lvl in range(max(depth(c) for c in CERTS.values()) + 1):
    list(POOL.map(build, [c for c in CERTS.values() if depth(c) == lvl]))
os.rename(path("root", "pem"), os.path.join(OUT, "root.pem"))
CERTS["root"].pem = os.path.join(OUT, "root.pem")
for c in CERTS.values():
    if c.name != "root":
        c.pem = path(c.name, "pem")
for c in CERTS.values():
    for f in ("pub",):
        if os.path.exists(path(c.name, f)):
            os.unlink(path(c.name, f))

# ------------------------------------------------------------------
# messages: each leaf signs one multipart/signed message
# ------------------------------------------------------------------
ENTITY = (b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
          b"Certificate policy test.\r\n")


def message(leaf):
    c = CERTS[leaf]
    body = os.path.join(TMP, leaf + ".body")
    with open(body, "wb") as f:
        f.write(ENTITY)
    chain = os.path.join(OUT, leaf + ".chain.pem")
    with open(chain, "wb") as f:
        for ca in c.chain():
            with open(ca.pem, "rb") as g:
                f.write(g.read())
    args = ["openssl", "cms", "-sign", "-binary", "-md", "sha256",
            "-signer", c.pem, "-inkey", LEAF_KEY, "-in", body, "-outform", "DER"]
    if c.chain():
        args += ["-certfile", chain]
    der = run(*args).stdout
    sig = base64.encodebytes(der).replace(b"\n", b"\r\n")
    bd = b"sg-policy-" + leaf.encode()
    msg = (b"From: <" + ADDR.encode() + b">\r\nTo: bob@example.org\r\n"
           b"Subject: policy case " + leaf.encode() + b"\r\n"
           b"Date: Mon, 30 Nov 2026 10:00:00 +0000\r\n"
           b"Message-ID: <" + leaf.encode() + b"@policy.example>\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/signed; "
           b"protocol=\"application/pkcs7-signature\"; micalg=sha-256; "
           b"boundary=\"" + bd + b"\"\r\n\r\n--" + bd + b"\r\n" + ENTITY +
           b"\r\n--" + bd + b"\r\nContent-Type: application/pkcs7-signature; "
           b"name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
           sig + b"\r\n--" + bd + b"--\r\n")
    with open(os.path.join(OUT, leaf + ".eml"), "wb") as f:
        f.write(msg)


LEAVES = sorted({r[0] for r in ROWS})
list(POOL.map(message, LEAVES))

# ------------------------------------------------------------------
# self-checks: OpenSSL and NSS libpkix must agree with every row
# ------------------------------------------------------------------
ROOT = CERTS["root"].pem


def check(r):
    leaf, user, ok, note = r
    c = CERTS[leaf]
    chain = os.path.join(OUT, leaf + ".chain.pem")
    args = ["openssl", "verify", "-purpose", "smimesign", "-policy_check",
            "-CAfile", ROOT]
    if user is None:
        args += ["-policy", ANY]
    else:
        args.append("-explicit_policy")
        for oid in user:
            args += ["-policy", oid]
    if c.chain():
        args += ["-untrusted", chain]
    got_ossl = run(*(args + [c.pem]), ok=(0, 2)).returncode == 0
    args = ["vfychain", "-pp", "-u", "4"]
    for oid in user or []:
        args += ["-o", "OID." + oid]
    args += ["-a", c.pem]
    for ca in c.chain():
        args += ["-a", ca.pem]
    args += ["-t", "-a", ROOT]
    got_nss = run(*args, ok=(0, 1)).returncode == 0
    return got_ossl, got_nss


BAD = []
for r, (got_ossl, got_nss) in zip(ROWS, POOL.map(check, ROWS)):
    for impl, got in (("openssl verify", got_ossl), ("NSS vfychain", got_nss)):
        if got != r[2]:
            BAD.append("  WRONG %-22s %s: %s, expected %s (%s)" % (
                r[0], impl, "valid" if got else "invalid",
                "valid" if r[2] else "invalid", r[3]))

with open(TSV, "w") as f:
    for leaf, user, ok, note in ROWS:
        c = CERTS[leaf]
        settings = "trust_anchors=policy/root.pem revocation_check=none"
        if user is not None:
            settings += " certificate_policies=" + ",".join(user)
        path_desc = " / ".join(x.desc for x in reversed([c] + c.chain()))
        f.write("\t".join([
            "policy/%s.eml" % leaf, settings,
            "signed/verified" if ok else "signed/failed",
            "-" if ok else "untrusted",
            "%s [%s]" % (note, path_desc)]) + "\n")
shutil.rmtree(TMP)
n_ok = sum(1 for r in ROWS if r[2])
print("gen-policy: %s\n  %d certificates, %d messages, %d rows in policy.tsv "
      "(%d valid, %d invalid)\n  self-checks (openssl verify, NSS vfychain): %d, "
      "unexpected: %d" % (OUT, len(CERTS), len(LEAVES), len(ROWS), n_ok,
                          len(ROWS) - n_ok, 2 * len(ROWS), len(BAD)))
if BAD:
    print("\n".join(BAD))
    sys.exit(1)
