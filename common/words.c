/* words.c - the words of every setting: list items and booleans
 *
 * One splitter and one set of boolean words for smimeguard.conf, the
 * ldap: map files and the policy maps, so that "a, b c" and yes/no mean
 * the same everywhere (Postfix main.cf: lists are separated by commas
 * and white space; booleans are yes or no, in any case).  A leaf of the
 * core: it calls nothing else of it.
 */
#include "sg-private.h"

#include <strings.h>

/* sg_list_next - the next item of a list value ("a, b c": commas and
   white space separate); false at the end */
bool sg_list_next(const char **cursor, const char **item_r, size_t *len_r)
{
	const char *p = *cursor;

	if (p == NULL)
		return false;
	p += strspn(p, ", \t\r\n");
	*len_r = strcspn(p, ", \t\r\n");
	*item_r = p;
	*cursor = p + *len_r;
	return *len_r > 0;
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
