/*
 * dirmap-private.h - internal interfaces of certmap-dir.c
 *
 * The dir: map (certmap-dir.c) and struct sg_dirmap_cert, the certificate
 * every certificate map returns.  Nothing here is exported; only files of
 * common/ (and the unit tests and fuzzers) include it.
 */
#ifndef SG_DIRMAP_PRIVATE_H
#define SG_DIRMAP_PRIVATE_H

#include "sg-base.h"

/* ---- certmap-dir.c: the dir: map ---- */
struct sg_dirmap;
struct sg_csel_eval;

/* one certificate of a dir: map; valid until the next refresh */
struct sg_dirmap_cert {
	const unsigned char *der;
	size_t der_len;
	unsigned char fpr[32];		/* SHA-256 of der */
	time_t not_before;
	const char *source;		/* dir: the file name inside the
					   directory; ldap: "URL ATTRS DN" */
	const char *emails;		/* its addresses as written, ", " list */
	const char *entry_addrs;	/* ldap: the addresses of the entry that
					   holds it (address_attribute), ", "
					   list; NULL for dir: */
	/* cached evaluation (cert-select.c): one malloc'd block, freed
	   with free() by the map when it drops the certificate, so the
	   maps call nothing of certificate selection */
	struct sg_csel_eval *eval;
};

struct sg_dirmap *sg_dirmap_new(const char *path);
void sg_dirmap_free(struct sg_dirmap **dm);
const char *sg_dirmap_path(const struct sg_dirmap *dm);
/* re-read the directory when it changed (checked at most once a second,
   every file re-examined at least once a minute; force: now).
   0 ok, -1 the directory cannot be read (err_r) */
int sg_dirmap_refresh(struct sg_dirmap *dm, bool force,
		      struct sg_error *err_r);
/* make the next refresh rescan whatever the clock says */
void sg_dirmap_invalidate(struct sg_dirmap *dm);
/* certificates indexed under addr (any case): *certs_r, *n_r of them,
   borrowed until the next find or refresh; 0, or -1 on out of memory */
int sg_dirmap_find(struct sg_dirmap *dm, const char *addr,
		   struct sg_dirmap_cert *const **certs_r, size_t *n_r);
size_t sg_dirmap_count(const struct sg_dirmap *dm);
/* files the last rescan read from disk; *from_index_r: the records the
   first load took from DIR/.sg-index */
size_t sg_dirmap_files_read(const struct sg_dirmap *dm, size_t *from_index_r);
/* every certificate of the map as last read (refresh first), in file
   name order */
void sg_dirmap_each(const struct sg_dirmap *dm,
		    void (*fn)(const struct sg_dirmap_cert *c, void *context),
		    void *context);
/* lower-case an address for the index; false when it cannot be one */
bool sg_dirmap_norm_addr(const char *in, char *out, size_t size);

#endif
