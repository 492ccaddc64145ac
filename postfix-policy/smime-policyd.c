/*++
/* NAME
/*	smime-policyd 8
/* SUMMARY
/*	S/MIME encryption policy service for Postfix
/* SYNOPSIS
/*	smime-policyd [-c config] -l unix:/path[:mode] | -l inet:host:port
/*		[-u user] [-e] [-v]
/*	smime-policyd [-c config] -s [-e] [-v]
/*
/*	smime-policyd [-c config] -n
/*
/*	smime-policyd -h | -V
/* DESCRIPTION
/*	smime-policyd answers Postfix SMTPD access policy delegation
/*	requests (SMTPD_POLICY_README).  At RCPT time it classifies the
/*	recipient with the smimeguard.conf policy (internal_domains,
/*	encryption_policy_maps, policy_action) and, when mail to an external
/*	recipient must be S/MIME-encrypted and no usable certificate is known
/*	for that recipient (certificate_maps), rejects the recipient early
/*	with "550 5.7.1", or applies the configured action (defer, hold,
/*	monitor).  A directory that does not answer gives DEFER_IF_PERMIT,
/*	never a false reject; so does an ldap: policy map that cannot say
/*	the recipient's rule (DEFER_IF_PERMIT 4.3.0: never a recipient let
/*	through without its rule).  Everything else is DUNNO.  The content
/*	itself is checked at end of data by smime-milter(8).
/*
/*	Directory lookups run in one lookup thread: certificate lookups
/*	when certificate_maps has an ldap: map, and the whole RCPT decision
/*	of a RCPT to an external recipient when encryption_policy_maps has
/*	one, so that requests that need no directory are answered meanwhile.
/*
/*	Addresses are judged where Postfix delivers them: the recipient and
/*	the sender are routed as Postfix's defaults route them (a trailing
/*	dot, case, quoting, "%", "!" and an "@" inside the local part), the
/*	rules of every domain on the way apply, and the certificate is
/*	looked up for the first address outside internal_domains.  An
/*	address that cannot be routed safely (an address literal, a
/*	numeric, missing or non-ASCII domain, a source route) is refused
/*	with 553 5.1.3 (5.1.7 for the sender), one over 254 octets with 501
/*	5.5.4, whatever the rules say.  The null sender is exempt only when
/*	policy_exemptions names it and client_address is in
/*	policy_exemption_clients.
/*
/*	With -l the daemon serves many concurrent Postfix connections from
/*	one event loop; connections are reused as Postfix does.  With -s it
/*	serves one client on standard input/output, for Postfix spawn(8).
/*
/*	Options:
/*	-c config	smimeguard.conf (default /etc/smimeguard/smimeguard.conf)
/*	-l listen	unix:/path[:mode[:group]] (mode octal, default 0660;
/*			group: one Postfix runs with, e.g. postfix, so
/*			that Postfix can connect and other users cannot)
/*			or inet:host:port
/*	-s		serve standard input/output, exit at end of input
/*	-u user		drop privileges to user after opening the socket
/*	-e		log to standard error instead of syslog (mail facility)
/*	-v		verbose logging
/*	-n		check the configuration and the files it names,
/*			report problems and unknown settings on standard
/*			error, and exit: 0 valid, 1 not (run it after each
/*			change, before the daemon re-reads the file)
/*	-h, --help	show a summary of the options
/*	-V, --version	show the version
/*
/*	Postfix settings (main.cf, or -o in master.cf for submission;
/*	the Debian package's socket, reachable from a chrooted smtpd):
/*	    smtpd_recipient_restrictions =
/*	        check_policy_service unix:smimeguard/policyd.sock
/*	    smtpd_policy_service_default_action = 451 4.3.5 Try again later
/*	Put it after the relay control (smtpd_relay_restrictions) and never
/*	end a list that also applies to inbound mail with "reject".
/* FILES
/*	/etc/smimeguard/smimeguard.conf	the configuration
/*	/var/spool/postfix/smimeguard/policyd.sock	the socket of the
/*			packaged systemd unit smime-policyd.service
/* SIGNALS
/*	SIGHUP reloads the configuration (a failed reload keeps the old
/*	one); so does a change on disk of smimeguard.conf, the trust
/*	anchors, CRLs or policy maps (checked at most every 5 seconds).
/*	SIGTERM and SIGINT stop the daemon after closing the socket.
/* SECURITY
/*	Requests are bounded (16 KB, 64 attributes); a malformed request is
/*	logged and the connection closed without a reply.  A request must
/*	arrive whole within policy_request_timeout seconds (smimeguard.conf,
/*	default 30) of its first byte, so a client that trickles bytes
/*	cannot hold a connection; an idle connection is closed after 600
/*	seconds.  At 2048 connections (or when the process runs out of file
/*	descriptors) the connection idle the longest is closed to make room
/*	for the new one, so a flood of idle connections cannot lock Postfix
/*	out.  Lookups in ldap: maps run in a thread of their own: while
/*	one waits for a slow or hanging directory, requests that need no
/*	lookup are answered at once, and after every server failed slowly
/*	the next lookups fail at once (DEFER_IF_PERMIT) for 10 seconds.
/*	Peer-supplied
/*	text is made printable before it is logged.  The daemon needs no
/*	privileges beyond reading its configuration and certificates; run it
/*	with -u or from a service manager as an unprivileged user.  It
/*	refuses to start (and a reload keeps the old configuration) when
/*	smimeguard.conf or a file it names (trust anchors, CRLs, pinned
/*	certificates, policy and certificate maps) is writable by group or
/*	others.
/* DIAGNOSTICS
/*	Counters (decisions by outcome and by rule, certificate lookups,
/*	directory and policy map errors, latency histograms, uptime, the
/*	configuration loaded and when) are kept in memory with atomic
/*	adds and served on the unix socket policyd_status_socket names
/*	(smimeguard.conf; default mode 0600), opened at start before
/*	privileges are dropped; smimectl stats reads them.  A thread of
/*	its own answers each connection with a snapshot and closes it,
/*	reading nothing, with a 1 second send timeout: a status client
/*	cannot hold up mail.
/*	Problems and decisions are logged to syslog (facility mail) or,
/*	with -e, to standard error, in Postfix's style.
/* SEE ALSO
/*	smime-milter(8), smimectl(1), smimeguard.conf(5),
/*	smimeguard-dovecot(7), postconf(5) (check_policy_service),
/*	the administrator's guide (/usr/share/doc/smimeguard/ADMIN-GUIDE.md),
/*	the examples in /usr/share/doc/smimeguard/examples
/*--*/
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "smimeguard.h"
#include "policy-proto.h"
#include "policy-decide.h"
#include "daemon.h"
#include "stats.h"

