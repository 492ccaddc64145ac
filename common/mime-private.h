/*
 * mime-private.h - internal interfaces of mime.c and mime-addr.c
 *
 * The MIME reader (mime.c) and From/Sender fields read strictly
 * (mime-addr.c).  Nothing here is exported; only files of common/ (and the
 * unit tests and fuzzers) include it.
 */
#ifndef SG_MIME_PRIVATE_H
#define SG_MIME_PRIVATE_H

#include "sg-base.h"

/* ---- mime.c ---- */
struct sg_slice {
	const unsigned char *p;
	size_t len;
};

#define SG_MAX_FROM 4

struct sg_headers {
	struct sg_slice content_type;	/* raw field value, may be folded */
	struct sg_slice cte;		/* Content-Transfer-Encoding */
	struct sg_slice from[SG_MAX_FROM];
	unsigned int n_from;		/* may exceed SG_MAX_FROM (counted) */
	struct sg_slice sender;
	unsigned int n_sender;
	bool has_content_type;
	unsigned int n_content_type;	/* Content-Type fields */
	unsigned int n_cte;		/* Content-Transfer-Encoding fields */
	unsigned int n_bad_lines;	/* lines that are not a field */
	bool bare_cr;			/* a CR not followed by LF */
	bool nul;			/* a NUL byte */
	size_t body_offset;		/* offset of the body in the entity */
	size_t n_fields;		/* header fields (max_header_fields) */
};

struct sg_ctype {
	char type[64];			/* lower case, "" when absent */
	char subtype[64];
	char boundary[256];		/* case kept */
	char protocol[128];		/* lower case */
	char smime_type[64];		/* lower case */
	char name[128];			/* name= parameter, case kept */
	char forwarded[16];		/* lower case (RFC 9788 wrapper) */
	bool malformed;
	/* why two mainstream readers could see another structure in this
	   field (duplicate or RFC 2231 structural parameters, comments,
	   quoted-pairs, over-long values, text after a value); NULL if none */
	const char *ambiguity;
};

/* parse the header block of an entity; never fails (missing blank line:
   all headers, empty body) */
void sg_mime_parse_headers(const unsigned char *p, size_t len,
			   struct sg_headers *h_r);
/* why a header block could read differently elsewhere (duplicate
   Content-Type or Content-Transfer-Encoding, lines that are not fields,
   bare CR); NULL when it cannot */
const char *sg_mime_headers_ambiguity(const struct sg_headers *h);
/* one pass: an LF without CR before it, a CR without LF after it, a NUL */
struct sg_line_flags {
	bool bare_lf, bare_cr, nul;
};
void sg_mime_line_flags(const unsigned char *p, size_t len,
			struct sg_line_flags *flags_r);
/* a CR that is not followed by LF (Python's email breaks lines there),
   or a NUL byte (C-string readers stop there) */
bool sg_mime_has_bare_cr(const unsigned char *p, size_t len);
/* memmem(hay, n, d, dlen), faster for MIME delimiters where the CPU
   has AVX2 (linear on any input) */
const unsigned char *sg_mime_find_delim(const unsigned char *hay, size_t n,
					const char *d, size_t dlen);
/* parse a Content-Type value; an absent header means text/plain.
   The first occurrence of a parameter counts; see ct_r->ambiguity. */
void sg_mime_parse_ctype(const struct sg_slice *value, struct sg_ctype *ct_r);
/* RFC 2046 boundary: 1-70 bchars, not ending in space */
bool sg_mime_boundary_valid(const char *boundary);
/* a Content-Transfer-Encoding value that is not exactly one token */
bool sg_mime_cte_ambiguous(const struct sg_slice *value);

enum sg_cte {
	SG_CTE_IDENTITY = 0,	/* 7bit, 8bit, binary, absent */
	SG_CTE_BASE64,
	SG_CTE_QP,
	SG_CTE_UNKNOWN
};
enum sg_cte sg_mime_parse_cte(const struct sg_slice *value);

/*
 * Split a multipart body.  Fills at most max_parts slices (the part
 * contents: headers + body, without the line break before the next
 * delimiter).  A delimiter is a whole line "--boundary" or
 * "--boundary--" with optional transport padding; a line that only
 * starts with "--boundary" is counted in stray (Dovecot and OpenSSL take
 * it for a delimiter, Python and Thunderbird do not).
 */
struct sg_split {
	size_t n_parts;		/* parts seen (may exceed max_parts) */
	bool closed;		/* the close delimiter was found */
	size_t stray;		/* lines that only start like a delimiter */
	struct sg_slice preamble;	/* before the first delimiter */
	struct sg_slice epilogue;	/* after the close delimiter */
};
void sg_mime_split(const unsigned char *body, size_t len,
		   const char *boundary, struct sg_slice *parts,
		   size_t max_parts, struct sg_split *split_r);

/* canonical CRLF form: if in has bare LFs, *out is a malloc'd copy
   (and *out_len its length) else *out = NULL.  -1 on ENOMEM. */
int sg_mime_canon_crlf(const unsigned char *in, size_t len,
		       unsigned char **out_r, size_t *out_len_r);

/* ---- mime-addr.c ---- */
/* what a From (or Sender) field holds, read strictly (doc/DESIGN.md 3.7) */
enum sg_from {
	SG_FROM_OK = 0,		/* exactly one plain mailbox: addr set */
	SG_FROM_EMPTY,		/* no mailbox */
	SG_FROM_LIST,		/* two or more mailboxes, or a group */
	SG_FROM_AMBIGUOUS	/* readers could name different addresses */
};
/* *why_r is a static sentence for LIST and AMBIGUOUS, else NULL */
enum sg_from sg_mime_parse_from(const struct sg_slice *value, char *addr,
				size_t addr_size, const char **why_r);

#endif
