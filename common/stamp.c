/* stamp.c - has anything the configuration reads changed on disk?
 *
 * A digest over the mtime, size and inode of smimeguard.conf and of every
 * file and directory (with its entries) named by trust_anchors,
 * intermediates, crl_dirs and encryption_policy_maps.  Daemons and the
 * Dovecot plugin compare it now and then and rebuild their context when
 * it differs.  (dir: certificate maps reload themselves.)
 */
#include "sg-private.h"

#include <dirent.h>
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

void sg_config_stamp(struct sg_config *conf, const char *config_path,
		     unsigned char stamp[SG_STAMP_SIZE])
{
	static const char *const lists[] = {
		"trust_anchors", "intermediates", "crl_dirs", "pinned_certificates",
		"encryption_policy_maps",
	};
	crypto_generichash_state st;
	char item[4096];
	size_t i;

	sg_assert(conf != NULL && stamp != NULL);
	crypto_generichash_init(&st, NULL, 0, SG_STAMP_SIZE);
	if (config_path != NULL)
		stamp_path(&st, config_path, 1);
	for (i = 0; i < SG_ARRAY_SIZE(lists); i++) {
		const char *p = sg_config_get(conf, lists[i]);

		while (p != NULL && *p != '\0') {
			size_t len;

			p += strspn(p, ", \t\r\n");
			len = strcspn(p, ", \t\r\n");
			if (len == 0)
				break;
			if (len < sizeof(item)) {
				memcpy(item, p, len);
				item[len] = '\0';
				stamp_path(&st, strncmp(item, "texthash:", 9) == 0 ?
					   item + 9 : item, 0);
			}
			p += len;
		}
	}
	crypto_generichash_final(&st, stamp, SG_STAMP_SIZE);
}
