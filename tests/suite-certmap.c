/* suite-certmap.c - certificate resolution: dir: maps, selection,
 * matching RecipientInfos, harvesting
 *
 * Uses data-gen/certmap/ and data-gen/certmap-msg/ (gen-pki.sh).  The
 * ldap: maps are in suite-ldap.c, sg_config_check and sg_cert_check (what
 * smimectl doctor reports) in suite-doctor.c.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "check-suites.h"
#include "sg-base.h"
#include "test-util.h"

#define DAY 86400

/* copy_file - copy a test data file into dir under name */
static void copy_file(const char *rel, const char *dir, const char *name)
{
	char path[4096];
	unsigned char *data;
	size_t len;
	FILE *fp;

	data = tu_load(rel, &len);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	ck_assert_msg(fp != NULL, "cannot create %s", path);
	ck_assert(fwrite(data, 1, len, fp) == len);
	ck_assert(fclose(fp) == 0);
	free(data);
}

/* count_files - regular, non-hidden files in dir */
static size_t count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	ck_assert(d != NULL);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

START_TEST(test_lookup_hit)
{
	struct sg_ctx *ctx = tu_map_ctx(NULL);
	struct sg_cert_set *set = tu_lookup(ctx, "bob@example.org", 0, 1);
	const struct sg_cert_candidate *c0, *c1;
	const unsigned char *der, *p;
	unsigned char md[32];
	char hex[65], want_map[4096];
	unsigned int mdlen, i;
	size_t len;
	X509 *x;

	ck_assert_uint_eq(sg_cert_set_count(set), 2);
	ck_assert_uint_eq(sg_cert_set_usable_count(set), 2);
	snprintf(want_map, sizeof(want_map), "dir:%s/certmap", tu_testdata());
	ck_assert_str_eq(sg_cert_set_map(set), want_map);
	ck_assert_str_eq(sg_cert_set_address(set), "bob@example.org");
	c0 = sg_cert_set_get(set, 0);
	c1 = sg_cert_set_get(set, 1);
	/* newest first */
	ck_assert_str_eq(c0->source, "bob-new.pem");
	ck_assert_str_eq(c1->source, "bob-2026.pem");
	ck_assert(c0->not_before > c1->not_before);
	ck_assert(c0->usable && c1->usable);
	ck_assert_uint_eq(c0->reasons, 0);
	ck_assert_int_eq(c0->reason, SG_REASON_COUNT);
	ck_assert(strstr(c0->subject, "Bob Example (2)") != NULL);
	ck_assert(strstr(c0->issuer, "Mail CA RSA") != NULL);
	ck_assert(c0->serial[0] != '\0' && c0->ski[0] != '\0');
	ck_assert_str_eq(c0->emails, "bob@example.org");
	ck_assert_str_eq(c0->key, "RSA-2048");
	ck_assert(strstr(c0->key_usage, "keyEncipherment") != NULL);
	ck_assert(strstr(c0->key_usage, "EKU emailProtection") != NULL);
	ck_assert_str_eq(c0->map, want_map);
	ck_assert(strstr(c0->detail, "Usable for encryption") != NULL);
	ck_assert(c0->not_after > time(NULL));
	/* the DER is the certificate and the fingerprint is its SHA-256 */
	sg_cert_set_der(set, 0, &der, &len);
	p = der;
	x = d2i_X509(NULL, &p, (long)len);
	ck_assert_ptr_nonnull(x);
	ck_assert(p == der + len);
	X509_free(x);
	ck_assert(EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) == 1);
	for (i = 0; i < mdlen; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
	ck_assert_str_eq(c0->fingerprint, hex);
	sg_cert_set_free(&set);
	ck_assert_ptr_null(set);
	sg_cert_set_free(&set);		/* NULL-safe */
	sg_ctx_free(&ctx);
}
END_TEST

START_TEST(test_lookup_miss)
{
	struct sg_ctx *ctx = tu_map_ctx(NULL);
	static const char *const misses[] = {
		"nobody@example.org", "bob@example.com", "bob", "",
		"bob@example.org ", "two words@example.org",
	};
	struct sg_cert_set *set;
	size_t i;

	for (i = 0; i < sizeof(misses) / sizeof(misses[0]); i++) {
		set = tu_lookup(ctx, misses[i], 0, 0);
		ck_assert_msg(sg_cert_set_count(set) == 0, "[%zu] %s", i, misses[i]);
		ck_assert_str_eq(sg_cert_set_map(set), "");
		sg_cert_set_free(&set);
	}
	sg_ctx_free(&ctx);
}
END_TEST

