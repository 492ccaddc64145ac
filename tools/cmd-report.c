/* cmd-report.c - smimectl report: the compliance questions, from the logs
 *
 * Reads mail logs (plain files and rotated .gz, syslog or Dovecot's and
 * Postfix's own log files) and/or the output of "doveadm smime status",
 * and answers: how much signed mail arrived, how much of it verified,
 * failed, or stayed inconclusive and why; who the failing signers (and,
 * when the log lines name them, CAs) are; what the outbound policy
 * decided, by rule, and which recipient domains mail was refused for;
 * which certificates of the trust store and the maps expire soon.
 * Output: a text table, --json, and --html FILE (one self-contained page
 * with inline SVG charts: no script, no network).
 *
 * The log lines are those of the Dovecot plugin ("smime: WHAT: status=S
 * signer=A reasons=R: detail"), of smime-policyd and of smime-milter
 * ("name[pid]: QUEUEID: from=<s> to=<r> ...").  The parser reads
 * key=value tokens wherever they stand, so fields added to these lines
 * (msgid=, mailbox=, rule=, issuer=, duration=) do not break it, and a
 * line it does not understand is counted, never fatal.  Every string
 * taken from a log is untrusted: it is cleaned (control characters, C1,
 * bidi overrides, invalid UTF-8) before it reaches a terminal, JSON or
 * HTML, and HTML-escaped there.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "smimeguard-admin.h"
#include "smimectl.h"

#define LINE_MAX_LEN 16384	/* longer lines: the rest is skipped */
#define MAX_RCPTS 64		/* recipients taken from one line */
#define DEFAULT_LOGS "/var/log/mail.log*"

/* ---- memory: a command-line tool gives up on out of memory ---- */

static void *xmalloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);

	if (p == NULL) {
		fprintf(stderr, "%s: out of memory\n", progname);
		exit(EXIT_USAGE);
	}
	return p;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);

	if (p == NULL) {
		fprintf(stderr, "%s: out of memory\n", progname);
		exit(EXIT_USAGE);
	}
	return p;
}

static void *xrealloc(void *old, size_t n)
{
	void *p = realloc(old, n == 0 ? 1 : n);

	if (p == NULL) {
		fprintf(stderr, "%s: out of memory\n", progname);
		exit(EXIT_USAGE);
	}
	return p;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

/* ---- untrusted text ---- */

/* clean - copy src (at most srclen bytes) into dst as printable UTF-8:
   control characters (C0, DEL, C1), bidi overrides and isolates and
   invalid UTF-8 become '?'; cut at a character boundary */
static void clean(char *dst, size_t size, const char *src, size_t srclen)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0;

	while (i < srclen && s[i] != '\0' && o + 1 < size) {
		unsigned int c = s[i], cp, n, k;

		if (c < 0x80) {
			dst[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
			i++;
			continue;
		}
		n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
		if (n == 0 || i + n > srclen) {
			dst[o++] = '?';
			i++;
			continue;
		}
		cp = c & (n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07);
		for (k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				break;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (k < n || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
		    (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e || cp == 0x200f ||
		    cp == 0x061c) {
			dst[o++] = '?';
			i += k < n ? 1 : n;
			continue;
		}
		if (o + n >= size)
			break;
		memcpy(dst + o, s + i, n);
		o += n;
		i += n;
	}
	dst[o] = '\0';
}

/* ---- a string-keyed table of counters ---- */

#define NV 8
struct kv {
	char *key;
	uint64_t n[NV];
	uint32_t bits;
};

struct kvmap {
	struct kv *slots;
	size_t size, used;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* kv_get - the counters of key, created at zero when missing */
static struct kv *kv_get(struct kvmap *m, const char *key)
{
	size_t i;

	if (m->used * 2 >= m->size) {
		struct kvmap nm = { NULL, m->size == 0 ? 64 : m->size * 2, 0 };

		nm.slots = xcalloc(nm.size, sizeof(*nm.slots));
		for (i = 0; i < m->size; i++) {
			size_t j;

			if (m->slots[i].key == NULL)
				continue;
			for (j = hash_str(m->slots[i].key) & (nm.size - 1);
			     nm.slots[j].key != NULL; j = (j + 1) & (nm.size - 1))
				;
			nm.slots[j] = m->slots[i];
			nm.used++;
		}
		free(m->slots);
		*m = nm;
	}
	for (i = hash_str(key) & (m->size - 1); m->slots[i].key != NULL;
	     i = (i + 1) & (m->size - 1)) {
		if (strcmp(m->slots[i].key, key) == 0)
			return &m->slots[i];
	}
	m->slots[i].key = xstrdup(key);
	m->used++;
	return &m->slots[i];
}

/* kv_lookup - the counters of key, or NULL */
static const struct kv *kv_lookup(const struct kvmap *m, const char *key)
{
	size_t i;

	if (m->size == 0)
		return NULL;
	for (i = hash_str(key) & (m->size - 1); m->slots[i].key != NULL;
	     i = (i + 1) & (m->size - 1)) {
		if (strcmp(m->slots[i].key, key) == 0)
			return &m->slots[i];
	}
	return NULL;
}

static void kv_free(struct kvmap *m)
{
	size_t i;

	for (i = 0; i < m->size; i++)
		free(m->slots[i].key);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

/* sorting: by a weighted sum of counters, then by key */
static const uint64_t *sort_weights;

static uint64_t kv_weight(const struct kv *e)
{
	uint64_t w = 0;
	size_t i;

	for (i = 0; i < NV; i++)
		w += sort_weights[i] * e->n[i];
	return w;
}

static int cmp_kv_weight(const void *a, const void *b)
{
	const struct kv *x = *(const struct kv *const *)a;
	const struct kv *y = *(const struct kv *const *)b;
	uint64_t wx = kv_weight(x), wy = kv_weight(y);

	if (wx != wy)
		return wx > wy ? -1 : 1;
	return strcmp(x->key, y->key);
}

static int cmp_kv_key(const void *a, const void *b)
{
	return strcmp((*(const struct kv *const *)a)->key,
		      (*(const struct kv *const *)b)->key);
}

/* kv_sorted - the entries of m (weight > 0 when weights given) as an
   array sorted by weight (or by key when weights is NULL) */
static struct kv **kv_sorted(const struct kvmap *m, const uint64_t *weights,
			     size_t *n_r)
{
	struct kv **v = xcalloc(m->used, sizeof(*v));
	size_t i, n = 0;

	sort_weights = weights;
	for (i = 0; i < m->size; i++) {
		if (m->slots[i].key == NULL)
			continue;
		if (weights != NULL && kv_weight(&m->slots[i]) == 0)
			continue;
		v[n++] = &m->slots[i];
	}
	qsort(v, n, sizeof(*v), weights != NULL ? cmp_kv_weight : cmp_kv_key);
	*n_r = n;
	return v;
}

/* ---- what is counted ---- */

/* how a verdict was reached: delivery (LMTP/LDA), IMAP APPEND, other
   (copy, move, sync, reverify) */
enum { EV_DELIVERY, EV_APPEND, EV_OTHER, EV_N };
static const char *const ev_names[EV_N] = { "delivery", "append", "other" };

/* verdict categories (colours, daily chart) */
enum { CAT_VERIFIED, CAT_FAILED, CAT_SIGNED, CAT_ENCRYPTED, CAT_NONE, CAT_N };
static const char *const cat_names[CAT_N] = {
	"verified", "failed", "inconclusive", "encrypted", "unsigned"
};
static const char *const cat_colours[CAT_N] = {
	"#2e7d32", "#c62828", "#f9a825", "#1565c0", "#9e9e9e"
};

/* outbound outcomes */
enum {
	OUT_ACCEPT, OUT_REJECT, OUT_DEFER, OUT_HOLD, OUT_MONITOR, OUT_EXEMPT,
	OUT_OTHER, OUT_N
};
static const char *const out_names[OUT_N] = {
	"accepted", "rejected", "deferred", "held", "monitored", "exempt", "other"
};
static const char *const out_colours[OUT_N] = {
	"#2e7d32", "#c62828", "#ef6c00", "#6a1b9a", "#f9a825", "#78909c", "#bdbdbd"
};
/* a refusal, or what would have been one (monitor) */
static const uint64_t w_refused[NV] = { 0, 1, 1, 1, 1, 0, 0, 0 };
static const uint64_t w_all[NV] = { 1, 1, 1, 1, 1, 1, 1, 1 };
static const uint64_t w_first[NV] = { 1, 0, 0, 0, 0, 0, 0, 0 };

/* where the outbound decision was taken */
enum { STAGE_RCPT, STAGE_DATA, STAGE_N };
static const char *const stage_names[STAGE_N] = { "rcpt", "end-of-data" };
static const char *const stage_text[STAGE_N] = {
	"at RCPT (smime-policyd)", "at end of data (smime-milter)"
};

struct source {
	char *name;		/* cleaned, for output */
	bool status;		/* doveadm smime status output, not a log */
	uint64_t lines, inbound, outbound, status_rows, errors;
	uint64_t undated, out_of_range, unparsed, truncated;
};

struct certrow {
	char *setting, *location, *subject, *issuer, *serial, *emails;
	time_t not_after;
	bool ca;
};

struct report {
	/* options */
	time_t since, until, now;
	bool have_since, have_until;
	unsigned int top;
	unsigned int expiry_days;
	int progress;		/* 0 none, 1 on a terminal, 2 --progress */
	struct sg_policy *pol;	/* rules of lines that name none */
	/* sources */
	struct source *src;
	size_t n_src;
	/* inbound: the Dovecot plugin's verdicts */
	uint64_t in_total, in_errors;
	uint64_t in_cat[CAT_N];
	struct kvmap in_status;		/* status -> n[EV] */
	struct kvmap in_reasons;	/* reason -> n[CAT] */
	struct kvmap in_signers;	/* failing signer -> n[0]; bits reasons */
	struct kvmap in_cas;		/* failing signer's CA -> n[0] */
	struct kvmap in_days;		/* day -> n[CAT] */
	/* outbound: smime-policyd and smime-milter */
	uint64_t out_total;
	uint64_t out_stage[STAGE_N][OUT_N];
	uint64_t out_rule_derived;
	struct kvmap out_rules;		/* rule -> n[OUT]; bits 1: derived */
	struct kvmap out_domains;	/* recipient domain -> n[OUT] */
	struct kvmap out_senders;	/* sender -> n[OUT] */
	struct kvmap out_days;		/* day -> n[OUT] */
	/* stored mail: doveadm smime status */
	bool have_status;
	uint64_t mb_total, mb_changed;
	uint64_t mb_cat[CAT_N];
	struct kvmap mb_status;		/* status -> n[0] now, n[1] at delivery */
	struct kvmap mb_changes;	/* "a -> b" -> n[0] */
	struct kvmap mb_reasons;	/* reason -> n[CAT] */
	struct kvmap mb_signers;	/* failing signer -> n[0]; bits */
	struct kvmap mb_cas;
	struct kvmap mb_users;		/* user -> n[CAT] */
	/* certificates */
	bool have_certs;
	int certs_checked;
	size_t certs_skipped;
	struct certrow *certs;
	size_t n_certs, size_certs;
	struct kvmap cert_seen;		/* fingerprints */
};

/* ---- small parsers ---- */

/* at_token - is p (inside base) at the start of a token?  (Only a
   blank or "(" before it: "signer=CN=x,reasons=-" holds no reasons
   field) */
static bool at_token(const char *base, const char *p)
{
	return p == base || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '(';
}

/*
 * kv_find - the value of the first "key=value" token of s (in order of
 * appearance, so a value that itself contains "key=" cannot shadow an
 * earlier field): "quoted \" value", <angle value> (without the
 * brackets), or a run of non-blanks with trailing ':' ',' ';' ')' cut.
 * Return true and the cleaned value in out.
 */
static bool kv_find(const char *s, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);
	const char *p = s;

	while ((p = strstr(p, key)) != NULL) {
		const char *v, *e;

		if (!at_token(s, p) || p[klen] != '=') {
			p += klen;
			continue;
		}
		v = p + klen + 1;
		if (*v == '"') {
			char tmp[1024];
			size_t n = 0;

			for (v++; *v != '\0' && *v != '"' && n + 1 < sizeof(tmp); v++) {
				if (*v == '\\' && v[1] != '\0')
					v++;
				tmp[n++] = *v;
			}
			clean(out, size, tmp, n);
			return true;
		}
		if (*v == '<') {
			e = strchr(v + 1, '>');
			if (e == NULL)
				e = v + 1 + strcspn(v + 1, " \t");
			clean(out, size, v + 1, (size_t)(e - v - 1));
			return true;
		}
		e = v + strcspn(v, " \t");
		while (e > v && strchr(":,;)", e[-1]) != NULL)
			e--;
		clean(out, size, v, (size_t)(e - v));
		return true;
	}
	return false;
}

/* lower - ASCII lower case in place */
static void lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* is_token - letters, digits and -+/_. only (status and reason names) */
static bool is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && strchr("-+/_.", *s) == NULL)
			return false;
	}
	return true;
}

/* category of a status name */
static int status_cat(const char *st)
{
	size_t n = strlen(st);

	if (n >= 9 && strcmp(st + n - 9, "/verified") == 0)
		return CAT_VERIFIED;
	if (n >= 7 && strcmp(st + n - 7, "/failed") == 0)
		return CAT_FAILED;
	if (strcmp(st, "encrypted") == 0)
		return CAT_ENCRYPTED;
	if (strcmp(st, "none") == 0)
		return CAT_NONE;
	return CAT_SIGNED;	/* "signed" and anything new but signed */
}

/* ---- times ---- */

static const char *const months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
	"Nov", "Dec"
};

