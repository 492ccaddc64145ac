/* crl.c - installing CRLs into the CRL directory, and finding and
 * downloading them (smimectl crl import / crl fetch)
 *
 * Installing: every CRL of the input (PEM, several allowed, or DER) is
 * checked before it is written:
 *   - its issuer is a CA of the trust store (trust_anchors or
 *     intermediates) whose key verifies the CRL's signature and whose
 *     keyUsage, when present, allows cRLSign (indirect CRLs, signed by
 *     another CRL issuer, are not supported and are refused);
 *   - it is current: thisUpdate not in the future (5 minutes of clock
 *     skew allowed), nextUpdate not past (SG_CRL_FORCE installs such a
 *     CRL anyway, e.g. the last CRL of a CA that no longer publishes);
 *   - it is not older than a CRL of the same scope already in effect
 *     (same issuer, both full or both delta, same issuing distribution
 *     point): by cRLNumber when both have one, else by thisUpdate.
 * It is then written as PEM under a name derived from that scope
 * (issuer name hash, distribution point, "-delta"), so a newer CRL of a
 * CA replaces the older file: written to a temporary file in the same
 * directory, flushed to disk and renamed over the old one, so a reader
 * (the Dovecot plugin, the daemons: they reload when the directory
 * changes) sees the old CRL or the new one, never a part.  The core
 * never logs: each CRL's outcome is returned in a struct sg_crl_report.
 *
 * Finding: the http:// URIs (CRLs are signed, so they are published over
 * plain HTTP; ldap:// and https:// ones are left out) of the CRL
 * distribution points of every
 * trust-store certificate (where the CRL of its issuer is published),
 * of the issuing distribution points and Freshest CRL (delta) pointers
 * of the CRLs in effect.  Downloading uses OpenSSL's HTTP client
 * (OSSL_HTTP_get: redirects, an HTTP proxy, an overall timeout and a
 * response size limit).
 */
#include "crl-private.h"
#include "sg-base.h"
#include "ctx-private.h"
#include "x509-private.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#define CRL_SKEW 300			/* seconds of clock skew allowed */
#define CRL_MAX_URLS 256

/* ---- reading ---- */

/* read_crls - every CRL of data (PEM blocks, or one DER CRL) */
static STACK_OF(X509_CRL) *read_crls(const unsigned char *data, size_t len)
{
	STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
	X509_CRL *crl;

	if (crls == NULL || len > INT32_MAX)
		goto fail;
	if (len > 11 && memmem(data, len, "-----BEGIN ", 11) != NULL) {
		BIO *bio = BIO_new_mem_buf(data, (int)len);

		if (bio == NULL)
			goto fail;
		while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
			if (sk_X509_CRL_push(crls, crl) <= 0) {
				X509_CRL_free(crl);
				BIO_free(bio);
				goto fail;
			}
		}
		BIO_free(bio);
	} else {
		const unsigned char *p = data;

		if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) != NULL &&
		    sk_X509_CRL_push(crls, crl) <= 0) {
			X509_CRL_free(crl);
			goto fail;
		}
	}
	sg_openssl_errors(NULL, 0);
	return crls;
fail:
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	sg_openssl_errors(NULL, 0);
	return NULL;
}

/* ---- scope and order ---- */

static bool is_delta(X509_CRL *crl)
{
	return X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1) >= 0;
}

/* idp_der - the issuingDistributionPoint extension's value (or none) */
static const ASN1_OCTET_STRING *idp_der(X509_CRL *crl)
{
	int i = X509_CRL_get_ext_by_NID(crl, NID_issuing_distribution_point, -1);

	return i < 0 ? NULL :
	       X509_EXTENSION_get_data(X509_CRL_get_ext(crl, i));
}

/* aki_keyid - the authority key identifier's keyid (or none) */
static ASN1_OCTET_STRING *aki_keyid(X509_CRL *crl)
{
	AUTHORITY_KEYID *aki = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier,
						    NULL, NULL);
	ASN1_OCTET_STRING *id = NULL;

	if (aki != NULL && aki->keyid != NULL)
		id = ASN1_OCTET_STRING_dup(aki->keyid);
	AUTHORITY_KEYID_free(aki);
	return id;
}

