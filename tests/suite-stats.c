/* suite-stats.c - the daemons' counters and their status socket
 * (postfix-policy/stats.c)
 *
 * Counters are added to from many threads at once (smime-milter's) and
 * must add up exactly; the snapshot is what smimectl stats parses; the
 * status socket answers while a client that never reads nor leaves is
 * connected.  With -fsanitize=thread the threaded test shows races.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "check-suites.h"
#include "stats.h"

#define THREADS 8
#define PER_THREAD 20000

/* value - the number after "key=" in a snapshot; -1 when absent */
static long long value(const char *snap, const char *key)
{
	char pat[128];
	const char *p;

	snprintf(pat, sizeof(pat), "\n%s=", key);
	if ((p = strstr(snap, pat)) == NULL)
		return -1;
	return strtoll(p + strlen(pat), NULL, 10);
}

START_TEST(test_rule_name)
{
	static const struct {
		const char *why, *name;
	} cases[] = {
		{ "recipient rule partner.example", "recipient rule partner.example" },
		{ "recipient rule a.example (routed to x@a.example)", "recipient rule a.example" },
		{ "policy lookup failed: ldap://h: Can't contact", "policy lookup failed" },
		{ "recipient refused: address literal", "recipient refused" },
		{ "", "(none)" },
		{ "bad\nname\x01", "bad?name?" },
	};
	char name[80];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		st_rule_name(name, sizeof(name), cases[i].why);
		ck_assert_msg(strcmp(name, cases[i].name) == 0, "case %zu: %s",
			      i, name);
	}
}
END_TEST

START_TEST(test_format)
{
	char buf[32768];
	int i;

	st_init("test-daemon");
	st_config_loaded("/etc/x.conf");
	st_count(ST_REQUESTS);
	st_count(ST_LOOKUP_HITS);
	st_decision(ST_REFUSED, "recipient rule partner.example");
	st_decision(ST_ACCEPTED, "recipient rule partner.example (routed to y)");
	st_decision(ST_MONITORED, "no rule requires anything");
	/* 90 fast requests and 10 slow ones: p50 small, p99 large */
	for (i = 0; i < 90; i++)
		st_latency(ST_KIND_REQUEST, 80);
	for (i = 0; i < 10; i++)
		st_latency(ST_KIND_REQUEST, 40000);
	st_latency(ST_KIND_REQUEST, 70000000);	/* past the last bucket */
	ck_assert_uint_gt(st_format(buf, sizeof(buf)), 0);
	ck_assert_ptr_nonnull(strstr(buf, "daemon=test-daemon\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\nconfig=/etc/x.conf\n"));
	ck_assert_int_eq(value(buf, "requests"), 1);
	ck_assert_int_eq(value(buf, "lookups.hit"), 1);
	ck_assert_int_eq(value(buf, "lookups.miss"), 0);
	ck_assert_int_eq(value(buf, "decisions.refused"), 1);
	ck_assert_int_eq(value(buf, "decisions.accepted"), 1);
	ck_assert_int_eq(value(buf, "decisions.monitored"), 1);
	ck_assert_int_eq(value(buf, "latency.request.count"), 101);
	ck_assert_int_eq(value(buf, "latency.request.p50_us"), 100);
	ck_assert_int_eq(value(buf, "latency.request.p99_us"), 50000);
	ck_assert_int_eq(value(buf, "latency.request.max_us"), 70000000);
	ck_assert_int_eq(value(buf, "latency.request.le_inf"), 1);
	ck_assert_int_eq(value(buf, "latency.lookup.count"), -1);	/* none */
	ck_assert_ptr_nonnull(strstr(buf, "\nrule=1 1 0 0 0 recipient rule partner.example\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\nrule=0 0 0 0 1 no rule requires anything\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\nend=1\n"));
	/* too small a buffer: whole lines only, and no end line */
	st_format(buf, 100);
	ck_assert_uint_lt(strlen(buf), 100);
	ck_assert_ptr_null(strstr(buf, "end=1"));
	ck_assert(strlen(buf) == 0 || buf[strlen(buf) - 1] == '\n');
}
END_TEST