#define DEF_CONFIG SG_CONFIG_FILE	/* configure: $sysconfdir/smimeguard */
#define MAX_CONNECTIONS 2048
#define IDLE_TIMEOUT 600	/* > Postfix's smtpd_policy_service_max_idle */
#define IN_SIZE (PP_MAX_REQUEST + 1024)
#define RELOAD_CHECK_SECS 5	/* look for changed files at most this often */
#define SWEEP_SECS 2		/* timeouts are checked this often */

struct conn {
	int fd;
	char in[IN_SIZE];
	size_t in_used;
	char out[2048];
	size_t out_used, out_off;
	time_t last_active;
	time_t request_started;	/* first byte of an incomplete request, or 0 */
	bool closing;		/* close once out is flushed */
	uint32_t events;	/* what epoll watches for it */
	bool waiting;		/* its request waits for the lookup thread */
	unsigned long gen;	/* tells a reused descriptor from this one */
};

/*
 * Certificate lookups in an ldap: map can take up to timeout x servers
 * when a directory hangs; they run in one lookup thread, so that RCPTs
 * that need no lookup (and lookups in dir: maps, answered from memory)
 * are not held up behind them.  The thread only calls the context
 * (sg_policy_recipient_usable); the event loop only reads the policy
 * and the configuration.  When encryption_policy_maps has an ldap: map,
 * the rule itself may wait for a directory: then the whole decision of
 * a RCPT runs in the thread (the maps of the policy have their own
 * locks), and only requests that are not RCPTs are answered at once.  The configuration is replaced (reload) only
 * while no lookup is outstanding.  A connection whose request waits is
 * not read from until its answer is written.
 */
