/* suite-config.c - smimeguard.conf parsing and settings checks */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check-suites.h"
#include "sg-base.h"
#include "sg-settings.h"
#include "smimeguard.h"

static char *write_tmp(const char *text)
{
	static char path[] = "/tmp/sg-conf-XXXXXX";
	char *p = strdup(path);
	int fd = mkstemp(p);

	ck_assert(fd >= 0);
	ck_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	return p;
}

START_TEST(test_defaults)
{
	struct sg_config *conf;

	ck_assert_int_eq(sg_config_new(&conf), 0);
	ck_assert_str_eq(sg_config_get(conf, "revocation_check"), "soft");
	ck_assert_str_eq(sg_config_get(conf, "sender_binding"), "strict");
	ck_assert_str_eq(sg_config_get(conf, "allow_sha1_signatures"), "no");
	ck_assert_str_eq(sg_config_get(conf, "trust_anchors"), "");
	ck_assert_ptr_null(sg_config_get(conf, "no_such_setting"));
	sg_config_free(&conf);
	ck_assert_ptr_null(conf);
	sg_config_free(&conf);	/* NULL-safe */
}
END_TEST

START_TEST(test_set_checks_values)
{
	struct sg_config *conf;
	struct sg_error err;

	ck_assert_int_eq(sg_config_new(&conf), 0);
	ck_assert_int_eq(sg_config_set(conf, "revocation_check", "hard", &err), 0);
	ck_assert_int_eq(sg_config_set(conf, "revocation_check", "maybe", &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_INVALID);
	ck_assert(strstr(err.msg, "none|soft|hard") != NULL);
	ck_assert_str_eq(sg_config_get(conf, "revocation_check"), "hard");
	ck_assert_int_eq(sg_config_set(conf, "sender_binding", "str", &err), -1);
	ck_assert_int_eq(sg_config_set(conf, "allow_sha1_signatures", "true", &err), -1);
	ck_assert_int_eq(sg_config_set(conf, "max_mime_depth", "0", &err), -1);
	ck_assert_int_eq(sg_config_set(conf, "max_mime_depth", "12x", &err), -1);
	ck_assert_int_eq(sg_config_set(conf, "max_message_size", "104857600", &err), 0);
	ck_assert_int_eq(sg_config_set(conf, "bad name", "x", &err), -1);
	/* unknown names are kept for the daemons */
	ck_assert_int_eq(sg_config_set(conf, "internal_domains", "example.org", &err), 0);
	ck_assert_str_eq(sg_config_get(conf, "internal_domains"), "example.org");
	sg_config_free(&conf);
}
END_TEST

START_TEST(test_read_file)
{
	struct sg_config *conf;
	struct sg_error err;
	char *path = write_tmp(
		"# smimeguard.conf\n"
		"config_dir = /etc/smimeguard\n"
		"trust_anchors = $config_dir/trust,\n"
		"    ${config_dir}/more-trust\n"
		"\n"
		"revocation_check = hard\n"
		"revocation_check = none\n"
		"price = $$5\n");

	ck_assert_int_eq(sg_config_new(&conf), 0);
	ck_assert_msg(sg_config_read(conf, path, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(sg_config_get(conf, "trust_anchors"),
			 "/etc/smimeguard/trust, /etc/smimeguard/more-trust");
	ck_assert_str_eq(sg_config_get(conf, "revocation_check"), "none");
	ck_assert_str_eq(sg_config_get(conf, "price"), "$5");
	sg_config_free(&conf);
	unlink(path);
	free(path);
}
END_TEST

/* expanded values stay valid until the configuration changes, so a
   reader of a const configuration may hold several at once */
START_TEST(test_get_keeps_expansions)
{
	struct sg_config *conf;
	const struct sg_config *ro;
	struct sg_error err;
	const char *anchors, *crls, *again;
	struct sg_ctx *ctx;

	ck_assert_int_eq(sg_config_new(&conf), 0);
	ck_assert_int_eq(sg_config_set(conf, "base", "/nonexistent", &err), 0);
	ck_assert_int_eq(sg_config_set(conf, "trust_anchors", "$base/ca.pem",
				       &err), 0);
	ck_assert_int_eq(sg_config_set(conf, "crl_dirs", "${base}/crl", &err),
			 0);
	ro = conf;
	anchors = sg_config_get(ro, "trust_anchors");
	crls = sg_config_get(ro, "crl_dirs");
	ck_assert_str_eq(anchors, "/nonexistent/ca.pem");
	ck_assert_str_eq(crls, "/nonexistent/crl");
	again = sg_config_get(ro, "trust_anchors");
	ck_assert_ptr_eq(again, anchors);
	ck_assert_str_eq(anchors, "/nonexistent/ca.pem");
	/* sg_ctx_new reads a const configuration (and fails on the path) */
	ck_assert_int_eq(sg_ctx_new(ro, &ctx, &err), -1);
	ck_assert(strstr(err.msg, "/nonexistent/ca.pem") != NULL);
	ck_assert_str_eq(crls, "/nonexistent/crl");
	/* a change is seen by the next sg_config_get */
	ck_assert_int_eq(sg_config_set(conf, "base", "/elsewhere", &err), 0);
	ck_assert_str_eq(sg_config_get(ro, "trust_anchors"),
			 "/elsewhere/ca.pem");
	ck_assert_str_eq(sg_config_get(ro, "crl_dirs"), "/elsewhere/crl");
	sg_config_free(&conf);
}
END_TEST

START_TEST(test_read_errors)
{
	struct sg_config *conf;
	struct sg_error err;
	char *path = write_tmp("trust_anchors = /x\nthis line has no equals sign\n");

	ck_assert_int_eq(sg_config_new(&conf), 0);
	ck_assert_int_eq(sg_config_read(conf, path, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_CONFIG);
	ck_assert_msg(strstr(err.msg, "line 2") != NULL, "%s", err.msg);
	unlink(path);
	free(path);
	path = write_tmp("sender_binding = sometimes\n");
	ck_assert_int_eq(sg_config_read(conf, path, &err), -1);
	ck_assert_msg(strstr(err.msg, "line 1") != NULL &&
		      strstr(err.msg, "sender_binding") != NULL, "%s", err.msg);
	unlink(path);
	free(path);
	ck_assert_int_eq(sg_config_read(conf, "/nonexistent/smimeguard.conf", &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_IO);
	sg_config_free(&conf);
}
END_TEST

/* Postfix main.cf logical lines (sg_conf_lines, shared with the LDAP map
   files): continuation, comments anywhere, CRLF, blank lines inside */
START_TEST(test_logical_lines)
{
	struct sg_config *conf;
	struct sg_error err;
	char *path = write_tmp("# a comment\n"
			       "trust_anchors = /a\n"
			       "\t/b   \n"
			       "   # an indented comment ends nothing\n"
			       "\r\n"
			       "   /c\r\n"
			       "internal_domains = x.example\r\n"
			       "  y.example\n"
			       "sender_binding=strict");
	const char *v;

	ck_assert_int_eq(sg_config_new(&conf), 0);
	ck_assert_msg(sg_config_read(conf, path, &err) == 0, "%s", err.msg);
	ck_assert_ptr_nonnull(v = sg_config_get(conf, "trust_anchors"));
	ck_assert_str_eq(v, "/a /b /c");
	ck_assert_ptr_nonnull(v = sg_config_get(conf, "internal_domains"));
	ck_assert_str_eq(v, "x.example y.example");
	ck_assert_ptr_nonnull(v = sg_config_get(conf, "sender_binding"));
	ck_assert_str_eq(v, "strict");
	unlink(path);
	free(path);
	/* a continuation with nothing to continue */
	path = write_tmp("\n  trust_anchors = /a\n");
	ck_assert_int_eq(sg_config_read(conf, path, &err), -1);
	ck_assert_msg(strstr(err.msg, "line 2: continuation line without a setting")
		      != NULL, "%s", err.msg);
	unlink(path);
	free(path);
	/* a NUL byte: not a configuration file */
	path = write_tmp("x");
	{
		FILE *fp = fopen(path, "wb");

		ck_assert_ptr_nonnull(fp);
		fwrite("a = b\0\n", 1, 7, fp);
		fclose(fp);
	}
	ck_assert_int_eq(sg_config_read(conf, path, &err), -1);
	ck_assert_msg(strstr(err.msg, "NUL") != NULL, "%s", err.msg);
	unlink(path);
	free(path);
	sg_config_free(&conf);
}
END_TEST

START_TEST(test_ctx_errors)
{
	struct sg_config *conf;
	struct sg_ctx *ctx = (struct sg_ctx *)1;
	struct sg_error err;

	ck_assert_int_eq(sg_config_new(&conf), 0);
	ck_assert_int_eq(sg_config_set(conf, "trust_anchors", "/nonexistent/ca.pem", &err), 0);
	ck_assert_int_eq(sg_ctx_new(conf, &ctx, &err), -1);
	ck_assert_ptr_null(ctx);
	ck_assert_int_eq(err.code, SG_ERR_IO);
	ck_assert(strstr(err.msg, "/nonexistent/ca.pem") != NULL);
	/* a file that is not a certificate */
	ck_assert_int_eq(sg_config_set(conf, "trust_anchors", "/etc/hostname", &err), 0);
	ck_assert_int_eq(sg_ctx_new(conf, &ctx, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_CONFIG);
	/* a $reference to an invalid value is caught at load time */
	ck_assert_int_eq(sg_config_set(conf, "trust_anchors", "", &err), 0);
	ck_assert_int_eq(sg_config_set(conf, "mode", "loose", &err), 0);
	ck_assert_int_eq(sg_config_set(conf, "sender_binding", "$mode", &err), 0);
	ck_assert_int_eq(sg_ctx_new(conf, &ctx, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_INVALID);
	/* bad policy OID */
	ck_assert_int_eq(sg_config_set(conf, "sender_binding", "off", &err), 0);
	ck_assert_int_eq(sg_config_set(conf, "certificate_policies", "not.an.oid", &err), 0);
	ck_assert_int_eq(sg_ctx_new(conf, &ctx, &err), -1);
	sg_config_free(&conf);
}
END_TEST

START_TEST(test_policy_string)
{
	struct sg_config *conf;
	struct sg_ctx *ctx;
	struct sg_error err;
	char buf[256], small[8];

	ck_assert_int_eq(sg_config_new(&conf), 0);
	ck_assert_int_eq(sg_config_set(conf, "revocation_check", "hard", &err), 0);
	ck_assert_int_eq(sg_ctx_new(conf, &ctx, &err), 0);
	ck_assert_int_gt(sg_ctx_policy(ctx, buf, sizeof(buf)), 0);
	ck_assert_msg(strstr(buf, "anchors=sha256:") == buf &&
		      strstr(buf, " revocation=hard sender_binding=strict sha1=reject") != NULL,
		      "%s", buf);
	ck_assert_int_eq(sg_ctx_policy(ctx, small, sizeof(small)), -1);
	ck_assert_uint_eq(sg_ctx_anchor_count(ctx), 0);
	sg_ctx_free(&ctx);
	ck_assert_ptr_null(ctx);
	sg_ctx_free(&ctx);
	sg_config_free(&conf);
}
END_TEST

START_TEST(test_parse_time)
{
	time_t t;

	ck_assert_int_eq(sg_parse_time("@1764324000", &t), 0);
	ck_assert_int_eq(t, 1764324000);
	ck_assert_int_eq(sg_parse_time("2026-11-28T10:00:00Z", &t), 0);
	ck_assert_int_eq(t, 1795860000);
	ck_assert_int_eq(sg_parse_time("2026-11-28T12:00:00+02:00", &t), 0);
	ck_assert_int_eq(t, 1795860000);
	ck_assert_int_eq(sg_parse_time("2026-11-28", &t), 0);
	ck_assert_int_eq(t, 1795824000);
	ck_assert_int_eq(sg_parse_time("1970-01-01T00:00Z", &t), 0);
	ck_assert_int_eq(t, 0);
	ck_assert_int_eq(sg_parse_time("yesterday", &t), -1);
	ck_assert_int_eq(sg_parse_time("2026-13-01", &t), -1);
	ck_assert_int_eq(sg_parse_time("@", &t), -1);
	ck_assert_int_eq(sg_parse_time("2026-11-28T10:00:00Zjunk", &t), -1);
}
END_TEST

/* sg_format_time writes what sg_parse_time reads, or "" and -1 */
START_TEST(test_format_time)
{
	char buf[SG_TIME_SIZE];
	time_t t;

	ck_assert_int_eq(sg_format_time(1795860000, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "2026-11-28T10:00:00Z");
	ck_assert_int_eq(sg_parse_time(buf, &t), 0);
	ck_assert_int_eq(t, 1795860000);
	ck_assert_int_eq(sg_format_time(0, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00Z");
	/* no room for the NUL */
	ck_assert_int_eq(sg_format_time(0, buf, 20), -1);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(sg_format_time(0, NULL, 0), -1);
	if (sizeof(time_t) > 4) {
		/* a year beyond INT_MAX */
		ck_assert_int_eq(sg_format_time((time_t)INT64_MAX, buf,
						 sizeof(buf)), -1);
		ck_assert_str_eq(buf, "");
	}
}
END_TEST

/* the stamp changes when a named file or directory entry changes */
START_TEST(test_stamp)
{
	char dir[] = "/tmp/sg-stamp-XXXXXX", path[128], conf_path[128];
	unsigned char a[SG_STAMP_SIZE], b[SG_STAMP_SIZE];
	struct sg_config *conf;
	struct sg_error err;
	FILE *fp;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(conf_path, sizeof(conf_path), "%s/sg.conf", dir);
	fp = fopen(conf_path, "w");
	fprintf(fp, "trust_anchors = %s/trust\nencryption_policy_maps = texthash:%s/policy\n",
		dir, dir);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/trust", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	ck_assert_int_eq(sg_config_new(&conf), 0);
	ck_assert_int_eq(sg_config_read(conf, conf_path, &err), 0);
	sg_config_stamp(conf, conf_path, a);
	sg_config_stamp(conf, conf_path, b);
	ck_assert(memcmp(a, b, SG_STAMP_SIZE) == 0);
	/* a new CA file in the anchor directory */
	snprintf(path, sizeof(path), "%s/trust/ca.pem", dir);
	fp = fopen(path, "w");
	fputs("x", fp);
	fclose(fp);
	sg_config_stamp(conf, conf_path, b);
	ck_assert(memcmp(a, b, SG_STAMP_SIZE) != 0);
	/* the policy map appears (texthash: prefix) */
	memcpy(a, b, SG_STAMP_SIZE);
	snprintf(path, sizeof(path), "%s/policy", dir);
	fp = fopen(path, "w");
	fputs("x.example encrypt\n", fp);
	fclose(fp);
	sg_config_stamp(conf, conf_path, b);
	ck_assert(memcmp(a, b, SG_STAMP_SIZE) != 0);
	unlink(path);
	snprintf(path, sizeof(path), "%s/trust/ca.pem", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/trust", dir);
	rmdir(path);
	unlink(conf_path);
	rmdir(dir);
	sg_config_free(&conf);
}
END_TEST

/* inputs the fuzzers found problems with (tests/data/fuzz-regress) */
START_TEST(test_fuzz_regressions)
{
	static const struct {
		const char *file, *setting;
		enum sg_error_code code;
		const char *msg;
	} cases[] = {
		{ "config-unexpandable.conf", "crl_dirs", SG_ERR_CONFIG,
		  "crl_dirs: cannot expand its value" },
		{ "config-escaped-dollar.conf", NULL, SG_ERR_INVALID,
		  "max_message_size: '$' is not a valid value" },
		{ "config-reference-bomb.conf", "trust_anchors", SG_ERR_CONFIG,
		  "trust_anchors: cannot expand its value" },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sg_config *conf;
		struct sg_ctx *ctx;
		struct sg_error err;
		char path[4096];

		snprintf(path, sizeof(path), "%s/data/fuzz-regress/%s", SG_SRCDIR,
			 cases[i].file);
		ck_assert_int_eq(sg_config_new(&conf), 0);
		ck_assert_msg(sg_config_read(conf, path, &err) == 0, "%s: %s",
			      cases[i].file, err.msg);
		if (cases[i].setting != NULL)
			ck_assert_ptr_null(sg_config_get(conf, cases[i].setting));
		ck_assert_int_eq(sg_ctx_new(conf, &ctx, &err), -1);
		ck_assert_int_eq(err.code, cases[i].code);
		ck_assert_msg(strstr(err.msg, cases[i].msg) != NULL, "%s: %s",
			      cases[i].file, err.msg);
		sg_config_free(&conf);
	}
}
END_TEST

/* the policy engine's fuzzer findings */
START_TEST(test_fuzz_policy_regressions)
{
	static const struct {
		const char *file;
		int ret;
		const char *msg;
	} cases[] = {
		{ "config-policy-no-rules.conf", 0, NULL },
		{ "config-policy-unexpandable.conf", -1,
		  "internal_domains: cannot expand its value" },
		{ "config-policy-maps-unexpandable.conf", -1,
		  "encryption_policy_maps: cannot expand its value" },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sg_config *conf;
		struct sg_policy *pol = NULL;
		struct sg_policy_decision d;
		struct sg_error err;
		char path[4096];

		snprintf(path, sizeof(path), "%s/data/fuzz-regress/%s", SG_SRCDIR,
			 cases[i].file);
		ck_assert_int_eq(sg_config_new(&conf), 0);
		ck_assert_msg(sg_config_read(conf, path, &err) == 0, "%s: %s",
			      cases[i].file, err.msg);
		ck_assert_int_eq(sg_policy_new(conf, &pol, &err), cases[i].ret);
		if (cases[i].ret == 0) {
			sg_policy_decide(pol, "a@x.example", "b@y.example", &d);
			ck_assert_uint_eq(d.requirements, 0);
			sg_policy_free(&pol);
		} else {
			ck_assert_int_eq(err.code, SG_ERR_CONFIG);
			ck_assert_msg(strstr(err.msg, cases[i].msg) != NULL, "%s: %s",
				      cases[i].file, err.msg);
		}
		sg_config_free(&conf);
	}
}
END_TEST

static void misuse_null_conf(void)
{
	struct sg_error err;

	if (sg_config_set(NULL, "a", "b", &err) == 0)
		return;
}

/* the unknown-setting warnings of a file, one per line of out, as the
   programs see them (every program's settings registered) */
static void unknown_of(const char *text, char *out, size_t size)
{
	struct sg_config *conf;
	struct sg_error err, warn;
	char *path = write_tmp(text);
	size_t iter = 0, used = 0;

	ck_assert_int_eq(sg_config_new(&conf), 0);
	ck_assert_int_eq(sg_settings_register_all(conf, &err), 0);
	ck_assert_msg(sg_config_read(conf, path, &err) == 0, "%s", err.msg);
	out[0] = '\0';
	while (sg_config_next_unknown(conf, &iter, &warn)) {
		/* without the temporary file's name */
		const char *m = strncmp(warn.msg, path, strlen(path)) == 0 ?
			warn.msg + strlen(path) : warn.msg;
		used += (size_t)snprintf(out + used, size - used, "%s\n", m);
		ck_assert(used < size);
	}
	ck_assert(!sg_config_next_unknown(conf, &iter, &warn));	/* stays at the end */
	sg_config_free(&conf);
	unlink(path);
	free(path);
}

START_TEST(test_unknown_settings)
{
	char out[2048];

	/* misspellings: a transposition, a missing letter, case, a typo */
	unknown_of("trsut_anchors = /a\n"
		   "crl_dir = /b\n"
		   "Revocation_Check = hard\n"
		   "certifcate_maps = dir:/c\n"
		   "policy_acton = monitor\n", out, sizeof(out));
	ck_assert_str_eq(out,
		", line 1: unknown setting trsut_anchors (did you mean trust_anchors?)\n"
		", line 2: unknown setting crl_dir (did you mean crl_dirs?)\n"
		", line 3: unknown setting Revocation_Check (did you mean revocation_check?)\n"
		", line 4: unknown setting certifcate_maps (did you mean certificate_maps?)\n"
		", line 5: unknown setting policy_acton (did you mean policy_action?)\n");
	/* nothing close: reported without a suggestion; a prefix of a
	   setting is close */
	unknown_of("# comment\n\ncompletely_unrelated = 1\n"
		   "crl_fetch = x\n", out, sizeof(out));
	ck_assert_str_eq(out,
		", line 3: unknown setting completely_unrelated (ignored)\n"
		", line 4: unknown setting crl_fetch (did you mean crl_fetch_urls?)\n");
	/* names other settings refer to are the file's own variables; a
	   literal "$$name" refers to nothing, nor does a longer name */
	unknown_of("config_dir = /etc/smimeguard\n"
		   "base = /x\n"
		   "pki = /y\n"
		   "other = /z\n"
		   "trust_anchors = $config_dir/trust ${base}/more $$pki\n"
		   "crl_dirs = $other_dir\n", out, sizeof(out));
	ck_assert_str_eq(out,
		", line 3: unknown setting pki (ignored)\n"
		", line 4: unknown setting other (ignored)\n");
	/* every known setting, a continued line, a name set twice (reported
	   once, at the line of its last setting) */
	unknown_of("revocation_check = hard\nsender_binding = relaxed\n"
		   "internal_domains = a.example,\n  b.example\n"
		   "trust_anchor = /a\ntrust_anchor = /b\n", out, sizeof(out));
	ck_assert_str_eq(out,
		", line 6: unknown setting trust_anchor (did you mean trust_anchors?)\n");
}
END_TEST

START_TEST(test_setting_table)
{
	struct sg_config_setting s;
	struct sg_config *conf;
	struct sg_error err;
	const char *name, *value;
	size_t i;

	ck_assert_int_eq(sg_config_new(&conf), 0);
	for (i = 0; sg_config_setting_at(i, &s); i++) {
		ck_assert(s.name != NULL && s.name[0] != '\0');
		ck_assert(s.default_value != NULL && s.syntax != NULL);
		/* the table's default is what the code returns, and valid */
		ck_assert_str_eq(sg_config_get(conf, s.name), s.default_value);
		ck_assert_msg(sg_config_set(conf, s.name, s.default_value, &err) == 0,
			      "%s: %s", s.name, err.msg);
	}
	ck_assert_uint_gt(i, 30);
	ck_assert(!sg_config_setting_at(i, &s));
	ck_assert(!sg_config_setting_at((size_t)-1, &s));
	/* the entries: in the order first set, raw values */
	ck_assert_int_eq(sg_config_set(conf, "zz_var", "$a", &err), 0);
	ck_assert(sg_config_entry_at(conf, 0, &name, &value));
	ck_assert(sg_config_setting_at(0, &s));
	ck_assert_str_eq(name, s.name);
	ck_assert(sg_config_entry_at(conf, i, &name, &value));
	ck_assert_str_eq(name, "zz_var");
	ck_assert_str_eq(value, "$a");
	ck_assert(!sg_config_entry_at(conf, i + 1, &name, &value));
	sg_config_free(&conf);
}
END_TEST

/* one set of boolean words for every reader; one list splitter */
START_TEST(test_words)
{
	static const struct {
		const char *word;
		int ret;
		bool value;
	} bools[] = {
		{ "yes", 0, true }, { "YES", 0, true }, { "No", 0, false },
		{ "no", 0, false }, { "true", -1, false }, { "false", -1, false },
		{ "1", -1, false }, { "", -1, false }, { "yes ", -1, false },
		{ NULL, -1, false },
	};
	const char *p = " a,b\t,, c\nd ", *it;
	char item[3];
	size_t i, len;
	bool b, cut;
	struct sg_config *conf;
	struct sg_error err;

	for (i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		b = !bools[i].value;
		ck_assert_msg(sg_conf_bool(bools[i].word, &b) == bools[i].ret,
			      "[%zu]", i);
		if (bools[i].ret == 0)
			ck_assert_msg(b == bools[i].value, "[%zu]", i);
	}
	for (i = 0; sg_list_next(&p, &it, &len); i++)
		ck_assert_msg(len == 1 && *it == "abcd"[i], "[%zu]", i);
	ck_assert_uint_eq(i, 4);
	p = "ab, abc";
	ck_assert(sg_list_copy_next(&p, item, sizeof(item), &cut) && !cut &&
		  strcmp(item, "ab") == 0);
	ck_assert(sg_list_copy_next(&p, item, sizeof(item), &cut) && cut);
	ck_assert(!sg_list_copy_next(&p, item, sizeof(item), &cut));
	/* braces keep what they enclose in one item, nested too (Postfix's
	   mystrtokq); an unclosed brace runs to the end */
	{
		static const struct {
			const char *list;
			const char *items[4];
		} braces[] = {
			{ "inline:{ a=b, c=d }, dir:/x",
			  { "inline:{ a=b, c=d }", "dir:/x" } },
			{ "x:{a,{b c}},y z}", { "x:{a,{b c}}", "y", "z}" } },
			{ " {a b", { "{a b" } },
			{ "{},{ }", { "{}", "{ }" } },
		};
		size_t k;

		for (k = 0; k < sizeof(braces) / sizeof(braces[0]); k++) {
			p = braces[k].list;
			for (i = 0; sg_list_next(&p, &it, &len); i++) {
				ck_assert_msg(i < 4 && braces[k].items[i] != NULL &&
					      len == strlen(braces[k].items[i]) &&
					      memcmp(it, braces[k].items[i], len) == 0,
					      "[%zu][%zu] %.*s", k, i, (int)len, it);
			}
			ck_assert_msg(i == 4 || braces[k].items[i] == NULL,
				      "[%zu] %zu items", k, i);
		}
	}
	/* smimeguard.conf takes the same words */
	ck_assert_int_eq(sg_config_new(&conf), 0);
	ck_assert_int_eq(sg_config_set(conf, "allow_3des", "Yes", &err), 0);
	ck_assert_int_eq(sg_config_set(conf, "allow_3des", "true", &err), -1);
	ck_assert_msg(strstr(err.msg, "not yes or no") != NULL, "%s", err.msg);
	sg_config_free(&conf);
}
END_TEST

/* a program's own table (sg_config_register): defaults, the kind's
   check and its own, known names, values set before it came; the same
   table twice is one */
static int check_even(const char *name, const char *value,
		      struct sg_error *err_r)
{
	if (strtoul(value, NULL, 10) % 2 == 0)
		return 0;
	sg_error_set(err_r, SG_ERR_INVALID, "%s: '%s' is odd", name, value);
	return -1;
}

static const struct sg_config_def test_defs[] = {
	{ "zz_mode", "fast", SG_CONF_ENUM, "fast|slow", NULL, NULL },
	{ "zz_pairs", "2", SG_CONF_UINT, NULL, check_even, "an even number" },
	{ "zz_path", "", SG_CONF_TEXT, NULL, NULL, NULL },
};
static const struct sg_config_table test_table = {
	"zz-daemon", test_defs, sizeof(test_defs) / sizeof(test_defs[0])
};

START_TEST(test_register)
{
	struct sg_config_setting s;
	struct sg_config *conf;
	struct sg_error err, warn;
	const char *owner;
	size_t i, n_core, iter;

	ck_assert_int_eq(sg_config_new(&conf), 0);
	for (n_core = 0; sg_config_setting_at(n_core, &s); n_core++)
		;
	/* unknown to the core: no default, no check, a warning */
	ck_assert_ptr_null(sg_config_get(conf, "zz_mode"));
	ck_assert_int_eq(sg_config_set(conf, "zz_pairs", "3", &err), 0);
	iter = 0;
	ck_assert(sg_config_next_unknown(conf, &iter, &warn));
	ck_assert_msg(strstr(warn.msg, "unknown setting zz_pairs") != NULL,
		      "%s", warn.msg);
	/* a value set before the table comes is checked when it comes */
	ck_assert_int_eq(sg_config_register(conf, &test_table, &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_INVALID);
	ck_assert_str_eq(err.msg, "zz_pairs: '3' is odd");
	ck_assert_ptr_null(sg_config_get(conf, "zz_mode"));
	ck_assert_int_eq(sg_config_set(conf, "zz_pairs", "$other", &err), 0);
	ck_assert_int_eq(sg_config_register(conf, &test_table, &err), 0);
	ck_assert_int_eq(sg_config_register(conf, &test_table, &err), 0);
	/* defaults; the kind's check, then the table's */
	ck_assert_str_eq(sg_config_get(conf, "zz_mode"), "fast");
	ck_assert_str_eq(sg_config_get(conf, "zz_path"), "");
	ck_assert_int_eq(sg_config_set(conf, "zz_mode", "slow", &err), 0);
	ck_assert_int_eq(sg_config_set(conf, "zz_mode", "warp", &err), -1);
	ck_assert_str_eq(err.msg, "zz_mode: 'warp' is not one of fast|slow");
	ck_assert_int_eq(sg_config_set(conf, "zz_pairs", "0", &err), -1);
	ck_assert_msg(strstr(err.msg, "is not a positive number") != NULL,
		      "%s", err.msg);
	ck_assert_int_eq(sg_config_set(conf, "zz_pairs", "5", &err), -1);
	ck_assert_str_eq(err.msg, "zz_pairs: '5' is odd");
	ck_assert_int_eq(sg_config_set(conf, "zz_pairs", "4", &err), 0);
	/* known: no warning, a suggestion for a misspelling of it */
	ck_assert_int_eq(sg_config_set(conf, "zz_mdoe", "x", &err), 0);
	iter = 0;
	ck_assert(sg_config_next_unknown(conf, &iter, &warn));
	ck_assert_msg(strstr(warn.msg, "unknown setting zz_mdoe (did you mean zz_mode?)") != NULL,
		      "%s", warn.msg);
	ck_assert(!sg_config_next_unknown(conf, &iter, &warn));
	/* listed after the core's, once, with the owner and syntax */
	for (i = 0; sg_config_known_at(conf, i, &s, &owner); i++) {
		if (i < n_core) {
			ck_assert_str_eq(owner, "smimeguard");
			continue;
		}
		ck_assert_str_eq(owner, "zz-daemon");
		ck_assert_str_eq(s.name, test_defs[i - n_core].name);
		ck_assert_str_eq(s.default_value, test_defs[i - n_core].default_value);
	}
	ck_assert_uint_eq(i, n_core + 3);
	ck_assert(sg_config_known_at(conf, n_core, &s, NULL));
	ck_assert_str_eq(s.syntax, "fast|slow");
	ck_assert(sg_config_known_at(conf, n_core + 1, &s, NULL));
	ck_assert_str_eq(s.syntax, "an even number");
	ck_assert(sg_config_known_at(conf, n_core + 2, &s, NULL));
	ck_assert_str_eq(s.syntax, "text");
	ck_assert(!sg_config_setting_at(n_core, &s));	/* the core's own */
	sg_config_free(&conf);
}
END_TEST

/* every program's table (settings/): each setting in one table, none
   the core's; each program's settings known, defaulted and checked
   wherever the tables are registered, and unknown to the core alone */
START_TEST(test_program_settings)
{
	static const struct {
		const char *name, *def, *bad;
	} own[] = {
		{ "policy_request_timeout", "30", "0" },
		{ "policyd_status_socket", "", NULL },
		{ "milter_status_socket", "", NULL },
		{ "crl_fetch_urls", "", NULL },
		{ "keyd_max_clients", "64", "many" },
		{ "keyd_socket_group", "", NULL },
		{ "keyd_max_request_size", "", NULL },
		{ "keystore_dir", "/var/lib/smimeguard/keys", NULL },
		{ "keystore_master_key", "/etc/smimeguard/master.key", NULL },
	};
	struct sg_config_setting s, c;
	struct sg_config *conf, *core;
	struct sg_error err, warn;
	const char *owner;
	size_t i, j, n, iter;

	ck_assert_int_eq(sg_config_new(&conf), 0);
	ck_assert_int_eq(sg_config_new(&core), 0);
	ck_assert_int_eq(sg_settings_register_all(conf, &err), 0);
	ck_assert_int_eq(sg_settings_register_all(conf, &err), 0);	/* once */
	for (n = 0; sg_config_known_at(conf, n, &s, &owner); n++) {
		ck_assert_ptr_nonnull(owner);
		for (j = 0; j < n; j++) {
			ck_assert(sg_config_known_at(conf, j, &c, NULL));
			ck_assert_str_ne(c.name, s.name);
		}
		ck_assert_str_eq(sg_config_get(conf, s.name), s.default_value);
		ck_assert_msg(sg_config_set(conf, s.name, s.default_value, &err) == 0,
			      "%s: %s", s.name, err.msg);
	}
	for (j = 0; sg_config_setting_at(j, &c); j++)
		;
	ck_assert_uint_gt(n, j);
	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		/* not the core's: unknown to a configuration of the core
		   alone, with no default */
		ck_assert_ptr_null(sg_config_get(core, own[i].name));
		ck_assert_int_eq(sg_config_set(core, own[i].name, "x", &err), 0);
		ck_assert_str_eq(sg_config_get(conf, own[i].name), own[i].def);
		if (own[i].bad != NULL) {
			ck_assert_msg(sg_config_set(conf, own[i].name, own[i].bad,
						    &err) == -1, "%s", own[i].name);
			ck_assert_msg(strncmp(err.msg, own[i].name,
					      strlen(own[i].name)) == 0,
				      "%s", err.msg);
		}
	}
	iter = 0;
	ck_assert(!sg_config_next_unknown(conf, &iter, &warn));
	for (i = 0, iter = 0; sg_config_next_unknown(core, &iter, &warn); i++)
		;
	ck_assert_uint_eq(i, sizeof(own) / sizeof(own[0]));
	sg_config_free(&core);
	sg_config_free(&conf);
}
END_TEST

/* two tables that name one setting: a program's bug */
static void misuse_twice_named(void)
{
	static const struct sg_config_def defs[] = {
		{ "revocation_check", "soft", SG_CONF_TEXT, NULL, NULL, NULL },
	};
	static const struct sg_config_table t = { "bad", defs, 1 };
	struct sg_config *conf;
	struct sg_error err;

	if (sg_config_new(&conf) == 0 && sg_config_register(conf, &t, &err) == 0)
		sg_config_free(&conf);
}

START_TEST(test_register_misuse)
{
	misuse_twice_named();
}
END_TEST

START_TEST(test_misuse_aborts)
{
	misuse_null_conf();
}
END_TEST

Suite *make_config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("settings");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_set_checks_values);
	tcase_add_test(tc, test_read_file);
	tcase_add_test(tc, test_read_errors);
	tcase_add_test(tc, test_logical_lines);
	tcase_add_test(tc, test_ctx_errors);
	tcase_add_test(tc, test_policy_string);
	tcase_add_test(tc, test_get_keeps_expansions);
	tcase_add_test(tc, test_parse_time);
	tcase_add_test(tc, test_format_time);
	tcase_add_test(tc, test_fuzz_regressions);
	tcase_add_test(tc, test_fuzz_policy_regressions);
	tcase_add_test(tc, test_stamp);
	tcase_add_test(tc, test_unknown_settings);
	tcase_add_test(tc, test_setting_table);
	tcase_add_test(tc, test_register);
	tcase_add_test(tc, test_program_settings);
	tcase_add_test_raise_signal(tc, test_register_misuse, SIGABRT);
	tcase_add_test(tc, test_words);
	tcase_add_test_raise_signal(tc, test_misuse_aborts, SIGABRT);
	suite_add_tcase(s, tc);
	return s;
}
