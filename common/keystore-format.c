/* keystore-format.c - the keystore's files and their cryptography
 *
 * Two kinds of file, both versioned, both described in DESIGN.md
 * "Keystore": the master key file (a random key, or the Argon2id
 * parameters of a passphrase) and the key file (one stored private key:
 * a header that is the associated data, the data key wrapped by the
 * master key, the private key encrypted with the data key).  Everything
 * here works on memory except the master file and the atomic write; the
 * directory is keystore.c's.
 *
 * Secrets (master key, data keys, plaintext private keys) only ever live
 * in sodium_malloc()ed memory (guard pages, mlock, wiped on free).
 */
#include "keystore-private.h"
#include "sg-base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#define MASTER_MAGIC "SGMASTER"
#define KEYFILE_MAGIC "SGKEYSTR"
#define MAGIC_LEN 8
#define FORMAT_VERSION 1
#define MASTER_KIND_KEY 1
#define MASTER_KIND_PASSPHRASE 2
#define KDF_ARGON2ID13 1
#define AEAD_XCHACHA20POLY1305 1

#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES	/* 24 */
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES	/* 16 */
#define SALT_LEN crypto_pwhash_SALTBYTES			/* 16 */

/* master file: magic, version, kind, 2 reserved; then the key (kind 1)
   or kdf id, 7 reserved, opslimit, memlimit (u64 big-endian), salt,
   master id (kind 2) */
#define MASTER_KEY_FILE_LEN (12 + SG_KS_KEY_SIZE)
#define MASTER_PASS_FILE_LEN (12 + 8 + 8 + 8 + SALT_LEN + SG_KS_ID_SIZE)

/* what a key file may hold at most */
#define KSF_MAX_CERTS_LEN (256 * 1024)
#define KSF_MAX_CT_LEN (64 * 1024)

