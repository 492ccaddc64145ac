/*
 * bench-verify.c - messages per second of libsmimeguard against the obvious
 * libcrypto code and against one openssl(1) process per message
 *
 * Usage: bench-verify [--seconds N] [--cli-iterations N] [--openssl PATH]
 *                     [--cpu N] [--strict] [--stream BYTES] DATADIR
 *
 * DATADIR is made by gen-bench.sh.  For each algorithm (rsa, ec) and size
 * (2k, 50k, 1m) the program measures, pinned to one CPU:
 *   core       sg_verify_message() on one struct sg_ctx built once (with
 *              --stream BYTES: sg_verify_init/update/final, the message
 *              fed in pieces of BYTES, as the adapters do)
 *   libcrypto  SMIME_read_CMS() + CMS_verify() against an X509_STORE loaded
 *              once (what openssl cms -verify does, minus the process)
 *   cli        one "openssl cms -verify" process per message
 *   floor      SHA-256 over the message's bytes, nothing else (EVP_Digest
 *              with a digest fetched once): no verifier can beat it, and
 *              at 1 MB the core must reach 0.8 of it
 * Every verification is checked; a failure aborts the run.  See RESULTS.md.
 */
#define _GNU_SOURCE		/* sched_setaffinity, CPU_SET */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "smimeguard-admin.h"

extern char **environ;

#define N_ALGS 2
#define N_SIZES 3

static const char *const alg_names[N_ALGS] = { "rsa", "ec" };
static const char *const alg_labels[N_ALGS] = { "RSA-2048", "ECDSA-P256" };
static const char *const size_names[N_SIZES] = { "2k", "50k", "1m" };

/* Targets: core/libcrypto at a size (0 = none), core/cli at every size,
   core/floor at a size (0 = none). */
static const double lib_target[N_SIZES] = { 3.0, 0.0, 10.0 };
static const double floor_target[N_SIZES] = { 0.0, 0.0, 0.8 };
#define CLI_TARGET 25.0

struct options {
	double seconds;
	int cli_iterations;
	char *openssl;
	int cpu;
	int strict;
	const char *dir;
};

struct sample {
	char eml_path[PATH_MAX];
	unsigned char *msg;
	size_t len;
	double core, lib, cli, floor;	/* msg/s; < 0 when not measured */
};

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static void die(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("bench-verify: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void die_openssl(const char *what, const char *name)
{
	fflush(stdout);
	fprintf(stderr, "bench-verify: %s: %s failed; OpenSSL errors:\n",
		name, what);
	ERR_print_errors_fp(stderr);
	die("aborting: a benchmark of a failing verifier is meaningless");
}

static double now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		die("clock_gettime: %s", strerror(errno));
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_path(char *buf, size_t size, const char *dir,
		      const char *alg, const char *suffix)
{
	int n = snprintf(buf, size, "%s/%s-%s", dir, alg, suffix);

	if (n < 0 || (size_t)n >= size)
		die("path too long: %s/%s-%s", dir, alg, suffix);
}

static unsigned char *read_file(const char *path, size_t *len_r)
{
	struct stat st;
	unsigned char *buf;
	size_t len, got = 0;
	FILE *fp = fopen(path, "rb");

	if (fp == NULL)
		die("%s: %s (run gen-bench.sh first)", path, strerror(errno));
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0)
		die("%s: not a non-empty regular file", path);
	len = (size_t)st.st_size;
	if ((buf = malloc(len)) == NULL)
		die("out of memory");
	while (got < len) {
		size_t n = fread(buf + got, 1, len - got, fp);
		if (n == 0)
			die("%s: short read", path);
		got += n;
	}
	fclose(fp);
	*len_r = len;
	return buf;
}

static int pin_cpu(int cpu)
{
	cpu_set_t set;
	int i;

	if (cpu >= 0 && cpu < CPU_SETSIZE) {
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) == 0)
			return cpu;
		fprintf(stderr, "bench-verify: cannot pin to CPU %d: %s\n",
			cpu, strerror(errno));
	}
	/* Fall back to the first CPU we are allowed to run on. */
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return -1;
	for (i = 0; i < CPU_SETSIZE; i++) {
		if (CPU_ISSET(i, &set)) {
			cpu_set_t one;

			CPU_ZERO(&one);
			CPU_SET(i, &one);
			if (sched_setaffinity(0, sizeof(one), &one) == 0)
				return i;
			break;
		}
	}
	return -1;
}

