/* suite-ldap.c - ldap: certificate maps without a server: the
 * query_filter template, the map file's settings, servers that do not
 * answer
 *
 * The maps against a real slapd are tests/ldap/test-ldap.py.  Without
 * LDAP support (configure --without-ldap) the suite has no tests; what
 * such a build says about ldap: settings is test_map_settings in
 * suite-certmap.c.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check-suites.h"
#include "sg-base.h"
#include "ldapmap-private.h"
#include "test-util.h"

#ifdef HAVE_LDAP
/* the query_filter template: RFC 4515 escaping of every value */
START_TEST(test_ldap_filter)
{
	static const struct {
		const char *tmpl, *addr, *want;	/* want NULL: no query */
	} cases[] = {
		{ "(mail=%s)", "bob@example.org", "(mail=bob@example.org)" },
		{ "(mail=%s)", "*", "(mail=\\2a)" },
		{ "(mail=%s)", "*)(mail=*", "(mail=\\2a\\29\\28mail=\\2a)" },
		{ "(mail=%s)", "a\\b(c)@x", "(mail=a\\5cb\\28c\\29@x)" },
		{ "(|(mail=%s)(proxyAddresses=smtp:%s))", "b*b@x",
		  "(|(mail=b\\2ab@x)(proxyAddresses=smtp:b\\2ab@x))" },
		{ "(&(uid=%u)(dc=%d))", "bob@example.org",
		  "(&(uid=bob)(dc=example.org))" },
		{ "(&(uid=%u)(dc=%d))", "a@b@c*", "(&(uid=a@b)(dc=c\\2a))" },
		{ "(uid=%u)", "bob", "(uid=bob)" },
		{ "(dc=%d)", "bob", NULL },
		{ "(dc=%d)", "bob@", NULL },
		{ "(&(mail=%s)(x=100%%))", "j\xc3\xb6rg@x",
		  "(&(mail=j\xc3\xb6rg@x)(x=100%))" },
	};
	struct sg_buf out = { 0 };
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = sg_ldapmap_filter(cases[i].tmpl, cases[i].addr, &out);

		if (cases[i].want == NULL) {
			ck_assert_msg(r == 1, "[%zu] %d", i, r);
			continue;
		}
		ck_assert_msg(r == 0, "[%zu] %d", i, r);
		ck_assert_msg(strcmp((const char *)out.data, cases[i].want) == 0,
			      "[%zu] %s, want %s", i, (const char *)out.data,
			      cases[i].want);
	}
	sg_buf_free(&out);
}
END_TEST

