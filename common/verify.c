/* verify.c - the layered walk of DESIGN.md section 3
 *
 * Only the root entity counts, or the root under one recognised outer
 * layer (an outer signature, a compression layer, an RFC 9788 wrapper).
 * S/MIME found deeper gives at most "signed" + partial, or
 * embedded-ciphertext for encrypted parts.
 */
#include "verify-private.h"
#include "sg-base.h"
#include "cms-private.h"
#include "config-private.h"
#include "ctx-private.h"
#include "mime-private.h"
#include "result-private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define R(r) SG_REASON_BIT(SG_REASON_##r)
#define GATE_MAX_NEST 64	/* nested multiparts the gate follows */

enum expect { EXPECT_ANY, EXPECT_SIGNED, EXPECT_ENVELOPED };

static bool is_pkcs7_signature(const char *type, const char *subtype)
{
	return strcmp(type, "application") == 0 &&
	       (strcmp(subtype, "pkcs7-signature") == 0 ||
		strcmp(subtype, "x-pkcs7-signature") == 0);
}

static bool is_signature_protocol(const char *protocol)
{
	return strcmp(protocol, "application/pkcs7-signature") == 0 ||
	       strcmp(protocol, "application/x-pkcs7-signature") == 0;
}

static bool ends_with_ci(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* is_pkcs7_mime - application/(x-)pkcs7-mime, or an Outlook-style
   application/octet-stream named *.p7m */
static bool is_pkcs7_mime(const struct sg_ctype *ct)
{
	if (strcmp(ct->type, "application") != 0)
		return false;
	if (strcmp(ct->subtype, "pkcs7-mime") == 0 ||
	    strcmp(ct->subtype, "x-pkcs7-mime") == 0)
		return true;
	return strcmp(ct->subtype, "octet-stream") == 0 &&
	       (ends_with_ci(ct->name, ".p7m") || ends_with_ci(ct->name, ".p7z"));
}

static enum expect expect_of(const struct sg_ctype *ct)
{
	if (strcmp(ct->smime_type, "signed-data") == 0)
		return EXPECT_SIGNED;
	if (strcmp(ct->smime_type, "enveloped-data") == 0 ||
	    strcmp(ct->smime_type, "authenveloped-data") == 0)
		return EXPECT_ENVELOPED;
	return EXPECT_ANY;
}

/* headers_over_limit - is the header block of an entity over
   max_header_size or max_header_fields; then the entity is classified by
   its Content-Type (as too_large() does) and marked too complex */
static bool headers_over_limit(struct sg_verify_state *st,
			       const struct sg_headers *h,
			       const struct sg_ctype *ct)
{
	const struct sg_limits *lim = &st->ctx->limits;

	if (h->body_offset <= lim->max_header_size &&
	    h->n_fields <= lim->max_header_fields)
		return false;
	if (is_pkcs7_mime(ct) && expect_of(ct) == EXPECT_ENVELOPED)
		;	/* a label is not encryption: the body was not checked */
	else if ((strcmp(ct->type, "multipart") == 0 &&
		  strcmp(ct->subtype, "signed") == 0 &&
		  is_signature_protocol(ct->protocol)) || is_pkcs7_mime(ct))
		st->signed_layer = true;
	if (!(st->unknown & R(TOO_COMPLEX)))
		sg_res_add_detail(st->res, "A header block of %zu bytes with %zu "
				  "fields is over the limits (max_header_size "
				  "%zu, max_header_fields %u).", h->body_offset,
				  h->n_fields, lim->max_header_size,
				  lim->max_header_fields);
	st->unknown |= R(TOO_COMPLEX);
	return true;
}


/* decode_body - the body of an entity, transfer-decoded (malloc'd) */
static unsigned char *decode_body(const struct sg_headers *h,
				  const unsigned char *p, size_t len,
				  size_t *out_len_r, bool *bad_r)
{
	const unsigned char *body = p + h->body_offset;
	size_t blen = len - h->body_offset;
	unsigned char *out;

	*bad_r = false;
	switch (sg_mime_parse_cte(&h->cte)) {
	case SG_CTE_BASE64:
		if ((out = malloc(blen / 4 * 3 + 3)) == NULL)
			return NULL;
		if (sg_b64_decode(body, blen, out, out_len_r) < 0) {
			free(out);
			*bad_r = true;
			return NULL;
		}
		return out;
	case SG_CTE_IDENTITY:
		if ((out = malloc(blen + 1)) == NULL)
			return NULL;
		memcpy(out, body, blen);
		*out_len_r = blen;
		return out;
	default:
		/* quoted-printable or unknown for binary CMS: not S/MIME */
		*bad_r = true;
		return NULL;
	}
}

static void note_malformed(struct sg_verify_state *st, bool as_encrypted,
			   const char *what)
{
	if (as_encrypted) {
		st->encrypted_layer = true;
		st->unknown |= R(MALFORMED);
	} else {
		st->signed_layer = true;
		st->fail |= R(MALFORMED);
	}
	sg_res_add_detail(st->res, "%s", what);
}

static void inspect_inner(struct sg_verify_state *st, const unsigned char *p,
			  size_t len, unsigned int depth, bool top);
static void gate_entity(struct sg_verify_state *st, const unsigned char *p,
			size_t len, const char **stack, unsigned int n_stack,
			unsigned int depth);

/* enc_malformed - labelled encrypted but not one CMS object: not
   encrypted (outbound this refuses, inbound no $SMIMEEncrypted) */
static void enc_malformed(struct sg_verify_state *st, const char *what)
{
	st->enc_malformed = true;
	st->info |= R(MALFORMED);
	sg_res_add_detail(st->res, "%s", what);
}

/* compressed_layer - inflate RFC 3274 compressed-data and walk the
   entity inside as the root */
static void compressed_layer(struct sg_verify_state *st, CMS_ContentInfo *cms,
			     unsigned int depth)
{
	ASN1_OCTET_STRING **pos = CMS_get0_content(cms);
	unsigned char *inner;
	size_t inner_len, clen, total, limit, ratio;
	int ret;

	if (pos == NULL || *pos == NULL) {
		note_malformed(st, false, "The compressed-data layer has no content.");
		return;
	}
	/* bounded by the total of all layers (max_decompressed_size, never
	   above max_message_size) and by this layer's ratio: nested layers
	   of a small message must not each reach the size limit */
	clen = (size_t)ASN1_STRING_length(*pos);
	total = st->ctx->limits.max_decompressed_size;
	if (total > st->ctx->limits.max_message_size)
		total = st->ctx->limits.max_message_size;
	limit = total > st->inflated ? total - st->inflated : 0;
	ratio = clen > SIZE_MAX / st->ctx->limits.max_compression_ratio ? SIZE_MAX :
		clen * st->ctx->limits.max_compression_ratio;
	if (ratio < 1024 * 1024)
		ratio = 1024 * 1024;
	if (limit > ratio)
		limit = ratio;
	ret = sg_inflate(ASN1_STRING_get0_data(*pos), clen, limit, &inner,
			 &inner_len);
	switch (ret) {
	case 0:
		st->inflated += inner_len;
		sg_verify_entity(st, inner, inner_len, depth + 1);
		free(inner);
		break;
	case -2:
		st->signed_layer = true;
		st->unknown |= R(TOO_LARGE);
		sg_res_add_detail(st->res, "The compressed layer of %zu bytes expands beyond %zu bytes (max_decompressed_size for all layers, max_compression_ratio for one).",
				  clen, limit);
		break;
	case -3:
		st->unknown |= R(INTERNAL_ERROR);
		break;
	default:
		note_malformed(st, false, "The compressed-data layer is corrupt.");
		break;
	}
}

void sg_verify_cms_object(struct sg_verify_state *st, const unsigned char *der,
			  size_t len, const unsigned char *detached,
			  size_t detached_len, unsigned int depth)
{
	STACK_OF(X509) *certs = NULL;
	CMS_ContentInfo *cms;
	enum sg_cms_err cerr;
	const unsigned char *econtent;
	size_t elen;

	if (st->cms_depth >= st->ctx->limits.max_cms_nesting) {
		st->signed_layer = true;
		st->unknown |= R(TOO_COMPLEX);
		return;
	}
	cms = sg_cms_decode(st->ctx, der, len, &certs, &cerr);
	if (cms == NULL) {
		if (cerr == SG_CMS_ERR_TRAILING) {
			note_malformed(st, false, "Bytes follow the CMS object; other readers could show them.");
		} else if (cerr == SG_CMS_ERR_TOO_MANY) {
			st->signed_layer = true;
			st->unknown |= R(TOO_COMPLEX);
			sg_res_add_detail(st->res, "The signature carries more certificates than the limit of %u.",
					  st->ctx->limits.max_certificates);
		} else {
			note_malformed(st, false, "The CMS structure cannot be decoded.");
		}
		return;
	}
	st->cms_depth++;
	switch (sg_cms_type_of(cms)) {
	case SG_CMS_SIGNED:
		if (detached == NULL &&
		    sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) <= 0 &&
		    (CMS_get0_content(cms) == NULL ||
		     *CMS_get0_content(cms) == NULL)) {
			/* a certs-only message (RFC 8551 3.8): nothing signed */
			sg_res_add_detail(st->res, "The message only carries certificates; nothing is signed.");
			break;
		}
		sg_cms_verify_signed(st, cms, certs, detached, detached_len,
				     &econtent, &elen);
		if (econtent != NULL) {
			const char *stack[GATE_MAX_NEST];

			if (st->bind_sender)
				gate_entity(st, econtent, elen, stack, 0, depth + 1);
			inspect_inner(st, econtent, elen, depth + 1, true);
		}
		break;
	case SG_CMS_ENVELOPED:
	case SG_CMS_AUTH_ENVELOPED:
		if (detached != NULL) {
			note_malformed(st, false, "The signature part holds encrypted data, not a signature.");
			break;
		}
		sg_cms_inspect_enveloped(st, cms, der, len);
		break;
	case SG_CMS_COMPRESSED:
		/* a recognised outer layer: the root continues inside */
		compressed_layer(st, cms, depth);
		break;
	case SG_CMS_ENCRYPTED:
		st->info |= R(UNSUPPORTED);
		sg_res_add_detail(st->res, "The message is symmetrically encrypted (CMS EncryptedData) without recipients.");
		break;
	case SG_CMS_DATA:
	case SG_CMS_DIGESTED:
		sg_res_add_detail(st->res, "The CMS object is not signed (plain or digested data).");
		break;
	default:
		if (detached != NULL)
			note_malformed(st, false, "The signature part holds an unknown CMS type.");
		else
			st->info |= R(UNSUPPORTED);
		break;
	}
	st->cms_depth--;
	sk_X509_pop_free(certs, X509_free);
	CMS_ContentInfo_free(cms);
}

