/*
 * json-private.h - internal interfaces of json.c
 *
 * JSON text (json.c).  Nothing here is exported; only files of common/
 * (and the unit tests and fuzzers) include it.
 */
#ifndef SG_JSON_PRIVATE_H
#define SG_JSON_PRIVATE_H

#include "sg-base.h"

/* json.c: a JSON string (quoted, escaped, invalid UTF-8 -> U+FFFD) */
int sg_json_str(struct sg_buf *out, const char *s);
/* json.c: a JSON array of reason tokens */
int sg_json_reasons(struct sg_buf *out, uint32_t reasons);

#endif
