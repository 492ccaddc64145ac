/*
 * x509-private.h - internal interfaces of x509-util.c
 *
 * What the core reads out of certificates (x509-util.c).  Nothing here is
 * exported; only files of common/ (and the unit tests and fuzzers) include
 * it.
 */
#ifndef SG_X509_PRIVATE_H
#define SG_X509_PRIVATE_H

#include "sg-base.h"

#include <openssl/x509.h>

/* time.c: an ASN1_TIME as time_t; 0 when absent or unreadable */
time_t sg_asn1_time(const ASN1_TIME *t);

/* ---- x509-util.c: what the core reads out of certificates ---- */
/* e-mail addresses of a certificate: SAN rfc822Names, or the subject
   emailAddress when there are none.  Returns count (<= max). */
size_t sg_cert_emails(X509 *cert, char addrs[][320], size_t max);
/* a name as RFC 2253 text, cut to size */
void sg_name_oneline(const X509_NAME *name, char *buf, size_t size);
/* sg_asn1_time(), with dflt for an absent time */
time_t sg_trust_asn1_time(const ASN1_TIME *t, time_t dflt);

#endif
