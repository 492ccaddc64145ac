/* suite-policy.c - the outbound encryption policy engine */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "check-suites.h"
#include "smimeguard.h"
#include "test-util.h"

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
	/* the null sender is not exempt: anyone can write MAIL FROM:<> */
	{ "", "partner@ext.example", false, false, SG_REQ_ENCRYPT, SG_ACTION_REJECT },
	/* routed as Postfix routes them (issue 10, item 1) */
	{ "a@example.org", "partner@ext.example.", false, false, SG_REQ_ENCRYPT, SG_ACTION_REJECT },
	{ "a@example.org", "PARTNER@EXT.EXAMPLE.", false, false, SG_REQ_ENCRYPT, SG_ACTION_REJECT },
	{ "a@example.org", "partner%ext.example@example.org", false, false, SG_REQ_ENCRYPT, SG_ACTION_REJECT },
	{ "a@example.org", "ext.example!partner@example.org", false, false, SG_REQ_ENCRYPT, SG_ACTION_REJECT },
	{ "a@example.org", "\"partner@ext.example\"@example.org", false, false, SG_REQ_ENCRYPT, SG_ACTION_REJECT },
	{ "a@example.org", "partner@ext.example@example.org", false, false, SG_REQ_ENCRYPT, SG_ACTION_REJECT },
	{ "a@example.org", "partner%ext.example@sales.example.org.", false, false, SG_REQ_ENCRYPT, SG_ACTION_REJECT },
	{ "a@example.org", "\"ext.example!partner\"@example.org", false, false, SG_REQ_ENCRYPT, SG_ACTION_REJECT },
	{ "a@example.org", "\"partner%ext.example\"@example.org", false, false, SG_REQ_ENCRYPT, SG_ACTION_REJECT },
	/* through a domain Postfix may treat as local (localhost): every
	   destination's rule applies */
	{ "a@example.org", "partner%ext.example@localhost", false, false, SG_REQ_ENCRYPT, SG_ACTION_REJECT },
	{ "a@example.org", "x%mail.bank.example@elsewhere.example", false, false, SG_REQ_ENCRYPT, SG_ACTION_DEFER },
	/* routing that stays inside */
	{ "a@example.org", "b%sales.example.org@example.org", true, false, 0, SG_ACTION_REJECT },
	{ "a@example.org", "\"b\"@example.org", true, false, 0, SG_ACTION_REJECT },
	/* the sender is routed too */
	{ "pay%hr.example.org@example.org", "x@elsewhere.example", false, false, SG_REQ_ENCRYPT | SG_REQ_SIGN, SG_ACTION_REJECT },
	{ "CEO@Example.ORG.", "x@elsewhere.example", false, false, SG_REQ_ENCRYPT, SG_ACTION_MONITOR },
};

START_TEST(test_decide)
{
	struct sg_policy *pol = make(NULL, NULL, NULL);
	struct sg_policy_decision d;

	sg_policy_decide(pol, cases[_i].sender, cases[_i].rcpt, &d);
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
	/* no such map file (or, without LDAP support, no such map type) */
	ck_assert(sg_config_set(conf, "encryption_policy_maps", "ldap:/etc/x.cf", &err) < 0 ||
		  sg_policy_new(conf, &pol, &err) < 0);
	ck_assert_ptr_null(pol);
	ck_assert(sg_config_set(conf, "policy_action", "nuke", &err) == -1);
	sg_config_free(&conf);
}
END_TEST

/* policy_with_maps - a policy of encryption_policy_maps = value; NULL
   and err_r when it cannot be made */
static struct sg_policy *policy_with_maps(const char *value,
					  struct sg_error *err_r)
{
	struct sg_config *conf;
	struct sg_policy *pol = NULL;

	ck_assert(sg_config_new(&conf) == 0);
	ck_assert(sg_config_set(conf, "internal_domains", "example.org", err_r) == 0);
	/* the map types are checked when the setting is set, the maps
	   themselves when the policy is made */
	if (sg_config_set(conf, "encryption_policy_maps", value, err_r) < 0 ||
	    sg_policy_new(conf, &pol, err_r) < 0)
		pol = NULL;
	sg_config_free(&conf);
	return pol;
}

/* texthash: maps through the map layer: several maps (the first that
   has a key wins), plain paths, continuation lines, duplicate keys, and
   the errors of a file or a map type */
