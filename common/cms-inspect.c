/* cms-inspect.c - EnvelopedData / AuthEnvelopedData without the key
 *
 * Lists the recipients (issuer+serial, subject key identifier, key
 * agreement recipients) and the content-encryption algorithm.  OpenSSL
 * has no public getter for the algorithm, so a small BER walk reads it
 * from the encoding (NSS writes indefinite lengths here).
 */
#include "sg-private.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <sodium.h>

struct ber {
	unsigned int tag;
	size_t hdr, len;
	bool indef;
};

static int ber_hdr(const unsigned char *p, size_t avail, struct ber *b)
{
	size_t i, n;

	if (avail < 2 || (p[0] & 0x1f) == 0x1f)
		return -1;
	b->tag = p[0];
	b->indef = false;
	if (p[1] < 0x80) {
		b->hdr = 2;
		b->len = p[1];
	} else if (p[1] == 0x80) {
		if (!(p[0] & 0x20))
			return -1;	/* indefinite needs constructed */
		b->hdr = 2;
		b->len = 0;
		b->indef = true;
		return 0;
	} else {
		n = p[1] & 0x7f;
		if (n > 4 || avail < 2 + n)
			return -1;
		b->len = 0;
		for (i = 0; i < n; i++)
			b->len = (b->len << 8) | p[2 + i];
		b->hdr = 2 + n;
	}
	return b->len > avail - b->hdr ? -1 : 0;
}

/* ber_skip - total size of the element at p; -1 on error */
static long ber_skip(const unsigned char *p, size_t avail, unsigned int depth)
{
	struct ber b;
	size_t pos;

	if (depth > 32 || ber_hdr(p, avail, &b) < 0)
		return -1;
	if (!b.indef)
		return (long)(b.hdr + b.len);
	pos = b.hdr;
	while (pos + 2 <= avail) {
		long n;

		if (p[pos] == 0 && p[pos + 1] == 0)
			return (long)(pos + 2);
		if ((n = ber_skip(p + pos, avail - pos, depth + 1)) < 0)
			return -1;
		pos += (size_t)n;
	}
	return -1;
}

/* enc_algorithm_nid - contentEncryptionAlgorithm of (Auth)EnvelopedData */
static int enc_algorithm_nid(const unsigned char *der, size_t len)
{
	const unsigned char *p = der, *end = der + len;
	struct ber b;
	long n;
	ASN1_OBJECT *obj;
	const unsigned char *q;
	int nid;

	/* ContentInfo SEQ, contentType OID, [0] */
	if (ber_hdr(p, (size_t)(end - p), &b) < 0 || b.tag != 0x30)
		return NID_undef;
	p += b.hdr;
	if ((n = ber_skip(p, (size_t)(end - p), 0)) < 0)
		return NID_undef;
	p += n;
	if (ber_hdr(p, (size_t)(end - p), &b) < 0 || b.tag != 0xa0)
		return NID_undef;
	p += b.hdr;
	/* (Auth)EnvelopedData SEQ: version, [0] originatorInfo?, SET */
	if (ber_hdr(p, (size_t)(end - p), &b) < 0 || b.tag != 0x30)
		return NID_undef;
	p += b.hdr;
	while (p < end) {
		if (ber_hdr(p, (size_t)(end - p), &b) < 0)
			return NID_undef;
		if (b.tag == 0x30)
			break;	/* (auth)encryptedContentInfo */
		if ((n = ber_skip(p, (size_t)(end - p), 0)) < 0)
			return NID_undef;
		p += n;
	}
	if (p >= end)
		return NID_undef;
	p += b.hdr;
	/* contentType OID, then the AlgorithmIdentifier SEQ { OID ... } */
	if ((n = ber_skip(p, (size_t)(end - p), 0)) < 0)
		return NID_undef;
	p += n;
	if (ber_hdr(p, (size_t)(end - p), &b) < 0 || b.tag != 0x30)
		return NID_undef;
	p += b.hdr;
	if (ber_hdr(p, (size_t)(end - p), &b) < 0 || b.tag != 0x06 || b.indef)
		return NID_undef;
	q = p;
	obj = d2i_ASN1_OBJECT(NULL, &q, (long)(b.hdr + b.len));
	if (obj == NULL) {
		sg_openssl_errors(NULL, 0);
		return NID_undef;
	}
	nid = OBJ_obj2nid(obj);
	ASN1_OBJECT_free(obj);
	return nid;
}

