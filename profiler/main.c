/* SPDX-License-Identifier: MIT */
/* smolder: the command table and what every command shares. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "commands.h"

#ifndef SMOLDER_VERSION
#define SMOLDER_VERSION "unknown"
#endif

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "record", cmd_record,
	  "sample stacks on every CPU, or of some processes, and write a profile" },
	{ "agent", cmd_agent,
	  "profile this host all the time, in windows, into a local store" },
	{ "query", cmd_query,
	  "merge the agent's windows in a time range into one profile" },
	{ "flamegraph", cmd_flamegraph,
	  "draw an interactive SVG flame graph from any profile" },
	{ "diff", cmd_diff,
	  "compare two profiles: a table and a differential flame graph" },
	{ "report", cmd_report,
	  "the top functions, flat and cumulative, like pprof -top" },
	{ "convert", cmd_convert,
	  "convert between pprof, folded, speedscope and SVG" },
	{ "symbolize", cmd_symbolize,
	  "addresses to functions, source lines and inlined frames" },
	{ "serve", cmd_serve,
	  "the web viewer, its query API and a Pyroscope-compatible ingest" },
	{ "upload", cmd_upload,
	  "send a profile to smolder serve or any Pyroscope-compatible server" },
};

static void print_usage(FILE *f)
{
	fprintf(f, "usage: smolder [-v] [--version] [--help] COMMAND [ARGS...]\n"
		   "\n"
		   "An always-on CPU profiler for Linux.\n"
		   "\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s  %s\n", commands[i].name,
			commands[i].summary);
	fprintf(f, "\nRun 'smolder COMMAND --help' for a command's options.\n");
}

int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see '%s --help')\n", cmd);
	return EXIT_USAGE;
}

int option_error(const char *cmd, int opt, char **argv)
{
	if (opt == ':')
		return usage_error(cmd, "option '%s' needs a value",
				   argv[optind - 1]);
	return usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
}

/* Data written to stdout that never arrived is an error, not a success. */
static int close_stdout(int status)
{
	if (fflush(stdout) || ferror(stdout) || fclose(stdout)) {
		if (errno == EPIPE)
			return status;
		fprintf(stderr, "smolder: cannot write to standard output: %s\n",
			strerror(errno ? errno : EIO));
		return status ? status : 1;
	}
	return status;
}

int main(int argc, char **argv)
{
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			print_usage(stdout);
			return close_stdout(0);
		}
		if (!strcmp(a, "--version")) {
			printf("smolder %s\n", SMOLDER_VERSION);
			return close_stdout(0);
		}
		if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			log_set_level(log_get_level() < LOG_DEBUG ?
					      log_get_level() + 1 : LOG_DEBUG);
			continue;
		}
		if (!strcmp(a, "-vv")) {
			log_set_level(LOG_DEBUG);
			continue;
		}
		return usage_error("smolder", "unknown option '%s'", a);
	}
	if (i >= argc) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
		if (!strcmp(argv[i], commands[c].name))
			return close_stdout(commands[c].fn(argc - i, argv + i));
	return usage_error("smolder", "unknown command '%s'", argv[i]);
}
