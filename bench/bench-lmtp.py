#!/usr/bin/env python3
"""bench-lmtp.py - LMTP delivery rate of Dovecot with the smime plugin
against the same Dovecot without it, in one run.

Starts two sandboxes (scripts/sandbox; one with SANDBOX_NO_PLUGINS=1),
delivers the same messages to both over LMTP, alternating batches so
that machine noise hits both alike, and prints messages/s and the ratio
for unsigned mail and for ~50 KB signed mail.

With --floor, a third Dovecot without the plugins whose Sieve sets the
same two keywords ($SMIMESigned $SMIMEVerified, sieve_before with
imap4flags' addflag) on the signed mail: what storing those keywords costs
by itself, the floor issue 14 target 1 compares with (needs the package
dovecot-sieve).

Usage: bench/bench-lmtp.py [--messages N] [--rounds R] [--connections C] [--floor]
Environment: SG_BUILD = a built smimeguard tree (passed to the sandbox).
Targets (issue 3): >= 0.97 of the plugin-less rate on unsigned mail,
>= 0.8 on signed mail.  This is a benchmark, not a test: it prints figures.
"""
import argparse
import os
import smtplib
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SANDBOX = os.path.join(TOP, "scripts", "sandbox")


def sandbox(cmd, d, extra_env=None):
    env = dict(os.environ)
    env.update(extra_env or {})
    out = subprocess.run([SANDBOX, cmd, "--dir", d], env=env, check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return dict(l.split("=", 1) for l in out.splitlines() if "=" in l)


def make_messages(pki_dir, tmp):
    body = "".join("line %05d of a plain text message body, for the benchmark\r\n"
                   % i for i in range(30))
    unsigned = ("From: alice@example.org\r\nTo: bob@example.org\r\n"
                "Subject: unsigned\r\nMessage-ID: <u@example.org>\r\n\r\n" + body)
    content = os.path.join(tmp, "content.txt")
    with open(content, "w", newline="") as f:
        f.write("Content-Type: text/plain; charset=us-ascii\r\n\r\n")
        for i in range(800):
            f.write("line %05d of a signed text message body, for the benchmark\r\n" % i)
    signed = subprocess.run(
        ["openssl", "cms", "-sign", "-md", "sha256", "-in", content,
         "-signer", os.path.join(pki_dir, "alice@example.org.pem"),
         "-inkey", os.path.join(pki_dir, "alice@example.org.key"),
         # the chain, as mail clients send it: the message verifies
         # (without it the signer is untrusted, and the bench measured
         # the failure path)
         "-certfile", os.path.join(pki_dir, "alice@example.org.chain.pem"),
         "-binary", "-crlfeol"], check=True, stdout=subprocess.PIPE).stdout
    signed = signed.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    hdr = (b"From: alice@example.org\r\nTo: bob@example.org\r\n"
           b"Subject: signed\r\nMessage-ID: <s@example.org>\r\n")
    return unsigned.encode(), hdr + signed


def deliver(sock, user, msg, n, connections):
    """deliver n copies over `connections` parallel LMTP sessions"""
    per = [n // connections + (1 if i < n % connections else 0)
           for i in range(connections)]
    errors = []

    def worker(count):
        try:
            lm = smtplib.LMTP(sock)
            for _ in range(count):
                lm.sendmail("alice@example.org", [user], msg)
            lm.quit()
        except Exception as e:  # reported, never hidden
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(c,)) for c in per]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.monotonic() - t0
    if errors:
        raise RuntimeError("delivery failed: %r" % errors[0])
    return dt


