/* verify-stream.c - sg_verify_init/update/final: a message fed in pieces
 *
 * The stream owns the bytes of one message as they arrive: in memory up
 * to SG_STREAM_MEM bytes, beyond that in an unlinked 0600 file in
 * temp_directory (O_TMPFILE where the file system has it, else mkstemp
 * and unlink, written through a 64 KiB buffer so that small pieces
 * cost no system call each), mapped read-only at the end, as Dovecot's seekable
 * istreams and Postfix's queue files hold mail.  Past max_message_size
 * only the root header is kept and bytes are counted: the verdict is
 * sg_verify_message_prefix()'s (the root header is read from its first
 * max(max_message_size, max_header_size) bytes).  The verdict itself is made by
 * sg_verify_message() over the kept bytes, so it is the same as for the
 * whole buffer.  A write error is an error of update or final, never a
 * verdict.
 */
#include "sg-base.h"
#include "config-private.h"
#include "ctx-private.h"
#include "keyd-private.h"
#include "result-private.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SG_STREAM_MEM (1024 * 1024)	/* bytes kept in memory */
#define SG_STREAM_WBUF (64 * 1024)	/* the spill file's write buffer */

struct sg_verify_stream {
	struct sg_ctx *ctx;
	time_t at;
	/* the bytes while in memory; with a spill file, its write buffer
	   (bytes not yet written) */
	unsigned char *mem;
	size_t used, size;
	int fd;			/* the spill file, or -1 */
	size_t kept;		/* bytes kept (in mem, the file and its buffer) */
	size_t total;		/* bytes fed */
	/* the end of the root header: the first line that is empty */
	size_t header_end;	/* 0 until found (it is at least 1) */
	bool line_start, cr_at_start;
	bool over;		/* over max_message_size: nothing more kept */
	bool failed;		/* a write error: no verdict */
	bool finished;		/* final was called */
	struct sg_error failure;
	char *owner;		/* decrypt-to-verify for this owner, or NULL */
};

/* drop_bytes - release what the stream keeps (memory, spill file) */
static void drop_bytes(struct sg_verify_stream *vs)
{
	free(vs->mem);
	vs->mem = NULL;
	vs->used = vs->size = 0;
	if (vs->fd >= 0) {
		(void)close(vs->fd);
		vs->fd = -1;
	}
}

/* vs_fail - remember the first error; every later call returns it */
static int vs_fail(struct sg_verify_stream *vs, struct sg_error *err_r)
{
	vs->failed = true;
	drop_bytes(vs);
	if (err_r != NULL)
		*err_r = vs->failure;
	return -1;
}

int sg_verify_init(struct sg_ctx *ctx, time_t at,
		   struct sg_verify_stream **vs_r, struct sg_error *err_r)
{
	struct sg_verify_stream *vs;

	sg_assert(ctx != NULL && vs_r != NULL);
	sg_error_clear(err_r);
	*vs_r = NULL;
	if ((vs = calloc(1, sizeof(*vs))) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	vs->ctx = ctx;
	vs->at = at;
	vs->fd = -1;
	vs->line_start = true;
	*vs_r = vs;
	return 0;
}

/* write_all - write len bytes to fd, 0 or -1 with errno */
static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len > SSIZE_MAX ? SSIZE_MAX : len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* open_spill - an unlinked 0600 file in temp_directory */
static int open_spill(const char *dir, struct sg_error *err_r)
{
	char path[PATH_MAX];
	int fd, e;

#ifdef O_TMPFILE
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	/* no O_TMPFILE on this file system: mkstemp + unlink */
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
		e = errno;
		sg_error_set(err_r, SG_ERR_IO, "temp_directory %.150s: %s",
			     dir, strerror(e));
		return -1;
	}
#endif
	if ((size_t)snprintf(path, sizeof(path), "%s/smimeguard.XXXXXX", dir) >=
	    sizeof(path)) {
		sg_error_set(err_r, SG_ERR_IO, "temp_directory %.150s: name too long",
			     dir);
		return -1;
	}
	{
		mode_t old = umask(077);

		fd = mkostemp(path, O_CLOEXEC);
		e = errno;
		(void)umask(old);
	}
	if (fd < 0) {
		sg_error_set(err_r, SG_ERR_IO, "temp_directory %.150s: %s", dir,
			     strerror(e));
		return -1;
	}
	(void)unlink(path);
	return fd;
}

/* spill_error - a write to the spill file failed (errno) */
static int spill_error(struct sg_verify_stream *vs, struct sg_error *err_r)
{
	sg_error_set(&vs->failure, SG_ERR_IO, "writing to temp_directory %.150s: %s",
		     vs->ctx->temp_dir, strerror(errno));
	return vs_fail(vs, err_r);
}

