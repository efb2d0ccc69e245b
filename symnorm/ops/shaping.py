"""Repeating, slicing and rearranging: tile, repeat, slice (crop), slice_like, reverse
(flip), SwapAxis (swapaxes), stack (MXNet 1.9.1 names, params and shape rules;
reshape_like, broadcast_to/like and Pad are in reshaping.py).

slice_like's ``shape_like`` only lends its shape and gets no gradient (MXNet: zeros).
"""
from __future__ import annotations

import builtins
from typing import Optional

import numpy as np

from ..core.dims import fill_one, merge, norm_axis, prod
from ..core.errors import ParamError, ShapeError
from ..core.params import OptShape, Shape, all_positive, param
from ..core.registry import Op, Result, register


_pyslice = builtins.slice        # the module defines the op ``slice``
# outputs are copied with np.array(x, order="C"): np.ascontiguousarray makes 0-d arrays 1-d


def _at_least_one(v):
    return None if v >= 1 else "must be >= 1"


# ============================================================ repeating

@register
class tile(Op):
    """Repeat the whole array ``reps[i]`` times along axis i (numpy.tile): a shorter
    ``reps`` is padded with 1s in front, a longer one adds leading axes.  Gradient: the
    sum of dy over the copies."""
    reps: Shape = param(doc="repetitions per axis", check=all_positive)

    def _padded(self, nd):
        m = max(nd, len(self.reps))
        return m, (1,) * (m - len(self.reps)) + tuple(self.reps)

    def infer_shape(self, data):
        if data is None:
            return None
        m, reps = self._padded(len(data))
        dims = (1,) * (m - len(data)) + tuple(data)
        return (data,), (tuple(None if d is None else d * r for d, r in zip(dims, reps)),)

    shape_back = {"data": "all"}

    def infer_shape_backward(self, ins, outs):
        data, out = ins[0], outs[0]
        if data is None or out is None:
            return None
        m, reps = self._padded(len(data))
        if len(out) != m:
            raise ShapeError("output %s should have %d dims" % (out, m))
        res = []
        for o, r in zip(out[m - len(data):], reps[m - len(data):]):
            if o is not None and o % r:
                raise ShapeError("output dim %d is not a multiple of reps %s" % (o, self.reps))
            res.append(None if o is None else o // r)
        return (tuple(res),)

    def forward(self, data, *, train):
        return Result((np.tile(data, self.reps),), saved=data.shape)

    def backward(self, shape, dy):
        m, reps = self._padded(len(shape))
        dims = (1,) * (m - len(shape)) + tuple(shape)
        pairs = [x for rd in zip(reps, dims) for x in rd]        # out axis i = (rep, dim)
        return (dy.reshape(pairs).sum(axis=tuple(range(0, 2 * m, 2))).reshape(shape),)

    @classmethod
    def examples(cls):
        yield {"reps": (2, 3)}, {"data": (2, 3)}
        yield {"reps": (2, 1, 2)}, {"data": (3, 2)}
        yield {"reps": (2,)}, {"data": (2, 2, 3)}


@register
class repeat(Op):
    """Repeat each element ``repeats`` times along ``axis`` (None: of the flattened input,
    numpy.repeat).  Gradient: the sum of dy over each element's copies."""
    repeats: int = param(doc="copies of each element", check=_at_least_one)
    axis: Optional[int] = param(None, doc="None: flatten first")

    def infer_shape(self, data):
        if data is None:
            return None
        if self.axis is None:
            return (data,), ((None if None in data else prod(data) * self.repeats,),)
        ax = norm_axis(self.axis, len(data))
        return (data,), (tuple((None if d is None else d * self.repeats) if i == ax else d
                               for i, d in enumerate(data)),)

    def shape_back_axes(self):
        return {} if self.axis is None else {"data": "all"}

    def infer_shape_backward(self, ins, outs):
        data, out = ins[0], outs[0]
        if out is None or (self.axis is None and data is None):
            return None
        if self.axis is None:
            total = out[0]
            return None if total is None or total % self.repeats else \
                (fill_one(data, total // self.repeats),)
        ax = norm_axis(self.axis, len(out))
        o = out[ax]
        if o is not None and o % self.repeats:
            raise ShapeError("output dim %d is not a multiple of repeats=%d" % (o, self.repeats))
        return (tuple((None if o is None else o // self.repeats) if i == ax else d
                      for i, d in enumerate(out)),)

    def forward(self, data, *, train):
        return Result((np.repeat(data, self.repeats, axis=self.axis),), saved=data.shape)

    def backward(self, shape, dy):
        if self.axis is None:
            return (dy.reshape(-1, self.repeats).sum(axis=1).reshape(shape),)
        ax = self.axis % len(shape)
        split = tuple(shape[:ax]) + (shape[ax], self.repeats) + tuple(shape[ax + 1:])
        return (dy.reshape(split).sum(axis=ax + 1),)

    @classmethod
    def examples(cls):
        yield {"repeats": 2}, {"data": (2, 3)}
        yield {"repeats": 3, "axis": -1}, {"data": (2, 2)}


# ============================================================ slicing

@register
class slice(Op):  # noqa: A001  (MXNet's op name)
    """data[b0:e0:s0, b1:e1:s1, ...] over the first len(begin) axes, with Python's rules
    (negative indices count from the end, out-of-range ends are clipped, None is the
    default end for the step's sign); an empty result is refused.  Gradient: dy in the
    sliced positions, 0 elsewhere."""
    aliases = ("crop",)
    begin: OptShape = param(doc="start per axis (None: from the start for the step's sign)")
    end: OptShape = param(doc="stop per axis (None: to the end)")
    step: OptShape = param((), doc="step per axis (() or None: 1)")

    def check(self):
        if len(self.begin) != len(self.end):
            raise ParamError("begin and end must have the same length, got %s and %s"
                             % (self.begin, self.end))
        if self.step and len(self.step) != len(self.begin):
            raise ParamError("step must be () or as long as begin (%d), got %s"
                             % (len(self.begin), self.step))
        for i, s in enumerate(self.step):
            if s == 0:
                raise ParamError("step[%d] cannot be 0" % i)

    def _slices(self):
        steps = self.step or (None,) * len(self.begin)
        return tuple(_pyslice(b, e, s) for b, e, s in zip(self.begin, self.end, steps))

    def infer_shape(self, data):
        if data is None:
            return None
        if len(self.begin) > len(data):
            raise ShapeError("begin/end have %d entries, more than data's %d dims"
                             % (len(self.begin), len(data)))
        out = list(data)
        for i, sl in enumerate(self._slices()):
            if data[i] is not None:
                out[i] = len(range(data[i])[sl])
                if out[i] == 0:
                    raise ShapeError("slice [%s:%s:%s] of axis %d (size %d) is empty"
                                     % (sl.start, sl.stop, sl.step, i, data[i]))
        return (data,), (tuple(out),)

    def infer_shape_backward(self, ins, outs):
        # axes the slice leaves whole: those past begin's length and (None, None, 1) ones
        out = outs[0]
        if out is None:
            return None
        whole = [sl.start is None and sl.stop is None and sl.step in (None, 1)
                 for sl in self._slices()]
        return (tuple(d if i >= len(whole) or whole[i] else None for i, d in enumerate(out)),)

    def forward(self, data, *, train):
        return Result((np.array(data[self._slices()], order="C"),), saved=data.shape)

    def backward(self, shape, dy):
        dx = np.zeros(shape, dy.dtype)
        dx[self._slices()] = dy
        return (dx,)

    @classmethod
    def examples(cls):
        yield {"begin": (0, 1), "end": (2, None)}, {"data": (3, 4)}
        yield {"begin": (None, -1), "end": (None, 0), "step": (2, -2)}, {"data": (3, 5, 2)}


@register
class slice_like(Op):
    """data cut to shape_like's size on ``axes`` (all axes when empty: then the ranks must
    agree), each from index 0.  Gradient: dy in the kept corner; shape_like gets none."""
    inputs = ("data", "shape_like")
    no_grad_inputs = ("shape_like",)
    axes: Shape = param((), doc="axes to cut (negative allowed); (): all")

    def _axes(self, data, like):
        if not self.axes:
            if len(data) != len(like):
                raise ShapeError("with axes=() every axis is cut: data %s and shape_like %s "
                                 "need the same rank" % (data, like))
            return range(len(data))
        out = []
        for a in self.axes:
            ax = norm_axis(a, len(data), "axes entry")
            if ax >= len(like):
                raise ShapeError("axes entry %d is beyond shape_like's %d dims" % (a, len(like)))
            out.append(ax)
        return out

    def infer_shape(self, data, shape_like):
        if data is None or shape_like is None:
            return None
        out = list(data)
        for ax in self._axes(data, shape_like):
            s = shape_like[ax]
            if s is not None and data[ax] is not None and s > data[ax]:
                raise ShapeError("shape_like's dim %d (%d) is larger than data's (%d)"
                                 % (ax, s, data[ax]))
            out[ax] = s
        return (data, shape_like), (tuple(out),)

    def infer_shape_backward(self, ins, outs):
        data, like = ins
        out = outs[0]
        if out is None or data is None or like is None:
            return None
        axes = set(self._axes(out, like))
        return (tuple(None if i in axes else d for i, d in enumerate(out)),
                tuple(out[i] if i in axes else d for i, d in enumerate(like)))

    def infer_type(self, data, shape_like):
        return None if data is None else ((data, shape_like), (data,))

    def _index(self, out_shape):
        return tuple(_pyslice(0, d) for d in out_shape)

    def forward(self, data, shape_like, *, train):
        (out,) = self.infer_shape(data.shape, shape_like.shape)[1]
        return Result((np.array(data[self._index(out)], order="C"),), saved=data.shape)

    def backward(self, shape, dy):
        dx = np.zeros(shape, dy.dtype)
        dx[self._index(dy.shape)] = dy
        return dx, None

    @classmethod
    def examples(cls):
        yield {}, {"data": (4, 5), "shape_like": (2, 3)}
        yield {"axes": (0, -1)}, {"data": (3, 4, 5), "shape_like": (2, 7, 3)}


# ============================================================ rearranging

@register(name="reverse")
class Reverse(Op):
    """Reverse the order of elements along each axis in ``axis`` (an axis listed twice is
    reversed twice).  Gradient: dy reversed the same way."""
    aliases = ("flip",)
    axis: Shape = param(doc="the axes to reverse")

    def infer_shape(self, data):
        if data is None:
            return None
        for a in self.axis:
            norm_axis(a, len(data))
        return (data,), (data,)

    shape_back = {"data": "all"}

    def infer_shape_backward(self, ins, outs):
        return None if outs[0] is None else (outs[0],)

    def _flip(self, x):
        for a in self.axis:
            x = np.flip(x, a % x.ndim)
        return np.array(x, order="C")

    def forward(self, data, *, train):
        return Result((self._flip(data),))

    def backward(self, saved, dy):
        return (self._flip(dy),)

    @classmethod
    def examples(cls):
        yield {"axis": (0, -1)}, {"data": (2, 3, 4)}
        yield {"axis": 1}, {"data": (2, 3)}


@register(name="SwapAxis")
class SwapAxis(Op):
    """Interchange axes ``dim1`` and ``dim2`` (negative allowed).  Gradient: dy swapped
    back."""
    aliases = ("swapaxes",)
    dim1: int = param(0, doc="the first axis")
    dim2: int = param(0, doc="the second axis")

    def _swap(self, shape):
        a = norm_axis(self.dim1, len(shape), "dim1")
        b = norm_axis(self.dim2, len(shape), "dim2")
        out = list(shape)
        out[a], out[b] = out[b], out[a]
        return tuple(out)

    def infer_shape(self, data):
        return None if data is None else ((data,), (self._swap(data),))

    shape_back = {"data": "all"}

    def infer_shape_backward(self, ins, outs):
        return None if outs[0] is None else (self._swap(outs[0]),)

    def forward(self, data, *, train):
        return Result((np.array(np.swapaxes(data, self.dim1, self.dim2), order="C"),))

    def backward(self, saved, dy):
        return (np.array(np.swapaxes(dy, self.dim1, self.dim2), order="C"),)

    @classmethod
    def examples(cls):
        yield {"dim1": 0, "dim2": 2}, {"data": (2, 3, 4)}
        yield {"dim1": -1, "dim2": 0}, {"data": (3, 2)}


@register
class stack(Op):
    """Join ``num_args`` same-shape inputs along a new axis ``axis`` (in [-(ndim+1),
    ndim]).  Gradient: dy's slices along that axis."""
    variadic = "num_args"
    num_args: int = param(doc="number of inputs", check=_at_least_one)
    axis: int = param(0, doc="position of the new axis in the output")

    def infer_shape(self, *shapes):
        common = None
        for i, s in enumerate(shapes):
            common = merge(common, s, "input %d" % i)
        if common is None:
            return None
        ax = norm_axis(self.axis, len(common) + 1)
        out = tuple(common[:ax]) + (self.num_args,) + tuple(common[ax:])
        return (common,) * len(shapes), (out,)

    def shape_back_axes(self):
        return {s: "all" for s in self.arguments()}

    def infer_shape_backward(self, ins, outs):
        out = outs[0]
        if not out:
            return None
        ax = norm_axis(self.axis, len(out))
        if out[ax] is not None and out[ax] != self.num_args:
            raise ShapeError("output axis %d has size %d, expected num_args=%d"
                             % (ax, out[ax], self.num_args))
        part = tuple(out[:ax]) + tuple(out[ax + 1:])
        return (part,) * len(ins)

    def forward(self, *data, train):
        return Result((np.stack(data, axis=self.axis),))

    def backward(self, saved, dy):
        ax = self.axis % dy.ndim
        return tuple(np.array(np.take(dy, i, axis=ax), order="C") for i in range(self.num_args))

    @classmethod
    def examples(cls):
        yield {"num_args": 2, "axis": 1}, {"arg0": (2, 3), "arg1": (2, 3)}
        yield {"num_args": 3, "axis": -1}, {"arg0": (2,), "arg1": (2,), "arg2": (2,)}
