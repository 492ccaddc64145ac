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

#include "smimeguard.h"
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
"      --at TIME          evaluate certificates at TIME\n"
"  -h, --help             show this help\n"
"\n"
"Exit status: 0 the mail would be accepted for every recipient; 1 some\n"
"recipient would be refused (reject, defer or hold; monitor counts as\n"
"accepted); 2 usage, configuration or I/O error.\n");
}

int cmd_policy(int argc, char **argv)
{
	enum { O_SENDER = 256, O_RCPT, O_MESSAGE, O_AT };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "sender", required_argument, NULL, O_SENDER },
		{ "recipient", required_argument, NULL, O_RCPT },
		{ "message", required_argument, NULL, O_MESSAGE },
		{ "at", required_argument, NULL, O_AT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *config = SG_CONFIG_FILE, *sender = NULL;
	const char *message = NULL, **rcpts;
	size_t n_rcpts = 0, i;
	struct sg_config *conf = NULL;
	struct sg_ctx *ctx = NULL;
	struct sg_policy *pol = NULL;
	struct sg_result *res = NULL;
	struct sg_error err;
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
	if (sg_config_new(&conf) < 0 || sg_config_read(conf, config, &err) < 0 ||
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
		free(data);
		printf("message: %s%s%s\n", sg_status_name(sg_result_status(res)),
		       sg_result_encryption(res) != NULL ? ", encrypted with " : "",
		       sg_result_encryption(res) != NULL ?
		       sg_result_encryption(res)->algorithm : "");
	}
	for (i = 0; i < n_rcpts; i++) {
		struct sg_policy_decision d;
		char why[400] = "";
		int r;

		sg_policy_decide(pol, sender, rcpts[i], &d);
		printf("<%s>: ", rcpts[i]);
		if (d.internal || d.exempt || d.requirements == 0) {
			printf("no requirement (%s)\n", d.why);
			continue;
		}
		printf("requires %s, action %s (%s)\n",
		       sg_policy_requirement_name(d.requirements),
		       sg_action_name(d.action), d.why);
		if (message == NULL) {
			if ((d.requirements & SG_REQ_ENCRYPT) == 0)
				continue;
			r = sg_policy_recipient_usable(ctx, rcpts[i], at, why, sizeof(why));
			printf("  at RCPT: %s\n", r > 0 ? "a usable certificate is known: accept" :
			       r < 0 ? "certificate lookup failed: defer" : why);
		} else {
			r = sg_policy_check_message(pol, ctx, sender, rcpts[i], res, at,
						    &d, why, sizeof(why));
			printf("  message: %s%s\n", r > 0 ? "satisfies the rule" :
			       r < 0 ? "certificate lookup failed: " : "violates the rule: ",
			       r > 0 ? "" : why);
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
	return ret;
}
