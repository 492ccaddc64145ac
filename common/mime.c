/* mime.c - MIME walking over raw bytes: headers, Content-Type, multipart
 *
 * Everything works on slices of the caller's buffer; nothing copies the
 * message except sg_mime_canon_crlf() when the input has bare LFs.
 * Input may use CRLF or LF line endings.
 */
#include "mime-private.h"
#include "sg-base.h"

#include <ctype.h>
#include <stdint.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* name_is - case-insensitive compare of a header name slice */
static bool name_is(const unsigned char *p, size_t len, const char *name)
{
	return strlen(name) == len && strncasecmp((const char *)p, name, len) == 0;
}

/* line_end - end of the line starting at p (index of '\n' or len) */
static size_t line_end(const unsigned char *p, size_t start, size_t len)
{
	const unsigned char *nl = memchr(p + start, '\n', len - start);

	return nl == NULL ? len : (size_t)(nl - p);
}

/* valid_field_name - RFC 5322 ftext: printable ASCII except ':' */
static bool valid_field_name(const unsigned char *p, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
		if (p[i] <= ' ' || p[i] >= 0x7f || p[i] == ':')
			return false;
	return true;
}

void sg_mime_parse_headers(const unsigned char *p, size_t len,
			   struct sg_headers *h)
{
	size_t pos = 0, i;

	memset(h, 0, sizeof(*h));
	while (pos < len) {
		size_t eol = line_end(p, pos, len), content_end = eol;
		size_t field_start = pos, colon, name_end, vstart;
		struct sg_slice value;

		if (content_end > pos && p[content_end - 1] == '\r')
			content_end--;
		if (content_end == pos) {
			/* the empty line ends the header */
			h->body_offset = eol < len ? eol + 1 : len;
			goto out;
		}
		/* gather continuation lines */
		pos = eol < len ? eol + 1 : len;
		while (pos < len && (p[pos] == ' ' || p[pos] == '\t')) {
			eol = line_end(p, pos, len);
			pos = eol < len ? eol + 1 : len;
		}
		h->n_fields++;
		if (p[field_start] == ' ' || p[field_start] == '\t') {
			h->n_bad_lines++;	/* stray continuation at the start */
			continue;
		}
		for (colon = field_start; colon < pos && p[colon] != ':' &&
		     p[colon] != '\n'; colon++)
			;
		if (colon >= pos || p[colon] != ':') {
			h->n_bad_lines++;	/* not a header field */
			continue;
		}
		name_end = colon;
		if (!valid_field_name(p + field_start, name_end - field_start))
			h->n_bad_lines++;	/* "Name :" or 8-bit names */
		while (name_end > field_start &&
		       (p[name_end - 1] == ' ' || p[name_end - 1] == '\t'))
			name_end--;
		vstart = colon + 1;
		value.p = p + vstart;
		value.len = pos - vstart;
		/* drop the final line break from the value */
		while (value.len > 0 && (value.p[value.len - 1] == '\n' ||
					 value.p[value.len - 1] == '\r'))
			value.len--;
		if (name_is(p + field_start, name_end - field_start,
			    "content-type")) {
			if (!h->has_content_type) {
				h->content_type = value;
				h->has_content_type = true;
			}
			h->n_content_type++;
		} else if (name_is(p + field_start, name_end - field_start,
				   "content-transfer-encoding")) {
			if (h->cte.p == NULL)
				h->cte = value;
			h->n_cte++;
		} else if (name_is(p + field_start, name_end - field_start,
				   "from")) {
			if (h->n_from < SG_MAX_FROM)
				h->from[h->n_from] = value;
			h->n_from++;
		} else if (name_is(p + field_start, name_end - field_start,
				   "sender")) {
			if (h->n_sender == 0)
				h->sender = value;
			h->n_sender++;
		}
	}
	h->body_offset = len;
out:
	/* a CR that does not end a line: Python's email reads it as a line
	   break, Dovecot and clients do not */
	for (i = 0; i < h->body_offset; i++) {
		if (p[i] == '\r' && (i + 1 >= len || p[i + 1] != '\n'))
			h->bare_cr = true;
		else if (p[i] == '\0')
			h->nul = true;	/* C-string readers stop there */
	}
}

