/* SPDX-License-Identifier: MIT */
/* The SVG flame graph: what is drawn where, in which colour, with which
 * tooltip, for small hand-made profiles. */
#include <errno.h>

#include "../../formats/flamegraph.h"
#include "../../formats/formats.h"
#include "harness.h"

static struct profile *folded(const char *text)
{
	struct format_error err = { "" };
	struct profile *p = NULL;

	if (profile_read((const uint8_t *)text, strlen(text), &p, &err))
		fprintf(stderr, "    read error: %s\n", err.msg);
	return p;
}

static char *draw(const struct profile *p, const struct fg_opts *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK_EQ(flamegraph_write(p, o, f), 0);
	fclose(f);
	return buf;
}

/* The <g> of the frame whose tooltip starts with `title`, or NULL. */
static const char *frame(const char *svg, const char *title)
{
	char needle[256];

	snprintf(needle, sizeof(needle), "<title>%s", title);
	const char *t = strstr(svg, needle);

	if (!t)
		return NULL;
	while (t > svg && strncmp(t, "<g class=", 9))
		t--;
	return t;
}

static long attr(const char *g, const char *name)
{
	char needle[64];
	const char *a;

	snprintf(needle, sizeof(needle), "%s=\"", name);
	a = g ? strstr(g, needle) : NULL;
	return a ? strtol(a + strlen(needle), NULL, 10) : -1;
}

static void lays_out_frames(void)
{
	struct fg_opts o = { .min_width = -1, .value_index = -1 };
	struct profile *p = folded("main;a;x 30\nmain;b 10\nmain 10\n");
	char *svg = draw(p, &o);
	const char *gmain = frame(svg, "main ("), *ga = frame(svg, "a ("),
		   *gb = frame(svg, "b ("), *gx = frame(svg, "x (");

	CHECK(gmain && ga && gb && gx);
	/* Starts and values in samples, depth from the root ("all"). */
	CHECK_EQ(attr(gmain, "data-s"), 0);
	CHECK_EQ(attr(gmain, "data-v"), 50);
	CHECK_EQ(attr(gmain, "data-d"), 1);
	CHECK_EQ(attr(ga, "data-s"), 0);
	CHECK_EQ(attr(gb, "data-s"), 30); /* siblings sorted by name */
	CHECK_EQ(attr(gx, "data-d"), 3);
	CHECK(strstr(svg, "<title>a (30 samples, 60.00%)</title>") != NULL);
	/* Flame: deeper is higher up (smaller y); icicle: the reverse. */
	CHECK(attr(strstr(gx, "<rect"), "y") < attr(strstr(ga, "<rect"), "y"));
	free(svg);
	o.icicle = true;
	svg = draw(p, &o);
	gx = frame(svg, "x (");
	ga = frame(svg, "a (");
	CHECK(attr(strstr(gx, "<rect"), "y") > attr(strstr(ga, "<rect"), "y"));
	free(svg);
	profile_free(p);
}

static void flame_chart_keeps_order(void)
{
	struct fg_opts o = { .min_width = -1, .value_index = -1, .flamechart = true };
	struct profile *p = folded("main;b 1\nmain;a 1\nmain;b 2\n");
	char *svg = draw(p, &o);

	/* Lines merge on first appearance (b, then a): b comes first. */
	CHECK_EQ(attr(frame(svg, "b ("), "data-s"), 0);
	CHECK_EQ(attr(frame(svg, "a ("), "data-s"), 3);
	CHECK(strstr(svg, ">Flame Chart<") != NULL);
	free(svg);
	o.flamechart = false;
	svg = draw(p, &o);
	CHECK_EQ(attr(frame(svg, "a ("), "data-s"), 0);
	free(svg);
	profile_free(p);
}

