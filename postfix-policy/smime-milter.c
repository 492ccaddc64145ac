/*++
/* NAME
/*	smime-milter 8
/* SUMMARY
/*	S/MIME encryption enforcement milter for Postfix
/* SYNOPSIS
/*	smime-milter [-c config] -l unix:/path[:mode[:group]] | -l inet:port@host
/*		[-u user] [-e] [-v]
/*
/*	smime-milter [-c config] -n
/*
/*	smime-milter -h | -V
/* DESCRIPTION
/*	smime-milter checks outgoing mail at end of data.  For every
/*	external recipient whose rule in smimeguard.conf requires
/*	encryption (encryption_policy_maps), the message must be CMS
/*	EnvelopedData or AuthEnvelopedData at its root, and its
/*	RecipientInfos must include (by issuer and serial number, or by
/*	subject key identifier) a currently usable certificate of that
/*	recipient from certificate_maps.  encrypt-aead rules also require
/*	AuthEnvelopedData or AES-GCM; sign rules require a valid signature
/*	(outside the encryption for encrypt+sign).
/*
/*	Plaintext, plaintext labelled as pkcs7-mime, mail encrypted only to
/*	the sender or to someone else, to a stale or revoked certificate,
/*	or with CBC when AEAD is required, is refused with one SMTP reply
/*	for the whole message that names the failing recipients and why
/*	(enhanced status 5.7.1), or handled by the rule's action: defer
/*	(4.7.1), hold (Postfix quarantine), monitor (accept and log).
/*	policy_exempt_senders and policy_exempt_recipients are exempt.  The
/*	null sender and Auto-Submitted mail are not, unless
/*	policy_exemptions names them and the SMTP client is in
/*	policy_exemption_clients (anyone can write MAIL FROM:<> or an
/*	Auto-Submitted field); Auto-Submitted counts only with one field
/*	whose value is auto-generated or auto-replied (RFC 3834).
/*
/*	Recipients are judged where Postfix routes them: the milter asks
/*	for the macros {rcpt_addr}, {rcpt_host} and {rcpt_mailer} (also in
/*	Postfix's default milter_rcpt_macros).  A recipient whose transport
/*	is one of internal_transports is internal; any other is judged by
/*	the policy on the address Postfix resolved, routed once more as
/*	Postfix would ("%", "!", quoted "@", trailing dots, case).  Without
/*	the macros (non_smtpd_milters: sendmail(1)/pickup) the address as
/*	given is routed the same way.  An address that cannot be routed
/*	safely (an address literal, a numeric or missing domain, a source
/*	route) is refused with 553 5.1.3, one longer than 254 octets with
/*	501 5.5.4: at RCPT in smtpd(8), else for the whole message.  Past
/*	1,000 recipients a message is refused (452 4.5.3 at RCPT, or 552
/*	5.5.3 for the message), never passed unchecked.
/*
/*	Mail that an alias expands after the milter saw it (virtual(5),
/*	aliases(5), .forward) is checked again when it leaves: see the
/*	after-queue check in conf.d/postfix-master.cf.example.
/*
/*	What a message must satisfy is decided from the envelope first:
/*	when no recipient needs a check (internal, exempt, or no rule),
/*	the milter accepts at DATA (or at the first header, where Postfix
/*	sends no DATA event) and never reads the message.  An
/*	Auto-Submitted field can only exempt, so this never lets through
/*	what the end-of-data check would refuse.
/*
/*	Every decision is logged, one line per message with the queue
/*	id, the sender and the recipients: "accepted unread: no recipient
/*	needs a check (RULE)", "accepted: policy satisfied (RULE)", or the
/*	status, reasons and action of a refusal (smimectl report counts
/*	them).
/*
/*	The milter never modifies a message.  It holds no copy of one:
/*	the header it is given and the body chunks go to the core's
/*	streaming verifier as they arrive, which keeps up to 1 MB in memory
/*	and the rest in an unlinked file in temp_directory
/*	(smimeguard.conf(5)); a message that cannot be kept so (a write
/*	error) is deferred, with a log line.  The
/*	configuration is re-read when smimeguard.conf, or a trust anchor,
/*	CRL or policy map file it names, changes on disk (checked at most
/*	every 5 seconds).  SMTP sessions are checked in parallel, one
/*	libmilter thread each, against one loaded configuration; a reload
/*	applies from the next step of each message (RCPT, DATA, end of
/*	data), and a check under way finishes with the configuration it
/*	started with (a message's signature is verified with the
/*	configuration in use at its first header field, the recipients'
/*	rules are those in use at end of data).
/*
/*	Postfix settings (main.cf, or -o in master.cf for submission;
/*	the Debian package's socket, reachable from a chrooted smtpd):
/*	    smtpd_milters = unix:smimeguard/milter.sock
/*	    non_smtpd_milters = unix:smimeguard/milter.sock
/*	    milter_default_action = tempfail
/*	tempfail keeps mail queued while the milter is down; accept lets it
/*	pass unchecked, which defeats the policy.
/*
/*	Options:
/*	-c config	smimeguard.conf (default /etc/smimeguard/smimeguard.conf)
/*	-l socket	unix:/path[:mode[:group]] (mode octal, default 0660;
/*			group: one Postfix runs with, e.g. postfix) or
/*			inet:port@host (libmilter syntax; over TCP,
/*			libmilter's defaults cost ~40 ms a message from
/*			Nagle and delayed ACKs: prefer a unix socket)
/*	-u user		drop privileges to user after opening the socket
/*	-e		log to standard error instead of syslog
/*	-v		verbose logging
/*	-n		check the configuration and the files it names,
/*			report problems and unknown settings on standard
/*			error, and exit: 0 valid, 1 not (run it after each
/*			change, before the daemon re-reads the file)
/*	-h, --help	show a summary of the options
/*	-V, --version	show the version
/* FILES
/*	/etc/smimeguard/smimeguard.conf	the configuration
/*	/var/spool/postfix/smimeguard/milter.sock	the socket of the
/*			packaged systemd unit smime-milter.service
/* SECURITY
/*	Reply texts quote recipient addresses made printable; the daemon
/*	needs no privileges beyond reading its configuration.  It refuses
/*	to start (and a reload keeps the old configuration) when
/*	smimeguard.conf or a file it names is writable by group or others.
/* DIAGNOSTICS
/*	One log line per decision (syslog facility mail, or standard error
/*	with -e).  Counters (decisions by outcome and by rule, directory
/*	and policy map errors, latency of RCPT and of end of data, uptime,
/*	the configuration loaded and when) are kept in memory with atomic
/*	adds and served on the unix socket milter_status_socket names
/*	(smimeguard.conf; default mode 0600), opened at start before
/*	privileges are dropped; smimectl stats reads them.  A thread of
/*	its own answers each connection with a snapshot and closes it,
/*	reading nothing, with a 1 second send timeout: a status client
/*	cannot hold up mail.
/* SEE ALSO
/*	smime-policyd(8), smimectl(1), smimeguard.conf(5),
/*	smimeguard-dovecot(7), postconf(5) (smtpd_milters,
/*	milter_default_action), the administrator's guide
/*	(/usr/share/doc/smimeguard/ADMIN-GUIDE.md)
/*--*/
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

