/* SPDX-License-Identifier: MIT */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "../lib/log.h"
#include "../lib/xalloc.h"
#include "api.h"

#define MAX_PARAMS 64
#define FORM_FIELD "profile"

struct server {
	struct MHD_Daemon *d;
	struct api *api;
	struct server_opts o;
	char *token;
};

/* One request, across the handler's calls. */
struct req {
	size_t max; /* body bytes allowed */
	char *body;
	size_t len, alloc;
	bool too_big;
	bool multipart;
	struct MHD_PostProcessor *pp;
	/* form fields other than the profile, as parameters */
	char *form_keys[MAX_PARAMS], *form_values[MAX_PARAMS];
	size_t nform;
	bool bad_form;
};

static void body_add(struct req *r, size_t max, const char *data, size_t n)
{
	if (r->too_big || !n)
		return;
	if (r->len + n > max) {
		r->too_big = true;
		return;
	}
	ALLOC_GROW(r->body, r->len + n, r->alloc);
	memcpy(r->body + r->len, data, n);
	r->len += n;
}

static enum MHD_Result form_field(void *cls, enum MHD_ValueKind kind,
				  const char *key, const char *filename,
				  const char *content_type,
				  const char *transfer_encoding, const char *data,
				  uint64_t off, size_t size)
{
	struct req *r = cls;

	(void)kind;
	(void)filename;
	(void)content_type;
	(void)transfer_encoding;
	(void)off;
	if (!key)
		return MHD_YES;
	if (!strcmp(key, FORM_FIELD)) {
		body_add(r, r->max, data, size);
		return MHD_YES;
	}
	/* Other small fields (name, from, ...) act as parameters. */
	for (size_t i = 0; i < r->nform; i++)
		if (!strcmp(r->form_keys[i], key)) {
			size_t ol = strlen(r->form_values[i]);

			if (ol + size > 4096) {
				r->bad_form = true;
				return MHD_YES;
			}
			r->form_values[i] = xreallocarray(r->form_values[i], 1,
							ol + size + 1);
			memcpy(r->form_values[i] + ol, data, size);
			r->form_values[i][ol + size] = '\0';
			return MHD_YES;
		}
	if (r->nform == MAX_PARAMS || size > 4096) {
		r->bad_form = true;
		return MHD_YES;
	}
	r->form_keys[r->nform] = xstrdup(key);
	r->form_values[r->nform++] = xstrndup(data, size);
	return MHD_YES;
}

struct params {
	struct api_param v[MAX_PARAMS];
	size_t n;
	bool overflow;
};

static enum MHD_Result add_param(void *cls, enum MHD_ValueKind kind,
				 const char *key, const char *value)
{
	struct params *p = cls;

	(void)kind;
	if (p->n == MAX_PARAMS) {
		p->overflow = true;
		return MHD_NO;
	}
	p->v[p->n++] = (struct api_param){ key, value ? value : "" };
	return MHD_YES;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status,
				 const char *json)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		strlen(json), (void *)json, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Constant time in the length of the secret. */
static bool token_ok(const struct server *s, struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
	size_t tl = strlen(s->token), hl;
	unsigned char diff = 0;

	if (!h || strncasecmp(h, "Bearer ", 7))
		return false;
	h += 7;
	hl = strlen(h);
	for (size_t i = 0; i < tl; i++)
		diff |= (unsigned char)(s->token[i] ^ (i < hl ? h[i] : 0));
	return !diff && hl == tl;
}

static void req_free(struct req *r)
{
	if (!r)
		return;
	if (r->pp)
		MHD_destroy_post_processor(r->pp);
	for (size_t i = 0; i < r->nform; i++) {
		free(r->form_keys[i]);
		free(r->form_values[i]);
	}
	free(r->body);
	free(r);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	req_free(*con_cls);
	*con_cls = NULL;
}

