/* ctx.c - the verification context: settings, trust store, CRLs,
 * pinned certificates, certificate policies and maps, loaded once
 *
 * sg_ctx_new() reads what smimeguard.conf names (through trust.c for
 * certificate and CRL files, certmap.c for certificate_maps) and keeps
 * it for the life of the context; a reload is a new context.
 *
 * Threads: a context is shared by every thread of a process.  What
 * changes after sg_ctx_new() (caches, learned intermediates, the maps'
 * own state) is changed under a lock: ctx->lock here, one per map in
 * certmap.c.  Under ctx->lock runs little but memory work, with two
 * exceptions: writing a learned certificate to the intermediate cache
 * (fsync), and reading that cache again when its directory changed
 * (also after this process's own write).  An AIA fetch runs under the
 * cache's own fetch lock, not this one.
 */
#include "ctx-private.h"
#include "sg-base.h"
#include "certmap-private.h"
#include "config-private.h"
#include "icache-private.h"
#include "x509-private.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#define TIME_MAX_VAL ((time_t)INT64_MAX)
#define TIME_MIN_VAL ((time_t)INT64_MIN)

/* anchors_fingerprint - SHA-256 over the sorted anchor SHA-256s */
static void anchors_fingerprint(STACK_OF(X509) *anchors, char hex[65])
{
	int i, n = sk_X509_num(anchors);
	unsigned char *fprs = calloc((size_t)n + 1, 32), md[32];
	unsigned int mdlen;

	hex[0] = '\0';
	if (fprs == NULL)
		return;
	for (i = 0; i < n; i++)
		X509_digest(sk_X509_value(anchors, i), EVP_sha256(),
			    fprs + (size_t)i * 32, &mdlen);
	qsort(fprs, (size_t)n, 32, sg_cmp_sha256);
	EVP_Digest(fprs, (size_t)n * 32, md, &mdlen, EVP_sha256(), NULL);
	sodium_bin2hex(hex, 65, md, 32);
	free(fprs);
}

static unsigned long parse_ulong(const struct sg_config *conf, const char *name)
{
	const char *v = sg_config_get(conf, name);

	return v == NULL ? 0 : strtoul(v, NULL, 10);
}

/* expanded - the expanded value of a setting, or NULL with err_r set
   (an unterminated ${, a reference loop) */
static const char *expanded(const struct sg_config *conf, const char *name,
			    struct sg_error *err_r)
{
	const char *v = sg_config_get(conf, name);

	if (v == NULL)
		sg_error_set(err_r, SG_ERR_CONFIG,
			     "%s: cannot expand its value", name);
	return v;
}

/* settings_from_conf - modes and limits (values were checked when set,
   but $references are checked only now) */
static int settings_from_conf(struct sg_ctx *ctx, const struct sg_config *conf,
			      struct sg_error *err_r)
{
	static const char *const checked[] = {
		"revocation_check", "sender_binding", "allow_sha1_signatures",
		"max_message_size", "max_mime_depth", "max_mime_parts",
		"max_cms_nesting", "max_certificates", "max_crl_size",
		"max_header_size", "max_header_fields", "max_signers", "max_crls",
		"max_decompressed_size", "max_compression_ratio",
		"harvest_max_per_address", "harvest_max_total",
		"keyd_timeout",
	};
	const char *v;
	size_t i;