/* pkcs7_mime_entity - an application/pkcs7-mime root */
static void pkcs7_mime_entity(struct sg_verify_state *st,
			      const struct sg_headers *h,
			      const struct sg_ctype *ct,
			      const unsigned char *p, size_t len,
			      unsigned int depth)
{
	enum expect ex = expect_of(ct);
	unsigned char *der;
	size_t dlen;
	bool bad;

	if (strcmp(ct->smime_type, "certs-only") == 0) {
		sg_res_add_detail(st->res, "The message only carries certificates; nothing is signed.");
		return;
	}
	der = decode_body(h, p, len, &dlen, &bad);
	if (der == NULL) {
		if (bad && ex == EXPECT_ENVELOPED)
			enc_malformed(st, "The body labelled encrypted is not valid base64 or uses an unusable transfer encoding.");
		else if (bad)
			note_malformed(st, false,
				       "The S/MIME body is not valid base64 or uses an unusable transfer encoding.");
		else
			st->unknown |= R(INTERNAL_ERROR);
		return;
	}
	if (ex == EXPECT_ENVELOPED) {
		/* a label is not encryption: only a CMS object that is
		   exactly one EnvelopedData counts */
		enum sg_cms_err cerr;
		CMS_ContentInfo *cms = sg_cms_decode(st->ctx, der, dlen, NULL,
						     &cerr);
		if (cms == NULL) {
			enc_malformed(st, cerr == SG_CMS_ERR_TRAILING ?
				      "Bytes follow the encrypted CMS object; readers could show them as text." :
				      "The body labelled encrypted is not a CMS object.");
			free(der);
			return;
		}
		CMS_ContentInfo_free(cms);
	}
	sg_verify_cms_object(st, der, dlen, NULL, 0, depth);
	free(der);
}

