"""Reductions, axis manipulation, slicing, embedding and products (MXNet 1.9.1 names)."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ..core.dims import MAX_DIM, known, norm_axis, prod
from ..core.dtype import int_labels
from ..core.errors import ParamError, ShapeError
from ..core.params import Shape, param
from ..core.registry import Op, Result, register
from ._np import last_axis_first


# ============================================================ reductions

class _Reduce(Op):
    """Reduce over ``axis`` (all axes when empty); ``exclude`` reduces over the others."""
    axis: Shape = param((), doc="axes to reduce; () means all")
    keepdims: bool = param(False)
    exclude: bool = param(False, doc="reduce over the axes NOT listed")

    def _axes(self, ndim):
        axes = tuple(norm_axis(a, ndim) for a in self.axis) if self.axis else tuple(range(ndim))
        if self.exclude:
            axes = tuple(i for i in range(ndim) if i not in axes)
        return axes

    def infer_shape(self, data):
        if data is None:
            return None
        axes = self._axes(len(data))
        if self.keepdims:
            out = tuple(1 if i in axes else d for i, d in enumerate(data))
        else:
            out = tuple(d for i, d in enumerate(data) if i not in axes)
        return (data,), (out,)

    def _expand(self, g, shape):
        """Bring a reduced gradient back to the input's rank for broadcasting."""
        axes = self._axes(len(shape))
        return g.reshape(tuple(1 if i in axes else d for i, d in enumerate(shape)))

    @classmethod
    def examples(cls):
        yield {"axis": (1,)}, {"data": (2, 3, 4)}
        yield {"axis": (0, 2), "keepdims": True}, {"data": (2, 3, 4)}
        yield {"axis": (1,), "exclude": True}, {"data": (2, 3, 4)}


@register(name="sum")
class Sum(_Reduce):
    """out = Σ data over the reduced axes"""
    aliases = ("sum_axis",)

    def forward(self, data, *, train):
        out = data.sum(axis=self._axes(data.ndim), keepdims=self.keepdims)
        return Result((np.asarray(out, data.dtype),), None, data.shape)

    def backward(self, shape, dy):
        return (np.broadcast_to(self._expand(dy, shape), shape).copy(),)


@register(name="mean")
class Mean(_Reduce):
    """out = mean of data over the reduced axes"""

    def forward(self, data, *, train):
        out = data.mean(axis=self._axes(data.ndim), keepdims=self.keepdims)
        return Result((np.asarray(out, data.dtype),), None, data.shape)

    def backward(self, shape, dy):
        n = prod(shape[i] for i in self._axes(len(shape)))
        return (np.broadcast_to(self._expand(dy, shape) / dy.dtype.type(n), shape).copy(),)


class _Extreme(_Reduce):
    """max/min: the gradient goes to every position equal to the extreme (as MXNet does)."""

    def forward(self, data, *, train):
        out = self.fn(data, axis=self._axes(data.ndim), keepdims=self.keepdims)
        out = np.asarray(out, data.dtype)
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


# ============================================================ axes

def _permuted(x, perm):
    """x.transpose(perm) as a new C-contiguous array; moving the last axis to the front (a
    batch-last region's exit, its entry's gradient) takes the blocked copy."""
    n = x.ndim
    if n >= 2 and tuple(perm) == (n - 1,) + tuple(range(n - 1)):
        return last_axis_first(x)
    return x.transpose(perm).copy(order="C")


