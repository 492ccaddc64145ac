/* keystore-verify.c - decrypt-to-verify: the verdict of the signature
 * inside an encrypted message, with a key of the keystore
 *
 * The decrypted content lives in one malloc'd buffer for the time of one
 * sg_verify_decrypted() call (the whole-buffer verifier: nothing goes to
 * temp_directory) and is wiped with OPENSSL_cleanse before it is freed.
 */
#include "keystore-private.h"
#include "sg-base.h"
#include "result-private.h"
#include "verify-private.h"
#include "smimeguard-admin.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* inner_status - the status an inner verdict gives the encrypted message,
   or SG_STATUS_ENCRYPTED when the inner content says nothing conclusive */
static enum sg_status inner_status(enum sg_status inner)
{
	switch (inner) {
	case SG_STATUS_SIGNED_VERIFIED:
		return SG_STATUS_ENCRYPTED_SIGNED_VERIFIED;
	case SG_STATUS_SIGNED_FAILED:
		return SG_STATUS_ENCRYPTED_SIGNED_FAILED;
	default:
		return SG_STATUS_ENCRYPTED;
	}
}

/* why_not - a sentence on an inner verdict that is not conclusive */
static void why_not(struct sg_result *outer, const struct sg_result *inner)
{
	char reasons[SG_REASONS_SIZE];

	switch (inner->status) {
	case SG_STATUS_NONE:
		sg_res_note(outer, "The decrypted content is not signed.");
		break;
	case SG_STATUS_ENCRYPTED:
		sg_res_note(outer, "The decrypted content is itself encrypted.");
		break;
	case SG_STATUS_SIGNED:
		(void)sg_reasons_format(inner->reasons, ",", reasons,
					sizeof(reasons));
		sg_res_note(outer, "The signature inside could not be conclusively verified (%s).",
			    reasons[0] != '\0' ? reasons : "no signer");
		break;
	default:
		sg_res_note(outer, "The decrypted content has no verdict.");
		break;
	}
}

int sg_keystore_verify(struct sg_ctx *ctx, struct sg_keystore *ks,
		       const char *owner, const unsigned char *msg, size_t len,
		       time_t at, struct sg_result **res_r, char fpr_r[65],
		       struct sg_error *err_r)
{
	struct sg_result *outer = NULL, *inner = NULL;
	struct sg_error derr;
	unsigned char *plain = NULL;
	size_t plain_len = 0;
	enum sg_status st;
	unsigned int weak;
	int ret;

	sg_assert(ctx != NULL && ks != NULL && owner != NULL &&
		  (msg != NULL || len == 0) && res_r != NULL && fpr_r != NULL);
	*res_r = NULL;
	fpr_r[0] = '\0';
	if (sg_verify_message(ctx, msg, len, at, &outer, err_r) < 0)
		return -1;
	if (outer->status != SG_STATUS_ENCRYPTED) {
		*res_r = outer;
		return 0;
	}
	sg_error_clear(&derr);
	if (sg_keystore_decrypt(ks, owner, msg, len, &plain, &plain_len, fpr_r,
				&derr) < 0) {
		if (derr.code == SG_ERR_NOMEM) {
			sg_result_free(&outer);
			*err_r = derr;
			return -1;
		}
		sg_res_note(outer, "%s: %s.", derr.code == SG_ERR_NOTFOUND ?
			    "No stored key of the owner" :
			    "The server could not decrypt it", derr.msg);
		fpr_r[0] = '\0';
		goto outer_only;
	}
	ret = sg_verify_decrypted(ctx, msg, len, plain, plain_len, at, &inner,
				  err_r);
	OPENSSL_cleanse(plain, plain_len);
	free(plain);
	if (ret < 0) {
		sg_result_free(&outer);
		return -1;
	}
	st = inner_status(inner->status);
	if (st == SG_STATUS_ENCRYPTED) {
		why_not(outer, inner);
		sg_result_free(&inner);
		goto outer_only;
	}
	weak = (outer->keywords | (st == SG_STATUS_ENCRYPTED_SIGNED_VERIFIED ?
				   inner->keywords : 0)) & SG_KW_WEAK;
	inner->status = st;
	inner->keywords = sg_status_keywords(st) | weak;
	sg_res_copy_encryption(inner, outer);
	sg_res_note(inner, "The message is encrypted (%s); the server decrypted it in memory with the owner's stored key %.16s to check the signature inside.",
		    outer->enc.algorithm[0] != '\0' ? outer->enc.algorithm :
		    "unknown cipher", fpr_r);
	sg_result_free(&outer);
	if (inner->nomem) {
		sg_result_free(&inner);
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	*res_r = inner;
	return 0;
outer_only:
	if (outer->nomem) {
		sg_result_free(&outer);
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	*res_r = outer;
	return 0;
}
