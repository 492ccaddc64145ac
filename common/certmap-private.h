/*
 * certmap-private.h - internal interfaces of certmap.c
 *
 * The certificate_maps and harvest_map of a context (certmap.c).  Nothing
 * here is exported; only files of common/ (and the unit tests and fuzzers)
 * include it.
 */
#ifndef SG_CERTMAP_PRIVATE_H
#define SG_CERTMAP_PRIVATE_H

#include "sg-base.h"

struct sg_certmaps;
struct sg_dirmap;
struct sg_map;

/* ---- certmap.c: certificate_maps and harvest_map of a context ---- */
int sg_cmap_new(const struct sg_config *conf, struct sg_certmaps **maps_r,
		struct sg_error *err_r);
void sg_cmap_free(struct sg_certmaps **maps);

/* ---- certmap.c for harvest.c and doctor.c ---- */
/* the dir: map of harvest_map, or NULL when harvesting is off */
struct sg_dirmap *sg_cmap_harvest_map(struct sg_certmaps *maps);
/* the harvest map's lock: held while its state or what it found is used */
void sg_cmap_harvest_lock(struct sg_certmaps *maps);
void sg_cmap_harvest_unlock(struct sg_certmaps *maps);
/* the maps of certificate_maps, in order: count, "TYPE:NAME", and the
   map of entry i */
size_t sg_cmap_count(const struct sg_certmaps *maps);
const char *sg_cmap_spec(const struct sg_certmaps *maps, size_t i);
struct sg_map *sg_cmap_map(const struct sg_certmaps *maps, size_t i);

#endif
