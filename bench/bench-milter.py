#!/usr/bin/python3
"""bench-milter.py - smime-milter throughput with concurrent sessions, two
builds side by side in the same run

SYNOPSIS
    bench/bench-milter.py NEWBUILD [--old OLDBUILD] [--sessions 10]
        [--messages 400] [--size 262144] [--rounds 3]
        [--kind encrypted|signed|none] [--big BYTES] [--floor]

DESCRIPTION
    Starts one sandbox (scripts/sandbox up, as root) for its smimeguard.conf,
    PKI and outbound policy ("partner.example encrypt"), then runs each
    build's smime-milter on its own unix socket with that configuration and
    speaks the milter protocol to it directly, as Postfix's smtpd would
    (version 6 negotiation, the {rcpt_addr}/{rcpt_mailer} macros, one
    connection per message): SESSIONS client threads send MESSAGES messages
    in all, each a SIZE-byte S/MIME message encrypted (openssl cms, AES-256)
    to EXTERNAL_ENCRYPT_RCPT, whose rule requires encryption, so every
    message is read and checked at end of data.  --kind signed: the rule
    for the partner's domain is "sign" instead (the milters get a copy of
    smimeguard.conf with their own policy file) and each message is
    signed by SENDER (multipart/signed), so every check verifies a
    signature over SIZE bytes.  --kind none: plain SIZE-byte messages to
    EXTERNAL_OPEN_RCPT, whose domain has no requirement: mail that needs
    no check, which the milter should accept from the envelope (issue 14
    target 3 measures its CPU per message).  --floor (with --kind none):
    NEWBUILD/bench/floor-milter runs too, a libmilter milter that agrees
    the same protocol steps, copies the envelope, logs one line and
    accepts at DATA, deciding nothing: the least such a milter costs on
    libmilter (a thread per connection); its figure and the ratios to it
    are printed as well.  --big BYTES: one more session sends
    messages of BYTES bytes, one after the other, while the others run (a
    large message must not hold up the small ones); their answers are
    checked but not counted.  Latency: from connect to the final answer of
    each counted message, p50 and p99 over all rounds.  Every answer must be
    "continue" or "accept"; a plaintext message to the same recipient must
    be refused first (the check is really done).  Rounds alternate the order
    of the builds; the figure is the median msgs/s per build and the ratio
    new / old, and the CPU time each milter used per message (utime +
    stime from /proc, warm-up included).  Both milters and the sandbox are
    stopped at the end.

    Time is what the milter takes: the client's own work per message is a
    few socket writes (the body goes in 64 KB chunks).
"""
import argparse
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)

# protocol flags (libmilter mfdef.h)
SMFIP_NOCONNECT, SMFIP_NOHELO, SMFIP_NOMAIL, SMFIP_NORCPT = 0x1, 0x2, 0x4, 0x8
SMFIP_NOBODY, SMFIP_NOHDRS, SMFIP_NOEOH, SMFIP_NR_HDR = 0x10, 0x20, 0x40, 0x80
SMFIP_NODATA = 0x200
SMFIP_NR_CONN, SMFIP_NR_HELO, SMFIP_NR_MAIL, SMFIP_NR_RCPT = (
    0x1000, 0x2000, 0x4000, 0x8000)
SMFIP_NR_DATA, SMFIP_NR_EOH, SMFIP_NR_BODY = 0x10000, 0x40000, 0x80000
MTA_PROTOCOL = 0x1FFFFF          # every step, and every "no reply" we honour
FINAL = {b'a': 'accept', b'c': 'continue', b'r': 'reject', b't': 'tempfail',
         b'd': 'discard', b'y': 'reply'}


class MilterError(Exception):
    pass


def packet(cmd, data=b''):
    return struct.pack('>I', len(data) + 1) + cmd + data


def recv_exact(sock, n):
    buf = b''
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise MilterError('the milter closed the connection')
        buf += chunk
    return buf


def recv_packet(sock):
    (length,) = struct.unpack('>I', recv_exact(sock, 4))
    body = recv_exact(sock, length)
    return body[:1], body[1:]


def z(*strings):
    return b''.join(s.encode() + b'\0' for s in strings)