#include <libmilter/mfapi.h>

#include "smimeguard.h"
#include "policy-proto.h"
#include "policy-decide.h"
#include "daemon.h"
#include "stats.h"

#define DEF_CONFIG SG_CONFIG_FILE	/* configure: $sysconfdir/smimeguard */
#define MAX_RCPTS 1000
#define RELOAD_CHECK_SECS 5

/* one envelope recipient */
struct rcpt {
	char *raw;		/* as the client gave it, without <> */
	char *addr;		/* Postfix's {rcpt_addr}, or NULL */
	char *mailer;		/* Postfix's {rcpt_mailer}, or NULL */
};

struct msg {
	char client[64];	/* the SMTP client's address, or "" (kept
				   across messages of one connection) */
	char *sender;		/* without <>; "" the null sender */
	struct rcpt *rcpts;
	size_t n_rcpts;
	bool too_many;		/* over MAX_RCPTS where RCPT could not
				   be refused (no {rcpt_mailer}) */
	unsigned int n_auto_submitted;	/* Auto-Submitted fields */
	char *auto_submitted;	/* the first one's value */
	/* the message as headers + CRLF + body, fed to the core as it
	   comes, verified with the configuration in use when it began */
	struct sg_verify_stream *vs;
	struct snap *vs_snap;	/* a reference: vs uses its context */
	bool in_body;
	bool decided;		/* the envelope was judged (need_check) */
	/* a step Postfix does not wait for (SMFIP_NR_*) failed (logged):
	   the next step that is answered defers the message */
	bool failed;
	unsigned long nr;	/* SMFIP_NR_* agreed for this connection
				   (kept across messages) */
};

/* One loaded configuration.  Every callback takes the current one and
   works on it without a lock (the core's context and policy may be used
   by many threads at once); a reload makes a new one, and the old one is
   freed when its last callback is done with it. */
struct snap {
	struct dm_config cfg;
	unsigned int refs;	/* g.cur's and the callbacks' (g.lock) */
};

static struct {
	const char *config_path;
	bool use_stderr, verbose;
	pthread_mutex_t lock;	/* g.cur, refs, checked, reloading */
	struct snap *cur;
	time_t checked;
	bool reloading;		/* one thread checks the files at a time */
	unsigned char seen[SG_STAMP_SIZE];	/* the reloading thread's */
} g = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* ---- configuration ---- */

static struct snap *snap_load(void)
{
	struct snap *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		msg_warn("out of memory");
		return NULL;
	}
	if (dm_config_load(g.config_path, &s->cfg) < 0) {
		free(s);
		return NULL;
	}
	s->refs = 1;
	return s;
}

/* snap_put - done with s */
static void snap_put(struct snap *s)
{
	bool last;

	pthread_mutex_lock(&g.lock);
	last = --s->refs == 0;
	pthread_mutex_unlock(&g.lock);
	if (last) {
		dm_config_free(&s->cfg);
		free(s);
	}
}

/* snap_get - the configuration for one callback (snap_put when done),
   or NULL once the milter is stopping.
   At most every RELOAD_CHECK_SECS one caller looks whether
   smimeguard.conf or a file it names changed, and loads it again if so;
   the others go on meanwhile.  A failed reload is logged once and keeps
   the configuration in use. */
static struct snap *snap_get(void)
{
	unsigned char stamp[SG_STAMP_SIZE];
	struct snap *s, *fresh = NULL, *old = NULL;
	time_t now = time(NULL);
	bool check;

