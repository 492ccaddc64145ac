/* maps.c - the map layer: every TYPE:NAME map of the core goes through
 * here, in the manner of Postfix's dict_open()
 *
 * A map type is one struct sg_map_type_def in its own file (its name,
 * which settings it can answer, whether this build has it, the words of
 * its messages, and what it does: open what NAME names, look a key up (a
 * text value: encryption_policy_maps) or find the certificates of an
 * address (certificate_maps), refresh, close; for a map held in memory
 * every entry, so that a bad value is an error when the map is opened,
 * not at the first mail that meets it), listed in map-types.c.  This
 * file knows no type by name: it splits TYPE:NAME, looks TYPE up in the
 * list and calls what the type has.  config.c checks values here
 * without opening anything (sg_map_check_list).
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
#include "maps-private.h"
#include "sg-base.h"
#include "dirmap-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct sg_map {
	char *spec;			/* "TYPE:NAME" as configured */
	const char *name;		/* NAME, in spec */
	const struct sg_map_type_def *def;
	unsigned int use;		/* SG_MAP_USE_* */
	void *obj;			/* the type's own object */
	pthread_mutex_t lock;
	bool lock_ready;
};

/* ---- names: TYPE:NAME entries ---- */

/* type_list - the names of the types this build has that pass keep(),
   as "a, b" (suffix after each name), into buf */
static void type_list(bool (*keep)(const struct sg_map_type_def *def,
				   unsigned int use),
		      unsigned int use, const char *suffix, const char *sep,
		      char *buf, size_t size)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; sg_map_types[i] != NULL && used < size; i++) {
		if (sg_map_types[i]->not_built != NULL ||
		    !keep(sg_map_types[i], use))
			continue;
		used += (size_t)snprintf(buf + used, size - used, "%s%s%s",
					 used > 0 ? sep : "",
					 sg_map_types[i]->name, suffix);
	}
}

static bool answers(const struct sg_map_type_def *def, unsigned int use)
{
	return (def->uses & use) != 0;
}

static bool has_store(const struct sg_map_type_def *def, unsigned int use)
{
	return (def->uses & use) != 0 && def->store != NULL;
}

/* find_type - the type named by the len bytes at name, or NULL */
static const struct sg_map_type_def *find_type(const char *name, size_t len)
{
	size_t i;

	for (i = 0; sg_map_types[i] != NULL; i++) {
		if (strlen(sg_map_types[i]->name) == len &&
		    strncasecmp(name, sg_map_types[i]->name, len) == 0)
			return sg_map_types[i];
	}
	return NULL;
}

/* sg_map_list_next - the next entry of a map list */
bool sg_map_list_next(const char **cursor, char *item, size_t size,
		      bool *long_r)
{
	return sg_list_copy_next(cursor, item, size, long_r);
}

/* sg_map_parse - one TYPE:NAME entry of setting, for use */
int sg_map_parse(const char *setting, const char *spec, unsigned int use,
		 const struct sg_map_type_def **def_r, const char **name_r,
		 struct sg_error *err_r)
{
	const char *colon = strchr(spec, ':');
	const struct sg_map_type_def *def;
	char known[128];
	size_t tlen;

	sg_assert(setting != NULL && spec != NULL && def_r != NULL &&
		  name_r != NULL);
	if (use == SG_MAP_USE_TEXT && (colon == NULL || spec[0] == '/')) {
		/* a plain path (as encryption_policy_maps always took it) */
		if (spec[0] == '\0') {
			sg_error_set(err_r, SG_ERR_INVALID, "%s: empty entry",
				     setting);
			return -1;
		}
		*def_r = sg_map_type_plain_text;
		*name_r = spec;
		return 0;
	}
	if (colon == NULL || colon == spec) {
		sg_error_set(err_r, SG_ERR_INVALID,
			     "%s: '%.80s' is not TYPE:NAME (e.g. dir:/etc/smimeguard/certs)",
			     setting, spec);
		return -1;
	}
	tlen = (size_t)(colon - spec);
	if ((def = find_type(spec, tlen)) == NULL) {
		type_list(answers, use, "", ", ", known, sizeof(known));
		sg_error_set(err_r, SG_ERR_INVALID,
			     "%s: '%.80s': unknown map type '%.*s' (supported: %s)",
			     setting, spec, (int)(tlen > 20 ? 20 : tlen), spec,
			     known);
		return -1;
	}
	if (def->not_built != NULL) {
		sg_error_set(err_r, SG_ERR_CONFIG,
			     "%s: '%.80s': this smimeguard was built without "
			     "%s support%s", setting, spec, def->label,
			     def->not_built);
		return -1;
	}
	if (!answers(def, use)) {
		type_list(answers, use, "", ", ", known, sizeof(known));
		sg_error_set(err_r, SG_ERR_INVALID,
			     "%s: '%.80s': %s %s map cannot answer this "
			     "setting (it takes %s)", setting, spec,
			     strchr("aeiouAEIOU", def->label[0]) != NULL ?
			     "an" : "a", def->label, known);
		return -1;
	}
	if (colon[1] == '\0') {
		sg_error_set(err_r, SG_ERR_INVALID, "%s: '%.80s' %s", setting,
			     spec, def->no_name);
		return -1;
	}
	if (def->check_name != NULL) {
		struct sg_error e;

		if (def->check_name(colon + 1, &e) < 0) {
			sg_error_set(err_r, e.code, "%s: '%.80s': %s", setting,
				     spec, e.msg);
			return -1;
		}
	}
	*def_r = def;
	*name_r = colon + 1;
	return 0;
}

