"""Export of the ops of the parity issue's part B: the extra unary math, hard_sigmoid,
smooth_l1, prod/nansum/nanprod, softmin, norm, L2Normalization, LRN, SoftmaxActivation,
the sequence ops and the spatial resizers.

The resizers are separable linear maps with sizes fixed at export time, so they are
written as two MatMuls by constant matrices (exactly the op's own arithmetic) rather
than ONNX Resize, whose coordinate modes do not cover MXNet's bilinear rules.  Where a
choice exists the export uses ONNX ops symnorm's importer reads back (``rint`` as
Ceil(x - 0.5), ``smooth_l1`` without Where); ``ONE_WAY`` names the exports it cannot."""
from __future__ import annotations

import math

import numpy as np

from .tables import table

CONVERTERS, converts = table()

ONE_WAY = {
    # op name -> predicate(op): True when the export uses ONNX ops import cannot read
    "nansum": lambda op: True,                    # IsNaN, Where
    "nanprod": lambda op: True,
    "SequenceMask": lambda op: op.use_sequence_length,       # Range, Where
    "SequenceLast": lambda op: op.use_sequence_length,
    "SequenceReverse": lambda op: True,           # Gather by a vector / GatherElements
}

_SAME = {"tan": "Tan", "arcsin": "Asin", "arccos": "Acos", "arctan": "Atan", "sinh": "Sinh",
         "cosh": "Cosh", "arcsinh": "Asinh", "arccosh": "Acosh", "arctanh": "Atanh",
         "erf": "Erf", "softsign": "Softsign"}


def _unary(onnx_op):
    def convert(ctx, node, ins):
        return [ctx.add1(onnx_op, [ins[0]])]
    return convert


for _name, _onnx in _SAME.items():
    CONVERTERS[_name] = _unary(_onnx)


def _scaled(factor_fn, inner=None):
    def convert(ctx, node, ins):
        x = ctx.add1(inner, [ins[0]]) if inner else ins[0]
        return [ctx.add1("Mul", [x, ctx.scalar(factor_fn())])]
    return convert


CONVERTERS["log10"] = _scaled(lambda: 1 / math.log(10.0), "Log")
CONVERTERS["log2"] = _scaled(lambda: 1 / math.log(2.0), "Log")
CONVERTERS["degrees"] = _scaled(lambda: 180 / math.pi)
CONVERTERS["radians"] = _scaled(lambda: math.pi / 180)


def _cbrt(ctx, x):
    """sign(x)·|x|^(1/3) (ONNX has no cube root; Pow of a negative base is NaN)."""
    mag = ctx.add1("Pow", [ctx.add1("Abs", [x]), ctx.scalar(1.0 / 3.0)])
    return ctx.add1("Mul", [ctx.add1("Sign", [x]), mag])


@converts("cbrt")
def cbrt(ctx, node, ins):
    return [_cbrt(ctx, ins[0])]


@converts("rcbrt")
def rcbrt(ctx, node, ins):
    return [ctx.add1("Reciprocal", [_cbrt(ctx, ins[0])])]


@converts("rint")
def rint(ctx, node, ins):
    """MXNet's rint (floor(x), plus 1 when the fraction is above one half) is ceil(x - ½)."""
    return [ctx.add1("Ceil", [ctx.add1("Sub", [ins[0], ctx.scalar(0.5)])])]


@converts("fix", "trunc")
def trunc(ctx, node, ins):
    x = ins[0]
    return [ctx.add1("Mul", [ctx.add1("Sign", [x]), ctx.add1("Floor", [ctx.add1("Abs", [x])])])]


@converts("hard_sigmoid")
def hard_sigmoid(ctx, node, ins):
    return [ctx.add1("HardSigmoid", [ins[0]], alpha=float(node.op.alpha), beta=float(node.op.beta))]


@converts("smooth_l1")
def smooth_l1(ctx, node, ins):
    """With m = min(|x|, 1/σ²): 0.5·σ²·m² + |x| - m (the two branches in one formula)."""
    s2 = float(node.op.scalar) ** 2
    a = ctx.add1("Abs", [ins[0]])
    m = ctx.add1("Min", [a, ctx.scalar(1 / s2)])
    quad = ctx.add1("Mul", [ctx.add1("Mul", [m, m]), ctx.scalar(0.5 * s2)])
    return [ctx.add1("Add", [quad, ctx.add1("Sub", [a, m])])]


# ============================================================ reductions

def _reduced(ctx, onnx_op, x, axes, keepdims):
    """A Reduce* over ``axes`` shaped like the op's output (MXNet's (1,) for a full
    reduction)."""
    if axes == []:
        y = ctx.add1("Identity", [x])
    else:
        y = ctx.reduce(onnx_op, x, axes, keepdims)
    if tuple(ctx.out_shape(0)) == (1,) and not keepdims:
        y = ctx.reshape(y, [1])
    return y


