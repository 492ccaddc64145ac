#ifndef SMIMEGUARD_ADMIN_H
#define SMIMEGUARD_ADMIN_H

/*
 * smimeguard-admin.h - the administration side of libsmimeguard
 *
 * What smimectl (and the keystore daemon) use and the mail adapters do
 * not: JSON output, diagnosis, the inventory, CRL installation and
 * download, the intermediate cache and AIA fetching, the keystore.
 * smimeguard.h is what a Dovecot or Postfix adapter needs; this header
 * adds the rest, with the same conventions (struct sg_error, sg_free(),
 * SG_WUR).  It includes smimeguard.h.
 */
#include "smimeguard.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* JSON output (smimectl verify --json, smimectl lookup --json)        */
/* ------------------------------------------------------------------ */

/*
 * sg_result_json - the DESIGN.md section 4 JSON object for one input
 * file is the "file" field (may be NULL for null).  Return a NUL-terminated
 * single-line string owned by the caller (free with sg_free()), or NULL on
 * out of memory.
 */
SG_API char *sg_result_json(const struct sg_result *res, const char *file)
	SG_WUR;

/*
 * sg_cert_set_json - the set as one JSON object:
 *   {"address","found","map","certificates":[{"subject","issuer",
 *   "serial","not_before","not_after","fingerprint","ski","emails":[...],
 *   "key","key_usage","map","source","usable","selected","reasons":[...],
 *   "detail"}]}
 * ("found": a usable certificate exists; "selected": the first usable
 * one, the one a sender would pick; times as 2026-11-28T10:00:00Z).
 * Return a NUL-terminated single-line string owned by the caller (free
 * with sg_free()), or NULL on out of memory.
 */
SG_API char *sg_cert_set_json(const struct sg_cert_set *set) SG_WUR;

/* ------------------------------------------------------------------ */
/* Diagnosis (smimectl doctor)                                         */
/* ------------------------------------------------------------------ */

/*
 * A finding is one problem an administrator can fix, reported with the
 * fix.  Codes (stable tokens):
 *   path-unreadable     a trust_anchors, intermediates or crl_dirs path
 *                       (or a file in such a directory) cannot be read
 *   path-empty          ... holds no certificate (CRL) the library reads
 *   not-a-ca            a trust anchor or intermediate is not a CA
 *   ca-expired, ca-not-yet-valid
 *                       a trust anchor or intermediate outside its validity
 *   missing-issuer      a chain (of an intermediate, or of an address's
 *                       certificate) needs a CA the trust store lacks;
 *                       about: that CA's DN
 *   crl-expired, crl-not-yet-valid
 *                       a CRL in crl_dirs outside lastUpdate..nextUpdate
 *   crl-bad-signature   a CRL whose signature does not verify with the
 *                       key of the configured CA of its issuer's name
 *   crl-missing         revocation_check = hard and a CA has no CRL
 *   map-unreadable      a dir: map that is not a readable directory, an
 *                       ldap: map file that is not valid
 *   not-an-address      the address cannot be one
 *   no-certificate      no map knows the address
 *   no-usable-certificate  every candidate of the address is rejected
 *   revocation-unknown  a candidate's CA has no current CRL (hard mode)
 *   attribute-mismatch  an LDAP entry's userSMIMECertificate and
 *                       userCertificate hold different certificates
 *   intermediate-cache-missing  intermediate_cache is not a directory
 *   aia-pending         a certificate whose issuer is missing waits in
 *                       intermediate_cache/pending for smimectl ca
 *                       fetch; about: the missing issuer's DN
 * The strings are borrowed, valid during the report call only.
 */
struct sg_finding {
	const char *code;	/* the token above */
	const char *address;	/* the address checked, or "" */
	const char *about;	/* what it concerns: a path, a CA's DN, an
				   LDAP entry's DN, the address */
	const char *text;	/* one line: what is wrong */
	const char *fix;	/* one line: how to fix it */
};

