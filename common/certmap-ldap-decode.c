/* certmap-ldap-decode.c - certificates from LDAP attribute values
 *
 * The decoding half of an ldap: lookup (certmap-ldap.c does the talking):
 * the values of one directory entry go in one by one with the attribute
 * description they came from; sg_ldap_pend_finish() turns the collected
 * certificates into candidates.  Kept apart from libldap so that it is
 * built, tested and fuzzed without it.
 *
 * A value is a DER certificate, a DER PKCS#7 SignedData (certs-only, as
 * userSMIMECertificate holds it, possibly with S/MIME capabilities), or
 * PEM text holding either.  Anything else is ignored: a directory is not
 * trusted to hold only certificates.  CA certificates (basicConstraints
 * CA:TRUE) are not candidates: chains come from the trust store.  A
 * certificate served under several attributes (userCertificate and
 * userSMIMECertificate) is one candidate that remembers all of them.
 *
 * Limits: values over SG_LDAP_MAX_VALUE bytes are ignored; at most
 * SG_LDAP_MAX_CANDS certificates per entry and per answer (further ones
 * are dropped), SG_LDAP_MAX_ADDRS addresses per certificate.
 */
#include "ldapmap-private.h"
#include "sg-base.h"
#include "der-scan.h"
#include "x509-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>
#include <sodium.h>

/* one certificate of the entry being read */
struct lm_pending {
	unsigned char fpr[32];
	unsigned char *der;
	size_t len;
	time_t not_before;
	unsigned int classes;
	char attrs[192];		/* attribute descriptions, '+' joined */
};

struct sg_ldap_pend {
	struct lm_pending *p;
	size_t n, size;
	struct sg_buf addrs;		/* the entry's addresses, ", " list */
	size_t n_addrs;
};

/* no_controls - replace control characters (for text shown to people) */
static void no_controls(char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			*s = '?';
	}
}

/* attr_class - which attribute a description names */
static unsigned int attr_class(const char *attr)
{
	if (strncasecmp(attr, "userSMIMECertificate", 20) == 0 &&
	    (attr[20] == '\0' || attr[20] == ';'))
		return SG_LDAP_ATTR_SMIME;
	if (strncasecmp(attr, "userCertificate", 15) == 0 &&
	    (attr[15] == '\0' || attr[15] == ';'))
		return SG_LDAP_ATTR_CERT;
	return SG_LDAP_ATTR_OTHER;
}

/* has_token - is tok one of the '+' separated items of list */
static bool has_token(const char *list, const char *tok)
{
	size_t len = strlen(tok);
	const char *p = list;

	while (*p != '\0') {
		size_t n = strcspn(p, "+");

		if (n == len && strncmp(p, tok, len) == 0)
			return true;
		p += n + (p[n] == '+');
	}
	return false;
}

/* pend_add - one certificate of an entry (merged when already there);
   CA certificates are skipped.  der is the certificate's encoding. -1 on
   out of memory */
static int pend_add(struct sg_ldap_pend *pl, X509 *x, const unsigned char *der,
		    size_t len, const char *attr)
{
	unsigned char fpr[32];
	struct lm_pending *pe;
	size_t i, used;

	if (X509_get_extension_flags(x) & EXFLAG_CA)
		return 0;
	crypto_hash_sha256(fpr, der, len);
	for (i = 0; i < pl->n; i++) {
		pe = &pl->p[i];
		if (memcmp(pe->fpr, fpr, sizeof(fpr)) != 0)
			continue;
		pe->classes |= attr_class(attr);
		if (!has_token(pe->attrs, attr)) {
			used = strlen(pe->attrs);
			snprintf(pe->attrs + used, sizeof(pe->attrs) - used,
				 "+%s", attr);
			no_controls(pe->attrs);
		}
		return 0;
	}
	if (pl->n >= SG_LDAP_MAX_CANDS)
		return 0;
	if (pl->n == pl->size) {
		size_t size = pl->size == 0 ? 4 : pl->size * 2;

		if ((pe = realloc(pl->p, size * sizeof(*pe))) == NULL)
			return -1;
		pl->p = pe;
		pl->size = size;
	}
	pe = &pl->p[pl->n];
	memset(pe, 0, sizeof(*pe));
	if ((pe->der = malloc(len)) == NULL)
		return -1;
	memcpy(pe->der, der, len);
	pe->len = len;
	memcpy(pe->fpr, fpr, sizeof(fpr));
	pe->not_before = sg_asn1_time(X509_get0_notBefore(x));
	pe->classes = attr_class(attr);
	snprintf(pe->attrs, sizeof(pe->attrs), "%s", attr);
	no_controls(pe->attrs);
	pl->n++;
	return 0;
}

