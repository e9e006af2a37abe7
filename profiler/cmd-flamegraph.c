/* SPDX-License-Identifier: MIT */
/* smolder flamegraph: an SVG flame graph from any profile file. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../formats/flamegraph.h"
#include "../lib/log.h"
#include "../lib/parse.h"
#include "commands.h"
#include "output.h"

static const char usage[] =
	"usage: smolder flamegraph IN|- [-o OUT.svg] [--title T] [--subtitle S]\n"
	"                          [--width PX] [--height PX] [--minwidth PX]\n"
	"                          [--icicle] [--reverse] [--flamechart]\n"
	"                          [--colors PALETTE] [--value TYPE]\n"
	"\n"
	"Draw an interactive SVG flame graph from a profile: pprof (gzipped or\n"
	"not), folded stacks, perf script output or speedscope JSON, recognised\n"
	"by content. IN - reads standard input, so perf users can run\n"
	"  perf script | smolder flamegraph - -o out.svg\n"
	"\n"
	"  -o, --output FILE     where to write (default: standard output)\n"
	"      --title TEXT      the title (default \"Flame Graph\")\n"
	"      --subtitle TEXT   a second line under the title\n"
	"      --width PX        image width (default 1200)\n"
	"      --height PX       height of one frame (default 16)\n"
	"      --minwidth PX     frames narrower than this merge into one\n"
	"                        remainder frame per parent (default 0.1)\n"
	"      --icicle          root at the top\n"
	"      --reverse         stacks leaf first: merge by the leaf\n"
	"      --flamechart      keep the samples' order instead of sorting\n"
	"      --colors PALETTE  kind (by frame kind, the default), hot, mem,\n"
	"                        io, red, green, blue, aqua, yellow, purple,\n"
	"                        orange\n"
	"      --value TYPE      the sample type to draw (default: the\n"
	"                        profile's default, e.g. cpu)\n"
	"  -h, --help            show this help\n";

static const struct option long_opts[] = {
	{ "output", required_argument, NULL, 'o' },
	FG_LONG_OPTIONS,
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

#define CMD "smolder flamegraph"

int fg_parse_option(const char *cmd, int opt, const char *arg,
		    struct fg_opts *fg, const char **value_name)
{
	long v;
	double d;
	char *end;

	switch (opt) {
	case FG_OPT_TITLE:
		fg->title = arg;
		return 0;
	case FG_OPT_SUBTITLE:
		fg->subtitle = arg;
		return 0;
	case FG_OPT_WIDTH:
		if (parse_long(arg, 100, 100000, &v))
			return usage_error(cmd, "invalid value for --width: '%s'"
					   " (expected 100..100000 pixels)", arg);
		fg->width = (unsigned)v;
		return 0;
	case FG_OPT_HEIGHT:
		if (parse_long(arg, 4, 200, &v))
			return usage_error(cmd, "invalid value for --height: '%s'"
					   " (expected 4..200 pixels)", arg);
		fg->frame_height = (unsigned)v;
		fg->font_size = (unsigned)(v * 3 / 4 < 4 ? 4 : v * 3 / 4);
		return 0;
	case FG_OPT_MINWIDTH:
		d = strtod(arg, &end);
		if (end == arg || *end || !(d >= 0) || d > 10000)
			return usage_error(cmd, "invalid value for --minwidth:"
					   " '%s' (expected pixels, 0..10000)", arg);
		fg->min_width = d;
		return 0;
	case FG_OPT_ICICLE:
		fg->icicle = true;
		return 0;
	case FG_OPT_REVERSE:
		fg->reverse = true;
		return 0;
	case FG_OPT_FLAMECHART:
		fg->flamechart = true;
		return 0;
	case FG_OPT_COLORS: {
		int pal = fg_palette_from_name(arg);

		if (pal < 0)
			return usage_error(cmd, "invalid value for --colors: '%s'"
					   " (expected one of: %s)", arg,
					   fg_palette_names);
		fg->palette = (enum fg_palette)pal;
		return 0;
	}
	case FG_OPT_VALUE:
		*value_name = arg;
		return 0;
	}
	return 1;
}

int fg_value_index(const char *path, const struct profile *p, const char *name)
{
	int i;

	if (!name)
		return -1;
	i = profile_sample_type_index(p, name);
	if (i < 0) {
		char types[256] = "";

		for (size_t t = 0; t < p->nsample_types; t++) {
			strncat(types, t ? ", " : "", sizeof(types) - strlen(types) - 1);
			strncat(types, profile_str(p, p->sample_types[t].type),
				sizeof(types) - strlen(types) - 1);
		}
		log_err("'%s' has no sample type '%s' (it has: %s)", path, name,
			types);
		return -2;
	}
	return i;
}

int cmd_flamegraph(int argc, char **argv)
{
	struct fg_opts fg = { .min_width = -1, .value_index = -1 };
	const char *out_path = "-", *value_name = NULL;
	struct profile *p = NULL;
	struct output out;
	int opt, r, err;

	log_set_prefix(CMD);
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":o:h", long_opts, NULL)) != -1) {
		if (opt == 'o') {
			out_path = optarg;
		} else if (opt == 'h') {
			fputs(usage, stdout);
			return 0;
		} else if (opt == ':' || opt == '?') {
			return option_error(CMD, opt, argv);
		} else if ((r = fg_parse_option(CMD, opt, optarg, &fg, &value_name)) != 0) {
			return r == 1 ? option_error(CMD, '?', argv) : r;
		}
	}
	if (optind >= argc)
		return usage_error(CMD, "no input file (use - for standard input)");
	if (optind + 1 < argc)
		return usage_error(CMD, "one input file only, not '%s'",
				   argv[optind + 1]);
	if (strcmp(out_path, "-") && output_format_for(out_path, OUTPUT_SVG,
						       &(enum output_format){ 0 }))
		return usage_error(CMD, "cannot tell the format of '%s' (use .svg)",
				   out_path);

	if (input_load(argv[optind], &p))
		return 1;
	fg.value_index = fg_value_index(argv[optind], p, value_name);
	if (fg.value_index == -2) {
		profile_free(p);
		return 1;
	}
	if (output_open(&out, out_path, OUTPUT_SVG)) {
		profile_free(p);
		return 1;
	}
	err = output_write(&out, p, &fg, argv[optind]);
	profile_free(p);
	if (err) {
		log_err("cannot write '%s': %s", out_path, strerror(-err));
		output_abort(&out);
		return 1;
	}
	return output_commit(&out) ? 1 : 0;
}