/* every address form the index knows, any case */
START_TEST(test_case_insensitive)
{
	static const struct {
		const char *addr;
		const char *source;
	} cases[] = {
		{ "BOB@EXAMPLE.ORG", "bob-new.pem" },
		{ "Bob@Example.Org", "bob-new.pem" },
		{ "erin.upper@example.org", "upper.pem" },	/* SAN upper case */
		{ "ERIN.UPPER@EXAMPLE.ORG", "upper.pem" },
		{ "jörg@Example.ORG", "utf8.pem" },		/* SmtpUTF8Mailbox */
		{ "Dave@example.org", "bundle.pem" },	/* subject emailAddress */
		{ "alice@EXAMPLE.org", "bundle.pem" },	/* PEM bundle, first */
		{ "frank@example.org", "bundle.p7b" },	/* PKCS#7, DER */
		{ "ecdh@example.org", "ecdh.pem" },
	};
	struct sg_ctx *ctx = tu_map_ctx(NULL);
	struct sg_cert_set *set;
	char lower[320];
	size_t i, j;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		set = tu_lookup(ctx, cases[i].addr, 0, 1);
		ck_assert_msg(strcmp(sg_cert_set_get(set, 0)->source,
				     cases[i].source) == 0, "[%zu] %s: %s", i,
			      cases[i].addr, sg_cert_set_get(set, 0)->source);
		for (j = 0; cases[i].addr[j] != '\0'; j++)
			lower[j] = (char)(cases[i].addr[j] >= 'A' &&
					  cases[i].addr[j] <= 'Z' ?
					  cases[i].addr[j] + 32 : cases[i].addr[j]);
		lower[j] = '\0';
		ck_assert_str_eq(sg_cert_set_address(set), lower);
		sg_cert_set_free(&set);
	}
	sg_ctx_free(&ctx);
}
END_TEST

/* every rejection reason, and the certificates that look odd but are
   usable for encryption */
START_TEST(test_rejection_reasons)
{
	static const struct {
		const char *addr;
		int found;
		const char *reason;	/* main reason, NULL when usable */
		const char *detail;	/* in the detail sentence */
		const char *key;
	} cases[] = {
		{ "expired@example.org", 0, "expired", "expired on", "RSA-2048" },
		{ "future@example.org", 0, "not-yet-valid", "not valid before", "RSA-2048" },
		{ "revoked@example.org", 0, "revoked", "revoked", "RSA-2048" },
		{ "untrusted@example.org", 0, "untrusted", "trust anchor", "RSA-2048" },
		{ "signonly@example.org", 0, "key-usage", "keyEncipherment", "RSA-2048" },
		{ "carol@example.org", 0, "key-usage", "keyAgreement", "EC-prime256v1" },
		{ "badeku@example.org", 0, "key-usage", "emailProtection", "RSA-2048" },
		{ "weak1024@example.org", 0, "weak-key", "1024 bits", "RSA-1024" },
		{ "ecdh@example.org", 1, NULL, "Usable", "EC-prime256v1" },
		{ "badku@example.org", 1, NULL, "Usable", "RSA-2048" },
	};
	struct sg_ctx *ctx = tu_map_ctx(NULL);
	struct sg_cert_set *set;
	const struct sg_cert_candidate *c;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		set = tu_lookup(ctx, cases[i].addr, 0, cases[i].found);
		ck_assert_uint_eq(sg_cert_set_count(set), 1);
		c = sg_cert_set_get(set, 0);
		ck_assert_msg(c->usable == cases[i].found, "[%zu] %s", i,
			      cases[i].addr);
		if (cases[i].reason != NULL) {
			ck_assert_msg(strcmp(sg_reason_name(c->reason),
					     cases[i].reason) == 0,
				      "[%zu] %s: reason %s (%s), want %s", i,
				      cases[i].addr, sg_reason_name(c->reason),
				      tu_reasons(c->reasons), cases[i].reason);
			ck_assert(c->reasons & SG_REASON_BIT(c->reason));
			/* the map answered, even without a usable one */
			ck_assert(sg_cert_set_map(set)[0] != '\0');
		}
		ck_assert_msg(strstr(c->detail, cases[i].detail) != NULL,
			      "[%zu] %s: detail '%s'", i, cases[i].addr, c->detail);
		ck_assert_msg(strcmp(c->key, cases[i].key) == 0, "[%zu] key %s",
			      i, c->key);
		sg_cert_set_free(&set);
	}
	sg_ctx_free(&ctx);
}
END_TEST

START_TEST(test_revocation_modes)
{
	struct sg_ctx *ctx = tu_map_ctx("revocation_check=none");
	struct sg_cert_set *set;
	char settings[4096];

	/* without revocation checking the revoked certificate is usable */
	set = tu_lookup(ctx, "revoked@example.org", 0, 1);
	sg_cert_set_free(&set);
	sg_ctx_free(&ctx);
	/* hard mode without a CRL for the intermediate: unknown, not usable */
	snprintf(settings, sizeof(settings),
		 "trust_anchors=trust intermediates=intermediates "
		 "crl_dirs=crl-rootonly revocation_check=hard "
		 "certificate_maps=dir:%s/certmap", tu_testdata());
	ctx = tu_ctx(settings, tu_testdata());
	set = tu_lookup(ctx, "bob@example.org", 0, 0);
	ck_assert_uint_eq(sg_cert_set_count(set), 2);
	ck_assert_str_eq(sg_reason_name(sg_cert_set_get(set, 0)->reason),
			 "revocation-unknown");
	ck_assert(strstr(sg_cert_set_get(set, 0)->detail, "no current CRL") != NULL);
	sg_cert_set_free(&set);
	sg_ctx_free(&ctx);
}
END_TEST

