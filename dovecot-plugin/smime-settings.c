/* smime-settings.c - one verification context per smimeguard.conf, per
 * process; reloaded when the configuration, trust anchors, intermediates
 * or CRLs change on disk (checked at most once a second), never once per
 * message.  A reload that fails keeps the previous context working.
 */
#include "lib.h"
#include "str.h"
#include "ioloop.h"
#include "smime-plugin.h"

#include <dirent.h>
#include <sys/stat.h>

#define SMIME_RELOAD_CHECK_SECS 1

struct smime_ctx_entry {
	struct smime_ctx_entry *next;
	char *path;
	struct sg_ctx *ctx;
	char *stamp;		/* what the files looked like when loaded */
	char *error;		/* last load error, or NULL */
	time_t checked;
};

static struct smime_ctx_entry *smime_ctx_entries;

static void stamp_file(string_t *out, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		str_printfa(out, "%s:-;", path);
		return;
	}
	str_printfa(out, "%s:%lld.%ld:%lld:%llu;", path,
		    (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec,
		    (long long)st.st_size, (unsigned long long)st.st_ino);
	if (S_ISDIR(st.st_mode)) {
		DIR *dir = opendir(path);
		struct dirent *de;

		if (dir == NULL)
			return;
		while ((de = readdir(dir)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			stamp_file(out, t_strconcat(path, "/", de->d_name, NULL));
		}
		closedir(dir);
	}
}

/* stamp - the state on disk of the config file and the paths it names */
static const char *stamp(const char *config_path)
{
	static const char *const lists[] = {
		"trust_anchors", "intermediates", "crl_dirs"
	};
	string_t *out = t_str_new(256);
	struct sg_config *conf;
	struct sg_error err;
	unsigned int i;

	stamp_file(out, config_path);
	if (sg_config_new(&conf) < 0)
		return str_c(out);
	if (sg_config_read(conf, config_path, &err) == 0) {
		for (i = 0; i < N_ELEMENTS(lists); i++) {
			const char *v = sg_config_get(conf, lists[i]);
			const char *const *items;

			if (v == NULL)
				continue;
			items = t_strsplit_spaces(v, ", \t");
			for (; *items != NULL; items++)
				stamp_file(out, *items);
		}
	}
	sg_config_free(&conf);
	return str_c(out);
}

static int load(const char *config_path, struct sg_ctx **ctx_r,
		const char **error_r)
{
	struct sg_config *conf;
	struct sg_error err;
	int ret;

	if (sg_config_new(&conf) < 0) {
		*error_r = "out of memory";
		return -1;
	}
	if (sg_config_read(conf, config_path, &err) < 0) {
		*error_r = t_strdup(err.msg);
		sg_config_free(&conf);
		return -1;
	}
	ret = sg_ctx_new(conf, ctx_r, &err);
	sg_config_free(&conf);
	if (ret < 0)
		*error_r = t_strdup(err.msg);
	return ret;
}

struct sg_ctx *smime_ctx_get(const char *config_path, const char **error_r)
{
	struct smime_ctx_entry *e;
	struct sg_ctx *ctx;
	const char *st, *error;

	*error_r = NULL;
	for (e = smime_ctx_entries; e != NULL; e = e->next) {
		if (strcmp(e->path, config_path) == 0)
			break;
	}
	if (e == NULL) {
		e = i_new(struct smime_ctx_entry, 1);
		e->path = i_strdup(config_path);
		e->next = smime_ctx_entries;
		smime_ctx_entries = e;
	} else if (ioloop_time - e->checked < SMIME_RELOAD_CHECK_SECS) {
		*error_r = e->ctx == NULL ? e->error : NULL;
		return e->ctx;
	}
	e->checked = ioloop_time;
	st = stamp(config_path);
	if (e->stamp != NULL && strcmp(st, e->stamp) == 0) {
		*error_r = e->ctx == NULL ? e->error : NULL;
		return e->ctx;
	}
	i_free(e->stamp);
	e->stamp = i_strdup(st);
	i_free(e->error);
	if (load(config_path, &ctx, &error) < 0) {
		/* keep verifying with what was loaded before, if anything */
		e->error = i_strdup(error);
		*error_r = e->error;
		return e->ctx;
	}
	sg_ctx_free(&e->ctx);
	e->ctx = ctx;
	return e->ctx;
}

void smime_ctx_cache_free(void)
{
	struct smime_ctx_entry *e, *next;

	for (e = smime_ctx_entries; e != NULL; e = next) {
		next = e->next;
		sg_ctx_free(&e->ctx);
		i_free(e->path);
		i_free(e->stamp);
		i_free(e->error);
		i_free(e);
	}
	smime_ctx_entries = NULL;
}
