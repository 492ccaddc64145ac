/* inventory.c - the certificates a configuration names
 *
 * sg_config_certificates() lists the trust anchors, intermediates,
 * pinned certificates and the certificates of the dir: maps, without
 * validating anything, so smimectl report can say what expires soon.
 * Paths are read file by file (as doctor.c does): one unreadable path is
 * skipped and counted, the rest is still listed.
 */
#include "sg-base.h"
#include "ctx-private.h"
#include "dirmap-private.h"
#include "maps-private.h"
#include "x509-private.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>

struct inv {
	void (*fn)(const struct sg_cert_entry *e, void *context);
	void *context;
	const char *setting;
	const char *location;
	char map_location[4200];
	const char *map_spec;
	int count;
	size_t skipped;
};

/* report_cert - describe one certificate to the callback */
static void report_cert(struct inv *iv, X509 *x, const char *location,
			const char *emails_known)
{
	struct sg_cert_entry e;
	char subject[512], issuer[512], serial[80] = "?", fpr[65];
	char emails[1024] = "", addrs[8][320];
	unsigned char md[32], *der = NULL;
	BIGNUM *bn;
	char *hex;
	int len;
	size_t n, i, used = 0;

	memset(&e, 0, sizeof(e));
	sg_name_oneline(X509_get_subject_name(x), subject, sizeof(subject));
	sg_name_oneline(X509_get_issuer_name(x), issuer, sizeof(issuer));
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) != NULL &&
	    (hex = BN_bn2hex(bn)) != NULL) {
		sg_strlcpy(serial, hex, sizeof(serial));
		OPENSSL_free(hex);
	}
	BN_free(bn);
	fpr[0] = '\0';
	if ((len = i2d_X509(x, &der)) > 0) {
		crypto_hash_sha256(md, der, (unsigned long long)len);
		sodium_bin2hex(fpr, sizeof(fpr), md, sizeof(md));
	}
	OPENSSL_free(der);
	if (emails_known != NULL) {
		sg_strlcpy(emails, emails_known, sizeof(emails));
	} else {
		n = sg_cert_emails(x, addrs, SG_ARRAY_SIZE(addrs));
		for (i = 0; i < n && used < sizeof(emails); i++)
			used += (size_t)snprintf(emails + used,
						 sizeof(emails) - used, "%s%s",
						 i > 0 ? ", " : "", addrs[i]);
	}
	sg_text_sanitize(subject);
	sg_text_sanitize(issuer);
	sg_text_sanitize(emails);
	e.setting = iv->setting;
	e.location = location;
	e.subject = subject;
	e.issuer = issuer;
	e.serial = serial;
	e.emails = emails;
	e.fingerprint = fpr;
	e.not_before = sg_asn1_time(X509_get0_notBefore(x));
	e.not_after = sg_asn1_time(X509_get0_notAfter(x));
	e.ca = X509_check_ca(x) != 0;
	iv->fn(&e, iv->context);
	iv->count++;
	sg_openssl_errors(NULL, 0);
}

/* list_file - the certificates of one file; -1 out of memory */
static int list_file(struct inv *iv, const char *path)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	struct sg_error err;
	size_t n = 0;
	int i;

	if (certs == NULL)
		return -1;
	if (sg_trust_load_file(path, false, certs, NULL, &n, &err) < 0) {
		sk_X509_pop_free(certs, X509_free);
		if (err.code == SG_ERR_NOMEM)
			return -1;
		iv->skipped++;
		return 0;
	}
	for (i = 0; i < sk_X509_num(certs); i++)
		report_cert(iv, sk_X509_value(certs, i), path, NULL);
	sk_X509_pop_free(certs, X509_free);
	return 0;
}

static int list_dir_file(void *context, const char *file)
{
	return list_file(context, file) < 0 ? -1 : 0;
}

/* list_path - a file, or every regular non-hidden file of a directory */
static int list_path(struct inv *iv, const char *path)
{
	struct stat st;
	DIR *dir;
	int r;

	if (stat(path, &st) < 0) {
		iv->skipped++;
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return list_file(iv, path);
	if ((dir = opendir(path)) == NULL) {
		iv->skipped++;
		return 0;
	}
	r = sg_dir_files(dir, path, list_dir_file, iv);
	closedir(dir);
	return r < 0 ? -1 : 0;
}

/* map_cert - one certificate of a map */
static void map_cert(const struct sg_dirmap_cert *c, void *context)
{
	struct inv *iv = context;
	const unsigned char *p = c->der;
	X509 *x = d2i_X509(NULL, &p, (long)c->der_len);

	if (x == NULL) {
		sg_openssl_errors(NULL, 0);
		return;
	}
	snprintf(iv->map_location, sizeof(iv->map_location), "%s %s",
		 iv->map_spec, c->source);
	report_cert(iv, x, iv->map_location, c->emails);
	X509_free(x);
}

/* list_map - one item of certificate_maps or harvest_map: every
   certificate of a map that can list them (dir:), without a lookup;
   other maps (ldap:) and maps that cannot be read are skipped */
static int list_map(struct inv *iv, const char *spec)
{
	const struct sg_map_type_def *def;
	struct sg_map *m;
	struct sg_error err;
	const char *name;
	int r;

	if (sg_map_parse(iv->setting, spec, SG_MAP_USE_CERTS, &def, &name,
			 &err) < 0 || def->each_cert == NULL) {
		iv->skipped++;
		return 0;
	}
	if (sg_map_open(iv->setting, spec, SG_MAP_USE_CERTS, &m, &err) < 0) {
		if (err.code == SG_ERR_NOMEM)
			return -1;
		iv->skipped++;
		return 0;
	}
	iv->map_spec = spec;
	r = sg_map_each_cert(m, map_cert, iv, &err);
	sg_map_close(&m);
	if (r < 0) {
		if (err.code == SG_ERR_NOMEM)
			return -1;
		iv->skipped++;
	}
	return 0;
}

int sg_config_certificates(const struct sg_config *conf,
			   void (*fn)(const struct sg_cert_entry *e,
				      void *context),
			   void *context, size_t *skipped_r,
			   struct sg_error *err_r)
{
	static const char *const paths[] = {
		"trust_anchors", "intermediates", "pinned_certificates"
	};
	static const char *const maps[] = { "certificate_maps", "harvest_map" };
	struct inv iv;
	char item[4096];
	const char *v, *p;
	bool too_long;
	size_t s;

	sg_assert(conf != NULL && fn != NULL);
	memset(&iv, 0, sizeof(iv));
	iv.fn = fn;
	iv.context = context;
	if (skipped_r != NULL)
		*skipped_r = 0;
	for (s = 0; s < SG_ARRAY_SIZE(paths) + SG_ARRAY_SIZE(maps); s++) {
		bool is_map = s >= SG_ARRAY_SIZE(paths);

		iv.setting = is_map ? maps[s - SG_ARRAY_SIZE(paths)] : paths[s];
		if ((v = sg_config_get(conf, iv.setting)) == NULL) {
			sg_error_set(err_r, SG_ERR_CONFIG,
				     "%s: cannot expand its value", iv.setting);
			return -1;
		}
		for (p = v; is_map ?
			    sg_map_list_next(&p, item, sizeof(item), &too_long) :
			    sg_list_copy_next(&p, item, sizeof(item), &too_long); ) {
			int r;

			if (too_long) {
				iv.skipped++;
				continue;
			}
			r = is_map ? list_map(&iv, item) : list_path(&iv, item);
			if (r < 0) {
				sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
				return -1;
			}
		}
	}
	if (skipped_r != NULL)
		*skipped_r = iv.skipped;
	return iv.count;
}
