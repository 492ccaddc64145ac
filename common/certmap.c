/* certmap.c - certificate_maps: which certificates can a recipient
 * receive encrypted mail with, and if none, why not
 *
 * certificate_maps is an ordered list of TYPE:NAME maps (Postfix style);
 * the first map that returns a usable certificate wins.  Every candidate
 * met on the way is reported with its verdict (cert-select.c), so the
 * policy service can say why a recipient has no usable certificate.
 * A map that cannot be read makes the answer a temporary error unless a
 * later map has a usable certificate: never a wrong "no certificate".
 *
 * The maps are opened and asked through the map layer (maps.c), which
 * knows the types (dir:, ldap:, ...).  harvest_map is one map of a type
 * with a store (dir:).
 */
#include "certmap-private.h"
#include "sg-base.h"
#include "cert-select.h"
#include "ctx-private.h"
#include "dirmap-private.h"
#include "json-private.h"
#include "maps-private.h"
#include "x509-private.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

/* Threads: a map's state (a dir: map's table and reloads, an ldap:
   map's connections and cache) is used under the map's own lock, held
   from refresh to the copy of what it found; maps do not wait for each
   other.  The context's lock may be taken inside a map's, never the
   other way round. */
struct sg_certmaps {
	struct sg_map **maps;		/* maps.c: each with its own lock */
	size_t n;
	struct sg_dirmap *harvest;	/* the store of one of maps[], or of
					   own_harvest */
	struct sg_map *own_harvest;
	pthread_mutex_t *harvest_lock;	/* that map's lock */
};

/* one candidate: the public part and one block holding its strings */
struct cand {
	struct sg_cert_candidate pub;
	unsigned char fpr[32];
	size_t map_index;
	const unsigned char *der;
	size_t der_len;
	char *block;
};

struct sg_cert_set {
	char address[320];
	const char *map;		/* points into a candidate or "" */
	char *map_copy;
	struct cand *c;
	size_t n, size, n_usable;
};

/* ---- settings ---- */

/* path_equal - the same path, trailing slashes aside */
static bool path_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (lb > 1 && b[lb - 1] == '/')
		lb--;
	return la == lb && memcmp(a, b, la) == 0;
}

/* sg_cmap_new - the maps a configuration names (nothing is read yet) */
int sg_cmap_new(const struct sg_config *conf, struct sg_certmaps **maps_r,
		struct sg_error *err_r)
{
	struct sg_certmaps *maps;
	const char *v, *p;
	char item[4096];
	bool too_long;
	size_t n = 0, i;

	*maps_r = NULL;
	if ((maps = calloc(1, sizeof(*maps))) == NULL)
		goto nomem;
	v = sg_config_get(conf, "certificate_maps");
	if (v == NULL) {
		sg_error_set(err_r, SG_ERR_CONFIG,
			     "certificate_maps: cannot expand its value");
		goto fail;
	}
	if (sg_map_check_list("certificate_maps", v, SG_MAP_USE_CERTS, false,
			      err_r) < 0)
		goto fail;
	for (p = v; sg_map_list_next(&p, item, sizeof(item), &too_long); )
		n++;
	if (n > 0 && (maps->maps = calloc(n, sizeof(*maps->maps))) == NULL)
		goto nomem;
	for (p = v; sg_map_list_next(&p, item, sizeof(item), &too_long); ) {
		if (sg_map_open("certificate_maps", item, SG_MAP_USE_CERTS,
				&maps->maps[maps->n], err_r) < 0)
			goto fail;
		maps->n++;
	}
	v = sg_config_get(conf, "harvest_map");
	if (v == NULL) {
		sg_error_set(err_r, SG_ERR_CONFIG,
			     "harvest_map: cannot expand its value");
		goto fail;
	}
	if (sg_map_check_list("harvest_map", v, SG_MAP_USE_CERTS, true,
			      err_r) < 0)
		goto fail;
	p = v;
	if (sg_map_list_next(&p, item, sizeof(item), &too_long)) {
		const struct sg_map_type_def *def;
		const char *name;

		/* the same map in certificate_maps: its object and lock */
		if (sg_map_parse("harvest_map", item, SG_MAP_USE_CERTS, &def,
				 &name, err_r) < 0)
			goto fail;
		for (i = 0; i < maps->n; i++) {
			if (sg_map_def(maps->maps[i]) == def &&
			    path_equal(sg_map_name(maps->maps[i]), name)) {
				maps->harvest = sg_map_store(maps->maps[i]);
				maps->harvest_lock = sg_map_mutex(maps->maps[i]);
				break;
			}
		}
		if (maps->harvest == NULL) {
			if (sg_map_open("harvest_map", item, SG_MAP_USE_CERTS,
					&maps->own_harvest, err_r) < 0)
				goto fail;
			maps->harvest = sg_map_store(maps->own_harvest);
			maps->harvest_lock = sg_map_mutex(maps->own_harvest);
		}
	}
	*maps_r = maps;
	return 0;
nomem:
	sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
fail:
	sg_cmap_free(&maps);
	return -1;
}

