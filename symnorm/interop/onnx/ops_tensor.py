"""Export of the tensor ops: elementwise/broadcast/scalar arithmetic, comparisons, unary
math, reshaping, slicing, concatenation, reductions, products, constants."""
from __future__ import annotations

import numpy as np

from .tables import table

CONVERTERS, converts = table()


def _register(table, make):
    for name, onnx_op in table.items():
        CONVERTERS[name] = make(onnx_op)


def _floor_mod(ctx, a, b):
    """numpy's (floored) mod, as symnorm computes it; ONNX Mod on floats is C's fmod."""
    q = ctx.add1("Floor", [ctx.add1("Div", [a, b])])
    return ctx.add1("Sub", [a, ctx.add1("Mul", [q, b])])


_BINARY = {"elemwise_add": "Add", "broadcast_add": "Add", "elemwise_sub": "Sub", "broadcast_sub": "Sub",
           "elemwise_mul": "Mul", "broadcast_mul": "Mul", "elemwise_div": "Div", "broadcast_div": "Div",
           "_maximum": "Max", "broadcast_maximum": "Max", "_minimum": "Min", "broadcast_minimum": "Min",
           "_power": "Pow"}
_COMPARE = {"_equal": "Equal", "_greater": "Greater", "_greater_equal": "GreaterOrEqual",
            "_lesser": "Less", "_lesser_equal": "LessOrEqual", "_not_equal": "Equal"}


def _binary(onnx_op):
    def convert(ctx, node, ins):
        return [ctx.add1(onnx_op, ins[:2])]
    return convert


def _compare(onnx_op, scalar=False):
    def convert(ctx, node, ins):
        rhs = ctx.scalar(float(node.op.scalar)) if scalar else ins[1]
        b = ctx.add1(onnx_op, [ins[0], rhs])
        if node.op.op_name.startswith("_not_equal"):
            b = ctx.add1("Not", [b])
        return [ctx.cast(b, ctx.in_dtype(0))]     # MXNet's 0/1 in the input's dtype
    return convert


_register(_BINARY, _binary)
_register(_COMPARE, _compare)
_register({k + "_scalar": v for k, v in _COMPARE.items()}, lambda o: _compare(o, scalar=True))


@converts("_mod")
def mod(ctx, node, ins):
    return [_floor_mod(ctx, ins[0], ins[1])]


# scalar ops: (ONNX op, scalar on the left?)
_SCALAR = {"_plus_scalar": ("Add", False), "_minus_scalar": ("Sub", False), "_rminus_scalar": ("Sub", True),
           "_mul_scalar": ("Mul", False), "_div_scalar": ("Div", False), "_rdiv_scalar": ("Div", True),
           "_power_scalar": ("Pow", False), "_rpower_scalar": ("Pow", True),
           "_maximum_scalar": ("Max", False), "_minimum_scalar": ("Min", False),
           "_mod_scalar": (None, False), "_rmod_scalar": (None, True)}


def _scalar(spec):
    onnx_op, left = spec

    def convert(ctx, node, ins):
        s = ctx.scalar(float(node.op.scalar))
        a, b = (s, ins[0]) if left else (ins[0], s)
        return [_floor_mod(ctx, a, b) if onnx_op is None else ctx.add1(onnx_op, [a, b])]
    return convert


_register(_SCALAR, _scalar)

_UNARY = {"abs": "Abs", "ceil": "Ceil", "cos": "Cos", "exp": "Exp", "floor": "Floor", "log": "Log",
          "negative": "Neg", "reciprocal": "Reciprocal", "relu": "Relu", "round": "Round",
          "sigmoid": "Sigmoid", "sign": "Sign", "sin": "Sin", "sqrt": "Sqrt", "tanh": "Tanh",
          "_copy": "Identity"}


def _unary(onnx_op):
    def convert(ctx, node, ins):
        return [ctx.add1(onnx_op, [ins[0]])]
    return convert


_register(_UNARY, _unary)


@converts("expm1")
def expm1(ctx, node, ins):
    return [ctx.add1("Sub", [ctx.add1("Exp", [ins[0]]), ctx.scalar(1.0)])]


@converts("log1p")
def log1p(ctx, node, ins):
    return [ctx.add1("Log", [ctx.add1("Add", [ins[0], ctx.scalar(1.0)])])]


@converts("rsqrt")
def rsqrt(ctx, node, ins):
    return [ctx.add1("Reciprocal", [ctx.add1("Sqrt", [ins[0]])])]


@converts("square")
def square(ctx, node, ins):
    return [ctx.add1("Mul", [ins[0], ins[0]])]


@converts("clip")
def clip(ctx, node, ins):
    op = node.op
    return [ctx.add1("Clip", [ins[0], ctx.scalar(float(op.a_min)), ctx.scalar(float(op.a_max))])]


@converts("Reshape")
def reshape(ctx, node, ins):
    """MXNet's special codes (0, -1, -2, -3, -4, reverse) resolved statically from the
    inferred output shape; with ``dynamic`` a kept batch axis is written as 0 (copy)."""
    src, dst = ctx.in_shape(0), ctx.out_shape(0)
    target = [int(d) for d in dst]
    if ctx.dynamic and target:
        # a kept batch axis is copied (0); otherwise the batch is taken to scale axis 0
        # (folded into it or out of it), which -1 expresses for any batch size
        target[0] = 0 if len(src) and dst[0] == src[0] else -1
    return [ctx.reshape(ins[0], target)]


