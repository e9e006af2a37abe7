/* SPDX-License-Identifier: MIT */
/* zstd in memory: round trips, caps, bad input. */
#include <errno.h>
#include <zstd.h>

#include "../../formats/zst.h"
#include "../../lib/xalloc.h"
#include "harness.h"

/*
 * Folded lines that compress, but not to nothing (pseudo-random frames),
 * cut at `len` bytes: the last line may be partial.
 */
static char *some_text(size_t len)
{
	char *s = malloc(len + 1);
	uint32_t x = 12345;
	size_t n = 0;

	while (n < len) {
		char line[64];
		int k;

		x = x * 1103515245 + 12345;
		k = snprintf(line, sizeof(line), "app;main;work_%u;leaf_%u %u\n",
			     x >> 24, (x >> 8) & 0xfff, (x & 0xff) + 1);
		for (int j = 0; j < k && n < len; j++)
			s[n++] = line[j];
	}
	s[len] = '\0';
	return s;
}

static void round_trips(void)
{
	static const size_t sizes[] = { 0, 1, 100, 65536, 65537, 1 << 20 };
	static const int levels[] = { 0, 1, 3, 19, -5, 1000, -1000000 };

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		char *text = some_text(sizes[i]);

		for (size_t j = 0; j < ARRAY_SIZE(levels); j++) {
			uint8_t *z = NULL, *out = NULL;
			size_t zlen = 0, outlen = 0;

			/* The slow levels on small inputs only. */
			if (sizes[i] > 65537 && levels[j] > 3)
				continue;

			CHECK_EQ(zst_compress((uint8_t *)text, sizes[i], levels[j],
					      &z, &zlen), 0);
			CHECK(zst_is_zstd(z, zlen));
			CHECK_EQ(zst_decompress(z, zlen, sizes[i], &out, &outlen), 0);
			CHECK_EQ(outlen, sizes[i]);
			CHECK(out && !memcmp(out, text, sizes[i]));
			free(out);
			free(z);
		}
		free(text);
	}
}

static void recognises_magic(void)
{
	static const uint8_t magic[] = { 0x28, 0xb5, 0x2f, 0xfd, 0 };

	CHECK(zst_is_zstd(magic, 4));
	CHECK(!zst_is_zstd(magic, 3));
	CHECK(!zst_is_zstd(magic + 1, 4));
	CHECK(!zst_is_zstd((const uint8_t *)"\x1f\x8b\x08\x00", 4));
	CHECK(!zst_is_zstd(NULL, 0));
}

static void refuses_bad_input(void)
{
	char *text = some_text(200000);
	uint8_t *z, *out = NULL, *bad;
	size_t zlen, outlen;

	CHECK_EQ(zst_compress((uint8_t *)text, 200000, 3, &z, &zlen), 0);
	/* Every cut, header, blocks and checksum alike. */
	for (size_t cut = 0; cut < zlen; cut += cut < 64 ? 1 : zlen / 97 + 1)
		CHECK_EQ(zst_decompress(z, cut, 1 << 20, &out, &outlen), -EINVAL);
	CHECK_EQ(zst_decompress(z, zlen - 1, 1 << 20, &out, &outlen), -EINVAL);

	/* A flipped byte in the middle: the checksum, if nothing else. */
	bad = malloc(zlen + 3);
	memcpy(bad, z, zlen);
	bad[zlen / 2] ^= 0x40;
	CHECK_EQ(zst_decompress(bad, zlen, 1 << 20, &out, &outlen), -EINVAL);

	/* Bytes after the last frame that are not a frame. */
	memcpy(bad, z, zlen);
	memcpy(bad + zlen, "xyz", 3);
	CHECK_EQ(zst_decompress(bad, zlen + 3, 1 << 20, &out, &outlen), -EINVAL);

	/* The magic alone, and garbage after it. */
	CHECK_EQ(zst_decompress(z, 4, 1 << 20, &out, &outlen), -EINVAL);
	memset(bad + 4, 0xff, 32);
	CHECK_EQ(zst_decompress(bad, 36, 1 << 20, &out, &outlen), -EINVAL);
	free(bad);
	free(z);
	free(text);
}

/* Concatenated frames (cat a.zst b.zst) and skippable ones, as zstd -d. */
static void reads_several_frames(void)
{
	static const uint8_t skippable[] = { 0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0,
					     'a', 'b', 'c' };
	char *text = some_text(300000);
	uint8_t *a, *b, *cat, *out = NULL;
	size_t alen, blen, n = 0, outlen = 0;

	CHECK_EQ(zst_compress((uint8_t *)text, 100000, 1, &a, &alen), 0);
	CHECK_EQ(zst_compress((uint8_t *)text + 100000, 200000, 1, &b, &blen), 0);
	cat = malloc(alen + sizeof(skippable) + blen);
	memcpy(cat + n, a, alen), n += alen;
	memcpy(cat + n, skippable, sizeof(skippable)), n += sizeof(skippable);
	memcpy(cat + n, b, blen), n += blen;
	CHECK_EQ(zst_decompress(cat, n, 300000, &out, &outlen), 0);
	CHECK_EQ(outlen, 300000);
	CHECK(out && !memcmp(out, text, 300000));
	free(out);
	/* The cap counts every frame, not each alone. */
	CHECK_EQ(zst_decompress(cat, n, 299999, &out, &outlen), -EFBIG);
	free(cat);
	free(a);
	free(b);
	free(text);
}