/*
 * sg_config_check - check the trust store and CRLs of a configuration
 * Parameters:
 *   conf     the configuration (its trust_anchors, intermediates,
 *            crl_dirs, revocation_check, certificate_maps, harvest_map)
 *   at       evaluation time, or 0 for now
 *   report   called once per finding, with context
 *   err_r    filled when -1 is returned
 * The paths are read file by file, independent of a context, so what
 * would make sg_ctx_new() fail is reported as findings.  Maps are
 * checked without contacting a server (an ldap: map file is parsed).
 * Return value: the number of findings (0: clean), or -1 (a setting
 * cannot be expanded, out of memory).
 */
SG_API int sg_config_check(const struct sg_config *conf, time_t at,
			   void (*report)(const struct sg_finding *f,
					  void *context),
			   void *context, struct sg_error *err_r) SG_WUR;

/*
 * sg_cert_check - check the certificates an address is looked up with
 * Parameters:
 *   ctx      the context (its certificate_maps and trust store)
 *   address  the recipient's address, any case
 *   at       evaluation time, or 0 for now
 *   report   called once per finding, with context
 *   err_r    filled when -1 is returned
 * Looks the address up as sg_cert_lookup() does and reports: no
 * certificate, no usable one, candidates rejected because the trust
 * store lacks a CA (naming it) or a CA has no current CRL, and, for
 * every ldap: map, entries whose userSMIMECertificate and
 * userCertificate hold different certificates.
 * Return value: the number of findings, or -1 when a map failed
 * (temporary error, as sg_cert_lookup) or out of memory.
 */
SG_API int sg_cert_check(struct sg_ctx *ctx, const char *address, time_t at,
			 void (*report)(const struct sg_finding *f,
					void *context),
			 void *context, struct sg_error *err_r) SG_WUR;

/* ------------------------------------------------------------------ */
/* Inventory: the certificates a configuration names (smimectl report) */
/* ------------------------------------------------------------------ */

/* One certificate of the inventory.  Strings are never NULL (possibly
   ""), borrowed for the duration of the callback. */
struct sg_cert_entry {
	const char *setting;	/* where it is configured: "trust_anchors",
				   "intermediates", "pinned_certificates",
				   "certificate_maps", "harvest_map" */
	const char *location;	/* the file ("dir:/etc/certs FILE" for a
				   certificate of a dir: map) */
	const char *subject;	/* RFC 2253 subject DN, one line */
	const char *issuer;	/* RFC 2253 issuer DN, one line */
	const char *serial;	/* hex serial number */
	const char *emails;	/* its addresses, ", " separated, or "" */
	const char *fingerprint; /* SHA-256 of the DER, lower-case hex */
	time_t not_before;
	time_t not_after;
	int ca;			/* 1: basicConstraints CA */
};

/*
 * sg_config_certificates - every certificate a configuration names
 * Parameters:
 *   conf       the configuration: trust_anchors, intermediates,
 *              pinned_certificates (files or directories), and the dir:
 *              maps of certificate_maps and harvest_map
 *   fn         called once per certificate, with context
 *   skipped_r  receives the number of paths and maps that could not be
 *              listed: unreadable (smimectl doctor says why), or an
 *              ldap: map (a directory is not enumerated); may be NULL
 *   err_r      filled when -1 is returned
 * Nothing is validated (no chain, no revocation): this is an inventory,
 * e.g. of what expires soon.  A certificate listed twice (the same file
 * under two settings) is reported twice.
 * Return value: the number of certificates reported, or -1 (a setting
 * cannot be expanded, out of memory).
 */
SG_API int sg_config_certificates(const struct sg_config *conf,
				  void (*fn)(const struct sg_cert_entry *e,
					     void *context),
				  void *context, size_t *skipped_r,
				  struct sg_error *err_r) SG_WUR;

/* ------------------------------------------------------------------ */
/* CRLs: installing by hand and from distribution points (crl.c)       */
/* ------------------------------------------------------------------ */

enum sg_crl_outcome {
	SG_CRL_INSTALLED = 0,	/* written into the CRL directory */
	SG_CRL_UNCHANGED,	/* this very CRL is already in effect */
	SG_CRL_KEPT_NEWER,	/* a CRL as new or newer is in effect: kept */
	SG_CRL_REJECTED		/* not installed; detail says why */
};

