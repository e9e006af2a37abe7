/* SPDX-License-Identifier: MIT */
/* smolder convert: a profile from one format to another. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "commands.h"
#include "output.h"

#define CMD "smolder convert"

static const char usage[] =
	"usage: smolder convert IN|- -o OUT\n"
	"\n"
	"Convert a profile between formats. IN's format is recognised by\n"
	"content (pprof gzipped or not, folded stacks, perf script output,\n"
	"speedscope JSON); OUT's by its suffix: .pb.gz or .pprof (pprof),\n"
	".pb (uncompressed pprof), .folded, .json (speedscope), .svg. With\n"
	"-o - the output is folded stacks on standard output.\n"
	"\n"
	"  -o, --output FILE     where to write (required)\n"
	"  -h, --help            show this help\n";

static const struct option long_opts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

int cmd_convert(int argc, char **argv)
{
	const char *out_path = NULL;
	struct profile *p = NULL;
	struct output out;
	int opt, err;

	log_set_prefix(CMD);
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":o:h", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			out_path = optarg;
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
	if (!out_path)
		return usage_error(CMD, "-o OUT is required");
	if (output_format_for(out_path, OUTPUT_FOLDED, &(enum output_format){ 0 }))
		return usage_error(CMD, "cannot tell the format of '%s' (use a"
				   " suffix: %s)", out_path, output_suffixes);
	if (input_load(argv[optind], &p))
		return 1;
	if (output_open(&out, out_path, OUTPUT_FOLDED)) {
		profile_free(p);
		return 1;
	}
	err = output_write(&out, p, NULL, argv[optind]);
	profile_free(p);
	if (err) {
		log_err("cannot write '%s': %s", out_path, strerror(-err));
		output_abort(&out);
		return 1;
	}
	return output_commit(&out) ? 1 : 0;
}
