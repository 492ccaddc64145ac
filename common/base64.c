/* base64.c - a tolerant base64 decoder for MIME bodies
 *
 * Skips whitespace and line breaks (RFC 2045 6.8), stops at padding,
 * and refuses any other character.  One table lookup per byte.
 */
#include "sg-base.h"

static const signed char b64[256] = {
#define X -1
#define W -2
	X, X, X, X, X, X, X, X, X, W, W, X, X, W, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	W, X, X, X, X, X, X, X, X, X, X, 62, X, X, X, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, -3, X, X,
	X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, X,
	X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
#undef X
#undef W
};

int sg_b64_decode(const unsigned char *in, size_t len, unsigned char *out,
		  size_t *out_len_r)
{
	uint32_t acc = 0;
	unsigned int n = 0;
	size_t i, o = 0;
	bool pad = false;

	for (i = 0; i < len; i++) {
		signed char v = b64[in[i]];

		if (v >= 0) {
			if (pad)
				return -1;	/* data after padding */
			acc = (acc << 6) | (uint32_t)v;
			if (++n == 4) {
				out[o++] = (unsigned char)(acc >> 16);
				out[o++] = (unsigned char)(acc >> 8);
				out[o++] = (unsigned char)acc;
				acc = 0;
				n = 0;
			}
		} else if (v == -2) {
			continue;
		} else if (v == -3) {
			pad = true;
		} else {
			return -1;
		}
	}
	switch (n) {
	case 0:
		break;
	case 2:
		out[o++] = (unsigned char)(acc >> 4);
		break;
	case 3:
		out[o++] = (unsigned char)(acc >> 10);
		out[o++] = (unsigned char)(acc >> 2);
		break;
	default:
		return -1;	/* a single dangling character */
	}
	*out_len_r = o;
	return 0;
}