/* selection order at other times, and the cached evaluation respecting
   the window in which it holds */
START_TEST(test_selection_over_time)
{
	struct sg_ctx *ctx = tu_map_ctx(NULL);
	struct sg_cert_set *set;
	const struct sg_cert_candidate *c;
	time_t now = time(NULL);

	/* twice now: the second answer comes from the cached evaluation */
	set = tu_lookup(ctx, "bob@example.org", now, 1);
	sg_cert_set_free(&set);
	set = tu_lookup(ctx, "bob@example.org", now, 1);
	ck_assert_uint_eq(sg_cert_set_usable_count(set), 2);
	sg_cert_set_free(&set);
	/* 20 days ago bob-new (notBefore -10 days) was not yet valid: the
	   older certificate is selected, the newer listed after it */
	set = tu_lookup(ctx, "bob@example.org", now - 20 * DAY, 1);
	ck_assert_uint_eq(sg_cert_set_count(set), 2);
	ck_assert_uint_eq(sg_cert_set_usable_count(set), 1);
	c = sg_cert_set_get(set, 0);
	ck_assert(c->usable);
	ck_assert_str_eq(c->source, "bob-2026.pem");
	c = sg_cert_set_get(set, 1);
	ck_assert(!c->usable);
	ck_assert_str_eq(c->source, "bob-new.pem");
	ck_assert_int_eq(c->reason, SG_REASON_NOT_YET_VALID);
	sg_cert_set_free(&set);
	/* in three years both have expired, cache or not */
	set = tu_lookup(ctx, "bob@example.org", now + 3 * 365 * DAY, 0);
	ck_assert_uint_eq(sg_cert_set_count(set), 2);
	ck_assert_int_eq(sg_cert_set_get(set, 0)->reason, SG_REASON_EXPIRED);
	ck_assert_int_eq(sg_cert_set_get(set, 1)->reason, SG_REASON_EXPIRED);
	/* rejected ones also newest first */
	ck_assert_str_eq(sg_cert_set_get(set, 0)->source, "bob-new.pem");
	sg_cert_set_free(&set);
	set = tu_lookup(ctx, "bob@example.org", now, 1);
	sg_cert_set_free(&set);
	sg_ctx_free(&ctx);
}
END_TEST

START_TEST(test_reload)
{
	char dir[] = "/tmp/sg-certmap-XXXXXX", settings[4096], path[4200];
	struct sg_ctx *ctx;
	struct sg_cert_set *set;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	copy_file("certmap/bob-2026.pem", dir, "bob.pem");
	snprintf(settings, sizeof(settings), TU_PKI " certificate_maps=dir:%s", dir);
	ctx = tu_ctx(settings, tu_testdata());
	set = tu_lookup(ctx, "frank@example.org", 0, 0);
	sg_cert_set_free(&set);
	set = tu_lookup(ctx, "bob@example.org", 0, 1);
	ck_assert_uint_eq(sg_cert_set_count(set), 1);
	sg_cert_set_free(&set);
	/* a new file and a second certificate for bob */
	copy_file("certmap/bundle.p7b", dir, "frank.p7b");
	copy_file("certmap/bob-new.pem", dir, "bob-new.pem");
	usleep(1100 * 1000);	/* the directory is checked once a second */
	set = tu_lookup(ctx, "frank@example.org", 0, 1);
	sg_cert_set_free(&set);
	set = tu_lookup(ctx, "bob@example.org", 0, 1);
	ck_assert_uint_eq(sg_cert_set_count(set), 2);
	ck_assert_str_eq(sg_cert_set_get(set, 0)->source, "bob-new.pem");
	sg_cert_set_free(&set);
	/* a removed file is forgotten */
	snprintf(path, sizeof(path), "%s/frank.p7b", dir);
	ck_assert_int_eq(unlink(path), 0);
	usleep(1100 * 1000);
	set = tu_lookup(ctx, "frank@example.org", 0, 0);
	ck_assert_uint_eq(sg_cert_set_count(set), 0);
	sg_cert_set_free(&set);
	/* the directory vanishes: a temporary error, not "no certificate" */
	tu_rm_dir(dir);
	usleep(1100 * 1000);
	{
		struct sg_error err;

		set = (struct sg_cert_set *)1;
		ck_assert_int_eq(sg_cert_lookup(ctx, "bob@example.org", 0, &set,
						&err), -1);
		ck_assert_ptr_null(set);
		ck_assert_int_eq(err.code, SG_ERR_IO);
		ck_assert_msg(strstr(err.msg, dir) != NULL, "%s", err.msg);
	}
	sg_ctx_free(&ctx);
}
END_TEST

