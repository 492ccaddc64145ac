/* policyd-settings.c - the settings of smime-policyd (sg-settings.h) */
#include "sg-settings.h"

static const struct sg_config_def defs[] = {
	/* seconds a request may take to arrive whole */
	{ "policy_request_timeout", "30", SG_CONF_UINT, NULL, NULL, NULL },
	/* its status socket (counters for smimectl stats, stats.c):
	   "/path[:mode[:group]]", mode default 0600; empty: none */
	{ "policyd_status_socket", "", SG_CONF_TEXT, NULL, NULL, NULL },
};

const struct sg_config_table sg_policyd_settings = {
	"smime-policyd", defs, sizeof(defs) / sizeof(defs[0])
};