/* same_scope - do two CRLs replace each other: the same issuer name and
   key (a CA re-keyed under the same name restarts cRLNumber: its new
   CRLs must not be kept out as "older"), delta or not, and IDP */
static bool same_scope(X509_CRL *a, X509_CRL *b)
{
	const ASN1_OCTET_STRING *ia = idp_der(a), *ib = idp_der(b);
	ASN1_OCTET_STRING *ka, *kb;
	bool other_key;

	if (X509_NAME_cmp(X509_CRL_get_issuer(a), X509_CRL_get_issuer(b)) != 0 ||
	    is_delta(a) != is_delta(b))
		return false;
	ka = aki_keyid(a);
	kb = aki_keyid(b);
	other_key = ka != NULL && kb != NULL && ASN1_OCTET_STRING_cmp(ka, kb) != 0;
	ASN1_OCTET_STRING_free(ka);
	ASN1_OCTET_STRING_free(kb);
	if (other_key)
		return false;
	if (ia == NULL || ib == NULL)
		return ia == ib;
	return ASN1_OCTET_STRING_cmp(ia, ib) == 0;
}

/* crl_cmp - <0 when a is older than b, 0 the same age, >0 newer */
static int crl_cmp(X509_CRL *a, X509_CRL *b)
{
	ASN1_INTEGER *na = X509_CRL_get_ext_d2i(a, NID_crl_number, NULL, NULL);
	ASN1_INTEGER *nb = X509_CRL_get_ext_d2i(b, NID_crl_number, NULL, NULL);
	int c;

	if (na != NULL && nb != NULL) {
		c = ASN1_INTEGER_cmp(na, nb);
	} else {
		time_t ta = sg_asn1_time(X509_CRL_get0_lastUpdate(a));
		time_t tb = sg_asn1_time(X509_CRL_get0_lastUpdate(b));

		c = ta < tb ? -1 : ta > tb;
	}
	ASN1_INTEGER_free(na);
	ASN1_INTEGER_free(nb);
	return c;
}

static bool crl_equal(X509_CRL *a, X509_CRL *b)
{
	return X509_CRL_match(a, b) == 0;
}

/* ---- the issuer ---- */

/* each_ca - call fn for every certificate of the trust store: anchors
   first, then intermediates; stops when fn returns true */
static X509 *each_ca(struct sg_ctx *ctx, bool (*fn)(X509 *, void *),
		     void *context)
{
	STACK_OF(X509_OBJECT) *objs;
	X509 *found = NULL;
	int i;

	/* a verifying thread's first lookup sorts the store's list in
	   place, under the store's lock */
	if (X509_STORE_lock(ctx->store) != 1)
		return NULL;
	objs = X509_STORE_get0_objects(ctx->store);
	for (i = 0; i < sk_X509_OBJECT_num(objs) && found == NULL; i++) {
		X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));

		if (x != NULL && fn(x, context))
			found = x;	/* an anchor: lives as long as ctx */
	}
	X509_STORE_unlock(ctx->store);
	sg_ctx_lock(ctx);
	for (i = 0; i < sk_X509_num(ctx->intermediates) && found == NULL; i++) {
		X509 *x = sk_X509_value(ctx->intermediates, i);

		if (fn(x, context))
			found = x;
	}
	sg_ctx_unlock(ctx);
	return found;
}

struct issuer_search {
	X509_CRL *crl;
	X509 *name_match;		/* a CA with the issuer's name */
};

static bool signs_crl(X509 *ca, void *context)
{
	struct issuer_search *is = context;
	EVP_PKEY *pk;

	if (X509_NAME_cmp(X509_get_subject_name(ca),
			  X509_CRL_get_issuer(is->crl)) != 0)
		return false;
	if (is->name_match == NULL)
		is->name_match = ca;
	pk = X509_get0_pubkey(ca);
	if (pk == NULL || X509_CRL_verify(is->crl, pk) != 1) {
		ERR_clear_error();
		return false;
	}
	return true;
}

