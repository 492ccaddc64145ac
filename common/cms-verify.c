/* cms-verify.c - verify a CMS SignedData layer, signer by signer
 *
 * DESIGN.md section 3 rules 3, 4, 8: every SignerInfo must verify over
 * exactly the content; zero SignerInfos fails; detached content plus
 * eContent is ambiguous unless the two are the same text; SHA-1/MD5 only
 * when allowed; the chain of each signer is validated against the
 * configured anchors.
 */
#include "cms-private.h"
#include "sg-base.h"
#include "config-private.h"
#include "ctx-private.h"
#include "result-private.h"
#include "x509-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#define FAIL(r) SG_REASON_BIT(SG_REASON_##r)

static X509 *find_signer(CMS_SignerInfo *si, STACK_OF(X509) *a,
			 STACK_OF(X509) *b)
{
	int i;

	for (i = 0; i < sk_X509_num(a); i++) {
		if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(a, i)) == 0)
			return sk_X509_value(a, i);
	}
	for (i = 0; i < sk_X509_num(b); i++) {
		if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(b, i)) == 0)
			return sk_X509_value(b, i);
	}
	return NULL;
}

/* key_strength - fail and info reasons for the signer's public key */
static void key_strength(X509 *cert, uint32_t *fail, uint32_t *info,
			 char *note, size_t note_size)
{
	EVP_PKEY *pk = X509_get0_pubkey(cert);
	int bits, id;

	if (pk == NULL) {
		*fail |= FAIL(MALFORMED);
		return;
	}
	bits = EVP_PKEY_get_bits(pk);
	id = EVP_PKEY_get_base_id(pk);
	if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS || id == EVP_PKEY_DSA) {
		if (bits < 1024) {
			*fail |= FAIL(WEAK_KEY);
			snprintf(note, note_size, "%d-bit %s key", bits,
				 id == EVP_PKEY_DSA ? "DSA" : "RSA");
		} else if (bits < 2048) {
			*info |= FAIL(WEAK_KEY);
			snprintf(note, note_size, "%d-bit %s key", bits,
				 id == EVP_PKEY_DSA ? "DSA" : "RSA");
		}
	} else if (id == EVP_PKEY_EC && bits < 256) {
		if (bits < 224)
			*fail |= FAIL(WEAK_KEY);
		else
			*info |= FAIL(WEAK_KEY);
		snprintf(note, note_size, "%d-bit EC key", bits);
	}
}

static void describe_cert(struct sg_verify_state *st, struct sg_signer *s,
			  X509 *cert)
{
	char buf[1024];
	ASN1_INTEGER *serial = X509_get_serialNumber(cert);
	BIGNUM *bn;
	char emails[1][320];

	sg_name_oneline(X509_get_subject_name(cert), buf, sizeof(buf));
	s->subject = sg_res_strdup(st->res, buf);
	sg_name_oneline(X509_get_issuer_name(cert), buf, sizeof(buf));
	s->issuer = sg_res_strdup(st->res, buf);
	if ((bn = ASN1_INTEGER_to_BN(serial, NULL)) != NULL) {
		char *hex = BN_bn2hex(bn);

		if (hex != NULL) {
			s->serial = sg_res_strdup(st->res, hex);
			OPENSSL_free(hex);
		}
		BN_free(bn);
	}
	if (sg_cert_emails(cert, emails, 1) > 0)
		s->email = sg_res_strdup(st->res, emails[0]);
}

static bool addr_equal(const char *a, const char *b)
{
	return a[0] != '\0' && strcasecmp(a, b) == 0;
}

/* bind_sender - RFC 8550 sender binding of one signer (DESIGN.md 3.7) */
static void bind_sender(struct sg_verify_state *st, struct sg_signer *s,
			X509 *cert)
{
	char emails[8][320];
	size_t i, n;

	if (!st->bind_sender || st->n_from != 1)
		return;
	n = sg_cert_emails(cert, emails, SG_ARRAY_SIZE(emails));
	for (i = 0; i < n; i++) {
		if (addr_equal(st->from_addr, emails[i]) ||
		    (st->ctx->binding == SG_BINDING_RELAXED && st->has_sender &&
		     addr_equal(st->sender_addr, emails[i]))) {
			s->email = sg_res_strdup(st->res, emails[i]);
			sg_res_set_signer_bound(st->res);
			st->any_bound = true;
			return;
		}
	}
}

