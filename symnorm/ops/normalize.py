"""Norms and normalizations beyond BatchNorm's family, MXNet 1.9.1 names: norm (L1/L2 of
a tensor along axes), L2Normalization, LRN (local response normalization across
channels) and SoftmaxActivation."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..core.dims import norm_axis, same_shape_backward
from ..core.errors import ParamError, ShapeError
from ..core.params import Shape, param, positive, non_negative
from ..core.registry import Op, Result, register
from .reduce import reduced_shape


# ============================================================ norm

@register
class norm(Op):
    """out = (Σ |x|^ord)^(1/ord) over ``axis`` (every element when None), for ord 1
    (Σ|x|, gradient sign(x)) and 2 (sqrt Σx², gradient x/out, 0 where out is 0).  Several
    axes take the norm of all their elements together (as MXNet: a 2-tuple with ord=1 is
    the sum of |x|, not the matrix 1-norm).  Reducing every axis without ``keepdims`` gives
    shape (1,); ``out_dtype`` casts it."""
    ord: int = param(2, doc="1 or 2")
    axis: Optional[Shape] = param(None, doc="axes to reduce; None: all")
    out_dtype: Optional[str] = param(None, choices=("float16", "float32", "float64", "int32",
                                                    "int64", "int8"), doc="output dtype")
    keepdims: bool = param(False)

    def check(self):
        if self.ord not in (1, 2):
            raise ParamError("param 'ord' must be 1 or 2, got %d" % self.ord)

    def _axes(self, ndim):
        if self.axis is None:
            return tuple(range(ndim))
        axes = tuple(norm_axis(a, ndim, "norm: axis") for a in self.axis)
        if len(set(axes)) != len(axes):
            raise ShapeError("param 'axis' %s names an axis twice" % (self.axis,))
        return axes

    def infer_shape(self, data):
        if data is None:
            return None
        return (data,), (reduced_shape(data, self._axes(len(data)), self.keepdims),)

    def infer_type(self, data):
        if data is None:
            return None
        return (data,), (np.dtype(self.out_dtype) if self.out_dtype else data,)

    def _keep(self, a, shape):
        axes = self._axes(len(shape))
        return a.reshape(tuple(1 if i in axes else d for i, d in enumerate(shape)))

    def forward(self, data, *, train):
        axes = self._axes(data.ndim)
        if self.ord == 1:
            y = np.abs(data).sum(axis=axes, keepdims=True)
        else:
            y = np.sqrt(np.square(data).sum(axis=axes, keepdims=True))
        out_shape = self.infer_shape(data.shape)[1][0]
        out = y.reshape(out_shape).astype(self.out_dtype or data.dtype)
        return Result((out,), saved=(data, y))

    def backward(self, saved, dy):
        x, y = saved
        g = self._keep(dy, x.shape).astype(x.dtype)
        if self.ord == 1:
            return (g * np.sign(x),)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(y > 0, x / y, 0)
        return ((g * ratio).astype(x.dtype),)

    @classmethod
    def examples(cls):
        yield {}, {"data": (2, 3)}
        yield {"ord": 1, "axis": (1,)}, {"data": (2, 3, 4)}
        yield {"axis": (0, 2), "keepdims": True}, {"data": (2, 3, 4)}
        yield {"ord": 2, "axis": (-1,), "out_dtype": "float64"}, {"data": (3, 4)}


# ============================================================ L2Normalization

_L2_MODES = ("channel", "instance", "spatial")


@register
class L2Normalization(Op):
    """out = x / sqrt(Σ x² + eps), the sum over every axis but the batch ('instance'),
    over the channel axis 1 ('channel') or over the spatial axes 2.. ('spatial');
    dx = (dy - out·Σ dy·out) / norm over the same axes.  The hidden second output ``norm``
    holds sqrt(Σ x² + eps): shape (N,), data's with axis 1 set to 1, or (N, C)."""
    outputs = ("output", "norm")
    no_grad_outputs = ("norm",)
    eps: float = param(1e-10, check=non_negative, doc="added to Σ x² under the root")
    mode: str = param("instance", choices=_L2_MODES)

    def num_visible_outputs(self):
        return 1

    def _axes(self, ndim):
        return {"instance": tuple(range(1, ndim)), "channel": (1,),
                "spatial": tuple(range(2, ndim))}[self.mode]

    def infer_shape(self, data):
        if data is None:
            return None
        nd = len(data)
        if nd < (2 if self.mode == "instance" else 3):
            raise ShapeError("mode=%r needs data of at least %d dims, got %s"
                             % (self.mode, 2 if self.mode == "instance" else 3, data))
        if self.mode == "instance":
            nshape = (data[0],)
        elif self.mode == "channel":
            nshape = (data[0], 1) + tuple(data[2:])
        else:
            nshape = (data[0], data[1])
        return (data,), (data, nshape)

    def forward(self, data, *, train):
        axes = self._axes(data.ndim)
        n = np.sqrt(np.square(data).sum(axis=axes, keepdims=True) + data.dtype.type(self.eps))
        y = (data / n).astype(data.dtype)
        nshape = self.infer_shape(data.shape)[1][1]
        return Result((y, n.reshape(nshape).astype(data.dtype)), saved=(y, n))

    def backward(self, saved, dy):
        y, n = saved
        axes = self._axes(y.ndim)
        return (((dy - y * (dy * y).sum(axis=axes, keepdims=True)) / n).astype(y.dtype),)

    @classmethod
    def examples(cls):
        yield {}, {"data": (3, 4)}
        yield {"mode": "instance"}, {"data": (2, 3, 2)}
        yield {"mode": "channel", "eps": 1e-3}, {"data": (2, 3, 2, 2)}
        yield {"mode": "spatial"}, {"data": (2, 3, 4)}


