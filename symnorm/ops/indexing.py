"""Choosing elements by condition or index, and finding extremes: where, pick, take,
batch_take, one_hot, argmax, argmin, argmax_channel (MXNet 1.9.1 names, params and dtypes;
topk, sort and argsort are in ordering.py).

Index inputs may be any real dtype: a float index is truncated toward zero, as MXNet's
``static_cast<int>`` does; NaN or infinite indices are refused (``DataError``).  Index
inputs never receive a gradient (MXNet gives them zeros).  Integer-valued *outputs* keep
MXNet 1.x's dtypes: argmax's has the input's dtype, one_hot's its ``dtype`` param.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..core.dims import merge, norm_axis, prod
from ..core.dtype import int_labels
from ..core.errors import DataError, ParamError, ShapeError
from ..core.params import param
from ..core.registry import Op, Result, register

def _index(a, op: str, slot: str) -> np.ndarray:
    """Indices as int64, truncated toward zero; NaN/inf refused naming the op and slot."""
    return int_labels(a, "%s: %s" % (op, slot))


def _fix(idx, n: int, mode: str, op: str, slot: str) -> np.ndarray:
    """Out-of-range indices per ``mode``: 'clip' to [0, n), 'wrap' modulo n (Python's sign
    rule: -1 is n-1), 'raise' refuses."""
    if mode == "clip":
        return np.clip(idx, 0, n - 1)
    if mode == "wrap":
        return np.mod(idx, n)
    bad = (idx < 0) | (idx >= n)
    if bad.any():
        raise DataError("%s: %s holds %d, out of range [0, %d) (mode='raise')"
                        % (op, slot, int(idx[bad].flat[0]), n))
    return idx


def _drop(shape, ax):
    return tuple(shape[:ax]) + tuple(shape[ax + 1:])


# ============================================================ where

@register
class where(Op):
    """out = x where condition != 0, else y.  ``condition`` has x's shape, or is 1-D with
    x.shape[0] entries and chooses whole rows.  Gradients: dx = dy·[c≠0], dy_ = dy·[c=0];
    the condition gets none."""
    inputs = ("condition", "x", "y")
    no_grad_inputs = ("condition",)
    shape_back = {"x": "all", "y": "all"}

    def infer_shape(self, condition, x, y):
        common = merge(x, y, "x vs y")
        if common is None and condition is not None and len(condition) >= 2:
            common = condition                 # only x's own shape is 2-d or more
        if common is None:
            return None
        if condition is not None:
            if len(condition) == len(common):
                condition = merge(condition, common, "condition vs x")
            elif len(condition) == 1 and common:
                merge(condition, common[:1], "condition (1-d) vs x's first dim")
            else:
                raise ShapeError("condition must have x's shape %s or be 1-d of size x.shape[0], "
                                 "got %s" % (common, condition))
        return (condition, common, common), (common,)

    def infer_shape_backward(self, ins, outs):
        return None if outs[0] is None else (None, outs[0], outs[0])

    def infer_type(self, condition, x, y):
        dt = x if x is not None else y
        return None if dt is None else ((condition, dt, dt), (dt,))

    def forward(self, condition, x, y, *, train):
        c = condition != 0
        if c.ndim != x.ndim:                     # 1-d: one choice per row
            c = c.reshape(c.shape + (1,) * (x.ndim - 1))
        return Result((np.where(c, x, y),), saved=c)

    def backward(self, c, dy):
        zero = np.zeros((), dy.dtype)
        return None, np.where(c, dy, zero), np.where(c, zero, dy)

    @classmethod
    def examples(cls):
        yield {}, {"condition": (2, 3), "x": (2, 3), "y": (2, 3)}
        yield {}, {"condition": (2,), "x": (2, 3), "y": (2, 3)}


# ============================================================ pick, take, batch_take

@register
class pick(Op):
    """out[i..., j...] = data[i..., index[i..., j...], j...] along ``axis``; ``keepdims``
    keeps the axis with size 1.  ``index`` has data's shape without the axis, or with it as
    size 1 ((1,) for 1-d data, whose output is (1,) too, as MXNet).  Gradient: dy scattered
    back to the picked positions."""
    aliases = ("choose_element_0index",)
    inputs = ("data", "index")
    no_grad_inputs = ("index",)
    input_range = {"index": (-1.0, 4.0)}       # some out of range: exercises the mode
    axis: Optional[int] = param(-1, doc="the axis to pick along (None is refused, as MXNet)")
    keepdims: bool = param(False)
    mode: str = param("clip", choices=("clip", "wrap"), doc="out-of-range indices")

    def check(self):
        if self.axis is None:
            raise ParamError("axis=None is not supported by pick (MXNet 1.9.1 refuses it "
                             "too); give an axis")

    def infer_shape(self, data, index):
        if data is None:
            return None
        ax = norm_axis(self.axis, len(data))
        if index is not None and len(index) == len(data) > 1:
            # MXNet also takes the index with the axis kept as size 1
            if index[ax] not in (1, None):
                raise ShapeError("index of data's rank must have size 1 on axis %d, got %s"
                                 % (ax, tuple(index)))
            rest = merge(_drop(index, ax), _drop(data, ax), "index vs data without axis %d" % ax)
            index = tuple(rest[:ax]) + (1,) + tuple(rest[ax:])
            return (data, index), (index if self.keepdims else rest,)
        index = merge(index, _drop(data, ax) or (1,), "index vs data without axis %d" % ax)
        out = tuple(index[:ax]) + (1,) + tuple(index[ax:]) if self.keepdims else index
        return (data, index), ((1,) if len(data) == 1 else out,)

    def shape_back_axes(self):
        return {"index": "all", "data": "all-but-%d" % self.axis}

    def infer_shape_backward(self, ins, outs):
        out = outs[0]
        if out is None:
            return None
        nd = len(out) if self.keepdims else len(out) + 1
        ax = norm_axis(self.axis, nd)
        rest = _drop(out, ax) if self.keepdims else tuple(out)
        return rest[:ax] + (None,) + rest[ax:], rest

    def infer_type(self, data, index):
        return None if data is None else ((data, index), (data,))

    def forward(self, data, index, *, train):
        ax = self.axis % data.ndim
        idx = _fix(_index(index, "pick", "index"), data.shape[ax], self.mode, "pick", "index")
        if data.ndim == 1:          # index and output (1,)
            idx = idx.reshape(1)
            return Result((np.take_along_axis(data, idx, 0),), saved=(idx, data.shape))
        if idx.ndim < data.ndim:
            idx = np.expand_dims(idx, ax)
        out = np.take_along_axis(data, idx, ax)
        return Result((out if self.keepdims else out.squeeze(ax),), saved=(idx, data.shape))

    def backward(self, saved, dy):
        idx, shape = saved
        ax = self.axis % len(shape)
        dx = np.zeros(shape, dy.dtype)
        # one pick per fibre: no two picks land on one element, so no accumulation
        np.put_along_axis(dx, idx, dy.reshape(idx.shape), ax)
        return dx, None

    @classmethod
    def examples(cls):
        yield {}, {"data": (2, 4), "index": (2,)}
        yield {"axis": 0, "keepdims": True, "mode": "wrap"}, {"data": (3, 2, 2), "index": (2, 2)}


@register
class take(Op):
    """out = a indexed along ``axis`` by ``indices``: shape a[:axis] + indices + a[axis+1:].
    ``mode``: 'clip' (default) clamps, 'wrap' wraps, 'raise' refuses out-of-range indices.
    Gradient: dy summed into the rows taken (a row taken twice gets both)."""
    inputs = ("a", "indices")
    no_grad_inputs = ("indices",)
    input_range = {"indices": (-1.0, 4.0)}
    axis: int = param(0, doc="the axis of a to take along")
    mode: str = param("clip", choices=("raise", "wrap", "clip"), doc="out-of-range indices")

    def infer_shape(self, a, indices):
        if a is None or indices is None:
            return None
        ax = norm_axis(self.axis, len(a))
        return (a, indices), (tuple(a[:ax]) + tuple(indices) + tuple(a[ax + 1:]),)

    def shape_back_axes(self):
        return {"indices": "all", "a": "all-but-%d" % self.axis}

    def infer_shape_backward(self, ins, outs):
        a, indices = ins
        out = outs[0]
        if out is None or (a is None and indices is None):
            return None
        k = len(out) - len(a) + 1 if indices is None else len(indices)
        nd = len(out) - k + 1
        if k < 0 or nd < 1:
            raise ShapeError("output %s cannot come from a %s-d indices" % (out, k))
        ax = norm_axis(self.axis, nd)
        return tuple(out[:ax]) + (None,) + tuple(out[ax + k:]), tuple(out[ax:ax + k])

    def infer_type(self, a, indices):
        return None if a is None else ((a, indices), (a,))

    def forward(self, a, indices, *, train):
        ax = self.axis % a.ndim
        idx = _fix(_index(indices, "take", "indices"), a.shape[ax], self.mode, "take", "indices")
        # np.take gives a numpy scalar for 0-d indices into a 1-d ``a``: keep an array
        return Result((np.asarray(np.take(a, idx, axis=ax)),), saved=(idx, a.shape))

    def backward(self, saved, dy):
        idx, shape = saved
        ax = self.axis % len(shape)
        pre, post = prod(shape[:ax]), prod(shape[ax + 1:])
        da = np.zeros((pre, shape[ax], post), dy.dtype)
        np.add.at(da, (slice(None), idx.ravel()), dy.reshape(pre, idx.size, post))
        return da.reshape(shape), None

    @classmethod
    def examples(cls):
        yield {}, {"a": (4, 3), "indices": (2, 3)}
        yield {"axis": -1, "mode": "wrap"}, {"a": (2, 3, 4), "indices": (5,)}


@register
class batch_take(Op):
    """out[i] = a[i, indices[i]] for a 2-d ``a`` (deprecated in MXNet for ``pick``); a
    larger ``a`` counts as (size / a.shape[-1], a.shape[-1]).  Out-of-range indices are
    clipped.  ``indices`` is int32 (MXNet's type rule).  MXNet registers no gradient;
    symnorm gives pick's (dy to the picked elements)."""
    inputs = ("a", "indices")
    no_grad_inputs = ("indices",)
    input_range = {"indices": (-1.0, 4.0)}
    shape_back = {"indices": "all"}

    def infer_shape(self, a, indices):
        if a is not None and len(a) < 2:
            raise ShapeError("a must have at least 2 dims, got %s" % (a,))
        if indices is None or a is None or None in a or None in indices:
            return None if indices is None else ((a, indices), (indices,))
        if prod(a) // a[-1] != prod(indices):
            raise ShapeError("indices %s must have one entry per row of a %s (%d rows)"
                             % (indices, a, prod(a) // a[-1]))
        return (a, indices), (indices,)

    def infer_shape_backward(self, ins, outs):
        return None if outs[0] is None else (None, outs[0])

    def infer_type(self, a, indices):
        return (a, np.dtype(np.int32)), (a,)

    def forward(self, a, indices, *, train):
        rows = a.reshape(-1, a.shape[-1])
        idx = np.clip(_index(indices, "batch_take", "indices").ravel(), 0, a.shape[-1] - 1)
        out = rows[np.arange(rows.shape[0]), idx]
        return Result((out.reshape(indices.shape),), saved=(idx, a.shape))

    def backward(self, saved, dy):
        idx, shape = saved
        da = np.zeros((len(idx), shape[-1]), dy.dtype)
        da[np.arange(len(idx)), idx] = dy.ravel()
        return da.reshape(shape), None

    @classmethod
    def examples(cls):
        yield {}, {"a": (3, 4), "indices": (3,)}


@register
class one_hot(Op):
    """out[..., j] = on_value if j == indices[...] else off_value; shape indices + (depth,).
    Indices outside [0, depth) give a row of off_value.  No gradient."""
    inputs = ("indices",)
    no_grad_inputs = ("indices",)
    differentiable = False
    input_range = {"indices": (-1.0, 4.0)}
    depth: int = param(doc="length of the one-hot axis",
                       check=lambda v: None if v >= 0 else "must be >= 0")
    on_value: float = param(1.0)
    off_value: float = param(0.0)
    dtype: str = param("float32", choices=("bfloat16", "float16", "float32", "float64", "int32",
                                           "int64", "int8", "uint8"), doc="output dtype")

    def check(self):
        if self.dtype == "bfloat16":
            raise ParamError("dtype 'bfloat16' is not supported (numpy has no bfloat16)")

    def infer_shape(self, indices):
        return None if indices is None else ((indices,), (tuple(indices) + (self.depth,),))

    shape_back = {"indices": "all"}

    def infer_shape_backward(self, ins, outs):
        return None if not outs[0] else (tuple(outs[0][:-1]),)

    def infer_type(self, indices):
        return (indices,), (np.dtype(self.dtype),)

    def forward(self, indices, *, train):
        idx = _index(indices, "one_hot", "indices")
        hit = idx[..., None] == np.arange(self.depth)
        out = np.where(hit, self.on_value, self.off_value).astype(self.dtype)
        return Result((out,))

    @classmethod
    def examples(cls):
        yield {"depth": 4}, {"indices": (2, 3)}
        yield {"depth": 3, "on_value": 5, "off_value": -1, "dtype": "int32"}, {"indices": (4,)}


# ============================================================ argmax, argmin

class _ArgReduce(Op):
    """Index of the extreme value along ``axis`` (the first one on ties), in the input's
    dtype (MXNet 1.x).  axis=None (or a 1-d input) gives shape (1,), or all 1s with
    keepdims.  Gradient: none (MXNet: zeros)."""
    differentiable = False
    axis: Optional[int] = param(None, doc="axis to reduce; None: the flattened input")
    keepdims: bool = param(False)

    def _axis(self, ndim):
        if self.axis is None:
            return None
        ax = norm_axis(self.axis, ndim)
        return None if ndim == 1 else ax

    def infer_shape(self, data):
        if data is None:
            return None
        ax = self._axis(len(data))
        if ax is None:
            return (data,), ((1,) * len(data) if self.keepdims else (1,),)
        out = tuple(1 if i == ax else d for i, d in enumerate(data))
        return (data,), (out if self.keepdims else _drop(data, ax),)

    def shape_back_axes(self):
        if self.axis is None:
            return {}
        return {"data": "all-but-%d" % self.axis} if self.axis < 0 or self.keepdims else {}

    def infer_shape_backward(self, ins, outs):
        data, out = ins[0], outs[0]
        if out is None or self.axis is None or data is None or len(data) == 1:
            return None
        ax = norm_axis(self.axis, len(data))
        rest = _drop(out, ax) if self.keepdims else tuple(out)
        if len(rest) != len(data) - 1:
            raise ShapeError("output %s does not fit a %d-d input" % (out, len(data)))
        return (rest[:ax] + (None,) + rest[ax:],)

    def forward(self, data, *, train):
        ax = self._axis(data.ndim)
        (shape,) = self.infer_shape(data.shape)[1]
        if ax is None:
            idx = self.fn(data.reshape(-1))
        else:
            idx = self.fn(data, axis=ax)
        return Result((np.asarray(idx).astype(data.dtype).reshape(shape),))

    @classmethod
    def examples(cls):
        yield {"axis": 1}, {"data": (2, 3, 4)}
        yield {}, {"data": (2, 3)}
        yield {"axis": -1, "keepdims": True}, {"data": (3, 4)}


@register
class argmax(_ArgReduce):
    """out = argmax(data, axis): the index of the first maximum, in data's dtype."""
    fn = staticmethod(np.argmax)


@register
class argmin(_ArgReduce):
    """out = argmin(data, axis): the index of the first minimum, in data's dtype."""
    fn = staticmethod(np.argmin)


@register
class argmax_channel(Op):
    """out = argmax(data, axis=1) (a 0-d or 1-d input: over all of it, shape (1,)), in data's
    dtype; MXNet's legacy form of argmax with no params.  No gradient."""
    differentiable = False

    def infer_shape(self, data):
        if data is None:
            return None
        return (data,), ((1,) if len(data) <= 1 else _drop(data, 1),)

    def forward(self, data, *, train):
        idx = np.argmax(data.reshape(-1)) if data.ndim <= 1 else np.argmax(data, axis=1)
        return Result((np.asarray(idx).astype(data.dtype).reshape(self.infer_shape(data.shape)[1][0]),))

    @classmethod
    def examples(cls):
        yield {}, {"data": (2, 3)}
        yield {}, {"data": (2, 3, 4)}