struct job {
	struct job *next;
	int fd;
	unsigned long gen;
	/* an ldap: policy map: the whole decision in the thread, from the
	   request's bytes (raw, raw_len; NULL: only the certificate lookup) */
	char *raw;
	size_t raw_len;
	const struct sg_policy *pol;
	struct sg_ctx *ctx;
	struct pd_pending p;
	struct pd_reply r;
	long consumed;		/* the request's bytes in the input buffer */
	char qid[64];
	int found;
	char why[256];
	uint64_t t0;		/* when the request was read (latency) */
	uint64_t lookup_us;	/* the certificate lookup's time */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *todo, **todo_tail, *done;
	int efd;		/* eventfd: done jobs */
	unsigned int outstanding;	/* event loop: sent, not collected */
	bool reload_pending;	/* SIGHUP while lookups were outstanding */
	bool running;
} lk = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL,
	 NULL, -1, 0, false, false };

struct daemon_state {
	const char *config_path;
	struct dm_config cfg;
	bool use_stderr;
	bool verbose;
	unsigned long n_requests;
};

static struct daemon_state state;

/* ---- configuration ---- */

/* lookup_cb - sg_policy_recipient_usable, with what failed in why (the
   pd_decide lookup: one text for the log either way) */
static int lookup_cb(void *context, const char *address, char *why,
		     size_t why_size)
{
	struct sg_error err;
	int ret;

	ret = sg_policy_recipient_usable((struct sg_ctx *)context, address, 0,
					 why, why_size, &err);
	if (ret < 0)
		snprintf(why, why_size, "%s", err.msg);
	return ret;
}

/* ---- one request ---- */

/* log_reply - the decision's line, when it is worth one, and its
   counters (t0: when the request was read) */
static void log_reply(const struct pd_reply *reply, const char *qid,
		      uint64_t t0)
{
	if (reply->log[0] != '\0' && (reply->notable || state.verbose))
		msg_info("%s: %s: action=%s", qid, reply->log, reply->action);
	if (reply->decided) {
		st_decision((enum st_outcome)reply->outcome, reply->rule);
		if (reply->lookup == 1)
			st_count(ST_LOOKUP_HITS);
		else if (reply->lookup == 0)
			st_count(ST_LOOKUP_MISSES);
		else if (reply->lookup == -1)
			st_count(ST_LOOKUP_ERRORS);
		else if (reply->outcome == ST_DEFERRED)
			st_count(ST_POLICY_ERRORS);	/* a policy map failed */
	}
	st_latency(ST_KIND_REQUEST, st_now_us() - t0);
}

/* needs_thread - are lookups of this configuration worth the lookup
   thread (a directory that can hang)? */
static bool needs_thread(void)
{
	return lk.running && state.cfg.conf != NULL &&
	       sg_config_maps_wait(state.cfg.conf, "certificate_maps");
}

/* policy_needs_thread - does the rule of a recipient wait for a
   directory (an ldap: map in encryption_policy_maps)? */
static bool policy_needs_thread(void)
{
	return lk.running && state.cfg.conf != NULL &&
	       sg_config_maps_wait(state.cfg.conf, "encryption_policy_maps");
}

/* queue_job - hand a job to the lookup thread */
static void queue_job(struct job *j, struct conn *c)
{
	pthread_mutex_lock(&lk.lock);
	*lk.todo_tail = j;
	lk.todo_tail = &j->next;
	pthread_cond_signal(&lk.cond);
	pthread_mutex_unlock(&lk.lock);
	lk.outstanding++;
	c->waiting = true;
}

/* handle_request - parse and answer what is in buf; returns bytes
   consumed, 0 when more input is needed, -1 to disconnect.  With c (the
   event loop), a request that needs a directory lookup goes to the
   lookup thread: *out_len_r is 0 and c->waiting is set. */
