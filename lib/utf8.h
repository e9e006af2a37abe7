/* SPDX-License-Identifier: MIT */
/*
 * utf8: validation and repair. Symbol names can hold any bytes, and some
 * consumers (protobuf readers, Pyroscope, JSON, SVG) reject invalid UTF-8.
 */
#ifndef SMOLDER_UTF8_H
#define SMOLDER_UTF8_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf;

/* True when the `len` bytes at `s` are well-formed UTF-8 (no overlongs,
 * no surrogates, nothing above U+10FFFF). */
bool utf8_valid(const char *s, size_t len);
/* Append `s` to `sb` with every ill-formed sequence replaced by U+FFFD. */
void utf8_repair(struct strbuf *sb, const char *s, size_t len);
/* Append `s` to `sb` as a JSON string, quotes included, repaired to
 * valid UTF-8 first. */
void json_add_str(struct strbuf *sb, const char *s);

#endif
