"""Making NDArrays (``mx.nd.array``, ``zeros``, ``arange``, ...) and MXNet's array
functions that take scalars too (``mx.nd.maximum(x, 0)``, ``mx.nd.add``)."""
from __future__ import annotations

import numbers

import numpy as np

from ..core.dtype import REAL_KINDS
from ..core.errors import DataError, DTypeError, ParamError, ShapeError
from ..core.ndarray import NDArray, as_ndarray, binary_method, plain
from ..core.registry import REGISTRY
from .ops import _check_ctx, call_op, write_out


def _dtype(dtype, default="float32") -> str:
    """A dtype given as MXNet code gives it (``'float32'``, ``np.float32``) as its name."""
    if dtype is None:
        return default
    try:
        return np.dtype(dtype).name
    except TypeError as exc:
        raise DTypeError("%r is not a dtype (%s)" % (dtype, exc)) from None


def _shape(shape):
    return (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)


def _run(op_name, **params):
    return call_op(REGISTRY[op_name], (), params, op_name)


def array(source_array, ctx=None, dtype=None) -> NDArray:
    """A new NDArray holding a copy of ``source_array`` (an array, nested lists, a number).
    The dtype is ``dtype``, else the source's for an NDArray, else float32 (as MXNet: even
    for float64 or int numpy arrays)."""
    _check_ctx(ctx, "array")
    if dtype is None:
        dtype = source_array.dtype if isinstance(source_array, NDArray) else np.float32
    try:
        a = np.array(plain(source_array), dtype=_dtype(dtype))
    except (TypeError, ValueError) as exc:
        raise DataError("array: cannot make an array of %s (%s)"
                        % (type(source_array).__name__, exc)) from None
    if a.dtype.kind not in REAL_KINDS:
        raise DTypeError("array: dtype %s is not supported (bool, int and float only)" % a.dtype)
    return a.view(NDArray)


def zeros(shape, ctx=None, dtype=None, stype=None, **kwargs) -> NDArray:
    """An array of zeros (float32 unless ``dtype``)."""
    _check_ctx(ctx, "zeros")
    return _run("_zeros", shape=_shape(shape), dtype=_dtype(dtype), **kwargs)


def ones(shape, ctx=None, dtype=None, **kwargs) -> NDArray:
    """An array of ones (float32 unless ``dtype``)."""
    _check_ctx(ctx, "ones")
    return _run("_ones", shape=_shape(shape), dtype=_dtype(dtype), **kwargs)


def full(shape, val, ctx=None, dtype=None, out=None) -> NDArray:
    """An array of ``shape`` filled with ``val``."""
    _check_ctx(ctx, "full")
    return _run("_full", shape=_shape(shape), value=val, dtype=_dtype(dtype), out=out)


def empty(shape, ctx=None, dtype=None) -> NDArray:
    """MXNet leaves the values unset; symnorm's are zeros."""
    return zeros(shape, ctx, dtype)


def arange(start, stop=None, step=1.0, repeat=1, infer_range=None, ctx=None, dtype=None) -> NDArray:
    """``start, start+step, ...`` below ``stop``, each value ``repeat`` times (float32)."""
    _check_ctx(ctx, "arange")
    return _run("_arange", start=start, stop=stop, step=step, repeat=repeat, dtype=_dtype(dtype))


def zeros_like(data, out=None) -> NDArray:
    """Zeros of ``data``'s shape and dtype."""
    return _like(data, 0, out, "zeros_like")


def ones_like(data, out=None) -> NDArray:
    """Ones of ``data``'s shape and dtype."""
    return _like(data, 1, out, "ones_like")


def _like(data, value, out, what):
    if not isinstance(data, np.ndarray):
        raise DTypeError("%s: data must be an NDArray, got %s" % (what, type(data).__name__))
    res = np.full(data.shape, value, data.dtype).view(NDArray)
    return res if out is None else write_out([res], out)


def stack(*data, axis=0, num_args=None, out=None) -> NDArray:
    """The arrays (all of one shape and dtype) stacked along a new axis ``axis``."""
    if num_args is not None and num_args != len(data):
        raise ParamError("stack: num_args=%d but %d arrays were given" % (num_args, len(data)))
    if not data:
        raise ParamError("stack: needs at least one array")
    arrays = [plain(d) for d in data]
    for i, a in enumerate(arrays):
        if not isinstance(a, np.ndarray):
            raise DTypeError("stack: input %d must be an NDArray, got %s" % (i, type(a).__name__))
        if a.shape != arrays[0].shape or a.dtype != arrays[0].dtype:
            raise ShapeError("stack: input %d has shape %s and dtype %s; input 0 has %s and %s"
                             % (i, a.shape, a.dtype, arrays[0].shape, arrays[0].dtype))
    nd = arrays[0].ndim + 1
    if not -nd <= axis < nd:
        raise ShapeError("stack: axis %d is out of range for %d-d results" % (axis, nd))
    res = np.stack(arrays, axis).view(NDArray)
    return res if out is None else write_out([res], out)


def waitall() -> None:
    """MXNet waits for every pending operation; symnorm computes eagerly."""


# MXNet's mx.nd functions that take an array or a scalar on either side, with the NDArray
# operators' dtype rules (a scalar takes the array's dtype; comparisons give 0/1 of it)
def _either(name, ufunc, doc, compare=False):
    forward, reflected = binary_method(ufunc, compare=compare), binary_method(ufunc, True, compare)

    def function(lhs, rhs):
        if isinstance(lhs, np.ndarray):
            return forward(as_ndarray(lhs), rhs)
        if isinstance(rhs, np.ndarray):
            return reflected(as_ndarray(rhs), lhs)
        return ufunc(lhs, rhs)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return function


add = _either("add", np.add, "lhs + rhs, broadcasting.")
subtract = _either("subtract", np.subtract, "lhs - rhs, broadcasting.")
multiply = _either("multiply", np.multiply, "lhs * rhs, broadcasting.")
divide = _either("divide", np.true_divide, "lhs / rhs, broadcasting (int arrays: truncated).")
modulo = _either("modulo", np.remainder, "lhs % rhs, broadcasting.")
power = _either("power", np.power, "lhs ** rhs, broadcasting.")
maximum = _either("maximum", np.maximum, "The larger of lhs and rhs, elementwise, broadcasting.")
minimum = _either("minimum", np.minimum, "The smaller of lhs and rhs, elementwise, broadcasting.")
equal = _either("equal", np.equal, "1 where lhs == rhs, else 0 (of the input dtype).", True)
not_equal = _either("not_equal", np.not_equal, "1 where lhs != rhs, else 0.", True)
greater = _either("greater", np.greater, "1 where lhs > rhs, else 0.", True)
greater_equal = _either("greater_equal", np.greater_equal, "1 where lhs >= rhs, else 0.", True)
lesser = _either("lesser", np.less, "1 where lhs < rhs, else 0.", True)
lesser_equal = _either("lesser_equal", np.less_equal, "1 where lhs <= rhs, else 0.", True)

__all__ = ["array", "zeros", "ones", "full", "empty", "arange", "zeros_like", "ones_like",
           "stack", "waitall", "add", "subtract", "multiply", "divide", "modulo", "power",
           "maximum", "minimum",
           "equal", "not_equal", "greater", "greater_equal", "lesser", "lesser_equal"]