	pthread_mutex_lock(&g.lock);
	check = !g.reloading && now - g.checked >= RELOAD_CHECK_SECS;
	if (check) {
		g.reloading = true;
		g.checked = now;
	}
	pthread_mutex_unlock(&g.lock);
	if (check && dm_config_stamp_now(g.config_path, stamp) == 0 &&
	    memcmp(stamp, g.seen, sizeof(stamp)) != 0) {
		memcpy(g.seen, stamp, sizeof(stamp));	/* warn once */
		if ((fresh = snap_load()) != NULL)
			msg_info("reloaded %s (a file changed on disk)",
				 g.config_path);
	}
	pthread_mutex_lock(&g.lock);
	if (check)
		g.reloading = false;
	if (fresh != NULL && g.cur != NULL) {
		old = g.cur;		/* g.cur's reference moves over */
		g.cur = fresh;
		fresh = NULL;
	}
	s = g.cur;
	if (s != NULL)
		s->refs++;
	pthread_mutex_unlock(&g.lock);
	if (old != NULL)
		snap_put(old);
	if (fresh != NULL)		/* loaded while stopping */
		snap_put(fresh);
	return s;
}

/* ---- message buffering ---- */

static void msg_reset(struct msg *m)
{
	char client[sizeof(m->client)];
	unsigned long nr = m->nr;
	size_t i;

	for (i = 0; i < m->n_rcpts; i++) {
		free(m->rcpts[i].raw);
		free(m->rcpts[i].addr);
		free(m->rcpts[i].mailer);
	}
	free(m->rcpts);
	free(m->sender);
	free(m->auto_submitted);
	sg_verify_free(&m->vs);
	if (m->vs_snap != NULL)
		snap_put(m->vs_snap);
	memcpy(client, m->client, sizeof(client));
	memset(m, 0, sizeof(*m));
	memcpy(m->client, client, sizeof(client));
	m->nr = nr;
}

/* queue_id - Postfix's queue id for log lines */
static const char *queue_id(SMFICTX *ctx)
{
	const char *qid = smfi_getsymval(ctx, (char *)"i");

	return qid != NULL ? qid : "NOQUEUE";
}

/* msg_append - the next bytes of the message, to the core's stream
   (started with the configuration in use at the first bytes) */
static int msg_append(SMFICTX *ctx, struct msg *m, const void *data, size_t len)
{
	struct sg_error err;

	if (m->vs == NULL) {
		if ((m->vs_snap = snap_get()) == NULL)
			return -1;	/* stopping */
		if (sg_verify_init(m->vs_snap->cfg.ctx, 0, &m->vs, &err) < 0) {
			msg_warn("%s: cannot analyse the message: %s",
				 queue_id(ctx), err.msg);
			return -1;
		}
	}
	if (sg_verify_update(m->vs, data, len, &err) < 0) {
		msg_warn("%s: cannot keep the message to analyse it: %s",
			 queue_id(ctx), err.msg);
		return -1;
	}
	return 0;
}

static struct msg *priv(SMFICTX *ctx)
{
	struct msg *m = smfi_getpriv(ctx);

	if (m == NULL) {
		if ((m = calloc(1, sizeof(*m))) == NULL)
			return NULL;
		smfi_setpriv(ctx, m);
	}
	return m;
}

/* unbracket - a copy of an envelope address without its <> (the whole
   address: never truncated); NULL on ENOMEM */
static char *unbracket(const char *src)
{
	size_t len;

	if (src[0] == '<')
		src++;
	len = strlen(src);
	if (len > 0 && src[len - 1] == '>')
		len--;
	return strndup(src, len);
}

/* printable_addr - an address for a log line or a reply text */
static void printable_addr(char *dst, size_t size, const char *src)
{
	pp_printable(dst, size, src);
	if (strlen(src) >= size && size > 4)
		strcpy(dst + size - 4, "...");
}

/* reply_escape - the milter reply text is a format string on the MTA
   side (smfi_setreply(3): a single '%' is dropped, so "<a%b@x>" would
   name the wrong address): double every '%'; stays within libmilter's
   reply length limit (980) */
static void reply_escape(char *dst, size_t size, const char *src)
{
	size_t n = 0;

	for (; *src != '\0' && n + 2 < size; src++) {
		if (*src == '%')
			dst[n++] = '%';
		dst[n++] = *src;
	}
	dst[n] = '\0';
}


/* ---- callbacks ---- */

/* answer - what a callback of a step returns when it goes on: nothing
   when Postfix agreed not to wait for that step (flag, SMFIP_NR_*) */
static sfsistat answer(const struct msg *m, unsigned long flag)
{
	return (m->nr & flag) != 0 ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* Steps Postfix need not wait for: connect, MAIL FROM, each header field
   and each body chunk only record what they get (a failure is kept in
   m->failed and answered at the next answered step: RCPT, DATA, end of
   header or end of message).  Each saves a round trip per SMTP session
   or per header field and body chunk. */
#define NR_WANTED (SMFIP_NR_CONN | SMFIP_NR_MAIL | SMFIP_NR_HDR | \
		   SMFIP_NR_BODY)

/* cb_negotiate - ask Postfix for the macros that say where it routes
   each recipient (they are in its default milter_rcpt_macros too), and
   not to wait for the steps that only record */
