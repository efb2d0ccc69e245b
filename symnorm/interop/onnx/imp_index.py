"""Import of the ONNX ops that map onto the parity issue's part A ops: Sum (add_n), Tile,
Expand (broadcast_to), ArgMax/ArgMin, TopK, Where, Pad and Size.  What symnorm's ops do
not express (broadcasting Sum/Where, TopK with a computed k, ArgMax's last-index ties,
Pad of axes MXNet's Pad leaves alone) raises ``OnnxImportError`` naming the node."""
from __future__ import annotations

import numpy as np

from symnorm import sym as S
from .tables import table

IMPORTERS, imports = table()


def _same_shapes(ctx, what: str):
    shapes = [ctx.shape(i) for i in range(len(ctx.node.input))]
    if any(s is None for s in shapes) or len(set(map(tuple, shapes))) != 1:
        ctx.fail("%s of inputs with different or unknown shapes %s (broadcasting) is not "
                 "supported" % (what, shapes))


@imports("Sum")
def sum_(ctx, node):
    n = len(node.input)
    if n == 1:
        return [ctx.sym(0)]
    _same_shapes(ctx, "Sum")
    return [S.add_n(*[ctx.sym(i) for i in range(n)], num_args=n, name=ctx.name)]


@imports("Tile")
def tile(ctx, node):
    reps = tuple(int(r) for r in ctx.need_const(1, "repeats"))
    return [S.tile(ctx.sym(0), reps=reps, name=ctx.name)]


@imports("Expand")
def expand(ctx, node):
    """ONNX broadcasts the input and the shape both ways: the result's shape is known."""
    shape = ctx.shape(0)
    target = tuple(int(d) for d in ctx.need_const(1, "shape"))
    if shape is None or None in shape:
        ctx.fail("Expand of a tensor whose shape is not static (%s)" % (shape,))
    out = np.broadcast_shapes(tuple(shape), target)
    x = ctx.sym(0)
    if len(out) > len(shape):
        x = S.reshape(x, shape=(1,) * (len(out) - len(shape)) + tuple(shape))
    return [S.broadcast_to(x, shape=tuple(out), name=ctx.name)]


def _arg(make):
    def convert(ctx, node):
        a = ctx.attrs()
        if a.get("select_last_index", 0):
            ctx.fail("select_last_index=1 is not supported (MXNet takes the first extreme)")
        return [make(ctx.sym(0), axis=int(a.get("axis", 0)), keepdims=bool(a.get("keepdims", 1)),
                     name=ctx.name)]
    return convert


IMPORTERS["ArgMax"] = _arg(S.argmax)
IMPORTERS["ArgMin"] = _arg(S.argmin)


@imports("TopK")
def topk(ctx, node):
    a = ctx.attrs()
    k = int(ctx.need_const(1, "K").reshape(-1)[0])
    if not a.get("sorted", 1):
        ctx.fail("sorted=0 is not supported")
    both = S.topk(ctx.sym(0), k=k, axis=int(a.get("axis", -1)), ret_typ="both",
                  is_ascend=not a.get("largest", 1), dtype="int64", name=ctx.name)
    return [both[0], both[1]]


@imports("Where")
def where(ctx, node):
    """Same shapes, or a condition choosing whole rows ((N, 1, ...) against (N, ...): MXNet's
    1-d condition)."""
    cond, x, y = (ctx.shape(i) for i in range(3))
    if cond is not None and x is not None and tuple(x) == tuple(y or ()) and tuple(cond) != tuple(x) \
            and len(cond) == len(x) and cond[0] == x[0] and all(d == 1 for d in cond[1:]):
        rows = S.reshape(ctx.sym(0), shape=(int(cond[0]),))
        return [S.where(rows, ctx.sym(1), ctx.sym(2), name=ctx.name)]
    _same_shapes(ctx, "Where")
    return [S.where(ctx.sym(0), ctx.sym(1), ctx.sym(2), name=ctx.name)]


@imports("Pad")
def pad(ctx, node):
    a = ctx.attrs()
    mode = a.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    pads = [int(p) for p in (ctx.need_const(1, "pads") if ctx.has(1) else a.get("pads"))]
    value = ctx.const(2) if ctx.has(2) else None
    n = len(pads) // 2
    if ctx.has(3):
        ctx.fail("Pad with axes is not supported")
    if n not in (4, 5) or any(pads[i] or pads[n + i] for i in range(2)) or min(pads) < 0:
        ctx.fail("only non-negative padding of the spatial axes of 4-d and 5-d data is supported "
                 "(MXNet's Pad), got pads %s" % pads)
    width = tuple(p for i in range(n) for p in (pads[i], pads[n + i]))
    return [S.Pad(ctx.sym(0), mode=mode, pad_width=width,
                  constant_value=0.0 if value is None else float(np.asarray(value).reshape(-1)[0]),
                  name=ctx.name)]


@imports("Size")
def size(ctx, node):
    """Folded to a constant from the static shape, as Shape is."""
    shape = ctx.shape(0)
    if shape is None or None in shape:
        ctx.fail("Size of a tensor whose shape is not static (%s)" % (shape,))
    return [np.asarray(int(np.prod(shape, dtype=np.int64)), np.int64)]
