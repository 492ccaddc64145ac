#!/usr/bin/env python3
"""test-report.py - smimectl report on mail logs a real sandbox wrote

tests/data/report/ holds what a sandbox logged for a day of traffic
(tests/gen-report-logs.py: every demo message delivered, an APPEND, a COPY
and a MOVE, outbound mail accepted and refused) and "doveadm smime status
-A" in three formats; variants.log holds the forms the log lines take
elsewhere (syslog with host names, RFC 3339 and Dovecot time stamps) and
the fields other versions add (msgid=, mailbox=, issuer=, rule=,
decision=).  Every count is checked against an independent count of the
same files here, not against a stored answer.  Also: --since/--until,
rotated .gz files, certificates expiring (a dir: map holding an expired
certificate), hostile text in the logs (HTML, terminal escapes, bidi
overrides) reaching no output raw, a self-contained HTML page, progress
only on a terminal, usage errors.  Environment: SMIMECTL, SG_TESTDATA.
Prints "N passed, N failed"; exits 1 on any failure.
"""
import gzip
import html.parser
import json
import os
import pty
import re
import shutil
import subprocess
import sys
import tempfile

SMIMECTL = os.environ["SMIMECTL"]
TESTDATA = os.environ.get("SG_TESTDATA", "")
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "report")
LOGS = ["dovecot.log", "postfix.log", "smime-policyd.log", "smime-milter.log"]
ENV = dict(os.environ, TZ="UTC")
passed = failed = 0


