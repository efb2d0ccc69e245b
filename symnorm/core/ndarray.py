"""``NDArray``: MXNet's array type, as a numpy array subclass.

An NDArray *is* an ``np.ndarray`` (``a.view(NDArray)`` costs no copy and numpy functions take
it as is) with MXNet 1.x's surface on top: ``asnumpy``, ``asscalar``, ``context``,
``copyto``, ``as_in_context``, ``astype(dtype, copy=True)``, ``wait_to_read``, ``stype``,
MXNet's ``repr`` and MXNet's operator semantics:

* ``a + 2``, ``a * 1.5``...: the result has ``a``'s dtype; a scalar is cast to it first, so
  an int32 array times 1.5 multiplies by 1 and ``int / int`` divides with truncation, as
  MXNet's scalar ops do.  Two arrays of one dtype give that dtype; arrays of different
  dtypes (which MXNet refuses) follow numpy's promotion.
* ``a == b``, ``a < 2``...: 0/1 arrays of the operands' dtype, not bool (MXNet has no
  bool arrays); in-place operators write into ``a`` and return it.
* ``a[i, j]`` with one integer per axis is a 1-element NDArray (a copy), not a numpy scalar.

This module holds only what needs numpy: the methods that run registered ops (``reshape``
with MXNet's codes, the fluent ``sum``/``clip``/...) are added by ``symnorm.ndarray``,
which every ``import symnorm`` loads.  The runtime keeps computing on plain arrays and
hands out NDArray views only at its public accessors.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..context import Context, cpu
from .errors import DTypeError, ShapeError

_CPU = cpu()


def plain(a):
    """``a`` as a plain ``np.ndarray`` (a view of an NDArray: no copy), else as given."""
    return a.view(np.ndarray) if isinstance(a, NDArray) else a


def _scalar_like(value, dtype):
    """``value`` cast to ``dtype`` as MXNet casts an operator's scalar (1.5 -> 1 for int)."""
    try:
        return dtype.type(value)
    except (OverflowError, ValueError):
        return np.array(value).astype(dtype)


def _is_real_scalar(x) -> bool:
    return isinstance(x, (numbers.Real, np.bool_)) or \
        (isinstance(x, np.generic) and x.dtype.kind in "biuf")


def _trunc_div(a, b):
    """Integer division truncating toward zero (C's, as MXNet's int kernels divide)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.floor_divide(a, b)
        fix = (np.remainder(a, b) != 0) & ((np.asarray(a) < 0) != (np.asarray(b) < 0))
    return q + fix.astype(q.dtype)


def binary_method(ufunc, reflected=False, compare=False):
    """The NDArray operator method applying ``ufunc`` with MXNet's dtype rules (see the
    module docstring); ``reflected``: ``other`` is the left operand."""
    def method(self, other):
        if isinstance(other, NDArray):
            other = other.view(np.ndarray)
        elif _is_real_scalar(other):
            other = _scalar_like(other, self.dtype)
        elif isinstance(other, (list, tuple, numbers.Number, np.generic)):
            other = np.asarray(other)       # complex scalars, lists: numpy's promotion
        elif not isinstance(other, np.ndarray):
            return NotImplemented
        a = self.view(np.ndarray)
        lhs, rhs = (other, a) if reflected else (a, other)
        same = not isinstance(other, np.ndarray) or other.dtype == self.dtype
        if ufunc is np.true_divide and self.dtype.kind in "iub" and same:
            out = _trunc_div(lhs, rhs)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                out = ufunc(lhs, rhs)
        dtype = self.dtype if same else np.result_type(a, other)
        if not isinstance(out, np.ndarray):        # 0-d operands give numpy scalars
            out = np.asarray(out)
        if compare or out.dtype != dtype:
            out = out.astype(dtype)
        return out.view(NDArray)
    return method


def _inplace(ufunc):
    apply = binary_method(ufunc)

    def method(self, other):
        result = apply(self, other)
        if result is NotImplemented:
            return NotImplemented
        if result.shape != self.shape:
            raise ShapeError("in-place operator: the result has shape %s, the array %s"
                             % (result.shape, self.shape))
        np.copyto(self.view(np.ndarray), result.view(np.ndarray), casting="unsafe")
        return self
    return method


def _truth(x):
    """A comparison's 0/1 array (or a number) as bool, for ``&``, ``|``, ``^``, ``~``."""
    return x if x.dtype == np.bool_ else x != 0


