"""``to_html``: one self-contained HTML file (no network, no external script) with the graph
drawn by the built-in renderer (the same layered layout as the SVG), opened fitted to the
window, with pan and zoom, fit/zoom buttons, a search box, a legend of the op colours,
keyboard shortcuts, and each node's op, params, shapes and parameter counts on click (or on
load with ``page.html#node=<name>``).

Names come from files that may come from anywhere: they reach the page only escaped (SVG
and HTML text and attributes) or as JSON inside the script with ``<``, ``>`` and ``&``
written as ``\\u003c``... escapes, and the script puts them into the page with
``textContent``, never ``innerHTML``."""
from __future__ import annotations

import json

from ..core.fileio import atomic_write
from .model import describe
from .svg import attr, layout_views, render_svg, text

_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>%(title)s</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
html, body { margin: 0; height: 100%%; }
body { font-family: Helvetica, Arial, sans-serif; display: flex; font-size: 13px; }
#view { flex: 1; position: relative; overflow: hidden; cursor: grab; background: #fafafa; }
#view > svg { width: 100%%; height: 100%%; display: block; }
#bar { position: absolute; top: 8px; left: 8px; display: flex; gap: 4px; }
#bar button { min-width: 30px; } #search { width: 220px; } #hits { align-self: center; color: #666; }
#panel { width: 320px; padding: 12px; border-left: 1px solid #ccc; overflow: auto; }
#panel table { border-collapse: collapse; } #panel td { padding: 2px 6px; vertical-align: top;
  word-break: break-all; } #panel td:first-child { white-space: nowrap; word-break: normal; color: #555; }
#legend span.swatch { display: inline-block; width: 12px; height: 12px; border: 1px solid #333;
  margin-right: 6px; vertical-align: middle; }
