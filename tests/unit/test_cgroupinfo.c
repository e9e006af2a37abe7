/* SPDX-License-Identifier: MIT */
/* cgroupinfo: container ids and units from cgroup paths, and the walk of a
 * directory tree and of the real cgroup2 mount. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/xalloc.h"
#include "../../profiler/cgroupinfo.h"
#include "harness.h"

#define ID64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID64B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define POD "pod0f4b7d2e-8a1c-4e6b-9d3f-2c5a7b9e1d04"
#define PODU "pod0f4b7d2e_8a1c_4e6b_9d3f_2c5a7b9e1d04"

static void check_container(int line, const char *path, const char *want,
			    const char *want_rt)
{
	char out[128];
	const char *rt = "unset";
	size_t n = cgroup_container_id(path, out, sizeof(out), &rt);

	if (!want) {
		if (n == 0 && !rt && !out[0]) {
			h_pass++;
			return;
		}
		h_fail++;
		fprintf(stderr, "%s:%d: '%s': container '%s' (%s), want none\n",
			__FILE__, line, path, out, rt ? rt : "(null)");
		return;
	}
	if (n == strlen(want) && !strcmp(out, want) && rt &&
	    !strcmp(rt, want_rt)) {
		h_pass++;
		return;
	}
	h_fail++;
	fprintf(stderr, "%s:%d: '%s': container '%s' (%s), want '%s' (%s)\n",
		__FILE__, line, path, n ? out : "", rt ? rt : "(null)", want,
		want_rt);
}

#define CONTAINER(path, want, rt) check_container(__LINE__, path, want, rt)
#define NO_CONTAINER(path) check_container(__LINE__, path, NULL, NULL)

static void parses_container_ids(void)
{
	/* docker, cgroupfs driver; nested (docker in docker): the innermost */
	CONTAINER("/docker/" ID64, ID64, "docker");
	CONTAINER("/docker/" ID64 "/", ID64, "docker");
	CONTAINER("/docker/" ID64 "/docker/" ID64B, ID64B, "docker");
	CONTAINER("/docker/" ID64 "/init.scope", ID64, "docker");
	/* docker, systemd driver */
	CONTAINER("/system.slice/docker-" ID64 ".scope", ID64, "docker");
	CONTAINER("/system.slice/docker-" ID64 ".scope/init.scope", ID64,
		  "docker");
	/* kubernetes with dockershim, systemd driver */
	CONTAINER("/kubepods.slice/kubepods-besteffort.slice/"
		  "kubepods-besteffort-" PODU ".slice/docker-" ID64 ".scope",
		  ID64, "docker");

	/* kubernetes + containerd, cgroupfs driver: each QoS class */
	CONTAINER("/kubepods/burstable/" POD "/" ID64, ID64, "containerd");
	CONTAINER("/kubepods/besteffort/" POD "/" ID64, ID64, "containerd");
	CONTAINER("/kubepods/" POD "/" ID64, ID64, "containerd");
	/* ... under a kubelet cgroup root (kind, nested clusters) */
	CONTAINER("/kubelet/kubepods/burstable/" POD "/" ID64, ID64,
		  "containerd");
	/* kubernetes + containerd, systemd driver */
	CONTAINER("/kubepods.slice/kubepods-burstable.slice/"
		  "kubepods-burstable-" PODU ".slice/cri-containerd-" ID64
		  ".scope",
		  ID64, "containerd");
	CONTAINER("/kubepods.slice/kubepods-" PODU ".slice/cri-containerd-"
		  ID64 ".scope",
		  ID64, "containerd");
	CONTAINER("/kubelet.slice/kubelet-kubepods.slice/"
		  "kubelet-kubepods-besteffort.slice/"
		  "kubelet-kubepods-besteffort-" PODU ".slice/cri-containerd-"
		  ID64 ".scope",
		  ID64, "containerd");
	/* the pod's own cgroup, and the QoS level: no container */
	NO_CONTAINER("/kubepods/burstable/" POD);
	NO_CONTAINER("/kubepods.slice/kubepods-burstable.slice/"
		     "kubepods-burstable-" PODU ".slice");
	NO_CONTAINER("/kubepods/burstable");
	/* a pod-like parent outside kubepods is not kubernetes */
	NO_CONTAINER("/system.slice/" POD "/" ID64);

	/* cri-o: systemd driver, cgroupfs driver, and its monitor */
	CONTAINER("/kubepods.slice/kubepods-burstable.slice/"
		  "kubepods-burstable-" PODU ".slice/crio-" ID64 ".scope",
		  ID64, "cri-o");
	CONTAINER("/kubepods.slice/kubepods-burstable.slice/"
		  "kubepods-burstable-" PODU ".slice/crio-" ID64
		  ".scope/container",
		  ID64, "cri-o");
	CONTAINER("/kubepods/burstable/" POD "/crio-" ID64, ID64, "cri-o");
	NO_CONTAINER("/kubepods.slice/kubepods-burstable.slice/"
		     "kubepods-burstable-" PODU ".slice/crio-conmon-" ID64
		     ".scope");
	NO_CONTAINER("/kubepods/burstable/" POD "/crio-conmon-" ID64);

	/* podman: rootful, rootless, the payload's "container" cgroup,
	 * cgroupfs; its monitor is not a container */
	CONTAINER("/machine.slice/libpod-" ID64 ".scope", ID64, "podman");
	CONTAINER("/machine.slice/libpod-" ID64 ".scope/container", ID64,
		  "podman");
	CONTAINER("/user.slice/user-1000.slice/user@1000.service/user.slice/"
		  "libpod-" ID64 ".scope",
		  ID64, "podman");
	CONTAINER("/user.slice/user-1000.slice/user@1000.service/user.slice/"
		  "libpod-" ID64 ".scope/container",
		  ID64, "podman");
	CONTAINER("/libpod_parent/libpod-" ID64, ID64, "podman");
	NO_CONTAINER("/machine.slice/libpod-conmon-" ID64 ".scope");
	NO_CONTAINER("/user.slice/user-1000.slice/user@1000.service/"
		     "user.slice/libpod-conmon-" ID64 ".scope");
	NO_CONTAINER("/libpod_parent/conmon");

	/* lxc (4.0+ and legacy) and systemd-nspawn are named */
	CONTAINER("/lxc.payload.web1", "web1", "lxc");
	CONTAINER("/lxc.payload.web1/system.slice/nginx.service", "web1",
		  "lxc");
	NO_CONTAINER("/lxc.monitor.web1");
	CONTAINER("/lxc/web1", "web1", "lxc");
	CONTAINER("/machine.slice/systemd-nspawn@deb12.service", "deb12",
		  "systemd-nspawn");
	CONTAINER("/machine.slice/systemd-nspawn@deb12.service/payload/"
		  "system.slice/cron.service",
		  "deb12", "systemd-nspawn");
	/* a container inside a machine: the innermost */
	CONTAINER("/machine.slice/systemd-nspawn@deb12.service/payload/"
		  "system.slice/docker-" ID64 ".scope",
		  ID64, "docker");

	/* short ids from odd runtimes; too short, upper case or not hex */
	CONTAINER("/docker/0123456789ab", "0123456789ab", "docker");
	CONTAINER("/system.slice/docker-0123456789ab.scope", "0123456789ab",
		  "docker");
	NO_CONTAINER("/docker/0123456789a");
	NO_CONTAINER("/docker/0123456789ABCDEF");
	NO_CONTAINER("/docker/" ID64 "x");
	NO_CONTAINER("/system.slice/docker-.scope");
	NO_CONTAINER("/system.slice/docker-" ID64 ".scopex");
	NO_CONTAINER("/system.slice/docker-" ID64);

	/* no container */
	NO_CONTAINER("");
	NO_CONTAINER("/");
	NO_CONTAINER("//");
	NO_CONTAINER("/init.scope");
	NO_CONTAINER("/docker");
	NO_CONTAINER("/docker/");
	NO_CONTAINER("/system.slice/docker.service");
	NO_CONTAINER("/system.slice/containerd.service");
	NO_CONTAINER("/system.slice/crio.service");
	NO_CONTAINER("/user.slice/user-1000.slice/session-3.scope");
	NO_CONTAINER("/user.slice/user-1000.slice/user@1000.service/app.slice/"
		     "app-gnome-firefox-2231.scope");
	NO_CONTAINER("/machine.slice/machine-qemu\\x2d1\\x2dvm1.scope");
}

