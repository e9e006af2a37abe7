/* SPDX-License-Identifier: MIT */
/* cgroupinfo: container ids and units from cgroup paths. */
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

int main(void)
{
	RUN(parses_container_ids);
	RUN(truncates_ids);
	RUN(finds_systemd_units);
	HARNESS_END();
}