/* a PKCS#7 bundle in BER (indefinite length), as some Windows exports */
START_TEST(test_ber_bundle)
{
	char dir[] = "/tmp/sg-certmap-XXXXXX", settings[4096], path[4200];
	unsigned char *der, *ber;
	size_t len, hdr, clen, i;
	struct sg_ctx *ctx;
	struct sg_cert_set *set;
	FILE *fp;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	der = tu_load("certmap/bundle.p7b", &len);
	ck_assert(len > 4 && der[0] == 0x30 && (der[1] & 0x80));
	hdr = 2 + (der[1] & 0x7f);
	for (i = 2, clen = 0; i < hdr; i++)
		clen = (clen << 8) | der[i];
	ck_assert_uint_eq(hdr + clen, len);
	ber = malloc(clen + 4);
	ck_assert_ptr_nonnull(ber);
	ber[0] = 0x30;
	ber[1] = 0x80;
	memcpy(ber + 2, der + hdr, clen);
	ber[clen + 2] = ber[clen + 3] = 0;
	snprintf(path, sizeof(path), "%s/frank-ber.p7b", dir);
	fp = fopen(path, "wb");
	ck_assert_ptr_nonnull(fp);
	ck_assert(fwrite(ber, 1, clen + 4, fp) == clen + 4);
	ck_assert(fclose(fp) == 0);
	free(ber);
	free(der);
	snprintf(settings, sizeof(settings), TU_PKI " certificate_maps=dir:%s", dir);
	ctx = tu_ctx(settings, tu_testdata());
	set = tu_lookup(ctx, "frank@example.org", 0, 1);
	ck_assert_str_eq(sg_cert_set_get(set, 0)->source, "frank-ber.p7b");
	sg_cert_set_free(&set);
	sg_ctx_free(&ctx);
	tu_rm_dir(dir);
}
END_TEST

START_TEST(test_map_settings)
{
	static const struct {
		const char *name, *value, *msg;
	} bad[] = {
#ifdef HAVE_LDAP
		{ "certificate_maps", "ldap:", "names no map file" },
		{ "certificate_maps", "hash:/etc/postfix/certs",
		  "unknown map type 'hash' (supported: dir, ldap)" },
		{ "harvest_map", "ldap:/etc/ldap.cf", "written to a dir: map" },
#else
		{ "certificate_maps", "ldap:/etc/smimeguard/ldap.cf",
		  "built without LDAP support" },
		{ "certificate_maps", "dir:/a, ldap:/etc/ldap.cf",
		  "built without LDAP support" },
		{ "certificate_maps", "hash:/etc/postfix/certs",
		  "unknown map type 'hash' (supported: dir)" },
		{ "harvest_map", "ldap:/etc/ldap.cf", "built without LDAP support" },
#endif
		{ "certificate_maps", "/etc/smimeguard/certs", "TYPE:NAME" },
		{ "certificate_maps", "dir:", "names no directory" },
		{ "harvest_map", "dir:/a dir:/b", "not a list" },
	};
	struct sg_config *conf;
	struct sg_ctx *ctx = NULL;
	struct sg_error err;
	size_t i;

	ck_assert_int_eq(sg_config_new(&conf), 0);
	ck_assert_str_eq(sg_config_get(conf, "certificate_maps"), "");
	ck_assert_str_eq(sg_config_get(conf, "harvest_map"), "");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(sg_config_set(conf, bad[i].name, bad[i].value,
					       &err), -1);
		ck_assert_msg(strstr(err.msg, bad[i].msg) != NULL,
			      "[%zu] %s", i, err.msg);
	}
	ck_assert_int_eq(sg_config_set(conf, "certificate_maps",
				       "dir:/etc/a, DIR:/etc/b dir:/etc/c", &err), 0);
	/* a $reference is checked when the context is made */
	ck_assert_int_eq(sg_config_set(conf, "ldap_maps", "ldap:/nonexistent/ldap.cf", &err), 0);
	ck_assert_int_eq(sg_config_set(conf, "certificate_maps",
				       "dir:/etc/a $ldap_maps", &err), 0);
	ck_assert_int_eq(sg_ctx_new(conf, &ctx, &err), -1);
	ck_assert_ptr_null(ctx);
#ifdef HAVE_LDAP
	/* the map file is read by sg_ctx_new */
	ck_assert_int_eq(err.code, SG_ERR_IO);
	ck_assert_msg(strstr(err.msg, "ldap:/nonexistent/ldap.cf: No such file") != NULL,
		      "%s", err.msg);
#else
	ck_assert_int_eq(err.code, SG_ERR_CONFIG);
	ck_assert_msg(strstr(err.msg, "certificate_maps") != NULL &&
		      strstr(err.msg, "built without LDAP support") != NULL,
		      "%s", err.msg);
