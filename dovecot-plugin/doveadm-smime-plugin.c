/* doveadm-smime-plugin.c - lib10_doveadm_smime_plugin
 *
 *   doveadm smime reverify [-u user | -A] <search query>
 *	re-verify stored mail with the current trust store and CRLs (after
 *	importing a missing CA certificate or a CRL) and update the $SMIME
 *	keywords and detail; the status at delivery is kept.
 *   doveadm smime status [-u user | -A] <search query>
 *	print the stored verdict of matching mails.
 *
 * doveadm loads plugins only from its fixed module directory
 * (/usr/lib/dovecot/modules/doveadm on Debian), and the storage plugin
 * "smime" must be in the mail_plugins that doveadm sees (global, or
 * protocol doveadm { }).
 */
#include "lib.h"
#include "str.h"
#include "module-dir.h"
#include "doveadm.h"
#include "mail-storage.h"
#include "mail-search.h"
#include "doveadm-cmd.h"
#include "doveadm-mail.h"
#include "doveadm-mail-iter.h"
#include "doveadm-mailbox-list-iter.h"
#include "doveadm-print.h"
#include "smime-plugin.h"

#include <time.h>

const char *doveadm_smime_plugin_version = DOVECOT_ABI_VERSION;

void doveadm_smime_plugin_init(struct module *module);
void doveadm_smime_plugin_deinit(void);

struct smime_cmd_context {
	struct doveadm_mail_cmd_context ctx;
	bool reverify;
};

static const char *iso8601(time_t t)
{
	char buf[SG_TIME_SIZE];

	if (t == 0 || sg_format_time(t, buf, sizeof(buf)) < 0)
		return "-";
	return t_strdup(buf);
}

static int cmd_smime_box(struct smime_cmd_context *sctx,
			 const struct mailbox_info *info)
{
	struct doveadm_mail_iter *iter;
	struct mail *mail;
	int ret = 0;

	if (doveadm_mail_iter_init(&sctx->ctx, info, sctx->ctx.search_args, 0,
				   NULL, 0, &iter) < 0)
		return -1;
	while (doveadm_mail_iter_next(iter, &mail)) T_BEGIN {
		struct smime_detail d;
		const char *error;
		int r = sctx->reverify ? smime_mail_reverify(mail, &d, &error) :
			smime_mail_get_detail(mail, &d, &error);

		if (r < 0) {
			i_error("smime: %s uid=%u: %s", info->vname, mail->uid,
				error);
			doveadm_mail_failed_error(&sctx->ctx, MAIL_ERROR_TEMP);
			ret = -1;
		} else {
			doveadm_print(info->vname);
			doveadm_print(dec2str(mail->uid));
			doveadm_print(sg_status_name(d.status));
			doveadm_print(sg_status_name(d.status_at_delivery));
			doveadm_print(iso8601(d.verified_at));
			doveadm_print(d.signer[0] != '\0' ? d.signer : "-");
			doveadm_print(smime_reasons_str(d.reasons));
		}
	} T_END;
	if (doveadm_mail_iter_deinit_sync(&iter) < 0)
		ret = -1;
	return ret;
}

static int cmd_smime_run(struct doveadm_mail_cmd_context *ctx,
			 struct mail_user *user)
{
	struct smime_cmd_context *sctx = (struct smime_cmd_context *)ctx;
	const enum mailbox_list_iter_flags iter_flags =
		MAILBOX_LIST_ITER_NO_AUTO_BOXES |
		MAILBOX_LIST_ITER_RETURN_NO_FLAGS;
	struct doveadm_mailbox_list_iter *iter;
	const struct mailbox_info *info;
	int ret = 0;

	if (!smime_user_enabled(user)) {
		i_error("smime: the smime plugin is not loaded for user %s "
			"(add it to mail_plugins, globally or in protocol doveadm)",
			user->username);
		doveadm_mail_failed_error(ctx, MAIL_ERROR_NOTPOSSIBLE);
		return -1;
	}
	iter = doveadm_mailbox_list_iter_init(ctx, user, ctx->search_args,
					      iter_flags);
	while ((info = doveadm_mailbox_list_iter_next(iter)) != NULL) T_BEGIN {
		if (cmd_smime_box(sctx, info) < 0)
			ret = -1;
	} T_END;
	if (doveadm_mailbox_list_iter_deinit(&iter) < 0)
		ret = -1;
	return ret;
}

static void cmd_smime_init(struct doveadm_mail_cmd_context *ctx,
			   const char *const args[])
{
	struct smime_cmd_context *sctx = (struct smime_cmd_context *)ctx;

	if (args[0] == NULL)
		doveadm_mail_help_name(sctx->reverify ? "smime reverify" :
				       "smime status");
	ctx->search_args = doveadm_mail_build_search_args(args);
	doveadm_print_header("mailbox", "mailbox", 0);
	doveadm_print_header_simple("uid");
	doveadm_print_header_simple("status");
	doveadm_print_header("status-at-delivery", "status-at-delivery", 0);
	doveadm_print_header("verified-at", "verified-at", 0);
	doveadm_print_header_simple("signer");
	doveadm_print_header_simple("reasons");
}

static struct doveadm_mail_cmd_context *cmd_smime_alloc(bool reverify)
{
	struct smime_cmd_context *sctx =
		doveadm_mail_cmd_alloc(struct smime_cmd_context);

	sctx->reverify = reverify;
	sctx->ctx.v.init = cmd_smime_init;
	sctx->ctx.v.run = cmd_smime_run;
	doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
	return &sctx->ctx;
}

static struct doveadm_mail_cmd_context *cmd_smime_reverify_alloc(void)
{
	return cmd_smime_alloc(TRUE);
}

static struct doveadm_mail_cmd_context *cmd_smime_status_alloc(void)
{
	return cmd_smime_alloc(FALSE);
}

static struct doveadm_cmd_ver2 doveadm_cmd_smime_reverify = {
	.name = "smime reverify",
	.mail_cmd = cmd_smime_reverify_alloc,
	.usage = DOVEADM_CMD_MAIL_USAGE_PREFIX "<search query>",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_MAIL_COMMON
DOVEADM_CMD_PARAM('\0', "query", CMD_PARAM_ARRAY, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
};

static struct doveadm_cmd_ver2 doveadm_cmd_smime_status = {
	.name = "smime status",
	.mail_cmd = cmd_smime_status_alloc,
	.usage = DOVEADM_CMD_MAIL_USAGE_PREFIX "<search query>",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_MAIL_COMMON
DOVEADM_CMD_PARAM('\0', "query", CMD_PARAM_ARRAY, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
};

void doveadm_smime_plugin_init(struct module *module ATTR_UNUSED)
{
	doveadm_cmd_register_ver2(&doveadm_cmd_smime_reverify);
	doveadm_cmd_register_ver2(&doveadm_cmd_smime_status);
}

void doveadm_smime_plugin_deinit(void)
{
}
