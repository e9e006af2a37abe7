/* SPDX-License-Identifier: MIT */
/*
 * preflight: what commands that sample need from the system, checked once
 * before any work, each missing piece named in one line with what to do.
 */
#ifndef SMOLDER_PREFLIGHT_H
#define SMOLDER_PREFLIGHT_H

/* Privileges (root, or CAP_BPF and CAP_PERFMON) and kernel BTF. Returns 0,
 * or -EPERM / -ENOENT after logging the problem. */
int preflight_bpf(void);

#endif
