/* SPDX-License-Identifier: MIT */
#include "utf8.h"

#include <stdint.h>
#include <string.h>

#include "strbuf.h"

/* Length of the well-formed sequence at s (at most `left` bytes), or 0. */
static size_t seq_len(const unsigned char *s, size_t left)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		size_t n = seq_len(p + i, len - i);

		if (!n)
			return false;
		i += n;
	}
	return true;
}

void utf8_repair(struct strbuf *sb, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		size_t n = seq_len(p + i, len - i);

		if (n) {
			strbuf_add(sb, s + i, n);
			i += n;
		} else {
			strbuf_adds(sb, "\xef\xbf\xbd");
			i++;
		}
	}
}

void json_add_str(struct strbuf *sb, const char *s)
{
	struct strbuf fixed = STRBUF_INIT;
	size_t len = strlen(s);

	if (!utf8_valid(s, len)) {
		utf8_repair(&fixed, s, len);
		s = fixed.buf;
	}
	strbuf_addc(sb, '"');
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		switch (*c) {
		case '"':
			strbuf_adds(sb, "\\\"");
			break;
		case '\\':
			strbuf_adds(sb, "\\\\");
			break;
		case '\n':
			strbuf_adds(sb, "\\n");
			break;
		case '\t':
			strbuf_adds(sb, "\\t");
			break;
		case '\r':
			strbuf_adds(sb, "\\r");
			break;
		default:
			if (*c < 0x20)
				strbuf_addf(sb, "\\u%04x", *c);
			else
				strbuf_addc(sb, (char)*c);
		}
	}
	strbuf_addc(sb, '"');
	strbuf_release(&fixed);
}