@converts("transpose")
def transpose(ctx, node, ins):
    ndim = len(ctx.in_shape(0))
    perm = [a % ndim for a in node.op.axes] if node.op.axes else list(range(ndim))[::-1]
    return [ctx.add1("Transpose", [ins[0]], perm=perm)]


@converts("expand_dims")
def expand_dims(ctx, node, ins):
    ndim = len(ctx.in_shape(0))
    return [ctx.unsqueeze(ins[0], [node.op.axis % (ndim + 1)])]


@converts("squeeze")
def squeeze(ctx, node, ins):
    shape = ctx.in_shape(0)
    axes = [a % len(shape) for a in node.op.axis] if node.op.axis else \
        [i for i, d in enumerate(shape) if d == 1 and not (ctx.dynamic and i == 0)]
    if len(axes) == len(shape):         # MXNet keeps (1,) where ONNX would give 0-d
        return [ctx.reshape(ins[0], [1])]
    return [ctx.add1("Squeeze", [ins[0], ctx.ints(axes, "axes")])]


@converts("slice_axis")
def slice_axis(ctx, node, ins):
    op = node.op
    end = np.iinfo(np.int64).max if op.end is None else int(op.end)
    return [ctx.add1("Slice", [ins[0], ctx.ints([int(op.begin)], "starts"), ctx.ints([end], "ends"),
                               ctx.ints([int(op.axis)], "axes")])]


@converts("Concat")
def concat(ctx, node, ins):
    return [ctx.add1("Concat", list(ins), axis=int(node.op.dim))]


@converts("SliceChannel")
def slice_channel(ctx, node, ins):
    op = node.op
    n, axis = int(op.num_outputs), int(op.axis)
    size = ctx.in_shape(0)[axis]
    if ctx.opset >= 18:
        parts = ctx.add("Split", [ins[0]], n, axis=axis, num_outputs=n)
    else:
        parts = ctx.add("Split", [ins[0], ctx.ints([size // n] * n, "split")], n, axis=axis)
    if op.squeeze_axis:
        parts = [ctx.add1("Squeeze", [p, ctx.ints([axis], "axes")]) for p in parts]
    return parts


def _reduce(onnx_op):
    def convert(ctx, node, ins):
        op = node.op
        ndim = len(ctx.in_shape(0))
        axes = sorted({a % ndim for a in op.axis}) if op.axis else None
        if op.exclude and axes is not None:
            axes = [a for a in range(ndim) if a not in axes]
        if axes == []:
            return [ctx.add1("Identity", [ins[0]])]
        y = ctx.reduce(onnx_op, ins[0], axes, op.keepdims)
        if tuple(ctx.out_shape(0)) == (1,) and not op.keepdims and len(axes or range(ndim)) == ndim:
            y = ctx.reshape(y, [1])          # MXNet's (1,) for a full reduction, not ONNX's ()
        return [y]
    return convert


_register({"sum": "ReduceSum", "mean": "ReduceMean", "max": "ReduceMax", "min": "ReduceMin"}, _reduce)


def _swap_last(ctx, x, ndim):
    perm = list(range(ndim))
    perm[-2:] = perm[-2:][::-1]
    return ctx.add1("Transpose", [x], perm=perm)


@converts("batch_dot")
def batch_dot(ctx, node, ins):
    a, b = ins[:2]
    op = node.op
    if op.transpose_a:
        a = _swap_last(ctx, a, len(ctx.in_shape(0)))
    if op.transpose_b:
        b = _swap_last(ctx, b, len(ctx.in_shape(1)))
    return [ctx.add1("MatMul", [a, b])]


@converts("dot")
def dot(ctx, node, ins):
    """MXNet's dot contracts lhs's last axis with rhs's first (transpose_a: lhs's first,
    transpose_b: rhs's last, the other axes in order): flattened to a 2-D MatMul with
    static shapes, then reshaped."""
    op = node.op
    a, b = ins[:2]
    sa, sb = list(ctx.in_shape(0)), list(ctx.in_shape(1))
    if op.transpose_a and len(sa) > 1:
        a = ctx.add1("Transpose", [a], perm=list(range(1, len(sa))) + [0])
        sa = sa[1:] + sa[:1]
    if op.transpose_b and len(sb) > 1:
        b = ctx.add1("Transpose", [b], perm=[len(sb) - 1] + list(range(len(sb) - 1)))
        sb = sb[-1:] + sb[:-1]
    if len(sa) == 2 and len(sb) == 2:
        return [ctx.add1("MatMul", [a, b])]
    a2 = ctx.reshape(a, [-1, sa[-1]]) if len(sa) != 2 else a
    b2 = ctx.reshape(b, [sb[0], -1]) if len(sb) != 2 else b
    y = ctx.add1("MatMul", [a2, b2])
    out = list(ctx.out_shape(0))
    if ctx.dynamic and len(sa) > 1 and not op.transpose_a:
        out[0] = -1                   # lhs's batch axis leads the output
    return [ctx.reshape(y, out)]


@converts("_zeros", "_ones", "_full", "_arange")
def constant(ctx, node, ins):
    """Input-free generators: their value is known now, so it is stored."""
    value = node.op.forward(train=False)[0][0]
    return [ctx.add1("Identity", [ctx.const(value, hint="value")])]
