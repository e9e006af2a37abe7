/* SPDX-License-Identifier: MIT */
#include "token.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../lib/log.h"
#include "../lib/xalloc.h"

char *token_read(const char *path, size_t min_len)
{
	FILE *f = fopen(path, "re");
	char buf[4096] = "", *s, *e;

	if (!f) {
		log_err("cannot read token file '%s': %s", path, strerror(errno));
		return NULL;
	}
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	for (s = buf; *s == ' ' || *s == '\t'; s++)
		;
	e = s + strlen(s);
	while (e > s && strchr("\r\n \t", e[-1]))
		*--e = '\0';
	if (strlen(s) < (min_len ? min_len : 1)) {
		if (min_len > 1)
			log_err("token file '%s': the token is empty or shorter"
				" than %zu characters", path, min_len);
		else
			log_err("token file '%s' is empty", path);
		return NULL;
	}
	return xstrdup(s);
}
