/* mapspec.c - the names of maps: "TYPE:NAME" entries of certificate_maps
 * and harvest_map, which map types this build has
 *
 * Used by config.c to check a value before anything is opened and by
 * certmap.c to open what the value names; it depends only on words.c
 * (the list syntax), so neither of them depends on the other for it.
 */
#include "sg-private.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The map types by name (maps.c has what each one does): whether this
   build has it, what it can answer (SG_MAP_USE_*: certificates for
   certificate_maps, text values for encryption_policy_maps), whether
   harvested certificates can be written to it, and the words of its
   messages. */
static const struct {
	const char *name;
	enum sg_map_type type;
	bool built;
	unsigned int uses;	/* SG_MAP_USE_* */
	bool writable;		/* can be harvest_map */
	const char *no_name;	/* "TYPE:" alone */
	const char *label;	/* "not to LABEL", "without LABEL support" */
	const char *build_hint;
} map_types[] = {
	{ "dir", SG_MAP_DIR, true, SG_MAP_USE_CERTS, true,
	  "names no directory", "dir", "" },
	{ "texthash", SG_MAP_TEXTHASH, true, SG_MAP_USE_TEXT, false,
	  "names no file (e.g. texthash:/etc/smimeguard/encryption_policy)",
	  "texthash", "" },
	{ "ldap", SG_MAP_LDAP,
#ifdef HAVE_LDAP
	  true,
#else
	  false,
#endif
	  SG_MAP_USE_CERTS | SG_MAP_USE_TEXT,
	  false, "names no map file (e.g. ldap:/etc/smimeguard/ldap.cf)",
	  "LDAP", " (libldap-dev, configure --with-ldap)" },
};

/* known_types - the types this build has for use, ", " separated */
static void known_types(unsigned int use, char *buf, size_t size)
{
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < SG_ARRAY_SIZE(map_types); i++) {
		if (map_types[i].built && (map_types[i].uses & use) != 0)
			snprintf(buf + strlen(buf), size - strlen(buf), "%s%s",
				 buf[0] != '\0' ? ", " : "", map_types[i].name);
	}
}

/* sg_mapspec_parse - one TYPE:NAME entry of setting, for use; 0 and
   *type_r, or -1 */
int sg_mapspec_parse(const char *setting, const char *spec, unsigned int use,
		     enum sg_map_type *type_r, struct sg_error *err_r)
{
	const char *colon = strchr(spec, ':');
	char known[64] = "";
	size_t tlen, i;

	if (use == SG_MAP_USE_TEXT && (colon == NULL || spec[0] == '/')) {
		/* a plain path: texthash (as encryption_policy_maps always
		   took it) */
		if (spec[0] == '\0') {
			sg_error_set(err_r, SG_ERR_INVALID, "%s: empty entry",
				     setting);
			return -1;
		}
		*type_r = SG_MAP_TEXTHASH;
		return 0;
	}
	if (colon == NULL || colon == spec) {
		sg_error_set(err_r, SG_ERR_INVALID,
			     "%s: '%.80s' is not TYPE:NAME (e.g. dir:/etc/smimeguard/certs)",
			     setting, spec);
		return -1;
	}
	tlen = (size_t)(colon - spec);
	for (i = 0; i < SG_ARRAY_SIZE(map_types); i++) {
		if (strlen(map_types[i].name) != tlen ||
		    strncasecmp(spec, map_types[i].name, tlen) != 0)
			continue;
		if (!map_types[i].built) {
			sg_error_set(err_r, SG_ERR_CONFIG,
				     "%s: '%.80s': this smimeguard was built without "
				     "%s support%s", setting, spec,
				     map_types[i].label, map_types[i].build_hint);
			return -1;
		}
		if ((map_types[i].uses & use) == 0) {
			known_types(use, known, sizeof(known));
			sg_error_set(err_r, SG_ERR_INVALID,
				     "%s: '%.80s': a %s map cannot answer this "
				     "setting (it takes %s)", setting, spec,
				     map_types[i].label, known);
			return -1;
		}
		if (colon[1] == '\0') {
			sg_error_set(err_r, SG_ERR_INVALID, "%s: '%.80s' %s",
				     setting, spec, map_types[i].no_name);
			return -1;
		}
		if (strcmp(setting, "harvest_map") == 0 && !map_types[i].writable) {
			sg_error_set(err_r, SG_ERR_INVALID,
				     "%s: '%.80s': harvested certificates are written to a dir: map, not to %s",
				     setting, spec, map_types[i].label);
			return -1;
		}
		*type_r = map_types[i].type;
		return 0;
	}
	known_types(use, known, sizeof(known));
	sg_error_set(err_r, SG_ERR_INVALID,
		     "%s: '%.80s': unknown map type '%.*s' (supported: %s)",
		     setting, spec, (int)(tlen > 20 ? 20 : tlen), spec, known);
	return -1;
}

/* sg_cmap_check_setting - certificate_maps, harvest_map (certificates)
   or encryption_policy_maps (text values; a plain path is texthash) */
int sg_cmap_check_setting(const char *name, const char *value,
			  struct sg_error *err_r)
{
	const char *p = value;
	enum sg_map_type type;
	char item[4096];
	bool too_long;
	size_t n = 0;

	while (sg_list_copy_next(&p, item, sizeof(item), &too_long)) {
		if (too_long) {
			sg_error_set(err_r, SG_ERR_INVALID, "%s: entry too long",
				     name);
			return -1;
		}
		if (sg_mapspec_parse(name, item,
				     strcmp(name, "encryption_policy_maps") == 0 ?
				     SG_MAP_USE_TEXT : SG_MAP_USE_CERTS, &type,
				     err_r) < 0)
			return -1;
		n++;
	}
	if (strcmp(name, "harvest_map") == 0 && n > 1) {
		sg_error_set(err_r, SG_ERR_INVALID,
			     "harvest_map: one writable dir: map, not a list");
		return -1;
	}
	return 0;
}