#endif
	/* whose lookups may wait for a server: the types say (ldap:) */
	ck_assert_int_eq(sg_config_set(conf, "certificate_maps",
				       "dir:/etc/a, DIR:/etc/b", &err), 0);
	ck_assert(!sg_config_maps_wait(conf, "certificate_maps"));
	ck_assert(!sg_config_maps_wait(conf, "encryption_policy_maps"));
	ck_assert(!sg_config_maps_wait(conf, "no_such_setting"));
#ifdef HAVE_LDAP
	ck_assert_int_eq(sg_config_set(conf, "certificate_maps",
				       "dir:/etc/a, LDAP:/etc/ldap.cf", &err), 0);
	ck_assert(sg_config_maps_wait(conf, "certificate_maps"));
	ck_assert_int_eq(sg_config_set(conf, "encryption_policy_maps",
				       "/etc/policy ldap:/etc/ldap.cf", &err), 0);
	ck_assert(sg_config_maps_wait(conf, "encryption_policy_maps"));
#endif
	sg_config_free(&conf);
}
END_TEST

/* a map that cannot be read is a temporary error unless a later map
   has a usable certificate */
START_TEST(test_map_errors)
{
	char settings[4096];
	struct sg_ctx *ctx;
	struct sg_cert_set *set = NULL;
	struct sg_error err;

	snprintf(settings, sizeof(settings),
		 TU_PKI " certificate_maps=dir:/nonexistent/certs,dir:%s/certmap",
		 tu_testdata());
	ctx = tu_ctx(settings, tu_testdata());
	set = tu_lookup(ctx, "bob@example.org", 0, 1);
	sg_cert_set_free(&set);
	ck_assert_int_eq(sg_cert_lookup(ctx, "nobody@example.org", 0, &set, &err), -1);
	ck_assert_ptr_null(set);
	ck_assert_msg(strstr(err.msg, "/nonexistent/certs") != NULL, "%s", err.msg);
	/* candidates but none usable: still not a definite "no" */
	ck_assert_int_eq(sg_cert_lookup(ctx, "expired@example.org", 0, &set, &err), -1);
	sg_ctx_free(&ctx);
	/* no maps at all: nothing found, no error */
	ctx = tu_ctx(TU_PKI, tu_testdata());
	set = tu_lookup(ctx, "bob@example.org", 0, 0);
	ck_assert_uint_eq(sg_cert_set_count(set), 0);
	sg_cert_set_free(&set);
	sg_ctx_free(&ctx);
}
END_TEST

/* the milter's question: does a RecipientInfo name a usable certificate */
START_TEST(test_match_recipients)
{
	struct sg_ctx *ctx = tu_map_ctx(NULL);
	struct sg_cert_set *set = tu_lookup(ctx, "bob@example.org", 0, 1);
	const struct sg_encryption *enc;
	struct sg_recipient rid;
	struct sg_result *res;
	unsigned char *m;
	char buf[200];
	size_t len, idx = 99, i;

	/* issuer + serial: encrypted to the older bob certificate */
	m = tu_load("msg/encrypted-aes256gcm.eml", &len);
	res = tu_verify(ctx, m, len, 0);
	enc = sg_result_encryption(res);
	ck_assert_ptr_nonnull(enc);
	ck_assert_uint_eq(enc->n_recipients, 1);
	ck_assert_int_eq(enc->recipients[0].kind, SG_RECIPIENT_ISSUER_SERIAL);
	ck_assert_int_eq(sg_cert_set_match(set, &enc->recipients[0], &idx), 1);
	ck_assert_str_eq(sg_cert_set_get(set, idx)->source, "bob-2026.pem");
	sg_result_free(&res);
	free(m);
	/* subject key identifier: encrypted to the newer one */
	m = tu_load("certmap-msg/bob-new-keyid.eml", &len);
	res = tu_verify(ctx, m, len, 0);
	enc = sg_result_encryption(res);
	ck_assert_ptr_nonnull(enc);
	ck_assert_int_eq(enc->recipients[0].kind, SG_RECIPIENT_SKI);
	ck_assert_int_eq(sg_cert_set_match(set, &enc->recipients[0], &idx), 1);
	ck_assert_str_eq(sg_cert_set_get(set, idx)->source, "bob-new.pem");
	ck_assert_int_eq(sg_cert_set_match(set, &enc->recipients[0], NULL), 1);
	sg_result_free(&res);
	free(m);
	/* hex in another case, serial with a leading zero */
	i = 1;
	ck_assert_str_eq(sg_cert_set_get(set, i)->source, "bob-2026.pem");
	rid.kind = SG_RECIPIENT_ISSUER_SERIAL;
	rid.issuer = sg_cert_set_get(set, i)->issuer;
	snprintf(buf, sizeof(buf), "00%s", sg_cert_set_get(set, i)->serial);
	for (len = 0; buf[len] != '\0'; len++)
		buf[len] = (char)(buf[len] >= 'A' && buf[len] <= 'F' ?
				  buf[len] + 32 : buf[len]);
	rid.serial = buf;
	rid.ski = "";
	ck_assert_int_eq(sg_cert_set_match(set, &rid, &idx), 1);
	ck_assert_uint_eq(idx, i);
	/* another serial, another issuer, an empty SKI, another kind */
	rid.serial = "1234";
	ck_assert_int_eq(sg_cert_set_match(set, &rid, &idx), 0);
	rid.serial = sg_cert_set_get(set, i)->serial;
	rid.issuer = "CN=Rogue Root CA,O=Rogue Inc,C=XX";
	ck_assert_int_eq(sg_cert_set_match(set, &rid, &idx), 0);
	rid.kind = SG_RECIPIENT_SKI;
	rid.ski = "";
	ck_assert_int_eq(sg_cert_set_match(set, &rid, &idx), 0);
	rid.kind = SG_RECIPIENT_OTHER;
	ck_assert_int_eq(sg_cert_set_match(set, &rid, &idx), 0);
	sg_cert_set_free(&set);
	/* a rejected certificate never matches: encrypting to a revoked one
	   does not count */
	set = tu_lookup(ctx, "revoked@example.org", 0, 0);
	rid.kind = SG_RECIPIENT_ISSUER_SERIAL;
	rid.issuer = sg_cert_set_get(set, 0)->issuer;
	rid.serial = sg_cert_set_get(set, 0)->serial;
	ck_assert_int_eq(sg_cert_set_match(set, &rid, &idx), 0);
	rid.kind = SG_RECIPIENT_SKI;
	rid.ski = sg_cert_set_get(set, 0)->ski;
	ck_assert_int_eq(sg_cert_set_match(set, &rid, &idx), 0);
	sg_cert_set_free(&set);
	sg_ctx_free(&ctx);
}
END_TEST

