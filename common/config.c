/* config.c - smimeguard.conf: name = value settings in main.cf style */
#include "config-private.h"
#include "sg-base.h"
#include "maps-private.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* smimeguard.conf is read whole: a bigger file is not one */
#define CONF_MAX_FILE_SIZE (1024 * 1024)

struct sg_config_entry {
	char *name;
	char *value;
	/* value with its $references expanded, made by the first
	   sg_config_get() of a value that has one and kept until a value
	   changes; atomic, as readers of a const configuration may race
	   to make it */
	_Atomic(char *) expanded;
	unsigned int line;		/* in path; 0: not read from a file */
};

struct sg_config {
	struct sg_config_entry *entries;
	size_t n, size;
	char *path;			/* the file read last */
	/* the tables registered, after the core's own (borrowed) */
	const struct sg_config_table **tables;
	size_t n_tables;
};

/* the map lists: every entry a TYPE:NAME map this build has that can
   answer the setting (maps.c), nothing opened */
static int check_cert_maps(const char *name, const char *value,
			   struct sg_error *err_r)
{
	return sg_map_check_list(name, value, SG_MAP_USE_CERTS, false, err_r);
}

static int check_harvest_map(const char *name, const char *value,
			     struct sg_error *err_r)
{
	return sg_map_check_list(name, value, SG_MAP_USE_CERTS, true, err_r);
}

static int check_text_maps(const char *name, const char *value,
			   struct sg_error *err_r)
{
	return sg_map_check_list(name, value, SG_MAP_USE_TEXT, false, err_r);
}

#define MAPS "list of TYPE:NAME maps"

/* The core's own settings: those the library reads.  A program's own
   settings are in its own table (postfix-policy/policyd-settings.c,
   tools/smimectl-settings.c, keyd/keyd-settings.c, ...: settings/),
   registered with sg_config_register(). */
