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
 * The verdict detail lives in an index extension record ("smime":
 * status, status at delivery, verified-at, reasons; updatable by
 * reverify) plus the signer address in a mail cache field.  The keywords
 * are the authority; the detail is recomputed when it is missing.
 *
 * Clients cannot set or clear the $SMIME* keywords (smime_protect_keywords
 * = yes: silently ignored; reject: NO [NOPERM]; no: allowed).  dsync
 * (MAILBOX_TRANSACTION_FLAG_SYNC) passes through untouched.
 */
#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "str.h"
#include "str-sanitize.h"
#include "istream.h"
#include "istream-rawlog.h"
#include "iostream-temp.h"
#include "ostream.h"
#include "time-util.h"
#include "mail-user.h"
#include "mail-index.h"
#include "mail-cache.h"
#include "mail-storage-private.h"
#include "mail-storage-hooks.h"
#include "index-mail.h"
#include "smime-plugin.h"

#include <time.h>

/* configure: $sysconfdir/smimeguard/smimeguard.conf (Makefile.am) */
#define SMIME_DEFAULT_CONFIG SG_CONFIG_FILE
#define SMIME_EXT_NAME "smime"
#define SMIME_SIGNER_FIELD "smime.signer"
/* read at most this much of a mail over the size limit (its header) */
#define SMIME_PREFIX_SIZE (256 * 1024)
#define SMIME_CAPTURE_MEM (1024 * 1024)

#define SMIME_USER_CONTEXT(obj) MODULE_CONTEXT(obj, smime_user_module)
#define SMIME_CONTEXT(obj) MODULE_CONTEXT(obj, smime_storage_module)
#define SMIME_MAIL_CONTEXT(obj) MODULE_CONTEXT(obj, smime_mail_module)

struct smime_user {
	union mail_user_module_context module_ctx;
	const char *config_path;
	enum smime_protect protect;
};

struct smime_mailbox {
	union mailbox_module_context module_ctx;
	/* APPEND: the bytes of the mail being saved in capture_t, in
	   memory up to SMIME_CAPTURE_MEM, then in an unlinked temp file */
	struct ostream *capture;
	struct mailbox_transaction_context *capture_t;
	/* reject mode: a client tried to change a protected keyword */
	struct mailbox_transaction_context *rejected_t;
};

/* the index extension record, one per mail */
struct smime_record {
	uint32_t verified_at;
	uint32_t reasons;
	uint8_t version;		/* SMIME_RECORD_VERSION */
	uint8_t status;			/* enum sg_status + 1; 0: none recorded */
	uint8_t status_at_delivery;	/* likewise */
	uint8_t flags;			/* SMIME_RECORD_HAS_SIGNER */
};
#define SMIME_RECORD_HAS_SIGNER 0x01	/* the signer is in the cache field */
#define SMIME_RECORD_VERSION 1

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

/* smime_set_mail_keywords - make the protected keywords of an existing
   (or being-saved) mail equal to bits */
static void smime_set_mail_keywords(struct mail *mail, unsigned int bits)
{
	const ARRAY_TYPE(keyword_indexes) *cur = mail_get_keyword_indexes(mail);
	ARRAY_TYPE(keyword_indexes) stale;
	struct mail_keywords *kw;
	unsigned int want_idx[SG_KW_COUNT], n_want = 0, i;
	const unsigned int *idx;

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
	smime_internal_update = FALSE;
	mailbox_keywords_unref(&kw);
}

/* ---- verification ---- */

static const char *reasons_str(uint32_t reasons)
{
	string_t *str = t_str_new(64);
	unsigned int i;

	for (i = 0; i < SG_REASON_COUNT; i++) {
		if ((reasons & SG_REASON_BIT(i)) != 0) {
			if (str_len(str) > 0)
				str_append_c(str, ',');
			str_append(str, sg_reason_name((enum sg_reason)i));
		}
	}
	return str_len(str) == 0 ? "-" : str_c(str);
}

struct sg_ctx *smime_user_ctx(struct mail_user *user, const char **error_r)
{
	struct smime_user *suser = SMIME_USER_CONTEXT(user);

