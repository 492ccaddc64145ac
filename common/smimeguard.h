/*
 * smimeguard.h - the one public header of libsmimeguard
 *
 * libsmimeguard verifies S/MIME mail on behalf of a mail server: it finds the
 * S/MIME layer at the root of a message, verifies CMS signatures against the
 * organisation's trust store and CRLs, binds the signer to the From address
 * and returns a verdict (status, IMAP keywords, reason tokens, per-signer
 * detail, encryption detail).  See DESIGN.md sections 2 and 3.
 *
 * Conventions:
 *  - Opaque handles; every buffer travels with its length.
 *  - Functions that can fail return 0 on success and -1 on error and fill a
 *    caller-owned struct sg_error.  Tri-state lookups return 1/0/-1.
 *  - Passing NULL handles or impossible lengths is a caller bug and aborts.
 *  - The library never logs, never exits and keeps no global state beyond
 *    sg_init().  Objects are not shared between threads without locking;
 *    a struct sg_ctx is used by one thread at a time.
 *
 * No OpenSSL, libsodium or Dovecot types appear in this header.
 */
#ifndef SMIMEGUARD_H
#define SMIMEGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SG_API __attribute__((visibility("default")))
#define SG_WUR __attribute__((warn_unused_result))
#else
#define SG_API
#define SG_WUR
#endif

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

enum sg_error_code {
	SG_ERR_NONE = 0,
	SG_ERR_INVALID,		/* bad value (setting, argument text) */
	SG_ERR_IO,		/* a file could not be read */
	SG_ERR_CONFIG,		/* configuration is inconsistent */
	SG_ERR_NOMEM,		/* out of memory */
	SG_ERR_CRYPTO,		/* OpenSSL failed in a way not tied to input */
	SG_ERR_INTERNAL
};

struct sg_error {
	enum sg_error_code code;
	char msg[256];		/* NUL-terminated, printable ASCII */
};

/* ------------------------------------------------------------------ */
/* Library initialisation                                              */
/* ------------------------------------------------------------------ */

/*
 * sg_init - one-time library setup (OpenSSL and libsodium)
 * Return value: 0 on first success, 1 when already done, -1 on failure.
 * Safe to call more than once; call before any other function.
 */
SG_API int sg_init(void);

/* sg_version - the library version string, e.g. "0.1.0" */
SG_API const char *sg_version(void);

/* ------------------------------------------------------------------ */
/* The verdict vocabulary (DESIGN.md section 2)                        */
/* ------------------------------------------------------------------ */

enum sg_status {
	SG_STATUS_NONE = 0,			/* "none" */
	SG_STATUS_SIGNED,			/* "signed" (inconclusive) */
	SG_STATUS_SIGNED_VERIFIED,		/* "signed/verified" */
	SG_STATUS_SIGNED_FAILED,		/* "signed/failed" */
	SG_STATUS_ENCRYPTED,			/* "encrypted" */
	SG_STATUS_ENCRYPTED_SIGNED_VERIFIED,	/* "encrypted+signed/verified" */
	SG_STATUS_ENCRYPTED_SIGNED_FAILED,	/* "encrypted+signed/failed" */
	SG_STATUS_COUNT
};

/* IMAP keywords, as bits of an unsigned int */
#define SG_KW_SIGNED	(1u << 0)	/* $SMIMESigned */
#define SG_KW_VERIFIED	(1u << 1)	/* $SMIMEVerified */
#define SG_KW_FAILED	(1u << 2)	/* $SMIMEFailed */
#define SG_KW_ENCRYPTED	(1u << 3)	/* $SMIMEEncrypted */
#define SG_KW_WEAK	(1u << 4)	/* $SMIMEWeak */
#define SG_KW_COUNT	5

enum sg_reason {
	SG_REASON_BAD_SIGNATURE = 0,
	SG_REASON_NO_SIGNERS,
	SG_REASON_AMBIGUOUS_CONTENT,
	SG_REASON_UNTRUSTED,
	SG_REASON_REVOKED,
	SG_REASON_REVOCATION_UNKNOWN,
	SG_REASON_EXPIRED,
	SG_REASON_NOT_YET_VALID,
	SG_REASON_KEY_USAGE,
	SG_REASON_SENDER_MISMATCH,
	SG_REASON_NO_FROM,
	SG_REASON_MULTIPLE_FROM,
	SG_REASON_WEAK_ALGORITHM,
	SG_REASON_WEAK_KEY,
	SG_REASON_PARTIAL,
	SG_REASON_EMBEDDED_CIPHERTEXT,
	SG_REASON_MALFORMED,
	SG_REASON_UNSUPPORTED,
	SG_REASON_TOO_LARGE,
	SG_REASON_TOO_COMPLEX,
	SG_REASON_INTERNAL_ERROR,
	SG_REASON_COUNT
};

