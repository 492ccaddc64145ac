/* suite-mime.c - the MIME walker, address parser and base64 (internal) */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check-suites.h"
#include "sg-base.h"
#include "mime-private.h"

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

	v = S(" Application/X-PKCS7-MIME ; smime-type = \"Signed-Data\";"
	      " name=\"smime.p7m\"");
	sg_mime_parse_ctype(&v, &ct);
	ck_assert_str_eq(ct.type, "application");
	ck_assert_str_eq(ct.subtype, "x-pkcs7-mime");
	ck_assert_str_eq(ct.smime_type, "signed-data");
	ck_assert_str_eq(ct.name, "smime.p7m");
	ck_assert(!ct.malformed);
	ck_assert_ptr_null(ct.ambiguity);
	/* quoted boundary with specials, case kept */
	v = S("multipart/mixed; boundary=\"=_aB;c,D\"");
	sg_mime_parse_ctype(&v, &ct);
	ck_assert_str_eq(ct.boundary, "=_aB;c,D");
	ck_assert_ptr_null(ct.ambiguity);
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
	ck_assert_ptr_nonnull(ct.ambiguity);
	/* the first boundary counts, as in Dovecot and Python */
	v = S("multipart/signed; boundary=\"A\"; boundary=\"B\"");
	sg_mime_parse_ctype(&v, &ct);
	ck_assert_str_eq(ct.boundary, "A");
	ck_assert_ptr_nonnull(ct.ambiguity);
	/* an RFC 2231 name* for the file name is ordinary */
	v = S("application/pdf; name*=utf-8''Gr%C3%BC%C3%9Fe.pdf; name=\"x.pdf\"");
	sg_mime_parse_ctype(&v, &ct);
	ck_assert_ptr_null(ct.ambiguity);
}
END_TEST

/* Content-Type values that two mainstream readers read differently */
static const struct {
	const char *value;
	bool ambiguous;
} ctype_gate_cases[] = {
	{ "multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"----ms0\"", false },
	{ "multipart/signed;\r\n protocol=\"application/pkcs7-signature\";\r\n\tboundary=b1", false },
	{ "application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m", false },
	{ "multipart/mixed; boundary=b1;", false },
	{ "text/plain; charset=utf-8; format=flowed", false },
	{ "multipart/signed; boundary=\"A\"; boundary=\"B\"", true },
	{ "multipart/signed; boundary=\"A\"; BOUNDARY=\"B\"", true },
	{ "multipart/signed; BoUnDaRy=A; boundary=A", true },
	{ "multipart/signed; boundary*=us-ascii''B", true },
	{ "multipart/signed; boundary*0=\"x\"; boundary*1=\"y\"", true },
	{ "multipart/signed; boundary=A; boundary*0*=us-ascii''B", true },
	{ "multipart/signed; protocol=a/b; protocol=\"application/pkcs7-signature\"", true },
	{ "multipart/signed; protocol*=us-ascii''application%2Fpkcs7-signature", true },
	{ "application/pkcs7-mime; smime-type=signed-data; smime-type=enveloped-data", true },
	{ "application/pkcs7-mime; SMIME-TYPE*=us-ascii''enveloped-data", true },
	{ "multipart/signed; micalg=sha-256; micalg=sha-1", true },
	{ "message/rfc822; forwarded=no; forwarded=yes", true },
	{ "multipart/mixed (comment); boundary=b1", true },
	{ "multipart/mixed; (x; boundary=B) boundary=A", true },
	{ "multipart/mixed; boundary=\"a\\\"b\"", true },
	{ "multipart/mixed; boundary=\"A\" junk", true },
	{ "multipart/mixed; boundary=A B", true },
	{ "multipart /mixed; boundary=A", true },
	{ "multipart/ mixed; boundary=A", true },
	{ "multipart/mixed; boundary", true },
	{ "multipart/mixed; =x; boundary=A", true },
	{ "multipart/mixed; boundary=\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1\"", true },
};

START_TEST(test_ctype_gate)
{
	struct sg_ctype ct;
	struct sg_slice v = S(ctype_gate_cases[_i].value);

	sg_mime_parse_ctype(&v, &ct);
	ck_assert_msg((ct.ambiguity != NULL) == ctype_gate_cases[_i].ambiguous,
		      "case %d '%s': ambiguity %s", _i, ctype_gate_cases[_i].value,
		      ct.ambiguity != NULL ? ct.ambiguity : "(none)");
}
END_TEST

