/* result.c - the verdict object and its accessors */
#include "result-private.h"
#include "sg-base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* strings live in a chain of blocks freed with the result */
struct sg_res_block {
	struct sg_res_block *next;
	size_t used, size;
	char data[];
};

#define BLOCK_SIZE 4096

struct sg_result *sg_res_new(void)
{
	struct sg_result *res = calloc(1, sizeof(*res));

	if (res == NULL)
		return NULL;
	res->enc.algorithm = "";
	return res;
}

const char *sg_res_strndup(struct sg_result *res, const char *s, size_t n)
{
	struct sg_res_block *b = res->strings;
	char *out;

	if (b == NULL || b->size - b->used < n + 1) {
		size_t size = n + 1 > BLOCK_SIZE ? n + 1 : BLOCK_SIZE;

		if ((b = malloc(sizeof(*b) + size)) == NULL) {
			res->nomem = true;
			return "";
		}
		b->next = res->strings;
		b->used = 0;
		b->size = size;
		res->strings = b;
	}
	out = b->data + b->used;
	memcpy(out, s, n);
	out[n] = '\0';
	b->used += n + 1;
	return out;
}

/* sg_res_strdup - text for people: sanitised (sg_text_sanitize) */
const char *sg_res_strdup(struct sg_result *res, const char *s)
{
	char *out = (char *)sg_res_strndup(res, s, strlen(s));

	if (*out != '\0')
		sg_text_sanitize(out);
	return out;
}

struct sg_signer *sg_res_add_signer(struct sg_result *res)
{
	struct sg_signer *s;
	struct sg_res_signer_priv *sp;

	if (res->n_signers == res->signers_size) {
		size_t size = res->signers_size == 0 ? 2 : res->signers_size * 2;

		s = realloc(res->signers, size * sizeof(*s));
		if (s == NULL) {
			res->nomem = true;
			return NULL;
		}
		res->signers = s;
		sp = realloc(res->signers_priv, size * sizeof(*sp));
		if (sp == NULL) {
			res->nomem = true;
			return NULL;
		}
		res->signers_priv = sp;
		res->signers_size = size;
	}
	sp = &res->signers_priv[res->n_signers];
	sp->der = NULL;
	sp->der_len = 0;
	sp->bound = false;
	s = &res->signers[res->n_signers++];
	s->email = s->subject = s->issuer = s->serial = s->digest = "";
	s->result = SG_SIGNER_UNKNOWN;
	s->reasons = 0;
	return s;
}

/* sg_res_set_signer_cert - keep the last signer's certificate as DER */
void sg_res_set_signer_cert(struct sg_result *res, X509 *cert)
{
	struct sg_res_signer_priv *sp;
	unsigned char *der = NULL;
	int len;

	sg_assert(res->n_signers > 0);
	sp = &res->signers_priv[res->n_signers - 1];
	if ((len = i2d_X509(cert, &der)) <= 0) {
		res->nomem = true;
		return;
	}
	sp->der = (const unsigned char *)sg_res_strndup(res, (const char *)der,
							 (size_t)len);
	sp->der_len = res->nomem ? 0 : (size_t)len;
	OPENSSL_free(der);
}

/* sg_res_set_signer_bound - the last signer's certificate names From */
void sg_res_set_signer_bound(struct sg_result *res)
{
	sg_assert(res->n_signers > 0);
	res->signers_priv[res->n_signers - 1].bound = true;
}

struct sg_recipient *sg_res_add_recipient(struct sg_result *res)
{
	struct sg_recipient *r;

	if (res->enc.n_recipients == res->recipients_size) {
		size_t size = res->recipients_size == 0 ? 4 :
			      res->recipients_size * 2;

		r = realloc(res->recipients, size * sizeof(*r));
		if (r == NULL) {
			res->nomem = true;
			return NULL;
		}
		res->recipients = r;
		res->recipients_size = size;
	}
	r = &res->recipients[res->enc.n_recipients++];
	r->kind = SG_RECIPIENT_OTHER;
	r->info = SG_RI_OTHER;
	r->index = 0;
	r->issuer = r->serial = r->ski = "";
	res->enc.recipients = res->recipients;
	return r;
}

/* sg_res_add_detail - one more sentence about this verdict */
void sg_res_add_detail(struct sg_result *res, const char *fmt, ...)
{
	va_list ap;
	char line[512];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sg_text_sanitize(line);
	if ((res->detail_buf.used > 0 &&
	     sg_buf_append(&res->detail_buf, " ", 1) < 0) ||
	    sg_buf_append_str(&res->detail_buf, line) < 0)
		res->nomem = true;
}

/* lead - the first sentence for a status */
static void lead(struct sg_result *res, struct sg_buf *out)
{
	const struct sg_signer *s = sg_result_bound_signer(res);
	const char *who;

	if (s == NULL && res->n_signers > 0)
		s = &res->signers[0];
	who = s == NULL ? "" : s->email[0] != '\0' ? s->email : s->subject;

	switch (res->status) {
	case SG_STATUS_NONE:
		sg_buf_append_str(out, "The message is not S/MIME signed or encrypted at its root.");
		break;
	case SG_STATUS_SIGNED:
		sg_buf_append_str(out, "The message is S/MIME signed, but the signature could not be conclusively verified.");
		break;
	case SG_STATUS_SIGNED_VERIFIED:
	case SG_STATUS_ENCRYPTED_SIGNED_VERIFIED:
		sg_buf_printf(out, "Signed by %s; the signature is valid and the certificate is trusted.", who);
		break;
	case SG_STATUS_SIGNED_FAILED:
	case SG_STATUS_ENCRYPTED_SIGNED_FAILED:
		sg_buf_append_str(out, "The S/MIME signature is NOT valid.");
		break;
	case SG_STATUS_ENCRYPTED:
		sg_buf_printf(out, "The message is encrypted (%s) to %zu recipient%s; the server cannot look inside.",
			      res->enc.algorithm[0] ? res->enc.algorithm : "unknown cipher",
			      res->enc.n_recipients,
			      res->enc.n_recipients == 1 ? "" : "s");
		break;
	default:
		break;
	}
}

