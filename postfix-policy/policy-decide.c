/* policy-decide.c - RCPT-time decisions of smime-policyd
 *
 * Reply texts do not repeat the address: Postfix prefixes them with
 * "<address>: Recipient address rejected: ".
 *
 * Only RCPT matters: an external recipient whose rule requires encryption
 * must have a usable certificate, else the policy action applies (the
 * content itself is checked later by smime-milter).  Everything else is
 * DUNNO, never OK: the policy service has no opinion on other matters.
 */
#include "policy-decide.h"

#include <stdio.h>
#include <string.h>

/* log_addr - an address for the log: printable, and marked when it had
   to be shortened (the decision itself always sees the whole address) */
static void log_addr(char *dst, size_t size, const char *src)
{
	pp_printable(dst, size, src);
	if (strlen(src) >= size && size > 4)
		strcpy(dst + size - 4, "...");
}

void pd_decide(const struct sg_policy *pol, const struct pp_request *req,
	       pd_lookup_func *lookup, void *context, struct pd_reply *r)
{
	const char *state = pp_get(req, "protocol_state");
	const char *rcpt_raw = pp_get(req, "recipient");
	const char *sender_raw = pp_get(req, "sender");
	struct sg_policy_envelope env;
	char rcpt[300], sender[300], raw_why[256] = "", why[256], dwhy[256];
	const char *code, *enhanced;
	struct sg_policy_decision d;
	int found;

	snprintf(r->action, sizeof(r->action), "DUNNO");
	r->log[0] = '\0';
	r->enforced = false;
	r->notable = false;
	if (state == NULL || strcmp(state, "RCPT") != 0 || rcpt_raw == NULL ||
	    rcpt_raw[0] == '\0')
		return;
	log_addr(rcpt, sizeof(rcpt), rcpt_raw);
	log_addr(sender, sizeof(sender), sender_raw == NULL ? "" : sender_raw);
	memset(&env, 0, sizeof(env));
	env.sender = sender_raw == NULL ? "" : sender_raw;
	env.recipient = rcpt_raw;
	env.client_address = pp_get(req, "client_address");
	sg_policy_decide_envelope(pol, &env, &d);
	pp_printable(dwhy, sizeof(dwhy), d.why);
	if (sg_policy_refusal(&d, &code, &enhanced)) {
		/* refused whatever the rules say: Postfix might deliver such an
		   address somewhere this service cannot see */
		r->enforced = true;
		r->notable = true;
		snprintf(r->action, sizeof(r->action), "%s %s %s", code, enhanced,
			 dwhy);
		snprintf(r->log, sizeof(r->log), "from=<%s> to=<%s>: %s: refused",
			 sender, rcpt, dwhy);
		return;
	}
	if (d.internal || d.exempt || (d.requirements & SG_REQ_ENCRYPT) == 0) {
		snprintf(r->log, sizeof(r->log), "from=<%s> to=<%s>: %s", sender,
			 rcpt, dwhy);
		return;
	}
	r->enforced = true;
	/* the certificate of the address Postfix delivers to */
	found = lookup(context, d.recipient, raw_why, sizeof(raw_why));
	/* the reason can quote a certificate or a directory's error text:
	   one printable line, or a sender could split the reply */
	raw_why[sizeof(raw_why) - 1] = '\0';
	pp_printable(why, sizeof(why), raw_why);
	if (found > 0) {
		snprintf(r->log, sizeof(r->log),
			 "from=<%s> to=<%s>: %s required (%s), certificate known",
			 sender, rcpt, sg_policy_requirement_name(d.requirements), dwhy);
		return;
	}
	r->notable = true;	/* from here on: no usable certificate */
	if (found < 0) {
		snprintf(r->action, sizeof(r->action),
			 "DEFER_IF_PERMIT 4.7.1 the S/MIME certificate lookup "
			 "failed temporarily; try again later");
		snprintf(r->log, sizeof(r->log),
			 "from=<%s> to=<%s>: certificate lookup failed: %s: deferred",
			 sender, rcpt, why);
		return;
	}
	switch (d.action) {
	case SG_ACTION_REJECT:
		snprintf(r->action, sizeof(r->action),
			 "550 5.7.1 mail to this recipient must be S/MIME "
			 "encrypted, but %s",
			 why[0] != '\0' ? why : "no S/MIME certificate is known for it");
		break;
	case SG_ACTION_DEFER:
		snprintf(r->action, sizeof(r->action),
			 "450 4.7.1 mail to this recipient must be S/MIME "
			 "encrypted, but %s",
			 why[0] != '\0' ? why : "no S/MIME certificate is known for it");
		break;
	case SG_ACTION_HOLD:
		snprintf(r->action, sizeof(r->action),
			 "HOLD encryption required, no S/MIME certificate known for <%s>",
			 rcpt);
		break;
	case SG_ACTION_MONITOR:
		break;	/* DUNNO; the log says what would have happened */
	}
	snprintf(r->log, sizeof(r->log),
		 "from=<%s> to=<%s>: %s required (%s) but no usable certificate "
		 "(%s): %s%s", sender, rcpt,
		 sg_policy_requirement_name(d.requirements), dwhy,
		 why[0] != '\0' ? why : "none found",
		 d.action == SG_ACTION_MONITOR ? "monitor only, would " : "",
		 d.action == SG_ACTION_MONITOR ? "reject" : sg_action_name(d.action));
}

int pd_check_config(struct sg_config *conf, struct sg_error *err_r)
{
	const char *maps = sg_config_get(conf, "certificate_maps");

	if (maps != NULL && maps[strspn(maps, ", \t")] != '\0')
		return 0;
	err_r->code = SG_ERR_CONFIG;
	snprintf(err_r->msg, sizeof(err_r->msg),
		 "certificate_maps is empty: the Postfix side needs to know "
		 "recipients' certificates (e.g. certificate_maps = dir:/etc/smimeguard/certs)");
	return -1;
}