static long handle_request(const char *buf, size_t len, char *out,
			   size_t out_size, size_t *out_len_r, struct conn *c)
{
	static struct pp_request req;
	struct pd_reply reply;
	struct pd_pending pending;
	const char *error, *request, *id, *state_val, *rcpt;
	char qid[64];
	size_t consumed;
	uint64_t t0 = st_now_us(), t1;
	int n;

	switch (pp_parse(buf, len, &req, &consumed, &error)) {
	case PP_NEED_MORE:
		return 0;
	case PP_ERROR:
		msg_warn("malformed policy request: %s; closing the connection",
			 error);
		st_count(ST_BAD_REQUESTS);
		return -1;
	case PP_COMPLETE:
		break;
	}
	request = pp_get(&req, "request");
	if (request == NULL || strcmp(request, "smtpd_access_policy") != 0) {
		char printable[64];

		pp_printable(printable, sizeof(printable),
			     request == NULL ? "(none)" : request);
		msg_warn("unexpected request type %s; closing the connection",
			 printable);
		st_count(ST_BAD_REQUESTS);
		return -1;
	}
	state.n_requests++;
	st_count(ST_REQUESTS);
	if (lk.outstanding == 0)	/* the thread may hold the context */
		dm_config_reload_if_changed(state.config_path, &state.cfg,
					    RELOAD_CHECK_SECS);
	id = pp_get(&req, "queue_id");
	pp_printable(qid, sizeof(qid), id == NULL || *id == '\0' ? "NOQUEUE" : id);
	state_val = pp_get(&req, "protocol_state");
	rcpt = pp_get(&req, "recipient");
	/* an internal recipient needs no rule: decided here */
	if (c != NULL && policy_needs_thread() && state_val != NULL &&
	    strcmp(state_val, "RCPT") == 0 && rcpt != NULL && rcpt[0] != '\0' &&
	    !sg_policy_is_internal(state.cfg.pol, rcpt)) {
		struct job *j = calloc(1, sizeof(*j));

		if (j != NULL && (j->raw = malloc(consumed)) != NULL) {
			memcpy(j->raw, buf, consumed);
			j->raw_len = consumed;
			j->fd = c->fd;
			j->gen = c->gen;
			j->pol = state.cfg.pol;
			j->ctx = state.cfg.ctx;
			j->consumed = (long)consumed;
			j->t0 = t0;
			snprintf(j->qid, sizeof(j->qid), "%s", qid);
			queue_job(j, c);
			*out_len_r = 0;
			return (long)consumed;
		}
		free(j);	/* out of memory: decided here */
	}
	if (pd_decide_start(state.cfg.pol, &req, &reply, &pending) == 1) {
		char why[256] = "";
		struct job *j;

		if (c != NULL && needs_thread() &&
		    (j = calloc(1, sizeof(*j))) != NULL) {
			j->fd = c->fd;
			j->gen = c->gen;
			j->ctx = state.cfg.ctx;
			j->p = pending;
			j->r = reply;
			j->consumed = (long)consumed;
			j->t0 = t0;
			snprintf(j->qid, sizeof(j->qid), "%s", qid);
			queue_job(j, c);
			*out_len_r = 0;
			return (long)consumed;
		}
		t1 = st_now_us();
		n = lookup_cb(state.cfg.ctx, pending.address, why, sizeof(why));
		st_latency(ST_KIND_LOOKUP, st_now_us() - t1);
		why[sizeof(why) - 1] = '\0';
		pd_decide_finish(&pending, n, why, &reply);
	}
	log_reply(&reply, qid, t0);
	n = snprintf(out, out_size, "action=%s\n\n", reply.action);
	if (n < 0 || (size_t)n >= out_size)
		return -1;
	*out_len_r = (size_t)n;
	return (long)consumed;
}

/* ---- stdin/stdout mode (spawn) ---- */

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int serve_stdio(void)
{
	static char in[IN_SIZE];
	size_t used = 0;
	char out[2048];

	for (;;) {
		ssize_t n = read(STDIN_FILENO, in + used, sizeof(in) - used);
		long consumed;
		size_t out_len;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? 1 : 0;
		used += (size_t)n;
		while ((consumed = handle_request(in, used, out, sizeof(out),
						  &out_len, NULL)) > 0) {
			if (write_all(STDOUT_FILENO, out, out_len) < 0)
				return 1;
			memmove(in, in + consumed, used - (size_t)consumed);
			used -= (size_t)consumed;
		}
		if (consumed < 0)
			return 1;
	}
}

/* ---- the lookup thread ---- */

/* decide_job - the whole decision of a RCPT (the request parsed again
   from its bytes: the event loop's parse is overwritten by the next
   request) */
static void decide_job(struct job *j)
{
	struct pp_request *req = malloc(sizeof(*req));
	const char *error;
	size_t consumed;

	if (req == NULL || pp_parse(j->raw, j->raw_len, req, &consumed,
				    &error) != PP_COMPLETE) {
		/* cannot happen (parsed before) but for memory: try later */
		snprintf(j->r.action, sizeof(j->r.action),
			 "DEFER_IF_PERMIT 4.3.0 temporary failure; try again later");
		j->r.log[0] = '\0';
		free(req);
		return;
	}
	pd_decide(j->pol, req, lookup_cb, j->ctx, &j->r);
	free(req);
}