static void reverse_merges_by_leaf(void)
{
	struct fg_opts o = { .min_width = -1, .value_index = -1, .reverse = true };
	struct profile *p = folded("x;leaf 2\ny;leaf 3\n");
	char *svg = draw(p, &o);
	const char *g = frame(svg, "leaf (");

	CHECK_EQ(attr(g, "data-d"), 1);
	CHECK_EQ(attr(g, "data-v"), 5);
	CHECK(strstr(strstr(svg, "<title>leaf (") + 1, "<title>leaf (") == NULL);
	free(svg);
	profile_free(p);
}

static void merges_narrow_frames(void)
{
	struct fg_opts o = { .min_width = 1, .value_index = -1, .width = 120 };
	/* 100 px for 1000 samples: frames under 10 samples are narrow. */
	struct profile *p = folded("r;big 900\nr;s1 5\nr;s2 5\nr;s3 5\nr;s4;deep 5\n"
				   "r;t1 80\n");
	char *svg = draw(p, &o);

	CHECK(frame(svg, "big (") && frame(svg, "t1 ("));
	CHECK(!frame(svg, "s1 (") && !frame(svg, "deep ("));
	CHECK(strstr(svg, "<title>4 frames too narrow to draw (20 samples, 2.00%)") != NULL);
	free(svg);
	profile_free(p);
}

static void colours_by_kind_and_name(void)
{
	struct fg_opts o = { .min_width = -1, .value_index = -1 };
	struct profile *p = folded("a;f_[k] 1\nb;f_[k] 1\nc;f 1\nc;g_[j] 1\n");
	struct profile *q = folded("zz;f_[k] 7\n");
	char *svg = draw(p, &o), *svg2 = draw(q, &o);
	const char *k1 = strstr(frame(svg, "f ("), "fill=");
	const char *k2 = strstr(frame(strstr(svg, "<title>b ("), "f ("), "fill=");
	const char *k3 = strstr(frame(svg2, "f ("), "fill=");

	/* One function, one colour, in every graph. */
	CHECK(k1 && k2 && k3 && !strncmp(k1, k2, 22) && !strncmp(k1, k3, 22));
	free(svg);
	free(svg2);
	profile_free(p);
	profile_free(q);
}

static void escapes_text(void)
{
	struct fg_opts o = { .min_width = -1, .value_index = -1,
			     .title = "<T&\">" };
	struct profile *p = folded("a<b>&\"c\" 1\n");
	char *svg = draw(p, &o);

	CHECK(strstr(svg, "<title>a&lt;b&gt;&amp;&quot;c&quot; (") != NULL);
	CHECK(strstr(svg, ">&lt;T&amp;&quot;&gt;</text>") != NULL);
	free(svg);
	profile_free(p);
}

static void diffs_shares(void)
{
	struct fg_opts o = { .min_width = -1, .value_index = -1 };
	struct profile *base = folded("m;a 50\nm;b 50\n");
	struct profile *new = folded("m;a 75\nm;b 25\nm;c 100\n");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK_EQ(flamegraph_diff_write(base, new, false, &o, f), 0);
	fclose(f);
	/* Shares of each total: a 50% -> 37.5%, c 0% -> 50%. */
	CHECK(strstr(buf, "<title>a (base 50.00%, new 37.50%, -12.50 pts)") != NULL);
	CHECK(strstr(buf, "<title>c (base 0.00%, new 50.00%, +50.00 pts, not in"
			  " the other profile)") != NULL);
	/* The biggest growth is the strongest red. */
	CHECK(strstr(frame(buf, "c ("), "fill=\"rgb(250,60,60)\"") != NULL);
	free(buf);
	profile_free(base);
	profile_free(new);
}

int main(void)
{
	RUN(lays_out_frames);
	RUN(flame_chart_keeps_order);
	RUN(reverse_merges_by_leaf);
	RUN(merges_narrow_frames);
	RUN(colours_by_kind_and_name);
	RUN(escapes_text);
	RUN(diffs_shares);
	HARNESS_END();
}
