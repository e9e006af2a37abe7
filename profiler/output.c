/* SPDX-License-Identifier: MIT */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../formats/folded.h"
#include "../formats/formats.h"
#include "../formats/pprof.h"
#include "../formats/speedscope.h"
#include "../lib/log.h"
#include "../lib/strbuf.h"
#include "../lib/xalloc.h"

const char output_suffixes[] =
	".pb.gz or .pprof (pprof), .pb (uncompressed pprof), .folded, .svg,"
	" .json (speedscope)";

static bool ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && !strcmp(s + ls - lx, suffix);
}

int output_format_for(const char *path, enum output_format dash,
		      enum output_format *fmt)
{
	static const struct {
		const char *suffix;
		enum output_format format;
	} suffixes[] = {
		{ ".pb.gz", OUTPUT_PPROF_GZ }, { ".pprof", OUTPUT_PPROF_GZ },
		{ ".pb", OUTPUT_PPROF },       { ".folded", OUTPUT_FOLDED },
		{ ".svg", OUTPUT_SVG },        { ".json", OUTPUT_SPEEDSCOPE },
	};

	if (!strcmp(path, "-")) {
		*fmt = dash;
		return 0;
	}
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (ends_with(path, suffixes[i].suffix)) {
			*fmt = suffixes[i].format;
			return 0;
		}
	return -EINVAL;
}

int output_open(struct output *o, const char *path, enum output_format dash)
{
	struct strbuf tmp = STRBUF_INIT;
	char *dcopy, *bcopy;
	struct stat st;
	mode_t mask;
	int fd, err;

	memset(o, 0, sizeof(*o));
	if (output_format_for(path, dash, &o->format)) {
		log_err("cannot tell the format of '%s' (use a suffix: %s)",
			path, output_suffixes);
		return -EINVAL;
	}
	if (!strcmp(path, "-")) {
		o->f = stdout;
		return 0;
	}
	if (!stat(path, &st) && S_ISDIR(st.st_mode)) {
		log_err("cannot write '%s': it is a directory", path);
		return -EISDIR;
	}
	dcopy = xstrdup(path);
	bcopy = xstrdup(path);
	strbuf_addf(&tmp, "%s/.%s.XXXXXX", dirname(dcopy), basename(bcopy));
	free(dcopy);
	free(bcopy);
	fd = mkstemp(tmp.buf);
	if (fd < 0) {
		err = -errno;
		log_err("cannot write '%s': %s", path, strerror(-err));
		strbuf_release(&tmp);
		return err;
	}
	/* mkstemp makes the file 0600; give it the mode a plain create would. */
	mask = umask(0);
	umask(mask);
	fchmod(fd, 0666 & ~mask);
	o->f = fdopen(fd, "w");
	if (!o->f) {
		err = -errno;
		close(fd);
		unlink(tmp.buf);
		strbuf_release(&tmp);
		log_err("cannot write '%s': %s", path, strerror(-err));
		return err;
	}
	o->path = xstrdup(path);
	o->tmp = strbuf_detach(&tmp);
	return 0;
}

int output_write(struct output *o, const struct profile *p,
		 const struct fg_opts *fg, const char *name)
{
	struct fg_opts defaults = { .min_width = -1, .value_index = -1 };

	switch (o->format) {
	case OUTPUT_FOLDED:
		return folded_write(p, 0, o->f);
	case OUTPUT_PPROF_GZ:
		return pprof_write(p, o->f, true);
	case OUTPUT_PPROF:
		return pprof_write(p, o->f, false);
	case OUTPUT_SVG:
		return flamegraph_write(p, fg ? fg : &defaults, o->f);
	case OUTPUT_SPEEDSCOPE:
		return speedscope_write(p, name, o->f);
	}
	return -EINVAL;
}

static const char *bus_path;

/* A mapped input that shrinks under us faults on access: say so and stop
 * rather than die with a bare signal. */
static void on_sigbus(int sig)
{
	static const char a[] = "smolder: cannot read '";
	static const char b[] = "': the file changed while it was read\n";

	(void)sig;
	if (write(2, a, sizeof(a) - 1) < 0 ||
	    write(2, bus_path, strlen(bus_path)) < 0 ||
	    write(2, b, sizeof(b) - 1) < 0)
		_exit(1);
	_exit(1);
}

int input_load(const char *path, struct profile **out)
{
	struct format_error err = { "" };
	struct input_data in;
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	int e = input_data_read(path, &in);

	if (e) {
		log_err("cannot read '%s': %s", path,
			e == -EFBIG ? "more than 4 GiB from a pipe (give a file)"
				    : strerror(-e));
		return e;
	}
	bus_path = path;
	sigaction(SIGBUS, &sa, &old);
	e = profile_read(in.data, in.len, out, &err);
	sigaction(SIGBUS, &old, NULL);
	input_data_release(&in);
	if (e)
		log_err("cannot read '%s': %s", path, err.msg);
	return e;
}

int output_commit(struct output *o)
{
	const char *name = o->path ? o->path : "standard output";
	int err = 0;

	if (!o->f)
		return -EBADF;
	if (fflush(o->f) || ferror(o->f))
		err = -(errno ? errno : EIO);
	if (o->path) {
		if (fclose(o->f) && !err)
			err = -(errno ? errno : EIO);
		o->f = NULL;
		if (!err && rename(o->tmp, o->path))
			err = -errno;
	} else {
		o->f = NULL;
	}
	if (err) {
		log_err("cannot write '%s': %s", name, strerror(-err));
		output_abort(o);
		return err;
	}
	free(o->tmp);
	free(o->path);
	o->tmp = o->path = NULL;
	return 0;
}

void output_abort(struct output *o)
{
	if (o->f && o->f != stdout)
		fclose(o->f);
	o->f = NULL;
	if (o->tmp)
		unlink(o->tmp);
	free(o->tmp);
	free(o->path);
	o->tmp = o->path = NULL;
}