const char *sg_mime_headers_ambiguity(const struct sg_headers *h)
{
	if (h->n_content_type > 1)
		return "more than one Content-Type field";
	if (h->n_cte > 1)
		return "more than one Content-Transfer-Encoding field";
	if (h->n_bad_lines > 0)
		return "a header line that is not a well-formed field";
	if (h->bare_cr)
		return "a CR without LF in the header";
	if (h->nul)
		return "a NUL byte in the header";
	return NULL;
}

/*
 * Line-ending flags, many bytes at a time.  Bit k of a mask is byte k of
 * the block: an LF at k needs a CR at k-1, a CR at k needs an LF at k+1
 * (for the last byte of a block, the next block's first says).  The
 * vector loops stop before the last partial block; the byte loop in
 * sg_mime_line_flags() finishes with the same rules.
 */
struct lf_scan {
	size_t i;		/* bytes done */
	bool prev_cr;		/* the byte before p[i] is a CR */
	bool bare_lf, bare_cr, nul;
};

/* lf_block - the rules on one block's CR and LF masks; last is the
   block's top bit (0x8000 for 16 bytes, 0x80000000 for 32) */
static inline void lf_block(uint32_t cr, uint32_t lf, uint32_t last,
			    bool *prev_cr, uint32_t *bad_lf, uint32_t *bad_cr)
{
	if ((cr | lf) == 0) {
		*bad_cr |= *prev_cr;	/* CR ended the last block */
		*prev_cr = false;
		return;
	}
	*bad_lf |= lf & ~((cr << 1) | (*prev_cr ? 1u : 0u));
	*bad_cr |= cr & ~(lf >> 1) & (last - 1);
	*bad_cr |= *prev_cr && !(lf & 1u);
	*prev_cr = (cr & last) != 0;
}

#if defined(__SSE2__)
static void lf_scan_sse2(const unsigned char *p, size_t len, struct lf_scan *s)
{
	const __m128i vcr = _mm_set1_epi8('\r'), vlf = _mm_set1_epi8('\n');
	const __m128i vzero = _mm_setzero_si128();
	uint32_t any_nul = 0, bad_lf = 0, bad_cr = 0;
	bool prev_cr = s->prev_cr;
	size_t i = s->i;

	for (; i + 16 <= len; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));

		any_nul |= (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vzero));
		lf_block((uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vcr)),
			 (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vlf)),
			 0x8000u, &prev_cr, &bad_lf, &bad_cr);
	}
	s->i = i;
	s->prev_cr = prev_cr;
	s->nul |= any_nul != 0;
	s->bare_lf |= bad_lf != 0;
	s->bare_cr |= bad_cr != 0;
}
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_LF_SCAN_AVX2 1
/* the same rules, thirty-two bytes at a time, where the CPU has AVX2
   (chosen at run time: the library is built for the baseline x86-64) */
__attribute__((target("avx2")))
static void lf_scan_avx2(const unsigned char *p, size_t len, struct lf_scan *s)
{
	const __m256i vcr = _mm256_set1_epi8('\r'), vlf = _mm256_set1_epi8('\n');
	const __m256i vzero = _mm256_setzero_si256();
	uint32_t any_nul = 0, bad_lf = 0, bad_cr = 0;
	bool prev_cr = s->prev_cr;
	size_t i = s->i;

	for (; i + 32 <= len; i += 32) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(p + i));

		any_nul |= (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, vzero));
		lf_block((uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, vcr)),
			 (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, vlf)),
			 0x80000000u, &prev_cr, &bad_lf, &bad_cr);
	}
	s->i = i;
	s->prev_cr = prev_cr;
	s->nul |= any_nul != 0;
	s->bare_lf |= bad_lf != 0;
	s->bare_cr |= bad_cr != 0;
}
#endif

/*
 * sg_mime_line_flags - is there an LF without CR before it, a CR without LF
 * after it, a NUL?  One pass, with AVX2 or SSE2 where the machine has them
 * (a memchr per line cost more than hashing the line on 1 MB mail).
 */
void sg_mime_line_flags(const unsigned char *p, size_t len,
			struct sg_line_flags *lf_r)
{
	struct lf_scan s;
	size_t i;