static enum MHD_Result answer(struct server *s, struct MHD_Connection *c,
			      const char *url, const char *method,
			      struct req *r)
{
	struct params p = { .n = 0 };
	struct api_request areq = { .method = method, .path = url };
	struct api_response ar;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_param, &p);
	for (size_t i = 0; i < r->nform && p.n < MAX_PARAMS; i++)
		p.v[p.n++] = (struct api_param){ r->form_keys[i],
						 r->form_values[i] };
	if (p.overflow || r->bad_form)
		return send_text(c, MHD_HTTP_BAD_REQUEST,
				 "{\"error\":\"too many or too long parameters\"}\n");
	areq.params = p.v;
	areq.nparams = p.n;
	areq.body = (const uint8_t *)r->body;
	areq.len = r->len;
	api_handle(s->api, &areq, &ar);
	if (ar.static_body)
		resp = MHD_create_response_from_buffer(
			ar.len, (void *)ar.static_body, MHD_RESPMEM_PERSISTENT);
	else {
		resp = MHD_create_response_from_buffer(ar.len, ar.body,
						       MHD_RESPMEM_MUST_FREE);
		if (resp)
			ar.body = NULL;
	}
	if (!resp) {
		api_response_release(&ar);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", ar.content_type);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (ar.static_body)
		MHD_add_response_header(resp, "Content-Security-Policy",
					"default-src 'self'; img-src 'self' data: blob:;"
					" style-src 'self' 'unsafe-inline'");
	if (ar.disposition[0])
		MHD_add_response_header(resp, "Content-Disposition",
					ar.disposition);
	ret = MHD_queue_response(c, (unsigned)ar.status, resp);
	MHD_destroy_response(resp);
	api_response_release(&ar);
	return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c,
			       const char *url, const char *method,
			       const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	struct server *s = cls;
	struct req *r = *con_cls;

	(void)version;
	if (!r) {
		const char *cl = MHD_lookup_connection_value(
			c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		const char *ct = MHD_lookup_connection_value(
			c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);

		r = xcalloc(1, sizeof(*r));
		r->max = s->o.max_body;
		*con_cls = r;
		/* Refuse before reading a byte of the body. */
		if (!strcmp(method, "POST") && s->token && !token_ok(s, c))
			return send_text(c, MHD_HTTP_UNAUTHORIZED,
					 "{\"error\":\"a valid token is needed"
					 " (Authorization: Bearer TOKEN)\"}\n");
		if (cl && strtoull(cl, NULL, 10) > s->o.max_body + 65536)
			return send_text(c, MHD_HTTP_CONTENT_TOO_LARGE,
					 "{\"error\":\"the body is larger than"
					 " the server takes (--max-body)\"}\n");
		if (ct && !strncasecmp(ct, "multipart/form-data", 19)) {
			r->multipart = true;
			r->pp = MHD_create_post_processor(c, 65536, form_field, r);
			if (!r->pp)
				r->bad_form = true;
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (r->multipart) {
			if (r->pp && !r->bad_form &&
			    MHD_post_process(r->pp, upload_data,
					     *upload_data_size) != MHD_YES)
				r->bad_form = true;
		} else {
			body_add(r, s->o.max_body, upload_data, *upload_data_size);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->too_big)
		return send_text(c, MHD_HTTP_CONTENT_TOO_LARGE,
				 "{\"error\":\"the body is larger than the"
				 " server takes (--max-body)\"}\n");
	if (r->multipart && !r->len && !r->bad_form)
		return send_text(c, MHD_HTTP_BAD_REQUEST,
				 "{\"error\":\"the form has no 'profile' file\"}\n");
	return answer(s, c, url, method, r);
}

/* "%00" in a path or parameter would cut it short where C strings end:
 * such a value becomes one DEL character, which no route, name or time
 * accepts. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
	size_t n = MHD_http_unescape(s);

	(void)cls;
	(void)c;
	if (strlen(s) != n) {
		strcpy(s, "\x7f");
		return 1;
	}
	return n;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	log_debug("http: %s", buf);
}

int server_parse_listen(const char *in, struct sockaddr_storage *ss,
			unsigned *len)
{
	char host[256];
	const char *colon, *port;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char *end;
	unsigned long pn;

	if (in[0] == '[') {
		const char *rb = strchr(in, ']');

		if (!rb || rb[1] != ':' || (size_t)(rb - in - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, in + 1, (size_t)(rb - in - 1));
		host[rb - in - 1] = '\0';
		port = rb + 2;
	} else {
		colon = strrchr(in, ':');
		if (!colon || (size_t)(colon - in) >= sizeof(host))
			return -EINVAL;
		memcpy(host, in, (size_t)(colon - in));
		host[colon - in] = '\0';
		port = colon + 1;
	}
	errno = 0;
	pn = strtoul(port, &end, 10);
	if (!*port || *end || errno || pn > 65535)
		return -EINVAL;
	if (getaddrinfo(host[0] ? host : NULL, port, &hints, &res) || !res)
		return -EINVAL;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = (unsigned)res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int server_start(const struct server_opts *o, struct api *api,
		 struct server **out)
{
	struct server *s = xcalloc(1, sizeof(*s));
	struct sockaddr_storage ss;
	unsigned slen;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;

	if (server_parse_listen(o->listen, &ss, &slen)) {
		log_err("cannot listen on '%s': expected HOST:PORT", o->listen);
		free(s);
		return -EINVAL;
	}
	s->api = api;
	s->o = *o;
	s->token = o->token ? xstrdup(o->token) : NULL;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->d = MHD_start_daemon(
		flags, 0, NULL, NULL, handler, s,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)(o->max_conns ? o->max_conns : 256),
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(o->timeout_s ? o->timeout_s : 30),
		MHD_OPTION_NOTIFY_COMPLETED, completed, s,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
		MHD_OPTION_END);
	if (!s->d) {
		int e = errno ? errno : EADDRINUSE;

		log_err("cannot listen on '%s': %s", o->listen, strerror(e));
		free(s->token);
		free(s);
		return -e;
	}
	*out = s;
	return 0;
}

unsigned server_port(const struct server *s)
{
	const union MHD_DaemonInfo *i =
		MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);

	return i ? i->port : 0;
}

void server_stop(struct server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	free(s->token);
	free(s);
}