static const char *hex_of(struct sg_result *res, const ASN1_OCTET_STRING *s)
{
	char buf[129];
	int len = ASN1_STRING_length(s);

	if (len <= 0 || len > 64)
		return "";
	sodium_bin2hex(buf, sizeof(buf), ASN1_STRING_get0_data(s), (size_t)len);
	return sg_res_strdup(res, buf);
}

static const char *serial_of(struct sg_result *res, const ASN1_INTEGER *sno)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(sno, NULL);
	const char *out = "";
	char *hex;

	if (bn == NULL)
		return "";
	if ((hex = BN_bn2hex(bn)) != NULL) {
		out = sg_res_strdup(res, hex);
		OPENSSL_free(hex);
	}
	BN_free(bn);
	return out;
}

static void add_rid(struct sg_result *res, ASN1_OCTET_STRING *keyid,
		    X509_NAME *issuer, ASN1_INTEGER *sno)
{
	struct sg_recipient *r = sg_res_add_recipient(res);
	char buf[1024];

	if (r == NULL)
		return;
	if (keyid != NULL) {
		r->kind = SG_RECIPIENT_SKI;
		r->ski = hex_of(res, keyid);
	} else if (issuer != NULL && sno != NULL) {
		r->kind = SG_RECIPIENT_ISSUER_SERIAL;
		sg_name_oneline(issuer, buf, sizeof(buf));
		r->issuer = sg_res_strdup(res, buf);
		r->serial = serial_of(res, sno);
	}
}

void sg_cms_inspect_enveloped(struct sg_verify_state *st, CMS_ContentInfo *cms,
			      const unsigned char *der, size_t len)
{
	struct sg_result *res = st->res;
	STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(cms);
	char alg[64];
	const char *sn;
	int i, j, nid;
	bool auth = sg_cms_type_of(cms) == SG_CMS_AUTH_ENVELOPED;

	st->encrypted_layer = true;
	res->has_enc = true;
	nid = enc_algorithm_nid(der, len);
	sn = nid == NID_undef ? "unknown" : OBJ_nid2ln(nid);
	for (i = 0; sn[i] != '\0' && (size_t)i + 1 < sizeof(alg); i++)
		alg[i] = (char)tolower((unsigned char)sn[i]);
	alg[i] = '\0';
	res->enc.algorithm = sg_res_strdup(res, alg);
	res->enc.aead = auth || nid == NID_aes_128_gcm || nid == NID_aes_192_gcm ||
			nid == NID_aes_256_gcm || nid == NID_chacha20_poly1305;
	switch (nid) {
	case NID_des_ede3_cbc:
	case NID_rc2_cbc:
	case NID_rc2_40_cbc:
	case NID_rc2_64_cbc:
	case NID_des_cbc:
		st->info |= SG_REASON_BIT(SG_REASON_WEAK_ALGORITHM);
		sg_res_add_detail(res, "The content is encrypted with %s, which is broken or deprecated.",
				  alg);
		break;
	default:
		break;
	}
	if (!res->enc.aead)
		st->weak = true;	/* CBC without AEAD (DESIGN.md s.2) */
	for (i = 0; i < sk_CMS_RecipientInfo_num(ris); i++) {
		CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value(ris, i);
		ASN1_OCTET_STRING *keyid = NULL;
		X509_NAME *issuer = NULL;
		ASN1_INTEGER *sno = NULL;

		switch (CMS_RecipientInfo_type(ri)) {
		case CMS_RECIPINFO_TRANS:
			if (CMS_RecipientInfo_ktri_get0_signer_id(ri, &keyid, &issuer,
								  &sno) == 1)
				add_rid(res, keyid, issuer, sno);
			break;
		case CMS_RECIPINFO_AGREE: {
			STACK_OF(CMS_RecipientEncryptedKey) *reks =
				CMS_RecipientInfo_kari_get0_reks(ri);

			for (j = 0; j < sk_CMS_RecipientEncryptedKey_num(reks); j++) {
				CMS_RecipientEncryptedKey *rek =
					sk_CMS_RecipientEncryptedKey_value(reks, j);

				keyid = NULL;
				issuer = NULL;
				sno = NULL;
				if (CMS_RecipientEncryptedKey_get0_id(rek, &keyid, NULL,
								      NULL, &issuer,
								      &sno) == 1)
					add_rid(res, keyid, issuer, sno);
			}
			break;
		}
		default: {
			struct sg_recipient *r = sg_res_add_recipient(res);

			if (r != NULL)
				r->kind = SG_RECIPIENT_OTHER;
			break;
		}
		}
	}
	sg_openssl_errors(NULL, 0);
}
