"""Shapes from params or another input, and padding: reshape_like, broadcast_to,
broadcast_like, Pad (pad) (MXNet 1.9.1 names, params and shape rules).

Inputs that only lend their shape (the ``rhs`` of reshape_like and broadcast_like) get no
gradient: MXNet gives them zeros.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..core.dims import fill_one, known, norm_axis, prod
from ..core.errors import ParamError, ShapeError
from ..core.params import Shape, param
from ..core.registry import Op, Result, register


def _sum_to(dy, shape):
    """Sum ``dy`` over the axes a same-rank ``shape`` broadcast (size 1 there)."""
    axes = tuple(i for i, (a, b) in enumerate(zip(shape, dy.shape)) if a == 1 and b != 1)
    return dy.sum(axis=axes, keepdims=True) if axes else dy


# ============================================================ shapes from another input

def _span(nd, begin, end, side):
    """reshape_like's [begin, end) over ``nd`` dims (MXNet's defaults 0 and nd; negative
    values count from the end); an empty or out-of-range span is refused."""
    b = 0 if begin is None else begin + (nd if begin < 0 else 0)
    e = nd if end is None else end + (nd if end < 0 else 0)
    if not 0 <= b < e <= nd:
        raise ShapeError("%s_begin=%s, %s_end=%s is not a non-empty range of %s's %d dims"
                         % (side, begin, side, end, side, nd))
    return b, e


@register
class reshape_like(Op):
    """lhs reshaped to lhs.shape[:lb] + rhs.shape[rb:re] + lhs.shape[le:] (the whole of
    rhs's shape by default); the sizes must agree.  Gradient: dy reshaped back; rhs gets
    none."""
    inputs = ("lhs", "rhs")
    no_grad_inputs = ("rhs",)
    lhs_begin: Optional[int] = param(None, doc="first lhs dim replaced (default 0)")
    lhs_end: Optional[int] = param(None, doc="end of the lhs dims replaced (default: all)")
    rhs_begin: Optional[int] = param(None, doc="first rhs dim used (default 0)")
    rhs_end: Optional[int] = param(None, doc="end of the rhs dims used (default: all)")

    def infer_shape(self, lhs, rhs):
        if lhs is None or rhs is None:
            return None
        lb, le = _span(len(lhs), self.lhs_begin, self.lhs_end, "lhs")
        rb, re = _span(len(rhs), self.rhs_begin, self.rhs_end, "rhs")
        out = tuple(lhs[:lb]) + tuple(rhs[rb:re]) + tuple(lhs[le:])
        if known(lhs) and known(out) and prod(lhs) != prod(out):
            raise ShapeError("cannot reshape lhs %s (%d elements) to %s (%d elements)"
                             % (lhs, prod(lhs), out, prod(out)))
        return (lhs, rhs), (out,)

    def infer_shape_backward(self, ins, outs):
        lhs, out = ins[0], outs[0]
        return None if lhs is None or not known(out) else (fill_one(lhs, prod(out)), None)

    def forward(self, lhs, rhs, *, train):
        (out,) = self.infer_shape(lhs.shape, rhs.shape)[1]
        return Result((lhs.reshape(out),), saved=lhs.shape)

    def backward(self, shape, dy):
        return dy.reshape(shape), None

    def infer_type(self, lhs, rhs):
        return None if lhs is None else ((lhs, rhs), (lhs,))

    @classmethod
    def examples(cls):
        yield {}, {"lhs": (4, 6), "rhs": (2, 3, 4)}
        yield {"lhs_begin": 1, "lhs_end": 2, "rhs_begin": 0, "rhs_end": 2}, \
            {"lhs": (4, 6, 5), "rhs": (2, 3, 4)}


def _broadcast(src, dst, what):
    """One output dim per axis: dst's, or src's where dst is unknown; src must be 1 or
    equal (MXNet's rule)."""
    out = []
    for i, (a, b) in enumerate(zip(src, dst)):
        if a is not None and b is not None and a != 1 and a != b:
            raise ShapeError("%s %s cannot be broadcast to %s (axis %d: %d vs %d)"
                             % (what, src, dst, i, a, b))
        out.append(b if b is not None else (a if a != 1 else None))
    return tuple(out)


@register
class broadcast_to(Op):
    """data broadcast to ``shape`` (same rank; a 0 in ``shape`` keeps data's dim; data's
    dims must be 1 or equal).  Gradient: dy summed over the broadcast axes."""
    shape: Shape = param((), doc="target shape; 0 keeps the input's dim")

    def infer_shape(self, data):
        if data is None:
            return None
        if len(self.shape) != len(data):
            raise ShapeError("data %s cannot be broadcast to shape %s: the ranks differ"
                             % (data, self.shape))
        target = tuple(d if s == 0 else s for d, s in zip(data, self.shape))
        return (data,), (_broadcast(data, target, "data"),)

    def shape_back_axes(self):
        kept = tuple(i for i, s in enumerate(self.shape) if s == 0)
        return {"data": kept} if kept else {}

    def infer_shape_backward(self, ins, outs):
        out = outs[0]
        if out is None:
            return None
        return (tuple(d if s == 0 else None for d, s in zip(out, self.shape)),)

    def forward(self, data, *, train):
        (out,) = self.infer_shape(data.shape)[1]
        return Result((np.array(np.broadcast_to(data, out), order="C"),), saved=data.shape)

    def backward(self, shape, dy):
        return (_sum_to(dy, shape),)

    @classmethod
    def examples(cls):
        yield {"shape": (2, 0, 3)}, {"data": (1, 4, 1)}
        yield {"shape": (3, 2)}, {"data": (3, 1)}


@register
class broadcast_like(Op):
    """lhs broadcast to rhs's shape, or only its ``lhs_axes`` to rhs's ``rhs_axes`` sizes.
    Gradient: dy summed over the broadcast axes; rhs gets none."""
    inputs = ("lhs", "rhs")
    no_grad_inputs = ("rhs",)
    lhs_axes: Optional[Shape] = param(None, doc="axes of lhs to broadcast")
    rhs_axes: Optional[Shape] = param(None, doc="axes of rhs giving their sizes")

    def check(self):
        if (self.lhs_axes is None) != (self.rhs_axes is None) or \
                (self.lhs_axes is not None and len(self.lhs_axes) != len(self.rhs_axes)):
            raise ParamError("lhs_axes and rhs_axes must both be given with the same length "
                             "(or neither), got %s and %s" % (self.lhs_axes, self.rhs_axes))

    def infer_shape(self, lhs, rhs):
        if lhs is None or rhs is None:
            return None
        if self.lhs_axes is None:
            if len(lhs) != len(rhs):
                raise ShapeError("lhs %s cannot be broadcast like rhs %s: the ranks differ"
                                 % (lhs, rhs))
            return (lhs, rhs), (_broadcast(lhs, rhs, "lhs"),)
        target = list(lhs)
        for la, ra in zip(self.lhs_axes, self.rhs_axes):
            target[norm_axis(la, len(lhs), "lhs_axes entry")] = rhs[norm_axis(ra, len(rhs), "rhs_axes entry")]
        return (lhs, rhs), (_broadcast(lhs, tuple(target), "lhs"),)

    def forward(self, lhs, rhs, *, train):
        (out,) = self.infer_shape(lhs.shape, rhs.shape)[1]
        return Result((np.array(np.broadcast_to(lhs, out), order="C"),), saved=lhs.shape)

    def backward(self, shape, dy):
        return _sum_to(dy, shape), None

    def infer_type(self, lhs, rhs):
        return None if lhs is None else ((lhs, rhs), (lhs,))

    @classmethod
    def examples(cls):
        yield {}, {"lhs": (1, 4, 1), "rhs": (2, 4, 3)}
        yield {"lhs_axes": (0,), "rhs_axes": (-1,)}, {"lhs": (1, 4, 1), "rhs": (2, 4, 3)}


# ============================================================ padding

@register(name="Pad")
class Pad(Op):
    """Pad a 4-d or 5-d array on its spatial axes (MXNet 1.9.1's implementation: the batch
    and channel axes take no padding).  ``pad_width`` holds (before, after) per axis,
    flattened; ``mode`` 'constant' fills ``constant_value``, 'edge' repeats the border,
    'reflect' mirrors without repeating it (numpy.pad's modes; reflect needs pads smaller
    than the axis).  Gradient: dy's centre plus, for edge/reflect, the padding summed into
    the elements it copies."""
    aliases = ("pad",)
    mode: str = param(choices=("constant", "edge", "reflect"))
    pad_width: Shape = param(doc="(before, after) for every axis, flattened; 8 or 10 entries")
    constant_value: float = param(0.0, doc="the fill of mode='constant'")

    def check(self):
        n = len(self.pad_width)
        if n not in (8, 10):
            raise ParamError("pad_width has %d entries; Pad takes 8 (a 4-d input) or 10 (5-d): "
                             "(before, after) per axis" % n)
        if any(p < 0 for p in self.pad_width):
            raise ParamError("pad_width entries must be >= 0, got %s" % (self.pad_width,))
        if any(self.pad_width[:4]):
            raise ParamError("pad_width must be 0 for the first two axes (batch, channel), "
                             "got %s" % (self.pad_width[:4],))

    def _pairs(self):
        w = self.pad_width
        return [(w[2 * i], w[2 * i + 1]) for i in range(len(w) // 2)]

    def infer_shape(self, data):
        if data is None:
            return None
        if len(data) not in (4, 5):
            raise ShapeError("Pad takes a 4-d or 5-d input, got %d-d" % len(data))
        if len(self.pad_width) != 2 * len(data):
            raise ShapeError("pad_width has %d entries, a %d-d input needs %d"
                             % (len(self.pad_width), len(data), 2 * len(data)))
        out = []
        for i, (d, (lo, hi)) in enumerate(zip(data, self._pairs())):
            if self.mode == "reflect" and d is not None and (lo >= d or hi >= d):
                raise ShapeError("mode='reflect' needs pads smaller than the axis: axis %d "
                                 "has size %d, pad_width gives (%d, %d)" % (i, d, lo, hi))
            out.append(None if d is None else d + lo + hi)
        return (data,), (tuple(out),)

    shape_back = {"data": "all"}

    def infer_shape_backward(self, ins, outs):
        out = outs[0]
        if out is None or len(out) * 2 != len(self.pad_width):
            return None
        return (tuple(None if d is None else d - lo - hi for d, (lo, hi) in zip(out, self._pairs())),)

    def forward(self, data, *, train):
        if self.mode == "constant":
            out = np.pad(data, self._pairs(), mode="constant", constant_values=self.constant_value)
        else:
            out = np.pad(data, self._pairs(), mode=self.mode)
        return Result((out,), saved=data.shape)

    def backward(self, shape, dy):
        # numpy's padding is separable: per axis, output position j copies input
        # src[j]; the adjoint adds each position's gradient back into its source
        g = dy
        for ax, (lo, hi) in enumerate(self._pairs()):
            if lo == hi == 0:
                continue
            n = shape[ax]
            if self.mode == "constant":
                g = g[(slice(None),) * ax + (slice(lo, lo + n),)]
                continue
            src = np.pad(np.arange(n), (lo, hi), mode=self.mode)
            acc = np.zeros(g.shape[:ax] + (n,) + g.shape[ax + 1:], g.dtype)
            np.add.at(acc, (slice(None),) * ax + (src,), g)
            g = acc
        return (np.array(g, order="C"),)

    @classmethod
    def examples(cls):
        yield {"mode": "constant", "pad_width": (0, 0, 0, 0, 1, 2, 2, 1), "constant_value": 0.5}, \
            {"data": (1, 2, 3, 3)}
        yield {"mode": "edge", "pad_width": (0, 0, 0, 0, 2, 1, 0, 3)}, {"data": (2, 1, 3, 2)}
        yield {"mode": "reflect", "pad_width": (0, 0, 0, 0, 2, 1, 1, 0, 1, 1)}, {"data": (1, 1, 3, 2, 2)}