static int digits(const char *p, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* local_time - mktime with a one-day cache (mktime is slow) */
static time_t local_time(int y, int mo, int d, int h, int mi, int s)
{
	static int cy = -1, cmo, cd;
	static time_t day;

	if (y != cy || mo != cmo || d != cd) {
		struct tm tm;

		memset(&tm, 0, sizeof(tm));
		tm.tm_year = y - 1900;
		tm.tm_mon = mo;
		tm.tm_mday = d;
		tm.tm_hour = 12;	/* noon: away from DST changes */
		tm.tm_isdst = -1;
		day = mktime(&tm) - 12 * 3600;
		cy = y;
		cmo = mo;
		cd = d;
	}
	return day + h * 3600 + mi * 60 + s;
}

/*
 * line_time - the time stamp at the start of a log line:
 *   2026-12-03T07:17:41(.123456)(Z|+01:00)   RFC 3339 (rsyslog, journal)
 *   2026-12-03 07:17:41                       Dovecot log_timestamp
 *   Dec  3 07:17:41 / Dec 03 07:17:41         syslog, Postfix, Dovecot
 * The last has no year: the year of ref (the file's modification time),
 * or the year before when that would lie more than two days after ref.
 * Return true and *t_r, or false (no time stamp).
 */
static bool line_time(const char *p, time_t ref, time_t *t_r)
{
	int y, mo, d, h, mi, s, i;

	if ((y = digits(p, 4)) >= 1970 && p[4] == '-' &&
	    (mo = digits(p + 5, 2)) >= 1 && mo <= 12 && p[7] == '-' &&
	    (d = digits(p + 8, 2)) >= 1 && d <= 31 &&
	    (p[10] == 'T' || p[10] == ' ') && (h = digits(p + 11, 2)) >= 0 &&
	    p[13] == ':' && (mi = digits(p + 14, 2)) >= 0 && p[16] == ':' &&
	    (s = digits(p + 17, 2)) >= 0) {
		const char *z = p + 19;
		struct tm tm;

		if (*z == '.' || *z == ',') {
			z++;
			while (isdigit((unsigned char)*z))
				z++;
		}
		if (*z == 'Z' || ((*z == '+' || *z == '-') &&
				  digits(z + 1, 2) >= 0)) {
			long off = 0;

			if (*z != 'Z') {
				int oh = digits(z + 1, 2);
				int om = z[3] == ':' ? digits(z + 4, 2) : digits(z + 3, 2);

				off = (oh * 60L + (om < 0 ? 0 : om)) * 60L;
				if (*z == '-')
					off = -off;
			}
			memset(&tm, 0, sizeof(tm));
			tm.tm_year = y - 1900;
			tm.tm_mon = mo - 1;
			tm.tm_mday = d;
			tm.tm_hour = h;
			tm.tm_min = mi;
			tm.tm_sec = s;
			*t_r = timegm(&tm) - off;
			return true;
		}
		*t_r = local_time(y, mo - 1, d, h, mi, s);
		return true;
	}
	for (i = 0; i < 12; i++) {
		if (strncmp(p, months[i], 3) == 0 && p[3] == ' ')
			break;
	}
	if (i == 12)
		return false;
	p += 4;
	if (*p == ' ')
		p++;
	d = isdigit((unsigned char)p[1]) ? digits(p, 2) : digits(p, 1);
	if (d < 1 || d > 31)
		return false;
	p += d >= 10 || p[0] == '0' ? 2 : 1;
	if (*p != ' ' || (h = digits(p + 1, 2)) < 0 || p[3] != ':' ||
	    (mi = digits(p + 4, 2)) < 0 || p[6] != ':' ||
	    (s = digits(p + 7, 2)) < 0)
		return false;
	{
		struct tm rt;

		localtime_r(&ref, &rt);
		y = rt.tm_year + 1900;
		*t_r = local_time(y, i, d, h, mi, s);
		if (*t_r > ref + 2 * 86400)
			*t_r = local_time(y - 1, i, d, h, mi, s);
	}
	return true;
}

/* day_of - "2026-12-03", local time */
static void day_of(time_t t, char buf[16])
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, 16, "%Y-%m-%d", &tm) == 0)
		snprintf(buf, 16, "?");
}

/* parse_when - --since/--until: what sg_parse_time takes (2026-11-28,
   2026-11-28T10:00:00Z, @unix), or N followed by h, d or w: that long
   before now */
static int parse_when(const char *arg, time_t now, time_t *t_r)
{
	char *end;
	unsigned long n;

	if (isdigit((unsigned char)arg[0])) {
		errno = 0;
		n = strtoul(arg, &end, 10);
		if (errno == 0 && end[0] != '\0' && end[1] == '\0' &&
		    strchr("hdw", end[0]) != NULL && n <= 100000) {
			unsigned long unit = end[0] == 'h' ? 3600 :
					     end[0] == 'd' ? 86400 : 7 * 86400;

			*t_r = now - (time_t)(n * unit);
			return 0;
		}
	}
	return sg_parse_time(arg, t_r);
}

/* ---- the inbound side: the Dovecot plugin ---- */

/* event_kind - from the text before the fields ("delivery", "append",
   "copy to Archive", "move to X", "sync", "reverify"), else from the
   process ("lmtp(user)": a delivery) */
static int event_kind(const char *what, size_t len, const char *line)
{
	if (len >= 8 && strncasecmp(what, "delivery", 8) == 0)
		return EV_DELIVERY;
	if (len >= 6 && strncasecmp(what, "append", 6) == 0)
		return EV_APPEND;
	if (len > 0)
		return EV_OTHER;
	if (strstr(line, "lmtp(") != NULL || strstr(line, "lda(") != NULL ||
	    strstr(line, "dovecot-lda") != NULL)
		return EV_DELIVERY;
	return EV_OTHER;
}

/* parse_inbound - a verdict line of the Dovecot plugin; false if not one */
static bool parse_inbound(struct report *r, const char *line, bool dated,
			  time_t t)
{
	const char *p = line, *fields = NULL, *what;
	char status[64], reasons[512], signer[300], issuer[512], day[16];
	int ev, cat;

	/* "smime: WHAT: status=..." - the first "smime: " with a status
	   field behind it */
	while ((p = strstr(p, "smime: ")) != NULL) {
		const char *s = p + 7, *q = s;

		while ((q = strstr(q, "status=")) != NULL && !at_token(s, q))
			q += 7;
		if (q != NULL) {
			fields = s;
			break;
		}
		p = s;
	}
	if (fields == NULL || !kv_find(fields, "status", status, sizeof(status)))
		return false;
	lower(status);
	if (!is_token(status))
		return false;
	/* WHAT: up to the first ": ", when that comes before any field */
	what = fields;
	{
		/* up to ": ", or up to the first key=value token */
		const char *end = strstr(fields, ": ");
		const char *eq = strchr(fields, '=');

		if (eq != NULL && (end == NULL || eq < end)) {
			while (eq > fields && eq[-1] != ' ')
				eq--;
			end = eq;
		}
		while (end != NULL && end > fields && end[-1] == ' ')
			end--;
		ev = event_kind(what, end != NULL ? (size_t)(end - fields) : 0, line);
	}
	if (!kv_find(fields, "reasons", reasons, sizeof(reasons)) &&
	    !kv_find(fields, "reason", reasons, sizeof(reasons)))
		reasons[0] = '\0';
	if (!kv_find(fields, "signer", signer, sizeof(signer)) ||
	    strcmp(signer, "-") == 0)
		signer[0] = '\0';
	if (!kv_find(fields, "issuer", issuer, sizeof(issuer)) &&
	    !kv_find(fields, "ca", issuer, sizeof(issuer)))
		issuer[0] = '\0';
	if (strcmp(issuer, "-") == 0)
		issuer[0] = '\0';

	cat = status_cat(status);
	r->in_total++;
	r->in_cat[cat]++;
	kv_get(&r->in_status, status)->n[ev]++;
	if (dated) {
		day_of(t, day);
		kv_get(&r->in_days, day)->n[cat]++;
	}
	{
		char *save = NULL, *tok;
		uint32_t bits = 0;

		for (tok = strtok_r(reasons, ",", &save); tok != NULL;
		     tok = strtok_r(NULL, ",", &save)) {
			enum sg_reason rs;

			while (*tok == ' ')
				tok++;
			lower(tok);
			if (!is_token(tok) || strcmp(tok, "-") == 0)
				continue;
			kv_get(&r->in_reasons, tok)->n[cat]++;
			if (sg_reason_parse(tok, &rs) == 0 && rs < 32)
				bits |= 1u << rs;
		}
		if (cat == CAT_FAILED || cat == CAT_SIGNED) {
			struct kv *e = kv_get(&r->in_signers,
					      signer[0] != '\0' ? signer : "(no signer named)");

			e->n[cat == CAT_FAILED ? 0 : 1]++;
			e->bits |= bits;
			if (issuer[0] != '\0')
				kv_get(&r->in_cas, issuer)->n[cat == CAT_FAILED ? 0 : 1]++;
		}
	}
	return true;
}

/* ---- the outbound side: smime-policyd and smime-milter ---- */

/* outcome_word - an action or outcome word; -1 when not one */
static int outcome_word(const char *w)
{
	static const struct { const char *word; int outcome; } words[] = {
		{ "dunno", OUT_ACCEPT }, { "ok", OUT_ACCEPT },
		{ "permit", OUT_ACCEPT }, { "accept", OUT_ACCEPT },
		{ "pass", OUT_ACCEPT }, { "satisfied", OUT_ACCEPT },
		{ "allow", OUT_ACCEPT }, { "continue", OUT_ACCEPT },
		{ "policy satisfied", OUT_ACCEPT },
		{ "certificate known", OUT_ACCEPT },
		{ "reject", OUT_REJECT }, { "refuse", OUT_REJECT },
		{ "defer", OUT_DEFER }, { "tempfail", OUT_DEFER },
		{ "hold", OUT_HOLD }, { "held", OUT_HOLD },
		{ "quarantine", OUT_HOLD },
		{ "monitor", OUT_MONITOR }, { "would", OUT_MONITOR },
		{ "exempt", OUT_EXEMPT }, { "skip", OUT_EXEMPT },
	};
	size_t i;

	while (*w == ' ' || *w == '"')
		w++;
	if (w[0] == '5' && isdigit((unsigned char)w[1]))
		return OUT_REJECT;
	if (w[0] == '4' && isdigit((unsigned char)w[1]))
		return OUT_DEFER;
	if (w[0] == '2' && isdigit((unsigned char)w[1]))
		return OUT_ACCEPT;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strncasecmp(w, words[i].word, strlen(words[i].word)) == 0)
			return words[i].outcome;
	}
	return -1;
}

/* outcome_of - what was decided: an explicit field (decision=,
   outcome=, result=, action=), else the last ": word" of the line */
static int outcome_of(const char *msg)
{
	static const char *const keys[] = { "decision", "outcome", "result", "action" };
	const char *last, *p;
	char v[128];
	size_t i;
	int o;

	if (strstr(msg, "monitor only") != NULL || strstr(msg, "would reject") != NULL)
		return OUT_MONITOR;
	/* smime-milter: "accepted unread: no recipient needs a check (...)",
	   "accepted: policy satisfied (...)" */
	if (strstr(msg, ": accepted unread: ") != NULL ||
	    strstr(msg, ": accepted: ") != NULL)
		return OUT_ACCEPT;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (kv_find(msg, keys[i], v, sizeof(v)) &&
		    (o = outcome_word(v)) >= 0)
			return o;
	}
	for (last = NULL, p = msg; (p = strstr(p, ": ")) != NULL; p += 2)
		last = p + 2;
	if (last != NULL && (o = outcome_word(last)) >= 0)
		return o;
	if (strstr(msg, "policy satisfied") != NULL ||
	    strstr(msg, "certificate known") != NULL)
		return OUT_ACCEPT;
	if (strstr(msg, "exempt") != NULL)
		return OUT_EXEMPT;
	return OUT_OTHER;
}

/* phrase_value - the words after "phrase" up to ')', ';', ',' or " and " */
static bool phrase_value(const char *msg, const char *phrase, char *out,
			 size_t size)
{
	const char *p = strstr(msg, phrase), *e;
	const char *and;

	if (p == NULL)
		return false;
	p += strlen(phrase);
	e = p + strcspn(p, ");,");
	and = strstr(p, " and ");
	if (and != NULL && and < e)
		e = and;
	if (e == p)
		return false;
	clean(out, size, p, (size_t)(e - p));
	return true;
}

/* rule_of - the rule a decision line names; "" when none */
static void rule_of(const char *msg, char *out, size_t size)
{
	char rr[256], sr[256];
	bool have_r, have_s;

	out[0] = '\0';
	if (kv_find(msg, "rule", rr, sizeof(rr)) && rr[0] != '\0' &&
	    strcmp(rr, "-") != 0) {
		/* a policy map key: "from:..." is a sender rule */
		if (strncmp(rr, "recipient rule ", 15) == 0 ||
		    strncmp(rr, "sender rule ", 12) == 0 || rr[0] == '(')
			snprintf(out, size, "%s", rr);
		else
			snprintf(out, size, "%s rule %.*s",
				 strncasecmp(rr, "from:", 5) == 0 ? "sender" :
				 "recipient", (int)(size / 2), rr);
		return;
	}
	have_r = phrase_value(msg, "recipient rule ", rr, sizeof(rr));
	have_s = phrase_value(msg, "sender rule ", sr, sizeof(sr));
	if (have_r || have_s) {
		size_t n = 0;

		if (have_r)
			n = (size_t)snprintf(out, size, "recipient rule %.*s",
					     (int)(size / 2), rr);
		if (have_s && n < size)
			snprintf(out + n, size - n, "%ssender rule %.*s",
				 have_r ? " + " : "", (int)(size / 3), sr);
		return;
	}
	if (strstr(msg, "internal recipient") != NULL)
		snprintf(out, size, "(internal recipient)");
	else if (strstr(msg, "null sender") != NULL)
		snprintf(out, size, "(null sender)");
	else if (strstr(msg, "Auto-Submitted") != NULL)
		snprintf(out, size, "(Auto-Submitted)");
	else if (strstr(msg, "no rule matches") != NULL ||
		 strstr(msg, "no rule requires anything") != NULL)
		snprintf(out, size, "(no rule)");
}

