/* doctor.c - what is wrong with the trust store, the CRLs and the
 * certificates of an address, each finding with its fix (smimectl doctor)
 *
 * sg_config_check() reads the configured paths itself, file by file, so
 * it can name what sg_ctx_new() would refuse (an unreadable trust anchor)
 * or silently skip (a file in a trust directory that holds nothing it can
 * read).  sg_cert_check() looks an address up as the policy service does
 * and explains the candidates that cannot be used where the server, not
 * the certificate, is at fault (a CA missing from the trust store, a CA
 * without a current CRL), and compares the two LDAP attributes clients
 * read certificates from.
 */
#include "sg-base.h"
#include "certmap-private.h"
#include "config-private.h"
#include "ctx-private.h"
#include "dirmap-private.h"
#include "icache-private.h"
#include "ldapmap-private.h"
#include "maps-private.h"
#include "x509-private.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define DN_SIZE 512

struct sink {
	void (*report)(const struct sg_finding *f, void *context);
	void *context;
	int count;
};

/* emit - one finding */
static void emit(struct sink *sk, const char *code, const char *address,
		 const char *about, const char *text, const char *fix)
{
	struct sg_finding f;

	f.code = code;
	f.address = address != NULL ? address : "";
	f.about = about != NULL ? about : "";
	f.text = text;
	f.fix = fix;
	sk->report(&f, sk->context);
	sk->count++;
}

/* line - format one line of a finding; a long one is cut, which is
   fine for a message (so the compiler need not prove it fits) */
