/* suite-policy-proto.c - the policy delegation protocol and RCPT-time
 * decisions of smime-policyd, tested with plain strings (no sockets) */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check-suites.h"
#include "policy-proto.h"
#include "policy-decide.h"

static struct pp_request req;

START_TEST(test_parse_complete)
{
	static const char in[] =
		"request=smtpd_access_policy\n"
		"protocol_state=RCPT\n"
		"sender=a@example.org\n"
		"recipient=b@ext.example\n"
		"client_name=host=with=equals\n"
		"ccert_subject=\n"
		"\n"
		"request=smtpd_access_policy\n";
	size_t consumed;
	const char *error;

	ck_assert_int_eq(pp_parse(in, strlen(in), &req, &consumed, &error), PP_COMPLETE);
	ck_assert_uint_eq(consumed, strlen(in) - strlen("request=smtpd_access_policy\n"));
	ck_assert_uint_eq(req.n_attrs, 6);
	ck_assert_str_eq(pp_get(&req, "recipient"), "b@ext.example");
	ck_assert_str_eq(pp_get(&req, "client_name"), "host=with=equals");
	ck_assert_str_eq(pp_get(&req, "ccert_subject"), "");
	ck_assert_ptr_null(pp_get(&req, "nothere"));
}
END_TEST

START_TEST(test_parse_incremental)
{
	static const char in[] = "request=smtpd_access_policy\nprotocol_state=RCPT\n\n";
	size_t i, consumed;
	const char *error;

	/* every prefix needs more; the whole is complete */
	for (i = 0; i < strlen(in); i++)
		ck_assert_int_eq(pp_parse(in, i, &req, &consumed, &error), PP_NEED_MORE);
	ck_assert_int_eq(pp_parse(in, strlen(in), &req, &consumed, &error), PP_COMPLETE);
}
END_TEST

START_TEST(test_parse_errors)
{
	static const char *const bad[] = {
		"\n",					/* empty request */
		"no equals sign here\n\n",
		"Request=x\n\n",			/* upper-case name */
		"=value\n\n",
		"request=a\0b\n\n",
	};
	static const size_t bad_len[] = { 1, 22, 12, 8, 14 };
	char *big;
	size_t i, consumed;
	const char *error;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(pp_parse(bad[i], bad_len[i], &req, &consumed, &error) == PP_ERROR,
			      "case %zu", i);
		ck_assert(error != NULL);
	}
	/* a line longer than a request, without its newline yet */
	big = malloc(PP_MAX_REQUEST + 10);
	memset(big, 'a', PP_MAX_REQUEST + 10);
	memcpy(big, "x=", 2);
	ck_assert_int_eq(pp_parse(big, PP_MAX_REQUEST + 10, &req, &consumed, &error), PP_ERROR);
	free(big);
	/* too many attributes */
	big = malloc(PP_MAX_ATTRS * 8 + 16);
	big[0] = '\0';
	for (i = 0; i <= PP_MAX_ATTRS; i++)
		strcat(big, "a=b\n");
	strcat(big, "\n");
	ck_assert_int_eq(pp_parse(big, strlen(big), &req, &consumed, &error), PP_ERROR);
	ck_assert_str_eq(error, "too many attributes");
	free(big);
}
END_TEST

START_TEST(test_printable)
{
	char out[16];

	pp_printable(out, sizeof(out), "a\r\nb\x01\xff" "c");
	ck_assert_str_eq(out, "a??b??c");
	pp_printable(out, 4, "abcdef");
	ck_assert_str_eq(out, "abc");
}
END_TEST

/* the request size limit (PP_MAX_REQUEST, 16 KB) at its edge: an
   attribute line of PP_MAX_REQUEST - 1 bytes is a request, one byte more
   is an error (the daemon closes the connection) */
