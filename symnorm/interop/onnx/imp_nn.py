"""Import of ONNX layer ops: Conv, ConvTranspose, Gemm/MatMul, pooling, normalization,
activations, softmax, Dropout."""
from __future__ import annotations

import numpy as np

from symnorm import sym as S
from .tables import table

IMPORTERS, imports = table()


def _symmetric_pads(ctx, pads, nsp):
    if not pads:
        return (0,) * nsp
    begin, end = tuple(pads[:nsp]), tuple(pads[nsp:])
    if begin != end:
        ctx.fail("asymmetric pads %s (begin %s, end %s) have no symnorm form" % (list(pads), begin, end))
    return begin


def _no_auto_pad(ctx, a):
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        ctx.fail("auto_pad=%r is not supported; export with explicit pads" % a["auto_pad"])


def _conv_parts(ctx):
    """What Conv and ConvTranspose share: (attrs, weight constant, spatial rank, the
    symnorm params kernel/stride/dilate/pad/num_group, the inputs data/weight[/bias])."""
    a = ctx.attrs()
    _no_auto_pad(ctx, a)
    w = ctx.need_const(1, "weight")
    nsp = w.ndim - 2
    kw = dict(kernel=tuple(a.get("kernel_shape", w.shape[2:])),
              stride=tuple(a.get("strides", (1,) * nsp)), dilate=tuple(a.get("dilations", (1,) * nsp)),
              pad=_symmetric_pads(ctx, a.get("pads"), nsp), num_group=int(a.get("group", 1)))
    ins = dict(data=ctx.sym(0), weight=ctx.param(1, "weight"), no_bias=not ctx.has(2))
    if ctx.has(2):
        ins["bias"] = ctx.param(2, "bias")
    return a, w, nsp, kw, ins


@imports("Conv")
def conv(ctx, node):
    a, w, nsp, kw, ins = _conv_parts(ctx)
    return [S.Convolution(name=ctx.name, num_filter=int(w.shape[0]), **ins, **kw)]


@imports("ConvTranspose")
def conv_transpose(ctx, node):
    a, w, nsp, kw, ins = _conv_parts(ctx)
    kw["adj"] = tuple(a.get("output_padding", (0,) * nsp))
    if "output_shape" in a:
        kw["target_shape"] = tuple(a["output_shape"][-nsp:])
    return [S.Deconvolution(name=ctx.name, num_filter=int(w.shape[1]) * kw["num_group"], **ins, **kw)]


@imports("Gemm")
def gemm(ctx, node):
    """alpha*A'B' + beta*C -> FullyConnected when B is a weight (scales folded into it)."""
    a = ctx.attrs()
    if a.get("transA", 0):
        ctx.fail("transA=1 is not supported")
    b = ctx.need_const(1, "B")
    w = b if a.get("transB", 0) else b.T
    alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
    if alpha != 1.0:
        w = w * np.asarray(alpha, w.dtype)
    ins = dict(data=ctx.sym(0),
               weight=ctx.param(1, "weight", None if w is b else np.ascontiguousarray(w)))
    if ctx.has(2):
        c = ctx.const(2)
        if c is None or c.size not in (1, w.shape[0]):
            ctx.fail("C must be a constant bias of %d values" % w.shape[0])
        c = np.broadcast_to(c.reshape(-1), (w.shape[0],))
        ins["bias"] = ctx.param(2, "bias", np.ascontiguousarray(c * np.asarray(beta, c.dtype))
                                if beta != 1.0 or c.shape != ctx.const(2).shape else None)
    return [S.FullyConnected(name=ctx.name, num_hidden=int(w.shape[0]), no_bias=not ctx.has(2), **ins)]


@imports("MatMul")
def matmul(ctx, node):
    """x @ W with a 2-D weight: FullyConnected(flatten=False) on W^T; else dot/batch_dot."""
    b = ctx.const(1)
    if b is not None and b.ndim == 2:
        w = ctx.param(1, "weight", np.ascontiguousarray(b.T))
        return [S.FullyConnected(data=ctx.sym(0), weight=w, num_hidden=int(b.shape[1]), no_bias=True,
                                 flatten=False, name=ctx.name)]
    sa, sb = ctx.shape(0), ctx.shape(1)
    if sa is not None and sb is not None and len(sa) == len(sb) == 2:
        return [S.dot(ctx.sym(0), ctx.sym(1), name=ctx.name)]
    if sa is not None and sb is not None and len(sa) == len(sb) == 3:
        return [S.batch_dot(ctx.sym(0), ctx.sym(1), name=ctx.name)]
    ctx.fail("MatMul of shapes %s and %s: only a constant 2-D right side, 2-D x 2-D or "
             "3-D x 3-D are supported" % (sa, sb))


