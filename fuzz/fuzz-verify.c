/*
 * fuzz-verify.c - libFuzzer harness: sg_verify_message() over raw mail
 *
 * The input is one RFC 5322 message (CRLF or LF).  Each input is verified
 * twice with the same validation time: both verdicts must satisfy the
 * invariants of fuzz-common.h and be identical (the certificate and chain
 * caches of the context must not change a verdict).  The input is also
 * classified as the prefix of an oversized message
 * (sg_verify_message_prefix): none, signed or encrypted, with too-large.
 * Seeds: eml files (fuzz/seeds.sh); dictionary: fuzz/mime.dict.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* strcasestr, memmem */
#endif
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "smimeguard.h"
#include "fuzz-common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup();
	return 0;
}

/*
 * one_reading - an independent, naive whole-line reader (what Python's
 * email and Thunderbird do) must agree with a verified verdict: one From
 * field with one '@' naming the bound signer; for multipart/signed one
 * boundary parameter, and every line that starts with "--boundary" is
 * exactly a delimiter, two parts before the close (DESIGN.md 3.11).
 */
static void one_reading(const uint8_t *data, size_t size,
			const struct sg_result *res)
{
	const struct sg_signer *s = sg_result_bound_signer(res);
	char from[1024] = "", ctype[2048] = "", boundary[128] = "";
	size_t pos = 0, n_from = 0, body = size, i;
	const char *b;
	bool in_from = false, in_ct = false;

	if (s == NULL)
		fuzz_fail("verified without a bound signer");
	while (pos < size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t end = nl != NULL ? (size_t)(nl - data) : size, len;
		const char *ln = (const char *)data + pos;

		len = end - pos;
		if (len > 0 && ln[len - 1] == '\r')
			len--;
		if (memchr(ln, '\r', len) != NULL)
			fuzz_fail("verified with a bare CR in the header");
		if (len == 0) {
			body = nl != NULL ? end + 1 : size;
			break;
		}
		if (ln[0] == ' ' || ln[0] == '\t') {
			char *dst = in_from ? from : in_ct ? ctype : NULL;

			if (dst != NULL && strlen(dst) + len < 1000)
				strncat(dst, ln, len);
		} else {
			in_from = len >= 5 && strncasecmp(ln, "from:", 5) == 0;
			in_ct = len >= 13 && strncasecmp(ln, "content-type:", 13) == 0 &&
				ctype[0] == '\0';
			if (in_from) {
				n_from++;
				if (len < sizeof(from))
					memcpy(from, ln, len), from[len] = '\0';
			} else if (in_ct && len < sizeof(ctype)) {
				memcpy(ctype, ln, len);
				ctype[len] = '\0';
			}
		}
		pos = nl != NULL ? end + 1 : size;
	}
	if (n_from != 1 || strchr(from, '@') != strrchr(from, '@') ||
	    strcasestr(from, s->email) == NULL)
		fuzz_fail("verified, but a whole-line reader sees another From: %s", from);
	if (strcasestr(ctype, "multipart/signed") == NULL)
		return;
	b = strcasestr(ctype, "boundary");
	if (b == NULL || strcasestr(b + 1, "boundary") != NULL)
		fuzz_fail("verified multipart/signed without exactly one boundary: %s", ctype);
	b += 8;
	while (*b == ' ' || *b == '=' || *b == '"')
		b++;
	for (i = 0; b[i] != '\0' && b[i] != '"' && b[i] != ';' &&
	     i + 1 < sizeof(boundary); i++)
		boundary[i] = b[i];
	while (i > 0 && (boundary[i - 1] == ' ' || boundary[i - 1] == '\t'))
		i--;
	boundary[i] = '\0';
	{
		size_t blen = strlen(boundary), opens = 0;
		bool closed = false;

		for (pos = body; pos < size && !closed;) {
			const uint8_t *nl = memchr(data + pos, '\n', size - pos);
			size_t end = nl != NULL ? (size_t)(nl - data) : size, len, q;
			const char *ln = (const char *)data + pos;

			len = end - pos;
			if (len > 0 && ln[len - 1] == '\r')
				len--;
			if (len >= blen + 2 && ln[0] == '-' && ln[1] == '-' &&
			    memcmp(ln + 2, boundary, blen) == 0) {
				q = blen + 2;
				if (q + 2 <= len && ln[q] == '-' && ln[q + 1] == '-') {
					q += 2;
					closed = true;
				}
				while (q < len && (ln[q] == ' ' || ln[q] == '\t'))
					q++;
				if (q != len)
					fuzz_fail("verified, but a prefix reader splits at a stray delimiter line");
				if (!closed)
					opens++;
			}
			pos = nl != NULL ? end + 1 : size;
		}
		if (!closed || opens != 2)
			fuzz_fail("verified multipart/signed with %zu parts for a whole-line reader", opens);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sg_result *res = NULL, *again = NULL;
	struct sg_error err;

	if (sg_verify_message(fuzz_ctx, data, size, fuzz_at, &res, &err) < 0)
		fuzz_fail("sg_verify_message failed: %s", err.msg);
	if (res == NULL)
		fuzz_fail("sg_verify_message returned no result");
	fuzz_check_result(res, true);
	if (sg_result_status(res) == SG_STATUS_SIGNED_VERIFIED)
		one_reading(data, size, res);
	if (sg_verify_message(fuzz_ctx, data, size, fuzz_at, &again, &err) < 0)
		fuzz_fail("second sg_verify_message failed: %s", err.msg);
	fuzz_check_same(res, again);
	sg_result_free(&again);
	sg_result_free(&res);
	if (res != NULL)
		fuzz_fail("sg_result_free did not clear the pointer");

	if (size > 0) {
		enum sg_status st;

		if (sg_verify_message_prefix(fuzz_ctx, data, size,
					     sg_ctx_max_message_size(fuzz_ctx) + 1,
					     fuzz_at, &res, &err) < 0)
			fuzz_fail("sg_verify_message_prefix failed: %s", err.msg);
		fuzz_check_result(res, true);
		st = sg_result_status(res);
		if (st != SG_STATUS_NONE && st != SG_STATUS_SIGNED &&
		    st != SG_STATUS_ENCRYPTED)
			fuzz_fail("prefix verdict %s", sg_status_name(st));
		if (st != SG_STATUS_NONE &&
		    !(sg_result_reasons(res) & SG_REASON_BIT(SG_REASON_TOO_LARGE)))
			fuzz_fail("prefix verdict %s without too-large",
				  sg_status_name(st));
		sg_result_free(&res);
	}
	return 0;
}
