/*
 * fuzz-common.h - shared setup and result invariants of the libFuzzer
 * harnesses over the public verification API (fuzz-verify, fuzz-cms)
 *
 * The verification context is built once from the environment:
 *   SG_FUZZ_TRUST          trust_anchors (files/directories, space separated)
 *   SG_FUZZ_INTERMEDIATES  intermediates
 *   SG_FUZZ_CRLS           crl_dirs
 *   SG_FUZZ_REVOCATION     revocation_check (default soft)
 *   SG_FUZZ_SETTINGS       more settings, "name=value name=value ..." (e.g.
 *                          lower limits, so that inputs of fuzzing size
 *                          reach the over-the-limit paths)
 *   SG_FUZZ_AT             validation time for sg_parse_time() (default: the
 *                          start of the process, fixed for the whole run)
 *   SG_FUZZ_VERBOSE        set: print each verdict's JSON on stderr (triage)
 * Unset, the context has no trust anchors: every signer is untrusted, which
 * still exercises the whole parser.  fuzz/run.sh points them at the test
 * PKIs its seeds were made with.
 *
 * A violated invariant prints what is wrong and aborts, so libFuzzer keeps
 * the input as a crash.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smimeguard-admin.h"

static struct sg_ctx *fuzz_ctx;
static time_t fuzz_at;
static bool fuzz_verbose;

static void fuzz_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz: invariant violated: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static void fuzz_set_env(struct sg_config *conf, const char *name,
			 const char *env)
{
	const char *v = getenv(env);
	struct sg_error err;

	if (v == NULL || *v == '\0')
		return;
	if (sg_config_set(conf, name, v, &err) < 0) {
		fprintf(stderr, "fuzz: %s: %s\n", env, err.msg);
		exit(2);
	}
}

/* fuzz_settings - "name=value ..." from the environment */
static void fuzz_settings(struct sg_config *conf, const char *env)
{
	const char *v = getenv(env);
	char item[256], *eq;
	struct sg_error err;
	size_t len;

	while (v != NULL && *v != '\0') {
		v += strspn(v, " \t");
		len = strcspn(v, " \t");
		if (len == 0)
			break;
		if (len >= sizeof(item) ||
		    (eq = memchr(v, '=', len)) == NULL) {
			fprintf(stderr, "fuzz: %s: bad item '%.*s'\n", env,
				(int)len, v);
			exit(2);
		}
		memcpy(item, v, len);
		item[len] = '\0';
		item[eq - v] = '\0';
		if (sg_config_set(conf, item, item + (eq - v) + 1, &err) < 0) {
			fprintf(stderr, "fuzz: %s: %s\n", env, err.msg);
			exit(2);
		}
		v += len;
	}
}

/* fuzz_setup - sg_init() and the one context of the run */
static void fuzz_setup(void)
{
	struct sg_config *conf;
	struct sg_error err;
	const char *at = getenv("SG_FUZZ_AT");

	if (sg_init() < 0 || sg_config_new(&conf) < 0) {
		fprintf(stderr, "fuzz: cannot initialise libsmimeguard\n");
		exit(2);
	}
	fuzz_set_env(conf, "trust_anchors", "SG_FUZZ_TRUST");
	fuzz_set_env(conf, "intermediates", "SG_FUZZ_INTERMEDIATES");
	fuzz_set_env(conf, "crl_dirs", "SG_FUZZ_CRLS");
	fuzz_set_env(conf, "revocation_check", "SG_FUZZ_REVOCATION");
	fuzz_settings(conf, "SG_FUZZ_SETTINGS");
	fuzz_verbose = getenv("SG_FUZZ_VERBOSE") != NULL;
	if (sg_ctx_new(conf, &fuzz_ctx, &err) < 0) {
		fprintf(stderr, "fuzz: sg_ctx_new: %s\n", err.msg);
		exit(2);
	}
	sg_config_free(&conf);
	if (at != NULL && *at != '\0') {
		if (sg_parse_time(at, &fuzz_at) < 0) {
			fprintf(stderr, "fuzz: SG_FUZZ_AT: bad time '%s'\n", at);
			exit(2);
		}
	} else {
		fuzz_at = time(NULL);
	}
}

/* the keywords a status decides alone; $SMIMEEncrypted and $SMIMEWeak can
   also come from the layers */
#define FUZZ_KW_STATUS (SG_KW_SIGNED | SG_KW_VERIFIED | SG_KW_FAILED)
#define FUZZ_KW_ALL ((1u << SG_KW_COUNT) - 1)
#define FUZZ_REASONS_ALL ((UINT32_C(1) << SG_REASON_COUNT) - 1)

static void fuzz_check_str(const char *what, const char *s)
{
	if (s == NULL)
		fuzz_fail("%s is NULL", what);
	(void)strlen(s);	/* ASan: the whole string is readable */
}