START_TEST(test_json)
{
	struct sg_ctx *ctx = tu_map_ctx(NULL);
	struct sg_cert_set *set = tu_lookup(ctx, "Bob@Example.org", 0, 1);
	char *js = sg_cert_set_json(set);

	ck_assert_ptr_nonnull(js);
	ck_assert_msg(strncmp(js, "{\"address\":\"bob@example.org\",\"found\":true,\"map\":\"dir:", 52) == 0,
		      "%s", js);
	ck_assert(strstr(js, "\"selected\":true") != NULL);
	ck_assert(strstr(js, "\"emails\":[\"bob@example.org\"]") != NULL);
	ck_assert(strchr(js, '\n') == NULL);
	sg_free(js);
	sg_cert_set_free(&set);
	set = tu_lookup(ctx, "expired@example.org", 0, 0);
	js = sg_cert_set_json(set);
	ck_assert(strstr(js, "\"found\":false") != NULL);
	ck_assert(strstr(js, "\"reasons\":[\"expired\"]") != NULL);
	sg_free(js);
	sg_cert_set_free(&set);
	sg_ctx_free(&ctx);
}
END_TEST

START_TEST(test_signer_der)
{
	struct sg_ctx *ctx = tu_map_ctx(NULL);
	struct sg_result *res;
	const unsigned char *der = NULL, *p;
	unsigned char *m;
	size_t len, dlen;
	X509 *x;
	char cn[128];

	m = tu_load("msg/alice-detached.eml", &len);
	res = tu_verify(ctx, m, len, 0);
	ck_assert_int_eq(sg_result_signer_der(res, 0, &der, &dlen), 0);
	p = der;
	x = d2i_X509(NULL, &p, (long)dlen);
	ck_assert_ptr_nonnull(x);
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
				  cn, sizeof(cn));
	ck_assert_str_eq(cn, "Alice Example");
	X509_free(x);
	/* the JSON of a result is unchanged by keeping the certificate */
	{
		char *js = sg_result_json(res, "x");

		ck_assert(strstr(js, "\"signers\":[{\"email\":\"alice@example.org\",") != NULL);
		ck_assert(strstr(js, "der") == NULL);
		sg_free(js);
	}
	sg_result_free(&res);
	free(m);
	sg_ctx_free(&ctx);
}
END_TEST

/* harvest: verify msg, harvest it, check the outcome */
static void harvest_one(struct sg_ctx *ctx, const char *rel,
			enum sg_harvest_outcome want,
			struct sg_harvest_info *info)
{
	struct sg_result *res;
	struct sg_error err;
	unsigned char *m;
	size_t len;

	m = tu_load(rel, &len);
	res = tu_verify(ctx, m, len, 0);
	ck_assert_msg(sg_harvest(ctx, res, 0, info, &err) == 0, "%s: %s", rel,
		      err.msg);
	ck_assert_msg(info->outcome == want, "%s: %s (%s), want %s", rel,
		      sg_harvest_outcome_name(info->outcome), info->detail,
		      sg_harvest_outcome_name(want));
	ck_assert(info->detail[0] != '\0');
	sg_result_free(&res);
	free(m);
}

