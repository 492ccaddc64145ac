/*
 * sg-private.h - internal interfaces of libsmimeguard
 *
 * Nothing here is exported.  Module prefixes: sg_buf_ (buf.c), sg_mime_
 * (mime.c, mime-addr.c), sg_b64_ (base64.c), sg_trust_ (trust.c),
 * sg_cms_ (cms-verify.c, cms-inspect.c), sg_res_ (result.c), sg_cmap_
 * (certmap.c), sg_map_ (maps.c), sg_dirmap_ (certmap-dir.c), sg_ldapmap_
 * (certmap-ldap.c), sg_texthash_ (map-texthash.c), sg_csel_
 * (cert-select.c), sg_doctor_ (doctor.c); sg_list_next and sg_conf_bool
 * (words.c).
 */
#ifndef SG_PRIVATE_H
#define SG_PRIVATE_H

#include "config.h"
#include "smimeguard-admin.h"

#include <pthread.h>
#include <stddef.h>

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/x509.h>

#define SG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* qsort/bsearch order of 32-byte SHA-256 values */
static inline int sg_cmp_sha256(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* Caller bugs abort (STYLE.md: misuse is not an error return). */
#define sg_assert(expr) \
	((expr) ? (void)0 : sg_misuse(#expr, __FILE__, __LINE__))
void sg_misuse(const char *expr, const char *file, int line)
	__attribute__((noreturn));

/* ---- time.c ---- */
long long sg_monotonic_ns(void);
/* keyed SipHash of an address (key: crypto_shorthash_KEYBYTES bytes) */
uint64_t sg_addr_hash(const unsigned char *key, const char *addr);

/* ---- words.c: logical lines, list items and booleans, for every
   reader ---- */
/* the logical lines of text, Postfix main.cf syntax: a line that starts
   with white space continues the one before; blank lines and lines whose
   first non-blank character is '#' are skipped; CR and trailing blanks
   go.  Joined in place (text is changed) with one space, and handed to
   fn with the number of the line where each starts.  -1 with err_r
   ("WHERE, line N: continuation line without a setting") or fn's -1. */
int sg_conf_lines(char *text, const char *where,
		  int (*fn)(void *context, char *line, unsigned int lineno,
			    struct sg_error *err_r),
		  void *context, struct sg_error *err_r);

/* the next item of a list value ("a, b c": commas and white space
   separate, not inside braces: "inline:{ a, b }" is one item): *item_r
   and *len_r; false at the end */
bool sg_list_next(const char **cursor, const char **item_r, size_t *len_r);
/* the same into item (size bytes): *long_r when it was cut */
bool sg_list_copy_next(const char **cursor, char *item, size_t size,
		       bool *long_r);
/* s without the white space around it: the end cut in place */
char *sg_trim(char *s);
/* yes or no, any case (the one set of boolean words): 0 and *b_r, or -1 */
int sg_conf_bool(const char *word, bool *b_r);

/* ---- error.c ---- */
void sg_error_clear(struct sg_error *err);
void sg_error_set(struct sg_error *err, enum sg_error_code code,
		  const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* like sg_error_set, then appends and drains OpenSSL's error queue */
void sg_error_set_openssl(struct sg_error *err, enum sg_error_code code,
			  const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* drain OpenSSL's error queue into buf (may be NULL to just drain) */
void sg_openssl_errors(char *buf, size_t size);

/* ---- buf.c: growable byte buffer ---- */
/* the structure that holds member at ptr (no reliance on layout) */
#define SG_CONTAINER_OF(ptr, type, member) \
	((type *)(void *)((const char *)(ptr) - offsetof(type, member)))

struct sg_buf {
	unsigned char *data;
	size_t used;
	size_t size;
};
int sg_buf_reserve(struct sg_buf *buf, size_t extra);
int sg_buf_append(struct sg_buf *buf, const void *data, size_t len);
int sg_buf_append_str(struct sg_buf *buf, const char *str);
int sg_buf_printf(struct sg_buf *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* NUL-terminate without counting the NUL in used */
int sg_buf_terminate(struct sg_buf *buf);
void sg_buf_free(struct sg_buf *buf);

/* copy at most size-1 bytes and NUL-terminate; returns dst */
char *sg_strlcpy(char *dst, const char *src, size_t size);

/* ---- config ---- */
enum sg_revocation {
	SG_REVOCATION_NONE = 0,
	SG_REVOCATION_SOFT,
	SG_REVOCATION_HARD
};

enum sg_binding {
	SG_BINDING_STRICT = 0,
	SG_BINDING_RELAXED,
	SG_BINDING_OFF
};

struct sg_limits {
	size_t max_message_size;
	unsigned int max_mime_depth;
	unsigned int max_mime_parts;
	unsigned int max_cms_nesting;
	unsigned int max_certificates;
	size_t max_crl_size;		/* crl import / fetch */
	size_t max_header_size;		/* header block of one entity */
	unsigned int max_header_fields;	/* fields in one header block */
	unsigned int max_signers;	/* SignerInfos in one SignedData */
	unsigned int max_crls;		/* CRLs carried in one SignedData */
	size_t max_decompressed_size;	/* all compressed layers together */
	unsigned int max_compression_ratio; /* one layer: out / in (a layer
					   may always reach 1 MB) */
};

/* ---- error.c ---- */
/* replace control characters, C1 controls and bidi overrides by '?' in
   place: every string shown to people that came from a message, a
   certificate or a directory goes through this */
void sg_text_sanitize(char *s);

/* ---- mime.c ---- */
struct sg_slice {
	const unsigned char *p;
	size_t len;
};

#define SG_MAX_FROM 4

struct sg_headers {
	struct sg_slice content_type;	/* raw field value, may be folded */
	struct sg_slice cte;		/* Content-Transfer-Encoding */
	struct sg_slice from[SG_MAX_FROM];
	unsigned int n_from;		/* may exceed SG_MAX_FROM (counted) */
	struct sg_slice sender;
	unsigned int n_sender;
	bool has_content_type;
	unsigned int n_content_type;	/* Content-Type fields */
	unsigned int n_cte;		/* Content-Transfer-Encoding fields */
	unsigned int n_bad_lines;	/* lines that are not a field */
	bool bare_cr;			/* a CR not followed by LF */
	bool nul;			/* a NUL byte */
	size_t body_offset;		/* offset of the body in the entity */
	size_t n_fields;		/* header fields (max_header_fields) */
};

struct sg_ctype {
	char type[64];			/* lower case, "" when absent */
	char subtype[64];
	char boundary[256];		/* case kept */
	char protocol[128];		/* lower case */
	char smime_type[64];		/* lower case */
	char name[128];			/* name= parameter, case kept */
	char forwarded[16];		/* lower case (RFC 9788 wrapper) */
	bool malformed;
	/* why two mainstream readers could see another structure in this
	   field (duplicate or RFC 2231 structural parameters, comments,
	   quoted-pairs, over-long values, text after a value); NULL if none */
	const char *ambiguity;
};

/* parse the header block of an entity; never fails (missing blank line:
   all headers, empty body) */
void sg_mime_parse_headers(const unsigned char *p, size_t len,
			   struct sg_headers *h_r);
/* why a header block could read differently elsewhere (duplicate
   Content-Type or Content-Transfer-Encoding, lines that are not fields,
   bare CR); NULL when it cannot */
const char *sg_mime_headers_ambiguity(const struct sg_headers *h);
/* one pass: an LF without CR before it, a CR without LF after it, a NUL */
struct sg_line_flags {
	bool bare_lf, bare_cr, nul;
};
void sg_mime_line_flags(const unsigned char *p, size_t len,
			struct sg_line_flags *flags_r);
/* a CR that is not followed by LF (Python's email breaks lines there),
   or a NUL byte (C-string readers stop there) */
bool sg_mime_has_bare_cr(const unsigned char *p, size_t len);
/* memmem(hay, n, d, dlen), faster for MIME delimiters where the CPU
   has AVX2 (linear on any input) */
const unsigned char *sg_mime_find_delim(const unsigned char *hay, size_t n,
					const char *d, size_t dlen);
/* parse a Content-Type value; an absent header means text/plain.
   The first occurrence of a parameter counts; see ct_r->ambiguity. */
void sg_mime_parse_ctype(const struct sg_slice *value, struct sg_ctype *ct_r);
/* RFC 2046 boundary: 1-70 bchars, not ending in space */
bool sg_mime_boundary_valid(const char *boundary);
/* a Content-Transfer-Encoding value that is not exactly one token */
bool sg_mime_cte_ambiguous(const struct sg_slice *value);

enum sg_cte {
	SG_CTE_IDENTITY = 0,	/* 7bit, 8bit, binary, absent */
	SG_CTE_BASE64,
	SG_CTE_QP,
	SG_CTE_UNKNOWN
};
enum sg_cte sg_mime_parse_cte(const struct sg_slice *value);

/*
 * Split a multipart body.  Fills at most max_parts slices (the part
 * contents: headers + body, without the line break before the next
 * delimiter).  A delimiter is a whole line "--boundary" or
 * "--boundary--" with optional transport padding; a line that only
 * starts with "--boundary" is counted in stray (Dovecot and OpenSSL take
 * it for a delimiter, Python and Thunderbird do not).
 */
struct sg_split {
	size_t n_parts;		/* parts seen (may exceed max_parts) */
	bool closed;		/* the close delimiter was found */
	size_t stray;		/* lines that only start like a delimiter */
	struct sg_slice preamble;	/* before the first delimiter */
	struct sg_slice epilogue;	/* after the close delimiter */
};
void sg_mime_split(const unsigned char *body, size_t len,
		   const char *boundary, struct sg_slice *parts,
		   size_t max_parts, struct sg_split *split_r);

/* canonical CRLF form: if in has bare LFs, *out is a malloc'd copy
   (and *out_len its length) else *out = NULL.  -1 on ENOMEM. */
int sg_mime_canon_crlf(const unsigned char *in, size_t len,
		       unsigned char **out_r, size_t *out_len_r);

/* ---- mime-addr.c ---- */
/* what a From (or Sender) field holds, read strictly (doc/DESIGN.md 3.7) */
enum sg_from {
	SG_FROM_OK = 0,		/* exactly one plain mailbox: addr set */
	SG_FROM_EMPTY,		/* no mailbox */
	SG_FROM_LIST,		/* two or more mailboxes, or a group */
	SG_FROM_AMBIGUOUS	/* readers could name different addresses */
};
/* *why_r is a static sentence for LIST and AMBIGUOUS, else NULL */
enum sg_from sg_mime_parse_from(const struct sg_slice *value, char *addr,
				size_t addr_size, const char **why_r);

/* ---- base64.c ---- */
/* decode, skipping whitespace; -1 on an invalid character.
   out must have room for (len / 4 + 1) * 3 bytes. */
int sg_b64_decode(const unsigned char *in, size_t len,
		  unsigned char *out, size_t *out_len_r);

/* ---- keyd-client.c ---- */
/*
 * sg_keyd_ask - ask smime-keyd (ctx->keyd_socket, at most
 * ctx->keyd_timeout_ms) for the verdict of the encrypted message msg
 * (len bytes) of owner; *res is the local verdict ("encrypted").  On a
 * verdict of the inner signature *res is replaced by it (with *res's
 * encryption details); otherwise *res stays and its detail says why.
 */
void sg_keyd_ask(struct sg_ctx *ctx, const char *owner,
		 const unsigned char *msg, size_t len, struct sg_result **res);
/*
 * sg_keyd_parse_reply - the result a reply of smime-keyd (reply, len
 * bytes, up to its empty line) gives when the local verdict is local:
 * 1 and *res_r (an encrypted+signed/* verdict), 0 when keyd could not
 * say (why: its detail or status), -1 when the reply is not one (why).
 */
int sg_keyd_parse_reply(const char *reply, size_t len,
			const struct sg_result *local, struct sg_result **res_r,
			char *why, size_t why_size);

/* ---- trust.c: the context ---- */
struct sg_cert_cache;
struct sg_chain_cache;
struct sg_certmaps;

struct sg_ctx {
	X509_STORE *store;			/* anchors only */
	STACK_OF(X509) *intermediates;		/* configured, untrusted */
	STACK_OF(X509_CRL) *crls;		/* configured CRLs */
	STACK_OF(ASN1_OBJECT) *policies;	/* required policies or NULL */
	enum sg_revocation revocation;
	enum sg_binding binding;
	bool allow_sha1;
	struct sg_limits limits;
	size_t n_anchors;
	char anchor_fpr[65];			/* hex SHA-256 of the set */
	time_t crl_window_start;		/* max lastUpdate of CRLs */
	time_t crl_window_end;			/* min nextUpdate (or max) */
	struct sg_cert_cache *cert_cache;
	struct sg_chain_cache *chain_cache;
	struct sg_certmaps *certmaps;		/* certificate_maps, harvest_map */
	size_t harvest_max_per_address;		/* harvest caps */
	size_t harvest_max_total;
	unsigned char (*pinned)[32];		/* pinned_certificates: sorted
						   SHA-256 of their DER */
	size_t n_pinned;
	struct sg_icache *icache;		/* intermediate_cache or NULL */
	char *temp_dir;				/* temp_directory: where
						   sg_verify_update() spills */
	char *keyd_socket;			/* keyd_socket, "": off */
	unsigned int keyd_timeout_ms;		/* keyd_timeout */
	/* who may serve keyd_socket besides root: keyd_user's uid, or
	   (uid_t)-1 when there is no such user here */
	uid_t keyd_uid;
	char *keyd_user;
	/* Many threads may verify against one context at once.  Everything
	   above is read-only after sg_ctx_new() but what lock guards: the
	   certificate and chain caches, intermediates (which only grow: a
	   pointer taken from it stays valid while the context lives), crls
	   and icache.  Recursive.  The certificate maps have a lock per map
	   (certmap.c), always taken before this one, never after. */
	pthread_mutex_t lock;
	bool lock_ready;
};
/* a mutex of the core (aborts if it is broken: a caller bug) */
static inline void sg_mutex_lock(pthread_mutex_t *m)
{
	int r = pthread_mutex_lock(m);

	sg_assert(r == 0);
	(void)r;
}

static inline void sg_mutex_unlock(pthread_mutex_t *m)
{
	int r = pthread_mutex_unlock(m);

	sg_assert(r == 0);
	(void)r;
}

/* the context's lock; inline, so that the modules below ctx.c need
   nothing of it */
static inline void sg_ctx_lock(struct sg_ctx *ctx)
{
	sg_mutex_lock(&ctx->lock);
}

static inline void sg_ctx_unlock(struct sg_ctx *ctx)
{
	sg_mutex_unlock(&ctx->lock);
}

/* a recursive mutex; -1 when it cannot be made */
static inline int sg_mutex_init_recursive(pthread_mutex_t *m)
{
	pthread_mutexattr_t attr;
	int ok;

	if (pthread_mutexattr_init(&attr) != 0)
		return -1;
	ok = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE) == 0 &&
	     pthread_mutex_init(m, &attr) == 0;
	pthread_mutexattr_destroy(&attr);
	return ok ? 0 : -1;
}
/* crl.c: write_pem(bio, obj) into dir/name atomically (hidden temporary
   file, fsync, rename; mode 0644); the path written in path */
int sg_write_pem_atomic(const char *dir, const char *name,
			int (*write_pem)(BIO *, const void *), const void *obj,
			char *path, size_t path_size, struct sg_error *err_r);

/* icache.c: intermediate_cache and aia_fetch.  open reads the
   settings and the cache directory (certificates go to
   ctx->intermediates); learn caches the CAs of a verified path (chain:
   leaf first, anchor last); complete finds, queues or fetches the issuer
   of a certificate whose issuer is missing, and returns true when one
   was added to ctx->intermediates (then the path is worth rebuilding) */
int sg_icache_open(struct sg_ctx *ctx, const struct sg_config *conf,
		   struct sg_error *err_r);
void sg_icache_free(struct sg_ctx *ctx);
void sg_icache_learn(struct sg_ctx *ctx, STACK_OF(X509) *chain);
bool sg_icache_complete(struct sg_ctx *ctx, X509 *orphan);
/* the first http:// caIssuers URL of x; false when it names none */
bool sg_icache_url(X509 *x, char *url, size_t size);

/* trust.c: certificates or CRLs of every file of a list setting */
int sg_trust_load_list(const char *list, bool want_crl, STACK_OF(X509) *certs,
		       STACK_OF(X509_CRL) *crls, struct sg_error *err_r);
/* the context's certificate and chain caches; -1 on ENOMEM */
int sg_trust_caches_new(struct sg_ctx *ctx);
void sg_trust_caches_free(struct sg_ctx *ctx);
/* is this DER certificate one of pinned_certificates */
/* pinned_certificates (a list setting's value) into ctx->pinned */
int sg_trust_load_pinned(struct sg_ctx *ctx, const char *list,
			 struct sg_error *err_r);
bool sg_trust_is_pinned(const struct sg_ctx *ctx, const unsigned char *der,
			size_t len);

/* chain validation of one signer certificate */
struct sg_chain_verdict {
	uint32_t reasons;
	uint32_t info;			/* weakness allowed by configuration
					   (weak-algorithm, weak-key) */
	char detail[160];		/* first OpenSSL error, readable */
	/* reasons == 0: the result holds for valid_from <= at < valid_until
	   (every certificate of the chain and, when revocation is checked,
	   every configured CRL current) */
	time_t valid_from, valid_until;
};
void sg_trust_verify_chain(struct sg_ctx *ctx, X509 *signer,
			   STACK_OF(X509) *msg_certs,
			   STACK_OF(X509_CRL) *msg_crls, time_t at,
			   struct sg_chain_verdict *v_r);

/* what a chain is validated for: SIGN is S/MIME signing (what
   sg_trust_verify_chain does); ENCRYPT checks the CAs for S/MIME and
   leaves the leaf's key usage to the caller (keyAgreement for EC) */
enum sg_chain_purpose {
	SG_CHAIN_SIGN = 0,
	SG_CHAIN_ENCRYPT
};
void sg_trust_verify_chain_for(struct sg_ctx *ctx, X509 *cert,
			       STACK_OF(X509) *msg_certs,
			       STACK_OF(X509_CRL) *msg_crls, time_t at,
			       enum sg_chain_purpose purpose,
			       struct sg_chain_verdict *v_r);

/* cert cache: decode DER once per context; returned X509 has its own
   reference (X509_free it) or NULL on a decoding error */
X509 *sg_trust_cert_from_der(struct sg_ctx *ctx, const unsigned char *der,
			     size_t len);

/* ---- result.c ---- */
/* per signer, beside the public struct sg_signer */
struct sg_res_signer_priv {
	const unsigned char *der;	/* signer certificate (arena), or NULL */
	size_t der_len;
	bool bound;			/* its certificate names From (or Sender
					   in relaxed mode) */
};

struct sg_result {
	enum sg_status status;
	unsigned int keywords;
	uint32_t reasons;
	char *detail;
	char *from;
	struct sg_signer *signers;
	struct sg_res_signer_priv *signers_priv;	/* parallel to signers */
	size_t n_signers, signers_size;
	struct sg_encryption enc;
	bool has_enc;
	struct sg_recipient *recipients;
	size_t recipients_size;
	/* string arena */
	struct sg_res_block *strings;
	struct sg_buf detail_buf;
	bool nomem;
};

struct sg_result *sg_res_new(void);
/* copy a string into the result's arena; returns "" on ENOMEM (sets nomem) */
const char *sg_res_strdup(struct sg_result *res, const char *s);
const char *sg_res_strndup(struct sg_result *res, const char *s, size_t n);
struct sg_signer *sg_res_add_signer(struct sg_result *res);
/* keep the DER of the last added signer's certificate */
void sg_res_set_signer_cert(struct sg_result *res, X509 *cert);
/* mark the last added signer as bound to the sender address */
void sg_res_set_signer_bound(struct sg_result *res);
struct sg_recipient *sg_res_add_recipient(struct sg_result *res);
void sg_res_add_detail(struct sg_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* finish: derive status keywords, compose detail */
void sg_res_finish(struct sg_result *res);
/* sg_res_copy_encryption - res gets src's encryption details (copies) */
void sg_res_copy_encryption(struct sg_result *res, const struct sg_result *src);
/* sg_res_note - one more sentence on a finished result's detail */
void sg_res_note(struct sg_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* sg_res_set_from - the bound From of a result built by hand */
void sg_res_set_from(struct sg_result *res, const char *from);

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

/*
 * sg_verify_decrypted - the verdict of decrypted content (inner,
 * inner_len: the MIME entity an EnvelopedData held), the signer bound to
 * the From of the encrypted message's header (outer, outer_len: the
 * encrypted message or at least its header).  A From field of the inner
 * entity must name the same address, else the signature fails
 * (sender-mismatch).  Return value as sg_verify_message (verify.c).
 */
int sg_verify_decrypted(struct sg_ctx *ctx, const unsigned char *outer,
			size_t outer_len, const unsigned char *inner,
			size_t inner_len, time_t at, struct sg_result **res_r,
			struct sg_error *err_r);

/* the layered walk (verify.c) */
void sg_verify_entity(struct sg_verify_state *st, const unsigned char *p,
		      size_t len, unsigned int depth);
void sg_verify_cms_object(struct sg_verify_state *st, const unsigned char *der,
			  size_t len, const unsigned char *detached,
			  size_t detached_len, unsigned int depth);

/* name helpers (names.c) */
bool sg_reason_is_definitive(enum sg_reason r);

/* json.c: a JSON string (quoted, escaped, invalid UTF-8 -> U+FFFD) */
int sg_json_str(struct sg_buf *out, const char *s);
/* json.c: a JSON array of reason tokens */
int sg_json_reasons(struct sg_buf *out, uint32_t reasons);

/* time.c: "2026-11-28T10:00:00Z" (buf of at least 32 bytes) */
void sg_time_iso(time_t t, char *buf, size_t size);
/* time.c: an ASN1_TIME as time_t; 0 when absent or unreadable */
time_t sg_asn1_time(const ASN1_TIME *t);

/* ---- x509-util.c: what the core reads out of certificates ---- */
/* e-mail addresses of a certificate: SAN rfc822Names, or the subject
   emailAddress when there are none.  Returns count (<= max). */
size_t sg_cert_emails(X509 *cert, char addrs[][320], size_t max);
/* a name as RFC 2253 text, cut to size */
void sg_name_oneline(const X509_NAME *name, char *buf, size_t size);
/* sg_asn1_time(), with dflt for an absent time */
time_t sg_trust_asn1_time(const ASN1_TIME *t, time_t dflt);


/* ---- maps.c: the map layer (open / lookup / find / refresh / close) ----
 *
 * One struct sg_map_type_def per map type, defined in the type's own file
 * (certmap-dir.c: sg_map_type_dir, map-texthash.c: sg_map_type_texthash,
 * certmap-ldap.c: sg_map_type_ldap) and listed in map-types.c; nothing
 * else names a type.  A new type is its file and its lines in that
 * list (and in Makefile.am).
 */
/* what a map is opened to answer */
#define SG_MAP_USE_CERTS 1u		/* certificates of an address */
#define SG_MAP_USE_TEXT 2u		/* a text value of a key */
struct sg_map;
struct sg_dirmap;
struct sg_dirmap_cert;
struct sg_ldapmap;
/* one entry of a map held in memory; where: "PATH, line N" (or what
   names the entry in the type's terms).  0, or -1 with err_r to stop */
typedef int sg_map_entry_fn(void *context, const char *key,
			    const char *value, const char *where,
			    struct sg_error *err_r);

struct sg_map_type_def {
	const char *name;		/* "dir": entries are dir:NAME */
	unsigned int uses;		/* SG_MAP_USE_*: what it can answer */
	/* NULL: this build has the type.  Else how to get it, e.g.
	   " (libldap-dev, configure --with-ldap)"; the operations are NULL */
	const char *not_built;
	const char *label;		/* "a LABEL map", "without LABEL support" */
	const char *no_name;		/* what "TYPE:" alone lacks: "names no
					   directory" */
	/* NAME is a file or directory the map reads: sg_config_check_modes
	   checks it, sg_config_stamp stamps it unless the type refreshes
	   itself */
	bool name_is_path;
	/* a lookup may wait for a server (smime-policyd moves such lookups
	   to its lookup thread: sg_config_maps_wait) */
	bool waits;

	/* check NAME without opening anything (config.c, at every set):
	   0, or -1 with err_r; NULL: any NAME will do until opened */
	int (*check_name)(const char *name, struct sg_error *err_r);
	/* read what NAME names for use; nothing is contacted yet */
	int (*open)(const char *name, unsigned int use, void **obj_r,
		    struct sg_error *err_r);
	/* SG_MAP_USE_TEXT: 1 and the value in value (size bytes), 0, -1 */
	int (*lookup)(void *obj, const char *key, char *value, size_t size,
		      struct sg_error *err_r);
	/* SG_MAP_USE_CERTS (refreshing first): 0 and *certs_r/*n_r, or -1 */
	int (*find)(void *obj, const char *addr,
		    struct sg_dirmap_cert *const **certs_r, size_t *n_r,
		    struct sg_error *err_r);
	/* re-read the source now (NULL: the map never changes once open) */
	int (*refresh)(void *obj, bool force, struct sg_error *err_r);
	/* every entry of a map held in memory, in order (NULL: none such) */
	int (*each)(void *obj, sg_map_entry_fn *fn, void *context,
		    struct sg_error *err_r);
	/* every certificate the map holds, without a lookup (the inventory
	   of smimectl report; NULL: it cannot tell) */
	int (*each_cert)(void *obj,
			 void (*fn)(const struct sg_dirmap_cert *c, void *context),
			 void *context, struct sg_error *err_r);
	/* the entry a found certificate came from and its SG_LDAP_ATTR_*
	   classes (smimectl doctor; NULL: the type keeps no such origin) */
	void (*origin)(const struct sg_dirmap_cert *c, const char **entry_r,
		       unsigned int *classes_r);
	/* the store harvested certificates are written to (NULL: the type
	   cannot be harvest_map) */
	struct sg_dirmap *(*store)(void *obj);
	/* smimectl doctor, without the network: can spec (setting's entry
	   TYPE:NAME) be used?  0 yes; 1 no: the finding's text and how to
	   fix it in text and fix; -1 with err_r (out of memory).  NULL: no
	   such check */
	int (*diagnose)(const char *setting, const char *spec, const char *name,
			unsigned int use, char *text, size_t text_size,
			char *fix, size_t fix_size, struct sg_error *err_r);
	void (*close)(void **obj);
};
/* map-types.c: every type, NULL-terminated, and the type of an entry of
   encryption_policy_maps that is a plain path (texthash) */
extern const struct sg_map_type_def *const sg_map_types[];
extern const struct sg_map_type_def *const sg_map_type_plain_text;

/* the next entry of a map list (sg_list_next: "inline:{ a, b }" is one
   entry) into item (size bytes); *long_r when it was cut */
bool sg_map_list_next(const char **cursor, char *item, size_t size,
		      bool *long_r);
/* one entry of setting, to be opened for use (SG_MAP_USE_*; for text a
   plain path is sg_map_type_plain_text): 0, *def_r and *name_r (in
   spec), or -1 with err_r (not TYPE:NAME, an unknown type, one this
   build has not, one that cannot answer use, NAME missing or refused by
   the type's check_name) */
int sg_map_parse(const char *setting, const char *spec, unsigned int use,
		 const struct sg_map_type_def **def_r, const char **name_r,
		 struct sg_error *err_r);
/* check a map list for use: every entry as sg_map_parse says; harvest:
   one entry, of a type with a store (harvest_map).  0 or -1 */
int sg_map_check_list(const char *setting, const char *value,
		      unsigned int use, bool harvest, struct sg_error *err_r);
/* does a map of the list setting names wait for a server (waits)? */
bool sg_map_list_waits(const char *value);
/* open one TYPE:NAME entry of setting for use (SG_MAP_USE_*): 0, or -1
   with err_r (as sg_map_parse, or a map that cannot be read) */
int sg_map_open(const char *setting, const char *spec, unsigned int use,
		struct sg_map **map_r, struct sg_error *err_r);
void sg_map_close(struct sg_map **map);
const char *sg_map_spec(const struct sg_map *m);	/* "TYPE:NAME" */
const char *sg_map_name(const struct sg_map *m);	/* NAME */
const struct sg_map_type_def *sg_map_def(const struct sg_map *m);
/* the store of a type that has one (harvest), else NULL */
struct sg_dirmap *sg_map_store(const struct sg_map *m);
/* the map's lock (recursive): held around sg_map_find_certs and the use
   of what it found */
void sg_map_lock(struct sg_map *m);
void sg_map_unlock(struct sg_map *m);
pthread_mutex_t *sg_map_mutex(struct sg_map *m);
/* SG_MAP_USE_TEXT: the value of key (a lower-case key), copied into
   value (size bytes) under the map's lock.  1 found, 0 not found, -1
   with err_r: never "not found" when the map could not answer */
int sg_map_lookup(struct sg_map *m, const char *key, char *value, size_t size,
		  struct sg_error *err_r);
/* SG_MAP_USE_CERTS, under sg_map_lock: the certificates of addr
   (refreshed first when the source changed), borrowed until the next
   find or the unlock; 0 (also when none), or -1 with err_r */
int sg_map_find_certs(struct sg_map *m, const char *addr,
		      struct sg_dirmap_cert *const **certs_r, size_t *n_r,
		      struct sg_error *err_r);
/* under sg_map_lock: where a certificate sg_map_find_certs returned
   came from (entry, SG_LDAP_ATTR_* classes); false when the type keeps
   no origin */
bool sg_map_origin(const struct sg_map *m, const struct sg_dirmap_cert *c,
		   const char **entry_r, unsigned int *classes_r);
/* re-read the source now when the type can (dir:); 0 or -1 */
int sg_map_refresh(struct sg_map *m, bool force, struct sg_error *err_r);
/* every entry of a map held in memory (texthash:, inline:), in order: 1
   when fn took them all, 0 when the type has no such list (ldap:), -1
   when fn said -1 */
int sg_map_each(struct sg_map *m, sg_map_entry_fn *fn, void *context,
		struct sg_error *err_r);
/* every certificate a map holds (refreshed first): 1 when fn saw them
   all, 0 when the type cannot list them (ldap:), -1 with err_r when the
   source cannot be read */
int sg_map_each_cert(struct sg_map *m,
		     void (*fn)(const struct sg_dirmap_cert *c, void *context),
		     void *context, struct sg_error *err_r);

/* ---- map-texthash.c: the texthash: map (a file of "key value" lines) ---- */
struct sg_texthash;
/* read path: logical lines as Postfix's postmap input (a line that
   starts with white space continues the one before, '#' comments), the
   first word the key (lower-cased), the rest the value; a key without a
   value is kept with "" (the caller says what is missing).  0, or -1
   with err_r (SG_ERR_IO: cannot read it; SG_ERR_CONFIG: "PATH, line N:
   ...") */
int sg_texthash_new(const char *path, struct sg_texthash **th_r,
		    struct sg_error *err_r);
void sg_texthash_free(struct sg_texthash **th);
/* 1 and the value of the first line with key, 0, or -1 (value longer
   than size) */
int sg_texthash_lookup(struct sg_texthash *th, const char *key, char *value,
		       size_t size, struct sg_error *err_r);
int sg_texthash_each(struct sg_texthash *th, sg_map_entry_fn *fn,
		     void *context, struct sg_error *err_r);

/* ---- certmap.c: certificate_maps and harvest_map of a context ---- */
int sg_cmap_new(const struct sg_config *conf, struct sg_certmaps **maps_r,
		struct sg_error *err_r);
void sg_cmap_free(struct sg_certmaps **maps);

/* ---- certmap-dir.c: the dir: map ---- */
struct sg_dirmap;
struct sg_csel_eval;

/* one certificate of a dir: map; valid until the next refresh */
struct sg_dirmap_cert {
	const unsigned char *der;
	size_t der_len;
	unsigned char fpr[32];		/* SHA-256 of der */
	time_t not_before;
	const char *source;		/* dir: the file name inside the
					   directory; ldap: "URL ATTRS DN" */
	const char *emails;		/* its addresses as written, ", " list */
	const char *entry_addrs;	/* ldap: the addresses of the entry that
					   holds it (address_attribute), ", "
					   list; NULL for dir: */
	/* cached evaluation (cert-select.c): one malloc'd block, freed
	   with free() by the map when it drops the certificate, so the
	   maps call nothing of certificate selection */
	struct sg_csel_eval *eval;
};

struct sg_dirmap *sg_dirmap_new(const char *path);
void sg_dirmap_free(struct sg_dirmap **dm);
const char *sg_dirmap_path(const struct sg_dirmap *dm);
/* re-read the directory when it changed (checked at most once a second,
   every file re-examined at least once a minute; force: now).
   0 ok, -1 the directory cannot be read (err_r) */
int sg_dirmap_refresh(struct sg_dirmap *dm, bool force,
		      struct sg_error *err_r);
/* make the next refresh rescan whatever the clock says */
void sg_dirmap_invalidate(struct sg_dirmap *dm);
/* certificates indexed under addr (any case): *certs_r, *n_r of them,
   borrowed until the next find or refresh; 0, or -1 on out of memory */
int sg_dirmap_find(struct sg_dirmap *dm, const char *addr,
		   struct sg_dirmap_cert *const **certs_r, size_t *n_r);
/* ---- der-scan.c ---- */
/* a DER walk: the next element of d (definite lengths only): its tag and
   content; -1 when malformed */
struct sg_der {
	const unsigned char *p, *end;
};
int sg_der_next(struct sg_der *d, unsigned int *tag_r, struct sg_der *content_r);
bool sg_der_is(const struct sg_der *d, const unsigned char *bytes, size_t n);
#define SG_DER_MAX_ADDRS 32		/* indexed per certificate */
#define SG_DER_ADDR_SIZE 320
struct sg_der_addrs {
	char a[SG_DER_MAX_ADDRS][SG_DER_ADDR_SIZE];
	size_t n;
};
/* the length, notBefore and addresses (subject emailAddress, SAN
   rfc822Name and SmtpUTF8Mailbox, as written) of the DER certificate at
   der (len bytes available); -1 when it is not one */
int sg_der_scan_cert(const unsigned char *der, size_t len, size_t *cert_len_r,
		     time_t *not_before_r, struct sg_der_addrs *al);
/* the addresses a map files a DER certificate under (as written) */
size_t sg_dirmap_cert_addrs(const unsigned char *der, size_t len,
			    char addrs[][320], size_t max);
size_t sg_dirmap_count(const struct sg_dirmap *dm);
/* files the last rescan read from disk; *from_index_r: the records the
   first load took from DIR/.sg-index */
size_t sg_dirmap_files_read(const struct sg_dirmap *dm, size_t *from_index_r);
/* every certificate of the map as last read (refresh first), in file
   name order */
void sg_dirmap_each(const struct sg_dirmap *dm,
		    void (*fn)(const struct sg_dirmap_cert *c, void *context),
		    void *context);
/* lower-case an address for the index; false when it cannot be one */
bool sg_dirmap_norm_addr(const char *in, char *out, size_t size);

/* ---- cert-select.c: is a certificate usable to encrypt to? ---- */
struct sg_csel_info {
	char subject[512];
	char issuer[512];
	char serial[80];		/* hex, as struct sg_signer */
	char ski[129];			/* hex or "" */
	char key[48];			/* "RSA-2048", "EC-prime256v1" */
	char key_usage[160];		/* "keyEncipherment, ...; EKU ..." */
	time_t not_before, not_after;
	uint32_t reasons;		/* empty: usable */
	bool pinned;			/* accepted as pinned_certificates */
	char detail[512];		/* human sentences */
};
/* evaluate a dir: map certificate at time at, using and filling its
   cached evaluation */
void sg_csel_eval_entry(struct sg_ctx *ctx, struct sg_dirmap_cert *c,
			time_t at, struct sg_csel_info *info_r);
/* evaluate a decoded certificate (no caching) */
void sg_csel_eval_cert(struct sg_ctx *ctx, X509 *cert, time_t at,
		       struct sg_csel_info *info_r);
/* the reason that explains a rejection best */
enum sg_reason sg_csel_main_reason(uint32_t reasons);

/* ---- certmap.c for harvest.c and doctor.c ---- */
/* the dir: map of harvest_map, or NULL when harvesting is off */
struct sg_dirmap *sg_cmap_harvest_map(struct sg_certmaps *maps);
/* the harvest map's lock: held while its state or what it found is used */
void sg_cmap_harvest_lock(struct sg_certmaps *maps);
void sg_cmap_harvest_unlock(struct sg_certmaps *maps);
/* the maps of certificate_maps, in order: count, "TYPE:NAME", and the
   map of entry i */
size_t sg_cmap_count(const struct sg_certmaps *maps);
const char *sg_cmap_spec(const struct sg_certmaps *maps, size_t i);
struct sg_map *sg_cmap_map(const struct sg_certmaps *maps, size_t i);
/* ---- certmap-ldap-decode.c: certificates from LDAP values ---- */
/* which attribute a certificate came from (bits) */
#define SG_LDAP_ATTR_SMIME 1u		/* userSMIMECertificate[;binary] */
#define SG_LDAP_ATTR_CERT 2u		/* userCertificate[;binary] */
#define SG_LDAP_ATTR_OTHER 4u		/* another result_attribute */
#define SG_LDAP_MAX_VALUE (1024 * 1024)	/* larger: not a certificate */
#define SG_LDAP_MAX_CANDS 64		/* candidates per entry/answer */
#define SG_LDAP_MAX_ADDRS 32		/* addresses shown per certificate */
/* one candidate of an answer */
struct sg_ldap_cand {
	struct sg_dirmap_cert pub;	/* first: what the map lookup returns */
	unsigned int classes;		/* SG_LDAP_ATTR_* */
	const char *dn;
	/* source, dn, emails and DER follow */
};
/* the candidates of an answer; pubs[i] is &certs[i]->pub */
struct sg_ldap_cands {
	struct sg_ldap_cand **certs;
	struct sg_dirmap_cert **pubs;
	size_t n;
};
struct sg_ldap_pend;
/* collect one entry's values (NULL on out of memory) */
struct sg_ldap_pend *sg_ldap_pend_new(void);
/* add the certificates of one value of attribute attr; values that are
   not certificates are ignored; 0, or -1 on out of memory */
int sg_ldap_pend_value(struct sg_ldap_pend *pl, const unsigned char *val,
		       size_t len, const char *attr);
/* add one value of an address_attribute of the entry ("smtp:" prefix
   dropped; values that are no address are ignored); 0, or -1 on ENOMEM */
int sg_ldap_pend_address(struct sg_ldap_pend *pl, const unsigned char *val,
			 size_t len);
/* move the collected certificates of entry dn (from server url) into
   out and start over; 0, or -1 on out of memory */
int sg_ldap_pend_finish(struct sg_ldap_pend *pl, struct sg_ldap_cands *out,
			const char *url, const char *dn);
void sg_ldap_pend_free(struct sg_ldap_pend **pl);
void sg_ldap_cands_clear(struct sg_ldap_cands *c);

/* ---- certmap-ldap.c: the ldap: map (built when HAVE_LDAP) ---- */
/* read and check the map file path for use (SG_MAP_USE_CERTS: the
   certificates of an address; SG_MAP_USE_TEXT: a text value of a key,
   result_attribute required); nothing is contacted yet.  0, or -1 with
   err_r naming the file and line */
int sg_ldapmap_new(const char *path, unsigned int use,
		   struct sg_ldapmap **lm_r, struct sg_error *err_r);
/* SG_MAP_USE_TEXT: the value of key (from the cache or a search): 1 and
   value, 0 when no entry has one (or key is outside `domain`), -1 with
   err_r: no server answered (SG_ERR_IO), or what the entries hold is
   not one value that fits (SG_ERR_CONFIG) */
int sg_ldapmap_lookup(struct sg_ldapmap *lm, const char *key, char *value,
		      size_t size, struct sg_error *err_r);
void sg_ldapmap_free(struct sg_ldapmap **lm);
const char *sg_ldapmap_path(const struct sg_ldapmap *lm);
/* the certificates of addr (lower-cased), from the cache or a search:
   *certs_r/*n_r borrowed until the next find; 0 (also when none), -1 a
   temporary error (no server answered, out of memory) */
int sg_ldapmap_find(struct sg_ldapmap *lm, const char *addr,
		    struct sg_dirmap_cert *const **certs_r, size_t *n_r,
		    struct sg_error *err_r);
/* the entry DN and the SG_LDAP_ATTR_* bits of a certificate returned by
   sg_ldapmap_find (borrowed like it) */
void sg_ldapmap_origin(const struct sg_dirmap_cert *c, const char **dn_r,
		       unsigned int *classes_r);
/* query_filter for addr, every value RFC 4515 escaped, into out
   (NUL-terminated): 0; 1 when the address cannot fill it (%d and no
   domain: no query); -1 out of memory */
int sg_ldapmap_filter(const char *tmpl, const char *addr, struct sg_buf *out);

/* ---- policy-addr.c: envelope addresses as Postfix routes them ---- */
#define SG_ROUTE_MAX_HOPS 8
struct sg_route {
	size_t n;			/* hops, >= 1 when SG_ADDRESS_OK */
	char hop[SG_ROUTE_MAX_HOPS][SG_ADDRESS_MAX + 1];
};
/* follow addr (no angle brackets) through Postfix's routing of its
   local part; every hop has a domain.  SG_ADDRESS_OK, or why says why not
   (a sentence). */
enum sg_address_status sg_addr_route(const char *addr, struct sg_route *r,
				     char *why, size_t why_size);

/* ---- trust.c for doctor.c ---- */
/* all certificates (or CRLs) of one PEM or DER file; *n_r of them.
   0, or -1 (SG_ERR_IO: cannot read it; SG_ERR_NOMEM) */
int sg_trust_load_file(const char *path, bool want_crl, STACK_OF(X509) *certs,
		       STACK_OF(X509_CRL) *crls, size_t *n_r,
		       struct sg_error *err_r);


/* ---- keystore-format.c: the keystore's files (DESIGN.md "Keystore") ---- */
#define SG_KS_KEY_SIZE 32	/* master and data keys */
#define SG_KS_ID_SIZE 8		/* master key id */
#define SG_KS_ADDR_SIZE 320	/* an address and its NUL */
#define SG_KS_MAX_ADDRS 16	/* addresses one key file is bound to */

struct sg_master {
	unsigned char *key;		/* SG_KS_KEY_SIZE, sodium_malloc()ed */
	unsigned char id[SG_KS_ID_SIZE];
	bool passphrase;		/* Argon2id: the parameters below */
	unsigned char salt[16];
	uint64_t opslimit, memlimit;
};

/* a parsed key file: pointers into the caller's buffer */
struct sg_ksf {
	const unsigned char *header;	/* the associated data */
	size_t header_len;
	time_t stored;
	unsigned char fpr[32];
	char addrs[SG_KS_MAX_ADDRS][SG_KS_ADDR_SIZE];	/* sorted, lower case */
	size_t n_addrs;
	const unsigned char *certs;	/* certificate, chain: DER */
	size_t certs_len;
	size_t wrap_offset;		/* the wrap section (master id first) */
	unsigned char master_id[SG_KS_ID_SIZE];
	const unsigned char *wrap_nonce, *wrapped_dk;
	const unsigned char *nonce, *ct;
	size_t ct_len;
};
/* check the structure of a key file (no cryptography): 0, or -1 with
   SG_ERR_FORMAT saying what is wrong (magic, version, algorithms,
   truncated, trailing bytes) */
int sg_ksf_parse(const unsigned char *buf, size_t len, struct sg_ksf *f_r,
		 struct sg_error *err_r);
/* a new key file for plaintext pt (a DER private key) into out: a fresh
   data key encrypts pt with the header as associated data; m wraps the
   data key (associated data: header and master id).  addrs sorted, lower
   case (sg_ks_addr_ok). */
int sg_ksf_seal(const struct sg_master *m, const unsigned char fpr[32],
		const char *const *addrs, size_t n_addrs,
		const unsigned char *certs, size_t certs_len, time_t stored,
		const unsigned char *pt, size_t pt_len, struct sg_buf *out,
		struct sg_error *err_r);
/* the plaintext of a parsed key file (sodium_malloc()ed: sodium_free
   it) or -1 with SG_ERR_AUTH (another master, altered) */
int sg_ksf_open(const struct sg_master *m, const struct sg_ksf *f,
		unsigned char **pt_r, size_t *pt_len_r, struct sg_error *err_r);
/* rewrap the data key of f (parsed from buf) from old to new_m, in buf */
int sg_ksf_rewrap(const struct sg_master *old, const struct sg_master *new_m,
		  const struct sg_ksf *f, unsigned char *buf,
		  struct sg_error *err_r);
/* an address as key files hold it: lower case, no controls or spaces,
   one '@' inside */
bool sg_ks_addr_ok(const char *a, size_t len);
/* data into path (mode 0600) through a temporary file, fsync, rename
   (link when !replace: an existing path is refused) */
int sg_ks_write_atomic(const char *path, const unsigned char *data,
		       size_t len, bool replace, struct sg_error *err_r);
/* fd (path) is a regular file (dir: a directory) that group and others
   cannot access, owned by this user or root; -1 with SG_ERR_PERM and
   the chmod that fixes it */
int sg_ks_check_private(int fd, const char *path, bool dir,
			struct sg_error *err_r);

#endif
