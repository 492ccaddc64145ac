/* suite-names.c - the verdict vocabulary of DESIGN.md section 2 */
#include <check.h>
#include <string.h>

#include "check-suites.h"
#include "smimeguard.h"

START_TEST(test_status_names)
{
	static const char *const names[] = {
		"none", "signed", "signed/verified", "signed/failed",
		"encrypted", "encrypted+signed/verified", "encrypted+signed/failed",
	};
	enum sg_status st;
	unsigned int i;

	ck_assert_int_eq(SG_STATUS_COUNT, 7);
	for (i = 0; i < SG_STATUS_COUNT; i++) {
		ck_assert_str_eq(sg_status_name((enum sg_status)i), names[i]);
		ck_assert_int_eq(sg_status_parse(names[i], &st), 0);
		ck_assert_int_eq(st, i);
	}
	ck_assert_ptr_null(sg_status_name(SG_STATUS_COUNT));
	ck_assert_int_eq(sg_status_parse("verified", &st), -1);
}
END_TEST

START_TEST(test_keywords)
{
	ck_assert_str_eq(sg_keyword_name(SG_KW_SIGNED), "$SMIMESigned");
	ck_assert_str_eq(sg_keyword_name(SG_KW_VERIFIED), "$SMIMEVerified");
	ck_assert_str_eq(sg_keyword_name(SG_KW_FAILED), "$SMIMEFailed");
	ck_assert_str_eq(sg_keyword_name(SG_KW_ENCRYPTED), "$SMIMEEncrypted");
	ck_assert_str_eq(sg_keyword_name(SG_KW_WEAK), "$SMIMEWeak");
	ck_assert_ptr_null(sg_keyword_name(SG_KW_SIGNED | SG_KW_WEAK));
	ck_assert_uint_eq(sg_status_keywords(SG_STATUS_NONE), 0);
	ck_assert_uint_eq(sg_status_keywords(SG_STATUS_SIGNED), SG_KW_SIGNED);
	ck_assert_uint_eq(sg_status_keywords(SG_STATUS_SIGNED_VERIFIED),
			  SG_KW_SIGNED | SG_KW_VERIFIED);
	ck_assert_uint_eq(sg_status_keywords(SG_STATUS_SIGNED_FAILED),
			  SG_KW_SIGNED | SG_KW_FAILED);
	ck_assert_uint_eq(sg_status_keywords(SG_STATUS_ENCRYPTED), SG_KW_ENCRYPTED);
	ck_assert_uint_eq(sg_status_keywords(SG_STATUS_ENCRYPTED_SIGNED_VERIFIED),
			  SG_KW_ENCRYPTED | SG_KW_SIGNED | SG_KW_VERIFIED);
	ck_assert_uint_eq(sg_status_keywords(SG_STATUS_ENCRYPTED_SIGNED_FAILED),
			  SG_KW_ENCRYPTED | SG_KW_SIGNED | SG_KW_FAILED);
}
END_TEST

START_TEST(test_reasons)
{
	static const char *const tokens[] = {
		"bad-signature", "no-signers", "ambiguous-content", "untrusted",
		"revoked", "revocation-unknown", "expired", "not-yet-valid",
		"key-usage", "sender-mismatch", "no-from", "multiple-from",
		"weak-algorithm", "weak-key", "partial", "embedded-ciphertext",
		"malformed", "unsupported", "too-large", "too-complex",
		"internal-error",
	};
	enum sg_reason r;
	unsigned int i;

	ck_assert_int_eq(SG_REASON_COUNT, sizeof(tokens) / sizeof(tokens[0]));
	ck_assert_int_le(SG_REASON_COUNT, 32);
	for (i = 0; i < SG_REASON_COUNT; i++) {
		const char *text = sg_reason_text((enum sg_reason)i);

		ck_assert_str_eq(sg_reason_name((enum sg_reason)i), tokens[i]);
		ck_assert_int_eq(sg_reason_parse(tokens[i], &r), 0);
		ck_assert_int_eq(r, i);
		/* a human sentence: capital letter, full stop */
		ck_assert(text != NULL && strlen(text) > 20);
		ck_assert(text[0] >= 'A' && text[0] <= 'Z');
		ck_assert_int_eq(text[strlen(text) - 1], '.');
	}
	ck_assert_int_eq(sg_reason_parse("Bad-Signature", &r), -1);
	ck_assert_ptr_null(sg_reason_name(SG_REASON_COUNT));
}
END_TEST

START_TEST(test_reasons_format)
{
	const uint32_t all = SG_REASON_BIT(SG_REASON_COUNT) - 1;
	char buf[SG_REASONS_SIZE], small[12];
	size_t len;

	ck_assert_uint_eq(sg_reasons_format(0, ",", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");
	len = sg_reasons_format(SG_REASON_BIT(SG_REASON_EXPIRED) |
				SG_REASON_BIT(SG_REASON_UNTRUSTED), ", ",
				buf, sizeof(buf));
	ck_assert_str_eq(buf, "untrusted, expired");
	ck_assert_uint_eq(len, strlen(buf));
	/* bits without a reason are skipped */
	ck_assert_uint_eq(sg_reasons_format(SG_REASON_BIT(SG_REASON_PARTIAL) |
					    UINT32_C(0x80000000), "", buf,
					    sizeof(buf)), 7);
	ck_assert_str_eq(buf, "partial");
	/* every reason with a 4-byte separator fits SG_REASONS_SIZE */
	len = sg_reasons_format(all, " -- ", buf, sizeof(buf));
	ck_assert_uint_lt(len, sizeof(buf));
	ck_assert_uint_eq(len, strlen(buf));
	ck_assert(strncmp(buf, "bad-signature -- no-signers -- ", 31) == 0);
	/* cut short, NUL-terminated, the full length returned */
	ck_assert_uint_eq(sg_reasons_format(all, ",", small, sizeof(small)),
			  sg_reasons_format(all, ",", buf, sizeof(buf)));
	ck_assert_str_eq(small, "bad-signatu");
	ck_assert_uint_eq(sg_reasons_format(all, ",", NULL, 0), strlen(buf));
}
END_TEST

START_TEST(test_init_twice)
{
	ck_assert_int_eq(sg_init(), 1);	/* check_main already called it */
	ck_assert(strlen(sg_version()) > 0);
}
END_TEST

Suite *make_names_suite(void)
{
	Suite *s = suite_create("names");
	TCase *tc = tcase_create("vocabulary");

	tcase_add_test(tc, test_status_names);
	tcase_add_test(tc, test_keywords);
	tcase_add_test(tc, test_reasons);
	tcase_add_test(tc, test_reasons_format);
	tcase_add_test(tc, test_init_twice);
	suite_add_tcase(s, tc);
	return s;
}