/* is_qid - a Postfix queue id or NOQUEUE */
static bool is_qid(const char *p, size_t len)
{
	size_t i;

	if (len == 7 && strncmp(p, "NOQUEUE", 7) == 0)
		return true;
	if (len < 5 || len > 20)
		return false;
	for (i = 0; i < len; i++) {
		if (!isalnum((unsigned char)p[i]))
			return false;
	}
	return true;
}

/* program_tag - where name stands as a syslog program tag in line */
static const char *program_tag(const char *line, const char *name)
{
	size_t len = strlen(name);
	const char *p = line;

	while ((p = strstr(p, name)) != NULL) {
		const char *e = p + len;

		if (*e == '[') {
			e++;
			while (isdigit((unsigned char)*e))
				e++;
			if (e > p + len + 1 && e[0] == ']' && e[1] == ':')
				return p;
		} else if (*e == ':' && p > line && (p[-1] == ' ' || p[-1] == '\t')) {
			return p;
		}
		p = e;
	}
	return NULL;
}

/* parse_outbound - a decision line of smime-policyd or smime-milter */
static bool parse_outbound(struct report *r, const char *line, bool dated,
			   time_t t)
{
	const char *tag, *msg, *p;
	char sender[320], rule[300], rcpts[MAX_RCPTS][320], day[16];
	size_t n_rcpts = 0, i, len;
	int stage, o;
	struct kv *e;

	/* the program's name as syslog writes it: "smime-milter[pid]: ",
	   "postfix/smime-policyd[pid]: ", or "smime-milter: " after a blank
	   (not "private/smime-policyd: " in a Postfix warning) */
	if ((tag = program_tag(line, "smime-policyd")) != NULL)
		stage = STAGE_RCPT;
	else if ((tag = program_tag(line, "smime-milter")) != NULL)
		stage = STAGE_DATA;
	else
		return false;
	if ((msg = strstr(tag, ": ")) == NULL)
		return false;
	msg += 2;
	if (strncmp(msg, "warning: ", 9) == 0)
		msg += 9;
	else if (strncmp(msg, "info: ", 6) == 0)
		msg += 6;
	len = strcspn(msg, ": ");
	if (msg[len] == ':' && is_qid(msg, len))
		msg += len + 1;
	while (*msg == ' ')
		msg++;
	if (strstr(msg, "from=<") == NULL && strstr(msg, "to=<") == NULL)
		return false;
	if (!kv_find(msg, "from", sender, sizeof(sender)))
		snprintf(sender, sizeof(sender), "(not logged)");
	else if (sender[0] == '\0')
		snprintf(sender, sizeof(sender), "<>");
	/* recipients: every <address> but the sender's */
	for (p = msg; (p = strchr(p, '<')) != NULL && n_rcpts < MAX_RCPTS; p++) {
		const char *end = strchr(p, '>');
		char a[320];

		if (end == NULL)
			break;
		if (p - msg >= 5 && strncmp(p - 5, "from=", 5) == 0) {
			p = end;
			continue;
		}
		clean(a, sizeof(a), p + 1, (size_t)(end - p - 1));
		p = end;
		if (strchr(a, '@') == NULL)
			continue;
		lower(a);
		for (i = 0; i < n_rcpts && strcmp(rcpts[i], a) != 0; i++)
			;
		if (i == n_rcpts)
			snprintf(rcpts[n_rcpts++], sizeof(rcpts[0]), "%s", a);
	}
	o = outcome_of(msg);
	rule_of(msg, rule, sizeof(rule));

	r->out_total++;
	r->out_stage[stage][o]++;
	if (rule[0] == '\0' && r->pol != NULL && n_rcpts > 0) {
		struct sg_policy_decision d;

		/* the line does not say: what the current policy says */
		sg_policy_decide(r->pol, sender[0] == '(' || sender[0] == '<' ?
				 "" : sender, rcpts[0], &d);
		clean(rule, sizeof(rule), d.why, strlen(d.why));
		e = kv_get(&r->out_rules, rule);
		e->bits |= 1;
		r->out_rule_derived++;
	} else {
		e = kv_get(&r->out_rules, rule[0] != '\0' ? rule : "(not logged)");
	}
	e->n[o]++;
	if (dated) {
		day_of(t, day);
		kv_get(&r->out_days, day)->n[o]++;
	}
	for (i = 0; i < n_rcpts; i++) {
		const char *dom = strrchr(rcpts[i], '@');

		kv_get(&r->out_domains, dom != NULL && dom[1] != '\0' ?
		       dom + 1 : "(none)")->n[o]++;
	}
	if (o != OUT_ACCEPT && o != OUT_EXEMPT) {
		if (sender[0] != '(')
			lower(sender);
		kv_get(&r->out_senders, sender)->n[o]++;
	}
	return true;
}

/* ---- doveadm smime status output ---- */

enum { SF_UNKNOWN, SF_TAB, SF_TABLE, SF_FLOW };

struct status_input {
	int format;
	char *cols[32];
	size_t n_cols;
	int c_user, c_mailbox, c_status, c_at, c_verified, c_signer,
	    c_reasons, c_issuer;
};

struct status_row {
	char user[320], status[64], at[64], verified[64], signer[300],
	     reasons[512], issuer[512];
};

static void status_input_free(struct status_input *si)
{
	size_t i;

	for (i = 0; i < si->n_cols; i++)
		free(si->cols[i]);
	memset(si, 0, sizeof(*si));
}

/* split - fields of a line at tabs (tab) or runs of blanks (table) */
static size_t split(char *line, bool tabs, char **f, size_t max)
{
	size_t n = 0;
	char *p = line;

	if (tabs) {
		while (n < max) {
			f[n++] = p;
			if ((p = strchr(p, '\t')) == NULL)
				break;
			*p++ = '\0';
		}
		return n;
	}
	while (n < max) {
		p += strspn(p, " ");
		if (*p == '\0')
			break;
		f[n++] = p;
		p += strcspn(p, " ");
		if (*p == '\0')
			break;
		*p++ = '\0';
	}
	return n;
}

static int col_index(const struct status_input *si, const char *const *names)
{
	size_t i, j;

	for (j = 0; names[j] != NULL; j++) {
		for (i = 0; i < si->n_cols; i++) {
			if (strcasecmp(si->cols[i], names[j]) == 0)
				return (int)i;
		}
	}
	return -1;
}

/* status_header - learn the columns; false when not this command's */
static bool status_header(struct status_input *si, char *line, bool tabs)
{
	static const char *const user[] = { "username", "user", NULL };
	static const char *const mailbox[] = { "mailbox", NULL };
	static const char *const status[] = { "status", NULL };
	static const char *const at[] = { "status-at-delivery", NULL };
	static const char *const verified[] = { "verified-at", NULL };
	static const char *const signer[] = { "signer", NULL };
	static const char *const reasons[] = { "reasons", "reason", NULL };
	static const char *const issuer[] = { "issuer", "ca", NULL };
	char *f[32];
	size_t n = split(line, tabs, f, 32), i;

	for (i = 0; i < n; i++)
		si->cols[si->n_cols++] = xstrdup(f[i]);
	si->c_user = col_index(si, user);
	si->c_mailbox = col_index(si, mailbox);
	si->c_status = col_index(si, status);
	si->c_at = col_index(si, at);
	si->c_verified = col_index(si, verified);
	si->c_signer = col_index(si, signer);
	si->c_reasons = col_index(si, reasons);
	si->c_issuer = col_index(si, issuer);
	return si->c_status >= 0;
}

static void set_field(char *dst, size_t size, char **f, size_t n, int c)
{
	dst[0] = '\0';
	if (c >= 0 && (size_t)c < n)
		clean(dst, size, f[c], strlen(f[c]));
}

/* status_fields - one row of tab or table output */
static bool status_fields(struct status_input *si, char *line,
			  struct status_row *row)
{
	char *f[64];
	size_t n = split(line, si->format == SF_TAB, f, 64);

	if (n < si->n_cols)
		return false;
	if (n > si->n_cols) {
		/* table: a mailbox name with blanks took several fields */
		size_t extra = n - si->n_cols, i;

		if (si->format != SF_TABLE || si->c_mailbox < 0)
			return false;
		for (i = 0; i < extra; i++)
			f[si->c_mailbox + i][strlen(f[si->c_mailbox + i])] = ' ';
		memmove(&f[si->c_mailbox + 1], &f[si->c_mailbox + 1 + extra],
			(n - (size_t)si->c_mailbox - 1 - extra) * sizeof(f[0]));
		n -= extra;
	}
	set_field(row->user, sizeof(row->user), f, n, si->c_user);
	set_field(row->status, sizeof(row->status), f, n, si->c_status);
	set_field(row->at, sizeof(row->at), f, n, si->c_at);
	set_field(row->verified, sizeof(row->verified), f, n, si->c_verified);
	set_field(row->signer, sizeof(row->signer), f, n, si->c_signer);
	set_field(row->reasons, sizeof(row->reasons), f, n, si->c_reasons);
	set_field(row->issuer, sizeof(row->issuer), f, n, si->c_issuer);
	return true;
}

static void flow_fields(const char *line, struct status_row *row)
{
	if (!kv_find(line, "username", row->user, sizeof(row->user)))
		(void)kv_find(line, "user", row->user, sizeof(row->user));
	(void)kv_find(line, "status", row->status, sizeof(row->status));
	(void)kv_find(line, "status-at-delivery", row->at, sizeof(row->at));
	(void)kv_find(line, "verified-at", row->verified, sizeof(row->verified));
	(void)kv_find(line, "signer", row->signer, sizeof(row->signer));
	if (!kv_find(line, "reasons", row->reasons, sizeof(row->reasons)))
		(void)kv_find(line, "reason", row->reasons, sizeof(row->reasons));
	(void)kv_find(line, "issuer", row->issuer, sizeof(row->issuer));
}

/* status_row - count one stored mail; false when it is no row */
static bool count_status_row(struct report *r, struct source *s,
			     struct status_row *row)
{
	char *save = NULL, *tok;
	time_t t;
	int cat;

	lower(row->status);
	lower(row->at);
	if (!is_token(row->status))
		return false;
	if (r->have_since || r->have_until) {
		if (row->verified[0] == '\0' || strcmp(row->verified, "-") == 0 ||
		    sg_parse_time(row->verified, &t) < 0) {
			s->undated++;
			return true;
		}
		if ((r->have_since && t < r->since) ||
		    (r->have_until && t >= r->until)) {
			s->out_of_range++;
			return true;
		}
	}
	s->status_rows++;
	r->have_status = true;
	r->mb_total++;
	cat = status_cat(row->status);
	r->mb_cat[cat]++;
	kv_get(&r->mb_status, row->status)->n[0]++;
	if (is_token(row->at)) {
		kv_get(&r->mb_status, row->at)->n[1]++;
		if (strcmp(row->at, row->status) != 0) {
			char change[160];

			snprintf(change, sizeof(change), "%s -> %s", row->at,
				 row->status);
			kv_get(&r->mb_changes, change)->n[0]++;
			r->mb_changed++;
		}
	}
	if (row->user[0] != '\0')
		kv_get(&r->mb_users, row->user)->n[cat]++;
	if (strcmp(row->signer, "-") == 0)
		row->signer[0] = '\0';
	if (strcmp(row->issuer, "-") == 0)
		row->issuer[0] = '\0';
	{
		uint32_t bits = 0;

		for (tok = strtok_r(row->reasons, ",", &save); tok != NULL;
		     tok = strtok_r(NULL, ",", &save)) {
			enum sg_reason rs;

			lower(tok);
			if (!is_token(tok) || strcmp(tok, "-") == 0)
				continue;
			kv_get(&r->mb_reasons, tok)->n[cat]++;
			if (sg_reason_parse(tok, &rs) == 0 && rs < 32)
				bits |= 1u << rs;
		}
		if (cat == CAT_FAILED || cat == CAT_SIGNED) {
			struct kv *e = kv_get(&r->mb_signers, row->signer[0] != '\0' ?
					      row->signer : "(no signer named)");

			e->n[cat == CAT_FAILED ? 0 : 1]++;
			e->bits |= bits;
			if (row->issuer[0] != '\0')
				kv_get(&r->mb_cas, row->issuer)->n[cat == CAT_FAILED ? 0 : 1]++;
		}
	}
	return true;
}

static void status_line(struct report *r, struct source *s,
			struct status_input *si, char *line)
{
	struct status_row row;

	memset(&row, 0, sizeof(row));
	if (si->format == SF_UNKNOWN) {
		if (line[0] == '\0')
			return;
		if (strstr(line, "status=") != NULL) {
			si->format = SF_FLOW;
		} else {
			si->format = strchr(line, '\t') != NULL ? SF_TAB : SF_TABLE;
			if (!status_header(si, line, si->format == SF_TAB))
				s->unparsed++;
			return;
		}
	}
	if (si->format == SF_FLOW) {
		flow_fields(line, &row);
	} else if (si->c_status < 0 || !status_fields(si, line, &row)) {
		if (line[0] != '\0')
			s->unparsed++;
		return;
	}
	if (!count_status_row(r, s, &row))
		s->unparsed++;
}

/* ---- reading files, with progress on a terminal ---- */

struct progress {
	bool on, shown, forced;
	char name[128];
	off_t total;
	struct timespec start, last;
};

