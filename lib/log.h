/* SPDX-License-Identifier: MIT */
/*
 * log: every diagnostic smolder prints goes through here, to stderr.
 *
 * Messages follow one form: "<prefix>: [warning: ]<message>", lowercase, no
 * full stop, the subject quoted ("cannot open 'x': No such file"). The
 * prefix is the command ("smolder record"). Data never goes to this stream.
 */
#ifndef SMOLDER_LOG_H
#define SMOLDER_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN = 1,
	LOG_INFO = 2,  /* shown with -v */
	LOG_DEBUG = 3, /* shown with -vv */
};

/* Messages above `level` are discarded. Default: LOG_WARN. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* `prefix` is borrowed and must outlive all logging. Default: "smolder". */
void log_set_prefix(const char *prefix);
const char *log_get_prefix(void);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define log_err(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
