#!/usr/bin/python3
"""bench-memory.py - peak memory of an IMAP APPEND and of smime-milter
with one big signed message, two builds side by side

SYNOPSIS
    bench/bench-memory.py NEWBUILD --old OLDBUILD [--size 104857600]
        [--max-message-size 209715200]

DESCRIPTION
    For each build, makes a multipart/signed message of about SIZE bytes
    (openssl cms -sign -binary, the sandbox's demo sender and PKI, CRLF
    text), then:

    imap: starts a sandbox (scripts/sandbox up, SG_BUILD=the build), sets
    max_message_size in its smimeguard.conf (so the message is really
    verified, not classified as too large), logs in over IMAP, finds the
    imap process that serves the login, APPENDs the message, and samples
    /proc/PID/status of that process every 20 ms meanwhile; prints its
    VmHWM (peak resident set, file pages included: what the process
    touched) and the highest RssAnon seen (anonymous memory: heap), and
    what the process wrote meanwhile (/proc/PID/io wchar: the mail
    file, temp files, the socket).  The
    message must get $SMIMESigned $SMIMEVerified, else the figure is not
    of a verification.  The sandbox is stopped afterwards.

    milter: starts the build's smime-milter on its own socket with the
    sandbox's configuration (the same max_message_size; the partner's rule
    "sign"), sends the message once over the milter protocol (as
    bench-milter.py does, body in 64 KB chunks), and samples the milter
    the same way; the answer must be "continue" or "accept" (a plaintext
    message to the same recipient is refused first).

    With --max-message-size 0 the sandbox's default limit stays (64 MiB:
    the message is then too large, and only its header is read).
"""
import argparse
import imaplib
import importlib.util
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)

_spec = importlib.util.spec_from_file_location(
    'bench_milter', os.path.join(HERE, 'bench-milter.py'))
bm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bm)


def status(pid):
    """VmHWM, RssAnon of /proc/PID/status in kB (None when gone)"""
    try:
        with open('/proc/%d/status' % pid) as f:
            text = f.read()
    except OSError:
        return None
    out = {}
    for key in ('VmHWM', 'RssAnon', 'RssFile'):
        m = re.search(r'^%s:\s+(\d+) kB' % key, text, re.M)
        out[key] = int(m.group(1)) if m else 0
    return out


class Sampler(threading.Thread):
    """the highest VmHWM and RssAnon of PID while running"""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.stop = pid, False
        self.hwm = self.anon = self.file = 0

    def run(self):
        while not self.stop:
            s = status(self.pid)
            if s is None:
                return
            self.hwm = max(self.hwm, s['VmHWM'])
            self.anon = max(self.anon, s['RssAnon'])
            self.file = max(self.file, s['RssFile'])
            time.sleep(0.02)

    def finish(self):
        s = status(self.pid)
        if s is not None:
            self.hwm = max(self.hwm, s['VmHWM'])
            self.anon = max(self.anon, s['RssAnon'])
        self.stop = True
        self.join()


def conn_pid(local_port, peer_port):
    """the process (named imap) holding the server side of a TCP
    connection on 127.0.0.1 (Dovecot hands it over from imap-login)"""
    inode = None
    with open('/proc/net/tcp') as f:
        for ln in f.readlines()[1:]:
            fields = ln.split()
            lport = int(fields[1].split(':')[1], 16)
            rport = int(fields[2].split(':')[1], 16)
            if lport == local_port and rport == peer_port:
                inode = fields[9]
    if inode is None:
        return None
    want = 'socket:[%s]' % inode
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/comm' % pid) as f:
                if f.read().strip() != 'imap':
                    continue
            for fd in os.listdir('/proc/%s/fd' % pid):
                if os.readlink('/proc/%s/fd/%s' % (pid, fd)) == want:
                    return int(pid)
        except OSError:
            continue
    return None


def sandbox(cmd, d, build):
    env = dict(os.environ, SG_BUILD=build)
    return subprocess.run([os.path.join(TOP, 'scripts/sandbox'), cmd, '--dir',
                           d], env=env, check=cmd == 'up',
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True).stdout


def set_max(conf, maxsize):
    if not maxsize:
        return
    with open(conf) as f:
        lines = [ln for ln in f if not ln.startswith('max_message_size')]
    lines.append('max_message_size = %d\n' % maxsize)
    with open(conf, 'w') as f:
        f.writelines(lines)


def make_message(work, sv, size):
    sender = sv['SENDER']
    key = os.path.join(sv['PKI_DIR'], sender)
    plain = os.path.join(work, 'plain.txt')
    line = b'The quarterly figures, line %08d, for the partner only.\r\n'
    with open(plain, 'wb') as f:
        f.write(b'Content-Type: text/plain\r\n\r\n')
        n, i = 0, 0
        while n < size - 4096:
            chunk = b''.join(line % j for j in range(i, i + 10000))
            f.write(chunk)
            n += len(chunk)
            i += 10000
    msg = subprocess.run(['openssl', 'cms', '-sign', '-binary', '-signer',
                          key + '.pem', '-inkey', key + '.key', '-certfile',
                          key + '.chain.pem', '-in', plain, '-from', sender,
                          '-to', sv['IMAP_USER'], '-subject', 'figures'],
                         check=True, stdout=subprocess.PIPE).stdout
    os.unlink(plain)
    return msg.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')