static double elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	       (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void human_size(double v, char *buf, size_t size)
{
	static const char *const units[] = { "B", "KB", "MB", "GB", "TB" };
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
}

/* progress_tick - redraw the progress line at most 5 times a second,
   and (unless --progress) only once a file has taken half a second */
static void progress_tick(struct progress *pg, gzFile gz, uint64_t lines)
{
	struct timespec now;
	z_off_t off;
	char done[32], total[32];

	if (!pg->on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((!pg->forced && elapsed(&pg->start, &now) < 0.5) ||
	    (pg->shown && elapsed(&pg->last, &now) < 0.2))
		return;
	pg->last = now;
	off = gzoffset(gz);
	human_size((double)(off < 0 ? 0 : off), done, sizeof(done));
	if (pg->total > 0 && off >= 0) {
		human_size((double)pg->total, total, sizeof(total));
		fprintf(stderr, "\r\033[K%s report: %s: %3d%% (%s of %s), %llu lines",
			progname, pg->name,
			(int)(100.0 * (double)off / (double)pg->total), done, total,
			(unsigned long long)lines);
	} else {
		fprintf(stderr, "\r\033[K%s report: %s: %s, %llu lines", progname,
			pg->name, done, (unsigned long long)lines);
	}
	fflush(stderr);
	pg->shown = true;
}

static void progress_end(struct progress *pg)
{
	if (pg->shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	pg->shown = false;
}

/* log_line - one line of a mail log */
static void log_line(struct report *r, struct source *s, const char *line,
		     time_t ref)
{
	time_t t = 0;
	bool dated;

	if (strstr(line, "smime") == NULL)
		return;
	dated = line_time(line, ref, &t);
	if (!dated)
		s->undated++;
	if (r->have_since || r->have_until) {
		if (!dated)
			return;		/* counted as undated, not reported */
		if ((r->have_since && t < r->since) ||
		    (r->have_until && t >= r->until)) {
			s->out_of_range++;
			return;
		}
	}
	if (parse_inbound(r, line, dated, t)) {
		s->inbound++;
		return;
	}
	if (parse_outbound(r, line, dated, t)) {
		s->outbound++;
		return;
	}
	/* the plugin's and the daemons' errors and warnings (a mail stored
	   without keywords, a trust store that cannot be loaded, a
	   certificate lookup that failed) */
	if ((strstr(line, "smime: ") != NULL &&
	     (strstr(line, "Error: ") != NULL || strstr(line, "Warning: ") != NULL ||
	      strstr(line, "Panic: ") != NULL || strstr(line, "Fatal: ") != NULL)) ||
	    ((strstr(line, "smime-policyd") != NULL ||
	      strstr(line, "smime-milter") != NULL) &&
	     (strstr(line, ": warning: ") != NULL || strstr(line, ": fatal: ") != NULL ||
	      strstr(line, ": error: ") != NULL))) {
		s->errors++;
		r->in_errors++;
		return;
	}
	/* a line that looks like a verdict or a decision but is not one
	   this parser understands (start-up and reload lines are not) */
	if (strstr(line, "status=") != NULL || strstr(line, "from=<") != NULL ||
	    strstr(line, "to=<") != NULL)
		s->unparsed++;
}

/* read_source - a log file or status output; -1 cannot be read */
static int read_source(struct report *r, const char *path, bool status)
{
	struct status_input si;
	struct progress pg;
	struct source *s;
	struct stat st;
	char *buf;
	gzFile gz;
	int fd;
	time_t ref = r->now;
	bool continued = false;

	memset(&si, 0, sizeof(si));
	memset(&pg, 0, sizeof(pg));
	fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "%s: report: cannot read ", progname);
		ctl_print_clean(stderr, path);
		fprintf(stderr, ": %s\n", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		pg.total = st.st_size;
		/* a syslog time stamp has no year: it is the one of the
		   file's last write, or the year before */
		if (st.st_mtime > 0 && st.st_mtime < ref)
			ref = st.st_mtime;
	} else if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		fprintf(stderr, "%s: report: ", progname);
		ctl_print_clean(stderr, path);
		fprintf(stderr, " is a directory\n");
		return -1;
	}
	if ((gz = gzdopen(fd, "rb")) == NULL) {
		close(fd);
		fprintf(stderr, "%s: out of memory\n", progname);
		exit(EXIT_USAGE);
	}
	(void)gzbuffer(gz, 256 * 1024);
	r->src = xrealloc(r->src, (r->n_src + 1) * sizeof(*r->src));
	s = &r->src[r->n_src++];
	memset(s, 0, sizeof(*s));
	{
		char name[1024];

		clean(name, sizeof(name), path, strlen(path));
		s->name = xstrdup(strcmp(path, "-") == 0 ? "(standard input)" : name);
		clean(pg.name, sizeof(pg.name), s->name, strlen(s->name));
	}
	s->status = status;
	pg.on = r->progress > 0;
	pg.forced = r->progress == 2;
	clock_gettime(CLOCK_MONOTONIC, &pg.start);
	buf = xmalloc(LINE_MAX_LEN);
	while (gzgets(gz, buf, LINE_MAX_LEN) != NULL) {
		size_t len = strlen(buf);
		bool complete = len > 0 && buf[len - 1] == '\n';

		if (continued) {
			/* the rest of an over-long line */
			continued = !complete;
			continue;
		}
		if (!complete && len == LINE_MAX_LEN - 1) {
			continued = true;
			s->truncated++;
		}
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			buf[--len] = '\0';
		s->lines++;
		if ((s->lines & 0x3fff) == 0)
			progress_tick(&pg, gz, s->lines);
		if (status)
			status_line(r, s, &si, buf);
		else
			log_line(r, s, buf, ref);
	}
	progress_end(&pg);
	{
		int zerr;
		const char *msg = gzerror(gz, &zerr);

		if (zerr != Z_OK && zerr != Z_STREAM_END) {
			fprintf(stderr, "%s: report: ", progname);
			ctl_print_clean(stderr, s->name);
			fprintf(stderr, ": %s (counted up to there)\n",
				zerr == Z_ERRNO ? strerror(errno) : msg);
			free(buf);
			gzclose(gz);
			status_input_free(&si);
			return -1;
		}
	}
	free(buf);
	gzclose(gz);
	if (status && si.format != SF_FLOW && si.c_status < 0 && s->lines > 0) {
		fprintf(stderr, "%s: report: ", progname);
		ctl_print_clean(stderr, s->name);
		fprintf(stderr, ": not the output of 'doveadm smime status' "
			"(no status column)\n");
		status_input_free(&si);
		return -1;
	}
	status_input_free(&si);
	return 0;
}

/* ---- certificates ---- */

static void cert_cb(const struct sg_cert_entry *c, void *context)
{
	struct report *r = context;
	struct kv *seen;
	struct certrow *row;

	if (c->not_after == 0 ||
	    c->not_after >= r->now + (time_t)r->expiry_days * 86400)
		return;
	seen = kv_get(&r->cert_seen, c->fingerprint);
	if (seen->n[0]++ > 0)
		return;		/* the same certificate under two settings */
	if (r->n_certs == r->size_certs) {
		r->size_certs = r->size_certs == 0 ? 16 : r->size_certs * 2;
		r->certs = xrealloc(r->certs, r->size_certs * sizeof(*r->certs));
	}
	row = &r->certs[r->n_certs++];
	row->setting = xstrdup(c->setting);
	row->location = xstrdup(c->location);
	row->subject = xstrdup(c->subject);
	row->issuer = xstrdup(c->issuer);
	row->serial = xstrdup(c->serial);
	row->emails = xstrdup(c->emails);
	row->not_after = c->not_after;
	row->ca = c->ca != 0;
}

static int cmp_cert(const void *a, const void *b)
{
	const struct certrow *x = a, *y = b;

	if (x->not_after != y->not_after)
		return x->not_after < y->not_after ? -1 : 1;
	return strcmp(x->subject, y->subject);
}

static long days_left(const struct report *r, time_t t)
{
	double d = difftime(t, r->now) / 86400.0;

	return d < 0 ? -(long)(-d + 0.999) : (long)d;
}

static const char *cert_kind(const struct certrow *c)
{
	if (strcmp(c->setting, "trust_anchors") == 0)
		return "trust anchor";
	if (strcmp(c->setting, "intermediates") == 0)
		return "intermediate CA";
	if (strcmp(c->setting, "pinned_certificates") == 0)
		return "pinned";
	if (strcmp(c->setting, "harvest_map") == 0)
		return "harvested";
	return c->ca ? "CA in a map" : "recipient";
}

/* ---- output helpers ---- */

static uint64_t sum(const uint64_t *v, size_t n)
{
	uint64_t s = 0;
	size_t i;

	for (i = 0; i < n; i++)
		s += v[i];
	return s;
}

static const char *pct(uint64_t part, uint64_t whole, char *buf, size_t size)
{
	if (whole == 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.1f%%", 100.0 * (double)part / (double)whole);
	return buf;
}

static void iso(time_t t, char *buf, size_t size)
{
	if (sg_format_time(t, buf, size) < 0)
		snprintf(buf, size, "?");
}

static const char *reason_sentence(const char *name)
{
	enum sg_reason rs;

	if (sg_reason_parse(name, &rs) == 0)
		return sg_reason_text(rs);
	return "";
}

/* fixed status order first, then any other the logs name */
static const char *const status_order[] = {
	"signed/verified", "encrypted+signed/verified", "signed/failed",
	"encrypted+signed/failed", "signed", "encrypted", "none", NULL
};

static struct kv **status_rows(const struct kvmap *m, size_t *n_r)
{
	size_t n, i, j, k = 0;
	struct kv **v = kv_sorted(m, NULL, &n);
	struct kv **out = xcalloc(n, sizeof(*out));

	for (j = 0; status_order[j] != NULL; j++) {
		for (i = 0; i < n; i++) {
			if (v[i] != NULL && strcmp(v[i]->key, status_order[j]) == 0) {
				out[k++] = v[i];
				v[i] = NULL;
			}
		}
	}
	for (i = 0; i < n; i++) {
		if (v[i] != NULL)
			out[k++] = v[i];
	}
	free(v);
	*n_r = k;
	return out;
}

/* ---- text ---- */

static void print_rule(FILE *fp, size_t width)
{
	while (width-- > 0)
		fputc('-', fp);
	fputc('\n', fp);
}

static void text_period(const struct report *r, FILE *fp)
{
	char a[32], b[32];

	if (r->have_since)
		iso(r->since, a, sizeof(a));
	if (r->have_until)
		iso(r->until, b, sizeof(b));
	fprintf(fp, "Period: %s .. %s\n", r->have_since ? a : "(start of the logs)",
		r->have_until ? b : "(end of the logs)");
}

static void text_signers(FILE *fp, const struct kvmap *m, unsigned int top,
			 const char *title)
{
	static const uint64_t w[NV] = { 1, 1, 0, 0, 0, 0, 0, 0 };
	size_t n, i;
	struct kv **v = kv_sorted(m, w, &n);
	char rl[SG_REASONS_SIZE];

	fprintf(fp, "\n%s\n", title);
	if (n == 0)
		fprintf(fp, "  (none)\n");
	else
		fprintf(fp, "  %7s %7s  %-40s %s\n", "failed", "inconcl", "signer",
			"reasons");
	for (i = 0; i < n && i < top; i++) {
		(void)sg_reasons_format(v[i]->bits, ", ", rl, sizeof(rl));
		fprintf(fp, "  %7llu %7llu  %-40s %s\n",
			(unsigned long long)v[i]->n[0], (unsigned long long)v[i]->n[1],
			v[i]->key, rl[0] != '\0' ? rl : "-");
	}
	if (n > top)
		fprintf(fp, "  ... and %zu more\n", n - top);
	free(v);
}

static void text_cas(FILE *fp, const struct kvmap *m, unsigned int top,
		     bool any_signers)
{
	static const uint64_t w[NV] = { 1, 1, 0, 0, 0, 0, 0, 0 };
	size_t n, i;
	struct kv **v = kv_sorted(m, w, &n);

	fprintf(fp, "\nTop failing CAs (issuer of the signer's certificate)\n");
	if (n == 0)
		fprintf(fp, "  %s\n", any_signers ?
			"(these lines name no issuer: the CA of a failing signer is not in the logs)" :
			"(none)");
	else
		fprintf(fp, "  %7s %7s  %s\n", "failed", "inconcl", "issuer");
	for (i = 0; i < n && i < top; i++)
		fprintf(fp, "  %7llu %7llu  %s\n", (unsigned long long)v[i]->n[0],
			(unsigned long long)v[i]->n[1], v[i]->key);
	free(v);
}

static void text_reasons(FILE *fp, const struct kvmap *m)
{
	size_t n, i;
	struct kv **v = kv_sorted(m, w_all, &n);

	fprintf(fp, "\nReasons                    failed inconcl  verified  unsigned  sentence\n");
	if (n == 0)
		fprintf(fp, "  (none)\n");
	for (i = 0; i < n; i++) {
		fprintf(fp, "  %-22s %8llu %7llu %9llu %9llu  %s\n", v[i]->key,
			(unsigned long long)v[i]->n[CAT_FAILED],
			(unsigned long long)v[i]->n[CAT_SIGNED],
			(unsigned long long)(v[i]->n[CAT_VERIFIED] + v[i]->n[CAT_ENCRYPTED]),
			(unsigned long long)v[i]->n[CAT_NONE],
			reason_sentence(v[i]->key));
	}
	free(v);
}

static void print_text(const struct report *r, FILE *fp)
{
	size_t n, i, j;
	struct kv **v;
	char p1[16];
	uint64_t signed_total;

	fprintf(fp, "smimeguard report\n");
	print_rule(fp, 17);
	text_period(r, fp);
	fprintf(fp, "Sources:\n");
	for (i = 0; i < r->n_src; i++) {
		const struct source *s = &r->src[i];

		if (s->status)
			fprintf(fp, "  %s: doveadm smime status, %llu rows counted",
				s->name, (unsigned long long)s->status_rows);
		else
			fprintf(fp, "  %s: %llu lines, %llu verdicts, %llu outbound decisions",
				s->name, (unsigned long long)s->lines,
				(unsigned long long)s->inbound,
				(unsigned long long)s->outbound);
		if (s->errors > 0)
			fprintf(fp, ", %llu errors/warnings", (unsigned long long)s->errors);
		if (s->out_of_range > 0)
			fprintf(fp, ", %llu outside the period",
				(unsigned long long)s->out_of_range);
		if (s->undated > 0)
			fprintf(fp, ", %llu undated%s", (unsigned long long)s->undated,
				r->have_since || r->have_until ? " (not counted)" : "");
		if (s->unparsed > 0)
			fprintf(fp, ", %llu not understood", (unsigned long long)s->unparsed);
		if (s->truncated > 0)
			fprintf(fp, ", %llu over-long", (unsigned long long)s->truncated);
		fputc('\n', fp);
	}

	/* inbound */
	signed_total = r->in_total - r->in_cat[CAT_NONE];
	fprintf(fp, "\nSigned and encrypted mail, by verdict (Dovecot plugin log lines)\n");
	fprintf(fp, "  %-28s %9s %8s %8s %8s\n", "status", "delivered", "appended",
		"other", "share");
	v = status_rows(&r->in_status, &n);
	for (i = 0; i < n; i++) {
		uint64_t tot = sum(v[i]->n, EV_N);
		bool none = strcmp(v[i]->key, "none") == 0;

		fprintf(fp, "  %-28s %9llu %8llu %8llu %8s%s\n", v[i]->key,
			(unsigned long long)v[i]->n[EV_DELIVERY],
			(unsigned long long)v[i]->n[EV_APPEND],
			(unsigned long long)v[i]->n[EV_OTHER],
			none ? "" : pct(tot, signed_total, p1, sizeof(p1)),
			none ? "  (logged at debug level only)" : "");
	}
	if (n == 0)
		fprintf(fp, "  (no verdicts in these logs)\n");
	free(v);
	{
		char p2[16], p3[16], p4[16];

		fprintf(fp, "  %-28s %9llu  (verified %s, failed %s, inconclusive %s, "
			"encrypted %s)\n", "signed or encrypted, total",
			(unsigned long long)signed_total,
			pct(r->in_cat[CAT_VERIFIED], signed_total, p1, sizeof(p1)),
			pct(r->in_cat[CAT_FAILED], signed_total, p2, sizeof(p2)),
			pct(r->in_cat[CAT_SIGNED], signed_total, p3, sizeof(p3)),
			pct(r->in_cat[CAT_ENCRYPTED], signed_total, p4, sizeof(p4)));
	}
	fprintf(fp, "  (\"other\": copies and moves between folders, re-verification)\n");
	if (r->in_errors > 0)
		fprintf(fp, "  %llu error or warning lines of smimeguard (mail may be stored "
			"without keywords: see the logs)\n", (unsigned long long)r->in_errors);
	text_reasons(fp, &r->in_reasons);
	text_signers(fp, &r->in_signers, r->top, "Top failing signers");
	text_cas(fp, &r->in_cas, r->top, r->in_signers.used > 0);

	/* stored mail */
	if (r->have_status) {
		fprintf(fp, "\nStored mail (doveadm smime status)\n");
		fprintf(fp, "  %-28s %9s %11s\n", "status", "now", "at delivery");
		v = status_rows(&r->mb_status, &n);
		for (i = 0; i < n; i++)
			fprintf(fp, "  %-28s %9llu %11llu\n", v[i]->key,
				(unsigned long long)v[i]->n[0],
				(unsigned long long)v[i]->n[1]);
		free(v);
		fprintf(fp, "  %-28s %9llu\n", "total", (unsigned long long)r->mb_total);
		fprintf(fp, "  verdict changed since delivery (re-verification): %llu\n",
			(unsigned long long)r->mb_changed);
		v = kv_sorted(&r->mb_changes, w_first, &n);
		for (i = 0; i < n; i++)
			fprintf(fp, "    %7llu  %s\n", (unsigned long long)v[i]->n[0], v[i]->key);
		free(v);
		text_reasons(fp, &r->mb_reasons);
		text_signers(fp, &r->mb_signers, r->top, "Top failing signers (stored mail)");
		if (r->mb_cas.used > 0)
			text_cas(fp, &r->mb_cas, r->top, true);
		{
			static const uint64_t w[NV] = { 0, 1, 1, 0, 0, 0, 0, 0 };

			v = kv_sorted(&r->mb_users, w, &n);
			fprintf(fp, "\nUsers with the most failed or inconclusive mail\n");
			if (n == 0)
				fprintf(fp, "  (none)\n");
			for (i = 0; i < n && i < r->top; i++)
				fprintf(fp, "  %7llu failed %7llu inconclusive  %s\n",
					(unsigned long long)v[i]->n[CAT_FAILED],
					(unsigned long long)v[i]->n[CAT_SIGNED], v[i]->key);
			free(v);
		}
	}

	/* outbound */
	fprintf(fp, "\nOutbound decisions (smime-policyd, smime-milter)\n");
	fprintf(fp, "  %-31s", "");
	for (j = 0; j < OUT_N; j++)
		fprintf(fp, " %9s", out_names[j]);
	fputc('\n', fp);
	for (i = 0; i < STAGE_N; i++) {
		fprintf(fp, "  %-31s", stage_text[i]);
		for (j = 0; j < OUT_N; j++)
			fprintf(fp, " %9llu", (unsigned long long)r->out_stage[i][j]);
		fputc('\n', fp);
	}
	fprintf(fp, "  (accepted mail is logged only by versions that log every decision;\n"
		"   a message refused at RCPT never reaches end of data)\n");

	fprintf(fp, "\nOutbound decisions by rule\n");
	v = kv_sorted(&r->out_rules, w_all, &n);
	if (n == 0)
		fprintf(fp, "  (none)\n");
	for (i = 0; i < n; i++) {
		fprintf(fp, "  %-40s", v[i]->key);
		for (j = 0; j < OUT_N; j++) {
			if (v[i]->n[j] > 0)
				fprintf(fp, " %s %llu", out_names[j],
					(unsigned long long)v[i]->n[j]);
		}
		fprintf(fp, "%s\n", v[i]->bits & 1 ? "  *" : "");
	}
	free(v);
	if (r->out_rule_derived > 0)
		fprintf(fp, "  * %llu decisions whose log line names no rule: the rule the "
			"current policy applies\n", (unsigned long long)r->out_rule_derived);

	fprintf(fp, "\nRefusals by recipient domain\n");
	v = kv_sorted(&r->out_domains, w_refused, &n);
	if (n == 0)
		fprintf(fp, "  (none)\n");
	else
		fprintf(fp, "  %-34s %8s %8s %8s %9s %8s\n", "domain", "rejected",
			"deferred", "held", "monitored", "accepted");
	for (i = 0; i < n && i < r->top; i++)
		fprintf(fp, "  %-34s %8llu %8llu %8llu %9llu %8llu\n", v[i]->key,
			(unsigned long long)v[i]->n[OUT_REJECT],
			(unsigned long long)v[i]->n[OUT_DEFER],
			(unsigned long long)v[i]->n[OUT_HOLD],
			(unsigned long long)v[i]->n[OUT_MONITOR],
			(unsigned long long)v[i]->n[OUT_ACCEPT]);
	if (n > r->top)
		fprintf(fp, "  ... and %zu more\n", n - r->top);
	free(v);

	fprintf(fp, "\nSenders with the most refused mail\n");
	v = kv_sorted(&r->out_senders, w_refused, &n);
	if (n == 0)
		fprintf(fp, "  (none)\n");
	for (i = 0; i < n && i < r->top; i++)
		fprintf(fp, "  %7llu  %s\n", (unsigned long long)kv_weight(v[i]), v[i]->key);
	free(v);

	/* certificates */
	fprintf(fp, "\nCertificates expiring within %u days\n", r->expiry_days);
	if (!r->have_certs) {
		fprintf(fp, "  (no configuration given: -c smimeguard.conf, or --trust/--map)\n");
	} else {
		fprintf(fp, "  (%d certificates in the trust store and maps%s)\n",
			r->certs_checked, r->certs_skipped > 0 ?
			"; some paths or maps could not be listed: see smimectl doctor" : "");
		if (r->n_certs == 0)
			fprintf(fp, "  (none)\n");
		for (i = 0; i < r->n_certs; i++) {
			const struct certrow *c = &r->certs[i];
			char na[32];
			long d = days_left(r, c->not_after);

			iso(c->not_after, na, sizeof(na));
			fprintf(fp, "  %s  %5ld days  %-15s %s%s%s%s\n", na, d,
				cert_kind(c), c->subject,
				c->emails[0] != '\0' ? " <" : "", c->emails,
				c->emails[0] != '\0' ? ">" : "");
			fprintf(fp, "  %37s issuer %s, serial %s\n  %37s %s\n", "",
				c->issuer, c->serial, "", c->location);
		}
	}
}

/* ---- JSON ---- */

static void json_counts(FILE *fp, const uint64_t *v, const char *const *names,
			size_t n)
{
	size_t i;

	fputc('{', fp);
	for (i = 0; i < n; i++)
		fprintf(fp, "%s\"%s\":%llu", i > 0 ? "," : "", names[i],
			(unsigned long long)v[i]);
	fputc('}', fp);
}

static void json_reasons(FILE *fp, const struct kvmap *m)
{
	size_t n, i;
	struct kv **v = kv_sorted(m, w_all, &n);

	fputc('[', fp);
	for (i = 0; i < n; i++) {
		fprintf(fp, "%s{\"reason\":", i > 0 ? "," : "");
		ctl_json_str(fp, v[i]->key);
		fprintf(fp, ",\"by_verdict\":");
		json_counts(fp, v[i]->n, cat_names, CAT_N);
		fprintf(fp, ",\"text\":");
		ctl_json_str(fp, reason_sentence(v[i]->key));
		fputc('}', fp);
	}
	fputc(']', fp);
	free(v);
}

static void json_signers(FILE *fp, const struct kvmap *m, unsigned int top,
			 const char *field)
{
	static const uint64_t w[NV] = { 1, 1, 0, 0, 0, 0, 0, 0 };
	size_t n, i;
	struct kv **v = kv_sorted(m, w, &n);
	unsigned int b;

	fputc('[', fp);
	for (i = 0; i < n && i < top; i++) {
		bool first = true;

		fprintf(fp, "%s{\"%s\":", i > 0 ? "," : "", field);
		ctl_json_str(fp, v[i]->key);
		fprintf(fp, ",\"failed\":%llu,\"inconclusive\":%llu,\"reasons\":[",
			(unsigned long long)v[i]->n[0], (unsigned long long)v[i]->n[1]);
		for (b = 0; b < 32 && b < SG_REASON_COUNT; b++) {
			if ((v[i]->bits & (1u << b)) == 0)
				continue;
			fprintf(fp, "%s\"%s\"", first ? "" : ",",
				sg_reason_name((enum sg_reason)b));
			first = false;
		}
		fprintf(fp, "]}");
	}
	fputc(']', fp);
	free(v);
}

static void json_status(FILE *fp, const struct kvmap *m, int which_n,
			size_t n_cols, const char *const *names)
{
	size_t n, i;
	struct kv **v = status_rows(m, &n);

	fputc('{', fp);
	for (i = 0; i < n; i++) {
		ctl_json_str(fp, v[i]->key);
		fputc(':', fp);
		if (names != NULL)
			json_counts(fp, v[i]->n, names, n_cols);
		else
			fprintf(fp, "%llu", (unsigned long long)v[i]->n[which_n]);
		if (i + 1 < n)
			fputc(',', fp);
	}
	fputc('}', fp);
	free(v);
}

static void json_days(FILE *fp, const struct kvmap *m, const char *const *names,
		      size_t n_names)
{
	size_t n, i;
	struct kv **v = kv_sorted(m, NULL, &n);

	fputc('[', fp);
	for (i = 0; i < n; i++) {
		fprintf(fp, "%s{\"day\":\"%s\",\"counts\":", i > 0 ? "," : "", v[i]->key);
		json_counts(fp, v[i]->n, names, n_names);
		fputc('}', fp);
	}
	fputc(']', fp);
	free(v);
}

static void print_json(const struct report *r, FILE *fp)
{
	size_t n, i;
	struct kv **v;
	char t[32];

	iso(r->now, t, sizeof(t));
	fprintf(fp, "{\"generated\":\"%s\",\"since\":", t);
	if (r->have_since) {
		iso(r->since, t, sizeof(t));
		fprintf(fp, "\"%s\"", t);
	} else {
		fprintf(fp, "null");
	}
	fprintf(fp, ",\"until\":");
	if (r->have_until) {
		iso(r->until, t, sizeof(t));
		fprintf(fp, "\"%s\"", t);
	} else {
		fprintf(fp, "null");
	}
	fprintf(fp, ",\"sources\":[");
	for (i = 0; i < r->n_src; i++) {
		const struct source *s = &r->src[i];

		fprintf(fp, "%s{\"file\":", i > 0 ? "," : "");
		ctl_json_str(fp, s->name);
		fprintf(fp, ",\"kind\":\"%s\",\"lines\":%llu,\"verdicts\":%llu,"
			"\"decisions\":%llu,\"status_rows\":%llu,\"errors\":%llu,"
			"\"undated\":%llu,\"out_of_range\":%llu,\"unparsed\":%llu,"
			"\"truncated\":%llu}", s->status ? "status" : "log",
			(unsigned long long)s->lines, (unsigned long long)s->inbound,
			(unsigned long long)s->outbound,
			(unsigned long long)s->status_rows,
			(unsigned long long)s->errors, (unsigned long long)s->undated,
			(unsigned long long)s->out_of_range,
			(unsigned long long)s->unparsed,
			(unsigned long long)s->truncated);
	}
	fprintf(fp, "],\"inbound\":{\"total\":%llu,\"errors\":%llu,\"by_verdict\":",
		(unsigned long long)r->in_total, (unsigned long long)r->in_errors);
	json_counts(fp, r->in_cat, cat_names, CAT_N);
	fprintf(fp, ",\"by_status\":");
	json_status(fp, &r->in_status, 0, EV_N, ev_names);
	fprintf(fp, ",\"reasons\":");
	json_reasons(fp, &r->in_reasons);
	fprintf(fp, ",\"failing_signers\":");
	json_signers(fp, &r->in_signers, r->top, "signer");
	fprintf(fp, ",\"failing_cas\":");
	json_signers(fp, &r->in_cas, r->top, "issuer");
	fprintf(fp, ",\"daily\":");
	json_days(fp, &r->in_days, cat_names, CAT_N);
	fprintf(fp, "},\"mailboxes\":");
	if (!r->have_status) {
		fprintf(fp, "null");
	} else {
		fprintf(fp, "{\"total\":%llu,\"changed\":%llu,\"by_verdict\":",
			(unsigned long long)r->mb_total, (unsigned long long)r->mb_changed);
		json_counts(fp, r->mb_cat, cat_names, CAT_N);
		fprintf(fp, ",\"by_status\":");
		json_status(fp, &r->mb_status, 0, 0, NULL);
		fprintf(fp, ",\"by_status_at_delivery\":");
		json_status(fp, &r->mb_status, 1, 0, NULL);
		fprintf(fp, ",\"changes\":{");
		v = kv_sorted(&r->mb_changes, w_first, &n);
		for (i = 0; i < n; i++) {
			ctl_json_str(fp, v[i]->key);
			fprintf(fp, ":%llu%s", (unsigned long long)v[i]->n[0],
				i + 1 < n ? "," : "");
		}
		free(v);
		fprintf(fp, "},\"reasons\":");
		json_reasons(fp, &r->mb_reasons);
		fprintf(fp, ",\"failing_signers\":");
		json_signers(fp, &r->mb_signers, r->top, "signer");
		fprintf(fp, ",\"failing_cas\":");
		json_signers(fp, &r->mb_cas, r->top, "issuer");
		fprintf(fp, "}");
	}
	fprintf(fp, ",\"outbound\":{\"total\":%llu,\"by_stage\":{",
		(unsigned long long)r->out_total);
	for (i = 0; i < STAGE_N; i++) {
		fprintf(fp, "%s\"%s\":", i > 0 ? "," : "", stage_names[i]);
		json_counts(fp, r->out_stage[i], out_names, OUT_N);
	}
	fprintf(fp, "},\"by_rule\":[");
	v = kv_sorted(&r->out_rules, w_all, &n);
	for (i = 0; i < n; i++) {
		fprintf(fp, "%s{\"rule\":", i > 0 ? "," : "");
		ctl_json_str(fp, v[i]->key);
		fprintf(fp, ",\"derived\":%s,\"counts\":", v[i]->bits & 1 ? "true" : "false");
		json_counts(fp, v[i]->n, out_names, OUT_N);
		fputc('}', fp);
	}
	free(v);
	fprintf(fp, "],\"refusals_by_domain\":[");
	v = kv_sorted(&r->out_domains, w_refused, &n);
	for (i = 0; i < n && i < r->top; i++) {
		fprintf(fp, "%s{\"domain\":", i > 0 ? "," : "");
		ctl_json_str(fp, v[i]->key);
		fprintf(fp, ",\"counts\":");
		json_counts(fp, v[i]->n, out_names, OUT_N);
		fputc('}', fp);
	}
	free(v);
	fprintf(fp, "],\"refused_senders\":[");
	v = kv_sorted(&r->out_senders, w_refused, &n);
	for (i = 0; i < n && i < r->top; i++) {
		fprintf(fp, "%s{\"sender\":", i > 0 ? "," : "");
		ctl_json_str(fp, v[i]->key);
		fprintf(fp, ",\"counts\":");
		json_counts(fp, v[i]->n, out_names, OUT_N);
		fputc('}', fp);
	}
	free(v);
	fprintf(fp, "],\"daily\":");
	json_days(fp, &r->out_days, out_names, OUT_N);
	fprintf(fp, "},\"certificates\":");
	if (!r->have_certs) {
		fprintf(fp, "null");
	} else {
		fprintf(fp, "{\"days\":%u,\"checked\":%d,\"skipped\":%zu,\"expiring\":[",
			r->expiry_days, r->certs_checked, r->certs_skipped);
		for (i = 0; i < r->n_certs; i++) {
			const struct certrow *c = &r->certs[i];

			iso(c->not_after, t, sizeof(t));
			fprintf(fp, "%s{\"subject\":", i > 0 ? "," : "");
			ctl_json_str(fp, c->subject);
			fprintf(fp, ",\"issuer\":");
			ctl_json_str(fp, c->issuer);
			fprintf(fp, ",\"serial\":");
			ctl_json_str(fp, c->serial);
			fprintf(fp, ",\"emails\":");
			ctl_json_str(fp, c->emails);
			fprintf(fp, ",\"not_after\":\"%s\",\"days_left\":%ld,\"kind\":\"%s\","
				"\"setting\":\"%s\",\"location\":", t,
				days_left(r, c->not_after), cert_kind(c), c->setting);
			ctl_json_str(fp, c->location);
			fputc('}', fp);
		}
		fprintf(fp, "]}");
	}
	fprintf(fp, "}\n");
}

/* ---- HTML with inline SVG ---- */

static void h(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", fp);
			break;
		case '<':
			fputs("&lt;", fp);
			break;
		case '>':
			fputs("&gt;", fp);
			break;
		case '"':
			fputs("&quot;", fp);
			break;
		case '\'':
			fputs("&#39;", fp);
			break;
		default:
			fputc(*s, fp);
		}
	}
}

