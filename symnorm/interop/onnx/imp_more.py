"""Import of the ONNX ops that map onto the parity issue's part B ops: the trigonometric
and hyperbolic functions and Erf, HardSigmoid, ReduceProd/ReduceL1/ReduceL2, LRN,
DepthToSpace (DCR) and SpaceToDepth."""
from __future__ import annotations

import numpy as np

from symnorm import sym as S
from .imp_tensor import _axes
from .tables import table

IMPORTERS, imports = table()

_UNARY = {"Tan": "tan", "Asin": "arcsin", "Acos": "arccos", "Atan": "arctan", "Sinh": "sinh",
          "Cosh": "cosh", "Asinh": "arcsinh", "Acosh": "arccosh", "Atanh": "arctanh",
          "Erf": "erf"}
_UNARY_NP = {"Tan": np.tan, "Asin": np.arcsin, "Acos": np.arccos, "Atan": np.arctan,
             "Sinh": np.sinh, "Cosh": np.cosh, "Asinh": np.arcsinh, "Acosh": np.arccosh,
             "Atanh": np.arctanh, "Erf": None}


def _unary(onnx_op):
    def convert(ctx, node):
        v = ctx.const(0)
        if v is not None and _UNARY_NP[onnx_op] is not None:
            return [_UNARY_NP[onnx_op](v)]            # folded, like the other constants
        return [getattr(S, _UNARY[onnx_op])(ctx.sym(0), name=ctx.name)]
    return convert


for _op in _UNARY:
    IMPORTERS[_op] = _unary(_op)


@imports("HardSigmoid")
def hard_sigmoid(ctx, node):
    a = ctx.attrs()
    return [S.hard_sigmoid(ctx.sym(0), alpha=float(a.get("alpha", 0.2)), beta=float(a.get("beta", 0.5)),
                           name=ctx.name)]


def _reducer(make):
    def convert(ctx, node):
        a = ctx.attrs()
        axes = _axes(ctx)     # the attribute (before opset 18) or the constant input
        if not axes and a.get("noop_with_empty_axes", 0):
            return [ctx.sym(0)]
        return [make(ctx, tuple(axes) if axes else None, bool(a.get("keepdims", 1)))]
    return convert


IMPORTERS["ReduceProd"] = _reducer(lambda ctx, axes, keep: S.prod(
    ctx.sym(0), axis=axes or (), keepdims=keep, name=ctx.name))
IMPORTERS["ReduceL1"] = _reducer(lambda ctx, axes, keep: S.norm(
    ctx.sym(0), ord=1, axis=axes, keepdims=keep, name=ctx.name))
IMPORTERS["ReduceL2"] = _reducer(lambda ctx, axes, keep: S.norm(
    ctx.sym(0), ord=2, axis=axes, keepdims=keep, name=ctx.name))


@imports("LRN")
def lrn(ctx, node):
    a = ctx.attrs()
    size = int(a["size"])
    if size % 2 != 1:
        ctx.fail("LRN size %d: only odd (centred) windows are supported" % size)
    return [S.LRN(ctx.sym(0), alpha=float(a.get("alpha", 1e-4)), beta=float(a.get("beta", 0.75)),
                  knorm=float(a.get("bias", 1.0)), nsize=size, name=ctx.name)]


@imports("DepthToSpace")
def depth_to_space(ctx, node):
    a = ctx.attrs()
    mode = a.get("mode", b"DCR")
    if mode not in (b"DCR", "DCR"):
        ctx.fail("mode %r: only DCR (MXNet's order) is supported" % (mode,))
    return [S.depth_to_space(ctx.sym(0), block_size=int(a["blocksize"]), name=ctx.name)]


@imports("SpaceToDepth")
def space_to_depth(ctx, node):
    return [S.space_to_depth(ctx.sym(0), block_size=int(ctx.attrs()["blocksize"]), name=ctx.name)]