static void put_u16(unsigned char *p, unsigned int v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void put_u64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* master_id - the keyed BLAKE2b name of a master key (not the key) */
static void master_id(const unsigned char *key, unsigned char id[SG_KS_ID_SIZE])
{
	static const unsigned char label[] = "smimeguard master key id v1";

	crypto_generichash(id, SG_KS_ID_SIZE, label, sizeof(label) - 1,
			   key, SG_KS_KEY_SIZE);
}

/* master_new - an empty master with its key in locked memory */
static struct sg_master *master_new(struct sg_error *err_r)
{
	struct sg_master *m = calloc(1, sizeof(*m));

	if (m == NULL || (m->key = sodium_malloc(SG_KS_KEY_SIZE)) == NULL) {
		free(m);
		sg_error_set(err_r, SG_ERR_NOMEM,
			     "cannot allocate locked memory for the master key");
		return NULL;
	}
	return m;
}

int sg_master_generate(struct sg_master **master_r, struct sg_error *err_r)
{
	struct sg_master *m;

	sg_assert(master_r != NULL);
	*master_r = NULL;
	if ((m = master_new(err_r)) == NULL)
		return -1;
	randombytes_buf(m->key, SG_KS_KEY_SIZE);
	master_id(m->key, m->id);
	*master_r = m;
	return 0;
}

/* kdf_limits - Argon2id opslimit and memlimit of a cost */
static void kdf_limits(enum sg_kdf_cost cost, uint64_t *ops_r, uint64_t *mem_r)
{
	switch (cost) {
	case SG_KDF_INTERACTIVE:
		*ops_r = crypto_pwhash_OPSLIMIT_INTERACTIVE;
		*mem_r = crypto_pwhash_MEMLIMIT_INTERACTIVE;
		return;
	case SG_KDF_MINIMUM:
		*ops_r = crypto_pwhash_OPSLIMIT_MIN;
		*mem_r = crypto_pwhash_MEMLIMIT_MIN;
		return;
	case SG_KDF_MODERATE:
		break;
	}
	*ops_r = crypto_pwhash_OPSLIMIT_MODERATE;
	*mem_r = crypto_pwhash_MEMLIMIT_MODERATE;
}

/* derive - Argon2id of pass into m->key with m's salt and limits */
static int derive(struct sg_master *m, const char *pass, size_t pass_len,
		  struct sg_error *err_r)
{
	if (crypto_pwhash(m->key, SG_KS_KEY_SIZE, pass, pass_len, m->salt,
			  m->opslimit, (size_t)m->memlimit,
			  crypto_pwhash_ALG_ARGON2ID13) != 0) {
		sg_error_set(err_r, SG_ERR_NOMEM, "Argon2id failed (it needs "
			     "%llu MiB of memory)",
			     (unsigned long long)(m->memlimit >> 20));
		return -1;
	}
	return 0;
}

int sg_master_derive(const char *pass, size_t pass_len, enum sg_kdf_cost cost,
		     struct sg_master **master_r, struct sg_error *err_r)
{
	struct sg_master *m;

	sg_assert(pass != NULL && master_r != NULL);
	*master_r = NULL;
	if (pass_len == 0) {
		sg_error_set(err_r, SG_ERR_INVALID, "the passphrase is empty");
		return -1;
	}
	if ((m = master_new(err_r)) == NULL)
		return -1;
	m->passphrase = true;
	kdf_limits(cost, &m->opslimit, &m->memlimit);
	randombytes_buf(m->salt, sizeof(m->salt));
	if (derive(m, pass, pass_len, err_r) < 0) {
		sg_master_free(&m);
		return -1;
	}
	master_id(m->key, m->id);
	*master_r = m;
	return 0;
}

void sg_master_free(struct sg_master **master)
{
	if (master == NULL || *master == NULL)
		return;
	sodium_free((*master)->key);
	sodium_memzero(*master, sizeof(**master));
	free(*master);
	*master = NULL;
}

void sg_master_id(const struct sg_master *master, char id[SG_MASTER_ID_SIZE])
{
	sg_assert(master != NULL);
	sodium_bin2hex(id, SG_MASTER_ID_SIZE, master->id, SG_KS_ID_SIZE);
}

bool sg_master_is_passphrase(const struct sg_master *master)
{
	sg_assert(master != NULL);
	return master->passphrase;
}

/* sg_ks_write_atomic - data into path, mode 0600: a temporary file in
   the same directory, fsync, rename, fsync of the directory */
int sg_ks_write_atomic(const char *path, const unsigned char *data,
		       size_t len, bool replace, struct sg_error *err_r)
{
	char tmp[4096], dir[4096];
	const char *slash;
	size_t off = 0;
	int fd, dfd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp)) {
		sg_error_set(err_r, SG_ERR_INVALID, "%s: path too long", path);
		return -1;
	}
	if (!replace && access(path, F_OK) == 0) {
		sg_error_set(err_r, SG_ERR_IO, "%s exists already: not replaced",
			     path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		sg_error_set(err_r, SG_ERR_IO, "cannot create %s: %s", tmp,
			     strerror(errno));
		return -1;
	}
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		off += (size_t)n;
	}
	if (fchmod(fd, 0600) < 0 || fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (!replace && link(tmp, path) < 0)
		goto fail;
	if (replace && rename(tmp, path) < 0)
		goto fail;
	if (!replace)
		(void)unlink(tmp);
	slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	sg_error_set(err_r, SG_ERR_IO, "cannot write %s: %s", path,
		     strerror(errno));
	if (fd >= 0)
		close(fd);
	(void)unlink(tmp);
	return -1;
}

int sg_master_write(const struct sg_master *m, const char *path, bool replace,
		    struct sg_error *err_r)
{
	unsigned char *buf;
	size_t len;
	int ret;

