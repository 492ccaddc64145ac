/*
 * maps-private.h - internal interfaces of maps.c and map-types.c
 *
 * The map layer: struct sg_map_type_def, the list of types (map-types.c)
 * and the maps opened from it (maps.c); map-inline.c is the inline: type.
 * Nothing here is exported; only files of common/ (and the unit tests and
 * fuzzers) include it.
 */
#ifndef SG_MAPS_PRIVATE_H
#define SG_MAPS_PRIVATE_H

#include "sg-base.h"

/* ---- maps.c: the map layer (open / lookup / find / refresh / close) ----
 *
 * One struct sg_map_type_def per map type, defined in the type's own file
 * (certmap-dir.c: sg_map_type_dir, map-texthash.c: sg_map_type_texthash,
 * certmap-ldap.c: sg_map_type_ldap) and listed in map-types.c; nothing
 * else names a type.  A new type is its file and its lines in that
 * list (and in Makefile.am).
 */
/* what a map is opened to answer */
#define SG_MAP_USE_CERTS 1u		/* certificates of an address */
#define SG_MAP_USE_TEXT 2u		/* a text value of a key */
struct sg_map;
struct sg_dirmap;
struct sg_dirmap_cert;
struct sg_ldapmap;
/* one entry of a map held in memory; where: "PATH, line N" (or what
   names the entry in the type's terms).  0, or -1 with err_r to stop */
typedef int sg_map_entry_fn(void *context, const char *key,
			    const char *value, const char *where,
			    struct sg_error *err_r);

struct sg_map_type_def {
	const char *name;		/* "dir": entries are dir:NAME */
	unsigned int uses;		/* SG_MAP_USE_*: what it can answer */
	/* NULL: this build has the type.  Else how to get it, e.g.
	   " (libldap-dev, configure --with-ldap)"; the operations are NULL */
	const char *not_built;
	const char *label;		/* "a LABEL map", "without LABEL support" */
	const char *no_name;		/* what "TYPE:" alone lacks: "names no
					   directory" */
	/* NAME is a file or directory the map reads: sg_config_check_modes
	   checks it, sg_config_stamp stamps it unless the type refreshes
	   itself */
	bool name_is_path;
	/* a lookup may wait for a server (smime-policyd moves such lookups
	   to its lookup thread: sg_config_maps_wait) */
	bool waits;

	/* check NAME without opening anything (config.c, at every set):
	   0, or -1 with err_r; NULL: any NAME will do until opened */
	int (*check_name)(const char *name, struct sg_error *err_r);
	/* read what NAME names for use; nothing is contacted yet */
	int (*open)(const char *name, unsigned int use, void **obj_r,
		    struct sg_error *err_r);
	/* SG_MAP_USE_TEXT: 1 and the value in value (size bytes), 0, -1 */
	int (*lookup)(void *obj, const char *key, char *value, size_t size,
		      struct sg_error *err_r);
	/* SG_MAP_USE_CERTS (refreshing first): 0 and *certs_r/*n_r, or -1 */
	int (*find)(void *obj, const char *addr,
		    struct sg_dirmap_cert *const **certs_r, size_t *n_r,
		    struct sg_error *err_r);
	/* re-read the source now (NULL: the map never changes once open) */
	int (*refresh)(void *obj, bool force, struct sg_error *err_r);
	/* every entry of a map held in memory, in order (NULL: none such) */
	int (*each)(void *obj, sg_map_entry_fn *fn, void *context,
		    struct sg_error *err_r);
	/* every certificate the map holds, without a lookup (the inventory
	   of smimectl report; NULL: it cannot tell) */
	int (*each_cert)(void *obj,
			 void (*fn)(const struct sg_dirmap_cert *c, void *context),
			 void *context, struct sg_error *err_r);
	/* the entry a found certificate came from and its SG_LDAP_ATTR_*
	   classes (smimectl doctor; NULL: the type keeps no such origin) */
	void (*origin)(const struct sg_dirmap_cert *c, const char **entry_r,
		       unsigned int *classes_r);
	/* the store harvested certificates are written to (NULL: the type
	   cannot be harvest_map) */
	struct sg_dirmap *(*store)(void *obj);
	/* smimectl doctor, without the network: can spec (setting's entry
	   TYPE:NAME) be used?  0 yes; 1 no: the finding's text and how to
	   fix it in text and fix; -1 with err_r (out of memory).  NULL: no
	   such check */
	int (*diagnose)(const char *setting, const char *spec, const char *name,
			unsigned int use, char *text, size_t text_size,
			char *fix, size_t fix_size, struct sg_error *err_r);
	void (*close)(void **obj);
};
/* map-types.c: every type, NULL-terminated, and the type of an entry of
   encryption_policy_maps that is a plain path (texthash) */
