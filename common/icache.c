/* icache.c - intermediate CAs learned from mail and fetched through AIA
 *
 * The most common reason a genuine signature fails is an intermediate
 * CA the sender's client did not include.  Windows completes such
 * chains from the issuer named in the certificate's Authority
 * Information Access caIssuers URL; this file does the same, within
 * two rules:
 *  - nothing here is ever a trust anchor: cached certificates go to
 *    ctx->intermediates, the untrusted pool path building may use, so a
 *    chain still has to end at a configured anchor (trust.c);
 *  - a certificate enters the cache only as a CA that provably issued
 *    something: an intermediate of a path that verified to an anchor
 *    (sg_icache_learn), or a fetched CA whose key verifies the signature
 *    of the certificate whose issuer was missing (fetch_issuer).
 *
 * The cache is a directory (intermediate_cache) of <sha256-hex>.pem
 * files written atomically, read when a context is created; capped by
 * intermediate_cache_max; expired and self-signed certificates are not
 * loaded.  aia_fetch = yes fetches while verifying, within
 * aia_fetch_timeout for the whole verification and at most once an hour
 * per missing issuer; cache-only writes the certificate whose issuer is
 * missing into pending/, for sg_ca_fetch_pending (smimectl ca fetch,
 * from cron).  Downloads are sg_crl_download's: http:// only, the
 * crl_fetch_proxy, crl_fetch_redirects and crl_fetch_allow_local rules.
 */
#include "icache-private.h"
#include "sg-base.h"
#include "crl-private.h"
#include "ctx-private.h"
#include "x509-private.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#define AIA_MAX_SIZE (1024 * 1024)	/* one answer */
#define AIA_MAX_URLS 4			/* caIssuers URLs tried per certificate */
#define AIA_MAX_CERTS 32		/* certificates of one answer */
#define AIA_MAX_LEVELS 4		/* issuers fetched for one chain */
#define AIA_RETRY_SECS 3600		/* a failed issuer is not retried sooner */
#define FAIL_SLOTS 64
#define PENDING_MAX 256			/* queued certificates */
#define CACHE_FILE_MAX 65536		/* one cached certificate file */

enum aia_mode { AIA_NO, AIA_CACHE_ONLY, AIA_YES };

struct fail_slot {
	unsigned char key[32];
	time_t until;
};

struct sg_icache {
	char *dir;
	enum aia_mode mode;
	unsigned int timeout;		/* aia_fetch_timeout: one verification */
	unsigned int fetch_timeout;	/* crl_fetch_timeout: smimectl */
	unsigned int flags;		/* SG_CRL_FETCH_* */
	char *proxy;
	size_t max, count;		/* intermediate_cache_max; cached */
	unsigned char (*known)[32];	/* SHA-256 of ctx->intermediates, sorted */
	size_t n_known, size_known;
	struct fail_slot fails[FAIL_SLOTS];
	bool dir_seen;			/* dir_ino, dir_mtime are set */
	ino_t dir_ino;			/* the directory as last read */
	struct timespec dir_mtime;
	/* aia_fetch = yes: one fetch at a time in a process, so that a
	   thread whose issuer another thread is fetching waits for it and
	   then finds it learned, instead of failing meanwhile.  Taken
	   before ctx->lock, never while holding it. */
	pthread_mutex_t fetch_lock;
	bool fetch_lock_ready;
};

static const char *const outcome_names[] = {
	[SG_AIA_STORED] = "stored",
	[SG_AIA_PRESENT] = "present",
	[SG_AIA_NO_URL] = "no-url",
	[SG_AIA_FAILED] = "failed",
	[SG_AIA_REJECTED] = "rejected",
	[SG_AIA_CAPPED] = "capped",
	[SG_AIA_QUEUED] = "queued",
};

const char *sg_aia_outcome_name(enum sg_aia_outcome outcome)
{
	if ((size_t)outcome >= SG_ARRAY_SIZE(outcome_names))
		return "unknown";
	return outcome_names[outcome];
}

/* ---- fingerprints of the known intermediates ---- */

static bool fingerprint(X509 *x, unsigned char out[32])
{
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);

	if (len <= 0) {
		sg_openssl_errors(NULL, 0);
		return false;
	}
	crypto_hash_sha256(out, der, (size_t)len);
	OPENSSL_free(der);
	return true;
}