def one_message(path, sender, rcpt, headers, body):
    """one SMTP transaction over a new milter connection: the final answer"""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    try:
        sock.sendall(packet(b'O', struct.pack('>III', 6, 0, MTA_PROTOCOL)))
        cmd, data = recv_packet(sock)
        if cmd != b'O':
            raise MilterError('no option negotiation reply')
        _, _, proto = struct.unpack('>III', data[:12])

        def step(skip_flag, noreply_flag, pkt):
            """send one event; None when the transaction goes on, else
            the milter's final answer for this message"""
            if proto & skip_flag:
                return None
            sock.sendall(pkt)
            if proto & noreply_flag:
                return None
            while True:
                c, d = recv_packet(sock)
                if c == b'p':               # progress
                    continue
                if c == b'c':
                    return None
                return FINAL.get(c, c.decode(errors='replace')) + (
                    ' ' + d.rstrip(b'\0').decode(errors='replace') if d else '')

        events = [
            (SMFIP_NOCONNECT, SMFIP_NR_CONN,
             packet(b'D', b'C' + z('j', 'mx.example.org')) +
             packet(b'C', z('localhost') + b'4' + struct.pack('>H', 25000) +
                    z('127.0.0.1'))),
            (SMFIP_NOHELO, SMFIP_NR_HELO, packet(b'H', z('client.example.org'))),
            (SMFIP_NOMAIL, SMFIP_NR_MAIL,
             packet(b'D', b'M' + z('{mail_addr}', sender)) +
             packet(b'M', z('<%s>' % sender))),
            (SMFIP_NORCPT, SMFIP_NR_RCPT,
             packet(b'D', b'R' + z('{rcpt_addr}', rcpt, '{rcpt_host}',
                                   rcpt.split('@')[1], '{rcpt_mailer}', 'smtp')) +
             packet(b'R', z('<%s>' % rcpt))),
            (SMFIP_NODATA, SMFIP_NR_DATA, packet(b'T')),
        ]
        for name, value in headers:
            events.append((SMFIP_NOHDRS, SMFIP_NR_HDR,
                           packet(b'L', z(name, value))))
        events.append((SMFIP_NOEOH, SMFIP_NR_EOH, packet(b'N')))
        for off in range(0, len(body), 65535):
            events.append((SMFIP_NOBODY, SMFIP_NR_BODY,
                           packet(b'B', body[off:off + 65535])))
        for skip, noreply, pkt in events:
            answer = step(skip, noreply, pkt)
            if answer is not None:
                return answer
        # end of message: modifications may come before the final answer
        sock.sendall(packet(b'D', b'E' + z('i', 'BENCHQID')) + packet(b'E'))
        while True:
            c, d = recv_packet(sock)
            if c in FINAL:
                return FINAL[c] + (' ' + d.rstrip(b'\0').decode(errors='replace')
                                   if c == b'y' else '')
            if c in (b'p', b'h', b'm', b'i', b'+', b'-', b'2', b'q', b'e', b'f'):
                continue
            raise MilterError('unexpected reply %r' % c)
    finally:
        try:
            sock.sendall(packet(b'Q'))
        except OSError:
            pass
        sock.close()


def split_message(raw):
    """headers (name, value) and the body in CRLF form, as Postfix sends"""
    head, _, body = raw.replace(b'\r\n', b'\n').partition(b'\n\n')
    headers = []
    for line in head.decode().split('\n'):
        if line[:1] in (' ', '\t') and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + '\r\n' + line)
        else:
            name, _, value = line.partition(':')
            headers.append((name, value.lstrip(' ')))
    return headers, body.replace(b'\n', b'\r\n')


def percentile(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] if v else 0.0