static void *lookup_thread(void *arg)
{
	uint64_t one = 1, t0;
	struct job *j;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&lk.lock);
		while (lk.todo == NULL)
			pthread_cond_wait(&lk.cond, &lk.lock);
		j = lk.todo;
		lk.todo = j->next;
		if (lk.todo == NULL)
			lk.todo_tail = &lk.todo;
		pthread_mutex_unlock(&lk.lock);
		t0 = st_now_us();
		if (j->raw != NULL)
			decide_job(j);	/* directory lookups, whatever they are */
		else
			j->found = lookup_cb(j->ctx, j->p.address, j->why,
					     sizeof(j->why));
		j->lookup_us = st_now_us() - t0;
		if (j->lookup_us == 0)
			j->lookup_us = 1;
		pthread_mutex_lock(&lk.lock);
		j->next = lk.done;
		lk.done = j;
		pthread_mutex_unlock(&lk.lock);
		while (write(lk.efd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
	}
	return NULL;
}

/* lookup_start - the thread and its eventfd; false: lookups stay inline */
static bool lookup_start(void)
{
	sigset_t all, old;
	int ret;

	lk.todo_tail = &lk.todo;
	if ((lk.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		return false;
	/* signals stay with the event loop (signalfd) */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ret = pthread_create(&(pthread_t){ 0 }, NULL, lookup_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret != 0) {
		close(lk.efd);
		lk.efd = -1;
		return false;
	}
	lk.running = true;
	return true;
}

/* ---- the event loop ---- */

static int set_nonblock(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static int listen_on(const char *spec)
{
	int fd;

	if (strncmp(spec, "unix:", 5) == 0) {
		struct dm_unix_sock us;

		dm_unix_parse(spec + 5, &us);
		fd = dm_unix_listen(&us, 512);
	} else if (strncmp(spec, "inet:", 5) == 0) {
		struct addrinfo hints, *ai;
		char host[256];
		const char *port;
		int one = 1, ret;

		spec += 5;
		port = strrchr(spec, ':');
		if (port == NULL || (size_t)(port - spec) >= sizeof(host))
			msg_fatal("-l inet:host:port expected");
		memcpy(host, spec, (size_t)(port - spec));
		host[port - spec] = '\0';
		port++;
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		if ((ret = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai)) != 0)
			msg_fatal("%s:%s: %s", host, port, gai_strerror(ret));
		if ((fd = socket(ai->ai_family, SOCK_STREAM, 0)) < 0)
			msg_fatal("socket: %s", strerror(errno));
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
			msg_fatal("bind %s:%s: %s", host, port, strerror(errno));
		freeaddrinfo(ai);
		if (listen(fd, 512) < 0)
			msg_fatal("listen: %s", strerror(errno));
	} else {
		msg_fatal("-l %s: use unix:/path or inet:host:port", spec);
	}
	if (set_nonblock(fd) < 0)
		msg_fatal("fcntl: %s", strerror(errno));
	return fd;
}

static void conn_close(int epfd, struct conn **conns, int fd)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	free(conns[fd]);
	conns[fd] = NULL;
}

/* conn_watch - input unless the request waits for a lookup, output
   while some is pending; epoll_ctl only when that changes (one syscall
   less per request) */
static void conn_watch(int epfd, struct conn *c)
{
	struct epoll_event ev;
	uint32_t want = (c->waiting ? 0 : EPOLLIN) |
			(c->out_used > 0 ? EPOLLOUT : 0);

	if (want == c->events)
		return;
	c->events = want;
	ev.events = want;
	ev.data.fd = c->fd;
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* conn_flush - write pending output; -1 on error */
static int conn_flush(int epfd, struct conn *c)
{
	while (c->out_off < c->out_used) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_used - c->out_off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_used)
		c->out_off = c->out_used = 0;
	conn_watch(epfd, c);
	return 0;
}

/* conn_answer - answer the complete requests in the input buffer, up to
   one that waits for the lookup thread; -1 to close */
static int conn_answer(int epfd, struct conn *c)
{
	long consumed = 0;
	size_t out_len;

	while (!c->waiting &&
	       (consumed = handle_request(c->in, c->in_used, c->out + c->out_used,
					  sizeof(c->out) - c->out_used, &out_len,
					  c)) > 0) {
		if (c->waiting)
			break;	/* consumed when its answer comes */
		c->out_used += out_len;
		memmove(c->in, c->in + consumed, c->in_used - (size_t)consumed);
		c->in_used -= (size_t)consumed;
		/* what is left is the start of the next request */
		c->request_started = c->in_used > 0 ? time(NULL) : 0;
		if (sizeof(c->out) - c->out_used < 700 && conn_flush(epfd, c) < 0)
			return -1;
	}
	if (!c->waiting && consumed < 0) {
		/* still answer the requests that came before the bad one
		   (best effort: the connection closes anyway) */
		if (c->out_used > 0)
			(void)conn_flush(epfd, c);
		return -1;
	}
	if (conn_flush(epfd, c) < 0)
		return -1;
	return 0;
}

/* conn_input - read and answer; -1 to close */
static int conn_input(int epfd, struct conn *c)
{
	if (c->waiting)
		return 0;	/* not watched for input until its answer */
	for (;;) {
		ssize_t n = read(c->fd, c->in + c->in_used, sizeof(c->in) - c->in_used);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		if (n == 0)
			return -1;	/* Postfix closed the connection */
		if (c->in_used == 0)
			c->request_started = time(NULL);
		c->in_used += (size_t)n;
		c->last_active = time(NULL);
		if (conn_answer(epfd, c) < 0)
			return -1;
		if (c->waiting)
			return 0;
		if (c->in_used == sizeof(c->in))
			return -1;	/* cannot happen: pp_parse bounds it */
	}
}

/* lookups_done - write the answers the lookup thread found; a job whose
   connection went away meanwhile is dropped */
static void lookups_done(int epfd, struct conn **conns, int *n_conns)
{
	struct job *j, *next;
	uint64_t count;

	while (read(lk.efd, &count, sizeof(count)) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&lk.lock);
	j = lk.done;
	lk.done = NULL;
	pthread_mutex_unlock(&lk.lock);
	for (; j != NULL; j = next) {
		struct conn *c = j->fd >= 0 && j->fd < MAX_CONNECTIONS + 64 ?
				 conns[j->fd] : NULL;
		int n;

		next = j->next;
		lk.outstanding--;
		if (j->raw == NULL)
			pd_decide_finish(&j->p, j->found, j->why, &j->r);
		if (j->lookup_us > 0)
			st_latency(ST_KIND_LOOKUP, j->lookup_us);
		log_reply(&j->r, j->qid, j->t0);
		if (c != NULL && c->gen == j->gen && c->waiting) {
			c->waiting = false;
			n = snprintf(c->out + c->out_used,
				     sizeof(c->out) - c->out_used,
				     "action=%s\n\n", j->r.action);
			if (n < 0 || (size_t)n >= sizeof(c->out) - c->out_used) {
				conn_close(epfd, conns, j->fd);
				(*n_conns)--;
				free(j->raw);
				free(j);
				continue;
			}
			c->out_used += (size_t)n;
			memmove(c->in, c->in + j->consumed, c->in_used - (size_t)j->consumed);
			c->in_used -= (size_t)j->consumed;
			c->request_started = c->in_used > 0 ? time(NULL) : 0;
			c->last_active = time(NULL);
			if (conn_answer(epfd, c) < 0) {
				conn_close(epfd, conns, j->fd);
				(*n_conns)--;
			}
		}
		free(j->raw);
		free(j);
	}
}

/* request_timeout - policy_request_timeout of the current configuration */
static time_t request_timeout(void)
{
	const char *v = state.cfg.conf != NULL ?
		sg_config_get(state.cfg.conf, "policy_request_timeout") : NULL;
	unsigned long t = v != NULL ? strtoul(v, NULL, 10) : 0;

	return t > 0 ? (time_t)t : 30;
}

/* evict_idlest - close the connection idle the longest (to make room);
   false when there is none */
static bool evict_idlest(int epfd, struct conn **conns, int *n_conns)
{
	int fd, victim = -1;

	for (fd = 0; fd < MAX_CONNECTIONS + 64; fd++) {
		if (conns[fd] != NULL &&
		    (victim < 0 ||
		     conns[fd]->last_active < conns[victim]->last_active))
			victim = fd;
	}
	if (victim < 0)
		return false;
	conn_close(epfd, conns, victim);
	(*n_conns)--;
	return true;
}

/* raise_fd_limit - room for MAX_CONNECTIONS descriptors when allowed */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	rlim_t want = MAX_CONNECTIONS + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ?
		      want : rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}

