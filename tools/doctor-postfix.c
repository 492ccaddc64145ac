/* doctor-postfix.c - smimectl doctor: the Postfix settings the outbound
 * policy depends on, read with postconf(1)
 *
 * smime-policyd and smime-milter judge what Postfix shows them; these
 * settings decide whether that is every message that leaves, and how
 * Postfix routes the addresses they judge (DESIGN.md section 4):
 *
 *   postfix-percent-hack, postfix-bang-path, postfix-dequoted-address
 *       allow_percent_hack, swap_bangpath or resolve_dequoted_address is
 *       yes: "user%domain@example.org" and its kin are mail to "domain"
 *   postfix-no-milter       no smtpd(8) runs a milter (smtpd_milters)
 *   postfix-non-smtpd-milters
 *                           non_smtpd_milters is empty: sendmail(1)/pickup
 *                           mail is not checked
 *   postfix-milter-accept   milter_default_action = accept (main.cf or a
 *                           service that runs milters): mail passes
 *                           unchecked while the milter is down
 *   postfix-milter-macros   milter_rcpt_macros lacks {rcpt_addr} or
 *                           {rcpt_mailer}
 *   postfix-no-after-queue-check
 *                           default_transport does not lead to a loopback
 *                           smtpd that runs a milter: what aliases expand,
 *                           and bounces, leave unchecked
 *   postfix-bounce-filter   internal_mail_filter_classes has "bounce" with
 *                           non_smtpd_milters: a bounce the milter refuses
 *                           stays in the queue
 *
 * pf_analyze() is pure (postconf's output in, findings out);
 * ctl_postfix_check() runs postconf.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "smimeguard-admin.h"
#include "smimectl.h"

#define MAX_OUTPUT (4 * 1024 * 1024)

/* the main.cf parameters we look at (postconf -x NAME...) */
static const char *const params[] = {
	"allow_percent_hack", "swap_bangpath", "resolve_dequoted_address",
	"smtpd_milters", "non_smtpd_milters", "milter_default_action",
	"milter_rcpt_macros", "default_transport", "internal_mail_filter_classes",
};

/* value - the value of "name = value" in postconf output, into buf ("" when
   absent); for -P output name is "service/type/parameter" */
static const char *value(const char *text, const char *name, char *buf,
			 size_t size)
{
	size_t nlen = strlen(name);
	const char *p = text;

	buf[0] = '\0';
	while (p != NULL && *p != '\0') {
		const char *eol = strchr(p, '\n');
		size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);

		if (len > nlen + 2 && strncmp(p, name, nlen) == 0 &&
		    strncmp(p + nlen, " =", 2) == 0) {
			const char *v = p + nlen + 2;
			size_t vlen = len - nlen - 2;

			while (vlen > 0 && (*v == ' ' || *v == '\t'))
				v++, vlen--;
			snprintf(buf, size, "%.*s", (int)vlen, v);
			return buf;
		}
		p = eol != NULL ? eol + 1 : NULL;
	}
	return buf;
}

/* has_word - does a list (comma/space separated) hold word? */
static bool has_word(const char *list, const char *word)
{
	size_t wlen = strlen(word);
	const char *p = list;

	while (*p != '\0') {
		size_t len;

		p += strspn(p, ", \t");
		len = strcspn(p, ", \t");
		if (len == wlen && strncmp(p, word, len) == 0)
			return true;
		p += len;
	}
	return false;
}

/* blank - empty or only white space */
static bool blank(const char *s)
{
	return s[strspn(s, " \t")] == '\0';
}

/* service_param - walk "SERVICE/TYPE/PARAM = value" lines of -P output:
   call fn for each line whose PARAM is param */
static void service_params(const char *ptext, const char *param,
			   void (*fn)(const char *service, const char *type,
				      const char *value, void *ctx),
			   void *ctx)
{
	const char *p = ptext;
	size_t plen = strlen(param);

	while (p != NULL && *p != '\0') {
		const char *eol = strchr(p, '\n');
		size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);
		const char *s1 = memchr(p, '/', len), *s2, *eq;
		char service[256], type[32], val[1024];

		if (s1 != NULL && (s2 = memchr(s1 + 1, '/', len - (size_t)(s1 + 1 - p))) != NULL &&
		    (eq = strstr(s2, " = ")) != NULL && eq < p + len &&
		    (size_t)(eq - (s2 + 1)) == plen && strncmp(s2 + 1, param, plen) == 0) {
			snprintf(service, sizeof(service), "%.*s", (int)(s1 - p), p);
			snprintf(type, sizeof(type), "%.*s", (int)(s2 - s1 - 1), s1 + 1);
			snprintf(val, sizeof(val), "%.*s", (int)(p + len - eq - 3), eq + 3);
			fn(service, type, val, ctx);
		}
		p = eol != NULL ? eol + 1 : NULL;
	}
}

