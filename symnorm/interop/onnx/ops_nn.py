"""Export of the layer ops: FullyConnected, Convolution, Deconvolution, Pooling,
activations, Dropout, Flatten, Embedding, softmax."""
from __future__ import annotations

import math

import numpy as np

from .tables import table

CONVERTERS, converts = table()

# op name -> predicate(op): exports import cannot read back (sum pooling padded at the end)
ONE_WAY = {"Pooling": lambda op: op.pool_type == "sum" and op.pooling_convention != "valid"}


def _nchw(ctx, op):
    layout = getattr(op, "layout", None)
    if layout is not None and layout[:2] != "NC":
        ctx.fail("layout %r: ONNX convolutions and pooling are channel-first only" % layout)


def _spatial(values, nsp, default):
    return [int(v) for v in values] if values else [default] * nsp


@converts("FullyConnected")
def fully_connected(ctx, node, ins):
    """flatten=True: Flatten(axis=1) + Gemm(transB); flatten=False: MatMul by W^T on the
    last axis (+ bias)."""
    op = node.op
    x, w = ins[0], ins[1]
    b = None if op.no_bias else ins[2]
    ndim = len(ctx.in_shape(0))
    if op.flatten or ndim == 2:
        if ndim != 2:
            x = ctx.add1("Flatten", [x], axis=1)
        return [ctx.add1("Gemm", [x, w] + ([b] if b else []), transB=1)]
    y = ctx.add1("MatMul", [x, ctx.add1("Transpose", [w], perm=[1, 0])])
    return [ctx.add1("Add", [y, b]) if b else y]


@converts("Convolution")
def convolution(ctx, node, ins):
    op = node.op
    _nchw(ctx, op)
    nsp = len(op.kernel)
    pad = _spatial(op.pad, nsp, 0)
    inputs = ins[:2] if op.no_bias else ins[:3]
    return [ctx.add1("Conv", inputs, kernel_shape=list(op.kernel), strides=_spatial(op.stride, nsp, 1),
                     dilations=_spatial(op.dilate, nsp, 1), pads=pad + pad, group=int(op.num_group))]


@converts("Deconvolution")
def deconvolution(ctx, node, ins):
    """ConvTranspose with the pad and adj symnorm chose (target_shape resolved by the
    op's own plan for these input sizes)."""
    op = node.op
    _nchw(ctx, op)
    nsp = len(op.kernel)
    pad, adj, _ = op._plan(ctx.in_shape(0)[2:])
    inputs = ins[:2] if op.no_bias else ins[:3]
    return [ctx.add1("ConvTranspose", inputs, kernel_shape=list(op.kernel),
                     strides=_spatial(op.stride, nsp, 1), dilations=_spatial(op.dilate, nsp, 1),
                     pads=list(pad) + list(pad), output_padding=list(adj), group=int(op.num_group))]


@converts("Pooling")
def pooling(ctx, node, ins):
    """max/avg/sum/lp, global or windowed; 'full' is ONNX's ceil_mode, 'same' gets the
    end padding that yields symnorm's output size."""
    op = node.op
    _nchw(ctx, op)
    x = ins[0]
    shape = ctx.in_shape(0)
    if op.global_pool:
        if op.pool_type == "max":
            return [ctx.add1("GlobalMaxPool", [x])]
        if op.pool_type == "lp":
            return [ctx.add1("GlobalLpPool", [x], p=int(op.p_value or 2))]
        y = ctx.add1("GlobalAveragePool", [x])
        if op.pool_type == "sum":
            y = ctx.add1("Mul", [y, ctx.scalar(float(np.prod(shape[2:])))])
        return [y]
    nsp = len(op.kernel)
    kernel = [int(k) for k in op.kernel]
    stride = _spatial(op.stride, nsp, 1)
    pad = _spatial(op.pad, nsp, 0)
    pads, ceil = pad + pad, 0
    if op.pooling_convention != "valid":
        # the end padding that gives symnorm's output size; padded cells count as
        # -inf for max, 0 for sum/lp.  avg keeps ceil_mode, whose divisor (the window
        # clipped at the padded edge) is MXNet's
        if op.pool_type == "avg" and op.pooling_convention == "full":
            ceil = 1
        else:
            out = ctx.out_shape(0)[2:]
            end = [max(0, (o - 1) * s + k - h - p)
                   for o, s, k, h, p in zip(out, stride, kernel, shape[2:], pad)]
            pads = pad + end
    common = dict(kernel_shape=kernel, strides=stride, pads=pads)
    if op.pool_type == "max":
        return [ctx.add1("MaxPool", [x], **common)]
    if op.pool_type == "lp":
        return [ctx.add1("LpPool", [x], p=int(op.p_value or 2), **common)]
    include = op.count_include_pad is not False or op.pool_type == "sum"
    y = ctx.add1("AveragePool", [x], ceil_mode=ceil or None, count_include_pad=int(include), **common)
    if op.pool_type == "sum":
        y = ctx.add1("Mul", [y, ctx.scalar(float(np.prod(kernel)))])
    return [y]


