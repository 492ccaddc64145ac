/* smime-core-module.c - smime_core.so: the core, for the Dovecot plugins
 *
 * Built from libsgcore with one exported symbol, the table below (see
 * smime-core.h).  Loaded by lib90_smime_plugin with dlopen(RTLD_LOCAL)
 * the first time a process verifies a message or loads a configuration;
 * every other symbol of the core stays local to the module.
 */
#include "smime-core.h"
#include "sg-settings.h"

#define SMIME_CORE_ENTRY(type, name, params, args) .name = name,
#define SMIME_CORE_ENTRY_V(name, params, args) .name = name,

extern const struct smime_core smime_core;

/* config_new - a configuration that knows every program's settings
   (sg-settings.h), so the plugin warns about none of them */
static int config_new(struct sg_config **conf_r)
{
	struct sg_error err;

	if (sg_config_new(conf_r) < 0)
		return -1;
	if (sg_settings_register_all(*conf_r, &err) < 0) {
		sg_config_free(conf_r);
		return -1;
	}
	return 0;
}

const struct smime_core smime_core = {
	.abi = SMIME_CORE_ABI,
	.size = sizeof(struct smime_core),
	.init = sg_init,
	.config_new = config_new,
	SMIME_CORE_FUNCTIONS(SMIME_CORE_ENTRY, SMIME_CORE_ENTRY_V)
};