/* fuzz_check_result - the invariants of every verdict, then the JSON */
static __attribute__((unused)) void
fuzz_check_result(const struct sg_result *res, bool has_from)
{
	enum sg_status status = sg_result_status(res);
	unsigned int kw = sg_result_keywords(res), want;
	uint32_t reasons = sg_result_reasons(res);
	const struct sg_encryption *enc;
	const char *detail;
	size_t i, n;
	char *json, *p;

	if ((unsigned int)status >= SG_STATUS_COUNT ||
	    sg_status_name(status) == NULL)
		fuzz_fail("status %u out of range", (unsigned int)status);
	want = sg_status_keywords(status);
	if ((kw & want) != want)
		fuzz_fail("status %s without its keywords (0x%x, want 0x%x)",
			  sg_status_name(status), kw, want);
	if ((kw & FUZZ_KW_STATUS) != (want & FUZZ_KW_STATUS))
		fuzz_fail("status %s with keywords 0x%x", sg_status_name(status),
			  kw);
	if ((kw & ~FUZZ_KW_ALL) != 0)
		fuzz_fail("unknown keyword bits 0x%x", kw);
	if (status == SG_STATUS_NONE && kw != 0)
		fuzz_fail("status none with keywords 0x%x", kw);
	if ((reasons & ~FUZZ_REASONS_ALL) != 0)
		fuzz_fail("unknown reason bits 0x%x", (unsigned int)reasons);
	if (status == SG_STATUS_SIGNED_FAILED && reasons == 0)
		fuzz_fail("signed/failed without a reason");
	detail = sg_result_detail(res);
	fuzz_check_str("detail", detail);
	if (detail[0] == '\0')
		fuzz_fail("empty detail");
	fuzz_check_str("from", sg_result_from(res));
	if (!has_from && sg_result_from(res)[0] != '\0')
		fuzz_fail("a From address without a message header");
	n = sg_result_signer_count(res);
	if (status == SG_STATUS_SIGNED_VERIFIED && n == 0)
		fuzz_fail("signed/verified without a signer");
	for (i = 0; i < n; i++) {
		const struct sg_signer *s = sg_result_signer(res, i);

		fuzz_check_str("signer email", s->email);
		fuzz_check_str("signer subject", s->subject);
		fuzz_check_str("signer issuer", s->issuer);
		fuzz_check_str("signer serial", s->serial);
		fuzz_check_str("signer digest", s->digest);
		if ((unsigned int)s->result > SG_SIGNER_UNKNOWN)
			fuzz_fail("signer result %u", (unsigned int)s->result);
		if ((s->reasons & ~FUZZ_REASONS_ALL) != 0)
			fuzz_fail("signer reason bits 0x%x",
				  (unsigned int)s->reasons);
		if ((s->reasons & ~reasons) != 0)
			fuzz_fail("signer reasons 0x%x not in the result's 0x%x",
				  (unsigned int)s->reasons,
				  (unsigned int)reasons);
		if (status == SG_STATUS_SIGNED_VERIFIED &&
		    s->result != SG_SIGNER_VERIFIED)
			fuzz_fail("signed/verified with signer %zu not verified",
				  i);
	}
	if ((enc = sg_result_encryption(res)) != NULL) {
		fuzz_check_str("algorithm", enc->algorithm);
		if (enc->n_recipients > 0 && enc->recipients == NULL)
			fuzz_fail("recipients missing");
		for (i = 0; i < enc->n_recipients; i++) {
			const struct sg_recipient *r = &enc->recipients[i];

			if ((unsigned int)r->kind > SG_RECIPIENT_OTHER)
				fuzz_fail("recipient kind %u",
					  (unsigned int)r->kind);
			fuzz_check_str("recipient issuer", r->issuer);
			fuzz_check_str("recipient serial", r->serial);
			fuzz_check_str("recipient ski", r->ski);
		}
	}
	if ((json = sg_result_json(res, "fuzz")) == NULL)
		fuzz_fail("sg_result_json returned NULL");
	n = strlen(json);
	if (n < 2 || json[0] != '{' || json[n - 1] != '}')
		fuzz_fail("JSON is not an object: %s", json);
	if (fuzz_verbose)
		fprintf(stderr, "%s\n", json);
	for (p = json; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20)
			fuzz_fail("control character 0x%02x in the JSON",
				  (unsigned char)*p);
	}
	sg_free(json);
}

/* fuzz_check_same - a second verification of the same input with the
   same validation time gives the same verdict (the caches change nothing) */
static __attribute__((unused)) void fuzz_check_same(const struct sg_result *a,
			    const struct sg_result *b)
{
	size_t i;

	if (sg_result_status(a) != sg_result_status(b) ||
	    sg_result_keywords(a) != sg_result_keywords(b) ||
	    sg_result_reasons(a) != sg_result_reasons(b))
		fuzz_fail("second run differs: %s 0x%x 0x%x, then %s 0x%x 0x%x",
			  sg_status_name(sg_result_status(a)),
			  sg_result_keywords(a),
			  (unsigned int)sg_result_reasons(a),
			  sg_status_name(sg_result_status(b)),
			  sg_result_keywords(b),
			  (unsigned int)sg_result_reasons(b));
	if (strcmp(sg_result_detail(a), sg_result_detail(b)) != 0)
		fuzz_fail("second run differs in detail:\n  %s\n  %s",
			  sg_result_detail(a), sg_result_detail(b));
	if (sg_result_signer_count(a) != sg_result_signer_count(b))
		fuzz_fail("second run differs in signers");
	for (i = 0; i < sg_result_signer_count(a); i++) {
		const struct sg_signer *sa = sg_result_signer(a, i);
		const struct sg_signer *sb = sg_result_signer(b, i);

		if (sa->result != sb->result || sa->reasons != sb->reasons ||
		    strcmp(sa->email, sb->email) != 0 ||
		    strcmp(sa->subject, sb->subject) != 0)
			fuzz_fail("second run differs in signer %zu", i);
	}
}

#endif
