/* suite-verify.c - the verification API: results, raw CMS, caches */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check-suites.h"
#include "test-util.h"

#include <openssl/bio.h>
#include <openssl/evp.h>

#define DEFAULTS "trust_anchors=trust crl_dirs=crl revocation_check=soft"

START_TEST(test_result_accessors)
{
	struct sg_ctx *ctx = tu_ctx(DEFAULTS, tu_testdata());
	size_t len;
	unsigned char *m = tu_load("msg/alice-detached.eml", &len);
	struct sg_result *res = tu_verify(ctx, m, len, 0);
	const struct sg_signer *s;

	ck_assert_int_eq(sg_result_status(res), SG_STATUS_SIGNED_VERIFIED);
	ck_assert_uint_eq(sg_result_keywords(res), SG_KW_SIGNED | SG_KW_VERIFIED);
	ck_assert_uint_eq(sg_result_reasons(res), 0);
	ck_assert_str_eq(sg_result_from(res), "alice@example.org");
	ck_assert_uint_eq(sg_result_signer_count(res), 1);
	s = sg_result_signer(res, 0);
	ck_assert_str_eq(s->email, "alice@example.org");
	ck_assert_int_eq(s->result, SG_SIGNER_VERIFIED);
	ck_assert_str_eq(s->digest, "sha256");
	ck_assert(strcasestr(s->subject, "alice") != NULL);
	ck_assert(s->issuer[0] != '\0' && s->serial[0] != '\0');
	ck_assert_ptr_null(sg_result_encryption(res));
	ck_assert(strstr(sg_result_detail(res), "alice@example.org") != NULL);
	sg_result_free(&res);
	ck_assert_ptr_null(res);
	sg_result_free(&res);
	free(m);
	sg_ctx_free(&ctx);
}
END_TEST

/* a cached good chain must not outlive the certificates' validity */
START_TEST(test_chain_cache_respects_time)
{
	struct sg_ctx *ctx = tu_ctx("trust_anchors=trust revocation_check=none",
				    tu_testdata());
	size_t len;
	unsigned char *m = tu_load("msg/alice-detached.eml", &len);
	struct sg_result *res;
	time_t now = time(NULL);

	res = tu_verify(ctx, m, len, now);
	ck_assert_int_eq(sg_result_status(res), SG_STATUS_SIGNED_VERIFIED);
	sg_result_free(&res);
	res = tu_verify(ctx, m, len, now);	/* from the cache */
	ck_assert_int_eq(sg_result_status(res), SG_STATUS_SIGNED_VERIFIED);
	sg_result_free(&res);
	res = tu_verify(ctx, m, len, now + 40L * 365 * 86400);
	ck_assert_int_eq(sg_result_status(res), SG_STATUS_SIGNED_FAILED);
	ck_assert(sg_result_reasons(res) & SG_REASON_BIT(SG_REASON_EXPIRED));
	sg_result_free(&res);
	res = tu_verify(ctx, m, len, now - 40L * 365 * 86400);
	ck_assert_int_eq(sg_result_status(res), SG_STATUS_SIGNED_FAILED);
	ck_assert(sg_result_reasons(res) & SG_REASON_BIT(SG_REASON_NOT_YET_VALID));
	sg_result_free(&res);
	free(m);
	sg_ctx_free(&ctx);
}
END_TEST

/* a cached good chain must not make another context trust it */
START_TEST(test_contexts_are_independent)
{
	struct sg_ctx *trusting = tu_ctx(DEFAULTS, tu_testdata());
	struct sg_ctx *empty = tu_ctx("revocation_check=none", NULL);
	size_t len;
	unsigned char *m = tu_load("msg/alice-opaque.eml", &len);
	struct sg_result *res;

	res = tu_verify(trusting, m, len, 0);
	ck_assert_int_eq(sg_result_status(res), SG_STATUS_SIGNED_VERIFIED);
	sg_result_free(&res);
	res = tu_verify(empty, m, len, 0);
	ck_assert_int_eq(sg_result_status(res), SG_STATUS_SIGNED_FAILED);
	ck_assert(sg_result_reasons(res) & SG_REASON_BIT(SG_REASON_UNTRUSTED));
	sg_result_free(&res);
	free(m);
	sg_ctx_free(&trusting);
	sg_ctx_free(&empty);
}
END_TEST

/* the same message stored with LF line endings (Dovecot) verifies */
START_TEST(test_lf_storage)
{
	struct sg_ctx *ctx = tu_ctx(DEFAULTS, tu_testdata());
	size_t len, i, o = 0;
	unsigned char *m = tu_load("msg/alice-detached.eml", &len);
	unsigned char *lf = malloc(len);
	struct sg_result *res;

	for (i = 0; i < len; i++) {
		if (m[i] == '\r' && i + 1 < len && m[i + 1] == '\n')
			continue;
		lf[o++] = m[i];
	}
	ck_assert_uint_lt(o, len);
	res = tu_verify(ctx, lf, o, 0);
	ck_assert_msg(sg_result_status(res) == SG_STATUS_SIGNED_VERIFIED, "%s",
		      sg_result_detail(res));
	sg_result_free(&res);
	free(lf);
	free(m);
	sg_ctx_free(&ctx);
}
END_TEST

