/* SPDX-License-Identifier: MIT */
/*
 * agent: always-on profiling of the whole host (or of some processes or
 * cgroups), cut into windows of a few seconds, each written to the store
 * as one profile with labels on every sample.
 *
 * Windows are cut without stopping the sampling: the BPF program writes
 * into one of two sets of maps, and a cut switches it to the other set
 * before the closed set is read (see sampler_switch_window), so no sample
 * falls between two windows or lands in both.
 */
#ifndef SMOLDER_AGENT_H
#define SMOLDER_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define AGENT_DEFAULT_STORE "/var/lib/smolder"
#define AGENT_DEFAULT_WINDOW_S 10.0
#define AGENT_DEFAULT_FREQ 19
#define AGENT_DEFAULT_RETENTION_S (7 * 86400.0)
#define AGENT_DEFAULT_MAX_STORE (1ull << 30)
#define AGENT_DEFAULT_UNWIND_ROWS (1u << 19)
#define AGENT_DEFAULT_SYMBOL_CACHE ((size_t)32 << 20)

struct agent_config {
	char *store;
	double window_s;
	unsigned freq_hz;
	double retention_s;          /* 0: no age limit */
	uint64_t max_store_bytes;    /* 0: no size limit */
	int *pids;                   /* only these processes (with cgroups:
					either); NULL: all */
	size_t npids;
	char **cgroups;              /* resolved cgroup directories */
	size_t ncgroups;
	enum unwind_mode unwind;
	uint32_t unwind_rows;        /* room for unwind table rows */
	size_t symbol_cache;         /* bytes of symbols and DWARF kept */
	bool kernel_stacks, user_stacks;
	char *hostname;              /* the "host" label; NULL: gethostname */
	char *status_file;           /* NULL: <store>/status.json */
	char *service;               /* the "service_name" label */
	char *push_url;              /* also send windows here; NULL: no */
	char *push_token_file;       /* NULL: no token */
	uint64_t push_spool_bytes;   /* cap of the push spool */
};

/* Which keys were set (by a flag, which then wins over the file). */
enum agent_key {
	AK_STORE = 1 << 0,
	AK_WINDOW = 1 << 1,
	AK_FREQ = 1 << 2,
	AK_RETENTION = 1 << 3,
	AK_MAX_STORE = 1 << 4,
	AK_PID = 1 << 5,
	AK_CGROUP = 1 << 6,
	AK_UNWIND = 1 << 7,
	AK_KERNEL = 1 << 8,
	AK_USER = 1 << 9,
	AK_HOSTNAME = 1 << 10,
	AK_UNWIND_ROWS = 1 << 11,
	AK_SYMBOL_CACHE = 1 << 12,
	AK_SERVICE = 1 << 13,
	AK_PUSH = 1 << 14,
	AK_PUSH_TOKEN = 1 << 15,
	AK_PUSH_SPOOL = 1 << 16,
};

#define AGENT_DEFAULT_SERVICE "smolder"

/* Defaults in every field. */
void agent_config_init(struct agent_config *c);
void agent_config_release(struct agent_config *c);
/*
 * Set one key (a long option's name without "--": "window", "freq",
 * "retention", "max-store-size", "pid", "cgroup", "unwind", "kernel",
 * "user", "store", "hostname", "max-unwind-rows", "max-symbol-cache",
 * "service", "push", "push-token-file", "push-spool-size")
 * from its text. Returns 0, or -EINVAL with
 * a message naming the problem in errbuf. *set gets the key's bit.
 */
int agent_config_set(struct agent_config *c, const char *key,
		     const char *value, unsigned *set, char *errbuf,
		     size_t errlen);
/*
 * Read a config file: "key = value" lines (or "key value"), '#' comments,
 * the same keys as agent_config_set; keys in `skip` (set by flags) are
 * left alone. Returns 0, or a negative errno after logging the file,
 * line and problem.
 */
int agent_config_load(struct agent_config *c, const char *path,
		      unsigned skip);

/*
 * Run until SIGTERM or SIGINT (the window in progress is written, then
 * it returns 0). SIGHUP writes the window in progress and reloads
 * `config_path` (when not NULL); the flags in `flags_set` keep the values
 * of *flags. Returns 0, or a negative errno after logging.
 */
int agent_run(const struct agent_config *flags, unsigned flags_set,
	      const char *config_path);

/* Print the status file of the agent of store `dir` to stdout.
 * 0, or a negative errno after logging. */
int agent_print_status(const char *dir);

#endif
