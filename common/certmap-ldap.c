/* certmap-ldap.c - the ldap: certificate map
 *
 * ldap:/etc/smimeguard/ldap.cf finds recipients' certificates in an LDAP
 * directory (OpenLDAP, Active Directory).  The map file follows Postfix's
 * ldap_table(5): "name = value" lines, '#' comments, a line that starts
 * with whitespace continues the previous one.  Settings (defaults in
 * brackets):
 *   server_host        LDAP URLs (ldap://, ldaps://, ldapi://) or host[:port],
 *                      separated by commas/spaces: fail-over, tried in order
 *                      [ldap://localhost]
 *   server_port        port for a server_host without a scheme [389]
 *   search_base        [""]
 *   scope              sub | one | base [sub]
 *   query_filter       %s the address, %u its local part, %d its domain (no
 *                      domain: no query), %% a '%'; every value escaped as
 *                      RFC 4515 says [(|(mail=%s)(proxyAddresses=smtp:%s))]
 *   result_attribute   [userSMIMECertificate;binary userSMIMECertificate
 *                       userCertificate;binary userCertificate]
 *   address_attribute  the entry's own addresses ("smtp:" dropped) [mail
 *                      proxyAddresses]: a certificate is used for the
 *                      address it names, or for another address of the
 *                      entry that holds it when it names one of the
 *                      entry's addresses (aliases); never for an entry
 *                      that holds someone else's certificate
 *   domain             only addresses in these domains are looked up [all]
 *   bind               yes | no | sasl [yes]: yes binds with bind_dn and
 *                      bind_pw (anonymous when bind_dn is empty), or with
 *                      SASL when sasl_mech is set
 *   bind_dn, bind_pw   a map file holding bind_pw must not be readable by
 *                      group or others
 *   sasl_mech          EXTERNAL (ldapi:// peer credentials, or a TLS client
 *                      certificate: tls_cert, tls_key)
 *   start_tls          yes | no [no]
 *   tls_ca_cert_file, tls_ca_cert_dir, tls_cert, tls_key,
 *   tls_require_cert   yes | no [yes]
 *   timeout            seconds, for connecting, binding and searching [5]
 *   cache_ttl          seconds an answer with certificates is kept [300]
 *   negative_cache_ttl seconds a "not found" is kept [60]
 *   size_limit         entries a search may return, 0: no limit [0]; more
 *                      is a temporary error
 *   dereference        0 never .. 3 always [0]
 *   version            3 (the only one supported)
 *
 * Values: userSMIMECertificate holds a PKCS#7 SignedData (certs-only,
 * possibly with S/MIME capabilities) or a bare certificate,
 * userCertificate a bare certificate; PEM text is accepted too.  CA
 * certificates of a bundle (basicConstraints CA:TRUE) are not candidates:
 * chains come from the trust store.  Each candidate's source names the
 * server, the attribute(s) and the entry: "ldap://ldap1:389
 * userSMIMECertificate;binary cn=Bob,ou=People,dc=example,dc=org".
 *
 * Connection: one handle per map, opened on first use and kept; any
 * server error drops it, and every server_host is tried again in order
 * (one that failed in the last 30 s goes last; one that timed out on the
 * kept connection is not tried again in that round).  When none answers,
 * the lookup is a temporary error, never "no certificate".  Connecting,
 * StartTLS, binding and searching each wait at most `timeout` seconds.
 *
 * Cache: answers per address, with and without certificates, for their
 * TTLs (monotonic clock); errors are not cached.
 *
 * SIGPIPE: libldap writes to its socket with write(2), so a server that
 * went away could raise SIGPIPE.  Around LDAP I/O the calling thread
 * blocks SIGPIPE and discards one that became pending; no process-wide
 * signal disposition is changed.
 */
#include "ldapmap-private.h"
#include "sg-base.h"
#include "dirmap-private.h"
#include "maps-private.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <ctype.h>
#include <unistd.h>

#include <ldap.h>
#include <openssl/err.h>
#include <sodium.h>

#define LM_MAX_FILE_SIZE (64 * 1024)
#define LM_MAX_SERVERS 16
#define LM_MAX_ATTRS 16
#define LM_MAX_DOMAINS 256
#define LM_CACHE_BUCKETS 1024
#define LM_CACHE_MAX 10000
#define LM_HOLDOFF_NS (30 * 1000000000LL)
/* after every server failed slowly (timeouts: a hanging directory), the
   next lookups fail at once for this long (or timeout, if longer), so a
   dead directory costs one lookup's wait, not every lookup's; servers
   that refuse at once are asked again at once */
#define LM_FAILFAST_NS (10 * 1000000000LL)
#define LM_SLOW_FAIL_NS (1000000000LL)

#define LM_DEFAULT_FILTER "(|(mail=%s)(proxyAddresses=smtp:%s))"
#define LM_DEFAULT_ATTRS "userSMIMECertificate;binary userSMIMECertificate " \
			 "userCertificate;binary userCertificate"
#define LM_DEFAULT_ADDR_ATTRS "mail proxyAddresses"

enum lm_bind { LM_BIND_NONE = 0, LM_BIND_SIMPLE, LM_BIND_SASL };

struct lm_server {
	char *url;
	long long failed_at;		/* monotonic ns of the last failure */
};

/* the answer for one address */
struct lm_answer {
	struct lm_answer *next;		/* hash chain */
	uint64_t hash;
	long long expires;		/* monotonic ns */
	struct sg_ldap_cands cands;	/* the candidates found */
	char *text;			/* SG_MAP_USE_TEXT: the value, or
					   NULL when there is none */
	char addr[];
};

struct sg_ldapmap {
	char *path;
	unsigned int use;		/* SG_MAP_USE_CERTS or _TEXT */
	/* settings */
	struct lm_server servers[LM_MAX_SERVERS];
	size_t n_servers;
	char *search_base;
	int scope;
	char *query_filter;
	char *attrs[LM_MAX_ATTRS + 1];	/* NULL-terminated: result_attribute,
					   then address_attribute */
	size_t n_cert_attrs;		/* of them result_attribute */
	char *domains[LM_MAX_DOMAINS];
	size_t n_domains;
	enum lm_bind bind;
	char *bind_dn;
	char *bind_pw;
	bool start_tls, tls_require_cert;
	char *tls_ca_cert_file, *tls_ca_cert_dir, *tls_cert, *tls_key;
	int timeout, size_limit, deref;
	unsigned int cache_ttl, negative_ttl;
	/* the connection */
	bool old_tls;			/* libldap < 2.6.9: see tls_async() */
	LDAP *ld;
	size_t cur;			/* servers[] index of ld */
	long long all_failed_at;	/* monotonic ns: every server failed
					   slowly; 0 when one answered since */
	char all_failed[400];		/* what they said */
	/* the cache */
	unsigned char key[crypto_shorthash_KEYBYTES];
	struct lm_answer *buckets[LM_CACHE_BUCKETS];
	size_t n_cached;
	struct lm_answer *uncached;	/* the last answer when TTL is 0 */
};

static bool old_tls_loop(void);

/* ---- small helpers ---- */

/* monotonic_ns - CLOCK_MONOTONIC in nanoseconds */
/* dup_n - a copy of n bytes as a string, NULL on out of memory */
static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d != NULL) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* printable - replace what is not printable ASCII (for messages) */
static void printable(char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
	}
}

/* ---- SIGPIPE ---- */

struct lm_sigpipe {
	sigset_t old;
	bool was_pending;
};

