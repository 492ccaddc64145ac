/* keyd-client.c - decrypt-to-verify through smime-keyd, the client side,
 * and the reply format both sides share (DESIGN.md 4, Keystore)
 *
 * One request per connection: "SGKEYD 1\n" "owner=ADDRESS\n" "size=N\n"
 * "\n" and N bytes, the message as the stream kept it (its memory or its
 * mapped spill file: no copy).  The reply is "name=value\n" lines ended
 * by an empty line (sg_keyd_reply).  The socket is non-blocking and one
 * deadline (keyd_timeout) covers connect, write and read; the reply is
 * at most SG_KEYD_REPLY_MAX bytes; send() uses MSG_NOSIGNAL, so a daemon
 * that goes away cannot kill the caller with SIGPIPE.  Whatever goes
 * wrong, the local verdict ("encrypted") stays and its detail says why:
 * keyd is never a reason for an error.
 */
#include "keyd-private.h"
#include "sg-base.h"
#include "ctx-private.h"
#include "result-private.h"
#include "smimeguard-admin.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define SG_KEYD_REPLY_MAX (256 * 1024)

/* ------------------------------------------------------------------ */
/* the reply: formatted by smime-keyd, parsed here                     */
/* ------------------------------------------------------------------ */

/* put - one "name=value\n" line, control bytes of value as '?' */
static void put(struct sg_buf *out, bool *bad, const char *name,
		const char *value)
{
	size_t start = out->used, i;

	if (sg_buf_printf(out, "%s=%s\n", name, value) < 0) {
		*bad = true;
		return;
	}
	for (i = start + strlen(name) + 1; i + 1 < out->used; i++)
		if (out->data[i] < 0x20 || out->data[i] == 0x7f)
			out->data[i] = '?';
}

int sg_keyd_reply(const struct sg_result *res, const char *detail,
		  char **reply_r, size_t *len_r, struct sg_error *err_r)
{
	struct sg_buf out = { 0 };
	char reasons[SG_REASONS_SIZE], name[64], num[32];
	bool bad = false;
	size_t i, n;

	sg_assert(reply_r != NULL && len_r != NULL);
	*reply_r = NULL;
	*len_r = 0;
	if (res == NULL) {
		put(&out, &bad, "status", "error");
		put(&out, &bad, "reasons", "");
		put(&out, &bad, "detail", detail != NULL ? detail : "");
		goto end;
	}
	put(&out, &bad, "status", sg_status_name(res->status));
	(void)sg_reasons_format(res->reasons, ",", reasons, sizeof(reasons));
	put(&out, &bad, "reasons", reasons);
	put(&out, &bad, "detail", detail != NULL ? detail :
	    sg_result_detail(res));
	put(&out, &bad, "weak", (res->keywords & SG_KW_WEAK) ? "yes" : "no");
	put(&out, &bad, "from", sg_result_from(res));
	n = res->n_signers;
	snprintf(num, sizeof(num), "%zu", n);
	put(&out, &bad, "signers", num);
	for (i = 0; i < n; i++) {
		const struct sg_signer *s = &res->signers[i];
		const struct sg_res_signer_priv *sp = &res->signers_priv[i];

#define SIGNER_LINE(field, value) do { \
		snprintf(name, sizeof(name), "signer.%zu." field, i); \
		put(&out, &bad, name, value); \
	} while (0)
		SIGNER_LINE("email", s->email);
		SIGNER_LINE("subject", s->subject);
		SIGNER_LINE("issuer", s->issuer);
		SIGNER_LINE("serial", s->serial);
		SIGNER_LINE("digest", s->digest);
		SIGNER_LINE("result", s->result == SG_SIGNER_VERIFIED ?
			    "verified" : s->result == SG_SIGNER_FAILED ?
			    "failed" : "unknown");
		(void)sg_reasons_format(s->reasons, ",", reasons,
					sizeof(reasons));
		SIGNER_LINE("reasons", reasons);
		SIGNER_LINE("bound", sp->bound ? "yes" : "no");
		if (sp->der != NULL && sp->der_len > 0 &&
		    sp->der_len < SG_KEYD_REPLY_MAX / 4) {
			char *b64 = malloc(4 * ((sp->der_len + 2) / 3) + 1);

			if (b64 == NULL) {
				bad = true;
			} else {
				(void)EVP_EncodeBlock((unsigned char *)b64,
						      sp->der, (int)sp->der_len);
				SIGNER_LINE("cert", b64);
				free(b64);
			}
		}
#undef SIGNER_LINE
	}
