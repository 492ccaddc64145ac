/*
 * sg-base.h - internal interfaces of names.c, time.c, cache-util.c,
 * words.c, error.c, buf.c, base64.c and dir-files.c
 *
 * What every file of the core needs: sg_assert and sg_misuse (names.c),
 * SG_ARRAY_SIZE, sg_cmp_sha256, the core's mutexes, times and address
 * hashes (time.c, cache-util.c), logical lines, list items and booleans
 * (words.c), errors and sanitised text (error.c), the growable buffer
 * (buf.c), base64 (base64.c) and the reason helpers of names.c.  Nothing
 * here is exported; only files of common/ (and the unit tests and fuzzers)
 * include it.
 */
#ifndef SG_BASE_H
#define SG_BASE_H

#include "config.h"
#include "smimeguard-admin.h"

#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define SG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* qsort/bsearch order of 32-byte SHA-256 values */
static inline int sg_cmp_sha256(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* Caller bugs abort (STYLE.md: misuse is not an error return). */
#define sg_assert(expr) \
	((expr) ? (void)0 : sg_misuse(#expr, __FILE__, __LINE__))
void sg_misuse(const char *expr, const char *file, int line)
	__attribute__((noreturn));

/* ---- time.c ---- */
long long sg_monotonic_ns(void);
/* keyed SipHash of an address (key: crypto_shorthash_KEYBYTES bytes) */
uint64_t sg_addr_hash(const unsigned char *key, const char *addr);

/* ---- dir-files.c ---- */
/* sg_dir_files - fn(context, PATH/NAME) for each regular file (links
   followed) of the open directory dir (path) whose name does not start
   with "."; stops at fn's first non-zero return and returns it, else 0.
   The one rule of which files of a certificate or CRL directory count. */
int sg_dir_files(DIR *dir, const char *path,
		 int (*fn)(void *context, const char *file), void *context);

/* ---- words.c: logical lines, list items and booleans, for every
   reader ---- */
/* the logical lines of text, Postfix main.cf syntax: a line that starts
   with white space continues the one before; blank lines and lines whose
   first non-blank character is '#' are skipped; CR and trailing blanks
   go.  Joined in place (text is changed) with one space, and handed to
   fn with the number of the line where each starts.  -1 with err_r
   ("WHERE, line N: continuation line without a setting") or fn's -1. */
int sg_conf_lines(char *text, const char *where,
		  int (*fn)(void *context, char *line, unsigned int lineno,
			    struct sg_error *err_r),
		  void *context, struct sg_error *err_r);

/* the next item of a list value ("a, b c": commas and white space
   separate, not inside braces: "inline:{ a, b }" is one item): *item_r
   and *len_r; false at the end */
bool sg_list_next(const char **cursor, const char **item_r, size_t *len_r);
/* the same into item (size bytes): *long_r when it was cut */
bool sg_list_copy_next(const char **cursor, char *item, size_t size,
		       bool *long_r);
/* s without the white space around it: the end cut in place */
char *sg_trim(char *s);
/* yes or no, any case (the one set of boolean words): 0 and *b_r, or -1 */
int sg_conf_bool(const char *word, bool *b_r);

/* ---- error.c ---- */
void sg_error_clear(struct sg_error *err);
void sg_error_set(struct sg_error *err, enum sg_error_code code,
		  const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* like sg_error_set, then appends and drains OpenSSL's error queue */
void sg_error_set_openssl(struct sg_error *err, enum sg_error_code code,
			  const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* drain OpenSSL's error queue into buf (may be NULL to just drain) */
void sg_openssl_errors(char *buf, size_t size);

/* ---- buf.c: growable byte buffer ---- */
/* the structure that holds member at ptr (no reliance on layout) */
#define SG_CONTAINER_OF(ptr, type, member) \
	((type *)(void *)((const char *)(ptr) - offsetof(type, member)))

struct sg_buf {
	unsigned char *data;
	size_t used;
	size_t size;
};
int sg_buf_reserve(struct sg_buf *buf, size_t extra);
int sg_buf_append(struct sg_buf *buf, const void *data, size_t len);
int sg_buf_append_str(struct sg_buf *buf, const char *str);
int sg_buf_printf(struct sg_buf *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* NUL-terminate without counting the NUL in used */
int sg_buf_terminate(struct sg_buf *buf);
void sg_buf_free(struct sg_buf *buf);

/* copy at most size-1 bytes and NUL-terminate; returns dst */
char *sg_strlcpy(char *dst, const char *src, size_t size);

/* ---- error.c ---- */
/* replace control characters, C1 controls and bidi overrides by '?' in
   place: every string shown to people that came from a message, a
   certificate or a directory goes through this */
void sg_text_sanitize(char *s);

/* ---- base64.c ---- */
/* decode, skipping whitespace; -1 on an invalid character.
   out must have room for (len / 4 + 1) * 3 bytes. */
int sg_b64_decode(const unsigned char *in, size_t len,
		  unsigned char *out, size_t *out_len_r);

/* a mutex of the core (aborts if it is broken: a caller bug) */
static inline void sg_mutex_lock(pthread_mutex_t *m)
{
	int r = pthread_mutex_lock(m);

	sg_assert(r == 0);
	(void)r;
}

static inline void sg_mutex_unlock(pthread_mutex_t *m)
{
	int r = pthread_mutex_unlock(m);

	sg_assert(r == 0);
	(void)r;
}
/* a recursive mutex; -1 when it cannot be made */
static inline int sg_mutex_init_recursive(pthread_mutex_t *m)
{
	pthread_mutexattr_t attr;
	int ok;

	if (pthread_mutexattr_init(&attr) != 0)
		return -1;
	ok = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE) == 0 &&
	     pthread_mutex_init(m, &attr) == 0;
	pthread_mutexattr_destroy(&attr);
	return ok ? 0 : -1;
}
/* name helpers (names.c) */
bool sg_reason_is_definitive(enum sg_reason r);

/* time.c: "2026-11-28T10:00:00Z" (buf of at least 32 bytes) */
void sg_time_iso(time_t t, char *buf, size_t size);

#endif
