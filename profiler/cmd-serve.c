/* SPDX-License-Identifier: MIT */
/* smolder serve: the web viewer and a Pyroscope-compatible ingest. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../lib/log.h"
#include "../lib/parse.h"
#include "../web/api.h"
#include "../web/server.h"
#include "../web/token.h"
#include "commands.h"

#define CMD "smolder serve"
#define DEFAULT_STORE "/var/lib/smolder/serve"
#define DEFAULT_LISTEN "127.0.0.1:4100"

static const char usage[] =
	"usage: smolder serve [--store DIR] [--listen HOST:PORT] [--token-file F]\n"
	"                     [--max-body SIZE] [--retention AGE]\n"
	"                     [--max-store-size SIZE] [--cache-size SIZE]\n"
	"\n"
	"Serve the profile viewer, its query API and a Pyroscope-compatible\n"
	"POST /ingest, over a store in the agent's format.\n"
	"\n"
	"  -s, --store DIR          the store (default " DEFAULT_STORE "); the\n"
	"                           agent's own (" "/var/lib/smolder" ") is served\n"
	"                           read-only while the agent runs\n"
	"  -l, --listen HOST:PORT   where to listen (default " DEFAULT_LISTEN ");\n"
	"                           port 0 picks a free one\n"
	"      --token-file FILE    ingest needs 'Authorization: Bearer TOKEN'\n"
	"                           with the token in FILE\n"
	"      --max-body SIZE      largest request body (default 16M);\n"
	"                           decompressed, 8 times that\n"
	"      --retention AGE      delete windows older than AGE (default 7d;\n"
	"                           0: keep)\n"
	"      --max-store-size SIZE  delete the oldest windows past SIZE\n"
	"                           (default 10G; 0: no cap)\n"
	"      --cache-size SIZE    decoded windows and sums of them kept in\n"
	"                           memory (default 512M)\n"
	"  -v, --verbose            say more (-vv: each query's work)\n"
	"  -h, --help               show this help\n";

enum { OPT_TOKEN = 256, OPT_MAX_BODY, OPT_RETENTION, OPT_MAX_STORE, OPT_CACHE };

static const struct option long_opts[] = {
	{ "store", required_argument, NULL, 's' },
	{ "listen", required_argument, NULL, 'l' },
	{ "token-file", required_argument, NULL, OPT_TOKEN },
	{ "max-body", required_argument, NULL, OPT_MAX_BODY },
	{ "retention", required_argument, NULL, OPT_RETENTION },
	{ "max-store-size", required_argument, NULL, OPT_MAX_STORE },
	{ "cache-size", required_argument, NULL, OPT_CACHE },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

int cmd_serve(int argc, char **argv)
{
	struct api_opts ao = {
		.store_dir = DEFAULT_STORE,
		.cache_bytes = 512ull << 20,
		.retention_ns = 7 * 86400 * (int64_t)1000000000,
		.max_store = 10ull << 30,
	};
	struct server_opts so = { .listen = DEFAULT_LISTEN, .max_body = 16u << 20 };
	const char *token_file = NULL;
	struct api *api = NULL;
	struct server *srv = NULL;
	char *token = NULL;
	uint64_t sz;
	double secs;
	sigset_t set;
	int opt, sig, status = 1, verbose = log_get_level();

	log_set_prefix(CMD);
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":s:l:vh", long_opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			ao.store_dir = optarg;
			break;
		case 'l':
			so.listen = optarg;
			break;
		case OPT_TOKEN:
			token_file = optarg;
			break;
		case OPT_MAX_BODY:
			if (parse_size(optarg, &sz) || sz < 1024 || sz > (1ull << 30))
				return usage_error(CMD, "invalid --max-body '%s'"
						   " (1K to 1G)", optarg);
			so.max_body = (size_t)sz;
			break;
		case OPT_RETENTION:
			if (parse_duration(optarg, &secs) || secs < 0)
				return usage_error(CMD, "invalid --retention '%s'"
						   " (a duration: 7d, 12h, 0)", optarg);
			ao.retention_ns = (int64_t)(secs * 1e9);
			break;
		case OPT_MAX_STORE:
			if (parse_size(optarg, &sz))
				return usage_error(CMD, "invalid --max-store-size"
						   " '%s' (a size: 10G, 0)", optarg);
			ao.max_store = sz;
			break;
		case OPT_CACHE:
			if (parse_size(optarg, &sz))
				return usage_error(CMD, "invalid --cache-size '%s'"
						   " (a size: 256M)", optarg);
			ao.cache_bytes = sz;
			break;
		case 'v':
			log_set_level(++verbose > LOG_DEBUG ? LOG_DEBUG : verbose);
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return option_error(CMD, opt, argv);
		}
	}
	if (optind < argc)
		return usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	ao.max_raw = so.max_body * 8;
	{
		struct sockaddr_storage ss;
		unsigned len;

		if (server_parse_listen(so.listen, &ss, &len))
			return usage_error(CMD, "cannot listen on '%s' (expected"
					   " HOST:PORT, :PORT or [IPV6]:PORT)",
					   so.listen);
	}
	if (token_file && !(token = token_read(token_file, 8)))
		return 1;
	so.token = token;

	/* Signals are taken synchronously by this thread; the server's
	 * threads inherit the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (api_new(&ao, &api))
		goto out;
	if (server_start(&so, api, &srv))
		goto out;
	if (api_start_warmer(api, 0))
		log_warn("cannot start the warmer: views are summed when asked");
	{
		char host[256];
		char *colon;

		snprintf(host, sizeof(host), "%s", so.listen);
		colon = strrchr(host, ':');
		if (colon)
			*colon = '\0';
		fprintf(stderr, "%s: listening on http://%s:%u/ (store %s%s%s)\n",
			CMD, host[0] ? host : "0.0.0.0", server_port(srv),
			ao.store_dir, api_writable(api) ? "" : ", read-only",
			token ? "; ingest needs the token" : "");
		fflush(stderr);
	}
	while (sigwait(&set, &sig) == 0 && sig != SIGINT && sig != SIGTERM)
		;
	status = 0;
out:
	server_stop(srv);
	if (api) {
		struct api_stats st;

		api_get_stats(api, &st);
		if (!status)
			fprintf(stderr, "%s: %llu profiles ingested, %llu refused,"
				" %llu queries\n", CMD,
				(unsigned long long)st.ingested,
				(unsigned long long)st.ingest_rejected,
				(unsigned long long)st.queries);
	}
	api_free(api);
	free(token);
	return status;
}
