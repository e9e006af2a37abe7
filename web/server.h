/* SPDX-License-Identifier: MIT */
/*
 * server: HTTP for `smolder serve`, on libmicrohttpd. It reads requests
 * (query string, body, multipart form), enforces the size limits and the
 * token, and hands each request to api_handle() (api.h).
 *
 * One thread per connection (up to a limit): a slow reader of a large
 * profile holds only its own thread, never the ingest of others.
 */
#ifndef SMOLDER_SERVER_H
#define SMOLDER_SERVER_H

#include <stddef.h>
#include <stdint.h>

struct api;

struct server_opts {
	const char *listen;   /* "HOST:PORT", ":PORT" or "[V6]:PORT" */
	const char *token;    /* required as "Authorization: Bearer" for
			       * ingest; NULL: none */
	size_t max_body;      /* bytes a request body may have */
	unsigned max_conns;   /* connections at once */
	unsigned timeout_s;   /* idle connection timeout */
};

struct server;

/* Start serving `api` (borrowed until server_stop). *out, or a negative
 * errno after logging (the address in use, a bad address). */
int server_start(const struct server_opts *o, struct api *api,
		 struct server **out);
/* The port bound (useful with port 0). */
unsigned server_port(const struct server *s);
void server_stop(struct server *s);

/* Parse "HOST:PORT" into a socket address. 0 or -EINVAL. */
struct sockaddr_storage;
int server_parse_listen(const char *s, struct sockaddr_storage *ss,
			unsigned *len);

#endif
