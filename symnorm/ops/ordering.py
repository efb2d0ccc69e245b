"""Ordering: topk, sort, argsort (MXNet 1.9.1 names, params, outputs and dtypes).

Ties keep their input order (a stable sort, ascending or descending), as MXNet's CPU
kernels do: topk([1, 3, 3, 0], k=2) gives indices [1, 2].  ``axis=None`` works on the
flattened input.  Index outputs have the ``dtype`` param's type (float32 by default, MXNet
1.x); the hidden index output of sort and of topk(ret_typ='value') is int32.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..core.dims import norm_axis, prod
from ..core.errors import ShapeError
from ..core.params import param
from ..core.registry import Op, Result, register

INDEX_DTYPES = ("uint8", "int32", "int64", "float16", "float32", "float64")
"""MXNet's choices for the dtype of topk's and argsort's index output."""


def _order(x, ascending: bool):
    """Stable argsort along the last axis; descending keeps ties in input order too."""
    if ascending:
        return np.argsort(x, axis=-1, kind="stable")
    n = x.shape[-1]
    return n - 1 - np.argsort(x[..., ::-1], axis=-1, kind="stable")[..., ::-1]


class _Ranked(Op):
    """Shared by the three: the axis handling and the sorted positions."""
    axis: Optional[int] = param(-1, doc="the axis to order along; None: the flattened input")

    def _count(self, data):
        """(normalised axis or None, number of elements ordered: None if unknown)."""
        if self.axis is None:
            return None, (None if None in data else prod(data))
        ax = norm_axis(self.axis, len(data))
        return ax, data[ax]

    def _rows(self, data):
        """data with the ordered axis last (flattened for axis=None), and that axis."""
        if self.axis is None:
            return data.reshape(-1), None
        ax = self.axis % data.ndim
        return np.moveaxis(data, ax, -1), ax

    @staticmethod
    def _back(rows, ax):
        """Undo ``_rows`` on an array laid out like its result (the last axis may be
        shorter); for axis=None the flat result stays flat."""
        return rows if ax is None else np.array(np.moveaxis(rows, -1, ax), order="C")

    def _scatter(self, top, dy, shape):
        """The gradient of taking the elements at ``top``: dy put back where they came from
        (each element is taken at most once, so nothing accumulates)."""
        dx, ax = self._rows(np.zeros(shape, dy.dtype))
        dy_rows = dy if ax is None else np.moveaxis(dy, ax, -1)
        np.put_along_axis(dx, top, dy_rows, -1)     # dx is a view of a fresh array
        return self._back(dx, ax).reshape(shape)


@register
class topk(_Ranked):
    """The k largest (``is_ascend``: smallest) elements along ``axis``: ``ret_typ`` 'indices'
    (default) gives their positions, 'value' their values, 'both' values then positions,
    'mask' a 0/1 array of data's shape marking them.  k <= 0 takes every element.
    Gradient (value/both): dy to the chosen elements; indices and mask have none."""
    outputs = ("output0", "output1")
    no_grad_outputs = ("output1",)
    k: int = param(1, doc="how many elements; k <= 0: all of them")
    ret_typ: str = param("indices", choices=("value", "indices", "mask", "both"))
    is_ascend: bool = param(False, doc="take the smallest instead of the largest")
    dtype: str = param("float32", choices=INDEX_DTYPES, doc="dtype of the index output")

    def output_names(self):
        # MXNet: 'value' has a hidden second output (the indices), 'both' shows it
        return ("output",) if self.ret_typ in ("indices", "mask") else self.outputs

    def num_visible_outputs(self):
        return 2 if self.ret_typ == "both" else 1

    def _k(self, n):
        if n is None:
            return None if self.k <= 0 else self.k
        if self.k > n:
            raise ShapeError("k=%d is larger than the %d elements along axis %s"
                             % (self.k, n, self.axis))
        return n if self.k <= 0 else self.k

    def infer_shape(self, data):
        if data is None:
            return None
        ax, n = self._count(data)
        k = self._k(n)
        if self.ret_typ == "mask":
            return (data,), (data,)
        out = (k,) if ax is None else tuple(k if i == ax else d for i, d in enumerate(data))
        return (data,), (out,) * len(self.output_names())

    def shape_back_axes(self):
        if self.ret_typ == "mask":
            return {"data": "all"}
        return {} if self.axis is None else {"data": "all-but-%d" % self.axis}

    def infer_shape_backward(self, ins, outs):
        out = next((o for o in outs if o is not None), None)
        if out is None:
            return None
        if self.ret_typ == "mask":
            return (out,)
        if self.axis is None:
            return None
        ax = norm_axis(self.axis, len(out))
        return (tuple(None if i == ax else d for i, d in enumerate(out)),)

    def infer_type(self, data):
        index = np.dtype(self.dtype)
        if self.ret_typ == "indices":
            return (data,), (index,)
        if data is None:
            return None
        if self.ret_typ == "mask":
            return (data,), (data,)
        return (data,), (data, index if self.ret_typ == "both" else np.dtype(np.int32))

    def forward(self, data, *, train):
        rows, ax = self._rows(data)
        top = _order(rows, self.is_ascend)[..., :self._k(rows.shape[-1])]
        if self.ret_typ == "mask":
            mask = np.zeros(rows.shape, data.dtype)
            np.put_along_axis(mask, top, 1, -1)
            return Result((self._back(mask, ax).reshape(data.shape),))
        index = self._back(top, ax)
        if self.ret_typ == "indices":
            return Result((index.astype(self.dtype),))
        values = self._back(np.take_along_axis(rows, top, -1), ax)
        itype = self.dtype if self.ret_typ == "both" else np.int32
        return Result((values, index.astype(itype)), saved=(top, data.shape))

    def backward(self, saved, dy):
        if self.ret_typ in ("indices", "mask") or dy is None:
            return (None,)
        top, shape = saved
        return (self._scatter(top, dy, shape),)

    @classmethod
    def examples(cls):
        yield {"k": 2, "ret_typ": "value"}, {"data": (2, 5)}
        yield {"k": 2, "ret_typ": "both", "axis": 0, "is_ascend": True}, {"data": (4, 3)}
        yield {"k": 3, "dtype": "int32"}, {"data": (2, 3, 4)}
        yield {"k": 2, "ret_typ": "mask", "axis": None}, {"data": (2, 3)}
        yield {"k": 0, "ret_typ": "value", "axis": None}, {"data": (2, 3)}


