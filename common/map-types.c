/* map-types.c - the list of map types (Postfix's dict_open table)
 *
 * Each type is one struct sg_map_type_def in its own file (maps-private.h
 * says what the fields mean); adding a type is declaring its def here,
 * listing it in the order "supported: ..." messages name the types, and
 * adding its file to Makefile.am.  Only this file names the types.
 */
#include "maps-private.h"
#include "sg-base.h"

extern const struct sg_map_type_def sg_map_type_dir;		/* certmap-dir.c */
extern const struct sg_map_type_def sg_map_type_texthash;	/* map-texthash.c */
extern const struct sg_map_type_def sg_map_type_inline;		/* map-inline.c */
#ifdef HAVE_LDAP
extern const struct sg_map_type_def sg_map_type_ldap;		/* certmap-ldap.c */
#else
/* ldap: without libldap: known by name, refused with how to get it */
static const struct sg_map_type_def ldap_not_built = {
	.name = "ldap",
	.uses = SG_MAP_USE_CERTS | SG_MAP_USE_TEXT,
	.not_built = " (libldap-dev, configure --with-ldap)",
	.label = "LDAP",
	.no_name = "names no map file (e.g. ldap:/etc/smimeguard/ldap.cf)",
};
#endif

const struct sg_map_type_def *const sg_map_types[] = {
	&sg_map_type_dir,
	&sg_map_type_texthash,
#ifdef HAVE_LDAP
	&sg_map_type_ldap,
#else
	&ldap_not_built,
#endif
	&sg_map_type_inline,
	NULL
};

/* an entry of encryption_policy_maps without "TYPE:" is a file of this
   type (as Postfix's default_database_type) */
const struct sg_map_type_def *const sg_map_type_plain_text =
	&sg_map_type_texthash;