/* map files: settings checked by sg_ctx_new, with file and line */
START_TEST(test_ldap_map_file)
{
	static const struct {
		const char *text;
		mode_t mode;
		const char *msg;		/* NULL: accepted */
	} cases[] = {
		{ "server_host = ldap://127.0.0.1:1\nsearch_base = dc=x\n", 0644, NULL },
		{ "# comment\nserver_host = ldap://a:1,\n  ldaps://b, ldapi://%2Frun%2Fs\n"
		  "search_base =\n dc=x\nscope = one\ncache_ttl = 0\n", 0644, NULL },
		{ "server_host = ldap.example.org\n", 0644, NULL },
		{ "bind_dn = cn=r\nbind_pw = s\n", 0600, NULL },
		{ "bind_dn = cn=r\nbind_pw = s\n", 0644, "readable by everyone (mode 0644): chmod 600" },
		{ "bind_dn = cn=r\nbind_pw = s\n", 0640, "readable by its group" },
		{ "bind_pw = s\n", 0600, "bind_pw: set, but bind_dn is not" },
		{ "search_base = x\nfoo = bar\n", 0644, "line 2: unknown setting 'foo'" },
		{ "search_base\n", 0644, "line 1: not \"name = value\"" },
		{ "  search_base = x\n", 0644, "line 1: continuation line" },
		{ "server_host = http://x\n", 0644, "only ldap://, ldaps:// and ldapi://" },
		{ "server_host = ldap://x/dc=example\n", 0644, "give only scheme://host:port" },
		{ "server_host = ldaps://x\nstart_tls = yes\n", 0644, "cannot be used with ldaps://" },
		{ "scope = all\n", 0644, "scope: not sub, one or base" },
		{ "query_filter = mail=%s\n", 0644, "starts with '('" },
		{ "query_filter = (mail=%x)\n", 0644, "only %s, %u, %d and %%" },
		{ "query_filter = (mail=x)\n", 0644, "uses none of %s, %u, %d" },
		{ "query_filter = (&(mail=%s)\n", 0644, "unbalanced" },
		{ "timeout = 0\n", 0644, "timeout: not a number from 1 to 600" },
		{ "cache_ttl = -1\n", 0644, "cache_ttl: not a number" },
		{ "version = 2\n", 0644, "version: not a number from 3 to 3" },
		{ "sasl_mech = GSSAPI\n", 0644, "only EXTERNAL is supported" },
		{ "bind = maybe\n", 0644, "bind: not yes, no or sasl" },
		{ "bind = no\nbind_dn = cn=x\n", 0644, "bind: no, but bind_dn is set" },
		{ "start_tls = perhaps\n", 0644, "start_tls: not yes or no" },
		/* one set of boolean words (sg_conf_bool): yes and no in
		   any case, as in smimeguard.conf; true/false are not */
		{ "tls_require_cert = NO\nstart_tls = Yes\n", 0644, NULL },
		{ "start_tls = true\n", 0644, "start_tls: not yes or no" },
		{ "tls_require_cert = false\n", 0644, "tls_require_cert: not yes or no" },
		{ "bind = true\nbind_dn = cn=x\n", 0644, "bind: not yes, no or sasl" },
		{ "bind = No\n", 0644, NULL },
		{ "tls_cert = /c.pem\n", 0644, "tls_cert and tls_key go together" },
		{ "result_attribute = user(Certificate\n", 0644, "not an attribute description" },
	};
	char dir[] = "/tmp/sg-ldapmap.XXXXXX", path[4096], spec[4200];
	struct sg_config *conf;
	struct sg_ctx *ctx;
	struct sg_error err;
	size_t i;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/map.cf", dir);
	snprintf(spec, sizeof(spec), "ldap:%s", path);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r;

		tu_write_file(path, cases[i].text, cases[i].mode);
		ck_assert_int_eq(sg_config_new(&conf), 0);
		ck_assert_int_eq(sg_config_set(conf, "certificate_maps", spec, &err), 0);
		ctx = NULL;
		r = sg_ctx_new(conf, &ctx, &err);
		sg_config_free(&conf);
		if (cases[i].msg == NULL) {
			ck_assert_msg(r == 0, "[%zu] %s", i, err.msg);
		} else {
			ck_assert_msg(r == -1 && strstr(err.msg, cases[i].msg) != NULL &&
				      strstr(err.msg, path) != NULL,
				      "[%zu] %s", i, r == 0 ? "accepted" : err.msg);
		}
		sg_ctx_free(&ctx);
	}
	tu_rm_dir(dir);
}
END_TEST

/* a server that cannot be reached is a temporary error, never "no
   certificate"; addresses outside `domain` are not looked up */
START_TEST(test_ldap_down)
{
	char dir[] = "/tmp/sg-ldapmap.XXXXXX", path[4096], settings[8192];
	struct sg_cert_set *set = NULL;
	struct sg_error err;
	struct sg_ctx *ctx;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/map.cf", dir);
	tu_write_file(path, "server_host = ldap://127.0.0.1:1 ldap://127.0.0.1:2\n"
		   "search_base = dc=example,dc=org\ndomain = example.org\n", 0600);
	snprintf(settings, sizeof(settings), TU_PKI " certificate_maps=ldap:%s", path);
	ctx = tu_ctx(settings, tu_testdata());
	ck_assert_int_eq(sg_cert_lookup(ctx, "bob@example.org", 0, &set, &err), -1);
	ck_assert_ptr_null(set);
	ck_assert_msg(strstr(err.msg, "no LDAP server answered") != NULL &&
		      strstr(err.msg, "ldap://127.0.0.1:1") != NULL &&
		      strstr(err.msg, "ldap://127.0.0.1:2") != NULL, "%s", err.msg);
	set = tu_lookup(ctx, "bob@example.com", 0, 0);
	ck_assert_uint_eq(sg_cert_set_count(set), 0);
	sg_cert_set_free(&set);
	sg_ctx_free(&ctx);
	/* a later dir: map with a usable certificate still answers */
	snprintf(settings, sizeof(settings),
		 TU_PKI " certificate_maps=ldap:%s,dir:%s/certmap", path, tu_testdata());
	ctx = tu_ctx(settings, tu_testdata());
	set = tu_lookup(ctx, "bob@example.org", 0, 1);
	sg_cert_set_free(&set);
	sg_ctx_free(&ctx);
	tu_rm_dir(dir);
}
END_TEST