static void truncates_ids(void)
{
	char out[13], one[1];
	const char *rt = NULL;

	/* outsz 13: docker's short id */
	CHECK_EQ(cgroup_container_id("/system.slice/docker-" ID64 ".scope", out,
				     sizeof(out), &rt),
		 12);
	CHECK_STR(out, "0123456789ab");
	CHECK_STR(rt, "docker");
	CHECK_EQ(cgroup_container_id("/docker/" ID64, out, 5, NULL), 4);
	CHECK_STR(out, "0123");
	one[0] = 'x';
	CHECK_EQ(cgroup_container_id("/docker/" ID64, one, 1, &rt), 0);
	CHECK_EQ(one[0], '\0');
	/* outsz 0: nothing written, the runtime still said */
	out[0] = 'x';
	rt = NULL;
	CHECK_EQ(cgroup_container_id("/docker/" ID64, out, 0, &rt), 0);
	CHECK_EQ(out[0], 'x');
	CHECK_STR(rt, "docker");
	/* a miss leaves an empty string */
	strcpy(out, "junk");
	CHECK_EQ(cgroup_container_id("/init.scope", out, sizeof(out), &rt), 0);
	CHECK_STR(out, "");
	CHECK(rt == NULL);
}

static void check_unit(int line, const char *path, const char *want)
{
	char out[256];
	size_t n = cgroup_systemd_unit(path, out, sizeof(out));

	if (want ? n == strlen(want) && !strcmp(out, want) : !n && !out[0]) {
		h_pass++;
		return;
	}
	h_fail++;
	fprintf(stderr, "%s:%d: '%s': unit '%s', want '%s'\n", __FILE__, line,
		path, n ? out : "", want ? want : "");
}

