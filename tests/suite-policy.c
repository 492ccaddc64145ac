/* suite-policy.c - the outbound encryption policy engine */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check-suites.h"
#include "smimeguard.h"

static char map_path[64];

static const char map_text[] =
	"# encryption policy\n"
	"partner@ext.example      encrypt\n"
	"ext.example              encrypt-aead\n"
	".bank.example            encrypt defer\n"
	"open@bank.example        none\n"
	"from:@hr.example.org     encrypt+sign\n"
	"from:ceo@example.org     encrypt monitor\n"
	"signme.example           sign hold\n"
	"*                        none\n";

static struct sg_policy *make(const char *action, const char *extra_name,
			      const char *extra_value)
{
	struct sg_config *conf;
	struct sg_policy *pol;
	struct sg_error err;

	ck_assert(sg_config_new(&conf) == 0);
	ck_assert(sg_config_set(conf, "internal_domains",
				"example.org, .example.org", &err) == 0);
	ck_assert(sg_config_set(conf, "encryption_policy_maps", map_path, &err) == 0);
	if (action != NULL)
		ck_assert(sg_config_set(conf, "policy_action", action, &err) == 0);
	if (extra_name != NULL)
		ck_assert(sg_config_set(conf, extra_name, extra_value, &err) == 0);
	ck_assert_msg(sg_policy_new(conf, &pol, &err) == 0, "%s", err.msg);
	sg_config_free(&conf);
	return pol;
}

static void setup(void)
{
	FILE *fp;
	int fd;

	strcpy(map_path, "/tmp/sg-policy-XXXXXX");
	fd = mkstemp(map_path);
	ck_assert(fd >= 0);
	fp = fdopen(fd, "w");
	fputs(map_text, fp);
	fclose(fp);
}

static void teardown(void)
{
	unlink(map_path);
}

static const struct {
	const char *sender, *rcpt;
	bool internal, exempt;
	unsigned int req;
	enum sg_action action;
} cases[] = {
	/* internal: exact domain and subdomains, case-insensitive */
	{ "a@example.org", "b@example.org", true, false, 0, SG_ACTION_REJECT },
	{ "a@example.org", "b@Sales.EXAMPLE.org", true, false, 0, SG_ACTION_REJECT },
	{ "a@example.org", "b@notexample.org", false, false, 0, SG_ACTION_REJECT },
	/* recipient address beats domain */
	{ "a@example.org", "partner@ext.example", false, false, SG_REQ_ENCRYPT, SG_ACTION_REJECT },
	{ "a@example.org", "Other@EXT.example", false, false, SG_REQ_ENCRYPT | SG_REQ_AEAD, SG_ACTION_REJECT },
	/* parent domain rule with its own action, address override */
	{ "a@example.org", "x@mail.bank.example", false, false, SG_REQ_ENCRYPT, SG_ACTION_DEFER },
	{ "a@example.org", "x@bank.example", false, false, 0, SG_ACTION_REJECT },
	{ "a@example.org", "open@bank.example", false, false, 0, SG_ACTION_REJECT },
	/* default rule */
	{ "a@example.org", "x@elsewhere.example", false, false, 0, SG_ACTION_REJECT },
	/* sender rules combine with recipient rules: strictest */
	{ "pay@hr.example.org", "x@elsewhere.example", false, false, SG_REQ_ENCRYPT | SG_REQ_SIGN, SG_ACTION_REJECT },
	{ "pay@hr.example.org", "y@ext.example", false, false, SG_REQ_ENCRYPT | SG_REQ_AEAD | SG_REQ_SIGN, SG_ACTION_REJECT },
	{ "ceo@example.org", "x@elsewhere.example", false, false, SG_REQ_ENCRYPT, SG_ACTION_MONITOR },
	{ "ceo@example.org", "x@mail.bank.example", false, false, SG_REQ_ENCRYPT, SG_ACTION_DEFER },
	{ "a@example.org", "x@signme.example", false, false, SG_REQ_SIGN, SG_ACTION_HOLD },
	/* null sender */
	{ "", "partner@ext.example", false, true, 0, SG_ACTION_REJECT },
};

