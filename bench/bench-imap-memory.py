#!/usr/bin/env python3
"""bench-imap-memory.py - memory of an imap process with the smimeguard
plugins against the same Dovecot without them, in one run.

Starts two sandboxes (scripts/sandbox; one with SANDBOX_NO_PLUGINS=1),
opens N IMAP connections to each (LOGIN, SELECT INBOX, then idle), and
reads /proc/PID/smaps_rollup of every imap process: private dirty and
PSS, averaged, with the difference the plugins make.  With --append,
each connection of both sandboxes also APPENDs one signed message first
(an imap process that has verified: the plugin's core is loaded and the
sandbox's trust store and maps are in memory).

With --big DIR (a directory made by `BENCH_COLD_DATA=DIR bench/coldstart.sh
BUILD`: 200 CA certificates and a dir: map of 10,000), the plugin
sandbox's trust store gets those 200 CAs as well and its certificate_maps
that map: what a verifying process costs at a site of that size.

Usage: bench/bench-imap-memory.py [--connections N] [--append] [--big DIR]
Environment: SG_BUILD = a built smimeguard tree (passed to the sandbox).
Target (issue 14, target 5): the plugins add <= 0.25 MB private memory
to an imap process that does not verify.  A benchmark: prints figures.
"""
import argparse
import imaplib
import os
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SANDBOX = os.path.join(TOP, "scripts", "sandbox")


def sandbox(cmd, d, extra_env=None):
    env = dict(os.environ)
    env.update(extra_env or {})
    out = subprocess.run([SANDBOX, cmd, "--dir", d], env=env, check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return dict(l.split("=", 1) for l in out.splitlines() if "=" in l)


def signed_message(pki_dir, tmp):
    content = os.path.join(tmp, "content.txt")
    with open(content, "w", newline="") as f:
        f.write("Content-Type: text/plain; charset=us-ascii\r\n\r\n")
        for i in range(200):
            f.write("line %05d of a signed text message body\r\n" % i)
    signed = subprocess.run(
        ["openssl", "cms", "-sign", "-md", "sha256", "-in", content,
         "-signer", os.path.join(pki_dir, "alice@example.org.pem"),
         "-inkey", os.path.join(pki_dir, "alice@example.org.key"),
         "-certfile", os.path.join(pki_dir, "alice@example.org.chain.pem"),
         "-binary", "-crlfeol"], check=True, stdout=subprocess.PIPE).stdout
    signed = signed.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return (b"From: alice@example.org\r\nTo: bob@example.org\r\n"
            b"Subject: signed\r\nMessage-ID: <m@example.org>\r\n" + signed)


def enlarge(env, big):
    """add BIG's 200 CAs and 10,000-certificate map to the sandbox's
    smimeguard.conf (a new trust directory: the sandbox's anchors + BIG's)"""
    state = env["STATE_DIR"]
    conf = os.path.join(state, "smimeguard.conf")
    trust = os.path.join(state, "trust-big")
    os.makedirs(trust, exist_ok=True)
    src = [os.path.join(env["TRUST_DIR"], f) for f in os.listdir(env["TRUST_DIR"])]
    src += [os.path.join(big, "cas", f) for f in os.listdir(os.path.join(big, "cas"))]
    src.append(os.path.join(big, "root.pem"))
    for i, f in enumerate(sorted(src)):
        if os.path.isfile(f):
            with open(f, "rb") as a, open(os.path.join(trust, "%04d.pem" % i), "wb") as b:
                b.write(a.read())
    lines = []
    with open(conf) as f:
        for line in f:
            if line.startswith("trust_anchors"):
                line = "trust_anchors = %s\n" % trust
            elif line.startswith("certificate_maps"):
                line = line.rstrip("\n") + " dir:%s/map/certs\n" % os.path.abspath(big)
            lines.append(line)
    with open(conf, "w") as f:
        f.writelines(lines)
    subprocess.run(["chmod", "-R", "a+rX", trust, big], check=True)


def imap_pids(before):
    """pids of imap (not imap-login) processes not in BEFORE"""
    out = set()
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) in before:
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                cmd = f.read().split(b"\0")[0]
        except OSError:
            continue
        # "dovecot/imap", or "INSTANCE/imap" for a named instance
        if cmd.split(b" ")[0].endswith(b"/imap"):
            out.add(int(p))
    return out


def rollup(pid):
    vals = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[2] == "kB":
                vals[parts[0].rstrip(":")] = int(parts[1])
    return vals


def measure(env, n, message):
    before = imap_pids(set())
    conns = []
    for _ in range(n):
        c = imaplib.IMAP4("127.0.0.1", int(env["IMAP_PORT"]))
        c.login(env["IMAP_USER"], env["IMAP_PASSWORD"])
        if message is not None:
            typ, _ = c.append("INBOX", None, None, message)
            if typ != "OK":
                sys.exit("APPEND failed")
        c.select("INBOX")
        conns.append(c)
    time.sleep(0.5)
    pids = imap_pids(before)
    if len(pids) != n:
        sys.exit("expected %d imap processes, found %d" % (n, len(pids)))
    rows = [rollup(p) for p in sorted(pids)]
    for c in conns:
        try:
            c.logout()
        except Exception:
            pass
    avg = lambda k: sum(r.get(k, 0) for r in rows) / len(rows)
    return {k: avg(k) for k in ("Private_Dirty", "Pss", "Rss", "Anonymous")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connections", type=int, default=10)
    ap.add_argument("--append", action="store_true",
                    help="APPEND one signed message on each connection first")
    ap.add_argument("--big", metavar="DIR",
                    help="200 CAs and a 10,000-certificate map (coldstart.sh data)")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="sg-bench-mem.")
    os.chmod(tmp, 0o755)  # the sandbox's users must reach it
    plain_dir, plug_dir = os.path.join(tmp, "plain"), os.path.join(tmp, "plugin")
    try:
        plain = sandbox("up", plain_dir, {"SANDBOX_NO_PLUGINS": "1"})
        plug = sandbox("up", plug_dir)
        if a.big:
            enlarge(plug, a.big)
        msg = signed_message(plug["PKI_DIR"], tmp) if a.append else None
        m0 = measure(plain, a.connections, msg)
        m1 = measure(plug, a.connections, msg)
        print("imap processes: %d per Dovecot, %s%s" %
              (a.connections, "after APPEND of a signed message + SELECT"
               if a.append else "after SELECT (no verification)",
               "; plugin's trust store +200 CAs, map +10,000 certificates"
               if a.big else ""))
        print("%-14s %12s %12s %10s" % ("kB (average)", "no plugins", "plugins", "added"))
        for k in ("Private_Dirty", "Anonymous", "Pss", "Rss"):
            print("%-14s %12.0f %12.0f %10.0f" % (k, m0[k], m1[k], m1[k] - m0[k]))
    finally:
        for d in (plug_dir, plain_dir):
            if os.path.isdir(d):
                subprocess.run([SANDBOX, "down", "--dir", d],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