/* flush_spill - write the spill file's buffer out */
static int flush_spill(struct sg_verify_stream *vs, struct sg_error *err_r)
{
	if (vs->fd < 0 || vs->used == 0)
		return 0;
	if (write_all(vs->fd, vs->mem, vs->used) < 0)
		return spill_error(vs, err_r);
	vs->used = 0;
	return 0;
}

/* keep - store bytes of the message (within max_message_size) */
static int keep(struct sg_verify_stream *vs, const unsigned char *data,
		size_t len, struct sg_error *err_r)
{
	if (len == 0)
		return 0;
	if (vs->fd < 0 && vs->used + len > SG_STREAM_MEM) {
		/* too big for memory: move to the spill file, and keep a
		   write buffer of the memory */
		unsigned char *p;

		if ((vs->fd = open_spill(vs->ctx->temp_dir, &vs->failure)) < 0)
			return vs_fail(vs, err_r);
		if (flush_spill(vs, err_r) < 0)
			return -1;
		if ((p = realloc(vs->mem, SG_STREAM_WBUF)) != NULL) {
			vs->mem = p;
			vs->size = SG_STREAM_WBUF;
		} else if (vs->mem == NULL) {
			sg_error_set(&vs->failure, SG_ERR_NOMEM, "out of memory");
			return vs_fail(vs, err_r);
		}	/* else: the old buffer, of vs->size, serves */
	}
	if (vs->fd >= 0) {
		if (vs->used + len > vs->size && flush_spill(vs, err_r) < 0)
			return -1;
		if (len >= vs->size) {
			/* a big piece: straight to the file */
			if (write_all(vs->fd, data, len) < 0)
				return spill_error(vs, err_r);
		} else {
			memcpy(vs->mem + vs->used, data, len);
			vs->used += len;
		}
	} else {
		if (vs->used + len > vs->size) {
			size_t size = vs->size == 0 ? 16384 : vs->size;
			unsigned char *p;

			while (size < vs->used + len)
				size *= 2;
			if ((p = realloc(vs->mem, size)) == NULL) {
				sg_error_set(&vs->failure, SG_ERR_NOMEM,
					     "out of memory");
				return vs_fail(vs, err_r);
			}
			vs->mem = p;
			vs->size = size;
		}
		memcpy(vs->mem + vs->used, data, len);
		vs->used += len;
	}
	vs->kept += len;
	return 0;
}

/* scan_header - look for the end of the root header (the first line that
   is empty, "\n" or "\r\n", as sg_mime_parse_headers() ends it) */
static void scan_header(struct sg_verify_stream *vs, const unsigned char *p,
			size_t len)
{
	size_t i;

	for (i = 0; i < len && vs->header_end == 0; i++) {
		if (vs->line_start && p[i] == '\n') {
			vs->header_end = vs->total + i + 1;
		} else if (vs->line_start && p[i] == '\r' && !vs->cr_at_start) {
			vs->cr_at_start = true;
			continue;
		} else if (vs->cr_at_start && p[i] == '\n') {
			vs->header_end = vs->total + i + 1;
		} else {
			const unsigned char *nl = memchr(p + i, '\n', len - i);

			/* the rest of this line is not empty */
			vs->cr_at_start = false;
			vs->line_start = false;
			if (nl == NULL)
				return;
			i = (size_t)(nl - p);
			vs->line_start = true;
			continue;
		}
		vs->cr_at_start = false;
		vs->line_start = false;
	}
}

/* header_cap - how much of a root header past max_message_size is kept */
static size_t header_cap(const struct sg_verify_stream *vs)
{
	const struct sg_limits *lim = &vs->ctx->limits;

	return lim->max_header_size > lim->max_message_size ?
	       lim->max_header_size : lim->max_message_size;
}

/* go_over - the message passed max_message_size: keep only the root
   header (all that sg_verify_message_prefix() reads) */
static int go_over(struct sg_verify_stream *vs, struct sg_error *err_r)
{
	size_t keep_len = vs->header_end != 0 && vs->header_end < vs->kept ?
			  vs->header_end : vs->kept;

	vs->over = true;
	if (keep_len == vs->kept)
		return 0;
	if (vs->fd >= 0) {
		if (flush_spill(vs, err_r) < 0)
			return -1;
		if (ftruncate(vs->fd, (off_t)keep_len) < 0) {
			sg_error_set(&vs->failure, SG_ERR_IO,
				     "truncating the file in temp_directory "
				     "%.150s: %s", vs->ctx->temp_dir,
				     strerror(errno));
			return vs_fail(vs, err_r);
		}
	} else {
		unsigned char *p = realloc(vs->mem, keep_len > 0 ? keep_len : 1);

		if (p != NULL) {
			vs->mem = p;
			vs->size = keep_len > 0 ? keep_len : 1;
		}
		vs->used = keep_len;
	}
	vs->kept = keep_len;
	return 0;
}

