#!/usr/bin/env python3
"""gen-report-logs.py - mail logs of a real sandbox, for smimectl report

Brings a sandbox up (scripts/sandbox up --dir DIR), sends it the traffic
a small organisation has in a day - every test message of the demo PKI
delivered to bob (verified, failed for each reason, inconclusive,
encrypted), an IMAP APPEND to Sent, a COPY and a MOVE between folders,
and outbound mail through submission that the policy service and the
milter accept or refuse - then saves what the components logged during
the run and the output of "doveadm smime status -A" in three formats:

  OUT/dovecot.log OUT/postfix.log OUT/smime-policyd.log OUT/smime-milter.log
  OUT/status-tab.txt OUT/status-flow.txt OUT/status-table.txt
  OUT/sandbox.env      (the KEY=VALUE lines, for smimectl report -c)

tests/test-report.sh reads the copy in tests/data/report/.  Run it again
(as root; it needs Postfix and Dovecot) when the log lines change:

  SG_BUILD=/path/to/build tests/gen-report-logs.py --out tests/data/report

--keep leaves the sandbox up (scripts/thunderbird-shot uses that).
"""
import argparse
import imaplib
import os
import shutil
import smtplib
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOGS = ["dovecot.log", "postfix.log", "smime-policyd.log", "smime-milter.log"]


def sandbox(*args):
    r = subprocess.run([os.path.join(TOP, "scripts", "sandbox")] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        sys.exit("sandbox %s failed" % " ".join(args))
    return dict(line.split("=", 1) for line in r.stdout.splitlines()
                if "=" in line)


def send_inbound(env):
    msgdir = env["MSG_DIR"]
    with smtplib.SMTP("127.0.0.1", int(env["SMTP_PORT"])) as s:
        for name in sorted(os.listdir(msgdir)):
            if not name.endswith(".eml"):
                continue
            with open(os.path.join(msgdir, name), "rb") as f:
                data = f.read()
            try:
                s.sendmail("alice@example.org", [env["IMAP_USER"]], data)
            except smtplib.SMTPException as e:
                print("inbound %s: %s" % (name, e))
        # a few to another user, into a folder (USER+FOLDER)
        for name in ("alice-opaque.eml", "untrusted.eml", "encrypted-aes256gcm.eml"):
            with open(os.path.join(msgdir, name), "rb") as f:
                s.sendmail("alice@example.org", ["carol+Projects@example.org"],
                           f.read())


def imap_actions(env):
    m = imaplib.IMAP4("127.0.0.1", int(env["IMAP_PORT"]))
    m.login(env["IMAP_USER"], env["IMAP_PASSWORD"])
    for box in ("Sent", "Archive"):
        m.create(box)
    with open(os.path.join(env["MSG_DIR"], "alice-detached.eml"), "rb") as f:
        m.append("Sent", None, None, f.read().replace(b"\r\n", b"\n")
                 .replace(b"\n", b"\r\n"))
    m.select("INBOX")
    m.copy("1:3", "Archive")
    imaplib.Commands.setdefault("MOVE", ("SELECTED",))
    try:
        m.uid("MOVE", "4", "Archive")
    except imaplib.IMAP4.error as e:
        print("MOVE: %s" % e)
    m.logout()


def submit(env, rcpts, data):
    with smtplib.SMTP("127.0.0.1", int(env["SUBMISSION_PORT"])) as s:
        try:
            s.sendmail(env["SENDER"], rcpts, data)
            return "sent"
        except smtplib.SMTPException as e:
            return "refused: %s" % e


def send_outbound(env):
    plain = (b"From: %s\r\nTo: partner\r\nSubject: quarterly figures\r\n\r\n"
             b"See attached.\r\n" % env["SENDER"].encode())
    enc_rcpt = env["EXTERNAL_ENCRYPT_RCPT"]
    cert = os.path.join(env["CERT_DIR"], enc_rcpt + ".pem")
    enc = subprocess.run(
        ["openssl", "smime", "-encrypt", "-aes256", "-from", env["SENDER"],
         "-to", enc_rcpt, "-subject", "quarterly figures", cert],
        input=b"See attached.\r\n", stdout=subprocess.PIPE, check=True).stdout
    for rcpts, data in (
            ([enc_rcpt], plain),                                # milter: reject
            ([env["EXTERNAL_NOCERT_RCPT"]], plain),             # policyd: reject
            ([env["EXTERNAL_OPEN_RCPT"]], plain),               # no rule
            ([env["INTERNAL_RCPT"]], plain),                    # internal
            ([env["EXTERNAL_OPEN_RCPT"], enc_rcpt], plain),     # milter: reject
            ([enc_rcpt], enc),                                  # encrypted: ok
            ([env["EXTERNAL_NOCERT_RCPT"], enc_rcpt], enc)):    # policyd: reject one
        print("outbound %s: %s" % (",".join(rcpts), submit(env, rcpts, data)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/smimeguard-report-sandbox")
    ap.add_argument("--out", default=os.path.join(TOP, "tests", "data", "report"))
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    env = sandbox("up", "--dir", a.dir)
    logdir = env["LOG_DIR"]
    start = {}
    for name in LOGS:
        p = os.path.join(logdir, name)
        start[name] = os.path.getsize(p) if os.path.exists(p) else 0
    try:
        send_inbound(env)
        imap_actions(env)
        send_outbound(env)
        time.sleep(3)       # let deliveries and log writes finish
        os.makedirs(a.out, exist_ok=True)
        for name in LOGS:
            p = os.path.join(logdir, name)
            with open(p, "rb") as f:
                f.seek(start[name])
                data = f.read()
            with open(os.path.join(a.out, name), "wb") as f:
                f.write(data)
        doveadm = env["DOVEADM"].split()
        for fmt, name in (("tab", "status-tab.txt"), ("flow", "status-flow.txt"),
                          (None, "status-table.txt")):
            cmd = doveadm + (["-f", fmt] if fmt else []) + \
                ["smime", "status", "-A", "all"]
            out = subprocess.run(cmd, stdout=subprocess.PIPE, check=True).stdout
            with open(os.path.join(a.out, name), "wb") as f:
                f.write(out)
        with open(os.path.join(a.out, "sandbox.env"), "w") as f:
            for k, v in sorted(env.items()):
                f.write("%s=%s\n" % (k, v))
    finally:
        if not a.keep:
            sandbox("down", "--dir", a.dir)
    print("logs in %s" % a.out)


if __name__ == "__main__":
    main()
