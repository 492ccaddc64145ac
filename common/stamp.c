/* stamp.c - the files the configuration reads: have they changed on
 * disk, and may anyone but their owner change them?
 *
 * sg_config_stamp: a digest over the mtime, size and inode of
 * smimeguard.conf and of every file and directory (with its entries)
 * named by trust_anchors, intermediates, crl_dirs, pinned_certificates
 * and of the files of the maps of encryption_policy_maps and
 * certificate_maps (texthash: files, ldap: map files; maps that re-read
 * their source themselves, dir:, are left out: maps.c), and of the
 * intermediate_cache directory.  Daemons and the Dovecot plugin compare
 * it now and then and rebuild their context when it differs.
 *
 * sg_config_check_modes: the same files, and the certificate maps, must
 * not be writable by group or others: whoever can write a trust anchor,
 * a CRL or a policy map decides what is trusted and what is enforced.
 */
#include "sg-base.h"
#include "maps-private.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

static void stamp_path(crypto_generichash_state *st, const char *path,
		       unsigned int depth)
{
	struct stat sb;
	struct {
		long long mtime_sec, mtime_nsec, size;
		unsigned long long ino;
		int ok;
	} rec;

	memset(&rec, 0, sizeof(rec));
	crypto_generichash_update(st, (const unsigned char *)path, strlen(path) + 1);
	if (stat(path, &sb) == 0) {
		rec.mtime_sec = (long long)sb.st_mtim.tv_sec;
		rec.mtime_nsec = (long long)sb.st_mtim.tv_nsec;
		rec.size = (long long)sb.st_size;
		rec.ino = (unsigned long long)sb.st_ino;
		rec.ok = 1;
	}
	crypto_generichash_update(st, (const unsigned char *)&rec, sizeof(rec));
	if (rec.ok && S_ISDIR(sb.st_mode) && depth == 0) {
		DIR *dir = opendir(path);
		struct dirent *de;
		char full[4096];

		if (dir == NULL)
			return;
		while ((de = readdir(dir)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if ((size_t)snprintf(full, sizeof(full), "%s/%s", path,
					     de->d_name) < sizeof(full))
				stamp_path(st, full, depth + 1);
		}
		closedir(dir);
	}
}

/* each_path - call fn for every item of the list settings names, with a
   "TYPE:" prefix taken off; stops at the first non-zero return of fn
   and returns it */
static int each_path(const struct sg_config *conf, const char *const *names,
		     size_t n, int (*fn)(const char *path, void *context),
		     void *context)
{
	char item[4096];
	size_t i;
	int ret;

	for (i = 0; i < n; i++) {
		const char *p = sg_config_get(conf, names[i]), *it, *path;
		size_t len;

		while (sg_list_next(&p, &it, &len)) {
			if (len >= sizeof(item))
				continue;
			memcpy(item, it, len);
			item[len] = '\0';
			path = item[0] != '/' && strchr(item, ':') != NULL ?
			       strchr(item, ':') + 1 : item;
			if ((ret = fn(path, context)) != 0)
				return ret;
		}
	}
	return 0;
}

/* the map lists whose maps read files (maps.c: name_is_path) */
static const struct {
	const char *setting;
	unsigned int use;
	unsigned int depth;		/* stamp_path: 0 a directory's entries too */
} map_lists[] = {
	{ "encryption_policy_maps", SG_MAP_USE_TEXT, 0 },
	{ "certificate_maps", SG_MAP_USE_CERTS, 1 },
};

/* each_map_path - call fn for the file or directory of every map of the
   map lists whose type reads one (all: also those that re-read it
   themselves, dir:); stops at the first non-zero return of fn */
static int each_map_path(const struct sg_config *conf, bool all,
			 int (*fn)(const char *path, unsigned int depth,
				   void *context),
			 void *context)
{
	char item[4096];
	bool too_long;
	size_t i;
	int ret;

	for (i = 0; i < SG_ARRAY_SIZE(map_lists); i++) {
		const char *p = sg_config_get(conf, map_lists[i].setting), *name;
		const struct sg_map_type_def *def;
		struct sg_error e;

		while (p != NULL &&
		       sg_map_list_next(&p, item, sizeof(item), &too_long)) {
			if (too_long ||
			    sg_map_parse(map_lists[i].setting, item,
					 map_lists[i].use, &def, &name, &e) < 0 ||
			    !def->name_is_path ||
			    (!all && def->refresh != NULL))
				continue;
			if ((ret = fn(name, map_lists[i].depth, context)) != 0)
				return ret;
		}
	}
	return 0;
}

static int stamp_one(const char *path, void *context)
{
	stamp_path(context, path, 0);
	return 0;
}

/* stamp_map - a map's file (an ldap: map's server, filter, bind
   settings; a texthash: file); maps that re-read their source
   themselves (dir:) are not stamped */
static int stamp_map(const char *path, unsigned int depth, void *context)
{
	stamp_path(context, path, depth);
	return 0;
}

/* unsafe_stat - may someone other than root and this process's user
   change it: a group/other-writable file or directory, or one owned by
   another user (a sticky directory like /tmp is fine for its parents) */
static bool unsafe_stat(const struct stat *sb, bool parent)
{
	if (sb->st_uid != 0 && sb->st_uid != geteuid())
		return true;
	if ((sb->st_mode & (S_IWGRP | S_IWOTH)) == 0)
		return false;
	return !(parent && (sb->st_mode & S_ISVTX) != 0);
}

/* parents_unsafe - a directory above path (after symlinks) that others
   could use to swap the file */
static bool parents_unsafe(const char *path, char *bad, size_t size)
{
	char *real = realpath(path, NULL), *slash;
	struct stat sb;
	bool found = false;

	if (real == NULL)
		return false;
	while (!found && (slash = strrchr(real, '/')) != NULL) {
		if (slash == real)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(real, &sb) == 0 && S_ISDIR(sb.st_mode) &&
		    unsafe_stat(&sb, true)) {
			snprintf(bad, size, "%s (a directory above %s)", real, path);
			found = true;
		}
		if (slash == real)
			break;
	}
	free(real);
	return found;
}