	sg_assert(m != NULL && path != NULL);
	/* in locked memory: a key file's bytes are the key */
	if ((buf = sodium_malloc(MASTER_PASS_FILE_LEN)) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	memset(buf, 0, MASTER_PASS_FILE_LEN);
	memcpy(buf, MASTER_MAGIC, MAGIC_LEN);
	buf[8] = FORMAT_VERSION;
	if (!m->passphrase) {
		buf[9] = MASTER_KIND_KEY;
		memcpy(buf + 12, m->key, SG_KS_KEY_SIZE);
		len = MASTER_KEY_FILE_LEN;
	} else {
		buf[9] = MASTER_KIND_PASSPHRASE;
		buf[12] = KDF_ARGON2ID13;
		put_u64(buf + 20, m->opslimit);
		put_u64(buf + 28, m->memlimit);
		memcpy(buf + 36, m->salt, SALT_LEN);
		memcpy(buf + 36 + SALT_LEN, m->id, SG_KS_ID_SIZE);
		len = MASTER_PASS_FILE_LEN;
	}
	ret = sg_ks_write_atomic(path, buf, len, replace, err_r);
	sodium_free(buf);
	return ret;
}

/* sg_ks_check_private - a regular file or directory that group and
   others can neither read nor write: 0, or -1 with err_r saying how to
   fix it */
int sg_ks_check_private(int fd, const char *path, bool dir,
			struct sg_error *err_r)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		sg_error_set(err_r, SG_ERR_IO, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
		sg_error_set(err_r, SG_ERR_INVALID, "%s is not a %s", path,
			     dir ? "directory" : "regular file");
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		sg_error_set(err_r, SG_ERR_PERM, "%s has mode %04o: group or "
			     "others can access it; refused (fix: chmod %s %s)",
			     path, (unsigned int)(st.st_mode & 07777),
			     dir ? "700" : "600", path);
		return -1;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		sg_error_set(err_r, SG_ERR_PERM, "%s belongs to uid %lu, "
			     "neither this user nor root; refused", path,
			     (unsigned long)st.st_uid);
		return -1;
	}
	return 0;
}

