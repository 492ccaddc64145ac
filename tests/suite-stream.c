/* suite-stream.c - sg_verify_init/update/final give sg_verify_message's
 * verdict, whatever the pieces
 *
 * The differential test feeds every message the other suites use (the
 * generated test data, the third-party corpora, the fuzz corpora and
 * regressions) in pieces of 1 byte, 7 bytes, random sizes and whole,
 * and requires the JSON of the result (status, keywords, reasons,
 * signers, detail, everything) to be the one of sg_verify_message() on
 * the same bytes; once with the default limits and once with a
 * max_message_size small enough that many messages are over it.  The
 * other tests cross the in-memory bound (a signed message of a few MB is
 * verified through the spill file, CRLF and LF), go past
 * max_message_size, point temp_directory where no file can be made,
 * make writes fail (RLIMIT_FSIZE), and misuse the stream.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/pem.h>

#include "check-suites.h"
#include "test-util.h"

/* ---- helpers ---- */

struct files {
	char **path;
	size_t n, size;
};

static void add_tree(struct files *f, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	ck_assert_msg(d != NULL, "cannot open %s", dir);
	while ((de = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			add_tree(f, path);
		} else if (S_ISREG(st.st_mode)) {
			if (f->n == f->size) {
				f->size = f->size == 0 ? 256 : f->size * 2;
				f->path = realloc(f->path, f->size * sizeof(*f->path));
				ck_assert(f->path != NULL);
			}
			f->path[f->n++] = strdup(path);
		}
	}
	closedir(d);
}

static void files_free(struct files *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->path[i]);
	free(f->path);
}

/* stream_verify - the stream's result for msg fed in pieces of chunk bytes
   (0: random sizes from 1 to 8192, seeded by seed) */
static struct sg_result *stream_verify(struct sg_ctx *ctx,
				       const unsigned char *msg, size_t len,
				       time_t at, size_t chunk,
				       unsigned int seed)
{
	struct sg_verify_stream *vs = NULL;
	struct sg_result *res = NULL;
	struct sg_error err;
	size_t off = 0;

	ck_assert_msg(sg_verify_init(ctx, at, &vs, &err) == 0, "%s", err.msg);
	while (off < len) {
		size_t n = chunk != 0 ? chunk : 1 + (size_t)(rand_r(&seed) % 8192);

		if (n > len - off)
			n = len - off;
		/* not ck_assert: Check writes to its log for every
		   assertion, a million of them for a 1 MB message in
		   1-byte pieces */
		if (sg_verify_update(vs, msg + off, n, &err) != 0)
			ck_abort_msg("update: %s", err.msg);
		off += n;
	}
	ck_assert_uint_eq(sg_verify_stream_size(vs), len);
	ck_assert_msg(sg_verify_final(vs, &res, &err) == 0, "final: %s", err.msg);
	sg_verify_free(&vs);
	ck_assert_ptr_null(vs);
	return res;
}

static char *json_of(struct sg_result *res)
{
	char *j = sg_result_json(res, "m");

	ck_assert_ptr_nonnull(j);
	sg_result_free(&res);
	return j;
}

/* same_verdict - every chunking gives the whole-buffer result */
static void same_verdict(struct sg_ctx *ctx, const char *name,
			 const unsigned char *msg, size_t len, time_t at)
{
	static const size_t chunks[] = { 1, 7, 0, 0, (size_t)-1 };
	struct sg_result *res = NULL;
	struct sg_error err;
	char *want, *got;
	size_t i;

	ck_assert_msg(sg_verify_message(ctx, msg, len, at, &res, &err) == 0,
		      "%s: %s", name, err.msg);
	want = json_of(res);
	for (i = 0; i < (sizeof(chunks) / sizeof(chunks[0])); i++) {
		got = json_of(stream_verify(ctx, msg, len, at, chunks[i],
					    (unsigned int)(i * 7919 + len)));
		ck_assert_msg(strcmp(want, got) == 0,
			      "%s (pieces of %zd bytes): stream\n%s\nwhole\n%s",
			      name, (ssize_t)chunks[i], got, want);
		free(got);
	}
	free(want);
}

