/* cmd-key.c - smimectl key: the keystore of archived private keys
 *
 *   smimectl key init [--passphrase]
 *   smimectl key import --address ADDR (FILE.p12 | --key KEY.pem --cert CERT.pem)
 *   smimectl key list [--address ADDR] [--json]
 *   smimectl key remove --fingerprint FP [--address ADDR]
 *   smimectl key rotate-master [--passphrase]
 *   smimectl key export --fingerprint FP --out FILE
 *   smimectl key decrypt [--address OWNER] [--out FILE] MESSAGE
 *
 * The wrapping and the files are the core's (common/keystore*.c); this
 * file reads what an administrator hands over (PKCS#12 as Windows and
 * Outlook export it, with OpenSSL's legacy provider for RC2-40/3DES;
 * PEM key and certificate), asks for secrets without echo or reads them
 * from a file or the environment (never the command line), and writes
 * the audit log: every export, decrypt, import, remove and rotation is
 * a line of keystore_dir/audit.log (time, user, command, fingerprint,
 * outcome), written before any key material or plaintext leaves, or the
 * command is refused.
 *
 * Exit status: 0 done; 1 nothing done for a reason of the data (no such
 * key, a key file unusable, the message not encrypted to a stored key,
 * a refused import); 2 usage, configuration, permission or I/O error.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#include "smimeguard-admin.h"
#include "smimectl.h"

#define SECRET_MAX 1024
#define MAX_ADDRS 16
#define ENV_PASSPHRASE "SMIMECTL_PASSPHRASE"
#define ENV_NEW_PASSPHRASE "SMIMECTL_NEW_PASSPHRASE"

enum {
	O_KEYSTORE = 0x200, O_MASTER, O_PASSFILE, O_NEWPASSFILE, O_PASSPHRASE,
	O_COST, O_ADDRESS, O_KEY, O_CERT, O_PWFILE, O_JSON, O_FPR, O_OUT
};

void usage_key(FILE *fp)
{
	fprintf(fp,
"Usage: smimectl key init [--passphrase] [OPTIONS]\n"
"       smimectl key import --address ADDR [OPTIONS] FILE.p12\n"
"       smimectl key import --address ADDR --key KEY.pem --cert CERT.pem\n"
"       smimectl key list [--address ADDR] [--json]\n"
"       smimectl key remove --fingerprint FP [--address ADDR]\n"
"       smimectl key rotate-master [--passphrase]\n"
"       smimectl key export --fingerprint FP --out FILE\n"
"       smimectl key decrypt [--address OWNER] [--out FILE] MESSAGE\n"
"\n"
"The keystore of archived private keys (key recovery, smime-keyd): each\n"
"key in its own file of keystore_dir, encrypted with its own data key\n"
"(XChaCha20-Poly1305) bound to its certificate and address; the data keys\n"
"wrapped by the master key (keystore_master_key: a key file, or a\n"
"passphrase through Argon2id).  Several keys per address: the old keys\n"
"stay, so old mail still opens.\n"
"\n"
"  init            create the keystore directory (0700) and a new master\n"
"                  key file (0600); --passphrase: derive the master key\n"
"                  from a passphrase (the file keeps only the parameters)\n"
"  import          store a private key for ADDR (repeatable) from a\n"
"                  PKCS#12 file (as Windows and Outlook export it; the\n"
"                  legacy RC2-40/3DES encodings load OpenSSL's legacy\n"
"                  provider) or a PEM key and certificate (--cert may hold\n"
"                  the chain after the certificate).  The certificate must\n"
"                  match the key and name ADDR, else nothing is stored.\n"
"  list            addresses, certificate subject, issuer, serial,\n"
"                  fingerprint, validity of the stored keys (never key\n"
"                  material; needs no master key); files that cannot be\n"
"                  used are listed with the reason\n"
"  remove          delete the key files of a certificate\n"
"  rotate-master   a new master key: the data keys are wrapped again under\n"
"                  it (the encrypted keys are not touched); the old master\n"
"                  key opens none of them afterwards.  The new key is\n"
"                  written beside the old one (FILE.new) first; an\n"
"                  interrupted rotation is finished by running it again.\n"
"  export          recovery: the private key (unencrypted PKCS#8 PEM) and\n"
"                  its certificates into FILE, created with mode 0600\n"
"  decrypt         recovery: decrypt an S/MIME message (or DER CMS)\n"
"                  with the stored key it is encrypted to; the content to\n"
"                  FILE or standard output\n"
"Every import, remove, rotate-master, export and decrypt is appended to\n"
"keystore_dir/audit.log (time, user, command, fingerprint, outcome), before\n"
"anything is released; if it cannot be written the command is refused.\n"
"\n"
"Options:\n"
"  -c, --config FILE        read settings from FILE (default " SG_CONFIG_FILE ",\n"
"                           when it exists; /dev/null: none)\n"
"      --keystore DIR       instead of keystore_dir\n"
"      --master-key FILE    instead of keystore_master_key\n"
"      --passphrase-file FILE  the master passphrase: the first line of\n"
"                           FILE (else $" ENV_PASSPHRASE ", else asked on the\n"
"                           terminal without echo)\n"
"      --passphrase         init, rotate-master: a passphrase master key\n"
"      --new-passphrase-file FILE  rotate-master: the new passphrase (else\n"
"                           $" ENV_NEW_PASSPHRASE ", else asked twice)\n"
"      --kdf-cost COST      Argon2id cost: moderate (default, 256 MiB),\n"
"                           interactive (64 MiB), minimum (tests only)\n"
"      --address ADDR       import: the address (repeatable); list, remove:\n"
"                           only this address; decrypt: only its keys\n"
"      --key FILE, --cert FILE  import: PEM private key and certificate\n"
"      --password-file FILE import: the PKCS#12 (or PEM key) password, first\n"
"                           line of FILE (else asked on the terminal)\n"
"      --fingerprint FP     SHA-256 of the certificate: 64 hex digits (colons\n"
"                           allowed) or a unique prefix of 16 or more\n"
"      --out FILE           export, decrypt: where to write\n"
"      --json               list: one JSON object per key\n"
"  -h, --help               show this help\n"
"\n"
"Secrets are never taken from the command line.\n"
"Exit status: 0 done; 1 no such key, an unusable key file, a refused import,\n"
"a message not encrypted to a stored key; 2 usage, configuration,\n"
"permission or I/O error.\n"
"\n"
"Example:\n"
"  smimectl key init\n"
"  smimectl key import --address bob@example.org bob.p12\n"
"  smimectl key decrypt --address bob@example.org --out clear.eml old.eml\n");
}

struct key_opts {
	struct ctl_store st;
	const char *keystore, *master, *passfile, *newpassfile, *pwfile;
	const char *key, *cert, *fpr, *out;
	const char *addrs[MAX_ADDRS];
	size_t n_addrs;
	bool passphrase, json;
	enum sg_kdf_cost cost;
	/* from the configuration, or the options */
	char dir[4096], master_path[4096];
};

