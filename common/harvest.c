/* harvest.c - keep the certificates of verified signers (DESIGN.md
 * section 4: "Certificates of verified inbound signers can be harvested
 * into a writable dir: store")
 *
 * Only a signer of a signed/verified message whose certificate names the
 * From address (sender binding passed) is harvested, and only when mail
 * can be encrypted to that certificate now (cert-select.c).  The file is
 * <sha256-hex>.pem in the harvest_map directory, written to a hidden
 * temporary file (skipped by the dir: map), synced and renamed, mode
 * 0644.  A certificate older (notBefore) than one already stored for one
 * of its addresses is not stored: a partner's old certificate, replayed
 * in an old message, never pushes out the one it was replaced by.  Older
 * stored certificates stay; lookups prefer the newest usable one.
 *
 * The core does not log: the outcome and the fingerprint are returned in
 * struct sg_harvest_info for the adapter's log line.
 */
#include "sg-base.h"
#include "cert-select.h"
#include "certmap-private.h"
#include "ctx-private.h"
#include "der-scan.h"
#include "dirmap-private.h"
#include "result-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <sodium.h>

#define MAX_ADDRS 32

static const char *const outcome_names[] = {
	[SG_HARVEST_STORED] = "stored",
	[SG_HARVEST_PRESENT] = "present",
	[SG_HARVEST_NEWER_KNOWN] = "newer-known",
	[SG_HARVEST_NOT_VERIFIED] = "not-verified",
	[SG_HARVEST_NOT_USABLE] = "not-usable",
	[SG_HARVEST_DISABLED] = "disabled",
	[SG_HARVEST_CAPPED] = "capped",
};

/* sg_harvest_outcome_name - "stored" etc. */
const char *sg_harvest_outcome_name(enum sg_harvest_outcome outcome)
{
	if ((unsigned int)outcome >= SG_ARRAY_SIZE(outcome_names))
		return NULL;
	return outcome_names[outcome];
}