#define UNIT(path, want) check_unit(__LINE__, path, want)

static void finds_systemd_units(void)
{
	char out[8];

	UNIT("/system.slice/ssh.service", "ssh.service");
	UNIT("/system.slice/ssh.service/", "ssh.service");
	UNIT("/user.slice/user-1000.slice/user@1000.service/app.slice/"
	     "foo.service",
	     "foo.service");
	UNIT("/user.slice/user-1000.slice/user@1000.service/app.slice",
	     "user@1000.service");
	UNIT("/user.slice/user-1000.slice/session-3.scope", "session-3.scope");
	UNIT("/system.slice/docker-" ID64 ".scope", "docker-" ID64 ".scope");
	UNIT("/machine.slice/libpod-" ID64 ".scope/container",
	     "libpod-" ID64 ".scope");
	UNIT("/system.slice/system-getty.slice/getty@tty1.service",
	     "getty@tty1.service");
	UNIT("/machine.slice/systemd-nspawn@deb12.service/payload/"
	     "system.slice/cron.service",
	     "cron.service");
	UNIT("/init.scope", "init.scope");
	UNIT("/", NULL);
	UNIT("", NULL);
	UNIT("/system.slice", NULL);
	UNIT("/user.slice/user-1000.slice", NULL);
	UNIT("/docker/" ID64, NULL);
	UNIT("/kubepods/burstable/" POD "/" ID64, NULL);
	UNIT("/system.slice/.service", NULL);
	UNIT("/system.slice/ssh.service.d", NULL);

	CHECK_EQ(cgroup_systemd_unit("/system.slice/ssh.service", out,
				     sizeof(out)),
		 7);
	CHECK_STR(out, "ssh.ser");
	CHECK_EQ(cgroup_systemd_unit("/system.slice/ssh.service", out, 0), 0);
}

static uint64_t ino_of(const char *path)
{
	struct stat st;

	if (stat(path, &st)) {
		fprintf(stderr, "cannot stat '%s': %s\n", path,
			strerror(errno));
		return 0;
	}
	return st.st_ino;
}

