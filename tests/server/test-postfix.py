#!/usr/bin/env python3
"""test-postfix.py - smime-policyd and smime-milter behind a real Postfix.

Starts a sandbox (scripts/sandbox up --dir TMPDIR: private Postfix with a
submission listener that asks smime-policyd at RCPT and smime-milter at
end of data, mail to other domains stored in OUTBOUND_DIR, private
Dovecot), talks SMTP to the submission port (smtplib) and the policy
protocol to the policy service's socket, and stops the sandbox again
(always).  Python 3 standard library and the openssl command; run as root.

Environment:
  SG_BUILD      configured and built smimeguard tree (postfix-policy/
                smime-policyd and smime-milter, the Dovecot plugins);
                passed to the sandbox.
  SG_KEEP=1     keep the sandbox directory (it is kept anyway on failure).
  SANDBOX_*     passed through to scripts/sandbox.

Arguments: substrings of test names to run (default: all).

Prints "N passed, N failed" (test methods) as its last line; exits 1 on
any failure.
"""

import base64
import email.utils
import json
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
import sgserver                     # noqa: E402 (tests/server/sgserver.py)
from sgserver import SANDBOX, TOP, crlf, header_names   # noqa: E402

# rules and recipients the tests add to POLICY_FILE (test_60)
AEAD_RCPT = "ada@aead.example"
MONITOR_RCPT = "mona@monitor.example"
# certificates the tests add to CERT_DIR (partner.example needs encryption)
STALE_RCPT = "sam@partner.example"
PERCENT_RCPT = "a%b@partner.example"

TEXT = (b"Content-Type: text/plain; charset=us-ascii\r\n"
        b"Content-Transfer-Encoding: 7bit\r\n"
        b"\r\n"
        b"The confidential figures for Q3 are attached.\r\n"
        b".\r\n"
        b"..a line starting with dots, and one with only a dot above.\r\n")

LOCAL_DOMAIN = "example.org"


# ---------------------------------------------------------------------------
# helpers

def run(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120, **kw)
    if p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), p.stderr.decode(errors="replace")))
    return p.stdout


def b64lines(data):
    s = base64.b64encode(data)
    return b"".join(s[i:i + 76] + b"\r\n" for i in range(0, len(s), 76))


def is_external(addr):
    dom = addr.rsplit("@", 1)[-1].lower()
    return dom != LOCAL_DOMAIN and not dom.endswith("." + LOCAL_DOMAIN)


class Outcome:
    """One SMTP transaction: the replies at MAIL, each RCPT and DATA."""

    def __init__(self):
        self.mail = None        # (code, text)
        self.rcpt = {}          # addr -> (code, text)
        self.data = None        # (code, text) or None when not reached
        self.error = None       # connection-level problem

    @property
    def accepted(self):
        return [r for r, (c, _) in self.rcpt.items() if c in (250, 251)]

    @property
    def delivered(self):
        """The recipients the server took responsibility for."""
        return self.accepted if self.data and self.data[0] == 250 else []

    def __repr__(self):
        return "Outcome(mail=%r rcpt=%r data=%r error=%r)" % (
            self.mail, self.rcpt, self.data, self.error)


# ---------------------------------------------------------------------------

