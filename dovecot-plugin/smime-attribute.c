/* smime-attribute.c - RFC 5464 METADATA: what $SMIMEVerified means here
 *
 * The read-only server entry /shared/vendor/vendor.smimeguard/policy (and
 * the same key on every mailbox) describes the trust anchor set
 * (fingerprint), revocation mode, sender binding and SHA-1 policy.  It is
 * registered as a validated internal attribute, so it is readable with and
 * without imap_metadata = yes.
 */
#include "lib.h"
#include "mail-user.h"
#include "mail-storage-private.h"
#include "mailbox-attribute.h"
#include "smime-plugin.h"

#define SMIME_ATTR_KEY "vendor/vendor.smimeguard/policy"

static int smime_attr_get(struct mailbox *box, const char *key ATTR_UNUSED,
			  struct mail_attribute_value *value_r)
{
	struct mail_user *user = box->storage->user;
	struct sg_ctx *ctx;
	const char *error;
	char buf[512];

	if (!smime_user_enabled(user))
		return 0;
	ctx = smime_user_ctx(user, &error);
	if (ctx == NULL) {
		mail_storage_set_error(box->storage, MAIL_ERROR_TEMP,
				       "S/MIME trust store unavailable");
		e_error(user->event, "smime: METADATA: %s", error);
		return -1;
	}
	if (sg_ctx_policy(ctx, buf, sizeof(buf)) < 0)
		return 0;
	value_r->value = t_strdup(buf);
	value_r->flags |= MAIL_ATTRIBUTE_VALUE_FLAG_READONLY;
	return 1;
}

static const struct mailbox_attribute_internal smime_attr_server = {
	.type = MAIL_ATTRIBUTE_TYPE_SHARED,
	.key = MAILBOX_ATTRIBUTE_PREFIX_DOVECOT_PVT_SERVER SMIME_ATTR_KEY,
	.rank = MAIL_ATTRIBUTE_INTERNAL_RANK_AUTHORITY,
	.flags = MAIL_ATTRIBUTE_INTERNAL_FLAG_VALIDATED,
	.get = smime_attr_get,
};

static const struct mailbox_attribute_internal smime_attr_mailbox = {
	.type = MAIL_ATTRIBUTE_TYPE_SHARED,
	.key = SMIME_ATTR_KEY,
	.rank = MAIL_ATTRIBUTE_INTERNAL_RANK_AUTHORITY,
	.flags = MAIL_ATTRIBUTE_INTERNAL_FLAG_VALIDATED,
	.get = smime_attr_get,
};

void smime_attribute_init(void)
{
	mailbox_attribute_register_internal(&smime_attr_server);
	mailbox_attribute_register_internal(&smime_attr_mailbox);
}

void smime_attribute_deinit(void)
{
	mailbox_attribute_unregister_internal(&smime_attr_server);
	mailbox_attribute_unregister_internal(&smime_attr_mailbox);
}
