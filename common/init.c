/* init.c - the library's one-time setup, version and deallocator
 *
 * Apart from names.c and time.c (which need no library but libc, so
 * that the Dovecot plugins can link them without OpenSSL), the first
 * thing a program calls: sg_init() sets up OpenSSL and libsodium.
 */
#include "sg-base.h"

#include <stdlib.h>

#include <openssl/crypto.h>
#include <sodium.h>

static int sg_initialised;

/* sg_init - OpenSSL and libsodium one-time setup */
int sg_init(void)
{
	if (sg_initialised)
		return 1;
	if (OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CRYPTO_STRINGS |
				OPENSSL_INIT_ADD_ALL_CIPHERS |
				OPENSSL_INIT_ADD_ALL_DIGESTS, NULL) != 1)
		return -1;
	if (sodium_init() < 0)
		return -1;
	sg_initialised = 1;
	return 0;
}

const char *sg_version(void)
{
	return PACKAGE_VERSION;
}

void sg_free(void *ptr)
{
	free(ptr);
}
