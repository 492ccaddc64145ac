/*
 * der-scan.h - internal interfaces of der-scan.c
 *
 * A DER walk and the addresses of a DER certificate (der-scan.c).  Nothing
 * here is exported; only files of common/ (and the unit tests and fuzzers)
 * include it.
 */
#ifndef SG_DER_SCAN_H
#define SG_DER_SCAN_H

#include "sg-base.h"

/* ---- der-scan.c ---- */
/* a DER walk: the next element of d (definite lengths only): its tag and
   content; -1 when malformed */
struct sg_der {
	const unsigned char *p, *end;
};
int sg_der_next(struct sg_der *d, unsigned int *tag_r, struct sg_der *content_r);
bool sg_der_is(const struct sg_der *d, const unsigned char *bytes, size_t n);
#define SG_DER_MAX_ADDRS 32		/* indexed per certificate */
#define SG_DER_ADDR_SIZE 320
struct sg_der_addrs {
	char a[SG_DER_MAX_ADDRS][SG_DER_ADDR_SIZE];
	size_t n;
};
/* the length, notBefore and addresses (subject emailAddress, SAN
   rfc822Name and SmtpUTF8Mailbox, as written) of the DER certificate at
   der (len bytes available); -1 when it is not one */
int sg_der_scan_cert(const unsigned char *der, size_t len, size_t *cert_len_r,
		     time_t *not_before_r, struct sg_der_addrs *al);
/* the addresses a map files a DER certificate under (as written) */
size_t sg_dirmap_cert_addrs(const unsigned char *der, size_t len,
			    char addrs[][320], size_t max);

#endif
