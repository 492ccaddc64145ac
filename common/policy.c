/* policy.c - the outbound encryption policy engine (DESIGN.md section 4,
 * "Postfix side")
 *
 * Settings (smimeguard.conf):
 *   internal_domains        example.org, .example.org   ("d" matches d
 *                           itself, ".d" every subdomain of d)
 *   internal_transports     local, virtual, lmtp   (Postfix transports,
 *                           {rcpt_mailer}, that deliver inside)
 *   encryption_policy_maps  texthash:/etc/smimeguard/encryption_policy
 *                           (or a plain path), ldap:/etc/smimeguard/policy.cf:
 *                           maps of "key value" (maps.c); texthash lines:
 *     partner@ext.example   encrypt            recipient address
 *     ext.example           encrypt-aead       recipient domain
 *     .ext.example          encrypt monitor    any subdomain
 *     from:@hr.example.org  encrypt            sender domain (from:addr,
 *                                              from:@domain, from:.parent)
 *     *                     none               default for outside mail
 *     The value is a requirement - none, sign, encrypt, encrypt-aead,
 *     encrypt+sign, encrypt-aead+sign - optionally followed by an action.
 *   policy_action           reject | defer | hold | monitor   [reject]
 *   policy_exempt_senders, policy_exempt_recipients
 *                           addresses, @domains or .parent domains
 *   policy_exemptions       null-sender, auto-submitted   [none]
 *   policy_exemption_clients
 *                           IP addresses and networks (CIDR) the
 *                           policy_exemptions apply to   [none]
 *   allow_3des, allow_pwri, allow_kekri   [no]   the cipher floor
 *
 * Addresses are routed as Postfix routes them (policy-addr.c); the rules
 * of every destination on the way apply.  The recipient rule is the
 * first match of address, domain, parent domains, "*" (each key asked of
 * every map in order before the next key); the sender rule likewise
 * with "from:" keys; the strictest combination applies.  A map that
 * cannot answer (an ldap: map's servers down, a value that is not a
 * rule) makes the decision temporary: deferred, never decided without
 * the rule.  Mail
 * to internal recipients, or from/to an exempt address, needs nothing.
 * The null sender and Auto-Submitted mail are exempt only when
 * policy_exemptions names them and the client is in
 * policy_exemption_clients: any submitter can write MAIL FROM:<>.
 */
#include "policy-private.h"
#include "sg-base.h"
#include "maps-private.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* a rule found in encryption_policy_maps */
struct policy_rule {
	char key[SG_ADDRESS_MAX + 8];	/* lower case, as looked up */
	unsigned int req;	/* SG_REQ_* */
	int action;		/* enum sg_action, or -1: policy_action */
};

#define POLICY_VALUE_MAX 256	/* "requirement [action]" of a map */

/* one entry of policy_exemption_clients */
struct policy_net {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned int prefix;	/* bits */
};

#define EXEMPT_NULL_SENDER	(1u << 0)
#define EXEMPT_AUTO_SUBMITTED	(1u << 1)

struct sg_policy {
	char **internal;
	size_t n_internal;
	char **transports;		/* internal_transports, case kept */
	size_t n_transports;
	unsigned int exemptions;	/* EXEMPT_* */
	struct policy_net *clients;
	size_t n_clients;
	bool allow_3des, allow_pwri, allow_kekri;
	char **exempt_senders;
	size_t n_exempt_senders;
	char **exempt_rcpts;
	size_t n_exempt_rcpts;
	struct sg_map **maps;		/* encryption_policy_maps (maps.c) */
	size_t n_maps;
	enum sg_action default_action;
};

static const char *const action_names[] = {
	[SG_ACTION_REJECT] = "reject",
	[SG_ACTION_DEFER] = "defer",
	[SG_ACTION_HOLD] = "hold",
	[SG_ACTION_MONITOR] = "monitor",
};

const char *sg_action_name(enum sg_action action)
{
	if ((unsigned int)action >= SG_ARRAY_SIZE(action_names))
		return NULL;
	return action_names[action];
}

static int parse_action(const char *word, enum sg_action *a_r)
{
	unsigned int i;

	for (i = 0; i < SG_ARRAY_SIZE(action_names); i++) {
		if (strcmp(word, action_names[i]) == 0) {
			*a_r = (enum sg_action)i;
			return 0;
		}
	}
	return -1;
}

/* sg_policy_requirement_name - "encrypt-aead+sign" etc. (static buffer
   per requirement set; the set is small) */
const char *sg_policy_requirement_name(unsigned int req)
{
	static const char *const names[8] = {
		"none", "encrypt", "encrypt-aead", "encrypt-aead",
		"sign", "encrypt+sign", "encrypt-aead+sign", "encrypt-aead+sign",
	};

	return names[req & 7];
}

