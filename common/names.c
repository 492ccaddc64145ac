/* names.c - the verdict vocabulary of DESIGN.md section 2; sg_assert()
 *
 * libc only (with time.c, the libsgbase convenience library): the
 * Dovecot plugins link it directly and name statuses and keywords
 * without loading the core (see dovecot-plugin/smime-core.c).
 */
#include "sg-base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const status_names[SG_STATUS_COUNT] = {
	[SG_STATUS_NONE] = "none",
	[SG_STATUS_SIGNED] = "signed",
	[SG_STATUS_SIGNED_VERIFIED] = "signed/verified",
	[SG_STATUS_SIGNED_FAILED] = "signed/failed",
	[SG_STATUS_ENCRYPTED] = "encrypted",
	[SG_STATUS_ENCRYPTED_SIGNED_VERIFIED] = "encrypted+signed/verified",
	[SG_STATUS_ENCRYPTED_SIGNED_FAILED] = "encrypted+signed/failed",
};

static const struct {
	const char *token;
	const char *text;
	bool definitive;	/* a definitive failure (signed/failed) */
} reasons[SG_REASON_COUNT] = {
	[SG_REASON_BAD_SIGNATURE] = { "bad-signature",
		"The signature does not match the message: it was changed after signing.", true },
	[SG_REASON_NO_SIGNERS] = { "no-signers",
		"The signature block contains no signer.", true },
	[SG_REASON_AMBIGUOUS_CONTENT] = { "ambiguous-content",
		"The detached signature also carries content of its own, so what was signed is ambiguous.", true },
	[SG_REASON_UNTRUSTED] = { "untrusted",
		"The signer's certificate does not chain to a trusted certificate authority of this server.", true },
	[SG_REASON_REVOKED] = { "revoked",
		"A certificate in the signer's chain has been revoked.", true },
	[SG_REASON_REVOCATION_UNKNOWN] = { "revocation-unknown",
		"The revocation status of the signer's chain could not be established (no current CRL).", false },
	[SG_REASON_EXPIRED] = { "expired",
		"A certificate in the signer's chain had expired at validation time.", true },
	[SG_REASON_NOT_YET_VALID] = { "not-yet-valid",
		"A certificate in the signer's chain was not yet valid at validation time.", true },
	[SG_REASON_KEY_USAGE] = { "key-usage",
		"The signer's certificate is not allowed for e-mail signing (key usage or extended key usage).", true },
	[SG_REASON_SENDER_MISMATCH] = { "sender-mismatch",
		"The signer's certificate does not belong to the sender address in From.", true },
	[SG_REASON_NO_FROM] = { "no-from",
		"The message has no From address to bind the signature to.", true },
	[SG_REASON_MULTIPLE_FROM] = { "multiple-from",
		"The message has more than one From header or From address.", true },
	[SG_REASON_WEAK_ALGORITHM] = { "weak-algorithm",
		"A deprecated algorithm (SHA-1, MD5, 3DES, RC2 or CBC without integrity) was used.", true },
	[SG_REASON_WEAK_KEY] = { "weak-key",
		"The key is shorter than current recommendations (RSA below 2048 bits).", false },
	[SG_REASON_PARTIAL] = { "partial",
		"Only part of the message is signed; the rest was added outside the signature.", false },
	[SG_REASON_EMBEDDED_CIPHERTEXT] = { "embedded-ciphertext",
		"An encrypted S/MIME part is embedded inside the message instead of at its root.", false },
	[SG_REASON_MALFORMED] = { "malformed",
		"The S/MIME structure is malformed and cannot be verified.", true },
	[SG_REASON_UNSUPPORTED] = { "unsupported",
		"The message uses an S/MIME form or algorithm this server does not support.", false },
	[SG_REASON_TOO_LARGE] = { "too-large",
		"The message exceeds the configured size limit for verification.", false },
	[SG_REASON_TOO_COMPLEX] = { "too-complex",
		"The message exceeds the configured MIME or CMS complexity limits.", false },
	[SG_REASON_INTERNAL_ERROR] = { "internal-error",
		"The server hit an internal error while verifying; the message was kept as it is.", false },
};