/* ---- secrets ---- */

/* read_secret_file - the first line of path */
static int read_secret_file(const char *path, char *buf, size_t size)
{
	FILE *fp = fopen(path, "r");
	size_t n;

	if (fp == NULL) {
		fprintf(stderr, "%s: cannot read %s: %s\n", progname, path,
			strerror(errno));
		return -1;
	}
	if (fgets(buf, (int)size, fp) == NULL)
		buf[0] = '\0';
	fclose(fp);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	return 0;
}

/* ask_tty - a line from the terminal without echo */
static int ask_tty(const char *prompt, char *buf, size_t size)
{
	struct termios old, quiet;
	FILE *tty = fopen("/dev/tty", "r+");
	bool restore = false;
	int ok;

	if (tty == NULL) {
		fprintf(stderr, "%s: no terminal to ask for %s on: use a file "
			"option (see smimectl help key)\n", progname, prompt);
		return -1;
	}
	/* echo off before the prompt: TCSAFLUSH drops what was typed
	   before it */
	if (tcgetattr(fileno(tty), &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		restore = tcsetattr(fileno(tty), TCSAFLUSH, &quiet) == 0;
	}
	if (!restore) {
		fprintf(stderr, "%s: cannot turn the terminal's echo off: not "
			"asking for %s\n", progname, prompt);
		fclose(tty);
		return -1;
	}
	fprintf(tty, "%s: ", prompt);
	fflush(tty);
	ok = fgets(buf, (int)size, tty) != NULL;
	(void)tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fprintf(tty, "\n");
	fclose(tty);
	if (!ok) {
		buf[0] = '\0';
		return -1;
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

/* get_secret - from file, else the environment variable env, else the
   terminal (twice when confirm) */
static int get_secret(const char *file, const char *env, const char *what,
		      bool confirm, char *buf, size_t size)
{
	char again[SECRET_MAX];
	const char *e = env != NULL ? getenv(env) : NULL;

	if (file != NULL)
		return read_secret_file(file, buf, size);
	if (e != NULL) {
		if (strlen(e) >= size) {
			fprintf(stderr, "%s: $%s is too long\n", progname, env);
			return -1;
		}
		strcpy(buf, e);
		return 0;
	}
	if (ask_tty(what, buf, size) < 0)
		return -1;
	if (!confirm)
		return 0;
	if (ask_tty("again", again, sizeof(again)) < 0)
		return -1;
	if (strcmp(buf, again) != 0) {
		OPENSSL_cleanse(again, sizeof(again));
		fprintf(stderr, "%s: the two passphrases differ\n", progname);
		return -1;
	}
	OPENSSL_cleanse(again, sizeof(again));
	return 0;
}

/* load_master - the master key of path, asking for the passphrase when
   it is a passphrase master */
static struct sg_master *load_master(const struct key_opts *o, const char *path,
				     const char *passfile, const char *env)
{
	struct sg_master *m = NULL;
	struct sg_error err;
	char pass[SECRET_MAX];
	bool needs = false;
	int r;

	if (sg_master_needs_passphrase(path, &needs, &err) < 0) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		return NULL;
	}
	if (!needs) {
		r = sg_master_load(path, NULL, 0, &m, &err);
	} else {
		if (get_secret(passfile, env, "master key passphrase", false,
			       pass, sizeof(pass)) < 0)
			return NULL;
		r = sg_master_load(path, pass, strlen(pass), &m, &err);
		OPENSSL_cleanse(pass, sizeof(pass));
	}
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		return NULL;
	}
	(void)o;
	return m;
}

/* new_master - a new random or passphrase master key */
static struct sg_master *new_master(const struct key_opts *o,
				    const char *passfile, const char *env)
{
	struct sg_master *m = NULL;
	struct sg_error err;
	char pass[SECRET_MAX];
	int r;

	if (!o->passphrase) {
		r = sg_master_generate(&m, &err);
	} else {
		if (get_secret(passfile, env, "new master key passphrase", true,
			       pass, sizeof(pass)) < 0)
			return NULL;
		if (strlen(pass) < 8 && o->cost != SG_KDF_MINIMUM) {
			OPENSSL_cleanse(pass, sizeof(pass));
			fprintf(stderr, "%s: the passphrase is shorter than 8 "
				"characters: refused\n", progname);
			return NULL;
		}
		r = sg_master_derive(pass, strlen(pass), o->cost, &m, &err);
		OPENSSL_cleanse(pass, sizeof(pass));
	}
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		return NULL;
	}
	return m;
}

