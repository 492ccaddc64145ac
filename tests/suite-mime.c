/* suite-mime.c - the MIME walker, address parser and base64 (internal) */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check-suites.h"
#include "sg-private.h"

static struct sg_slice S(const char *s)
{
	struct sg_slice sl = { (const unsigned char *)s, strlen(s) };

	return sl;
}

START_TEST(test_headers_crlf_lf_folded)
{
	static const char *const msgs[] = {
		"From: a@example.org\r\nContent-Type: multipart/signed;\r\n"
		"\tprotocol=\"application/pkcs7-signature\";\r\n boundary=XYZ\r\n\r\nbody",
		"From: a@example.org\nContent-Type: multipart/signed;\n"
		"\tprotocol=\"application/pkcs7-signature\";\n boundary=XYZ\n\nbody",
	};
	unsigned int i;

	for (i = 0; i < 2; i++) {
		struct sg_headers h;
		struct sg_ctype ct;
		size_t len = strlen(msgs[i]);

		sg_mime_parse_headers((const unsigned char *)msgs[i], len, &h);
		ck_assert_uint_eq(h.n_from, 1);
		ck_assert(h.has_content_type);
		ck_assert_str_eq(msgs[i] + h.body_offset, "body");
		sg_mime_parse_ctype(&h.content_type, &ct);
		ck_assert_str_eq(ct.type, "multipart");
		ck_assert_str_eq(ct.subtype, "signed");
		ck_assert_str_eq(ct.protocol, "application/pkcs7-signature");
		ck_assert_str_eq(ct.boundary, "XYZ");
	}
}
END_TEST

START_TEST(test_ctype_forms)
{
	struct sg_ctype ct;
	struct sg_slice v;

	v = S(" Application/X-PKCS7-MIME (comment; here) ; smime-type = \"Signed-Data\";"
	      " name=\"smime.p7m\"");
	sg_mime_parse_ctype(&v, &ct);
	ck_assert_str_eq(ct.type, "application");
	ck_assert_str_eq(ct.subtype, "x-pkcs7-mime");
	ck_assert_str_eq(ct.smime_type, "signed-data");
	ck_assert_str_eq(ct.name, "smime.p7m");
	ck_assert(!ct.malformed);
	/* quoted boundary with specials and an escaped quote, case kept */
	v = S("multipart/mixed; boundary=\"=_a\\\"B;c,D\"");
	sg_mime_parse_ctype(&v, &ct);
	ck_assert_str_eq(ct.boundary, "=_a\"B;c,D");
	/* garbage means text/plain (RFC 2045 5.2) */
	v = S("this is not a type");
	sg_mime_parse_ctype(&v, &ct);
	ck_assert_str_eq(ct.type, "text");
	ck_assert(ct.malformed);
	/* absent header */
	v.p = NULL;
	v.len = 0;
	sg_mime_parse_ctype(&v, &ct);
	ck_assert_str_eq(ct.subtype, "plain");
	/* unterminated quote */
	v = S("multipart/mixed; boundary=\"abc");
	sg_mime_parse_ctype(&v, &ct);
	ck_assert(ct.malformed);
}
END_TEST

START_TEST(test_split)
{
	static const char body[] =
		"preamble\r\n"
		"--b\r\nContent-Type: text/plain\r\n\r\none\r\n"
		"--bb not a delimiter\r\n"
		"--b   \r\n\r\ntwo\r\n"
		"--b--\r\nepilogue\r\n";
	struct sg_slice parts[4];
	size_t n;
	bool closed;

	sg_mime_split((const unsigned char *)body, strlen(body), "b", parts, 4,
		      &n, &closed);
	ck_assert_uint_eq(n, 2);
	ck_assert(closed);
	ck_assert_uint_eq(parts[0].len, strlen("Content-Type: text/plain\r\n\r\none\r\n--bb not a delimiter"));
	ck_assert(memcmp(parts[1].p, "\r\ntwo", parts[1].len) == 0);
	ck_assert_uint_eq(parts[1].len, 5);
	/* LF only, delimiter at the very start, no close delimiter */
	sg_mime_split((const unsigned char *)"--x\nA\n--x\nB\n", 12, "x", parts, 4,
		      &n, &closed);
	ck_assert_uint_eq(n, 2);
	ck_assert(!closed);
	ck_assert(parts[0].len == 1 && parts[0].p[0] == 'A');
	ck_assert(parts[1].len == 2 && parts[1].p[0] == 'B');
	/* more parts than slots: counted, not stored */
	sg_mime_split((const unsigned char *)"--x\n1\n--x\n2\n--x\n3\n--x--\n", 24,
		      "x", parts, 2, &n, &closed);
	ck_assert_uint_eq(n, 3);
	/* an empty boundary never matches */
	sg_mime_split((const unsigned char *)"--\n", 3, "", parts, 2, &n, &closed);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_canon_crlf)
{
	unsigned char *out;
	size_t len;

	ck_assert_int_eq(sg_mime_canon_crlf((const unsigned char *)"a\r\nb\r\n", 6,
					    &out, &len), 0);
	ck_assert_ptr_null(out);	/* already canonical: no copy */
	ck_assert_uint_eq(len, 6);
	ck_assert_int_eq(sg_mime_canon_crlf((const unsigned char *)"a\nb\r\nc\n", 7,
					    &out, &len), 0);
	ck_assert_uint_eq(len, 9);
	ck_assert(memcmp(out, "a\r\nb\r\nc\r\n", 9) == 0);
	free(out);
	ck_assert_int_eq(sg_mime_canon_crlf((const unsigned char *)"\n", 1, &out, &len), 0);
	ck_assert(len == 2 && memcmp(out, "\r\n", 2) == 0);
	free(out);
}
END_TEST