	memset(&s, 0, sizeof(s));
#ifdef HAVE_LF_SCAN_AVX2
	if (len >= 64 && __builtin_cpu_supports("avx2"))
		lf_scan_avx2(p, len, &s);
#endif
#if defined(__SSE2__)
	lf_scan_sse2(p, len, &s);
#endif
	for (i = s.i; i < len; i++) {
		if (p[i] == '\n' && !s.prev_cr)
			s.bare_lf = true;
		else if (s.prev_cr && p[i] != '\n')
			s.bare_cr = true;
		if (p[i] == 0)
			s.nul = true;
		s.prev_cr = p[i] == '\r';
	}
	if (s.prev_cr)
		s.bare_cr = true;	/* a CR at the very end */
	lf_r->bare_lf = s.bare_lf;
	lf_r->bare_cr = s.bare_cr;
	lf_r->nul = s.nul;
}

bool sg_mime_has_bare_cr(const unsigned char *p, size_t len)
{
	struct sg_line_flags lf;

	sg_mime_line_flags(p, len, &lf);
	/* a NUL: C-string readers (libmime) stop there */
	return lf.nul || lf.bare_cr;
}

/* ---- Content-Type tokenizer (RFC 2045 with RFC 822 comments) ---- */

struct tok {
	const unsigned char *p;
	size_t len, pos;
	bool comment;		/* a comment was skipped */
	bool escape;		/* a quoted-pair was read */
	bool truncated;		/* a value did not fit its buffer */
};

static void skip_cfws(struct tok *t)
{
	int depth = 0;

	while (t->pos < t->len) {
		unsigned char c = t->p[t->pos];

		if (depth > 0) {
			if (c == '\\' && t->pos + 1 < t->len)
				t->pos++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			t->pos++;
		} else if (c == '(') {
			depth = 1;
			t->comment = true;
			t->pos++;
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			t->pos++;
		} else {
			break;
		}
	}
}

