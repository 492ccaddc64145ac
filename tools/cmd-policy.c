/* cmd-policy.c - smimectl policy test
 *
 * What the outbound policy (internal_domains, encryption_policy_maps,
 * policy_action, exemptions, certificate_maps) says about mail from a
 * sender to recipients, the way smime-policyd decides at RCPT time and,
 * with --message, the way smime-milter decides at end of data.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smimeguard-admin.h"
#include "sg-settings.h"
#include "smimectl.h"

void usage_policy(FILE *fp)
{
	fprintf(fp,
"Usage: smimectl policy test [OPTIONS] --sender ADDR --recipient ADDR...\n"
"\n"
"Show what the outbound S/MIME policy requires of mail from the sender to\n"
"each recipient and why (which rule matched), whether a usable certificate\n"
"is known (what smime-policyd answers at RCPT time), and with --message,\n"
"whether that message satisfies the rule (what smime-milter decides).\n"
"\n"
"Options:\n"
"  -c, --config FILE      smimeguard.conf (default " SG_CONFIG_FILE ")\n"
"      --sender ADDR      envelope sender (\"\" for the null sender)\n"
"      --recipient ADDR   envelope recipient (repeatable)\n"
"      --message FILE     the message to check (\"-\": standard input)\n"
"      --transport NAME   the Postfix transport the recipients are routed to\n"
"                         ({rcpt_mailer}: one of internal_transports makes\n"
"                         them internal); default: judge by the address\n"
"      --client ADDR      the SMTP client's IP address (for\n"
"                         policy_exemption_clients)\n"
"      --auto-submitted VALUE\n"
"                         the message's Auto-Submitted value (without\n"
"                         --message; with it, the message's own field counts)\n"
"      --at TIME          evaluate certificates at TIME\n"
"  -h, --help             show this help\n"
"\n"
"Addresses are routed as Postfix routes them (\"%%\", \"!\", a quoted \"@\",\n"
"trailing dots, case); one that cannot be routed safely is refused.\n"
"\n"
"Exit status: 0 the mail would be accepted for every recipient; 1 some\n"
"recipient would be refused (reject, defer or hold; monitor counts as\n"
"accepted); 2 usage, configuration or I/O error.\n");
}

/* auto_submitted_of - the value of the message's only Auto-Submitted
   field (unfolded, into *buf_r, which the caller frees), or NULL when it
   has none or more than one (as smime-milter sees it) */
static const char *auto_submitted_of(const unsigned char *msg, size_t len,
				     char **buf_r)
{
	static const char name[] = "auto-submitted:";
	const unsigned char *p = msg, *end = msg + len, *eol, *v = NULL, *vend = NULL;
	unsigned int n = 0;
	size_t i, o;

	while (p < end && *p != '\r' && *p != '\n') {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		/* the field and its continuation lines */
		while (eol + 1 < end && (eol[1] == ' ' || eol[1] == '\t')) {
			const unsigned char *nx = memchr(eol + 1, '\n', (size_t)(end - eol - 1));

			eol = nx != NULL ? nx : end;
		}
		if ((size_t)(eol - p) >= sizeof(name) - 1 &&
		    strncasecmp((const char *)p, name, sizeof(name) - 1) == 0 &&
		    n++ == 0) {
			v = p + sizeof(name) - 1;
			vend = eol;
		}
		p = eol < end ? eol + 1 : end;
	}
	if (n != 1)
		return NULL;
	if ((*buf_r = malloc((size_t)(vend - v) + 1)) == NULL)
		return NULL;
	for (i = 0, o = 0; v + i < vend; i++) {
		if (v[i] != '\r' && v[i] != '\n')
			(*buf_r)[o++] = (char)v[i];
	}
	(*buf_r)[o] = '\0';
	return *buf_r;
}

