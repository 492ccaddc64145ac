/*
 * fuzz-config.c - libFuzzer harness: smimeguard.conf reading and use
 *
 * The input is written to smimeguard.conf in a scratch directory and read
 * with sg_config_read(); every core setting and a few daemon settings are
 * expanded with sg_config_get(); sg_ctx_new() builds a context from the
 * result and sg_policy_new() the outbound policy (both may fail, but
 * cleanly: an error code other than out-of-memory, and a message); the
 * policy then decides for a few sender/recipient pairs.
 *
 * The scratch directory holds a few harmless files (an empty file, a
 * non-PEM file, a directory of them) and policy.map: what follows a line
 * "#map" in the input (the configuration reader sees a comment, then
 * lines it rejects, after it kept the settings before them), so that
 * "encryption_policy_maps = texthash:policy.map" reads a fuzzed map.  sg_ctx_new() and sg_policy_new() are only called
 * when every item of the settings that name files is a relative path
 * without "..": a fuzzed configuration must not make the harness read
 * /dev/zero, /proc/kcore or a FIFO (see load_path() in common/trust.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smimeguard.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const settings[] = {
	"trust_anchors", "intermediates", "crl_dirs", "revocation_check",
	"sender_binding", "allow_sha1_signatures", "certificate_policies",
	"max_message_size", "max_mime_depth", "max_mime_parts",
	"max_cms_nesting", "max_certificates", "certificate_maps",
	"harvest_map", "internal_domains", "encryption_policy_maps",
	"policy_action", "policy_exempt_senders", "policy_exempt_recipients",
	/* daemon settings read from the same file, and an unset name */
	"smime_policyd_listen", "dovecot_keywords", "no_such_setting",
};

/* settings naming files or directories (possibly as TYPE:NAME) */
static const char *const path_settings[] = {
	"trust_anchors", "intermediates", "crl_dirs", "certificate_maps",
	"harvest_map", "encryption_policy_maps",
};

static const char *const addresses[] = {
	"", "alice@example.org", "Bob@EXAMPLE.COM", "carol@sub.example.org",
	"postmaster", "@", "a@", "\"a b\"@example.org", "x@[127.0.0.1]",
};

#define CONF "smimeguard.conf"
#define MAP "policy.map"
#define MAP_MARK "#map\n"

static int conf_fd = -1, map_fd = -1;
static char scratch[] = "/tmp/sg-fuzz-config.XXXXXX";

