/* SPDX-License-Identifier: MIT */
#include "gz.h"

#include <errno.h>
#include <stdlib.h>
#include <zlib.h>

#include "../lib/xalloc.h"

bool gz_is_gzip(const uint8_t *data, size_t len)
{
	return len >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

int gz_decompress(const uint8_t *data, size_t len, size_t max, uint8_t **out,
		  size_t *out_len, size_t *bad_at)
{
	size_t cap = len * 4 < 65536 ? 65536 : len * 4;
	uint8_t *buf;
	z_stream zs = { 0 };
	int ret = Z_OK, err = 0;

	if (cap > max + 1)
		cap = max + 1;
	buf = xmalloc(cap);
	/* 15 + 32: accept gzip or zlib headers. */
	if (inflateInit2(&zs, 15 + 32) != Z_OK) {
		free(buf);
		return -ENOMEM;
	}
	zs.next_in = (Bytef *)data;
	zs.avail_in = (uInt)(len > UINT32_MAX ? UINT32_MAX : len);
	zs.next_out = buf;
	zs.avail_out = (uInt)cap;
	for (;;) {
		ret = inflate(&zs, Z_NO_FLUSH);
		if (ret == Z_STREAM_END) {
			/* Another member may follow (cat a.gz b.gz). */
			size_t used = (size_t)((const uint8_t *)zs.next_in - data);

			if (used < len && gz_is_gzip(data + used, len - used)) {
				inflateReset(&zs);
				continue;
			}
			break;
		}
		if (ret != Z_OK && ret != Z_BUF_ERROR) {
			err = -EINVAL;
			break;
		}
		if (zs.avail_out == 0) {
			if (zs.total_out > max) {
				err = -EFBIG;
				break;
			}
			size_t done = (size_t)(zs.next_out - buf);
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;

			if (ncap <= cap) {
				err = -EFBIG;
				break;
			}
			buf = xreallocarray(buf, ncap, 1);
			zs.next_out = buf + done;
			zs.avail_out = (uInt)(ncap - done);
			cap = ncap;
			continue;
		}
		if (ret == Z_BUF_ERROR || zs.avail_in == 0) {
			/* No progress possible: the input ended early. */
			err = -EINVAL;
			break;
		}
	}
	if (err) {
		if (bad_at)
			*bad_at = (size_t)((const uint8_t *)zs.next_in - data);
		inflateEnd(&zs);
		free(buf);
		return err;
	}
	*out_len = (size_t)(zs.next_out - buf);
	if (*out_len > max) {
		inflateEnd(&zs);
		free(buf);
		return -EFBIG;
	}
	inflateEnd(&zs);
	*out = buf;
	return 0;
}

int gz_compress(const uint8_t *data, size_t len, uint8_t **out,
		size_t *out_len)
{
	z_stream zs = { 0 };
	size_t cap;
	uint8_t *buf;
	int ret;

	/* 15 + 16: a gzip header. Level 6, zlib's default. */
	if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	cap = deflateBound(&zs, (uLong)len) + 32;
	buf = xmalloc(cap);
	zs.next_in = (Bytef *)data;
	zs.avail_in = (uInt)len;
	zs.next_out = buf;
	zs.avail_out = (uInt)cap;
	ret = deflate(&zs, Z_FINISH);
	deflateEnd(&zs);
	if (ret != Z_STREAM_END) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*out_len = zs.total_out;
	return 0;
}
