/* trust.c - trust store files, the certificate and chain caches, chains
 *
 * Trust anchors come only from configuration.  Certificates inside a
 * message are untrusted; configured intermediates are added.  Path
 * validation is OpenSSL's (RFC 5280) with the S/MIME signing purpose.
 *
 * Two caches make repeated mail cheap (OpenSSL 3.0 spends ~150-200 us
 * decoding each certificate and ~100-200 us building each chain):
 *  - cert cache: certificate DER (BLAKE2b-256 of it) -> decoded X509;
 *  - chain cache: (signer, message certificates) -> "chain is valid",
 *    stored only for successful validations without message CRLs, and
 *    used only while the validation time stays inside the window where
 *    every certificate of the chain and every configured CRL is current.
 * Both are per context, so a reload (a new context) starts them afresh.
 */
#include "ctx-private.h"
#include "sg-base.h"
#include "config-private.h"
#include "icache-private.h"
#include "x509-private.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#define CERT_CACHE_SLOTS 1024
#define CHAIN_CACHE_SLOTS 512
#define HASH_LEN 32

struct cert_slot {
	unsigned char key[HASH_LEN];
	X509 *cert;
};

struct sg_cert_cache {
	struct cert_slot slots[CERT_CACHE_SLOTS];
};

struct chain_slot {
	unsigned char key[HASH_LEN];
	bool used;
	time_t not_before, not_after;	/* window where the result holds */
	uint32_t info;			/* weak-algorithm/weak-key allowed */
	char detail[160];		/* their explanation */
};

struct sg_chain_cache {
	struct chain_slot slots[CHAIN_CACHE_SLOTS];
};

static size_t slot_of(const unsigned char *key, size_t n)
{
	size_t v;

	memcpy(&v, key, sizeof(v));
	return v % n;
}

/* ---- loading ---- */

/* push_obj - a certificate (its extensions cached now: shared
   certificates stay read-only) or a CRL onto its stack; freed on failure */
static int push_obj(void *obj, bool want_crl, STACK_OF(X509) *certs,
		    STACK_OF(X509_CRL) *crls)
{
	if (want_crl) {
		if (sk_X509_CRL_push(crls, obj) > 0)
			return 0;
		X509_CRL_free(obj);
		return -1;
	}
	(void)X509_check_purpose(obj, -1, 0);
	if (sk_X509_push(certs, obj) > 0)
		return 0;
	X509_free(obj);
	return -1;
}

/* sg_trust_load_file - all certificates (or CRLs) of one file */
int sg_trust_load_file(const char *path, bool want_crl, STACK_OF(X509) *certs,
		     STACK_OF(X509_CRL) *crls, size_t *n_r,
		     struct sg_error *err_r)
{
	BIO *bio;
	size_t n = 0;

	if ((bio = BIO_new_file(path, "rb")) == NULL) {
		sg_openssl_errors(NULL, 0);
		sg_error_set(err_r, SG_ERR_IO, "cannot read %.180s: %s", path,
			     strerror(errno));
		return -1;
	}
	for (;;) {
		void *obj = want_crl ?
			(void *)PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) :
			(void *)PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL);
		if (obj == NULL)
			break;
		if (push_obj(obj, want_crl, certs, crls) < 0) {
			BIO_free(bio);
			sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
			return -1;
		}
		n++;
	}
	sg_openssl_errors(NULL, 0);	/* the PEM end-of-file "error" */
	if (n == 0) {
		/* not PEM: try one DER object */
		void *obj;

		(void)BIO_reset(bio);
		obj = want_crl ? (void *)d2i_X509_CRL_bio(bio, NULL) :
				 (void *)d2i_X509_bio(bio, NULL);
		sg_openssl_errors(NULL, 0);
		if (obj != NULL) {
			if (push_obj(obj, want_crl, certs, crls) < 0) {
				BIO_free(bio);
				sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
				return -1;
			}
			n++;
		}
	}
	BIO_free(bio);
	*n_r = n;
	return 0;
}