/* what became of one CRL */
struct sg_crl_report {
	enum sg_crl_outcome outcome;
	char issuer[512];		/* the CRL's issuer, one line */
	char this_update[32];		/* "2026-11-28T10:00:00Z" */
	char next_update[32];		/* the same, or "" when absent */
	char number[80];		/* cRLNumber in decimal, or "" */
	bool delta;			/* a delta CRL */
	unsigned long revoked;		/* entries */
	char path[1024];		/* file written (or that would be) */
	char detail[512];		/* a sentence for the administrator */
};

#define SG_CRL_FORCE 0x1u	/* install expired / not yet valid CRLs */
#define SG_CRL_DRY_RUN 0x2u	/* check only, write nothing */

/*
 * sg_crl_install - check CRLs and write them into a CRL directory
 * Parameters:
 *   ctx          the trust store the CRLs must be issued under, and the
 *                CRLs in effect (crl_dirs) they must not be older than
 *   dir          the directory to write into (sg_crl_dir())
 *   data, len    PEM (one or more "X509 CRL" blocks) or one DER CRL
 *   now          the time validity is judged at, or 0 for now
 *   flags        SG_CRL_FORCE, SG_CRL_DRY_RUN
 *   reports      one per CRL of the input, at most max_reports; *n_r set
 * A CRL is installed when a CA of the trust store signed it (keyUsage
 * cRLSign when present), it is current (unless SG_CRL_FORCE) and no CRL
 * of the same scope (issuer, full/delta, issuing distribution point)
 * in effect is as new (cRLNumber, else thisUpdate).  It is written as
 * PEM, atomically (temporary file + rename), under a name per scope, so
 * a newer CRL replaces the older file.  ctx learns the installed CRLs.
 * Return value: 0 when every CRL has its report; -1 with err_r when the
 * input holds no CRL, is over max_crl_size, dir is not a directory, or
 * a file could not be written (the old one is then still in place).
 */
SG_API int sg_crl_install(struct sg_ctx *ctx, const char *dir,
			  const unsigned char *data, size_t len, time_t now,
			  unsigned int flags, struct sg_crl_report *reports,
			  size_t max_reports, size_t *n_r,
			  struct sg_error *err_r) SG_WUR;

/* the directory crl import/fetch write into: the first directory named
   by crl_dirs; 0, or -1 with err_r saying what to do */
SG_API int sg_crl_dir(const struct sg_config *conf, char *buf, size_t size,
		      struct sg_error *err_r) SG_WUR;

#define SG_CRL_URL_MAX 1024
typedef void sg_crl_url_func(void *context, const char *url,
			     const char *about);

/*
 * sg_crl_distribution_points - where the CRLs of the trust store's CAs
 * are published: the http:// URIs of the CRL distribution
 * points of every trust anchor and intermediate (they name where each
 * one's issuer publishes), and of the issuing distribution point and
 * Freshest CRL extensions of the CRLs in effect.  cb is called once per
 * distinct URL, with a description ("CRL of CN=...").  Returns the
 * number of URLs.
 */
SG_API size_t sg_crl_distribution_points(struct sg_ctx *ctx,
					 sg_crl_url_func *cb, void *context);

/*
 * sg_crl_download - GET url (http:// only) with OpenSSL's HTTP
 * client: proxy ("http://host:port"; NULL or "": the http_proxy /
 * no_proxy environment), timeout_secs for the whole exchange (0: none),
 * at most max_size bytes.  Redirects are refused unless flags has
 * SG_CRL_FETCH_SAME_HOST_REDIRECTS (then followed to the same host and
 * port only); loopback and link-local hosts are refused (URL and
 * redirects) unless SG_CRL_FETCH_ALLOW_LOCAL.  On success *data_r
 * (free it with sg_free()) and *len_r hold the body; -1 with err_r
 * otherwise.
 */
#define SG_CRL_FETCH_SAME_HOST_REDIRECTS 0x01u
#define SG_CRL_FETCH_ALLOW_LOCAL 0x02u
SG_API int sg_crl_download(const char *url, const char *proxy,
			   unsigned int flags, unsigned int timeout_secs,
			   size_t max_size, unsigned char **data_r,
			   size_t *len_r, struct sg_error *err_r) SG_WUR;

/* ------------------------------------------------------------------ */
/* Intermediate CAs: the cache and AIA fetching (icache.c)             */
/* ------------------------------------------------------------------ */