/* sigpipe_block - block SIGPIPE in this thread around LDAP I/O */
static void sigpipe_block(struct lm_sigpipe *sp)
{
	sigset_t set, pending;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigemptyset(&pending);
	sp->was_pending = sigpending(&pending) == 0 &&
			  sigismember(&pending, SIGPIPE) == 1;
	pthread_sigmask(SIG_BLOCK, &set, &sp->old);
}

/* sigpipe_restore - discard a SIGPIPE raised meanwhile, restore the mask */
static void sigpipe_restore(struct lm_sigpipe *sp)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	if (!sp->was_pending) {
		while (sigtimedwait(&set, NULL, &zero) == SIGPIPE)
			;
	}
	pthread_sigmask(SIG_SETMASK, &sp->old, NULL);
}

/* ---- the map file ---- */

enum lm_key {
	K_SERVER_HOST = 0, K_SERVER_PORT, K_SEARCH_BASE, K_SCOPE,
	K_QUERY_FILTER, K_RESULT_ATTRIBUTE, K_DOMAIN, K_BIND, K_BIND_DN,
	K_BIND_PW, K_SASL_MECH, K_SASL_MECHS, K_START_TLS, K_TLS_CA_CERT_FILE,
	K_TLS_CA_CERT_DIR, K_TLS_CERT, K_TLS_KEY, K_TLS_REQUIRE_CERT,
	K_TIMEOUT, K_CACHE_TTL, K_NEGATIVE_CACHE_TTL, K_SIZE_LIMIT,
	K_DEREFERENCE, K_VERSION, K_ADDRESS_ATTRIBUTE, K_COUNT
};

static const char *const key_names[K_COUNT] = {
	"server_host", "server_port", "search_base", "scope", "query_filter",
	"result_attribute", "domain", "bind", "bind_dn", "bind_pw",
	"sasl_mech", "sasl_mechs", "start_tls", "tls_ca_cert_file",
	"tls_ca_cert_dir", "tls_cert", "tls_key", "tls_require_cert",
	"timeout", "cache_ttl", "negative_cache_ttl", "size_limit",
	"dereference", "version", "address_attribute",
};

struct lm_file {
	char *buf;			/* the logical lines */
	char *value[K_COUNT];		/* point into buf, or NULL */
	int line[K_COUNT];
};

