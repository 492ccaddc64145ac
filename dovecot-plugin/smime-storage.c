/* smime-storage.c - verify every stored message and keep the verdict
 *
 * Delivery (LMTP, dovecot-lda), COPY and MOVE go through the mailbox
 * vfunc copy(): the source mail is read and verified and the result
 * keywords are put into ctx->data.keywords BEFORE the backend's copy, so
 * every mailbox format stores them (maildir writes them into the file
 * name inside its own copy/save_finish).  IMAP APPEND goes through
 * save_begin/save_finish: the bytes the backend reads are captured, and
 * the keywords are added before the backend's save_finish.
 *
 * The message bytes are never changed, and S/MIME never fails or delays
 * a save: on any error the mail is stored as it came, with a log line.
 *
 * The verdict lives in an index extension record ("smime-verdict":
 * status, status at delivery, verified-at, reasons, and the keywords the
 * server set), written for every mail the server judged but plain mail
 * (a "none" without reason, keyword or signer: judged again when first
 * asked), plus the signer address in a mail cache field.  No record
 * means "never verified by this server"; a record is never made from
 * keywords.  The record is the authority for the $SMIME* keywords:
 *
 *  - on every mailbox sync, mail new since the last sync (restored
 *    maildir files, an index rebuild, mail saved by a process without the
 *    plugin) that carries $SMIME* keywords without a record is verified,
 *    within smime_sync_verify_msecs; what does not fit loses its $SMIME*
 *    keywords and gets a "pending" record, verified at a later sync;
 *  - whenever the keywords of a mail are read (FETCH FLAGS, doveadm),
 *    $SMIME* keywords that do not match the record are put back to the
 *    record's, and those of a mail without a record are removed;
 *  - dsync and other sync saves are verified like any save, and sync
 *    transactions cannot change the protected keywords.
 *
 * Clients cannot set or clear the $SMIME* keywords (smime_protect_keywords
 * = yes: silently ignored; reject: NO [NOPERM]; no: allowed, and the
 * record is then not enforced).  Which settings apply is decided by the
 * mailbox, not by the accessing user: a shared mailbox follows its
 * owner's, a public one the global settings (smime-settings.c).
 */
#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "str.h"
#include "str-sanitize.h"
#include "istream.h"
#include "istream-rawlog.h"
#include "hash-method.h"
#include "ostream.h"
#include "ostream-hash.h"
#include "ostream-null.h"
#include "time-util.h"
#include "mail-user.h"
#include "mail-index.h"
#include "mail-cache.h"
#include "mail-storage-private.h"
#include "mail-storage-hooks.h"
#include "index-mail.h"
#include "mail-namespace.h"
#include "smime-plugin.h"

#include <time.h>

#define SMIME_EXT_NAME "smime-verdict"
#define SMIME_SIGNER_FIELD "smime.signer"
/* read at most this much of a mail over the size limit (its header) */
#define SMIME_PREFIX_SIZE (256 * 1024)

#define SMIME_USER_CONTEXT(obj) MODULE_CONTEXT(obj, smime_user_module)
#define SMIME_CONTEXT(obj) MODULE_CONTEXT(obj, smime_storage_module)
#define SMIME_MAIL_CONTEXT(obj) MODULE_CONTEXT(obj, smime_mail_module)
/* a refused keyword change logs at most this many uids */
#define SMIME_REFUSED_UIDS 5
/* write the scan marker at least every this many mails */
#define SMIME_SCAN_MARK_EVERY 64

struct smime_user {
	union mail_user_module_context module_ctx;
	/* governs the user's own mailboxes (for an autocreated shared
	   namespace owner: the owner's userdb over the global settings) */
	struct smime_settings set;
	/* plugin { } without userdb fields: public namespaces */
	struct smime_settings global;
	/* the global ones, protected at least with "yes" */
	struct smime_settings set_strict;
};

/* what a sync decided for a mail, until this process's view sees it */
struct smime_memo {
	uint32_t uid;
	unsigned int keywords;
};

/* the "hash" of the APPEND capture: every byte goes to the verifier */
struct smime_feed {
	struct sg_verify_stream *vs;
	bool failed;
	struct sg_error err;
};

struct smime_mailbox {
	union mailbox_module_context module_ctx;
	/* APPEND: the bytes the backend reads of the mail being saved in
	   capture_t go through capture (a hash ostream over a null one)
	   into the core's stream, which keeps them (in memory up to 1 MiB,
	   then in its file in temp_directory): written once, not first to
	   a copy of Dovecot's and then to the core's */
	struct ostream *capture;
	struct mailbox_transaction_context *capture_t;
	struct smime_ctx_ref *capture_ref;
	struct smime_feed capture_feed;
	/* reject mode: a client tried to change a protected keyword */
	struct mailbox_transaction_context *rejected_t;
	/* the client changes of protected keywords refused in refused_t
	   (one log line per transaction, at its end): how many mails, the
	   first uids, the keywords (SG_KW_* bits) and the kinds of change
	   (1 << enum modify_type) */
	struct mailbox_transaction_context *refused_t;
	unsigned int refused_count, refused_kw, refused_ops;
	uint32_t refused_uids[SMIME_REFUSED_UIDS];
	/* maildir, sdbox, mdbox, mbox: the record is enforced */
	bool enforce;
	bool in_scan;
	/* uids below were scanned by this process */
	uint32_t scanned_uid, scanned_uid_validity;
	/* the last scan's decisions: the view does not show them until the
	   next sync, and a reader in between must not act on the old state */
	ARRAY(struct smime_memo) memo;
};

struct smime_mail {
	union mail_module_context module_ctx;
	uint32_t checked_seq;	/* the record was enforced for this seq */
};

/* the index extension record, one per mail the server judged */
struct smime_record {
	uint32_t verified_at;
	uint32_t reasons;
	uint8_t version;		/* SMIME_RECORD_VERSION */
	uint8_t status;			/* enum sg_status + 1; 0: invalid */
	uint8_t status_at_delivery;	/* likewise */
	uint8_t flags;			/* SMIME_RECORD_* */
	uint8_t keywords;		/* the SG_KW_* bits the server set */
	uint8_t unused[3];
};
#define SMIME_RECORD_HAS_SIGNER 0x01	/* the signer is in the cache field */
/* keywords removed by a sync that ran out of time: verify again */
#define SMIME_RECORD_PENDING 0x02
#define SMIME_RECORD_VERSION 2

/* the extension header: how far syncs have scanned the mailbox */
struct smime_header {
	uint32_t uid_validity;
	uint32_t scanned_uid;	/* uids below it were scanned */
};

/* a verdict in plugin terms (no pointers into freed memory) */
struct smime_verdict {
	enum sg_status status;
	unsigned int keywords;
	uint32_t reasons;
	char signer[320];
};

static MODULE_CONTEXT_DEFINE_INIT(smime_user_module, &mail_user_module_register);
static MODULE_CONTEXT_DEFINE_INIT(smime_storage_module, &mail_storage_module_register);
static MODULE_CONTEXT_DEFINE_INIT(smime_mail_module, &mail_module_register);

/* set while the plugin itself changes keywords (processes are
   single-threaded) */
static bool smime_internal_update = FALSE;

/* ---- keywords ---- */

static bool smime_is_protected_name(const char *name)
{
	unsigned int i;

	for (i = 0; i < SG_KW_COUNT; i++) {
		if (strcasecmp(name, sg_keyword_name(1u << i)) == 0)
			return TRUE;
	}
	return FALSE;
}

static bool smime_is_protected_idx(struct mailbox *box, unsigned int idx)
{
	const ARRAY_TYPE(keywords) *names = mail_index_get_keywords(box->index);

	if (idx >= array_count(names))
		return FALSE;
	return smime_is_protected_name(array_idx_elem(names, idx));
}

/* smime_kw_bit - the SG_KW_* bit of a protected keyword index */
static unsigned int smime_kw_bit(struct mailbox *box, unsigned int idx)
{
	const ARRAY_TYPE(keywords) *names = mail_index_get_keywords(box->index);
	const char *name;
	unsigned int i;

	if (idx >= array_count(names))
		return 0;
	name = array_idx_elem(names, idx);
	for (i = 0; i < SG_KW_COUNT; i++) {
		if (strcasecmp(name, sg_keyword_name(1u << i)) == 0)
			return 1u << i;
	}
	return 0;
}

