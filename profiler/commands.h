/* SPDX-License-Identifier: MIT */
/*
 * The subcommands, one thin cmd-*.c each: options, checks, a call into the
 * modules, and what to print. Each returns the process exit status:
 * 0 success, 1 failure, 2 bad usage (unless it relays a command's status).
 */
#ifndef SMOLDER_COMMANDS_H
#define SMOLDER_COMMANDS_H

#define EXIT_USAGE 2

struct fg_opts;
struct profile;

int cmd_record(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_flamegraph(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_symbolize(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_upload(int argc, char **argv);

/* Drawing options shared by flamegraph and diff. */
enum {
	FG_OPT_TITLE = 256,
	FG_OPT_SUBTITLE,
	FG_OPT_WIDTH,
	FG_OPT_HEIGHT,
	FG_OPT_MINWIDTH,
	FG_OPT_ICICLE,
	FG_OPT_REVERSE,
	FG_OPT_FLAMECHART,
	FG_OPT_COLORS,
	FG_OPT_VALUE,
	FG_OPT__END,
};

#define FG_LONG_OPTIONS                                                   \
	{ "title", required_argument, NULL, FG_OPT_TITLE },               \
	{ "subtitle", required_argument, NULL, FG_OPT_SUBTITLE },         \
	{ "width", required_argument, NULL, FG_OPT_WIDTH },               \
	{ "height", required_argument, NULL, FG_OPT_HEIGHT },             \
	{ "minwidth", required_argument, NULL, FG_OPT_MINWIDTH },         \
	{ "icicle", no_argument, NULL, FG_OPT_ICICLE },                   \
	{ "inverted", no_argument, NULL, FG_OPT_ICICLE },                 \
	{ "reverse", no_argument, NULL, FG_OPT_REVERSE },                 \
	{ "flamechart", no_argument, NULL, FG_OPT_FLAMECHART },           \
	{ "colors", required_argument, NULL, FG_OPT_COLORS },             \
	{ "value", required_argument, NULL, FG_OPT_VALUE }

/*
 * Parse one drawing option for `cmd`: 0 when `opt` was one (stored in
 * *fg, or *value_name for --value), 1 when it was not, or EXIT_USAGE
 * after a message about a bad value.
 */
int fg_parse_option(const char *cmd, int opt, const char *arg,
		    struct fg_opts *fg, const char **value_name);
/* The index of sample type `name` in the profile read from `path`: -1 for
 * none asked, -2 after a message when it has no such type. */
int fg_value_index(const char *path, const struct profile *p,
		   const char *name);

/*
 * Report a usage error for `cmd` in one line and return EXIT_USAGE:
 * "smolder record: unknown option '--x' (see 'smolder record --help')".
 */
int usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * The usage error for what getopt_long (with a leading ':' in its option
 * string) returned as `opt` for argv[optind - 1]: ':' for an option
 * missing its value, anything else for an unknown option.
 */
int option_error(const char *cmd, int opt, char **argv);

#endif
