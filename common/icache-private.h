/*
 * icache-private.h - internal interfaces of icache.c
 *
 * The intermediate_cache and aia_fetch (icache.c).  Nothing here is
 * exported; only files of common/ (and the unit tests and fuzzers) include
 * it.
 */
#ifndef SG_ICACHE_PRIVATE_H
#define SG_ICACHE_PRIVATE_H

#include "sg-base.h"

#include <openssl/x509.h>

/* icache.c: intermediate_cache and aia_fetch.  open reads the
   settings and the cache directory (certificates go to
   ctx->intermediates); learn caches the CAs of a verified path (chain:
   leaf first, anchor last); complete finds, queues or fetches the issuer
   of a certificate whose issuer is missing, and returns true when one
   was added to ctx->intermediates (then the path is worth rebuilding) */
int sg_icache_open(struct sg_ctx *ctx, const struct sg_config *conf,
		   struct sg_error *err_r);
void sg_icache_free(struct sg_ctx *ctx);
void sg_icache_learn(struct sg_ctx *ctx, STACK_OF(X509) *chain);
bool sg_icache_complete(struct sg_ctx *ctx, X509 *orphan);
/* the first http:// caIssuers URL of x; false when it names none */
bool sg_icache_url(X509 *x, char *url, size_t size);

#endif