/* ---- the differential test ---- */

static void differential(const char *extra)
{
	static const char *const gen[] = {
		"msg", "interop", "gate", "certmap-msg", "cipher", "raw",
		"policy",
	};
	static const char *const src[] = {
		"data/fuzz-corpus/verify", "data/fuzz-corpus/mime",
		"data/fuzz-corpus/cms", "data/fuzz-regress", "data/pyca",
	};
	char dir[4096], settings[512];
	struct files f = { 0 };
	struct sg_ctx *ctx, *tb, *rfc;
	time_t at = time(NULL), tb_at, rfc_at;
	size_t i;

	snprintf(settings, sizeof(settings), TU_PKI " %s", extra);
	ctx = tu_ctx(settings, tu_testdata());
	for (i = 0; i < (sizeof(gen) / sizeof(gen[0])); i++) {
		snprintf(dir, sizeof(dir), "%s/%s", tu_testdata(), gen[i]);
		add_tree(&f, dir);
	}
	for (i = 0; i < (sizeof(src) / sizeof(src[0])); i++) {
		snprintf(dir, sizeof(dir), "%s/%s", SG_SRCDIR, src[i]);
		add_tree(&f, dir);
	}
	ck_assert_uint_gt(f.n, 2000);
	for (i = 0; i < f.n; i++) {
		size_t len;
		unsigned char *msg = tu_read(f.path[i], &len);

		same_verdict(ctx, f.path[i], msg, len, at);
		free(msg);
	}
	files_free(&f);
	memset(&f, 0, sizeof(f));

	/* the corpora, with their own anchors and times */
	snprintf(dir, sizeof(dir), "%s/thunderbird-smime", tu_corpora());
	snprintf(settings, sizeof(settings),
		 "trust_anchors=smime/TestCA.pem revocation_check=none %s", extra);
	tb = tu_ctx(settings, dir);
	snprintf(dir, sizeof(dir), "%s/rfc4134-examples", tu_corpora());
	snprintf(settings, sizeof(settings),
		 "trust_anchors=CarlRSASelf.cer,CarlDSSSelf.cer "
		 "allow_sha1_signatures=yes revocation_check=soft %s", extra);
	rfc = tu_ctx(settings, dir);
	ck_assert(sg_parse_time("2026-06-01T00:00:00Z", &tb_at) == 0);
	ck_assert(sg_parse_time("2020-01-01T00:00:00Z", &rfc_at) == 0);
	add_tree(&f, tu_corpora());
	ck_assert_uint_gt(f.n, 100);
	for (i = 0; i < f.n; i++) {
		size_t len;
		unsigned char *msg = tu_read(f.path[i], &len);
		bool is_rfc = strstr(f.path[i], "/rfc4134-examples/") != NULL;

		same_verdict(is_rfc ? rfc : tb, f.path[i], msg, len,
			     is_rfc ? rfc_at : tb_at);
		free(msg);
	}
	files_free(&f);
	sg_ctx_free(&tb);
	sg_ctx_free(&rfc);
	sg_ctx_free(&ctx);
}

START_TEST(test_differential)
{
	differential("");
}
END_TEST

/* many messages over the limit: the prefix path against the whole one */
START_TEST(test_differential_small_limit)
{
	differential("max_message_size=1500");
}
END_TEST

/* ---- a big signed message, made here ---- */

static EVP_PKEY *load_key(const char *rel)
{
	char path[4096];
	EVP_PKEY *k;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tu_testdata(), rel);
	ck_assert_msg((fp = fopen(path, "r")) != NULL, "%s", path);
	k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	ck_assert_ptr_nonnull(k);
	return k;
}

static X509 *load_cert(const char *rel)
{
	char path[4096];
	X509 *x;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tu_testdata(), rel);
	ck_assert_msg((fp = fopen(path, "r")) != NULL, "%s", path);
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	ck_assert_ptr_nonnull(x);
	return x;
}