/* parse_requirement - "encrypt+sign" etc. into SG_REQ_* bits */
static int parse_requirement(const char *text, unsigned int *req_r)
{
	char buf[64], *tok, *save = NULL;
	unsigned int req = 0;

	if (strlen(text) >= sizeof(buf))
		return -1;
	strcpy(buf, text);
	for (tok = strtok_r(buf, "+", &save); tok != NULL;
	     tok = strtok_r(NULL, "+", &save)) {
		if (strcmp(tok, "none") == 0)
			continue;
		else if (strcmp(tok, "encrypt") == 0)
			req |= SG_REQ_ENCRYPT;
		else if (strcmp(tok, "encrypt-aead") == 0)
			req |= SG_REQ_ENCRYPT | SG_REQ_AEAD;
		else if (strcmp(tok, "sign") == 0)
			req |= SG_REQ_SIGN;
		else
			return -1;
	}
	*req_r = req;
	return 0;
}

static void lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* split_list - a list value (sg_list_next), lower-cased when asked */
static int split_list(const char *value, bool to_lower, char ***items_r,
		      size_t *n_r)
{
	const char *p = value, *it;
	char **items = NULL;
	size_t n = 0, len;

	while (sg_list_next(&p, &it, &len)) {
		char **tmp;

		if ((tmp = realloc(items, (n + 1) * sizeof(*items))) == NULL)
			goto nomem;
		items = tmp;
		if ((items[n] = strndup(it, len)) == NULL)
			goto nomem;
		if (to_lower)
			lower(items[n]);
		n++;
	}
	*items_r = items;
	*n_r = n;
	return 0;
nomem:
	while (n > 0)
		free(items[--n]);
	free(items);
	return -1;
}

/* get_list - split_list() of a setting; -1 with err_r when its value
   cannot be expanded or on ENOMEM */
static int get_list(const struct sg_config *conf, const char *name,
		    bool to_lower, char ***items_r, size_t *n_r,
		    struct sg_error *err_r)
{
	const char *v = sg_config_get(conf, name);

	if (v == NULL) {
		sg_error_set(err_r, SG_ERR_CONFIG, "%s: cannot expand its value",
			     name);
		return -1;
	}
	if (split_list(v, to_lower, items_r, n_r) < 0) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

static void free_list(char **items, size_t n)
{
	while (n > 0)
		free(items[--n]);
	free(items);
}

/* parse_value - a map's value "requirement [action]" into r; -1 with
   why (a sentence) when it is not one */
static int parse_value(const char *value, struct policy_rule *r, char *why,
		       size_t why_size)
{
	char buf[POLICY_VALUE_MAX], *req, *action, *extra, *save = NULL;
	enum sg_action a;

	r->req = 0;
	r->action = -1;
	if (strlen(value) >= sizeof(buf)) {
		snprintf(why, why_size, "value too long");
		return -1;
	}
	strcpy(buf, value);
	req = strtok_r(buf, " \t\r\n", &save);
	action = req == NULL ? NULL : strtok_r(NULL, " \t\r\n", &save);
	extra = action == NULL ? NULL : strtok_r(NULL, " \t\r\n", &save);
	if (req == NULL || extra != NULL) {
		snprintf(why, why_size, "expected \"key requirement [action]\"");
		return -1;
	}
	if (parse_requirement(req, &r->req) < 0) {
		sg_text_sanitize(req);
		snprintf(why, why_size, "'%.40s' is not a requirement "
			 "(none, sign, encrypt, encrypt-aead, encrypt+sign, "
			 "encrypt-aead+sign)", req);
		return -1;
	}
	if (action != NULL) {
		if (parse_action(action, &a) < 0) {
			sg_text_sanitize(action);
			snprintf(why, why_size, "'%.40s' is not an action "
				 "(reject, defer, hold, monitor)", action);
			return -1;
		}
		r->action = (int)a;
	}
	return 0;
}

/* check_entry - one entry of a map held in memory, checked when the
   policy is made (sg_map_each): "PATH, line N: why" (where: the map's
   words for the entry) */
static int check_entry(void *context, const char *key, const char *value,
		       const char *where, struct sg_error *err_r)
{
	struct policy_rule r;
	char why[200];

	(void)context;
	(void)key;
	if (parse_value(value, &r, why, sizeof(why)) < 0) {
		sg_error_set(err_r, SG_ERR_CONFIG, "%.200s: %s", where, why);
		return -1;
	}
	return 0;
}

/* load_maps - open every map of encryption_policy_maps (a map held in
   memory is checked line by line now; an ldap: map's values are
   checked when they are read) */
static int load_maps(struct sg_policy *pol, char **specs, size_t n,
		     struct sg_error *err_r)
{
	size_t i;

	if (n > 0 && (pol->maps = calloc(n, sizeof(*pol->maps))) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct sg_error e;

		if (sg_map_open("encryption_policy_maps", specs[i],
				SG_MAP_USE_TEXT, &pol->maps[i], &e) < 0) {
			if (e.code == SG_ERR_IO || e.code == SG_ERR_NOMEM)
				sg_error_set(err_r, e.code, "encryption_policy_maps: %s",
					     e.msg);
			else if (err_r != NULL)
				*err_r = e;
			return -1;
		}
		pol->n_maps++;
		if (sg_map_each(pol->maps[i], check_entry, pol->maps[i],
				err_r) < 0)
			return -1;
	}
	return 0;
}

/* get_bool - a yes/no setting */
static int get_bool(const struct sg_config *conf, const char *name, bool *b_r,
		    struct sg_error *err_r)
{
	const char *v = sg_config_get(conf, name);

