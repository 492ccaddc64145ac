/* suite-dirindex.c - the index file of a dir: map (DIR/.sg-index)
 *
 * A new process takes the records of a large map from its index instead
 * of reading every file; what it finds must be what reading the files
 * finds, a changed file must be read again, and an index that is damaged,
 * writable by others or owned by someone else must be ignored.  Uses
 * data-gen/certmap/ (gen-pki.sh).
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check-suites.h"
#include "sg-base.h"
#include "dirmap-private.h"
#include "test-util.h"

#define N_BOB 300		/* over DM_INDEX_MIN_FILES (256) */

static void put_file(const char *dir, const char *name, const char *rel)
{
	char src[4096], dst[4096];
	unsigned char *data;
	size_t len;
	FILE *fp;

	snprintf(src, sizeof(src), "%s/%s", tu_testdata(), rel);
	data = tu_read(src, &len);
	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	fp = fopen(dst, "wb");	/* in place when it exists */
	ck_assert_msg(fp != NULL, "cannot write %s", dst);
	ck_assert(fwrite(data, 1, len, fp) == len);
	ck_assert(fclose(fp) == 0);
	free(data);
}

/* make_map - a temporary directory of N_BOB copies of bob's certificate */
static void make_map(char *dir)
{
	char name[64];
	size_t i;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	for (i = 0; i < N_BOB; i++) {
		snprintf(name, sizeof(name), "bob-%03zu.pem", i);
		put_file(dir, name, "certmap/bob-2026.pem");
	}
}

/* load - a new map of dir, refreshed: what a new process sees; *read_r
   files read, *from_index_r records taken from the index */
static struct sg_dirmap *load(const char *dir, size_t *read_r,
			      size_t *from_index_r)
{
	struct sg_dirmap *dm = sg_dirmap_new(dir);
	struct sg_error err;

	ck_assert_ptr_nonnull(dm);
	ck_assert_msg(sg_dirmap_refresh(dm, true, &err) == 0, "%s", err.msg);
	*read_r = sg_dirmap_files_read(dm, from_index_r);
	return dm;
}

static size_t count(struct sg_dirmap *dm, const char *addr)
{
	struct sg_dirmap_cert *const *certs;
	size_t n;

	ck_assert_int_eq(sg_dirmap_find(dm, addr, &certs, &n), 0);
	return n;
}

static void index_path(char *buf, size_t size, const char *dir)
{
	snprintf(buf, size, "%s/.sg-index", dir);
}

