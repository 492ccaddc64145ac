/* stamp.c - the files the configuration reads: have they changed on
 * disk, and may anyone but their owner change them?
 *
 * sg_config_stamp: a digest over the mtime, size and inode of
 * smimeguard.conf and of every file and directory (with its entries)
 * named by trust_anchors, intermediates, crl_dirs, pinned_certificates
 * and encryption_policy_maps.  Daemons and the Dovecot plugin compare it
 * now and then and rebuild their context when it differs.  (dir:
 * certificate maps reload themselves.)
 *
 * sg_config_check_modes: the same files, and the certificate maps, must
 * not be writable by group or others: whoever can write a trust anchor,
 * a CRL or a policy map decides what is trusted and what is enforced.
 */
#include "sg-private.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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
   "TYPE:" prefix (texthash:, dir:, ldap:) taken off; stops at the first
   non-zero return of fn and returns it */
static int each_path(struct sg_config *conf, const char *const *names,
		     size_t n, int (*fn)(const char *path, void *context),
		     void *context)
{
	char item[4096];
	size_t i;
	int ret;

	for (i = 0; i < n; i++) {
		const char *p = sg_config_get(conf, names[i]), *path;
		size_t len;

		while (p != NULL && *p != '\0') {
			p += strspn(p, ", \t\r\n");
			len = strcspn(p, ", \t\r\n");
			if (len == 0)
				break;
			if (len < sizeof(item)) {
				memcpy(item, p, len);
				item[len] = '\0';
				path = item[0] != '/' && strchr(item, ':') != NULL ?
				       strchr(item, ':') + 1 : item;
				if ((ret = fn(path, context)) != 0)
					return ret;
			}
			p += len;
		}
	}
	return 0;
}

static int stamp_one(const char *path, void *context)
{
	stamp_path(context, path, 0);
	return 0;
}

/* writable_by_others - the first path (path itself, or an entry of a
   directory path) that group or others may write, into bad */
static bool writable_by_others(const char *path, unsigned int depth,
			       char *bad, size_t size)
{
	struct stat sb;

	if (stat(path, &sb) < 0)
		return false;	/* missing: sg_ctx_new() says so */
	if ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    (S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode))) {
		snprintf(bad, size, "%s", path);
		return true;
	}
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

int sg_config_check_modes(struct sg_config *conf, const char *config_path,
			  struct sg_error *err_r)
{
	static const char *const lists[] = {
		"trust_anchors", "intermediates", "crl_dirs", "pinned_certificates",
		"encryption_policy_maps", "certificate_maps",
	};
	char bad[4096];

	sg_assert(conf != NULL);
	sg_error_clear(err_r);
	if (config_path != NULL && writable_by_others(config_path, 1, bad,
						      sizeof(bad)))
		goto unsafe;
	if (each_path(conf, lists, SG_ARRAY_SIZE(lists), check_one, bad) != 0)
		goto unsafe;
	return 0;
unsafe:
	sg_error_set(err_r, SG_ERR_CONFIG, "%.200s is writable by group or "
		     "others, so they could change what is trusted or "
		     "enforced: chmod go-w it", bad);
	return -1;
}

void sg_config_stamp(struct sg_config *conf, const char *config_path,
		     unsigned char stamp[SG_STAMP_SIZE])
{
	static const char *const lists[] = {
		"trust_anchors", "intermediates", "crl_dirs", "pinned_certificates",
		"encryption_policy_maps",
	};
	crypto_generichash_state st;

	sg_assert(conf != NULL && stamp != NULL);
	crypto_generichash_init(&st, NULL, 0, SG_STAMP_SIZE);
	if (config_path != NULL)
		stamp_path(&st, config_path, 1);
	(void)each_path(conf, lists, SG_ARRAY_SIZE(lists), stamp_one, &st);
	crypto_generichash_final(&st, stamp, SG_STAMP_SIZE);
}
