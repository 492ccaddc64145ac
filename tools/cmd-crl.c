/* cmd-crl.c - smimectl crl import | fetch: CRLs into the CRL directory
 *
 * import: the manual path for a CA whose distribution point this server
 * cannot reach (behind a firewall, offline CA): the administrator copies
 * the CRL over and imports it.  fetch: a refresher for cron, downloading
 * from the distribution points the trust store and the installed CRLs
 * name (and crl_fetch_urls).  Both check every CRL against the trust
 * store and never replace a CRL by an older one; a failed download or a
 * bad CRL leaves the CRL in effect untouched (sg_crl_install, crl.c).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smimeguard-admin.h"
#include "smimectl.h"

#define MAX_REPORTS 64

enum {
	O_CRL_DIR = 0x200, O_FORCE, O_DRY_RUN, O_TIMEOUT, O_PROXY, O_JSON
};

struct crl_run {
	struct sg_ctx *ctx;
	const char *dir;
	unsigned int flags;
	bool json, quiet;
	size_t installed, unchanged, kept, rejected, failed;
	/* fetch */
	char (*urls)[SG_CRL_URL_MAX];
	size_t n_urls, size_urls;
};

void usage_crl(FILE *fp)
{
	fprintf(fp,
"Usage: smimectl crl import [OPTIONS] FILE...\n"
"       smimectl crl fetch [OPTIONS] [URL...]\n"
"\n"
"Install CRLs into the CRL directory (the first directory of crl_dirs),\n"
"where the Dovecot plugin and the daemons pick them up without a restart.\n"
"Every CRL must be signed by a CA of the trust store (trust_anchors,\n"
"intermediates) and be current; a CRL is never replaced by an older one\n"
"(cRLNumber, else thisUpdate).  Files are replaced atomically.\n"
"\n"
"  import FILE...   CRLs copied over by hand (PEM, several per file, or\n"
"                   DER), e.g. when the CA's distribution point cannot be\n"
"                   reached from this server\n"
"  fetch [URL...]   download and install; without URL, from every HTTP\n"
"                   distribution point the trust store's certificates and\n"
"                   the installed CRLs name, and crl_fetch_urls.  A failed\n"
"                   download keeps the CRL in effect.  For cron, e.g.\n"
"                   hourly: smimectl crl fetch -q -c /etc/smimeguard/smimeguard.conf\n"
"\n"
"Options:\n"
"  -c, --config FILE        read settings from FILE (default " SG_CONFIG_FILE ",\n"
"                           when it exists; /dev/null: none)\n"
"      --trust PATH         trust anchors (repeatable; replaces trust_anchors)\n"
"      --intermediates PATH intermediate CAs (repeatable)\n"
"      --crl PATH           CRL file or directory in effect (repeatable;\n"
"                           replaces crl_dirs)\n"
"      --crl-dir DIR        write into DIR instead of crl_dirs' first directory\n"
"      --at TIME            judge validity at TIME (default: now)\n"
"      --force              import: install expired or not yet valid CRLs too\n"
"      --dry-run            check and report, write nothing\n"
"      --timeout SECONDS    fetch: per download (default crl_fetch_timeout, 30)\n"
"      --proxy URL          fetch: HTTP proxy, http://host:port (default\n"
"                           crl_fetch_proxy, else the http_proxy environment)\n"
"      --json               one JSON object per CRL or download: {\"source\",\n"
"                           \"outcome\",\"issuer\",\"this_update\",\"next_update\",\n"
"                           \"number\",\"delta\",\"revoked\",\"path\",\"detail\"}\n"
"  -q, --quiet              print only problems\n"
"  -h, --help               show this help\n"
"\n"
"Outcomes: installed, unchanged (already in effect), kept-newer (a newer CRL\n"
"is in effect), rejected (not signed by a trusted CA, expired, damaged),\n"
"failed (could not be read or downloaded).\n"
"Exit status: 0 every CRL installed or already in effect (fetch: also\n"
"kept-newer); 1 some CRL rejected, failed or (import) older than the one in\n"
"effect; 2 usage or configuration error, or the directory is not writable.\n");
}

