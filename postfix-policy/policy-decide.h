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
};

void pd_decide(const struct sg_policy *pol, const struct pp_request *req,
	       pd_lookup_func *lookup, void *context, struct pd_reply *r);

/* pd_check_config - what both daemons need in smimeguard.conf (a
   certificate map); 0 ok, -1 with err_r */
int pd_check_config(struct sg_config *conf, struct sg_error *err_r);

#endif