/* The walk over a plain tree: any directory can be the root. */
static void walks_a_tree(void)
{
	char root[] = "/tmp/smolder-cgtest-XXXXXX", p[256];
	const char *dirs[] = { "/a", "/a/b", "/a/b/c", "/a/d", "/e" };
	struct cgroupinfo *c;
	struct cgroupinfo_stats st;
	const char *old;
	uint64_t ino_d;
	int fd;

	if (!mkdtemp(root)) {
		h_fail++;
		fprintf(stderr, "cannot create a directory: %s\n",
			strerror(errno));
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(p, sizeof(p), "%s%s", root, dirs[i]);
		CHECK_EQ(mkdir(p, 0755), 0);
	}
	/* files and symlinks are not cgroups */
	snprintf(p, sizeof(p), "%s/a/file", root);
	fd = open(p, O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/a/link", root);
	CHECK_EQ(symlink("b", p), 0);

	c = cgroupinfo_new(root);
	CHECK_STR(cgroupinfo_root(c), root);
	CHECK_STR(cgroupinfo_path(c, ino_of(root)), "/");
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(p, sizeof(p), "%s%s", root, dirs[i]);
		CHECK_STR(cgroupinfo_path(c, ino_of(p)), dirs[i]);
	}
	snprintf(p, sizeof(p), "%s/a/file", root);
	CHECK(cgroupinfo_path(c, ino_of(p)) == NULL);
	cgroupinfo_stats(c, &st);
	CHECK_EQ(st.known, 6);
	CHECK_EQ(st.lookups, 7);
	CHECK_EQ(st.misses, 1);
	CHECK_EQ(st.skipped, 0);
	CHECK_EQ(st.unreadable, 0);

	/* Unknown ids within the interval do not walk again. */
	cgroupinfo_set_rescan_interval(c, 3600ull * 1000000000ull);
	snprintf(p, sizeof(p), "%s/late", root);
	CHECK_EQ(mkdir(p, 0755), 0);
	for (int i = 0; i < 1000; i++)
		CHECK(cgroupinfo_path(c, ino_of(p)) == NULL);
	cgroupinfo_stats(c, &st);
	CHECK_EQ(st.rescans, 0);
	CHECK_EQ(st.misses, 1001);

	/* With no interval a miss walks again, and finds the newcomer. */
	cgroupinfo_set_rescan_interval(c, 0);
	CHECK_STR(cgroupinfo_path(c, ino_of(p)), "/late");
	cgroupinfo_stats(c, &st);
	CHECK_EQ(st.rescans, 1);
	CHECK_EQ(st.known, 7);

	/* A rename is seen by the next walk; the old path stays readable. */
	snprintf(p, sizeof(p), "%s/a/d", root);
	ino_d = ino_of(p);
	old = cgroupinfo_path(c, ino_d);
	CHECK_STR(old, "/a/d");
	char p2[256];

	snprintf(p2, sizeof(p2), "%s/a/d2", root);
	CHECK_EQ(rename(p, p2), 0);
	CHECK(cgroupinfo_path(c, UINT64_MAX) == NULL); /* walks */
	CHECK_STR(cgroupinfo_path(c, ino_d), "/a/d2");
	CHECK_STR(old, "/a/d");
	cgroupinfo_stats(c, &st);
	CHECK_EQ(st.rescans, 2);
	CHECK_EQ(st.known, 7);
	cgroupinfo_free(c);

	snprintf(p, sizeof(p), "%s/a/file", root);
	unlink(p);
	snprintf(p, sizeof(p), "%s/a/link", root);
	unlink(p);
	const char *rm[] = { "/late", "/a/d2", "/a/b/c", "/a/b", "/a", "/e",
			     "" };

	for (size_t i = 0; i < ARRAY_SIZE(rm); i++) {
		snprintf(p, sizeof(p), "%s%s", root, rm[i]);
		CHECK_EQ(rmdir(p), 0);
	}
}

/* A root that does not exist: every id unknown, nothing walked. */
static void survives_no_root(void)
{
	struct cgroupinfo *c = cgroupinfo_new("/nonexistent/smolder-cgroup");
	struct cgroupinfo_stats st;

	CHECK(cgroupinfo_root(c) == NULL);
	cgroupinfo_set_rescan_interval(c, 0);
	CHECK(cgroupinfo_path(c, 1) == NULL);
	CHECK(cgroupinfo_path(c, 1) == NULL);
	cgroupinfo_stats(c, &st);
	CHECK_EQ(st.known, 0);
	CHECK_EQ(st.lookups, 2);
	CHECK_EQ(st.misses, 2);
	CHECK_EQ(st.rescans, 0);
	cgroupinfo_free(c);
	cgroupinfo_free(NULL);
}

/* The id the kernel gives a cgroup (its file handle, as BPF's
 * bpf_get_current_cgroup_id() reports it), or 0. */