struct milter_scan {
	bool any;			/* some smtpd service runs milters */
	char accept_in[256];		/* a service with milters that accepts */
	const char *ptext;
};

static void scan_milters(const char *service, const char *type,
			 const char *val, void *ctx)
{
	struct milter_scan *ms = ctx;
	char name[400], action[64];

	if (blank(val))
		return;
	ms->any = true;
	snprintf(name, sizeof(name), "%s/%s/milter_default_action", service, type);
	value(ms->ptext, name, action, sizeof(action));
	if (strcmp(action, "accept") == 0 && ms->accept_in[0] == '\0')
		snprintf(ms->accept_in, sizeof(ms->accept_in), "%s", service);
}

struct check_scan {
	const char *port;		/* of default_transport's next hop */
	bool found;			/* an inet smtpd there runs milters */
	bool filtered;			/* ... and hands mail on (content_filter) */
	const char *ptext;
};

/* port_of - the port of a master.cf inet service name ("127.0.0.1:10026",
   "[::1]:10026", "10026"), if it listens on loopback or everywhere */
static const char *port_of(const char *service)
{
	const char *colon = strrchr(service, ':');

	if (colon == NULL)
		return service;
	if (strncmp(service, "127.", 4) == 0 || strncmp(service, "[::1]", 5) == 0 ||
	    strncmp(service, "localhost:", 10) == 0)
		return colon + 1;
	return NULL;
}

static void scan_check(const char *service, const char *type, const char *val,
		       void *ctx)
{
	struct check_scan *cs = ctx;
	const char *port;
	char name[400], filter[256];

	if (strcmp(type, "inet") != 0 || blank(val) ||
	    (port = port_of(service)) == NULL || strcmp(port, cs->port) != 0)
		return;
	cs->found = true;
	snprintf(name, sizeof(name), "%s/%s/content_filter", service, type);
	if (!blank(value(cs->ptext, name, filter, sizeof(filter))))
		cs->filtered = true;
}

/* loopback_port - the port of a "[127.0.0.1]:PORT" / "[::1]:PORT" /
   "127.0.0.1:PORT" next hop, into buf; NULL when it is none of those */
static const char *loopback_port(const char *nexthop, char *buf, size_t size)
{
	const char *colon;

	if (strncmp(nexthop, "[127.", 5) != 0 && strncmp(nexthop, "[::1]", 5) != 0 &&
	    strncmp(nexthop, "127.", 4) != 0 && strncmp(nexthop, "[localhost]", 11) != 0)
		return NULL;
	if ((colon = strrchr(nexthop, ':')) == NULL || colon[1] == '\0' ||
	    (nexthop[0] == '[' && colon < strchr(nexthop, ']')))
		return NULL;
	snprintf(buf, size, "%s", colon + 1);
	return buf;
}

