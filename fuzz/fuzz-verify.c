/*
 * fuzz-verify.c - libFuzzer harness: sg_verify_message() over raw mail
 *
 * The input is one RFC 5322 message (CRLF or LF).  Each input is verified
 * twice with the same validation time: both verdicts must satisfy the
 * invariants of fuzz-common.h and be identical (the certificate and chain
 * caches of the context must not change a verdict).  The input is also
 * classified as the prefix of an oversized message
 * (sg_verify_message_prefix): none, signed or encrypted, with too-large.
 * Seeds: eml files (fuzz/seeds.sh); dictionary: fuzz/mime.dict.
 */
#include <stddef.h>
#include <stdint.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sg_result *res = NULL, *again = NULL;
	struct sg_error err;

	if (sg_verify_message(fuzz_ctx, data, size, fuzz_at, &res, &err) < 0)
		fuzz_fail("sg_verify_message failed: %s", err.msg);
	if (res == NULL)
		fuzz_fail("sg_verify_message returned no result");
	fuzz_check_result(res, true);
	if (sg_verify_message(fuzz_ctx, data, size, fuzz_at, &again, &err) < 0)
		fuzz_fail("second sg_verify_message failed: %s", err.msg);
	fuzz_check_same(res, again);
	sg_result_free(&again);
	sg_result_free(&res);
	if (res != NULL)
		fuzz_fail("sg_result_free did not clear the pointer");

	if (size > 0) {
		enum sg_status st;

		if (sg_verify_message_prefix(fuzz_ctx, data, size,
					     sg_ctx_max_message_size(fuzz_ctx) + 1,
					     fuzz_at, &res, &err) < 0)
			fuzz_fail("sg_verify_message_prefix failed: %s", err.msg);
		fuzz_check_result(res, true);
		st = sg_result_status(res);
		if (st != SG_STATUS_NONE && st != SG_STATUS_SIGNED &&
		    st != SG_STATUS_ENCRYPTED)
			fuzz_fail("prefix verdict %s", sg_status_name(st));
		if (st != SG_STATUS_NONE &&
		    !(sg_result_reasons(res) & SG_REASON_BIT(SG_REASON_TOO_LARGE)))
			fuzz_fail("prefix verdict %s without too-large",
				  sg_status_name(st));
		sg_result_free(&res);
	}
	return 0;
}
