/* SPDX-License-Identifier: MIT */
/* zstd in memory: round trips, caps, bad input, and every reader on it. */
#include <errno.h>
#include <zstd.h>

#include "../../formats/folded.h"
#include "../../formats/formats.h"
#include "../../formats/gz.h"
#include "../../formats/pprof.h"
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

/* A small profile: two stacks, a kernel frame, labels. */
static struct profile *small_profile(void)
{
	static const char *const types[] = { "samples", "cpu" };
	static const char *const units[] = { "count", "nanoseconds" };
	struct profile *p = profile_new();
	struct profile_line lmain = { profile_add_function(p, "main", NULL, "m.c", 1), 10, 0 };
	struct profile_line lwork = { profile_add_function(p, "work", NULL, "w.c", 5), 20, 0 };
	struct profile_line lk = { profile_add_function(p, "vfs_write", NULL, NULL, 0), 0, 0 };
	uint64_t locmain = profile_add_location(p, 0, 0x10, FRAME_USER, &lmain, 1);
	uint64_t locwork = profile_add_location(p, 0, 0x20, FRAME_USER, &lwork, 1);
	uint64_t lock = profile_add_location(p, 0, 0x30, FRAME_KERNEL, &lk, 1);
	uint64_t s1[] = { locwork, locmain }, s2[] = { lock, locwork, locmain };
	struct profile_label comm = { .key = profile_string(p, LABEL_COMM),
				      .str = profile_string(p, "app") };
	int64_t v1[] = { 3, 3000 }, v2[] = { 2, 2000 };

	profile_set_sample_types(p, types, units, 2);
	profile_add_sample(p, s1, 2, v1, &comm, 1);
	profile_add_sample(p, s2, 3, v2, &comm, 1);
	return p;
}

static char *folded_of(const struct profile *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK_EQ(folded_write(p, 1, f), 0);
	fclose(f);
	return buf;
}

static void reads_zstd_pprof(void)
{
	struct profile *p = small_profile(), *q = NULL;
	struct format_error err = { "" };
	uint8_t *enc, *z;
	size_t len, zlen;
	char *want, *got;

	CHECK_EQ(pprof_encode(p, &enc, &len), 0);
	CHECK_EQ(zst_compress(enc, len, 3, &z, &zlen), 0);
	CHECK_EQ(format_detect(z, zlen), FORMAT_PPROF);
	CHECK_EQ(profile_read(z, zlen, &q, &err), 0);
	if (!q) {
		fprintf(stderr, "    read error: %s\n", err.msg);
	} else {
		want = folded_of(p);
		got = folded_of(q);
		CHECK_STR(got, want);
		CHECK_STR(got, "app;main;work 3000\napp;main;work;vfs_write_[k] 2000\n");
		CHECK_EQ(profile_total(q, 1), 5000);
		free(want);
		free(got);
		profile_free(q);
	}

	/* Truncated or corrupt: a clear error, never a crash. */
	for (size_t cut = 4; cut < zlen; cut += zlen / 11 + 1) {
		q = NULL;
		err.msg[0] = '\0';
		CHECK_EQ(profile_read(z, cut, &q, &err), -EINVAL);
		CHECK(q == NULL);
		CHECK_STR(err.msg, "zstd: corrupt or truncated data");
	}
	free(z);

	/* gzip inside zstd (a .pb.gz compressed again) reads too. */
	uint8_t *gz;
	size_t gzlen;

	CHECK_EQ(gz_compress(enc, len, &gz, &gzlen), 0);
	CHECK_EQ(zst_compress(gz, gzlen, 3, &z, &zlen), 0);
	CHECK_EQ(format_detect(z, zlen), FORMAT_PPROF);
	q = NULL;
	CHECK_EQ(profile_read(z, zlen, &q, &err), 0);
	CHECK(q && profile_total(q, 1) == 5000);
	profile_free(q);
	free(z);
	free(gz);
	free(enc);
	profile_free(p);
}