static sfsistat cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
			     unsigned long f2, unsigned long f3,
			     unsigned long *pf0, unsigned long *pf1,
			     unsigned long *pf2, unsigned long *pf3)
{
	struct msg *m;

	(void)f2;
	(void)f3;
	*pf0 = f0 & SMFIF_QUARANTINE;
	if ((f0 & SMFIF_SETSYMLIST) != 0 &&
	    smfi_setsymlist(ctx, SMFIM_ENVRCPT,
			    (char *)"{rcpt_addr} {rcpt_host} {rcpt_mailer}") == MI_SUCCESS)
		*pf0 |= SMFIF_SETSYMLIST;
	/* every event we have a callback for; nothing else changed */
	*pf1 = f1 & (SMFIP_NOHELO | SMFIP_NOUNKNOWN);
	/* the connection's state, now, so that every step knows what was
	   agreed; without it no step goes unanswered */
	if ((m = priv(ctx)) != NULL) {
		m->nr = f1 & NR_WANTED;
		*pf1 |= m->nr;
	}
	*pf2 = 0;
	*pf3 = 0;
	return SMFIS_CONTINUE;
}

static sfsistat cb_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	struct msg *m = priv(ctx);

	(void)host;
	if (m == NULL)
		return SMFIS_TEMPFAIL;	/* nothing agreed: answered */
	m->client[0] = '\0';
	if (sa == NULL)
		return answer(m, SMFIP_NR_CONN);
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)sa)->sin_addr,
			  m->client, sizeof(m->client));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)sa)->sin6_addr,
			  m->client, sizeof(m->client));
	return answer(m, SMFIP_NR_CONN);
}

static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
	struct msg *m = priv(ctx);

	if (m == NULL)
		return SMFIS_TEMPFAIL;	/* nothing agreed: answered */
	msg_reset(m);
	if ((m->sender = unbracket(argv[0])) == NULL) {
		msg_warn("%s: out of memory", queue_id(ctx));
		if ((m->nr & SMFIP_NR_MAIL) == 0)
			return SMFIS_TEMPFAIL;
		m->failed = true;	/* RCPT defers */
	}
	return answer(m, SMFIP_NR_MAIL);
}

/* dup_macro - a copy of a macro's value, NULL when Postfix sent none;
   -1 on ENOMEM */
static int dup_macro(SMFICTX *ctx, const char *name, char **value_r)
{
	const char *v = smfi_getsymval(ctx, (char *)name);

	*value_r = NULL;
	if (v == NULL)
		return 0;
	return (*value_r = strdup(v)) == NULL ? -1 : 0;
}

static sfsistat cb_envrcpt(SMFICTX *ctx, char **argv)
{
	struct msg *m = priv(ctx);
	struct rcpt r, *tmp;
	struct sg_policy_envelope env;
	struct sg_policy_decision d;
	struct snap *snap;
	const char *code, *enhanced;
	char text[300], reply[600];
	uint64_t t0 = st_now_us();

	if (m == NULL || m->failed)
		return SMFIS_TEMPFAIL;
	memset(&r, 0, sizeof(r));
	if ((r.raw = unbracket(argv[0])) == NULL ||
	    dup_macro(ctx, "{rcpt_addr}", &r.addr) < 0 ||
	    dup_macro(ctx, "{rcpt_mailer}", &r.mailer) < 0)
		goto nomem;
	if (m->n_rcpts >= MAX_RCPTS) {
		/* refused, never skipped: an unchecked recipient would get the
		   message whatever it holds */
		if (r.mailer != NULL) {
			smfi_setreply(ctx, (char *)"452", (char *)"4.5.3",
				      (char *)"too many recipients for the S/MIME "
				      "policy check; send the rest in another message");
			free(r.raw);
			free(r.addr);
			free(r.mailer);
			return SMFIS_TEMPFAIL;
		}
		/* no {rcpt_mailer}: not smtpd(8) (non_smtpd_milters), where a
		   recipient cannot be refused; the message is, at its end */
		m->too_many = true;
		free(r.raw);
		free(r.addr);
		free(r.mailer);
		return SMFIS_CONTINUE;
	}
	if (r.mailer != NULL) {
		/* smtpd(8): an address the policy cannot route safely is
		   refused now, for this recipient only */
		memset(&env, 0, sizeof(env));
		env.sender = m->sender != NULL ? m->sender : "";
		env.recipient = r.addr != NULL ? r.addr : r.raw;
		env.transport = r.mailer;
		env.client_address = m->client[0] != '\0' ? m->client : NULL;
		if ((snap = snap_get()) == NULL)
			goto stopping;
		sg_policy_decide_envelope(snap->cfg.pol, &env, &d);
		snap_put(snap);
		if (d.temporary) {
			/* a policy map could not answer: this recipient
			   waits; the reason (servers, map files) is logged,
			   not sent */
			smfi_setreply(ctx, "451", "4.3.0",
				      "the S/MIME encryption policy lookup failed "
				      "temporarily; try again later");
			printable_addr(text, sizeof(text), r.raw);
			pp_printable(reply, sizeof(reply), d.why);
			msg_info("%s: to=<%s>: %s: deferred", queue_id(ctx), text,
				 reply);
			st_count(ST_POLICY_ERRORS);
			st_decision(ST_DEFERRED, d.why);
			st_latency(ST_KIND_REQUEST, st_now_us() - t0);
			free(r.raw);
			free(r.addr);
			free(r.mailer);
			return SMFIS_TEMPFAIL;
		}
		if (sg_policy_refusal(&d, &code, &enhanced)) {
			pp_printable(text, sizeof(text), d.why);
			reply_escape(reply, sizeof(reply), text);
			smfi_setreply(ctx, (char *)code, (char *)enhanced, reply);
			printable_addr(text, sizeof(text), r.raw);
			msg_info("%s: to=<%s>: %s: refused", queue_id(ctx), text, d.why);
			st_decision(ST_REFUSED, d.why);
			st_latency(ST_KIND_REQUEST, st_now_us() - t0);
			free(r.raw);
			free(r.addr);
			free(r.mailer);
			return SMFIS_REJECT;
		}
	}
	if ((tmp = realloc(m->rcpts, (m->n_rcpts + 1) * sizeof(*tmp))) == NULL)
		goto nomem;
	m->rcpts = tmp;
	m->rcpts[m->n_rcpts++] = r;
	st_latency(ST_KIND_REQUEST, st_now_us() - t0);
	return SMFIS_CONTINUE;
stopping:
nomem:
	free(r.raw);
	free(r.addr);
	free(r.mailer);
	return SMFIS_TEMPFAIL;
}