/* read_master - the master file's bytes into buf; its length or -1 */
static ssize_t read_master(const char *path, unsigned char *buf, size_t size,
			   struct sg_error *err_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n, total = 0;

	if (fd < 0) {
		sg_error_set(err_r, SG_ERR_IO, "cannot open the master key %s: "
			     "%s%s", path, strerror(errno), errno == ENOENT ?
			     " (create one with: smimectl key init)" : "");
		return -1;
	}
	if (sg_ks_check_private(fd, path, false, err_r) < 0) {
		close(fd);
		return -1;
	}
	while ((size_t)total < size) {
		n = read(fd, buf + total, size - (size_t)total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sg_error_set(err_r, SG_ERR_IO, "%s: %s", path,
				     strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		total += n;
	}
	close(fd);
	if (total < 12 || memcmp(buf, MASTER_MAGIC, MAGIC_LEN) != 0) {
		sg_error_set(err_r, SG_ERR_FORMAT, "%s is not a smimeguard "
			     "master key file (no SGMASTER magic)", path);
		return -1;
	}
	if (buf[8] != FORMAT_VERSION) {
		sg_error_set(err_r, SG_ERR_FORMAT, "%s: master key file version "
			     "%u; this build reads version %u", path, buf[8],
			     FORMAT_VERSION);
		return -1;
	}
	if ((buf[9] == MASTER_KIND_KEY && total != MASTER_KEY_FILE_LEN) ||
	    (buf[9] == MASTER_KIND_PASSPHRASE && total != MASTER_PASS_FILE_LEN)) {
		sg_error_set(err_r, SG_ERR_FORMAT, "%s: %zd bytes: truncated or "
			     "damaged master key file", path, total);
		return -1;
	}
	if (buf[9] != MASTER_KIND_KEY && buf[9] != MASTER_KIND_PASSPHRASE) {
		sg_error_set(err_r, SG_ERR_FORMAT, "%s: unknown master key kind "
			     "%u", path, buf[9]);
		return -1;
	}
	return total;
}

int sg_master_needs_passphrase(const char *path, bool *needs_r,
			       struct sg_error *err_r)
{
	unsigned char *buf = sodium_malloc(MASTER_PASS_FILE_LEN + 1);
	int ret = 0;

	sg_assert(path != NULL && needs_r != NULL);
	if (buf == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	if (read_master(path, buf, MASTER_PASS_FILE_LEN + 1, err_r) < 0)
		ret = -1;
	else
		*needs_r = buf[9] == MASTER_KIND_PASSPHRASE;
	sodium_free(buf);
	return ret;
}

int sg_master_load(const char *path, const char *pass, size_t pass_len,
		   struct sg_master **master_r, struct sg_error *err_r)
{
	unsigned char *buf = sodium_malloc(MASTER_PASS_FILE_LEN + 1);
	struct sg_master *m = NULL;
	unsigned char id[SG_KS_ID_SIZE];
	uint64_t ops, mem;

	sg_assert(path != NULL && master_r != NULL);
	*master_r = NULL;
	if (buf == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	if (read_master(path, buf, MASTER_PASS_FILE_LEN + 1, err_r) < 0 ||
	    (m = master_new(err_r)) == NULL)
		goto fail;
	if (buf[9] == MASTER_KIND_KEY) {
		memcpy(m->key, buf + 12, SG_KS_KEY_SIZE);
		master_id(m->key, m->id);
		goto done;
	}
	if (pass == NULL) {
		sg_error_set(err_r, SG_ERR_AUTH, "%s is a passphrase master "
			     "key: a passphrase is needed", path);
		goto fail;
	}
	ops = get_u64(buf + 20);
	mem = get_u64(buf + 28);
	if (buf[12] != KDF_ARGON2ID13 ||
	    ops < crypto_pwhash_OPSLIMIT_MIN || ops > crypto_pwhash_OPSLIMIT_SENSITIVE * 4 ||
	    mem < crypto_pwhash_MEMLIMIT_MIN ||
	    mem > (uint64_t)crypto_pwhash_MEMLIMIT_SENSITIVE * 4) {
		sg_error_set(err_r, SG_ERR_FORMAT, "%s: unknown key derivation "
			     "(id %u) or parameters out of range (opslimit %llu, "
			     "memlimit %llu)", path, buf[12],
			     (unsigned long long)ops, (unsigned long long)mem);
		goto fail;
	}
	m->passphrase = true;
	m->opslimit = ops;
	m->memlimit = mem;
	memcpy(m->salt, buf + 36, SALT_LEN);
	if (derive(m, pass, pass_len, err_r) < 0)
		goto fail;
	master_id(m->key, id);
	if (sodium_memcmp(id, buf + 36 + SALT_LEN, SG_KS_ID_SIZE) != 0) {
		sg_error_set(err_r, SG_ERR_AUTH, "wrong passphrase for the "
			     "master key %s", path);
		goto fail;
	}
	memcpy(m->id, id, SG_KS_ID_SIZE);
done:
	sodium_free(buf);
	*master_r = m;
	return 0;
fail:
	sodium_free(buf);
	sg_master_free(&m);
	return -1;
}

/* ---- key files ---- */

/* the header (the associated data): magic, version, payload algorithm,
   wrap algorithm, reserved, stored (u64), fingerprint (32), addresses
   (u16 count; each u16 length + bytes), certificates (u32 length +
   concatenated DER).  Then the wrap section: master id (8), nonce (24),
   wrapped data key (32 + 16); then the payload: nonce (24), u32 length,
   ciphertext with tag. */
#define HDR_FIXED (MAGIC_LEN + 4 + 8 + 32)
#define WRAP_LEN (SG_KS_ID_SIZE + NONCE_LEN + SG_KS_KEY_SIZE + TAG_LEN)

/* reader - bounds-checked reading of a key file */
struct reader {
	const unsigned char *p, *end;
	bool short_read;
};

static const unsigned char *take(struct reader *r, size_t n)
{
	const unsigned char *p = r->p;

	if (r->short_read || (size_t)(r->end - r->p) < n) {
		r->short_read = true;
		return NULL;
	}
	r->p += n;
	return p;
}

static unsigned int take_u16(struct reader *r)
{
	const unsigned char *p = take(r, 2);

	return p == NULL ? 0 : (unsigned int)(p[0] << 8 | p[1]);
}

static uint32_t take_u32(struct reader *r)
{
	const unsigned char *p = take(r, 4);

	return p == NULL ? 0 : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
			       (uint32_t)p[2] << 8 | p[3];
}

/* sg_ks_addr_ok - a normalised (lower-case) address: printable ASCII
   or UTF-8 without controls and spaces, one '@' with text around it */
bool sg_ks_addr_ok(const char *a, size_t len)
{
	size_t i, at = 0, n_at = 0;

	if (len == 0 || len >= SG_KS_ADDR_SIZE)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)a[i];

		if (c <= 0x20 || c == 0x7f || (c >= 'A' && c <= 'Z'))
			return false;
		if (c == '@') {
			n_at++;
			at = i;
		}
	}
	return n_at == 1 && at > 0 && at + 1 < len;
}

int sg_ksf_parse(const unsigned char *buf, size_t len, struct sg_ksf *f_r,
		 struct sg_error *err_r)
{
	struct reader r = { buf, buf + len, false };
	const unsigned char *p;
	unsigned int n, i, alen;

	memset(f_r, 0, sizeof(*f_r));
	if (len < MAGIC_LEN || memcmp(buf, KEYFILE_MAGIC, MAGIC_LEN) != 0) {
		sg_error_set(err_r, SG_ERR_FORMAT, "not a smimeguard key file "
			     "(no SGKEYSTR magic)");
		return -1;
	}
	if ((p = take(&r, HDR_FIXED)) == NULL)
		goto truncated;
	if (p[8] != FORMAT_VERSION) {
		sg_error_set(err_r, SG_ERR_FORMAT, "key file version %u; this "
			     "build reads version %u", p[8], FORMAT_VERSION);
		return -1;
	}
	if (p[9] != AEAD_XCHACHA20POLY1305 || p[10] != AEAD_XCHACHA20POLY1305 ||
	    p[11] != 0) {
		sg_error_set(err_r, SG_ERR_FORMAT, "key file algorithms %u/%u "
			     "(flags %u) unknown; this build knows %u "
			     "(XChaCha20-Poly1305-IETF)", p[9], p[10], p[11],
			     AEAD_XCHACHA20POLY1305);
		return -1;
	}
	f_r->stored = (time_t)get_u64(p + 12);
	memcpy(f_r->fpr, p + 20, 32);
	n = take_u16(&r);
	if (n == 0 || n > SG_KS_MAX_ADDRS) {
		if (r.short_read)
			goto truncated;
		sg_error_set(err_r, SG_ERR_FORMAT, "key file with %u addresses "
			     "(1 to %u)", n, SG_KS_MAX_ADDRS);
		return -1;
	}
	for (i = 0; i < n; i++) {
		alen = take_u16(&r);
		if ((p = take(&r, alen)) == NULL)
			goto truncated;
		if (!sg_ks_addr_ok((const char *)p, alen)) {
			sg_error_set(err_r, SG_ERR_FORMAT, "key file address %u "
				     "is not a lower-case address", i + 1);
			return -1;
		}
		memcpy(f_r->addrs[i], p, alen);
		f_r->addrs[i][alen] = '\0';
		if (i > 0 && strcmp(f_r->addrs[i - 1], f_r->addrs[i]) >= 0) {
			sg_error_set(err_r, SG_ERR_FORMAT, "key file addresses "
				     "not in sorted order");
			return -1;
		}
	}
	f_r->n_addrs = n;
	f_r->certs_len = take_u32(&r);
	if (f_r->certs_len == 0 || f_r->certs_len > KSF_MAX_CERTS_LEN) {
		if (r.short_read)
			goto truncated;
		sg_error_set(err_r, SG_ERR_FORMAT, "key file certificates of "
			     "%zu bytes", f_r->certs_len);
		return -1;
	}
	if ((f_r->certs = take(&r, f_r->certs_len)) == NULL)
		goto truncated;
	f_r->header = buf;
	f_r->header_len = (size_t)(r.p - buf);
	f_r->wrap_offset = f_r->header_len;
	if ((p = take(&r, WRAP_LEN)) == NULL)
		goto truncated;
	memcpy(f_r->master_id, p, SG_KS_ID_SIZE);
	f_r->wrap_nonce = p + SG_KS_ID_SIZE;
	f_r->wrapped_dk = p + SG_KS_ID_SIZE + NONCE_LEN;
	if ((f_r->nonce = take(&r, NONCE_LEN)) == NULL)
		goto truncated;
	f_r->ct_len = take_u32(&r);
	if (!r.short_read && (f_r->ct_len <= TAG_LEN || f_r->ct_len > KSF_MAX_CT_LEN)) {
		sg_error_set(err_r, SG_ERR_FORMAT, "key file ciphertext of %zu "
			     "bytes", f_r->ct_len);
		return -1;
	}
	if ((f_r->ct = take(&r, f_r->ct_len)) == NULL)
		goto truncated;
	if (r.p != r.end) {
		sg_error_set(err_r, SG_ERR_FORMAT, "key file with %zu bytes "
			     "after its end", (size_t)(r.end - r.p));
		return -1;
	}
	return 0;
truncated:
	sg_error_set(err_r, SG_ERR_FORMAT, "truncated key file (%zu bytes)",
		     len);
	return -1;
}

/* wrap_ad - the associated data of the data key: header || master id */
static unsigned char *wrap_ad(const unsigned char *header, size_t header_len,
			      const unsigned char *id, size_t *len_r)
{
	unsigned char *ad = malloc(header_len + SG_KS_ID_SIZE);

	if (ad != NULL) {
		memcpy(ad, header, header_len);
		memcpy(ad + header_len, id, SG_KS_ID_SIZE);
		*len_r = header_len + SG_KS_ID_SIZE;
	}
	return ad;
}

/* put_wrap - the wrap section for dk under m at out (WRAP_LEN bytes) */
static int put_wrap(const struct sg_master *m, const unsigned char *header,
		    size_t header_len, const unsigned char *dk,
		    unsigned char *out, struct sg_error *err_r)
{
	size_t ad_len = 0;
	unsigned char *ad = wrap_ad(header, header_len, m->id, &ad_len);

	if (ad == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	memcpy(out, m->id, SG_KS_ID_SIZE);
	randombytes_buf(out + SG_KS_ID_SIZE, NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
		out + SG_KS_ID_SIZE + NONCE_LEN, NULL, dk, SG_KS_KEY_SIZE,
		ad, ad_len, NULL, out + SG_KS_ID_SIZE, m->key);
	free(ad);
	return 0;
}

int sg_ksf_seal(const struct sg_master *m, const unsigned char fpr[32],
		const char *const *addrs, size_t n_addrs,
		const unsigned char *certs, size_t certs_len, time_t stored,
		const unsigned char *pt, size_t pt_len, struct sg_buf *out,
		struct sg_error *err_r)
{
	unsigned char fixed[HDR_FIXED], u[4], *dk = NULL;
	size_t i, header_len, off;

	sg_assert(m != NULL && n_addrs > 0 && n_addrs <= SG_KS_MAX_ADDRS);
	if (certs_len == 0 || certs_len > KSF_MAX_CERTS_LEN ||
	    pt_len == 0 || pt_len > KSF_MAX_CT_LEN - TAG_LEN) {
		sg_error_set(err_r, SG_ERR_INVALID, "key (%zu bytes) or "
			     "certificates (%zu bytes) too large to store",
			     pt_len, certs_len);
		return -1;
	}
	memset(fixed, 0, sizeof(fixed));
	memcpy(fixed, KEYFILE_MAGIC, MAGIC_LEN);
	fixed[8] = FORMAT_VERSION;
	fixed[9] = AEAD_XCHACHA20POLY1305;
	fixed[10] = AEAD_XCHACHA20POLY1305;
	put_u64(fixed + 12, (uint64_t)stored);
	memcpy(fixed + 20, fpr, 32);
	if (sg_buf_append(out, fixed, sizeof(fixed)) < 0)
		goto nomem;
	put_u16(u, (unsigned int)n_addrs);
	if (sg_buf_append(out, u, 2) < 0)
		goto nomem;
	for (i = 0; i < n_addrs; i++) {
		size_t alen = strlen(addrs[i]);

		sg_assert(sg_ks_addr_ok(addrs[i], alen));
		sg_assert(i == 0 || strcmp(addrs[i - 1], addrs[i]) < 0);
		put_u16(u, (unsigned int)alen);
		if (sg_buf_append(out, u, 2) < 0 ||
		    sg_buf_append(out, addrs[i], alen) < 0)
			goto nomem;
	}
	put_u32(u, (uint32_t)certs_len);
	if (sg_buf_append(out, u, 4) < 0 ||
	    sg_buf_append(out, certs, certs_len) < 0)
		goto nomem;
	header_len = out->used;
	if (sg_buf_reserve(out, WRAP_LEN + NONCE_LEN + 4 + pt_len + TAG_LEN) < 0)
		goto nomem;
	if ((dk = sodium_malloc(SG_KS_KEY_SIZE)) == NULL)
		goto nomem;
	crypto_aead_xchacha20poly1305_ietf_keygen(dk);
	if (put_wrap(m, out->data, header_len, dk, out->data + header_len,
		     err_r) < 0)
		goto fail;
	off = header_len + WRAP_LEN;
	randombytes_buf(out->data + off, NONCE_LEN);
	put_u32(out->data + off + NONCE_LEN, (uint32_t)(pt_len + TAG_LEN));
	crypto_aead_xchacha20poly1305_ietf_encrypt(
		out->data + off + NONCE_LEN + 4, NULL, pt, pt_len,
		out->data, header_len, NULL, out->data + off, dk);
	out->used = off + NONCE_LEN + 4 + pt_len + TAG_LEN;
	sodium_free(dk);
	return 0;
nomem:
	sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
fail:
	sodium_free(dk);
	return -1;
}

/* unwrap_dk - the data key of f under m (sodium_malloc()ed), or NULL */
static unsigned char *unwrap_dk(const struct sg_master *m,
				const struct sg_ksf *f, struct sg_error *err_r)
{
	unsigned char *dk, *ad;
	size_t ad_len = 0;
	char want[SG_MASTER_ID_SIZE], have[SG_MASTER_ID_SIZE];

	if (sodium_memcmp(f->master_id, m->id, SG_KS_ID_SIZE) != 0) {
		sodium_bin2hex(want, sizeof(want), f->master_id, SG_KS_ID_SIZE);
		sodium_bin2hex(have, sizeof(have), m->id, SG_KS_ID_SIZE);
		sg_error_set(err_r, SG_ERR_AUTH, "wrapped under another master "
			     "key (id %s; the master key in use is %s): wrong "
			     "master key or passphrase", want, have);
		return NULL;
	}
	if ((ad = wrap_ad(f->header, f->header_len, f->master_id, &ad_len)) == NULL ||
	    (dk = sodium_malloc(SG_KS_KEY_SIZE)) == NULL) {
		free(ad);
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    dk, NULL, NULL, f->wrapped_dk, SG_KS_KEY_SIZE + TAG_LEN,
		    ad, ad_len, f->wrap_nonce, m->key) != 0) {
		sg_error_set(err_r, SG_ERR_AUTH, "the wrapped data key does not "
			     "authenticate: the file was altered (its header, "
			     "addresses or certificate) or the master key is "
			     "not the one it was wrapped with");
		sodium_free(dk);
		dk = NULL;
	}
	free(ad);
	return dk;
}

int sg_ksf_open(const struct sg_master *m, const struct sg_ksf *f,
		unsigned char **pt_r, size_t *pt_len_r, struct sg_error *err_r)
{
	unsigned char *dk, *pt;
	size_t pt_len = f->ct_len - TAG_LEN;

	*pt_r = NULL;
	if ((dk = unwrap_dk(m, f, err_r)) == NULL)
		return -1;
	if ((pt = sodium_malloc(pt_len)) == NULL) {
		sodium_free(dk);
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    pt, NULL, NULL, f->ct, f->ct_len, f->header, f->header_len,
		    f->nonce, dk) != 0) {
		sodium_free(dk);
		sodium_free(pt);
		sg_error_set(err_r, SG_ERR_AUTH, "the encrypted key does not "
			     "authenticate: the file was altered");
		return -1;
	}
	sodium_free(dk);
	*pt_r = pt;
	*pt_len_r = pt_len;
	return 0;
}

int sg_ksf_rewrap(const struct sg_master *old, const struct sg_master *new_m,
		  const struct sg_ksf *f, unsigned char *buf,
		  struct sg_error *err_r)
{
	unsigned char *dk, *pt;
	size_t pt_len;
	int ret;

	/* the payload must open too: never rewrap a damaged file into
	   one that looks fresh */
	if (sg_ksf_open(old, f, &pt, &pt_len, err_r) < 0)
		return -1;
	sodium_free(pt);
	if ((dk = unwrap_dk(old, f, err_r)) == NULL)
		return -1;
	ret = put_wrap(new_m, f->header, f->header_len, dk,
		       buf + f->wrap_offset, err_r);
	sodium_free(dk);
	return ret;
}