end:
	if (bad || sg_buf_append(&out, "\n", 1) < 0 ||
	    sg_buf_terminate(&out) < 0) {
		sg_buf_free(&out);
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	*len_r = out.used;
	*reply_r = (char *)out.data;
	return 0;
}

/* value_of - the value of name in lines, copied into buf, or NULL (absent,
   or longer than buf) */
struct reply_line {
	const char *name, *value;
	size_t name_len, value_len;
};

static const char *value_of(const struct reply_line *l, size_t n,
			    const char *name, char *buf, size_t size)
{
	size_t i, nl = strlen(name);

	for (i = 0; i < n; i++) {
		if (l[i].name_len == nl && memcmp(l[i].name, name, nl) == 0) {
			if (l[i].value_len >= size)
				return NULL;	/* never a cut value */
			memcpy(buf, l[i].value, l[i].value_len);
			buf[l[i].value_len] = '\0';
			return buf;
		}
	}
	return NULL;
}

/* parse_reasons - a comma list of reason tokens; unknown ones ignored */
static uint32_t parse_reasons(const char *list)
{
	char tok[64];
	uint32_t r = 0;

	while (*list != '\0') {
		size_t n = strcspn(list, ",");
		enum sg_reason reason;

		if (n < sizeof(tok)) {
			memcpy(tok, list, n);
			tok[n] = '\0';
			if (sg_reason_parse(tok, &reason) == 0)
				r |= SG_REASON_BIT(reason);
		}
		list += n;
		if (*list == ',')
			list++;
	}
	return r;
}

/* what sg_keyd_reply writes for the most signers a reply may have: the
   status lines and 10 per signer (fuzz-keyd found 512 lines too few for
   the 256 signers the parser allowed) */
#define MAX_SIGNERS 256
#define MAX_LINES (8 + 10 * MAX_SIGNERS)
#define VALUE_MAX 65536

