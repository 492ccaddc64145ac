/* suite-icache.c - intermediate_cache: intermediates learned from mail
 *
 * What the cache may and may not do: an intermediate carried by a
 * message whose chain verified is kept and makes later mail without it
 * verify (in the same context and in a new one); nothing cached ever
 * becomes a trust anchor; a chain that did not verify teaches nothing;
 * intermediate_cache_max holds.  AIA fetching over HTTP is tested by
 * test-aia.sh against a local server.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check-suites.h"
#include "test-util.h"

static char cache[4096];

static void make_cache(void)
{
	snprintf(cache, sizeof(cache), "%s/sg-icache-XXXXXX",
		 getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(cache));
}

/* count_pem - *.pem files in dir (not hidden) */
static int count_pem(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] != '.' && len > 4 &&
		    strcmp(de->d_name + len - 4, ".pem") == 0)
			n++;
	}
	closedir(d);
	return n;
}

static void remove_cache(void)
{
	tu_rm_dir(cache);
}

static void copy_into_cache(const char *rel, const char *name)
{
	char src[4096], dst[8192];
	size_t len;
	unsigned char *data;
	FILE *fp;

	snprintf(src, sizeof(src), "%s/%s", tu_testdata(), rel);
	snprintf(dst, sizeof(dst), "%s/%s", cache, name);
	data = tu_read(src, &len);
	ck_assert_ptr_nonnull(fp = fopen(dst, "w"));
	ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
	free(data);
}

static struct sg_ctx *cache_ctx(const char *anchors, const char *extra)
{
	char settings[8192];

	snprintf(settings, sizeof(settings), "trust_anchors=%s "
		 "revocation_check=none intermediate_cache=%s%s%s", anchors,
		 cache, extra[0] != '\0' ? " " : "", extra);
	return tu_ctx(settings, tu_testdata());
}

static enum sg_status verify_file(struct sg_ctx *ctx, const char *rel,
				  uint32_t *reasons_r)
{
	char path[4096];
	size_t len;
	unsigned char *m;
	struct sg_result *res;
	enum sg_status st;

	snprintf(path, sizeof(path), "%s/%s", tu_testdata(), rel);
	m = tu_read(path, &len);
	res = tu_verify(ctx, m, len, 0);
	st = sg_result_status(res);
	if (reasons_r != NULL)
		*reasons_r = sg_result_reasons(res);
	sg_result_free(&res);
	free(m);
	return st;
}

/* the intermediate of a verified message helps later mail without it */
START_TEST(test_learned_intermediate)
{
	struct sg_ctx *ctx, *ctx2;
	uint32_t reasons;

	make_cache();
	ctx = cache_ctx("trust", "");
	ck_assert_uint_eq(sg_ctx_cached_intermediates(ctx), 0);
	ck_assert_int_eq(verify_file(ctx, "msg/alice-no-intermediate.eml",
				     &reasons), SG_STATUS_SIGNED_FAILED);
	ck_assert(reasons & SG_REASON_BIT(SG_REASON_UNTRUSTED));
	ck_assert_int_eq(count_pem(cache), 0);
	ck_assert_int_eq(verify_file(ctx, "msg/alice-detached.eml", NULL),
			 SG_STATUS_SIGNED_VERIFIED);
	ck_assert_int_eq(count_pem(cache), 1);
	ck_assert_uint_eq(sg_ctx_cached_intermediates(ctx), 1);
	/* the same context knows it at once ... */
	ck_assert_int_eq(verify_file(ctx, "msg/alice-no-intermediate.eml",
				     NULL), SG_STATUS_SIGNED_VERIFIED);
	/* ... and a new one (another process) reads it from the cache */
	ctx2 = cache_ctx("trust", "");
	ck_assert_uint_eq(sg_ctx_cached_intermediates(ctx2), 1);
	ck_assert_int_eq(verify_file(ctx2, "msg/alice-no-intermediate.eml",
				     NULL), SG_STATUS_SIGNED_VERIFIED);
	/* learning it again stores nothing twice */
	ck_assert_int_eq(verify_file(ctx2, "msg/alice-detached.eml", NULL),
			 SG_STATUS_SIGNED_VERIFIED);
	ck_assert_int_eq(count_pem(cache), 1);
	sg_ctx_free(&ctx2);
	sg_ctx_free(&ctx);
	remove_cache();
}
END_TEST