_SIMPLE_ACTS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softrelu": "Softplus",
                "softsign": "Softsign"}


@converts("Activation")
def activation(ctx, node, ins):
    act = node.op.act_type
    x = ins[0]
    if act in _SIMPLE_ACTS:
        return [ctx.add1(_SIMPLE_ACTS[act], [x])]
    if act == "log_sigmoid":
        return [ctx.add1("Log", [ctx.add1("Sigmoid", [x])])]
    if act == "mish":
        return [ctx.add1("Mul", [x, ctx.add1("Tanh", [ctx.add1("Softplus", [x])])])]
    ctx.fail("act_type %r has no ONNX form" % act)


@converts("LeakyReLU")
def leaky_relu(ctx, node, ins):
    """rrelu in inference uses the mean slope (lower+upper)/2, as MXNet does."""
    op = node.op
    x = ins[0]
    act = op.act_type
    if act == "leaky":
        return [ctx.add1("LeakyRelu", [x], alpha=float(op.slope))]
    if act == "rrelu":
        return [ctx.add1("LeakyRelu", [x], alpha=float(op.lower_bound + op.upper_bound) / 2)]
    if act == "elu":
        return [ctx.add1("Elu", [x], alpha=float(op.slope))]
    if act == "selu":
        return [ctx.add1("Selu", [x], alpha=1.6732632423543772, gamma=1.0507009873554805)]
    if act == "gelu":
        if ctx.opset >= 20:
            return [ctx.add1("Gelu", [x])]
        erf = ctx.add1("Erf", [ctx.add1("Mul", [x, ctx.scalar(1 / math.sqrt(2))])])
        half = ctx.add1("Mul", [x, ctx.scalar(0.5)])
        return [ctx.add1("Mul", [half, ctx.add1("Add", [erf, ctx.scalar(1.0)])])]
    if act == "prelu":
        ndim = len(ctx.in_shape(0))
        slope = ins[1]
        if ndim > 2:            # gamma (C,) broadcast over axis 1
            slope = ctx.unsqueeze(slope, list(range(1, ndim - 1)))
        return [ctx.add1("PRelu", [x, slope])]
    ctx.fail("act_type %r has no ONNX form" % act)


@converts("Dropout")
def dropout(ctx, node, ins):
    """Identity in inference; ``mode='always'`` (MXNet drops in inference too, e.g. for
    Monte-Carlo dropout) becomes ONNX Dropout with training_mode on: a random mask,
    kept values scaled by 1/(1-p), as symnorm does."""
    op = node.op
    if op.mode == "always" and op.p > 0:
        if op.axes:
            ctx.fail("mode='always' with axes %s (a mask shared along axes) has no ONNX form"
                     % (op.axes,))
        return [ctx.add1("Dropout", [ins[0], ctx.scalar(float(op.p)),
                                     ctx.const(np.asarray(True), hint="training")])]
    return [ctx.add1("Identity", [ins[0]])]


@converts("Flatten")
def flatten(ctx, node, ins):
    return [ctx.add1("Flatten", [ins[0]], axis=1)]


@converts("Embedding")
def embedding(ctx, node, ins):
    idx = ctx.cast(ins[0], np.int64)
    return [ctx.add1("Gather", [ins[1], idx], axis=0)]


def _temperature(ctx, node, x):
    t = node.op.temperature
    return x if t is None or t == 1 else ctx.add1("Div", [x, ctx.scalar(float(t))])


@converts("softmax")
def softmax(ctx, node, ins):
    return [ctx.add1("Softmax", [_temperature(ctx, node, ins[0])], axis=int(node.op.axis))]


@converts("log_softmax")
def log_softmax(ctx, node, ins):
    return [ctx.add1("LogSoftmax", [_temperature(ctx, node, ins[0])], axis=int(node.op.axis))]