	if (sg_conf_bool(v, b_r) == 0)
		return 0;
	sg_error_set(err_r, SG_ERR_CONFIG, "%s: '%.40s' is not yes or no", name,
		     v == NULL ? "" : v);
	return -1;
}

/* parse_net - "192.0.2.7", "192.0.2.0/24", "2001:db8::/32" */
static int parse_net(const char *text, struct policy_net *n)
{
	char buf[64], *slash, *end;
	unsigned long prefix;

	if (strlen(text) >= sizeof(buf))
		return -1;
	strcpy(buf, text);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	memset(n, 0, sizeof(*n));
	if (inet_pton(AF_INET, buf, n->addr) == 1) {
		n->family = AF_INET;
		n->prefix = 32;
	} else if (inet_pton(AF_INET6, buf, n->addr) == 1) {
		n->family = AF_INET6;
		n->prefix = 128;
	} else {
		return -1;
	}
	if (slash != NULL) {
		if (!isdigit((unsigned char)*slash))
			return -1;
		errno = 0;
		prefix = strtoul(slash, &end, 10);
		if (errno != 0 || *end != '\0' || prefix > n->prefix)
			return -1;
		n->prefix = (unsigned int)prefix;
	}
	return 0;
}

/* net_contains - is the address (text) in the network? */
static bool net_contains(const struct policy_net *n, const char *addr)
{
	unsigned char a[16];
	unsigned int full, rest;

	if (inet_pton(n->family, addr, a) != 1)
		return false;
	full = n->prefix / 8;
	rest = n->prefix % 8;
	if (memcmp(a, n->addr, full) != 0)
		return false;
	return rest == 0 ||
	       ((a[full] ^ n->addr[full]) & (0xff00u >> rest) & 0xff) == 0;
}

/* load_exemptions - policy_exemptions and policy_exemption_clients */
static int load_exemptions(struct sg_policy *pol, const struct sg_config *conf,
			   struct sg_error *err_r)
{
	char **items = NULL;
	size_t n = 0, i;

	if (get_list(conf, "policy_exemptions", true, &items, &n, err_r) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (strcmp(items[i], "null-sender") == 0) {
			pol->exemptions |= EXEMPT_NULL_SENDER;
		} else if (strcmp(items[i], "auto-submitted") == 0) {
			pol->exemptions |= EXEMPT_AUTO_SUBMITTED;
		} else {
			sg_error_set(err_r, SG_ERR_CONFIG,
				     "policy_exemptions: '%.40s' is not null-sender or "
				     "auto-submitted", items[i]);
			free_list(items, n);
			return -1;
		}
	}
	free_list(items, n);
	if (get_list(conf, "policy_exemption_clients", false, &items, &n,
		     err_r) < 0)
		return -1;
	if (n > 0 && (pol->clients = calloc(n, sizeof(*pol->clients))) == NULL) {
		free_list(items, n);
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (parse_net(items[i], &pol->clients[i]) < 0) {
			sg_error_set(err_r, SG_ERR_CONFIG,
				     "policy_exemption_clients: '%.60s' is not an IP "
				     "address or network (192.0.2.0/24, 2001:db8::/32)",
				     items[i]);
			free_list(items, n);
			return -1;
		}
	}
	pol->n_clients = n;
	free_list(items, n);
	return 0;
}

void sg_policy_free(struct sg_policy **polp)
{
	struct sg_policy *pol = *polp;
	size_t i;

	if (pol == NULL)
		return;
	free_list(pol->internal, pol->n_internal);
	free_list(pol->exempt_senders, pol->n_exempt_senders);
	free_list(pol->exempt_rcpts, pol->n_exempt_rcpts);
	free_list(pol->transports, pol->n_transports);
	free(pol->clients);
	for (i = 0; i < pol->n_maps; i++)
		sg_map_close(&pol->maps[i]);
	free(pol->maps);
	free(pol);
	*polp = NULL;
}

int sg_policy_new(const struct sg_config *conf, struct sg_policy **pol_r,
		  struct sg_error *err_r)
{
	struct sg_policy *pol;
	const char *v;
	char **maps = NULL;
	size_t n_maps = 0;
	int ret;

