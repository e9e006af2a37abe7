// Drive the page of `smolder serve` in Debian's Chromium: upload, top table,
// zoom, search, label filters, diff, the URL state, downloads, errors, and
// the draw time of a 100,000-frame profile. The page exposes its state to
// tests as window.__smolder (web/page/app.js). Prints
// "serve.mjs: N passed, N failed" last.
//
// usage: node serve.mjs SERVER_URL SCREENSHOT_DIR TMPDIR
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

const [server, shotDir, tmp] = process.argv.slice(2);
const base = server.replace(/\/$/, "");
let passed = 0, failed = 0;
function check(desc, ok, detail = "") {
	if (ok) passed++;
	else failed++;
	console.log(`  ${ok ? "ok  " : "FAIL"} ${desc}${ok || !detail ? "" : ": " + detail}`);
}
const shot = (page, name) => page.screenshot({ path: path.join(shotDir, `serve-${name}.png`) });

// The comparison and the baseline of the diff: hot_a grows, hot_b shrinks,
// gone vanishes, new_fn is new.
const CMP = `main;run;hot_a 750
main;run;hot_b 250
main;other_k_[k] 300
main;jit_fn_[j] 100
main;inl_fn_[i];leaf 50
main;rec;rec;rec 40
main;new_fn 60
`;
const BASE = `main;run;hot_a 300
main;run;hot_b 250
main;other_k_[k] 300
main;jit_fn_[j] 100
main;gone 200
main;rec;rec;rec 40
`;
const total = (s) => s.trim().split("\n").reduce((t, l) => t + Number(l.split(" ").pop()), 0);
fs.writeFileSync(path.join(tmp, "cmp.folded"), CMP);
fs.writeFileSync(path.join(tmp, "base.folded"), BASE);

async function ingest(name, body) {
	const r = await fetch(`${base}/ingest?name=${encodeURIComponent(name)}`, { method: "POST", body });
	const j = await r.json();
	if (!r.ok)
		throw new Error(`ingest ${name}: ${j.error}`);
	return j;
}

// A load is over when the page's count of finished loads passes `before`.
const doneCount = (page) => page.evaluate(() => (window.__smolder ? window.__smolder.done : 0));
async function settled(page, before) {
	await page.waitForFunction((b) => window.__smolder && window.__smolder.done > b &&
		document.body.dataset.status !== "loading", before, { timeout: 30000 });
}
async function act(page, fn) {
	const b = await doneCount(page);
	await fn();
	await settled(page, b);
}
const frame = (page, name) => page.evaluate((n) => window.__smolder.frame(n), name);
const sm = (page, expr) => page.evaluate(expr);
const parseRgb = (s) => (s.match(/\d+/g) || []).map(Number);
// The centre of a frame's box in page coordinates.
async function frameCentre(page, name) {
	const f = await frame(page, name);
	const r = await page.locator("#flame").boundingBox();
	return f && f.box ? [r.x + f.box.x + f.box.width / 2, r.y + f.box.y + f.box.height / 2] : null;
}
// A pixel of a frame, away from its label.
async function framePixel(page, name) {
	const f = await frame(page, name);
	if (!f || !f.box)
		return null;
	return page.evaluate(([x, y]) => window.__smolder.pixel(x, y),
		[f.box.x + f.box.width - 3, f.box.y + 3]);
}

