/* suite-keyd.c - decrypt-to-verify in the core (keystore-verify.c) and
 * the keyd reply format both sides share (keyd-client.c)
 *
 * Sign-then-encrypt mail made by openssl cms (gen-keyd.sh) against a
 * keystore holding two keys of bob: verified with either key (old mail
 * opens with the old one), a tampered inner signature, unsigned content,
 * mail to a key bob does not have, a decrypted entity whose own From is
 * not the message's.  The reply format: a round trip keeps what the
 * plugin shows; garbage and truncated replies are errors, never a
 * verdict; a reply claiming "verified" for a failed signer is not
 * believed beyond its status.  A stream with an owner and no keyd, or a
 * keyd that is not there, stays "encrypted" and says why.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "sg-base.h"
#include "keyd-private.h"
#include "smimeguard-admin.h"

#include "check-suites.h"
#include "test-util.h"

static char dir[4096], store[4200];
static struct sg_master *master;
static struct sg_keystore *ks;
static struct sg_ctx *ctx;
static char fpr_pki[65], fpr_new[65];

/* der_of - a PEM key or certificate of the test data as DER */
static unsigned char *der_of(const char *rel, bool key, size_t *len_r)
{
	size_t len;
	unsigned char *pem = tu_load(rel, &len), *der = NULL;
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	int n;

	if (key) {
		EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);

		ck_assert_ptr_nonnull(pkey);
		n = i2d_PrivateKey(pkey, &der);
		EVP_PKEY_free(pkey);
	} else {
		X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);

		ck_assert_ptr_nonnull(x);
		n = i2d_X509(x, &der);
		X509_free(x);
	}
	ck_assert_int_gt(n, 0);
	*len_r = (size_t)n;
	BIO_free(bio);
	free(pem);
	return der;
}

static void add(const char *rel_key, const char *rel_cert, char fpr[65])
{
	struct sg_key_info info;
	struct sg_error err;
	size_t kl, cl;
	unsigned char *k = der_of(rel_key, true, &kl);
	unsigned char *c = der_of(rel_cert, false, &cl);
	const char *addrs[1] = { "bob@example.org" };

	ck_assert_msg(sg_keystore_add(ks, k, kl, c, cl, addrs, 1, &info,
				      &err) == 0, "%s", err.msg);
	memcpy(fpr, info.fingerprint, 65);
	OPENSSL_free(k);
	OPENSSL_free(c);
}