int pf_analyze(const char *main_text, const char *ptext,
	       void (*report)(const struct sg_finding *f, void *context),
	       void *context)
{
	static const struct {
		const char *param, *code, *example;
	} routing[] = {
		{ "allow_percent_hack", "postfix-percent-hack",
		  "\"user%partner.example@example.org\"" },
		{ "swap_bangpath", "postfix-bang-path",
		  "\"partner.example!user@example.org\"" },
		{ "resolve_dequoted_address", "postfix-dequoted-address",
		  "'\"user@partner.example\"@example.org'" },
	};
	struct sg_finding f;
	struct milter_scan ms;
	char v[1024], text[1600], fix[600], about[300];
	int n = 0;
	size_t i;

	memset(&f, 0, sizeof(f));
	f.address = "";
#define FIND(c, a, t, x) \
	do { f.code = (c); f.about = (a); f.text = (t); f.fix = (x); \
	     report(&f, context); n++; } while (0)
	for (i = 0; i < sizeof(routing) / sizeof(routing[0]); i++) {
		if (strcmp(value(main_text, routing[i].param, v, sizeof(v)), "yes") != 0)
			continue;
		snprintf(text, sizeof(text),
			 "%s = yes: Postfix delivers %s to partner.example; the policy "
			 "service and the milter route it the same way, but nothing needs it",
			 routing[i].param, routing[i].example);
		snprintf(fix, sizeof(fix), "postconf -e %s=no; postfix reload",
			 routing[i].param);
		FIND(routing[i].code, routing[i].param, text, fix);
	}
	/* the milter at submission */
	memset(&ms, 0, sizeof(ms));
	ms.ptext = ptext;
	ms.any = !blank(value(main_text, "smtpd_milters", v, sizeof(v)));
	service_params(ptext, "smtpd_milters", scan_milters, &ms);
	if (!ms.any)
		FIND("postfix-no-milter", "smtpd_milters",
		     "no smtpd(8) service runs a milter (smtpd_milters): the content "
		     "of outgoing mail is not checked at all",
		     "add -o smtpd_milters=unix:smimeguard/milter.sock to the "
		     "submission service (conf.d/postfix-master.cf.example)");
	if (blank(value(main_text, "non_smtpd_milters", v, sizeof(v))))
		FIND("postfix-non-smtpd-milters", "non_smtpd_milters",
		     "non_smtpd_milters is empty: mail from sendmail(1) (local programs, "
		     "web applications, Sieve vacation replies) leaves unchecked",
		     "postconf -e non_smtpd_milters=unix:smimeguard/milter.sock "
		     "milter_default_action=tempfail; postfix reload");
	if (strcmp(value(main_text, "milter_default_action", v, sizeof(v)), "accept") == 0)
		FIND("postfix-milter-accept", "milter_default_action",
		     "milter_default_action = accept: while the milter is down, mail "
		     "leaves unchecked",
		     "postconf -e milter_default_action=tempfail; postfix reload");
	if (ms.accept_in[0] != '\0') {
		snprintf(text, sizeof(text),
			 "the %s service runs milters with milter_default_action = "
			 "accept: while the milter is down, mail leaves unchecked",
			 ms.accept_in);
		snprintf(about, sizeof(about), "%s", ms.accept_in);
		FIND("postfix-milter-accept", about, text,
		     "set -o milter_default_action=tempfail in master.cf; postfix reload");
	}
	value(main_text, "milter_rcpt_macros", v, sizeof(v));
	if (!has_word(v, "{rcpt_addr}") || !has_word(v, "{rcpt_mailer}"))
		FIND("postfix-milter-macros", "milter_rcpt_macros",
		     "milter_rcpt_macros lacks {rcpt_addr} or {rcpt_mailer}: unless "
		     "Postfix honours the milter's own request for them, recipients "
		     "are judged by their address only",
		     "postconf -e 'milter_rcpt_macros=i {rcpt_addr} {rcpt_host} "
		     "{rcpt_mailer}'; postfix reload");
	/* the after-queue check */
	{
		struct check_scan cs;
		char nexthop[256], port[32];
		const char *colon;

		memset(&cs, 0, sizeof(cs));
		cs.ptext = ptext;
		value(main_text, "default_transport", v, sizeof(v));
		colon = strchr(v, ':');
		snprintf(nexthop, sizeof(nexthop), "%s", colon != NULL ? colon + 1 : "");
		if ((cs.port = loopback_port(nexthop, port, sizeof(port))) != NULL)
			service_params(ptext, "smtpd_milters", scan_check, &cs);
		if (!cs.found || !cs.filtered) {
			snprintf(text, sizeof(text),
				 "default_transport = %.200s does not lead to an after-queue "
				 "check (a loopback smtpd that runs the milter and hands mail "
				 "on with content_filter): recipients that aliases, virtual "
				 "aliases or .forward files expand after submission, and "
				 "bounces, leave without the milter seeing them", v);
			FIND("postfix-no-after-queue-check", "default_transport", text,
			     "route other domains through a second smtpd that runs the "
			     "milter (sgcheck in conf.d/postfix-main.cf.example and "
			     "postfix-master.cf.example)");
		}
	}
	if (has_word(value(main_text, "internal_mail_filter_classes", v, sizeof(v)),
		     "bounce") &&
	    !blank(value(main_text, "non_smtpd_milters", about, sizeof(about))))
		FIND("postfix-bounce-filter", "internal_mail_filter_classes",
		     "internal_mail_filter_classes includes bounce: a bounce the "
		     "milter refuses cannot be sent and keeps its message in the queue",
		     "postconf -e internal_mail_filter_classes=; let bounces leave "
		     "through the after-queue check instead");
#undef FIND
	return n;
}