void sg_res_finish(struct sg_result *res)
{
	struct sg_buf out = { 0 };
	unsigned int i;

	lead(res, &out);
	for (i = 0; i < SG_REASON_COUNT; i++) {
		if (res->reasons & SG_REASON_BIT(i)) {
			sg_buf_append(&out, " ", 1);
			sg_buf_append_str(&out, sg_reason_text((enum sg_reason)i));
		}
	}
	if (res->detail_buf.used > 0) {
		sg_buf_append(&out, " ", 1);
		sg_buf_append(&out, res->detail_buf.data, res->detail_buf.used);
	}
	if (sg_buf_terminate(&out) < 0) {
		res->nomem = true;
		sg_buf_free(&out);
		return;
	}
	res->detail = (char *)out.data;
	sg_buf_free(&res->detail_buf);
}

void sg_res_copy_encryption(struct sg_result *res, const struct sg_result *src)
{
	size_t i;

	res->has_enc = src->has_enc;
	res->enc.n_recipients = 0;
	res->enc.recipients = NULL;
	if (!src->has_enc)
		return;
	res->enc.algorithm = sg_res_strdup(res, src->enc.algorithm);
	res->enc.aead = src->enc.aead;
	res->enc.family = src->enc.family;
	res->enc.key_bits = src->enc.key_bits;
	res->enc.auth_enveloped = src->enc.auth_enveloped;
	for (i = 0; i < src->enc.n_recipients; i++) {
		const struct sg_recipient *from = &src->enc.recipients[i];
		struct sg_recipient *r = sg_res_add_recipient(res);

		if (r == NULL)
			return;
		r->kind = from->kind;
		r->info = from->info;
		r->index = from->index;
		r->issuer = sg_res_strdup(res, from->issuer);
		r->serial = sg_res_strdup(res, from->serial);
		r->ski = sg_res_strdup(res, from->ski);
	}
}

void sg_res_note(struct sg_result *res, const char *fmt, ...)
{
	struct sg_buf out = { 0 };
	va_list ap;
	char line[512];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sg_text_sanitize(line);
	if (res->detail != NULL && res->detail[0] != '\0' &&
	    (sg_buf_append_str(&out, res->detail) < 0 ||
	     sg_buf_append(&out, " ", 1) < 0))
		res->nomem = true;
	if (sg_buf_append_str(&out, line) < 0 || sg_buf_terminate(&out) < 0) {
		res->nomem = true;
		sg_buf_free(&out);
		return;
	}
	free(res->detail);
	res->detail = (char *)out.data;
}

void sg_res_set_from(struct sg_result *res, const char *from)
{
	res->from = (char *)sg_res_strdup(res, from);
}

enum sg_status sg_result_status(const struct sg_result *res)
{
	sg_assert(res != NULL);
	return res->status;
}

unsigned int sg_result_keywords(const struct sg_result *res)
{
	sg_assert(res != NULL);
	return res->keywords;
}

uint32_t sg_result_reasons(const struct sg_result *res)
{
	sg_assert(res != NULL);
	return res->reasons;
}

const char *sg_result_detail(const struct sg_result *res)
{
	sg_assert(res != NULL);
	return res->detail != NULL ? res->detail : "";
}

const char *sg_result_from(const struct sg_result *res)
{
	sg_assert(res != NULL);
	return res->from != NULL ? res->from : "";
}

size_t sg_result_signer_count(const struct sg_result *res)
{
	sg_assert(res != NULL);
	return res->n_signers;
}

const struct sg_signer *sg_result_bound_signer(const struct sg_result *res)
{
	size_t i;

	sg_assert(res != NULL);
	for (i = 0; i < res->n_signers; i++)
		if (res->signers_priv[i].bound)
			return &res->signers[i];
	return NULL;
}

const struct sg_signer *sg_result_signer(const struct sg_result *res, size_t i)
{
	sg_assert(res != NULL && i < res->n_signers);
	return &res->signers[i];
}

int sg_result_signer_der(const struct sg_result *res, size_t i,
			 const unsigned char **der_r, size_t *len_r)
{
	sg_assert(res != NULL && i < res->n_signers && der_r != NULL &&
		  len_r != NULL);
	*der_r = res->signers_priv[i].der;
	*len_r = res->signers_priv[i].der_len;
	if (*der_r == NULL || *len_r == 0) {
		*der_r = NULL;
		*len_r = 0;
		return -1;
	}
	return 0;
}

const struct sg_encryption *sg_result_encryption(const struct sg_result *res)
{
	sg_assert(res != NULL);
	return res->has_enc ? &res->enc : NULL;
}

void sg_result_free(struct sg_result **resp)
{
	struct sg_result *res = *resp;
	struct sg_res_block *b, *next;

	if (res == NULL)
		return;
	for (b = res->strings; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(res->signers);
	free(res->signers_priv);
	free(res->recipients);
	free(res->detail);
	sg_buf_free(&res->detail_buf);
	free(res);
	*resp = NULL;
}
