"""A layered (Sugiyama) layout with routed edges, used by the built-in SVG renderer and the
HTML viewer, so both draw exactly the same picture.

Orientation is MXNet's: inputs at the bottom, outputs at the top (Graphviz draws the same
from ``plot_network``'s DOT, whose edges run from each op back to its inputs).

Steps, each the textbook one kept small:

1. ranks: longest path from the inputs; an input sits just below its first consumer;
2. every edge spanning more than one rank gets a chain of narrow *dummy* nodes, one per
   rank it crosses, so long and skip edges own a lane of their own and never pass under
   a box;
3. order within ranks: barycentre sweeps up and down, keeping the order with the fewest
   crossings;
4. x: each node pulled towards the mean of its neighbours, the order and minimum gaps
   kept exactly by a weighted isotonic regression (pool-adjacent-violators) per rank;
5. routes: vertical inside a rank's band (where only the node or dummy itself lives),
   cubic curves with vertical tangents between bands (whose y stays inside the empty gap).

Labels use a monospace font so their width is known exactly: a line of ``n`` characters
is at most ``n * CHAR_W`` wide; long names are wrapped at ``_``/``/``/``,`` and shortened
with an ellipsis after ``MAX_LINES`` lines (the full name is in the node's tooltip).

(grandalf, the one maintained pure-Python Sugiyama library, is GPL-2.0/EPL-1.0 and
unreleased since 2023, so it can be neither vendored nor a dependency here.)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

FONT_SIZE = 12
FONT_FAMILY = "DejaVu Sans Mono,Menlo,Consolas,Liberation Mono,monospace"
CHAR_W = 0.62 * FONT_SIZE          # monospace advance is 0.6em; rounded up to be safe
LINE_H = 15
PAD_X, PAD_Y = 8, 7
MIN_W, MAX_W, MIN_H = 110, 220, 38
MAX_LINES = 4
GAP_X, DUMMY_W, GAP_Y, MARGIN = 26, 8, 54, 20
SQRT2 = math.sqrt(2.0)


@dataclass
class Box:
    """A drawn node: centre ``x, y``, size ``w, h``, its label ``lines``, ``oval`` or not."""
    name: str
    x: float = 0.0
    y: float = 0.0
    w: float = MIN_W
    h: float = MIN_H
    lines: list = field(default_factory=list)
    oval: bool = False
    rank: int = 0

    def top_at(self, x) -> float:
        """y where a vertical line at ``x`` enters the shape from above."""
        if not self.oval:
            return self.y - self.h / 2
        dx = min(abs(x - self.x) / (self.w / 2), 1.0)
        return self.y - self.h / 2 * math.sqrt(1 - dx * dx)

    def bottom_at(self, x) -> float:
        return 2 * self.y - self.top_at(x)


@dataclass
class Route:
    """One edge ``src -> dst`` (input -> consumer): an SVG path through ``points``."""
    src: str
    dst: str
    index: int                       # output index of src
    path: str = ""
    start: tuple = (0.0, 0.0)


@dataclass
class Layout:
    """Where everything goes: ``boxes`` (node key -> box), ``routes`` (edge paths), the
    drawing's size, and the crossings left between adjacent ranks."""
    boxes: dict
    routes: list
    width: float
    height: float
    crossings: int = 0               # edge crossings between adjacent ranks (dummies included)


def wrap(text: str, max_chars: int) -> list:
    """``text`` in lines of at most ``max_chars``, broken after ``_ / , - .`` or a space
    where one falls in the second half of a line, else hard."""
    out = []
    while len(text) > max_chars:
        cut = max(text.rfind(c, 0, max_chars) for c in "_/,-. ") + 1
        if cut <= max_chars // 2:
            cut = max_chars
        out.append(text[:cut])
        text = text[cut:]
    out.append(text)
    return out