static void line(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void line(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

/* ---- chain diagnosis ---- */

struct diag {
	char missing[DN_SIZE];		/* a CA the chain needs but the store
					   lacks, or "" */
	bool self_signed;		/* missing names a self-signed
					   certificate that is not an anchor */
	char crl_ca[DN_SIZE];		/* a CA of the chain without a
					   current CRL, or "" */
	int crl_error;			/* why: an X509_V_ERR_ code */
	char url[SG_CRL_URL_MAX];	/* where missing is published (AIA
					   caIssuers), or "" */
};

/* diag_cb - note what is missing instead of stopping */
static int diag_cb(int ok, X509_STORE_CTX *xctx)
{
	struct diag *d = X509_STORE_CTX_get_app_data(xctx);
	X509 *cur = X509_STORE_CTX_get_current_cert(xctx);
	X509_CRL *crl;

	if (ok || d == NULL)
		return ok;
	switch (X509_STORE_CTX_get_error(xctx)) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
		if (d->missing[0] == '\0' && cur != NULL) {
			sg_name_oneline(X509_get_issuer_name(cur), d->missing,
					sizeof(d->missing));
			(void)sg_icache_url(cur, d->url, sizeof(d->url));
		}
		break;
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		if (d->missing[0] == '\0' && cur != NULL) {
			sg_name_oneline(X509_get_subject_name(cur), d->missing,
					sizeof(d->missing));
			d->self_signed = true;
		}
		break;
	case X509_V_ERR_UNABLE_TO_GET_CRL:
		if (d->crl_error == 0 && cur != NULL) {
			sg_name_oneline(X509_get_issuer_name(cur), d->crl_ca,
					sizeof(d->crl_ca));
			d->crl_error = X509_V_ERR_UNABLE_TO_GET_CRL;
		}
		break;
	case X509_V_ERR_CRL_HAS_EXPIRED:
	case X509_V_ERR_CRL_NOT_YET_VALID:
		crl = X509_STORE_CTX_get0_current_crl(xctx);
		if (d->crl_error == 0 && (crl != NULL || cur != NULL)) {
			sg_name_oneline(crl != NULL ? X509_CRL_get_issuer(crl) :
					X509_get_issuer_name(cur), d->crl_ca,
					sizeof(d->crl_ca));
			d->crl_error = X509_STORE_CTX_get_error(xctx);
		}
		break;
	default:
		break;
	}
	return 1;
}

/* diagnose - build cert's chain from the store and untrusted CAs (and
   check CRLs when crls is not NULL) and say what is missing */
static void diagnose(X509_STORE *store, STACK_OF(X509) *untrusted,
		     STACK_OF(X509_CRL) *crls, X509 *cert, time_t at,
		     struct diag *d)
{
	X509_STORE_CTX *xctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *param;
	unsigned long flags = 0;

	memset(d, 0, sizeof(*d));
	if (xctx == NULL || X509_STORE_CTX_init(xctx, store, cert, untrusted) != 1) {
		X509_STORE_CTX_free(xctx);
		sg_openssl_errors(NULL, 0);
		return;
	}
	param = X509_STORE_CTX_get0_param(xctx);
	X509_VERIFY_PARAM_set_time(param, at);
	if (crls != NULL) {
		X509_STORE_CTX_set0_crls(xctx, crls);
		flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL |
			 X509_V_FLAG_EXTENDED_CRL_SUPPORT | X509_V_FLAG_USE_DELTAS;
	}
	X509_VERIFY_PARAM_set_flags(param, flags);
	X509_STORE_CTX_set_app_data(xctx, d);
	X509_STORE_CTX_set_verify_cb(xctx, diag_cb);
	(void)X509_verify_cert(xctx);
	X509_STORE_CTX_free(xctx);
	sg_openssl_errors(NULL, 0);
}

/* missing_text - the sentence and fix for a chain that lacks a CA;
   for_arg: what "smimectl ca fetch --for" takes, or NULL */
static void missing_text(const struct diag *d, const char *for_arg,
			 char *text, size_t tsize, char *fix, size_t fsize)
{
	if (!d->self_signed && d->url[0] != '\0') {
		line(text, tsize, "its chain is missing the CA %s", d->missing);
		line(fix, fsize, "'smimectl ca fetch%s%s' can get it from %s "
			 "(with intermediate_cache set), or import the CA "
			 "certificate of %s into intermediates",
			 for_arg != NULL ? " --for " : "",
			 for_arg != NULL ? for_arg : "", d->url, d->missing);
		return;
	}
	if (d->self_signed) {
		line(text, tsize, "its chain ends in the self-signed "
			 "certificate %s, which is not a trust anchor", d->missing);
		line(fix, fsize, "if you trust %s, import its certificate "
			 "into trust_anchors", d->missing);
	} else {
		line(text, tsize, "its chain is missing the CA %s",
			 d->missing);
		line(fix, fsize, "import the CA certificate of %s into "
			 "trust_anchors or intermediates", d->missing);
	}
}

/* ---- the trust store and CRLs of a configuration ---- */

struct item {
	void *obj;			/* X509 or X509_CRL */
	char *path;
	const char *setting;
};

struct items {
	struct item *v;
	size_t n, size;
};

/* items_free - free the objects and paths */
static void items_free(struct items *it, bool crl)
{
	size_t i;

	for (i = 0; i < it->n; i++) {
		if (crl)
			X509_CRL_free(it->v[i].obj);
		else
			X509_free(it->v[i].obj);
		free(it->v[i].path);
	}
	free(it->v);
	memset(it, 0, sizeof(*it));
}

/* items_add - keep one loaded object; -1 on out of memory (obj freed) */
static int items_add(struct items *it, void *obj, bool crl, const char *path,
		     const char *setting)
{
	struct item *v;

	if (it->n == it->size) {
		size_t size = it->size == 0 ? 16 : it->size * 2;

		if ((v = realloc(it->v, size * sizeof(*v))) == NULL)
			goto nomem;
		it->v = v;
		it->size = size;
	}
	if ((it->v[it->n].path = strdup(path)) == NULL)
		goto nomem;
	it->v[it->n].obj = obj;
	it->v[it->n].setting = setting;
	it->n++;
	return 0;
nomem:
	if (crl)
		X509_CRL_free(obj);
	else
		X509_free(obj);
	return -1;
}

/* check_file - load one file of a setting; findings when it cannot be
   read or holds nothing.  -1 on out of memory */
static int check_file(struct sink *sk, const char *setting, const char *path,
		      bool want_crl, struct items *out)
{
	STACK_OF(X509) *certs = want_crl ? NULL : sk_X509_new_null();
	STACK_OF(X509_CRL) *crls = want_crl ? sk_X509_CRL_new_null() : NULL;
	const char *what = want_crl ? "CRL" : "certificate";
	char text[768], fix[512];
	struct sg_error e;
	size_t n = 0;
	int ret = 0;

	if ((want_crl && crls == NULL) || (!want_crl && certs == NULL)) {
		ret = -1;
		goto out;
	}
	if (sg_trust_load_file(path, want_crl, certs, crls, &n, &e) < 0) {
		if (e.code == SG_ERR_NOMEM) {
			ret = -1;
			goto out;
		}
		line(text, sizeof(text), "%s: %s", setting, e.msg);
		line(fix, sizeof(fix), "make %s readable by the mail "
			 "service's users, or remove it from %s", path, setting);
		emit(sk, "path-unreadable", NULL, path, text, fix);
		goto out;
	}
	if (n == 0) {
		line(text, sizeof(text), "%s: %s holds no %s in PEM or DER "
			 "form; it is ignored", setting, path, what);
		line(fix, sizeof(fix), "%s", want_crl ?
			 "convert it to PEM (openssl crl -inform DER -in FILE -out FILE.pem), or remove it" :
			 "convert it to PEM (openssl x509 -inform DER, or openssl pkcs7 -print_certs for a .p7b bundle), or remove it");
		emit(sk, "path-empty", NULL, path, text, fix);
		goto out;
	}
	while (ret == 0 && want_crl && sk_X509_CRL_num(crls) > 0)
		ret = items_add(out, sk_X509_CRL_shift(crls), true, path, setting);
	while (ret == 0 && !want_crl && sk_X509_num(certs) > 0)
		ret = items_add(out, sk_X509_shift(certs), false, path, setting);
out:
	sk_X509_pop_free(certs, X509_free);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	return ret;
}

struct check_dir {
	struct sink *sk;
	const char *setting;
	bool want_crl;
	struct items *out;
};

static int check_dir_file(void *context, const char *file)
{
	struct check_dir *cd = context;

	return check_file(cd->sk, cd->setting, file, cd->want_crl, cd->out);
}

/* check_path - a file or directory of a setting, as trust.c loads it
   (the same files: sg_dir_files) */
static int check_path(struct sink *sk, const char *setting, const char *path,
		      bool want_crl, struct items *out)
{
	char text[768], fix[512];
	size_t before = out->n;
	struct stat st;
	DIR *dir;
	int ret = 0;

	if (stat(path, &st) < 0) {
		line(text, sizeof(text), "%s: %s: %s", setting, path,
			 strerror(errno));
		line(fix, sizeof(fix), "correct the path in %s, or create it",
			 setting);
		emit(sk, "path-unreadable", NULL, path, text, fix);
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return check_file(sk, setting, path, want_crl, out);
	if ((dir = opendir(path)) == NULL) {
		line(text, sizeof(text), "%s: %s: %s", setting, path,
			 strerror(errno));
		line(fix, sizeof(fix), "make the directory %s readable by "
			 "the mail service's users", path);
		emit(sk, "path-unreadable", NULL, path, text, fix);
		return 0;
	}
	{
		struct check_dir cd = { sk, setting, want_crl, out };

		ret = sg_dir_files(dir, path, check_dir_file, &cd);
	}
	closedir(dir);
	if (ret == 0 && out->n == before) {
		line(text, sizeof(text), "%s: the directory %s holds no %s",
			 setting, path, want_crl ? "CRL" : "certificate");
		line(fix, sizeof(fix), "put the %s into %s (PEM or DER), or "
			 "remove it from %s", want_crl ? "CRLs" : "CA certificates",
			 path, setting);
		emit(sk, "path-empty", NULL, path, text, fix);
	}
	return ret;
}

/* check_list - every path of a setting */
static int check_list(struct sink *sk, const struct sg_config *conf,
		      const char *setting, bool want_crl, struct items *out,
		      struct sg_error *err_r)
{
	const char *v = sg_config_get(conf, setting), *p;
	char item[4096];
	bool too_long;

	if (v == NULL) {
		sg_error_set(err_r, SG_ERR_CONFIG, "%s: cannot expand its value",
			     setting);
		return -1;
	}
	for (p = v; sg_list_copy_next(&p, item, sizeof(item), &too_long); ) {
		if (too_long)
			continue;
		if (check_path(sk, setting, item, want_crl, out) < 0) {
			sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
			return -1;
		}
	}
	return 0;
}

/* crl_by - does a configured CA issue this CRL: 1 yes, 0 a CA of that
   name but the signature does not verify, -1 no CA of that name */
static int crl_by(X509_CRL *crl, const struct items *cas, size_t *ca_r)
{
	int ret = -1;
	size_t i;

	for (i = 0; i < cas->n; i++) {
		X509 *ca = cas->v[i].obj;
		EVP_PKEY *pk;

		if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
				  X509_get_subject_name(ca)) != 0)
			continue;
		ret = 0;
		pk = X509_get0_pubkey(ca);
		if (pk != NULL && X509_CRL_verify(crl, pk) == 1) {
			if (ca_r != NULL)
				*ca_r = i;
			sg_openssl_errors(NULL, 0);
			return 1;
		}
	}
	sg_openssl_errors(NULL, 0);
	return ret;
}

