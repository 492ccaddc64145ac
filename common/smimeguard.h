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
 *  - Objects have their own *_free(); any other memory the library
 *    returns to the caller (JSON strings, downloads) is freed with
 *    sg_free(), not free(), so the library may allocate as it likes.
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
	SG_ERR_INTERNAL,
	SG_ERR_FORMAT,		/* keystore: not a key file of a version and
				   algorithms this build reads, truncated */
	SG_ERR_AUTH,		/* keystore: authentication failed (altered,
				   wrong master key or passphrase, moved) */
	SG_ERR_PERM,		/* a file or directory others could read or
				   change: refused */
	SG_ERR_NOTFOUND		/* keystore: no such key */
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
SG_API int sg_init(void) SG_WUR;

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
SG_API int sg_status_parse(const char *name, enum sg_status *status_r) SG_WUR;
/* sg_status_keywords - the keyword bits DESIGN.md section 2 gives a status */
SG_API unsigned int sg_status_keywords(enum sg_status status);
/* sg_keyword_name - "$SMIMESigned" for SG_KW_SIGNED etc.; NULL otherwise */
SG_API const char *sg_keyword_name(unsigned int kw_bit);
/* sg_reason_name - the stable token ("bad-signature"); NULL if invalid */
SG_API const char *sg_reason_name(enum sg_reason reason);
/* sg_reason_text - one human sentence explaining the reason */
SG_API const char *sg_reason_text(enum sg_reason reason);
/* sg_reason_parse - token to value; 0 ok, -1 unknown token */
SG_API int sg_reason_parse(const char *name, enum sg_reason *reason_r) SG_WUR;

/* enough for every reason token with separators of up to 4 bytes */
#define SG_REASONS_SIZE 512
/*
 * sg_reasons_format - the tokens of a reason set (SG_REASON_BIT()), in
 * the order of enum sg_reason, separated by sep: "expired,untrusted"
 * with sep ","; "" for an empty set.  Bits without a reason are skipped.
 * Return the length of the whole list (excluding NUL), as snprintf():
 * buf holds a shortened list when the return value is >= size.
 */
SG_API size_t sg_reasons_format(uint32_t reasons, const char *sep,
				char *buf, size_t size);

/* ------------------------------------------------------------------ */
/* Configuration (smimeguard.conf)                                     */
/* ------------------------------------------------------------------ */

/*
 * A struct sg_config holds name = value settings in the style of Postfix's
 * main.cf.  Known settings are checked when set; unknown names are kept
 * (they may be the file's own variables, $config_dir).  The core knows
 * its own settings; a program adds the settings of its table, and of the
 * other smimeguard programs, with sg_config_register() before it reads
 * the file, so that every program defaults, checks and knows every
 * setting of smimeguard.conf (as postconf knows every main.cf parameter
 * and Dovecot's config every service's settings).
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
 *   certificate_maps         where recipients' certificates are found:
 *                            TYPE:NAME list, searched in order [] (see
 *                            "Certificate resolution" below)
 *   harvest_map              dir:/path to store verified signers'
 *                            certificates in [] (off)
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
 * Return: a string valid until conf changes (sg_config_set(),
 * sg_config_read()) or is freed, or NULL if unset or the value cannot
 * be expanded (a reference loop, too many references); core settings
 * that are unset return their default.  The expansion is made once and
 * kept in conf; reading a configuration nobody changes is safe from
 * several threads at once.
 */
SG_API const char *sg_config_get(const struct sg_config *conf,
				 const char *name);

/*
 * sg_config_next_unknown - the next setting read that no smimeguard
 * program knows and no other setting refers to as $name or ${name}
 * (a misspelling such as "trsut_anchors" or "crl_dir"), like Postfix's
 * "unused parameter" warning.  Start with *iter = 0; each call that
 * returns true fills warn_r->msg with "FILE, line N: unknown setting
 * NAME (did you mean OTHER?)" (the suggestion when a known name is
 * close) and advances *iter.  The caller logs it and goes on: an
 * unknown setting is a warning, not an error.
 */
SG_API bool sg_config_next_unknown(const struct sg_config *conf, size_t *iter,
				   struct sg_error *warn_r);

/* the values a setting takes: what sg_config_set() checks */
enum sg_config_kind {
	SG_CONF_TEXT = 0,		/* any text */
	SG_CONF_BOOL,			/* yes | no */
	SG_CONF_SIZE,			/* bytes, at least 1 */
	SG_CONF_UINT,			/* a number, 1 to 1000000 */
	SG_CONF_COUNT,			/* a number, 0 to 1000000 */
	SG_CONF_ENUM			/* one of choices */
};

