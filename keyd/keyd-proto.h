/*
 * keyd-proto.h - the request header of the smime-keyd protocol
 * (DESIGN.md, Keystore, "smime-keyd protocol")
 */
#ifndef KEYD_PROTO_H
#define KEYD_PROTO_H

#include <stddef.h>

/*
 * keyd_parse_head - parse a request header, "SGKEYD 1\nowner=A\nsize=N"
 * (head: NUL-terminated, the empty line that ends it already cut off;
 * it is modified).  Every line is checked for control bytes; owner= and
 * size= come once each, nothing else may; the owner holds no space and
 * fits owner_size with its NUL; size is decimal and at most max_request.
 * 0 with owner and *size_r set, or -1 with *why (a constant string) set.
 */
int keyd_parse_head(char *head, unsigned long long max_request,
		    char *owner, size_t owner_size, size_t *size_r,
		    const char **why);

#endif