/* check_cas - validity and chains of trust anchors and intermediates */
static int check_cas(struct sink *sk, const struct items *cas,
		     size_t n_anchors, time_t at)
{
	STACK_OF(X509) *inter = sk_X509_new_null();
	X509_STORE *store = X509_STORE_new();
	char dn[DN_SIZE], t[32], text[1024], fix[768];
	size_t i;

	if (inter == NULL || store == NULL) {
		sk_X509_free(inter);
		X509_STORE_free(store);
		return -1;
	}
	for (i = 0; i < cas->n; i++) {
		if (i < n_anchors)
			(void)X509_STORE_add_cert(store, cas->v[i].obj);
		else if (!sk_X509_push(inter, cas->v[i].obj))
			goto nomem;
	}
	sg_openssl_errors(NULL, 0);
	for (i = 0; i < cas->n; i++) {
		const struct item *it = &cas->v[i];
		X509 *x = it->obj;
		time_t nb = sg_asn1_time(X509_get0_notBefore(x));
		time_t na = sg_asn1_time(X509_get0_notAfter(x));

		sg_name_oneline(X509_get_subject_name(x), dn, sizeof(dn));
		if (X509_check_ca(x) == 0) {
			line(text, sizeof(text), "%s: %s holds %s, which is "
				 "not a CA certificate", it->setting, it->path, dn);
			line(fix, sizeof(fix), "remove it from %s: only CA "
				 "certificates belong there (partners' certificates "
				 "go into a dir: certificate map)", it->setting);
			emit(sk, "not-a-ca", NULL, dn, text, fix);
			continue;
		}
		if (na != 0 && at >= na) {
			sg_time_iso(na, t, sizeof(t));
			line(text, sizeof(text), "%s: the CA certificate %s "
				 "(%s) expired on %s", it->setting, dn, it->path, t);
			line(fix, sizeof(fix), "replace %s with the CA's "
				 "renewed certificate", it->path);
			emit(sk, "ca-expired", NULL, dn, text, fix);
		} else if (nb != 0 && at < nb) {
			sg_time_iso(nb, t, sizeof(t));
			line(text, sizeof(text), "%s: the CA certificate %s "
				 "(%s) is not valid before %s", it->setting, dn,
				 it->path, t);
			line(fix, sizeof(fix), "check the server's clock, or "
				 "keep the CA's previous certificate until then");
			emit(sk, "ca-not-yet-valid", NULL, dn, text, fix);
		}
		if (i >= n_anchors) {
			struct diag d;
			char why[DN_SIZE + 200];

			diagnose(store, inter, NULL, x, at, &d);
			if (d.missing[0] != '\0') {
				missing_text(&d, NULL, why, sizeof(why), fix,
					     sizeof(fix));
				line(text, sizeof(text), "intermediates: %s "
					 "(%s) does not chain to a trust anchor: %s",
					 dn, it->path, why);
				emit(sk, "missing-issuer", NULL, d.missing, text,
				     fix);
			}
		}
	}
	sk_X509_free(inter);
	X509_STORE_free(store);
	return 0;
nomem:
	sk_X509_free(inter);
	X509_STORE_free(store);
	return -1;
}

