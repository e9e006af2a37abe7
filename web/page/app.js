// The smolder viewer: a time range and a selection (service, labels) or a
// stored window, turned into a flame graph drawn on a canvas, a table of
// top functions and a samples-over-time chart, all from the JSON API of
// `smolder serve` (web/api.h). Diff mode compares a baseline selection with
// a comparison one. The whole view lives in the page's URL.
//
// The flame tree arrives as a flat preorder array (depth, name, kind, value
// [, base value]); it is unpacked once per load into typed arrays with each
// frame's parent, subtree end and x/width in [0, 1], so drawing and zooming
// only walk the frames wide enough to see and skip the subtrees of the rest.

const ROW_H = 18;          // px per flame graph row
const MIN_PX = 0.5;        // narrower frames (and their subtrees) are not drawn
const TEXT_PAD = 3;        // px left of a frame's label
const FILLER = "rgba(150,150,160,0.45)"; // runs of frames too narrow to draw
const TABLE_ROWS = 500;    // rows of the top table put in the DOM
const FONT = "12px ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace";
const RANGES = ["now-15m", "now-1h", "now-24h", "now-7d"];
const KIND_NAMES = ["user", "kernel", "JIT", "interpreted", "inlined"];

// The view state: every key is a string, every one is in the URL. The first
// eight are the API's own selection keys.
const KEYS = ["query", "from", "until", "window", "base_query", "base_from",
	"base_until", "base_window", "mode", "search", "zoom", "cb", "sort"];
const DEFAULTS = { from: "now-1h", until: "now", mode: "single", sort: "-self" };

const $ = (id) => document.getElementById(id);

let state = readURL();
let model = null;     // the unpacked flame tree of the last load
let meta = null;      // the last profile answer's counts
let timeline = null;  // the last /api/timeline answer
let labels = {};      // the last /api/labels answer
let seq = 0;          // loads started
let done = 0;         // loads finished (whatever their outcome)
const timings = { fetchMs: 0, parseMs: 0, buildMs: 0, drawMs: 0 };
const view = {
	zoom: 0,          // the frame that fills the width
	focus: "",        // a function picked in the table, outlined in the graph
	focusIdx: -1,     // ... its index in the model's names
	hover: -1,
	lastDrawMs: 0,
};

// ---- the URL ----

function readURL() {
	const p = new URLSearchParams(location.search);
	const s = {};
	for (const k of KEYS)
		s[k] = p.get(k) ?? DEFAULTS[k] ?? "";
	if (s.mode !== "diff")
		s.mode = "single";
	return s;
}

function urlOf(s) {
	const p = new URLSearchParams();
	for (const k of KEYS)
		if (s[k] && s[k] !== (DEFAULTS[k] ?? ""))
			p.set(k, s[k]);
	const q = p.toString();
	return location.pathname + (q ? "?" + q : "");
}

// pushState for a new view (back returns to the old one), replaceState for
// refinements of the same view (typing in the search box).
function writeURL(push) {
	const url = urlOf(state);
	if (url === location.pathname + location.search)
		return;
	if (push)
		history.pushState(null, "", url);
	else
		history.replaceState(null, "", url);
}

// ---- queries: SERVICE{key=value,...} ----

function parseQuery(q) {
	q = (q || "").trim();
	const b = q.indexOf("{");
	let service = (b < 0 ? q : q.slice(0, b)).trim();
	const pairs = [];
	if (b < 0)
		return { service, pairs };
	let body = q.slice(b + 1);
	if (body.endsWith("}"))
		body = body.slice(0, -1);
	let i = 0;
	while (i < body.length) {
		while (body[i] === " " || body[i] === ",")
			i++;
		if (i >= body.length)
			break;
		const eq = body.indexOf("=", i);
		if (eq < 0)
			break;
		const key = body.slice(i, eq).trim();
		let val = "";
		i = eq + 1;
		while (body[i] === " ")
			i++;
		if (body[i] === "\"") {
			for (i++; i < body.length && body[i] !== "\""; i++) {
				if (body[i] === "\\" && i + 1 < body.length)
					i++;
				val += body[i];
			}
			while (i < body.length && body[i] !== ",")
				i++;
		} else {
			const c = body.indexOf(",", i);
			const e = c < 0 ? body.length : c;
			val = body.slice(i, e).trim();
			i = e;
		}
		if (key === "service_name")
			service = val;
		else if (key)
			pairs.push([key, val]);
	}
	return { service, pairs };
}

