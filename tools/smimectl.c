/*++
/* NAME
/*	smimectl 1
/* SUMMARY
/*	smimeguard command-line tool
/* SYNOPSIS
/*	smimectl verify [options] [file ...]
/* DESCRIPTION
/*	smimectl verify checks the S/MIME layer of each input the way the
/*	smimeguard Dovecot plugin does on delivery: it finds the S/MIME
/*	entity at the message root, verifies every signature against the
/*	configured trust anchors and CRLs, binds the signer to the From
/*	address and prints the verdict (status, IMAP keywords, reasons).
/*
/*	An input is an RFC 5322 message, or a raw CMS object (DER, BER or
/*	PEM .p7m/.p7s; use --content for the content of a detached .p7s).
/*	No file, or "-", reads standard input.  All inputs of one run share
/*	one loaded trust store.
/*
/*	Options given on the command line override smimeguard.conf.
/* EXIT STATUS
/*	0 every input is signed/verified; 1 some input is not verified;
/*	2 usage, configuration or I/O error (message on stderr).
/* SEE ALSO
/*	DESIGN.md sections 2-4 (status values, reason tokens, JSON fields).
/*--*/
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smimeguard.h"

#define EXIT_NOTVERIFIED 1
#define EXIT_USAGE 2

static const char *progname = "smimectl";

static void usage_main(FILE *fp)
{
	fprintf(fp,
"Usage: smimectl COMMAND [OPTIONS] [ARGS]\n"
"\n"
"Commands:\n"
"  verify     verify the S/MIME signature of messages or CMS files\n"
"  help       show this text, or 'smimectl help verify'\n"
"  version    print the version\n");
}

static void usage_verify(FILE *fp)
{
	fprintf(fp,
"Usage: smimectl verify [OPTIONS] [FILE...]\n"
"\n"
"Verify the S/MIME layer of each FILE (a mail message, or a raw CMS object\n"
"in DER or PEM form) as the server does on delivery, and print the verdict.\n"
"No FILE, or \"-\", reads standard input.\n"
"\n"
"Options:\n"
"  -c, --config FILE        read settings from FILE (smimeguard.conf)\n"
"      --trust PATH         trust anchors: PEM/DER file or directory\n"
"                           (repeatable; replaces trust_anchors)\n"
"      --intermediates PATH untrusted intermediate CAs (repeatable)\n"
"      --crl PATH           CRL file or directory (repeatable)\n"
"      --revocation MODE    none | soft | hard   (default: soft)\n"
"                           soft: use the CRLs that are present;\n"
"                           hard: no current CRL means 'signed' +\n"
"                           revocation-unknown\n"
"      --sender-binding MODE  strict | relaxed | off   (default: strict)\n"
"                           strict: the signer certificate must name the\n"
"                           From address; relaxed: From or Sender\n"
"      --allow-sha1         accept SHA-1 signatures (flagged $SMIMEWeak)\n"
"      --at TIME            validate at TIME: 2026-11-28T10:00:00Z or\n"
"                           @unix-seconds (default: now)\n"
"      --content FILE       detached content, when the input is a raw .p7s\n"
"      --json               one JSON object per input, one per line\n"
"  -q, --quiet              print nothing; use the exit status\n"
"  -h, --help               show this help\n"
"\n"
"Status values: none, signed, signed/verified, signed/failed, encrypted.\n"
"Exit status: 0 every input signed/verified; 1 some input not verified;\n"
"2 usage, configuration or I/O error.\n"
"\n"
"Example:\n"
"  smimectl verify --trust /etc/smimeguard/trust --crl /etc/smimeguard/crl \\\n"
"      --json /var/mail/queue/*.eml\n");
}

