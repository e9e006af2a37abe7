/* SPDX-License-Identifier: MIT */
/*
 * zst: zstd in memory (libzstd), with a cap on what decompression may
 * produce, as gz.h does for gzip. The cap is on the bytes that come out,
 * not on what frame headers claim: a frame without a content size, or
 * with a false one, is held to it all the same.
 */
#ifndef SMOLDER_ZST_H
#define SMOLDER_ZST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A zstd frame's magic number, 28 b5 2f fd, starts `data`. */
bool zst_is_zstd(const uint8_t *data, size_t len);
/*
 * Decompress a zstd stream (concatenated and skippable frames included)
 * into *out (caller frees). Returns 0, -EINVAL for corrupt or truncated
 * data (or trailing bytes that are not a frame), -EFBIG when the output
 * would exceed `max` bytes, or -ENOMEM. Frames whose window is larger
 * than zstd's default limit (128 MiB, as `zstd -d` without --memory) are
 * refused as -EINVAL.
 */
int zst_decompress(const uint8_t *data, size_t len, size_t max, uint8_t **out,
		   size_t *out_len);
/*
 * Decompress only the start of a zstd stream, to look at what it holds
 * without inflating all of it: up to `cap` bytes into `buf` (the
 * caller's), *out_len set to how many came out, which is fewer than `cap`
 * when the stream, or the input, ends first. Returns 0, -EINVAL when the
 * data is corrupt before `cap` bytes came out, or -ENOMEM.
 */
int zst_decompress_head(const uint8_t *data, size_t len, uint8_t *buf,
			size_t cap, size_t *out_len);
/*
 * Compress into one zstd frame, with its content size and a checksum, in
 * *out (caller frees). `level` is zstd's: 1 (fast) to 19 and beyond up to
 * ZSTD_maxCLevel(), negative for faster still, 0 for the default (3).
 * Returns 0, -EINVAL for a level or size zstd refuses, or -ENOMEM.
 */
int zst_compress(const uint8_t *data, size_t len, int level, uint8_t **out,
		 size_t *out_len);

#endif