def check(name, ok, info=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL: %s %s" % (name, str(info)[:2000]))


def run(*args, **kw):
    return subprocess.run([SMIMECTL, "report"] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=ENV, **kw)


def report_json(*args):
    r = run("--json", *args)
    try:
        return r.returncode, json.loads(r.stdout.decode()), r.stderr.decode()
    except ValueError as e:
        return r.returncode, None, "%s: %r %s" % (e, r.stdout[:300], r.stderr)


tmp = tempfile.mkdtemp()
try:
    # the copies get a fixed date: a syslog time stamp has no year, and
    # the report takes it from the file's modification time
    for name in os.listdir(DATA):
        shutil.copy(os.path.join(DATA, name), tmp)
        os.utime(os.path.join(tmp, name), (1796342400, 1796342400))  # 2026-12-04
    logs = [os.path.join(tmp, n) for n in LOGS]

    # ---- the sandbox's logs, counted independently ----
    verdict = re.compile(r"smime: ([^:=]*?): status=(\S+) signer=(\S+) reasons=([^:\s]+)")
    expect = {}
    reasons = {}
    signers = {}
    for line in open(os.path.join(tmp, "dovecot.log"), encoding="utf-8", errors="replace"):
        m = verdict.search(line)
        if not m:
            continue
        what, status, signer, rs = m.groups()
        ev = "delivery" if what == "delivery" else "append" if what == "append" else "other"
        expect.setdefault(status, {"delivery": 0, "append": 0, "other": 0})[ev] += 1
        for x in rs.split(","):
            if x != "-":
                reasons[x] = reasons.get(x, 0) + 1
        if status.endswith("/failed"):
            signers[signer] = signers.get(signer, 0) + 1
    check("sandbox log has verdicts of every kind",
          {"signed/verified", "signed/failed", "signed", "encrypted"} <= set(expect),
          expect)
    check("sandbox log has an append and copies",
          sum(v["append"] for v in expect.values()) >= 1 and
          sum(v["other"] for v in expect.values()) >= 2, expect)
    rc, d, err = report_json(*logs)
    check("json report exit 0", rc == 0 and d is not None, err)
    if d:
        check("verdicts by status and event", d["inbound"]["by_status"] == expect,
              (d["inbound"]["by_status"], expect))
        got_reasons = {x["reason"]: sum(x["by_verdict"].values())
                       for x in d["inbound"]["reasons"]}
        check("reasons", got_reasons == reasons, (got_reasons, reasons))
        got_signers = {x["signer"]: x["failed"] for x in d["inbound"]["failing_signers"]
                       if x["failed"]}
        want = {("(no signer named)" if k == "-" else k): v for k, v in signers.items()}
        want = dict(sorted(want.items(), key=lambda kv: (-kv[1], kv[0]))[:10])
        check("failing signers", got_signers == want, (got_signers, want))
        pol = sum(1 for l in open(os.path.join(tmp, "smime-policyd.log"))
                  if "action=550" in l)
        mil = sum(1 for l in open(os.path.join(tmp, "smime-milter.log"))
                  if l.rstrip().endswith(": reject"))
        check("policyd and milter refusals", pol >= 1 and mil >= 1 and
              d["outbound"]["by_stage"]["rcpt"]["rejected"] == pol and
              d["outbound"]["by_stage"]["end-of-data"]["rejected"] == mil,
              (d["outbound"]["by_stage"], pol, mil))
        dom = {x["domain"]: x["counts"]["rejected"] for x in d["outbound"]["refusals_by_domain"]}
        check("refusals by domain", dom == {"partner.example": pol + mil}, dom)
        rules = {x["rule"]: x["counts"]["rejected"] for x in d["outbound"]["by_rule"]}
        check("rule of policyd lines; milter lines name none",
              rules.get("recipient rule partner.example") == pol and
              rules.get("(not logged)") == mil, rules)
        check("undated daemon lines are counted without a period",
              [s["undated"] for s in d["sources"]] == [0, 0, 1 + pol, 1 + mil] or
              all(s["undated"] >= 1 for s in d["sources"][2:]), d["sources"])
        check("nothing left not understood",
              all(s["unparsed"] == 0 for s in d["sources"]), d["sources"])
        check("daily buckets", sum(sum(x["counts"].values()) for x in d["inbound"]["daily"])
              == sum(sum(v.values()) for v in expect.values()), d["inbound"]["daily"])
        check("no status, no certificates without them",
              d["mailboxes"] is None and d["certificates"] is None)
        total = d["inbound"]["total"]

    # with the configuration: the milter's lines get the rule the policy applies
    conf = os.path.join(tmp, "smimeguard.conf")
    with open(conf, "w") as f:
        f.write("internal_domains = example.org\n"
                "encryption_policy_maps = texthash:%s/policy\n" % tmp)
    with open(os.path.join(tmp, "policy"), "w") as f:
        f.write("partner.example encrypt\n* none\n")
    rc, d, err = report_json("-c", conf, *logs)
    if d:
        rules = {x["rule"]: (x["counts"]["rejected"], x["derived"])
                 for x in d["outbound"]["by_rule"]}
        check("rule derived from the current policy",
              rules == {"recipient rule partner.example": (pol + mil, True)}, rules)

    # --since / --until; undated lines do not count in a period
    rc, d, err = report_json("--since", "2026-12-03", "--until", "2026-12-04", *logs)
    check("period around the run", rc == 0 and d and d["inbound"]["total"] == total and
          d["outbound"]["total"] == 0 and d["sources"][2]["undated"] >= 1, d and d["sources"])
    rc, d, err = report_json("--since", "2026-12-04", *logs)
    check("period after the run", d and d["inbound"]["total"] == 0 and
          d["sources"][0]["out_of_range"] == total, d and d["sources"])
    rc, d, err = report_json("--until", "2026-12-03T00:00:00Z", logs[0])
    check("period before the run", d and d["inbound"]["total"] == 0)
    rc, d, err = report_json("--at", "2026-12-10T00:00:00Z", "--since", "7d", logs[0])
    check("relative --since", d and d["inbound"]["total"] == total and
          d["since"] == "2026-12-03T00:00:00Z", d and d["since"])

    # rotated .gz files are read like plain ones
    gz = os.path.join(tmp, "dovecot.log.1.gz")
    with open(logs[0], "rb") as f, gzip.open(gz, "wb") as g:
        g.write(f.read())
    rc, d2, err = report_json(logs[0], gz)
    check("plain + gz count twice", rc == 0 and d2 and d2["inbound"]["total"] == 2 * total,
          err)
    with open(os.path.join(tmp, "broken.gz"), "wb") as f:
        f.write(gzip.compress(open(logs[0], "rb").read())[:2000])
    rc, d2, err = report_json(os.path.join(tmp, "broken.gz"))
    check("truncated .gz: exit 2, says so", rc == 2 and "broken.gz" in err, (rc, err))

    # ---- doveadm smime status in three formats ----
    tab = [l.rstrip("\n").split("\t") for l in open(os.path.join(tmp, "status-tab.txt"))]
    head, rows = tab[0], tab[1:]
    col = {n.lower(): i for i, n in enumerate(head)}
    st_now = {}
    for r in rows:
        st_now[r[col["status"]]] = st_now.get(r[col["status"]], 0) + 1
    results = []
    for fmt in ("tab", "flow", "table"):
        rc, d, err = report_json("--status", os.path.join(tmp, "status-%s.txt" % fmt))
        check("status %s exit 0" % fmt, rc == 0 and d and d["mailboxes"], err)
        if d and d["mailboxes"]:
            check("status %s counts" % fmt, d["mailboxes"]["by_status"] == st_now and
                  d["mailboxes"]["total"] == len(rows), (d["mailboxes"]["by_status"], st_now))
            results.append(d["mailboxes"])
    check("three formats, one answer", len(results) == 3 and
          results[0] == results[1] == results[2])
    r = subprocess.run([SMIMECTL, "report", "--status", "-", "--json"],
                       input=open(os.path.join(tmp, "status-tab.txt"), "rb").read(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    check("status from standard input", r.returncode == 0 and
          json.loads(r.stdout)["mailboxes"]["total"] == len(rows), r.stderr)
    r = run("--status", logs[1])
    check("a log given as --status: exit 2", r.returncode == 2 and
          b"not the output" in r.stderr, r.stderr)

    # ---- other forms of the lines, and added fields ----
    var = os.path.join(tmp, "variants.log")
    rc, d, err = report_json(var)
    check("variants exit 0", rc == 0 and d, err)
    if d:
        i = d["inbound"]
        check("variants: verdicts", i["by_verdict"] == {"verified": 2, "failed": 3,
              "inconclusive": 1, "encrypted": 1, "unsigned": 1}, i["by_verdict"])
        check("variants: fields first, no WHAT, is a delivery (lmtp)",
              i["by_status"]["signed/failed"] == {"delivery": 3, "append": 0, "other": 0},
              i["by_status"])
        check("variants: a status inside the detail is not a second verdict",
              i["by_status"].get("signed/verified") == {"delivery": 1, "append": 0, "other": 1},
              i["by_status"])
        check("variants: issuer= gives the failing CA",
              i["failing_cas"] == [{"issuer": "CN=Partner Issuing CA 2,O=Partner",
                                    "failed": 2, "inconclusive": 0, "reasons": []}],
              i["failing_cas"])
        check("variants: plugin error counted", i["errors"] == 1, i["errors"])
        o = d["outbound"]
        check("variants: policyd outcomes", o["by_stage"]["rcpt"] ==
              {"accepted": 1, "rejected": 0, "deferred": 1, "held": 0, "monitored": 1,
               "exempt": 0, "other": 0}, o["by_stage"]["rcpt"])
        check("variants: milter outcomes", o["by_stage"]["end-of-data"] ==
              {"accepted": 2, "rejected": 2, "deferred": 1, "held": 1, "monitored": 0,
               "exempt": 0, "other": 0}, o["by_stage"]["end-of-data"])
        rules = {x["rule"]: {k: v for k, v in x["counts"].items() if v}
                 for x in o["by_rule"]}
        check("variants: rules, rule= and the policyd phrase agree", rules == {
            "recipient rule partner.example": {"accepted": 2, "rejected": 1},
            "recipient rule *": {"accepted": 1},
            "sender rule from:carol@example.org": {"monitored": 1},
            "(not logged)": {"rejected": 1, "deferred": 2, "held": 1}}, rules)
        dom = {x["domain"]: {k: v for k, v in x["counts"].items() if v}
               for x in o["refusals_by_domain"]}
        check("variants: domains, two recipients on one line", dom == {
            "partner.example": {"accepted": 3, "rejected": 1, "deferred": 1, "held": 1},
            "lawfirm.example": {"rejected": 1, "monitored": 1}}, dom)
        check("variants: all understood", d["sources"][0]["unparsed"] == 0 and
              d["sources"][0]["undated"] == 0, d["sources"])
    # the milter's lines for mail it accepts: unread (no rule asks
    # anything) and after the check; counted as accepted, with their rule
    acc = os.path.join(tmp, "milter-accepts.log")
    with open(acc, "w") as f:
        f.write("Nov 28 10:00:00 mx1 smime-milter[901]: 1A2B3C4D5E: from=<alice@example.org> "
                "to=<bob@example.org>: accepted unread: no recipient needs a check "
                "(internal recipient)\n"
                "Nov 28 10:00:01 mx1 smime-milter[901]: 2A2B3C4D5E: from=<alice@example.org> "
                "to=<olga@elsewhere.example> (and 1 more): accepted unread: no recipient "
                "needs a check (no rule requires anything)\n"
                "Nov 28 10:00:02 mx1 smime-milter[901]: 3A2B3C4D5E: from=<alice@example.org> "
                "to=<paula@partner.example> status=encrypted: accepted: policy satisfied "
                "(recipient rule partner.example)\n")
    rc, d, err = report_json(acc)
    if d:
        o = d["outbound"]
        check("milter accept lines: three accepted at end of data",
              o["by_stage"]["end-of-data"]["accepted"] == 3 and
              sum(o["by_stage"]["end-of-data"].values()) == 3, o["by_stage"])
        rules = {x["rule"]: {k: v for k, v in x["counts"].items() if v}
                 for x in o["by_rule"]}
        check("milter accept lines: their rules", rules == {
            "(internal recipient)": {"accepted": 1}, "(no rule)": {"accepted": 1},
            "recipient rule partner.example": {"accepted": 1}}, rules)
    else:
        check("milter accept lines: report runs", False, err)

    rc, d, err = report_json("--since", "2026-11-29", "--until", "2026-11-30T08:00:01Z", var)
    check("variants: RFC 3339 with offset and Dovecot time stamps in a period",
          d and d["inbound"]["total"] == 2 and d["outbound"]["total"] == 0 and
          d["sources"][0]["out_of_range"] == 17, d and (d["inbound"], d["sources"]))

    # a field inside another's value is not a field; Postfix naming the
    # policy service is not the policy service
    tricky = os.path.join(tmp, "tricky.log")
    with open(tricky, "w") as f:
        f.write("2026-11-30 09:00:00 lmtp(e@example.org)<1><Y>: Info: smime: delivery: "
                "status=signed/failed signer=CN=x,reasons=- reasons=bad-signature: x\n"
                "Nov 30 09:00:01 mx1 postfix/smtpd[7]: warning: problem talking to "
                "server private/smime-policyd: Connection timed out; from=<a@example.org> "
                "to=<b@partner.example>\n")
    rc, d, err = report_json(tricky)
    check("a reasons= inside the signer's value is not the reasons field",
          d and [x["reason"] for x in d["inbound"]["reasons"]] == ["bad-signature"],
          d and d["inbound"]["reasons"])
    check("a Postfix line naming smime-policyd is no decision",
          d and d["outbound"]["total"] == 0, d and d["outbound"])

    # ---- hostile text in the logs ----
    evil_signer = ('"<script>alert(1)</script>\x1b[2K\r\x07\u202egro.elpmaxe\u0085@x"')
    evil = ("2026-11-30 09:00:00 lmtp(erin@example.org)<1><Y>: Info: smime: delivery: "
            "status=signed/failed signer=%s reasons=bad-signature: x\n"
            "2026-11-30 09:00:01 lmtp(erin@example.org)<1><Y>: Info: smime: delivery: "
            "status=signed/failed signer=\xff\xfe@bad.utf8 reasons=bad-signature,"
            "<b>new-reason</b>: x\n"
            "Nov 30 09:00:02 mx1 smime-milter[1]: ABCDEF1234: from=<a@example.org> "
            "to=<\x1b]0;owned\x07@evil<i>.example>: must be encrypted: reject\n" % evil_signer)
    hostile = os.path.join(tmp, "hostile.log")
    with open(hostile, "wb") as f:
        f.write(evil.encode("utf-8", "surrogateescape").replace(b"\xc3\xbf\xc3\xbe", b"\xff\xfe"))
    outs = {}
    for mode in ("text", "json"):
        r = run(*(["--json"] if mode == "json" else []), hostile)
        outs[mode] = r.stdout
        check("hostile %s exit 0" % mode, r.returncode == 0, r.stderr)
    hfile = os.path.join(tmp, "hostile.html")
    r = run("--html", hfile, "-q", hostile)
    check("hostile html exit 0, -q prints nothing", r.returncode == 0 and r.stdout == b"",
          r.stderr)
    outs["html"] = open(hfile, "rb").read()
    for mode, out in outs.items():
        text = out.decode("utf-8", "strict") if True else ""
        bad = [c for c in text if (ord(c) < 32 and c not in "\n") or ord(c) == 0x7f or
               0x80 <= ord(c) <= 0x9f or 0x202a <= ord(c) <= 0x202e or
               0x2066 <= ord(c) <= 0x2069]
        check("hostile %s: no control or bidi character" % mode, not bad, bad)
        check("hostile %s: still counted" % mode, "bad-signature" in text)
    check("hostile html: markup escaped",
          b"<script" not in outs["html"] and b"<b>" not in outs["html"] and
          b"<i>" not in outs["html"] and b"&lt;script&gt;" in outs["html"])
    d = json.loads(outs["json"])
    check("hostile json: decoded strings clean", all(
        not any(ord(c) < 32 or 0x80 <= ord(c) <= 0x9f or 0x202a <= ord(c) <= 0x202e
                for c in s["signer"]) for s in d["inbound"]["failing_signers"]),
        d["inbound"]["failing_signers"])
    check("hostile json: a reason that is no token is dropped",
          all(re.fullmatch(r"[a-z0-9-]+", x["reason"]) for x in d["inbound"]["reasons"]),
          d["inbound"]["reasons"])

    # ---- HTML: self-contained, well formed ----
    page = os.path.join(tmp, "report.html")
    r = run("--html", page, "--status", os.path.join(tmp, "status-tab.txt"), var, *logs)
    check("html exit 0, text still printed", r.returncode == 0 and b"smimeguard report" in r.stdout,
          r.stderr)
    doc = open(page, encoding="utf-8").read()

    class P(html.parser.HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack, self.errors, self.svgs, self.refs = [], [], 0, []

        def handle_starttag(self, tag, attrs):
            if tag == "svg":
                self.svgs += 1
            for k, v in attrs:
                if k in ("src", "href") or (v and ("url(" in v or "javascript:" in v)):
                    self.refs.append((tag, k, v))
            if tag not in ("meta", "br", "rect", "line", "link", "img"):
                self.stack.append(tag)

        def handle_startendtag(self, tag, attrs):
            if tag == "svg":
                self.svgs += 1
            for k, v in attrs:
                if k in ("src", "href"):
                    self.refs.append((tag, k, v))

        def handle_endtag(self, tag):
            if tag in ("rect", "line"):
                return
            if not self.stack or self.stack[-1] != tag:
                self.errors.append((tag, self.stack[-3:]))
            else:
                self.stack.pop()

    p = P()
    p.feed(doc)
    check("html well nested", not p.errors and p.stack == [], (p.errors[:5], p.stack))
    check("html has charts", p.svgs >= 5, p.svgs)
    check("html loads nothing", not p.refs and "<script" not in doc and
          "@import" not in doc and not re.search(r"https?://(?!www\.w3\.org/2000/svg)", doc),
          p.refs)
    for section in ("by verdict", "Why signatures failed", "Top failing signers",
                    "Top failing CAs", "Outbound decisions", "By rule",
                    "Refusals by recipient domain", "Stored mail", "Certificates expiring"):
        check("html section %s" % section, section in doc)
    r = run("--html", "-", logs[0])
    check("--html - writes the page to stdout", r.returncode == 0 and
          r.stdout.startswith(b"<!DOCTYPE html>"), r.stderr)
    r = run("--html", os.path.join(tmp, "no", "such", "dir.html"), logs[0])
    check("unwritable --html: exit 2", r.returncode == 2 and b"cannot write" in r.stderr)

    # ---- certificates expiring: the trust store and a dir: map ----
    if TESTDATA and os.path.isdir(os.path.join(TESTDATA, "pki")):
        mapdir = os.path.join(tmp, "certs")
        os.mkdir(mapdir)
        for name in ("expired@example.org.pem", "alice@example.org.pem"):
            shutil.copy(os.path.join(TESTDATA, "pki", name), mapdir)
        rc, d, err = report_json("--trust", os.path.join(TESTDATA, "trust"),
                                 "--map", "dir:" + mapdir, logs[0])
        c = d and d["certificates"]
        check("certificates: listed", rc == 0 and c and c["checked"] >= 3, (err, c))
        if c:
            exp = [x for x in c["expiring"] if "expired@example.org" in x["emails"]]
            check("certificates: the expired one, days_left < 0",
                  len(exp) == 1 and exp[0]["days_left"] < 0 and
                  exp[0]["kind"] == "recipient", c["expiring"])
            check("certificates: alice's not within 60 days",
                  not any("alice@" in x["emails"] for x in c["expiring"]), c["expiring"])
        rc, d, err = report_json("--trust", os.path.join(TESTDATA, "trust"),
                                 "--map", "dir:" + mapdir, "--expiry-days", "36500",
                                 logs[0])
        c = d and d["certificates"]
        check("certificates: all within a century, sorted, no duplicates",
              c and len(c["expiring"]) == c["checked"] and
              [x["not_after"] for x in c["expiring"]] ==
              sorted(x["not_after"] for x in c["expiring"]), c)
        r = run("--trust", os.path.join(TESTDATA, "trust"), "--map", "dir:" + mapdir, logs[0])
        check("certificates: text", b"expired@example.org" in r.stdout and
              b"Certificates expiring within 60 days" in r.stdout)
    else:
        check("SG_TESTDATA with pki/ (make check generates it)", False, TESTDATA)

    # ---- progress: on a terminal only ----
    big = os.path.join(tmp, "big.log")
    with open(logs[0], "rb") as f:
        chunk = f.read()
    with open(big, "wb") as f:
        for _ in range(max(1, 300000 // max(1, chunk.count(b"\n")))):
            f.write(chunk)
    r = run(big)
    check("no progress when stderr is not a terminal", r.returncode == 0 and r.stderr == b"",
          r.stderr[:200])
    r = run("--progress", big)
    check("--progress forces it", b"%" in r.stderr and b"\r" in r.stderr and
          r.stderr.endswith(b"\r\x1b[K"), r.stderr[-200:])
    master, slave = pty.openpty()
    p = subprocess.Popen([SMIMECTL, "report", big], stdout=subprocess.PIPE,
                         stderr=slave, env=ENV)
    os.close(slave)
    seen = b""
    while True:
        try:
            b = os.read(master, 4096)
        except OSError:
            break
        if not b:
            break
        seen += b
    out = p.stdout.read()
    p.wait()
    os.close(master)
    check("progress on a terminal ends with a cleared line, report intact",
          p.returncode == 0 and (seen == b"" or seen.endswith(b"\r\x1b[K")) and
          b"signed/verified" in out, seen[-200:])
    r = run("--no-progress", "--progress", big)
    check("last of --progress/--no-progress wins", b"%" in r.stderr)

    # ---- usage ----
    for args, what in ((["--since", "yesterday-ish", logs[0]], b"not a time"),
                       (["--since", "2026-12-05", "--until", "2026-12-01", logs[0]], b"later"),
                       (["--top", "0", logs[0]], b"--top"),
                       (["--expiry-days", "-1", logs[0]], b"--expiry-days"),
                       ([os.path.join(tmp, "missing.log")], b"cannot read"),
                       ([tmp], b"directory"),
                       (["--json", "--html", "-", logs[0]], b"standard output"),
                       (["--bogus"], b"Try")):
        r = run(*args)
        check("usage %s" % " ".join(args[:2]), r.returncode == 2 and what in r.stderr,
              (r.returncode, r.stderr))
    r = subprocess.run([SMIMECTL, "help", "report"], stdout=subprocess.PIPE)
    check("help report", r.returncode == 0 and b"--since" in r.stdout and
          b"--html" in r.stdout)
finally:
    shutil.rmtree(tmp)

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
