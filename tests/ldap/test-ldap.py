#!/usr/bin/env python3
"""test-ldap.py - ldap: certificate maps and smimectl doctor against a real,
throwaway slapd (Debian slapd + ldap-utils).

Environment: SMIMECTL (the smimectl binary), SG_TESTDATA (data-gen of
gen-pki.sh).  Starts slapd with a generated slapd.conf in a temporary
directory (core, cosine, inetorgperson schemas + a one-attribute test
schema for proxyAddresses; mdb backend) on 127.0.0.1 (ldap:// and ldaps://)
and an ldapi:// socket, loads users with certificates in
userSMIMECertificate, userCertificate, both, a PKCS#7 bundle, and checks
`smimectl cert lookup` / `smimectl doctor`: output, JSON, exit codes,
selection, caching, fail-over, a server that hangs, binds (simple, SASL
EXTERNAL, TLS), filter injection, slapd killed (SIGKILL) and restarted
while lookups run.  The system's slapd is never touched; the test's slapd
is stopped by its pid.

Prints "N passed, N failed"; exit 0 when all pass, 1 otherwise.
"""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SMIMECTL = os.environ["SMIMECTL"]
D = os.environ["SG_TESTDATA"]
SCHEMA = "/etc/ldap/schema"
SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
BASE = "dc=example,dc=org"
ROOTDN = "cn=admin," + BASE
ROOTPW = "secret-root"
READERPW = "reader-pw"

passed = 0
failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: %s" % name)
        if detail:
            for line in str(detail).splitlines()[:25]:
                print("  | " + line)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(*args, stdin=None, timeout=30):
    """smimectl ARGS: exit status (-1: killed after timeout), stdout,
    stderr, seconds"""
    t0 = time.monotonic()
    try:
        p = subprocess.run([SMIMECTL] + list(args), input=stdin,
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return -1, e.stdout or "", "killed after %ds" % timeout, timeout
    return p.returncode, p.stdout, p.stderr, time.monotonic() - t0


def openssl(*args, data=None):
    return subprocess.run(["openssl"] + list(args), input=data,
                          capture_output=True, check=True).stdout


def der_of(pem_path):
    return openssl("x509", "-in", pem_path, "-outform", "DER")


class Slapd:
    """one throwaway slapd; data survives stop/start (mdb)"""

    def __init__(self, tmp):
        self.tmp = tmp
        self.port = free_port()
        self.tls_port = free_port()
        self.sock = os.path.join(tmp, "ldapi")
        self.ldapi = "ldapi://" + self.sock.replace("/", "%2F")
        self.url = "ldap://127.0.0.1:%d" % self.port
        self.tls_url = "ldaps://127.0.0.1:%d" % self.tls_port
        self.pidfile = os.path.join(tmp, "slapd.pid")
        self.pid = None
        os.makedirs(os.path.join(tmp, "db"))
        with open(os.path.join(tmp, "test.schema"), "w") as f:
            # Active Directory's proxyAddresses, as an auxiliary class
            f.write("""attributetype ( 1.2.840.113556.1.2.210 NAME 'proxyAddresses'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
objectclass ( 1.3.6.1.4.1.4203.666.11.99.1 NAME 'sgTestMailAliases'
  AUXILIARY MAY proxyAddresses )
""")
        ext = "gidNumber=%d+uidNumber=%d,cn=peercred,cn=external,cn=auth" % (
            os.getgid(), os.getuid())
        with open(os.path.join(tmp, "slapd.conf"), "w") as f:
            f.write("""include {s}/core.schema
include {s}/cosine.schema
include {s}/inetorgperson.schema
include {t}/test.schema
pidfile {t}/slapd.pid
argsfile {t}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile {t}/server.pem
TLSCertificateKeyFile {t}/server.key
database mdb
maxsize 33554432
suffix "{b}"
rootdn "{r}"
rootpw {rp}
directory {t}/db
access to dn.subtree="ou=restricted,{b}"
  by dn.exact="cn=reader,{b}" read
  by dn.exact="{ext}" read
  by * none
access to attrs=userPassword
  by anonymous auth
  by * none
access to * by * read
""".format(s=SCHEMA, t=tmp, b=BASE, r=ROOTDN, rp=ROOTPW, ext=ext))
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=localhost", "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout", os.path.join(tmp, "server.key"),
                "-out", os.path.join(tmp, "server.pem"))

    def start(self):
        subprocess.run([SLAPD, "-f", os.path.join(self.tmp, "slapd.conf"),
                        "-h", "%s/ %s/ %s" % (self.url, self.tls_url,
                                               self.ldapi)],
                       check=True, capture_output=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.5):
                    pass
                with open(self.pidfile) as f:
                    self.pid = int(f.read().strip())
                return
            except (OSError, ValueError):
                time.sleep(0.1)
        raise RuntimeError("slapd did not start")

    def stop(self):
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            self.pid = None
            return
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(self.pid, signal.SIGKILL)
        self.pid = None

    def add(self, ldif):
        p = subprocess.run(["ldapadd", "-x", "-H", self.ldapi, "-D", ROOTDN,
                            "-w", ROOTPW], input=ldif.encode(),
                           capture_output=True)
        if p.returncode != 0:
            raise RuntimeError("ldapadd: %s" % p.stderr.decode())

    def modify(self, ldif):
        p = subprocess.run(["ldapmodify", "-x", "-H", self.ldapi, "-D",
                            ROOTDN, "-w", ROOTPW], input=ldif.encode(),
                           capture_output=True)
        if p.returncode != 0:
            raise RuntimeError("ldapmodify: %s" % p.stderr.decode())


def b64(data):
    return base64.b64encode(data).decode()


def person(cn, mail, ou="people", **attrs):
    """an inetOrgPerson entry; attrs: LDAP attribute -> list of bytes"""
    lines = ["dn: cn=%s,ou=%s,%s" % (cn, ou, BASE),
             "objectClass: inetOrgPerson"]
    if "proxyAddresses" in attrs:
        lines.append("objectClass: sgTestMailAliases")
    lines += ["cn: %s" % cn, "sn: %s" % cn.split()[-1], "mail: %s" % mail]
    for name, values in attrs.items():
        for v in values:
            if isinstance(v, bytes):
                lines.append("%s:: %s" % (name, b64(v)))
            else:
                lines.append("%s: %s" % (name, v))
    return "\n".join(lines) + "\n\n"