/*
 * With intermediate_cache set, intermediates carried by mail whose chain
 * verified to a configured trust anchor, and issuers fetched from a
 * certificate's Authority Information Access caIssuers URL, are kept in
 * that directory and used for path building: never as trust anchors,
 * so they add paths, not trust.  aia_fetch = yes fetches while
 * verifying (aia_fetch_timeout), cache-only queues the certificate whose
 * issuer is missing for sg_ca_fetch_pending (smimectl ca fetch).
 */
enum sg_aia_outcome {
	SG_AIA_STORED = 0,	/* the issuer was fetched and cached */
	SG_AIA_PRESENT,		/* the chain already reaches the trust store */
	SG_AIA_NO_URL,		/* the issuer is missing; no http caIssuers */
	SG_AIA_FAILED,		/* the download failed (why) */
	SG_AIA_REJECTED,	/* the answer held no CA that issued it (why) */
	SG_AIA_CAPPED,		/* intermediate_cache_max reached */
	SG_AIA_QUEUED		/* queued for smimectl ca fetch */
};

/* what became of one certificate whose issuer was missing */
struct sg_aia_report {
	enum sg_aia_outcome outcome;
	char subject[512];	/* the certificate whose issuer was missing */
	char issuer[512];	/* the issuer it names */
	char url[SG_CRL_URL_MAX];	/* the caIssuers URL used, or "" */
	char fetched[512];	/* SG_AIA_STORED: the cached CA's subject */
	char path[1024];	/* SG_AIA_STORED: the file written */
	char why[512];		/* a sentence for the administrator */
};
typedef void sg_aia_report_func(void *context, const struct sg_aia_report *r);

SG_API const char *sg_aia_outcome_name(enum sg_aia_outcome outcome);

/*
 * sg_ca_fetch - complete the chain of a certificate (DER) through AIA:
 * while the issuer of the chain's top is neither a trust anchor nor a
 * known intermediate, fetch its caIssuers URL(s) (the crl_fetch_proxy,
 * crl_fetch_redirects and crl_fetch_allow_local rules of
 * sg_crl_download, timeout_secs each, 0: crl_fetch_timeout), keep a
 * certificate of the answer (DER, PEM or PKCS#7) that is a CA and
 * whose key verifies the certificate's signature, and cache it; at most
 * four levels.  cb is called for each step.  Returns the number of
 * certificates stored (>= 0), or -1 with err_r when intermediate_cache
 * is not set or the certificate cannot be decoded.
 */
SG_API int sg_ca_fetch(struct sg_ctx *ctx, const unsigned char *der,
		       size_t len, unsigned int timeout_secs,
		       sg_aia_report_func *cb, void *context,
		       struct sg_error *err_r) SG_WUR;

/*
 * sg_ca_fetch_pending - sg_ca_fetch for every certificate queued by
 * aia_fetch = cache-only; a queued certificate is removed once handled
 * (stored, present, no URL, rejected), kept when the download failed.
 * Also removes expired certificates from the cache.  Returns the
 * number stored, or -1 with err_r.
 */
SG_API int sg_ca_fetch_pending(struct sg_ctx *ctx, unsigned int timeout_secs,
			       sg_aia_report_func *cb, void *context,
			       struct sg_error *err_r) SG_WUR;

/* the number of cached intermediates the context loaded or stored */
SG_API size_t sg_ctx_cached_intermediates(const struct sg_ctx *ctx);

/* ------------------------------------------------------------------ */
/* Keystore: archived private keys, wrapped with libsodium (keystore*.c) */
/* ------------------------------------------------------------------ */

/*
 * Private keys the organisation keeps (key archival), for recovery and
 * for smime-keyd.  Each stored key has its own random data key; the
 * PKCS#8 private key is encrypted with it (XChaCha20-Poly1305-IETF), the
 * associated data binding it to the certificate's SHA-256 fingerprint and
 * the sorted lower-case addresses it is stored for, so a key file cannot
 * be moved to another identity.  The data key is wrapped by the master
 * key, which comes from a key file (32 random bytes) or from a
 * passphrase through Argon2id (salt and cost stored in the master file).
 * File formats: DESIGN.md "Keystore".  Key material lives in
 * sodium_malloc()ed memory and is wiped when freed.
 *
 * A keyd loads the master once (sg_master_load), opens the store
 * (sg_keystore_open), finds an owner's keys (sg_keystore_list with an
 * address) and unwraps one per request (sg_keystore_unwrap,
 * sg_key_decrypt), freeing it (sg_key_free) at once.
 */
