/*
 * fuzz-mime.c - libFuzzer harness: the internal MIME walker (mime.c,
 * mime-addr.c, base64.c) without any cryptography
 *
 * The input is walked as a MIME entity: header block, Content-Type and
 * Content-Transfer-Encoding, From/Sender mailboxes, multipart split (three
 * levels deep), base64 body, CRLF canonicalisation.  The input is also
 * fed whole to the Content-Type and address parsers.  Every slice handed
 * to a parser is first copied into an exact-size buffer, so ASan catches
 * a parser reading past its slice, not only past the input.  Outputs are
 * checked: slices inside their input, strings terminated inside their
 * arrays, canonical form really canonical and lossless.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sg-base.h"
#include "mime-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PARTS 16
#define MAX_DEPTH 3

static void fail(const char *what) __attribute__((noreturn));

static void fail(const char *what)
{
	fprintf(stderr, "fuzz-mime: invariant violated: %s\n", what);
	abort();
}

static unsigned char *dup_exact(const unsigned char *p, size_t len)
{
	unsigned char *out = malloc(len > 0 ? len : 1);

	if (out == NULL)
		abort();
	if (len > 0)
		memcpy(out, p, len);
	return out;
}

static void check_slice(const struct sg_slice *s, const unsigned char *base,
			size_t len, const char *what)
{
	if (s->p == NULL) {
		if (s->len != 0)
			fail(what);
		return;
	}
	if (s->p < base || s->p > base + len ||
	    s->len > (size_t)(base + len - s->p))
		fail(what);
}

static void check_cstr(const char *s, size_t size, bool lower,
		       const char *what)
{
	size_t n = strnlen(s, size), i;

	if (n >= size)
		fail(what);
	for (i = 0; lower && i < n; i++) {
		if (isupper((unsigned char)s[i]))
			fail(what);
	}
}

/* ctype - sg_mime_parse_ctype on an exact copy of the slice */
static void ctype(const struct sg_slice *value, struct sg_ctype *ct)
{
	struct sg_slice copy = { NULL, 0 };

	if (value->p != NULL) {
		copy.p = dup_exact(value->p, value->len);
		copy.len = value->len;
	}
	sg_mime_parse_ctype(&copy, ct);
	free((void *)copy.p);
	check_cstr(ct->type, sizeof(ct->type), true, "type");
	check_cstr(ct->subtype, sizeof(ct->subtype), true, "subtype");
	check_cstr(ct->boundary, sizeof(ct->boundary), false, "boundary");
	check_cstr(ct->protocol, sizeof(ct->protocol), true, "protocol");
	check_cstr(ct->smime_type, sizeof(ct->smime_type), true, "smime-type");
	check_cstr(ct->name, sizeof(ct->name), false, "name");
	check_cstr(ct->forwarded, sizeof(ct->forwarded), true, "forwarded");
	if (ct->type[0] == '\0' || ct->subtype[0] == '\0')
		fail("empty type or subtype");
}

/* from - sg_mime_parse_from into an exact-size address buffer; an
   accepted address is a plain addr-spec that occurs in the value */
static void from(const struct sg_slice *value, size_t addr_size)
{
	struct sg_slice copy = { NULL, 0 };
	char *addr = addr_size > 0 ? malloc(addr_size) : NULL;
	const char *why;
	enum sg_from st;

	if (addr_size > 0 && addr == NULL)
		abort();
	if (value->p != NULL) {
		copy.p = dup_exact(value->p, value->len);
		copy.len = value->len;
	}
	st = sg_mime_parse_from(&copy, addr, addr_size, &why);
	if ((unsigned int)st > SG_FROM_AMBIGUOUS)
		fail("from state out of range");
	if ((st == SG_FROM_LIST || st == SG_FROM_AMBIGUOUS) != (why != NULL))
		fail("a refusal without a reason");
	if (addr_size > 0) {
		if (strnlen(addr, addr_size) >= addr_size)
			fail("address not terminated");
		if (st != SG_FROM_OK && addr[0] != '\0')
			fail("an address from a refused value");
		if (st == SG_FROM_OK &&
		    (addr[0] == '\0' || strchr(addr, '@') == NULL ||
		     strchr(addr, '@') != strrchr(addr, '@') ||
		     strpbrk(addr, " \t\r\n<>()\",;:\\[]") != NULL ||
		     memmem(value->p, value->len, addr, strlen(addr)) == NULL))
			fail("an accepted address that is not a plain addr-spec of the value");
	}
	if (value->p == NULL && st != SG_FROM_EMPTY)
		fail("a mailbox in an absent header");
	free((void *)copy.p);
	free(addr);
}

