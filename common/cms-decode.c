/* cms-decode.c - CMS ContentInfo decoding with a certificate cache
 *
 * d2i of a SignedData makes OpenSSL 3.0 decode every certificate in it
 * (~150-200 us each, mostly public-key decoding).  The same few
 * certificates arrive in message after message, so for definite-length
 * DER we lift the [0] certificates field out of the SignedData, decode the
 * rest, and take the certificates from the context's cache.  Anything
 * else (BER indefinite lengths, unusual certificate choices) goes through
 * plain d2i_CMS_bio().
 */
#include "cms-private.h"
#include "sg-base.h"
#include "ctx-private.h"
#include "mime-private.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

struct der_tlv {
	unsigned int tag;
	size_t hdr;		/* tag + length octets */
	size_t len;		/* content length */
};

/* der_get - one definite-length TLV with a one-octet tag; -1 otherwise */
static int der_get(const unsigned char *p, size_t avail, struct der_tlv *t)
{
	size_t i, n;

	if (avail < 2 || (p[0] & 0x1f) == 0x1f)
		return -1;
	t->tag = p[0];
	if (p[1] < 0x80) {
		t->hdr = 2;
		t->len = p[1];
	} else {
		n = p[1] & 0x7f;
		if (n == 0 || n > 4 || avail < 2 + n)
			return -1;	/* indefinite, or absurdly long */
		t->len = 0;
		for (i = 0; i < n; i++)
			t->len = (t->len << 8) | p[2 + i];
		t->hdr = 2 + n;
	}
	if (t->len > avail - t->hdr)
		return -1;
	return 0;
}

static size_t der_len_size(size_t len)
{
	size_t n = 1;

	if (len < 0x80)
		return 1;
	while (len > 0) {
		n++;
		len >>= 8;
	}
	return n;
}

static unsigned char *der_put_hdr(unsigned char *o, unsigned int tag, size_t len)
{
	size_t n = der_len_size(len), i;

	*o++ = (unsigned char)tag;
	if (n == 1) {
		*o++ = (unsigned char)len;
		return o;
	}
	*o++ = (unsigned char)(0x80 | (n - 1));
	for (i = n - 1; i > 0; i--)
		*o++ = (unsigned char)(len >> (8 * (i - 1)));
	return o;
}

static const unsigned char oid_signed_data[] = {
	0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02
};

/*
 * strip_certs - rebuild a SignedData ContentInfo without its certificates
 * Returns 1 with *out_r (malloc'd) and the cert slices, 0 when the input
 * is not a stripping candidate (caller uses plain d2i), -1 on ENOMEM.
 */
static int strip_certs(const unsigned char *der, size_t len,
		       unsigned char **out_r, size_t *out_len_r,
		       struct sg_slice **certs_r, size_t *n_certs_r)
{
	struct der_tlv ci, oid, ex, sd, t;
	const unsigned char *p, *sd_end, *certs_p = NULL;
	size_t certs_len = 0, n = 0, size = 0, sd_len, ex_len, ci_len;
	struct sg_slice *slices = NULL;
	unsigned char *out, *o;

