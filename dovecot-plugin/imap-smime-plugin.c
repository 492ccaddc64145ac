/* imap-smime-plugin.c - lib95_imap_smime_plugin: capability X-SMIME and
 * the FETCH item X-SMIME (DESIGN.md section 4):
 *
 *   X-SMIME (STATUS "signed/verified" STATUS-AT-DELIVERY "signed/verified"
 *            VERIFIED-AT "2026-11-28T10:00:00Z" SIGNER "alice@example.org"
 *            REASONS ("weak-key"))
 *   X-SMIME NIL                      (status none)
 *
 * mail_plugins = $mail_plugins smime imap_smime  (protocol imap)
 */
#include "imap-common.h"
#include "str.h"
#include "imap-quote.h"
#include "imap-fetch.h"
#include "mail-storage-private.h"
#include "smime-plugin.h"

#include <time.h>

const char *imap_smime_plugin_version = DOVECOT_ABI_VERSION;
const char *imap_smime_plugin_dependencies[] = { "smime", NULL };
const char imap_smime_plugin_binary_dependency[] = "imap";

void imap_smime_plugin_init(struct module *module);
void imap_smime_plugin_deinit(void);

static struct module *imap_smime_module;
static imap_client_created_func_t *next_hook_client_created;

static void append_iso8601(string_t *str, time_t t)
{
	char buf[SG_TIME_SIZE];

	if (sg_format_time(t, buf, sizeof(buf)) < 0) {
		str_append(str, "NIL");
		return;
	}
	str_printfa(str, "\"%s\"", buf);
}

static int fetch_x_smime(struct imap_fetch_context *ctx, struct mail *mail,
			 void *context ATTR_UNUSED)
{
	struct smime_detail d;
	const char *error;
	string_t *str = ctx->state.cur_str;
	unsigned int i;
	bool first = TRUE;

	if (smime_mail_get_detail(mail, &d, &error) < 0) {
		e_error(mail->box->event, "smime: FETCH X-SMIME uid=%u: %s",
			mail->uid, error);
		/* the keywords stay authoritative; tell the client nothing */
		str_append(str, "X-SMIME NIL ");
		return 1;
	}
	if (d.status == SG_STATUS_NONE) {
		str_append(str, "X-SMIME NIL ");
		return 1;
	}
	str_append(str, "X-SMIME (STATUS ");
	imap_append_quoted(str, sg_status_name(d.status));
	str_append(str, " STATUS-AT-DELIVERY ");
	imap_append_quoted(str, sg_status_name(d.status_at_delivery));
	str_append(str, " VERIFIED-AT ");
	append_iso8601(str, d.verified_at);
	str_append(str, " SIGNER ");
	if (d.signer[0] == '\0')
		str_append(str, "NIL");
	else
		imap_append_string(str, d.signer);
	str_append(str, " REASONS (");
	for (i = 0; i < SG_REASON_COUNT; i++) {
		if ((d.reasons & SG_REASON_BIT(i)) == 0)
			continue;
		if (!first)
			str_append_c(str, ' ');
		imap_append_quoted(str, sg_reason_name((enum sg_reason)i));
		first = FALSE;
	}
	str_append(str, ")) ");
	return 1;
}

static bool fetch_x_smime_init(struct imap_fetch_init_context *ctx)
{
	imap_fetch_add_handler(ctx, IMAP_FETCH_HANDLER_FLAG_BUFFERED,
			       "NIL", fetch_x_smime, NULL);
	return TRUE;
}

static const struct imap_fetch_handler imap_smime_fetch_handlers[] = {
	{ "X-SMIME", fetch_x_smime_init },
};

static void imap_smime_client_created(struct client **client)
{
	if (mail_user_is_plugin_loaded((*client)->user, imap_smime_module))
		client_add_capability(*client, "X-SMIME");
	if (next_hook_client_created != NULL)
		next_hook_client_created(client);
}

void imap_smime_plugin_init(struct module *module)
{
	imap_smime_module = module;
	imap_fetch_handlers_register(imap_smime_fetch_handlers,
				     N_ELEMENTS(imap_smime_fetch_handlers));
	next_hook_client_created =
		imap_client_created_hook_set(imap_smime_client_created);
}

void imap_smime_plugin_deinit(void)
{
	imap_fetch_handler_unregister("X-SMIME");
	imap_client_created_hook_set(next_hook_client_created);
}