/* ---- the one-reading gate (doc/DESIGN.md 3.11) ----
 * Wherever Dovecot, Python's email and Thunderbird could see another
 * structure in the bytes that carry the verdict, note it: the verdict
 * is then never verified and never encrypted (finish()). */


static void gate_note(struct sg_verify_state *st, const char *where,
		      const char *why)
{
	if (st->ambiguity != NULL)
		return;
	st->ambiguity = why;
	st->ambiguity_where = where;
}

/* gate_headers - one header block and its Content-Type */
static void gate_headers(struct sg_verify_state *st, const char *where,
			 const struct sg_headers *h, const struct sg_ctype *ct)
{
	const char *why = sg_mime_headers_ambiguity(h);

	if (why == NULL)
		why = ct->ambiguity;
	if (why == NULL && sg_mime_cte_ambiguous(&h->cte))
		why = "a Content-Transfer-Encoding that is not one token";
	if (why != NULL)
		gate_note(st, where, why);
}

/* gate_boundary - valid (RFC 2046) and unrelated to the enclosing ones:
   Dovecot matches delimiters by prefix, longest first */
static bool gate_boundary(struct sg_verify_state *st, const char *where,
			  const char *boundary, const char **stack,
			  unsigned int n_stack)
{
	size_t blen = strlen(boundary);
	unsigned int i;

	if (!sg_mime_boundary_valid(boundary)) {
		gate_note(st, where, "a boundary that is empty, over 70 characters or has characters RFC 2046 does not allow");
		return false;
	}
	for (i = 0; i < n_stack; i++) {
		size_t olen = strlen(stack[i]);

		if (strncmp(boundary, stack[i], blen < olen ? blen : olen) == 0) {
			gate_note(st, where, "a boundary that is an enclosing boundary or a prefix of one (or has one as a prefix)");
			return false;
		}
	}
	return true;
}

/* gate_split - the delimiter lines of one multipart body */
static void gate_split(struct sg_verify_state *st, const char *where,
		       const unsigned char *body, size_t len,
		       const struct sg_split *sp, const struct sg_line_flags *lf)
{
	if (sp->stray > 0)
		gate_note(st, where, "a line that starts like a delimiter but is not one (a prefix reader splits there)");
	else if (!sp->closed)
		gate_note(st, where, "no close delimiter");
	else if (lf != NULL ? (lf->bare_cr || lf->nul) :
		 sg_mime_has_bare_cr(body, len))
		gate_note(st, where, "a CR without LF or a NUL byte (Python's email breaks the line at a CR, C-string readers stop at a NUL)");
}