/* nice_max - a round axis maximum >= v */
static uint64_t nice_max(uint64_t v)
{
	uint64_t m = 1;

	while (m < v) {
		if (m * 2 >= v)
			return m * 2;
		if (m * 5 >= v)
			return m * 5;
		m *= 10;
	}
	return m;
}

static void svg_legend(FILE *fp, int x, int y, size_t n, const char *const *names,
		       const char *const *colours, const uint64_t *totals)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (totals != NULL && totals[i] == 0)
			continue;
		fprintf(fp, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>"
			"<text x=\"%d\" y=\"%d\" class=\"s\">%s</text>",
			x, y, colours[i], x + 14, y + 9, names[i]);
		x += 14 + 8 * (int)strlen(names[i]) + 16;
	}
}

/*
 * svg_hbars - horizontal stacked bars: one row per label, one segment per
 * series; title is the chart's accessible name
 */
static void svg_hbars(FILE *fp, const char *title, size_t n_rows,
		      struct kv *const *rows, size_t n_series,
		      const char *const *names, const char *const *colours,
		      const size_t *series)
{
	const int label_w = 300, bar_w = 380, row_h = 22, top = 28;
	int height = top + (int)n_rows * row_h + 10;
	uint64_t max = 0, totals[NV] = { 0 };
	size_t i, j;

	if (n_rows == 0)
		return;
	for (i = 0; i < n_rows; i++) {
		uint64_t s = 0;

		for (j = 0; j < n_series; j++) {
			s += rows[i]->n[series[j]];
			totals[j] += rows[i]->n[series[j]];
		}
		if (s > max)
			max = s;
	}
	max = nice_max(max);
	fprintf(fp, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"role=\"img\" aria-label=\"", label_w + bar_w + 80, height);
	h(fp, title);
	fprintf(fp, "\">");
	{
		const char *ln[NV], *lc[NV];

		for (j = 0; j < n_series; j++) {
			ln[j] = names[series[j]];
			lc[j] = colours[series[j]];
		}
		svg_legend(fp, label_w, 4, n_series, ln, lc, totals);
	}
	for (i = 0; i < n_rows; i++) {
		int y = top + (int)i * row_h;
		double x = label_w;
		uint64_t s = 0;
		char label[64];

		clean(label, sizeof(label), rows[i]->key, strlen(rows[i]->key));
		if (strlen(rows[i]->key) >= sizeof(label) - 1)
			memcpy(label + sizeof(label) - 4, "...", 4);
		fprintf(fp, "<text x=\"%d\" y=\"%d\" class=\"l\" text-anchor=\"end\">",
			label_w - 8, y + 14);
		h(fp, label);
		fprintf(fp, "</text>");
		for (j = 0; j < n_series; j++) {
			uint64_t c = rows[i]->n[series[j]];
			double w = (double)bar_w * (double)c / (double)max;

			s += c;
			if (c == 0)
				continue;
			fprintf(fp, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"16\" "
				"fill=\"%s\"><title>%s: %llu</title></rect>", x, y + 2,
				w < 1 ? 1 : w, colours[series[j]], names[series[j]],
				(unsigned long long)c);
			x += w;
		}
		fprintf(fp, "<text x=\"%.1f\" y=\"%d\" class=\"s\">%llu</text>", x + 4,
			y + 14, (unsigned long long)s);
	}
	fprintf(fp, "</svg>\n");
}

