/* SPDX-License-Identifier: MIT */
/* smolder agent: always-on profiling in windows, into a local store. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "agent.h"
#include "commands.h"
#include "preflight.h"

#define CMD "smolder agent"

static const char usage[] =
	"usage: smolder agent [--store DIR] [--window SECONDS] [-F HZ]\n"
	"                     [--retention AGE] [--max-store-size SIZE]\n"
	"                     [--pid PID,...] [--cgroup PATH]... [--config FILE]\n"
	"       smolder agent --status [--store DIR]\n"
	"\n"
	"Profile this host all the time: sample every CPU, and every window of\n"
	"a few seconds write one pprof profile (zstd) to the store, with pid,\n"
	"tid, comm, exe, cgroup, container_id, systemd_unit and host labels on\n"
	"every sample. Read it back with smolder query.\n"
	"\n"
	"  -s, --store DIR        where windows go (default " AGENT_DEFAULT_STORE ")\n"
	"  -w, --window TIME      window length, 1s..1h (default 10s)\n"
	"  -F, --freq HZ          samples per second on each CPU (default 19)\n"
	"      --retention AGE    delete windows older than AGE (\"12h\", \"7d\";\n"
	"                         none: keep; default 7d)\n"
	"      --max-store-size SIZE  delete the oldest windows past SIZE\n"
	"                         (\"512M\", \"2G\"; none: no limit; default 1G)\n"
	"  -p, --pid PID,...      only these processes (filtered in the kernel)\n"
	"      --cgroup PATH      only tasks in this cgroup (v2) and below it,\n"
	"                         filtered in the kernel; a directory, or a path\n"
	"                         relative to the cgroup2 mount; repeatable.\n"
	"                         With --pid, what either lets in\n"
	"      --unwind MODE      dwarf (default), fp or copy, as for record\n"
	"      --max-unwind-rows N  room for unwind table rows, 8 bytes each\n"
	"                         (default 524288; the least recently used\n"
	"                         tables are evicted past it)\n"
	"      --max-symbol-cache SIZE  symbols and DWARF indexes kept in memory\n"
	"                         (default 32M; the least recently used\n"
	"                         objects' are dropped past it, read again\n"
	"                         when needed)\n"
	"      --no-kernel        leave out kernel stacks\n"
	"      --no-user          leave out user stacks\n"
	"      --hostname NAME    the host label (default: the host name)\n"
	"      --service NAME     the service_name label (default " AGENT_DEFAULT_SERVICE ")\n"
	"      --push URL         also send every window to this Pyroscope-\n"
	"                         compatible server (smolder serve, Grafana\n"
	"                         Pyroscope) as SERVICE{host=HOST}; windows\n"
	"                         wait in a spool under the store while it is\n"
	"                         down, and go oldest first when it is back\n"
	"      --push-token-file FILE  send 'Authorization: Bearer' with the\n"
	"                         token in FILE\n"
	"      --push-spool-size SIZE  cap of that spool (default 256M); past\n"
	"                         it the oldest windows are dropped, and counted\n"
	"  -c, --config FILE      read settings from FILE: one \"key = value\"\n"
	"                         per line, keys as the long options above\n"
	"                         (store, window, freq, retention, max-store-size,\n"
	"                         pid, cgroup, unwind, max-unwind-rows,\n"
	"                         max-symbol-cache, kernel, user, hostname,\n"
	"                         service, push, push-token-file,\n"
	"                         push-spool-size);\n"
	"                         options given here win over the file\n"
	"      --status           show the running agent's status and exit\n"
	"  -v, --verbose          say more (-vv: debug)\n"
	"  -h, --help             show this help\n"
	"\n"
	"SIGTERM and SIGINT write the window in progress and exit 0; SIGHUP\n"
	"writes it and reads the config file again. Logs go to standard error\n"
	"(with journald priorities under systemd).\n";

enum {
	OPT_RETENTION = 256,
	OPT_MAX_STORE,
	OPT_CGROUP,
	OPT_UNWIND,
	OPT_NO_KERNEL,
	OPT_NO_USER,
	OPT_HOSTNAME,
	OPT_STATUS,
	OPT_UNWIND_ROWS,
	OPT_SYMBOL_CACHE,
	OPT_SERVICE,
	OPT_PUSH,
	OPT_PUSH_TOKEN,
	OPT_PUSH_SPOOL,
};

static const struct option long_opts[] = {
	{ "store", required_argument, NULL, 's' },
	{ "window", required_argument, NULL, 'w' },
	{ "freq", required_argument, NULL, 'F' },
	{ "retention", required_argument, NULL, OPT_RETENTION },
	{ "max-store-size", required_argument, NULL, OPT_MAX_STORE },
	{ "pid", required_argument, NULL, 'p' },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "unwind", required_argument, NULL, OPT_UNWIND },
	{ "max-unwind-rows", required_argument, NULL, OPT_UNWIND_ROWS },
	{ "max-symbol-cache", required_argument, NULL, OPT_SYMBOL_CACHE },
	{ "no-kernel", no_argument, NULL, OPT_NO_KERNEL },
	{ "no-user", no_argument, NULL, OPT_NO_USER },
	{ "hostname", required_argument, NULL, OPT_HOSTNAME },
	{ "service", required_argument, NULL, OPT_SERVICE },
	{ "push", required_argument, NULL, OPT_PUSH },
	{ "push-token-file", required_argument, NULL, OPT_PUSH_TOKEN },
	{ "push-spool-size", required_argument, NULL, OPT_PUSH_SPOOL },
	{ "config", required_argument, NULL, 'c' },
	{ "status", no_argument, NULL, OPT_STATUS },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

int cmd_agent(int argc, char **argv)
{
	struct agent_config flags;
	const char *config = NULL;
	unsigned set = 0, bit;
	bool status = false;
	int verbose = log_get_level(), opt, err;
	char msg[512];

	log_set_prefix(CMD);
	agent_config_init(&flags);
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":s:w:F:p:c:vh", long_opts,
				  NULL)) != -1) {
		const char *key = NULL, *val = optarg;

		switch (opt) {
		case 's': key = "store"; break;
		case 'w': key = "window"; break;
		case 'F': key = "freq"; break;
		case 'p': key = "pid"; break;
		case OPT_RETENTION: key = "retention"; break;
		case OPT_MAX_STORE: key = "max-store-size"; break;
		case OPT_CGROUP: key = "cgroup"; break;
		case OPT_UNWIND: key = "unwind"; break;
		case OPT_UNWIND_ROWS: key = "max-unwind-rows"; break;
		case OPT_SYMBOL_CACHE: key = "max-symbol-cache"; break;
		case OPT_HOSTNAME: key = "hostname"; break;
		case OPT_SERVICE: key = "service"; break;
		case OPT_PUSH: key = "push"; break;
		case OPT_PUSH_TOKEN: key = "push-token-file"; break;
		case OPT_PUSH_SPOOL: key = "push-spool-size"; break;
		case OPT_NO_KERNEL: key = "kernel"; val = "no"; break;
		case OPT_NO_USER: key = "user"; val = "no"; break;
		case 'c':
			config = optarg;
			break;
		case OPT_STATUS:
			status = true;
			break;
		case 'v':
			log_set_level(++verbose > LOG_DEBUG ? LOG_DEBUG : verbose);
			break;
		case 'h':
			fputs(usage, stdout);
			agent_config_release(&flags);
			return 0;
		default:
			agent_config_release(&flags);
			return option_error(CMD, opt, argv);
		}
		if (!key)
			continue;
		if (agent_config_set(&flags, key, val, &bit, msg, sizeof(msg))) {
			agent_config_release(&flags);
			return usage_error(CMD, "%s", msg);
		}
		set |= bit;
	}
	if (optind < argc) {
		agent_config_release(&flags);
		return usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	}
	if (!flags.kernel_stacks && !flags.user_stacks) {
		agent_config_release(&flags);
		return usage_error(CMD, "--no-kernel and --no-user leave nothing"
				   " to sample");
	}
	if (status) {
		if (config && agent_config_load(&flags, config, set)) {
			agent_config_release(&flags);
			return 1;
		}
		err = agent_print_status(flags.store);
		agent_config_release(&flags);
		return err ? 1 : 0;
	}
	/* The agent's own messages say what it does: info unless -q. */
	if (verbose < LOG_INFO)
		log_set_level(LOG_INFO);
	if (preflight_bpf()) {
		agent_config_release(&flags);
		return 1;
	}
	err = agent_run(&flags, set, config);
	agent_config_release(&flags);
	return err ? 1 : 0;
}
