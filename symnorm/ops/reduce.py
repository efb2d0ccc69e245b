"""Reductions over axes: sum, mean, max, min (MXNet 1.9.1 names)."""
from __future__ import annotations

import numpy as np

from typing import Optional

from ..core.dims import norm_axis, prod
from ..core.params import Shape, param
from ..core.registry import Op, Result, register


# ============================================================ reductions

def reduced_shape(data: tuple, axes, keepdims: bool) -> tuple:
    """The shape of ``data`` reduced over ``axes``: size 1 there with ``keepdims``, else
    dropped, and (1,) for a full reduction (MXNet 1.x has no 0-d arrays)."""
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(data))
    return tuple(d for i, d in enumerate(data) if i not in axes) or (1,)


class _Reduce(Op):
    """Reduce over ``axis`` (all axes when empty); ``exclude`` reduces over the others.
    As in MXNet 1.x, a reduction never gives a 0-d array: reducing every axis without
    ``keepdims`` gives shape (1,)."""
    axis: Optional[Shape] = param((), doc="axes to reduce; () or None means all")
    keepdims: bool = param(False)
    exclude: bool = param(False, doc="reduce over the axes NOT listed")

    def _axes(self, ndim):
        if not self.axis:       # all axes, with exclude too (MXNet: nothing to leave out)
            return tuple(range(ndim))
        axes = tuple(norm_axis(a, ndim) for a in self.axis)
        if self.exclude:
            axes = tuple(i for i in range(ndim) if i not in axes)
        return axes

    def infer_shape(self, data):
        if data is None:
            return None
        return (data,), (reduced_shape(data, self._axes(len(data)), self.keepdims),)

    def _out(self, y, data):
        """A reduction's result in the data's dtype, (1,) where numpy gives a scalar."""
        y = np.asarray(y, data.dtype)
        return y.reshape(1) if y.ndim == 0 else y

    def _expand(self, g, shape):
        """Bring a reduced gradient back to the input's rank for broadcasting."""
        axes = self._axes(len(shape))
        return g.reshape(tuple(1 if i in axes else d for i, d in enumerate(shape)))

    @classmethod
    def examples(cls):
        yield {"axis": (1,)}, {"data": (2, 3, 4)}
        yield {"axis": (0, 2), "keepdims": True}, {"data": (2, 3, 4)}
        yield {"axis": (1,), "exclude": True}, {"data": (2, 3, 4)}
        yield {}, {"data": (2, 3)}                      # every axis: shape (1,)


@register(name="sum")
class Sum(_Reduce):
    """out = Σ data over the reduced axes"""
    aliases = ("sum_axis",)

    def forward(self, data, *, train):
        out = data.sum(axis=self._axes(data.ndim), keepdims=self.keepdims)
        return Result((self._out(out, data),), None, data.shape)

    def backward(self, shape, dy):
        return (np.broadcast_to(self._expand(dy, shape), shape).copy(),)


@register(name="mean")
class Mean(_Reduce):
    """out = mean of data over the reduced axes"""

    def forward(self, data, *, train):
        out = data.mean(axis=self._axes(data.ndim), keepdims=self.keepdims)
        return Result((self._out(out, data),), None, data.shape)

    def backward(self, shape, dy):
        n = prod(shape[i] for i in self._axes(len(shape)))
        return (np.broadcast_to(self._expand(dy, shape) / dy.dtype.type(n), shape).copy(),)


class _Extreme(_Reduce):
    """max/min: the gradient goes to every position equal to the extreme (as MXNet does)."""

    def forward(self, data, *, train):
        out = self._out(self.fn(data, axis=self._axes(data.ndim), keepdims=self.keepdims), data)
        return Result((out,), None, (data, out))

    def backward(self, saved, dy):
        x, y = saved
        hit = x == self._expand(y, x.shape)
        return (hit * self._expand(dy, x.shape),)


@register(name="max")
class Max(_Extreme):
    """out = max of data over the reduced axes"""
    aliases = ("max_axis",)
    fn = staticmethod(np.max)


@register(name="min")
class Min(_Extreme):
    """out = min of data over the reduced axes"""
    aliases = ("min_axis",)
    fn = staticmethod(np.min)
