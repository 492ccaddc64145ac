/* ctl-common.c - what several smimectl subcommands share: the trust
 * store options (--config, --trust, --intermediates, --crl, --map,
 * --revocation, --at) turned into one struct sg_config, and output
 * helpers for untrusted text (a terminal line, a JSON string).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "smimeguard-admin.h"
#include "sg-settings.h"
#include "smimectl.h"

/* add_list - append an item to a ", " separated list */
static int add_list(char **list, const char *item)
{
	size_t n = *list == NULL ? 0 : strlen(*list);
	char *p = realloc(*list, n + strlen(item) + 3);

	if (p == NULL)
		return -1;
	if (n == 0)
		strcpy(p, item);
	else
		sprintf(p + n, ", %s", item);
	*list = p;
	return 0;
}

int ctl_store_option(struct ctl_store *st, int opt, const char *arg)
{
	char **list;

	switch (opt) {
	case 'c':
		st->config = arg;
		return 0;
	case CTL_O_MAP:
		list = &st->maps;
		break;
	case CTL_O_TRUST:
		list = &st->trust;
		break;
	case CTL_O_INTER:
		list = &st->inter;
		break;
	case CTL_O_CRL:
		list = &st->crl;
		break;
	case CTL_O_REVOCATION:
		st->revocation = arg;
		return 0;
	case CTL_O_AT:
		if (sg_parse_time(arg, &st->at) < 0) {
			fprintf(stderr, "%s: --at: '%s' is not a time (use "
				"2026-11-28T10:00:00Z or @unix-seconds)\n",
				progname, arg);
			return -1;
		}
		return 0;
	default:
		return 1;
	}
	if (add_list(list, arg) < 0) {
		fprintf(stderr, "%s: out of memory\n", progname);
		return -1;
	}
	return 0;
}

int ctl_store_config(const struct ctl_store *st, struct sg_config **conf_r)
{
	struct sg_config *conf;
	struct sg_error err;
	const char *path = st->config;
	struct stat sb;
	size_t iter = 0;

	*conf_r = NULL;
	/* the daemons' default, when it is there ("-c /dev/null": none) */
	if (path == NULL && (stat(SG_CONFIG_FILE, &sb) == 0 || errno != ENOENT))
		path = SG_CONFIG_FILE;
	if (sg_config_new(&conf) < 0) {
		fprintf(stderr, "%s: out of memory\n", progname);
		return -1;
	}
	/* every program's settings: defaults, checks, known names */
	if (sg_settings_register_all(conf, &err) < 0 ||
	    (path != NULL && sg_config_read(conf, path, &err) < 0) ||
	    (st->maps != NULL &&
	     sg_config_set(conf, "certificate_maps", st->maps, &err) < 0) ||
	    (st->trust != NULL &&
	     sg_config_set(conf, "trust_anchors", st->trust, &err) < 0) ||
	    (st->inter != NULL &&
	     sg_config_set(conf, "intermediates", st->inter, &err) < 0) ||
	    (st->crl != NULL && sg_config_set(conf, "crl_dirs", st->crl, &err) < 0) ||
	    (st->revocation != NULL &&
	     sg_config_set(conf, "revocation_check", st->revocation, &err) < 0)) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		if (st->config == NULL && path != NULL)
			fprintf(stderr, "%s: (the default configuration; "
				"-c /dev/null reads none)\n", progname);
		sg_config_free(&conf);
		return -1;
	}
	while (!st->quiet_unknown && sg_config_next_unknown(conf, &iter, &err))
		fprintf(stderr, "%s: warning: %s\n", progname, err.msg);
	*conf_r = conf;
	return 0;
}

void ctl_store_free(struct ctl_store *st)
{
	free(st->maps);
	free(st->trust);
	free(st->inter);
	free(st->crl);
	memset(st, 0, sizeof(*st));
}

void ctl_print_clean(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, fp);
}

void ctl_json_str(FILE *fp, const char *s)
{
	const unsigned char *p;

	fputc('"', fp);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(fp, "\\u%04x", *p);
		else
			fputc(*p, fp);
	}
	fputc('"', fp);
}
