/*
 * replay.c - run a fuzz target over saved inputs, without libFuzzer
 *
 * Usage: fuzz-replay-NAME FILE|DIR...
 *
 * Linked with one fuzz/fuzz-*.c harness by tests/Makefile.am, so that
 * "make check" (and its ASan/UBSan/LSan pass in scripts/test) replays the
 * fuzzers' corpora and every input that once broke something
 * (tests/data/fuzz-corpus, tests/data/fuzz-regress) with gcc alone.  A
 * harness reports a violated invariant by aborting; a sanitizer error
 * ends the process too.  Each input is named on stderr before it runs,
 * so the last name printed is the culprit.  Exit 0 when every input ran
 * (and at least one did), 2 on usage or I/O errors.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* optional, as with libFuzzer; it may change the working directory */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static unsigned long n_inputs;
static int verbose;

static int run_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t size = 0, cap = 0, n;

	if (fp == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (size == cap) {
			unsigned char *nb;

			cap = cap == 0 ? 65536 : cap * 2;
			if ((nb = realloc(buf, cap)) == NULL) {
				fprintf(stderr, "replay: out of memory\n");
				free(buf);
				fclose(fp);
				return -1;
			}
			buf = nb;
		}
		n = fread(buf + size, 1, cap - size, fp);
		size += n;
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		free(buf);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	if (verbose)
		fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
	/* an exact-size copy: reads past the input are caught by ASan */
	{
		unsigned char *exact = malloc(size > 0 ? size : 1);

		if (exact == NULL) {
			free(buf);
			return -1;
		}
		if (size > 0)
			memcpy(exact, buf, size);
		free(buf);
		LLVMFuzzerTestOneInput(exact, size);
		free(exact);
	}
	n_inputs++;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path)
{
	struct stat st;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	DIR *dir;
	int ret = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	if ((dir = opendir(path)) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		size_t len;

		if (de->d_name[0] == '.' || strcmp(de->d_name, "README.md") == 0)
			continue;
		if (n == cap) {
			char **nn;

			cap = cap == 0 ? 64 : cap * 2;
			if ((nn = realloc(names, cap * sizeof(*names))) == NULL) {
				ret = -1;
				break;
			}
			names = nn;
		}
		len = strlen(path) + strlen(de->d_name) + 2;
		if ((names[n] = malloc(len)) == NULL) {
			ret = -1;
			break;
		}
		snprintf(names[n], len, "%s/%s", path, de->d_name);
		n++;
	}
	closedir(dir);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);	/* repeatable */
	for (i = 0; i < n; i++) {
		if (ret == 0 && run_path(names[i]) < 0)
			ret = -1;
		free(names[i]);
	}
	free(names);
	return ret;
}

int main(int argc, char **argv)
{
	char **paths;
	int i, ret = 0;

	verbose = getenv("SG_REPLAY_VERBOSE") != NULL;
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	/* absolute paths first: the harness may chdir() */
	if ((paths = calloc((size_t)argc, sizeof(*paths))) == NULL)
		return 2;
	for (i = 1; i < argc; i++) {
		if ((paths[i] = realpath(argv[i], NULL)) == NULL) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			ret = 2;
		}
	}
	if (ret == 0 && LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc && ret == 0; i++) {
		if (run_path(paths[i]) < 0)
			ret = 2;
	}
	for (i = 1; i < argc; i++)
		free(paths[i]);
	free(paths);
	if (ret == 0 && n_inputs == 0) {
		fprintf(stderr, "replay: no inputs\n");
		ret = 2;
	}
	printf("%s: %lu inputs\n", argv[0], n_inputs);
	return ret;
}
