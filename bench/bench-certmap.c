/*
 * bench-certmap.c - lookups per second of a dir: certificate map with many
 * certificates
 *
 * Usage: bench-certmap [--count N] [--seconds S] [--dir DIR]
 *
 * Generates N (default 10000) certificates in-process into a temporary
 * directory (or DIR, kept): one EC P-256 CA, one EC P-256 key pair shared
 * by every leaf (what costs is the certificate, not its key), each leaf
 * with its own serial, subject and rfc822Name userNNNNN@bench.example,
 * keyUsage keyAgreement and EKU emailProtection, one PEM file each.  Then,
 * on one context (trust_anchors = the CA, revocation_check = none,
 * certificate_maps = dir:DIR):
 *   load        the first lookup, which reads and indexes the directory
 *   cold hits   every address once: each certificate is decoded, its
 *               chain validated and its evaluation cached
 *   warm hits   random addresses for S seconds (cached evaluations)
 *   misses      random unknown addresses for S seconds
 *   rescan      the first lookup after one file was added and a second
 *               passed: every file stat()ed, one read, index rebuilt
 * Every answer is checked (a hit has exactly one usable certificate, a
 * miss none); a wrong answer aborts the run.  See RESULTS.md.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "smimeguard-admin.h"

struct options {
	long count;
	double seconds;
	const char *dir;
};

static void die(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

/* die - print and exit 2 */
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench-certmap: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

/* now_s - monotonic seconds */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* rss_kb - resident set size of this process */
static long rss_kb(void)
{
	FILE *fp = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (fp == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(fp);
	return kb;
}

/* xorshift - a small deterministic PRNG */
static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* ec_key - a new P-256 key */
static EVP_PKEY *ec_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	if (k == NULL)
		die("cannot generate an EC key");
	return k;
}

/* add_ext - one extension from its openssl.cnf text */
static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL ||
	    X509_add_ext(cert, ext, -1) != 1)
		die("cannot add extension %d", nid);
	X509_EXTENSION_free(ext);
}

/* make_cert - a certificate signed by ca_key (self-signed if ca NULL) */
static X509 *make_cert(long serial, const char *cn, const char *email,
		       EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key)
{
	X509 *x = X509_new();
	X509_NAME *name;
	char san[128];

	if (x == NULL || X509_set_version(x, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), serial) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -86400) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 365L * 86400) == NULL ||
	    X509_set_pubkey(x, key) != 1)
		die("cannot build a certificate");
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
				   (const unsigned char *)"Bench", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, ca != NULL ? X509_get_subject_name(ca) : name);
	if (ca == NULL) {
		add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
		add_ext(x, x, NID_subject_key_identifier, "hash");
	} else {
		snprintf(san, sizeof(san), "email:%s", email);
		add_ext(x, ca, NID_basic_constraints, "CA:FALSE");
		add_ext(x, ca, NID_key_usage, "critical,keyAgreement");
		add_ext(x, ca, NID_ext_key_usage, "emailProtection");
		add_ext(x, ca, NID_subject_alt_name, san);
		add_ext(x, ca, NID_authority_key_identifier, "keyid");
	}
	if (X509_sign(x, ca_key, EVP_sha256()) <= 0)
		die("cannot sign a certificate");
	return x;
}

/* write_pem - one certificate to a file */
static void write_pem(const char *path, X509 *x)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || PEM_write_X509(fp, x) != 1 || fclose(fp) != 0)
		die("cannot write %s: %s", path, strerror(errno));
}

/* generate - the CA and count leaf certificates under dir */
static double generate(const char *dir, long count)
{
	char path[4096], cn[64], email[64];
	EVP_PKEY *ca_key = ec_key(), *leaf_key = ec_key();
	X509 *ca = make_cert(1, "Bench CA", NULL, ca_key, NULL, ca_key);
	double t0 = now_s();
	long i;

	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	write_pem(path, ca);
	snprintf(path, sizeof(path), "%s/certs", dir);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		die("mkdir %s: %s", path, strerror(errno));
	for (i = 0; i < count; i++) {
		X509 *x;

		snprintf(cn, sizeof(cn), "User %05ld", i);
		snprintf(email, sizeof(email), "user%05ld@bench.example", i);
		x = make_cert(i + 2, cn, email, leaf_key, ca, ca_key);
		snprintf(path, sizeof(path), "%s/certs/user%05ld.pem", dir, i);
		write_pem(path, x);
		X509_free(x);
	}
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(leaf_key);
	return now_s() - t0;
}

/* one - a lookup whose answer must be want */
static void one(struct sg_ctx *ctx, const char *addr, int want)
{
	struct sg_cert_set *set = NULL;
	struct sg_error err;
	int ret = sg_cert_lookup(ctx, addr, 0, &set, &err);

	if (ret != want || sg_cert_set_count(set) != (want == 1 ? 1u : 0u))
		die("%s: lookup returned %d (%s), want %d", addr, ret,
		    ret < 0 ? err.msg : "", want);
	sg_cert_set_free(&set);
}

/* timed - lookups for `seconds`; hits or misses; returns lookups/s */
static double timed(struct sg_ctx *ctx, long count, double seconds, bool hits,
		    long *n_r)
{
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	char addr[64];
	double t0 = now_s(), t;
	long n = 0;

	do {
		int k;

		for (k = 0; k < 256; k++) {
			long i = (long)(xorshift(&rng) % (uint64_t)count);

			if (hits)
				snprintf(addr, sizeof(addr),
					 "user%05ld@bench.example", i);
			else
				snprintf(addr, sizeof(addr),
					 "nobody%05ld@bench.example", i);
			one(ctx, addr, hits ? 1 : 0);
			n++;
		}
		t = now_s() - t0;
	} while (t < seconds);
	*n_r = n;
	return (double)n / t;
}