@register
class transpose(Op):
    """Permute axes (reverse them when ``axes`` is empty).  Always a new C-contiguous
    array (the layout pass's region boundaries rely on it)."""
    fresh_outputs = True
    axes: Shape = param((), doc="the permutation; () reverses")

    def keeps_output(self):
        return False

    def _perm(self, ndim):
        if not self.axes:
            return tuple(reversed(range(ndim)))
        if len(self.axes) != ndim or sorted(a % ndim for a in self.axes) != list(range(ndim)):
            raise ShapeError("axes %s is not a permutation of %d dims" % (self.axes, ndim))
        return tuple(a % ndim for a in self.axes)

    def infer_shape(self, data):
        if data is None:
            return None
        return (data,), (tuple(data[i] for i in self._perm(len(data))),)

    def forward(self, data, *, train):
        return Result((_permuted(data, self._perm(data.ndim)),))

    def backward(self, saved, dy):
        return (_permuted(dy, tuple(np.argsort(self._perm(dy.ndim)))),)

    @classmethod
    def examples(cls):
        yield {"axes": (2, 0, 1)}, {"data": (2, 3, 4)}
        yield {}, {"data": (2, 3)}


@register
class expand_dims(Op):
    """Insert a size-1 axis at ``axis``."""
    axis: int = param(doc="position of the new axis")

    def infer_shape(self, data):
        if data is None:
            return None
        ax = norm_axis(self.axis, len(data) + 1)
        return (data,), (tuple(data[:ax]) + (1,) + tuple(data[ax:]),)

    def forward(self, data, *, train):
        return Result((np.expand_dims(data, self.axis),), None, data.shape)

    def backward(self, shape, dy):
        return (dy.reshape(shape),)

    @classmethod
    def examples(cls):
        yield {"axis": 1}, {"data": (2, 3)}


@register
class squeeze(Op):
    """Remove size-1 axes (those in ``axis``, or all)."""
    axis: Shape = param((), doc="axes to remove; () removes every size-1 axis")

    def infer_shape(self, data):
        if not known(data):
            return None
        axes = tuple(norm_axis(a, len(data)) for a in self.axis) if self.axis else \
            tuple(i for i, d in enumerate(data) if d == 1)
        for a in axes:
            if data[a] != 1:
                raise ShapeError("cannot squeeze axis %d of size %d" % (a, data[a]))
        return (data,), (tuple(d for i, d in enumerate(data) if i not in axes),)

    def forward(self, data, *, train):
        (out,) = self.infer_shape(data.shape)[1]
        return Result((data.reshape(out),), None, data.shape)

    def backward(self, shape, dy):
        return (dy.reshape(shape),)

    @classmethod
    def examples(cls):
        yield {"axis": (1,)}, {"data": (2, 1, 3)}


@register
class SliceChannel(Op):
    """Split ``data`` into ``num_outputs`` equal parts along ``axis`` (``squeeze_axis``
    drops the axis when each part has size 1)."""
    aliases = ("split",)
    variadic_outputs = "num_outputs"
    num_outputs: int = param(doc="number of parts", check=lambda v: None if v >= 1 else "must be >= 1")
    axis: int = param(1)
    squeeze_axis: bool = param(False)

    def output_names(self):
        return tuple("output%d" % i for i in range(self.num_outputs))

    def infer_shape(self, data):
        if data is None:
            return None
        ax = norm_axis(self.axis, len(data))
        d = data[ax]
        if d is not None and d % self.num_outputs:
            raise ShapeError("axis %d of size %d does not split into %d equal parts"
                             % (self.axis, d, self.num_outputs))
        part = None if d is None else d // self.num_outputs
        if self.squeeze_axis and part is not None and part != 1:
            raise ShapeError("squeeze_axis needs parts of size 1, got %d" % part)
        out = tuple(data[:ax]) + (() if self.squeeze_axis else (part,)) + tuple(data[ax + 1:])
        return (data,), (out,) * self.num_outputs

    def forward(self, data, *, train):
        parts = np.split(data, self.num_outputs, axis=self.axis)
        if self.squeeze_axis:
            parts = [p.squeeze(axis=self.axis) for p in parts]
        return Result(tuple(np.ascontiguousarray(p) for p in parts), None, data.shape)

    def backward(self, shape, *dys):
        ax = norm_axis(self.axis, len(shape))
        part = list(shape)
        part[ax] //= self.num_outputs
        gs = [np.zeros(part, np.result_type(*[d for d in dys if d is not None])) if d is None
              else d.reshape(part) for d in dys]
        return (np.concatenate(gs, axis=ax),)

    @classmethod
    def examples(cls):
        yield {"num_outputs": 2, "axis": 1}, {"data": (2, 4, 3)}
        yield {"num_outputs": 3, "axis": 0, "squeeze_axis": True}, {"data": (3, 2)}