/* need_check - does any recipient's rule ask anything of the message?
   Judged as at end of data but without an Auto-Submitted field, which
   can only exempt: when nothing is required here, nothing is there.
   An address the policy refuses, or too many recipients, needs the
   end-of-data check (it refuses the message).  why: the first
   recipient's rule, for the log */
static bool need_check(const struct msg *m, char *why, size_t why_size)
{
	struct sg_policy_envelope env;
	struct sg_policy_decision d;
	const char *code, *enhanced;
	bool need = m->too_many || m->n_rcpts == 0;
	struct snap *snap;
	size_t i;

	why[0] = '\0';
	if ((snap = snap_get()) == NULL)
		return true;	/* stopping: end of data says so */
	for (i = 0; i < m->n_rcpts && !need; i++) {
		const struct rcpt *r = &m->rcpts[i];

		memset(&env, 0, sizeof(env));
		env.sender = m->sender != NULL ? m->sender : "";
		env.recipient = r->addr != NULL ? r->addr : r->raw;
		env.transport = r->mailer;
		env.client_address = m->client[0] != '\0' ? m->client : NULL;
		sg_policy_decide_envelope(snap->cfg.pol, &env, &d);
		if (sg_policy_refusal(&d, &code, &enhanced) || d.requirements != 0)
			need = true;
		else if (i == 0)
			pp_printable(why, why_size, d.why);
	}
	snap_put(snap);
	return need;
}

/* decide_early - accept now, unread, a message no rule asks anything of
   (logged: one line per decision, accepted or refused) */
static sfsistat decide_early(SMFICTX *ctx, struct msg *m)
{
	char sender[300], rcpt[300], why[256];

	if (m->decided)
		return SMFIS_CONTINUE;
	m->decided = true;
	if (need_check(m, why, sizeof(why)))
		return SMFIS_CONTINUE;
	st_count(ST_REQUESTS);
	st_decision(ST_ACCEPTED, why);
	printable_addr(sender, sizeof(sender), m->sender != NULL ? m->sender : "");
	printable_addr(rcpt, sizeof(rcpt), m->rcpts[0].raw);
	if (m->n_rcpts > 1)
		msg_info("%s: from=<%s> to=<%s> (and %zu more): accepted unread: "
			 "no recipient needs a check (%s)", queue_id(ctx), sender,
			 rcpt, m->n_rcpts - 1, why);
	else
		msg_info("%s: from=<%s> to=<%s>: accepted unread: no recipient "
			 "needs a check (%s)", queue_id(ctx), sender, rcpt, why);
	return SMFIS_ACCEPT;
}

static sfsistat cb_data(SMFICTX *ctx)
{
	struct msg *m = priv(ctx);

	if (m == NULL || m->failed)
		return SMFIS_TEMPFAIL;
	return decide_early(ctx, m);
}

/* recorded - a header field or body chunk was kept (ok) or not: what
   its callback returns.  Where Postfix does not wait (flag), a failure
   is answered at the next answered step (end of header, end of
   message); nothing more is kept meanwhile */
static sfsistat recorded(struct msg *m, unsigned long flag, bool ok)
{
	if (!ok) {
		if ((m->nr & flag) == 0)
			return SMFIS_TEMPFAIL;
		m->failed = true;
	}
	return answer(m, flag);
}

static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
	struct msg *m = priv(ctx);
	sfsistat r;

	if (m == NULL)
		return SMFIS_TEMPFAIL;	/* nothing agreed: answered */
	if (m->failed)
		return answer(m, SMFIP_NR_HDR);
	/* no DATA step (not smtpd): judge the envelope now, or at the end
	   of the header where this step is not answered */
	if (!m->decided && (m->nr & SMFIP_NR_HDR) == 0 &&
	    (r = decide_early(ctx, m)) != SMFIS_CONTINUE)
		return r;
	if (strcasecmp(name, "Auto-Submitted") == 0 &&
	    m->n_auto_submitted++ == 0 &&
	    (m->auto_submitted = strdup(value)) == NULL)
		return recorded(m, SMFIP_NR_HDR, false);
	return recorded(m, SMFIP_NR_HDR,
			msg_append(ctx, m, name, strlen(name)) == 0 &&
			msg_append(ctx, m, ":", 1) == 0 &&
			(value[0] == ' ' || value[0] == '\t' ||
			 msg_append(ctx, m, " ", 1) == 0) &&
			msg_append(ctx, m, value, strlen(value)) == 0 &&
			msg_append(ctx, m, "\r\n", 2) == 0);
}