/* read_map_file - the whole map file (its mode is checked later) */
static char *read_map_file(const char *path, struct stat *st,
			   struct sg_error *err_r)
{
	char *text;
	ssize_t n;
	size_t used = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		sg_error_set(err_r, SG_ERR_IO, "ldap:%.160s: %s", path,
			     strerror(errno));
		return NULL;
	}
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) ||
	    st->st_size > LM_MAX_FILE_SIZE) {
		sg_error_set(err_r, SG_ERR_CONFIG,
			     "ldap:%.160s: not a regular file of at most %d bytes",
			     path, LM_MAX_FILE_SIZE);
		close(fd);
		return NULL;
	}
	if ((text = malloc((size_t)st->st_size + 1)) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		close(fd);
		return NULL;
	}
	while (used < (size_t)st->st_size) {
		n = read(fd, text + used, (size_t)st->st_size - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	text[used] = '\0';
	if (strlen(text) != used) {
		sg_error_set(err_r, SG_ERR_CONFIG,
			     "ldap:%.160s: contains a NUL byte", path);
		OPENSSL_cleanse(text, used);
		free(text);
		return NULL;
	}
	return text;
}

/* finish_line - one logical line "name = value" into f */
static int finish_line(const char *path, char *logical, int lineno,
		       struct lm_file *f, struct sg_error *err_r)
{
	size_t nlen = strcspn(logical, " \t=");
	char *value, *t;
	int k;

	value = logical + nlen + strspn(logical + nlen, " \t");
	if (nlen == 0 || *value != '=') {
		sg_error_set(err_r, SG_ERR_CONFIG,
			     "ldap:%.160s: line %d: not \"name = value\"",
			     path, lineno);
		return -1;
	}
	logical[nlen] = '\0';
	value++;
	value += strspn(value, " \t");
	t = value + strlen(value);
	while (t > value && (t[-1] == ' ' || t[-1] == '\t'))
		*--t = '\0';
	for (k = 0; k < K_COUNT; k++) {
		if (strcmp(logical, key_names[k]) == 0)
			break;
	}
	if (k == K_COUNT) {
		printable(logical);
		sg_error_set(err_r, SG_ERR_CONFIG,
			     "ldap:%.160s: line %d: unknown setting '%.40s'",
			     path, lineno, logical);
		return -1;
	}
	f->value[k] = value;		/* a later one wins */
	f->line[k] = lineno;
	return 0;
}

struct parse_state {
	const char *path;
	struct lm_file *f;
};

static int parse_line(void *context, char *line, unsigned int lineno,
		      struct sg_error *err_r)
{
	struct parse_state *ps = context;

	return finish_line(ps->path, line, (int)lineno, ps->f, err_r);
}

/* parse_lines - the settings of a map file (sg_conf_lines: Postfix
   main.cf syntax), on a copy of text that the values point into */
static int parse_lines(const char *path, const char *text, struct lm_file *f,
		       struct sg_error *err_r)
{
	struct parse_state ps = { path, f };
	char where[200];

	memset(f, 0, sizeof(*f));
	if ((f->buf = strdup(text)) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	snprintf(where, sizeof(where), "ldap:%.160s", path);
	return sg_conf_lines(f->buf, where, parse_line, &ps, err_r);
}

/* bad_value - the error for a setting's value */
static int bad_value(struct sg_ldapmap *lm, const struct lm_file *f,
		     enum lm_key k, const char *why, struct sg_error *err_r)
{
	sg_error_set(err_r, SG_ERR_CONFIG, "ldap:%.120s: line %d: %s: %s",
		     lm->path, f->line[k], key_names[k], why);
	return -1;
}

/* get_uint - a number setting in [min, max], or the default */
static int get_uint(struct sg_ldapmap *lm, const struct lm_file *f,
		    enum lm_key k, long min, long max, long dflt, long *v_r,
		    struct sg_error *err_r)
{
	const char *v = f->value[k];
	char *end, why[80];
	long n;

	*v_r = dflt;
	if (v == NULL)
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 ||
	    n < min || n > max) {
		snprintf(why, sizeof(why), "not a number from %ld to %ld", min,
			 max);
		return bad_value(lm, f, k, why, err_r);
	}
	*v_r = n;
	return 0;
}

/* get_bool - yes/no, or the default */
static int get_bool(struct sg_ldapmap *lm, const struct lm_file *f,
		    enum lm_key k, bool dflt, bool *v_r, struct sg_error *err_r)
{
	const char *v = f->value[k];

	*v_r = dflt;
	if (v == NULL)
		return 0;
	if (sg_conf_bool(v, v_r) < 0)
		return bad_value(lm, f, k, "not yes or no", err_r);
	return 0;
}

/* get_str - a copy of a string setting (or of the default, may be NULL) */
static int get_str(const struct lm_file *f, enum lm_key k, const char *dflt,
		   char **v_r, struct sg_error *err_r)
{
	const char *v = f->value[k] != NULL ? f->value[k] : dflt;

	*v_r = NULL;
	if (v == NULL || *v == '\0')
		return 0;
	if ((*v_r = strdup(v)) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

/* add_server - one server_host item as an LDAP URL */
static int add_server(struct sg_ldapmap *lm, const struct lm_file *f,
		      const char *item, size_t len, long port,
		      struct sg_error *err_r)
{
	LDAPURLDesc *lud = NULL;
	char why[200], *url;
	size_t size = len + 32;

	if (lm->n_servers == LM_MAX_SERVERS)
		return bad_value(lm, f, K_SERVER_HOST, "too many servers", err_r);
	if ((url = malloc(size)) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	if (memmem(item, len, "://", 3) != NULL)
		snprintf(url, size, "%.*s", (int)len, item);
	else if (memchr(item, ':', len) != NULL)
		snprintf(url, size, "ldap://%.*s", (int)len, item);
	else
		snprintf(url, size, "ldap://%.*s:%ld", (int)len, item, port);
	if (strncasecmp(url, "ldap://", 7) != 0 &&
	    strncasecmp(url, "ldaps://", 8) != 0 &&
	    strncasecmp(url, "ldapi://", 8) != 0) {
		snprintf(why, sizeof(why),
			 "'%.80s': only ldap://, ldaps:// and ldapi:// URLs", url);
		goto bad;
	}
	if (ldap_url_parse(url, &lud) != LDAP_URL_SUCCESS) {
		snprintf(why, sizeof(why), "'%.80s' is not an LDAP URL", url);
		lud = NULL;
		goto bad;
	}
	if ((lud->lud_dn != NULL && lud->lud_dn[0] != '\0') ||
	    lud->lud_attrs != NULL || lud->lud_filter != NULL ||
	    lud->lud_exts != NULL) {
		snprintf(why, sizeof(why),
			 "'%.80s': give only scheme://host:port (search_base, "
			 "result_attribute and query_filter are settings)", url);
		goto bad;
	}
	if (lm->start_tls && strcasecmp(lud->lud_scheme, "ldaps") == 0) {
		snprintf(why, sizeof(why),
			 "'%.80s': start_tls = yes cannot be used with ldaps://",
			 url);
		goto bad;
	}
	ldap_free_urldesc(lud);
	lm->servers[lm->n_servers++].url = url;
	return 0;
bad:
	if (lud != NULL)
		ldap_free_urldesc(lud);
	free(url);
	printable(why);
	return bad_value(lm, f, K_SERVER_HOST, why, err_r);
}

/* check_filter - a query_filter template: known escapes, balanced
   parentheses */
static int check_filter(struct sg_ldapmap *lm, const struct lm_file *f,
			const char *tmpl, struct sg_error *err_r)
{
	const char *p;
	int depth = 0;
	bool has_key = false;

	if (tmpl[0] != '(')
		return bad_value(lm, f, K_QUERY_FILTER,
				 "an LDAP filter starts with '('", err_r);
	for (p = tmpl; *p != '\0'; p++) {
		if (*p == '%') {
			if (p[1] == 's' || p[1] == 'u' || p[1] == 'd') {
				has_key = true;
				p++;
			} else if (p[1] == '%') {
				p++;
			} else {
				return bad_value(lm, f, K_QUERY_FILTER,
						 "only %s, %u, %d and %% may follow a '%'",
						 err_r);
			}
		} else if (*p == '(') {
			depth++;
		} else if (*p == ')') {
			if (--depth < 0)
				break;
		} else if ((unsigned char)*p < 0x20) {
			return bad_value(lm, f, K_QUERY_FILTER,
					 "contains a control character", err_r);
		}
	}
	if (depth != 0)
		return bad_value(lm, f, K_QUERY_FILTER,
				 "unbalanced parentheses", err_r);
	if (!has_key)
		return bad_value(lm, f, K_QUERY_FILTER,
				 "uses none of %s, %u, %d: every address would find the same entries",
				 err_r);
	return 0;
}

/* add_attrs - the attribute names of setting key (or its default),
   appended to lm->attrs; letters, digits and extra only.  0, -1 a bad
   value (err_r), -2 out of memory */
static int add_attrs(struct sg_ldapmap *lm, const struct lm_file *f, enum lm_key key,
		     const char *def, const char *extra, struct sg_error *err_r)
{
	const char *v = f->value[key] != NULL ? f->value[key] : def, *item;
	size_t len, n, i;

	for (n = 0; lm->attrs[n] != NULL; n++)
		;
	while (sg_list_next(&v, &item, &len)) {
		if (n >= LM_MAX_ATTRS)
			return bad_value(lm, f, key, "too many attributes", err_r);
		for (i = 0; i < len; i++)
			if (!isalnum((unsigned char)item[i]) &&
			    strchr(extra, item[i]) == NULL)
				return bad_value(lm, f, key,
						 "not an attribute description", err_r);
		if ((lm->attrs[n++] = dup_n(item, len)) == NULL)
			return -2;
	}
	return 0;
}

static int nomem_error(struct sg_error *err_r)
{
	sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
	return -1;
}

/* load_settings - interpret the map file */
static int load_settings(struct sg_ldapmap *lm, const struct lm_file *f,
			 const struct stat *st, struct sg_error *err_r)
{
	const char *v, *item;
	char *filter = NULL, *mech = NULL, *bind = NULL;
	size_t len;
	long n, port;
	bool yes = true;
	int ret;

	if (f->value[K_BIND_PW] != NULL &&
	    (st->st_mode & (S_IRGRP | S_IROTH)) != 0) {
		sg_error_set(err_r, SG_ERR_CONFIG,
			     "ldap:%.120s: holds bind_pw but is readable by %s "
			     "(mode %04o): chmod 600 it",
			     lm->path,
			     (st->st_mode & S_IROTH) ? "everyone" : "its group",
			     (unsigned int)(st->st_mode & 07777));
		return -1;
	}
	if (f->value[K_BIND_PW] != NULL && st->st_uid != 0 &&
	    st->st_uid != geteuid()) {
		/* checked on the descriptor that was read, not the path */
		sg_error_set(err_r, SG_ERR_CONFIG,
			     "ldap:%.120s: holds bind_pw but is owned by uid %u, "
			     "not by root or this service's user: chown it",
			     lm->path, (unsigned int)st->st_uid);
		return -1;
	}
	if (get_uint(lm, f, K_VERSION, 3, 3, 3, &n, err_r) < 0 ||
	    get_uint(lm, f, K_SERVER_PORT, 1, 65535, 389, &port, err_r) < 0 ||
	    get_uint(lm, f, K_TIMEOUT, 1, 600, 5, &n, err_r) < 0)
		return -1;
	lm->timeout = (int)n;
	if (get_uint(lm, f, K_CACHE_TTL, 0, 86400, 300, &n, err_r) < 0)
		return -1;
	lm->cache_ttl = (unsigned int)n;
	if (get_uint(lm, f, K_NEGATIVE_CACHE_TTL, 0, 86400, 60, &n, err_r) < 0)
		return -1;
	lm->negative_ttl = (unsigned int)n;
	if (get_uint(lm, f, K_SIZE_LIMIT, 0, 1000000, 0, &n, err_r) < 0)
		return -1;
	lm->size_limit = (int)n;
	if (get_uint(lm, f, K_DEREFERENCE, 0, 3, 0, &n, err_r) < 0)
		return -1;
	lm->deref = (int)n;
	if (get_bool(lm, f, K_START_TLS, false, &lm->start_tls, err_r) < 0 ||
	    get_bool(lm, f, K_TLS_REQUIRE_CERT, true, &lm->tls_require_cert,
		     err_r) < 0)
		return -1;
	/* servers */
	v = f->value[K_SERVER_HOST] != NULL ? f->value[K_SERVER_HOST] :
	    "ldap://localhost";
	while (sg_list_next(&v, &item, &len)) {
		if (add_server(lm, f, item, len, port, err_r) < 0)
			return -1;
	}
	if (lm->n_servers == 0)
		return bad_value(lm, f, K_SERVER_HOST, "no server", err_r);
	/* the search */
	if (get_str(f, K_SEARCH_BASE, "", &lm->search_base, err_r) < 0)
		return -1;
	v = f->value[K_SCOPE];
	if (v == NULL || strcasecmp(v, "sub") == 0)
		lm->scope = LDAP_SCOPE_SUBTREE;
	else if (strcasecmp(v, "one") == 0)
		lm->scope = LDAP_SCOPE_ONELEVEL;
	else if (strcasecmp(v, "base") == 0)
		lm->scope = LDAP_SCOPE_BASE;
	else
		return bad_value(lm, f, K_SCOPE, "not sub, one or base", err_r);
	if (get_str(f, K_QUERY_FILTER, LM_DEFAULT_FILTER, &filter, err_r) < 0)
		return -1;
	lm->query_filter = filter;
	if (filter == NULL)
		return bad_value(lm, f, K_QUERY_FILTER, "empty", err_r);
	if (check_filter(lm, f, filter, err_r) < 0)
		return -1;
	if (lm->use == SG_MAP_USE_TEXT && f->value[K_RESULT_ATTRIBUTE] == NULL) {
		sg_error_set(err_r, SG_ERR_CONFIG,
			     "ldap:%.120s: result_attribute is required in a map "
			     "of text values (e.g. result_attribute = "
			     "smimeEncryptionPolicy)", lm->path);
		return -1;
	}
	if (lm->use == SG_MAP_USE_TEXT && f->value[K_ADDRESS_ATTRIBUTE] != NULL)
		return bad_value(lm, f, K_ADDRESS_ATTRIBUTE,
				 "only a certificate map uses it", err_r);
	if ((ret = add_attrs(lm, f, K_RESULT_ATTRIBUTE, LM_DEFAULT_ATTRS,
			     "-;.", err_r)) != 0)
		return ret == -2 ? nomem_error(err_r) : -1;
	if (lm->attrs[0] == NULL)
		return bad_value(lm, f, K_RESULT_ATTRIBUTE, "empty", err_r);
	for (n = 0; lm->attrs[n] != NULL; n++)
		;
	lm->n_cert_attrs = n;
	if (lm->use == SG_MAP_USE_CERTS &&
	    (ret = add_attrs(lm, f, K_ADDRESS_ATTRIBUTE, LM_DEFAULT_ADDR_ATTRS,
			     "-", err_r)) != 0)
		return ret == -2 ? nomem_error(err_r) : -1;
	v = f->value[K_DOMAIN] != NULL ? f->value[K_DOMAIN] : "";
	while (sg_list_next(&v, &item, &len)) {
		if (lm->n_domains == LM_MAX_DOMAINS)
			return bad_value(lm, f, K_DOMAIN, "too many domains",
					 err_r);
		if ((lm->domains[lm->n_domains] = dup_n(item, len)) == NULL)
			goto nomem;
		lm->n_domains++;
	}
	/* binding */
	if (get_str(f, K_BIND_DN, NULL, &lm->bind_dn, err_r) < 0 ||
	    get_str(f, K_BIND_PW, NULL, &lm->bind_pw, err_r) < 0 ||
	    get_str(f, f->value[K_SASL_MECH] != NULL ? K_SASL_MECH :
		    K_SASL_MECHS, NULL, &mech, err_r) < 0)
		return -1;
	if (get_str(f, K_BIND, "yes", &bind, err_r) < 0) {
		free(mech);
		return -1;
	}
	if (mech != NULL && strcasecmp(mech, "EXTERNAL") != 0) {
		free(mech);
		free(bind);
		return bad_value(lm, f, f->value[K_SASL_MECH] != NULL ?
				 K_SASL_MECH : K_SASL_MECHS,
				 "only EXTERNAL is supported (ldapi:// peer "
				 "credentials or a TLS client certificate)", err_r);
	}
	/* yes and no as every boolean (sg_conf_bool), or sasl */
	if (bind != NULL && strcasecmp(bind, "sasl") == 0)
		lm->bind = LM_BIND_SASL;
	else if (bind != NULL && sg_conf_bool(bind, &yes) < 0)
		lm->bind = (enum lm_bind)-1;
	else if (bind == NULL || yes)
		lm->bind = mech != NULL ? LM_BIND_SASL :
			   lm->bind_dn != NULL ? LM_BIND_SIMPLE : LM_BIND_NONE;
	else
		lm->bind = LM_BIND_NONE;
	free(mech);
	free(bind);
	if (lm->bind == (enum lm_bind)-1)
		return bad_value(lm, f, K_BIND, "not yes, no or sasl", err_r);
	if (lm->bind_pw != NULL && lm->bind_dn == NULL)
		return bad_value(lm, f, K_BIND_PW, "set, but bind_dn is not",
				 err_r);
	if (lm->bind == LM_BIND_NONE && lm->bind_dn != NULL &&
	    f->value[K_BIND] != NULL)
		return bad_value(lm, f, K_BIND, "no, but bind_dn is set", err_r);
	if (get_str(f, K_TLS_CA_CERT_FILE, NULL, &lm->tls_ca_cert_file, err_r) < 0 ||
	    get_str(f, K_TLS_CA_CERT_DIR, NULL, &lm->tls_ca_cert_dir, err_r) < 0 ||
	    get_str(f, K_TLS_CERT, NULL, &lm->tls_cert, err_r) < 0 ||
	    get_str(f, K_TLS_KEY, NULL, &lm->tls_key, err_r) < 0)
		return -1;
	if ((lm->tls_cert == NULL) != (lm->tls_key == NULL))
		return bad_value(lm, f, lm->tls_cert == NULL ? K_TLS_KEY : K_TLS_CERT,
				 "tls_cert and tls_key go together", err_r);
	return 0;
nomem:
	sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
	return -1;
}

/* sg_ldapmap_new - read and check a map file (nothing is contacted) */
int sg_ldapmap_new(const char *path, unsigned int use,
		   struct sg_ldapmap **lm_r, struct sg_error *err_r)
{
	struct sg_ldapmap *lm;
	struct lm_file f;
	struct stat st;
	char *text;
	size_t len;
	int ret;

	*lm_r = NULL;
	if ((lm = calloc(1, sizeof(*lm))) == NULL ||
	    (lm->path = strdup(path)) == NULL) {
		free(lm);
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	lm->use = use;
	randombytes_buf(lm->key, sizeof(lm->key));
	lm->old_tls = old_tls_loop();
	if ((text = read_map_file(path, &st, err_r)) == NULL) {
		sg_ldapmap_free(&lm);
		return -1;
	}
	len = strlen(text);
	ret = parse_lines(path, text, &f, err_r);
	if (ret == 0)
		ret = load_settings(lm, &f, &st, err_r);
	/* both may hold bind_pw */
	OPENSSL_cleanse(text, len);
	free(text);
	if (f.buf != NULL) {
		OPENSSL_cleanse(f.buf, len);
		free(f.buf);
	}
	if (ret < 0) {
		sg_ldapmap_free(&lm);
		return -1;
	}
	*lm_r = lm;
	return 0;
}

/* ---- the cache ---- */

/* answer_free - one answer and its candidates */
static void answer_free(struct lm_answer *a)
{
	if (a == NULL)
		return;
	sg_ldap_cands_clear(&a->cands);
	free(a->text);
	free(a);
}

/* cache_sweep - drop answers: all, or only the expired ones */
static void cache_sweep(struct sg_ldapmap *lm, bool all, long long now)
{
	size_t i;

	for (i = 0; i < LM_CACHE_BUCKETS; i++) {
		struct lm_answer **pp = &lm->buckets[i], *a;

		while ((a = *pp) != NULL) {
			if (all || a->expires <= now) {
				*pp = a->next;
				answer_free(a);
				lm->n_cached--;
			} else {
				pp = &a->next;
			}
		}
	}
}

/* addr_hash - SipHash of an address with the map's key */
/* cache_get - a current answer for addr, or NULL (drops an expired one) */
static struct lm_answer *cache_get(struct sg_ldapmap *lm, const char *addr,
				   uint64_t h, long long now)
{
	struct lm_answer **pp = &lm->buckets[h % LM_CACHE_BUCKETS], *a;

	while ((a = *pp) != NULL) {
		if (a->hash == h && strcmp(a->addr, addr) == 0) {
			if (a->expires > now)
				return a;
			*pp = a->next;
			answer_free(a);
			lm->n_cached--;
			return NULL;
		}
		pp = &a->next;
	}
	return NULL;
}

/* cache_put - keep an answer for its TTL (or until the next find) */
static void cache_put(struct sg_ldapmap *lm, struct lm_answer *a,
		      long long now)
{
	unsigned int ttl = a->cands.n > 0 || a->text != NULL ? lm->cache_ttl :
			   lm->negative_ttl;
	size_t b;

	if (ttl == 0) {
		answer_free(lm->uncached);
		lm->uncached = a;
		return;
	}
	if (lm->n_cached >= LM_CACHE_MAX) {
		cache_sweep(lm, false, now);
		if (lm->n_cached >= LM_CACHE_MAX)
			cache_sweep(lm, true, now);
	}
	a->expires = now + (long long)ttl * 1000000000LL;
	b = a->hash % LM_CACHE_BUCKETS;
	a->next = lm->buckets[b];
	lm->buckets[b] = a;
	lm->n_cached++;
}

/* ---- filters ---- */

/* append_escaped - a value as RFC 4515 wants it in a filter */
static int append_escaped(struct sg_buf *out, const char *s, size_t len)
{
	size_t i;
	int e = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '*' || c == '(' || c == ')' || c == '\\' || c == '\0')
			e |= sg_buf_printf(out, "\\%02x", c);
		else
			e |= sg_buf_append(out, &s[i], 1);
	}
	return e;
}

/* sg_ldapmap_filter - expand a query_filter template for addr */
int sg_ldapmap_filter(const char *tmpl, const char *addr, struct sg_buf *out)
{
	const char *at = strrchr(addr, '@'), *p;
	int e = 0;

	out->used = 0;
	for (p = tmpl; *p != '\0'; p++) {
		if (*p != '%' || p[1] == '\0') {
			e |= sg_buf_append(out, p, 1);
			continue;
		}
		switch (*++p) {
		case 's':
			e |= append_escaped(out, addr, strlen(addr));
			break;
		case 'u':
			e |= append_escaped(out, addr, at != NULL ?
					    (size_t)(at - addr) : strlen(addr));
			break;
		case 'd':
			if (at == NULL || at[1] == '\0')
				return 1;	/* no domain: no query */
			e |= append_escaped(out, at + 1, strlen(at + 1));
			break;
		default:
			e |= sg_buf_append(out, p, 1);	/* "%%" */
			break;
		}
	}
	if (e != 0 || sg_buf_terminate(out) < 0)
		return -1;
	return 0;
}

/* ---- the connection ---- */

/* ld_message - "what failed: the server's words" into buf */
static void ld_message(LDAP *ld, int rc, const char *what, char *buf,
		       size_t size)
{
	char *diag = NULL;

	if (ld != NULL)
		ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	snprintf(buf, size, "%s%s%s%s%s", what, what[0] != '\0' ? ": " : "",
		 ldap_err2string(rc),
		 diag != NULL && diag[0] != '\0' ? ": " : "",
		 diag != NULL ? diag : "");
	ldap_memfree(diag);
	printable(buf);
}

/* disconnect - drop the connection */
static void disconnect(struct sg_ldapmap *lm)
{
	if (lm->ld != NULL) {
		ldap_unbind_ext(lm->ld, NULL, NULL);
		lm->ld = NULL;
	}
}

/* wait_result - the result of msgid within the timeout: an LDAP code
   (the server's result code is parsed when parse is true) */
static int wait_result(struct sg_ldapmap *lm, LDAP *ld, int msgid,
		       bool parse, LDAPMessage **res_r)
{
	struct timeval tv = { lm->timeout, 0 };
	LDAPMessage *res = NULL;
	int r, rc = LDAP_OTHER;

	if (res_r != NULL)
		*res_r = NULL;
	r = ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, &res);
	if (r == 0) {
		ldap_msgfree(res);
		return LDAP_TIMEOUT;
	}
	if (r < 0) {
		ldap_msgfree(res);
		if (ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &rc) != LDAP_OPT_SUCCESS ||
		    rc == LDAP_SUCCESS)
			rc = LDAP_SERVER_DOWN;
		return rc;
	}
	if (parse) {
		if (ldap_parse_result(ld, res, &rc, NULL, NULL, NULL, NULL, 0) !=
		    LDAP_SUCCESS)
			rc = LDAP_DECODING_ERROR;
	} else {
		rc = LDAP_SUCCESS;
	}
	if (res_r != NULL)
		*res_r = res;
	else
		ldap_msgfree(res);
	return rc;
}

/* opt - ldap_set_option on a handle: true when it worked */
static bool opt(LDAP *ld, int option, const void *value)
{
	return ldap_set_option(ld, option, value) == LDAP_OPT_SUCCESS;
}

/* set_tls_options - TLS settings of this handle (a new TLS context) */
static int set_tls_options(struct sg_ldapmap *lm, LDAP *ld)
{
	int req = lm->tls_require_cert ? LDAP_OPT_X_TLS_DEMAND :
		  LDAP_OPT_X_TLS_NEVER, zero = 0;

	if ((lm->tls_ca_cert_file != NULL &&
	     !opt(ld, LDAP_OPT_X_TLS_CACERTFILE, lm->tls_ca_cert_file)) ||
	    (lm->tls_ca_cert_dir != NULL &&
	     !opt(ld, LDAP_OPT_X_TLS_CACERTDIR, lm->tls_ca_cert_dir)) ||
	    (lm->tls_cert != NULL &&
	     !opt(ld, LDAP_OPT_X_TLS_CERTFILE, lm->tls_cert)) ||
	    (lm->tls_key != NULL &&
	     !opt(ld, LDAP_OPT_X_TLS_KEYFILE, lm->tls_key)) ||
	    !opt(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &req) ||
	    !opt(ld, LDAP_OPT_X_TLS_NEWCTX, &zero))
		return -1;
	return 0;
}

/*
 * old_tls_loop - does libldap time the TLS handshake out only in
 * "asynchronous connect" mode?  Before 2.6.9 (ITS#8047), with a network
 * timeout and without LDAP_OPT_CONNECT_ASYNC, ldap_int_tls_start() makes
 * the socket non-blocking and retries the handshake in a loop without
 * waiting: against a server that accepts but never answers it spins
 * forever.  With CONNECT_ASYNC it polls and gives up after the network
 * timeout.  (From 2.6.9 on, CONNECT_ASYNC means "return and call again",
 * so it must not be set there.)
 */
static bool old_tls_loop(void)
{
	LDAPAPIInfo info;
	int i;

	memset(&info, 0, sizeof(info));
	info.ldapai_info_version = LDAP_API_INFO_VERSION;
	if (ldap_get_option(NULL, LDAP_OPT_API_INFO, &info) != LDAP_OPT_SUCCESS)
		return false;
	for (i = 0; info.ldapai_extensions != NULL &&
	     info.ldapai_extensions[i] != NULL; i++)
		ldap_memfree(info.ldapai_extensions[i]);
	ldap_memfree(info.ldapai_extensions);
	ldap_memfree(info.ldapai_vendor_name);
	return info.ldapai_vendor_version < 20609;
}

/* install_tls - StartTLS's handshake, bounded by the network timeout also
   with an old libldap (see old_tls_loop) */
static int install_tls(struct sg_ldapmap *lm, LDAP *ld)
{
	int fd = -1, fl = -1, rc;

	if (!lm->old_tls)
		return ldap_install_tls(ld);
	if (ldap_get_option(ld, LDAP_OPT_DESC, &fd) == LDAP_OPT_SUCCESS &&
	    fd >= 0 && (fl = fcntl(fd, F_GETFL)) >= 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	(void)ldap_set_option(ld, LDAP_OPT_CONNECT_ASYNC, LDAP_OPT_ON);
	rc = ldap_install_tls(ld);
	(void)ldap_set_option(ld, LDAP_OPT_CONNECT_ASYNC, LDAP_OPT_OFF);
	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl);
	return rc;
}

/* connect_server - open, StartTLS and bind to servers[i]; 0, or -1 with
   why */
static int connect_server(struct sg_ldapmap *lm, size_t i, char *why,
			  size_t why_size)
{
	const char *url = lm->servers[i].url;
	struct timeval tv = { lm->timeout, 0 };
	int v3 = LDAP_VERSION3, rc, msgid = -1;
	LDAP *ld = NULL;

	rc = ldap_initialize(&ld, url);
	if (rc != LDAP_SUCCESS) {
		ld_message(NULL, rc, "cannot set up", why, why_size);
		return -1;
	}
	if (!opt(ld, LDAP_OPT_PROTOCOL_VERSION, &v3) ||
	    !opt(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) ||
	    !opt(ld, LDAP_OPT_TIMEOUT, &tv) ||
	    !opt(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) ||
	    !opt(ld, LDAP_OPT_RESTART, LDAP_OPT_ON) ||
	    !opt(ld, LDAP_OPT_DEREF, &lm->deref) ||
	    ((lm->start_tls || strncasecmp(url, "ldaps:", 6) == 0) &&
	     set_tls_options(lm, ld) < 0) ||
	    /* ldaps://: the handshake at connect time (see old_tls_loop) */
	    (lm->old_tls && strncasecmp(url, "ldaps:", 6) == 0 &&
	     !opt(ld, LDAP_OPT_CONNECT_ASYNC, LDAP_OPT_ON))) {
		snprintf(why, why_size, "cannot set the connection options");
		goto fail;
	}
	if (lm->start_tls) {
		rc = ldap_start_tls(ld, NULL, NULL, &msgid);
		if (rc == LDAP_SUCCESS)
			rc = wait_result(lm, ld, msgid, true, NULL);
		if (rc == LDAP_SUCCESS)
			rc = install_tls(lm, ld);
		if (rc != LDAP_SUCCESS) {
			ld_message(ld, rc, "StartTLS", why, why_size);
			goto fail;
		}
	}
	if (lm->bind != LM_BIND_NONE) {
		struct berval cred = { 0, NULL };

		if (lm->bind == LM_BIND_SIMPLE) {
			cred.bv_val = lm->bind_pw != NULL ? lm->bind_pw : "";
			cred.bv_len = strlen(cred.bv_val);
			rc = ldap_sasl_bind(ld, lm->bind_dn, LDAP_SASL_SIMPLE,
					    &cred, NULL, NULL, &msgid);
		} else {
			/* an empty initial response: no authorization
			   identity, use the one the transport proves */
			cred.bv_val = "";
			rc = ldap_sasl_bind(ld, NULL, "EXTERNAL", &cred, NULL,
					    NULL, &msgid);
		}
		if (rc == LDAP_SUCCESS)
			rc = wait_result(lm, ld, msgid, true, NULL);
		if (rc != LDAP_SUCCESS) {
			ld_message(ld, rc, lm->bind == LM_BIND_SIMPLE ?
				   "bind" : "SASL EXTERNAL bind", why, why_size);
			goto fail;
		}
	}
	lm->ld = ld;
	lm->cur = i;
	return 0;
fail:
	ldap_unbind_ext(ld, NULL, NULL);
	return -1;
}

/* search_on - one search on the current connection: an LDAP code */
static int search_on(struct sg_ldapmap *lm, const char *filter,
		     LDAPMessage **res_r)
{
	struct timeval tv = { lm->timeout, 0 };	/* the server's time limit */
	int rc, msgid;

	*res_r = NULL;
	rc = ldap_search_ext(lm->ld, lm->search_base != NULL ? lm->search_base : "",
			     lm->scope, filter, lm->attrs, 0, NULL, NULL, &tv,
			     lm->size_limit, &msgid);
	if (rc != LDAP_SUCCESS)
		return rc;
	return wait_result(lm, lm->ld, msgid, true, res_r);
}

/* append_why - add "url: why" to the summary of failed servers */
static void append_why(char *sum, size_t size, const char *url,
		       const char *why)
{
	size_t used = strlen(sum);

	if (used + 4 < size)
		snprintf(sum + used, size - used, "%s%s: %s",
			 used > 0 ? "; " : "", url, why);
}

/* search - the filter on a server that answers; 0 and *res_r, or -1 */
static int search(struct sg_ldapmap *lm, const char *filter,
		  LDAPMessage **res_r, struct sg_error *err_r)
{
	size_t order[LM_MAX_SERVERS], n = 0, i, skip = SIZE_MAX;
	long long now = sg_monotonic_ns();
	char sum[400] = "", why[200];
	long long window = (long long)lm->timeout * 1000000000LL, end;
	int rc;

	*res_r = NULL;
	if (window < LM_FAILFAST_NS)
		window = LM_FAILFAST_NS;
	if (lm->all_failed_at != 0 && now - lm->all_failed_at < window) {
		sg_error_set(err_r, SG_ERR_IO, "ldap:%.100s: no LDAP server answered "
			     "(%lld s ago, asked again in %lld s): %.200s", lm->path,
			     (now - lm->all_failed_at) / 1000000000LL,
			     (window - (now - lm->all_failed_at)) / 1000000000LL + 1,
			     lm->all_failed);
		return -1;
	}
	if (lm->ld != NULL) {
		rc = search_on(lm, filter, res_r);
		if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED ||
		    rc == LDAP_NO_SUCH_OBJECT || rc == LDAP_FILTER_ERROR)
			goto answered;
		ldap_msgfree(*res_r);
		*res_r = NULL;
		ld_message(lm->ld, rc, "", why, sizeof(why));
		append_why(sum, sizeof(sum), lm->servers[lm->cur].url, why);
		lm->servers[lm->cur].failed_at = now;
		if (rc == LDAP_TIMEOUT)
			skip = lm->cur;	/* hanging: not again this round */
		disconnect(lm);
	}
	/* servers in order; those that failed recently last */
	for (i = 0; i < lm->n_servers; i++) {
		if (lm->servers[i].failed_at == 0 ||
		    now - lm->servers[i].failed_at >= LM_HOLDOFF_NS)
			order[n++] = i;
	}
	for (i = 0; i < lm->n_servers; i++) {
		if (lm->servers[i].failed_at != 0 &&
		    now - lm->servers[i].failed_at < LM_HOLDOFF_NS)
			order[n++] = i;
	}
	for (i = 0; i < n; i++) {
		size_t s = order[i];

		if (s == skip)
			continue;
		if (connect_server(lm, s, why, sizeof(why)) < 0) {
			append_why(sum, sizeof(sum), lm->servers[s].url, why);
			lm->servers[s].failed_at = sg_monotonic_ns();
			continue;
		}
		rc = search_on(lm, filter, res_r);
		if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED ||
		    rc == LDAP_NO_SUCH_OBJECT || rc == LDAP_FILTER_ERROR)
			goto answered;
		ldap_msgfree(*res_r);
		*res_r = NULL;
		ld_message(lm->ld, rc, "search", why, sizeof(why));
		append_why(sum, sizeof(sum), lm->servers[s].url, why);
		lm->servers[s].failed_at = sg_monotonic_ns();
		disconnect(lm);
	}
	sg_error_set(err_r, SG_ERR_IO, "ldap:%.100s: no LDAP server answered: %s",
		     lm->path, sum);
	end = sg_monotonic_ns();
	if (end - now >= LM_SLOW_FAIL_NS) {
		lm->all_failed_at = end;
		sg_strlcpy(lm->all_failed, sum, sizeof(lm->all_failed));
	}
	return -1;
