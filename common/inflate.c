/* inflate.c - CMS CompressedData (RFC 3274) with zlib
 *
 * Debian's OpenSSL 3 is built without zlib, so CMS_uncompress() cannot
 * open compressed-data.  The layer is only a zlib stream inside the
 * eContent; inflate it here, bounded by the message size limit.
 */
#include "cms-private.h"
#include "sg-base.h"

#include <stdlib.h>
#include <zlib.h>

int sg_inflate(const unsigned char *in, size_t len, size_t max_out,
	       unsigned char **out_r, size_t *out_len_r)
{
	z_stream zs = { 0 };
	unsigned char *out = NULL, *p;
	size_t size = len * 4 + 1024;
	int zr, ret = -1;

	*out_r = NULL;
	if (len > UINT_MAX)
		return -2;
	if (size > max_out + 1)
		size = max_out + 1;
	if (inflateInit(&zs) != Z_OK)
		return -3;
	if ((out = malloc(size)) == NULL) {
		ret = -3;
		goto out;
	}
	zs.next_in = (unsigned char *)in;
	zs.avail_in = (unsigned int)len;
	for (;;) {
		if (zs.total_out == size) {
			if (size > max_out) {
				ret = -2;
				goto out;
			}
			size = size * 2 > max_out + 1 ? max_out + 1 : size * 2;
			if ((p = realloc(out, size)) == NULL) {
				ret = -3;
				goto out;
			}
			out = p;
		}
		zs.next_out = out + zs.total_out;
		zs.avail_out = (unsigned int)(size - zs.total_out);
		zr = inflate(&zs, Z_NO_FLUSH);
		if (zr == Z_STREAM_END)
			break;
		if (zr != Z_OK && zr != Z_BUF_ERROR)
			goto out;	/* corrupt */
		if (zr == Z_BUF_ERROR && zs.avail_in == 0 && zs.avail_out > 0)
			goto out;	/* truncated */
	}
	if (zs.total_out > max_out) {
		ret = -2;
		goto out;
	}
	*out_r = out;
	*out_len_r = zs.total_out;
	out = NULL;
	ret = 0;
out:
	inflateEnd(&zs);
	free(out);
	return ret;
}