def _logical(ufunc, reflected=False):
    """``&``/``|``/``^``: bitwise on two int arrays (numpy's); otherwise logical on truth
    values, giving bool when an operand is bool and 0/1 of the operand's dtype when not
    (numpy's own helpers combine their bool masks with ``x == y`` this way)."""
    def method(self, other):
        if isinstance(other, (bool, np.bool_, numbers.Integral)) or isinstance(other, np.ndarray):
            other = np.asarray(plain(other))
        else:
            return NotImplemented
        a = self.view(np.ndarray)
        if a.dtype.kind in "iu" and other.dtype.kind in "iu":
            out = ufunc(other, a) if reflected else ufunc(a, other)
            return np.asarray(out).view(NDArray)
        out = np.asarray(ufunc(_truth(other), _truth(a)) if reflected else ufunc(_truth(a), _truth(other)))
        if a.dtype != np.bool_ and other.dtype != np.bool_:
            out = out.astype(np.result_type(a, other))
        return out.view(NDArray)
    return method


def _index(key):
    # a float 0/1 mask (what a comparison gives) indexes as the bool mask it stands for;
    # numpy refuses float indices, so no other meaning is lost
    if isinstance(key, np.ndarray) and key.dtype.kind == "f":
        return key.view(np.ndarray) != 0
    if isinstance(key, tuple) and any(isinstance(k, np.ndarray) and k.dtype.kind == "f" for k in key):
        return tuple(_index(k) for k in key)
    return key


