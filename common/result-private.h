/*
 * result-private.h - internal interfaces of result.c
 *
 * The struct sg_result and how the core builds one (result.c).  Nothing
 * here is exported; only files of common/ (and the unit tests and fuzzers)
 * include it.
 */
#ifndef SG_RESULT_PRIVATE_H
#define SG_RESULT_PRIVATE_H

#include "sg-base.h"

#include <openssl/x509.h>

struct sg_res_block;

/* ---- result.c ---- */
/* per signer, beside the public struct sg_signer */
struct sg_res_signer_priv {
	const unsigned char *der;	/* signer certificate (arena), or NULL */
	size_t der_len;
	bool bound;			/* its certificate names From (or Sender
					   in relaxed mode) */
};

struct sg_result {
	enum sg_status status;
	unsigned int keywords;
	uint32_t reasons;
	char *detail;
	char *from;
	struct sg_signer *signers;
	struct sg_res_signer_priv *signers_priv;	/* parallel to signers */
	size_t n_signers, signers_size;
	struct sg_encryption enc;
	bool has_enc;
	struct sg_recipient *recipients;
	size_t recipients_size;
	/* string arena */
	struct sg_res_block *strings;
	struct sg_buf detail_buf;
	bool nomem;
};

struct sg_result *sg_res_new(void);
/* copy a string into the result's arena; returns "" on ENOMEM (sets nomem) */
const char *sg_res_strdup(struct sg_result *res, const char *s);
const char *sg_res_strndup(struct sg_result *res, const char *s, size_t n);
struct sg_signer *sg_res_add_signer(struct sg_result *res);
/* keep the DER of the last added signer's certificate */
void sg_res_set_signer_cert(struct sg_result *res, X509 *cert);
/* mark the last added signer as bound to the sender address */
void sg_res_set_signer_bound(struct sg_result *res);
struct sg_recipient *sg_res_add_recipient(struct sg_result *res);
void sg_res_add_detail(struct sg_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* finish: derive status keywords, compose detail */
void sg_res_finish(struct sg_result *res);
/* sg_res_copy_encryption - res gets src's encryption details (copies) */
void sg_res_copy_encryption(struct sg_result *res, const struct sg_result *src);
/* sg_res_note - one more sentence on a finished result's detail */
void sg_res_note(struct sg_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* sg_res_set_from - the bound From of a result built by hand */
void sg_res_set_from(struct sg_result *res, const char *from);

#endif