def written(pid):
    """bytes PID has written with write(2) and the like so far
    (/proc/PID/io wchar: files, temp files and sockets alike)"""
    try:
        with open('/proc/%d/io' % pid) as f:
            for ln in f:
                if ln.startswith('wchar:'):
                    return int(ln.split()[1])
    except OSError:
        pass
    return 0


def measure_imap(sv, msg):
    """(VmHWM kB, peak RssAnon kB, keywords, seconds, bytes written) of
    the APPEND"""
    m = imaplib.IMAP4('127.0.0.1', int(sv['IMAP_PORT']))
    m.login(sv['IMAP_USER'], sv['IMAP_PASSWORD'])
    m.noop()
    pid = conn_pid(int(sv['IMAP_PORT']), m.sock.getsockname()[1])
    if pid is None:
        sys.exit('bench-memory: cannot find the imap process')
    m.create('Bench')
    s = Sampler(pid)
    w0 = written(pid)
    s.start()
    t0 = time.time()
    typ, data = m.append('Bench', None, None, msg)
    secs = time.time() - t0
    s.finish()
    wrote = written(pid) - w0
    if typ != 'OK':
        sys.exit('bench-memory: APPEND: %s %s' % (typ, data))
    m.select('Bench')
    typ, data = m.fetch('1:*', '(FLAGS)')
    flags = b' '.join(d for d in data if d).decode()
    m.logout()
    return s.hwm, s.anon, flags, secs, wrote


def measure_milter(build, work, conf, sv, msg):
    sender, rcpt = sv['SENDER'], sv['EXTERNAL_ENCRYPT_RCPT']
    policy = os.path.join(work, 'policy')
    with open(policy, 'w') as f:
        f.write('%s sign\n* none\n' % rcpt.split('@')[1])
    with open(conf) as f:
        text = ''.join('encryption_policy_maps = texthash:%s\n' % policy
                       if ln.startswith('encryption_policy_maps') else ln
                       for ln in f)
    mconf = os.path.join(work, 'milter.conf')
    with open(mconf, 'w') as f:
        f.write(text)
    sock = os.path.join(work, 'milter.sock')
    p = subprocess.Popen([os.path.join(build, 'postfix-policy/smime-milter'),
                          '-c', mconf, '-l', 'unix:' + sock, '-e'],
                         stderr=open(os.path.join(work, 'milter.log'), 'w'))
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.1)
        else:
            sys.exit('bench-memory: the milter did not start')
        ph, pb = bm.split_message(('From: %s\nTo: %s\nSubject: x\n\nplain\n'
                                   % (sender, rcpt)).encode())
        answer = bm.one_message(sock, sender, rcpt, ph, pb)
        if not answer.startswith('reply 5'):
            sys.exit('bench-memory: plaintext got %r, not a refusal' % answer)
        headers, body = bm.split_message(msg)
        s = Sampler(p.pid)
        w0 = written(p.pid)
        s.start()
        t0 = time.time()
        answer = bm.one_message(sock, sender, rcpt, headers, body)
        secs = time.time() - t0
        time.sleep(0.1)
        s.finish()
        return s.hwm, s.anon, answer, secs, written(p.pid) - w0
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('build')
    ap.add_argument('--old', required=True)
    ap.add_argument('--size', type=int, default=100 * 1024 * 1024)
    ap.add_argument('--max-message-size', type=int, default=200 * 1024 * 1024)
    args = ap.parse_args()
    builds = [('before', os.path.abspath(args.old)),
              ('after', os.path.abspath(args.build))]
    rows = []
    msg = None
    for name, build in builds:
        work = tempfile.mkdtemp(prefix='bench-memory.')
        os.chmod(work, 0o755)
        sbx = os.path.join(work, 'sandbox')
        os.mkdir(sbx)
        os.chmod(sbx, 0o755)
        try:
            out = sandbox('up', sbx, build)
            sv = dict(ln.split('=', 1) for ln in out.splitlines() if '=' in ln)
            conf = os.path.join(sv['STATE_DIR'], 'smimeguard.conf')
            set_max(conf, args.max_message_size)
            # each sandbox has its own demo PKI: sign with this one's
            msg = make_message(work, sv, args.size)
            hwm, anon, flags, secs, wrote = measure_imap(sv, msg)
            rows.append((name, 'imap APPEND', hwm, anon, flags, secs, wrote))
            hwm, anon, answer, secs, wrote = measure_milter(build, work, conf, sv, msg)
            rows.append((name, 'smime-milter', hwm, anon, answer, secs, wrote))
        finally:
            sandbox('down', sbx, build)
            subprocess.run(['rm', '-rf', work])
    print('message: %d bytes, multipart/signed; max_message_size %s' % (
        len(msg), args.max_message_size or 'default (67108864)'))
    print('%-7s %-13s %12s %14s %7s %11s  %s' % ('build', 'process', 'VmHWM MB',
                                                 'RssAnon MB', 'secs',
                                                 'written MB', 'outcome'))
    for name, what, hwm, anon, outcome, secs, wrote in rows:
        print('%-7s %-13s %12.1f %14.1f %7.1f %11.1f  %s' % (
            name, what, hwm / 1024, anon / 1024, secs, wrote / 1048576,
            outcome))


if __name__ == '__main__':
    main()
