/* SPDX-License-Identifier: MIT */
/* smolder diff: what grew and what shrank between two profiles. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../formats/flamegraph.h"
#include "../formats/report.h"
#include "../lib/log.h"
#include "../lib/parse.h"
#include "commands.h"
#include "output.h"

#define CMD "smolder diff"

static const char usage[] =
	"usage: smolder diff BASE NEW [-o DIFF.svg] [--top N] [--negate] [--cum]\n"
	"                    [--lines] [--colorblind] [flame graph options]\n"
	"\n"
	"Compare two profiles (pprof, folded, perf script or speedscope, from\n"
	"smolder or others), each normalised to its own total. Prints the\n"
	"functions whose flat and cumulative share changed most, and with -o\n"
	"draws a differential flame graph: NEW's shape, red where a frame's\n"
	"share grew, blue where it shrank, stronger for larger changes.\n"
	"\n"
	"  -o, --output FILE     the differential flame graph (.svg)\n"
	"  -n, --top N           rows in the table (default 20; 0: all)\n"
	"      --negate          draw BASE's shape instead, so that frames\n"
	"                        only in BASE show (still NEW minus BASE)\n"
	"      --cum             rank the table by cumulative change only\n"
	"      --lines           one row per function and source line\n"
	"      --colorblind      orange instead of red for growth\n"
	"      --title, --subtitle, --width, --height, --minwidth, --icicle,\n"
	"      --reverse, --colors, --value: as for smolder flamegraph\n"
	"  -h, --help            show this help\n";

enum { OPT_NEGATE = FG_OPT__END, OPT_CUM, OPT_LINES, OPT_COLORBLIND };

static const struct option long_opts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "top", required_argument, NULL, 'n' },
	{ "negate", no_argument, NULL, OPT_NEGATE },
	{ "cum", no_argument, NULL, OPT_CUM },
	{ "lines", no_argument, NULL, OPT_LINES },
	{ "colorblind", no_argument, NULL, OPT_COLORBLIND },
	FG_LONG_OPTIONS,
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

int cmd_diff(int argc, char **argv)
{
	struct fg_opts fg = { .min_width = -1, .value_index = -1 };
	struct report_opts ro = { .top = 20, .value_index = -1 };
	const char *out_path = NULL, *value_name = NULL;
	struct profile *base = NULL, *new = NULL;
	struct output out;
	bool negate = false;
	int opt, r, err, status = 1;
	long v;

	log_set_prefix(CMD);
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":o:n:h", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			out_path = optarg;
			break;
		case 'n':
			if (parse_long(optarg, 0, 1000000, &v))
				return usage_error(CMD, "invalid value for --top:"
						   " '%s' (expected 0 or more)",
						   optarg);
			ro.top = (int)v;
			break;
		case OPT_NEGATE:
			negate = true;
			break;
		case OPT_CUM:
			ro.cum = true;
			break;
		case OPT_LINES:
			ro.lines = true;
			break;
		case OPT_COLORBLIND:
			fg.colorblind = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case ':':
		case '?':
			return option_error(CMD, opt, argv);
		default:
			r = fg_parse_option(CMD, opt, optarg, &fg, &value_name);
			if (r)
				return r == 1 ? option_error(CMD, '?', argv) : r;
		}
	}
	if (argc - optind != 2)
		return usage_error(CMD, "needs two profiles: BASE and NEW");
	if (out_path && output_format_for(out_path, OUTPUT_SVG,
					  &(enum output_format){ 0 }))
		return usage_error(CMD, "cannot tell the format of '%s' (use .svg)",
				   out_path);

	if (input_load(argv[optind], &base) || input_load(argv[optind + 1], &new))
		goto out;
	if (value_name) {
		int vb = fg_value_index(argv[optind], base, value_name);
		int vn = fg_value_index(argv[optind + 1], new, value_name);

		if (vb < 0 || vn < 0)
			goto out;
		/* The same type may sit at different indexes; the report and
		 * the graph look it up in each by name. */
		fg.value_index = ro.value_index = -1;
		base->default_sample_type = base->sample_types[vb].type;
		new->default_sample_type = new->sample_types[vn].type;
	}
	if (out_path && output_open(&out, out_path, OUTPUT_SVG))
		goto out;
	err = report_diff_write(base, new, &ro, stdout);
	if (err) {
		log_err("cannot write the table: %s", strerror(-err));
		if (out_path)
			output_abort(&out);
		goto out;
	}
	if (out_path) {
		if (out.format != OUTPUT_SVG) {
			log_err("a diff is drawn as .svg only, not '%s'", out_path);
			output_abort(&out);
			goto out;
		}
		err = flamegraph_diff_write(base, new, negate, &fg, out.f);
		if (err) {
			log_err("cannot write '%s': %s", out_path, strerror(-err));
			output_abort(&out);
			goto out;
		}
		if (output_commit(&out))
			goto out;
	}
	status = 0;
out:
	profile_free(base);
	profile_free(new);
	return status;
}
