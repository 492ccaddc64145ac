/* cmd-config.c - smimectl config: the settings in effect, like postconf
 *
 *   smimectl config [-c FILE] [-d | -n] [-x] [NAME...]
 *
 * Without -d or -n every known setting is printed with the value in
 * effect (the file's, else the default), as "name = value"; -d prints
 * the defaults, -n only what the file sets.  Settings the file holds
 * that no program knows are reported on standard error with the closest
 * known name ("did you mean").  --table prints "name<TAB>default<TAB>
 * syntax" lines: what doc/man/gen-conf-man.sh turns into
 * smimeguard.conf(5), so the manual lists exactly the settings and
 * defaults of the code: the core's (common/config.c) and every
 * program's (settings/sg-settings.h), as sg_config_known_at() lists them.
 *
 * Exit status: 0; 1 a NAME is not a known setting (nor set in the file);
 * 2 usage or configuration error.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smimeguard-admin.h"
#include "sg-settings.h"
#include "smimectl.h"

void usage_config(FILE *fp)
{
	fprintf(fp,
"Usage: smimectl config [OPTIONS] [NAME...]\n"
"\n"
"Print smimeguard.conf settings as \"name = value\", like postconf(1):\n"
"every setting with the value in effect (the file's, else the default).\n"
"Settings in the file that no program knows (a misspelling such as\n"
"trsut_anchors) are reported on standard error with \"did you mean\".\n"
"\n"
"Options:\n"
"  -c, --config FILE  read FILE (default " SG_CONFIG_FILE ", when it\n"
"                     exists)\n"
"  -d, --defaults     print the defaults, ignoring the file\n"
"  -n, --non-default  print only the settings the file sets\n"
"  -x, --expand       expand $name references in the values\n"
"      --table        print \"name<TAB>default<TAB>syntax\" for every setting\n"
"  -h, --help         show this help\n"
"  NAME               print only these settings\n"
"\n"
"Exit status: 0; 1 a NAME is not a known setting; 2 usage or configuration\n"
"error.\n"
"\n"
"Examples:\n"
"  smimectl config -n                 what this server changed\n"
"  smimectl config revocation_check   the value in effect\n");
}

/* print_one - "name = value", untrusted text made printable */
static void print_one(const char *name, const char *value)
{
	ctl_print_clean(stdout, name);
	fputs(value[0] != '\0' ? " = " : " =", stdout);
	ctl_print_clean(stdout, value);
	fputc('\n', stdout);
}

/* lookup - the file's raw value, or NULL */
static const char *raw_value(const struct sg_config *conf, const char *name)
{
	const char *n, *v, *found = NULL;
	size_t i;

	for (i = 0; sg_config_entry_at(conf, i, &n, &v); i++) {
		if (strcmp(n, name) == 0)
			found = v;
	}
	return found;
}

/* default_of - the default of a setting conf knows, or NULL */
static const char *default_of(const struct sg_config *conf, const char *name)
{
	struct sg_config_setting s;
	size_t i;

	for (i = 0; sg_config_known_at(conf, i, &s, NULL); i++) {
		if (strcmp(s.name, name) == 0)
			return s.default_value;
	}
	return NULL;
}

/* show - one setting as the options ask; false when it is unknown */
static bool show(const struct sg_config *conf, const char *name, bool defaults,
		 bool non_default, bool expand)
{
	const char *def = default_of(conf, name);
	const char *raw = !defaults ? raw_value(conf, name) : NULL;
	const char *v;

	if (defaults) {
		if (def == NULL)
			return false;
		print_one(name, def);
		return true;
	}
	if (raw == NULL && def == NULL)
		return false;
	if (non_default && raw == NULL)
		return true;
	v = raw != NULL ? raw : def;
	if (expand && (v = sg_config_get(conf, name)) == NULL)
		v = "";		/* a reference loop: sg_ctx_new reports it */
	print_one(name, v);
	return true;
}

int cmd_config(int argc, char **argv)
{
	enum { O_TABLE = 0x200 };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "defaults", no_argument, NULL, 'd' },
		{ "non-default", no_argument, NULL, 'n' },
		{ "expand", no_argument, NULL, 'x' },
		{ "table", no_argument, NULL, O_TABLE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctl_store st;
	struct sg_config *conf = NULL;
	struct sg_config_setting s;
	struct sg_error err;
	bool defaults = false, non_default = false, expand = false, table = false;
	const char *name, *value;
	size_t i;
	int c, ret = EXIT_SUCCESS;

	memset(&st, 0, sizeof(st));
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:dnxh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			st.config = optarg;
			break;
		case 'd':
			defaults = true;
			break;
		case 'n':
			non_default = true;
			break;
		case 'x':
			expand = true;
			break;
		case O_TABLE:
			table = true;
			break;
		case 'h':
			usage_config(stdout);
			return EXIT_SUCCESS;
		default:
			fprintf(stderr, "Try 'smimectl config --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (defaults && non_default) {
		fprintf(stderr, "%s: config: -d and -n exclude each other\n",
			progname);
		return EXIT_USAGE;
	}
	if (table || defaults) {
		/* no file: every setting with its default */
		if (sg_config_new(&conf) < 0 ||
		    sg_settings_register_all(conf, &err) < 0) {
			fprintf(stderr, "%s: out of memory\n", progname);
			sg_config_free(&conf);
			return EXIT_USAGE;
		}
	} else if (ctl_store_config(&st, &conf) < 0) {
		return EXIT_USAGE;
	}
	if (table) {
		for (i = 0; sg_config_known_at(conf, i, &s, NULL); i++)
			printf("%s\t%s\t%s\n", s.name, s.default_value, s.syntax);
		goto flush;
	}
	if (optind < argc) {
		for (i = (size_t)optind; i < (size_t)argc; i++) {
			if (!show(conf, argv[i], defaults, non_default, expand)) {
				fprintf(stderr, "%s: config: ", progname);
				ctl_print_clean(stderr, argv[i]);
				fprintf(stderr, ": unknown setting\n");
				ret = EXIT_NOTVERIFIED;
			}
		}
	} else {
		for (i = 0; sg_config_known_at(conf, i, &s, NULL); i++)
			show(conf, s.name, defaults, non_default, expand);
		/* what the file sets beyond the tables ($config_dir, ...) */
		for (i = 0; !defaults &&
			    sg_config_entry_at(conf, i, &name, &value); i++) {
			if (default_of(conf, name) == NULL)
				print_one(name, value);
		}
	}
flush:
	sg_config_free(&conf);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "%s: write error: %s\n", progname,
			strerror(errno));
		return EXIT_USAGE;
	}
	return ret;
}