/* what another process learned helps a context that was built before
   (its configuration stamp is looked at only now and then): the cache
   directory is read again when an issuer is missing */
START_TEST(test_learned_by_another_process)
{
	struct sg_ctx *old, *other;

	make_cache();
	old = cache_ctx("trust", "");
	other = cache_ctx("trust", "");
	ck_assert_int_eq(verify_file(old, "msg/alice-no-intermediate.eml", NULL),
			 SG_STATUS_SIGNED_FAILED);
	ck_assert_int_eq(verify_file(other, "msg/alice-detached.eml", NULL),
			 SG_STATUS_SIGNED_VERIFIED);
	ck_assert_int_eq(count_pem(cache), 1);
	ck_assert_uint_eq(sg_ctx_cached_intermediates(old), 0);
	ck_assert_int_eq(verify_file(old, "msg/alice-no-intermediate.eml", NULL),
			 SG_STATUS_SIGNED_VERIFIED);
	ck_assert_uint_eq(sg_ctx_cached_intermediates(old), 1);
	sg_ctx_free(&other);
	sg_ctx_free(&old);
	remove_cache();
}
END_TEST

/* a chain that does not reach a configured anchor teaches nothing */
START_TEST(test_untrusted_chain_teaches_nothing)
{
	struct sg_ctx *ctx;
	uint32_t reasons;

	make_cache();
	/* only the EC root: alice's RSA chain is untrusted */
	ctx = cache_ctx("trust/root-ec.pem", "");
	ck_assert_int_eq(verify_file(ctx, "msg/alice-detached.eml", &reasons),
			 SG_STATUS_SIGNED_FAILED);
	ck_assert(reasons & SG_REASON_BIT(SG_REASON_UNTRUSTED));
	ck_assert_int_eq(count_pem(cache), 0);
	ck_assert_uint_eq(sg_ctx_cached_intermediates(ctx), 0);
	sg_ctx_free(&ctx);
	remove_cache();
}
END_TEST

/* a cached certificate is never a trust anchor: a root dropped into the
   cache is not loaded, and an intermediate in it still needs its root
   among trust_anchors */
START_TEST(test_cache_is_not_an_anchor)
{
	struct sg_ctx *ctx;
	uint32_t reasons;

	make_cache();
	copy_into_cache("trust/root-rsa.pem", "root.pem");
	copy_into_cache("intermediates/int-rsa.pem", "int.pem");
	ctx = cache_ctx("trust/root-ec.pem", "");
	ck_assert_uint_eq(sg_ctx_cached_intermediates(ctx), 1);	/* no root */
	ck_assert_int_eq(verify_file(ctx, "msg/alice-no-intermediate.eml",
				     &reasons), SG_STATUS_SIGNED_FAILED);
	ck_assert(reasons & SG_REASON_BIT(SG_REASON_UNTRUSTED));
	ck_assert_int_eq(verify_file(ctx, "msg/alice-detached.eml", &reasons),
			 SG_STATUS_SIGNED_FAILED);
	ck_assert(reasons & SG_REASON_BIT(SG_REASON_UNTRUSTED));
	sg_ctx_free(&ctx);
	/* with its root configured, the cached intermediate completes it */
	ctx = cache_ctx("trust", "");
	ck_assert_int_eq(verify_file(ctx, "msg/alice-no-intermediate.eml",
				     NULL), SG_STATUS_SIGNED_VERIFIED);
	sg_ctx_free(&ctx);
	remove_cache();
}
END_TEST

/* intermediate_cache_max holds */
START_TEST(test_cache_cap)
{
	struct sg_ctx *ctx;

	make_cache();
	ctx = cache_ctx("trust", "intermediate_cache_max=1");
	ck_assert_int_eq(verify_file(ctx, "msg/alice-detached.eml", NULL),
			 SG_STATUS_SIGNED_VERIFIED);
	ck_assert_int_eq(verify_file(ctx, "msg/carol-detached.eml", NULL),
			 SG_STATUS_SIGNED_VERIFIED);
	ck_assert_int_eq(count_pem(cache), 1);
	ck_assert_uint_eq(sg_ctx_cached_intermediates(ctx), 1);
	sg_ctx_free(&ctx);
	remove_cache();
}
END_TEST

