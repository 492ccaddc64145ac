/* certmap-dir.c - the dir: certificate map
 *
 * A directory of certificates, any file names: PEM files (several
 * CERTIFICATE or PKCS7 blocks each; other blocks, such as keys, are
 * skipped) and DER files (one certificate or a PKCS#7 certs-only bundle).
 * Names starting with '.' are skipped (temporary files of harvest.c).
 *
 * Indexing must stay cheap with tens of thousands of files: OpenSSL 3.0
 * spends ~230 us decoding one certificate (mostly its public key), so the
 * index is built from a small DER walk that reads only notBefore, the
 * subject's emailAddress and the subjectAltName (rfc822Name and
 * SmtpUTF8Mailbox).  Certificates are fully decoded only when looked up
 * (cert-select.c), and that evaluation is cached per certificate.
 *
 * The index is an open-addressing hash table over address groups, keyed
 * with SipHash and a random key per map (crafted addresses cannot force
 * collisions).  Addresses compare case-insensitively (ASCII), local part
 * included, as mail systems do in practice.
 *
 * Refresh: the directory's stamp (device, inode, mtime, ctime) is checked
 * at most once a second; when it changed, or at least once a minute, every
 * file is stat()ed and only new or changed files (device, inode, size,
 * mtime, ctime) are read again; unchanged ones keep their cached
 * evaluations.
 *
 * The index file: a new process would open and read every file (about
 * 20 us each: 200 ms for 10,000), so a map of DM_INDEX_MIN_FILES files or
 * more keeps what it read in DIR/.sg-index (the records above: name,
 * stamp and each indexed certificate's DER, then a SHA-256 checksum),
 * written by any process that can write the directory, atomically, after
 * a rescan that had to read DM_INDEX_STALE files or more.  A first load
 * takes the index's records as if an earlier scan had read them, so only
 * files whose stamp differs are read; what the index says never outlives
 * a change to a file (its ctime changes, whoever writes it).  The index
 * is used only when it is a regular file owned by the directory's owner
 * or by this process's user and not writable by group or others (whoever
 * may write it could write a certificate file just as well); a damaged
 * or foreign index is ignored, never trusted.
 */
#include "dirmap-private.h"
#include "sg-base.h"
#include "der-scan.h"
#include "maps-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <sodium.h>

#define DM_MAX_FILE_SIZE (8 * 1024 * 1024)	/* larger: not certificates */
#define DM_CHECK_NS 1000000000LL		/* directory stamp: 1 s */
#define DM_FULL_NS (60 * 1000000000LL)		/* every file: 1 min */
#define DM_INDEX_NAME ".sg-index"
#define DM_INDEX_MAGIC "smimeguard dir: index 1\n"
#define DM_INDEX_MIN_FILES 256			/* smaller maps load fast */
#define DM_INDEX_STALE 64			/* files read: write again */
#define DM_INDEX_MAX_SIZE (1024UL * 1024 * 1024)

struct dm_cert {
	struct sg_dirmap_cert pub;
	const char *norm;		/* n_norm lower-cased addresses, NUL
					   separated */
	size_t n_norm;
	/* the strings and the DER follow */
};

struct dm_file {
	char *name;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	struct dm_cert **certs;
	size_t n_certs;
	bool moved;			/* rescan: taken over by the new list */
};

struct dm_posting {
	uint64_t hash;
	const char *addr;
	struct dm_cert *cert;
};

struct sg_dirmap {
	char *path;
	unsigned char key[crypto_shorthash_KEYBYTES];
	bool loaded, dirty, failed;
	char fail_msg[sizeof(((struct sg_error *)0)->msg)];
	long long last_check, last_full;	/* monotonic ns */
	dev_t dev;
	ino_t ino;
	struct timespec mtime, ctime;
	struct dm_file *files;			/* sorted by name */
	size_t n_files;
	size_t n_certs;
	struct dm_posting *postings;		/* grouped by address */
	size_t n_postings;
	uint32_t *table;			/* group start + 1, 0 = free */
	size_t table_size;			/* a power of two */
	struct sg_dirmap_cert **found;		/* sg_dirmap_find's answer */
	size_t found_size;
	size_t files_read;			/* by the last rescan */
	size_t index_used;			/* records taken from the index
						   file by the first load */
	size_t unindexed;			/* files read since the index
						   file was read or written */
	bool index_tried, index_unwritable;
};

/* ---- files ---- */