static const char *outcome_name(enum sg_crl_outcome o)
{
	switch (o) {
	case SG_CRL_INSTALLED:
		return "installed";
	case SG_CRL_UNCHANGED:
		return "unchanged";
	case SG_CRL_KEPT_NEWER:
		return "kept-newer";
	case SG_CRL_REJECTED:
		return "rejected";
	}
	return "rejected";
}

/* print_report - one CRL's outcome (r NULL: a source that failed) */
static void print_report(struct crl_run *run, const char *source,
			 const struct sg_crl_report *r, const char *failure)
{
	const char *outcome = r != NULL ? outcome_name(r->outcome) : "failed";
	bool problem = r == NULL || r->outcome == SG_CRL_REJECTED ||
		       r->outcome == SG_CRL_KEPT_NEWER;

	if (run->json) {
		printf("{\"source\":");
		ctl_json_str(stdout, source);
		printf(",\"outcome\":\"%s\"", outcome);
		if (r != NULL) {
			printf(",\"issuer\":");
			ctl_json_str(stdout, r->issuer);
			printf(",\"this_update\":\"%s\",\"next_update\":",
			       r->this_update);
			if (r->next_update[0] != '\0')
				printf("\"%s\"", r->next_update);
			else
				printf("null");
			printf(",\"number\":");
			if (r->number[0] != '\0')
				printf("\"%s\"", r->number);
			else
				printf("null");
			printf(",\"delta\":%s,\"revoked\":%lu,\"path\":",
			       r->delta ? "true" : "false", r->revoked);
			if (r->path[0] != '\0')
				ctl_json_str(stdout, r->path);
			else
				printf("null");
		}
		printf(",\"detail\":");
		ctl_json_str(stdout, r != NULL ? r->detail : failure);
		printf("}\n");
		return;
	}
	if (run->quiet && !problem)
		return;
	printf("%s: ", outcome);
	ctl_print_clean(stdout, source);
	if (r != NULL) {
		printf(": %s", r->delta ? "delta CRL of " : "CRL of ");
		ctl_print_clean(stdout, r->issuer);
		printf(" (");
		if (r->number[0] != '\0')
			printf("number %s, ", r->number);
		printf("this update %s, next update %s, %lu revoked)",
		       r->this_update,
		       r->next_update[0] != '\0' ? r->next_update : "none",
		       r->revoked);
		if (r->outcome == SG_CRL_INSTALLED)
			printf(" -> %s", r->path);
		printf("\n    ");
		ctl_print_clean(stdout, r->detail);
	} else {
		printf(": ");
		ctl_print_clean(stdout, failure);
	}
	printf("\n");
}

static void count(struct crl_run *run, const struct sg_crl_report *r)
{
	switch (r->outcome) {
	case SG_CRL_INSTALLED:
		run->installed++;
		break;
	case SG_CRL_UNCHANGED:
		run->unchanged++;
		break;
	case SG_CRL_KEPT_NEWER:
		run->kept++;
		break;
	case SG_CRL_REJECTED:
		run->rejected++;
		break;
	}
}

/* install - data from source; -1 when the directory could not be written */
static int install(struct crl_run *run, const char *source,
		   const unsigned char *data, size_t len, time_t now)
{
	struct sg_crl_report *reports = calloc(MAX_REPORTS, sizeof(*reports));
	struct sg_error err;
	size_t n = 0, i;
	int ret;

	if (reports == NULL) {
		fprintf(stderr, "%s: out of memory\n", progname);
		return -1;
	}
	ret = sg_crl_install(run->ctx, run->dir, data, len, now, run->flags,
			     reports, MAX_REPORTS, &n, &err);
	for (i = 0; i < n; i++) {
		print_report(run, source, &reports[i], NULL);
		count(run, &reports[i]);
	}
	if (ret < 0 && n == 0) {
		print_report(run, source, NULL, err.msg);
		run->failed++;
	}
	free(reports);
	return ret < 0 && err.code != SG_ERR_INVALID ? -1 : 0;
}

