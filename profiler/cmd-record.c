/* SPDX-License-Identifier: MIT */
/* smolder record: sample stacks for a while and write a profile. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../lib/parse.h"
#include "../lib/strbuf.h"
#include "../lib/xalloc.h"
#include "commands.h"
#include "output.h"
#include "preflight.h"
#include "record.h"

#define DEFAULT_FREQ 99
#define MAX_FREQ 10000
#define DEFAULT_OUTPUT "smolder.folded"

static const char usage[] =
	"usage: smolder record [-a] [-p PID[,PID...]] [-F HZ] [-d SECONDS] [-o FILE]\n"
	"                      [--no-kernel | --no-user] [-v] [-- CMD [ARGS...]]\n"
	"\n"
	"Sample the kernel and user stacks of what runs on every CPU, and write\n"
	"a profile.\n"
	"\n"
	"  -a, --all-cpus        every process on every CPU, the idle task\n"
	"                        included (the default)\n"
	"  -p, --pid PID,...     only these processes, all their threads\n"
	"  -- CMD [ARGS...]      start CMD, sample it and its children until it\n"
	"                        exits, and exit with its status\n"
	"  -F, --freq HZ         samples per second on each CPU, 1..10000\n"
	"                        (default 99)\n"
	"  -d, --duration TIME   stop after TIME (\"10\", \"10s\", \"500ms\", \"2m\");\n"
	"                        without it, stop at Ctrl-C or SIGTERM, or when\n"
	"                        CMD exits (CMD gets SIGTERM when TIME ends)\n"
	"  -o, --output FILE     where to write; the suffix picks the format:\n"
	"                        .pb.gz (pprof), .folded (collapsed stacks),\n"
	"                        .svg (flame graph), .json (speedscope);\n"
	"                        - is folded on standard output; repeat -o\n"
	"                        for several (default " DEFAULT_OUTPUT ")\n"
	"      --no-kernel       leave out kernel stacks\n"
	"      --no-user         leave out user stacks\n"
	"      --max-stacks N    distinct stacks kept in the kernel (default 16384)\n"
	"      --max-entries N   distinct (thread, stack) entries (default 32768)\n"
	"      --unwind MODE     how user stacks are walked: dwarf (the\n"
	"                        objects' unwind tables, in the kernel; frame\n"
	"                        pointers where an object has none), fp (frame\n"
	"                        pointers only) or copy (a copy of the stack\n"
	"                        unwound by smolder with libdw, as perf\n"
	"                        --call-graph dwarf does) (default dwarf)\n"
	"      --stack-copy-size BYTES  user stack copied per sample with\n"
	"                        --unwind copy, and in dwarf mode before a\n"
	"                        process's tables are loaded: 4096..65536, a\n"
	"                        multiple of 4096 (default 16384)\n"
	"      --max-unwind-rows N  room for unwind table rows, 8 bytes each\n"
	"                        (default 2097152)\n"
	"  -v, --verbose         say more (-vv: debug)\n"
	"  -h, --help            show this help\n"
	"\n"
	"On exit a summary goes to standard error: samples, processes,\n"
	"duration, and every count of samples or frames that were lost.\n";

enum {
	OPT_NO_KERNEL = 256,
	OPT_NO_USER,
	OPT_MAX_STACKS,
	OPT_MAX_ENTRIES,
	OPT_UNWIND,
	OPT_MAX_UNWIND_ROWS,
	OPT_STACK_COPY_SIZE,
};

static const struct option long_opts[] = {
	{ "all-cpus", no_argument, NULL, 'a' },
	{ "pid", required_argument, NULL, 'p' },
	{ "freq", required_argument, NULL, 'F' },
	{ "duration", required_argument, NULL, 'd' },
	{ "output", required_argument, NULL, 'o' },
	{ "no-kernel", no_argument, NULL, OPT_NO_KERNEL },
	{ "no-user", no_argument, NULL, OPT_NO_USER },
	{ "max-stacks", required_argument, NULL, OPT_MAX_STACKS },
	{ "max-entries", required_argument, NULL, OPT_MAX_ENTRIES },
	{ "unwind", required_argument, NULL, OPT_UNWIND },
	{ "max-unwind-rows", required_argument, NULL, OPT_MAX_UNWIND_ROWS },
	{ "stack-copy-size", required_argument, NULL, OPT_STACK_COPY_SIZE },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

/* The process (thread group) a pid belongs to; -ESRCH when there is none. */
static int tgid_of(long pid, long *tgid)
{
	char path[64], line[256];
	FILE *f;
	int err = -ESRCH;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -ESRCH;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Tgid:", 5)) {
			*tgid = strtol(line + 5, NULL, 10);
			err = *tgid > 0 ? 0 : -ESRCH;
			break;
		}
	fclose(f);
	return err;
}

