/* suite-hostile.c - hostile input gets a clear verdict, never a crash
 *
 * Truncated and corrupted S/MIME, deep nesting, huge headers, wrong
 * boundaries, base64 garbage, size and complexity limits, and random
 * mutations of a good message.  Run under ASan/UBSan and LeakSanitizer by
 * scripts/test, so a leak or an out-of-bounds read fails the suite too.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check-suites.h"
#include "test-util.h"

#define DEFAULTS "trust_anchors=trust crl_dirs=crl revocation_check=soft"

static struct sg_ctx *ctx;
static unsigned char *good;
static size_t good_len;

static void setup(void)
{
	char path[4096];

	ctx = tu_ctx(DEFAULTS, tu_testdata());
	snprintf(path, sizeof(path), "%s/msg/alice-detached.eml", tu_testdata());
	good = tu_read(path, &good_len);
}

static void teardown(void)
{
	sg_ctx_free(&ctx);
	free(good);
	good = NULL;
}

static enum sg_status verdict(const void *msg, size_t len, uint32_t *reasons_r)
{
	struct sg_result *res = tu_verify(ctx, msg, len, 0);
	enum sg_status st = sg_result_status(res);

	ck_assert_int_lt(st, SG_STATUS_COUNT);
	ck_assert_ptr_nonnull(sg_result_detail(res));
	ck_assert(sg_result_detail(res)[0] != '\0');
	if (reasons_r != NULL)
		*reasons_r = sg_result_reasons(res);
	sg_result_free(&res);
	return st;
}

/* xorshift - deterministic pseudo-random numbers */
static uint32_t rnd_state = 2463534242u;
static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/* the byte range of the first part of multipart/signed in good */
static void signed_part(size_t *start, size_t *end)
{
	const char *b = strstr((const char *)good, "boundary=");
	char boundary[128];
	const unsigned char *p, *q;
	size_t n;

	ck_assert_ptr_nonnull(b);
	b += 9;
	if (*b == '"')
		b++;
	n = strcspn(b, "\";\r\n");
	snprintf(boundary, sizeof(boundary), "\n--%.*s", (int)n, b);
	p = memmem(good, good_len, boundary, strlen(boundary));
	ck_assert_ptr_nonnull(p);
	p = memchr(p + 1, '\n', good_len - (size_t)(p + 1 - good));
	q = memmem(p + 1, good_len - (size_t)(p + 1 - good), boundary,
		   strlen(boundary));
	ck_assert_ptr_nonnull(q);
	*start = (size_t)(p + 1 - good);
	*end = (size_t)(q - good) - 1;	/* before the CR of the delimiter */
}

START_TEST(test_good_baseline)
{
	ck_assert_int_eq(verdict(good, good_len, NULL), SG_STATUS_SIGNED_VERIFIED);
}
END_TEST

START_TEST(test_truncated)
{
	size_t cut, start, end;

	signed_part(&start, &end);
	for (cut = 0; cut < good_len; cut += 7) {
		enum sg_status st = verdict(good, cut, NULL);

		if (cut < end + 200)
			ck_assert_msg(st != SG_STATUS_SIGNED_VERIFIED,
				      "truncated at %zu of %zu still verifies", cut,
				      good_len);
	}
}
END_TEST

START_TEST(test_corrupted_signed_part)
{
	unsigned char *m = malloc(good_len);
	size_t start, end, i;

	signed_part(&start, &end);
	for (i = 0; i < 300; i++) {
		size_t pos = start + rnd() % (end - start);
		unsigned char flip = (unsigned char)(1u << (rnd() % 8));

		memcpy(m, good, good_len);
		m[pos] ^= flip;
		ck_assert_msg(verdict(m, good_len, NULL) != SG_STATUS_SIGNED_VERIFIED,
			      "flip at %zu of the signed part still verifies", pos);
	}
	free(m);
}
END_TEST

START_TEST(test_random_mutations)
{
	unsigned char *m = malloc(good_len + 64);
	size_t i, len, pos;

	for (i = 0; i < 1500; i++) {
		memcpy(m, good, good_len);
		len = good_len;
		switch (rnd() % 4) {
		case 0:		/* flip anywhere */
			m[rnd() % len] ^= (unsigned char)(rnd() | 1);
			break;
		case 1:		/* delete a run */
			pos = rnd() % len;
			{
				size_t n = 1 + rnd() % 32;

				if (pos + n > len)
					n = len - pos;
				memmove(m + pos, m + pos + n, len - pos - n);
				len -= n;
			}
			break;
		case 2:		/* insert junk */
			pos = rnd() % len;
			memmove(m + pos + 16, m + pos, len - pos);
			memset(m + pos, (int)(rnd() & 0xff), 16);
			len += 16;
			break;
		default:	/* duplicate a line break: changes the structure */
			pos = rnd() % len;
			m[pos] = '\n';
			break;
		}
		(void)verdict(m, len, NULL);
	}
	free(m);
}
END_TEST

