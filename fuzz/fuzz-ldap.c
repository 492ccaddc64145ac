/*
 * fuzz-ldap.c - libFuzzer harness: what the ldap: certificate map makes
 * of a directory's answers (certmap-ldap-decode.c, the dir: map's address
 * walk in certmap-dir.c, certificate selection in cert-select.c), and the
 * ldap: map file parser and query filter builder (certmap-ldap.c)
 *
 * A directory is not trusted to hold only certificates.  The first input
 * byte picks the mode:
 *   0  entries of a search result: records of [attribute byte][2-byte
 *      big-endian length][value]; attribute 0xff starts a new entry whose
 *      DN is the value; attribute bytes 0-4 are userSMIMECertificate;binary,
 *      userSMIMECertificate, userCertificate;binary, userCertificate and
 *      mail, others an attribute name taken from the input.  Every
 *      candidate is then evaluated for encryption, as
 *      "smimectl cert lookup" and smime-policyd do.
 *   1  an ldap: map file (parsed only: nothing is contacted)
 *   2  query_filter template NUL address: the RFC 4515-escaped filter
 * Invariants: candidates' DER inside their bounds and a certificate that
 * decodes; source, DN, addresses and evaluation text free of control
 * characters (they reach logs and terminals); a filter has every
 * special character of the address escaped.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz-common.h"
#include "sg-base.h"
#include "cert-select.h"
#include "ldapmap-private.h"
#include "maps-private.h"

#include <openssl/x509.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const attr_names[] = {
	"userSMIMECertificate;binary", "userSMIMECertificate",
	"userCertificate;binary", "userCertificate", "mail"
};

static void no_ctl(const char *what, const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			fuzz_fail("control character in %s", what);
	}
}

static void check_cands(const struct sg_ldap_cands *c)
{
	size_t i;

	if (c->n > SG_LDAP_MAX_CANDS)
		fuzz_fail("too many candidates");
	for (i = 0; i < c->n; i++) {
		struct sg_ldap_cand *lc = c->certs[i];
		const unsigned char *p = lc->pub.der;
		struct sg_csel_info info;
		X509 *x;

		if (c->pubs[i] != &lc->pub)
			fuzz_fail("pubs[] out of step");
		if ((x = d2i_X509(NULL, &p, (long)lc->pub.der_len)) == NULL)
			fuzz_fail("a candidate that is not a certificate");
		X509_free(x);
		if (lc->classes == 0 ||
		    (lc->classes & ~(SG_LDAP_ATTR_SMIME | SG_LDAP_ATTR_CERT |
				     SG_LDAP_ATTR_OTHER)) != 0)
			fuzz_fail("attribute classes");
		no_ctl("source", lc->pub.source);
		no_ctl("dn", lc->dn);
		no_ctl("emails", lc->pub.emails);
		sg_csel_eval_entry(fuzz_ctx, &lc->pub, fuzz_at, &info);
		no_ctl("subject", info.subject);
		no_ctl("issuer", info.issuer);
		no_ctl("detail", info.detail);
		fuzz_check_str("key", info.key);
		fuzz_check_str("key_usage", info.key_usage);
		/* a second evaluation comes from the cache and must agree */
		{
			struct sg_csel_info again;

			sg_csel_eval_entry(fuzz_ctx, &lc->pub, fuzz_at, &again);
			if (again.reasons != info.reasons)
				fuzz_fail("cached evaluation differs: %#x then %#x (%s / %s)",
					  (unsigned int)info.reasons,
					  (unsigned int)again.reasons, info.detail,
					  again.detail);
		}
	}
}