static int parse_pids(const char *arg, int **pids, size_t *npids)
{
	char *copy = xstrdup(arg), *save = NULL, *tok;
	size_t alloc = 0;
	int err = 0;

	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		long pid;

		if (parse_long(tok, 1, 0x3fffffff, &pid)) {
			err = -EINVAL;
			break;
		}
		ALLOC_GROW(*pids, *npids + 1, alloc);
		(*pids)[(*npids)++] = (int)pid;
	}
	if (!*npids)
		err = -EINVAL;
	free(copy);
	return err;
}

/* Resolve the -p list to distinct live processes. 0, or 1 after a message. */
static int check_pids(int *pids, size_t *npids)
{
	size_t out = 0;

	for (size_t i = 0; i < *npids; i++) {
		long tgid;
		bool dup = false;

		if (tgid_of(pids[i], &tgid)) {
			log_err("no process with pid %d (check the pid with ps)",
				pids[i]);
			return 1;
		}
		if (tgid != pids[i])
			log_warn("%d is a thread of process %ld: sampling all of"
				 " that process", pids[i], tgid);
		for (size_t j = 0; j < out; j++)
			dup |= pids[j] == tgid;
		if (!dup)
			pids[out++] = (int)tgid;
	}
	*npids = out;
	return 0;
}

static void add_count(struct strbuf *sb, const char *what, uint64_t n)
{
	if (!n)
		return;
	strbuf_adds(sb, sb->len ? ", " : "");
	strbuf_addf(sb, "%s %llu", what, (unsigned long long)n);
}

static void print_summary(const struct record_result *r, unsigned freq,
			  const char *out)
{
	const uint64_t *c = r->counters;
	struct strbuf drops = STRBUF_INIT;

	add_count(&drops, "counts map full", c[CNT_COUNTS_FULL]);
	add_count(&drops, "stack map full", c[CNT_STACKS_FULL]);
	add_count(&drops, "stack map collisions", c[CNT_STACK_COLLISION]);
	add_count(&drops, "stacks lost",
		  r->drain.missing_stacks + r->drain.bad_stacks);
	add_count(&drops, "truncated stacks",
		  c[CNT_KSTACK_TRUNC] + c[CNT_USTACK_TRUNC]);
	add_count(&drops, "unreadable kernel stacks", c[CNT_KSTACK_ERR]);
	add_count(&drops, "unreadable user stacks", c[CNT_USTACK_ERR]);
	add_count(&drops, "process events lost", c[CNT_EVENTS_LOST]);
	add_count(&drops, "process table full", c[CNT_PROCS_FULL]);
	add_count(&drops, "children not followed", c[CNT_TARGETS_FULL]);
	add_count(&drops, "samples before their process's unwind tables"
		  " (frame pointers)", c[CNT_UNW_NO_TABLES]);
	add_count(&drops, "stacks cut at unsupported unwind rules",
		  c[CNT_UNW_UNSUPPORTED]);
	add_count(&drops, "stacks cut at unreadable frames", c[CNT_UNW_FAILED]);
	add_count(&drops, "stack copies lost", c[CNT_COPIES_LOST]);
	add_count(&drops, "copied stacks cut short", r->copies.cut);
	add_count(&drops, "unwind tables that did not fit",
		  r->unwind.no_room);
	add_count(&drops, "mappings past the per-process limit",
		  r->unwind.mappings_over);
	add_count(&drops, "processes gone before their maps were read",
		  r->procs.missed);
	add_count(&drops, "samples in unknown mappings", r->build.unknown_mapping);
	add_count(&drops, "samples with unresolved frames", r->build.unresolved);

	fprintf(stderr, "%s: %llu sample%s, %llu process%s, %.2f s on %u CPU%s"
		" at %u Hz -> %s%s%s\n",
		log_get_prefix(), (unsigned long long)r->build.samples,
		r->build.samples == 1 ? "" : "s",
		(unsigned long long)r->build.processes,
		r->build.processes == 1 ? "" : "es", r->duration_s, r->ncpus,
		r->ncpus == 1 ? "" : "s", freq, out, drops.len ? "; " : "",
		drops.buf);
	strbuf_release(&drops);
}

