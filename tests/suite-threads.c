/* suite-threads.c - one context shared by many threads at once
 *
 * smime-milter verifies every message of every SMTP session against one
 * context, from libmilter's threads, without a lock of its own.  These
 * tests run the same work on one context from THREADS threads and from
 * one, and compare: every verdict and every certificate lookup must be
 * one the single-threaded run gave, and what the context learned on the
 * way (intermediate cache, harvested certificates) must end up the same.
 * Built with -fsanitize=thread they also show data races.
 */
#include "config.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check-suites.h"
#include "smimeguard.h"
#include "test-util.h"

#define THREADS 8
#define ROUNDS 3
#define MAX_MSGS 128

struct msg {
	char name[64];
	unsigned char *data;
	size_t len;
};

/* a verdict or a lookup answer, comparable */
struct outcome {
	int ret;		/* sg_verify_message / sg_cert_lookup */
	enum sg_status status;
	uint32_t reasons;
	size_t usable;
	int policy;		/* sg_policy_check_message for bob */
	const char *violation;
};

static const char *const addrs[] = {
	"alice@example.org", "bob@example.org", "Bob@Example.org",
	"frank@example.org", "revoked@example.org", "expired@example.org",
	"nobody@example.org", "bob@example.com",
};
#define N_ADDRS (sizeof(addrs) / sizeof(addrs[0]))

static struct msg msgs[MAX_MSGS];
static size_t n_msgs;
static pthread_barrier_t start;	/* every thread begins at once */

