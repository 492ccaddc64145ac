/* keystore.c - the keystore directory: one file per stored key
 *
 * keystore_dir holds one file per (address, key): "H-FPR.key", H the
 * first 16 hex digits of SHA-256 of the lower-case address, FPR the
 * certificate's SHA-256 fingerprint in hex.  Finding an address's keys
 * is a readdir and a name comparison; nothing else is opened.  A file's
 * name is only where to look: what counts is its content, whose header
 * names the address and the fingerprint and is authenticated (the
 * associated data of both AEADs, keystore-format.c), so a file renamed
 * to another address, or whose addresses were edited, is refused.
 */
#include "keystore-private.h"
#include "sg-base.h"
#include "x509-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#define KEY_SUFFIX ".key"
#define ADDR_HASH_HEX 16
#define NAME_LEN (ADDR_HASH_HEX + 1 + 64 + 4)	/* H-FPR.key */
#define MAX_KEY_FILE (1024 * 1024)
#define MAX_DECRYPT_INPUT (256 * 1024 * 1024)

struct sg_keystore {
	char *dir;
	const struct sg_master *master;		/* borrowed, may be NULL */
};

struct sg_key {
	struct sg_key_info info;
	EVP_PKEY *pkey;
	STACK_OF(X509) *certs;			/* the certificate first */
};

int sg_keystore_open(const char *dir, const struct sg_master *master,
		     bool create, struct sg_keystore **ks_r,
		     struct sg_error *err_r)
{
	struct sg_keystore *ks;
	int fd;

