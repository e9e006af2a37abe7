/* SPDX-License-Identifier: MIT */
#include "formats.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/xalloc.h"
#include "folded.h"
#include "gz.h"
#include "perfscript.h"
#include "pprof.h"
#include "speedscope.h"
#include "zst.h"

const char *format_name(enum profile_format f)
{
	switch (f) {
	case FORMAT_PPROF:
		return "pprof";
	case FORMAT_FOLDED:
		return "folded";
	case FORMAT_PERF_SCRIPT:
		return "perf script";
	case FORMAT_SPEEDSCOPE:
		return "speedscope";
	case FORMAT_SVG:
		return "svg";
	default:
		return "unknown";
	}
}

void format_error_set(struct format_error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* Text is anything without NUL and with few control characters. */
static bool looks_like_text(const uint8_t *d, size_t len)
{
	size_t n = len < 4096 ? len : 4096, ctl = 0;

	for (size_t i = 0; i < n; i++) {
		if (!d[i])
			return false;
		if (d[i] < 0x20 && d[i] != '\n' && d[i] != '\r' && d[i] != '\t')
			ctl++;
	}
	return ctl * 100 <= n;
}

/* The next line in [*p, end): returns its start and sets *len; *p moves
 * past it. NULL at the end. */
static const char *next_line(const char **p, const char *end, size_t *len)
{
	const char *s = *p, *nl;

	if (s >= end)
		return NULL;
	nl = memchr(s, '\n', (size_t)(end - s));
	*len = (size_t)((nl ? nl : end) - s);
	*p = nl ? nl + 1 : end;
	return s;
}

static bool is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* "... 123" (a folded line): a space, then only digits to the end. */
static bool folded_shape(const char *s, size_t len)
{
	size_t i = len;

	while (i && s[i - 1] == '\r')
		i--;
	if (!i || s[i - 1] < '0' || s[i - 1] > '9')
		return false;
	while (i && s[i - 1] >= '0' && s[i - 1] <= '9')
		i--;
	return i >= 2 && s[i - 1] == ' ';
}

/* "\t    4011a2 main+0x12 (/bin/x)": indented, then a hex address. */
static bool perf_frame_shape(const char *s, size_t len)
{
	size_t i = 0, hex = 0;

	if (!len || (s[0] != ' ' && s[0] != '\t'))
		return false;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	while (i < len && ((s[i] >= '0' && s[i] <= '9') ||
			   (s[i] >= 'a' && s[i] <= 'f')))
		i++, hex++;
	return hex > 0 && i < len && s[i] == ' ';
}

/* format_detect on uncompressed data, or gzip: zstd is left to the caller. */
static enum profile_format detect_plain(const uint8_t *data, size_t len)
{
	const char *p = (const char *)data, *end = p + len, *line;
	size_t n, seen = 0;

	if (gz_is_gzip(data, len))
		return FORMAT_PPROF; /* refined by the caller after gunzip */
	if (zst_is_zstd(data, len))
		return FORMAT_UNKNOWN; /* zstd inside zstd: not unpacked */
	if (!looks_like_text(data, len))
		return len ? FORMAT_PPROF : FORMAT_UNKNOWN;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	if (p < end && *p == '{')
		return FORMAT_SPEEDSCOPE;
	/* Look at the first lines that say anything. */
	while ((line = next_line(&p, end, &n)) && seen < 64) {
		if (is_blank(line, n) || line[0] == '#')
			continue;
		seen++;
		if (perf_frame_shape(line, n))
			return FORMAT_PERF_SCRIPT;
		if (folded_shape(line, n) && line[0] != ' ' && line[0] != '\t')
			return FORMAT_FOLDED;
	}
	return FORMAT_UNKNOWN;
}

/*
 * What a zstd stream holds, from its first 64 KiB: every rule above looks
 * at the start only. Text cut short loses its last, partial line, so that
 * "a;b 12" cut to "a;b 1" or "a;b" says nothing.
 */
static enum profile_format detect_zstd(const uint8_t *data, size_t len)
{
	size_t cap = 64 << 10, n = 0;
	uint8_t *head = xmalloc(cap);
	enum profile_format f = FORMAT_UNKNOWN;

	if (!zst_decompress_head(data, len, head, cap, &n)) {
		if (n == cap && looks_like_text(head, n)) {
			uint8_t *nl = memrchr(head, '\n', n);

			if (nl)
				n = (size_t)(nl - head) + 1;
		}
		f = detect_plain(head, n);
	}
	free(head);
	return f;
}

enum profile_format format_detect(const uint8_t *data, size_t len)
{
	if (zst_is_zstd(data, len))
		return detect_zstd(data, len);
	return detect_plain(data, len);
}

int profile_read(const uint8_t *data, size_t len, struct profile **out,
		 struct format_error *err)
{
	return profile_read_max(data, len, GZ_MAX_OUTPUT, out, err);
}

int profile_read_max(const uint8_t *data, size_t len, size_t max,
		     struct profile **out, struct format_error *err)
{
	uint8_t *raw = NULL, *zraw = NULL;
	size_t bad_at = 0;
	int e;

	/* Any format may come compressed with zstd or gzip, or gzip inside
	 * zstd. */
	if (zst_is_zstd(data, len)) {
		e = zst_decompress(data, len, max, &zraw, &len);
		if (e == -EFBIG)
			format_error_set(err, "zstd: the data expands past %zu KiB",
					 max >> 10);
		else if (e == -ENOMEM)
			format_error_set(err, "zstd: out of memory");
		else if (e)
			format_error_set(err, "zstd: corrupt or truncated data");
		if (e)
			return e;
		data = zraw;
	}
	if (gz_is_gzip(data, len)) {
		e = gz_decompress(data, len, max, &raw, &len, &bad_at);
		if (e == -EFBIG)
			format_error_set(err, "gzip: the data expands past %zu KiB",
					 max >> 10);
		else if (e)
			format_error_set(err, "gzip: corrupt or truncated data"
					 " (at byte %zu)", bad_at);
		if (e) {
			free(zraw);
			return e;
		}
		data = raw;
	}
	switch (detect_plain(data, len)) {
	case FORMAT_PPROF:
		e = pprof_read(data, len, out, err);
		break;
	case FORMAT_FOLDED:
		e = folded_read((const char *)data, len, out, err);
		break;
	case FORMAT_PERF_SCRIPT:
		e = perf_script_read((const char *)data, len, out, err);
		break;
	case FORMAT_SPEEDSCOPE:
		e = speedscope_read((const char *)data, len, out, err);
		break;
	default:
		if (!len)
			format_error_set(err, "the input is empty");
		else
			format_error_set(err, "not a profile smolder can read"
					 " (pprof, folded stacks, perf script"
					 " output or speedscope JSON)");
		e = -EINVAL;
	}
	free(raw);
	free(zraw);
	return e;
}

int input_data_read(const char *path, struct input_data *in)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;
	size_t cap = 1 << 16, n = 0;
	uint8_t *buf;
	struct stat st;
	int err = 0;

	memset(in, 0, sizeof(*in));
	if (fd < 0)
		return -errno;
	if (!fstat(fd, &st)) {
		if (S_ISDIR(st.st_mode))
			err = -EISDIR;
		else if (S_ISREG(st.st_mode) && st.st_size > 0) {
			void *m = mmap(NULL, (size_t)st.st_size, PROT_READ,
				       MAP_PRIVATE | MAP_POPULATE, fd, 0);

			if (m != MAP_FAILED) {
				madvise(m, (size_t)st.st_size, MADV_WILLNEED);
				in->data = m;
				in->len = (size_t)st.st_size;
				in->mapped = true;
				if (fd)
					close(fd);
				return 0;
			}
			cap = (size_t)st.st_size + 1;
		}
	}
	if (err) {
		if (fd)
			close(fd);
		return err;
	}
	buf = xmalloc(cap);
	for (;;) {
		ssize_t r;

		if (n == cap) {
			if (cap >= GZ_MAX_OUTPUT) {
				err = -EFBIG;
				break;
			}
			cap = cap * 2 > GZ_MAX_OUTPUT ? GZ_MAX_OUTPUT : cap * 2;
			buf = xreallocarray(buf, cap, 1);
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (fd)
		close(fd);
	if (err) {
		free(buf);
		return err;
	}
	in->data = buf;
	in->len = n;
	return 0;
}

void input_data_release(struct input_data *in)
{
	if (in->mapped)
		munmap(in->data, in->len);
	else
		free(in->data);
	memset(in, 0, sizeof(*in));
}
