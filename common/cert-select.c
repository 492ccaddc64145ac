/* cert-select.c - can mail be encrypted to this certificate, and if not,
 * why not
 *
 * DESIGN.md section 4, "Certificate resolution": currently valid, chains
 * to a trust anchor (configured intermediates help), not revoked (as
 * revocation_check says), a key that can encrypt (RSA >= 2048 bits with
 * keyEncipherment, EC/X25519/X448 with keyAgreement, when keyUsage is
 * present) and emailProtection when extendedKeyUsage is present.
 *
 * The chain is validated by trust.c with the ENCRYPT purpose: the CAs are
 * checked for S/MIME as for signing, the leaf's key usage here (OpenSSL's
 * smime_encrypt purpose knows no keyAgreement).
 *
 * A map certificate's evaluation is cached with it (struct sg_csel_eval):
 * its description and the time-independent findings always, and a clean
 * chain result with the window in which it holds, so a usable certificate
 * looked up again is answered without decoding it.
 */
#include "cert-select.h"
#include "sg-base.h"
#include "ctx-private.h"
#include "dirmap-private.h"
#include "x509-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#define R(r) SG_REASON_BIT(SG_REASON_##r)

struct sg_csel_eval {
	const char *subject, *issuer, *serial, *ski, *key, *key_usage;
	const char *static_detail;
	time_t not_before, not_after;
	uint32_t static_reasons;	/* key-usage, weak-key, malformed */
	bool chain_ok;
	bool pinned;			/* chain_ok because pinned */
	time_t ok_from, ok_until;	/* chain_ok: where it holds */
	char strings[];			/* the strings above */
};

/* the order in which reasons explain a rejection */
static const enum sg_reason main_order[] = {
	SG_REASON_MALFORMED, SG_REASON_REVOKED, SG_REASON_UNTRUSTED,
	SG_REASON_EXPIRED, SG_REASON_NOT_YET_VALID, SG_REASON_KEY_USAGE,
	SG_REASON_WEAK_KEY, SG_REASON_WEAK_ALGORITHM,
	SG_REASON_REVOCATION_UNKNOWN, SG_REASON_INTERNAL_ERROR,
};

/* sg_csel_main_reason - the reason that explains a rejection best */
enum sg_reason sg_csel_main_reason(uint32_t reasons)
{
	size_t i;
	unsigned int r;

	for (i = 0; i < SG_ARRAY_SIZE(main_order); i++) {
		if (reasons & SG_REASON_BIT(main_order[i]))
			return main_order[i];
	}
	for (r = 0; r < SG_REASON_COUNT; r++) {
		if (reasons & SG_REASON_BIT(r))
			return (enum sg_reason)r;
	}
	return SG_REASON_INTERNAL_ERROR;
}

/* add_sentence - append one sentence to a detail buffer */
static void add_sentence(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add_sentence(char *buf, size_t size, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used > 0 && used + 1 < size)
		buf[used++] = ' ';
	buf[used] = '\0';
	va_start(ap, fmt);
	vsnprintf(buf + used, size - used, fmt, ap);
	va_end(ap);
}

/* list_flags - names of the bits of v that are set, ", " separated,
   appended to buf */
static void list_flags(char *buf, size_t size, uint32_t v,
		       const uint32_t *bits, const char *const *names, size_t n)
{
	size_t i, used = strlen(buf);
	bool first = true;

	for (i = 0; i < n && used < size; i++) {
		if (!(v & bits[i]))
			continue;
		used += (size_t)snprintf(buf + used, size - used, "%s%s",
					 first ? "" : ", ", names[i]);
		first = false;
	}
}

