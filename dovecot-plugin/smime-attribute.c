/* smime-attribute.c - RFC 5464 METADATA: what $SMIMEVerified means here
 *
 * The read-only entry /shared/vendor/vendor.smimeguard/policy (server,
 * and the same key on every mailbox) describes the trust anchor set
 * (fingerprint), revocation mode, sender binding and SHA-1 policy of the
 * settings that govern the mailbox (its owner's, for a shared one).
 *
 * The whole vendor.smimeguard subtree belongs to the server, in /shared
 * and in /private: a user cannot store a look-alike value under
 * /private/vendor/vendor.smimeguard/policy (or policy/..., or
 * vendor.smimeguard-x/...) for a client to find before the real one.
 * /private/vendor/vendor.smimeguard/policy reads the same value as the
 * /shared entry; every other key of the subtree reads as absent and
 * cannot be set.  The entries are registered as validated internal
 * attributes of rank "authority": never read from or written to the
 * attribute dictionary, readable with and without imap_metadata = yes.
 */
#include "lib.h"
#include "str.h"
#include "mail-user.h"
#include "mail-storage-private.h"
#include "mailbox-attribute.h"
#include "smime-plugin.h"

/* the subtree; prefix-matched (MAIL_ATTRIBUTE_INTERNAL_FLAG_CHILDREN),
   so it also covers "vendor/vendor.smimeguard<anything>" */
#define SMIME_ATTR_ROOT "vendor/vendor.smimeguard"
#define SMIME_ATTR_KEY SMIME_ATTR_ROOT "/policy"

static int smime_attr_get(struct mailbox *box, const char *key,
			  struct mail_attribute_value *value_r)
{
	struct mail_user *user = box->storage->user;
	struct sg_ctx *ctx;
	const char *error;
	char buf[512];

	if (str_begins(key, MAILBOX_ATTRIBUTE_PREFIX_DOVECOT_PVT_SERVER))
		key += strlen(MAILBOX_ATTRIBUTE_PREFIX_DOVECOT_PVT_SERVER);
	/* the rest of the subtree exists only as "nothing here" */
	if (strcmp(key, SMIME_ATTR_KEY) != 0 || !smime_user_enabled(user))
		return 0;
	ctx = smime_box_ctx(box, &error);
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

/* iterating (GETMETADATA DEPTH) lists only the policy entry.  KEY_PREFIX
   is what follows the root in the iterated prefix; the keys returned are
   appended to the root's key ("" when iterating from a parent) or are
   the entry itself ("" when iterating the policy entry) */
static int smime_attr_iter(struct mailbox *box ATTR_UNUSED,
			   const char *key_prefix, pool_t pool ATTR_UNUSED,
			   ARRAY_TYPE(const_string) *keys)
{
	const char *child;

	if (key_prefix[0] == '\0')
		child = "/policy";
	else if (strcmp(key_prefix, "/policy") == 0)
		child = "";
	else
		return 0;
	array_push_back(keys, &child);
	return 0;
}

#define SMIME_ATTR(type_, key_) { \
	.type = (type_), \
	.key = (key_), \
	.rank = MAIL_ATTRIBUTE_INTERNAL_RANK_AUTHORITY, \
	.flags = MAIL_ATTRIBUTE_INTERNAL_FLAG_VALIDATED | \
		 MAIL_ATTRIBUTE_INTERNAL_FLAG_CHILDREN, \
	.get = smime_attr_get, \
	.iter = smime_attr_iter, \
}

static const struct mailbox_attribute_internal smime_attrs[] = {
	SMIME_ATTR(MAIL_ATTRIBUTE_TYPE_SHARED,
		   MAILBOX_ATTRIBUTE_PREFIX_DOVECOT_PVT_SERVER SMIME_ATTR_ROOT),
	SMIME_ATTR(MAIL_ATTRIBUTE_TYPE_SHARED, SMIME_ATTR_ROOT),
	SMIME_ATTR(MAIL_ATTRIBUTE_TYPE_PRIVATE,
		   MAILBOX_ATTRIBUTE_PREFIX_DOVECOT_PVT_SERVER SMIME_ATTR_ROOT),
	SMIME_ATTR(MAIL_ATTRIBUTE_TYPE_PRIVATE, SMIME_ATTR_ROOT),
};

void smime_attribute_init(void)
{
	mailbox_attribute_register_internals(smime_attrs,
					     N_ELEMENTS(smime_attrs));
}

void smime_attribute_deinit(void)
{
	mailbox_attribute_unregister_internals(smime_attrs,
					       N_ELEMENTS(smime_attrs));
}
