/* suite-cases.c - data-driven verdicts over the generated test data
 *
 * gen-pki.sh writes cases.tsv (messages signed by our test PKI with
 * OpenSSL), gen-interop.sh writes interop.tsv (messages made by NSS
 * cmsutil, GnuPG gpgsm, GnuTLS certtool and OpenSSL) and raw.tsv (raw CMS
 * objects), gen-gate.py writes gate.tsv (the one-reading gate) and
 * gen-policy.py writes policy.tsv (RFC 5280 certificate-policy processing,
 * each case valid and invalid, checked against OpenSSL and NSS there).
 * data/pyca/pyca.tsv (committed, made by data/pyca/make.py) has rows for
 * messages made by python-cryptography; its paths are relative to data/.
 * Each row names the settings, the expected status and reason tokens that
 * must all be present.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check-suites.h"
#include "test-util.h"

#define DEFAULTS "trust_anchors=trust crl_dirs=crl revocation_check=soft sender_binding=strict"

struct row {
	char *file;
	char *content;		/* raw rows: detached content or NULL */
	char *settings;
	char *status;
	char *reasons;
	char *note;
	char *flags;		/* gate.tsv: enc, noenc, attack or - */
	char *origin;		/* which .tsv */
	const char *base;	/* the directory its paths are relative to */
};

static struct row *rows;
static size_t n_rows;

static char *dup_field(const char *s)
{
	return strdup(s);
}

static void load(const char *base, const char *name, bool raw)
{
	char path[4096], line[8192];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", base, name);
	if ((fp = fopen(path, "r")) == NULL)
		return;		/* test_data_present reports it */
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *f[7] = { 0 }, *p = line, *save = NULL;
		int n = 0;
		struct row *r;

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		for (p = strtok_r(line, "\t", &save); p != NULL && n < 7;
		     p = strtok_r(NULL, "\t", &save))
			f[n++] = p;
		if (n < (raw ? 5 : 4))
			continue;
		rows = realloc(rows, (n_rows + 1) * sizeof(*rows));
		r = &rows[n_rows++];
		memset(r, 0, sizeof(*r));
		r->origin = dup_field(name);
		r->base = base;
		r->file = dup_field(f[0]);
		if (raw) {
			r->content = strcmp(f[1], "-") == 0 ? NULL : dup_field(f[1]);
			r->settings = dup_field(f[2]);
			r->status = dup_field(f[3]);
			r->reasons = dup_field(f[4]);
			r->note = dup_field(f[5] ? f[5] : "");
		} else {
			r->settings = dup_field(f[1]);
			r->status = dup_field(f[2]);
			r->reasons = dup_field(f[3]);
			r->note = dup_field(f[4] ? f[4] : "");
			r->flags = dup_field(f[5] ? f[5] : "-");
		}
	}
	fclose(fp);
}

/* run_row - verify one row; returns the result (caller frees) */
static struct sg_result *run_row(const struct row *r)
{
	char settings[4096] = DEFAULTS, *copy, *tok, *save = NULL;
	char path[4096];
	struct sg_result *res = NULL;
	struct sg_error err;
	struct sg_ctx *ctx;
	unsigned char *data, *content = NULL;
	size_t len, clen = 0;
	time_t at = 0;

	copy = strdup(r->settings);
	for (tok = strtok_r(copy, " ", &save); tok != NULL;
	     tok = strtok_r(NULL, " ", &save)) {
		if (strcmp(tok, "-") == 0)
			continue;
		if (strncmp(tok, "at=", 3) == 0) {
			ck_assert_msg(sg_parse_time(tok + 3, &at) == 0, "bad at= %s", tok);
			continue;
		}
		strncat(settings, " ", sizeof(settings) - strlen(settings) - 1);
		strncat(settings, tok, sizeof(settings) - strlen(settings) - 1);
	}
	free(copy);
	ctx = tu_ctx(settings, r->base);
	snprintf(path, sizeof(path), "%s/%s", r->base, r->file);
	data = tu_read(path, &len);
	if (r->content != NULL) {
		snprintf(path, sizeof(path), "%s/%s", r->base, r->content);
		content = tu_read(path, &clen);
	}
	if (strcmp(r->origin, "raw.tsv") == 0)
		ck_assert_msg(sg_verify_cms(ctx, data, len, content, clen, at, &res,
					    &err) == 0, "%s", err.msg);
	else
		res = tu_verify(ctx, data, len, at);
	free(data);
	free(content);
	sg_ctx_free(&ctx);
	return res;
}

START_TEST(test_data_present)
{
	size_t i, interop = 0, raw = 0, cases = 0, gate = 0, attacks = 0;
	size_t pol_ok = 0, pol_bad = 0, pyca_ok = 0, pyca_amb = 0;

	for (i = 0; i < n_rows; i++) {
		if (strcmp(rows[i].origin, "gate.tsv") == 0) {
			gate++;
			attacks += strcmp(rows[i].flags, "attack") == 0;
		} else if (strcmp(rows[i].origin, "cases.tsv") == 0)
			cases++;
		else if (strcmp(rows[i].origin, "interop.tsv") == 0)
			interop++;
		else if (strcmp(rows[i].origin, "policy.tsv") == 0) {
			if (strcmp(rows[i].status, "signed/verified") == 0)
				pol_ok++;
			else
				pol_bad++;
		} else if (strcmp(rows[i].origin, "pyca/pyca.tsv") == 0) {
			if (strcmp(rows[i].status, "signed/verified") == 0)
				pyca_ok++;
			else if (strcmp(rows[i].reasons, "ambiguous-content") == 0)
				pyca_amb++;
		} else
			raw++;
	}
	ck_assert_msg(cases >= 50, "only %zu rows in %s/cases.tsv (run gen-pki.sh)",
		      cases, tu_testdata());
	ck_assert_msg(interop >= 15, "only %zu rows in interop.tsv", interop);
	ck_assert_msg(raw >= 5, "only %zu rows in raw.tsv", raw);
	ck_assert_msg(gate >= 40 && attacks >= 25,
		      "only %zu rows (%zu attacks) in gate.tsv (run gen-gate.py)",
		      gate, attacks);
	ck_assert_msg(pol_ok >= 30 && pol_bad >= 30,
		      "only %zu valid and %zu invalid rows in policy.tsv (run gen-policy.py)",
		      pol_ok, pol_bad);
	/* python-cryptography 38 and 48: detached, encapsulated identical
	   (CRLF, LF, wrapped) verify; two eContent-confusion twins each */
	ck_assert_msg(pyca_ok >= 8 && pyca_amb >= 4,
		      "only %zu verified and %zu ambiguous rows in %s/data/pyca/pyca.tsv",
		      pyca_ok, pyca_amb, SG_SRCDIR);
}
END_TEST

