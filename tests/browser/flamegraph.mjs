// Drive a flame graph SVG in Debian's Chromium: hover, click to zoom,
// reset, search. Prints "flamegraph.mjs: N passed, N failed" last.
//
// usage: node flamegraph.mjs GRAPH.svg SCREENSHOT_DIR HOT_SHARE
// (HOT_SHARE: the percentage of samples in functions matching "hot_")
import { chromium } from "playwright-core";
import path from "node:path";

const [svgPath, shotDir, hotShare] = process.argv.slice(2);
let passed = 0, failed = 0;
function check(desc, ok, detail = "") {
	if (ok) passed++;
	else failed++;
	console.log(`  ${ok ? "ok  " : "FAIL"} ${desc}${ok || !detail ? "" : ": " + detail}`);
}

const browser = await chromium.launch({
	executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
	args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
	       "--no-first-run", "--disable-background-networking",
	       "--disable-component-update", "--disable-sync"],
});
try {
	const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
	const errors = [];
	page.on("pageerror", (e) => errors.push(String(e)));
	await page.goto("file://" + path.resolve(svgPath));

	// A frame by the start of its tooltip.
	const frame = (name) => page.locator("g.f", {
		has: page.locator(`title:text-matches("^${name} \\\\(")`),
	}).first();
	const rectWidth = async (name) =>
		parseFloat(await frame(name).locator("rect").getAttribute("width"));
	const svgWidth = parseFloat(await page.locator("svg").getAttribute("width"));
	const full = svgWidth - 20;

	check("the SVG loads without script errors", errors.length === 0, errors.join("; "));
	const w0 = await rectWidth("run_workload");
	const a0 = await rectWidth("hot_a");
	check("run_workload starts narrower than the graph", w0 < full * 0.9, `${w0}`);

	await frame("hot_a").hover();
	const details = await page.locator("#details").textContent();
	check("hovering shows the frame in the details line", /^hot_a \(/.test(details), details);

	await frame("run_workload").locator("rect").click();
	const w1 = await rectWidth("run_workload");
	const a1 = await rectWidth("hot_a");
	check("clicking zooms: the frame fills the width", Math.abs(w1 - full) < 1, `${w1} vs ${full}`);
	check("... its children grow by the same factor", Math.abs(a1 / a0 - w1 / w0) < 0.01,
	      `${a1 / a0} vs ${w1 / w0}`);
	const hidden = await page.locator("g.f.hide").count();
	check("... frames outside it are hidden", hidden > 0, `${hidden}`);
	check("... and Reset Zoom appears",
	      !(await page.locator("#unzoom").getAttribute("class") || "").includes("hide"));
	check("labels are redrawn to the new width",
	      (await frame("run_workload").locator("text").textContent()) === "run_workload");
	await page.screenshot({ path: path.join(shotDir, "zoomed.png") });

	await page.locator("#unzoom").click();
	check("Reset Zoom restores the widths", Math.abs((await rectWidth("run_workload")) - w0) < 0.2);

	page.once("dialog", (d) => d.accept("hot_"));
	await page.locator("#search").click();
	const matched = await page.locator("#matched").textContent();
	const share = parseFloat(await page.locator("#matched").getAttribute("data-share"));
	check("search shows the matched share", /^Matched: [0-9.]+%$/.test(matched), matched);
	check("... which is the hot functions' share", Math.abs(share - parseFloat(hotShare)) < 0.01,
	      `${share} vs ${hotShare}`);
	const fill = await frame("hot_a").locator("rect").getAttribute("fill");
	check("... and highlights the matching frames", fill === "rgb(230,0,230)", fill);
	await page.screenshot({ path: path.join(shotDir, "search.png") });

	await page.keyboard.press("Escape");
	check("Escape clears the search",
	      (await frame("hot_a").locator("rect").getAttribute("fill")) !== "rgb(230,0,230)");
	check("no script errors at all", errors.length === 0, errors.join("; "));
} finally {
	await browser.close();
}
console.log(`flamegraph.mjs: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