/* ---- the audit log ---- */

/* audit_value - " name=value", quoted when needed, controls as '?' */
static void audit_value(char *line, size_t size, const char *name,
			const char *value)
{
	size_t off = strlen(line);
	const unsigned char *p;

	if (value == NULL || off + 4 >= size)
		return;
	off += (size_t)snprintf(line + off, size - off, " %s=\"", name);
	for (p = (const unsigned char *)value; *p != '\0' && off + 3 < size; p++) {
		if (*p == '"' || *p == '\\')
			line[off++] = '\\';
		line[off++] = *p < 0x20 || *p == 0x7f ? '?' : (char)*p;
	}
	line[off++] = '"';
	line[off] = '\0';
}

/* audit - append one line to DIR/audit.log (0600, fsync); -1 when it
   cannot be written (the caller then releases nothing) */
static int audit(const struct key_opts *o, const char *command,
		 const char *fpr, const char *address, const char *input,
		 const char *outcome)
{
	char path[4200], line[4096], when[SG_TIME_SIZE];
	struct passwd *pw = getpwuid(getuid());
	const char *sudo = getenv("SUDO_USER");
	size_t len;
	int fd;

	snprintf(path, sizeof(path), "%s/audit.log", o->dir);
	if (sg_format_time(time(NULL), when, sizeof(when)) < 0)
		snprintf(when, sizeof(when), "@%lld", (long long)time(NULL));
	snprintf(line, sizeof(line), "%s uid=%lu", when, (unsigned long)getuid());
	audit_value(line, sizeof(line), "user", pw != NULL ? pw->pw_name : "?");
	audit_value(line, sizeof(line), "sudo_user", sudo);
	audit_value(line, sizeof(line), "command", command);
	audit_value(line, sizeof(line), "fingerprint", fpr);
	audit_value(line, sizeof(line), "address", address);
	audit_value(line, sizeof(line), "input", input);
	audit_value(line, sizeof(line), "outcome", outcome);
	len = strlen(line);
	if (len + 1 < sizeof(line)) {
		line[len++] = '\n';
		line[len] = '\0';
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0 || write(fd, line, len) != (ssize_t)len || fsync(fd) < 0) {
		fprintf(stderr, "%s: cannot write the audit log %s: %s: "
			"refused\n", progname, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* ---- reading keys and certificates ---- */

static int pw_cb(char *buf, int size, int rwflag, void *u)
{
	const char *pw = u;
	size_t n = pw != NULL ? strlen(pw) : 0;

	(void)rwflag;
	if (pw == NULL || n >= (size_t)size)
		return -1;
	memcpy(buf, pw, n);
	return (int)n;
}

/* certs_der - x, then chain, as concatenated DER (malloc'd) */
static unsigned char *certs_der(X509 *x, STACK_OF(X509) *chain, size_t *len_r)
{
	unsigned char *buf = NULL, *nb, *w;
	size_t used = 0;
	int i, n, n_chain = chain != NULL ? sk_X509_num(chain) : 0;

	for (i = -1; i < n_chain; i++) {
		X509 *c = i < 0 ? x : sk_X509_value(chain, i);

		if (i >= 0 && X509_cmp(c, x) == 0)
			continue;	/* PKCS#12 files may list it twice */
		if ((n = i2d_X509(c, NULL)) <= 0 ||
		    (nb = realloc(buf, used + (size_t)n)) == NULL) {
			free(buf);
			return NULL;
		}
		buf = nb;
		w = buf + used;
		i2d_X509(c, &w);
		used += (size_t)n;
	}
	*len_r = used;
	return buf;
}

/* legacy_loaded - OpenSSL's legacy provider (RC2, RC4, DES) is loaded
   when a PKCS#12 file needs it, and the default one kept */
static bool legacy_loaded;
static OSSL_PROVIDER *prov_legacy, *prov_default;

static bool load_legacy(void)
{
	if (legacy_loaded)
		return true;
	if ((prov_legacy = OSSL_PROVIDER_load(NULL, "legacy")) == NULL ||
	    (prov_default = OSSL_PROVIDER_load(NULL, "default")) == NULL)
		return false;
	legacy_loaded = true;
	return true;
}

/* unload_legacy - the providers load_legacy() loaded */
static void unload_legacy(void)
{
	if (prov_legacy != NULL)
		(void)OSSL_PROVIDER_unload(prov_legacy);
	if (prov_default != NULL)
		(void)OSSL_PROVIDER_unload(prov_default);
	prov_legacy = prov_default = NULL;
	legacy_loaded = false;
}

/* read_pkcs12 - key, certificate and chain of a PKCS#12 file */
static int read_pkcs12(const char *file, const char *pw, EVP_PKEY **pkey_r,
		       X509 **cert_r, STACK_OF(X509) **chain_r)
{
	size_t len = 0;
	unsigned char *data = read_all(file, &len);
	const unsigned char *p = data;
	PKCS12 *p12;
	char why[256];

	if (data == NULL) {
		fprintf(stderr, "%s: cannot read %s: %s\n", progname, file,
			strerror(errno));
		return -1;
	}
	p12 = d2i_PKCS12(NULL, &p, (long)len);
	free(data);
	if (p12 == NULL) {
		fprintf(stderr, "%s: %s is not a PKCS#12 file (DER)\n",
			progname, file);
		ERR_clear_error();
		return -1;
	}
	if (PKCS12_mac_present(p12) && !PKCS12_verify_mac(p12, pw, -1)) {
		ERR_clear_error();
		/* the MAC of a legacy file may need the legacy provider too */
		if (legacy_loaded || !load_legacy() ||
		    !PKCS12_verify_mac(p12, pw, -1)) {
			fprintf(stderr, "%s: %s: wrong password (the PKCS#12 "
				"MAC does not verify)\n", progname, file);
			PKCS12_free(p12);
			ERR_clear_error();
			return -1;
		}
	}
	if (PKCS12_parse(p12, pw, pkey_r, cert_r, chain_r) != 1) {
		ERR_clear_error();
		if (!legacy_loaded && load_legacy()) {
			fprintf(stderr, "%s: %s uses a legacy PKCS#12 encryption "
				"(RC2-40 or 3DES, as older Windows and Outlook "
				"export): loaded OpenSSL's legacy provider\n",
				progname, file);
			if (PKCS12_parse(p12, pw, pkey_r, cert_r, chain_r) == 1)
				goto ok;
		}
		ERR_error_string_n(ERR_peek_last_error(), why, sizeof(why));
		fprintf(stderr, "%s: %s: cannot read the PKCS#12 file: %s\n",
			progname, file, why);
		PKCS12_free(p12);
		ERR_clear_error();
		return -1;
	}
ok:
	PKCS12_free(p12);
	if (*pkey_r == NULL || *cert_r == NULL) {
		fprintf(stderr, "%s: %s holds no private key with its "
			"certificate\n", progname, file);
		return -1;
	}
	return 0;
}

/* read_pem - a PEM private key, and certificates (the first is the
   key's) */
static int read_pem(const char *keyfile, const char *certfile, const char *pw,
		    EVP_PKEY **pkey_r, X509 **cert_r, STACK_OF(X509) **chain_r)
{
	BIO *bio;
	X509 *x;

	if ((bio = BIO_new_file(keyfile, "r")) == NULL) {
		fprintf(stderr, "%s: cannot read %s: %s\n", progname, keyfile,
			strerror(errno));
		return -1;
	}
	*pkey_r = PEM_read_bio_PrivateKey(bio, NULL, pw_cb, (void *)pw);
	BIO_free(bio);
	if (*pkey_r == NULL) {
		fprintf(stderr, "%s: %s: no private key (PEM), or a wrong "
			"password\n", progname, keyfile);
		ERR_clear_error();
		return -1;
	}
	if ((bio = BIO_new_file(certfile, "r")) == NULL) {
		fprintf(stderr, "%s: cannot read %s: %s\n", progname, certfile,
			strerror(errno));
		return -1;
	}
	*cert_r = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	*chain_r = sk_X509_new_null();
	while (*cert_r != NULL && *chain_r != NULL &&
	       (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(*chain_r, x))
			X509_free(x);
	}
	BIO_free(bio);
	ERR_clear_error();
	if (*cert_r == NULL) {
		fprintf(stderr, "%s: %s: no certificate (PEM)\n", progname,
			certfile);
		return -1;
	}
	return 0;
}

/* ---- commands ---- */

static int open_store(const struct key_opts *o, const struct sg_master *m,
		      bool create, struct sg_keystore **ks_r)
{
	struct sg_error err;

	if (sg_keystore_open(o->dir, m, create, ks_r, &err) < 0) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		return -1;
	}
	return 0;
}

static int key_init(struct key_opts *o)
{
	struct sg_master *m = NULL;
	struct sg_keystore *ks = NULL;
	struct sg_error err;
	char id[SG_MASTER_ID_SIZE];
	int ret = EXIT_USAGE;

	if (access(o->master_path, F_OK) == 0) {
		fprintf(stderr, "%s: %s exists already: not replaced (the keys "
			"wrapped under it would be lost; smimectl key "
			"rotate-master changes it)\n", progname, o->master_path);
		return EXIT_USAGE;
	}
	if (open_store(o, NULL, true, &ks) < 0)
		return EXIT_USAGE;
	if ((m = new_master(o, o->passfile, ENV_PASSPHRASE)) == NULL)
		goto out;
	if (sg_master_write(m, o->master_path, false, &err) < 0) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		goto out;
	}
	sg_master_id(m, id);
	printf("master key %s written to %s (%s); keystore %s\n", id,
	       o->master_path, sg_master_is_passphrase(m) ?
	       "passphrase, Argon2id parameters only" : "key file, mode 0600",
	       o->dir);
	if (!sg_master_is_passphrase(m))
		printf("Keep a copy of %s somewhere safe (offline): without it "
		       "no stored key can be recovered.\n", o->master_path);
	ret = EXIT_SUCCESS;
out:
	sg_keystore_free(&ks);
	sg_master_free(&m);
	return ret;
}

static int key_import(struct key_opts *o, int argc, char **argv)
{
	struct sg_master *m = NULL;
	struct sg_keystore *ks = NULL;
	struct sg_key_info info;
	struct sg_error err;
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *chain = NULL;
	unsigned char *kder = NULL, *cder = NULL;
	size_t clen = 0, i;
	int klen = 0, ret = EXIT_USAGE;
	char pw[SECRET_MAX];
	const char *input;
	bool have_pw = false;

	if (o->n_addrs == 0 ||
	    (optind < argc) == (o->key != NULL || o->cert != NULL) ||
	    (o->key != NULL) != (o->cert != NULL) || argc - optind > 1) {
		fprintf(stderr, "%s: key import: give --address ADDR and either "
			"FILE.p12 or --key KEY.pem --cert CERT.pem\n"
			"Try 'smimectl help key'.\n", progname);
		return EXIT_USAGE;
	}
	input = optind < argc ? argv[optind] : o->key;
	if ((m = load_master(o, o->master_path, o->passfile, ENV_PASSPHRASE)) == NULL ||
	    open_store(o, m, false, &ks) < 0)
		goto out;
	if (optind < argc || o->pwfile != NULL) {
		if (o->pwfile != NULL) {
			if (read_secret_file(o->pwfile, pw, sizeof(pw)) < 0)
				goto out;
		} else if (ask_tty("PKCS#12 password", pw, sizeof(pw)) < 0) {
			goto out;
		}
		have_pw = true;
	}
	if (optind < argc) {
		if (read_pkcs12(argv[optind], pw, &pkey, &cert, &chain) < 0) {
			ret = EXIT_NOTVERIFIED;
			goto out;
		}
	} else if (read_pem(o->key, o->cert, have_pw ? pw : NULL, &pkey, &cert,
			    &chain) < 0) {
		ret = EXIT_NOTVERIFIED;
		goto out;
	}
	if ((klen = i2d_PrivateKey(pkey, &kder)) <= 0 ||
	    (cder = certs_der(cert, chain, &clen)) == NULL) {
		fprintf(stderr, "%s: cannot encode the key or certificates\n",
			progname);
		goto out;
	}
	if (audit(o, "import", NULL, o->addrs[0], input, "attempt") < 0)
		goto out;
	if (sg_keystore_add(ks, kder, (size_t)klen, cder, clen, o->addrs,
			    o->n_addrs, &info, &err) < 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, input, err.msg);
		(void)audit(o, "import", NULL, o->addrs[0], input, err.msg);
		ret = err.code == SG_ERR_INVALID ? EXIT_NOTVERIFIED : EXIT_USAGE;
		goto out;
	}
	(void)audit(o, "import", info.fingerprint, o->addrs[0], input, "stored");
	for (i = 0; i < o->n_addrs; i++)
		printf("stored: %s sha256:%s\n", o->addrs[i], info.fingerprint);
	printf("  subject: ");
	ctl_print_clean(stdout, info.subject);
	printf("\n  issuer:  ");
	ctl_print_clean(stdout, info.issuer);
	printf("\n  serial:  %s\n", info.serial);
	ret = EXIT_SUCCESS;
out:
	OPENSSL_cleanse(pw, sizeof(pw));
	if (kder != NULL)
		OPENSSL_clear_free(kder, (size_t)klen);
	free(cder);
	EVP_PKEY_free(pkey);
	X509_free(cert);
	sk_X509_pop_free(chain, X509_free);
	sg_keystore_free(&ks);
	sg_master_free(&m);
	unload_legacy();
	return ret;
}