/* check_crls - validity and issuers of the CRLs; in hard mode every CA
   needs one */
static void check_crls(struct sink *sk, const struct items *crls,
		       const struct items *cas, bool hard, time_t at)
{
	char dn[DN_SIZE], t[32], text[1024], fix[768];
	size_t i, j;

	for (i = 0; i < crls->n; i++) {
		const struct item *it = &crls->v[i];
		X509_CRL *crl = it->obj;
		time_t last = sg_asn1_time(X509_CRL_get0_lastUpdate(crl));
		time_t next = sg_asn1_time(X509_CRL_get0_nextUpdate(crl));
		int by = crl_by(crl, cas, NULL);

		sg_name_oneline(X509_CRL_get_issuer(crl), dn, sizeof(dn));
		if (next != 0 && at >= next) {
			sg_time_iso(next, t, sizeof(t));
			line(text, sizeof(text), "crl_dirs: the CRL of %s (%s) "
				 "expired on %s (nextUpdate): revocation of its "
				 "certificates is %s", dn, it->path, t,
				 hard ? "unknown, so they are rejected" :
				 "not checked");
			line(fix, sizeof(fix), "download the current CRL of "
				 "%s into %s, and refresh it regularly (cron)", dn,
				 it->path);
			emit(sk, "crl-expired", NULL, it->path, text, fix);
		} else if (last != 0 && at < last) {
			sg_time_iso(last, t, sizeof(t));
			line(text, sizeof(text), "crl_dirs: the CRL of %s (%s) "
				 "is not valid before %s (lastUpdate)", dn,
				 it->path, t);
			line(fix, sizeof(fix), "check the server's clock "
				 "(and the CA's); keep the previous CRL until then");
			emit(sk, "crl-not-yet-valid", NULL, it->path, text, fix);
		}
		/* a CRL of a CA that is not configured may still serve
		   chains that messages complete: not a finding */
		if (by == 0) {
			line(text, sizeof(text), "crl_dirs: the signature of "
				 "%s (a CRL of %s) does not verify with that CA's key",
				 it->path, dn);
			line(fix, sizeof(fix), "download the CRL again from "
				 "the CA (it is damaged, or from another CA of the "
				 "same name)");
			emit(sk, "crl-bad-signature", NULL, it->path, text, fix);
		}
	}
	if (!hard)
		return;
	for (i = 0; i < cas->n; i++) {
		X509 *ca = cas->v[i].obj;
		bool found = false;

		if (X509_check_ca(ca) == 0)
			continue;
		for (j = 0; j < crls->n && !found; j++) {
			size_t k;

			if (crl_by(crls->v[j].obj, cas, &k) == 1 &&
			    X509_NAME_cmp(X509_get_subject_name(cas->v[k].obj),
					  X509_get_subject_name(ca)) == 0)
				found = true;
		}
		if (found)
			continue;
		sg_name_oneline(X509_get_subject_name(ca), dn, sizeof(dn));
		line(text, sizeof(text), "revocation_check = hard, but "
			 "crl_dirs holds no CRL of %s (%s %s): every certificate "
			 "it issued is rejected as revocation-unknown", dn,
			 cas->v[i].setting, cas->v[i].path);
		line(fix, sizeof(fix), "put the CRL of %s into crl_dirs "
			 "(from its CRL distribution point), or set "
			 "revocation_check = soft", dn);
		emit(sk, "crl-missing", NULL, dn, text, fix);
	}
}