extern const struct sg_map_type_def *const sg_map_types[];
extern const struct sg_map_type_def *const sg_map_type_plain_text;

/* the next entry of a map list (sg_list_next: "inline:{ a, b }" is one
   entry) into item (size bytes); *long_r when it was cut */
bool sg_map_list_next(const char **cursor, char *item, size_t size,
		      bool *long_r);
/* one entry of setting, to be opened for use (SG_MAP_USE_*; for text a
   plain path is sg_map_type_plain_text): 0, *def_r and *name_r (in
   spec), or -1 with err_r (not TYPE:NAME, an unknown type, one this
   build has not, one that cannot answer use, NAME missing or refused by
   the type's check_name) */
int sg_map_parse(const char *setting, const char *spec, unsigned int use,
		 const struct sg_map_type_def **def_r, const char **name_r,
		 struct sg_error *err_r);
/* check a map list for use: every entry as sg_map_parse says; harvest:
   one entry, of a type with a store (harvest_map).  0 or -1 */
int sg_map_check_list(const char *setting, const char *value,
		      unsigned int use, bool harvest, struct sg_error *err_r);
/* does a map of the list setting names wait for a server (waits)? */
bool sg_map_list_waits(const char *value);
/* open one TYPE:NAME entry of setting for use (SG_MAP_USE_*): 0, or -1
   with err_r (as sg_map_parse, or a map that cannot be read) */
int sg_map_open(const char *setting, const char *spec, unsigned int use,
		struct sg_map **map_r, struct sg_error *err_r);
void sg_map_close(struct sg_map **map);
const char *sg_map_spec(const struct sg_map *m);	/* "TYPE:NAME" */
const char *sg_map_name(const struct sg_map *m);	/* NAME */
const struct sg_map_type_def *sg_map_def(const struct sg_map *m);
/* the store of a type that has one (harvest), else NULL */
struct sg_dirmap *sg_map_store(const struct sg_map *m);
/* the map's lock (recursive): held around sg_map_find_certs and the use
   of what it found */
void sg_map_lock(struct sg_map *m);
void sg_map_unlock(struct sg_map *m);
pthread_mutex_t *sg_map_mutex(struct sg_map *m);
/* SG_MAP_USE_TEXT: the value of key (a lower-case key), copied into
   value (size bytes) under the map's lock.  1 found, 0 not found, -1
   with err_r: never "not found" when the map could not answer */
int sg_map_lookup(struct sg_map *m, const char *key, char *value, size_t size,
		  struct sg_error *err_r);
/* SG_MAP_USE_CERTS, under sg_map_lock: the certificates of addr
   (refreshed first when the source changed), borrowed until the next
   find or the unlock; 0 (also when none), or -1 with err_r */
int sg_map_find_certs(struct sg_map *m, const char *addr,
		      struct sg_dirmap_cert *const **certs_r, size_t *n_r,
		      struct sg_error *err_r);
/* under sg_map_lock: where a certificate sg_map_find_certs returned
   came from (entry, SG_LDAP_ATTR_* classes); false when the type keeps
   no origin */
bool sg_map_origin(const struct sg_map *m, const struct sg_dirmap_cert *c,
		   const char **entry_r, unsigned int *classes_r);
/* re-read the source now when the type can (dir:); 0 or -1 */
int sg_map_refresh(struct sg_map *m, bool force, struct sg_error *err_r);
/* every entry of a map held in memory (texthash:, inline:), in order: 1
   when fn took them all, 0 when the type has no such list (ldap:), -1
   when fn said -1 */
int sg_map_each(struct sg_map *m, sg_map_entry_fn *fn, void *context,
		struct sg_error *err_r);
/* every certificate a map holds (refreshed first): 1 when fn saw them
   all, 0 when the type cannot list them (ldap:), -1 with err_r when the
   source cannot be read */
int sg_map_each_cert(struct sg_map *m,
		     void (*fn)(const struct sg_dirmap_cert *c, void *context),
		     void *context, struct sg_error *err_r);

#endif