static bool known_has(const struct sg_icache *ic, const unsigned char fpr[32])
{
	return ic->n_known > 0 &&
	       bsearch(fpr, ic->known, ic->n_known, 32, sg_cmp_sha256) != NULL;
}

/* known_add - insert in order; -1 on ENOMEM */
static int known_add(struct sg_icache *ic, const unsigned char fpr[32])
{
	size_t i;

	if (known_has(ic, fpr))
		return 0;
	if (ic->n_known == ic->size_known) {
		size_t size = ic->size_known == 0 ? 64 : ic->size_known * 2;
		void *p = realloc(ic->known, size * 32);

		if (p == NULL)
			return -1;
		ic->known = p;
		ic->size_known = size;
	}
	for (i = ic->n_known; i > 0 && memcmp(ic->known[i - 1], fpr, 32) > 0; i--)
		memcpy(ic->known[i], ic->known[i - 1], 32);
	memcpy(ic->known[i], fpr, 32);
	ic->n_known++;
	return 0;
}

/* add_intermediate - x (a reference is taken) into ctx->intermediates */
static int add_intermediate(struct sg_ctx *ctx, X509 *x,
			    const unsigned char fpr[32])
{
	if (known_add(ctx->icache, fpr) < 0 ||
	    !sk_X509_push(ctx->intermediates, x))
		return -1;
	X509_up_ref(x);
	return 0;
}

static bool self_signed(X509 *x)
{
	return (X509_get_extension_flags(x) & EXFLAG_SS) != 0;
}

static bool is_ca(X509 *x)
{
	return X509_check_ca(x) >= 1;
}

static bool expired(X509 *x, time_t now)
{
	return sg_trust_asn1_time(X509_get0_notAfter(x), 0) <= now;
}

/* ---- reading and writing the cache directory ---- */

static X509 *read_cert_file(const char *path)
{
	struct stat st;
	BIO *bio;
	X509 *x = NULL;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > CACHE_FILE_MAX)
		return NULL;
	if ((bio = BIO_new_file(path, "r")) != NULL) {
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	if (x != NULL)	/* cached now: shared certs stay read-only */
		(void)X509_check_purpose(x, -1, 0);
	sg_openssl_errors(NULL, 0);
	return x;
}

/* cache_name - "<sha256-hex>.pem" */
static void cache_name(const unsigned char fpr[32], char name[70])
{
	sodium_bin2hex(name, 65, fpr, 32);
	memcpy(name + 64, ".pem", 5);
}

static int write_x509_pem(BIO *bio, const void *x)
{
	return PEM_write_bio_X509(bio, (X509 *)x);
}

/* load_dir - the cached CAs into ctx->intermediates: current,
   not self-signed, at most max */