START_TEST(test_row)
{
	const struct row *r;
	struct sg_result *res;
	enum sg_status want;
	uint32_t want_reasons, got;

	ck_assert_msg((size_t)_i < n_rows, "row %d missing", _i);
	r = &rows[_i];
	ck_assert_msg(sg_status_parse(r->status, &want) == 0, "bad status %s", r->status);
	ck_assert_msg(tu_parse_reasons(r->reasons, &want_reasons) == 0,
		      "bad reasons %s", r->reasons);
	res = run_row(r);
	got = sg_result_reasons(res);
	ck_assert_msg(sg_result_status(res) == want &&
		      (got & want_reasons) == want_reasons,
		      "%s row %d %s [%s]: want %s {%s}, got %s {%s} (%s): %s",
		      r->origin, _i, r->file, r->settings, r->status, r->reasons,
		      sg_status_name(sg_result_status(res)), tu_reasons(got),
		      r->note, sg_result_detail(res));
	/* gate.tsv: encryption only where every reader sees ciphertext,
	   never verified nor encrypted for an attack (DESIGN.md 3.11) */
	if (r->flags != NULL && strcmp(r->flags, "enc") == 0)
		ck_assert_msg(sg_result_keywords(res) & SG_KW_ENCRYPTED,
			      "%s: not $SMIMEEncrypted", r->file);
	if (r->flags != NULL && (strcmp(r->flags, "noenc") == 0 ||
				 strcmp(r->flags, "attack") == 0))
		ck_assert_msg(!(sg_result_keywords(res) & SG_KW_ENCRYPTED) &&
			      sg_result_encryption(res) == NULL,
			      "%s: $SMIMEEncrypted on a message readers see as plaintext",
			      r->file);
	if (r->flags != NULL && strcmp(r->flags, "attack") == 0)
		ck_assert_msg(!(sg_result_keywords(res) & SG_KW_VERIFIED),
			      "%s: an attack reads as verified", r->file);
	/* keywords always follow the status (DESIGN.md section 2) */
	ck_assert_msg((sg_result_keywords(res) & sg_status_keywords(want)) ==
		      sg_status_keywords(want), "%s: keywords do not match status",
		      r->file);
	sg_result_free(&res);
}
END_TEST

/* every reason token the data can produce is produced by some row */
START_TEST(test_reason_coverage)
{
	static const enum sg_reason from_data[] = {
		SG_REASON_BAD_SIGNATURE, SG_REASON_NO_SIGNERS,
		SG_REASON_AMBIGUOUS_CONTENT, SG_REASON_UNTRUSTED,
		SG_REASON_REVOKED, SG_REASON_REVOCATION_UNKNOWN,
		SG_REASON_EXPIRED, SG_REASON_NOT_YET_VALID,
		SG_REASON_KEY_USAGE, SG_REASON_SENDER_MISMATCH,
		SG_REASON_NO_FROM, SG_REASON_MULTIPLE_FROM,
		SG_REASON_WEAK_ALGORITHM, SG_REASON_WEAK_KEY,
		SG_REASON_PARTIAL, SG_REASON_EMBEDDED_CIPHERTEXT,
	};
	uint32_t seen = 0;
	size_t i;

	for (i = 0; i < n_rows; i++) {
		struct sg_result *res = run_row(&rows[i]);
		uint32_t want;

		ck_assert(tu_parse_reasons(rows[i].reasons, &want) == 0);
		seen |= sg_result_reasons(res) & want;
		sg_result_free(&res);
	}
	for (i = 0; i < sizeof(from_data) / sizeof(from_data[0]); i++)
		ck_assert_msg(seen & SG_REASON_BIT(from_data[i]),
			      "no test row expects reason %s",
			      sg_reason_name(from_data[i]));
}
END_TEST

Suite *make_cases_suite(void)
{
	Suite *s = suite_create("cases");
	TCase *tc = tcase_create("generated");

	load(tu_testdata(), "cases.tsv", false);
	load(tu_testdata(), "interop.tsv", false);
	load(tu_testdata(), "raw.tsv", true);
	load(tu_testdata(), "gate.tsv", false);
	load(tu_testdata(), "policy.tsv", false);
	/* committed: messages made by python-cryptography (data/pyca/) */
	load(SG_SRCDIR "/data", "pyca/pyca.tsv", false);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_data_present);
	tcase_add_loop_test(tc, test_row, 0, (int)n_rows);
	tcase_add_test(tc, test_reason_coverage);
	suite_add_tcase(s, tc);
	return s;
}