START_TEST(test_texthash_maps)
{
	static const struct {
		const char *rcpt;
		unsigned int req;
		enum sg_action action;
		const char *rule;
	} want[] = {
		/* in both maps: the first one's rule */
		{ "x@ext.example", SG_REQ_ENCRYPT, SG_ACTION_REJECT, "recipient rule ext.example" },
		/* only in the second (a plain path) */
		{ "x@other.example", SG_REQ_ENCRYPT | SG_REQ_AEAD, SG_ACTION_HOLD, "recipient rule other.example" },
		/* a value continued on an indented line */
		{ "x@cont.example", SG_REQ_ENCRYPT, SG_ACTION_MONITOR, "recipient rule cont.example" },
		/* two lines with one key: the first; keys any case */
		{ "x@dup.example", SG_REQ_SIGN, SG_ACTION_REJECT, "recipient rule dup.example" },
		/* the address before the domain in the second map beats the
		   domain in the first: key by key, each in every map */
		{ "vip@ext.example", SG_REQ_ENCRYPT | SG_REQ_SIGN, SG_ACTION_DEFER, "recipient rule vip@ext.example" },
		{ "x@a.parent.example", SG_REQ_SIGN, SG_ACTION_HOLD, "recipient rule .parent.example" },
		{ "x@b.a.parent.example", SG_REQ_SIGN, SG_ACTION_HOLD, "recipient rule .parent.example" },
	};
	char dir[] = "/tmp/sg-policymaps.XXXXXX", a[4200], b[4200], spec[9000];
	char line[1200];
	struct sg_policy_decision d;
	struct sg_policy *pol;
	struct sg_error err;
	size_t i;
	FILE *fp;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	tu_write_file(a, "# first\next.example encrypt\n"
		      "cont.example encrypt\n  # an indented comment\n    monitor\n"
		      "DUP.example sign\ndup.example encrypt hold\n"
		      ".parent.example sign hold\n", 0644);
	tu_write_file(b, "ext.example sign\nother.example encrypt-aead hold\n"
		      "vip@ext.example encrypt+sign defer\n", 0644);
	snprintf(spec, sizeof(spec), "texthash:%s, %s", a, b);
	pol = policy_with_maps(spec, &err);
	ck_assert_msg(pol != NULL, "%s", err.msg);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		sg_policy_decide(pol, "a@example.org", want[i].rcpt, &d);
		ck_assert_msg(!d.temporary && d.requirements == want[i].req &&
			      d.action == want[i].action &&
			      strcmp(d.why, want[i].rule) == 0,
			      "[%zu] %s: %s %s (%s)", i, want[i].rcpt,
			      sg_policy_requirement_name(d.requirements),
			      sg_action_name(d.action), d.why);
	}
	sg_policy_free(&pol);

	/* errors: file and line, or the map entry */
	static const struct {
		const char *text;	/* NULL: spec names no file of ours */
		const char *spec;
		const char *msg;
	} bad[] = {
		{ "ok.example encrypt\n  \n", NULL, NULL },
		{ "  ok.example encrypt\n", NULL, "line 1: continuation line" },
		{ "ok.example encrypt\nx.example\n", NULL,
		  "line 2: expected \"key requirement [action]\"" },
		{ "ok.example encrypt\nx.example sign\n  now\n", NULL,
		  "line 2: 'now' is not an action" },
		{ NULL, "dir:/tmp", "a dir map cannot answer this setting (it takes texthash, ldap, inline)" },
		{ NULL, "cdb:/tmp/x", "unknown map type 'cdb'" },
		{ NULL, "texthash:", "names no file" },
		{ NULL, "texthash:/nonexistent/policy", "cannot open /nonexistent/policy" },
		{ NULL, "/tmp", "not a regular file" },
	};
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (bad[i].text != NULL)
			tu_write_file(a, bad[i].text, 0644);
		memset(&err, 0, sizeof(err));
		pol = policy_with_maps(bad[i].spec != NULL ? bad[i].spec : a, &err);
		if (bad[i].msg == NULL) {
			ck_assert_msg(pol != NULL, "[%zu] %s", i, err.msg);
			sg_policy_free(&pol);
			continue;
		}
		ck_assert_msg(pol == NULL && strstr(err.msg, bad[i].msg) != NULL &&
			      (bad[i].text == NULL || strstr(err.msg, a) != NULL),
			      "[%zu] %s", i, pol != NULL ? "accepted" : err.msg);
	}
	/* a physical line of more than 1023 bytes, a NUL byte */
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	fp = fopen(a, "w");
	fprintf(fp, "ok.example encrypt\n%s encrypt\n", line);
	fclose(fp);
	pol = policy_with_maps(a, &err);
	ck_assert_msg(pol == NULL && strstr(err.msg, "line 2: line too long") != NULL,
		      "%s", err.msg);
	fp = fopen(a, "w");
	fwrite("ok.example encrypt\nx\0y sign\n", 1, 28, fp);
	fclose(fp);
	pol = policy_with_maps(a, &err);
	ck_assert_msg(pol == NULL && strstr(err.msg, "contains a NUL byte") != NULL,
		      "%s", err.msg);
	unlink(a);
	unlink(b);
	rmdir(dir);
}
END_TEST

/* inline: maps (map-inline.c, Postfix's inline:): the rules in the
   setting itself, braced entries with commas and spaces, keys in any
   case, the first of two entries with one key, in a list with a
   texthash: file; what is refused when the setting is set and when the
   policy is made */