START_TEST(test_parse_size_edge)
{
	static char in[PP_MAX_REQUEST + 16];
	size_t consumed, line;
	const char *error;

	for (line = PP_MAX_REQUEST - 1; line <= PP_MAX_REQUEST; line++) {
		memcpy(in, "sender=", 7);
		memset(in + 7, 'a', line - 7);
		memcpy(in + line, "\n\n", 2);
		ck_assert_int_eq(pp_parse(in, line + 2, &req, &consumed, &error),
				 line < PP_MAX_REQUEST ? PP_COMPLETE : PP_ERROR);
		if (line < PP_MAX_REQUEST) {
			ck_assert_uint_eq(consumed, line + 2);
			ck_assert_uint_eq(strlen(pp_get(&req, "sender")), line - 7);
		} else {
			ck_assert_str_eq(error, "request too large");
		}
	}
}
END_TEST

/* pd_decide with a fake certificate directory */
static int fake_lookup(void *context, const char *address, char *why,
		       size_t why_size)
{
	(void)context;
	if (strcmp(address, "withcert@ext.example") == 0)
		return 1;
	if (strcmp(address, "down@ext.example") == 0) {
		snprintf(why, why_size, "ldap server not answering");
		return -1;
	}
	if (strcmp(address, "evil@ext.example") == 0) {
		/* a reason quoting a certificate subject with a newline */
		snprintf(why, why_size, "its certificate (CN=x\nOK) expired");
		return 0;
	}
	snprintf(why, why_size, "no certificate for this address");
	return 0;
}

static struct sg_policy *make_policy(const char *action)
{
	char path[] = "/tmp/sg-pd-XXXXXX";
	int fd = mkstemp(path);
	FILE *fp = fdopen(fd, "w");
	struct sg_config *conf;
	struct sg_policy *pol;
	struct sg_error err;

	fputs("ext.example encrypt\nopen.example none\nwatch.example encrypt monitor\n", fp);
	fclose(fp);
	ck_assert(sg_config_new(&conf) == 0);
	ck_assert(sg_config_set(conf, "internal_domains", "example.org", &err) == 0);
	ck_assert(sg_config_set(conf, "encryption_policy_maps", path, &err) == 0);
	ck_assert(sg_config_set(conf, "policy_action", action, &err) == 0);
	ck_assert(sg_policy_new(conf, &pol, &err) == 0);
	sg_config_free(&conf);
	unlink(path);
	return pol;
}

static void decide(struct sg_policy *pol, const char *state, const char *sender,
		   const char *rcpt, struct pd_reply *r)
{
	char in[1024];
	size_t consumed;
	const char *error;

	snprintf(in, sizeof(in), "request=smtpd_access_policy\nprotocol_state=%s\n"
		 "sender=%s\nrecipient=%s\n\n", state, sender, rcpt);
	ck_assert_int_eq(pp_parse(in, strlen(in), &req, &consumed, &error), PP_COMPLETE);
	pd_decide(pol, &req, fake_lookup, NULL, r);
}