@imports("BatchNormalization")
def batch_norm(ctx, node):
    """BatchNorm with the running statistics as aux states (trainable afterwards)."""
    a = ctx.attrs()
    if len([o for o in node.output if o]) > 1:
        ctx.fail("training-mode BatchNormalization (running mean/var outputs) is not supported")
    return [S.BatchNorm(data=ctx.sym(0), gamma=ctx.param(1, "gamma"), beta=ctx.param(2, "beta"),
                        moving_mean=ctx.param(3, "moving_mean", aux=True),
                        moving_var=ctx.param(4, "moving_var", aux=True),
                        eps=float(a.get("epsilon", 1e-5)), momentum=float(a.get("momentum", 0.9)),
                        fix_gamma=False, name=ctx.name)]


@imports("InstanceNormalization")
def instance_norm(ctx, node):
    return [S.InstanceNorm(data=ctx.sym(0), gamma=ctx.param(1, "gamma"), beta=ctx.param(2, "beta"),
                           eps=float(ctx.attrs().get("epsilon", 1e-5)), name=ctx.name)]


@imports("LayerNormalization")
def layer_norm(ctx, node):
    a = ctx.attrs()
    shape = ctx.shape(0)
    axis = int(a.get("axis", -1))
    if shape is None or axis % len(shape) != len(shape) - 1:
        ctx.fail("axis=%d over data of shape %s: symnorm's LayerNorm normalizes one axis, "
                 "only the last is supported" % (axis, shape))
    if int(a.get("stash_type", 1)) != 1 or len([o for o in node.output if o]) > 1:
        ctx.fail("only the normalized output (stash_type=1) is supported")
    beta = ctx.param(2, "beta") if ctx.has(2) else ctx.param(1, "beta", np.zeros(shape[-1], np.float32))
    return [S.LayerNorm(data=ctx.sym(0), gamma=ctx.param(1, "gamma"), beta=beta, axis=-1,
                        eps=float(a.get("epsilon", 1e-5)), name=ctx.name)]


@imports("GroupNormalization")
def group_norm(ctx, node):
    """symnorm's (MXNet 1.x's) GroupNorm has one gamma/beta per group: a per-channel
    scale/bias (opset 21) imports when it is constant within each group."""
    a = ctx.attrs()
    g = int(a["num_groups"])
    scale, bias = ctx.need_const(1, "scale"), ctx.need_const(2, "bias")
    if scale.size != g:
        per = scale.reshape(g, -1), bias.reshape(g, -1)
        if any((p != p[:, :1]).any() for p in per):
            ctx.fail("per-channel scale/bias that differ within a group have no symnorm form "
                     "(GroupNorm's gamma/beta are per group)")
        scale, bias = per[0][:, 0], per[1][:, 0]
    return [S.GroupNorm(data=ctx.sym(0), gamma=ctx.param(1, "gamma", np.ascontiguousarray(scale)),
                        beta=ctx.param(2, "beta", np.ascontiguousarray(bias)), num_groups=g,
                        eps=float(a.get("epsilon", 1e-5)), name=ctx.name)]


def _pool(pool_type):
    def convert(ctx, node):
        a = ctx.attrs()
        _no_auto_pad(ctx, a)
        kernel = tuple(a["kernel_shape"])
        nsp = len(kernel)
        if any(d != 1 for d in a.get("dilations", ())):
            ctx.fail("dilated pooling is not supported")
        stride = tuple(a.get("strides", (1,) * nsp))
        pads = list(a.get("pads", [0] * 2 * nsp))
        convention = "full" if a.get("ceil_mode", 0) else "valid"
        if pads[:nsp] != pads[nsp:] and not a.get("ceil_mode", 0):
            # extra end padding (what symnorm writes for 'full'): 'full' when the sizes agree
            pads, convention = _as_full(ctx, pads, kernel, stride, pool_type, a)
        kw = dict(kernel=kernel, pool_type=pool_type, stride=stride,
                  pad=_symmetric_pads(ctx, pads, nsp), pooling_convention=convention)
        if pool_type == "avg":
            kw["count_include_pad"] = bool(a.get("count_include_pad", 0))
        if pool_type == "lp":
            kw["p_value"] = int(a.get("p", 2))
        return [S.Pooling(ctx.sym(0), name=ctx.name, **kw)]
    return convert