/* usage_summary - "digitalSignature, keyEncipherment; EKU emailProtection" */
static void usage_summary(X509 *x, char *buf, size_t size)
{
	static const uint32_t ku_bits[] = {
		KU_DIGITAL_SIGNATURE, KU_NON_REPUDIATION, KU_KEY_ENCIPHERMENT,
		KU_DATA_ENCIPHERMENT, KU_KEY_AGREEMENT, KU_KEY_CERT_SIGN,
		KU_CRL_SIGN, KU_ENCIPHER_ONLY, KU_DECIPHER_ONLY,
	};
	static const char *const ku_names[] = {
		"digitalSignature", "nonRepudiation", "keyEncipherment",
		"dataEncipherment", "keyAgreement", "keyCertSign", "cRLSign",
		"encipherOnly", "decipherOnly",
	};
	static const uint32_t xku_bits[] = {
		XKU_SMIME, XKU_SSL_SERVER, XKU_SSL_CLIENT, XKU_CODE_SIGN,
		XKU_OCSP_SIGN, XKU_TIMESTAMP, XKU_DVCS, XKU_ANYEKU,
	};
	static const char *const xku_names[] = {
		"emailProtection", "serverAuth", "clientAuth", "codeSigning",
		"OCSPSigning", "timeStamping", "DVCS", "anyExtendedKeyUsage",
	};
	uint32_t flags = X509_get_extension_flags(x);
	size_t used;

	buf[0] = '\0';
	if (flags & EXFLAG_KUSAGE)
		list_flags(buf, size, X509_get_key_usage(x), ku_bits, ku_names,
			   SG_ARRAY_SIZE(ku_bits));
	else
		snprintf(buf, size, "no keyUsage");
	if (buf[0] == '\0')
		snprintf(buf, size, "empty keyUsage");
	if (!(flags & EXFLAG_XKUSAGE))
		return;
	used = strlen(buf);
	snprintf(buf + used, size - used, "; EKU ");
	used = strlen(buf);
	list_flags(buf, size, X509_get_extended_key_usage(x), xku_bits,
		   xku_names, SG_ARRAY_SIZE(xku_bits));
	if (strlen(buf) == used)
		snprintf(buf + used, size - used, "(other purposes)");
}

/* key_checks - can this key encrypt, and is it strong enough */
static uint32_t key_checks(X509 *x, char *key, size_t key_size,
			   char *detail, size_t detail_size)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	uint32_t flags = X509_get_extension_flags(x), need = 0, reasons = 0;
	const char *need_name = "", *alg;
	char group[64] = "";
	size_t glen;
	int id, bits;

	if (pk == NULL) {
		sg_openssl_errors(NULL, 0);
		snprintf(key, key_size, "unknown");
		add_sentence(detail, detail_size, "Its public key cannot be decoded.");
		return R(MALFORMED);
	}
	id = EVP_PKEY_get_base_id(pk);
	bits = EVP_PKEY_get_bits(pk);
	switch (id) {
	case EVP_PKEY_RSA:
		snprintf(key, key_size, "RSA-%d", bits);
		need = KU_KEY_ENCIPHERMENT;
		need_name = "an RSA key needs keyEncipherment";
		if (bits < 2048) {
			reasons |= R(WEAK_KEY);
			add_sentence(detail, detail_size,
				     "Its RSA key has %d bits; at least 2048 are required.",
				     bits);
		}
		break;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) != 1)
			snprintf(group, sizeof(group), "%d", bits);
		snprintf(key, key_size, "EC-%s", group);
		need = KU_KEY_AGREEMENT;
		need_name = "an EC key needs keyAgreement";
		if (bits < 224) {
			reasons |= R(WEAK_KEY);
			add_sentence(detail, detail_size,
				     "Its EC key has %d bits; at least 224 are required.",
				     bits);
		}
		break;
	case EVP_PKEY_X25519:
	case EVP_PKEY_X448:
		snprintf(key, key_size, "%s", id == EVP_PKEY_X25519 ? "X25519" : "X448");
		need = KU_KEY_AGREEMENT;
		need_name = "an X25519/X448 key needs keyAgreement";
		break;
	default:
		alg = OBJ_nid2sn(id);
		snprintf(key, key_size, "%s-%d", alg != NULL ? alg : "unknown", bits);
		reasons |= R(KEY_USAGE);
		add_sentence(detail, detail_size,
			     "Its key type (%s) cannot be used to encrypt.", key);
		sg_openssl_errors(NULL, 0);
		return reasons;
	}
	if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(x) & need)) {
		reasons |= R(KEY_USAGE);
		add_sentence(detail, detail_size,
			     "Its key usage does not allow encryption (%s).",
			     need_name);
	}
	if ((flags & EXFLAG_XKUSAGE) &&
	    !(X509_get_extended_key_usage(x) & XKU_SMIME)) {
		reasons |= R(KEY_USAGE);
		add_sentence(detail, detail_size,
			     "Its extended key usage does not include emailProtection.");
	}
	sg_openssl_errors(NULL, 0);
	return reasons;
}