/* sg_cmap_free - free and set *maps to NULL; NULL-safe */
void sg_cmap_free(struct sg_certmaps **mapsp)
{
	struct sg_certmaps *maps = *mapsp;
	size_t i;

	if (maps == NULL)
		return;
	for (i = 0; i < maps->n; i++)
		sg_map_close(&maps->maps[i]);
	free(maps->maps);
	sg_map_close(&maps->own_harvest);
	free(maps);
	*mapsp = NULL;
}

/* sg_cmap_harvest_map - the dir: map of harvest_map, or NULL */
struct sg_dirmap *sg_cmap_harvest_map(struct sg_certmaps *maps)
{
	return maps == NULL ? NULL : maps->harvest;
}

void sg_cmap_harvest_lock(struct sg_certmaps *maps)
{
	sg_assert(maps != NULL && maps->harvest_lock != NULL);
	sg_mutex_lock(maps->harvest_lock);
}

void sg_cmap_harvest_unlock(struct sg_certmaps *maps)
{
	sg_assert(maps != NULL && maps->harvest_lock != NULL);
	sg_mutex_unlock(maps->harvest_lock);
}

/* sg_cmap_count - number of maps in certificate_maps */
size_t sg_cmap_count(const struct sg_certmaps *maps)
{
	return maps == NULL ? 0 : maps->n;
}

/* sg_cmap_spec - "TYPE:NAME" of map i */
const char *sg_cmap_spec(const struct sg_certmaps *maps, size_t i)
{
	sg_assert(maps != NULL && i < maps->n);
	return sg_map_spec(maps->maps[i]);
}

/* sg_cmap_map - the map of entry i */
struct sg_map *sg_cmap_map(const struct sg_certmaps *maps, size_t i)
{
	sg_assert(maps != NULL && i < maps->n);
	return maps->maps[i];
}

/* ---- the set ---- */

/* sg_cert_set_free - free and set *set to NULL; NULL-safe */
void sg_cert_set_free(struct sg_cert_set **setp)
{
	struct sg_cert_set *set = *setp;
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i < set->n; i++)
		free(set->c[i].block);
	free(set->c);
	free(set->map_copy);
	free(set);
	*setp = NULL;
}