	if (suser == NULL) {
		*error_r = "smime plugin not enabled for this user";
		return NULL;
	}
	return smime_ctx_get(suser->config_path, error_r);
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

/* smime_verify_data - run the core over a message (or the prefix of an
   oversized one); logs and emits the smime_verify_finished event */
static int smime_verify_data(struct mail_user *user, const char *what,
			     const unsigned char *data, size_t size,
			     uoff_t total_size, struct smime_verdict *v_r)
{
	struct smime_user *suser = SMIME_USER_CONTEXT(user);
	struct sg_result *res = NULL;
	struct sg_error err;
	struct sg_ctx *ctx;
	struct timespec start, end;
	const char *error;
	long long usecs;
	int ret;

	i_zero(v_r);
	ctx = smime_user_ctx(user, &error);
	if (error != NULL) {
		e_error(user->event, "smime: cannot load the trust store from "
			"%s: %s%s", suser->config_path, error,
			ctx != NULL ? " (still using the previous one)" :
			" (mail is stored without S/MIME keywords)");
	}
	if (ctx == NULL)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &start);
	if (total_size > size)
		ret = sg_verify_message_prefix(ctx, data, size, total_size, 0,
					       &res, &err);
	else
		ret = sg_verify_message(ctx, data, size, 0, &res, &err);
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
			add_str("reasons", reasons_str(v_r->reasons))->
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
			       reasons_str(v_r->reasons),
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

/* smime_verify_stream - read a message (at most max_message_size + 1
   bytes, or a prefix when it is known to be larger) and verify it */
static int smime_verify_stream(struct mail_user *user, struct istream *input,
			       uoff_t size, const char *what,
			       struct smime_verdict *v_r)
{
	struct sg_ctx *ctx;
	const unsigned char *data;
	const char *error;
	buffer_t *buf;
	uoff_t total;
	size_t n, limit, max;
	int ret;

