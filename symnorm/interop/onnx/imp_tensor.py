"""Import of ONNX tensor ops: arithmetic, unary math, shape manipulation, reductions,
and the constant folding that resolves torch.onnx's shape computations."""
from __future__ import annotations

import numpy as np

from symnorm import sym as S
from .tables import table

IMPORTERS, imports = table()


def _all_const(ctx):
    return all(ctx.const(i) is not None for i in range(len(ctx.node.input)) if ctx.has(i))


def _consts(ctx):
    return [ctx.const(i) for i in range(len(ctx.node.input))]


# ---------------------------------------------------------------------------- constants
@imports("Constant")
def constant(ctx, node):
    from onnx import numpy_helper
    a = node.attribute[0]
    if a.name == "value":
        return [numpy_helper.to_array(a.t)]
    if a.name in ("value_float", "value_int"):
        return [np.asarray(a.f if a.name == "value_float" else a.i,
                           np.float32 if a.name == "value_float" else np.int64)]
    if a.name in ("value_floats", "value_ints"):
        return [np.asarray(list(a.floats) if a.name == "value_floats" else list(a.ints),
                           np.float32 if a.name == "value_floats" else np.int64)]
    ctx.fail("Constant with attribute %r is not supported" % a.name)


@imports("Shape")
def shape(ctx, node):
    """Folded to a constant: the static shape from ONNX shape inference."""
    s = ctx.shape(0)
    v = ctx.const(0)
    if v is not None:
        s = v.shape
    if s is None or any(d is None for d in s):
        ctx.fail("Shape of a tensor whose shape is not static (%s); symnorm needs shapes "
                 "known at import (export without dynamic axes)" % (s,))
    a = ctx.attrs()
    return [np.asarray(s, np.int64)[a.get("start", 0):a.get("end", len(s))]]


@imports("ConstantOfShape")
def constant_of_shape(ctx, node):
    from onnx import numpy_helper
    a = node.attribute
    fill = numpy_helper.to_array(a[0].t) if a else np.zeros(1, np.float32)
    return [np.full(tuple(ctx.need_const(0, "shape")), fill.reshape(-1)[0], dtype=fill.dtype)]


@imports("Cast")
def cast(ctx, node):
    from onnx import helper
    to = helper.tensor_dtype_to_np_dtype(ctx.attrs()["to"])
    v = ctx.const(0)
    if v is not None:
        return [v.astype(to)]
    # symnorm computes in floating point: comparisons give 0/1, Embedding takes float
    # indices, so a cast of a computed tensor keeps its values
    return [ctx.sym(0)]


@imports("Identity")
def identity(ctx, node):
    v = ctx.const(0)
    return [v if v is not None else ctx.sym(0)]


# ---------------------------------------------------------------------------- arithmetic
_NP = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": None, "Pow": np.power,
       "Max": np.maximum, "Min": np.minimum}
_SCALAR = {"Add": ("_plus_scalar", "_plus_scalar"), "Sub": ("_minus_scalar", "_rminus_scalar"),
           "Mul": ("_mul_scalar", "_mul_scalar"), "Div": ("_div_scalar", "_rdiv_scalar"),
           "Pow": ("_power_scalar", "_rpower_scalar"), "Max": ("_maximum_scalar", "_maximum_scalar"),
           "Min": ("_minimum_scalar", "_minimum_scalar")}
_BROADCAST = {"Add": "broadcast_add", "Sub": "broadcast_sub", "Mul": "broadcast_mul",
              "Div": "broadcast_div", "Max": "broadcast_maximum", "Min": "broadcast_minimum",
              "Pow": "_power"}


def _div(a, b):
    return a // b if a.dtype.kind in "iu" and b.dtype.kind in "iu" else np.divide(a, b)


def _binary(op):
    def convert(ctx, node):
        if len(node.input) != 2:
            ctx.fail("%d inputs: only two are supported" % len(node.input))
        if _all_const(ctx):
            a, b = _consts(ctx)
            return [(_NP[op] or _div)(a, b)]
        for i in (0, 1):
            c = ctx.const(i)
            if c is not None and c.size == 1:
                name = _SCALAR[op][0 if i == 1 else 1]
                return [getattr(S, name)(ctx.sym(1 - i), scalar=float(c.reshape(-1)[0]), name=ctx.name)]
        return [getattr(S, _BROADCAST[op])(ctx.sym(0, "lhs"), ctx.sym(1, "rhs"), name=ctx.name)]
    return convert


for _op in _NP:
    IMPORTERS[_op] = _binary(_op)

