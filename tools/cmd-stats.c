/* cmd-stats.c - smimectl stats: the counters of smime-policyd and
 * smime-milter, read from their status sockets (policyd_status_socket,
 * milter_status_socket; DESIGN.md "Counters and the status socket").
 *
 * A status socket answers every connection with "key=value" lines and
 * closes it; "rule=A R D H M NAME" lines give the decisions of one rule
 * by outcome, "end=1" closes a complete answer.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "smimeguard-admin.h"
#include "smimectl.h"

#define MAX_ANSWER (64 * 1024)
#define MAX_KV 160
#define MAX_RULES 80

static const char *const outcomes[] = {
	"accepted", "refused", "deferred", "held", "monitored"
};
#define N_OUTCOMES (sizeof(outcomes) / sizeof(outcomes[0]))

struct rule {
	unsigned long long n[N_OUTCOMES];
	const char *name;
};

struct answer {
	char *buf;
	const char *key[MAX_KV], *val[MAX_KV];
	size_t n_kv;
	struct rule rules[MAX_RULES];
	size_t n_rules;
	bool complete;
};

void usage_stats(FILE *fp)
{
	fprintf(fp,
"Usage: smimectl stats [-c FILE] [--json] [SOCKET...]\n"
"\n"
"Print the counters of smime-policyd and smime-milter: uptime, the\n"
"configuration loaded and when, decisions by outcome (accepted, refused,\n"
"deferred, held, monitored) and by rule, certificate lookups (hit, miss,\n"
"error), directory and policy map errors, and latency (p50, p99, max).\n"
"They are read from each daemon's status socket: the SOCKETs given, else\n"
"policyd_status_socket and milter_status_socket of the configuration.\n"
"\n"
"Options:\n"
"  -c, --config FILE  read the socket settings from FILE (default\n"
"                     " SG_CONFIG_FILE ")\n"
"      --json         one JSON object: {\"daemons\": [...]}\n"
"  -h, --help         show this help\n"
"\n"
"Exit status: 0 every socket answered; 1 one did not (the others are\n"
"still printed); 2 usage error or no socket configured.\n");
}

/* all_octal - a socket mode */
static bool all_octal(const char *s)
{
	return s[0] != '\0' && strspn(s, "01234567") == strlen(s);
}

/* sock_path - the path of a "unix:/path[:mode[:group]]" setting */
static void sock_path(char *dst, size_t size, const char *spec)
{
	char *c;

	if (strncmp(spec, "unix:", 5) == 0)
		spec += 5;
	snprintf(dst, size, "%s", spec);
	if ((c = strrchr(dst, ':')) == NULL)
		return;
	if (all_octal(c + 1)) {
		*c = '\0';
		return;
	}
	*c = '\0';
	if ((c = strrchr(dst, ':')) != NULL && all_octal(c + 1)) {
		*c = '\0';
		return;
	}
	snprintf(dst, size, "%s", spec);	/* a ':' in the path */
}

