/* SPDX-License-Identifier: MIT */
#include "assets.h"

#include <string.h>

#include "web_app_css.h"
#include "web_app_js.h"
#include "web_index_html.h"

static const struct asset assets[] = {
	{ "/", "text/html; charset=utf-8", web_index_html, sizeof(web_index_html) },
	{ "/index.html", "text/html; charset=utf-8", web_index_html,
	  sizeof(web_index_html) },
	{ "/app.js", "text/javascript; charset=utf-8", web_app_js,
	  sizeof(web_app_js) },
	{ "/app.css", "text/css; charset=utf-8", web_app_css, sizeof(web_app_css) },
};

const struct asset *asset_find(const char *path)
{
	for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++)
		if (!strcmp(assets[i].path, path))
			return &assets[i];
	return NULL;
}
