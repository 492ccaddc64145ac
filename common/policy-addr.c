/* policy-addr.c - envelope addresses as Postfix routes them
 *
 * The outbound policy must judge the destination Postfix will deliver
 * to, not the text a client typed.  With its default settings Postfix's
 * trivial-rewrite(8) strips one trailing dot from a domain, compares
 * domains without regard to case, and, once it has stripped a local
 * domain, routes on what is left of the local part: "user%domain"
 * (allow_percent_hack), "domain!user" (swap_bangpath) and an "@" inside
 * a quoted local part (resolve_dequoted_address), or a second "@" when
 * the client wrote "user@domain@local".  So
 *
 *	paula%partner.example@example.org
 *	partner.example!paula@example.org
 *	"paula@partner.example"@example.org
 *	paula@partner.example@example.org
 *	paula@PARTNER.example.
 *
 * all reach paula@partner.example.
 *
 * sg_addr_route() follows an address through these steps and returns
 * every address on the way (the "hops", in Postfix's internal form:
 * local part unquoted, the domain after the last "@", in lower case).  Which domains Postfix treats as
 * local (mydestination) is not known here, so routing operators are
 * followed whatever the domain is: the caller applies the rules of every
 * hop that is not internal (the strictest wins), and takes the first such
 * hop as the address mail is delivered to.  That is never weaker than
 * what Postfix does, with its defaults or without them.
 *
 * What cannot be judged is refused instead (SG_ADDRESS_INVALID): a
 * missing domain, an address literal ("[192.0.2.1]"), a numeric domain,
 * a source route ("@a,@b:user@c"), a domain that is not ASCII (its
 * A-label would need IDNA), bad quoting, control characters, more than
 * SG_ROUTE_MAX_HOPS steps.  Longer than SG_ADDRESS_MAX octets:
 * SG_ADDRESS_TOO_LONG.  Nothing is ever truncated.
 */
#include "policy-private.h"
#include "sg-base.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* check_domain - lower-case d in place, strip one trailing dot; NULL when
   it is a domain we can judge, else why not */
static const char *check_domain(char *d)
{
	size_t len = strlen(d), label = 0, i;
	bool numeric = true;

	if (len == 0)
		return "it has no domain";
	if (d[0] == '[')
		return "its domain is an address literal";
	if (len > 1 && d[len - 1] == '.' && d[len - 2] != '.')
		d[--len] = '\0';
	for (i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)d[i];

		if (c == '.' || c == '\0') {
			if (label == 0)
				return "its domain has an empty label";
			if (label > 63)
				return "its domain has a label longer than 63 octets";
			if (c == '\0' && numeric)
				return "its domain is numeric";
			label = 0;
			numeric = true;
			continue;
		}
		if (c >= 0x80)
			return "its domain is not ASCII (write its A-label, xn--...)";
		if (!isalnum(c) && c != '-' && c != '_')
			return "its domain has a character that no domain has";
		if (!isdigit(c))
			numeric = false;
		d[i] = (char)tolower(c);
		label++;
	}
	return NULL;
}

/* split - one address into a (dequoted) local part and a domain
   (*domain_r NULL when there is none); local and domain have room for
   the whole address.  NULL, or why it is not an address. */
static const char *split(const char *addr, char *local, char **domain_r,
			 char *domain)
{
	const char *p = addr, *at;
	size_t n = 0;

	*domain_r = NULL;
	if (addr[0] == '"') {
		for (p = addr + 1; *p != '\0' && *p != '"'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			local[n++] = *p;
		}
		if (*p != '"')
			return "it has an unbalanced quote";
		local[n] = '\0';
		p++;
		if (*p == '\0')
			return NULL;
		if (*p != '@')
			return "it has text after its quoted local part";
		strcpy(domain, p + 1);
		*domain_r = domain;
		return NULL;
	}
	/* Postfix splits at the last "@"; an unquoted local part may hold
	   more (the policy delegation protocol sends addresses unquoted) */
	at = strrchr(addr, '@');
	n = at == NULL ? strlen(addr) : (size_t)(at - addr);
	memcpy(local, addr, n);
	local[n] = '\0';
	if (at != NULL) {
		strcpy(domain, at + 1);
		*domain_r = domain;
	}
	return NULL;
}

/* next_hop - where the routing operators of a local part lead (Postfix's
   order: "@", then the first "!", then the last "%"); false when it has
   none.  next has room for local plus one octet. */
static bool next_hop(const char *local, char *next, const char **why_r)
{
	const char *op;
	size_t n;

	*why_r = NULL;
	if (strchr(local, '@') != NULL) {
		strcpy(next, local);
		return true;
	}
	if ((op = strchr(local, '!')) != NULL) {
		/* domain!user -> user@domain */
		n = (size_t)(op - local);
		if (n == 0 || op[1] == '\0') {
			*why_r = "it has an empty part around a \"!\"";
			return true;
		}
		sprintf(next, "%s@%.*s", op + 1, (int)n, local);
		return true;
	}
	if ((op = strrchr(local, '%')) != NULL) {
		n = (size_t)(op - local);
		memcpy(next, local, n);
		next[n] = '@';
		strcpy(next + n + 1, op + 1);
		return true;
	}
	return false;
}

enum sg_address_status sg_addr_route(const char *addr, struct sg_route *r,
				     char *why, size_t why_size)
{
	char cur[SG_ADDRESS_MAX + 2], local[SG_ADDRESS_MAX + 2];
	char domain_buf[SG_ADDRESS_MAX + 2], next[SG_ADDRESS_MAX + 2];
	char *domain;
	const char *p, *e;
	size_t len;

	sg_assert(addr != NULL && r != NULL && why != NULL);
	memset(r, 0, sizeof(*r));
	why[0] = '\0';
	len = strlen(addr);
	if (len > SG_ADDRESS_MAX) {
		snprintf(why, why_size, "the address is longer than %d octets",
			 SG_ADDRESS_MAX);
		return SG_ADDRESS_TOO_LONG;
	}
	for (p = addr; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(why, why_size, "the address has a control character");
			return SG_ADDRESS_INVALID;
		}
	}
	if (addr[0] == '@') {
		snprintf(why, why_size, "the address has a source route");
		return SG_ADDRESS_INVALID;
	}
	strcpy(cur, addr);
	for (;;) {
		if ((e = split(cur, local, &domain, domain_buf)) != NULL)
			goto invalid;
		if (domain != NULL) {
			if ((e = check_domain(domain)) != NULL)
				goto invalid;
			if (local[0] == '\0') {
				e = "its local part is empty";
				goto invalid;
			}
			if (r->n == SG_ROUTE_MAX_HOPS) {
				e = "it takes too many routing steps";
				goto invalid;
			}
			/* hops are in Postfix's internal (unquoted) form, the
			   domain after the last "@"; never longer than the
			   address, as each step only removes text */
			if ((size_t)snprintf(r->hop[r->n], sizeof(r->hop[r->n]), "%s@%s",
					     local, domain) >= sizeof(r->hop[r->n]))
				sg_assert(!"a routing step made the address longer");
			r->n++;
		}
		if (!next_hop(local, next, &e)) {
			if (domain == NULL) {
				e = "it has no domain";
				goto invalid;
			}
			return SG_ADDRESS_OK;
		}
		if (e != NULL)
			goto invalid;
		strcpy(cur, next);
	}
invalid:
	snprintf(why, why_size, "the address cannot be routed safely: %s", e);
	r->n = 0;
	return SG_ADDRESS_INVALID;
}