/* add_candidate - copy one evaluated certificate into the set */
static int add_candidate(struct sg_cert_set *set, size_t map_index,
			 const char *map, const struct sg_dirmap_cert *mc,
			 const struct sg_csel_info *info)
{
	char fpr[65];
	const char *src[10];
	const char **dst[SG_ARRAY_SIZE(src)];
	struct cand *c;
	size_t total = 0, i;
	char *p;

	if (set->n == set->size) {
		size_t size = set->size == 0 ? 4 : set->size * 2;

		if ((c = realloc(set->c, size * sizeof(*c))) == NULL)
			return -1;
		set->c = c;
		set->size = size;
	}
	c = &set->c[set->n];
	memset(c, 0, sizeof(*c));
	sodium_bin2hex(fpr, sizeof(fpr), mc->fpr, sizeof(mc->fpr));
	src[0] = info->subject;
	dst[0] = &c->pub.subject;
	src[1] = info->issuer;
	dst[1] = &c->pub.issuer;
	src[2] = info->serial;
	dst[2] = &c->pub.serial;
	src[3] = fpr;
	dst[3] = &c->pub.fingerprint;
	src[4] = info->ski;
	dst[4] = &c->pub.ski;
	src[5] = mc->emails;
	dst[5] = &c->pub.emails;
	src[6] = info->key;
	dst[6] = &c->pub.key;
	src[7] = info->key_usage;
	dst[7] = &c->pub.key_usage;
	src[8] = map;
	dst[8] = &c->pub.map;
	src[9] = mc->source;
	dst[9] = &c->pub.source;
	for (i = 0; i < SG_ARRAY_SIZE(src); i++)
		total += strlen(src[i]) + 1;
	total += strlen(info->detail) + 1;
	if (mc->der_len > SIZE_MAX - total ||
	    (c->block = malloc(total + mc->der_len)) == NULL)
		return -1;
	p = c->block;
	for (i = 0; i < SG_ARRAY_SIZE(src); i++) {
		size_t len = strlen(src[i]) + 1;

		memcpy(p, src[i], len);
		sg_text_sanitize(p);
		*dst[i] = p;
		p += len;
	}
	memcpy(p, info->detail, strlen(info->detail) + 1);
	sg_text_sanitize(p);
	c->pub.detail = p;
	p += strlen(info->detail) + 1;
	memcpy(p, mc->der, mc->der_len);
	c->der = (const unsigned char *)p;
	c->der_len = mc->der_len;
	memcpy(c->fpr, mc->fpr, sizeof(c->fpr));
	c->map_index = map_index;
	c->pub.not_before = info->not_before != 0 ? info->not_before :
			    mc->not_before;
	c->pub.not_after = info->not_after;
	c->pub.reasons = info->reasons;
	c->pub.usable = info->reasons == 0;
	c->pub.pinned = info->pinned;
	c->pub.reason = info->reasons == 0 ? SG_REASON_COUNT :
			sg_csel_main_reason(info->reasons);
	if (c->pub.usable)
		set->n_usable++;
	set->n++;
	return 0;
}

/* cmp_cand - usable first, newest first, then map order */
static int cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->pub.usable != y->pub.usable)
		return x->pub.usable ? -1 : 1;
	if (x->pub.not_before != y->pub.not_before)
		return x->pub.not_before > y->pub.not_before ? -1 : 1;
	if (x->map_index != y->map_index)
		return x->map_index < y->map_index ? -1 : 1;
	return memcmp(x->fpr, y->fpr, sizeof(x->fpr));
}

/* in_set - is this certificate already a candidate (another map/file) */
static bool in_set(const struct sg_cert_set *set, const unsigned char *fpr)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		if (memcmp(set->c[i].fpr, fpr, 32) == 0)
			return true;
	}
	return false;
}

/* harvest_last - the map to search k-th: the maps in order, with the
   one that is harvest_map moved to the end */
static size_t harvest_last(const struct sg_certmaps *maps, size_t k)
{
	size_t h = SIZE_MAX, i;

	for (i = 0; i < maps->n; i++) {
		if (maps->harvest != NULL &&
		    sg_map_store(maps->maps[i]) == maps->harvest) {
			h = i;
			break;
		}
	}
	if (h == SIZE_MAX)
		return k;
	if (k == maps->n - 1)
		return h;
	return k < h ? k : k + 1;
}