/* check_maps - certificate_maps and harvest_map can be read (no network):
   what each type's diagnose says */
static int check_maps(struct sink *sk, const struct sg_config *conf,
		      struct sg_error *err_r)
{
	static const char *const settings[] = { "certificate_maps", "harvest_map" };
	char item[4096], text[1024], fix[768];
	bool too_long;
	size_t s;

	for (s = 0; s < SG_ARRAY_SIZE(settings); s++) {
		const char *v = sg_config_get(conf, settings[s]), *p;

		if (v == NULL) {
			sg_error_set(err_r, SG_ERR_CONFIG,
				     "%s: cannot expand its value", settings[s]);
			return -1;
		}
		for (p = v; sg_map_list_next(&p, item, sizeof(item), &too_long); ) {
			const struct sg_map_type_def *def;
			const char *name;
			struct sg_error e;
			int r;

			if (too_long ||
			    sg_map_parse(settings[s], item, SG_MAP_USE_CERTS,
					 &def, &name, &e) < 0 ||
			    def->diagnose == NULL)
				continue;
			r = def->diagnose(settings[s], item, name,
					  SG_MAP_USE_CERTS, text, sizeof(text),
					  fix, sizeof(fix), err_r);
			if (r < 0)
				return -1;
			if (r > 0)
				emit(sk, "map-unreadable", NULL, item, text, fix);
		}
	}
	return 0;
}

/* sg_config_check - the trust store, CRLs and maps of a configuration */
/* check_icache - intermediate_cache: the directory, and certificates
   queued by aia_fetch = cache-only that smimectl ca fetch has not
   handled yet (at most 10 findings) */
