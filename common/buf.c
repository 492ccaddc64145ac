/* buf.c - growable byte buffer with overflow-checked growth */
#include "sg-base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* sg_buf_reserve - make room for extra more bytes (+1 for a NUL) */
int sg_buf_reserve(struct sg_buf *buf, size_t extra)
{
	size_t need, size;
	unsigned char *p;

	if (extra > SIZE_MAX - buf->used - 1)
		return -1;
	need = buf->used + extra + 1;
	if (need <= buf->size)
		return 0;
	size = buf->size < 256 ? 256 : buf->size;
	while (size < need) {
		if (size > SIZE_MAX / 2)
			return -1;
		size *= 2;
	}
	p = realloc(buf->data, size);
	if (p == NULL)
		return -1;
	buf->data = p;
	buf->size = size;
	return 0;
}

int sg_buf_append(struct sg_buf *buf, const void *data, size_t len)
{
	if (sg_buf_reserve(buf, len) < 0)
		return -1;
	if (len > 0)
		memcpy(buf->data + buf->used, data, len);
	buf->used += len;
	buf->data[buf->used] = '\0';
	return 0;
}

int sg_buf_append_str(struct sg_buf *buf, const char *str)
{
	return sg_buf_append(buf, str, strlen(str));
}

int sg_buf_printf(struct sg_buf *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || sg_buf_reserve(buf, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf((char *)buf->data + buf->used, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf->used += (size_t)n;
	return 0;
}

int sg_buf_terminate(struct sg_buf *buf)
{
	if (sg_buf_reserve(buf, 0) < 0)
		return -1;
	buf->data[buf->used] = '\0';
	return 0;
}

void sg_buf_free(struct sg_buf *buf)
{
	free(buf->data);
	buf->data = NULL;
	buf->used = buf->size = 0;
}

char *sg_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size == 0)
		return dst;
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return dst;
}