int cmd_policy(int argc, char **argv)
{
	enum { O_SENDER = 256, O_RCPT, O_MESSAGE, O_AT, O_TRANSPORT, O_CLIENT,
	       O_AUTO };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "sender", required_argument, NULL, O_SENDER },
		{ "recipient", required_argument, NULL, O_RCPT },
		{ "message", required_argument, NULL, O_MESSAGE },
		{ "at", required_argument, NULL, O_AT },
		{ "transport", required_argument, NULL, O_TRANSPORT },
		{ "client", required_argument, NULL, O_CLIENT },
		{ "auto-submitted", required_argument, NULL, O_AUTO },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *config = SG_CONFIG_FILE, *sender = NULL;
	const char *message = NULL, **rcpts;
	const char *transport = NULL, *client = NULL, *auto_submitted = NULL;
	struct sg_policy_envelope env;
	size_t n_rcpts = 0, i;
	struct sg_config *conf = NULL;
	struct sg_ctx *ctx = NULL;
	struct sg_policy *pol = NULL;
	struct sg_result *res = NULL;
	struct sg_error err;
	char *auto_buf = NULL;
	time_t at = 0;
	int c, ret = EXIT_SUCCESS;

	if (argc < 2 || strcmp(argv[1], "test") != 0) {
		usage_policy(argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
					   strcmp(argv[1], "-h") == 0) ? stdout : stderr);
		return argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
				     strcmp(argv[1], "-h") == 0) ? EXIT_SUCCESS : EXIT_USAGE;
	}
	argc--;
	argv++;
	if ((rcpts = calloc((size_t)argc + 1, sizeof(*rcpts))) == NULL)
		return EXIT_USAGE;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case O_SENDER:
			sender = optarg;
			break;
		case O_RCPT:
			rcpts[n_rcpts++] = optarg;
			break;
		case O_MESSAGE:
			message = optarg;
			break;
		case O_TRANSPORT:
			transport = optarg;
			break;
		case O_CLIENT:
			client = optarg;
			break;
		case O_AUTO:
			auto_submitted = optarg;
			break;
		case O_AT:
			if (sg_parse_time(optarg, &at) < 0) {
				fprintf(stderr, "%s: --at: '%s' is not a time\n",
					progname, optarg);
				ret = EXIT_USAGE;
				goto out;
			}
			break;
		case 'h':
			usage_policy(stdout);
			goto out;
		default:
			fprintf(stderr, "Try 'smimectl policy --help'.\n");
			ret = EXIT_USAGE;
			goto out;
		}
	}
	if (sender == NULL || n_rcpts == 0 || optind != argc) {
		fprintf(stderr, "%s: policy test needs --sender and at least one "
			"--recipient\n", progname);
		ret = EXIT_USAGE;
		goto out;
	}
	if (sg_config_new(&conf) < 0 || sg_settings_register_all(conf, &err) < 0 ||
	    sg_config_read(conf, config, &err) < 0 ||
	    sg_ctx_new(conf, &ctx, &err) < 0 || sg_policy_new(conf, &pol, &err) < 0) {
		fprintf(stderr, "%s: %s\n", progname, conf == NULL ? "out of memory" : err.msg);
		ret = EXIT_USAGE;
		goto out;
	}
	for (i = 0; sg_config_next_unknown(conf, &i, &err);)
		fprintf(stderr, "%s: warning: %s\n", progname, err.msg);
	if (message != NULL) {
		size_t len;
		unsigned char *data = read_all(message, &len);

		if (data == NULL) {
			fprintf(stderr, "%s: cannot read %s: %s\n", progname, message,
				strerror(errno));
			ret = EXIT_USAGE;
			goto out;
		}
		if (sg_verify_message(ctx, data, len, at, &res, &err) < 0) {
			free(data);
			fprintf(stderr, "%s: %s\n", progname, err.msg);
			ret = EXIT_USAGE;
			goto out;
		}
		if (auto_submitted == NULL)
			auto_submitted = auto_submitted_of(data, len, &auto_buf);
		free(data);
		printf("message: %s%s%s\n", sg_status_name(sg_result_status(res)),
		       sg_result_encryption(res) != NULL ? ", encrypted with " : "",
		       sg_result_encryption(res) != NULL ?
		       sg_result_encryption(res)->algorithm : "");
	}
	memset(&env, 0, sizeof(env));
	env.sender = sender;
	env.transport = transport;
	env.client_address = client;
	env.auto_submitted = auto_submitted;
	for (i = 0; i < n_rcpts; i++) {
		struct sg_policy_decision d;
		const char *code, *enhanced;
		char why[400] = "";
		int r;

		env.recipient = rcpts[i];
		sg_policy_decide_envelope(pol, &env, &d);
		printf("<");
		ctl_print_clean(stdout, rcpts[i]);
		printf(">: ");
		if (sg_policy_refusal(&d, &code, &enhanced)) {
			printf("%s: %s %s ", d.temporary ? "deferred" : "refused",
			       code, enhanced);
			ctl_print_clean(stdout, d.why);
			printf("\n");
			ret = EXIT_NOTVERIFIED;
			continue;
		}
		if (strcmp(d.recipient, rcpts[i]) != 0 && d.recipient[0] != '\0') {
			printf("routed to <");
			ctl_print_clean(stdout, d.recipient);
			printf(">: ");
		}
		if (d.internal || d.exempt || d.requirements == 0) {
			printf("no requirement (");
			ctl_print_clean(stdout, d.why);
			printf(")\n");
			continue;
		}
		printf("requires %s, action %s (",
		       sg_policy_requirement_name(d.requirements),
		       sg_action_name(d.action));
		ctl_print_clean(stdout, d.why);
		printf(")\n");
		if (message == NULL) {
			if ((d.requirements & SG_REQ_ENCRYPT) == 0)
				continue;
			r = sg_policy_recipient_usable(ctx, d.recipient, at, why,
						       sizeof(why), &err);
			if (r < 0)
				snprintf(why, sizeof(why), "certificate lookup "
					 "failed: %s: defer", err.msg);
			printf("  at RCPT: %s\n", r > 0 ? "a usable certificate is known: accept" :
			       why);
		} else {
			r = sg_policy_check_message(pol, ctx, &env, res, at, &d, why,
						    sizeof(why), &err);
			if (r < 0)
				snprintf(why, sizeof(why), "%s", err.msg);
			printf("  message: %s%s%s%s\n", r > 0 ? "satisfies the rule" :
			       r < 0 ? "certificate lookup failed: " : "violates the rule (",
			       r == 0 && d.violation != NULL ? d.violation : "",
			       r == 0 ? "): " : "", r > 0 ? "" : why);
		}
		if (r == 0 && d.action != SG_ACTION_MONITOR)
			ret = EXIT_NOTVERIFIED;
		else if (r < 0 && ret == EXIT_SUCCESS)
			ret = EXIT_NOTVERIFIED;
	}
out:
	sg_result_free(&res);
	sg_policy_free(&pol);
	sg_ctx_free(&ctx);
	sg_config_free(&conf);
	free(rcpts);
	free(auto_buf);
	return ret;
}
