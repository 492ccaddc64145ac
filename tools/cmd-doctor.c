/* cmd-doctor.c - smimectl doctor: what is wrong with the trust store, the
 * CRLs and the certificates of addresses, each finding with its fix
 *
 * Without addresses only the configuration is checked (trust anchors,
 * intermediates, CRLs, map files; nothing is contacted).  With
 * addresses, a context is built and each address is looked up as the
 * policy service does (sg_cert_check): LDAP maps are queried.
 *
 * Exit status: 0 no findings; 1 findings; 2 usage or configuration
 * error, or an address could not be checked (a map did not answer).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smimeguard-admin.h"
#include "smimectl.h"

#define EXIT_FINDINGS 1

/* what the report callback collects */
struct doctor {
	bool json, quiet;
	size_t findings, errors;
	char *out;			/* JSON: the findings array so far */
	size_t used, size;
	char *errs;			/* JSON: the errors array so far */
	size_t errs_used, errs_size;
	bool nomem;
};

void usage_doctor(FILE *fp)
{
	fprintf(fp,
"Usage: smimectl doctor [OPTIONS] [ADDRESS...]\n"
"\n"
"Find what keeps S/MIME from working and say how to fix it:\n"
"  - trust_anchors, intermediates and crl_dirs paths that cannot be read or\n"
"    hold nothing; CA certificates that expired; intermediates that do not\n"
"    chain to a trust anchor (naming the missing CA);\n"
"  - CRLs that expired or are not yet valid, CRLs of unknown CAs, and, with\n"
"    revocation_check = hard, CAs without a CRL;\n"
"  - certificate map files that cannot be read; settings no program knows\n"
"    (a misspelling: \"trsut_anchors\", with \"did you mean\");\n"
"  - the Postfix settings the outbound policy relies on (read with\n"
"    postconf): routing tricks left on (allow_percent_hack, swap_bangpath,\n"
"    resolve_dequoted_address), no milter for smtpd or for sendmail(1)\n"
"    (non_smtpd_milters), milter_default_action = accept, no after-queue\n"
"    check for what aliases expand;\n"
"  - for each ADDRESS: no certificate, no usable one, certificates whose\n"
"    chain lacks a CA in the trust store (naming it) or whose CA has no\n"
"    current CRL, and LDAP entries whose userSMIMECertificate and\n"
"    userCertificate hold different certificates (different clients then\n"
"    encrypt to different certificates).\n"
"Without ADDRESS nothing is contacted; with one, LDAP maps are queried.\n"
"\n"
"Options:\n"
"  -c, --config FILE        read settings from FILE (default " SG_CONFIG_FILE ",\n"
"                           when it exists; /dev/null: none)\n"
"      --map TYPE:NAME      certificate map (repeatable; replaces\n"
"                           certificate_maps)\n"
"      --trust PATH         trust anchors (repeatable; replaces trust_anchors)\n"
"      --intermediates PATH untrusted intermediate CAs (repeatable)\n"
"      --crl PATH           CRL file or directory (repeatable)\n"
"      --revocation MODE    none | soft | hard\n"
"      --postfix-config DIR check the Postfix configuration in DIR\n"
"                           (postconf -c DIR; default: Postfix's own, when\n"
"                           postconf is installed)\n"
"      --no-postfix         do not check Postfix's settings\n"
"      --at TIME            check at TIME: 2026-11-28T10:00:00Z or\n"
"                           @unix-seconds (default: now)\n"
"      --json               one JSON object: {\"clean\",\"findings\":[{\"code\",\n"
"                           \"address\",\"about\",\"text\",\"fix\"}],\"errors\":\n"
"                           [{\"address\",\"error\"}]}\n"
"  -q, --quiet              print nothing; use the exit status\n"
"  -h, --help               show this help\n"
"\n"
"Exit status: 0 no findings; 1 findings; 2 usage or configuration error,\n"
"or an ADDRESS could not be checked (a map did not answer).\n"
"\n"
"Example:\n"
"  smimectl doctor -c /etc/smimeguard/smimeguard.conf partner@example.com\n");
}

