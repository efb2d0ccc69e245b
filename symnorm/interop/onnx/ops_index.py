"""Export of the ops of the parity issue's part A (make_loss and the like-rhs identity are
with the other identities in ``ops_loss``): casts and constants shaped like an input,
shape queries, broadcasting, slicing, reversing, stacking, tiling, padding, choosing by
condition or index (where, pick, take, batch_take, one_hot), and ordering (argmax, argmin,
topk, sort, argsort).

MXNet takes indices as floats and truncates them toward zero: the export casts them to
int64 (ONNX's Cast truncates too) and applies the op's out-of-range ``mode`` before the
Gather.  Index *outputs* keep MXNet's dtypes (argmax's is the input's), so the int64
results of ArgMax/TopK are cast.  Shapes the op takes from its inputs are read at run time
(Shape, Expand against 1s) wherever the graph may have a dynamic batch axis.
``ONE_WAY`` names the exports whose ONNX ops symnorm's importer does not read back."""
from __future__ import annotations

import numpy as np

from .tables import table

CONVERTERS, converts = table()

INT64_MAX = np.iinfo(np.int64).max

ONE_WAY = {
    # op name -> predicate(op): True when the export uses ONNX ops (or a form of them)
    # symnorm's importer does not read: Gather/GatherElements by computed indices, Where
    # against scalars, ScatterElements; import keeps the values of a computed Cast, so
    # a cast to integers or bool would lose its truncation
    "pick": lambda op: True, "take": lambda op: True, "batch_take": lambda op: True,
    "one_hot": lambda op: True,
    "topk": lambda op: op.ret_typ == "mask",
    "Cast": lambda op: np.dtype(op.dtype).kind in "biu",
    "slice": lambda op: any(s not in (None, 1) for s in op.step or ()),
    "reverse": lambda op: True,                   # Slice with steps -1
}


def _int_index(ctx, ins, slot: int) -> str:
    """Input ``slot``'s indices as int64, floats truncated toward zero as MXNet's
    static_cast (and ONNX's Cast) does."""
    return ins[slot] if ctx.in_dtype(slot) == np.int64 else ctx.cast(ins[slot], np.int64)


def _fixed(ctx, idx, n: int, mode: str) -> str:
    """Out-of-range int64 indices per ``mode``: 'clip' to [0, n), 'wrap' modulo n (Python's
    sign rule, ONNX Mod with fmod=0); 'raise' leaves them to the runtime's own check."""
    if mode == "clip":
        hi = ctx.add1("Min", [idx, ctx.const(np.int64(n - 1), hint="last")])
        return ctx.add1("Max", [hi, ctx.const(np.int64(0), hint="zero")])
    if mode == "wrap":
        return ctx.add1("Mod", [idx, ctx.const(np.int64(n), hint="n")], fmod=0)
    return idx


def _filled(ctx, x, value, dtype) -> str:
    """An array of x's (run-time) shape filled with ``value`` in ``dtype``."""
    fill = ctx.onnx.numpy_helper.from_array(np.array([value], dtype=np.dtype(dtype)), "value")
    return ctx.add1("ConstantOfShape", [ctx.add1("Shape", [x])], value=fill)


# ============================================================ casts, copies, constants

@converts("Cast")
def cast(ctx, node, ins):
    """Floats to integers through int64 (truncation, then the C wrap-around MXNet's
    static_cast gives: -1.7 -> 255 as uint8); to bool is x != 0 (NaN is True), as ONNX's."""
    dtype = np.dtype(node.op.dtype)
    x = ins[0]
    if dtype.kind in "iu" and ctx.in_dtype(0).kind == "f" and dtype != np.int64:
        x = ctx.cast(x, np.int64)
    return [ctx.cast(x, dtype)]


@converts("add_n")
def add_n(ctx, node, ins):
    return [ctx.add1("Sum", list(ins)) if len(ins) > 1 else ctx.add1("Identity", [ins[0]])]


