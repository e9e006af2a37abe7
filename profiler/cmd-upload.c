/* SPDX-License-Identifier: MIT */
/* smolder upload: send a profile to a Pyroscope-compatible /ingest. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../formats/formats.h"
#include "../formats/profile.h"
#include "../lib/clock.h"
#include "../lib/log.h"
#include "../lib/parse.h"
#include "../lib/xalloc.h"
#include "../web/client.h"
#include "../web/ingest.h"
#include "../web/token.h"
#include "commands.h"
#include "output.h"

#define CMD "smolder upload"

static const char usage[] =
	"usage: smolder upload FILE [--url URL] [--name SERVICE{k=v,...}]\n"
	"                      [--token-file F] [--from TIME] [--until TIME]\n"
	"\n"
	"Send a profile (pprof, folded, perf script or speedscope; - reads\n"
	"standard input) to smolder serve or any Pyroscope-compatible server.\n"
	"It goes as pprof, in parts of at most 16,000 samples and 4 MiB, as\n"
	"Pyroscope takes by default.\n"
	"\n"
	"  -u, --url URL          the server (default http://127.0.0.1:4100)\n"
	"  -n, --name SERIES      service name and labels, e.g.\n"
	"                         'api{env=prod,region=eu}' (default: the\n"
	"                         file's name without its suffixes)\n"
	"      --token-file FILE  send 'Authorization: Bearer' with the token\n"
	"                         in FILE\n"
	"      --from TIME        the profile's start (default: the time it\n"
	"                         records, else 10 s before --until)\n"
	"      --until TIME       its end (default: its start plus its\n"
	"                         duration, else now)\n"
	"  -h, --help             show this help\n";

enum { OPT_TOKEN = 256, OPT_FROM, OPT_UNTIL };

static const struct option long_opts[] = {
	{ "url", required_argument, NULL, 'u' },
	{ "name", required_argument, NULL, 'n' },
	{ "token-file", required_argument, NULL, OPT_TOKEN },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

/* "dir/app.pb.gz" -> "app"; "-" -> "upload". */
static void default_name(const char *path, char *out, size_t n)
{
	char *copy = xstrdup(path), *base = basename(copy), *dot;

	if (!strcmp(path, "-") || !*base)
		base = "upload";
	snprintf(out, n, "%s", base);
	if ((dot = strchr(out, '.')) && dot != out)
		*dot = '\0';
	for (char *c = out; *c; c++)
		if (strchr("{}=,\" ", *c) || (unsigned char)*c < 0x20)
			*c = '_';
	free(copy);
}

int cmd_upload(int argc, char **argv)
{
	struct client_opts co = { .url = "http://127.0.0.1:4100" };
	const char *name = NULL, *token_file = NULL, *from_s = NULL,
		   *until_s = NULL;
	char dname[256], *token = NULL;
	struct profile *p = NULL;
	struct client_result res;
	struct series ser;
	struct format_error ferr;
	int64_t now = (int64_t)clock_ns(CLOCK_REALTIME), from, until;
	int opt, err, status = 1;

	log_set_prefix(CMD);
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":u:n:h", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'u':
			co.url = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case OPT_TOKEN:
			token_file = optarg;
			break;
		case OPT_FROM:
			from_s = optarg;
			break;
		case OPT_UNTIL:
			until_s = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return option_error(CMD, opt, argv);
		}
	}
	if (optind != argc - 1)
		return usage_error(CMD, optind < argc ? "one file at a time"
						       : "which file?");
	if (strncmp(co.url, "http://", 7) && strncmp(co.url, "https://", 8))
		return usage_error(CMD, "invalid --url '%s' (http:// or https://)",
				   co.url);
	if (!name) {
		default_name(argv[optind], dname, sizeof(dname));
		name = dname;
	}
	if (series_parse(name, false, &ser, &ferr))
		return usage_error(CMD, "invalid --name '%s': %s", name, ferr.msg);
	series_release(&ser);
	if (from_s && ingest_parse_time(from_s, now, &from))
		return usage_error(CMD, "invalid time for --from: '%s'", from_s);
	if (until_s && ingest_parse_time(until_s, now, &until))
		return usage_error(CMD, "invalid time for --until: '%s'", until_s);
	if (token_file && !(token = token_read(token_file, 1)))
		return 1;
	co.token = token;

	if (input_load(argv[optind], &p))
		goto out;
	{
		int64_t dur = p->duration_nanos > 0 ? p->duration_nanos
						    : 10 * (int64_t)1000000000;

		if (!from_s && !until_s) {
			from = p->time_nanos ? p->time_nanos : now - dur;
			until = from + dur;
		} else if (!from_s) {
			from = until - dur;
		} else if (!until_s) {
			until = from + dur;
		}
	}
	if (until <= from) {
		log_err("--until is not after --from");
		goto out;
	}
	client_global_init();
	err = client_send(&co, name, from, until, p, &res);
	if (err) {
		log_err("%s%s", res.msg,
			res.parts ? " (some parts were accepted before)" : "");
		goto out;
	}
	fprintf(stderr, "%s: sent '%s' as '%s' to %s (%u part%s)\n", CMD,
		argv[optind], name, co.url, res.parts, res.parts == 1 ? "" : "s");
	status = 0;
out:
	profile_free(p);
	free(token);
	return status;
}