/* smime_refused_log - the one line for the refused client changes of
   protected keywords in a transaction (or an APPEND: uid 0, "new") */
static void smime_refused_log(struct mailbox *box, const char *action,
			      unsigned int count, const uint32_t *uids,
			      unsigned int kw, unsigned int ops)
{
	string_t *str = t_str_new(256);
	unsigned int i, n = I_MIN(count, SMIME_REFUSED_UIDS);

	for (i = 0; i < SG_KW_COUNT; i++) {
		if ((kw & (1u << i)) != 0)
			str_printfa(str, "%s%s", str_len(str) > 0 ? "," : "",
				    sg_keyword_name(1u << i));
	}
	if (str_len(str) == 0)
		str_append(str, "?");
	str_append(str, " op=");
	if ((ops & (1u << MODIFY_ADD)) != 0)
		str_append(str, "add,");
	if ((ops & (1u << MODIFY_REMOVE)) != 0)
		str_append(str, "remove,");
	if ((ops & (1u << MODIFY_REPLACE)) != 0)
		str_append(str, "replace,");
	if (ops == 0)
		str_append(str, "append,");
	str_truncate(str, str_len(str) - 1);
	str_printfa(str, " mails=%u uids=", count);
	for (i = 0; i < n; i++) {
		if (uids[i] == 0)
			str_printfa(str, "%snew", i > 0 ? "," : "");
		else
			str_printfa(str, "%s%u", i > 0 ? "," : "", uids[i]);
	}
	if (count > n)
		str_printfa(str, ",...");
	e_info(box->event, "smime: client change of $SMIME keywords %s: "
	       "user=%s mailbox=%s keywords=%s", action,
	       str_sanitize(box->storage->user->username, 128),
	       str_sanitize(mailbox_get_vname(box), 256), str_c(str));
}

/* smime_keywords_create - the mail_keywords of a keyword bit set */
static struct mail_keywords *
smime_keywords_create(struct mailbox *box, unsigned int bits)
{
	const char *names[SG_KW_COUNT + 1];
	unsigned int i, n = 0;

	for (i = 0; i < SG_KW_COUNT; i++) {
		if ((bits & (1u << i)) != 0)
			names[n++] = sg_keyword_name(1u << i);
	}
	names[n] = NULL;
	return mailbox_keywords_create_valid(box, names);
}

/* smime_strip_keywords - drop protected keywords from a keyword set;
   returns TRUE if any was there */
static bool smime_strip_keywords(struct mailbox *box, struct mail_keywords **kwp)
{
	ARRAY_TYPE(keyword_indexes) keep;
	struct mail_keywords *kw = *kwp;
	unsigned int i;

	if (kw == NULL)
		return FALSE;
	t_array_init(&keep, kw->count + 1);
	for (i = 0; i < kw->count; i++) {
		if (!smime_is_protected_idx(box, kw->idx[i]))
			array_push_back(&keep, &kw->idx[i]);
	}
	if (array_count(&keep) == kw->count)
		return FALSE;
	mailbox_keywords_unref(kwp);
	if (array_count(&keep) > 0)
		*kwp = mailbox_keywords_create_from_indexes(box, &keep);
	return TRUE;
}

/* smime_merge_keywords - add the result keywords to a save context */
static void smime_merge_keywords(struct mail_save_context *ctx,
				 unsigned int bits)
{
	struct mailbox *box = ctx->transaction->box;
	struct mail_keywords *kw, *merged;

	if (bits == 0)
		return;
	kw = smime_keywords_create(box, bits);
	if (ctx->data.keywords == NULL) {
		ctx->data.keywords = kw;
		return;
	}
	merged = mailbox_keywords_merge(ctx->data.keywords, kw);
	mailbox_keywords_unref(&kw);
	mailbox_keywords_unref(&ctx->data.keywords);
	ctx->data.keywords = merged;
}

/* smime_bits_of - the protected keywords among keyword indexes */
static unsigned int smime_bits_of(struct mailbox *box,
				  const ARRAY_TYPE(keyword_indexes) *idxs)
{
	const ARRAY_TYPE(keywords) *names = mail_index_get_keywords(box->index);
	const unsigned int *idx;
	unsigned int i, bits = 0;

	array_foreach(idxs, idx) {
		const char *name;

		if (*idx >= array_count(names))
			continue;
		name = array_idx_elem(names, *idx);
		for (i = 0; i < SG_KW_COUNT; i++) {
			if (strcasecmp(name, sg_keyword_name(1u << i)) == 0)
				bits |= 1u << i;
		}
	}
	return bits;
}

/* smime_mail_bits - the protected keywords a mail has now (in its
   transaction), read below this plugin's own check */
static unsigned int smime_mail_bits(struct mail *_mail)
{
	struct mail_private *mail = (struct mail_private *)_mail;
	struct smime_mail *smail = SMIME_MAIL_CONTEXT(mail);

	if (smail == NULL)
		return smime_bits_of(_mail->box, mail_get_keyword_indexes(_mail));
	return smime_bits_of(_mail->box,
			     smail->module_ctx.super.get_keyword_indexes(_mail));
}

/* smime_set_mail_keywords - make the protected keywords of an existing
   (or being-saved) mail equal to bits.  The server's verdict is not a
   user's change: when a plugin below (acl: no "w" right on a shared
   mailbox) drops the update, it is written to the index directly. */
static void smime_set_mail_keywords(struct mail *mail, unsigned int bits)
{
	struct mail_private *pmail = (struct mail_private *)mail;
	struct smime_mail *smail = SMIME_MAIL_CONTEXT(pmail);
	const ARRAY_TYPE(keyword_indexes) *cur;
	ARRAY_TYPE(keyword_indexes) stale, all;
	struct mail_keywords *kw;
	unsigned int want_idx[SG_KW_COUNT], n_want = 0, i;
	const unsigned int *idx;
	bool saved = smime_internal_update;

	if (smime_mail_bits(mail) == bits)
		return;
	cur = smail != NULL ? smail->module_ctx.super.get_keyword_indexes(mail) :
		mail_get_keyword_indexes(mail);
	kw = smime_keywords_create(mail->box, bits);
	for (i = 0; i < kw->count && n_want < SG_KW_COUNT; i++)
		want_idx[n_want++] = kw->idx[i];
	t_array_init(&stale, SG_KW_COUNT);
	array_foreach(cur, idx) {
		bool wanted = FALSE;

		for (i = 0; i < n_want; i++)
			wanted = wanted || want_idx[i] == *idx;
		if (!wanted && smime_is_protected_idx(mail->box, *idx))
			array_push_back(&stale, idx);
	}
	smime_internal_update = TRUE;
	if (array_count(&stale) > 0) {
		struct mail_keywords *rm =
			mailbox_keywords_create_from_indexes(mail->box, &stale);

		mail_update_keywords(mail, MODIFY_REMOVE, rm);
		mailbox_keywords_unref(&rm);
	}
	if (kw->count > 0)
		mail_update_keywords(mail, MODIFY_ADD, kw);
	smime_internal_update = saved;

	if (smime_mail_bits(mail) != bits && !mail->saving) {
		/* dropped below us: replace the whole set in the index */
		cur = smail != NULL ?
			smail->module_ctx.super.get_keyword_indexes(mail) :
			mail_get_keyword_indexes(mail);
		t_array_init(&all, array_count(cur) + SG_KW_COUNT);
		array_foreach(cur, idx) {
			if (!smime_is_protected_idx(mail->box, *idx))
				array_push_back(&all, idx);
		}
		for (i = 0; i < n_want; i++)
			array_push_back(&all, &want_idx[i]);
		mailbox_keywords_unref(&kw);
		kw = mailbox_keywords_create_from_indexes(mail->box, &all);
		index_mail_update_keywords(mail, MODIFY_REPLACE, kw);
	}
	mailbox_keywords_unref(&kw);
}

/* ---- verification ---- */

const char *smime_reasons_str(uint32_t reasons)
{
	char buf[SG_REASONS_SIZE];

	if (reasons == 0)
		return "-";
	(void)sg_reasons_format(reasons, ",", buf, sizeof(buf));
	return t_strdup(buf);
}