/* sg_dirmap_norm_addr - an address as the index keys it */
bool sg_dirmap_norm_addr(const char *in, char *out, size_t size)
{
	size_t i;

	for (i = 0; in[i] != '\0'; i++) {
		unsigned char c = (unsigned char)in[i];

		if (i + 1 >= size || c < 0x21 || c == 0x7f)
			return false;
		out[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : (char)c;
	}
	out[i] = '\0';
	return i > 0;
}

/* cert_free - one certificate record and its cached evaluation */
static void cert_free(struct dm_cert *c)
{
	if (c == NULL)
		return;
	free(c->pub.eval);	/* one block (cert-select.c) */
	free(c);
}

/* file_free - one file record and its certificates */
static void file_free(struct dm_file *f)
{
	size_t i;

	for (i = 0; i < f->n_certs; i++)
		cert_free(f->certs[i]);
	free(f->certs);
	free(f->name);
	f->certs = NULL;
	f->n_certs = 0;
	f->name = NULL;
}

/* add_cert - index the certificate at der (first element); returns its
   length, 0 when it is not a certificate, -1 on out of memory */
static long add_cert(struct dm_file *f, const unsigned char *der, size_t len)
{
	struct sg_der_addrs *al;
	struct dm_cert *c, **certs;
	size_t cert_len, emails_len = 0, norm_len = 0, i;
	time_t nb;
	char *p;
	long ret;

	if ((al = malloc(sizeof(*al))) == NULL)
		return -1;
	if (sg_der_scan_cert(der, len, &cert_len, &nb, al) < 0 || cert_len > LONG_MAX) {
		free(al);
		return 0;
	}
	ret = (long)cert_len;
	if (al->n == 0) {
		free(al);	/* no address (a CA certificate): not indexed */
		return ret;
	}
	for (i = 0; i < al->n; i++) {
		emails_len += strlen(al->a[i]) + 2;
		norm_len += strlen(al->a[i]) + 1;
	}
	certs = realloc(f->certs, (f->n_certs + 1) * sizeof(*certs));
	if (certs == NULL ||
	    (c = calloc(1, sizeof(*c) + emails_len + norm_len + cert_len)) == NULL) {
		if (certs != NULL)
			f->certs = certs;
		free(al);
		return -1;
	}
	f->certs = certs;
	p = (char *)(c + 1);
	c->pub.emails = p;
	for (i = 0; i < al->n; i++)
		p += sprintf(p, "%s%s", i > 0 ? ", " : "", al->a[i]);
	p++;
	c->norm = p;
	for (i = 0; i < al->n; i++) {
		sg_dirmap_norm_addr(al->a[i], p, SG_DER_ADDR_SIZE);
		p += strlen(p) + 1;
	}
	c->n_norm = al->n;
	memcpy(p, der, cert_len);
	c->pub.der = (const unsigned char *)p;
	c->pub.der_len = cert_len;
	/* OpenSSL's SHA-256 (SHA-NI where the CPU has it): libsodium's
	   portable one took 2 us a certificate, 20 ms for 10,000 */
	if (EVP_Digest(c->pub.der, cert_len, c->pub.fpr, NULL, EVP_sha256(),
		       NULL) != 1) {
		sg_openssl_errors(NULL, 0);
		free(c);
		free(al);
		return -1;
	}
	c->pub.not_before = nb;
	c->pub.source = f->name;
	f->certs[f->n_certs++] = c;
	free(al);
	return ret;
}

/* add_pkcs7_ber - a PKCS#7 bundle the DER walk cannot read (BER with
   indefinite lengths, as some Windows exports are): OpenSSL decodes it */
static int add_pkcs7_ber(struct dm_file *f, const unsigned char *der,
			 size_t len)
{
	const unsigned char *p = der;
	STACK_OF(X509) *certs = NULL;
	PKCS7 *p7;
	int i, ret = 0;

	if (len > LONG_MAX || (p7 = d2i_PKCS7(NULL, &p, (long)len)) == NULL) {
		sg_openssl_errors(NULL, 0);
		return 0;
	}
	if (PKCS7_type_is_signed(p7) && p7->d.sign != NULL)
		certs = p7->d.sign->cert;
	for (i = 0; i < sk_X509_num(certs) && ret == 0; i++) {
		unsigned char *one = NULL;
		int n = i2d_X509(sk_X509_value(certs, i), &one);

		if (n > 0 && add_cert(f, one, (size_t)n) < 0)
			ret = -1;
		OPENSSL_free(one);
	}
	PKCS7_free(p7);
	sg_openssl_errors(NULL, 0);
	return ret;
}

/* add_pkcs7 - the certificates of a PKCS#7 SignedData (certs-only) */
static int add_pkcs7(struct dm_file *f, const unsigned char *der, size_t len)
{
	static const unsigned char oid_signed[] = {
		0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02
	};
	struct sg_der top = { der, der + len }, ci, oid, expl, sd, el;
	unsigned int tag;
	long n;

	if (len >= 2 && der[0] == 0x30 && der[1] == 0x80)
		return add_pkcs7_ber(f, der, len);
	if (sg_der_next(&top, &tag, &ci) < 0 || tag != 0x30 ||
	    sg_der_next(&ci, &tag, &oid) < 0 || tag != 0x06 ||
	    !sg_der_is(&oid, oid_signed, sizeof(oid_signed)) ||
	    sg_der_next(&ci, &tag, &expl) < 0 || tag != 0xa0 ||
	    sg_der_next(&expl, &tag, &sd) < 0 || tag != 0x30)
		return add_pkcs7_ber(f, der, len);
	/* version, digestAlgorithms, encapContentInfo, [0] certificates */
	while (sd.p < sd.end) {
		if (sg_der_next(&sd, &tag, &el) < 0)
			return 0;
		if (tag != 0xa0)
			continue;
		while (el.p < el.end) {
			n = add_cert(f, el.p, (size_t)(el.end - el.p));
			if (n < 0)
				return -1;
			if (n == 0)
				break;
			el.p += n;
		}
		break;
	}
	return 0;
}

/* add_der - a DER file: a certificate or a PKCS#7 bundle */
static int add_der(struct dm_file *f, const unsigned char *der, size_t len)
{
	struct sg_der top = { der, der + len }, seq, first;
	unsigned int tag;

	if (len >= 3 && der[0] == 0x30 && der[1] == 0x80 && der[2] == 0x06)
		return add_pkcs7_ber(f, der, len);	/* BER ContentInfo */
	if (sg_der_next(&top, &tag, &seq) < 0 || tag != 0x30 ||
	    sg_der_next(&seq, &tag, &first) < 0)
		return 0;
	if (tag == 0x06)
		return add_pkcs7(f, der, len);
	return add_cert(f, der, len) < 0 ? -1 : 0;
}

/* add_pem - every CERTIFICATE and PKCS7 block of a PEM file */
static int add_pem(struct dm_file *f, const unsigned char *data, size_t len)
{
	BIO *bio;
	int ret = 0;

	if (len > INT_MAX || (bio = BIO_new_mem_buf(data, (int)len)) == NULL)
		return -1;
	while (ret == 0) {
		char *name = NULL, *header = NULL;
		unsigned char *der = NULL;
		long dlen = 0;

		if (PEM_read_bio(bio, &name, &header, &der, &dlen) != 1)
			break;
		if (strcmp(name, "CERTIFICATE") == 0 ||
		    strcmp(name, "X509 CERTIFICATE") == 0 ||
		    strcmp(name, "TRUSTED CERTIFICATE") == 0)
			ret = add_cert(f, der, (size_t)dlen) < 0 ? -1 : 0;
		else if (strcmp(name, "PKCS7") == 0)
			ret = add_pkcs7(f, der, (size_t)dlen);
		OPENSSL_free(name);
		OPENSSL_free(header);
		/* the block may have been a private key */
		OPENSSL_clear_free(der, dlen > 0 ? (size_t)dlen : 0);
	}
	sg_openssl_errors(NULL, 0);	/* the end-of-data "error" */
	BIO_free(bio);
	return ret;
}

/* load_file - read and index one file; -1 on out of memory only (an
   unreadable or foreign file indexes nothing) */
static int load_file(int dfd, struct dm_file *f)
{
	unsigned char *data;
	struct stat st;
	size_t used = 0;
	ssize_t n;
	int fd, ret;

	fd = openat(dfd, f->name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > DM_MAX_FILE_SIZE || st.st_size == 0) {
		close(fd);
		return 0;
	}
	if ((data = malloc((size_t)st.st_size)) == NULL) {
		close(fd);
		return -1;
	}
	while (used < (size_t)st.st_size) {
		n = read(fd, data + used, (size_t)st.st_size - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	if (memmem(data, used, "-----BEGIN ", 11) != NULL)
		ret = add_pem(f, data, used);
	else
		ret = add_der(f, data, used);
	OPENSSL_cleanse(data, used);	/* it may have held a key */
	free(data);
	return ret;
}

/* same_stamp - is the file unchanged since it was read */
static bool same_stamp(const struct dm_file *f, const struct stat *st)
{
	return f->dev == st->st_dev && f->ino == st->st_ino &&
	       f->size == st->st_size &&
	       f->mtime.tv_sec == st->st_mtim.tv_sec &&
	       f->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       f->ctime.tv_sec == st->st_ctim.tv_sec &&
	       f->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/* cmp_file - qsort by file name */
static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct dm_file *)a)->name,
		      ((const struct dm_file *)b)->name);
}