/* in_list - is addr (any case) in a ", " list */
static bool in_list(const char *list, const char *addr)
{
	size_t alen = strlen(addr);

	while (*list != '\0') {
		size_t n = strcspn(list, ",");

		if (n == alen && strncasecmp(list, addr, n) == 0)
			return true;
		list += n;
		while (*list == ',' || *list == ' ')
			list++;
	}
	return false;
}

/* binds_address - does the certificate bind addr, by the rule sender
   binding uses (DESIGN.md 3.7: e-mail SANs, else the subject's
   emailAddress)?  A directory entry or map file can hold anyone's
   certificate; it is used only for the addresses it names itself. */
static bool binds_address(struct sg_ctx *ctx, const struct sg_dirmap_cert *mc,
			  const char *addr, struct sg_csel_info *info)
{
	char (*emails)[320];
	size_t n, i;
	bool found = false;
	X509 *x;

	if ((x = sg_trust_cert_from_der(ctx, mc->der, mc->der_len)) == NULL)
		return true;	/* undecodable: already not usable (malformed) */
	if ((emails = malloc(8 * sizeof(*emails))) == NULL) {
		X509_free(x);
		return false;
	}
	n = sg_cert_emails(x, emails, 8);
	for (i = 0; i < n && !found; i++)
		found = strcasecmp(emails[i], addr) == 0;
	/* ldap: an alias of the entry whose certificate names the entry */
	if (!found && mc->entry_addrs != NULL && in_list(mc->entry_addrs, addr)) {
		for (i = 0; i < n && !found; i++)
			found = in_list(mc->entry_addrs, emails[i]);
	}
	X509_free(x);
	free(emails);
	if (!found) {
		size_t used = strlen(info->detail);

		info->reasons |= SG_REASON_BIT(SG_REASON_SENDER_MISMATCH);
		snprintf(info->detail + used, sizeof(info->detail) - used,
			 "%sThe certificate does not name %s (it names %s); it is used only for its own addresses.",
			 used > 0 ? " " : "", addr,
			 mc->emails[0] != '\0' ? mc->emails : "no address");
	}
	return found;
}

/* sg_cert_lookup - the candidates of an address, map by map */
int sg_cert_lookup(struct sg_ctx *ctx, const char *address, time_t at,
		   struct sg_cert_set **set_r, struct sg_error *err_r)
{
	struct sg_certmaps *maps;
	struct sg_cert_set *set;
	struct sg_csel_info *info = NULL;
	struct sg_error map_err;
	size_t i, j, k, answered = SIZE_MAX, first_seen = SIZE_MAX;
	bool temp = false;

	sg_assert(ctx != NULL && address != NULL && set_r != NULL);
	*set_r = NULL;
	sg_error_clear(err_r);
	sg_error_clear(&map_err);
	maps = ctx->certmaps;
	if (at == 0)
		at = time(NULL);
	if ((set = calloc(1, sizeof(*set))) == NULL ||
	    (info = malloc(sizeof(*info))) == NULL)
		goto nomem;
	set->map = "";
	if (!sg_dirmap_norm_addr(address, set->address, sizeof(set->address))) {
		/* not an address: no map can know it */
		set->address[0] = '\0';
		goto done;
	}
	/* in certificate_maps order, but the harvest map last wherever it
	   is listed: a harvested certificate never displaces one from the
	   directory or a pinned one (the first map with a usable answer
	   ends the search) */
	for (k = 0; maps != NULL && k < maps->n; k++) {
		struct sg_map *m;
		struct sg_dirmap_cert *const *certs;
		struct sg_error e;
		size_t n, usable_before = set->n_usable;

		i = harvest_last(maps, k);
		m = maps->maps[i];

		sg_map_lock(m);
		if (sg_map_find_certs(m, set->address, &certs, &n, &e) < 0) {
			sg_map_unlock(m);
			if (e.code == SG_ERR_NOMEM)
				goto nomem;
			if (!temp)
				map_err = e;
			temp = true;
			continue;
		}
		/* certs belong to the map: copied before its lock goes */
		for (j = 0; j < n; j++) {
			if (in_set(set, certs[j]->fpr))
				continue;
			sg_csel_eval_entry(ctx, certs[j], at, info);
			(void)binds_address(ctx, certs[j], set->address, info);
			if (add_candidate(set, i, sg_map_spec(m), certs[j],
					  info) < 0) {
				sg_map_unlock(m);
				goto nomem;
			}
		}
		sg_map_unlock(m);
		if (n > 0 && first_seen == SIZE_MAX)
			first_seen = i;
		if (set->n_usable > usable_before) {
			answered = i;
			break;
		}
	}
done:
	free(info);
	if (set->n > 1)
		qsort(set->c, set->n, sizeof(*set->c), cmp_cand);
	if (answered == SIZE_MAX)
		answered = first_seen;
	if (answered != SIZE_MAX) {
		if ((set->map_copy = strdup(sg_map_spec(maps->maps[answered]))) == NULL)
			goto nomem;
		set->map = set->map_copy;
	}
	if (set->n_usable == 0 && temp) {
		sg_cert_set_free(&set);
		if (err_r != NULL)
			*err_r = map_err;
		return -1;
	}
	*set_r = set;
	return set->n_usable > 0 ? 1 : 0;
nomem:
	free(info);
	sg_cert_set_free(&set);
	sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
	return -1;
}

