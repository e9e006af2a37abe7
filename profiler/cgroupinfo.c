/* SPDX-License-Identifier: MIT */
#include "cgroupinfo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "../lib/arena.h"
#include "../lib/clock.h"
#include "../lib/hmap.h"
#include "../lib/log.h"
#include "../lib/strbuf.h"
#include "../lib/xalloc.h"

#define NS_PER_SEC 1000000000ull

struct cgroup {
	uint64_t ino;
	const char *path; /* in c->paths */
};

struct cgroupinfo {
	char *root;  /* NULL when there is nothing to walk */
	int rootfd;  /* -1 likewise */
	dev_t dev;   /* the walk stays on this file system */
	struct cgroup *cgs;
	size_t n, alloc;
	struct hmap idx;  /* ino -> cgs[] */
	/* Paths stay until cgroupinfo_free, so that a rename found by a later
	 * walk does not pull a path from under a caller. */
	struct arena paths;
	uint64_t min_rescan_ns;
	uint64_t last_walk_ns; /* when the last walk ended */
	struct cgroupinfo_stats stats;
};

/* ---- finding the mount ---- */

/* Undo mountinfo's octal escapes (\040 for a space...) in place. */
static void unescape_octal(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' &&
		    r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') << 6 | (r[2] - '0') << 3 |
				      (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* The mount point of the first cgroup2 mount in /proc/self/mountinfo
 * (caller owns), or NULL. */
static char *mountinfo_cgroup2(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *found = NULL;
	size_t cap = 0;

	if (!f)
		return NULL;
	while (!found && getline(&line, &cap, f) > 0) {
		/* id parent maj:min root mountpoint options [tags...] - fstype
		 * source super-options */
		char *sep = strstr(line, " - ");
		char *save, *mnt = NULL, *tok;
		int field = 0;

		if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		*sep = '\0';
		for (tok = strtok_r(line, " ", &save); tok && field < 4;
		     tok = strtok_r(NULL, " ", &save))
			field++;
		mnt = tok;
		if (mnt) {
			unescape_octal(mnt);
			found = xstrdup(mnt);
		}
	}
	free(line);
	fclose(f);
	return found;
}

static char *find_cgroup2(void)
{
	struct statfs sf;

	if (!statfs("/sys/fs/cgroup", &sf) && sf.f_type == CGROUP2_SUPER_MAGIC)
		return xstrdup("/sys/fs/cgroup");
	return mountinfo_cgroup2();
}

/* ---- the walk ---- */

static uint64_t ino_hash(uint64_t ino)
{
	return hash_bytes(&ino, sizeof(ino));
}

static struct cgroup *find(const struct cgroupinfo *c, uint64_t ino)
{
	uint64_t h = ino_hash(ino);
	size_t pos;

	for (uint32_t i = hmap_first(&c->idx, h, &pos); i != HMAP_NONE;
	     i = hmap_next(&c->idx, h, &pos))
		if (c->cgs[i].ino == ino)
			return &c->cgs[i];
	return NULL;
}

/* Remember `path` for `ino`, or count it skipped when full. A known inode
 * under another path was renamed: it takes the new path. */
static void remember(struct cgroupinfo *c, uint64_t ino, const char *path,
		     uint64_t *skipped)
{
	struct cgroup *cg = find(c, ino);

	if (cg) {
		if (strcmp(cg->path, path))
			cg->path = arena_strdup(&c->paths, path);
		return;
	}
	if (c->n >= CGROUPINFO_MAX) {
		(*skipped)++;
		return;
	}
	ALLOC_GROW(c->cgs, c->n + 1, c->alloc);
	c->cgs[c->n].ino = ino;
	c->cgs[c->n].path = arena_strdup(&c->paths, path);
	hmap_insert(&c->idx, ino_hash(ino), (uint32_t)c->n);
	c->n++;
}

/*
 * Walk the tree under c->rootfd, one directory open at a time: a stack of
 * paths still to read (each relative to the mount, "/a/b") rather than
 * recursion, so that a deep tree costs neither stack nor descriptors.
 * A directory that cannot be opened or read is counted and skipped.
 */
static void walk(struct cgroupinfo *c)
{
	char **todo = NULL;
	size_t ntodo = 0, todo_alloc = 0;
	uint64_t skipped = 0, unreadable = 0;
	struct strbuf child = STRBUF_INIT;
	struct stat st;

	if (fstat(c->rootfd, &st)) {
		unreadable++;
		goto out;
	}
	remember(c, st.st_ino, "/", &skipped);
	ALLOC_GROW(todo, ntodo + 1, todo_alloc);
	todo[ntodo++] = xstrdup("/");
	while (ntodo) {
		char *dir = todo[--ntodo];
		const char *rel = dir[1] ? dir + 1 : ".";
		int fd = openat(c->rootfd, rel, O_RDONLY | O_DIRECTORY |
				O_CLOEXEC | O_NOFOLLOW);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *de;

		if (!d) {
			/* Gone since it was listed, or unreadable. */
			if (errno != ENOENT) {
				log_debug("cannot open '%s%s': %s", c->root,
					  dir, strerror(errno));
				unreadable++;
			}
			if (fd >= 0)
				close(fd);
			free(dir);
			continue;
		}
		for (;;) {
			errno = 0;
			de = readdir(d);
			if (!de)
				break;
			if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
				continue;
			if (!strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, ".."))
				continue;
			if (fstatat(dirfd(d), de->d_name, &st,
				    AT_SYMLINK_NOFOLLOW) ||
			    !S_ISDIR(st.st_mode) || st.st_dev != c->dev)
				continue;
			strbuf_reset(&child);
			strbuf_adds(&child, dir[1] ? dir : "");
			strbuf_addc(&child, '/');
			strbuf_adds(&child, de->d_name);
			remember(c, st.st_ino, child.buf, &skipped);
			ALLOC_GROW(todo, ntodo + 1, todo_alloc);
			todo[ntodo++] = xstrdup(child.buf);
		}
		if (errno && errno != ENOENT) {
			log_debug("cannot read '%s%s': %s", c->root, dir,
				  strerror(errno));
			unreadable++;
		}
		closedir(d);
		free(dir);
	}
out:
	if (skipped && !c->stats.skipped)
		log_info("cgroups: %" PRIu64 " past the first %d not "
			 "remembered", skipped, CGROUPINFO_MAX);
	c->stats.skipped = skipped;
	c->stats.unreadable = unreadable;
	c->stats.known = c->n;
	c->last_walk_ns = clock_ns(CLOCK_MONOTONIC);
	strbuf_release(&child);
	free(todo);
}

struct cgroupinfo *cgroupinfo_new(const char *root)
{
	struct cgroupinfo *c = xcalloc(1, sizeof(*c));
	struct stat st;

	c->rootfd = -1;
	c->min_rescan_ns = NS_PER_SEC;
	c->root = root ? xstrdup(root) : find_cgroup2();
	if (!c->root) {
		log_info("cgroups: no cgroup2 mount found");
		return c;
	}
	c->rootfd = open(c->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->rootfd < 0 || fstat(c->rootfd, &st)) {
		log_info("cannot open '%s': %s", c->root, strerror(errno));
		if (c->rootfd >= 0)
			close(c->rootfd);
		c->rootfd = -1;
		free(c->root);
		c->root = NULL;
		return c;
	}
	c->dev = st.st_dev;
	walk(c);
	return c;
}

void cgroupinfo_free(struct cgroupinfo *c)
{
	if (!c)
		return;
	if (c->rootfd >= 0)
		close(c->rootfd);
	free(c->root);
	free(c->cgs);
	hmap_release(&c->idx);
	arena_release(&c->paths);
	free(c);
}

const char *cgroupinfo_root(const struct cgroupinfo *c)
{
	return c->root;
}

const char *cgroupinfo_path(struct cgroupinfo *c, uint64_t id)
{
	struct cgroup *cg = find(c, id);

	c->stats.lookups++;
	if (!cg && c->rootfd >= 0 && c->n < CGROUPINFO_MAX &&
	    clock_ns(CLOCK_MONOTONIC) - c->last_walk_ns >= c->min_rescan_ns) {
		walk(c);
		c->stats.rescans++;
		cg = find(c, id);
	}
	if (!cg) {
		c->stats.misses++;
		return NULL;
	}
	return cg->path;
}

void cgroupinfo_set_rescan_interval(struct cgroupinfo *c, uint64_t ns)
{
	c->min_rescan_ns = ns;
}

void cgroupinfo_stats(const struct cgroupinfo *c, struct cgroupinfo_stats *out)
{
	*out = c->stats;
}

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