/* gate_entity - an entity a client renders, and everything inside it */
static void gate_entity(struct sg_verify_state *st, const unsigned char *p,
			size_t len, const char **stack, unsigned int n_stack,
			unsigned int depth)
{
	struct sg_headers h;
	struct sg_ctype ct;

	if (st->ambiguity != NULL)
		return;
	if (depth > st->ctx->limits.max_mime_depth || n_stack >= GATE_MAX_NEST) {
		/* what lies deeper was not checked: never verified */
		if (!(st->unknown & R(TOO_COMPLEX)))
			sg_res_add_detail(st->res, "The signed content nests deeper than max_mime_depth (%u); its structure was not checked.",
					  st->ctx->limits.max_mime_depth);
		st->unknown |= R(TOO_COMPLEX);
		return;
	}
	sg_mime_parse_headers(p, len, &h);
	sg_mime_parse_ctype(&h.content_type, &ct);
	gate_headers(st, "A header of the signed content", &h, &ct);
	if ((strcmp(ct.type, "multipart") == 0 || strcmp(ct.type, "message") == 0) &&
	    sg_mime_parse_cte(&h.cte) != SG_CTE_IDENTITY) {
		gate_note(st, "A multipart or message part of the signed content",
			  "a transfer encoding other than 7bit, 8bit or binary (readers decode it or not)");
		return;
	}
	if (strcmp(ct.type, "multipart") == 0) {
		const unsigned char *body = p + h.body_offset;
		size_t blen = len - h.body_offset, max, i;
		struct sg_slice *parts;
		struct sg_split sp;

		if (!gate_boundary(st, "A multipart of the signed content",
				   ct.boundary, stack, n_stack))
			return;
		sg_mime_split(body, blen, ct.boundary, NULL, 0, &sp);
		gate_split(st, "A multipart of the signed content", body, blen, &sp,
			   NULL);
		if (st->ambiguity != NULL || sp.n_parts == 0)
			return;
		if (sp.n_parts > st->ctx->limits.max_mime_parts) {
			if (!(st->unknown & R(TOO_COMPLEX)))
				sg_res_add_detail(st->res, "A multipart of the signed content has %zu parts, over max_mime_parts (%u); it was not checked.",
						  sp.n_parts, st->ctx->limits.max_mime_parts);
			st->unknown |= R(TOO_COMPLEX);
			return;
		}
		max = sp.n_parts;
		if ((parts = calloc(max, sizeof(*parts))) == NULL) {
			st->unknown |= R(INTERNAL_ERROR);
			return;
		}
		sg_mime_split(body, blen, ct.boundary, parts, max, &sp);
		stack[n_stack] = ct.boundary;
		for (i = 0; i < max && st->ambiguity == NULL; i++)
			gate_entity(st, parts[i].p, parts[i].len, stack,
				    n_stack + 1, depth + 1);
		free(parts);
	} else if (strcmp(ct.type, "message") == 0 &&
		   strcmp(ct.subtype, "rfc822") == 0) {
		gate_entity(st, p + h.body_offset, len - h.body_offset, stack,
			    n_stack, depth + 1);
	}
}

/* outside_text_ok - preamble and epilogue of a multipart/signed that
   carries encrypted content: nothing a reader could show as text beside
   the ciphertext (one short preamble line, as mailers write, at most) */
static bool outside_text_ok(const struct sg_split *sp)
{
	const unsigned char *p = sp->preamble.p, *nl;
	size_t len = sp->preamble.len, i;

	nl = memchr(p, '\n', len);
	if (len > 100 || (nl != NULL && (size_t)(nl - p) + 1 < len))
		return false;
	for (i = 0; i < sp->epilogue.len; i++)
		if (sp->epilogue.p[i] > ' ')
			return false;
	return true;
}

/* detached_entity - multipart/signed with a pkcs7-signature protocol */
static void detached_entity(struct sg_verify_state *st,
			    const struct sg_headers *h,
			    const struct sg_ctype *ct,
			    const unsigned char *p, size_t len,
			    unsigned int depth)
{
	struct sg_slice parts[3];
	struct sg_headers sh;
	struct sg_ctype sct;
	struct sg_split sp;
	struct sg_line_flags lflags;
	size_t dlen, clen;
	bool bad;
	unsigned char *der, *canon;
	const char *stack[GATE_MAX_NEST];
	const unsigned char *body = p + h->body_offset;
	size_t blen = len - h->body_offset;

	if (!gate_boundary(st, "The multipart/signed structure", ct->boundary,
			   NULL, 0)) {
		st->signed_layer = true;
		return;
	}
	sg_mime_split(body, blen, ct->boundary, parts, SG_ARRAY_SIZE(parts), &sp);
	/* one scan of the body serves the gate and the canonical form */
	sg_mime_line_flags(body, blen, &lflags);
	gate_split(st, "The multipart/signed structure", body, blen, &sp, &lflags);
	if (sp.n_parts != 2) {
		note_malformed(st, false, sp.n_parts < 2 ?
			       "The multipart/signed message does not have its two parts (check the boundary)." :
			       "The multipart/signed message has more than two parts.");
		return;
	}
	st->outside_text_ok = outside_text_ok(&sp);
	stack[0] = ct->boundary;
	gate_entity(st, parts[0].p, parts[0].len, stack, 1, depth + 1);
	sg_mime_parse_headers(parts[1].p, parts[1].len, &sh);
	sg_mime_parse_ctype(&sh.content_type, &sct);
	gate_headers(st, "The signature part's header", &sh, &sct);
	if (headers_over_limit(st, &sh, &sct))
		return;
	if (!is_pkcs7_signature(sct.type, sct.subtype)) {
		note_malformed(st, false, "The second part of multipart/signed is not an S/MIME signature.");
		return;
	}
	der = decode_body(&sh, parts[1].p, parts[1].len, &dlen, &bad);
	if (der == NULL) {
		if (bad)
			note_malformed(st, false, "The signature part is not valid base64.");
		else
			st->unknown |= R(INTERNAL_ERROR);
		return;
	}
	/* verify over the canonical CRLF form (rule 9); part 1 has no bare
	   LF when the whole body has none */
	canon = NULL;
	clen = parts[0].len;
	if (lflags.bare_lf &&
	    sg_mime_canon_crlf(parts[0].p, parts[0].len, &canon, &clen) < 0) {
		st->unknown |= R(INTERNAL_ERROR);
		free(der);
		return;
	}
	sg_verify_cms_object(st, der, dlen, canon != NULL ? canon : parts[0].p,
			     clen, depth);
	free(canon);
	free(der);
	st->detached = true;
	inspect_inner(st, parts[0].p, parts[0].len, depth + 1, true);
}