static const char *const keyword_names[SG_KW_COUNT] = {
	"$SMIMESigned", "$SMIMEVerified", "$SMIMEFailed", "$SMIMEEncrypted",
	"$SMIMEWeak",
};

const char *sg_status_name(enum sg_status status)
{
	if ((unsigned int)status >= SG_STATUS_COUNT)
		return NULL;
	return status_names[status];
}

int sg_status_parse(const char *name, enum sg_status *status_r)
{
	unsigned int i;

	for (i = 0; i < SG_STATUS_COUNT; i++) {
		if (strcmp(name, status_names[i]) == 0) {
			*status_r = (enum sg_status)i;
			return 0;
		}
	}
	return -1;
}

/* sg_status_keywords - the keywords a status implies (DESIGN.md s.2);
   $SMIMEEncrypted and $SMIMEWeak can also come from the layers */
unsigned int sg_status_keywords(enum sg_status status)
{
	switch (status) {
	case SG_STATUS_NONE:
		return 0;
	case SG_STATUS_SIGNED:
		return SG_KW_SIGNED;
	case SG_STATUS_SIGNED_VERIFIED:
		return SG_KW_SIGNED | SG_KW_VERIFIED;
	case SG_STATUS_SIGNED_FAILED:
		return SG_KW_SIGNED | SG_KW_FAILED;
	case SG_STATUS_ENCRYPTED:
		return SG_KW_ENCRYPTED;
	case SG_STATUS_ENCRYPTED_SIGNED_VERIFIED:
		return SG_KW_ENCRYPTED | SG_KW_SIGNED | SG_KW_VERIFIED;
	case SG_STATUS_ENCRYPTED_SIGNED_FAILED:
		return SG_KW_ENCRYPTED | SG_KW_SIGNED | SG_KW_FAILED;
	default:
		return 0;
	}
}

const char *sg_keyword_name(unsigned int kw_bit)
{
	unsigned int i;

	for (i = 0; i < SG_KW_COUNT; i++) {
		if (kw_bit == (1u << i))
			return keyword_names[i];
	}
	return NULL;
}

const char *sg_reason_name(enum sg_reason reason)
{
	if ((unsigned int)reason >= SG_REASON_COUNT)
		return NULL;
	return reasons[reason].token;
}

const char *sg_reason_text(enum sg_reason reason)
{
	if ((unsigned int)reason >= SG_REASON_COUNT)
		return NULL;
	return reasons[reason].text;
}

int sg_reason_parse(const char *name, enum sg_reason *reason_r)
{
	unsigned int i;

	for (i = 0; i < SG_REASON_COUNT; i++) {
		if (strcmp(name, reasons[i].token) == 0) {
			*reason_r = (enum sg_reason)i;
			return 0;
		}
	}
	return -1;
}

/* put - append s to buf as far as it fits; *used counts all of it */
static void put(char *buf, size_t size, size_t *used, const char *s)
{
	size_t len = strlen(s);

	if (*used < size)
		memcpy(buf + *used, s, len < size - *used ? len : size - *used);
	*used += len;
}

size_t sg_reasons_format(uint32_t set, const char *sep, char *buf,
			 size_t size)
{
	size_t used = 0;
	unsigned int i;

	sg_assert(sep != NULL && (buf != NULL || size == 0));
	for (i = 0; i < SG_REASON_COUNT; i++) {
		if ((set & SG_REASON_BIT(i)) == 0)
			continue;
		if (used > 0)
			put(buf, size, &used, sep);
		put(buf, size, &used, reasons[i].token);
	}
	if (size > 0)
		buf[used < size ? used : size - 1] = '\0';
	return used;
}

bool sg_reason_is_definitive(enum sg_reason r)
{
	return (unsigned int)r < SG_REASON_COUNT && reasons[r].definitive;
}

/* sg_misuse - a caller bug: report on stderr and abort (never for input) */
void sg_misuse(const char *expr, const char *file, int line)
{
	fprintf(stderr, "libsmimeguard: misuse: %s (%s:%d)\n", expr, file, line);
	abort();
}
