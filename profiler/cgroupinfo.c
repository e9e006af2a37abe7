/* SPDX-License-Identifier: MIT */
#include "cgroupinfo.h"

#include <stdbool.h>
#include <string.h>

#include "../lib/xalloc.h"

/* ---- parsing paths ---- */

struct comp {
	const char *s;
	size_t n;
};

/* The path component that ends at or before `end`, or false at the start. */
static bool comp_before(const char *path, const char *end, struct comp *c)
{
	const char *s;

	while (end > path && end[-1] == '/')
		end--;
	if (end == path)
		return false;
	for (s = end; s > path && s[-1] != '/'; s--)
		;
	c->s = s;
	c->n = (size_t)(end - s);
	return true;
}

static bool comp_is(const struct comp *c, const char *s)
{
	return strlen(s) == c->n && !memcmp(c->s, s, c->n);
}

static bool comp_starts(const struct comp *c, const char *prefix)
{
	size_t n = strlen(prefix);

	return c->n >= n && !memcmp(c->s, prefix, n);
}

static bool comp_ends(const struct comp *c, const char *suffix)
{
	size_t n = strlen(suffix);

	return c->n >= n && !memcmp(c->s + c->n - n, suffix, n);
}

/* A container id: 12 or more lowercase hex digits, nothing else. */
static bool is_id(const char *s, size_t n)
{
	if (n < 12)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(s[i] >= '0' && s[i] <= '9') &&
		    !(s[i] >= 'a' && s[i] <= 'f'))
			return false;
	return true;
}

static size_t put(char *out, size_t outsz, const char *s, size_t n)
{
	if (!outsz)
		return 0;
	if (n > outsz - 1)
		n = outsz - 1;
	memcpy(out, s, n);
	out[n] = '\0';
	return n;
}

/*
 * Components that name their container by themselves: prefix, the id or
 * name, suffix. Tried in order, so a ".scope" form comes before the bare
 * one with the same prefix. The monitors ("crio-conmon-<id>.scope",
 * "libpod-conmon-<id>.scope") fail here as "conmon-<id>" is not an id.
 */
static const struct {
	const char *prefix, *suffix, *runtime;
	bool hex; /* else any non-empty name */
} named_forms[] = {
	{ "docker-", ".scope", "docker", true },
	{ "cri-containerd-", ".scope", "containerd", true },
	{ "crio-", ".scope", "cri-o", true },
	{ "crio-", "", "cri-o", true },
	{ "libpod-", ".scope", "podman", true },
	{ "libpod-", "", "podman", true },
	{ "lxc.payload.", "", "lxc", false },
	{ "systemd-nspawn@", ".service", "systemd-nspawn", false },
};

/* The runtime if component `c` of `path` names a container, its id or
 * name in *id. */
static const char *container_in(const char *path, const struct comp *c,
				struct comp *id)
{
	struct comp parent, up;

	for (size_t i = 0; i < ARRAY_SIZE(named_forms); i++) {
		size_t pn = strlen(named_forms[i].prefix);
		size_t sn = strlen(named_forms[i].suffix);

		if (c->n <= pn + sn || !comp_starts(c, named_forms[i].prefix) ||
		    !comp_ends(c, named_forms[i].suffix))
			continue;
		id->s = c->s + pn;
		id->n = c->n - pn - sn;
		if (named_forms[i].hex && !is_id(id->s, id->n))
			continue;
		return named_forms[i].runtime;
	}
	/* Forms named by the parent: /docker/<id>, /lxc/<name>, and the
	 * kubelet's cgroupfs driver, /kubepods[/<qos>]/pod<uid>/<id>. */
	if (!comp_before(path, c->s, &parent))
		return NULL;
	*id = *c;
	if (comp_is(&parent, "docker") && is_id(c->s, c->n))
		return "docker";
	if (comp_is(&parent, "lxc"))
		return "lxc";
	if (comp_starts(&parent, "pod") && parent.n > 3 && is_id(c->s, c->n))
		for (const char *end = parent.s; comp_before(path, end, &up);
		     end = up.s)
			if (comp_is(&up, "kubepods"))
				return "containerd";
	return NULL;
}

size_t cgroup_container_id(const char *path, char *out, size_t outsz,
			   const char **runtime)
{
	struct comp c, id;

	for (const char *end = path + strlen(path); comp_before(path, end, &c);
	     end = c.s) {
		const char *rt = container_in(path, &c, &id);

		if (rt) {
			if (runtime)
				*runtime = rt;
			return put(out, outsz, id.s, id.n);
		}
	}
	if (runtime)
		*runtime = NULL;
	if (outsz)
		out[0] = '\0';
	return 0;
}

size_t cgroup_systemd_unit(const char *path, char *out, size_t outsz)
{
	struct comp c;

	for (const char *end = path + strlen(path); comp_before(path, end, &c);
	     end = c.s)
		if ((comp_ends(&c, ".service") && c.n > strlen(".service")) ||
		    (comp_ends(&c, ".scope") && c.n > strlen(".scope")))
			return put(out, outsz, c.s, c.n);
	if (outsz)
		out[0] = '\0';
	return 0;
}