START_TEST(test_headers_gate)
{
	static const struct {
		const char *hdr;
		bool ambiguous;
		size_t len;	/* 0: strlen */
	} cases[] = {
		{ "Content-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n\r\n", false, 0 },
		{ "Content-Type: text/plain\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n", true, 0 },
		{ "Content-Transfer-Encoding: base64\r\nContent-Transfer-Encoding: 7bit\r\n\r\n", true, 0 },
		{ "Content-Type: text/plain\r\nnot a field\r\n\r\n", true, 0 },
		{ " stray: continuation\r\nContent-Type: text/plain\r\n\r\n", true, 0 },
		{ "Content-Type : text/plain\r\n\r\n", true, 0 },
		{ "Subject: a\rContent-Type: multipart/mixed; boundary=x\r\n\r\n", true, 0 },
		{ "Subject: folded\r\n  line\r\n\r\n", false, 0 },
		{ "Subject: a\0b\r\n\r\n", true, 15 },
	};
	size_t i;

	for (i = 0; i < SG_ARRAY_SIZE(cases); i++) {
		struct sg_headers h;

		sg_mime_parse_headers((const unsigned char *)cases[i].hdr,
				      cases[i].len != 0 ? cases[i].len :
				      strlen(cases[i].hdr), &h);
		ck_assert_msg((sg_mime_headers_ambiguity(&h) != NULL) ==
			      cases[i].ambiguous, "case %zu", i);
	}
	ck_assert(!sg_mime_cte_ambiguous(&(struct sg_slice){ (const unsigned char *)" base64 ", 8 }));
	ck_assert(sg_mime_cte_ambiguous(&(struct sg_slice){ (const unsigned char *)" base64 x", 9 }));
	ck_assert(sg_mime_cte_ambiguous(&(struct sg_slice){ (const unsigned char *)"base64 (c)", 10 }));
	ck_assert(sg_mime_cte_ambiguous(&(struct sg_slice){ (const unsigned char *)" ", 1 }));
	ck_assert(sg_mime_has_bare_cr((const unsigned char *)"a\rb", 3));
	ck_assert(!sg_mime_has_bare_cr((const unsigned char *)"a\r\nb", 4));
}
END_TEST

START_TEST(test_boundary_valid)
{
	char b71[72];

	ck_assert(sg_mime_boundary_valid("----=_NextPart_000_0001_01D9.2A3B"));
	ck_assert(sg_mime_boundary_valid("a'()+_,-./:=? b"));
	ck_assert(!sg_mime_boundary_valid(""));
	ck_assert(!sg_mime_boundary_valid("b1 "));
	ck_assert(!sg_mime_boundary_valid("a;b"));
	ck_assert(!sg_mime_boundary_valid("a\"b"));
	memset(b71, 'x', 71);
	b71[71] = '\0';
	ck_assert(!sg_mime_boundary_valid(b71));
	b71[70] = '\0';
	ck_assert(sg_mime_boundary_valid(b71));
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
	struct sg_split sp;

	sg_mime_split((const unsigned char *)body, strlen(body), "b", parts, 4, &sp);
	ck_assert_uint_eq(sp.n_parts, 2);
	ck_assert(sp.closed);
	/* a prefix reader (Dovecot) splits at "--bb ...": counted */
	ck_assert_uint_eq(sp.stray, 1);
	ck_assert_uint_eq(parts[0].len, strlen("Content-Type: text/plain\r\n\r\none\r\n--bb not a delimiter"));
	ck_assert(memcmp(parts[1].p, "\r\ntwo", parts[1].len) == 0);
	ck_assert_uint_eq(parts[1].len, 5);
	ck_assert(sp.preamble.len == 8 && memcmp(sp.preamble.p, "preamble", 8) == 0);
	ck_assert(sp.epilogue.len == 10 && memcmp(sp.epilogue.p, "epilogue\r\n", 10) == 0);
	/* LF only, delimiter at the very start, no close delimiter */
	sg_mime_split((const unsigned char *)"--x\nA\n--x\nB\n", 12, "x", parts, 4, &sp);
	ck_assert_uint_eq(sp.n_parts, 2);
	ck_assert(!sp.closed);
	ck_assert_uint_eq(sp.stray, 0);
	ck_assert(parts[0].len == 1 && parts[0].p[0] == 'A');
	ck_assert(parts[1].len == 2 && parts[1].p[0] == 'B');
	/* more parts than slots: counted, not stored */
	sg_mime_split((const unsigned char *)"--x\n1\n--x\n2\n--x\n3\n--x--\n", 24,
		      "x", parts, 2, &sp);
	ck_assert_uint_eq(sp.n_parts, 3);
	/* "--x--junk" does not close (whole-line readers), it is stray */
	sg_mime_split((const unsigned char *)"--x\n1\n--x--junk\n2\n--x--\n", 24,
		      "x", parts, 2, &sp);
	ck_assert_uint_eq(sp.n_parts, 1);
	ck_assert_uint_eq(sp.stray, 1);
	ck_assert(sp.closed);
	/* an empty boundary never matches */
	sg_mime_split((const unsigned char *)"--\n", 3, "", parts, 2, &sp);
	ck_assert_uint_eq(sp.n_parts, 0);
}
END_TEST