/* put - append bytes to a growing string */
static void put(struct doctor *dr, char **buf, size_t *used, size_t *size,
		const char *s, size_t len)
{
	char *nb;

	if (dr->nomem)
		return;
	if (*used + len + 1 > *size) {
		size_t ns = *size == 0 ? 1024 : *size;

		while (ns < *used + len + 1)
			ns *= 2;
		if ((nb = realloc(*buf, ns)) == NULL) {
			dr->nomem = true;
			return;
		}
		*buf = nb;
		*size = ns;
	}
	memcpy(*buf + *used, s, len);
	*used += len;
	(*buf)[*used] = '\0';
}

/* utf8_len - length of the valid UTF-8 sequence at p, or 0 */
static size_t utf8_len(const unsigned char *p)
{
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	}
	return n;
}

/* put_json - a JSON string (invalid UTF-8 becomes U+FFFD) */
static void put_json(struct doctor *dr, char **buf, size_t *used,
		     size_t *size, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char esc[8];

	put(dr, buf, used, size, "\"", 1);
	while (*p != '\0') {
		size_t n = utf8_len(p);

		if (n == 0) {
			put(dr, buf, used, size, "\\ufffd", 6);
			p++;
		} else if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p++;
			put(dr, buf, used, size, esc, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p++);
			put(dr, buf, used, size, esc, 6);
		} else {
			put(dr, buf, used, size, (const char *)p, n);
			p += n;
		}
	}
	put(dr, buf, used, size, "\"", 1);
}

/* report - one finding */
static void report(const struct sg_finding *f, void *context)
{
	struct doctor *dr = context;
	const char *keys[] = { "code", "address", "about", "text", "fix" };
	const char *vals[] = { f->code, f->address, f->about, f->text, f->fix };
	size_t i;

	dr->findings++;
	if (dr->quiet)
		return;
	if (!dr->json) {
		printf("[%s] ", f->code);
		ctl_print_clean(stdout, f->text);
		printf("\n    fix: ");
		ctl_print_clean(stdout, f->fix);
		printf("\n");
		return;
	}
	put(dr, &dr->out, &dr->used, &dr->size, dr->used > 0 ? ",{" : "{", dr->used > 0 ? 2 : 1);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		put(dr, &dr->out, &dr->used, &dr->size, i > 0 ? ",\"" : "\"", i > 0 ? 2 : 1);
		put(dr, &dr->out, &dr->used, &dr->size, keys[i], strlen(keys[i]));
		put(dr, &dr->out, &dr->used, &dr->size, "\":", 2);
		put_json(dr, &dr->out, &dr->used, &dr->size, vals[i]);
	}
	put(dr, &dr->out, &dr->used, &dr->size, "}", 1);
}

/* report_unknown - settings no program reads (misspellings) */
static void report_unknown(const struct sg_config *conf, struct doctor *dr)
{
	struct sg_finding f = {
		.code = "unknown-setting", .address = "", .about = "",
		.fix = "correct the name (\"smimectl config -d\" and "
		       "smimeguard.conf(5) list every setting) or remove the line",
	};
	struct sg_error warn;
	size_t iter = 0;

	while (sg_config_next_unknown(conf, &iter, &warn)) {
		f.text = warn.msg;
		report(&f, dr);
	}
}

/* error - an address (or the configuration) that could not be checked */
static void error(struct doctor *dr, const char *address, const char *msg)
{
	dr->errors++;
	fprintf(stderr, "%s: doctor: %s%s%s\n", progname, address,
		address[0] != '\0' ? ": " : "", msg);
	if (!dr->json)
		return;
	put(dr, &dr->errs, &dr->errs_used, &dr->errs_size,
	    dr->errs_used > 0 ? ",{\"address\":" : "{\"address\":",
	    dr->errs_used > 0 ? 13 : 12);
	put_json(dr, &dr->errs, &dr->errs_used, &dr->errs_size, address);
	put(dr, &dr->errs, &dr->errs_used, &dr->errs_size, ",\"error\":", 9);
	put_json(dr, &dr->errs, &dr->errs_used, &dr->errs_size, msg);
	put(dr, &dr->errs, &dr->errs_used, &dr->errs_size, "}", 1);
}