struct sg_master;	/* a master key in locked memory */
struct sg_keystore;	/* a keystore directory (and its master key) */
struct sg_key;		/* one unwrapped private key with its certificate */

/* Argon2id cost of a passphrase master key */
enum sg_kdf_cost {
	SG_KDF_MODERATE = 0,	/* crypto_pwhash_*_MODERATE (256 MiB) */
	SG_KDF_INTERACTIVE,	/* crypto_pwhash_*_INTERACTIVE (64 MiB) */
	SG_KDF_MINIMUM		/* the smallest Argon2id allows: tests only */
};

#define SG_MASTER_ID_SIZE 17	/* 16 hex digits and NUL */

/*
 * sg_master_generate - a new random master key (for a key file)
 * sg_master_derive - a new master key from a passphrase: a fresh salt,
 *   Argon2id at cost; the passphrase (pass_len bytes, not necessarily
 *   NUL-terminated) is not kept
 * Return 0 and *master_r, or -1 with err_r.
 */
SG_API int sg_master_generate(struct sg_master **master_r,
			      struct sg_error *err_r) SG_WUR;
SG_API int sg_master_derive(const char *pass, size_t pass_len,
			    enum sg_kdf_cost cost, struct sg_master **master_r,
			    struct sg_error *err_r) SG_WUR;
/*
 * sg_master_write - write master to path, mode 0600, through a temporary
 * file, fsync and rename; with replace false an existing path is refused.
 * A key file holds the key; a passphrase master holds only the Argon2id
 * parameters, salt and a check value (never the key).  0 or -1.
 */
SG_API int sg_master_write(const struct sg_master *master, const char *path,
			   bool replace, struct sg_error *err_r) SG_WUR;
/*
 * sg_master_needs_passphrase - whether the master file at path is of the
 * passphrase kind (the caller then asks for one).  0 and *needs_r, or -1
 * (unreadable, not a master file, unsafe mode).
 */
SG_API int sg_master_needs_passphrase(const char *path, bool *needs_r,
				      struct sg_error *err_r) SG_WUR;
/*
 * sg_master_load - load the master key file at path; pass (pass_len
 * bytes) for a passphrase master, else NULL.  The file must be a regular
 * file that neither group nor others can read or write (SG_ERR_PERM
 * otherwise: the message says how to fix it).  A wrong passphrase is
 * SG_ERR_AUTH.  0 and *master_r, or -1 with err_r.
 */
SG_API int sg_master_load(const char *path, const char *pass, size_t pass_len,
			  struct sg_master **master_r,
			  struct sg_error *err_r) SG_WUR;
/* sg_master_id - 16 hex digits naming the master key (a keyed BLAKE2b
   of it, not the key): key files record the master they need */
SG_API void sg_master_id(const struct sg_master *master,
			 char id[SG_MASTER_ID_SIZE]);
/* sg_master_is_passphrase - derived from a passphrase (else a key file) */
SG_API bool sg_master_is_passphrase(const struct sg_master *master);
/* sg_master_free - wipe, free and set *master to NULL; NULL-safe */
SG_API void sg_master_free(struct sg_master **master);

/*
 * sg_keystore_open - a keystore directory
 * Parameters:
 *   dir       keystore_dir; must be a directory that neither group nor
 *             others can access (SG_ERR_PERM); with create, made (mode
 *             0700) when missing
 *   master    the master key, or NULL to list only; borrowed: it must
 *             outlive the keystore
 * Return 0 and *ks_r, or -1 with err_r.
 */
SG_API int sg_keystore_open(const char *dir, const struct sg_master *master,
			    bool create, struct sg_keystore **ks_r,
			    struct sg_error *err_r) SG_WUR;
/* sg_keystore_free - free and set *ks to NULL (the master is not freed) */
SG_API void sg_keystore_free(struct sg_keystore **ks);

