/*
 * ldapmap-private.h - internal interfaces of certmap-ldap.c and
 * certmap-ldap-decode.c
 *
 * The ldap: map (certmap-ldap.c, built when HAVE_LDAP) and the
 * certificates of LDAP values (certmap-ldap-decode.c, always built).
 * Nothing here is exported; only files of common/ (and the unit tests and
 * fuzzers) include it.
 */
#ifndef SG_LDAPMAP_PRIVATE_H
#define SG_LDAPMAP_PRIVATE_H

#include "sg-base.h"
#include "dirmap-private.h"

struct sg_ldapmap;

/* ---- certmap-ldap-decode.c: certificates from LDAP values ---- */
/* which attribute a certificate came from (bits) */
#define SG_LDAP_ATTR_SMIME 1u		/* userSMIMECertificate[;binary] */
#define SG_LDAP_ATTR_CERT 2u		/* userCertificate[;binary] */
#define SG_LDAP_ATTR_OTHER 4u		/* another result_attribute */
#define SG_LDAP_MAX_VALUE (1024 * 1024)	/* larger: not a certificate */
#define SG_LDAP_MAX_CANDS 64		/* candidates per entry/answer */
#define SG_LDAP_MAX_ADDRS 32		/* addresses shown per certificate */
/* one candidate of an answer */
struct sg_ldap_cand {
	struct sg_dirmap_cert pub;	/* first: what the map lookup returns */
	unsigned int classes;		/* SG_LDAP_ATTR_* */
	const char *dn;
	/* source, dn, emails and DER follow */
};
/* the candidates of an answer; pubs[i] is &certs[i]->pub */
struct sg_ldap_cands {
	struct sg_ldap_cand **certs;
	struct sg_dirmap_cert **pubs;
	size_t n;
};
struct sg_ldap_pend;
/* collect one entry's values (NULL on out of memory) */
struct sg_ldap_pend *sg_ldap_pend_new(void);
/* add the certificates of one value of attribute attr; values that are
   not certificates are ignored; 0, or -1 on out of memory */
int sg_ldap_pend_value(struct sg_ldap_pend *pl, const unsigned char *val,
		       size_t len, const char *attr);
/* add one value of an address_attribute of the entry ("smtp:" prefix
   dropped; values that are no address are ignored); 0, or -1 on ENOMEM */
int sg_ldap_pend_address(struct sg_ldap_pend *pl, const unsigned char *val,
			 size_t len);
/* move the collected certificates of entry dn (from server url) into
   out and start over; 0, or -1 on out of memory */
int sg_ldap_pend_finish(struct sg_ldap_pend *pl, struct sg_ldap_cands *out,
			const char *url, const char *dn);
void sg_ldap_pend_free(struct sg_ldap_pend **pl);
void sg_ldap_cands_clear(struct sg_ldap_cands *c);

/* ---- certmap-ldap.c: the ldap: map (built when HAVE_LDAP) ---- */
#ifdef HAVE_LDAP
/* read and check the map file path for use (SG_MAP_USE_CERTS: the
   certificates of an address; SG_MAP_USE_TEXT: a text value of a key,
   result_attribute required); nothing is contacted yet.  0, or -1 with
   err_r naming the file and line */
int sg_ldapmap_new(const char *path, unsigned int use,
		   struct sg_ldapmap **lm_r, struct sg_error *err_r);
/* SG_MAP_USE_TEXT: the value of key (from the cache or a search): 1 and
   value, 0 when no entry has one (or key is outside `domain`), -1 with
   err_r: no server answered (SG_ERR_IO), or what the entries hold is
   not one value that fits (SG_ERR_CONFIG) */
int sg_ldapmap_lookup(struct sg_ldapmap *lm, const char *key, char *value,
		      size_t size, struct sg_error *err_r);
void sg_ldapmap_free(struct sg_ldapmap **lm);
const char *sg_ldapmap_path(const struct sg_ldapmap *lm);
/* the certificates of addr (lower-cased), from the cache or a search:
   *certs_r/*n_r borrowed until the next find; 0 (also when none), -1 a
   temporary error (no server answered, out of memory) */
int sg_ldapmap_find(struct sg_ldapmap *lm, const char *addr,
		    struct sg_dirmap_cert *const **certs_r, size_t *n_r,
		    struct sg_error *err_r);
/* the entry DN and the SG_LDAP_ATTR_* bits of a certificate returned by
   sg_ldapmap_find (borrowed like it) */
void sg_ldapmap_origin(const struct sg_dirmap_cert *c, const char **dn_r,
		       unsigned int *classes_r);
/* query_filter for addr, every value RFC 4515 escaped, into out
   (NUL-terminated): 0; 1 when the address cannot fill it (%d and no
   domain: no query); -1 out of memory */
int sg_ldapmap_filter(const char *tmpl, const char *addr, struct sg_buf *out);
#endif /* HAVE_LDAP */

#endif
