/* daemon.c - logging, configuration and privileges for the Postfix daemons */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "daemon.h"
#include "policy-decide.h"

static const char *log_name = "smimeguard";
static bool log_stderr;
static long log_pid;

void dm_log_init(const char *name, bool use_stderr)
{
	log_name = name;
	log_stderr = use_stderr;
	log_pid = (long)getpid();
	if (!use_stderr)
		openlog(name, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

static void vlog(int prio, const char *tag, const char *fmt, va_list ap)
{
	char buf[2048];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (log_stderr)
		fprintf(stderr, "%s[%ld]: %s%s\n", log_name, log_pid, tag, buf);
	else
		syslog(prio, "%s%s", tag, buf);
}

void msg_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, "", fmt, ap);
	va_end(ap);
}

void msg_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, "warning: ", fmt, ap);
	va_end(ap);
}

void msg_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, "fatal: ", fmt, ap);
	va_end(ap);
	exit(1);
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

	memset(&n, 0, sizeof(n));
	if (sg_config_new(&n.conf) < 0) {
		msg_warn("out of memory");
		return -1;
	}
	if (sg_config_read(n.conf, path, &err) < 0 ||
	    sg_config_check_modes(n.conf, path, &err) < 0 ||
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
	return 0;
}

void dm_config_reload_if_changed(const char *path, struct dm_config *cfg,
				 time_t interval)
{
	unsigned char stamp[SG_STAMP_SIZE];
	struct sg_config *conf;
	struct sg_error err;
	time_t now = time(NULL);

	if (now - cfg->checked < interval)
		return;
	cfg->checked = now;
	if (sg_config_new(&conf) < 0)
		return;
	if (sg_config_read(conf, path, &err) < 0)
		memset(stamp, 0, sizeof(stamp));	/* reload reports it */
	else
		sg_config_stamp(conf, path, stamp);
	sg_config_free(&conf);
	if (memcmp(stamp, cfg->stamp, sizeof(stamp)) == 0)
		return;
	if (dm_config_load(path, cfg) == 0)
		msg_info("reloaded %s (a file changed on disk)", path);
	else
		memcpy(cfg->stamp, stamp, sizeof(stamp));	/* warn once */
}

void dm_drop_privileges(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL)
		msg_fatal("unknown user %s", user);
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		msg_fatal("cannot drop privileges to %s: %s", user, strerror(errno));
	if (pw->pw_uid != 0 && setuid(0) == 0)
		msg_fatal("privileges were not dropped");
}
