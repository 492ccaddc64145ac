/*++
/* NAME
/*	smimectl 1
/* SUMMARY
/*	smimeguard command-line tool
/* SYNOPSIS
/*	smimectl verify [options] [file ...]
/*
/*	smimectl cert lookup [options] address ... (or - for stdin)
/*
/*	smimectl doctor [options] [address ...]
/*
/*	smimectl policy test [options]
/*
/*	smimectl crl import [options] file ...
/*
/*	smimectl crl fetch [options] [url ...]
/*
/*	smimectl ca fetch [options] [--for message|address]
/*
/*	smimectl report [options] [logfile ...]
/*
/*	smimectl config [options] [name ...]
/*
/*	smimectl key init|import|list|remove|rotate-master|export|decrypt
/*	[options]
/*
/*	smimectl stats [-c config] [--json] [socket ...]
/*
/*	smimectl help [command]
/*
/*	smimectl version
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
/*
/*	smimectl cert lookup answers, for each address, what the Postfix
/*	policy service asks: which certificates can mail to it be
/*	encrypted with?  It searches certificate_maps in order and shows
/*	the map that answered and every candidate certificate (subject,
/*	issuer, serial, validity, SHA-256 fingerprint, key usage), the
/*	one selected, and why each other one was rejected (expired,
/*	not-yet-valid, untrusted, revoked, key-usage, weak-key ...).
/*	An address "-" reads addresses from standard input, one per line,
/*	and answers each as it comes (one context, so answers from LDAP
/*	maps are cached across them).
/*
/*	smimectl doctor checks the trust store, the CRLs and the map files
/*	and, for each address given, its certificates (cmd-doctor.c), and
/*	says for each finding how to fix it.
/*
/*	smimectl crl import installs CRLs copied over by hand into the CRL
/*	directory, smimectl crl fetch downloads them from the distribution
/*	points the trust store names (cmd-crl.c); both check every CRL
/*	against the trust store and never install an older one.
/*
/*	smimectl ca fetch completes chains whose intermediate CA is
/*	missing: it fetches the issuer from the certificate's Authority
/*	Information Access caIssuers URL, checks that it is a CA whose key
/*	signed the certificate, and keeps it in intermediate_cache, where
/*	path building uses it (never as a trust anchor).  Without --for it
/*	handles the certificates queued while mail was verified
/*	(aia_fetch = cache-only) and removes expired CAs from the cache
/*	(cmd-ca.c).
/*
/*	smimectl report reads mail logs (plain or .gz) and the output of
/*	doveadm smime status and answers the compliance questions: signed
/*	mail by verdict and reason, failing signers and CAs, outbound
/*	decisions by rule, refusals by recipient domain, certificates that
/*	expire soon; as text, --json, or an HTML page (cmd-report.c).
/*
/*	smimectl config prints the settings in effect, the defaults (-d)
/*	or what the file changes (-n), like postconf(1).
/*
/*	smimectl key manages the keystore of archived private keys
/*	(keystore_dir): init creates it and its master key
/*	(keystore_master_key, a key file or an Argon2id passphrase), import
/*	stores a key from PKCS#12 or PEM for an address its certificate
/*	names, list shows the stored certificates (never key material),
/*	remove deletes them, rotate-master wraps every data key under a new
/*	master key, export and decrypt recover a key or a message; every
/*	change and recovery is written to keystore_dir/audit.log (cmd-key.c).
/*
/*	smimectl stats prints the counters of smime-policyd and
/*	smime-milter without a log shipper: uptime, the configuration
/*	loaded and when, decisions by outcome (accepted, refused, deferred,
/*	held, monitored) and by rule, certificate lookups (hit, miss,
/*	error), policy map and analysis errors, and latency (p50, p99,
/*	max); it reads them from the daemons' status sockets
/*	(policyd_status_socket, milter_status_socket), as text or --json
/*	(cmd-stats.c).  The counters start at zero when a daemon starts.
/*
/*	verify, cert lookup, doctor, policy test, crl and config read
/*	/etc/smimeguard/smimeguard.conf when no -c is given and the file
/*	exists (-c /dev/null reads none).  Settings in it that no program
/*	knows (a misspelling such as trsut_anchors) are reported with the
/*	closest known name ("did you mean"); doctor reports them as
/*	findings.
/*
/*	The options of each command are in COMMANDS below, as
/*	"smimectl help COMMAND" prints them.
/* EXIT STATUS
/*	verify: 0 every input is signed/verified; 1 some input is not
/*	verified; 2 usage, configuration or I/O error (message on stderr).
/*
/*	cert lookup: 0 every address has a usable certificate; 1 some
/*	address has none; 2 usage, configuration or map error.
/*
/*	doctor: 0 no findings; 1 findings; 2 usage or configuration error,
/*	or an address could not be checked.
/*
/*	crl: 0 every CRL installed or already in effect; 1 some CRL
/*	rejected, not downloaded, or (import) older than the one in
/*	effect; 2 usage or configuration error, or a file not writable.
/*
/*	report: 0 report written; 2 usage error, an input that cannot be
/*	read, or an output that cannot be written.
/*
/*	stats: 0 every socket answered; 1 some socket did not (the others
/*	are printed); 2 usage error or no status socket configured.
/*
/*	ca fetch: 0 every chain reaches the trust store; 1 some chain is
/*	still incomplete (no URL, download failed, answer rejected); 2
/*	usage or configuration error.
/*
/*	config: 0; 1 a name is not a known setting; 2 usage or
/*	configuration error.
/*
/*	key: 0 done; 1 no such key, an unusable key file, a refused
/*	import, a message not encrypted to a stored key; 2 usage,
/*	configuration, permission or I/O error.
/* FILES
/*	/etc/smimeguard/smimeguard.conf	the configuration
/*
/*	/etc/smimeguard/master.key	the keystore's master key
/*
/*	/var/lib/smimeguard/keys	the keystore, and its audit.log
/* SEE ALSO
/*	smimeguard.conf(5), smime-policyd(8), smime-milter(8),
/*	smimeguard-dovecot(7), the administrator's guide
/*	(/usr/share/doc/smimeguard/ADMIN-GUIDE.md); DESIGN.md sections 2-4
/*	(status values, reason tokens, JSON fields).
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

#include "smimeguard-admin.h"
#include "smimectl.h"

const char *progname = "smimectl";

static void usage_main(FILE *fp)
{
	fprintf(fp,
"Usage: smimectl COMMAND [OPTIONS] [ARGS]\n"
"\n"
"Commands:\n"
"  verify     verify the S/MIME signature of messages or CMS files\n"
"  cert lookup  the certificates mail to an address can be encrypted with\n"
"  policy test  what the outbound policy requires of a message, and whether\n"
"             a message satisfies it\n"
"  doctor     what is wrong with the trust store, the CRLs and the\n"
"             certificates of addresses, and how to fix it\n"
"  crl import | crl fetch  install CRLs copied by hand, or download them\n"
"             from the CAs' distribution points\n"
"  ca fetch   fetch missing intermediate CAs from their AIA URLs into\n"
"             intermediate_cache\n"
"  report     what the mail logs say: signed mail by verdict and reason,\n"
"             failing signers, outbound decisions by rule, refusals by\n"
"             domain, certificates expiring soon (text, --json, --html)\n"
"  config     the settings in effect, the defaults, or what the file\n"
"             changes (like postconf); unknown settings are reported\n"
"  key        the keystore of archived private keys: init, import, list,\n"
"             remove, rotate-master, export, decrypt\n"
"  stats      the counters of smime-policyd and smime-milter (decisions by\n"
"             outcome and rule, lookups, errors, latency) from their\n"
"             status sockets\n"
"  help       show this text, or 'smimectl help verify|cert|policy|doctor|crl|ca|report|config|key|stats'\n"
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
"  -c, --config FILE        read settings from FILE (default " SG_CONFIG_FILE ",\n"
"                           when it exists; /dev/null: none)\n"
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
"      --owner ADDR         decrypt-to-verify: an encrypted message is sent\n"
"                           to smime-keyd (keyd_socket) as ADDR's mail, as\n"
"                           the Dovecot plugin does; its verdict of the\n"
"                           signature inside is shown\n"
"      --keyd-socket PATH   smime-keyd's socket (replaces keyd_socket)\n"
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
unsigned char *read_all(const char *path, size_t *len_r)
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
		char rl[SG_REASONS_SIZE];

		(void)sg_reasons_format(reasons, ", ", rl, sizeof(rl));
		printf("  reasons:  %s\n", rl);
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
				printf("    recipient: (%s)\n",
				       r->info == SG_RI_PWRI ? "a password" :
				       r->info == SG_RI_KEKRI ? "a shared key (KEK)" :
				       "other kind");
		}
	}
	printf("  detail: %s\n", sg_result_detail(res));
}

/* verify_owner - the stream, as the Dovecot plugin uses it, with
   decrypt-to-verify for owner (smime-keyd at keyd_socket) */