START_TEST(test_inline_maps)
{
	static const struct {
		const char *rcpt;
		unsigned int req;
		enum sg_action action;
		const char *rule;
	} want[] = {
		{ "x@ext.example", SG_REQ_ENCRYPT, SG_ACTION_REJECT, "recipient rule ext.example" },
		{ "vip@ext.example", SG_REQ_ENCRYPT | SG_REQ_SIGN, SG_ACTION_DEFER, "recipient rule vip@ext.example" },
		{ "x@dup.example", SG_REQ_SIGN, SG_ACTION_REJECT, "recipient rule dup.example" },
		/* not in the inline: map: the texthash: file after it */
		{ "x@file.example", SG_REQ_ENCRYPT | SG_REQ_AEAD, SG_ACTION_HOLD, "recipient rule file.example" },
	};
	static const struct {
		const char *value;
		const char *msg;	/* NULL: accepted */
	} bad[] = {
		{ "inline:{a.example=encrypt}", NULL },
		{ "inline:{ { a.example = encrypt , } }", NULL },
		{ "inline:", "names no table" },
		{ "inline:{}", "empty table" },
		{ "inline:{ , }", "empty table" },
		{ "inline:a.example=encrypt", "braces around the whole table" },
		{ "inline:{a.example=encrypt", "braces around the whole table" },
		{ "inline:{a.example=encrypt}}", "braces around the whole table" },
		{ "inline:{a=b}{c=d}", "braces around the whole table" },
		{ "inline:{ a.example encrypt }", "entry 1: 'a.example' is not key=value" },
		{ "inline:{ a=b, =encrypt }", "entry 2: no key before '='" },
		{ "inline:{ {a=b}c }", "entry 1: '{a=b}c' does not end with '}'" },
	};
	char dir[] = "/tmp/sg-inline.XXXXXX", file[4200], spec[8400];
	struct sg_policy_decision d;
	struct sg_policy *pol;
	struct sg_config *conf;
	struct sg_error err;
	size_t i;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/policy", dir);
	tu_write_file(file, "file.example encrypt-aead hold\next.example sign\n",
		      0644);
	snprintf(spec, sizeof(spec),
		 "inline:{ EXT.example=encrypt, { vip@ext.example = encrypt+sign defer },\n"
		 "dup.example=sign, dup.example=encrypt }, texthash:%s", file);
	pol = policy_with_maps(spec, &err);
	ck_assert_msg(pol != NULL, "%s", err.msg);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		sg_policy_decide(pol, "a@example.org", want[i].rcpt, &d);
		ck_assert_msg(!d.temporary && d.requirements == want[i].req &&
			      d.action == want[i].action &&
			      strcmp(d.why, want[i].rule) == 0,
			      "[%zu] %s: %s %s (%s)", i, want[i].rcpt,
			      sg_policy_requirement_name(d.requirements),
			      sg_action_name(d.action), d.why);
	}
	/* in neither map: nothing required */
	sg_policy_decide(pol, "a@example.org", "x@none.example", &d);
	ck_assert_msg(!d.temporary && d.requirements == 0, "%s", d.why);
	sg_policy_free(&pol);
	unlink(file);
	rmdir(dir);

	/* the syntax is checked when the setting is set, with its name */
	ck_assert(sg_config_new(&conf) == 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = sg_config_set(conf, "encryption_policy_maps",
				      bad[i].value, &err);

		if (bad[i].msg == NULL) {
			ck_assert_msg(r == 0, "[%zu] %s", i, err.msg);
			continue;
		}
		ck_assert_msg(r == -1 && err.code == SG_ERR_INVALID &&
			      strncmp(err.msg, "encryption_policy_maps: ", 24) == 0 &&
			      strstr(err.msg, bad[i].msg) != NULL,
			      "[%zu] %s", i, r == 0 ? "accepted" : err.msg);
	}
	/* text only: not for certificates */
	ck_assert_int_eq(sg_config_set(conf, "certificate_maps",
				       "inline:{a@b.example=x}", &err), -1);
	ck_assert_msg(strstr(err.msg, "an inline map cannot answer this setting") != NULL,
		      "%s", err.msg);
	sg_config_free(&conf);

	/* a value that is no rule: refused when the policy is made, with
	   the entry that holds it */
	pol = policy_with_maps("inline:{ ok.example=encrypt, bad.example=encrpt }",
			       &err);
	ck_assert_ptr_null(pol);
	ck_assert_int_eq(err.code, SG_ERR_CONFIG);
	ck_assert_msg(strstr(err.msg, "inline: entry 2 (bad.example): 'encrpt' is not a requirement") != NULL,
		      "%s", err.msg);
	/* a key without a value: what is missing is said */
	pol = policy_with_maps("inline:{ ok.example= }", &err);
	ck_assert_ptr_null(pol);
	ck_assert_msg(strstr(err.msg, "inline: entry 1 (ok.example)") != NULL,
		      "%s", err.msg);
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