/* ---- reports ---- */

static void report_describe(X509_CRL *crl, struct sg_crl_report *r)
{
	ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
	int n;

	memset(r, 0, sizeof(*r));
	sg_name_oneline(X509_CRL_get_issuer(crl), r->issuer, sizeof(r->issuer));
	sg_time_iso(sg_asn1_time(X509_CRL_get0_lastUpdate(crl)), r->this_update,
		    sizeof(r->this_update));
	if (next != NULL)
		sg_time_iso(sg_asn1_time(next), r->next_update,
			    sizeof(r->next_update));
	if (num != NULL) {
		BIGNUM *bn = ASN1_INTEGER_to_BN(num, NULL);
		char *dec = bn != NULL ? BN_bn2dec(bn) : NULL;

		if (dec != NULL)
			snprintf(r->number, sizeof(r->number), "%s", dec);
		OPENSSL_free(dec);
		BN_free(bn);
		ASN1_INTEGER_free(num);
	}
	r->delta = is_delta(crl);
	n = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl));
	r->revoked = n > 0 ? (unsigned long)n : 0;
	sg_openssl_errors(NULL, 0);
}

static void reject(struct sg_crl_report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void reject(struct sg_crl_report *r, const char *fmt, ...)
{
	va_list ap;

	r->outcome = SG_CRL_REJECTED;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

/* ---- writing ---- */

/* file_name - "crl-<issuer hash>[-<idp hash>][-delta].pem" */
static void file_name(X509_CRL *crl, char *buf, size_t size)
{
	const ASN1_OCTET_STRING *idp = idp_der(crl);
	unsigned long h = X509_NAME_hash_ex(X509_CRL_get_issuer(crl), NULL,
					    NULL, NULL);
	char idp_hex[17] = "";

	if (idp != NULL) {
		unsigned char d[crypto_generichash_BYTES_MIN];

		crypto_generichash(d, sizeof(d), ASN1_STRING_get0_data(idp),
				   (size_t)ASN1_STRING_length(idp), NULL, 0);
		sodium_bin2hex(idp_hex, sizeof(idp_hex), d, 8);
	}
	char key_hex[17] = "";
	ASN1_OCTET_STRING *kid = aki_keyid(crl);

	if (kid != NULL) {
		unsigned char d[crypto_generichash_BYTES_MIN];

		crypto_generichash(d, sizeof(d), ASN1_STRING_get0_data(kid),
				   (size_t)ASN1_STRING_length(kid), NULL, 0);
		sodium_bin2hex(key_hex, sizeof(key_hex), d, 4);
		ASN1_OCTET_STRING_free(kid);
	}
	snprintf(buf, size, "crl-%08lx%s%s%s%s%s.pem", h, idp != NULL ? "-" : "",
		 idp_hex, key_hex[0] != '\0' ? "-k" : "", key_hex,
		 is_delta(crl) ? "-delta" : "");
}

/* remove_legacy_name - versions before the key in the name wrote
   crl-HASH[-IDP][-delta].pem: the CRL just installed as name replaces
   the one of the same scope there (same issuer key: checked) */
static void remove_legacy_name(const char *dir, X509_CRL *crl, const char *name)
{
	const char *k = strstr(name, "-k");
	char legacy[128], path[4096];
	BIO *bio;
	X509_CRL *old;

	if (k == NULL || (size_t)(k - name) >= sizeof(legacy) - 16)
		return;
	memcpy(legacy, name, (size_t)(k - name));
	snprintf(legacy + (k - name), sizeof(legacy) - (size_t)(k - name), "%s",
		 k + 10);	/* "-k" and 8 hex digits */
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, legacy) >= sizeof(path) ||
	    (bio = BIO_new_file(path, "r")) == NULL) {
		sg_openssl_errors(NULL, 0);
		return;
	}
	old = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (old != NULL && same_scope(old, crl))
		(void)unlink(path);
	X509_CRL_free(old);
	sg_openssl_errors(NULL, 0);
}