/* digest_check - SHA-1/MD5 policy; returns the digest's short name */
static const char *digest_check(struct sg_verify_state *st, X509_ALGOR *dig,
				uint32_t *fail, uint32_t *unknown,
				uint32_t *info)
{
	const ASN1_OBJECT *obj;
	int nid;

	X509_ALGOR_get0(&obj, NULL, NULL, dig);
	nid = OBJ_obj2nid(obj);
	switch (nid) {
	case NID_sha256:
	case NID_sha384:
	case NID_sha512:
	case NID_sha224:
	case NID_sha3_256:
	case NID_sha3_384:
	case NID_sha3_512:
		break;
	case NID_sha1:
		if (st->ctx->allow_sha1) {
			*info |= FAIL(WEAK_ALGORITHM);
			st->weak = true;
		} else {
			*fail |= FAIL(WEAK_ALGORITHM);
		}
		break;
	case NID_md5:
	case NID_md4:
	case NID_md2:
		*fail |= FAIL(WEAK_ALGORITHM);
		break;
	default:
		*unknown |= FAIL(UNSUPPORTED);
		break;
	}
	return nid == NID_undef ? "unknown" : OBJ_nid2ln(nid);
}

/* digest_content - feed the content to every digest BIO of the chain
   that CMS_dataInit() made, straight from the caller's buffer (reading
   through the chain would copy every byte once more); the chain stays
   what CMS_SignerInfo_verify_content() expects */
static bool digest_content(BIO *chain, const BIO *end,
			   const unsigned char *content, size_t len)
{
	bool any = false;
	BIO *b;

	for (b = chain; b != NULL && b != end; b = BIO_next(b)) {
		EVP_MD_CTX *mctx = NULL;

		if (BIO_method_type(b) != BIO_TYPE_MD)
			continue;
		if (BIO_get_md_ctx(b, &mctx) <= 0 || mctx == NULL ||
		    EVP_DigestUpdate(mctx, content, len) <= 0)
			return false;
		any = true;
	}
	return any;
}

/* canon_equal - whether e, each bare LF read as CRLF (the canonical form
   of rule 9, which detached content already has), is exactly c */
static bool canon_equal(const unsigned char *e, size_t elen,
			const unsigned char *c, size_t clen)
{
	size_t i, j = 0;

	for (i = 0; i < elen; i++) {
		if (e[i] == '\n' && (i == 0 || e[i - 1] != '\r')) {
			if (j >= clen || c[j] != '\r')
				return false;
			j++;
		}
		if (j >= clen || c[j] != e[i])
			return false;
		j++;
	}
	return j == clen;
}