	if ((ctx = smime_user_ctx(user, &error)) == NULL) {
		e_error(user->event, "smime: cannot load the trust store: %s "
			"(mail is stored without S/MIME keywords)", error);
		return -1;
	}
	max = sg_ctx_max_message_size(ctx);
	limit = size != (uoff_t)-1 && size > max ? SMIME_PREFIX_SIZE : max + 1;
	buf = buffer_create_dynamic(default_pool,
				    I_MIN(limit, size != (uoff_t)-1 ? size + 1 : 65536));
	i_stream_seek(input, 0);
	while (buf->used < limit &&
	       (ret = i_stream_read_more(input, &data, &n)) > 0) {
		size_t take = I_MIN(n, limit - buf->used);

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
	total = size != (uoff_t)-1 ? size : buf->used;
	if (buf->used > max && total < buf->used)
		total = buf->used;
	ret = smime_verify_data(user, what, buf->data,
				I_MIN(buf->used, (size_t)total), total, v_r);
	buffer_free(&buf);
	return ret;
}

/* smime_verify_mail - read a mail (bounded) and verify it */
static int smime_verify_mail(struct mail_user *user, struct mail *mail,
			     const char *what, struct smime_verdict *v_r)
{
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
	return smime_verify_stream(user, input, size, what, v_r);
}

/* ---- the detail: index extension record + signer cache field ---- */

static uint32_t smime_ext_id(struct mailbox *box)
{
	return mail_index_ext_register(box->index, SMIME_EXT_NAME, 0,
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

static void smime_write_record(struct mail *mail, const struct smime_verdict *v,
			       enum sg_status at_delivery)
{
	struct smime_record rec;

	/* mail without S/MIME needs no record (X-SMIME is NIL for it, and a
	   missing record is derived on demand): one index update less per
	   unsigned delivery */
	if (v->status == SG_STATUS_NONE && v->reasons == 0 &&
	    at_delivery == SG_STATUS_NONE)
		return;
	i_zero(&rec);
	rec.version = SMIME_RECORD_VERSION;
	rec.verified_at = (uint32_t)time(NULL);
	rec.reasons = v->reasons;
	rec.status = (uint8_t)(v->status + 1);
	rec.status_at_delivery = (uint8_t)(at_delivery + 1);
	if (v->signer[0] != '\0')
		rec.flags |= SMIME_RECORD_HAS_SIGNER;
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

/* smime_read_record - 1 found, 0 none */
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
	    rec_r->status_at_delivery > SG_STATUS_COUNT)
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

int smime_mail_reverify(struct mail *mail, struct smime_detail *d,
			const char **error_r)
{
	struct mail_user *user = mail->box->storage->user;
	struct smime_verdict v;
	struct smime_record old;
	enum sg_status at_delivery;

	if (SMIME_USER_CONTEXT(user) == NULL) {
		*error_r = "the smime plugin is not in mail_plugins";
		return -1;
	}
	if (smime_verify_mail(user, mail, t_strdup_printf("uid=%u", mail->uid),
			      &v) < 0) {
		*error_r = "verification failed (see the log)";
		return -1;
	}
	at_delivery = smime_read_record(mail, &old) > 0 ?
		(enum sg_status)(old.status_at_delivery - 1) : v.status;
	smime_set_mail_keywords(mail, v.keywords);
	smime_write_record(mail, &v, at_delivery);
	if (smime_read_signer(mail) == NULL)
		smime_write_signer(mail, v.signer);
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

	if (smime_read_record(mail, &rec) == 0) {
		/* stored before the plugin was enabled, or lost: derive it */
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

		if (smime_verify_mail(mail->box->storage->user, mail,
				      t_strdup_printf("uid=%u", mail->uid), &v) == 0) {
			smime_write_signer(mail, v.signer);
			signer = t_strdup(v.signer);
		}
	}
	d->signer = signer != NULL ? signer : "";
	return 0;
}

/* ---- save and copy ---- */

static bool smime_active(struct mailbox_transaction_context *t,
			 struct smime_user **suser_r)
{
	*suser_r = SMIME_USER_CONTEXT(t->box->storage->user);
	return *suser_r != NULL &&
	       (t->flags & MAILBOX_TRANSACTION_FLAG_SYNC) == 0;
}

static int smime_copy(struct mail_save_context *ctx, struct mail *mail)
{
	struct mailbox *box = ctx->transaction->box;
	struct smime_mailbox *sbox = SMIME_CONTEXT(box);
	struct smime_user *suser;
	struct smime_verdict v;
	bool have = FALSE;
	int ret;

	if (!smime_active(ctx->transaction, &suser))
		return sbox->module_ctx.super.copy(ctx, mail);
	T_BEGIN {
		const char *what = ctx->saving ? "delivery" :
			t_strdup_printf("%s to %s", ctx->moving ? "move" : "copy",
					mailbox_get_vname(box));

		/* never trust keywords from the source or from Sieve */
		(void)smime_strip_keywords(box, &ctx->data.keywords);
		if (smime_verify_mail(box->storage->user, mail, what, &v) == 0) {
			smime_merge_keywords(ctx, v.keywords);
			have = TRUE;
		}
	} T_END;
	ret = sbox->module_ctx.super.copy(ctx, mail);
	if (ret == 0 && have && ctx->dest_mail != NULL) T_BEGIN {
		smime_write_record(ctx->dest_mail, &v, v.status);
		smime_write_signer(ctx->dest_mail, v.signer);
	} T_END;
	return ret;
}

static void smime_capture_free(struct smime_mailbox *sbox)
{
	if (sbox->capture != NULL)
		o_stream_destroy(&sbox->capture);
	sbox->capture_t = NULL;
}

static int smime_save_begin(struct mail_save_context *ctx,
			    struct istream *input)
{
	struct mailbox *box = ctx->transaction->box;
	struct smime_mailbox *sbox = SMIME_CONTEXT(box);
	struct smime_user *suser;
	struct istream *cap;
	int ret;

	/* copies were handled in smime_copy() */
	if (!smime_active(ctx->transaction, &suser) || ctx->copying_or_moving)
		return sbox->module_ctx.super.save_begin(ctx, input);
	if (suser->protect != SMIME_PROTECT_NO) {
		bool had;

		T_BEGIN {
			had = smime_strip_keywords(box, &ctx->data.keywords);
		} T_END;
		if (had && suser->protect == SMIME_PROTECT_REJECT) {
			mail_storage_set_error(box->storage, MAIL_ERROR_PERM,
				"The $SMIME keywords are set by the server; "
				"clients cannot set them");
			return -1;
		}
	}
	smime_capture_free(sbox);
	/* a copy bounded in memory: a 300 MB APPEND must not grow the imap
	   process (only max_message_size + 1 bytes are read back) */
	{
		string_t *prefix = t_str_new(128);

		mail_user_set_get_temp_prefix(prefix, box->storage->user->set);
		sbox->capture = iostream_temp_create_sized(str_c(prefix), 0,
							   "smime-append",
							   SMIME_CAPTURE_MEM);
	}
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
		struct istream *copy;
		bool complete = sbox->capture->stream_errno == 0;

		if (!complete)
			e_error(box->storage->user->event,
				"smime: append: keeping a copy of the mail failed: %s "
				"(stored without S/MIME keywords)",
				o_stream_get_error(sbox->capture));
		copy = iostream_temp_finish(&sbox->capture, IO_BLOCK_SIZE);
		T_BEGIN {
			if (complete && copy->stream_errno == 0 &&
			    smime_verify_stream(box->storage->user, copy,
						(uoff_t)-1, "append", &v) == 0) {
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
				smime_write_record(ctx->dest_mail, &v, v.status);
				have = TRUE;
			}
		} T_END;
		i_stream_unref(&copy);
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

static void smime_mail_update_keywords(struct mail *_mail,
				       enum modify_type modify_type,
				       struct mail_keywords *keywords)
{
	struct mail_private *mail = (struct mail_private *)_mail;
	union mail_module_context *smail = SMIME_MAIL_CONTEXT(mail);
	struct mailbox *box = _mail->box;
	struct smime_user *suser = SMIME_USER_CONTEXT(box->storage->user);
	struct smime_mailbox *sbox = SMIME_CONTEXT(box);
	const ARRAY_TYPE(keyword_indexes) *cur_arr;
	ARRAY_TYPE(keyword_indexes) want;
	const unsigned int *cur;
	unsigned int n_cur, i;
	bool violation = FALSE;

	if (smime_internal_update || suser == NULL || sbox == NULL ||
	    suser->protect == SMIME_PROTECT_NO ||
	    (_mail->transaction->flags & MAILBOX_TRANSACTION_FLAG_SYNC) != 0) {
		smail->super.update_keywords(_mail, modify_type, keywords);
		return;
	}
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
				violation = violation || !has;
				break;
			case MODIFY_REMOVE:
				violation = violation || has;
				break;
			case MODIFY_REPLACE:
				if (has)
					array_push_back(&want, &idx);
				else
					violation = TRUE;
				break;
			}
		}
		if (modify_type == MODIFY_REPLACE) {
			/* FLAGS (...) must not wipe the server's keywords */
			for (i = 0; i < n_cur; i++) {
				if (smime_is_protected_idx(box, cur[i]) &&
				    !idx_in(keywords->idx, keywords->count, cur[i])) {
					violation = TRUE;
					array_push_back(&want, &cur[i]);
				}
			}
		}
		if (violation && suser->protect == SMIME_PROTECT_REJECT) {
			sbox->rejected_t = _mail->transaction;
		} else if (array_count(&want) > 0 || modify_type == MODIFY_REPLACE) {
			struct mail_keywords *kw =
				mailbox_keywords_create_from_indexes(box, &want);

			smail->super.update_keywords(_mail, modify_type, kw);
			mailbox_keywords_unref(&kw);
		}
		if (violation) {
			e_debug(box->event, "smime: client change of a $SMIME "
				"keyword %s (uid=%u)",
				suser->protect == SMIME_PROTECT_REJECT ?
				"rejected" : "ignored", _mail->uid);
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
		sbox->rejected_t = NULL;
		sbox->module_ctx.super.transaction_rollback(t);
		mail_storage_set_error(box->storage, MAIL_ERROR_PERM,
			"The $SMIME keywords are set by the server; "
			"clients cannot change them");
		return -1;
	}
	if (sbox->capture_t == t)
		smime_capture_free(sbox);
	return sbox->module_ctx.super.transaction_commit(t, changes_r);
}

static void smime_transaction_rollback(struct mailbox_transaction_context *t)
{
	struct smime_mailbox *sbox = SMIME_CONTEXT(t->box);

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
	struct smime_user *suser = SMIME_USER_CONTEXT(box->storage->user);

	if (sbox->module_ctx.super.get_status(box, items, status_r) < 0)
		return -1;
	if ((items & STATUS_PERMANENT_FLAGS) != 0 && suser != NULL &&
	    suser->protect != SMIME_PROTECT_NO)
		status_r->permanent_keywords = FALSE;
	return 0;
}

static void smime_mailbox_free(struct mailbox *box)
{
	struct smime_mailbox *sbox = SMIME_CONTEXT(box);

	smime_capture_free(sbox);
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
	v->free = smime_mailbox_free;
	MODULE_CONTEXT_SET(box, smime_storage_module, sbox);
}

static void smime_mail_allocated(struct mail *_mail)
{
	struct mail_private *mail = (struct mail_private *)_mail;
	struct mail_vfuncs *v = mail->vlast;
	union mail_module_context *smail;

	if (SMIME_USER_CONTEXT(_mail->box->storage->user) == NULL)
		return;
	smail = p_new(mail->pool, union mail_module_context, 1);
	smail->super = *v;
	mail->vlast = &smail->super;
	v->update_keywords = smime_mail_update_keywords;
	MODULE_CONTEXT_SET_SELF(mail, smime_mail_module, smail);
}

static void smime_mail_user_created(struct mail_user *user)
{
	struct mail_user_vfuncs *v = user->vlast;
	struct smime_user *suser;
	const char *value;

	suser = p_new(user->pool, struct smime_user, 1);
	suser->module_ctx.super = *v;
	user->vlast = &suser->module_ctx.super;
	value = mail_user_plugin_getenv(user, "smime_config");
	suser->config_path = p_strdup(user->pool, value != NULL && *value != '\0' ?
				      value : SMIME_DEFAULT_CONFIG);
	value = mail_user_plugin_getenv(user, "smime_protect_keywords");
	if (value == NULL || *value == '\0' || strcmp(value, "yes") == 0)
		suser->protect = SMIME_PROTECT_YES;
	else if (strcmp(value, "reject") == 0)
		suser->protect = SMIME_PROTECT_REJECT;
	else if (strcmp(value, "no") == 0)
		suser->protect = SMIME_PROTECT_NO;
	else {
		e_error(user->event, "smime: smime_protect_keywords: "
			"unknown value '%s' (use yes, reject or no); using yes",
			str_sanitize(value, 40));
		suser->protect = SMIME_PROTECT_YES;
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
