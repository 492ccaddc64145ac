#ifndef POLICYD_LOOKUP_H
#define POLICYD_LOOKUP_H

/*
 * policyd-lookup.h - recipient certificates for smime-policyd and
 * smime-milter, on top of the core's certificate maps.
 */
#include "smimeguard.h"

struct pdl_lookup;

/* pdl_lookup_new - from certificate_maps in conf; ctx stays owned by the
   caller and must outlive the lookup */
int pdl_lookup_new(struct sg_config *conf, struct sg_ctx *ctx,
		   struct pdl_lookup **lookup_r, struct sg_error *err_r);
void pdl_lookup_free(struct pdl_lookup **lookup);

/* pdl_lookup_usable - 1: the address has a usable encryption
   certificate; 0: none (why says why); -1: temporary failure */
int pdl_lookup_usable(struct pdl_lookup *lookup, const char *address,
		      char *why, size_t why_size);

/* pdl_recipient_covered - whether the message's RecipientInfos include a
   currently usable certificate of address: 1 yes; 0 no (why says why);
   -1 temporary failure */
int pdl_recipient_covered(struct pdl_lookup *lookup, const char *address,
			  const struct sg_encryption *enc, char *why,
			  size_t why_size);

#endif