/* A frame without a content size, as a streaming compressor writes. */
static uint8_t *compress_unsized(const uint8_t *data, size_t len, size_t *zlen)
{
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	size_t cap = ZSTD_compressBound(len), rest;
	uint8_t *z = malloc(cap);
	ZSTD_inBuffer in = { data, len, 0 };
	ZSTD_outBuffer ob = { z, cap, 0 };

	ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
	do
		rest = ZSTD_compressStream2(cctx, &ob, &in, ZSTD_e_end);
	while (rest && !ZSTD_isError(rest));
	CHECK(!ZSTD_isError(rest));
	ZSTD_freeCCtx(cctx);
	*zlen = ob.pos;
	return z;
}

static void caps_bombs(void)
{
	size_t big = 64 << 20, zlen, ulen, outlen;
	uint8_t *zeros = calloc(1, big), *z, *unsized, *out = NULL;

	CHECK_EQ(zst_compress(zeros, big, 3, &z, &zlen), 0);
	CHECK(zlen < 10000);
	CHECK(ZSTD_getFrameContentSize(z, zlen) == big);
	/* Refused past the cap, whatever the compressed size. */
	CHECK_EQ(zst_decompress(z, zlen, 1 << 20, &out, &outlen), -EFBIG);
	CHECK_EQ(zst_decompress(z, zlen, big - 1, &out, &outlen), -EFBIG);
	CHECK_EQ(zst_decompress(z, zlen, big, &out, &outlen), 0);
	CHECK_EQ(outlen, big);
	CHECK(out && !memcmp(out, zeros, big));
	free(out);

	/* Without a declared size the cap holds all the same. */
	unsized = compress_unsized(zeros, big, &ulen);
	CHECK(ZSTD_getFrameContentSize(unsized, ulen) == ZSTD_CONTENTSIZE_UNKNOWN);
	CHECK_EQ(zst_decompress(unsized, ulen, 1 << 20, &out, &outlen), -EFBIG);
	CHECK_EQ(zst_decompress(unsized, ulen, big, &out, &outlen), 0);
	CHECK_EQ(outlen, big);
	free(out);

	/* Nor can a header that claims less than the frame holds get it
	 * past the cap: 64 MiB said to be 4 KiB. */
	uint8_t *liar = malloc(ulen + 8);
	uint8_t fhd = unsized[4];

	/* Rebuild the header with a 4-byte content size field (flag 2). */
	CHECK_EQ(fhd >> 6, 0);
	memcpy(liar, unsized, 5);
	liar[4] = (uint8_t)(fhd | 2 << 6);
	size_t hdr = 5 + !(fhd & 0x20) + (fhd & 3 ? 1 << ((fhd & 3) - 1) : 0);

	memcpy(liar + 5, unsized + 5, hdr - 5);
	liar[hdr] = 0, liar[hdr + 1] = 0x10, liar[hdr + 2] = 0, liar[hdr + 3] = 0;
	memcpy(liar + hdr + 4, unsized + hdr, ulen - hdr);
	CHECK(ZSTD_getFrameContentSize(liar, ulen + 4) == 4096);
	int e = zst_decompress(liar, ulen + 4, 1 << 20, &out, &outlen);

	CHECK(e == -EFBIG || e == -EINVAL);
	CHECK(zst_decompress(liar, ulen + 4, big, &out, &outlen) == -EINVAL);
	free(liar);

	/* max == SIZE_MAX: no cap, and no overflow computing one. */
	CHECK_EQ(zst_decompress(z, zlen, SIZE_MAX, &out, &outlen), 0);
	CHECK_EQ(outlen, big);
	free(out);
	free(unsized);
	free(z);
	free(zeros);
}

static void decompresses_the_head(void)
{
	char *text = some_text(1 << 20);
	uint8_t *z, buf[5000];
	size_t zlen, n = 1;

	CHECK_EQ(zst_compress((uint8_t *)text, 1 << 20, 3, &z, &zlen), 0);
	CHECK_EQ(zst_decompress_head(z, zlen, buf, sizeof(buf), &n), 0);
	CHECK_EQ(n, sizeof(buf));
	CHECK(!memcmp(buf, text, sizeof(buf)));
	/* A truncated stream still has a start. */
	CHECK_EQ(zst_decompress_head(z, zlen / 2, buf, sizeof(buf), &n), 0);
	CHECK_EQ(n, sizeof(buf));
	/* A short stream gives all it has. */
	free(z);
	CHECK_EQ(zst_compress((uint8_t *)text, 100, 3, &z, &zlen), 0);
	CHECK_EQ(zst_decompress_head(z, zlen, buf, sizeof(buf), &n), 0);
	CHECK_EQ(n, 100);
	CHECK(!memcmp(buf, text, 100));
	CHECK_EQ(zst_decompress_head(z, 4, buf, sizeof(buf), &n), 0);
	CHECK_EQ(n, 0);
	/* Garbage is refused. */
	memset(z + 4, 0xff, zlen - 4);
	CHECK_EQ(zst_decompress_head(z, zlen, buf, sizeof(buf), &n), -EINVAL);
	free(z);
	free(text);
}

int main(void)
{
	RUN(round_trips);
	RUN(recognises_magic);
	RUN(refuses_bad_input);
	RUN(reads_several_frames);
	RUN(caps_bombs);
	RUN(decompresses_the_head);
	HARNESS_END();
}