struct list_run {
	bool json;
	int problems;
};

static void list_fn(const struct sg_key_info *in, void *context)
{
	struct list_run *run = context;
	char nb[SG_TIME_SIZE], na[SG_TIME_SIZE], st[SG_TIME_SIZE];

	if (in->problem[0] != '\0')
		run->problems++;
	if (sg_format_time(in->not_before, nb, sizeof(nb)) < 0)
		snprintf(nb, sizeof(nb), "unknown");
	if (sg_format_time(in->not_after, na, sizeof(na)) < 0)
		snprintf(na, sizeof(na), "unknown");
	if (sg_format_time(in->stored, st, sizeof(st)) < 0)
		snprintf(st, sizeof(st), "unknown");
	if (run->json) {
		printf("{\"address\":");
		ctl_json_str(stdout, in->address);
		printf(",\"fingerprint\":");
		ctl_json_str(stdout, in->fingerprint);
		printf(",\"subject\":");
		ctl_json_str(stdout, in->subject);
		printf(",\"issuer\":");
		ctl_json_str(stdout, in->issuer);
		printf(",\"serial\":");
		ctl_json_str(stdout, in->serial);
		printf(",\"emails\":");
		ctl_json_str(stdout, in->emails);
		printf(",\"not_before\":\"%s\",\"not_after\":\"%s\","
		       "\"stored\":\"%s\",\"master_id\":", nb, na, st);
		ctl_json_str(stdout, in->master_id);
		printf(",\"file\":");
		ctl_json_str(stdout, in->path);
		printf(",\"problem\":");
		if (in->problem[0] != '\0')
			ctl_json_str(stdout, in->problem);
		else
			printf("null");
		printf("}\n");
		return;
	}
	if (in->problem[0] != '\0') {
		printf("UNUSABLE: ");
		ctl_print_clean(stdout, in->path);
		printf("\n  why:       ");
		ctl_print_clean(stdout, in->problem);
		printf("\n");
		return;
	}
	ctl_print_clean(stdout, in->address);
	printf("  sha256:%s\n  subject:   ", in->fingerprint);
	ctl_print_clean(stdout, in->subject);
	printf("\n  issuer:    ");
	ctl_print_clean(stdout, in->issuer);
	printf("\n  serial:    %s\n  valid:     %s .. %s\n  addresses: ",
	       in->serial, nb, na);
	ctl_print_clean(stdout, in->emails);
	printf("\n  stored:    %s under master key %s\n", st, in->master_id);
}

