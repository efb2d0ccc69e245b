"""Helpers for partial shapes: a shape is a tuple of dims, a dim is an int or ``None`` (unknown),
and a whole shape may be ``None`` (rank unknown).  Shape rules of ops use these so that they
work the same on fully and partially known shapes."""
from __future__ import annotations

from .errors import ShapeError, fmt_shape


def known(shape) -> bool:
    """True when the shape and every dim of it are known."""
    return shape is not None and all(d is not None for d in shape)


def prod(dims):
    """Product of dims, ``None`` if any is unknown."""
    out = 1
    for d in dims:
        if d is None:
            return None
        out *= d
    return out


def merge(a, b, what="shape"):
    """Unify two partial shapes; raise ``ShapeError`` if they contradict."""
    if a is None:
        return None if b is None else tuple(b)
    if b is None:
        return tuple(a)
    if len(a) != len(b):
        raise ShapeError("%s: inconsistent rank, %s vs %s" % (what, fmt_shape(a), fmt_shape(b)))
    out = []
    for x, y in zip(a, b):
        if x is not None and y is not None and x != y:
            raise ShapeError("%s: inconsistent shape, %s vs %s" % (what, fmt_shape(a), fmt_shape(b)))
        out.append(x if x is not None else y)
    return tuple(out)


def norm_axis(axis: int, ndim: int, what="axis") -> int:
    """Map a possibly negative axis into ``[0, ndim)`` or raise ``ShapeError``."""
    if not -ndim <= axis < ndim:
        raise ShapeError("%s %d out of range for %d-d input (valid: [%d, %d))"
                         % (what, axis, ndim, -ndim, ndim))
    return axis % ndim


def dim_op(fn, *dims):
    """Apply ``fn`` to dims, or return ``None`` if any of them is unknown."""
    return None if any(d is None for d in dims) else fn(*dims)