int sg_verify_update(struct sg_verify_stream *vs, const unsigned char *data,
		     size_t len, struct sg_error *err_r)
{
	size_t max, room;

	sg_assert(vs != NULL && (data != NULL || len == 0));
	sg_error_clear(err_r);
	if (vs->finished) {
		sg_error_set(err_r, SG_ERR_INVALID,
			     "sg_verify_update after sg_verify_final");
		return -1;
	}
	if (vs->failed) {
		if (err_r != NULL)
			*err_r = vs->failure;
		return -1;
	}
	if (len > SIZE_MAX - vs->total) {
		sg_error_set(&vs->failure, SG_ERR_INVALID,
			     "the message is over %zu bytes", SIZE_MAX);
		return vs_fail(vs, err_r);
	}
	max = vs->ctx->limits.max_message_size;
	if (vs->header_end == 0)
		scan_header(vs, data, len);
	if (!vs->over) {
		room = max - vs->total;	/* total <= max while not over */
		if (len <= room) {
			if (keep(vs, data, len, err_r) < 0)
				return -1;
		} else {
			if (keep(vs, data, room, err_r) < 0)
				return -1;
			if (go_over(vs, err_r) < 0)
				return -1;
		}
	}
	if (vs->over && (vs->header_end == 0 || vs->header_end > vs->kept) &&
	    vs->kept >= vs->total && vs->kept < header_cap(vs)) {
		/* over the limit inside the root header: keep the rest of
		   the header that is in this piece, up to the cap */
		size_t end = vs->header_end != 0 ? vs->header_end : header_cap(vs);

		if (end > header_cap(vs))
			end = header_cap(vs);
		if (end > vs->total + len)
			end = vs->total + len;
		if (end > vs->kept &&
		    keep(vs, data + (vs->kept - vs->total), end - vs->kept,
			 err_r) < 0)
			return -1;
	}
	vs->total += len;
	return 0;
}

int sg_verify_final(struct sg_verify_stream *vs, struct sg_result **res_r,
		    struct sg_error *err_r)
{
	const unsigned char *data;
	void *map = NULL;
	int ret;

	sg_assert(vs != NULL && res_r != NULL);
	sg_error_clear(err_r);
	*res_r = NULL;
	if (vs->finished) {
		sg_error_set(err_r, SG_ERR_INVALID,
			     "sg_verify_final called twice");
		return -1;
	}
	vs->finished = true;
	if (vs->failed) {
		if (err_r != NULL)
			*err_r = vs->failure;
		return -1;
	}
	if (vs->fd >= 0 && flush_spill(vs, err_r) < 0)
		return -1;
	if (vs->fd >= 0 && vs->kept > 0) {
		map = mmap(NULL, vs->kept, PROT_READ, MAP_PRIVATE | MAP_POPULATE,
			   vs->fd, 0);
		if (map == MAP_FAILED) {
			sg_error_set(&vs->failure, SG_ERR_IO,
				     "mapping the file in temp_directory "
				     "%.150s: %s", vs->ctx->temp_dir,
				     strerror(errno));
			return vs_fail(vs, err_r);
		}
		data = map;
	} else {
		data = vs->mem != NULL ? vs->mem : (const unsigned char *)"";
	}
	if (vs->over)
		ret = sg_verify_message_prefix(vs->ctx, data, vs->kept,
					       vs->total, vs->at, res_r, err_r);
	else
		ret = sg_verify_message(vs->ctx, data, vs->kept, vs->at, res_r,
					err_r);
	if (ret == 0 && vs->owner != NULL && !vs->over &&
	    (*res_r)->status == SG_STATUS_ENCRYPTED)
		sg_keyd_ask(vs->ctx, vs->owner, data, vs->kept, res_r);
	if (map != NULL)
		(void)munmap(map, vs->kept);
	drop_bytes(vs);		/* the bytes are no longer needed */
	return ret;
}

int sg_verify_set_owner(struct sg_verify_stream *vs, const char *owner,
			struct sg_error *err_r)
{
	size_t len, i;
	char *copy;

	sg_assert(vs != NULL && owner != NULL);
	sg_error_clear(err_r);
	len = strlen(owner);
	for (i = 0; i < len; i++)
		if ((unsigned char)owner[i] <= 0x20 || owner[i] == 0x7f)
			break;
	if (len == 0 || len > 320 || i < len) {
		sg_error_set(err_r, SG_ERR_INVALID,
			     "the owner is not an address");
		return -1;
	}
	if ((copy = strdup(owner)) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	free(vs->owner);
	vs->owner = copy;
	return 0;
}

size_t sg_verify_stream_size(const struct sg_verify_stream *vs)
{
	sg_assert(vs != NULL);
	return vs->total;
}

void sg_verify_free(struct sg_verify_stream **vsp)
{
	struct sg_verify_stream *vs;

	sg_assert(vsp != NULL);
	if ((vs = *vsp) == NULL)
		return;
	drop_bytes(vs);
	free(vs->owner);
	free(vs);
	*vsp = NULL;
}