struct load_dir {
	bool want_crl;
	STACK_OF(X509) *certs;
	STACK_OF(X509_CRL) *crls;
	struct sg_error *err_r;
};

static int load_dir_file(void *context, const char *file)
{
	struct load_dir *ld = context;
	size_t n;

	return sg_trust_load_file(file, ld->want_crl, ld->certs, ld->crls,
				  &n, ld->err_r) < 0 ? -1 : 0;
}

/* load_path - a file (must contain at least one object) or a directory
   (every regular, non-hidden file that parses) */
static int load_path(const char *path, bool want_crl, STACK_OF(X509) *certs,
		     STACK_OF(X509_CRL) *crls, struct sg_error *err_r)
{
	struct stat st;
	size_t n;

	if (stat(path, &st) < 0) {
		sg_error_set(err_r, SG_ERR_IO, "%.180s: %s", path,
			     strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *dir = opendir(path);
		struct load_dir ld = { want_crl, certs, crls, err_r };
		int r;

		if (dir == NULL) {
			sg_error_set(err_r, SG_ERR_IO, "%.180s: %s", path,
				     strerror(errno));
			return -1;
		}
		r = sg_dir_files(dir, path, load_dir_file, &ld);
		closedir(dir);
		return r < 0 ? -1 : 0;
	}
	if (sg_trust_load_file(path, want_crl, certs, crls, &n, err_r) < 0)
		return -1;
	if (n == 0) {
		sg_error_set(err_r, SG_ERR_CONFIG,
			     "%.180s: no %s found (PEM or DER expected)", path,
			     want_crl ? "CRL" : "certificate");
		return -1;
	}
	return 0;
}

int sg_trust_load_list(const char *list, bool want_crl, STACK_OF(X509) *certs,
		       STACK_OF(X509_CRL) *crls, struct sg_error *err_r)
{
	char item[4096];
	const char *p = list, *it;
	size_t len;

	while (sg_list_next(&p, &it, &len)) {
		if (len >= sizeof(item)) {
			sg_error_set(err_r, SG_ERR_CONFIG, "path too long");
			return -1;
		}
		memcpy(item, it, len);
		item[len] = '\0';
		if (load_path(item, want_crl, certs, crls, err_r) < 0)
			return -1;
	}
	return 0;
}

#define asn1_time_t sg_trust_asn1_time
#define TIME_MAX_VAL ((time_t)INT64_MAX)
#define TIME_MIN_VAL ((time_t)INT64_MIN)

int sg_trust_caches_new(struct sg_ctx *ctx)
{
	if ((ctx->cert_cache = calloc(1, sizeof(*ctx->cert_cache))) == NULL ||
	    (ctx->chain_cache = calloc(1, sizeof(*ctx->chain_cache))) == NULL)
		return -1;
	return 0;
}

void sg_trust_caches_free(struct sg_ctx *ctx)
{
	size_t i;

	if (ctx->cert_cache != NULL) {
		for (i = 0; i < CERT_CACHE_SLOTS; i++)
			X509_free(ctx->cert_cache->slots[i].cert);
	}
	free(ctx->cert_cache);
	free(ctx->chain_cache);
	ctx->cert_cache = NULL;
	ctx->chain_cache = NULL;
}

/* ---- pinned_certificates ---- */

/* sg_trust_load_pinned - the fingerprints of pinned_certificates */
int sg_trust_load_pinned(struct sg_ctx *ctx, const char *list,
			 struct sg_error *err_r)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	int i, n;

	if (certs == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	if (sg_trust_load_list(list, false, certs, NULL, err_r) < 0) {
		sk_X509_pop_free(certs, X509_free);
		return -1;
	}
	n = sk_X509_num(certs);
	if (n > 0 && (ctx->pinned = calloc((size_t)n, 32)) == NULL) {
		sk_X509_pop_free(certs, X509_free);
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned char *der = NULL;
		int len = i2d_X509(sk_X509_value(certs, i), &der);

		if (len <= 0)
			continue;
		crypto_hash_sha256(ctx->pinned[ctx->n_pinned++], der,
				   (unsigned long long)len);
		OPENSSL_free(der);
	}
	if (ctx->n_pinned > 1)
		qsort(ctx->pinned, ctx->n_pinned, 32, sg_cmp_sha256);
	sk_X509_pop_free(certs, X509_free);
	sg_openssl_errors(NULL, 0);
	return 0;
}

bool sg_trust_is_pinned(const struct sg_ctx *ctx, const unsigned char *der,
			size_t len)
{
	unsigned char fpr[32];

	if (ctx->n_pinned == 0)
		return false;
	crypto_hash_sha256(fpr, der, len);
	return bsearch(fpr, ctx->pinned, ctx->n_pinned, 32, sg_cmp_sha256) != NULL;
}

/* ---- certificate cache ---- */

X509 *sg_trust_cert_from_der(struct sg_ctx *ctx, const unsigned char *der,
			     size_t len)
{
	unsigned char key[HASH_LEN];
	struct cert_slot *slot;
	const unsigned char *p = der;
	X509 *cert = NULL, *old;

	crypto_generichash(key, sizeof(key), der, len, NULL, 0);
	slot = &ctx->cert_cache->slots[slot_of(key, CERT_CACHE_SLOTS)];
	sg_ctx_lock(ctx);
	if (slot->cert != NULL && memcmp(slot->key, key, HASH_LEN) == 0) {
		cert = slot->cert;
		X509_up_ref(cert);
		sg_ctx_unlock(ctx);
		return cert;
	}
	sg_ctx_unlock(ctx);
	/* decoded without the lock: other threads go on meanwhile */
	if (len > LONG_MAX || (cert = d2i_X509(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		if (cert != NULL)
			X509_free(cert);
		sg_openssl_errors(NULL, 0);
		return NULL;
	}
	/* compute the extension cache now, so cached certs stay read-only */
	(void)X509_check_purpose(cert, -1, 0);
	X509_up_ref(cert);
	sg_ctx_lock(ctx);
	old = slot->cert;
	memcpy(slot->key, key, HASH_LEN);
	slot->cert = cert;
	sg_ctx_unlock(ctx);
	X509_free(old);		/* whoever still uses it holds a reference */
	return cert;
}

/* ---- chain validation ---- */

struct chain_state {
	enum sg_revocation revocation;
	enum sg_chain_purpose purpose;
	struct sg_chain_verdict *v;
	X509 *orphan;		/* a certificate whose issuer is missing */
};

static bool is_crl_error(int err)
{
	switch (err) {
	case X509_V_ERR_UNABLE_TO_GET_CRL:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
	case X509_V_ERR_CRL_NOT_YET_VALID:
	case X509_V_ERR_CRL_HAS_EXPIRED:
	case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
	case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
	case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
	case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
	case X509_V_ERR_DIFFERENT_CRL_SCOPE:
	case X509_V_ERR_CRL_PATH_VALIDATION_ERROR:
	case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
		return true;
	default:
		return false;
	}
}

static enum sg_reason reason_of(int err)
{
	switch (err) {
	case X509_V_ERR_CERT_REVOKED:
		return SG_REASON_REVOKED;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return SG_REASON_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return SG_REASON_NOT_YET_VALID;
	case X509_V_ERR_INVALID_PURPOSE:
	case X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE:
		return SG_REASON_KEY_USAGE;
	case X509_V_ERR_EE_KEY_TOO_SMALL:
	case X509_V_ERR_CA_KEY_TOO_SMALL:
		return SG_REASON_WEAK_KEY;
	case X509_V_ERR_CA_MD_TOO_WEAK:
		return SG_REASON_WEAK_ALGORITHM;
	case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
	case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
	case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
		return SG_REASON_MALFORMED;
	default:
		return SG_REASON_UNTRUSTED;
	}
}

/* verify_cb - collect every problem of the path instead of stopping */
static int verify_cb(int ok, X509_STORE_CTX *xctx)
{
	struct chain_state *cs = X509_STORE_CTX_get_app_data(xctx);
	int err = X509_STORE_CTX_get_error(xctx);
	enum sg_reason r;

	if (ok || cs == NULL)
		return ok;
	if ((err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
	     err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT) && cs->orphan == NULL &&
	    (cs->orphan = X509_STORE_CTX_get_current_cert(xctx)) != NULL)
		X509_up_ref(cs->orphan);
	/* encryption: the leaf's key usage is checked by cert-select.c
	   (OpenSSL's smime_encrypt purpose knows no keyAgreement) */
	if (cs->purpose == SG_CHAIN_ENCRYPT && err == X509_V_ERR_INVALID_PURPOSE &&
	    X509_STORE_CTX_get_error_depth(xctx) == 0)
		return 1;
	if (is_crl_error(err)) {
		/* soft: use the CRLs that are present; hard: inconclusive */
		if (cs->revocation == SG_REVOCATION_HARD)
			r = SG_REASON_REVOCATION_UNKNOWN;
		else
			return 1;
	} else {
		r = reason_of(err);
	}
	if (cs->v->detail[0] == '\0' || (r != SG_REASON_REVOCATION_UNKNOWN &&
					 !(cs->v->reasons & ~SG_REASON_BIT(SG_REASON_REVOCATION_UNKNOWN)))) {
		snprintf(cs->v->detail, sizeof(cs->v->detail), "%s (depth %d)",
			 X509_verify_cert_error_string(err),
			 X509_STORE_CTX_get_error_depth(xctx));
	}
	cs->v->reasons |= SG_REASON_BIT(r);
	return 1;
}

/* hash_cert - BLAKE2b of a certificate's DER into st */
static void hash_cert(crypto_generichash_state *st, X509 *cert)
{
	unsigned char stackbuf[4096], *der = stackbuf, *p;
	int len = i2d_X509(cert, NULL);

	if (len <= 0)
		return;
	if ((size_t)len > sizeof(stackbuf) && (der = malloc((size_t)len)) == NULL)
		return;
	p = der;
	i2d_X509(cert, &p);
	crypto_generichash_update(st, der, (size_t)len);
	if (der != stackbuf)
		free(der);
}

/* chain_key - BLAKE2b over the signer and the message's certificates
   (the configured trust store and intermediates are fixed per context);
   a purpose other than signing is mixed in, so the two never share */
static void chain_key(X509 *signer, STACK_OF(X509) *msg_certs,
		      enum sg_chain_purpose purpose,
		      unsigned char key[HASH_LEN])
{
	static const unsigned char encrypt_tag[] = "smimeguard:encrypt";
	crypto_generichash_state st;
	int i;

	crypto_generichash_init(&st, NULL, 0, HASH_LEN);
	if (purpose == SG_CHAIN_ENCRYPT)
		crypto_generichash_update(&st, encrypt_tag, sizeof(encrypt_tag));
	hash_cert(&st, signer);
	for (i = 0; i < sk_X509_num(msg_certs); i++)
		hash_cert(&st, sk_X509_value(msg_certs, i));
	crypto_generichash_final(&st, key, HASH_LEN);
}

void sg_trust_verify_chain(struct sg_ctx *ctx, X509 *signer,
			   STACK_OF(X509) *msg_certs,
			   STACK_OF(X509_CRL) *msg_crls, time_t at,
			   struct sg_chain_verdict *v)
{
	sg_trust_verify_chain_for(ctx, signer, msg_certs, msg_crls, at,
				  SG_CHAIN_SIGN, v);
}

/* sig_strength - the digest of a certificate's or CRL's signature:
   MD2/4/5 always fail, SHA-1 fails unless allow_sha1_signatures (then
   it is weak); 0 fine, 1 weak, -1 fail */
static int sig_strength(const struct sg_ctx *ctx, int sig_nid)
{
	int md = NID_undef, pk = NID_undef;

	if (sig_nid == NID_undef || !OBJ_find_sigid_algs(sig_nid, &md, &pk))
		return 0;	/* EdDSA, RSA-PSS: no separate digest here */
	switch (md) {
	case NID_md2:
	case NID_md4:
	case NID_md5:
		return -1;
	case NID_sha1:
		return ctx->allow_sha1 ? 1 : -1;
	default:
		return 0;
	}
}

/* key_strength - a CA key that signs the path: 0, 1 weak, -1 fail */
static int ca_key_strength(X509 *x, int *bits_r)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	int id;

	*bits_r = 0;
	if (pk == NULL)
		return 0;
	*bits_r = EVP_PKEY_get_bits(pk);
	id = EVP_PKEY_get_base_id(pk);
	if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS || id == EVP_PKEY_DSA)
		return *bits_r < 1024 ? -1 : *bits_r < 2048 ? 1 : 0;
	if (id == EVP_PKEY_EC)
		return *bits_r < 224 ? -1 : *bits_r < 256 ? 1 : 0;
	return 0;
}

/*
 * path_strength - the algorithm policy on every signature of the path,
 * not only the SignerInfo's (issue 18): each certificate's signature
 * (the anchor's self-signature aside), each CA key that signs, and the
 * CRLs of the path's issuers.  A failure is weak-algorithm or weak-key
 * in v->reasons; allowed weakness goes to v->info ($SMIMEWeak).
 */
/* weak - record one weakness of the path: r < 0 fails (reasons), r > 0
   is allowed but weak (info); the detail names the last one */
static void weak(struct sg_chain_verdict *v, int r, enum sg_reason reason,
		 const char *kind, const X509_NAME *who, const char *what)
{
	char name[120];

	if (r == 0)
		return;
	X509_NAME_oneline(who, name, sizeof(name));
	sg_text_sanitize(name);
	if (r < 0)
		v->reasons |= SG_REASON_BIT(reason);
	else
		v->info |= SG_REASON_BIT(reason);
	snprintf(v->detail, sizeof(v->detail), "%.20s %.90s %.40s", kind, name, what);
}

static void path_strength(const struct sg_ctx *ctx, STACK_OF(X509) *chain,
			  STACK_OF(X509_CRL) *crls, struct sg_chain_verdict *v)
{
	int n = sk_X509_num(chain), i, j, bits;
	char what[64];

	for (i = 0; i < n; i++) {
		X509 *x = sk_X509_value(chain, i);

		if (i < n - 1) {	/* not the anchor's self-signature */
			snprintf(what, sizeof(what), "is signed with %s",
				 OBJ_nid2sn(X509_get_signature_nid(x)));
			weak(v, sig_strength(ctx, X509_get_signature_nid(x)),
			     SG_REASON_WEAK_ALGORITHM, "the certificate",
			     X509_get_subject_name(x), what);
		}
		if (i > 0) {
			int r = ca_key_strength(x, &bits);

			snprintf(what, sizeof(what), "signs with a %d-bit key", bits);
			weak(v, r, SG_REASON_WEAK_KEY, "the CA",
			     X509_get_subject_name(x), what);
		}
		for (j = 0; j < sk_X509_CRL_num(crls); j++) {
			X509_CRL *crl = sk_X509_CRL_value(crls, j);

			if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
					  X509_get_subject_name(x)) != 0)
				continue;
			snprintf(what, sizeof(what), "is signed with %s",
				 OBJ_nid2sn(X509_CRL_get_signature_nid(crl)));
			weak(v, sig_strength(ctx, X509_CRL_get_signature_nid(crl)),
			     SG_REASON_WEAK_ALGORITHM, "a CRL of",
			     X509_CRL_get_issuer(crl), what);
		}
	}
}