static const struct sg_config_def core_defs[] = {
	{ "trust_anchors", "", SG_CONF_TEXT, NULL, NULL, NULL },
	{ "intermediates", "", SG_CONF_TEXT, NULL, NULL, NULL },
	{ "crl_dirs", "", SG_CONF_TEXT, NULL, NULL, NULL },
	/* partners' certificates accepted for encryption without a chain */
	{ "pinned_certificates", "", SG_CONF_TEXT, NULL, NULL, NULL },
	{ "revocation_check", "soft", SG_CONF_ENUM, "none|soft|hard", NULL, NULL },
	{ "sender_binding", "strict", SG_CONF_ENUM, "strict|relaxed|off", NULL, NULL },
	{ "allow_sha1_signatures", "no", SG_CONF_BOOL, NULL, NULL, NULL },
	{ "certificate_policies", "", SG_CONF_TEXT, NULL, NULL, NULL },
	{ "max_message_size", "67108864", SG_CONF_SIZE, NULL, NULL, NULL },
	{ "max_mime_depth", "32", SG_CONF_UINT, NULL, NULL, NULL },
	{ "max_mime_parts", "1000", SG_CONF_UINT, NULL, NULL, NULL },
	{ "max_cms_nesting", "4", SG_CONF_UINT, NULL, NULL, NULL },
	{ "max_certificates", "32", SG_CONF_UINT, NULL, NULL, NULL },
	{ "max_crl_size", "33554432", SG_CONF_SIZE, NULL, NULL, NULL },
	{ "max_header_size", "1048576", SG_CONF_SIZE, NULL, NULL, NULL },
	{ "max_header_fields", "10000", SG_CONF_UINT, NULL, NULL, NULL },
	{ "max_signers", "16", SG_CONF_UINT, NULL, NULL, NULL },
	{ "max_crls", "16", SG_CONF_COUNT, NULL, NULL, NULL },
	/* compressed-data layers: all of them together, and each one */
	{ "max_decompressed_size", "67108864", SG_CONF_SIZE, NULL, NULL, NULL },
	{ "max_compression_ratio", "100", SG_CONF_UINT, NULL, NULL, NULL },
	/* where a message fed to sg_verify_update() goes past 1 MiB */
	{ "temp_directory", "/tmp", SG_CONF_TEXT, NULL, NULL, NULL },
	/* downloads: AIA fetching (icache.c) and smimectl crl fetch */
	{ "crl_fetch_proxy", "", SG_CONF_TEXT, NULL, NULL, NULL },
	{ "crl_fetch_timeout", "30", SG_CONF_UINT, NULL, NULL, NULL },
	{ "crl_fetch_redirects", "no", SG_CONF_ENUM, "no|same-host", NULL, NULL },
	{ "crl_fetch_allow_local", "no", SG_CONF_BOOL, NULL, NULL, NULL },
	/* intermediate CAs learned from mail and fetched through AIA */
	{ "intermediate_cache", "", SG_CONF_TEXT, NULL, NULL, NULL },
	{ "intermediate_cache_max", "1000", SG_CONF_UINT, NULL, NULL, NULL },
	{ "aia_fetch", "no", SG_CONF_ENUM, "no|cache-only|yes", NULL, NULL },
	{ "aia_fetch_timeout", "3", SG_CONF_UINT, NULL, NULL, NULL },
	/* certificate resolution (certmap.c) */
	{ "certificate_maps", "", SG_CONF_TEXT, NULL, check_cert_maps, MAPS },
	{ "harvest_map", "", SG_CONF_TEXT, NULL, check_harvest_map, MAPS },
	{ "harvest_max_per_address", "4", SG_CONF_UINT, NULL, NULL, NULL },
	{ "harvest_max_total", "10000", SG_CONF_UINT, NULL, NULL, NULL },
	/* outbound policy (policy.c) */
	{ "internal_domains", "", SG_CONF_TEXT, NULL, NULL, NULL },
	{ "encryption_policy_maps", "", SG_CONF_TEXT, NULL, check_text_maps, MAPS },
	{ "policy_action", "reject", SG_CONF_ENUM, "reject|defer|hold|monitor", NULL, NULL },
	{ "policy_exempt_senders", "", SG_CONF_TEXT, NULL, NULL, NULL },
	{ "policy_exempt_recipients", "", SG_CONF_TEXT, NULL, NULL, NULL },
	/* Postfix transports ({rcpt_mailer}) that deliver inside */
	{ "internal_transports", "local, virtual, lmtp", SG_CONF_TEXT, NULL, NULL, NULL },
	/* null-sender, auto-submitted: off unless named, and then only for
	   policy_exemption_clients */
	{ "policy_exemptions", "", SG_CONF_TEXT, NULL, NULL, NULL },
	{ "policy_exemption_clients", "", SG_CONF_TEXT, NULL, NULL, NULL },
	/* the cipher floor of "encrypt" rules */
	{ "allow_3des", "no", SG_CONF_BOOL, NULL, NULL, NULL },
	{ "allow_pwri", "no", SG_CONF_BOOL, NULL, NULL, NULL },
	{ "allow_kekri", "no", SG_CONF_BOOL, NULL, NULL, NULL },
	/* the client of smime-keyd (keyd-client.c), decrypt-to-verify
	   (DESIGN.md 4, Keystore): the socket ("": off), the most a client
	   waits for a verdict, in milliseconds, and the user whose answer
	   it believes.  The daemon's own settings are keyd/keyd-settings.c's. */
	{ "keyd_socket", "", SG_CONF_TEXT, NULL, NULL, NULL },
	{ "keyd_timeout", "2000", SG_CONF_UINT, NULL, NULL, NULL },
	{ "keyd_user", "smimeguard-keyd", SG_CONF_TEXT, NULL, NULL, NULL },
};

static const struct sg_config_table core_table = {
	"smimeguard", core_defs, SG_ARRAY_SIZE(core_defs)
};

