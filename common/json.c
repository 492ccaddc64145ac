/* json.c - the DESIGN.md section 4 JSON object of a result */
#include "json-private.h"
#include "sg-base.h"
#include "result-private.h"

#include <stdlib.h>
#include <string.h>

/* utf8_len - length of a valid UTF-8 sequence at p, 0 if invalid */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
	size_t n, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n > avail)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* json_str - a JSON string; invalid UTF-8 becomes U+FFFD */
static int json_str(struct sg_buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, n;

	if (sg_buf_append(out, "\"", 1) < 0)
		return -1;
	while (i < len) {
		unsigned char c = p[i];

		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };

			if (sg_buf_append(out, esc, 2) < 0)
				return -1;
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			if (sg_buf_printf(out, "\\u%04x", c) < 0)
				return -1;
			i++;
		} else if ((n = utf8_len(p + i, len - i)) == 0) {
			if (sg_buf_append_str(out, "\\ufffd") < 0)
				return -1;
			i++;
		} else {
			if (sg_buf_append(out, p + i, n) < 0)
				return -1;
			i += n;
		}
	}
	return sg_buf_append(out, "\"", 1);
}

/* sg_json_str - json_str for the other JSON writers of the library */
int sg_json_str(struct sg_buf *out, const char *s)
{
	return json_str(out, s);
}

/* json_reasons - an array of reason tokens */
static int json_reasons(struct sg_buf *out, uint32_t reasons)
{
	bool first = true;
	unsigned int i;

	if (sg_buf_append(out, "[", 1) < 0)
		return -1;
	for (i = 0; i < SG_REASON_COUNT; i++) {
		if (!(reasons & SG_REASON_BIT(i)))
			continue;
		if ((!first && sg_buf_append(out, ",", 1) < 0) ||
		    json_str(out, sg_reason_name((enum sg_reason)i)) < 0)
			return -1;
		first = false;
	}
	return sg_buf_append(out, "]", 1);
}

/* sg_json_reasons - json_reasons for the other JSON writers */
int sg_json_reasons(struct sg_buf *out, uint32_t reasons)
{
	return json_reasons(out, reasons);
}

static const char *signer_result_name(enum sg_signer_result r)
{
	switch (r) {
	case SG_SIGNER_VERIFIED:
		return "verified";
	case SG_SIGNER_FAILED:
		return "failed";
	default:
		return "unknown";
	}
}

char *sg_result_json(const struct sg_result *res, const char *file)
{
	struct sg_buf out = { 0 };
	const struct sg_encryption *enc;
	unsigned int i;
	size_t j;
	bool first = true;
	int e = 0;

	sg_assert(res != NULL);
	e |= sg_buf_append_str(&out, "{\"file\":");
	e |= file != NULL ? json_str(&out, file) : sg_buf_append_str(&out, "null");
	e |= sg_buf_append_str(&out, ",\"status\":");
	e |= json_str(&out, sg_status_name(res->status));
	e |= sg_buf_append_str(&out, ",\"keywords\":[");
	for (i = 0; i < SG_KW_COUNT; i++) {
		if (!(res->keywords & (1u << i)))
			continue;
		if (!first)
			e |= sg_buf_append(&out, ",", 1);
		e |= json_str(&out, sg_keyword_name(1u << i));
		first = false;
	}
	e |= sg_buf_append_str(&out, "],\"reasons\":");
	e |= json_reasons(&out, res->reasons);
	e |= sg_buf_append_str(&out, ",\"detail\":");
	e |= json_str(&out, sg_result_detail(res));
	e |= sg_buf_append_str(&out, ",\"signers\":[");
	for (j = 0; j < res->n_signers; j++) {
		const struct sg_signer *s = &res->signers[j];

		if (j > 0)
			e |= sg_buf_append(&out, ",", 1);
		e |= sg_buf_append_str(&out, "{\"email\":");
		e |= json_str(&out, s->email);
		e |= sg_buf_append_str(&out, ",\"subject\":");
		e |= json_str(&out, s->subject);
		e |= sg_buf_append_str(&out, ",\"issuer\":");
		e |= json_str(&out, s->issuer);
		e |= sg_buf_append_str(&out, ",\"serial\":");
		e |= json_str(&out, s->serial);
		e |= sg_buf_append_str(&out, ",\"result\":");
		e |= json_str(&out, signer_result_name(s->result));
		e |= sg_buf_append_str(&out, ",\"reasons\":");
		e |= json_reasons(&out, s->reasons);
		e |= sg_buf_append_str(&out, "}");
	}
	e |= sg_buf_append_str(&out, "],\"encryption\":");
	if ((enc = sg_result_encryption(res)) == NULL) {
		e |= sg_buf_append_str(&out, "null");
	} else {
		e |= sg_buf_append_str(&out, "{\"algorithm\":");
		e |= json_str(&out, enc->algorithm);
		e |= sg_buf_printf(&out, ",\"aead\":%s,\"recipients\":[",
				   enc->aead ? "true" : "false");
		for (j = 0; j < enc->n_recipients; j++) {
			const struct sg_recipient *r = &enc->recipients[j];

			if (j > 0)
				e |= sg_buf_append(&out, ",", 1);
			if (r->kind == SG_RECIPIENT_ISSUER_SERIAL) {
				e |= sg_buf_append_str(&out, "{\"issuer\":");
				e |= json_str(&out, r->issuer);
				e |= sg_buf_append_str(&out, ",\"serial\":");
				e |= json_str(&out, r->serial);
				e |= sg_buf_append_str(&out, "}");
			} else if (r->kind == SG_RECIPIENT_SKI) {
				e |= sg_buf_append_str(&out, "{\"ski\":");
				e |= json_str(&out, r->ski);
				e |= sg_buf_append_str(&out, "}");
			} else {
				e |= sg_buf_append_str(&out, "{}");
			}
		}
		e |= sg_buf_append_str(&out, "]}");
	}
	e |= sg_buf_append_str(&out, "}");
	if (e != 0) {
		sg_buf_free(&out);
		return NULL;
	}
	return (char *)out.data;
}
