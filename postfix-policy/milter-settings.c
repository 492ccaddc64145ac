/* milter-settings.c - the settings of smime-milter (sg-settings.h) */
#include "sg-settings.h"

static const struct sg_config_def defs[] = {
	/* its status socket, as policyd_status_socket */
	{ "milter_status_socket", "", SG_CONF_TEXT, NULL, NULL, NULL },
};

const struct sg_config_table sg_milter_settings = {
	"smime-milter", defs, sizeof(defs) / sizeof(defs[0])
};
