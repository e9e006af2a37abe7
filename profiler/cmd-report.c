/* SPDX-License-Identifier: MIT */
/* smolder report: the top functions, flat and cumulative. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../formats/report.h"
#include "../lib/log.h"
#include "../lib/parse.h"
#include "commands.h"
#include "output.h"

#define CMD "smolder report"

static const char usage[] =
	"usage: smolder report IN|- [--top N] [--cum] [--lines] [--value TYPE]\n"
	"\n"
	"Print the functions that take the most time, as pprof -top does: flat\n"
	"(the function itself) and cumulative (it and what it calls) values and\n"
	"shares. IN is pprof, folded, perf script or speedscope.\n"
	"\n"
	"  -n, --top N           rows (default 20; 0: all)\n"
	"      --cum             sort by cumulative value\n"
	"      --lines           one row per function and source line\n"
	"      --value TYPE      the sample type (default: the profile's own)\n"
	"  -h, --help            show this help\n";

enum { OPT_CUM = 256, OPT_LINES, OPT_VALUE };

static const struct option long_opts[] = {
	{ "top", required_argument, NULL, 'n' },
	{ "cum", no_argument, NULL, OPT_CUM },
	{ "lines", no_argument, NULL, OPT_LINES },
	{ "value", required_argument, NULL, OPT_VALUE },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

int cmd_report(int argc, char **argv)
{
	struct report_opts ro = { .top = 20, .value_index = -1 };
	const char *value_name = NULL;
	struct profile *p = NULL;
	int opt, err;
	long v;

	log_set_prefix(CMD);
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":n:h", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (parse_long(optarg, 0, 100000000, &v))
				return usage_error(CMD, "invalid value for --top:"
						   " '%s' (expected 0 or more)",
						   optarg);
			ro.top = (int)v;
			break;
		case OPT_CUM:
			ro.cum = true;
			break;
		case OPT_LINES:
			ro.lines = true;
			break;
		case OPT_VALUE:
			value_name = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return option_error(CMD, opt, argv);
		}
	}
	if (optind >= argc)
		return usage_error(CMD, "no input file (use - for standard input)");
	if (optind + 1 < argc)
		return usage_error(CMD, "one input file only, not '%s'",
				   argv[optind + 1]);
	if (input_load(argv[optind], &p))
		return 1;
	ro.value_index = fg_value_index(argv[optind], p, value_name);
	if (ro.value_index == -2) {
		profile_free(p);
		return 1;
	}
	err = report_write(p, &ro, stdout);
	profile_free(p);
	if (err) {
		log_err("cannot write the report: %s", strerror(-err));
		return 1;
	}
	return 0;
}
