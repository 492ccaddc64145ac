/*
 * bench-policy.c - Postfix policy requests per second answered by
 * smime-policyd, against a trivial always-DUNNO server, in the same run.
 *
 * Build (standalone, no smimeguard library needed):
 *
 *	gcc -O2 -Wall -o /tmp/bench-policy bench/bench-policy.c -lpthread
 *
 * Run:
 *
 *	/tmp/bench-policy [--policyd PATH] [--clients N] [--seconds S]
 *		[--rounds R] [--certs N] [--kind K] [--workdir DIR]
 *
 * Defaults: --policyd /tmp/bp-build/postfix-policy/smime-policyd (or
 * $SG_BUILD/postfix-policy/smime-policyd), 64 clients, 3 s per
 * measurement, 3 rounds, 300 certificates.
 *
 * Setup (in a temporary directory, removed at the end unless --workdir):
 * a throwaway RSA CA and N certificates for user1..userN@partner.example
 * (one shared RSA-2048 leaf key, so generation takes seconds: the leaf key
 * does not matter for a lookup), written to a dir: certificate map; a
 * smimeguard.conf with internal_domains = example.org,
 * encryption_policy_maps = texthash:FILE ("partner.example encrypt",
 * "* none"), certificate_maps = dir:CERTS, trust_anchors = the CA,
 * revocation_check = none.  smime-policyd is started with
 * "-l unix:DIR/policyd.sock -c DIR/smimeguard.conf -e" (log in
 * DIR/policyd.log) and the baseline (a single-threaded epoll server that
 * reads until the empty line and answers "action=DUNNO\n\n") is forked on
 * DIR/dunno.sock.  Both run as children of this process and are stopped by
 * pid at the end.
 *
 * Load: N client threads, each with one connection reused for all its
 * requests (as Postfix's smtpd reuses its policy connection), one request
 * in flight per connection, ~600-byte requests with the attributes Postfix
 * 3.7 sends at RCPT time.  Recipients cycle through four kinds:
 * internal (bob@example.org -> DUNNO), external with a certificate
 * (userK@partner.example, K in 1..N -> a certificate-map lookup, DUNNO),
 * external with a rule but no certificate (nocertK@partner.example ->
 * 550 reject), external without a rule (someone@elsewhere.example ->
 * DUNNO).  Before measuring, each kind's answer from smime-policyd is
 * checked.  --kind K (0-3) sends only recipients of that kind, to see
 * what each costs.  Rounds alternate baseline / smime-policyd, each 1/10 s warm-up
 * then S seconds; the figure is replies / elapsed time.  Printed: each
 * round, the median of each, and the ratio smime-policyd / baseline
 * (target >= 0.7).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int nclients = 64, nseconds = 3, nrounds = 3, ncerts = 300;
static int only_kind = -1;	/* --kind K: every request of kind K */
static const char *policyd_path;
static char workdir[80];
static bool keep_workdir;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
#include <stdarg.h>
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench-policy: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- baseline server ------------------------------------------------ */

struct bconn {
	int fd;
	size_t len;
	char buf[16384];
};

static void baseline_serve(const char *path)
{
	int lfd, ep;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct epoll_event ev, evs[256];

	signal(SIGPIPE, SIG_IGN);
	unlink(path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 1024) < 0)
		die("baseline: %s: %s", path, strerror(errno));
	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < n; i++) {
			struct bconn *c = evs[i].data.ptr;
			if (c == NULL) {
				int fd;
				while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					c = calloc(1, sizeof(*c));
					c->fd = fd;
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			for (;;) {
				ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
				if (r <= 0) {
					if (r < 0 && (errno == EAGAIN || errno == EINTR))
						break;
					close(c->fd);
					free(c);
					c = NULL;
					break;
				}
				c->len += r;
				/* answer every complete request (ends with an empty line) */
				char *p;
				while ((p = memmem(c->buf, c->len, "\n\n", 2)) != NULL) {
					size_t used = p + 2 - c->buf;
					if (write(c->fd, "action=DUNNO\n\n", 14) != 14) {
						/* client gone; the next read sees it */
					}
					memmove(c->buf, c->buf + used, c->len - used);
					c->len -= used;
				}
				if (c->len == sizeof(c->buf)) {
					close(c->fd);
					free(c);
					c = NULL;
					break;
				}
			}
		}
	}
}

/* ---- client load ----------------------------------------------------- */