def _reduce_axes(ctx, op):
    ndim = len(ctx.in_shape(0))
    axes = sorted({a % ndim for a in op.axis}) if op.axis else None
    if op.exclude and axes is not None:
        axes = [a for a in range(ndim) if a not in axes]
    return axes


def _nan_to(ctx, x, value):
    return ctx.add1("Where", [ctx.add1("IsNaN", [x]), ctx.scalar(value), x])


@converts("prod")
def prod(ctx, node, ins):
    return [_reduced(ctx, "ReduceProd", ins[0], _reduce_axes(ctx, node.op), node.op.keepdims)]


@converts("nansum")
def nansum(ctx, node, ins):
    return [_reduced(ctx, "ReduceSum", _nan_to(ctx, ins[0], 0.0), _reduce_axes(ctx, node.op),
                     node.op.keepdims)]


@converts("nanprod")
def nanprod(ctx, node, ins):
    return [_reduced(ctx, "ReduceProd", _nan_to(ctx, ins[0], 1.0), _reduce_axes(ctx, node.op),
                     node.op.keepdims)]


@converts("norm")
def norm(ctx, node, ins):
    op = node.op
    ndim = len(ctx.in_shape(0))
    axes = list(range(ndim)) if op.axis is None else sorted(a % ndim for a in op.axis)
    y = _reduced(ctx, "ReduceL1" if op.ord == 1 else "ReduceL2", ins[0], axes, op.keepdims)
    return [ctx.cast(y, op.out_dtype) if op.out_dtype else y]


@converts("softmin")
def softmin(ctx, node, ins):
    op = node.op
    z = ctx.add1("Mul", [ins[0], ctx.scalar(-1.0 / (op.temperature or 1.0))])
    y = ctx.add1("Softmax", [z], axis=int(op.axis))
    return [ctx.cast(y, op.dtype) if op.dtype else y]


# ============================================================ normalizations

@converts("L2Normalization")
def l2_normalization(ctx, node, ins):
    op = node.op
    x = ins[0]
    axes = list(op._axes(len(ctx.in_shape(0))))
    ss = ctx.reduce("ReduceSum", ctx.add1("Mul", [x, x]), axes, True)
    n = ctx.add1("Sqrt", [ctx.add1("Add", [ss, ctx.scalar(float(op.eps))])])
    return [ctx.add1("Div", [x, n])]


@converts("LRN")
def lrn(ctx, node, ins):
    op = node.op       # ONNX's LRN is MXNet's: α/size, a centred window of odd size
    return [ctx.add1("LRN", [ins[0]], alpha=float(op.alpha), beta=float(op.beta),
                     bias=float(op.knorm), size=int(op.nsize))]


@converts("SoftmaxActivation")
def softmax_activation(ctx, node, ins):
    return [ctx.add1("Softmax", [ins[0]], axis=1 if node.op.mode == "channel" else -1)]


# ============================================================ sequence ops

def _steps(ctx, x, axis):
    """0, 1, ..., T-1 (float, the data's dtype) for the sequence axis of x, from its runtime
    shape (so a symbolic batch axis stays symbolic)."""
    t = ctx.add1("Gather", [ctx.add1("Shape", [x]), ctx.const(np.int64(axis), hint="axis")])
    r = ctx.add1("Range", [ctx.const(np.int64(0), hint="zero"), t, ctx.const(np.int64(1), hint="one")])
    return ctx.cast(r, ctx.in_dtype(0))


def _time_batch(ctx, node, ins):
    """(steps as a (T, 1) column, lengths as a (1, B) row of floats, truncated), for the
    time-major view of the data."""
    op = node.op
    steps = ctx.unsqueeze(_steps(ctx, ins[0], op.axis), [1])
    lens = ctx.add1("Floor", [ctx.cast(ins[1], ctx.in_dtype(0))])
    return steps, ctx.unsqueeze(lens, [0])


def _to_data_rank(ctx, tb, op, ndim):
    """A (T, B) tensor laid out like the data: transposed for axis=1, trailing 1s added."""
    if op.axis == 1:
        tb = ctx.add1("Transpose", [tb], perm=[1, 0])
    return ctx.unsqueeze(tb, list(range(2, ndim))) if ndim > 2 else tb


@converts("SequenceMask")
def sequence_mask(ctx, node, ins):
    op = node.op
    if not op.use_sequence_length:
        return [ctx.add1("Identity", [ins[0]])]
    steps, lens = _time_batch(ctx, node, ins)
    keep = _to_data_rank(ctx, ctx.add1("Less", [steps, lens]), op, len(ctx.in_shape(0)))
    return [ctx.add1("Where", [keep, ins[0], ctx.scalar(float(op.value))])]