answered:
	lm->all_failed_at = 0;
	lm->servers[lm->cur].failed_at = 0;
	if (rc == LDAP_SUCCESS)
		return 0;
	ldap_msgfree(*res_r);
	*res_r = NULL;
	if (rc == LDAP_SIZELIMIT_EXCEEDED)
		sg_error_set(err_r, SG_ERR_IO,
			     "ldap:%.100s: more entries than size_limit (%d) match %.80s",
			     lm->path, lm->size_limit, filter);
	else if (rc == LDAP_NO_SUCH_OBJECT)
		sg_error_set(err_r, SG_ERR_CONFIG,
			     "ldap:%.100s: search_base '%.80s' does not exist on %.80s",
			     lm->path, lm->search_base != NULL ? lm->search_base : "",
			     lm->servers[lm->cur].url);
	else
		sg_error_set(err_r, SG_ERR_CONFIG,
			     "ldap:%.100s: the server rejects the filter %.100s (query_filter)",
			     lm->path, filter);
	return -1;
}

/* is_address_attr - is attr (as the server names it, maybe with
   options) one of address_attribute */
static bool is_address_attr(const struct sg_ldapmap *lm, const char *attr)
{
	size_t base = strcspn(attr, ";"), i;

	for (i = lm->n_cert_attrs; lm->attrs[i] != NULL; i++) {
		if (strlen(lm->attrs[i]) == base &&
		    strncasecmp(attr, lm->attrs[i], base) == 0)
			return true;
	}
	return false;
}