/* A set of reasons is a bit mask: bit (1u << reason). */
#define SG_REASON_BIT(r) (UINT32_C(1) << (r))

/* sg_status_name - "signed/verified" etc.; NULL for an invalid value */
SG_API const char *sg_status_name(enum sg_status status);
/* sg_status_parse - name to value; 0 ok, -1 unknown name */
SG_API int sg_status_parse(const char *name, enum sg_status *status_r);
/* sg_status_keywords - the keyword bits DESIGN.md section 2 gives a status */
SG_API unsigned int sg_status_keywords(enum sg_status status);
/* sg_keyword_name - "$SMIMESigned" for SG_KW_SIGNED etc.; NULL otherwise */
SG_API const char *sg_keyword_name(unsigned int kw_bit);
/* sg_reason_name - the stable token ("bad-signature"); NULL if invalid */
SG_API const char *sg_reason_name(enum sg_reason reason);
/* sg_reason_text - one human sentence explaining the reason */
SG_API const char *sg_reason_text(enum sg_reason reason);
/* sg_reason_parse - token to value; 0 ok, -1 unknown token */
SG_API int sg_reason_parse(const char *name, enum sg_reason *reason_r);

/* ------------------------------------------------------------------ */
/* Configuration (smimeguard.conf)                                     */
/* ------------------------------------------------------------------ */

/*
 * A struct sg_config holds name = value settings in the style of Postfix's
 * main.cf.  Known core settings are checked when set; unknown names are
 * kept, so the daemons can read their own settings from the same file.
 *
 * Core settings (defaults in brackets):
 *   trust_anchors            files/directories of trusted CA certs []
 *   intermediates            files/directories of untrusted CA certs []
 *   crl_dirs                 files/directories of CRLs []
 *   revocation_check         none | soft | hard [soft]
 *   sender_binding           strict | relaxed | off [strict]
 *   allow_sha1_signatures    yes | no [no]
 *   certificate_policies     policy OIDs the signer must chain to [] (any)
 *   max_message_size         bytes [67108864]
 *   max_mime_depth           [32]
 *   max_mime_parts           [1000]
 *   max_cms_nesting          [4]
 *   max_certificates         certificates per message [32]
 * Lists are separated by commas and/or whitespace.
 */
struct sg_config;

/* sg_config_new - empty configuration with defaults; -1 on ENOMEM */
SG_API int sg_config_new(struct sg_config **conf_r) SG_WUR;
/* sg_config_free - free and set *conf to NULL; NULL-safe */
SG_API void sg_config_free(struct sg_config **conf);
/*
 * sg_config_read - read settings from a smimeguard.conf file
 * Lines "name = value"; '#' comments; a line starting with whitespace
 * continues the previous one; "$name" and "${name}" expand (at use).
 * Later settings override earlier ones.  Return 0 or -1 (err_r says the
 * file and line).
 */
SG_API int sg_config_read(struct sg_config *conf, const char *path,
			  struct sg_error *err_r) SG_WUR;
/*
 * sg_config_set - set one setting, replacing any earlier value
 * A core setting with an invalid value fails (-1, SG_ERR_INVALID).
 */
SG_API int sg_config_set(struct sg_config *conf, const char *name,
			 const char *value, struct sg_error *err_r) SG_WUR;
/*
 * sg_config_get - the value of a setting, with $name references expanded
 * Return: a string valid until the next call on conf, or NULL if unset
 * (core settings that are unset return their default).
 */
SG_API const char *sg_config_get(struct sg_config *conf, const char *name);

/* ------------------------------------------------------------------ */
/* The verification context                                            */
/* ------------------------------------------------------------------ */

/*
 * A struct sg_ctx holds a loaded trust store, CRLs, modes and limits, plus
 * caches of what repeats across messages (decoded certificates, chain
 * results).  Build it once, verify many messages with it; to reload, build
 * a new one and swap.
 */
struct sg_ctx;

/*
 * sg_ctx_new - load trust anchors, intermediates and CRLs named by conf
 * Return 0 and *ctx_r, or -1 with err_r (e.g. an unreadable trust anchor
 * file).  conf is not referenced after the call.
 */