/* scan_inside - look for S/MIME below a root that is not S/MIME */
static void scan_inside(struct sg_verify_state *st, const unsigned char *p,
			size_t len, unsigned int depth)
{
	struct sg_headers h;
	struct sg_ctype ct;

	if (depth > st->ctx->limits.max_mime_depth ||
	    ++st->parts_seen > st->ctx->limits.max_mime_parts) {
		st->unknown |= R(TOO_COMPLEX);
		return;
	}
	sg_mime_parse_headers(p, len, &h);
	sg_mime_parse_ctype(&h.content_type, &ct);
	if (headers_over_limit(st, &h, &ct))
		return;
	if (strcmp(ct.type, "multipart") == 0) {
		struct sg_slice parts[64];
		struct sg_split sp;
		size_t n, i, off = 0;

		if (strcmp(ct.subtype, "signed") == 0 &&
		    is_signature_protocol(ct.protocol)) {
			st->found_signed_inside = true;
			return;
		}
		/* walk in windows of 64 parts (no allocation) */
		for (;;) {
			const unsigned char *body = p + h.body_offset + off;
			size_t blen = len - h.body_offset - off;

			sg_mime_split(body, blen, ct.boundary, parts,
				      SG_ARRAY_SIZE(parts), &sp);
			n = sp.n_parts;
			for (i = 0; i < n && i < SG_ARRAY_SIZE(parts); i++) {
				scan_inside(st, parts[i].p, parts[i].len, depth + 1);
				if (st->unknown & R(TOO_COMPLEX))
					return;
			}
			if (n <= SG_ARRAY_SIZE(parts))
				break;
			/* continue after the last part we looked at */
			off = (size_t)(parts[SG_ARRAY_SIZE(parts) - 1].p +
				       parts[SG_ARRAY_SIZE(parts) - 1].len -
				       (p + h.body_offset));
		}
		return;
	}
	if (strcmp(ct.type, "message") == 0 && strcmp(ct.subtype, "rfc822") == 0) {
		scan_inside(st, p + h.body_offset, len - h.body_offset, depth + 1);
		return;
	}
	if (is_pkcs7_mime(&ct)) {
		enum expect ex = expect_of(&ct);

		if (ex == EXPECT_SIGNED) {
			st->found_signed_inside = true;
		} else if (ex == EXPECT_ENVELOPED) {
			st->found_encrypted_inside = true;
		} else if (strcmp(ct.smime_type, "certs-only") != 0) {
			/* no smime-type: the CMS content type decides */
			unsigned char *der;
			size_t dlen;
			bool bad;
			enum sg_cms_err cerr;
			CMS_ContentInfo *cms;

			der = decode_body(&h, p, len, &dlen, &bad);
			if (der == NULL)
				return;
			cms = sg_cms_decode(st->ctx, der, dlen, NULL, &cerr);
			if (cms != NULL) {
				enum sg_cms_type t = sg_cms_type_of(cms);

				if (t == SG_CMS_SIGNED)
					st->found_signed_inside = true;
				else if (t == SG_CMS_ENVELOPED ||
					 t == SG_CMS_AUTH_ENVELOPED)
					st->found_encrypted_inside = true;
				CMS_ContentInfo_free(cms);
			}
			free(der);
		}
	}
}

/* collect_inner_from - From fields of the signed content's top header
   (RFC 9788 header protection) or of an RFC 8551 3.1 wrapped message:
   they must name the bound sender too (finish()) */
static void collect_inner_from(struct sg_verify_state *st,
			       const struct sg_headers *h)
{
	unsigned int i;

	if (h->n_from > 1) {
		st->inner_from_why = "the signed content has more than one From field";
		return;
	}
	for (i = 0; i < h->n_from && i < SG_MAX_FROM; i++) {
		char addr[320];
		const char *why;

		if (sg_mime_parse_from(&h->from[i], addr, sizeof(addr), &why) !=
		    SG_FROM_OK) {
			st->inner_from_why = why != NULL ? why :
				"the From field of the signed content is empty";
			return;
		}
		if (st->n_inner_from < SG_ARRAY_SIZE(st->inner_from))
			sg_strlcpy(st->inner_from[st->n_inner_from++], addr,
				   sizeof(st->inner_from[0]));
		else
			st->inner_from_why = "the signed content nests too many From fields";
	}
}

