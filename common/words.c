/* words.c - the words of every setting: logical lines, list items and
 * booleans
 *
 * One reader of logical lines, one splitter and one set of boolean
 * words for smimeguard.conf, the ldap: map files and the policy maps, so
 * that a continued line, "a, b c" and yes/no mean the same everywhere
 * (Postfix main.cf: lists are separated by commas and white space, and
 * "{ ... }" keeps what it encloses in one item, as in
 * inline:{ a=b, c=d }; booleans are yes or no, in any case).  A leaf of
 * the core: it calls nothing else of it.
 */
#include "sg-base.h"

#include <ctype.h>
#include <strings.h>

#define LIST_SEPARATORS ", \t\r\n"

/* sg_list_next - the next item of a list value ("a, b c": commas and
   white space separate, except inside braces: "x:{ a, b }" is one item,
   as Postfix's mystrtokq() reads lists; an unclosed brace runs to the
   end); false at the end */
bool sg_list_next(const char **cursor, const char **item_r, size_t *len_r)
{
	const char *p = *cursor;
	size_t len = 0, depth = 0;

	if (p == NULL)
		return false;
	p += strspn(p, LIST_SEPARATORS);
	for (; p[len] != '\0'; len++) {
		if (p[len] == '{')
			depth++;
		else if (p[len] == '}' && depth > 0)
			depth--;
		else if (depth == 0 && strchr(LIST_SEPARATORS, p[len]) != NULL)
			break;
	}
	*len_r = len;
	*item_r = p;
	*cursor = p + len;
	return len > 0;
}

/* sg_list_copy_next - sg_list_next() into item (size bytes), whole
   items only: *long_r when one did not fit (it is cut) */
bool sg_list_copy_next(const char **cursor, char *item, size_t size,
		       bool *long_r)
{
	const char *it;
	size_t len;

	sg_assert(size > 0);
	*long_r = false;
	if (!sg_list_next(cursor, &it, &len))
		return false;
	if (len >= size) {
		*long_r = true;
		len = size - 1;
	}
	memcpy(item, it, len);
	item[len] = '\0';
	return true;
}

/* sg_trim - s without the white space around it (cut in place) */
char *sg_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* sg_conf_bool - "yes" or "no", in any case (Postfix main.cf); 0 and
   *b_r, or -1 for any other word */
int sg_conf_bool(const char *word, bool *b_r)
{
	if (word == NULL)
		return -1;
	if (strcasecmp(word, "yes") == 0)
		*b_r = true;
	else if (strcasecmp(word, "no") == 0)
		*b_r = false;
	else
		return -1;
	return 0;
}

/* sg_conf_lines - see sg-base.h */
int sg_conf_lines(char *text, const char *where,
		  int (*fn)(void *context, char *line, unsigned int lineno,
			    struct sg_error *err_r),
		  void *context, struct sg_error *err_r)
{
	char *p = text, *out = text, *logical = NULL;
	unsigned int lineno = 0, logical_line = 0;

	while (*p != '\0') {
		size_t len = strcspn(p, "\n");
		char *line = p, *s, *end;

		p += len + (p[len] == '\n');
		lineno++;
		end = line + len;
		while (end > line && isspace((unsigned char)end[-1]))
			end--;			/* CR, trailing blanks */
		s = line + strspn(line, " \t");
		if (s >= end || *s == '#')
			continue;		/* blank lines end nothing */
		if (s != line) {
			if (logical == NULL) {
				sg_error_set(err_r, SG_ERR_CONFIG,
					     "%.160s, line %u: continuation line without a setting",
					     where, lineno);
				return -1;
			}
			out[-1] = ' ';		/* the previous NUL */
		} else {
			if (logical != NULL &&
			    fn(context, logical, logical_line, err_r) < 0)
				return -1;
			logical = out;
			logical_line = lineno;
		}
		/* out never passes s: at least a newline lies between */
		memmove(out, s, (size_t)(end - s));
		out += end - s;
		*out++ = '\0';
	}
	if (logical != NULL && fn(context, logical, logical_line, err_r) < 0)
		return -1;
	return 0;
}
