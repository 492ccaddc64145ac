/* mime-addr.c - the one mailbox of a From (or Sender) field, read strictly
 *
 * Readers disagree about anything but the plainest forms: for
 * "alice@example.org <carol@example.org>" Dovecot's ENVELOPE and Python's
 * policy.default name alice, Thunderbird names carol, older Python both
 * (doc/DESIGN.md 3.11).  So a value is accepted only when it is, after
 * unfolding,
 *
 *	addr-spec  |  [phrase] "<" addr-spec ">"
 *
 * with a dot-atom local part, a domain of two or more LDH labels, no
 * comments, groups, routes, literals or quoted-pairs, and a display name
 * that, decoded (RFC 2047) and unquoted, holds no '@', '<', '>' (or their
 * Unicode look-alikes) and no control character: what a client shows in
 * place of the address cannot name another one.  Everything else is a
 * list (two mailboxes or a group) or ambiguous, and binds no signer.
 */
#include "mime-private.h"
#include "sg-base.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define FROM_MAX 2048		/* unfolded value */

static bool is_atext(unsigned char c)
{
	return isalnum(c) || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* unfold - copy value without its folds; false on a CR or LF that is not
   part of a fold, another control character, or an over-long value */
static bool unfold(const struct sg_slice *v, char *out, size_t *len_r)
{
	size_t i, n = 0;

	for (i = 0; i < v->len; i++) {
		unsigned char c = v->p[i];

		if (c == '\r' || c == '\n') {
			if (c == '\r' && (i + 1 >= v->len || v->p[i + 1] != '\n'))
				return false;
			if (c == '\r')
				i++;
			/* a fold is a line break followed by WSP */
			if (i + 1 >= v->len ||
			    (v->p[i + 1] != ' ' && v->p[i + 1] != '\t'))
				return false;
			continue;
		}
		if ((c < ' ' && c != '\t') || c == 0x7f)
			return false;
		if (n + 1 >= FROM_MAX)
			return false;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	*len_r = n;
	return true;
}

/* lookalike - a UTF-8 sequence at s that renders like '@', '<' or '>' */
static bool lookalike(const unsigned char *s, size_t len)
{
	static const unsigned char seqs[][3] = {
		{ 0xef, 0xbc, 0xa0 },	/* U+FF20 FULLWIDTH COMMERCIAL AT */
		{ 0xef, 0xb9, 0xab },	/* U+FE6B SMALL COMMERCIAL AT */
		{ 0xef, 0xbc, 0x9c },	/* U+FF1C FULLWIDTH LESS-THAN */
		{ 0xef, 0xbc, 0x9e },	/* U+FF1E FULLWIDTH GREATER-THAN */
		{ 0xef, 0xb9, 0xa4 },	/* U+FE64 SMALL LESS-THAN */
		{ 0xef, 0xb9, 0xa5 },	/* U+FE65 SMALL GREATER-THAN */
		{ 0xe2, 0x80, 0xb9 },	/* U+2039 SINGLE LEFT ANGLE QUOTE */
		{ 0xe2, 0x80, 0xba },	/* U+203A SINGLE RIGHT ANGLE QUOTE */
		{ 0xe2, 0x8c, 0xa9 },	/* U+2329 LEFT-POINTING ANGLE BRACKET */
		{ 0xe2, 0x8c, 0xaa },	/* U+232A RIGHT-POINTING ANGLE BRACKET */
		{ 0xe3, 0x80, 0x88 },	/* U+3008 LEFT ANGLE BRACKET */
		{ 0xe3, 0x80, 0x89 },	/* U+3009 RIGHT ANGLE BRACKET */
	};
	size_t i;

	/* C1 controls (U+0080..U+009F: NEL, CSI) reorder or break lines */
	if (len >= 2 && s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f)
		return true;
	if (len < 3)
		return false;
	/* bidi marks, embeddings, overrides and isolates, line and
	   paragraph separators: they change what a reader sees where */
	if (s[0] == 0xe2 && s[1] == 0x80 &&
	    ((s[2] >= 0x8e && s[2] <= 0x8f) || (s[2] >= 0xa8 && s[2] <= 0xae)))
		return true;
	if (s[0] == 0xe2 && s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9)
		return true;
	for (i = 0; i < SG_ARRAY_SIZE(seqs); i++)
		if (memcmp(s, seqs[i], 3) == 0)
			return true;
	return false;
}

/* shown_text_ok - display-name text as a client shows it */
static bool shown_text_ok(const unsigned char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == '@' || s[i] == '<' || s[i] == '>' ||
		    s[i] < ' ' || s[i] == 0x7f)
			return false;
		if (s[i] >= 0x80 && lookalike(s + i, len - i))
			return false;
	}
	return true;
}

