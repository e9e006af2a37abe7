/* SPDX-License-Identifier: MIT */
/*
 * assets: the web page's files, compiled into the binary (web/page/,
 * embedded with xxd), so that no path from a request ever reaches the
 * filesystem.
 */
#ifndef SMOLDER_ASSETS_H
#define SMOLDER_ASSETS_H

#include <stddef.h>
#include <stdint.h>

struct asset {
	const char *path; /* "/", "/app.js", ... */
	const char *type; /* Content-Type */
	const uint8_t *data;
	size_t len;
};

/* The asset served at exactly `path`, or NULL. */
const struct asset *asset_find(const char *path);

#endif