/* find_def - the setting of that name conf knows (name_len bytes), and
   its table; NULL when none */
static const struct sg_config_def *find_def(const struct sg_config *conf,
					    const char *name, size_t name_len,
					    const struct sg_config_table **table_r)
{
	const struct sg_config_table *t;
	size_t i, j;

	for (i = 0; i <= conf->n_tables; i++) {
		t = i == 0 ? &core_table : conf->tables[i - 1];
		for (j = 0; j < t->n; j++) {
			if (strncmp(t->defs[j].name, name, name_len) == 0 &&
			    t->defs[j].name[name_len] == '\0') {
				if (table_r != NULL)
					*table_r = t;
				return &t->defs[j];
			}
		}
	}
	return NULL;
}

int sg_config_new(struct sg_config **conf_r)
{
	struct sg_config *conf = calloc(1, sizeof(*conf));

	*conf_r = conf;
	return conf == NULL ? -1 : 0;
}

/* forget_expansions - a value changed: any expansion may have used it */
static void forget_expansions(struct sg_config *conf)
{
	size_t i;

	for (i = 0; i < conf->n; i++)
		free(atomic_exchange(&conf->entries[i].expanded, NULL));
}

void sg_config_free(struct sg_config **confp)
{
	struct sg_config *conf = *confp;
	size_t i;

	if (conf == NULL)
		return;
	forget_expansions(conf);
	for (i = 0; i < conf->n; i++) {
		free(conf->entries[i].name);
		free(conf->entries[i].value);
	}
	free(conf->entries);
	free(conf->path);
	free(conf->tables);
	free(conf);
	*confp = NULL;
}

/* check_value - validate a value of a known setting: its kind, then
   its own check */
static int check_value(const struct sg_config_def *def, const char *value,
		       struct sg_error *err_r)
{
	const char *p;
	char *end;
	unsigned long long v;
	size_t len;
	bool b;

	switch (def->kind) {
	case SG_CONF_TEXT:
		goto checked;
	case SG_CONF_BOOL:
		if (sg_conf_bool(value, &b) == 0)
			goto checked;
		sg_error_set(err_r, SG_ERR_INVALID,
			     "%s: '%.60s' is not yes or no", def->name, value);
		return -1;
	case SG_CONF_SIZE:
	case SG_CONF_UINT:
	case SG_CONF_COUNT:
		errno = 0;
		if (!isdigit((unsigned char)value[0]))
			break;
		v = strtoull(value, &end, 10);
		if (errno != 0 || *end != '\0' ||
		    (def->kind != SG_CONF_SIZE && v > 1000000) ||
		    (v == 0 && def->kind != SG_CONF_COUNT))
			break;
		goto checked;
	case SG_CONF_ENUM:
		len = strlen(value);
		for (p = def->choices; p != NULL; p = strchr(p, '|')) {
			if (*p == '|')
				p++;
			if (strncmp(p, value, len) == 0 &&
			    (p[len] == '|' || p[len] == '\0') && len > 0)
				goto checked;
		}
		sg_error_set(err_r, SG_ERR_INVALID,
			     "%s: '%.60s' is not one of %s", def->name, value,
			     def->choices);
		return -1;
	}
	sg_error_set(err_r, SG_ERR_INVALID, "%s: '%.60s' is not a %s number%s",
		     def->name, value, def->kind == SG_CONF_COUNT ? "whole" : "positive",
		     def->kind != SG_CONF_SIZE ? " (at most 1000000)" : "");
	return -1;
checked:
	return def->check != NULL ? def->check(def->name, value, err_r) : 0;
}

static bool valid_name(const char *name)
{
	const char *p;

	if (*name == '\0')
		return false;
	for (p = name; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			return false;
	}
	return true;
}

int sg_config_set(struct sg_config *conf, const char *name, const char *value,
		  struct sg_error *err_r)
{
	const struct sg_config_def *def;
	struct sg_config_entry *e;
	char *v;
	size_t i;