@converts("zeros_like", "ones_like")
def constant_like(ctx, node, ins):
    return [_filled(ctx, ins[0], node.op.fill, ctx.in_dtype(0))]


@converts("shape_array")
def shape_array(ctx, node, ins):
    return [ctx.add1("Shape", [ins[0]])]


@converts("size_array")
def size_array(ctx, node, ins):
    return [ctx.reshape(ctx.add1("Size", [ins[0]]), [1])]     # MXNet's (1,), not ONNX's ()


# ============================================================ shapes

def _expand(ctx, x, in_shape, out_shape) -> str:
    """x broadcast to ``out_shape`` (same rank): Expand against 1s wherever the size is
    kept, so a dynamic batch axis stays the input's."""
    target = [int(o) if i != o else 1 for i, o in zip(in_shape, out_shape)]
    return ctx.add1("Expand", [x, ctx.ints(target, "shape")])


@converts("broadcast_to", "broadcast_axis", "broadcast_like")
def broadcast_to(ctx, node, ins):
    return [_expand(ctx, ins[0], ctx.in_shape(0), ctx.out_shape(0))]


@converts("reshape_like")
def reshape_like(ctx, node, ins):
    target = [int(d) for d in ctx.out_shape(0)]
    if ctx.dynamic and target and ctx.in_shape(0)[:1] == ctx.out_shape(0)[:1]:
        target[0] = 0                   # a kept batch axis is copied, whatever its size
    return [ctx.reshape(ins[0], target)]


@converts("SwapAxis")
def swap_axis(ctx, node, ins):
    ndim = len(ctx.in_shape(0))
    perm = list(range(ndim))
    a, b = node.op.dim1 % ndim, node.op.dim2 % ndim
    perm[a], perm[b] = perm[b], perm[a]
    return [ctx.add1("Transpose", [ins[0]], perm=perm)]


@converts("stack")
def stack(ctx, node, ins):
    ax = node.op.axis % (len(ctx.in_shape(0)) + 1)
    return [ctx.add1("Concat", [ctx.unsqueeze(x, [ax]) for x in ins], axis=ax)]


@converts("tile")
def tile(ctx, node, ins):
    ndim = len(ctx.in_shape(0))
    m, reps = node.op._padded(ndim)
    x = ins[0] if m == ndim else ctx.unsqueeze(ins[0], list(range(m - ndim)))
    return [ctx.add1("Tile", [x, ctx.ints(reps, "repeats")])]


@converts("repeat")
def repeat(ctx, node, ins):
    """Each element ``repeats`` times along the axis: a new axis after it, tiled, merged."""
    op = node.op
    r = int(op.repeats)
    if op.axis is None:
        col = ctx.reshape(ins[0], [-1, 1])
        return [ctx.reshape(ctx.add1("Tile", [col, ctx.ints([1, r], "repeats")]), [-1])]
    shape = ctx.in_shape(0)
    ax = op.axis % len(shape)
    x = ctx.unsqueeze(ins[0], [ax + 1])
    reps = [1] * (len(shape) + 1)
    reps[ax + 1] = r
    tiled = ctx.add1("Tile", [x, ctx.ints(reps, "repeats")])
    target = [0] * ax + [-1] + [int(d) for d in shape[ax + 1:]]
    return [ctx.reshape(tiled, target)]


# ============================================================ slicing and padding

def _slice_bounds(begin, end, step):
    """ONNX Slice starts/ends for Python's slice (None: from the start or to the end for
    the step's sign; ONNX clamps out-of-range values the same way Python does)."""
    if begin is None:
        begin = 0 if step > 0 else INT64_MAX
    if end is None:
        end = INT64_MAX if step > 0 else -INT64_MAX
    return int(begin), int(end)


@converts("slice")
def slice_(ctx, node, ins):
    op = node.op
    steps = [1 if s is None else int(s) for s in (op.step or (None,) * len(op.begin))]
    starts, ends = zip(*[_slice_bounds(b, e, s) for b, e, s in zip(op.begin, op.end, steps)])
    return [ctx.add1("Slice", [ins[0], ctx.ints(starts, "starts"), ctx.ints(ends, "ends"),
                               ctx.ints(range(len(steps)), "axes"), ctx.ints(steps, "steps")])]


