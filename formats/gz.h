/* SPDX-License-Identifier: MIT */
/* gz: gzip in memory (zlib), with a cap on what decompression may produce. */
#ifndef SMOLDER_GZ_H
#define SMOLDER_GZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What decompression, or reading a pipe, may produce at most: 4 GiB.
 * (Regular files are mapped and have no such limit.) */
#define GZ_MAX_OUTPUT (4ull << 30)

bool gz_is_gzip(const uint8_t *data, size_t len);
/*
 * Decompress a gzip stream (concatenated members included) into *out
 * (caller frees). Returns 0, -EINVAL for corrupt or truncated data, or
 * -EFBIG when the output would exceed `max` bytes. On -EINVAL, *bad_at is
 * the byte offset in the input where decoding failed.
 */
int gz_decompress(const uint8_t *data, size_t len, size_t max, uint8_t **out,
		  size_t *out_len, size_t *bad_at);
/* Compress into a gzip stream in *out (caller frees). 0 or -ENOMEM. */
int gz_compress(const uint8_t *data, size_t len, uint8_t **out,
		size_t *out_len);

#endif