	*certs_r = NULL;
	*n_certs_r = 0;
	if (der_get(der, len, &ci) < 0 || ci.tag != 0x30)
		return 0;
	p = der + ci.hdr;
	if (der_get(p, ci.len, &oid) < 0 ||
	    oid.hdr + oid.len != sizeof(oid_signed_data) ||
	    memcmp(p, oid_signed_data, sizeof(oid_signed_data)) != 0)
		return 0;
	p += sizeof(oid_signed_data);
	if (der_get(p, ci.len - sizeof(oid_signed_data), &ex) < 0 ||
	    ex.tag != 0xa0)
		return 0;
	p += ex.hdr;
	if (der_get(p, ex.len, &sd) < 0 || sd.tag != 0x30)
		return 0;
	/* the SignedData must fill [0], and [0] the ContentInfo: bytes
	   beside them would be dropped by the rebuild below while readers
	   that keep them disagree (plain d2i refuses such input) */
	if (sd.hdr + sd.len != ex.len ||
	    sizeof(oid_signed_data) + ex.hdr + ex.len != ci.len)
		return 0;
	p += sd.hdr;
	sd_end = p + sd.len;
	/* version, digestAlgorithms, encapContentInfo */
	if (der_get(p, (size_t)(sd_end - p), &t) < 0 || t.tag != 0x02)
		return 0;
	p += t.hdr + t.len;
	if (der_get(p, (size_t)(sd_end - p), &t) < 0 || t.tag != 0x31)
		return 0;
	p += t.hdr + t.len;
	if (der_get(p, (size_t)(sd_end - p), &t) < 0 || t.tag != 0x30)
		return 0;
	p += t.hdr + t.len;
	if (p >= sd_end || der_get(p, (size_t)(sd_end - p), &t) < 0 ||
	    t.tag != 0xa0)
		return 0;	/* no certificates: nothing to gain */
	certs_p = p;
	certs_len = t.hdr + t.len;
	/* the certificates: each must be a plain Certificate SEQUENCE */
	{
		const unsigned char *c = p + t.hdr, *end = p + t.hdr + t.len;

		while (c < end) {
			struct der_tlv ct;

			if (der_get(c, (size_t)(end - c), &ct) < 0 ||
			    ct.tag != 0x30)
				goto not_candidate;
			if (n == size) {
				struct sg_slice *s;

				size = size == 0 ? 8 : size * 2;
				s = realloc(slices, size * sizeof(*s));
				if (s == NULL) {
					free(slices);
					return -1;
				}
				slices = s;
			}
			slices[n].p = c;
			slices[n].len = ct.hdr + ct.len;
			n++;
			c += ct.hdr + ct.len;
		}
	}
	/* rebuild: ContentInfo { oid, [0] { SignedData without certs } } */
	sd_len = sd.len - certs_len;
	ex_len = 1 + der_len_size(sd_len) + sd_len;
	ci_len = sizeof(oid_signed_data) + 1 + der_len_size(ex_len) + ex_len;
	if ((out = malloc(1 + der_len_size(ci_len) + ci_len)) == NULL) {
		free(slices);
		return -1;
	}
	o = der_put_hdr(out, 0x30, ci_len);
	memcpy(o, oid_signed_data, sizeof(oid_signed_data));
	o += sizeof(oid_signed_data);
	o = der_put_hdr(o, 0xa0, ex_len);
	o = der_put_hdr(o, 0x30, sd_len);
	{
		const unsigned char *sd_start = der + ci.hdr +
			sizeof(oid_signed_data) + ex.hdr + sd.hdr;
		size_t before = (size_t)(certs_p - sd_start);
		size_t after = (size_t)(sd_end - (certs_p + certs_len));

		memcpy(o, sd_start, before);
		o += before;
		memcpy(o, certs_p + certs_len, after);
		o += after;
	}
	*out_r = out;
	*out_len_r = (size_t)(o - out);
	*certs_r = slices;
	*n_certs_r = n;
	return 1;
not_candidate:
	free(slices);
	return 0;
}

/* d2i_cms - one ContentInfo from the start of der; *used_r is its size */
static CMS_ContentInfo *d2i_cms(const unsigned char *der, size_t len,
				size_t *used_r)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms;

	if (len > LONG_MAX)
		return NULL;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	if (cms != NULL)
		*used_r = (size_t)(p - der);
	return cms;
}

/* only_padding - what may follow a CMS object without hiding anything:
   NULs and line ends (a raw file's newline, base64 of a padded buffer) */
static bool only_padding(const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != 0 && p[i] != '\r' && p[i] != '\n' &&
		    p[i] != ' ' && p[i] != '\t')
			return false;
	return true;
}

/* pem_to_der - the first PEM block of text into a malloc'd DER buffer */
unsigned char *sg_cms_pem_to_der(const unsigned char *in, size_t len,
				 size_t *out_len_r)
{
	const unsigned char *begin, *end, *p;
	unsigned char *out;

	begin = memmem(in, len, "-----BEGIN", 10);
	if (begin == NULL)
		return NULL;
	p = memchr(begin, '\n', len - (size_t)(begin - in));
	if (p == NULL)
		return NULL;
	p++;
	end = memmem(p, len - (size_t)(p - in), "-----END", 8);
	if (end == NULL)
		return NULL;
	if ((out = malloc(((size_t)(end - p)) / 4 * 3 + 3)) == NULL)
		return NULL;
	if (sg_b64_decode(p, (size_t)(end - p), out, out_len_r) < 0) {
		free(out);
		return NULL;
	}
	return out;
}

