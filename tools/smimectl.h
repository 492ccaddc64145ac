#ifndef SMIMECTL_H
#define SMIMECTL_H

/* smimectl.h - what the smimectl subcommand files share */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

struct sg_config;
struct sg_finding;

#define EXIT_NOTVERIFIED 1
#define EXIT_USAGE 2

extern const char *progname;

/* read_all - a whole file (or "-" for stdin) into memory; NULL + errno */
unsigned char *read_all(const char *path, size_t *len_r);

/* cmd_policy - smimectl policy test (cmd-policy.c) */
int cmd_policy(int argc, char **argv);
void usage_policy(FILE *fp);

/* cmd_doctor - smimectl doctor (cmd-doctor.c) */
int cmd_doctor(int argc, char **argv);
void usage_doctor(FILE *fp);

/* ---- doctor-postfix.c ---- */
/* pf_analyze - findings about the Postfix settings in main_text (postconf
   -x output of the parameters it needs) and ptext (postconf -P -x); the
   number of findings */
int pf_analyze(const char *main_text, const char *ptext,
	       void (*report)(const struct sg_finding *f, void *context),
	       void *context);
/* ctl_postfix_check - run postconf (-c config_dir unless NULL) and
   pf_analyze() it; the number of findings (0 also without postconf when
   config_dir is NULL); -1 with err filled; -2 (config_dir NULL) postconf
   cannot read Postfix's own configuration, err says why */
int ctl_postfix_check(const char *config_dir,
		      void (*report)(const struct sg_finding *f, void *context),
		      void *context, char *err, size_t err_size);

/* cmd_crl - smimectl crl import | fetch (cmd-crl.c) */
int cmd_crl(int argc, char **argv);
void usage_crl(FILE *fp);

/* cmd_ca - smimectl ca fetch (cmd-ca.c) */
int cmd_ca(int argc, char **argv);
void usage_ca(FILE *fp);

/* cmd_report - smimectl report (cmd-report.c) */
int cmd_report(int argc, char **argv);
void usage_report(FILE *fp);

/* cmd_config - smimectl config (cmd-config.c) */
int cmd_config(int argc, char **argv);
void usage_config(FILE *fp);

/* cmd_key - smimectl key (cmd-key.c) */
int cmd_key(int argc, char **argv);
void usage_key(FILE *fp);

/* cmd_stats - smimectl stats (cmd-stats.c) */
int cmd_stats(int argc, char **argv);
void usage_stats(FILE *fp);

/* ---- ctl-common.c ---- */
/* the trust-store options several subcommands take; getopt values of the
   long-only ones (pick other values above 0x200 for the rest) */
enum {
	CTL_O_MAP = 0x100, CTL_O_TRUST, CTL_O_INTER, CTL_O_CRL,
	CTL_O_REVOCATION, CTL_O_AT
};
#define CTL_STORE_LONGOPTS \
	{ "config", required_argument, NULL, 'c' }, \
	{ "map", required_argument, NULL, CTL_O_MAP }, \
	{ "trust", required_argument, NULL, CTL_O_TRUST }, \
	{ "intermediates", required_argument, NULL, CTL_O_INTER }, \
	{ "crl", required_argument, NULL, CTL_O_CRL }, \
	{ "revocation", required_argument, NULL, CTL_O_REVOCATION }, \
	{ "at", required_argument, NULL, CTL_O_AT }
struct ctl_store {
	const char *config, *revocation;
	bool quiet_unknown;		/* doctor reports them as findings */
	char *maps, *trust, *inter, *crl;	/* ", " joined repeats */
	time_t at;				/* 0: now */
};
/* take option opt: 0 taken, 1 not one of these, -1 error (printed) */
int ctl_store_option(struct ctl_store *st, int opt, const char *arg);
/* the configuration file (-c, else SG_CONFIG_FILE when it exists) with
   the options over it, unknown settings warned about on stderr; -1
   error (printed) */
int ctl_store_config(const struct ctl_store *st, struct sg_config **conf_r);
void ctl_store_free(struct ctl_store *st);
/* untrusted text on a terminal line: control characters as '?' */
void ctl_print_clean(FILE *fp, const char *s);
/* a JSON string, quoted and escaped */
void ctl_json_str(FILE *fp, const char *s);

#endif