/* read_entries - every entry of a search result into the answer */
static int read_entries(struct sg_ldapmap *lm, LDAPMessage *res,
			struct lm_answer *a)
{
	struct sg_ldap_pend *pl = sg_ldap_pend_new();
	LDAPMessage *e;
	int ret = 0;

	if (pl == NULL)
		return -1;
	for (e = ldap_first_entry(lm->ld, res); e != NULL && ret == 0;
	     e = ldap_next_entry(lm->ld, e)) {
		BerElement *ber = NULL;
		char *dn = ldap_get_dn(lm->ld, e), *attr;

		for (attr = ldap_first_attribute(lm->ld, e, &ber);
		     attr != NULL && ret == 0;
		     attr = ldap_next_attribute(lm->ld, e, ber)) {
			struct berval **vals = ldap_get_values_len(lm->ld, e, attr);
			bool addr = is_address_attr(lm, attr);
			size_t i;

			for (i = 0; vals != NULL && vals[i] != NULL && ret == 0; i++)
				ret = addr ? sg_ldap_pend_address(pl,
					(const unsigned char *)vals[i]->bv_val,
					vals[i]->bv_len) :
					sg_ldap_pend_value(pl,
					(const unsigned char *)vals[i]->bv_val,
					vals[i]->bv_len, attr);
			ldap_value_free_len(vals);
			ldap_memfree(attr);
		}
		ber_free(ber, 0);
		if (ret == 0)
			ret = sg_ldap_pend_finish(pl, &a->cands,
						  lm->servers[lm->cur].url,
						  dn != NULL ? dn : "");
		ldap_memfree(dn);
	}
	sg_ldap_pend_free(&pl);
	return ret;
}