_UNARY = {"Exp": "exp", "Log": "log", "Sqrt": "sqrt", "Abs": "abs", "Neg": "negative",
          "Reciprocal": "reciprocal", "Floor": "floor", "Ceil": "ceil", "Sin": "sin", "Cos": "cos",
          "Sign": "sign", "Round": "round"}
_UNARY_NP = {"Exp": np.exp, "Log": np.log, "Sqrt": np.sqrt, "Abs": np.abs, "Neg": np.negative,
             "Reciprocal": np.reciprocal, "Floor": np.floor, "Ceil": np.ceil, "Sin": np.sin,
             "Cos": np.cos, "Sign": np.sign, "Round": np.round}


def _unary(op):
    def convert(ctx, node):
        v = ctx.const(0)
        if v is not None:
            return [_UNARY_NP[op](v)]
        return [getattr(S, _UNARY[op])(ctx.sym(0), name=ctx.name)]
    return convert


for _op in _UNARY:
    IMPORTERS[_op] = _unary(_op)


@imports("Clip")
def clip(ctx, node):
    a = ctx.attrs()
    lo = ctx.const(1) if ctx.has(1) else a.get("min", -np.inf)
    hi = ctx.const(2) if ctx.has(2) else a.get("max", np.inf)
    if lo is None or hi is None:
        ctx.fail("min and max must be constants")
    return [S.clip(ctx.sym(0), a_min=float(lo), a_max=float(hi), name=ctx.name)]


# ---------------------------------------------------------------------------- shapes
@imports("Reshape")
def reshape(ctx, node):
    """ONNX's 0 (copy) and -1 (infer) are MXNet's codes too (allowzero=0)."""
    target = tuple(int(d) for d in ctx.need_const(1, "shape"))
    if ctx.attrs().get("allowzero", 0) and 0 in target:
        ctx.fail("allowzero=1 with a 0 in the shape is not supported")
    v = ctx.const(0)
    if v is not None:
        src = v.shape
        return [v.reshape([src[i] if d == 0 else d for i, d in enumerate(target)])]
    return [S.Reshape(ctx.sym(0), shape=target, name=ctx.name)]


@imports("Flatten")
def flatten(ctx, node):
    axis = int(ctx.attrs().get("axis", 1))
    if axis == 1:
        return [S.Flatten(ctx.sym(0), name=ctx.name)]
    shp = ctx.shape(0)
    if shp is None or any(d is None for d in shp):
        ctx.fail("Flatten(axis=%d) needs a static input shape" % axis)
    axis %= len(shp) if len(shp) else 1
    return [S.Reshape(ctx.sym(0), shape=(int(np.prod(shp[:axis])), -1), name=ctx.name)]


@imports("Transpose")
def transpose(ctx, node):
    perm = ctx.attrs().get("perm")
    v = ctx.const(0)
    if v is not None:
        return [np.transpose(v, perm)]
    return [S.transpose(ctx.sym(0), axes=tuple(perm) if perm else (), name=ctx.name)]


def _axes(ctx, i=1):
    a = ctx.attrs()
    if "axes" in a:
        return [int(x) for x in a["axes"]]
    if ctx.has(i):
        return [int(x) for x in ctx.need_const(i, "axes")]
    return None


@imports("Unsqueeze")
def unsqueeze(ctx, node):
    axes = _axes(ctx)
    v = ctx.const(0)
    if v is not None:
        return [np.expand_dims(v, tuple(axes))]
    if any(a < 0 for a in axes):
        if ctx.shape(0) is None:
            ctx.fail("negative axes %s need the input's rank, which shape inference did not find" % axes)
        ndim = len(axes) + len(ctx.shape(0))
        axes = [a % ndim for a in axes]
    out = ctx.sym(0)
    for k, ax in enumerate(sorted(axes)):
        out = S.expand_dims(out, axis=ax, name=ctx.name if k == len(axes) - 1 else None)
    return [out]


@imports("Squeeze")
def squeeze(ctx, node):
    axes = _axes(ctx)
    v = ctx.const(0)
    if v is not None:
        return [np.squeeze(v, tuple(axes) if axes else None)]
    return [S.squeeze(ctx.sym(0), axis=tuple(axes) if axes else (), name=ctx.name)]


@imports("Concat")
def concat(ctx, node):
    axis = int(ctx.attrs()["axis"])
    if _all_const(ctx):
        return [np.concatenate([c for c in _consts(ctx) if c is not None], axis=axis)]
    parts = [ctx.sym(i, "part%d" % i) for i in range(len(node.input))]
    return [S.Concat(*parts, dim=axis, name=ctx.name)]


