/* test-util.h - helpers shared by the suites */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "smimeguard-admin.h"

/* directory of generated test data (env SG_TESTDATA or the build tree) */
const char *tu_testdata(void);
/* directory of the third-party corpora: tests/data/corpora of the source
 * tree, or $SG_CORPORA */
const char *tu_corpora(void);
/* remove a flat temporary directory and the files in it */
void tu_rm_dir(const char *dir);
/* whole file, malloc'd (aborts the test on error) */
unsigned char *tu_read(const char *path, size_t *len_r);
/* tu_read of a file of the generated test data (rel: relative to it) */
unsigned char *tu_load(const char *rel, size_t *len_r);
/* a file with the given text and mode (aborts the test on error) */
void tu_write_file(const char *path, const char *text, mode_t mode);
/* a context from "name=value name=value" (paths relative to base, when
   base is not NULL, for trust_anchors/intermediates/crl_dirs) */
struct sg_ctx *tu_ctx(const char *settings, const char *base);
/* the test PKI of data-gen, for tu_ctx(..., tu_testdata()) */
#define TU_PKI "trust_anchors=trust intermediates=intermediates crl_dirs=crl"
/* a context over TU_PKI and the dir: map data-gen/certmap, plus extra
   settings ("name=value ...", or NULL) */
struct sg_ctx *tu_map_ctx(const char *extra);
/* sg_cert_lookup that must not fail: it returns want (1 a usable
   certificate, 0 none) and a set */
struct sg_cert_set *tu_lookup(struct sg_ctx *ctx, const char *addr, time_t at,
			      int want);
/* verify a message buffer; aborts the test on -1 */
struct sg_result *tu_verify(struct sg_ctx *ctx, const void *msg, size_t len,
			    time_t at);
/* comma-separated reason tokens of a mask, into a static buffer */
const char *tu_reasons(uint32_t mask);
/* mask of "a,b,c" reason tokens ("-" = 0); -1 cast on unknown token */
int tu_parse_reasons(const char *list, uint32_t *mask_r);

#endif
