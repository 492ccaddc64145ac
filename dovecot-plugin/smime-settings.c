/* smime-settings.c - the plugin { } settings, and one verification
 * context per smimeguard.conf, per process; reloaded when the
 * configuration, trust anchors, intermediates or CRLs change on disk
 * (checked at most once a second), never once per message.  A reload
 * that fails keeps the previous context working.
 *
 * Which settings govern a mailbox (DESIGN.md, Dovecot plugins): the
 * user's own for the user's mailboxes; for a shared namespace the
 * owner's, looked up in the userdb (the autocreated owner user carries
 * the *accessing* user's settings); for a public namespace the global
 * plugin { } values, without anybody's userdb fields.
 */
#include "lib.h"
#include "ioloop.h"
#include "str.h"
#include "str-sanitize.h"
#include "var-expand.h"
#include "auth-master.h"
#include "master-service-private.h"
#include "master-service-settings.h"
#include "settings-parser.h"
#include "mail-storage-settings.h"
#include "mail-user.h"
#include "smime-plugin.h"

/* configure: $sysconfdir/smimeguard/smimeguard.conf (Makefile.am) */
#define SMIME_DEFAULT_CONFIG SG_CONFIG_FILE
#define SMIME_DEFAULT_SYNC_VERIFY_MSECS 1000
#define SMIME_MAX_SYNC_VERIFY_MSECS 600000


#define SMIME_RELOAD_CHECK_SECS 1

/* ---- plugin { } settings ---- */

static void settings_defaults(struct smime_settings *set_r)
{
	i_zero(set_r);
	set_r->config_path = SMIME_DEFAULT_CONFIG;
	set_r->protect = SMIME_PROTECT_YES;
	set_r->sync_verify_msecs = SMIME_DEFAULT_SYNC_VERIFY_MSECS;
}

/* expand %variables of a value for USER (unexpanded values come from the
   global settings and from a userdb lookup) */
static const char *settings_expand(struct mail_user *user, const char *value)
{
	string_t *str;
	const char *error;

	if (strchr(value, '%') == NULL)
		return value;
	str = t_str_new(128);
	if (var_expand_with_funcs(str, value, mail_user_var_expand_table(user),
				  mail_user_var_expand_func_table, user,
				  &error) <= 0) {
		e_error(user->event, "smime: cannot expand '%s': %s",
			str_sanitize(value, 128), error);
		return value;
	}
	return str_c(str);
}

/* settings_set - one setting; FALSE when the name is not ours */
static bool settings_set(struct mail_user *user, struct smime_settings *set,
			 const char *name, const char *value, bool expand,
			 const char *source)
{
	if (strcmp(name, "smime_config") == 0) {
		if (value[0] != '\0')
			set->config_path = p_strdup(user->pool, !expand ? value :
						    settings_expand(user, value));
	} else if (strcmp(name, "smime_protect_keywords") == 0) {
		if (value[0] == '\0' || strcmp(value, "yes") == 0)
			set->protect = SMIME_PROTECT_YES;
		else if (strcmp(value, "reject") == 0)
			set->protect = SMIME_PROTECT_REJECT;
		else if (strcmp(value, "no") == 0)
			set->protect = SMIME_PROTECT_NO;
		else {
			e_error(user->event, "smime: %s: smime_protect_keywords: "
				"unknown value '%s' (use yes, reject or no); using yes",
				source, str_sanitize(value, 40));
			set->protect = SMIME_PROTECT_YES;
		}
	} else if (strcmp(name, "smime_sync_verify_msecs") == 0) {
		unsigned int n;

		if (value[0] == '\0')
			;
		else if (str_to_uint(value, &n) < 0 ||
			 n > SMIME_MAX_SYNC_VERIFY_MSECS) {
			e_error(user->event, "smime: %s: smime_sync_verify_msecs: "
				"'%s' is not a number of milliseconds (0-%u); "
				"using %u", source, str_sanitize(value, 40),
				SMIME_MAX_SYNC_VERIFY_MSECS, set->sync_verify_msecs);
		} else {
			set->sync_verify_msecs = n;
		}
	} else if (strcmp(name, "smime_decrypt_to_verify") == 0) {
		if (value[0] == '\0' || strcmp(value, "no") == 0)
			set->decrypt_to_verify = FALSE;
		else if (strcmp(value, "yes") == 0)
			set->decrypt_to_verify = TRUE;
		else {
			e_error(user->event, "smime: %s: smime_decrypt_to_verify: "
				"unknown value '%s' (use yes or no); using no",
				source, str_sanitize(value, 40));
			set->decrypt_to_verify = FALSE;
		}
	} else if (strcmp(name, "smime_owner_address") == 0) {
		set->owner_address = value[0] == '\0' ? NULL :
			p_strdup(user->pool, !expand ? value :
				 settings_expand(user, value));
	} else {
		return FALSE;
	}
	return TRUE;
}

