/* SPDX-License-Identifier: MIT */
/*
 * pprof: the profile model to and from pprof's protobuf encoding, through
 * protobuf-c code generated from formats/profile.proto.
 *
 * Writing follows what readers need to get it right: string_table[0] is "",
 * every string is valid UTF-8, locations are leaf first with inlined frames
 * as several lines of one location (innermost first), kernel frames sit in
 * a "[kernel.kallsyms]" mapping and JIT frames in a "[jit]" mapping, and
 * ids start at 1. Reading accepts any well-formed producer (Go's
 * -cpuprofile, ours, others): ids may be sparse, the string table may hold
 * duplicates, and everything is checked before use.
 */
#ifndef SMOLDER_PPROF_H
#define SMOLDER_PPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "formats.h"
#include "profile.h"

/* Mapping names that say what kind of code their locations are. */
#define PPROF_KERNEL_MAPPING "[kernel.kallsyms]"
#define PPROF_JIT_MAPPING "[jit]"

/* Encode `p` as uncompressed protobuf into *out (caller frees). 0 or -errno. */
int pprof_encode(const struct profile *p, uint8_t **out, size_t *len);
/* Write `p` to `f`, gzipped (as pprof files usually are) or not. */
int pprof_write(const struct profile *p, FILE *f, bool gzip);
/*
 * Decode a pprof profile, gzipped or not, into a new profile (*out, caller
 * frees with profile_free). Returns 0, or -EINVAL / -EFBIG with a message
 * in *err naming what is wrong and where.
 */
int pprof_read(const uint8_t *data, size_t len, struct profile **out,
	       struct format_error *err);

#endif