void sg_cms_verify_signed(struct sg_verify_state *st, CMS_ContentInfo *cms,
			  STACK_OF(X509) *certs,
			  const unsigned char *content, size_t content_len,
			  const unsigned char **econtent_r, size_t *elen_r)
{
	struct sg_result *res = st->res;
	STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
	STACK_OF(X509_CRL) *crls = NULL;
	ASN1_OCTET_STRING **pos = CMS_get0_content(cms);
	bool has_econtent = pos != NULL && *pos != NULL;
	BIO *dcont = NULL, *cmsbio = NULL;
	bool content_ok = false, same_content = false;
	int i, n = sk_CMS_SignerInfo_num(sis);

	*econtent_r = NULL;
	*elen_r = 0;
	st->signed_layer = true;
	if (content != NULL && has_econtent) {
		const unsigned char *e = ASN1_STRING_get0_data(*pos);
		int elen = ASN1_STRING_length(*pos);

		/* a client showing the first part and one showing the
		   eContent must see the same text; otherwise one of them
		   is not what was signed (eContent confusion) */
		if (e == NULL || elen < 0 ||
		    !canon_equal(e, (size_t)elen, content, content_len)) {
			st->fail |= FAIL(AMBIGUOUS_CONTENT);
			sg_res_add_detail(res, "The detached signature also encapsulates %d bytes of other content.",
					  elen);
			return;
		}
		/* the same text: verify over exactly the eContent bytes (what
		   was digested); the caller walks the detached part, which is
		   this content, so it is not handed back a second time */
		sg_res_add_detail(res, "The detached signature also encapsulates the signed part (%d bytes, the same text after line-ending canonicalisation); it was verified over the encapsulated copy.",
				  elen);
		content = NULL;
		content_len = 0;
		same_content = true;
	}
	if (content == NULL && !has_econtent) {
		st->fail |= FAIL(MALFORMED);
		sg_res_add_detail(res, "The signature is detached but no signed content was given.");
		return;
	}
	if (n <= 0) {
		st->fail |= FAIL(NO_SIGNERS);
		return;
	}
	if ((unsigned int)n > st->ctx->limits.max_signers) {
		st->unknown |= FAIL(TOO_COMPLEX);
		sg_res_add_detail(res, "The signature has %d signers, over the "
				  "limit of %u (max_signers).", n,
				  st->ctx->limits.max_signers);
		return;
	}
	if (content != NULL) {
		if (content_len > INT_MAX ||
		    (dcont = BIO_new_mem_buf(content, (int)content_len)) == NULL)
			goto internal;
	}
	crls = CMS_get1_crls(cms);
	if ((size_t)sk_X509_CRL_num(crls) > st->ctx->limits.max_crls &&
	    sk_X509_CRL_num(crls) > 0) {
		st->unknown |= FAIL(TOO_COMPLEX);
		sg_res_add_detail(res, "The signature carries %d CRLs, over the "
				  "limit of %u (max_crls).", sk_X509_CRL_num(crls),
				  st->ctx->limits.max_crls);
		BIO_free(dcont);
		sk_X509_CRL_pop_free(crls, X509_CRL_free);
		return;
	}
	cmsbio = CMS_dataInit(cms, dcont);
	if (cmsbio == NULL) {
		/* e.g. an unknown digest algorithm in digestAlgorithms */
		sg_openssl_errors(NULL, 0);
	} else if (content != NULL) {
		content_ok = digest_content(cmsbio, dcont, content, content_len);
	} else {
		/* encapsulated: the eContent bytes CMS_dataInit() reads */
		const unsigned char *e = ASN1_STRING_get0_data(*pos);
		int elen = ASN1_STRING_length(*pos);

		content_ok = e != NULL && elen >= 0 &&
			     digest_content(cmsbio, NULL, e, (size_t)elen);
	}
	for (i = 0; i < n; i++) {
		CMS_SignerInfo *si = sk_CMS_SignerInfo_value(sis, i);
		struct sg_signer *s = sg_res_add_signer(res);
		uint32_t fail = 0, unknown = 0, info = 0;
		struct sg_chain_verdict cv;
		X509_ALGOR *dig = NULL, *sig = NULL;
		EVP_PKEY *pk = NULL;
		X509 *signer;
		char note[64] = "";

		if (s == NULL)
			goto internal;
		CMS_SignerInfo_get0_algs(si, &pk, NULL, &dig, &sig);
		s->digest = sg_res_strdup(res, digest_check(st, dig, &fail,
							    &unknown, &info));
		/* ctx->intermediates grows as other threads learn; its
		   members live as long as the context */
		sg_ctx_lock(st->ctx);
		signer = find_signer(si, certs, st->ctx->intermediates);
		sg_ctx_unlock(st->ctx);
		if (signer == NULL) {
			fail |= FAIL(UNTRUSTED);
			sg_res_add_detail(res, "Signer %d: its certificate is not in the message.",
					  i + 1);
			goto signer_done;
		}
		describe_cert(st, s, signer);
		sg_res_set_signer_cert(res, signer);
		bind_sender(st, s, signer);
		CMS_SignerInfo_set1_signer_cert(si, signer);
		if (CMS_signed_get_attr_count(si) >= 0 &&
		    CMS_SignerInfo_verify(si) <= 0) {
			fail |= FAIL(BAD_SIGNATURE);
			sg_openssl_errors(NULL, 0);
		} else if (cmsbio == NULL || !content_ok) {
			unknown |= FAIL(UNSUPPORTED);
		} else if (CMS_SignerInfo_verify_content(si, cmsbio) <= 0) {
			fail |= FAIL(BAD_SIGNATURE);
			sg_openssl_errors(NULL, 0);
		}
		key_strength(signer, &fail, &info, note, sizeof(note));
		if (note[0] != '\0')
			sg_res_add_detail(res, "Signer %s uses a %s.", s->email[0] ? s->email : s->subject, note);
		sg_trust_verify_chain(st->ctx, signer, certs, crls, st->at, &cv);
		if (cv.reasons == 0 && cv.info != 0) {
			info |= cv.info;
			st->weak = true;
			sg_res_add_detail(res, "Certificate path of %s: %s (allowed, but weak).",
					  s->email[0] ? s->email : s->subject,
					  cv.detail);
		}
		if (cv.reasons != 0) {
			uint32_t inconclusive = FAIL(REVOCATION_UNKNOWN) |
				FAIL(INTERNAL_ERROR);

			unknown |= cv.reasons & inconclusive;
			fail |= cv.reasons & ~inconclusive;
			sg_res_add_detail(res, "Certificate of %s: %s.",
					  s->email[0] ? s->email : s->subject,
					  cv.detail);
		}
	signer_done:
		s->reasons = fail | unknown | info;
		s->result = fail != 0 ? SG_SIGNER_FAILED :
			    unknown != 0 ? SG_SIGNER_UNKNOWN :
			    SG_SIGNER_VERIFIED;
		if (info & FAIL(WEAK_KEY))
			st->weak = true;
		res->reasons |= s->reasons;
	}
	if (has_econtent && !same_content) {
		*econtent_r = ASN1_STRING_get0_data(*pos);
		*elen_r = (size_t)ASN1_STRING_length(*pos);
	}
	goto out;
internal:
	st->unknown |= FAIL(INTERNAL_ERROR);
out:
	sg_openssl_errors(NULL, 0);
	if (cmsbio != NULL) {
		if (dcont == NULL) {
			BIO_free_all(cmsbio);
		} else {
			while (cmsbio != NULL && cmsbio != dcont) {
				BIO *next = BIO_pop(cmsbio);

				BIO_free(cmsbio);
				cmsbio = next;
			}
		}
	}
	BIO_free(dcont);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
}