int sg_keyd_parse_reply(const char *reply, size_t len,
			const struct sg_result *local, struct sg_result **res_r,
			char *why, size_t why_size)
{
	struct reply_line *l;
	struct sg_result *res = NULL;
	enum sg_status status;
	char *v, name[64];
	const char *p = reply, *end = reply + len, *x;
	size_t n = 0, i, n_signers;
	bool complete = false;
	int ret = -1;

	sg_assert(reply != NULL && local != NULL && res_r != NULL &&
		  why != NULL && why_size > 0);
	*res_r = NULL;
	why[0] = '\0';
	if ((l = calloc(MAX_LINES, sizeof(*l))) == NULL ||
	    (v = malloc(VALUE_MAX)) == NULL) {
		free(l);
		snprintf(why, why_size, "out of memory");
		return -1;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eq;

		if (nl == NULL)
			break;
		if (nl == p) {
			complete = true;
			break;
		}
		eq = memchr(p, '=', (size_t)(nl - p));
		if (eq == NULL || eq == p || n == MAX_LINES) {
			snprintf(why, why_size, "a reply line of smime-keyd is not name=value");
			goto out;
		}
		for (x = p; x < nl; x++) {
			if ((unsigned char)*x < 0x20 || *x == 0x7f) {
				snprintf(why, why_size, "a reply line of smime-keyd holds a control byte");
				goto out;
			}
		}
		l[n].name = p;
		l[n].name_len = (size_t)(eq - p);
		l[n].value = eq + 1;
		l[n].value_len = (size_t)(nl - eq - 1);
		n++;
		p = nl + 1;
	}
	if (!complete) {
		snprintf(why, why_size, "the reply of smime-keyd is incomplete");
		goto out;
	}
	if (value_of(l, n, "status", v, VALUE_MAX) == NULL) {
		snprintf(why, why_size, "the reply of smime-keyd has no status");
		goto out;
	}
	if (strcmp(v, "error") == 0) {
		const char *d = value_of(l, n, "detail", v, VALUE_MAX);

		snprintf(why, why_size, "smime-keyd refused the request: %s",
			 d != NULL && d[0] != '\0' ? d : "no detail");
		ret = 0;
		goto out;
	}
	if (sg_status_parse(v, &status) < 0 ||
	    (status != SG_STATUS_ENCRYPTED &&
	     status != SG_STATUS_ENCRYPTED_SIGNED_VERIFIED &&
	     status != SG_STATUS_ENCRYPTED_SIGNED_FAILED)) {
		snprintf(why, why_size, "the reply of smime-keyd has an unknown status");
		goto out;
	}
	if (status != SG_STATUS_ENCRYPTED_SIGNED_VERIFIED &&
	    status != SG_STATUS_ENCRYPTED_SIGNED_FAILED) {
		const char *d = value_of(l, n, "detail", v, VALUE_MAX);

		const char *ld = sg_result_detail(local);
		size_t ll = strlen(ld);

		/* keyd's detail repeats the local one, then says why */
		if (d != NULL && ll > 0 && strncmp(d, ld, ll) == 0)
			d += ll + (d[ll] == ' ');
		snprintf(why, why_size, "smime-keyd has no verdict of a signature inside: %s",
			 d != NULL && d[0] != '\0' ? d : "no detail");
		ret = 0;
		goto out;
	}
	if (value_of(l, n, "signers", v, VALUE_MAX) == NULL ||
	    strspn(v, "0123456789") != strlen(v) || strlen(v) > 3 ||
	    v[0] == '\0' || (n_signers = strtoul(v, NULL, 10)) == 0 ||
	    n_signers > MAX_SIGNERS) {
		snprintf(why, why_size, "the reply of smime-keyd has no signer count");
		goto out;
	}
	if ((res = sg_res_new()) == NULL) {
		snprintf(why, why_size, "out of memory");
		goto out;
	}
	res->status = status;
	res->keywords = sg_status_keywords(status);
	if (value_of(l, n, "weak", v, VALUE_MAX) != NULL && strcmp(v, "yes") == 0)
		res->keywords |= SG_KW_WEAK;
	if (value_of(l, n, "reasons", v, VALUE_MAX) != NULL)
		res->reasons = parse_reasons(v);
	if (value_of(l, n, "from", v, VALUE_MAX) != NULL)
		sg_res_set_from(res, v);
	for (i = 0; i < n_signers; i++) {
		struct sg_signer *s = sg_res_add_signer(res);

		if (s == NULL)
			break;
#define SIGNER_VALUE(field) (snprintf(name, sizeof(name), "signer.%zu." field, i), \
			     value_of(l, n, name, v, VALUE_MAX))
		if (SIGNER_VALUE("email") != NULL)
			s->email = sg_res_strdup(res, v);
		if (SIGNER_VALUE("subject") != NULL)
			s->subject = sg_res_strdup(res, v);
		if (SIGNER_VALUE("issuer") != NULL)
			s->issuer = sg_res_strdup(res, v);
		if (SIGNER_VALUE("serial") != NULL)
			s->serial = sg_res_strdup(res, v);
		if (SIGNER_VALUE("digest") != NULL)
			s->digest = sg_res_strdup(res, v);
		if (SIGNER_VALUE("result") != NULL)
			s->result = strcmp(v, "verified") == 0 ?
				SG_SIGNER_VERIFIED : strcmp(v, "failed") == 0 ?
				SG_SIGNER_FAILED : SG_SIGNER_UNKNOWN;
		if (SIGNER_VALUE("reasons") != NULL)
			s->reasons = parse_reasons(v);
		/* as the core's verdicts: a signer's reasons are the
		   result's too (fuzz-keyd) */
		res->reasons |= s->reasons;
		/* a signer keyd reports verified counts only when the
		   status says so: never more than the status */
		if (status != SG_STATUS_ENCRYPTED_SIGNED_VERIFIED &&
		    s->result == SG_SIGNER_VERIFIED)
			s->result = SG_SIGNER_UNKNOWN;
		if (SIGNER_VALUE("bound") != NULL && strcmp(v, "yes") == 0)
			sg_res_set_signer_bound(res);
		if (SIGNER_VALUE("cert") != NULL && v[0] != '\0') {
			size_t b64 = strlen(v), dlen;
			unsigned char *der = malloc(b64 / 4 * 3 + 3);

			if (der != NULL &&
			    sg_b64_decode((const unsigned char *)v, b64, der,
					  &dlen) == 0 && dlen > 0) {
				res->signers_priv[res->n_signers - 1].der =
					(const unsigned char *)sg_res_strndup(
						res, (const char *)der, dlen);
				res->signers_priv[res->n_signers - 1].der_len =
					res->nomem ? 0 : dlen;
			}
			free(der);
		}
#undef SIGNER_VALUE
	}
	if (status == SG_STATUS_ENCRYPTED_SIGNED_VERIFIED) {
		/* fail closed: "verified" needs a signer keyd verified */
		for (i = 0; i < res->n_signers; i++) {
			if (res->signers[i].result == SG_SIGNER_VERIFIED)
				break;
		}
		if (i == res->n_signers && !res->nomem) {
			snprintf(why, why_size, "the reply of smime-keyd says "
				 "verified without a verified signer");
			sg_result_free(&res);
			goto out;
		}
	}
	sg_res_copy_encryption(res, local);
	/* every verdict says why (fuzz-keyd found a reply without detail=
	   making a verdict with an empty one) */
	if (value_of(l, n, "detail", v, VALUE_MAX) == NULL || v[0] == '\0')
		snprintf(v, VALUE_MAX, "smime-keyd: %s (it gave no detail)",
			 sg_status_name(status));
	res->detail = strdup(v);
	if (res->detail == NULL)
		res->nomem = true;
	if (res->nomem) {
		snprintf(why, why_size, "out of memory");
		sg_result_free(&res);
		goto out;
	}
	*res_r = res;
	ret = 1;