/* what the keystore says about one stored key: never key material.
   Strings are NUL-terminated, sanitised (no control characters). */
struct sg_key_info {
	char fingerprint[65];	/* SHA-256 of the certificate, lower-case hex */
	char address[320];	/* the address it is stored for */
	char subject[512];	/* the certificate's subject, RFC 2253 */
	char issuer[512];
	char serial[128];	/* hex */
	char emails[1024];	/* the certificate's addresses, ", " separated */
	char master_id[SG_MASTER_ID_SIZE];	/* the master that wraps it */
	time_t not_before, not_after;
	time_t stored;		/* when it was imported */
	char path[1024];	/* its file */
	char problem[256];	/* "" or why the file cannot be used (damaged,
				   truncated, renamed, another version):
				   then only path (and what could be read) */
};

/*
 * sg_keystore_add - store a private key for addresses
 * Parameters:
 *   key_der, key_len     the private key, DER (PKCS#8, or a traditional
 *                        RSA/EC key)
 *   certs_der, certs_len the key's certificate, then optionally its
 *                        chain, as concatenated DER
 *   addresses, n_addresses  the addresses to store it for, each of which
 *                        the certificate must name (SAN rfc822Name, else
 *                        the subject's emailAddress); one file each
 *   info_r               what was stored (of the first address); may be NULL
 * The key must match the certificate.  A key already stored for an
 * address is left as it is (no error).  Needs the master key.
 * Return 0, or -1 with err_r (SG_ERR_INVALID: the key does not match, the
 * certificate does not name an address; nothing was written).
 */
SG_API int sg_keystore_add(struct sg_keystore *ks,
			   const unsigned char *key_der, size_t key_len,
			   const unsigned char *certs_der, size_t certs_len,
			   const char *const *addresses, size_t n_addresses,
			   struct sg_key_info *info_r,
			   struct sg_error *err_r) SG_WUR;

/*
 * sg_keystore_list - the stored keys, of address (any case) or of all
 * when address is NULL; fn is called once per key file, in file name
 * order, with context.  Files that cannot be used are reported with
 * info->problem set.  Needs no master key (the certificate and the
 * addresses are not secret; their integrity is checked when a key is
 * unwrapped).  Return the number of keys reported, or -1 with err_r (the
 * directory cannot be read).
 */
SG_API int sg_keystore_list(struct sg_keystore *ks, const char *address,
			    void (*fn)(const struct sg_key_info *info,
				       void *context),
			    void *context, struct sg_error *err_r) SG_WUR;

/*
 * sg_keystore_remove - remove the key files of a certificate
 * (fingerprint: 64 hex digits, any case, or a unique prefix of at least
 * 16), for address only when not NULL.  Return the number of files
 * removed (0: none), or -1 with err_r.
 */
SG_API int sg_keystore_remove(struct sg_keystore *ks, const char *fingerprint,
			      const char *address, struct sg_error *err_r) SG_WUR;

/*
 * sg_keystore_unwrap - unwrap one stored key (fingerprint as for
 * sg_keystore_remove; address may be NULL for any address it is stored
 * for).  The file's name, its header and the authentication tags must all
 * agree: a key file renamed to another address, altered, truncated, or
 * wrapped under another master key is refused with err_r saying which.
 * Return 0 and *key_r (free with sg_key_free at once after use), or -1.
 */
SG_API int sg_keystore_unwrap(struct sg_keystore *ks, const char *fingerprint,
			      const char *address, struct sg_key **key_r,
			      struct sg_error *err_r) SG_WUR;
/* sg_key_info_get - what the keystore says of an unwrapped key */
SG_API const struct sg_key_info *sg_key_info_get(const struct sg_key *key);
/* sg_key_free - wipe, free and set *key to NULL; NULL-safe */
SG_API void sg_key_free(struct sg_key **key);

/*
 * sg_key_export_pem - the unwrapped key as PEM: the unencrypted PKCS#8
 * private key, then the certificate and its chain (for an authorised
 * recovery).  *pem_r is in sodium_malloc()ed memory: free it with
 * sg_key_pem_free(), which wipes it.  0 or -1.
 */
