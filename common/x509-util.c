/* x509-util.c - what the core reads out of certificates: names for
 * people, e-mail addresses, times
 *
 * A leaf of the core: it uses OpenSSL and nothing of smimeguard's, so
 * every module that handles certificates can use it (trust.c, icache.c,
 * crl.c, cert-select.c, certmap.c) without depending on another.
 */
#include "x509-private.h"
#include "sg-base.h"

#include <stdio.h>
#include <string.h>

#include <openssl/x509v3.h>

void sg_name_oneline(const X509_NAME *name, char *buf, size_t size)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;

	buf[0] = '\0';
	if (bio == NULL)
		return;
	if (X509_NAME_print_ex(bio, name, 0,
			       XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		n = BIO_get_mem_data(bio, &data);
		if (n > 0) {
			if ((size_t)n >= size)
				n = (long)size - 1;
			memcpy(buf, data, (size_t)n);
			buf[n] = '\0';
		}
	}
	BIO_free(bio);
}

size_t sg_cert_emails(X509 *cert, char addrs[][320], size_t max)
{
	GENERAL_NAMES *gens;
	size_t n = 0;
	int i;

	gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (i = 0; i < sk_GENERAL_NAME_num(gens) && n < max; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const unsigned char *s;
		int len;

		if (g->type == GEN_EMAIL) {
			s = ASN1_STRING_get0_data(g->d.rfc822Name);
			len = ASN1_STRING_length(g->d.rfc822Name);
		} else if (g->type == GEN_OTHERNAME &&
			   OBJ_obj2nid(g->d.otherName->type_id) ==
			   NID_id_on_SmtpUTF8Mailbox &&
			   g->d.otherName->value->type == V_ASN1_UTF8STRING) {
			/* RFC 8398: the e-mail SAN of an internationalized
			   address */
			s = ASN1_STRING_get0_data(g->d.otherName->value->value.utf8string);
			len = ASN1_STRING_length(g->d.otherName->value->value.utf8string);
		} else {
			continue;
		}
		if (len <= 0 || len >= 320 || memchr(s, '\0', (size_t)len))
			continue;
		memcpy(addrs[n], s, (size_t)len);
		addrs[n][len] = '\0';
		n++;
	}
	GENERAL_NAMES_free(gens);
	if (n > 0)
		return n;
	/* no e-mail SAN: the subject's emailAddress (RFC 8550) */
	{
		const X509_NAME *subj = X509_get_subject_name(cert);
		int idx = -1;

		while (n < max &&
		       (idx = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress,
							 idx)) >= 0) {
			ASN1_STRING *s = X509_NAME_ENTRY_get_data(
				X509_NAME_get_entry(subj, idx));
			int len = ASN1_STRING_length(s);

			if (len <= 0 || len >= 320 ||
			    memchr(ASN1_STRING_get0_data(s), '\0', (size_t)len))
				continue;
			memcpy(addrs[n], ASN1_STRING_get0_data(s), (size_t)len);
			addrs[n][len] = '\0';
			n++;
		}
	}
	return n;
}

time_t sg_trust_asn1_time(const ASN1_TIME *t, time_t dflt)
{
	return t == NULL ? dflt : sg_asn1_time(t);
}

time_t sg_asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return timegm(&tm);
}