out:
	free(v);
	free(l);
	return ret;
}

/* ------------------------------------------------------------------ */
/* the connection                                                      */
/* ------------------------------------------------------------------ */

/* ms_left - milliseconds until deadline (0 when past) */
static int ms_left(const struct timespec *deadline)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
	     (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms <= 0 ? 0 : ms > 3600000 ? 3600000 : (int)ms;
}

/* wait_fd - poll fd for events until the deadline: 1 ready, 0 timed out,
   -1 error */
static int wait_fd(int fd, short events, const struct timespec *deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int r, left;

	for (;;) {
		if ((left = ms_left(deadline)) == 0)
			return 0;
		r = poll(&pfd, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 ? -1 : r == 0 ? 0 : 1;
	}
}

/* send_all - 0 sent, 1 timed out, -1 error (errno) */
static int send_all(int fd, const unsigned char *p, size_t len,
		    const struct timespec *deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		int w;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
			if ((w = wait_fd(fd, POLLOUT, deadline)) <= 0)
				return w == 0 ? 1 : -1;
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* peer_is_keyd - is the process that accepted on fd smime-keyd: root's
   or keyd_user's?  Its answer is believed, so a socket another user
   managed to put at keyd_socket is not asked (why says so) */
static bool peer_is_keyd(const struct sg_ctx *ctx, int fd, const char *path,
			 char *why, size_t why_size)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		snprintf(why, why_size, "cannot tell who serves keyd_socket "
			 "%.100s: %s", path, strerror(errno));
		return false;
	}
	if (cred.uid == 0 || (ctx->keyd_uid != (uid_t)-1 &&
			      cred.uid == ctx->keyd_uid))
		return true;
	snprintf(why, why_size, "keyd_socket %.100s is served by uid %lu, "
		 "not by keyd_user (%.40s%s) or root: not asked", path,
		 (unsigned long)cred.uid, ctx->keyd_user,
		 ctx->keyd_uid == (uid_t)-1 ? ", no such user here" : "");
	return false;
}

/* exchange - send the request, read the reply: 0 and *reply_r, or -1
   and why */