/*
 * Call fn(arg) for a warm-up period, then for `seconds`; return calls per
 * second over the timed period.  The clock is read once per call, which
 * costs tens of nanoseconds against verifications of tens of microseconds
 * or more.
 */
static double run_timed(void (*fn)(void *), void *arg, double seconds)
{
	double warm = seconds / 10.0, start, end, t;
	unsigned long n = 0;

	if (warm < 0.05)
		warm = 0.05;
	if (warm > 0.25)
		warm = 0.25;
	start = now();
	do
		fn(arg);
	while (now() - start < warm);

	start = now();
	do {
		fn(arg);
		n++;
		t = now();
	} while (t - start < seconds);
	end = t;
	return (double)n / (end - start);
}

/* ------------------------------------------------------------------ */
/* a. libsmimeguard                                                    */
/* ------------------------------------------------------------------ */

struct core_arg {
	struct sg_ctx *ctx;
	const unsigned char *msg;
	size_t len;
	const char *name;
};

static void core_fail(const struct core_arg *a, struct sg_result *res)
{
	enum sg_status st = sg_result_status(res);
	const char *name = sg_status_name(st);
	char rl[SG_REASONS_SIZE];

	fflush(stdout);
	fprintf(stderr, "bench-verify: %s: sg_verify_message status %s, "
		"expected signed/verified\n", a->name,
		name != NULL ? name : "(invalid)");
	(void)sg_reasons_format(sg_result_reasons(res), " ", rl, sizeof(rl));
	fprintf(stderr, "bench-verify:   reasons:%s%s\n", rl[0] != '\0' ? " " : "",
		rl);
	fprintf(stderr, "bench-verify:   detail: %s\n",
		sg_result_detail(res));
	die("aborting: a benchmark of a failing verifier is meaningless");
}

/* --stream: feed the core's stream in pieces of this many bytes */
static size_t stream_chunk;

static void core_once(void *p)
{
	const struct core_arg *a = p;
	struct sg_result *res = NULL;
	struct sg_error err;

	memset(&err, 0, sizeof(err));
	if (stream_chunk > 0) {
		struct sg_verify_stream *vs = NULL;
		size_t off, n;

		if (sg_verify_init(a->ctx, 0, &vs, &err) != 0)
			die("%s: sg_verify_init failed: %s", a->name, err.msg);
		for (off = 0; off < a->len; off += n) {
			n = a->len - off < stream_chunk ? a->len - off :
			    stream_chunk;
			if (sg_verify_update(vs, a->msg + off, n, &err) != 0)
				die("%s: sg_verify_update failed: %s", a->name,
				    err.msg);
		}
		if (sg_verify_final(vs, &res, &err) != 0)
			die("%s: sg_verify_final failed: %s", a->name, err.msg);
		sg_verify_free(&vs);
	} else if (sg_verify_message(a->ctx, a->msg, a->len, 0, &res,
				     &err) != 0) {
		die("%s: sg_verify_message failed: %s", a->name, err.msg);
	}
	if (sg_result_status(res) != SG_STATUS_SIGNED_VERIFIED)
		core_fail(a, res);
	sg_result_free(&res);
}

static struct sg_ctx *core_ctx_new(const char *root_path)
{
	struct sg_config *conf = NULL;
	struct sg_ctx *ctx = NULL;
	struct sg_error err;

