/*
 * texthash-private.h - internal interfaces of map-texthash.c
 *
 * The texthash: map (map-texthash.c).  Nothing here is exported; only
 * files of common/ (and the unit tests and fuzzers) include it.
 */
#ifndef SG_TEXTHASH_PRIVATE_H
#define SG_TEXTHASH_PRIVATE_H

#include "sg-base.h"
#include "maps-private.h"

/* ---- map-texthash.c: the texthash: map (a file of "key value" lines) ---- */
struct sg_texthash;
/* read path: logical lines as Postfix's postmap input (a line that
   starts with white space continues the one before, '#' comments), the
   first word the key (lower-cased), the rest the value; a key without a
   value is kept with "" (the caller says what is missing).  0, or -1
   with err_r (SG_ERR_IO: cannot read it; SG_ERR_CONFIG: "PATH, line N:
   ...") */
int sg_texthash_new(const char *path, struct sg_texthash **th_r,
		    struct sg_error *err_r);
void sg_texthash_free(struct sg_texthash **th);
/* 1 and the value of the first line with key, 0, or -1 (value longer
   than size) */
int sg_texthash_lookup(struct sg_texthash *th, const char *key, char *value,
		       size_t size, struct sg_error *err_r);
int sg_texthash_each(struct sg_texthash *th, sg_map_entry_fn *fn,
		     void *context, struct sg_error *err_r);

#endif