/* verify_once - one path validation; *orphan_r (a reference) is set
   when the path failed only because an issuer was missing */
static void verify_once(struct sg_ctx *ctx, X509 *signer,
			STACK_OF(X509) *msg_certs,
			STACK_OF(X509_CRL) *msg_crls, time_t at,
			enum sg_chain_purpose purpose,
			struct sg_chain_verdict *v, X509 **orphan_r)
{
	struct chain_state cs = { ctx->revocation, purpose, v, NULL };
	unsigned char key[HASH_LEN];
	struct chain_slot *slot = NULL;
	X509_STORE_CTX *xctx = NULL;
	STACK_OF(X509_CRL) *crls = NULL;
	STACK_OF(X509) *untrusted = NULL;
	STACK_OF(ASN1_OBJECT) *any_policy = NULL;	/* static objects */
	X509_VERIFY_PARAM *param;
	unsigned long flags = 0;
	bool cacheable = sk_X509_CRL_num(msg_crls) <= 0;
	int i, ret;

	memset(v, 0, sizeof(*v));
	if (cacheable) {
		chain_key(signer, msg_certs, purpose, key);
		slot = &ctx->chain_cache->slots[slot_of(key, CHAIN_CACHE_SLOTS)];
		sg_ctx_lock(ctx);
		if (slot->used && memcmp(slot->key, key, HASH_LEN) == 0 &&
		    at >= slot->not_before && at < slot->not_after) {
			/* validated before, still inside its window */
			v->valid_from = slot->not_before;
			v->valid_until = slot->not_after;
			v->info = slot->info;
			memcpy(v->detail, slot->detail, sizeof(v->detail));
			sg_ctx_unlock(ctx);
			return;
		}
		sg_ctx_unlock(ctx);
	}
	/* this call's own copies of the shared lists (their members are
	   never freed while the context lives) */
	sg_ctx_lock(ctx);
	untrusted = sk_X509_dup(ctx->intermediates);
	if (untrusted != NULL && ctx->revocation != SG_REVOCATION_NONE)
		crls = sk_X509_CRL_dup(ctx->crls);
	sg_ctx_unlock(ctx);
	if (untrusted == NULL)
		goto internal;
	for (i = 0; i < sk_X509_num(msg_certs); i++) {
		if (!sk_X509_push(untrusted, sk_X509_value(msg_certs, i)))
			goto internal;
	}
	if ((xctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(xctx, ctx->store, signer, untrusted) != 1 ||
	    X509_STORE_CTX_set_default(xctx, "smime_sign") != 1)
		goto internal;
	param = X509_STORE_CTX_get0_param(xctx);
	if (purpose == SG_CHAIN_ENCRYPT &&
	    X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SMIME_ENCRYPT) != 1)
		goto internal;
	X509_VERIFY_PARAM_set_time(param, at);
	if (ctx->revocation != SG_REVOCATION_NONE) {
		flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL |
			 X509_V_FLAG_EXTENDED_CRL_SUPPORT |
			 X509_V_FLAG_USE_DELTAS;
		if (crls == NULL)
			goto internal;
		for (i = 0; i < sk_X509_CRL_num(msg_crls); i++) {
			if (!sk_X509_CRL_push(crls, sk_X509_CRL_value(msg_crls, i)))
				goto internal;
		}
		X509_STORE_CTX_set0_crls(xctx, crls);
	}
	/* RFC 5280 6.1 policy processing.  user-initial-policy-set:
	   certificate_policies, with initial-explicit-policy set; without
	   it any-policy (6.1.1 (c)), so only the path's own constraints
	   (requireExplicitPolicy, inhibitPolicyMapping, inhibitAnyPolicy)
	   can require a policy.  OpenSSL's default is an empty set, under
	   which any requireExplicitPolicy in the path fails. */
	flags |= X509_V_FLAG_POLICY_CHECK;
	if (ctx->policies != NULL) {
		flags |= X509_V_FLAG_EXPLICIT_POLICY;
		if (X509_VERIFY_PARAM_set1_policies(param, ctx->policies) != 1)
			goto internal;
	} else {
		if ((any_policy = sk_ASN1_OBJECT_new_null()) == NULL ||
		    !sk_ASN1_OBJECT_push(any_policy, OBJ_nid2obj(NID_any_policy)) ||
		    X509_VERIFY_PARAM_set1_policies(param, any_policy) != 1)
			goto internal;
	}
	X509_VERIFY_PARAM_set_flags(param, flags);
	X509_STORE_CTX_set_app_data(xctx, &cs);
	X509_STORE_CTX_set_verify_cb(xctx, verify_cb);
	ret = X509_verify_cert(xctx);
	if (ret <= 0 && v->reasons == 0) {
		/* failed without telling the callback */
		int err = X509_STORE_CTX_get_error(xctx);

		v->reasons |= SG_REASON_BIT(reason_of(err));
		snprintf(v->detail, sizeof(v->detail), "%s",
			 X509_verify_cert_error_string(err));
	}
	/* without a trusted path, revocation is beside the point */
	if (v->reasons & SG_REASON_BIT(SG_REASON_UNTRUSTED))
		v->reasons &= ~SG_REASON_BIT(SG_REASON_REVOCATION_UNKNOWN);
	if (ret > 0 && v->reasons == 0)
		path_strength(ctx, X509_STORE_CTX_get0_chain(xctx), crls, v);
	if (ret > 0 && v->reasons == 0) {
		STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(xctx);
		time_t nb = TIME_MIN_VAL, na = TIME_MAX_VAL;

		for (i = 0; i < sk_X509_num(chain); i++) {
			X509 *c = sk_X509_value(chain, i);
			time_t b = asn1_time_t(X509_get0_notBefore(c), TIME_MAX_VAL);
			time_t a = asn1_time_t(X509_get0_notAfter(c), TIME_MIN_VAL);

			if (b > nb)
				nb = b;
			if (a < na)
				na = a;
		}
		if (ctx->revocation != SG_REVOCATION_NONE) {
			if (ctx->crl_window_start > nb)
				nb = ctx->crl_window_start;
			if (ctx->crl_window_end < na)
				na = ctx->crl_window_end;
		}
		v->valid_from = nb;
		v->valid_until = na;
		/* intermediate_cache: what the path used, for later mail */
		sg_icache_learn(ctx, chain);
		if (slot != NULL) {
			sg_ctx_lock(ctx);
			memcpy(slot->key, key, HASH_LEN);
			slot->used = true;
			slot->not_before = nb;
			slot->not_after = na;
			slot->info = v->info;
			memcpy(slot->detail, v->detail, sizeof(slot->detail));
			sg_ctx_unlock(ctx);
		}
	}
	if (v->reasons == SG_REASON_BIT(SG_REASON_UNTRUSTED) &&
	    cs.orphan != NULL && orphan_r != NULL) {
		*orphan_r = cs.orphan;
		cs.orphan = NULL;
	}
	X509_free(cs.orphan);
	sg_openssl_errors(NULL, 0);
	X509_STORE_CTX_free(xctx);
	sk_X509_CRL_free(crls);
	sk_X509_free(untrusted);
	sk_ASN1_OBJECT_free(any_policy);
	return;
internal:
	X509_free(cs.orphan);
	sg_openssl_errors(NULL, 0);
	X509_STORE_CTX_free(xctx);
	sk_X509_CRL_free(crls);
	sk_X509_free(untrusted);
	sk_ASN1_OBJECT_free(any_policy);
	v->reasons |= SG_REASON_BIT(SG_REASON_INTERNAL_ERROR);
	snprintf(v->detail, sizeof(v->detail), "cannot set up path validation");
}

/* sg_trust_verify_chain_for - path validation for a purpose; the window
   in which a clean result holds is returned in v->valid_from/until.
   When only an issuer is missing, intermediate_cache / aia_fetch may
   find it (icache.c): then the path is built again */
void sg_trust_verify_chain_for(struct sg_ctx *ctx, X509 *signer,
			       STACK_OF(X509) *msg_certs,
			       STACK_OF(X509_CRL) *msg_crls, time_t at,
			       enum sg_chain_purpose purpose,
			       struct sg_chain_verdict *v)
{
	int round;

	for (round = 0; ; round++) {
		X509 *orphan = NULL;
		bool again;

		verify_once(ctx, signer, msg_certs, msg_crls, at, purpose, v,
			    &orphan);
		if (orphan == NULL)
			return;
		again = round < 4 && sg_icache_complete(ctx, orphan);
		X509_free(orphan);
		if (!again)
			return;
	}
}