/* "host, 2026-11-21 10:00:00, 5.00 s at 99 Hz, 990 samples" */
static void describe(const struct record_result *r, const struct record_opts *o,
		     char *buf, size_t len)
{
	char host[128] = "", when[64] = "";
	time_t t = (time_t)(r->profile->time_nanos / 1000000000);
	struct tm tm;

	gethostname(host, sizeof(host) - 1);
	if (localtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf, len, "%s%s%s, %.2f s at %u Hz, %llu samples",
		 host, *host ? ", " : "", when, r->duration_s, o->freq_hz,
		 (unsigned long long)r->build.samples);
}

int cmd_record(int argc, char **argv)
{
	struct record_opts o = {
		.freq_hz = DEFAULT_FREQ,
		.kernel_stacks = true,
		.user_stacks = true,
	};
#define MAX_OUTPUTS 8
	const char *paths[MAX_OUTPUTS];
	struct output outs[MAX_OUTPUTS];
	size_t nout = 0, nopen = 0;
	struct strbuf written = STRBUF_INIT;
	struct record_result res;
	struct fg_opts fg = { .min_width = -1, .value_index = -1 };
	char subtitle[256];
	int *pids = NULL;
	size_t npids = 0;
	bool all = false;
	int verbose = log_get_level(), opt, err, status;
	long v;

	log_set_prefix("smolder record");
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+:ap:F:d:o:vh", long_opts,
				  NULL)) != -1) {
		switch (opt) {
		case 'a':
			all = true;
			break;
		case 'p':
			if (parse_pids(optarg, &pids, &npids))
				return usage_error("smolder record",
					"invalid value for -p: '%s' (expected"
					" PID[,PID...])", optarg);
			break;
		case 'F':
			if (parse_long(optarg, 1, MAX_FREQ, &v))
				return usage_error("smolder record",
					"invalid value for -F: '%s' (expected"
					" 1..%d Hz)", optarg, MAX_FREQ);
			o.freq_hz = (unsigned)v;
			break;
		case 'd':
			if (parse_duration(optarg, &o.duration_s))
				return usage_error("smolder record",
					"invalid value for -d: '%s' (expected"
					" a positive time such as 10, 2.5s or"
					" 500ms)", optarg);
			break;
		case 'o':
			if (nout == MAX_OUTPUTS)
				return usage_error("smolder record", "at most %d"
						   " outputs (-o)", MAX_OUTPUTS);
			paths[nout++] = optarg;
			break;
		case OPT_NO_KERNEL:
			o.kernel_stacks = false;
			break;
		case OPT_NO_USER:
			o.user_stacks = false;
			break;
		case OPT_MAX_STACKS:
		case OPT_MAX_ENTRIES:
			if (parse_long(optarg, 64, 1 << 24, &v))
				return usage_error("smolder record",
					"invalid value for --%s: '%s' (expected"
					" 64..16777216)",
					opt == OPT_MAX_STACKS ? "max-stacks" :
								"max-entries",
					optarg);
			if (opt == OPT_MAX_STACKS)
				o.max_stacks = (uint32_t)v;
			else
				o.max_counts = (uint32_t)v;
			break;
		case OPT_UNWIND:
			if (!strcmp(optarg, "dwarf"))
				o.unwind = UNWIND_DWARF;
			else if (!strcmp(optarg, "fp"))
				o.unwind = UNWIND_FP;
			else if (!strcmp(optarg, "copy"))
				o.unwind = UNWIND_COPY;
			else
				return usage_error("smolder record",
					"invalid value for --unwind: '%s'"
					" (expected dwarf, fp or copy)", optarg);
			break;
		case OPT_STACK_COPY_SIZE:
			if (parse_long(optarg, 4096, SM_COPY_MAX_BYTES, &v) ||
			    v % 4096)
				return usage_error("smolder record",
					"invalid value for --stack-copy-size:"
					" '%s' (expected a multiple of 4096"
					" from 4096 to %d)", optarg,
					SM_COPY_MAX_BYTES);
			o.copy_bytes = (uint32_t)v;
			break;
		case OPT_MAX_UNWIND_ROWS:
			if (parse_long(optarg, 1024, 1 << 26, &v))
				return usage_error("smolder record",
					"invalid value for --max-unwind-rows:"
					" '%s' (expected 1024..67108864)",
					optarg);
			o.unwind_rows = (uint32_t)v;
			break;
		case 'v':
			log_set_level(++verbose > LOG_DEBUG ? LOG_DEBUG : verbose);
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return option_error("smolder record", opt, argv);
		}
	}
	if (optind < argc)
		o.cmd = &argv[optind];
	if (!o.kernel_stacks && !o.user_stacks)
		return usage_error("smolder record", "--no-kernel and --no-user"
				   " leave nothing to sample");
	if (all && (npids || o.cmd))
		return usage_error("smolder record", "-a samples everything: it"
				   " cannot be combined with -p or a command");
	if (npids && o.cmd)
		return usage_error("smolder record", "-p and a command cannot"
				   " be combined");
	if (!nout)
		paths[nout++] = DEFAULT_OUTPUT;
	for (size_t i = 0; i < nout; i++)
		if (output_format_for(paths[i], OUTPUT_FOLDED,
				      &(enum output_format){ 0 }))
			return usage_error("smolder record", "cannot tell the"
					   " format of '%s' (use a suffix: %s)",
					   paths[i], output_suffixes);

	if (preflight_bpf())
		return 1;
	if (npids && check_pids(pids, &npids)) {
		free(pids);
		return 1;
	}
	o.pids = pids;
	o.npids = npids;
	/* Every output is checked (and created) before sampling starts. */
	for (; nopen < nout; nopen++)
		if (output_open(&outs[nopen], paths[nopen], OUTPUT_FOLDED)) {
			while (nopen--)
				output_abort(&outs[nopen]);
			free(pids);
			return 1;
		}

	err = record_run(&o, &res);
	free(pids);
	if (err) {
		for (size_t i = 0; i < nout; i++)
			output_abort(&outs[i]);
		return err == -ENOEXEC ? 127 : 1;
	}
	for (int i = 0; i < CNT__MAX; i++)
		log_debug("counter %d: %llu", i,
			  (unsigned long long)res.counters[i]);
	if (res.stop == STOP_TARGETS_EXITED)
		log_info("every target process exited");
	log_info("%llu samples taken: %llu counted in the kernel, %llu sent"
		 " with a stack copy, %llu dropped",
		 (unsigned long long)res.counters[CNT_SAMPLES],
		 (unsigned long long)res.counters[CNT_RECORDED],
		 (unsigned long long)res.counters[CNT_COPIED],
		 (unsigned long long)res.counters[CNT_COUNTS_FULL]);
	if (o.user_stacks && o.unwind == UNWIND_DWARF)
		log_info("unwinding: %llu tables (%llu rows, %.1f MiB, built in"
			 " %.1f ms), %llu rows loaded at most of %u; %llu samples"
			 " walked in the kernel, %llu from stack copies",
			 (unsigned long long)res.sym.unwind_tables,
			 (unsigned long long)res.sym.unwind_rows,
			 (double)res.sym.unwind_rows * 8 / (1 << 20),
			 (double)res.sym.unwind_build_ns / 1e6,
			 (unsigned long long)res.unwind.rows_peak,
			 res.unwind.rows_capacity,
			 (unsigned long long)res.counters[CNT_UNW_WALKED],
			 (unsigned long long)res.copies.samples);
	if (o.user_stacks && o.unwind == UNWIND_COPY)
		log_info("unwinding: %llu stack copies (%.1f MiB), unwound in"
			 " %.1f ms", (unsigned long long)res.copies.samples,
			 (double)res.copies.bytes / (1 << 20),
			 (double)res.copies.unwind_ns / 1e6);
	if (res.kernel_problem && res.counters[CNT_RECORDED])
		log_warn("kernel frames are unresolved: %s", res.kernel_problem);
	if (!res.build.samples)
		log_warn("no samples were recorded%s",
			 npids ? " (were the processes idle?)" : "");

	status = 0;
	describe(&res, &o, subtitle, sizeof(subtitle));
	fg.subtitle = subtitle;
	for (size_t i = 0; i < nout; i++) {
		err = output_write(&outs[i], res.profile, &fg, subtitle);
		if (err) {
			log_err("cannot write '%s': %s", paths[i], strerror(-err));
			output_abort(&outs[i]);
			status = 1;
		} else if (output_commit(&outs[i])) {
			status = 1;
		} else {
			strbuf_addf(&written, "%s'%s'", written.len ? ", " : "",
				    strcmp(paths[i], "-") ? paths[i] :
							    "standard output");
		}
	}
	if (written.len)
		print_summary(&res, o.freq_hz, written.buf);
	strbuf_release(&written);
	if (res.cmd_ran && !status)
		status = res.cmd_status;
	record_result_release(&res);
	return status;
}
