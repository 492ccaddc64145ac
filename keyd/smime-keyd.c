/*++
/* NAME
/*	smime-keyd 8
/* SUMMARY
/*	decrypt-to-verify: the verdict of the signature inside encrypted mail
/* SYNOPSIS
/*	smime-keyd [-c config] [-s socket] [-P passphrase-file] [-f]
/*
/*	smime-keyd -h | -V
/* DESCRIPTION
/*	Outlook signs, then encrypts: the signature sits inside the
/*	encryption, so a server without keys can only say "encrypted".
/*	smime-keyd is the one process that holds the organisation's
/*	archived private keys (the keystore, smimectl(1) key) unwrapped
/*	for a moment: for a mailbox owner and an encrypted message it
/*	finds the owner's stored key that a RecipientInfo names (issuer
/*	and serial number, or subject key identifier; every stored key of
/*	the owner is tried, so old mail opens with an old key), decrypts
/*	in memory, verifies the inner content with the core verifier (the
/*	signer bound to the From of the outer header; a From of the inner
/*	entity that names another address fails) and answers only the
/*	verdict: status, reasons, signers.  The stored message stays
/*	encrypted and untouched; the Dovecot plugin
/*	(smime_decrypt_to_verify = yes) sets the keywords of the answer.
/*
/*	The master key (keystore_master_key) is read once, at start, before
/*	privileges are dropped.  The keystore directory (keystore_dir) is
/*	read per request, so keys imported or removed with smimectl key
/*	count at once.
/*
/*	Options:
/*	-c config	smimeguard.conf (default /etc/smimeguard/smimeguard.conf)
/*	-s socket	listen here instead of keyd_socket
/*	-P file		read the passphrase of a passphrase master key from
/*			the first line of file (a key-file master needs none);
/*			without it such a master is refused at start
/*	-f		stay in the foreground and log to standard error
/*	-h, --help	show a summary of the options
/*	-V, --version	show the version
/* PROTOCOL
/*	One request per connection on a unix stream socket:
/*
/*	    SGKEYD 1\n owner=ADDRESS\n size=N\n \n
/*
/*	then exactly N bytes, the whole message as the mail store keeps
/*	it.  The reply is lines "name=value\n" ended by an empty line,
/*	after which the daemon closes the connection: status=
/*	(encrypted+signed/verified, encrypted+signed/failed, encrypted when
/*	it cannot say, error), reasons= (reason tokens, comma separated),
/*	detail= (one line), weak=yes|no, from=, signers=N and per signer I
/*	signer.I.email|subject|issuer|serial|digest|result|reasons|bound|cert
/*	(cert: the DER certificate in base64).  Values hold no control
/*	bytes.  Neither plaintext nor key material is ever part of it.
/* SECURITY
/*	The daemon runs as its own user (keyd_user, started as root it
/*	drops to it after reading the master key and binding the socket);
/*	the master key file must be mode 0600 (a file group or others can
/*	read is refused: the daemon does not start).  Core dumps are off
/*	(RLIMIT_CORE 0, PR_SET_DUMPABLE 0, before the master key is read
/*	and again after the user change); memory is locked (mlockall) when
/*	RLIMIT_MEMLOCK allows it (LimitMEMLOCK=infinity in the unit), else
/*	the log says so: master and data keys live in locked, guarded
/*	libsodium memory anyway, decrypted content only in a malloc'd
/*	buffer that is wiped before it is freed, never in a file.  The
/*	socket is created mode 0660 with group keyd_socket_group (the group
/*	of Dovecot's mail processes): only they can connect; each request
/*	logs the peer's uid and pid (SO_PEERCRED).  Requests are bounded:
/*	a header of at most 1 KB, a body of at most keyd_max_request_size
/*	bytes (default max_message_size; all connections together hold
/*	at most four times that, beyond it a request gets status=error
/*	"busy"), the whole request within 10
/*	seconds; at most keyd_max_clients connections at once (one thread
/*	each, so a slow or silent client holds only its own).  A new
/*	connection beyond that closes the one still reading its request
/*	that has been silent longest (logged), so silent clients cannot
/*	hold every slot for their 10 seconds; when all are past their
/*	request, the new one is closed.  Decryption and verification run in at most 4 of
/*	them at a time.  Anything malformed gets status=error and the
/*	connection is closed; the daemon keeps serving.  A request may
/*	name any owner: whoever can connect can ask for a verdict (never
/*	for plaintext) of any message encrypted to a stored key, so the
/*	socket's group is the boundary.
/* LOGGING
/*	One line per request: peer uid and pid, owner (made printable),
/*	size, status, reasons, the signer's address, the fingerprint of
/*	the key used and the duration.  Never plaintext, never key
/*	material.
/* SIGNALS
/*	SIGTERM and SIGINT remove the socket and stop the daemon.  SIGHUP
/*	is logged: the keystore is read per request; a new configuration
/*	or master key needs a restart.
/* CONFIGURATION PARAMETERS
/*	keyd_socket, keyd_socket_group, keyd_user, keyd_max_clients,
/*	keyd_max_request_size, keystore_dir, keystore_master_key, and the
/*	verification settings of smimeguard.conf(5) (trust_anchors,
/*	crl_dirs, sender_binding, limits).
/* SEE ALSO
/*	smimectl(1) (key), smimeguard.conf(5), smimeguard-dovecot(7),
/*	the administrator's guide (/usr/share/doc/smimeguard/ADMIN-GUIDE.md)
/*--*/
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "smimeguard-admin.h"
#include "daemon.h"
#include "keyd-proto.h"
#include "policy-proto.h"	/* pp_printable */
#include "sg-settings.h"