static atomic_bool running, counting;
static atomic_ulong total_replies, total_errors;
static const char *target_path;

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* a request like Postfix 3.7 smtpd sends at RCPT time; kind 0..3 */
static int make_request(char *buf, size_t size, unsigned long seq, int id, int kind)
{
	char rcpt[128];
	switch (kind) {
	case 0: snprintf(rcpt, sizeof(rcpt), "bob@example.org"); break;
	case 1: snprintf(rcpt, sizeof(rcpt), "user%lu@partner.example",
			 1 + (seq * 7 + id) % ncerts); break;
	case 2: snprintf(rcpt, sizeof(rcpt), "nocert%lu@partner.example",
			 1 + (seq * 7 + id) % ncerts); break;
	default: snprintf(rcpt, sizeof(rcpt), "someone%lu@elsewhere.example",
			  seq % 1000); break;
	}
	return snprintf(buf, size,
		"request=smtpd_access_policy\n"
		"protocol_state=RCPT\n"
		"protocol_name=ESMTP\n"
		"helo_name=client%d.example.org\n"
		"queue_id=\n"
		"sender=alice@example.org\n"
		"recipient=%s\n"
		"recipient_count=0\n"
		"client_address=127.0.0.%d\n"
		"client_name=localhost\n"
		"reverse_client_name=localhost\n"
		"instance=%x.%lx.%x.0\n"
		"sasl_method=PLAIN\n"
		"sasl_username=alice\n"
		"sasl_sender=\n"
		"size=5120\n"
		"ccert_subject=\n"
		"ccert_issuer=\n"
		"ccert_fingerprint=\n"
		"ccert_pubkey_fingerprint=\n"
		"encryption_protocol=TLSv1.3\n"
		"encryption_cipher=TLS_AES_256_GCM_SHA384\n"
		"encryption_keysize=256\n"
		"etrn_domain=\n"
		"stress=\n"
		"server_address=127.0.0.1\n"
		"server_port=587\n"
		"policy_context=submission\n"
		"compatibility_level=3.6\n"
		"mail_version=3.7.11\n"
		"\n",
		id, rcpt, 1 + id % 250, 0x1234 + id, seq, id);
}

/* send one request, read one reply into out; 0 ok */
static int transact(int fd, const char *req, int len, char *out, size_t outsz)
{
	size_t got = 0;
	if (write(fd, req, len) != len)
		return -1;
	for (;;) {
		ssize_t r = read(fd, out + got, outsz - 1 - got);
		if (r <= 0)
			return -1;
		got += r;
		out[got] = 0;
		if (got >= 2 && memcmp(out + got - 2, "\n\n", 2) == 0)
			return 0;
		if (got == outsz - 1)
			return -1;
	}
}

static void *client(void *arg)
{
	int id = (int)(long)arg, fd = -1;
	unsigned long seq = id;
	char req[2048], rep[1024];

	while (atomic_load(&running)) {
		if (fd < 0 && (fd = connect_unix(target_path)) < 0) {
			atomic_fetch_add(&total_errors, 1);
			usleep(1000);
			continue;
		}
		int len = make_request(req, sizeof(req), seq, id,
				       only_kind >= 0 ? only_kind : (int)(seq % 4));
		seq++;
		if (transact(fd, req, len, rep, sizeof(rep)) != 0) {
			atomic_fetch_add(&total_errors, 1);
			close(fd);
			fd = -1;
			continue;
		}
		if (atomic_load(&counting))
			atomic_fetch_add(&total_replies, 1);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* user+system CPU seconds used so far by process pid */
static double cpu_of(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) != NULL)
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
		       &ut, &st);
	fclose(f);
	return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

/* replies/s over the measured period; *cpu_us = server CPU us per reply */
static double measure(const char *path, pid_t server, unsigned long *errors,
		      double *cpu_us)
{
	double c0, c1;
	pthread_t *t = calloc(nclients, sizeof(*t));
	double t0, t1;
	unsigned long n;

	target_path = path;
	atomic_store(&total_replies, 0);
	atomic_store(&total_errors, 0);
	atomic_store(&counting, false);
	atomic_store(&running, true);
	for (int i = 0; i < nclients; i++)
		if (pthread_create(&t[i], NULL, client, (void *)(long)i) != 0)
			die("pthread_create failed");
	usleep(100000);				/* warm-up: all connected */
	atomic_store(&total_replies, 0);
	atomic_store(&counting, true);
	t0 = now();
	c0 = cpu_of(server);
	usleep(nseconds * 1000000);
	n = atomic_load(&total_replies);
	t1 = now();
	c1 = cpu_of(server);
	*cpu_us = n ? (c1 - c0) * 1e6 / n : 0;
	atomic_store(&counting, false);
	atomic_store(&running, false);
	for (int i = 0; i < nclients; i++)
		pthread_join(t[i], NULL);
	free(t);
	*errors = atomic_load(&total_errors);
	return n / (t1 - t0);
}

