/* SPDX-License-Identifier: MIT */
/*
 * store: the agent's local profile store, a directory of windows.
 *
 * Each window is one pprof profile compressed with zstd, in a file named
 * by its start time (UTC, "20261202T052000.123Z.pb.zst"), so that the
 * names sort in time order. An index file ("index", JSON lines) holds one
 * line per window: file, time range, sizes, sample count and the distinct
 * values of the indexed labels, so that a query opens only the windows it
 * needs.
 *
 * Crash safety: a window is written to a temporary file, fsync'd, renamed
 * into place and the directory fsync'd; only then is its index line
 * appended (and fsync'd). The window files are the truth and the index a
 * cache of them: opening a store for writing drops index lines whose file
 * is gone, indexes files the index lacks (a crash between the rename and
 * the append) and deletes leftover temporary files. A reader trusts the
 * index, skips entries whose file has vanished, and reads files the index
 * lacks, so nothing written is ever invisible.
 */
#ifndef SMOLDER_STORE_H
#define SMOLDER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../formats/formats.h"
#include "../formats/profile.h"

#define STORE_SUFFIX ".pb.zst"
#define STORE_INDEX "index"

/* The index records the values of every label key but these (which have
 * as many values as samples, nearly); a key with more than
 * STORE_MAX_VALUES values in one window is recorded as "key=*". */
extern const char *const store_unindexed_labels[];
#define STORE_MAX_VALUES 512

struct store_entry {
	char *file;         /* name inside the store directory */
	int64_t start_ns;   /* window start, Unix time in ns */
	int64_t end_ns;     /* window end */
	uint64_t bytes;     /* size of the file */
	uint64_t raw_bytes; /* size of the uncompressed pprof */
	uint64_t samples;   /* sum of the samples/count column */
	uint64_t digest;    /* what the writer said identifies the upload; 0 */
	char **labels;      /* sorted "key=value" of the indexed labels */
	size_t nlabels;
};

struct store;

/*
 * Open the store in `dir`. Writable: create the directory if needed, take
 * an exclusive lock on it (-EBUSY when another agent holds it) and repair
 * the index as described above. Read-only: read the index and add entries
 * for window files it lacks, without changing anything. Returns 0 with
 * *out set (caller owns; store_close), or a negative errno after logging.
 */
int store_open(const char *dir, bool writable, struct store **out);
void store_close(struct store *st);

/* Entries in time order; borrowed until the store changes or closes. */
size_t store_count(const struct store *st);
const struct store_entry *store_get(const struct store *st, size_t i);
/* Total bytes of the window files. */
uint64_t store_bytes(const struct store *st);
/* What opening the store found and repaired. */
struct store_repair {
	uint64_t index_lines;    /* lines read from the index */
	uint64_t bad_lines;      /* lines that did not parse (a torn write) */
	uint64_t missing_files;  /* lines whose file was gone: dropped */
	uint64_t unindexed;      /* files the index lacked: indexed */
	uint64_t unreadable;     /* files that did not read as a profile */
	uint64_t temp_removed;   /* temporary files deleted */
};
void store_repair_stats(const struct store *st, struct store_repair *out);

#define STORE_NAME_MAX 128

/*
 * Write profile `p` as the window [start_ns, end_ns), atomically, and
 * index it with `digest` (0: none; see store_find_digest); `name` (NULL,
 * or STORE_NAME_MAX bytes) gets its file name.
 * Returns 0, or a negative errno after logging (-ENOSPC: the disk is
 * full; nothing of the window is left behind).
 */
int store_write(struct store *st, const struct profile *p, int64_t start_ns,
		int64_t end_ns, uint64_t digest, char *name);

/*
 * store_write in two steps, for writers that share a store between
 * threads: store_prepare (encode, compress, summarize: the costly part,
 * touching no store) outside the lock, store_commit (name, write, index)
 * under it. Release the prepared window with store_prepared_release,
 * committed or not.
 */
struct store_prepared {
	uint8_t *data;
	size_t len;
	struct store_entry e;
};
int store_prepare(const struct profile *p, int64_t start_ns, int64_t end_ns,
		  uint64_t digest, struct store_prepared *out);
int store_commit(struct store *st, struct store_prepared *pp, char *name);
void store_prepared_release(struct store_prepared *pp);

/* The newest entry indexed with `digest` (not 0), or NULL: how a server
 * knows an upload it has already stored. Borrowed like store_get. */
const struct store_entry *store_find_digest(const struct store *st,
					    uint64_t digest);

/* Read an entry's profile. 0, or a negative errno with err set. */
int store_read(const struct store *st, const struct store_entry *e,
	       struct profile **out, struct format_error *err);

/* Read window `file` of the store whose directory is open as `dirfd`
 * (for readers that keep their own descriptor). 0 or -errno, err set. */
int store_read_at(int dirfd, const char *file, struct profile **out,
		  struct format_error *err);

/* Whether an entry may hold samples with label key=value: false only when
 * the key is indexed, the entry has no "key=*" and the value is not among
 * the entry's. */
bool store_entry_may_match(const struct store_entry *e, const char *key,
			   const char *value);

/*
 * Delete the oldest windows while any is older than max_age_ns (0: no
 * limit) before now_ns, or the store is over max_bytes (0: no limit).
 * Returns the number deleted, or a negative errno after logging.
 */
int store_retain(struct store *st, int64_t now_ns, int64_t max_age_ns,
		 uint64_t max_bytes);

/*
 * Check the store as it is on disk, without repairing it: every window
 * file reads back as a complete profile; every index line names an
 * existing file whose size, time range and samples agree. Problems are
 * logged. *unindexed gets the number of files the index lacks (the one a
 * crash could leave). Returns the number of problems (0: consistent).
 */
int store_check(const char *dir, size_t *nfiles, size_t *unindexed);

/* Write `len` bytes to `name` in directory `dirfd` atomically: a
 * temporary file, fsync, rename, fsync of the directory. 0 or -errno. */
int store_write_file(int dirfd, const char *name, const void *data,
		     size_t len);

#endif