static const struct {
	const char *value;
	unsigned int count;
	const char *addr;
} mailbox_cases[] = {
	{ "alice@example.org", 1, "alice@example.org" },
	{ "Alice <alice@example.org>", 1, "alice@example.org" },
	{ "\"Smith, Alice\" <alice@example.org>", 1, "alice@example.org" },
	{ "\"alice@example.org\" <mallory@example.org>", 1, "mallory@example.org" },
	{ "=?UTF-8?B?w4RsaWNl?= <alice@example.org>", 1, "alice@example.org" },
	{ "=?iso-8859-1?Q?Alice_=28Vertrieb=29?= <alice@example.org>", 1, "alice@example.org" },
	{ "alice@example.org (Alice <x@y>, Bob)", 1, "alice@example.org" },
	{ "alice@example.org, bob@example.org", 2, "alice@example.org" },
	{ "Team: alice@example.org, bob@example.org;", 2, "alice@example.org" },
	{ "Undisclosed:;", 0, "" },
	{ "<@route.example:alice@example.org>", 1, "alice@example.org" },
	{ "", 0, "" },
	{ "   ", 0, "" },
	{ "John Smith", 1, "" },
	{ "Alice\r\n <alice@example.org>", 1, "alice@example.org" },
	{ "\"quoted\\\"name\" <a@b.example>", 1, "a@b.example" },
};

START_TEST(test_mailboxes)
{
	char addr[320];
	struct sg_slice v = S(mailbox_cases[_i].value);
	unsigned int n = sg_mime_parse_mailboxes(&v, addr, sizeof(addr));

	ck_assert_msg(n == mailbox_cases[_i].count, "case %d '%s': %u mailboxes",
		      _i, mailbox_cases[_i].value, n);
	ck_assert_msg(strcmp(addr, mailbox_cases[_i].addr) == 0,
		      "case %d '%s': addr '%s'", _i, mailbox_cases[_i].value, addr);
}
END_TEST

START_TEST(test_base64)
{
	unsigned char out[64];
	size_t len;

	ck_assert_int_eq(sg_b64_decode((const unsigned char *)"aGVs\r\nbG8=\r\n", 12,
				       out, &len), 0);
	ck_assert(len == 5 && memcmp(out, "hello", 5) == 0);
	ck_assert_int_eq(sg_b64_decode((const unsigned char *)"aGk", 3, out, &len), 0);
	ck_assert(len == 2 && memcmp(out, "hi", 2) == 0);
	ck_assert_int_eq(sg_b64_decode((const unsigned char *)"aG!k", 4, out, &len), -1);
	ck_assert_int_eq(sg_b64_decode((const unsigned char *)"aGk=x", 5, out, &len), -1);
	ck_assert_int_eq(sg_b64_decode((const unsigned char *)"a", 1, out, &len), -1);
	ck_assert_int_eq(sg_b64_decode((const unsigned char *)"", 0, out, &len), 0);
	ck_assert_uint_eq(len, 0);
}
END_TEST

Suite *make_mime_suite(void)
{
	Suite *s = suite_create("mime");
	TCase *tc = tcase_create("walker");

	tcase_add_test(tc, test_headers_crlf_lf_folded);
	tcase_add_test(tc, test_ctype_forms);
	tcase_add_test(tc, test_split);
	tcase_add_test(tc, test_canon_crlf);
	tcase_add_loop_test(tc, test_mailboxes, 0,
			    (int)(sizeof(mailbox_cases) / sizeof(mailbox_cases[0])));
	tcase_add_test(tc, test_base64);
	suite_add_tcase(s, tc);
	return s;
}
