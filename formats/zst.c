/* SPDX-License-Identifier: MIT */
#include "zst.h"

#include <errno.h>
#include <stdlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "../lib/xalloc.h"

bool zst_is_zstd(const uint8_t *data, size_t len)
{
	return len >= 4 && data[0] == 0x28 && data[1] == 0xb5 &&
	       data[2] == 0x2f && data[3] == 0xfd;
}

static int zstd_errno(size_t ret)
{
	switch (ZSTD_getErrorCode(ret)) {
	case ZSTD_error_memory_allocation:
		return -ENOMEM;
	default:
		return -EINVAL;
	}
}

/*
 * One step of decoding: ZSTD_decompressStream, and what its answer means.
 * Returns 1 to go on, 0 at the end of the input on a frame boundary,
 * -ENODATA when the input ends inside a frame, or another negative errno.
 * The output buffer being full is the caller's business.
 */
static int decode_step(ZSTD_DCtx *dctx, ZSTD_inBuffer *in, ZSTD_outBuffer *out)
{
	size_t in0 = in->pos, out0 = out->pos;
	size_t ret = ZSTD_decompressStream(dctx, out, in);

	if (ZSTD_isError(ret))
		return zstd_errno(ret);
	if (ret == 0 && in->pos == in->size)
		return 0; /* the last frame is complete and flushed */
	if (out->pos < out->size && in->pos == in->size)
		return -ENODATA; /* mid-frame, and no more input: truncated */
	if (in->pos == in0 && out->pos == out0 && out->pos < out->size)
		return -EINVAL; /* no progress with room on both sides */
	return 1;
}

int zst_decompress(const uint8_t *data, size_t len, size_t max, uint8_t **out,
		   size_t *out_len)
{
	/* The output may reach max + 1 bytes: one past the cap says "too
	 * much" without decoding further. */
	size_t lim = max < SIZE_MAX ? max + 1 : SIZE_MAX;
	unsigned long long declared = ZSTD_getFrameContentSize(data, len);
	size_t cap = len > SIZE_MAX / 4 ? SIZE_MAX : len * 4;
	ZSTD_inBuffer in = { data, len, 0 };
	ZSTD_outBuffer ob;
	ZSTD_DCtx *dctx;
	int step;

	/* The first frame's declared size is a better first guess, trusted
	 * up to a ratio an honest profile can have: a false one only costs
	 * a realloc, but must not reserve gigabytes for a few bytes. */
	if (declared != ZSTD_CONTENTSIZE_UNKNOWN &&
	    declared != ZSTD_CONTENTSIZE_ERROR && declared / 64 <= len)
		cap = (size_t)declared;
	if (cap < 65536)
		cap = 65536;
	if (cap > lim)
		cap = lim;
	dctx = ZSTD_createDCtx();
	if (!dctx)
		return -ENOMEM;
	ob = (ZSTD_outBuffer){ xmalloc(cap), cap, 0 };
	while ((step = decode_step(dctx, &in, &ob)) > 0) {
		if (ob.pos > max) {
			step = -EFBIG;
			break;
		}
		if (ob.pos < ob.size)
			continue;
		if (ob.size == lim) {
			/* Full at the cap (max == SIZE_MAX): nowhere to grow. */
			step = -EFBIG;
			break;
		}
		ob.size = ob.size > lim / 2 ? lim : ob.size * 2;
		ob.dst = xreallocarray(ob.dst, ob.size, 1);
	}
	ZSTD_freeDCtx(dctx);
	if (step == -ENODATA)
		step = -EINVAL;
	if (!step && ob.pos > max)
		step = -EFBIG;
	if (step) {
		free(ob.dst);
		return step;
	}
	*out = ob.dst;
	*out_len = ob.pos;
	return 0;
}

int zst_decompress_head(const uint8_t *data, size_t len, uint8_t *buf,
			size_t cap, size_t *out_len)
{
	ZSTD_inBuffer in = { data, len, 0 };
	ZSTD_outBuffer ob = { buf, cap, 0 };
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	int step = 1;

	if (!dctx)
		return -ENOMEM;
	while (ob.pos < ob.size && (step = decode_step(dctx, &in, &ob)) > 0)
		;
	ZSTD_freeDCtx(dctx);
	/* Running out of input is no error here: the start is what we were
	 * asked for, and a truncated stream has one. */
	if (step < 0 && step != -ENODATA)
		return step;
	*out_len = ob.pos;
	return 0;
}

int zst_compress(const uint8_t *data, size_t len, int level, uint8_t **out,
		 size_t *out_len)
{
	size_t bound = ZSTD_compressBound(len), n;
	ZSTD_CCtx *cctx;
	uint8_t *buf;

	if (ZSTD_isError(bound))
		return -EINVAL;
	cctx = ZSTD_createCCtx();
	if (!cctx)
		return -ENOMEM;
	buf = xmalloc(bound ? bound : 1);
	n = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(n))
		n = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	if (!ZSTD_isError(n))
		n = ZSTD_compress2(cctx, buf, bound, data, len);
	ZSTD_freeCCtx(cctx);
	if (ZSTD_isError(n)) {
		free(buf);
		return zstd_errno(n);
	}
	*out = buf;
	*out_len = n;
	return 0;
}