/* addresses that cannot be routed safely, and their SMTP replies */
static const struct {
	const char *sender, *rcpt;
	enum sg_address_status rs, ss;
	const char *code, *enhanced;
} refused[] = {
	{ "a@example.org", "partner", SG_ADDRESS_INVALID, 0, "553", "5.1.3" },
	{ "a@example.org", "partner@", SG_ADDRESS_INVALID, 0, "553", "5.1.3" },
	{ "a@example.org", "partner@[192.0.2.1]", SG_ADDRESS_INVALID, 0, "553", "5.1.3" },
	{ "a@example.org", "partner@[IPv6:2001:db8::1]", SG_ADDRESS_INVALID, 0, "553", "5.1.3" },
	{ "a@example.org", "partner@192.0.2.1", SG_ADDRESS_INVALID, 0, "553", "5.1.3" },
	{ "a@example.org", "partner@3221225985", SG_ADDRESS_INVALID, 0, "553", "5.1.3" },
	{ "a@example.org", "@relay.example:partner@ext.example", SG_ADDRESS_INVALID, 0, "553", "5.1.3" },
	{ "a@example.org", "partner@ext..example", SG_ADDRESS_INVALID, 0, "553", "5.1.3" },
	{ "a@example.org", "partner@ext.example..", SG_ADDRESS_INVALID, 0, "553", "5.1.3" },
	{ "a@example.org", "partner@.", SG_ADDRESS_INVALID, 0, "553", "5.1.3" },
	{ "a@example.org", "\"partner@ext.example", SG_ADDRESS_INVALID, 0, "553", "5.1.3" },
	{ "a@example.org", "\"partner\"x@ext.example", SG_ADDRESS_INVALID, 0, "553", "5.1.3" },
	{ "a@example.org", "partner@b\xc3\xbc" "cher.example", SG_ADDRESS_INVALID, 0, "553", "5.1.3" },
	{ "a@example.org", "partner\n@ext.example", SG_ADDRESS_INVALID, 0, "553", "5.1.3" },
	{ "a@example.org", "partner@ext.example\r", SG_ADDRESS_INVALID, 0, "553", "5.1.3" },
	{ "a@example.org", "@example.org", SG_ADDRESS_INVALID, 0, "553", "5.1.3" },
	{ "a@example.org", "!partner@example.org", SG_ADDRESS_INVALID, 0, "553", "5.1.3" },
	{ "a@example.org", "ext.example!@example.org", SG_ADDRESS_INVALID, 0, "553", "5.1.3" },
	{ "a@example.org", "partner%[192.0.2.1]@example.org", SG_ADDRESS_INVALID, 0, "553", "5.1.3" },
	{ "a@example.org", "a%b%c%d%e%f%g%h%i%j@example.org", SG_ADDRESS_INVALID, 0, "553", "5.1.3" },
	{ "a@[192.0.2.1]", "partner@ext.example", 0, SG_ADDRESS_INVALID, "553", "5.1.7" },
	{ "a", "partner@ext.example", 0, SG_ADDRESS_INVALID, "553", "5.1.7" },
};

START_TEST(test_refused)
{
	struct sg_policy *pol = make(NULL, NULL, NULL);
	struct sg_policy_decision d;
	const char *code, *enhanced;

	sg_policy_decide(pol, refused[_i].sender, refused[_i].rcpt, &d);
	ck_assert_msg(d.recipient_status == refused[_i].rs &&
		      d.sender_status == refused[_i].ss,
		      "case %d <%s> -> <%s>: status %d/%d (%s)", _i, refused[_i].sender,
		      refused[_i].rcpt, d.recipient_status, d.sender_status, d.why);
	ck_assert_msg(sg_policy_refusal(&d, &code, &enhanced), "case %d", _i);
	ck_assert_str_eq(code, refused[_i].code);
	ck_assert_str_eq(enhanced, refused[_i].enhanced);
	ck_assert_msg(strstr(d.why, "refused") != NULL, "case %d: %s", _i, d.why);
	ck_assert(!d.internal && d.requirements == 0);
	sg_policy_free(&pol);
}
END_TEST

/* item 2: long addresses are refused, never cut to something else */
START_TEST(test_long_addresses)
{
	struct sg_policy *pol = make(NULL, NULL, NULL);
	struct sg_policy_decision d;
	const char *code, *enhanced;
	char addr[400];
	size_t local;

	/* nico+aaa...@ext.example: 320 octets lost its domain in a 320-byte
	   buffer and passed as internal */
	snprintf(addr, sizeof(addr), "nico+%0300d@ext.example", 0);
	sg_policy_decide(pol, "a@example.org", addr, &d);
	ck_assert_int_eq(d.recipient_status, SG_ADDRESS_TOO_LONG);
	ck_assert(sg_policy_refusal(&d, &code, &enhanced));
	ck_assert_str_eq(code, "501");
	ck_assert_str_eq(enhanced, "5.5.4");
	ck_assert(!d.internal);
	/* 254 octets: fine, and judged by its whole domain */
	local = 254 - strlen("@ext.example");
	memset(addr, 'a', local);
	strcpy(addr + local, "@ext.example");
	ck_assert_uint_eq(strlen(addr), 254);
	sg_policy_decide(pol, "a@example.org", addr, &d);
	ck_assert_int_eq(d.recipient_status, SG_ADDRESS_OK);
	ck_assert_uint_eq(d.requirements, SG_REQ_ENCRYPT | SG_REQ_AEAD);
	ck_assert_str_eq(d.recipient, addr);
	/* 255: refused; so is such a sender */
	memmove(addr + 1, addr, strlen(addr) + 1);
	sg_policy_decide(pol, "a@example.org", addr, &d);
	ck_assert_int_eq(d.recipient_status, SG_ADDRESS_TOO_LONG);
	sg_policy_decide(pol, addr, "x@ext.example", &d);
	ck_assert_int_eq(d.sender_status, SG_ADDRESS_TOO_LONG);
	ck_assert(sg_policy_refusal(&d, &code, &enhanced));
	ck_assert_str_eq(code, "501");
	/* long but internal through routing stays internal, not truncated */
	memset(addr, 'b', 200);
	strcpy(addr + 200, "%ext.example@example.org");
	sg_policy_decide(pol, "a@example.org", addr, &d);
	ck_assert(!d.internal);
	ck_assert_uint_eq(d.requirements, SG_REQ_ENCRYPT | SG_REQ_AEAD);
	sg_policy_free(&pol);
}
END_TEST

