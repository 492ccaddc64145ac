#ifndef SG_SETTINGS_H
#define SG_SETTINGS_H

/* sg-settings.h - the settings of every smimeguard program
 *
 * smimeguard.conf is one file that every program reads (Postfix's
 * main.cf).  The core defines its own settings (common/config.c); each
 * program defines its own in a table in its own directory, with its
 * defaults and checks:
 *
 *   tools/smimectl-settings.c        smimectl
 *   postfix-policy/policyd-settings.c  smime-policyd
 *   postfix-policy/milter-settings.c   smime-milter
 *   keyd/keyd-settings.c             smime-keyd, and the keystore that
 *                                    smimectl key and smime-keyd share
 *
 * settings/all-settings.c lists them (Dovecot's all-settings.c), and
 * every program registers that list on each configuration it makes, so
 * that every program defaults and checks every setting and none warns
 * "unknown setting" about another's; smimectl config and
 * smimeguard.conf(5) show them all.  The core itself knows none of them.
 *
 * A new setting of a program is one entry in that program's table (and
 * its description in conf.d/smimeguard.conf, which the manual and
 * doc/check-manpages.sh use); a new program's table is one file and one
 * line of all-settings.c.
 */
#include "smimeguard.h"

extern const struct sg_config_table sg_smimectl_settings;
extern const struct sg_config_table sg_policyd_settings;
extern const struct sg_config_table sg_milter_settings;
extern const struct sg_config_table sg_keystore_settings;
extern const struct sg_config_table sg_keyd_settings;

/* every program's table, NULL-terminated */
extern const struct sg_config_table *const sg_settings_tables[];

/*
 * sg_settings_register_all - register every program's table on conf
 * (sg_config_register), before the file is read.  0, or -1 with err_r.
 */
int sg_settings_register_all(struct sg_config *conf, struct sg_error *err_r)
	SG_WUR;

#endif