	sg_assert(conf != NULL && pol_r != NULL);
	*pol_r = NULL;
	if ((pol = calloc(1, sizeof(*pol))) == NULL) {
		sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
		return -1;
	}
	v = sg_config_get(conf, "policy_action");
	if (v == NULL || parse_action(v, &pol->default_action) < 0) {
		sg_error_set(err_r, SG_ERR_INVALID,
			     "policy_action: '%.40s' is not reject, defer, hold or monitor",
			     v == NULL ? "" : v);
		goto fail;
	}
	if (get_list(conf, "internal_domains", true, &pol->internal,
		     &pol->n_internal, err_r) < 0 ||
	    get_list(conf, "policy_exempt_senders", true, &pol->exempt_senders,
		     &pol->n_exempt_senders, err_r) < 0 ||
	    get_list(conf, "policy_exempt_recipients", true, &pol->exempt_rcpts,
		     &pol->n_exempt_rcpts, err_r) < 0)
		goto fail;
	if (get_list(conf, "internal_transports", false, &pol->transports,
		     &pol->n_transports, err_r) < 0 ||
	    load_exemptions(pol, conf, err_r) < 0 ||
	    get_bool(conf, "allow_3des", &pol->allow_3des, err_r) < 0 ||
	    get_bool(conf, "allow_pwri", &pol->allow_pwri, err_r) < 0 ||
	    get_bool(conf, "allow_kekri", &pol->allow_kekri, err_r) < 0)
		goto fail;
	/* maps that cannot be expanded fail too: never a policy silently
	   without its rules */
	if (get_list(conf, "encryption_policy_maps", false, &maps, &n_maps,
		     err_r) < 0)
		goto fail;
	ret = load_maps(pol, maps, n_maps, err_r);
	free_list(maps, n_maps);
	if (ret < 0)
		goto fail;
	*pol_r = pol;
	return 0;
fail:
	sg_policy_free(&pol);
	return -1;
}

/* domain_of - the domain part of an address ("" when none) */
static const char *domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at == NULL ? "" : at + 1;
}

/* domain_matches - "d" matches d, ".d" matches subdomains of d */
static bool domain_matches(const char *pattern, const char *domain)
{
	size_t pl, dl;

	if (pattern[0] != '.')
		return strcmp(pattern, domain) == 0;
	pl = strlen(pattern);
	dl = strlen(domain);
	return dl > pl && strcmp(domain + dl - pl, pattern) == 0;
}

/* list_matches - address, @domain, domain or .parent entries */
static bool list_matches(char **items, size_t n, const char *addr)
{
	const char *domain = domain_of(addr);
	size_t i;

	for (i = 0; i < n; i++) {
		if (strchr(items[i], '@') != NULL) {
			if (items[i][0] == '@' ? strcmp(items[i] + 1, domain) == 0 :
						 strcmp(items[i], addr) == 0)
				return true;
		} else if (domain[0] != '\0' && domain_matches(items[i], domain)) {
			return true;
		}
	}
	return false;
}

/* domain_internal - is the domain one of internal_domains? */
static bool domain_internal(const struct sg_policy *pol, const char *domain)
{
	size_t i;

	for (i = 0; i < pol->n_internal; i++) {
		if (domain_matches(pol->internal[i], domain))
			return true;
	}
	return false;
}

/* route - addr routed (sg_addr_route), every hop lower-cased for
   matching; status as sg_addr_route */
static enum sg_address_status route(const char *addr, struct sg_route *r,
				    char *why, size_t why_size)
{
	enum sg_address_status st = sg_addr_route(addr, r, why, why_size);
	size_t i;

	for (i = 0; st == SG_ADDRESS_OK && i < r->n; i++)
		lower(r->hop[i]);
	return st;
}

bool sg_policy_is_internal(const struct sg_policy *pol, const char *address)
{
	struct sg_route r;
	char why[160];
	size_t i;

	sg_assert(pol != NULL && address != NULL);
	if (route(address, &r, why, sizeof(why)) != SG_ADDRESS_OK)
		return false;
	for (i = 0; i < r.n; i++) {
		if (!domain_internal(pol, domain_of(r.hop[i])))
			return false;
	}
	return true;
}

/* find_rule - the rule of key: the first map that has it.  1 and *r,
   0 none, -1 a map could not answer or its value is not a rule (err_r:
   the caller defers, never goes on without the rule) */
static int find_rule(const struct sg_policy *pol, const char *key,
		     struct policy_rule *r, struct sg_error *err_r)
{
	char value[POLICY_VALUE_MAX], why[200];
	size_t i;
	int ret;

	for (i = 0; i < pol->n_maps; i++) {
		ret = sg_map_lookup(pol->maps[i], key, value, sizeof(value),
				    err_r);
		if (ret < 0)
			return -1;
		if (ret == 0)
			continue;
		if (parse_value(value, r, why, sizeof(why)) < 0) {
			sg_error_set(err_r, SG_ERR_CONFIG, "%.160s: '%.80s': %s",
				     sg_map_spec(pol->maps[i]), key, why);
			return -1;
		}
		sg_strlcpy(r->key, key, sizeof(r->key));
		return 1;
	}
	return 0;
}

/* lookup - first match of prefix+address, prefix+[@]domain,
   prefix+.parents: one lookup per key, in that order, each in every map
   (as find_rule); 1 and *r, 0, or -1 with err_r */