# ============================================================ LRN

@register
class LRN(Op):
    """Local response normalization across channels of (N, C, H, W) data:
    out = x · norm^-β with norm = knorm + α/nsize · Σ x² over the nsize channels centred
    on each one (zeros beyond the edges); dx = dy·norm^-β - 2αβ/nsize · x ·
    Σ_window(dy·x·norm^(-β-1)).  The hidden second output ``tmp_norm`` holds norm."""
    outputs = ("output", "tmp_norm")
    no_grad_outputs = ("tmp_norm",)
    alpha: float = param(1e-4, doc="α, the variance scale")
    beta: float = param(0.75, doc="β, the power")
    knorm: float = param(2.0, doc="k, the offset")
    nsize: int = param(check=positive, doc="window width in channels (odd)")

    def check(self):
        if self.nsize % 2 != 1:
            raise ParamError("param 'nsize' must be odd (the window is centred on each "
                             "channel), got %d" % self.nsize)

    def num_visible_outputs(self):
        return 1

    def infer_shape(self, data):
        if data is None:
            return None
        if len(data) != 4:
            raise ShapeError("data must be 4-d (N, C, H, W), got %s" % (data,))
        return (data,), (data, data)

    def _window_sum(self, a):
        """Σ over the nsize channels centred on each channel, zero-padded (a window wider
        than 2C-1 sees nothing more: the loop is bounded by the channels, not nsize)."""
        h = min(self.nsize // 2, a.shape[1] - 1)
        padded = np.pad(a, ((0, 0), (h, h), (0, 0), (0, 0)))
        out = np.zeros_like(a)
        for k in range(2 * h + 1):
            out += padded[:, k:k + a.shape[1]]
        return out

    def forward(self, data, *, train):
        dt = data.dtype.type
        n = self._window_sum(np.square(data)) * dt(self.alpha / self.nsize) + dt(self.knorm)
        y = data * np.power(n, dt(-self.beta))
        return Result((y.astype(data.dtype), n.astype(data.dtype)), saved=(data, n))

    def backward(self, saved, dy):
        x, n = saved
        dt = x.dtype.type
        s = self._window_sum(dy * x * np.power(n, dt(-self.beta - 1)))
        g = dy * np.power(n, dt(-self.beta)) - dt(2 * self.beta * self.alpha / self.nsize) * s * x
        return (g.astype(x.dtype),)

    @classmethod
    def examples(cls):
        yield {"nsize": 3}, {"data": (2, 5, 2, 2)}
        yield {"nsize": 5, "alpha": 0.5, "beta": 0.5, "knorm": 1.0}, {"data": (1, 4, 3, 2)}


# ============================================================ SoftmaxActivation

@register
class SoftmaxActivation(Op):
    """'instance': y = softmax over the last axis (MXNet flattens the data to
    (rows, last dim); for the usual (N, C) data that is per instance); 'channel':
    softmax over axis 1 at each position of (N, C, ...) data.  dx = y·(dy - Σ dy·y)."""
    mode: str = param("instance", choices=("channel", "instance"))

    def _axis(self, ndim):
        return 1 if self.mode == "channel" else ndim - 1

    def infer_shape(self, data):
        if data is None:
            return None
        if self.mode == "channel" and len(data) < 3:
            raise ShapeError("mode='channel' needs data of at least 3 dims "
                             "(N, C, ...), got %s" % (data,))
        if len(data) < 1:
            raise ShapeError("data must have at least 1 dim, got ()")
        return (data,), (data,)

    shape_back = {"data": "all"}

    def infer_shape_backward(self, ins, outs):
        return same_shape_backward(ins, outs)      # elementwise in shape, as MXNet's rule

    def forward(self, data, *, train):
        ax = self._axis(data.ndim)
        z = data - data.max(axis=ax, keepdims=True)
        e = np.exp(z)
        y = (e / e.sum(axis=ax, keepdims=True)).astype(data.dtype)
        return Result((y,), saved=y)

    def backward(self, y, dy):
        ax = self._axis(y.ndim)
        return ((y * (dy - (dy * y).sum(axis=ax, keepdims=True))).astype(y.dtype),)

    @classmethod
    def examples(cls):
        yield {}, {"data": (3, 5)}
        yield {"mode": "channel"}, {"data": (2, 3, 2, 2)}
        yield {"mode": "instance"}, {"data": (2, 3, 4)}
