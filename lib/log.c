/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/*
 * Whether standard error is connected to the journal (systemd sets
 * JOURNAL_STREAM to its device and inode): then each line starts with
 * its priority, "<3>" for errors to "<7>" for debug, as sd-daemon(3)
 * describes, and journalctl shows and filters them by priority.
 */
static bool to_journal(void)
{
	static int cached = -1;
	unsigned long long dev, ino;
	const char *e;
	struct stat sb;

	if (cached >= 0)
		return cached;
	cached = 0;
	e = getenv("JOURNAL_STREAM");
	if (e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && !fstat(2, &sb) &&
	    (unsigned long long)sb.st_dev == dev &&
	    (unsigned long long)sb.st_ino == ino)
		cached = 1;
	return cached;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	static const char *const prio[] = {
		[LOG_ERROR] = "<3>",
		[LOG_WARN] = "<4>",
		[LOG_INFO] = "<6>",
		[LOG_DEBUG] = "<7>",
	};
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
	fprintf(stderr, "%s%s: %s%s\n", to_journal() ? prio[level] : "",
		cur_prefix, tags[level], buf);
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
