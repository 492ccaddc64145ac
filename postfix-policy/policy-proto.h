#ifndef POLICY_PROTO_H
#define POLICY_PROTO_H

/*
 * policy-proto.h - the Postfix SMTPD policy delegation protocol
 * (SMTPD_POLICY_README): a request is "name=value" lines ended by an
 * empty line; the reply is "action=..." plus an empty line.  Pure
 * functions over bytes; no sockets, no logging.
 */
#include <stdbool.h>
#include <stddef.h>

#define PP_MAX_REQUEST 16384	/* bytes per request */
#define PP_MAX_ATTRS 64		/* attributes per request */

struct pp_attr {
	const char *name;
	const char *value;
};

struct pp_request {
	char buf[PP_MAX_REQUEST + 1];	/* the request, NUL-separated */
	size_t used;
	struct pp_attr attrs[PP_MAX_ATTRS];
	unsigned int n_attrs;
};

enum pp_status {
	PP_NEED_MORE = 0,	/* no complete request yet */
	PP_COMPLETE,		/* *consumed_r bytes made one request */
	PP_ERROR		/* malformed: disconnect without reply */
};

/*
 * pp_parse - look for one complete request at the start of data
 * Fills req on PP_COMPLETE; *consumed_r is the request's length (a
 * pipelining client may have sent more).  On PP_ERROR, *error_r says why
 * (a static string).
 */
enum pp_status pp_parse(const char *data, size_t len, struct pp_request *req,
			size_t *consumed_r, const char **error_r);

/* pp_get - an attribute's value, or NULL */
const char *pp_get(const struct pp_request *req, const char *name);

/* pp_printable - copy text for logging, with '?' for unprintable bytes */
void pp_printable(char *dst, size_t size, const char *src);

#endif