/* describe - the static part of an evaluation */
static void describe(X509 *x, struct sg_csel_info *info)
{
	const ASN1_OCTET_STRING *skid;
	BIGNUM *bn;

	sg_name_oneline(X509_get_subject_name(x), info->subject,
			sizeof(info->subject));
	sg_name_oneline(X509_get_issuer_name(x), info->issuer,
			sizeof(info->issuer));
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) != NULL) {
		char *hex = BN_bn2hex(bn);

		if (hex != NULL) {
			snprintf(info->serial, sizeof(info->serial), "%s", hex);
			OPENSSL_free(hex);
		}
		BN_free(bn);
	}
	skid = X509_get0_subject_key_id(x);
	if (skid != NULL && ASN1_STRING_length(skid) > 0 &&
	    ASN1_STRING_length(skid) <= 64)
		sodium_bin2hex(info->ski, sizeof(info->ski),
			       ASN1_STRING_get0_data(skid),
			       (size_t)ASN1_STRING_length(skid));
	info->not_before = sg_asn1_time(X509_get0_notBefore(x));
	info->not_after = sg_asn1_time(X509_get0_notAfter(x));
	usage_summary(x, info->key_usage, sizeof(info->key_usage));
	info->reasons |= key_checks(x, info->key, sizeof(info->key),
				    info->detail, sizeof(info->detail));
	sg_openssl_errors(NULL, 0);
}

/* chain_sentences - explain what path validation found */
static void chain_sentences(struct sg_csel_info *info, time_t at,
			    const struct sg_chain_verdict *cv)
{
	char t[32];
	uint32_t r = cv->reasons;

	if (r & R(REVOKED))
		add_sentence(info->detail, sizeof(info->detail),
			     "It has been revoked (%s).", cv->detail);
	if (r & R(UNTRUSTED))
		add_sentence(info->detail, sizeof(info->detail),
			     "It does not chain to a trust anchor of this server (%s).",
			     cv->detail);
	if (r & R(EXPIRED)) {
		if (info->not_after != 0 && at >= info->not_after) {
			sg_time_iso(info->not_after, t, sizeof(t));
			add_sentence(info->detail, sizeof(info->detail),
				     "It expired on %s.", t);
		} else {
			add_sentence(info->detail, sizeof(info->detail),
				     "A CA certificate of its chain has expired (%s).",
				     cv->detail);
		}
	}
	if (r & R(NOT_YET_VALID)) {
		if (at < info->not_before) {
			sg_time_iso(info->not_before, t, sizeof(t));
			add_sentence(info->detail, sizeof(info->detail),
				     "It is not valid before %s.", t);
		} else {
			add_sentence(info->detail, sizeof(info->detail),
				     "A CA certificate of its chain is not yet valid (%s).",
				     cv->detail);
		}
	}
	if (r & R(KEY_USAGE))
		add_sentence(info->detail, sizeof(info->detail),
			     "A certificate of its chain is not allowed for S/MIME (%s).",
			     cv->detail);
	if (r & R(WEAK_KEY))
		add_sentence(info->detail, sizeof(info->detail),
			     "A key of its chain is too weak (%s).", cv->detail);
	if (r & R(WEAK_ALGORITHM))
		add_sentence(info->detail, sizeof(info->detail),
			     "Its chain uses a deprecated signature algorithm (%s).",
			     cv->detail);
	if (r & R(MALFORMED))
		add_sentence(info->detail, sizeof(info->detail),
			     "Its chain cannot be decoded (%s).", cv->detail);
	if (r & R(REVOCATION_UNKNOWN))
		add_sentence(info->detail, sizeof(info->detail),
			     "Its revocation status is unknown: no current CRL for a CA of its chain (%s).",
			     cv->detail);
	if (r & R(INTERNAL_ERROR))
		add_sentence(info->detail, sizeof(info->detail),
			     "It could not be checked (%s).", cv->detail);
}

