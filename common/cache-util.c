/* cache-util.c - what the caches and map indexes share: a monotonic
 * clock for ages, a keyed hash of addresses
 */
#include "sg-base.h"

#include <string.h>
#include <time.h>

#include <sodium.h>

/* sg_monotonic_ns - CLOCK_MONOTONIC in nanoseconds (cache ages) */
long long sg_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* sg_addr_hash - keyed SipHash of an address (map indexes and caches:
   crafted addresses cannot force collisions) */
uint64_t sg_addr_hash(const unsigned char *key,
		      const char *addr)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, (const unsigned char *)addr, strlen(addr), key);
	memcpy(&v, h, sizeof(v));
	return v;
}