/* shown_ascii_ok - decoded single-byte text: its ASCII part as above
   (bytes >= 0xA0 are letters and signs of that charset) */
static bool shown_ascii_ok(const unsigned char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] == '@' || s[i] == '<' || s[i] == '>' || s[i] < ' ' ||
		    s[i] == 0x7f)
			return false;
	return true;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* charset_checkable - a charset whose bytes this check reads right:
   ASCII-compatible, '@', '<' and '>' only as themselves (or as the UTF-8
   look-alikes checked).  UTF-7 writes '@' as "+AEA-", Shift_JIS, GBK,
   EUC-* and Big5 have their own full-width '@': a display name in them
   cannot be checked, so it is refused (an RFC 2231 language tag is
   allowed: "utf-8*en") */
static bool charset_checkable(const char *cs, size_t len)
{
	static const char *const ok[] = {
		"us-ascii", "utf-8", "iso-8859-1", "iso-8859-2", "iso-8859-3",
		"iso-8859-4", "iso-8859-5", "iso-8859-6", "iso-8859-7",
		"iso-8859-8", "iso-8859-9", "iso-8859-10", "iso-8859-13",
		"iso-8859-14", "iso-8859-15", "iso-8859-16", "windows-1250",
		"windows-1251", "windows-1252", "windows-1253", "windows-1254",
		"windows-1255", "windows-1256", "windows-1257", "windows-1258",
		"koi8-r", "koi8-u",
	};
	const char *star = memchr(cs, '*', len);
	size_t i;

	if (star != NULL)
		len = (size_t)(star - cs);
	for (i = 0; i < SG_ARRAY_SIZE(ok); i++)
		if (strlen(ok[i]) == len && strncasecmp(cs, ok[i], len) == 0)
			return true;
	return false;
}

/* encoded_word_ok - decode one RFC 2047 word "=?cs?e?text?=" and check
   what it shows; false when it is not a valid encoded word */
static bool encoded_word_ok(const char *w, size_t len)
{
	unsigned char out[FROM_MAX];
	const char *q1, *q2, *text, *end;
	size_t n = 0, i, olen;
	bool single_byte;
	char enc;

	if (len < 8 || memcmp(w, "=?", 2) != 0 || memcmp(w + len - 2, "?=", 2) != 0)
		return false;
	end = w + len - 2;
	if ((q1 = memchr(w + 2, '?', (size_t)(end - w - 2))) == NULL ||
	    q1 + 2 >= end || q1[2] != '?')
		return false;
	if (!charset_checkable(w + 2, (size_t)(q1 - w - 2)))
		return false;
	single_byte = !(q1 - w - 2 >= 5 && strncasecmp(w + 2, "utf-8", 5) == 0) &&
		      !(q1 - w - 2 >= 8 && strncasecmp(w + 2, "us-ascii", 8) == 0);
	enc = (char)tolower((unsigned char)q1[1]);
	text = q1 + 3;
	q2 = memchr(text, '?', (size_t)(end - text));
	if (q2 != NULL)
		return false;	/* '?' inside the text */
	if (enc == 'q') {
		for (i = 0; text + i < end; i++) {
			unsigned char c = (unsigned char)text[i];

			if (c == '_') {
				c = ' ';
			} else if (c == '=') {
				int hi, lo;

				if (text + i + 2 >= end)
					return false;
				hi = hexval((unsigned char)text[i + 1]);
				lo = hexval((unsigned char)text[i + 2]);
				if (hi < 0 || lo < 0)
					return false;
				c = (unsigned char)(hi << 4 | lo);
				i += 2;
			}
			out[n++] = c;
		}
		olen = n;
	} else if (enc == 'b') {
		if (sg_b64_decode((const unsigned char *)text,
				  (size_t)(end - text), out, &olen) < 0)
			return false;
	} else {
		return false;
	}
	/* ISO 8859 and windows-125x: 0x80..0x9F are C1 controls, or (in
	   windows-1252) the angle quotes U+2039/U+203A */
	for (i = 0; single_byte && i < olen; i++)
		if (out[i] >= 0x80 && out[i] <= 0x9f)
			return false;
	return single_byte ? shown_ascii_ok(out, olen) : shown_text_ok(out, olen);
}

/* phrase_ok - a display name: atoms (with '.' and 8-bit text) and
   quoted-strings separated by WSP; encoded words are decoded and checked */