def run_load(path, sessions, messages, sender, rcpt, headers, body, big=None):
    """messages over sessions threads, and with big=(headers, body) one
    more session sending those in a loop meanwhile: (seconds, answers that
    were not ok, latency of each of the messages in seconds)"""
    lock = threading.Lock()
    left = [messages]
    bad = []
    latencies = []
    done = threading.Event()

    def check(answer):
        if not (answer.startswith('continue') or answer.startswith('accept')):
            with lock:
                bad.append(answer)

    def send(h, b):
        try:
            return one_message(path, sender, rcpt, h, b)
        except (OSError, MilterError) as e:
            return 'error %s' % e

    def worker():
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            t = time.monotonic()
            answer = send(headers, body)
            t = time.monotonic() - t
            check(answer)
            with lock:
                latencies.append(t)

    def big_worker():
        while not done.is_set():
            check(send(*big))

    threads = [threading.Thread(target=worker) for _ in range(sessions)]
    bigs = [threading.Thread(target=big_worker)] if big else []
    for t in bigs:
        t.start()
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.monotonic() - t0
    done.set()
    for t in bigs:
        t.join()
    return secs, bad, latencies


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('build')
    ap.add_argument('--old', help='a build to compare with (same run)')
    ap.add_argument('--sessions', type=int, default=10)
    ap.add_argument('--messages', type=int, default=400)
    ap.add_argument('--size', type=int, default=262144)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--kind', choices=('encrypted', 'signed', 'none'),
                    default='encrypted')
    ap.add_argument('--floor', action='store_true',
                    help='also run bench/floor-milter (with --kind none)')
    ap.add_argument('--big', type=int, default=0, metavar='BYTES',
                    help='one more session sends messages of BYTES meanwhile')
    args = ap.parse_args()

    builds = [('new', os.path.abspath(args.build))]
    if args.old:
        builds.insert(0, ('old', os.path.abspath(args.old)))
    for _, b in builds:
        if not os.access(os.path.join(b, 'postfix-policy/smime-milter'), os.X_OK):
            sys.exit('bench-milter: no postfix-policy/smime-milter in %s' % b)
    if args.floor:
        if args.kind != 'none':
            sys.exit('bench-milter: --floor is for --kind none')
        floor = os.path.join(builds[-1][1], 'bench/floor-milter')
        if not os.access(floor, os.X_OK):
            sys.exit('bench-milter: no %s (make -C BUILD/bench floor-milter)'
                     % floor)
        builds.insert(0, ('floor', floor))
    work = tempfile.mkdtemp(prefix='bench-milter.')
    os.chmod(work, 0o755)
    sbx = os.path.join(work, 'sandbox')
    os.mkdir(sbx)
    os.chmod(sbx, 0o755)
    env = dict(os.environ, SG_BUILD=builds[-1][1])
    procs = []
    try:
        out = subprocess.run([os.path.join(TOP, 'scripts/sandbox'), 'up',
                              '--dir', sbx], env=env, check=True,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True).stdout
        sv = dict(line.split('=', 1) for line in out.splitlines() if '=' in line)
        conf = os.path.join(sv['STATE_DIR'], 'smimeguard.conf')
        sender, rcpt = sv['SENDER'], sv['EXTERNAL_ENCRYPT_RCPT']
        recip_cert = os.path.join(sv['PKI_DIR'], rcpt + '.pem')

        load_rcpt = rcpt
        if args.kind == 'encrypted':
            cmd, tail = ['openssl', 'cms', '-encrypt', '-aes256'], [recip_cert]
        elif args.kind == 'none':
            cmd, tail = None, []
            load_rcpt = sv['EXTERNAL_OPEN_RCPT']
        else:
            tail = []
            key = os.path.join(sv['PKI_DIR'], sender)
            cmd = ['openssl', 'cms', '-sign', '-signer', key + '.pem',
                   '-inkey', key + '.key', '-certfile', key + '.chain.pem']
            # the same configuration, but "sign" for the partner's domain
            policy = os.path.join(work, 'policy')
            with open(policy, 'w') as f:
                f.write('%s sign\n* none\n' % rcpt.split('@')[1])
            with open(conf) as f:
                text_conf = ''.join(
                    'encryption_policy_maps = texthash:%s\n' % policy
                    if line.startswith('encryption_policy_maps') else line
                    for line in f)
            conf = os.path.join(work, 'smimeguard.conf')
            with open(conf, 'w') as f:
                f.write(text_conf)

        def make(size):
            """SIZE bytes of text, encrypted to the recipient or signed"""
            plain = os.path.join(work, 'plain.txt')
            line = b'The quarterly figures, line %06d, for the partner only.\r\n'
            parts = [b'Content-Type: text/plain\r\n\r\n']
            n = len(parts[0])
            i = 0
            while n < size * 3 // 4:
                parts.append(line % i)
                n += len(parts[-1])
                i += 1
            text = b''.join(parts)
            if cmd is None:
                return text, split_message(
                    ('From: %s\nTo: %s\nSubject: figures\n'
                     % (sender, load_rcpt)).encode() + text)
            with open(plain, 'wb') as f:
                f.write(text)
            msg = subprocess.run(cmd + ['-in', plain, '-from', sender,
                                        '-to', rcpt, '-subject', 'figures']
                                 + tail,
                                 check=True, stdout=subprocess.PIPE).stdout
            return text, split_message(msg)

        text, (headers, body) = make(args.size)
        big = make(args.big)[1] if args.big else None
        pheaders, pbody = split_message(
            ('From: %s\nTo: %s\nSubject: figures\n\n' % (sender, rcpt)).encode()
            + text)

        for name, b in builds:
            sock = os.path.join(work, name + '.sock')
            if name == 'floor':
                argv = [b, '-l', 'unix:' + sock]
            else:
                argv = [os.path.join(b, 'postfix-policy/smime-milter'),
                        '-c', conf, '-l', 'unix:' + sock, '-e']
            p = subprocess.Popen(argv, stderr=open(
                os.path.join(work, name + '.log'), 'w'))
            procs.append(p)
            for _ in range(100):
                if os.path.exists(sock):
                    break
                time.sleep(0.1)
            else:
                sys.exit('bench-milter: %s milter did not start' % name)
            # the check is really made: plaintext is refused (the floor
            # checks nothing)
            answer = one_message(sock, sender, rcpt, pheaders, pbody)
            if name != 'floor' and not answer.startswith('reply 550'):
                sys.exit('bench-milter: %s: plaintext to %s got %r, not 550'
                         % (name, rcpt, answer))
            # warm-up (libmilter threads, caches)
            _, bad, _ = run_load(sock, args.sessions, 2 * args.sessions, sender,
                                 load_rcpt, headers, body)
            if bad:
                sys.exit('bench-milter: %s: %s' % (name, bad[0]))

        print('smime-milter: %d %s messages of %d bytes to %s, '
              '%d sessions, %d rounds; load %s' % (
                  args.messages, args.kind, len(body), load_rcpt, args.sessions,
                  args.rounds, open('/proc/loadavg').read().split()[:3]))
        if big:
            print('  and meanwhile one more session sending messages of %d '
                  'bytes' % len(big[1]))
        rates = {name: [] for name, _ in builds}
        lat = {name: [] for name, _ in builds}
        for r in range(args.rounds):
            order = builds if r % 2 == 0 else list(reversed(builds))
            for name, b in order:
                secs, bad, lats = run_load(os.path.join(work, name + '.sock'),
                                           args.sessions, args.messages, sender,
                                           load_rcpt, headers, body, big)
                lat[name] += lats
                if bad:
                    sys.exit('bench-milter: %s: %d answers not ok, e.g. %s'
                             % (name, len(bad), bad[0]))
                rates[name].append(args.messages / secs)
                print('  round %d %-3s %6.1f msgs/s' % (r + 1, name,
                                                        rates[name][-1]))
        hz = os.sysconf('SC_CLK_TCK')
        total = 1 + 2 * args.sessions + args.rounds * args.messages
        cpus = {}
        for (name, b), p in zip(builds, procs):
            with open('/proc/%d/stat' % p.pid) as f:
                fields = f.read().rsplit(')', 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / hz
            cpus[name] = cpu
            print('%-3s %s: median %.1f msgs/s; latency p50 %.1f ms, p99 %.1f '
                  'ms; milter CPU %.2f s (%.0f us per message)' % (
                      name, b, statistics.median(rates[name]),
                      percentile(lat[name], 0.5) * 1e3,
                      percentile(lat[name], 0.99) * 1e3, cpu,
                      cpu / total * 1e6))
            if big:
                print('    (CPU per message: the big messages are in the CPU '
                      'time but not in the count)')
        if args.old:
            print('ratio new/old: %.2f' % (statistics.median(rates['new']) /
                                           statistics.median(rates['old'])))
        for name in ('old', 'new'):
            if args.floor and name in rates:
                print('%s against the floor: msgs/s ratio %.2f, CPU per '
                      'message ratio %.2f' % (
                          name, statistics.median(rates[name]) /
                          statistics.median(rates['floor']),
                          cpus[name] / cpus['floor']))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run([os.path.join(TOP, 'scripts/sandbox'), 'down', '--dir',
                        sbx], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        if os.environ.get('BENCH_KEEP') != '1':
            subprocess.run(['rm', '-rf', work])
        else:
            print('bench-milter: kept %s' % work, file=sys.stderr)


if __name__ == '__main__':
    main()