/* reload - SIGHUP: read the configuration again (never while the
   lookup thread may use the context) */
static void reload(void)
{
	if (dm_config_load(state.config_path, &state.cfg) == 0)
		msg_info("reloaded %s", state.config_path);
	else
		msg_warn("reload failed; keeping the previous configuration");
}

static int serve(const char *listen_spec, const char *user)
{
	int lfd, epfd, sfd;
	struct conn **conns = calloc(MAX_CONNECTIONS + 64, sizeof(*conns));
	struct epoll_event ev, events[64];
	sigset_t mask;
	time_t last_sweep = time(NULL), last_full_log = 0;
	unsigned long gen = 0;
	int n_conns = 0;

	/* blocked before the socket exists: a client may send SIGHUP or
	   SIGTERM as soon as it sees the socket, and signalfd below gets
	   what arrived meanwhile (the default action would end us) */
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	lfd = listen_on(listen_spec);
	raise_fd_limit();
	dm_status_listen(state.cfg.conf, "policyd_status_socket");
	if (user != NULL)
		dm_drop_privileges(user);
	if (conns == NULL)
		msg_fatal("out of memory");
	if ((sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    (epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		msg_fatal("signalfd/epoll: %s", strerror(errno));
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.fd = sfd;
	epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev);
	/* after the privileges are dropped: one user for every thread */
	if (lookup_start()) {
		ev.data.fd = lk.efd;
		epoll_ctl(epfd, EPOLL_CTL_ADD, lk.efd, &ev);
	} else {
		msg_warn("cannot start the lookup thread (%s); directory "
			 "lookups will hold up other requests", strerror(errno));
	}
	msg_info("ready on %s", listen_spec);
	for (;;) {
		int i, n = epoll_wait(epfd, events, 64, SWEEP_SECS * 1000);
		time_t now = time(NULL);

		if (n < 0 && errno != EINTR)
			msg_fatal("epoll_wait: %s", strerror(errno));
		for (i = 0; i < n; i++) {
			int fd = events[i].data.fd;

			if (fd == sfd) {
				struct signalfd_siginfo si;
				int k;

				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGHUP) {
						if (lk.outstanding > 0)
							lk.reload_pending = true;	/* when they are back */
						else
							reload();
					} else {
						msg_info("stopping (%lu requests served)",
							 state.n_requests);
						close(lfd);
						st_unlink();
						if (strncmp(listen_spec, "unix:", 5) == 0) {
							struct dm_unix_sock us;

							dm_unix_parse(listen_spec + 5, &us);
							(void)unlink(us.path);
						}
						/* the connections (a lookup still
						   running ends with the process) */
						for (k = 0; k < MAX_CONNECTIONS + 64; k++) {
							if (conns[k] != NULL)
								conn_close(epfd, conns, k);
						}
						free(conns);
						return 0;
					}
				}
			} else if (lk.running && fd == lk.efd) {
				lookups_done(epfd, conns, &n_conns);
				if (lk.outstanding == 0 && lk.reload_pending) {
					lk.reload_pending = false;
					reload();
				}
			} else if (fd == lfd) {
				int cfd;

				for (;;) {
					cfd = accept4(lfd, NULL, NULL,
						      SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (cfd < 0 && (errno == EMFILE || errno == ENFILE)) {
						/* out of descriptors: the connection
						   would stay pending and wake us up
						   forever; make room and try again */
						if (evict_idlest(epfd, conns, &n_conns))
							continue;
						break;
					}
					if (cfd < 0)
						break;
					while (n_conns >= MAX_CONNECTIONS) {
						if (now != last_full_log) {
							msg_warn("too many connections (%d); "
								 "closing the one idle longest",
								 n_conns);
							last_full_log = now;
						}
						if (!evict_idlest(epfd, conns, &n_conns))
							break;
					}
					if (cfd >= MAX_CONNECTIONS + 64) {
						close(cfd);
						continue;
					}
					if ((conns[cfd] = calloc(1, sizeof(struct conn))) == NULL) {
						close(cfd);
						continue;
					}
					conns[cfd]->fd = cfd;
					conns[cfd]->gen = ++gen;
					conns[cfd]->last_active = now;
					conns[cfd]->events = EPOLLIN;
					ev.events = EPOLLIN;
					ev.data.fd = cfd;
					epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &ev);
					n_conns++;
				}
			} else if (conns[fd] != NULL) {
				int ret = 0;

				if (conns[fd]->waiting &&
				    (events[i].events & (EPOLLHUP | EPOLLERR)))
					ret = -1;	/* gone: its answer is dropped */
				else if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
					ret = conn_input(epfd, conns[fd]);
				if (ret == 0 && (events[i].events & EPOLLOUT))
					ret = conn_flush(epfd, conns[fd]);
				if (ret < 0) {
					conn_close(epfd, conns, fd);
					n_conns--;
				}
			}
		}
		if (now - last_sweep >= SWEEP_SECS) {
			time_t req_timeout = request_timeout();
			int fd;

			last_sweep = now;
			for (fd = 0; fd < MAX_CONNECTIONS + 64; fd++) {
				struct conn *c = conns[fd];

				if (c == NULL || c->waiting)
					continue;	/* a lookup's timeout bounds it */
				if (c->in_used > 0 && c->request_started != 0 &&
				    now - c->request_started > req_timeout) {
					msg_warn("request not complete after %ld seconds "
						 "(policy_request_timeout); closing the "
						 "connection", (long)req_timeout);
				} else if (now - c->last_active <= IDLE_TIMEOUT) {
					continue;
				}
				conn_close(epfd, conns, fd);
				n_conns--;
			}
		}
	}
}