/* read_all - a whole file (or stdin) into memory */
static unsigned char *read_all(const char *path, size_t *len_r)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY);
	unsigned char *buf = NULL, *nbuf;
	size_t used = 0, size = 0;
	struct stat st;
	ssize_t n;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		size = (size_t)st.st_size + 1;
	else
		size = 65536;
	if ((buf = malloc(size)) == NULL)
		goto fail;
	for (;;) {
		if (used == size) {
			if (size > SIZE_MAX / 2 ||
			    (nbuf = realloc(buf, size * 2)) == NULL)
				goto fail;
			buf = nbuf;
			size *= 2;
		}
		n = read(fd, buf + used, size - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	*len_r = used;
	return buf;
fail:
	if (fd != STDIN_FILENO) {
		int saved = errno;

		close(fd);
		errno = saved;
	}
	free(buf);
	return NULL;
}

/* looks_like_cms - DER SEQUENCE or a PEM armour: not a mail message */
static bool looks_like_cms(const unsigned char *p, size_t len)
{
	if (len >= 2 && p[0] == 0x30)
		return true;
	return len >= 10 && memcmp(p, "-----BEGIN", 10) == 0;
}

static void print_text(const struct sg_result *res, const char *file)
{
	unsigned int kw = sg_result_keywords(res), i;
	uint32_t reasons = sg_result_reasons(res);
	const struct sg_encryption *enc = sg_result_encryption(res);
	size_t n = sg_result_signer_count(res), j;
	bool first = true;

	printf("%s: %s\n", file, sg_status_name(sg_result_status(res)));
	printf("  keywords: ");
	for (i = 0; i < SG_KW_COUNT; i++) {
		if (kw & (1u << i)) {
			printf("%s%s", first ? "" : " ", sg_keyword_name(1u << i));
			first = false;
		}
	}
	printf("%s\n", first ? "(none)" : "");
	if (reasons != 0) {
		printf("  reasons: ");
		first = true;
		for (i = 0; i < SG_REASON_COUNT; i++) {
			if (reasons & SG_REASON_BIT(i)) {
				printf("%s%s", first ? " " : ", ",
				       sg_reason_name((enum sg_reason)i));
				first = false;
			}
		}
		printf("\n");
	}
	for (j = 0; j < n; j++) {
		const struct sg_signer *s = sg_result_signer(res, j);

		printf("  signer %zu: %s %s\n", j + 1,
		       s->result == SG_SIGNER_VERIFIED ? "verified" :
		       s->result == SG_SIGNER_FAILED ? "failed" : "unknown",
		       s->email[0] != '\0' ? s->email : "(no address)");
		if (s->subject[0] != '\0')
			printf("    subject: %s\n    issuer:  %s\n    serial:  %s\n",
			       s->subject, s->issuer, s->serial);
		printf("    digest:  %s\n", s->digest);
	}
	if (enc != NULL) {
		printf("  encryption: %s%s, %zu recipient%s\n", enc->algorithm,
		       enc->aead ? " (AEAD)" : "", enc->n_recipients,
		       enc->n_recipients == 1 ? "" : "s");
		for (j = 0; j < enc->n_recipients; j++) {
			const struct sg_recipient *r = &enc->recipients[j];

			if (r->kind == SG_RECIPIENT_ISSUER_SERIAL)
				printf("    recipient: issuer=%s serial=%s\n",
				       r->issuer, r->serial);
			else if (r->kind == SG_RECIPIENT_SKI)
				printf("    recipient: ski=%s\n", r->ski);
			else
				printf("    recipient: (other kind)\n");
		}
	}
	printf("  detail: %s\n", sg_result_detail(res));
}

/* append_list - join repeatable path options into one list value */
static int append_list(char **list, const char *item)
{
	size_t n = *list == NULL ? 0 : strlen(*list);
	char *p = realloc(*list, n + strlen(item) + 3);

	if (p == NULL)
		return -1;
	if (n == 0)
		strcpy(p, item);
	else
		sprintf(p + n, ", %s", item);
	*list = p;
	return 0;
}

static int cmd_verify(int argc, char **argv)
{
	enum {
		O_TRUST = 256, O_INTER, O_CRL, O_REVOCATION, O_BINDING,
		O_SHA1, O_AT, O_CONTENT, O_JSON
	};
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "trust", required_argument, NULL, O_TRUST },
		{ "intermediates", required_argument, NULL, O_INTER },
		{ "crl", required_argument, NULL, O_CRL },
		{ "revocation", required_argument, NULL, O_REVOCATION },
		{ "sender-binding", required_argument, NULL, O_BINDING },
		{ "allow-sha1", no_argument, NULL, O_SHA1 },
		{ "at", required_argument, NULL, O_AT },
		{ "content", required_argument, NULL, O_CONTENT },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *config = NULL, *revocation = NULL, *binding = NULL;
	const char *content_path = NULL;
	char *trust = NULL, *inter = NULL, *crl = NULL;
	bool sha1 = false, json = false, quiet = false;
	unsigned char *content = NULL;
	size_t content_len = 0;
	struct sg_config *conf = NULL;
	struct sg_ctx *ctx = NULL;
	struct sg_error err;
	time_t at = 0;
	int c, i, ret = EXIT_SUCCESS;
	bool io_error = false;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case O_TRUST:
			if (append_list(&trust, optarg) < 0)
				goto nomem;
			break;
		case O_INTER:
			if (append_list(&inter, optarg) < 0)
				goto nomem;
			break;
		case O_CRL:
			if (append_list(&crl, optarg) < 0)
				goto nomem;
			break;
		case O_REVOCATION:
			revocation = optarg;
			break;
		case O_BINDING:
			binding = optarg;
			break;
		case O_SHA1:
			sha1 = true;
			break;
		case O_AT:
			if (sg_parse_time(optarg, &at) < 0) {
				fprintf(stderr, "%s: --at: '%s' is not a time "
					"(use 2026-11-28T10:00:00Z or @unix-seconds)\n",
					progname, optarg);
				ret = EXIT_USAGE;
				goto out;
			}
			break;
		case O_CONTENT:
			content_path = optarg;
			break;
		case O_JSON:
			json = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage_verify(stdout);
			goto out;
		default:
			fprintf(stderr, "Try 'smimectl verify --help'.\n");
			ret = EXIT_USAGE;
			goto out;
		}
	}
	if (sg_config_new(&conf) < 0)
		goto nomem;
	if (config != NULL && sg_config_read(conf, config, &err) < 0)
		goto conf_error;
	if ((trust != NULL && sg_config_set(conf, "trust_anchors", trust, &err) < 0) ||
	    (inter != NULL && sg_config_set(conf, "intermediates", inter, &err) < 0) ||
	    (crl != NULL && sg_config_set(conf, "crl_dirs", crl, &err) < 0) ||
	    (revocation != NULL &&
	     sg_config_set(conf, "revocation_check", revocation, &err) < 0) ||
	    (binding != NULL && sg_config_set(conf, "sender_binding", binding, &err) < 0) ||
	    (sha1 && sg_config_set(conf, "allow_sha1_signatures", "yes", &err) < 0))
		goto conf_error;
	if (sg_ctx_new(conf, &ctx, &err) < 0)
		goto conf_error;
	if (sg_ctx_anchor_count(ctx) == 0)
		fprintf(stderr, "%s: warning: no trust anchors configured "
			"(--trust or trust_anchors): no signature can verify\n",
			progname);
	if (content_path != NULL &&
	    (content = read_all(content_path, &content_len)) == NULL) {
		fprintf(stderr, "%s: cannot read %s: %s\n", progname,
			content_path, strerror(errno));
		ret = EXIT_USAGE;
		goto out;
	}
	for (i = optind; i < argc || i == optind; i++) {
		const char *file = i < argc ? argv[i] : "-";
		struct sg_result *res = NULL;
		unsigned char *data;
		size_t len = 0;
		int vr;

		if ((data = read_all(file, &len)) == NULL) {
			fprintf(stderr, "%s: cannot read %s: %s\n", progname,
				file, strerror(errno));
			io_error = true;
			continue;
		}
		if (content != NULL || looks_like_cms(data, len))
			vr = sg_verify_cms(ctx, data, len, content, content_len,
					   at, &res, &err);
		else
			vr = sg_verify_message(ctx, data, len, at, &res, &err);
		free(data);
		if (vr < 0) {
			fprintf(stderr, "%s: %s: %s\n", progname, file, err.msg);
			io_error = true;
			continue;
		}
		if (sg_result_status(res) != SG_STATUS_SIGNED_VERIFIED &&
		    sg_result_status(res) != SG_STATUS_ENCRYPTED_SIGNED_VERIFIED)
			ret = EXIT_NOTVERIFIED;
		if (json && !quiet) {
			char *js = sg_result_json(res, file);

			if (js == NULL) {
				sg_result_free(&res);
				goto nomem;
			}
			printf("%s\n", js);
			sg_free(js);
		} else if (!quiet) {
			print_text(res, file);
		}
		sg_result_free(&res);
		if (fflush(stdout) != 0) {
			fprintf(stderr, "%s: write error: %s\n", progname,
				strerror(errno));
			io_error = true;
			break;
		}
	}
	if (io_error)
		ret = EXIT_USAGE;
	goto out;
conf_error:
	fprintf(stderr, "%s: %s\n", progname, err.msg);
	ret = EXIT_USAGE;
	goto out;
nomem:
	fprintf(stderr, "%s: out of memory\n", progname);
	ret = EXIT_USAGE;
out:
	sg_ctx_free(&ctx);
	sg_config_free(&conf);
	free(content);
	free(trust);
	free(inter);
	free(crl);
	return ret;
}

int main(int argc, char **argv)
{
	if (sg_init() < 0) {
		fprintf(stderr, "%s: cannot initialise the crypto libraries\n",
			progname);
		return EXIT_USAGE;
	}
	if (argc < 2) {
		usage_main(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		if (argc > 2 && strcmp(argv[2], "verify") == 0)
			usage_verify(stdout);
		else
			usage_main(stdout);
		return EXIT_SUCCESS;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("smimectl (smimeguard) %s\n", sg_version());
		return EXIT_SUCCESS;
	}
	fprintf(stderr, "%s: unknown command '%s'\n", progname, argv[1]);
	usage_main(stderr);
	return EXIT_USAGE;
}
