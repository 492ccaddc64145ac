#ifndef DAEMON_H
#define DAEMON_H

/*
 * daemon.h - what smime-policyd and smime-milter share: Postfix-style
 * logging (syslog facility mail, or stderr), the configuration they load
 * together, and dropping privileges.
 */
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "smimeguard.h"

/* dm_log_init - name for messages; stderr instead of syslog when asked */
void dm_log_init(const char *name, bool use_stderr);
void msg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* what both daemons load from smimeguard.conf */
struct dm_config {
	struct sg_config *conf;
	struct sg_ctx *ctx;
	struct sg_policy *pol;
	unsigned char stamp[SG_STAMP_SIZE];	/* files on disk when loaded */
	time_t checked;
};

/* dm_config_load - read path and build everything; on success replace
   *cfg (freeing what it held), on failure log why and keep *cfg as it
   was.  0 ok, -1 failed. */
int dm_config_load(const char *path, struct dm_config *cfg);
void dm_config_free(struct dm_config *cfg);

/* dm_check_config - "-n": load path as the daemon would at start,
   with messages (unknown settings too) on standard error; the exit
   status: 0 valid, 1 not (like opendkim -n) */
int dm_check_config(const char *name, const char *path);

/* dm_config_stamp_now - the stamp of path and the files it names as
   they are now (zeros when path cannot be read); -1 out of memory */
int dm_config_stamp_now(const char *path, unsigned char stamp[SG_STAMP_SIZE]);

/* dm_config_reload_if_changed - at most every `interval` seconds, reload
   when smimeguard.conf or a file it names (trust anchors, CRLs, policy
   maps) changed on disk; a failed reload keeps the old configuration */
void dm_config_reload_if_changed(const char *path, struct dm_config *cfg,
				 time_t interval);

/* a unix socket from "/path[:mode[:group]]" (after "unix:") */
struct dm_unix_sock {
	char path[108];
	mode_t mode;			/* default DM_SOCK_MODE */
	gid_t gid;			/* (gid_t)-1: the creator's group */
	bool has_gid;
};
#define DM_SOCK_MODE 0660
/* dm_unix_parse - split spec (fatal when it is unusable) */
void dm_unix_parse(const char *spec, struct dm_unix_sock *us);
/* dm_unix_perms - give the bound socket its mode and group (fatal on
   failure: a socket Postfix cannot use must not look fine) */
void dm_unix_perms(const struct dm_unix_sock *us);
/* dm_unix_listen - a listening socket at us->path with its mode and
   group: bound under a temporary name, then renamed, so the path is
   never there before it accepts connections (a client that sees it
   is not refused); fatal on failure */
int dm_unix_listen(const struct dm_unix_sock *us, int backlog);

/* dm_status_listen - open the status socket named by setting
   (policyd_status_socket, milter_status_socket) when it is set (stats.h);
   before dropping privileges */
void dm_status_listen(const struct sg_config *conf, const char *setting);

/* dm_drop_privileges - setgroups/setgid/setuid to user, or fatal */
void dm_drop_privileges(const char *user);

#endif