/* in_domains - is the address's domain one the map serves */
static bool in_domains(const struct sg_ldapmap *lm, const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t i;

	if (lm->n_domains == 0)
		return true;
	if (at == NULL)
		return false;
	for (i = 0; i < lm->n_domains; i++) {
		if (strcasecmp(at + 1, lm->domains[i]) == 0)
			return true;
	}
	return false;
}

/* sg_ldapmap_find - the certificates of an address */
int sg_ldapmap_find(struct sg_ldapmap *lm, const char *addr,
		    struct sg_dirmap_cert *const **certs_r, size_t *n_r,
		    struct sg_error *err_r)
{
	struct sg_buf filter = { 0 };
	struct lm_answer *a;
	struct lm_sigpipe sp;
	LDAPMessage *res = NULL;
	long long now = sg_monotonic_ns();
	uint64_t h = sg_addr_hash(lm->key, addr);
	int fr, ret;

	sg_assert(lm->use == SG_MAP_USE_CERTS);
	*certs_r = NULL;
	*n_r = 0;
	if ((a = cache_get(lm, addr, h, now)) != NULL) {
		*certs_r = a->cands.pubs;
		*n_r = a->cands.n;
		return 0;
	}
	if ((a = calloc(1, sizeof(*a) + strlen(addr) + 1)) == NULL)
		goto nomem;
	strcpy(a->addr, addr);
	a->hash = h;
	fr = in_domains(lm, addr) ?
	     sg_ldapmap_filter(lm->query_filter, addr, &filter) : 1;
	if (fr < 0)
		goto nomem;
	if (fr == 0) {
		sigpipe_block(&sp);
		ret = search(lm, (const char *)filter.data, &res, err_r);
		if (ret == 0 && read_entries(lm, res, a) < 0)
			ret = -2;
		ldap_msgfree(res);
		sigpipe_restore(&sp);
		if (ret == -2)
			goto nomem;
		if (ret < 0) {
			answer_free(a);
			sg_buf_free(&filter);
			return -1;
		}
	}
	sg_buf_free(&filter);
	cache_put(lm, a, now);
	*certs_r = a->cands.pubs;
	*n_r = a->cands.n;
	return 0;
nomem:
	answer_free(a);
	sg_buf_free(&filter);
	sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
	return -1;
}