@register
class slice_axis(Op):
    """data[..., begin:end, ...] along ``axis`` (``end=None``: to the end)."""
    axis: int = param()
    begin: int = param()
    end: Optional[int] = param(None)

    def _range(self, d):
        return range(d)[slice(self.begin, self.end)]

    def infer_shape(self, data):
        if data is None:
            return None
        ax = norm_axis(self.axis, len(data))
        if data[ax] is None:
            return None
        n = len(self._range(data[ax]))
        if n == 0:
            raise ShapeError("slice [%s:%s] of an axis of size %d is empty" % (self.begin, self.end, data[ax]))
        return (data,), (tuple(data[:ax]) + (n,) + tuple(data[ax + 1:]),)

    def _index(self, ndim):
        ax = self.axis % ndim
        return (slice(None),) * ax + (slice(self.begin, self.end),)

    def forward(self, data, *, train):
        return Result((np.ascontiguousarray(data[self._index(data.ndim)]),), None, data.shape)

    def backward(self, shape, dy):
        dx = np.zeros(shape, dy.dtype)
        dx[self._index(len(shape))] = dy
        return (dx,)

    @classmethod
    def examples(cls):
        yield {"axis": 1, "begin": 1, "end": 3}, {"data": (2, 4, 3)}
        yield {"axis": -1, "begin": -2}, {"data": (2, 5)}


# ============================================================ embedding and products

@register
class Embedding(Op):
    """out[..., :] = weight[data[...]] with weight (input_dim, output_dim); the index input
    gets no gradient."""
    summary_params = True
    inputs = ("data", "weight")
    no_grad_inputs = ("data",)
    input_range = {"data": (0, 4.99)}        # indices for the example's input_dim=5
    input_dim: int = param(check=lambda v: None if v > 0 else "must be > 0")
    output_dim: int = param(check=lambda v: None if v > 0 else "must be > 0")
    dtype: str = param("float32", doc="dtype of the weight")
    sparse_grad: bool = param(False, doc="accepted for MXNet compatibility; ignored")

    def infer_shape(self, data, weight):
        if data is None:
            return None
        return (data, (self.input_dim, self.output_dim)), (tuple(data) + (self.output_dim,),)

    def infer_type(self, data, weight):
        # ``dtype`` decides the weight's type unless the weight's own type is known
        w = weight if weight is not None else np.dtype(self.dtype)
        return (data if data is not None else w, w), (w,)

    def forward(self, data, weight, *, train):
        idx = int_labels(data, "Embedding index")
        if idx.size and (idx.min() < 0 or idx.max() >= self.input_dim):
            raise ValueError("index out of range [0, %d)" % self.input_dim)
        return Result((weight[idx],), None, (idx, weight.shape))

    def backward(self, saved, dy):
        idx, wshape = saved
        dw = np.zeros(wshape, dy.dtype)
        np.add.at(dw, idx.reshape(-1), dy.reshape(-1, wshape[1]))
        return None, dw

    @classmethod
    def examples(cls):
        yield {"input_dim": 5, "output_dim": 3}, {"data": (2, 4)}