#define KEYD_HEAD_MAX 1024
#define KEYD_REQUEST_SECONDS 10
#define KEYD_WORKERS 4

static struct sg_ctx *ctx;
static struct sg_keystore *ks;
static size_t max_request;
static unsigned int max_clients;
static atomic_uint n_clients;
/* bytes of messages held by all connections together: at most
   4 * max_request, so keyd_max_clients connections cannot make the
   daemon hold keyd_max_clients * keyd_max_request_size bytes */
static atomic_size_t held_bytes;
static sem_t work_slots;		/* decrypt + verify at once */

/* conn - one client connection (its own thread).  While it reads its
   request it is on the "readers" list: at keyd_max_clients, a new
   connection evicts the reader that has been silent longest, so idle
   clients cannot hold every slot until their timeouts. */
struct conn {
	int fd;
	pid_t pid;
	uid_t uid;
	atomic_llong last_ms;	/* when it last sent bytes (or connected) */
	unsigned long long seq;	/* accept order: breaks a tie in last_ms */
	bool evicted;		/* under readers_lock */
	struct conn *prev, *next;	/* the readers list, under readers_lock */
	bool listed;
};
static pthread_mutex_t readers_lock = PTHREAD_MUTEX_INITIALIZER;
/* what an evicted reader is told (and its log line says) */
#define EVICTED_WHY "closed for a new client (keyd_max_clients)"
static struct conn *readers;
static unsigned long long accept_seq;	/* the accept loop's only */

/* now_ms - a monotonic clock in milliseconds */
static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* read_some - up to len bytes before the deadline: >0 read, 0 end of
   input, -1 error or timed out (why) */
static ssize_t read_some(struct conn *c, unsigned char *p, size_t len,
			 long long deadline, const char **why)
{
	int fd = c->fd;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	for (;;) {
		long long left = deadline - now_ms();
		ssize_t n;
		int r;

		if (left <= 0) {
			*why = "the request did not arrive in time";
			return -1;
		}
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*why = "poll failed";
			return -1;
		}
		if (r == 0)
			continue;	/* the deadline decides */
		n = recv(fd, p, len, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			*why = "the connection failed";
			return -1;
		}
		if (n > 0)
			atomic_store(&c->last_ms, now_ms());
		return n;
	}
}

/* readers_drop - the request is read (or failed): c can no longer be
   evicted; TRUE when it had been */
static bool readers_drop(struct conn *c)
{
	bool evicted;

	pthread_mutex_lock(&readers_lock);
	if (c->listed) {
		if (c->prev != NULL)
			c->prev->next = c->next;
		else
			readers = c->next;
		if (c->next != NULL)
			c->next->prev = c->prev;
		c->listed = false;
	}
	evicted = c->evicted;
	pthread_mutex_unlock(&readers_lock);
	return evicted;
}