START_TEST(test_rules_bounded)
{
	char buf[32768], why[64];
	int i;

	for (i = 0; i < 200; i++) {
		snprintf(why, sizeof(why), "recipient rule r%d.example", i);
		st_decision(ST_DEFERRED, why);
	}
	const char *p;
	long long deferred = 0, n;
	int lines = 0;

	st_format(buf, sizeof(buf));
	/* at most 64 rules by name, the rest under "(other)"; nothing lost */
	for (p = buf; (p = strstr(p, "\nrule=")) != NULL; p++) {
		ck_assert_int_eq(sscanf(p + 6, "%*u %*u %lld", &n), 1);
		deferred += n;
		lines++;
	}
	ck_assert_int_le(lines, 65);
	ck_assert_ptr_nonnull(strstr(buf, " (other)\n"));
	ck_assert_int_eq(value(buf, "decisions.deferred"), deferred);
	ck_assert_int_ge(deferred, 200);
}
END_TEST

static void *hammer(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < PER_THREAD; i++) {
		st_count(ST_REQUESTS);
		st_decision(i % 2 ? ST_ACCEPTED : ST_REFUSED,
			    i % 3 ? "recipient rule a.example" : "internal recipient");
		st_latency(ST_KIND_MESSAGE, (uint64_t)(i % 1000));
	}
	return NULL;
}

static void *reader(void *arg)
{
	static char buf[32768];
	int i;

	(void)arg;
	for (i = 0; i < 200; i++)
		st_format(buf, sizeof(buf));
	return NULL;
}

START_TEST(test_threads_add_up)
{
	pthread_t t[THREADS + 1];
	char buf[32768];
	long long total = (long long)THREADS * PER_THREAD;
	long long req0, dec0, cnt0, sum0;
	int i;

	/* deltas: with CK_FORK=no the other tests counted before */
	st_format(buf, sizeof(buf));
	req0 = value(buf, "requests");
	dec0 = value(buf, "decisions.accepted") + value(buf, "decisions.refused");
	cnt0 = value(buf, "latency.message.count");
	sum0 = value(buf, "latency.message.sum_us");
	if (cnt0 < 0)
		cnt0 = sum0 = 0;
	for (i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, NULL), 0);
	ck_assert_int_eq(pthread_create(&t[THREADS], NULL, reader, NULL), 0);
	for (i = 0; i <= THREADS; i++)
		pthread_join(t[i], NULL);
	st_format(buf, sizeof(buf));
	ck_assert_int_eq(value(buf, "requests") - req0, total);
	ck_assert_int_eq(value(buf, "decisions.accepted") +
			 value(buf, "decisions.refused") - dec0, total);
	ck_assert_int_eq(value(buf, "latency.message.count") - cnt0, total);
	ck_assert_int_ge(value(buf, "latency.message.max_us"), 999);
	ck_assert_int_eq(value(buf, "latency.message.sum_us") - sum0,
			 (long long)THREADS * (PER_THREAD / 1000) * (999 * 1000 / 2));
}
END_TEST

/* status_read - one answer from the socket at path */
static size_t status_read(const char *path, char *buf, size_t size)
{
	struct sockaddr_un sun;
	struct timeval tv = { 5, 0 };
	size_t used = 0;
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert_uint_lt(strlen(path), sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	while (used < size - 1 && (n = read(fd, buf + used, size - 1 - used)) > 0)
		used += (size_t)n;
	buf[used] = '\0';
	close(fd);
	return used;
}

START_TEST(test_status_socket)
{
	char dir[] = "/tmp/sg-stats-XXXXXX", path[64], buf[32768];
	struct sockaddr_un sun;
	struct stat sb;
	int silent[5], i;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/status.sock", dir);
	st_init("test-daemon");
	st_count(ST_LOOKUP_ERRORS);
	st_listen(path);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	/* clients that connect and never read nor send */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	for (i = 0; i < 5; i++) {
		silent[i] = socket(AF_UNIX, SOCK_STREAM, 0);
		ck_assert_int_eq(connect(silent[i], (struct sockaddr *)&sun,
					 sizeof(sun)), 0);
	}
	ck_assert_uint_gt(status_read(path, buf, sizeof(buf)), 0);
	ck_assert_ptr_nonnull(strstr(buf, "\nend=1\n"));
	ck_assert_int_eq(value(buf, "lookups.error"), 1);
	ck_assert_int_ge(value(buf, "status_queries"), 6);
	for (i = 0; i < 5; i++)
		close(silent[i]);
	st_unlink();
	ck_assert_int_ne(stat(path, &sb), 0);
	rmdir(dir);
}
END_TEST

Suite *make_stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rule_name);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_rules_bounded);
	tcase_add_test(tc, test_threads_add_up);
	tcase_add_test(tc, test_status_socket);
	suite_add_tcase(s, tc);
	return s;
}