static int lookup(const struct sg_policy *pol, const char *prefix,
		  const char *addr, bool at_domain, struct policy_rule *r,
		  struct sg_error *err_r)
{
	char key[SG_ADDRESS_MAX + 8];
	const char *domain = domain_of(addr), *p;
	int ret;

	snprintf(key, sizeof(key), "%s%s", prefix, addr);
	if ((ret = find_rule(pol, key, r, err_r)) != 0)
		return ret;
	if (domain[0] == '\0')
		return 0;
	snprintf(key, sizeof(key), "%s%s%s", prefix, at_domain ? "@" : "", domain);
	if ((ret = find_rule(pol, key, r, err_r)) != 0)
		return ret;
	for (p = domain; (p = strchr(p, '.')) != NULL; p++) {
		snprintf(key, sizeof(key), "%s%s", prefix, p);
		if ((ret = find_rule(pol, key, r, err_r)) != 0)
			return ret;
	}
	return 0;
}

static int severity(enum sg_action a)
{
	switch (a) {
	case SG_ACTION_REJECT:
		return 3;
	case SG_ACTION_DEFER:
		return 2;
	case SG_ACTION_HOLD:
		return 1;
	default:
		return 0;
	}
}

/* strictest - the stricter of two actions */
static enum sg_action strictest(enum sg_action a, enum sg_action b)
{
	return severity(a) >= severity(b) ? a : b;
}

/* client_listed - is the client in policy_exemption_clients? */
static bool client_listed(const struct sg_policy *pol, const char *client)
{
	size_t i;

	if (client == NULL || client[0] == '\0')
		return false;
	for (i = 0; i < pol->n_clients; i++) {
		if (net_contains(&pol->clients[i], client))
			return true;
	}
	return false;
}

/* is_internal_transport - one of internal_transports? */
static bool is_internal_transport(const struct sg_policy *pol,
				  const char *transport)
{
	size_t i;

	for (i = 0; i < pol->n_transports; i++) {
		if (strcmp(pol->transports[i], transport) == 0)
			return true;
	}
	return false;
}

/* all_listed - does every hop match the list? */
static bool all_listed(char **items, size_t n, const struct sg_route *r,
		       const bool *skip)
{
	size_t i, checked = 0;

	for (i = 0; i < r->n; i++) {
		if (skip != NULL && skip[i])
			continue;
		if (!list_matches(items, n, r->hop[i]))
			return false;
		checked++;
	}
	return checked > 0;
}

bool sg_policy_auto_submitted(const char *value)
{
	static const char *const automatic[] = { "auto-generated", "auto-replied" };
	const char *p;
	size_t i, len;

	if (value == NULL)
		return false;
	p = value + strspn(value, " \t\r\n");
	len = strcspn(p, " \t\r\n;(");
	for (i = 0; i < SG_ARRAY_SIZE(automatic); i++) {
		if (len == strlen(automatic[i]) &&
		    strncasecmp(p, automatic[i], len) == 0)
			break;
	}
	if (i == SG_ARRAY_SIZE(automatic))
		return false;
	/* then nothing, or parameters after ";" (RFC 3834 section 5) */
	p += len;
	p += strspn(p, " \t\r\n");
	return *p == '\0' || *p == ';';
}

void sg_policy_decide_envelope(const struct sg_policy *pol,
			       const struct sg_policy_envelope *env,
			       struct sg_policy_decision *d)
{
	struct sg_route rr, sr;
	bool hop_internal[SG_ROUTE_MAX_HOPS];
	struct policy_rule rule;
	struct sg_error err;
	char first_r[SG_ADDRESS_MAX + 8] = "", first_s[SG_ADDRESS_MAX + 8] = "";
	char why[160];
	size_t i, n_ext = 0, used;
	bool have_action = false;
	int ret;