/* readers_evict - at keyd_max_clients: shut the connection of the reader
   silent longest (its thread sees the end of input and exits); FALSE
   when every connection is past its request */
static bool readers_evict(void)
{
	struct conn *c, *old = NULL;
	long long oldest = 0;

	pthread_mutex_lock(&readers_lock);
	for (c = readers; c != NULL; c = c->next) {
		long long t = atomic_load(&c->last_ms);

		/* connections accepted in one burst share a millisecond:
		   then the one accepted first is the one silent longest */
		if (!c->evicted && (old == NULL || t < oldest ||
				    (t == oldest && c->seq < old->seq))) {
			old = c;
			oldest = t;
		}
	}
	if (old != NULL) {
		old->evicted = true;
		(void)shutdown(old->fd, SHUT_RDWR);
		msg_warn("%u clients connected (keyd_max_clients): the one "
			 "silent longest (uid=%ld pid=%ld, %lld ms) is closed "
			 "for a new one", max_clients, (long)old->uid,
			 (long)old->pid, now_ms() - oldest);
	}
	pthread_mutex_unlock(&readers_lock);
	return old != NULL;
}

/* send_all - the reply, within the deadline; 0 or -1 */
static int send_all(int fd, const char *p, size_t len, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -1;
		if (deadline - now_ms() <= 0 ||
		    poll(&pfd, 1, (int)(deadline - now_ms())) <= 0)
			return -1;
	}
	return 0;
}

/* reply - send a verdict (res) or an error (res NULL, why) */
static void reply(int fd, const struct sg_result *res, const char *why,
		  long long deadline)
{
	struct sg_error err;
	char *text = NULL;
	size_t len;

	if (sg_keyd_reply(res, res == NULL ? why : NULL, &text, &len,
			  &err) < 0) {
		msg_warn("reply: %s", err.msg);
		return;
	}
	(void)send_all(fd, text, len, deadline);
	sg_free(text);
}

/* serve - one request on c */
static void serve(struct conn *c)
{
	long long start = now_ms();
	long long deadline = start + KEYD_REQUEST_SECONDS * 1000;
	unsigned char head[KEYD_HEAD_MAX + 1], *body = NULL, *hend = NULL;
	char owner[321] = "", owner_log[128] = "", fpr[65] = "";
	char reasons[SG_REASONS_SIZE] = "", signer[128] = "-";
	const char *why = NULL;
	struct sg_result *res = NULL;
	struct sg_error err;
	size_t used = 0, size = 0, got, in_head, reserved = 0;
	ssize_t n;

	/* the header: up to the empty line */
	while (hend == NULL) {
		if (used == KEYD_HEAD_MAX) {
			why = "the request header is too long";
			goto fail;
		}
		n = read_some(c, head + used, KEYD_HEAD_MAX - used,
			      deadline, &why);
		if (n <= 0) {
			if (n == 0)
				why = "the request ended in its header";
			goto fail;
		}
		used += (size_t)n;
		head[used] = '\0';
		if (used >= 2 && head[0] == '\n')
			hend = head;
		else
			hend = (unsigned char *)memmem(head, used, "\n\n", 2);
	}
	if (memchr(head, '\0', (size_t)(hend - head)) != NULL) {
		why = "a NUL byte in the request header";
		goto fail;
	}
	*hend = '\0';
	if (keyd_parse_head((char *)head, max_request, owner, sizeof(owner),
			    &size, &why) < 0)
		goto fail;
	pp_printable(owner_log, sizeof(owner_log), owner);
	if (atomic_fetch_add(&held_bytes, size) + size > 4 * max_request) {
		atomic_fetch_sub(&held_bytes, size);
		why = "busy: other requests hold too many bytes";
		goto fail;
	}
	reserved = size;
	if ((body = malloc(size > 0 ? size : 1)) == NULL) {
		why = "out of memory";
		goto fail;
	}
	in_head = used - (size_t)(hend + 2 - head);
	got = in_head < size ? in_head : size;
	memcpy(body, hend + 2, got);
	while (got < size) {
		n = read_some(c, body + got, size - got, deadline, &why);
		if (n <= 0) {
			if (n == 0)
				why = "the request ended before size= bytes";
			goto fail;
		}
		got += (size_t)n;
	}
	if (readers_drop(c)) {
		why = EVICTED_WHY;
		goto fail;
	}
	while (sem_wait(&work_slots) < 0 && errno == EINTR)
		;
	if (sg_keystore_verify(ctx, ks, owner, body, size, 0, &res, fpr,
			       &err) < 0) {
		sem_post(&work_slots);
		why = err.msg;
		goto fail;
	}
	sem_post(&work_slots);
	free(body);
	body = NULL;
	atomic_fetch_sub(&held_bytes, reserved);
	reserved = 0;
	reply(c->fd, res, NULL, now_ms() + 5000);
	(void)sg_reasons_format(sg_result_reasons(res), ",", reasons,
				sizeof(reasons));
	{
		const struct sg_signer *s = sg_result_bound_signer(res);

		if (s == NULL && sg_result_signer_count(res) > 0)
			s = sg_result_signer(res, 0);
		if (s != NULL)
			pp_printable(signer, sizeof(signer),
				     s->email[0] != '\0' ? s->email :
				     s->subject);
	}
	msg_info("peer uid=%ld pid=%ld owner=<%s> size=%zu status=%s "
		 "reasons=%s signer=<%s> key=%s ms=%lld", (long)c->uid,
		 (long)c->pid, owner_log, size,
		 sg_status_name(sg_result_status(res)),
		 reasons[0] != '\0' ? reasons : "-", signer,
		 fpr[0] != '\0' ? fpr : "-", now_ms() - start);
	sg_result_free(&res);
	return;
fail:
	free(body);
	atomic_fetch_sub(&held_bytes, reserved);
	if (readers_drop(c))
		why = EVICTED_WHY;
	reply(c->fd, NULL, why, now_ms() + 1000);
	msg_warn("peer uid=%ld pid=%ld owner=<%s> size=%zu status=error "
		 "detail=\"%s\" ms=%lld", (long)c->uid, (long)c->pid,
		 owner_log[0] != '\0' ? owner_log : "-", size, why,
		 now_ms() - start);
}