/* the routed address: where Postfix delivers, for certificate lookups */
START_TEST(test_routed_address)
{
	static const struct {
		const char *in, *out;
	} routes[] = {
		{ "partner@EXT.example.", "partner@ext.example" },
		{ "Partner%Ext.Example@Example.Org", "partner@ext.example" },
		{ "ext.example!partner@example.org", "partner@ext.example" },
		{ "\"partner@ext.example\"@example.org", "partner@ext.example" },
		{ "partner@ext.example@example.org", "partner@ext.example" },
		{ "a!b!c@example.org", "b!c@a" },
		{ "a%b@ext.example", "a%b@ext.example" },
		{ "\"a b\"@ext.example", "a b@ext.example" },
		{ "b@example.org", "b@example.org" },
	};
	struct sg_policy *pol = make(NULL, NULL, NULL);
	struct sg_policy_decision d;
	size_t i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		sg_policy_decide(pol, "a@example.org", routes[i].in, &d);
		ck_assert_msg(strcasecmp(d.recipient, routes[i].out) == 0,
			      "%zu: %s -> %s, not %s", i, routes[i].in, d.recipient,
			      routes[i].out);
	}
	ck_assert(!sg_policy_is_internal(pol, "x%ext.example@example.org"));
	ck_assert(sg_policy_is_internal(pol, "x%sales.example.org@example.org"));
	ck_assert(!sg_policy_is_internal(pol, "x"));
	ck_assert(!sg_policy_is_internal(pol, "x@[127.0.0.1]"));
	sg_policy_free(&pol);
}
END_TEST

/* item 3: exemptions are off unless named, and then only for the named
   clients; Auto-Submitted only for RFC 3834's automatic values */
START_TEST(test_exemptions)
{
	struct sg_config *conf;
	struct sg_policy *pol;
	struct sg_policy_decision d;
	struct sg_policy_envelope env = {
		.sender = "", .recipient = "partner@ext.example",
		.client_address = "192.0.2.7",
	};
	struct sg_error err;

	/* off by default: null sender and Auto-Submitted count for nothing */
	pol = make(NULL, NULL, NULL);
	sg_policy_decide_envelope(pol, &env, &d);
	ck_assert(!d.exempt && d.requirements == SG_REQ_ENCRYPT);
	env.sender = "a@example.org";
	env.auto_submitted = "auto-replied";
	sg_policy_decide_envelope(pol, &env, &d);
	ck_assert(!d.exempt && d.requirements == SG_REQ_ENCRYPT);
	sg_policy_free(&pol);
	/* named, but no clients: still nobody */
	pol = make(NULL, "policy_exemptions", "null-sender, auto-submitted");
	env.sender = "";
	sg_policy_decide_envelope(pol, &env, &d);
	ck_assert(!d.exempt);
	sg_policy_free(&pol);

	ck_assert(sg_config_new(&conf) == 0);
	ck_assert(sg_config_set(conf, "encryption_policy_maps", map_path, &err) == 0);
	ck_assert(sg_config_set(conf, "internal_domains", "example.org", &err) == 0);
	ck_assert(sg_config_set(conf, "policy_exemptions", "null-sender", &err) == 0);
	ck_assert(sg_config_set(conf, "policy_exemption_clients",
				"192.0.2.0/28, 2001:db8:1::/48, 198.51.100.9", &err) == 0);
	ck_assert_msg(sg_policy_new(conf, &pol, &err) == 0, "%s", err.msg);
	env.sender = "";
	env.auto_submitted = NULL;
	sg_policy_decide_envelope(pol, &env, &d);
	ck_assert_msg(d.exempt, "%s", d.why);
	env.client_address = "192.0.2.16";	/* just outside /28 */
	sg_policy_decide_envelope(pol, &env, &d);
	ck_assert(!d.exempt);
	env.client_address = "198.51.100.9";
	sg_policy_decide_envelope(pol, &env, &d);
	ck_assert(d.exempt);
	env.client_address = "198.51.100.90";
	sg_policy_decide_envelope(pol, &env, &d);
	ck_assert(!d.exempt);
	env.client_address = "2001:db8:1:ffff::1";
	sg_policy_decide_envelope(pol, &env, &d);
	ck_assert(d.exempt);
	env.client_address = "2001:db8:2::1";
	sg_policy_decide_envelope(pol, &env, &d);
	ck_assert(!d.exempt);
	env.client_address = NULL;
	sg_policy_decide_envelope(pol, &env, &d);
	ck_assert(!d.exempt);
	env.client_address = "not an address";
	sg_policy_decide_envelope(pol, &env, &d);
	ck_assert(!d.exempt);
	/* only null-sender named: Auto-Submitted from the same client is not */
	env.client_address = "192.0.2.7";
	env.sender = "a@example.org";
	env.auto_submitted = "auto-replied";
	sg_policy_decide_envelope(pol, &env, &d);
	ck_assert(!d.exempt);
	sg_policy_free(&pol);
	ck_assert(sg_config_set(conf, "policy_exemptions", "auto-submitted", &err) == 0);
	ck_assert_msg(sg_policy_new(conf, &pol, &err) == 0, "%s", err.msg);
	sg_policy_decide_envelope(pol, &env, &d);
	ck_assert(d.exempt);
	env.auto_submitted = "nope";
	sg_policy_decide_envelope(pol, &env, &d);
	ck_assert(!d.exempt);
	env.sender = "";
	env.auto_submitted = NULL;
	sg_policy_decide_envelope(pol, &env, &d);
	ck_assert(!d.exempt);	/* null-sender not named this time */
	sg_policy_free(&pol);
	/* bad values are configuration errors */
	ck_assert(sg_config_set(conf, "policy_exemptions", "null-sender, bounces", &err) == 0);
	ck_assert_int_eq(sg_policy_new(conf, &pol, &err), -1);
	ck_assert(strstr(err.msg, "bounces") != NULL);
	ck_assert(sg_config_set(conf, "policy_exemptions", "", &err) == 0);
	ck_assert(sg_config_set(conf, "policy_exemption_clients", "192.0.2.0/33", &err) == 0);
	ck_assert_int_eq(sg_policy_new(conf, &pol, &err), -1);
	ck_assert(sg_config_set(conf, "policy_exemption_clients", "mail.example.org", &err) == 0);
	ck_assert_int_eq(sg_policy_new(conf, &pol, &err), -1);
	ck_assert(sg_config_set(conf, "policy_exemption_clients", "192.0.2.1/x", &err) == 0);
	ck_assert_int_eq(sg_policy_new(conf, &pol, &err), -1);
	sg_config_free(&conf);
}
END_TEST

