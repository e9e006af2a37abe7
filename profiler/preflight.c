/* SPDX-License-Identifier: MIT */
#include "preflight.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../lib/log.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"

static bool has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

static bool privileged(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data))
		return geteuid() == 0;
	if (has_cap(data, CAP_SYS_ADMIN))
		return true;
	return has_cap(data, CAP_BPF) && has_cap(data, CAP_PERFMON);
}

int preflight_bpf(void)
{
	if (!privileged()) {
		log_err("sampling needs root, or the CAP_BPF and CAP_PERFMON"
			" capabilities: run it with sudo");
		return -EPERM;
	}
	if (access(VMLINUX_BTF, R_OK)) {
		log_err("the kernel has no BTF ('%s': %s): smolder needs a"
			" kernel built with CONFIG_DEBUG_INFO_BTF=y",
			VMLINUX_BTF, strerror(errno));
		return -ENOENT;
	}
	return 0;
}