static void entries(const uint8_t *data, size_t size)
{
	struct sg_ldap_cands cands = { NULL, 0, 0 };
	struct sg_ldap_pend *pl = sg_ldap_pend_new();
	char dn[256] = "cn=first", attr[64];
	size_t pos = 0;

	if (pl == NULL)
		abort();
	while (pos + 3 <= size) {
		unsigned int a = data[pos];
		size_t len = ((size_t)data[pos + 1] << 8) | data[pos + 2];
		const uint8_t *val = data + pos + 3;

		pos += 3;
		if (len > size - pos)
			len = size - pos;
		pos += len;
		if (a == 0xff) {
			if (sg_ldap_pend_finish(pl, &cands, "ldap://fuzz:389", dn) < 0)
				abort();
			len = len < sizeof(dn) - 1 ? len : sizeof(dn) - 1;
			memcpy(dn, val, len);
			dn[len] = '\0';
			dn[strnlen(dn, len)] = '\0';
			continue;
		}
		if (a < sizeof(attr_names) / sizeof(attr_names[0])) {
			snprintf(attr, sizeof(attr), "%s", attr_names[a]);
		} else {
			/* a name from the directory: any bytes but NUL */
			size_t n = len < 20 ? len : 20;

			memcpy(attr, val, n);
			attr[n] = '\0';
			if (attr[0] == '\0')
				snprintf(attr, sizeof(attr), "userCertificate;x-%u", a);
		}
		/* the value in an exact-size copy, so reads past it are caught */
		{
			unsigned char *copy = malloc(len > 0 ? len : 1);

			if (copy == NULL)
				abort();
			memcpy(copy, val, len);
			if (sg_ldap_pend_value(pl, copy, len, attr) < 0)
				abort();
			free(copy);
		}
	}
	if (sg_ldap_pend_finish(pl, &cands, "ldap://fuzz:389", dn) < 0)
		abort();
	sg_ldap_pend_free(&pl);
	check_cands(&cands);
	sg_ldap_cands_clear(&cands);
}

#ifdef HAVE_LDAP
static void map_file(const uint8_t *data, size_t size)
{
	static char path[64];
	struct sg_ldapmap *lm = NULL;
	struct sg_error err;
	FILE *fp;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/fuzz-ldap-%ld.cf", (long)getpid());
	if ((fp = fopen(path, "w")) == NULL)
		abort();
	if (size > 0 && fwrite(data, size, 1, fp) != 1)
		abort();
	fclose(fp);
	if (sg_ldapmap_new(path, SG_MAP_USE_CERTS, &lm, &err) == 0) {
		if (lm == NULL)
			fuzz_fail("no map and no error");
		fuzz_check_str("path", sg_ldapmap_path(lm));
		sg_ldapmap_free(&lm);
	} else {
		if (lm != NULL)
			fuzz_fail("a map with an error");
		fuzz_check_str("error", err.msg);
	}
	unlink(path);
}
#endif

#ifdef HAVE_LDAP
/* the middle of "(mail=%s)": every (, ), *, \ escaped as \XX */
static void check_escaped(const char *f, const char *addr)
{
	size_t len = strlen(f), i;

	if (len < 7 || strncmp(f, "(mail=", 6) != 0 || f[len - 1] != ')')
		fuzz_fail("filter frame");
	for (i = 6; i < len - 1; i++) {
		if (f[i] == '(' || f[i] == ')' || f[i] == '*')
			fuzz_fail("unescaped special character in the filter");
		if (f[i] == '\\') {
			if (i + 2 >= len - 1 ||
			    !isxdigit((unsigned char)f[i + 1]) ||
			    !isxdigit((unsigned char)f[i + 2]))
				fuzz_fail("bad escape in the filter");
			i += 2;
		}
	}
	(void)addr;
}

static void filter(const uint8_t *data, size_t size)
{
	char tmpl[512], addr[512];
	const uint8_t *nul = memchr(data, '\0', size);
	size_t tlen = nul != NULL ? (size_t)(nul - data) : size;
	size_t alen = nul != NULL ? size - tlen - 1 : 0;
	struct sg_buf out = { 0 };
	int ret;

	if (tlen >= sizeof(tmpl) || alen >= sizeof(addr))
		return;
	memcpy(tmpl, data, tlen);
	tmpl[tlen] = '\0';
	if (nul != NULL)
		memcpy(addr, nul + 1, alen);
	addr[alen] = '\0';
	/* the input's template: anything but a crash or a leak */
	if ((ret = sg_ldapmap_filter(tmpl, addr, &out)) < 0)
		abort();
	if (ret == 0)
		fuzz_check_str("filter", (const char *)out.data);
	/* a fixed template: the address cannot change the filter's shape */
	if ((ret = sg_ldapmap_filter("(mail=%s)", addr, &out)) != 0)
		fuzz_fail("(mail=%%s) gave %d", ret);
	check_escaped((const char *)out.data, addr);
	sg_buf_free(&out);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;

	if (!ready) {
		fuzz_setup();
		ready = true;
	}
	if (size < 1 || size > 256 * 1024)
		return 0;
	switch (data[0] % 3) {
	case 0:
		entries(data + 1, size - 1);
		break;
	case 1:
#ifdef HAVE_LDAP
		map_file(data + 1, size - 1);
#endif
		break;
	default:
#ifdef HAVE_LDAP
		filter(data + 1, size - 1);
#endif
		break;
	}
	return 0;
}