@converts("SequenceLast")
def sequence_last(ctx, node, ins):
    op = node.op
    x = ins[0]
    if not op.use_sequence_length:
        # index -1, not T-1: right for any length of a symbolic (dynamic) axis
        return [ctx.add1("Gather", [x, ctx.const(np.int64(-1), hint="last")], axis=int(op.axis))]
    steps, lens = _time_batch(ctx, node, ins)
    last = ctx.add1("Equal", [steps, ctx.add1("Sub", [lens, ctx.scalar(1.0)])])
    w = _to_data_rank(ctx, ctx.cast(last, ctx.in_dtype(0)), op, len(ctx.in_shape(0)))
    return [ctx.reduce("ReduceSum", ctx.add1("Mul", [x, w]), [int(op.axis)], False)]


@converts("SequenceReverse")
def sequence_reverse(ctx, node, ins):
    """out = GatherElements(x, idx) on axis 0 with idx[t, b] = len[b]-1-t for t < len[b],
    else t."""
    x = ins[0]
    ndim = len(ctx.in_shape(0))
    if not node.op.use_sequence_length:
        t = ctx.in_shape(0)[0]
        return [ctx.add1("Gather", [x, ctx.ints(range(t - 1, -1, -1), "rev")], axis=0)]
    steps, lens = _time_batch(ctx, node, ins)
    rev = ctx.add1("Sub", [ctx.add1("Sub", [lens, ctx.scalar(1.0)]), steps])
    idx = ctx.add1("Where", [ctx.add1("Less", [steps, lens]), rev, steps])
    idx = ctx.cast(idx, np.int64)
    if ndim > 2:
        idx = ctx.unsqueeze(idx, list(range(2, ndim)))
    idx = ctx.add1("Expand", [idx, ctx.add1("Shape", [x])])
    return [ctx.add1("GatherElements", [x, idx], axis=0)]


# ============================================================ resizing

def _separable(ctx, x, ah, aw):
    """A_h · x · A_wᵀ as two MatMuls by constants on the right (the form import reads as
    FullyConnected): x · A_wᵀ, swap the last two axes, · A_hᵀ, swap back."""
    dt = ctx.in_dtype(0)
    y = ctx.add1("MatMul", [x, ctx.const(np.ascontiguousarray(aw.T).astype(dt), hint="cols")])
    y = ctx.add1("Transpose", [y], perm=[0, 1, 3, 2])
    y = ctx.add1("MatMul", [y, ctx.const(np.ascontiguousarray(ah.T).astype(dt), hint="rows")])
    return ctx.add1("Transpose", [y], perm=[0, 1, 3, 2])


@converts("_contrib_BilinearResize2D")
def bilinear_resize(ctx, node, ins):
    ah, aw = node.op.matrices(ctx.in_shape(0), ctx.out_shape(0))
    return [_separable(ctx, ins[0], ah, aw)]


@converts("_contrib_AdaptiveAvgPooling2D")
def adaptive_avg_pooling(ctx, node, ins):
    ah, aw = node.op.matrices(ctx.in_shape(0))
    return [_separable(ctx, ins[0], ah, aw)]


def _repeat_matrix(n_in, s):
    return np.kron(np.eye(n_in), np.ones((s, 1)))          # (n_in·s, n_in)


@converts("UpSampling")
def upsampling(ctx, node, ins):
    op = node.op
    if op.sample_type == "bilinear":
        k, s, p = op.bilinear_geometry()
        c = int(ctx.in_shape(0)[1])
        return [ctx.add1("ConvTranspose", ins[:2], kernel_shape=[k, k], strides=[s, s],
                         pads=[p, p, p, p], group=c)]
    oh = ctx.out_shape(0)[2]
    ups = []
    for i, x in enumerate(ins):
        _, _, h, w = ctx.in_shape(i)
        s = oh // h
        ups.append(_separable(ctx, x, _repeat_matrix(h, s), _repeat_matrix(w, s)))
    if len(ups) == 1:
        return ups
    if op.multi_input_mode == "sum":
        total = ups[0]
        for u in ups[1:]:
            total = ctx.add1("Add", [total, u])
        return [total]
    return [ctx.add1("Concat", ups, axis=1)]


@converts("depth_to_space")
def depth_to_space(ctx, node, ins):
    # MXNet's order is ONNX's DCR
    return [ctx.add1("DepthToSpace", [ins[0]], blocksize=int(node.op.block_size), mode="DCR")]


@converts("space_to_depth")
def space_to_depth(ctx, node, ins):
    return [ctx.add1("SpaceToDepth", [ins[0]], blocksize=int(node.op.block_size))]
