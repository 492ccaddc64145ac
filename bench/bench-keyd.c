/* bench-keyd.c - decrypt-to-verify messages/s through smime-keyd against
 * the same work in-process, in the same run (issue 15 item 7)
 *
 *	bench-keyd [--seconds S] [--clients N] CONFIG OWNER MESSAGE
 *
 * CONFIG names the trust anchors, keystore_dir, keystore_master_key and
 * keyd_socket of a running smime-keyd (bench-keyd.sh sets it all up).
 * Three figures: sg_keystore_verify in one loop (1 thread), the same in N
 * threads, and N client threads each sending MESSAGE to smime-keyd
 * through the core client (sg_verify_set_owner, as the Dovecot plugin);
 * every verdict must be encrypted+signed/verified or the run fails.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smimeguard-admin.h"

static struct sg_ctx *ctx;
static struct sg_keystore *ks;
static const char *owner;
static unsigned char *msg;
static size_t msg_len;
static double seconds = 5;
static atomic_bool stop;
static atomic_ulong done, wrong;

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *inproc(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		struct sg_result *res = NULL;
		struct sg_error err;
		char fpr[65];

		if (sg_keystore_verify(ctx, ks, owner, msg, msg_len, 0, &res,
				       fpr, &err) < 0 ||
		    sg_result_status(res) != SG_STATUS_ENCRYPTED_SIGNED_VERIFIED)
			atomic_fetch_add(&wrong, 1);
		else
			atomic_fetch_add(&done, 1);
		sg_result_free(&res);
	}
	return NULL;
}

static void *viakeyd(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		struct sg_verify_stream *vs = NULL;
		struct sg_result *res = NULL;
		struct sg_error err;

		if (sg_verify_init(ctx, 0, &vs, &err) < 0 ||
		    sg_verify_set_owner(vs, owner, &err) < 0 ||
		    sg_verify_update(vs, msg, msg_len, &err) < 0 ||
		    sg_verify_final(vs, &res, &err) < 0 ||
		    sg_result_status(res) != SG_STATUS_ENCRYPTED_SIGNED_VERIFIED) {
			if (res != NULL && atomic_fetch_add(&wrong, 1) == 0)
				fprintf(stderr, "bench-keyd: %s\n",
					sg_result_detail(res));
		} else {
			atomic_fetch_add(&done, 1);
		}
		sg_result_free(&res);
		sg_verify_free(&vs);
	}
	return NULL;
}

/* rate - messages/s of fn in n threads */
static double rate(void *(*fn)(void *), unsigned int n)
{
	pthread_t t[256];
	double start, el;
	unsigned int i;

	atomic_store(&stop, false);
	atomic_store(&done, 0);
	atomic_store(&wrong, 0);
	start = now();
	for (i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, fn, NULL) != 0)
			exit(2);
	while (now() - start < seconds) {
		struct timespec ts = { 0, 50000000 };

		nanosleep(&ts, NULL);
	}
	atomic_store(&stop, true);
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	el = now() - start;
	if (atomic_load(&wrong) != 0) {
		fprintf(stderr, "bench-keyd: %lu verdicts were not "
			"encrypted+signed/verified\n", atomic_load(&wrong));
		exit(1);
	}
	return (double)atomic_load(&done) / el;
}

int main(int argc, char **argv)
{
	struct sg_config *conf;
	struct sg_master *master = NULL;
	struct sg_error err;
	unsigned int clients = 4;
	const char *v;
	double r1, rn, rk;
	FILE *f;
	int i = 1;

	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (i + 1 >= argc)
			return 2;
		if (strcmp(argv[i], "--seconds") == 0)
			seconds = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--clients") == 0)
			clients = (unsigned int)atoi(argv[i + 1]);
		else
			return 2;
	}
	if (argc - i != 3 || clients == 0 || clients > 256 || seconds <= 0) {
		fprintf(stderr, "usage: bench-keyd [--seconds S] [--clients N] "
			"CONFIG OWNER MESSAGE\n");
		return 2;
	}
	owner = argv[i + 1];
	if ((f = fopen(argv[i + 2], "rb")) == NULL ||
	    (msg = malloc(16 << 20)) == NULL)
		return 2;
	msg_len = fread(msg, 1, 16 << 20, f);
	fclose(f);
	if (sg_init() < 0 || sg_config_new(&conf) < 0 ||
	    sg_config_read(conf, argv[i], &err) < 0 ||
	    sg_ctx_new(conf, &ctx, &err) < 0 ||
	    (v = sg_config_get(conf, "keystore_master_key")) == NULL ||
	    sg_master_load(v, NULL, 0, &master, &err) < 0 ||
	    (v = sg_config_get(conf, "keystore_dir")) == NULL ||
	    sg_keystore_open(v, master, false, &ks, &err) < 0) {
		fprintf(stderr, "bench-keyd: %s\n", err.msg);
		return 2;
	}
	r1 = rate(inproc, 1);
	rn = rate(inproc, clients);
	rk = rate(viakeyd, clients);
	printf("message: %zu bytes, %.0f s per figure\n", msg_len, seconds);
	printf("in-process, 1 thread:        %8.1f msgs/s\n", r1);
	printf("in-process, %3u threads:     %8.1f msgs/s\n", clients, rn);
	printf("through smime-keyd, %3u clients: %8.1f msgs/s\n", clients, rk);
	printf("ratio keyd/in-process (%u): %.2f; keyd/in-process (1): %.2f\n",
	       clients, rk / rn, rk / r1);
	sg_keystore_free(&ks);
	sg_master_free(&master);
	sg_ctx_free(&ctx);
	sg_config_free(&conf);
	free(msg);
	return 0;
}