	sg_assert(conf != NULL && name != NULL && value != NULL);
	if (!valid_name(name)) {
		sg_error_set(err_r, SG_ERR_INVALID,
			     "a setting name may only hold letters, digits, '_' and '-' (the name is not quoted)");
		return -1;
	}
	def = find_def(conf, name, strlen(name), NULL);
	/* values with $references are checked when used */
	if (def != NULL && strchr(value, '$') == NULL &&
	    check_value(def, value, err_r) < 0)
		return -1;
	if ((v = strdup(value)) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	forget_expansions(conf);
	for (i = 0; i < conf->n; i++) {
		if (strcmp(conf->entries[i].name, name) == 0) {
			free(conf->entries[i].value);
			conf->entries[i].value = v;
			return 0;
		}
	}
	if (conf->n == conf->size) {
		size_t size = conf->size == 0 ? 16 : conf->size * 2;

		e = realloc(conf->entries, size * sizeof(*e));
		if (e == NULL)
			goto nomem;
		conf->entries = e;
		conf->size = size;
	}
	e = &conf->entries[conf->n];
	if ((e->name = strdup(name)) == NULL)
		goto nomem;
	e->value = v;
	atomic_init(&e->expanded, NULL);
	e->line = 0;
	conf->n++;
	return 0;
nomem:
	free(v);
	sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
	return -1;
}

static struct sg_config_entry *find_entry(const struct sg_config *conf,
					 const char *name, size_t name_len)
{
	size_t i;

	for (i = 0; i < conf->n; i++) {
		if (strncmp(conf->entries[i].name, name, name_len) == 0 &&
		    conf->entries[i].name[name_len] == '\0')
			return &conf->entries[i];
	}
	return NULL;
}

/* raw_get - the value as set, else the default, else NULL */
static const char *raw_get(const struct sg_config *conf, const char *name,
			   size_t name_len)
{
	const struct sg_config_entry *e = find_entry(conf, name, name_len);
	const struct sg_config_def *def;

	if (e != NULL)
		return e->value;
	def = find_def(conf, name, name_len, NULL);
	return def != NULL ? def->default_value : NULL;
}

/* references multiply ("a = $b$b$b", "b = $c$c$c", ...): bound the work
   and the result of one expansion, not only its depth */
#define EXPAND_MAX_REFS 1000
#define EXPAND_MAX_LEN (1024 * 1024)

/* expand - append value to out with $name / ${name} expanded; *refs
   counts the references expanded so far */
static int expand(const struct sg_config *conf, const char *value,
		  struct sg_buf *out, unsigned int depth, unsigned int *refs)
{
	const char *p = value, *name, *ref;
	size_t len;