/* raw CMS in PEM form, and a detached .p7s without its content */
START_TEST(test_raw_cms_forms)
{
	struct sg_ctx *ctx = tu_ctx(DEFAULTS, tu_testdata());
	struct sg_result *res;
	struct sg_error err;
	char pem[16384];
	size_t len, clen;
	unsigned char *der = tu_load("raw/gnutls-alice-detached.p7s", &len);
	unsigned char *content = tu_load("raw/content.txt", &clen);
	BIO *b64, *mem;
	char *data;
	long n;

	ck_assert(sg_verify_cms(ctx, der, len, content, clen, 0, &res, &err) == 0);
	ck_assert_msg(sg_result_status(res) == SG_STATUS_SIGNED_VERIFIED, "%s",
		      sg_result_detail(res));
	sg_result_free(&res);
	/* without the content: a clear malformed verdict */
	ck_assert(sg_verify_cms(ctx, der, len, NULL, 0, 0, &res, &err) == 0);
	ck_assert_int_eq(sg_result_status(res), SG_STATUS_SIGNED_FAILED);
	ck_assert(sg_result_reasons(res) & SG_REASON_BIT(SG_REASON_MALFORMED));
	sg_result_free(&res);
	/* the same object PEM-armoured */
	mem = BIO_new(BIO_s_mem());
	b64 = BIO_push(BIO_new(BIO_f_base64()), mem);
	ck_assert(BIO_write(b64, der, (int)len) == (int)len);
	(void)BIO_flush(b64);
	n = BIO_get_mem_data(mem, &data);
	ck_assert(n > 0 && (size_t)n + 64 < sizeof(pem));
	len = (size_t)snprintf(pem, sizeof(pem), "-----BEGIN CMS-----\n%.*s-----END CMS-----\n",
			       (int)n, data);
	BIO_free_all(b64);
	ck_assert(sg_verify_cms(ctx, (unsigned char *)pem, len, content, clen, 0,
				&res, &err) == 0);
	ck_assert_msg(sg_result_status(res) == SG_STATUS_SIGNED_VERIFIED, "%s",
		      sg_result_detail(res));
	sg_result_free(&res);
	free(der);
	free(content);
	sg_ctx_free(&ctx);
}
END_TEST

START_TEST(test_encryption_detail)
{
	struct sg_ctx *ctx = tu_ctx(DEFAULTS, tu_testdata());
	size_t len;
	unsigned char *m = tu_load("msg/encrypted-aes256gcm.eml", &len);
	struct sg_result *res = tu_verify(ctx, m, len, 0);
	const struct sg_encryption *enc = sg_result_encryption(res);

	ck_assert_int_eq(sg_result_status(res), SG_STATUS_ENCRYPTED);
	ck_assert_ptr_nonnull(enc);
	ck_assert_str_eq(enc->algorithm, "aes-256-gcm");
	ck_assert_int_eq(enc->aead, 1);
	ck_assert_uint_ge(enc->n_recipients, 1);
	ck_assert_int_eq(enc->recipients[0].kind, SG_RECIPIENT_ISSUER_SERIAL);
	ck_assert(enc->recipients[0].serial[0] != '\0');
	/* AEAD: not weak */
	ck_assert_uint_eq(sg_result_keywords(res), SG_KW_ENCRYPTED);
	sg_result_free(&res);
	free(m);
	sg_ctx_free(&ctx);
}
END_TEST

static void misuse_null_ctx(void)
{
	struct sg_result *res;
	struct sg_error err;

	if (sg_verify_message(NULL, (const unsigned char *)"", 0, 0, &res, &err) == 0)
		sg_result_free(&res);
}

START_TEST(test_misuse_aborts)
{
	misuse_null_ctx();
}
END_TEST

Suite *make_verify_suite(void)
{
	Suite *s = suite_create("verify");
	TCase *tc = tcase_create("api");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_result_accessors);
	tcase_add_test(tc, test_chain_cache_respects_time);
	tcase_add_test(tc, test_contexts_are_independent);
	tcase_add_test(tc, test_lf_storage);
	tcase_add_test(tc, test_raw_cms_forms);
	tcase_add_test(tc, test_encryption_detail);
	tcase_add_test_raise_signal(tc, test_misuse_aborts, SIGABRT);
	suite_add_tcase(s, tc);
	return s;
}