/* smime_box_settings - the settings that govern a mailbox: those of its
   owner, not of the user who happens to access it (NULL: the plugin is
   not active for the accessing user) */
static const struct smime_settings *smime_box_settings(struct mailbox *box)
{
	struct mail_namespace *ns = mailbox_get_namespace(box);
	struct mail_user *user = box->storage->user;
	struct smime_user *suser = SMIME_USER_CONTEXT(user), *owner;

	if (suser == NULL)
		return NULL;
	if (ns->owner == NULL)
		return &suser->global;		/* public namespace */
	if (ns->owner == user)
		return &suser->set;
	owner = SMIME_USER_CONTEXT(ns->owner);
	if (owner == NULL) {
		/* an owner without the plugin's context: never weaker
		   than the global settings, never unprotected */
		return suser->global.protect == SMIME_PROTECT_NO ?
			&suser->set_strict : &suser->global;
	}
	return &owner->set;
}

/* smime_box_owner_address - the address smime-keyd knows the owner of
   BOX by, for decrypt-to-verify: the owner's smime_owner_address (its
   own settings or userdb), else its user name when that is an address;
   NULL in a public namespace, or when the owner has no such settings */
static const char *smime_box_owner_address(struct mailbox *box)
{
	struct mail_namespace *ns = mailbox_get_namespace(box);
	struct smime_user *owner;

	if (ns->owner == NULL)
		return NULL;		/* public: nobody's keys */
	owner = SMIME_USER_CONTEXT(ns->owner);
	if (owner != NULL && owner->set.owner_address != NULL)
		return owner->set.owner_address;
	return strchr(ns->owner->username, '@') != NULL ?
		ns->owner->username : NULL;
}

struct sg_ctx *smime_box_ctx(struct mailbox *box, const char **error_r)
{
	const struct smime_settings *set = smime_box_settings(box);

	if (set == NULL) {
		*error_r = "smime plugin not enabled for this user";
		return NULL;
	}
	return smime_ctx_get(set->config_path, error_r);
}

/* smime_harvest - keep the certificate of a verified sender in
   harvest_map (when configured), so colleagues can encrypt to it; never
   affects the delivery */
static void smime_harvest(struct mail_user *user, struct sg_ctx *ctx,
			  const struct sg_result *res)
{
	struct sg_harvest_info hi;
	struct sg_error err;

	if (sg_harvest(ctx, res, 0, &hi, &err) < 0) {
		e_warning(user->event, "smime: cannot harvest the certificate "
			  "of %s: %s (the mail is delivered normally; check "
			  "that harvest_map is writable by the mail user)",
			  str_sanitize(hi.address, 128), err.msg);
		return;
	}
	switch (hi.outcome) {
	case SG_HARVEST_STORED:
		e_info(user->event, "smime: harvested the certificate of %s "
		       "(sha256 %s) into %s", str_sanitize(hi.address, 128),
		       hi.fingerprint, str_sanitize(hi.file, 256));
		break;
	case SG_HARVEST_DISABLED:
		break;
	case SG_HARVEST_CAPPED:
		e_warning(user->event, "smime: certificate of %s not harvested: %s",
			  str_sanitize(hi.address, 128),
			  str_sanitize(hi.detail, 256));
		break;
	default:
		e_debug(user->event, "smime: certificate of %s not harvested: "
			"%s: %s", str_sanitize(hi.address, 128),
			sg_harvest_outcome_name(hi.outcome),
			str_sanitize(hi.detail, 256));
		break;
	}
}

/* smime_verify_data - the core's verdict on a message fed to vs, or
   (vs NULL) on the prefix of an oversized one; logs and emits the
   smime_verify_finished event */