static bool is_tspecial(unsigned char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static bool is_token_char(unsigned char c)
{
	return c > ' ' && c < 0x7f && !is_tspecial(c);
}

/* read_token - a token into buf (truncated), false when none */
static bool read_token(struct tok *t, char *buf, size_t size, bool lower)
{
	size_t n = 0;

	skip_cfws(t);
	while (t->pos < t->len) {
		unsigned char c = t->p[t->pos];

		if (!is_token_char(c))
			break;
		if (n + 1 < size)
			buf[n++] = lower ? (char)tolower(c) : (char)c;
		else
			t->truncated = true;
		t->pos++;
	}
	buf[n] = '\0';
	return n > 0;
}

/* read_value - token or quoted-string */
static bool read_value(struct tok *t, char *buf, size_t size, bool lower)
{
	size_t n = 0;

	skip_cfws(t);
	if (t->pos < t->len && t->p[t->pos] == '"') {
		t->pos++;
		while (t->pos < t->len && t->p[t->pos] != '"') {
			unsigned char c = t->p[t->pos];

			if (c == '\\' && t->pos + 1 < t->len) {
				c = t->p[++t->pos];
				t->escape = true;
			}
			if (c != '\r' && c != '\n') {
				if (n + 1 < size)
					buf[n++] = lower ? (char)tolower(c) : (char)c;
				else
					t->truncated = true;
			}
			t->pos++;
		}
		if (t->pos >= t->len) {
			buf[n] = '\0';
			return false;	/* unterminated */
		}
		t->pos++;
		buf[n] = '\0';
		return true;
	}
	return read_token(t, buf, size, lower);
}

static bool expect(struct tok *t, unsigned char c)
{
	skip_cfws(t);
	if (t->pos < t->len && t->p[t->pos] == c) {
		t->pos++;
		return true;
	}
	return false;
}

/* the parameters that decide structure; each may appear once, plain */
static const char *const structural_params[] = {
	"boundary", "protocol", "micalg", "smime-type", "forwarded", "hp"
};

static void ambiguous(struct sg_ctype *ct, const char *why)
{
	if (ct->ambiguity == NULL)
		ct->ambiguity = why;
}

static void set_text_plain(struct sg_ctype *ct)
{
	memset(ct, 0, sizeof(*ct));
	strcpy(ct->type, "text");
	strcpy(ct->subtype, "plain");
}

/* media_type_strict - "type/subtype" with nothing between the tokens
   (Python's email reads "multipart / signed" as another type) */
static bool media_type_strict(const struct sg_slice *v)
{
	size_t i = 0, start;

	while (i < v->len && (v->p[i] == ' ' || v->p[i] == '\t' ||
			      v->p[i] == '\r' || v->p[i] == '\n'))
		i++;
	for (start = i; i < v->len && is_token_char(v->p[i]); i++)
		;
	if (i == start || i >= v->len || v->p[i] != '/')
		return false;
	for (start = ++i; i < v->len && is_token_char(v->p[i]); i++)
		;
	return i > start;
}

void sg_mime_parse_ctype(const struct sg_slice *value, struct sg_ctype *ct)
{
	struct tok t = { value->p, value->len, 0, false, false, false };
	char pname[64], pval[256];
	unsigned int seen = 0;

	set_text_plain(ct);
	if (value->p == NULL)
		return;
	if (!read_token(&t, ct->type, sizeof(ct->type), true) ||
	    !expect(&t, '/') ||
	    !read_token(&t, ct->subtype, sizeof(ct->subtype), true)) {
		/* RFC 2045 5.2: an invalid Content-Type means text/plain */
		set_text_plain(ct);
		ct->malformed = true;
		return;
	}
	if (!media_type_strict(value))
		ambiguous(ct, "space or a comment inside the media type");
	for (;;) {
		const char *star;
		size_t base_len, i;
		bool lower;

		skip_cfws(&t);
		if (t.pos >= t.len)
			break;
		if (t.p[t.pos] != ';') {
			ambiguous(ct, "text after a parameter value");
			break;
		}
		t.pos++;
		if (!read_token(&t, pname, sizeof(pname), true)) {
			skip_cfws(&t);
			if (t.pos >= t.len || t.p[t.pos] == ';')
				continue;	/* empty parameter: "a/b; ;c=d" */
			ambiguous(ct, "a parameter without a name");
			ct->malformed = true;
			break;
		}
		if (!expect(&t, '=')) {
			ambiguous(ct, "a parameter without a value");
			ct->malformed = true;
			break;
		}
		lower = strcmp(pname, "boundary") != 0 &&
			strcmp(pname, "name") != 0;
		if (!read_value(&t, pval, sizeof(pval), lower)) {
			ambiguous(ct, "an empty or unterminated parameter value");
			ct->malformed = true;
			break;
		}
		star = strchr(pname, '*');
		base_len = star != NULL ? (size_t)(star - pname) : strlen(pname);
		for (i = 0; i < SG_ARRAY_SIZE(structural_params); i++) {
			if (strlen(structural_params[i]) != base_len ||
			    strncmp(pname, structural_params[i], base_len) != 0)
				continue;
			if (star != NULL)
				ambiguous(ct, "an RFC 2231 form of a structural parameter (boundary, protocol, micalg, smime-type, forwarded, hp)");
			else if ((seen & (1u << i)) != 0)
				ambiguous(ct, "a structural parameter given twice");
			seen |= 1u << i;
		}
		if (star != NULL)
			continue;
		/* the first occurrence counts, as in Dovecot and Python */
		if (strcmp(pname, "boundary") == 0) {
			if (ct->boundary[0] == '\0')
				sg_strlcpy(ct->boundary, pval, sizeof(ct->boundary));
		} else if (strcmp(pname, "protocol") == 0) {
			if (ct->protocol[0] == '\0')
				sg_strlcpy(ct->protocol, pval, sizeof(ct->protocol));
		} else if (strcmp(pname, "smime-type") == 0) {
			if (ct->smime_type[0] == '\0')
				sg_strlcpy(ct->smime_type, pval, sizeof(ct->smime_type));
		} else if (strcmp(pname, "name") == 0) {
			if (ct->name[0] == '\0')
				sg_strlcpy(ct->name, pval, sizeof(ct->name));
		} else if (strcmp(pname, "forwarded") == 0) {
			if (ct->forwarded[0] == '\0')
				sg_strlcpy(ct->forwarded, pval, sizeof(ct->forwarded));
		}
	}
	if (t.comment)
		ambiguous(ct, "a comment in the Content-Type field");
	if (t.escape)
		ambiguous(ct, "a quoted-pair in a Content-Type parameter");
	if (t.truncated)
		ambiguous(ct, "an over-long Content-Type value");
}

bool sg_mime_boundary_valid(const char *b)
{
	size_t n = strlen(b), i;

	if (n == 0 || n > 70 || b[n - 1] == ' ')
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)b[i];

		if (!isalnum(c) && strchr("'()+_,-./:=? ", c) == NULL)
			return false;
	}
	return true;
}

