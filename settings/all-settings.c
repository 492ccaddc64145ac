/* all-settings.c - the list of every smimeguard program's settings table
 * (sg-settings.h), as Dovecot's all-settings.c
 */
#include "sg-settings.h"

#include <stddef.h>

const struct sg_config_table *const sg_settings_tables[] = {
	&sg_smimectl_settings,
	&sg_policyd_settings,
	&sg_milter_settings,
	&sg_keystore_settings,
	&sg_keyd_settings,
	NULL
};

/* sg_settings_register_all - every program's table, on conf */
int sg_settings_register_all(struct sg_config *conf, struct sg_error *err_r)
{
	size_t i;

	for (i = 0; sg_settings_tables[i] != NULL; i++) {
		if (sg_config_register(conf, sg_settings_tables[i], err_r) < 0)
			return -1;
	}
	return 0;
}