/* configured intermediates are not copied into the cache; without a
   cache nothing is written anywhere */
START_TEST(test_configured_not_cached)
{
	struct sg_ctx *ctx;

	make_cache();
	ctx = cache_ctx("trust", "");
	sg_ctx_free(&ctx);
	ctx = tu_ctx("trust_anchors=trust intermediates=intermediates "
		     "revocation_check=none", tu_testdata());
	ck_assert_int_eq(verify_file(ctx, "msg/alice-detached.eml", NULL),
			 SG_STATUS_SIGNED_VERIFIED);
	sg_ctx_free(&ctx);
	{
		char settings[8192];

		snprintf(settings, sizeof(settings), "trust_anchors=trust "
			 "intermediates=intermediates revocation_check=none "
			 "intermediate_cache=%s", cache);
		ctx = tu_ctx(settings, tu_testdata());
	}
	ck_assert_int_eq(verify_file(ctx, "msg/alice-detached.eml", NULL),
			 SG_STATUS_SIGNED_VERIFIED);
	ck_assert_int_eq(count_pem(cache), 0);
	sg_ctx_free(&ctx);
	remove_cache();
}
END_TEST

/* aia_fetch needs the cache; the cache must be an absolute path; the
   API refuses without a cache */
START_TEST(test_settings)
{
	struct sg_config *conf;
	struct sg_ctx *ctx = NULL;
	struct sg_error err;
	static const unsigned char junk[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };

	ck_assert_int_eq(sg_config_new(&conf), 0);
	ck_assert_int_eq(sg_config_set(conf, "aia_fetch", "yes", &err), 0);
	ck_assert_int_eq(sg_ctx_new(conf, &ctx, &err), -1);
	ck_assert(strstr(err.msg, "intermediate_cache") != NULL);
	ck_assert_int_eq(sg_config_set(conf, "aia_fetch", "sometimes", &err), -1);
	ck_assert_int_eq(sg_config_set(conf, "aia_fetch", "no", &err), 0);
	ck_assert_int_eq(sg_config_set(conf, "intermediate_cache", "rel/dir",
				       &err), 0);
	ck_assert_int_eq(sg_ctx_new(conf, &ctx, &err), -1);
	ck_assert(strstr(err.msg, "absolute") != NULL);
	ck_assert_int_eq(sg_config_set(conf, "intermediate_cache", "", &err), 0);
	ck_assert_int_eq(sg_ctx_new(conf, &ctx, &err), 0);
	ck_assert_int_eq(sg_ca_fetch(ctx, junk, sizeof(junk), 1, NULL, NULL,
				     &err), -1);
	ck_assert(strstr(err.msg, "intermediate_cache") != NULL);
	ck_assert_int_eq(sg_ca_fetch_pending(ctx, 1, NULL, NULL, &err), -1);
	sg_ctx_free(&ctx);
	/* garbage is refused, not parsed */
	make_cache();
	ck_assert_int_eq(sg_config_set(conf, "intermediate_cache", cache, &err), 0);
	ck_assert_int_eq(sg_ctx_new(conf, &ctx, &err), 0);
	ck_assert_int_eq(sg_ca_fetch(ctx, junk, sizeof(junk), 1, NULL, NULL,
				     &err), -1);
	ck_assert_int_eq(sg_ca_fetch_pending(ctx, 1, NULL, NULL, &err), 0);
	sg_ctx_free(&ctx);
	sg_config_free(&conf);
	remove_cache();
	ck_assert_str_eq(sg_aia_outcome_name(SG_AIA_STORED), "stored");
	ck_assert_str_eq(sg_aia_outcome_name((enum sg_aia_outcome)99), "unknown");
}
END_TEST

Suite *make_icache_suite(void)
{
	Suite *s = suite_create("icache");
	TCase *tc = tcase_create("icache");

	tcase_add_test(tc, test_learned_intermediate);
	tcase_add_test(tc, test_learned_by_another_process);
	tcase_add_test(tc, test_untrusted_chain_teaches_nothing);
	tcase_add_test(tc, test_cache_is_not_an_anchor);
	tcase_add_test(tc, test_cache_cap);
	tcase_add_test(tc, test_configured_not_cached);
	tcase_add_test(tc, test_settings);
	suite_add_tcase(s, tc);
	return s;
}