/* sg_write_pem_atomic - an object as PEM (write_pem) into dir/name via
   a hidden temporary file, synced, renamed, mode 0644 */
int sg_write_pem_atomic(const char *dir, const char *name,
			int (*write_pem)(BIO *, const void *), const void *obj,
			char *path, size_t path_size, struct sg_error *err_r)
{
	char tmp[4096];
	BIO *bio = NULL;
	FILE *fp = NULL;
	int fd, saved;

	if ((size_t)snprintf(path, path_size, "%s/%s", dir, name) >= path_size ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name) >=
	    sizeof(tmp)) {
		sg_error_set(err_r, SG_ERR_INVALID, "%.200s: path too long", dir);
		return -1;
	}
	if ((fd = mkstemp(tmp)) < 0) {
		saved = errno;
		sg_error_set(err_r, SG_ERR_IO, "cannot write into %.160s: %s",
			     dir, strerror(saved));
		return -1;
	}
	if (fchmod(fd, 0644) < 0 || (fp = fdopen(fd, "w")) == NULL)
		goto io;
	fd = -1;
	if ((bio = BIO_new_fp(fp, BIO_NOCLOSE)) == NULL ||
	    write_pem(bio, obj) != 1 || BIO_flush(bio) != 1)
		goto io;
	BIO_free(bio);
	bio = NULL;
	if (fflush(fp) != 0 || fsync(fileno(fp)) < 0)
		goto io;
	if (fclose(fp) != 0) {
		fp = NULL;
		goto io;
	}
	fp = NULL;
	if (rename(tmp, path) < 0)
		goto io;
	/* the rename itself reaches the disk */
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	return 0;
io:
	saved = errno != 0 ? errno : EIO;
	BIO_free(bio);
	if (fp != NULL)
		fclose(fp);
	if (fd >= 0)
		close(fd);
	(void)unlink(tmp);
	sg_openssl_errors(NULL, 0);
	sg_error_set(err_r, SG_ERR_IO, "cannot write %.200s: %s", path,
		     strerror(saved));
	return -1;
}

static int write_crl_pem(BIO *bio, const void *crl)
{
	return PEM_write_bio_X509_CRL(bio, (X509_CRL *)crl);
}

/* ---- installing ---- */

/* install_one - check one CRL and write it; -1 only when writing failed */
static int install_one(struct sg_ctx *ctx, const char *dir, X509_CRL *crl,
		       time_t now, unsigned int flags, struct sg_crl_report *r,
		       struct sg_error *err_r)
{
	struct issuer_search is = { crl, NULL };
	X509 *ca;
	time_t this_update = sg_asn1_time(X509_CRL_get0_lastUpdate(crl));
	const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
	char name[96], ca_name[512];
	int i;