/* read_text - the values of result_attribute of every entry: one value
   (the same in every entry that has one) into a->text; 0, -3 out of
   memory, -2 not one value that fits (err_r) */
static int read_text(struct sg_ldapmap *lm, LDAPMessage *res,
		     struct lm_answer *a, const char *key, size_t size,
		     struct sg_error *err_r)
{
	LDAPMessage *e;
	size_t n_values = 0;
	int ret = 0;

	for (e = ldap_first_entry(lm->ld, res); e != NULL && ret == 0;
	     e = ldap_next_entry(lm->ld, e)) {
		size_t k;

		for (k = 0; k < lm->n_cert_attrs && ret == 0; k++) {
			struct berval **vals = ldap_get_values_len(lm->ld, e,
								   lm->attrs[k]);
			size_t i;

			for (i = 0; vals != NULL && vals[i] != NULL && ret == 0; i++) {
				const struct berval *v = vals[i];

				if (v->bv_len >= size ||
				    memchr(v->bv_val, '\0', v->bv_len) != NULL) {
					sg_error_set(err_r, SG_ERR_CONFIG,
						     "ldap:%.100s: the %s of '%.80s' is "
						     "%s", lm->path, lm->attrs[k], key,
						     v->bv_len >= size ? "too long" :
						     "not text (a NUL byte)");
					ret = -2;
				} else if (a->text == NULL) {
					if ((a->text = dup_n(v->bv_val, v->bv_len)) == NULL)
						ret = -3;
					n_values++;
				} else if (strlen(a->text) != v->bv_len ||
					   memcmp(a->text, v->bv_val, v->bv_len) != 0) {
					n_values++;
				}
			}
			ldap_value_free_len(vals);
		}
	}
	if (ret == 0 && n_values > 1) {
		sg_error_set(err_r, SG_ERR_CONFIG,
			     "ldap:%.100s: '%.80s' has %zu different values of "
			     "%s (one is expected)", lm->path, key, n_values,
			     lm->attrs[0]);
		ret = -2;
	}
	if (ret < 0) {
		free(a->text);
		a->text = NULL;
	}
	return ret;
}

