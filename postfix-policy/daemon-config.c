/* daemon-config.c - the configuration of smime-policyd and smime-milter:
   every program's settings, the trust store and the policy, loaded,
   checked ("-n") and reloaded when a file changes on disk.  smime-keyd
   reads its own (it needs no policy). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "policy-decide.h"
#include "sg-settings.h"
#include "stats.h"

int dm_check_config(const char *name, const char *path)
{
	struct dm_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	dm_log_init(name, true);
	if (sg_init() < 0) {
		msg_warn("cannot initialise the crypto libraries");
		return 1;
	}
	if (dm_config_load(path, &cfg) < 0)
		return 1;
	msg_info("configuration %s is valid", path);
	dm_config_free(&cfg);
	return 0;
}

void dm_config_free(struct dm_config *cfg)
{
	sg_policy_free(&cfg->pol);
	sg_ctx_free(&cfg->ctx);
	sg_config_free(&cfg->conf);
}


int dm_config_load(const char *path, struct dm_config *cfg)
{
	struct dm_config n;
	struct sg_error err;
	size_t iter;

	memset(&n, 0, sizeof(n));
	if (sg_config_new(&n.conf) < 0) {
		msg_warn("out of memory");
		return -1;
	}
	/* every program's settings (sg-settings.h): this daemon's own
	   defaults and checks, and no warning about another's */
	if (sg_settings_register_all(n.conf, &err) < 0 ||
	    sg_config_read(n.conf, path, &err) < 0) {
		msg_warn("configuration %s: %s", path, err.msg);
		dm_config_free(&n);
		return -1;
	}
	/* before the checks: a misspelt name may be why one fails */
	for (iter = 0; sg_config_next_unknown(n.conf, &iter, &err);)
		msg_warn("%s", err.msg);
	if (sg_config_check_modes(n.conf, path, &err) < 0 ||
	    sg_ctx_new(n.conf, &n.ctx, &err) < 0 ||
	    sg_policy_new(n.conf, &n.pol, &err) < 0 ||
	    pd_check_config(n.conf, &err) < 0) {
		msg_warn("configuration %s: %s", path, err.msg);
		dm_config_free(&n);
		return -1;
	}
	sg_config_stamp(n.conf, path, n.stamp);
	n.checked = time(NULL);
	dm_config_free(cfg);
	*cfg = n;
	st_config_loaded(path);
	return 0;
}

int dm_config_stamp_now(const char *path, unsigned char stamp[SG_STAMP_SIZE])
{
	struct sg_config *conf;
	struct sg_error err;

	if (sg_config_new(&conf) < 0)
		return -1;
	if (sg_settings_register_all(conf, &err) < 0 ||
	    sg_config_read(conf, path, &err) < 0)
		memset(stamp, 0, SG_STAMP_SIZE);	/* a reload reports it */
	else
		sg_config_stamp(conf, path, stamp);
	sg_config_free(&conf);
	return 0;
}

void dm_config_reload_if_changed(const char *path, struct dm_config *cfg,
				 time_t interval)
{
	unsigned char stamp[SG_STAMP_SIZE];
	time_t now = time(NULL);

	if (now - cfg->checked < interval)
		return;
	cfg->checked = now;
	if (dm_config_stamp_now(path, stamp) < 0 ||
	    memcmp(stamp, cfg->stamp, sizeof(stamp)) == 0)
		return;
	if (dm_config_load(path, cfg) == 0)
		msg_info("reloaded %s (a file changed on disk)", path);
	else
		memcpy(cfg->stamp, stamp, sizeof(stamp));	/* warn once */
}