SG_API int sg_ctx_new(struct sg_config *conf, struct sg_ctx **ctx_r,
		      struct sg_error *err_r) SG_WUR;
/* sg_ctx_free - free and set *ctx to NULL; NULL-safe */
SG_API void sg_ctx_free(struct sg_ctx **ctx);

/*
 * sg_ctx_policy - what "verified" means with this context
 * Writes a one-line description: trust anchor set fingerprint (SHA-256
 * over the sorted anchor fingerprints), revocation mode, sender binding,
 * SHA-1 policy, e.g.
 *   "anchors=sha256:ab12... revocation=soft sender_binding=strict sha1=reject"
 * Return the length written (excluding NUL), or -1 if buf is too small.
 */
SG_API int sg_ctx_policy(const struct sg_ctx *ctx, char *buf, size_t buf_size);

/* sg_ctx_max_message_size - the max_message_size limit of this context */
SG_API size_t sg_ctx_max_message_size(const struct sg_ctx *ctx);

/* sg_ctx_anchor_count - number of trust anchors loaded */
SG_API size_t sg_ctx_anchor_count(const struct sg_ctx *ctx);

/* ------------------------------------------------------------------ */
/* Verification                                                        */
/* ------------------------------------------------------------------ */

struct sg_result;

enum sg_signer_result {
	SG_SIGNER_VERIFIED = 0,	/* "verified" */
	SG_SIGNER_FAILED,	/* "failed" */
	SG_SIGNER_UNKNOWN	/* "unknown": inconclusive */
};

/* One SignerInfo.  Strings are never NULL (possibly ""), borrowed from the
   result and valid until sg_result_free(). */
struct sg_signer {
	const char *email;	/* the address bound to the From check, or
				   the first certificate address, or "" */
	const char *subject;	/* RFC 2253 subject DN of the signer cert */
	const char *issuer;	/* RFC 2253 issuer DN */
	const char *serial;	/* hex serial number */
	const char *digest;	/* digest algorithm, e.g. "sha256" */
	enum sg_signer_result result;
	uint32_t reasons;	/* SG_REASON_BIT() set */
};

enum sg_recipient_kind {
	SG_RECIPIENT_ISSUER_SERIAL = 0,
	SG_RECIPIENT_SKI,
	SG_RECIPIENT_OTHER	/* KEK, password or unknown recipient info */
};

struct sg_recipient {
	enum sg_recipient_kind kind;
	const char *issuer;	/* RFC 2253, ISSUER_SERIAL only, else "" */
	const char *serial;	/* hex, ISSUER_SERIAL only, else "" */
	const char *ski;	/* hex, SKI only, else "" */
};

struct sg_encryption {
	const char *algorithm;	/* content encryption, e.g. "aes-256-gcm" */
	int aead;		/* 1 for AuthEnvelopedData / AEAD ciphers */
	size_t n_recipients;
	const struct sg_recipient *recipients;
};

/*
 * sg_verify_message - verify the S/MIME layer of one RFC 5322 message
 * Parameters:
 *   ctx      the verification context
 *   msg      the raw message (CRLF or LF line endings), msg_len bytes
 *   at       validation time, or 0 for now
 *   res_r    receives the result; free with sg_result_free()
 *   err_r    filled when -1 is returned
 * Return value: 0 when a verdict was produced (for every input, however
 * broken: bad input is a verdict, not an error); -1 only when no verdict
 * could be made at all (out of memory).
 */
SG_API int sg_verify_message(struct sg_ctx *ctx,
			     const unsigned char *msg, size_t msg_len,
			     time_t at, struct sg_result **res_r,
			     struct sg_error *err_r) SG_WUR;

/*
 * sg_verify_message_prefix - the verdict for a message too large to hold
 * prefix/prefix_len is the start of the message (at least its header),
 * total_len its full size, which must exceed sg_ctx_max_message_size():
 * the result is "signed"/"encrypted" + too-large when the root header
 * announces S/MIME, else "none".  Lets an adapter avoid reading a huge
 * message into memory.  Return value as for sg_verify_message().
 */
SG_API int sg_verify_message_prefix(struct sg_ctx *ctx,
				    const unsigned char *prefix,
				    size_t prefix_len, size_t total_len,
				    time_t at, struct sg_result **res_r,
				    struct sg_error *err_r) SG_WUR;

/*
 * sg_verify_cms - verify a raw CMS object (DER, BER or PEM)
 * content/content_len is the detached content, or NULL.  There is no
 * message header, so sender binding is not applied (the result says so).
 * Return value as for sg_verify_message().
 */
