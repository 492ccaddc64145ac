/* maps.c - the map layer: every TYPE:NAME map of the core goes through
 * here, in the manner of Postfix's dict_open()
 *
 * One table of map types with what each one does: open what NAME names,
 * look a key up (a text value: encryption_policy_maps) or find the
 * certificates of an address (certificate_maps), refresh, close; and,
 * for a map held in memory, every entry with its line (so that a bad
 * value is an error when the map is opened, with file and line, not at
 * the first mail that meets it).  The names of the types, which settings
 * take them and their messages are mapspec.c's table, which config.c
 * reads without opening anything; a new type is an entry there, one here
 * and its own file.
 *
 * Every lookup answers the same way: 1 found, 0 not found, -1 failed
 * (err_r; SG_ERR_IO: the source cannot be read or no server answered,
 * SG_ERR_CONFIG: the map or what it holds is wrong).  A failure is never
 * "not found": the callers make it a temporary failure.
 *
 * Threads: each map has its own lock.  A text lookup takes it and copies
 * the value out; certificates found belong to the map and are used under
 * sg_map_lock() until sg_map_unlock().
 */
#include "sg-private.h"

#include <stdlib.h>
#include <string.h>

struct map_ops {
	enum sg_map_type type;
	int (*open)(const char *name, unsigned int use, void **obj_r,
		    struct sg_error *err_r);
	/* text: 1 and the value in value (size bytes), 0, or -1 */
	int (*lookup)(void *obj, const char *key, char *value, size_t size,
		      struct sg_error *err_r);
	/* certificates (refreshing first): 0 and *certs_r/*n_r, or -1 */
	int (*find)(void *obj, const char *addr,
		    struct sg_dirmap_cert *const **certs_r, size_t *n_r,
		    struct sg_error *err_r);
	int (*refresh)(void *obj, bool force, struct sg_error *err_r);
	/* every entry of a map held in memory, in file order (NULL: the
	   type has no such list) */
	int (*each)(void *obj, sg_map_entry_fn *fn, void *context,
		    struct sg_error *err_r);
	void (*close)(void **obj);
};

struct sg_map {
	char *spec;			/* "TYPE:NAME" as configured */
	const char *name;		/* NAME, in spec */
	const struct map_ops *ops;
	void *obj;			/* the type's own object */
	pthread_mutex_t lock;
	bool lock_ready;
};

/* ---- dir: (certmap-dir.c) ---- */