START_TEST(test_index_written_and_used)
{
	char dir[] = "/tmp/sg-dirindex-XXXXXX", name[64], ix[4200];
	struct sg_dirmap *dm;
	struct stat st;
	size_t rd, fi;

	make_map(dir);
	put_file(dir, "carol.pem", "certmap/carol.pem");

	/* the first process reads every file and writes the index */
	dm = load(dir, &rd, &fi);
	ck_assert_uint_eq(rd, N_BOB + 1);
	ck_assert_uint_eq(fi, 0);
	ck_assert_uint_eq(count(dm, "bob@example.org"), N_BOB);
	ck_assert_uint_eq(count(dm, "carol@example.org"), 1);
	sg_dirmap_free(&dm);
	index_path(ix, sizeof(ix), dir);
	ck_assert_int_eq(stat(ix, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);

	/* the next reads none and finds the same */
	dm = load(dir, &rd, &fi);
	ck_assert_uint_eq(rd, 0);
	ck_assert_uint_eq(fi, N_BOB + 1);
	ck_assert_uint_eq(count(dm, "bob@example.org"), N_BOB);
	ck_assert_uint_eq(count(dm, "carol@example.org"), 1);
	ck_assert_uint_eq(count(dm, "nobody@example.org"), 0);
	ck_assert_uint_eq(sg_dirmap_count(dm), N_BOB + 1);
	sg_dirmap_free(&dm);

	/* a file rewritten in place, the directory unchanged: read again,
	   the index's record of it is not believed */
	put_file(dir, "carol.pem", "certmap/bob-new.pem");
	dm = load(dir, &rd, &fi);
	ck_assert_uint_eq(rd, 1);
	ck_assert_uint_eq(count(dm, "carol@example.org"), 0);
	ck_assert_uint_eq(count(dm, "bob@example.org"), N_BOB + 1);
	sg_dirmap_free(&dm);

	/* a removed file is gone though the index lists it */
	snprintf(name, sizeof(name), "%s/bob-000.pem", dir);
	ck_assert_int_eq(unlink(name), 0);
	dm = load(dir, &rd, &fi);
	ck_assert_uint_eq(rd, 1);	/* carol.pem, still newer than the index */
	ck_assert_uint_eq(count(dm, "bob@example.org"), N_BOB);
	sg_dirmap_free(&dm);
	tu_rm_dir(dir);
}
END_TEST

/* corrupt - flip one byte of the index at off */
static void corrupt(const char *ix, off_t off)
{
	unsigned char c;
	int fd = open(ix, O_RDWR);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &c, 1, off), 1);
	c ^= 0x01;
	ck_assert_int_eq(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

START_TEST(test_index_not_trusted)
{
	char dir[] = "/tmp/sg-dirindex-XXXXXX", ix[4200];
	struct sg_dirmap *dm;
	struct stat st;
	size_t rd, fi;

	make_map(dir);
	index_path(ix, sizeof(ix), dir);
	dm = load(dir, &rd, &fi);
	sg_dirmap_free(&dm);
	ck_assert_int_eq(stat(ix, &st), 0);

	/* damaged (a byte in a certificate, then the checksum): ignored,
	   every file read, and a good index written again */
	corrupt(ix, st.st_size / 2);
	dm = load(dir, &rd, &fi);
	ck_assert_uint_eq(rd, N_BOB);
	ck_assert_uint_eq(fi, 0);
	ck_assert_uint_eq(count(dm, "bob@example.org"), N_BOB);
	sg_dirmap_free(&dm);
	corrupt(ix, st.st_size - 1);
	dm = load(dir, &rd, &fi);
	ck_assert_uint_eq(fi, 0);
	sg_dirmap_free(&dm);
	/* truncated */
	ck_assert_int_eq(truncate(ix, st.st_size - 100), 0);
	dm = load(dir, &rd, &fi);
	ck_assert_uint_eq(fi, 0);
	sg_dirmap_free(&dm);
	dm = load(dir, &rd, &fi);
	ck_assert_uint_eq(fi, N_BOB);	/* rewritten */
	sg_dirmap_free(&dm);

	/* writable by others: whoever could write it is not trusted */
	ck_assert_int_eq(chmod(ix, 0666), 0);
	dm = load(dir, &rd, &fi);
	ck_assert_uint_eq(fi, 0);
	ck_assert_uint_eq(rd, N_BOB);
	sg_dirmap_free(&dm);
	ck_assert_int_eq(stat(ix, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);	/* replaced */

	/* owned by another user than the directory's and ours */
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(ix, 65534, 65534), 0);
		dm = load(dir, &rd, &fi);
		ck_assert_uint_eq(fi, 0);
		ck_assert_uint_eq(rd, N_BOB);
		sg_dirmap_free(&dm);
	}

	/* a symbolic link to a good index is not followed */
	dm = load(dir, &rd, &fi);
	ck_assert_uint_eq(fi, N_BOB);	/* good again */
	sg_dirmap_free(&dm);
	{
		char real[4200];

		snprintf(real, sizeof(real), "%s.real", dir);
		ck_assert_int_eq(rename(ix, real), 0);
		ck_assert_int_eq(symlink(real, ix), 0);
		dm = load(dir, &rd, &fi);
		ck_assert_uint_eq(fi, 0);
		ck_assert_uint_eq(count(dm, "bob@example.org"), N_BOB);
		sg_dirmap_free(&dm);
		unlink(real);
	}
	tu_rm_dir(dir);
}
END_TEST

START_TEST(test_index_small_map)
{
	char dir[] = "/tmp/sg-dirindex-XXXXXX", ix[4200];
	struct sg_dirmap *dm;
	struct stat st;
	size_t rd, fi;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	put_file(dir, "bob.pem", "certmap/bob-2026.pem");
	dm = load(dir, &rd, &fi);
	ck_assert_uint_eq(rd, 1);
	sg_dirmap_free(&dm);
	index_path(ix, sizeof(ix), dir);
	ck_assert_int_eq(stat(ix, &st), -1);	/* not worth one */
	tu_rm_dir(dir);
}
END_TEST

Suite *make_dirindex_suite(void)
{
	Suite *s = suite_create("dirindex");
	TCase *tc = tcase_create("index");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_index_written_and_used);
	tcase_add_test(tc, test_index_not_trusted);
	tcase_add_test(tc, test_index_small_map);
	suite_add_tcase(s, tc);
	return s;
}
