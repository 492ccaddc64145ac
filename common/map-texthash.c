/* map-texthash.c - the texthash: map: a file of "key value" lines held
 * in memory (Postfix's texthash, the postmap(1) input format)
 *
 *   # comment
 *   partner@ext.example   encrypt
 *   ext.example           encrypt-aead
 *       monitor           (a line that starts with white space continues)
 *
 * Read once, whole, through sg_conf_lines (the reader of smimeguard.conf
 * and the ldap: map files).  Keys are lower-cased; of two lines with one
 * key the first counts.  A physical line of more than 1023 bytes is an
 * error, as it always was for encryption_policy_maps; so is a NUL byte.
 */
#include "texthash-private.h"
#include "sg-base.h"
#include "maps-private.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TH_MAX_LINE 1023
#define TH_MAX_FILE (64 * 1024 * 1024)

struct th_entry {
	const char *key, *value;	/* in text */
	unsigned int line;
};

struct sg_texthash {
	char *path;
	char *text;			/* the logical lines, joined in place */
	struct th_entry *entries;	/* in file order */
	struct th_entry **sorted;	/* by key, then line */
	size_t n, size;
};

/* read_file - the whole file, NUL-terminated; NULL with err_r */
static char *read_file(const char *path, size_t *len_r, struct sg_error *err_r)
{
	struct stat st;
	char *text;
	size_t used = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		sg_error_set(err_r, SG_ERR_IO, "cannot open %.160s: %s", path,
			     strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > TH_MAX_FILE) {
		sg_error_set(err_r, SG_ERR_CONFIG,
			     "%.160s: not a regular file of at most %d bytes",
			     path, TH_MAX_FILE);
		close(fd);
		return NULL;
	}
	if ((text = malloc((size_t)st.st_size + 1)) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		close(fd);
		return NULL;
	}
	while (used < (size_t)st.st_size) {
		n = read(fd, text + used, (size_t)st.st_size - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sg_error_set(err_r, SG_ERR_IO, "cannot read %.160s: %s",
				     path, strerror(errno));
			close(fd);
			free(text);
			return NULL;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	text[used] = '\0';
	*len_r = used;
	return text;
}

/* check_lines - no NUL byte, no physical line over TH_MAX_LINE bytes */
static int check_lines(const char *path, const char *text, size_t len,
		       struct sg_error *err_r)
{
	const char *p = text, *end = text + len;
	unsigned int lineno = 1;

	if (strlen(text) != len) {
		sg_error_set(err_r, SG_ERR_CONFIG, "%.160s: contains a NUL byte",
			     path);
		return -1;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

		if (n > TH_MAX_LINE) {
			sg_error_set(err_r, SG_ERR_CONFIG,
				     "%.160s, line %u: line too long", path,
				     lineno);
			return -1;
		}
		p += n + 1;
		lineno++;
	}
	return 0;
}

/* add_line - one logical line: key, then the value */
static int add_line(void *context, char *line, unsigned int lineno,
		    struct sg_error *err_r)
{
	struct sg_texthash *th = context;
	struct th_entry *e;
	char *p;

	if (th->n == th->size) {
		size_t size = th->size == 0 ? 64 : th->size * 2;

		if ((e = realloc(th->entries, size * sizeof(*e))) == NULL) {
			sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
			return -1;
		}
		th->entries = e;
		th->size = size;
	}
	e = &th->entries[th->n++];
	e->line = lineno;
	e->key = line;
	p = line + strcspn(line, " \t");
	if (*p != '\0')
		*p++ = '\0';
	e->value = p + strspn(p, " \t");
	for (p = line; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return 0;
}

/* cmp_entry - by key, then by line (the first line of a key first) */
static int cmp_entry(const void *a, const void *b)
{
	const struct th_entry *x = *(const struct th_entry *const *)a;
	const struct th_entry *y = *(const struct th_entry *const *)b;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* sg_texthash_new - read a texthash file */
int sg_texthash_new(const char *path, struct sg_texthash **th_r,
		    struct sg_error *err_r)
{
	struct sg_texthash *th;
	size_t len, i;

	*th_r = NULL;
	if ((th = calloc(1, sizeof(*th))) == NULL ||
	    (th->path = strdup(path)) == NULL)
		goto nomem;
	if ((th->text = read_file(path, &len, err_r)) == NULL ||
	    check_lines(path, th->text, len, err_r) < 0 ||
	    sg_conf_lines(th->text, path, add_line, th, err_r) < 0)
		goto fail;
	if (th->n > 0) {
		if ((th->sorted = calloc(th->n, sizeof(*th->sorted))) == NULL)
			goto nomem;
		for (i = 0; i < th->n; i++)
			th->sorted[i] = &th->entries[i];
		qsort(th->sorted, th->n, sizeof(*th->sorted), cmp_entry);
	}
	*th_r = th;
	return 0;
nomem:
	sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
fail:
	sg_texthash_free(&th);
	return -1;
}

/* sg_texthash_free - free and set *th to NULL; NULL-safe */
void sg_texthash_free(struct sg_texthash **thp)
{
	struct sg_texthash *th = *thp;

	if (th == NULL)
		return;
	free(th->sorted);
	free(th->entries);
	free(th->text);
	free(th->path);
	free(th);
	*thp = NULL;
}

/* sg_texthash_lookup - the value of the first line with key */
int sg_texthash_lookup(struct sg_texthash *th, const char *key, char *value,
		       size_t size, struct sg_error *err_r)
{
	size_t lo = 0, hi = th->n;

	while (lo < hi) {	/* the first entry with a key >= key */
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(th->sorted[mid]->key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == th->n || strcmp(th->sorted[lo]->key, key) != 0)
		return 0;
	if (strlen(th->sorted[lo]->value) >= size) {
		sg_error_set(err_r, SG_ERR_CONFIG,
			     "%.160s, line %u: value too long",
			     th->path, th->sorted[lo]->line);
		return -1;
	}
	strcpy(value, th->sorted[lo]->value);
	return 1;
}

/* sg_texthash_each - every line, in file order */
int sg_texthash_each(struct sg_texthash *th, sg_map_entry_fn *fn,
		     void *context, struct sg_error *err_r)
{
	char where[200];
	size_t i;

	for (i = 0; i < th->n; i++) {
		snprintf(where, sizeof(where), "%.160s, line %u", th->path,
			 th->entries[i].line);
		if (fn(context, th->entries[i].key, th->entries[i].value,
		       where, err_r) < 0)
			return -1;
	}
	return 0;
}

/* ---- the texthash: type of the map layer (maps.c) ---- */

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

const struct sg_map_type_def sg_map_type_texthash = {
	.name = "texthash",
	.uses = SG_MAP_USE_TEXT,
	.label = "texthash",
	.no_name = "names no file (e.g. texthash:/etc/smimeguard/encryption_policy)",
	.name_is_path = true,
	.open = texthash_open,
	.lookup = texthash_lookup,
	.each = texthash_each,
	.close = texthash_close,
};
