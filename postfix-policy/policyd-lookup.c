/* policyd-lookup.c - recipient certificates for the Postfix daemons
 *
 * A thin layer over sg_cert_lookup(): "is there a usable certificate",
 * and "is this message encrypted to one", with a reason a sender can act
 * on when not.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policyd-lookup.h"

struct pdl_lookup {
	struct sg_ctx *ctx;
};

int pdl_lookup_new(struct sg_config *conf, struct sg_ctx *ctx,
		   struct pdl_lookup **lookup_r, struct sg_error *err_r)
{
	const char *maps = sg_config_get(conf, "certificate_maps");

	*lookup_r = NULL;
	if (maps == NULL || maps[strspn(maps, ", \t")] == '\0') {
		err_r->code = SG_ERR_CONFIG;
		snprintf(err_r->msg, sizeof(err_r->msg),
			 "certificate_maps is empty: the Postfix side needs to know "
			 "recipients' certificates (e.g. certificate_maps = dir:/etc/smimeguard/certs)");
		return -1;
	}
	if ((*lookup_r = calloc(1, sizeof(**lookup_r))) == NULL) {
		err_r->code = SG_ERR_NOMEM;
		snprintf(err_r->msg, sizeof(err_r->msg), "out of memory");
		return -1;
	}
	(*lookup_r)->ctx = ctx;
	return 0;
}

void pdl_lookup_free(struct pdl_lookup **lookup)
{
	free(*lookup);
	*lookup = NULL;
}

/* first_rejection - why the best candidate of a set is not usable */
static void first_rejection(const struct sg_cert_set *set, char *why,
			    size_t why_size)
{
	const struct sg_cert_candidate *c;

	if (sg_cert_set_count(set) == 0) {
		snprintf(why, why_size, "no certificate for this address in %s",
			 "certificate_maps");
		return;
	}
	c = sg_cert_set_get(set, 0);
	snprintf(why, why_size, "its only known certificate%s is %s",
		 sg_cert_set_count(set) > 1 ? "s are not usable; the newest" : "",
		 sg_reason_name(c->reason));
}

int pdl_lookup_usable(struct pdl_lookup *lookup, const char *address,
		      char *why, size_t why_size)
{
	struct sg_cert_set *set = NULL;
	struct sg_error err;
	int ret;

	ret = sg_cert_lookup(lookup->ctx, address, 0, &set, &err);
	if (ret < 0) {
		snprintf(why, why_size, "%s", err.msg);
		return -1;
	}
	if (ret == 0)
		first_rejection(set, why, why_size);
	sg_cert_set_free(&set);
	return ret;
}

/* names_candidate - does a RecipientInfo name candidate c (usable or not)? */
static bool names_candidate(const struct sg_recipient *r,
			    const struct sg_cert_candidate *c)
{
	const char *a, *b;

	if (r->kind == SG_RECIPIENT_SKI)
		return c->ski[0] != '\0' && strcasecmp(r->ski, c->ski) == 0;
	if (r->kind != SG_RECIPIENT_ISSUER_SERIAL || strcmp(r->issuer, c->issuer) != 0)
		return false;
	for (a = r->serial; *a == '0' && a[1] != '\0'; a++)
		;
	for (b = c->serial; *b == '0' && b[1] != '\0'; b++)
		;
	return strcasecmp(a, b) == 0;
}

int pdl_recipient_covered(struct pdl_lookup *lookup, const char *address,
			  const struct sg_encryption *enc, char *why,
			  size_t why_size)
{
	struct sg_cert_set *set = NULL;
	struct sg_error err;
	size_t i, j;
	int ret;

	ret = sg_cert_lookup(lookup->ctx, address, 0, &set, &err);
	if (ret < 0) {
		snprintf(why, why_size, "%s", err.msg);
		return -1;
	}
	for (i = 0; i < enc->n_recipients; i++) {
		if (sg_cert_set_match(set, &enc->recipients[i], NULL) == 1) {
			sg_cert_set_free(&set);
			return 1;
		}
	}
	/* not covered: say whether it went to a stale certificate */
	for (i = 0; i < enc->n_recipients; i++) {
		for (j = 0; j < sg_cert_set_count(set); j++) {
			const struct sg_cert_candidate *c = sg_cert_set_get(set, j);

			if (!c->usable && names_candidate(&enc->recipients[i], c)) {
				snprintf(why, why_size,
					 "encrypted to a certificate of this recipient "
					 "that is %s (serial %s); use the current one",
					 sg_reason_name(c->reason), c->serial);
				sg_cert_set_free(&set);
				return 0;
			}
		}
	}
	if (ret == 0) {
		char reason[200];

		first_rejection(set, reason, sizeof(reason));
		snprintf(why, why_size, "encryption required, but %s", reason);
	} else {
		snprintf(why, why_size,
			 "the message is not encrypted to this recipient's certificate");
	}
	sg_cert_set_free(&set);
	return 0;
}
