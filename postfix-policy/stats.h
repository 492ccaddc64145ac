#ifndef STATS_H
#define STATS_H

/*
 * stats.h - the counters of smime-policyd and smime-milter, and the
 * status socket that answers them (DESIGN.md, "Counters and the status
 * socket").
 *
 * Every counter is a 64-bit integer updated with a relaxed atomic add:
 * no lock and no allocation on the path of a request.  Only the table
 * of rules (a fixed number of slots, found by name) takes a mutex, held
 * for a string compare per slot.  The status socket is served by a
 * thread of its own that writes a snapshot and closes: a client that
 * never reads or never leaves cannot hold up mail, only its own answer.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* outcomes, named as the daemons log them */
enum st_outcome {
	ST_ACCEPTED,		/* DUNNO / accepted (read or unread) */
	ST_REFUSED,		/* 5xx */
	ST_DEFERRED,		/* 4xx, DEFER_IF_PERMIT */
	ST_HELD,		/* HOLD / quarantine */
	ST_MONITORED,		/* monitor only, would reject */
	ST_OUTCOMES
};

/* kinds of request whose latency is kept (a histogram each) */
enum st_kind {
	ST_KIND_REQUEST,	/* policyd: one policy request; milter: RCPT */
	ST_KIND_LOOKUP,		/* policyd: a certificate lookup */
	ST_KIND_MESSAGE,	/* milter: end of data (the verification) */
	ST_KINDS
};

enum st_counter {
	ST_REQUESTS,		/* policy requests / milter messages seen */
	ST_LOOKUP_HITS,		/* a usable certificate found */
	ST_LOOKUP_MISSES,	/* none */
	ST_LOOKUP_ERRORS,	/* a directory (map) failed: temporary */
	ST_POLICY_ERRORS,	/* a policy map could not answer: temporary */
	ST_ANALYSIS_ERRORS,	/* milter: a message could not be analysed */
	ST_BAD_REQUESTS,	/* policyd: malformed or unexpected requests */
	ST_STATUS_QUERIES,	/* answers on the status socket */
	ST_COUNTERS
};

/* st_init - the daemon's name for the snapshot; the start time */
void st_init(const char *daemon);

/* st_config_loaded - a configuration was (re)loaded from path */
void st_config_loaded(const char *path);

/* st_count - add one to a counter */
void st_count(enum st_counter c);

/* st_decision - one decision with its outcome and rule (the decision's
   "why": shortened to the rule's name, made printable; unknown rules
   past the table's size count under "(other)") */
void st_decision(enum st_outcome o, const char *rule);

/* st_now_us - a monotonic clock in microseconds */
uint64_t st_now_us(void);

/* st_latency - one request of kind took us microseconds */
void st_latency(enum st_kind kind, uint64_t us);

/* st_format - the snapshot as "key=value" lines into buf (at most size
   bytes, NUL-terminated); the number of bytes written, without the
   NUL */
size_t st_format(char *buf, size_t size);

/* st_rule_name - the rule part of a decision's why: up to ": " or
   " (", printable, at most size - 1 bytes (exposed for the tests) */
void st_rule_name(char *dst, size_t size, const char *why);

/* st_listen - serve the snapshot on a unix socket "/path[:mode[:group]]"
   (mode default 0600) from a thread of its own; call before dropping
   privileges.  Fatal when the socket cannot be made. */
void st_listen(const char *spec);

/* st_unlink - remove the status socket (at exit) */
void st_unlink(void);

#endif
