/* SPDX-License-Identifier: MIT */
/*
 * strbuf: a growable, always NUL-terminated byte string.
 *
 * Embedded (strbuf_init/strbuf_release). `buf` is never NULL: an empty
 * strbuf points at a shared "" until something is added.
 */
#ifndef SMOLDER_STRBUF_H
#define SMOLDER_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
	char *buf;
	size_t len;
	size_t alloc; /* 0 while buf is the shared empty string */
};

extern char strbuf_empty[];
#define STRBUF_INIT { strbuf_empty, 0, 0 }

void strbuf_init(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);
/* Keep the allocation, drop the contents. */
void strbuf_reset(struct strbuf *sb);
void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_adds(struct strbuf *sb, const char *s);
void strbuf_addc(struct strbuf *sb, char c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Hand the buffer to the caller (free with free()); sb is reset. */
char *strbuf_detach(struct strbuf *sb);

#endif
