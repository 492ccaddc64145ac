/*
 * keystore-private.h - internal interfaces of keystore-format.c
 *
 * The keystore's files (keystore-format.c), for keystore.c and
 * keystore-verify.c.  Nothing here is exported; only files of common/ (and
 * the unit tests and fuzzers) include it.
 */
#ifndef SG_KEYSTORE_PRIVATE_H
#define SG_KEYSTORE_PRIVATE_H

#include "sg-base.h"

/* ---- keystore-format.c: the keystore's files (DESIGN.md "Keystore") ---- */
#define SG_KS_KEY_SIZE 32	/* master and data keys */
#define SG_KS_ID_SIZE 8		/* master key id */
#define SG_KS_ADDR_SIZE 320	/* an address and its NUL */
#define SG_KS_MAX_ADDRS 16	/* addresses one key file is bound to */

struct sg_master {
	unsigned char *key;		/* SG_KS_KEY_SIZE, sodium_malloc()ed */
	unsigned char id[SG_KS_ID_SIZE];
	bool passphrase;		/* Argon2id: the parameters below */
	unsigned char salt[16];
	uint64_t opslimit, memlimit;
};

/* a parsed key file: pointers into the caller's buffer */
struct sg_ksf {
	const unsigned char *header;	/* the associated data */
	size_t header_len;
	time_t stored;
	unsigned char fpr[32];
	char addrs[SG_KS_MAX_ADDRS][SG_KS_ADDR_SIZE];	/* sorted, lower case */
	size_t n_addrs;
	const unsigned char *certs;	/* certificate, chain: DER */
	size_t certs_len;
	size_t wrap_offset;		/* the wrap section (master id first) */
	unsigned char master_id[SG_KS_ID_SIZE];
	const unsigned char *wrap_nonce, *wrapped_dk;
	const unsigned char *nonce, *ct;
	size_t ct_len;
};
/* check the structure of a key file (no cryptography): 0, or -1 with
   SG_ERR_FORMAT saying what is wrong (magic, version, algorithms,
   truncated, trailing bytes) */
int sg_ksf_parse(const unsigned char *buf, size_t len, struct sg_ksf *f_r,
		 struct sg_error *err_r);
/* a new key file for plaintext pt (a DER private key) into out: a fresh
   data key encrypts pt with the header as associated data; m wraps the
   data key (associated data: header and master id).  addrs sorted, lower
   case (sg_ks_addr_ok). */
int sg_ksf_seal(const struct sg_master *m, const unsigned char fpr[32],
		const char *const *addrs, size_t n_addrs,
		const unsigned char *certs, size_t certs_len, time_t stored,
		const unsigned char *pt, size_t pt_len, struct sg_buf *out,
		struct sg_error *err_r);
/* the plaintext of a parsed key file (sodium_malloc()ed: sodium_free
   it) or -1 with SG_ERR_AUTH (another master, altered) */
int sg_ksf_open(const struct sg_master *m, const struct sg_ksf *f,
		unsigned char **pt_r, size_t *pt_len_r, struct sg_error *err_r);
/* rewrap the data key of f (parsed from buf) from old to new_m, in buf */
int sg_ksf_rewrap(const struct sg_master *old, const struct sg_master *new_m,
		  const struct sg_ksf *f, unsigned char *buf,
		  struct sg_error *err_r);
/* an address as key files hold it: lower case, no controls or spaces,
   one '@' inside */
bool sg_ks_addr_ok(const char *a, size_t len);
/* data into path (mode 0600) through a temporary file, fsync, rename
   (link when !replace: an existing path is refused) */
int sg_ks_write_atomic(const char *path, const unsigned char *data,
		       size_t len, bool replace, struct sg_error *err_r);
/* fd (path) is a regular file (dir: a directory) that group and others
   cannot access, owned by this user or root; -1 with SG_ERR_PERM and
   the chmod that fixes it */
int sg_ks_check_private(int fd, const char *path, bool dir,
			struct sg_error *err_r);

#endif
