/*
 * crl-private.h - internal interfaces of crl.c
 *
 * Atomic PEM files (crl.c).  Nothing here is exported; only files of
 * common/ (and the unit tests and fuzzers) include it.
 */
#ifndef SG_CRL_PRIVATE_H
#define SG_CRL_PRIVATE_H

#include "sg-base.h"

#include <openssl/x509.h>

/* crl.c: write_pem(bio, obj) into dir/name atomically (hidden temporary
   file, fsync, rename; mode 0644); the path written in path */
int sg_write_pem_atomic(const char *dir, const char *name,
			int (*write_pem)(BIO *, const void *), const void *obj,
			char *path, size_t path_size, struct sg_error *err_r);

#endif
