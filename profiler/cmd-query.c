/* SPDX-License-Identifier: MIT */
/* smolder query: merge the agent's windows in a time range into one profile. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/clock.h"
#include "../lib/log.h"
#include "../lib/parse.h"
#include "../lib/xalloc.h"
#include "agent.h"
#include "commands.h"
#include "output.h"
#include "store.h"

#define CMD "smolder query"
#define MAX_FILTERS 32

static const char usage[] =
	"usage: smolder query [--store DIR] [--from TIME] [--until TIME]\n"
	"                     [--label KEY=VALUE]... [-o FILE] [--list]\n"
	"\n"
	"Merge the windows the agent wrote between two times into one profile,\n"
	"keeping only the samples whose labels match every --label.\n"
	"\n"
	"  -s, --store DIR        the agent's store (default " AGENT_DEFAULT_STORE ")\n"
	"      --from TIME        from (default -1h); TIME is now, -1h, -30m,\n"
	"                         -7d, @UNIXSECONDS or RFC 3339\n"
	"                         (2026-12-02T05:00:00Z, ...+01:00)\n"
	"      --until TIME       until (default now)\n"
	"  -l, --label KEY=VALUE  only samples with this label (pid, tid, comm,\n"
	"                         thread_name, exe, cgroup, container_id,\n"
	"                         systemd_unit, host); repeatable: all must match\n"
	"  -o, --output FILE      where to write; the suffix picks the format:\n"
	"                         .pb.gz, .svg, .folded, .json; - is folded on\n"
	"                         standard output (the default)\n"
	"      --list             list the matching windows instead\n"
	"      --check            check the store: every window reads back\n"
	"                         complete and the index agrees with the files\n"
	"  -h, --help             show this help\n";

enum { OPT_FROM = 256, OPT_UNTIL, OPT_LIST, OPT_CHECK };

static const struct option long_opts[] = {
	{ "store", required_argument, NULL, 's' },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "label", required_argument, NULL, 'l' },
	{ "output", required_argument, NULL, 'o' },
	{ "list", no_argument, NULL, OPT_LIST },
	{ "check", no_argument, NULL, OPT_CHECK },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

static void fmt_time(int64_t ns, char *buf, size_t n)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + strlen(buf), n - strlen(buf), ".%03dZ",
		 (int)(ns / 1000000 % 1000));
}

static bool entry_wanted(const struct store_entry *e, int64_t from,
			 int64_t until, const struct profile_label_filter *f,
			 size_t nf)
{
	if (e->end_ns <= from || e->start_ns >= until)
		return false;
	for (size_t i = 0; i < nf; i++)
		if (!store_entry_may_match(e, f[i].key, f[i].value))
			return false;
	return true;
}

int cmd_query(int argc, char **argv)
{
	const char *dir = AGENT_DEFAULT_STORE, *from_s = "-1h", *until_s = "now";
	const char *out_path = "-";
	struct profile_label_filter filters[MAX_FILTERS];
	size_t nf = 0, used = 0, skipped = 0, inrange = 0;
	uint64_t samples = 0;
	int64_t now = (int64_t)clock_ns(CLOCK_REALTIME), from, until;
	struct store *st = NULL;
	struct profile *merged = NULL;
	bool list = false, check = false;
	struct output out;
	int opt, err, status = 1;

	log_set_prefix(CMD);
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":s:l:o:h", long_opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			dir = optarg;
			break;
		case OPT_FROM:
			from_s = optarg;
			break;
		case OPT_UNTIL:
			until_s = optarg;
			break;
		case 'l': {
			char *eq = strchr(optarg, '=');

			if (!eq || eq == optarg)
				return usage_error(CMD, "invalid label '%s'"
						   " (expected KEY=VALUE)", optarg);
			if (nf == MAX_FILTERS)
				return usage_error(CMD, "at most %d labels",
						   MAX_FILTERS);
			filters[nf].key = xstrndup(optarg, (size_t)(eq - optarg));
			filters[nf].value = eq + 1;
			nf++;
			break;
		}
		case 'o':
			out_path = optarg;
			break;
		case OPT_LIST:
			list = true;
			break;
		case OPT_CHECK:
			check = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return option_error(CMD, opt, argv);
		}
	}
	if (optind < argc)
		return usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	if (check) {
		size_t nfiles, unindexed;
		int problems = store_check(dir, &nfiles, &unindexed);

		printf("%zu windows; %d problem%s; %zu not in the index yet\n",
		       nfiles, problems, problems == 1 ? "" : "s", unindexed);
		return problems ? 1 : 0;
	}
	if (parse_time(from_s, now, &from))
		return usage_error(CMD, "invalid time for --from: '%s' (expected"
				   " now, -1h, @UNIXSECONDS or RFC 3339)", from_s);
	if (parse_time(until_s, now, &until))
		return usage_error(CMD, "invalid time for --until: '%s' (expected"
				   " now, -1h, @UNIXSECONDS or RFC 3339)", until_s);
	if (until <= from)
		return usage_error(CMD, "--until (%s) is not after --from (%s)",
				   until_s, from_s);
	if (!list && output_format_for(out_path, OUTPUT_FOLDED,
				       &(enum output_format){ 0 }))
		return usage_error(CMD, "cannot tell the format of '%s' (use a"
				   " suffix: %s)", out_path, output_suffixes);

	if (store_open(dir, false, &st))
		goto out;
	if (list) {
		char a[40], b[40];

		for (size_t i = 0; i < store_count(st); i++) {
			const struct store_entry *e = store_get(st, i);

			if (!entry_wanted(e, from, until, filters, nf))
				continue;
			fmt_time(e->start_ns, a, sizeof(a));
			fmt_time(e->end_ns, b, sizeof(b));
			printf("%s  %s  %8" PRIu64 " samples  %8" PRIu64
			       " bytes  %s\n", a, b, e->samples, e->bytes,
			       e->file);
		}
		status = 0;
		goto out;
	}

	merged = profile_new();
	for (size_t i = 0; i < store_count(st); i++) {
		const struct store_entry *e = store_get(st, i);
		struct format_error ferr = { { 0 } };
		struct profile *p = NULL;

		if (e->end_ns <= from || e->start_ns >= until)
			continue;
		inrange++;
		if (!entry_wanted(e, from, until, filters, nf)) {
			skipped++;
			continue;
		}
		err = store_read(st, e, &p, &ferr);
		if (err == -ENOENT) {
			continue; /* deleted by retention since the index was read */
		} else if (err) {
			log_warn("window '%s' left out: %s", e->file, ferr.msg);
			continue;
		}
		err = profile_merge(merged, p, filters, nf, NULL);
		profile_free(p);
		if (err) {
			log_warn("window '%s' left out: its sample types differ"
				 " from the others'", e->file);
			continue;
		}
		used++;
	}
	{
		int col = profile_sample_type_index(merged, "samples");

		samples = merged->nsample_types ?
			(uint64_t)profile_total(merged, col < 0 ? 0 : col) : 0;
	}
	if (!used) {
		log_err("no window of '%s' matches (%zu in the time range%s)",
			dir, inrange, nf ? ", none with those labels" : "");
		goto out;
	}
	if (output_open(&out, out_path, OUTPUT_FOLDED))
		goto out;
	err = output_write(&out, merged, NULL, "smolder query");
	if (err) {
		log_err("cannot write '%s': %s", out_path, strerror(-err));
		output_abort(&out);
		goto out;
	}
	if (output_commit(&out))
		goto out;
	fprintf(stderr, "%s: %zu window%s (%zu in the range, %zu skipped by the"
		" index), %" PRIu64 " samples matched -> %s\n", CMD, used,
		used == 1 ? "" : "s", inrange, skipped, samples,
		strcmp(out_path, "-") ? out_path : "standard output");
	status = 0;
out:
	for (size_t i = 0; i < nf; i++)
		free((char *)filters[i].key);
	profile_free(merged);
	store_close(st);
	return status;
}
