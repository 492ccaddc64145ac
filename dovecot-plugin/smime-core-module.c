/* smime-core-module.c - smime_core.so: the core, for the Dovecot plugins
 *
 * Built from libsgcore with one exported symbol, the table below (see
 * smime-core.h).  Loaded by lib90_smime_plugin with dlopen(RTLD_LOCAL)
 * the first time a process verifies a message or loads a configuration;
 * every other symbol of the core stays local to the module.
 */
#include "smime-core.h"

#define SMIME_CORE_ENTRY(type, name, params, args) .name = name,
#define SMIME_CORE_ENTRY_V(name, params, args) .name = name,

extern const struct smime_core smime_core;

const struct smime_core smime_core = {
	.abi = SMIME_CORE_ABI,
	.size = sizeof(struct smime_core),
	.init = sg_init,
	.config_new = sg_config_new,
	SMIME_CORE_FUNCTIONS(SMIME_CORE_ENTRY, SMIME_CORE_ENTRY_V)
};
