/* smime-settings.c - one verification context per smimeguard.conf, per
 * process; reloaded when the configuration, trust anchors, intermediates
 * or CRLs change on disk (checked at most once a second), never once per
 * message.  A reload that fails keeps the previous context working.
 */
#include "lib.h"
#include "ioloop.h"
#include "smime-plugin.h"


#define SMIME_RELOAD_CHECK_SECS 1

struct smime_ctx_entry {
	struct smime_ctx_entry *next;
	char *path;
	struct sg_ctx *ctx;
	unsigned char stamp[SG_STAMP_SIZE];	/* the files when loaded */
	bool stamped;
	char *error;		/* last load error, or NULL */
	time_t checked;
};

static struct smime_ctx_entry *smime_ctx_entries;

/* stamp - the state on disk of the config file and the paths it names */
static void stamp(const char *config_path, unsigned char out[SG_STAMP_SIZE])
{
	struct sg_config *conf;
	struct sg_error err;

	memset(out, 0, SG_STAMP_SIZE);
	if (sg_config_new(&conf) < 0)
		return;
	if (sg_config_read(conf, config_path, &err) == 0)
		sg_config_stamp(conf, config_path, out);
	sg_config_free(&conf);
}

static int load(const char *config_path, struct sg_ctx **ctx_r,
		const char **error_r)
{
	struct sg_config *conf;
	struct sg_error err;
	size_t iter = 0;
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
	/* once per (re)load of the file: a misspelt setting is ignored
	   otherwise, silently (like postconf's "unused parameter") */
	while (sg_config_next_unknown(conf, &iter, &err))
		i_warning("smime: %s", err.msg);
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
	unsigned char st[SG_STAMP_SIZE];
	const char *error;

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
	stamp(config_path, st);
	if (e->stamped && memcmp(st, e->stamp, sizeof(st)) == 0) {
		*error_r = e->ctx == NULL ? e->error : NULL;
		return e->ctx;
	}
	memcpy(e->stamp, st, sizeof(st));
	e->stamped = TRUE;
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
		i_free(e->error);
		i_free(e);
	}
	smime_ctx_entries = NULL;
}
