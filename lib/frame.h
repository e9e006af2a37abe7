/* SPDX-License-Identifier: MIT */
/* frame: the kinds of code a frame can be, shared by every module. */
#ifndef SMOLDER_FRAME_H
#define SMOLDER_FRAME_H

enum frame_kind {
	FRAME_USER = 0,   /* native code in a process */
	FRAME_KERNEL = 1, /* the kernel or a module */
	FRAME_JIT = 2,    /* code generated at run time (perf-PID.map) */
	FRAME_INTERP = 3, /* an interpreter's frame (Python, ...) */
};

#endif