/* remove_tree - the generated directory: ca.pem and certs/ */
static void remove_tree(const char *dir)
{
	char path[4096];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/certs", dir);
	if ((d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/certs/%s", dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	snprintf(path, sizeof(path), "%s/certs", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	unlink(path);
	if (rmdir(dir) < 0)
		fprintf(stderr, "bench-certmap: could not remove %s: %s\n", dir,
			strerror(errno));
}

/* usage - the synopsis, exit 2 */
static void usage(void)
{
	fprintf(stderr,
		"Usage: bench-certmap [--count N] [--seconds S] [--dir DIR]\n");
	exit(2);
}

/* main - generate, load, measure, print */
int main(int argc, char **argv)
{
	struct options o = { 10000, 2.0, NULL };
	char tmpl[] = "/tmp/smimeguard-certmap.XXXXXX", path[4096], addr[64];
	struct sg_config *conf;
	struct sg_ctx *ctx;
	struct sg_error err;
	const char *dir;
	double gen, t0, load, cold, warm, miss, rescan, t;
	long i, n_warm, n_miss, rss0, rss1;
	int a;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--count") == 0 && a + 1 < argc)
			o.count = strtol(argv[++a], NULL, 10);
		else if (strcmp(argv[a], "--seconds") == 0 && a + 1 < argc)
			o.seconds = strtod(argv[++a], NULL);
		else if (strcmp(argv[a], "--dir") == 0 && a + 1 < argc)
			o.dir = argv[++a];
		else
			usage();
	}
	if (o.count < 1 || o.count > 99999 || o.seconds <= 0)
		usage();
	if (sg_init() < 0)
		die("sg_init failed");
	if (o.dir != NULL) {
		dir = o.dir;
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			die("mkdir %s: %s", dir, strerror(errno));
	} else if ((dir = mkdtemp(tmpl)) == NULL) {
		die("mkdtemp: %s", strerror(errno));
	}
	printf("bench-certmap: libsmimeguard %s, %s\n", sg_version(),
	       OpenSSL_version(OPENSSL_VERSION));
	gen = generate(dir, o.count);
	printf("bench-certmap: %ld certificates (EC P-256, one PEM file each) "
	       "generated in %.2f s into %s/certs\n", o.count, gen, dir);

	if (sg_config_new(&conf) < 0)
		die("out of memory");
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	if (sg_config_set(conf, "trust_anchors", path, &err) < 0 ||
	    sg_config_set(conf, "revocation_check", "none", &err) < 0)
		die("%s", err.msg);
	snprintf(path, sizeof(path), "dir:%s/certs", dir);
	if (sg_config_set(conf, "certificate_maps", path, &err) < 0 ||
	    sg_ctx_new(conf, &ctx, &err) < 0)
		die("%s", err.msg);
	sg_config_free(&conf);

	rss0 = rss_kb();
	t0 = now_s();
	one(ctx, "nobody@bench.example", 0);
	load = now_s() - t0;
	rss1 = rss_kb();

	t0 = now_s();
	for (i = 0; i < o.count; i++) {
		snprintf(addr, sizeof(addr), "user%05ld@bench.example", i);
		one(ctx, addr, 1);
	}
	cold = (double)o.count / (now_s() - t0);
	warm = timed(ctx, o.count, o.seconds, true, &n_warm);
	miss = timed(ctx, o.count, o.seconds, false, &n_miss);

	/* one more file; the directory is looked at again after a second */
	{
		EVP_PKEY *k = ec_key();
		X509 *x = make_cert(999999, "Late User", "late@bench.example",
				    k, NULL, k);

		snprintf(path, sizeof(path), "%s/certs/late.pem", dir);
		write_pem(path, x);
		X509_free(x);
		EVP_PKEY_free(k);
	}
	usleep(1100 * 1000);
	t0 = now_s();
	one(ctx, "user00000@bench.example", 1);
	rescan = now_s() - t0;
	t0 = now_s();
	one(ctx, "user00001@bench.example", 1);
	t = now_s() - t0;

	printf("\n");
	printf("%-44s %12s\n", "measurement", "result");
	printf("%-44s %12s\n", "-----------", "------");
	printf("%-44s %10.1f ms\n", "load (first lookup: read + index)", load * 1e3);
	printf("%-44s %10ld MB\n", "memory of the loaded index (RSS growth)",
	       rss0 >= 0 && rss1 >= 0 ? (rss1 - rss0) / 1024 : -1L);
	printf("%-44s %12.0f\n", "cold hits/s (decode + chain, each once)", cold);
	printf("%-44s %12.0f\n", "warm hits/s (cached evaluation)", warm);
	printf("%-44s %12.0f\n", "misses/s", miss);
	printf("%-44s %10.1f ms\n", "rescan after a change (first lookup)", rescan * 1e3);
	printf("%-44s %10.1f us\n", "next lookup", t * 1e6);
	printf("\nbench-certmap: %ld warm and %ld miss lookups over %.1f s each\n",
	       n_warm, n_miss, o.seconds);
	sg_ctx_free(&ctx);
	if (o.dir == NULL)
		remove_tree(dir);
	return 0;
}
