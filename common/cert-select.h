/*
 * cert-select.h - internal interfaces of cert-select.c
 *
 * Is a certificate usable to encrypt to? (cert-select.c).  Nothing here is
 * exported; only files of common/ (and the unit tests and fuzzers) include
 * it.
 */
#ifndef SG_CERT_SELECT_H
#define SG_CERT_SELECT_H

#include "sg-base.h"

#include <openssl/x509.h>

struct sg_dirmap_cert;

/* ---- cert-select.c: is a certificate usable to encrypt to? ---- */
struct sg_csel_info {
	char subject[512];
	char issuer[512];
	char serial[80];		/* hex, as struct sg_signer */
	char ski[129];			/* hex or "" */
	char key[48];			/* "RSA-2048", "EC-prime256v1" */
	char key_usage[160];		/* "keyEncipherment, ...; EKU ..." */
	time_t not_before, not_after;
	uint32_t reasons;		/* empty: usable */
	bool pinned;			/* accepted as pinned_certificates */
	char detail[512];		/* human sentences */
};
/* evaluate a dir: map certificate at time at, using and filling its
   cached evaluation */
void sg_csel_eval_entry(struct sg_ctx *ctx, struct sg_dirmap_cert *c,
			time_t at, struct sg_csel_info *info_r);
/* evaluate a decoded certificate (no caching) */
void sg_csel_eval_cert(struct sg_ctx *ctx, X509 *cert, time_t at,
		       struct sg_csel_info *info_r);
/* the reason that explains a rejection best */
enum sg_reason sg_csel_main_reason(uint32_t reasons);

#endif
