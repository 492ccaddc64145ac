/* suite-keystore.c - the wrapped-key store (keystore-format.c, keystore.c)
 *
 * Round trips with the test PKI's keys (pki/, certmap-keys/), then every
 * way around the wrapping: each byte of a key file flipped, truncation at
 * every length class, another version or magic, the wrong master key or
 * passphrase, a file renamed to another address, a header whose address
 * was edited (and the file renamed to match), a master file or directory
 * others can read.  Master rotation keeps every key and locks the old
 * master out; several keys per address each open the mail encrypted to
 * their own certificate.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "sg-base.h"
#include "keystore-private.h"

#include "check-suites.h"
#include "test-util.h"

static char dir[4096], store[4200], mpath[4200];
static struct sg_master *master;
static struct sg_keystore *ks;

static void setup(void)
{
	struct sg_error err;

	snprintf(dir, sizeof(dir), "%s/sg-ks-XXXXXX",
		 getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(store, sizeof(store), "%s/keys", dir);
	snprintf(mpath, sizeof(mpath), "%s/master.key", dir);
	ck_assert_int_eq(sg_master_generate(&master, &err), 0);
	ck_assert_int_eq(sg_master_write(master, mpath, false, &err), 0);
	ck_assert_msg(sg_keystore_open(store, master, true, &ks, &err) == 0,
		      "%s", err.msg);
}

static void teardown(void)
{
	sg_keystore_free(&ks);
	sg_master_free(&master);
	tu_rm_dir(store);
	tu_rm_dir(dir);
}

/* key_der - a PEM private key of the test data as DER (PKCS#8) */
static unsigned char *key_der(const char *rel, size_t *len_r)
{
	size_t len;
	unsigned char *pem = tu_load(rel, &len), *der = NULL;
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	int n;

	ck_assert_ptr_nonnull(pkey);
	n = i2d_PrivateKey(pkey, &der);
	ck_assert_int_gt(n, 0);
	*len_r = (size_t)n;
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	free(pem);
	return der;
}

static X509 *load_cert(const char *rel)
{
	size_t len;
	unsigned char *pem = tu_load(rel, &len);
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);

	ck_assert_ptr_nonnull(x);
	BIO_free(bio);
	free(pem);
	return x;
}

static unsigned char *cert_der(const char *rel, size_t *len_r)
{
	X509 *x = load_cert(rel);
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);

	ck_assert_int_gt(n, 0);
	*len_r = (size_t)n;
	X509_free(x);
	return der;
}

/* add - store the key rel_key with certificate rel_cert for addr */
static int add(const char *rel_key, const char *rel_cert, const char *addr,
	       struct sg_key_info *info, struct sg_error *err)
{
	size_t kl, cl;
	unsigned char *k = key_der(rel_key, &kl), *c = cert_der(rel_cert, &cl);
	const char *addrs[1] = { addr };
	int r = sg_keystore_add(ks, k, kl, c, cl, addrs, 1, info, err);

	OPENSSL_free(k);
	OPENSSL_free(c);
	return r;
}

static void add_bob(struct sg_key_info *info)
{
	struct sg_error err;

	ck_assert_msg(add("pki/bob@example.org.key", "pki/bob@example.org.pem",
			  "Bob@Example.ORG", info, &err) == 0, "%s", err.msg);
}

/* counter for sg_keystore_list */
struct seen {
	int n, problems;
	char last_problem[256];
	char fprs[4][65];
};

static void count_fn(const struct sg_key_info *info, void *context)
{
	struct seen *s = context;

	if (info->problem[0] != '\0') {
		s->problems++;
		snprintf(s->last_problem, sizeof(s->last_problem), "%s",
			 info->problem);
	} else if (s->n < 4) {
		memcpy(s->fprs[s->n], info->fingerprint, 65);
	}
	s->n++;
}