/* day_time - noon UTC of "2026-12-03"; 0 when it is not a day */
static time_t day_time(const char *day)
{
	struct tm tm;
	int y = digits(day, 4), mo = digits(day + 5, 2), d = digits(day + 8, 2);

	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || day[4] != '-' ||
	    day[7] != '-' || day[10] != '\0')
		return 0;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = 12;
	return timegm(&tm);
}

/* days_filled - the days of m from the first to the last, days without
   counts included (at zero), so the time axis has no holes; the sorted
   keys alone when the span is over 1000 days.  Entries point into m or
   into *zeros_r (free both arrays) */
static struct kv **days_filled(const struct kvmap *m, size_t *n_r,
			       struct kv **zeros_r)
{
	size_t n, i, span;
	struct kv **v = kv_sorted(m, NULL, &n);
	time_t first, last;

	*zeros_r = NULL;
	*n_r = n;
	if (n < 2 || (first = day_time(v[0]->key)) == 0 ||
	    (last = day_time(v[n - 1]->key)) == 0 || last < first)
		return v;
	span = (size_t)((last - first) / 86400) + 1;
	if (span > 1000 || span == n)
		return v;
	{
		struct kv **out = xcalloc(span, sizeof(*out));
		struct kv *zeros = xcalloc(span, sizeof(*zeros));
		char key[16];

		for (i = 0; i < span; i++) {
			time_t t = first + (time_t)i * 86400;
			const struct kv *e;
			struct tm tm;

			gmtime_r(&t, &tm);
			strftime(key, sizeof(key), "%Y-%m-%d", &tm);
			if ((e = kv_lookup(m, key)) != NULL) {
				out[i] = (struct kv *)e;
			} else {
				zeros[i].key = xstrdup(key);
				out[i] = &zeros[i];
			}
		}
		free(v);
		*zeros_r = zeros;
		*n_r = span;
		return out;
	}
}

static void days_free(struct kv **v, struct kv *zeros, size_t n)
{
	size_t i;

	if (zeros != NULL) {
		for (i = 0; i < n; i++)
			free(zeros[i].key);
	}
	free(zeros);
	free(v);
}

/* svg_daily - stacked columns per day */
static void svg_daily(FILE *fp, const char *title, const struct kvmap *m,
		      size_t n_series, const char *const *names,
		      const char *const *colours)
{
	const int left = 50, plot_w = 640, plot_h = 180, top = 30;
	size_t n, i, j;
	struct kv *zeros;
	struct kv **v = days_filled(m, &n, &zeros);
	uint64_t max = 0, totals[NV] = { 0 };
	size_t ticks;
	double bw;

	if (n == 0) {
		days_free(v, zeros, n);
		return;
	}
	for (i = 0; i < n; i++) {
		uint64_t s = sum(v[i]->n, n_series);

		for (j = 0; j < n_series; j++)
			totals[j] += v[i]->n[j];
		if (s > max)
			max = s;
	}
	max = nice_max(max);
	bw = (double)plot_w / (double)n;
	fprintf(fp, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"role=\"img\" aria-label=\"", left + plot_w + 20, top + plot_h + 40);
	h(fp, title);
	fprintf(fp, "\">");
	svg_legend(fp, left, 4, n_series, names, colours, totals);
	/* max is 1, 2 or 5 times a power of ten: five ticks from 5 on */
	ticks = max >= 5 ? 5 : (size_t)max;
	for (i = 0; i <= ticks; i++) {
		int y = top + plot_h - (int)((size_t)plot_h * i / ticks);

		fprintf(fp, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"g\"/>"
			"<text x=\"%d\" y=\"%d\" class=\"s\" text-anchor=\"end\">%llu</text>",
			left, y, left + plot_w, y, left - 4, y + 4,
			(unsigned long long)(max * i / ticks));
	}
	for (i = 0; i < n; i++) {
		double x = left + bw * (double)i, y = top + plot_h;

		for (j = 0; j < n_series; j++) {
			double hgt = (double)plot_h * (double)v[i]->n[j] / (double)max;

			if (v[i]->n[j] == 0)
				continue;
			y -= hgt;
			fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
				"fill=\"%s\"><title>%s %s: %llu</title></rect>", x + 1, y,
				bw > 3 ? bw - 2 : 1, hgt, colours[j], v[i]->key, names[j],
				(unsigned long long)v[i]->n[j]);
		}
		if (n <= 14 || i % ((n + 6) / 7) == 0)
			fprintf(fp, "<text x=\"%.1f\" y=\"%d\" class=\"s\" text-anchor=\"middle\">%s</text>",
				x + bw / 2, top + plot_h + 16, v[i]->key + 5);
	}
	fprintf(fp, "</svg>\n");
	days_free(v, zeros, n);
}

static void html_signers(FILE *fp, const struct kvmap *m, unsigned int top,
			 const char *what)
{
	static const uint64_t w[NV] = { 1, 1, 0, 0, 0, 0, 0, 0 };
	static const size_t series[2] = { 0, 1 };
	static const char *const names[2] = { "failed", "inconclusive" };
	static const char *const colours[2] = { "#c62828", "#f9a825" };
	size_t n, i;
	struct kv **v = kv_sorted(m, w, &n);
	char rl[SG_REASONS_SIZE];

	if (n == 0) {
		fprintf(fp, "<p class=\"none\">None.</p>\n");
		free(v);
		return;
	}
	svg_hbars(fp, what, n < top ? n : top, v, 2, names, colours, series);
	fprintf(fp, "<table><tr><th>%s</th><th>failed</th><th>inconclusive</th>%s</tr>\n",
		what, m->slots != NULL && strstr(what, "CA") == NULL ? "<th>reasons</th>" : "");
	for (i = 0; i < n && i < top; i++) {
		fprintf(fp, "<tr><td>");
		h(fp, v[i]->key);
		fprintf(fp, "</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td>",
			(unsigned long long)v[i]->n[0], (unsigned long long)v[i]->n[1]);
		if (strstr(what, "CA") == NULL) {
			(void)sg_reasons_format(v[i]->bits, ", ", rl, sizeof(rl));
			fprintf(fp, "<td>%s</td>", rl);
		}
		fprintf(fp, "</tr>\n");
	}
	fprintf(fp, "</table>\n");
	free(v);
}