/* old_file - the record of name from the previous scan, or NULL */
static struct dm_file *old_file(struct sg_dirmap *dm, const char *name)
{
	size_t lo = 0, hi = dm->n_files;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, dm->files[mid].name);

		if (c == 0)
			return &dm->files[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* ---- the index ---- */

/* addr_hash - SipHash of an address with the map's key */
/* cmp_posting - qsort by hash, address, file, fingerprint */
static int cmp_posting(const void *a, const void *b)
{
	const struct dm_posting *x = a, *y = b;
	int c;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if ((c = strcmp(x->addr, y->addr)) != 0)
		return c;
	/* stable order inside a group: file name, then position */
	if ((c = strcmp(x->cert->pub.source, y->cert->pub.source)) != 0)
		return c;
	return memcmp(x->cert->pub.fpr, y->cert->pub.fpr, 32);
}

/* build_index - postings grouped by address and the hash table */
static int build_index(struct sg_dirmap *dm)
{
	struct dm_posting *postings = NULL;
	uint32_t *table = NULL;
	size_t n = 0, i, j, k, groups = 0, size = 16;
	const char *a;

	dm->n_certs = 0;
	for (i = 0; i < dm->n_files; i++) {
		for (j = 0; j < dm->files[i].n_certs; j++)
			n += dm->files[i].certs[j]->n_norm;
		dm->n_certs += dm->files[i].n_certs;
	}
	if (n > UINT32_MAX / 4)
		return -1;
	if (n > 0 && (postings = malloc(n * sizeof(*postings))) == NULL)
		return -1;
	n = 0;
	for (i = 0; i < dm->n_files; i++) {
		for (j = 0; j < dm->files[i].n_certs; j++) {
			struct dm_cert *c = dm->files[i].certs[j];

			for (k = 0, a = c->norm; k < c->n_norm;
			     k++, a += strlen(a) + 1) {
				postings[n].hash = sg_addr_hash(dm->key, a);
				postings[n].addr = a;
				postings[n].cert = c;
				n++;
			}
		}
	}
	if (n > 0)
		qsort(postings, n, sizeof(*postings), cmp_posting);
	for (i = 0; i < n; i++) {
		if (i == 0 || strcmp(postings[i].addr, postings[i - 1].addr) != 0)
			groups++;
	}
	while (size < groups * 2)
		size *= 2;
	if ((table = calloc(size, sizeof(*table))) == NULL) {
		free(postings);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(postings[i].addr, postings[i - 1].addr) == 0)
			continue;
		for (k = postings[i].hash & (size - 1); table[k] != 0;
		     k = (k + 1) & (size - 1))
			;
		table[k] = (uint32_t)i + 1;
	}
	free(dm->postings);
	free(dm->table);
	dm->postings = postings;
	dm->n_postings = n;
	dm->table = table;
	dm->table_size = size;
	return 0;
}