static void check_icache(struct sink *sk, const struct sg_config *conf)
{
	const char *dir = sg_config_get(conf, "intermediate_cache");
	char pending[4096], path[4400], text[2048], fix[1600];
	char subject[DN_SIZE], issuer[DN_SIZE], url[SG_CRL_URL_MAX];
	struct dirent *de;
	struct stat st;
	int shown = 0;
	DIR *d;

	if (dir == NULL || dir[0] == '\0')
		return;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		line(text, sizeof(text), "intermediate_cache %s is not a "
			 "directory: no intermediate is learned or fetched", dir);
		line(fix, sizeof(fix), "create it, writable by the mail "
			 "processes (the Dovecot plugin's user) and smimectl: "
			 "install -d -o vmail -m 0755 %s", dir);
		emit(sk, "intermediate-cache-missing", NULL, dir, text, fix);
		return;
	}
	snprintf(pending, sizeof(pending), "%s/pending", dir);
	if ((d = opendir(pending)) == NULL)
		return;
	while ((de = readdir(d)) != NULL && shown < 10) {
		size_t len = strlen(de->d_name);
		BIO *bio;
		X509 *x = NULL;

		if (de->d_name[0] == '.' || len < 5 ||
		    strcmp(de->d_name + len - 4, ".pem") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", pending, de->d_name);
		if ((bio = BIO_new_file(path, "r")) != NULL) {
			x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
			BIO_free(bio);
		}
		if (x == NULL) {
			sg_openssl_errors(NULL, 0);
			continue;
		}
		sg_name_oneline(X509_get_subject_name(x), subject, sizeof(subject));
		sg_name_oneline(X509_get_issuer_name(x), issuer, sizeof(issuer));
		if (!sg_icache_url(x, url, sizeof(url)))
			url[0] = '\0';
		X509_free(x);
		line(text, sizeof(text), "the chain of %s is missing %s "
			 "(queued while mail was verified)", subject, issuer);
		line(fix, sizeof(fix), "'smimectl ca fetch' can get it from %s; "
			 "run it from cron like 'smimectl crl fetch', then "
			 "'doveadm smime reverify' for the mail that arrived", url);
		emit(sk, "aia-pending", NULL, issuer, text, fix);
		shown++;
	}
	closedir(d);
}

int sg_config_check(const struct sg_config *conf, time_t at,
		    void (*report)(const struct sg_finding *f, void *context),
		    void *context, struct sg_error *err_r)
{
	struct sink sk = { report, context, 0 };
	struct items cas = { NULL, 0, 0 }, crls = { NULL, 0, 0 };
	const char *rev;
	size_t n_anchors;
	int ret = -1;

	sg_assert(conf != NULL && report != NULL);
	sg_error_clear(err_r);
	if (at == 0)
		at = time(NULL);
	if (check_list(&sk, conf, "trust_anchors", false, &cas, err_r) < 0)
		goto out;
	n_anchors = cas.n;
	if (check_list(&sk, conf, "intermediates", false, &cas, err_r) < 0 ||
	    check_list(&sk, conf, "crl_dirs", true, &crls, err_r) < 0)
		goto out;
	if ((rev = sg_config_get(conf, "revocation_check")) == NULL) {
		sg_error_set(err_r, SG_ERR_CONFIG,
			     "revocation_check: cannot expand its value");
		goto out;
	}
	if (check_cas(&sk, &cas, n_anchors, at) < 0) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		goto out;
	}
	check_crls(&sk, &crls, &cas, strcmp(rev, "hard") == 0, at);
	if (check_maps(&sk, conf, err_r) < 0)
		goto out;
	check_icache(&sk, conf);
	{
		/* what the daemons would refuse to start with */
		struct sg_error merr;

		if (sg_config_check_modes(conf, NULL, &merr) < 0)
			emit(&sk, "unsafe-permissions", NULL, NULL, merr.msg,
			     "chmod go-w on that path (smime-policyd and "
			     "smime-milter refuse to start until then)");
	}
	ret = sk.count;
out:
	items_free(&cas, false);
	items_free(&crls, true);
	return ret;
}

/* ---- the certificates of an address ---- */

/* cand_name - "SUBJECT (serial S, MAP SOURCE)" of a candidate */
static void cand_name(const struct sg_cert_candidate *c, char *buf,
		      size_t size)
{
	snprintf(buf, size, "%s (serial %s, %s%s%s)", c->subject, c->serial,
		 c->map, c->source[0] != '\0' ? " " : "", c->source);
}