static const char *const settings_names[] = {
	"smime_config", "smime_protect_keywords", "smime_sync_verify_msecs",
	"smime_decrypt_to_verify", "smime_owner_address"
};

void smime_settings_user(struct mail_user *user, struct smime_settings *set_r)
{
	unsigned int i;

	settings_defaults(set_r);
	for (i = 0; i < N_ELEMENTS(settings_names); i++) {
		const char *value =
			mail_user_plugin_getenv(user, settings_names[i]);

		/* already expanded for this user */
		if (value != NULL)
			(void)settings_set(user, set_r, settings_names[i],
					   value, FALSE, "plugin");
	}
}

/* the mail user settings of the process's global configuration (before
   any userdb field), or NULL.  The roots of the master service's parser
   depend on the binary (doveadm reads its own first), and the mail root
   may be a copy extended by dynamic storage settings: found by module */
static const struct mail_user_settings *settings_global_user_set(void)
{
	const struct setting_parser_info *const *roots;
	void **sets;
	unsigned int i;

	if (master_service == NULL || master_service->set_parser == NULL)
		return NULL;
	roots = settings_parser_get_roots(master_service->set_parser);
	sets = settings_parser_get_list(master_service->set_parser);
	for (i = 0; roots[i] != NULL; i++) {
		if (roots[i] == &mail_user_setting_parser_info ||
		    (roots[i]->parent == NULL && roots[i]->module_name != NULL &&
		     strcmp(roots[i]->module_name,
			    mail_user_setting_parser_info.module_name) == 0))
			return sets[i];
	}
	return NULL;
}

void smime_settings_global(struct mail_user *user,
			   struct smime_settings *set_r)
{
	const struct mail_user_settings *uset;
	unsigned int i;

	uset = settings_global_user_set();
	if (uset == NULL) {
		/* not known here: the user's own, never unprotected */
		smime_settings_user(user, set_r);
		if (set_r->protect == SMIME_PROTECT_NO)
			set_r->protect = SMIME_PROTECT_YES;
		return;
	}
	settings_defaults(set_r);
	for (i = 0; i < N_ELEMENTS(settings_names); i++) {
		const char *value =
			mail_user_set_plugin_getenv(uset, settings_names[i]);

		if (value != NULL)
			(void)settings_set(user, set_r, settings_names[i],
					   value, TRUE, "plugin");
	}
}

static enum smime_protect protect_stricter(enum smime_protect a,
					   enum smime_protect b)
{
	/* reject > yes > no */
	if (a == SMIME_PROTECT_REJECT || b == SMIME_PROTECT_REJECT)
		return SMIME_PROTECT_REJECT;
	if (a == SMIME_PROTECT_YES || b == SMIME_PROTECT_YES)
		return SMIME_PROTECT_YES;
	return SMIME_PROTECT_NO;
}

void smime_settings_owner(struct mail_user *owner,
			  const struct smime_settings *global,
			  struct smime_settings *set_r)
{
	struct auth_user_info info;
	const char *username, *const *fields;
	pool_t pool;
	int ret;

