"""``to_html``: one self-contained HTML file (no network, no external script) with the SVG,
pan and zoom, and each node's op, params, shapes and parameter counts on click (or on load
with ``page.html#node=<name>``)."""
from __future__ import annotations

import json

from ..core.fileio import atomic_write
from .model import describe
from .svg import render_svg

_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>%(title)s</title>
<style>
body { margin: 0; font-family: Helvetica, Arial, sans-serif; display: flex; height: 100vh; }
#view { flex: 1; overflow: hidden; cursor: grab; background: #fafafa; }
#panel { width: 320px; padding: 12px; border-left: 1px solid #ccc; overflow: auto; font-size: 13px; }
#panel table { border-collapse: collapse; } #panel td { padding: 2px 6px; vertical-align: top; }
g.node { cursor: pointer; } g.node.selected rect, g.node.selected ellipse { stroke: #d00; stroke-width: 3; }
</style></head>
<body><div id="view">%(svg)s</div>
<div id="panel"><h3>%(title)s</h3><p>Click a node for its details; drag to pan, wheel to zoom.</p>
<div id="info"></div></div>
<script>
const NODES = %(nodes)s;
const view = document.getElementById('view');
const svg = view.querySelector('svg');
let scale = 1, tx = 0, ty = 0, drag = null;
function apply() { svg.style.transform = `translate(${tx}px, ${ty}px) scale(${scale})`;
                   svg.style.transformOrigin = '0 0'; }
view.addEventListener('wheel', e => { e.preventDefault();
  const f = e.deltaY < 0 ? 1.1 : 1 / 1.1; tx = e.offsetX - (e.offsetX - tx) * f;
  ty = e.offsetY - (e.offsetY - ty) * f; scale *= f; apply(); });
view.addEventListener('mousedown', e => { drag = [e.clientX - tx, e.clientY - ty]; });
window.addEventListener('mouseup', () => { drag = null; });
window.addEventListener('mousemove', e => { if (drag) { tx = e.clientX - drag[0]; ty = e.clientY - drag[1]; apply(); } });
function esc(s) { return String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c])); }
function show(name) {
  const n = NODES[name]; if (!n) return;
  document.querySelectorAll('g.node').forEach(g => g.classList.toggle('selected', g.dataset.name === name));
  let rows = `<tr><td>name</td><td>${esc(name)}</td></tr><tr><td>op</td><td>${esc(n.op)}</td></tr>`;
  for (const [k, v] of Object.entries(n.params)) rows += `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`;
  rows += `<tr><td>inputs</td><td>${n.inputs.map(esc).join('<br>')}</td></tr>`;
  rows += `<tr><td>output shapes</td><td>${n.outputs.map(esc).join('<br>')}</td></tr>`;
  rows += `<tr><td>params</td><td>${n.param_count}</td></tr><tr><td>aux states</td><td>${n.aux_count}</td></tr>`;
  document.getElementById('info').innerHTML = `<table>${rows}</table>`;
}
document.querySelectorAll('g.node').forEach(g => g.addEventListener('click', e => { e.stopPropagation(); show(g.dataset.name); }));
// deep link: page.html#node=<name> opens with that node selected
const hit = /node=([^&]+)/.exec(location.hash);
if (hit) show(decodeURIComponent(hit[1]));
</script></body></html>
"""


def to_html(symbol, shape=None, path=None, title="symnorm graph", hide_weights=True) -> str:
    """Write (when ``path`` is given) and return the viewer page."""
    views = describe(symbol, dict(shape) if shape else None)
    drawn = [v for v in views if not (hide_weights and v.role in ("param", "aux"))]
    info = {}
    for v in views:
        params = {}
        if v.node.op is not None:
            params = {f.name: str(getattr(v.node.op, f.name)) for f in v.node.op.param_fields()}
        info[v.name] = {
            "op": v.op, "params": params,
            "inputs": ["%s: %s %s" % (slot, src.name, src.shapes[idx] if shape else "")
                       for src, idx, slot in v.inputs],
            "outputs": [str(s) for s in v.shapes] if shape else [],
            "param_count": v.params, "aux_count": v.aux}
    page = _PAGE % {"title": title, "svg": render_svg(drawn, title, shape),
                    "nodes": json.dumps(info).replace("</", "<\\/")}
    if path is not None:
        atomic_write(path, page)
    return page