enum sg_cte sg_mime_parse_cte(const struct sg_slice *value)
{
	struct tok t = { value->p, value->len, 0, false, false, false };
	char name[32];

	if (value->p == NULL)
		return SG_CTE_IDENTITY;
	if (!read_token(&t, name, sizeof(name), true))
		return SG_CTE_IDENTITY;
	if (strcmp(name, "base64") == 0)
		return SG_CTE_BASE64;
	if (strcmp(name, "quoted-printable") == 0)
		return SG_CTE_QP;
	if (strcmp(name, "7bit") == 0 || strcmp(name, "8bit") == 0 ||
	    strcmp(name, "binary") == 0)
		return SG_CTE_IDENTITY;
	return SG_CTE_UNKNOWN;
}

bool sg_mime_cte_ambiguous(const struct sg_slice *value)
{
	size_t i = 0, n;

	if (value->p == NULL)
		return false;
	n = value->len;
	while (i < n && (value->p[i] == ' ' || value->p[i] == '\t'))
		i++;
	while (n > i && (value->p[n - 1] == ' ' || value->p[n - 1] == '\t'))
		n--;
	if (i == n)
		return true;	/* empty: Python and Dovecot differ */
	for (; i < n; i++)
		if (!is_token_char(value->p[i]))
			return true;	/* folded, commented or two words */
	return false;
}

/*
 * delimiter_at - a line at pos starts with "--boundary": is it exactly a
 * delimiter or a close delimiter (with transport padding)?  Returns 1
 * (delimiter), 2 (close) or 0 (a stray line that prefix readers take for
 * a delimiter and whole-line readers do not).  *next_r is the start of
 * the next line.
 */
static int delimiter_at(const unsigned char *p, size_t len, size_t pos,
			size_t blen, size_t *next_r)
{
	size_t q = pos + 2 + blen;
	int kind = 1;

	if (q + 2 <= len && p[q] == '-' && p[q + 1] == '-') {
		kind = 2;
		q += 2;
	}
	while (q < len && (p[q] == ' ' || p[q] == '\t'))
		q++;	/* transport padding */
	if (q < len && p[q] == '\r' && q + 1 < len && p[q + 1] == '\n')
		q++;
	if (q < len && p[q] == '\n') {
		*next_r = q + 1;
		return kind;
	}
	if (q >= len) {
		*next_r = len;
		return kind;
	}
	*next_r = line_end(p, q, len);
	if (*next_r < len)
		(*next_r)++;
	return 0;
}

#ifdef HAVE_LF_SCAN_AVX2
/* find_delim_avx2 - memmem() for a delimiter, thirty-two positions at a
   time: a position is a candidate when its byte is the delimiter's first
   and the byte dlen - 1 further on its last; candidates are compared in
   order, so the first match is the leftmost.  Input made of near misses
   (every position a candidate that fails late) hands over to memmem(),
   which stays linear: at most 64 + 1/128 of the bytes read may fail. */
__attribute__((target("avx2")))
static const unsigned char *find_delim_avx2(const unsigned char *hay, size_t n,
					    const unsigned char *d, size_t dlen)
{
	const __m256i first = _mm256_set1_epi8((char)d[0]);
	const __m256i last = _mm256_set1_epi8((char)d[dlen - 1]);
	size_t i, misses = 0;

	for (i = 0; i + dlen - 1 + 32 <= n; i += 32) {
		__m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(hay + i));
		__m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(hay + i + dlen - 1));
		uint32_t m = (uint32_t)_mm256_movemask_epi8(
			_mm256_and_si256(_mm256_cmpeq_epi8(a, first),
					 _mm256_cmpeq_epi8(b, last)));

		while (m != 0) {
			size_t at = i + (size_t)__builtin_ctz(m);

			if (memcmp(hay + at + 1, d + 1, dlen - 2) == 0)
				return hay + at;
			if (++misses > 64 + i / 128)
				return memmem(hay + at + 1, n - at - 1, d, dlen);
			m &= m - 1;
		}
	}
	return memmem(hay + i, n - i, d, dlen);
}
#endif