static void usage(FILE *fp, int status)
{
	fprintf(fp,
		"usage: smime-policyd [-c config] -l unix:/path[:mode[:group]]|inet:host:port "
		"[-u user] [-e] [-v]\n"
		"       smime-policyd [-c config] -s [-e] [-v]\n"
		"       smime-policyd [-c config] -n\n");
	if (fp == stdout)
		fprintf(fp, "\n"
"Postfix SMTPD policy service: at RCPT, refuses external recipients whose\n"
"rule (encryption_policy_maps) requires encryption when no usable\n"
"certificate is known for them.\n"
"\n"
"  -c config   smimeguard.conf (default " DEF_CONFIG ")\n"
"  -l listen   unix:/path[:mode[:group]] (mode default 0660) or inet:host:port\n"
"  -s          serve one client on standard input/output (Postfix spawn(8))\n"
"  -u user     drop privileges to user after opening the socket\n"
"  -e          log to standard error instead of syslog (facility mail)\n"
"  -v          verbose logging\n"
"  -n          check the configuration (and the files it names), print\n"
"              warnings such as unknown settings, and exit: 0 valid, 1 not\n"
"  -V          print the version and exit\n"
"  -h, --help  show this help\n"
"\n"
"See smime-policyd(8) and smimeguard.conf(5).\n");
	exit(status);
}