/* read_root_from - the From (and Sender) fields of the root header: the
   address a signer is bound to */
static void read_root_from(struct sg_verify_state *st,
			   const struct sg_headers *h)
{
	const char *why;

	st->from_fields = h->n_from;
	st->n_from = 0;
	if (h->n_from == 1) {
		st->from_state = sg_mime_parse_from(&h->from[0], st->from_addr,
						    sizeof(st->from_addr),
						    &st->from_why);
		if (st->from_state == SG_FROM_OK)
			st->n_from = 1;
	} else {
		st->n_from = h->n_from > 1 ? 2 : 0;
	}
	if (h->n_sender == 1 &&
	    sg_mime_parse_from(&h->sender, st->sender_addr,
			       sizeof(st->sender_addr), &why) == SG_FROM_OK)
		st->has_sender = true;
}

/* inspect_inner - what lies under a verified outer signature: an
   encryption layer counts ($SMIMEEncrypted); an inner signature is
   reported but not evaluated (the outermost signature is the verdict).
   top: p is the signed content itself (or a wrapped message in it) */
static void inspect_inner(struct sg_verify_state *st, const unsigned char *p,
			  size_t len, unsigned int depth, bool top)
{
	struct sg_headers h;
	struct sg_ctype ct;

	if (depth > st->ctx->limits.max_mime_depth)
		return;
	sg_mime_parse_headers(p, len, &h);
	sg_mime_parse_ctype(&h.content_type, &ct);
	if (top && st->bind_sender)
		collect_inner_from(st, &h);
	if (strcmp(ct.type, "message") == 0 && strcmp(ct.subtype, "rfc822") == 0 &&
	    strcmp(ct.forwarded, "yes") != 0) {
		/* RFC 9788 / RFC 8551 3.1 wrapped message (clients show a
		   signed message/rfc822 root as the message itself, with or
		   without forwarded=no) */
		inspect_inner(st, p + h.body_offset, len - h.body_offset,
			      depth + 1, top);
		return;
	}
	if (is_pkcs7_mime(&ct) && strcmp(ct.smime_type, "certs-only") != 0) {
		unsigned char *der;
		size_t dlen;
		bool bad;
		enum sg_cms_err cerr;
		CMS_ContentInfo *cms;

		der = decode_body(&h, p, len, &dlen, &bad);
		if (der == NULL)
			return;
		cms = sg_cms_decode(st->ctx, der, dlen, NULL, &cerr);
		if (cms != NULL) {
			enum sg_cms_type t = sg_cms_type_of(cms);

			if (t == SG_CMS_ENVELOPED || t == SG_CMS_AUTH_ENVELOPED)
				sg_cms_inspect_enveloped(st, cms, der, dlen);
			else if (t == SG_CMS_SIGNED)
				sg_res_add_detail(st->res, "An inner signature layer is present; only the outermost signature is evaluated.");
			CMS_ContentInfo_free(cms);
		}
		free(der);
	} else if (strcmp(ct.type, "multipart") == 0 &&
		   strcmp(ct.subtype, "signed") == 0 &&
		   is_signature_protocol(ct.protocol)) {
		sg_res_add_detail(st->res, "An inner signature layer is present; only the outermost signature is evaluated.");
	}
}

void sg_verify_entity(struct sg_verify_state *st, const unsigned char *p,
		      size_t len, unsigned int depth)
{
	struct sg_headers h;
	struct sg_ctype ct;

	sg_mime_parse_headers(p, len, &h);
	sg_mime_parse_ctype(&h.content_type, &ct);
	if (headers_over_limit(st, &h, &ct))
		return;
	gate_headers(st, depth == 0 ? "The message header" : "The header inside the compressed layer",
		     &h, &ct);
	if (depth == 0 && st->decrypted)
		collect_inner_from(st, &h);	/* must name the outer From */
	else if (depth == 0)
		read_root_from(st, &h);
	if (strcmp(ct.type, "multipart") == 0 && strcmp(ct.subtype, "signed") == 0 &&
	    is_signature_protocol(ct.protocol)) {
		detached_entity(st, &h, &ct, p, len, depth);
	} else if (is_pkcs7_mime(&ct)) {
		pkcs7_mime_entity(st, &h, &ct, p, len, depth);
	} else if (strcmp(ct.type, "multipart") == 0 ||
		   (strcmp(ct.type, "message") == 0 &&
		    strcmp(ct.subtype, "rfc822") == 0)) {
		st->parts_seen = 0;
		scan_inside(st, p, len, depth);
	}
}

