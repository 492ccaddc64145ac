/*
 * ctx-private.h - internal interfaces of ctx.c and trust.c
 *
 * The context, struct sg_ctx (ctx.c), its lock, and chain validation,
 * certificate files and the certificate cache (trust.c).  Nothing here is
 * exported; only files of common/ (and the unit tests and fuzzers) include
 * it.
 */
#ifndef SG_CTX_PRIVATE_H
#define SG_CTX_PRIVATE_H

#include "sg-base.h"
#include "config-private.h"

#include <openssl/x509.h>

struct sg_icache;

/* ---- trust.c: the context ---- */
struct sg_cert_cache;
struct sg_chain_cache;
struct sg_certmaps;

struct sg_ctx {
	X509_STORE *store;			/* anchors only */
	STACK_OF(X509) *intermediates;		/* configured, untrusted */
	STACK_OF(X509_CRL) *crls;		/* configured CRLs */
	STACK_OF(ASN1_OBJECT) *policies;	/* required policies or NULL */
	enum sg_revocation revocation;
	enum sg_binding binding;
	bool allow_sha1;
	struct sg_limits limits;
	size_t n_anchors;
	char anchor_fpr[65];			/* hex SHA-256 of the set */
	time_t crl_window_start;		/* max lastUpdate of CRLs */
	time_t crl_window_end;			/* min nextUpdate (or max) */
	struct sg_cert_cache *cert_cache;
	struct sg_chain_cache *chain_cache;
	struct sg_certmaps *certmaps;		/* certificate_maps, harvest_map */
	size_t harvest_max_per_address;		/* harvest caps */
	size_t harvest_max_total;
	unsigned char (*pinned)[32];		/* pinned_certificates: sorted
						   SHA-256 of their DER */
	size_t n_pinned;
	struct sg_icache *icache;		/* intermediate_cache or NULL */
	char *temp_dir;				/* temp_directory: where
						   sg_verify_update() spills */
	char *keyd_socket;			/* keyd_socket, "": off */
	unsigned int keyd_timeout_ms;		/* keyd_timeout */
	/* who may serve keyd_socket besides root: keyd_user's uid, or
	   (uid_t)-1 when there is no such user here */
	uid_t keyd_uid;
	char *keyd_user;
	/* Many threads may verify against one context at once.  Everything
	   above is read-only after sg_ctx_new() but what lock guards: the
	   certificate and chain caches, intermediates (which only grow: a
	   pointer taken from it stays valid while the context lives), crls
	   and icache.  Recursive.  The certificate maps have a lock per map
	   (certmap.c), always taken before this one, never after. */
	pthread_mutex_t lock;
	bool lock_ready;
};

/* the context's lock; inline, so that the modules below ctx.c need
   nothing of it */
static inline void sg_ctx_lock(struct sg_ctx *ctx)
{
	sg_mutex_lock(&ctx->lock);
}

static inline void sg_ctx_unlock(struct sg_ctx *ctx)
{
	sg_mutex_unlock(&ctx->lock);
}

/* trust.c: certificates or CRLs of every file of a list setting */
int sg_trust_load_list(const char *list, bool want_crl, STACK_OF(X509) *certs,
		       STACK_OF(X509_CRL) *crls, struct sg_error *err_r);
/* the context's certificate and chain caches; -1 on ENOMEM */
int sg_trust_caches_new(struct sg_ctx *ctx);
void sg_trust_caches_free(struct sg_ctx *ctx);
/* is this DER certificate one of pinned_certificates */
/* pinned_certificates (a list setting's value) into ctx->pinned */
int sg_trust_load_pinned(struct sg_ctx *ctx, const char *list,
			 struct sg_error *err_r);
bool sg_trust_is_pinned(const struct sg_ctx *ctx, const unsigned char *der,
			size_t len);

/* chain validation of one signer certificate */
struct sg_chain_verdict {
	uint32_t reasons;
	uint32_t info;			/* weakness allowed by configuration
					   (weak-algorithm, weak-key) */
	char detail[160];		/* first OpenSSL error, readable */
	/* reasons == 0: the result holds for valid_from <= at < valid_until
	   (every certificate of the chain and, when revocation is checked,
	   every configured CRL current) */
	time_t valid_from, valid_until;
};
void sg_trust_verify_chain(struct sg_ctx *ctx, X509 *signer,
			   STACK_OF(X509) *msg_certs,
			   STACK_OF(X509_CRL) *msg_crls, time_t at,
			   struct sg_chain_verdict *v_r);

/* what a chain is validated for: SIGN is S/MIME signing (what
   sg_trust_verify_chain does); ENCRYPT checks the CAs for S/MIME and
   leaves the leaf's key usage to the caller (keyAgreement for EC) */
enum sg_chain_purpose {
	SG_CHAIN_SIGN = 0,
	SG_CHAIN_ENCRYPT
};
void sg_trust_verify_chain_for(struct sg_ctx *ctx, X509 *cert,
			       STACK_OF(X509) *msg_certs,
			       STACK_OF(X509_CRL) *msg_crls, time_t at,
			       enum sg_chain_purpose purpose,
			       struct sg_chain_verdict *v_r);

/* cert cache: decode DER once per context; returned X509 has its own
   reference (X509_free it) or NULL on a decoding error */
X509 *sg_trust_cert_from_der(struct sg_ctx *ctx, const unsigned char *der,
			     size_t len);

/* ---- trust.c for doctor.c ---- */
/* all certificates (or CRLs) of one PEM or DER file; *n_r of them.
   0, or -1 (SG_ERR_IO: cannot read it; SG_ERR_NOMEM) */
int sg_trust_load_file(const char *path, bool want_crl, STACK_OF(X509) *certs,
		       STACK_OF(X509_CRL) *crls, size_t *n_r,
		       struct sg_error *err_r);

#endif