static uint64_t kernel_cgroup_id(const char *path)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + sizeof(uint64_t)];
	} h = { .fh.handle_bytes = sizeof(uint64_t) };
	uint64_t id;
	int mount_id;

	if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0) ||
	    h.fh.handle_bytes != sizeof(id))
		return 0;
	memcpy(&id, h.fh.f_handle, sizeof(id));
	return id;
}

static void skip(const char *why, const char *root)
{
	fprintf(stderr,
		"  SKIPPED walks_real_cgroups: %s%s%s%s: the walk of a real "
		"cgroup2 mount is NOT tested\n",
		why, root ? " ('" : "", root ? root : "", root ? "')" : "");
}

/* Cgroups made in the real mount are found by their inode, which is the id
 * the kernel reports, and so is one made after the first walk. */
static void walks_real_cgroups(void)
{
	struct cgroupinfo *c = cgroupinfo_new(NULL);
	char root[256], top[320], scope[448], late[448], want[448], id[80];
	const char *rt = NULL;
	uint64_t ino;

	if (!cgroupinfo_root(c)) {
		skip("no cgroup2 mount found", NULL);
		cgroupinfo_free(c);
		return;
	}
	snprintf(root, sizeof(root), "%s", cgroupinfo_root(c));
	if (strcmp(root, "/sys/fs/cgroup"))
		fprintf(stderr, "  note: /sys/fs/cgroup is not cgroup2; "
			"testing the cgroup2 mount '%s'\n", root);
	snprintf(top, sizeof(top), "%s/smolder-test-%d", root, (int)getpid());
	snprintf(scope, sizeof(scope), "%s/docker-" ID64 ".scope", top);
	snprintf(late, sizeof(late), "%s/late", top);
	if (mkdir(top, 0755)) {
		if (errno == EACCES || errno == EPERM || errno == EROFS)
			skip(strerror(errno), root);
		else {
			h_fail++;
			fprintf(stderr, "cannot create '%s': %s\n", top,
				strerror(errno));
		}
		cgroupinfo_free(c);
		return;
	}
	CHECK_EQ(mkdir(scope, 0755), 0);
	cgroupinfo_free(c);

	c = cgroupinfo_new(NULL);
	CHECK_STR(cgroupinfo_root(c), root);
	/* The premise: on a 64-bit kernel, the cgroup id is the inode. */
	ino = ino_of(scope);
	CHECK(ino != 0);
	CHECK_EQ(kernel_cgroup_id(scope), ino);
	CHECK_EQ(kernel_cgroup_id(root), ino_of(root));

	CHECK_STR(cgroupinfo_path(c, ino_of(root)), "/");
	snprintf(want, sizeof(want), "%s", top + strlen(root));
	CHECK_STR(cgroupinfo_path(c, ino_of(top)), want);
	snprintf(want, sizeof(want), "%s", scope + strlen(root));
	CHECK_STR(cgroupinfo_path(c, ino), want);
	const char *path = cgroupinfo_path(c, ino);

	CHECK_EQ(cgroup_container_id(path ? path : "", id, sizeof(id), &rt),
		 64);
	CHECK_STR(id, ID64);
	CHECK_STR(rt, "docker");
	CHECK_EQ(cgroup_systemd_unit(path ? path : "", id, sizeof(id)),
		 strlen("docker-" ID64 ".scope"));

	/* One made after the first walk, found by a rescan. */
	CHECK_EQ(mkdir(late, 0755), 0);
	cgroupinfo_set_rescan_interval(c, 0);
	snprintf(want, sizeof(want), "%s", late + strlen(root));
	CHECK_STR(cgroupinfo_path(c, ino_of(late)), want);
	struct cgroupinfo_stats st;

	cgroupinfo_stats(c, &st);
	CHECK_EQ(st.rescans, 1);
	CHECK_EQ(st.unreadable, 0);
	CHECK(st.known >= 4);

	CHECK_EQ(rmdir(late), 0);
	CHECK_EQ(rmdir(scope), 0);
	CHECK_EQ(rmdir(top), 0);
	cgroupinfo_free(c);
}

int main(void)
{
	RUN(parses_container_ids);
	RUN(truncates_ids);
	RUN(finds_systemd_units);
	RUN(walks_a_tree);
	RUN(survives_no_root);
	RUN(walks_real_cgroups);
	HARNESS_END();
}