/* sg_map_check_list - every entry of a map list, for use */
int sg_map_check_list(const char *setting, const char *value,
		      unsigned int use, bool harvest, struct sg_error *err_r)
{
	const struct sg_map_type_def *def;
	const char *p = value, *name;
	char item[4096], stores[64] = "";
	bool too_long;
	size_t n = 0;

	sg_assert(setting != NULL && value != NULL);
	if (harvest)
		type_list(has_store, use, ":", " or ", stores, sizeof(stores));
	while (sg_map_list_next(&p, item, sizeof(item), &too_long)) {
		if (too_long) {
			sg_error_set(err_r, SG_ERR_INVALID, "%s: entry too long",
				     setting);
			return -1;
		}
		if (sg_map_parse(setting, item, use, &def, &name, err_r) < 0)
			return -1;
		if (harvest && def->store == NULL) {
			sg_error_set(err_r, SG_ERR_INVALID,
				     "%s: '%.80s': harvested certificates are written to a %s map, not to %s",
				     setting, item, stores, def->label);
			return -1;
		}
		n++;
	}
	if (harvest && n > 1) {
		sg_error_set(err_r, SG_ERR_INVALID,
			     "%s: one writable %s map, not a list", setting,
			     stores);
		return -1;
	}
	return 0;
}

/* sg_map_list_waits - does an entry of the list name a type whose
   lookups wait for a server */
bool sg_map_list_waits(const char *value)
{
	const char *p = value;
	char item[4096];
	bool too_long;
	size_t i;

	while (value != NULL && sg_map_list_next(&p, item, sizeof(item), &too_long)) {
		for (i = 0; sg_map_types[i] != NULL; i++) {
			size_t len = strlen(sg_map_types[i]->name);

			if (sg_map_types[i]->waits &&
			    strncasecmp(item, sg_map_types[i]->name, len) == 0 &&
			    item[len] == ':')
				return true;
		}
	}
	return false;
}

/* ---- open maps ---- */

/* sg_map_open - open one TYPE:NAME entry of setting for use */
int sg_map_open(const char *setting, const char *spec, unsigned int use,
		struct sg_map **map_r, struct sg_error *err_r)
{
	const struct sg_map_type_def *def;
	const char *name;
	struct sg_map *m;

	sg_assert(setting != NULL && spec != NULL && map_r != NULL &&
		  (use == SG_MAP_USE_CERTS || use == SG_MAP_USE_TEXT));
	*map_r = NULL;
	if (sg_map_parse(setting, spec, use, &def, &name, err_r) < 0)
		return -1;
	/* a type that is built and answers use has what that needs */
	sg_assert(def->open != NULL && def->close != NULL &&
		  (use == SG_MAP_USE_CERTS ? def->find != NULL :
		   def->lookup != NULL));
	if ((m = calloc(1, sizeof(*m))) == NULL)
		goto nomem;
	m->def = def;
	m->use = use;
	if (sg_mutex_init_recursive(&m->lock) < 0)
		goto nomem;
	m->lock_ready = true;
	if ((m->spec = strdup(spec)) == NULL)
		goto nomem;
	m->name = m->spec + (name - spec);
	if (def->open(m->name, use, &m->obj, err_r) < 0) {
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
		m->def->close(&m->obj);
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

/* sg_map_def - the map's type */
const struct sg_map_type_def *sg_map_def(const struct sg_map *m)
{
	sg_assert(m != NULL);
	return m->def;
}

/* sg_map_store - where harvested certificates go, or NULL */
struct sg_dirmap *sg_map_store(const struct sg_map *m)
{
	sg_assert(m != NULL);
	return m->def->store != NULL ? m->def->store(m->obj) : NULL;
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
		  m->use == SG_MAP_USE_TEXT);
	value[0] = '\0';
	sg_error_clear(err_r);
	sg_mutex_lock(&m->lock);
	ret = m->def->lookup(m->obj, key, value, size, err_r);
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
		  m->use == SG_MAP_USE_CERTS);
	*certs_r = NULL;
	*n_r = 0;
	return m->def->find(m->obj, addr, certs_r, n_r, err_r) < 0 ? -1 : 0;
}

/* sg_map_origin - where a certificate found came from */
bool sg_map_origin(const struct sg_map *m, const struct sg_dirmap_cert *c,
		   const char **entry_r, unsigned int *classes_r)
{
	sg_assert(m != NULL && c != NULL && entry_r != NULL &&
		  classes_r != NULL);
	if (m->def->origin == NULL)
		return false;
	m->def->origin(c, entry_r, classes_r);
	return true;
}

/* sg_map_refresh - re-read the map's source when the type can */
int sg_map_refresh(struct sg_map *m, bool force, struct sg_error *err_r)
{
	int ret = 0;

	sg_assert(m != NULL);
	if (m->def->refresh == NULL)
		return 0;
	sg_mutex_lock(&m->lock);
	ret = m->def->refresh(m->obj, force, err_r);
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
	if (m->def->each == NULL)
		return 0;
	sg_mutex_lock(&m->lock);
	ret = m->def->each(m->obj, fn, context, err_r);
	sg_mutex_unlock(&m->lock);
	return ret < 0 ? -1 : 1;
}

/* sg_map_each_cert - every certificate a map holds */
int sg_map_each_cert(struct sg_map *m,
		     void (*fn)(const struct sg_dirmap_cert *c, void *context),
		     void *context, struct sg_error *err_r)
{
	int ret;

	sg_assert(m != NULL && fn != NULL);
	if (m->def->each_cert == NULL)
		return 0;
	sg_mutex_lock(&m->lock);
	ret = m->def->each_cert(m->obj, fn, context, err_r);
	sg_mutex_unlock(&m->lock);
	return ret < 0 ? -1 : 1;
}
