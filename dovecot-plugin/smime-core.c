/* smime-core.c - load smime_core.so on first need, and the plugin's
 * forwarding functions for the core's API
 *
 * See smime-core.h.  The module is looked for next to this plugin (the
 * file dladdr() names), so an installed Dovecot, a sandbox and a build
 * tree all work alike.  It is opened RTLD_LOCAL and never closed
 * (OpenSSL keeps exit handlers in it).  A process that never verifies
 * never opens it.
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE 1		/* dladdr */
#endif
#include "lib.h"
#include "smime-core.h"

#include <dlfcn.h>
#include <string.h>

static const struct smime_core *core;
static char core_error[512];

/* load - open the module and check that it is this build's */
static int load(void)
{
	const struct smime_core *c;
	Dl_info info;
	const char *slash, *path;
	void *handle;

	if (core != NULL)
		return 0;
	if (dladdr((void *)load, &info) == 0 || info.dli_fname == NULL) {
		i_snprintf(core_error, sizeof(core_error),
			   "cannot find where the smime plugin was loaded from");
		return -1;
	}
	slash = strrchr(info.dli_fname, '/');
	path = slash == NULL ? SMIME_CORE_FILE :
		t_strdup_printf("%s/%s", t_strdup_until(info.dli_fname, slash),
				SMIME_CORE_FILE);
	if ((handle = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		i_snprintf(core_error, sizeof(core_error),
			   "cannot load %s: %s (install it next to "
			   "lib90_smime_plugin.so)", path, dlerror());
		return -1;
	}
	c = dlsym(handle, SMIME_CORE_SYMBOL);
	if (c == NULL || c->size != sizeof(*c) ||
	    strcmp(c->abi, SMIME_CORE_ABI) != 0) {
		i_snprintf(core_error, sizeof(core_error),
			   "%s is not the one of this plugin (%s, expected %s): "
			   "install both from the same build", path,
			   c == NULL ? "no table" : c->abi, SMIME_CORE_ABI);
		(void)dlclose(handle);
		return -1;
	}
	if (c->init() < 0) {
		i_snprintf(core_error, sizeof(core_error),
			   "cannot initialise the crypto libraries");
		return -1;
	}
	core = c;
	return 0;
}

int smime_core_config_new(struct sg_config **conf_r, const char **error_r)
{
	*conf_r = NULL;
	if (load() < 0) {
		*error_r = t_strdup(core_error);
		return -1;
	}
	if (core->config_new(conf_r) < 0) {
		*error_r = "out of memory";
		return -1;
	}
	return 0;
}

bool smime_core_loaded(void)
{
	return core != NULL;
}

/* Every other function takes or frees an object that only the loaded
   core can have made: a value-returning one cannot be reached before the
   load, a void one (the frees) has nothing to do then. */
static const struct smime_core *loaded(const char *name)
{
	if (core == NULL)
		i_panic("smime: %s called before the core was loaded", name);
	return core;
}

#define SMIME_CORE_FORWARD(type, name, params, args) \
	type name params { return loaded(#name)->name args; }
#define SMIME_CORE_FORWARD_V(name, params, args) \
	void name params { if (core != NULL) core->name args; }

SMIME_CORE_FUNCTIONS(SMIME_CORE_FORWARD, SMIME_CORE_FORWARD_V)