static void base64(const unsigned char *p, size_t len)
{
	size_t room = (len / 4 + 1) * 3, out_len = (size_t)-1;
	unsigned char *in = dup_exact(p, len), *out = malloc(room);

	if (out == NULL)
		abort();
	if (sg_b64_decode(in, len, out, &out_len) == 0 &&
	    (out_len > room || out_len > len))
		fail("base64 output length");
	free(out);
	free(in);
}

static void canon(const unsigned char *p, size_t len)
{
	unsigned char *in = dup_exact(p, len), *out = NULL;
	size_t out_len = 0, bare = 0, i, j;

	for (i = 0; i < len; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			bare++;
	}
	if (sg_mime_canon_crlf(in, len, &out, &out_len) < 0)
		abort();	/* only ENOMEM */
	if (out == NULL) {
		if (bare != 0 || out_len != len)
			fail("bare LF left in place");
	} else {
		if (bare == 0 || out_len != len + bare)
			fail("canonical length");
		/* lossless: drop the inserted CRs and get the input back */
		for (i = j = 0; i < out_len; i++) {
			if (out[i] == '\n' && (i == 0 || out[i - 1] != '\r'))
				fail("bare LF in the canonical form");
			if (out[i] == '\r' && i + 1 < out_len &&
			    out[i + 1] == '\n' &&
			    (j >= len || p[j] != '\r'))
				continue;	/* an inserted CR */
			if (j >= len || out[i] != p[j])
				fail("canonical form changed the content");
			j++;
		}
		if (j != len)
			fail("canonical form lost bytes");
	}
	free(out);
	free(in);
}

static void entity(const unsigned char *p, size_t len, unsigned int depth)
{
	struct sg_headers h;
	struct sg_ctype ct;
	struct sg_slice parts[MAX_PARTS];
	const unsigned char *body;
	unsigned char *copy;
	size_t blen, i;
	struct sg_split sp;

	copy = dup_exact(p, len);
	sg_mime_parse_headers(copy, len, &h);
	if (h.body_offset > len)
		fail("body offset past the end");
	check_slice(&h.content_type, copy, len, "content-type slice");
	check_slice(&h.cte, copy, len, "cte slice");
	check_slice(&h.sender, copy, len, "sender slice");
	if (h.has_content_type != (h.content_type.p != NULL))
		fail("has_content_type");
	for (i = 0; i < h.n_from && i < SG_MAX_FROM; i++) {
		check_slice(&h.from[i], copy, len, "from slice");
		from(&h.from[i], 320);
	}
	if (h.n_sender > 0)
		from(&h.sender, 320);
	(void)sg_mime_headers_ambiguity(&h);
	ctype(&h.content_type, &ct);
	(void)sg_mime_cte_ambiguous(&h.cte);
	if ((unsigned int)sg_mime_parse_cte(&h.cte) > SG_CTE_UNKNOWN)
		fail("cte out of range");
	body = copy + h.body_offset;
	blen = len - h.body_offset;
	if (depth == 0) {
		base64(body, blen);
		canon(p, len);
	}
	if (ct.boundary[0] != '\0' && depth < MAX_DEPTH) {
		sg_mime_split(body, blen, ct.boundary, parts, MAX_PARTS, &sp);
		check_slice(&sp.preamble, body, blen, "preamble slice");
		check_slice(&sp.epilogue, body, blen, "epilogue slice");
		if (sp.closed != (sp.epilogue.p != NULL))
			fail("epilogue without a close delimiter");
		(void)sg_mime_boundary_valid(ct.boundary);
		for (i = 0; i < sp.n_parts && i < MAX_PARTS; i++) {
			check_slice(&parts[i], body, blen, "part slice");
			entity(parts[i].p, parts[i].len, depth + 1);
		}
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sg_slice whole = { data, size };
	struct sg_ctype ct;
	struct sg_slice parts[MAX_PARTS];
	struct sg_split sp;
	size_t i;

	entity(data, size, 0);
	/* the whole input as a header value and as a multipart body */
	ctype(&whole, &ct);
	from(&whole, 320);
	from(&whole, size % 17);
	sg_mime_split(data, size, ct.boundary[0] != '\0' ? ct.boundary : "b",
		      parts, MAX_PARTS, &sp);
	for (i = 0; i < sp.n_parts && i < MAX_PARTS; i++)
		check_slice(&parts[i], data, size, "part slice");
	return 0;
}
