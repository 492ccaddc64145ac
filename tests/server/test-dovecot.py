#!/usr/bin/env python3
"""test-dovecot.py - the Dovecot plugins against real servers.

Starts a sandbox (scripts/sandbox up --dir TMPDIR: private Postfix and
Dovecot with the smime plugins, demo PKI and messages), drives it over
SMTP, LMTP, IMAP and doveadm, and stops it again (always).  Python 3
standard library only; run as root.

Environment:
  SG_BUILD      configured and built smimeguard tree (plugins in
                dovecot-plugin/.libs, smimectl in tools/); passed to the
                sandbox.  tools/smimectl, when built, is the oracle for the
                expected keywords of every message.
  SG_KEEP=1     keep the sandbox directory (it is kept anyway on failure).
  SG_STRESS_N   number of messages in the stress test (default 10000).
  SANDBOX_MAIL_FORMAT (maildir, sdbox, mdbox) and the other sandbox
                variables are passed through to scripts/sandbox.
                SANDBOX_ACL defaults to 1 here (ACLs and a shared
                namespace); with SANDBOX_ACL=0 the shared-folder tests
                are skipped.  Tests that put maildir files in place are
                skipped on sdbox and mdbox.

Arguments: substrings of test names to run (default: all).

Prints "N passed, N failed" (test methods) as its last line; exits 1 on
any failure.  A test skipped as not applicable (mail format, no ACLs)
counts as neither; their number is printed on the line before.
"""

import base64
import calendar
import hashlib
import imaplib
import json
import os
import random
import re
import shutil
import smtplib
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
import sgserver                     # noqa: E402 (tests/server/sgserver.py)
from sgserver import TOP, crlf, header_names    # noqa: E402

S, V, F, E, W = ("$SMIMESigned", "$SMIMEVerified", "$SMIMEFailed",
                 "$SMIMEEncrypted", "$SMIMEWeak")
SMIME_KW = {S, V, F, E, W}

# The contract for the named messages (DESIGN.md section 2).
EXPECTED = {
    "alice-detached.eml": {S, V},
    "alice-detached-tampered.eml": {S, F},
    "from-mallory.eml": {S, F},
    "partial-footer.eml": {S},
    "encrypted-aes256gcm.eml": {E},
    "encrypted-aes256cbc.eml": {E, W},
    "plain.eml": set(),
    "malformed.eml": {S, F},      # made by the test: broken signature
}

for _c in ("MOVE", "GETMETADATA", "SETMETADATA"):
    imaplib.Commands.setdefault(_c, ("AUTH", "SELECTED"))


# ---------------------------------------------------------------------------
# helpers

def sha(b):
    return hashlib.sha256(b).hexdigest()


class Q(str):
    """An IMAP quoted string (as opposed to an atom)."""


def _tokens(data):
    """Tokens of an imaplib response list: '(' ')' atoms (str), quoted
    strings (Q), NIL (None), literals (bytes)."""
    segs = []
    for d in data:
        if d is None:
            continue
        if isinstance(d, tuple):
            segs.append((False, d[0]))
            segs.append((True, d[1]))
        else:
            segs.append((False, d))
    out = []
    for is_lit, seg in segs:
        if is_lit:
            out.append(seg)
            continue
        s = seg.decode("utf-8", "replace")
        i = 0
        while i < len(s):
            c = s[i]
            if c in " \r\n":
                i += 1
            elif c in "()":
                out.append(c)
                i += 1
            elif c == '"':
                j = i + 1
                val = []
                while s[j] != '"':
                    if s[j] == "\\":
                        j += 1
                    val.append(s[j])
                    j += 1
                out.append(Q("".join(val)))
                i = j + 1
            elif c == "{" and re.match(r"\{\d+\}$", s[i:].strip()):
                i = len(s)          # the literal follows as its own segment
            else:
                j = i
                depth = 0
                while j < len(s):
                    if s[j] == "[":
                        depth += 1
                    elif s[j] == "]":
                        depth -= 1
                    elif depth == 0 and s[j] in " ()":
                        break
                    j += 1
                a = s[i:j]
                out.append(None if a.upper() == "NIL" else a)
                i = j
    return out


def _parse(tokens, i):
    if tokens[i] == "(":
        lst = []
        i += 1
        while tokens[i] != ")":
            v, i = _parse(tokens, i)
            lst.append(v)
        return lst, i + 1
    return tokens[i], i + 1


def parse_fetch(data):
    """imaplib FETCH data -> {uid: {ITEM: value}} (needs UID in the items)."""
    toks = _tokens(data)
    res = {}
    i = 0
    while i < len(toks):
        _seq, i = _parse(toks, i)
        items, i = _parse(toks, i)
        d = {}
        for k in range(0, len(items) - 1, 2):
            d[items[k].upper()] = items[k + 1]
        if "UID" not in d:
            continue        # an unsolicited FETCH (FLAGS ...) from a sync
        res[int(d["UID"])] = d
    return res


def smime_keywords(flags):
    return {f for f in flags if f in SMIME_KW}


def xsmime_dict(v):
    """X-SMIME (STATUS "..." ...) -> dict, or None for NIL."""
    if v is None:
        return None
    return {v[k].upper(): v[k + 1] for k in range(0, len(v) - 1, 2)}


def make_malformed(good):
    """alice-detached.eml with a truncated, broken smime.p7s."""
    mark = b'filename="smime.p7s"\r\n\r\n'
    i = good.index(mark) + len(mark)
    j = good.index(b"\r\n------", i)
    bad = (good[:i] + good[i:i + 66] + b"AAAA!!!!garbage\r\n" + good[j:])
    return bad.replace(b"Message-ID: <", b"Message-ID: <malformed-", 1)


# ---------------------------------------------------------------------------