	memset(&err, 0, sizeof(err));
	if (sg_config_new(&conf) != 0)
		die("sg_config_new: out of memory");
	if (sg_config_set(conf, "trust_anchors", root_path, &err) != 0 ||
	    sg_config_set(conf, "revocation_check", "none", &err) != 0)
		die("sg_config_set: %s", err.msg);
	if (sg_ctx_new(conf, &ctx, &err) != 0)
		die("sg_ctx_new: %s", err.msg);
	sg_config_free(&conf);
	return ctx;
}

/* ------------------------------------------------------------------ */
/* b. The obvious libcrypto code                                       */
/* ------------------------------------------------------------------ */

struct lib_arg {
	X509_STORE *store;
	const unsigned char *msg;
	size_t len;
	const char *name;
};

static void lib_once(void *p)
{
	const struct lib_arg *a = p;
	BIO *in, *dcont = NULL;
	CMS_ContentInfo *cms;

	if ((in = BIO_new_mem_buf(a->msg, (int)a->len)) == NULL)
		die_openssl("BIO_new_mem_buf", a->name);
	if ((cms = SMIME_read_CMS(in, &dcont)) == NULL)
		die_openssl("SMIME_read_CMS", a->name);
	if (CMS_verify(cms, NULL, a->store, dcont, NULL, 0) != 1)
		die_openssl("CMS_verify", a->name);
	CMS_ContentInfo_free(cms);
	BIO_free(dcont);
	BIO_free(in);
}

/* ------------------------------------------------------------------ */
/* c. The floor: SHA-256 over the same bytes                           */
/* ------------------------------------------------------------------ */

struct floor_arg {
	EVP_MD *md;
	const unsigned char *msg;
	size_t len;
};

static void floor_once(void *p)
{
	const struct floor_arg *a = p;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n;

	if (EVP_Digest(a->msg, a->len, md, &n, a->md, NULL) != 1)
		die("EVP_Digest failed");
}

static X509_STORE *lib_store_new(const char *root_path)
{
	X509_STORE *store = X509_STORE_new();

	if (store == NULL)
		die_openssl("X509_STORE_new", root_path);
	if (X509_STORE_load_file(store, root_path) != 1)
		die_openssl("X509_STORE_load_file", root_path);
	/* The S/MIME signing purpose, as openssl cms -verify uses. */
	if (X509_STORE_set_purpose(store, X509_PURPOSE_SMIME_SIGN) != 1)
		die_openssl("X509_STORE_set_purpose", root_path);
	return store;
}

/* ------------------------------------------------------------------ */
/* c. One openssl(1) process per message                               */
/* ------------------------------------------------------------------ */

struct cli_arg {
	char *argv[10];
	posix_spawn_file_actions_t fa;
	const char *name;
};

static void cli_init(struct cli_arg *a, char *openssl, char *eml_path,
		     char *root_path, const char *name)
{
	static char s_cms[] = "cms", s_verify[] = "-verify", s_in[] = "-in",
		s_cafile[] = "-CAfile", s_out[] = "-out",
		s_devnull[] = "/dev/null";
	int rc;

	a->argv[0] = openssl;
	a->argv[1] = s_cms;
	a->argv[2] = s_verify;
	a->argv[3] = s_in;
	a->argv[4] = eml_path;
	a->argv[5] = s_cafile;
	a->argv[6] = root_path;
	a->argv[7] = s_out;
	a->argv[8] = s_devnull;
	a->argv[9] = NULL;
	a->name = name;
	/* "CMS Verification successful" goes to stderr: discard it. */
	if ((rc = posix_spawn_file_actions_init(&a->fa)) != 0 ||
	    (rc = posix_spawn_file_actions_addopen(&a->fa, STDIN_FILENO,
			"/dev/null", O_RDONLY, 0)) != 0 ||
	    (rc = posix_spawn_file_actions_addopen(&a->fa, STDOUT_FILENO,
			"/dev/null", O_WRONLY, 0)) != 0 ||
	    (rc = posix_spawn_file_actions_addopen(&a->fa, STDERR_FILENO,
			"/dev/null", O_WRONLY, 0)) != 0)
		die("posix_spawn_file_actions: %s", strerror(rc));
}