def check_floor(env, user):
    """the floor really set the keywords (else it measured nothing)"""
    import imaplib
    m = imaplib.IMAP4("127.0.0.1", int(env["IMAP_PORT"]))
    m.login(user, env["IMAP_PASSWORD"])
    m.select("INBOX", readonly=True)
    typ, data = m.search(None, "KEYWORD", "$SMIMEVerified")
    n = len(data[0].split()) if typ == "OK" and data[0] else 0
    m.logout()
    print("bench-lmtp: the floor's Sieve set $SMIMEVerified on %d messages" % n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=2)
    ap.add_argument("--floor", action="store_true",
                    help="also a plugin-less Dovecot whose Sieve sets the keywords")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="smimeguard-bench-lmtp.")
    os.chmod(tmp, 0o755)  # the sandbox mail user must reach it
    d_with = os.path.join(tmp, "with")
    d_without = os.path.join(tmp, "without")
    d_floor = os.path.join(tmp, "floor")
    env_floor = None
    try:
        env_with = sandbox("up", d_with)
        env_without = sandbox("up", d_without, {"SANDBOX_NO_PLUGINS": "1"})
        if a.floor:
            env_floor = sandbox("up", d_floor, {"SANDBOX_NO_PLUGINS": "1",
                                                "SANDBOX_SIEVE_KEYWORDS": "1"})
        unsigned, signed = make_messages(env_with["PKI_DIR"], tmp)
        user = env_with["IMAP_USER"]
        # what the plugin will make of the signed message (smimectl with
        # the sandbox's configuration): the bench is about verified mail
        smimectl = os.path.join(os.environ.get("SG_BUILD", TOP), "tools", "smimectl")
        if os.access(smimectl, os.X_OK):
            path = os.path.join(tmp, "signed.eml")
            with open(path, "wb") as f:
                f.write(signed)
            out = subprocess.run([smimectl, "verify", "-c",
                                  os.path.join(d_with, "smimeguard.conf"), path],
                                 stdout=subprocess.PIPE, text=True).stdout
            print("bench-lmtp: the signed message is " + out.split(": ", 1)[-1].splitlines()[0])
        print("bench-lmtp: %d messages x %d rounds per kind, %d LMTP connections, "
              "%d cores" % (a.messages, a.rounds, a.connections, os.cpu_count()))
        print("%-18s %14s %14s %8s %8s" % ("mail", "without msg/s",
                                            "with msg/s", "ratio", "target")
              + ("  %12s %10s %8s" % ("floor msg/s", "floor/w-o", "with/floor")
                 if a.floor else ""))
        for kind, msg, target in (("unsigned (%d B)" % len(unsigned), unsigned, 0.97),
                                  ("signed (%d KB)" % (len(signed) // 1024), signed, 0.8)):
            # warm up both instances (process start, index creation)
            deliver(env_with["LMTP_SOCKET"], user, msg, 20, a.connections)
            deliver(env_without["LMTP_SOCKET"], user, msg, 20, a.connections)
            if env_floor:
                deliver(env_floor["LMTP_SOCKET"], user, msg, 20, a.connections)
            t_with = t_without = t_floor = 0.0
            for _ in range(a.rounds):
                t_without += deliver(env_without["LMTP_SOCKET"], user, msg,
                                     a.messages, a.connections)
                t_with += deliver(env_with["LMTP_SOCKET"], user, msg,
                                  a.messages, a.connections)
                if env_floor:
                    t_floor += deliver(env_floor["LMTP_SOCKET"], user, msg,
                                       a.messages, a.connections)
            n = a.messages * a.rounds
            r_with, r_without = n / t_with, n / t_without
            ratio = r_with / r_without
            line = "%-18s %14.1f %14.1f %8.3f %8s" % (
                kind, r_without, r_with, ratio,
                (">=%.2f %s" % (target, "yes" if ratio >= target else "NO")))
            if env_floor:
                r_floor = n / t_floor
                line += "  %12.1f %10.3f %8.3f" % (r_floor, r_floor / r_without,
                                                   r_with / r_floor)
            print(line)
        if env_floor:
            check_floor(env_floor, user)
    finally:
        for d in (d_with, d_without, d_floor):
            if os.path.isdir(d):
                subprocess.run([SANDBOX, "down", "--dir", d],
                               stdout=subprocess.DEVNULL)
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    sys.exit(main())
