/* suite-doctor.c - what smimectl doctor reports: sg_config_check over
 * a configuration (CRLs, CA certificates, paths, maps) and sg_cert_check
 * for an address
 *
 * Uses the test PKI and data-gen/certmap/ (gen-pki.sh).
 */
#include "config.h"

#include <check.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check-suites.h"
#include "sg-base.h"
#include "test-util.h"

/* what sg_config_check and sg_cert_check report */
struct found {
	char code[64][40];
	char about[64][300];
	char address[64][80];
	size_t n;
};

static void collect(const struct sg_finding *f, void *context)
{
	struct found *fd = context;

	ck_assert(f->code[0] != '\0' && f->text[0] != '\0' && f->fix[0] != '\0');
	ck_assert(strchr(f->text, '\n') == NULL && strchr(f->fix, '\n') == NULL);
	if (fd->n >= 64)
		return;
	snprintf(fd->code[fd->n], sizeof(fd->code[0]), "%s", f->code);
	snprintf(fd->about[fd->n], sizeof(fd->about[0]), "%s", f->about);
	snprintf(fd->address[fd->n], sizeof(fd->address[0]), "%s", f->address);
	fd->n++;
}

/* has - is there a finding code whose about contains part */
static bool has(const struct found *fd, const char *code, const char *part)
{
	size_t i;

	for (i = 0; i < fd->n; i++) {
		if (strcmp(fd->code[i], code) == 0 &&
		    (part == NULL || strstr(fd->about[i], part) != NULL))
			return true;
	}
	return false;
}