class ServerTest(sgserver.SandboxTestCase):
    prefix = "smimeguard-server-"
    # ACLs and a shared namespace, as an administrator would have them
    sandbox_defaults = {"SANDBOX_ACL": "1"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.msg_dir = cls.env["MSG_DIR"]
        cls.password = cls.env["IMAP_PASSWORD"]
        cls.domain = cls.env["MAIL_DOMAIN"]
        cls.conf = os.path.join(cls.env["STATE_DIR"], "smimeguard.conf")
        build = os.environ.get("SG_BUILD") or os.path.join(cls.env["STATE_DIR"], "build")
        cls.smimectl = os.path.join(build, "tools", "smimectl")
        if not os.access(cls.smimectl, os.X_OK):
            cls.smimectl = None
            sys.stderr.write("note: no smimectl in %s/tools: only the fixed "
                             "expectations are checked\n" % build)
        cls.extra_dir = os.path.join(cls.tmp, "test-msg")
        os.makedirs(cls.extra_dir, exist_ok=True)
        good = cls.read_msg("alice-detached.eml")
        with open(os.path.join(cls.extra_dir, "malformed.eml"), "wb") as f:
            f.write(make_malformed(good))
        cls._oracle_cache = {}

    # -- messages and expectations ---------------------------------------

    @classmethod
    def msg_path(cls, name):
        p = os.path.join(cls.extra_dir, name)
        return p if os.path.exists(p) else os.path.join(cls.msg_dir, name)

    @classmethod
    def read_msg(cls, name):
        with open(cls.msg_path(name), "rb") as f:
            return f.read()

    @classmethod
    def oracle(cls, paths):
        """smimectl verify --json for PATHS -> {path: json}"""
        todo = [p for p in paths if p not in cls._oracle_cache]
        if todo and cls.smimectl:
            # as the plugin judges mail to the demo user: with the
            # sandbox's smime-keyd (decrypt-to-verify), when it runs
            owner = (["--owner", cls.env["IMAP_USER"]]
                     if cls.env.get("KEYD_SOCKET") else [])
            p = subprocess.run([cls.smimectl, "verify", "--json", "-c", cls.conf]
                               + owner + todo, stdout=subprocess.PIPE, timeout=300)
            if p.returncode not in (0, 1):
                raise RuntimeError("smimectl verify failed (%d)" % p.returncode)
            for path, line in zip(todo, p.stdout.decode().splitlines()):
                cls._oracle_cache[path] = json.loads(line)
        return {p: cls._oracle_cache.get(p) for p in paths}

    def expected(self, name):
        """The $SMIME* keywords a message must get."""
        path = self.msg_path(name)
        o = self.oracle([path])[path]
        if name in EXPECTED:
            if o is not None:
                self.assertEqual(set(o["keywords"]), EXPECTED[name],
                                 "smimectl disagrees with the contract for " + name)
            return EXPECTED[name]
        if o is None:
            self.skipTest("no smimectl oracle for " + name)
        return set(o["keywords"])

    # -- servers ---------------------------------------------------------

    def imap(self, user=None):
        user = user or self.env["IMAP_USER"]
        m = imaplib.IMAP4("127.0.0.1", int(self.env["IMAP_PORT"]))
        m.login(user, self.password)
        self.addCleanup(self._logout, m)
        return m

    @staticmethod
    def _logout(m):
        try:
            m.logout()
        except Exception:
            pass

    def lmtp(self, rcpt, msgs, sender="alice@example.org"):
        c = smtplib.LMTP(self.env["LMTP_SOCKET"])
        try:
            for m in msgs:
                # CRLF on the wire (smtplib sends bytes as they are and
                # would add a CRLF to a message ending in a bare LF)
                refused = c.sendmail(sender, [rcpt], crlf(m))
                self.assertEqual(refused, {}, "LMTP refused " + rcpt)
        finally:
            c.quit()

    def addr(self, user, folder=None):
        return "%s%s@%s" % (user, "+" + folder if folder else "", self.domain)

    def fetch_all(self, m, folder, items="(UID FLAGS)", readonly=True):
        typ, _ = m.select('"%s"' % folder, readonly=readonly)
        self.assertEqual(typ, "OK", "SELECT " + folder)
        typ, data = m.uid("FETCH", "1:*", items)
        self.assertEqual(typ, "OK")
        if data == [None]:
            return {}
        return parse_fetch(data)

    def wait_count(self, user, folder, n, timeout=60):
        deadline = time.time() + timeout
        got = -1
        while time.time() < deadline:
            m = imaplib.IMAP4("127.0.0.1", int(self.env["IMAP_PORT"]))
            try:
                m.login(user, self.password)
                typ, data = m.status('"%s"' % folder, "(MESSAGES)")
                if typ == "OK":
                    got = int(re.search(rb"MESSAGES (\d+)", data[0]).group(1))
                    if got >= n:
                        return got
            finally:
                self._logout(m)
            time.sleep(0.3)
        self.fail("%s/%s: %d of %d messages after %ds" % (user, folder, got, n, timeout))

    def deliver_and_fetch(self, user, folder, names, items="(UID FLAGS X-SMIME)"):
        """LMTP-deliver NAMES to USER+FOLDER; return {name: fetched item dict}."""
        self.lmtp(self.addr(user, folder), [self.read_msg(n) for n in names])
        m = self.imap(self.addr(user))
        got = self.fetch_all(m, folder, items)
        self.assertEqual(len(got), len(names))
        return {n: got[uid] for n, uid in zip(names, sorted(got))}

    def doveadm(self, *args):
        cmd = self.env["DOVEADM"].split() + list(args)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=300)
        self.assertEqual(p.returncode, 0, "%s: %s" % (" ".join(cmd),
                                                      p.stderr.decode(errors="replace")))
        return p.stdout.decode(errors="replace")

    def assert_kw(self, flags, want, what):
        self.assertEqual(smime_keywords(flags), set(want), what)

    # =====================================================================

    def _imap_children(self):
        """pids of this sandbox's imap processes (children of its master)"""
        with open(os.path.join(os.path.dirname(self.env["LMTP_SOCKET"]),
                               "master.pid")) as f:
            master = f.read().strip()
        out = set()
        for p in os.listdir("/proc"):
            try:
                with open("/proc/%s/stat" % p) as f:
                    st = f.read()
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    cmd = f.read().split(b"\0")[0]
            except OSError:
                continue
            if st.rsplit(")", 1)[1].split()[1] == master and \
                    cmd.split(b" ")[0].endswith(b"/imap"):
                out.add(int(p))
        return out

    @staticmethod
    def _maps(pid):
        with open("/proc/%d/maps" % pid) as f:
            return f.read()

    def test_0_core_on_first_need(self):
        """An imap process that only reads and protects keywords does not
        load the core (smime_core.so, OpenSSL): one process per
        connection, and most never verify.  Its first APPEND loads it,
        and verifies as always."""
        self.lmtp(self.addr("bob", "lazy"), [self.read_msg("alice-detached.eml")])
        before = self._imap_children()
        m = self.imap(self.addr("bob"))
        new = self._imap_children() - before
        self.assertEqual(len(new), 1, "cannot tell this connection's imap process")
        pid = new.pop()
        got = self.fetch_all(m, "lazy", "(UID FLAGS X-SMIME)", readonly=False)
        self.assertEqual(len(got), 1)
        uid, item = next(iter(got.items()))
        self.assert_kw(item["FLAGS"], {S, V}, "delivered over LMTP")
        # keyword protection needs no core either
        typ, _ = m.uid("STORE", str(uid), "-FLAGS", "($SMIMEVerified)")
        self.assertEqual(typ, "OK")
        maps = self._maps(pid)
        self.assertNotIn("smime_core.so", maps)
        self.assertNotIn("libcrypto.so", maps)
        self.assert_kw(self.fetch_all(m, "lazy")[uid]["FLAGS"], {S, V},
                       "the STORE must have been ignored")
        typ, data = m.append("lazy", "()", None, self.read_msg("alice-detached-tampered.eml"))
        self.assertEqual(typ, "OK", data)
        maps = self._maps(pid)
        self.assertIn("smime_core.so", maps)
        self.assertIn("libcrypto.so", maps)
        got = self.fetch_all(m, "lazy")
        self.assertEqual(len(got), 2)
        self.assert_kw(got[max(got)]["FLAGS"], {S, F}, "APPENDed tampered mail")

    def test_1_smtp_via_postfix(self):
        """SMTP through Postfix: keywords, and the message bytes unchanged
        (the original ends the stored message; only trace headers precede)."""
        names = ["alice-detached.eml", "alice-detached-tampered.eml",
                 "from-mallory.eml", "partial-footer.eml",
                 "encrypted-aes256cbc.eml", "encrypted-aes256gcm.eml",
                 "plain.eml", "malformed.eml"]
        s = smtplib.SMTP("127.0.0.1", int(self.env["SMTP_PORT"]), timeout=30)
        try:
            for n in names:
                refused = s.sendmail("alice@example.org",
                                     [self.addr("bob", "smtp")], self.read_msg(n))
                self.assertEqual(refused, {})
        finally:
            s.quit()
        self.wait_count(self.addr("bob"), "smtp", len(names))
        m = self.imap()
        got = self.fetch_all(m, "smtp", "(UID FLAGS BODY.PEEK[])")
        stored = {uid: crlf(d["BODY[]"]) for uid, d in got.items()}
        for n in names:
            with self.subTest(msg=n):
                # the message is identified by its bytes: the original,
                # unchanged, must end exactly one stored message
                orig = crlf(self.read_msg(n))
                hits = [u for u, b in stored.items() if b.endswith(orig)]
                self.assertEqual(len(hits), 1, "not found unchanged in the folder")
                b = stored[hits[0]]
                self.assertEqual(sha(b[len(b) - len(orig):]), sha(orig))
                prefix = header_names(b[:len(b) - len(orig)])
                self.assertTrue(set(prefix) <= {b"return-path", b"delivered-to",
                                                b"received"}, prefix)
                self.assert_kw(got[hits[0]]["FLAGS"], self.expected(n), n)
        # the shipped metric example (the sandbox uses it) counts the
        # verdicts by status and reasons (the LMTP processes send their
        # events to the stats process when they get to it: wait a little)
        want = ("smime_verify_signed/verified_-", "smime_verify_signed/failed_bad-signature")
        deadline = time.monotonic() + 20
        while True:
            dump = subprocess.run(self.env["DOVEADM"].split() + ["stats", "dump"],
                                  capture_output=True, text=True).stdout
            counts = {f[0]: int(f[2]) for f in (l.split("\t") for l in dump.splitlines())
                      if len(f) > 2 and f[0].startswith("smime_verify") and f[2].isdigit()}
            if all(counts.get(k, 0) >= 1 for k in want) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        for k in want:
            self.assertGreaterEqual(counts.get(k, 0), 1, "%s: %s" % (k, dump))

    def test_2_lmtp_byte_identity(self):
        """LMTP: every generated message is stored byte for byte (modulo
        CRLF) after the Return-Path/Delivered-To/Received lines, and gets
        the keywords smimectl computes for it."""
        names = sorted(os.listdir(self.msg_dir)) + ["malformed.eml"]
        names = [n for n in names if n.endswith(".eml")]
        self.lmtp(self.addr("bob", "lmtp"), [self.read_msg(n) for n in names])
        m = self.imap()
        got = self.fetch_all(m, "lmtp", "(UID FLAGS BODY.PEEK[])")
        self.assertEqual(len(got), len(names))
        for n, uid in zip(names, sorted(got)):
            with self.subTest(msg=n):
                orig = crlf(self.read_msg(n))
                stored = crlf(got[uid]["BODY[]"])
                self.assertTrue(stored.endswith(orig), "bytes changed")
                self.assertEqual(sha(stored[len(stored) - len(orig):]), sha(orig))
                prefix = header_names(stored[:len(stored) - len(orig)])
                self.assertTrue(set(prefix) <= {b"return-path", b"delivered-to",
                                                b"received"}, prefix)
                if self.smimectl or n in EXPECTED:
                    self.assert_kw(got[uid]["FLAGS"], self.expected(n), n)

    def test_3_append(self):
        """APPEND: keywords from verification; client-supplied $SMIME*
        flags are not kept unless the message really earns them; the
        bytes are stored as sent."""
        m = self.imap()
        self.assertEqual(m.create("append")[0], "OK")
        cases = [   # (message, client flags, must have, must not have)
            ("alice-detached.eml", "()", {S, V}, {F}),
            ("alice-detached-tampered.eml", "()", {S, F}, {V}),
            ("alice-detached-tampered.eml", "(\\Seen $SMIMEVerified)", {S, F, "\\Seen"}, {V}),
            ("plain.eml", "($SMIMEVerified $SMIMESigned $Client)", {"$Client"}, SMIME_KW),
            ("alice-detached.eml", "($SMIMEVerified)", {S, V}, {F}),
            ("alice-detached.eml", "($SMIMEFailed $SMIMEEncrypted)", {S, V}, {F, E}),
        ]
        uids = []
        for n, flags, _, _ in cases:
            typ, data = m.append("append", flags, None, self.read_msg(n))
            self.assertEqual(typ, "OK", data)
            uids.append(int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1)))
        for check in ("same session", "new session"):
            if check == "new session":
                m = self.imap()
            got = self.fetch_all(m, "append", "(UID FLAGS BODY.PEEK[])")
            for (n, flags, must, mustnot), uid in zip(cases, uids):
                with self.subTest(msg=n, flags=flags, check=check):
                    fl = set(got[uid]["FLAGS"])
                    self.assertTrue(must <= fl, "missing %s in %s" % (must - fl, fl))
                    self.assertFalse(mustnot & fl, "unexpected %s" % (mustnot & fl))
                    self.assertEqual(sha(got[uid]["BODY[]"]), sha(crlf(self.read_msg(n))))

    def test_3b_append_huge(self):
        """Issue 10: an APPEND far over max_message_size (300 MB) is stored
        whole, gets the prefix verdict (signed + too-large), and the imap
        process keeps serving: the plugin's copy of the APPEND lives in a
        temp file past 1 MB, and it is read back into the core's stream,
        which keeps only the root header past max_message_size (it used
        to grow a buffer until the process was killed)."""
        good = crlf(self.read_msg("alice-detached.eml"))
        i = good.index(b"\r\n\r\n") + 4
        pad = (b"x" * 998 + b"\r\n") * (300 * 1024 * 1024 // 1000)
        big = good[:i] + pad + good[i:]
        m = self.imap()
        self.assertEqual(m.create("huge")[0], "OK")
        typ, data = m.append("huge", "()", None, big)
        self.assertEqual(typ, "OK", data)
        uid = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
        del big, pad
        typ, _ = m.noop()
        self.assertEqual(typ, "OK", "the imap process did not survive")
        got = self.fetch_all(m, "huge", "(UID FLAGS RFC822.SIZE X-SMIME)")
        self.assertEqual(int(got[uid]["RFC822.SIZE"]),
                         len(good) + 300 * 1024 * 1024 // 1000 * 1000)
        self.assert_kw(got[uid]["FLAGS"], {S}, "huge")
        self.assertIn("too-large", xsmime_dict(got[uid]["X-SMIME"])["REASONS"])
        # and a normal APPEND in the same session still verifies
        typ, data = m.append("huge", "()", None, self.read_msg("alice-detached.eml"))
        self.assertEqual(typ, "OK", data)
        got = self.fetch_all(m, "huge", "(UID FLAGS)")
        self.assert_kw(got[max(got)]["FLAGS"], {S, V}, "after the huge one")

    # -- decrypt-to-verify (issue 15): smime-keyd and the plugin --------

    MARKER = b"SECRET-PLAINTEXT-MARKER-7a1f"    # in every plaintext (gen-keyd.sh)

    def keyd_msg(self, name):
        d = self.env.get("KEYD_MSG_DIR") or ""
        if not self.env.get("KEYD_SOCKET") or not d:
            self.fail("the sandbox runs no smime-keyd (KEYD_SOCKET empty): "
                      "build keyd/ (it needs nothing but the core)")
        with open(os.path.join(d, name), "rb") as f:
            return f.read()

    def keyd_pid(self):
        with open(os.path.join(self.env["STATE_DIR"], "run",
                               "smime-keyd.ident")) as f:
            return int(f.read().split()[0])

    def keyd_restart(self, build):
        """start smime-keyd again as the sandbox does, recorded for down"""
        run = os.path.join(self.env["STATE_DIR"], "run")
        path = os.path.join(self.env["LOG_DIR"], "smime-keyd.log")
        log = open(path, "ab")
        log_at = log.tell()
        p = subprocess.Popen([os.path.join(build, "keyd", "smime-keyd"), "-f",
                              "-c", self.conf], stdin=subprocess.DEVNULL,
                             stdout=log, stderr=log, start_new_session=True)
        log.close()
        # ready once it says so: after the keystore is open and the
        # privileges are dropped, not only once the socket is there
        deadline = time.time() + 30
        while True:
            with open(path, "rb") as f:
                f.seek(log_at)
                if b"listening on" in f.read():
                    break
            self.assertIsNone(p.poll(), "smime-keyd exited at start")
            self.assertLess(time.time(), deadline, "smime-keyd did not start")
            time.sleep(0.1)
        with open("/proc/%d/stat" % p.pid) as f:
            start = f.read().rsplit(")", 1)[1].split()[19]
        with open(os.path.join(run, "smime-keyd.ident"), "w") as f:
            f.write("%d %s\n" % (p.pid, start))

    def test_80_decrypt_to_verify(self):
        """Sign-then-encrypt mail (Outlook's order) to bob, whose key the
        sandbox's smime-keyd holds: delivered by LMTP and appended by
        IMAP, it gets encrypted+signed/verified with $SMIMEEncrypted
        $SMIMESigned $SMIMEVerified; a tampered inner signature
        encrypted+signed/failed; an unsigned inside, or mail encrypted to
        a key keyd does not hold, stays encrypted.  Every stored message
        is byte-identical to what was sent, and the plaintext's marker is
        found nowhere under the sandbox's state directory (mail, index,
        cache, logs)."""
        cases = [("verified.eml", {E, S, V}, "encrypted+signed/verified"),
                 ("tampered.eml", {E, S, F}, "encrypted+signed/failed"),
                 ("innerfrom.eml", {E, S, F}, "encrypted+signed/failed"),
                 ("unsigned.eml", {E}, "encrypted"),
                 ("carol.eml", {E}, "encrypted")]
        folder = "keyd"
        sent = [crlf(self.keyd_msg(n)) for n, _, _ in cases]
        self.lmtp(self.addr("bob", folder), sent)
        m = self.imap(self.addr("bob"))
        # the same through APPEND
        m.create('"keyd-append"')
        for data in sent:
            typ, _ = m.append('"keyd-append"', None, None, data)
            self.assertEqual(typ, "OK")
        for box in (folder, "keyd-append"):
            got = self.fetch_all(m, box, "(UID FLAGS X-SMIME BODY.PEEK[])")
            self.assertEqual(len(got), len(cases), box)
            for (name, kws, status), data, uid in zip(cases, sent, sorted(got)):
                what = "%s in %s" % (name, box)
                self.assert_kw(got[uid]["FLAGS"], kws, what)
                x = xsmime_dict(got[uid]["X-SMIME"])
                self.assertEqual(x["STATUS"], status, what)
                if status.startswith("encrypted+signed"):
                    self.assertEqual(x["SIGNER"], "alice@example.org", what)
                # LMTP puts Return-Path and Delivered-To above it
                body = got[uid]["BODY[]"]
                if box == folder:
                    self.assertTrue(body.endswith(data) and
                                    body[:-len(data)].startswith(b"Return-Path:"),
                                    what + ": not stored byte-identical")
                else:
                    self.assertEqual(body, data, what + ": not stored byte-identical")
                self.assertNotIn(self.MARKER, got[uid]["BODY[]"], what)
        # keyd answered every one of them (its own log line per request)
        with open(os.path.join(self.env["LOG_DIR"], "smime-keyd.log"), "rb") as f:
            keyd_log = f.read()
        self.assertGreaterEqual(keyd_log.count(b"owner=<bob@example.org>"),
                                2 * len(cases))
        # nothing decrypted anywhere under the state directory
        found = []
        for root, _, files in os.walk(self.env["STATE_DIR"]):
            for fn in files:
                path = os.path.join(root, fn)
                if (path.startswith(self.env["KEYD_MSG_DIR"]) or
                        not os.path.isfile(path) or os.path.islink(path)):
                    continue
                try:
                    with open(path, "rb") as f:
                        if self.MARKER in f.read():
                            found.append(path)
                except OSError:
                    pass
        self.assertEqual(found, [], "the plaintext's marker is stored")
        self.assertNotIn(b"mallory", keyd_log)

    def test_81_keyd_down(self):
        """With smime-keyd stopped, encrypted mail is delivered at once and
        keeps the verdict a server without keys gives (encrypted); the
        plugin logs why.  keyd is started again afterwards."""
        build = os.environ.get("SG_BUILD") or os.path.join(
            self.env["STATE_DIR"], "build")
        data = crlf(self.keyd_msg("verified.eml"))
        pid = self.keyd_pid()
        os.kill(pid, 15)
        deadline = time.time() + 30
        while os.path.exists("/proc/%d" % pid) and time.time() < deadline:
            time.sleep(0.05)
        try:
            t0 = time.monotonic()
            self.lmtp(self.addr("bob", "keyd-down"), [data])
            took = time.monotonic() - t0
            m = self.imap(self.addr("bob"))
            got = self.fetch_all(m, "keyd-down", "(UID FLAGS X-SMIME BODY.PEEK[])")
            (uid,) = got
            self.assert_kw(got[uid]["FLAGS"], {E}, "keyd down")
            self.assertEqual(xsmime_dict(got[uid]["X-SMIME"])["STATUS"], "encrypted")
            self.assertTrue(got[uid]["BODY[]"].endswith(data))
            # "not hung": keyd_timeout is 2 s; a loaded 2-core machine
            # gets generous slack, a hang would be far beyond it
            self.assertLess(took, 15, "delivery waited %.1f s" % took)
            self.assertTrue(self._wait_dlog(r"smime-keyd", 0), "no smime-keyd in the log")
        finally:
            self.keyd_restart(build)
        # and back: verified again
        self.lmtp(self.addr("bob", "keyd-back"), [data])
        m = self.imap(self.addr("bob"))
        got = self.fetch_all(m, "keyd-back", "(UID FLAGS)")
        self.assert_kw(list(got.values())[0]["FLAGS"], {E, S, V}, "keyd back")

    def test_82_decrypt_to_verify_off(self):
        """smime_decrypt_to_verify = no (dave, from the userdb) with
        smime_owner_address = bob's address, whose key the running keyd
        holds: sign-then-encrypt mail is stored as a server without keys
        sees it (encrypted, $SMIMEEncrypted only) and keyd is never asked
        (no request in its log).  test_80 is the control: the same message
        for bob, with the setting on, is encrypted+signed/verified."""
        data = crlf(self.keyd_msg("verified.eml"))
        log = os.path.join(self.env["LOG_DIR"], "smime-keyd.log")
        with open(log, "rb") as f:
            before = f.read().count(b" owner=<")
        self.lmtp(self.addr("dave", "keyd-off"), [data])
        m = self.imap(self.addr("dave"))
        m.create('"keyd-off-append"')
        typ, _ = m.append('"keyd-off-append"', None, None, data)
        self.assertEqual(typ, "OK")
        for box in ("keyd-off", "keyd-off-append"):
            got = self.fetch_all(m, box, "(UID FLAGS X-SMIME BODY.PEEK[])")
            (uid,) = got
            self.assert_kw(got[uid]["FLAGS"], {E}, box)
            self.assertEqual(xsmime_dict(got[uid]["X-SMIME"])["STATUS"],
                             "encrypted", box)
            self.assertTrue(got[uid]["BODY[]"].endswith(data), box)
        with open(log, "rb") as f:
            self.assertEqual(f.read().count(b" owner=<"), before,
                             "smime-keyd was asked although "
                             "smime_decrypt_to_verify = no")

    def test_3c_temp_directory_unusable(self):
        """The core keeps a mail past 1 MiB in temp_directory while it is
        verified: where no file can be made (a directory that does not
        exist) or written (a full file system), a big APPEND is stored
        whole without S/MIME keywords and the log says why; a small one,
        kept in memory, is still verified."""
        import pwd
        vm = pwd.getpwnam("smimeguard-vmail")
        good = crlf(self.read_msg("alice-detached.eml"))
        i = good.index(b"\r\n\r\n") + 4
        big = good[:i] + (b"y" * 998 + b"\r\n") * 2100 + good[i:]
        full = os.path.join(self.tmp, "temp-full")
        os.makedirs(full, exist_ok=True)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs",
                                  full]).returncode == 0
        self.assertTrue(mounted, "cannot mount a small tmpfs for the full-disk case")
        os.chmod(full, 0o700)
        os.chown(full, vm.pw_uid, vm.pw_gid)
        try:
            for where, why in (("/nonexistent/smimeguard-tmp", "No such file"),
                               (full, "No space left")):
                with self.subTest(temp_directory=where):
                    orig = self._edit_conf("temp_directory = %s\n" % where)
                    try:
                        log_at = len(self._dovecot_log())
                        m = self.imap()
                        m.create("tempdir")
                        typ, data = m.append("tempdir", "()", None, big)
                        self.assertEqual(typ, "OK", data)
                        uid = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
                        typ, data = m.append("tempdir", "()", None, good)
                        self.assertEqual(typ, "OK", data)
                        small = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
                        got = self.fetch_all(m, "tempdir", "(UID FLAGS RFC822.SIZE)")
                        self.assert_kw(got[uid]["FLAGS"], set(), "big, " + where)
                        self.assertEqual(int(got[uid]["RFC822.SIZE"]), len(big))
                        self.assert_kw(got[small]["FLAGS"], {S, V}, "small, " + where)
                        m.logout()
                        self.assertTrue(self._wait_dlog(
                            r"smime: append: keeping the mail to verify "
                            r"it failed: .*temp_directory %s.*%s.*\(stored "
                            r"without S/MIME keywords\)" % (re.escape(where), why),
                            log_at), self._dovecot_log()[-2000:])
                    finally:
                        self._restore_conf(orig)
            self.assertEqual(os.listdir(full), [], "the spill file must not stay")
        finally:
            subprocess.run(["umount", full])

    def test_4_copy_move(self):
        """COPY and MOVE to other folders: the destination carries the
        right keywords."""
        names = ["alice-detached.eml", "alice-detached-tampered.eml",
                 "plain.eml", "encrypted-aes256cbc.eml", "from-mallory.eml"]
        want = [self.expected(n) for n in names]
        self.lmtp(self.addr("bob", "cm-src"), [self.read_msg(n) for n in names])
        m = self.imap()
        for f in ("cm-copy", "cm-move"):
            self.assertEqual(m.create(f)[0], "OK")
        m.select("cm-src")
        typ, data = m.uid("COPY", "1:*", "cm-copy")
        self.assertEqual(typ, "OK", data)
        typ, data = m.uid("MOVE", "1:*", "cm-move")
        self.assertEqual(typ, "OK", data)
        m.close()
        m2 = self.imap()
        self.assertEqual(self.fetch_all(m2, "cm-src"), {}, "MOVE left mail behind")
        for f in ("cm-copy", "cm-move"):
            got = self.fetch_all(m2, f, "(UID FLAGS X-SMIME)")
            self.assertEqual(len(got), len(names), f)
            for n, w, uid in zip(names, want, sorted(got)):
                with self.subTest(folder=f, msg=n):
                    self.assert_kw(got[uid]["FLAGS"], w, "%s in %s" % (n, f))
    def test_4b_copy_rederives(self):
        """COPY/MOVE re-derive the keywords and never trust the source's:
        dave (smime_protect_keywords = no) forges them in the source
        folder, the copies get the verdict again."""
        names = ["alice-detached-tampered.eml", "plain.eml", "alice-detached.eml"]
        want = [self.expected(n) for n in names]
        self.lmtp(self.addr("dave", "forge"), [self.read_msg(n) for n in names])
        m = self.imap(self.addr("dave"))
        for f in ("forge-copy", "forge-move"):
            self.assertEqual(m.create(f)[0], "OK")
        m.select("forge")
        for args in (("+FLAGS", "($SMIMESigned $SMIMEVerified)"),
                     ("-FLAGS", "($SMIMEFailed)")):
            self.assertEqual(m.uid("STORE", "1:*", *args)[0], "OK")
        m.uid("STORE", "3", "+FLAGS", "($SMIMEFailed $SMIMEWeak)")
        got = self.fetch_all(m, "forge", readonly=False)
        self.assertIn(V, got[min(got)]["FLAGS"], "forging as dave did not work")
        self.assertEqual(m.uid("COPY", "1:*", "forge-copy")[0], "OK")
        self.assertEqual(m.uid("MOVE", "1:*", "forge-move")[0], "OK")
        m2 = self.imap(self.addr("dave"))
        for f in ("forge-copy", "forge-move"):
            got = self.fetch_all(m2, f)
            self.assertEqual(len(got), len(names))
            for n, w, uid in zip(names, want, sorted(got)):
                with self.subTest(folder=f, msg=n):
                    self.assert_kw(got[uid]["FLAGS"], w, "%s in %s" % (n, f))

    def test_5_x_smime_fetch(self):
        """Capability X-SMIME after login, the FETCH X-SMIME format, and
        X-SMIME NIL for mail without S/MIME."""
        m = self.imap()
        typ, data = m.capability()
        caps = data[0].decode().upper().split()
        self.assertIn("X-SMIME", caps)
        self.assertIn("METADATA", caps)
        names = ["alice-detached.eml", "alice-detached-tampered.eml", "plain.eml",
                 "partial-footer.eml", "encrypted-aes256gcm.eml"]
        t0 = time.time()
        got = self.deliver_and_fetch("bob", "xsmime", names)
        ts = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"
        good = xsmime_dict(got["alice-detached.eml"]["X-SMIME"])
        self.assertEqual(good["STATUS"], "signed/verified")
        self.assertEqual(good["STATUS-AT-DELIVERY"], "signed/verified")
        self.assertRegex(good["VERIFIED-AT"], ts)
        vt = calendar.timegm(time.strptime(good["VERIFIED-AT"], "%Y-%m-%dT%H:%M:%SZ"))
        self.assertLess(abs(vt - t0), 120, "VERIFIED-AT is not the delivery time")
        self.assertEqual(good["SIGNER"], "alice@example.org")
        self.assertIsInstance(good["SIGNER"], Q)
        self.assertEqual(good["REASONS"], [])
        bad = xsmime_dict(got["alice-detached-tampered.eml"]["X-SMIME"])
        self.assertEqual(bad["STATUS"], "signed/failed")
        self.assertIn("bad-signature", bad["REASONS"])
        part = xsmime_dict(got["partial-footer.eml"]["X-SMIME"])
        self.assertEqual(part["STATUS"], "signed")
        self.assertIn("partial", part["REASONS"])
        enc = xsmime_dict(got["encrypted-aes256gcm.eml"]["X-SMIME"])
        self.assertEqual(enc["STATUS"], "encrypted")
        self.assertIsNone(got["plain.eml"]["X-SMIME"])
        # the exact wire form
        m.select("xsmime", readonly=True)
        typ, data = m.uid("FETCH", "1:*", "(X-SMIME)")
        raw = b" ".join(d if isinstance(d, bytes) else d[0] for d in data)
        self.assertRegex(raw, rb'X-SMIME \(STATUS "signed/verified" STATUS-AT-DELIVERY '
                         rb'"signed/verified" VERIFIED-AT "[0-9TZ:-]+" SIGNER '
                         rb'"alice@example.org" REASONS \(\)\)')
        self.assertRegex(raw, rb'REASONS \("bad-signature"( "[a-z-]+")*\)\)')
        self.assertIn(b"X-SMIME NIL", raw)
        for k in ("STATUS", "STATUS-AT-DELIVERY", "VERIFIED-AT", "SIGNER", "REASONS"):
            self.assertIn(k, good)

    def test_5b_detail_recomputed(self):
        """The detail is recomputable: with the folder's dovecot.index.cache
        deleted, FETCH X-SMIME still gives the status and signer, and the
        keywords are unchanged."""
        names = ["alice-detached.eml", "alice-detached-tampered.eml", "plain.eml"]
        before = self.deliver_and_fetch("bob", "cachegone", names)
        self.doCleanups()                # log out: no process holds the cache
        home = os.path.join(self.env["STATE_DIR"], "mail", self.addr("bob"))
        removed = 0
        for root, _, files in os.walk(home):
            if "cachegone" in root and "dovecot.index.cache" in files:
                os.unlink(os.path.join(root, "dovecot.index.cache"))
                removed += 1
        self.assertEqual(removed, 1, "no dovecot.index.cache found for the folder")
        m = self.imap()
        got = self.fetch_all(m, "cachegone", "(UID FLAGS X-SMIME)")
        for n, uid in zip(names, sorted(got)):
            with self.subTest(msg=n):
                self.assertEqual(got[uid]["FLAGS"], before[n]["FLAGS"])
                b, a = xsmime_dict(before[n]["X-SMIME"]), xsmime_dict(got[uid]["X-SMIME"])
                if b is None:
                    self.assertIsNone(a)
                    continue
                self.assertEqual(a["STATUS"], b["STATUS"])
                self.assertEqual(a["SIGNER"], b["SIGNER"])
                self.assertEqual(a["REASONS"], b["REASONS"])

    def _protect_setup(self, user):
        names = ["plain.eml", "alice-detached-tampered.eml", "alice-detached.eml"]
        self.lmtp(self.addr(user, "protect"), [self.read_msg(n) for n in names])
        m = self.imap(self.addr(user))
        m.select("protect")
        got = self.fetch_all(m, "protect", readonly=False)
        uids = sorted(got)
        self.assert_kw(got[uids[0]]["FLAGS"], set(), "plain before")
        self.assert_kw(got[uids[1]]["FLAGS"], {S, F}, "tampered before")
        self.assert_kw(got[uids[2]]["FLAGS"], {S, V}, "good before")
        return m, uids

    STORES = [  # (index, op, flags)
        (0, "+FLAGS", "($SMIMEVerified)"),
        (1, "-FLAGS", "($SMIMEFailed)"),
        (2, "FLAGS", "(\\Flagged)"),
    ]

    def _flags(self, user):
        m = self.imap(self.addr(user))
        got = self.fetch_all(m, "protect")
        return [set(got[u]["FLAGS"]) for u in sorted(got)]

    def _wait_dlog(self, pattern, since, timeout=10):
        """the matches of PATTERN in dovecot.log after offset SINCE, once
        there is one (waiting up to TIMEOUT seconds)"""
        rx = re.compile(pattern, re.M)
        deadline = time.time() + timeout
        while True:
            got = rx.findall(self._dovecot_log()[since:])
            if got or time.time() > deadline:
                return got
            time.sleep(0.1)

    def _refused_line(self, user, action, kw, op, uid, since):
        """the one line of a refused client change of $SMIME keywords"""
        got = self._wait_dlog(
            r"smime: client change of \$SMIME keywords %s: user=%s "
            r"mailbox=protect keywords=%s op=%s mails=1 uids=%d$"
            % (action, re.escape(self.addr(user)), re.escape(kw), op, uid), since)
        self.assertEqual(len(got), 1, self._dovecot_log()[since:])

    def test_6a_protect_yes(self):
        """smime_protect_keywords = yes (bob): STOREs answered OK, the
        server's keywords stay as they were, other flags still change;
        each refused change is logged, once: user, mailbox, keyword,
        kind of change, uid, "stripped"."""
        m, uids = self._protect_setup("bob")
        for i, op, fl in self.STORES:
            log_at = len(self._dovecot_log())
            typ, data = m.uid("STORE", str(uids[i]), op, fl)
            self.assertEqual(typ, "OK", "%s %s: %s" % (op, fl, data))
            kw, kop = {0: (V, "add"), 1: (F, "remove"), 2: (S + "," + V, "replace")}[i]
            self._refused_line("bob", "stripped", kw, kop, uids[i], log_at)
        after = self._flags("bob")
        self.assert_kw(after[0], set(), "plain: +FLAGS ($SMIMEVerified) must be ignored")
        self.assert_kw(after[1], {S, F}, "tampered: -FLAGS ($SMIMEFailed) must be ignored")
        self.assert_kw(after[2], {S, V}, "good: FLAGS (\\Flagged) must keep the keywords")
        self.assertIn("\\Flagged", after[2])
        # a mixed STORE: the other keyword goes through
        typ, _ = m.uid("STORE", str(uids[0]), "+FLAGS", "($SMIMEVerified $Mine)")
        self.assertEqual(typ, "OK")
        after = self._flags("bob")
        self.assertIn("$Mine", after[0])
        self.assertNotIn(V, after[0])
        # SELECT announces the keywords in FLAGS, but PERMANENTFLAGS does
        # not invite clients to set $SMIME* (only \\* for their own)
        m2 = self.imap(self.addr("bob"))
        typ, _ = m2.select("protect")
        self.assertEqual(typ, "OK")
        perm = m2.untagged_responses.get("OK", [])
        perm = [p for p in perm if p.startswith(b"[PERMANENTFLAGS")]
        self.assertEqual(len(perm), 1, m2.untagged_responses)
        self.assertNotIn(b"$SMIME", perm[0])
        self.assertIn(b"\\*", perm[0])
        self.assertIn(b"$SMIME", b" ".join(m2.untagged_responses.get("FLAGS", [])))

    def test_6b_protect_reject(self):
        """smime_protect_keywords = reject (carol): the STOREs get NO
        [NOPERM] and nothing changes."""
        m, uids = self._protect_setup("carol")
        before = self._flags("carol")
        for i, op, fl in self.STORES:
            with self.subTest(op=op, flags=fl):
                log_at = len(self._dovecot_log())
                typ, data = m.uid("STORE", str(uids[i]), op, fl)
                self.assertEqual(typ, "NO", "%s %s: %s" % (op, fl, data))
                self.assertIn(b"[NOPERM]", data[0])
                kw, kop = {0: (V, "add"), 1: (F, "remove"),
                           2: (S + "," + V, "replace")}[i]
                self._refused_line("carol", "rejected", kw, kop, uids[i], log_at)
        self.assertEqual(self._flags("carol"), before)
        # flags that touch no protected keyword still work
        typ, _ = m.uid("STORE", str(uids[0]), "+FLAGS", "(\\Seen)")
        self.assertEqual(typ, "OK")
        self.assertIn("\\Seen", self._flags("carol")[0])

    def test_6d_protect_logged_once_per_command(self):
        """A STORE over many mails that tries to set a protected keyword
        on each leaves one log line (the number of mails and the first
        five uids), not one per mail; an APPEND with $SMIMEVerified is
        logged as a new mail; smime_protect_keywords = no logs nothing."""
        n = 40
        self.lmtp(self.addr("bob", "many"), [self.read_msg("plain.eml")] * n)
        m = self.imap(self.addr("bob"))
        typ, _ = m.select("many")
        self.assertEqual(typ, "OK")
        uids = sorted(self.fetch_all(m, "many", readonly=False))
        self.assertEqual(len(uids), n)
        log_at = len(self._dovecot_log())
        typ, data = m.uid("STORE", "1:*", "+FLAGS", "($SMIMEVerified $Mine)")
        self.assertEqual(typ, "OK", data)
        m.noop()
        time.sleep(0.5)
        got = self._wait_dlog(r"smime: client change of \$SMIME keywords stripped: "
                              r"user=%s mailbox=many keywords=\$SMIMEVerified op=add "
                              r"mails=(\d+) uids=([0-9,.]+)$" % re.escape(self.addr("bob")),
                              log_at)
        self.assertEqual(len(got), 1, self._dovecot_log()[log_at:])
        self.assertEqual(int(got[0][0]), n)
        self.assertEqual(got[0][1], ",".join(str(u) for u in uids[:5]) + ",...")
        # APPEND carrying a protected keyword
        log_at = len(self._dovecot_log())
        typ, data = m.append("many", "($SMIMESigned)", None,
                             crlf(self.read_msg("plain.eml")))
        self.assertEqual(typ, "OK", data)
        got = self._wait_dlog(r"smime: client change of \$SMIME keywords stripped: "
                              r"user=%s mailbox=many keywords=\$SMIMESigned op=append "
                              r"mails=1 uids=new$" % re.escape(self.addr("bob")), log_at)
        self.assertEqual(len(got), 1, self._dovecot_log()[log_at:])
        # dave may change them: nothing refused, nothing logged
        self.lmtp(self.addr("dave", "many"), [self.read_msg("plain.eml")])
        md = self.imap(self.addr("dave"))
        duids = sorted(self.fetch_all(md, "many", readonly=False))
        log_at = len(self._dovecot_log())
        typ, _ = md.uid("STORE", str(duids[0]), "+FLAGS", "($SMIMEVerified)")
        self.assertEqual(typ, "OK")
        md.noop()
        time.sleep(1)
        self.assertNotIn("client change of $SMIME keywords",
                         self._dovecot_log()[log_at:])

    def test_6c_protect_no(self):
        """smime_protect_keywords = no (dave): the client can change the
        keywords."""
        m, uids = self._protect_setup("dave")
        for i, op, fl in self.STORES:
            typ, data = m.uid("STORE", str(uids[i]), op, fl)
            self.assertEqual(typ, "OK", "%s %s: %s" % (op, fl, data))
        after = self._flags("dave")
        self.assert_kw(after[0], {V}, "plain: +FLAGS ($SMIMEVerified)")
        self.assert_kw(after[1], {S}, "tampered: -FLAGS ($SMIMEFailed)")
        self.assert_kw(after[2], set(), "good: FLAGS (\\Flagged)")

    def test_7_metadata(self):
        """GETMETADATA of the read-only policy entry; SETMETADATA fails."""
        key = "/shared/vendor/vendor.smimeguard/policy"
        m = self.imap()

        def get():
            typ, data = m._simple_command("GETMETADATA", '""', key)
            self.assertEqual(typ, "OK", data)
            typ, data = m._untagged_response(typ, data, "METADATA")
            toks = _tokens(data)
            self.assertIn(key, toks)
            v = toks[toks.index(key) + 1]
            return v.decode() if isinstance(v, bytes) else v

        val = get()
        self.assertIsNotNone(val)
        self.assertRegex(val, r"anchors=sha256:[0-9a-fA-F]{16,}")
        self.assertIn("revocation=soft", val)
        self.assertIn("sender_binding=strict", val)
        typ, data = m._simple_command("SETMETADATA", '""', '(%s "forged")' % key)
        self.assertEqual(typ, "NO", data)
        typ, data = m._simple_command("SETMETADATA", '""', "(%s NIL)" % key)
        self.assertEqual(typ, "NO", data)
        self.assertEqual(get(), val)
        # private metadata of the user still works (the dict is configured)
        typ, data = m._simple_command("SETMETADATA", '""', '(/private/comment "hi")')
        self.assertEqual(typ, "OK", data)

    def _edit_conf(self, extra):
        with open(self.conf) as f:
            orig = f.read()
        time.sleep(1.1)             # a later mtime than anything loaded so far
        with open(self.conf, "w") as f:
            f.write(orig + extra)
        return orig

    def _restore_conf(self, orig):
        time.sleep(1.1)
        with open(self.conf, "w") as f:
            f.write(orig)

    def _status_line(self, user, folder, uid):
        out = self.doveadm("smime", "status", "-u", user, "mailbox", folder, "uid", str(uid))
        return out

    def test_8a_reverify_intermediate(self):
        """alice-no-intermediate.eml fails (untrusted); after configuring
        the intermediate CA, doveadm smime reverify makes it verified,
        with STATUS-AT-DELIVERY still signed/failed; a new delivery uses
        the new configuration without a restart."""
        user = self.addr("bob")
        got = self.deliver_and_fetch("bob", "reverify1", ["alice-no-intermediate.eml"])
        d = got["alice-no-intermediate.eml"]
        self.assert_kw(d["FLAGS"], {S, F}, "before")
        x = xsmime_dict(d["X-SMIME"])
        self.assertIn("untrusted", x["REASONS"])
        inter = os.path.join(os.path.dirname(self.msg_dir), "intermediates")
        orig = self._edit_conf("intermediates = %s\n" % inter)
        try:
            self.doveadm("smime", "reverify", "-u", user, "mailbox", "reverify1", "all")
            m = self.imap()
            got = self.fetch_all(m, "reverify1", "(UID FLAGS X-SMIME)")
            d = list(got.values())[0]
            self.assert_kw(d["FLAGS"], {S, V}, "after reverify")
            x = xsmime_dict(d["X-SMIME"])
            self.assertEqual(x["STATUS"], "signed/verified")
            self.assertEqual(x["STATUS-AT-DELIVERY"], "signed/failed")
            st = self._status_line(user, "reverify1", list(got)[0])
            self.assertIn("signed/verified", st)
            # new delivery after the change, into the running LMTP service
            got = self.deliver_and_fetch("bob", "reverify1b", ["alice-no-intermediate.eml"])
            self.assert_kw(got["alice-no-intermediate.eml"]["FLAGS"], {S, V},
                           "delivery after the configuration change")
        finally:
            self._restore_conf(orig)

    def test_8b_reverify_revoked(self):
        """revoked.eml is verified while the intermediate CA's CRL is not
        yet known (soft mode); after the CRL that revokes the signer is
        put into CRL_DIR, reverify turns it into signed/failed (revoked),
        STATUS-AT-DELIVERY stays signed/verified."""
        user = self.addr("bob")
        crl = os.path.join(self.env["CRL_DIR"], "int-rsa.crl.pem")
        aside = os.path.join(self.tmp, "int-rsa.crl.pem.aside")
        shutil.move(crl, aside)
        try:
            time.sleep(1.1)
            got = self.deliver_and_fetch("bob", "reverify2", ["revoked.eml"])
            d = got["revoked.eml"]
            self.assert_kw(d["FLAGS"], {S, V}, "before the CRL")
            time.sleep(1.1)
            shutil.copy(aside, crl)
            self.doveadm("smime", "reverify", "-u", user, "mailbox", "reverify2", "all")
            m = self.imap()
            got = self.fetch_all(m, "reverify2", "(UID FLAGS X-SMIME)")
            d = list(got.values())[0]
            self.assert_kw(d["FLAGS"], {S, F}, "after the CRL + reverify")
            x = xsmime_dict(d["X-SMIME"])
            self.assertEqual(x["STATUS"], "signed/failed")
            self.assertIn("revoked", x["REASONS"])
            self.assertEqual(x["STATUS-AT-DELIVERY"], "signed/verified")
        finally:
            if not os.path.exists(crl):
                shutil.copy(aside, crl)

    def _dovecot_log(self):
        with open(os.path.join(self.env["LOG_DIR"], "dovecot.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def test_8c_harvest(self):
        """harvest_map: a verified sender's certificate is stored once (a
        new file, logged with its fingerprint), and smimectl finds it; a
        harvest directory the mail user cannot write, or a full disk, is
        logged and the mail is delivered verified all the same."""
        import pwd
        vm = pwd.getpwnam("smimeguard-vmail")
        good = os.path.join(self.tmp, "harvest")
        ro = os.path.join(self.tmp, "harvest-ro")
        full = os.path.join(self.tmp, "harvest-full")
        for d in (good, ro, full):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        os.chown(good, vm.pw_uid, vm.pw_gid)        # ro stays root's
        # the harvested certificate must be usable for encryption: its
        # intermediate CA has to be known (harvest_map stores the leaf)
        inter = "intermediates = %s\n" % os.path.join(os.path.dirname(self.msg_dir),
                                                     "intermediates")
        log_at = len(self._dovecot_log())
        orig = self._edit_conf(inter + "harvest_map = dir:%s\n" % good)
        mounted = False
        try:
            got = self.deliver_and_fetch("bob", "harvest1", ["alice-detached.eml"] * 2)
            for d in got.values():
                self.assert_kw(d["FLAGS"], {S, V}, "harvest: delivery")
            files = os.listdir(good)
            self.assertEqual(len(files), 1, files)
            self.assertRegex(files[0], r"^[0-9a-f]{64}\.pem$")
            got = self._wait_dlog(r"harvested the certificate of alice@example.org "
                                  r"\(sha256 [0-9a-f]{64}\)", log_at)
            self.assertEqual(len(got), 1, self._dovecot_log()[-2000:])
            if self.smimectl:
                p = subprocess.run([self.smimectl, "cert", "lookup", "-c", self.conf,
                                    "--intermediates", inter.split(" = ")[1].strip(),
                                    "--map", "dir:" + good, "alice@example.org"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            # a directory the mail user cannot write
            self._restore_conf(orig)
            orig = self._edit_conf(inter + "harvest_map = dir:%s\n" % ro)
            log_at = len(self._dovecot_log())
            got = self.deliver_and_fetch("bob", "harvest2", ["alice-detached.eml"])
            self.assert_kw(got["alice-detached.eml"]["FLAGS"], {S, V}, "unwritable harvest dir")
            self.assertEqual(os.listdir(ro), [])
            self.assertTrue(self._wait_dlog("cannot harvest the certificate of "
                                            "alice@example.org", log_at))
            # a full disk
            if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", full]).returncode == 0:
                mounted = True
                os.chmod(full, 0o755)
                os.chown(full, vm.pw_uid, vm.pw_gid)
                with open(os.path.join(full, "filler"), "wb") as f:
                    try:
                        f.write(b"x" * 4096)
                    except OSError:
                        pass
                self._restore_conf(orig)
                orig = self._edit_conf(inter + "harvest_map = dir:%s\n" % full)
                log_at = len(self._dovecot_log())
                got = self.deliver_and_fetch("bob", "harvest3", ["alice-detached.eml"])
                self.assert_kw(got["alice-detached.eml"]["FLAGS"], {S, V}, "full harvest disk")
                self.assertEqual(sorted(os.listdir(full)), ["filler"])
                self.assertTrue(self._wait_dlog("cannot harvest the certificate of "
                                                "alice@example.org", log_at))
            else:
                sys.stderr.write("note: no tmpfs mount here; the full-disk case did not run\n")
        finally:
            self._restore_conf(orig)
            if mounted:
                subprocess.run(["umount", full])

    def test_8d_trust_store_swapped_under_load(self):
        """The configuration is replaced (write a new file, rename it over
        smimeguard.conf) while two clients deliver a message that needs an
        intermediate CA only the new configuration names: every message
        is stored, each either untrusted (before) or verified (after),
        and once a client sees the new trust store it never sees the old
        one again."""
        inter = os.path.join(os.path.dirname(self.msg_dir), "intermediates")
        with open(self.conf) as f:
            orig = f.read()
        body = self.read_msg("alice-no-intermediate.eml")
        rcpt = self.addr("bob", "swap")
        stop = threading.Event()
        sent = [[], []]
        errors = []

        def worker(k):
            try:
                c = smtplib.LMTP(self.env["LMTP_SOCKET"])
                i = 0
                while not stop.is_set() or i < 20:
                    tag = b"X-Swap: %d-%d\r\n" % (k, i)
                    refused = c.sendmail("alice@example.org", [rcpt], tag + crlf(body))
                    if refused:
                        errors.append(refused)
                    sent[k].append(i)
                    i += 1
                c.quit()
            except Exception as e:      # noqa: BLE001 - reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        def sent_at_least(n, since, min_s=0.0):
            # every worker has sent n more than since, and min_s seconds
            # have passed (up to 60 s; a loaded machine delivers slowly,
            # a fixed sleep may see none)
            t0 = time.time()
            while time.time() < t0 + 60 and not errors:
                if time.time() >= t0 + min_s and \
                        all(len(sent[k]) >= since[k] + n for k in range(2)):
                    return
                time.sleep(0.05)

        try:
            sent_at_least(2, [0, 0])
            tmp = self.conf + ".new"
            with open(tmp, "w") as f:
                f.write(orig + "intermediates = %s\n" % inter)
            os.rename(tmp, self.conf)
            at_swap = [len(sent[k]) for k in range(2)]
            # (the configuration's stamp is looked at once a second)
            sent_at_least(5, at_swap, 3.0)
        finally:
            stop.set()
            for t in threads:
                t.join()
            time.sleep(1.1)
            with open(self.conf + ".new", "w") as f:
                f.write(orig)
            os.rename(self.conf + ".new", self.conf)
        self.assertEqual(errors, [])
        m = self.imap()
        got = self.fetch_all(m, "swap", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (X-Swap)])")
        seen = {}
        for d in got.values():
            hdr = [v for k, v in d.items() if k.startswith("BODY[")][0]
            k, i = map(int, re.search(rb"X-Swap: (\d+)-(\d+)", hdr).groups())
            seen[(k, i)] = smime_keywords(d["FLAGS"])
        self.assertEqual(sorted(seen), sorted((k, i) for k in range(2) for i in sent[k]),
                         "lost or duplicated")
        for k in range(2):
            states = [seen[(k, i)] for i in sent[k]]
            for st in states:
                self.assertIn(st, ({S, F}, {S, V}), states)
            first_new = next((n for n, st in enumerate(states) if st == {S, V}), None)
            self.assertIsNotNone(first_new, "client %d never saw the new trust store" % k)
            self.assertGreater(first_new, 0, "client %d never saw the old trust store" % k)
            self.assertTrue(all(st == {S, V} for st in states[first_new:]),
                            "client %d went back to the old trust store" % k)

    def test_8e_one_reading(self):
        """Issue 10: the hostile variants of tests/gen-gate.py, signed by
        the sandbox's own PKI and delivered raw over LMTP.  No attack is
        $SMIMEVerified or $SMIMEEncrypted; each status matches gate.tsv
        and the smimectl oracle; and for every verified message Dovecot's
        own reading agrees: ENVELOPE's From is the SIGNER, and the
        signature verifies over BODY[1.MIME] + BODY[1] as Dovecot splits
        them (what an IMAP client is shown)."""
        gen = os.path.join(self.tmp, "pki-gen")
        p = subprocess.run([sys.executable, os.path.join(TOP, "tests", "gen-gate.py"),
                            gen], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        rows = []
        with open(os.path.join(gen, "gate.tsv")) as f:
            for ln in f:
                if ln.startswith("#") or not ln.strip():
                    continue
                fields = ln.rstrip("\n").split("\t")
                if fields[1] != "-":
                    continue    # needs settings the sandbox does not have
                rows.append((os.path.join(gen, fields[0]), fields[2], fields[5]))
        self.assertGreaterEqual(len(rows), 40)
        msgs = []
        for path, _, _ in rows:
            with open(path, "rb") as f:
                msgs.append(f.read())
        self.lmtp(self.addr("bob", "gate"), msgs)
        m = self.imap()
        got = self.fetch_all(m, "gate", "(UID FLAGS X-SMIME ENVELOPE)")
        self.assertEqual(len(got), len(rows))
        oracle = self.oracle([r[0] for r in rows])
        verified = 0
        for (path, status, flags), uid in zip(rows, sorted(got)):
            name = os.path.basename(path)
            with self.subTest(msg=name):
                d = got[uid]
                kw = smime_keywords(d["FLAGS"])
                xs = xsmime_dict(d["X-SMIME"])
                self.assertEqual(xs["STATUS"] if xs else "none", status)
                if oracle[path] is not None:
                    self.assertEqual(kw, set(oracle[path]["keywords"]))
                if flags == "attack":
                    self.assertNotIn(V, kw, "an attack reads as verified")
                if flags in ("attack", "noenc"):
                    self.assertNotIn(E, kw, "plaintext reads as encrypted")
                if flags == "enc":
                    self.assertIn(E, kw)
                if V not in kw:
                    continue
                verified += 1
                env_from = d["ENVELOPE"][2][0]      # (name adl mailbox host)
                self.assertEqual("%s@%s" % (env_from[2], env_from[3]),
                                 xs["SIGNER"], "ENVELOPE From is not the signer")
                typ, data = m.uid("FETCH", str(uid),
                                  "(BODY.PEEK[1.MIME] BODY.PEEK[1] BODY.PEEK[2])")
                items = parse_fetch(data)[uid]
                sig = items.get("BODY[2]")
                if not isinstance(sig, bytes) or not sig.strip():
                    continue    # opaque signed-data: Dovecot sees one part
                content = crlf(items["BODY[1.MIME]"] + items["BODY[1]"])
                work = os.path.join(self.tmp, "gate-check")
                os.makedirs(work, exist_ok=True)
                with open(os.path.join(work, "content"), "wb") as f:
                    f.write(content)
                with open(os.path.join(work, "sig.b64"), "wb") as f:
                    f.write(sig)
                v = subprocess.run(
                    ["openssl", "cms", "-verify", "-binary", "-inform", "DER",
                     "-in", "/dev/stdin", "-content", os.path.join(work, "content"),
                     "-noverify", "-out", "/dev/null"],
                    input=base64.b64decode(sig),
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                self.assertEqual(v.returncode, 0,
                                 "the signature does not cover what Dovecot shows as part 1: " +
                                 v.stderr.decode(errors="replace"))
        self.assertGreaterEqual(verified, 5)

    # -- issue 18: keywords across users, sync and restore ----------------

    def _need_acl(self):
        if os.environ.get("SANDBOX_ACL", "1") != "1":
            self.skipTest("the sandbox runs without SANDBOX_ACL=1")

    def _need_maildir(self):
        if os.environ.get("SANDBOX_MAIL_FORMAT", "maildir") != "maildir":
            self.skipTest("maildir files needed")

    def _shared(self, owner, folder):
        return '"shared/%s/%s"' % (self.addr(owner), folder)

    def _maildir(self, user, folder):
        return os.path.join(self.env["STATE_DIR"], "mail", self.addr(user),
                            "Maildir", "." + folder)

    def _letters(self, folder_dir):
        """dovecot-keywords of a maildir folder: {keyword: letter}"""
        out = {}
        with open(os.path.join(folder_dir, "dovecot-keywords")) as f:
            for ln in f:
                n, name = ln.split(None, 1)
                out[name.strip()] = chr(ord("a") + int(n))
        return out

    _restored = 0

    def _restore_file(self, folder_dir, tag, data, letters=""):
        """a maildir file put back from a backup, flags as given; files
        restored later get higher uids"""
        st = os.stat(folder_dir)
        type(self)._restored += 1
        name = "%d.M%dP1.restored-%s:2,%s" % (int(time.time()) + type(self)._restored,
                                             type(self)._restored, tag,
                                             "".join(sorted(letters)))
        p = os.path.join(folder_dir, "cur", name)
        with open(p, "wb") as f:
            f.write(data.replace(b"\r\n", b"\n"))
        os.chown(p, st.st_uid, st.st_gid)
        return p

    def _userdb_extra(self, user, field):
        """Add a userdb extra field to USER (passwd-file, read again when it
        changes); undone at cleanup."""
        path = os.path.join(self.env["STATE_DIR"], "dovecot", "users")
        st = os.stat(path)
        with open(path) as f:
            orig = f.read()
        out = []
        for ln in orig.splitlines():
            if ln.startswith(user + ":"):
                ln += field if ln.endswith(":") else " " + field
            out.append(ln)

        def write(text):
            time.sleep(1.1)         # a new mtime for passwd-file
            tmp = path + ".test"
            with open(tmp, "w") as f:
                f.write(text)
            os.chown(tmp, st.st_uid, st.st_gid)
            os.chmod(tmp, st.st_mode & 0o7777)
            os.rename(tmp, path)

        write("\n".join(out) + "\n")
        self.addCleanup(write, orig)

    def _policy(self, m, mailbox, entry="/shared/vendor/vendor.smimeguard/policy"):
        typ, data = m._simple_command("GETMETADATA", mailbox, entry)
        self.assertEqual(typ, "OK", data)
        typ, data = m._untagged_response(typ, data, "METADATA")
        toks = [t.lower() if isinstance(t, str) else t for t in _tokens(data)]
        if entry.lower() not in toks:
            return None
        v = toks[toks.index(entry.lower()) + 1]
        return v.decode() if isinstance(v, bytes) else v

    def test_8f_shared_owner_protects(self):
        """ACLs + shared namespace: the mailbox owner's
        smime_protect_keywords governs, not the accessing user's.  dave
        (no) with write access to bob's (yes) folder can neither set nor
        clear $SMIME* there (STORE, APPEND); carol (reject) gets bob's
        silent "yes" there; bob in dave's folder gets dave's "no"; a
        public folder follows the global settings."""
        self._need_acl()
        names = ["plain.eml", "alice-detached-tampered.eml", "alice-detached.eml"]
        self.lmtp(self.addr("bob", "acl1"), [self.read_msg(n) for n in names])
        bob = self.imap(self.addr("bob"))
        for who in ("dave", "carol"):
            typ, data = bob.setacl("acl1", self.addr(who), "lrwsit")
            self.assertEqual(typ, "OK", data)
        uids = sorted(self.fetch_all(bob, "acl1"))
        dave = self.imap(self.addr("dave"))
        typ, data = dave.select(self._shared("bob", "acl1"))
        self.assertEqual(typ, "OK", data)
        for i, op, fl in self.STORES:
            typ, data = dave.uid("STORE", str(uids[i]), op, fl)
            self.assertEqual(typ, "OK", "%s %s: %s" % (op, fl, data))
        typ, data = dave.append(self._shared("bob", "acl1"),
                                "(\\Seen $SMIMEVerified $SMIMESigned)", None,
                                crlf(self.read_msg("plain.eml")))
        self.assertEqual(typ, "OK", data)
        carol = self.imap(self.addr("carol"))
        typ, data = carol.select(self._shared("bob", "acl1"))
        self.assertEqual(typ, "OK", data)
        typ, data = carol.uid("STORE", str(uids[0]), "+FLAGS", "($SMIMEVerified)")
        self.assertEqual(typ, "OK", "carol's reject must not apply in bob's folder: %s" % data)
        got = self.fetch_all(self.imap(self.addr("bob")), "acl1")
        after = [set(got[u]["FLAGS"]) for u in sorted(got)]
        self.assertEqual(len(after), 4)
        self.assert_kw(after[0], set(), "plain: dave's/carol's +FLAGS ($SMIMEVerified)")
        self.assert_kw(after[1], {S, F}, "tampered: dave's -FLAGS ($SMIMEFailed)")
        self.assert_kw(after[2], {S, V}, "good: dave's FLAGS (\\Flagged)")
        self.assertIn("\\Flagged", after[2])
        self.assert_kw(after[3], set(), "dave's APPEND with $SMIMEVerified")
        self.assertIn("\\Seen", after[3])
        # the other way round: dave's folder, dave's "no"
        self.lmtp(self.addr("dave", "acl1"), [self.read_msg("plain.eml")])
        typ, data = dave.setacl("acl1", self.addr("bob"), "lrwsit")
        self.assertEqual(typ, "OK", data)
        typ, data = bob.select(self._shared("dave", "acl1"))
        self.assertEqual(typ, "OK", data)
        typ, data = bob.uid("STORE", "1:*", "+FLAGS", "($SMIMEVerified)")
        self.assertEqual(typ, "OK", data)
        got = self.fetch_all(self.imap(self.addr("dave")), "acl1")
        self.assert_kw(list(got.values())[0]["FLAGS"], {V},
                       "dave's folder follows dave's smime_protect_keywords = no")
        # a public folder has no owner: the global settings ("yes") apply
        # to everybody, dave included
        if os.environ.get("SANDBOX_MAIL_FORMAT", "maildir") != "maildir":
            return
        pub = os.path.join(self.env["STATE_DIR"], "mail", "public", ".pub1")
        for d in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(pub, d), exist_ok=True)
        with open(os.path.join(pub, "dovecot-acl"), "w") as f:
            f.write("anyone lrwsite\n")
        st = os.stat(os.path.join(self.env["STATE_DIR"], "mail"))
        for root, dirs, fs in os.walk(pub):
            for x in [root] + [os.path.join(root, y) for y in dirs + fs]:
                os.chown(x, st.st_uid, st.st_gid)
        typ, data = dave.append("public/pub1", "($SMIMEVerified $SMIMESigned)", None,
                                crlf(self.read_msg("plain.eml")))
        self.assertEqual(typ, "OK", data)
        typ, data = dave.select("public/pub1")
        self.assertEqual(typ, "OK", data)
        typ, data = dave.uid("STORE", "1:*", "+FLAGS", "($SMIMEVerified $SMIMESigned)")
        self.assertEqual(typ, "OK", data)
        got = self.fetch_all(self.imap(self.addr("bob")), "public/pub1")
        self.assertEqual(len(got), 1)
        self.assert_kw(list(got.values())[0]["FLAGS"], set(),
                       "dave's APPEND and STORE in a public folder")

    def test_8g_shared_owner_verifies(self):
        """A shared folder is judged with its owner's settings: dave's
        userdb smime_config (sender_binding = off, under which
        from-mallory.eml verifies) applies to dave's folders only.  dave's
        APPEND into bob's folder, dave's FETCH X-SMIME of a mail there
        that the server never verified (a restored file), and the
        METADATA policy entry of bob's folder all follow bob's settings."""
        self._need_acl()
        with open(self.conf) as f:
            text = f.read()
        lax = os.path.join(self.env["STATE_DIR"], "lax-smimeguard.conf")
        with open(lax, "w") as f:
            f.write(re.sub(r"(?m)^sender_binding\s*=.*$", "", text) +
                    "sender_binding = off\n")
        os.chmod(lax, 0o644)
        self._userdb_extra(self.addr("dave"), "userdb_smime_config=" + lax)
        mallory = crlf(self.read_msg("from-mallory.eml"))
        dave = self.imap(self.addr("dave"))
        # dave's own setting is in effect (else this test proves nothing)
        dave.create("own2")
        typ, data = dave.append("own2", None, None, mallory)
        self.assertEqual(typ, "OK", data)
        got = self.fetch_all(dave, "own2")
        self.assert_kw(list(got.values())[0]["FLAGS"], {S, V},
                       "dave's own folder with dave's sender_binding = off")
        self.assertIn("sender_binding=off", self._policy(dave, "INBOX"))

        self.lmtp(self.addr("bob", "acl2"), [self.read_msg("plain.eml")])
        bob = self.imap(self.addr("bob"))
        typ, data = bob.setacl("acl2", self.addr("dave"), "lrwsit")
        self.assertEqual(typ, "OK", data)
        typ, data = dave.append(self._shared("bob", "acl2"), None, None, mallory)
        self.assertEqual(typ, "OK", data)
        restored = None
        if os.environ.get("SANDBOX_MAIL_FORMAT", "maildir") == "maildir":
            self._restore_file(self._maildir("bob", "acl2"), "mallory", mallory)
            restored = True
        typ, data = dave.select(self._shared("bob", "acl2"))
        self.assertEqual(typ, "OK", data)
        typ, data = dave.uid("FETCH", "1:*", "(UID X-SMIME)")
        self.assertEqual(typ, "OK", data)
        x = parse_fetch(data)
        got = self.fetch_all(self.imap(self.addr("bob")), "acl2", "(UID FLAGS X-SMIME)")
        uids = sorted(got)
        self.assertEqual(len(uids), 3 if restored else 2)
        for u in uids[1:]:
            with self.subTest(uid=u):
                self.assert_kw(got[u]["FLAGS"], {S, F}, "from-mallory in bob's folder")
                self.assertEqual(xsmime_dict(x[u]["X-SMIME"])["STATUS"], "signed/failed")
                self.assertIn("sender-mismatch", xsmime_dict(got[u]["X-SMIME"])["REASONS"])
        pol = self._policy(dave, self._shared("bob", "acl2"))
        self.assertIn("sender_binding=strict", pol)

    def test_8h_restored_keywords(self):
        """maildir files restored with $SMIME keyword letters carry no
        verification record of this server: the next sync verifies them,
        so SEARCH (which reads the index, not the mail) already gets the
        server's verdict, FETCH FLAGS never shows the restored keywords,
        and a restored file without letters is verified on its first
        X-SMIME FETCH."""
        self._need_maildir()
        names = ["plain.eml", "alice-detached-tampered.eml", "alice-detached.eml"]
        self.lmtp(self.addr("bob", "restore1"), [self.read_msg(n) for n in names])
        fdir = self._maildir("bob", "restore1")
        lt = self._letters(fdir)
        sv = lt[S] + lt[V]
        self._restore_file(fdir, "plain", self.read_msg("plain.eml"), sv)
        self._restore_file(fdir, "tampered", self.read_msg("alice-detached-tampered.eml"), sv)
        self._restore_file(fdir, "mallory", self.read_msg("from-mallory.eml"), sv)
        self._restore_file(fdir, "good", self.read_msg("alice-detached.eml"), sv)
        self._restore_file(fdir, "good-noflags", self.read_msg("alice-detached.eml"))
        user = self.addr("bob")
        found = self.doveadm("search", "-u", user, "mailbox", "restore1",
                             "keyword", V).split()
        found = sorted(int(u) for u in found[1::2])
        self.assertEqual(found, [3, 7], "SEARCH KEYWORD $SMIMEVerified after the restore")
        m = self.imap(self.addr("bob"))
        got = self.fetch_all(m, "restore1", "(UID FLAGS)")
        want = [set(), {S, F}, {S, V}, set(), {S, F}, {S, F}, {S, V}, set()]
        self.assertEqual(sorted(got), list(range(1, 9)))
        for u, w in zip(sorted(got), want):
            self.assert_kw(got[u]["FLAGS"], w, "uid %d after the restore" % u)
        got = self.fetch_all(m, "restore1", "(UID X-SMIME)")
        self.assertIsNone(got[4]["X-SMIME"])
        self.assertEqual(xsmime_dict(got[8]["X-SMIME"])["STATUS"], "signed/verified")
        got = self.fetch_all(m, "restore1", "(UID FLAGS)")
        self.assert_kw(got[8]["FLAGS"], {S, V}, "verified on the first X-SMIME FETCH")

    def test_8i_index_rebuild(self):
        """An index rebuild (the folder's index files deleted) loses every
        verification record: keywords from the maildir file names are
        not trusted.  With no time for verification at that sync
        (smime_sync_verify_msecs = 0) they are removed and the mails left
        pending; the next sync verifies them, so genuine mail gets its
        verdict back and a forged letter never returns."""
        self._need_maildir()
        names = ["plain.eml", "alice-detached-tampered.eml", "alice-detached.eml"]
        self.lmtp(self.addr("bob", "rebuild1"), [self.read_msg(n) for n in names])
        m = self.imap(self.addr("bob"))
        self.fetch_all(m, "rebuild1")       # flags into the file names
        self.doCleanups()
        fdir = self._maildir("bob", "rebuild1")
        lt = self._letters(fdir)
        self._restore_file(fdir, "plain", self.read_msg("plain.eml"), lt[S] + lt[V])
        removed = 0
        for n in os.listdir(fdir):
            if n.startswith("dovecot.index"):
                os.unlink(os.path.join(fdir, n))
                removed += 1
        self.assertGreater(removed, 0)
        user = self.addr("bob")
        found = self.doveadm("-o", "plugin/smime_sync_verify_msecs=0", "search",
                             "-u", user, "mailbox", "rebuild1", "keyword", S).split()
        self.assertEqual(found, [], "no time to verify: no $SMIME keyword is trusted")
        m = self.imap(self.addr("bob"))
        got = self.fetch_all(m, "rebuild1", "(UID FLAGS)")
        want = [set(), {S, F}, {S, V}, set()]
        self.assertEqual(len(got), 4)
        for u, w in zip(sorted(got), want):
            self.assert_kw(got[u]["FLAGS"], w, "uid %d after the rebuild" % u)

    def test_8j_dsync_backup(self):
        """doveadm backup -R from a server without the plugin whose mail
        carries $SMIMESigned $SMIMEVerified: the imported mail gets this
        server's verdict, on disk and in the index; a later sync that
        changes $SMIME keywords on the source changes nothing here."""
        src = os.path.join(self.tmp, "dsync-src", "Maildir")
        fdir = os.path.join(src, ".dsyncin")
        for d in (os.path.join(src, x) for x in ("cur", "new", "tmp")):
            os.makedirs(d, exist_ok=True)
        for d in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(fdir, d), exist_ok=True)
        with open(os.path.join(fdir, "dovecot-keywords"), "w") as f:
            f.write("0 $SMIMESigned\n1 $SMIMEVerified\n2 $SMIMEFailed\n")
        files = [("plain.eml", "ab"), ("alice-detached-tampered.eml", "ab"),
                 ("from-mallory.eml", "ab"), ("alice-detached.eml", ""),
                 ("alice-detached.eml", "ac")]
        for i, (n, fl) in enumerate(files):
            with open(os.path.join(fdir, "cur", "%d.M%d.src:2,%s" % (1700000000 + i, i, fl)),
                      "wb") as f:
                f.write(self.read_msg(n).replace(b"\r\n", b"\n"))
        mail = os.path.join(self.env["STATE_DIR"], "mail")
        st = os.stat(mail)
        for root, dirs, fs in os.walk(os.path.dirname(src)):
            for x in dirs + fs:
                os.chown(os.path.join(root, x), st.st_uid, st.st_gid)
        os.chown(os.path.dirname(src), st.st_uid, st.st_gid)
        os.chmod(os.path.dirname(src), 0o755)
        user = self.addr("alice")
        remote = self.env["DOVEADM"].split() + [
            "-o", "mail_plugins=", "-o", "mail_location=maildir:" + src]
        # the source really offers the forged keywords
        p = subprocess.run(remote + ["fetch", "-u", user, "flags", "mailbox", "dsyncin", "all"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.count(b"$SMIMEVerified"), 3, p.stdout)
        cmd = " ".join(remote + ["dsync-server", "-u", user])
        self.doveadm("backup", "-R", "-u", user, "-m", "dsyncin", cmd)
        want = [set(), {S, F}, {S, F}, {S, V}, {S, V}]
        found = self.doveadm("search", "-u", user, "mailbox", "dsyncin", "keyword", V).split()
        self.assertEqual(sorted(int(u) for u in found[1::2]), [4, 5],
                         "SEARCH KEYWORD $SMIMEVerified after the import")
        got = self.fetch_all(self.imap(user), "dsyncin", "(UID FLAGS X-SMIME)")
        self.assertEqual(len(got), 5)
        for u, w in zip(sorted(got), want):
            self.assert_kw(got[u]["FLAGS"], w, "uid %d after doveadm backup -R" % u)
        if os.environ.get("SANDBOX_MAIL_FORMAT", "maildir") == "maildir":
            ddir = self._maildir("alice", "dsyncin")
            v = self._letters(ddir).get(V)
            names = sorted(os.listdir(os.path.join(ddir, "cur")) +
                           os.listdir(os.path.join(ddir, "new")))
            self.assertEqual(sum(1 for n in names if v and ":2," in n and
                                 v in n.split(":2,")[1]), 2, names)
        # the source changes keywords; the next backup brings no change here
        for n in os.listdir(os.path.join(fdir, "cur")):
            if n.endswith(":2,ac"):
                os.rename(os.path.join(fdir, "cur", n),
                          os.path.join(fdir, "cur", n[:-2] + "c"))     # only $SMIMEFailed
        for n in os.listdir(os.path.join(fdir, "cur")):
            if "src:2," in n and n.endswith(",ab") and "1700000001" in n:
                os.rename(os.path.join(fdir, "cur", n),
                          os.path.join(fdir, "cur", n[:-2] + "b"))     # only $SMIMEVerified
        self.doveadm("backup", "-R", "-u", user, "-m", "dsyncin", cmd)
        got = self.fetch_all(self.imap(user), "dsyncin", "(UID FLAGS)")
        for u, w in zip(sorted(got), want):
            self.assert_kw(got[u]["FLAGS"], w, "uid %d after the second backup" % u)

    def test_8l_intermediate_cache(self):
        """intermediate_cache: alice-no-intermediate.eml is untrusted until
        a message that carries the intermediate (alice-detached.eml) has
        verified; its intermediate is cached (one file, in the directory
        the mail user writes), doveadm smime reverify then turns the
        first message verified, and a new delivery verifies at once.  A
        chain to an unconfigured root learns nothing."""
        import pwd
        vm = pwd.getpwnam("smimeguard-vmail")
        cache = os.path.join(self.tmp, "icache")
        os.makedirs(cache, exist_ok=True)
        os.chmod(cache, 0o755)
        os.chown(cache, vm.pw_uid, vm.pw_gid)
        user = self.addr("bob")
        orig = self._edit_conf("intermediate_cache = %s\n" % cache)
        try:
            got = self.deliver_and_fetch("bob", "icache1", ["alice-no-intermediate.eml"])
            self.assert_kw(got["alice-no-intermediate.eml"]["FLAGS"], {S, F},
                           "before anything was learned")
            self.assertEqual([f for f in os.listdir(cache) if f.endswith(".pem")], [])
            got = self.deliver_and_fetch("bob", "icache2", ["alice-detached.eml"])
            self.assert_kw(got["alice-detached.eml"]["FLAGS"], {S, V}, "carrying the intermediate")
            files = [f for f in os.listdir(cache) if f.endswith(".pem")]
            self.assertEqual(len(files), 1, files)
            self.assertRegex(files[0], r"^[0-9a-f]{64}\.pem$")
            self.doveadm("smime", "reverify", "-u", user, "mailbox", "icache1", "all")
            m = self.imap()
            d = list(self.fetch_all(m, "icache1", "(UID FLAGS X-SMIME)").values())[0]
            self.assert_kw(d["FLAGS"], {S, V}, "after reverify")
            x = xsmime_dict(d["X-SMIME"])
            self.assertEqual(x["STATUS-AT-DELIVERY"], "signed/failed")
            got = self.deliver_and_fetch("bob", "icache3", ["alice-no-intermediate.eml"])
            self.assert_kw(got["alice-no-intermediate.eml"]["FLAGS"], {S, V},
                           "a later message without the intermediate")
        finally:
            self._restore_conf(orig)
            shutil.rmtree(cache, ignore_errors=True)

    def _index_bytes(self, user, folder):
        """the bytes of every dovecot.index* file of a user's folder (any
        mail format: maildir's .folder, dbox's mailboxes/folder)"""
        top = os.path.join(self.env["STATE_DIR"], "mail", self.addr(user))
        out = b""
        for d, _, files in os.walk(top):
            parts = d[len(top):].split(os.sep)
            if "." + folder not in parts and folder not in parts:
                continue
            for f in files:
                if f.startswith("dovecot.index"):
                    with open(os.path.join(d, f), "rb") as fh:
                        out += fh.read()
        return out

    def test_8k_none_recorded(self):
        """Plain mail is not recorded at delivery (its record cost an
        unsigned delivery 4 %): the folder's index has no smime-verdict
        extension after it.  The first access that needs the verdict
        (doveadm smime status) judges it and records "none"; from then
        on FETCH X-SMIME does not verify it again (the verified-at of
        doveadm smime status stays the same)."""
        user = self.addr("bob")
        self.lmtp(self.addr("bob", "none1"), [self.read_msg("plain.eml")])
        idx = self._index_bytes("bob", "none1")
        self.assertTrue(len(idx) > 0, "no index files found for none1")
        self.assertFalse(b"smime-verdict" in idx,
                         "plain mail was recorded at delivery")

        def verified_at():
            out = self.doveadm("smime", "status", "-u", user, "mailbox", "none1", "all")
            rows = [ln.split() for ln in out.splitlines()[1:] if ln.strip()]
            self.assertEqual(len(rows), 1, out)
            self.assertEqual(rows[0][2], "none", out)
            return rows[0][4]

        first = verified_at()
        self.assertNotEqual(first, "-")
        self.assertTrue(b"smime-verdict" in self._index_bytes("bob", "none1"),
                        "the verdict of the first access was not recorded")
        m = self.imap(user)
        for _ in range(2):
            time.sleep(1.1)
            got = self.fetch_all(m, "none1", "(UID X-SMIME)")
            self.assertIsNone(list(got.values())[0]["X-SMIME"])
            self.assertEqual(verified_at(), first, "a judged \"none\" was verified again")

    def test_7b_metadata_lookalike(self):
        """The vendor.smimeguard METADATA subtree belongs to the server,
        in /private as in /shared, on the server and on every mailbox: a
        user cannot store a look-alike policy value, /private/... reads
        the server's value, and DEPTH listing still finds the entry."""
        m = self.imap()
        shared = self._policy(m, '""')
        self.assertRegex(shared, r"anchors=sha256:")
        keys = ["/private/vendor/vendor.smimeguard/policy",
                "/private/vendor/vendor.smimeguard/Policy",
                "/private/vendor/vendor.smimeguard/policy/x",
                "/private/vendor/vendor.smimeguard/other",
                "/private/vendor/vendor.smimeguard",
                "/private/vendor/vendor.smimeguardx/policy",
                "/shared/vendor/vendor.smimeguard/policy2",
                "/shared/vendor/vendor.smimeguard/policy/x"]
        for box in ('""', "INBOX"):
            for key in keys:
                with self.subTest(mailbox=box, key=key):
                    typ, data = m._simple_command(
                        "SETMETADATA", box,
                        '(%s "anchors=sha256:00 revocation=hard sender_binding=strict")' % key)
                    self.assertEqual(typ, "NO", data)
                    got = self._policy(m, box, key)
                    if key.lower() == "/private/vendor/vendor.smimeguard/policy":
                        self.assertEqual(got, shared)
                    else:
                        self.assertIsNone(got)
        typ, data = m._simple_command("GETMETADATA", "(DEPTH infinity)", '""', "/shared/vendor")
        self.assertEqual(typ, "OK", data)
        self.assertIn(b"/shared/vendor/vendor.smimeguard/policy", b" ".join(
            x if isinstance(x, bytes) else b" ".join(x) for x in
            m._untagged_response(typ, data, "METADATA")[1] if x is not None))

    def test_9_stress(self):
        """10,000 mixed messages over LMTP (good, bad, malformed, a few of
        ~5 MB, random garbage, S/MIME truncated anywhere or with bytes
        flipped): none lost or duplicated, every one stored byte for byte,
        keywords as the oracle says, no Panic/Fatal in the Dovecot log."""
        n_total = int(os.environ.get("SG_STRESS_N", "10000"))
        rnd = random.Random(20261128)
        pool = sorted(n for n in os.listdir(self.msg_dir) if n.endswith(".eml"))
        pool.append("malformed.eml")
        big = self._big_messages()
        msgs = []   # (bytes, expected keyword set or None)
        derived = {}    # i -> a truncated or mutated copy, judged by smimectl
        for i in range(n_total):
            tag = b"X-Stress-Seq: %d\r\n" % i
            r = rnd.random()
            if i % 1250 == 7 and big:
                name = big[(i // 1250) % len(big)]
                body = self.read_msg(name)
            elif r < 0.15:
                name = None
                size = rnd.choice([0, 1, 100, 4000, 70000])
                body = (b"From: garbage@example.org\r\nSubject: garbage %d\r\n\r\n" % i
                        + bytes(rnd.getrandbits(8) for _ in range(size)))
            elif r < 0.25:
                name = None
                base = self.read_msg(rnd.choice(pool))
                cut = rnd.randrange(len(base))
                body = base[:cut]       # truncated anywhere
                derived[i] = body
            elif r < 0.30:
                name = None
                body = bytearray(self.read_msg(rnd.choice(pool)))
                for _ in range(rnd.randint(1, 8)):      # bytes flipped
                    body[rnd.randrange(len(body))] ^= 1 << rnd.randrange(8)
                body = bytes(body)
                derived[i] = body
            else:
                name = rnd.choice(pool)
                body = self.read_msg(name)
            if not body.endswith(b"\r\n"):
                # end on a line break, as SMTP data does (smtplib would add
                # one, and Dovecot folds a bare CR before it into it)
                body += b"\n" if body.endswith(b"\r") else b"\r\n"
                if i in derived:
                    derived[i] = body
            msgs.append((tag + body, name))
        oracle = {}
        if self.smimectl:
            paths = sorted({self.msg_path(n) for _, n in msgs if n})
            for p, o in self.oracle(paths).items():
                oracle[os.path.basename(p)] = set(o["keywords"])
        # the truncated and mutated copies: what smimectl makes of exactly
        # those bytes (a flipped bit in an unsigned header, or a cut after
        # the last boundary, may rightly still verify)
        derived_kw = {}
        if self.smimectl and derived:
            ddir = os.path.join(self.tmp, "stress-derived")
            os.makedirs(ddir, exist_ok=True)
            dpaths = {}
            for i, body in derived.items():
                dpaths[i] = os.path.join(ddir, "d-%d.eml" % i)
                with open(dpaths[i], "wb") as f:
                    f.write(body)
            res = self.oracle(sorted(dpaths.values()))
            for i, path in dpaths.items():
                derived_kw[i] = set(res[path]["keywords"])

        t0 = time.time()
        errors = []
        rcpt = self.addr("bob", "stress")

        def worker(part):
            try:
                c = smtplib.LMTP(self.env["LMTP_SOCKET"])
                c.timeout = 120
                for body, _ in part:
                    refused = c.sendmail("stress@example.org", [rcpt], body)
                    if refused:
                        errors.append(refused)
                c.quit()
            except Exception as e:      # noqa: BLE001 - reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=worker, args=(msgs[k::2],)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        t_send = time.time() - t0
        self.assertEqual(errors, [])

        m = self.imap()
        typ, data = m.status("stress", "(MESSAGES)")
        self.assertEqual(typ, "OK")
        self.assertEqual(int(re.search(rb"MESSAGES (\d+)", data[0]).group(1)), n_total)
        m.select("stress", readonly=True)
        typ, data = m.search(None, "ALL")
        self.assertEqual(len(data[0].split()), n_total)
        got = self.fetch_all(m, "stress",
                             "(UID FLAGS BODY.PEEK[HEADER.FIELDS (X-Stress-Seq)])")
        seen = {}
        for d in got.values():
            hdr = [v for k, v in d.items() if k.startswith("BODY[")][0]
            mm = re.search(rb"X-Stress-Seq: (\d+)", hdr)
            seen[int(mm.group(1))] = d["FLAGS"]
        self.assertEqual(sorted(seen), list(range(n_total)), "lost or duplicated")
        wrong = []
        for i, (_, name) in enumerate(msgs):
            kw = smime_keywords(seen[i])
            if i in derived_kw:
                if kw != derived_kw[i]:
                    wrong.append("%d (truncated/mutated) %s != %s"
                                 % (i, sorted(kw), sorted(derived_kw[i])))
            elif name in oracle and kw != oracle[name]:
                wrong.append("%d %s: %s != %s" % (i, name, sorted(kw), sorted(oracle[name])))
            elif name is None and i not in derived and V in kw:
                wrong.append("%d (garbage) got %s" % (i, V))
        self.assertEqual(wrong[:10], [], "%d messages with wrong keywords" % len(wrong))
        # byte for byte (after the Return-Path/Delivered-To/Received lines),
        # fetched in batches
        # (IMAP cannot carry NUL: Dovecot's FETCH shows it as 0x80)
        want = {i: crlf(body).replace(b"\0", b"\x80") for i, (body, _) in enumerate(msgs)}
        uids = sorted(got)
        changed = []
        for k in range(0, len(uids), 250):
            batch = uids[k:k + 250]
            typ, data = m.uid("FETCH", "%d:%d" % (batch[0], batch[-1]), "(UID BODY.PEEK[])")
            self.assertEqual(typ, "OK")
            for d in parse_fetch(data).values():
                stored = crlf(d["BODY[]"])
                mm = re.search(rb"X-Stress-Seq: (\d+)", stored)
                i = int(mm.group(1))
                orig = want[i]
                if not stored.endswith(orig) or not set(
                        header_names(stored[:len(stored) - len(orig)])) <= {
                        b"return-path", b"delivered-to", b"received"}:
                    changed.append(i)
        self.assertEqual(changed[:10], [], "%d messages changed" % len(changed))
        t_all = time.time() - t0
        sys.stderr.write("stress: %d messages delivered in %.1fs, checked in %.1fs\n"
                         % (n_total, t_send, t_all))
        with open(os.path.join(self.env["LOG_DIR"], "dovecot.log"), "rb") as f:
            log = f.read()
        bad = [ln for ln in log.splitlines() if re.search(rb"\b(Panic|Fatal):", ln)]
        self.assertEqual(bad[:10], [], "Panic/Fatal in dovecot.log")

    def _big_messages(self):
        """~5 MB messages: plain text, a detached signature over a changed
        body, and (with openssl) a real 5 MB signed message."""
        out = []
        line = b"0123456789 the quick brown fox jumps over the lazy dog 0123456789\r\n"
        text = line * (5 * 1024 * 1024 // len(line))
        p = os.path.join(self.extra_dir, "big-plain.eml")
        with open(p, "wb") as f:
            f.write(b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\n"
                    b"Subject: big plain\r\nMessage-ID: <big-plain@example.org>\r\n"
                    b"\r\n" + text)
        out.append("big-plain.eml")
        good = self.read_msg("alice-detached.eml")
        a = good.index(b"Hello Bob,")
        p = os.path.join(self.extra_dir, "big-tampered.eml")
        with open(p, "wb") as f:
            f.write(good[:a] + text + good[a:])
        out.append("big-tampered.eml")
        pki = self.env["PKI_DIR"]
        src = os.path.join(self.extra_dir, "big-content.txt")
        with open(src, "wb") as f:
            f.write(b"Content-Type: text/plain\r\n\r\n" + text)
        signed = os.path.join(self.extra_dir, "big-signed.eml")
        r = subprocess.run(
            ["openssl", "smime", "-sign", "-in", src, "-out", signed, "-binary",
             "-signer", os.path.join(pki, "alice@example.org.pem"),
             "-inkey", os.path.join(pki, "alice@example.org.key"),
             "-certfile", os.path.join(pki, "alice@example.org.chain.pem"),
             "-from", "Alice <alice@example.org>", "-to", "bob@example.org",
             "-subject", "big signed"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
        if r.returncode == 0:
            with open(signed, "rb") as f:
                data = crlf(f.read())
            with open(signed, "wb") as f:
                f.write(data)
            out.append("big-signed.eml")
        return out


if __name__ == "__main__":
    sys.exit(sgserver.main(ServerTest, skips_allowed=True))
