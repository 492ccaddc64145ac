/* suite-json.c - the DESIGN.md section 4 JSON object */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check-suites.h"
#include "test-util.h"

static char *json_of(const char *rel, const char *file)
{
	char path[4096];
	struct sg_ctx *ctx = tu_ctx("trust_anchors=trust crl_dirs=crl", tu_testdata());
	unsigned char *m;
	size_t len;
	struct sg_result *res;
	char *js;

	snprintf(path, sizeof(path), "%s/%s", tu_testdata(), rel);
	m = tu_read(path, &len);
	res = tu_verify(ctx, m, len, 0);
	js = sg_result_json(res, file);
	ck_assert_ptr_nonnull(js);
	sg_result_free(&res);
	sg_ctx_free(&ctx);
	free(m);
	return js;
}

START_TEST(test_fields_verified)
{
	char *js = json_of("msg/alice-detached.eml", "a.eml");

	ck_assert_msg(strncmp(js, "{\"file\":\"a.eml\",\"status\":\"signed/verified\","
			      "\"keywords\":[\"$SMIMESigned\",\"$SMIMEVerified\"],"
			      "\"reasons\":[],\"detail\":\"", 110) == 0, "%s", js);
	ck_assert(strstr(js, ",\"signers\":[{\"email\":\"alice@example.org\",\"subject\":\"") != NULL);
	ck_assert(strstr(js, "\",\"issuer\":\"") != NULL);
	ck_assert(strstr(js, "\",\"serial\":\"") != NULL);
	ck_assert(strstr(js, "\",\"result\":\"verified\",\"reasons\":[]}],\"encryption\":null}") != NULL);
	ck_assert(strchr(js, '\n') == NULL);
	sg_free(js);
}
END_TEST

START_TEST(test_fields_failed_encrypted)
{
	char *js = json_of("msg/alice-detached-tampered.eml", NULL);

	ck_assert(strncmp(js, "{\"file\":null,\"status\":\"signed/failed\","
			  "\"keywords\":[\"$SMIMESigned\",\"$SMIMEFailed\"],"
			  "\"reasons\":[\"bad-signature\"]", 60) == 0);
	ck_assert(strstr(js, "\"result\":\"failed\",\"reasons\":[\"bad-signature\"]") != NULL);
	sg_free(js);
	js = json_of("msg/encrypted-aes256cbc.eml", "e");
	ck_assert_msg(strstr(js, "\"status\":\"encrypted\",\"keywords\":[\"$SMIMEEncrypted\",\"$SMIMEWeak\"]") != NULL, "%s", js);
	ck_assert_msg(strstr(js, "\"signers\":[],\"encryption\":{\"algorithm\":\"aes-256-cbc\",\"aead\":false,\"recipients\":[{\"issuer\":\"") != NULL, "%s", js);
	sg_free(js);
}
END_TEST

START_TEST(test_escaping)
{
	char *js = json_of("msg/plain.eml", "we\"ird\\name\n\x01\xff.eml");

	ck_assert_msg(strncmp(js, "{\"file\":\"we\\\"ird\\\\name\\u000a\\u0001\\ufffd.eml\"", 45) == 0,
		      "%s", js);
	ck_assert(strstr(js, "\"status\":\"none\",\"keywords\":[],\"reasons\":[]") != NULL);
	sg_free(js);
}
END_TEST

Suite *make_json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("format");

	tcase_add_test(tc, test_fields_verified);
	tcase_add_test(tc, test_fields_failed_encrypted);
	tcase_add_test(tc, test_escaping);
	suite_add_tcase(s, tc);
	return s;
}
