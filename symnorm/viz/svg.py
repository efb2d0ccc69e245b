"""A dependency-free SVG of the graph: the layered layout of ``layout.py`` (inputs at the
bottom, as MXNet/Graphviz draw it), boxes and ovals with MXNet's colours, routed edges with
arrowheads.  Used when Graphviz's ``dot`` is not installed, and by the HTML viewer.

Every name, op name and attribute value comes from a file that may come from anywhere:
all of it goes through ``text``/``attr`` (markup-escaped, quotes included), never raw."""
from __future__ import annotations

import re

from .layout import FONT_FAMILY, FONT_SIZE, LINE_H, layout as _layout
from .model import fmt_shape

# characters XML 1.0 cannot carry at all: shown as U+FFFD instead of breaking the file
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def text(s) -> str:
    """``s`` as XML character data."""
    s = _BAD_XML.sub("\ufffd", str(s))
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def attr(s) -> str:
    """``s`` as the inside of a double-quoted XML attribute (both quotes escaped too)."""
    return text(s).replace('"', "&quot;").replace("'", "&#39;").replace("\n", "&#10;") \
        .replace("\r", "&#13;").replace("\t", "&#9;")


def layout_views(views):
    """The ``Layout`` of view nodes (only edges between drawn nodes)."""
    drawn = {v.key for v in views}
    nodes = [(v.key, v.label, v.op == "null") for v in views]
    edges = [(src.key, index, v.key) for v in views for src, index, _ in v.inputs
             if src.key in drawn]
    return _layout(nodes, edges)


def render_svg(views, title="plot", shape=None, lay=None) -> str:
    """SVG text of the view nodes.  Each node is ``<g class="node" data-name=...>`` with a
    ``<title>`` (the full name and op: the tooltip) and one ``<text>`` per label line; each
    edge a ``<path class="edge" data-src data-dst>``."""
    lay = lay or layout_views(views)
    w, h = lay.width, lay.height
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="%s" font-size="%d">' % (w, h, w, h, FONT_FAMILY, FONT_SIZE),
           "<title>%s</title>" % text(title),
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
           'fill="#444"/></marker></defs>', '<g class="edges">']
    by_key = {v.key: v for v in views}
    labelled = set()
    labels = []
    for r in lay.routes:
        out.append('<path class="edge" data-src="%s" data-dst="%s" d="%s" fill="none" '
                   'stroke="#555" marker-end="url(#arrow)"/>' % (attr(r.src), attr(r.dst), r.path))
        src = by_key[r.src]
        label = fmt_shape(src.shapes[r.index]) if shape and r.index < len(src.shapes) else ""
        if label and (r.src, r.index) not in labelled:      # one shape label per tensor
            labelled.add((r.src, r.index))
            labels.append('<text class="shape" x="%.1f" y="%.1f" fill="#666" font-size="10">%s'
                          '</text>' % (r.start[0] + 4, r.start[1] - 5, text(label)))
    out.append("</g>")
    out.extend(labels)
    for i, v in enumerate(views):
        b = lay.boxes[v.key]
        out.append('<g class="node" id="node-%d" data-name="%s" data-op="%s">'
                   % (i, attr(v.name), attr(v.op)))
        out.append("<title>%s</title>" % text(v.name if v.op == "null" else "%s (%s)" % (v.name, v.op)))
        dash = ' stroke-dasharray="4 3"' if v.role == "aux" or getattr(v, "unknown", False) else ""
        if b.oval:
            out.append('<ellipse cx="%.1f" cy="%.1f" rx="%.1f" ry="%.1f" fill="%s" stroke="#333"%s/>'
                       % (b.x, b.y, b.w / 2, b.h / 2, attr(v.color), dash))
        else:
            out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="3" fill="%s" '
                       'stroke="#333"%s/>' % (b.x - b.w / 2, b.y - b.h / 2, b.w, b.h, attr(v.color), dash))
        n = len(b.lines)
        for k, line in enumerate(b.lines):
            out.append('<text x="%.1f" y="%.1f" text-anchor="middle" style="white-space:pre">%s</text>'
                       % (b.x, b.y + (k - (n - 1) / 2) * LINE_H + FONT_SIZE * 0.35, text(line)))
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)