static void cli_once(void *p)
{
	const struct cli_arg *a = p;
	pid_t pid;
	int rc, status;

	rc = posix_spawnp(&pid, a->argv[0], &a->fa, NULL, a->argv, environ);
	if (rc != 0)
		die("%s: cannot run %s: %s", a->name, a->argv[0],
		    strerror(rc));
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fflush(stdout);
		fprintf(stderr, "bench-verify: %s: openssl cms -verify %s "
			"%d; to see why, run:\n  %s cms -verify -in %s "
			"-CAfile %s -out /dev/null\n", a->name,
			WIFEXITED(status) ? "exited with status" :
			"was killed by signal",
			WIFEXITED(status) ? WEXITSTATUS(status) :
			WTERMSIG(status), a->argv[0], a->argv[4], a->argv[6]);
		die("aborting: a benchmark of a failing verifier is "
		    "meaningless");
	}
}

static double cli_run(struct cli_arg *a, int iterations)
{
	double start, end;
	int i;

	cli_once(a);		/* warm-up: page cache, dynamic loader */
	cli_once(a);
	start = now();
	for (i = 0; i < iterations; i++)
		cli_once(a);
	end = now();
	return (double)iterations / (end - start);
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

static void fmt_rate(char *buf, size_t size, double v)
{
	if (v < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.1f", v);
}

static void fmt_ratio(char *buf, size_t size, double a, double b)
{
	if (a < 0 || b <= 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, a / b < 10 ? "%.2fx" : "%.1fx", a / b);
}

/* "-" when no target applies; otherwise ">=3x yes" / ">=3x NO" */
static const char *fmt_target(char *buf, size_t size, double a, double b,
			      double target, int *checked, int *missed)
{
	if (target <= 0)
		snprintf(buf, size, "-");
	else if (a < 0 || b <= 0)
		snprintf(buf, size, target < 1 ? ">=%.1fx n/a" : ">=%.0fx n/a",
			 target);
	else {
		int ok = a / b >= target;

		(*checked)++;
		if (!ok)
			(*missed)++;
		snprintf(buf, size, target < 1 ? ">=%.1fx %s" : ">=%.0fx %s",
			 target, ok ? "yes" : "NO");
	}
	return buf;
}

#define ROW_FMT "%-10s %-4s %9s %11s %15s %9s %11s %14s %9s %10s %11s %11s %12s\n"

static void print_header(void)
{
	printf(ROW_FMT, "algorithm", "size", "bytes", "core msg/s",
	       "libcrypto msg/s", "cli msg/s", "floor msg/s", "core/libcrypto",
	       "core/cli", "core/floor", "lib target", "cli target",
	       "floor target");
	printf(ROW_FMT, "---------", "----", "-----", "----------",
	       "---------------", "---------", "-----------", "--------------",
	       "--------", "----------", "----------", "----------",
	       "------------");
}

static void print_row(int alg, int size, const struct sample *s,
		      int *checked, int *missed)
{
	char bytes[32], core[32], lib[32], cli[32], flo[32];
	char r_lib[32], r_cli[32], r_flo[32], t_lib[32], t_cli[32], t_flo[32];

	snprintf(bytes, sizeof(bytes), "%zu", s->len);
	fmt_rate(core, sizeof(core), s->core);
	fmt_rate(lib, sizeof(lib), s->lib);
	fmt_rate(cli, sizeof(cli), s->cli);
	fmt_rate(flo, sizeof(flo), s->floor);
	fmt_ratio(r_lib, sizeof(r_lib), s->core, s->lib);
	fmt_ratio(r_cli, sizeof(r_cli), s->core, s->cli);
	fmt_ratio(r_flo, sizeof(r_flo), s->core, s->floor);
	fmt_target(t_lib, sizeof(t_lib), s->core, s->lib, lib_target[size],
		   checked, missed);
	fmt_target(t_cli, sizeof(t_cli), s->core, s->cli, CLI_TARGET,
		   checked, missed);
	fmt_target(t_flo, sizeof(t_flo), s->core, s->floor, floor_target[size],
		   checked, missed);
	printf(ROW_FMT, alg_labels[alg], size_names[size], bytes, core, lib,
	       cli, flo, r_lib, r_cli, r_flo, t_lib, t_cli, t_flo);
	fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* main                                                                */
/* ------------------------------------------------------------------ */

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: bench-verify [--seconds N] [--cli-iterations N] "
		"[--openssl PATH]\n"
		"                    [--cpu N] [--strict] DATADIR\n"
		"  --seconds N         timed run per measurement (default 2)\n"
		"  --cli-iterations N  openssl processes per size (default 30;"
		" 0 skips)\n"
		"  --openssl PATH      the openssl CLI (default: openssl in "
		"PATH)\n"
		"  --cpu N             CPU to pin to (default 0)\n"
		"  --strict            exit 2 when a target is missed\n"
		"  --stream BYTES      core: the streaming API, BYTES a piece\n"
		"DATADIR is written by gen-bench.sh.\n");
}

static char *need_arg(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc) {
		usage(stderr);
		die("%s needs an argument", argv[*i]);
	}
	return argv[++*i];
}