START_TEST(test_auto_submitted_values)
{
	static const struct {
		const char *value;
		bool automatic;
	} values[] = {
		{ "auto-replied", true },
		{ " auto-generated", true },
		{ "Auto-Replied", true },
		{ "auto-replied; owner-email=\"x@example.org\"", true },
		{ "auto-generated ;x=y", true },
		{ " auto-replied \r\n", true },
		{ "no", false },
		{ "nope", false },
		{ "No", false },
		{ "", false },
		{ "auto-notified", false },
		{ "auto-repliedx", false },
		{ "auto-replied x", false },
		{ "auto-replied (comment)", false },
		{ "yes", false },
		{ "auto", false },
	};
	size_t i;

	ck_assert(!sg_policy_auto_submitted(NULL));
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		ck_assert_msg(sg_policy_auto_submitted(values[i].value) == values[i].automatic,
			      "%zu: '%s'", i, values[i].value);
}
END_TEST

/* internal_transports: where Postfix says it delivers inside */
START_TEST(test_transports)
{
	struct sg_policy *pol = make(NULL, NULL, NULL);
	struct sg_policy_decision d;
	struct sg_policy_envelope env = {
		.sender = "a@example.org", .recipient = "partner@ext.example",
	};

	env.transport = "lmtp";
	sg_policy_decide_envelope(pol, &env, &d);
	ck_assert(d.internal);
	env.transport = "local";
	sg_policy_decide_envelope(pol, &env, &d);
	ck_assert(d.internal);
	/* any other transport: the address decides, whatever it looks like */
	env.transport = "smtp";
	sg_policy_decide_envelope(pol, &env, &d);
	ck_assert(!d.internal && d.requirements != 0);
	env.recipient = "b@example.org";
	sg_policy_decide_envelope(pol, &env, &d);
	ck_assert(d.internal);
	env.recipient = "partner%ext.example@example.org";
	sg_policy_decide_envelope(pol, &env, &d);
	ck_assert(!d.internal && d.requirements != 0);
	env.transport = "LMTP";		/* transport names are case-sensitive */
	sg_policy_decide_envelope(pol, &env, &d);
	ck_assert(!d.internal);
	sg_policy_free(&pol);
	pol = make(NULL, "internal_transports", "dovecot");
	env.transport = "lmtp";
	sg_policy_decide_envelope(pol, &env, &d);
	ck_assert(!d.internal);
	env.transport = "dovecot";
	sg_policy_decide_envelope(pol, &env, &d);
	ck_assert(d.internal);
	sg_policy_free(&pol);
}
END_TEST

/* items 6: the cipher floor and the RecipientInfos of encrypt rules */
static const struct {
	const char *file, *settings;
	int want;			/* sg_policy_check_message */
	const char *violation;
} floor_cases[] = {
	{ "encrypted-aes256cbc.eml", "", 1, NULL },
	{ "encrypted-aes256gcm.eml", "", 1, NULL },
	{ "encrypted-aes128cbc.eml", "", 1, NULL },
	{ "encrypted-aes128gcm.eml", "", 1, NULL },
	{ "encrypted-camellia128.eml", "", 1, NULL },
	{ "encrypted-des.eml", "", 0, "weak-cipher" },
	{ "encrypted-rc2-40.eml", "", 0, "weak-cipher" },
	{ "encrypted-rc2-128.eml", "", 0, "weak-cipher" },
	{ "encrypted-3des.eml", "", 0, "weak-cipher" },
	{ "encrypted-3des.eml", "allow_3des=yes", 1, NULL },
	{ "encrypted-des.eml", "allow_3des=yes", 0, "weak-cipher" },
	{ "encrypted-pwri.eml", "", 0, "password-recipient" },
	{ "encrypted-pwri.eml", "allow_pwri=yes", 1, NULL },
	{ "encrypted-pwri.eml", "allow_kekri=yes", 0, "password-recipient" },
	{ "encrypted-kekri.eml", "", 0, "kek-recipient" },
	{ "encrypted-kekri.eml", "allow_kekri=yes", 1, NULL },
	/* plain encrypt takes an AuthEnvelopedData naming CBC; encrypt-aead
	   does not (the algorithm counts, not the CMS type) */
	{ "encrypted-authenv-cbc.eml", "", 1, NULL },
	{ "encrypted-authenv-cbc.eml", "aead", 0, "not-aead" },
	{ "encrypted-aes256cbc.eml", "aead", 0, "not-aead" },
	{ "encrypted-aes128gcm.eml", "aead", 1, NULL },
	{ "plain.eml", "", 0, "not-encrypted" },
	{ "encrypted-aes256gcm.eml", "nocert", 0, "no-certificate" },
};