def policy_map_tests(srv, tmp, conf, base_map, hang_port):
    """encryption_policy_maps = ldap:FILE: the rule of a recipient read
    from the directory (entries under ou=policy: cn the key, description
    the value), key by key as a texthash map is read; a value that is not
    a rule and a directory that is down defer, never permit"""
    srv.add("""dn: ou=policy,{b}
objectClass: organizationalUnit
ou: policy

""".format(b=BASE) + "".join(
        "dn: cn={k},ou=policy,{b}\nobjectClass: organizationalRole\n"
        "cn: {k}\n{v}\n".format(k=k, b=BASE, v="".join(
            "description: %s\n" % x for x in vals))
        for k, vals in [
            ("partner@ext.example", ["encrypt defer"]),
            ("ext.example", ["encrypt-aead"]),
            (".parent.example", ["sign hold"]),
            (".sub.parent.example", ["encrypt"]),
            ("bad.example", ["encrypt-maybe"]),
            ("two.example", ["encrypt", "sign"]),
            ("from:@hr.example.org", ["encrypt+sign"]),
            ("*", ["none"]),
        ]))
    pmap = write(os.path.join(tmp, "policy-ldap.cf"),
                 "server_host = %s\nsearch_base = ou=policy,%s\n"
                 "query_filter = (&(objectClass=organizationalRole)(cn=%%s))\n"
                 "result_attribute = description\ntimeout = 3\n"
                 % (srv.url, BASE))
    pc = conf("ldappolicy", base_map,
              "internal_domains = example.org\npolicy_action = reject\n"
              "encryption_policy_maps = ldap:%s\n" % pmap)

    def policy(sender, *rcpts):
        args = ["policy", "test", "-c", pc, "--sender", sender]
        for r in rcpts:
            args += ["--recipient", r]
        return run(*args)

    # precedence: address, then domain, then the nearest parent, then "*"
    for rcpt, want in [
            ("partner@ext.example",
             "requires encrypt, action defer (recipient rule partner@ext.example)"),
            ("other@ext.example",
             "requires encrypt-aead, action reject (recipient rule ext.example)"),
            ("x@a.parent.example",
             "requires sign, action hold (recipient rule .parent.example)"),
            ("x@deep.sub.parent.example",
             "requires encrypt, action reject (recipient rule .sub.parent.example)"),
            ("x@nowhere.example", "no requirement (no rule requires anything)"),
            # filter injection: "*" is a value (\2a), never "any"; had it
            # been a wildcard, the first key would match partner@ and the
            # last one every entry (several values: deferred)
            ("*@ext.example",
             "requires encrypt-aead, action reject (recipient rule ext.example)"),
            ("x@sub.nowhere.example", "no requirement (no rule requires anything)")]:
        rc, out, err, _ = policy("alice@example.org", rcpt)
        check("ldap policy map: %s -> %s" % (rcpt, want), want in out,
              (rc, out, err))
    # the sender's rule comes from the same map (from: keys)
    rc, out, err, _ = policy("boss@hr.example.org", "x@nowhere.example")
    check("ldap policy map: sender rule from:@hr.example.org",
          "requires encrypt+sign, action reject (sender rule from:@hr.example.org)"
          in out, (rc, out, err))
    # injection in a quoted local part: ")(", "*" and a backslash are
    # escaped; nothing matches, the domain's rule applies
    for rcpt in ['"x)(cn=*"@ext.example', '"a\\\\b*"@ext.example',
                 '"*)(|(cn=*"@ext.example']:
        rc, out, err, _ = policy("alice@example.org", rcpt)
        check("ldap policy map: injection %s finds only the domain's rule" % rcpt,
              ("requires encrypt-aead, action reject (recipient rule ext.example)"
               in out) or ("refused: 5" in out), (rc, out, err))
    # a value that is not a rule, two different values: deferred, with why
    for rcpt, why in [("x@bad.example", "'encrypt-maybe' is not a requirement"),
                      ("x@two.example", "2 different values of description")]:
        rc, out, err, _ = policy("alice@example.org", rcpt)
        check("ldap policy map: %s deferred (%s)" % (rcpt, why),
              rc == 1 and "deferred: 451 4.3.0 policy lookup failed:" in out
              and why in out, (rc, out, err))
    # a bad result_attribute setup is an error when the map is opened
    bad = write(os.path.join(tmp, "policy-noattr.cf"),
                "server_host = %s\nsearch_base = %s\n" % (srv.url, BASE))
    bc = conf("ldappolicy-noattr", base_map,
              "encryption_policy_maps = ldap:%s\n" % bad)
    rc, out, err, _ = run("policy", "test", "-c", bc, "--sender", "a@example.org",
                          "--recipient", "x@ext.example")
    check("ldap policy map without result_attribute: configuration error",
          rc == 2 and "result_attribute is required" in err, (rc, out, err))
    # the directory down: temporary failure, never "no requirement"
    srv.stop()
    try:
        rc, out, err, _ = policy("alice@example.org", "x@ext.example",
                                 "y@nowhere.example")
        check("ldap policy map, slapd stopped: every recipient deferred",
              rc == 1 and out.count("deferred: 451 4.3.0 policy lookup failed:") == 2
              and "no LDAP server answered" in out and "no requirement" not in out,
              (rc, out, err))
    finally:
        srv.start()

    # ---- end to end: smime-policyd with an ldap: policy map ----
    policyd = os.path.join(os.path.dirname(os.path.dirname(SMIMECTL)),
                           "postfix-policy", "smime-policyd")
    sock = os.path.join(tmp, "policyd-ldappolicy.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    log = open(os.path.join(tmp, "policyd-ldappolicy.log"), "w+")
    pd = subprocess.Popen([policyd, "-c", pc, "-l", "unix:" + sock, "-e"],
                          stdout=log, stderr=log)
    deadline = time.monotonic() + 10
    while not os.path.exists(sock) and time.monotonic() < deadline:
        time.sleep(0.05)

    def ask(rcpt):
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(sock)
        conn.settimeout(15)
        conn.sendall(b"request=smtpd_access_policy\nprotocol_state=RCPT\n"
                     b"sender=alice@example.org\nrecipient=" + rcpt +
                     b"\nqueue_id=4F1A2B3C4D\n\n")
        buf = b""
        while not buf.endswith(b"\n\n"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            buf += chunk
        conn.close()
        return buf.decode(errors="replace")

    try:
        r1 = ask(b"partner@ext.example")
        check("policyd, ldap policy map: encrypt defer, no certificate -> 450",
              r1.startswith("action=450 4.7.1 mail to this recipient must be "
                            "S/MIME encrypted"), r1)
        r2 = ask(b"x@nowhere.example")
        check("policyd, ldap policy map: '*' none -> DUNNO",
              r2 == "action=DUNNO\n\n", r2)
        r3 = ask(b"x@bad.example")
        check("policyd, ldap policy map: a bad value defers",
              r3.startswith("action=DEFER_IF_PERMIT 4.3.0 the S/MIME encryption "
                            "policy lookup failed"), r3)
        # a NUL byte: the request is malformed (the daemon hangs up, as
        # SMTPD_POLICY_README asks); filter characters are only values
        r4 = ask(b"a\x00*)(cn=*@ext.example")
        r4b = ask(b"*)(cn=*@ext.example")
        check("policyd, ldap policy map: a NUL in the recipient ends that "
              "request without an answer; the daemon goes on",
              r4 == "" and pd.poll() is None, r4)
        check("policyd, ldap policy map: '*)(cn=*' in the recipient is refused "
              "or finds only the domain's rule",
              r4b.startswith("action=553 5.1.3") or
              r4b.startswith("action=550 5.7.1"), r4b)
        srv.stop()
        try:
            r5 = ask(b"partner@ext.example")
            r6 = ask(b"new@other.example")
        finally:
            srv.start()
        check("policyd, ldap policy map, slapd stopped: a cached rule still "
              "applies", r5 == r1, (r1, r5))
        check("policyd, ldap policy map, slapd stopped: an uncached one defers",
              r6.startswith("action=DEFER_IF_PERMIT 4.3.0"), r6)
    finally:
        pd.terminate()
        try:
            pd.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pd.kill()
            pd.wait()
        log.seek(0)
        logtext = log.read()
        log.close()
    check("policyd, ldap policy map: stopped cleanly, why logged (not sent)",
          pd.returncode == 0 and "'encrypt-maybe' is not a requirement" in logtext
          and "no LDAP server answered" in logtext
          and "no LDAP server" not in r6, (pd.returncode, logtext[-2000:]))

    # a hanging directory: the decision waits in the lookup thread; a
    # RCPT to an internal recipient (no rule needed) and a request that
    # is not a RCPT are answered meanwhile; the waiting one is deferred
    # within the timeout
    hmap = write(os.path.join(tmp, "policy-hang.cf"),
                 "server_host = ldap://127.0.0.1:%d\nsearch_base = %s\n"
                 "result_attribute = description\ntimeout = 4\n"
                 % (hang_port, BASE))
    hc = conf("ldappolicy-hang", base_map,
              "internal_domains = example.org\n"
              "encryption_policy_maps = ldap:%s\n" % hmap)
    sock2 = os.path.join(tmp, "policyd-hang2.sock")
    pd = subprocess.Popen([policyd, "-c", hc, "-l", "unix:" + sock2, "-e"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not os.path.exists(sock2) and time.monotonic() < deadline:
        time.sleep(0.05)

    def send(conn, rcpt, state="RCPT"):
        conn.sendall(("request=smtpd_access_policy\nprotocol_state=%s\n"
                      "sender=alice@example.org\nrecipient=%s\n\n"
                      % (state, rcpt)).encode())

    def reply(conn):
        buf = b""
        conn.settimeout(15)
        while not buf.endswith(b"\n\n"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            buf += chunk
        return buf.decode(errors="replace")

    try:
        conns = []
        for _ in range(3):
            k = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            k.connect(sock2)
            conns.append(k)
        t0 = time.monotonic()
        send(conns[0], "x@partner.example")
        time.sleep(0.3)
        t1 = time.monotonic()
        send(conns[1], "x@partner.example", "DATA")
        rd, td = reply(conns[1]), time.monotonic() - t1
        t1 = time.monotonic()
        send(conns[2], "bob@example.org")
        ri, ti = reply(conns[2]), time.monotonic() - t1
        rw, tw = reply(conns[0]), time.monotonic() - t0
        for k in conns:
            k.close()
    finally:
        pd.terminate()
        try:
            pd.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pd.kill()
            pd.wait()
    check("policyd, ldap policy map, hanging directory: a non-RCPT request "
          "is answered while a rule is looked up (%.2fs)" % td,
          rd == "action=DUNNO\n\n" and td < 2.5, (rd, td))
    check("policyd, ldap policy map, hanging directory: an internal RCPT "
          "is answered meanwhile (%.2fs)" % ti,
          ri == "action=DUNNO\n\n" and ti < 2.5, (ri, ti))
    check("policyd, ldap policy map, hanging directory: the waiting RCPT is "
          "deferred within the timeout (%.1fs)" % tw,
          rw.startswith("action=DEFER_IF_PERMIT 4.3.0") and tw < 4 + 4,
          (rw, tw))
    check("policyd, ldap policy map, hanging directory: stopped cleanly",
          pd.returncode == 0, pd.returncode)


def main():
    # a TERM (make's timeout, ^C of the harness) still stops slapd
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    tmp = tempfile.mkdtemp(prefix="sg-ldap.", dir="/tmp")
    os.chmod(tmp, 0o700)
    srv = Slapd(tmp)
    hang = None
    try:
        srv.start()
        hang = socket.socket()
        hang.bind(("127.0.0.1", 0))
        hang.listen(16)		# accepts nothing, answers nothing
        tests(srv, tmp, hang.getsockname()[1])
    finally:
        srv.stop()
        if hang is not None:
            hang.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


def write(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def lookup_json(conf, *addrs, extra=()):
    rc, out, err, secs = run("cert", "lookup", "-c", conf, "--json",
                             *extra, *addrs)
    objs = []
    for line in out.splitlines():
        try:
            objs.append(json.loads(line))
        except ValueError:
            objs.append({"unparsable": line})
    return rc, objs, err, secs


def tests(srv, tmp, hang_port):
    cm = os.path.join(D, "certmap")
    pki = os.path.join(D, "pki")
    # ---- the directory ----
    bob_new = der_of(cm + "/bob-new.pem")
    bob_old = der_of(cm + "/bob-2026.pem")
    alice = der_of(pki + "/alice@example.org.pem")
    dave = der_of(pki + "/dave@example.org.pem")
    frank_pem = openssl("pkcs7", "-inform", "DER", "-in", cm + "/bundle.p7b",
                        "-print_certs")
    frank_file = write(os.path.join(tmp, "frank.pem"), frank_pem.decode())
    bundle = openssl("crl2pkcs7", "-nocrl", "-certfile", frank_file,
                     "-certfile", D + "/intermediates/int-rsa.pem",
                     "-certfile", D + "/trust/root-rsa.pem", "-outform", "DER")
    ldif = """dn: {b}
objectClass: dcObject
objectClass: organization
dc: example
o: Example Org

dn: ou=people,{b}
objectClass: organizationalUnit
ou: people

dn: ou=restricted,{b}
objectClass: organizationalUnit
ou: restricted

dn: cn=reader,{b}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: {pw}

""".format(b=BASE, pw=READERPW)
    ldif += person("Bob Example", "bob@example.org",
                   userSMIMECertificate=[bob_new],
                   **{"userCertificate;binary": [bob_old]})
    ldif += person("Alice Example", "alice@example.org",
                   **{"userCertificate;binary": [alice]})
    ldif += person("Dave Example", "dave@example.org",
                   userSMIMECertificate=[dave],
                   **{"userCertificate;binary": [dave]})
    ldif += person("Ecdh Example", "ecdh@example.org",
                   userSMIMECertificate=[der_of(cm + "/ecdh.pem")])
    ldif += person("Frank Example", "frank@example.org",
                   userSMIMECertificate=[bundle])
    ldif += person("Expired Example", "expired@example.org",
                   **{"userCertificate;binary": [der_of(cm + "/expired.pem")]})
    ldif += person("Revoked Example", "revoked@example.org",
                   **{"userCertificate;binary": [der_of(cm + "/revoked.pem")]})
    ldif += person("Signonly Example", "signonly@example.org",
                   userSMIMECertificate=[der_of(cm + "/signonly.pem")])
    ldif += person("Badeku Example", "badeku@example.org",
                   **{"userCertificate;binary": [der_of(cm + "/badeku.pem")]})
    ldif += person("Erin Upper", "erin.upper@example.org",
                   proxyAddresses=["smtp:erin@alias.example.org",
                                   "SMTP:erin.upper@example.org"],
                   **{"userCertificate;binary": [der_of(cm + "/upper.pem")]})
    ldif += person("Junk Example", "junk@example.org",
                   userSMIMECertificate=[b"\x30\x03\x02\x01\x00not a cert"])
    ldif += person("Nocert Example", "nocert@example.org")
    ldif += person("Carol Restricted", "carol@example.org", ou="restricted",
                   **{"userCertificate;binary": [der_of(cm + "/carol.pem")]})
    # an entry that holds someone else's certificate (bob's): never used
    # for its own address (issue 10)
    ldif += person("Weird Example", "we*ird@example.org",
                   **{"userCertificate;binary": [der_of(cm + "/bob-new.pem")]})
    ldif += person("Mallory Example", "mallory@example.org",
                   proxyAddresses=["smtp:nico@example.org"],
                   **{"userCertificate;binary": [der_of(cm + "/bob-2026.pem")]})
    srv.add(ldif)

    trust = "trust_anchors = {d}/trust\nintermediates = {d}/intermediates\n" \
            "crl_dirs = {d}/crl\n".format(d=D)

    def conf(name, mapcf, extra=""):
        mp = write(os.path.join(tmp, name + ".cf"), mapcf)
        return write(os.path.join(tmp, name + ".conf"),
                     trust + "certificate_maps = ldap:%s\n" % mp + extra,
                     0o644)

    base_map = "server_host = %s\nsearch_base = %s\ntimeout = 3\n" % (
        srv.url, BASE)
    c = conf("main", base_map)

    # ---- lookups: selection, attributes, JSON ----
    rc, o, err, _ = lookup_json(c, "bob@example.org")
    check("bob: exit 0", rc == 0, err)
    j = o[0] if o else {}
    certs = j.get("certificates", [])
    check("bob: found, two candidates (one per attribute)",
          j.get("found") is True and len(certs) == 2, j)
    if len(certs) == 2:
        check("bob: the newer certificate is selected",
              certs[0]["selected"] and "Bob Example (2)" in certs[0]["subject"],
              certs[0])
        check("bob: source names server, attribute and entry",
              certs[0]["source"].startswith(srv.url + " userSMIMECertificate ")
              and certs[0]["source"].endswith("cn=Bob Example,ou=people," + BASE),
              certs[0]["source"])
        check("bob: the older one comes from userCertificate;binary",
              " userCertificate;binary cn=Bob" in certs[1]["source"]
              and certs[1]["usable"] and not certs[1]["selected"], certs[1])
        check("bob: map is the ldap: map",
              j["map"] == "ldap:" + os.path.join(tmp, "main.cf")
              and certs[0]["map"] == j["map"], j["map"])
    rc, o, err, _ = lookup_json(c, "dave@example.org")
    certs = o[0].get("certificates", []) if o else []
    check("dave: same certificate in both attributes is one candidate",
          rc == 0 and len(certs) == 1, o)
    if certs:
        check("dave: its source names both attributes",
              "userSMIMECertificate" in certs[0]["source"]
              and "userCertificate;binary" in certs[0]["source"], certs[0])
    rc, o, err, _ = lookup_json(c, "alice@example.org")
    check("alice: userCertificate only", rc == 0 and o and o[0]["found"]
          and "userCertificate;binary" in o[0]["certificates"][0]["source"], o)
    rc, o, err, _ = lookup_json(c, "ecdh@example.org")
    check("ecdh: bare certificate in userSMIMECertificate (EC keyAgreement)",
          rc == 0 and o and o[0]["found"]
          and o[0]["certificates"][0]["key"] == "EC-prime256v1", o)
    rc, o, err, _ = lookup_json(c, "frank@example.org")
    certs = o[0].get("certificates", []) if o else []
    check("frank: PKCS#7 bundle gives the user certificate, not its CAs",
          rc == 0 and len(certs) == 1 and "Frank" in certs[0]["subject"], o)
    for addr, reason in [("expired@example.org", "expired"),
                         ("revoked@example.org", "revoked"),
                         ("signonly@example.org", "key-usage"),
                         ("badeku@example.org", "key-usage")]:
        rc, o, err, _ = lookup_json(c, addr)
        certs = o[0].get("certificates", []) if o else []
        check("%s: rejected (%s), exit 1" % (addr, reason),
              rc == 1 and len(certs) == 1 and not certs[0]["usable"]
              and reason in certs[0]["reasons"], o)
    rc, o, err, _ = lookup_json(c, "erin@alias.example.org")
    check("alias via proxyAddresses=smtp:%s finds the entry",
          rc == 0 and o and o[0]["found"]
          and "Erin Upper" in o[0]["certificates"][0]["subject"], o)
    for addr in ("we*ird@example.org", "nico@example.org"):
        rc, o, err, _ = lookup_json(c, addr)
        certs = o[0].get("certificates", []) if o else []
        check("%s: the entry's certificate names another person: not "
              "usable (sender-mismatch), exit 1" % addr,
              rc == 1 and len(certs) == 1 and not certs[0]["usable"]
              and "sender-mismatch" in certs[0]["reasons"]
              and "does not name" in certs[0]["detail"], o)
    rc, o, err, _ = lookup_json(c, "ERIN.Upper@Example.ORG")
    check("address case does not matter", rc == 0 and o and o[0]["found"], o)
    for addr in ["junk@example.org", "nocert@example.org",
                 "nobody@example.org"]:
        rc, o, err, _ = lookup_json(c, addr)
        check("%s: no certificate, exit 1" % addr,
              rc == 1 and o and o[0]["found"] is False
              and o[0]["certificates"] == [], (rc, o, err))
    rc, out, err, _ = run("cert", "lookup", "-c", c, "bob@example.org")
    check("text output names the attribute and entry",
          rc == 0 and "selected" in out and "userSMIMECertificate cn=Bob" in out,
          out + err)

    # ---- filter injection: nothing, never everything ----
    for addr in ["*", "*@example.org", "*)(mail=*", "bob@example.org)(mail=*",
                 "x)(|(mail=*", "bob*", "\\2a", "*)(objectClass=*",
                 "bob@example.org)(|(cn=*"]:
        rc, o, err, _ = lookup_json(c, addr)
        check("injection %r finds nothing" % addr,
              rc == 1 and o and o[0].get("certificates") == [], (rc, o, err))
    # a %u/%d filter, and a filter that does not use %d with no domain
    cu = conf("ud", base_map + "query_filter = (&(objectClass=inetOrgPerson)"
              "(mail=%u@%d))\n")
    rc, o, err, _ = lookup_json(cu, "bob@example.org", "bob")
    check("%u@%d filter finds bob; no domain: no query",
          rc == 1 and len(o) == 2 and o[0]["found"] and not o[1]["found"],
          (o, err))
    rc, o, err, _ = lookup_json(cu, "*@example.org")
    check("%u is escaped too", rc == 1 and o[0]["certificates"] == [], o)

    # ---- size_limit: more entries than allowed is a temporary error ----
    cs = conf("size", base_map + "size_limit = 2\nquery_filter = "
              "(|(mail=%s)(objectClass=inetOrgPerson))\n")
    rc, o, err, _ = lookup_json(cs, "bob@example.org")
    check("size_limit exceeded: temporary error, exit 2",
          rc == 2 and "size_limit" in err, (rc, err))

    # ---- domain: other domains are not looked up (no server needed) ----
    cd = conf("dom", "server_host = ldap://127.0.0.1:%d\nsearch_base = %s\n"
              "domain = example.com, example.net\n" % (free_port(), BASE))
    rc, o, err, _ = lookup_json(cd, "bob@example.org")
    check("domain: an address of another domain is not looked up (exit 1)",
          rc == 1 and o and o[0]["certificates"] == [], (rc, o, err))
    rc, o, err, _ = lookup_json(cd, "bob@example.com")
    check("domain: an address of a served domain is (server down: exit 2)",
          rc == 2, (rc, err))

    # ---- fail-over, down, hanging ----
    closed = free_port()
    cf = conf("failover", "server_host = ldap://127.0.0.1:%d, %s\n"
              "search_base = %s\ntimeout = 8\n" % (closed, srv.url, BASE))
    rc, o, err, secs = lookup_json(cf, "bob@example.org")
    check("fail-over: first server a closed port, the second answers",
          rc == 0 and o and o[0]["found"]
          and o[0]["certificates"][0]["source"].startswith(srv.url), (rc, o, err))
    check("fail-over is fast for a closed port (%.1fs, timeout 8 s)" % secs, secs < 5)
    cdown = conf("down", "server_host = ldap://127.0.0.1:%d\n"
                 "search_base = %s\n" % (closed, BASE))
    rc, o, err, _ = lookup_json(cdown, "bob@example.org")
    check("no server: temporary error (exit 2), never 'no certificate'",
          rc == 2 and o and "error" in o[0]
          and "no LDAP server answered" in o[0]["error"], (rc, o, err))
    chang = conf("hang", "server_host = ldap://127.0.0.1:%d\nsearch_base = %s\n"
                 "timeout = 2\n" % (hang_port, BASE))
    rc, o, err, secs = lookup_json(chang, "bob@example.org")
    check("hanging server: temporary error (exit 2)",
          rc == 2 and "timed out" in err.lower(),
          (rc, err))
    check("hanging server: answered within timeout + margin (%.1fs)" % secs,
          1.5 <= secs < 2 + 4)
    # one process, three addresses: the first waits for the timeout, the
    # next fail at once (fail-fast window), all temporary errors
    rc, o, err, secs = lookup_json(chang, "bob@example.org", "alice@example.org",
                                   "dave@example.org")
    check("hanging server: one lookup waits, the next fail at once (%.1fs)" % secs,
          rc == 2 and len(o) == 3 and all("no LDAP server answered" in x.get("error", "")
                                          for x in o)
          and "asked again in" in o[1]["error"] and secs < 2 + 4, (rc, o, err, secs))
    chang2 = conf("hang2", "server_host = ldap://127.0.0.1:%d %s\n"
                  "search_base = %s\ntimeout = 2\n" % (hang_port, srv.url, BASE))
    rc, o, err, secs = lookup_json(chang2, "alice@example.org")
    check("hanging first server, fail-over to the second (%.1fs)" % secs,
          rc == 0 and o and o[0]["found"] and secs < 2 + 4, (rc, o, err))
    chb = conf("hangbind", "server_host = ldap://127.0.0.1:%d\nsearch_base = %s\n"
               "timeout = 2\nbind_dn = cn=reader,%s\nbind_pw = %s\n"
               % (hang_port, BASE, BASE, READERPW))
    rc, o, err, secs = lookup_json(chb, "bob@example.org")
    check("hanging server during bind: exit 2 within timeout + margin "
          "(%.1fs)" % secs, rc == 2 and secs < 2 + 4, (rc, err))
    cht = conf("hangtls", "server_host = ldaps://127.0.0.1:%d\nsearch_base = %s\n"
               "timeout = 2\n" % (hang_port, BASE))
    rc, o, err, secs = lookup_json(cht, "bob@example.org")
    check("hanging server during the TLS handshake: exit 2 within timeout + "
          "margin (%.1fs)" % secs, rc == 2 and secs < 2 + 4, (rc, err))

    # ---- smime-policyd with a hanging directory ----
    # a lookup waits in the lookup thread; a RCPT that needs none, on
    # another connection, is answered at once meanwhile; the waiting one
    # gets DEFER_IF_PERMIT within the timeout; the next lookup fails at
    # once (fail-fast), and the connection goes on serving
    policyd = os.path.join(os.path.dirname(os.path.dirname(SMIMECTL)),
                           "postfix-policy", "smime-policyd")
    pol = write(os.path.join(tmp, "hang-policy"), "partner.example encrypt\n* none\n")
    pconf = conf("hangpolicyd", "server_host = ldap://127.0.0.1:%d\nsearch_base = %s\n"
                 "timeout = 6\n" % (hang_port, BASE),
                 "internal_domains = example.org\npolicy_action = reject\n"
                 "encryption_policy_maps = texthash:%s\n" % pol)
    sock = os.path.join(tmp, "policyd.sock")

    def start_policyd(out):
        if os.path.exists(sock):
            os.unlink(sock)
        p = subprocess.Popen([policyd, "-c", pconf, "-l", "unix:" + sock, "-e"],
                             stdout=out, stderr=out)
        deadline = time.monotonic() + 10
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.05)
        return p

    def stop_policyd(p):
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    plog = open(os.path.join(tmp, "policyd.log"), "w+")
    pp = start_policyd(plog)
    try:
        def ask_policy(conn, rcpt):
            conn.sendall(("request=smtpd_access_policy\nprotocol_state=RCPT\n"
                          "sender=alice@example.org\nrecipient=%s\n"
                          "queue_id=4F1A2B3C4D\n\n" % rcpt).encode())

        def answer(conn):
            buf = b""
            conn.settimeout(15)
            while not buf.endswith(b"\n\n"):
                chunk = conn.recv(4096)
                if not chunk:
                    break
                buf += chunk
            return buf.decode(errors="replace")

        def connect():
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.connect(sock)
            return conn

        a, b, c3 = connect(), connect(), connect()
        t0 = time.monotonic()
        ask_policy(a, "x@partner.example")
        time.sleep(0.3)
        t1 = time.monotonic()
        ask_policy(b, "bob@example.org")
        rb, tb = answer(b), time.monotonic() - t1
        ra, ta = answer(a), time.monotonic() - t0
        t2 = time.monotonic()
        ask_policy(c3, "y@partner.example")
        rc3, tc = answer(c3), time.monotonic() - t2
        ask_policy(a, "bob@example.org")
        ra2 = answer(a)
        for conn in (a, b, c3):
            conn.close()
        check("policyd, hanging directory: a RCPT that needs no lookup is "
              "answered while another waits (%.2fs)" % tb,
              rb == "action=DUNNO\n\n" and tb < 2.5, (rb, tb))
        check("policyd, hanging directory: the waiting one is deferred within "
              "the timeout (%.1fs)" % ta,
              ra.startswith("action=DEFER_IF_PERMIT 4.7.1") and 5.5 <= ta < 6 + 4,
              (ra, ta))
        check("policyd, hanging directory: the next lookup fails at once "
              "(%.2fs)" % tc, rc3.startswith("action=DEFER_IF_PERMIT") and tc < 2.5,
              (rc3, tc))
        check("policyd: the connection that waited goes on serving",
              ra2 == "action=DUNNO\n\n", ra2)
    finally:
        stop_policyd(pp)
        plog.seek(0)
        plogtext = plog.read()
        plog.close()
    check("policyd: stopped cleanly, the deferrals logged",
          pp.returncode == 0 and plogtext.count(": certificate lookup failed: ") == 2,
          (pp.returncode, plogtext[-1500:]))
    # a client that hangs up while its lookup waits: no busy loop on the
    # closed connection, and the others are served
    pp = start_policyd(subprocess.DEVNULL)
    try:
        d = connect()
        ask_policy(d, "z@partner.example")
        time.sleep(0.2)
        d.close()

        def cpu_ticks():
            with open("/proc/%d/stat" % pp.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])
        t_before = cpu_ticks()
        time.sleep(1.0)
        spent = cpu_ticks() - t_before
        e = connect()
        t3 = time.monotonic()
        ask_policy(e, "bob@example.org")
        re_, te = answer(e), time.monotonic() - t3
        e.close()
        check("policyd: a client gone while its lookup waits costs no CPU "
              "(%d ticks in 1 s)" % spent, spent < 30, spent)
        check("policyd: and the others are served (%.2fs)" % te,
              re_ == "action=DUNNO\n\n" and te < 2.5, (re_, te))
    finally:
        stop_policyd(pp)

    # ---- binds ----
    rc, o, err, _ = lookup_json(c, "carol@example.org")
    check("anonymous cannot read ou=restricted (exit 1)",
          rc == 1 and o and not o[0]["found"]
          and not o[0].get("certificates"), (rc, o, err))
    cb = conf("bind", base_map + "bind_dn = cn=reader,%s\nbind_pw = %s\n"
              % (BASE, READERPW))
    rc, o, err, _ = lookup_json(cb, "carol@example.org")
    # (carol's certificate is for signing only: read, listed, not usable)
    check("simple bind reads ou=restricted",
          rc == 1 and o and "ou=restricted" in o[0]["certificates"][0]["source"],
          (rc, o, err))
    cbad = conf("badpw", base_map + "bind_dn = cn=reader,%s\nbind_pw = wrong\n"
                % BASE)
    rc, o, err, _ = lookup_json(cbad, "carol@example.org")
    check("wrong bind_pw: temporary error naming the bind (exit 2)",
          rc == 2 and "bind" in err and "Invalid credentials" in err, (rc, err))
    mp = os.path.join(tmp, "bind.cf")
    os.chmod(mp, 0o644)
    rc, o, err, _ = lookup_json(cb, "carol@example.org")
    check("bind_pw in a world-readable map file is refused (exit 2)",
          rc == 2 and "bind_pw" in err and "chmod 600" in err, (rc, err))
    os.chmod(mp, 0o640)
    rc, o, err, _ = lookup_json(cb, "carol@example.org")
    check("... and in a group-readable one", rc == 2 and "group" in err,
          (rc, err))
    os.chmod(mp, 0o600)
    os.chown(mp, 65534, -1)
    rc, o, err, _ = lookup_json(cb, "carol@example.org")
    check("... and in one another user owns (issue 18)",
          rc == 2 and "owned by uid 65534" in err, (rc, err))
    os.chown(mp, 0, -1)
    cx = conf("external", "server_host = %s\nsearch_base = %s\n"
              "sasl_mech = EXTERNAL\n" % (srv.ldapi, BASE))
    rc, o, err, _ = lookup_json(cx, "carol@example.org")
    check("SASL EXTERNAL over ldapi:// reads ou=restricted",
          rc == 1 and o and "ou=restricted" in o[0]["certificates"][0]["source"]
          and o[0]["certificates"][0]["source"].startswith("ldapi://"),
          (rc, o, err))

    # ---- TLS ----
    ca = os.path.join(tmp, "server.pem")
    ct = conf("ldaps", "server_host = %s\nsearch_base = %s\n"
              "tls_ca_cert_file = %s\n" % (srv.tls_url, BASE, ca))
    rc, o, err, _ = lookup_json(ct, "bob@example.org")
    check("ldaps:// with tls_ca_cert_file", rc == 0 and o and o[0]["found"],
          (rc, o, err))
    cst = conf("starttls", base_map + "start_tls = yes\ntls_ca_cert_file = %s\n"
               % ca)
    rc, o, err, _ = lookup_json(cst, "bob@example.org")
    check("start_tls = yes", rc == 0 and o and o[0]["found"], (rc, o, err))
    cwrong = conf("wrongca", "server_host = %s\nsearch_base = %s\n"
                  "tls_ca_cert_file = %s/trust/root-rsa.pem\n"
                  % (srv.tls_url, BASE, D))
    rc, o, err, _ = lookup_json(cwrong, "bob@example.org")
    check("ldaps:// with a server certificate from another CA: exit 2",
          rc == 2, (rc, o, err))

    # ---- map file errors ----
    for name, text, msg in [
            ("unknown", base_map + "serch_base = x\n",
             "line 4: unknown setting 'serch_base'"),
            ("scope", base_map + "scope = everything\n", "scope"),
            ("url", "server_host = http://x\n", "only ldap://"),
            ("pct", base_map + "query_filter = (mail=%x)\n", "%s, %u, %d"),
            ("nokey", base_map + "query_filter = (mail=bob)\n", "uses none"),
            ("parens", base_map + "query_filter = (mail=%s\n", "unbalanced"),
            ("mech", base_map + "sasl_mech = GSSAPI\n", "only EXTERNAL"),
            ("timeout", base_map + "timeout = 0\n", "timeout")]:
        cc = conf("bad-" + name, text)
        rc, out, err, _ = run("cert", "lookup", "-c", cc, "bob@example.org")
        check("map file error (%s): exit 2 naming it" % name,
              rc == 2 and msg in err and "bad-%s.cf" % name in err, (rc, err))
    write(os.path.join(tmp, "harvest.conf"), trust + "harvest_map = ldap:%s\n"
          % os.path.join(tmp, "main.cf"))
    rc, out, err, _ = run("cert", "lookup", "-c", os.path.join(tmp, "harvest.conf"),
                          "bob@example.org")
    check("harvest_map cannot be ldap:", rc == 2 and "dir: map" in err, err)
    # continuation lines and comments, Postfix style
    cc = conf("style", "# a comment\nserver_host = ldap://127.0.0.1:%d,\n"
              "    %s\n\nsearch_base =\n  %s\n  # not a continuation: a comment\n"
              "timeout = 3\n" % (closed, srv.url, BASE))
    rc, o, err, _ = lookup_json(cc, "bob@example.org")
    check("continuation lines and comments", rc == 0 and o and o[0]["found"],
          (rc, o, err))

    policy_map_tests(srv, tmp, conf, base_map, hang_port)

    # ---- one process: caching, reconnecting (addresses on stdin) ----
    # a TTL far longer than the steps below take even on a loaded machine;
    # expiry is checked separately with a short TTL
    cc = conf("cache", base_map + "cache_ttl = 120\nnegative_cache_ttl = 120\n")
    p = subprocess.Popen([SMIMECTL, "cert", "lookup", "-c", cc, "--json", "-"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, bufsize=1)

    def ask(addr):
        p.stdin.write(addr + "\n")
        p.stdin.flush()
        return json.loads(p.stdout.readline())

    t0 = time.monotonic()
    a1 = ask("bob@example.org")
    a2 = ask("nobody@example.org")
    srv.stop()
    srv.start()
    a3 = ask("alice@example.org")
    check("reconnects after the server restarted", a3.get("found") is True, a3)
    srv.stop()
    a4 = ask("bob@example.org")
    a5 = ask("nobody@example.org")
    a6 = ask("dave@example.org")
    check("cached positive answers while the server is down",
          a1.get("found") is True and a4.get("found") is True
          and a4["certificates"][0]["fingerprint"]
          == a1["certificates"][0]["fingerprint"], (a1, a4))
    check("cached negative answer while the server is down",
          a2.get("found") is False and a5.get("found") is False
          and "error" not in a5, a5)
    check("a new address while the server is down: temporary error",
          "error" in a6 and "no LDAP server answered" in a6["error"], a6)
    p.stdin.close()
    rc = p.wait(timeout=30)
    p.stdout.close()
    p.stderr.close()
    check("exit 2 when some lookup failed", rc == 2, rc)
    # expiry: a positive answer is cached for cache_ttl seconds only
    srv.start()
    cs = conf("shortcache", base_map + "cache_ttl = 2\n")
    p = subprocess.Popen([SMIMECTL, "cert", "lookup", "-c", cs, "--json", "-"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, bufsize=1)
    b1 = ask("bob@example.org")
    srv.stop()
    time.sleep(2.5)
    a7 = ask("bob@example.org")
    check("after cache_ttl the server is asked again (down: error)",
          b1.get("found") is True and "error" in a7, (b1, a7))
    p.stdin.close()
    p.wait(timeout=30)
    p.stdout.close()
    p.stderr.close()
    c0 = conf("nocache", base_map + "cache_ttl = 0\n")
    rc, o, err, _ = lookup_json(c0, "bob@example.org", "bob@example.org")
    check("cache_ttl = 0 with the server down: every lookup fails",
          rc == 2 and len(o) == 2 and all("error" in x for x in o), o)
    srv.start()

    # ---- doctor ----
    rc, out, err, _ = run("doctor", "--no-postfix", "-c", c, "--json", "bob@example.org",
                          "dave@example.org", "alice@example.org")
    try:
        j = json.loads(out)
    except ValueError:
        j = {}
    codes = [(f["code"], f["address"]) for f in j.get("findings", [])]
    check("doctor: userSMIMECertificate and userCertificate differ for bob "
          "(exit 1)", rc == 1 and codes == [("attribute-mismatch",
                                             "bob@example.org")], (rc, out, err))
    if j.get("findings"):
        f = j["findings"][0]
        check("doctor: the mismatch names the entry and both serials",
              f["about"] == "cn=Bob Example,ou=people," + BASE
              and "only in userSMIMECertificate: serial" in f["text"]
              and "only in userCertificate: serial" in f["text"]
              and "both attributes" in f["fix"], f)
        check("doctor JSON fields", list(j.keys()) == ["clean", "findings", "errors"]
              and list(f.keys()) == ["code", "address", "about", "text", "fix"]
              and j["clean"] is False, j)
    rc, out, err, _ = run("doctor", "--no-postfix", "-c", c, "dave@example.org",
                          "alice@example.org", "frank@example.org")
    check("doctor: same certificate in both attributes is clean (exit 0)",
          rc == 0 and "no problems found" in out, (rc, out, err))
    ci = write(os.path.join(tmp, "noint.conf"),
               "trust_anchors = %s/trust\ncrl_dirs = %s/crl\n"
               "certificate_maps = ldap:%s\n" % (D, D, os.path.join(tmp, "main.cf")),
               0o644)
    rc, out, err, _ = run("doctor", "--no-postfix", "-c", ci, "--json", "alice@example.org")
    j = json.loads(out) if out.strip() else {}
    miss = [f for f in j.get("findings", []) if f["code"] == "missing-issuer"]
    check("doctor: missing intermediate named (exit 1)",
          rc == 1 and miss
          and miss[0]["about"] == "CN=Example Org Mail CA RSA,O=Example Org,C=DE"
          and "import the CA certificate of CN=Example Org Mail CA RSA"
          in miss[0]["fix"], (rc, out, err))
    rc, out, err, _ = run("doctor", "--no-postfix", "-c", c, "--crl", D + "/crl-stale")
    check("doctor: expired CRL (exit 1)",
          rc == 1 and "[crl-expired]" in out and "int-rsa-stale.crl.pem" in out
          and "fix:" in out, (rc, out, err))
    rc, out, err, _ = run("doctor", "--no-postfix", "-c", c)
    check("doctor without addresses: clean configuration (exit 0)",
          rc == 0, (rc, out, err))
    rc, out, err, _ = run("doctor", "--no-postfix", "-c", cdown, "bob@example.org")
    check("doctor: a map that does not answer is an error (exit 2)",
          rc == 2 and "no LDAP server answered" in err, (rc, out, err))
    rc, out, err, _ = run("doctor", "--no-postfix", "-c", c, "nobody@example.org")
    check("doctor: no certificate (exit 1)",
          rc == 1 and "[no-certificate]" in out, (rc, out, err))

    # ---- slapd killed during lookups ----
    # lookups all the time (three workers starting smimectl with several
    # addresses, one process asking on stdin, no caching) while slapd is
    # SIGKILLed and started again, six times: every answer is the right
    # one or a temporary error, never "no certificate" for an address that
    # has one, never a crash or a hang; while slapd is down every lookup
    # fails; once it is back every lookup is right again
    addrs = ["bob@example.org", "alice@example.org", "dave@example.org",
             "ecdh@example.org", "nocert@example.org", "nobody@example.org"]
    ck = conf("kill", base_map.replace("timeout = 3", "timeout = 2")
              + "cache_ttl = 0\nnegative_cache_ttl = 0\n")
    rc, o, err, _ = lookup_json(ck, *addrs)
    want = {x.get("address"): x["certificates"][0]["fingerprint"]
            if x.get("found") else None for x in o}
    ok = rc == 1 and list(want) == addrs \
        and [want[a] is not None for a in addrs] == [True] * 4 + [False] * 2
    check("killed slapd: the answers before (4 certificates, 2 without)", ok,
          (rc, o, err))
    if not ok:
        return

    def verdict(addr, x):
        """"" for a right answer for ADDR, "error" for a temporary error,
        else what is wrong"""
        if x.get("address") != addr:
            return "answer for %r instead of %r: %r" % (x.get("address"), addr, x)
        if "error" in x:
            if "no LDAP server answered" in x["error"] and "found" not in x:
                return "error"
            return "unexpected error: %r" % x
        certs = x.get("certificates")
        if want[addr] is None:
            return "" if x.get("found") is False and certs == [] else \
                "a certificate for %s: %r" % (addr, x)
        if x.get("found") is not True or not certs:
            return "no certificate for %s, which has one: %r" % (addr, x)
        if certs[0]["fingerprint"] != want[addr] or not certs[0]["selected"]:
            return "wrong certificate for %s: %r" % (addr, certs[0])
        return ""

    lock = threading.Lock()
    stop = threading.Event()
    records = []    # (worker, started, ended, errors, problems, stderr)
    n_workers = 4

    def record(w, t0, errors, problems, err=""):
        with lock:
            records.append((w, t0, time.monotonic(), errors, problems, err))

    def exec_worker(w):
        try:
            exec_rounds(w)
        except Exception as e:      # fails the check of the problems
            record(w, time.monotonic(), 0, ["worker failed: %r" % e])

    def exec_rounds(w):
        while not stop.is_set():
            t0 = time.monotonic()
            rc, o, err, _ = lookup_json(ck, *addrs)
            vs = [verdict(a, x) for a, x in zip(addrs, o)]
            problems = [v for v in vs if v not in ("", "error")]
            errors = vs.count("error")
            if len(o) != len(addrs):
                problems.append("%d answers for %d addresses: %r"
                                % (len(o), len(addrs), o))
            if rc < 0 or rc > 2:
                problems.append("exit status %d (crash, signal or hang): %s"
                                % (rc, err))
            elif rc != (2 if errors else 1):
                problems.append("exit status %d with %d errors: %s"
                                % (rc, errors, err))
            elif errors and "no LDAP server answered" not in err:
                problems.append("exit 2 without the reason: %s" % err)
            record(w, t0, errors, problems, err)

    stdin_rc = []
    stdin_proc = []

    def stdin_worker(w):
        # stderr to a file: thousands of errors while slapd is down would
        # fill a pipe nobody reads
        errf = open(os.path.join(tmp, "kill-stdin.err"), "w+")
        p = subprocess.Popen([SMIMECTL, "cert", "lookup", "-c", ck, "--json",
                              "-"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=errf,
                             text=True, bufsize=1)
        stdin_proc.append(p)
        any_error = False
        i = 0
        try:
            while not stop.is_set():
                addr = addrs[i % len(addrs)]
                i += 1
                t0 = time.monotonic()
                try:
                    p.stdin.write(addr + "\n")
                    p.stdin.flush()
                    line = p.stdout.readline()
                except OSError:
                    line = ""
                if not line:
                    errf.seek(0)
                    record(w, t0, 0, ["the stdin process went away: exit %r, %s"
                                      % (p.poll(), errf.read()[-500:])])
                    return
                try:
                    v = verdict(addr, json.loads(line))
                except ValueError:
                    v = "unparsable: %r" % line
                any_error |= v == "error"
                record(w, t0, int(v == "error"),
                       [v] if v not in ("", "error") else [], line)
            p.stdin.close()
            rc = p.wait(timeout=30)
            stdin_rc.append((rc, any_error))
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            for f in (p.stdin, p.stdout, errf):
                try:
                    f.close()
                except OSError:
                    pass

    # a round: one smimectl run (every address), or on stdin one answer
    # per address
    need = [1] * (n_workers - 1) + [len(addrs)]
    per_round = [len(addrs)] * (n_workers - 1) + [1]

    def wait_rounds(t, seconds=20, answered=False):
        """until every worker has done its rounds that started at T or
        later (ANSWERED: without an error), or SECONDS passed: how many
        each has done"""
        deadline = time.monotonic() + seconds
        while True:
            with lock:
                counts = [sum(1 for r in records if r[0] == w and r[1] >= t
                              and not (answered and r[3]))
                          for w in range(n_workers)]
            if all(c >= n for c, n in zip(counts, need)) \
                    or time.monotonic() > deadline:
                return counts
            time.sleep(0.05)

    def kill_slapd():
        """SIGKILL, wait until it is gone (its sockets closed); the times
        of the kill and of its end"""
        pid = srv.pid
        t_kill = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with open("/proc/%d/stat" % pid) as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        break
            except OSError:
                break
            time.sleep(0.02)
        srv.pid = None
        try:
            os.unlink(srv.pidfile)      # not the dead one's pid for start()
        except OSError:
            pass
        return t_kill, time.monotonic()

    workers = [threading.Thread(target=exec_worker, args=(w,), daemon=True)
               for w in range(n_workers - 1)]
    workers.append(threading.Thread(target=stdin_worker, args=(n_workers - 1,),
                                    daemon=True))
    t_begin = time.monotonic()
    cycles = []     # (kill, gone, restarting, up; counts while down, after up)
    try:
        for t in workers:
            t.start()
        wait_rounds(t_begin)
        for cycle in range(6):
            t_kill, t_down = kill_slapd()
            dcounts = wait_rounds(t_down)
            t_restart = time.monotonic()
            srv.start()
            t_up = time.monotonic()
            ucounts = wait_rounds(t_up, answered=True)
            cycles.append((t_kill, t_down, t_restart, t_up, dcounts, ucounts))
    finally:
        stop.set()
        if srv.pid is None:
            srv.start()
        deadline = time.monotonic() + 40
        for t in workers:
            t.join(max(0.1, deadline - time.monotonic()))
        for p in stdin_proc:
            if workers[-1].is_alive() and p.poll() is None:
                p.kill()        # hangs: the check below fails
    with lock:
        recs = list(records)
    check("killed slapd: all workers finished",
          not any(t.is_alive() for t in workers), [t.is_alive() for t in workers])
    problems = [p for r in recs for p in r[4]]
    n_err = sum(r[3] for r in recs)
    check("killed slapd: %d lookups (%d temporary errors): every answer right "
          "or a temporary error, no crash" % (len(recs), n_err),
          problems == [] and len(recs) > 0, "\n".join(problems[:10]))
    check("killed slapd: six kills and restarts", len(cycles) == 6, cycles)
    for i, (_, t_down, t_restart, t_up, dcounts, ucounts) in enumerate(cycles):
        # rounds that began after the kill and ended before the restart
        down = [r for r in recs if r[1] >= t_down and r[2] <= t_restart]
        check("killed slapd (%d): every worker looked up while it was down "
              "%r" % (i + 1, dcounts), all(c >= n for c, n in zip(dcounts, need))
              and down, dcounts)
        check("killed slapd (%d): while down, every lookup failed"
              % (i + 1), all(r[3] == per_round[r[0]] for r in down),
              [r[:4] for r in down if r[3] != per_round[r[0]]][:10])
        # rounds that began after the restart and ended before the next kill
        t_next = cycles[i + 1][0] if i + 1 < len(cycles) else float("inf")
        # (the stdin process keeps its map: when a failed round took a
        # second or more, a loaded machine's doing, it does not ask the
        # directory again for 10 s, and says so)
        up = [r for r in recs if r[1] >= t_up and r[2] <= t_next
              and not (r[0] == n_workers - 1 and r[3] and r[1] < t_up + 11
                       and "asked again in" in r[5])]
        ucounts = [sum(1 for r in up if r[0] == w) for w in range(n_workers)]
        check("killed slapd (%d): after the restart every worker got right "
              "answers %r" % (i + 1, ucounts),
              all(c >= n for c, n in zip(ucounts, need))
              and all(r[3] == 0 and not r[4] for r in up),
              (ucounts, [r for r in up if r[3] or r[4]][:10]))
    check("killed slapd: the stdin process ended with exit 2 (some lookups "
          "failed)", stdin_rc == [(2, True)], stdin_rc)
    rc, o, err, _ = lookup_json(ck, *addrs)
    check("killed slapd: right answers afterwards",
          rc == 1 and len(o) == len(addrs)
          and [verdict(a, x) for a, x in zip(addrs, o)] == [""] * len(addrs),
          (rc, o, err))


if __name__ == "__main__":
    sys.exit(main())
