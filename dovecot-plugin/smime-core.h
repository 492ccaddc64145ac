#ifndef SMIME_CORE_H
#define SMIME_CORE_H

/* smime-core.h - the core functions the Dovecot plugins reach through
 * smime_core.so, loaded on first need
 *
 * An imap process that only reads or protects keywords needs no trust
 * store, maps or OpenSSL; Dovecot runs one process per connection, so
 * the plugins link only libc-level code (names, times: libsgbase) and
 * load the core (libsgcore: OpenSSL, libsodium, libldap, zlib), built as
 * smime_core.so next to lib90_smime_plugin.so, the first time a message
 * is verified or a configuration loaded.  The list below is the whole
 * interface: smime-core-module.c builds the table from it, smime-core.c
 * the plugin's forwarding functions of the same names.
 *
 * F(return type, name, parameters, arguments); V(name, ...) for void.
 */
#include "smimeguard.h"

#define SMIME_CORE_FUNCTIONS(F, V) \
	F(int, sg_config_read, (struct sg_config *conf, const char *path, \
				struct sg_error *err_r), (conf, path, err_r)) \
	V(sg_config_free, (struct sg_config **conf), (conf)) \
	V(sg_config_stamp, (const struct sg_config *conf, \
			    const char *config_path, \
			    unsigned char stamp[SG_STAMP_SIZE]), \
	  (conf, config_path, stamp)) \
	F(bool, sg_config_next_unknown, (const struct sg_config *conf, \
					 size_t *iter, struct sg_error *warn_r), \
	  (conf, iter, warn_r)) \
	F(int, sg_ctx_new, (const struct sg_config *conf, struct sg_ctx **ctx_r, \
			    struct sg_error *err_r), (conf, ctx_r, err_r)) \
	V(sg_ctx_free, (struct sg_ctx **ctx), (ctx)) \
	F(int, sg_ctx_policy, (const struct sg_ctx *ctx, char *buf, \
			       size_t buf_size), (ctx, buf, buf_size)) \
	F(size_t, sg_ctx_max_message_size, (const struct sg_ctx *ctx), (ctx)) \
	F(int, sg_verify_message, (struct sg_ctx *ctx, \
				   const unsigned char *msg, size_t msg_len, \
				   time_t at, struct sg_result **res_r, \
				   struct sg_error *err_r), \
	  (ctx, msg, msg_len, at, res_r, err_r)) \
	F(int, sg_verify_message_prefix, (struct sg_ctx *ctx, \
					  const unsigned char *prefix, \
					  size_t prefix_len, size_t total_len, \
					  time_t at, struct sg_result **res_r, \
					  struct sg_error *err_r), \
	  (ctx, prefix, prefix_len, total_len, at, res_r, err_r)) \
	F(int, sg_verify_init, (struct sg_ctx *ctx, time_t at, \
				struct sg_verify_stream **vs_r, \
				struct sg_error *err_r), (ctx, at, vs_r, err_r)) \
	F(int, sg_verify_update, (struct sg_verify_stream *vs, \
				  const unsigned char *data, size_t len, \
				  struct sg_error *err_r), (vs, data, len, err_r)) \
	F(int, sg_verify_final, (struct sg_verify_stream *vs, \
				 struct sg_result **res_r, \
				 struct sg_error *err_r), (vs, res_r, err_r)) \
	F(size_t, sg_verify_stream_size, (const struct sg_verify_stream *vs), (vs)) \
	F(int, sg_verify_set_owner, (struct sg_verify_stream *vs, \
				     const char *owner, \
				     struct sg_error *err_r), (vs, owner, err_r)) \
	V(sg_verify_free, (struct sg_verify_stream **vs), (vs)) \
	F(enum sg_status, sg_result_status, (const struct sg_result *res), (res)) \
	F(size_t, sg_result_signer_count, (const struct sg_result *res), (res)) \
	F(const struct sg_signer *, sg_result_signer, \
	  (const struct sg_result *res, size_t i), (res, i)) \
	F(const struct sg_signer *, sg_result_bound_signer, \
	  (const struct sg_result *res), (res)) \
	F(uint32_t, sg_result_reasons, (const struct sg_result *res), (res)) \
	F(unsigned int, sg_result_keywords, (const struct sg_result *res), (res)) \
	F(const char *, sg_result_detail, (const struct sg_result *res), (res)) \
	V(sg_result_free, (struct sg_result **res), (res)) \
	F(int, sg_harvest, (struct sg_ctx *ctx, const struct sg_result *res, \
			    time_t at, struct sg_harvest_info *info_r, \
			    struct sg_error *err_r), \
	  (ctx, res, at, info_r, err_r)) \
	F(const char *, sg_harvest_outcome_name, \
	  (enum sg_harvest_outcome outcome), (outcome))

#define SMIME_CORE_DECLARE(type, name, params, args) type (*name) params;
#define SMIME_CORE_DECLARE_V(name, params, args) void (*name) params;

/* what smime_core.so exports, as the symbol SMIME_CORE_SYMBOL */
struct smime_core {
	const char *abi;	/* SMIME_CORE_ABI of the build */
	size_t size;		/* sizeof(struct smime_core) */
	int (*init)(void);	/* sg_init */
	int (*config_new)(struct sg_config **conf_r);
	SMIME_CORE_FUNCTIONS(SMIME_CORE_DECLARE, SMIME_CORE_DECLARE_V)
};

#define SMIME_CORE_SYMBOL "smime_core"
#define SMIME_CORE_FILE "smime_core.so"
/* a module of another build (a half-finished upgrade) is refused */
#define SMIME_CORE_ABI "smimeguard " SG_PACKAGE_VERSION

/* smime_core_config_new - sg_config_new(), loading the core first if
   needed; on failure error_r says why (the module could not be loaded,
   or out of memory) */
int smime_core_config_new(struct sg_config **conf_r, const char **error_r);
/* smime_core_loaded - whether the core is in this process (tests) */
bool smime_core_loaded(void);

#endif