/* fetch - connect and read the whole answer; -1 with err */
static int fetch(const char *path, struct answer *a, char *err, size_t err_size)
{
	struct sockaddr_un sun;
	struct timeval tv = { 5, 0 };
	size_t used = 0;
	char *line, *next;
	int fd;

	memset(a, 0, sizeof(*a));
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, err_size, "socket path too long");
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		snprintf(err, err_size, "%s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if ((a->buf = malloc(MAX_ANSWER + 1)) == NULL) {
		snprintf(err, err_size, "out of memory");
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t n = read(fd, a->buf + used, MAX_ANSWER - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, err_size, "read: %s", strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0 || (used += (size_t)n) == MAX_ANSWER)
			break;
	}
	close(fd);
	a->buf[used] = '\0';
	for (line = a->buf; *line != '\0'; line = next) {
		char *eq;

		if ((next = strchr(line, '\n')) == NULL) {
			next = line + strlen(line);	/* cut short */
			break;
		}
		*next++ = '\0';
		if ((eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		if (strcmp(line, "rule") == 0) {
			struct rule *r = &a->rules[a->n_rules];
			int off = 0;

			if (a->n_rules < MAX_RULES &&
			    sscanf(eq + 1, "%llu %llu %llu %llu %llu %n", &r->n[0],
				   &r->n[1], &r->n[2], &r->n[3], &r->n[4], &off) == 5 &&
			    off > 0) {
				r->name = eq + 1 + off;
				a->n_rules++;
			}
		} else if (strcmp(line, "end") == 0) {
			a->complete = true;
		} else if (a->n_kv < MAX_KV) {
			a->key[a->n_kv] = line;
			a->val[a->n_kv++] = eq + 1;
		}
	}
	if (!a->complete) {
		snprintf(err, err_size, "the answer was cut short");
		return -1;
	}
	return 0;
}

static const char *get(const struct answer *a, const char *key)
{
	size_t i;

	for (i = 0; i < a->n_kv; i++) {
		if (strcmp(a->key[i], key) == 0)
			return a->val[i];
	}
	return NULL;
}

static unsigned long long num(const struct answer *a, const char *key)
{
	const char *v = get(a, key);

	return v != NULL ? strtoull(v, NULL, 10) : 0;
}

/* print_us - a latency for people */
static void print_us(unsigned long long us)
{
	if (us < 1000)
		printf("%llu us", us);
	else if (us < 1000000)
		printf("%.1f ms", us / 1000.0);
	else
		printf("%.2f s", us / 1000000.0);
}

static void print_text(const char *path, const struct answer *a)
{
	static const char *const kinds[] = { "request", "lookup", "message" };
	unsigned long long up = num(a, "uptime");
	time_t loaded = (time_t)num(a, "config_loaded");
	char when[32] = "never";
	struct tm tm;
	size_t i, k;

	if (loaded > 0 && gmtime_r(&loaded, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	ctl_print_clean(stdout, get(a, "daemon") != NULL ? get(a, "daemon") : "?");
	printf(" (pid %llu) on ", num(a, "pid"));
	ctl_print_clean(stdout, path);
	printf("\n  uptime       %llud %02lluh %02llum %02llus\n", up / 86400,
	       up / 3600 % 24, up / 60 % 60, up % 60);
	printf("  config       ");
	ctl_print_clean(stdout, get(a, "config") != NULL ? get(a, "config") : "?");
	printf(" (loaded %s, %llu loads)\n", when, num(a, "config_loads"));
	printf("  requests     %llu\n", num(a, "requests"));
	printf("  decisions   ");
	for (i = 0; i < N_OUTCOMES; i++) {
		char key[64];

		snprintf(key, sizeof(key), "decisions.%s", outcomes[i]);
		printf(" %s %llu", outcomes[i], num(a, key));
	}
	printf("\n  lookups      hit %llu, miss %llu, error %llu\n",
	       num(a, "lookups.hit"), num(a, "lookups.miss"),
	       num(a, "lookups.error"));
	printf("  errors       policy map %llu, analysis %llu, bad request %llu\n",
	       num(a, "errors.policy_lookup"), num(a, "errors.analysis"),
	       num(a, "errors.bad_request"));
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		char key[64];

		snprintf(key, sizeof(key), "latency.%s.count", kinds[k]);
		if (num(a, key) == 0)
			continue;
		printf("  latency      %-8s n=%llu p50 ", kinds[k], num(a, key));
		snprintf(key, sizeof(key), "latency.%s.p50_us", kinds[k]);
		print_us(num(a, key));
		printf(", p99 ");
		snprintf(key, sizeof(key), "latency.%s.p99_us", kinds[k]);
		print_us(num(a, key));
		printf(", max ");
		snprintf(key, sizeof(key), "latency.%s.max_us", kinds[k]);
		print_us(num(a, key));
		printf("\n");
	}
	if (a->n_rules > 0)
		printf("  %9s %8s %8s %8s %9s  rule\n", "accepted", "refused",
		       "deferred", "held", "monitored");
	for (i = 0; i < a->n_rules; i++) {
		const struct rule *r = &a->rules[i];

		printf("  %9llu %8llu %8llu %8llu %9llu  ", r->n[0], r->n[1],
		       r->n[2], r->n[3], r->n[4]);
		ctl_print_clean(stdout, r->name);
		printf("\n");
	}
}

static void print_json(const struct answer *a)
{
	size_t i, k;

	printf("\"values\": {");
	for (i = 0; i < a->n_kv; i++) {
		const char *v = a->val[i];

		printf("%s", i > 0 ? ", " : "");
		ctl_json_str(stdout, a->key[i]);
		printf(": ");
		if (v[0] != '\0' && strspn(v, "0123456789") == strlen(v) &&
		    strlen(v) < 20)
			printf("%s", v);
		else
			ctl_json_str(stdout, v);
	}
	printf("}, \"rules\": [");
	for (i = 0; i < a->n_rules; i++) {
		printf("%s{\"name\": ", i > 0 ? ", " : "");
		ctl_json_str(stdout, a->rules[i].name);
		for (k = 0; k < N_OUTCOMES; k++)
			printf(", \"%s\": %llu", outcomes[k], a->rules[i].n[k]);
		printf("}");
	}
	printf("]");
}

int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctl_store st;
	struct sg_config *conf = NULL;
	char paths[2][108];
	const char *sockets[64];
	size_t n_sockets = 0, i;
	bool json = false;
	int c, status = 0;

	memset(&st, 0, sizeof(st));
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			st.config = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage_stats(stdout);
			return EXIT_SUCCESS;
		default:
			usage_stats(stderr);
			return EXIT_USAGE;
		}
	}
	for (; optind < argc && n_sockets < 64; optind++)
		sockets[n_sockets++] = argv[optind];
	if (optind < argc) {
		fprintf(stderr, "%s: stats: at most 64 sockets\n", progname);
		return EXIT_USAGE;
	}
	if (n_sockets == 0) {
		static const char *const settings[] = {
			"policyd_status_socket", "milter_status_socket"
		};

		if (ctl_store_config(&st, &conf) < 0)
			return EXIT_USAGE;
		for (i = 0; i < 2; i++) {
			const char *v = sg_config_get(conf, settings[i]);

			if (v == NULL || v[strspn(v, " \t")] == '\0')
				continue;
			sock_path(paths[i], sizeof(paths[i]), v);
			sockets[n_sockets++] = paths[i];
		}
		sg_config_free(&conf);
		if (n_sockets == 0) {
			fprintf(stderr, "%s: stats: no status socket: set "
				"policyd_status_socket and milter_status_socket in "
				"smimeguard.conf, or name the sockets\n", progname);
			return EXIT_USAGE;
		}
	}
	if (json)
		printf("{\"daemons\": [");
	for (i = 0; i < n_sockets; i++) {
		struct answer a;
		char err[256];
		int ret = fetch(sockets[i], &a, err, sizeof(err));

		if (ret < 0)
			status = 1;
		if (json) {
			printf("%s{\"socket\": ", i > 0 ? ", " : "");
			ctl_json_str(stdout, sockets[i]);
			if (ret < 0) {
				printf(", \"error\": ");
				ctl_json_str(stdout, err);
			} else {
				printf(", ");
				print_json(&a);
			}
			printf("}");
		} else if (ret < 0) {
			fprintf(stderr, "%s: stats: ", progname);
			ctl_print_clean(stderr, sockets[i]);
			fprintf(stderr, ": %s\n", err);
		} else {
			if (i > 0)
				printf("\n");
			print_text(sockets[i], &a);
		}
		free(a.buf);
	}
	if (json)
		printf("]}\n");
	return status;
}