/* an ldap: policy map whose servers do not answer: every decision that
   needs a rule is temporary (451 4.3.0, the message check -1), never
   "nothing required"; the map file is checked when the policy is made */
START_TEST(test_ldap_policy_down)
{
	char dir[] = "/tmp/sg-ldapmap.XXXXXX", path[4096], spec[4200];
	struct sg_policy_envelope env = { .sender = "a@example.org" };
	struct sg_policy_decision d;
	struct sg_config *conf;
	struct sg_policy *pol = NULL;
	struct sg_result *res = NULL;
	struct sg_error err;
	struct sg_ctx *ctx;
	const char *code, *enhanced;
	char why[256];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/policy.cf", dir);
	snprintf(spec, sizeof(spec), "ldap:%s", path);
	ck_assert_int_eq(sg_config_new(&conf), 0);
	ck_assert_int_eq(sg_config_set(conf, "internal_domains", "example.org", &err), 0);
	ck_assert_int_eq(sg_config_set(conf, "encryption_policy_maps", spec, &err), 0);
	/* result_attribute has no default in a map of text values */
	tu_write_file(path, "server_host = ldap://127.0.0.1:1\n", 0644);
	ck_assert_int_eq(sg_policy_new(conf, &pol, &err), -1);
	ck_assert_msg(strstr(err.msg, "result_attribute is required") != NULL,
		      "%s", err.msg);
	tu_write_file(path, "result_attribute = description\n"
		      "address_attribute = mail\n", 0644);
	ck_assert_int_eq(sg_policy_new(conf, &pol, &err), -1);
	ck_assert_msg(strstr(err.msg, "address_attribute: only a certificate map") != NULL,
		      "%s", err.msg);
	tu_write_file(path, "server_host = ldap://127.0.0.1:1 ldap://127.0.0.1:2\n"
		      "result_attribute = description\ntimeout = 1\n", 0644);
	ck_assert_msg(sg_policy_new(conf, &pol, &err) == 0, "%s", err.msg);
	sg_config_free(&conf);
	/* internal mail needs no rule: no lookup */
	sg_policy_decide(pol, "a@example.org", "b@example.org", &d);
	ck_assert(d.internal && !d.temporary);
	sg_policy_decide(pol, "a@example.org", "x@ext.example", &d);
	ck_assert(d.temporary && d.requirements == 0);
	ck_assert_msg(strstr(d.why, "policy lookup failed: ") != NULL &&
		      strstr(d.why, "no LDAP server answered") != NULL, "%s", d.why);
	ck_assert(sg_policy_refusal(&d, &code, &enhanced));
	ck_assert_str_eq(code, "451");
	ck_assert_str_eq(enhanced, "4.3.0");
	/* the milter's check of a message: a temporary failure */
	ctx = tu_ctx(TU_PKI, tu_testdata());
	ck_assert_int_eq(sg_verify_message(ctx, (const unsigned char *)
					   "Subject: x\r\n\r\nhi\r\n", 19, 0,
					   &res, &err), 0);
	env.recipient = "x@ext.example";
	ck_assert_int_eq(sg_policy_check_message(pol, ctx, &env, res, 0, &d, why,
						 sizeof(why), &err), -1);
	ck_assert(d.temporary);
	ck_assert_msg(strstr(err.msg, "no LDAP server answered") != NULL, "%s", err.msg);
	sg_result_free(&res);
	sg_ctx_free(&ctx);
	sg_policy_free(&pol);
	tu_rm_dir(dir);
}
END_TEST
#endif

/* make_ldap_suite - the LDAP map Check suite */
Suite *make_ldap_suite(void)
{
	Suite *s = suite_create("ldap");
	TCase *tc = tcase_create("map");

#ifdef HAVE_LDAP
	tcase_add_test(tc, test_ldap_filter);
	tcase_add_test(tc, test_ldap_map_file);
	tcase_add_test(tc, test_ldap_down);
	tcase_add_test(tc, test_ldap_policy_down);
#endif
	tcase_set_timeout(tc, 20);
	suite_add_tcase(s, tc);
	return s;
}