SG_API int sg_key_export_pem(const struct sg_key *key, char **pem_r,
			     size_t *len_r, struct sg_error *err_r) SG_WUR;
SG_API void sg_key_pem_free(char **pem, size_t len);

/*
 * sg_keystore_decrypt - decrypt a CMS EnvelopedData/AuthEnvelopedData
 * (a MIME message, application/pkcs7-mime, or DER) with a stored key:
 * the keys whose certificate a RecipientInfo names (issuer and serial,
 * or subject key identifier), of owner only when owner is not NULL, are
 * unwrapped one at a time and tried.  On success *out_r (free with
 * sg_free) holds the decrypted content (a MIME entity) and fpr_r the
 * fingerprint of the key used.  -1 with err_r: not encrypted, no stored
 * key the message is encrypted to (SG_ERR_NOTFOUND), a key file refused,
 * decryption failed.
 */
SG_API int sg_keystore_decrypt(struct sg_keystore *ks, const char *owner,
			       const unsigned char *msg, size_t len,
			       unsigned char **out_r, size_t *out_len_r,
			       char fpr_r[65], struct sg_error *err_r) SG_WUR;

/*
 * sg_keystore_verify - decrypt-to-verify: the verdict of the inner
 * signature of an encrypted message, for smime-keyd (and benchmarks)
 * Parameters:
 *   ctx       the verification context
 *   ks        the keystore, opened with its master key
 *   owner     the mailbox owner's address: only that owner's keys are
 *             tried (every stored key of owner that a RecipientInfo
 *             names, as sg_keystore_decrypt)
 *   msg, len  the whole stored message
 *   at        validation time, or 0 for now
 *   res_r     receives the result (free with sg_result_free())
 *   fpr_r     the fingerprint of the key used, or "" when none was
 * The outer message is verified first; only a message whose status is
 * "encrypted" is decrypted.  The decrypted content stays in memory (never
 * in temp_directory), is verified with the signer bound to the From of
 * the outer header (a From field of the decrypted entity must name the
 * same address, else sender-mismatch) and is wiped before it is freed.
 * Status: encrypted+signed/verified or encrypted+signed/failed when the
 * inner content is signed with a conclusive verdict (its signers and
 * reasons, the outer encryption details); otherwise the outer verdict
 * ("encrypted": not signed inside, no key of owner, decryption failed,
 * an inconclusive inner signature), with sg_result_detail() saying why.
 * Return value: 0 when a verdict was produced, -1 only when none could
 * be made (out of memory).
 */
SG_API int sg_keystore_verify(struct sg_ctx *ctx, struct sg_keystore *ks,
			      const char *owner, const unsigned char *msg,
			      size_t len, time_t at, struct sg_result **res_r,
			      char fpr_r[65], struct sg_error *err_r) SG_WUR;

/*
 * sg_keyd_reply - smime-keyd's reply for a verdict (DESIGN.md 4,
 * Keystore, "smime-keyd protocol"): "name=value" lines (status, reasons,
 * detail, weak, from, signers, signer.I.email|subject|issuer|serial|
 * digest|result|reasons|bound|cert) and an empty line; no value holds a
 * control byte.  res NULL: status=error with detail.  detail not NULL
 * replaces the result's detail.  *reply_r is NUL-terminated, *len_r
 * bytes, owned by the caller (sg_free).  0, or -1 (out of memory).
 */
SG_API int sg_keyd_reply(const struct sg_result *res, const char *detail,
			 char **reply_r, size_t *len_r,
			 struct sg_error *err_r) SG_WUR;

/*
 * sg_keystore_rewrap - wrap every data key of the store under new_master
 * (master rotation): the encrypted private keys are not touched, only
 * each file's wrapped data key and master id, one file at a time
 * (temporary file, fsync, rename).  Files already under new_master are
 * skipped, so an interrupted rotation can be run again.  n_r: files
 * rewrapped.  Return 0, or -1 with err_r naming the first file that
 * could not be (the others are still done).
 */
SG_API int sg_keystore_rewrap(struct sg_keystore *ks,
			      const struct sg_master *new_master,
			      size_t *n_r, struct sg_error *err_r) SG_WUR;

#ifdef __cplusplus
}
#endif
#endif /* SMIMEGUARD_ADMIN_H */
