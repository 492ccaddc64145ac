/* test-util.h - helpers shared by the suites */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "smimeguard.h"

/* directory of generated test data (env SG_TESTDATA or the build tree) */
const char *tu_testdata(void);
/* directory of the third-party corpora: tests/data/corpora of the source
 * tree, or $SG_CORPORA */
const char *tu_corpora(void);
/* remove a flat temporary directory and the files in it */
void tu_rm_dir(const char *dir);
/* whole file, malloc'd (aborts the test on error) */
unsigned char *tu_read(const char *path, size_t *len_r);
/* a context from "name=value name=value" (paths relative to base, when
   base is not NULL, for trust_anchors/intermediates/crl_dirs) */
struct sg_ctx *tu_ctx(const char *settings, const char *base);
/* verify a message buffer; aborts the test on -1 */
struct sg_result *tu_verify(struct sg_ctx *ctx, const void *msg, size_t len,
			    time_t at);
/* comma-separated reason tokens of a mask, into a static buffer */
const char *tu_reasons(uint32_t mask);
/* mask of "a,b,c" reason tokens ("-" = 0); -1 cast on unknown token */
int tu_parse_reasons(const char *list, uint32_t *mask_r);

#endif
