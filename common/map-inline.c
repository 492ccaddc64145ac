/* map-inline.c - the inline: map: its entries in the setting itself, as
 * Postfix's inline: table (Postfix 3.0)
 *
 *   encryption_policy_maps = inline:{ partner.example=encrypt,
 *       { ceo@partner.example = encrypt+sign reject } }
 *
 * NAME is "{ ... }": entries separated by commas or white space, each
 * key=value; an entry in braces may hold commas and spaces (its braces
 * and the blanks around key and value go).  Keys are lower-cased; of two
 * entries with one key the first counts (as texthash:); a key without a
 * value is kept with "" (the caller says what is missing).  An empty
 * table, an entry without '=' or without a key, unbalanced braces are
 * errors when the setting is set, before anything is opened.  Handy for
 * tests and small sites: a few rules need no file.
 */
#include "maps-private.h"
#include "sg-base.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct inline_entry {
	char *key, *value;		/* in text */
};

struct inline_map {
	char *text;			/* the entries, cut in place */
	struct inline_entry *entries;	/* in the order written */
	size_t n;
};

static void inline_free(struct inline_map **imp)
{
	struct inline_map *im = *imp;

	if (im == NULL)
		return;
	free(im->entries);
	free(im->text);
	free(im);
	*imp = NULL;
}

/* inline_parse - "{ k=v, { k = v, w } }" into a new map; 0, or -1 with
   err_r (SG_ERR_INVALID: the syntax) */
static int inline_parse(const char *name, struct inline_map **im_r,
			struct sg_error *err_r)
{
	struct inline_map *im;
	const char *p, *it;
	size_t len = strlen(name), depth = 0, i, n = 0, ilen;

	*im_r = NULL;
	/* the braces around the whole table balance, and close at its end */
	for (i = 0; i < len; i++) {
		if (name[i] == '{')
			depth++;
		else if (name[i] == '}' && (depth == 0 || (--depth == 0 &&
							   i + 1 < len)))
			break;
	}
	if (len < 2 || name[0] != '{' || i < len || depth != 0) {
		sg_error_set(err_r, SG_ERR_INVALID,
			     "need inline:{ key=value, ... } (braces around "
			     "the whole table)");
		return -1;
	}
	if ((im = calloc(1, sizeof(*im))) == NULL ||
	    (im->text = strndup(name + 1, len - 2)) == NULL)
		goto nomem;
	/* at most one entry per byte: count them first */
	for (p = im->text; sg_list_next(&p, &it, &ilen); )
		n++;
	if (n == 0) {
		sg_error_set(err_r, SG_ERR_INVALID,
			     "empty table (need inline:{ key=value, ... })");
		goto fail;
	}
	if ((im->entries = calloc(n, sizeof(*im->entries))) == NULL)
		goto nomem;
	for (p = im->text; sg_list_next(&p, &it, &ilen); ) {
		char *e = (char *)it, *eq;

		/* cut the entry out (the separator after it, if any, goes) */
		if (e[ilen] != '\0')
			p++;
		e[ilen] = '\0';
		if (e[0] == '{') {
			if (e[ilen - 1] != '}' || ilen < 2) {
				sg_error_set(err_r, SG_ERR_INVALID,
					     "entry %zu: '%.40s' does not end "
					     "with '}'", im->n + 1, e);
				goto fail;
			}
			e[ilen - 1] = '\0';
			e++;
		}
		if ((eq = strchr(e, '=')) == NULL) {
			sg_error_set(err_r, SG_ERR_INVALID,
				     "entry %zu: '%.40s' is not key=value",
				     im->n + 1, sg_trim(e));
			goto fail;
		}
		*eq = '\0';
		im->entries[im->n].key = sg_trim(e);
		im->entries[im->n].value = sg_trim(eq + 1);
		if (im->entries[im->n].key[0] == '\0') {
			sg_error_set(err_r, SG_ERR_INVALID,
				     "entry %zu: no key before '='", im->n + 1);
			goto fail;
		}
		for (e = im->entries[im->n].key; *e != '\0'; e++)
			*e = (char)tolower((unsigned char)*e);
		im->n++;
	}
	*im_r = im;
	return 0;
nomem:
	sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
fail:
	inline_free(&im);
	return -1;
}

static int inline_check_name(const char *name, struct sg_error *err_r)
{
	struct inline_map *im;

	if (inline_parse(name, &im, err_r) < 0)
		return -1;
	inline_free(&im);
	return 0;
}

static int inline_open(const char *name, unsigned int use, void **obj_r,
		       struct sg_error *err_r)
{
	struct inline_map *im;
	struct sg_error e;

	(void)use;
	if (inline_parse(name, &im, &e) < 0) {
		if (e.code == SG_ERR_NOMEM)
			*err_r = e;
		else
			sg_error_set(err_r, SG_ERR_CONFIG, "inline:%.80s: %s",
				     name, e.msg);
		return -1;
	}
	*obj_r = im;
	return 0;
}

/* inline_lookup - the value of the first entry with key (the tables
   are small: one pass) */
static int inline_lookup(void *obj, const char *key, char *value, size_t size,
			 struct sg_error *err_r)
{
	const struct inline_map *im = obj;
	size_t i;

	for (i = 0; i < im->n; i++) {
		if (strcmp(im->entries[i].key, key) != 0)
			continue;
		if (strlen(im->entries[i].value) >= size) {
			sg_error_set(err_r, SG_ERR_CONFIG,
				     "inline: entry %zu (%.80s): value too long",
				     i + 1, key);
			return -1;
		}
		strcpy(value, im->entries[i].value);
		return 1;
	}
	return 0;
}

/* inline_each - every entry, in the order written: "inline: entry N
   (KEY)" says where */
static int inline_each(void *obj, sg_map_entry_fn *fn, void *context,
		       struct sg_error *err_r)
{
	const struct inline_map *im = obj;
	char where[200];
	size_t i;

	for (i = 0; i < im->n; i++) {
		snprintf(where, sizeof(where), "inline: entry %zu (%.160s)",
			 i + 1, im->entries[i].key);
		if (fn(context, im->entries[i].key, im->entries[i].value,
		       where, err_r) < 0)
			return -1;
	}
	return 0;
}

static void inline_close(void **objp)
{
	struct inline_map *im = *objp;

	inline_free(&im);
	*objp = NULL;
}

const struct sg_map_type_def sg_map_type_inline = {
	.name = "inline",
	.uses = SG_MAP_USE_TEXT,
	.label = "inline",
	.no_name = "names no table (e.g. inline:{ partner.example=encrypt })",
	.check_name = inline_check_name,
	.open = inline_open,
	.lookup = inline_lookup,
	.each = inline_each,
	.close = inline_close,
};