	report_describe(crl, r);
	ca = each_ca(ctx, signs_crl, &is);
	if (ca == NULL) {
		if (is.name_match != NULL)
			reject(r, "The CRL's signature does not verify with the key "
			       "of %s in the trust store: it is damaged, or the CA "
			       "was re-keyed and its new certificate is missing.",
			       r->issuer);
		else
			reject(r, "It is issued by %s, which is not a CA of the "
			       "trust store (trust_anchors, intermediates): add "
			       "that CA's certificate first.", r->issuer);
		return 0;
	}
	sg_name_oneline(X509_get_subject_name(ca), ca_name, sizeof(ca_name));
	if ((X509_get_extension_flags(ca) & EXFLAG_KUSAGE) &&
	    (X509_get_key_usage(ca) & KU_CRL_SIGN) == 0) {
		reject(r, "The certificate of %s does not allow it to sign CRLs "
		       "(keyUsage without cRLSign).", ca_name);
		return 0;
	}
	if (this_update == 0 || (next != NULL && sg_asn1_time(next) == 0)) {
		reject(r, "Its thisUpdate or nextUpdate time cannot be read.");
		return 0;
	}
	if ((flags & SG_CRL_FORCE) == 0) {
		if (this_update > now + CRL_SKEW) {
			reject(r, "It is not valid yet (thisUpdate %s): check this "
			       "server's clock, or use --force.", r->this_update);
			return 0;
		}
		if (next != NULL && sg_asn1_time(next) < now) {
			reject(r, "It expired at %s: get the current CRL from the "
			       "CA (or use --force to install it anyway; with "
			       "revocation_check = hard an expired CRL leaves "
			       "revocation unknown).", r->next_update);
			return 0;
		}
	}
	for (i = 0; i < sk_X509_CRL_num(ctx->crls); i++) {
		X509_CRL *old = sk_X509_CRL_value(ctx->crls, i);

		if (!same_scope(old, crl))
			continue;
		if (crl_equal(old, crl)) {
			r->outcome = SG_CRL_UNCHANGED;
			snprintf(r->detail, sizeof(r->detail),
				 "This CRL is already in effect.");
			file_name(crl, name, sizeof(name));
			snprintf(r->path, sizeof(r->path), "%s/%s", dir, name);
			return 0;
		}
		if (crl_cmp(crl, old) <= 0) {
			char when[32];

			sg_time_iso(sg_asn1_time(X509_CRL_get0_lastUpdate(old)),
				    when, sizeof(when));
			r->outcome = SG_CRL_KEPT_NEWER;
			snprintf(r->detail, sizeof(r->detail),
				 "A CRL of %.300s that is as new or newer (thisUpdate "
				 "%s) is already in effect; it is kept.",
				 r->issuer, when);
			return 0;
		}
	}
	file_name(crl, name, sizeof(name));
	if (flags & SG_CRL_DRY_RUN) {
		snprintf(r->path, sizeof(r->path), "%s/%s", dir, name);
	} else if (sg_write_pem_atomic(dir, name, write_crl_pem, crl, r->path, sizeof(r->path),
				err_r) < 0) {
		reject(r, "%s", err_r->msg);
		return -1;
	}
	if ((flags & SG_CRL_DRY_RUN) == 0)
		remove_legacy_name(dir, crl, name);
	r->outcome = SG_CRL_INSTALLED;
	snprintf(r->detail, sizeof(r->detail), "Signed by %.300s; %lu revoked "
		 "certificate%s.", ca_name, r->revoked, r->revoked == 1 ? "" : "s");
	return 0;
}

