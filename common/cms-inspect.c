/* cms-inspect.c - EnvelopedData / AuthEnvelopedData without the key
 *
 * Lists the recipients (issuer+serial, subject key identifier, key
 * agreement recipients) and the content-encryption algorithm.  OpenSSL
 * has no public getter for the algorithm, so a small BER walk reads it
 * from the encoding (NSS writes indefinite lengths here).
 */
#include "cms-private.h"
#include "sg-base.h"
#include "result-private.h"
#include "x509-private.h"

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

/* RFC 8103 id-alg-AEADChaCha20Poly1305, which OpenSSL 3.0 has no NID for */
#define OID_CHACHA20_POLY1305 "1.2.840.113549.1.9.16.3.18"

/* enc_algorithm - contentEncryptionAlgorithm of (Auth)EnvelopedData:
   its NID (NID_undef when unknown) and dotted OID text */
static int enc_algorithm(const unsigned char *der, size_t len, char *oid,
			 size_t oid_size)
{
	const unsigned char *p = der, *end = der + len;
	struct ber b;
	long n;
	ASN1_OBJECT *obj;
	const unsigned char *q;
	int nid;

	oid[0] = '\0';
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
	if (OBJ_obj2txt(oid, (int)oid_size, obj, 1) <= 0)
		oid[0] = '\0';
	ASN1_OBJECT_free(obj);
	return nid;
}

/* the content-encryption algorithms we know, with what the cipher floor
   needs to know of them; anything else is SG_CIPHER_UNKNOWN */
static const struct cipher_info {
	int nid;
	enum sg_cipher_family family;
	unsigned int bits;
	bool aead;
} ciphers[] = {
	{ NID_aes_128_cbc, SG_CIPHER_AES, 128, false },
	{ NID_aes_192_cbc, SG_CIPHER_AES, 192, false },
	{ NID_aes_256_cbc, SG_CIPHER_AES, 256, false },
	{ NID_aes_128_gcm, SG_CIPHER_AES, 128, true },
	{ NID_aes_192_gcm, SG_CIPHER_AES, 192, true },
	{ NID_aes_256_gcm, SG_CIPHER_AES, 256, true },
	{ NID_aes_128_ccm, SG_CIPHER_AES, 128, true },
	{ NID_aes_192_ccm, SG_CIPHER_AES, 192, true },
	{ NID_aes_256_ccm, SG_CIPHER_AES, 256, true },
	{ NID_chacha20_poly1305, SG_CIPHER_CHACHA20, 256, true },
	{ NID_camellia_128_cbc, SG_CIPHER_CAMELLIA, 128, false },
	{ NID_camellia_192_cbc, SG_CIPHER_CAMELLIA, 192, false },
	{ NID_camellia_256_cbc, SG_CIPHER_CAMELLIA, 256, false },
	{ NID_aria_128_cbc, SG_CIPHER_ARIA, 128, false },
	{ NID_aria_192_cbc, SG_CIPHER_ARIA, 192, false },
	{ NID_aria_256_cbc, SG_CIPHER_ARIA, 256, false },
	{ NID_aria_128_gcm, SG_CIPHER_ARIA, 128, true },
	{ NID_aria_192_gcm, SG_CIPHER_ARIA, 192, true },
	{ NID_aria_256_gcm, SG_CIPHER_ARIA, 256, true },
	{ NID_des_ede3_cbc, SG_CIPHER_3DES, 168, false },
	{ NID_des_cbc, SG_CIPHER_DES, 56, false },
	/* RC2 has one OID for every key size (its parameters carry the
	   effective key bits); every size is refused, so 0 here */
	{ NID_rc2_cbc, SG_CIPHER_RC2, 0, false },
	{ NID_rc2_40_cbc, SG_CIPHER_RC2, 40, false },
	{ NID_rc2_64_cbc, SG_CIPHER_RC2, 64, false },
};

static const struct cipher_info *cipher_of(int nid)
{
	size_t i;

	for (i = 0; i < SG_ARRAY_SIZE(ciphers); i++) {
		if (ciphers[i].nid == nid)
			return &ciphers[i];
	}
	return NULL;
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

/* add_rid - one recipient of RecipientInfo number index; an identifier
   that cannot be read leaves kind SG_RECIPIENT_OTHER (it then names no
   certificate) */
static void add_rid(struct sg_result *res, ASN1_OCTET_STRING *keyid,
		    X509_NAME *issuer, ASN1_INTEGER *sno,
		    enum sg_recipient_info info, int index)
{
	struct sg_recipient *r = sg_res_add_recipient(res);
	char buf[1024];

	if (r == NULL)
		return;
	r->info = info;
	r->index = (unsigned int)index;
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
	const struct cipher_info *ci;
	char alg[64], oid[80];
	const char *sn;
	int i, j, nid;
	bool auth = sg_cms_type_of(cms) == SG_CMS_AUTH_ENVELOPED;

	st->encrypted_layer = true;
	res->has_enc = true;
	nid = enc_algorithm(der, len, oid, sizeof(oid));
	if (nid == NID_undef && strcmp(oid, OID_CHACHA20_POLY1305) == 0)
		nid = NID_chacha20_poly1305;
	sn = nid == NID_undef ? "unknown" : OBJ_nid2ln(nid);
	for (i = 0; sn[i] != '\0' && (size_t)i + 1 < sizeof(alg); i++)
		alg[i] = (char)tolower((unsigned char)sn[i]);
	alg[i] = '\0';
	res->enc.algorithm = sg_res_strdup(res, alg);
	ci = cipher_of(nid);
	res->enc.family = ci != NULL ? ci->family : SG_CIPHER_UNKNOWN;
	res->enc.key_bits = ci != NULL ? ci->bits : 0;
	res->enc.auth_enveloped = auth;
	/* AEAD is the algorithm, inside the type made for it: an
	   AuthEnvelopedData that names CBC authenticates nothing */
	res->enc.aead = auth && ci != NULL && ci->aead;
	switch (res->enc.family) {
	case SG_CIPHER_3DES:
	case SG_CIPHER_RC2:
	case SG_CIPHER_DES:
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
								  &sno) != 1)
				keyid = NULL, issuer = NULL, sno = NULL;
			add_rid(res, keyid, issuer, sno, SG_RI_KTRI, i);
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
								      &sno) != 1)
					keyid = NULL, issuer = NULL, sno = NULL;
				add_rid(res, keyid, issuer, sno, SG_RI_KARI, i);
			}
			break;
		}
		case CMS_RECIPINFO_KEK:
			add_rid(res, NULL, NULL, NULL, SG_RI_KEKRI, i);
			break;
		case CMS_RECIPINFO_PASS:
			add_rid(res, NULL, NULL, NULL, SG_RI_PWRI, i);
			break;
		default:
			add_rid(res, NULL, NULL, NULL, SG_RI_OTHER, i);
			break;
		}
	}
	sg_openssl_errors(NULL, 0);
}