static int smime_verify_data(struct mailbox *box, struct sg_ctx *ctx,
			     const char *what, struct sg_verify_stream *vs,
			     const unsigned char *data, size_t size,
			     uoff_t total_size, struct smime_verdict *v_r)
{
	struct mail_user *user = box->storage->user;
	struct sg_result *res = NULL;
	struct sg_error err;
	struct timespec start, end;
	long long usecs;
	int ret;

	i_zero(v_r);
	clock_gettime(CLOCK_MONOTONIC, &start);
	if (vs != NULL) {
		total_size = sg_verify_stream_size(vs);
		ret = sg_verify_final(vs, &res, &err);
	} else {
		ret = sg_verify_message_prefix(ctx, data, size, total_size, 0,
					       &res, &err);
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	if (ret < 0) {
		e_error(user->event, "smime: %s: verification failed: %s "
			"(mail is stored without S/MIME keywords)", what, err.msg);
		return -1;
	}
	usecs = (end.tv_sec - start.tv_sec) * 1000000LL +
		(end.tv_nsec - start.tv_nsec) / 1000;
	v_r->status = sg_result_status(res);
	v_r->keywords = sg_result_keywords(res);
	v_r->reasons = sg_result_reasons(res);
	if (sg_result_signer_count(res) > 0) {
		/* the signer bound to From, else the first (to say who
		   signed a message that failed) */
		const struct sg_signer *s = sg_result_bound_signer(res);

		if (s == NULL)
			s = sg_result_signer(res, 0);
		i_strocpy(v_r->signer, s->email[0] != '\0' ? s->email : s->subject,
			  sizeof(v_r->signer));
	}
	{
		struct event_passthrough *e =
			event_create_passthrough(user->event)->
			set_name("smime_verify_finished")->
			add_str("status", sg_status_name(v_r->status))->
			add_str("reasons", smime_reasons_str(v_r->reasons))->
			add_str("signer", v_r->signer)->
			add_int("duration_usecs", usecs)->
			add_int("size", (intmax_t)total_size);

		if (v_r->status == SG_STATUS_NONE) {
			e_debug(e->event(), "smime: %s: status=none (%lld us)",
				what, usecs);
		} else {
			e_info(e->event(), "smime: %s: status=%s signer=%s reasons=%s: %s",
			       what, sg_status_name(v_r->status),
			       v_r->signer[0] != '\0' ?
			       str_sanitize(v_r->signer, 128) : "-",
			       smime_reasons_str(v_r->reasons),
			       str_sanitize(sg_result_detail(res), 512));
		}
	}
	if ((v_r->status == SG_STATUS_SIGNED_VERIFIED ||
	     v_r->status == SG_STATUS_ENCRYPTED_SIGNED_VERIFIED) &&
	    strcmp(what, "delivery") == 0)
		smime_harvest(user, ctx, res);
	sg_result_free(&res);
	return 0;
}

/* smime_verify_prefix - the verdict on a mail known to be larger than
   max_message_size: only its first SMIME_PREFIX_SIZE bytes are read */
static int smime_verify_prefix(struct mailbox *box, struct sg_ctx *ctx,
			       struct istream *input,
			       uoff_t size, const char *what,
			       struct smime_verdict *v_r)
{
	struct mail_user *user = box->storage->user;
	const unsigned char *data;
	buffer_t *buf;
	size_t n;
	int ret;

	buf = buffer_create_dynamic(default_pool, SMIME_PREFIX_SIZE);
	i_stream_seek(input, 0);
	while (buf->used < SMIME_PREFIX_SIZE &&
	       (ret = i_stream_read_more(input, &data, &n)) > 0) {
		size_t take = I_MIN(n, SMIME_PREFIX_SIZE - buf->used);

		buffer_append(buf, data, take);
		i_stream_skip(input, take);
	}
	if (input->stream_errno != 0) {
		e_error(user->event, "smime: %s: reading the mail failed: %s "
			"(stored without S/MIME keywords)", what,
			i_stream_get_error(input));
		i_stream_seek(input, 0);
		buffer_free(&buf);
		return -1;
	}
	i_stream_seek(input, 0);
	ret = smime_verify_data(box, ctx, what, NULL, buf->data,
				I_MIN(buf->used, (size_t)size), size, v_r);
	buffer_free(&buf);
	return ret;
}

/* smime_stream_new - the core's streaming verifier for a mail of BOX,
   told the owner for decrypt-to-verify; NULL (logged) on failure */
static struct sg_verify_stream *
smime_stream_new(struct mailbox *box, struct sg_ctx *ctx, const char *what)
{
	struct mail_user *user = box->storage->user;
	const struct smime_settings *set = smime_box_settings(box);
	struct sg_verify_stream *vs;
	struct sg_error err;

	if (sg_verify_init(ctx, 0, &vs, &err) < 0) {
		e_error(user->event, "smime: %s: verification failed: %s "
			"(mail is stored without S/MIME keywords)", what, err.msg);
		return NULL;
	}
	if (set != NULL && set->decrypt_to_verify) {
		/* encrypted mail: smime-keyd says who signed inside (it
		   answers only a verdict; nothing decrypted comes here) */
		const char *owner = smime_box_owner_address(box);

		if (owner == NULL) {
			e_debug(user->event, "smime: %s: no owner address for "
				"smime_decrypt_to_verify (a public namespace, or "
				"a user name that is no address: set "
				"smime_owner_address)", what);
		} else if (sg_verify_set_owner(vs, owner, &err) < 0) {
			e_error(user->event, "smime: %s: decrypt-to-verify for "
				"%s: %s (verified without it)", what,
				str_sanitize(owner, 128), err.msg);
		}
	}
	return vs;
}

/* smime_box_ctx_ref - the context of BOX, held until smime_ctx_unref()
   (a reload meanwhile does not free it); NULL when it cannot be loaded.
   Logged, as is a failed reload while the previous context serves. */
static struct smime_ctx_ref *smime_box_ctx_ref(struct mailbox *box)
{
	struct mail_user *user = box->storage->user;
	const struct smime_settings *set = smime_box_settings(box);
	struct smime_ctx_ref *ref;
	const char *error;

	if (set == NULL) {
		e_error(user->event, "smime: cannot load the trust store: smime "
			"plugin not enabled for this user (mail is stored "
			"without S/MIME keywords)");
		return NULL;
	}
	ref = smime_ctx_ref_get(set->config_path, &error);
	if (ref == NULL) {
		e_error(user->event, "smime: cannot load the trust store: %s "
			"(mail is stored without S/MIME keywords)", error);
	} else if (error != NULL) {
		e_error(user->event, "smime: cannot load the trust store from "
			"%s: %s (still using the previous one)",
			set->config_path, error);
	}
	return ref;
}

/* smime_verify_input - feed a message to the core's streaming verifier
   as it is read (the core keeps it: in memory up to 1 MiB, then in a
   file in temp_directory) and verify it with ctx */
static int smime_verify_input(struct mailbox *box, struct sg_ctx *ctx,
			      struct istream *input, uoff_t size,
			      const char *what, struct smime_verdict *v_r)
{
	struct mail_user *user = box->storage->user;
	struct sg_verify_stream *vs;
	struct sg_error err;
	const unsigned char *data;
	size_t n;
	int ret;

	if (size != (uoff_t)-1 && size > sg_ctx_max_message_size(ctx))
		return smime_verify_prefix(box, ctx, input, size, what, v_r);
	if ((vs = smime_stream_new(box, ctx, what)) == NULL)
		return -1;
	i_stream_seek(input, 0);
	while ((ret = i_stream_read_more(input, &data, &n)) > 0) {
		if (sg_verify_update(vs, data, n, &err) < 0) {
			e_error(user->event, "smime: %s: keeping the mail to "
				"verify it failed: %s (stored without S/MIME "
				"keywords)", what, err.msg);
			i_stream_seek(input, 0);
			sg_verify_free(&vs);
			return -1;
		}
		i_stream_skip(input, n);
	}
	if (input->stream_errno != 0) {
		e_error(user->event, "smime: %s: reading the mail failed: %s "
			"(stored without S/MIME keywords)", what,
			i_stream_get_error(input));
		i_stream_seek(input, 0);
		sg_verify_free(&vs);
		return -1;
	}
	i_stream_seek(input, 0);
	ret = smime_verify_data(box, ctx, what, vs, NULL, 0, 0, v_r);
	sg_verify_free(&vs);
	return ret;
}

/* smime_verify_stream - smime_verify_input with the context of BOX */
static int smime_verify_stream(struct mailbox *box, struct istream *input,
			       uoff_t size, const char *what,
			       struct smime_verdict *v_r)
{
	struct smime_ctx_ref *ref;
	int ret;

	/* the context is taken once and held until the verdict */
	if ((ref = smime_box_ctx_ref(box)) == NULL)
		return -1;
	ret = smime_verify_input(box, smime_ctx_ref_ctx(ref), input, size,
				 what, v_r);
	smime_ctx_unref(&ref);
	return ret;
}

/* smime_verify_mail - read a mail (bounded) and verify it with the
   settings of BOX (where the verdict goes: for a copy, the destination) */
static int smime_verify_mail(struct mailbox *box, struct mail *mail,
			     const char *what, struct smime_verdict *v_r)
{
	struct mail_user *user = box->storage->user;
	struct istream *input;
	uoff_t size;

	if (mail_get_physical_size(mail, &size) < 0)
		size = (uoff_t)-1;
	if (mail_get_stream(mail, NULL, NULL, &input) < 0) {
		e_error(user->event, "smime: %s: cannot read the mail: %s "
			"(stored without S/MIME keywords)", what,
			mailbox_get_last_internal_error(mail->box, NULL));
		return -1;
	}
	return smime_verify_stream(box, input, size, what, v_r);
}

/* ---- the detail: index extension record + signer cache field ---- */

static uint32_t smime_ext_id(struct mailbox *box)
{
	return mail_index_ext_register(box->index, SMIME_EXT_NAME,
				       sizeof(struct smime_header),
				       sizeof(struct smime_record),
				       sizeof(uint32_t));
}

static unsigned int smime_signer_field(struct mailbox *box)
{
	struct mail_cache_field field = {
		.name = SMIME_SIGNER_FIELD,
		.type = MAIL_CACHE_FIELD_STRING,
		.decision = MAIL_CACHE_DECISION_YES | MAIL_CACHE_DECISION_FORCED,
	};

	mail_cache_register_fields(box->cache, &field, 1);
	return field.idx;
}

/* smime_write_record - the server's verdict on a mail: without a record
   a mail counts as never verified, and it is what the keywords are
   checked against (saves skip a plain "none": smime_worth_recording) */
static void smime_write_record(struct mail *mail, const struct smime_verdict *v,
			       enum sg_status at_delivery)
{
	struct smime_record rec;

	i_zero(&rec);
	rec.version = SMIME_RECORD_VERSION;
	rec.verified_at = (uint32_t)time(NULL);
	rec.reasons = v->reasons;
	rec.status = (uint8_t)(v->status + 1);
	rec.status_at_delivery = (uint8_t)(at_delivery + 1);
	rec.keywords = (uint8_t)v->keywords;
	if (v->signer[0] != '\0')
		rec.flags |= SMIME_RECORD_HAS_SIGNER;
	mail_index_update_ext(mail->transaction->itrans, mail->seq,
			      smime_ext_id(mail->box), &rec, NULL);
}

/* smime_worth_recording - whether a save stores its verdict.  A plain
   "none" (no S/MIME at all, no reason, no keyword) is not stored: most
   mail is plain, and its record cost an unsigned delivery 4 % (the
   index and its log grow by it; bench/RESULTS.md).  Such a mail reads
   as never verified, which is what it is worth: it has no keyword to
   vouch for, and the first FETCH X-SMIME or doveadm smime judges it
   again and stores that (smime_reverify). */
static bool smime_worth_recording(const struct smime_verdict *v)
{
	return v->status != SG_STATUS_NONE || v->reasons != 0 ||
		v->keywords != 0 || v->signer[0] != '\0';
}

/* smime_write_pending - no verdict yet, keywords removed: verify later */
static void smime_write_pending(struct mail *mail)
{
	struct smime_record rec;

	i_zero(&rec);
	rec.version = SMIME_RECORD_VERSION;
	rec.status = SG_STATUS_NONE + 1;
	rec.status_at_delivery = SG_STATUS_NONE + 1;
	rec.flags = SMIME_RECORD_PENDING;
	mail_index_update_ext(mail->transaction->itrans, mail->seq,
			      smime_ext_id(mail->box), &rec, NULL);
}

/* smime_write_signer - the signer address into the cache field; nothing
   is written for mail without a signer (the record's flags say so), so
   unsigned mail costs no cache write at delivery */
static void smime_write_signer(struct mail *mail, const char *signer)
{
	if (signer[0] == '\0')
		return;
	index_mail_cache_add_idx(INDEX_MAIL(mail), smime_signer_field(mail->box),
				 signer, strlen(signer));
}

/* smime_read_record - 1 found (maybe pending), 0 none: never verified */
static int smime_read_record(struct mail *mail, struct smime_record *rec_r)
{
	const void *data;
	bool expunged;

	mail_index_lookup_ext(mail->transaction->view, mail->seq,
			      smime_ext_id(mail->box), &data, &expunged);
	if (data == NULL)
		return 0;
	memcpy(rec_r, data, sizeof(*rec_r));
	if (rec_r->version != SMIME_RECORD_VERSION || rec_r->status == 0 ||
	    rec_r->status > SG_STATUS_COUNT ||
	    rec_r->status_at_delivery == 0 ||
	    rec_r->status_at_delivery > SG_STATUS_COUNT ||
	    (rec_r->keywords & ~((1u << SG_KW_COUNT) - 1)) != 0)
		return 0;
	return 1;
}

static const char *smime_read_signer(struct mail *mail)
{
	buffer_t *buf = t_buffer_create(128);

	if (index_mail_cache_lookup_field(INDEX_MAIL(mail), buf,
					  smime_signer_field(mail->box)) <= 0)
		return NULL;
	return t_strndup(buf->data, buf->used);
}

/* smime_reverify - verify a stored mail, set its keywords and record */
static int smime_reverify(struct mail *mail, struct smime_verdict *v_r,
			  enum sg_status *at_delivery_r)
{
	struct smime_record old;

	if (smime_verify_mail(mail->box, mail,
			      t_strdup_printf("uid=%u", mail->uid), v_r) < 0)
		return -1;
	*at_delivery_r = smime_read_record(mail, &old) > 0 &&
		(old.flags & SMIME_RECORD_PENDING) == 0 ?
		(enum sg_status)(old.status_at_delivery - 1) : v_r->status;
	smime_set_mail_keywords(mail, v_r->keywords);
	smime_write_record(mail, v_r, *at_delivery_r);
	if (smime_read_signer(mail) == NULL)
		smime_write_signer(mail, v_r->signer);
	return 0;
}

/* ---- the record is the authority for the keywords ---- */

static bool smime_enforced(struct mailbox *box)
{
	struct smime_mailbox *sbox = SMIME_CONTEXT(box);
	const struct smime_settings *set;

	if (sbox == NULL || !sbox->enforce)
		return FALSE;
	set = smime_box_settings(box);
	return set != NULL && set->protect != SMIME_PROTECT_NO;
}

static const struct smime_memo *
smime_memo_find(struct smime_mailbox *sbox, uint32_t uid)
{
	const struct smime_memo *m;
	unsigned int lo = 0, hi;

	if (!array_is_created(&sbox->memo))
		return NULL;
	m = array_get(&sbox->memo, &hi);
	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;

		if (m[mid].uid == uid)
			return &m[mid];
		if (m[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void smime_memo_add(struct smime_mailbox *sbox, uint32_t uid,
			   unsigned int keywords)
{
	struct smime_memo m = { .uid = uid, .keywords = keywords };

	if (!array_is_created(&sbox->memo))
		i_array_init(&sbox->memo, 32);
	array_push_back(&sbox->memo, &m);
}

/* smime_mail_check - before anybody reads the keywords of a stored mail:
   $SMIME* keywords that the server's record does not vouch for are put
   back to the record's, or removed when there is no record.  Cheap
   (index only); verification happens at sync and for FETCH X-SMIME. */
static void smime_mail_check(struct mail *_mail)
{
	struct mail_private *mail = (struct mail_private *)_mail;
	struct smime_mail *smail = SMIME_MAIL_CONTEXT(mail);
	struct smime_mailbox *sbox = SMIME_CONTEXT(_mail->box);
	const struct smime_memo *memo;
	struct smime_record rec;
	unsigned int bits, want;

	if (smail == NULL || smime_internal_update || _mail->saving ||
	    _mail->uid == 0 || smail->checked_seq == _mail->seq ||
	    !smime_enforced(_mail->box))
		return;
	smime_internal_update = TRUE;
	T_BEGIN {
		bits = smime_mail_bits(_mail);
		if ((memo = smime_memo_find(sbox, _mail->uid)) != NULL)
			want = memo->keywords;
		else if (smime_read_record(_mail, &rec) > 0)
			want = rec.keywords;	/* 0 when pending */
		else
			want = 0;		/* never verified */
		if (bits != want) {
			/* a decision of this process's last scan is no
			   news; anything else came from outside */
			if (memo == NULL) {
				e_warning(_mail->box->event, "smime: uid=%u: "
					  "$SMIME keywords without a matching "
					  "verification record of this server "
					  "were %s", _mail->uid, want == 0 ?
					  "removed" : "put back to the record's");
			}
			smime_set_mail_keywords(_mail, want);
		}
	} T_END;
	smime_internal_update = FALSE;
	smail->checked_seq = _mail->seq;
}

/* smime_scan - after a sync: mail new since the last scan whose $SMIME*
   keywords have no verification record of this server (restored files,
   an index rebuild, a save by a process without the plugin) is verified
   within the time budget; the rest loses the keywords and is left
   pending for the next sync.  Mail without keywords and without record
   is left alone (it is verified on demand). */
static void smime_scan(struct mailbox *box)
{
	struct smime_mailbox *sbox = SMIME_CONTEXT(box);
	const struct smime_settings *set = smime_box_settings(box);
	const struct mail_index_header *hdr;
	struct smime_header sh;
	struct mailbox_transaction_context *t;
	struct mail *mail;
	const void *data;
	size_t size;
	uint32_t ext_id, seq, seq1, seq2, start, first_pending = 0;
	struct timeval deadline;
	unsigned int scanned = 0, changed = 0, verified = 0, stripped = 0;
	bool budget_left = TRUE;

	hdr = mail_index_get_header(box->view);
	ext_id = smime_ext_id(box);
	mail_index_get_header_ext(box->view, ext_id, &data, &size);
	i_zero(&sh);
	if (data != NULL && size >= sizeof(sh))
		memcpy(&sh, data, sizeof(sh));
	if (sh.uid_validity != hdr->uid_validity)
		sh.scanned_uid = 0;
	start = sh.scanned_uid;
	if (sbox->scanned_uid_validity == hdr->uid_validity &&
	    sbox->scanned_uid > start)
		start = sbox->scanned_uid;
	if (start >= hdr->next_uid)
		return;
	if (!mail_index_lookup_seq_range(box->view, I_MAX(start, 1), (uint32_t)-1,
					 &seq1, &seq2)) {
		sbox->scanned_uid = hdr->next_uid;
		sbox->scanned_uid_validity = hdr->uid_validity;
		return;
	}

	i_gettimeofday(&deadline);
	timeval_add_msecs(&deadline, set->sync_verify_msecs);
	t = mailbox_transaction_begin(box, 0, "smime scan");
	mail = mail_alloc(t, 0, NULL);
	for (seq = seq1; seq <= seq2; seq++) T_BEGIN {
		struct smime_record rec;
		struct smime_verdict v;
		enum sg_status at_delivery;
		unsigned int bits;
		int have;

		mail_set_seq(mail, seq);
		scanned++;
		smime_internal_update = TRUE;
		bits = smime_mail_bits(mail);
		have = smime_read_record(mail, &rec);
		smime_internal_update = FALSE;
		if (have > 0 && (rec.flags & SMIME_RECORD_PENDING) == 0) {
			/* judged by this server: the record decides */
			if (rec.keywords != bits) {
				smime_set_mail_keywords(mail, rec.keywords);
				smime_memo_add(sbox, mail->uid, rec.keywords);
				changed++;
			}
		} else if (have == 0 && bits == 0) {
			/* never verified, and nothing to distrust */
		} else {
			struct timeval now;

			i_gettimeofday(&now);
			if (budget_left && timeval_cmp(&now, &deadline) >= 0)
				budget_left = FALSE;
			if (budget_left &&
			    smime_reverify(mail, &v, &at_delivery) == 0) {
				smime_memo_add(sbox, mail->uid, v.keywords);
				verified++;
				changed++;
			} else {
				/* a mail that stays pending changes nothing
				   (no write: idle sessions must not wake each
				   other up for it) */
				bool did = FALSE;

				if (bits != 0) {
					smime_set_mail_keywords(mail, 0);
					smime_memo_add(sbox, mail->uid, 0);
					did = TRUE;
				}
				if (have == 0) {
					smime_write_pending(mail);
					did = TRUE;
				}
				if (first_pending == 0)
					first_pending = mail->uid;
				if (did) {
					stripped++;
					changed++;
				}
			}
		}
	} T_END;
	mail_free(&mail);

	sbox->scanned_uid = first_pending != 0 ? first_pending : hdr->next_uid;
	sbox->scanned_uid_validity = hdr->uid_validity;
	if (changed > 0 || (scanned >= SMIME_SCAN_MARK_EVERY &&
			    sh.scanned_uid != sbox->scanned_uid)) {
		sh.uid_validity = hdr->uid_validity;
		sh.scanned_uid = sbox->scanned_uid;
		mail_index_update_header_ext(t->itrans, ext_id, 0,
					     &sh, sizeof(sh));
	}
	if (mailbox_transaction_commit(&t) < 0) {
		e_error(box->event, "smime: cannot store the verification "
			"of restored or synced mail: %s",
			mailbox_get_last_internal_error(box, NULL));
	}
	if (verified > 0 || stripped > 0) {
		e_info(box->event, "smime: %u mails carried $SMIME keywords "
		       "without a verification record of this server: %u "
		       "verified, %u left pending (keywords removed)",
		       verified + stripped, verified, stripped);
	}
}

static int smime_sync_deinit(struct mailbox_sync_context *ctx,
			     struct mailbox_sync_status *status_r)
{
	struct mailbox *box = ctx->box;
	struct smime_mailbox *sbox = SMIME_CONTEXT(box);
	int ret;

	ret = sbox->module_ctx.super.sync_deinit(ctx, status_r);
	if (ret < 0 || sbox->in_scan || !smime_enforced(box) ||
	    (box->flags & MAILBOX_FLAG_SAVEONLY) != 0 || box->deleting ||
	    box->view == NULL)
		return ret;
	/* the view now shows what the last scan committed */
	if (array_is_created(&sbox->memo))
		array_clear(&sbox->memo);
	sbox->in_scan = TRUE;
	smime_scan(box);
	sbox->in_scan = FALSE;
	return ret;
}

int smime_mail_reverify(struct mail *mail, struct smime_detail *d,
			const char **error_r)
{
	struct smime_verdict v;
	enum sg_status at_delivery;

	if (smime_box_settings(mail->box) == NULL) {
		*error_r = "the smime plugin is not in mail_plugins";
		return -1;
	}
	if (smime_reverify(mail, &v, &at_delivery) < 0) {
		*error_r = "verification failed (see the log)";
		return -1;
	}
	d->status = v.status;
	d->status_at_delivery = at_delivery;
	d->verified_at = time(NULL);
	d->reasons = v.reasons;
	d->signer = t_strdup(v.signer);
	return 0;
}

int smime_mail_get_detail(struct mail *mail, struct smime_detail *d,
			  const char **error_r)
{
	struct smime_record rec;
	const char *signer;

	/* the keywords the client sees must match what is reported */
	smime_mail_check(mail);
	if (smime_read_record(mail, &rec) == 0 ||
	    (rec.flags & SMIME_RECORD_PENDING) != 0) {
		/* never verified by this server (stored before the plugin
		   was enabled, restored, or left pending by a sync) */
		return smime_mail_reverify(mail, d, error_r);
	}
	d->status = (enum sg_status)(rec.status - 1);
	d->status_at_delivery = (enum sg_status)(rec.status_at_delivery - 1);
	d->verified_at = (time_t)rec.verified_at;
	d->reasons = rec.reasons;
	if ((rec.flags & SMIME_RECORD_HAS_SIGNER) == 0) {
		d->signer = "";
		return 0;
	}
	signer = smime_read_signer(mail);
	if (signer == NULL) {
		/* the cache was purged: the signer can be recomputed */
		struct smime_verdict v;

		if (smime_verify_mail(mail->box, mail,
				      t_strdup_printf("uid=%u", mail->uid), &v) == 0) {
			smime_write_signer(mail, v.signer);
			signer = t_strdup(v.signer);
		}
	}
	d->signer = signer != NULL ? signer : "";
	return 0;
}

/* ---- save and copy ---- */

/* smime_active - the settings of a save's mailbox, or NULL when the
   plugin is not active.  dsync and other sync saves (transaction flag
   SYNC) are verified like any other: the keywords another server (or a
   backup) gives a mail are never this server's verdict. */
static const struct smime_settings *
smime_active(struct mailbox_transaction_context *t)
{
	return smime_box_settings(t->box);
}

static int smime_copy(struct mail_save_context *ctx, struct mail *mail)
{
	struct mailbox *box = ctx->transaction->box;
	struct smime_mailbox *sbox = SMIME_CONTEXT(box);
	struct smime_verdict v;
	bool have = FALSE;
	int ret;

	if (smime_active(ctx->transaction) == NULL)
		return sbox->module_ctx.super.copy(ctx, mail);
	T_BEGIN {
		const char *what = ctx->saving ? "delivery" :
			t_strdup_printf("%s to %s",
					(ctx->transaction->flags &
					 MAILBOX_TRANSACTION_FLAG_SYNC) != 0 ?
					"sync" : ctx->moving ? "move" : "copy",
					mailbox_get_vname(box));

		/* never trust keywords from the source or from Sieve */
		(void)smime_strip_keywords(box, &ctx->data.keywords);
		if (smime_verify_mail(box, mail, what, &v) == 0) {
			smime_merge_keywords(ctx, v.keywords);
			have = TRUE;
		}
	} T_END;
	ret = sbox->module_ctx.super.copy(ctx, mail);
	if (ret == 0 && have && ctx->dest_mail != NULL &&
	    smime_worth_recording(&v)) T_BEGIN {
		smime_write_record(ctx->dest_mail, &v, v.status);
		smime_write_signer(ctx->dest_mail, v.signer);
	} T_END;
	return ret;
}

/* the capture's "hash method": its loop feeds the verifier (init and
   result are never called by an ostream-hash) */
static void smime_feed_init(void *context ATTR_UNUSED)
{
}

static void smime_feed_loop(void *context, const void *data, size_t size)
{
	struct smime_feed *f = context;

	if (f->vs == NULL || f->failed)
		return;
	if (sg_verify_update(f->vs, data, size, &f->err) < 0)
		f->failed = TRUE;
}

static void smime_feed_result(void *context ATTR_UNUSED,
			      unsigned char *digest_r ATTR_UNUSED)
{
}

static const struct hash_method smime_feed_method = {
	.name = "smime-feed",
	.block_size = 1,
	.context_size = sizeof(struct smime_feed),
	.digest_size = 0,
	.init = smime_feed_init,
	.loop = smime_feed_loop,
	.result = smime_feed_result,
};

static void smime_capture_free(struct smime_mailbox *sbox)
{
	if (sbox->capture != NULL)
		o_stream_destroy(&sbox->capture);
	sg_verify_free(&sbox->capture_feed.vs);
	sbox->capture_feed.failed = FALSE;
	smime_ctx_unref(&sbox->capture_ref);
	sbox->capture_t = NULL;
}

static int smime_save_begin(struct mail_save_context *ctx,
			    struct istream *input)
{
	struct mailbox *box = ctx->transaction->box;
	struct smime_mailbox *sbox = SMIME_CONTEXT(box);
	const struct smime_settings *set;
	struct ostream *null;
	struct istream *cap;
	bool sync = (ctx->transaction->flags & MAILBOX_TRANSACTION_FLAG_SYNC) != 0;
	int ret;

	/* copies were handled in smime_copy() */
	set = smime_active(ctx->transaction);
	if (set == NULL || ctx->copying_or_moving)
		return sbox->module_ctx.super.save_begin(ctx, input);
	if (set->protect != SMIME_PROTECT_NO || sync) {
		bool had;

		/* a synced mail's keywords are another server's verdict:
		   dropped silently, whatever the protection mode */
		T_BEGIN {
			unsigned int kw = 0, i;
			uint32_t uid = 0;

			if (!sync && ctx->data.keywords != NULL) {
				for (i = 0; i < ctx->data.keywords->count; i++)
					kw |= smime_kw_bit(box, ctx->data.keywords->idx[i]);
			}
			had = smime_strip_keywords(box, &ctx->data.keywords);
			if (had && !sync)
				smime_refused_log(box,
					set->protect == SMIME_PROTECT_REJECT ?
					"rejected" : "stripped", 1, &uid, kw, 0);
		} T_END;
		if (had && set->protect == SMIME_PROTECT_REJECT && !sync) {
			mail_storage_set_error(box->storage, MAIL_ERROR_PERM,
				"The $SMIME keywords are set by the server; "
				"clients cannot set them");
			return -1;
		}
	}
	smime_capture_free(sbox);
	/* the bytes go to the core's stream as the backend reads them; it
	   keeps them bounded in memory (a 300 MB APPEND must not grow the
	   imap process; past max_message_size it keeps the root header
	   only).  The context is held: the client sends the mail over many
	   ioloop runs, and a reload meanwhile must not free it. */
	if ((sbox->capture_ref = smime_box_ctx_ref(box)) != NULL) {
		sbox->capture_feed.vs =
			smime_stream_new(box, smime_ctx_ref_ctx(sbox->capture_ref),
					 "append");
	}
	if (sbox->capture_feed.vs == NULL) {
		/* logged: stored as it came, without keywords */
		smime_capture_free(sbox);
		return sbox->module_ctx.super.save_begin(ctx, input);
	}
	null = o_stream_create_null();
	sbox->capture = o_stream_create_hash(null, &smime_feed_method,
					     &sbox->capture_feed);
	o_stream_unref(&null);
	sbox->capture_t = ctx->transaction;
	o_stream_ref(sbox->capture);
	cap = i_stream_create_rawlog_from_stream(input, sbox->capture, 0);
	ret = sbox->module_ctx.super.save_begin(ctx, cap);
	i_stream_unref(&cap);
	if (ret < 0)
		smime_capture_free(sbox);
	return ret;
}

static int smime_save_finish(struct mail_save_context *ctx)
{
	struct mailbox *box = ctx->transaction->box;
	struct smime_mailbox *sbox = SMIME_CONTEXT(box);
	struct smime_verdict v;
	bool have = FALSE;
	int ret;

	if (sbox->capture != NULL && sbox->capture_t == ctx->transaction &&
	    !ctx->copying_or_moving) {
		struct smime_feed *f = &sbox->capture_feed;
		bool complete = sbox->capture->stream_errno == 0 && !f->failed;

		if (f->failed) {
			e_error(box->storage->user->event,
				"smime: append: keeping the mail to verify it "
				"failed: %s (stored without S/MIME keywords)",
				f->err.msg);
		} else if (!complete) {
			e_error(box->storage->user->event,
				"smime: append: keeping a copy of the mail failed: %s "
				"(stored without S/MIME keywords)",
				o_stream_get_error(sbox->capture));
		}
		T_BEGIN {
			if (complete &&
			    smime_verify_data(box, smime_ctx_ref_ctx(sbox->capture_ref),
					      "append", f->vs, NULL, 0, 0, &v) == 0) {
				/* before the backend's save_finish (maildir) */
				struct mail_keywords *kw =
					smime_keywords_create(box, v.keywords);

				if (kw->count > 0) {
					smime_internal_update = TRUE;
					mail_update_keywords(ctx->dest_mail,
							     MODIFY_ADD, kw);
					smime_internal_update = FALSE;
				}
				mailbox_keywords_unref(&kw);
				if (smime_worth_recording(&v))
					smime_write_record(ctx->dest_mail, &v,
							   v.status);
				have = TRUE;
			}
		} T_END;
		smime_capture_free(sbox);
	}
	ret = sbox->module_ctx.super.save_finish(ctx);
	if (ret == 0 && have) T_BEGIN {
		smime_write_signer(ctx->dest_mail, v.signer);
	} T_END;
	return ret;
}

static void smime_save_cancel(struct mail_save_context *ctx)
{
	struct smime_mailbox *sbox = SMIME_CONTEXT(ctx->transaction->box);

	if (sbox->capture_t == ctx->transaction)
		smime_capture_free(sbox);
	sbox->module_ctx.super.save_cancel(ctx);
}

/* ---- keyword protection ---- */

static bool idx_in(const unsigned int *arr, unsigned int count, unsigned int idx)
{
	unsigned int i;

	for (i = 0; i < count; i++) {
		if (arr[i] == idx)
			return TRUE;
	}
	return FALSE;
}

static const char *const *smime_mail_get_keywords(struct mail *_mail)
{
	struct mail_private *mail = (struct mail_private *)_mail;
	struct smime_mail *smail = SMIME_MAIL_CONTEXT(mail);

	smime_mail_check(_mail);
	return smail->module_ctx.super.get_keywords(_mail);
}

static const ARRAY_TYPE(keyword_indexes) *
smime_mail_get_keyword_indexes(struct mail *_mail)
{
	struct mail_private *mail = (struct mail_private *)_mail;
	struct smime_mail *smail = SMIME_MAIL_CONTEXT(mail);

	smime_mail_check(_mail);
	return smail->module_ctx.super.get_keyword_indexes(_mail);
}

/* smime_refused_flush - log what was refused in t and forget it */
static void smime_refused_flush(struct smime_mailbox *sbox,
				struct mailbox *box,
				struct mailbox_transaction_context *t,
				bool rejected)
{
	if (sbox->refused_t == NULL || (t != NULL && sbox->refused_t != t))
		return;
	T_BEGIN {
		smime_refused_log(box, rejected ? "rejected" : "stripped",
				  sbox->refused_count, sbox->refused_uids,
				  sbox->refused_kw, sbox->refused_ops);
	} T_END;
	sbox->refused_t = NULL;
	sbox->refused_count = sbox->refused_kw = sbox->refused_ops = 0;
}

/* smime_refused_note - a client tried to change protected keywords
   (kw) of a mail in t */
static void smime_refused_note(struct smime_mailbox *sbox, struct mail *mail,
			       unsigned int kw, enum modify_type type)
{
	if (sbox->refused_t != NULL && sbox->refused_t != mail->transaction)
		smime_refused_flush(sbox, mail->box, NULL,
				    sbox->rejected_t == sbox->refused_t);
	sbox->refused_t = mail->transaction;
	if (sbox->refused_count < SMIME_REFUSED_UIDS)
		sbox->refused_uids[sbox->refused_count] = mail->uid;
	sbox->refused_count++;
	sbox->refused_kw |= kw;
	sbox->refused_ops |= 1u << type;
}

static void smime_mail_update_keywords(struct mail *_mail,
				       enum modify_type modify_type,
				       struct mail_keywords *keywords)
{
	struct mail_private *mail = (struct mail_private *)_mail;
	struct smime_mail *smail = SMIME_MAIL_CONTEXT(mail);
	struct mailbox *box = _mail->box;
	const struct smime_settings *set = smime_box_settings(box);
	struct smime_mailbox *sbox = SMIME_CONTEXT(box);
	const ARRAY_TYPE(keyword_indexes) *cur_arr;
	ARRAY_TYPE(keyword_indexes) want;
	const unsigned int *cur;
	unsigned int n_cur, i, kw_bits = 0;
	bool violation = FALSE, reject;

	/* the mailbox's settings decide, not the accessing user's: a user
	   with smime_protect_keywords = no and write access to someone
	   else's mailbox gets that mailbox's protection.  A sync (dsync)
	   cannot change the protected keywords either; it is never
	   rejected, its changes to them are dropped. */
	if (smime_internal_update || set == NULL || sbox == NULL ||
	    set->protect == SMIME_PROTECT_NO) {
		smail->module_ctx.super.update_keywords(_mail, modify_type,
							keywords);
		return;
	}
	reject = set->protect == SMIME_PROTECT_REJECT &&
		(_mail->transaction->flags & MAILBOX_TRANSACTION_FLAG_SYNC) == 0;
	T_BEGIN {
		cur_arr = mail_get_keyword_indexes(_mail);
		cur = array_get(cur_arr, &n_cur);
		t_array_init(&want, keywords->count + SG_KW_COUNT);
		for (i = 0; i < keywords->count; i++) {
			unsigned int idx = keywords->idx[i];
			bool has = idx_in(cur, n_cur, idx);

			if (!smime_is_protected_idx(box, idx)) {
				array_push_back(&want, &idx);
				continue;
			}
			switch (modify_type) {
			case MODIFY_ADD:
				if (!has) {
					violation = TRUE;
					kw_bits |= smime_kw_bit(box, idx);
				}
				break;
			case MODIFY_REMOVE:
				if (has) {
					violation = TRUE;
					kw_bits |= smime_kw_bit(box, idx);
				}
				break;
			case MODIFY_REPLACE:
				if (has)
					array_push_back(&want, &idx);
				else {
					violation = TRUE;
					kw_bits |= smime_kw_bit(box, idx);
				}
				break;
			}
		}
		if (modify_type == MODIFY_REPLACE) {
			/* FLAGS (...) must not wipe the server's keywords */
			for (i = 0; i < n_cur; i++) {
				if (smime_is_protected_idx(box, cur[i]) &&
				    !idx_in(keywords->idx, keywords->count, cur[i])) {
					violation = TRUE;
					kw_bits |= smime_kw_bit(box, cur[i]);
					array_push_back(&want, &cur[i]);
				}
			}
		}
		if (violation && reject) {
			sbox->rejected_t = _mail->transaction;
		} else if (array_count(&want) > 0 || modify_type == MODIFY_REPLACE) {
			struct mail_keywords *kw =
				mailbox_keywords_create_from_indexes(box, &want);

			smail->module_ctx.super.update_keywords(_mail,
								modify_type, kw);
			mailbox_keywords_unref(&kw);
		}
		if (violation && (_mail->transaction->flags &
				  MAILBOX_TRANSACTION_FLAG_SYNC) == 0)
			smime_refused_note(sbox, _mail, kw_bits, modify_type);
		if (violation) {
			e_debug(box->event, "smime: %s change of a $SMIME "
				"keyword %s (uid=%u)",
				(_mail->transaction->flags &
				 MAILBOX_TRANSACTION_FLAG_SYNC) != 0 ?
				"sync" : "client",
				reject ? "rejected" : "ignored", _mail->uid);
		}
	} T_END;
}

static int
smime_transaction_commit(struct mailbox_transaction_context *t,
			 struct mail_transaction_commit_changes *changes_r)
{
	struct mailbox *box = t->box;
	struct smime_mailbox *sbox = SMIME_CONTEXT(box);

	if (sbox->rejected_t == t) {
		smime_refused_flush(sbox, box, t, TRUE);
		sbox->rejected_t = NULL;
		sbox->module_ctx.super.transaction_rollback(t);
		mail_storage_set_error(box->storage, MAIL_ERROR_PERM,
			"The $SMIME keywords are set by the server; "
			"clients cannot change them");
		return -1;
	}
	smime_refused_flush(sbox, box, t, FALSE);
	if (sbox->capture_t == t)
		smime_capture_free(sbox);
	return sbox->module_ctx.super.transaction_commit(t, changes_r);
}

static void smime_transaction_rollback(struct mailbox_transaction_context *t)
{
	struct smime_mailbox *sbox = SMIME_CONTEXT(t->box);

	smime_refused_flush(sbox, t->box, t, sbox->rejected_t == t);
	if (sbox->rejected_t == t)
		sbox->rejected_t = NULL;
	if (sbox->capture_t == t)
		smime_capture_free(sbox);
	sbox->module_ctx.super.transaction_rollback(t);
}

/* smime_get_status - with the keywords protected, PERMANENTFLAGS does
   not list the keywords (IMAP cannot mark single keywords as not
   permanent, so none are listed; "\*" still lets clients create and
   set their own): a client is not invited to set $SMIME* */
static int smime_get_status(struct mailbox *box, enum mailbox_status_items items,
			    struct mailbox_status *status_r)
{
	struct smime_mailbox *sbox = SMIME_CONTEXT(box);
	const struct smime_settings *set = smime_box_settings(box);

	if (sbox->module_ctx.super.get_status(box, items, status_r) < 0)
		return -1;
	if ((items & STATUS_PERMANENT_FLAGS) != 0 && set != NULL &&
	    set->protect != SMIME_PROTECT_NO)
		status_r->permanent_keywords = FALSE;
	return 0;
}

static void smime_mailbox_free(struct mailbox *box)
{
	struct smime_mailbox *sbox = SMIME_CONTEXT(box);

	smime_capture_free(sbox);
	if (array_is_created(&sbox->memo))
		array_free(&sbox->memo);
	sbox->module_ctx.super.free(box);
}

/* ---- hooks ---- */

static void smime_mailbox_allocated(struct mailbox *box)
{
	struct mailbox_vfuncs *v = box->vlast;
	struct smime_mailbox *sbox;

	if (SMIME_USER_CONTEXT(box->storage->user) == NULL)
		return;
	sbox = p_new(box->pool, struct smime_mailbox, 1);
	sbox->module_ctx.super = *v;
	box->vlast = &sbox->module_ctx.super;
	v->copy = smime_copy;
	v->save_begin = smime_save_begin;
	v->save_finish = smime_save_finish;
	v->save_cancel = smime_save_cancel;
	v->transaction_commit = smime_transaction_commit;
	v->transaction_rollback = smime_transaction_rollback;
	v->get_status = smime_get_status;
	v->sync_deinit = smime_sync_deinit;
	v->free = smime_mailbox_free;
	/* where the record can be kept and enforced (not raw, imapc,
	   pop3c, virtual, shared roots) */
	sbox->enforce = strcmp(box->storage->name, "maildir") == 0 ||
		strcmp(box->storage->name, "sdbox") == 0 ||
		strcmp(box->storage->name, "mdbox") == 0 ||
		strcmp(box->storage->name, "mbox") == 0;
	MODULE_CONTEXT_SET(box, smime_storage_module, sbox);
}

static void smime_mail_allocated(struct mail *_mail)
{
	struct mail_private *mail = (struct mail_private *)_mail;
	struct mail_vfuncs *v = mail->vlast;
	struct smime_mail *smail;

	if (SMIME_USER_CONTEXT(_mail->box->storage->user) == NULL)
		return;
	smail = p_new(mail->pool, struct smime_mail, 1);
	smail->module_ctx.super = *v;
	mail->vlast = &smail->module_ctx.super;
	v->update_keywords = smime_mail_update_keywords;
	v->get_keywords = smime_mail_get_keywords;
	v->get_keyword_indexes = smime_mail_get_keyword_indexes;
	MODULE_CONTEXT_SET(mail, smime_mail_module, smail);
}

static void smime_mail_user_created(struct mail_user *user)
{
	struct mail_user_vfuncs *v = user->vlast;
	struct smime_user *suser;

	suser = p_new(user->pool, struct smime_user, 1);
	suser->module_ctx.super = *v;
	user->vlast = &suser->module_ctx.super;
	smime_settings_global(user, &suser->global);
	suser->set_strict = suser->global;
	if (suser->set_strict.protect == SMIME_PROTECT_NO)
		suser->set_strict.protect = SMIME_PROTECT_YES;
	if (user->autocreated && user->creator != NULL) {
		/* the owner of a shared namespace: created with the
		   settings of the user who accesses it */
		smime_settings_owner(user, &suser->global, &suser->set);
	} else {
		smime_settings_user(user, &suser->set);
	}
	MODULE_CONTEXT_SET(user, smime_user_module, suser);
}

bool smime_user_enabled(struct mail_user *user)
{
	return SMIME_USER_CONTEXT(user) != NULL;
}

static struct mail_storage_hooks smime_mail_storage_hooks = {
	.mail_user_created = smime_mail_user_created,
	.mailbox_allocated = smime_mailbox_allocated,
	.mail_allocated = smime_mail_allocated,
};

void smime_storage_hooks_init(struct module *module)
{
	mail_storage_hooks_add(module, &smime_mail_storage_hooks);
}

void smime_storage_hooks_deinit(void)
{
	mail_storage_hooks_remove(&smime_mail_storage_hooks);
}