/* usable_sentence - the detail of a usable certificate */
static void usable_sentence(struct sg_csel_info *info)
{
	char t[32];

	sg_time_iso(info->not_after, t, sizeof(t));
	info->detail[0] = '\0';
	if (info->pinned)
		add_sentence(info->detail, sizeof(info->detail),
			     "Usable for encryption as a pinned partner "
			     "certificate (pinned_certificates: no CA vouches "
			     "for it); valid until %s.", t);
	else
		add_sentence(info->detail, sizeof(info->detail),
			     "Usable for encryption; valid until %s.", t);
}

/* check_pinned - a certificate of pinned_certificates needs no chain,
   only to be within its validity period; false when not pinned */
static bool check_pinned(struct sg_ctx *ctx, X509 *x, time_t at,
			 struct sg_csel_info *info, struct sg_csel_eval *ev)
{
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);
	bool pinned = len > 0 && sg_trust_is_pinned(ctx, der, (size_t)len);
	char t[32];

	OPENSSL_free(der);
	if (!pinned)
		return false;
	if (ev != NULL)
		ev->chain_ok = false;
	if (info->not_before == 0 || info->not_after == 0) {
		info->reasons |= R(MALFORMED);
		add_sentence(info->detail, sizeof(info->detail),
			     "Its validity period cannot be read.");
	} else if (at < info->not_before) {
		info->reasons |= R(NOT_YET_VALID);
		sg_time_iso(info->not_before, t, sizeof(t));
		add_sentence(info->detail, sizeof(info->detail),
			     "It is pinned, but not valid before %s.", t);
	} else if (at >= info->not_after) {
		info->reasons |= R(EXPIRED);
		sg_time_iso(info->not_after, t, sizeof(t));
		add_sentence(info->detail, sizeof(info->detail),
			     "It is pinned, but expired on %s.", t);
	} else {
		info->pinned = true;
		if (ev != NULL) {
			ev->chain_ok = true;
			ev->pinned = true;
			ev->ok_from = info->not_before;
			ev->ok_until = info->not_after;
		}
	}
	return true;
}

/* check_chain - path validation for encryption at time at */
static void check_chain(struct sg_ctx *ctx, X509 *x, time_t at,
			struct sg_csel_info *info, struct sg_csel_eval *ev)
{
	struct sg_chain_verdict cv;

	if (ctx->n_pinned > 0 && check_pinned(ctx, x, at, info, ev))
		return;
	sg_trust_verify_chain_for(ctx, x, NULL, NULL, at, SG_CHAIN_ENCRYPT, &cv);
	if (cv.reasons == 0) {
		if (ev != NULL) {
			ev->chain_ok = true;
			ev->ok_from = cv.valid_from;
			ev->ok_until = cv.valid_until;
		}
		return;
	}
	if (ev != NULL)
		ev->chain_ok = false;
	info->reasons |= cv.reasons;
	chain_sentences(info, at, &cv);
}

/* sg_csel_eval_cert - evaluate a decoded certificate (no cache) */
void sg_csel_eval_cert(struct sg_ctx *ctx, X509 *cert, time_t at,
		       struct sg_csel_info *info)
{
	memset(info, 0, sizeof(*info));
	describe(cert, info);
	if ((info->reasons & R(MALFORMED)) == 0)
		check_chain(ctx, cert, at, info, NULL);
	if (info->reasons == 0)
		usable_sentence(info);
}

