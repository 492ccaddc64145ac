/* cmd-ca.c - smimectl ca fetch: complete chains through AIA
 *
 * A signature whose chain misses an intermediate CA reads "untrusted".
 * With intermediate_cache set, "smimectl ca fetch" fetches the missing
 * issuers from the caIssuers URLs of the certificates' Authority
 * Information Access extension (icache.c) into the cache, where the
 * Dovecot plugin and the daemons use them for path building (never as
 * trust anchors).  Without --for it works through the certificates the
 * plugin queued (aia_fetch = cache-only), for cron; --for names a
 * message (the signers' chains) or an address (the chains of its
 * certificates in certificate_maps).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "smimeguard-admin.h"
#include "smimectl.h"

enum { O_FOR = 0x200, O_TIMEOUT, O_JSON };

struct ca_run {
	bool json, quiet;
	const char *source;
	size_t stored, present, queued, failed, rejected;
};

void usage_ca(FILE *fp)
{
	fprintf(fp,
"Usage: smimectl ca fetch [OPTIONS]\n"
"       smimectl ca fetch [OPTIONS] --for MESSAGE|ADDRESS\n"
"\n"
"Complete certificate chains whose intermediate CA is missing: fetch the\n"
"issuer from the certificate's Authority Information Access caIssuers URL\n"
"(http:// only; the crl_fetch_proxy, crl_fetch_redirects and\n"
"crl_fetch_allow_local rules), check that it is a CA whose key signed the\n"
"certificate, and keep it in intermediate_cache, where the Dovecot plugin\n"
"and the daemons use it to build paths.  Cached CAs are never trust\n"
"anchors: a chain must still end at trust_anchors.  Afterwards\n"
"'doveadm smime reverify' turns 'untrusted' into 'verified'.\n"
"\n"
"Without --for: every certificate queued while mail was verified\n"
"(aia_fetch = cache-only), and expired CAs are removed from the cache.  For\n"
"cron, e.g. hourly: smimectl ca fetch -q\n"
"\n"
"  -c, --config FILE        smimeguard.conf (default %s)\n"
"      --trust PATH         trust anchor file or directory (repeatable)\n"
"      --intermediates PATH intermediate CA certificates (repeatable)\n"
"      --map TYPE:NAME      certificate map for --for ADDRESS (repeatable)\n"
"      --for MESSAGE|ADDRESS  the signers of a message file, or the\n"
"                           certificates of an address\n"
"      --timeout SECONDS    per download (default crl_fetch_timeout, 30)\n"
"      --json               one JSON object per line\n"
"  -q, --quiet              print problems only\n"
"  -h, --help               show this help\n"
"\n"
"Outcomes: stored (fetched and cached), present (the chain reaches the\n"
"trust store), no-url (the issuer is missing and no caIssuers URL names\n"
"it), failed (the download failed), rejected (the answer held no CA that\n"
"issued the certificate, or the chain ends at a root that is not a trust\n"
"anchor), capped (intermediate_cache_max reached).\n"
"Exit status: 0 every chain reaches the trust store; 1 some chain is still\n"
"incomplete; 2 usage or configuration error.\n", SG_CONFIG_FILE);
}

/* print_report - one step, sanitised (names and URLs come from mail) */
static void print_report(void *context, const struct sg_aia_report *r)
{
	struct ca_run *run = context;
	bool problem = r->outcome != SG_AIA_STORED &&
		       r->outcome != SG_AIA_PRESENT;

	switch (r->outcome) {
	case SG_AIA_STORED:
		run->stored++;
		break;
	case SG_AIA_PRESENT:
		run->present++;
		break;
	case SG_AIA_QUEUED:
		run->queued++;
		break;
	case SG_AIA_REJECTED:
	case SG_AIA_NO_URL:
		run->rejected++;
		break;
	default:
		run->failed++;
		break;
	}
	if (run->json) {
		printf("{\"source\":");
		ctl_json_str(stdout, run->source);
		printf(",\"outcome\":\"%s\",\"subject\":",
		       sg_aia_outcome_name(r->outcome));
		ctl_json_str(stdout, r->subject);
		printf(",\"issuer\":");
		ctl_json_str(stdout, r->issuer);
		printf(",\"url\":");
		if (r->url[0] != '\0')
			ctl_json_str(stdout, r->url);
		else
			printf("null");
		printf(",\"fetched\":");
		if (r->fetched[0] != '\0' && r->outcome == SG_AIA_STORED)
			ctl_json_str(stdout, r->fetched);
		else
			printf("null");
		printf(",\"path\":");
		if (r->path[0] != '\0')
			ctl_json_str(stdout, r->path);
		else
			printf("null");
		printf(",\"detail\":");
		ctl_json_str(stdout, r->why);
		printf("}\n");
		return;
	}
	if (run->quiet && !problem)
		return;
	printf("%s: ", sg_aia_outcome_name(r->outcome));
	ctl_print_clean(stdout, r->subject);
	if (r->outcome == SG_AIA_STORED) {
		printf("\n  issuer ");
		ctl_print_clean(stdout, r->fetched);
		printf("\n  from ");
		ctl_print_clean(stdout, r->url);
		printf("\n  into %s", r->path);
	} else {
		if (r->outcome != SG_AIA_PRESENT) {
			printf("\n  missing issuer ");
			ctl_print_clean(stdout, r->issuer);
		}
		if (r->url[0] != '\0') {
			printf("\n  from ");
			ctl_print_clean(stdout, r->url);
		}
		if (r->why[0] != '\0') {
			printf("\n  ");
			ctl_print_clean(stdout, r->why);
		}
	}
	printf("\n");
}