/* the vectorised line scan against the obvious loop, on random mixes
   of CR, LF, NUL and text at every alignment and length */
START_TEST(test_line_scan_random)
{
	static const unsigned char alphabet[] = { '\r', '\n', 0, 'a', '-' };
	unsigned char buf[100];
	unsigned int seed = 12345;
	int round;

	for (round = 0; round < 20000; round++) {
		size_t len = (size_t)(round % 97), i;
		bool naive_cr = false, naive_lf = false;
		unsigned char *out;
		size_t out_len;

		for (i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = alphabet[(seed >> 16) % (round % 3 == 0 ? 5 : 4) +
					  (round % 3 == 0 ? 0 : 1) * 0];
		}
		for (i = 0; i < len; i++) {
			if (buf[i] == 0)
				naive_cr = true;
			if (buf[i] == '\r' && (i + 1 >= len || buf[i + 1] != '\n'))
				naive_cr = true;
			if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
				naive_lf = true;
		}
		ck_assert_msg(sg_mime_has_bare_cr(buf, len) == naive_cr,
			      "round %d: bare CR/NUL", round);
		ck_assert_int_eq(sg_mime_canon_crlf(buf, len, &out, &out_len), 0);
		ck_assert_msg((out != NULL) == naive_lf, "round %d: bare LF", round);
		free(out);
	}
}
END_TEST

/* the same, with few special bytes in long lines, so that each flag is
   alone in a block at every position: the 16- and 32-byte loops, their
   block edges (a CRLF split across two blocks) and the byte loop after
   them must agree with the obvious loop */
START_TEST(test_line_flags_sparse)
{
	static const unsigned char special[] = { '\r', '\n', 0 };
	unsigned char buf[200];
	unsigned int seed = 777;
	int round;

	for (round = 0; round < 40000; round++) {
		size_t len = 1 + (size_t)(round % 199), i, n_special;
		struct sg_line_flags lf;
		bool nul = false, cr = false, blf = false;

		memset(buf, 'a', len);
		seed = seed * 1103515245u + 12345u;
		n_special = (seed >> 16) % 4;
		for (i = 0; i < n_special; i++) {
			size_t at;

			seed = seed * 1103515245u + 12345u;
			at = (seed >> 8) % len;
			seed = seed * 1103515245u + 12345u;
			if ((seed >> 16) % 2 == 0 && at + 1 < len) {
				buf[at] = '\r';	/* a CRLF, often across an edge */
				buf[at + 1] = '\n';
			} else {
				buf[at] = special[(seed >> 20) % 3];
			}
		}
		for (i = 0; i < len; i++) {
			if (buf[i] == 0)
				nul = true;
			if (buf[i] == '\r' && (i + 1 >= len || buf[i + 1] != '\n'))
				cr = true;
			if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
				blf = true;
		}
		sg_mime_line_flags(buf, len, &lf);
		ck_assert_msg(lf.nul == nul && lf.bare_cr == cr && lf.bare_lf == blf,
			      "round %d (len %zu): nul %d/%d bare CR %d/%d bare LF %d/%d",
			      round, len, lf.nul, nul, lf.bare_cr, cr, lf.bare_lf, blf);
	}
}
END_TEST

/* the delimiter search against memmem(): random text made of the
   delimiter's own bytes (many candidates, near misses at every length),
   at every alignment; and input of nothing but near misses, which hands
   over to memmem() part-way */