static void setup(void)
{
	struct sg_error err;

	snprintf(dir, sizeof(dir), "%s/sg-keyd-XXXXXX",
		 getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(store, sizeof(store), "%s/keys", dir);
	ck_assert_int_eq(sg_master_generate(&master, &err), 0);
	ck_assert_msg(sg_keystore_open(store, master, true, &ks, &err) == 0,
		      "%s", err.msg);
	add("pki/bob@example.org.key", "pki/bob@example.org.pem", fpr_pki);
	add("certmap-keys/bob@example.org.key", "certmap/bob-new.pem", fpr_new);
	ctx = tu_ctx(TU_PKI, tu_testdata());
}

static void teardown(void)
{
	sg_ctx_free(&ctx);
	sg_keystore_free(&ks);
	sg_master_free(&master);
	tu_rm_dir(store);
	tu_rm_dir(dir);
}

/* run - sg_keystore_verify of keyd/NAME for owner */
static struct sg_result *run(const char *name, const char *owner,
			     char fpr[65])
{
	char rel[256];
	size_t len;
	unsigned char *msg;
	struct sg_result *res = NULL;
	struct sg_error err;

	snprintf(rel, sizeof(rel), "keyd/%s", name);
	msg = tu_load(rel, &len);
	ck_assert_msg(sg_keystore_verify(ctx, ks, owner, msg, len, 0, &res,
					 fpr, &err) == 0, "%s: %s", name,
		      err.msg);
	free(msg);
	return res;
}

START_TEST(test_verified)
{
	static const struct {
		const char *file;
		bool old;
	} cases[] = { { "verified.eml", false }, { "verified-old.eml", true } };
	char fpr[65];
	size_t i;

	for (i = 0; i < SG_ARRAY_SIZE(cases); i++) {
		struct sg_result *res = run(cases[i].file, "Bob@Example.org", fpr);
		const struct sg_encryption *enc = sg_result_encryption(res);
		const struct sg_signer *s = sg_result_bound_signer(res);

		ck_assert_msg(sg_result_status(res) ==
			      SG_STATUS_ENCRYPTED_SIGNED_VERIFIED, "%zu: %s: %s",
			      i, sg_status_name(sg_result_status(res)),
			      sg_result_detail(res));
		ck_assert_uint_eq(sg_result_keywords(res),
				  SG_KW_ENCRYPTED | SG_KW_SIGNED | SG_KW_VERIFIED);
		ck_assert_uint_eq(sg_result_reasons(res), 0);
		ck_assert_str_eq(fpr, cases[i].old ? fpr_new : fpr_pki);
		ck_assert_ptr_nonnull(s);
		ck_assert_str_eq(s->email, "alice@example.org");
		ck_assert_str_eq(sg_result_from(res), "alice@example.org");
		ck_assert_ptr_nonnull(enc);
		ck_assert_str_eq(enc->algorithm, "aes-256-gcm");
		ck_assert_uint_eq(enc->n_recipients, 1);
		ck_assert_ptr_nonnull(strstr(sg_result_detail(res),
					     "decrypted it in memory"));
		/* the plaintext is not in the verdict */
		ck_assert_ptr_null(strstr(sg_result_detail(res),
					  "SECRET-PLAINTEXT-MARKER"));
		sg_result_free(&res);
	}
}
END_TEST

START_TEST(test_failed)
{
	char fpr[65];
	struct sg_result *res = run("tampered.eml", "bob@example.org", fpr);

	ck_assert_int_eq(sg_result_status(res), SG_STATUS_ENCRYPTED_SIGNED_FAILED);
	ck_assert_uint_eq(sg_result_keywords(res),
			  SG_KW_ENCRYPTED | SG_KW_SIGNED | SG_KW_FAILED);
	ck_assert(sg_result_reasons(res) & SG_REASON_BIT(SG_REASON_BAD_SIGNATURE));
	ck_assert_ptr_nonnull(sg_result_encryption(res));
	sg_result_free(&res);
}
END_TEST

START_TEST(test_inner_from)
{
	char fpr[65];
	struct sg_result *res = run("innerfrom.eml", "bob@example.org", fpr);

	/* alice signed content that says it is from mallory: closed */
	ck_assert_int_eq(sg_result_status(res), SG_STATUS_ENCRYPTED_SIGNED_FAILED);
	ck_assert(sg_result_reasons(res) &
		  SG_REASON_BIT(SG_REASON_SENDER_MISMATCH));
	/* said, but the inner address not quoted: it is decrypted content */
	ck_assert_ptr_nonnull(strstr(sg_result_detail(res),
				     "inside the decrypted content is not the bound sender"));
	ck_assert_ptr_null(strstr(sg_result_detail(res), "mallory"));
	ck_assert_ptr_null(sg_result_bound_signer(res));
	sg_result_free(&res);
}
END_TEST

START_TEST(test_stays_encrypted)
{
	static const struct {
		const char *file, *owner, *says;
	} cases[] = {
		{ "unsigned.eml", "bob@example.org", "not signed" },
		{ "carol.eml", "bob@example.org", "No stored key" },
		/* bob's mail asked for as alice's: only the owner's keys */
		{ "verified.eml", "alice@example.org", "No stored key" },
	};
	char fpr[65];
	size_t i;

	for (i = 0; i < SG_ARRAY_SIZE(cases); i++) {
		struct sg_result *res = run(cases[i].file, cases[i].owner, fpr);

		ck_assert_msg(sg_result_status(res) == SG_STATUS_ENCRYPTED,
			      "%zu: %s", i, sg_status_name(sg_result_status(res)));
		ck_assert_uint_eq(sg_result_keywords(res), SG_KW_ENCRYPTED);
		ck_assert_msg(strstr(sg_result_detail(res), cases[i].says) != NULL,
			      "%zu: %s", i, sg_result_detail(res));
		ck_assert_uint_eq(sg_result_signer_count(res), 0);
		sg_result_free(&res);
	}
}
END_TEST

START_TEST(test_not_encrypted)
{
	/* a plainly signed message is not decrypted: its own verdict */
	char fpr[65];
	size_t len;
	unsigned char *msg = tu_load("keyd/body.txt", &len);
	struct sg_result *res = NULL;
	struct sg_error err;

	ck_assert_int_eq(sg_keystore_verify(ctx, ks, "bob@example.org", msg,
					    len, 0, &res, fpr, &err), 0);
	ck_assert_int_eq(sg_result_status(res), SG_STATUS_NONE);
	ck_assert_str_eq(fpr, "");
	sg_result_free(&res);
	free(msg);
}
END_TEST

/* reply_of - what keyd would answer for keyd/NAME, parsed by the client
   against the local verdict of the same message */
static int reply_round_trip(const char *name, struct sg_result **got,
			    char *why, size_t why_size)
{
	char fpr[65], rel[128], *text = NULL;
	size_t tlen, len;
	struct sg_result *res = run(name, "bob@example.org", fpr), *local;
	struct sg_error err;
	unsigned char *msg;
	int r;

	snprintf(rel, sizeof(rel), "keyd/%s", name);
	msg = tu_load(rel, &len);
	local = tu_verify(ctx, msg, len, 0);
	free(msg);
	ck_assert_int_eq(sg_keyd_reply(res, NULL, &text, &tlen, &err), 0);
	ck_assert_uint_eq(strlen(text), tlen);
	ck_assert_ptr_null(strstr(text, "SECRET-PLAINTEXT-MARKER"));
	r = sg_keyd_parse_reply(text, tlen, local, got, why, why_size);
	sg_free(text);
	sg_result_free(&res);
	sg_result_free(&local);
	return r;
}

START_TEST(test_reply_round_trip)
{
	struct sg_result *got = NULL;
	const unsigned char *der;
	size_t dlen;
	char why[256];

	ck_assert_int_eq(reply_round_trip("verified.eml", &got, why,
					  sizeof(why)), 1);
	ck_assert_int_eq(sg_result_status(got), SG_STATUS_ENCRYPTED_SIGNED_VERIFIED);
	ck_assert_uint_eq(sg_result_keywords(got),
			  SG_KW_ENCRYPTED | SG_KW_SIGNED | SG_KW_VERIFIED);
	ck_assert_ptr_nonnull(sg_result_bound_signer(got));
	ck_assert_str_eq(sg_result_bound_signer(got)->email, "alice@example.org");
	ck_assert_str_eq(sg_result_bound_signer(got)->digest, "sha256");
	ck_assert_int_eq(sg_result_signer_der(got, 0, &der, &dlen), 0);
	ck_assert_uint_gt(dlen, 100);
	ck_assert_str_eq(sg_result_encryption(got)->algorithm, "aes-256-gcm");
	ck_assert_str_eq(sg_result_from(got), "alice@example.org");
	sg_result_free(&got);

	ck_assert_int_eq(reply_round_trip("tampered.eml", &got, why,
					  sizeof(why)), 1);
	ck_assert_int_eq(sg_result_status(got), SG_STATUS_ENCRYPTED_SIGNED_FAILED);
	ck_assert(sg_result_reasons(got) & SG_REASON_BIT(SG_REASON_BAD_SIGNATURE));
	sg_result_free(&got);

	ck_assert_int_eq(reply_round_trip("unsigned.eml", &got, why,
					  sizeof(why)), 0);
	ck_assert_ptr_null(got);
	ck_assert_ptr_nonnull(strstr(why, "not signed"));
}
END_TEST

START_TEST(test_reply_garbage)
{
	static const char *const bad[] = {
		"",
		"status=encrypted+signed/verified\n",	/* no empty line */
		"status=encrypted+signed/verified\nsigners=1\n", /* same */
		"garbage\n\n",
		"=x\n\n",
		"status=signed/verified\nsigners=1\n\n",	/* not keyd's */
		"status=encrypted+signed/verified\n\n",	/* no signers */
		"status=encrypted+signed/verified\nsigners=0\n\n",
		"status=encrypted+signed/verified\nsigners=99999999999\n\n",
		"status=encrypted+signed/verified\nsigners=-1\n\n",
		"status=encrypted+signed/verified\nsigners=1\ndetail=a\x01z\n\n",
		"status=bogus\nsigners=1\n\n",
		/* verified, but no signer keyd verified: fail closed */
		"status=encrypted+signed/verified\nsigners=1\n"
		"signer.0.result=failed\n\n",
		"status=encrypted+signed/verified\nsigners=2\n\n",
	};
	struct sg_result *local, *got;
	size_t len, i;
	unsigned char *msg = tu_load("keyd/verified.eml", &len);
	char why[256];

	local = tu_verify(ctx, msg, len, 0);
	free(msg);
	for (i = 0; i < SG_ARRAY_SIZE(bad); i++) {
		got = NULL;
		ck_assert_msg(sg_keyd_parse_reply(bad[i], strlen(bad[i]), local,
						  &got, why, sizeof(why)) < 0,
			      "%zu accepted", i);
		ck_assert_ptr_null(got);
		ck_assert_msg(why[0] != '\0', "%zu: no reason", i);
	}
	/* error and encrypted: no verdict, the reason kept */
	ck_assert_int_eq(sg_keyd_parse_reply("status=error\ndetail=busy\n\n", 26,
					     local, &got, why, sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, "busy"));
	/* a failed status with a signer claiming verified: not verified */
	{
		const char *r = "status=encrypted+signed/failed\nreasons=untrusted\n"
				"signers=1\nsigner.0.result=verified\n"
				"signer.0.email=alice@example.org\n\n";

		ck_assert_int_eq(sg_keyd_parse_reply(r, strlen(r), local, &got,
						     why, sizeof(why)), 1);
		ck_assert_int_eq(sg_result_status(got),
				 SG_STATUS_ENCRYPTED_SIGNED_FAILED);
		ck_assert_int_ne(sg_result_signer(got, 0)->result,
				 SG_SIGNER_VERIFIED);
		ck_assert_uint_eq(sg_result_reasons(got),
				  SG_REASON_BIT(SG_REASON_UNTRUSTED));
		sg_result_free(&got);
	}
	/* a verdict without detail= still says why (found by fuzz-keyd) */
	{
		const char *r = "status=encrypted+signed/verified\nsigners=1\n"
				"signer.0.result=verified\n\n";

		ck_assert_int_eq(sg_keyd_parse_reply(r, strlen(r), local, &got,
						     why, sizeof(why)), 1);
		ck_assert_str_eq(sg_result_detail(got), "smime-keyd: "
				 "encrypted+signed/verified (it gave no detail)");
		sg_result_free(&got);
	}
	sg_result_free(&local);
}
END_TEST

/* stream_owner - the stream with an owner over keyd/NAME */
static struct sg_result *stream_owner(struct sg_ctx *c, const char *name)
{
	struct sg_verify_stream *vs = NULL;
	struct sg_result *res = NULL;
	struct sg_error err;
	char rel[128];
	size_t len;
	unsigned char *msg;

	snprintf(rel, sizeof(rel), "keyd/%s", name);
	msg = tu_load(rel, &len);
	ck_assert_int_eq(sg_verify_init(c, 0, &vs, &err), 0);
	ck_assert_int_eq(sg_verify_set_owner(vs, "bob@example.org", &err), 0);
	ck_assert_int_eq(sg_verify_update(vs, msg, len, &err), 0);
	ck_assert_msg(sg_verify_final(vs, &res, &err) == 0, "%s", err.msg);
	sg_verify_free(&vs);
	free(msg);
	return res;
}

START_TEST(test_stream_without_keyd)
{
	struct sg_verify_stream *vs = NULL;
	struct sg_result *res;
	struct sg_ctx *c2;
	struct sg_error err;
	char settings[4400];

	/* not configured */
	res = stream_owner(ctx, "verified.eml");
	ck_assert_int_eq(sg_result_status(res), SG_STATUS_ENCRYPTED);
	ck_assert_ptr_nonnull(strstr(sg_result_detail(res), "keyd_socket is not set"));
	sg_result_free(&res);
	/* configured, nobody listening: at once, never an error */
	snprintf(settings, sizeof(settings), TU_PKI " keyd_socket=%s/none.sock "
		 "keyd_timeout=500", dir);
	c2 = tu_ctx(settings, tu_testdata());
	res = stream_owner(c2, "verified.eml");
	ck_assert_int_eq(sg_result_status(res), SG_STATUS_ENCRYPTED);
	ck_assert_ptr_nonnull(strstr(sg_result_detail(res), "not reachable"));
	sg_result_free(&res);
	/* a message that is not encrypted is not sent */
	res = stream_owner(c2, "body.txt");
	ck_assert_int_eq(sg_result_status(res), SG_STATUS_NONE);
	ck_assert_ptr_null(strstr(sg_result_detail(res), "keyd"));
	sg_result_free(&res);
	sg_ctx_free(&c2);
	/* owners that are not addresses are refused */
	ck_assert_int_eq(sg_verify_init(ctx, 0, &vs, &err), 0);
	ck_assert_int_eq(sg_verify_set_owner(vs, "", &err), -1);
	ck_assert_int_eq(sg_verify_set_owner(vs, "a b@x", &err), -1);
	ck_assert_int_eq(sg_verify_set_owner(vs, "a@x\nsize=1", &err), -1);
	ck_assert_int_eq(err.code, SG_ERR_INVALID);
	sg_verify_free(&vs);
}
END_TEST

Suite *make_keyd_suite(void)
{
	Suite *s = suite_create("keyd");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_verified);
	tcase_add_test(tc, test_failed);
	tcase_add_test(tc, test_inner_from);
	tcase_add_test(tc, test_stays_encrypted);
	tcase_add_test(tc, test_not_encrypted);
	tcase_add_test(tc, test_reply_round_trip);
	tcase_add_test(tc, test_reply_garbage);
	tcase_add_test(tc, test_stream_without_keyd);
	suite_add_tcase(s, tc);
	return s;
}