START_TEST(test_roundtrip)
{
	struct sg_key_info info;
	struct sg_error err;
	struct sg_key *key = NULL;
	struct stat st;
	char *pem = NULL;
	size_t pem_len = 0, kl;
	unsigned char *orig = key_der("pki/bob@example.org.key", &kl);
	const unsigned char *p = orig;
	EVP_PKEY *want = d2i_AutoPrivateKey(NULL, &p, (long)kl), *got;
	BIO *bio;
	struct seen s = { 0 };

	add_bob(&info);
	ck_assert_str_eq(info.address, "bob@example.org");
	ck_assert_int_eq(strlen(info.fingerprint), 64);
	ck_assert(strstr(info.subject, "Bob Example") != NULL);
	/* the file and the directory are private */
	ck_assert_int_eq(stat(info.path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(stat(store, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	/* stored again: nothing changes */
	add_bob(NULL);
	ck_assert_int_eq(sg_keystore_list(ks, NULL, count_fn, &s, &err), 1);
	ck_assert_int_eq(s.problems, 0);
	ck_assert_str_eq(s.fprs[0], info.fingerprint);
	/* by address, any case; another address has none */
	ck_assert_int_eq(sg_keystore_list(ks, "BOB@example.org", count_fn, &s,
					  &err), 1);
	ck_assert_int_eq(sg_keystore_list(ks, "alice@example.org", count_fn, &s,
					  &err), 0);
	/* unwrap by full fingerprint, a prefix, with colons */
	ck_assert_msg(sg_keystore_unwrap(ks, info.fingerprint, "bob@example.org",
					 &key, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(sg_key_info_get(key)->fingerprint, info.fingerprint);
	ck_assert_int_eq(sg_key_export_pem(key, &pem, &pem_len, &err), 0);
	ck_assert(strstr(pem, "BEGIN PRIVATE KEY") != NULL);
	ck_assert(strstr(pem, "BEGIN CERTIFICATE") != NULL);
	bio = BIO_new_mem_buf(pem, (int)pem_len);
	got = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(EVP_PKEY_eq(want, got), 1);
	EVP_PKEY_free(got);
	BIO_free(bio);
	sg_key_pem_free(&pem, pem_len);
	ck_assert_ptr_null(pem);
	sg_key_free(&key);
	ck_assert_ptr_null(key);
	{
		char pre[40];

		snprintf(pre, sizeof(pre), "%.16s", info.fingerprint);
		ck_assert_int_eq(sg_keystore_unwrap(ks, pre, NULL, &key, &err), 0);
		sg_key_free(&key);
		snprintf(pre, sizeof(pre), "%.2s:%.2s:%.2s:%.2s:%.2s:%.2s:%.2s:%.2s",
			 info.fingerprint, info.fingerprint + 2,
			 info.fingerprint + 4, info.fingerprint + 6,
			 info.fingerprint + 8, info.fingerprint + 10,
			 info.fingerprint + 12, info.fingerprint + 14);
		ck_assert_int_eq(sg_keystore_unwrap(ks, pre, NULL, &key, &err), 0);
		sg_key_free(&key);
	}
	/* too short a prefix, not hex, unknown */
	ck_assert_int_eq(sg_keystore_unwrap(ks, "abcd", NULL, &key, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_INVALID);
	ck_assert_int_eq(sg_keystore_unwrap(ks, "zzzzzzzzzzzzzzzzzz", NULL, &key,
					    &err), -1);
	ck_assert_int_eq(sg_keystore_unwrap(ks, "00000000000000000000", NULL,
					    &key, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_NOTFOUND);
	/* the key is stored for bob only */
	ck_assert_int_eq(sg_keystore_unwrap(ks, info.fingerprint,
					    "alice@example.org", &key, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_NOTFOUND);
	/* remove */
	ck_assert_int_eq(sg_keystore_remove(ks, info.fingerprint, NULL, &err), 1);
	ck_assert_int_eq(sg_keystore_remove(ks, info.fingerprint, NULL, &err), 0);
	ck_assert_int_eq(sg_keystore_list(ks, NULL, count_fn, &s, &err), 0);
	EVP_PKEY_free(want);
	OPENSSL_free(orig);
}
END_TEST

/* the certificate must match the key and name the address */
START_TEST(test_add_refused)
{
	struct sg_error err;
	struct seen s = { 0 };

	ck_assert_int_eq(add("pki/alice@example.org.key", "pki/bob@example.org.pem",
			     "bob@example.org", NULL, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_INVALID);
	ck_assert_msg(strstr(err.msg, "does not belong") != NULL, "%s", err.msg);
	ck_assert_int_eq(add("pki/bob@example.org.key", "pki/bob@example.org.pem",
			     "alice@example.org", NULL, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_INVALID);
	ck_assert_msg(strstr(err.msg, "does not name alice@example.org") != NULL &&
		      strstr(err.msg, "bob@example.org") != NULL, "%s", err.msg);
	ck_assert_int_eq(add("pki/bob@example.org.key", "pki/bob@example.org.pem",
			     "not an address", NULL, &err), -1);
	ck_assert_int_eq(add("pki/bob@example.org.key", "pki/bob@example.org.pem",
			     "evil@example.org\nbob@example.org", NULL, &err), -1);
	/* nothing was written */
	ck_assert_int_eq(sg_keystore_list(ks, NULL, count_fn, &s, &err), 0);
	/* garbage as key or certificate */
	{
		const char *addrs[1] = { "bob@example.org" };
		unsigned char junk[64];
		size_t cl, kl;
		unsigned char *c = cert_der("pki/bob@example.org.pem", &cl);
		unsigned char *k = key_der("pki/bob@example.org.key", &kl);

		memset(junk, 0x30, sizeof(junk));
		ck_assert_int_eq(sg_keystore_add(ks, junk, sizeof(junk), c, cl,
						 addrs, 1, NULL, &err), -1);
		ck_assert_int_eq(sg_keystore_add(ks, k, kl, junk, sizeof(junk),
						 addrs, 1, NULL, &err), -1);
		OPENSSL_free(c);
		OPENSSL_free(k);
	}
}
END_TEST

/* file_of - the one key file of the store, read; its path in path */
static unsigned char *file_of(char *path, size_t size, size_t *len_r)
{
	struct sg_key_info info;

	add_bob(&info);
	snprintf(path, size, "%s", info.path);
	return tu_read(path, len_r);
}

static void write_bytes(const char *path, const unsigned char *b, size_t len)
{
	FILE *fp = fopen(path, "wb");

	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(b, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(chmod(path, 0600), 0);
}

/* every byte of the file, flipped, makes it unusable */
START_TEST(test_flipped_bytes)
{
	char path[4096], fpr[65];
	size_t len, i;
	unsigned char *orig = file_of(path, sizeof(path), &len), *b;
	struct sg_key *key = NULL;
	struct sg_error err;
	unsigned int failed_auth = 0, failed_format = 0;

	snprintf(fpr, sizeof(fpr), "%.64s", strrchr(path, '-') + 1);
	b = malloc(len);
	for (i = 0; i < len; i++) {
		memcpy(b, orig, len);
		b[i] ^= 0x01;
		write_bytes(path, b, len);
		ck_assert_msg(sg_keystore_unwrap(ks, fpr, NULL, &key, &err) == -1,
			      "a flipped bit at offset %zu of %zu was not noticed",
			      i, len);
		ck_assert_ptr_null(key);
		ck_assert_msg(err.code == SG_ERR_AUTH || err.code == SG_ERR_FORMAT,
			      "offset %zu: code %d (%s)", i, err.code, err.msg);
		if (err.code == SG_ERR_AUTH)
			failed_auth++;
		else
			failed_format++;
		ck_assert(strstr(err.msg, path) != NULL);
	}
	/* both kinds occurred: the structure and the tags are checked */
	ck_assert_uint_gt(failed_auth, len / 2);
	ck_assert_uint_gt(failed_format, 0);
	/* the original still opens */
	write_bytes(path, orig, len);
	ck_assert_msg(sg_keystore_unwrap(ks, fpr, NULL, &key, &err) == 0, "%s",
		      err.msg);
	sg_key_free(&key);
	free(b);
	free(orig);
}
END_TEST

/* a truncated file, and one with bytes appended */
START_TEST(test_truncated)
{
	char path[4096], fpr[65];
	size_t len, cut;
	unsigned char *orig = file_of(path, sizeof(path), &len), *b;
	struct sg_key *key = NULL;
	struct sg_error err;
	struct seen s = { 0 };

	snprintf(fpr, sizeof(fpr), "%.64s", strrchr(path, '-') + 1);
	for (cut = 0; cut < len; cut += (cut < 80 ? 1 : 41)) {
		write_bytes(path, orig, cut);
		ck_assert_int_eq(sg_keystore_unwrap(ks, fpr, NULL, &key, &err), -1);
		ck_assert_msg(err.code == SG_ERR_FORMAT, "cut %zu: %s", cut,
			      err.msg);
		ck_assert_msg(cut < 8 || strstr(err.msg, "truncated") != NULL,
			      "cut %zu: %s", cut, err.msg);
	}
	write_bytes(path, orig, len - 1);
	ck_assert_int_eq(sg_keystore_unwrap(ks, fpr, NULL, &key, &err), -1);
	ck_assert(strstr(err.msg, "truncated") != NULL);
	/* list reports the problem and goes on */
	ck_assert_int_eq(sg_keystore_list(ks, NULL, count_fn, &s, &err), 1);
	ck_assert_int_eq(s.problems, 1);
	ck_assert(strstr(s.last_problem, "truncated") != NULL);
	b = malloc(len + 1);
	memcpy(b, orig, len);
	b[len] = 0;
	write_bytes(path, b, len + 1);
	ck_assert_int_eq(sg_keystore_unwrap(ks, fpr, NULL, &key, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_FORMAT);
	ck_assert(strstr(err.msg, "after its end") != NULL);
	free(b);
	free(orig);
}
END_TEST

/* another magic, version, algorithm id */
START_TEST(test_version_magic)
{
	char path[4096], fpr[65];
	size_t len;
	unsigned char *orig = file_of(path, sizeof(path), &len);
	struct sg_key *key = NULL;
	struct sg_error err;

	snprintf(fpr, sizeof(fpr), "%.64s", strrchr(path, '-') + 1);
	orig[8] = 2;
	write_bytes(path, orig, len);
	ck_assert_int_eq(sg_keystore_unwrap(ks, fpr, NULL, &key, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_FORMAT);
	ck_assert_msg(strstr(err.msg, "version 2") != NULL, "%s", err.msg);
	orig[8] = 1;
	orig[9] = 7;
	write_bytes(path, orig, len);
	ck_assert_int_eq(sg_keystore_unwrap(ks, fpr, NULL, &key, &err), -1);
	ck_assert(strstr(err.msg, "algorithms 7/1") != NULL);
	orig[9] = 1;
	orig[0] = 'X';
	write_bytes(path, orig, len);
	ck_assert_int_eq(sg_keystore_unwrap(ks, fpr, NULL, &key, &err), -1);
	ck_assert(strstr(err.msg, "not a smimeguard key file") != NULL);
	free(orig);
}
END_TEST

/* a file renamed to another address; an address edited in the header */
START_TEST(test_moved)
{
	struct sg_key_info info, ainfo;
	struct sg_error err;
	struct sg_key *key = NULL;
	char other[8192], *dash;
	size_t len;
	unsigned char *b, *hit;
	struct seen s = { 0 };

	add_bob(&info);
	ck_assert_msg(add("pki/alice@example.org.key", "pki/alice@example.org.pem",
			  "alice@example.org", &ainfo, &err) == 0, "%s", err.msg);
	/* bob's file under alice's address hash: a lookup for alice finds
	   it by name, and refuses it */
	dash = strrchr(ainfo.path, '-');
	snprintf(other, sizeof(other), "%.*s-%s.key", (int)(dash - ainfo.path),
		 ainfo.path, info.fingerprint);
	ck_assert_int_eq(rename(info.path, other), 0);
	ck_assert_int_eq(sg_keystore_unwrap(ks, info.fingerprint,
					    "alice@example.org", &key, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_AUTH);
	ck_assert_msg(strstr(err.msg, "renamed or moved") != NULL ||
		      strstr(err.msg, "not for alice") != NULL, "%s", err.msg);
	ck_assert_int_eq(sg_keystore_unwrap(ks, info.fingerprint, NULL, &key,
					    &err), -1);
	ck_assert_int_eq(sg_keystore_list(ks, "alice@example.org", count_fn, &s,
					  &err), 2);
	ck_assert_int_eq(s.problems, 1);
	ck_assert_int_eq(rename(other, info.path), 0);
	/* the header says carl@ instead of bob@ (same length), the file is
	   named for carl@: its name is right, its tags are not */
	b = tu_read(info.path, &len);
	hit = memmem(b, len, "bob@example.org", 15);
	ck_assert_ptr_nonnull(hit);
	memcpy(hit, "bcb", 3);
	ck_assert_int_eq(unlink(info.path), 0);
	{
		unsigned char md[32];
		char h[17], path[8192];
		int i;

		EVP_Digest("bcb@example.org", 15, md, NULL, EVP_sha256(), NULL);
		for (i = 0; i < 8; i++)
			snprintf(h + 2 * i, 3, "%02x", md[i]);
		snprintf(path, sizeof(path), "%s/%s-%s.key", store, h,
			 info.fingerprint);
		write_bytes(path, b, len);
	}
	ck_assert_int_eq(sg_keystore_unwrap(ks, info.fingerprint,
					    "bcb@example.org", &key, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_AUTH);
	ck_assert_msg(strstr(err.msg, "altered") != NULL, "%s", err.msg);
	free(b);
}
END_TEST

/* another master key, another passphrase */
START_TEST(test_wrong_master)
{
	struct sg_key_info info;
	struct sg_error err;
	struct sg_master *other = NULL;
	struct sg_keystore *ks2 = NULL;
	struct sg_key *key = NULL;
	char want[SG_MASTER_ID_SIZE];

	add_bob(&info);
	sg_master_id(master, want);
	ck_assert_str_eq(info.master_id, want);
	ck_assert_int_eq(sg_master_generate(&other, &err), 0);
	ck_assert_int_eq(sg_keystore_open(store, other, false, &ks2, &err), 0);
	ck_assert_int_eq(sg_keystore_unwrap(ks2, info.fingerprint, NULL, &key,
					    &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_AUTH);
	ck_assert_msg(strstr(err.msg, "another master key") != NULL &&
		      strstr(err.msg, want) != NULL, "%s", err.msg);
	/* a master with the same id but another key: the tags refuse it */
	memcpy(other->id, master->id, sizeof(other->id));
	ck_assert_int_eq(sg_keystore_unwrap(ks2, info.fingerprint, NULL, &key,
					    &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_AUTH);
	ck_assert_msg(strstr(err.msg, "does not authenticate") != NULL, "%s",
		      err.msg);
	/* without a master: listed, not unwrapped */
	sg_keystore_free(&ks2);
	ck_assert_int_eq(sg_keystore_open(store, NULL, false, &ks2, &err), 0);
	ck_assert_int_eq(sg_keystore_unwrap(ks2, info.fingerprint, NULL, &key,
					    &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_CONFIG);
	sg_keystore_free(&ks2);
	sg_master_free(&other);
}
END_TEST

/* passphrase masters: Argon2id with stored parameters */
START_TEST(test_passphrase)
{
	struct sg_master *m = NULL, *m2 = NULL;
	struct sg_error err;
	char p2[4300], id1[SG_MASTER_ID_SIZE], id2[SG_MASTER_ID_SIZE];
	bool needs = false;
	size_t len;
	unsigned char *b;

	snprintf(p2, sizeof(p2), "%s/pass.master", dir);
	ck_assert_int_eq(sg_master_derive("", 0, SG_KDF_MINIMUM, &m, &err), -1);
	ck_assert_int_eq(sg_master_derive("correct horse", 13, SG_KDF_MINIMUM,
					  &m, &err), 0);
	ck_assert(sg_master_is_passphrase(m));
	ck_assert_int_eq(sg_master_write(m, p2, false, &err), 0);
	/* written once: not replaced */
	ck_assert_int_eq(sg_master_write(m, p2, false, &err), -1);
	/* the file holds no key */
	b = tu_read(p2, &len);
	ck_assert(memmem(b, len, m->key, 32) == NULL);
	free(b);
	ck_assert_int_eq(sg_master_needs_passphrase(p2, &needs, &err), 0);
	ck_assert(needs);
	ck_assert_int_eq(sg_master_needs_passphrase(mpath, &needs, &err), 0);
	ck_assert(!needs);
	ck_assert_int_eq(sg_master_load(p2, NULL, 0, &m2, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_AUTH);
	ck_assert_int_eq(sg_master_load(p2, "correct horsf", 13, &m2, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_AUTH);
	ck_assert(strstr(err.msg, "wrong passphrase") != NULL);
	ck_assert_int_eq(sg_master_load(p2, "correct horse", 13, &m2, &err), 0);
	sg_master_id(m, id1);
	sg_master_id(m2, id2);
	ck_assert_str_eq(id1, id2);
	ck_assert_int_eq(memcmp(m->key, m2->key, 32), 0);
	/* keys wrapped under it open with it */
	sg_keystore_free(&ks);
	ck_assert_int_eq(sg_keystore_open(store, m2, false, &ks, &err), 0);
	add_bob(NULL);
	{
		struct sg_key_info info;
		struct sg_key *key = NULL;

		add_bob(&info);
		sg_keystore_free(&ks);
		ck_assert_int_eq(sg_keystore_open(store, m, false, &ks, &err), 0);
		ck_assert_int_eq(sg_keystore_unwrap(ks, info.fingerprint, NULL,
						    &key, &err), 0);
		sg_key_free(&key);
	}
	sg_master_free(&m);
	sg_master_free(&m2);
}
END_TEST

/* master and directory modes; damaged master files */
START_TEST(test_modes)
{
	struct sg_master *m = NULL;
	struct sg_keystore *ks2 = NULL;
	struct sg_error err;
	size_t len;
	unsigned char *b;
	char p2[4300];

	ck_assert_int_eq(chmod(mpath, 0640), 0);
	ck_assert_int_eq(sg_master_load(mpath, NULL, 0, &m, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_PERM);
	ck_assert_msg(strstr(err.msg, "chmod 600") != NULL, "%s", err.msg);
	ck_assert_int_eq(chmod(mpath, 0604), 0);
	ck_assert_int_eq(sg_master_load(mpath, NULL, 0, &m, &err), -1);
	ck_assert_int_eq(chmod(mpath, 0600), 0);
	ck_assert_int_eq(sg_master_load(mpath, NULL, 0, &m, &err), 0);
	ck_assert_int_eq(memcmp(m->key, master->key, 32), 0);
	sg_master_free(&m);
	ck_assert_int_eq(chmod(store, 0750), 0);
	ck_assert_int_eq(sg_keystore_open(store, master, false, &ks2, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_PERM);
	ck_assert(strstr(err.msg, "chmod 700") != NULL);
	ck_assert_int_eq(chmod(store, 0700), 0);
	/* a truncated master file, another version, no file */
	b = tu_read(mpath, &len);
	snprintf(p2, sizeof(p2), "%s/bad.master", dir);
	write_bytes(p2, b, len - 1);
	ck_assert_int_eq(sg_master_load(p2, NULL, 0, &m, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_FORMAT);
	b[8] = 9;
	write_bytes(p2, b, len);
	ck_assert_int_eq(sg_master_load(p2, NULL, 0, &m, &err), -1);
	ck_assert(strstr(err.msg, "version 9") != NULL);
	ck_assert_int_eq(unlink(p2), 0);
	ck_assert_int_eq(sg_master_load(p2, NULL, 0, &m, &err), -1);
	ck_assert(strstr(err.msg, "smimectl key init") != NULL);
	free(b);
}
END_TEST

/* encrypt_to - a CMS EnvelopedData (S/MIME) for the certificate rel */
static unsigned char *encrypt_to(const char *rel, size_t *len_r)
{
	X509 *x = load_cert(rel);
	STACK_OF(X509) *certs = sk_X509_new_null();
	BIO *in = BIO_new_mem_buf("Content-Type: text/plain\r\n\r\nsecret old mail\r\n", -1);
	BIO *out = BIO_new(BIO_s_mem());
	CMS_ContentInfo *cms;
	char *data;
	long n;
	unsigned char *r;

	sk_X509_push(certs, x);
	cms = CMS_encrypt(certs, in, EVP_aes_256_cbc(), CMS_BINARY);
	ck_assert_ptr_nonnull(cms);
	ck_assert_int_eq(SMIME_write_CMS(out, cms, NULL, CMS_BINARY), 1);
	n = BIO_get_mem_data(out, &data);
	r = malloc((size_t)n);
	memcpy(r, data, (size_t)n);
	*len_r = (size_t)n;
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	BIO_free(out);
	sk_X509_pop_free(certs, X509_free);
	return r;
}

/* two keys for bob: mail to each certificate opens with its own key */
START_TEST(test_several_keys)
{
	struct sg_key_info old_info, new_info;
	struct sg_error err;
	struct seen s = { 0 };
	unsigned char *m_old, *m_new, *m_alice, *out = NULL;
	size_t l_old, l_new, l_alice, out_len;
	char fpr[65];

	add_bob(&old_info);
	ck_assert_msg(add("certmap-keys/bob@example.org.key",
			  "certmap/bob-new.pem", "bob@example.org", &new_info,
			  &err) == 0, "%s", err.msg);
	ck_assert_str_ne(old_info.fingerprint, new_info.fingerprint);
	ck_assert_int_eq(sg_keystore_list(ks, "bob@example.org", count_fn, &s,
					  &err), 2);
	ck_assert_int_eq(s.problems, 0);
	m_old = encrypt_to("pki/bob@example.org.pem", &l_old);
	m_new = encrypt_to("certmap/bob-new.pem", &l_new);
	m_alice = encrypt_to("pki/alice@example.org.pem", &l_alice);
	ck_assert_msg(sg_keystore_decrypt(ks, "bob@example.org", m_old, l_old,
					  &out, &out_len, fpr, &err) == 0,
		      "%s", err.msg);
	ck_assert_str_eq(fpr, old_info.fingerprint);
	ck_assert(memmem(out, out_len, "secret old mail", 15) != NULL);
	sg_free(out);
	ck_assert_int_eq(sg_keystore_decrypt(ks, NULL, m_new, l_new, &out,
					     &out_len, fpr, &err), 0);
	ck_assert_str_eq(fpr, new_info.fingerprint);
	sg_free(out);
	/* mail to alice: no key of bob's opens it */
	ck_assert_int_eq(sg_keystore_decrypt(ks, "bob@example.org", m_alice,
					     l_alice, &out, &out_len, fpr, &err),
			 -1);
	ck_assert_int_eq(err.code, SG_ERR_NOTFOUND);
	ck_assert_ptr_null(out);
	/* bob's old key for alice's owner: not used */
	ck_assert_int_eq(sg_keystore_decrypt(ks, "alice@example.org", m_old,
					     l_old, &out, &out_len, fpr, &err),
			 -1);
	/* not encrypted at all */
	ck_assert_int_eq(sg_keystore_decrypt(ks, NULL,
					     (const unsigned char *)"Subject: x\r\n\r\nhi\r\n",
					     19, &out, &out_len, fpr, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_INVALID);
	/* removing the new key leaves the old one */
	ck_assert_int_eq(sg_keystore_remove(ks, new_info.fingerprint,
					    "bob@example.org", &err), 1);
	ck_assert_int_eq(sg_keystore_decrypt(ks, "bob@example.org", m_old, l_old,
					     &out, &out_len, fpr, &err), 0);
	sg_free(out);
	free(m_old);
	free(m_new);
	free(m_alice);
}
END_TEST

/* rotation: every key under the new master, none under the old */
START_TEST(test_rotation)
{
	struct sg_key_info a, b, c;
	struct sg_error err;
	struct sg_master *m2 = NULL, *reloaded = NULL;
	struct sg_keystore *ks_old = NULL;
	struct sg_key *key = NULL;
	size_t n = 99, len_before, len_after;
	char p2[4300];
	unsigned char *before, *after;

	add_bob(&a);
	ck_assert_int_eq(add("certmap-keys/bob@example.org.key",
			     "certmap/bob-new.pem", "bob@example.org", &b, &err), 0);
	ck_assert_int_eq(add("pki/carol@example.org.key", "pki/carol@example.org.pem",
			     "carol@example.org", &c, &err), 0);
	before = tu_read(a.path, &len_before);
	ck_assert_int_eq(sg_master_derive("new secret", 10, SG_KDF_MINIMUM, &m2,
					  &err), 0);
	ck_assert_int_eq(sg_keystore_rewrap(ks, m2, &n, &err), 0);
	ck_assert_uint_eq(n, 3);
	/* only the wrap section changed: header and payload are the same */
	after = tu_read(a.path, &len_after);
	ck_assert_uint_eq(len_before, len_after);
	ck_assert(memcmp(before, after, 100) == 0);
	ck_assert(memcmp(before + len_before - 200, after + len_after - 200,
			 200) == 0);
	ck_assert(memcmp(before, after, len_before) != 0);
	/* again: nothing to do */
	ck_assert_int_eq(sg_keystore_rewrap(ks, m2, &n, &err), 0);
	ck_assert_uint_eq(n, 0);
	/* the new master opens every key, the old none */
	snprintf(p2, sizeof(p2), "%s/new.master", dir);
	ck_assert_int_eq(sg_master_write(m2, p2, false, &err), 0);
	ck_assert_int_eq(sg_master_load(p2, "new secret", 10, &reloaded, &err), 0);
	sg_keystore_free(&ks_old);
	ck_assert_int_eq(sg_keystore_open(store, reloaded, false, &ks_old, &err), 0);
	ck_assert_int_eq(sg_keystore_unwrap(ks_old, a.fingerprint, NULL, &key, &err), 0);
	sg_key_free(&key);
	ck_assert_int_eq(sg_keystore_unwrap(ks_old, b.fingerprint, NULL, &key, &err), 0);
	sg_key_free(&key);
	ck_assert_int_eq(sg_keystore_unwrap(ks_old, c.fingerprint, NULL, &key, &err), 0);
	sg_key_free(&key);
	ck_assert_int_eq(sg_keystore_unwrap(ks, a.fingerprint, NULL, &key, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_AUTH);
	ck_assert_int_eq(sg_keystore_unwrap(ks, c.fingerprint, NULL, &key, &err), -1);
	/* a damaged file is not rewrapped (it would look fresh) */
	after[len_after - 5] ^= 0x80;
	write_bytes(a.path, after, len_after);
	{
		struct sg_master *m3 = NULL;

		ck_assert_int_eq(sg_master_generate(&m3, &err), 0);
		ck_assert_int_eq(sg_keystore_rewrap(ks_old, m3, &n, &err), -1);
		ck_assert_uint_eq(n, 2);
		ck_assert(strstr(err.msg, a.path) != NULL);
		sg_master_free(&m3);
	}
	sg_keystore_free(&ks_old);
	sg_master_free(&m2);
	sg_master_free(&reloaded);
	free(before);
	free(after);
}
END_TEST


/* what else lies in the directory: names that are not key files are
   ignored; a symbolic link named like one is not followed */
START_TEST(test_strangers)
{
	struct sg_key_info info;
	struct sg_error err;
	struct sg_key *key = NULL;
	struct seen s = { 0 };
	char path[8192], target[8192];
	size_t len;
	unsigned char *b;

	add_bob(&info);
	snprintf(path, sizeof(path), "%s/notes.txt", store);
	tu_write_file(path, "not a key\n", 0600);
	snprintf(path, sizeof(path), "%s/.hidden.key", store);
	tu_write_file(path, "not a key\n", 0600);
	snprintf(path, sizeof(path), "%s.tmp123", info.path);
	tu_write_file(path, "left by a crash\n", 0600);
	ck_assert_int_eq(sg_keystore_list(ks, NULL, count_fn, &s, &err), 1);
	ck_assert_int_eq(s.problems, 0);
	/* the key file replaced by a link to a copy elsewhere */
	b = tu_read(info.path, &len);
	snprintf(target, sizeof(target), "%s/elsewhere", dir);
	write_bytes(target, b, len);
	ck_assert_int_eq(unlink(info.path), 0);
	ck_assert_int_eq(symlink(target, info.path), 0);
	ck_assert_int_eq(sg_keystore_unwrap(ks, info.fingerprint, NULL, &key,
					    &err), -1);
	ck_assert_ptr_null(key);
	ck_assert_int_eq(unlink(info.path), 0);
	write_bytes(info.path, b, len);
	ck_assert_int_eq(sg_keystore_unwrap(ks, info.fingerprint, NULL, &key,
					    &err), 0);
	sg_key_free(&key);
	free(b);
}
END_TEST

Suite *make_keystore_suite(void)
{
	Suite *s = suite_create("keystore");
	TCase *tc = tcase_create("keystore");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_add_refused);
	tcase_add_test(tc, test_flipped_bytes);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_version_magic);
	tcase_add_test(tc, test_moved);
	tcase_add_test(tc, test_wrong_master);
	tcase_add_test(tc, test_passphrase);
	tcase_add_test(tc, test_modes);
	tcase_add_test(tc, test_several_keys);
	tcase_add_test(tc, test_rotation);
	tcase_add_test(tc, test_strangers);
	suite_add_tcase(s, tc);
	return s;
}