	sg_assert(pol != NULL && env != NULL && env->sender != NULL &&
		  env->recipient != NULL && d != NULL);
	memset(d, 0, sizeof(*d));
	d->action = pol->default_action;
	if (env->transport != NULL && is_internal_transport(pol, env->transport)) {
		/* Postfix delivers it inside: its routing already happened */
		d->internal = true;
		if (strlen(env->recipient) <= SG_ADDRESS_MAX)
			strcpy(d->recipient, env->recipient);
		snprintf(d->why, sizeof(d->why), "internal transport %.60s",
			 env->transport);
		return;
	}
	d->recipient_status = route(env->recipient, &rr, why, sizeof(why));
	if (d->recipient_status != SG_ADDRESS_OK) {
		snprintf(d->why, sizeof(d->why), "recipient refused: %s", why);
		return;
	}
	/* where Postfix delivers: the first hop outside (it routes on only
	   through domains it treats as local) */
	for (i = 0; i < rr.n; i++) {
		hop_internal[i] = domain_internal(pol, domain_of(rr.hop[i]));
		if (!hop_internal[i] && n_ext++ == 0)
			strcpy(d->recipient, rr.hop[i]);
	}
	if (n_ext == 0) {
		strcpy(d->recipient, rr.hop[rr.n > 0 ? rr.n - 1 : 0]);
		d->internal = true;
		snprintf(d->why, sizeof(d->why), "internal recipient%s",
			 rr.n > 1 ? " (after routing)" : "");
		return;
	}
	sr.n = 0;
	if (env->sender[0] != '\0') {
		d->sender_status = route(env->sender, &sr, why, sizeof(why));
		if (d->sender_status != SG_ADDRESS_OK) {
			snprintf(d->why, sizeof(d->why), "sender refused: %s", why);
			return;
		}
	}
	if (client_listed(pol, env->client_address)) {
		if (env->sender[0] == '\0' &&
		    (pol->exemptions & EXEMPT_NULL_SENDER) != 0) {
			d->exempt = true;
			snprintf(d->why, sizeof(d->why),
				 "null sender from an exempt client (policy_exemptions)");
			return;
		}
		if ((pol->exemptions & EXEMPT_AUTO_SUBMITTED) != 0 &&
		    sg_policy_auto_submitted(env->auto_submitted)) {
			d->exempt = true;
			snprintf(d->why, sizeof(d->why),
				 "Auto-Submitted from an exempt client (policy_exemptions)");
			return;
		}
	}
	if (sr.n > 0 && all_listed(pol->exempt_senders, pol->n_exempt_senders,
				   &sr, NULL)) {
		d->exempt = true;
		snprintf(d->why, sizeof(d->why), "sender exempt by policy_exempt_senders");
		return;
	}
	if (all_listed(pol->exempt_rcpts, pol->n_exempt_rcpts, &rr, hop_internal)) {
		d->exempt = true;
		snprintf(d->why, sizeof(d->why), "recipient exempt by policy_exempt_recipients");
		return;
	}
	/* the rules of every destination outside, and of the sender; a map
	   that cannot answer makes it a temporary failure, never a decision
	   without the rule */
	for (i = 0; i < rr.n; i++) {
		if (hop_internal[i])
			continue;
		if ((ret = lookup(pol, "", rr.hop[i], false, &rule, &err)) == 0)
			ret = find_rule(pol, "*", &rule, &err);
		if (ret < 0)
			goto temporary;
		if (ret == 0 || rule.req == 0)
			continue;
		d->requirements |= rule.req;
		d->action = strictest(have_action ? d->action : SG_ACTION_MONITOR,
				      rule.action >= 0 ? (enum sg_action)rule.action :
				      pol->default_action);
		have_action = true;
		if (first_r[0] == '\0')
			sg_strlcpy(first_r, rule.key, sizeof(first_r));
	}
	for (i = 0; i < sr.n; i++) {
		if ((ret = lookup(pol, "from:", sr.hop[i], true, &rule, &err)) < 0)
			goto temporary;
		if (ret == 0 || rule.req == 0)
			continue;
		d->requirements |= rule.req;
		d->action = strictest(have_action ? d->action : SG_ACTION_MONITOR,
				      rule.action >= 0 ? (enum sg_action)rule.action :
				      pol->default_action);
		have_action = true;
		if (first_s[0] == '\0')
			sg_strlcpy(first_s, rule.key, sizeof(first_s));
	}
	if (d->requirements == 0) {
		d->action = pol->default_action;
		snprintf(d->why, sizeof(d->why), "no rule requires anything");
		return;
	}
	used = (size_t)snprintf(d->why, sizeof(d->why), "%s%s%s%s%s",
				first_r[0] != '\0' ? "recipient rule " : "",
				first_r,
				first_r[0] != '\0' && first_s[0] != '\0' ? " and " : "",
				first_s[0] != '\0' ? "sender rule " : "",
				first_s);
	if (rr.n > 1 && used < sizeof(d->why))
		snprintf(d->why + used, sizeof(d->why) - used,
			 " (routed to %.120s)", d->recipient);
	return;
temporary:
	/* what it needs is unknown: refused for now (sg_policy_refusal) */
	d->temporary = true;
	d->requirements = 0;
	d->action = SG_ACTION_DEFER;
	sg_text_sanitize(err.msg);
	snprintf(d->why, sizeof(d->why), "policy lookup failed: %.200s", err.msg);
}

void sg_policy_decide(const struct sg_policy *pol, const char *sender,
		      const char *recipient, struct sg_policy_decision *d)
{
	struct sg_policy_envelope env = { .sender = sender, .recipient = recipient };

	sg_assert(sender != NULL && recipient != NULL);
	sg_policy_decide_envelope(pol, &env, d);
}