/* big_signed - a multipart/signed message from alice with a first part of
   about body_size bytes (CRLF); lf: then every CRLF made LF, as maildir
   stores mail */
static unsigned char *big_signed(size_t body_size, bool lf, size_t *len_r)
{
	static const char hdr[] =
		"From: Alice <alice@example.org>\r\n"
		"To: bob@example.org\r\n"
		"Subject: big\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";"
		" micalg=sha-256; boundary=\"BIG\"\r\n\r\n"
		"--BIG\r\n";
	static const char mid[] = "\r\n--BIG\r\n"
		"Content-Type: application/pkcs7-signature; name=smime.p7s\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n";
	static const char end[] = "\r\n--BIG--\r\n";
	EVP_PKEY *key = load_key("pki/alice@example.org.key");
	X509 *cert = load_cert("pki/alice@example.org.pem");
	BIO *in, *out;
	CMS_ContentInfo *cms;
	unsigned char *part, *msg, *der;
	char *b64;
	size_t plen = 0, i, n, der_len, b64_len;
	unsigned char *o;
	const char *line = "Content-Type: text/plain\r\n\r\n";

	part = malloc(body_size + 256);
	ck_assert_ptr_nonnull(part);
	plen = (size_t)sprintf((char *)part, "%s", line);
	for (i = 0; plen + 80 < body_size; i++)
		plen += (size_t)sprintf((char *)part + plen,
					"line %08zu of a big signed message, "
					"kept by the stream in a file.\r\n", i);
	plen += (size_t)sprintf((char *)part + plen, "the end");
	in = BIO_new_mem_buf(part, (int)plen);
	cms = CMS_sign(cert, key, NULL, in, CMS_DETACHED | CMS_BINARY);
	ck_assert_ptr_nonnull(cms);
	BIO_free(in);
	der_len = (size_t)i2d_CMS_ContentInfo(cms, NULL);
	der = malloc(der_len);
	o = der;
	i2d_CMS_ContentInfo(cms, &o);
	out = BIO_new(BIO_s_mem());
	{
		BIO *b = BIO_new(BIO_f_base64());

		out = BIO_push(b, out);
		BIO_write(out, der, (int)der_len);
		(void)BIO_flush(out);
		b64_len = (size_t)BIO_get_mem_data(BIO_next(out), &b64);
	}
	msg = malloc(sizeof(hdr) + plen + sizeof(mid) + 2 * b64_len + sizeof(end));
	ck_assert_ptr_nonnull(msg);
	n = 0;
	memcpy(msg + n, hdr, strlen(hdr));
	n += strlen(hdr);
	memcpy(msg + n, part, plen);
	n += plen;
	memcpy(msg + n, mid, strlen(mid));
	n += strlen(mid);
	for (i = 0; i < b64_len; i++) {
		if (b64[i] == '\n')
			msg[n++] = '\r';
		msg[n++] = (unsigned char)b64[i];
	}
	memcpy(msg + n, end, strlen(end));
	n += strlen(end);
	if (lf) {
		size_t j = 0;

		for (i = 0; i < n; i++)
			if (!(msg[i] == '\r' && i + 1 < n && msg[i + 1] == '\n'))
				msg[j++] = msg[i];
		n = j;
	}
	BIO_free_all(out);
	CMS_ContentInfo_free(cms);
	free(der);
	free(part);
	EVP_PKEY_free(key);
	X509_free(cert);
	*len_r = n;
	return msg;
}