static int exchange(const struct sg_ctx *ctx, const char *path,
		    unsigned int timeout_ms,
		    const char *owner, const unsigned char *msg, size_t len,
		    char **reply_r, size_t *reply_len_r, char *why,
		    size_t why_size)
{
	struct sockaddr_un sun;
	struct timespec deadline;
	char head[512];
	char *reply = NULL;
	size_t used = 0;
	int fd, r, e, head_len, ret = -1;
	socklen_t elen = sizeof(e);
	bool write_failed = false;

	*reply_r = NULL;
	*reply_len_r = 0;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(why, why_size, "keyd_socket %.80s: the path is too long", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, why_size, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (errno != EINPROGRESS && errno != EAGAIN && errno != EINTR) {
			snprintf(why, why_size, "smime-keyd is not reachable at %.100s: %s",
				 path, strerror(errno));
			goto out;
		}
		if ((r = wait_fd(fd, POLLOUT, &deadline)) <= 0) {
			snprintf(why, why_size, r == 0 ?
				 "smime-keyd at %.100s did not accept within %u ms" :
				 "smime-keyd at %.100s: poll failed", path, timeout_ms);
			goto out;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0 || e != 0) {
			snprintf(why, why_size, "smime-keyd is not reachable at %.100s: %s",
				 path, strerror(e));
			goto out;
		}
	}
	if (!peer_is_keyd(ctx, fd, path, why, why_size))
		goto out;
	head_len = snprintf(head, sizeof(head), "SGKEYD 1\nowner=%s\nsize=%zu\n\n",
			    owner, len);
	if (head_len < 0 || (size_t)head_len >= sizeof(head)) {
		snprintf(why, why_size, "the owner address is too long");
		goto out;
	}
	r = send_all(fd, (const unsigned char *)head, (size_t)head_len, &deadline);
	if (r == 0)
		r = send_all(fd, msg, len, &deadline);
	if (r == 1) {
		snprintf(why, why_size, "smime-keyd did not take the message within %u ms",
			 timeout_ms);
		goto out;
	}
	if (r < 0)
		write_failed = true;	/* keyd may have answered (error) */
	else
		(void)shutdown(fd, SHUT_WR);
	if ((reply = malloc(SG_KEYD_REPLY_MAX + 1)) == NULL) {
		snprintf(why, why_size, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (used == SG_KEYD_REPLY_MAX) {
			snprintf(why, why_size, "the reply of smime-keyd is over %d bytes",
				 SG_KEYD_REPLY_MAX);
			goto out;
		}
		n = recv(fd, reply + used, SG_KEYD_REPLY_MAX - used, 0);
		if (n > 0) {
			used += (size_t)n;
			continue;
		}
		if (n == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if ((r = wait_fd(fd, POLLIN, &deadline)) <= 0) {
				snprintf(why, why_size, r == 0 ?
					 "smime-keyd did not answer within %u ms" :
					 "smime-keyd: poll failed", timeout_ms);
				goto out;
			}
			continue;
		}
		if (used > 0)
			break;		/* a reset after the reply */
		snprintf(why, why_size, "reading the reply of smime-keyd: %s",
			 strerror(errno));
		goto out;
	}
	if (used == 0) {
		snprintf(why, why_size, write_failed ?
			 "smime-keyd closed the connection while the message was sent" :
			 "smime-keyd closed the connection without a reply");
		goto out;
	}
	reply[used] = '\0';
	*reply_r = reply;
	*reply_len_r = used;
	reply = NULL;
	ret = 0;
out:
	free(reply);
	(void)close(fd);
	return ret;
}

void sg_keyd_ask(struct sg_ctx *ctx, const char *owner,
		 const unsigned char *msg, size_t len, struct sg_result **res)
{
	struct sg_result *got = NULL;
	char why[512], *reply = NULL;
	size_t reply_len;
	int r;

	sg_assert(ctx != NULL && owner != NULL && res != NULL && *res != NULL);
	if (ctx->keyd_socket == NULL || ctx->keyd_socket[0] == '\0') {
		sg_res_note(*res, "Decrypt-to-verify is off (keyd_socket is not set).");
		return;
	}
	if (exchange(ctx, ctx->keyd_socket, ctx->keyd_timeout_ms, owner, msg, len,
		     &reply, &reply_len, why, sizeof(why)) < 0) {
		sg_res_note(*res, "Decrypt-to-verify: %s.", why);
		return;
	}
	r = sg_keyd_parse_reply(reply, reply_len, *res, &got, why, sizeof(why));
	free(reply);
	if (r <= 0) {
		sg_res_note(*res, "Decrypt-to-verify: %s%s", why,
			    why[0] != '\0' && why[strlen(why) - 1] == '.' ? "" : ".");
		return;
	}
	sg_result_free(res);
	*res = got;
}