/* check_candidates - the server-side reasons candidates are rejected */
static void check_candidates(struct sink *sk, struct sg_ctx *ctx,
			     const struct sg_cert_set *set, time_t at)
{
	const char *addr = sg_cert_set_address(set);
	char name[1200], why[DN_SIZE + 200], text[2048], fix[768];
	size_t i, n = sg_cert_set_count(set);

	for (i = 0; i < n; i++) {
		const struct sg_cert_candidate *c = sg_cert_set_get(set, i);
		const uint32_t server_side = SG_REASON_BIT(SG_REASON_UNTRUSTED) |
			SG_REASON_BIT(SG_REASON_REVOCATION_UNKNOWN);
		const unsigned char *der;
		struct diag d;
		size_t len;
		X509 *x;

		if (c->usable || !(c->reasons & server_side))
			continue;
		sg_cert_set_der(set, i, &der, &len);
		if ((x = sg_trust_cert_from_der(ctx, der, len)) == NULL)
			continue;
		diagnose(ctx->store, ctx->intermediates,
			 ctx->revocation != SG_REVOCATION_NONE ? ctx->crls : NULL,
			 x, at, &d);
		X509_free(x);
		cand_name(c, name, sizeof(name));
		if ((c->reasons & SG_REASON_BIT(SG_REASON_UNTRUSTED)) &&
		    d.missing[0] != '\0') {
			missing_text(&d, addr, why, sizeof(why), fix,
				     sizeof(fix));
			line(text, sizeof(text), "%s: the certificate %s is "
				 "not trusted: %s", addr, name, why);
			emit(sk, "missing-issuer", addr, d.missing, text, fix);
		}
		if ((c->reasons & SG_REASON_BIT(SG_REASON_REVOCATION_UNKNOWN)) &&
		    d.crl_error != 0) {
			line(text, sizeof(text), "%s: the certificate %s cannot "
				 "be checked for revocation: the CRL of %s %s", addr,
				 name, d.crl_ca,
				 d.crl_error == X509_V_ERR_CRL_HAS_EXPIRED ?
				 "has expired" :
				 d.crl_error == X509_V_ERR_CRL_NOT_YET_VALID ?
				 "is not yet valid" : "is not in crl_dirs");
			line(fix, sizeof(fix), "put a current CRL of %s into "
				 "crl_dirs (from its CRL distribution point)",
				 d.crl_ca);
			emit(sk, "revocation-unknown", addr, d.crl_ca, text, fix);
		}
	}
}

/* check_unusable - an address whose every candidate is rejected */
static void check_unusable(struct sink *sk, const struct sg_cert_set *set)
{
	const char *addr = sg_cert_set_address(set);
	char text[2048], fix[768];
	size_t i, n = sg_cert_set_count(set), used;
	uint32_t all = 0;

	if (n == 1)
		used = (size_t)snprintf(text, sizeof(text), "%s: its only "
					"certificate cannot be used to encrypt:",
					addr);
	else
		used = (size_t)snprintf(text, sizeof(text), "%s: none of its "
					"%zu certificates can be used to encrypt:",
					addr, n);
	for (i = 0; i < n && used < sizeof(text); i++) {
		const struct sg_cert_candidate *c = sg_cert_set_get(set, i);

		all |= c->reasons;
		used += (size_t)snprintf(text + used, sizeof(text) - used,
					 "%s serial %s %s", i > 0 ? ";" : "",
					 c->serial, sg_reason_name(c->reason));
	}
	if ((all & ~(SG_REASON_BIT(SG_REASON_UNTRUSTED) |
		     SG_REASON_BIT(SG_REASON_REVOCATION_UNKNOWN))) == 0)
		line(fix, sizeof(fix), "fix the trust store or the CRLs "
			 "as the findings above say; the certificates "
			 "themselves are fine");
	else
		line(fix, sizeof(fix), "ask %s for a current certificate "
			 "that allows encryption (keyEncipherment or "
			 "keyAgreement, emailProtection) and publish it", addr);
	emit(sk, "no-usable-certificate", addr, addr, text, fix);
}

/* serial_hex - a certificate's serial number in hex */
static void serial_hex(X509 *x, char *buf, size_t size)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

	snprintf(buf, size, "%s", hex != NULL ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
}

/* describe_only - "serial S (valid until T)" of the certificates of one
   entry in attribute class have but not in lack */
static void describe_only(struct sg_ctx *ctx, const struct sg_map *m,
			  struct sg_dirmap_cert *const *certs,
			  size_t n, const char *dn, unsigned int have,
			  unsigned int lack, char *buf, size_t size)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n && used < size; i++) {
		const char *cdn;
		unsigned int cls;
		char serial[80], t[32];
		X509 *x;

		(void)sg_map_origin(m, certs[i], &cdn, &cls);
		if (strcmp(cdn, dn) != 0 || !(cls & have) || (cls & lack))
			continue;
		if ((x = sg_trust_cert_from_der(ctx, certs[i]->der,
						certs[i]->der_len)) == NULL)
			continue;
		serial_hex(x, serial, sizeof(serial));
		sg_time_iso(sg_asn1_time(X509_get0_notAfter(x)), t, sizeof(t));
		X509_free(x);
		used += (size_t)snprintf(buf + used, size - used,
					 "%sserial %s (valid until %s)",
					 used > 0 ? ", " : "", serial, t);
	}
	if (buf[0] == '\0')
		snprintf(buf, size, "nothing else");
}

/* check_attributes - userSMIMECertificate vs userCertificate, per
   entry of every map that keeps where a certificate came from (ldap:);
   -1 when a map fails */