	for (i = 0; i < SG_ARRAY_SIZE(checked); i++) {
		v = sg_config_get(conf, checked[i]);
		if (v == NULL) {
			sg_error_set(err_r, SG_ERR_CONFIG,
				     "%s: cannot expand its value", checked[i]);
			return -1;
		}
		/* re-check expanded values through the setter's checks */
		if (strchr(v, '$') == NULL) {
			struct sg_config *tmp;
			int ret;

			if (sg_config_new(&tmp) < 0) {
				sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
				return -1;
			}
			ret = sg_config_set(tmp, checked[i], v, err_r);
			sg_config_free(&tmp);
			if (ret < 0)
				return -1;
		} else {
			/* "$$" expands to a '$': the setter would not check
			   the value, and no value of these settings has one */
			sg_error_set(err_r, SG_ERR_INVALID,
				     "%s: '%.60s' is not a valid value",
				     checked[i], v);
			return -1;
		}
	}
	v = sg_config_get(conf, "revocation_check");
	ctx->revocation = strcmp(v, "none") == 0 ? SG_REVOCATION_NONE :
			  strcmp(v, "hard") == 0 ? SG_REVOCATION_HARD :
			  SG_REVOCATION_SOFT;
	v = sg_config_get(conf, "sender_binding");
	ctx->binding = strcmp(v, "off") == 0 ? SG_BINDING_OFF :
		       strcmp(v, "relaxed") == 0 ? SG_BINDING_RELAXED :
		       SG_BINDING_STRICT;
	if (sg_conf_bool(sg_config_get(conf, "allow_sha1_signatures"),
			 &ctx->allow_sha1) < 0)
		ctx->allow_sha1 = false;	/* checked when it was set */
	ctx->limits.max_message_size = parse_ulong(conf, "max_message_size");
	ctx->limits.max_mime_depth = (unsigned int)parse_ulong(conf, "max_mime_depth");
	ctx->limits.max_mime_parts = (unsigned int)parse_ulong(conf, "max_mime_parts");
	ctx->limits.max_cms_nesting = (unsigned int)parse_ulong(conf, "max_cms_nesting");
	ctx->limits.max_certificates = (unsigned int)parse_ulong(conf, "max_certificates");
	ctx->limits.max_crl_size = parse_ulong(conf, "max_crl_size");
	ctx->limits.max_header_size = parse_ulong(conf, "max_header_size");
	ctx->limits.max_header_fields =
		(unsigned int)parse_ulong(conf, "max_header_fields");
	ctx->limits.max_signers = (unsigned int)parse_ulong(conf, "max_signers");
	ctx->limits.max_crls = (unsigned int)parse_ulong(conf, "max_crls");
	ctx->limits.max_decompressed_size =
		parse_ulong(conf, "max_decompressed_size");
	ctx->limits.max_compression_ratio =
		(unsigned int)parse_ulong(conf, "max_compression_ratio");
	ctx->harvest_max_per_address = parse_ulong(conf, "harvest_max_per_address");
	ctx->harvest_max_total = parse_ulong(conf, "harvest_max_total");
	v = sg_config_get(conf, "temp_directory");
	if (v == NULL || v[0] != '/') {
		sg_error_set(err_r, SG_ERR_CONFIG, "temp_directory: '%.60s' is "
			     "not an absolute path", v == NULL ? "" : v);
		return -1;
	}
	if ((ctx->temp_dir = strdup(v)) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	v = sg_config_get(conf, "keyd_socket");
	if (v == NULL || (v[0] != '\0' && v[0] != '/')) {
		sg_error_set(err_r, SG_ERR_CONFIG, "keyd_socket: '%.60s' is "
			     "not an absolute path", v == NULL ? "" : v);
		return -1;
	}
	if ((ctx->keyd_socket = strdup(v)) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	ctx->keyd_timeout_ms = (unsigned int)parse_ulong(conf, "keyd_timeout");
	/* the verdicts smime-keyd gives are believed: only a process of
	   keyd_user (or root) may give them (keyd-client.c checks the
	   peer), so a socket someone else put at keyd_socket is not asked */
	v = sg_config_get(conf, "keyd_user");
	if ((ctx->keyd_user = strdup(v != NULL ? v : "")) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	ctx->keyd_uid = (uid_t)-1;
	if (ctx->keyd_socket[0] != '\0' && ctx->keyd_user[0] != '\0') {
		struct passwd pw, *pwp = NULL;
		char buf[4096];

		if (getpwnam_r(ctx->keyd_user, &pw, buf, sizeof(buf), &pwp) == 0 &&
		    pwp != NULL)
			ctx->keyd_uid = pwp->pw_uid;
	}
	return 0;
}

static int load_policies(struct sg_ctx *ctx, const char *list,
			 struct sg_error *err_r)
{
	char oid[128];
	const char *p = list;
	bool too_long;

	while (sg_list_copy_next(&p, oid, sizeof(oid), &too_long)) {
		ASN1_OBJECT *obj;

		if (too_long) {
			sg_error_set(err_r, SG_ERR_INVALID,
				     "certificate_policies: OID too long");
			return -1;
		}
		if ((obj = OBJ_txt2obj(oid, 1)) == NULL) {
			sg_openssl_errors(NULL, 0);
			sg_error_set(err_r, SG_ERR_INVALID,
				     "certificate_policies: '%.60s' is not an OID",
				     oid);
			return -1;
		}
		if (ctx->policies == NULL &&
		    (ctx->policies = sk_ASN1_OBJECT_new_null()) == NULL) {
			ASN1_OBJECT_free(obj);
			sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
			return -1;
		}
		if (!sk_ASN1_OBJECT_push(ctx->policies, obj)) {
			ASN1_OBJECT_free(obj);
			sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
			return -1;
		}
	}
	return 0;
}

int sg_ctx_new(const struct sg_config *conf, struct sg_ctx **ctx_r,
	       struct sg_error *err_r)
{
	struct sg_ctx *ctx;
	STACK_OF(X509) *anchors = NULL;
	const char *v;
	int i;

	sg_assert(conf != NULL && ctx_r != NULL);
	*ctx_r = NULL;
	sg_error_clear(err_r);
	if ((ctx = calloc(1, sizeof(*ctx))) != NULL &&
	    sg_mutex_init_recursive(&ctx->lock) == 0)
		ctx->lock_ready = true;
	if (ctx == NULL || !ctx->lock_ready ||
	    (ctx->store = X509_STORE_new()) == NULL ||
	    (ctx->intermediates = sk_X509_new_null()) == NULL ||
	    (ctx->crls = sk_X509_CRL_new_null()) == NULL ||
	    (anchors = sk_X509_new_null()) == NULL ||
	    sg_trust_caches_new(ctx) < 0) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (settings_from_conf(ctx, conf, err_r) < 0)
		goto fail;
	if ((v = expanded(conf, "trust_anchors", err_r)) == NULL ||
	    sg_trust_load_list(v, false, anchors, NULL, err_r) < 0)
		goto fail;
	if ((v = expanded(conf, "intermediates", err_r)) == NULL ||
	    sg_trust_load_list(v, false, ctx->intermediates, NULL, err_r) < 0)
		goto fail;
	if ((v = expanded(conf, "crl_dirs", err_r)) == NULL ||
	    sg_trust_load_list(v, true, NULL, ctx->crls, err_r) < 0)
		goto fail;
	if ((v = expanded(conf, "pinned_certificates", err_r)) == NULL ||
	    sg_trust_load_pinned(ctx, v, err_r) < 0)
		goto fail;
	if ((v = expanded(conf, "certificate_policies", err_r)) == NULL ||
	    load_policies(ctx, v, err_r) < 0)
		goto fail;
	if (sg_cmap_new(conf, &ctx->certmaps, err_r) < 0)
		goto fail;
	if (sg_icache_open(ctx, conf, err_r) < 0)
		goto fail;
	for (i = 0; i < sk_X509_num(anchors); i++) {
		if (X509_STORE_add_cert(ctx->store, sk_X509_value(anchors, i)) != 1) {
			/* a duplicate anchor is harmless */
			sg_openssl_errors(NULL, 0);
		}
	}
	ctx->n_anchors = (size_t)sk_X509_num(anchors);
	anchors_fingerprint(anchors, ctx->anchor_fpr);
	/* the window in which every configured CRL is current */
	ctx->crl_window_start = TIME_MIN_VAL;
	ctx->crl_window_end = TIME_MAX_VAL;
	for (i = 0; i < sk_X509_CRL_num(ctx->crls); i++) {
		X509_CRL *crl = sk_X509_CRL_value(ctx->crls, i);
		time_t last = sg_trust_asn1_time(X509_CRL_get0_lastUpdate(crl), TIME_MIN_VAL);
		time_t next = sg_trust_asn1_time(X509_CRL_get0_nextUpdate(crl), TIME_MAX_VAL);

		if (last > ctx->crl_window_start)
			ctx->crl_window_start = last;
		if (next < ctx->crl_window_end)
			ctx->crl_window_end = next;
	}
	sk_X509_pop_free(anchors, X509_free);
	*ctx_r = ctx;
	return 0;
fail:
	sk_X509_pop_free(anchors, X509_free);
	sg_ctx_free(&ctx);
	return -1;
}

void sg_ctx_free(struct sg_ctx **ctxp)
{
	struct sg_ctx *ctx = *ctxp;

	if (ctx == NULL)
		return;
	X509_STORE_free(ctx->store);
	sk_X509_pop_free(ctx->intermediates, X509_free);
	free(ctx->pinned);
	free(ctx->temp_dir);
	free(ctx->keyd_socket);
	free(ctx->keyd_user);
	sk_X509_CRL_pop_free(ctx->crls, X509_CRL_free);
	sk_ASN1_OBJECT_pop_free(ctx->policies, ASN1_OBJECT_free);
	sg_cmap_free(&ctx->certmaps);
	sg_icache_free(ctx);
	sg_trust_caches_free(ctx);
	if (ctx->lock_ready)
		pthread_mutex_destroy(&ctx->lock);
	free(ctx);
	*ctxp = NULL;
}

size_t sg_ctx_max_message_size(const struct sg_ctx *ctx)
{
	sg_assert(ctx != NULL);
	return ctx->limits.max_message_size;
}

size_t sg_ctx_anchor_count(const struct sg_ctx *ctx)
{
	sg_assert(ctx != NULL);
	return ctx->n_anchors;
}

int sg_ctx_policy(const struct sg_ctx *ctx, char *buf, size_t size)
{
	static const char *const rev[] = { "none", "soft", "hard" };
	static const char *const bind[] = { "strict", "relaxed", "off" };
	int n;

	sg_assert(ctx != NULL && buf != NULL);
	n = snprintf(buf, size,
		     "anchors=sha256:%s revocation=%s sender_binding=%s sha1=%s",
		     ctx->anchor_fpr, rev[ctx->revocation], bind[ctx->binding],
		     ctx->allow_sha1 ? "allow" : "reject");
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}