	if (depth > 10)
		return -1;	/* a reference loop */
	while (*p != '\0') {
		if (out->used > EXPAND_MAX_LEN)
			return -1;
		if (*p != '$') {
			len = strcspn(p, "$");
			if (sg_buf_append(out, p, len) < 0)
				return -1;
			p += len;
			continue;
		}
		p++;
		if (*p == '$') {
			if (sg_buf_append(out, "$", 1) < 0)
				return -1;
			p++;
			continue;
		}
		if (*p == '{') {
			name = ++p;
			len = strcspn(p, "}");
			if (p[len] != '}')
				return -1;
			p += len + 1;
		} else {
			name = p;
			len = 0;
			while (isalnum((unsigned char)p[len]) || p[len] == '_')
				len++;
			p += len;
		}
		if (++*refs > EXPAND_MAX_REFS)
			return -1;
		ref = raw_get(conf, name, len);
		if (ref != NULL && expand(conf, ref, out, depth + 1, refs) < 0)
			return -1;
	}
	return 0;
}

const char *sg_config_get(const struct sg_config *conf, const char *name)
{
	struct sg_config_entry *e;
	struct sg_buf out = { 0 };
	unsigned int refs = 0;
	char *kept = NULL;

	sg_assert(conf != NULL && name != NULL);
	e = find_entry(conf, name, strlen(name));
	if (e == NULL)
		return raw_get(conf, name, strlen(name));	/* defaults */
	if (strchr(e->value, '$') == NULL)
		return e->value;
	if ((kept = atomic_load(&e->expanded)) != NULL)
		return kept;
	if (expand(conf, e->value, &out, 0, &refs) < 0 ||
	    sg_buf_terminate(&out) < 0) {
		sg_buf_free(&out);
		return NULL;
	}
	/* another thread may have kept its expansion first: the same */
	if (!atomic_compare_exchange_strong(&e->expanded, &kept,
					    (char *)out.data)) {
		sg_buf_free(&out);
		return kept;
	}
	return (const char *)out.data;
}

/* set_line - remember where a setting was read (unknown-setting warnings) */
static void set_line(struct sg_config *conf, const char *name,
		     unsigned int lineno)
{
	size_t i;

	for (i = 0; i < conf->n; i++) {
		if (strcmp(conf->entries[i].name, name) == 0)
			conf->entries[i].line = lineno;
	}
}

/* apply_line - one logical "name = value" line */
static int apply_line(struct sg_config *conf, const char *path,
		      unsigned int lineno, char *line, struct sg_error *err_r)
{
	char *eq, *name, *value;
	struct sg_error err;

	eq = strchr(line, '=');
	if (eq == NULL) {
		/* the line is not quoted: the file may not be a
		   configuration file at all (a symlink to a secret) */
		sg_error_set(err_r, SG_ERR_CONFIG,
			     "%.120s, line %u: not a \"name = value\" setting",
			     path, lineno);
		return -1;
	}
	*eq = '\0';
	name = sg_trim(line);
	value = sg_trim(eq + 1);
	if (sg_config_set(conf, name, value, &err) < 0) {
		sg_error_set(err_r, err.code, "%.120s, line %u: %s", path,
			     lineno, err.msg);
		return -1;
	}
	set_line(conf, name, lineno);
	return 0;
}

struct read_state {
	struct sg_config *conf;
	const char *path;
};

static int read_line(void *context, char *line, unsigned int lineno,
		     struct sg_error *err_r)
{
	struct read_state *rs = context;

	return apply_line(rs->conf, rs->path, lineno, line, err_r);
}

int sg_config_read(struct sg_config *conf, const char *path,
		   struct sg_error *err_r)
{
	struct read_state rs = { conf, path };
	char *text;
	size_t used = 0;
	ssize_t n;
	int fd, ret;