static void html_reasons(FILE *fp, const struct kvmap *m)
{
	static const size_t series[5] = {
		CAT_FAILED, CAT_SIGNED, CAT_VERIFIED, CAT_ENCRYPTED, CAT_NONE
	};
	size_t n, i;
	struct kv **v = kv_sorted(m, w_all, &n);

	if (n == 0) {
		fprintf(fp, "<p class=\"none\">No reasons: every signature verified "
			"without a warning.</p>\n");
		free(v);
		return;
	}
	svg_hbars(fp, "Reasons", n, v, 5, cat_names, cat_colours, series);
	fprintf(fp, "<table><tr><th>reason</th><th>failed</th><th>inconclusive</th>"
		"<th>verified or encrypted (warning)</th><th>unsigned</th>"
		"<th>what it means</th></tr>\n");
	for (i = 0; i < n; i++) {
		fprintf(fp, "<tr><td><code>");
		h(fp, v[i]->key);
		fprintf(fp, "</code></td><td class=\"n\">%llu</td><td class=\"n\">%llu</td>"
			"<td class=\"n\">%llu</td><td class=\"n\">%llu</td><td>",
			(unsigned long long)v[i]->n[CAT_FAILED],
			(unsigned long long)v[i]->n[CAT_SIGNED],
			(unsigned long long)(v[i]->n[CAT_VERIFIED] + v[i]->n[CAT_ENCRYPTED]),
			(unsigned long long)v[i]->n[CAT_NONE]);
		h(fp, reason_sentence(v[i]->key));
		fprintf(fp, "</td></tr>\n");
	}
	fprintf(fp, "</table>\n");
	free(v);
}

static void html_card(FILE *fp, const char *colour, const char *label,
		      uint64_t value, const char *sub)
{
	fprintf(fp, "<div class=\"card\" style=\"border-color:%s\"><div class=\"v\">%llu</div>"
		"<div>%s</div><div class=\"s\">%s</div></div>\n", colour,
		(unsigned long long)value, label, sub);
}

static void print_html(const struct report *r, FILE *fp)
{
	static const size_t out_series[OUT_N] = { 0, 1, 2, 3, 4, 5, 6 };
	static const size_t ref_series[4] = { OUT_REJECT, OUT_DEFER, OUT_HOLD, OUT_MONITOR };
	size_t n, i, j;
	struct kv **v;
	char t[32], a[32], b[32], p1[16];
	uint64_t signed_total = r->in_total - r->in_cat[CAT_NONE];
	uint64_t refused = 0;

	for (i = 0; i < STAGE_N; i++)
		refused += r->out_stage[i][OUT_REJECT] + r->out_stage[i][OUT_DEFER] +
			   r->out_stage[i][OUT_HOLD];
	iso(r->now, t, sizeof(t));
	if (r->have_since)
		iso(r->since, a, sizeof(a));
	if (r->have_until)
		iso(r->until, b, sizeof(b));
	fprintf(fp, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		"style-src 'unsafe-inline'; img-src data:\">\n"
		"<title>S/MIME compliance report</title>\n<style>\n"
		"body{font-family:sans-serif;margin:2em;color:#212121;max-width:1100px}\n"
		"h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}\n"
		"table{border-collapse:collapse;margin:.8em 0}\n"
		"td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}\n"
		"th{background:#f5f5f5}td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
		".cards{display:flex;flex-wrap:wrap;gap:1em}\n"
		".card{border-left:6px solid;padding:.5em 1em;background:#fafafa;min-width:9em}\n"
		".card .v{font-size:1.8em;font-weight:bold}.s{font-size:80%%;color:#555}\n"
		".none{color:#555;font-style:italic}svg text{font-family:sans-serif}\n"
		"svg .l{font-size:12px}svg .s{font-size:11px;fill:#444}svg .g{stroke:#e0e0e0}\n"
		"</style></head><body>\n<h1>S/MIME compliance report</h1>\n");
	fprintf(fp, "<p>Period: %s &ndash; %s. Generated %s by smimectl %s.</p>\n",
		r->have_since ? a : "start of the logs", r->have_until ? b : "end of the logs",
		t, sg_version());

	fprintf(fp, "<div class=\"cards\">\n");
	html_card(fp, cat_colours[CAT_VERIFIED], "verified", r->in_cat[CAT_VERIFIED],
		  pct(r->in_cat[CAT_VERIFIED], signed_total, p1, sizeof(p1)));
	html_card(fp, cat_colours[CAT_FAILED], "FAILED", r->in_cat[CAT_FAILED],
		  pct(r->in_cat[CAT_FAILED], signed_total, p1, sizeof(p1)));
	html_card(fp, cat_colours[CAT_SIGNED], "inconclusive", r->in_cat[CAT_SIGNED],
		  pct(r->in_cat[CAT_SIGNED], signed_total, p1, sizeof(p1)));
	html_card(fp, cat_colours[CAT_ENCRYPTED], "encrypted", r->in_cat[CAT_ENCRYPTED],
		  pct(r->in_cat[CAT_ENCRYPTED], signed_total, p1, sizeof(p1)));
	html_card(fp, out_colours[OUT_REJECT], "outbound refused", refused,
		  "rejected, deferred or held");
	if (r->have_certs)
		html_card(fp, "#6a1b9a", "certificates expiring", (uint64_t)r->n_certs,
			  "within the period below");
	fprintf(fp, "</div>\n");

	fprintf(fp, "<h2>Signed and encrypted mail, by verdict</h2>\n");
	svg_daily(fp, "Verdicts per day", &r->in_days, CAT_N, cat_names, cat_colours);
	fprintf(fp, "<table><tr><th>status</th><th>delivered</th><th>appended</th>"
		"<th>other</th><th>share</th></tr>\n");
	v = status_rows(&r->in_status, &n);
	for (i = 0; i < n; i++) {
		bool none = strcmp(v[i]->key, "none") == 0;

		fprintf(fp, "<tr><td><span style=\"color:%s\">&#9632;</span> ",
			cat_colours[status_cat(v[i]->key)]);
		h(fp, v[i]->key);
		fprintf(fp, "</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td>"
			"<td class=\"n\">%llu</td><td class=\"n\">%s</td></tr>\n",
			(unsigned long long)v[i]->n[EV_DELIVERY],
			(unsigned long long)v[i]->n[EV_APPEND],
			(unsigned long long)v[i]->n[EV_OTHER],
			none ? "debug log only" : pct(sum(v[i]->n, EV_N), signed_total, p1, sizeof(p1)));
	}
	free(v);
	fprintf(fp, "<tr><th>signed or encrypted</th><th class=\"n\" colspan=\"4\">%llu</th></tr>"
		"</table>\n<p class=\"s\">Other: copies and moves between folders and "
		"re-verification. One line per delivery: a message to three local users "
		"counts three times.</p>\n", (unsigned long long)signed_total);
	if (r->in_errors > 0)
		fprintf(fp, "<p><strong>%llu error or warning lines</strong> of smimeguard: "
			"mail may have been stored without keywords; see the logs.</p>\n",
			(unsigned long long)r->in_errors);
	fprintf(fp, "<h2>Why signatures failed</h2>\n");
	html_reasons(fp, &r->in_reasons);
	fprintf(fp, "<h2>Top failing signers</h2>\n");
	html_signers(fp, &r->in_signers, r->top, "signer");
	fprintf(fp, "<h2>Top failing CAs</h2>\n");
	if (r->in_cas.used == 0 && r->in_signers.used > 0)
		fprintf(fp, "<p class=\"none\">These log lines name no issuer: the CA of a "
			"failing signer is not in the logs.</p>\n");
	else
		html_signers(fp, &r->in_cas, r->top, "CA (issuer)");

	if (r->have_status) {
		fprintf(fp, "<h2>Stored mail (doveadm smime status)</h2>\n<table><tr><th>status"
			"</th><th>now</th><th>at delivery</th></tr>\n");
		v = status_rows(&r->mb_status, &n);
		for (i = 0; i < n; i++) {
			fprintf(fp, "<tr><td>");
			h(fp, v[i]->key);
			fprintf(fp, "</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td></tr>\n",
				(unsigned long long)v[i]->n[0], (unsigned long long)v[i]->n[1]);
		}
		free(v);
		fprintf(fp, "<tr><th>total</th><th class=\"n\">%llu</th><th></th></tr></table>\n"
			"<p>Verdict changed since delivery (re-verification): %llu</p>\n",
			(unsigned long long)r->mb_total, (unsigned long long)r->mb_changed);
		v = kv_sorted(&r->mb_changes, w_first, &n);
		if (n > 0) {
			fprintf(fp, "<table><tr><th>change</th><th>mails</th></tr>\n");
			for (i = 0; i < n; i++) {
				fprintf(fp, "<tr><td>");
				h(fp, v[i]->key);
				fprintf(fp, "</td><td class=\"n\">%llu</td></tr>\n",
					(unsigned long long)v[i]->n[0]);
			}
			fprintf(fp, "</table>\n");
		}
		free(v);
		html_reasons(fp, &r->mb_reasons);
		fprintf(fp, "<h3>Top failing signers (stored mail)</h3>\n");
		html_signers(fp, &r->mb_signers, r->top, "signer");
	}

	fprintf(fp, "<h2>Outbound decisions</h2>\n<table><tr><th></th>");
	for (j = 0; j < OUT_N; j++)
		fprintf(fp, "<th><span style=\"color:%s\">&#9632;</span> %s</th>",
			out_colours[j], out_names[j]);
	fprintf(fp, "</tr>\n");
	for (i = 0; i < STAGE_N; i++) {
		fprintf(fp, "<tr><td>%s</td>", stage_text[i]);
		for (j = 0; j < OUT_N; j++)
			fprintf(fp, "<td class=\"n\">%llu</td>",
				(unsigned long long)r->out_stage[i][j]);
		fprintf(fp, "</tr>\n");
	}
	fprintf(fp, "</table>\n");
	svg_daily(fp, "Outbound decisions per day", &r->out_days, OUT_N, out_names,
		  out_colours);
	fprintf(fp, "<h3>By rule</h3>\n");
	v = kv_sorted(&r->out_rules, w_all, &n);
	if (n == 0) {
		fprintf(fp, "<p class=\"none\">No outbound decisions in these logs.</p>\n");
	} else {
		svg_hbars(fp, "Outbound decisions by rule", n, v, OUT_N, out_names,
			  out_colours, out_series);
		fprintf(fp, "<table><tr><th>rule</th>");
		for (j = 0; j < OUT_N; j++)
			fprintf(fp, "<th>%s</th>", out_names[j]);
		fprintf(fp, "</tr>\n");
		for (i = 0; i < n; i++) {
			fprintf(fp, "<tr><td>");
			h(fp, v[i]->key);
			fprintf(fp, "%s</td>", v[i]->bits & 1 ? " *" : "");
			for (j = 0; j < OUT_N; j++)
				fprintf(fp, "<td class=\"n\">%llu</td>",
					(unsigned long long)v[i]->n[j]);
			fprintf(fp, "</tr>\n");
		}
		fprintf(fp, "</table>\n");
		if (r->out_rule_derived > 0)
			fprintf(fp, "<p class=\"s\">* %llu decisions whose log line names no "
				"rule: the rule the current policy applies.</p>\n",
				(unsigned long long)r->out_rule_derived);
	}
	free(v);
	fprintf(fp, "<h3>Refusals by recipient domain</h3>\n");
	v = kv_sorted(&r->out_domains, w_refused, &n);
	if (n == 0) {
		fprintf(fp, "<p class=\"none\">None.</p>\n");
	} else {
		svg_hbars(fp, "Refusals by recipient domain", n < r->top ? n : r->top, v,
			  4, out_names, out_colours, ref_series);
		fprintf(fp, "<table><tr><th>domain</th><th>rejected</th><th>deferred</th>"
			"<th>held</th><th>monitored</th><th>accepted</th></tr>\n");
		for (i = 0; i < n && i < r->top; i++) {
			fprintf(fp, "<tr><td>");
			h(fp, v[i]->key);
			fprintf(fp, "</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td>"
				"<td class=\"n\">%llu</td><td class=\"n\">%llu</td>"
				"<td class=\"n\">%llu</td></tr>\n",
				(unsigned long long)v[i]->n[OUT_REJECT],
				(unsigned long long)v[i]->n[OUT_DEFER],
				(unsigned long long)v[i]->n[OUT_HOLD],
				(unsigned long long)v[i]->n[OUT_MONITOR],
				(unsigned long long)v[i]->n[OUT_ACCEPT]);
		}
		fprintf(fp, "</table>\n");
	}
	free(v);
	fprintf(fp, "<h3>Senders with the most refused mail</h3>\n");
	v = kv_sorted(&r->out_senders, w_refused, &n);
	if (n == 0) {
		fprintf(fp, "<p class=\"none\">None.</p>\n");
	} else {
		fprintf(fp, "<table><tr><th>sender</th><th>refused</th></tr>\n");
		for (i = 0; i < n && i < r->top; i++) {
			fprintf(fp, "<tr><td>");
			h(fp, v[i]->key);
			fprintf(fp, "</td><td class=\"n\">%llu</td></tr>\n",
				(unsigned long long)kv_weight(v[i]));
		}
		fprintf(fp, "</table>\n");
	}
	free(v);

	fprintf(fp, "<h2>Certificates expiring within %u days</h2>\n", r->expiry_days);
	if (!r->have_certs) {
		fprintf(fp, "<p class=\"none\">No configuration given (smimectl report -c "
			"smimeguard.conf).</p>\n");
	} else if (r->n_certs == 0) {
		fprintf(fp, "<p class=\"none\">None of the %d certificates of the trust store "
			"and the maps.</p>\n", r->certs_checked);
	} else {
		fprintf(fp, "<table><tr><th>expires</th><th>days left</th><th>kind</th>"
			"<th>subject</th><th>addresses</th><th>issuer, serial</th>"
			"<th>where</th></tr>\n");
		for (i = 0; i < r->n_certs; i++) {
			const struct certrow *c = &r->certs[i];
			long d = days_left(r, c->not_after);

			iso(c->not_after, t, sizeof(t));
			fprintf(fp, "<tr><td>%s</td><td class=\"n\" style=\"color:%s\">%ld</td>"
				"<td>%s</td><td>", t, d < 0 ? "#c62828" : d < 14 ? "#ef6c00" :
				"#212121", d, cert_kind(c));
			h(fp, c->subject);
			fprintf(fp, "</td><td>");
			h(fp, c->emails);
			fprintf(fp, "</td><td>");
			h(fp, c->issuer);
			fprintf(fp, "<br>");
			h(fp, c->serial);
			fprintf(fp, "</td><td>");
			h(fp, c->location);
			fprintf(fp, "</td></tr>\n");
		}
		fprintf(fp, "</table>\n<p class=\"s\">%d certificates checked%s.</p>\n",
			r->certs_checked, r->certs_skipped > 0 ?
			"; some paths or maps could not be listed (ldap: maps are not "
			"enumerated; smimectl doctor says what else)" : "");
	}

	fprintf(fp, "<h2>Sources</h2>\n<table><tr><th>file</th><th>kind</th><th>lines</th>"
		"<th>verdicts</th><th>decisions</th><th>rows</th><th>errors</th>"
		"<th>outside the period</th><th>undated</th><th>not understood</th></tr>\n");
	for (i = 0; i < r->n_src; i++) {
		const struct source *s = &r->src[i];

		fprintf(fp, "<tr><td>");
		h(fp, s->name);
		fprintf(fp, "</td><td>%s</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td>"
			"<td class=\"n\">%llu</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td>"
			"<td class=\"n\">%llu</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td>"
			"</tr>\n", s->status ? "doveadm smime status" : "mail log",
			(unsigned long long)s->lines, (unsigned long long)s->inbound,
			(unsigned long long)s->outbound, (unsigned long long)s->status_rows,
			(unsigned long long)s->errors, (unsigned long long)s->out_of_range,
			(unsigned long long)s->undated, (unsigned long long)s->unparsed);
	}
	fprintf(fp, "</table>\n%s</body></html>\n", r->have_since || r->have_until ?
		"<p class=\"s\">Undated lines (daemons logging to a file without time "
		"stamps) are not counted when a period is given.</p>\n" : "");
}