static int dir_open(const char *name, unsigned int use, void **obj_r,
		    struct sg_error *err_r)
{
	(void)use;
	if ((*obj_r = sg_dirmap_new(name)) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

static int dir_refresh(void *obj, bool force, struct sg_error *err_r)
{
	return sg_dirmap_refresh(obj, force, err_r);
}

static int dir_find(void *obj, const char *addr,
		    struct sg_dirmap_cert *const **certs_r, size_t *n_r,
		    struct sg_error *err_r)
{
	if (sg_dirmap_refresh(obj, false, err_r) < 0)
		return -1;
	if (sg_dirmap_find(obj, addr, certs_r, n_r) < 0) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

static void dir_close(void **objp)
{
	struct sg_dirmap *dm = *objp;

	sg_dirmap_free(&dm);
	*objp = NULL;
}

/* ---- texthash: (map-texthash.c) ---- */

static int texthash_open(const char *name, unsigned int use, void **obj_r,
			 struct sg_error *err_r)
{
	struct sg_texthash *th;

	(void)use;
	if (sg_texthash_new(name, &th, err_r) < 0)
		return -1;
	*obj_r = th;
	return 0;
}

static int texthash_lookup(void *obj, const char *key, char *value,
			   size_t size, struct sg_error *err_r)
{
	return sg_texthash_lookup(obj, key, value, size, err_r);
}

static int texthash_each(void *obj, sg_map_entry_fn *fn, void *context,
			 struct sg_error *err_r)
{
	return sg_texthash_each(obj, fn, context, err_r);
}

static void texthash_close(void **objp)
{
	struct sg_texthash *th = *objp;

	sg_texthash_free(&th);
	*objp = NULL;
}

/* ---- ldap: (certmap-ldap.c) ---- */

#ifdef HAVE_LDAP
static int ldap_open(const char *name, unsigned int use, void **obj_r,
		     struct sg_error *err_r)
{
	struct sg_ldapmap *lm;

	if (sg_ldapmap_new(name, use, &lm, err_r) < 0)
		return -1;
	*obj_r = lm;
	return 0;
}

static int ldap_lookup(void *obj, const char *key, char *value, size_t size,
		       struct sg_error *err_r)
{
	return sg_ldapmap_lookup(obj, key, value, size, err_r);
}

static int ldap_find(void *obj, const char *addr,
		     struct sg_dirmap_cert *const **certs_r, size_t *n_r,
		     struct sg_error *err_r)
{
	return sg_ldapmap_find(obj, addr, certs_r, n_r, err_r) < 0 ? -1 : 0;
}

static void ldap_close(void **objp)
{
	struct sg_ldapmap *lm = *objp;

	sg_ldapmap_free(&lm);
	*objp = NULL;
}
#endif

static const struct map_ops map_ops[] = {
	{ SG_MAP_DIR, dir_open, NULL, dir_find, dir_refresh, NULL, dir_close },
	{ SG_MAP_TEXTHASH, texthash_open, texthash_lookup, NULL, NULL,
	  texthash_each, texthash_close },
#ifdef HAVE_LDAP
	{ SG_MAP_LDAP, ldap_open, ldap_lookup, ldap_find, NULL, NULL,
	  ldap_close },
#endif
};

/* sg_map_open - open one TYPE:NAME entry of setting for use */
int sg_map_open(const char *setting, const char *spec, unsigned int use,
		struct sg_map **map_r, struct sg_error *err_r)
{
	enum sg_map_type type;
	struct sg_map *m;
	size_t i;

	sg_assert(setting != NULL && spec != NULL && map_r != NULL &&
		  (use == SG_MAP_USE_CERTS || use == SG_MAP_USE_TEXT));
	*map_r = NULL;
	if (sg_mapspec_parse(setting, spec, use, &type, err_r) < 0)
		return -1;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		goto nomem;
	for (i = 0; i < SG_ARRAY_SIZE(map_ops); i++) {
		if (map_ops[i].type == type)
			m->ops = &map_ops[i];
	}
	/* mapspec.c said this build has the type and the use allows it */
	sg_assert(m->ops != NULL &&
		  (use == SG_MAP_USE_CERTS ? m->ops->find != NULL :
		   m->ops->lookup != NULL));
	if (sg_mutex_init_recursive(&m->lock) < 0)
		goto nomem;
	m->lock_ready = true;
	if ((m->spec = strdup(spec)) == NULL)
		goto nomem;
	/* a plain path is texthash:PATH (encryption_policy_maps) */
	m->name = strchr(spec, ':') != NULL && spec[0] != '/' ?
		  m->spec + (strchr(spec, ':') - spec) + 1 : m->spec;
	if (m->ops->open(m->name, use, &m->obj, err_r) < 0) {
		sg_map_close(&m);
		return -1;
	}
	*map_r = m;
	return 0;
nomem:
	sg_map_close(&m);
	sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
	return -1;
}

/* sg_map_close - free and set *map to NULL; NULL-safe */
void sg_map_close(struct sg_map **mapp)
{
	struct sg_map *m = *mapp;

	if (m == NULL)
		return;
	if (m->obj != NULL)
		m->ops->close(&m->obj);
	if (m->lock_ready)
		pthread_mutex_destroy(&m->lock);
	free(m->spec);
	free(m);
	*mapp = NULL;
}

/* sg_map_spec - "TYPE:NAME" as configured */
const char *sg_map_spec(const struct sg_map *m)
{
	sg_assert(m != NULL);
	return m->spec;
}

/* sg_map_name - NAME (the path) */
const char *sg_map_name(const struct sg_map *m)
{
	sg_assert(m != NULL);
	return m->name;
}

/* sg_map_type - which type of map */
enum sg_map_type sg_map_type(const struct sg_map *m)
{
	sg_assert(m != NULL);
	return m->ops->type;
}

/* sg_map_dirmap - the dir: map's object, or NULL */
struct sg_dirmap *sg_map_dirmap(const struct sg_map *m)
{
	sg_assert(m != NULL);
	return m->ops->type == SG_MAP_DIR ? m->obj : NULL;
}

/* sg_map_ldapmap - the ldap: map's object, or NULL */
struct sg_ldapmap *sg_map_ldapmap(const struct sg_map *m)
{
	sg_assert(m != NULL);
	return m->ops->type == SG_MAP_LDAP ? m->obj : NULL;
}

/* sg_map_mutex - the map's lock */
pthread_mutex_t *sg_map_mutex(struct sg_map *m)
{
	sg_assert(m != NULL);
	return &m->lock;
}

void sg_map_lock(struct sg_map *m)
{
	sg_assert(m != NULL);
	sg_mutex_lock(&m->lock);
}

void sg_map_unlock(struct sg_map *m)
{
	sg_assert(m != NULL);
	sg_mutex_unlock(&m->lock);
}

/* sg_map_lookup - the text value of key, copied under the map's lock */
int sg_map_lookup(struct sg_map *m, const char *key, char *value, size_t size,
		  struct sg_error *err_r)
{
	int ret;

	sg_assert(m != NULL && key != NULL && value != NULL && size > 0 &&
		  m->ops->lookup != NULL);
	value[0] = '\0';
	sg_error_clear(err_r);
	sg_mutex_lock(&m->lock);
	ret = m->ops->lookup(m->obj, key, value, size, err_r);
	sg_mutex_unlock(&m->lock);
	if (ret <= 0)
		value[0] = '\0';
	return ret;
}

/* sg_map_find_certs - the certificates of addr (under sg_map_lock) */
int sg_map_find_certs(struct sg_map *m, const char *addr,
		      struct sg_dirmap_cert *const **certs_r, size_t *n_r,
		      struct sg_error *err_r)
{
	sg_assert(m != NULL && addr != NULL && certs_r != NULL && n_r != NULL &&
		  m->ops->find != NULL);
	*certs_r = NULL;
	*n_r = 0;
	return m->ops->find(m->obj, addr, certs_r, n_r, err_r);
}

/* sg_map_refresh - re-read the map's source when the type can */
int sg_map_refresh(struct sg_map *m, bool force, struct sg_error *err_r)
{
	int ret = 0;

	sg_assert(m != NULL);
	if (m->ops->refresh == NULL)
		return 0;
	sg_mutex_lock(&m->lock);
	ret = m->ops->refresh(m->obj, force, err_r);
	sg_mutex_unlock(&m->lock);
	return ret;
}

/* sg_map_each - every entry of a map held in memory; 1 when the type
   has such a list and fn accepted every entry, 0 when it has none, -1
   fn's failure */
int sg_map_each(struct sg_map *m, sg_map_entry_fn *fn, void *context,
		struct sg_error *err_r)
{
	int ret;

	sg_assert(m != NULL && fn != NULL);
	if (m->ops->each == NULL)
		return 0;
	sg_mutex_lock(&m->lock);
	ret = m->ops->each(m->obj, fn, context, err_r);
	sg_mutex_unlock(&m->lock);
	return ret < 0 ? -1 : 1;
}