/* one setting of a table: its name, default and values (Postfix's
   CONFIG_*_TABLE entries, Dovecot's setting_define) */
struct sg_config_def {
	const char *name;		/* letters, digits, '_' */
	const char *default_value;	/* "" when empty */
	enum sg_config_kind kind;
	const char *choices;		/* SG_CONF_ENUM: "none|soft|hard" */
	/* a check after the kind's, NULL for none: 0, or -1 with err_r
	   ("NAME: ...") */
	int (*check)(const char *name, const char *value,
		     struct sg_error *err_r);
	const char *syntax;		/* for the manual; NULL: the kind's */
};

/* the settings of one program (or of the core) */
struct sg_config_table {
	const char *owner;		/* who reads them: "smime-policyd" */
	const struct sg_config_def *defs;
	size_t n;
};

/*
 * sg_config_register - add the settings of table to conf: from now on
 * sg_config_get() returns their defaults, sg_config_set() and
 * sg_config_read() check their values, sg_config_next_unknown() knows
 * them and sg_config_known_at() lists them.  Values conf already holds
 * are checked now.  The table is borrowed (a static table: it must
 * outlive conf); registering it again does nothing.  A name the core
 * or another registered table already has is a program's bug (abort).
 * Return value: 0, or -1 with err_r (a value already set that the
 * table refuses; out of memory).
 */
SG_API int sg_config_register(struct sg_config *conf,
			      const struct sg_config_table *table,
			      struct sg_error *err_r) SG_WUR;

/* one setting as smimectl config -d and smimeguard.conf(5) show it */
struct sg_config_setting {
	const char *name;
	const char *default_value;	/* "" when empty */
	const char *syntax;		/* e.g. "yes | no", "bytes", "none | soft | hard" */
};
/*
 * sg_config_entry_at - the index-th setting conf holds (from 0), in the
 * order first set, with its raw value ($references not expanded); false
 * past the end.  The strings are valid until conf changes.
 */
SG_API bool sg_config_entry_at(const struct sg_config *conf, size_t index,
			       const char **name_r, const char **value_r);
/*
 * sg_config_setting_at - the index-th setting of the core's own table
 * (from 0), in the table's order; false past the end
 */
SG_API bool sg_config_setting_at(size_t index,
				 struct sg_config_setting *setting_r);
/*
 * sg_config_known_at - the index-th setting conf knows (from 0): the
 * core's, then those of each registered table, in order; *owner_r (may
 * be NULL) the table's owner ("smimeguard" for the core's).  False past
 * the end.  The strings are static.
 */
SG_API bool sg_config_known_at(const struct sg_config *conf, size_t index,
			       struct sg_config_setting *setting_r,
			       const char **owner_r);

/*
 * sg_config_maps_wait - may a lookup in the maps of the map list setting
 * (certificate_maps, encryption_policy_maps) wait for a server (an ldap:
 * map: a directory that can hang)?  A daemon that must keep answering
 * runs such lookups away from its event loop.  False for an unset or
 * unexpandable value.
 */
SG_API bool sg_config_maps_wait(const struct sg_config *conf,
				const char *setting);

#define SG_STAMP_SIZE 32
/*
 * sg_config_stamp - a digest of what conf reads from disk: config_path
 * (may be NULL) and every file and directory named by trust_anchors,
 * intermediates, crl_dirs and encryption_policy_maps (mtime, size,
 * inode).  A long-running program re-reads its configuration now and
 * then, compares stamps, and rebuilds its context when they differ.
 */
SG_API void sg_config_stamp(const struct sg_config *conf,
			    const char *config_path,
			    unsigned char stamp[SG_STAMP_SIZE]);

/*
 * sg_config_check_modes - refuse a configuration others could change:
 * config_path (may be NULL) and every file and directory (and the
 * entries of a directory) named by trust_anchors, intermediates,
 * crl_dirs, pinned_certificates, encryption_policy_maps and
 * certificate_maps must not be writable by group or others.
 * Return value: 0, or -1 with err_r naming the first such path.
 */
SG_API int sg_config_check_modes(const struct sg_config *conf,
				 const char *config_path,
				 struct sg_error *err_r) SG_WUR;

/* ------------------------------------------------------------------ */
/* The verification context                                            */
/* ------------------------------------------------------------------ */