static void reads_zstd_text(void)
{
	static const char folded[] = "app;main;work 3\n"
				     "# a comment\n"
				     "app;main;work;vfs_write_[k] 2\n";
	static const char perf[] =
		"ratio  3739/3740  3767.002409:    1001001 cpu-clock:ppp: \n"
		"\t            116b hot_a+0x1b (/work/build/ratio)\n"
		"\t            1225 run_workload+0x55 (/work/build/ratio)\n"
		"\n";
	struct format_error err = { "" };
	struct profile *q = NULL;
	uint8_t *z;
	size_t zlen;

	CHECK_EQ(zst_compress((const uint8_t *)folded, strlen(folded), 3, &z, &zlen), 0);
	CHECK_EQ(format_detect(z, zlen), FORMAT_FOLDED);
	CHECK_EQ(profile_read(z, zlen, &q, &err), 0);
	CHECK(q && profile_total(q, 0) == 5);
	profile_free(q);
	free(z);

	CHECK_EQ(zst_compress((const uint8_t *)perf, strlen(perf), 3, &z, &zlen), 0);
	CHECK_EQ(format_detect(z, zlen), FORMAT_PERF_SCRIPT);
	q = NULL;
	CHECK_EQ(profile_read(z, zlen, &q, &err), 0);
	CHECK(q && q->nsamples == 1);
	profile_free(q);
	free(z);

	/* Longer than the 64 KiB format_detect looks at. */
	char *text = some_text(3 << 20);
	size_t tlen = (size_t)(strrchr(text, '\n') + 1 - text);

	CHECK_EQ(zst_compress((uint8_t *)text, tlen, 3, &z, &zlen), 0);
	CHECK_EQ(format_detect(z, zlen), FORMAT_FOLDED);
	q = NULL;
	CHECK_EQ(profile_read(z, zlen, &q, &err), 0);
	if (!q)
		fprintf(stderr, "    read error: %s\n", err.msg);
	CHECK(q && profile_total(q, 0) > 1000000);
	profile_free(q);
	free(z);
	free(text);

	/* Compressed nothing is empty input; compressed twice is refused. */
	CHECK_EQ(zst_compress((const uint8_t *)"", 0, 3, &z, &zlen), 0);
	CHECK_EQ(format_detect(z, zlen), FORMAT_UNKNOWN);
	q = NULL;
	CHECK_EQ(profile_read(z, zlen, &q, &err), -EINVAL);
	CHECK(strstr(err.msg, "empty") != NULL);

	uint8_t *zz;
	size_t zzlen;

	CHECK_EQ(zst_compress(z, zlen, 3, &zz, &zzlen), 0);
	CHECK_EQ(format_detect(zz, zzlen), FORMAT_UNKNOWN);
	CHECK_EQ(profile_read(zz, zzlen, &q, &err), -EINVAL);
	CHECK(strstr(err.msg, "not a profile") != NULL);
	free(zz);
	free(z);

	/* Corrupt data after the magic: detection says unknown, reading
	 * says why. */
	static const uint8_t junk[] = { 0x28, 0xb5, 0x2f, 0xfd, 0xff, 0xff, 0xff,
					0xff, 0xff, 0xff, 0xff, 0xff };

	CHECK_EQ(format_detect(junk, sizeof(junk)), FORMAT_UNKNOWN);
	CHECK_EQ(profile_read(junk, sizeof(junk), &q, &err), -EINVAL);
	CHECK_STR(err.msg, "zstd: corrupt or truncated data");
}

int main(void)
{
	RUN(round_trips);
	RUN(recognises_magic);
	RUN(refuses_bad_input);
	RUN(reads_several_frames);
	RUN(caps_bombs);
	RUN(decompresses_the_head);
	RUN(reads_zstd_pprof);
	RUN(reads_zstd_text);
	HARNESS_END();
}
