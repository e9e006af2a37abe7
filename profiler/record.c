/* SPDX-License-Identifier: MIT */
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/clock.h"
#include "../lib/log.h"
#include "../lib/xalloc.h"

/* How long a command may take to exit after SIGTERM before SIGKILL. */
#define CHILD_TERM_GRACE_MS 5000

struct recording {
	const struct record_opts *o;
	struct record_result *res;
	struct session core;
	int epfd, sigfd, timerfd;
	sigset_t oldmask;

	pid_t child;
	int child_pidfd;
	bool child_done;
	int go_fd, err_fd;

	int *pidfds; /* one per -p target, -1 once it has exited */
	size_t targets_alive;
	struct rlimit old_nofile; /* restored in the command... */
	bool nofile_raised;       /* ...if we raised it */
};

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

/*
 * Fork the command, stopped before exec until release_child(), so that its
 * pid is a target before it runs a single instruction of its own.
 */
static int spawn_child(struct recording *ss)
{
	int go[2], err[2];
	pid_t pid;

	if (pipe2(go, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
		log_err("cannot create a pipe: %s", strerror(errno));
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		int e = errno;

		log_err("cannot fork: %s", strerror(e));
		close(go[0]);
		close(go[1]);
		close(err[0]);
		close(err[1]);
		return -e;
	}
	if (pid == 0) {
		char c;
		int e;

		close(go[1]);
		close(err[0]);
		/* The command gets the process state we were given. */
		sigprocmask(SIG_SETMASK, &ss->oldmask, NULL);
		if (ss->nofile_raised)
			setrlimit(RLIMIT_NOFILE, &ss->old_nofile);
		if (read(go[0], &c, 1) != 1)
			_exit(127); /* the parent gave up */
		execvp(ss->o->cmd[0], ss->o->cmd);
		e = errno;
		if (write(err[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(go[0]);
	close(err[1]);
	ss->child = pid;
	ss->go_fd = go[1];
	ss->err_fd = err[0];
	ss->child_pidfd = pidfd_open_(pid);
	return 0;
}

/* Let the command exec. 0, or -ENOEXEC when exec failed (logged). */
static int release_child(struct recording *ss)
{
	ssize_t n;
	int e = 0;

	if (write(ss->go_fd, "g", 1) != 1)
		log_warn("cannot start '%s': %s", ss->o->cmd[0], strerror(errno));
	close(ss->go_fd);
	ss->go_fd = -1;
	/* The error pipe closes on a successful exec. */
	do
		n = read(ss->err_fd, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(ss->err_fd);
	ss->err_fd = -1;
	if (n == sizeof(e)) {
		log_err("cannot run '%s': %s", ss->o->cmd[0], strerror(e));
		return -ENOEXEC;
	}
	ss->res->cmd_ran = true;
	return 0;
}

static void reap_child(struct recording *ss, bool block)
{
	int status;
	pid_t r;

	if (ss->child <= 0 || ss->child_done)
		return;
	do
		r = waitpid(ss->child, &status, block ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == ss->child) {
		ss->child_done = true;
		ss->res->cmd_status = exit_code(status);
	}
}

/* Stop a command still running when sampling ends, without hanging on it. */
static void finish_child(struct recording *ss)
{
	if (ss->child <= 0)
		return;
	reap_child(ss, false);
	if (ss->child_done)
		return;
	kill(ss->child, SIGTERM);
	if (ss->child_pidfd >= 0) {
		struct pollfd pfd = { .fd = ss->child_pidfd, .events = POLLIN };

		if (poll(&pfd, 1, CHILD_TERM_GRACE_MS) == 0) {
			log_warn("'%s' did not exit on SIGTERM; killing it",
				 ss->o->cmd[0]);
			kill(ss->child, SIGKILL);
		}
	}
	reap_child(ss, true);
}

static int epoll_add(int epfd, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

enum {
	TAG_EVENTS = 1,
	TAG_SIGNAL,
	TAG_TIMER,
	TAG_CHILD,
	TAG_TARGET_BASE = 1000, /* + index of the -p target */
};

static int setup_loop(struct recording *ss)
{
	int err;

	ss->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ss->epfd < 0)
		return -errno;
	if ((err = epoll_add(ss->epfd, ss->sigfd, TAG_SIGNAL)) ||
	    (err = epoll_add(ss->epfd, session_fd(&ss->core),
			     TAG_EVENTS)))
		return err;
	if (ss->o->duration_s > 0) {
		double d = ss->o->duration_s;
		struct itimerspec its = {
			.it_value.tv_sec = (time_t)d,
			.it_value.tv_nsec = (long)((d - (double)(time_t)d) * 1e9),
		};

		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
		ss->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
		if (ss->timerfd < 0 || timerfd_settime(ss->timerfd, 0, &its, NULL))
			return -errno;
		if ((err = epoll_add(ss->epfd, ss->timerfd, TAG_TIMER)))
			return err;
	}
	if (ss->child_pidfd >= 0 &&
	    (err = epoll_add(ss->epfd, ss->child_pidfd, TAG_CHILD)))
		return err;
	for (size_t i = 0; i < ss->o->npids; i++)
		if (ss->pidfds[i] >= 0 &&
		    (err = epoll_add(ss->epfd, ss->pidfds[i], TAG_TARGET_BASE + i)))
			return err;
	return 0;
}

/* Wait for the end of the session, serving process events meanwhile. */
static void run_loop(struct recording *ss)
{
	bool busy = false;

	for (;;) {
		struct epoll_event evs[16];
		/* With tables to load, only look for events, then go on. */
		int n = epoll_wait(ss->epfd, evs, 16, busy ? 0 : -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("epoll_wait: %s", strerror(errno));
			ss->res->stop = STOP_SIGNAL;
			return;
		}
		if (!n && busy)
			busy = session_work(&ss->core);
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag == TAG_EVENTS) {
				busy = session_events(&ss->core, false);
			} else if (tag == TAG_SIGNAL) {
				struct signalfd_siginfo si;

				if (read(ss->sigfd, &si, sizeof(si)) != sizeof(si))
					continue;
				if (si.ssi_signo == SIGCHLD) {
					reap_child(ss, false);
					if (ss->child_done) {
						ss->res->stop = STOP_COMMAND_EXITED;
						return;
					}
					continue;
				}
				ss->res->stop = STOP_SIGNAL;
				ss->res->stop_signal = (int)si.ssi_signo;
				return;
			} else if (tag == TAG_TIMER) {
				ss->res->stop = STOP_DURATION;
				return;
			} else if (tag == TAG_CHILD) {
				reap_child(ss, true);
				ss->res->stop = STOP_COMMAND_EXITED;
				return;
			} else if (tag >= TAG_TARGET_BASE) {
				size_t t = tag - TAG_TARGET_BASE;

				epoll_ctl(ss->epfd, EPOLL_CTL_DEL, ss->pidfds[t], NULL);
				close(ss->pidfds[t]);
				ss->pidfds[t] = -1;
				log_info("process %d exited", ss->o->pids[t]);
				if (--ss->targets_alive == 0) {
					ss->res->stop = STOP_TARGETS_EXITED;
					return;
				}
			}
		}
	}
}

/* Objects are kept open so that exited processes still resolve. */
static bool raise_fd_limit(struct rlimit *old)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= rl.rlim_max)
		return false;
	*old = rl;
	rl.rlim_cur = rl.rlim_max;
	return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

int record_run(const struct record_opts *o, struct record_result *res)
{
	struct sampler_opts so = {
		.freq_hz = o->freq_hz,
		.kernel_stacks = o->kernel_stacks,
		.user_stacks = o->user_stacks,
		.filter_targets = o->npids > 0 || o->cmd,
		.follow_children = o->cmd != NULL,
		.max_stacks = o->max_stacks,
		.max_counts = o->max_counts,
		.dwarf_unwind = o->user_stacks && o->unwind == UNWIND_DWARF,
		.unwind_rows = o->unwind_rows,
		.copy_stacks = !o->user_stacks ? COPY_NEVER :
			       o->unwind == UNWIND_DWARF ? COPY_NO_TABLES :
			       o->unwind == UNWIND_COPY ? COPY_ALWAYS : COPY_NEVER,
		.copy_bytes = o->copy_bytes,
	};
	struct recording ss = {
		.o = o, .res = res, .epfd = -1, .sigfd = -1, .timerfd = -1,
		.child_pidfd = -1, .go_fd = -1, .err_fd = -1,
	};
	struct profbuild *pb = NULL;
	uint64_t t0 = 0, t0_real = 0, t1;
	sigset_t mask;
	int err;

	memset(res, 0, sizeof(*res));
	ss.nofile_raised = raise_fd_limit(&ss.old_nofile);

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, &ss.oldmask);
	ss.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (ss.sigfd < 0) {
		err = -errno;
		log_err("cannot create a signalfd: %s", strerror(-err));
		goto out;
	}

	if ((err = session_open(&ss.core, &so)))
		goto out;
	if (o->npids) {
		ss.pidfds = xcalloc(o->npids, sizeof(*ss.pidfds));
		for (size_t i = 0; i < o->npids; i++) {
			if ((err = sampler_add_target(ss.core.sampler, (uint32_t)o->pids[i]))) {
				log_err("cannot add process %d: %s", o->pids[i],
					strerror(-err));
				goto out;
			}
			ss.pidfds[i] = pidfd_open_(o->pids[i]);
			if (ss.pidfds[i] < 0 && errno == ESRCH) {
				err = -ESRCH;
				log_err("process %d exited before sampling"
					" started", o->pids[i]);
				goto out;
			}
			ss.targets_alive += ss.pidfds[i] >= 0;
		}
	}
	if (o->cmd) {
		if ((err = spawn_child(&ss)))
			goto out;
		if ((err = sampler_add_target(ss.core.sampler, (uint32_t)ss.child))) {
			log_err("cannot add the command's process: %s",
				strerror(-err));
			goto out;
		}
	}

	if ((err = session_start(&ss.core)))
		goto out;
	t0 = clock_ns(CLOCK_MONOTONIC);
	t0_real = clock_ns(CLOCK_REALTIME);
	res->ncpus = sampler_ncpus(ss.core.sampler);
	if (o->cmd && (err = release_child(&ss)))
		goto out;
	if (o->npids && !ss.targets_alive) {
		/* pidfd_open is unavailable: rely on the duration or signals. */
		log_debug("cannot watch the target processes for exit");
	}
	if ((err = setup_loop(&ss))) {
		log_err("cannot set up the event loop: %s", strerror(-err));
		goto out;
	}

	log_info("sampling %u CPUs at %u Hz", res->ncpus, o->freq_hz);
	run_loop(&ss);
	sampler_stop(ss.core.sampler);
	t1 = clock_ns(CLOCK_MONOTONIC);
	res->duration_s = (double)(t1 - t0) / 1e9;

	/* Events from the last moments, then mappings made since capture. */
	session_events(&ss.core, true);
	proctrack_refresh(ss.core.procs);

	if ((err = sampler_counters(ss.core.sampler, res->counters))) {
		log_err("cannot read the BPF counters: %s", strerror(-err));
		goto out;
	}
	pb = profbuild_new(ss.core.sym, ss.core.procs, 1000000000ull / o->freq_hz);
	if ((err = session_collect(&ss.core, 0, false, pb, &res->drain)))
		goto out;
	if (ss.core.copies)
		stackcopy_stats(ss.core.copies, &res->copies);
	profbuild_stats(pb, &res->build);
	proctrack_stats(ss.core.procs, &res->procs);
	symbolizer_stats(ss.core.sym, &res->sym);
	if (ss.core.unwinder)
		unwinder_stats(ss.core.unwinder, &res->unwind);
	res->profile = profbuild_finish(pb);
	res->profile->time_nanos = (int64_t)t0_real;
	res->profile->duration_nanos = (int64_t)(t1 - t0);
	if (o->kernel_stacks) {
		const char *why = symbolizer_kernel_problem(ss.core.sym);

		/* The symbolizer dies with this function; keep a copy. */
		res->kernel_problem = why ? xstrdup(why) : NULL;
	}
	err = 0;
out:
	if (ss.go_fd >= 0)
		close(ss.go_fd); /* an unreleased child exits on EOF */
	if (ss.err_fd >= 0)
		close(ss.err_fd);
	if (ss.child > 0) {
		if (err && !res->cmd_ran)
			reap_child(&ss, true);
		else
			finish_child(&ss);
	}
	profbuild_free(pb);
	session_close(&ss.core);
	for (size_t i = 0; ss.pidfds && i < o->npids; i++)
		if (ss.pidfds[i] >= 0)
			close(ss.pidfds[i]);
	free(ss.pidfds);
	if (ss.child_pidfd >= 0)
		close(ss.child_pidfd);
	if (ss.timerfd >= 0)
		close(ss.timerfd);
	if (ss.epfd >= 0)
		close(ss.epfd);
	if (ss.sigfd >= 0)
		close(ss.sigfd);
	/* SIGINT and friends stay blocked: a second Ctrl-C while the profile
	 * is written must not leave it unwritten. */
	return err;
}

void record_result_release(struct record_result *res)
{
	profile_free(res->profile);
	free((char *)res->kernel_problem);
	memset(res, 0, sizeof(*res));
}
