/* suite-limits.c - every verification limit at its edge
 *
 * For each setting of smimeguard.conf's "Limits" section: a message
 * exactly at the limit gets its normal verdict, one unit over it gets
 * the DESIGN.md verdict (signed + too-large / too-complex, or a
 * too-complex reason on an unsigned message), never a crash and never a
 * wrong "verified".  max_crl_size is tested through sg_crl_install().
 * The policy request limit is in suite-policy-proto.c, policy request
 * timeout and connection limits in tests/server/test-postfix.py, LDAP
 * size_limit in tests/ldap/test-ldap.py.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "check-suites.h"
#include "test-util.h"

#define DEFAULTS "trust_anchors=trust intermediates=intermediates " \
		 "crl_dirs=crl revocation_check=soft"

static unsigned char *good;
static size_t good_len;

static void setup(void)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/msg/alice-detached.eml", tu_testdata());
	good = tu_read(path, &good_len);
}

static void teardown(void)
{
	free(good);
	good = NULL;
}

/* verdict of msg under DEFAULTS plus one more setting */
static enum sg_status verdict_with(const char *setting, const void *msg,
				   size_t len, uint32_t *reasons_r)
{
	char settings[256];
	struct sg_ctx *ctx;
	struct sg_result *res;
	enum sg_status st;

	snprintf(settings, sizeof(settings), DEFAULTS " %s", setting);
	ctx = tu_ctx(settings, tu_testdata());
	res = tu_verify(ctx, msg, len, 0);
	st = sg_result_status(res);
	*reasons_r = sg_result_reasons(res);
	sg_result_free(&res);
	sg_ctx_free(&ctx);
	return st;
}

#define TOO_COMPLEX SG_REASON_BIT(SG_REASON_TOO_COMPLEX)
#define TOO_LARGE SG_REASON_BIT(SG_REASON_TOO_LARGE)

/* at_edge - limit NAME = value: verified; value - 1: signed + reason */
static void at_edge(const char *name, size_t value, const void *msg,
		    size_t len, uint32_t reason)
{
	char s[128];
	uint32_t r;

	snprintf(s, sizeof(s), "%s=%zu", name, value);
	ck_assert_msg(verdict_with(s, msg, len, &r) == SG_STATUS_SIGNED_VERIFIED,
		      "%s: not verified at the limit (%s)", s, tu_reasons(r));
	snprintf(s, sizeof(s), "%s=%zu", name, value - 1);
	ck_assert_msg(verdict_with(s, msg, len, &r) == SG_STATUS_SIGNED,
		      "%s: not 'signed' over the limit", s);
	ck_assert_msg(r & reason, "%s: reasons %s", s, tu_reasons(r));
}

START_TEST(test_max_message_size)
{
	at_edge("max_message_size", good_len, good, good_len, TOO_LARGE);
}
END_TEST

/* the root header block: its size and number of fields */
static void root_header(size_t *size_r, size_t *fields_r)
{
	const unsigned char *p = good, *end = good + good_len;
	size_t fields = 0;

	while (p < end) {
		const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

		if (n == 0 || (n == 1 && p[0] == '\r')) {
			p = nl + 1;
			break;
		}
		if (p[0] != ' ' && p[0] != '\t')
			fields++;
		p = nl != NULL ? nl + 1 : end;
	}
	*size_r = (size_t)(p - good);
	*fields_r = fields;
}

START_TEST(test_max_header_size)
{
	size_t size, fields;

	root_header(&size, &fields);
	ck_assert_uint_gt(size, 100);
	at_edge("max_header_size", size, good, good_len, TOO_COMPLEX);
}
END_TEST

START_TEST(test_max_header_fields)
{
	size_t size, fields;

	root_header(&size, &fields);
	ck_assert_uint_gt(fields, 3);
	at_edge("max_header_fields", fields, good, good_len, TOO_COMPLEX);
}
END_TEST

START_TEST(test_max_certificates)
{
	/* the message carries the signer's certificate and its CA's */
	at_edge("max_certificates", 2, good, good_len, TOO_COMPLEX);
}
END_TEST

/* read a generated message */
static unsigned char *msg(const char *name, size_t *len_r)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/msg/%s", tu_testdata(), name);
	return tu_read(path, len_r);
}