/* cmd_doctor - smimectl doctor */
int cmd_doctor(int argc, char **argv)
{
	enum { O_JSON = 0x200, O_POSTFIX_CONFIG, O_NO_POSTFIX };
	static const struct option opts[] = {
		CTL_STORE_LONGOPTS,
		{ "json", no_argument, NULL, O_JSON },
		{ "postfix-config", required_argument, NULL, O_POSTFIX_CONFIG },
		{ "no-postfix", no_argument, NULL, O_NO_POSTFIX },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct doctor dr;
	struct ctl_store st;
	struct sg_config *conf = NULL;
	struct sg_ctx *ctx = NULL;
	struct sg_error err;
	const char *postfix_dir = NULL;
	bool no_postfix = false;
	char perr[512];
	time_t at;
	int c, i, r, ret = EXIT_SUCCESS;

	memset(&dr, 0, sizeof(dr));
	memset(&st, 0, sizeof(st));
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:qh", opts, NULL)) != -1) {
		if ((r = ctl_store_option(&st, c, optarg)) < 0) {
			ret = EXIT_USAGE;
			goto out;
		}
		if (r == 0)
			continue;
		switch (c) {
		case O_JSON:
			dr.json = true;
			break;
		case O_POSTFIX_CONFIG:
			postfix_dir = optarg;
			break;
		case O_NO_POSTFIX:
			no_postfix = true;
			break;
		case 'q':
			dr.quiet = true;
			break;
		case 'h':
			usage_doctor(stdout);
			goto out;
		default:
			fprintf(stderr, "Try 'smimectl doctor --help'.\n");
			ret = EXIT_USAGE;
			goto out;
		}
	}
	at = st.at;
	if (dr.quiet)
		dr.json = false;
	st.quiet_unknown = true;
	if (ctl_store_config(&st, &conf) < 0) {
		ret = EXIT_USAGE;
		goto out;
	}
	report_unknown(conf, &dr);
	if (sg_config_check(conf, at, report, &dr, &err) < 0)
		goto conf_error;
	if (!no_postfix) {
		r = ctl_postfix_check(postfix_dir, report, &dr, perr, sizeof(perr));
		if (r == -1)
			error(&dr, "", perr);
		else if (r == -2 && !dr.quiet)
			fprintf(stderr, "%s: doctor: Postfix's settings not checked: %s\n",
				progname, perr);
	}
	if (optind < argc) {
		if (sg_ctx_new(conf, &ctx, &err) < 0) {
			error(&dr, "", err.msg);
		} else {
			for (i = optind; i < argc; i++) {
				if (sg_cert_check(ctx, argv[i], at, report, &dr,
						  &err) < 0)
					error(&dr, argv[i], err.msg);
			}
		}
	}
	if (dr.nomem)
		goto nomem;
	if (dr.json) {
		printf("{\"clean\":%s,\"findings\":[%s],\"errors\":[%s]}\n",
		       dr.findings == 0 && dr.errors == 0 ? "true" : "false",
		       dr.out != NULL ? dr.out : "",
		       dr.errs != NULL ? dr.errs : "");
	} else if (!dr.quiet) {
		if (dr.findings == 0 && dr.errors == 0)
			printf("smimectl doctor: no problems found\n");
		else
			printf("smimectl doctor: %zu finding%s%s\n", dr.findings,
			       dr.findings == 1 ? "" : "s",
			       dr.errors > 0 ? ", and some checks could not be "
			       "made (see the errors above)" : "");
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "%s: write error: %s\n", progname,
			strerror(errno));
		ret = EXIT_USAGE;
	} else {
		ret = dr.errors > 0 ? EXIT_USAGE :
		      dr.findings > 0 ? EXIT_FINDINGS : EXIT_SUCCESS;
	}
	goto out;
conf_error:
	fprintf(stderr, "%s: %s\n", progname, err.msg);
	ret = EXIT_USAGE;
	goto out;
nomem:
	fprintf(stderr, "%s: out of memory\n", progname);
	ret = EXIT_USAGE;
out:
	sg_ctx_free(&ctx);
	sg_config_free(&conf);
	free(dr.out);
	free(dr.errs);
	ctl_store_free(&st);
	return ret;
}