	*set_r = *global;
	if (mail_user_auth_master_conn == NULL) {
		/* no userdb to ask (e.g. a doveadm run without one): the
		   global settings, never weaker than "yes" */
		set_r->protect = protect_stricter(set_r->protect,
						  SMIME_PROTECT_YES);
		return;
	}
	i_zero(&info);
	info.service = owner->service;
	pool = pool_alloconly_create("smime owner userdb", 1024);
	ret = auth_master_user_lookup(mail_user_auth_master_conn,
				      owner->username, &info, pool,
				      &username, &fields);
	if (ret < 0) {
		e_error(owner->event, "smime: userdb lookup of the owner %s "
			"failed: using the global settings, protected",
			str_sanitize(owner->username, 128));
		set_r->protect = protect_stricter(set_r->protect,
						  SMIME_PROTECT_YES);
	} else if (ret > 0) {
		for (; *fields != NULL; fields++) T_BEGIN {
			const char *name = t_strcut(*fields, '=');
			const char *value = strchr(*fields, '=');

			if (str_begins(name, "plugin/"))
				name += strlen("plugin/");
			(void)settings_set(owner, set_r, name,
					   value == NULL ? "yes" : value + 1,
					   TRUE, "userdb of the mailbox owner");
		} T_END;
	}
	pool_unref(&pool);
}

/* ---- verification contexts ---- */

/* a loaded context: the entry holds one reference, and so does every
   APPEND that verifies with it while the client sends the mail (an
   ioloop may run in between, and a reload then must not free it) */
struct smime_ctx_ref {
	struct sg_ctx *ctx;
	unsigned int refs;
};

struct smime_ctx_entry {
	struct smime_ctx_entry *next;
	char *path;
	struct smime_ctx_ref *cur;	/* NULL: nothing loaded */
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
	const char *error;

	memset(out, 0, SG_STAMP_SIZE);
	if (smime_core_config_new(&conf, &error) < 0)
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

	if (smime_core_config_new(&conf, error_r) < 0)
		return -1;
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

/* ctx_entry - the entry of config_path, (re)loaded when its files
   changed (checked at most once every SMIME_RELOAD_CHECK_SECS); its cur
   is NULL when nothing could be loaded yet (*error_r says why), and
   *error_r is set too when a reload failed and the previous one serves */
static struct smime_ctx_entry *ctx_entry(const char *config_path,
					 const char **error_r)
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
		*error_r = e->cur == NULL ? e->error : NULL;
		return e;
	}
	e->checked = ioloop_time;
	stamp(config_path, st);
	if (e->stamped && memcmp(st, e->stamp, sizeof(st)) == 0) {
		*error_r = e->cur == NULL ? e->error : NULL;
		return e;
	}
	memcpy(e->stamp, st, sizeof(st));
	e->stamped = TRUE;
	i_free(e->error);
	if (load(config_path, &ctx, &error) < 0) {
		/* keep verifying with what was loaded before, if anything */
		e->error = i_strdup(error);
		*error_r = e->error;
		return e;
	}
	smime_ctx_unref(&e->cur);
	e->cur = i_new(struct smime_ctx_ref, 1);
	e->cur->ctx = ctx;
	e->cur->refs = 1;
	return e;
}

struct sg_ctx *smime_ctx_get(const char *config_path, const char **error_r)
{
	struct smime_ctx_entry *e = ctx_entry(config_path, error_r);

	return e->cur == NULL ? NULL : e->cur->ctx;
}

struct smime_ctx_ref *smime_ctx_ref_get(const char *config_path,
					const char **error_r)
{
	struct smime_ctx_entry *e = ctx_entry(config_path, error_r);

	if (e->cur == NULL)
		return NULL;
	e->cur->refs++;
	return e->cur;
}

struct sg_ctx *smime_ctx_ref_ctx(const struct smime_ctx_ref *ref)
{
	return ref->ctx;
}

void smime_ctx_unref(struct smime_ctx_ref **refp)
{
	struct smime_ctx_ref *ref = *refp;

	if (ref == NULL)
		return;
	*refp = NULL;
	i_assert(ref->refs > 0);
	if (--ref->refs > 0)
		return;
	sg_ctx_free(&ref->ctx);
	i_free(ref);
}

void smime_ctx_cache_free(void)
{
	struct smime_ctx_entry *e, *next;

	for (e = smime_ctx_entries; e != NULL; e = next) {
		next = e->next;
		/* an APPEND still holding its context keeps it */
		smime_ctx_unref(&e->cur);
		i_free(e->path);
		i_free(e->error);
		i_free(e);
	}
	smime_ctx_entries = NULL;
}