const browser = await chromium.launch({
	executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
	args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
	       "--no-first-run", "--disable-background-networking",
	       "--disable-component-update", "--disable-sync"],
});
const errors = [];
let expectErrors = null; // a pattern of console errors a step causes on purpose
try {
	const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
	page.on("pageerror", (e) => errors.push(String(e)));
	page.on("console", (m) => {
		if (m.type() === "error" && !(expectErrors && expectErrors.test(m.text())))
			errors.push(m.text());
	});

	// ---- upload through the page ----
	await page.goto(base + "/");
	await settled(page, 0);
	check("the page loads", (await page.title()) === "smolder");
	await act(page, () => page.locator("#upload").setInputFiles(path.join(tmp, "cmp.folded")));
	const st = await sm(page, () => window.__smolder.state);
	check("the upload is shown as its window", /\.pb\.zst$/.test(st.window), JSON.stringify(st));
	const first = await page.locator("#top-table tbody tr").first().getAttribute("data-name");
	check("the top table's first row is the top function", first === "hot_a", first);
	const hotTotal = await page.locator("#top-table tbody tr[data-name=hot_a] td").nth(2).textContent();
	const share2 = (v) => `${(100 * v / total(CMP)).toFixed(2)}%`;
	check("... with its share of the total", hotTotal.includes(`(${share2(750)})`), hotTotal);
	const recTotal = await page.locator("#top-table tbody tr[data-name=rec] td").nth(2).textContent();
	check("a recursive function's total counts each path once", recTotal.includes(`(${share2(40)})`), recTotal);
	check("the status line counts the frames", /frames/.test(await page.locator("#status").textContent()));
	const kinds = await page.evaluate(() => ["other_k", "jit_fn", "inl_fn", "hot_a"]
		.map((n) => [window.__smolder.frame(n).kind, window.__smolder.frame(n).color]));
	check("frame kinds arrive (kernel, JIT, inlined, user)",
		kinds.map((k) => k[0]).join() === "kernel,JIT,inlined,user", JSON.stringify(kinds));
	check("... in four different colours", new Set(kinds.map((k) => k[1])).size === 4, JSON.stringify(kinds));
	const labels = await page.evaluate(() => ["other_k", "inl_fn"].map((n) => window.__smolder.frame(n).label));
	check("labels that fit are whole, the others cut with '..'",
		labels[0] === "other_k" && /^[a-z_]*\.\.$/.test(labels[1]), JSON.stringify(labels));
	const canvasW = (await page.locator("#flame").boundingBox()).width;
	await shot(page, "upload");

	// ---- the downloads ----
	const folded = await page.locator("#download-folded").getAttribute("href");
	const fr = await page.request.get(new URL(folded, page.url()).href);
	check("the folded download is the viewed profile",
		fr.ok() && (await fr.text()).includes("main;run;hot_a "), folded);
	const pprof = await page.request.get(new URL(await page.locator("#download-pprof").getAttribute("href"),
		page.url()).href);
	const pb = await pprof.body();
	check("the pprof download is gzipped", pprof.ok() && pb[0] === 0x1f && pb[1] === 0x8b);
	const svg = await page.request.get(new URL(await page.locator("#download-svg").getAttribute("href"),
		page.url()).href);
	check("the SVG download is an SVG", svg.ok() && /<svg/.test(await svg.text()));

	// ---- zoom ----
	const [cx, cy] = await frameCentre(page, "run");
	await page.mouse.move(cx, cy);
	const tip = await page.locator("#tooltip").textContent();
	check("hovering a frame shows its name, time and share",
		/^run/.test(tip) && /10\.00 s/.test(tip) && tip.includes(share2(1000)), tip);
	await page.mouse.click(cx, cy);
	const zp = await sm(page, () => window.__smolder.zoomPath);
	check("clicking a frame zooms to it", zp.join(";") === "main;run", JSON.stringify(zp));
	check("... the canvas says so", (await page.locator("#flame").getAttribute("data-zoom")) === "main;run");
	const runAfter = await frame(page, "run");
	check("... the frame fills the width", Math.abs(runAfter.box.width - canvasW) < 1,
		`${runAfter.box.width} vs ${canvasW}`);
	const edge = await page.evaluate(([x, y]) => window.__smolder.pixel(x, y), [canvasW - 3, runAfter.box.y + 3]);
	const runColor = parseRgb(runAfter.color);
	check("... and is painted to the right edge",
		edge.slice(0, 3).every((v, i) => Math.abs(v - runColor[i]) <= 2), `${edge} vs ${runColor}`);
	const hotA = await frame(page, "hot_a");
	check("... its children grow with it",
		Math.abs(hotA.box.width - canvasW * 0.75) < 1, `${hotA.box.width}`);
	const other = await frame(page, "other_k");
	check("... frames beside it are not drawn", other.box === null);
	check("... and the URL holds the zoom", new URL(page.url()).searchParams.get("zoom") === "main;run");
	await shot(page, "zoom");

	// ---- search ----
	await page.locator("#search").fill("hot_");
	await page.waitForFunction(() => document.querySelector("#matched").dataset.share !== undefined);
	const share = parseFloat(await page.locator("#matched").getAttribute("data-share"));
	const want = 100 * 1000 / total(CMP);
	check("search shows the matched share", Math.abs(share - want) < 0.01, `${share} vs ${want}`);
	check("... as text", (await page.locator("#matched").textContent()) === `Matched: ${share2(1000)}`);
	check("... marks the matching frames", (await frame(page, "hot_a")).matched &&
		!(await frame(page, "run")).matched);
	const grey = await framePixel(page, "run");
	const hot = await framePixel(page, "hot_a");
	check("... and greys the others out", grey[0] === grey[1] && grey[1] === grey[2] &&
		!(hot[0] === hot[1] && hot[1] === hot[2]), `${grey} / ${hot}`);
	const rows = await page.locator("#top-table tbody tr").evaluateAll((r) => r.map((e) => e.dataset.name));
	check("... and the table keeps the matching functions", rows.join() === "hot_a,hot_b", rows.join());
	await page.waitForFunction(() => new URL(location.href).searchParams.get("search") === "hot_");
	await shot(page, "search");

	// ---- reload: the URL holds the view ----
	await page.reload();
	await settled(page, 0);
	check("after a reload the zoom is back", (await sm(page, () => window.__smolder.zoomPath)).join(";") === "main;run");
	check("... the search too", (await page.locator("#search").inputValue()) === "hot_" &&
		Math.abs(parseFloat(await page.locator("#matched").getAttribute("data-share")) - want) < 0.01);
	check("... and the window", (await sm(page, () => window.__smolder.state.window)) === st.window);
	await page.locator("#search").fill("");
	await page.waitForFunction(() => document.querySelector("#matched").dataset.share === undefined);

	// ---- the table: sort, and focus a function ----
	await page.locator("#top-table th[data-sort=total]").click();
	const firstByTotal = await page.locator("#top-table tbody tr").first().getAttribute("data-name");
	check("sorting by total puts the root caller first", firstByTotal === "main", firstByTotal);
	await page.locator("#reset-zoom").click();
	check("reset zoom goes back to the root", (await sm(page, () => window.__smolder.zoomPath)).length === 0);
	await page.locator("#top-table tbody tr[data-name=leaf]").click();
	check("clicking a row zooms to that function",
		(await sm(page, () => window.__smolder.zoomPath)).join(";") === "main;inl_fn;leaf");
	check("... and marks the row", (await page.locator("#top-table tbody tr.focused").getAttribute("data-name")) === "leaf");
	await page.goBack();
	await page.waitForFunction(() => window.__smolder.zoomPath.length === 0);
	check("back undoes the zoom", true);

	// ---- label filters ----
	await ingest("app{host=a}", "main;serve;host_a_work 100\n");
	await ingest("app{host=b}", "main;serve;host_b_work 100\n");
	await page.goto(base + "/?query=app");
	await settled(page, 0);
	const names0 = await page.locator("#top-table tbody tr").evaluateAll((r) => r.map((e) => e.dataset.name));
	check("a service shows all its hosts", names0.includes("host_a_work") && names0.includes("host_b_work"),
		names0.join());
	const keys = await page.locator("#label-key option").evaluateAll((o) => o.map((e) => e.value));
	check("the label keys are offered", keys.includes("host"), keys.join());
	await page.locator("#label-key").selectOption("host");
	await act(page, () => page.locator("#label-value").selectOption("b"));
	check("picking a label value filters the query",
		(await page.locator("#query").inputValue()) === "app{host=b}");
	const names1 = await page.locator("#top-table tbody tr").evaluateAll((r) => r.map((e) => e.dataset.name));
	check("... and the profile", names1.includes("host_b_work") && !names1.includes("host_a_work"), names1.join());
	check("... shown as a chip", (await page.locator("[data-testid=filter-chip]").textContent()).includes("host=b"));
	await shot(page, "labels");
	await act(page, () => page.locator("[data-testid=filter-chip] button").click());
	check("removing the chip removes the filter", (await page.locator("#query").inputValue()) === "app");

	// ---- the timeline: a drag picks a range ----
	const tl = await page.locator("#timeline").boundingBox();
	await act(page, async () => {
		await page.mouse.move(tl.x + tl.width * 0.5, tl.y + 30);
		await page.mouse.down();
		await page.mouse.move(tl.x + tl.width * 0.8, tl.y + 30, { steps: 4 });
		await page.mouse.move(tl.x + tl.width - 1, tl.y + 30, { steps: 2 });
		await page.mouse.up();
	});
	const dragged = await sm(page, () => window.__smolder.state);
	check("dragging on the timeline selects a custom range",
		/^\d{4}-\d\d-\d\dT/.test(dragged.from) && /^\d{4}-\d\d-\d\dT/.test(dragged.until) &&
		(await page.locator("#range").inputValue()) === "custom", `${dragged.from} ${dragged.until}`);
	check("... which still holds the recent data",
		(await page.locator("#top-table tbody tr").count()) > 0);

	// ---- errors ----
	expectErrors = /status of 400/;
	await page.locator("#query").fill("app{host");
	await act(page, () => page.locator("#query").press("Enter"));
	const err = await page.locator("#error");
	check("an API error is shown", await err.isVisible() &&
		/closing/.test(await err.textContent()), await err.textContent());
	check("... and the page says so", (await page.evaluate(() => document.body.dataset.status)) === "error");
	expectErrors = null;

	// ---- diff: two uploaded files ----
	await page.goto(base + "/");
	await settled(page, 0);
	await act(page, () => page.locator("#mode-diff").click());
	check("diff mode shows the baseline controls", await page.locator("#diff-panel").isVisible());
	await act(page, () => page.locator("#base-upload").setInputFiles(path.join(tmp, "base.folded")));
	await act(page, () => page.locator("#upload").setInputFiles(path.join(tmp, "cmp.folded")));
	const ds = await sm(page, () => window.__smolder.state);
	check("the two uploads are the diff's windows", ds.mode === "diff" && ds.window && ds.base_window &&
		ds.window !== ds.base_window, JSON.stringify(ds));
	check("no error in the diff", !(await page.locator("#error").isVisible()));
	const a = await frame(page, "hot_a");
	const ca = parseRgb(a.color);
	check("the grown frame is reported as grown", a.status === "grew", JSON.stringify(a));
	check("... and drawn red", ca[0] > 180 && ca[0] > ca[2] + 60 && ca[1] < 150, a.color);
	const pa = await framePixel(page, "hot_a");
	check("... on the canvas", pa.slice(0, 3).every((v, i) => Math.abs(v - ca[i]) <= 2), `${pa} vs ${ca}`);
	const b = await frame(page, "hot_b");
	const cbb = parseRgb(b.color);
	check("the shrunk frame is blue", b.status === "shrank" && cbb[2] > cbb[0] + 40, JSON.stringify(b));
	const g = await frame(page, "gone");
	check("the vanished frame is marked and still drawn",
		g.status === "vanished" && g.box && g.box.width > 5, JSON.stringify(g));
	const nf = await frame(page, "new_fn");
	check("the new frame is marked", nf.status === "new", JSON.stringify(nf));
	const [gx, gy] = await frameCentre(page, "gone");
	await page.mouse.move(gx, gy);
	check("... the tooltip says vanished", /vanished/.test(await page.locator("#tooltip").textContent()));
	const dl = await page.locator("#download-svg").getAttribute("href");
	const dsvg = await page.request.get(new URL(dl, page.url()).href);
	check("the diff's SVG download works", /^api\/diff\?/.test(dl) && /base_window=/.test(dl) &&
		dsvg.ok() && /<svg/.test(await dsvg.text()), dl);
	check("pprof is not offered for a diff",
		(await page.locator("#download-pprof").getAttribute("aria-disabled")) === "true");
	const delta = await page.locator("#top-table tbody tr[data-name=hot_a] td.grew").count();
	check("the table shows the growth", delta === 1);
	await shot(page, "diff");
	await page.locator("#cb-safe").check();
	const co = parseRgb((await frame(page, "hot_a")).color);
	check("the colour-blind palette draws growth orange", co[0] > 200 && co[1] > 80 && co[1] < 200 && co[2] < 80,
		`${co}`);
	await shot(page, "diff-cb");
	await page.reload();
	await settled(page, 0);
	const rs = await sm(page, () => window.__smolder.state);
	check("after a reload the diff is back", rs.mode === "diff" && rs.window === ds.window &&
		rs.base_window === ds.base_window && rs.cb === "1" &&
		(await frame(page, "hot_a")).status === "grew");

	// ---- a 100,000-frame profile ----
	const lines = [];
	let seed = 1;
	const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
	for (let m = 0; m < 100; m++)
		for (let c = 0; c < 10; c++)
			for (let f = 0; f < 10; f++)
				for (let l = 0; l < 9; l++)
					lines.push(`main;m${m};m${m}_c${c};m${m}_c${c}_f${f};m${m}_c${c}_f${f}_l${l} ${1 + rnd() % 1000}`);
	const t0 = Date.now();
	const big = await ingest("big", lines.join("\n") + "\n");
	const ingestMs = Date.now() - t0;
	await page.goto(`${base}/?window=${encodeURIComponent(big.window)}`);
	await settled(page, 0);
	const bt = await sm(page, () => ({ ...window.__smolder.timings, frames: window.__smolder.frames }));
	check("the big profile has 100,000 frames", bt.frames > 100000, `${bt.frames}`);
	const drawMs = bt.buildMs + bt.drawMs;
	check("... and draws in a sane time", drawMs < 10000, `${drawMs} ms`);
	const [mx, my] = await frameCentre(page, "m42");
	await page.mouse.click(mx, my);
	const zoomMs = await sm(page, () => window.__smolder.timings.lastDrawMs);
	check("... zooms into it", (await sm(page, () => window.__smolder.zoomPath)).join(";") === "main;m42");
	const [rx, ry] = await frameCentre(page, "main");
	await page.mouse.click(rx, ry);
	const unzoomMs = await sm(page, () => window.__smolder.timings.lastDrawMs);
	check("... and clicking a caller above zooms out to it",
		(await sm(page, () => window.__smolder.zoomPath)).join(";") === "main");
	await shot(page, "big");
	console.log(`serve.mjs: 100k-frame profile: ${bt.frames} frames; ingest ${ingestMs} ms, ` +
		`fetch ${bt.fetchMs.toFixed(0)} ms, JSON ${bt.parseMs.toFixed(0)} ms, ` +
		`layout ${bt.buildMs.toFixed(0)} ms, first draw with table ${bt.drawMs.toFixed(0)} ms ` +
		`(flame alone ${bt.lastDrawMs.toFixed(1)} ms); zoom ${zoomMs.toFixed(1)} ms, ` +
		`zoom out ${unzoomMs.toFixed(1)} ms`);

	check("no script or console errors", errors.length === 0, errors.join("; "));
} catch (e) {
	check("the run completes", false, e.stack || String(e));
} finally {
	await browser.close();
}
console.log(`serve.mjs: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
