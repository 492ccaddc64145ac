/* policy.c - the outbound encryption policy engine (DESIGN.md section 4,
 * "Postfix side")
 *
 * Settings (smimeguard.conf):
 *   internal_domains        example.org, .example.org   ("d" matches d
 *                           itself, ".d" every subdomain of d)
 *   encryption_policy_maps  texthash:/etc/smimeguard/encryption_policy
 *                           (or a plain path); one "key value" per line:
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
 * The recipient rule is the first match of address, domain, parent
 * domains, "*"; the sender rule likewise with "from:" keys; the strictest
 * combination of both applies.  Mail to internal recipients, from the null
 * sender (bounces) or from/to an exempt address needs nothing.
 */
#include "sg-private.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct policy_rule {
	char *key;		/* lower case */
	unsigned int req;	/* SG_REQ_* */
	int action;		/* enum sg_action, or -1: policy_action */
	unsigned int line;
};

struct sg_policy {
	char **internal;
	size_t n_internal;
	char **exempt_senders;
	size_t n_exempt_senders;
	char **exempt_rcpts;
	size_t n_exempt_rcpts;
	struct policy_rule *rules;	/* sorted by key */
	size_t n_rules;
	enum sg_action default_action;
	char source[256];		/* the map file, for messages */
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

/* split_list - a comma/space separated list (lower-cased when asked) */
static int split_list(const char *value, bool to_lower, char ***items_r,
		      size_t *n_r)
{
	const char *p = value;
	char **items = NULL;
	size_t n = 0;

	while (*p != '\0') {
		size_t len;
		char **tmp;

		p += strspn(p, ", \t\r\n");
		len = strcspn(p, ", \t\r\n");
		if (len == 0)
			break;
		if ((tmp = realloc(items, (n + 1) * sizeof(*items))) == NULL)
			goto nomem;
		items = tmp;
		if ((items[n] = strndup(p, len)) == NULL)
			goto nomem;
		if (to_lower)
			lower(items[n]);
		n++;
		p += len;
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
static int get_list(struct sg_config *conf, const char *name, bool to_lower,
		    char ***items_r, size_t *n_r, struct sg_error *err_r)
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

static int cmp_rule(const void *a, const void *b)
{
	return strcmp(((const struct policy_rule *)a)->key,
		      ((const struct policy_rule *)b)->key);
}

/* load_map - a texthash-style file of "key value" lines */
static int load_map(struct sg_policy *pol, const char *spec,
		    struct sg_error *err_r)
{
	const char *path = spec;
	char line[1024];
	unsigned int lineno = 0;
	FILE *fp;

	if (strncmp(spec, "texthash:", 9) == 0)
		path = spec + 9;
	else if (strchr(spec, ':') != NULL && spec[0] != '/') {
		sg_error_set(err_r, SG_ERR_CONFIG,
			     "encryption_policy_maps: unsupported map type in '%.80s' "
			     "(use texthash:/path or a plain path)", spec);
		return -1;
	}
	sg_strlcpy(pol->source, path, sizeof(pol->source));
	if ((fp = fopen(path, "r")) == NULL) {
		sg_error_set(err_r, SG_ERR_IO, "encryption_policy_maps: cannot open %.160s: %s",
			     path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *key, *value, *action, *extra, *save = NULL;
		struct policy_rule *r, *tmp;
		enum sg_action a;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			sg_error_set(err_r, SG_ERR_CONFIG, "%.160s, line %u: line too long",
				     path, lineno);
			goto fail;
		}
		if (line[0] == '#')
			continue;
		key = strtok_r(line, " \t\r\n", &save);
		if (key == NULL)
			continue;
		value = strtok_r(NULL, " \t\r\n", &save);
		action = value == NULL ? NULL : strtok_r(NULL, " \t\r\n", &save);
		extra = action == NULL ? NULL : strtok_r(NULL, " \t\r\n", &save);
		if (value == NULL || extra != NULL) {
			sg_error_set(err_r, SG_ERR_CONFIG,
				     "%.160s, line %u: expected \"key requirement [action]\"",
				     path, lineno);
			goto fail;
		}
		if ((tmp = realloc(pol->rules, (pol->n_rules + 1) * sizeof(*tmp))) == NULL)
			goto nomem;
		pol->rules = tmp;
		r = &pol->rules[pol->n_rules];
		memset(r, 0, sizeof(*r));
		r->line = lineno;
		r->action = -1;
		if (parse_requirement(value, &r->req) < 0) {
			sg_error_set(err_r, SG_ERR_CONFIG,
				     "%.160s, line %u: '%.40s' is not a requirement "
				     "(none, sign, encrypt, encrypt-aead, encrypt+sign, encrypt-aead+sign)",
				     path, lineno, value);
			goto fail;
		}
		if (action != NULL) {
			if (parse_action(action, &a) < 0) {
				sg_error_set(err_r, SG_ERR_CONFIG,
					     "%.160s, line %u: '%.40s' is not an action "
					     "(reject, defer, hold, monitor)",
					     path, lineno, action);
				goto fail;
			}
			r->action = (int)a;
		}
		if ((r->key = strdup(key)) == NULL)
			goto nomem;
		lower(r->key);
		pol->n_rules++;
	}
	fclose(fp);
	if (pol->n_rules > 0)	/* rules is NULL until the first rule */
		qsort(pol->rules, pol->n_rules, sizeof(*pol->rules), cmp_rule);
	return 0;
nomem:
	sg_error_set(err_r, SG_ERR_NOMEM, "out of memory");
fail:
	fclose(fp);
	return -1;
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
	for (i = 0; i < pol->n_rules; i++)
		free(pol->rules[i].key);
	free(pol->rules);
	free(pol);
	*polp = NULL;
}

int sg_policy_new(struct sg_config *conf, struct sg_policy **pol_r,
		  struct sg_error *err_r)
{
	struct sg_policy *pol;
	const char *v;
	char **maps = NULL;
	size_t n_maps = 0, i;
	int ret = 0;

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
	/* maps that cannot be expanded fail too: never a policy silently
	   without its rules */
	if (get_list(conf, "encryption_policy_maps", false, &maps, &n_maps,
		     err_r) < 0)
		goto fail;
	for (i = 0; i < n_maps && ret == 0; i++)
		ret = load_map(pol, maps[i], err_r);
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

bool sg_policy_is_internal(const struct sg_policy *pol, const char *address)
{
	char addr[320];
	const char *domain;
	size_t i;

	sg_assert(pol != NULL && address != NULL);
	sg_strlcpy(addr, address, sizeof(addr));
	lower(addr);
	domain = domain_of(addr);
	if (domain[0] == '\0')
		return true;	/* a local name without domain stays inside */
	for (i = 0; i < pol->n_internal; i++) {
		if (domain_matches(pol->internal[i], domain))
			return true;
	}
	return false;
}

static const struct policy_rule *find_rule(const struct sg_policy *pol,
					   const char *key)
{
	struct policy_rule k = { .key = (char *)key };

	if (pol->n_rules == 0)
		return NULL;	/* rules is NULL: not a valid bsearch() base */
	return bsearch(&k, pol->rules, pol->n_rules, sizeof(*pol->rules),
		       cmp_rule);
}

/* lookup - first match of prefix+address, prefix+[@]domain, prefix+.parents */
static const struct policy_rule *lookup(const struct sg_policy *pol,
					const char *prefix, const char *addr,
					bool at_domain)
{
	char key[400];
	const struct policy_rule *r;
	const char *domain = domain_of(addr), *p;

	snprintf(key, sizeof(key), "%s%s", prefix, addr);
	if ((r = find_rule(pol, key)) != NULL)
		return r;
	if (domain[0] == '\0')
		return NULL;
	snprintf(key, sizeof(key), "%s%s%s", prefix, at_domain ? "@" : "", domain);
	if ((r = find_rule(pol, key)) != NULL)
		return r;
	for (p = domain; (p = strchr(p, '.')) != NULL; p++) {
		snprintf(key, sizeof(key), "%s%s", prefix, p);
		if ((r = find_rule(pol, key)) != NULL)
			return r;
	}
	return NULL;
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

int sg_policy_decide(const struct sg_policy *pol, const char *sender,
		     const char *recipient, struct sg_policy_decision *d)
{
	char rcpt[320], from[320];
	const struct policy_rule *rr = NULL, *sr = NULL;
	enum sg_action ra, sa;

	sg_assert(pol != NULL && sender != NULL && recipient != NULL && d != NULL);
	memset(d, 0, sizeof(*d));
	d->action = pol->default_action;
	sg_strlcpy(rcpt, recipient, sizeof(rcpt));
	sg_strlcpy(from, sender, sizeof(from));
	lower(rcpt);
	lower(from);
	if (sg_policy_is_internal(pol, rcpt)) {
		d->internal = true;
		snprintf(d->why, sizeof(d->why), "internal recipient");
		return 0;
	}
	if (from[0] == '\0') {
		d->exempt = true;
		snprintf(d->why, sizeof(d->why), "null sender (bounce)");
		return 0;
	}
	if (list_matches(pol->exempt_senders, pol->n_exempt_senders, from)) {
		d->exempt = true;
		snprintf(d->why, sizeof(d->why), "sender exempt by policy_exempt_senders");
		return 0;
	}
	if (list_matches(pol->exempt_rcpts, pol->n_exempt_rcpts, rcpt)) {
		d->exempt = true;
		snprintf(d->why, sizeof(d->why), "recipient exempt by policy_exempt_recipients");
		return 0;
	}
	rr = lookup(pol, "", rcpt, false);
	if (rr == NULL)
		rr = find_rule(pol, "*");
	sr = lookup(pol, "from:", from, true);
	ra = rr != NULL && rr->action >= 0 ? (enum sg_action)rr->action :
		pol->default_action;
	sa = sr != NULL && sr->action >= 0 ? (enum sg_action)sr->action :
		pol->default_action;
	d->requirements = (rr != NULL ? rr->req : 0) | (sr != NULL ? sr->req : 0);
	if (d->requirements == 0) {
		snprintf(d->why, sizeof(d->why), "%s",
			 rr == NULL && sr == NULL ? "no rule matches" :
			 "the matching rule requires nothing");
		return 0;
	}
	/* the strictest action among the rules that require something */
	if (rr != NULL && rr->req != 0 && sr != NULL && sr->req != 0)
		d->action = severity(ra) >= severity(sa) ? ra : sa;
	else
		d->action = rr != NULL && rr->req != 0 ? ra : sa;
	snprintf(d->why, sizeof(d->why), "%s%s%s%s%s",
		 rr != NULL && rr->req != 0 ? "recipient rule " : "",
		 rr != NULL && rr->req != 0 ? rr->key : "",
		 rr != NULL && rr->req != 0 && sr != NULL && sr->req != 0 ? " and " : "",
		 sr != NULL && sr->req != 0 ? "sender rule " : "",
		 sr != NULL && sr->req != 0 ? sr->key : "");
	return 0;
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
			       time_t at, char *why, size_t why_size)
{
	struct sg_cert_set *set = NULL;
	struct sg_error err;
	int ret;

	sg_assert(ctx != NULL && address != NULL && why != NULL);
	why[0] = '\0';
	ret = sg_cert_lookup(ctx, address, at, &set, &err);
	if (ret < 0) {
		snprintf(why, why_size, "%s", err.msg);
		return -1;
	}
	if (ret == 0)
		first_rejection(set, why, why_size);
	sg_cert_set_free(&set);
	return ret;
}

/* covered - is the message encrypted to a usable certificate of address? */
static int covered(struct sg_ctx *ctx, const char *address, time_t at,
		   const struct sg_encryption *enc, char *why, size_t why_size)
{
	struct sg_cert_set *set = NULL;
	struct sg_error err;
	size_t i, j;
	int ret;

	ret = sg_cert_lookup(ctx, address, at, &set, &err);
	if (ret < 0) {
		snprintf(why, why_size, "%s", err.msg);
		return -1;
	}
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
		snprintf(why, why_size, "encryption required, but %s", reason);
	} else {
		snprintf(why, why_size,
			 "the message is not encrypted to this recipient's certificate");
	}
	sg_cert_set_free(&set);
	return 0;
}

int sg_policy_check_message(const struct sg_policy *pol, struct sg_ctx *ctx,
			    const char *sender, const char *recipient,
			    const struct sg_result *res, time_t at,
			    struct sg_policy_decision *d, char *why,
			    size_t why_size)
{
	const struct sg_encryption *enc;
	enum sg_status st;
	int ret;

	sg_assert(pol != NULL && ctx != NULL && res != NULL && why != NULL);
	why[0] = '\0';
	sg_policy_decide(pol, sender, recipient, d);
	if (d->internal || d->exempt || d->requirements == 0)
		return 1;
	enc = sg_result_encryption(res);
	st = sg_result_status(res);
	if ((d->requirements & SG_REQ_ENCRYPT) != 0) {
		if (enc == NULL || (sg_result_keywords(res) & SG_KW_ENCRYPTED) == 0) {
			snprintf(why, why_size,
				 "must be S/MIME encrypted, but the message is not encrypted");
			return 0;
		}
		if ((d->requirements & SG_REQ_AEAD) != 0 && !enc->aead) {
			snprintf(why, why_size,
				 "must be encrypted with AES-GCM (AuthEnvelopedData), not %s",
				 enc->algorithm);
			return 0;
		}
		ret = covered(ctx, recipient, at, enc, why, why_size);
		if (ret <= 0)
			return ret;
	}
	if ((d->requirements & SG_REQ_SIGN) != 0 &&
	    st != SG_STATUS_SIGNED_VERIFIED &&
	    st != SG_STATUS_ENCRYPTED_SIGNED_VERIFIED) {
		snprintf(why, why_size, "%s",
			 (d->requirements & SG_REQ_ENCRYPT) != 0 ?
			 "must be signed outside the encryption, with a valid signature" :
			 "must carry a valid S/MIME signature");
		return 0;
	}
	return 1;
}