def fit_label(label: str, oval: bool):
    """(lines, w, h): the label wrapped to fit a box (or the box inscribed in an oval)."""
    inner = (MAX_W / SQRT2 if oval else MAX_W) - 2 * PAD_X
    max_chars = max(4, int(inner // CHAR_W))
    lines = []
    for part in (label.split("\n") or [""]):
        lines.extend(wrap(part, max_chars))
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES]
        lines[-1] = lines[-1][:max_chars - 1] + "\u2026"
    tw = max(len(s) for s in lines) * CHAR_W + 2 * PAD_X
    th = len(lines) * LINE_H + 2 * PAD_Y
    if oval:            # the text's rectangle inscribed in the ellipse (corners at 45 degrees)
        tw, th = tw * SQRT2, th * SQRT2
    return lines, max(MIN_W, math.ceil(tw)), max(MIN_H, math.ceil(th))


def _ranks(names, preds, succs):
    rank = {}
    for n in names:                  # names come in topological (DFS post-) order
        rank[n] = 1 + max((rank[p] for p in preds[n]), default=-1)
    for n in names:
        if not preds[n] and succs[n]:
            rank[n] = min(rank[s] for s in succs[n]) - 1
    return rank


def _crossings(lower_pos, upper_pos, edges):
    """Crossings between two adjacent ranks: inversions among edge end positions."""
    pairs = sorted((lower_pos[a], upper_pos[b]) for a, b in edges)
    tree = [0] * (len(upper_pos) + 2)
    count = seen = 0
    for _, u in pairs:
        i, le = u + 1, 0
        while i > 0:
            le += tree[i]
            i -= i & -i
        count += seen - le
        seen += 1
        i = u + 1
        while i < len(tree):
            tree[i] += 1
            i += i & -i
    return count


def _isotonic(targets, weights, gaps):
    """x minimising sum w (x - t)^2 subject to x[i+1] - x[i] >= gaps[i] (order kept)."""
    offs = [0.0]
    for g in gaps:
        offs.append(offs[-1] + g)
    blocks = []                      # [weighted sum, weight, count]
    for t, w, o in zip(targets, weights, offs):
        blocks.append([w * (t - o), w, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            s, w2, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += w2
            blocks[-1][2] += c
    out = []
    for s, w, c in blocks:
        out.extend([s / w] * c)
    return [y + o for y, o in zip(out, offs)]


def layout(nodes, edges) -> Layout:
    """Lay out ``nodes`` -- ``(name, label, oval)`` in topological order -- and ``edges``
    -- ``(src, output index, dst)`` from an input to its consumer."""
    names = [n for n, _, _ in nodes]
    boxes = {}
    for name, label, oval in nodes:
        lines, w, h = fit_label(label, oval)
        boxes[name] = Box(name, w=w, h=h, lines=lines, oval=oval)
    preds = {n: [] for n in names}
    succs = {n: [] for n in names}
    for s, _, d in edges:
        preds[d].append(s)
        succs[s].append(d)
    rank = _ranks(names, preds, succs)
    if not names:
        return Layout({}, [], 2 * MARGIN, 2 * MARGIN)
    top = max(rank.values())
    # -- dummies: each edge becomes a chain of ranked vertices
    width = {n: boxes[n].w for n in names}
    up, down = {n: [] for n in names}, {n: [] for n in names}
    chains = []
    for k, (s, idx, d) in enumerate(edges):
        chain = [s]
        for r in range(rank[s] + 1, rank[d]):
            v = (k, r)                                  # a dummy: never a name (str)
            rank[v], width[v] = r, DUMMY_W
            up[v], down[v] = [], []
            chain.append(v)
        chain.append(d)
        for a, b in zip(chain, chain[1:]):
            up[a].append(b)
            down[b].append(a)
        chains.append(chain)
    layers = [[] for _ in range(top + 1)]
    first = {n: i for i, n in enumerate(names)}
    for v in list(names) + [v for c in chains for v in c[1:-1]]:
        layers[rank[v]].append(v)
    # -- order: initial by barycentre of the rank below, then sweeps
    layers[0].sort(key=lambda v: first.get(v, 0))

    def sweep(r, nbrs):
        pos = {v: i for i, v in enumerate(layers[r + (-1 if nbrs is down else 1)])}
        cur = {v: i for i, v in enumerate(layers[r])}

        def key(v):
            ps = [pos[u] for u in nbrs[v]]
            return sum(ps) / len(ps) if ps else cur[v]
        layers[r].sort(key=key)

    def total_crossings():
        c = 0
        for r in range(top):
            lp = {v: i for i, v in enumerate(layers[r])}
            upos = {v: i for i, v in enumerate(layers[r + 1])}
            c += _crossings(lp, upos, [(a, b) for a in layers[r] for b in up[a]])
        return c

    for r in range(1, top + 1):
        layers[r].sort(key=lambda v: first.get(v, first.get(chains[v[0]][0], 0)) if isinstance(v, tuple)
                       else first[v])
        sweep(r, down)
    best, best_c = [list(l) for l in layers], total_crossings()
    for _ in range(6):
        for r in range(top - 1, -1, -1):
            sweep(r, up)
        for r in range(1, top + 1):
            sweep(r, down)
        c = total_crossings()
        if c < best_c:
            best, best_c = [list(l) for l in layers], c
        if c == 0:
            break
    layers = best
    # -- x: pulled to neighbours' mean, order and gaps kept by isotonic regression
    x = {}
    for layer in layers:
        cx = 0.0
        for v in layer:
            x[v] = cx + width[v] / 2
            cx += width[v] + GAP_X

    def gap(a, b):
        g = GAP_X if isinstance(a, str) or isinstance(b, str) else DUMMY_W
        return (width[a] + width[b]) / 2 + g

    for it in range(12):
        order = range(top + 1) if it % 2 == 0 else range(top, -1, -1)
        for r in order:
            layer = layers[r]
            targets, weights = [], []
            for v in layer:
                ns = up[v] + down[v]
                targets.append(sum(x[u] for u in ns) / len(ns) if ns else x[v])
                weights.append(4.0 if isinstance(v, tuple) else 1.0)   # straighten long edges
            xs = _isotonic(targets, weights, [gap(a, b) for a, b in zip(layer, layer[1:])])
            for v, xv in zip(layer, xs):
                x[v] = xv
    # -- straighten: a long edge's dummies, and a simple chain (one in, one out), share one
    # x where every rank they cross leaves room (checked against the current neighbours)
    index = {v: (r, i) for r, layer in enumerate(layers) for i, v in enumerate(layer)}

    def room(v):
        r, i = index[v]
        layer = layers[r]
        lo = x[layer[i - 1]] + gap(layer[i - 1], v) if i > 0 else -math.inf
        hi = x[layer[i + 1]] - gap(v, layer[i + 1]) if i + 1 < len(layer) else math.inf
        return lo, hi

    def align(group, want):
        lo = max(room(v)[0] for v in group)
        hi = min(room(v)[1] for v in group)
        if lo <= hi:
            for v in group:
                x[v] = min(max(want, lo), hi)

    for chain in chains:
        dummies = chain[1:-1]
        if dummies:
            xs = sorted(x[v] for v in dummies)
            align(dummies, xs[len(xs) // 2])
    for n in names:                      # bottom to top along simple chains
        if len(down[n]) == 1 and len(up[down[n][0]]) == 1:
            align([n], x[down[n][0]])
    shift = MARGIN - min(x[v] - width[v] / 2 for v in x)
    for v in x:
        x[v] += shift
    # -- y: rank 0 at the bottom; each band as tall as its tallest box
    band = [max([boxes[v].h for v in l if isinstance(v, str)], default=MIN_H) for l in layers]
    yc, y = [0.0] * (top + 1), MARGIN
    for r in range(top, -1, -1):
        yc[r] = y + band[r] / 2
        y += band[r] + GAP_Y
    height = y - GAP_Y + MARGIN
    for n in names:
        b = boxes[n]
        b.x, b.y, b.rank = x[n], yc[rank[n]], rank[n]
    # -- ports: a node's edges leave its top and enter its bottom spread in neighbour order
    out_port, in_port = {}, {}
    for n in names:
        b = boxes[n]
        span = min(b.w / (3 if b.oval else 1.6), 12 * (len(up[n]) - 1))
        outs = sorted(range(len(up[n])), key=lambda i: x[up[n][i]])
        for j, i in enumerate(outs):
            out_port[(n, i)] = b.x - span / 2 + (span * j / (len(outs) - 1) if len(outs) > 1 else span / 2)
        span = min(b.w / (3 if b.oval else 1.6), 12 * (len(down[n]) - 1))
        ins = sorted(range(len(down[n])), key=lambda i: x[down[n][i]])
        for j, i in enumerate(ins):
            in_port[(n, i)] = b.x - span / 2 + (span * j / (len(ins) - 1) if len(ins) > 1 else span / 2)
    used_out = {n: 0 for n in names}
    used_in = {n: 0 for n in names}
    routes = []
    for (s, idx, d), chain in zip(edges, chains):
        # which of s's up-links / d's down-links this edge is (edges were appended in order)
        i_out = used_out[s]
        used_out[s] += 1
        i_in = used_in[d]
        used_in[d] += 1
        sb, db = boxes[s], boxes[d]
        x0 = out_port[(s, i_out)]
        pts = [(x0, sb.top_at(x0)), (x0, yc[sb.rank] - band[sb.rank] / 2)]
        for v in chain[1:-1]:
            r = rank[v]
            pts.append((x[v], yc[r] + band[r] / 2))
            pts.append((x[v], yc[r] - band[r] / 2))
        x1 = in_port[(d, i_in)]
        pts.append((x1, yc[db.rank] + band[db.rank] / 2))
        pts.append((x1, db.bottom_at(x1)))
        d_attr = ["M %.1f %.1f" % pts[0], "L %.1f %.1f" % pts[1]]
        for k in range(1, len(pts) - 1, 2):       # gap hop (curve), then band (straight)
            (xa, ya), (xb, yb) = pts[k], pts[k + 1]
            ym = (ya + yb) / 2
            d_attr.append("C %.1f %.1f %.1f %.1f %.1f %.1f" % (xa, ym, xb, ym, xb, yb))
            d_attr.append("L %.1f %.1f" % pts[k + 2])
        routes.append(Route(s, d, idx, " ".join(d_attr), pts[1]))
    total_w = max(x[v] + width[v] / 2 for v in x) + MARGIN
    return Layout(boxes, routes, total_w, height, best_c)