START_TEST(test_max_signers)
{
	size_t len;
	unsigned char *m = msg("two-signers.eml", &len);

	at_edge("max_signers", 2, m, len, TOO_COMPLEX);
	free(m);
}
END_TEST

START_TEST(test_max_crls)
{
	size_t len;
	unsigned char *m = msg("alice-crl-in-cms.eml", &len);

	/* one CRL in the SignedData's crls field */
	at_edge("max_crls", 1, m, len, TOO_COMPLEX);
	free(m);
}
END_TEST

START_TEST(test_max_cms_nesting)
{
	char path[4096];
	unsigned char *m;
	size_t len;

	/* compressed-data around signed-data: two CMS layers */
	snprintf(path, sizeof(path), "%s/msg/compressed-signed.eml", tu_testdata());
	m = tu_read(path, &len);
	at_edge("max_cms_nesting", 2, m, len, TOO_COMPLEX);
	free(m);
}
END_TEST

/* nested - depth multipart/mixed levels around a text part */
static char *nested(size_t depth, size_t *len_r)
{
	char *m = malloc(depth * 120 + 256);
	size_t len, i;

	ck_assert_ptr_nonnull(m);
	len = (size_t)sprintf(m, "From: a@example.org\r\n");
	for (i = 0; i < depth; i++)
		len += (size_t)sprintf(m + len,
			"Content-Type: multipart/mixed; boundary=\"b%zu\"\r\n\r\n--b%zu\r\n",
			i, i);
	len += (size_t)sprintf(m + len, "Content-Type: text/plain\r\n\r\nhello\r\n");
	for (i = depth; i-- > 0;)
		len += (size_t)sprintf(m + len, "--b%zu--\r\n", i);
	*len_r = len;
	return m;
}

START_TEST(test_max_mime_depth)
{
	size_t len;
	uint32_t r;
	char *m = nested(8, &len);

	/* the text part is 8 levels below the root */
	ck_assert_int_eq(verdict_with("max_mime_depth=8", m, len, &r), SG_STATUS_NONE);
	ck_assert_msg(r == 0, "%s", tu_reasons(r));
	ck_assert_int_eq(verdict_with("max_mime_depth=7", m, len, &r), SG_STATUS_NONE);
	ck_assert_msg(r & TOO_COMPLEX, "%s", tu_reasons(r));
	free(m);
}
END_TEST

START_TEST(test_max_mime_parts)
{
	size_t n = 50, i, len;
	char *m = malloc(n * 40 + 256);
	uint32_t r;

	ck_assert_ptr_nonnull(m);
	len = (size_t)sprintf(m, "From: a@example.org\r\n"
			      "Content-Type: multipart/mixed; boundary=x\r\n\r\n");
	for (i = 0; i < n; i++)
		len += (size_t)sprintf(m + len, "--x\r\n\r\npart %zu\r\n", i);
	len += (size_t)sprintf(m + len, "--x--\r\n");
	/* the root counts as a part: 51 entities */
	ck_assert_int_eq(verdict_with("max_mime_parts=51", m, len, &r), SG_STATUS_NONE);
	ck_assert_msg(r == 0, "%s", tu_reasons(r));
	ck_assert_int_eq(verdict_with("max_mime_parts=50", m, len, &r), SG_STATUS_NONE);
	ck_assert_msg(r & TOO_COMPLEX, "%s", tu_reasons(r));
	free(m);
}
END_TEST

