/* daemon.c - logging, unix sockets, the status socket and privileges of
   the daemons (smime-policyd, smime-milter, smime-keyd); the policy
   daemons' configuration is daemon-config.c */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "daemon.h"
#include "stats.h"

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

/* all_octal - is s a non-empty run of octal digits */
static bool all_octal(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 4)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '7')
			return false;
	}
	return true;
}

void dm_unix_parse(const char *spec, struct dm_unix_sock *us)
{
	const char *last = strrchr(spec, ':'), *prev = NULL;
	size_t path_len = strlen(spec);
	char group[64];

	memset(us, 0, sizeof(*us));
	us->mode = DM_SOCK_MODE;
	us->gid = (gid_t)-1;
	if (last != NULL) {
		for (prev = last; prev > spec && prev[-1] != ':'; prev--)
			;
		prev = prev > spec ? prev - 1 : NULL;	/* the ':' before */
	}
	if (last != NULL && all_octal(last + 1, strlen(last + 1))) {
		us->mode = (mode_t)strtoul(last + 1, NULL, 8);
		path_len = (size_t)(last - spec);
	} else if (last != NULL && prev != NULL &&
		   all_octal(prev + 1, (size_t)(last - prev - 1))) {
		struct group *gr;

		us->mode = (mode_t)strtoul(prev + 1, NULL, 8);
		if (strlen(last + 1) == 0 || strlen(last + 1) >= sizeof(group))
			msg_fatal("unix:%s: bad socket group", spec);
		snprintf(group, sizeof(group), "%s", last + 1);
		if ((gr = getgrnam(group)) == NULL)
			msg_fatal("unix:%s: no group %s (the socket's group must "
				  "be one Postfix runs with, e.g. postfix)", spec,
				  group);
		us->gid = gr->gr_gid;
		us->has_gid = true;
		path_len = (size_t)(prev - spec);
	}
	if ((us->mode & ~0777u) != 0)
		msg_fatal("unix:%s: bad socket mode", spec);
	if (path_len == 0 || path_len >= sizeof(us->path))
		msg_fatal("unix:%s: socket path missing or too long", spec);
	memcpy(us->path, spec, path_len);
	us->path[path_len] = '\0';
}

void dm_unix_perms(const struct dm_unix_sock *us)
{
	if (us->has_gid && chown(us->path, (uid_t)-1, us->gid) < 0)
		msg_fatal("chgrp %s to group %u: %s (the daemon must run as root "
			  "or be a member of that group, e.g. systemd "
			  "SupplementaryGroups=)", us->path, (unsigned int)us->gid,
			  strerror(errno));
	if (chmod(us->path, us->mode) < 0)
		msg_fatal("chmod %s: %s", us->path, strerror(errno));
	if (us->mode & 0007)
		msg_warn("socket %s is mode %04o: any local user can connect "
			 "(give it a group Postfix runs with and mode 0660)",
			 us->path, (unsigned int)us->mode);
}

int dm_unix_listen(const struct dm_unix_sock *us, int backlog)
{
	struct dm_unix_sock tmp = *us;
	struct sockaddr_un sun;
	mode_t old_mask;
	int fd, n;

	/* path.new when it fits, else the path itself (bound last) */
	n = snprintf(tmp.path, sizeof(tmp.path), "%s.new", us->path);
	if (n < 0 || (size_t)n >= sizeof(tmp.path) ||
	    (size_t)n >= sizeof(sun.sun_path))
		memcpy(tmp.path, us->path, sizeof(tmp.path));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(tmp.path) >= sizeof(sun.sun_path))
		msg_fatal("socket path %s is too long", us->path);
	memcpy(sun.sun_path, tmp.path, strlen(tmp.path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		msg_fatal("socket: %s", strerror(errno));
	(void)unlink(tmp.path);
	old_mask = umask(0177);	/* no window in which others could connect */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		msg_fatal("bind %s: %s", tmp.path, strerror(errno));
	(void)umask(old_mask);
	if (listen(fd, backlog) < 0)
		msg_fatal("listen %s: %s", tmp.path, strerror(errno));
	dm_unix_perms(&tmp);
	if (strcmp(tmp.path, us->path) != 0 && rename(tmp.path, us->path) < 0)
		msg_fatal("rename %s to %s: %s", tmp.path, us->path,
			  strerror(errno));
	return fd;
}

void dm_status_listen(const struct sg_config *conf, const char *setting)
{
	const char *spec = conf != NULL ? sg_config_get(conf, setting) : NULL;

	if (spec == NULL || spec[strspn(spec, " \t")] == '\0')
		return;
	if (strncmp(spec, "unix:", 5) == 0)
		spec += 5;
	st_listen(spec);
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
