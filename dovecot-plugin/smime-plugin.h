#ifndef SMIME_PLUGIN_H
#define SMIME_PLUGIN_H

/*
 * smime-plugin.h - the storage plugin (lib90_smime_plugin) and what it
 * exports to lib95_imap_smime_plugin and lib10_doveadm_smime_plugin.
 * Modules are dlopen()ed RTLD_GLOBAL, so the imap and doveadm plugins call
 * these functions directly.
 */
#include "smimeguard.h"
#include "smime-core.h"

struct mail;
struct mail_user;
struct module;

enum smime_protect {
	SMIME_PROTECT_YES = 0,	/* drop client changes silently */
	SMIME_PROTECT_REJECT,	/* refuse them: NO [NOPERM] */
	SMIME_PROTECT_NO	/* let clients change them (migrations) */
};

/* What the server concluded about one mail (DESIGN.md section 4). */
struct smime_detail {
	enum sg_status status;
	enum sg_status status_at_delivery;
	time_t verified_at;
	uint32_t reasons;
	const char *signer;	/* "" when none; data stack memory */
};

/* smime_mail_get_detail - the stored verdict of a mail; verifies (and
   stores) it when the mail was never verified by this server (no record,
   or a record left pending by a sync).  A mail judged "none" has a
   record and is not verified again.  0 ok, -1 error (error_r) */
int smime_mail_get_detail(struct mail *mail, struct smime_detail *detail_r,
			  const char **error_r);

/* smime_mail_reverify - verify a stored mail again with the current trust
   store and CRLs, update its keywords and detail; the status at delivery
   is kept.  0 ok, -1 error (error_r) */
int smime_mail_reverify(struct mail *mail, struct smime_detail *detail_r,
			const char **error_r);

/* smime_user_enabled - whether the smime plugin is active for the user */
bool smime_user_enabled(struct mail_user *user);

/* smime_reasons_str - the reason tokens, comma separated, or "-" when
   there is none (logs, doveadm smime); data stack memory */
const char *smime_reasons_str(uint32_t reasons);

struct mailbox;

/* ---- internal to lib90_smime_plugin ---- */
extern struct module *smime_module;

/* the plugin { } settings that govern a mailbox */
struct smime_settings {
	const char *config_path;	/* smime_config */
	enum smime_protect protect;	/* smime_protect_keywords */
	/* smime_sync_verify_msecs: time per mailbox sync for verifying mail
	   whose $SMIME keywords did not come from this server */
	unsigned int sync_verify_msecs;
	/* smime_decrypt_to_verify: ask smime-keyd (smimeguard.conf
	   keyd_socket) about encrypted mail delivered, appended or copied
	   into the owner's mailboxes */
	bool decrypt_to_verify;
	/* smime_owner_address: the owner's address for smime-keyd, when
	   the user name is not one (NULL: the user name) */
	const char *owner_address;
};

/* smime-settings.c: the only file that reads Dovecot settings.
   smime_settings_user - the user's own (plugin { }, userdb, -o) */
void smime_settings_user(struct mail_user *user, struct smime_settings *set_r);
/* smime_settings_global - plugin { } of the configuration, without any
   userdb field (public namespaces) */
void smime_settings_global(struct mail_user *user,
			   struct smime_settings *set_r);
/* smime_settings_owner - the owner of a shared namespace: its userdb
   fields over the global settings.  The autocreated owner user inherits
   the accessing user's settings, so they are looked up again. */
void smime_settings_owner(struct mail_user *owner,
			  const struct smime_settings *global,
			  struct smime_settings *set_r);

/* smime-settings.c: the shared verification context of a config file,
   loaded once per process and reloaded when a file changes on disk */
struct sg_ctx *smime_ctx_get(const char *config_path, const char **error_r);
void smime_ctx_cache_free(void);
/* the same, held until smime_ctx_unref() even across a reload (for a
   verification that spans ioloop runs: an APPEND) */
struct smime_ctx_ref;
struct smime_ctx_ref *smime_ctx_ref_get(const char *config_path,
					const char **error_r);
struct sg_ctx *smime_ctx_ref_ctx(const struct smime_ctx_ref *ref);
void smime_ctx_unref(struct smime_ctx_ref **ref);

/* smime-storage.c */
void smime_storage_hooks_init(struct module *module);
void smime_storage_hooks_deinit(void);

/* smime-attribute.c: METADATA /shared/vendor/vendor.smimeguard/policy */
void smime_attribute_init(void);
void smime_attribute_deinit(void);
/* the verification context that governs a mailbox: its owner's
   settings (a shared mailbox), the global ones (a public namespace), the
   user's own otherwise.  NULL with *error_r on failure */
struct sg_ctx *smime_box_ctx(struct mailbox *box, const char **error_r);

#endif