/* finish - status, keywords and reasons from what the layers found */
static void finish(struct sg_verify_state *st)
{
	struct sg_result *res = st->res;
	bool any_failed = false, any_unknown = false;
	size_t i;

	if (st->ambiguity != NULL && (st->signed_layer || st->encrypted_layer)) {
		/* one reading or none: never verified, never encrypted */
		sg_res_add_detail(res, "%s could be read differently by other mail readers: %s.",
				  st->ambiguity_where, st->ambiguity);
		if (st->signed_layer)
			st->fail |= R(MALFORMED);
		else
			st->info |= R(MALFORMED);
		st->encrypted_layer = false;
	}
	if (st->detached && st->encrypted_layer &&
	    (st->fail & (R(MALFORMED) | R(AMBIGUOUS_CONTENT)))) {
		/* the signature part is not a plain detached SignedData:
		   readers may show what it holds (plaintext beside the
		   ciphertext) */
		sg_res_add_detail(res, "The signature part beside the encrypted part is not a well-formed detached signature; the message does not count as encrypted.");
		st->encrypted_layer = false;
	}
	if (st->detached && st->encrypted_layer && !st->outside_text_ok) {
		sg_res_add_detail(res, "Text beside the encrypted part (preamble or epilogue of multipart/signed) would leave unencrypted; the message does not count as encrypted.");
		st->info |= R(MALFORMED);
		st->encrypted_layer = false;
	}
	if (!st->encrypted_layer)
		res->has_enc = false;
	if (st->signed_layer && st->bind_sender &&
	    st->ctx->binding != SG_BINDING_OFF && res->n_signers > 0 &&
	    !(st->fail & (R(MALFORMED) | R(AMBIGUOUS_CONTENT)))) {
		uint32_t r = 0;

		if (st->from_fields == 0 || st->from_state == SG_FROM_EMPTY) {
			r = R(NO_FROM);
		} else if (st->from_fields > 1 || st->from_state == SG_FROM_LIST) {
			r = R(MULTIPLE_FROM);
		} else if (st->from_state == SG_FROM_AMBIGUOUS) {
			r = R(SENDER_MISMATCH);
			sg_res_add_detail(res, "The From field could name different addresses in different mail readers: %s.",
					  st->from_why);
		} else if (!st->any_bound) {
			r = R(SENDER_MISMATCH);
			sg_res_add_detail(res, "The From address %s is not in the signer's certificate.",
					  st->from_addr);
		} else if (st->inner_from_why != NULL) {
			r = R(SENDER_MISMATCH);
			/* decrypted content is never quoted: the verdict goes
			   to logs and mail stores that must not hold it */
			if (st->decrypted)
				sg_res_add_detail(res, "The From field inside the decrypted content cannot be bound (not shown: it is part of the encrypted content).");
			else
				sg_res_add_detail(res, "The From field inside the signed content cannot be bound: %s.",
						  st->inner_from_why);
		} else {
			for (i = 0; i < st->n_inner_from; i++) {
				if (strcasecmp(st->inner_from[i], st->from_addr) == 0)
					continue;
				r = R(SENDER_MISMATCH);
				if (st->decrypted)
					sg_res_add_detail(res, "The From address inside the decrypted content is not the bound sender %s (not shown: it is part of the encrypted content).",
							  st->from_addr);
				else
					sg_res_add_detail(res, "The From address inside the signed content (%s) is not the bound sender %s.",
							  st->inner_from[i], st->from_addr);
				break;
			}
		}
		if (r != 0) {
			st->fail |= r;
			for (i = 0; i < res->n_signers; i++)
				res->signers_priv[i].bound = false;
		}
	}
	for (i = 0; i < res->n_signers; i++) {
		if (res->signers[i].result == SG_SIGNER_FAILED)
			any_failed = true;
		else if (res->signers[i].result == SG_SIGNER_UNKNOWN)
			any_unknown = true;
	}
	res->reasons |= st->fail | st->unknown | st->info;
	if (st->signed_layer) {
		if (st->fail != 0 || any_failed)
			res->status = SG_STATUS_SIGNED_FAILED;
		else if (st->unknown != 0 || any_unknown || res->n_signers == 0)
			res->status = SG_STATUS_SIGNED;
		else
			res->status = SG_STATUS_SIGNED_VERIFIED;
	} else if (st->encrypted_layer) {
		res->status = SG_STATUS_ENCRYPTED;
	} else if (st->found_signed_inside) {
		res->status = SG_STATUS_SIGNED;
		res->reasons |= R(PARTIAL);
	} else {
		res->status = SG_STATUS_NONE;
	}
	if (st->found_encrypted_inside)
		res->reasons |= R(EMBEDDED_CIPHERTEXT);
	res->keywords = sg_status_keywords(res->status);
	if (st->encrypted_layer)
		res->keywords |= SG_KW_ENCRYPTED;
	if (st->weak && (res->status == SG_STATUS_SIGNED_VERIFIED ||
			 res->status == SG_STATUS_ENCRYPTED ||
			 res->status == SG_STATUS_ENCRYPTED_SIGNED_VERIFIED))
		res->keywords |= SG_KW_WEAK;
	if (res->status == SG_STATUS_SIGNED_VERIFIED && st->encrypted_layer &&
	    res->has_enc && !res->enc.aead)
		res->keywords |= SG_KW_WEAK;
	if (st->bind_sender)
		res->from = (char *)sg_res_strdup(res, st->from_addr);
	sg_res_finish(res);
}