static sfsistat cb_eoh(SMFICTX *ctx)
{
	struct msg *m = priv(ctx);
	sfsistat r;

	if (m == NULL || m->failed)
		return SMFIS_TEMPFAIL;
	if (!m->decided && (r = decide_early(ctx, m)) != SMFIS_CONTINUE)
		return r;
	if (msg_append(ctx, m, "\r\n", 2) < 0)
		return SMFIS_TEMPFAIL;
	m->in_body = true;
	return SMFIS_CONTINUE;
}

static sfsistat cb_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
	struct msg *m = priv(ctx);

	if (m == NULL)
		return SMFIS_TEMPFAIL;	/* nothing agreed: answered */
	if (m->failed)
		return answer(m, SMFIP_NR_BODY);
	return recorded(m, SMFIP_NR_BODY, msg_append(ctx, m, data, len) == 0);
}

struct verdict {
	enum sg_action action;
	bool violation;
	const char *code, *enhanced;	/* an address refused: this reply,
					   whatever the policy action */
	char failed[700];	/* "<a@x>: reason; <b@y>: reason" */
	char reasons[200];	/* the policy reason tokens, for the log */
	char why[256];		/* the first satisfied recipient's rule */
	char lookup_err[256];	/* the first temporary failure, printable */
	bool policy_failed;	/* it was a policy map's, not a certificate's */
	char rule[256];		/* the first violated recipient's rule */
};

static void add_failure(struct verdict *v, enum sg_action action,
			const char *rcpt, const char *violation,
			const char *why)
{
	static const int sev[] = { 3, 2, 1, 0 };
	size_t len = strlen(v->failed), rlen = strlen(v->reasons);
	char addr[300];

	if (!v->violation || sev[action] > sev[v->action])
		v->action = action;
	v->violation = true;
	printable_addr(addr, sizeof(addr), rcpt);
	snprintf(v->failed + len, sizeof(v->failed) - len, "%s<%s>: %s",
		 len > 0 ? "; " : "", addr, why);
	if (violation != NULL && strstr(v->reasons, violation) == NULL)
		snprintf(v->reasons + rlen, sizeof(v->reasons) - rlen, "%s%s",
			 rlen > 0 ? "," : "", violation);
}

/* check_recipient - does the message satisfy r's rule? */
static void check_recipient(const struct snap *snap, struct msg *m,
			    const struct rcpt *r, const struct sg_result *res,
			    struct verdict *v, bool *tempfail)
{
	struct sg_policy_envelope env;
	struct sg_policy_decision d;
	const char *code, *enhanced;
	struct sg_error err;
	char why[400];
	int ret;

	memset(&env, 0, sizeof(env));
	env.sender = m->sender != NULL ? m->sender : "";
	/* where Postfix routes it, when it said so */
	env.recipient = r->addr != NULL ? r->addr : r->raw;
	env.transport = r->mailer;
	env.client_address = m->client[0] != '\0' ? m->client : NULL;
	env.auto_submitted = m->n_auto_submitted == 1 ? m->auto_submitted : NULL;
	ret = sg_policy_check_message(snap->cfg.pol, snap->cfg.ctx, &env, res, 0,
				    &d, why, sizeof(why), &err);
	/* a failed lookup defers the message: counted once, at its end */
	if (d.lookup == SG_POLICY_LOOKUP_FOUND)
		st_count(ST_LOOKUP_HITS);
	else if (d.lookup == SG_POLICY_LOOKUP_NOT_FOUND)
		st_count(ST_LOOKUP_MISSES);
	switch (ret) {
	case 1:
		if (v->why[0] == '\0')
			pp_printable(v->why, sizeof(v->why), d.why);
		break;
	case 0:
		if (v->rule[0] == '\0')
			pp_printable(v->rule, sizeof(v->rule), d.why);
		if (sg_policy_refusal(&d, &code, &enhanced)) {
			v->code = code;
			v->enhanced = enhanced;
			add_failure(v, SG_ACTION_REJECT, r->raw, d.violation, why);
		} else {
			add_failure(v, d.action, r->raw, d.violation, why);
		}
		break;
	default:
		*tempfail = true;
		if (v->lookup_err[0] == '\0') {
			pp_printable(v->lookup_err, sizeof(v->lookup_err), err.msg);
			/* err.msg then says "policy lookup failed: ..." */
			v->policy_failed = d.temporary;
		}
		break;
	}
}