/* past the in-memory bound: the spill file, CRLF and LF */
START_TEST(test_spill)
{
	struct sg_ctx *ctx = tu_ctx(TU_PKI, tu_testdata());
	unsigned char *msg;
	size_t len;
	struct sg_result *res;
	bool lf = _i == 1;

	msg = big_signed(3 * 1024 * 1024, lf, &len);
	ck_assert_uint_gt(len, 3000000);
	res = stream_verify(ctx, msg, len, 0, 65536, 0);
	ck_assert_msg(sg_result_status(res) == SG_STATUS_SIGNED_VERIFIED,
		      "%s: %s", sg_status_name(sg_result_status(res)),
		      sg_result_detail(res));
	ck_assert_str_eq(sg_result_from(res), "alice@example.org");
	sg_result_free(&res);
	same_verdict(ctx, lf ? "big LF" : "big CRLF", msg, len, 0);
	/* one byte changed in the middle: the file holds what was fed */
	msg[len / 2] ^= 1;
	res = stream_verify(ctx, msg, len, 0, 100000, 0);
	ck_assert_int_eq(sg_result_status(res), SG_STATUS_SIGNED_FAILED);
	ck_assert(sg_result_reasons(res) & SG_REASON_BIT(SG_REASON_BAD_SIGNATURE));
	sg_result_free(&res);
	free(msg);
	sg_ctx_free(&ctx);
}
END_TEST

/* the in-memory bound is where files start: a temp_directory that does
   not exist is no matter below it and an error above it */
