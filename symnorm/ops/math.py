"""More one-input math, MXNet 1.9.1 names: log10, log2, cbrt, rcbrt, the trigonometric and
hyperbolic functions and their inverses, degrees/radians, rint/fix/trunc, erf, softsign,
hard_sigmoid and smooth_l1; the reductions prod, nansum and nanprod; softmin.

Gradients are the analytic derivatives MXNet uses; rint, fix and trunc are flat almost
everywhere and declared not differentiable (as floor/ceil/round in ``unary.py``).
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ..core.errors import ParamError
from ..core.params import param
from ..core.registry import Op, Result, register
from .reduce import _Reduce

_LN10, _LN2 = math.log(10.0), math.log(2.0)
_erf_scalar = np.vectorize(math.erf, otypes=[np.float64])


class _Math(Op):
    """y = f(x) elementwise; dy/dx from the saved input and output."""

    def forward(self, data, *, train):
        y = np.asarray(self.fn(data), data.dtype)
        return Result((y,), saved=(data, y))

    def backward(self, saved, dy):
        x, y = saved
        return (np.asarray(self.grad(x, y, dy), dy.dtype),)

    @classmethod
    def examples(cls):
        yield {}, {"data": (2, 3)}
        yield {}, {"data": (2, 3, 2)}


def _math(name, doc, fn, grad, lo_hi=None):
    """Register an elementwise op; ``lo_hi`` is the range the generated tests draw from
    (inside the function's domain, away from its poles)."""
    attrs = {"__doc__": doc, "__module__": __name__, "fn": staticmethod(fn),
             "grad": staticmethod(grad) if grad else None,
             "input_range": {"data": lo_hi} if lo_hi else {}}
    if grad is None:
        attrs["differentiable"] = False
        attrs["backward"] = Op.backward         # the declaration's no-gradient default
    return register(type(name.title().replace("_", ""), (_Math,), attrs), name=name)


def _rint(x):
    # MXNet's rint: halves go down (1.5 -> 1, -0.5 -> -1), unlike numpy's half-to-even
    f = np.floor(x)
    return np.where(x - f <= 0.5, f, f + 1)


_POS = (0.5, 2.0)
_UNIT = (-0.9, 0.9)
_math("log10", "y = log10(x)", np.log10, lambda x, y, dy: dy / (x * _LN10), _POS)
_math("log2", "y = log2(x)", np.log2, lambda x, y, dy: dy / (x * _LN2), _POS)
_math("cbrt", "y = x^(1/3); dy/dx = 1/(3·y²)", np.cbrt, lambda x, y, dy: dy / (3 * y * y), _POS)
_math("rcbrt", "y = x^(-1/3); dy/dx = -y/(3·x)", lambda x: 1 / np.cbrt(x),
      lambda x, y, dy: -dy * y / (3 * x), _POS)
_math("tan", "y = tan(x); dy/dx = 1 + y²", np.tan, lambda x, y, dy: dy * (1 + y * y), (-1.2, 1.2))
_math("arcsin", "y = arcsin(x), x in [-1, 1]; dy/dx = 1/sqrt(1-x²)", np.arcsin,
      lambda x, y, dy: dy / np.sqrt(1 - x * x), _UNIT)
_math("arccos", "y = arccos(x), x in [-1, 1]; dy/dx = -1/sqrt(1-x²)", np.arccos,
      lambda x, y, dy: -dy / np.sqrt(1 - x * x), _UNIT)
_math("arctan", "y = arctan(x); dy/dx = 1/(1+x²)", np.arctan, lambda x, y, dy: dy / (1 + x * x))
_math("sinh", "y = sinh(x); dy/dx = cosh(x)", np.sinh, lambda x, y, dy: dy * np.cosh(x))
_math("cosh", "y = cosh(x); dy/dx = sinh(x)", np.cosh, lambda x, y, dy: dy * np.sinh(x))
_math("arcsinh", "y = arcsinh(x); dy/dx = 1/sqrt(x²+1)", np.arcsinh,
      lambda x, y, dy: dy / np.sqrt(x * x + 1))
_math("arccosh", "y = arccosh(x), x >= 1; dy/dx = 1/sqrt(x²-1)", np.arccosh,
      lambda x, y, dy: dy / np.sqrt(x * x - 1), (1.2, 3.0))
_math("arctanh", "y = arctanh(x), x in (-1, 1); dy/dx = 1/(1-x²)", np.arctanh,
      lambda x, y, dy: dy / (1 - x * x), _UNIT)
_math("degrees", "y = x·180/π", np.degrees, lambda x, y, dy: dy * (180 / math.pi))
_math("radians", "y = x·π/180", np.radians, lambda x, y, dy: dy * (math.pi / 180))
_math("rint", "y = the nearest integer to x; halves round down (MXNet: rint(1.5) = 1, "
      "rint(-0.5) = -1)", _rint, None)
_math("fix", "y = x rounded towards 0", np.trunc, None)
_math("trunc", "y = x rounded towards 0 (the integer part)", np.trunc, None)
_math("erf", "y = erf(x) = 2/sqrt(π)·∫₀ˣ exp(-t²)dt; dy/dx = 2/sqrt(π)·exp(-x²)", _erf_scalar,
      lambda x, y, dy: dy * (2 / math.sqrt(math.pi)) * np.exp(-x * x))
_math("softsign", "y = x / (1 + |x|); dy/dx = 1/(1+|x|)²", lambda x: x / (1 + np.abs(x)),
      lambda x, y, dy: dy / np.square(1 + np.abs(x)))


@register
class hard_sigmoid(Op):
    """y = max(0, min(1, alpha·x + beta)); dy/dx = alpha where 0 < alpha·x + beta < 1,
    else 0."""
    alpha: float = param(0.2, doc="slope")
    beta: float = param(0.5, doc="offset")

    def forward(self, data, *, train):
        z = data * data.dtype.type(self.alpha) + data.dtype.type(self.beta)
        return Result((np.clip(z, 0, 1).astype(data.dtype),), saved=z)

    def backward(self, z, dy):
        return ((dy * ((z > 0) & (z < 1)) * dy.dtype.type(self.alpha)).astype(dy.dtype),)

    @classmethod
    def examples(cls):
        # inputs away from the kinks at alpha·x + beta = 0 and 1 (x = -2.5 and 2.5 here)
        yield {}, {"data": (3, 4)}
        yield {"alpha": 0.3, "beta": 0.4}, {"data": (2, 3, 2)}

    input_range = {"data": (-2.0, 2.0)}


@register
class smooth_l1(Op):
    """With σ = ``scalar``: y = 0.5·(σx)² where |x| < 1/σ², else |x| - 0.5/σ²;
    dy/dx = σ²·x inside, sign(x) outside."""
    scalar: float = param(1.0, doc="σ")

    def _s2(self, dtype):
        return dtype.type(self.scalar * self.scalar)

    def forward(self, data, *, train):
        s2 = self._s2(data.dtype)
        a = np.abs(data)
        y = np.where(a < 1 / s2, 0.5 * s2 * data * data, a - 0.5 / s2)
        return Result((y.astype(data.dtype),), saved=data)

    def backward(self, x, dy):
        s2 = self._s2(x.dtype)
        return ((dy * np.where(np.abs(x) < 1 / s2, s2 * x, np.sign(x))).astype(dy.dtype),)

    @classmethod
    def examples(cls):
        yield {}, {"data": (3, 4)}
        yield {"scalar": 2.0}, {"data": (2, 3, 2)}


# ============================================================ reductions

def _others_product(x, axes):
    """∂(Π x over ``axes``)/∂x: the product of the *other* elements of each reduced group
    (exact when x has zeros, where MXNet's y/x gives nan/inf), shaped like x."""
    moved = np.moveaxis(x, axes, tuple(range(x.ndim - len(axes), x.ndim)))
    keep = moved.shape[:x.ndim - len(axes)]
    flat = moved.reshape(keep + (-1,))
    ones = np.ones(keep + (1,), x.dtype)
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    g = (left * right).reshape(moved.shape)
    return np.moveaxis(g, tuple(range(x.ndim - len(axes), x.ndim)), axes)


@register(name="prod")
class Prod(_Reduce):
    """out = Π data over the reduced axes (shape (1,) for all of them); d out/d x = the product of the other elements
    (computed without dividing by x, so zeros in the input get their true gradient)."""

    def forward(self, data, *, train):
        out = np.prod(data, axis=self._axes(data.ndim), keepdims=self.keepdims)
        return Result((self._out(out, data),), None, data)

    def backward(self, x, dy):
        g = _others_product(x, self._axes(x.ndim))
        return ((g * self._expand(dy, x.shape)).astype(dy.dtype),)


@register(name="nansum")
class Nansum(_Reduce):
    """out = Σ data over the reduced axes, NaN counted as 0; the gradient is dy where data
    is not NaN and 0 where it is."""

    def forward(self, data, *, train):
        out = np.nansum(data, axis=self._axes(data.ndim), keepdims=self.keepdims)
        return Result((self._out(out, data),), None, data)

    def backward(self, x, dy):
        return ((~np.isnan(x) * self._expand(dy, x.shape)).astype(dy.dtype),)


@register(name="nanprod")
class Nanprod(_Reduce):
    """out = Π data over the reduced axes, NaN counted as 1; the gradient is the product of
    the other non-NaN elements, 0 at a NaN."""

    def forward(self, data, *, train):
        out = np.nanprod(data, axis=self._axes(data.ndim), keepdims=self.keepdims)
        return Result((self._out(out, data),), None, data)

    def backward(self, x, dy):
        nan = np.isnan(x)
        g = _others_product(np.where(nan, 1, x), self._axes(x.ndim))
        return ((np.where(nan, 0, g) * self._expand(dy, x.shape)).astype(dy.dtype),)


# ============================================================ softmin

_FLOAT_DTYPES = ("float16", "float32", "float64")


@register
class softmin(Op):
    """y = exp(-x/T) / Σ exp(-x/T) along ``axis`` (softmax of -x);
    dx = -(dy - Σ dy·y)·y/T.  ``dtype`` sets the output type (default: the input's)."""
    axis: int = param(-1)
    temperature: Optional[float] = param(None, doc="T, default 1")
    dtype: Optional[str] = param(None, choices=_FLOAT_DTYPES, doc="output dtype")
    use_length: bool = param(False, doc="mask with a length input: not supported")

    def check(self):
        if self.use_length:
            raise ParamError("param 'use_length': True (a length input) is not supported by "
                             "symnorm's softmin; mask the data instead")
        if self.temperature == 0:
            raise ParamError("param 'temperature' must not be 0")

    def infer_type(self, data):
        if data is None:
            return None
        return (data,), (np.dtype(self.dtype) if self.dtype else data,)

    def forward(self, data, *, train):
        t = self.temperature or 1.0
        z = data.astype(np.float64 if data.dtype == np.float64 else np.float32) * (-1.0 / t)
        z -= z.max(axis=self.axis, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=self.axis, keepdims=True)
        y = z.astype(self.dtype or data.dtype)
        return Result((y,), saved=(y, data.dtype))

    def backward(self, saved, dy):
        y, in_dtype = saved
        t = self.temperature or 1.0
        g = -(dy - (dy * y).sum(axis=self.axis, keepdims=True)) * y / t
        return (g.astype(in_dtype),)

    @classmethod
    def examples(cls):
        yield {}, {"data": (3, 5)}
        yield {"axis": 1, "temperature": 2.0}, {"data": (2, 4, 3)}