/* ---- the map ---- */

/* sg_dirmap_new - a map of path, read on the first refresh */
struct sg_dirmap *sg_dirmap_new(const char *path)
{
	struct sg_dirmap *dm = calloc(1, sizeof(*dm));

	if (dm == NULL)
		return NULL;
	if ((dm->path = strdup(path)) == NULL) {
		free(dm);
		return NULL;
	}
	randombytes_buf(dm->key, sizeof(dm->key));
	return dm;
}

/* sg_dirmap_free - free and set *dm to NULL; NULL-safe */
void sg_dirmap_free(struct sg_dirmap **dmp)
{
	struct sg_dirmap *dm = *dmp;
	size_t i;

	if (dm == NULL)
		return;
	for (i = 0; i < dm->n_files; i++)
		file_free(&dm->files[i]);
	free(dm->files);
	free(dm->postings);
	free(dm->table);
	free(dm->found);
	free(dm->path);
	free(dm);
	*dmp = NULL;
}

/* sg_dirmap_path - the directory */
const char *sg_dirmap_path(const struct sg_dirmap *dm)
{
	return dm->path;
}

/* sg_dirmap_count - certificates indexed */
size_t sg_dirmap_count(const struct sg_dirmap *dm)
{
	return dm->n_certs;
}

/* sg_dirmap_invalidate - rescan at the next refresh */
void sg_dirmap_invalidate(struct sg_dirmap *dm)
{
	dm->dirty = true;
}

/* sg_dirmap_files_read - files the last rescan read (tests, doctor) */
size_t sg_dirmap_files_read(const struct sg_dirmap *dm, size_t *from_index_r)
{
	if (from_index_r != NULL)
		*from_index_r = dm->index_used;
	return dm->files_read;
}

/* ---- the index file ---- */

struct ix_buf {
	unsigned char *p;
	size_t len, size;
	bool failed;
};

