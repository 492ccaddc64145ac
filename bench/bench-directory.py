#!/usr/bin/env python3
"""bench-directory.py BUILDDIR [--old BUILDDIR] [--clients N] [--seconds S]

RCPT latency of smime-policyd with an ldap: certificate map, directory up
and down (issue 14 target 4).  Starts a throwaway slapd (the one of
tests/ldap/test-ldap.py, holding one person), a "hanging" directory (a
port that accepts and never answers) and, for each build, smime-policyd
on a unix socket with certificate_maps = ldap:MAP (timeout = 2,
no caching, so every lookup asks the directory) and a rule that
partner.example must be encrypted.  N clients (default 64), each on its
own connection, send RCPT requests for S seconds (default 5), one kind
after the other: "no lookup" (an internal recipient) and "lookup" (a new
partner.example address every time).  Prints p50/p99/max latency and the
count of each kind, how many got no answer within 10 s (that client then
stops), and the answers seen, directory up and down; with
--old, the same for another build in the same run (the baseline).

Environment: SG_TESTDATA (data-gen of the build, for the certificate the
directory holds).  Needs root? No; needs slapd and ldap-utils.
"""
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT_TIMEOUT = 10     # seconds a client waits for an answer


def load_test_ldap(build):
    os.environ.setdefault("SMIMECTL", os.path.join(build, "tools", "smimectl"))
    os.environ.setdefault("SG_TESTDATA", os.path.join(build, "tests", "data-gen"))
    spec = importlib.util.spec_from_file_location(
        "test_ldap", os.path.join(HERE, "..", "tests", "ldap", "test-ldap.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def percentile(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def run_policyd(policyd, conf, sock, log):
    p = subprocess.Popen([policyd, "-c", conf, "-l", "unix:" + sock, "-e"],
                         stdout=log, stderr=log)
    deadline = time.monotonic() + 10
    while not os.path.exists(sock):
        if time.monotonic() > deadline or p.poll() is not None:
            raise RuntimeError("smime-policyd did not start")
        time.sleep(0.05)
    return p


def load(sock, clients, seconds):
    """clients threads, alternating kinds; {kind: [latency]}, answers"""
    lat = {"no lookup": [], "lookup": []}
    timeouts = {"no lookup": 0, "lookup": 0}
    answers = {}
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    seq = [0]

    def client(w):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(sock)
        c.settimeout(CLIENT_TIMEOUT)
        i = 0
        while time.monotonic() < stop:
            kind = "lookup" if (i + w) % 2 else "no lookup"
            i += 1
            with lock:
                seq[0] += 1
                n = seq[0]
            rcpt = "x%d@partner.example" % n if kind == "lookup" else "bob@example.org"
            t0 = time.monotonic()
            c.sendall(("request=smtpd_access_policy\nprotocol_state=RCPT\n"
                       "sender=alice@example.org\nrecipient=%s\n\n" % rcpt).encode())
            buf = b""
            try:
                while not buf.endswith(b"\n\n"):
                    chunk = c.recv(4096)
                    if not chunk:
                        raise RuntimeError("connection closed")
                    buf += chunk
            except socket.timeout:
                with lock:
                    timeouts[kind] += 1
                break       # this client's connection is stuck: it stops
            dt = time.monotonic() - t0
            word = buf.decode().split("=", 1)[1].split()[0]
            with lock:
                lat[kind].append(dt)
                answers[(kind, word)] = answers.get((kind, word), 0) + 1
        c.close()

    threads = [threading.Thread(target=client, args=(w,)) for w in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return lat, answers, timeouts


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    builds = [("this build", os.path.abspath(args.pop(0)))]
    clients, seconds = 64, 5.0
    while args:
        a = args.pop(0)
        if a == "--old":
            builds.append(("baseline", os.path.abspath(args.pop(0))))
        elif a == "--clients":
            clients = int(args.pop(0))
        elif a == "--seconds":
            seconds = float(args.pop(0))
        else:
            print("unknown argument %s" % a, file=sys.stderr)
            return 2
    tl = load_test_ldap(builds[0][1])
    tmp = tempfile.mkdtemp(prefix="bench-directory.", dir="/tmp")
    os.chmod(tmp, 0o700)
    srv = tl.Slapd(os.path.join(tmp, "slapd"))
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(1024)
    try:
        srv.start()
        cert = tl.der_of(os.path.join(tl.D, "certmap", "bob-new.pem"))
        srv.add("dn: {b}\nobjectClass: dcObject\nobjectClass: organization\n"
                "dc: example\no: Example Org\n\n"
                "dn: ou=people,{b}\nobjectClass: organizationalUnit\n"
                "ou: people\n\n".format(b=tl.BASE))
        srv.add(tl.person("Bob Partner", "bob@partner.example",
                          **{"userCertificate;binary": [cert]}))
        pol = tl.write(os.path.join(tmp, "policy"), "partner.example encrypt\n* none\n")
        trust = "trust_anchors = %s/trust\nintermediates = %s/intermediates\n" % (tl.D, tl.D)
        print("bench-directory: %d clients, %.0f s per run, ldap: map with timeout = 2, "
              "no cache" % (clients, seconds))
        for label, build in builds:
            policyd = os.path.join(build, "postfix-policy", "smime-policyd")
            for state, url in (("up", srv.url),
                               ("down (hanging)", "ldap://127.0.0.1:%d" % hang.getsockname()[1])):
                mp = tl.write(os.path.join(tmp, "map.cf"),
                              "server_host = %s\nsearch_base = %s\ntimeout = 2\n"
                              "cache_ttl = 0\nnegative_cache_ttl = 0\n" % (url, tl.BASE))
                conf = tl.write(os.path.join(tmp, "smimeguard.conf"),
                                trust + "certificate_maps = ldap:%s\n"
                                "internal_domains = example.org\npolicy_action = reject\n"
                                "encryption_policy_maps = texthash:%s\n" % (mp, pol), 0o644)
                sock = os.path.join(tmp, "policyd.sock")
                log = open(os.path.join(tmp, "policyd.log"), "w")
                p = run_policyd(policyd, conf, sock, log)
                try:
                    lat, answers, timeouts = load(sock, clients, seconds)
                finally:
                    p.terminate()
                    try:
                        p.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        p.kill()    # busy with lookups that all time out
                        p.wait()
                    log.close()
                    if os.path.exists(sock):
                        os.unlink(sock)
                print("\n%s, directory %s:" % (label, state))
                print("  %-10s %7s %9s %9s %9s %s" % ("kind", "count", "p50 ms", "p99 ms",
                                                      "max ms", "no answer in %d s" % CLIENT_TIMEOUT))
                for kind in ("no lookup", "lookup"):
                    v = lat[kind]
                    print("  %-10s %7d %9.1f %9.1f %9.1f %d" % (
                        kind, len(v), percentile(v, 50) * 1e3,
                        percentile(v, 99) * 1e3, max(v) * 1e3 if v else float("nan"),
                        timeouts[kind]))
                print("  answers: " + ", ".join("%s %s: %d" % (k, w, n) for (k, w), n
                                                in sorted(answers.items())))
    finally:
        srv.stop()
        hang.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