@converts("slice_like")
def slice_like(ctx, node, ins):
    """data[:like.shape[a], ...] on the cut axes, the sizes read from shape_like at run time."""
    axes = list(node.op._axes(ctx.in_shape(0), ctx.in_shape(1)))
    ends = ctx.add1("Gather", [ctx.add1("Shape", [ins[1]]), ctx.ints(axes, "axes")], axis=0)
    return [ctx.add1("Slice", [ins[0], ctx.ints([0] * len(axes), "starts"), ends,
                               ctx.ints(axes, "axes")])]


@converts("reverse")
def reverse(ctx, node, ins):
    ndim = len(ctx.in_shape(0))
    counts = {}
    for a in node.op.axis:                      # an axis listed twice is reversed twice
        counts[a % ndim] = counts.get(a % ndim, 0) + 1
    axes = sorted(a for a, c in counts.items() if c % 2)
    if not axes:
        return [ctx.add1("Identity", [ins[0]])]
    n = len(axes)
    return [ctx.add1("Slice", [ins[0], ctx.ints([-1] * n, "starts"), ctx.ints([-INT64_MAX] * n, "ends"),
                               ctx.ints(axes, "axes"), ctx.ints([-1] * n, "steps")])]


@converts("Pad")
def pad(ctx, node, ins):
    """MXNet's (before, after) per axis, flattened, as ONNX's all-befores-then-all-afters."""
    pairs = node.op._pairs()
    pads = [lo for lo, _ in pairs] + [hi for _, hi in pairs]
    extra = [ctx.scalar(float(node.op.constant_value))] if node.op.mode == "constant" else []
    return [ctx.add1("Pad", [ins[0], ctx.ints(pads, "pads")] + extra, mode=node.op.mode)]


# ============================================================ choosing

@converts("where")
def where(ctx, node, ins):
    """condition != 0 as ONNX's bool cast gives it; a 1-d condition chooses whole rows."""
    cond = ctx.cast(ins[0], np.bool_)
    extra = len(ctx.in_shape(1)) - len(ctx.in_shape(0))
    if extra > 0:
        cond = ctx.unsqueeze(cond, list(range(1, 1 + extra)))
    return [ctx.add1("Where", [cond, ins[1], ins[2]])]


@converts("pick")
def pick(ctx, node, ins):
    op = node.op
    data_shape, index_shape = ctx.in_shape(0), ctx.in_shape(1)
    ax = op.axis % len(data_shape)
    idx = _fixed(ctx, _int_index(ctx, ins, 1), int(data_shape[ax]), op.mode)
    if len(index_shape) < len(data_shape):
        idx = ctx.unsqueeze(idx, [ax])
    out = ctx.add1("GatherElements", [ins[0], idx], axis=ax)
    if op.keepdims or len(data_shape) == 1:
        return [out]
    return [ctx.add1("Squeeze", [out, ctx.ints([ax], "axes")])]


@converts("take")
def take(ctx, node, ins):
    op = node.op
    shape = ctx.in_shape(0)
    ax = op.axis % len(shape)
    idx = _fixed(ctx, _int_index(ctx, ins, 1), int(shape[ax]), op.mode)
    return [ctx.add1("Gather", [ins[0], idx], axis=ax)]


@converts("batch_take")
def batch_take(ctx, node, ins):
    """a as rows of its last axis, one element per row (indices clipped)."""
    n = int(ctx.in_shape(0)[-1])
    rows = ctx.reshape(ins[0], [-1, n])
    idx = ctx.reshape(_fixed(ctx, _int_index(ctx, ins, 1), n, "clip"), [-1, 1])
    picked = ctx.add1("GatherElements", [rows, idx], axis=1)
    return [ctx.reshape_as(picked, ins[1])]