/* for_message - the chains of the signers of a message file */
static int for_message(struct sg_ctx *ctx, struct ca_run *run,
		       const char *path, unsigned int timeout, time_t at)
{
	struct sg_result *res = NULL;
	struct sg_error err;
	unsigned char *data;
	size_t len, i, n;
	int ret = 0;

	if ((data = read_all(path, &len)) == NULL) {
		fprintf(stderr, "%s: %s: %s\n", progname, path, strerror(errno));
		return -1;
	}
	if (sg_verify_message(ctx, data, len, at, &res, &err) < 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, path, err.msg);
		free(data);
		return -1;
	}
	n = sg_result_signer_count(res);
	if (n == 0)
		fprintf(stderr, "%s: %s: no signer certificate (status %s)\n",
			progname, path, sg_status_name(sg_result_status(res)));
	for (i = 0; i < n && ret == 0; i++) {
		const unsigned char *der;
		size_t der_len;

		if (sg_result_signer_der(res, i, &der, &der_len) < 0)
			continue;	/* the signer's certificate was absent */
		if (sg_ca_fetch(ctx, der, der_len, timeout, print_report, run,
				&err) < 0) {
			fprintf(stderr, "%s: %s\n", progname, err.msg);
			ret = -1;
		}
	}
	sg_result_free(&res);
	free(data);
	return n == 0 ? -1 : ret;
}

/* for_address - the chains of an address's certificates */
static int for_address(struct sg_ctx *ctx, struct ca_run *run,
		       const char *address, unsigned int timeout, time_t at)
{
	struct sg_cert_set *set = NULL;
	struct sg_error err;
	size_t i, n;
	int ret = 0;

	if (sg_cert_lookup(ctx, address, at, &set, &err) < 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, address, err.msg);
		return -1;
	}
	n = sg_cert_set_count(set);
	if (n == 0)
		fprintf(stderr, "%s: %s: no certificate in certificate_maps\n",
			progname, address);
	for (i = 0; i < n && ret == 0; i++) {
		const unsigned char *der;
		size_t der_len;

		sg_cert_set_der(set, i, &der, &der_len);
		if (sg_ca_fetch(ctx, der, der_len, timeout, print_report, run,
				&err) < 0) {
			fprintf(stderr, "%s: %s\n", progname, err.msg);
			ret = -1;
		}
	}
	sg_cert_set_free(&set);
	return n == 0 ? -1 : ret;
}

int cmd_ca(int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_STORE_LONGOPTS,
		{ "for", required_argument, NULL, O_FOR },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctl_store st;
	struct ca_run run;
	struct sg_config *conf = NULL;
	struct sg_ctx *ctx = NULL;
	struct sg_error err;
	const char *target = NULL, *timeout_s = NULL;
	unsigned long timeout = 0;
	struct stat sb;
	int c, r, ret = EXIT_USAGE;

	memset(&st, 0, sizeof(st));
	memset(&run, 0, sizeof(run));
	if (argc < 2 || strcmp(argv[1], "fetch") != 0) {
		if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
				  strcmp(argv[1], "--help") == 0)) {
			usage_ca(stdout);
			return EXIT_SUCCESS;
		}
		fprintf(stderr, "%s: ca: say fetch\n"
			"Try 'smimectl ca --help'.\n", progname);
		return EXIT_USAGE;
	}
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:qh", opts, NULL)) != -1) {
		if ((r = ctl_store_option(&st, c, optarg)) < 0)
			goto out;
		if (r == 0)
			continue;
		switch (c) {
		case O_FOR:
			target = optarg;
			break;
		case O_TIMEOUT:
			timeout_s = optarg;
			break;
		case O_JSON:
			run.json = true;
			break;
		case 'q':
			run.quiet = true;
			break;
		case 'h':
			usage_ca(stdout);
			ret = EXIT_SUCCESS;
			goto out;
		default:
			fprintf(stderr, "Try 'smimectl ca --help'.\n");
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: ca fetch: unexpected argument '%s' (name "
			"a message or an address with --for)\n", progname,
			argv[optind]);
		goto out;
	}
	if (timeout_s != NULL &&
	    (timeout_s[0] < '0' || timeout_s[0] > '9' ||
	     (timeout = strtoul(timeout_s, NULL, 10)) > 3600)) {
		fprintf(stderr, "%s: the timeout must be 0..3600 seconds\n",
			progname);
		goto out;
	}
	if (ctl_store_config(&st, &conf) < 0)
		goto out;
	if (sg_ctx_new(conf, &ctx, &err) < 0) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		goto out;
	}
	if (target == NULL) {
		run.source = "queue";
		r = sg_ca_fetch_pending(ctx, (unsigned int)timeout,
					print_report, &run, &err);
		if (r < 0)
			fprintf(stderr, "%s: %s\n", progname, err.msg);
	} else {
		run.source = target;
		/* an existing file is a message; else an address */
		if (stat(target, &sb) == 0 || strchr(target, '@') == NULL)
			r = for_message(ctx, &run, target, (unsigned int)timeout,
					st.at);
		else
			r = for_address(ctx, &run, target, (unsigned int)timeout,
					st.at);
	}
	if (!run.json && !run.quiet)
		printf("smimectl ca fetch: %zu stored, %zu complete, %zu failed, "
		       "%zu rejected\n", run.stored, run.present, run.failed,
		       run.rejected);
	if (fflush(stdout) != 0 || r < 0)
		ret = EXIT_USAGE;
	else if (run.failed > 0 || run.rejected > 0)
		ret = EXIT_NOTVERIFIED;
	else
		ret = EXIT_SUCCESS;
out:
	sg_ctx_free(&ctx);
	sg_config_free(&conf);
	ctl_store_free(&st);
	return ret;
}
