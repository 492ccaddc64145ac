#ifndef SMIMECTL_H
#define SMIMECTL_H

/* smimectl.h - what the smimectl subcommand files share */
#include <stddef.h>

#define EXIT_NOTVERIFIED 1
#define EXIT_USAGE 2

extern const char *progname;

/* read_all - a whole file (or "-" for stdin) into memory; NULL + errno */
unsigned char *read_all(const char *path, size_t *len_r);

/* cmd_policy - smimectl policy test (cmd-policy.c) */
int cmd_policy(int argc, char **argv);
void usage_policy(FILE *fp);

/* cmd_doctor - smimectl doctor (cmd-doctor.c) */
int cmd_doctor(int argc, char **argv);
void usage_doctor(FILE *fp);

#endif