static int start(struct sg_ctx *ctx, time_t at, struct sg_verify_state *st,
		 struct sg_result **res_r, struct sg_error *err_r)
{
	memset(st, 0, sizeof(*st));
	*res_r = NULL;
	sg_error_clear(err_r);
	if ((st->res = sg_res_new()) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	st->ctx = ctx;
	st->at = at != 0 ? at : time(NULL);
	return 0;
}

static int end(struct sg_verify_state *st, struct sg_result **res_r,
	       struct sg_error *err_r)
{
	finish(st);
	if (st->res->nomem) {
		sg_result_free(&st->res);
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	*res_r = st->res;
	return 0;
}

/* too_large - classify an oversized message by its root header only */
static void too_large(struct sg_verify_state *st, const unsigned char *msg,
		      size_t len, size_t total_len)
{
	struct sg_headers h;
	struct sg_ctype ct;

	sg_mime_parse_headers(msg, len, &h);
	sg_mime_parse_ctype(&h.content_type, &ct);
	if (is_pkcs7_mime(&ct) && expect_of(&ct) == EXPECT_ENVELOPED) {
		/* labelled encrypted, too large to check the body: not
		   counted as encrypted (a label is not encryption) */
		st->info |= R(TOO_LARGE);
		sg_res_add_detail(st->res, "The message is %zu bytes, over the verification limit of %zu; it is labelled encrypted, but that was not checked.",
				  total_len, st->ctx->limits.max_message_size);
		return;
	} else if ((strcmp(ct.type, "multipart") == 0 &&
		    strcmp(ct.subtype, "signed") == 0 &&
		    is_signature_protocol(ct.protocol)) || is_pkcs7_mime(&ct)) {
		st->signed_layer = true;
	}
	if (st->signed_layer || st->encrypted_layer) {
		st->unknown |= R(TOO_LARGE);
		sg_res_add_detail(st->res, "The message is %zu bytes, over the verification limit of %zu.",
				  total_len, st->ctx->limits.max_message_size);
	}
}

int sg_verify_message(struct sg_ctx *ctx, const unsigned char *msg,
		      size_t msg_len, time_t at, struct sg_result **res_r,
		      struct sg_error *err_r)
{
	struct sg_verify_state st;

	sg_assert(ctx != NULL && res_r != NULL && (msg != NULL || msg_len == 0));
	if (start(ctx, at, &st, res_r, err_r) < 0)
		return -1;
	st.bind_sender = true;
	if (msg_len > ctx->limits.max_message_size)
		too_large(&st, msg, msg_len, msg_len);
	else
		sg_verify_entity(&st, msg, msg_len, 0);
	return end(&st, res_r, err_r);
}

int sg_verify_message_prefix(struct sg_ctx *ctx, const unsigned char *prefix,
			     size_t prefix_len, size_t total_len, time_t at,
			     struct sg_result **res_r, struct sg_error *err_r)
{
	struct sg_verify_state st;

	sg_assert(ctx != NULL && res_r != NULL && prefix != NULL &&
		  prefix_len <= total_len &&
		  total_len > ctx->limits.max_message_size);
	if (start(ctx, at, &st, res_r, err_r) < 0)
		return -1;
	st.bind_sender = true;
	too_large(&st, prefix, prefix_len, total_len);
	return end(&st, res_r, err_r);
}

int sg_verify_cms(struct sg_ctx *ctx, const unsigned char *cms, size_t cms_len,
		  const unsigned char *content, size_t content_len, time_t at,
		  struct sg_result **res_r, struct sg_error *err_r)
{
	struct sg_verify_state st;
	unsigned char *der = NULL;
	size_t der_len;

	sg_assert(ctx != NULL && res_r != NULL && (cms != NULL || cms_len == 0));
	if (start(ctx, at, &st, res_r, err_r) < 0)
		return -1;
	if (cms_len > ctx->limits.max_message_size) {
		st.signed_layer = true;
		st.unknown |= R(TOO_LARGE);
		return end(&st, res_r, err_r);
	}
	if (cms_len >= 10 &&
	    memmem(cms, cms_len < 128 ? cms_len : 128, "-----BEGIN", 10) != NULL) {
		if ((der = sg_cms_pem_to_der(cms, cms_len, &der_len)) == NULL) {
			note_malformed(&st, false, "The PEM input is not valid.");
			return end(&st, res_r, err_r);
		}
		cms = der;
		cms_len = der_len;
	}
	sg_verify_cms_object(&st, cms, cms_len, content, content_len, 0);
	if (st.signed_layer)
		sg_res_add_detail(st.res, "A raw CMS object has no From header: sender binding was not applied.");
	free(der);
	return end(&st, res_r, err_r);
}

int sg_verify_decrypted(struct sg_ctx *ctx, const unsigned char *outer,
			size_t outer_len, const unsigned char *inner,
			size_t inner_len, time_t at, struct sg_result **res_r,
			struct sg_error *err_r)
{
	struct sg_verify_state st;
	struct sg_headers h;

	sg_assert(ctx != NULL && res_r != NULL && outer != NULL &&
		  (inner != NULL || inner_len == 0));
	if (start(ctx, at, &st, res_r, err_r) < 0)
		return -1;
	st.bind_sender = true;
	st.decrypted = true;
	sg_mime_parse_headers(outer, outer_len, &h);
	read_root_from(&st, &h);
	if (inner_len > ctx->limits.max_message_size)
		too_large(&st, inner, inner_len, inner_len);
	else
		sg_verify_entity(&st, inner, inner_len, 0);
	return end(&st, res_r, err_r);
}
