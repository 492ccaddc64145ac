/* smimectl-settings.c - the settings only smimectl reads (sg-settings.h) */
#include "sg-settings.h"

static const struct sg_config_def defs[] = {
	/* smimectl crl fetch: URLs fetched besides the installed CRLs'
	   own distribution points (cmd-crl.c) */
	{ "crl_fetch_urls", "", SG_CONF_TEXT, NULL, NULL, NULL },
};

const struct sg_config_table sg_smimectl_settings = {
	"smimectl", defs, sizeof(defs) / sizeof(defs[0])
};