#legend div { margin: 2px 0; } kbd { border: 1px solid #bbb; border-radius: 3px; padding: 0 3px; }
g.node { cursor: pointer; }
g.node.selected rect, g.node.selected ellipse { stroke: #d00; stroke-width: 3; }
g.node.hit rect, g.node.hit ellipse { stroke: #06c; stroke-width: 3; }
</style></head>
<body><div id="view">%(svg)s
<div id="bar"><input id="search" type="search" placeholder="find a node (/)" list="names"
 autocomplete="off"><datalist id="names">%(options)s</datalist>
<button id="fit" title="fit the graph to the window (F)">Fit</button>
<button id="zoomin" title="zoom in (+)">+</button><button id="zoomout" title="zoom out (-)">&#8722;</button>
<span id="hits"></span></div></div>
<div id="panel"><h3>%(title)s</h3>
<p>Click a node for its details; drag to pan, wheel to zoom. Keys: <kbd>/</kbd> search,
<kbd>Enter</kbd> next match, <kbd>F</kbd> fit, <kbd>+</kbd>/<kbd>-</kbd> zoom, <kbd>Esc</kbd> clear.</p>
<div id="info"></div><h4>Legend</h4><div id="legend">%(legend)s</div>%(unknown)s</div>
<script>
"use strict";
const NODES = new Map(%(nodes)s);
const view = document.getElementById('view');
const svg = view.querySelector('svg');
const full = svg.viewBox.baseVal;
const FULL = {x: full.x, y: full.y, w: full.width, h: full.height};
let vb = Object.assign({}, FULL), drag = null, hits = [], hitAt = -1;
function apply() { svg.setAttribute('viewBox', `${vb.x} ${vb.y} ${vb.w} ${vb.h}`); }
function units() { return Math.max(vb.w / view.clientWidth, vb.h / view.clientHeight); }
function fit() { vb = Object.assign({}, FULL); apply(); }
function zoom(f, px, py) {            // f > 1 zooms in, about the pixel (px, py) of the view
  const u = units(), cx = vb.x + vb.w / 2 + (px - view.clientWidth / 2) * u,
        cy = vb.y + vb.h / 2 + (py - view.clientHeight / 2) * u;
  vb.x = cx - (cx - vb.x) / f; vb.y = cy - (cy - vb.y) / f; vb.w /= f; vb.h /= f; apply();
}
function centre(g, minw) {
  const b = g.getBBox(), w = Math.max(minw, b.width * 3);
  const h = w * view.clientHeight / Math.max(1, view.clientWidth);
  vb = {x: b.x + b.width / 2 - w / 2, y: b.y + b.height / 2 - h / 2, w: w, h: h}; apply();
}
view.addEventListener('wheel', e => { e.preventDefault();
  const r = view.getBoundingClientRect();
  zoom(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - r.left, e.clientY - r.top); }, {passive: false});
view.addEventListener('mousedown', e => { if (e.target.closest('#bar')) return;
  drag = [e.clientX, e.clientY, vb.x, vb.y]; });
window.addEventListener('mouseup', () => { drag = null; });
window.addEventListener('mousemove', e => { if (!drag) return; const u = units();
  vb.x = drag[2] - (e.clientX - drag[0]) * u; vb.y = drag[3] - (e.clientY - drag[1]) * u; apply(); });
const groups = Array.from(svg.querySelectorAll('g.node'));
const byName = new Map(groups.map(g => [g.getAttribute('data-name'), g]));
function row(table, key, values) {
  const tr = table.insertRow(), k = tr.insertCell(), v = tr.insertCell();
  k.textContent = key;
  [].concat(values).forEach((s, i) => { if (i) v.appendChild(document.createElement('br'));
                                         v.appendChild(document.createTextNode(String(s))); });
}
function show(name) {
  const n = NODES.get(name); if (!n) return false;
  groups.forEach(g => g.classList.toggle('selected', g.getAttribute('data-name') === name));
  const table = document.createElement('table');
  row(table, 'name', name); row(table, 'op', n.op);
  for (const [k, v] of n.params) row(table, k, v);
  row(table, 'inputs', n.inputs); row(table, 'output shapes', n.outputs);
  row(table, 'params', n.param_count); row(table, 'aux states', n.aux_count);
  const info = document.getElementById('info'); info.textContent = ''; info.appendChild(table);
  return true;
}
function select(name) { if (show(name) && byName.has(name)) centre(byName.get(name), 600); }
groups.forEach(g => g.addEventListener('click', e => { e.stopPropagation();
  show(g.getAttribute('data-name')); }));
const search = document.getElementById('search'), hitsLabel = document.getElementById('hits');
function find(q) {       // an exact name first, then every name containing q (any case)
  groups.forEach(g => g.classList.remove('hit'));
  q = q.trim(); if (!q) { hits = []; hitsLabel.textContent = ''; return; }
  const low = q.toLowerCase();
  hits = groups.filter(g => g.getAttribute('data-name') === q)
    .concat(groups.filter(g => g.getAttribute('data-name') !== q &&
                               g.getAttribute('data-name').toLowerCase().includes(low)));
  hits.forEach(g => g.classList.add('hit'));
  hitsLabel.textContent = hits.length ? `${hits.length} found` : 'not found';
  hitAt = -1;
}
function next() { if (!hits.length) return; hitAt = (hitAt + 1) %% hits.length;
  select(hits[hitAt].getAttribute('data-name'));
  hitsLabel.textContent = `${hitAt + 1} of ${hits.length}`; }
search.addEventListener('input', () => { find(search.value); if (hits.length) next(); });
search.addEventListener('keydown', e => { e.stopPropagation();
  if (e.key === 'Enter') next(); else if (e.key === 'Escape') { search.value = ''; find(''); search.blur(); } });
document.getElementById('fit').addEventListener('click', fit);
document.getElementById('zoomin').addEventListener('click', () => zoom(1.25, view.clientWidth / 2, view.clientHeight / 2));
document.getElementById('zoomout').addEventListener('click', () => zoom(0.8, view.clientWidth / 2, view.clientHeight / 2));
window.addEventListener('keydown', e => {
  if (e.target === search || e.ctrlKey || e.metaKey || e.altKey) return;
  const w = view.clientWidth / 2, h = view.clientHeight / 2;
  if (e.key === '/') { e.preventDefault(); search.focus(); }
  else if (e.key === 'f' || e.key === 'F' || e.key === '0') fit();
  else if (e.key === '+' || e.key === '=') zoom(1.25, w, h);
  else if (e.key === '-' || e.key === '_') zoom(0.8, w, h);
  else if (e.key === 'Escape') { groups.forEach(g => g.classList.remove('selected', 'hit'));
                                 document.getElementById('info').textContent = ''; }
});
window.addEventListener('resize', apply);
fit();
// deep link: page.html#node=<name> opens with that node selected
const link = /node=([^&]+)/.exec(location.hash);
if (link) { try { select(decodeURIComponent(link[1])); } catch (err) { /* a malformed link */ } }
</script></body></html>
"""


def _script_json(value) -> str:
    """JSON that cannot end the ``<script>`` or open a comment, whatever the strings hold."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def to_html(symbol, shape=None, path=None, title="symnorm graph", hide_weights=True) -> str:
    """Write (when ``path`` is given) and return the viewer page."""
    views = describe(symbol, dict(shape) if shape else None)
    drawn = [v for v in views if not (hide_weights and v.role in ("param", "aux"))]
    info = []                       # [name, details] pairs: a name is never an object key
    for v in views:
        params = []
        if v.node.op is not None:
            params = [[f.name, str(getattr(v.node.op, f.name))] for f in v.node.op.param_fields()]
        elif getattr(v, "unknown", False) or v.node.attrs:
            params = [[k, str(val)] for k, val in v.node.attrs.items()]
        info.append([v.name, {
            "op": v.op, "params": params,
            "inputs": ["%s: %s %s" % (slot, src.name, src.shapes[idx] if shape else "")
                       for src, idx, slot in v.inputs],
            "outputs": [str(s) for s in v.shapes] if shape else [],
            "param_count": v.params, "aux_count": v.aux}])
    legend, seen = [], set()
    for v in drawn:
        key = (v.op if v.role == "op" else v.role, v.color)
        if key not in seen:
            seen.add(key)
            legend.append('<div><span class="swatch" style="background:%s"></span>%s</div>'
                          % (attr(v.color), text(key[0] if v.role == "op" else
                                                 {"data": "input", "param": "parameter",
                                                  "aux": "aux state"}.get(v.role, v.role))))
    unknown = sorted({v.op for v in views if getattr(v, "unknown", False)})
    page = _PAGE % {
        "title": text(title), "svg": render_svg(drawn, title, shape, layout_views(drawn)),
        "options": "".join('<option value="%s">' % attr(v.name) for v in drawn),
        "legend": "".join(legend), "nodes": _script_json(info),
        "unknown": ('<p class="unknown">Not in the registry (drawn grey, shapes unknown past '
                    'them): %s</p>' % text(", ".join(unknown))) if unknown else ""}
    if path is not None:
        atomic_write(path, page)
    return page
