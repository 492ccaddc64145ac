/*
 * config-private.h - internal interfaces of config.c
 *
 * The settings the context takes from a configuration (config.c):
 * revocation and binding modes, limits.  Nothing here is exported; only
 * files of common/ (and the unit tests and fuzzers) include it.
 */
#ifndef SG_CONFIG_PRIVATE_H
#define SG_CONFIG_PRIVATE_H

#include "sg-base.h"

/* ---- config ---- */
enum sg_revocation {
	SG_REVOCATION_NONE = 0,
	SG_REVOCATION_SOFT,
	SG_REVOCATION_HARD
};

enum sg_binding {
	SG_BINDING_STRICT = 0,
	SG_BINDING_RELAXED,
	SG_BINDING_OFF
};

struct sg_limits {
	size_t max_message_size;
	unsigned int max_mime_depth;
	unsigned int max_mime_parts;
	unsigned int max_cms_nesting;
	unsigned int max_certificates;
	size_t max_crl_size;		/* crl import / fetch */
	size_t max_header_size;		/* header block of one entity */
	unsigned int max_header_fields;	/* fields in one header block */
	unsigned int max_signers;	/* SignerInfos in one SignedData */
	unsigned int max_crls;		/* CRLs carried in one SignedData */
	size_t max_decompressed_size;	/* all compressed layers together */
	unsigned int max_compression_ratio; /* one layer: out / in (a layer
					   may always reach 1 MB) */
};

#endif
