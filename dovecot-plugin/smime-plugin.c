/* smime-plugin.c - lib90_smime_plugin: module glue
 *
 * mail_plugins = $mail_plugins smime
 * plugin {
 *   smime_config = /etc/smimeguard/smimeguard.conf
 *   smime_protect_keywords = yes      # yes | reject | no
 * }
 * See conf.d/90-smime.conf.
 */
#include "lib.h"
#include "module-dir.h"
#include "smime-plugin.h"

const char *smime_plugin_version = DOVECOT_ABI_VERSION;
struct module *smime_module;

void smime_plugin_init(struct module *module);
void smime_plugin_deinit(void);

void smime_plugin_init(struct module *module)
{
	/* the core (and OpenSSL with it) is loaded on first need:
	   smime-core.c */
	smime_module = module;
	smime_storage_hooks_init(module);
	smime_attribute_init();
}

void smime_plugin_deinit(void)
{
	smime_attribute_deinit();
	smime_storage_hooks_deinit();
	smime_ctx_cache_free();
}