static void *conn_thread(void *arg)
{
	struct conn *c = arg;

	serve(c);
	(void)readers_drop(c);	/* (serve did; the fd is closed next) */
	(void)close(c->fd);
	free(c);
	atomic_fetch_sub(&n_clients, 1);
	return NULL;
}

/* accept_one - a new connection gets its own thread, or is closed at
   keyd_max_clients */
static void accept_one(int lfd, const pthread_attr_t *attr)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct conn *c;
	pthread_t t;
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
			msg_warn("accept: %s", strerror(errno));
		if (errno == EMFILE || errno == ENFILE)
			usleep(100000);
		return;
	}
	/* full: the reader silent longest makes room (its thread ends
	   within moments, so the count may pass the limit by the evicted
	   connections still ending); when every connection is past its
	   request, the new one is closed */
	if (atomic_load(&n_clients) >= max_clients && !readers_evict()) {
		msg_warn("%u clients connected (keyd_max_clients), all of them "
			 "being answered: a new connection is closed",
			 max_clients);
		(void)close(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		(void)close(fd);
		return;
	}
	c->fd = fd;
	c->uid = (uid_t)-1;
	atomic_init(&c->last_ms, now_ms());
	c->seq = ++accept_seq;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0) {
		c->uid = cred.uid;
		c->pid = cred.pid;
	}
	atomic_fetch_add(&n_clients, 1);
	pthread_mutex_lock(&readers_lock);
	c->next = readers;
	if (readers != NULL)
		readers->prev = c;
	readers = c;
	c->listed = true;
	pthread_mutex_unlock(&readers_lock);
	if (pthread_create(&t, attr, conn_thread, c) != 0) {
		msg_warn("cannot start a thread: a connection is closed");
		(void)readers_drop(c);
		atomic_fetch_sub(&n_clients, 1);
		(void)close(fd);
		free(c);
	}
}

/* read_passphrase - the first line of path, in locked memory */
static char *read_passphrase(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t len;

	if (f == NULL)
		msg_fatal("passphrase file %s: %s", path, strerror(errno));
	if ((buf = malloc(1024)) == NULL)
		msg_fatal("out of memory");
	(void)mlock(buf, 1024);
	if (fgets(buf, 1024, f) == NULL)
		buf[0] = '\0';
	(void)fclose(f);
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	*len_r = len;
	return buf;
}

