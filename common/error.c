/* error.c - struct sg_error helpers and OpenSSL error draining */
#include "sg-base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

void sg_error_clear(struct sg_error *err)
{
	if (err == NULL)
		return;
	err->code = SG_ERR_NONE;
	err->msg[0] = '\0';
}

static void sg_error_vset(struct sg_error *err, enum sg_error_code code,
			  const char *fmt, va_list ap)
{
	char *p;

	err->code = code;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	/* keep the message printable: it may quote untrusted text */
	for (p = err->msg; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	}
}

/* sg_text_sanitize - make text from a message, a certificate or a
   directory safe to print on a terminal or in a log: C0 and C1 control
   characters and DEL become '?', and so do the Unicode bidirectional
   overrides and isolates (which reorder what a reader sees) */
void sg_text_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;

	for (; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			*p = '?';
		} else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			p[0] = p[1] = '?';	/* U+0080..U+009F (CSI is U+009B) */
			p++;
		} else if (p[0] == 0xe2 && p[1] != '\0' &&
			   ((p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae) ||
			    (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9))) {
			p[0] = p[1] = p[2] = '?';	/* U+202A..E, U+2066..9 */
			p += 2;
		}
	}
}

/* sg_error_set - fill err (NULL-safe) */
void sg_error_set(struct sg_error *err, enum sg_error_code code,
		  const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	sg_error_vset(err, code, fmt, ap);
	va_end(ap);
}

/* sg_openssl_errors - drain the thread's OpenSSL error queue into buf */
void sg_openssl_errors(char *buf, size_t size)
{
	unsigned long e;
	size_t used = 0;

	if (buf != NULL && size > 0)
		buf[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		char one[160];

		if (buf == NULL || used + 3 >= size)
			continue;
		ERR_error_string_n(e, one, sizeof(one));
		used += (size_t)snprintf(buf + used, size - used, "%s%s",
					 used > 0 ? "; " : "", one);
		if (used >= size)
			used = size - 1;
	}
}

/* sg_error_set_openssl - fill err and append OpenSSL's reasons */
void sg_error_set_openssl(struct sg_error *err, enum sg_error_code code,
			  const char *fmt, ...)
{
	char ossl[160];
	size_t len;
	va_list ap;

	sg_openssl_errors(ossl, sizeof(ossl));
	if (err == NULL)
		return;
	va_start(ap, fmt);
	sg_error_vset(err, code, fmt, ap);
	va_end(ap);
	len = strlen(err->msg);
	if (ossl[0] != '\0' && len + 3 < sizeof(err->msg))
		snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", ossl);
}