/* writable_by_others - the first path (path itself, the target of a
   symlink, a directory above it, or an entry of a directory path) that
   group or others may write or that another user owns, into bad */
static bool writable_by_others(const char *path, unsigned int depth,
			       char *bad, size_t size)
{
	struct stat sb, lsb;

	if (lstat(path, &lsb) < 0 || stat(path, &sb) < 0)
		return false;	/* missing: sg_ctx_new() says so */
	if ((S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode)) &&
	    (unsafe_stat(&sb, false) ||
	     (S_ISLNK(lsb.st_mode) && lsb.st_uid != 0 && lsb.st_uid != geteuid()))) {
		snprintf(bad, size, "%s", path);
		return true;
	}
	if (depth == 0 && parents_unsafe(path, bad, size))
		return true;
	if (S_ISDIR(sb.st_mode) && depth == 0) {
		DIR *dir = opendir(path);
		struct dirent *de;
		char full[4096];
		bool found = false;

		if (dir == NULL)
			return false;
		while (!found && (de = readdir(dir)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if ((size_t)snprintf(full, sizeof(full), "%s/%s", path,
					     de->d_name) < sizeof(full))
				found = writable_by_others(full, depth + 1,
							   bad, size);
		}
		closedir(dir);
		return found;
	}
	return false;
}

/* check_one - context is a 4096-byte buffer for the offending path */
static int check_one(const char *path, void *context)
{
	return writable_by_others(path, 0, context, 4096) ? 1 : 0;
}

static int check_map(const char *path, unsigned int depth, void *context)
{
	(void)depth;
	return check_one(path, context);
}

int sg_config_check_modes(const struct sg_config *conf, const char *config_path,
			  struct sg_error *err_r)
{
	static const char *const lists[] = {
		"trust_anchors", "intermediates", "crl_dirs", "pinned_certificates",
	};
	char bad[4096];

	sg_assert(conf != NULL);
	sg_error_clear(err_r);
	if (config_path != NULL &&
	    (writable_by_others(config_path, 1, bad, sizeof(bad)) ||
	     parents_unsafe(config_path, bad, sizeof(bad))))
		goto unsafe;
	if (each_path(conf, lists, SG_ARRAY_SIZE(lists), check_one, bad) != 0 ||
	    each_map_path(conf, true, check_map, bad) != 0)
		goto unsafe;
	return 0;
unsafe:
	sg_error_set(err_r, SG_ERR_CONFIG, "%.300s is writable by group or "
		     "others, or owned by another user, so they could change "
		     "what is trusted or enforced: chmod go-w it (and chown it "
		     "to root or this service's user)", bad);
	return -1;
}

void sg_config_stamp(const struct sg_config *conf, const char *config_path,
		     unsigned char stamp[SG_STAMP_SIZE])
{
	static const char *const lists[] = {
		"trust_anchors", "intermediates", "crl_dirs", "pinned_certificates",
	};
	crypto_generichash_state st;
	const char *cache;

	sg_assert(conf != NULL && stamp != NULL);
	crypto_generichash_init(&st, NULL, 0, SG_STAMP_SIZE);
	if (config_path != NULL)
		stamp_path(&st, config_path, 1);
	(void)each_path(conf, lists, SG_ARRAY_SIZE(lists), stamp_one, &st);
	/* intermediate_cache: the directory alone, whose mtime moves when a
	   certificate is renamed into it or removed (not pending/) */
	cache = sg_config_get(conf, "intermediate_cache");
	if (cache != NULL && cache[0] != '\0')
		stamp_path(&st, cache, 1);
	(void)each_map_path(conf, false, stamp_map, &st);
	crypto_generichash_final(&st, stamp, SG_STAMP_SIZE);
}
