/* keyd-settings.c - the settings of smime-keyd and of the keystore
 * (sg-settings.h)
 *
 * The client's settings (keyd_socket, keyd_timeout, keyd_user) are the
 * core's: every program that verifies asks smime-keyd.
 */
#include "sg-settings.h"

/* the keystore: smimectl key manages it, smime-keyd reads it */
static const struct sg_config_def keystore_defs[] = {
	{ "keystore_dir", "/var/lib/smimeguard/keys", SG_CONF_TEXT, NULL, NULL, NULL },
	{ "keystore_master_key", "/etc/smimeguard/master.key", SG_CONF_TEXT, NULL, NULL, NULL },
};

const struct sg_config_table sg_keystore_settings = {
	"smimectl key, smime-keyd", keystore_defs,
	sizeof(keystore_defs) / sizeof(keystore_defs[0])
};

/* the daemon: its socket's group (Dovecot's mail processes' group, "":
   its own), worker threads and request limit */
static const struct sg_config_def keyd_defs[] = {
	{ "keyd_socket_group", "", SG_CONF_TEXT, NULL, NULL, NULL },
	{ "keyd_max_clients", "64", SG_CONF_UINT, NULL, NULL, NULL },
	/* "": max_message_size */
	{ "keyd_max_request_size", "", SG_CONF_TEXT, NULL, NULL, NULL },
};

const struct sg_config_table sg_keyd_settings = {
	"smime-keyd", keyd_defs, sizeof(keyd_defs) / sizeof(keyd_defs[0])
};
