"""Ops about shapes: shape_array, size_array (an input's shape as data), broadcast_axis
(broadcast_axes) and _identity_with_attr_like_rhs (MXNet 1.9.1 names, params and rules).

shape_array and size_array read only their input's shape, so no gradient flows through
them (MXNet gives the input zeros); their outputs are int64, as in MXNet.
"""
from __future__ import annotations

import numpy as np

from ..core.dims import norm_axis
from ..core.errors import ParamError, ShapeError
from ..core.params import Shape, param
from ..core.registry import Op, Result, register

_INT64 = np.dtype(np.int64)


@register
class shape_array(Op):
    """y = the shape of data as a 1-d int64 array (y[i] = data.shape[i]).  No gradient."""
    no_grad_inputs = ("data",)
    differentiable = False

    def infer_shape(self, data):
        if data is None:
            return None
        return (data,), ((len(data),),)

    def infer_type(self, data):
        return (data,), (_INT64,)

    def forward(self, data, *, train):
        return Result((np.array(data.shape, dtype=_INT64),))

    @classmethod
    def examples(cls):
        yield {}, {"data": (2, 3, 4)}


@register
class size_array(Op):
    """y = [prod(data.shape)], a 1-element int64 array.  No gradient."""
    no_grad_inputs = ("data",)
    differentiable = False

    def infer_shape(self, data):
        return (data,), ((1,),)

    def infer_type(self, data):
        return (data,), (_INT64,)

    def forward(self, data, *, train):
        return Result((np.array([data.size], dtype=_INT64),))

    @classmethod
    def examples(cls):
        yield {}, {"data": (2, 3)}


@register
class broadcast_axis(Op):
    """y = data broadcast along ``axis`` to ``size`` (y.shape[axis[i]] = size[i]; data must
    have size 1 on those axes).  Gradient: dy summed over those axes (keeping them)."""
    aliases = ("broadcast_axes",)
    axis: Shape = param((), doc="axes to broadcast (negative counts from the end)")
    size: Shape = param((), doc="target size of each axis")

    def check(self):
        if len(self.axis) != len(self.size):
            raise ParamError("axis %s and size %s must have the same length"
                             % (tuple(self.axis), tuple(self.size)))
        for s in self.size:
            if s <= 0:
                raise ParamError("size %s: every size must be positive" % (tuple(self.size),))

    def _axes(self, ndim):
        axes = [norm_axis(a, ndim) for a in self.axis]
        if len(set(axes)) != len(axes):
            raise ShapeError("axis %s names an axis twice" % (tuple(self.axis),))
        return axes

    def infer_shape(self, data):
        if data is None:
            return None
        out = list(data)
        for a, s in zip(self._axes(len(data)), self.size):
            if data[a] is not None and data[a] != 1:
                raise ShapeError("data %s: axis %d has size %d; broadcasting axis must have "
                                 "size 1" % (tuple(data), a, data[a]))
            out[a] = s
        ins = tuple(1 if i in self._axes(len(data)) else d for i, d in enumerate(data))
        return (ins,), (tuple(out),)

    def infer_shape_backward(self, ins, outs):
        out = outs[0]
        if out is None:
            return None
        axes = self._axes(len(out))
        return (tuple(1 if i in axes else d for i, d in enumerate(out)),)

    def shape_back_axes(self):
        return {"data": "all"}

    def forward(self, data, *, train):
        (out,) = self.infer_shape(data.shape)[1]
        return Result((np.array(np.broadcast_to(data, out), order="C"),))

    def backward(self, saved, dy):
        axes = tuple(self._axes(dy.ndim))
        return (dy.sum(axis=axes, keepdims=True) if axes else dy,)

    @classmethod
    def examples(cls):
        yield {"axis": (0, 2), "size": (3, 4)}, {"data": (1, 2, 1)}
        yield {"axis": (-1,), "size": (5,)}, {"data": (2, 1)}


@register(name="_identity_with_attr_like_rhs")
class IdentityWithAttrLikeRhs(Op):
    """y = lhs, with lhs, rhs and y sharing one shape and dtype (a shape constraint: rhs's
    shape reaches lhs in both directions of inference).  Gradient: dy to lhs, none to rhs."""
    inputs = ("lhs", "rhs")
    no_grad_inputs = ("rhs",)

    def forward(self, lhs, rhs, *, train):
        return Result((lhs.copy(),))

    def backward(self, saved, dy):
        return dy, None

    @classmethod
    def examples(cls):
        yield {}, {"lhs": (2, 3), "rhs": (2, 3)}

