// The script embedded in every flame graph smolder draws: zoom, search,
// details and labels. Frames are <g class="f"> elements whose data-s (start)
// and data-v (value) are in sample units and data-d is the depth; pixel
// positions are computed from them, so zooming is exact at any depth.
"use strict";
var svg, frames, details, matchedtext, unzoombtn, searchbtn;
var W, xpad, total, fontsize, fontwidth = 0.59, icicle;
var zoomed = null, searching = null;

function init(evt) {
	svg = document.documentElement;
	W = +svg.getAttribute("width");
	xpad = +svg.dataset.xpad;
	total = +svg.dataset.total;
	fontsize = +svg.dataset.fontsize;
	icicle = svg.dataset.icicle === "1";
	frames = Array.prototype.slice.call(document.querySelectorAll("g.f"));
	details = document.getElementById("details").firstChild;
	matchedtext = document.getElementById("matched");
	unzoombtn = document.getElementById("unzoom");
	searchbtn = document.getElementById("search");
	frames.forEach(function (g) {
		var r = g.querySelector("rect");
		g.dataset.fill = r.getAttribute("fill");
	});
	svg.addEventListener("click", onclick);
	svg.addEventListener("mouseover", onover);
	svg.addEventListener("mouseout", onout);
	window.addEventListener("keydown", onkey);
	var params = new URLSearchParams(document.location.search);
	if (params.get("s")) search(params.get("s"));
	if (params.get("z")) {
		var parts = params.get("z").split(",");
		var g = frames.filter(function (f) {
			return f.dataset.s === parts[0] && f.dataset.d === parts[1];
		})[0];
		if (g) zoom(g);
	}
}

function frameOf(node) {
	while (node && node !== svg) {
		if (node.classList && node.classList.contains("f")) return node;
		node = node.parentNode;
	}
	return null;
}

function nameOf(g) {
	var t = g.querySelector("title").textContent;
	var i = t.lastIndexOf(" (");
	return i > 0 ? t.substring(0, i) : t;
}

function onclick(e) {
	var t = e.target;
	if (t.id === "unzoom" || t.parentNode.id === "unzoom") return unzoom();
	if (t.id === "search" || t.parentNode.id === "search") return searchPrompt();
	var g = frameOf(t);
	if (g && !g.classList.contains("r")) zoom(g);
}

function onover(e) {
	var g = frameOf(e.target);
	if (g) details.nodeValue = g.querySelector("title").textContent;
}

function onout(e) {
	if (frameOf(e.target)) details.nodeValue = " ";
}

function onkey(e) {
	if ((e.ctrlKey && e.keyCode === 70) || e.keyCode === 114) {
		e.preventDefault();
		searchPrompt();
	} else if (e.keyCode === 27) {
		resetSearch();
		unzoom();
	}
}

// Place one frame for the window [ws, ws + wv): shown or hidden.
function place(g, ws, wv, zd) {
	var s = +g.dataset.s, v = +g.dataset.v, d = +g.dataset.d;
	var r = g.querySelector("rect"), txt = g.querySelector("text");
	var scale = (W - 2 * xpad) / wv, x, w;
	if (d < zd && s <= ws && s + v >= ws + wv) {
		// An ancestor of the zoomed frame: full width, dimmed.
		x = xpad;
		w = W - 2 * xpad;
		g.classList.add("parent");
	} else if (d >= zd && s >= ws && s + v <= ws + wv) {
		x = xpad + (s - ws) * scale;
		w = v * scale;
		g.classList.remove("parent");
	} else {
		g.classList.add("hide");
		return;
	}
	g.classList.remove("hide");
	r.setAttribute("x", x.toFixed(1));
	r.setAttribute("width", w.toFixed(1));
	if (txt) {
		txt.setAttribute("x", (x + 3).toFixed(1));
		label(g, txt, w);
	}
}

function label(g, txt, w) {
	var name = nameOf(g);
	var chars = Math.floor(w / (fontsize * fontwidth));
	if (chars < 3) txt.textContent = "";
	else if (name.length > chars) txt.textContent = name.substring(0, chars - 2) + "..";
	else txt.textContent = name;
}

function zoom(g) {
	var ws = +g.dataset.s, wv = +g.dataset.v, zd = +g.dataset.d;
	if (wv <= 0) return;
	zoomed = g;
	frames.forEach(function (f) { place(f, ws, wv, zd); });
	unzoombtn.classList.remove("hide");
	if (searching) search(searching);
}

function unzoom() {
	zoomed = null;
	frames.forEach(function (f) {
		f.classList.remove("parent");
		place(f, 0, total, 0);
	});
	unzoombtn.classList.add("hide");
	if (searching) search(searching);
}

function searchPrompt() {
	if (searching) {
		resetSearch();
		return;
	}
	var term = prompt("Search for (regular expression):", "");
	if (term) search(term);
}

function resetSearch() {
	searching = null;
	frames.forEach(function (f) {
		f.querySelector("rect").setAttribute("fill", f.dataset.fill);
	});
	matchedtext.textContent = " ";
	searchbtn.textContent = "Search";
	searchbtn.classList.remove("show");
}

// Highlight the frames whose name matches, and show the share of the total
// they cover (nested matches counted once).
function search(term) {
	var re;
	try {
		// Smart case: all lower case means case insensitive.
		re = new RegExp(term, term === term.toLowerCase() ? "i" : "");
	} catch (err) {
		matchedtext.textContent = "Bad regular expression";
		return;
	}
	searching = term;
	var spans = [];
	frames.forEach(function (f) {
		var r = f.querySelector("rect");
		if (!f.classList.contains("r") && re.test(nameOf(f))) {
			r.setAttribute("fill", "rgb(230,0,230)");
			spans.push([+f.dataset.s, +f.dataset.s + +f.dataset.v]);
		} else {
			r.setAttribute("fill", f.dataset.fill);
		}
	});
	spans.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });
	var covered = 0, end = -1;
	spans.forEach(function (sp) {
		if (sp[0] >= end) {
			covered += sp[1] - sp[0];
			end = sp[1];
		} else if (sp[1] > end) {
			covered += sp[1] - end;
			end = sp[1];
		}
	});
	var pct = total > 0 ? 100 * covered / total : 0;
	matchedtext.textContent = "Matched: " + pct.toFixed(2) + "%";
	matchedtext.dataset.share = pct.toFixed(4);
	searchbtn.textContent = "Reset Search";
	searchbtn.classList.add("show");
}
