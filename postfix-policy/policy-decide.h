#ifndef POLICY_DECIDE_H
#define POLICY_DECIDE_H

/*
 * policy-decide.h - map a policy request to a Postfix access(5) action
 * with the core's policy engine and a certificate lookup.  Pure: no
 * sockets, no logging (the caller logs pd_reply.log).
 */
#include "smimeguard.h"
#include "policy-proto.h"

/* 1: the recipient has a usable certificate; 0: none (why says why);
   -1: temporary failure (directory down) */
typedef int pd_lookup_func(void *context, const char *address, char *why,
			   size_t why_size);

struct pd_reply {
	char action[900];	/* e.g. "DUNNO", "550 5.7.1 <a@b>: ..." */
	char log[1500];		/* one line for the log, or "" */
	bool enforced;		/* a rule required something of this rcpt */
	bool notable;		/* refused, deferred, monitored or failed:
				   worth a log line even without -v */
	/* for the counters (stats.h): a RCPT decision was made (decided),
	   with this outcome (enum st_outcome) and rule (the decision's why);
	   lookup: 1 certificate found, 0 none, -1 failed, -2 none made */
	bool decided;
	int outcome;
	int lookup;
	char rule[256];
};

void pd_decide(const struct sg_policy *pol, const struct pp_request *req,
	       pd_lookup_func *lookup, void *context, struct pd_reply *r);

/* The same in two steps, for a caller that looks certificates up
   elsewhere (smime-policyd's lookup thread): pd_decide_start() decides
   what the envelope alone decides; it returns 0 with *r the reply, or 1
   when the certificate of p->address must be looked up first, and then
   pd_decide_finish() makes the reply from the lookup's answer. */
struct pd_pending {
	char address[SG_ADDRESS_MAX + 1];	/* to look up */
	char rcpt[300], sender[300];		/* for the log */
	char dwhy[256];				/* the rule that decided */
	unsigned int requirements;
	enum sg_action action;
};

int pd_decide_start(const struct sg_policy *pol, const struct pp_request *req,
		    struct pd_reply *r, struct pd_pending *p);
void pd_decide_finish(const struct pd_pending *p, int found,
		      const char *raw_why, struct pd_reply *r);

/* pd_check_config - what both daemons need in smimeguard.conf (a
   certificate map); 0 ok, -1 with err_r */
int pd_check_config(const struct sg_config *conf, struct sg_error *err_r);

#endif
