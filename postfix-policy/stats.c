/* stats.c - counters of the Postfix daemons and their status socket */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "policy-proto.h"
#include "stats.h"

#define ST_RULES 64		/* distinct rules counted by name */
#define ST_RULE_NAME 80
#define ST_SNAPSHOT (32 * 1024)

static const char *const outcome_names[ST_OUTCOMES] = {
	"accepted", "refused", "deferred", "held", "monitored"
};
static const char *const kind_names[ST_KINDS] = {
	"request", "lookup", "message"
};
static const char *const counter_names[ST_COUNTERS] = {
	"requests", "lookups.hit", "lookups.miss", "lookups.error",
	"errors.policy_lookup", "errors.analysis", "errors.bad_request",
	"status_queries"
};
/* upper bounds of the latency buckets, microseconds; one more bucket
   (above the last) catches the rest */
static const uint64_t bucket_us[] = {
	50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
	250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000
};
#define ST_BUCKETS (sizeof(bucket_us) / sizeof(bucket_us[0]) + 1)

struct st_rule {
	char name[ST_RULE_NAME];
	uint64_t n[ST_OUTCOMES];
};

static struct {
	const char *daemon;
	time_t started;
	uint64_t counters[ST_COUNTERS];
	uint64_t outcomes[ST_OUTCOMES];
	uint64_t hist[ST_KINDS][ST_BUCKETS];
	uint64_t max_us[ST_KINDS];
	uint64_t sum_us[ST_KINDS];
	pthread_mutex_t lock;	/* rules, config */
	struct st_rule rules[ST_RULES];
	size_t n_rules;
	uint64_t other[ST_OUTCOMES];
	char config[256];
	time_t config_loaded;
	uint64_t config_loads;
	char sock_path[108];
	int lfd;
} st = { .daemon = "smimeguard", .lock = PTHREAD_MUTEX_INITIALIZER, .lfd = -1 };

static inline void add(uint64_t *p, uint64_t v)
{
	__atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}

static inline uint64_t get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

void st_init(const char *daemon)
{
	st.daemon = daemon;
	st.started = time(NULL);
}

void st_config_loaded(const char *path)
{
	pthread_mutex_lock(&st.lock);
	pp_printable(st.config, sizeof(st.config), path);
	st.config_loaded = time(NULL);
	st.config_loads++;
	pthread_mutex_unlock(&st.lock);
}

void st_count(enum st_counter c)
{
	if ((unsigned int)c < ST_COUNTERS)
		add(&st.counters[c], 1);
}

void st_rule_name(char *dst, size_t size, const char *why)
{
	const char *colon = strstr(why, ": "), *paren = strstr(why, " (");
	size_t len = strlen(why);
	char tmp[ST_RULE_NAME];

	if (colon != NULL && (size_t)(colon - why) < len)
		len = (size_t)(colon - why);
	if (paren != NULL && (size_t)(paren - why) < len)
		len = (size_t)(paren - why);
	if (len >= sizeof(tmp))
		len = sizeof(tmp) - 1;
	memcpy(tmp, why, len);
	tmp[len] = '\0';
	pp_printable(dst, size, len > 0 ? tmp : "(none)");
}

void st_decision(enum st_outcome o, const char *rule)
{
	char name[ST_RULE_NAME];
	size_t i;

	if ((unsigned int)o >= ST_OUTCOMES)
		return;
	add(&st.outcomes[o], 1);
	st_rule_name(name, sizeof(name), rule != NULL ? rule : "");
	pthread_mutex_lock(&st.lock);
	for (i = 0; i < st.n_rules; i++) {
		if (strcmp(st.rules[i].name, name) == 0)
			break;
	}
	if (i == st.n_rules && st.n_rules < ST_RULES) {
		memcpy(st.rules[i].name, name, sizeof(name));
		st.n_rules++;
	}
	if (i < st.n_rules)
		st.rules[i].n[o]++;
	else
		st.other[o]++;
	pthread_mutex_unlock(&st.lock);
}

