"""Export of the normalization ops with inference semantics (moving statistics)."""
from __future__ import annotations

import numpy as np

from .tables import table

CONVERTERS, converts = table()


def _to_axis(ctx, x, ndim, axis, target, body):
    """Run ``body(x)`` with ``axis`` moved to position ``target`` (a transpose pair when
    it is elsewhere); ONNX's norms fix the normalized axis, MXNet's take it as a param."""
    if axis == target % ndim:
        return body(x)
    perm = [d for d in range(ndim) if d != axis]
    perm.insert(target % ndim, axis)
    inv = [perm.index(d) for d in range(ndim)]
    y = body(ctx.add1("Transpose", [x], perm=perm))
    return ctx.add1("Transpose", [y], perm=inv)


@converts("BatchNorm", "_contrib_SyncBatchNorm")
def batch_norm(ctx, node, ins):
    """BatchNormalization over the moving statistics (inference: use_global_stats and the
    batch statistics no longer differ).  fix_gamma means gamma is 1 whatever is stored."""
    op = node.op
    x, gamma, beta, mean, var = ins
    shape = ctx.in_shape(0)
    ndim = len(shape)
    if ndim < 2:
        ctx.fail("BatchNorm needs at least 2-D data for ONNX, got shape %s" % (shape,))
    axis = op.axis % ndim
    if op.fix_gamma:
        gamma = ctx.const(np.ones(shape[axis], dtype=ctx.in_dtype(1)), hint="gamma_fixed")
    y = _to_axis(ctx, x, ndim, axis, 1, lambda t: ctx.add1(
        "BatchNormalization", [t, gamma, beta, mean, var], epsilon=float(op.eps)))
    # output_mean_var in inference: the moving mean and MXNet's 1/sqrt(moving_var + eps)
    inv_std = ctx.add1("Reciprocal", [ctx.add1("Sqrt", [ctx.add1("Add", [var, ctx.scalar(float(op.eps), 3)])])])
    return [y, ctx.add1("Identity", [mean]), inv_std]


def _mean_std(ctx, x, axes, keepdims, eps):
    """Per-sample statistics (LayerNorm's/GroupNorm's extra outputs): mean and
    sqrt(biased var + eps)."""
    mean = ctx.reduce("ReduceMean", x, axes, True)
    d = ctx.add1("Sub", [x, mean])
    var = ctx.reduce("ReduceMean", ctx.add1("Mul", [d, d]), axes, keepdims)
    std = ctx.add1("Sqrt", [ctx.add1("Add", [var, ctx.scalar(float(eps))])])
    if not keepdims:
        mean = ctx.reduce("ReduceMean", x, axes, False)
    return mean, std


@converts("LayerNorm")
def layer_norm(ctx, node, ins):
    """LayerNormalization over the last axis; another ``axis`` is transposed there."""
    op = node.op
    x, gamma, beta = ins
    ndim = len(ctx.in_shape(0))
    axis = op.axis % ndim
    y = _to_axis(ctx, x, ndim, axis, -1, lambda t: ctx.add1(
        "LayerNormalization", [t, gamma, beta], axis=-1, epsilon=float(op.eps)))
    if not op.output_mean_var:
        return [y]
    return [y, *_mean_std(ctx, x, [axis], True, op.eps)]


@converts("InstanceNorm")
def instance_norm(ctx, node, ins):
    x, gamma, beta = ins
    return [ctx.add1("InstanceNormalization", [x, gamma, beta], epsilon=float(node.op.eps))]


@converts("GroupNorm")
def group_norm(ctx, node, ins):
    """MXNet 1.x's GroupNorm has one gamma/beta per *group*.  At opset >= 21 with stored
    gamma/beta it becomes GroupNormalization (per-channel scale: each group's value
    repeated); otherwise (N, G, -1) -> InstanceNormalization(gamma, beta) -> reshape back,
    which is the same computation exactly."""
    op = node.op
    x, gamma, beta = ins
    shape = ctx.in_shape(0)
    g = int(op.num_groups)
    gv, bv = ctx.value(gamma), ctx.value(beta)
    extra = []
    if op.output_mean_var:      # (N, G) statistics of each group
        extra = list(_mean_std(ctx, ctx.reshape(x, [0, g, -1]), [2], False, op.eps))
    if ctx.opset >= 21 and gv is not None and bv is not None:
        rep = shape[1] // g
        return [ctx.add1("GroupNormalization",
                         [x, ctx.const(np.repeat(gv, rep), hint="scale"),
                          ctx.const(np.repeat(bv, rep), hint="bias")],
                         num_groups=g, epsilon=float(op.eps))] + extra
    grouped = ctx.reshape(x, [0, g, -1])
    y = ctx.add1("InstanceNormalization", [grouped, gamma, beta], epsilon=float(op.eps))
    return [ctx.reshape_as(y, x)] + extra
