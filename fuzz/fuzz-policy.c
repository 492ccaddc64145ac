/*
 * fuzz-policy.c - libFuzzer harness: the Postfix policy delegation
 * protocol of smime-policyd (postfix-policy/policy-proto.c) and the
 * RCPT-time decision over what it parsed (policy-decide.c)
 *
 * The input is a byte stream as a Postfix connection would send it: it is
 * parsed the way the daemon's read loop does, request after request,
 * first whole and then fed in small steps (the daemon sees partial reads),
 * and both ways must agree.  Every complete request is decided against a
 * fixed policy (internal example.org; ext.example must be encrypted, with
 * each policy_action) with a certificate lookup whose answer and "why"
 * text also come from the input.
 *
 * Invariants: a parse consumes no more than it was given, and only
 * complete requests; attributes point inside the request buffer and are
 * NUL-terminated; a reply is one line of printable text (a newline in a
 * reply would let a sender inject a second answer into the protocol); the
 * log line has no control characters; a recipient over 254 octets is
 * refused (501 5.5.4); a recipient that needs encryption needs it, or is
 * refused, in every spelling Postfix routes to the same place (upper
 * case, trailing dot, "%", "!", a second "@").
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smimeguard.h"
#include "policy-decide.h"
#include "policy-proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_POLICIES 4

static struct sg_policy *policies[N_POLICIES];
static const char *const actions[N_POLICIES] = {
	"reject", "defer", "hold", "monitor"
};

static void fail(const char *what) __attribute__((noreturn));

static void fail(const char *what)
{
	fprintf(stderr, "fuzz-policy: invariant violated: %s\n", what);
	abort();
}

static void setup(void)
{
	static const char map[] =
		"ext.example              encrypt\n"
		".ext.example             encrypt-aead\n"
		"from:boss@example.org    encrypt+sign hold\n"
		"*                        none\n";
	char path[] = "/tmp/fuzz-policy-XXXXXX";
	struct sg_config *conf;
	struct sg_error err;
	int fd, i;

	if (sg_init() < 0 || (fd = mkstemp(path)) < 0 ||
	    write(fd, map, sizeof(map) - 1) != (ssize_t)(sizeof(map) - 1))
		abort();
	close(fd);
	for (i = 0; i < N_POLICIES; i++) {
		if (sg_config_new(&conf) < 0 ||
		    sg_config_set(conf, "internal_domains",
				  "example.org, .example.org", &err) < 0 ||
		    sg_config_set(conf, "encryption_policy_maps", path, &err) < 0 ||
		    sg_config_set(conf, "policy_action", actions[i], &err) < 0 ||
		    sg_config_set(conf, "policy_exempt_senders",
				  "robot@example.org", &err) < 0 ||
		    sg_policy_new(conf, &policies[i], &err) < 0) {
			fprintf(stderr, "fuzz-policy: setup: %s\n", err.msg);
			abort();
		}
		sg_config_free(&conf);
	}
	unlink(path);
}

/* the lookup's answer comes from the input too */
struct lookup_ctx {
	const uint8_t *data;
	size_t size;
	size_t calls;
};

static int lookup(void *context, const char *address, char *why,
		  size_t why_size)
{
	struct lookup_ctx *lc = context;
	size_t n, i;
	uint8_t sel;

	if (address == NULL || why == NULL || why_size == 0)
		fail("lookup arguments");
	for (i = 0; address[i] != '\0'; i++) {
		if ((unsigned char)address[i] < 0x20 || address[i] == 0x7f)
			fail("control character in the address given to lookup");
	}
	sel = lc->size > 0 ? lc->data[lc->calls % lc->size] : 0;
	lc->calls++;
	/* why: raw input bytes, as untrusted as a certificate's subject */
	n = lc->size < why_size - 1 ? lc->size : why_size - 1;
	for (i = 0; i < n; i++)
		why[i] = lc->data[i] == '\0' ? '.' : (char)lc->data[i];
	why[n] = '\0';
	if (sel % 5 == 0)
		why[0] = '\0';
	return (int)(sel % 3) - 1;	/* -1, 0 or 1 */
}

static void check_line(const char *s, size_t size, bool allow_empty,
		       const char *what)
{
	size_t len = strnlen(s, size), i;

	if (len == size)
		fail(what);
	if (len == 0 && !allow_empty)
		fail(what);
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			fail(what);
	}
}

static void check_request(const struct pp_request *req)
{
	unsigned int i;

	if (req->n_attrs == 0 || req->n_attrs > PP_MAX_ATTRS ||
	    req->used > PP_MAX_REQUEST)
		fail("request bounds");
	for (i = 0; i < req->n_attrs; i++) {
		const char *n = req->attrs[i].name, *v = req->attrs[i].value;

		if (n < req->buf || n >= req->buf + req->used ||
		    v <= n || v > req->buf + req->used ||
		    v + strlen(v) > req->buf + req->used - 1 ||
		    n[0] == '\0')
			fail("attribute outside the request");
	}
}