START_TEST(test_cipher_floor)
{
	char settings[1024], path[512], map[64], why[400];
	struct sg_config *conf;
	struct sg_ctx *ctx;
	struct sg_policy *pol;
	struct sg_policy_decision d;
	struct sg_policy_envelope env = {
		.sender = "alice@example.net", .recipient = "bob@example.org",
	};
	struct sg_result *res;
	struct sg_error err;
	const struct sg_encryption *enc;
	unsigned char *msg;
	size_t len;
	FILE *fp;
	int fd, ret;
	const char *extra = floor_cases[_i].settings;

	/* bob@example.org is the partner here: not internal, encrypt(-aead)
	   required, his certificate in the map */
	strcpy(map, "/tmp/sg-floor-XXXXXX");
	ck_assert((fd = mkstemp(map)) >= 0);
	ck_assert((fp = fdopen(fd, "w")) != NULL);
	fprintf(fp, "example.org %s\n", strcmp(extra, "aead") == 0 ? "encrypt-aead" : "encrypt");
	fclose(fp);
	snprintf(settings, sizeof(settings),
		 "trust_anchors=trust intermediates=intermediates crl_dirs=crl "
		 "certificate_maps=dir:%s/%s",
		 tu_testdata(), strcmp(extra, "nocert") == 0 ? "crl" : "cipher/certs");
	ctx = tu_ctx(settings, tu_testdata());
	ck_assert(sg_config_new(&conf) == 0);
	ck_assert(sg_config_set(conf, "internal_domains", "example.net", &err) == 0);
	ck_assert(sg_config_set(conf, "encryption_policy_maps", map, &err) == 0);
	if (strchr(extra, '=') != NULL) {
		char name[64];
		const char *eq = strchr(extra, '=');

		snprintf(name, sizeof(name), "%.*s", (int)(eq - extra), extra);
		ck_assert(sg_config_set(conf, name, eq + 1, &err) == 0);
	}
	ck_assert_msg(sg_policy_new(conf, &pol, &err) == 0, "%s", err.msg);
	snprintf(path, sizeof(path), "%s/msg/%s", tu_testdata(), floor_cases[_i].file);
	msg = tu_read(path, &len);
	res = tu_verify(ctx, msg, len, 0);
	ret = sg_policy_check_message(pol, ctx, &env, res, 0, &d, why, sizeof(why),
				      &err);
	ck_assert_msg(ret == floor_cases[_i].want, "case %d %s %s: %d (%s: %s)", _i,
		      floor_cases[_i].file, extra, ret,
		      d.violation != NULL ? d.violation : "-", why);
	if (floor_cases[_i].violation == NULL)
		ck_assert_ptr_null(d.violation);
	else
		ck_assert_msg(d.violation != NULL &&
			      strcmp(d.violation, floor_cases[_i].violation) == 0,
			      "case %d: %s", _i, d.violation != NULL ? d.violation : "NULL");
	/* the lookup the counters see: done once the message passed the
	   content checks (found), or to say there is no certificate */
	ck_assert_int_eq(d.lookup,
			 floor_cases[_i].violation == NULL ? SG_POLICY_LOOKUP_FOUND :
			 strcmp(floor_cases[_i].violation, "no-certificate") == 0 ?
			 SG_POLICY_LOOKUP_NOT_FOUND : SG_POLICY_LOOKUP_NONE);
	/* the reasons say what and which RecipientInfo */
	if (floor_cases[_i].violation != NULL &&
	    strcmp(floor_cases[_i].violation, "weak-cipher") == 0) {
		enc = sg_result_encryption(res);
		ck_assert(enc != NULL);
		ck_assert_msg(strstr(why, enc->algorithm) != NULL, "%s", why);
	}
	if (floor_cases[_i].violation != NULL &&
	    strstr(floor_cases[_i].violation, "-recipient") != NULL)
		ck_assert_msg(strstr(why, "RecipientInfo 2 ") != NULL, "%s", why);
	sg_result_free(&res);
	free(msg);
	sg_policy_free(&pol);
	sg_config_free(&conf);
	sg_ctx_free(&ctx);
	unlink(map);
}
END_TEST