@register
class sort(_Ranked):
    """Sorted copy along ``axis`` (ascending unless ``is_ascend=False``; axis=None sorts
    the flattened input).  A hidden second output holds the int32 positions, as MXNet.
    Gradient: dy put back where each element came from."""
    outputs = ("output0", "output1")
    no_grad_outputs = ("output1",)
    is_ascend: bool = param(True)

    def num_visible_outputs(self):
        return 1

    def infer_shape(self, data):
        if data is None:
            return None
        ax, n = self._count(data)
        out = (n,) if ax is None else tuple(data)
        return (data,), (out, out)

    def shape_back_axes(self):
        return {} if self.axis is None else {"data": "all"}

    def infer_shape_backward(self, ins, outs):
        out = next((o for o in outs if o is not None), None)
        return None if out is None or self.axis is None else (out,)

    def infer_type(self, data):
        return None if data is None else ((data,), (data, np.dtype(np.int32)))

    def forward(self, data, *, train):
        rows, ax = self._rows(data)
        order = _order(rows, self.is_ascend)
        values = self._back(np.take_along_axis(rows, order, -1), ax)
        return Result((values, self._back(order, ax).astype(np.int32)),
                      saved=(order, data.shape))

    def backward(self, saved, dy):
        order, shape = saved
        return (self._scatter(order, dy, shape),)

    @classmethod
    def examples(cls):
        yield {}, {"data": (2, 5)}
        yield {"axis": 0, "is_ascend": False}, {"data": (3, 2, 2)}
        yield {"axis": None}, {"data": (2, 3)}


@register
class argsort(_Ranked):
    """Positions that would sort ``data`` along ``axis`` (stable), in the ``dtype`` param's
    type (float32 by default).  No gradient (MXNet: zeros)."""
    differentiable = False
    is_ascend: bool = param(True)
    dtype: str = param("float32", choices=INDEX_DTYPES, doc="dtype of the output")

    def infer_shape(self, data):
        if data is None:
            return None
        ax, n = self._count(data)
        return (data,), ((n,) if ax is None else tuple(data),)

    def shape_back_axes(self):
        return {} if self.axis is None else {"data": "all"}

    def infer_shape_backward(self, ins, outs):
        return None if outs[0] is None or self.axis is None else (outs[0],)

    def infer_type(self, data):
        return (data,), (np.dtype(self.dtype),)

    def forward(self, data, *, train):
        rows, ax = self._rows(data)
        return Result((self._back(_order(rows, self.is_ascend), ax).astype(self.dtype),))

    @classmethod
    def examples(cls):
        yield {}, {"data": (2, 5)}
        yield {"axis": 0, "is_ascend": False, "dtype": "int64"}, {"data": (3, 4)}