@register
class dot(Op):
    """Matrix product of the last axis of lhs with the first of rhs (``transpose_a/b``
    transpose 2-d operands first)."""
    inputs = ("lhs", "rhs")
    transpose_a: bool = param(False)
    transpose_b: bool = param(False)

    def _ops(self, a, b):
        return (a.T if self.transpose_a else a), (b.T if self.transpose_b else b)

    def infer_shape(self, lhs, rhs):
        if not known(lhs) or not known(rhs):
            return None
        if not lhs or not rhs:
            raise ShapeError("dot needs operands of at least 1 dim, got %s and %s" % (lhs, rhs))
        a = tuple(reversed(lhs)) if self.transpose_a else lhs
        b = tuple(reversed(rhs)) if self.transpose_b else rhs
        if a[-1] != b[0]:
            raise ShapeError("dot: inner dims differ, %s x %s" % (a, b))
        return (lhs, rhs), (tuple(a[:-1]) + tuple(b[1:]),)

    def forward(self, lhs, rhs, *, train):
        a, b = self._ops(lhs, rhs)
        return Result((np.tensordot(a, b, axes=1),), None, (lhs, rhs))

    def backward(self, saved, dy):
        lhs, rhs = saved
        a, b = self._ops(lhs, rhs)
        a2 = a.reshape(-1, a.shape[-1])
        b2 = b.reshape(b.shape[0], -1)
        dy2 = dy.reshape(a2.shape[0], b2.shape[1])
        da = (dy2 @ b2.T).reshape(a.shape)
        db = (a2.T @ dy2).reshape(b.shape)
        return (da.T if self.transpose_a else da), (db.T if self.transpose_b else db)

    @classmethod
    def examples(cls):
        yield {}, {"lhs": (2, 3), "rhs": (3, 4)}
        yield {"transpose_b": True}, {"lhs": (2, 3), "rhs": (4, 3)}


@register
class batch_dot(Op):
    """Batched matrix product: out[i] = lhs[i] · rhs[i] (optionally transposed)."""
    inputs = ("lhs", "rhs")
    transpose_a: bool = param(False)
    transpose_b: bool = param(False)

    def infer_shape(self, lhs, rhs):
        if not known(lhs) or not known(rhs):
            return None
        if len(lhs) != 3 or len(rhs) != 3 or lhs[0] != rhs[0]:
            raise ShapeError("batch_dot needs (B, n, k) and (B, k, m), got %s and %s" % (lhs, rhs))
        n, k = (lhs[2], lhs[1]) if self.transpose_a else (lhs[1], lhs[2])
        k2, m = (rhs[2], rhs[1]) if self.transpose_b else (rhs[1], rhs[2])
        if k != k2:
            raise ShapeError("batch_dot: inner dims differ, %d vs %d" % (k, k2))
        return (lhs, rhs), ((lhs[0], n, m),)

    def forward(self, lhs, rhs, *, train):
        a = lhs.transpose(0, 2, 1) if self.transpose_a else lhs
        b = rhs.transpose(0, 2, 1) if self.transpose_b else rhs
        return Result((np.matmul(a, b),), None, (a, b))

    def backward(self, saved, dy):
        a, b = saved
        da = np.matmul(dy, b.transpose(0, 2, 1))
        db = np.matmul(a.transpose(0, 2, 1), dy)
        return (da.transpose(0, 2, 1) if self.transpose_a else da,
                db.transpose(0, 2, 1) if self.transpose_b else db)

    @classmethod
    def examples(cls):
        yield {}, {"lhs": (2, 3, 4), "rhs": (2, 4, 5)}
        yield {"transpose_a": True, "transpose_b": True}, {"lhs": (2, 4, 3), "rhs": (2, 5, 4)}