int sg_crl_install(struct sg_ctx *ctx, const char *dir,
		   const unsigned char *data, size_t len, time_t now,
		   unsigned int flags, struct sg_crl_report *reports,
		   size_t max_reports, size_t *n_r, struct sg_error *err_r)
{
	STACK_OF(X509_CRL) *crls;
	struct stat st;
	size_t n = 0;
	int i, ret = 0;

	sg_error_clear(err_r);
	*n_r = 0;
	if (now == 0)
		now = time(NULL);
	if (ctx == NULL || dir == NULL || data == NULL || reports == NULL ||
	    max_reports == 0) {
		sg_error_set(err_r, SG_ERR_INVALID, "sg_crl_install: bad arguments");
		return -1;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		sg_error_set(err_r, SG_ERR_CONFIG,
			     "%.200s is not a directory (crl_dirs)", dir);
		return -1;
	}
	if (len > ctx->limits.max_crl_size) {
		sg_error_set(err_r, SG_ERR_INVALID,
			     "%zu bytes: over max_crl_size (%zu)", len,
			     ctx->limits.max_crl_size);
		return -1;
	}
	if ((crls = read_crls(data, len)) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	if (sk_X509_CRL_num(crls) == 0) {
		sk_X509_CRL_free(crls);
		sg_error_set(err_r, SG_ERR_INVALID,
			     "no CRL in it (neither PEM \"X509 CRL\" nor DER)");
		return -1;
	}
	sg_ctx_lock(ctx);	/* ctx->crls is shared with verifying threads */
	for (i = 0; i < sk_X509_CRL_num(crls) && n < max_reports; i++) {
		X509_CRL *crl = sk_X509_CRL_value(crls, i);

		if (install_one(ctx, dir, crl, now, flags, &reports[n], err_r) < 0)
			ret = -1;
		/* later CRLs of the same input compare against this one */
		if (reports[n].outcome == SG_CRL_INSTALLED &&
		    X509_CRL_up_ref(crl) == 1 &&
		    sk_X509_CRL_push(ctx->crls, crl) <= 0)
			X509_CRL_free(crl);
		n++;
	}
	sg_ctx_unlock(ctx);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	*n_r = n;
	return ret;
}

/* ---- where CRLs are published ---- */

struct url_list {
	char (*urls)[SG_CRL_URL_MAX];
	size_t n;
	sg_crl_url_func *cb;
	void *context;
};

static void add_url(struct url_list *ul, const char *url, size_t len,
		    const char *about)
{
	size_t i;

	if (len >= SG_CRL_URL_MAX || ul->n >= CRL_MAX_URLS ||
	    len < 8 || strncasecmp(url, "http://", 7) != 0)
		return;
	for (i = 0; i < len; i++) {
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
			return;		/* not a URL we would send */
	}
	for (i = 0; i < ul->n; i++) {
		if (strlen(ul->urls[i]) == len && memcmp(ul->urls[i], url, len) == 0)
			return;
	}
	memcpy(ul->urls[ul->n], url, len);
	ul->urls[ul->n][len] = '\0';
	ul->cb(ul->context, ul->urls[ul->n], about);
	ul->n++;
}

/* add_names - the URIs of a GeneralNames */
static void add_names(struct url_list *ul, GENERAL_NAMES *names,
		      const char *about)
{
	int i;

	for (i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

		if (gn->type == GEN_URI)
			add_url(ul, (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier),
				(size_t)ASN1_STRING_length(gn->d.uniformResourceIdentifier),
				about);
	}
}

static void add_dps(struct url_list *ul, CRL_DIST_POINTS *dps,
		    const char *about)
{
	int i;

	for (i = 0; i < sk_DIST_POINT_num(dps); i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(dps, i);

		if (dp->distpoint != NULL && dp->distpoint->type == 0)
			add_names(ul, dp->distpoint->name.fullname, about);
	}
}

static bool cert_dps(X509 *x, void *context)
{
	struct url_list *ul = context;
	CRL_DIST_POINTS *dps = X509_get_ext_d2i(x, NID_crl_distribution_points,
						NULL, NULL);
	char about[600], issuer[512];

	if (dps != NULL) {
		sg_name_oneline(X509_get_issuer_name(x), issuer, sizeof(issuer));
		snprintf(about, sizeof(about), "CRL of %s", issuer);
		add_dps(ul, dps, about);
		CRL_DIST_POINTS_free(dps);
	}
	return false;
}

size_t sg_crl_distribution_points(struct sg_ctx *ctx, sg_crl_url_func *cb,
				  void *context)
{
	struct url_list ul = { NULL, 0, cb, context };
	char about[600], issuer[512];
	int i;

	if (ctx == NULL || cb == NULL ||
	    (ul.urls = calloc(CRL_MAX_URLS, sizeof(*ul.urls))) == NULL)
		return 0;
	/* the CRLs in effect: where they say they (and their deltas) live */
	for (i = 0; i < sk_X509_CRL_num(ctx->crls); i++) {
		X509_CRL *crl = sk_X509_CRL_value(ctx->crls, i);
		ISSUING_DIST_POINT *idp;
		CRL_DIST_POINTS *fresh;

		sg_name_oneline(X509_CRL_get_issuer(crl), issuer, sizeof(issuer));
		idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point,
					   NULL, NULL);
		if (idp != NULL && idp->distpoint != NULL &&
		    idp->distpoint->type == 0) {
			snprintf(about, sizeof(about), "%sCRL of %s (installed)",
				 is_delta(crl) ? "delta " : "", issuer);
			add_names(&ul, idp->distpoint->name.fullname, about);
		}
		ISSUING_DIST_POINT_free(idp);
		fresh = X509_CRL_get_ext_d2i(crl, NID_freshest_crl, NULL, NULL);
		if (fresh != NULL) {
			snprintf(about, sizeof(about), "delta CRL of %s", issuer);
			add_dps(&ul, fresh, about);
			CRL_DIST_POINTS_free(fresh);
		}
	}
	/* the trust store's certificates: where their issuers publish */
	(void)each_ca(ctx, cert_dps, &ul);
	sg_openssl_errors(NULL, 0);
	free(ul.urls);
	return ul.n;
}