SG_API int sg_verify_cms(struct sg_ctx *ctx,
			 const unsigned char *cms, size_t cms_len,
			 const unsigned char *content, size_t content_len,
			 time_t at, struct sg_result **res_r,
			 struct sg_error *err_r) SG_WUR;

/* Result accessors; the result must not be NULL. */
SG_API enum sg_status sg_result_status(const struct sg_result *res);
SG_API unsigned int sg_result_keywords(const struct sg_result *res);
SG_API uint32_t sg_result_reasons(const struct sg_result *res);
/* sg_result_detail - one or more human sentences explaining the verdict */
SG_API const char *sg_result_detail(const struct sg_result *res);
/* sg_result_from - the From addr-spec that was bound, or "" */
SG_API const char *sg_result_from(const struct sg_result *res);
SG_API size_t sg_result_signer_count(const struct sg_result *res);
/* sg_result_signer - signer i (< count); borrowed */
SG_API const struct sg_signer *sg_result_signer(const struct sg_result *res,
						size_t i);
/* sg_result_encryption - encryption detail, or NULL when not encrypted */
SG_API const struct sg_encryption *
sg_result_encryption(const struct sg_result *res);
/* sg_result_free - free and set *res to NULL; NULL-safe */
SG_API void sg_result_free(struct sg_result **res);

/*
 * sg_result_json - the DESIGN.md section 4 JSON object for one input
 * file is the "file" field (may be NULL for null).  Return a NUL-terminated
 * single-line string owned by the caller (free with sg_free()), or NULL on
 * out of memory.
 */
SG_API char *sg_result_json(const struct sg_result *res, const char *file);

/* ------------------------------------------------------------------ */
/* Outbound encryption policy (DESIGN.md section 4, "Postfix side")    */
/* ------------------------------------------------------------------ */

/* requirement bits */
#define SG_REQ_ENCRYPT	(1u << 0)	/* S/MIME encrypted to the recipient */
#define SG_REQ_AEAD	(1u << 1)	/* ... with AuthEnvelopedData / AES-GCM */
#define SG_REQ_SIGN	(1u << 2)	/* signed */

enum sg_action {
	SG_ACTION_REJECT = 0,	/* 5.7.x */
	SG_ACTION_DEFER,	/* 4.7.x */
	SG_ACTION_HOLD,		/* Postfix queue hold */
	SG_ACTION_MONITOR	/* accept, log what would have happened */
};

struct sg_policy_decision {
	bool internal;			/* recipient is inside the organisation */
	bool exempt;			/* null sender or an exempt address */
	unsigned int requirements;	/* SG_REQ_* bits; 0: nothing required */
	enum sg_action action;		/* what to do on a violation */
	char why[256];			/* the rule(s) that decided, for logs */
};

struct sg_policy;

/*
 * sg_policy_new - the policy of a configuration: internal_domains,
 * encryption_policy_maps, policy_action, policy_exempt_senders,
 * policy_exempt_recipients.  Return 0, or -1 with err_r (a map file that
 * cannot be read or has a bad line: the message names file and line).
 */
SG_API int sg_policy_new(struct sg_config *conf, struct sg_policy **pol_r,
			 struct sg_error *err_r) SG_WUR;
/* sg_policy_free - free and set *pol to NULL; NULL-safe */
SG_API void sg_policy_free(struct sg_policy **pol);
/* sg_policy_is_internal - whether the address is in internal_domains */
SG_API bool sg_policy_is_internal(const struct sg_policy *pol,
				  const char *address);
/*
 * sg_policy_decide - what mail from sender to recipient requires
 * sender "" is the null sender.  Always fills *d; returns 0.
 */
SG_API int sg_policy_decide(const struct sg_policy *pol, const char *sender,
			    const char *recipient,
			    struct sg_policy_decision *d);
/* sg_action_name - "reject", "defer", "hold", "monitor" */
SG_API const char *sg_action_name(enum sg_action action);
/* sg_policy_requirement_name - "none", "encrypt", "encrypt-aead+sign" ... */
SG_API const char *sg_policy_requirement_name(unsigned int requirements);

/* sg_free - free memory returned by the library; NULL-safe */
SG_API void sg_free(void *ptr);

/*
 * sg_parse_time - parse "2026-11-28T10:00:00Z", "2026-11-28", or
 * "@1764324000" into *t_r.  Return 0 or -1.
 */
SG_API int sg_parse_time(const char *text, time_t *t_r);

#ifdef __cplusplus
}
#endif
#endif /* SMIMEGUARD_H */