@register
class softmax_cross_entropy(Op):
    """out = Σ_i -log softmax(data_i)[label_i], a scalar of shape (1,); the label gets no
    gradient.  d/ddata = softmax(data) - onehot(label), scaled by the head gradient."""
    inputs = ("data", "label")
    no_grad_inputs = ("label",)
    input_range = {"label": (0, 2.99)}

    def infer_shape(self, data, label):
        if data is None:
            return None
        if len(data) != 2:
            raise ShapeError("softmax_cross_entropy takes 2-d data (batch, classes), got %s"
                             % (tuple(data),))
        return (data, (data[0],)), ((1,),)

    def forward(self, data, label, *, train):
        z = data - data.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        idx = int_labels(label, "label")
        if idx.size and (idx.min() < 0 or idx.max() >= data.shape[1]):
            raise ValueError("label %d is outside [0, %d) (the number of classes)"
                             % (idx[(idx < 0) | (idx >= data.shape[1])][0], data.shape[1]))
        loss = -logp[np.arange(len(idx)), idx].sum()
        return Result((np.array([loss], data.dtype),), None, (logp, idx))

    def backward(self, saved, dy):
        logp, idx = saved
        g = np.exp(logp)
        g[np.arange(len(idx)), idx] -= 1
        return g * dy.reshape(()), None

    @classmethod
    def examples(cls):
        yield {}, {"data": (4, 3)}


# ============================================================ constants (no inputs)

class _Init(Op):
    """An array made from params alone (no inputs, no gradient)."""
    inputs = ()
    differentiable = False
    shape: Shape = param((), doc="output shape")
    dtype: str = param("float32", choices=("float32", "float64", "float16", "int32", "int64", "uint8", "int8"))

    def infer_shape(self):
        return (), (tuple(self.shape),)

    def infer_type(self):
        return (), (np.dtype(self.dtype),)

    def forward(self, *, train):
        return Result((self.make(),))

    def backward(self, saved, dy):
        return ()

    @classmethod
    def examples(cls):
        yield {"shape": (2, 3)}, {}


@register(name="_zeros")
class Zeros(_Init):
    """An array of zeros (``sym.zeros(shape)``)."""
    def make(self):
        return np.zeros(self.shape, self.dtype)


@register(name="_ones")
class Ones(_Init):
    """An array of ones (``sym.ones(shape)``)."""
    def make(self):
        return np.ones(self.shape, self.dtype)


@register(name="_full")
class Full(_Init):
    """An array filled with ``value`` (``sym.full(shape, value)``)."""
    value: float = param(0.0)

    def make(self):
        return np.full(self.shape, self.value, self.dtype)


@register(name="_arange")
class Arange(_Init):
    """start, start+step, ... below stop (``sym.arange``), each repeated ``repeat`` times."""
    start: float = param(0.0)
    stop: Optional[float] = param(None)
    step: float = param(1.0)
    repeat: int = param(1)

    def _bounds(self):
        return (0.0, self.start) if self.stop is None else (self.start, self.stop)

    def _length(self) -> int:
        """numpy's arange length, computed without making the array: the shape of a
        graph must not cost memory in proportion to a param."""
        start, stop = self._bounds()
        n = (stop - start) / self.step
        if n == 0.0 and stop != start:        # underflow: numpy makes one element if n > 0
            n = 0.0 if math.copysign(1.0, n) < 0 else 1.0
        return max(0, math.ceil(n)) * self.repeat

    def check(self):
        values = self._bounds() + (self.step,)
        if not all(math.isfinite(v) for v in values):
            raise ParamError("start, stop and step must be finite, got %s, %s, %s" % values)
        if self.step == 0:
            raise ParamError("step must not be 0")
        if self.repeat < 1:
            raise ParamError("repeat must be >= 1, got %d" % self.repeat)
        start, stop = self._bounds()
        if not math.isfinite((stop - start) / self.step) or self._length() > MAX_DIM:
            raise ParamError("arange(%s, %s, %s) repeated %d times has more elements than an "
                             "int64 can count" % (values + (self.repeat,)))

    def _values(self):
        start, stop = self._bounds()
        return np.repeat(np.arange(start, stop, self.step), self.repeat).astype(self.dtype)

    def infer_shape(self):
        return (), ((self._length(),),)

    def make(self):
        return self._values()

    @classmethod
    def examples(cls):
        yield {"start": 2, "stop": 7, "step": 2}, {}