	sg_assert(conf != NULL && path != NULL);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		sg_error_set(err_r, SG_ERR_IO, "cannot open %.160s: %s", path,
			     strerror(errno));
		return -1;
	}
	if ((text = malloc(CONF_MAX_FILE_SIZE + 1)) == NULL) {
		close(fd);
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	/* whatever it is (/dev/null reads as empty), at most the limit */
	for (;;) {
		n = read(fd, text + used, CONF_MAX_FILE_SIZE + 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sg_error_set(err_r, SG_ERR_IO, "error reading %.160s: %s",
				     path, strerror(errno));
			close(fd);
			free(text);
			return -1;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > CONF_MAX_FILE_SIZE) {
			sg_error_set(err_r, SG_ERR_CONFIG,
				     "%.160s: larger than %d bytes: not a "
				     "configuration file", path,
				     CONF_MAX_FILE_SIZE);
			close(fd);
			free(text);
			return -1;
		}
	}
	close(fd);
	text[used] = '\0';
	free(conf->path);
	conf->path = strdup(path);	/* NULL: warnings name no file */
	if (strlen(text) != used) {
		sg_error_set(err_r, SG_ERR_CONFIG, "%.160s: contains a NUL byte",
			     path);
		ret = -1;
	} else {
		ret = sg_conf_lines(text, path, read_line, &rs, err_r);
	}
	free(text);
	return ret;
}

/* ---- unknown settings ("did you mean") --------------------------------- */

/* refers_to - does value hold $name or ${name} */
static bool refers_to(const char *value, const char *name)
{
	size_t len = strlen(name);
	const char *p;

	for (p = strchr(value, '$'); p != NULL; p = strchr(p + 1, '$')) {
		if (p[1] == '$') {
			p++;		/* "$$" is a literal '$' */
			continue;
		}
		if (p[1] == '{' && strncmp(p + 2, name, len) == 0 &&
		    p[2 + len] == '}')
			return true;
		if (strncmp(p + 1, name, len) == 0 &&
		    !isalnum((unsigned char)p[1 + len]) && p[1 + len] != '_')
			return true;
	}
	return false;
}

#define NAME_DIST_MAX 64

/* name_distance - optimal string alignment distance (insertions,
   deletions, substitutions, adjacent transpositions), case-insensitive;
   names longer than NAME_DIST_MAX are never close */
static unsigned int name_distance(const char *a, const char *b)
{
	unsigned int d[NAME_DIST_MAX + 1][NAME_DIST_MAX + 1];
	size_t la = strlen(a), lb = strlen(b), i, j;

	if (la > NAME_DIST_MAX || lb > NAME_DIST_MAX)
		return UINT_MAX;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			unsigned int cost = tolower((unsigned char)a[i - 1]) !=
				tolower((unsigned char)b[j - 1]);
			unsigned int v = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 &&
			    tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == tolower((unsigned char)b[j - 1]) &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/* closest_name - the known setting closest to name, or NULL when none is
   close enough to be a likely misspelling */
static const char *closest_name(const struct sg_config *conf, const char *name)
{
	struct sg_config_setting st;
	const char *best = NULL;
	unsigned int best_d = UINT_MAX, d, max;
	size_t i, len = strlen(name);

	/* one edit for short names, two from 6 characters, three from 12 */
	max = len < 6 ? 1 : len < 12 ? 2 : 3;
	for (i = 0; sg_config_known_at(conf, i, &st, NULL); i++) {
		d = name_distance(name, st.name);
		if (d < best_d) {
			best_d = d;
			best = st.name;
		}
	}
	if (best_d <= max)
		return best;
	/* "crl_fetch", "max_size": the shortest known name starting with it */
	best = NULL;
	for (i = 0; len >= 5 && sg_config_known_at(conf, i, &st, NULL); i++) {
		if (strncasecmp(st.name, name, len) == 0 &&
		    (best == NULL || strlen(st.name) < strlen(best)))
			best = st.name;
	}
	return best;
}

bool sg_config_next_unknown(const struct sg_config *conf, size_t *iter,
			    struct sg_error *warn_r)
{
	const struct sg_config_entry *e;
	const char *suggest;
	char where[200];
	size_t i;

	sg_assert(conf != NULL && iter != NULL && warn_r != NULL);
	for (; *iter < conf->n; (*iter)++) {
		e = &conf->entries[*iter];
		if (find_def(conf, e->name, strlen(e->name), NULL) != NULL)
			continue;
		for (i = 0; i < conf->n; i++) {
			if (refers_to(conf->entries[i].value, e->name))
				break;
		}
		if (i < conf->n)
			continue;	/* $config_dir and the like */
		if (conf->path != NULL && e->line > 0)
			snprintf(where, sizeof(where), "%.160s, line %u: ",
				 conf->path, e->line);
		else
			where[0] = '\0';
		/* names are letters, digits, '_' and '-' (valid_name) */
		suggest = closest_name(conf, e->name);
		if (suggest != NULL)
			sg_error_set(warn_r, SG_ERR_CONFIG,
				     "%sunknown setting %.64s (did you mean %s?)",
				     where, e->name, suggest);
		else
			sg_error_set(warn_r, SG_ERR_CONFIG,
				     "%sunknown setting %.64s (ignored)", where,
				     e->name);
		(*iter)++;
		return true;
	}
	return false;
}

/* sg_config_maps_wait - a map of the list that waits for a server */
bool sg_config_maps_wait(const struct sg_config *conf, const char *setting)
{
	sg_assert(conf != NULL && setting != NULL);
	return sg_map_list_waits(sg_config_get(conf, setting));
}

/* describe - a setting as smimectl config and the manual show it */
static void describe(const struct sg_config_def *def,
		     struct sg_config_setting *setting_r)
{
	setting_r->name = def->name;
	setting_r->default_value = def->default_value;
	if (def->syntax != NULL) {
		setting_r->syntax = def->syntax;
		return;
	}
	switch (def->kind) {
	case SG_CONF_BOOL:
		setting_r->syntax = "yes | no";
		break;
	case SG_CONF_SIZE:
		setting_r->syntax = "bytes";
		break;
	case SG_CONF_UINT:
		setting_r->syntax = "number, 1 to 1000000";
		break;
	case SG_CONF_COUNT:
		setting_r->syntax = "number, 0 to 1000000";
		break;
	case SG_CONF_ENUM:
		setting_r->syntax = def->choices;
		break;
	case SG_CONF_TEXT:
	default:
		setting_r->syntax = "text";
		break;
	}
}

bool sg_config_setting_at(size_t index, struct sg_config_setting *setting_r)
{
	sg_assert(setting_r != NULL);
	if (index >= core_table.n)
		return false;
	describe(&core_table.defs[index], setting_r);
	return true;
}

bool sg_config_known_at(const struct sg_config *conf, size_t index,
			struct sg_config_setting *setting_r,
			const char **owner_r)
{
	const struct sg_config_table *t;
	size_t i;

	sg_assert(conf != NULL && setting_r != NULL);
	for (i = 0; i <= conf->n_tables; i++) {
		t = i == 0 ? &core_table : conf->tables[i - 1];
		if (index < t->n) {
			describe(&t->defs[index], setting_r);
			if (owner_r != NULL)
				*owner_r = t->owner;
			return true;
		}
		index -= t->n;
	}
	return false;
}

int sg_config_register(struct sg_config *conf,
		       const struct sg_config_table *table,
		       struct sg_error *err_r)
{
	const struct sg_config_table **tables;
	const struct sg_config_entry *e;
	size_t i;

	sg_assert(conf != NULL && table != NULL && table->owner != NULL &&
		  (table->defs != NULL || table->n == 0));
	for (i = 0; i < conf->n_tables; i++) {
		if (conf->tables[i] == table)
			return 0;
	}
	for (i = 0; i < table->n; i++) {
		const struct sg_config_def *def = &table->defs[i];

		/* a table is the program's, checked here once: its names
		   are settings no other table has */
		sg_assert(def->name != NULL && valid_name(def->name) &&
			  def->default_value != NULL &&
			  (def->kind != SG_CONF_ENUM || def->choices != NULL) &&
			  find_def(conf, def->name, strlen(def->name), NULL) == NULL);
		/* values set before: checked now ($references when used) */
		e = find_entry(conf, def->name, strlen(def->name));
		if (e != NULL && strchr(e->value, '$') == NULL &&
		    check_value(def, e->value, err_r) < 0)
			return -1;
	}
	tables = realloc(conf->tables, (conf->n_tables + 1) * sizeof(*tables));
	if (tables == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	tables[conf->n_tables++] = table;
	conf->tables = tables;
	return 0;
}

bool sg_config_entry_at(const struct sg_config *conf, size_t index,
			const char **name_r, const char **value_r)
{
	sg_assert(conf != NULL && name_r != NULL && value_r != NULL);
	if (index >= conf->n)
		return false;
	*name_r = conf->entries[index].name;
	*value_r = conf->entries[index].value;
	return true;
}
