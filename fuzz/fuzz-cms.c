/*
 * fuzz-cms.c - libFuzzer harness: sg_verify_cms() over raw CMS
 *
 * Input layout: the first byte chooses the mode.
 *   byte0 < 0x80:  the rest is the CMS object (DER, BER or PEM), no
 *                  detached content;
 *   byte0 >= 0x80: the rest is CONTENT byte0 CMS, split at the first
 *                  occurrence of the byte value byte0 (no occurrence: empty
 *                  content, the rest is the CMS); CONTENT is the detached
 *                  content.
 * So half of the inputs carry detached content, and a seed made of
 * 0xff + content + 0xff + signature reproduces a real detached signature
 * exactly (fuzz/seeds.sh writes such seeds).  Every verdict must satisfy
 * the invariants of fuzz-common.h and be the same on a second run.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smimeguard.h"
#include "fuzz-common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup();
	return 0;
}

static void verify(const uint8_t *cms, size_t cms_len,
		   const uint8_t *content, size_t content_len)
{
	struct sg_result *res = NULL, *again = NULL;
	struct sg_error err;

	if (sg_verify_cms(fuzz_ctx, cms, cms_len, content, content_len,
			  fuzz_at, &res, &err) < 0)
		fuzz_fail("sg_verify_cms failed: %s", err.msg);
	if (res == NULL)
		fuzz_fail("sg_verify_cms returned no result");
	fuzz_check_result(res, false);
	if (sg_verify_cms(fuzz_ctx, cms, cms_len, content, content_len,
			  fuzz_at, &again, &err) < 0)
		fuzz_fail("second sg_verify_cms failed: %s", err.msg);
	fuzz_check_same(res, again);
	sg_result_free(&again);
	sg_result_free(&res);
}

/* dup - an exact-size copy, so ASan sees a read past either piece */
static uint8_t *dup(const uint8_t *p, size_t len)
{
	uint8_t *out = malloc(len > 0 ? len : 1);

	if (out != NULL && len > 0)
		memcpy(out, p, len);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *rest, *sep;
	uint8_t *content, *cms;
	size_t rest_len, content_len, cms_len;

	if (size == 0)
		return 0;
	rest = data + 1;
	rest_len = size - 1;
	if (data[0] < 0x80) {
		/* libFuzzer's buffer is exact-size already */
		verify(rest_len > 0 ? rest : NULL, rest_len, NULL, 0);
		return 0;
	}
	sep = memchr(rest, data[0], rest_len);
	if (sep != NULL) {
		content_len = (size_t)(sep - rest);
		cms_len = rest_len - content_len - 1;
	} else {
		content_len = 0;
		cms_len = rest_len;
	}
	content = dup(rest, content_len);
	cms = dup(rest + rest_len - cms_len, cms_len);
	if (content != NULL && cms != NULL)
		verify(cms_len > 0 ? cms : NULL, cms_len, content, content_len);
	free(content);
	free(cms);
	return 0;
}
