/*
 * fuzz-keyd.c - libFuzzer harness: the two parsers of the smime-keyd
 * protocol (DESIGN.md, Keystore, "smime-keyd protocol")
 *
 * The first byte of the input chooses the parser, the rest is its input:
 *   even: a request header as any local process allowed to connect may
 *         write it to smime-keyd's socket (keyd/keyd-proto.c, the very
 *         function the daemon runs), cut at the first NUL as the daemon
 *         cuts it at the empty line;
 *   odd:  a reply as the Dovecot plugin's client reads it
 *         (sg_keyd_parse_reply in common/keyd-client.c), against a local
 *         verdict of an encrypted message.
 *
 * Invariants.  Request: an accepted header has a non-empty owner without
 * control bytes or spaces that fits its buffer, and a size within the
 * limit; a refused one says why.  Reply: 1 with a verdict, 0 or -1
 * without one and with a reason; "why" is one line of printable text (it
 * reaches the log); a verdict is encrypted+signed/verified or
 * encrypted+signed/failed (verified only with a signer keyd verified),
 * passes every invariant of a verdict
 * (fuzz-common.h), and survives the way back: sg_keyd_reply() of it is
 * control-free lines ending in an empty line, and parsing that again
 * gives the same verdict.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "keyd-proto.h"
#include "keyd-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REQUEST 1048576ULL

static struct sg_result *local;

static void setup(void)
{
	/* an encrypted message this process cannot open: the local
	   verdict the plugin holds when it asks smime-keyd */
	static const char msg[] =
		"From: alice@example.org\r\n"
		"To: bob@example.org\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: application/pkcs7-mime; smime-type=enveloped-data;"
		" name=smime.p7m\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"MIIBAAYJKoZIhvcNAQcDoA==\r\n";
	struct sg_error err;

	if (local != NULL)
		return;
	fuzz_setup();
	if (sg_verify_message(fuzz_ctx, (const unsigned char *)msg, sizeof(msg) - 1,
		      fuzz_at, &local, &err) < 0)
		fuzz_fail("the local verdict: %s", err.msg);
}

static void check_printable(const char *what, const char *s, size_t size)
{
	size_t len = strnlen(s, size), i;

	if (len == size)
		fuzz_fail("%s is not NUL-terminated", what);
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			fuzz_fail("%s holds control byte 0x%02x", what,
				  (unsigned char)s[i]);
	}
}

static void fuzz_request(const uint8_t *data, size_t size)
{
	char *head = malloc(size + 1), owner[320];
	const char *why = NULL;
	size_t got = (size_t)-1, i;

	if (head == NULL)
		return;
	memcpy(head, data, size);
	head[size] = '\0';
	memset(owner, 0x55, sizeof(owner));
	if (keyd_parse_head(head, MAX_REQUEST, owner, sizeof(owner), &got,
			    &why) == 0) {
		check_printable("the owner", owner, sizeof(owner));
		if (owner[0] == '\0' || strchr(owner, ' ') != NULL)
			fuzz_fail("accepted owner '%s'", owner);
		if (got > MAX_REQUEST)
			fuzz_fail("accepted size %zu over the limit", got);
	} else {
		if (why == NULL || why[0] == '\0')
			fuzz_fail("a refused request header without a reason");
		for (i = 0; why[i] != '\0'; i++) {
			if ((unsigned char)why[i] < 0x20)
				fuzz_fail("why holds a control byte");
		}
	}
	free(head);
}

static void fuzz_reply(const uint8_t *data, size_t size)
{
	struct sg_result *got = NULL, *again = NULL;
	struct sg_error err;
	char why[512], why2[512], *text = NULL;
	size_t len, i;
	int r;

	r = sg_keyd_parse_reply((const char *)data, size, local, &got, why,
				sizeof(why));
	if (r < -1 || r > 1)
		fuzz_fail("sg_keyd_parse_reply returned %d", r);
	if ((r == 1) != (got != NULL))
		fuzz_fail("return value %d with%s a verdict", r,
			  got != NULL ? "" : "out");
	check_printable("why", why, sizeof(why));
	if (got == NULL) {
		if (why[0] == '\0')
			fuzz_fail("no verdict and no reason why");
		return;
	}
	switch (sg_result_status(got)) {
	case SG_STATUS_ENCRYPTED_SIGNED_VERIFIED:
	case SG_STATUS_ENCRYPTED_SIGNED_FAILED:
		break;
	default:
		fuzz_fail("smime-keyd's reply made status %s",
			  sg_status_name(sg_result_status(got)));
	}
	fuzz_check_result(got, true);
	if (sg_result_status(got) == SG_STATUS_ENCRYPTED_SIGNED_VERIFIED) {
		for (i = 0; i < sg_result_signer_count(got); i++) {
			if (sg_result_signer(got, i)->result ==
			    SG_SIGNER_VERIFIED)
				break;
		}
		if (i == sg_result_signer_count(got))
			fuzz_fail("verified without a verified signer");
	}

	/* the way back: what keyd would send for this verdict parses to it */
	if (sg_keyd_reply(got, NULL, &text, &len, &err) < 0)
		fuzz_fail("sg_keyd_reply: %s", err.msg);
	if (len < 2 || strlen(text) != len || text[len - 1] != '\n' ||
	    text[len - 2] != '\n')
		fuzz_fail("sg_keyd_reply: not lines ending in an empty line");
	for (i = 0; i < len; i++) {
		if (((unsigned char)text[i] < 0x20 && text[i] != '\n') ||
		    text[i] == 0x7f)
			fuzz_fail("sg_keyd_reply: control byte 0x%02x",
				  (unsigned char)text[i]);
	}
	if (sg_keyd_parse_reply(text, len, local, &again, why2,
				sizeof(why2)) != 1 || again == NULL)
		fuzz_fail("our own reply does not parse: %s\n%s", why2, text);
	fuzz_check_same(got, again);
	sg_free(text);
	sg_result_free(&again);
	sg_result_free(&got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	if (size == 0)
		return 0;
	if ((data[0] & 1) == 0)
		fuzz_request(data + 1, size - 1);
	else
		fuzz_reply(data + 1, size - 1);
	return 0;
}
