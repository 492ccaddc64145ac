/*++
/* NAME
/*	floor-milter 1
/* SUMMARY
/*	the least a libmilter milter costs that decides from the envelope
/* SYNOPSIS
/*	floor-milter -l unix:/path
/* DESCRIPTION
/*	The floor that bench-milter.py --floor measures smime-milter
/*	against for mail that needs no check (issue 14 target 3): a
/*	milter on the same library (libmilter: a thread per connection)
/*	that agrees the same protocol steps with the MTA as smime-milter
/*	does (no HELO, no reply to connect, MAIL, header fields or body
/*	chunks), records the client address, the sender and each
/*	recipient (copies, as any milter that looks at them must), writes
/*	one log line per message to stderr (every decision is logged) and
/*	accepts the message at DATA.  It holds no configuration and makes
/*	no decision.  Its threads get the same 1 MB stacks as
/*	smime-milter's (glibc then reuses them instead of mapping 8 MB
/*	per session).  Not installed; not smimeguard code.
/*--*/
#define _GNU_SOURCE	/* pthread_setattr_default_np */
#include <libmilter/mfapi.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NR_WANTED (SMFIP_NR_CONN | SMFIP_NR_MAIL | SMFIP_NR_HDR | \
		   SMFIP_NR_BODY)

struct conn {
	char client[64];
	char *sender, *rcpt;
	unsigned long nr;
};

static struct conn *conn_of(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c == NULL && (c = calloc(1, sizeof(*c))) != NULL)
		smfi_setpriv(ctx, c);
	return c;
}

static void reset(struct conn *c)
{
	free(c->sender);
	free(c->rcpt);
	c->sender = c->rcpt = NULL;
}

static sfsistat f_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
			    unsigned long f2, unsigned long f3,
			    unsigned long *pf0, unsigned long *pf1,
			    unsigned long *pf2, unsigned long *pf3)
{
	struct conn *c = conn_of(ctx);

	(void)f2;
	(void)f3;
	*pf0 = 0;
	if ((f0 & SMFIF_SETSYMLIST) != 0 &&
	    smfi_setsymlist(ctx, SMFIM_ENVRCPT,
			    (char *)"{rcpt_addr} {rcpt_host} {rcpt_mailer}") == MI_SUCCESS)
		*pf0 |= SMFIF_SETSYMLIST;
	*pf1 = f1 & (SMFIP_NOHELO | SMFIP_NOUNKNOWN);
	if (c != NULL) {
		c->nr = f1 & NR_WANTED;
		*pf1 |= c->nr;
	}
	*pf2 = *pf3 = 0;
	return SMFIS_CONTINUE;
}

static sfsistat f_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	struct conn *c = conn_of(ctx);

	(void)host;
	if (c == NULL)
		return SMFIS_TEMPFAIL;
	if (sa != NULL && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)sa)->sin_addr,
			  c->client, sizeof(c->client));
	return (c->nr & SMFIP_NR_CONN) != 0 ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat f_envfrom(SMFICTX *ctx, char **argv)
{
	struct conn *c = conn_of(ctx);

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	reset(c);
	c->sender = strdup(argv[0]);
	return (c->nr & SMFIP_NR_MAIL) != 0 ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat f_envrcpt(SMFICTX *ctx, char **argv)
{
	struct conn *c = conn_of(ctx);
	const char *addr = smfi_getsymval(ctx, (char *)"{rcpt_addr}");

	if (c == NULL || c->sender == NULL)
		return SMFIS_TEMPFAIL;
	free(c->rcpt);
	c->rcpt = strdup(addr != NULL ? addr : argv[0]);
	return SMFIS_CONTINUE;
}

static sfsistat f_data(SMFICTX *ctx)
{
	struct conn *c = conn_of(ctx);
	const char *qid = smfi_getsymval(ctx, (char *)"i");

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	fprintf(stderr, "floor-milter: %s: from=%s to=<%s>: accepted unread\n",
		qid != NULL ? qid : "NOQUEUE", c->sender,
		c->rcpt != NULL ? c->rcpt : "");
	reset(c);
	return SMFIS_ACCEPT;
}

static sfsistat f_close(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c != NULL) {
		reset(c);
		free(c);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

int main(int argc, char **argv)
{
	struct smfiDesc desc = {
		.xxfi_name = (char *)"floor-milter",
		.xxfi_version = SMFI_VERSION,
		.xxfi_flags = SMFIF_SETSYMLIST,
		.xxfi_connect = f_connect,
		.xxfi_envfrom = f_envfrom,
		.xxfi_envrcpt = f_envrcpt,
		.xxfi_data = f_data,
		.xxfi_close = f_close,
		.xxfi_negotiate = f_negotiate,
	};
	int c;
	const char *conn = NULL;

	while ((c = getopt(argc, argv, "l:")) != -1) {
		if (c == 'l')
			conn = optarg;
		else
			return 2;
	}
	if (conn == NULL) {
		fprintf(stderr, "usage: floor-milter -l unix:/path\n");
		return 2;
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	{
		pthread_attr_t attr;

		if (pthread_attr_init(&attr) == 0) {
			(void)pthread_attr_setstacksize(&attr, 1024 * 1024);
			(void)pthread_setattr_default_np(&attr);
			pthread_attr_destroy(&attr);
		}
	}
	if (smfi_setconn((char *)conn) == MI_FAILURE ||
	    smfi_register(desc) == MI_FAILURE || smfi_opensocket(1) == MI_FAILURE) {
		fprintf(stderr, "floor-milter: cannot listen on %s\n", conn);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
