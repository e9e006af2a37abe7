/* SPDX-License-Identifier: MIT */
/*
 * perfscript: read the text `perf script` prints for a perf.data with call
 * graphs, as stackcollapse-perf.pl does, so existing perf recordings can be
 * drawn and converted.
 */
#ifndef SMOLDER_PERFSCRIPT_H
#define SMOLDER_PERFSCRIPT_H

#include <stddef.h>

#include "formats.h"
#include "profile.h"

/*
 * Each sample (a header line, its indented frame lines, a blank line)
 * becomes one samples/count sample with comm, thread_name, pid and tid
 * labels. Symbol offsets ("+0x1b") are dropped; "[unknown]" symbols take
 * their object's name ("[libfoo.so]"); frames in [kernel.kallsyms] or a
 * vmlinux are kernel frames, frames in perf-PID.map JIT frames. Returns 0,
 * or -EINVAL with the line number in *err.
 */
int perf_script_read(const char *data, size_t len, struct profile **out,
		     struct format_error *err);

#endif