static void parse_args(int argc, char **argv, struct options *o)
{
	static char default_openssl[] = "openssl";
	int i;
	char *end;

	o->seconds = 2.0;
	o->cli_iterations = 30;
	o->openssl = default_openssl;
	o->cpu = 0;
	o->strict = 0;
	o->dir = NULL;
	for (i = 1; i < argc; i++) {
		const char *v;

		if (strcmp(argv[i], "--seconds") == 0) {
			v = need_arg(argc, argv, &i);
			o->seconds = strtod(v, &end);
			if (*end != '\0' || !(o->seconds > 0) ||
			    o->seconds > 3600)
				die("bad --seconds: %s", v);
		} else if (strcmp(argv[i], "--cli-iterations") == 0) {
			long n;

			v = need_arg(argc, argv, &i);
			n = strtol(v, &end, 10);
			if (*end != '\0' || n < 0 || n > 100000)
				die("bad --cli-iterations: %s", v);
			o->cli_iterations = (int)n;
		} else if (strcmp(argv[i], "--openssl") == 0) {
			o->openssl = need_arg(argc, argv, &i);
		} else if (strcmp(argv[i], "--cpu") == 0) {
			long n;

			v = need_arg(argc, argv, &i);
			n = strtol(v, &end, 10);
			if (*end != '\0' || n < 0 || n >= CPU_SETSIZE)
				die("bad --cpu: %s", v);
			o->cpu = (int)n;
		} else if (strcmp(argv[i], "--strict") == 0) {
			o->strict = 1;
		} else if (strcmp(argv[i], "--stream") == 0) {
			long n;

			v = need_arg(argc, argv, &i);
			n = strtol(v, &end, 10);
			if (*end != '\0' || n < 1 || n > 1 << 30)
				die("bad --stream: %s", v);
			stream_chunk = (size_t)n;
		} else if (strcmp(argv[i], "-h") == 0 ||
			   strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			exit(0);
		} else if (argv[i][0] == '-' || o->dir != NULL) {
			usage(stderr);
			exit(2);
		} else {
			o->dir = argv[i];
		}
	}
	if (o->dir == NULL) {
		usage(stderr);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	static struct sample samples[N_ALGS][N_SIZES];
	static char root_paths[N_ALGS][PATH_MAX];
	struct options o;
	char policy[512];
	int alg, size, cpu, checked = 0, missed = 0;
	EVP_MD *sha256;

	parse_args(argc, argv, &o);

	/* Load everything first so a missing file fails before any timing. */
	for (alg = 0; alg < N_ALGS; alg++) {
		size_t len;

		make_path(root_paths[alg], PATH_MAX, o.dir, alg_names[alg],
			  "root.pem");
		free(read_file(root_paths[alg], &len));
		for (size = 0; size < N_SIZES; size++) {
			struct sample *s = &samples[alg][size];
			char suffix[16];

			snprintf(suffix, sizeof(suffix), "%s.eml",
				 size_names[size]);
			make_path(s->eml_path, PATH_MAX, o.dir,
				  alg_names[alg], suffix);
			s->msg = read_file(s->eml_path, &s->len);
			if (s->len > INT_MAX)
				die("%s: too large", s->eml_path);
			s->core = s->lib = s->cli = s->floor = -1;
		}
	}

	if (sg_init() < 0)
		die("sg_init failed");
	cpu = pin_cpu(o.cpu);

	printf("bench-verify: libsmimeguard %s, %s\n", sg_version(),
	       OpenSSL_version(OPENSSL_VERSION));
	if (cpu >= 0)
		printf("bench-verify: pinned to CPU %d (CLI children inherit "
		       "it)\n", cpu);
	else
		printf("bench-verify: WARNING: could not pin to a CPU\n");
	printf("bench-verify: %.1f s per core/libcrypto measurement, %d "
	       "openssl processes per CLI measurement\n",
	       o.seconds, o.cli_iterations);
	printf("bench-verify: data %s\n\n", o.dir);
	print_header();

	if ((sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		die("EVP_MD_fetch(SHA256) failed");
	for (alg = 0; alg < N_ALGS; alg++) {
		struct sg_ctx *ctx = core_ctx_new(root_paths[alg]);
		X509_STORE *store = lib_store_new(root_paths[alg]);

		if (alg == 0 && sg_ctx_policy(ctx, policy, sizeof(policy)) < 0)
			snprintf(policy, sizeof(policy), "(too long)");
		for (size = 0; size < N_SIZES; size++) {
			struct sample *s = &samples[alg][size];
			const char *name = s->eml_path;
			struct core_arg ca = { ctx, s->msg, s->len, name };
			struct lib_arg la = { store, s->msg, s->len, name };
			struct floor_arg fa = { sha256, s->msg, s->len };

			/* One checked run of each before any timing. */
			core_once(&ca);
			lib_once(&la);
			s->core = run_timed(core_once, &ca, o.seconds);
			s->lib = run_timed(lib_once, &la, o.seconds);
			s->floor = run_timed(floor_once, &fa, o.seconds);
			if (o.cli_iterations > 0) {
				struct cli_arg cl;

				cli_init(&cl, o.openssl, s->eml_path,
					 root_paths[alg], name);
				s->cli = cli_run(&cl, o.cli_iterations);
				posix_spawn_file_actions_destroy(&cl.fa);
			}
			print_row(alg, size, s, &checked, &missed);
		}
		X509_STORE_free(store);
		sg_ctx_free(&ctx);
	}

	printf("\ncore policy (%s context): %s\n", alg_labels[0], policy);
	printf("targets: core >= 3x libcrypto at 2k, >= 10x libcrypto at 1m, "
	       ">= 25x cli at every size, >= 0.8x the SHA-256 floor at 1m\n");
	if (checked == 0)
		printf("targets: none checked\n");
	else if (missed == 0)
		printf("targets: all %d met\n", checked);
	else
		printf("targets: %d of %d MISSED\n", missed, checked);

	EVP_MD_free(sha256);
	for (alg = 0; alg < N_ALGS; alg++)
		for (size = 0; size < N_SIZES; size++)
			free(samples[alg][size].msg);
	return o.strict && missed > 0 ? 2 : 0;
}
