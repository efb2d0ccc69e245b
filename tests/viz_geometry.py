"""Geometry checks on an SVG drawn by symnorm's built-in renderer: node boxes that overlap,
edge samples inside a box other than the edge's own two ends, label lines wider than their
box.  Read from the SVG text itself (xml.etree), so they check what a viewer draws."""
import math
import re
import xml.etree.ElementTree as ET

import numpy as np

NS = "{http://www.w3.org/2000/svg}"
# conservative width of one character: the renderer asks for a monospace font (0.6em)
CHAR_EM = 0.6


def nodes(root):
    """{name: (x0, y0, x1, y1, shape element, [text lines], font size)}"""
    size = float(root.get("font-size"))
    out = {}
    for g in root.iter(NS + "g"):
        if g.get("class") != "node":
            continue
        rect, ell = g.find(NS + "rect"), g.find(NS + "ellipse")
        if rect is not None:
            x, y = float(rect.get("x")), float(rect.get("y"))
            box = (x, y, x + float(rect.get("width")), y + float(rect.get("height")))
            shape = ("rect", box)
        else:
            cx, cy, rx, ry = (float(ell.get(k)) for k in ("cx", "cy", "rx", "ry"))
            box = (cx - rx, cy - ry, cx + rx, cy + ry)
            shape = ("ellipse", (cx, cy, rx, ry))
        lines = [(float(t.get("x")), float(t.get("y")), t.text or "") for t in g.findall(NS + "text")]
        out[g.get("data-name")] = (box, shape, lines, size)
    return out


def sample_path(d, steps=24):
    """Points along an SVG path of M, L and C commands (absolute)."""
    toks = re.findall(r"[MLC]|-?[\d.]+", d)
    pts, cur, i = [], None, 0
    while i < len(toks):
        cmd = toks[i]
        if cmd in "ML":
            p = (float(toks[i + 1]), float(toks[i + 2]))
            if cmd == "L":
                pts += [(cur[0] + (p[0] - cur[0]) * t / steps, cur[1] + (p[1] - cur[1]) * t / steps)
                        for t in range(steps + 1)]
            cur, i = p, i + 3
        else:
            c = [float(v) for v in toks[i + 1:i + 7]]
            p0, p1, p2, p3 = cur, c[0:2], c[2:4], c[4:6]
            for k in range(steps + 1):
                t = k / steps
                a, b, cc, dd = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t ** 3
                pts.append((a * p0[0] + b * p1[0] + cc * p2[0] + dd * p3[0],
                            a * p0[1] + b * p1[1] + cc * p2[1] + dd * p3[1]))
            cur, i = tuple(p3), i + 7
    return pts


def problems(svg_text):
    """(overlapping node pairs, edge samples inside a foreign box, labels wider than their box)."""
    root = ET.fromstring(svg_text)
    ns = nodes(root)
    items = sorted(ns.items(), key=lambda kv: kv[1][0][0])
    overlaps = []
    for i, (a, (ba, *_)) in enumerate(items):          # sweep along x
        for b, (bb, *_) in items[i + 1:]:
            if bb[0] >= ba[2]:
                break
            if ba[1] < bb[3] and bb[1] < ba[3]:
                overlaps.append((a, b))
    through = []
    names = list(ns)
    boxes = np.array([ns[n][0] for n in names]) + np.array([0.5, 0.5, -0.5, -0.5])
    for p in root.iter(NS + "path"):
        if p.get("class") != "edge":
            continue
        own = {p.get("data-src"), p.get("data-dst")}
        pts = np.array(sample_path(p.get("d")))
        inside = ((boxes[None, :, 0] < pts[:, None, 0]) & (pts[:, None, 0] < boxes[None, :, 2]) &
                  (boxes[None, :, 1] < pts[:, None, 1]) & (pts[:, None, 1] < boxes[None, :, 3]))
        for k in np.flatnonzero(inside.any(axis=0)):
            if names[k] not in own:
                through.append((p.get("data-src"), p.get("data-dst"), names[k]))
    wide = []
    for name, (box, shape, lines, size) in ns.items():
        for x, y, s in lines:
            half = len(s) * CHAR_EM * size / 2
            top, bottom = y - size * 0.8, y + size * 0.25     # ascent and descent
            corners = [(x - half, top), (x + half, top), (x - half, bottom), (x + half, bottom)]
            if shape[0] == "rect":
                x0, y0, x1, y1 = shape[1]
                ok = all(x0 < cx < x1 and y0 < cy < y1 for cx, cy in corners)
            else:
                ex, ey, rx, ry = shape[1]
                ok = all(((cx - ex) / rx) ** 2 + ((cy - ey) / ry) ** 2 < 1 for cx, cy in corners)
            if not ok:
                wide.append((name, s))
    return overlaps, sorted(set(through)), wide