static sfsistat cb_eom(SMFICTX *ctx)
{
	struct msg *m = priv(ctx);
	struct sg_result *res = NULL;
	struct sg_error err;
	struct verdict v;
	const char *qid;
	char sender[300];
	struct snap *snap;
	bool tempfail = false;
	sfsistat ret = SMFIS_CONTINUE;
	uint64_t t0 = st_now_us();
	size_t i;

	if (m == NULL)
		return SMFIS_TEMPFAIL;
	st_count(ST_REQUESTS);
	qid = queue_id(ctx);
	printable_addr(sender, sizeof(sender), m->sender != NULL ? m->sender : "");
	if (m->too_many) {
		smfi_setreply(ctx, (char *)"552", (char *)"5.5.3",
			      (char *)"too many recipients for the S/MIME policy "
			      "check; send the message to fewer at a time");
		msg_info("%s: from=<%s>: more than %d recipients: refused", qid,
			 sender, MAX_RCPTS);
		st_decision(ST_REFUSED, "too many recipients");
		return SMFIS_REJECT;
	}
	memset(&v, 0, sizeof(v));
	if ((snap = snap_get()) == NULL) {
		smfi_setreply(ctx, "451", "4.3.2",
			      "smime-milter is stopping; try again later");
		msg_info("%s: from=<%s>: the milter is stopping: deferred", qid,
			 sender);
		st_decision(ST_DEFERRED, "the milter is stopping");
		return SMFIS_TEMPFAIL;
	}
	if (m->failed) {
		tempfail = true;	/* logged when a step failed */
	} else if (m->vs == NULL && msg_append(ctx, m, "", 0) < 0) {
		tempfail = true;	/* logged */
	} else if (sg_verify_final(m->vs, &res, &err) < 0) {
		msg_warn("%s: cannot analyse the message: %s", qid, err.msg);
		tempfail = true;
	} else {
		for (i = 0; i < m->n_rcpts; i++)
			check_recipient(snap, m, &m->rcpts[i], res, &v,
					&tempfail);
	}
	snap_put(snap);
	if (tempfail && v.lookup_err[0] == '\0') {
		/* the message could not be kept or analysed (logged above) */
		smfi_setreply(ctx, "451", "4.3.0",
			      "the S/MIME check failed temporarily; try again later");
		msg_warn("%s: from=<%s>: the message could not be checked: deferred",
			 qid, sender);
		st_count(ST_ANALYSIS_ERRORS);
		st_decision(ST_DEFERRED, "the message could not be checked");
		ret = SMFIS_TEMPFAIL;
	} else if (tempfail && v.policy_failed) {
		smfi_setreply(ctx, "451", "4.3.0",
			      "the S/MIME encryption policy lookup failed "
			      "temporarily; try again later");
		msg_warn("%s: from=<%s>: %s: deferred", qid, sender, v.lookup_err);
		st_count(ST_POLICY_ERRORS);
		st_decision(ST_DEFERRED, "policy lookup failed");
		ret = SMFIS_TEMPFAIL;
	} else if (tempfail) {
		smfi_setreply(ctx, "451", "4.7.1",
			      "S/MIME certificate lookup failed temporarily; try again later");
		msg_warn("%s: from=<%s>: certificate lookup failed: %s: deferred",
			 qid, sender, v.lookup_err);
		st_count(ST_LOOKUP_ERRORS);
		st_decision(ST_DEFERRED, "certificate lookup failed");
		ret = SMFIS_TEMPFAIL;
	} else if (v.violation) {
		char text[800], reply[900];

		snprintf(text, sizeof(text), "S/MIME policy: %s", v.failed);
		reply_escape(reply, sizeof(reply), text);
		if (v.code != NULL) {
			/* an address that cannot be routed safely */
			smfi_setreply(ctx, (char *)v.code, (char *)v.enhanced, reply);
			ret = SMFIS_REJECT;
			v.action = SG_ACTION_REJECT;
		} else {
			switch (v.action) {
			case SG_ACTION_REJECT:
				smfi_setreply(ctx, (char *)"550", (char *)"5.7.1", reply);
				ret = SMFIS_REJECT;
				break;
			case SG_ACTION_DEFER:
				smfi_setreply(ctx, (char *)"450", (char *)"4.7.1", reply);
				ret = SMFIS_TEMPFAIL;
				break;
			case SG_ACTION_HOLD:
				smfi_quarantine(ctx, text);
				ret = SMFIS_CONTINUE;
				break;
			case SG_ACTION_MONITOR:
				ret = SMFIS_CONTINUE;
				break;
			}
		}
		msg_info("%s: from=<%s> status=%s reason=%s: %s: %s%s", qid, sender,
			 res != NULL ? sg_status_name(sg_result_status(res)) : "?",
			 v.reasons[0] != '\0' ? v.reasons : "?",
			 v.failed, v.action == SG_ACTION_MONITOR ?
			 "monitor only, would " : "",
			 v.action == SG_ACTION_MONITOR ? "reject" :
			 sg_action_name(v.action));
		st_decision(v.action == SG_ACTION_REJECT ? ST_REFUSED :
			    v.action == SG_ACTION_DEFER ? ST_DEFERRED :
			    v.action == SG_ACTION_HOLD ? ST_HELD : ST_MONITORED,
			    v.rule);
	} else {
		/* one line per decision, accepted too (a log shipper or
		   smimectl report counts them) */
		char rcpt[300], more[48] = "";

		printable_addr(rcpt, sizeof(rcpt), m->n_rcpts > 0 ? m->rcpts[0].raw : "");
		if (m->n_rcpts > 1)
			snprintf(more, sizeof(more), " (and %zu more)", m->n_rcpts - 1);
		msg_info("%s: from=<%s> to=<%s>%s status=%s: accepted: policy "
			 "satisfied (%s)", qid, sender, rcpt, more,
			 res != NULL ? sg_status_name(sg_result_status(res)) : "?",
			 v.why[0] != '\0' ? v.why : "no recipient rule");
		st_decision(ST_ACCEPTED, v.why[0] != '\0' ? v.why : "no recipient rule");
	}
	sg_result_free(&res);
	st_latency(ST_KIND_MESSAGE, st_now_us() - t0);
	return ret;
}

static sfsistat cb_abort(SMFICTX *ctx)
{
	struct msg *m = smfi_getpriv(ctx);

	if (m != NULL)
		msg_reset(m);
	return SMFIS_CONTINUE;
}