static bool phrase_ok(const char *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		if (p[i] == ' ' || p[i] == '\t') {
			i++;
		} else if (p[i] == '"') {
			size_t start = ++i;

			while (i < len && p[i] != '"') {
				if (p[i] == '\\')
					return false;	/* no quoted-pairs */
				i++;
			}
			if (i >= len)
				return false;
			if (!shown_text_ok((const unsigned char *)p + start, i - start))
				return false;
			/* an encoded word inside quotes is not decoded by
			   RFC 2047, but some clients do */
			if (memmem(p + start, i - start, "=?", 2) != NULL)
				return false;
			i++;
		} else {
			size_t start = i;

			while (i < len && p[i] != ' ' && p[i] != '\t' &&
			       p[i] != '"') {
				unsigned char c = (unsigned char)p[i];

				if (!is_atext(c) && c != '.' && c < 0x80)
					return false;
				i++;
			}
			if (i - start >= 2 && memcmp(p + start, "=?", 2) == 0) {
				if (!encoded_word_ok(p + start, i - start))
					return false;
			} else if (memmem(p + start, i - start, "=?", 2) != NULL) {
				/* an encoded word glued to other text: not one
				   by RFC 2047, but lenient readers decode it */
				return false;
			} else if (!shown_text_ok((const unsigned char *)p + start,
						  i - start)) {
				return false;
			}
		}
	}
	return true;
}

/* addr_spec_ok - dot-atom "@" LDH domain of two or more labels */
static bool addr_spec_ok(const char *p, size_t len)
{
	const char *at = memchr(p, '@', len);
	size_t i, llen, labels = 0, label_len = 0;

	if (at == NULL || at == p || memmem(p, len, "=?", 2) != NULL)
		return false;	/* "=?" : lenient readers decode it */
	llen = (size_t)(at - p);
	for (i = 0; i < llen; i++) {
		if (p[i] == '.') {
			if (i == 0 || i + 1 == llen || p[i - 1] == '.')
				return false;
		} else if (!is_atext((unsigned char)p[i])) {
			return false;
		}
	}
	for (i = llen + 1; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '.') {
			if (label_len == 0 || p[i - 1] == '-')
				return false;
			labels++;
			label_len = 0;
		} else if (isalnum(c) || (c == '-' && label_len > 0)) {
			label_len++;
			if (label_len > 63)
				return false;
		} else {
			return false;
		}
	}
	if (label_len == 0 || p[len - 1] == '-')
		return false;	/* empty or trailing dot */
	return labels + 1 >= 2;
}

/* first_unquoted - the index of the first of chars outside quoted
   strings (and, with angles, outside <...>), or len */
static size_t first_unquoted(const char *p, size_t len, const char *chars,
			     bool angles)
{
	bool quoted = false;
	int angle = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (quoted) {
			if (p[i] == '"')
				quoted = false;
		} else if (p[i] == '"') {
			quoted = true;
		} else if (angles && p[i] == '<') {
			angle++;
		} else if (angles && p[i] == '>') {
			angle--;
		} else if (angle == 0 && strchr(chars, p[i]) != NULL) {
			return i;
		}
	}
	return len;
}

enum sg_from sg_mime_parse_from(const struct sg_slice *value, char *addr,
				size_t addr_size, const char **why_r)
{
	char buf[FROM_MAX];
	const char *p, *lt, *gt, *spec;
	size_t len, spec_len, i;

	*why_r = NULL;
	if (addr_size > 0)
		addr[0] = '\0';
	if (value->p == NULL)
		return SG_FROM_EMPTY;
	if (!unfold(value, buf, &len)) {
		*why_r = "a control character, a line break that is not a fold, or over-long";
		return SG_FROM_AMBIGUOUS;
	}
	p = buf;
	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	if (len == 0)
		return SG_FROM_EMPTY;
	if (first_unquoted(p, len, ",:;", true) < len) {
		*why_r = "more than one mailbox or a group";
		return SG_FROM_LIST;
	}
	/* the first '<' outside a quoted string */
	i = first_unquoted(p, len, "<", false);
	lt = i < len ? p + i : NULL;
	if (lt == NULL) {
		spec = p;
		spec_len = len;
	} else {
		gt = memchr(lt, '>', len - (size_t)(lt - p));
		if (gt == NULL || gt != p + len - 1) {
			*why_r = "text after the angle address, or a second one";
			return SG_FROM_AMBIGUOUS;
		}
		if (!phrase_ok(p, (size_t)(lt - p))) {
			*why_r = "a display name that is not a plain phrase, or that shows an address";
			return SG_FROM_AMBIGUOUS;
		}
		spec = lt + 1;
		spec_len = (size_t)(gt - spec);
	}
	if (!addr_spec_ok(spec, spec_len)) {
		*why_r = "an address that is not a plain dot-atom addr-spec (comments, quoting, routes, literals)";
		return SG_FROM_AMBIGUOUS;
	}
	if (spec_len >= addr_size) {
		*why_r = "an over-long address";
		return SG_FROM_AMBIGUOUS;
	}
	memcpy(addr, spec, spec_len);
	addr[spec_len] = '\0';
	return SG_FROM_OK;
}