static int key_list(struct key_opts *o)
{
	struct sg_keystore *ks = NULL;
	struct sg_error err;
	struct list_run run = { o->json, 0 };
	int n;

	if (o->n_addrs > 1) {
		fprintf(stderr, "%s: key list: one --address at most\n", progname);
		return EXIT_USAGE;
	}
	if (open_store(o, NULL, false, &ks) < 0)
		return EXIT_USAGE;
	n = sg_keystore_list(ks, o->n_addrs > 0 ? o->addrs[0] : NULL, list_fn,
			     &run, &err);
	sg_keystore_free(&ks);
	if (n < 0) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		return EXIT_USAGE;
	}
	if (n == 0 && !o->json)
		fprintf(stderr, "%s: no stored key%s%s\n", progname,
			o->n_addrs > 0 ? " for " : "",
			o->n_addrs > 0 ? o->addrs[0] : "");
	return run.problems > 0 ? EXIT_NOTVERIFIED : EXIT_SUCCESS;
}

static int key_remove(struct key_opts *o)
{
	struct sg_keystore *ks = NULL;
	struct sg_error err;
	int n;

	if (o->fpr == NULL || o->n_addrs > 1) {
		fprintf(stderr, "%s: key remove: give --fingerprint FP (and at "
			"most one --address)\n", progname);
		return EXIT_USAGE;
	}
	if (open_store(o, NULL, false, &ks) < 0)
		return EXIT_USAGE;
	if (audit(o, "remove", o->fpr, o->n_addrs > 0 ? o->addrs[0] : NULL,
		  NULL, "attempt") < 0) {
		sg_keystore_free(&ks);
		return EXIT_USAGE;
	}
	n = sg_keystore_remove(ks, o->fpr, o->n_addrs > 0 ? o->addrs[0] : NULL,
			       &err);
	sg_keystore_free(&ks);
	if (n < 0) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		return EXIT_USAGE;
	}
	(void)audit(o, "remove", o->fpr, o->n_addrs > 0 ? o->addrs[0] : NULL,
		    NULL, n > 0 ? "removed" : "no such key");
	if (n == 0) {
		fprintf(stderr, "%s: no key with fingerprint %s\n", progname,
			o->fpr);
		return EXIT_NOTVERIFIED;
	}
	printf("removed %d key file%s\n", n, n == 1 ? "" : "s");
	return EXIT_SUCCESS;
}