/* sg_cert_set_address - the address looked up, lower-cased */
const char *sg_cert_set_address(const struct sg_cert_set *set)
{
	sg_assert(set != NULL);
	return set->address;
}

/* sg_cert_set_map - the map that answered */
const char *sg_cert_set_map(const struct sg_cert_set *set)
{
	sg_assert(set != NULL);
	return set->map;
}

/* sg_cert_set_count - number of candidates */
size_t sg_cert_set_count(const struct sg_cert_set *set)
{
	sg_assert(set != NULL);
	return set->n;
}

/* sg_cert_set_usable_count - number of usable candidates */
size_t sg_cert_set_usable_count(const struct sg_cert_set *set)
{
	sg_assert(set != NULL);
	return set->n_usable;
}

/* sg_cert_set_get - candidate i */
const struct sg_cert_candidate *sg_cert_set_get(const struct sg_cert_set *set,
						size_t i)
{
	sg_assert(set != NULL && i < set->n);
	return &set->c[i].pub;
}

/* sg_cert_set_der - the DER of candidate i */
void sg_cert_set_der(const struct sg_cert_set *set, size_t i,
		     const unsigned char **der_r, size_t *len_r)
{
	sg_assert(set != NULL && i < set->n && der_r != NULL && len_r != NULL);
	*der_r = set->c[i].der;
	*len_r = set->c[i].der_len;
}

/* hex_equal - two hex strings, any case, leading zeros aside */
static bool hex_equal(const char *a, const char *b, bool strip_zeros)
{
	if (strip_zeros) {
		while (*a == '0' && a[1] != '\0')
			a++;
		while (*b == '0' && b[1] != '\0')
			b++;
	}
	return *a != '\0' && strcasecmp(a, b) == 0;
}

/* sg_cert_set_match - a RecipientInfo naming a usable candidate */
int sg_cert_set_match(const struct sg_cert_set *set,
		      const struct sg_recipient *rid, size_t *index_r)
{
	size_t i;

	sg_assert(set != NULL && rid != NULL);
	for (i = 0; i < set->n; i++) {
		const struct sg_cert_candidate *c = &set->c[i].pub;
		bool hit = false;

		if (!c->usable)
			continue;
		if (rid->kind == SG_RECIPIENT_ISSUER_SERIAL)
			hit = rid->issuer != NULL && rid->serial != NULL &&
			      rid->issuer[0] != '\0' &&
			      strcmp(rid->issuer, c->issuer) == 0 &&
			      hex_equal(rid->serial, c->serial, true);
		else if (rid->kind == SG_RECIPIENT_SKI)
			hit = rid->ski != NULL &&
			      hex_equal(rid->ski, c->ski, false);
		if (hit) {
			if (index_r != NULL)
				*index_r = i;
			return 1;
		}
	}
	return 0;
}

