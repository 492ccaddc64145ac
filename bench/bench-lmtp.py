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

With --metric, also the plugin with the Dovecot metric smime_verify of
conf.d/90-smime.conf's (commented-out) example, which the sandbox turns
on by default: every delivery then sends its event, and the events it
belongs to, to Dovecot's stats process (9 writes per delivery, measured
with strace).  The plain "with" Dovecot runs without it, as shipped.

Usage: bench/bench-lmtp.py [--messages N] [--rounds R] [--connections C]
                           [--floor] [--metric] [--aa] [--interleaved]
                           [--kind both|unsigned|signed] [--other BUILD]

With --interleaved, each connection delivers one message to each Dovecot
per round, in a random order (seeded), and prints the median latencies
and the median of the paired ratios (each Dovecot's latency over the
plugin's in the same round) with a bootstrap 95 % interval.  --other
BUILD adds the plugin from a second built tree ("other"), so two builds
are compared in one run.

With --aa, a second plugin-less Dovecot: its rate over the first one's
is what this machine's noise does to a ratio in the same run (a ratio of
two identical Dovecots); "round range" is the spread of the per-round
with/without ratios.
Environment: SG_BUILD = a built smimeguard tree (passed to the sandbox).
Targets (issue 3): >= 0.97 of the plugin-less rate on unsigned mail,
>= 0.8 on signed mail.  This is a benchmark, not a test: it prints figures.
"""
import argparse
import os
import random
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


def interleaved(envs, names, user, unsigned, signed, a):
    """median delivery latency per Dovecot, each connection taking the
    Dovecots in turn message by message (the order turning); with/X is
    X's median latency over the plugin's: the plugin's rate relative to
    X's"""
    print("%-18s %s  %s" % ("mail", "  ".join("%14s" % ("%s ms" % k) for k in names),
                            "  ".join("with/%s" % k for k in names if k != "with")))
    for kind, msg in (("unsigned (%d B)" % len(unsigned), unsigned),
                      ("signed (%d KB)" % (len(signed) // 1024), signed)):
        if a.kind not in ("both", kind.split()[0]):
            continue
        lat = {k: [] for k in names}
        # per message round: each Dovecot's latency over the plugin's in
        # the same round (paired: drift hits both)
        pair = {k: [] for k in names}
        lock = threading.Lock()
        errors = []

        def worker(c):
            try:
                # a random order per round (seeded: runs are repeatable);
                # a fixed cyclic order let one Dovecot always follow the
                # same other one, and inherit its write-back
                rnd = random.Random(1000 + c)
                lms = {k: smtplib.LMTP(envs[k]["LMTP_SOCKET"]) for k in names}
                for j in range(a.messages * a.rounds // a.connections + 20):
                    order = list(names)
                    rnd.shuffle(order)
                    one = {}
                    for k in order:
                        t0 = time.perf_counter()
                        lms[k].sendmail("alice@example.org", [user], msg)
                        one[k] = time.perf_counter() - t0
                    if j >= 20:     # after the warm-up
                        with lock:
                            for k in names:
                                lat[k].append(one[k])
                                pair[k].append(one[k] / one["with"])
                for lm in lms.values():
                    lm.quit()
            except Exception as e:  # reported, never hidden
                errors.append(e)
        threads = [threading.Thread(target=worker, args=(c,))
                   for c in range(a.connections)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise RuntimeError("LMTP delivery failed: %r" % errors[0])
        med = {k: sorted(v)[len(v) // 2] for k, v in lat.items()}
        print("%-18s %s  %s" % (kind, "  ".join("%14.3f" % (med[k] * 1000) for k in names),
                                "  ".join("%*.3f" % (len(k) + 5, med[k] / med["with"])
                                          for k in names if k != "with")))
        # the median of the paired ratios, with the spread of the medians
        # of 200 bootstrap resamples (2.5 % - 97.5 %)
        rnd = random.Random(7)
        cells = []
        for k in names:
            if k == "with":
                continue
            v = pair[k]
            boot = sorted(sorted(rnd.choice(v) for _ in v)[len(v) // 2]
                          for _ in range(200))
            cells.append("with/%s %.3f (%.3f-%.3f)" % (
                k, sorted(v)[len(v) // 2], boot[5], boot[194]))
        print("%-18s paired: %s" % ("", "  ".join(cells)))
        if "without2" in names:
            v = [x / y for x, y in zip(lat["without2"], lat["without"])]
            print("%-18s paired A/A without/without2: %.3f" % ("", sorted(v)[len(v) // 2]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=2)
    ap.add_argument("--floor", action="store_true",
                    help="also a plugin-less Dovecot whose Sieve sets the keywords")
    ap.add_argument("--metric", action="store_true",
                    help="also the plugin with the smime_verify metric of "
                    "90-smime.conf's example (Dovecot's stats process gets "
                    "every delivery's event)")
    ap.add_argument("--aa", action="store_true",
                    help="also a second plugin-less Dovecot: its ratio to the "
                    "first is this machine's noise, measured in the same run")
    ap.add_argument("--interleaved", action="store_true",
                    help="instead of batches: each LMTP connection delivers "
                    "one message to each Dovecot in turn, and the median "
                    "latencies are compared (drift and mailbox growth hit "
                    "both alike)")
    ap.add_argument("--kind", choices=("both", "unsigned", "signed"),
                    default="both", help="with --interleaved: which mail")
    ap.add_argument("--other", metavar="BUILD",
                    help="also the plugin from another built tree (\"other\": "
                    "compare two builds in one run)")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="smimeguard-bench-lmtp.")
    os.chmod(tmp, 0o755)  # the sandbox mail user must reach it
    # (name, sandbox environment): "with" is the plugin as shipped (no
    # metric: 90-smime.conf has it commented out)
    kinds = [("without", {"SANDBOX_NO_PLUGINS": "1"}),
             ("with", {"SANDBOX_NO_METRIC": "1"})]
    if a.metric:
        kinds.append(("metric", {}))
    if a.aa:
        kinds.append(("without2", {"SANDBOX_NO_PLUGINS": "1"}))
    if a.other:
        kinds.append(("other", {"SANDBOX_NO_METRIC": "1", "SG_BUILD": a.other}))
    if a.floor:
        kinds.append(("floor", {"SANDBOX_NO_PLUGINS": "1",
                                "SANDBOX_SIEVE_KEYWORDS": "1"}))
    dirs = {k: os.path.join(tmp, k) for k, _ in kinds}
    envs = {}
    try:
        for k, extra in kinds:
            envs[k] = sandbox("up", dirs[k], extra)
        unsigned, signed = make_messages(envs["with"]["PKI_DIR"], tmp)
        user = envs["with"]["IMAP_USER"]
        # what the plugin will make of the signed message (smimectl with
        # the sandbox's configuration): the bench is about verified mail
        smimectl = os.path.join(os.environ.get("SG_BUILD", TOP), "tools", "smimectl")
        if os.access(smimectl, os.X_OK):
            path = os.path.join(tmp, "signed.eml")
            with open(path, "wb") as f:
                f.write(signed)
            out = subprocess.run([smimectl, "verify", "-c",
                                  os.path.join(dirs["with"], "smimeguard.conf"), path],
                                 stdout=subprocess.PIPE, text=True).stdout
            print("bench-lmtp: the signed message is " + out.split(": ", 1)[-1].splitlines()[0])
        print("bench-lmtp: %d messages x %d rounds per kind, %d LMTP connections, "
              "%d cores; the order of the Dovecots turns each round"
              % (a.messages, a.rounds, a.connections, os.cpu_count()))
        names = [k for k, _ in kinds]
        if a.interleaved:
            interleaved(envs, names, user, unsigned, signed, a)
            return
        print("%-18s %14s %14s %8s %8s" % ("mail", "without msg/s",
                                            "with msg/s", "ratio", "target")
              + "  %11s" % "round range"
              + ("  %12s %12s" % ("+metric msg/s", "+metric/w-o") if a.metric else "")
              + ("  %9s" % "A/A" if a.aa else "")
              + ("  %12s %10s %8s" % ("floor msg/s", "floor/w-o", "with/floor")
                 if a.floor else ""))
        names = [k for k, _ in kinds]
        for kind, msg, target in (("unsigned (%d B)" % len(unsigned), unsigned, 0.97),
                                  ("signed (%d KB)" % (len(signed) // 1024), signed, 0.8)):
            # warm up every instance (process start, index creation)
            for k in names:
                deliver(envs[k]["LMTP_SOCKET"], user, msg, 20, a.connections)
            t = dict.fromkeys(names, 0.0)
            per_round = []
            for r in range(a.rounds):
                # turn the order: whoever goes first or right after
                # another's burst of writes is not always the same one
                tr = {}
                for k in names[r % len(names):] + names[:r % len(names)]:
                    tr[k] = deliver(envs[k]["LMTP_SOCKET"], user, msg,
                                    a.messages, a.connections)
                    t[k] += tr[k]
                per_round.append(tr["without"] / tr["with"])
            n = a.messages * a.rounds
            rate = {k: n / t[k] for k in names}
            ratio = rate["with"] / rate["without"]
            line = "%-18s %14.1f %14.1f %8.3f %8s" % (
                kind, rate["without"], rate["with"], ratio,
                (">=%.2f %s" % (target, "yes" if ratio >= target else "NO")))
            line += "  %5.3f-%5.3f" % (min(per_round), max(per_round))
            if a.metric:
                line += "  %12.1f %12.3f" % (rate["metric"],
                                             rate["metric"] / rate["without"])
            if a.aa:
                line += "  %9.3f" % (rate["without2"] / rate["without"])
            if a.floor:
                line += "  %12.1f %10.3f %8.3f" % (rate["floor"],
                                                   rate["floor"] / rate["without"],
                                                   rate["with"] / rate["floor"])
            print(line)
        if a.floor:
            check_floor(envs["floor"], user)
    finally:
        for d in dirs.values():
            if os.path.isdir(d):
                subprocess.run([SANDBOX, "down", "--dir", d],
                               stdout=subprocess.DEVNULL)
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    sys.exit(main())