/* ---- setup ------------------------------------------------------------ */

static void run_sh(const char *script)
{
	pid_t pid = fork();
	int st;
	if (pid == 0) {
		execl("/bin/sh", "sh", "-ec", script, "sh", workdir, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("setup script failed (see %s)", workdir);
}

static void generate(void)
{
	char script[4096];
	double t0 = now();
	snprintf(script, sizeof(script),
		"cd \"$1\"; mkdir -p certs ca leaf\n"
		"exec 2>gen.log >&2\n"
		"openssl req -x509 -newkey rsa:2048 -nodes -keyout ca/key.pem"
		" -out ca/cert.pem -days 30 -subj '/O=bench/CN=bench CA'"
		" -addext basicConstraints=critical,CA:true"
		" -addext keyUsage=critical,keyCertSign,cRLSign\n"
		"openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048"
		" -out leaf/key.pem\n"
		"openssl req -new -key leaf/key.pem -subj '/O=partner/CN=user'"
		" -out leaf/req.csr\n"
		"cat >leaf/ext.cnf <<'EOF'\n"
		"[ ee ]\n"
		"basicConstraints = CA:false\n"
		"keyUsage = critical,digitalSignature,keyEncipherment\n"
		"extendedKeyUsage = emailProtection\n"
		"subjectAltName = email:${ENV::ADDR}\n"
		"subjectKeyIdentifier = hash\n"
		"authorityKeyIdentifier = keyid\n"
		"EOF\n"
		"seq 1 %d | xargs -P 2 -I{} env ADDR=user{}@partner.example"
		" openssl x509 -req -in leaf/req.csr -CA ca/cert.pem"
		" -CAkey ca/key.pem -set_serial {} -days 30 -sha256"
		" -extfile leaf/ext.cnf -extensions ee -out certs/user{}.pem\n"
		"printf 'partner.example\\tencrypt\\n*\\tnone\\n' >policy\n"
		"cat >smimeguard.conf <<EOF\n"
		"trust_anchors = $1/ca/cert.pem\n"
		"revocation_check = none\n"
		"internal_domains = example.org\n"
		"certificate_maps = dir:$1/certs\n"
		"encryption_policy_maps = texthash:$1/policy\n"
		"policy_action = reject\n"
		"EOF\n"
		"test $(ls certs | wc -l) -eq %d\n",
		ncerts, ncerts);
	run_sh(script);
	fprintf(stderr, "bench-policy: %d certificates generated in %.1f s\n",
		ncerts, now() - t0);
}

static pid_t start_policyd(const char *sock)
{
	char listen_arg[600], conf[600], log[600];
	pid_t pid;

	snprintf(listen_arg, sizeof(listen_arg), "unix:%s", sock);
	snprintf(conf, sizeof(conf), "%s/smimeguard.conf", workdir);
	snprintf(log, sizeof(log), "%s/policyd.log", workdir);
	if ((pid = fork()) == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
		}
		execl(policyd_path, policyd_path, "-l", listen_arg, "-c", conf,
		      "-e", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void wait_for(const char *sock, pid_t pid)
{
	for (int i = 0; i < 200; i++) {
		int fd = connect_unix(sock), st;
		if (fd >= 0) {
			close(fd);
			return;
		}
		if (waitpid(pid, &st, WNOHANG) == pid)
			die("server for %s exited (see %s)", sock, workdir);
		usleep(50000);
	}
	die("%s does not answer", sock);
}

static void check_answers(const char *sock)
{
	static const char *expect[4] = {"action=DUNNO", "action=DUNNO",
					"action=550", "action=DUNNO"};
	char req[2048], rep[1024];
	int fd = connect_unix(sock);
	if (fd < 0)
		die("connect %s", sock);
	for (int k = 0; k < 8; k++) {
		int len = make_request(req, sizeof(req), k, 0, k % 4);
		if (transact(fd, req, len, rep, sizeof(rep)) != 0)
			die("no answer from smime-policyd (kind %d)", k % 4);
		if (strncmp(rep, expect[k % 4], strlen(expect[k % 4])) != 0)
			die("kind %d: unexpected answer %s", k % 4, rep);
		if (k < 4)
			fprintf(stderr, "bench-policy: kind %d (%d-byte request): %s",
				k, len, rep);
	}
	close(fd);
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	char psock[108], bsock[108], cmd[700];
	pid_t ppid, bpid;
	double *rb, *rp;
	const char *b = getenv("SG_BUILD");
	static char defpath[512];

	snprintf(defpath, sizeof(defpath), "%s/postfix-policy/smime-policyd",
		 b ? b : "/tmp/bp-build");
	policyd_path = defpath;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (v == NULL)
			die("usage: bench-policy [--policyd PATH] [--clients N] "
			    "[--seconds S] [--rounds R] [--certs N] [--kind 0-3] "
			    "[--workdir DIR]");
		if (!strcmp(a, "--policyd")) policyd_path = v;
		else if (!strcmp(a, "--clients")) nclients = atoi(v);
		else if (!strcmp(a, "--seconds")) nseconds = atoi(v);
		else if (!strcmp(a, "--rounds")) nrounds = atoi(v);
		else if (!strcmp(a, "--certs")) ncerts = atoi(v);
		else if (!strcmp(a, "--kind")) only_kind = atoi(v) & 3;
		else if (!strcmp(a, "--workdir")) {
			snprintf(workdir, sizeof(workdir), "%s", v);
			keep_workdir = true;
		} else
			die("unknown option %s", a);
		i++;
	}
	if (nclients < 1 || nseconds < 1 || nrounds < 1 || ncerts < 1)
		die("bad arguments");
	signal(SIGPIPE, SIG_IGN);
	if (!keep_workdir) {
		snprintf(workdir, sizeof(workdir), "/tmp/bench-policy.XXXXXX");
		if (mkdtemp(workdir) == NULL)
			die("mkdtemp: %s", strerror(errno));
	} else
		mkdir(workdir, 0755);
	{
		/* a kept --workdir with a complete corpus is reused */
		char probe[200];
		snprintf(probe, sizeof(probe), "%s/certs/user%d.pem", workdir, ncerts);
		if (!keep_workdir || access(probe, R_OK) != 0)
			generate();
	}

	snprintf(psock, sizeof(psock), "%s/policyd.sock", workdir);
	snprintf(bsock, sizeof(bsock), "%s/dunno.sock", workdir);
	ppid = start_policyd(psock);
	if ((bpid = fork()) == 0) {
		baseline_serve(bsock);
		_exit(0);
	}
	wait_for(psock, ppid);
	wait_for(bsock, bpid);
	check_answers(psock);

	rb = calloc(nrounds, sizeof(double));
	rp = calloc(nrounds, sizeof(double));
	printf("clients %d, %d s per measurement, %d rounds, %d certificates, "
	       "recipients: 1/4 internal, 1/4 external+cert, 1/4 external "
	       "rule+no cert (550), 1/4 external no rule\n",
	       nclients, nseconds, nrounds, ncerts);
	for (int r = 0; r < nrounds; r++) {
		unsigned long eb, ep;
		double cb, cp;
		rb[r] = measure(bsock, bpid, &eb, &cb);
		rp[r] = measure(psock, ppid, &ep, &cp);
		printf("round %d: baseline %.0f req/s (errors %lu, server CPU "
		       "%.1f us/req), smime-policyd %.0f req/s (errors %lu, "
		       "server CPU %.1f us/req), ratio %.2f\n",
		       r + 1, rb[r], eb, cb, rp[r], ep, cp, rp[r] / rb[r]);
		fflush(stdout);
	}
	qsort(rb, nrounds, sizeof(double), cmpd);
	qsort(rp, nrounds, sizeof(double), cmpd);
	double mb = rb[nrounds / 2], mp = rp[nrounds / 2];
	printf("\n| server | requests/s (median of %d) |\n|---|---|\n"
	       "| always-DUNNO epoll baseline | %.0f |\n"
	       "| smime-policyd | %.0f |\n\n"
	       "ratio smime-policyd / baseline: %.2f (target >= 0.70): %s\n",
	       nrounds, mb, mp, mp / mb, mp / mb >= 0.7 ? "met" : "MISSED");

	kill(ppid, SIGTERM);
	kill(bpid, SIGTERM);
	waitpid(ppid, NULL, 0);
	waitpid(bpid, NULL, 0);
	if (!keep_workdir) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench-policy: could not remove %s\n", workdir);
	}
	return mp / mb >= 0.7 ? 0 : 2;
}