	sg_assert(dir != NULL && ks_r != NULL);
	*ks_r = NULL;
	if (dir[0] == '\0') {
		sg_error_set(err_r, SG_ERR_CONFIG, "keystore_dir is empty");
		return -1;
	}
	if (create && mkdir(dir, 0700) < 0 && errno != EEXIST) {
		sg_error_set(err_r, SG_ERR_IO, "cannot create the keystore "
			     "directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		sg_error_set(err_r, SG_ERR_IO, "cannot open the keystore "
			     "directory %s: %s%s", dir, strerror(errno),
			     errno == ENOENT ? " (create it with: smimectl key "
			     "init)" : "");
		return -1;
	}
	if (sg_ks_check_private(fd, dir, true, err_r) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	if ((ks = calloc(1, sizeof(*ks))) == NULL ||
	    (ks->dir = strdup(dir)) == NULL) {
		free(ks);
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	ks->master = master;
	*ks_r = ks;
	return 0;
}

void sg_keystore_free(struct sg_keystore **ks)
{
	if (ks == NULL || *ks == NULL)
		return;
	free((*ks)->dir);
	free(*ks);
	*ks = NULL;
}

/* norm_addr - an address as key files hold it (lower case); false when
   it cannot be one */
static bool norm_addr(const char *in, char out[SG_KS_ADDR_SIZE])
{
	size_t i;

	for (i = 0; in[i] != '\0'; i++) {
		unsigned char c = (unsigned char)in[i];

		if (i + 1 >= SG_KS_ADDR_SIZE)
			return false;
		out[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : (char)c;
	}
	out[i] = '\0';
	return sg_ks_addr_ok(out, i);
}

/* addr_hash - the file name prefix of a normalised address */
static void addr_hash(const char *addr, char hex[ADDR_HASH_HEX + 1])
{
	unsigned char md[32];

	crypto_hash_sha256(md, (const unsigned char *)addr, strlen(addr));
	sodium_bin2hex(hex, ADDR_HASH_HEX + 1, md, ADDR_HASH_HEX / 2);
}

static void file_name(const char *addr, const unsigned char fpr[32],
		      char name[NAME_LEN + 1])
{
	char h[ADDR_HASH_HEX + 1], f[65];

	addr_hash(addr, h);
	sodium_bin2hex(f, sizeof(f), fpr, 32);
	snprintf(name, NAME_LEN + 1, "%s-%s" KEY_SUFFIX, h, f);
}

/* is_key_name - H-FPR.key, lower-case hex */
static bool is_key_name(const char *name)
{
	size_t i;

	if (strlen(name) != NAME_LEN || name[ADDR_HASH_HEX] != '-' ||
	    strcmp(name + NAME_LEN - 4, KEY_SUFFIX) != 0)
		return false;
	for (i = 0; i < NAME_LEN - 4; i++) {
		if (i != ADDR_HASH_HEX && !((name[i] >= '0' && name[i] <= '9') ||
					    (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	}
	return true;
}

/* norm_fpr - a fingerprint argument: 16 to 64 hex digits, colons
   allowed; lower case into out */
static bool norm_fpr(const char *in, char out[65])
{
	size_t n = 0;

	for (; *in != '\0'; in++) {
		char c = *in;

		if (c == ':')
			continue;
		if (c >= 'A' && c <= 'F')
			c = (char)(c + 32);
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) || n >= 64)
			return false;
		out[n++] = c;
	}
	out[n] = '\0';
	return n >= 16;
}

/* read_key_file - a whole key file (regular, no symbolic link, at most
   MAX_KEY_FILE bytes) into *buf_r (malloc'd) */
static int read_key_file(const char *path, unsigned char **buf_r,
			 size_t *len_r, struct sg_error *err_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	unsigned char *buf = NULL;
	struct stat st;
	size_t off = 0;

	*buf_r = NULL;
	if (fd < 0) {
		sg_error_set(err_r, errno == ENOENT ? SG_ERR_NOTFOUND : SG_ERR_IO,
			     "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > MAX_KEY_FILE) {
		sg_error_set(err_r, SG_ERR_FORMAT, "%s is not a regular file of "
			     "at most %d bytes", path, MAX_KEY_FILE);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		goto fail;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sg_error_set(err_r, SG_ERR_IO, "%s: %s", path,
				     strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	*buf_r = buf;
	*len_r = off;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}

/* cert_info - what the certificate says, into info */
static void cert_info(X509 *cert, struct sg_key_info *info)
{
	char addrs[SG_KS_MAX_ADDRS][320];
	size_t n = sg_cert_emails(cert, addrs, SG_KS_MAX_ADDRS), i, off = 0;
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

	sg_name_oneline(X509_get_subject_name(cert), info->subject,
			sizeof(info->subject));
	sg_name_oneline(X509_get_issuer_name(cert), info->issuer,
			sizeof(info->issuer));
	sg_text_sanitize(info->subject);
	sg_text_sanitize(info->issuer);
	sg_strlcpy(info->serial, hex != NULL ? hex : "", sizeof(info->serial));
	OPENSSL_free(hex);
	BN_free(bn);
	info->emails[0] = '\0';
	for (i = 0; i < n; i++) {
		int w = snprintf(info->emails + off, sizeof(info->emails) - off,
				 "%s%s", i > 0 ? ", " : "", addrs[i]);

		if (w < 0 || (size_t)w >= sizeof(info->emails) - off)
			break;
		off += (size_t)w;
	}
	sg_text_sanitize(info->emails);
	info->not_before = sg_asn1_time(X509_get0_notBefore(cert));
	info->not_after = sg_asn1_time(X509_get0_notAfter(cert));
}

/* load_file - read and check the key file dir/name: its structure, that
   its name is the one its content gives (address and fingerprint), that
   the fingerprint is its certificate's, and, when want_addr is not NULL,
   that it is stored for want_addr.  Fills *f (pointing into *buf_r,
   which the caller frees), *cert_r (may be NULL) and info (path and what
   could be read, also on failure).  No cryptography: the tags are
   checked by sg_ksf_open. */
static int load_file(const struct sg_keystore *ks, const char *name,
		     const char *want_addr, unsigned char **buf_r,
		     struct sg_ksf *f, X509 **cert_r, struct sg_key_info *info,
		     struct sg_error *err_r)
{
	unsigned char md[32];
	char expect[NAME_LEN + 1];
	const unsigned char *p;
	X509 *cert = NULL;
	size_t len = 0, i, off = 0;

	memset(info, 0, sizeof(*info));
	if (cert_r != NULL)
		*cert_r = NULL;
	snprintf(info->path, sizeof(info->path), "%s/%s", ks->dir, name);
	if (read_key_file(info->path, buf_r, &len, err_r) < 0)
		return -1;
	if (sg_ksf_parse(*buf_r, len, f, err_r) < 0)
		goto fail;
	sodium_bin2hex(info->fingerprint, sizeof(info->fingerprint), f->fpr, 32);
	sodium_bin2hex(info->master_id, sizeof(info->master_id), f->master_id,
		       SG_KS_ID_SIZE);
	info->stored = f->stored;
	for (i = 0; i < f->n_addrs; i++) {
		int w = snprintf(info->address + off, sizeof(info->address) - off,
				 "%s%s", i > 0 ? ", " : "", f->addrs[i]);

		if (w < 0 || (size_t)w >= sizeof(info->address) - off)
			break;
		off += (size_t)w;
	}
	p = f->certs;
	if ((cert = d2i_X509(NULL, &p, (long)f->certs_len)) == NULL) {
		sg_error_set_openssl(err_r, SG_ERR_FORMAT, "the certificate in "
				     "the key file cannot be decoded");
		goto fail;
	}
	cert_info(cert, info);
	if (EVP_Digest(f->certs, (size_t)(p - f->certs), md, NULL, EVP_sha256(),
		       NULL) != 1 || sodium_memcmp(md, f->fpr, 32) != 0) {
		sg_error_set(err_r, SG_ERR_AUTH, "the fingerprint in the key "
			     "file is not its certificate's: altered");
		goto fail;
	}
	file_name(f->addrs[0], f->fpr, expect);
	if (strcmp(name, expect) != 0) {
		sg_error_set(err_r, SG_ERR_AUTH, "the file name does not match "
			     "its content (stored for %s, fingerprint %.16s...): "
			     "renamed or moved; refused", f->addrs[0],
			     info->fingerprint);
		goto fail;
	}
	if (want_addr != NULL) {
		for (i = 0; i < f->n_addrs; i++) {
			if (strcmp(f->addrs[i], want_addr) == 0)
				break;
		}
		if (i == f->n_addrs) {
			sg_error_set(err_r, SG_ERR_AUTH, "stored for %s, not "
				     "for %s: refused", info->address, want_addr);
			goto fail;
		}
	}
	if (cert_r != NULL)
		*cert_r = cert;
	else
		X509_free(cert);
	return 0;
fail:
	X509_free(cert);
	free(*buf_r);
	*buf_r = NULL;
	return -1;
}

/* names - the key file names of the directory, sorted; those of address
   (normalised) only when it is not NULL, of fingerprint prefix fpr only
   when it is not NULL */
static int names(const struct sg_keystore *ks, const char *addr,
		 const char *fpr, char ***names_r, size_t *n_r,
		 struct sg_error *err_r)
{
	char h[ADDR_HASH_HEX + 1], **v = NULL, **nv;
	size_t n = 0, size = 0;
	struct dirent *de;
	DIR *d;

	*names_r = NULL;
	*n_r = 0;
	if (addr != NULL)
		addr_hash(addr, h);
	if ((d = opendir(ks->dir)) == NULL) {
		sg_error_set(err_r, SG_ERR_IO, "cannot read the keystore %s: %s",
			     ks->dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!is_key_name(de->d_name) ||
		    (addr != NULL && strncmp(de->d_name, h, ADDR_HASH_HEX) != 0) ||
		    (fpr != NULL && strncmp(de->d_name + ADDR_HASH_HEX + 1, fpr,
					    strlen(fpr)) != 0))
			continue;
		if (n == size) {
			size = size == 0 ? 16 : size * 2;
			if ((nv = realloc(v, size * sizeof(*v))) == NULL)
				goto nomem;
			v = nv;
		}
		if ((v[n] = strdup(de->d_name)) == NULL)
			goto nomem;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), (int (*)(const void *, const void *))strcmp);
	*names_r = v;
	*n_r = n;
	return 0;
nomem:
	closedir(d);
	while (n > 0)
		free(v[--n]);
	free(v);
	sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
	return -1;
}

static void names_free(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

/* sort_cmp_str - qsort order of C strings in an array */
static int cmp_str(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static int need_master(const struct sg_keystore *ks, struct sg_error *err_r)
{
	if (ks->master != NULL)
		return 0;
	sg_error_set(err_r, SG_ERR_CONFIG, "the keystore was opened without "
		     "its master key");
	return -1;
}

int sg_keystore_add(struct sg_keystore *ks, const unsigned char *key_der,
		    size_t key_len, const unsigned char *certs_der,
		    size_t certs_len, const char *const *addresses,
		    size_t n_addresses, struct sg_key_info *info_r,
		    struct sg_error *err_r)
{
	char want[SG_KS_MAX_ADDRS][SG_KS_ADDR_SIZE];
	char have[SG_KS_MAX_ADDRS][320];
	char name[NAME_LEN + 1], path[4096], fhex[65];
	const unsigned char *p, *first_end;
	unsigned char fpr[32], *pt = NULL;
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL, *x;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	struct sg_buf out = { NULL, 0, 0 };
	size_t n_have, i, j;
	int pt_len, ret = -1;
	unsigned char *w;

	sg_assert(ks != NULL && key_der != NULL && certs_der != NULL);
	sg_assert(addresses != NULL && n_addresses > 0);
	if (need_master(ks, err_r) < 0)
		return -1;
	if (n_addresses > SG_KS_MAX_ADDRS) {
		sg_error_set(err_r, SG_ERR_INVALID, "more than %d addresses",
			     SG_KS_MAX_ADDRS);
		return -1;
	}
	if (key_len > LONG_MAX / 2 || certs_len > LONG_MAX / 2) {
		sg_error_set(err_r, SG_ERR_INVALID, "input too large");
		return -1;
	}
	/* the certificate, then a chain: DER, nothing else */
	p = certs_der;
	if ((cert = d2i_X509(NULL, &p, (long)certs_len)) == NULL) {
		sg_error_set_openssl(err_r, SG_ERR_INVALID, "the certificate "
				     "cannot be decoded");
		goto out;
	}
	first_end = p;
	while (p < certs_der + certs_len) {
		if ((x = d2i_X509(NULL, &p, (long)(certs_der + certs_len - p))) == NULL) {
			sg_error_set_openssl(err_r, SG_ERR_INVALID, "a chain "
					     "certificate cannot be decoded");
			goto out;
		}
		X509_free(x);
	}
	p = key_der;
	if ((pkey = d2i_AutoPrivateKey(NULL, &p, (long)key_len)) == NULL ||
	    p != key_der + key_len) {
		sg_error_set_openssl(err_r, SG_ERR_INVALID, "the private key "
				     "cannot be decoded (DER PKCS#8, RSA or EC)");
		goto out;
	}
	if (X509_check_private_key(cert, pkey) != 1) {
		ERR_clear_error();
		sg_error_set(err_r, SG_ERR_INVALID, "the private key does not "
			     "belong to the certificate: refused");
		goto out;
	}
	/* every address must be one the certificate names */
	n_have = sg_cert_emails(cert, have, SG_KS_MAX_ADDRS);
	for (j = 0; j < n_have; j++) {
		char tmp[SG_KS_ADDR_SIZE];

		if (norm_addr(have[j], tmp))
			memcpy(have[j], tmp, sizeof(tmp));
		else
			have[j][0] = '\0';
	}
	for (i = 0; i < n_addresses; i++) {
		if (!norm_addr(addresses[i], want[i])) {
			sg_error_set(err_r, SG_ERR_INVALID, "'%s' is not an "
				     "address", addresses[i]);
			goto out;
		}
		for (j = 0; j < n_have; j++) {
			if (strcmp(have[j], want[i]) == 0)
				break;
		}
		if (j == n_have) {
			struct sg_key_info ci;

			cert_info(cert, &ci);
			sg_error_set(err_r, SG_ERR_INVALID, "the certificate does "
				     "not name %s (it names: %s): refused, a key "
				     "is only stored for an address its "
				     "certificate binds", want[i],
				     ci.emails[0] != '\0' ? ci.emails : "no address");
			goto out;
		}
	}
	if (EVP_Digest(certs_der, (size_t)(first_end - certs_der), fpr, NULL,
		       EVP_sha256(), NULL) != 1) {
		sg_error_set_openssl(err_r, SG_ERR_CRYPTO, "SHA-256");
		goto out;
	}
	/* the key as PKCS#8 DER, in locked memory */
	if ((p8 = EVP_PKEY2PKCS8(pkey)) == NULL ||
	    (pt_len = i2d_PKCS8_PRIV_KEY_INFO(p8, NULL)) <= 0 ||
	    (pt = sodium_malloc((size_t)pt_len)) == NULL) {
		sg_error_set_openssl(err_r, SG_ERR_CRYPTO, "cannot encode the "
				     "private key");
		goto out;
	}
	w = pt;
	if (i2d_PKCS8_PRIV_KEY_INFO(p8, &w) != pt_len) {
		sg_error_set_openssl(err_r, SG_ERR_CRYPTO, "cannot encode the "
				     "private key");
		goto out;
	}
	sodium_bin2hex(fhex, sizeof(fhex), fpr, 32);
	qsort(want, n_addresses, sizeof(want[0]), cmp_str);
	for (i = 0; i < n_addresses; i++) {
		const char *one[1] = { want[i] };

		if (i > 0 && strcmp(want[i], want[i - 1]) == 0)
			continue;
		file_name(want[i], fpr, name);
		snprintf(path, sizeof(path), "%s/%s", ks->dir, name);
		if (access(path, F_OK) == 0)
			continue;	/* stored already */
		out.used = 0;
		if (sg_ksf_seal(ks->master, fpr, one, 1, certs_der, certs_len,
				time(NULL), pt, (size_t)pt_len, &out, err_r) < 0 ||
		    sg_ks_write_atomic(path, out.data, out.used, false, err_r) < 0)
			goto out;
	}
	if (info_r != NULL) {
		memset(info_r, 0, sizeof(*info_r));
		cert_info(cert, info_r);
		sg_strlcpy(info_r->fingerprint, fhex, sizeof(info_r->fingerprint));
		sg_strlcpy(info_r->address, want[0], sizeof(info_r->address));
		sg_master_id(ks->master, info_r->master_id);
		file_name(want[0], fpr, name);
		snprintf(info_r->path, sizeof(info_r->path), "%s/%s", ks->dir,
			 name);
		info_r->stored = time(NULL);
	}
	ret = 0;
out:
	if (pt != NULL)
		sodium_free(pt);
	PKCS8_PRIV_KEY_INFO_free(p8);
	EVP_PKEY_free(pkey);
	X509_free(cert);
	sg_buf_free(&out);
	return ret;
}

int sg_keystore_list(struct sg_keystore *ks, const char *address,
		     void (*fn)(const struct sg_key_info *info, void *context),
		     void *context, struct sg_error *err_r)
{
	char addr[SG_KS_ADDR_SIZE], **v;
	struct sg_key_info info;
	struct sg_error ferr;
	struct sg_ksf f;
	size_t n, i;
	unsigned char *buf;

	sg_assert(ks != NULL && fn != NULL);
	if (address != NULL && !norm_addr(address, addr)) {
		sg_error_set(err_r, SG_ERR_INVALID, "'%s' is not an address",
			     address);
		return -1;
	}
	if (names(ks, address != NULL ? addr : NULL, NULL, &v, &n, err_r) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (load_file(ks, v[i], address != NULL ? addr : NULL, &buf, &f,
			      NULL, &info, &ferr) < 0)
			sg_strlcpy(info.problem, ferr.msg, sizeof(info.problem));
		free(buf);
		fn(&info, context);
	}
	names_free(v, n);
	return (int)n;
}

/* find_files - the files of the key with FINGERPRINT (a prefix of 16 or
   more hex digits), of ADDRESS or of every address (address NULL); one
   certificate only: a prefix that names two is refused.  *n_r may be 0.
   addr_r receives the normalised address (or "") */
static int find_files(const struct sg_keystore *ks, const char *fingerprint,
		      const char *address, char addr_r[SG_KS_ADDR_SIZE],
		      char fpr_r[65], char ***v_r, size_t *n_r,
		      struct sg_error *err_r)
{
	size_t i;

	addr_r[0] = '\0';
	if (!norm_fpr(fingerprint, fpr_r)) {
		sg_error_set(err_r, SG_ERR_INVALID, "'%s' is not a fingerprint "
			     "(16 to 64 hex digits)", fingerprint);
		return -1;
	}
	if (address != NULL && !norm_addr(address, addr_r)) {
		sg_error_set(err_r, SG_ERR_INVALID, "'%s' is not an address",
			     address);
		return -1;
	}
	if (names(ks, address != NULL ? addr_r : NULL, fpr_r, v_r, n_r,
		  err_r) < 0)
		return -1;
	for (i = 1; i < *n_r; i++) {
		if (strcmp((*v_r)[i] + ADDR_HASH_HEX,
			   (*v_r)[0] + ADDR_HASH_HEX) != 0) {
			sg_error_set(err_r, SG_ERR_INVALID, "fingerprint %s names "
				     "more than one certificate: give more digits",
				     fpr_r);
			names_free(*v_r, *n_r);
			return -1;
		}
	}
	return 0;
}

int sg_keystore_remove(struct sg_keystore *ks, const char *fingerprint,
		       const char *address, struct sg_error *err_r)
{
	char addr[SG_KS_ADDR_SIZE], fpr[65], path[4096], **v;
	size_t n, i;
	int removed = 0;

	sg_assert(ks != NULL && fingerprint != NULL);
	if (find_files(ks, fingerprint, address, addr, fpr, &v, &n, err_r) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", ks->dir, v[i]);
		if (unlink(path) < 0) {
			sg_error_set(err_r, SG_ERR_IO, "cannot remove %s: %s",
				     path, strerror(errno));
			names_free(v, n);
			return -1;
		}
		removed++;
	}
	names_free(v, n);
	return removed;
}

/* unwrap_name - unwrap the key file name (checked as load_file does) */
static int unwrap_name(struct sg_keystore *ks, const char *name,
		       const char *want_addr, struct sg_key **key_r,
		       struct sg_error *err_r)
{
	struct sg_key *key;
	struct sg_ksf f;
	unsigned char *buf = NULL, *pt = NULL;
	const unsigned char *p;
	size_t pt_len = 0;
	X509 *cert = NULL, *x;
	char msg[sizeof(err_r->msg) + 1100];

	*key_r = NULL;
	if ((key = calloc(1, sizeof(*key))) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	if (load_file(ks, name, want_addr, &buf, &f, &cert, &key->info,
		      err_r) < 0)
		goto fail_named;
	if (sg_ksf_open(ks->master, &f, &pt, &pt_len, err_r) < 0)
		goto fail_named;
	p = pt;
	key->pkey = d2i_AutoPrivateKey(NULL, &p, (long)pt_len);
	sodium_free(pt);
	if (key->pkey == NULL || X509_check_private_key(cert, key->pkey) != 1) {
		sg_error_set_openssl(err_r, SG_ERR_FORMAT, "the stored key "
				     "cannot be decoded or does not match its "
				     "certificate");
		goto fail_named;
	}
	if ((key->certs = sk_X509_new_null()) == NULL ||
	    !sk_X509_push(key->certs, cert)) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		goto fail;
	}
	cert = NULL;
	p = f.certs;
	x = d2i_X509(NULL, &p, (long)f.certs_len);	/* the certificate */
	X509_free(x);
	while (p < f.certs + f.certs_len &&
	       (x = d2i_X509(NULL, &p, (long)(f.certs + f.certs_len - p))) != NULL) {
		if (!sk_X509_push(key->certs, x)) {
			X509_free(x);
			break;
		}
	}
	ERR_clear_error();
	free(buf);
	*key_r = key;
	return 0;
fail_named:
	/* name the file: the caller may have tried several */
	snprintf(msg, sizeof(msg), "%s: %s", key->info.path, err_r->msg);
	sg_error_set(err_r, err_r->code, "%s", msg);
fail:
	X509_free(cert);
	free(buf);
	sg_key_free(&key);
	return -1;
}

int sg_keystore_unwrap(struct sg_keystore *ks, const char *fingerprint,
		       const char *address, struct sg_key **key_r,
		       struct sg_error *err_r)
{
	char addr[SG_KS_ADDR_SIZE], fpr[65], **v;
	size_t n;
	int ret;

	sg_assert(ks != NULL && fingerprint != NULL && key_r != NULL);
	*key_r = NULL;
	if (need_master(ks, err_r) < 0)
		return -1;
	if (find_files(ks, fingerprint, address, addr, fpr, &v, &n, err_r) < 0)
		return -1;
	if (n == 0) {
		sg_error_set(err_r, SG_ERR_NOTFOUND, "no key with fingerprint "
			     "%s%s%s in %s", fpr, address != NULL ? " for " : "",
			     address != NULL ? addr : "", ks->dir);
		names_free(v, n);
		return -1;
	}
	ret = unwrap_name(ks, v[0], address != NULL ? addr : NULL, key_r, err_r);
	names_free(v, n);
	return ret;
}

const struct sg_key_info *sg_key_info_get(const struct sg_key *key)
{
	sg_assert(key != NULL);
	return &key->info;
}

void sg_key_free(struct sg_key **key)
{
	if (key == NULL || *key == NULL)
		return;
	EVP_PKEY_free((*key)->pkey);	/* OpenSSL clears private keys */
	sk_X509_pop_free((*key)->certs, X509_free);
	free(*key);
	*key = NULL;
}

int sg_key_export_pem(const struct sg_key *key, char **pem_r, size_t *len_r,
		      struct sg_error *err_r)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	char *data, *pem;
	long n;
	int i;

	sg_assert(key != NULL && pem_r != NULL && len_r != NULL);
	*pem_r = NULL;
	*len_r = 0;
	if (bio == NULL ||
	    PEM_write_bio_PKCS8PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL,
					  NULL) != 1)
		goto fail;
	for (i = 0; i < sk_X509_num(key->certs); i++) {
		if (PEM_write_bio_X509(bio, sk_X509_value(key->certs, i)) != 1)
			goto fail;
	}
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0 || (pem = sodium_malloc((size_t)n + 1)) == NULL)
		goto fail;
	memcpy(pem, data, (size_t)n);
	pem[n] = '\0';
	BIO_free(bio);
	*pem_r = pem;
	*len_r = (size_t)n;
	return 0;
fail:
	BIO_free(bio);
	sg_error_set_openssl(err_r, SG_ERR_CRYPTO, "cannot write the key as PEM");
	return -1;
}

void sg_key_pem_free(char **pem, size_t len)
{
	(void)len;
	if (pem == NULL || *pem == NULL)
		return;
	sodium_free(*pem);	/* wipes */
	*pem = NULL;
}

/* read_cms - the EnvelopedData of a MIME message or a DER/PEM object */
static CMS_ContentInfo *read_cms(const unsigned char *msg, size_t len,
				 struct sg_error *err_r)
{
	BIO *bio;
	CMS_ContentInfo *cms;
	int nid;

	if (len > MAX_DECRYPT_INPUT) {
		sg_error_set(err_r, SG_ERR_INVALID, "message too large");
		return NULL;
	}
	if ((bio = BIO_new_mem_buf(msg, (int)len)) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (len >= 2 && msg[0] == 0x30)
		cms = d2i_CMS_bio(bio, NULL);
	else
		cms = SMIME_read_CMS(bio, NULL);
	BIO_free(bio);
	if (cms == NULL) {
		sg_error_set_openssl(err_r, SG_ERR_INVALID, "not an S/MIME or "
				     "CMS encrypted message");
		return NULL;
	}
	nid = OBJ_obj2nid(CMS_get0_type(cms));
	if (nid != NID_pkcs7_enveloped && nid != NID_id_smime_ct_authEnvelopedData) {
		CMS_ContentInfo_free(cms);
		sg_error_set(err_r, SG_ERR_INVALID, "the message is not "
			     "encrypted (CMS %s, not EnvelopedData)",
			     OBJ_nid2sn(nid));
		return NULL;
	}
	return cms;
}

/* cms_names_cert - a RecipientInfo of cms names cert */
static bool cms_names_cert(CMS_ContentInfo *cms, X509 *cert)
{
	STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(cms);
	int i, j;

	for (i = 0; i < sk_CMS_RecipientInfo_num(ris); i++) {
		CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value(ris, i);
		STACK_OF(CMS_RecipientEncryptedKey) *reks;

		switch (CMS_RecipientInfo_type(ri)) {
		case CMS_RECIPINFO_TRANS:
			if (CMS_RecipientInfo_ktri_cert_cmp(ri, cert) == 0)
				return true;
			break;
		case CMS_RECIPINFO_AGREE:
			reks = CMS_RecipientInfo_kari_get0_reks(ri);
			for (j = 0; j < sk_CMS_RecipientEncryptedKey_num(reks); j++) {
				if (CMS_RecipientEncryptedKey_cert_cmp(
					    sk_CMS_RecipientEncryptedKey_value(reks, j),
					    cert) == 0)
					return true;
			}
			break;
		default:
			break;
		}
	}
	return false;
}

int sg_keystore_decrypt(struct sg_keystore *ks, const char *owner,
			const unsigned char *msg, size_t len,
			unsigned char **out_r, size_t *out_len_r,
			char fpr_r[65], struct sg_error *err_r)
{
	char addr[SG_KS_ADDR_SIZE], **v = NULL;
	CMS_ContentInfo *cms = NULL;
	struct sg_error ferr;
	struct sg_key_info info;
	struct sg_ksf f;
	bool refused = false;
	size_t n = 0, i;
	int ret = -1;

	sg_assert(ks != NULL && msg != NULL && out_r != NULL && out_len_r != NULL);
	*out_r = NULL;
	*out_len_r = 0;
	fpr_r[0] = '\0';
	if (need_master(ks, err_r) < 0)
		return -1;
	if (owner != NULL && !norm_addr(owner, addr)) {
		sg_error_set(err_r, SG_ERR_INVALID, "'%s' is not an address",
			     owner);
		return -1;
	}
	if ((cms = read_cms(msg, len, err_r)) == NULL)
		return -1;
	if (names(ks, owner != NULL ? addr : NULL, NULL, &v, &n, err_r) < 0)
		goto out;
	sg_error_set(err_r, SG_ERR_NOTFOUND, "the message is not encrypted to "
		     "a key of the keystore%s%s", owner != NULL ? " for " : "",
		     owner != NULL ? addr : "");
	for (i = 0; i < n; i++) {
		unsigned char *buf = NULL;
		X509 *cert = NULL;
		struct sg_key *key = NULL;
		BIO *bout;
		char *data;
		long dlen;
		bool match;

		/* the certificate (not secret) decides whether to unwrap */
		if (load_file(ks, v[i], owner != NULL ? addr : NULL, &buf, &f,
			      &cert, &info, &ferr) < 0)
			continue;
		match = cms_names_cert(cms, cert);
		X509_free(cert);
		free(buf);
		if (!match)
			continue;
		if (unwrap_name(ks, v[i], owner != NULL ? addr : NULL, &key,
				&ferr) < 0) {
			if (!refused)
				*err_r = ferr;
			refused = true;
			continue;
		}
		if ((bout = BIO_new(BIO_s_mem())) == NULL) {
			sg_key_free(&key);
			sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
			goto out;
		}
		ERR_clear_error();
		if (CMS_decrypt(cms, key->pkey, sk_X509_value(key->certs, 0),
				NULL, bout, 0) != 1) {
			sg_error_set_openssl(err_r, SG_ERR_CRYPTO, "%s: decryption "
					     "failed", key->info.path);
			if ((dlen = BIO_get_mem_data(bout, &data)) > 0)
				OPENSSL_cleanse(data, (size_t)dlen);
			BIO_free(bout);
			sg_key_free(&key);
			refused = true;
			continue;
		}
		dlen = BIO_get_mem_data(bout, &data);
		if ((*out_r = malloc(dlen > 0 ? (size_t)dlen : 1)) == NULL) {
			OPENSSL_cleanse(data, dlen > 0 ? (size_t)dlen : 0);
			BIO_free(bout);
			sg_key_free(&key);
			sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
			goto out;
		}
		memcpy(*out_r, data, dlen > 0 ? (size_t)dlen : 0);
		*out_len_r = dlen > 0 ? (size_t)dlen : 0;
		sg_strlcpy(fpr_r, key->info.fingerprint, 65);
		OPENSSL_cleanse(data, dlen > 0 ? (size_t)dlen : 0);
		BIO_free(bout);
		sg_key_free(&key);
		sg_error_clear(err_r);
		ret = 0;
		break;
	}
out:
	names_free(v, n);
	CMS_ContentInfo_free(cms);
	return ret;
}

int sg_keystore_rewrap(struct sg_keystore *ks, const struct sg_master *new_m,
		       size_t *n_r, struct sg_error *err_r)
{
	char **v, path[4096];
	struct sg_key_info info;
	struct sg_error ferr;
	struct sg_ksf f;
	size_t n, i;
	bool failed = false;

	sg_assert(ks != NULL && new_m != NULL && n_r != NULL);
	*n_r = 0;
	if (need_master(ks, err_r) < 0)
		return -1;
	if (names(ks, NULL, NULL, &v, &n, err_r) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char *buf = NULL;
		size_t len;

		if (load_file(ks, v[i], NULL, &buf, &f, NULL, &info, &ferr) < 0)
			goto fail_one;
		if (sodium_memcmp(f.master_id, new_m->id, SG_KS_ID_SIZE) == 0) {
			free(buf);
			continue;	/* done by an earlier run */
		}
		len = (size_t)(f.ct + f.ct_len - buf);
		snprintf(path, sizeof(path), "%s/%s", ks->dir, v[i]);
		if (sg_ksf_rewrap(ks->master, new_m, &f, buf, &ferr) < 0 ||
		    sg_ks_write_atomic(path, buf, len, true, &ferr) < 0) {
			free(buf);
			goto fail_one;
		}
		free(buf);
		(*n_r)++;
		continue;
fail_one:
		if (!failed) {
			char msg[sizeof(err_r->msg) + 1100];

			snprintf(msg, sizeof(msg), "%s: %s", info.path, ferr.msg);
			sg_error_set(err_r, ferr.code, "%s", msg);
		}
		failed = true;
	}
	names_free(v, n);
	return failed ? -1 : 0;
}