/* write_all - the whole buffer to fd */
static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* store_pem - write cert as dir/<fpr>.pem: temporary file, rename */
static int store_pem(const char *dir, const char *fpr, X509 *cert,
		     char *file, size_t file_size, struct sg_error *err_r)
{
	char tmp[4096];
	BIO *mem = NULL;
	char *data;
	long len;
	int fd = -1, dfd;

	if ((size_t)snprintf(file, file_size, "%s/%s.pem", dir, fpr) >= file_size ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.harvest-%.16s-XXXXXX", dir,
			     fpr) >= sizeof(tmp)) {
		sg_error_set(err_r, SG_ERR_CONFIG,
			     "harvest_map: path too long: %.160s", dir);
		return -1;
	}
	if ((mem = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509(mem, cert) != 1 ||
	    (len = BIO_get_mem_data(mem, &data)) <= 0) {
		BIO_free(mem);
		sg_error_set_openssl(err_r, SG_ERR_CRYPTO,
				     "cannot encode the certificate");
		return -1;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		sg_error_set(err_r, SG_ERR_IO, "harvest_map %.160s: %s", dir,
			     strerror(errno));
		BIO_free(mem);
		return -1;
	}
	if (write_all(fd, data, (size_t)len) < 0 || fchmod(fd, 0644) < 0 ||
	    fsync(fd) < 0) {
		sg_error_set(err_r, SG_ERR_IO, "harvest_map %.160s: %s", tmp,
			     strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		sg_error_set(err_r, SG_ERR_IO, "harvest_map %.160s: %s", tmp,
			     strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, file) < 0) {
		sg_error_set(err_r, SG_ERR_IO, "harvest_map %.160s: %s", file,
			     strerror(errno));
		goto fail;
	}
	/* make the new name durable (best effort) */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	BIO_free(mem);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	BIO_free(mem);
	return -1;
}

/* bound_signer - the first verified signer bound to From, or -1 */
static long bound_signer(const struct sg_result *res)
{
	size_t i;

	for (i = 0; i < res->n_signers; i++) {
		if (res->signers[i].result == SG_SIGNER_VERIFIED &&
		    res->signers_priv[i].bound && res->signers_priv[i].der != NULL)
			return (long)i;
	}
	return -1;
}

/* compare_stored - PRESENT or NEWER_KNOWN from what the map holds for
   the certificate's addresses; SG_HARVEST_STORED when neither */
static enum sg_harvest_outcome
compare_stored(struct sg_dirmap *dm, const unsigned char *der, size_t len,
	       const unsigned char fpr[32], time_t not_before,
	       const char **file_r, struct sg_error *err_r, int *fail_r)
{
	char (*addrs)[320];
	enum sg_harvest_outcome out = SG_HARVEST_STORED;
	size_t n, i, j, found;

	*fail_r = 0;
	*file_r = NULL;
	if ((addrs = malloc(MAX_ADDRS * sizeof(*addrs))) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		*fail_r = -1;
		return out;
	}
	n = sg_dirmap_cert_addrs(der, len, addrs, MAX_ADDRS);
	for (i = 0; i < n && out != SG_HARVEST_PRESENT; i++) {
		struct sg_dirmap_cert *const *certs;

		if (sg_dirmap_find(dm, addrs[i], &certs, &found) < 0) {
			sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
			*fail_r = -1;
			break;
		}
		for (j = 0; j < found; j++) {
			if (memcmp(certs[j]->fpr, fpr, 32) == 0) {
				out = SG_HARVEST_PRESENT;
				*file_r = certs[j]->source;
				break;
			}
			if (certs[j]->not_before > not_before &&
			    out == SG_HARVEST_STORED) {
				out = SG_HARVEST_NEWER_KNOWN;
				*file_r = certs[j]->source;
			}
		}
	}
	free(addrs);
	return out;
}

/* sg_harvest - store the bound signer's certificate of a result */
int sg_harvest(struct sg_ctx *ctx, const struct sg_result *res, time_t at,
	       struct sg_harvest_info *info, struct sg_error *err_r)
{
	struct sg_csel_info *ci = NULL;
	struct sg_dirmap *dm;
	unsigned char fpr[32];
	const unsigned char *der;
	const char *stored_file;
	enum sg_harvest_outcome out;
	struct stat st;
	size_t len;
	X509 *cert = NULL;
	long i;
	int fail, ret = -1;
	bool locked = false;

	sg_assert(ctx != NULL && res != NULL && info != NULL);
	memset(info, 0, sizeof(*info));
	sg_error_clear(err_r);
	if (at == 0)
		at = time(NULL);
	if ((dm = sg_cmap_harvest_map(ctx->certmaps)) == NULL) {
		info->outcome = SG_HARVEST_DISABLED;
		snprintf(info->detail, sizeof(info->detail),
			 "Harvesting is off (no harvest_map).");
		return 0;
	}
	info->outcome = SG_HARVEST_NOT_VERIFIED;
	if (res->status != SG_STATUS_SIGNED_VERIFIED &&
	    res->status != SG_STATUS_ENCRYPTED_SIGNED_VERIFIED) {
		snprintf(info->detail, sizeof(info->detail),
			 "Not harvested: the message is %s, not signed/verified.",
			 sg_status_name(res->status));
		return 0;
	}
	if ((i = bound_signer(res)) < 0) {
		snprintf(info->detail, sizeof(info->detail),
			 "Not harvested: no verified signer's certificate names the From address.");
		return 0;
	}
	der = res->signers_priv[i].der;
	len = res->signers_priv[i].der_len;
	snprintf(info->address, sizeof(info->address), "%s",
		 res->signers[i].email);
	crypto_hash_sha256(fpr, der, len);
	sodium_bin2hex(info->fingerprint, sizeof(info->fingerprint), fpr,
		       sizeof(fpr));
	info->outcome = SG_HARVEST_NOT_USABLE;
	if ((cert = sg_trust_cert_from_der(ctx, der, len)) == NULL) {
		info->reasons = SG_REASON_BIT(SG_REASON_MALFORMED);
		snprintf(info->detail, sizeof(info->detail),
			 "Not harvested: the certificate cannot be decoded.");
		return 0;
	}
	if ((ci = malloc(sizeof(*ci))) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		goto out;
	}
	sg_csel_eval_cert(ctx, cert, at, ci);
	if (ci->reasons != 0) {
		info->reasons = ci->reasons;
		snprintf(info->detail, sizeof(info->detail),
			 "Not harvested (%s): %.200s",
			 sg_reason_name(sg_csel_main_reason(ci->reasons)),
			 ci->detail);
		ret = 0;
		goto out;
	}
	/* the usual refresh: a store of this process invalidates the map,
	   one of another process is seen within a second (and a lost race
	   only stores a certificate beside another, never replaces one) */
	sg_cmap_harvest_lock(ctx->certmaps);
	locked = true;
	if (sg_dirmap_refresh(dm, false, err_r) < 0) {
		char msg[sizeof(err_r->msg)];

		if (err_r != NULL) {
			snprintf(msg, sizeof(msg), "harvest_map: %.230s",
				 err_r->msg);
			snprintf(err_r->msg, sizeof(err_r->msg), "%s", msg);
		}
		goto out;
	}
	out = compare_stored(dm, der, len, fpr, ci->not_before, &stored_file,
			     err_r, &fail);
	if (fail < 0)
		goto out;
	if (out != SG_HARVEST_PRESENT &&
	    (size_t)snprintf(info->file, sizeof(info->file), "%s/%s.pem",
			     sg_dirmap_path(dm), info->fingerprint) < sizeof(info->file) &&
	    stat(info->file, &st) == 0) {
		info->outcome = SG_HARVEST_PRESENT;
		snprintf(info->detail, sizeof(info->detail), "Already harvested.");
		ret = 0;
		goto out;
	}
	info->file[0] = '\0';
	if (out != SG_HARVEST_STORED) {
		info->outcome = out;
		snprintf(info->file, sizeof(info->file), "%.250s/%.250s",
			 sg_dirmap_path(dm), stored_file);
		snprintf(info->detail, sizeof(info->detail), "%s",
			 out == SG_HARVEST_PRESENT ?
			 "Already harvested." :
			 "Not harvested: a newer certificate for this address is stored.");
		ret = 0;
		goto out;
	}
	/* caps: a flood of verified mail from many (or one) signers must
	   not grow the store without bound */
	{
		struct sg_dirmap_cert *const *found;
		size_t n_found = 0;

		if (sg_dirmap_find(dm, info->address, &found, &n_found) < 0) {
			sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
			goto out;
		}
		if (n_found >= ctx->harvest_max_per_address ||
		    sg_dirmap_count(dm) >= ctx->harvest_max_total) {
			info->outcome = SG_HARVEST_CAPPED;
			snprintf(info->detail, sizeof(info->detail),
				 "Not harvested: the store holds %zu certificates for %.100s and %zu in all (harvest_max_per_address %zu, harvest_max_total %zu).",
				 n_found, info->address, sg_dirmap_count(dm),
				 ctx->harvest_max_per_address, ctx->harvest_max_total);
			ret = 0;
			goto out;
		}
	}
	if (store_pem(sg_dirmap_path(dm), info->fingerprint, cert, info->file,
		      sizeof(info->file), err_r) < 0)
		goto out;
	sg_dirmap_invalidate(dm);
	info->outcome = SG_HARVEST_STORED;
	snprintf(info->detail, sizeof(info->detail),
		 "Harvested the certificate of %.200s.", info->address);
	ret = 0;
out:
	if (locked)
		sg_cmap_harvest_unlock(ctx->certmaps);
	free(ci);
	X509_free(cert);
	return ret;
}