/* sg_mime_find_delim - the first occurrence of d (dlen bytes) in hay,
   as memmem() finds it; NULL if none */
const unsigned char *sg_mime_find_delim(const unsigned char *hay, size_t n,
					const char *d, size_t dlen)
{
#ifdef HAVE_LF_SCAN_AVX2
	if (dlen >= 3 && n >= dlen - 1 + 32 && __builtin_cpu_supports("avx2"))
		return find_delim_avx2(hay, n, (const unsigned char *)d, dlen);
#endif
	return memmem(hay, n, d, dlen);
}

void sg_mime_split(const unsigned char *body, size_t len, const char *boundary,
		   struct sg_slice *parts, size_t max_parts, struct sg_split *sp)
{
	char delim[260];
	size_t blen = strlen(boundary), dlen, pos = 0, part_start = 0;
	size_t n = 0;
	bool in_part = false;

	memset(sp, 0, sizeof(*sp));
	sp->preamble.p = body;
	sp->preamble.len = len;
	if (blen == 0 || blen > sizeof(delim) - 3)
		return;
	delim[0] = '-';
	delim[1] = '-';
	memcpy(delim + 2, boundary, blen);
	dlen = blen + 2;
	while (pos < len) {
		const unsigned char *hit = sg_mime_find_delim(body + pos, len - pos,
							      delim, dlen);
		size_t at, next, end;
		int kind;

		if (hit == NULL)
			break;
		at = (size_t)(hit - body);
		pos = at + 1;
		if (at > 0 && body[at - 1] != '\n') {
			/* not at the start of a line, but OpenSSL's
			   SMIME_read_CMS reads lines in 1023-byte pieces: a
			   delimiter there starts a part for it alone */
			const unsigned char *nl = memrchr(body, '\n', at);
			size_t off = at - (nl != NULL ? (size_t)(nl - body) + 1 : 0);

			if (off % 1023 == 0)
				sp->stray++;
			continue;
		}
		kind = delimiter_at(body, len, at, blen, &next);
		if (kind == 0) {
			sp->stray++;
			pos = next;
			continue;
		}
		/* the line break before the delimiter belongs to it */
		end = at;
		if (end > part_start && body[end - 1] == '\n')
			end--;
		if (end > part_start && body[end - 1] == '\r')
			end--;
		if (in_part) {
			if (n < max_parts) {
				parts[n].p = body + part_start;
				parts[n].len = end - part_start;
			}
			n++;
		} else {
			sp->preamble.len = end;
		}
		if (kind == 2) {
			sp->closed = true;
			sp->epilogue.p = body + next;
			sp->epilogue.len = len - next;
			break;
		}
		in_part = true;
		part_start = next;
		pos = next;
	}
	if (in_part && !sp->closed) {
		/* no close delimiter: the last part runs to the end */
		if (n < max_parts) {
			parts[n].p = body + part_start;
			parts[n].len = len - part_start;
		}
		n++;
	}
	sp->n_parts = n;
}

int sg_mime_canon_crlf(const unsigned char *in, size_t len,
		       unsigned char **out_r, size_t *out_len_r)
{
	const unsigned char *p = in, *end = in + len, *nl;
	unsigned char *out, *o;
	struct sg_line_flags lf;
	size_t bare = 0;

	*out_r = NULL;
	*out_len_r = len;
	sg_mime_line_flags(in, len, &lf);
	if (!lf.bare_lf)
		return 0;	/* canonical already: no copy */
	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (nl == in || nl[-1] != '\r')
			bare++;
		p = nl + 1;
	}
	if (bare > SIZE_MAX - len || (out = malloc(len + bare)) == NULL)
		return -1;
	o = out;
	p = in;
	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		size_t n = (size_t)(nl - p);

		memcpy(o, p, n);
		o += n;
		if (nl == in || nl[-1] != '\r')
			*o++ = '\r';
		*o++ = '\n';
		p = nl + 1;
	}
	memcpy(o, p, (size_t)(end - p));
	o += end - p;
	*out_r = out;
	*out_len_r = (size_t)(o - out);
	return 0;
}