@imports("Gather")
def gather(ctx, node):
    """A constant table indexed by data: Embedding; constant indices: slices."""
    axis = int(ctx.attrs().get("axis", 0))
    data, idx = ctx.const(0), ctx.const(1)
    if data is not None and idx is not None:
        return [np.take(data, idx, axis=axis)]
    if data is not None and axis == 0 and data.ndim == 2:
        return [S.Embedding(data=ctx.sym(1), weight=ctx.param(0, "weight"), input_dim=int(data.shape[0]),
                            output_dim=int(data.shape[1]), name=ctx.name)]
    if idx is not None and idx.ndim == 0:
        i = int(idx)
        out = S.slice_axis(ctx.sym(0), axis=axis, begin=i, end=(i + 1) or None)
        return [S.squeeze(out, axis=(axis,), name=ctx.name)]
    ctx.fail("only a constant table with axis 0 or a constant scalar index is supported")


@imports("Slice")
def slice_(ctx, node):
    starts, ends = ctx.need_const(1, "starts"), ctx.need_const(2, "ends")
    axes = ctx.const(3) if ctx.has(3) else np.arange(len(starts))
    steps = ctx.const(4) if ctx.has(4) else np.ones(len(starts), np.int64)
    v = ctx.const(0)
    if v is not None:
        sl = [slice(None)] * v.ndim
        for s, e, a, st in zip(starts, ends, axes, steps):
            sl[int(a)] = slice(int(s), int(e), int(st))
        return [v[tuple(sl)]]
    if steps is None or any(int(s) != 1 for s in steps):
        ctx.fail("steps other than 1 are not supported")
    out = ctx.sym(0)
    shp = ctx.shape(0)
    for s, e, a in zip(starts, ends, axes):
        size = shp[int(a)] if shp is not None else None
        e = int(e)
        end = None if (e >= 2 ** 62 or (size is not None and e >= size)) else e
        out = S.slice_axis(out, axis=int(a), begin=int(s), end=end)
    return [out]


@imports("Split")
def split(ctx, node):
    a = ctx.attrs()
    axis = int(a.get("axis", 0))
    n = len(node.output)
    sizes = a.get("split")
    if sizes is None and ctx.has(1):
        sizes = list(ctx.need_const(1, "split"))
    if sizes is not None and len(set(int(s) for s in sizes)) > 1:
        ctx.fail("unequal split sizes %s are not supported" % list(sizes))
    out = S.SliceChannel(ctx.sym(0), num_outputs=n, axis=axis, name=ctx.name)
    return [out[i] for i in range(n)]


def _reduce(op):
    def convert(ctx, node):
        a = ctx.attrs()
        axes = _axes(ctx)
        keep = bool(a.get("keepdims", 1))
        if not axes and a.get("noop_with_empty_axes", 0):
            return [ctx.sym(0)]
        return [getattr(S, op)(ctx.sym(0), axis=tuple(axes or ()), keepdims=keep, name=ctx.name)]
    return convert


for _k, _v in {"ReduceSum": "sum", "ReduceMean": "mean", "ReduceMax": "max", "ReduceMin": "min"}.items():
    IMPORTERS[_k] = _reduce(_v)


_COMPARE = {"Equal": "_equal", "Greater": "_greater", "GreaterOrEqual": "_greater_equal",
            "Less": "_lesser", "LessOrEqual": "_lesser_equal"}
_MIRROR = {"_greater": "_lesser", "_lesser": "_greater", "_greater_equal": "_lesser_equal",
           "_lesser_equal": "_greater_equal", "_equal": "_equal"}


def _compare(op):
    """0/1 in the data's dtype (the Cast ONNX needs after it is then a no-op)."""
    def convert(ctx, node):
        if _all_const(ctx):
            a, b = _consts(ctx)
            return [getattr(np, {"_equal": "equal", "_greater": "greater", "_greater_equal": "greater_equal",
                                 "_lesser": "less", "_lesser_equal": "less_equal"}[op])(a, b)]
        for i in (0, 1):
            c = ctx.const(i)
            if c is not None and c.size == 1:
                name = (op if i == 1 else _MIRROR[op]) + "_scalar"
                return [getattr(S, name)(ctx.sym(1 - i), scalar=float(c.reshape(-1)[0]), name=ctx.name)]
        sa, sb = ctx.shape(0), ctx.shape(1)
        if sa is None or sa != sb:
            ctx.fail("comparison of shapes %s and %s: symnorm compares equal shapes only" % (sa, sb))
        return [getattr(S, op)(ctx.sym(0), ctx.sym(1), name=ctx.name)]
    return convert


for _k, _v in _COMPARE.items():
    IMPORTERS[_k] = _compare(_v)


@imports("Not")
def not_(ctx, node):
    v = ctx.const(0)
    if v is not None:
        return [np.logical_not(v)]
    return [S._rminus_scalar(ctx.sym(0), scalar=1.0, name=ctx.name)]
