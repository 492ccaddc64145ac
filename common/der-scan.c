/* der-scan.c - what a certificate map needs from a certificate, read
 * with a small DER walk instead of a full decode
 *
 * OpenSSL 3.0 spends ~230 us decoding one certificate (mostly its public
 * key); indexing tens of thousands needs only the length, notBefore, the
 * subject's emailAddress and the subjectAltName (rfc822Name and
 * SmtpUTF8Mailbox).  Used by the dir: map's index (certmap-dir.c) and the
 * ldap: map's candidates (certmap-ldap-decode.c).
 */
#include "der-scan.h"
#include "sg-base.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the DER walk ---- */

/* der_next - the next DER element of d: its tag and content */
int sg_der_next(struct sg_der *d, unsigned int *tag_r, struct sg_der *content_r)
{
	const unsigned char *p = d->p;
	size_t len, n;

	if (d->end - p < 2)
		return -1;
	*tag_r = *p++;
	if ((*tag_r & 0x1f) == 0x1f)
		return -1;	/* high tag numbers: not in a certificate */
	len = *p++;
	if (len & 0x80) {
		n = len & 0x7f;
		/* n == 0 is BER's indefinite length: not DER */
		if (n == 0 || n > sizeof(size_t) || n > (size_t)(d->end - p))
			return -1;
		for (len = 0; n > 0; n--)
			len = (len << 8) | *p++;
	}
	if (len > (size_t)(d->end - p))
		return -1;
	content_r->p = p;
	content_r->end = p + len;
	d->p = p + len;
	return 0;
}

/* der_is - is the content of d exactly these bytes */
bool sg_der_is(const struct sg_der *d, const unsigned char *bytes, size_t n)
{
	return (size_t)(d->end - d->p) == n && memcmp(d->p, bytes, n) == 0;
}

/* two_digits - "07" -> 7, -1 when not digits */
static int two_digits(const unsigned char *p)
{
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
		return -1;
	return (p[0] - '0') * 10 + (p[1] - '0');
}

/* der_time - a UTCTime or GeneralizedTime in DER form (…Z) */
static int der_time(unsigned int tag, const struct sg_der *d, time_t *t_r)
{
	size_t len = (size_t)(d->end - d->p);
	const unsigned char *p = d->p;
	struct tm tm;
	int y, v[5], i;

	memset(&tm, 0, sizeof(tm));
	if (tag == 0x17 && len == 13) {
		if ((y = two_digits(p)) < 0)
			return -1;
		y += y >= 50 ? 1900 : 2000;
		p += 2;
	} else if (tag == 0x18 && len == 15) {
		int c = two_digits(p), yy = two_digits(p + 2);

		if (c < 0 || yy < 0)
			return -1;
		y = c * 100 + yy;
		p += 4;
	} else {
		return -1;
	}
	for (i = 0; i < 5; i++) {
		if ((v[i] = two_digits(p + 2 * i)) < 0)
			return -1;
	}
	if (p[10] != 'Z')
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = v[0] - 1;
	tm.tm_mday = v[1];
	tm.tm_hour = v[2];
	tm.tm_min = v[3];
	tm.tm_sec = v[4];
	*t_r = timegm(&tm);
	return 0;
}

/* add_addr - one address of a certificate (deduplicated, any case) */
static void add_addr(struct sg_der_addrs *al, const struct sg_der *d)
{
	size_t len = (size_t)(d->end - d->p), i;

	if (len == 0 || len >= SG_DER_ADDR_SIZE || al->n >= SG_DER_MAX_ADDRS)
		return;
	for (i = 0; i < len; i++) {
		if (d->p[i] < 0x21 || d->p[i] == 0x7f)
			return;	/* controls, spaces, NUL: not an address */
	}
	for (i = 0; i < al->n; i++) {
		if (strlen(al->a[i]) == len &&
		    strncasecmp(al->a[i], (const char *)d->p, len) == 0)
			return;
	}
	memcpy(al->a[al->n], d->p, len);
	al->a[al->n][len] = '\0';
	al->n++;
}

/* scan_subject - emailAddress attributes of a Name */
static void scan_subject(struct sg_der name, struct sg_der_addrs *al)
{
	static const unsigned char oid_email[] = {
		0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01
	};
	struct sg_der rdn, atv, oid, val;
	unsigned int tag;

	while (name.p < name.end) {
		if (sg_der_next(&name, &tag, &rdn) < 0 || tag != 0x31)
			return;
		while (rdn.p < rdn.end) {
			if (sg_der_next(&rdn, &tag, &atv) < 0 || tag != 0x30 ||
			    sg_der_next(&atv, &tag, &oid) < 0 || tag != 0x06)
				return;
			if (!sg_der_is(&oid, oid_email, sizeof(oid_email)))
				continue;
			if (sg_der_next(&atv, &tag, &val) < 0)
				return;
			/* IA5String, also UTF8String and PrintableString */
			if (tag == 0x16 || tag == 0x0c || tag == 0x13)
				add_addr(al, &val);
		}
	}
}

