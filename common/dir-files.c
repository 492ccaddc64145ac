/*
 * dir-files.c - the files of a directory of certificates or CRLs
 *
 * One definition of which files of a trust_anchors, intermediates or
 * crl_dirs directory count, for the loader (trust.c), smimectl doctor
 * (doctor.c, which must check exactly what is loaded) and smimectl
 * inventory (inventory.c): regular files (links followed) whose name
 * does not start with ".", in readdir order.
 */
#include "sg-base.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>

int sg_dir_files(DIR *dir, const char *path,
		 int (*fn)(void *context, const char *file), void *context)
{
	struct dirent *de;
	char full[4096];
	int ret = 0;

	sg_assert(dir != NULL && path != NULL && fn != NULL);
	while (ret == 0 && (de = readdir(dir)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(full, sizeof(full), "%s/%s", path,
				     de->d_name) >= sizeof(full))
			continue;
		if (stat(full, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		ret = fn(context, full);
	}
	return ret;
}
