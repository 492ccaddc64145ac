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
#include "stats.h"

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

int pd_decide_start(const struct sg_policy *pol, const struct pp_request *req,
		    struct pd_reply *r, struct pd_pending *p)
{
	const char *state = pp_get(req, "protocol_state");
	const char *rcpt_raw = pp_get(req, "recipient");
	const char *sender_raw = pp_get(req, "sender");
	struct sg_policy_envelope env;
	const char *code, *enhanced;
	struct sg_policy_decision d;

	snprintf(r->action, sizeof(r->action), "DUNNO");
	r->log[0] = '\0';
	r->enforced = false;
	r->notable = false;
	r->decided = false;
	r->outcome = ST_ACCEPTED;
	r->lookup = -2;
	r->rule[0] = '\0';
	if (state == NULL || strcmp(state, "RCPT") != 0 || rcpt_raw == NULL ||
	    rcpt_raw[0] == '\0')
		return 0;
	log_addr(p->rcpt, sizeof(p->rcpt), rcpt_raw);
	log_addr(p->sender, sizeof(p->sender), sender_raw == NULL ? "" : sender_raw);
	memset(&env, 0, sizeof(env));
	env.sender = sender_raw == NULL ? "" : sender_raw;
	env.recipient = rcpt_raw;
	env.client_address = pp_get(req, "client_address");
	sg_policy_decide_envelope(pol, &env, &d);
	pp_printable(p->dwhy, sizeof(p->dwhy), d.why);
	r->decided = true;
	snprintf(r->rule, sizeof(r->rule), "%s", p->dwhy);
	if (d.temporary) {
		/* a policy map could not answer: the rule is unknown, so the
		   recipient waits (the reason names servers: log only) */
		r->enforced = true;
		r->notable = true;
		snprintf(r->action, sizeof(r->action),
			 "DEFER_IF_PERMIT 4.3.0 the S/MIME encryption policy "
			 "lookup failed temporarily; try again later");
		snprintf(r->log, sizeof(r->log), "from=<%s> to=<%s>: %s: deferred",
			 p->sender, p->rcpt, p->dwhy);
		r->outcome = ST_DEFERRED;
		return 0;
	}
	if (sg_policy_refusal(&d, &code, &enhanced)) {
		/* refused whatever the rules say: Postfix might deliver such an
		   address somewhere this service cannot see */
		r->enforced = true;
		r->notable = true;
		snprintf(r->action, sizeof(r->action), "%s %s %s", code, enhanced,
			 p->dwhy);
		snprintf(r->log, sizeof(r->log), "from=<%s> to=<%s>: %s: refused",
			 p->sender, p->rcpt, p->dwhy);
		r->outcome = ST_REFUSED;
		return 0;
	}
	if (d.internal || d.exempt || (d.requirements & SG_REQ_ENCRYPT) == 0) {
		snprintf(r->log, sizeof(r->log), "from=<%s> to=<%s>: %s", p->sender,
			 p->rcpt, p->dwhy);
		return 0;
	}
	r->enforced = true;
	r->decided = false;	/* pd_decide_finish decides */
	/* the certificate of the address Postfix delivers to */
	snprintf(p->address, sizeof(p->address), "%s", d.recipient);
	p->requirements = d.requirements;
	p->action = d.action;
	return 1;
}

void pd_decide_finish(const struct pd_pending *p, int found,
		      const char *raw_why, struct pd_reply *r)
{
	char why[256];

	r->enforced = true;
	r->decided = true;
	r->lookup = found > 0 ? 1 : found;
	r->outcome = ST_ACCEPTED;
	snprintf(r->rule, sizeof(r->rule), "%s", p->dwhy);
	/* the reason can quote a certificate or a directory's error text:
	   one printable line, or a sender could split the reply */
	pp_printable(why, sizeof(why), raw_why);
	if (found > 0) {
		snprintf(r->log, sizeof(r->log),
			 "from=<%s> to=<%s>: %s required (%s), certificate known",
			 p->sender, p->rcpt, sg_policy_requirement_name(p->requirements),
			 p->dwhy);
		return;
	}
	r->notable = true;	/* from here on: no usable certificate */
	if (found < 0) {
		snprintf(r->action, sizeof(r->action),
			 "DEFER_IF_PERMIT 4.7.1 the S/MIME certificate lookup "
			 "failed temporarily; try again later");
		snprintf(r->log, sizeof(r->log),
			 "from=<%s> to=<%s>: certificate lookup failed: %s: deferred",
			 p->sender, p->rcpt, why);
		r->outcome = ST_DEFERRED;
		return;
	}
	r->outcome = p->action == SG_ACTION_REJECT ? ST_REFUSED :
		     p->action == SG_ACTION_DEFER ? ST_DEFERRED :
		     p->action == SG_ACTION_HOLD ? ST_HELD : ST_MONITORED;
	switch (p->action) {
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
			 p->rcpt);
		break;
	case SG_ACTION_MONITOR:
		break;	/* DUNNO; the log says what would have happened */
	}
	snprintf(r->log, sizeof(r->log),
		 "from=<%s> to=<%s>: %s required (%s) but no usable certificate "
		 "(%s): %s%s", p->sender, p->rcpt,
		 sg_policy_requirement_name(p->requirements), p->dwhy,
		 why[0] != '\0' ? why : "none found",
		 p->action == SG_ACTION_MONITOR ? "monitor only, would " : "",
		 p->action == SG_ACTION_MONITOR ? "reject" : sg_action_name(p->action));
}

void pd_decide(const struct sg_policy *pol, const struct pp_request *req,
	       pd_lookup_func *lookup, void *context, struct pd_reply *r)
{
	struct pd_pending p;
	char raw_why[256] = "";
	int found;

	if (pd_decide_start(pol, req, r, &p) == 0)
		return;
	found = lookup(context, p.address, raw_why, sizeof(raw_why));
	raw_why[sizeof(raw_why) - 1] = '\0';
	pd_decide_finish(&p, found, raw_why, r);
}

int pd_check_config(const struct sg_config *conf, struct sg_error *err_r)
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
