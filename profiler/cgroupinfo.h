/* SPDX-License-Identifier: MIT */
/*
 * cgroupinfo: what a sample's labels need from its cgroup (v2).
 *
 * The container and the systemd unit a cgroup path names.
 */
#ifndef SMOLDER_CGROUPINFO_H
#define SMOLDER_CGROUPINFO_H

#include <stddef.h>

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
