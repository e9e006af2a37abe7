/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: any input through the format detector and every
 * reader; whatever reads must also survive every writer, and its pprof
 * encoding must read back. Built with -DFUZZ_FORMAT=N to aim at one reader.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../formats/flamegraph.h"
#include "../../formats/folded.h"
#include "../../formats/formats.h"
#include "../../formats/perfscript.h"
#include "../../formats/pprof.h"
#include "../../formats/report.h"
#include "../../formats/speedscope.h"

static int read_one(const uint8_t *data, size_t size, struct profile **p,
		    struct format_error *err)
{
#if defined(FUZZ_PPROF)
	return pprof_read(data, size, p, err);
#elif defined(FUZZ_FOLDED)
	return folded_read((const char *)data, size, p, err);
#elif defined(FUZZ_PERFSCRIPT)
	return perf_script_read((const char *)data, size, p, err);
#elif defined(FUZZ_SPEEDSCOPE)
	return speedscope_read((const char *)data, size, p, err);
#else
	return profile_read(data, size, p, err);
#endif
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct format_error err = { "" };
	struct profile *p = NULL, *q = NULL;
	struct fg_opts fg = { .min_width = -1, .value_index = -1 };
	struct report_opts ro = { .top = 10, .value_index = -1 };
	uint8_t *enc;
	size_t len;
	FILE *null;

	if (read_one(data, size, &p, &err)) {
		if (!err.msg[0])
			abort(); /* every failure must say why */
		return 0;
	}
	null = fopen("/dev/null", "w");
	folded_write(p, 0, null);
	speedscope_write(p, "fuzz", null);
	flamegraph_write(p, &fg, null);
	report_write(p, &ro, null);
	fclose(null);
	if (pprof_encode(p, &enc, &len) == 0) {
		if (pprof_read(enc, len, &q, &err))
			abort(); /* what we write, we read */
		free(enc);
	}
	profile_free(q);
	profile_free(p);
	return 0;
}