static int key_rotate(struct key_opts *o)
{
	struct sg_master *old = NULL, *m = NULL;
	struct sg_keystore *ks = NULL;
	struct sg_error err;
	char newpath[4200], id[SG_MASTER_ID_SIZE];
	size_t n = 0;
	int ret = EXIT_USAGE;

	snprintf(newpath, sizeof(newpath), "%s.new", o->master_path);
	if ((old = load_master(o, o->master_path, o->passfile, ENV_PASSPHRASE)) == NULL ||
	    open_store(o, old, false, &ks) < 0)
		goto out;
	if (access(newpath, F_OK) == 0) {
		/* an interrupted rotation: finish it with its key */
		fprintf(stderr, "%s: %s exists: finishing the rotation an "
			"earlier run began\n", progname, newpath);
		if ((m = load_master(o, newpath, o->newpassfile,
				     ENV_NEW_PASSPHRASE)) == NULL)
			goto out;
	} else {
		if ((m = new_master(o, o->newpassfile, ENV_NEW_PASSPHRASE)) == NULL)
			goto out;
		if (sg_master_write(m, newpath, false, &err) < 0) {
			fprintf(stderr, "%s: %s\n", progname, err.msg);
			goto out;
		}
	}
	sg_master_id(m, id);
	if (audit(o, "rotate-master", NULL, NULL, id, "attempt") < 0)
		goto out;
	if (sg_keystore_rewrap(ks, m, &n, &err) < 0) {
		fprintf(stderr, "%s: %s\n%s: %zu key files rewrapped; the new "
			"master key stays in %s and %s is unchanged: fix or "
			"remove the file named, then run smimectl key "
			"rotate-master again\n", progname, err.msg, progname, n,
			newpath, o->master_path);
		(void)audit(o, "rotate-master", NULL, NULL, id, err.msg);
		goto out;
	}
	if (rename(newpath, o->master_path) < 0) {
		fprintf(stderr, "%s: cannot rename %s to %s: %s\n", progname,
			newpath, o->master_path, strerror(errno));
		goto out;
	}
	(void)audit(o, "rotate-master", NULL, NULL, id, "done");
	printf("%zu key file%s rewrapped under master key %s (%s); the old "
	       "master key opens none of them\n", n, n == 1 ? "" : "s", id,
	       o->master_path);
	ret = EXIT_SUCCESS;
out:
	sg_keystore_free(&ks);
	sg_master_free(&old);
	sg_master_free(&m);
	return ret;
}

