/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum log_level cur_level = LOG_WARN;
static const char *cur_prefix = "smolder";

void log_set_level(enum log_level level)
{
	cur_level = level;
}

enum log_level log_get_level(void)
{
	return cur_level;
}

void log_set_prefix(const char *prefix)
{
	cur_prefix = prefix;
}

const char *log_get_prefix(void)
{
	return cur_prefix;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	static const char *const tags[] = {
		[LOG_ERROR] = "",
		[LOG_WARN] = "warning: ",
		[LOG_INFO] = "",
		[LOG_DEBUG] = "debug: ",
	};
	char small[1024], *buf = small;
	va_list cp;
	size_t len;
	int n;

	if (level > cur_level)
		return;
	/* Most messages fit; a verifier log can run to megabytes. */
	va_copy(cp, ap);
	n = vsnprintf(small, sizeof(small), fmt, cp);
	va_end(cp);
	if (n >= (int)sizeof(small)) {
		buf = malloc((size_t)n + 1);
		if (!buf)
			buf = small;
		else
			vsnprintf(buf, (size_t)n + 1, fmt, ap);
	}
	/* Messages from libraries often end in a newline; we add our own. */
	len = strlen(buf);
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	fprintf(stderr, "%s: %s%s\n", cur_prefix, tags[level], buf);
	if (buf != small)
		free(buf);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