START_TEST(test_empty_and_garbage)
{
	unsigned char junk[4096];
	size_t i;
	uint32_t r;

	ck_assert_int_eq(verdict("", 0, NULL), SG_STATUS_NONE);
	ck_assert_int_eq(verdict("\n\n\n", 3, NULL), SG_STATUS_NONE);
	ck_assert_int_eq(verdict("Subject: x", 10, NULL), SG_STATUS_NONE);
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)rnd();
	(void)verdict(junk, sizeof(junk), NULL);
	/* raw CMS entry point with garbage */
	{
		struct sg_result *res;
		struct sg_error err;

		ck_assert(sg_verify_cms(ctx, junk, sizeof(junk), NULL, 0, 0, &res,
					&err) == 0);
		ck_assert_int_eq(sg_result_status(res), SG_STATUS_SIGNED_FAILED);
		ck_assert(sg_result_reasons(res) & SG_REASON_BIT(SG_REASON_MALFORMED));
		sg_result_free(&res);
		junk[0] = 0x30;
		junk[1] = 0x80;
		ck_assert(sg_verify_cms(ctx, junk, sizeof(junk), NULL, 0, 0, &res,
					&err) == 0);
		ck_assert_int_ne(sg_result_status(res), SG_STATUS_SIGNED_VERIFIED);
		sg_result_free(&res);
	}
	/* an S/MIME content type over base64 garbage */
	{
		static const char m[] =
			"From: alice@example.org\r\n"
			"Content-Type: application/pkcs7-mime; smime-type=signed-data\r\n"
			"Content-Transfer-Encoding: base64\r\n\r\n"
			"!!!! this is not base64 ????\r\n";

		ck_assert_int_eq(verdict(m, sizeof(m) - 1, &r), SG_STATUS_SIGNED_FAILED);
		ck_assert(r & SG_REASON_BIT(SG_REASON_MALFORMED));
	}
	/* valid base64, but not CMS */
	{
		static const char m[] =
			"From: alice@example.org\r\n"
			"Content-Type: application/pkcs7-mime; smime-type=signed-data\r\n"
			"Content-Transfer-Encoding: base64\r\n\r\n"
			"aGVsbG8gd29ybGQK\r\n";

		ck_assert_int_eq(verdict(m, sizeof(m) - 1, &r), SG_STATUS_SIGNED_FAILED);
		ck_assert(r & SG_REASON_BIT(SG_REASON_MALFORMED));
	}
}
END_TEST

START_TEST(test_wrong_boundaries)
{
	const char *b = strstr((const char *)good, "boundary=");
	unsigned char *m = malloc(good_len + 16);
	uint32_t r;
	size_t off;

	ck_assert_ptr_nonnull(b);
	off = (size_t)(b - (const char *)good) + 9;
	if (good[off] == '"')
		off++;
	/* a boundary parameter that never occurs */
	memcpy(m, good, good_len);
	m[off] = m[off] == 'Z' ? 'Y' : 'Z';
	ck_assert_int_eq(verdict(m, good_len, &r), SG_STATUS_SIGNED_FAILED);
	ck_assert(r & SG_REASON_BIT(SG_REASON_MALFORMED));
	/* no boundary parameter at all */
	memcpy(m, good, good_len);
	memcpy(m + off - 9, "xoundary=", 9);
	ck_assert_int_eq(verdict(m, good_len, &r), SG_STATUS_SIGNED_FAILED);
	ck_assert(r & SG_REASON_BIT(SG_REASON_MALFORMED));
	free(m);
}
END_TEST

START_TEST(test_deep_nesting)
{
	size_t depth = 5000, i;
	struct {
		char *p;
		size_t len;
	} b = { malloc(depth * 80 + 256), 0 };
	uint32_t r;

	b.len = (size_t)sprintf(b.p, "From: a@example.org\r\n");
	for (i = 0; i < depth; i++)
		b.len += (size_t)sprintf(b.p + b.len,
			"Content-Type: multipart/mixed; boundary=\"b%zu\"\r\n\r\n--b%zu\r\n",
			i, i);
	b.len += (size_t)sprintf(b.p + b.len, "\r\nhello\r\n");
	ck_assert_int_eq(verdict(b.p, b.len, &r), SG_STATUS_NONE);
	ck_assert(r & SG_REASON_BIT(SG_REASON_TOO_COMPLEX));
	free(b.p);
}
END_TEST

START_TEST(test_many_parts)
{
	size_t n = 20000, i, len;
	char *m = malloc(n * 40 + 256);
	uint32_t r;

	len = (size_t)sprintf(m, "From: a@example.org\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n");
	for (i = 0; i < n; i++)
		len += (size_t)sprintf(m + len, "--x\r\n\r\npart %zu\r\n", i);
	len += (size_t)sprintf(m + len, "--x--\r\n");
	ck_assert_int_eq(verdict(m, len, &r), SG_STATUS_NONE);
	ck_assert(r & SG_REASON_BIT(SG_REASON_TOO_COMPLEX));
	free(m);
}
END_TEST