static int load_dir(struct sg_ctx *ctx, struct sg_error *err_r)
{
	struct sg_icache *ic = ctx->icache;
	time_t now = time(NULL);
	struct dirent *de;
	struct stat st;
	char path[4096];
	DIR *d;

	/* the stamp first: a file added while reading is seen next time */
	if (stat(ic->dir, &st) == 0) {
		ic->dir_seen = true;
		ic->dir_ino = st.st_ino;
		ic->dir_mtime = st.st_mtim;
	}
	if ((d = opendir(ic->dir)) == NULL) {
		if (errno == ENOENT)
			return 0;	/* nothing learned yet */
		sg_error_set(err_r, SG_ERR_CONFIG, "intermediate_cache: "
			     "cannot read %.200s: %s", ic->dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL && ic->count < ic->max) {
		size_t len = strlen(de->d_name);
		unsigned char fpr[32];
		X509 *x;

		if (de->d_name[0] == '.' || len < 5 ||
		    strcmp(de->d_name + len - 4, ".pem") != 0 ||
		    (size_t)snprintf(path, sizeof(path), "%s/%s", ic->dir,
				     de->d_name) >= sizeof(path))
			continue;
		if ((x = read_cert_file(path)) == NULL)
			continue;
		if (is_ca(x) && !self_signed(x) && !expired(x, now) &&
		    fingerprint(x, fpr) && !known_has(ic, fpr)) {
			if (add_intermediate(ctx, x, fpr) < 0) {
				X509_free(x);
				closedir(d);
				sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
				return -1;
			}
			ic->count++;
		}
		X509_free(x);
	}
	closedir(d);
	return 0;
}

static int store_locked(struct sg_ctx *ctx, X509 *x,
			const unsigned char fpr[32], char *path,
			size_t path_size, char *why, size_t why_size,
			bool *capped_r)
{
	struct sg_icache *ic = ctx->icache;
	char name[70];
	struct sg_error err;

	if (known_has(ic, fpr))
		return 0;
	if (ic->count >= ic->max) {
		*capped_r = true;
		snprintf(why, why_size, "the cache holds intermediate_cache_max "
			 "(%zu) certificates", ic->max);
		return -1;
	}
	cache_name(fpr, name);
	if (sg_write_pem_atomic(ic->dir, name, write_x509_pem, x, path,
				path_size, &err) < 0) {
		snprintf(why, why_size, "%s", err.msg);
		return -1;
	}
	if (add_intermediate(ctx, x, fpr) < 0) {
		snprintf(why, why_size, "out of memory");
		return -1;
	}
	ic->count++;
	return 1;
}

/* store - x into the cache and ctx->intermediates; 1 stored, 0 known,
   -1 with why (capped or not written) */
static int store(struct sg_ctx *ctx, X509 *x, char *path, size_t path_size,
		 char *why, size_t why_size, bool *capped_r)
{
	unsigned char fpr[32];
	int ret;

	*capped_r = false;
	if (!fingerprint(x, fpr)) {
		snprintf(why, why_size, "cannot encode the certificate");
		return -1;
	}
	sg_ctx_lock(ctx);
	ret = store_locked(ctx, x, fpr, path, path_size, why, why_size,
			   capped_r);
	sg_ctx_unlock(ctx);
	return ret;
}

/* ---- the context ---- */

int sg_icache_open(struct sg_ctx *ctx, const struct sg_config *conf,
		   struct sg_error *err_r)
{
	struct sg_icache *ic;
	const char *dir = sg_config_get(conf, "intermediate_cache");
	const char *mode = sg_config_get(conf, "aia_fetch");
	const char *v;
	bool allow_local = false;
	unsigned char fpr[32];
	int i;

	if (dir == NULL || mode == NULL) {
		sg_error_set(err_r, SG_ERR_CONFIG, "intermediate_cache, "
			     "aia_fetch: cannot expand their values");
		return -1;
	}
	if (dir[0] == '\0') {
		if (strcmp(mode, "no") != 0) {
			sg_error_set(err_r, SG_ERR_CONFIG, "aia_fetch = %.20s "
				     "needs intermediate_cache (the directory "
				     "fetched CAs are kept in)", mode);
			return -1;
		}
		return 0;
	}
	if (dir[0] != '/') {
		sg_error_set(err_r, SG_ERR_CONFIG, "intermediate_cache: "
			     "'%.200s' is not an absolute path", dir);
		return -1;
	}
	if ((ic = calloc(1, sizeof(*ic))) == NULL ||
	    (ic->dir = strdup(dir)) == NULL) {
		free(ic);
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	ctx->icache = ic;
	if (pthread_mutex_init(&ic->fetch_lock, NULL) != 0) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	ic->fetch_lock_ready = true;
	ic->mode = strcmp(mode, "yes") == 0 ? AIA_YES :
		   strcmp(mode, "cache-only") == 0 ? AIA_CACHE_ONLY : AIA_NO;
	v = sg_config_get(conf, "aia_fetch_timeout");
	ic->timeout = v != NULL ? (unsigned int)strtoul(v, NULL, 10) : 3;
	v = sg_config_get(conf, "crl_fetch_timeout");
	ic->fetch_timeout = v != NULL ? (unsigned int)strtoul(v, NULL, 10) : 30;
	v = sg_config_get(conf, "intermediate_cache_max");
	ic->max = v != NULL ? strtoul(v, NULL, 10) : 1000;
	v = sg_config_get(conf, "crl_fetch_redirects");
	if (v != NULL && strcmp(v, "same-host") == 0)
		ic->flags |= SG_CRL_FETCH_SAME_HOST_REDIRECTS;
	v = sg_config_get(conf, "crl_fetch_allow_local");
	if (sg_conf_bool(v, &allow_local) == 0 && allow_local)
		ic->flags |= SG_CRL_FETCH_ALLOW_LOCAL;
	v = sg_config_get(conf, "crl_fetch_proxy");
	if (v != NULL && v[0] != '\0' && (ic->proxy = strdup(v)) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	/* the configured intermediates are known: never cached twice */
	for (i = 0; i < sk_X509_num(ctx->intermediates); i++) {
		if (fingerprint(sk_X509_value(ctx->intermediates, i), fpr) &&
		    known_add(ic, fpr) < 0) {
			sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
			return -1;
		}
	}
	return load_dir(ctx, err_r);
}

void sg_icache_free(struct sg_ctx *ctx)
{
	struct sg_icache *ic = ctx->icache;

	if (ic == NULL)
		return;
	free(ic->known);
	free(ic->proxy);
	free(ic->dir);
	if (ic->fetch_lock_ready)
		pthread_mutex_destroy(&ic->fetch_lock);
	free(ic);
	ctx->icache = NULL;
}

size_t sg_ctx_cached_intermediates(const struct sg_ctx *ctx)
{
	sg_assert(ctx != NULL);
	return ctx->icache != NULL ? ctx->icache->count : 0;
}

/* sg_icache_learn - the CAs between leaf and anchor of a verified path */
void sg_icache_learn(struct sg_ctx *ctx, STACK_OF(X509) *chain)
{
	char path[1024], why[200];
	bool capped;
	int i, n = sk_X509_num(chain);

	if (ctx->icache == NULL)
		return;
	for (i = 1; i < n - 1; i++) {
		X509 *x = sk_X509_value(chain, i);

		if (!is_ca(x) || self_signed(x))
			continue;
		/* best effort: a cache that cannot be written changes no
		   verdict; smimectl doctor reports its permissions */
		if (store(ctx, x, path, sizeof(path), why, sizeof(why),
			  &capped) < 0 && capped)
			break;
	}
}

/* ---- finding and fetching a missing issuer ---- */

/* ca_issuers - the http caIssuers URLs of x, at most AIA_MAX_URLS */
static size_t ca_issuers(X509 *x, char urls[][SG_CRL_URL_MAX])
{
	AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(x, NID_info_access,
						      NULL, NULL);
	size_t n = 0, j;
	int i;

	for (i = 0; i < sk_ACCESS_DESCRIPTION_num(aia) && n < AIA_MAX_URLS; i++) {
		ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
		const unsigned char *u;
		int len;
		bool ok = true;

		if (OBJ_obj2nid(ad->method) != NID_ad_ca_issuers ||
		    ad->location->type != GEN_URI)
			continue;
		u = ASN1_STRING_get0_data(ad->location->d.uniformResourceIdentifier);
		len = ASN1_STRING_length(ad->location->d.uniformResourceIdentifier);
		if (len < 8 || len >= SG_CRL_URL_MAX ||
		    strncasecmp((const char *)u, "http://", 7) != 0)
			continue;
		for (j = 0; j < (size_t)len; j++) {
			if (u[j] <= 0x20 || u[j] >= 0x7f)
				ok = false;	/* not a URL we would send */
		}
		if (!ok)
			continue;
		memcpy(urls[n], u, (size_t)len);
		urls[n][len] = '\0';
		for (j = 0; j < n && strcmp(urls[j], urls[n]) != 0; j++)
			;
		if (j == n)
			n++;
	}
	AUTHORITY_INFO_ACCESS_free(aia);
	sg_openssl_errors(NULL, 0);
	return n;
}

bool sg_icache_url(X509 *x, char *url, size_t size)
{
	char urls[AIA_MAX_URLS][SG_CRL_URL_MAX];

	if (ca_issuers(x, urls) == 0)
		return false;
	snprintf(url, size, "%s", urls[0]);
	return true;
}

/* parse_answer - the certificates of an answer: DER, PEM (several), or
   a PKCS#7 certs-only bundle (DER or PEM) */
static STACK_OF(X509) *parse_answer(const unsigned char *data, size_t len)
{
	STACK_OF(X509) *out = sk_X509_new_null();
	const unsigned char *p = data;
	X509 *x;
	PKCS7 *p7 = NULL;
	BIO *bio;
	int i;

	if (out == NULL || len > LONG_MAX)
		goto done;
	if ((x = d2i_X509(NULL, &p, (long)len)) != NULL) {
		if (p == data + len && sk_X509_push(out, x))
			goto done;
		X509_free(x);
	}
	p = data;
	if ((p7 = d2i_PKCS7(NULL, &p, (long)len)) == NULL &&
	    (bio = BIO_new_mem_buf(data, (int)len)) != NULL) {
		while (sk_X509_num(out) < AIA_MAX_CERTS &&
		       (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
			if (!sk_X509_push(out, x)) {
				X509_free(x);
				break;
			}
		}
		if (sk_X509_num(out) == 0) {
			(void)BIO_reset(bio);
			p7 = PEM_read_bio_PKCS7(bio, NULL, NULL, NULL);
		}
		BIO_free(bio);
	}
	if (p7 != NULL && PKCS7_type_is_signed(p7) && p7->d.sign != NULL) {
		STACK_OF(X509) *certs = p7->d.sign->cert;

		for (i = 0; i < sk_X509_num(certs) && i < AIA_MAX_CERTS; i++) {
			x = sk_X509_value(certs, i);
			if (sk_X509_push(out, x))
				X509_up_ref(x);
		}
	}
done:
	PKCS7_free(p7);
	sg_openssl_errors(NULL, 0);
	return out;
}

/* report_start - the report of a certificate whose issuer is looked for */
static void report_start(struct sg_aia_report *r, X509 *x)
{
	memset(r, 0, sizeof(*r));
	sg_name_oneline(X509_get_subject_name(x), r->subject, sizeof(r->subject));
	sg_name_oneline(X509_get_issuer_name(x), r->issuer, sizeof(r->issuer));
}

/* issued - did ca issue x: a CA, names and key identifiers match, and
   its key verifies x's signature */
static bool issued(X509 *ca, X509 *x)
{
	EVP_PKEY *key = X509_get0_pubkey(ca);
	bool ok = is_ca(ca) && X509_check_issued(ca, x) == X509_V_OK &&
		  key != NULL && X509_verify(x, key) == 1;

	sg_openssl_errors(NULL, 0);
	return ok;
}

/* fetch_issuer - download the issuer of x from its caIssuers URLs and
   cache it; r (started) says what happened; true when stored */
static bool fetch_issuer(struct sg_ctx *ctx, X509 *x, time_t deadline,
			 unsigned int timeout, struct sg_aia_report *r)
{
	struct sg_icache *ic = ctx->icache;
	char urls[AIA_MAX_URLS][SG_CRL_URL_MAX];
	size_t n = ca_issuers(x, urls), u;
	bool stored = false;

	if (n == 0) {
		r->outcome = SG_AIA_NO_URL;
		snprintf(r->why, sizeof(r->why), "its issuer is not in the "
			 "trust store and it names no http:// caIssuers URL: "
			 "import the issuer with intermediates in "
			 "smimeguard.conf");
		return false;
	}
	for (u = 0; u < n && !stored; u++) {
		unsigned char *data = NULL;
		size_t len = 0;
		struct sg_error err;
		STACK_OF(X509) *certs;
		unsigned int secs = timeout;
		bool capped;
		int i;

		snprintf(r->url, sizeof(r->url), "%s", urls[u]);
		if (deadline != 0) {
			time_t left = deadline - time(NULL);

			if (left <= 0) {
				r->outcome = SG_AIA_FAILED;
				snprintf(r->why, sizeof(r->why), "no time left "
					 "(aia_fetch_timeout)");
				break;
			}
			if ((time_t)secs > left || secs == 0)
				secs = (unsigned int)left;
		}
		if (sg_crl_download(urls[u], ic->proxy, ic->flags, secs,
				    AIA_MAX_SIZE, &data, &len, &err) < 0) {
			r->outcome = SG_AIA_FAILED;
			snprintf(r->why, sizeof(r->why), "%s", err.msg);
			continue;
		}
		certs = parse_answer(data, len);
		free(data);
		r->outcome = SG_AIA_REJECTED;
		snprintf(r->why, sizeof(r->why), sk_X509_num(certs) > 0 ?
			 "the answer holds no CA certificate that issued it" :
			 "the answer is not a certificate (DER, PEM or PKCS#7)");
		for (i = 0; i < sk_X509_num(certs) && !stored; i++) {
			X509 *ca = sk_X509_value(certs, i);

			if (!issued(ca, x))
				continue;
			sg_name_oneline(X509_get_subject_name(ca), r->fetched,
					sizeof(r->fetched));
			if (self_signed(ca)) {
				/* a root adds no path: trust is configured */
				snprintf(r->why, sizeof(r->why), "its issuer is "
					 "the root %.200s, which is not a trust "
					 "anchor: add it to trust_anchors if you "
					 "trust it", r->fetched);
				continue;
			}
			switch (store(ctx, ca, r->path, sizeof(r->path), r->why,
				      sizeof(r->why), &capped)) {
			case 1:
			case 0:
				r->outcome = SG_AIA_STORED;
				r->why[0] = '\0';
				stored = true;
				break;
			default:
				r->outcome = capped ? SG_AIA_CAPPED : SG_AIA_FAILED;
				break;
			}
		}
		sk_X509_pop_free(certs, X509_free);
	}
	return stored;
}

/* issuer_in_store - is x's issuer a trust anchor */
static bool issuer_in_store(struct sg_ctx *ctx, X509 *x)
{
	X509_STORE_CTX *xs = X509_STORE_CTX_new();
	X509 *issuer = NULL;
	bool found = false;

	if (xs != NULL && X509_STORE_CTX_init(xs, ctx->store, x, NULL) == 1 &&
	    X509_STORE_CTX_get1_issuer(&issuer, xs, x) == 1) {
		found = true;
		X509_free(issuer);
	}
	X509_STORE_CTX_free(xs);
	sg_openssl_errors(NULL, 0);
	return found;
}

/* known_issuer - an intermediate that issued x, or NULL */
static X509 *known_issuer(struct sg_ctx *ctx, X509 *x)
{
	X509 *found = NULL;
	int i;

	/* borrowed: intermediates only grow while the context lives */
	sg_ctx_lock(ctx);
	for (i = 0; i < sk_X509_num(ctx->intermediates) && found == NULL; i++) {
		X509 *c = sk_X509_value(ctx->intermediates, i);

		if (c != x && X509_check_issued(c, x) == X509_V_OK)
			found = c;
	}
	sg_ctx_unlock(ctx);
	sg_openssl_errors(NULL, 0);
	return found;
}

/* find_orphan - walk x's chain up through anchors and intermediates:
   NULL when it reaches the trust store (or a root, *root_r set), else
   the certificate whose issuer is missing */
static X509 *find_orphan(struct sg_ctx *ctx, X509 *x, bool *root_r)
{
	int depth;

	*root_r = false;
	for (depth = 0; depth < 10; depth++) {
		X509 *up;

		if (issuer_in_store(ctx, x))
			return NULL;
		if (self_signed(x)) {
			*root_r = true;
			return NULL;
		}
		if ((up = known_issuer(ctx, x)) == NULL)
			return x;
		x = up;
	}
	return NULL;	/* a loop of cross-certificates: nothing to fetch */
}

static unsigned char *fail_key(X509 *x, unsigned char key[32])
{
	return fingerprint(x, key) ? key : NULL;
}

/* recently_failed - was x's issuer looked for in vain within the hour */
static bool recently_failed(struct sg_icache *ic, const unsigned char key[32],
			    time_t now)
{
	size_t i;

	for (i = 0; i < FAIL_SLOTS; i++) {
		if (ic->fails[i].until > now &&
		    memcmp(ic->fails[i].key, key, 32) == 0)
			return true;
	}
	return false;
}

static void remember_failure(struct sg_icache *ic, const unsigned char key[32],
			     time_t now)
{
	size_t i, oldest = 0;

	for (i = 0; i < FAIL_SLOTS; i++) {
		if (ic->fails[i].until < ic->fails[oldest].until)
			oldest = i;
	}
	memcpy(ic->fails[oldest].key, key, 32);
	ic->fails[oldest].until = now + AIA_RETRY_SECS;
}

/* queue - x into pending/ for smimectl ca fetch (best effort) */
static void queue(struct sg_ctx *ctx, X509 *x)
{
	struct sg_icache *ic = ctx->icache;
	char urls[AIA_MAX_URLS][SG_CRL_URL_MAX];
	char pending[4096], name[70], path[4200];
	unsigned char fpr[32];
	struct sg_error err;
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if (ca_issuers(x, urls) == 0 || !fingerprint(x, fpr) ||
	    (size_t)snprintf(pending, sizeof(pending), "%s/pending",
			     ic->dir) >= sizeof(pending))
		return;
	cache_name(fpr, name);
	snprintf(path, sizeof(path), "%s/%s", pending, name);
	if (access(path, F_OK) == 0)
		return;		/* queued already */
	if (mkdir(pending, 0755) < 0 && errno != EEXIST)
		return;
	if ((d = opendir(pending)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		n++;
	closedir(d);
	if (n >= PENDING_MAX + 2)
		return;		/* full: ca fetch empties it */
	(void)sg_write_pem_atomic(pending, name, write_x509_pem, x, path,
				  sizeof(path), &err);
}

/* reload_if_changed - what other processes (another LMTP process, the
   milter, smimectl ca fetch) stored since this context read the cache:
   true when that added an intermediate (then the path is built again) */
static bool reload_if_changed(struct sg_ctx *ctx)
{
	struct sg_icache *ic = ctx->icache;
	size_t before = ic->count;
	struct sg_error err;
	struct stat st;

	if (stat(ic->dir, &st) < 0 ||
	    (ic->dir_seen && st.st_ino == ic->dir_ino &&
	     st.st_mtim.tv_sec == ic->dir_mtime.tv_sec &&
	     st.st_mtim.tv_nsec == ic->dir_mtime.tv_nsec))
		return false;
	if (load_dir(ctx, &err) < 0)
		return false;
	return ic->count > before;
}

/* sg_icache_complete - x's issuer is missing while verifying */
bool sg_icache_complete(struct sg_ctx *ctx, X509 *x)
{
	struct sg_icache *ic = ctx->icache;
	struct sg_aia_report r;
	unsigned char key[32];
	time_t now = time(NULL);
	bool found, skip, fetched;

	if (ic == NULL)
		return false;
	/* whatever the configuration stamp says (it is looked at now and
	   then), a missing issuer may be in the cache already */
	sg_ctx_lock(ctx);
	found = reload_if_changed(ctx);
	sg_ctx_unlock(ctx);
	if (found)
		return true;
	if (ic->mode == AIA_NO || fail_key(x, key) == NULL)
		return false;
	if (ic->mode == AIA_CACHE_ONLY) {
		/* queued once an hour per process */
		sg_ctx_lock(ctx);
		skip = recently_failed(ic, key, now);
		if (!skip)
			remember_failure(ic, key, now);
		sg_ctx_unlock(ctx);
		if (!skip)
			queue(ctx, x);
		return false;
	}
	sg_mutex_lock(&ic->fetch_lock);
	/* another thread may have fetched it while this one waited */
	sg_ctx_lock(ctx);
	found = known_issuer(ctx, x) != NULL || reload_if_changed(ctx);
	skip = found || recently_failed(ic, key, time(NULL));
	sg_ctx_unlock(ctx);
	fetched = false;
	if (!skip) {
		now = time(NULL);
		report_start(&r, x);
		fetched = fetch_issuer(ctx, x, now + (time_t)(ic->timeout > 0 ?
							     ic->timeout : 1),
				       ic->timeout, &r);
		if (!fetched) {
			sg_ctx_lock(ctx);
			remember_failure(ic, key, now);
			sg_ctx_unlock(ctx);
		}
	}
	sg_mutex_unlock(&ic->fetch_lock);
	return found || fetched;
}

/* ---- smimectl ca fetch ---- */

/* complete - up to AIA_MAX_LEVELS issuers for x; the last outcome */
static int complete(struct sg_ctx *ctx, X509 *x, unsigned int timeout,
		    sg_aia_report_func *cb, void *context,
		    enum sg_aia_outcome *last_r)
{
	struct sg_aia_report r;
	int level, stored = 0;
	bool root;

	for (level = 0; level < AIA_MAX_LEVELS; level++) {
		X509 *orphan = find_orphan(ctx, x, &root);

		if (orphan == NULL) {
			report_start(&r, x);
			r.outcome = root ? SG_AIA_REJECTED : SG_AIA_PRESENT;
			if (root)
				snprintf(r.why, sizeof(r.why), "its chain ends "
					 "at a root that is not a trust anchor: "
					 "add the root to trust_anchors if you "
					 "trust it");
			else
				snprintf(r.why, sizeof(r.why), "its chain "
					 "reaches the trust store");
			*last_r = r.outcome;
			if (cb != NULL)
				cb(context, &r);
			break;
		}
		report_start(&r, orphan);
		if (fetch_issuer(ctx, orphan, 0, timeout, &r))
			stored++;
		*last_r = r.outcome;
		if (cb != NULL)
			cb(context, &r);
		if (r.outcome != SG_AIA_STORED)
			break;
	}
	return stored;
}

static int need_cache(const struct sg_ctx *ctx, struct sg_error *err_r)
{
	if (ctx->icache != NULL)
		return 0;
	sg_error_set(err_r, SG_ERR_CONFIG, "intermediate_cache is not set in "
		     "smimeguard.conf: fetched CAs are kept there (e.g. "
		     "intermediate_cache = /var/lib/smimeguard/intermediates)");
	return -1;
}

int sg_ca_fetch(struct sg_ctx *ctx, const unsigned char *der, size_t len,
		unsigned int timeout_secs, sg_aia_report_func *cb,
		void *context, struct sg_error *err_r)
{
	enum sg_aia_outcome last = SG_AIA_PRESENT;
	const unsigned char *p = der;
	X509 *x;
	int n;

	sg_assert(ctx != NULL && der != NULL);
	sg_error_clear(err_r);
	if (need_cache(ctx, err_r) < 0)
		return -1;
	x = len <= LONG_MAX ? d2i_X509(NULL, &p, (long)len) : NULL;
	if (x == NULL || p != der + len) {
		X509_free(x);
		sg_openssl_errors(NULL, 0);
		sg_error_set(err_r, SG_ERR_INVALID, "not a DER certificate");
		return -1;
	}
	n = complete(ctx, x, timeout_secs > 0 ? timeout_secs :
		     ctx->icache->fetch_timeout, cb, context, &last);
	X509_free(x);
	return n;
}

/* prune - remove expired certificates from the cache */
static void prune(struct sg_icache *ic, time_t now)
{
	struct dirent *de;
	char path[4096];
	DIR *d;

	if ((d = opendir(ic->dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		X509 *x;

		if (de->d_name[0] == '.' || len < 5 ||
		    strcmp(de->d_name + len - 4, ".pem") != 0 ||
		    (size_t)snprintf(path, sizeof(path), "%s/%s", ic->dir,
				     de->d_name) >= sizeof(path))
			continue;
		if ((x = read_cert_file(path)) != NULL && expired(x, now))
			(void)unlink(path);
		X509_free(x);
	}
	closedir(d);
}

int sg_ca_fetch_pending(struct sg_ctx *ctx, unsigned int timeout_secs,
			sg_aia_report_func *cb, void *context,
			struct sg_error *err_r)
{
	char pending[4096], path[4200];
	struct dirent *de;
	int stored = 0;
	DIR *d;

	sg_assert(ctx != NULL);
	sg_error_clear(err_r);
	if (need_cache(ctx, err_r) < 0)
		return -1;
	if (timeout_secs == 0)
		timeout_secs = ctx->icache->fetch_timeout;
	prune(ctx->icache, time(NULL));
	snprintf(pending, sizeof(pending), "%s/pending", ctx->icache->dir);
	if ((d = opendir(pending)) == NULL) {
		if (errno == ENOENT)
			return 0;
		sg_error_set(err_r, SG_ERR_IO, "cannot read %.200s: %s",
			     pending, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		enum sg_aia_outcome last = SG_AIA_PRESENT;
		X509 *x;

		if (de->d_name[0] == '.' || len < 5 ||
		    strcmp(de->d_name + len - 4, ".pem") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", pending, de->d_name);
		if ((x = read_cert_file(path)) == NULL) {
			(void)unlink(path);	/* not a certificate */
			continue;
		}
		stored += complete(ctx, x, timeout_secs, cb, context, &last);
		X509_free(x);
		if (last != SG_AIA_FAILED && last != SG_AIA_CAPPED)
			(void)unlink(path);
	}
	closedir(d);
	return stored;
}
