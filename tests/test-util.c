/* test-util.c - helpers shared by the suites */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-util.h"

const char *tu_testdata(void)
{
	const char *d = getenv("SG_TESTDATA");

	return d != NULL ? d : SG_TESTDATA;
}

const char *tu_corpora(void)
{
	const char *d = getenv("SG_CORPORA");

	return d != NULL ? d : SG_CORPORA;
}

unsigned char *tu_read(const char *path, size_t *len_r)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *buf;
	long n;

	ck_assert_msg(fp != NULL, "cannot open %s", path);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	ck_assert(buf != NULL);
	ck_assert_msg(fread(buf, 1, (size_t)n, fp) == (size_t)n, "short read %s", path);
	fclose(fp);
	buf[n] = '\0';
	*len_r = (size_t)n;
	return buf;
}

unsigned char *tu_load(const char *rel, size_t *len_r)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", tu_testdata(), rel);
	return tu_read(path, len_r);
}

void tu_write_file(const char *path, const char *text, mode_t mode)
{
	FILE *fp = fopen(path, "w");

	ck_assert_msg(fp != NULL, "cannot create %s", path);
	ck_assert(fputs(text, fp) >= 0);
	ck_assert(fclose(fp) == 0);
	ck_assert(chmod(path, mode) == 0);
}

static void set_paths(struct sg_config *conf, const char *name,
		      const char *value, const char *base)
{
	char out[4096] = "", item[1024];
	const char *p = value;
	struct sg_error err;

	while (*p != '\0') {
		size_t len = strcspn(p, ",");

		snprintf(item, sizeof(item), "%s%s%.*s", base ? base : "",
			 base ? "/" : "", (int)len, p);
		if (out[0] != '\0')
			strncat(out, ",", sizeof(out) - strlen(out) - 1);
		strncat(out, item, sizeof(out) - strlen(out) - 1);
		p += len;
		if (*p == ',')
			p++;
	}
	ck_assert_msg(sg_config_set(conf, name, out, &err) == 0, "%s", err.msg);
}

struct sg_ctx *tu_ctx(const char *settings, const char *base)
{
	struct sg_config *conf;
	struct sg_ctx *ctx;
	struct sg_error err;
	char *copy = strdup(settings), *tok, *save = NULL;

	ck_assert(sg_config_new(&conf) == 0);
	for (tok = strtok_r(copy, " ", &save); tok != NULL;
	     tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');

		ck_assert_msg(eq != NULL, "bad setting %s", tok);
		*eq = '\0';
		if (strcmp(tok, "trust_anchors") == 0 ||
		    strcmp(tok, "intermediates") == 0 ||
		    strcmp(tok, "crl_dirs") == 0)
			set_paths(conf, tok, eq + 1, base);
		else
			ck_assert_msg(sg_config_set(conf, tok, eq + 1, &err) == 0,
				      "%s", err.msg);
	}
	free(copy);
	ck_assert_msg(sg_ctx_new(conf, &ctx, &err) == 0, "sg_ctx_new: %s", err.msg);
	sg_config_free(&conf);
	return ctx;
}

struct sg_ctx *tu_map_ctx(const char *extra)
{
	char settings[4096];

	snprintf(settings, sizeof(settings),
		 TU_PKI " certificate_maps=dir:%s/certmap %s", tu_testdata(),
		 extra != NULL ? extra : "");
	return tu_ctx(settings, tu_testdata());
}

struct sg_cert_set *tu_lookup(struct sg_ctx *ctx, const char *addr, time_t at,
			      int want)
{
	struct sg_cert_set *set = NULL;
	struct sg_error err;
	int ret = sg_cert_lookup(ctx, addr, at, &set, &err);

	ck_assert_msg(ret == want, "%s: lookup returned %d, want %d (%s)",
		      addr, ret, want, ret < 0 ? err.msg : "");
	ck_assert_ptr_nonnull(set);
	return set;
}

struct sg_result *tu_verify(struct sg_ctx *ctx, const void *msg, size_t len,
			    time_t at)
{
	struct sg_result *res = NULL;
	struct sg_error err;

	ck_assert_msg(sg_verify_message(ctx, msg, len, at, &res, &err) == 0,
		      "sg_verify_message: %s", err.msg);
	ck_assert(res != NULL);
	return res;
}

const char *tu_reasons(uint32_t mask)
{
	static char buf[SG_REASONS_SIZE];

	(void)sg_reasons_format(mask, ",", buf, sizeof(buf));
	return buf;
}

int tu_parse_reasons(const char *list, uint32_t *mask_r)
{
	char *copy, *tok, *save = NULL;
	enum sg_reason r;
	int ret = 0;

	*mask_r = 0;
	if (strcmp(list, "-") == 0 || list[0] == '\0')
		return 0;
	copy = strdup(list);
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (sg_reason_parse(tok, &r) < 0) {
			ret = -1;
			break;
		}
		*mask_r |= SG_REASON_BIT(r);
	}
	free(copy);
	return ret;
}

/* tu_rm_dir - remove a flat temporary directory */
void tu_rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}