class PostfixTest(sgserver.SandboxTestCase):
    prefix = "smimeguard-postfix-"
    timed = True
    expected_out = {}   # test id -> external recipients accepted for it
    seq = 0

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        e = cls.env
        cls.port = int(e["SUBMISSION_PORT"])
        cls.out_dir = e["OUTBOUND_DIR"]
        cls.pki = e["PKI_DIR"]
        cls.sender = e["SENDER"]
        cls.internal = e["INTERNAL_RCPT"]
        cls.enc = e["EXTERNAL_ENCRYPT_RCPT"]
        cls.nocert = e["EXTERNAL_NOCERT_RCPT"]
        cls.open = e["EXTERNAL_OPEN_RCPT"]
        cls.forward = e["FORWARD_RCPT"]
        cls.sendmail_cmd = e["SENDMAIL"].split()
        cls.pconf = os.path.join(e["STATE_DIR"], "postfix")
        cls.conf = os.path.join(e["STATE_DIR"], "smimeguard.conf")
        cls.policyd_sock = e.get("POLICYD_SOCKET",
                                 os.path.join(e["STATE_DIR"], "run", "policyd.sock"))
        cls.work = os.path.join(cls.tmp, "test-work")
        os.makedirs(cls.work, exist_ok=True)
        cls.out_before = set(cls.outbound_files())

    # -- messages --------------------------------------------------------

    def cert(self, addr):
        return os.path.join(self.pki, addr + ".pem")

    def encrypt(self, certs, cipher="-aes-256-gcm", content=TEXT):
        """An application/pkcs7-mime entity (MIME headers + body) with
        CONTENT encrypted to the certificate files CERTS."""
        type(self).seq += 1
        src = os.path.join(self.work, "content-%d" % self.seq)
        with open(src, "wb") as f:
            f.write(content)
        der = run(["openssl", "cms", "-encrypt", "-binary", cipher, "-in", src,
                   "-outform", "DER"] + list(certs))
        stype = b"authEnveloped-data" if b"gcm" in cipher.encode() else b"enveloped-data"
        return (b"MIME-Version: 1.0\r\n"
                b"Content-Type: application/pkcs7-mime; smime-type=" + stype +
                b"; name=smime.p7m\r\n"
                b"Content-Disposition: attachment; filename=smime.p7m\r\n"
                b"Content-Transfer-Encoding: base64\r\n"
                b"\r\n" + b64lines(der))

    def _content_file(self, content):
        type(self).seq += 1
        src = os.path.join(self.work, "content-%d" % self.seq)
        with open(src, "wb") as f:
            f.write(content)
        return src

    @staticmethod
    def entity(der, auth):
        """An application/pkcs7-mime entity around the CMS object DER."""
        stype = b"authEnveloped-data" if auth else b"enveloped-data"
        return (b"MIME-Version: 1.0\r\n"
                b"Content-Type: application/pkcs7-mime; smime-type=" + stype +
                b"; name=smime.p7m\r\n"
                b"Content-Disposition: attachment; filename=smime.p7m\r\n"
                b"Content-Transfer-Encoding: base64\r\n"
                b"\r\n" + b64lines(der))

    def encrypt_opts(self, certs, opts, content=TEXT):
        """Like encrypt(), with openssl cms options OPTS (the cipher and
        more)."""
        der = run(["openssl", "cms", "-encrypt", "-binary", "-in", self._content_file(content),
                   "-outform", "DER"] + list(opts) + list(certs))
        return self.entity(der, any("gcm" in o for o in opts))

    def message(self, tid, to, entity, subject=None, extra=b""):
        """A complete message: From/To/Subject/Date/Message-ID/X-Test-Id,
        EXTRA header lines, then ENTITY (its own MIME headers first)."""
        type(self).seq += 1
        hdr = ("From: Alice Example <%s>\r\n"
               "To: %s\r\n"
               "Subject: %s\r\n"
               "Date: %s\r\n"
               "Message-ID: <%s.%d.%d@test.example.org>\r\n"
               "X-Test-Id: %s\r\n" % (
                   self.sender, ", ".join("<%s>" % a for a in to),
                   subject or tid, email.utils.formatdate(),
                   tid, self.seq, os.getpid(), tid)).encode()
        return crlf(hdr + extra + entity)

    def plain(self, tid, to, extra=b""):
        return self.message(tid, to, b"MIME-Version: 1.0\r\n" + TEXT, extra=extra)

    # -- SMTP ------------------------------------------------------------

    def smtp(self, rcpts, msg, sender=None, port=None, tid=None):
        """One transaction on the submission port; never raises for SMTP
        replies.  Records accepted external recipients under TID."""
        o = Outcome()
        sender = self.sender if sender is None else sender
        s = None
        try:
            s = smtplib.SMTP("127.0.0.1", port or self.port, timeout=60)
            s.ehlo("client.example.org")
            code, text = s.mail(sender)
            o.mail = (code, text.decode(errors="replace"))
            if code == 250:
                for r in rcpts:
                    code, text = s.rcpt(r)
                    o.rcpt[r] = (code, text.decode(errors="replace"))
                if o.accepted and msg is not None:
                    try:
                        code, text = s.data(msg)
                    except smtplib.SMTPDataError as ex:
                        code, text = ex.smtp_code, ex.smtp_error
                    o.data = (code, text.decode(errors="replace")
                              if isinstance(text, bytes) else text)
        except (smtplib.SMTPException, OSError) as ex:
            o.error = repr(ex)
        finally:
            if s is not None:
                try:
                    s.quit()
                except (smtplib.SMTPException, OSError):
                    pass
        if tid is not None:
            self.expected_out.setdefault(tid, [])
            self.expected_out[tid] += [r for r in o.delivered if is_external(r)]
        return o

    def assert_accepted(self, o, rcpts=None):
        self.assertIsNone(o.error, o)
        self.assertIsNotNone(o.data, o)
        self.assertEqual(o.data[0], 250, o)
        if rcpts is not None:
            self.assertEqual(sorted(o.delivered), sorted(rcpts), o)

    def assert_rejected_at_data(self, o, names, not_names=(), code=550,
                                enhanced="5.7.1", words=()):
        self.assertIsNone(o.error, o)
        self.assertIsNotNone(o.data, "DATA not reached: %r" % o)
        self.assertEqual(o.data[0], code, o)
        text = o.data[1]
        self.assertTrue(text.startswith(enhanced), o)
        for n in names:
            self.assertIn(n, text, "the reply must name %s" % n)
        for n in not_names:
            self.assertNotIn(n, text, "the reply must not name %s" % n)
        for w in words:
            self.assertIn(w.lower(), text.lower(), "the reply must say %r" % w)

    # -- the sink --------------------------------------------------------

    @classmethod
    def outbound_files(cls):
        return sorted(f for f in os.listdir(cls.out_dir) if f.endswith(".eml"))

    tid_of_file = {}    # sink file name -> its X-Test-Id (files never change)

    def outbound_for(self, tid):
        """{file name: content} of the sink's files for test id TID."""
        pat = re.compile(rb"^X-Test-Id: ([^\r\n]*?)\r?$", re.M)
        res = {}
        for f in self.outbound_files():
            if f in self.out_before:
                continue
            if f not in self.tid_of_file:
                with open(os.path.join(self.out_dir, f), "rb") as fh:
                    b = fh.read()
                m = pat.search(b.split(b"\n\n", 1)[0])
                self.tid_of_file[f] = m.group(1).decode(errors="replace") if m else None
            if self.tid_of_file[f] == tid:
                with open(os.path.join(self.out_dir, f), "rb") as fh:
                    res[f] = fh.read()
        return res

    def wait_outbound(self, tid, n, timeout=30):
        deadline = time.time() + timeout
        while True:
            got = self.outbound_for(tid)
            if len(got) >= n or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(len(got), n, "%s: %d of %d messages in OUTBOUND_DIR"
                         % (tid, len(got), n))
        return got

    def assert_byte_identical(self, stored, orig):
        """STORED is ORIG after trace headers only (Return-Path,
        Delivered-To, Received), modulo CRLF/LF."""
        stored, orig = crlf(stored), crlf(orig)
        first = orig.split(b"\r\n", 1)[0] + b"\r\n"
        i = stored.find(first)
        self.assertGreaterEqual(i, 0, "the first header line is not in the stored copy")
        self.assertTrue(i == 0 or stored[i - 2:i] == b"\r\n")
        self.assertEqual(stored[i:], orig, "bytes changed on the way")
        prefix = header_names(stored[:i])
        self.assertTrue(set(prefix) <= {b"return-path", b"delivered-to", b"received"},
                        prefix)

    def assert_nothing_out(self, tid):
        time.sleep(0.3)
        self.assertEqual(self.outbound_for(tid), {}, "a rejected message went out")

    # -- daemons ---------------------------------------------------------

    def sandbox(self, *args):
        p = subprocess.run([SANDBOX] + list(args) + ["--dir", self.tmp],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def daemon_pid(self, name):
        _, out, _ = self.sandbox("status")
        m = re.search(r"^%s: running \(pid (\d+)\)" % re.escape(name), out, re.M)
        return int(m.group(1)) if m else None

    @staticmethod
    def thread_state(pid):
        """what PID and its threads wait in, for a slow death"""
        out = []
        try:
            for tid in sorted(os.listdir("/proc/%d/task" % pid)):
                d = "/proc/%d/task/%s/" % (pid, tid)
                with open(d + "stat") as f:
                    st = f.read().rsplit(")", 1)[1].split()[0]
                with open(d + "wchan") as f:
                    out.append("%s:%s/%s" % (tid, st, f.read()))
        except OSError as e:
            out.append(str(e))
        return " ".join(out)

    def kill_daemons(self, names):
        """SIGKILL the sandbox daemons NAMES at once, wait until they
        are gone (up to 120 s): the times of the kill and of their end"""
        pids = [self.daemon_pid(n) for n in names]
        deadline = time.time() + 5
        while None in pids and time.time() < deadline:
            # "sandbox status" reads /proc under a heavy load: look again
            time.sleep(0.2)
            pids = [self.daemon_pid(n) for n in names]
        self.assertNotIn(None, pids, names)
        t_kill = time.time()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        # a SIGKILLed process is gone once the kernel has finished
        # it: under CI load that took over 10 s twice and once over
        # 30 s.  Gone means gone for "sandbox status" (what the test
        # restarts by); /proc can show the group leader exited while
        # its other threads are still being torn down, so it serves
        # only to say what a slow one's threads wait in.
        deadline = t_kill + 120
        slow = {}
        while True:
            left = [p for p, n in zip(pids, names)
                    if self.daemon_pid(n) is not None]
            if not left or time.time() > deadline:
                break
            if time.time() - t_kill > 10:
                for p in left:
                    slow.setdefault(p, self.thread_state(p))
            time.sleep(0.1)
        self.assertEqual(left, [], "still there 120 s after SIGKILL: %r" %
                         [(p, self.thread_state(p)) for p in left])
        if slow:
            print("  (slow to die after SIGKILL: %.1fs, %r)" %
                  (time.time() - t_kill, slow), flush=True)
        return t_kill, time.time()

    def ensure_daemon(self, name):
        if self.daemon_pid(name) is None:
            rc, _, err = self.sandbox("start", name)
            self.assertEqual(rc, 0, err)

    def log(self, name):
        with open(os.path.join(self.env["LOG_DIR"], name), "rb") as f:
            return f.read().decode(errors="replace")

    def wait_log(self, name, pattern, since=0, timeout=30):
        """The first match of PATTERN in log NAME after offset SINCE,
        waiting for it up to TIMEOUT seconds (None: none came)."""
        rx = re.compile(pattern, re.M)
        deadline = time.time() + timeout
        while True:
            m = rx.search(self.log(name)[since:])
            if m or time.time() > deadline:
                return m
            time.sleep(0.1)

    def wait_queue_empty(self, timeout=30):
        deadline = time.time() + timeout
        while True:
            q = subprocess.run(["postqueue", "-c", self.pconf, "-j"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, timeout=30).stdout
            if not q.strip() or time.time() > deadline:
                return q.strip()
            time.sleep(0.1)

    def sendmail(self, rcpts, msg, sender=None):
        """Inject MSG through pickup (SENDMAIL, as a local program or
        Sieve would); the exit status of sendmail(1)."""
        p = subprocess.run(self.sendmail_cmd + ["-i", "-f", sender or self.sender, "--"]
                           + list(rcpts), input=msg.replace(b"\r\n", b"\n"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        return p.returncode

    def postfix_routing(self, hardened):
        """The sandbox's routing settings (HARDENED) or Postfix's
        defaults, reloaded and in effect when this returns."""
        v = "no" if hardened else "yes"
        run(["postconf", "-c", self.pconf, "-e", "allow_percent_hack=" + v,
             "swap_bangpath=" + v, "resolve_dequoted_address=" + v])
        run(["postfix", "-c", self.pconf, "reload"])
        # until a new session resolves with them: the percent hack routes
        # paula%partner.example@example.org out (her certificate: 250), or
        # not (no such local user: 550)
        probe = self.enc.replace("@", "%") + "@" + LOCAL_DOMAIN
        deadline = time.time() + 20
        while True:
            o = self.smtp([probe], None)
            if (o.rcpt.get(probe, (0,))[0] == 250) != hardened or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(o.rcpt[probe][0] == 250, not hardened, o)

    def reconfigure(self, extra):
        """smimeguard.conf as the sandbox wrote it plus EXTRA lines (""
        restores it), in effect for both daemons when this returns."""
        if not hasattr(type(self), "conf_orig"):
            with open(self.conf) as f:
                type(self).conf_orig = f.read()
        with open(self.conf, "w") as f:
            f.write(self.conf_orig + extra)
        at = len(self.log("smime-policyd.log"))
        os.kill(self.daemon_pid("smime-policyd"), signal.SIGHUP)
        self.assertIsNotNone(self.wait_log("smime-policyd.log", "reloaded", at, 10))
        rc, _, err = self.sandbox("restart", "smime-milter")
        self.assertEqual(rc, 0, err)

    def policy_conn(self, data, timeout=5):
        """Send DATA on a new policy connection; return what comes back
        until the daemon closes the connection or answers one request
        (b"" = closed without a reply)."""
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(self.policyd_sock)
        got = b""
        try:
            try:
                s.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass
            while not got.endswith(b"\n\n"):
                d = s.recv(4096)
                if not d:
                    break
                got += d
        except ConnectionResetError:
            pass
        finally:
            s.close()
        return got

    def policy_request(self, rcpt, sender=None, state="RCPT"):
        return ("request=smtpd_access_policy\nprotocol_state=%s\n"
                "protocol_name=ESMTP\nclient_address=127.0.0.1\n"
                "client_name=localhost\nhelo_name=client.example.org\n"
                "sender=%s\nrecipient=%s\nrecipient_count=0\nqueue_id=\n"
                "instance=123.456.7\nsize=0\n\n" % (
                    state, self.sender if sender is None else sender, rcpt)).encode()

    # =====================================================================

    def test_01_rcpt_time(self):
        """RCPT: encryption required and no certificate -> 550 5.7.1 naming
        the address; with a certificate, internal, no requirement -> 250."""
        o = self.smtp([self.nocert, self.enc, self.internal, self.open], None)
        self.assertIsNone(o.error, o)
        code, text = o.rcpt[self.nocert]
        self.assertEqual(code, 550, o)
        self.assertTrue(text.startswith("5.7.1"), text)
        self.assertIn(self.nocert, text)
        self.assertIn("certificate", text)
        for r in (self.enc, self.internal, self.open):
            self.assertEqual(o.rcpt[r][0], 250, "%s: %r" % (r, o.rcpt[r]))
        # the same recipient in other letter case is the same recipient
        o = self.smtp([self.nocert.upper()], None)
        self.assertEqual(o.rcpt[self.nocert.upper()][0], 550, o)

    def test_02_inbound_is_no_bypass(self):
        """The inbound port relays nothing to other domains (only
        submission lets mail out, past the policy)."""
        o = self.smtp([self.enc, self.internal], None, port=int(self.env["SMTP_PORT"]))
        self.assertIsNone(o.error, o)
        self.assertEqual(o.rcpt[self.enc][0] // 100, 5, o)
        self.assertEqual(o.rcpt[self.internal][0], 250, o)

    def test_10_plaintext_rejected(self):
        """Plaintext to a partner who must get encrypted mail: 550 5.7.1
        at end of data, naming the recipient, saying it is not encrypted;
        nothing goes out."""
        tid = "plaintext"
        o = self.smtp([self.enc], self.plain(tid, [self.enc]), tid=tid)
        self.assert_rejected_at_data(o, [self.enc], words=["not encrypted"])
        self.assert_nothing_out(tid)

    def test_11_encrypted_accepted(self):
        """Encrypted to the partner's certificate (AES-256-GCM and
        AES-256-CBC; with the sender's own copy, and without): accepted,
        stored byte for byte in OUTBOUND_DIR."""
        cases = [
            ("enc-gcm", [self.cert(self.enc), self.cert(self.sender)], "-aes-256-gcm"),
            ("enc-cbc", [self.cert(self.enc)], "-aes-256-cbc"),
        ]
        for tid, certs, cipher in cases:
            with self.subTest(case=tid):
                mlog = len(self.log("smime-milter.log"))
                msg = self.message(tid, [self.enc], self.encrypt(certs, cipher))
                o = self.smtp([self.enc], msg, tid=tid)
                self.assert_accepted(o, [self.enc])
                # every decision is logged, an acceptance too, with its rule
                self.assertIsNotNone(self.wait_log(
                    "smime-milter.log", r"\w+: from=<%s> to=<%s> status=encrypted: "
                    r"accepted: policy satisfied \(recipient rule partner\.example\)"
                    % (re.escape(self.sender), re.escape(self.enc)), mlog, 10))
                got = self.wait_outbound(tid, 1)
                stored = list(got.values())[0]
                self.assert_byte_identical(stored, msg)
                self.assertTrue(stored.startswith(b"Return-Path: <%s>" % self.sender.encode()))
                self.assertIn(b"\nDelivered-To: %s\n" % self.enc.encode(), stored)
                # the stored copy still decrypts with the partner's key
                p = os.path.join(self.work, tid + ".stored")
                with open(p, "wb") as f:
                    f.write(stored)
                out = run(["openssl", "cms", "-decrypt", "-in", p,
                           "-recip", self.cert(self.enc),
                           "-inkey", os.path.join(self.pki, self.enc + ".key")])
                self.assertEqual(crlf(out), crlf(TEXT))

    def test_12_wrong_encryption_rejected(self):
        """Encrypted only to the sender, to an unrelated certificate,
        plaintext labelled pkcs7-mime (base64 garbage, plain text), and
        an encrypted part that is not the message root: all rejected at
        end of data with a reason."""
        real = self.encrypt([self.cert(self.enc)])
        attach = (b"MIME-Version: 1.0\r\n"
                  b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
                  b"--b1\r\n" + TEXT + b"\r\n--b1\r\n" +
                  real.split(b"\r\n", 1)[1] + b"\r\n--b1--\r\n")
        garbage = os.urandom(3000)
        cases = {
            "only-sender": self.encrypt([self.cert(self.sender)]),
            "unrelated": self.encrypt([self.cert(self.internal)]),
            "label-garbage": (
                b"MIME-Version: 1.0\r\n"
                b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data;"
                b" name=smime.p7m\r\n"
                b"Content-Transfer-Encoding: base64\r\n\r\n" + b64lines(garbage)),
            "label-plaintext": (
                b"MIME-Version: 1.0\r\n"
                b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data;"
                b" name=smime.p7m\r\n"
                b"Content-Transfer-Encoding: 7bit\r\n\r\n"
                b"This is not encrypted at all.\r\n"),
            "not-at-root": attach,
        }
        for tid, entity in cases.items():
            with self.subTest(case=tid):
                o = self.smtp([self.enc], self.message(tid, [self.enc], entity), tid=tid)
                self.assert_rejected_at_data(o, [self.enc])
                self.assertGreater(len(o.data[1]), 40, "no reason given: %r" % o)
                self.assert_nothing_out(tid)
        # the reasons a user can act on
        o = self.smtp([self.enc], self.message("only-sender-2", [self.enc],
                                                cases["only-sender"]), tid="only-sender-2")
        self.assertIn("not encrypted to this recipient", o.data[1])

    def test_13_large(self):
        """5 MB: encrypted to the partner -> accepted and stored byte for
        byte; plaintext -> rejected (the milter spools big messages to a
        file instead of holding them in memory)."""
        line = b"0123456789 the quick brown fox jumps over the lazy dog 0123456789\r\n"
        big = b"Content-Type: text/plain\r\n\r\n" + line * (5 * 1024 * 1024 // len(line))
        tid = "large-enc"
        msg = self.message(tid, [self.enc], self.encrypt([self.cert(self.enc)], content=big))
        self.assertGreater(len(msg), 5 * 1024 * 1024)
        o = self.smtp([self.enc], msg, tid=tid)
        self.assert_accepted(o, [self.enc])
        self.assert_byte_identical(list(self.wait_outbound(tid, 1).values())[0], msg)
        tid = "large-plain"
        o = self.smtp([self.enc], self.message(tid, [self.enc], b"MIME-Version: 1.0\r\n" + big),
                      tid=tid)
        self.assert_rejected_at_data(o, [self.enc], words=["not encrypted"])
        self.assert_nothing_out(tid)

    def test_20_multi_recipient(self):
        """One decision for the message: internal + partner on encrypted
        mail -> accepted for both; on plaintext -> rejected as a whole,
        the reply naming only the partner; a recipient refused at RCPT
        does not spoil the others."""
        tid = "multi-enc"
        msg = self.message(tid, [self.internal, self.enc, self.open],
                           self.encrypt([self.cert(self.enc), self.cert(self.internal)]))
        o = self.smtp([self.internal, self.enc, self.open], msg, tid=tid)
        self.assert_accepted(o, [self.internal, self.enc, self.open])
        got = self.wait_outbound(tid, 2)
        for stored in got.values():
            self.assert_byte_identical(stored, msg)

        tid = "multi-plain"
        o = self.smtp([self.internal, self.open, self.enc],
                      self.plain(tid, [self.internal, self.open, self.enc]), tid=tid)
        self.assert_rejected_at_data(o, [self.enc], not_names=[self.internal, self.open],
                                     words=["not encrypted"])
        self.assert_nothing_out(tid)

        tid = "multi-nocert"
        msg = self.message(tid, [self.nocert, self.enc],
                           self.encrypt([self.cert(self.enc)]))
        o = self.smtp([self.nocert, self.enc], msg, tid=tid)
        self.assertEqual(o.rcpt[self.nocert][0], 550, o)
        self.assert_accepted(o, [self.enc])
        self.wait_outbound(tid, 1)

        tid = "open-plain"
        mlog = len(self.log("smime-milter.log"))
        msg = self.plain(tid, [self.open])
        o = self.smtp([self.open], msg, tid=tid)
        self.assert_accepted(o, [self.open])
        self.assert_byte_identical(list(self.wait_outbound(tid, 1).values())[0], msg)
        # decided from the envelope: no rule for the recipient, so the
        # milter accepted at DATA without reading the message (one line)
        self.assertIsNotNone(self.wait_log(
            "smime-milter.log", r"\w+: from=<[^>]*> to=<%s>: accepted unread: "
            r"no recipient needs a check" % re.escape(self.open), mlog, 10))
        # ... but one recipient with a rule among them: read and refused
        tid = "open-plus-partner"
        mlog = len(self.log("smime-milter.log"))
        o = self.smtp([self.open, self.enc], self.plain(tid, [self.open, self.enc]), tid=tid)
        self.assert_rejected_at_data(o, [self.enc], not_names=[self.open],
                                     words=["not encrypted"])
        self.assert_nothing_out(tid)
        self.assertNotIn("accepted unread", self.log("smime-milter.log")[mlog:])

    def test_30_exemptions(self):
        """Issue 10, item 3: plaintext to the partner from the null
        sender, or with Auto-Submitted (auto-replied, auto-generated, and
        the values that once passed: "nope", "No"), is refused: any
        submitter can write those.  With policy_exemptions and the client
        in policy_exemption_clients, the null sender and RFC 3834's values
        pass; other values and two Auto-Submitted fields still do not."""
        cases = [("null-sender", "", b""),
                 ("auto-replied", None, b"Auto-Submitted: auto-replied\r\n"),
                 ("auto-generated", None, b"Auto-Submitted: auto-generated\r\n"),
                 ("auto-nope", None, b"Auto-Submitted: nope\r\n"),
                 ("auto-no", None, b"Auto-Submitted: No\r\n")]
        for tid, sender, extra in cases:
            with self.subTest(case=tid):
                o = self.smtp([self.enc], self.plain(tid, [self.enc], extra=extra),
                              sender=sender, tid=tid)
                self.assert_rejected_at_data(o, [self.enc], words=["not encrypted"])
        # exemptions named, for this client (the sandbox's clients are
        # 127.0.0.1, like its after-queue check, which a site must never
        # name; a client not named is in suite-policy.c and
        # test-smimectl.sh)
        try:
            self.reconfigure("policy_exemptions = null-sender, auto-submitted\n"
                             "policy_exemption_clients = 192.0.2.0/24, 127.0.0.0/8\n")
            tid = "null-sender-exempt"
            msg = self.plain(tid, [self.enc])
            o = self.smtp([self.enc], msg, sender="", tid=tid)
            self.assert_accepted(o, [self.enc])
            stored = list(self.wait_outbound(tid, 1).values())[0]
            # pipe(8) writes the null sender as MAILER-DAEMON
            self.assertRegex(stored, rb"^Return-Path: <(MAILER-DAEMON)?>\n", stored[:80])
            self.assert_byte_identical(stored, msg)
            tid = "auto-replied-exempt"
            msg = self.plain(tid, [self.enc],
                             extra=b"Auto-Submitted: auto-replied; owner-email=alice@example.org\r\n")
            o = self.smtp([self.enc], msg, tid=tid)
            self.assert_accepted(o, [self.enc])
            self.assert_byte_identical(list(self.wait_outbound(tid, 1).values())[0], msg)
            for tid, extra in (("auto-nope-exempt-client", b"Auto-Submitted: nope\r\n"),
                               ("auto-twice", b"Auto-Submitted: auto-replied\r\n"
                                              b"Auto-Submitted: no\r\n")):
                o = self.smtp([self.enc], self.plain(tid, [self.enc], extra=extra), tid=tid)
                self.assert_rejected_at_data(o, [self.enc])
                self.assert_nothing_out(tid)
        finally:
            self.reconfigure("")
        for tid, _, _ in cases:
            self.assertEqual(self.outbound_for(tid), {}, tid)

    # Issue 10, item 1: spellings that Postfix routes to the partner
    SPELLINGS = ["{u}@partner.example.", "{U}@PARTNER.EXAMPLE.", "{u}%partner.example@example.org",
                 "partner.example!{u}@example.org", '"{u}@partner.example"@example.org',
                 "{u}@partner.example@example.org", "{u}%partner.example@localhost",
                 "{u}%partner.example@example.org.", '"{u}%partner.example"@example.org',
                 "<@example.org:{u}@partner.example>"]

    def _spellings(self, label):
        """Plaintext to every spelling of the partner (paula, with a
        certificate) and of nico (none): refused, at RCPT or at the end
        of data, never in OUTBOUND_DIR."""
        for spelling in self.SPELLINGS:
            for user in ("paula", "nico"):
                rcpt = spelling.format(u=user, U=user.upper())
                tid = "spelling-%s-%s-%d" % (label, user, self.SPELLINGS.index(spelling))
                with self.subTest(postfix=label, rcpt=rcpt):
                    o = Outcome()
                    s = smtplib.SMTP("127.0.0.1", self.port, timeout=60)
                    try:
                        s.ehlo("client.example.org")
                        o.mail = s.mail(self.sender)
                        arg = rcpt if rcpt.startswith("<") else "<%s>" % rcpt
                        code, text = s.docmd("RCPT TO:" + arg)
                        o.rcpt[rcpt] = (code, text.decode(errors="replace"))
                        if code == 250:
                            try:
                                code, text = s.data(self.plain(tid, [self.enc]))
                            except smtplib.SMTPDataError as ex:
                                code, text = ex.smtp_code, ex.smtp_error
                            o.data = (code, text.decode(errors="replace"))
                    finally:
                        s.quit()
                    final = o.data or o.rcpt[rcpt]
                    self.assertEqual(final[0] // 100, 5, o)
                    if o.data is not None:
                        self.assertTrue(o.data[1].startswith("5.7.1 S/MIME policy"), o)
                        self.assertIn("not encrypted", o.data[1])
                    self.assertEqual(self.outbound_for(tid), {}, "plaintext went out: %r" % o)

    def test_31_recipient_spellings(self):
        """Issue 10, item 1: trailing dot (also upper case), percent hack,
        bang path, quoted "@", double "@", routing through localhost, a
        source route: plaintext to the partner is refused in every
        spelling, with the sandbox's routing settings (allow_percent_hack,
        swap_bangpath, resolve_dequoted_address = no) and with Postfix's
        defaults (where Postfix routes them all to partner.example);
        there, mail encrypted to the partner in such a spelling reaches
        her."""
        self._spellings("hardened")
        try:
            self.postfix_routing(hardened=False)
            self._spellings("defaults")
            for i, rcpt in enumerate(["paula%partner.example@example.org",
                                      '"paula@partner.example"@example.org',
                                      "partner.example!paula@example.org"]):
                tid = "spelling-encrypted-%d" % i
                msg = self.message(tid, [self.enc], self.encrypt([self.cert(self.enc)]))
                o = self.smtp([rcpt], msg)
                self.assert_accepted(o, [rcpt])
                self.expected_out[tid] = [self.enc]
                self.assert_byte_identical(list(self.wait_outbound(tid, 1).values())[0], msg)
        finally:
            self.postfix_routing(hardened=True)
        time.sleep(0.3)
        for tid in [t for t in self.expected_out if t.startswith("spelling-")]:
            if not tid.startswith("spelling-encrypted"):
                self.assertEqual(self.outbound_for(tid), {})

    def test_32_long_addresses(self):
        """Issue 10, item 2: a recipient or sender over 254 octets is
        refused (501 5.5.4), not truncated into something internal."""
        long_nico = "nico+" + "a" * 300 + "@partner.example"
        o = self.smtp([long_nico, self.internal], None)
        self.assertEqual(o.rcpt[long_nico][0], 501, o)
        self.assertTrue(o.rcpt[long_nico][1].startswith("5.5.4"), o)
        self.assertEqual(o.rcpt[self.internal][0], 250, o)
        long_sender = "alice+" + "b" * 300 + "@example.org"
        tid = "long-sender"
        o = self.smtp([self.enc], self.plain(tid, [self.enc]), sender=long_sender, tid=tid)
        self.assertEqual(o.rcpt[self.enc][0], 501, o)
        self.assertIsNone(o.data)
        self.assert_nothing_out(tid)

    def test_33_recipient_cap(self):
        """Issue 10, item 7: past its 1,000th recipient the milter refuses
        (452 4.5.3) instead of passing the rest unchecked (submission
        allows 1,500 here, so the milter's cap is what a client meets)."""
        rcpts = ["olga+%d@elsewhere.example" % i for i in range(1000)] + [self.enc]
        s = smtplib.SMTP("127.0.0.1", self.port, timeout=120)
        try:
            s.ehlo("client.example.org")
            self.assertEqual(s.mail(self.sender)[0], 250)
            got = [s.rcpt(r) for r in rcpts]
            s.rset()
        finally:
            s.quit()
        self.assertEqual(sorted(set(c for c, _ in got[:1000])), [250])
        code, text = got[1000]
        self.assertEqual(code, 452, text)
        self.assertTrue(text.startswith(b"4.5.3"), text)
        self.assertIn(b"S/MIME", text)

    def test_34_every_path_out(self):
        """Issue 10, item 7: plaintext injected with sendmail(1) (pickup)
        is refused by the milter (non_smtpd_milters) before it is queued;
        plaintext to FORWARD_RCPT, an internal address that a virtual
        alias expands to the partner, is accepted for the internal
        address, then refused by the after-queue check and bounced to the
        sender, never relayed; so is the bounce of it to a partner
        sender.  Encrypted to the partner, both paths deliver."""
        # pickup
        tid = "sendmail-plain"
        at = len(self.log("postfix.log"))
        self.assertEqual(self.sendmail([self.enc], self.plain(tid, [self.enc])), 0)
        m = self.wait_log("postfix.log", r"postfix/cleanup\[\d+\]: (\w+): milter-reject: "
                          r"END-OF-MESSAGE .*not encrypted.*to=<%s>" % re.escape(self.enc), at)
        self.assertIsNotNone(m, "pickup mail was not checked by the milter")
        tid = "sendmail-enc"
        msg = self.message(tid, [self.enc], self.encrypt([self.cert(self.enc)]))
        self.assertEqual(self.sendmail([self.enc], msg), 0)
        self.expected_out[tid] = [self.enc]
        self.wait_outbound(tid, 1)
        # an alias that expands outside
        tid = "forward-plain"
        at = len(self.log("postfix.log"))
        o = self.smtp([self.forward], self.plain(tid, [self.forward]))
        self.assert_accepted(o, [self.forward])
        m = self.wait_log("postfix.log", r"to=<%s>, orig_to=<%s>, relay=\S+, .*dsn=5\.7\.1, "
                          r"status=bounced \(.*not encrypted" % (re.escape(self.enc),
                                                                 re.escape(self.forward)), at)
        self.assertIsNotNone(m, "the expanded recipient was not refused: %s"
                             % self.log("postfix.log")[at:][-2000:])
        self.assertIsNotNone(self.wait_log("postfix.log", r"sender non-delivery notification", at))
        tid = "forward-enc"
        msg = self.message(tid, [self.forward], self.encrypt([self.cert(self.enc)]))
        o = self.smtp([self.forward], msg)
        self.assert_accepted(o, [self.forward])
        self.expected_out[tid] = [self.enc]
        self.assert_byte_identical(list(self.wait_outbound(tid, 1).values())[0], msg)
        # with an open recipient beside it: each external recipient is
        # checked on its own (olga gets the plaintext, paula does not)
        tid = "forward-plain-mixed"
        o = self.smtp([self.forward, self.open], self.plain(tid, [self.forward, self.open]))
        self.assert_accepted(o, [self.forward, self.open])
        self.expected_out[tid] = [self.open]
        self.wait_outbound(tid, 1)
        # a partner sender: the bounce (null sender, plaintext inside)
        # must not reach her either; it is discarded after the check
        tid = "forward-bounce-to-partner"
        at = len(self.log("postfix.log"))
        o = self.smtp([self.forward], self.plain(tid, [self.forward]), sender=self.enc)
        self.assert_accepted(o, [self.forward])
        m = self.wait_log("postfix.log", r"postfix/sgcheck/smtp\[\d+\]: \w+: to=<%s>, relay=.*"
                          r"dsn=5\.7\.1, status=bounced" % re.escape(self.enc), at)
        self.assertIsNotNone(m, "the bounce to the partner was not refused")
        self.assertEqual(self.wait_queue_empty(), b"", "mail left in the queue")
        for tid in ("sendmail-plain", "forward-plain", "forward-bounce-to-partner"):
            self.assertEqual(self.outbound_for(tid), {}, tid)
        self.assertEqual([f for f in self.outbound_for("forward-plain-mixed") if self.enc in f], [])

    def test_35_weak_ciphers(self):
        """Issue 10, item 6: encrypted to the partner's certificate, but
        with DES, RC2-40, RC2-128 or 3DES, or with a password or shared-key
        RecipientInfo beside hers: refused, naming the cipher or the
        RecipientInfo; AES-128 (CBC and GCM) and Camellia-128 pass; for an
        encrypt-aead rule, an AuthEnvelopedData that names CBC is refused
        and AES-128-GCM passes."""
        self._runtime_setup()
        legacy = ["-provider", "legacy", "-provider", "default"]
        pem = self.cert(self.enc)
        refused = [("des", ["-des"] + legacy, "des-cbc"),
                   ("rc2-40", ["-rc2-40"] + legacy, "rc2"),
                   ("rc2-128", ["-rc2-128"] + legacy, "rc2"),
                   ("3des", ["-des3"], "des-ede3-cbc"),
                   ("pwri", ["-aes256", "-pwri_password", "weak"], "RecipientInfo 2"),
                   ("kekri", ["-aes256", "-secretkey", "000102030405060708090a0b0c0d0e0f",
                              "-secretkeyid", "0a0b"], "RecipientInfo 2")]
        for name, opts, word in refused:
            with self.subTest(cipher=name):
                tid = "cipher-" + name
                o = self.smtp([self.enc], self.message(tid, [self.enc],
                                                       self.encrypt_opts([pem], opts)), tid=tid)
                self.assert_rejected_at_data(o, [self.enc], words=[word])
                self.assert_nothing_out(tid)
        for name, opts in (("aes128", ["-aes128"]), ("aes128gcm", ["-aes-128-gcm"]),
                           ("camellia128", ["-camellia128"])):
            with self.subTest(cipher=name):
                tid = "cipher-" + name
                msg = self.message(tid, [self.enc], self.encrypt_opts([pem], opts))
                o = self.smtp([self.enc], msg, tid=tid)
                self.assert_accepted(o, [self.enc])
                self.wait_outbound(tid, 1)
        # AEAD is the algorithm: AuthEnvelopedData naming aes-256-cbc
        tid = "aead-authenv-cbc"
        der = run(["openssl", "cms", "-encrypt", "-binary", "-aes-256-gcm", "-in",
                   self._content_file(TEXT), "-outform", "DER", self.certs["aead"]])
        gcm = bytes.fromhex("060960864801650304012e")
        self.assertEqual(der.count(gcm), 1)
        der = der.replace(gcm, gcm[:-1] + b"\x2a")
        o = self.smtp([AEAD_RCPT], self.message(tid, [AEAD_RCPT], self.entity(der, True)), tid=tid)
        self.assert_rejected_at_data(o, [AEAD_RCPT], words=["AES-GCM", "aes-256-cbc"])
        self.assert_nothing_out(tid)
        tid = "aead-gcm128"
        o = self.smtp([AEAD_RCPT], self.message(
            tid, [AEAD_RCPT], self.encrypt_opts([self.certs["aead"]], ["-aes-128-gcm"])), tid=tid)
        self.assert_accepted(o, [AEAD_RCPT])
        self.wait_outbound(tid, 1)

    def test_36_doctor_reads_the_sandbox(self):
        """smimectl doctor --postfix-config on the sandbox's Postfix: no
        postfix-* finding (routing tricks off, milters for smtpd and
        pickup, the after-queue check found through default_transport);
        with allow_percent_hack = yes in a copy, that one finding."""
        smimectl = os.path.join(os.environ.get("SG_BUILD", TOP), "tools", "smimectl")
        if not os.access(smimectl, os.X_OK):
            self.skipTest("no smimectl in SG_BUILD")

        def codes(pdir):
            p = subprocess.run([smimectl, "doctor", "-c", self.conf, "--json",
                                "--postfix-config", pdir], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60)
            import json
            return sorted(f["code"] for f in json.loads(p.stdout)["findings"]
                          if f["code"].startswith("postfix-"))

        self.assertEqual(codes(self.pconf), [])
        copy = os.path.join(self.work, "postfix-copy")
        shutil.rmtree(copy, ignore_errors=True)
        os.makedirs(copy)
        for f in ("main.cf", "master.cf"):
            shutil.copy(os.path.join(self.pconf, f), copy)
        with open(os.path.join(copy, "main.cf"), "a") as f:
            f.write("allow_percent_hack = yes\n")
        self.assertEqual(codes(copy), ["postfix-percent-hack"])

    def test_37_ambiguous_structure(self):
        """Issue 10, items 4 and 5, outbound: plaintext beside a real
        EnvelopedData to the partner is not "encrypted" - a
        multipart/signed with two boundary parameters (any case) whose
        first-boundary part is plaintext, and an EnvelopedData followed by
        plaintext in the same base64 body: refused, nothing out."""
        der = run(["openssl", "cms", "-encrypt", "-binary", "-aes-256-gcm", "-in",
                   self._content_file(TEXT), "-outform", "DER", self.cert(self.enc)])
        enc = self.entity(der, True)
        sig = b64lines(b"\x30\x03\x02\x01\x00")
        dup = []
        for second in (b"boundary", b"BOUNDARY"):
            dup.append(
                b"MIME-Version: 1.0\r\n"
                b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";"
                b" micalg=sha-256; boundary=\"PLAIN\"; " + second + b"=\"ENC\"\r\n\r\n"
                b"--PLAIN\r\n" + TEXT +
                b"--ENC\r\n" + enc.split(b"\r\n", 1)[1] +
                b"--ENC\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n"
                b"Content-Transfer-Encoding: base64\r\n\r\n" + sig + b"--ENC--\r\n"
                b"--PLAIN\r\nContent-Type: application/pkcs7-signature\r\n\r\nx\r\n"
                b"--PLAIN--\r\n")
        trailing = self.entity(der + b"\r\n" + TEXT, True)
        for name, entity in (("dup-boundary", dup[0]), ("dup-boundary-case", dup[1]),
                             ("trailing-plaintext", trailing)):
            with self.subTest(case=name):
                tid = "ambiguous-" + name
                o = self.smtp([self.enc], self.message(tid, [self.enc], entity), tid=tid)
                self.assert_rejected_at_data(o, [self.enc], words=["not encrypted"])
                self.assert_nothing_out(tid)

    def test_40_policy_protocol_hostile(self):
        """Malformed policy requests: the connection is closed without a
        reply, and the daemon keeps answering; a connection is reused
        for several requests."""
        pid = self.daemon_pid("smime-policyd")
        self.assertIsNotNone(pid)
        good = self.policy_request(self.nocert)
        cases = {
            "garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\n\n",
            "no '='": b"request=smtpd_access_policy\nthis line has no equals sign\n\n",
            "20 KB line": (b"request=smtpd_access_policy\nprotocol_state=RCPT\nsender="
                           + b"a" * 20480 + b"\nrecipient=x@partner.example\n\n"),
            "NUL": (b"request=smtpd_access_policy\nprotocol_state=RCPT\n"
                    b"sender=a\x00b@example.org\nrecipient=x@partner.example\n\n"),
            "empty request": b"\n",
            "bad name": b"request=smtpd_access_policy\nBad Name=1\n\n",
            "200 attributes": (b"request=smtpd_access_policy\n"
                               + b"".join(b"a%d=1\n" % i for i in range(200)) + b"\n"),
            "wrong request type": b"request=junk\nprotocol_state=RCPT\n\n",
            "garbage after a good request": good + b"\x00\x01\x02\n\n",
        }
        for name, data in cases.items():
            with self.subTest(case=name):
                got = self.policy_conn(data)
                if name == "garbage after a good request":
                    self.assertTrue(got.startswith(b"action=550 5.7.1"), got)
                else:
                    self.assertEqual(got, b"", "a reply to a malformed request")
                self.assertEqual(self.daemon_pid("smime-policyd"), pid, "the daemon died")
        # a correct request afterwards, then several on one connection
        # the address is not repeated: Postfix prefixes "<addr>: Recipient
        # address rejected: " itself
        got = self.policy_conn(good)
        self.assertTrue(got.startswith(b"action=550 5.7.1 mail to this recipient"), got)
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(self.policyd_sock)
        try:
            want = []
            batch = b""
            for r in (self.nocert, self.enc, self.internal, self.open) * 5:
                batch += self.policy_request(r)
                want.append(b"action=550 5.7.1" if r == self.nocert else b"action=DUNNO")
            # all at once (pipelined), and in pieces of 7 bytes
            s.sendall(batch)
            replies = self._read_replies(s, len(want))
            for piece in range(0, len(batch), 7):
                s.sendall(batch[piece:piece + 7])
            replies += self._read_replies(s, len(want))
            for w, r in zip(want * 2, replies):
                self.assertTrue(r.startswith(w), (w, r))
        finally:
            s.close()
        # other protocol states: no opinion
        self.assertEqual(self.policy_conn(self.policy_request(self.nocert, state="DATA")),
                         b"action=DUNNO\n\n")

    @staticmethod
    def _read_replies(s, n):
        buf = b""
        while buf.count(b"\n\n") < n:
            d = s.recv(65536)
            if not d:
                break
            buf += d
        return [r + b"\n\n" for r in buf.split(b"\n\n")[:n]]

    def test_41_policy_concurrency(self):
        """200 concurrent policy connections, each with a valid request,
        all answered correctly."""
        n = 200
        socks = []
        try:
            for i in range(n):
                s = socket.socket(socket.AF_UNIX)
                s.settimeout(30)
                s.connect(self.policyd_sock)
                socks.append(s)
            for i, s in enumerate(socks):
                s.sendall(self.policy_request(self.nocert if i % 2 else self.enc))
            bad = []
            for i, s in enumerate(socks):
                got = self._read_replies(s, 1)
                want = b"action=550 5.7.1" if i % 2 else b"action=DUNNO"
                if not got or not got[0].startswith(want):
                    bad.append((i, got))
            self.assertEqual(bad[:5], [], "%d of %d wrong" % (len(bad), n))
        finally:
            for s in socks:
                s.close()
        # and from many threads at once, each its own connection
        errors = []

        def worker(k):
            try:
                for _ in range(10):
                    got = self.policy_conn(self.policy_request(self.nocert), timeout=30)
                    if not got.startswith(b"action=550 5.7.1"):
                        errors.append(got)
            except OSError as ex:
                errors.append(repr(ex))

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors[:5], [])

    def test_42_slow_clients_and_connection_floods(self):
        """A client that trickles one byte a second is disconnected after
        policy_request_timeout (3 s here, set at run time with SIGHUP);
        while it trickles, and while 3,000 idle connections are open
        (more than the daemon's 2,048 and than a default descriptor
        limit), a new connection is still answered at once: the idle
        ones make room.  The daemon neither dies nor spins."""
        pid = self.daemon_pid("smime-policyd")
        self.assertIsNotNone(pid)
        with open(self.conf) as f:
            saved = f.read()
        try:
            with open(self.conf, "a") as f:
                f.write("policy_request_timeout = 3\n")
            log_at = len(self.log("smime-policyd.log"))
            os.kill(pid, signal.SIGHUP)
            deadline = time.time() + 10
            while ("reloaded" not in self.log("smime-policyd.log")[log_at:]
                   and time.time() < deadline):
                time.sleep(0.1)
            # slowloris: one byte a second
            slow = socket.socket(socket.AF_UNIX)
            slow.settimeout(1)
            slow.connect(self.policyd_sock)
            data = self.policy_request(self.nocert)
            t0 = time.time()
            closed_after = None
            for i in range(len(data)):
                try:
                    slow.sendall(data[i:i + 1])
                    if slow.recv(100) == b"":
                        closed_after = time.time() - t0
                        break
                except socket.timeout:
                    pass
                except (BrokenPipeError, ConnectionResetError):
                    closed_after = time.time() - t0
                    break
                if i == 2:      # others are served meanwhile
                    got = self.policy_conn(self.policy_request(self.nocert))
                    self.assertTrue(got.startswith(b"action=550 5.7.1"), got)
                if time.time() - t0 > 20:
                    break
            slow.close()
            self.assertIsNotNone(closed_after, "a trickling client kept its connection")
            # (policy_request_timeout 3 s, swept every 2 s; a loaded
            # machine may be late, a connection never closed is not)
            self.assertLess(closed_after, 15)
            self.assertIn("policy_request_timeout", self.log("smime-policyd.log")[log_at:])
            # a flood of idle connections
            import resource
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
            flood = []
            try:
                # blocking connects: each one really reaches the daemon (a
                # non-blocking connect fails while the listen backlog is
                # full, and the flood would be smaller than it looks)
                def too_slow(signum, frame):
                    raise TimeoutError("the daemon stopped accepting connections")
                old_handler = signal.signal(signal.SIGALRM, too_slow)
                signal.alarm(60)
                try:
                    for _ in range(3000):
                        s = socket.socket(socket.AF_UNIX)
                        s.connect(self.policyd_sock)    # blocking: waits for room
                        flood.append(s)
                finally:
                    signal.alarm(0)
                    signal.signal(signal.SIGALRM, old_handler)
                time.sleep(0.5)
                t1 = time.time()
                got = self.policy_conn(self.policy_request(self.nocert), timeout=10)
                self.assertTrue(got.startswith(b"action=550 5.7.1"), got)
                self.assertLess(time.time() - t1, 9)
            finally:
                for s in flood:
                    s.close()
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            self.assertIn("too many connections", self.log("smime-policyd.log")[log_at:])
            self.assertEqual(self.daemon_pid("smime-policyd"), pid, "the daemon died")
            # not spinning: little CPU used over two idle seconds
            def cpu():
                with open("/proc/%d/stat" % pid) as f:
                    v = f.read().rsplit(")", 1)[1].split()
                return int(v[11]) + int(v[12])
            c0 = cpu()
            time.sleep(2)
            self.assertLess(cpu() - c0, os.sysconf("SC_CLK_TCK") // 2,
                            "the policy service spins while idle")
        finally:
            with open(self.conf, "w") as f:
                f.write(saved)
            os.kill(pid, signal.SIGHUP)

    def test_43_socket_modes(self):
        """The daemons' unix sockets are mode 0660, group postfix: Postfix
        connects (every other test), another local user cannot."""
        import grp
        socks = [self.policyd_sock,
                 self.env.get("MILTER_SOCKET", os.path.join(os.path.dirname(self.policyd_sock),
                                                            "milter.sock"))]
        for path in socks:
            with self.subTest(socket=path):
                st = os.stat(path)
                self.assertEqual(st.st_mode & 0o777, 0o660, oct(st.st_mode))
                self.assertEqual(grp.getgrgid(st.st_gid).gr_name, "postfix")
                p = subprocess.run(
                    ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                     "python3", "-c",
                     "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])",
                     path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                self.assertNotEqual(p.returncode, 0, "user nobody could connect to " + path)
                self.assertIn(b"PermissionError", p.stderr)

    def test_50_policy_service_down(self):
        """The policy service dies: Postfix answers 451 4.3.5 at RCPT
        (smtpd_policy_service_default_action), nothing is accepted; after
        a restart mail flows again."""
        try:
            self.kill_daemons(["smime-policyd"])
            tid = "policyd-down"
            msg = self.message(tid, [self.enc], self.encrypt([self.cert(self.enc)]))
            o = self.smtp([self.enc, self.internal], msg, tid=tid)
            self.assertIsNone(o.error, o)
            for r in (self.enc, self.internal):
                code, text = o.rcpt[r]
                self.assertEqual(code, 451, o)
                self.assertTrue(text.startswith("4.3.5"), o)
            self.assertIsNone(o.data)
            rc, _, err = self.sandbox("start", "smime-policyd")
            self.assertEqual(rc, 0, err)
            o = self.smtp([self.enc], msg, tid=tid)
            self.assert_accepted(o, [self.enc])
            self.wait_outbound(tid, 1)
        finally:
            self.ensure_daemon("smime-policyd")

    def test_51_policy_service_hangs(self):
        """The policy service hangs (SIGSTOP): after the policy timeout
        (5s in the sandbox, tried twice) Postfix answers 451 4.3.5; when
        it runs again, so does the mail."""
        pid = self.daemon_pid("smime-policyd")
        self.assertIsNotNone(pid)
        os.kill(pid, signal.SIGSTOP)
        try:
            t0 = time.time()
            o = self.smtp([self.enc], None)
            took = time.time() - t0
            self.assertEqual(o.rcpt[self.enc][0], 451, o)
            self.assertTrue(o.rcpt[self.enc][1].startswith("4.3.5"), o)
            self.assertGreater(took, 4, "answered without waiting for the service?")
        finally:
            os.kill(pid, signal.SIGCONT)
        tid = "policyd-resumed"
        msg = self.message(tid, [self.enc], self.encrypt([self.cert(self.enc)]))
        o = self.smtp([self.enc], msg, tid=tid)
        self.assert_accepted(o, [self.enc])
        self.assertEqual(self.daemon_pid("smime-policyd"), pid)

    def test_52_milter_restart(self):
        """The milter goes away between transactions: with
        milter_default_action = tempfail mail gets 4xx (nothing accepted
        unchecked); after a restart mail is accepted again.  A milter
        killed in the middle of a session: the transaction fails
        temporarily, nothing is accepted."""
        tid = "milter-down"
        msg = self.message(tid, [self.enc], self.encrypt([self.cert(self.enc)]))
        plain = self.plain(tid + "-plain", [self.enc])
        try:
            rc, _, err = self.sandbox("stop", "smime-milter")
            self.assertEqual(rc, 0, err)
            for m in (msg, plain):
                o = self.smtp([self.enc], m, tid=tid)
                codes = [o.mail[0]] + [c for c, _ in o.rcpt.values()] + \
                    ([o.data[0]] if o.data else [])
                self.assertEqual(o.delivered, [], o)
                self.assertIn(4, [c // 100 for c in codes], o)
            rc, _, err = self.sandbox("start", "smime-milter")
            self.assertEqual(rc, 0, err)
            o = self.smtp([self.enc], msg, tid=tid)
            self.assert_accepted(o, [self.enc])
            self.wait_outbound(tid, 1)
            o = self.smtp([self.enc], plain, tid=tid)
            self.assert_rejected_at_data(o, [self.enc])

            # killed mid-session: connected (and talking to the milter),
            # then the milter dies before the message is complete
            tid = "milter-killed"
            msg = self.message(tid, [self.enc], self.encrypt([self.cert(self.enc)]))
            s = smtplib.SMTP("127.0.0.1", self.port, timeout=60)
            try:
                s.ehlo("client.example.org")
                self.assertEqual(s.mail(self.sender)[0], 250)
                self.assertEqual(s.rcpt(self.enc)[0], 250)
                self.kill_daemons(["smime-milter"])
                try:
                    code, text = s.data(msg)
                except smtplib.SMTPDataError as ex:
                    code, text = ex.smtp_code, ex.smtp_error
                self.assertEqual(code // 100, 4, (code, text))
            finally:
                try:
                    s.quit()
                except (smtplib.SMTPException, OSError):
                    pass
            self.assert_nothing_out(tid)
        finally:
            self.ensure_daemon("smime-milter")
        o = self.smtp([self.enc], msg, tid=tid)
        self.assert_accepted(o, [self.enc])
        self.wait_outbound(tid, 1)

    def test_53_daemons_killed_under_load(self):
        """Four clients send mail through submission all the time, by
        turns encrypted to the partner and plaintext to the partner,
        while smime-policyd, then smime-milter, then both are SIGKILLed
        and restarted: no plaintext message is ever accepted; every
        accepted message goes out exactly once, byte for byte, and no
        refused one goes out; every other attempt gets a temporary error
        (451 4.3.5 at RCPT from the policy service's default action, 4xx
        from milter_default_action = tempfail), never a 5xx for encrypted
        mail; plaintext gets 550 5.7.1 only from a running milter.
        While a daemon is down nothing is accepted; after each restart
        mail flows again (encrypted accepted, plaintext refused)."""
        n_clients = 4
        entity = self.encrypt([self.cert(self.enc)])
        lock = threading.Lock()
        stop = threading.Event()
        attempts = []       # dicts: client, kind, tid, msg, o, t0, t1
        crashed = []

        def client(k):
            try:
                i = 0
                while not stop.is_set():
                    kind = ("enc", "plain")[(i + k) % 2]
                    tid = "killload-%d-%d-%s" % (k, i, kind)
                    i += 1
                    with lock:      # message() counts in the class
                        msg = (self.message(tid, [self.enc], entity) if kind == "enc"
                               else self.plain(tid, [self.enc]))
                    t0 = time.time()
                    o = self.smtp([self.enc], msg, tid=tid)
                    with lock:
                        attempts.append(dict(client=k, kind=kind, tid=tid, msg=msg,
                                             o=o, t0=t0, t1=time.time()))
            except Exception as ex:     # the test fails on it below
                crashed.append(repr(ex))

        def wait_each(t, n, seconds=45):
            """until every client has finished N attempts it began at T
            or later"""
            deadline = time.time() + seconds
            while True:
                with lock:
                    counts = [sum(1 for a in attempts if a["client"] == k and a["t0"] >= t)
                              for k in range(n_clients)]
                if min(counts) >= n or crashed or time.time() > deadline:
                    break
                time.sleep(0.05)
            self.assertEqual(crashed, [])
            self.assertGreaterEqual(min(counts), n, "clients stuck: %r" % counts)

        def ended(a):
            """(stage, code, text) of the reply that ended the transaction:
            stage "delivered", "mail", "rcpt", "data" or "error" """
            o = a["o"]
            if o.error is not None:
                return ("error", 0, o.error)
            if o.mail[0] != 250:
                return ("mail",) + o.mail
            code, text = o.rcpt[self.enc]
            if code not in (250, 251):
                return ("rcpt", code, text)
            if o.data is None:
                return ("error", 0, "DATA not sent: %r" % o)
            if o.data[0] != 250:
                return ("data",) + o.data
            return ("delivered", 250, o.data[1]) if o.delivered == [self.enc] else \
                ("error", 0, "accepted for %r" % o.delivered)

        phases = [("smime-policyd",), ("smime-milter",), ("smime-policyd", "smime-milter")]
        windows = []        # (names, killed, gone, restarting, up)
        threads = [threading.Thread(target=client, args=(k,), daemon=True)
                   for k in range(n_clients)]
        t_begin = time.time()
        try:
            for t in threads:
                t.start()
            wait_each(t_begin, 2)
            for names in phases:
                t_kill, t_gone = self.kill_daemons(names)
                wait_each(t_gone, 1)
                t_restart = time.time()
                for name in names:
                    rc, _, err = self.sandbox("start", name)
                    self.assertEqual(rc, 0, err)
                t_up = time.time()
                wait_each(t_up, 2)
                windows.append((names, t_kill, t_gone, t_restart, t_up))
        finally:
            stop.set()
            deadline = time.time() + 90
            for t in threads:
                t.join(max(0.1, deadline - time.time()))
            self.ensure_daemon("smime-policyd")
            self.ensure_daemon("smime-milter")
        self.assertEqual([t.is_alive() for t in threads], [False] * n_clients,
                         "an SMTP client hangs")
        self.assertEqual(crashed, [])

        problems = []
        for a in attempts:
            stage, code, text = ended(a)
            if stage == "error":
                problems.append(("no SMTP reply", a["tid"], a["o"]))
            elif a["kind"] == "plain" and stage == "delivered":
                problems.append(("plaintext accepted", a["tid"], a["o"]))
            elif code // 100 == 5 and not (
                    a["kind"] == "plain" and stage == "data" and code == 550
                    and text.startswith("5.7.1") and "not encrypted" in text):
                problems.append(("5xx", a["tid"], a["o"]))
            elif code // 100 == 4 and not (code == 451 and (
                    text.startswith("4.7.1 Service unavailable")
                    or (stage == "rcpt" and text.startswith("4.3.5")))):
                problems.append(("4xx from neither default action", a["tid"], a["o"]))
            elif stage != "delivered" and code // 100 not in (4, 5):
                problems.append(("neither accepted nor refused", a["tid"], a["o"]))
        self.assertEqual(problems[:5], [], "%d of %d attempts" % (len(problems), len(attempts)))

        def between(t0, t1):
            return [a for a in attempts if a["t0"] >= t0 and a["t1"] <= t1]

        # both daemons running: encrypted accepted, plaintext 550 5.7.1
        ups = [(t_begin, windows[0][1])] + [
            (w[4], windows[i + 1][1] if i + 1 < len(windows) else float("inf"))
            for i, w in enumerate(windows)]
        for t0, t1 in ups:
            got = between(t0, t1)
            self.assertEqual(sorted(set(a["client"] for a in got)), list(range(n_clients)))
            for a in got:
                stage, code, _ = ended(a)
                want = ("delivered", 250) if a["kind"] == "enc" else ("data", 550)
                self.assertEqual((stage, code), want, (a["tid"], a["o"]))
        # a daemon down: nothing accepted, only temporary errors
        for names, _, t_gone, t_restart, _ in windows:
            got = between(t_gone, t_restart)
            self.assertEqual(sorted(set(a["client"] for a in got)), list(range(n_clients)),
                             names)
            for a in got:
                stage, code, text = ended(a)
                self.assertEqual(code // 100, 4, (names, a["tid"], a["o"]))
                if names == ("smime-policyd",):     # the milter runs
                    self.assertEqual(stage, "rcpt", (a["tid"], a["o"]))
                    self.assertTrue(text.startswith("4.3.5"), (a["tid"], a["o"]))

        # the sink: each accepted message exactly once, byte for byte;
        # nothing else of these
        delivered = {a["tid"]: a["msg"] for a in attempts if ended(a)[0] == "delivered"}
        pat = re.compile(rb"^X-Test-Id: (killload-[^\r\n]*?)\r?$", re.M)
        seen = {}           # file name -> test id (None: not of this test)
        out = {}            # test id -> [contents]

        def scan():
            for f in self.outbound_files():
                if f in self.out_before or f in seen:
                    continue
                with open(os.path.join(self.out_dir, f), "rb") as fh:
                    b = fh.read()
                m = pat.search(b.split(b"\n\n", 1)[0])
                seen[f] = m.group(1).decode() if m else None
                if m:
                    out.setdefault(seen[f], []).append(b)

        deadline = time.time() + 60
        while True:
            scan()
            if set(delivered) <= set(out) or time.time() > deadline:
                break
            time.sleep(0.1)
        pconf = os.path.join(self.env["STATE_DIR"], "postfix")
        while True:
            q = subprocess.run(["postqueue", "-c", pconf, "-j"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, timeout=30).stdout
            if not q.strip() or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(q.strip(), b"", "mail left in the queue")
        scan()
        self.assertEqual(sorted(set(delivered) - set(out)), [], "accepted, not delivered")
        self.assertEqual(sorted(set(out) - set(delivered)), [], "delivered, not accepted")
        for tid, msg in delivered.items():
            self.assertEqual(len(out[tid]), 1, "%s delivered %d times" % (tid, len(out[tid])))
            self.assert_byte_identical(out[tid][0], msg)

    # -- rules added at run time ----------------------------------------

    CA_CNF = """[ca]
default_ca = tca
[tca]
dir = {d}
database = $dir/index.txt
new_certs_dir = $dir/new
serial = $dir/serial
crlnumber = $dir/crlnumber
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
default_crl_days = 30
policy = any
unique_subject = no
copy_extensions = none
email_in_dn = no
[any]
organizationName = optional
commonName = supplied
[req]
distinguished_name = dn
prompt = no
[dn]
O = Test Partner
CN = Test Partner Root CA
[v3_ca]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ee]
basicConstraints = CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = emailProtection
subjectAltName = email:${{ENV::SG_EMAIL}}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

    def _issue(self, addr, name, start=None, end=None):
        """A certificate for ADDR from the test CA (DIR/ca), in CERT_DIR
        as NAME.pem; START/END as openssl ca dates, default now..+30d."""
        d = self.ca_dir
        cnf = os.path.join(d, "ca.cnf")
        env = dict(os.environ, SG_EMAIL=addr)
        key, csr, pem = (os.path.join(d, name + x) for x in (".key", ".csr", ".pem"))
        run(["openssl", "req", "-new", "-config", cnf, "-newkey", "rsa:2048", "-nodes",
             "-keyout", key, "-subj", "/O=Test Partner/CN=" + addr, "-out", csr], env=env)
        dates = ["-startdate", start, "-enddate", end] if start else ["-days", "30"]
        run(["openssl", "ca", "-batch", "-config", cnf, "-extensions", "ee", "-notext",
             "-in", csr, "-out", pem] + dates, env=env)
        shutil.copy(pem, os.path.join(self.env["CERT_DIR"], name + ".pem"))
        return pem

    def _runtime_setup(self):
        """Once: a test CA (a new trust anchor, with a CRL in CRL_DIR),
        certificates for AEAD_RCPT and for STALE_RCPT (current, expired,
        revoked) in CERT_DIR, the rules for AEAD_RCPT and MONITOR_RCPT in
        POLICY_FILE; then SIGHUP to the policy service and smimeguard.conf
        touched, and the milter's 5 s re-check interval waited out."""
        cls = type(self)
        if getattr(cls, "certs", None) is not None:
            return
        d = cls.ca_dir = os.path.join(cls.work, "ca")
        shutil.rmtree(d, ignore_errors=True)     # a failed earlier attempt
        os.makedirs(os.path.join(d, "new"))
        with open(os.path.join(d, "ca.cnf"), "w") as f:
            f.write(cls.CA_CNF.format(d=d))
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("1" + os.urandom(8).hex()[1:] + "\n")
        with open(os.path.join(d, "crlnumber"), "w") as f:
            f.write("1000\n")
        env = dict(os.environ, SG_EMAIL="none@invalid")
        cnf = os.path.join(d, "ca.cnf")
        run(["openssl", "req", "-x509", "-config", cnf, "-extensions", "v3_ca",
             "-newkey", "rsa:2048", "-nodes", "-keyout", os.path.join(d, "ca.key"),
             "-out", os.path.join(d, "ca.pem"), "-days", "30"], env=env)
        certs = {
            "aead": self._issue(AEAD_RCPT, "aead"),
            "stale-current": self._issue(STALE_RCPT, "stale-current"),
            "stale-expired": self._issue(STALE_RCPT, "stale-expired",
                                         "20200101000000Z", "20210101000000Z"),
            "stale-revoked": self._issue(STALE_RCPT, "stale-revoked"),
        }
        run(["openssl", "ca", "-config", cnf, "-revoke", certs["stale-revoked"]], env=env)
        run(["openssl", "ca", "-config", cnf, "-gencrl",
             "-out", os.path.join(cls.env["CRL_DIR"], "test-partner-root.crl.pem")],
            env=env)
        shutil.copy(os.path.join(d, "ca.pem"),
                    os.path.join(cls.env["TRUST_DIR"], "test-partner-root.pem"))
        with open(cls.env["POLICY_FILE"], "a") as f:
            f.write("%s encrypt-aead\n" % AEAD_RCPT.split("@")[1])
            f.write("%s encrypt monitor\n" % MONITOR_RCPT)
        os.kill(self.daemon_pid("smime-policyd"), signal.SIGHUP)
        os.utime(cls.conf)
        time.sleep(5.2)         # the milter's re-check interval
        cls.certs = certs

    def test_60_runtime_rules_aead_and_monitor(self):
        """Rules added to POLICY_FILE while running (SIGHUP to the policy
        service, smimeguard.conf touched for the milter's 5 s re-check):
        encrypt-aead refuses AES-256-CBC and takes AES-256-GCM; a
        monitor rule accepts plaintext and logs that it would have
        rejected it, at RCPT and at end of data."""
        self._runtime_setup()
        aead_pem = self.certs["aead"]
        self.assertIn("reloaded", self.log("smime-policyd.log"))

        tid = "aead-cbc"
        o = self.smtp([AEAD_RCPT], self.message(
            tid, [AEAD_RCPT], self.encrypt([aead_pem], "-aes-256-cbc")), tid=tid)
        self.assert_rejected_at_data(o, [AEAD_RCPT], words=["AES-GCM"])
        self.assert_nothing_out(tid)
        self.assertIn("reloaded", self.log("smime-milter.log"))
        tid = "aead-gcm"
        msg = self.message(tid, [AEAD_RCPT], self.encrypt([aead_pem], "-aes-256-gcm"))
        o = self.smtp([AEAD_RCPT], msg, tid=tid)
        self.assert_accepted(o, [AEAD_RCPT])
        self.assert_byte_identical(list(self.wait_outbound(tid, 1).values())[0], msg)
        # the plain encrypt rule of the partner still takes CBC
        tid = "partner-cbc-after-reload"
        o = self.smtp([self.enc], self.message(
            tid, [self.enc], self.encrypt([self.cert(self.enc)], "-aes-256-cbc")), tid=tid)
        self.assert_accepted(o, [self.enc])

        tid = "monitor"
        plog = len(self.log("smime-policyd.log"))
        mlog = len(self.log("smime-milter.log"))
        msg = self.plain(tid, [MONITOR_RCPT])
        o = self.smtp([MONITOR_RCPT], msg, tid=tid)
        self.assert_accepted(o, [MONITOR_RCPT])
        self.assert_byte_identical(list(self.wait_outbound(tid, 1).values())[0], msg)
        time.sleep(0.2)
        p = self.log("smime-policyd.log")[plog:]
        m = self.log("smime-milter.log")[mlog:]
        self.assertRegex(p, r"to=<%s>.*would reject" % re.escape(MONITOR_RCPT))
        self.assertRegex(m, r"<%s>.*would reject" % re.escape(MONITOR_RCPT))
        self.assertRegex(m, r"not encrypted")

    def test_61_stale_and_revoked_certificates(self):
        """A partner with a current, an expired and a revoked certificate
        (CERT_DIR, the CA's CRL in CRL_DIR): mail encrypted to the
        current one is accepted, to the expired or the revoked one
        refused, saying so."""
        self._runtime_setup()
        o = self.smtp([STALE_RCPT], None)
        self.assertEqual(o.rcpt[STALE_RCPT][0], 250, o)
        for name, word in (("stale-expired", "expired"), ("stale-revoked", "revoked")):
            with self.subTest(case=name):
                tid = name
                o = self.smtp([STALE_RCPT], self.message(
                    tid, [STALE_RCPT], self.encrypt([self.certs[name]])), tid=tid)
                self.assert_rejected_at_data(o, [STALE_RCPT], words=[word])
                self.assert_nothing_out(tid)
        tid = "stale-current"
        msg = self.message(tid, [STALE_RCPT], self.encrypt([self.certs[tid]]))
        o = self.smtp([STALE_RCPT], msg, tid=tid)
        self.assert_accepted(o, [STALE_RCPT])
        self.wait_outbound(tid, 1)

    def test_62_percent_in_address(self):
        """A recipient address with '%' (a partner with a certificate,
        plaintext mail): the reply names the address as it is (the milter
        reply text is a format string to libmilter/Postfix)."""
        self._runtime_setup()
        self._issue(PERCENT_RCPT, "percent")
        time.sleep(1.1)     # a dir: map looks for new files at most once a second
        tid = "percent"
        o = self.smtp([PERCENT_RCPT], self.plain(tid, [PERCENT_RCPT]), tid=tid)
        self.assertEqual(o.rcpt[PERCENT_RCPT][0], 250, o)
        self.assert_rejected_at_data(o, ["<%s>" % PERCENT_RCPT], words=["not encrypted"])
        self.assert_nothing_out(tid)

    def test_63_temp_directory_unusable(self):
        """The milter keeps a message past 1 MiB in a file in
        temp_directory (the core's stream): where no file can be made,
        a big message is deferred at end of data with a log line naming
        the directory, never judged on what was kept; a small one, kept
        in memory, is still checked and accepted."""
        bad = "/nonexistent/smimeguard-tmp"
        big = b"Content-Type: text/plain\r\n\r\n" + b"".join(
            b"line %07d of a message bigger than the in-memory bound\r\n" % i
            for i in range(40000))
        try:
            self.reconfigure("temp_directory = %s\n" % bad)
            mlog = len(self.log("smime-milter.log"))
            tid = "temp-dir-unusable-big"
            msg = self.message(tid, [self.enc],
                               self.encrypt([self.cert(self.enc)], content=big))
            self.assertGreater(len(msg), 2 * 1024 * 1024)
            o = self.smtp([self.enc], msg, tid=tid)
            self.assertIsNone(o.error, o)
            self.assertIsNotNone(o.data, o)
            self.assertEqual(o.data[0] // 100, 4, o)
            self.assert_nothing_out(tid)
            self.assertIsNotNone(self.wait_log(
                "smime-milter.log", r"cannot keep the message to analyse it: "
                r"temp_directory %s: No such file" % re.escape(bad), mlog, 10))
            tid = "temp-dir-unusable-small"
            msg = self.message(tid, [self.enc],
                               self.encrypt([self.cert(self.enc)]))
            o = self.smtp([self.enc], msg, tid=tid)
            self.assert_accepted(o, [self.enc])
            self.assert_byte_identical(list(self.wait_outbound(tid, 1).values())[0],
                                       msg)
        finally:
            self.reconfigure("")
        tid = "temp-dir-restored-big"
        msg = self.message(tid, [self.enc],
                           self.encrypt([self.cert(self.enc)], content=big))
        o = self.smtp([self.enc], msg, tid=tid)
        self.assert_accepted(o, [self.enc])
        self.assert_byte_identical(list(self.wait_outbound(tid, 1).values())[0], msg)

    # -- counters (smimectl stats) -----------------------------------------

    def stats(self, *sockets):
        """smimectl stats --json (the sockets of smimeguard.conf unless
        SOCKETS): {daemon name: {"values": {...}, "rules": {name:
        {outcome: n}}}}; every socket must answer."""
        smimectl = os.path.join(os.environ.get("SG_BUILD", TOP), "tools", "smimectl")
        self.assertTrue(os.access(smimectl, os.X_OK), "no smimectl in SG_BUILD")
        p = subprocess.run([smimectl, "stats", "--json", "-c", self.conf] + list(sockets),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        res = {}
        for d in json.loads(p.stdout)["daemons"]:
            self.assertNotIn("error", d, d)
            rules = {r["name"]: r for r in d["rules"]}
            res[d["values"]["daemon"]] = {"values": d["values"], "rules": rules}
        return res

    @staticmethod
    def rule_count(st, name_part, outcome):
        return sum(r[outcome] for n, r in st["rules"].items() if name_part in n)

    def test_70_stats_counters(self):
        """smimectl stats reads both daemons' status sockets (mode 0600):
        after mail through the real Postfix, the policy service counted
        the RCPT refused by the partner's rule (a certificate miss) and
        the one accepted (a hit), the milter the plaintext refused and
        the encrypted message accepted under the partner's rule (its
        certificate lookup a hit), and both kept latencies; requests that are not mail are not
        decisions."""
        for name in ("smime-policyd", "smime-milter"):
            self.ensure_daemon(name)
        for sock in (self.env["POLICYD_STATUS_SOCKET"], self.env["MILTER_STATUS_SOCKET"]):
            self.assertEqual(os.stat(sock).st_mode & 0o777, 0o600, sock)
        before = self.stats()
        self.assertEqual(sorted(before), ["smime-milter", "smime-policyd"])
        pb, mb = before["smime-policyd"], before["smime-milter"]
        self.assertEqual(pb["values"]["config"], self.conf)
        mlog_at = len(self.log("smime-milter.log"))
        self.wait_queue_empty()
        # RCPT: refused (no certificate) and accepted (certificate known)
        o = self.smtp([self.nocert, self.enc], None)
        self.assertEqual(o.rcpt[self.nocert][0], 550, o)
        self.assertEqual(o.rcpt[self.enc][0], 250, o)
        # end of data: plaintext refused, encrypted accepted
        tid = "stats-plain"
        o = self.smtp([self.enc], self.plain(tid, [self.enc]), tid=tid)
        self.assert_rejected_at_data(o, [self.enc])
        tid = "stats-encrypted"
        msg = self.message(tid, [self.enc], self.encrypt([self.cert(self.enc)]))
        self.assert_accepted(self.smtp([self.enc], msg, tid=tid), [self.enc])
        self.wait_outbound(tid, 1)      # past the second check too
        self.assertEqual(self.wait_queue_empty(), b"")
        after = self.stats()
        pa, ma = after["smime-policyd"], after["smime-milter"]
        pv, pbv, mv, mbv = pa["values"], pb["values"], ma["values"], mb["values"]
        # the policy service: 1 refused + 3 accepted RCPTs (nocert, enc x3)
        self.assertEqual(pv["decisions.refused"] - pbv["decisions.refused"], 1)
        self.assertGreaterEqual(pv["decisions.accepted"] - pbv["decisions.accepted"], 3)
        self.assertEqual(pv["lookups.miss"] - pbv["lookups.miss"], 1)
        self.assertGreaterEqual(pv["lookups.hit"] - pbv["lookups.hit"], 3)
        self.assertEqual(pv["lookups.error"], pbv["lookups.error"])
        self.assertGreaterEqual(pv["requests"] - pbv["requests"], 4)
        self.assertEqual(self.rule_count(pa, "partner.example", "refused")
                         - self.rule_count(pb, "partner.example", "refused"), 1, pa["rules"])
        self.assertGreater(pv["latency.request.count"], pbv.get("latency.request.count", 0))
        self.assertGreaterEqual(pv["latency.request.max_us"], pv["latency.request.p99_us"])
        self.assertGreaterEqual(pv["latency.request.p99_us"], pv["latency.request.p50_us"])
        self.assertGreaterEqual(pv["uptime"], 0)
        # the milter: one refused; accepted as often as it logged
        # "accepted" (the sandbox checks accepted mail again on the way
        # out: two lines, two decisions), all under the partner's rule
        mlog = self.log("smime-milter.log")[mlog_at:]
        n_acc = len(re.findall(r"status=encrypted: accepted: policy satisfied "
                               r"\(recipient rule partner\.example\)", mlog))
        self.assertGreaterEqual(n_acc, 1, mlog)
        self.assertEqual(mv["decisions.refused"] - mbv["decisions.refused"], 1)
        self.assertEqual(mv["decisions.accepted"] - mbv["decisions.accepted"], n_acc)
        self.assertEqual(self.rule_count(ma, "partner.example", "refused")
                         - self.rule_count(mb, "partner.example", "refused"), 1, ma["rules"])
        self.assertEqual(self.rule_count(ma, "partner.example", "accepted")
                         - self.rule_count(mb, "partner.example", "accepted"), n_acc,
                         ma["rules"])
        # the milter's certificate lookups: one per check of the
        # encrypted message (a hit); the plaintext needed none
        self.assertEqual(mv["lookups.hit"] - mbv["lookups.hit"], n_acc)
        self.assertEqual(mv["lookups.miss"], mbv["lookups.miss"])
        self.assertEqual(mv["latency.message.count"]
                         - mbv.get("latency.message.count", 0), 1 + n_acc)
        self.assertGreater(mv["latency.message.max_us"], 0)
        # a request that is not mail: no decision, a bad request
        self.assertEqual(self.policy_conn(b"request=junk\n\n"), b"")
        v = self.stats()["smime-policyd"]["values"]
        self.assertEqual(v["errors.bad_request"] - pv["errors.bad_request"], 1)
        self.assertEqual(v["decisions.refused"], pv["decisions.refused"])
        # the text form names both daemons and the rule
        smimectl = os.path.join(os.environ.get("SG_BUILD", TOP), "tools", "smimectl")
        p = subprocess.run([smimectl, "stats", "-c", self.conf], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        text = p.stdout.decode()
        for w in ("smime-policyd (pid", "smime-milter (pid", "refused 1",
                  "partner.example", "p99"):
            self.assertIn(w, text)

    def test_71_stats_hostile_clients(self):
        """Status clients that connect and stay silent, or send garbage
        and never read, hold up neither mail nor other status queries;
        a socket that is not a status socket makes smimectl stats fail
        (exit 1) and say so."""
        socks = (self.env["POLICYD_STATUS_SOCKET"], self.env["MILTER_STATUS_SOCKET"])
        held = []
        try:
            for sock in socks:
                for i in range(20):
                    s = socket.socket(socket.AF_UNIX)
                    s.connect(sock)
                    if i % 2:
                        s.setblocking(False)
                        try:
                            s.send(b"\x00garbage\r\n" * 2000)
                        except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                            pass
                    held.append(s)
            t0 = time.time()
            tid = "stats-hostile"
            msg = self.message(tid, [self.enc], self.encrypt([self.cert(self.enc)]))
            self.assert_accepted(self.smtp([self.enc], msg, tid=tid), [self.enc])
            self.assertLess(time.time() - t0, 10)
            st = self.stats()
            self.assertEqual(sorted(st), ["smime-milter", "smime-policyd"])
            self.assertGreaterEqual(st["smime-milter"]["values"]["status_queries"], 20)
        finally:
            for s in held:
                s.close()
        smimectl = os.path.join(os.environ.get("SG_BUILD", TOP), "tools", "smimectl")
        p = subprocess.run([smimectl, "stats", "--json", self.env["POLICYD_STATUS_SOCKET"],
                            self.policyd_sock], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 1, p)
        d = json.loads(p.stdout)["daemons"]
        self.assertEqual(d[0]["values"]["daemon"], "smime-policyd")
        self.assertIn("error", d[1])

    def test_72_stats_directory_errors(self):
        """A certificate directory that does not answer (an ldap: map on
        a port nobody listens on): the RCPT is deferred and counted as a
        lookup error and a deferred decision; the reload is counted."""
        cf = os.path.join(self.work, "ldap-down.cf")
        with open(cf, "w") as f:
            f.write("server_host = ldap://127.0.0.1:1\nsearch_base = dc=example\n"
                    "query_filter = (mail=%s)\nresult_attribute = userCertificate\n"
                    "bind = no\ntimeout = 2\n")
        os.chmod(cf, 0o644)
        try:
            before = self.stats()["smime-policyd"]["values"]
            self.reconfigure("certificate_maps = ldap:%s\n" % cf)
            mid = self.stats()["smime-policyd"]["values"]
            self.assertEqual(mid["config_loads"] - before["config_loads"], 1)
            o = self.smtp([self.enc], None)
            self.assertEqual(o.rcpt[self.enc][0] // 100, 4, o)
            after = self.stats()["smime-policyd"]["values"]
            self.assertEqual(after["lookups.error"] - mid["lookups.error"], 1)
            self.assertEqual(after["decisions.deferred"] - mid["decisions.deferred"], 1)
            self.assertEqual(after["lookups.hit"], mid["lookups.hit"])
        finally:
            self.reconfigure("")

    def test_99_nothing_lost_or_duplicated(self):
        """Every external recipient accepted in this run got exactly one
        file in OUTBOUND_DIR, no file came from a rejected transaction,
        and the queue is empty.  It sends an accepted and a rejected
        message of its own first, so that it has mail to check when it
        runs alone; run last, it checks every test's mail too."""
        tid = "last-accepted"
        msg = self.message(tid, [self.enc], self.encrypt([self.cert(self.enc)]))
        self.assert_accepted(self.smtp([self.enc], msg, tid=tid), [self.enc])
        self.wait_outbound(tid, 1)
        tid = "last-rejected"
        o = self.smtp([self.enc], self.plain(tid, [self.enc]), tid=tid)
        self.assert_rejected_at_data(o, [self.enc], words=["not encrypted"])
        pconf = os.path.join(self.env["STATE_DIR"], "postfix")
        deadline = time.time() + 30
        while True:
            q = subprocess.run(["postqueue", "-c", pconf, "-j"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, timeout=30).stdout
            if not q.strip() or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(q.strip(), b"", "mail left in the queue")
        want = sum(len(v) for v in self.expected_out.values())
        files = [f for f in self.outbound_files() if f not in self.out_before]
        problems = []
        for tid, rcpts in self.expected_out.items():
            got = self.outbound_for(tid)
            names = sorted(re.sub(r"^[0-9.]+-[0-9A-F]+-", "", f)[:-4] for f in got)
            expect = sorted(re.sub(r"[^A-Za-z0-9@._+-]", "_", r) for r in rcpts)
            if names != expect and names != sorted(w.lower() for w in expect):
                problems.append((tid, names, sorted(rcpts)))
        self.assertEqual(problems, [])
        self.assertEqual(len(files), want, "files in OUTBOUND_DIR vs accepted recipients")
        self.assertEqual(os.listdir(os.path.join(self.out_dir, ".tmp")), [])


if __name__ == "__main__":
    sys.exit(sgserver.main(PostfixTest))