def _as_full(ctx, pads, kernel, stride, pool_type, a):
    """Pads (begin p, end e >= p) that give ceil((h + 2p - k) / s) + 1 outputs per axis
    are MXNet's 'full' convention with pad p (padding never counts: max, or avg without
    count_include_pad)."""
    nsp = len(kernel)
    shp = ctx.shape(0)
    if shp is None or any(d is None for d in shp[2:]) or (pool_type == "avg" and a.get("count_include_pad", 0)):
        ctx.fail("asymmetric pads %s have no symnorm form" % pads)
    begin, end = pads[:nsp], pads[nsp:]
    for h, k, s, p, e in zip(shp[2:], kernel, stride, begin, end):
        if e < p or (h + p + e - k) // s + 1 != -(-(h + 2 * p - k) // s) + 1:
            ctx.fail("asymmetric pads %s have no symnorm form" % pads)
    return begin + begin, "full"


IMPORTERS["MaxPool"] = _pool("max")
IMPORTERS["AveragePool"] = _pool("avg")
IMPORTERS["LpPool"] = _pool("lp")


def _global(pool_type):
    def convert(ctx, node):
        kw = {"p_value": int(ctx.attrs().get("p", 2))} if pool_type == "lp" else {}
        return [S.Pooling(ctx.sym(0), global_pool=True, kernel=(1, 1), pool_type=pool_type,
                          name=ctx.name, **kw)]
    return convert


IMPORTERS["GlobalMaxPool"] = _global("max")
IMPORTERS["GlobalAveragePool"] = _global("avg")
IMPORTERS["GlobalLpPool"] = _global("lp")

_ACT = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Softplus": "softrelu", "Softsign": "softsign"}


def _act(act):
    def convert(ctx, node):
        return [S.Activation(ctx.sym(0), act_type=act, name=ctx.name)]
    return convert


for _k, _v in _ACT.items():
    IMPORTERS[_k] = _act(_v)


@imports("LeakyRelu")
def leaky(ctx, node):
    return [S.LeakyReLU(ctx.sym(0), act_type="leaky", slope=float(ctx.attrs().get("alpha", 0.01)),
                        name=ctx.name)]


@imports("Elu")
def elu(ctx, node):
    return [S.LeakyReLU(ctx.sym(0), act_type="elu", slope=float(ctx.attrs().get("alpha", 1.0)), name=ctx.name)]


@imports("Selu")
def selu(ctx, node):
    a = ctx.attrs()
    if abs(a.get("alpha", 1.67326) - 1.6732632) > 1e-4 or abs(a.get("gamma", 1.0507) - 1.0507010) > 1e-4:
        ctx.fail("only the standard SELU constants are supported")
    return [S.LeakyReLU(ctx.sym(0), act_type="selu", name=ctx.name)]


@imports("Gelu")
def gelu(ctx, node):
    if ctx.attrs().get("approximate", b"none") not in (b"none", "none"):
        ctx.fail("the tanh approximation of GELU is not supported")
    return [S.LeakyReLU(ctx.sym(0), act_type="gelu", name=ctx.name)]


@imports("PRelu")
def prelu(ctx, node):
    slope = ctx.need_const(1, "slope").reshape(-1)
    return [S.LeakyReLU(data=ctx.sym(0), gamma=ctx.param(1, "gamma", np.ascontiguousarray(slope)),
                        act_type="prelu", name=ctx.name)]


def _softmax(op):
    def convert(ctx, node):
        return [getattr(S, op)(ctx.sym(0), axis=int(ctx.attrs().get("axis", -1)), name=ctx.name)]
    return convert


IMPORTERS["Softmax"] = _softmax("softmax")
IMPORTERS["LogSoftmax"] = _softmax("log_softmax")


@imports("Dropout")
def dropout(ctx, node):
    """Inference: the identity (a Dropout layer, so training a re-imported net drops)."""
    ratio = ctx.const(1)
    p = float(ctx.attrs().get("ratio", 0.5) if ratio is None else ratio)
    return [S.Dropout(ctx.sym(0), p=p, name=ctx.name)]