CMS_ContentInfo *sg_cms_decode(struct sg_ctx *ctx, const unsigned char *der,
			       size_t len, STACK_OF(X509) **certs_r,
			       enum sg_cms_err *err_r)
{
	unsigned char *stripped = NULL;
	size_t stripped_len = 0, n_slices = 0, i, used = 0, sused;
	struct der_tlv outer;
	struct sg_slice *slices = NULL;
	CMS_ContentInfo *cms = NULL;
	STACK_OF(X509) *certs = NULL;
	int ret;

	*err_r = SG_CMS_ERR_NOT_CMS;
	if (certs_r != NULL)
		*certs_r = NULL;
	ret = strip_certs(der, len, &stripped, &stripped_len, &slices,
			  &n_slices);
	if (ret < 0)
		goto out;
	if (ret > 0) {
		if (n_slices > ctx->limits.max_certificates) {
			*err_r = SG_CMS_ERR_TOO_MANY;
			goto out;
		}
		if ((cms = d2i_cms(stripped, stripped_len, &sused)) == NULL)
			goto out;
		/* a candidate has a definite outer length */
		if (der_get(der, len, &outer) < 0) {
			*err_r = SG_CMS_ERR_NOT_CMS;
			goto fail;
		}
		used = outer.hdr + outer.len;
		if ((certs = sk_X509_new_reserve(NULL, (int)n_slices)) == NULL)
			goto fail;
		for (i = 0; i < n_slices; i++) {
			X509 *x = sg_trust_cert_from_der(ctx, slices[i].p,
							 slices[i].len);
			if (x == NULL)
				continue;	/* an undecodable cert is skipped */
			sk_X509_push(certs, x);
		}
	} else {
		if ((cms = d2i_cms(der, len, &used)) == NULL)
			goto out;
		if (OBJ_obj2nid(CMS_get0_type(cms)) == NID_pkcs7_signed) {
			certs = CMS_get1_certs(cms);
			if (certs == NULL)
				certs = sk_X509_new_null();
			if (certs == NULL)
				goto fail;
			if ((size_t)sk_X509_num(certs) > ctx->limits.max_certificates) {
				*err_r = SG_CMS_ERR_TOO_MANY;
				goto fail;
			}
		}
	}
	if (!only_padding(der + used, len - used)) {
		/* bytes after the object: readers that ignore them and
		   readers that show them disagree (plaintext could ride) */
		*err_r = SG_CMS_ERR_TRAILING;
		goto fail;
	}
	*err_r = SG_CMS_ERR_NONE;
	if (certs_r != NULL) {
		*certs_r = certs;
		certs = NULL;
	}
	goto out;
fail:
	CMS_ContentInfo_free(cms);
	cms = NULL;
out:
	sg_openssl_errors(NULL, 0);
	sk_X509_pop_free(certs, X509_free);
	free(slices);
	free(stripped);
	return cms;
}

enum sg_cms_type sg_cms_type_of(CMS_ContentInfo *cms)
{
	switch (OBJ_obj2nid(CMS_get0_type(cms))) {
	case NID_pkcs7_data:
		return SG_CMS_DATA;
	case NID_pkcs7_signed:
		return SG_CMS_SIGNED;
	case NID_pkcs7_enveloped:
		return SG_CMS_ENVELOPED;
	case NID_id_smime_ct_authEnvelopedData:
		return SG_CMS_AUTH_ENVELOPED;
	case NID_id_smime_ct_compressedData:
		return SG_CMS_COMPRESSED;
	case NID_pkcs7_digest:
		return SG_CMS_DIGESTED;
	case NID_pkcs7_encrypted:
		return SG_CMS_ENCRYPTED;
	default:
		return SG_CMS_UNKNOWN;
	}
}