/* check_conf - sg_config_check over "name=value ..." (%1$s: testdata) */
static void check_conf(struct found *fd, time_t at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void check_conf(struct found *fd, time_t at, const char *fmt, ...)
{
	char settings[8192], *tok, *save = NULL;
	struct sg_config *conf;
	struct sg_error err;
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(settings, sizeof(settings), fmt, ap);
	va_end(ap);
	ck_assert_int_eq(sg_config_new(&conf), 0);
	for (tok = strtok_r(settings, " ", &save); tok != NULL;
	     tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');

		ck_assert(eq != NULL);
		*eq = '\0';
		ck_assert_msg(sg_config_set(conf, tok, eq + 1, &err) == 0, "%s", err.msg);
	}
	memset(fd, 0, sizeof(*fd));
	n = sg_config_check(conf, at, collect, fd, &err);
	ck_assert_msg(n >= 0, "%s", err.msg);
	ck_assert_int_eq((size_t)n, fd->n);
	sg_config_free(&conf);
}

START_TEST(test_config_check)
{
	const char *d = tu_testdata();
	char dir[] = "/tmp/sg-doctor.XXXXXX", path[4096];
	struct found *fd = malloc(sizeof(*fd));

	ck_assert_ptr_nonnull(fd);
	check_conf(fd, 0, "trust_anchors=%s/trust intermediates=%s/intermediates "
		   "crl_dirs=%s/crl certificate_maps=dir:%s/certmap", d, d, d, d);
	ck_assert_msg(fd->n == 0, "%s %s", fd->code[0], fd->about[0]);
	/* an expired CRL, named by its file */
	check_conf(fd, 0, "trust_anchors=%s/trust intermediates=%s/intermediates "
		   "crl_dirs=%s/crl-stale", d, d, d);
	ck_assert_msg(fd->n == 1 && has(fd, "crl-expired", "int-rsa-stale.crl.pem"),
		      "%zu %s", fd->n, fd->code[0]);
	/* CRLs not yet valid (checked before they were made) */
	check_conf(fd, 1000000000, "trust_anchors=%s/trust crl_dirs=%s/crl", d, d);
	ck_assert(has(fd, "crl-not-yet-valid", "root-rsa.crl.pem"));
	/* far in the future: every CA certificate expired */
	check_conf(fd, 4102444800, "trust_anchors=%s/trust intermediates=%s/intermediates",
		   d, d);
	ck_assert(has(fd, "ca-expired", "Root CA RSA") && has(fd, "ca-expired", "Mail CA ECC"));
	/* unreadable paths, maps */
	check_conf(fd, 0, "trust_anchors=/nonexistent/trust crl_dirs=%s/crl "
		   "certificate_maps=dir:/nonexistent/certs", d);
	ck_assert(has(fd, "path-unreadable", "/nonexistent/trust"));
	ck_assert(has(fd, "map-unreadable", "dir:/nonexistent/certs"));
	/* hard mode: the intermediates have no CRL */
	check_conf(fd, 0, "trust_anchors=%s/trust intermediates=%s/intermediates "
		   "crl_dirs=%s/crl-rootonly revocation_check=hard", d, d, d);
	ck_assert_msg(fd->n == 2 && has(fd, "crl-missing", "Mail CA RSA") &&
		      has(fd, "crl-missing", "Mail CA ECC"), "%zu", fd->n);
	/* soft mode: no finding for that */
	check_conf(fd, 0, "trust_anchors=%s/trust intermediates=%s/intermediates "
		   "crl_dirs=%s/crl-rootonly", d, d, d);
	ck_assert_uint_eq(fd->n, 0);
	/* an intermediate whose root is not a trust anchor */
	check_conf(fd, 0, "trust_anchors=%s/trust/root-ec.pem "
		   "intermediates=%s/intermediates", d, d);
	ck_assert(has(fd, "missing-issuer", "CN=Example Org Root CA RSA,O=Example Org,C=DE"));
	/* a user certificate among the trust anchors */
	check_conf(fd, 0, "trust_anchors=%s/pki/alice@example.org.pem", d);
	ck_assert(has(fd, "not-a-ca", "Alice"));
	/* a directory with a file that holds nothing, an empty directory */
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/readme.txt", dir);
	tu_write_file(path, "not a certificate\n", 0644);
	check_conf(fd, 0, "trust_anchors=%s/trust,%s crl_dirs=%s/crl", d, dir, d);
	ck_assert(has(fd, "path-empty", "readme.txt"));
	ck_assert(has(fd, "path-empty", dir));
	tu_rm_dir(dir);
	free(fd);
}
END_TEST

START_TEST(test_cert_check)
{
	char settings[4096];
	struct found *fd = malloc(sizeof(*fd));
	struct sg_error err;
	struct sg_ctx *ctx;

	ck_assert_ptr_nonnull(fd);
	/* no intermediates configured: the chain lacks the mail CA */
	snprintf(settings, sizeof(settings),
		 "trust_anchors=trust crl_dirs=crl certificate_maps=dir:%s/certmap",
		 tu_testdata());
	ctx = tu_ctx(settings, tu_testdata());
	memset(fd, 0, sizeof(*fd));
	ck_assert_int_eq(sg_cert_check(ctx, "Bob@Example.ORG", 0, collect, fd, &err), 3);
	ck_assert_str_eq(fd->code[0], "missing-issuer");
	ck_assert_str_eq(fd->about[0], "CN=Example Org Mail CA RSA,O=Example Org,C=DE");
	ck_assert_str_eq(fd->address[0], "bob@example.org");
	ck_assert_str_eq(fd->code[2], "no-usable-certificate");
	memset(fd, 0, sizeof(*fd));
	ck_assert_int_eq(sg_cert_check(ctx, "nobody@example.org", 0, collect, fd, &err), 1);
	ck_assert_str_eq(fd->code[0], "no-certificate");
	memset(fd, 0, sizeof(*fd));
	ck_assert_int_eq(sg_cert_check(ctx, "no body", 0, collect, fd, &err), 1);
	ck_assert_str_eq(fd->code[0], "not-an-address");
	sg_ctx_free(&ctx);
	/* a complete trust store: clean, or the certificate's own fault */
	ctx = tu_map_ctx(NULL);
	memset(fd, 0, sizeof(*fd));
	ck_assert_int_eq(sg_cert_check(ctx, "bob@example.org", 0, collect, fd, &err), 0);
	ck_assert_int_eq(sg_cert_check(ctx, "expired@example.org", 0, collect, fd, &err), 1);
	ck_assert_str_eq(fd->code[0], "no-usable-certificate");
	sg_ctx_free(&ctx);
	/* hard mode without the intermediate's CRL */
	snprintf(settings, sizeof(settings),
		 "trust_anchors=trust intermediates=intermediates crl_dirs=crl-rootonly "
		 "revocation_check=hard certificate_maps=dir:%s/certmap", tu_testdata());
	ctx = tu_ctx(settings, tu_testdata());
	memset(fd, 0, sizeof(*fd));
	ck_assert_int_eq(sg_cert_check(ctx, "ecdh@example.org", 0, collect, fd, &err), 2);
	ck_assert(has(fd, "revocation-unknown", "CN=Example Org Mail CA ECC"));
	sg_ctx_free(&ctx);
	free(fd);
}
END_TEST

/* make_doctor_suite - the doctor Check suite */
Suite *make_doctor_suite(void)
{
	Suite *s = suite_create("doctor");
	TCase *tc = tcase_create("check");

	tcase_add_test(tc, test_config_check);
	tcase_add_test(tc, test_cert_check);
	tcase_set_timeout(tc, 20);
	suite_add_tcase(s, tc);
	return s;
}