uint64_t st_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void st_latency(enum st_kind kind, uint64_t us)
{
	size_t b;
	uint64_t old;

	if ((unsigned int)kind >= ST_KINDS)
		return;
	for (b = 0; b < ST_BUCKETS - 1 && us > bucket_us[b]; b++)
		;
	add(&st.hist[kind][b], 1);
	add(&st.sum_us[kind], us);
	old = get(&st.max_us[kind]);
	while (us > old &&
	       !__atomic_compare_exchange_n(&st.max_us[kind], &old, us, true,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* percentile - the upper bound of the bucket holding the q-th
   quantile (q in per mille); the maximum for the last bucket */
static uint64_t percentile(const uint64_t *h, uint64_t total, unsigned int q,
			   uint64_t max)
{
	uint64_t want = (total * q + 999) / 1000, seen = 0;
	size_t b;

	if (total == 0)
		return 0;
	for (b = 0; b < ST_BUCKETS; b++) {
		seen += h[b];
		if (seen >= want)
			break;
	}
	if (b >= ST_BUCKETS - 1)
		return max;
	return bucket_us[b] < max ? bucket_us[b] : max;
}

/* put - append a formatted line; false when buf is full */
static bool put(char *buf, size_t size, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static bool put(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*used >= size)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(buf + *used, size - *used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *used) {
		buf[*used] = '\0';	/* a whole line or none */
		*used = size;
		return false;
	}
	*used += (size_t)n;
	return true;
}

size_t st_format(char *buf, size_t size)
{
	time_t now = time(NULL);
	size_t used = 0, i, k;

	if (size == 0)
		return 0;
	buf[0] = '\0';
	put(buf, size, &used, "daemon=%s\npid=%ld\nversion=%s\nstarted=%lld\n"
	    "uptime=%lld\n", st.daemon, (long)getpid(), PACKAGE_VERSION,
	    (long long)st.started, (long long)(now - st.started));
	pthread_mutex_lock(&st.lock);
	put(buf, size, &used, "config=%s\nconfig_loaded=%lld\nconfig_loads=%llu\n",
	    st.config, (long long)st.config_loaded,
	    (unsigned long long)st.config_loads);
	pthread_mutex_unlock(&st.lock);
	for (i = 0; i < ST_COUNTERS; i++)
		put(buf, size, &used, "%s=%llu\n", counter_names[i],
		    (unsigned long long)get(&st.counters[i]));
	for (i = 0; i < ST_OUTCOMES; i++)
		put(buf, size, &used, "decisions.%s=%llu\n", outcome_names[i],
		    (unsigned long long)get(&st.outcomes[i]));
	for (k = 0; k < ST_KINDS; k++) {
		uint64_t h[ST_BUCKETS], total = 0, max = get(&st.max_us[k]);

		for (i = 0; i < ST_BUCKETS; i++)
			total += (h[i] = get(&st.hist[k][i]));
		if (total == 0)
			continue;
		put(buf, size, &used, "latency.%s.count=%llu\n"
		    "latency.%s.p50_us=%llu\nlatency.%s.p99_us=%llu\n"
		    "latency.%s.max_us=%llu\nlatency.%s.sum_us=%llu\n",
		    kind_names[k], (unsigned long long)total,
		    kind_names[k], (unsigned long long)percentile(h, total, 500, max),
		    kind_names[k], (unsigned long long)percentile(h, total, 990, max),
		    kind_names[k], (unsigned long long)max,
		    kind_names[k], (unsigned long long)get(&st.sum_us[k]));
		for (i = 0; i < ST_BUCKETS; i++) {
			if (h[i] == 0)
				continue;
			if (i < ST_BUCKETS - 1)
				put(buf, size, &used, "latency.%s.le_%llu=%llu\n",
				    kind_names[k], (unsigned long long)bucket_us[i],
				    (unsigned long long)h[i]);
			else
				put(buf, size, &used, "latency.%s.le_inf=%llu\n",
				    kind_names[k], (unsigned long long)h[i]);
		}
	}
	/* rule=ACCEPTED REFUSED DEFERRED HELD MONITORED NAME */
	pthread_mutex_lock(&st.lock);
	for (i = 0; i <= st.n_rules; i++) {
		const uint64_t *n = i < st.n_rules ? st.rules[i].n : st.other;

		if (i == st.n_rules && n[0] + n[1] + n[2] + n[3] + n[4] == 0)
			break;
		put(buf, size, &used, "rule=%llu %llu %llu %llu %llu %s\n",
		    (unsigned long long)n[0], (unsigned long long)n[1],
		    (unsigned long long)n[2], (unsigned long long)n[3],
		    (unsigned long long)n[4],
		    i < st.n_rules ? st.rules[i].name : "(other)");
	}
	pthread_mutex_unlock(&st.lock);
	put(buf, size, &used, "end=1\n");
	return used < size ? used : strlen(buf);
}

/* write_bounded - the whole answer, or give up (SO_SNDTIMEO bounds
   each write) */
static void write_bounded(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

/* status_thread - answer every connection with a snapshot, then close;
   nothing is read: what a client sends is ignored */
static void *status_thread(void *arg)
{
	static char buf[ST_SNAPSHOT];
	struct timeval tv = { 1, 0 };

	(void)arg;
	for (;;) {
		int fd = accept(st.lfd, NULL, NULL);
		size_t len;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				if (errno != EINTR && errno != ECONNABORTED)
					sleep(1);
				continue;
			}
			msg_warn("status socket %s: accept: %s", st.sock_path,
				 strerror(errno));
			return NULL;
		}
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		add(&st.counters[ST_STATUS_QUERIES], 1);
		len = st_format(buf, sizeof(buf));
		write_bounded(fd, buf, len);
		(void)shutdown(fd, SHUT_WR);
		close(fd);
	}
	return NULL;
}

void st_listen(const char *spec)
{
	struct dm_unix_sock us;
	struct sockaddr_un sun;
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t all, old;

	dm_unix_parse(spec, &us);
	if (strlen(us.path) == strlen(spec))
		us.mode = 0600;	/* no mode given: the owner only */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", us.path);
	if ((st.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		msg_fatal("status socket: %s", strerror(errno));
	(void)unlink(us.path);
	if (bind(st.lfd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		msg_fatal("bind %s: %s", us.path, strerror(errno));
	dm_unix_perms(&us);
	if (listen(st.lfd, 16) < 0)
		msg_fatal("listen %s: %s", us.path, strerror(errno));
	snprintf(st.sock_path, sizeof(st.sock_path), "%s", us.path);
	/* no signal for this thread: they are the daemon's (signalfd,
	   libmilter's signal thread) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) != 0 ||
	    pthread_attr_setstacksize(&attr, 256 * 1024) != 0 ||
	    pthread_create(&tid, &attr, status_thread, NULL) != 0)
		msg_fatal("cannot start the status thread");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	msg_info("status on %s", us.path);
}

void st_unlink(void)
{
	if (st.sock_path[0] != '\0')
		(void)unlink(st.sock_path);
}