/*
 * A struct sg_ctx holds a loaded trust store, CRLs, modes and limits, plus
 * caches of what repeats across messages (decoded certificates, chain
 * results).  Build it once, verify many messages with it; to reload, build
 * a new one and swap.
 *
 * Threads: any number of threads may call sg_verify_message(),
 * sg_verify_cms(), sg_cert_lookup(), sg_policy_check_message(),
 * sg_harvest() and sg_crl_install() on one context at the same time;
 * what these change inside it (caches, learned intermediates, the
 * certificate maps' state) is guarded by the context's own locks.  Every
 * result they return belongs to the caller.  sg_ctx_free() must wait
 * until no thread uses the context (smime-milter counts its users).
 * The administrator's functions (smimeguard-admin.h: sg_cert_check(), sg_ca_fetch(),
 * sg_ca_fetch_pending(), sg_crl_distribution_points(),
 * sg_ctx_cached_intermediates()) are for one thread: call them
 * on a context no other thread uses.
 */
struct sg_ctx;

/*
 * sg_ctx_new - load trust anchors, intermediates and CRLs named by conf
 * Return 0 and *ctx_r, or -1 with err_r (e.g. an unreadable trust anchor
 * file).  conf is not referenced after the call.
 */
SG_API int sg_ctx_new(const struct sg_config *conf, struct sg_ctx **ctx_r,
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
SG_API int sg_ctx_policy(const struct sg_ctx *ctx, char *buf, size_t buf_size)
	SG_WUR;

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

/* the kind of RecipientInfo a recipient came from (RFC 5652 6.2) */
enum sg_recipient_info {
	SG_RI_KTRI = 0,		/* key transport (RSA) */
	SG_RI_KARI,		/* key agreement (ECDH); one per encrypted key */
	SG_RI_KEKRI,		/* a previously distributed symmetric key */
	SG_RI_PWRI,		/* a password (RFC 3211) */
	SG_RI_OTHER		/* OtherRecipientInfo or not understood */
};

struct sg_recipient {
	enum sg_recipient_kind kind;
	const char *issuer;	/* RFC 2253, ISSUER_SERIAL only, else "" */
	const char *serial;	/* hex, ISSUER_SERIAL only, else "" */
	const char *ski;	/* hex, SKI only, else "" */
	enum sg_recipient_info info;	/* the RecipientInfo's kind */
	unsigned int index;	/* the RecipientInfo's position, from 0 */
};

/* content-encryption algorithm families (the cipher floor of the
   outbound policy, DESIGN.md section 4) */
enum sg_cipher_family {
	SG_CIPHER_UNKNOWN = 0,	/* not recognised: never good enough */
	SG_CIPHER_AES,
	SG_CIPHER_CHACHA20,	/* ChaCha20-Poly1305 (RFC 8103) */
	SG_CIPHER_CAMELLIA,
	SG_CIPHER_ARIA,
	SG_CIPHER_3DES,		/* 112-bit strength; allow_3des */
	SG_CIPHER_DES,
	SG_CIPHER_RC2
};

struct sg_encryption {
	const char *algorithm;	/* content encryption, e.g. "aes-256-gcm" */
	int aead;		/* 1: AuthEnvelopedData whose content-encryption
				   algorithm is an AEAD one (GCM, CCM,
				   ChaCha20-Poly1305); the CMS type alone
				   does not count */
	size_t n_recipients;
	const struct sg_recipient *recipients;
	enum sg_cipher_family family;	/* of algorithm */
	unsigned int key_bits;	/* content-encryption key size, 0 unknown */
	int auth_enveloped;	/* 1: the CMS type is AuthEnvelopedData */
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
 * Streaming verification: the same verdict as sg_verify_message(), with
 * the message fed in pieces as it arrives, so that an adapter holds no
 * copy of it.  The stream keeps the bytes itself: in memory up to 1 MiB,
 * beyond that in an unlinked 0600 file in temp_directory (O_TMPFILE where
 * the file system allows, else mkstemp and unlink), mapped read-only by
 * sg_verify_final().  Past max_message_size only the root header is kept
 * and the rest is counted: the verdict is then sg_verify_message_prefix()'s
 * (the root header is read from its first max(max_message_size,
 * max_header_size) bytes; sg_verify_message() reads all of it).
 *
 *	struct sg_verify_stream *vs;
 *
 *	if (sg_verify_init(ctx, 0, &vs, &err) < 0) ...
 *	while (more) if (sg_verify_update(vs, buf, n, &err) < 0) ...
 *	if (sg_verify_final(vs, &res, &err) < 0) ...
 *	sg_verify_free(&vs);
 *
 * Threads: a stream is used by one thread at a time (it may move between
 * threads, as a milter's message does); any number of streams may be open
 * on one context at once, alongside sg_verify_message() calls.  The
 * context must outlive its streams.
 */
struct sg_verify_stream;

/*
 * sg_verify_init - start a stream for one message
 * Parameters:
 *   ctx      the verification context (borrowed until sg_verify_free())
 *   at       validation time, or 0 for the time of sg_verify_final()
 *   vs_r     receives the stream; free with sg_verify_free()
 *   err_r    filled when -1 is returned
 * Return value: 0, or -1 (out of memory).
 */
SG_API int sg_verify_init(struct sg_ctx *ctx, time_t at,
			  struct sg_verify_stream **vs_r,
			  struct sg_error *err_r) SG_WUR;

/*
 * sg_verify_update - the next len bytes of the message
 * data is copied (or written to the stream's file); the caller keeps it.
 * Return value: 0, or -1 when the bytes could not be kept (temp_directory
 * missing or not writable, a write error such as a full disk, out of
 * memory, or a call after sg_verify_final()).  After an error the stream
 * makes no verdict: every later update and final returns the same error.
 */
SG_API int sg_verify_update(struct sg_verify_stream *vs,
			    const unsigned char *data, size_t len,
			    struct sg_error *err_r) SG_WUR;

/*
 * sg_verify_final - the verdict on the bytes fed so far
 * Parameters:
 *   vs       the stream; it keeps no bytes afterwards, but must still be
 *            freed with sg_verify_free()
 *   res_r    receives the result (free with sg_result_free()): the same
 *            as sg_verify_message() on the concatenated bytes
 *   err_r    filled when -1 is returned
 * Return value: 0 when a verdict was produced; -1 when an earlier update
 * failed, the stream's file could not be mapped, memory ran out, or final
 * was already called: no verdict, never a wrong one.
 */
SG_API int sg_verify_final(struct sg_verify_stream *vs,
			   struct sg_result **res_r,
			   struct sg_error *err_r) SG_WUR;

/*
 * sg_verify_set_owner - decrypt-to-verify for this stream: owner is the
 * mailbox owner's address.  When the message turns out encrypted (outer
 * status "encrypted") and the setting keyd_socket is not empty,
 * sg_verify_final asks smime-keyd (at most keyd_timeout) and, when keyd
 * answers a verdict of the inner signature, the result carries status
 * encrypted+signed/verified or encrypted+signed/failed (keywords
 * $SMIMEEncrypted $SMIMESigned + $SMIMEVerified|$SMIMEFailed), the inner
 * signers and reasons, and the outer encryption details.  When keyd is
 * not configured, down, times out, has no key of owner for the message,
 * or the inner content is not signed, the result stays "encrypted" (as
 * without keyd) and sg_result_detail() says why.  Never an error for
 * keyd's sake: sg_verify_final fails only as before.  Call after
 * sg_verify_init and before sg_verify_final; owner is copied.
 * Return value: 0, or -1 (SG_ERR_INVALID: owner empty, over 320 bytes or
 * holding a control byte or white space; out of memory).
 */
SG_API int sg_verify_set_owner(struct sg_verify_stream *vs, const char *owner,
			       struct sg_error *err_r) SG_WUR;

/* sg_verify_stream_size - the number of bytes fed to vs so far */
SG_API size_t sg_verify_stream_size(const struct sg_verify_stream *vs);

/*
 * sg_verify_free - release a stream, finished or abandoned (its file is
 * closed, and so removed); sets *vs to NULL, and does nothing for NULL
 */
SG_API void sg_verify_free(struct sg_verify_stream **vs);

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
/* sg_result_bound_signer - the first signer whose certificate was bound
   to the sender (DESIGN.md 3.7), or NULL: the signer a user should be
   shown; borrowed */
SG_API const struct sg_signer *
sg_result_bound_signer(const struct sg_result *res);
/* sg_result_encryption - encryption detail, or NULL when not encrypted */
SG_API const struct sg_encryption *
sg_result_encryption(const struct sg_result *res);
/*
 * sg_result_signer_der - the certificate of signer i (< count), DER;
 * *der_r and *len_r are borrowed from the result (valid until
 * sg_result_free()).  Return 0, or -1 when the signer's certificate was
 * not in the message (then *der_r = NULL, *len_r = 0).
 */
SG_API int sg_result_signer_der(const struct sg_result *res, size_t i,
				const unsigned char **der_r, size_t *len_r)
	SG_WUR;
/* sg_result_free - free and set *res to NULL; NULL-safe */
SG_API void sg_result_free(struct sg_result **res);

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

/* envelope addresses longer than this (octets, without angle brackets;
   RFC 5321's path limit) are refused, never truncated */
#define SG_ADDRESS_MAX 254

enum sg_address_status {
	SG_ADDRESS_OK = 0,
	SG_ADDRESS_INVALID,	/* cannot be routed safely: no domain, an
				   address literal or numeric domain, a source
				   route, bad quoting (553 5.1.3 / 5.1.7) */
	SG_ADDRESS_TOO_LONG	/* over SG_ADDRESS_MAX (501 5.5.4) */
};

/* What the MTA knows about one recipient of one message.  Only sender
   and recipient are required; the others are NULL when not known. */
struct sg_policy_envelope {
	const char *sender;		/* "" is the null sender */
	const char *recipient;		/* as given, or as Postfix routed it
					   ({rcpt_addr}); no angle brackets */
	const char *transport;		/* Postfix's {rcpt_mailer}: one of
					   internal_transports makes the
					   recipient internal */
	const char *client_address;	/* the SMTP client's IP address
					   (policy_exemption_clients) */
	const char *auto_submitted;	/* the value of the message's only
					   Auto-Submitted field (NULL: none,
					   or more than one) */
};

struct sg_policy_decision {
	bool internal;			/* recipient is inside the organisation */
	bool exempt;			/* an exemption applies */
	unsigned int requirements;	/* SG_REQ_* bits; 0: nothing required */
	enum sg_action action;		/* what to do on a violation */
	char why[256];			/* the rule(s) that decided, for logs */
	/* the addresses: refused (whatever the rules say) unless OK */
	enum sg_address_status recipient_status;
	enum sg_address_status sender_status;
	/* where Postfix delivers: the recipient after routing (the first hop
	   outside internal_domains), for certificate lookups; "" when it
	   was refused */
	char recipient[SG_ADDRESS_MAX + 1];
	/* sg_policy_check_message: a policy reason token (DESIGN.md
	   section 4) when the message violates the rule, else NULL */
	const char *violation;
	/* a policy map could not answer (an ldap: map whose servers are
	   down, or a value that is not a rule): what the mail needs is
	   unknown, so it is refused for now (sg_policy_refusal gives 451
	   4.3.0); why says what failed, for the log only */
	bool temporary;
	/* sg_policy_check_message: the recipient's certificates looked up
	   to see whether the message is encrypted to one (for counters;
	   SG_POLICY_LOOKUP_NONE when the rule needed no lookup) */
	enum sg_policy_lookup {
		SG_POLICY_LOOKUP_NONE = 0,	/* not looked up */
		SG_POLICY_LOOKUP_FOUND,		/* a usable certificate */
		SG_POLICY_LOOKUP_NOT_FOUND,	/* none usable */
		SG_POLICY_LOOKUP_FAILED		/* a map failed: temporary */
	} lookup;
};

struct sg_policy;

/*
 * sg_policy_new - the policy of a configuration: internal_domains,
 * internal_transports, encryption_policy_maps, policy_action,
 * policy_exempt_senders, policy_exempt_recipients, policy_exemptions,
 * policy_exemption_clients, allow_3des, allow_pwri, allow_kekri.
 * Return 0, or -1 with err_r (a map file that cannot be read or has a bad
 * line: the message names file and line).
 */
SG_API int sg_policy_new(const struct sg_config *conf, struct sg_policy **pol_r,
			 struct sg_error *err_r) SG_WUR;
/* sg_policy_free - free and set *pol to NULL; NULL-safe */
SG_API void sg_policy_free(struct sg_policy **pol);
/* sg_policy_is_internal - whether the address, routed as Postfix does,
   stays in internal_domains (an address that cannot be routed is not) */
SG_API bool sg_policy_is_internal(const struct sg_policy *pol,
				  const char *address);
/*
 * sg_policy_decide_envelope - what mail to env->recipient requires
 * Both addresses are routed as Postfix routes them (trailing dots, case,
 * quoting, "%", "!", "@" in the local part); the rules of every
 * destination on the way apply, the strictest wins.  An address that
 * cannot be routed safely is refused: d->recipient_status or
 * d->sender_status is not SG_ADDRESS_OK (then sg_policy_refusal() gives
 * the SMTP reply).  Exemptions (policy_exemptions) apply only to clients
 * in policy_exemption_clients.  Always fills *d; when a map of
 * encryption_policy_maps cannot answer (an ldap: map's servers are
 * down, or it holds a value that is not a rule), d->temporary is set,
 * d->why says why and sg_policy_refusal() refuses with 451 4.3.0: the
 * mail is deferred, never let through without its rule.
 */
SG_API void sg_policy_decide_envelope(const struct sg_policy *pol,
				      const struct sg_policy_envelope *env,
				      struct sg_policy_decision *d);
/* sg_policy_decide - sg_policy_decide_envelope() with only the two
   addresses known; sender "" is the null sender */
SG_API void sg_policy_decide(const struct sg_policy *pol, const char *sender,
			     const char *recipient,
			     struct sg_policy_decision *d);
/*
 * sg_policy_refusal - whether the decision refuses an address, and with
 * which SMTP reply: *code_r "553" or "501", *enhanced_r "5.1.3"
 * (recipient), "5.1.7" (sender) or "5.5.4" (too long); "451" "4.3.0"
 * when the policy could not be looked up (d->temporary); static strings.
 */
SG_API bool sg_policy_refusal(const struct sg_policy_decision *d,
			      const char **code_r, const char **enhanced_r);
/*
 * sg_policy_recipient_usable - RCPT time: does the recipient have a
 * certificate to encrypt to (certificate_maps of ctx)?  Pass the routed
 * address (sg_policy_decision.recipient).
 * Return 1 yes; 0 no, *why says why in a sentence for the sender; -1 a
 * temporary failure (a map could not be read, out of memory) with err_r
 * (*why is then "").
 */
SG_API int sg_policy_recipient_usable(struct sg_ctx *ctx, const char *address,
				      time_t at, char *why, size_t why_size,
				      struct sg_error *err_r) SG_WUR;
/*
 * sg_policy_check_message - end of data: does a message (already
 * analysed into res by sg_verify_message) satisfy the rule for mail to
 * env->recipient (sg_policy_decide_envelope)?  Encryption rules need
 * $SMIMEEncrypted at the root, a content-encryption algorithm above the
 * cipher floor (AES, or another of >= 128 bits; 3DES only with
 * allow_3des; never DES or RC2), no password or KEK RecipientInfos
 * unless allow_pwri / allow_kekri, and RecipientInfos naming a usable
 * certificate of the recipient; encrypt-aead an AEAD algorithm inside
 * AuthEnvelopedData; sign rules a verified signature (outside the
 * encryption).  Fills *d (the decision, d->violation) and, on 0, *why
 * (a sentence for the sender).  An address the decision refuses is a
 * violation.
 * Return 1 satisfied (or nothing required); 0 violated; -1 temporary
 * failure of a certificate map or a policy map (d->temporary), with
 * err_r (*why is then "").
 */
SG_API int sg_policy_check_message(const struct sg_policy *pol,
				   struct sg_ctx *ctx,
				   const struct sg_policy_envelope *env,
				   const struct sg_result *res, time_t at,
				   struct sg_policy_decision *d, char *why,
				   size_t why_size,
				   struct sg_error *err_r) SG_WUR;
/*
 * sg_policy_auto_submitted - whether an Auto-Submitted field value is one
 * of RFC 3834's automatic values (auto-generated, auto-replied), with
 * optional parameters; anything else ("no", "nope", garbage) is not.
 */
SG_API bool sg_policy_auto_submitted(const char *value);
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
SG_API int sg_parse_time(const char *text, time_t *t_r) SG_WUR;

#define SG_TIME_SIZE 32
/*
 * sg_format_time - t as "2026-11-28T10:00:00Z" (UTC), the form of the
 * JSON output and of sg_parse_time(), into buf; SG_TIME_SIZE bytes
 * suffice.  Return 0, or -1 with buf "" when t has no calendar date or
 * buf is too small.
 */
SG_API int sg_format_time(time_t t, char *buf, size_t size) SG_WUR;

/* ------------------------------------------------------------------ */
/* Certificate resolution (DESIGN.md section 4)                        */
/* ------------------------------------------------------------------ */

/*
 * certificate_maps is an ordered list of maps, Postfix style:
 *   certificate_maps = dir:/etc/smimeguard/certs, dir:/var/lib/smimeguard/harvested
 * The first map that returns a usable certificate for an address wins.
 *
 * dir:/path  a directory of certificates, PEM (a file may hold several)
 *            or DER (one certificate, or a PKCS#7 certs-only bundle),
 *            any file names; files whose name starts with '.' are
 *            skipped.  Every certificate is indexed under every e-mail
 *            address it carries (subjectAltName rfc822Name and
 *            SmtpUTF8Mailbox, subject emailAddress), case-insensitively.
 *            The directory is re-read when it changes (checked at most
 *            once a second; files changed in place are noticed within a
 *            minute, or at once when written to a new name and renamed).
 *            Letters compare case-insensitively in ASCII only.
 * ldap:/path/to/map.cf  an LDAP directory (OpenLDAP, Active Directory);
 *            the map file follows Postfix's ldap_table(5): server_host
 *            (ldap://, ldaps://, ldapi:// URLs, several for fail-over,
 *            tried in order), search_base, scope, query_filter (default
 *            "(|(mail=%s)(proxyAddresses=smtp:%s))"; %s, %u, %d are
 *            RFC 4515 escaped), result_attribute (default
 *            "userSMIMECertificate;binary userSMIMECertificate
 *            userCertificate;binary userCertificate"), bind, bind_dn,
 *            bind_pw (then the file must not be readable by group or
 *            others), sasl_mech = EXTERNAL, start_tls, tls_*, timeout
 *            (seconds for connecting, binding, searching; default 5),
 *            cache_ttl (300), negative_cache_ttl (60), size_limit,
 *            domain.  Values may be PKCS#7 bundles or certificates; CA
 *            certificates in bundles are not candidates.  A candidate's
 *            source is "URL ATTRIBUTE(S) ENTRY-DN".  The map file is
 *            read by sg_ctx_new() (errors there); servers are contacted
 *            at lookup time, and when none answers within the timeout
 *            the lookup is a temporary error (-1).  Answers are cached
 *            per context.  Only in builds with libldap (otherwise
 *            ldap: is a configuration error).  libldap writes to its
 *            socket with write(2): the library blocks SIGPIPE in the
 *            calling thread around LDAP I/O, so a vanished server cannot
 *            kill the process.
 *
 * A candidate is usable for encryption at time T when it is valid at T,
 * chains to a trust anchor of the context (configured intermediates
 * help; revocation as revocation_check says), is not revoked, has a key
 * that can encrypt (RSA >= 2048 bits with keyEncipherment, EC or X25519
 * with keyAgreement, when a keyUsage extension is present) and, when an
 * extendedKeyUsage extension is present, emailProtection.
 *
 * Maps are loaded on first use and kept in the context; a context is
 * used by one thread at a time.
 */
struct sg_cert_set;

/* One candidate certificate.  Strings are never NULL (possibly ""),
   borrowed from the set and valid until sg_cert_set_free(). */
struct sg_cert_candidate {
	const char *subject;	/* RFC 2253 subject DN */
	const char *issuer;	/* RFC 2253 issuer DN */
	const char *serial;	/* hex serial number (as struct sg_signer) */
	const char *fingerprint; /* SHA-256 of the DER, lower-case hex */
	const char *ski;	/* subjectKeyIdentifier, lower-case hex, or "" */
	const char *emails;	/* the certificate's addresses, ", " separated */
	const char *key;	/* public key, e.g. "RSA-2048", "EC-prime256v1" */
	const char *key_usage;	/* e.g. "digitalSignature, keyEncipherment;
				   EKU emailProtection" */
	const char *map;	/* the map it came from, e.g. "dir:/etc/certs" */
	const char *source;	/* where in the map (a file name), or "" */
	time_t not_before;
	time_t not_after;
	int usable;		/* 1: usable for encryption at lookup time */
	uint32_t reasons;	/* not usable: SG_REASON_BIT() set (expired,
				   not-yet-valid, untrusted, revoked,
				   revocation-unknown, key-usage, weak-key,
				   weak-algorithm, malformed, internal-error) */
	enum sg_reason reason;	/* not usable: the main reason (usable:
				   SG_REASON_COUNT) */
	const char *detail;	/* human sentences: why (not) usable */
	int pinned;		/* 1: in pinned_certificates, so no chain to
				   a trust anchor was required */
};

/*
 * sg_cert_lookup - the certificates to encrypt to address with
 * Parameters:
 *   ctx      the context (its trust store, CRLs, certificate_maps)
 *   address  the recipient's addr-spec, any case ("bob@Example.ORG")
 *   at       evaluation time, or 0 for now
 *   set_r    receives every candidate with its verdict, usable ones
 *            first, newest (notBefore) first; free with sg_cert_set_free()
 *   err_r    filled when -1 is returned
 * Return value: 1 a usable certificate was found; 0 none is usable (the
 * set may still list candidates and why each was rejected; an empty set
 * when no map knows the address, no map is configured, or address
 * cannot be an address); -1 a temporary error (a map could not be read
 * and no later map had a usable certificate; out of memory): *set_r is
 * NULL.  Never 0 because a map failed.
 */
SG_API int sg_cert_lookup(struct sg_ctx *ctx, const char *address,
			  time_t at, struct sg_cert_set **set_r,
			  struct sg_error *err_r) SG_WUR;

/* sg_cert_set_address - the address looked up, lower-cased */
SG_API const char *sg_cert_set_address(const struct sg_cert_set *set);
/* sg_cert_set_map - the map that answered: the one with a usable
   certificate, else the first with a candidate, else "" */
SG_API const char *sg_cert_set_map(const struct sg_cert_set *set);
/* sg_cert_set_count - number of candidates */
SG_API size_t sg_cert_set_count(const struct sg_cert_set *set);
/* sg_cert_set_usable_count - number of usable ones (they come first) */
SG_API size_t sg_cert_set_usable_count(const struct sg_cert_set *set);
/* sg_cert_set_get - candidate i (< count); borrowed */
SG_API const struct sg_cert_candidate *
sg_cert_set_get(const struct sg_cert_set *set, size_t i);
/* sg_cert_set_der - the DER of candidate i (< count); borrowed */
SG_API void sg_cert_set_der(const struct sg_cert_set *set, size_t i,
			    const unsigned char **der_r, size_t *len_r);
/*
 * sg_cert_set_match - does a RecipientInfo name a usable certificate?
 * rid is an entry of sg_result_encryption()->recipients (or built by the
 * caller): issuer (RFC 2253, as this library prints it) + hex serial,
 * or a hex subjectKeyIdentifier.  Hex compares case-insensitively and
 * without leading zeros of the serial.
 * Return value: 1 and *index_r (may be NULL) = the candidate's index
 * when it names a usable candidate; 0 otherwise (also for a rejected
 * candidate: encrypting to a stale certificate does not count).
 */
SG_API int sg_cert_set_match(const struct sg_cert_set *set,
			     const struct sg_recipient *rid,
			     size_t *index_r) SG_WUR;
/* sg_cert_set_free - free and set *set to NULL; NULL-safe */
SG_API void sg_cert_set_free(struct sg_cert_set **set);

/*
 * Harvesting: the certificate of a signer whose message was
 * signed/verified with the signer bound to the From address is stored in
 * harvest_map (a writable dir: map; off when unset), so colleagues can
 * later encrypt to that partner.  The file is <sha256-hex>.pem, written
 * to a temporary file and renamed (mode 0644).  A certificate is not
 * stored when a newer one (notBefore) is already stored for one of its
 * addresses, nor when it is not usable for encryption.
 */
enum sg_harvest_outcome {
	SG_HARVEST_STORED = 0,	/* "stored": written to the map */
	SG_HARVEST_PRESENT,	/* "present": already in the map */
	SG_HARVEST_NEWER_KNOWN,	/* "newer-known": the map holds a newer
				   certificate for its address; not written */
	SG_HARVEST_NOT_VERIFIED, /* "not-verified": the result is not
				   signed/verified, or no verified signer
				   is bound to From */
	SG_HARVEST_NOT_USABLE,	/* "not-usable": cannot encrypt to it
				   (reasons says why) */
	SG_HARVEST_DISABLED,	/* "disabled": no harvest_map configured */
	SG_HARVEST_CAPPED	/* "capped": harvest_max_per_address or
				   harvest_max_total reached; not written */
};

/* What sg_harvest() did; caller-owned, for the adapter's log line. */
struct sg_harvest_info {
	enum sg_harvest_outcome outcome;
	char address[320];	/* the bound signer address, or "" */
	char fingerprint[65];	/* SHA-256 hex of its certificate, or "" */
	char file[512];		/* the stored (or present) file, or "" */
	uint32_t reasons;	/* NOT_USABLE: SG_REASON_BIT() set */
	char detail[256];	/* one human sentence */
};

/*
 * sg_harvest - store the bound signer's certificate of a verified result
 * Parameters:
 *   ctx      the context (harvest_map, trust store for the usability check)
 *   res      a result of sg_verify_message() (sg_verify_cms() results
 *            have no From and are never harvested)
 *   at       evaluation time for the usability check, or 0 for now
 *   info_r   what happened (always filled when 0 is returned)
 *   err_r    filled when -1 is returned
 * Return value: 0 an outcome was reached (see info_r->outcome); -1 the
 * map could not be read or written (err_r names the path).
 */
SG_API int sg_harvest(struct sg_ctx *ctx, const struct sg_result *res,
		      time_t at, struct sg_harvest_info *info_r,
		      struct sg_error *err_r) SG_WUR;
/* sg_harvest_outcome_name - "stored" etc.; NULL for an invalid value */
SG_API const char *sg_harvest_outcome_name(enum sg_harvest_outcome outcome);

#ifdef __cplusplus
}
#endif
#endif /* SMIMEGUARD_H */
