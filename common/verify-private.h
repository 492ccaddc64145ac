/*
 * verify-private.h - internal interfaces of verify.c
 *
 * The layered walk of a message (verify.c).  Nothing here is exported;
 * only files of common/ (and the unit tests and fuzzers) include it.
 */
#ifndef SG_VERIFY_PRIVATE_H
#define SG_VERIFY_PRIVATE_H

#include "sg-base.h"

struct sg_verify_state;

/*
 * sg_verify_decrypted - the verdict of decrypted content (inner,
 * inner_len: the MIME entity an EnvelopedData held), the signer bound to
 * the From of the encrypted message's header (outer, outer_len: the
 * encrypted message or at least its header).  A From field of the inner
 * entity must name the same address, else the signature fails
 * (sender-mismatch).  Return value as sg_verify_message (verify.c).
 */
int sg_verify_decrypted(struct sg_ctx *ctx, const unsigned char *outer,
			size_t outer_len, const unsigned char *inner,
			size_t inner_len, time_t at, struct sg_result **res_r,
			struct sg_error *err_r);

/* the layered walk (verify.c) */
void sg_verify_entity(struct sg_verify_state *st, const unsigned char *p,
		      size_t len, unsigned int depth);
void sg_verify_cms_object(struct sg_verify_state *st, const unsigned char *der,
			  size_t len, const unsigned char *detached,
			  size_t detached_len, unsigned int depth);

#endif