static void die(const char *what)
{
	fprintf(stderr, "fuzz-config: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void fail(const char *what) __attribute__((noreturn));

static void fail(const char *what)
{
	fprintf(stderr, "fuzz-config: invariant violated: %s\n", what);
	abort();
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0)
		die(path);
}

/* cleanup - remove the scratch directory (best effort, at exit) */
static void cleanup(void)
{
	static const char *const files[] = {
		"dir/.hidden", "dir/garbage.pem", "dir", "garbage.pem",
		"empty", CONF, MAP,
	};
	size_t i;

	if (chdir(scratch) < 0)
		return;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		(void)remove(files[i]);
	if (chdir("/") == 0)
		(void)rmdir(scratch);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sg_init() < 0) {
		fprintf(stderr, "fuzz-config: sg_init failed\n");
		exit(2);
	}
	if (mkdtemp(scratch) == NULL || chdir(scratch) < 0)
		die("scratch directory");
	atexit(cleanup);
	write_file("empty", "");
	write_file("garbage.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
	if (mkdir("dir", 0700) < 0)
		die("dir");
	write_file("dir/garbage.pem", "not a certificate\n");
	write_file("dir/.hidden", "");
	if ((conf_fd = open(CONF, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
			    0600)) < 0)
		die(CONF);
	if ((map_fd = open(MAP, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
			   0600)) < 0)
		die(MAP);
	return 0;
}

/* safe_paths - every list item (or the NAME of TYPE:NAME) is a relative
   path without ".." */
static bool safe_paths(const char *list)
{
	const char *p = list, *colon;
	size_t len, i;

	while (*p != '\0') {
		p += strspn(p, ", \t\r\n");
		len = strcspn(p, ", \t\r\n");
		if (len == 0)
			break;
		if (p[0] == '/')
			return false;
		colon = memchr(p, ':', len);
		if (colon != NULL && colon + 1 < p + len && colon[1] == '/')
			return false;
		for (i = 0; i + 1 < len; i++) {
			if (p[i] == '.' && p[i + 1] == '.')
				return false;
		}
		p += len;
	}
	return true;
}

/* check_error - a failure must be clean: a code and a message, and not
   "out of memory" (nothing runs out of memory here) */
static void check_error(const struct sg_error *err, const char *what)
{
	if (err->code == SG_ERR_NONE || err->msg[0] == '\0') {
		fprintf(stderr, "fuzz-config: %s failed without saying why\n",
			what);
		fail(what);
	}
	if (err->code == SG_ERR_NOMEM) {
		fprintf(stderr, "fuzz-config: %s: '%s'\n", what, err->msg);
		fail("an error reported as out of memory");
	}
}

static void context(const struct sg_config *conf)
{
	struct sg_ctx *ctx = NULL;
	struct sg_error err;
	char policy[512];

	if (sg_ctx_new(conf, &ctx, &err) < 0) {
		if (ctx != NULL)
			fail("sg_ctx_new failed but returned a context");
		check_error(&err, "sg_ctx_new");
		return;
	}
	if (ctx == NULL)
		fail("sg_ctx_new returned no context");
	if (sg_ctx_policy(ctx, policy, sizeof(policy)) < 0)
		fail("sg_ctx_policy failed");
	if (sg_ctx_max_message_size(ctx) == 0)
		fail("max_message_size 0");
	(void)sg_ctx_anchor_count(ctx);
	sg_ctx_free(&ctx);
	if (ctx != NULL)
		fail("sg_ctx_free did not clear the pointer");
}

static void policy(const struct sg_config *conf, bool maps_expand)
{
	struct sg_policy *pol = NULL;
	struct sg_policy_decision d;
	struct sg_error err;
	size_t i, j, n = sizeof(addresses) / sizeof(addresses[0]);

	if (sg_policy_new(conf, &pol, &err) < 0) {
		if (pol != NULL)
			fail("sg_policy_new failed but returned a policy");
		check_error(&err, "sg_policy_new");
		return;
	}
	if (pol == NULL)
		fail("sg_policy_new returned no policy");
	/* an encryption_policy_maps that cannot be expanded must not
	   leave a policy without its rules (fail open) */
	if (!maps_expand)
		fail("sg_policy_new ignored an unexpandable encryption_policy_maps");
	for (i = 0; i < n; i++) {
		(void)sg_policy_is_internal(pol, addresses[i]);
		for (j = 0; j < n; j++) {
			sg_policy_decide(pol, addresses[i], addresses[j], &d);
			if (sg_policy_requirement_name(d.requirements) == NULL ||
			    sg_action_name(d.action) == NULL)
				fail("decision out of range");
			if (strnlen(d.why, sizeof(d.why)) >= sizeof(d.why))
				fail("why not terminated");
		}
	}
	sg_policy_free(&pol);
	if (pol != NULL)
		fail("sg_policy_free did not clear the pointer");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sg_config *conf;
	struct sg_error err;
	bool safe = true, maps_expand;
	size_t i;

	const uint8_t *map = memmem(data, size, MAP_MARK, strlen(MAP_MARK));
	size_t map_len = 0;

	if (map != NULL) {
		map += strlen(MAP_MARK);
		map_len = size - (size_t)(map - data);
	}
	if (ftruncate(conf_fd, 0) < 0 ||
	    pwrite(conf_fd, data, size, 0) != (ssize_t)size ||
	    ftruncate(map_fd, 0) < 0 ||
	    (map_len > 0 &&
	     pwrite(map_fd, map, map_len, 0) != (ssize_t)map_len))
		die("writing the configuration");
	if (sg_config_new(&conf) < 0)
		return 0;
	if (sg_config_read(conf, CONF, &err) < 0)
		check_error(&err, "sg_config_read");
	for (i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		const char *v = sg_config_get(conf, settings[i]);

		if (v != NULL)
			(void)strlen(v);
	}
	for (i = 0; i < sizeof(path_settings) / sizeof(path_settings[0]); i++) {
		const char *v = sg_config_get(conf, path_settings[i]);

		if (v != NULL && !safe_paths(v))
			safe = false;
	}
	maps_expand = sg_config_get(conf, "encryption_policy_maps") != NULL;
	if (safe) {
		context(conf);
		policy(conf, maps_expand);
	}
	sg_config_free(&conf);
	if (conf != NULL)
		fail("sg_config_free did not clear the pointer");
	return 0;
}