static void load_dir(const char *rel)
{
	char dir[4096], path[4200];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", tu_testdata(), rel);
	ck_assert_msg((d = opendir(dir)) != NULL, "%s", dir);
	while ((de = readdir(d)) != NULL && n_msgs < MAX_MSGS) {
		size_t len = strlen(de->d_name);

		if (len < 5 || strcmp(de->d_name + len - 4, ".eml") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		snprintf(msgs[n_msgs].name, sizeof(msgs[n_msgs].name), "%s/%s",
			 rel, de->d_name);
		msgs[n_msgs].data = tu_read(path, &msgs[n_msgs].len);
		n_msgs++;
	}
	closedir(d);
}

static void free_msgs(void)
{
	size_t i;

	for (i = 0; i < n_msgs; i++)
		free(msgs[i].data);
	n_msgs = 0;
}

/* a context with every shared, changing part switched on: a dir: map,
   harvesting, an intermediate cache and no configured intermediates
   (so paths are learned as mail arrives) */
struct world {
	char top[256], icache[300], harvest[300], policy[300];
	struct sg_ctx *ctx;
	struct sg_policy *pol;	/* example.org must be encrypted to */
};

static void world_new(struct world *w)
{
	char settings[4096];

	snprintf(w->top, sizeof(w->top), "%s/sg-threads-XXXXXX",
		 getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	ck_assert(mkdtemp(w->top) != NULL);
	snprintf(w->icache, sizeof(w->icache), "%s/icache", w->top);
	snprintf(w->harvest, sizeof(w->harvest), "%s/harvest", w->top);
	ck_assert(mkdir(w->icache, 0755) == 0 && mkdir(w->harvest, 0755) == 0);
	snprintf(settings, sizeof(settings),
		 "trust_anchors=trust crl_dirs=crl certificate_maps=dir:%s/certmap "
		 "harvest_map=dir:%s intermediate_cache=%s aia_fetch=cache-only",
		 tu_testdata(), w->harvest, w->icache);
	w->ctx = tu_ctx(settings, tu_testdata());
	/* the policy smime-milter applies at end of data, for bob */
	{
		struct sg_config *conf;
		struct sg_error err;
		FILE *fp;

		snprintf(w->policy, sizeof(w->policy), "%s/policy", w->top);
		ck_assert_ptr_nonnull(fp = fopen(w->policy, "w"));
		fputs("example.org encrypt\n* none\n", fp);
		fclose(fp);
		ck_assert(sg_config_new(&conf) == 0);
		ck_assert(sg_config_set(conf, "internal_domains", "example.net",
					&err) == 0);
		ck_assert(sg_config_set(conf, "encryption_policy_maps", w->policy,
					&err) == 0);
		ck_assert_msg(sg_policy_new(conf, &w->pol, &err) == 0, "%s",
			      err.msg);
		sg_config_free(&conf);
	}
}

static void world_free(struct world *w)
{
	char pending[400];

	sg_ctx_free(&w->ctx);
	sg_policy_free(&w->pol);
	(void)unlink(w->policy);
	snprintf(pending, sizeof(pending), "%s/pending", w->icache);
	tu_rm_dir(pending);
	tu_rm_dir(w->icache);
	tu_rm_dir(w->harvest);
	tu_rm_dir(w->top);
}

static struct outcome verify_one(const struct world *w, const struct msg *m)
{
	struct outcome o = { 0 };
	struct sg_result *res = NULL;
	struct sg_harvest_info hi;
	struct sg_policy_envelope env = { 0 };
	struct sg_policy_decision d;
	struct sg_error err;
	char why[400];
	struct sg_ctx *ctx = w->ctx;

	o.ret = sg_verify_message(ctx, m->data, m->len, 0, &res, &err);
	if (o.ret == 0) {
		o.status = sg_result_status(res);
		o.reasons = sg_result_reasons(res);
		/* the milter's end-of-data check: a certificate lookup and,
		   for encrypted mail, a match against its RecipientInfos */
		env.sender = "alice@example.org";
		env.recipient = "bob@example.org";
		o.policy = sg_policy_check_message(w->pol, ctx, &env, res, 0,
						   &d, why, sizeof(why), &err);
		o.violation = d.violation;
		/* harvesting writes into the shared map: its outcome depends
		   on the order, what is stored in the end must not */
		if (sg_harvest(ctx, res, 0, &hi, &err) < 0)
			o.ret = -2;
		sg_result_free(&res);
	}
	return o;
}

static struct outcome lookup_one(struct sg_ctx *ctx, const char *addr)
{
	struct outcome o = { 0 };
	struct sg_cert_set *set = NULL;
	struct sg_error err;

	o.ret = sg_cert_lookup(ctx, addr, 0, &set, &err);
	if (set != NULL)
		o.usable = sg_cert_set_usable_count(set);
	sg_cert_set_free(&set);
	return o;
}

static bool same(const struct outcome *a, const struct outcome *b)
{
	return a->ret == b->ret && a->status == b->status &&
	       a->reasons == b->reasons && a->usable == b->usable &&
	       a->policy == b->policy &&
	       (a->violation == NULL) == (b->violation == NULL) &&
	       (a->violation == NULL || strcmp(a->violation, b->violation) == 0);
}

/* what one thread saw: its outcomes, per round and item */
struct job {
	pthread_t tid;
	const struct world *w;
	unsigned int seed;
	struct outcome verdicts[ROUNDS][MAX_MSGS];
	struct outcome lookups[ROUNDS][N_ADDRS];
};

static void *worker(void *arg)
{
	struct job *j = arg;
	size_t r, k;

	(void)pthread_barrier_wait(&start);
	for (r = 0; r < ROUNDS; r++) {
		/* each thread its own order, lookups between messages */
		for (k = 0; k < n_msgs; k++) {
			size_t i = (k * 7 + j->seed + r) % n_msgs;

			j->verdicts[r][i] = verify_one(j->w, &msgs[i]);
			if (k % 4 == 0) {
				size_t a = (k / 4 + j->seed) % N_ADDRS;

				j->lookups[r][a] = lookup_one(j->w->ctx, addrs[a]);
			}
		}
		for (k = 0; k < N_ADDRS; k++)
			j->lookups[r][k] = lookup_one(j->w->ctx, addrs[k]);
	}
	return NULL;
}

/* the sorted names of the files in dir, one string */
static void dir_listing(const char *dir, char *out, size_t size)
{
	struct dirent **list;
	int n, i;

	out[0] = '\0';
	ck_assert((n = scandir(dir, &list, NULL, alphasort)) >= 0);
	for (i = 0; i < n; i++) {
		if (list[i]->d_name[0] != '.') {
			strncat(out, list[i]->d_name, size - strlen(out) - 1);
			strncat(out, " ", size - strlen(out) - 1);
		}
		free(list[i]);
	}
	free(list);
}

START_TEST(test_shared_context)
{
	static struct outcome cold[MAX_MSGS], first[MAX_MSGS], settled[MAX_MSGS];
	static struct outcome look_first[N_ADDRS], look_settled[N_ADDRS];
	static struct job jobs[THREADS];
	static char list_a[65536], list_b[65536];
	struct world a, b;
	size_t i, r, t, checked = 0;

	load_dir("msg");
	load_dir("interop");
	ck_assert_uint_ge(n_msgs, 40);

	/* one thread: what a fresh context says of each message alone, and
	   what one says once it has seen them all and learned from them */
	for (i = 0; i < n_msgs; i++) {
		world_new(&a);
		cold[i] = verify_one(&a, &msgs[i]);
		world_free(&a);
	}
	world_new(&a);
	for (i = 0; i < N_ADDRS; i++)
		look_first[i] = lookup_one(a.ctx, addrs[i]);
	for (i = 0; i < n_msgs; i++)
		first[i] = verify_one(&a, &msgs[i]);
	for (i = 0; i < n_msgs; i++) {
		settled[i] = verify_one(&a, &msgs[i]);
		ck_assert_msg(cold[i].ret == 0 && first[i].ret == 0 &&
			      settled[i].ret == 0,
			      "%s: %d", msgs[i].name, settled[i].ret);
	}
	for (i = 0; i < N_ADDRS; i++)
		look_settled[i] = lookup_one(a.ctx, addrs[i]);
	/* the policy check has both answers among these messages */
	{
		size_t ok = 0, refused = 0;

		for (i = 0; i < n_msgs; i++) {
			ok += settled[i].policy == 1;
			refused += settled[i].policy == 0;
		}
		ck_assert_msg(ok > 0 && refused > 0, "policy: %zu satisfied, "
			      "%zu violated", ok, refused);
	}
	/* the learning this test races on does happen */
	ck_assert_uint_gt(sg_ctx_cached_intermediates(a.ctx), 0);

	/* THREADS threads on one fresh context */
	world_new(&b);
	ck_assert(pthread_barrier_init(&start, NULL, THREADS) == 0);
	for (t = 0; t < THREADS; t++) {
		jobs[t].w = &b;
		jobs[t].seed = (unsigned int)t * 5;
		ck_assert(pthread_create(&jobs[t].tid, NULL, worker, &jobs[t]) == 0);
	}
	for (t = 0; t < THREADS; t++)
		ck_assert(pthread_join(jobs[t].tid, NULL) == 0);
	pthread_barrier_destroy(&start);
	for (t = 0; t < THREADS; t++) {
		for (r = 0; r < ROUNDS; r++) {
			for (i = 0; i < n_msgs; i++) {
				const struct outcome *o = &jobs[t].verdicts[r][i];

				char why[200];

				snprintf(why, sizeof(why), "%s", tu_reasons(o->reasons));
				ck_assert_msg(same(o, &settled[i]) || same(o, &cold[i]),
					      "thread %zu round %zu %s: ret %d status %s "
					      "reasons %s; one thread said %s (%s)",
					      t, r, msgs[i].name, o->ret,
					      sg_status_name(o->status), why,
					      sg_status_name(settled[i].status),
					      tu_reasons(settled[i].reasons));
				checked++;
			}
			for (i = 0; i < N_ADDRS; i++) {
				const struct outcome *o = &jobs[t].lookups[r][i];

				ck_assert_msg(same(o, &look_settled[i]) ||
					      same(o, &look_first[i]),
					      "thread %zu round %zu lookup %s: "
					      "ret %d usable %zu; one thread: %d %zu",
					      t, r, addrs[i], o->ret, o->usable,
					      look_settled[i].ret,
					      look_settled[i].usable);
				checked++;
			}
		}
	}
	ck_assert_uint_eq(checked, (size_t)THREADS * ROUNDS * (n_msgs + N_ADDRS));

	/* afterwards the shared context answers as the settled one does,
	   and learned and harvested the same certificates */
	for (i = 0; i < n_msgs; i++) {
		struct outcome o = verify_one(&b, &msgs[i]);

		ck_assert_msg(same(&o, &settled[i]), "%s after the threads: %s",
			      msgs[i].name, sg_status_name(o.status));
	}
	ck_assert_uint_eq(sg_ctx_cached_intermediates(b.ctx),
			  sg_ctx_cached_intermediates(a.ctx));
	dir_listing(a.icache, list_a, sizeof(list_a));
	dir_listing(b.icache, list_b, sizeof(list_b));
	ck_assert_str_eq(list_b, list_a);
	dir_listing(a.harvest, list_a, sizeof(list_a));
	dir_listing(b.harvest, list_b, sizeof(list_b));
	ck_assert_str_ne(list_a, "");
	ck_assert_str_eq(list_b, list_a);

	world_free(&a);
	world_free(&b);
	free_msgs();
}
END_TEST

Suite *make_threads_suite(void)
{
	Suite *s = suite_create("threads");
	TCase *tc = tcase_create("shared-context");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_shared_context);
	suite_add_tcase(s, tc);
	return s;
}