START_TEST(test_decide)
{
	struct sg_policy *pol = make(NULL, NULL, NULL);
	struct sg_policy_decision d;

	ck_assert_int_eq(sg_policy_decide(pol, cases[_i].sender, cases[_i].rcpt, &d), 0);
	ck_assert_msg(d.internal == cases[_i].internal && d.exempt == cases[_i].exempt &&
		      d.requirements == cases[_i].req,
		      "case %d %s -> %s: internal=%d exempt=%d req=%s (%s)", _i,
		      cases[_i].sender, cases[_i].rcpt, d.internal, d.exempt,
		      sg_policy_requirement_name(d.requirements), d.why);
	if (d.requirements != 0)
		ck_assert_msg(d.action == cases[_i].action, "case %d: action %s", _i,
			      sg_action_name(d.action));
	ck_assert(d.why[0] != '\0');
	sg_policy_free(&pol);
}
END_TEST

START_TEST(test_default_action_and_exemptions)
{
	struct sg_policy *pol = make("monitor", "policy_exempt_senders",
				     "noreply@example.org, @lists.example.org");
	struct sg_policy_decision d;

	sg_policy_decide(pol, "a@example.org", "partner@ext.example", &d);
	ck_assert_int_eq(d.action, SG_ACTION_MONITOR);
	sg_policy_decide(pol, "noreply@example.org", "partner@ext.example", &d);
	ck_assert(d.exempt && d.requirements == 0);
	sg_policy_decide(pol, "x@lists.example.org", "partner@ext.example", &d);
	ck_assert(d.exempt);
	sg_policy_free(&pol);
	pol = make(NULL, "policy_exempt_recipients", ".ext.example, partner@ext.example");
	sg_policy_decide(pol, "a@example.org", "partner@ext.example", &d);
	ck_assert(d.exempt);
	sg_policy_decide(pol, "a@example.org", "x@sub.ext.example", &d);
	ck_assert(d.exempt);
	sg_policy_decide(pol, "a@example.org", "x@ext.example", &d);
	ck_assert(!d.exempt && d.requirements != 0);
	sg_policy_free(&pol);
}
END_TEST

START_TEST(test_bad_maps)
{
	static const char *const bad[] = {
		"ext.example encrypt-maybe\n",
		"ext.example encrypt obliterate\n",
		"ext.example encrypt reject extra\n",
		"lonelykey\n",
	};
	struct sg_config *conf;
	struct sg_policy *pol;
	struct sg_error err;
	unsigned int i;

	ck_assert(sg_config_new(&conf) == 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		FILE *fp = fopen(map_path, "w");

		fprintf(fp, "# ok\nfine.example encrypt\n%s", bad[i]);
		fclose(fp);
		ck_assert(sg_config_set(conf, "encryption_policy_maps", map_path, &err) == 0);
		ck_assert_int_eq(sg_policy_new(conf, &pol, &err), -1);
		ck_assert_ptr_null(pol);
		ck_assert_msg(strstr(err.msg, "line 3") != NULL, "%u: %s", i, err.msg);
	}
	ck_assert(sg_config_set(conf, "encryption_policy_maps", "/nonexistent/map", &err) == 0);
	ck_assert_int_eq(sg_policy_new(conf, &pol, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_IO);
	ck_assert(sg_config_set(conf, "encryption_policy_maps", "ldap:/etc/x.cf", &err) == 0);
	ck_assert_int_eq(sg_policy_new(conf, &pol, &err), -1);
	ck_assert(sg_config_set(conf, "policy_action", "nuke", &err) == -1);
	sg_config_free(&conf);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(sg_action_name(SG_ACTION_REJECT), "reject");
	ck_assert_str_eq(sg_action_name(SG_ACTION_MONITOR), "monitor");
	ck_assert_str_eq(sg_policy_requirement_name(0), "none");
	ck_assert_str_eq(sg_policy_requirement_name(SG_REQ_ENCRYPT | SG_REQ_AEAD | SG_REQ_SIGN),
			 "encrypt-aead+sign");
}
END_TEST

Suite *make_policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("engine");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_decide, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_default_action_and_exemptions);
	tcase_add_test(tc, test_bad_maps);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	return s;
}
