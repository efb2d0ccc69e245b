"""``mx.nd.random``: uniform, normal, randint and shuffle from symnorm's random stream, so
``mx.random.seed(k)`` makes them repeat (the values differ from MXNet's generator)."""
from __future__ import annotations

import numbers

import numpy as np

from .. import random as _random
from ..core.errors import DTypeError, ParamError
from ..core.ndarray import NDArray, plain
from .creation import _dtype
from .ops import _check_ctx, write_out


def _size(shape, what):
    if shape is None:
        return ()
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    if any(not isinstance(d, numbers.Integral) or d < 0 for d in shape):
        raise ParamError("%s: shape must be non-negative ints, got %r" % (what, shape))
    return shape


def _draw(what, draw, a, b, shape, dtype, ctx, out, default_dtype="float32"):
    """One sample per ``shape`` (``(1,)`` when not given) from scalars ``a``, ``b``, or
    ``shape`` samples per element of arrays ``a``, ``b`` (result ``a.shape + shape``)."""
    _check_ctx(ctx, what)
    arrays = isinstance(a, np.ndarray), isinstance(b, np.ndarray)
    if any(arrays):
        if not all(arrays):
            raise ParamError("%s: both parameters must be NDArrays or both numbers" % what)
        a, b = plain(a), plain(b)
        if a.shape != b.shape:
            raise ParamError("%s: the parameter arrays differ in shape: %s and %s"
                             % (what, a.shape, b.shape))
        size = a.shape + _size(shape, what)
        extra = (slice(None),) * a.ndim + (None,) * (len(size) - a.ndim)
        a, b = a[extra], b[extra]
        dtype = dtype or (a.dtype.name if a.dtype.kind == "f" else default_dtype)
    else:
        size = _size(shape, what) or (1,)
    res = np.asarray(draw(_random.generator(), a, b, size)).astype(_dtype(dtype, default_dtype))
    res = res.view(NDArray)
    return res if out is None else write_out([res], out)


def uniform(low=0, high=1, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples from U[low, high) (numbers, or NDArrays: ``shape`` samples per element)."""
    return _draw("random.uniform", lambda g, a, b, s: g.uniform(a, b, s), low, high, shape,
                 dtype, ctx, out)


def normal(loc=0, scale=1, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples from N(loc, scale**2) (numbers, or NDArrays: ``shape`` samples per element)."""
    return _draw("random.normal", lambda g, a, b, s: g.normal(a, b, s), loc, scale, shape,
                 dtype, ctx, out)


def randint(low, high, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Integers uniform in [low, high) (int32 unless ``dtype``, an int type)."""
    dt = _dtype(dtype, "int32")
    if np.dtype(dt).kind not in "iu":
        raise DTypeError("random.randint: dtype must be an int type, got %s" % dt)
    if not (isinstance(low, numbers.Integral) and isinstance(high, numbers.Integral)) or low >= high:
        raise ParamError("random.randint: needs ints low < high, got %r, %r" % (low, high))
    return _draw("random.randint", lambda g, a, b, s: g.integers(a, b, s), low, high, shape,
                 dt, ctx, out, "int32")


def shuffle(data, **kwargs):
    """A copy of ``data`` with its rows (first axis) in random order."""
    if not isinstance(data, np.ndarray):
        raise DTypeError("random.shuffle: data must be an NDArray, got %s" % type(data).__name__)
    res = plain(data)[_random.generator().permutation(len(data))] if data.ndim else plain(data).copy()
    out = kwargs.get("out")
    res = res.view(NDArray)
    return res if out is None else write_out([res], out)


__all__ = ["uniform", "normal", "randint", "shuffle"]