/* no_dumps - no core file, no ptrace by the same user */
static void no_dumps(void)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) < 0)
		msg_fatal("setrlimit(RLIMIT_CORE): %s", strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		msg_fatal("prctl(PR_SET_DUMPABLE): %s", strerror(errno));
}

/* lock_memory - mlockall when RLIMIT_MEMLOCK allows it for good */
static void lock_memory(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
	    rl.rlim_cur == RLIM_INFINITY) {
		if (mlockall(MCL_CURRENT | MCL_FUTURE) == 0) {
			msg_info("memory locked (mlockall)");
			return;
		}
		msg_warn("mlockall: %s: decrypted content may be swapped out "
			 "(use encrypted swap)", strerror(errno));
		return;
	}
	msg_warn("memory not locked: RLIMIT_MEMLOCK is not unlimited "
		 "(LimitMEMLOCK=infinity in the unit); keys are in locked "
		 "memory, decrypted content may be swapped out (use "
		 "encrypted swap)");
}

static void usage(FILE *out)
{
	fprintf(out,
"Usage: smime-keyd [-c CONFIG] [-s SOCKET] [-P PASSPHRASE-FILE] [-f]\n"
"Decrypt-to-verify for the Dovecot plugin: answers the verdict of the\n"
"signature inside encrypted mail, with the keystore's keys.\n"
"  -c CONFIG   smimeguard.conf (default " SG_CONFIG_FILE ")\n"
"  -s SOCKET   listen here instead of keyd_socket\n"
"  -P FILE     the passphrase of a passphrase master key (first line)\n"
"  -f          foreground, log to standard error\n"
"  -h          this help; -V the version\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 }
	};
	const char *config = SG_CONFIG_FILE;
	const char *sock = NULL, *pass_file = NULL, *v, *user, *group;
	struct sg_config *conf = NULL;
	struct sg_master *master = NULL;
	struct sg_error err;
	struct dm_unix_sock us;
	struct signalfd_siginfo si;
	struct stat sb;
	pthread_attr_t attr;
	sigset_t sigs;
	bool foreground = false, needs;
	char spec[256], *pass = NULL;
	size_t pass_len = 0, iter;
	int c, lfd, sfd;

	umask(077);
	no_dumps();
	while ((c = getopt_long(argc, argv, "c:s:P:fhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'P':
			pass_file = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("smime-keyd %s\n", sg_version());
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	dm_log_init("smime-keyd", foreground);
	if (sg_init() < 0)
		msg_fatal("cannot initialise the crypto libraries");
	if (sg_config_new(&conf) < 0)
		msg_fatal("out of memory");
	if (sg_settings_register_all(conf, &err) < 0 ||
	    sg_config_read(conf, config, &err) < 0)
		msg_fatal("configuration %s: %s", config, err.msg);
	for (iter = 0; sg_config_next_unknown(conf, &iter, &err);)
		msg_warn("%s", err.msg);
	if (sg_config_check_modes(conf, config, &err) < 0 ||
	    sg_ctx_new(conf, &ctx, &err) < 0)
		msg_fatal("configuration %s: %s", config, err.msg);
	if (sock == NULL)
		sock = sg_config_get(conf, "keyd_socket");
	if (sock == NULL || sock[0] != '/')
		msg_fatal("keyd_socket is not set (an absolute path, e.g. "
			  "/run/smimeguard-keyd/keyd.sock), nor -s");
	v = sg_config_get(conf, "keyd_max_request_size");
	if (v != NULL && v[0] == '\0') {
		max_request = sg_ctx_max_message_size(ctx);
	} else if (v != NULL && v[0] >= '0' && v[0] <= '9') {
		char *end;

		errno = 0;
		max_request = (size_t)strtoull(v, &end, 10);
		if (errno != 0 || *end != '\0')
			max_request = 0;
	}
	if (max_request == 0)
		msg_fatal("keyd_max_request_size: '%s' is not a size",
			  v != NULL ? v : "");
	v = sg_config_get(conf, "keyd_max_clients");
	max_clients = v != NULL ? (unsigned int)strtoul(v, NULL, 10) : 0;
	if (max_clients == 0)
		msg_fatal("keyd_max_clients: '%s' is not a number",
			  v != NULL ? v : "");
	user = sg_config_get(conf, "keyd_user");
	group = sg_config_get(conf, "keyd_socket_group");

	/* the master key, once, before anything listens */
	v = sg_config_get(conf, "keystore_master_key");
	if (v == NULL || sg_master_needs_passphrase(v, &needs, &err) < 0)
		msg_fatal("keystore_master_key %s: %s", v != NULL ? v : "",
			  v != NULL ? err.msg : "cannot expand its value");
	if (needs && pass_file == NULL)
		msg_fatal("keystore_master_key %s is a passphrase master: start "
			  "smime-keyd with -P FILE (a file only it can read "
			  "holding the passphrase), or use a key-file master "
			  "(smimectl key rotate-master)", v);
	if (needs)
		pass = read_passphrase(pass_file, &pass_len);
	if (sg_master_load(v, pass, pass_len, &master, &err) < 0)
		msg_fatal("keystore_master_key %s: %s", v, err.msg);
	if (pass != NULL) {
		OPENSSL_cleanse(pass, 1024);
		free(pass);
	}
	lock_memory();

	/* blocked before the socket exists: a SIGHUP or SIGTERM sent as
	   soon as it appears waits for the signalfd below (the default
	   action would end us, leaving the socket behind) */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGPIPE);
	if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0)
		msg_fatal("signals: %s", strerror(errno));

	/* the socket: 0660, keyd_socket_group */
	snprintf(spec, sizeof(spec), "%s:0660%s%s", sock,
		 group != NULL && group[0] != '\0' ? ":" : "",
		 group != NULL ? group : "");
	dm_unix_parse(spec, &us);
	if (lstat(us.path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode))
			msg_fatal("%s exists and is not a socket", us.path);
		(void)unlink(us.path);
	}
	lfd = dm_unix_listen(&us, 128);
	umask(077);	/* whatever keyd creates from now on is its own */
	if (getuid() == 0 || geteuid() == 0) {
		if (user == NULL || user[0] == '\0')
			msg_fatal("started as root and keyd_user is empty");
		dm_drop_privileges(user);
		no_dumps();	/* a uid change resets the dumpable flag */
	}
	/* the keystore as keyd_user: its directory and files are that
	   user's (0700, 0600), read per request */
	v = sg_config_get(conf, "keystore_dir");
	if (v == NULL || sg_keystore_open(v, master, false, &ks, &err) < 0)
		msg_fatal("keystore_dir %s: %s", v != NULL ? v : "",
			  v != NULL ? err.msg : "cannot expand its value");
	if (!foreground) {
		if (daemon(0, 0) < 0)
			msg_fatal("daemon: %s", strerror(errno));
		dm_log_init("smime-keyd", false);	/* the new pid */
	}

	if ((sfd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0)
		msg_fatal("signals: %s", strerror(errno));
	if (sem_init(&work_slots, 0, KEYD_WORKERS) < 0 ||
	    pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) != 0 ||
	    pthread_attr_setstacksize(&attr, 2 * 1024 * 1024) != 0)
		msg_fatal("threads: %s", strerror(errno));
	msg_info("listening on %s (uid %ld, at most %u clients, requests up "
		 "to %zu bytes)", us.path, (long)getuid(), max_clients,
		 max_request);
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = lfd, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
		};

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			msg_fatal("poll: %s", strerror(errno));
		}
		if (pfd[1].revents & POLLIN) {
			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP) {
				msg_info("SIGHUP: the keystore is read per "
					 "request; a new configuration or "
					 "master key needs a restart");
				continue;
			}
			if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
				break;
		}
		if (pfd[0].revents & POLLIN)
			accept_one(lfd, &attr);
	}
	(void)close(lfd);
	(void)unlink(us.path);
	msg_info("stopping (signal %u)", si.ssi_signo);
	/* let answers in progress finish (at most 2 s), then wipe the
	   master; a thread still running ends with the process */
	for (c = 0; c < 200 && atomic_load(&n_clients) > 0; c++)
		usleep(10000);
	if (atomic_load(&n_clients) == 0) {
		sg_keystore_free(&ks);
		sg_master_free(&master);
	}
	_exit(0);
}
