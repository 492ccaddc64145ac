/*
 * policy-private.h - internal interfaces of policy-addr.c
 *
 * Envelope addresses as Postfix routes them (policy-addr.c), for policy.c.
 * Nothing here is exported; only files of common/ (and the unit tests and
 * fuzzers) include it.
 */
#ifndef SG_POLICY_PRIVATE_H
#define SG_POLICY_PRIVATE_H

#include "sg-base.h"

/* ---- policy-addr.c: envelope addresses as Postfix routes them ---- */
#define SG_ROUTE_MAX_HOPS 8
struct sg_route {
	size_t n;			/* hops, >= 1 when SG_ADDRESS_OK */
	char hop[SG_ROUTE_MAX_HOPS][SG_ADDRESS_MAX + 1];
};
/* follow addr (no angle brackets) through Postfix's routing of its
   local part; every hop has a domain.  SG_ADDRESS_OK, or why says why not
   (a sentence). */
enum sg_address_status sg_addr_route(const char *addr, struct sg_route *r,
				     char *why, size_t why_size);

#endif