/* sg_ldapmap_lookup - the text value of a key */
int sg_ldapmap_lookup(struct sg_ldapmap *lm, const char *key, char *value,
		      size_t size, struct sg_error *err_r)
{
	struct sg_buf filter = { 0 };
	struct lm_answer *a;
	struct lm_sigpipe sp;
	LDAPMessage *res = NULL;
	long long now = sg_monotonic_ns();
	uint64_t h = sg_addr_hash(lm->key, key);
	int fr, ret;

	sg_assert(lm->use == SG_MAP_USE_TEXT && size > 0);
	value[0] = '\0';
	if ((a = cache_get(lm, key, h, now)) == NULL) {
		if ((a = calloc(1, sizeof(*a) + strlen(key) + 1)) == NULL)
			goto nomem;
		strcpy(a->addr, key);
		a->hash = h;
		fr = in_domains(lm, key) ?
		     sg_ldapmap_filter(lm->query_filter, key, &filter) : 1;
		if (fr < 0)
			goto nomem;
		if (fr == 0) {
			sigpipe_block(&sp);
			ret = search(lm, (const char *)filter.data, &res, err_r);
			if (ret == 0)
				ret = read_text(lm, res, a, key, size, err_r);
			ldap_msgfree(res);
			sigpipe_restore(&sp);
			if (ret == -3)
				goto nomem;
			if (ret < 0) {
				/* not cached: asked again next time */
				if (err_r != NULL)
					printable(err_r->msg);
				answer_free(a);
				sg_buf_free(&filter);
				return -1;
			}
		}
		sg_buf_free(&filter);
		cache_put(lm, a, now);
	}
	if (a->text == NULL)
		return 0;
	if (strlen(a->text) >= size) {
		sg_error_set(err_r, SG_ERR_CONFIG, "ldap:%.100s: the value of "
			     "'%.80s' is too long", lm->path, key);
		return -1;
	}
	strcpy(value, a->text);
	return 1;
nomem:
	answer_free(a);
	sg_buf_free(&filter);
	sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
	return -1;
}

/* sg_ldapmap_origin - the entry and attributes of a found certificate */
void sg_ldapmap_origin(const struct sg_dirmap_cert *c, const char **dn_r,
		       unsigned int *classes_r)
{
	const struct sg_ldap_cand *lc = SG_CONTAINER_OF(c, const struct sg_ldap_cand, pub);

	*dn_r = lc->dn;
	*classes_r = lc->classes;
}

/* sg_ldapmap_path - the map file */
const char *sg_ldapmap_path(const struct sg_ldapmap *lm)
{
	return lm->path;
}

/* sg_ldapmap_free - free and set *lm to NULL; NULL-safe */
void sg_ldapmap_free(struct sg_ldapmap **lmp)
{
	struct sg_ldapmap *lm = *lmp;
	struct lm_sigpipe sp;
	size_t i;

	if (lm == NULL)
		return;
	if (lm->ld != NULL) {
		sigpipe_block(&sp);
		disconnect(lm);
		sigpipe_restore(&sp);
	}
	cache_sweep(lm, true, 0);
	answer_free(lm->uncached);
	for (i = 0; i < lm->n_servers; i++)
		free(lm->servers[i].url);
	for (i = 0; lm->attrs[i] != NULL; i++)
		free(lm->attrs[i]);
	for (i = 0; i < lm->n_domains; i++)
		free(lm->domains[i]);
	free(lm->search_base);
	free(lm->query_filter);
	free(lm->bind_dn);
	if (lm->bind_pw != NULL) {
		OPENSSL_cleanse(lm->bind_pw, strlen(lm->bind_pw));
		free(lm->bind_pw);
	}
	free(lm->tls_ca_cert_file);
	free(lm->tls_ca_cert_dir);
	free(lm->tls_cert);
	free(lm->tls_key);
	free(lm->path);
	free(lm);
	*lmp = NULL;
}

/* ---- the ldap: type of the map layer (maps.c) ---- */

static int ldap_open(const char *name, unsigned int use, void **obj_r,
		     struct sg_error *err_r)
{
	struct sg_ldapmap *lm;

	if (sg_ldapmap_new(name, use, &lm, err_r) < 0)
		return -1;
	*obj_r = lm;
	return 0;
}

static int ldap_lookup(void *obj, const char *key, char *value, size_t size,
		       struct sg_error *err_r)
{
	return sg_ldapmap_lookup(obj, key, value, size, err_r);
}

static int ldap_find(void *obj, const char *addr,
		     struct sg_dirmap_cert *const **certs_r, size_t *n_r,
		     struct sg_error *err_r)
{
	return sg_ldapmap_find(obj, addr, certs_r, n_r, err_r) < 0 ? -1 : 0;
}

/* ldap_diagnose - the map file reads and holds what the use needs (no
   server is contacted) */
static int ldap_diagnose(const char *setting, const char *spec,
			 const char *name, unsigned int use, char *text,
			 size_t text_size, char *fix, size_t fix_size,
			 struct sg_error *err_r)
{
	struct sg_ldapmap *lm = NULL;
	struct sg_error e;

	(void)spec;
	if (sg_ldapmap_new(name, use, &lm, &e) == 0) {
		sg_ldapmap_free(&lm);
		return 0;
	}
	if (e.code == SG_ERR_NOMEM) {
		*err_r = e;
		return -1;
	}
	snprintf(text, text_size, "%s: %s", setting, e.msg);
	snprintf(fix, fix_size, "correct the map file %s (ldap_table(5) "
		 "settings)", name);
	return 1;
}

static void ldap_close(void **objp)
{
	struct sg_ldapmap *lm = *objp;

	sg_ldapmap_free(&lm);
	*objp = NULL;
}

const struct sg_map_type_def sg_map_type_ldap = {
	.name = "ldap",
	.uses = SG_MAP_USE_CERTS | SG_MAP_USE_TEXT,
	.label = "LDAP",
	.no_name = "names no map file (e.g. ldap:/etc/smimeguard/ldap.cf)",
	.name_is_path = true,
	.waits = true,
	.open = ldap_open,
	.lookup = ldap_lookup,
	.find = ldap_find,
	.origin = sg_ldapmap_origin,
	.diagnose = ldap_diagnose,
	.close = ldap_close,
};