/* what cms-inspect.c tells the floor */
START_TEST(test_cipher_inspection)
{
	static const struct {
		const char *file;
		enum sg_cipher_family family;
		unsigned int bits;
		int aead, auth;
		enum sg_recipient_info second;	/* SG_RI_KTRI: only one */
	} inspected[] = {
		{ "encrypted-des.eml", SG_CIPHER_DES, 56, 0, 0, SG_RI_KTRI },
		{ "encrypted-rc2-40.eml", SG_CIPHER_RC2, 0, 0, 0, SG_RI_KTRI },
		{ "encrypted-3des.eml", SG_CIPHER_3DES, 168, 0, 0, SG_RI_KTRI },
		{ "encrypted-aes128cbc.eml", SG_CIPHER_AES, 128, 0, 0, SG_RI_KTRI },
		{ "encrypted-aes128gcm.eml", SG_CIPHER_AES, 128, 1, 1, SG_RI_KTRI },
		{ "encrypted-authenv-cbc.eml", SG_CIPHER_AES, 256, 0, 1, SG_RI_KTRI },
		{ "encrypted-camellia128.eml", SG_CIPHER_CAMELLIA, 128, 0, 0, SG_RI_KTRI },
		{ "encrypted-pwri.eml", SG_CIPHER_AES, 256, 0, 0, SG_RI_PWRI },
		{ "encrypted-kekri.eml", SG_CIPHER_AES, 256, 0, 0, SG_RI_KEKRI },
	};
	struct sg_ctx *ctx = tu_ctx("trust_anchors=trust", tu_testdata());
	char path[512];
	size_t i, len;

	for (i = 0; i < sizeof(inspected) / sizeof(inspected[0]); i++) {
		unsigned char *msg;
		struct sg_result *res;
		const struct sg_encryption *enc;

		snprintf(path, sizeof(path), "%s/msg/%s", tu_testdata(), inspected[i].file);
		msg = tu_read(path, &len);
		res = tu_verify(ctx, msg, len, 0);
		ck_assert_msg((enc = sg_result_encryption(res)) != NULL, "%s", inspected[i].file);
		ck_assert_msg(enc->family == inspected[i].family && enc->key_bits == inspected[i].bits &&
			      enc->aead == inspected[i].aead && enc->auth_enveloped == inspected[i].auth,
			      "%s: family %d bits %u aead %d auth %d", inspected[i].file,
			      enc->family, enc->key_bits, enc->aead, enc->auth_enveloped);
		ck_assert_uint_eq(enc->recipients[0].info, SG_RI_KTRI);
		ck_assert_uint_eq(enc->recipients[0].index, 0);
		if (inspected[i].second != SG_RI_KTRI) {
			ck_assert_uint_eq(enc->n_recipients, 2);
			ck_assert_uint_eq(enc->recipients[1].info, inspected[i].second);
			ck_assert_uint_eq(enc->recipients[1].index, 1);
		} else {
			ck_assert_uint_eq(enc->n_recipients, 1);
		}
		sg_result_free(&res);
		free(msg);
	}
	sg_ctx_free(&ctx);
}
END_TEST

/* RCPT time: 1; 0 with a sentence for the sender; -1 with err_r when a
   map cannot be read */
START_TEST(test_recipient_usable)
{
	char settings[1024], why[256];
	struct sg_ctx *ctx;
	struct sg_error err;
	const char *pki = "trust_anchors=trust intermediates=intermediates "
		"crl_dirs=crl";

	snprintf(settings, sizeof(settings), "%s certificate_maps=dir:%s/%s",
		 pki, tu_testdata(), "cipher/certs");
	ctx = tu_ctx(settings, tu_testdata());
	ck_assert_int_eq(sg_policy_recipient_usable(ctx, "bob@example.org", 0,
						    why, sizeof(why), &err), 1);
	ck_assert_int_eq(sg_policy_recipient_usable(ctx, "nobody@example.org",
						    0, why, sizeof(why), &err),
			 0);
	ck_assert_str_eq(why, "no S/MIME certificate is known for this recipient");
	sg_ctx_free(&ctx);
	snprintf(settings, sizeof(settings),
		 "%s certificate_maps=dir:/nonexistent/certs", pki);
	ctx = tu_ctx(settings, tu_testdata());
	ck_assert_int_eq(sg_policy_recipient_usable(ctx, "bob@example.org", 0,
						    why, sizeof(why), &err), -1);
	ck_assert_str_eq(why, "");
	ck_assert_msg(strstr(err.msg, "/nonexistent/certs") != NULL, "%s",
		      err.msg);
	sg_ctx_free(&ctx);
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
	tcase_add_test(tc, test_texthash_maps);
	tcase_add_test(tc, test_inline_maps);
	tcase_add_test(tc, test_names);
	tcase_add_loop_test(tc, test_refused, 0, (int)(sizeof(refused) / sizeof(refused[0])));
	tcase_add_test(tc, test_long_addresses);
	tcase_add_test(tc, test_routed_address);
	tcase_add_test(tc, test_exemptions);
	tcase_add_test(tc, test_auto_submitted_values);
	tcase_add_test(tc, test_transports);
	suite_add_tcase(s, tc);
	tc = tcase_create("cipher-floor");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_cipher_floor, 0,
			    (int)(sizeof(floor_cases) / sizeof(floor_cases[0])));
	tcase_add_test(tc, test_cipher_inspection);
	tcase_add_test(tc, test_recipient_usable);
	suite_add_tcase(s, tc);
	return s;
}