/* json_time - a time as a JSON string */
static int json_time(struct sg_buf *out, time_t t)
{
	char buf[32];

	if (t == 0)
		return sg_buf_append_str(out, "null");
	sg_time_iso(t, buf, sizeof(buf));
	return sg_json_str(out, buf);
}

/* json_list - a ", " separated list as a JSON array */
static int json_list(struct sg_buf *out, const char *list)
{
	char item[320];
	const char *p = list;
	bool too_long, first = true;
	int e = 0;

	e |= sg_buf_append(out, "[", 1);
	while (sg_list_copy_next(&p, item, sizeof(item), &too_long)) {
		if (!first)
			e |= sg_buf_append(out, ",", 1);
		e |= sg_json_str(out, item);
		first = false;
	}
	e |= sg_buf_append(out, "]", 1);
	return e;
}

/* sg_cert_set_json - the set as one JSON line */
char *sg_cert_set_json(const struct sg_cert_set *set)
{
	struct sg_buf out = { 0 };
	size_t i;
	int e = 0;

	sg_assert(set != NULL);
	e |= sg_buf_append_str(&out, "{\"address\":");
	e |= sg_json_str(&out, set->address);
	e |= sg_buf_printf(&out, ",\"found\":%s,\"map\":",
			   set->n_usable > 0 ? "true" : "false");
	e |= sg_json_str(&out, set->map);
	e |= sg_buf_append_str(&out, ",\"certificates\":[");
	for (i = 0; i < set->n; i++) {
		const struct sg_cert_candidate *c = &set->c[i].pub;

		if (i > 0)
			e |= sg_buf_append(&out, ",", 1);
		e |= sg_buf_append_str(&out, "{\"subject\":");
		e |= sg_json_str(&out, c->subject);
		e |= sg_buf_append_str(&out, ",\"issuer\":");
		e |= sg_json_str(&out, c->issuer);
		e |= sg_buf_append_str(&out, ",\"serial\":");
		e |= sg_json_str(&out, c->serial);
		e |= sg_buf_append_str(&out, ",\"not_before\":");
		e |= json_time(&out, c->not_before);
		e |= sg_buf_append_str(&out, ",\"not_after\":");
		e |= json_time(&out, c->not_after);
		e |= sg_buf_append_str(&out, ",\"fingerprint\":");
		e |= sg_json_str(&out, c->fingerprint);
		e |= sg_buf_append_str(&out, ",\"ski\":");
		e |= sg_json_str(&out, c->ski);
		e |= sg_buf_append_str(&out, ",\"emails\":");
		e |= json_list(&out, c->emails);
		e |= sg_buf_append_str(&out, ",\"key\":");
		e |= sg_json_str(&out, c->key);
		e |= sg_buf_append_str(&out, ",\"key_usage\":");
		e |= sg_json_str(&out, c->key_usage);
		e |= sg_buf_append_str(&out, ",\"map\":");
		e |= sg_json_str(&out, c->map);
		e |= sg_buf_append_str(&out, ",\"source\":");
		e |= sg_json_str(&out, c->source);
		e |= sg_buf_printf(&out, ",\"usable\":%s,\"selected\":%s,"
				   "\"pinned\":%s,\"reasons\":",
				   c->usable ? "true" : "false",
				   c->usable && i == 0 ? "true" : "false",
				   c->pinned ? "true" : "false");
		e |= sg_json_reasons(&out, c->reasons);
		e |= sg_buf_append_str(&out, ",\"detail\":");
		e |= sg_json_str(&out, c->detail);
		e |= sg_buf_append_str(&out, "}");
	}
	e |= sg_buf_append_str(&out, "]}");
	if (e != 0 || sg_buf_terminate(&out) < 0) {
		sg_buf_free(&out);
		return NULL;
	}
	return (char *)out.data;
}