START_TEST(test_huge_headers)
{
	struct sg_ctx *roomy = tu_ctx(DEFAULTS " max_header_size=4194304 "
				      "max_header_fields=200000", tu_testdata());
	size_t big = 2 * 1024 * 1024, len;
	char *m = malloc(good_len + big + 64);
	struct sg_result *res;

	/* with the header limits raised (under the defaults these are
	   too-complex: suite-limits.c): a 2 MB Subject line ahead of a good
	   signed message still verifies (headers are outside the
	   signature), without quadratic work */
	len = (size_t)sprintf(m, "Subject: ");
	memset(m + len, 'A', big);
	len += big;
	memcpy(m + len, "\r\n", 2);
	len += 2;
	memcpy(m + len, good, good_len);
	len += good_len;
	res = tu_verify(roomy, m, len, 0);
	ck_assert_int_eq(sg_result_status(res), SG_STATUS_SIGNED_VERIFIED);
	sg_result_free(&res);
	/* 100000 header fields and no body */
	free(m);
	m = malloc(100000 * 12 + 16);
	len = 0;
	for (size_t i = 0; i < 100000; i++)
		len += (size_t)sprintf(m + len, "X-H%zu: y\r\n", i % 1000);
	res = tu_verify(roomy, m, len, 0);
	ck_assert_int_eq(sg_result_status(res), SG_STATUS_NONE);
	ck_assert_uint_eq(sg_result_reasons(res), 0);
	sg_result_free(&res);
	sg_ctx_free(&roomy);
	free(m);
}
END_TEST

START_TEST(test_size_limit)
{
	struct sg_ctx *small = tu_ctx(DEFAULTS " max_message_size=1000", tu_testdata());
	struct sg_result *res = tu_verify(small, good, good_len, 0);

	ck_assert_int_eq(sg_result_status(res), SG_STATUS_SIGNED);
	ck_assert(sg_result_reasons(res) & SG_REASON_BIT(SG_REASON_TOO_LARGE));
	ck_assert(sg_result_keywords(res) == SG_KW_SIGNED);
	sg_result_free(&res);
	sg_ctx_free(&small);
}
END_TEST

/* an adapter that will not read a huge mail passes only its start */
START_TEST(test_prefix_api)
{
	struct sg_ctx *small = tu_ctx(DEFAULTS " max_message_size=1000", tu_testdata());
	struct sg_result *res;
	struct sg_error err;
	static const char plain[] = "From: a@example.org\r\nSubject: hi\r\n\r\nbody";

	ck_assert(sg_ctx_max_message_size(small) == 1000);
	ck_assert(sg_verify_message_prefix(small, good, 600, 50000000, 0, &res,
					   &err) == 0);
	ck_assert_int_eq(sg_result_status(res), SG_STATUS_SIGNED);
	ck_assert(sg_result_reasons(res) & SG_REASON_BIT(SG_REASON_TOO_LARGE));
	ck_assert(strstr(sg_result_detail(res), "50000000") != NULL);
	sg_result_free(&res);
	ck_assert(sg_verify_message_prefix(small, (const unsigned char *)plain,
					   sizeof(plain) - 1, 5000, 0, &res, &err) == 0);
	ck_assert_int_eq(sg_result_status(res), SG_STATUS_NONE);
	ck_assert_uint_eq(sg_result_reasons(res), 0);
	sg_result_free(&res);
	sg_ctx_free(&small);
}
END_TEST

START_TEST(test_certificate_limit)
{
	struct sg_ctx *one = tu_ctx(DEFAULTS " max_certificates=1", tu_testdata());
	struct sg_result *res = tu_verify(one, good, good_len, 0);

	ck_assert_int_eq(sg_result_status(res), SG_STATUS_SIGNED);
	ck_assert(sg_result_reasons(res) & SG_REASON_BIT(SG_REASON_TOO_COMPLEX));
	sg_result_free(&res);
	sg_ctx_free(&one);
}
END_TEST

START_TEST(test_many_from_headers)
{
	size_t len = 0, i;
	char *m = malloc(good_len + 40 * 50);
	uint32_t r;

	for (i = 0; i < 40; i++)
		len += (size_t)sprintf(m + len, "From: x%zu@example.org\r\n", i);
	memcpy(m + len, good, good_len);
	len += good_len;
	ck_assert_int_eq(verdict(m, len, &r), SG_STATUS_SIGNED_FAILED);
	ck_assert(r & SG_REASON_BIT(SG_REASON_MULTIPLE_FROM));
	free(m);
}
END_TEST

Suite *make_hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("inputs");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_good_baseline);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_corrupted_signed_part);
	tcase_add_test(tc, test_random_mutations);
	tcase_add_test(tc, test_empty_and_garbage);
	tcase_add_test(tc, test_wrong_boundaries);
	tcase_add_test(tc, test_deep_nesting);
	tcase_add_test(tc, test_many_parts);
	tcase_add_test(tc, test_huge_headers);
	tcase_add_test(tc, test_size_limit);
	tcase_add_test(tc, test_prefix_api);
	tcase_add_test(tc, test_certificate_limit);
	tcase_add_test(tc, test_many_from_headers);
	suite_add_tcase(s, tc);
	return s;
}
