/*
 * bench-coldstart.c - how long a new process takes to its first verdict
 *
 * Usage: bench-coldstart [--runs N] CONFIG MESSAGE
 *        bench-coldstart --once CONFIG MESSAGE
 *
 * What an LMTP process pays on its first message: load smimeguard.conf,
 * build the context (trust anchors, CRLs, maps as configured), verify one
 * message, and harvest its signer's certificate when harvest_map is set.
 * With --runs N (default 20) the program starts itself N times with
 * --once (posix_spawn, a new process each time: exec, dynamic linking,
 * OpenSSL's and libsodium's initialisation included) and prints, per
 * phase, the median over the runs, and the median wall time of the whole
 * child against a child that does nothing (/bin/true, the floor of
 * starting a process).  --once prints one line of phase times in
 * milliseconds: "init CTX VERIFY HARVEST TOTAL STATUS HARVEST_OUTCOME".
 * The message must verify (signed/verified); anything else aborts.
 * See RESULTS.md ("Cold start") and coldstart.sh, which builds the
 * 200-CA trust store and the 10,000-certificate dir: map.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "smimeguard-admin.h"

extern char **environ;

#define MAX_RUNS 1000

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void die(const char *msg, const char *detail)
{
	fprintf(stderr, "bench-coldstart: %s%s%s\n", msg,
		detail != NULL ? ": " : "", detail != NULL ? detail : "");
	exit(2);
}

static unsigned char *read_file(const char *path, size_t *len_r)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *buf;
	long len;

	if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (len = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0)
		die("cannot read", path);
	if ((buf = malloc((size_t)len + 1)) == NULL ||
	    fread(buf, 1, (size_t)len, fp) != (size_t)len)
		die("cannot read", path);
	fclose(fp);
	*len_r = (size_t)len;
	return buf;
}

/* once - one cold start, in this process */
static int once(const char *config, const char *message)
{
	double t0 = now_ms(), t1, t2, t3, t4;
	struct sg_config *conf = NULL;
	struct sg_ctx *ctx = NULL;
	struct sg_result *res = NULL;
	struct sg_harvest_info hi;
	struct sg_error err;
	unsigned char *msg;
	size_t len;

	memset(&err, 0, sizeof(err));
	if (sg_init() < 0)
		die("sg_init failed", NULL);
	t1 = now_ms();
	if (sg_config_new(&conf) < 0 || sg_config_read(conf, config, &err) < 0 ||
	    sg_ctx_new(conf, &ctx, &err) < 0)
		die("configuration", err.msg);
	sg_config_free(&conf);
	t2 = now_ms();
	msg = read_file(message, &len);
	if (sg_verify_message(ctx, msg, len, 0, &res, &err) < 0)
		die("sg_verify_message", err.msg);
	if (sg_result_status(res) != SG_STATUS_SIGNED_VERIFIED)
		die("not signed/verified", sg_result_detail(res));
	t3 = now_ms();
	if (sg_harvest(ctx, res, 0, &hi, &err) < 0)
		die("sg_harvest", err.msg);
	t4 = now_ms();
	printf("%.3f %.3f %.3f %.3f %.3f %s %s\n", t1 - t0, t2 - t1, t3 - t2,
	       t4 - t3, t4 - t0, sg_status_name(sg_result_status(res)),
	       sg_harvest_outcome_name(hi.outcome));
	sg_result_free(&res);
	sg_ctx_free(&ctx);
	free(msg);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* spawn - run argv, its standard output into out; wall ms */
static double spawn(char *const argv[], char *out, size_t out_size)
{
	posix_spawn_file_actions_t fa;
	int pipefd[2], status;
	double t0;
	pid_t pid;
	size_t used = 0;
	ssize_t n;

	if (pipe(pipefd) < 0)
		die("pipe", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_addclose(&fa, pipefd[0]);
	t0 = now_ms();
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		die("posix_spawn", argv[0]);
	close(pipefd[1]);
	while (used < out_size - 1 &&
	       (n = read(pipefd[0], out + used, out_size - 1 - used)) > 0)
		used += (size_t)n;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		die("a child failed", argv[0]);
	close(pipefd[0]);
	posix_spawn_file_actions_destroy(&fa);
	out[used] = '\0';
	return now_ms() - t0;
}

int main(int argc, char **argv)
{
	static double ph[5][MAX_RUNS], wall[MAX_RUNS], base[MAX_RUNS];
	static const char *const names[5] = {
		"library initialisation (sg_init)",
		"configuration + context (sg_ctx_new)",
		"first verification",
		"first harvest (loads harvest_map)",
		"first verdict and harvest, in the process",
	};
	char self[4096], out[512], status[64] = "", outcome[64] = "";
	char *child[6], *floor_argv[] = { (char *)"/bin/true", NULL };
	int runs = 20, i, k;
	ssize_t n;

	if (argc == 4 && strcmp(argv[1], "--once") == 0)
		return once(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "--runs") == 0) {
		runs = atoi(argv[2]);
		argv += 2;
		argc -= 2;
	}
	if (argc != 3 || runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: bench-coldstart [--runs N] CONFIG MESSAGE\n"
			"       bench-coldstart --once CONFIG MESSAGE\n");
		return 2;
	}
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) < 0)
		die("readlink /proc/self/exe", strerror(errno));
	self[n] = '\0';
	child[0] = self;
	child[1] = (char *)"--once";
	child[2] = argv[1];
	child[3] = argv[2];
	child[4] = NULL;
	(void)spawn(child, out, sizeof(out));	/* warm the page cache */
	for (i = 0; i < runs; i++) {
		wall[i] = spawn(child, out, sizeof(out));
		if (sscanf(out, "%lf %lf %lf %lf %lf %63s %63s", &ph[0][i],
			   &ph[1][i], &ph[2][i], &ph[3][i], &ph[4][i], status,
			   outcome) != 7)
			die("cannot read the child's line", out);
		base[i] = spawn(floor_argv, out, sizeof(out));
	}
	printf("bench-coldstart: libsmimeguard %s, %d runs, medians\n",
	       sg_version(), runs);
	printf("bench-coldstart: config %s, message %s (%s, harvest: %s)\n\n",
	       argv[1], argv[2], status, outcome);
	for (k = 0; k < 5; k++)
		printf("%-45s %8.1f ms\n", names[k], median(ph[k], runs));
	printf("%-45s %8.1f ms\n", "whole process (spawn to exit)",
	       median(wall, runs));
	printf("%-45s %8.1f ms\n", "a process doing nothing (/bin/true)",
	       median(base, runs));
	return 0;
}