static void ix_put(struct ix_buf *b, const void *data, size_t len)
{
	if (b->failed)
		return;
	if (b->len + len > b->size) {
		size_t size = b->size == 0 ? 65536 : b->size;
		unsigned char *p;

		while (size < b->len + len)
			size *= 2;
		if (size > DM_INDEX_MAX_SIZE || (p = realloc(b->p, size)) == NULL) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->size = size;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

/* ix_put_u64 - little-endian, whatever the machine */
static void ix_put_u64(struct ix_buf *b, uint64_t v)
{
	unsigned char x[8];
	int i;

	for (i = 0; i < 8; i++)
		x[i] = (unsigned char)(v >> (8 * i));
	ix_put(b, x, sizeof(x));
}

struct ix_reader {
	const unsigned char *p, *end;
	bool bad;
};

static uint64_t ix_get_u64(struct ix_reader *r)
{
	uint64_t v = 0;
	int i;

	if (r->bad || r->end - r->p < 8) {
		r->bad = true;
		return 0;
	}
	for (i = 0; i < 8; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += 8;
	return v;
}

static const unsigned char *ix_get(struct ix_reader *r, uint64_t len)
{
	const unsigned char *p = r->p;

	if (r->bad || (uint64_t)(r->end - r->p) < len) {
		r->bad = true;
		return NULL;
	}
	r->p += len;
	return p;
}

/* index_write - DIR/.sg-index from the files now known; failures only
   cost the next process time (a read-only directory is remembered) */
static void index_write(struct sg_dirmap *dm, int dfd)
{
	unsigned char sum[32];
	char tmp[64];
	struct ix_buf b = { NULL, 0, 0, false };
	size_t i, j, off = 0;
	ssize_t n;
	int fd;

	ix_put(&b, DM_INDEX_MAGIC, sizeof(DM_INDEX_MAGIC) - 1);
	ix_put_u64(&b, dm->n_files);
	for (i = 0; i < dm->n_files; i++) {
		const struct dm_file *f = &dm->files[i];

		ix_put_u64(&b, strlen(f->name));
		ix_put(&b, f->name, strlen(f->name));
		ix_put_u64(&b, (uint64_t)f->dev);
		ix_put_u64(&b, (uint64_t)f->ino);
		ix_put_u64(&b, (uint64_t)f->size);
		ix_put_u64(&b, (uint64_t)f->mtime.tv_sec);
		ix_put_u64(&b, (uint64_t)f->mtime.tv_nsec);
		ix_put_u64(&b, (uint64_t)f->ctime.tv_sec);
		ix_put_u64(&b, (uint64_t)f->ctime.tv_nsec);
		ix_put_u64(&b, f->n_certs);
		for (j = 0; j < f->n_certs; j++) {
			ix_put_u64(&b, f->certs[j]->pub.der_len);
			ix_put(&b, f->certs[j]->pub.der, f->certs[j]->pub.der_len);
		}
	}
	if (!b.failed) {
		if (EVP_Digest(b.p, b.len, sum, NULL, EVP_sha256(), NULL) == 1)
			ix_put(&b, sum, sizeof(sum));
		else
			b.failed = true;
	}
	if (b.failed) {
		free(b.p);
		return;
	}
	/* one name per thread: two maps of the same directory (an old and
	   a new configuration of smime-milter) may write at once */
	snprintf(tmp, sizeof(tmp), DM_INDEX_NAME ".%ld.%ld.tmp", (long)getpid(),
		 (long)gettid());
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0644);
	if (fd < 0 && errno == EEXIST) {
		/* left by a process of ours that died: ours to replace */
		(void)unlinkat(dfd, tmp, 0);
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_EXCL |
			    O_NOFOLLOW | O_CLOEXEC, 0644);
	}
	if (fd < 0) {
		if (errno == EACCES || errno == EPERM || errno == EROFS)
			dm->index_unwritable = true;
		free(b.p);
		return;
	}
	(void)fchmod(fd, 0644);		/* whatever the umask made of it */
	while (off < b.len) {
		n = write(fd, b.p + off, b.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(b.p);
	if (close(fd) < 0 || off < b.len ||
	    renameat(dfd, tmp, dfd, DM_INDEX_NAME) < 0) {
		(void)unlinkat(dfd, tmp, 0);
		return;
	}
	dm->unindexed = 0;
}

/* index_parse - the records of an index file into files (sorted by
   name, as written); false when anything is off */
static bool index_parse(const unsigned char *data, size_t len,
			struct dm_file **files_r, size_t *n_r, int *nomem_r)
{
	struct ix_reader r = { data, data + len, false };
	struct dm_file *files;
	uint64_t n, i, j;

	*files_r = NULL;
	*n_r = 0;
	*nomem_r = 0;
	if (ix_get(&r, sizeof(DM_INDEX_MAGIC) - 1) == NULL ||
	    memcmp(data, DM_INDEX_MAGIC, sizeof(DM_INDEX_MAGIC) - 1) != 0)
		return false;
	n = ix_get_u64(&r);
	if (r.bad || n == 0 || n > len / 72)	/* a record is 72 bytes or more */
		return false;
	if ((files = calloc((size_t)n, sizeof(*files))) == NULL) {
		*nomem_r = 1;
		return false;
	}
	for (i = 0; i < n; i++) {
		struct dm_file *f = &files[i];
		uint64_t name_len = ix_get_u64(&r), n_certs;
		const unsigned char *name = ix_get(&r, name_len);

		if (name == NULL || name_len == 0 || name_len > 255 ||
		    memchr(name, '\0', name_len) != NULL || memchr(name, '/', name_len) != NULL ||
		    name[0] == '.')
			goto bad;
		if ((f->name = strndup((const char *)name, name_len)) == NULL)
			goto nomem;
		if (i > 0 && strcmp(files[i - 1].name, f->name) >= 0)
			goto bad;	/* sorted, no duplicates */
		f->dev = (dev_t)ix_get_u64(&r);
		f->ino = (ino_t)ix_get_u64(&r);
		f->size = (off_t)ix_get_u64(&r);
		f->mtime.tv_sec = (time_t)ix_get_u64(&r);
		f->mtime.tv_nsec = (long)ix_get_u64(&r);
		f->ctime.tv_sec = (time_t)ix_get_u64(&r);
		f->ctime.tv_nsec = (long)ix_get_u64(&r);
		n_certs = ix_get_u64(&r);
		if (r.bad || n_certs > (uint64_t)(r.end - r.p) / 8)
			goto bad;
		for (j = 0; j < n_certs; j++) {
			uint64_t der_len = ix_get_u64(&r);
			const unsigned char *der = ix_get(&r, der_len);
			long got;

			if (der == NULL || der_len == 0)
				goto bad;
			/* exactly one certificate with an address, as the
			   scan of the file had found */
			got = add_cert(f, der, (size_t)der_len);
			if (got < 0)
				goto nomem;
			if ((uint64_t)got != der_len || f->n_certs != j + 1)
				goto bad;
		}
	}
	if (r.p != r.end)
		goto bad;
	*files_r = files;
	*n_r = (size_t)n;
	return true;
nomem:
	*nomem_r = 1;
bad:
	for (j = 0; j < n; j++)
		file_free(&files[j]);
	free(files);
	return false;
}

/* index_load - take the records of a trustworthy DIR/.sg-index as the
   previous scan's; -1 on out of memory only */
static int index_load(struct sg_dirmap *dm, int dfd)
{
	unsigned char sum[32];
	struct stat dst, st;
	struct dm_file *files;
	size_t n, len;
	void *map;
	int fd, nomem;
	bool ok;

	dm->index_used = 0;
	if (fstat(dfd, &dst) < 0)
		return 0;
	fd = openat(dfd, DM_INDEX_NAME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 ||
	    (st.st_uid != dst.st_uid && st.st_uid != geteuid()) ||
	    st.st_size < (off_t)(sizeof(DM_INDEX_MAGIC) + sizeof(sum)) ||
	    (unsigned long long)st.st_size > DM_INDEX_MAX_SIZE) {
		close(fd);
		return 0;
	}
	len = (size_t)st.st_size;
	/* read-only and private: a writer replaces the file (rename), it
	   never changes it in place */
	map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return 0;
	len -= sizeof(sum);
	ok = EVP_Digest(map, len, sum, NULL, EVP_sha256(), NULL) == 1 &&
	     CRYPTO_memcmp(sum, (const unsigned char *)map + len, sizeof(sum)) == 0;
	sg_openssl_errors(NULL, 0);
	nomem = 0;
	if (ok)
		ok = index_parse(map, len, &files, &n, &nomem);
	munmap(map, len + sizeof(sum));
	if (!ok)
		return nomem ? -1 : 0;
	dm->files = files;
	dm->n_files = n;
	dm->index_used = n;
	return 0;
}

/* rescan - read the directory, reusing unchanged files' records */
static int rescan(struct sg_dirmap *dm, struct sg_error *err_r)
{
	struct dm_file *files = NULL, *nf, *of;
	size_t n = 0, size = 0, i;
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int dfd;

	if ((dir = opendir(dm->path)) == NULL) {
		sg_error_set(err_r, SG_ERR_IO, "dir:%.160s: %s", dm->path,
			     strerror(errno));
		return -1;
	}
	dfd = dirfd(dir);
	dm->files_read = 0;
	if (dm->n_files == 0 && !dm->index_tried) {
		dm->index_tried = true;
		if (index_load(dm, dfd) < 0)
			goto nomem;
	}
	errno = 0;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dfd, de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;	/* vanished, dangling link, not a file */
		if (n == size) {
			size_t nsize = size == 0 ? 64 : size * 2;

			nf = realloc(files, nsize * sizeof(*nf));
			if (nf == NULL)
				goto nomem;
			files = nf;
			size = nsize;
		}
		nf = &files[n];
		of = dm->n_files > 0 ? old_file(dm, de->d_name) : NULL;
		if (of != NULL && !of->moved && same_stamp(of, &st)) {
			*nf = *of;
			of->moved = true;
			n++;
			continue;
		}
		memset(nf, 0, sizeof(*nf));
		if ((nf->name = strdup(de->d_name)) == NULL)
			goto nomem;
		nf->dev = st.st_dev;
		nf->ino = st.st_ino;
		nf->size = st.st_size;
		nf->mtime = st.st_mtim;
		nf->ctime = st.st_ctim;
		n++;
		dm->files_read++;
		if (load_file(dfd, nf) < 0)
			goto nomem;
	}
	if (n > 1)
		qsort(files, n, sizeof(*files), cmp_file);
	for (i = 0; i < dm->n_files; i++) {
		if (!dm->files[i].moved)
			file_free(&dm->files[i]);
	}
	free(dm->files);
	for (i = 0; i < n; i++)
		files[i].moved = false;
	dm->files = files;
	dm->n_files = n;
	dm->unindexed += dm->files_read;
	if (n >= DM_INDEX_MIN_FILES && dm->unindexed >= DM_INDEX_STALE &&
	    !dm->index_unwritable)
		index_write(dm, dfd);
	closedir(dir);
	dir = NULL;
	if (build_index(dm) < 0) {
		/* keep the files; an empty index until the next rescan */
		free(dm->postings);
		free(dm->table);
		dm->postings = NULL;
		dm->table = NULL;
		dm->n_postings = dm->table_size = 0;
		dm->dirty = true;
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	return 0;
nomem:
	if (dir != NULL)
		closedir(dir);
	/* records taken over stay with the old list; free the new ones */
	for (i = 0; i < n; i++) {
		if (files[i].moved)
			continue;
		of = old_file(dm, files[i].name);
		if (of != NULL && of->moved && of->name == files[i].name)
			continue;
		file_free(&files[i]);
	}
	for (i = 0; i < dm->n_files; i++)
		dm->files[i].moved = false;
	free(files);
	sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
	return -1;
}

/* sg_dirmap_refresh - re-read the directory when it changed */
int sg_dirmap_refresh(struct sg_dirmap *dm, bool force, struct sg_error *err_r)
{
	long long now = sg_monotonic_ns();
	struct sg_error e;
	struct stat st;

	if (dm->loaded && !force && !dm->dirty &&
	    now - dm->last_check < DM_CHECK_NS) {
		if (dm->failed) {
			if (err_r != NULL) {
				err_r->code = SG_ERR_IO;
				sg_strlcpy(err_r->msg, dm->fail_msg,
					   sizeof(err_r->msg));
			}
			return -1;
		}
		return 0;
	}
	dm->last_check = now;
	if (stat(dm->path, &st) < 0) {
		sg_error_set(&e, SG_ERR_IO, "dir:%.160s: %s", dm->path,
			     strerror(errno));
		goto failed;
	}
	if (!S_ISDIR(st.st_mode)) {
		sg_error_set(&e, SG_ERR_IO, "dir:%.160s: not a directory",
			     dm->path);
		goto failed;
	}
	if (dm->loaded && !force && !dm->dirty && !dm->failed &&
	    st.st_dev == dm->dev && st.st_ino == dm->ino &&
	    st.st_mtim.tv_sec == dm->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == dm->mtime.tv_nsec &&
	    st.st_ctim.tv_sec == dm->ctime.tv_sec &&
	    st.st_ctim.tv_nsec == dm->ctime.tv_nsec &&
	    now - dm->last_full < DM_FULL_NS)
		return 0;
	if (rescan(dm, &e) < 0)
		goto failed;
	dm->dev = st.st_dev;
	dm->ino = st.st_ino;
	dm->mtime = st.st_mtim;
	dm->ctime = st.st_ctim;
	dm->last_full = now;
	dm->loaded = true;
	dm->dirty = false;
	dm->failed = false;
	return 0;
failed:
	dm->loaded = true;
	dm->failed = true;
	sg_strlcpy(dm->fail_msg, e.msg, sizeof(dm->fail_msg));
	if (err_r != NULL)
		*err_r = e;
	return -1;
}

/* sg_dirmap_find - the certificates of an address */
int sg_dirmap_find(struct sg_dirmap *dm, const char *addr,
		   struct sg_dirmap_cert *const **certs_r, size_t *n_r)
{
	char norm[SG_DER_ADDR_SIZE];
	uint64_t h;
	size_t k, i, n = 0;
	uint32_t v;

	*certs_r = NULL;
	*n_r = 0;
	if (dm->table_size == 0 || !sg_dirmap_norm_addr(addr, norm, sizeof(norm)))
		return 0;
	h = sg_addr_hash(dm->key, norm);
	for (k = h & (dm->table_size - 1); (v = dm->table[k]) != 0;
	     k = (k + 1) & (dm->table_size - 1)) {
		const struct dm_posting *p = &dm->postings[v - 1];

		if (p->hash != h || strcmp(p->addr, norm) != 0)
			continue;
		for (i = v - 1; i < dm->n_postings &&
		     strcmp(dm->postings[i].addr, norm) == 0; i++)
			n++;
		if (n > dm->found_size) {
			struct sg_dirmap_cert **f =
				realloc(dm->found, n * sizeof(*f));

			if (f == NULL)
				return -1;
			dm->found = f;
			dm->found_size = n;
		}
		for (i = 0; i < n; i++)
			dm->found[i] = &dm->postings[v - 1 + i].cert->pub;
		*certs_r = dm->found;
		*n_r = n;
		return 0;
	}
	return 0;
}

/* sg_dirmap_each - every certificate of the map as last read, in file
   name order (inventory.c: certificates that expire soon) */
void sg_dirmap_each(const struct sg_dirmap *dm,
		    void (*fn)(const struct sg_dirmap_cert *c, void *context),
		    void *context)
{
	size_t i, j;

	for (i = 0; i < dm->n_files; i++) {
		for (j = 0; j < dm->files[i].n_certs; j++)
			fn(&dm->files[i].certs[j]->pub, context);
	}
}

/* ---- the dir: type of the map layer (maps.c) ---- */

static int dir_open(const char *name, unsigned int use, void **obj_r,
		    struct sg_error *err_r)
{
	(void)use;
	if ((*obj_r = sg_dirmap_new(name)) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

static int dir_refresh(void *obj, bool force, struct sg_error *err_r)
{
	return sg_dirmap_refresh(obj, force, err_r);
}

static int dir_find(void *obj, const char *addr,
		    struct sg_dirmap_cert *const **certs_r, size_t *n_r,
		    struct sg_error *err_r)
{
	if (sg_dirmap_refresh(obj, false, err_r) < 0)
		return -1;
	if (sg_dirmap_find(obj, addr, certs_r, n_r) < 0) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

/* dir_each_cert - the directory read now, then every certificate */
static int dir_each_cert(void *obj,
			 void (*fn)(const struct sg_dirmap_cert *c, void *context),
			 void *context, struct sg_error *err_r)
{
	if (sg_dirmap_refresh(obj, true, err_r) < 0)
		return -1;
	sg_dirmap_each(obj, fn, context);
	return 0;
}

/* dir_store - harvested certificates are files in the directory */
static struct sg_dirmap *dir_store(void *obj)
{
	return obj;
}

/* dir_diagnose - the directory exists */
static int dir_diagnose(const char *setting, const char *spec,
			const char *name, unsigned int use, char *text,
			size_t text_size, char *fix, size_t fix_size,
			struct sg_error *err_r)
{
	struct stat st;
	int r = stat(name, &st);

	(void)use;
	(void)err_r;
	if (r == 0 && S_ISDIR(st.st_mode))
		return 0;
	snprintf(text, text_size, "%s: %s: %s", setting, spec,
		 r < 0 ? strerror(errno) : "not a directory");
	snprintf(fix, fix_size, "create the directory %s (readable by the "
		 "mail service), or correct %s", name, setting);
	return 1;
}

static void dir_close(void **objp)
{
	struct sg_dirmap *dm = *objp;

	sg_dirmap_free(&dm);
	*objp = NULL;
}

const struct sg_map_type_def sg_map_type_dir = {
	.name = "dir",
	.uses = SG_MAP_USE_CERTS,
	.label = "dir",
	.no_name = "names no directory",
	.name_is_path = true,
	.open = dir_open,
	.find = dir_find,
	.refresh = dir_refresh,
	.each_cert = dir_each_cert,
	.store = dir_store,
	.diagnose = dir_diagnose,
	.close = dir_close,
};
