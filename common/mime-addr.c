/* mime-addr.c - count the mailboxes of From/Sender and extract the addr-spec
 *
 * RFC 5322 address-list with quoted strings, comments, angle addresses,
 * obsolete routes and groups.  RFC 2047 encoded words in display names are
 * atoms and never reach the addr-spec; the display name never counts.
 */
#include "sg-private.h"

#include <string.h>

struct mbox_state {
	char plain[320];	/* addr-spec outside <> (CFWS removed) */
	size_t plain_len;
	char angle[320];	/* inside <> */
	size_t angle_len;
	bool had_angle;
	bool plain_space;	/* whitespace between atoms outside <> */
	bool plain_after_space;
	unsigned int count;
	char *first;
	size_t first_size;
};

static void put(char *buf, size_t *len, size_t size, char c)
{
	if (*len + 1 < size)
		buf[(*len)++] = c;
}

/* finish_mailbox - end of one mailbox: count it, keep the first */
static void finish_mailbox(struct mbox_state *s)
{
	const char *addr = NULL;
	char *colon;

	s->plain[s->plain_len] = '\0';
	s->angle[s->angle_len] = '\0';
	if (s->had_angle) {
		/* strip an obsolete route "@a,@b:" */
		colon = strchr(s->angle, ':');
		addr = colon != NULL && s->angle[0] == '@' ? colon + 1 : s->angle;
	} else if (s->plain_len > 0) {
		addr = s->plain;
		if (s->plain_space)
			addr = "";	/* "John Smith" with no <>: no address */
	}
	if (addr != NULL) {
		if (s->count == 0 && s->first_size > 0)
			sg_strlcpy(s->first, addr, s->first_size);
		s->count++;
	}
	s->plain_len = s->angle_len = 0;
	s->had_angle = s->plain_space = s->plain_after_space = false;
}

unsigned int sg_mime_parse_mailboxes(const struct sg_slice *value,
				     char *addr, size_t addr_size)
{
	struct mbox_state s;
	const unsigned char *p = value->p;
	size_t i, len = value->len;
	int comment = 0;
	bool in_quote = false, in_angle = false;

	memset(&s, 0, sizeof(s));
	s.first = addr;
	s.first_size = addr_size;
	if (addr_size > 0)
		addr[0] = '\0';
	if (p == NULL)
		return 0;
	for (i = 0; i < len; i++) {
		char c = (char)p[i];

		if (comment > 0) {
			if (c == '\\')
				i++;
			else if (c == '(')
				comment++;
			else if (c == ')')
				comment--;
			continue;
		}
		if (in_quote) {
			if (c == '\\' && i + 1 < len) {
				c = (char)p[++i];
			} else if (c == '"') {
				in_quote = false;
			}
			if (in_angle)
				put(s.angle, &s.angle_len, sizeof(s.angle), c);
			else if (in_quote || c != '"')
				put(s.plain, &s.plain_len, sizeof(s.plain), c);
			else
				put(s.plain, &s.plain_len, sizeof(s.plain), '"');
			continue;
		}
		switch (c) {
		case '(':
			comment = 1;
			continue;
		case '"':
			in_quote = true;
			if (in_angle)
				put(s.angle, &s.angle_len, sizeof(s.angle), c);
			else
				put(s.plain, &s.plain_len, sizeof(s.plain), c);
			continue;
		case '<':
			if (!in_angle) {
				in_angle = true;
				s.had_angle = true;
				s.angle_len = 0;
			}
			continue;
		case '>':
			in_angle = false;
			continue;
		case ' ': case '\t': case '\r': case '\n':
			if (!in_angle && s.plain_len > 0)
				s.plain_after_space = true;
			continue;
		case ',':
			if (in_angle) {
				put(s.angle, &s.angle_len, sizeof(s.angle), c);
				continue;
			}
			finish_mailbox(&s);
			continue;
		case ':':
			if (in_angle) {
				put(s.angle, &s.angle_len, sizeof(s.angle), c);
				continue;
			}
			/* group: what came before is the group's name */
			s.plain_len = 0;
			s.plain_space = s.plain_after_space = false;
			continue;
		case ';':
			if (!in_angle)
				finish_mailbox(&s);
			continue;
		default:
			if (in_angle) {
				put(s.angle, &s.angle_len, sizeof(s.angle), c);
			} else {
				if (s.plain_after_space && c != '@' && c != '.' &&
				    s.plain_len > 0 &&
				    s.plain[s.plain_len - 1] != '@' &&
				    s.plain[s.plain_len - 1] != '.')
					s.plain_space = true;
				s.plain_after_space = false;
				put(s.plain, &s.plain_len, sizeof(s.plain), c);
			}
		}
	}
	finish_mailbox(&s);
	return s.count;
}