int main(int argc, char **argv)
{
	const char *listen_spec = NULL, *user = NULL;
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	bool stdio_mode = false, check_only = false;
	int c;

	state.config_path = DEF_CONFIG;
	while ((c = getopt_long(argc, argv, "c:l:su:evnhV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout, 0);
			break;
		case 'V':
			printf("smime-policyd (smimeguard) %s\n", PACKAGE_VERSION);
			return 0;
		case 'n':
			check_only = true;
			break;
		case 'c':
			state.config_path = optarg;
			break;
		case 'l':
			listen_spec = optarg;
			break;
		case 's':
			stdio_mode = true;
			break;
		case 'u':
			user = optarg;
			break;
		case 'e':
			state.use_stderr = true;
			break;
		case 'v':
			state.verbose = true;
			break;
		default:
			usage(stderr, 2);
		}
	}
	if (check_only && optind == argc)
		return dm_check_config("smime-policyd", state.config_path);
	if (optind != argc || stdio_mode == (listen_spec != NULL))
		usage(stderr, 2);
	dm_log_init("smime-policyd", state.use_stderr);
	st_init("smime-policyd");
	signal(SIGPIPE, SIG_IGN);
	if (sg_init() < 0)
		msg_fatal("cannot initialise the crypto libraries");
	if (dm_config_load(state.config_path, &state.cfg) < 0)
		msg_fatal("cannot start without a valid configuration");
	return stdio_mode ? serve_stdio() : serve(listen_spec, user);
}
