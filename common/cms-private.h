/*
 * cms-private.h - internal interfaces of cms-decode.c, cms-verify.c,
 * cms-inspect.c and inflate.c
 *
 * The state of a verification and its CMS layers: decoding (cms-decode.c),
 * SignedData (cms-verify.c), (Auth)EnvelopedData (cms-inspect.c),
 * CompressedData (inflate.c).  Nothing here is exported; only files of
 * common/ (and the unit tests and fuzzers) include it.
 */
#ifndef SG_CMS_PRIVATE_H
#define SG_CMS_PRIVATE_H

#include "sg-base.h"
#include "mime-private.h"

#include <openssl/cms.h>

/* ---- cms-verify.c / cms-inspect.c ---- */
struct sg_verify_state {
	struct sg_ctx *ctx;
	struct sg_result *res;
	time_t at;
	unsigned int parts_seen;
	unsigned int cms_depth;
	size_t inflated;		/* bytes of all compressed layers */
	/* sender binding: applied to message input */
	bool bind_sender;
	unsigned int n_from;		/* 1: one From field with one plain
					   mailbox (from_addr); else 0 or 2 */
	unsigned int from_fields;	/* From fields in the root header */
	enum sg_from from_state;	/* the one From field, read strictly */
	const char *from_why;		/* LIST/AMBIGUOUS: why */
	char inner_from[2][320];	/* From of the signed content (RFC 9788,
					   RFC 8551 3.1 wrapper) */
	unsigned int n_inner_from;
	const char *inner_from_why;	/* an inner From that cannot bind */
	/* the one-reading gate (DESIGN.md 3.11): the first ambiguity */
	const char *ambiguity, *ambiguity_where;
	bool detached;			/* the root is multipart/signed */
	bool outside_text_ok;		/* its preamble/epilogue hold no text */
	bool enc_malformed;		/* labelled encrypted, not one CMS */
	char from_addr[320];
	char sender_addr[320];
	bool has_sender;
	bool decrypted;			/* the root is decrypted content; the
					   From fields come from the outer
					   header (sg_verify_decrypted) */
	bool any_bound;			/* some signer's cert matches */
	/* what the layers found */
	bool signed_layer;		/* the root (under layers) is signed */
	bool encrypted_layer;		/* root or under the signature */
	bool found_signed_inside;	/* S/MIME signature not at the root */
	bool found_encrypted_inside;
	bool weak;			/* verified with something deprecated */
	uint32_t fail;			/* message-level definitive reasons */
	uint32_t unknown;		/* message-level inconclusive reasons */
	uint32_t info;			/* informative reasons */
};

/* the CMS object types we distinguish */
enum sg_cms_type {
	SG_CMS_UNKNOWN = 0,
	SG_CMS_DATA,
	SG_CMS_SIGNED,
	SG_CMS_ENVELOPED,
	SG_CMS_AUTH_ENVELOPED,
	SG_CMS_COMPRESSED,
	SG_CMS_DIGESTED,
	SG_CMS_ENCRYPTED
};

/*
 * Decode a CMS ContentInfo from DER/BER (or PEM).  Certificates inside a
 * SignedData are decoded through the context's cache and returned in
 * *certs_r (caller frees with sk_X509_pop_free) unless certs_r is NULL.
 * Returns NULL with *err_r saying why when the input is not exactly one
 * CMS object.
 */
enum sg_cms_err {
	SG_CMS_ERR_NONE = 0,
	SG_CMS_ERR_NOT_CMS,	/* not a decodable ContentInfo */
	SG_CMS_ERR_TOO_MANY,	/* more certificates than allowed */
	SG_CMS_ERR_TRAILING	/* bytes other than NUL/CR/LF/WSP after it */
};
CMS_ContentInfo *sg_cms_decode(struct sg_ctx *ctx, const unsigned char *der,
			       size_t len, STACK_OF(X509) **certs_r,
			       enum sg_cms_err *err_r);
enum sg_cms_type sg_cms_type_of(CMS_ContentInfo *cms);
/* the first PEM block of in as DER (malloc'd), or NULL */
unsigned char *sg_cms_pem_to_der(const unsigned char *in, size_t len,
				 size_t *out_len_r);

/*
 * Verify a SignedData layer.  content is the detached content (canonical)
 * or NULL for encapsulated content.  Adds signers, reasons and detail to
 * st->res.  On success with encapsulated content, *econtent_r and *elen_r
 * point to the signed content (owned by cms) so the caller can look
 * inside; otherwise (also when detached content was given and the
 * eContent is the same text: the caller walks that) they are NULL/0.
 */
void sg_cms_verify_signed(struct sg_verify_state *st, CMS_ContentInfo *cms,
			  STACK_OF(X509) *certs,
			  const unsigned char *content, size_t content_len,
			  const unsigned char **econtent_r, size_t *elen_r);

/* list recipients and the content-encryption algorithm of an
   (Auth)EnvelopedData layer into st->res */
void sg_cms_inspect_enveloped(struct sg_verify_state *st,
			      CMS_ContentInfo *cms, const unsigned char *der,
			      size_t der_len);

/* inflate.c: the zlib stream of a CMS CompressedData (RFC 3274) into a
   malloc'd buffer of at most max_out bytes; 0 ok, -1 corrupt, -2 over
   the limit, -3 out of memory */
int sg_inflate(const unsigned char *in, size_t len, size_t max_out,
	       unsigned char **out_r, size_t *out_len_r);

#endif