static int do_import(struct crl_run *run, int argc, char **argv, time_t now)
{
	int i, ret = 0;

	for (i = 0; i < argc; i++) {
		size_t len;
		unsigned char *data = read_all(argv[i], &len);

		if (data == NULL) {
			char msg[300];

			snprintf(msg, sizeof(msg), "cannot read it: %s",
				 strerror(errno));
			print_report(run, argv[i], NULL, msg);
			run->failed++;
			continue;
		}
		if (install(run, argv[i], data, len, now) < 0)
			ret = -1;
		free(data);
	}
	return ret;
}

/* add_url - collect a URL (deduplicated) */
static void add_url(void *context, const char *url, const char *about)
{
	struct crl_run *run = context;
	size_t i;

	(void)about;
	if (strlen(url) >= SG_CRL_URL_MAX)
		return;
	for (i = 0; i < run->n_urls; i++) {
		if (strcmp(run->urls[i], url) == 0)
			return;
	}
	if (run->n_urls == run->size_urls) {
		size_t size = run->size_urls == 0 ? 16 : run->size_urls * 2;
		void *p = realloc(run->urls, size * sizeof(*run->urls));

		if (p == NULL)
			return;
		run->urls = p;
		run->size_urls = size;
	}
	snprintf(run->urls[run->n_urls++], SG_CRL_URL_MAX, "%s", url);
}

static int do_fetch(struct crl_run *run, const struct sg_config *conf,
		    int argc, char **argv, const char *proxy,
		    unsigned long timeout, time_t now)
{
	const char *list = sg_config_get(conf, "crl_fetch_urls");
	const char *max = sg_config_get(conf, "max_crl_size");
	const char *redirects = sg_config_get(conf, "crl_fetch_redirects");
	const char *local = sg_config_get(conf, "crl_fetch_allow_local");
	size_t max_size = max != NULL ? strtoul(max, NULL, 10) : 0;
	unsigned int fetch_flags = 0;
	int i, ret = 0;
	size_t u;

	if (redirects != NULL && strcmp(redirects, "same-host") == 0)
		fetch_flags |= SG_CRL_FETCH_SAME_HOST_REDIRECTS;
	if (local != NULL && strcmp(local, "yes") == 0)
		fetch_flags |= SG_CRL_FETCH_ALLOW_LOCAL;

	for (i = 0; i < argc; i++)
		add_url(run, argv[i], "command line");
	if (argc == 0) {
		const char *p = list != NULL ? list : "";

		/* crl_fetch_urls: comma/space separated */
		while (*p != '\0') {
			size_t len;
			char url[SG_CRL_URL_MAX];

			p += strspn(p, ", \t\n");
			len = strcspn(p, ", \t\n");
			if (len > 0 && len < sizeof(url)) {
				memcpy(url, p, len);
				url[len] = '\0';
				add_url(run, url, "crl_fetch_urls");
			}
			p += len;
		}
		(void)sg_crl_distribution_points(run->ctx, add_url, run);
	}
	if (run->n_urls == 0) {
		fprintf(stderr, "%s: crl fetch: no distribution point is known: "
			"the trust store's certificates name none; list the CRL "
			"URLs in crl_fetch_urls (smimeguard.conf) or give them "
			"as arguments\n", progname);
		run->failed++;
		return 0;
	}
	for (u = 0; u < run->n_urls; u++) {
		unsigned char *data = NULL;
		size_t len = 0;
		struct sg_error err;

		if (sg_crl_download(run->urls[u], proxy, fetch_flags,
				    (unsigned int)timeout,
				    max_size > 0 ? max_size : 33554432,
				    &data, &len, &err) < 0) {
			char msg[400];

			snprintf(msg, sizeof(msg), "download failed: %s; the CRL "
				 "in effect is kept", err.msg);
			print_report(run, run->urls[u], NULL, msg);
			run->failed++;
			continue;
		}
		if (install(run, run->urls[u], data, len, now) < 0)
			ret = -1;
		sg_free(data);
	}
	return ret;
}

