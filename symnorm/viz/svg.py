"""A dependency-free SVG of the graph: layers from networkx's topological generations,
boxes and ovals with MXNet's colours, straight edges with arrowheads.  Used when
Graphviz's ``dot`` is not installed, and by the HTML viewer."""
from __future__ import annotations

from xml.sax.saxutils import escape

from .model import fmt_shape

W, H, GAP_X, GAP_Y, PAD = 130, 56, 30, 44, 20


def layout(views):
    """{name: (x, y)} centres: one row per topological generation, inputs at the top."""
    import networkx as nx        # imported on use, like every networkx use in symnorm
    g = nx.DiGraph()
    g.add_nodes_from(v.name for v in views)
    names = {v.name for v in views}
    for v in views:
        for src, _, _ in v.inputs:
            if src.name in names:
                g.add_edge(src.name, v.name)
    level = {}
    for y, gen in enumerate(nx.topological_generations(g)):
        for name in gen:
            level[name] = y
    for name in level:              # an input sits just above its first consumer
        succ = [level[s] for s in g.successors(name)]
        if g.in_degree(name) == 0 and succ:
            level[name] = min(succ) - 1
    order = [v.name for v in views]
    pos, rows = {}, {}
    for name in sorted(level, key=order.index):
        y = level[name]
        pos[name] = (len(rows.setdefault(y, [])), y)
        rows[y].append(name)
    width = max((x for x, _ in pos.values()), default=0) + 1
    out = {}
    for name, (x, y) in pos.items():
        row = [n for n, (_, yy) in pos.items() if yy == y]
        offset = (width - len(row)) * (W + GAP_X) / 2
        out[name] = (PAD + offset + x * (W + GAP_X) + W / 2, PAD + y * (H + GAP_Y) + H / 2)
    return out


def render_svg(views, title="plot", shape=None) -> str:
    """SVG text of the view nodes, laid out by ``layout``."""
    pos = layout(views)
    if not pos:
        return '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'
    width = max(x for x, _ in pos.values()) + W / 2 + PAD
    height = max(y for _, y in pos.values()) + H / 2 + PAD
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="Helvetica,Arial,sans-serif" font-size="12">' % (width, height, width, height),
           "<title>%s</title>" % escape(title),
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
           'fill="#444"/></marker></defs>']
    for v in views:
        x2, y2 = pos[v.name]
        for src, index, _ in v.inputs:
            if src.name not in pos:
                continue
            x1, y1 = pos[src.name]
            out.append('<line class="edge" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#444" '
                       'marker-end="url(#arrow)"/>' % (x1, y1 + H / 2, x2, y2 - H / 2))
            label = fmt_shape(src.shapes[index]) if shape else ""
            if label:
                out.append('<text x="%.1f" y="%.1f" fill="#555" font-size="10">%s</text>'
                           % ((x1 + x2) / 2 + 4, (y1 + y2) / 2, escape(label)))
    for v in views:
        x, y = pos[v.name]
        out.append('<g class="node" id="node-%s" data-name="%s">' % (escape(v.name), escape(v.name)))
        out.append("<title>%s</title>" % escape(v.name))
        if v.op == "null":
            dash = ' stroke-dasharray="4 3"' if v.role == "aux" else ""
            out.append('<ellipse cx="%.1f" cy="%.1f" rx="%d" ry="%d" fill="%s" stroke="#333"%s/>'
                       % (x, y, W / 2, H / 2, v.color, dash))
        else:
            out.append('<rect x="%.1f" y="%.1f" width="%d" height="%d" fill="%s" stroke="#333"/>'
                       % (x - W / 2, y - H / 2, W, H, v.color))
        lines = v.label.split("\n")
        for i, text in enumerate(lines):
            out.append('<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>'
                       % (x, y + (i - (len(lines) - 1) / 2) * 14 + 4, escape(text)))
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)