static int check_attributes(struct sink *sk, struct sg_ctx *ctx,
			    const char *addr, struct sg_error *err_r)
{
	size_t m, i, j, n;
	char only_s[700], only_u[700], text[2048], fix[768];

	for (m = 0; m < sg_cmap_count(ctx->certmaps); m++) {
		struct sg_map *map = sg_cmap_map(ctx->certmaps, m);
		struct sg_dirmap_cert *const *certs;

		if (sg_map_def(map)->origin == NULL)
			continue;
		sg_map_lock(map);
		if (sg_map_find_certs(map, addr, &certs, &n, err_r) < 0) {
			sg_map_unlock(map);
			return -1;
		}
		for (i = 0; i < n; i++) {
			const char *dn, *dn2;
			unsigned int cls, smime = 0, cert = 0, mixed = 0;
			bool first = true;

			(void)sg_map_origin(map, certs[i], &dn, &cls);
			for (j = 0; j < i && first; j++) {
				(void)sg_map_origin(map, certs[j], &dn2, &cls);
				first = strcmp(dn, dn2) != 0;
			}
			if (!first)
				continue;	/* entry seen already */
			for (j = i; j < n; j++) {
				(void)sg_map_origin(map, certs[j], &dn2, &cls);
				if (strcmp(dn, dn2) != 0)
					continue;
				smime += (cls & SG_LDAP_ATTR_SMIME) != 0;
				cert += (cls & SG_LDAP_ATTR_CERT) != 0;
				mixed += (cls & SG_LDAP_ATTR_SMIME) &&
					 (cls & SG_LDAP_ATTR_CERT);
			}
			if (smime == 0 || cert == 0 ||
			    (mixed == smime && mixed == cert))
				continue;
			describe_only(ctx, map, certs, n, dn, SG_LDAP_ATTR_SMIME,
				      SG_LDAP_ATTR_CERT, only_s, sizeof(only_s));
			describe_only(ctx, map, certs, n, dn, SG_LDAP_ATTR_CERT,
				      SG_LDAP_ATTR_SMIME, only_u, sizeof(only_u));
			line(text, sizeof(text), "%s: %s: userSMIMECertificate "
				 "and userCertificate hold different certificates "
				 "(only in userSMIMECertificate: %s; only in "
				 "userCertificate: %s): clients that read different "
				 "attributes encrypt to different certificates",
				 addr, dn, only_s, only_u);
			line(fix, sizeof(fix), "publish the same current "
				 "certificate in both attributes of %s (e.g. "
				 "republish it from the user's mail client) and "
				 "remove the other one", dn);
			emit(sk, "attribute-mismatch", addr, dn, text, fix);
		}
		sg_map_unlock(map);
	}
	return 0;
}

/* sg_cert_check - what is wrong with the certificates of an address */
int sg_cert_check(struct sg_ctx *ctx, const char *address, time_t at,
		  void (*report)(const struct sg_finding *f, void *context),
		  void *context, struct sg_error *err_r)
{
	struct sink sk = { report, context, 0 };
	struct sg_cert_set *set = NULL;
	char text[1024], fix[768];
	const char *addr;
	int lr;

	sg_assert(ctx != NULL && address != NULL && report != NULL);
	sg_error_clear(err_r);
	if (at == 0)
		at = time(NULL);
	if ((lr = sg_cert_lookup(ctx, address, at, &set, err_r)) < 0)
		return -1;
	addr = sg_cert_set_address(set);
	if (addr[0] == '\0') {
		line(text, sizeof(text), "'%.200s' cannot be an e-mail "
			 "address (spaces or control characters)", address);
		line(fix, sizeof(fix), "give the address as user@domain");
		emit(&sk, "not-an-address", address, address, text, fix);
		sg_cert_set_free(&set);
		return sk.count;
	}
	if (sg_cert_set_count(set) == 0) {
		line(text, sizeof(text), "%s: no certificate in any of "
			 "certificate_maps (%zu map%s)", addr,
			 sg_cmap_count(ctx->certmaps),
			 sg_cmap_count(ctx->certmaps) == 1 ? "" : "s");
		line(fix, sizeof(fix), "publish the user's certificate "
			 "(userSMIMECertificate or userCertificate in the "
			 "directory, or a file in a dir: map)");
		emit(&sk, "no-certificate", addr, addr, text, fix);
	}
	check_candidates(&sk, ctx, set, at);
	if (lr == 0 && sg_cert_set_count(set) > 0)
		check_unusable(&sk, set);
	if (check_attributes(&sk, ctx, addr, err_r) < 0) {
		sg_cert_set_free(&set);
		return -1;
	}
	sg_cert_set_free(&set);
	return sk.count;
}