/* find_postconf - postconf(1) in PATH or the usual places, or NULL */
static const char *find_postconf(char *buf, size_t size)
{
	static const char *const fixed[] = { "/usr/sbin/postconf",
		"/usr/local/sbin/postconf", "/sbin/postconf" };
	const char *path = getenv("PATH");
	size_t i;

	while (path != NULL && *path != '\0') {
		size_t len = strcspn(path, ":");

		if (len > 0 && (size_t)snprintf(buf, size, "%.*s/postconf", (int)len,
						path) < size &&
		    access(buf, X_OK) == 0)
			return buf;
		path += len;
		if (*path == ':')
			path++;
	}
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (access(fixed[i], X_OK) == 0) {
			snprintf(buf, size, "%s", fixed[i]);
			return buf;
		}
	}
	return NULL;
}

/* capture - run argv, its standard output into a malloc'd string; NULL
   with err filled (its standard error) when it fails */
static char *capture(char *const argv[], char *err, size_t err_size)
{
	int out[2], errp[2], status;
	char *buf = NULL, ebuf[512];
	size_t used = 0, size = 0, eused = 0;
	pid_t pid;

	err[0] = '\0';
	if (pipe(out) < 0 || pipe(errp) < 0) {
		snprintf(err, err_size, "pipe: %s", strerror(errno));
		return NULL;
	}
	fflush(stdout);
	if ((pid = fork()) < 0) {
		snprintf(err, err_size, "fork: %s", strerror(errno));
		return NULL;
	}
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(errp[1], 2);
		close(out[0]);
		close(errp[0]);
		execv(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(out[1]);
	close(errp[1]);
	for (;;) {
		ssize_t r;

		if (used + 4096 + 1 > size) {
			char *nb;

			if (size >= MAX_OUTPUT || (nb = realloc(buf, size + 65536)) == NULL)
				break;
			buf = nb;
			size += 65536;
		}
		if ((r = read(out[0], buf + used, size - used - 1)) <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			break;
		}
		used += (size_t)r;
	}
	for (;;) {
		ssize_t r = read(errp[0], ebuf + eused, sizeof(ebuf) - 1 - eused);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		eused += (size_t)r;
		if (eused == sizeof(ebuf) - 1)
			break;
	}
	ebuf[eused] = '\0';
	close(out[0]);
	close(errp[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || buf == NULL) {
		ebuf[strcspn(ebuf, "\n")] = '\0';
		snprintf(err, err_size, "%s failed%s%s", argv[0],
			 ebuf[0] != '\0' ? ": " : "", ebuf);
		free(buf);
		return NULL;
	}
	buf[used] = '\0';
	return buf;
}

int ctl_postfix_check(const char *config_dir,
		      void (*report)(const struct sg_finding *f, void *context),
		      void *context, char *err, size_t err_size)
{
	char postconf[4096];
	char *argv[32], *main_text = NULL, *ptext = NULL;
	size_t i, n = 0;
	int ret = -1;

	if (find_postconf(postconf, sizeof(postconf)) == NULL) {
		if (config_dir == NULL)
			return 0;	/* no Postfix here: nothing to check */
		snprintf(err, err_size, "postconf(1) not found");
		return -1;
	}
	argv[n++] = postconf;
	if (config_dir != NULL) {
		argv[n++] = (char *)"-c";
		argv[n++] = (char *)config_dir;
	}
	argv[n++] = (char *)"-x";
	for (i = 0; i < sizeof(params) / sizeof(params[0]); i++)
		argv[n++] = (char *)params[i];
	argv[n] = NULL;
	if ((main_text = capture(argv, err, err_size)) == NULL) {
		/* Postfix's own configuration, and there is none: not a
		   Postfix host, nothing to check */
		if (config_dir == NULL)
			ret = -2;
		goto out;
	}
	n = config_dir != NULL ? 3 : 1;
	argv[n++] = (char *)"-P";
	argv[n++] = (char *)"-x";
	argv[n] = NULL;
	if ((ptext = capture(argv, err, err_size)) == NULL)
		goto out;
	ret = pf_analyze(main_text, ptext, report, context);
out:
	free(main_text);
	free(ptext);
	return ret;
}