int cmd_crl(int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_STORE_LONGOPTS,
		{ "crl-dir", required_argument, NULL, O_CRL_DIR },
		{ "force", no_argument, NULL, O_FORCE },
		{ "dry-run", no_argument, NULL, O_DRY_RUN },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "proxy", required_argument, NULL, O_PROXY },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctl_store st;
	struct crl_run run;
	struct sg_config *conf = NULL;
	struct sg_error err;
	const char *sub, *crl_dir = NULL, *proxy = NULL, *timeout_s = NULL;
	char dir[4096];
	unsigned long timeout;
	time_t now;
	int c, r, ret = EXIT_USAGE;

	memset(&st, 0, sizeof(st));
	memset(&run, 0, sizeof(run));
	if (argc < 2 || (strcmp(argv[1], "import") != 0 &&
			 strcmp(argv[1], "fetch") != 0)) {
		if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
				  strcmp(argv[1], "--help") == 0)) {
			usage_crl(stdout);
			return EXIT_SUCCESS;
		}
		fprintf(stderr, "%s: crl: say import or fetch\n"
			"Try 'smimectl crl --help'.\n", progname);
		return EXIT_USAGE;
	}
	sub = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:qh", opts, NULL)) != -1) {
		if ((r = ctl_store_option(&st, c, optarg)) < 0)
			goto out;
		if (r == 0)
			continue;
		switch (c) {
		case O_CRL_DIR:
			crl_dir = optarg;
			break;
		case O_FORCE:
			run.flags |= SG_CRL_FORCE;
			break;
		case O_DRY_RUN:
			run.flags |= SG_CRL_DRY_RUN;
			break;
		case O_TIMEOUT:
			timeout_s = optarg;
			break;
		case O_PROXY:
			proxy = optarg;
			break;
		case O_JSON:
			run.json = true;
			break;
		case 'q':
			run.quiet = true;
			break;
		case 'h':
			usage_crl(stdout);
			ret = EXIT_SUCCESS;
			goto out;
		default:
			fprintf(stderr, "Try 'smimectl crl --help'.\n");
			goto out;
		}
	}
	if (strcmp(sub, "import") == 0 && optind >= argc) {
		fprintf(stderr, "%s: crl import: name the CRL files\n", progname);
		goto out;
	}
	if (strcmp(sub, "import") != 0 && (run.flags & SG_CRL_FORCE)) {
		fprintf(stderr, "%s: --force is for crl import only\n", progname);
		goto out;
	}
	if (ctl_store_config(&st, &conf) < 0)
		goto out;
	if (timeout_s == NULL)
		timeout_s = sg_config_get(conf, "crl_fetch_timeout");
	if (timeout_s == NULL || timeout_s[0] < '0' || timeout_s[0] > '9' ||
	    (timeout = strtoul(timeout_s, NULL, 10)) > 3600) {
		fprintf(stderr, "%s: the timeout must be 0..3600 seconds\n",
			progname);
		goto out;
	}
	if (proxy == NULL)
		proxy = sg_config_get(conf, "crl_fetch_proxy");
	if (crl_dir == NULL) {
		if (sg_crl_dir(conf, dir, sizeof(dir), &err) < 0) {
			fprintf(stderr, "%s: %s\n", progname, err.msg);
			goto out;
		}
		crl_dir = dir;
	}
	run.dir = crl_dir;
	if (sg_ctx_new(conf, &run.ctx, &err) < 0) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		goto out;
	}
	now = st.at != 0 ? st.at : time(NULL);
	if (strcmp(sub, "import") == 0)
		r = do_import(&run, argc - optind, argv + optind, now);
	else
		r = do_fetch(&run, conf, argc - optind, argv + optind, proxy,
			     timeout, now);
	if (!run.json && !run.quiet)
		printf("smimectl crl %s: %zu installed, %zu unchanged, %zu kept "
		       "(newer in effect), %zu rejected, %zu failed%s\n", sub,
		       run.installed, run.unchanged, run.kept, run.rejected,
		       run.failed, (run.flags & SG_CRL_DRY_RUN) ?
		       " (dry run: nothing written)" : "");
	if (fflush(stdout) != 0 || r < 0)
		ret = EXIT_USAGE;
	else if (run.rejected > 0 || run.failed > 0 ||
		 (strcmp(sub, "import") == 0 && run.kept > 0))
		ret = EXIT_NOTVERIFIED;
	else
		ret = EXIT_SUCCESS;
out:
	sg_ctx_free(&run.ctx);
	sg_config_free(&conf);
	ctl_store_free(&st);
	free(run.urls);
	return ret;
}