START_TEST(test_max_crl_size)
{
	char path[4096], dir[] = "/tmp/sg-limits-XXXXXX", settings[256];
	struct sg_crl_report rep[4];
	struct sg_error err;
	struct sg_ctx *ctx;
	unsigned char *crl;
	size_t len, n;

	snprintf(path, sizeof(path), "%s/crl/int-rsa.crl.pem", tu_testdata());
	crl = tu_read(path, &len);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(settings, sizeof(settings), "trust_anchors=trust "
		 "intermediates=intermediates max_crl_size=%zu", len);
	ctx = tu_ctx(settings, tu_testdata());
	ck_assert_int_eq(sg_crl_install(ctx, dir, crl, len, 0, SG_CRL_DRY_RUN,
					rep, 4, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(rep[0].outcome, SG_CRL_INSTALLED);
	sg_ctx_free(&ctx);
	snprintf(settings, sizeof(settings), "trust_anchors=trust "
		 "intermediates=intermediates max_crl_size=%zu", len - 1);
	ctx = tu_ctx(settings, tu_testdata());
	ck_assert_int_eq(sg_crl_install(ctx, dir, crl, len, 0, SG_CRL_DRY_RUN,
					rep, 4, &n, &err), -1);
	ck_assert_msg(strstr(err.msg, "max_crl_size") != NULL, "%s", err.msg);
	sg_ctx_free(&ctx);
	rmdir(dir);
	free(crl);
}
END_TEST

/* the 2 MB Subject and 100,000 fields of suite-hostile under defaults */
/* der_tlv - tag, DER length and body into out; returns the length */
static size_t der_tlv(unsigned char *out, unsigned int tag,
		      const unsigned char *body, size_t len)
{
	size_t n = 0, i, k = 0;

	out[n++] = (unsigned char)tag;
	if (len < 0x80) {
		out[n++] = (unsigned char)len;
	} else {
		for (i = len; i > 0; i >>= 8)
			k++;
		out[n++] = (unsigned char)(0x80 | k);
		for (i = k; i > 0; i--)
			out[n++] = (unsigned char)(len >> (8 * (i - 1)));
	}
	memmove(out + n, body, len);
	return n + len;
}

/* compress_entity - an application/pkcs7-mime compressed-data message
   (RFC 3274, zlib) around entity */
static unsigned char *compress_entity(const unsigned char *entity, size_t len,
				      size_t *out_len_r)
{
	static const char hdr[] = "Content-Type: application/pkcs7-mime; "
		"smime-type=compressed-data; name=smime.p7z\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n";
	static const unsigned char oid_cd[] = { 0x06, 0x0b, 0x2a, 0x86, 0x48,
		0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x09 };
	static const unsigned char alg_zlib[] = { 0x30, 0x0d, 0x06, 0x0b, 0x2a,
		0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x03, 0x08 };
	static const unsigned char oid_data[] = { 0x06, 0x09, 0x2a, 0x86, 0x48,
		0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01 };
	uLongf zlen = compressBound((uLong)len);
	size_t room = zlen + 256, n;
	unsigned char *z = malloc(room), *a = malloc(room), *b = malloc(room);
	unsigned char *msg;
	int blen;

	ck_assert(z != NULL && a != NULL && b != NULL);
	ck_assert_int_eq(compress2(z, &zlen, entity, (uLong)len, 9), Z_OK);
	n = der_tlv(a, 0x04, z, zlen);			/* OCTET STRING */
	n = der_tlv(b, 0xa0, a, n);			/* [0] */
	memmove(b + sizeof(oid_data), b, n);
	memcpy(b, oid_data, sizeof(oid_data));
	n = der_tlv(a, 0x30, b, n + sizeof(oid_data));	/* EncapsulatedContentInfo */
	memmove(a + 3 + sizeof(alg_zlib), a, n);
	memcpy(a, "\x02\x01\x00", 3);			/* version 0 */
	memcpy(a + 3, alg_zlib, sizeof(alg_zlib));
	n = der_tlv(b, 0x30, a, n + 3 + sizeof(alg_zlib));	/* CompressedData */
	n = der_tlv(a, 0xa0, b, n);
	memmove(a + sizeof(oid_cd), a, n);
	memcpy(a, oid_cd, sizeof(oid_cd));
	n = der_tlv(b, 0x30, a, n + sizeof(oid_cd));	/* ContentInfo */
	msg = malloc(sizeof(hdr) + n / 3 * 4 + 8);
	ck_assert_ptr_nonnull(msg);
	memcpy(msg, hdr, sizeof(hdr) - 1);
	blen = EVP_EncodeBlock(msg + sizeof(hdr) - 1, b, (int)n);
	*out_len_r = sizeof(hdr) - 1 + (size_t)blen;
	free(z);
	free(a);
	free(b);
	return msg;
}

/* max_decompressed_size and max_compression_ratio (issue 18): the sum of
   all layers and each layer's ratio, at their edges */
START_TEST(test_decompression)
{
	static const char text_hdr[] = "Content-Type: text/plain\r\n\r\n";
	size_t n = 2 * 1024 * 1024, len, layer_len[4], total = 0, i;
	unsigned char *entity = malloc(sizeof(text_hdr) + n), *msg, *next;
	char setting[160];
	uint32_t r;

	ck_assert_ptr_nonnull(entity);
	memcpy(entity, text_hdr, sizeof(text_hdr) - 1);
	memset(entity + sizeof(text_hdr) - 1, 'A', n);
	len = sizeof(text_hdr) - 1 + n;
	/* one layer: 2 MB from a few KB is over the default ratio of 100 */
	msg = compress_entity(entity, len, &layer_len[0]);
	ck_assert_int_eq(verdict_with("max_decompressed_size=67108864", msg,
				      layer_len[0], &r), SG_STATUS_SIGNED);
	ck_assert(r & SG_REASON_BIT(SG_REASON_TOO_LARGE));
	ck_assert_int_eq(verdict_with("max_compression_ratio=100000", msg,
				      layer_len[0], &r), SG_STATUS_NONE);
	ck_assert(!(r & SG_REASON_BIT(SG_REASON_TOO_LARGE)));
	/* the total: exactly the expanded size passes, one byte less not */
	snprintf(setting, sizeof(setting),
		 "max_compression_ratio=100000 max_decompressed_size=%zu", len);
	ck_assert_int_eq(verdict_with(setting, msg, layer_len[0], &r), SG_STATUS_NONE);
	snprintf(setting, sizeof(setting),
		 "max_compression_ratio=100000 max_decompressed_size=%zu", len - 1);
	ck_assert_int_eq(verdict_with(setting, msg, layer_len[0], &r), SG_STATUS_SIGNED);
	ck_assert(r & SG_REASON_BIT(SG_REASON_TOO_LARGE));
	/* four nested layers: their sum counts, not each one alone */
	total = len;
	for (i = 1; i < 4; i++) {
		next = compress_entity(msg, layer_len[i - 1], &layer_len[i]);
		total += layer_len[i - 1];
		free(msg);
		msg = next;
	}
	snprintf(setting, sizeof(setting), "max_cms_nesting=8 "
		 "max_compression_ratio=100000 max_decompressed_size=%zu", total);
	ck_assert_int_eq(verdict_with(setting, msg, layer_len[3], &r), SG_STATUS_NONE);
	snprintf(setting, sizeof(setting), "max_cms_nesting=8 "
		 "max_compression_ratio=100000 max_decompressed_size=%zu", total - 1);
	ck_assert_int_eq(verdict_with(setting, msg, layer_len[3], &r), SG_STATUS_SIGNED);
	ck_assert(r & SG_REASON_BIT(SG_REASON_TOO_LARGE));
	free(msg);
	free(entity);
}
END_TEST

START_TEST(test_header_defaults)
{
	size_t big = 2 * 1024 * 1024, len, i;
	char *m = malloc(good_len + big + 64);
	uint32_t r;

	ck_assert_ptr_nonnull(m);
	len = (size_t)sprintf(m, "Subject: ");
	memset(m + len, 'A', big);
	len += big;
	memcpy(m + len, "\r\n", 2);
	len += 2;
	memcpy(m + len, good, good_len);
	len += good_len;
	ck_assert_int_eq(verdict_with("", m, len, &r), SG_STATUS_SIGNED);
	ck_assert_msg(r & TOO_COMPLEX, "%s", tu_reasons(r));
	free(m);
	m = malloc(100000 * 12 + 16);
	ck_assert_ptr_nonnull(m);
	for (i = 0, len = 0; i < 100000; i++)
		len += (size_t)sprintf(m + len, "X-H%zu: y\r\n", i % 1000);
	ck_assert_int_eq(verdict_with("", m, len, &r), SG_STATUS_NONE);
	ck_assert_msg(r & TOO_COMPLEX, "%s", tu_reasons(r));
	free(m);
}
END_TEST

Suite *make_limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("edges");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_max_message_size);
	tcase_add_test(tc, test_max_header_size);
	tcase_add_test(tc, test_max_header_fields);
	tcase_add_test(tc, test_max_certificates);
	tcase_add_test(tc, test_max_signers);
	tcase_add_test(tc, test_max_crls);
	tcase_add_test(tc, test_max_cms_nesting);
	tcase_add_test(tc, test_max_mime_depth);
	tcase_add_test(tc, test_max_mime_parts);
	tcase_add_test(tc, test_max_crl_size);
	tcase_add_test(tc, test_header_defaults);
	tcase_add_test(tc, test_decompression);
	suite_add_tcase(s, tc);
	return s;
}