START_TEST(test_decide)
{
	struct sg_policy *pol = make_policy("reject");
	struct pd_reply r;

	decide(pol, "RCPT", "a@example.org", "b@example.org", &r);
	ck_assert_str_eq(r.action, "DUNNO");
	decide(pol, "RCPT", "a@example.org", "x@open.example", &r);
	ck_assert_str_eq(r.action, "DUNNO");
	decide(pol, "RCPT", "a@example.org", "withcert@ext.example", &r);
	ck_assert_str_eq(r.action, "DUNNO");
	ck_assert(r.enforced);
	decide(pol, "RCPT", "a@example.org", "nocert@ext.example", &r);
#define WANT "550 5.7.1 mail to this recipient must be S/MIME encrypted, but "
	ck_assert_msg(strncmp(r.action, WANT, strlen(WANT)) == 0, "%s", r.action);
	ck_assert(strstr(r.log, "nocert@ext.example") != NULL);
	decide(pol, "RCPT", "a@example.org", "down@ext.example", &r);
#undef WANT
#define WANT "DEFER_IF_PERMIT 4.7.1 "
	ck_assert_msg(strncmp(r.action, WANT, strlen(WANT)) == 0, "%s", r.action);
	/* the null sender is not exempt: any client can write MAIL FROM:<> */
	decide(pol, "RCPT", "", "nocert@ext.example", &r);
	ck_assert_msg(strncmp(r.action, "550 5.7.1 ", 10) == 0, "%s", r.action);
	/* spellings Postfix routes to ext.example (issue 10, item 1) */
	decide(pol, "RCPT", "a@example.org", "nocert@EXT.example.", &r);
	ck_assert_msg(strncmp(r.action, "550 5.7.1 ", 10) == 0, "%s", r.action);
	decide(pol, "RCPT", "a@example.org", "nocert%ext.example@example.org", &r);
	ck_assert_msg(strncmp(r.action, "550 5.7.1 ", 10) == 0, "%s", r.action);
	decide(pol, "RCPT", "a@example.org", "ext.example!nocert@example.org", &r);
	ck_assert_msg(strncmp(r.action, "550 5.7.1 ", 10) == 0, "%s", r.action);
	/* Postfix sends a quoted local part unquoted */
	decide(pol, "RCPT", "a@example.org", "nocert@ext.example@example.org", &r);
	ck_assert_msg(strncmp(r.action, "550 5.7.1 ", 10) == 0, "%s", r.action);
	/* the certificate is looked up for the routed address */
	decide(pol, "RCPT", "a@example.org", "withcert%ext.example@example.org", &r);
	ck_assert_str_eq(r.action, "DUNNO");
	ck_assert(r.enforced);
	/* what cannot be routed safely is refused, never truncated */
	decide(pol, "RCPT", "a@example.org", "nocert@[192.0.2.1]", &r);
	ck_assert_msg(strncmp(r.action, "553 5.1.3 ", 10) == 0, "%s", r.action);
	decide(pol, "RCPT", "a@example.org", "nocert", &r);
	ck_assert_msg(strncmp(r.action, "553 5.1.3 ", 10) == 0, "%s", r.action);
	decide(pol, "RCPT", "a@[192.0.2.1]", "x@ext.example", &r);
	ck_assert_msg(strncmp(r.action, "553 5.1.7 ", 10) == 0, "%s", r.action);
	{
		char long_rcpt[400];

		snprintf(long_rcpt, sizeof(long_rcpt), "nico+%0300d@ext.example", 0);
		decide(pol, "RCPT", "a@example.org", long_rcpt, &r);
		ck_assert_msg(strncmp(r.action, "501 5.5.4 ", 10) == 0, "%s", r.action);
		ck_assert(strchr(r.log, '\n') == NULL);
	}
	decide(pol, "DATA", "a@example.org", "nocert@ext.example", &r);
	ck_assert_str_eq(r.action, "DUNNO");	/* only RCPT */
	decide(pol, "RCPT", "a@example.org", "x@watch.example", &r);
	ck_assert_str_eq(r.action, "DUNNO");	/* monitor */
	ck_assert(strstr(r.log, "would reject") != NULL);
	/* found by fuzz-policy: a reason with a control character must not
	   split the reply into two protocol lines */
	decide(pol, "RCPT", "a@example.org", "evil@ext.example", &r);
	ck_assert_msg(strchr(r.action, '\n') == NULL, "%s", r.action);
	ck_assert_msg(strstr(r.action, "(CN=x?OK) expired") != NULL, "%s", r.action);
	ck_assert(strchr(r.log, '\n') == NULL);
	sg_policy_free(&pol);
	pol = make_policy("defer");
	decide(pol, "RCPT", "a@example.org", "nocert@ext.example", &r);
	ck_assert_msg(strncmp(r.action, "450 4.7.1 ", 10) == 0, "%s", r.action);
	sg_policy_free(&pol);
	pol = make_policy("hold");
	decide(pol, "RCPT", "a@example.org", "nocert@ext.example", &r);
	ck_assert_msg(strncmp(r.action, "HOLD ", 5) == 0, "%s", r.action);
	sg_policy_free(&pol);
}
END_TEST

Suite *make_policy_proto_suite(void)
{
	Suite *s = suite_create("policy-proto");
	TCase *tc = tcase_create("protocol");

	tcase_add_test(tc, test_parse_complete);
	tcase_add_test(tc, test_parse_incremental);
	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_parse_size_edge);
	tcase_add_test(tc, test_printable);
	tcase_add_test(tc, test_decide);
	suite_add_tcase(s, tc);
	return s;
}