static int key_export(struct key_opts *o)
{
	struct sg_master *m = NULL;
	struct sg_keystore *ks = NULL;
	struct sg_key *key = NULL;
	struct sg_error err;
	char *pem = NULL;
	size_t len = 0, off = 0;
	int fd = -1, ret = EXIT_USAGE;

	if (o->fpr == NULL || o->out == NULL || o->n_addrs > 1) {
		fprintf(stderr, "%s: key export: give --fingerprint FP and --out "
			"FILE\n", progname);
		return EXIT_USAGE;
	}
	if ((m = load_master(o, o->master_path, o->passfile, ENV_PASSPHRASE)) == NULL ||
	    open_store(o, m, false, &ks) < 0)
		goto out;
	if (sg_keystore_unwrap(ks, o->fpr, o->n_addrs > 0 ? o->addrs[0] : NULL,
			       &key, &err) < 0) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		(void)audit(o, "export", o->fpr, NULL, NULL, err.msg);
		ret = err.code == SG_ERR_NOTFOUND || err.code == SG_ERR_AUTH ||
		      err.code == SG_ERR_FORMAT ? EXIT_NOTVERIFIED : EXIT_USAGE;
		goto out;
	}
	if (sg_key_export_pem(key, &pem, &len, &err) < 0) {
		fprintf(stderr, "%s: %s\n", progname, err.msg);
		goto out;
	}
	fd = open(o->out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		fprintf(stderr, "%s: cannot create %s: %s (an existing file is "
			"never replaced)\n", progname, o->out, strerror(errno));
		goto out;
	}
	/* recorded before the key leaves */
	if (audit(o, "export", sg_key_info_get(key)->fingerprint,
		  sg_key_info_get(key)->address, o->out, "exported") < 0) {
		close(fd);
		fd = -1;
		(void)unlink(o->out);
		goto out;
	}
	while (off < len) {
		ssize_t w = write(fd, pem + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			fprintf(stderr, "%s: %s: %s\n", progname, o->out,
				strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		fprintf(stderr, "%s: %s: %s\n", progname, o->out, strerror(errno));
		goto out;
	}
	fd = -1;
	printf("exported the private key of %s (sha256:%s) to %s (mode 0600, "
	       "unencrypted: protect or delete it)\n",
	       sg_key_info_get(key)->address, sg_key_info_get(key)->fingerprint,
	       o->out);
	ret = EXIT_SUCCESS;
out:
	if (fd >= 0)
		close(fd);
	sg_key_pem_free(&pem, len);
	sg_key_free(&key);
	sg_keystore_free(&ks);
	sg_master_free(&m);
	return ret;
}

static int key_decrypt(struct key_opts *o, int argc, char **argv)
{
	struct sg_master *m = NULL;
	struct sg_keystore *ks = NULL;
	struct sg_error err;
	unsigned char *msg = NULL, *out = NULL;
	size_t len = 0, out_len = 0, off = 0;
	char fpr[65];
	const char *owner = o->n_addrs > 0 ? o->addrs[0] : NULL;
	int fd = STDOUT_FILENO, ret = EXIT_USAGE;

	if (argc - optind != 1 || o->n_addrs > 1) {
		fprintf(stderr, "%s: key decrypt: give one MESSAGE (and at most "
			"one --address)\n", progname);
		return EXIT_USAGE;
	}
	if ((msg = read_all(argv[optind], &len)) == NULL) {
		fprintf(stderr, "%s: cannot read %s: %s\n", progname,
			argv[optind], strerror(errno));
		return EXIT_USAGE;
	}
	if ((m = load_master(o, o->master_path, o->passfile, ENV_PASSPHRASE)) == NULL ||
	    open_store(o, m, false, &ks) < 0)
		goto out;
	if (sg_keystore_decrypt(ks, owner, msg, len, &out, &out_len, fpr,
				&err) < 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, argv[optind], err.msg);
		(void)audit(o, "decrypt", NULL, owner, argv[optind], err.msg);
		ret = err.code == SG_ERR_IO || err.code == SG_ERR_NOMEM ||
		      err.code == SG_ERR_CONFIG || err.code == SG_ERR_PERM ?
		      EXIT_USAGE : EXIT_NOTVERIFIED;
		goto out;
	}
	if (o->out != NULL &&
	    (fd = open(o->out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		       O_CLOEXEC, 0600)) < 0) {
		fprintf(stderr, "%s: cannot create %s: %s (an existing file is "
			"never replaced)\n", progname, o->out, strerror(errno));
		goto out;
	}
	/* recorded before the plaintext leaves */
	if (audit(o, "decrypt", fpr, owner, argv[optind], "decrypted") < 0) {
		if (o->out != NULL)
			(void)unlink(o->out);
		goto out;
	}
	while (off < out_len) {
		ssize_t w = write(fd, out + off, out_len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			fprintf(stderr, "%s: write error: %s\n", progname,
				strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	if (o->out != NULL)
		fprintf(stderr, "%s: decrypted with the key sha256:%s into %s\n",
			progname, fpr, o->out);
	ret = EXIT_SUCCESS;
out:
	if (fd != STDOUT_FILENO && fd >= 0)
		close(fd);
	if (out != NULL) {
		OPENSSL_cleanse(out, out_len);
		sg_free(out);
	}
	free(msg);
	sg_keystore_free(&ks);
	sg_master_free(&m);
	return ret;
}

/* settings - keystore_dir and keystore_master_key: options over the
   configuration file */
static int settings(struct key_opts *o)
{
	struct sg_config *conf = NULL;
	const char *v;

	if (ctl_store_config(&o->st, &conf) < 0)
		return -1;
	v = o->keystore != NULL ? o->keystore : sg_config_get(conf, "keystore_dir");
	snprintf(o->dir, sizeof(o->dir), "%s", v != NULL ? v : "");
	v = o->master != NULL ? o->master :
	    sg_config_get(conf, "keystore_master_key");
	snprintf(o->master_path, sizeof(o->master_path), "%s", v != NULL ? v : "");
	sg_config_free(&conf);
	if (o->dir[0] == '\0' || o->master_path[0] == '\0') {
		fprintf(stderr, "%s: keystore_dir and keystore_master_key must "
			"not be empty\n", progname);
		return -1;
	}
	return 0;
}

int cmd_key(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "keystore", required_argument, NULL, O_KEYSTORE },
		{ "master-key", required_argument, NULL, O_MASTER },
		{ "passphrase-file", required_argument, NULL, O_PASSFILE },
		{ "new-passphrase-file", required_argument, NULL, O_NEWPASSFILE },
		{ "passphrase", no_argument, NULL, O_PASSPHRASE },
		{ "kdf-cost", required_argument, NULL, O_COST },
		{ "address", required_argument, NULL, O_ADDRESS },
		{ "key", required_argument, NULL, O_KEY },
		{ "cert", required_argument, NULL, O_CERT },
		{ "password-file", required_argument, NULL, O_PWFILE },
		{ "json", no_argument, NULL, O_JSON },
		{ "fingerprint", required_argument, NULL, O_FPR },
		{ "out", required_argument, NULL, O_OUT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct key_opts o;
	const char *sub;
	int c, ret;

	if (argc < 2 || strcmp(argv[1], "help") == 0 ||
	    strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage_key(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_SUCCESS;
	}
	sub = argv[1];
	if (strcmp(sub, "init") != 0 && strcmp(sub, "import") != 0 &&
	    strcmp(sub, "list") != 0 && strcmp(sub, "remove") != 0 &&
	    strcmp(sub, "rotate-master") != 0 && strcmp(sub, "export") != 0 &&
	    strcmp(sub, "decrypt") != 0) {
		fprintf(stderr, "%s: key: unknown subcommand '%s'\n", progname,
			sub);
		usage_key(stderr);
		return EXIT_USAGE;
	}
	memset(&o, 0, sizeof(o));
	o.cost = SG_KDF_MODERATE;
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.st.config = optarg;
			break;
		case O_KEYSTORE:
			o.keystore = optarg;
			break;
		case O_MASTER:
			o.master = optarg;
			break;
		case O_PASSFILE:
			o.passfile = optarg;
			break;
		case O_NEWPASSFILE:
			o.newpassfile = optarg;
			break;
		case O_PASSPHRASE:
			o.passphrase = true;
			break;
		case O_COST:
			if (strcmp(optarg, "moderate") == 0)
				o.cost = SG_KDF_MODERATE;
			else if (strcmp(optarg, "interactive") == 0)
				o.cost = SG_KDF_INTERACTIVE;
			else if (strcmp(optarg, "minimum") == 0)
				o.cost = SG_KDF_MINIMUM;
			else {
				fprintf(stderr, "%s: --kdf-cost: moderate, "
					"interactive or minimum\n", progname);
				return EXIT_USAGE;
			}
			break;
		case O_ADDRESS:
			if (o.n_addrs == MAX_ADDRS) {
				fprintf(stderr, "%s: more than %d --address\n",
					progname, MAX_ADDRS);
				return EXIT_USAGE;
			}
			o.addrs[o.n_addrs++] = optarg;
			break;
		case O_KEY:
			o.key = optarg;
			break;
		case O_CERT:
			o.cert = optarg;
			break;
		case O_PWFILE:
			o.pwfile = optarg;
			break;
		case O_JSON:
			o.json = true;
			break;
		case O_FPR:
			o.fpr = optarg;
			break;
		case O_OUT:
			o.out = optarg;
			break;
		case 'h':
			usage_key(stdout);
			return EXIT_SUCCESS;
		default:
			fprintf(stderr, "Try 'smimectl help key'.\n");
			return EXIT_USAGE;
		}
	}
	if (settings(&o) < 0)
		return EXIT_USAGE;
	if (strcmp(sub, "import") != 0 && strcmp(sub, "decrypt") != 0 &&
	    optind < argc) {
		fprintf(stderr, "%s: key %s: unexpected argument '%s'\n",
			progname, sub, argv[optind]);
		ret = EXIT_USAGE;
	} else if (strcmp(sub, "init") == 0) {
		ret = key_init(&o);
	} else if (strcmp(sub, "import") == 0) {
		ret = key_import(&o, argc, argv);
	} else if (strcmp(sub, "list") == 0) {
		ret = key_list(&o);
	} else if (strcmp(sub, "remove") == 0) {
		ret = key_remove(&o);
	} else if (strcmp(sub, "rotate-master") == 0) {
		ret = key_rotate(&o);
	} else if (strcmp(sub, "export") == 0) {
		ret = key_export(&o);
	} else {
		ret = key_decrypt(&o, argc, argv);
	}
	ctl_store_free(&o.st);
	return ret;
}
