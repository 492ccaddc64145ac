/*
 * keyd-proto.c - the request header of the smime-keyd protocol
 *
 * Kept apart from the daemon so that fuzz/fuzz-keyd.c (and its replay in
 * make check) runs the very parser smime-keyd runs over what any local
 * process may write to its socket.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyd-proto.h"

int keyd_parse_head(char *head, unsigned long long max_request,
		    char *owner, size_t owner_size, size_t *size_r,
		    const char **why)
{
	char *line, *save = NULL, *end;
	bool have_owner = false, have_size = false;
	unsigned long long v;
	unsigned int i = 0;

	for (line = strtok_r(head, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save), i++) {
		size_t j;

		for (j = 0; line[j] != '\0'; j++) {
			if ((unsigned char)line[j] < 0x20 || line[j] == 0x7f) {
				*why = "a control byte in the request header";
				return -1;
			}
		}
		if (i == 0) {
			if (strcmp(line, "SGKEYD 1") != 0) {
				*why = "not an SGKEYD 1 request";
				return -1;
			}
		} else if (strncmp(line, "owner=", 6) == 0 && !have_owner) {
			if (line[6] == '\0' || strlen(line + 6) >= owner_size ||
			    strchr(line + 6, ' ') != NULL) {
				*why = "the owner is not an address";
				return -1;
			}
			snprintf(owner, owner_size, "%s", line + 6);
			have_owner = true;
		} else if (strncmp(line, "size=", 5) == 0 && !have_size) {
			if (line[5] < '0' || line[5] > '9' ||
			    strlen(line + 5) > 20) {
				*why = "the size is not a number";
				return -1;
			}
			errno = 0;
			v = strtoull(line + 5, &end, 10);
			if (errno != 0 || *end != '\0') {
				*why = "the size is not a number";
				return -1;
			}
			if (v > max_request) {
				*why = "the message is over keyd_max_request_size";
				return -1;
			}
			*size_r = (size_t)v;
			have_size = true;
		} else {
			*why = "an unknown or repeated line in the request header";
			return -1;
		}
	}
	if (!have_owner || !have_size) {
		*why = "the request header lacks owner= or size=";
		return -1;
	}
	return 0;
}