static int verify_owner(struct sg_ctx *ctx, const char *owner,
			const unsigned char *data, size_t len, time_t at,
			struct sg_result **res_r, struct sg_error *err_r)
{
	struct sg_verify_stream *vs = NULL;
	int r = -1;

	if (sg_verify_init(ctx, at, &vs, err_r) == 0 &&
	    sg_verify_set_owner(vs, owner, err_r) == 0 &&
	    sg_verify_update(vs, data, len, err_r) == 0)
		r = sg_verify_final(vs, res_r, err_r);
	sg_verify_free(&vs);
	return r;
}

static int cmd_verify(int argc, char **argv)
{
	enum { O_BINDING = 0x200, O_SHA1, O_CONTENT, O_JSON, O_OWNER,
	       O_KEYD };
	static const struct option opts[] = {
		CTL_STORE_LONGOPTS,
		{ "owner", required_argument, NULL, O_OWNER },
		{ "keyd-socket", required_argument, NULL, O_KEYD },
		{ "sender-binding", required_argument, NULL, O_BINDING },
		{ "allow-sha1", no_argument, NULL, O_SHA1 },
		{ "content", required_argument, NULL, O_CONTENT },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *binding = NULL, *content_path = NULL, *owner = NULL;
	const char *keyd = NULL;
	struct ctl_store st;
	bool sha1 = false, json = false, quiet = false;
	unsigned char *content = NULL;
	size_t content_len = 0;
	struct sg_config *conf = NULL;
	struct sg_ctx *ctx = NULL;
	struct sg_error err;
	time_t at;
	int c, i, r, ret = EXIT_SUCCESS;
	bool io_error = false;

	memset(&st, 0, sizeof(st));
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:qh", opts, NULL)) != -1) {
		if ((r = ctl_store_option(&st, c, optarg)) < 0) {
			ret = EXIT_USAGE;
			goto out;
		}
		if (r == 0)
			continue;
		switch (c) {
		case O_BINDING:
			binding = optarg;
			break;
		case O_SHA1:
			sha1 = true;
			break;
		case O_CONTENT:
			content_path = optarg;
			break;
		case O_JSON:
			json = true;
			break;
		case O_OWNER:
			owner = optarg;
			break;
		case O_KEYD:
			keyd = optarg;
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
	at = st.at;
	if (ctl_store_config(&st, &conf) < 0) {
		ret = EXIT_USAGE;
		goto out;
	}
	if ((keyd != NULL && sg_config_set(conf, "keyd_socket", keyd, &err) < 0) ||
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
		else if (owner != NULL)
			vr = verify_owner(ctx, owner, data, len, at, &res, &err);
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
	ctl_store_free(&st);
	return ret;
}

static void usage_cert(FILE *fp)
{
	fprintf(fp,
"Usage: smimectl cert lookup [OPTIONS] ADDRESS...\n"
"\n"
"Find the certificates mail to each ADDRESS can be encrypted with, as the\n"
"Postfix policy service does: search certificate_maps in order, check\n"
"every candidate (validity, chain to a trust anchor, revocation, key usage\n"
"for encryption, key strength) and show the one selected, or why each\n"
"candidate was rejected.  Addresses match case-insensitively.  An ADDRESS\n"
"\"-\" reads addresses from standard input, one per line, answering each as\n"
"it comes (answers of ldap: maps are cached across them).\n"
"\n"
"Options:\n"
"  -c, --config FILE        read settings from FILE (default " SG_CONFIG_FILE ",\n"
"                           when it exists; /dev/null: none)\n"
"      --map TYPE:NAME      certificate map, e.g. dir:/etc/smimeguard/certs\n"
"                           (repeatable; replaces certificate_maps)\n"
"      --trust PATH         trust anchors: PEM/DER file or directory\n"
"                           (repeatable; replaces trust_anchors)\n"
"      --intermediates PATH untrusted intermediate CAs (repeatable)\n"
"      --crl PATH           CRL file or directory (repeatable)\n"
"      --revocation MODE    none | soft | hard   (default: soft)\n"
"                           hard: no current CRL for a CA of the chain\n"
"                           rejects the certificate (revocation-unknown)\n"
"      --at TIME            evaluate at TIME: 2026-11-28T10:00:00Z or\n"
"                           @unix-seconds (default: now)\n"
"      --json               one JSON object per address, one per line\n"
"  -q, --quiet              print nothing; use the exit status\n"
"  -h, --help               show this help\n"
"\n"
"Rejection reasons: expired, not-yet-valid, untrusted, revoked,\n"
"revocation-unknown, key-usage, weak-key, weak-algorithm, malformed.\n"
"Exit status: 0 every ADDRESS has a usable certificate; 1 some ADDRESS has\n"
"none; 2 usage, configuration or map error (a map that cannot be read).\n"
"\n"
"Example:\n"
"  smimectl cert lookup -c /etc/smimeguard/smimeguard.conf partner@example.com\n"
"  smimectl cert lookup --map dir:/etc/smimeguard/certs --trust /etc/smimeguard/trust \\\n"
"      --json bob@example.org\n");
}

/* print_json_error - {"address":...,"error":...} for a failed lookup */
static void print_json_error(const char *address, const char *msg)
{
	const char *strs[2] = { address, msg };
	const char *keys[2] = { "address", "error" };
	const unsigned char *p;
	int i;

	putchar('{');
	for (i = 0; i < 2; i++) {
		printf("%s\"%s\":\"", i > 0 ? "," : "", keys[i]);
		for (p = (const unsigned char *)strs[i]; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				printf("\\%c", *p);
			else if (*p < 0x20 || *p == 0x7f)
				printf("\\u%04x", *p);
			else
				putchar(*p);
		}
		putchar('"');
	}
	printf("}\n");
}

/* iso_time - a time for people, as in the JSON output */
static const char *iso_time(time_t t, char *buf, size_t size)
{
	if (t == 0 || sg_format_time(t, buf, size) < 0)
		snprintf(buf, size, "unknown");
	return buf;
}

/* print_cert_set - the text form of one lookup */
static void print_cert_set(const struct sg_cert_set *set, const char *address)
{
	size_t n = sg_cert_set_count(set), usable = sg_cert_set_usable_count(set);
	size_t i;
	char nb[SG_TIME_SIZE], na[SG_TIME_SIZE];

	if (usable > 0)
		printf("%s: usable certificate found in %s (%zu usable of %zu)\n",
		       address, sg_cert_set_map(set), usable, n);
	else if (n > 0)
		printf("%s: NO usable certificate (%zu found, all rejected)\n",
		       address, n);
	else
		printf("%s: no certificate found in any map\n", address);
	for (i = 0; i < n; i++) {
		const struct sg_cert_candidate *c = sg_cert_set_get(set, i);

		if (c->usable)
			printf("  [%zu] %s%s: %s\n", i + 1,
			       i == 0 ? "selected" : "usable",
			       c->pinned ? " (pinned partner certificate)" : "",
			       c->subject);
		else
			printf("  [%zu] rejected (%s): %s\n", i + 1,
			       sg_reason_name(c->reason), c->subject);
		printf("      issuer:    %s\n", c->issuer);
		printf("      serial:    %s\n", c->serial);
		printf("      valid:     %s .. %s\n",
		       iso_time(c->not_before, nb, sizeof(nb)),
		       iso_time(c->not_after, na, sizeof(na)));
		printf("      sha256:    %s\n", c->fingerprint);
		printf("      addresses: %s\n", c->emails);
		printf("      key:       %s; %s\n", c->key, c->key_usage);
		printf("      map:       %s%s%s%s\n", c->map,
		       c->source[0] != '\0' ? " (" : "", c->source,
		       c->source[0] != '\0' ? ")" : "");
		if (!c->usable)
			printf("      why:       %s\n", c->detail);
	}
}

/* lookup_one - look one address up and print the answer: 0; -1 out of
   memory; -2 stdout cannot be written (ret and lookup_error updated) */
static int lookup_one(struct sg_ctx *ctx, const char *address, time_t at,
		      bool json, bool quiet, int *ret, bool *lookup_error)
{
	struct sg_cert_set *set = NULL;
	struct sg_error err;
	int lr = sg_cert_lookup(ctx, address, at, &set, &err);

	if (lr < 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, address, err.msg);
		if (json && !quiet)
			print_json_error(address, err.msg);
		*lookup_error = true;
	} else {
		if (lr == 0 && *ret == EXIT_SUCCESS)
			*ret = EXIT_NOTVERIFIED;
		if (json && !quiet) {
			char *js = sg_cert_set_json(set);

			if (js == NULL) {
				sg_cert_set_free(&set);
				return -1;
			}
			printf("%s\n", js);
			sg_free(js);
		} else if (!quiet) {
			print_cert_set(set, address);
		}
		sg_cert_set_free(&set);
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "%s: write error: %s\n", progname,
			strerror(errno));
		*lookup_error = true;
		return -2;
	}
	return 0;
}

/* cmd_cert_lookup - smimectl cert lookup */
static int cmd_cert_lookup(int argc, char **argv)
{
	enum { O_JSON = 0x200 };
	static const struct option opts[] = {
		CTL_STORE_LONGOPTS,
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *maps_v;
	struct ctl_store st;
	bool json = false, quiet = false, lookup_error = false;
	struct sg_config *conf = NULL;
	struct sg_ctx *ctx = NULL;
	struct sg_error err;
	time_t at;
	int c, i, r, ret = EXIT_SUCCESS;

	memset(&st, 0, sizeof(st));
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:qh", opts, NULL)) != -1) {
		if ((r = ctl_store_option(&st, c, optarg)) < 0) {
			ret = EXIT_USAGE;
			goto out;
		}
		if (r == 0)
			continue;
		switch (c) {
		case O_JSON:
			json = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage_cert(stdout);
			goto out;
		default:
			fprintf(stderr, "Try 'smimectl cert --help'.\n");
			ret = EXIT_USAGE;
			goto out;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "%s: cert lookup: no ADDRESS given\n"
			"Try 'smimectl cert --help'.\n", progname);
		ret = EXIT_USAGE;
		goto out;
	}
	at = st.at;
	if (ctl_store_config(&st, &conf) < 0) {
		ret = EXIT_USAGE;
		goto out;
	}
	maps_v = sg_config_get(conf, "certificate_maps");
	if (sg_ctx_new(conf, &ctx, &err) < 0)
		goto conf_error;
	if (maps_v != NULL && maps_v[strspn(maps_v, ", \t")] == '\0')
		fprintf(stderr, "%s: warning: no certificate maps configured "
			"(--map or certificate_maps): no address can be found\n",
			progname);
	if (sg_ctx_anchor_count(ctx) == 0)
		fprintf(stderr, "%s: warning: no trust anchors configured "
			"(--trust or trust_anchors): no certificate is usable\n",
			progname);
	for (i = optind; i < argc; i++) {
		r = 0;
		if (strcmp(argv[i], "-") != 0) {
			r = lookup_one(ctx, argv[i], at, json, quiet, &ret,
				       &lookup_error);
		} else {
			/* addresses from standard input, one per line,
			   answered as they come (for scripts and batches) */
			char *line = NULL;
			size_t size = 0;
			ssize_t len;

			while (r == 0 && (len = getline(&line, &size, stdin)) >= 0) {
				char *a = line + strspn(line, " \t");

				while (len > 0 && (line[len - 1] == '\n' ||
						   line[len - 1] == '\r' ||
						   line[len - 1] == ' ' ||
						   line[len - 1] == '\t'))
					line[--len] = '\0';
				if (*a == '\0' || *a == '#')
					continue;
				r = lookup_one(ctx, a, at, json, quiet, &ret,
					       &lookup_error);
			}
			free(line);
		}
		if (r == -1)
			goto nomem;
		if (r < 0)
			break;
	}
	if (lookup_error)
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
	ctl_store_free(&st);
	return ret;
}

/* cmd_cert - smimectl cert SUBCOMMAND */
static int cmd_cert(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "lookup") == 0)
		return cmd_cert_lookup(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
			  strcmp(argv[1], "-h") == 0 ||
			  strcmp(argv[1], "help") == 0)) {
		usage_cert(stdout);
		return EXIT_SUCCESS;
	}
	if (argc >= 2)
		fprintf(stderr, "%s: cert: unknown subcommand '%s'\n", progname,
			argv[1]);
	usage_cert(stderr);
	return EXIT_USAGE;
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
	if (strcmp(argv[1], "policy") == 0)
		return cmd_policy(argc - 1, argv + 1);
	if (strcmp(argv[1], "doctor") == 0)
		return cmd_doctor(argc - 1, argv + 1);
	if (strcmp(argv[1], "cert") == 0)
		return cmd_cert(argc - 1, argv + 1);
	if (strcmp(argv[1], "crl") == 0)
		return cmd_crl(argc - 1, argv + 1);
	if (strcmp(argv[1], "ca") == 0)
		return cmd_ca(argc - 1, argv + 1);
	if (strcmp(argv[1], "report") == 0)
		return cmd_report(argc - 1, argv + 1);
	if (strcmp(argv[1], "config") == 0)
		return cmd_config(argc - 1, argv + 1);
	if (strcmp(argv[1], "key") == 0)
		return cmd_key(argc - 1, argv + 1);
	if (strcmp(argv[1], "stats") == 0)
		return cmd_stats(argc - 1, argv + 1);
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		if (argc > 2 && strcmp(argv[2], "verify") == 0)
			usage_verify(stdout);
		else if (argc > 2 && strcmp(argv[2], "cert") == 0)
			usage_cert(stdout);
		else if (argc > 2 && strcmp(argv[2], "policy") == 0)
			usage_policy(stdout);
		else if (argc > 2 && strcmp(argv[2], "doctor") == 0)
			usage_doctor(stdout);
		else if (argc > 2 && strcmp(argv[2], "crl") == 0)
			usage_crl(stdout);
		else if (argc > 2 && strcmp(argv[2], "ca") == 0)
			usage_ca(stdout);
		else if (argc > 2 && strcmp(argv[2], "report") == 0)
			usage_report(stdout);
		else if (argc > 2 && strcmp(argv[2], "config") == 0)
			usage_config(stdout);
		else if (argc > 2 && strcmp(argv[2], "key") == 0)
			usage_key(stdout);
		else if (argc > 2 && strcmp(argv[2], "stats") == 0)
			usage_stats(stdout);
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