START_TEST(test_find_delim)
{
	static const char *const delims[] = {
		"--b", "--=_Part_1", "------CA7F48509555FD50240EE9D23797B46A",
		"----------------------------------------------------------------X-",
	};
	static unsigned char buf[4096];
	unsigned int seed = 4242;
	size_t d;
	int round;

	for (d = 0; d < SG_ARRAY_SIZE(delims); d++) {
		const char *delim = delims[d];
		size_t dlen = strlen(delim);

		for (round = 0; round < 3000; round++) {
			size_t len = (size_t)(round * 7 % 700), i;
			const unsigned char *want, *got;

			for (i = 0; i < len; i++) {
				seed = seed * 1103515245u + 12345u;
				buf[i] = (seed >> 16) % 8 == 0 ? '\n' :
					 (unsigned char)delim[(seed >> 8) % dlen];
			}
			if (round % 3 == 0 && len > dlen) {
				seed = seed * 1103515245u + 12345u;
				memcpy(buf + (seed >> 8) % (len - dlen), delim, dlen);
			}
			want = memmem(buf, len, delim, dlen);
			got = sg_mime_find_delim(buf, len, delim, dlen);
			ck_assert_msg(got == want, "%s round %d: %td, memmem %td",
				      delim, round, got ? got - buf : -1,
				      want ? want - buf : -1);
		}
	}
	/* near misses only, then the delimiter at the very end */
	{
		const char *delim = delims[3];
		size_t dlen = strlen(delim);

		memset(buf, '-', sizeof(buf));
		ck_assert_ptr_null(sg_mime_find_delim(buf, sizeof(buf), delim, dlen));
		memcpy(buf + sizeof(buf) - dlen, delim, dlen);
		ck_assert_ptr_eq(sg_mime_find_delim(buf, sizeof(buf), delim, dlen),
				 buf + sizeof(buf) - dlen);
		ck_assert_ptr_eq(sg_mime_find_delim(buf, sizeof(buf), delim, dlen),
				 memmem(buf, sizeof(buf), delim, dlen));
	}
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

/* From values: what the strict reader returns (doc/DESIGN.md 3.7) */
static const struct {
	const char *value;
	enum sg_from state;
	const char *addr;
} from_cases[] = {
	{ "alice@example.org", SG_FROM_OK, "alice@example.org" },
	{ " Alice <alice@example.org> ", SG_FROM_OK, "alice@example.org" },
	{ "Alice Q. Public <alice@example.org>", SG_FROM_OK, "alice@example.org" },
	{ "\"Smith, Alice\" <alice@example.org>", SG_FROM_OK, "alice@example.org" },
	{ "<alice@example.org>", SG_FROM_OK, "alice@example.org" },
	{ "=?UTF-8?B?w4RsaWNl?= <alice@example.org>", SG_FROM_OK, "alice@example.org" },
	{ "=?iso-8859-1?Q?Alice_=28Vertrieb=29?= <alice@example.org>", SG_FROM_OK, "alice@example.org" },
	{ "Alice\r\n <alice@example.org>", SG_FROM_OK, "alice@example.org" },
	{ "Alice\n\t<alice@example.org>", SG_FROM_OK, "alice@example.org" },
	{ "J\xc3\xb6rg <joerg@example.org>", SG_FROM_OK, "joerg@example.org" },
	{ "o'brien+tag@mail.example.org", SG_FROM_OK, "o'brien+tag@mail.example.org" },
	/* empty */
	{ "", SG_FROM_EMPTY, "" },
	{ "   ", SG_FROM_EMPTY, "" },
	/* lists and groups */
	{ "alice@example.org, bob@example.org", SG_FROM_LIST, "" },
	{ "Team: alice@example.org, bob@example.org;", SG_FROM_LIST, "" },
	{ "alice@example.org:carol@example.org;", SG_FROM_LIST, "" },
	{ "Undisclosed:;", SG_FROM_LIST, "" },
	{ "alice@example.org,", SG_FROM_LIST, "" },
	/* the forms: readers name alice or carol */
	{ "alice@example.org <carol@example.org>", SG_FROM_AMBIGUOUS, "" },
	{ "<alice@example.org> <carol@example.org>", SG_FROM_AMBIGUOUS, "" },
	{ "alice(x)@example.org <carol@example.org>", SG_FROM_AMBIGUOUS, "" },
	{ "\"alice@example.org\" <carol@example.org>", SG_FROM_AMBIGUOUS, "" },
	{ "=?utf-8?q?alice=40example=2Eorg?= <carol@example.org>", SG_FROM_AMBIGUOUS, "" },
	{ "=?utf-8?b?YWxpY2VAZXhhbXBsZS5vcmc=?= <carol@example.org>", SG_FROM_AMBIGUOUS, "" },
	{ "alice\xef\xbc\xa0" "example.org <carol@example.org>", SG_FROM_AMBIGUOUS, "" },
	{ "=?utf-8?q?alice=EF=BC=A0example.org?= <carol@example.org>", SG_FROM_AMBIGUOUS, "" },
	{ "alice\xef\xb9\xab" "example.org <carol@example.org>", SG_FROM_AMBIGUOUS, "" },
	{ "\"<alice@example.org>\" <carol@example.org>", SG_FROM_AMBIGUOUS, "" },
	{ "\"a\\\"b\" <carol@example.org>", SG_FROM_AMBIGUOUS, "" },
	{ "\"=?utf-8?q?alice=40example.org?=\" <carol@example.org>", SG_FROM_AMBIGUOUS, "" },
	/* comments, routes, literals, quoting */
	{ "alice@example.org (Alice)", SG_FROM_AMBIGUOUS, "" },
	{ "Alice <alice@example.org> (x)", SG_FROM_AMBIGUOUS, "" },
	{ "<@route.example:alice@example.org>", SG_FROM_AMBIGUOUS, "" },
	{ "alice@[192.0.2.1]", SG_FROM_AMBIGUOUS, "" },
	{ "\"alice\"@example.org", SG_FROM_AMBIGUOUS, "" },
	{ "alice@example.org.", SG_FROM_AMBIGUOUS, "" },
	{ "alice@localhost", SG_FROM_AMBIGUOUS, "" },
	{ "alice@-example.org", SG_FROM_AMBIGUOUS, "" },
	{ ".alice@example.org", SG_FROM_AMBIGUOUS, "" },
	{ "al..ice@example.org", SG_FROM_AMBIGUOUS, "" },
	{ "John Smith", SG_FROM_AMBIGUOUS, "" },
	{ "Alice <alice@example.org", SG_FROM_AMBIGUOUS, "" },
	{ "Alice <alice@example.org>>", SG_FROM_AMBIGUOUS, "" },
	{ "Alice <<alice@example.org>", SG_FROM_AMBIGUOUS, "" },
	{ "=?utf-8?x?abc?= <alice@example.org>", SG_FROM_AMBIGUOUS, "" },
	{ "=?utf-8?q?a=4?= <alice@example.org>", SG_FROM_AMBIGUOUS, "" },
	/* line breaks that are not folds, control characters */
	{ "alice@example.org\r\nFrom: carol@example.org", SG_FROM_AMBIGUOUS, "" },
	{ "Alice\r<alice@example.org>", SG_FROM_AMBIGUOUS, "" },
	{ "Alice\n<alice@example.org>", SG_FROM_AMBIGUOUS, "" },
	{ "Ali\x01" "ce <alice@example.org>", SG_FROM_AMBIGUOUS, "" },
};

START_TEST(test_from_strict)
{
	char addr[320];
	const char *why;
	struct sg_slice v = S(from_cases[_i].value);
	enum sg_from st = sg_mime_parse_from(&v, addr, sizeof(addr), &why);

	ck_assert_msg(st == from_cases[_i].state, "case %d '%s': state %d",
		      _i, from_cases[_i].value, (int)st);
	if (st == SG_FROM_OK)
		ck_assert_msg(strcmp(addr, from_cases[_i].addr) == 0,
			      "case %d '%s': addr '%s'", _i, from_cases[_i].value, addr);
	else
		ck_assert_str_eq(addr, "");
	ck_assert((st == SG_FROM_LIST || st == SG_FROM_AMBIGUOUS) == (why != NULL));
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
	tcase_add_loop_test(tc, test_ctype_gate, 0,
			    (int)SG_ARRAY_SIZE(ctype_gate_cases));
	tcase_add_test(tc, test_headers_gate);
	tcase_add_test(tc, test_boundary_valid);
	tcase_add_test(tc, test_split);
	tcase_add_test(tc, test_canon_crlf);
	tcase_add_test(tc, test_line_scan_random);
	tcase_add_test(tc, test_line_flags_sparse);
	tcase_add_test(tc, test_find_delim);
	tcase_add_loop_test(tc, test_from_strict, 0, (int)SG_ARRAY_SIZE(from_cases));
	tcase_add_test(tc, test_base64);
	suite_add_tcase(s, tc);
	return s;
}