class NDArray(np.ndarray):
    """MXNet's NDArray: a numpy array with MXNet's methods and operator semantics.

    >>> import symnorm as mx
    >>> x = mx.nd.array([[1, 2]])
    >>> x
    <BLANKLINE>
    [[1. 2.]]
    <NDArray 1x2 @cpu(0)>
    >>> (x == 2).asnumpy()
    array([[0., 1.]], dtype=float32)
    """

    # no __array_finalize__: a view carries no state, so numpy wraps results at its cheapest
    __array_priority__ = 10.0   # over plain arrays; Symbol's 1000 still wins

    # ------------------------------------------------------------------ MXNet's attributes
    @property
    def context(self) -> Context:
        """The device: always ``cpu(0)``."""
        return _CPU

    ctx = context

    @property
    def stype(self) -> str:
        """The storage type: ``'default'`` (dense; symnorm has no sparse arrays)."""
        return "default"

    def asnumpy(self) -> np.ndarray:
        """A plain ``np.ndarray`` copy of the values."""
        return np.array(self, subok=False)

    def asscalar(self):
        """The value of a one-element array as a numpy scalar of its dtype."""
        if self.size != 1:
            raise ShapeError("The current array is not a scalar (asscalar() of an array of "
                             "shape %s)" % (self.shape,))
        return self.view(np.ndarray).reshape(-1)[0]

    def copyto(self, other):
        """Copy into the NDArray ``other`` (returned) or, given a Context, into a new one."""
        if isinstance(other, Context):
            return self.copy()
        if not isinstance(other, np.ndarray):
            raise TypeError("copyto: the target must be an NDArray or a Context, got %s"
                            % type(other).__name__)
        if other.shape != self.shape:
            raise ShapeError("copyto: shape mismatch, the source is %s, the target %s"
                             % (self.shape, other.shape))
        np.copyto(plain(other), self.view(np.ndarray), casting="unsafe")
        return other

    def as_in_context(self, context) -> "NDArray":
        """This array on ``context`` (``cpu()``, the only device): itself."""
        if not isinstance(context, Context):
            raise TypeError("as_in_context: expected a Context such as mx.cpu(), got %r" % (context,))
        return self

    def astype(self, dtype, copy=True, **kwargs):
        """The array cast to ``dtype`` (MXNet's signature: ``copy`` second); with
        ``copy=False`` the array itself when it already has that dtype."""
        try:
            dtype = np.dtype(dtype)
        except TypeError as exc:
            raise DTypeError("astype: %r is not a dtype (%s)" % (dtype, exc)) from None
        return np.ndarray.astype(self, dtype, copy=copy, **kwargs)

    def wait_to_read(self):
        """MXNet waits for pending writes; symnorm computes eagerly: returns at once."""

    wait_to_write = wait_to_read

    def as_nd_ndarray(self):
        return self

    # ------------------------------------------------------------------ printing
    def __repr__(self):
        shape = "x".join("%d" % d for d in self.shape)
        return "\n%s\n<NDArray %s @%s>" % (str(self.view(np.ndarray)), shape, _CPU)

    __str__ = __repr__

    # ------------------------------------------------------------------ indexing
    def __getitem__(self, key):
        key = _index(key)
        out = np.ndarray.__getitem__(self, key)
        if isinstance(out, np.ndarray):
            return out
        # one integer per axis: MXNet gives a 1-element array, not a scalar.  A copy, where
        # MXNet's is a view: numpy code keeps ``old = a[i, j]; a[i, j] = old + eps`` right
        return np.array((out,), dtype=self.dtype).view(NDArray)

    def __setitem__(self, key, value):
        np.ndarray.__setitem__(self, _index(key), value)

    def __format__(self, spec):
        # f"{a[i, j]:.3f}": a one-element array formats as its value (numpy code does this
        # with what used to be a scalar)
        if spec and self.size == 1:
            return format(self.asscalar(), spec)
        return np.ndarray.__format__(self, spec)

    def __float__(self):
        return float(self.asscalar())

    def __int__(self):
        return int(self.asscalar())

    # ------------------------------------------------------------------ operators
    __add__, __radd__ = binary_method(np.add), binary_method(np.add, True)
    __sub__, __rsub__ = binary_method(np.subtract), binary_method(np.subtract, True)
    __mul__, __rmul__ = binary_method(np.multiply), binary_method(np.multiply, True)
    __truediv__, __rtruediv__ = binary_method(np.true_divide), binary_method(np.true_divide, True)
    __mod__, __rmod__ = binary_method(np.remainder), binary_method(np.remainder, True)
    __pow__, __rpow__ = binary_method(np.power), binary_method(np.power, True)
    __iadd__, __isub__ = _inplace(np.add), _inplace(np.subtract)
    __imul__, __itruediv__ = _inplace(np.multiply), _inplace(np.true_divide)
    __imod__, __ipow__ = _inplace(np.remainder), _inplace(np.power)
    __eq__ = binary_method(np.equal, compare=True)
    __ne__ = binary_method(np.not_equal, compare=True)
    __lt__ = binary_method(np.less, compare=True)
    __le__ = binary_method(np.less_equal, compare=True)
    __gt__ = binary_method(np.greater, compare=True)
    __ge__ = binary_method(np.greater_equal, compare=True)
    __and__, __rand__ = _logical(np.logical_and), _logical(np.logical_and, True)
    __or__, __ror__ = _logical(np.logical_or), _logical(np.logical_or, True)
    __xor__, __rxor__ = _logical(np.logical_xor), _logical(np.logical_xor, True)

    def __invert__(self):
        a = self.view(np.ndarray)
        if a.dtype.kind in "iu":
            return np.invert(a).view(NDArray)
        return (a == 0).astype(a.dtype).view(NDArray)    # logical not, keeping the dtype

    __hash__ = None


def as_ndarray(a) -> NDArray:
    """``a`` (an array) as an NDArray view: no copy."""
    return a if isinstance(a, NDArray) else np.asarray(a).view(NDArray)


__all__ = ["NDArray", "as_ndarray", "binary_method", "plain"]