/* write_html - to path, atomically (a temporary file renamed) */
static int write_html(const struct report *r, const char *path)
{
	char tmp[4096];
	FILE *fp;

	if (strcmp(path, "-") == 0) {
		print_html(r, stdout);
		return fflush(stdout) == 0 ? 0 : -1;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path,
			     (long)getpid()) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fp = fopen(tmp, "w")) == NULL)
		return -1;
	print_html(r, fp);
	if (fflush(fp) != 0 || ferror(fp) != 0) {
		int saved = errno;

		fclose(fp);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	if (fclose(fp) != 0 || rename(tmp, path) < 0) {
		int saved = errno;

		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}

/* ---- the command ---- */

void usage_report(FILE *fp)
{
	fprintf(fp,
"Usage: smimectl report [OPTIONS] [LOGFILE...]\n"
"\n"
"What the mail logs say about S/MIME, for a compliance review: signed mail by\n"
"verdict and reason, the signers (and CAs) whose signatures fail, outbound\n"
"decisions by rule, refusals by recipient domain, and which certificates of\n"
"the trust store and the maps expire soon.\n"
"\n"
"LOGFILE: mail logs with the lines of the Dovecot plugin, smime-policyd and\n"
"smime-milter (syslog's mail.log, or Dovecot's and the daemons' own files),\n"
"plain or gzip-compressed (rotated .gz files), \"-\" for standard input.\n"
"Without LOGFILE and --status: " DEFAULT_LOGS ".\n"
"\n"
"Options:\n"
"      --status FILE        also count stored mail from the output of\n"
"                           'doveadm -f tab smime status -A all' (or -f flow,\n"
"                           or the default table); \"-\" for standard input;\n"
"                           repeatable\n"
"      --since TIME         count only what happened at or after TIME\n"
"      --until TIME         ... and before TIME.  TIME: 2026-11-01,\n"
"                           2026-11-01T08:00:00Z, @unix-seconds, or 7d, 24h,\n"
"                           4w (that long ago)\n"
"  -c, --config FILE        smimeguard.conf: the trust store and maps whose\n"
"                           certificates are checked for expiry, and the policy\n"
"                           that names the rule of a decision the log does not\n"
"      --trust PATH, --intermediates PATH, --map TYPE:NAME\n"
"                           the same, on the command line (repeatable)\n"
"      --expiry-days N      certificates expiring within N days (default 60)\n"
"      --at TIME            \"now\" for expiry and relative times\n"
"      --top N              rows in the top lists (default 10)\n"
"      --json               one JSON object on standard output instead of text\n"
"      --html FILE          also write a self-contained HTML page with charts\n"
"                           (inline SVG; no script, no network); \"-\": to\n"
"                           standard output instead of text\n"
"      --progress           show progress on standard error even when it is\n"
"                           not a terminal (default: only on a terminal)\n"
"      --no-progress        never show progress\n"
"  -q, --quiet              print nothing on standard output (with --html)\n"
"  -h, --help               show this help\n"
"\n"
"Time stamps: syslog (\"Dec  3 07:17:41\", the year from the file's date),\n"
"RFC 3339 (rsyslog, journalctl -o short-iso) and \"2026-12-03 07:17:41\".\n"
"Lines without one count only when no --since/--until is given.\n"
"Exit status: 0 report written; 2 usage error, an input that cannot be read,\n"
"or the HTML file cannot be written.\n"
"\n"
"Examples:\n"
"  smimectl report --since 30d -c /etc/smimeguard/smimeguard.conf \\\n"
"      --html /srv/reports/smime.html /var/log/mail.log*\n"
"  doveadm -f tab smime status -A all | smimectl report --status - --json\n");
}

static void report_free(struct report *r)
{
	size_t i;

	for (i = 0; i < r->n_src; i++)
		free(r->src[i].name);
	free(r->src);
	for (i = 0; i < r->n_certs; i++) {
		free(r->certs[i].setting);
		free(r->certs[i].location);
		free(r->certs[i].subject);
		free(r->certs[i].issuer);
		free(r->certs[i].serial);
		free(r->certs[i].emails);
	}
	free(r->certs);
	kv_free(&r->in_status);
	kv_free(&r->in_reasons);
	kv_free(&r->in_signers);
	kv_free(&r->in_cas);
	kv_free(&r->in_days);
	kv_free(&r->out_rules);
	kv_free(&r->out_domains);
	kv_free(&r->out_senders);
	kv_free(&r->out_days);
	kv_free(&r->mb_status);
	kv_free(&r->mb_changes);
	kv_free(&r->mb_reasons);
	kv_free(&r->mb_signers);
	kv_free(&r->mb_cas);
	kv_free(&r->mb_users);
	kv_free(&r->cert_seen);
	sg_policy_free(&r->pol);
}

static bool parse_uint(const char *arg, unsigned int max, unsigned int *v_r)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v > max ||
	    arg[0] == '-')
		return false;
	*v_r = (unsigned int)v;
	return true;
}

int cmd_report(int argc, char **argv)
{
	enum {
		O_STATUS = 0x200, O_SINCE, O_UNTIL, O_EXPIRY, O_TOP, O_JSON,
		O_HTML, O_PROGRESS, O_NO_PROGRESS
	};
	static const struct option opts[] = {
		CTL_STORE_LONGOPTS,
		{ "status", required_argument, NULL, O_STATUS },
		{ "since", required_argument, NULL, O_SINCE },
		{ "until", required_argument, NULL, O_UNTIL },
		{ "expiry-days", required_argument, NULL, O_EXPIRY },
		{ "top", required_argument, NULL, O_TOP },
		{ "json", no_argument, NULL, O_JSON },
		{ "html", required_argument, NULL, O_HTML },
		{ "progress", no_argument, NULL, O_PROGRESS },
		{ "no-progress", no_argument, NULL, O_NO_PROGRESS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct report r;
	struct ctl_store st;
	struct sg_config *conf = NULL;
	struct sg_error err;
	const char *since = NULL, *until = NULL, *html = NULL;
	const char **status_files = NULL;
	size_t n_status = 0, i;
	bool json = false, quiet = false, io_error = false, want_conf;
	int progress = -1, c, rr, ret = EXIT_SUCCESS;
	glob_t gl;

	memset(&r, 0, sizeof(r));
	memset(&st, 0, sizeof(st));
	r.top = 10;
	r.expiry_days = 60;
	status_files = xcalloc((size_t)argc, sizeof(*status_files));
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:qh", opts, NULL)) != -1) {
		if ((rr = ctl_store_option(&st, c, optarg)) < 0) {
			ret = EXIT_USAGE;
			goto out;
		}
		if (rr == 0)
			continue;
		switch (c) {
		case O_STATUS:
			status_files[n_status++] = optarg;
			break;
		case O_SINCE:
			since = optarg;
			break;
		case O_UNTIL:
			until = optarg;
			break;
		case O_EXPIRY:
			if (!parse_uint(optarg, 36500, &r.expiry_days)) {
				fprintf(stderr, "%s: report: --expiry-days: a number of "
					"days from 0 to 36500\n", progname);
				ret = EXIT_USAGE;
				goto out;
			}
			break;
		case O_TOP:
			if (!parse_uint(optarg, 100000, &r.top) || r.top == 0) {
				fprintf(stderr, "%s: report: --top: a number from 1 "
					"to 100000\n", progname);
				ret = EXIT_USAGE;
				goto out;
			}
			break;
		case O_JSON:
			json = true;
			break;
		case O_HTML:
			html = optarg;
			break;
		case O_PROGRESS:
			progress = 1;
			break;
		case O_NO_PROGRESS:
			progress = 0;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage_report(stdout);
			goto out;
		default:
			fprintf(stderr, "Try 'smimectl report --help'.\n");
			ret = EXIT_USAGE;
			goto out;
		}
	}
	r.now = st.at != 0 ? st.at : time(NULL);
	for (i = 0; i < 2; i++) {
		const char *arg = i == 0 ? since : until;

		if (arg == NULL || parse_when(arg, r.now, i == 0 ? &r.since : &r.until) == 0)
			continue;
		fprintf(stderr, "%s: report: --%s: '", progname, i == 0 ? "since" : "until");
		ctl_print_clean(stderr, arg);
		fprintf(stderr, "' is not a time (2026-11-01, 2026-11-01T08:00:00Z, "
			"@unix-seconds, or 7d, 24h, 4w)\n");
		ret = EXIT_USAGE;
		goto out;
	}
	r.have_since = since != NULL;
	r.have_until = until != NULL;
	if (r.have_since && r.have_until && r.until <= r.since) {
		fprintf(stderr, "%s: report: --until must be later than --since\n",
			progname);
		ret = EXIT_USAGE;
		goto out;
	}
	if (json && html != NULL && strcmp(html, "-") == 0) {
		fprintf(stderr, "%s: report: --json and --html - both write to "
			"standard output\n", progname);
		ret = EXIT_USAGE;
		goto out;
	}
	r.progress = progress == 1 ? 2 :
		     progress == -1 && isatty(STDERR_FILENO) ? 1 : 0;

	/* configuration: certificates and the policy */
	want_conf = st.config != NULL || st.trust != NULL || st.inter != NULL ||
		    st.maps != NULL;
	if (want_conf) {
		int n;

		if (ctl_store_config(&st, &conf) < 0) {
			ret = EXIT_USAGE;
			goto out;
		}
		n = sg_config_certificates(conf, cert_cb, &r, &r.certs_skipped, &err);
		if (n < 0) {
			fprintf(stderr, "%s: report: %s\n", progname, err.msg);
			ret = EXIT_USAGE;
			goto out;
		}
		r.have_certs = true;
		r.certs_checked = n;
		if (r.n_certs > 1)
			qsort(r.certs, r.n_certs, sizeof(*r.certs), cmp_cert);
		if (sg_policy_new(conf, &r.pol, &err) < 0) {
			fprintf(stderr, "%s: report: warning: the outbound policy cannot "
				"be read (%s): rules the logs do not name stay unknown\n",
				progname, err.msg);
			r.pol = NULL;
		}
	}

	/* inputs */
	for (i = 0; i < n_status; i++) {
		if (read_source(&r, status_files[i], true) < 0)
			io_error = true;
	}
	if (optind < argc) {
		for (c = optind; c < argc; c++) {
			if (read_source(&r, argv[c], false) < 0)
				io_error = true;
		}
	} else if (n_status == 0) {
		memset(&gl, 0, sizeof(gl));
		if (glob(DEFAULT_LOGS, 0, NULL, &gl) != 0 || gl.gl_pathc == 0) {
			fprintf(stderr, "%s: report: no input: no %s here; name the mail "
				"logs, or give --status\nTry 'smimectl report --help'.\n",
				progname, DEFAULT_LOGS);
			if (gl.gl_pathc == 0)
				globfree(&gl);
			ret = EXIT_USAGE;
			goto out;
		}
		for (i = 0; i < gl.gl_pathc; i++) {
			if (read_source(&r, gl.gl_pathv[i], false) < 0)
				io_error = true;
		}
		globfree(&gl);
	}

	/* output */
	if (html != NULL && write_html(&r, html) < 0) {
		fprintf(stderr, "%s: report: cannot write ", progname);
		ctl_print_clean(stderr, html);
		fprintf(stderr, ": %s\n", strerror(errno));
		ret = EXIT_USAGE;
		goto out;
	}
	if (!quiet && !(html != NULL && strcmp(html, "-") == 0)) {
		if (json)
			print_json(&r, stdout);
		else
			print_text(&r, stdout);
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "%s: write error: %s\n", progname, strerror(errno));
		ret = EXIT_USAGE;
	}
	if (io_error)
		ret = EXIT_USAGE;
out:
	free(status_files);
	report_free(&r);
	sg_config_free(&conf);
	ctl_store_free(&st);
	return ret;
}
