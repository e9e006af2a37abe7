/* SPDX-License-Identifier: MIT */
/*
 * The subcommands, one thin cmd-*.c each: options, checks, a call into the
 * modules, and what to print. Each returns the process exit status:
 * 0 success, 1 failure, 2 bad usage (unless it relays a command's status).
 */
#ifndef SMOLDER_COMMANDS_H
#define SMOLDER_COMMANDS_H

#define EXIT_USAGE 2

int cmd_record(int argc, char **argv);

/*
 * Report a usage error for `cmd` in one line and return EXIT_USAGE:
 * "smolder record: unknown option '--x' (see 'smolder record --help')".
 */
int usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