/* eval_new - keep the static part of an evaluation: one malloc'd block
   with its strings, which the map that holds the certificate frees with
   free() (dirmap-private.h, struct sg_dirmap_cert) */
static struct sg_csel_eval *eval_new(const struct sg_csel_info *info)
{
	const char *src[] = {
		info->subject, info->issuer, info->serial, info->ski,
		info->key, info->key_usage, info->detail,
	};
	const char **dst[SG_ARRAY_SIZE(src)];
	struct sg_csel_eval *ev;
	size_t total = 0, i;
	char *p;

	for (i = 0; i < SG_ARRAY_SIZE(src); i++)
		total += strlen(src[i]) + 1;
	if ((ev = calloc(1, sizeof(*ev) + total)) == NULL)
		return NULL;
	dst[0] = &ev->subject;
	dst[1] = &ev->issuer;
	dst[2] = &ev->serial;
	dst[3] = &ev->ski;
	dst[4] = &ev->key;
	dst[5] = &ev->key_usage;
	dst[6] = &ev->static_detail;
	for (i = 0, p = ev->strings; i < SG_ARRAY_SIZE(src); i++) {
		size_t len = strlen(src[i]) + 1;

		memcpy(p, src[i], len);
		*dst[i] = p;
		p += len;
	}
	ev->not_before = info->not_before;
	ev->not_after = info->not_after;
	ev->static_reasons = info->reasons;
	return ev;
}

/* info_from_eval - the static part of an evaluation, from the cache */
static void info_from_eval(const struct sg_csel_eval *ev,
			   struct sg_csel_info *info)
{
	memset(info, 0, sizeof(*info));
	snprintf(info->subject, sizeof(info->subject), "%s", ev->subject);
	snprintf(info->issuer, sizeof(info->issuer), "%s", ev->issuer);
	snprintf(info->serial, sizeof(info->serial), "%s", ev->serial);
	snprintf(info->ski, sizeof(info->ski), "%s", ev->ski);
	snprintf(info->key, sizeof(info->key), "%s", ev->key);
	snprintf(info->key_usage, sizeof(info->key_usage), "%s", ev->key_usage);
	snprintf(info->detail, sizeof(info->detail), "%s", ev->static_detail);
	info->not_before = ev->not_before;
	info->not_after = ev->not_after;
	info->reasons = ev->static_reasons;
	info->pinned = ev->pinned;
}

/* sg_csel_eval_entry - evaluate a map certificate, cached */
void sg_csel_eval_entry(struct sg_ctx *ctx, struct sg_dirmap_cert *c,
			time_t at, struct sg_csel_info *info)
{
	struct sg_csel_eval *ev = c->eval;
	X509 *x;

	if (ev != NULL) {
		info_from_eval(ev, info);
		if (ev->static_reasons == 0 && ev->chain_ok &&
		    at >= ev->ok_from && at < ev->ok_until) {
			usable_sentence(info);
			return;
		}
		if (ev->static_reasons & R(MALFORMED))
			return;
	}
	x = sg_trust_cert_from_der(ctx, c->der, c->der_len);
	if (x == NULL) {
		if (ev == NULL) {
			memset(info, 0, sizeof(*info));
			info->not_before = c->not_before;
			info->reasons = R(MALFORMED);
			add_sentence(info->detail, sizeof(info->detail),
				     "The certificate cannot be decoded.");
			c->eval = eval_new(info);
		}
		return;
	}
	if (ev == NULL) {
		memset(info, 0, sizeof(*info));
		describe(x, info);
		ev = c->eval = eval_new(info);	/* NULL: not cached */
	}
	/* a certificate that is malformed stays so: its chain does not
	   matter (and the cached path above answers without it) */
	if ((info->reasons & R(MALFORMED)) == 0)
		check_chain(ctx, x, at, info, ev);
	X509_free(x);
	if (info->reasons == 0)
		usable_sentence(info);
}
