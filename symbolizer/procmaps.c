/* SPDX-License-Identifier: MIT */
/*
 * One line of /proc/PID/maps. Parsed by hand: no library in our
 * dependency set exposes a parser, and the format is fixed by the kernel
 * (fs/proc/task_mmu.c: show_map_vma).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "symbolizer_internal.h"

static int hex_field(char **p, uint64_t *out, char stop)
{
	char *end;

	errno = 0;
	*out = strtoull(*p, &end, 16);
	if (end == *p || errno || *end != stop)
		return -EINVAL;
	*p = end + 1;
	return 0;
}

int procmaps_parse_line(char *line, struct procmap_entry *e)
{
	static const char deleted[] = " (deleted)";
	char *p = line, *end;
	uint64_t major, minor;
	size_t len;

	memset(e, 0, sizeof(*e));
	if (hex_field(&p, &e->start, '-') || hex_field(&p, &e->end, ' '))
		return -EINVAL;
	if (e->end < e->start)
		return -EINVAL;
	if (strlen(p) < 5 || p[4] != ' ')
		return -EINVAL;
	memcpy(e->perms, p, 4);
	e->perms[4] = '\0';
	p += 5;
	if (hex_field(&p, &e->offset, ' ') || hex_field(&p, &major, ':') ||
	    hex_field(&p, &minor, ' '))
		return -EINVAL;
	e->dev_major = (uint32_t)major;
	e->dev_minor = (uint32_t)minor;
	errno = 0;
	e->inode = strtoull(p, &end, 10);
	if (end == p || errno || (*end != ' ' && *end != '\0' && *end != '\n'))
		return -EINVAL;
	p = end;
	while (*p == ' ')
		p++;
	len = strlen(p);
	if (len && p[len - 1] == '\n')
		p[--len] = '\0';
	if (len >= sizeof(deleted) - 1 &&
	    !strcmp(p + len - (sizeof(deleted) - 1), deleted)) {
		p[len - (sizeof(deleted) - 1)] = '\0';
		e->deleted = true;
	}
	e->path = p;
	return 0;
}