bool sg_policy_refusal(const struct sg_policy_decision *d,
		       const char **code_r, const char **enhanced_r)
{
	sg_assert(d != NULL && code_r != NULL && enhanced_r != NULL);
	if (d->temporary) {
		/* the rules could not be read: try again later */
		*code_r = "451";
		*enhanced_r = "4.3.0";
		return true;
	}
	if (d->recipient_status == SG_ADDRESS_TOO_LONG ||
	    d->sender_status == SG_ADDRESS_TOO_LONG) {
		*code_r = "501";
		*enhanced_r = "5.5.4";
		return true;
	}
	if (d->recipient_status == SG_ADDRESS_INVALID) {
		*code_r = "553";
		*enhanced_r = "5.1.3";
		return true;
	}
	if (d->sender_status == SG_ADDRESS_INVALID) {
		*code_r = "553";
		*enhanced_r = "5.1.7";
		return true;
	}
	*code_r = *enhanced_r = "";
	return false;
}

/* ---- does a message satisfy the rule? (smime-milter, smimectl) ---- */

/* first_rejection - why the best candidate of a set is not usable */
static void first_rejection(const struct sg_cert_set *set, char *why,
			    size_t why_size)
{
	const struct sg_cert_candidate *c;

	if (sg_cert_set_count(set) == 0) {
		snprintf(why, why_size,
			 "no S/MIME certificate is known for this recipient");
		return;
	}
	c = sg_cert_set_get(set, 0);
	snprintf(why, why_size, "its only known certificate%s is %s",
		 sg_cert_set_count(set) > 1 ? "s are not usable; the newest" : "",
		 sg_reason_name(c->reason));
}

/* names_candidate - does a RecipientInfo name candidate c (usable or not)? */
static bool names_candidate(const struct sg_recipient *r,
			    const struct sg_cert_candidate *c)
{
	const char *a, *b;

	if (r->kind == SG_RECIPIENT_SKI)
		return c->ski[0] != '\0' && strcasecmp(r->ski, c->ski) == 0;
	if (r->kind != SG_RECIPIENT_ISSUER_SERIAL || strcmp(r->issuer, c->issuer) != 0)
		return false;
	for (a = r->serial; *a == '0' && a[1] != '\0'; a++)
		;
	for (b = c->serial; *b == '0' && b[1] != '\0'; b++)
		;
	return strcasecmp(a, b) == 0;
}

int sg_policy_recipient_usable(struct sg_ctx *ctx, const char *address,
			       time_t at, char *why, size_t why_size,
			       struct sg_error *err_r)
{
	struct sg_cert_set *set = NULL;
	int ret;

	sg_assert(ctx != NULL && address != NULL && why != NULL &&
		  why_size > 0);
	why[0] = '\0';
	ret = sg_cert_lookup(ctx, address, at, &set, err_r);
	if (ret < 0)
		return -1;
	if (ret == 0)
		first_rejection(set, why, why_size);
	sg_cert_set_free(&set);
	return ret;
}

/* covered - is the message encrypted to a usable certificate of address? */
static int covered(struct sg_ctx *ctx, const char *address, time_t at,
		   const struct sg_encryption *enc, char *why, size_t why_size,
		   const char **violation_r, enum sg_policy_lookup *lookup_r,
		   struct sg_error *err_r)
{
	struct sg_cert_set *set = NULL;
	size_t i, j;
	int ret;

	ret = sg_cert_lookup(ctx, address, at, &set, err_r);
	if (ret < 0) {
		*lookup_r = SG_POLICY_LOOKUP_FAILED;
		*violation_r = "lookup-failed";
		return -1;
	}
	*lookup_r = ret > 0 ? SG_POLICY_LOOKUP_FOUND : SG_POLICY_LOOKUP_NOT_FOUND;
	for (i = 0; i < enc->n_recipients; i++) {
		if (sg_cert_set_match(set, &enc->recipients[i], NULL) == 1) {
			sg_cert_set_free(&set);
			return 1;
		}
	}
	/* not covered: say whether it went to a stale certificate */
	for (i = 0; i < enc->n_recipients; i++) {
		for (j = 0; j < sg_cert_set_count(set); j++) {
			const struct sg_cert_candidate *c = sg_cert_set_get(set, j);

			if (!c->usable && names_candidate(&enc->recipients[i], c)) {
				*violation_r = "stale-certificate";
				snprintf(why, why_size,
					 "encrypted to a certificate of this recipient "
					 "that is %s (serial %s); use the current one",
					 sg_reason_name(c->reason), c->serial);
				sg_cert_set_free(&set);
				return 0;
			}
		}
	}
	if (ret == 0) {
		char reason[200];

		first_rejection(set, reason, sizeof(reason));
		*violation_r = "no-certificate";
		snprintf(why, why_size, "encryption required, but %s", reason);
	} else {
		*violation_r = "not-covered";
		snprintf(why, why_size,
			 "the message is not encrypted to this recipient's certificate");
	}
	sg_cert_set_free(&set);
	return 0;
}

/* cipher_floor - is the content encryption good enough for "encrypt"?
   NULL, or a policy reason token (*why says more) */