START_TEST(test_memory_bound)
{
	struct sg_ctx *ctx = tu_ctx(TU_PKI " temp_directory=/nonexistent/sg-stream",
				    tu_testdata());
	struct sg_verify_stream *vs = NULL;
	struct sg_result *res = NULL;
	struct sg_error err;
	static unsigned char block[4096];
	size_t i;

	memset(block, 'a', sizeof(block));
	block[sizeof(block) - 1] = '\n';
	ck_assert(sg_verify_init(ctx, 0, &vs, &err) == 0);
	for (i = 0; i < 1024 * 1024 / sizeof(block); i++)
		ck_assert_msg(sg_verify_update(vs, block, sizeof(block), &err) == 0,
			      "at %zu: %s", i, err.msg);
	/* 1 MiB exactly is in memory; one byte more needs the file */
	ck_assert_int_eq(sg_verify_update(vs, block, 1, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_IO);
	ck_assert_msg(strstr(err.msg, "/nonexistent/sg-stream") != NULL &&
		      strstr(err.msg, "No such file") != NULL, "%s", err.msg);
	/* no verdict afterwards, the same error */
	ck_assert_int_eq(sg_verify_update(vs, block, 1, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_IO);
	ck_assert_int_eq(sg_verify_final(vs, &res, &err), -1);
	ck_assert_ptr_null(res);
	ck_assert_int_eq(err.code, SG_ERR_IO);
	sg_verify_free(&vs);
	sg_ctx_free(&ctx);
}
END_TEST

/* a temp_directory where no file can be made: a clear error, no verdict */
START_TEST(test_bad_temp_directory)
{
	static const char *const dirs[] = {
		"/nonexistent/sg-stream",	/* missing */
		"/proc",			/* nobody may create files */
		"/etc/hostname",		/* not a directory */
		NULL,				/* mode 0500 (when not root) */
	};
	char settings[4096], made[] = "/tmp/sg-stream-ro.XXXXXX";
	const char *dir = dirs[_i];
	struct sg_ctx *ctx;
	struct sg_verify_stream *vs = NULL;
	struct sg_result *res = NULL;
	struct sg_error err;
	unsigned char *msg;
	size_t len;
	int ret;

	if (dir == NULL) {
		ck_assert_ptr_nonnull(mkdtemp(made));
		ck_assert(chmod(made, 0500) == 0);
		dir = made;
		/* root may write a 0500 directory: then it must work */
	}
	snprintf(settings, sizeof(settings), TU_PKI " temp_directory=%s", dir);
	ctx = tu_ctx(settings, tu_testdata());
	msg = big_signed(2 * 1024 * 1024, false, &len);
	ck_assert(sg_verify_init(ctx, 0, &vs, &err) == 0);
	ret = sg_verify_update(vs, msg, len, &err);
	if (dirs[_i] == NULL && geteuid() == 0) {
		ck_assert_msg(ret == 0, "%s", err.msg);
		ck_assert(sg_verify_final(vs, &res, &err) == 0);
		ck_assert_int_eq(sg_result_status(res), SG_STATUS_SIGNED_VERIFIED);
		sg_result_free(&res);
	} else {
		ck_assert_int_eq(ret, -1);
		ck_assert_int_eq(err.code, SG_ERR_IO);
		ck_assert_msg(strstr(err.msg, "temp_directory") != NULL &&
			      strstr(err.msg, dir) != NULL, "%s", err.msg);
		ck_assert_int_eq(sg_verify_final(vs, &res, &err), -1);
		ck_assert_ptr_null(res);
	}
	sg_verify_free(&vs);
	free(msg);
	sg_ctx_free(&ctx);
	if (dirs[_i] == NULL)
		ck_assert(rmdir(made) == 0);
}
END_TEST

/* a write error in the middle (file size limit): an error, not a verdict */
START_TEST(test_write_error)
{
	struct sg_ctx *ctx = tu_ctx(TU_PKI, tu_testdata());
	struct sg_verify_stream *vs = NULL;
	struct sg_result *res = NULL;
	struct sg_error err;
	struct rlimit old, small = { 1536 * 1024, 1536 * 1024 };
	void (*oldsig)(int);
	unsigned char *msg;
	size_t len, off = 0;
	int ret = 0;

	msg = big_signed(3 * 1024 * 1024, false, &len);
	ck_assert(getrlimit(RLIMIT_FSIZE, &old) == 0);
	small.rlim_max = old.rlim_max;
	oldsig = signal(SIGXFSZ, SIG_IGN);
	ck_assert(setrlimit(RLIMIT_FSIZE, &small) == 0);
	ck_assert(sg_verify_init(ctx, 0, &vs, &err) == 0);
	while (off < len && (ret = sg_verify_update(vs, msg + off,
						    len - off < 65536 ? len - off : 65536,
						    &err)) == 0)
		off += 65536;
	ck_assert(setrlimit(RLIMIT_FSIZE, &old) == 0);
	signal(SIGXFSZ, oldsig);
	ck_assert_int_eq(ret, -1);
	ck_assert_uint_gt(off, 1024 * 1024);
	ck_assert_int_eq(err.code, SG_ERR_IO);
	ck_assert_msg(strstr(err.msg, "File too large") != NULL, "%s", err.msg);
	ck_assert_int_eq(sg_verify_final(vs, &res, &err), -1);
	ck_assert_ptr_null(res);
	ck_assert_int_eq(err.code, SG_ERR_IO);
	sg_verify_free(&vs);
	free(msg);
	sg_ctx_free(&ctx);
}
END_TEST

/* past max_message_size: the prefix verdict, only the header kept */
START_TEST(test_too_large)
{
	struct sg_ctx *ctx = tu_ctx(TU_PKI " max_message_size=1000000",
				    tu_testdata());
	struct sg_ctx *nodir = tu_ctx(TU_PKI " max_message_size=1000000 "
				      "temp_directory=/nonexistent/sg-stream",
				      tu_testdata());
	struct sg_result *res, *want;
	struct sg_error err;
	unsigned char *msg;
	size_t len;
	char *a, *b;

	msg = big_signed(3 * 1024 * 1024, false, &len);
	res = stream_verify(ctx, msg, len, 0, 65536, 0);
	ck_assert_int_eq(sg_result_status(res), SG_STATUS_SIGNED);
	ck_assert_uint_eq(sg_result_reasons(res),
			  SG_REASON_BIT(SG_REASON_TOO_LARGE));
	ck_assert(sg_verify_message_prefix(ctx, msg, 4096, len, 0, &want, &err) == 0);
	a = json_of(res);
	b = json_of(want);
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
	/* under 1 MiB kept, and only the header past the limit: no file */
	res = stream_verify(nodir, msg, len, 0, 4096, 0);
	ck_assert_int_eq(sg_result_status(res), SG_STATUS_SIGNED);
	sg_result_free(&res);
	same_verdict(ctx, "too large", msg, len, 0);
	/* unsigned and too large: none */
	memcpy(msg + strlen("From: Alice <alice@example.org>\r\nTo: bob@example.org\r\n"
			    "Subject: big\r\nMIME-Version: 1.0\r\nContent-Type: "),
	       "text     ", 9);
	res = stream_verify(ctx, msg, len, 0, 65536, 0);
	ck_assert_int_eq(sg_result_status(res), SG_STATUS_NONE);
	sg_result_free(&res);
	same_verdict(ctx, "too large, not signed", msg, len, 0);
	free(msg);
	sg_ctx_free(&ctx);
	sg_ctx_free(&nodir);
}
END_TEST

/* misuse that is not a crash: update or final after final; free at any
   point (under ASan: no leak, the file closed) */
START_TEST(test_misuse)
{
	struct sg_ctx *ctx = tu_ctx(TU_PKI, tu_testdata());
	struct sg_verify_stream *vs = NULL;
	struct sg_result *res = NULL;
	struct sg_error err;
	unsigned char *msg;
	size_t len;

	msg = big_signed(2 * 1024 * 1024, false, &len);
	ck_assert(sg_verify_init(ctx, 0, &vs, &err) == 0);
	ck_assert(sg_verify_update(vs, msg, len, &err) == 0);
	ck_assert(sg_verify_final(vs, &res, &err) == 0);
	ck_assert_int_eq(sg_result_status(res), SG_STATUS_SIGNED_VERIFIED);
	sg_result_free(&res);
	ck_assert_int_eq(sg_verify_update(vs, msg, 10, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_INVALID);
	ck_assert_int_eq(sg_verify_final(vs, &res, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_INVALID);
	ck_assert_ptr_null(res);
	sg_verify_free(&vs);
	ck_assert_ptr_null(vs);
	sg_verify_free(&vs);		/* NULL: nothing */
	/* abandoned in memory, and abandoned with a file */
	ck_assert(sg_verify_init(ctx, 0, &vs, &err) == 0);
	ck_assert(sg_verify_update(vs, msg, 1000, &err) == 0);
	sg_verify_free(&vs);
	ck_assert(sg_verify_init(ctx, 0, &vs, &err) == 0);
	ck_assert(sg_verify_update(vs, msg, len, &err) == 0);
	sg_verify_free(&vs);
	/* nothing fed: the verdict on an empty message */
	ck_assert(sg_verify_init(ctx, 0, &vs, &err) == 0);
	ck_assert(sg_verify_final(vs, &res, &err) == 0);
	ck_assert_int_eq(sg_result_status(res), SG_STATUS_NONE);
	sg_result_free(&res);
	sg_verify_free(&vs);
	free(msg);
	sg_ctx_free(&ctx);
}
END_TEST

/* temp_directory must be an absolute path */
START_TEST(test_setting)
{
	struct sg_config *conf;
	struct sg_ctx *ctx = NULL;
	struct sg_error err;

	ck_assert(sg_config_new(&conf) == 0);
	ck_assert_str_eq(sg_config_get(conf, "temp_directory"), "/tmp");
	ck_assert(sg_config_set(conf, "temp_directory", "tmp", &err) == 0);
	ck_assert_int_eq(sg_ctx_new(conf, &ctx, &err), -1);
	ck_assert_msg(strstr(err.msg, "temp_directory") != NULL, "%s", err.msg);
	ck_assert_ptr_null(ctx);
	sg_config_free(&conf);
}
END_TEST

Suite *make_stream_suite(void)
{
	Suite *s = suite_create("stream");
	TCase *tc = tcase_create("differential");
	TCase *tc2 = tcase_create("stream");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_differential);
	tcase_add_test(tc, test_differential_small_limit);
	suite_add_tcase(s, tc);
	tcase_set_timeout(tc2, 120);
	tcase_add_loop_test(tc2, test_spill, 0, 2);
	tcase_add_test(tc2, test_memory_bound);
	tcase_add_loop_test(tc2, test_bad_temp_directory, 0, 4);
	tcase_add_test(tc2, test_write_error);
	tcase_add_test(tc2, test_too_large);
	tcase_add_test(tc2, test_misuse);
	tcase_add_test(tc2, test_setting);
	suite_add_tcase(s, tc2);
	return s;
}