static sfsistat cb_close(SMFICTX *ctx)
{
	struct msg *m = smfi_getpriv(ctx);

	if (m != NULL) {
		msg_reset(m);
		free(m);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

/* set_thread_stacks - libmilter starts a thread per SMTP session with
   the default attributes, whose stack is RLIMIT_STACK (8 MB): glibc
   keeps only 40 MB of stacks for reuse, so with more than a few
   sessions at once every thread maps and unmaps its stack (and the
   other cores flush their TLBs).  MILTER_STACK lets the cache keep 40
   and is ample for a verification: MIME and CMS nesting are bounded by
   max_mime_depth and max_cms_nesting, and every verification suite
   (hostile, cases, corpora, stream, limits) passes with 256 KB. */
#define MILTER_STACK (1024 * 1024)
static void set_thread_stacks(void)
{
	pthread_attr_t attr;

	if (pthread_attr_init(&attr) != 0)
		return;
	if (pthread_attr_setstacksize(&attr, MILTER_STACK) != 0 ||
	    pthread_setattr_default_np(&attr) != 0)
		msg_warn("cannot set the threads' stack size: the default is kept");
	pthread_attr_destroy(&attr);
}

static void usage(FILE *fp, int status)
{
	fprintf(fp, "usage: smime-milter [-c config] -l unix:/path[:mode[:group]]|inet:port@host "
		"[-u user] [-e] [-v]\n"
		"       smime-milter [-c config] -n\n");
	if (fp == stdout)
		fprintf(fp, "\n"
"Postfix milter: at end of data, refuses mail to external recipients whose\n"
"rule (encryption_policy_maps) requires encryption unless it is encrypted\n"
"to a usable certificate of each of them.\n"
"\n"
"  -c config   smimeguard.conf (default " DEF_CONFIG ")\n"
"  -l socket   unix:/path[:mode[:group]] (mode default 0660) or inet:port@host\n"
"  -u user     drop privileges to user after opening the socket\n"
"  -e          log to standard error instead of syslog (facility mail)\n"
"  -v          verbose logging\n"
"  -n          check the configuration (and the files it names), print\n"
"              warnings such as unknown settings, and exit: 0 valid, 1 not\n"
"  -V          print the version and exit\n"
"  -h, --help  show this help\n"
"\n"
"See smime-milter(8) and smimeguard.conf(5).\n");
	exit(status);
}

int main(int argc, char **argv)
{
	struct smfiDesc desc = {
		.xxfi_name = (char *)"smime-milter",
		.xxfi_version = SMFI_VERSION,
		.xxfi_flags = SMFIF_QUARANTINE | SMFIF_SETSYMLIST,
		.xxfi_connect = cb_connect,
		.xxfi_envfrom = cb_envfrom,
		.xxfi_envrcpt = cb_envrcpt,
		.xxfi_data = cb_data,
		.xxfi_header = cb_header,
		.xxfi_eoh = cb_eoh,
		.xxfi_body = cb_body,
		.xxfi_eom = cb_eom,
		.xxfi_abort = cb_abort,
		.xxfi_close = cb_close,
		.xxfi_negotiate = cb_negotiate,
	};
	const char *conn = NULL, *user = NULL;
	char milter_conn[300];
	struct dm_unix_sock us;
	struct snap *last;
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	bool check_only = false;
	int c;

	g.config_path = DEF_CONFIG;
	while ((c = getopt_long(argc, argv, "c:l:u:evnhV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout, 0);
			break;
		case 'V':
			printf("smime-milter (smimeguard) %s\n", PACKAGE_VERSION);
			return 0;
		case 'n':
			check_only = true;
			break;
		case 'c':
			g.config_path = optarg;
			break;
		case 'l':
			conn = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'e':
			g.use_stderr = true;
			break;
		case 'v':
			g.verbose = true;
			break;
		default:
			usage(stderr, 2);
		}
	}
	if (check_only && optind == argc)
		return dm_check_config("smime-milter", g.config_path);
	if (conn == NULL || optind != argc)
		usage(stderr, 2);
	dm_log_init("smime-milter", g.use_stderr);
	st_init("smime-milter");
	if (sg_init() < 0)
		msg_fatal("cannot initialise the crypto libraries");
	if ((g.cur = snap_load()) == NULL)
		msg_fatal("cannot start without a valid configuration");
	memcpy(g.seen, g.cur->cfg.stamp, sizeof(g.seen));
	g.checked = time(NULL);
	if (strncmp(conn, "unix:", 5) == 0) {
		/* libmilter gets "unix:/path"; mode and group are ours */
		dm_unix_parse(conn + 5, &us);
		snprintf(milter_conn, sizeof(milter_conn), "unix:%s", us.path);
		(void)unlink(us.path);
	} else {
		snprintf(milter_conn, sizeof(milter_conn), "%s", conn);
	}
	if (smfi_setconn(milter_conn) == MI_FAILURE ||
	    smfi_register(desc) == MI_FAILURE ||
	    smfi_opensocket(true) == MI_FAILURE)
		msg_fatal("cannot open the milter socket %s", conn);
	if (strncmp(conn, "unix:", 5) == 0)
		dm_unix_perms(&us);
	dm_status_listen(g.cur->cfg.conf, "milter_status_socket");
	if (user != NULL)
		dm_drop_privileges(user);
	set_thread_stacks();
	msg_info("ready on %s", conn);
	c = smfi_main();
	/* libmilter does not wait for the sessions still open: from now on
	   they get no configuration (and tempfail), the last one out frees
	   it */
	pthread_mutex_lock(&g.lock);
	last = g.cur;
	g.cur = NULL;
	pthread_mutex_unlock(&g.lock);
	snap_put(last);
	st_unlink();
	msg_info("stopped");
	return c == MI_SUCCESS ? 0 : 1;
}
