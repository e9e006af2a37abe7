/* SPDX-License-Identifier: MIT */
/*
 * cgroupinfo: what a sample's labels need from its cgroup (v2).
 *
 * The BPF program records each sample's cgroup id: the kernfs id of the
 * task's cgroup in the default (v2) hierarchy, which on 64-bit kernels is
 * the inode number of the cgroup's directory in the cgroup2 mount. A
 * cgroupinfo walks that mount once, remembering inode -> path, and walks
 * it again (rate-limited) when asked about an id it does not know. The
 * parsers below turn a path into a container id or a systemd unit; they
 * need no cgroupinfo.
 *
 * Paths are relative to the mount, which inside a cgroup namespace is the
 * namespace's root. Not thread-safe.
 */
#ifndef SMOLDER_CGROUPINFO_H
#define SMOLDER_CGROUPINFO_H

#include <stddef.h>
#include <stdint.h>

struct cgroupinfo;

/*
 * Walk the cgroup2 mount `root` (any directory is walked as given), or with
 * NULL, /sys/fs/cgroup when that is cgroup2 and else the first cgroup2
 * mount in /proc/self/mountinfo (/sys/fs/cgroup/unified on hybrid hosts).
 * Unreadable directories are skipped. Never NULL: without a mount every id
 * is unknown. Caller owns; free with cgroupinfo_free().
 */
struct cgroupinfo *cgroupinfo_new(const char *root);
void cgroupinfo_free(struct cgroupinfo *c);

/* The directory walked, or NULL when there is none (no cgroup2 mount was
 * found, or it could not be opened). Borrowed from c. */
const char *cgroupinfo_root(const struct cgroupinfo *c);

/*
 * The path of cgroup `id` relative to the mount, starting with "/" ("/" for
 * the root cgroup), or NULL when unknown. Borrowed from c until
 * cgroupinfo_free, even if a later walk finds the cgroup renamed.
 *
 * On a miss the tree is walked again, but at most once per min_rescan_ns
 * (1 s from cgroupinfo_new), so that a stream of unknown ids does not walk
 * it on every sample; and not at all once CGROUPINFO_MAX cgroups are known.
 */
const char *cgroupinfo_path(struct cgroupinfo *c, uint64_t id);
void cgroupinfo_set_rescan_interval(struct cgroupinfo *c, uint64_t ns);

/* At most this many cgroups are remembered; the rest are counted. */
#define CGROUPINFO_MAX 65536

struct cgroupinfo_stats {
	uint64_t known;      /* cgroups remembered */
	uint64_t lookups;    /* cgroupinfo_path calls */
	uint64_t misses;     /* of which answered NULL */
	uint64_t rescans;    /* walks after the first */
	uint64_t skipped;    /* cgroups seen by the last walk, not remembered
				as CGROUPINFO_MAX were known already */
	uint64_t unreadable; /* directories the last walk could not read */
};
void cgroupinfo_stats(const struct cgroupinfo *c, struct cgroupinfo_stats *out);

/*
 * The container a cgroup path names, from its innermost (last) component
 * that names one:
 *
 *	docker      /docker/<id>, /system.slice/docker-<id>.scope
 *	containerd  /kubepods/burstable/pod<uid>/<id> (the cgroupfs driver
 *	            does not name the runtime: containerd is assumed),
 *	            /kubepods.slice/kubepods-burstable.slice/
 *	            kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope
 *	cri-o       crio-<id>.scope, crio-<id> (cgroupfs);
 *	            crio-conmon-<id>.scope is the monitor, not a container
 *	podman      /machine.slice/libpod-<id>.scope (and .../container below
 *	            it), libpod-<id> (cgroupfs); libpod-conmon-<id>.scope is not
 *	lxc         /lxc.payload.<name>, /lxc/<name>
 *	systemd-nspawn  /machine.slice/systemd-nspawn@<name>.service
 *
 * <id> is lowercase hex, 64 digits from these runtimes, 12 or more
 * accepted; lxc and nspawn containers are named instead.
 *
 * Writes the id (or name) into `out`, NUL-terminated and truncated to
 * outsz - 1 bytes (outsz 13 gives docker's short id), and returns the
 * length written; 0 when the path names no container or outsz is 0.
 * `runtime` (may be NULL) is set to a static string: the runtime's name
 * above, or NULL when there is no container.
 */
size_t cgroup_container_id(const char *path, char *out, size_t outsz,
			   const char **runtime);

/*
 * The systemd unit owning a cgroup path: its innermost component ending in
 * ".service" or ".scope" ("/system.slice/ssh.service" -> "ssh.service",
 * ".../user@1000.service/app.slice/foo.service" -> "foo.service"). Written
 * into `out` as cgroup_container_id does; returns the length written, 0
 * when there is none.
 */
size_t cgroup_systemd_unit(const char *path, char *out, size_t outsz);

#endif