/* pend_x509 - add a decoded certificate (re-encoded from its cache) */
static int pend_x509(struct sg_ldap_pend *pl, X509 *x, const char *attr)
{
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der), ret;

	if (len <= 0)
		return 0;
	ret = pend_add(pl, x, der, (size_t)len, attr);
	OPENSSL_free(der);
	return ret;
}

/* pend_pkcs7 - the certificates of a PKCS#7 SignedData */
static int pend_pkcs7(struct sg_ldap_pend *pl, PKCS7 *p7, const char *attr)
{
	STACK_OF(X509) *certs = NULL;
	int i, ret = 0;

	if (PKCS7_type_is_signed(p7) && p7->d.sign != NULL)
		certs = p7->d.sign->cert;
	for (i = 0; i < sk_X509_num(certs) && ret == 0; i++)
		ret = pend_x509(pl, sk_X509_value(certs, i), attr);
	return ret;
}

/* pend_pem - the certificates and bundles of PEM text */
static int pend_pem(struct sg_ldap_pend *pl, const unsigned char *p,
		    size_t len, const char *attr)
{
	BIO *bio = BIO_new_mem_buf(p, (int)len);
	int ret = 0;

	if (bio == NULL)
		return -1;
	while (ret == 0) {
		char *name = NULL, *header = NULL;
		unsigned char *der = NULL;
		const unsigned char *q;
		long dlen = 0;

		if (PEM_read_bio(bio, &name, &header, &der, &dlen) != 1)
			break;
		q = der;
		if (strcmp(name, "CERTIFICATE") == 0) {
			X509 *x = d2i_X509(NULL, &q, dlen);

			if (x != NULL)
				ret = pend_add(pl, x, der, (size_t)dlen, attr);
			X509_free(x);
		} else if (strcmp(name, "PKCS7") == 0) {
			PKCS7 *p7 = d2i_PKCS7(NULL, &q, dlen);

			if (p7 != NULL)
				ret = pend_pkcs7(pl, p7, attr);
			PKCS7_free(p7);
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
	}
	BIO_free(bio);
	return ret;
}

struct sg_ldap_pend *sg_ldap_pend_new(void)
{
	return calloc(1, sizeof(struct sg_ldap_pend));
}

/* sg_ldap_pend_value - the certificates of one attribute value */
int sg_ldap_pend_value(struct sg_ldap_pend *pl, const unsigned char *p,
		       size_t len, const char *attr)
{
	int ret = 0;

	if (len == 0 || len > SG_LDAP_MAX_VALUE)
		return 0;
	if (len > 11 && memcmp(p, "-----BEGIN ", 11) == 0) {
		ret = pend_pem(pl, p, len, attr);
	} else {
		const unsigned char *q = p;
		X509 *x = d2i_X509(NULL, &q, (long)len);

		if (x != NULL && q == p + len) {
			ret = pend_add(pl, x, p, len, attr);
		} else {
			PKCS7 *p7;

			q = p;
			if ((p7 = d2i_PKCS7(NULL, &q, (long)len)) != NULL)
				ret = pend_pkcs7(pl, p7, attr);
			PKCS7_free(p7);
		}
		X509_free(x);
	}
	sg_openssl_errors(NULL, 0);
	return ret;
}

/* pend_clear - empty the list */
static void pend_clear(struct sg_ldap_pend *pl)
{
	size_t i;

	for (i = 0; i < pl->n; i++)
		free(pl->p[i].der);
	pl->n = 0;
	pl->addrs.used = 0;
	pl->n_addrs = 0;
}

int sg_ldap_pend_address(struct sg_ldap_pend *pl, const unsigned char *p,
			 size_t len)
{
	size_t i;

	if (len > 5 && strncasecmp((const char *)p, "smtp:", 5) == 0) {
		p += 5;
		len -= 5;
	}
	if (len == 0 || len >= 320 || memchr(p, '@', len) == NULL ||
	    pl->n_addrs >= SG_LDAP_MAX_ADDRS)
		return 0;
	for (i = 0; i < len; i++)
		if (p[i] <= ' ' || p[i] == 0x7f || p[i] == ',' || p[i] == ':')
			return 0;	/* x500:, X400: and other kinds */
	if ((pl->n_addrs > 0 && sg_buf_append(&pl->addrs, ", ", 2) < 0) ||
	    sg_buf_append(&pl->addrs, p, len) < 0)
		return -1;
	pl->n_addrs++;
	return 0;
}

/* sg_ldap_pend_finish - the collected certificates as candidates */
int sg_ldap_pend_finish(struct sg_ldap_pend *pl, struct sg_ldap_cands *out,
			const char *url, const char *dn_in)
{
	char (*addrs)[320] = NULL;
	char *dn = NULL;
	size_t i, j, n_addrs, total;
	struct sg_ldap_cand *c;
	char *p;
	int ret = -1;

	if (pl->n == 0)
		return 0;
	if ((addrs = malloc(SG_LDAP_MAX_ADDRS * sizeof(*addrs))) == NULL ||
	    (dn = strdup(dn_in)) == NULL)
		goto out;
	no_controls(dn);
	for (i = 0; i < pl->n && out->n < SG_LDAP_MAX_CANDS; i++) {
		struct lm_pending *pe = &pl->p[i];
		void *np;

		n_addrs = sg_dirmap_cert_addrs(pe->der, pe->len, addrs,
					       SG_LDAP_MAX_ADDRS);
		total = strlen(url) + strlen(pe->attrs) + strlen(dn) + 3 +
			strlen(dn) + 1 + pe->len + pl->addrs.used + 1;
		for (j = 0; j < n_addrs; j++)
			total += strlen(addrs[j]) + 2;
		total += 1;
		if ((np = realloc(out->certs, (out->n + 1) * sizeof(*out->certs))) == NULL)
			goto out;
		out->certs = np;
		if ((np = realloc(out->pubs, (out->n + 1) * sizeof(*out->pubs))) == NULL)
			goto out;
		out->pubs = np;
		if ((c = calloc(1, sizeof(*c) + total)) == NULL)
			goto out;
		p = (char *)(c + 1);
		c->pub.source = p;
		p += sprintf(p, "%s %s %s", url, pe->attrs, dn) + 1;
		c->dn = p;
		p += sprintf(p, "%s", dn) + 1;
		c->pub.emails = p;
		*p = '\0';
		for (j = 0; j < n_addrs; j++)
			p += sprintf(p, "%s%s", j > 0 ? ", " : "", addrs[j]);
		p++;
		c->pub.entry_addrs = p;
		memcpy(p, pl->addrs.used > 0 ? (const char *)pl->addrs.data : "",
		       pl->addrs.used);
		p += pl->addrs.used;
		*p++ = '\0';
		memcpy(p, pe->der, pe->len);
		c->pub.der = (const unsigned char *)p;
		c->pub.der_len = pe->len;
		memcpy(c->pub.fpr, pe->fpr, sizeof(c->pub.fpr));
		c->pub.not_before = pe->not_before;
		c->classes = pe->classes;
		out->certs[out->n] = c;
		out->pubs[out->n] = &c->pub;
		out->n++;
	}
	ret = 0;
out:
	pend_clear(pl);
	free(addrs);
	free(dn);
	return ret;
}

void sg_ldap_pend_free(struct sg_ldap_pend **plp)
{
	struct sg_ldap_pend *pl = *plp;

	if (pl == NULL)
		return;
	*plp = NULL;
	pend_clear(pl);
	sg_buf_free(&pl->addrs);
	free(pl->p);
	free(pl);
}

void sg_ldap_cands_clear(struct sg_ldap_cands *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		free(c->certs[i]->pub.eval);	/* one block */
		free(c->certs[i]);
	}
	free(c->certs);
	free(c->pubs);
	memset(c, 0, sizeof(*c));
}