static const char *cipher_floor(const struct sg_policy *pol,
				const struct sg_encryption *enc, char *why,
				size_t why_size)
{
	switch (enc->family) {
	case SG_CIPHER_AES:
	case SG_CIPHER_CHACHA20:
	case SG_CIPHER_CAMELLIA:
	case SG_CIPHER_ARIA:
		if (enc->key_bits >= 128)
			return NULL;
		break;
	case SG_CIPHER_3DES:
		if (pol->allow_3des)
			return NULL;
		snprintf(why, why_size,
			 "must be encrypted with AES (or another cipher of at "
			 "least 128 bits), not %s (3DES is refused unless allow_3des = yes)",
			 enc->algorithm);
		return "weak-cipher";
	default:
		break;
	}
	snprintf(why, why_size,
		 "must be encrypted with AES (or another cipher of at least 128 "
		 "bits), not %s", enc->algorithm[0] != '\0' ? enc->algorithm : "an unknown cipher");
	return "weak-cipher";
}

/* recipient_infos - RecipientInfos only certificates can open (unless
   allowed): NULL, or a policy reason token naming the first other one */
static const char *recipient_infos(const struct sg_policy *pol,
				   const struct sg_encryption *enc, char *why,
				   size_t why_size)
{
	size_t i;

	for (i = 0; i < enc->n_recipients; i++) {
		const struct sg_recipient *r = &enc->recipients[i];

		switch (r->info) {
		case SG_RI_KTRI:
		case SG_RI_KARI:
			continue;
		case SG_RI_PWRI:
			if (pol->allow_pwri)
				continue;
			snprintf(why, why_size,
				 "RecipientInfo %u opens the message with a password "
				 "(refused unless allow_pwri = yes)", r->index + 1);
			return "password-recipient";
		case SG_RI_KEKRI:
			if (pol->allow_kekri)
				continue;
			snprintf(why, why_size,
				 "RecipientInfo %u opens the message with a shared key "
				 "(KEK; refused unless allow_kekri = yes)", r->index + 1);
			return "kek-recipient";
		default:
			snprintf(why, why_size,
				 "RecipientInfo %u is of a kind that cannot be checked",
				 r->index + 1);
			return "unknown-recipient-info";
		}
	}
	return NULL;
}

int sg_policy_check_message(const struct sg_policy *pol, struct sg_ctx *ctx,
			    const struct sg_policy_envelope *env,
			    const struct sg_result *res, time_t at,
			    struct sg_policy_decision *d, char *why,
			    size_t why_size, struct sg_error *err_r)
{
	const struct sg_encryption *enc;
	const char *code, *enhanced;
	enum sg_status st;
	int ret;

	sg_assert(pol != NULL && ctx != NULL && env != NULL && res != NULL &&
		  d != NULL && why != NULL);
	why[0] = '\0';
	sg_error_clear(err_r);
	sg_policy_decide_envelope(pol, env, d);
	if (d->temporary) {
		d->violation = "lookup-failed";
		sg_error_set(err_r, SG_ERR_IO, "%s", d->why);
		return -1;
	}
	if (sg_policy_refusal(d, &code, &enhanced)) {
		d->violation = d->recipient_status == SG_ADDRESS_TOO_LONG ||
			       d->sender_status == SG_ADDRESS_TOO_LONG ?
			       "address-too-long" : "invalid-address";
		snprintf(why, why_size, "%s", d->why);
		return 0;
	}
	if (d->internal || d->exempt || d->requirements == 0)
		return 1;
	enc = sg_result_encryption(res);
	st = sg_result_status(res);
	if ((d->requirements & SG_REQ_ENCRYPT) != 0) {
		if (enc == NULL || (sg_result_keywords(res) & SG_KW_ENCRYPTED) == 0) {
			d->violation = "not-encrypted";
			snprintf(why, why_size,
				 "must be S/MIME encrypted, but the message is not encrypted");
			return 0;
		}
		if ((d->violation = cipher_floor(pol, enc, why, why_size)) != NULL ||
		    (d->violation = recipient_infos(pol, enc, why, why_size)) != NULL)
			return 0;
		if ((d->requirements & SG_REQ_AEAD) != 0 && !enc->aead) {
			d->violation = "not-aead";
			snprintf(why, why_size,
				 "must be encrypted with AES-GCM (AuthEnvelopedData "
				 "with an AEAD cipher), not %s%s", enc->algorithm,
				 enc->auth_enveloped ? " in AuthEnvelopedData" : "");
			return 0;
		}
		ret = covered(ctx, d->recipient, at, enc, why, why_size,
			      &d->violation, &d->lookup, err_r);
		if (ret <= 0)
			return ret;
	}
	if ((d->requirements & SG_REQ_SIGN) != 0 &&
	    st != SG_STATUS_SIGNED_VERIFIED &&
	    st != SG_STATUS_ENCRYPTED_SIGNED_VERIFIED) {
		d->violation = "not-signed";
		snprintf(why, why_size, "%s",
			 (d->requirements & SG_REQ_ENCRYPT) != 0 ?
			 "must be signed outside the encryption, with a valid signature" :
			 "must carry a valid S/MIME signature");
		return 0;
	}
	return 1;
}