START_TEST(test_harvest)
{
	char dir[] = "/tmp/sg-harvest-XXXXXX", settings[4096], path[4200];
	struct sg_harvest_info info, first;
	struct sg_cert_set *set;
	struct sg_ctx *ctx;
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* the harvest map is also searched */
	snprintf(settings, sizeof(settings),
		 TU_PKI " certificate_maps=dir:%s harvest_map=dir:%s/", dir, dir);
	ctx = tu_ctx(settings, tu_testdata());
	set = tu_lookup(ctx, "alice@example.org", 0, 0);
	sg_cert_set_free(&set);
	harvest_one(ctx, "msg/alice-detached.eml", SG_HARVEST_STORED, &first);
	ck_assert_str_eq(first.address, "alice@example.org");
	ck_assert_uint_eq(strlen(first.fingerprint), 64);
	snprintf(path, sizeof(path), "%s/%s.pem", dir, first.fingerprint);
	ck_assert_str_eq(first.file, path);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	ck_assert_uint_eq(count_files(dir), 1);
	/* colleagues can encrypt to alice now, without waiting a second */
	set = tu_lookup(ctx, "alice@example.org", 0, 1);
	ck_assert_str_eq(sg_cert_set_get(set, 0)->fingerprint, first.fingerprint);
	sg_cert_set_free(&set);
	/* the same certificate again */
	harvest_one(ctx, "msg/alice-opaque.eml", SG_HARVEST_PRESENT, &info);
	ck_assert_str_eq(info.fingerprint, first.fingerprint);
	/* the newer bob certificate, then an old message with the older one:
	   the older one is not stored */
	harvest_one(ctx, "certmap-msg/bob-new-signed.eml", SG_HARVEST_STORED, &info);
	ck_assert_uint_eq(count_files(dir), 2);
	harvest_one(ctx, "certmap-msg/bob-signed.eml", SG_HARVEST_NEWER_KNOWN, &info);
	ck_assert_uint_eq(count_files(dir), 2);
	snprintf(path, sizeof(path), "%s/%s.pem", dir, info.fingerprint);
	ck_assert_int_eq(stat(path, &st), -1);
	/* refused: not verified, not usable for encryption */
	harvest_one(ctx, "msg/alice-detached-tampered.eml",
		    SG_HARVEST_NOT_VERIFIED, &info);
	harvest_one(ctx, "msg/from-mallory.eml", SG_HARVEST_NOT_VERIFIED, &info);
	harvest_one(ctx, "msg/plain.eml", SG_HARVEST_NOT_VERIFIED, &info);
	harvest_one(ctx, "msg/carol-detached.eml", SG_HARVEST_NOT_USABLE, &info);
	ck_assert(info.reasons & SG_REASON_BIT(SG_REASON_KEY_USAGE));
	ck_assert_str_eq(info.address, "carol@example.org");
	harvest_one(ctx, "msg/weak1024.eml", SG_HARVEST_NOT_USABLE, &info);
	ck_assert(info.reasons & SG_REASON_BIT(SG_REASON_WEAK_KEY));
	ck_assert_uint_eq(count_files(dir), 2);
	sg_ctx_free(&ctx);
	/* verified without sender binding: the From check did not pass */
	snprintf(settings, sizeof(settings),
		 TU_PKI " sender_binding=off harvest_map=dir:%s", dir);
	ctx = tu_ctx(settings, tu_testdata());
	harvest_one(ctx, "msg/from-mallory.eml", SG_HARVEST_NOT_VERIFIED, &info);
	ck_assert(strstr(info.detail, "From") != NULL);
	sg_ctx_free(&ctx);
	/* off by default */
	ctx = tu_ctx(TU_PKI, tu_testdata());
	harvest_one(ctx, "msg/alice-detached.eml", SG_HARVEST_DISABLED, &info);
	sg_ctx_free(&ctx);
	ck_assert_uint_eq(count_files(dir), 2);
	tu_rm_dir(dir);
	/* caps (issue 18): per address, then in all */
	ck_assert_ptr_nonnull(mkdtemp(strcpy(dir, "/tmp/sg-harvest-XXXXXX")));
	snprintf(settings, sizeof(settings), TU_PKI " harvest_map=dir:%s "
		 "harvest_max_per_address=1 harvest_max_total=2", dir);
	ctx = tu_ctx(settings, tu_testdata());
	harvest_one(ctx, "certmap-msg/bob-signed.eml", SG_HARVEST_STORED, &info);
	harvest_one(ctx, "certmap-msg/bob-new-signed.eml", SG_HARVEST_CAPPED, &info);
	ck_assert(strstr(info.detail, "harvest_max_per_address") != NULL);
	ck_assert_str_eq(sg_harvest_outcome_name(info.outcome), "capped");
	harvest_one(ctx, "msg/alice-detached.eml", SG_HARVEST_STORED, &info);
	ck_assert_uint_eq(count_files(dir), 2);
	sg_ctx_free(&ctx);
	snprintf(settings, sizeof(settings), TU_PKI " harvest_map=dir:%s "
		 "harvest_max_total=2", dir);
	ctx = tu_ctx(settings, tu_testdata());
	harvest_one(ctx, "certmap-msg/bob-new-signed.eml", SG_HARVEST_CAPPED, &info);
	ck_assert_uint_eq(count_files(dir), 2);
	sg_ctx_free(&ctx);
	/* a harvested certificate never displaces one from the directory:
	   bob-new (harvested, newer) is listed first, the directory's bob
	   is still the one selected */
	{
		char dir2[] = "/tmp/sg-dir-XXXXXX", src[4200], dst[4200];
		struct sg_cert_set *set2;
		unsigned char *pem;
		size_t plen;
		FILE *fp;

		ck_assert_ptr_nonnull(mkdtemp(dir2));
		snprintf(src, sizeof(src), "%s/certmap/bob-2026.pem", tu_testdata());
		pem = tu_read(src, &plen);
		snprintf(dst, sizeof(dst), "%s/bob.pem", dir2);
		ck_assert_ptr_nonnull(fp = fopen(dst, "w"));
		ck_assert_uint_eq(fwrite(pem, 1, plen, fp), plen);
		fclose(fp);
		free(pem);
		tu_rm_dir(dir);
		ck_assert_ptr_nonnull(mkdtemp(strcpy(dir, "/tmp/sg-harvest-XXXXXX")));
		snprintf(settings, sizeof(settings), TU_PKI " certificate_maps=dir:%s,dir:%s "
			 "harvest_map=dir:%s", dir, dir2, dir);
		ctx = tu_ctx(settings, tu_testdata());
		harvest_one(ctx, "certmap-msg/bob-new-signed.eml", SG_HARVEST_STORED, &info);
		set2 = tu_lookup(ctx, "bob@example.org", 0, 1);
		ck_assert_msg(strstr(sg_cert_set_get(set2, 0)->map, dir2) != NULL,
			      "the harvested certificate displaced the directory's");
		sg_cert_set_free(&set2);
		sg_ctx_free(&ctx);
		tu_rm_dir(dir2);
	}
	tu_rm_dir(dir);
	ck_assert_ptr_nonnull(mkdtemp(strcpy(dir, "/tmp/sg-harvest-XXXXXX")));
	/* a harvest map that cannot be written: an error naming it */
	snprintf(settings, sizeof(settings),
		 TU_PKI " harvest_map=dir:%s/missing", dir);
	ctx = tu_ctx(settings, tu_testdata());
	{
		struct sg_result *res;
		struct sg_error err;
		unsigned char *m;
		size_t len;

		m = tu_load("msg/alice-detached.eml", &len);
		res = tu_verify(ctx, m, len, 0);
		ck_assert_int_eq(sg_harvest(ctx, res, 0, &info, &err), -1);
		ck_assert_int_eq(err.code, SG_ERR_IO);
		ck_assert_msg(strstr(err.msg, "harvest_map") != NULL &&
			      strstr(err.msg, "missing") != NULL, "%s", err.msg);
		sg_result_free(&res);
		free(m);
	}
	sg_ctx_free(&ctx);
	ck_assert_str_eq(sg_harvest_outcome_name(SG_HARVEST_NEWER_KNOWN), "newer-known");
	ck_assert_ptr_null(sg_harvest_outcome_name((enum sg_harvest_outcome)99));
}
END_TEST