@converts("one_hot")
def one_hot(ctx, node, ins):
    """on_value where the index equals the position, else off_value (ONNX's OneHot would
    count negative indices from the end; MXNet gives them a row of off_value)."""
    op = node.op
    dtype = np.dtype(op.dtype)
    idx = ctx.unsqueeze(_int_index(ctx, ins, 0), [len(ctx.in_shape(0))])
    hit = ctx.add1("Equal", [idx, ctx.ints(range(int(op.depth)), "positions")])
    return [ctx.add1("Where", [hit, ctx.const(np.asarray(op.on_value, dtype), hint="on"),
                               ctx.const(np.asarray(op.off_value, dtype), hint="off")])]


# ============================================================ extremes and ordering

def _arg(onnx_op):
    def convert(ctx, node, ins):
        """The first extreme's index in the input's dtype; axis=None (or 1-d data) over the
        flattened input, shaped (1,) or all 1s with keepdims."""
        op = node.op
        ndim = len(ctx.in_shape(0))
        ax = op._axis(ndim)
        if ax is None:
            flat = ctx.reshape(ins[0], [-1])
            idx = ctx.add1(onnx_op, [flat], axis=0, keepdims=1)
            idx = ctx.reshape(idx, [1] * ndim if op.keepdims else [1])
        else:
            idx = ctx.add1(onnx_op, [ins[0]], axis=ax, keepdims=int(bool(op.keepdims)))
        return [ctx.cast(idx, ctx.in_dtype(0))]
    return convert


CONVERTERS["argmax"] = _arg("ArgMax")
CONVERTERS["argmin"] = _arg("ArgMin")


@converts("argmax_channel")
def argmax_channel(ctx, node, ins):
    if len(ctx.in_shape(0)) <= 1:
        idx = ctx.add1("ArgMax", [ctx.reshape(ins[0], [-1])], axis=0, keepdims=1)
    else:
        idx = ctx.add1("ArgMax", [ins[0]], axis=1, keepdims=0)
    return [ctx.cast(idx, ctx.in_dtype(0))]


def _ranked(ctx, op, x, k=None):
    """TopK along the op's axis (axis=None: the flattened input): (values, int64 indices,
    the axis, the flattened input or x).  k=None takes every element.  ONNX breaks ties by
    the lower index for either order, as symnorm's stable sorts do."""
    shape = ctx.in_shape(0)
    if op.axis is None:
        x, ax, n = ctx.reshape(x, [-1]), 0, int(np.prod(shape, dtype=np.int64))
    else:
        ax = op.axis % len(shape)
        n = int(shape[ax])
    k = n if k is None or k <= 0 else int(k)
    values, idx = ctx.add("TopK", [x, ctx.ints([k], "k")], 2, axis=ax,
                          largest=int(not op.is_ascend), sorted=1)
    return values, idx, ax, x


@converts("topk")
def topk(ctx, node, ins):
    op = node.op
    values, idx, ax, rows = _ranked(ctx, op, ins[0], op.k)
    if op.ret_typ == "mask":
        ones = _filled(ctx, values, 1, ctx.in_dtype(0))
        mask = ctx.add1("ScatterElements", [_filled(ctx, rows, 0, ctx.in_dtype(0)), idx, ones], axis=ax)
        if op.axis is None:                     # scattered into the flattened input
            mask = ctx.reshape_as(mask, ins[0])
        return [mask]
    if op.ret_typ == "indices":
        return [ctx.cast(idx, op.dtype)]
    return [values, ctx.cast(idx, op.dtype if op.ret_typ == "both" else np.int32)]


@converts("sort")
def sort(ctx, node, ins):
    values, idx, _, _ = _ranked(ctx, node.op, ins[0])
    return [values, ctx.cast(idx, np.int32)]


@converts("argsort")
def argsort(ctx, node, ins):
    _, idx, _, _ = _ranked(ctx, node.op, ins[0])
    return [ctx.cast(idx, node.op.dtype)]
