/*
 * keyd-private.h - internal interfaces of keyd-client.c
 *
 * Asking smime-keyd for the verdict of an encrypted message
 * (keyd-client.c).  Nothing here is exported; only files of common/ (and
 * the unit tests and fuzzers) include it.
 */
#ifndef SG_KEYD_PRIVATE_H
#define SG_KEYD_PRIVATE_H

#include "sg-base.h"

/* ---- keyd-client.c ---- */
/*
 * sg_keyd_ask - ask smime-keyd (ctx->keyd_socket, at most
 * ctx->keyd_timeout_ms) for the verdict of the encrypted message msg
 * (len bytes) of owner; *res is the local verdict ("encrypted").  On a
 * verdict of the inner signature *res is replaced by it (with *res's
 * encryption details); otherwise *res stays and its detail says why.
 */
void sg_keyd_ask(struct sg_ctx *ctx, const char *owner,
		 const unsigned char *msg, size_t len, struct sg_result **res);
/*
 * sg_keyd_parse_reply - the result a reply of smime-keyd (reply, len
 * bytes, up to its empty line) gives when the local verdict is local:
 * 1 and *res_r (an encrypted+signed/* verdict), 0 when keyd could not
 * say (why: its detail or status), -1 when the reply is not one (why).
 */
int sg_keyd_parse_reply(const char *reply, size_t len,
			const struct sg_result *local, struct sg_result **res_r,
			char *why, size_t why_size);

#endif