function quoteValue(v) {
	return /^[\w.:/@+-]+$/.test(v) ? v : "\"" + v.replace(/["\\]/g, "\\$&") + "\"";
}

function buildQuery(service, pairs) {
	if (!pairs.length)
		return service;
	return service + "{" + pairs.map(([k, v]) => k + "=" + quoteValue(v)).join(",") + "}";
}

// ---- times ----

const UNIT_MS = { ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5 };

// A time as the API reads it, in ms since the epoch (NaN when unknown):
// "now", "now-1h30m", Unix seconds/ms/µs/ns by magnitude, RFC 3339.
function timeMs(s, now) {
	s = String(s ?? "").trim();
	if (!s || s === "now")
		return now;
	const rel = /^now-((?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+)$/.exec(s);
	if (rel) {
		let t = 0;
		for (const [, n, u] of rel[1].matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g))
			t += Number(n) * UNIT_MS[u];
		return now - t;
	}
	if (/^\d+$/.test(s)) {
		const v = Number(s);
		return v < 1e10 ? v * 1e3 : v < 1e13 ? v : v < 1e16 ? v / 1e3 : v / 1e6;
	}
	const d = Date.parse(s);
	return Number.isNaN(d) ? NaN : d;
}

// RFC 3339 to the second, as the time inputs show it.
const iso = (ms) => new Date(Math.round(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");

function pad2(n) {
	return String(n).padStart(2, "0");
}

function clockLabel(ms, span) {
	const d = new Date(ms);
	const hm = pad2(d.getHours()) + ":" + pad2(d.getMinutes());
	if (span < 2 * 864e5)
		return span < 600e3 ? hm + ":" + pad2(d.getSeconds()) : hm;
	return pad2(d.getMonth() + 1) + "-" + pad2(d.getDate()) + " " + hm;
}

// ---- numbers ----

function fmtDuration(ns) {
	const a = Math.abs(ns);
	if (a >= 3600e9)
		return (ns / 3600e9).toFixed(2) + " h";
	if (a >= 60e9)
		return (ns / 60e9).toFixed(2) + " min";
	if (a >= 1e9)
		return (ns / 1e9).toFixed(2) + " s";
	if (a >= 1e6)
		return (ns / 1e6).toFixed(2) + " ms";
	if (a >= 1e3)
		return (ns / 1e3).toFixed(2) + " µs";
	return Math.round(ns) + " ns";
}

function fmtValue(v, unit) {
	if (unit === "nanoseconds")
		return fmtDuration(v);
	if (unit === "bytes") {
		const u = ["B", "KiB", "MiB", "GiB", "TiB"];
		let i = 0;
		while (Math.abs(v) >= 1024 && i < u.length - 1) {
			v /= 1024;
			i++;
		}
		return (i ? v.toFixed(1) : String(Math.round(v))) + " " + u[i];
	}
	return Math.round(v).toLocaleString("en-US");
}

// Shares as percentages, with two significant digits for the tiny ones.
function pct(x) {
	const v = 100 * x;
	return (v !== 0 && Math.abs(v) < 0.01 ? v.toPrecision(2) : v.toFixed(2)) + "%";
}

const pp = (x) => (x >= 0 ? "+" : "") + (100 * x).toFixed(2) + " pp";

// ---- the API ----

// GET a JSON answer; an API error ({"error": ...}) becomes the thrown
// message. `t`, when given, receives the fetch and parse times.
async function getJSON(path, params, t) {
	const url = path + (params && String(params) ? "?" + params : "");
	const t0 = performance.now();
	let r;
	try {
		r = await fetch(url);
	} catch (e) {
		throw new Error(`cannot reach the server (${e.message})`);
	}
	const text = await r.text();
	const t1 = performance.now();
	let body = null;
	try {
		body = JSON.parse(text);
	} catch {
		// not JSON: reported below
	}
	if (t) {
		t.fetchMs = t1 - t0;
		t.parseMs = performance.now() - t1;
	}
	if (!r.ok)
		throw new Error(body && body.error ? body.error : `${path}: HTTP ${r.status}`);
	if (!body)
		throw new Error(`${path}: the answer is not JSON`);
	return body;
}

function addSelection(p, prefix) {
	for (const k of ["query", "from", "until", "window"]) {
		const v = state[prefix + k];
		if (v)
			p.set(prefix + k, v);
	}
}

const isDiff = () => state.mode === "diff";

function profileParams() {
	const p = new URLSearchParams();
	addSelection(p, "");
	if (isDiff())
		addSelection(p, "base_");
	return p;
}

// ---- the flame tree ----

// Unpack the API's flame tree (formats/flamegraph.h) into typed arrays:
// per frame its depth, name, kind, value (and base value in a diff),
// parent, the end of its subtree, its x and width as shares of the root;
// per name its self and total (a frame counted once per path, so
// recursion does not count twice) and its widest frame.
function buildModel(flame) {
	const stride = flame.stride || 4;
	const src = flame.nodes || [];
	const names = flame.names || [];
	const n = Math.floor(src.length / stride);
	const diff = stride >= 5;
	const depth = new Int32Array(n), name = new Int32Array(n);
	const kind = new Uint8Array(n);
	const value = new Float64Array(n), base = new Float64Array(diff ? n : 0);
	let maxDepth = 0;
	for (let i = 0, o = 0; i < n; i++, o += stride) {
		depth[i] = src[o];
		name[i] = src[o + 1];
		kind[i] = src[o + 2];
		value[i] = src[o + 3];
		if (diff)
			base[i] = src[o + 4];
		if (depth[i] > maxDepth)
			maxDepth = depth[i];
	}
	const total = n ? value[0] : 0, baseTotal = diff && n ? base[0] : 0;
	const fv = total > 0 ? 1 / total : 0, fb = baseTotal > 0 ? 1 / baseTotal : 0;
	// With both sides, a frame is as wide as the mean of its two shares, so
	// a frame only in the baseline keeps a visible width.
	const half = diff && fv && fb ? 0.5 : 1;
	const parent = new Int32Array(n), end = new Int32Array(n);
	const x = new Float64Array(n), w = new Float64Array(n);
	const self = new Float64Array(n), baseSelf = new Float64Array(diff ? n : 0);
	const stack = new Int32Array(maxDepth + 2), cur = new Float64Array(maxDepth + 2);
	const nn = names.length;
	const onPath = new Int32Array(nn);
	const selfN = new Float64Array(nn), totalN = new Float64Array(nn);
	const baseSelfN = new Float64Array(diff ? nn : 0), baseTotalN = new Float64Array(diff ? nn : 0);
	const best = new Int32Array(nn).fill(-1);
	let sp = 0, maxDelta = 0;
	for (let i = 0; i < n; i++) {
		if (depth[i] > sp)
			depth[i] = sp; // only a malformed tree skips a level
		const d = depth[i];
		while (sp > d) {
			const j = stack[--sp];
			end[j] = i;
			onPath[name[j]]--;
		}
		const p = sp ? stack[sp - 1] : -1;
		const nm = name[i];
		parent[i] = p;
		stack[sp++] = i;
		if (onPath[nm] === 0) {
			totalN[nm] += value[i];
			if (diff)
				baseTotalN[nm] += base[i];
		}
		onPath[nm]++;
		self[i] = value[i];
		if (p >= 0)
			self[p] -= value[i];
		if (diff) {
			baseSelf[i] = base[i];
			if (p >= 0)
				baseSelf[p] -= base[i];
			const dl = Math.abs(value[i] * fv - base[i] * fb);
			if (dl > maxDelta)
				maxDelta = dl;
		}
		const wi = diff ? (value[i] * fv + base[i] * fb) * half : value[i] * fv;
		w[i] = wi;
		x[i] = cur[d];
		cur[d] += wi;
		cur[d + 1] = x[i];
		if (best[nm] < 0 || wi > w[best[nm]])
			best[nm] = i;
	}
	while (sp) {
		const j = stack[--sp];
		end[j] = n;
	}
	for (let i = 0; i < n; i++) {
		selfN[name[i]] += self[i];
		if (diff)
			baseSelfN[name[i]] += baseSelf[i];
	}
	return {
		n, diff, names, unit: flame.unit || "", type: flame.type || "",
		depth, name, kind, value, base, parent, end, x, w, self, baseSelf,
		total, baseTotal, fv, fb, maxDepth, maxDelta,
		selfN, totalN, baseSelfN, baseTotalN, best,
		nameIndex: null,
		match: null,     // per name: 1 when it matches the search
		matchShare: 0, matchBaseShare: 0,
		hitIdx: new Int32Array(n), hitX: new Float32Array(n), hitW: new Float32Array(n),
		hits: 0,
	};
}

function nameIndex(m, s) {
	if (!m.nameIndex) {
		m.nameIndex = new Map();
		for (let k = m.names.length - 1; k >= 0; k--)
			m.nameIndex.set(m.names[k], k);
	}
	return m.nameIndex.get(s) ?? -1;
}

// The names from under the root down to frame i.
function pathOf(m, i) {
	const path = [];
	for (; i > 0; i = m.parent[i])
		path.push(m.names[m.name[i]]);
	return path.reverse();
}

// The frame at a path of names, or the deepest one found along it.
function findPath(m, path) {
	let c = 0;
	for (const s of path) {
		let found = -1;
		for (let i = c + 1; i < m.end[c]; i = m.end[i])
			if (m.names[m.name[i]] === s) {
				found = i;
				break;
			}
		if (found < 0)
			break;
		c = found;
	}
	return c;
}

const matched = (m, i) => i > 0 && m.match !== null && m.match[m.name[i]] === 1;

// Mark the names the search matches and sum the matched share: a frame
// counts when it matches and none of its callers did.
function applySearch(m) {
	const box = $("search");
	m.match = null;
	m.matchShare = m.matchBaseShare = 0;
	box.classList.remove("invalid");
	box.title = "A regular expression; case-insensitive unless it has capitals";
	if (!state.search)
		return true;
	let re;
	try {
		re = new RegExp(state.search, /[A-Z]/.test(state.search) ? "" : "i");
	} catch (e) {
		box.classList.add("invalid");
		box.title = e.message;
		return false;
	}
	const match = new Uint8Array(m.names.length);
	for (let k = 0; k < m.names.length; k++)
		if (re.test(m.names[k]))
			match[k] = 1;
	const covered = new Uint8Array(m.n);
	let sum = 0, bsum = 0;
	for (let i = 1; i < m.n; i++) {
		const p = m.parent[i];
		covered[i] = covered[p] | (p > 0 ? match[m.name[p]] : 0);
		if (match[m.name[i]] && !covered[i]) {
			sum += m.value[i];
			if (m.diff)
				bsum += m.base[i];
		}
	}
	m.match = match;
	m.matchShare = sum * m.fv;
	m.matchBaseShare = bsum * m.fb;
	return true;
}

// ---- colours ----

// FNV-1a: a stable hash, so a function keeps its shade across loads.
function hashName(s) {
	let h = 0x811c9dc5;
	for (let i = 0; i < s.length; i++) {
		h ^= s.charCodeAt(i);
		h = Math.imul(h, 0x01000193);
	}
	return h >>> 0;
}

// Families by kind, as flamegraph.pl's kind palette: user code red,
// kernel orange, JIT green, interpreted blue, inlined aqua.
const PALETTES = [
	(a, b) => [200 + 55 * b, 50 + 80 * a, 50 + 80 * a],
	(a) => [190 + 65 * a, 90 + 65 * a, 0],
	(a) => [50 + 60 * a, 200 + 55 * a, 50 + 60 * a],
	(a) => [80 + 60 * a, 80 + 60 * a, 205 + 50 * a],
	(a) => [50 + 60 * a, 165 + 55 * a, 165 + 55 * a],
];
const colorCache = new Map();

function rgb(c) {
	return `rgb(${Math.round(c[0])},${Math.round(c[1])},${Math.round(c[2])})`;
}

function kindColor(name, kind) {
	const key = kind + "\u0000" + name;
	let c = colorCache.get(key);
	if (!c) {
		const h = hashName(name);
		const pal = PALETTES[kind] || ((a) => [150 + 60 * a, 150 + 60 * a, 150 + 60 * a]);
		c = rgb(pal((h & 0x3ff) / 1024, ((h >>> 10) & 0x3ff) / 1024));
		if (colorCache.size > 200000)
			colorCache.clear();
		colorCache.set(key, c);
	}
	return c;
}

const NEUTRAL = [228, 228, 228];
const GROW = [[214, 39, 40], [230, 120, 0]];   // red; orange when colour-blind safe
const SHRINK = [[40, 90, 220], [0, 114, 178]]; // blue; a blue apart from that orange

function diffColorOf(delta, maxDelta) {
	if (!(Math.abs(delta) > 1e-12) || !(maxDelta > 0))
		return rgb(NEUTRAL);
	const cb = state.cb ? 1 : 0;
	const target = delta > 0 ? GROW[cb] : SHRINK[cb];
	const s = 0.15 + 0.85 * Math.min(1, Math.abs(delta) / maxDelta);
	return rgb(NEUTRAL.map((v, i) => v + (target[i] - v) * s));
}

function statusOf(m, i) {
	if (!m.diff)
		return "";
	const v = m.value[i], b = m.base[i];
	if (v > 0 && b === 0 && m.baseTotal > 0)
		return "new";
	if (v === 0 && b > 0 && m.total > 0)
		return "vanished";
	const d = v * m.fv - b * m.fb;
	return d > 1e-9 ? "grew" : d < -1e-9 ? "shrank" : "same";
}

function frameColor(m, i) {
	if (i === 0 && !m.diff)
		return "rgb(205,205,210)";
	if (m.diff)
		return diffColorOf(m.value[i] * m.fv - m.base[i] * m.fb, m.maxDelta);
	return kindColor(m.names[m.name[i]], m.kind[i]);
}

const newOutline = () => (state.cb ? "rgb(120,60,0)" : "rgb(110,0,0)");

let hatch = null;

function hatchPattern(ctx) {
	if (!hatch) {
		const c = document.createElement("canvas");
		c.width = c.height = 6;
		const g = c.getContext("2d");
		g.strokeStyle = "rgba(255,255,255,0.85)";
		g.lineWidth = 1.5;
		g.beginPath();
		g.moveTo(0, 6);
		g.lineTo(6, 0);
		g.moveTo(-1, 1);
		g.lineTo(1, -1);
		g.moveTo(5, 7);
		g.lineTo(7, 5);
		g.stroke();
		hatch = ctx.createPattern(c, "repeat");
	}
	return hatch;
}

// ---- the flame graph ----

let charW = 0;

function drawFlame() {
	const t0 = performance.now();
	const cv = $("flame"), m = model;
	const empty = !m || m.n === 0 || !(m.w[0] > 0);
	$("empty").hidden = !empty;
	if (empty) {
		$("empty").textContent = m ? "No samples in this selection: pick a wider time range," +
			" another service, or upload a profile." : "";
		cv.width = cv.height = 0;
		cv.style.width = cv.style.height = "0px";
		if (m)
			m.hits = 0;
		cv.dataset.zoom = "";
		return;
	}
	const z = view.zoom;
	let rows = m.depth[z];
	for (let i = z; i < m.end[z]; i++)
		if (m.depth[i] > rows)
			rows = m.depth[i];
	rows = Math.min(rows + 1, 1800);
	const dpr = window.devicePixelRatio || 1;
	const cssW = Math.max(200, $("flame-scroll").clientWidth);
	const cssH = rows * ROW_H;
	if (cv.width !== Math.round(cssW * dpr) || cv.height !== Math.round(cssH * dpr)) {
		cv.width = Math.round(cssW * dpr);
		cv.height = Math.round(cssH * dpr);
		cv.style.width = cssW + "px";
		cv.style.height = cssH + "px";
	}
	const ctx = cv.getContext("2d");
	ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
	ctx.clearRect(0, 0, cssW, cssH);
	ctx.font = FONT;
	ctx.textBaseline = "middle";
	if (!charW)
		charW = ctx.measureText("0123456789abcdefghij").width / 20;
	m.hits = 0;
	for (let a = m.parent[z]; a >= 0; a = m.parent[a])
		drawFrame(ctx, m, a, 0, cssW, true);
	const x0 = m.x[z], scale = cssW / m.w[z], e = m.end[z];
	// Neighbours too narrow to draw are shown as one grey run per row.
	const runX = new Float64Array(rows), runEnd = new Float64Array(rows).fill(-1);
	const flush = (d) => {
		if (runEnd[d] - runX[d] >= 1) {
			ctx.fillStyle = FILLER;
			ctx.fillRect(runX[d], d * ROW_H, runEnd[d] - runX[d], ROW_H - 1);
		}
		runEnd[d] = -1;
	};
	for (let i = z; i < e;) {
		const pw = m.w[i] * scale, d = m.depth[i];
		if (pw < MIN_PX || d >= rows) {
			if (d < rows) {
				const px = (m.x[i] - x0) * scale;
				if (runEnd[d] >= 0 && px - runEnd[d] > 0.5)
					flush(d);
				if (runEnd[d] < 0)
					runX[d] = px;
				runEnd[d] = px + pw;
			}
			i = m.end[i];
			continue;
		}
		if (runEnd[d] >= 0)
			flush(d);
		drawFrame(ctx, m, i, (m.x[i] - x0) * scale, pw, false);
		i++;
	}
	for (let d = 0; d < rows; d++)
		if (runEnd[d] >= 0)
			flush(d);
	cv.dataset.zoom = pathOf(m, z).join(";");
	cv.dataset.drawn = String(m.hits);
	view.lastDrawMs = performance.now() - t0;
}

// A frame's label in `width` px: its name, cut with ".." when it does not
// fit, or "" when not even three characters do.
function fitLabel(s, width) {
	const room = Math.floor((width - 2 * TEXT_PAD) / charW);
	if (room < 3)
		return "";
	return s.length <= room ? s : s.slice(0, room - 2) + "..";
}

function drawFrame(ctx, m, i, px, pw, above) {
	const y = m.depth[i] * ROW_H;
	const fw = pw > 2 ? pw - 1 : pw;
	const searching = m.match !== null;
	const hit = searching && matched(m, i);
	ctx.globalAlpha = above ? 0.55 : 1;
	ctx.fillStyle = searching && !hit ? "rgb(222,222,222)" : frameColor(m, i);
	ctx.fillRect(px, y, fw, ROW_H - 1);
	if (m.diff && fw > 2) {
		const st = statusOf(m, i);
		if (st === "vanished") {
			ctx.fillStyle = hatchPattern(ctx);
			ctx.fillRect(px, y, fw, ROW_H - 1);
		} else if (st === "new") {
			ctx.strokeStyle = newOutline();
			ctx.lineWidth = 2;
			ctx.strokeRect(px + 1, y + 1, fw - 2, ROW_H - 3);
		}
	}
	if (hit && m.diff && fw > 2) {
		ctx.strokeStyle = "rgb(200,0,200)";
		ctx.lineWidth = 1;
		ctx.strokeRect(px + 0.5, y + 0.5, fw - 1, ROW_H - 2);
	}
	if (m.name[i] === view.focusIdx && fw > 2) {
		ctx.strokeStyle = "rgb(20,20,20)";
		ctx.lineWidth = 2;
		ctx.strokeRect(px + 1, y + 1, fw - 2, ROW_H - 3);
	}
	const label = fitLabel(m.names[m.name[i]], fw);
	if (label) {
		ctx.fillStyle = searching && !hit ? "#777" : "#111";
		ctx.fillText(label, px + TEXT_PAD, y + ROW_H / 2);
	}
	ctx.globalAlpha = 1;
	const k = m.hits++;
	m.hitIdx[k] = i;
	m.hitX[k] = px;
	m.hitW[k] = pw;
}

function hitTest(m, mx, my) {
	if (!m)
		return -1;
	const d = Math.floor(my / ROW_H);
	for (let k = 0; k < m.hits; k++) {
		const i = m.hitIdx[k];
		if (m.depth[i] === d && mx >= m.hitX[k] && mx < m.hitX[k] + m.hitW[k])
			return i;
	}
	return -1;
}

function zoomTo(i, push) {
	if (!model)
		return;
	view.zoom = i;
	state.zoom = pathOf(model, i).join(";");
	writeURL(push);
	updateZoomUI();
	drawFlame();
}

function updateZoomUI() {
	const m = model;
	const z = m ? view.zoom : 0;
	$("reset-zoom").disabled = z === 0;
	$("breadcrumb").textContent = z ? "all › " + pathOf(m, z).join(" › ") : "";
	$("breadcrumb").title = $("breadcrumb").textContent;
}

function tooltipFor(m, i) {
	const tt = $("tooltip");
	tt.replaceChildren();
	const line = (text, cls) => {
		const d = document.createElement("div");
		if (cls)
			d.className = cls;
		d.textContent = text;
		tt.append(d);
		return d;
	};
	const head = line(m.names[m.name[i]], "tt-name");
	const tag = (text) => {
		const s = document.createElement("span");
		s.className = "tt-tag";
		s.textContent = text;
		head.append(s);
	};
	if (i > 0 && KIND_NAMES[m.kind[i]])
		line("kind: " + KIND_NAMES[m.kind[i]]);
	const u = m.unit;
	if (!m.diff) {
		line(`total: ${fmtValue(m.value[i], u)} (${pct(m.value[i] * m.fv)} of all)`);
		line(`self: ${fmtValue(m.self[i], u)} (${pct(m.self[i] * m.fv)})`);
	} else {
		const st = statusOf(m, i);
		if (st === "new")
			tag("new: only in the comparison");
		else if (st === "vanished")
			tag("vanished: only in the baseline");
		line(`baseline: ${fmtValue(m.base[i], u)} (${pct(m.base[i] * m.fb)} of all)`);
		line(`comparison: ${fmtValue(m.value[i], u)} (${pct(m.value[i] * m.fv)} of all)`);
		line(`change: ${pp(m.value[i] * m.fv - m.base[i] * m.fb)} of the total`);
		line(`self: ${fmtValue(m.baseSelf[i], u)} → ${fmtValue(m.self[i], u)}`);
	}
	if (matched(m, i))
		line("matches the search");
}

function onFlameMove(ev) {
	const r = $("flame").getBoundingClientRect();
	const i = hitTest(model, ev.clientX - r.left, ev.clientY - r.top);
	const tt = $("tooltip");
	$("flame").style.cursor = i >= 0 ? "pointer" : "default";
	if (i < 0) {
		tt.hidden = true;
		view.hover = -1;
		return;
	}
	if (i !== view.hover) {
		view.hover = i;
		tooltipFor(model, i);
	}
	tt.hidden = false;
	const w = tt.offsetWidth, h = tt.offsetHeight;
	let x = ev.clientX + 14, y = ev.clientY + 16;
	if (x + w > window.innerWidth - 4)
		x = Math.max(4, ev.clientX - w - 10);
	if (y + h > window.innerHeight - 4)
		y = Math.max(4, ev.clientY - h - 10);
	tt.style.left = x + "px";
	tt.style.top = y + "px";
}

function onFlameClick(ev) {
	const r = $("flame").getBoundingClientRect();
	const i = hitTest(model, ev.clientX - r.left, ev.clientY - r.top);
	if (i >= 0 && i !== view.zoom)
		zoomTo(i, true);
}

// ---- the top table ----

function columns() {
	if (isDiff())
		return [["name", "Function"], ["self", "Self"], ["total", "Total"],
			["base", "Baseline"], ["delta", "Change"]];
	return [["name", "Function"], ["self", "Self"], ["total", "Total"]];
}

function sortKey(m, key) {
	switch (key) {
	case "self": return (k) => m.selfN[k];
	case "total": return (k) => m.totalN[k];
	case "base": return (k) => m.baseTotalN[k];
	case "delta": return (k) => m.totalN[k] * m.fv - m.baseTotalN[k] * m.fb;
	default: return null;
	}
}

function renderTable() {
	const m = model;
	const head = $("top-table").tHead.rows[0];
	const body = $("top-table").tBodies[0];
	const desc = state.sort.startsWith("-");
	let key = state.sort.replace(/^-/, "");
	const cols = columns();
	if (!cols.some(([k]) => k === key))
		key = "self";
	head.replaceChildren(...cols.map(([k, label]) => {
		const th = document.createElement("th");
		th.textContent = label;
		th.dataset.sort = k;
		th.dataset.testid = "sort-" + k;
		th.title = "Sort by " + label.toLowerCase();
		th.tabIndex = 0;
		if (k === key)
			th.setAttribute("aria-sort", desc ? "descending" : "ascending");
		return th;
	}));
	if (!m || !m.n) {
		body.replaceChildren();
		$("top-count").textContent = "";
		return;
	}
	const rows = [];
	const root = m.name[0];
	for (let k = 0; k < m.names.length; k++) {
		if (k === root || (m.totalN[k] <= 0 && !(m.diff && m.baseTotalN[k] > 0)))
			continue;
		if (m.match && !m.match[k])
			continue;
		rows.push(k);
	}
	const f = sortKey(m, key);
	const dir = desc ? -1 : 1;
	if (f)
		rows.sort((a, b) => dir * (f(a) - f(b)) || (m.names[a] < m.names[b] ? -1 : 1));
	else
		rows.sort((a, b) => dir * (m.names[a] < m.names[b] ? -1 : m.names[a] > m.names[b] ? 1 : 0));
	const u = m.unit;
	const frag = document.createDocumentFragment();
	const cell = (tr, text, cls) => {
		const td = document.createElement("td");
		td.textContent = text;
		if (cls)
			td.className = cls;
		tr.append(td);
		return td;
	};
	for (const k of rows.slice(0, TABLE_ROWS)) {
		const tr = document.createElement("tr");
		const s = m.names[k];
		tr.dataset.name = s;
		if (k === view.focusIdx)
			tr.className = "focused";
		const nameTd = cell(tr, "", "name");
		const sw = document.createElement("i");
		const bi = m.best[k];
		sw.style.background = m.diff ? diffColorOf(m.totalN[k] * m.fv - m.baseTotalN[k] * m.fb, m.maxDelta)
			: kindColor(s, bi >= 0 ? m.kind[bi] : 0);
		nameTd.append(sw, s);
		nameTd.title = s;
		if (!m.diff) {
			cell(tr, `${fmtValue(m.selfN[k], u)} (${pct(m.selfN[k] * m.fv)})`);
			cell(tr, `${fmtValue(m.totalN[k], u)} (${pct(m.totalN[k] * m.fv)})`);
		} else {
			// Shares only, to fit; the values are in the cells' titles.
			const d = m.totalN[k] * m.fv - m.baseTotalN[k] * m.fb;
			cell(tr, pct(m.selfN[k] * m.fv)).title = fmtValue(m.selfN[k], u);
			cell(tr, pct(m.totalN[k] * m.fv)).title = fmtValue(m.totalN[k], u);
			cell(tr, pct(m.baseTotalN[k] * m.fb)).title = fmtValue(m.baseTotalN[k], u);
			cell(tr, pp(d), d > 1e-9 ? "grew" : d < -1e-9 ? "shrank" : "");
		}
		frag.append(tr);
	}
	body.replaceChildren(frag);
	$("top-count").textContent = rows.length > TABLE_ROWS
		? `${TABLE_ROWS} of ${rows.length.toLocaleString("en-US")}`
		: `${rows.length.toLocaleString("en-US")} functions`;
}

function onTableClick(ev) {
	const th = ev.target.closest("th");
	if (th) {
		const k = th.dataset.sort;
		const curKey = state.sort.replace(/^-/, "");
		const desc = state.sort.startsWith("-");
		state.sort = k === curKey ? (desc ? k : "-" + k) : (k === "name" ? k : "-" + k);
		writeURL(false);
		renderTable();
		return;
	}
	const tr = ev.target.closest("tbody tr");
	if (!tr || !model)
		return;
	const k = nameIndex(model, tr.dataset.name);
	if (k < 0)
		return;
	if (view.focusIdx === k) {
		view.focus = "";
		view.focusIdx = -1;
		renderTable();
		drawFlame();
		return;
	}
	view.focus = tr.dataset.name;
	view.focusIdx = k;
	renderTable();
	zoomTo(model.best[k] >= 0 ? model.best[k] : 0, true);
}

// ---- the timeline ----

const drag = { active: false, x0: 0, x1: 0 };

// The span the timeline shows: the comparison's range, and in a diff the
// baseline's too.
function timelineRange() {
	const now = Date.now();
	let f = timeMs(state.from || DEFAULTS.from, now), u = timeMs(state.until || DEFAULTS.until, now);
	if (isDiff() && (state.base_from || state.base_until)) {
		const bf = timeMs(state.base_from || state.from, now);
		const bu = timeMs(state.base_until || state.until, now);
		if (Number.isFinite(bf) && Number.isFinite(bu)) {
			f = Math.min(f, bf);
			u = Math.max(u, bu);
		}
	}
	if (!Number.isFinite(f) || !Number.isFinite(u) || f >= u)
		return null;
	return [f, u];
}

async function loadTimeline(my) {
	const p = new URLSearchParams();
	if (state.query)
		p.set("query", state.query);
	const r = timelineRange();
	if (r) {
		p.set("from", String(Math.floor(r[0])));
		p.set("until", String(Math.ceil(r[1])));
	} else {
		p.set("from", state.from);
		p.set("until", state.until);
	}
	const width = $("timeline").clientWidth || 800;
	p.set("points", String(Math.max(10, Math.min(2000, Math.floor(width / 5)))));
	const t = await getJSON("api/timeline", p);
	if (my !== seq)
		return;
	timeline = t;
	drawTimeline();
}

function drawTimeline() {
	const cv = $("timeline");
	const dpr = window.devicePixelRatio || 1;
	const cssW = cv.clientWidth || 800, cssH = 70;
	if (cv.width !== Math.round(cssW * dpr) || cv.height !== Math.round(cssH * dpr)) {
		cv.width = Math.round(cssW * dpr);
		cv.height = Math.round(cssH * dpr);
	}
	const ctx = cv.getContext("2d");
	ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
	ctx.clearRect(0, 0, cssW, cssH);
	const t = timeline;
	if (!t || !t.samples || !t.samples.length)
		return;
	const axis = 14, top = 4, h = cssH - axis - top;
	const n = t.samples.length, span = t.stepMs * n;
	const peak = Math.max(0, ...t.samples), max = Math.max(1, peak);
	const bw = cssW / n;
	ctx.fillStyle = "rgb(234,88,12)";
	for (let i = 0; i < n; i++) {
		const v = t.samples[i];
		if (!v)
			continue;
		const bh = Math.max(1, (v / max) * h);
		ctx.fillRect(i * bw, top + h - bh, Math.max(1, bw - 1), bh);
	}
	ctx.fillStyle = "#d6dae1";
	ctx.fillRect(0, top + h, cssW, 1);
	ctx.fillStyle = "#667085";
	ctx.font = "10px system-ui, sans-serif";
	ctx.textBaseline = "top";
	ctx.fillText(peak ? peak.toLocaleString("en-US") + " samples" : "no samples in this range", 2, 0);
	const ticks = Math.max(2, Math.floor(cssW / 140));
	for (let k = 0; k <= ticks; k++) {
		const x = (k / ticks) * cssW;
		const s = clockLabel(t.fromMs + (k / ticks) * span, span);
		const tw = ctx.measureText(s).width;
		ctx.fillText(s, Math.min(Math.max(0, x - tw / 2), cssW - tw), top + h + 2);
	}
	const toX = (ms) => ((ms - t.fromMs) / span) * cssW;
	const band = (f, u, fill, stroke) => {
		const a = Math.max(0, toX(f)), b = Math.min(cssW, toX(u));
		if (!(b > a))
			return;
		ctx.fillStyle = fill;
		ctx.fillRect(a, top, b - a, h);
		ctx.strokeStyle = stroke;
		ctx.lineWidth = 1;
		ctx.strokeRect(a + 0.5, top + 0.5, b - a - 1, h - 1);
	};
	if (isDiff()) {
		const now = Date.now();
		const cb = state.cb ? 1 : 0;
		const g = GROW[cb], s = SHRINK[cb];
		// A side that is one stored window has no range to show.
		const baseWindow = state.base_window ||
			(state.window && !state.base_query && !state.base_from && !state.base_until);
		const same = !state.base_from && !state.base_until;
		if (!baseWindow && !same)
			band(timeMs(state.base_from || state.from, now), timeMs(state.base_until || state.until, now),
				`rgba(${s},0.16)`, `rgba(${s},0.8)`);
		if (!state.window && !same)
			band(timeMs(state.from, now), timeMs(state.until, now), `rgba(${g},0.14)`, `rgba(${g},0.8)`);
	}
	if (drag.active) {
		const a = Math.min(drag.x0, drag.x1), b = Math.max(drag.x0, drag.x1);
		ctx.fillStyle = "rgba(30,64,175,0.18)";
		ctx.fillRect(a, top, b - a, h);
	}
}

function timelineX(ev) {
	const r = $("timeline").getBoundingClientRect();
	return Math.min(Math.max(0, ev.clientX - r.left), r.width);
}

function onTimelineDown(ev) {
	if (!timeline || ev.button !== 0)
		return;
	drag.active = true;
	drag.x0 = drag.x1 = timelineX(ev);
	$("timeline").setPointerCapture(ev.pointerId);
}

function onTimelineMove(ev) {
	if (!drag.active)
		return;
	drag.x1 = timelineX(ev);
	drawTimeline();
}

function onTimelineUp(ev) {
	if (!drag.active)
		return;
	drag.active = false;
	drag.x1 = timelineX(ev);
	const w = $("timeline").clientWidth;
	const a = Math.min(drag.x0, drag.x1), b = Math.max(drag.x0, drag.x1);
	if (b - a < 3 || !timeline) {
		drawTimeline();
		return;
	}
	const span = timeline.stepMs * timeline.samples.length;
	// Whole seconds, at least one.
	const f = Math.floor((timeline.fromMs + (a / w) * span) / 1000) * 1000;
	const u = Math.max(f + 1000, Math.ceil((timeline.fromMs + (b / w) * span) / 1000) * 1000);
	if (isDiff() && $("drag-target").value === "baseline") {
		state.base_from = iso(f);
		state.base_until = iso(u);
		state.base_window = "";
	} else {
		state.from = iso(f);
		state.until = iso(u);
		state.window = "";
	}
	navigate();
}

// ---- the controls ----

function showError(msg) {
	$("error-text").textContent = msg;
	$("error").hidden = false;
}

function hideError() {
	$("error").hidden = true;
	$("error-text").textContent = "";
}

function setOptions(sel, items, value) {
	// items: [value, label] pairs
	const opts = items.map(([v, l]) => {
		const o = document.createElement("option");
		o.value = v;
		o.textContent = l;
		return o;
	});
	sel.replaceChildren(...opts);
	if (value !== undefined)
		sel.value = value;
}

function rangeValue() {
	return (state.until === "now" || !state.until) && RANGES.includes(state.from) ? state.from : "custom";
}

function renderFilters() {
	const { pairs } = parseQuery(state.query);
	const chips = pairs.map(([k, v], idx) => {
		const c = document.createElement("span");
		c.className = "chip";
		c.dataset.testid = "filter-chip";
		c.dataset.key = k;
		const t = document.createElement("span");
		t.textContent = `${k}=${v}`;
		const x = document.createElement("button");
		x.type = "button";
		x.textContent = "×";
		x.title = "Remove this filter";
		x.setAttribute("aria-label", `remove ${k}=${v}`);
		x.addEventListener("click", () => {
			const q = parseQuery(state.query);
			q.pairs.splice(idx, 1);
			setQuery(buildQuery(q.service, q.pairs));
		});
		c.append(t, x);
		return c;
	});
	$("filters").replaceChildren(...chips);
}

function renderLegend() {
	const items = isDiff()
		? [["grew", rgb(GROW[state.cb ? 1 : 0])], ["shrank", rgb(SHRINK[state.cb ? 1 : 0])],
			["new (outlined)", rgb(NEUTRAL)], ["vanished (hatched)", rgb(NEUTRAL)]]
		: KIND_NAMES.map((k, i) => [k, rgb(PALETTES[i](0.5, 0.5))]);
	$("legend").replaceChildren(...items.map(([label, color]) => {
		const s = document.createElement("span");
		const i = document.createElement("i");
		i.style.background = color;
		if (label.startsWith("new"))
			i.style.outline = "2px solid " + newOutline();
		if (label.startsWith("vanished"))
			i.style.backgroundImage = "repeating-linear-gradient(135deg, #8aa 0 2px, transparent 2px 5px)";
		s.append(i, label);
		return s;
	}));
}

function updateDownloads() {
	const p = profileParams();
	const diff = isDiff();
	const set = (id, fmt, ok) => {
		const a = $(id);
		if (!ok) {
			a.removeAttribute("href");
			a.setAttribute("aria-disabled", "true");
			a.title = "Not available for a diff";
			return;
		}
		const q = new URLSearchParams(p);
		q.set("format", fmt);
		a.href = (diff ? "api/diff?" : "api/profile?") + q;
		a.removeAttribute("aria-disabled");
		a.title = "";
	};
	set("download-pprof", "pprof", !diff);
	set("download-folded", "folded", !diff);
	set("download-svg", "svg", true);
}

// State → controls.
function syncControls() {
	const diff = isDiff();
	document.body.classList.toggle("cb", !!state.cb);
	document.body.classList.toggle("diff", diff);
	$("mode-single").setAttribute("aria-pressed", String(!diff));
	$("mode-diff").setAttribute("aria-pressed", String(diff));
	$("diff-panel").hidden = !diff;
	$("upload-label").textContent = diff ? "Upload comparison…" : "Upload…";
	$("query").value = state.query;
	$("range").value = rangeValue();
	$("from").value = state.from;
	$("until").value = state.until;
	$("base-query").value = state.base_query;
	$("base-from").value = state.base_from;
	$("base-until").value = state.base_until;
	const bw = $("base-window");
	if (state.base_window && ![...bw.options].some((o) => o.value === state.base_window)) {
		const o = document.createElement("option");
		o.value = o.textContent = state.base_window;
		bw.append(o);
	}
	bw.value = state.base_window;
	for (const id of ["query", "from", "until"])
		$(id).classList.toggle("overridden", !!state.window);
	for (const id of ["base-query", "base-from", "base-until"])
		$(id).classList.toggle("overridden", !!state.base_window);
	$("cb-safe").checked = !!state.cb;
	if (document.activeElement !== $("search"))
		$("search").value = state.search;
	$("window-chip").hidden = !state.window;
	$("window-name").textContent = state.window;
	const svc = parseQuery(state.query).service;
	const sel = $("service");
	if (![...sel.options].some((o) => o.value === svc))
		setOptions(sel, [...[...sel.options].map((o) => [o.value, o.textContent]), [svc, svc]]);
	sel.value = svc;
	renderFilters();
	renderLegend();
	updateDownloads();
}

// A new view: into the history, then load it.
function navigate() {
	writeURL(true);
	syncControls();
	loadAll();
}

function setQuery(q) {
	state.query = q.trim();
	state.window = "";
	navigate();
}

function applyInputs() {
	state.query = $("query").value.trim();
	state.from = $("from").value.trim() || DEFAULTS.from;
	state.until = $("until").value.trim() || DEFAULTS.until;
	state.window = "";
	navigate();
}

function applyBaseInputs() {
	state.base_query = $("base-query").value.trim();
	state.base_from = $("base-from").value.trim();
	state.base_until = $("base-until").value.trim();
	state.base_window = "";
	navigate();
}

// The period just before the comparison's, as the default baseline.
function defaultBaseline() {
	const rel = /^now-(\d+)([smhdw])$/.exec(state.from);
	if (rel && state.until === "now") {
		state.base_from = `now-${2 * Number(rel[1])}${rel[2]}`;
		state.base_until = state.from;
		return;
	}
	const now = Date.now();
	const f = timeMs(state.from, now), u = timeMs(state.until, now);
	if (Number.isFinite(f) && Number.isFinite(u) && f < u) {
		state.base_from = iso(f - (u - f));
		state.base_until = iso(f);
	}
}

// A baseline window replaces the baseline's query and range.
function clearBaseRange() {
	state.base_query = state.base_from = state.base_until = "";
}

function setMode(mode) {
	if (state.mode === mode)
		return;
	state.mode = mode;
	if (mode === "diff" && !state.window && !state.base_window && !state.base_query &&
	    !state.base_from && !state.base_until)
		defaultBaseline();
	navigate();
}

async function loadServices(my) {
	const p = new URLSearchParams({ from: state.from, until: state.until });
	const r = await getJSON("api/services", p);
	if (my !== seq)
		return;
	const svc = parseQuery(state.query).service;
	const items = [["", "all services"]];
	for (const s of r.services || [])
		if (s.name)
			items.push([s.name, s.name]);
	if (svc && !items.some(([v]) => v === svc))
		items.push([svc, svc]);
	setOptions($("service"), items, svc);
}

async function loadLabels(my) {
	const svc = parseQuery(state.query).service;
	const p = new URLSearchParams({ from: state.from, until: state.until });
	if (svc)
		p.set("query", svc);
	const r = await getJSON("api/labels", p);
	if (my !== seq)
		return;
	labels = r.labels || {};
	const keys = Object.keys(labels).filter((k) => k !== "service_name").sort();
	setOptions($("label-key"), [["", "add filter…"], ...keys.map((k) => [k, k])], "");
	setOptions($("label-value"), [["", "value…"]], "");
	$("label-value").disabled = true;
}

// The windows of the comparison's range, newest first, for the baseline's
// window picker.
async function loadWindows(my) {
	const p = new URLSearchParams({ from: state.from, until: state.until });
	const r = await getJSON("api/windows", p);
	if (my !== seq)
		return;
	const ws = (r.windows || []).slice(-300).reverse();
	const items = [["", "(no window: use the range)"]];
	for (const w of ws) {
		const lb = (w.labels || []).filter((l) => !l.startsWith("service_name=")).join(",");
		const svc = (w.labels || []).find((l) => l.startsWith("service_name="));
		items.push([w.window, `${clockLabel(w.fromMs, 864e5 * 3)} ${svc ? svc.slice(13) : ""}` +
			(lb ? `{${lb}}` : "")]);
	}
	if (state.base_window && !items.some(([v]) => v === state.base_window))
		items.push([state.base_window, state.base_window]);
	setOptions($("base-window"), items, state.base_window);
}

async function loadProfile(my) {
	const t = {};
	const p = profileParams();
	p.set("format", "json");
	const r = await getJSON(isDiff() ? "api/diff" : "api/profile", p, t);
	if (my !== seq)
		return;
	const t0 = performance.now();
	const m = buildModel(r.flame || {});
	const t1 = performance.now();
	model = m;
	meta = r;
	view.zoom = state.zoom ? findPath(m, state.zoom.split(";")) : 0;
	view.focusIdx = view.focus ? nameIndex(m, view.focus) : -1;
	view.hover = -1;
	const zp = pathOf(m, view.zoom).join(";");
	if (zp !== state.zoom) {
		state.zoom = zp;
		writeURL(false);
	}
	applySearch(m);
	showMatched();
	updateZoomUI();
	drawFlame();
	renderTable();
	timings.fetchMs = t.fetchMs;
	timings.parseMs = t.parseMs;
	timings.buildMs = t1 - t0;
	timings.drawMs = performance.now() - t1;
	showStatus();
}

function showMatched() {
	const el = $("matched");
	const m = model;
	if (!m || !state.search || !m.match) {
		el.textContent = state.search && m && !m.match ? "invalid regular expression" : "";
		delete el.dataset.share;
		return;
	}
	el.dataset.share = (100 * m.matchShare).toFixed(4);
	el.textContent = `Matched: ${pct(m.matchShare)}` +
		(m.diff ? ` (baseline ${pct(m.matchBaseShare)})` : "");
}

function showStatus() {
	const m = model, r = meta;
	if (!m || !r)
		return;
	const parts = [];
	parts.push(`${r.windows} window${r.windows === 1 ? "" : "s"}`);
	if (m.diff)
		parts.push(`baseline ${fmtValue(m.baseTotal, m.unit)}, comparison ${fmtValue(m.total, m.unit)}`);
	else
		parts.push(`${fmtValue(m.total, m.unit)} ${m.type}`);
	parts.push(`${m.n.toLocaleString("en-US")} frame${m.n === 1 ? "" : "s"}`);
	if (r.unreadable)
		parts.push(`${r.unreadable} unreadable window(s) skipped`);
	if (r.otherTypes)
		parts.push(`${r.otherTypes} window(s) of another profile type skipped`);
	if (m.diff && !m.baseTotal)
		parts.push("the baseline is empty");
	parts.push(`drawn in ${(timings.buildMs + timings.drawMs).toFixed(0)} ms`);
	$("status").textContent = parts.join(" · ");
}

async function loadAll() {
	const my = ++seq;
	document.body.dataset.status = "loading";
	const tasks = [loadProfile(my), loadTimeline(my), loadServices(my), loadLabels(my)];
	if (isDiff())
		tasks.push(loadWindows(my));
	const results = await Promise.allSettled(tasks);
	if (my !== seq)
		return;
	const errs = [...new Set(results.filter((r) => r.status === "rejected")
		.map((r) => r.reason && r.reason.message ? r.reason.message : String(r.reason)))];
	if (errs.length)
		showError(errs.join("\n"));
	else
		hideError();
	if (errs.length && results[0].status === "rejected") {
		model = null;
		meta = null;
		drawFlame();
		renderTable();
		$("matched").textContent = "";
		$("status").textContent = "";
	}
	done = my;
	document.body.dataset.status = errs.length ? "error" : "ready";
}

// Send a file to /ingest as the page's own upload and show it: `target`
// is "window" (the comparison, or the single view) or "base_window".
async function upload(file, target) {
	if (!file)
		return;
	const my = ++seq;
	document.body.dataset.status = "loading";
	const label = file.name.replace(/[^\w.-]/g, "_").slice(0, 200) || "file";
	const fd = new FormData();
	fd.append("name", `upload{file=${label}}`);
	fd.append("profile", file, file.name);
	let r;
	try {
		const res = await fetch("ingest", { method: "POST", body: fd });
		const text = await res.text();
		try {
			r = JSON.parse(text);
		} catch {
			r = null;
		}
		if (!res.ok)
			throw new Error(r && r.error ? r.error : `HTTP ${res.status}`);
		if (!r || !r.window)
			throw new Error("the answer has no window");
	} catch (e) {
		if (my === seq) {
			showError(`upload '${file.name}': ${e.message}`);
			done = my;
			document.body.dataset.status = "error";
		}
		return;
	}
	if (target === "window")
		state.zoom = "";
	else
		clearBaseRange();
	state[target] = r.window;
	navigate();
}

// ---- events ----

function bind() {
	$("mode-single").addEventListener("click", () => setMode("single"));
	$("mode-diff").addEventListener("click", () => setMode("diff"));
	$("service").addEventListener("change", (ev) => setQuery(ev.target.value));
	$("query").addEventListener("keydown", (ev) => {
		if (ev.key === "Enter")
			applyInputs();
	});
	for (const id of ["from", "until"])
		$(id).addEventListener("keydown", (ev) => {
			if (ev.key === "Enter")
				applyInputs();
		});
	$("apply").addEventListener("click", applyInputs);
	$("range").addEventListener("change", (ev) => {
		const v = ev.target.value;
		if (v === "custom") {
			const now = Date.now();
			const f = timeMs(state.from, now), u = timeMs(state.until, now);
			if (Number.isFinite(f) && Number.isFinite(u)) {
				$("from").value = iso(f);
				$("until").value = iso(u);
			}
			$("from").focus();
			return;
		}
		state.from = v;
		state.until = "now";
		state.window = "";
		navigate();
	});
	$("label-key").addEventListener("change", (ev) => {
		const k = ev.target.value;
		const vals = labels[k] || [];
		setOptions($("label-value"), [["", "value…"], ...vals.map((v) => [v, v])], "");
		$("label-value").disabled = !k;
	});
	$("label-value").addEventListener("change", (ev) => {
		const k = $("label-key").value, v = ev.target.value;
		if (!k || !v)
			return;
		const q = parseQuery(state.query);
		const pairs = q.pairs.filter(([pk]) => pk !== k);
		pairs.push([k, v]);
		setQuery(buildQuery(q.service, pairs));
	});
	$("window-clear").addEventListener("click", () => {
		state.window = "";
		navigate();
	});
	$("upload").addEventListener("change", (ev) => {
		upload(ev.target.files[0], "window");
		ev.target.value = "";
	});
	$("base-upload").addEventListener("change", (ev) => {
		upload(ev.target.files[0], "base_window");
		ev.target.value = "";
	});
	for (const id of ["base-query", "base-from", "base-until"])
		$(id).addEventListener("keydown", (ev) => {
			if (ev.key === "Enter")
				applyBaseInputs();
		});
	$("base-apply").addEventListener("click", applyBaseInputs);
	$("base-window").addEventListener("change", (ev) => {
		if (ev.target.value)
			clearBaseRange();
		state.base_window = ev.target.value;
		navigate();
	});
	$("cb-safe").addEventListener("change", (ev) => {
		state.cb = ev.target.checked ? "1" : "";
		writeURL(false);
		syncControls();
		drawFlame();
		renderTable();
		drawTimeline();
	});
	$("error-close").addEventListener("click", hideError);

	let searchTimer = 0;
	const search = $("search");
	search.addEventListener("input", () => {
		clearTimeout(searchTimer);
		searchTimer = setTimeout(() => {
			state.search = search.value;
			writeURL(false);
			if (model) {
				applySearch(model);
				drawFlame();
				renderTable();
			}
			showMatched();
		}, 120);
	});
	search.addEventListener("keydown", (ev) => {
		if (ev.key === "Escape") {
			search.value = "";
			search.dispatchEvent(new Event("input"));
		}
	});
	$("reset-zoom").addEventListener("click", () => zoomTo(0, true));

	const fl = $("flame");
	fl.addEventListener("mousemove", onFlameMove);
	fl.addEventListener("mouseleave", () => {
		$("tooltip").hidden = true;
		view.hover = -1;
	});
	fl.addEventListener("click", onFlameClick);
	$("top-table").addEventListener("click", onTableClick);
	$("top-table").addEventListener("keydown", (ev) => {
		if ((ev.key === "Enter" || ev.key === " ") && ev.target.closest("th")) {
			ev.preventDefault();
			onTableClick(ev);
		}
	});

	const tl = $("timeline");
	tl.addEventListener("pointerdown", onTimelineDown);
	tl.addEventListener("pointermove", onTimelineMove);
	tl.addEventListener("pointerup", onTimelineUp);
	tl.addEventListener("pointercancel", () => {
		drag.active = false;
		drawTimeline();
	});

	let resizeQueued = false;
	window.addEventListener("resize", () => {
		if (resizeQueued)
			return;
		resizeQueued = true;
		requestAnimationFrame(() => {
			resizeQueued = false;
			drawFlame();
			drawTimeline();
		});
	});
	window.addEventListener("popstate", () => {
		state = readURL();
		syncControls();
		loadAll();
	});
}

// What the browser tests read: the state, the zoom, per-frame facts
// (geometry, diff status and colour) and the timings of the last load.
window.__smolder = {
	get state() {
		return { ...state };
	},
	get zoomPath() {
		return model ? pathOf(model, view.zoom) : [];
	},
	get done() {
		return done;
	},
	get timings() {
		return { ...timings, lastDrawMs: view.lastDrawMs };
	},
	get frames() {
		return model ? model.n : 0;
	},
	// The widest frame named `name`: where it is drawn (CSS px in the flame
	// canvas; null when not drawn), its values and its diff status.
	frame(name) {
		const m = model;
		const k = m ? nameIndex(m, name) : -1;
		if (k < 0)
			return null;
		const i = m.best[k];
		let box = null;
		for (let h = 0; h < m.hits; h++)
			if (m.hitIdx[h] === i)
				box = { x: m.hitX[h], y: m.depth[i] * ROW_H, width: m.hitW[h], height: ROW_H - 1 };
		return {
			index: i, name, kind: KIND_NAMES[m.kind[i]] ?? String(m.kind[i]),
			value: m.value[i], base: m.diff ? m.base[i] : null,
			share: m.value[i] * m.fv, baseShare: m.diff ? m.base[i] * m.fb : null,
			status: statusOf(m, i), color: frameColor(m, i), matched: matched(m, i),
			box, label: box ? fitLabel(name, box.width > 2 ? box.width - 1 : box.width) : null,
		};
	},
	// The flame canvas's colour at CSS pixel (x, y).
	pixel(x, y) {
		const cv = $("flame");
		const s = cv.width / (parseFloat(cv.style.width) || cv.width || 1);
		const d = cv.getContext("2d").getImageData(Math.floor(x * s), Math.floor(y * s), 1, 1).data;
		return [d[0], d[1], d[2], d[3]];
	},
};

bind();
syncControls();
loadAll();