/* ---- downloading ---- */

/* where a download may connect (crl_fetch_redirects, crl_fetch_allow_local) */
struct fetch_guard {
	unsigned int flags;
	bool proxied;		/* a proxy decides where requests go */
	unsigned int connects;	/* the first is the URL, others redirects */
	char host[256], port[16];
	char why[200];
};

/* local_address - loopback, link-local or unspecified (v4 and v6) */
static bool local_address(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);

		return (a >> 24) == 127 || (a >> 16) == 0xa9fe || a == 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_LINKLOCAL(a) ||
		       IN6_IS_ADDR_UNSPECIFIED(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) &&
			(a->s6_addr[12] == 127 ||
			 (a->s6_addr[12] == 169 && a->s6_addr[13] == 254)));
	}
	return false;
}

/* guard_cb - OpenSSL calls it for each connection of OSSL_HTTP_get (the
   URL, then each redirect) before the request is sent: refuse what the
   settings do not allow (a redirect is otherwise a blind request forgery
   from the server, to any host and port, injectable on plain HTTP) */
static BIO *guard_cb(BIO *bio, void *arg, int connect, int detail)
{
	struct fetch_guard *g = arg;
	const char *host, *port;
	struct addrinfo hints, *ai = NULL, *a;

	(void)detail;
	if (!connect)
		return bio;
	g->connects++;
	host = BIO_get_conn_hostname(bio);
	port = BIO_get_conn_port(bio);
	if (host == NULL)
		host = "";
	if (port == NULL)
		port = "80";
	if (g->connects == 1) {
		snprintf(g->host, sizeof(g->host), "%s", host);
		snprintf(g->port, sizeof(g->port), "%s", port);
	} else if ((g->flags & SG_CRL_FETCH_SAME_HOST_REDIRECTS) == 0) {
		snprintf(g->why, sizeof(g->why), "the server redirects; redirects "
			 "are not followed (crl_fetch_redirects = same-host "
			 "allows them to the same host and port)");
		return NULL;
	} else if (g->proxied || strcasecmp(host, g->host) != 0 ||
		   strcmp(port, g->port) != 0) {
		snprintf(g->why, sizeof(g->why), "the server redirects to another "
			 "host or port (%.60s:%.10s); only the same host and port "
			 "is followed", host, port);
		return NULL;
	}
	if (g->proxied || (g->flags & SG_CRL_FETCH_ALLOW_LOCAL) != 0)
		return bio;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return bio;	/* the connect reports it */
	for (a = ai; a != NULL; a = a->ai_next) {
		if (local_address(a->ai_addr)) {
			snprintf(g->why, sizeof(g->why), "%.60s is a loopback or "
				 "link-local address; set crl_fetch_allow_local "
				 "= yes to fetch from it", host);
			freeaddrinfo(ai);
			return NULL;
		}
	}
	freeaddrinfo(ai);
	return bio;
}

int sg_crl_download(const char *url, const char *proxy, unsigned int flags,
		    unsigned int timeout_secs, size_t max_size,
		    unsigned char **data_r, size_t *len_r,
		    struct sg_error *err_r)
{
	struct sg_buf buf = { 0 };
	struct fetch_guard guard;
	char ebuf[200];
	time_t deadline = timeout_secs > 0 ? time(NULL) + (time_t)timeout_secs : 0;
	BIO *bio;
	int n;

