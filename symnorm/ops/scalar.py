"""Ops with one input and a scalar parameter (``a + 2`` is ``_plus_scalar`` named
``_plusscalar<k>``, as MXNet 1.9.1 names it: docs/facts.md §1.3)."""
from __future__ import annotations

import numpy as np

from ..core.params import param
from ..core.registry import Op, Result, register


# ============================================================ with a scalar

class _TypedScalars(dict):
    """dtype -> read-only 0-d array of the scalar.  numpy multiplies by a matching 0-d array
    2x faster than by a Python float (NEP 50 "weak scalar" handling costs ~0.7 us per call),
    and a hit here is one C-level dict lookup."""

    def __init__(self, value):
        super().__init__()
        self.value = value

    def __missing__(self, dtype):
        a = np.array(self.value, dtype)
        a.flags.writeable = False
        self[dtype] = a
        return a


class _Scalar(Op):
    """``data (op) scalar``; the scalar is stored as MXNet's string attribute ``scalar``."""
    scalar: float = param(1.0, doc="the scalar operand")

    def __post_init__(self):
        object.__setattr__(self, "_s", _TypedScalars(self.scalar))

    @classmethod
    def examples(cls):
        yield {"scalar": 1.5}, {"data": (2, 3)}


class _UfuncScalar(_Scalar):
    """``fn(data, scalar)`` for a numpy ufunc ``fn`` (the backward needs only the scalar)."""

    def forward(self, data, *, train):
        return Result((self.fn(data, self._s[data.dtype]),))


@register(name="_plus_scalar")
class PlusScalar(_UfuncScalar):
    """out = data + scalar"""
    hint = "_plusscalar"
    fn = staticmethod(np.add)

    def backward(self, saved, dy):
        return (dy,)


@register(name="_minus_scalar")
class MinusScalar(_UfuncScalar):
    """out = data - scalar"""
    hint = "_minusscalar"
    fn = staticmethod(np.subtract)

    def backward(self, saved, dy):
        return (dy,)


@register(name="_rminus_scalar")
class RMinusScalar(_Scalar):
    """out = scalar - data"""
    hint = "_rminusscalar"

    def forward(self, data, *, train):
        return Result((self._s[data.dtype] - data,))

    def backward(self, saved, dy):
        return (-dy,)


@register(name="_mul_scalar")
class MulScalar(_UfuncScalar):
    """out = data * scalar (also unary minus, with scalar -1.0)"""
    hint = "_mulscalar"
    fn = staticmethod(np.multiply)

    def backward(self, saved, dy):
        return (dy * self._s[dy.dtype],)


@register(name="_div_scalar")
class DivScalar(_UfuncScalar):
    """out = data / scalar"""
    hint = "_divscalar"
    fn = staticmethod(np.divide)

    def backward(self, saved, dy):
        return (dy / self._s[dy.dtype],)


@register(name="_rdiv_scalar")
class RDivScalar(_Scalar):
    """out = scalar / data  (d/dx = -scalar / x² = -out / x)"""
    hint = "_rdivscalar"
    input_range = {"data": (0.5, 2.0)}

    def forward(self, data, *, train):
        y = self._s[data.dtype] / data
        return Result((y,), None, (data, y))

    def backward(self, saved, dy):
        x, y = saved
        return (-dy * y / x,)


@register(name="_power_scalar")
class PowerScalar(_Scalar):
    """out = data ** scalar  (d/dx = scalar · x^(scalar-1))"""
    hint = "_powerscalar"
    input_range = {"data": (0.5, 2.0)}

    def forward(self, data, *, train):
        return Result((np.power(data, self._s[data.dtype]),), None, data)

    def backward(self, x, dy):
        return (dy * self.scalar * np.power(x, self._s[x.dtype] - 1),)


@register(name="_rpower_scalar")
class RPowerScalar(_Scalar):
    """out = scalar ** data  (d/dx = out · log(scalar))"""
    hint = "_rpowerscalar"

    def forward(self, data, *, train):
        y = np.power(self._s[data.dtype], data)
        return Result((y,), None, y)

    def backward(self, y, dy):
        return (dy * y * np.log(self._s[y.dtype]),)


@register(name="_maximum_scalar")
class MaximumScalar(_Scalar):
    """out = max(data, scalar); the gradient passes where data >= scalar"""
    hint = "_maximumscalar"

    def forward(self, data, *, train):
        return Result((np.maximum(data, self._s[data.dtype]),), None, data)

    def backward(self, x, dy):
        return (dy * (x >= self.scalar),)


@register(name="_minimum_scalar")
class MinimumScalar(_Scalar):
    """out = min(data, scalar); the gradient passes where data <= scalar"""
    hint = "_minimumscalar"

    def forward(self, data, *, train):
        return Result((np.minimum(data, self._s[data.dtype]),), None, data)

    def backward(self, x, dy):
        return (dy * (x <= self.scalar),)


@register(name="_mod_scalar")
class ModScalar(_Scalar):
    """out = data mod scalar  (d/dx = 1 between the jumps; 0 on integer dtypes, as MXNet)"""
    hint = "_modscalar"
    input_range = {"data": (0.1, 1.4)}

    def forward(self, data, *, train):
        return Result((np.mod(data, self._s[data.dtype]),))

    def backward(self, saved, dy):
        return (np.zeros_like(dy) if dy.dtype.kind in "iub" else dy,)


@register(name="_rmod_scalar")
class RModScalar(_Scalar):
    """out = scalar mod data  (d/dx = -floor(scalar / x) between the jumps; 0 on integer
    dtypes, as MXNet)"""
    hint = "_rmodscalar"
    input_range = {"data": (3.1, 3.9)}

    def forward(self, data, *, train):
        return Result((np.mod(self._s[data.dtype], data),), None, data)

    def backward(self, x, dy):
        if dy.dtype.kind in "iub":
            return (np.zeros_like(dy),)
        return (-dy * np.floor(self.scalar / x),)


class _CompareScalar(_Scalar):
    """1.0 where ``data (op) scalar`` holds, else 0.0; no gradient."""
    differentiable = False

    def forward(self, data, *, train):
        return Result((self.fn(data, self._s[data.dtype]).astype(data.dtype),))


for _name, _fn in (("_equal_scalar", np.equal), ("_not_equal_scalar", np.not_equal),
                   ("_greater_scalar", np.greater), ("_greater_equal_scalar", np.greater_equal),
                   ("_lesser_scalar", np.less), ("_lesser_equal_scalar", np.less_equal)):
    register(type(_name.title().replace("_", ""), (_CompareScalar,),
                  {"__doc__": "out = (data %s scalar) as 0/1" % _name[1:-7], "fn": staticmethod(_fn),
                   "__module__": __name__}), name=_name)