/* misuse_null_ctx - a NULL context is a caller bug */
static void misuse_null_ctx(void)
{
	struct sg_cert_set *set;
	struct sg_error err;

	if (sg_cert_lookup(NULL, "bob@example.org", 0, &set, &err) == 0)
		return;
}

START_TEST(test_misuse_aborts)
{
	misuse_null_ctx();
}
END_TEST

/* make_certmap_suite - the certmap Check suite */
Suite *make_certmap_suite(void)
{
	Suite *s = suite_create("certmap");
	TCase *tc = tcase_create("lookup");
	TCase *th = tcase_create("harvest");

	tcase_add_test(tc, test_lookup_hit);
	tcase_add_test(tc, test_lookup_miss);
	tcase_add_test(tc, test_case_insensitive);
	tcase_add_test(tc, test_rejection_reasons);
	tcase_add_test(tc, test_revocation_modes);
	tcase_add_test(tc, test_selection_over_time);
	tcase_add_test(tc, test_reload);
	tcase_add_test(tc, test_ber_bundle);
	tcase_add_test(tc, test_map_settings);
	tcase_add_test(tc, test_map_errors);
	tcase_add_test(tc, test_match_recipients);
	tcase_add_test(tc, test_json);
	tcase_add_test(tc, test_signer_der);
	tcase_add_test_raise_signal(tc, test_misuse_aborts, SIGABRT);
	tcase_set_timeout(tc, 20);
	suite_add_tcase(s, tc);
	tcase_add_test(th, test_harvest);
	suite_add_tcase(s, th);
	return s;
}