	sg_error_clear(err_r);
	*data_r = NULL;
	*len_r = 0;
	if (url == NULL || max_size == 0 || max_size > INT32_MAX) {
		sg_error_set(err_r, SG_ERR_INVALID, "sg_crl_download: bad arguments");
		return -1;
	}
	if (strncasecmp(url, "http://", 7) != 0) {
		sg_error_set(err_r, SG_ERR_INVALID, "only http:// URLs are "
			     "fetched (CRLs are signed; https and ldap "
			     "distribution points are not supported)");
		return -1;
	}
	memset(&guard, 0, sizeof(guard));
	guard.flags = flags;
	guard.proxied = (proxy != NULL && proxy[0] != '\0') ||
			getenv("http_proxy") != NULL || getenv("HTTP_PROXY") != NULL;
	ERR_clear_error();
	/* proxy NULL: OpenSSL uses http_proxy / no_proxy from the
	   environment; "" would mean none */
	bio = OSSL_HTTP_get(url, proxy != NULL && proxy[0] != '\0' ? proxy : NULL,
			    NULL, NULL, NULL, guard_cb, &guard, 0, NULL, NULL, 0,
			    max_size, (int)timeout_secs);
	if (bio == NULL) {
		sg_openssl_errors(ebuf, sizeof(ebuf));
		if (guard.why[0] == '\0' &&
		    strstr(ebuf, "max resp len exceeded") != NULL)
			snprintf(guard.why, sizeof(guard.why), "the answer is "
				 "larger than %zu bytes", max_size);
		sg_error_set(err_r, SG_ERR_IO, "%s", guard.why[0] != '\0' ?
			     guard.why : ebuf[0] != '\0' ? ebuf : "no answer");
		return -1;
	}
	for (;;) {
		char chunk[16384];

		n = BIO_read(bio, chunk, sizeof(chunk));
		if (n <= 0 && BIO_should_retry(bio)) {
			/* a streamed answer on a non-blocking socket: wait
			   for more, within the same overall timeout */
			if (BIO_wait(bio, deadline, 100) == 1)
				continue;
			BIO_free_all(bio);
			sg_buf_free(&buf);
			sg_openssl_errors(NULL, 0);
			sg_error_set(err_r, SG_ERR_IO, "the answer did not "
				     "arrive within %u seconds", timeout_secs);
			return -1;
		}
		if (n <= 0)
			break;
		if (buf.used + (size_t)n > max_size) {
			BIO_free_all(bio);
			sg_buf_free(&buf);
			sg_error_set(err_r, SG_ERR_IO,
				     "the answer is larger than %zu bytes",
				     max_size);
			return -1;
		}
		if (sg_buf_append(&buf, chunk, (size_t)n) < 0) {
			BIO_free_all(bio);
			sg_buf_free(&buf);
			sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
			return -1;
		}
	}
	BIO_free_all(bio);
	sg_openssl_errors(NULL, 0);
	if (buf.used == 0) {
		sg_buf_free(&buf);
		sg_error_set(err_r, SG_ERR_IO, "an empty answer");
		return -1;
	}
	*data_r = buf.data;
	*len_r = buf.used;
	return 0;
}

/* sg_crl_dir - where crl import/fetch write: the first directory of
   crl_dirs */
int sg_crl_dir(const struct sg_config *conf, char *buf, size_t size,
	       struct sg_error *err_r)
{
	const char *list = sg_config_get(conf, "crl_dirs"), *p;
	char item[4096];
	bool is_long;
	struct stat st;

	sg_error_clear(err_r);
	if (list == NULL) {
		sg_error_set(err_r, SG_ERR_CONFIG, "crl_dirs: cannot expand its value");
		return -1;
	}
	p = list;
	while (sg_list_copy_next(&p, item, sizeof(item), &is_long)) {
		if (is_long)
			continue;
		if (stat(item, &st) == 0 && S_ISDIR(st.st_mode)) {
			if ((size_t)snprintf(buf, size, "%s", item) >= size)
				break;
			return 0;
		}
	}
	sg_error_set(err_r, SG_ERR_CONFIG,
		     "crl_dirs names no directory%s%.120s: create one and add it "
		     "to crl_dirs in smimeguard.conf (or use --crl-dir)",
		     list[0] != '\0' ? ": " : "", list);
	return -1;
}
