/* mime.c - MIME walking over raw bytes: headers, Content-Type, multipart
 *
 * Everything works on slices of the caller's buffer; nothing copies the
 * message except sg_mime_canon_crlf() when the input has bare LFs.
 * Input may use CRLF or LF line endings.
 */
#include "sg-private.h"

#include <ctype.h>
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

void sg_mime_parse_headers(const unsigned char *p, size_t len,
			   struct sg_headers *h)
{
	size_t pos = 0;

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
			return;
		}
		/* gather continuation lines */
		pos = eol < len ? eol + 1 : len;
		while (pos < len && (p[pos] == ' ' || p[pos] == '\t')) {
			eol = line_end(p, pos, len);
			pos = eol < len ? eol + 1 : len;
		}
		h->n_fields++;
		if (p[field_start] == ' ' || p[field_start] == '\t')
			continue;	/* stray continuation at the start */
		for (colon = field_start; colon < pos && p[colon] != ':' &&
		     p[colon] != '\n'; colon++)
			;
		if (colon >= pos || p[colon] != ':')
			continue;	/* not a header field: ignore */
		name_end = colon;
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
		} else if (name_is(p + field_start, name_end - field_start,
				   "content-transfer-encoding")) {
			if (h->cte.p == NULL)
				h->cte = value;
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
}

/* ---- Content-Type tokenizer (RFC 2045 with RFC 822 comments) ---- */

struct tok {
	const unsigned char *p;
	size_t len, pos;
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

/* read_token - a token into buf (truncated), false when none */
static bool read_token(struct tok *t, char *buf, size_t size, bool lower)
{
	size_t n = 0;

	skip_cfws(t);
	while (t->pos < t->len) {
		unsigned char c = t->p[t->pos];

		if (c <= ' ' || c >= 0x7f || is_tspecial(c))
			break;
		if (n + 1 < size)
			buf[n++] = lower ? (char)tolower(c) : (char)c;
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

			if (c == '\\' && t->pos + 1 < t->len)
				c = t->p[++t->pos];
			if (c != '\r' && c != '\n' && n + 1 < size)
				buf[n++] = lower ? (char)tolower(c) : (char)c;
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

void sg_mime_parse_ctype(const struct sg_slice *value, struct sg_ctype *ct)
{
	struct tok t = { value->p, value->len, 0 };
	char pname[64], pval[256];

	memset(ct, 0, sizeof(*ct));
	if (value->p == NULL) {
		strcpy(ct->type, "text");
		strcpy(ct->subtype, "plain");
		return;
	}
	if (!read_token(&t, ct->type, sizeof(ct->type), true) ||
	    !expect(&t, '/') ||
	    !read_token(&t, ct->subtype, sizeof(ct->subtype), true)) {
		/* RFC 2045 5.2: an invalid Content-Type means text/plain */
		memset(ct, 0, sizeof(*ct));
		strcpy(ct->type, "text");
		strcpy(ct->subtype, "plain");
		ct->malformed = true;
		return;
	}
	while (expect(&t, ';')) {
		bool lower;

		if (!read_token(&t, pname, sizeof(pname), true))
			continue;	/* empty parameter: "a/b; ;c=d" */
		if (!expect(&t, '=')) {
			ct->malformed = true;
			break;
		}
		lower = strcmp(pname, "boundary") != 0 &&
			strcmp(pname, "name") != 0;
		if (!read_value(&t, pval, sizeof(pval), lower)) {
			ct->malformed = true;
			break;
		}
		if (strcmp(pname, "boundary") == 0)
			sg_strlcpy(ct->boundary, pval, sizeof(ct->boundary));
		else if (strcmp(pname, "protocol") == 0)
			sg_strlcpy(ct->protocol, pval, sizeof(ct->protocol));
		else if (strcmp(pname, "smime-type") == 0)
			sg_strlcpy(ct->smime_type, pval, sizeof(ct->smime_type));
		else if (strcmp(pname, "name") == 0)
			sg_strlcpy(ct->name, pval, sizeof(ct->name));
		else if (strcmp(pname, "forwarded") == 0)
			sg_strlcpy(ct->forwarded, pval, sizeof(ct->forwarded));
	}
}

enum sg_cte sg_mime_parse_cte(const struct sg_slice *value)
{
	struct tok t = { value->p, value->len, 0 };
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

/*
 * is_delimiter - does a delimiter line "--boundary[--]" start at pos?
 * Sets *close_r and *next_r (start of the line after it).
 */
static bool is_delimiter(const unsigned char *p, size_t len, size_t pos,
			 size_t blen, bool *close_r, size_t *next_r)
{
	size_t q = pos + 2 + blen;

	*close_r = false;
	if (q + 2 <= len && p[q] == '-' && p[q + 1] == '-') {
		*close_r = true;
		q += 2;
	}
	while (q < len && (p[q] == ' ' || p[q] == '\t'))
		q++;	/* transport padding */
	if (q < len && p[q] == '\r')
		q++;
	if (q < len && p[q] == '\n') {
		*next_r = q + 1;
		return true;
	}
	if (q >= len) {
		*next_r = len;
		return true;
	}
	/* a close delimiter may be followed by anything on its line */
	if (*close_r) {
		*next_r = line_end(p, q, len);
		if (*next_r < len)
			(*next_r)++;
		return true;
	}
	return false;
}

void sg_mime_split(const unsigned char *body, size_t len, const char *boundary,
		   struct sg_slice *parts, size_t max_parts, size_t *n_parts_r,
		   bool *closed_r)
{
	char delim[260];
	size_t blen = strlen(boundary), dlen, pos = 0, part_start = 0;
	size_t n = 0;
	bool in_part = false;

	*n_parts_r = 0;
	*closed_r = false;
	if (blen == 0 || blen > sizeof(delim) - 3)
		return;
	delim[0] = '-';
	delim[1] = '-';
	memcpy(delim + 2, boundary, blen);
	dlen = blen + 2;
	while (pos < len) {
		const unsigned char *hit = memmem(body + pos, len - pos, delim, dlen);
		size_t at, next;
		bool close;

		if (hit == NULL)
			break;
		at = (size_t)(hit - body);
		pos = at + 1;
		if (at > 0 && body[at - 1] != '\n')
			continue;	/* not at the start of a line */
		if (!is_delimiter(body, len, at, blen, &close, &next))
			continue;
		if (in_part) {
			/* the line break before the delimiter belongs to it */
			size_t end = at;

			if (end > part_start && body[end - 1] == '\n')
				end--;
			if (end > part_start && body[end - 1] == '\r')
				end--;
			if (n < max_parts) {
				parts[n].p = body + part_start;
				parts[n].len = end - part_start;
			}
			n++;
		}
		if (close) {
			*closed_r = true;
			break;
		}
		in_part = true;
		part_start = next;
		pos = next;
	}
	if (in_part && !*closed_r) {
		/* no close delimiter: the last part runs to the end */
		if (n < max_parts) {
			parts[n].p = body + part_start;
			parts[n].len = len - part_start;
		}
		n++;
	}
	*n_parts_r = n;
}

int sg_mime_canon_crlf(const unsigned char *in, size_t len,
		       unsigned char **out_r, size_t *out_len_r)
{
	const unsigned char *p = in, *end = in + len, *nl;
	size_t bare = 0;
	unsigned char *out, *o;

	*out_r = NULL;
	*out_len_r = len;
	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (nl == in || nl[-1] != '\r')
			bare++;
		p = nl + 1;
	}
	if (bare == 0)
		return 0;
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