/* scan_san - rfc822Name and SmtpUTF8Mailbox of a GeneralNames */
static void scan_san(struct sg_der gn, struct sg_der_addrs *al)
{
	static const unsigned char oid_smtputf8[] = {
		0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x08, 0x09
	};
	struct sg_der seq, name, oid, expl, val;
	unsigned int tag;

	if (sg_der_next(&gn, &tag, &seq) < 0 || tag != 0x30)
		return;
	while (seq.p < seq.end) {
		if (sg_der_next(&seq, &tag, &name) < 0)
			return;
		if (tag == 0x81) {			/* [1] rfc822Name */
			add_addr(al, &name);
		} else if (tag == 0xa0) {		/* [0] otherName */
			if (sg_der_next(&name, &tag, &oid) < 0 || tag != 0x06 ||
			    !sg_der_is(&oid, oid_smtputf8, sizeof(oid_smtputf8)))
				continue;
			if (sg_der_next(&name, &tag, &expl) == 0 && tag == 0xa0 &&
			    sg_der_next(&expl, &tag, &val) == 0 && tag == 0x0c)
				add_addr(al, &val);
		}
	}
}

/* scan_extensions - the subjectAltName among [3] extensions */
static void scan_extensions(struct sg_der ext, struct sg_der_addrs *al)
{
	static const unsigned char oid_san[] = { 0x55, 0x1d, 0x11 };
	struct sg_der seq, one, oid, el;
	unsigned int tag;

	if (sg_der_next(&ext, &tag, &seq) < 0 || tag != 0x30)
		return;
	while (seq.p < seq.end) {
		if (sg_der_next(&seq, &tag, &one) < 0 || tag != 0x30 ||
		    sg_der_next(&one, &tag, &oid) < 0 || tag != 0x06)
			return;
		if (!sg_der_is(&oid, oid_san, sizeof(oid_san)))
			continue;
		if (sg_der_next(&one, &tag, &el) < 0)
			return;
		if (tag == 0x01 && sg_der_next(&one, &tag, &el) < 0)
			return;		/* critical flag */
		if (tag == 0x04)
			scan_san(el, al);
	}
}

/* scan_cert - the length, notBefore and addresses of a DER certificate
   at der (len bytes available); -1 when it is not one */
int sg_der_scan_cert(const unsigned char *der, size_t len, size_t *cert_len_r,
		     time_t *not_before_r, struct sg_der_addrs *al)
{
	struct sg_der top = { der, der + len }, cert, tbs, el, validity;
	unsigned int tag;

	al->n = 0;
	if (sg_der_next(&top, &tag, &cert) < 0 || tag != 0x30)
		return -1;
	*cert_len_r = (size_t)(cert.end - der);
	if (sg_der_next(&cert, &tag, &tbs) < 0 || tag != 0x30 ||
	    sg_der_next(&tbs, &tag, &el) < 0)
		return -1;
	if (tag == 0xa0 && sg_der_next(&tbs, &tag, &el) < 0)	/* version */
		return -1;
	if (tag != 0x02 ||					/* serial */
	    sg_der_next(&tbs, &tag, &el) < 0 || tag != 0x30 ||	/* algorithm */
	    sg_der_next(&tbs, &tag, &el) < 0 || tag != 0x30 ||	/* issuer */
	    sg_der_next(&tbs, &tag, &validity) < 0 || tag != 0x30 ||
	    sg_der_next(&validity, &tag, &el) < 0 ||
	    der_time(tag, &el, not_before_r) < 0 ||
	    sg_der_next(&tbs, &tag, &el) < 0 || tag != 0x30)	/* subject */
		return -1;
	scan_subject(el, al);
	if (sg_der_next(&tbs, &tag, &el) < 0 || tag != 0x30)	/* key */
		return -1;
	while (tbs.p < tbs.end) {
		if (sg_der_next(&tbs, &tag, &el) < 0)
			return -1;
		if (tag == 0xa3)
			scan_extensions(el, al);
	}
	return 0;
}

/* sg_dirmap_cert_addrs - the addresses the index files a certificate
   under, as written */
size_t sg_dirmap_cert_addrs(const unsigned char *der, size_t len,
			    char addrs[][320], size_t max)
{
	struct sg_der_addrs *al = malloc(sizeof(*al));
	size_t cert_len, i, n = 0;
	time_t nb;

	if (al == NULL)
		return 0;
	if (sg_der_scan_cert(der, len, &cert_len, &nb, al) == 0) {
		for (i = 0; i < al->n && n < max; i++)
			memcpy(addrs[n++], al->a[i], SG_DER_ADDR_SIZE);
	}
	free(al);
	return n;
}