/* spellings - a recipient that needs encryption needs it (or is
   refused) in every spelling Postfix routes to the same place: upper
   case, a trailing dot, the percent hack, a bang path, a second "@"
   (issue 10, item 1) */
static void spellings(const struct sg_policy *pol, const char *sender,
		      const char *routed)
{
	const char *at = strrchr(routed, '@');
	char v[5][2 * SG_ADDRESS_MAX + 64];
	struct sg_policy_decision d;
	const char *code, *enhanced;
	size_t i;

	if (at == NULL)
		fail("a routed address without a domain");
	snprintf(v[0], sizeof(v[0]), "%s.", routed);
	for (i = 0; routed[i] != '\0' && i + 1 < sizeof(v[1]); i++)
		v[1][i] = (char)(routed[i] >= 'a' && routed[i] <= 'z' ?
				 routed[i] - 'a' + 'A' : routed[i]);
	v[1][i] = '\0';
	snprintf(v[2], sizeof(v[2]), "%.*s%%%s@example.org", (int)(at - routed),
		 routed, at + 1);
	snprintf(v[3], sizeof(v[3]), "%s!%.*s@example.org", at + 1,
		 (int)(at - routed), routed);
	snprintf(v[4], sizeof(v[4]), "%s@example.org", routed);
	for (i = 0; i < 5; i++) {
		sg_policy_decide(pol, sender, v[i], &d);
		if (!sg_policy_refusal(&d, &code, &enhanced) &&
		    (d.requirements & SG_REQ_ENCRYPT) == 0 && !d.exempt)
			fail("a spelling of an encrypt-required recipient needs nothing");
	}
}

static void decide(const struct pp_request *req, const uint8_t *data,
		   size_t size)
{
	struct lookup_ctx lc = { data, size, 0 };
	struct pd_reply r;
	const char *rcpt = pp_get(req, "recipient"), *sender = pp_get(req, "sender");
	const char *state = pp_get(req, "protocol_state");
	struct sg_policy_decision d;
	int i;

	for (i = 0; i < N_POLICIES; i++) {
		pd_decide(policies[i], req, lookup, &lc, &r);
		check_line(r.action, sizeof(r.action), false, "reply action");
		check_line(r.log, sizeof(r.log), true, "log line");
		if (r.enforced == false && strcmp(r.action, "DUNNO") != 0)
			fail("a reply other than DUNNO without a rule");
		/* never truncated: too long is refused (issue 10, item 2) */
		if (state != NULL && strcmp(state, "RCPT") == 0 && rcpt != NULL &&
		    strlen(rcpt) > SG_ADDRESS_MAX &&
		    strncmp(r.action, "501 5.5.4 ", 10) != 0)
			fail("an over-long recipient was not refused with 501 5.5.4");
	}
	if (rcpt == NULL || rcpt[0] == '\0')
		return;
	sg_policy_decide(policies[0], sender != NULL ? sender : "", rcpt, &d);
	if (d.recipient_status == SG_ADDRESS_OK && d.sender_status == SG_ADDRESS_OK &&
	    (d.requirements & SG_REQ_ENCRYPT) != 0)
		spellings(policies[0], sender != NULL ? sender : "", d.recipient);
}

/* parse_all - every request of the stream, fed in steps of step bytes
   (0: all at once); the number of requests, *errored when it ended in a
   protocol error */
static unsigned int parse_all(const uint8_t *data, size_t size, size_t step,
			      bool run_decide, bool *errored)
{
	static struct pp_request req;
	size_t start = 0, avail, consumed;
	unsigned int n = 0;
	const char *error;
	enum pp_status st;

	*errored = false;
	avail = step == 0 ? size : (step < size ? step : size);
	while (start < size) {
		st = pp_parse((const char *)data + start, avail - start, &req,
			      &consumed, &error);
		if (st == PP_ERROR) {
			if (error == NULL)
				fail("error without a message");
			*errored = true;
			return n;
		}
		if (st == PP_NEED_MORE) {
			if (avail == size)
				return n;	/* a partial request at the end */
			avail = step == 0 ? size :
				(avail + step < size ? avail + step : size);
			continue;
		}
		if (consumed == 0 || consumed > avail - start ||
		    data[start + consumed - 1] != '\n')
			fail("consumed bytes");
		check_request(&req);
		if (run_decide)
			decide(&req, data, size);
		n++;
		start += consumed;
		if (avail < start)
			avail = start;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	bool err_whole, err_steps;
	unsigned int whole, steps;

	if (!ready) {
		setup();
		ready = true;
	}
	if (size > 4 * PP_MAX_REQUEST)
		return 0;
	whole = parse_all(data, size, 0, true, &err_whole);
	steps = parse_all(data, size, 1 + (size % 7), false, &err_steps);
	if (whole != steps || err_whole != err_steps)
		fail("whole and partial parses disagree");
	return 0;
}
