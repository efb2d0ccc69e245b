"""Helpers for partial shapes: a shape is a tuple of dims, a dim is an int or ``None`` (unknown),
and a whole shape may be ``None`` (rank unknown).  Shape rules of ops use these so that they
work the same on fully and partially known shapes."""
from __future__ import annotations

import numbers

from .errors import ShapeError, ShapeTypeError, fmt_shape
from .ndarray import NDArray

# Bounds on what a shape may hold, checked wherever a shape enters symnorm (user shapes,
# ``__shape__`` attributes, Shape params, .params records, op rules).  MXNet has none of
# these; they turn an absurd value into a clear error instead of minutes of work, a huge
# allocation or a silent int64 wrap-around (see docs/architecture.md, "Bounds").
MAX_NDIM = 32
"""Most dims a shape (or any tuple param) may have: numpy 1.x's NPY_MAXDIMS."""
MAX_DIM = 2 ** 63 - 1
"""Largest dim, and largest element count of a shape: what an int64 (MXNet's dim_t) holds."""


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


def check_shape(shape, what="shape", unknown_zero=True) -> tuple:
    """A user-given shape as a tuple of Python ints, or ``ShapeError`` saying what is wrong
    (``ShapeTypeError``, a TypeError too, when it is not a sequence of ints).

    Each dim must be an integer (not a bool, float, NaN, inf or string) in ``[0, MAX_DIM]``
    (0 is MXNet's "unknown" for partial shapes; ``unknown_zero=False`` reads it as size 0
    and only changes the message), at most ``MAX_NDIM`` dims, and the element count must
    fit in an int64.
    """
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__"):
        raise ShapeTypeError("%s must be a tuple of ints, got %s" % (what, _short(shape)))
    if isinstance(shape, NDArray):     # as MXNet: a numpy int array may give dims, an NDArray not
        raise ShapeTypeError("%s must be a tuple of ints, got an NDArray (of shape %s); pass "
                             "its .shape or a tuple" % (what, shape.shape))
    if len(shape) > MAX_NDIM:
        raise ShapeError("%s has %d dims; symnorm allows at most %d" % (what, len(shape), MAX_NDIM))
    out = []
    for i, d in enumerate(shape):
        if isinstance(d, bool) or not isinstance(d, numbers.Integral):
            raise ShapeTypeError("%s: dim %d must be an int, got %s (%s)"
                             % (what, i, _short(d), type(d).__name__))
        d = int(d)
        if not 0 <= d <= MAX_DIM:
            raise ShapeError("%s: dim %d is %d; dims must be in [0, 2**63-1]%s"
                             % (what, i, d, " (0 = unknown)" if unknown_zero else ""))
        out.append(d)
    count = 1
    for d in out:
        count *= d or 1
    if count > MAX_DIM:
        raise ShapeError("%s %s has more elements than an int64 can count" % (what, tuple(out)))
    return tuple(out)


def check_inferred(shape):
    """Raise ``ShapeError`` unless an op rule's (partial) shape is within the bounds
    ``check_shape`` sets: a rule fed absurd params must not yield a negative dim or a
    100-dim shape that only fails, obscurely, when the arrays are made."""
    if shape is None:
        return
    bad = len(shape) > MAX_NDIM or any(
        d is not None and (isinstance(d, bool) or not isinstance(d, numbers.Integral)
                           or not 0 <= d <= MAX_DIM) for d in shape)
    if not bad and known(shape):
        bad = prod(shape) > MAX_DIM
    if bad:
        raise ShapeError("invalid inferred shape %s (dims must be ints in [0, 2**63-1], at "
                         "most %d of them, and the element count must fit an int64)"
                         % (_short(tuple(shape)), MAX_NDIM))


def _short(v, limit=80) -> str:
    text = repr(v)
    return text if len(text) <= limit else text[:limit] + "...(%d chars)" % len(text)


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


def fill_one(dims, total):
    """``dims`` with its single unknown dim set so that the product is ``total`` (the
    backward direction of Flatten and Reshape); unchanged when that is not determinable."""
    if total is None or dims is None:
        return dims
    unknown = [i for i, d in enumerate(dims) if d is None]
    if len(unknown) != 1:
        return dims
    rest = prod(d for d in dims if d is not None)
    if rest == 0 or total % rest:
        if rest == 0 and total == 0:
            return dims
        raise ShapeError("%s cannot hold %d elements" % (fmt_shape(tuple(dims)), total))
    out = list(dims)
    out[unknown[0]] = total // rest
    return tuple(out)


def same_shape_backward(in_shapes, out_shapes, slots=(0,), out_index=0):
    """Backward rule of ops whose inputs in ``slots`` have the shape of output
    ``out_index`` (Dropout, the norms, the losses' data)."""
    out = out_shapes[out_index]
    if out is None:
        return None
    return tuple(tuple(out) if i in slots else None for i in range(len(in_shapes)))
