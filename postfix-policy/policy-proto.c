/* policy-proto.c - parse Postfix policy delegation requests
 *
 * Bounded: a request over PP_MAX_REQUEST bytes or PP_MAX_ATTRS attributes,
 * a line without '=', an attribute name that is not [a-z0-9_], or a NUL
 * byte is an error; the daemon then disconnects without replying, as
 * SMTPD_POLICY_README asks.
 */
#include "policy-proto.h"

#include <string.h>

static bool valid_name(const char *p, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		char c = p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

enum pp_status pp_parse(const char *data, size_t len, struct pp_request *req,
			size_t *consumed_r, const char **error_r)
{
	size_t pos = 0;

	*consumed_r = 0;
	*error_r = NULL;
	req->used = 0;
	req->n_attrs = 0;
	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		size_t line_len, name_len;
		const char *eq;
		char *name, *value;

		if (nl == NULL) {
			if (len - pos > PP_MAX_REQUEST) {
				*error_r = "request line too long";
				return PP_ERROR;
			}
			break;	/* the rest of the line has not arrived */
		}
		line_len = (size_t)(nl - (data + pos));
		if (line_len > 0 && data[pos + line_len - 1] == '\r')
			line_len--;	/* tolerate CRLF from test clients */
		if (memchr(data + pos, '\0', line_len) != NULL) {
			*error_r = "NUL byte in request";
			return PP_ERROR;
		}
		if (line_len == 0) {
			if (req->n_attrs == 0) {
				*error_r = "empty request";
				return PP_ERROR;
			}
			*consumed_r = (size_t)(nl - data) + 1;
			return PP_COMPLETE;
		}
		eq = memchr(data + pos, '=', line_len);
		if (eq == NULL) {
			*error_r = "line without '='";
			return PP_ERROR;
		}
		name_len = (size_t)(eq - (data + pos));
		if (!valid_name(data + pos, name_len)) {
			*error_r = "bad attribute name";
			return PP_ERROR;
		}
		if (req->n_attrs >= PP_MAX_ATTRS) {
			*error_r = "too many attributes";
			return PP_ERROR;
		}
		if (req->used + line_len + 1 > PP_MAX_REQUEST) {
			*error_r = "request too large";
			return PP_ERROR;
		}
		name = req->buf + req->used;
		memcpy(name, data + pos, line_len);
		name[name_len] = '\0';
		value = name + name_len + 1;
		name[line_len] = '\0';
		req->used += line_len + 1;
		req->attrs[req->n_attrs].name = name;
		req->attrs[req->n_attrs].value = value;
		req->n_attrs++;
		pos = (size_t)(nl - data) + 1;
	}
	if (len > PP_MAX_REQUEST) {
		*error_r = "request too large";
		return PP_ERROR;
	}
	return PP_NEED_MORE;
}

const char *pp_get(const struct pp_request *req, const char *name)
{
	unsigned int i;

	for (i = 0; i < req->n_attrs; i++) {
		if (strcmp(req->attrs[i].name, name) == 0)
			return req->attrs[i].value;
	}
	return NULL;
}

void pp_printable(char *dst, size_t size, const char *src)
{
	size_t i;

	if (size == 0)
		return;
	for (i = 0; src[i] != '\0' && i + 1 < size; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[i] = '\0';
}
