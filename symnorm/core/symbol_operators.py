"""Python's operators on a Symbol, as MXNet 1.x maps them onto ops (part of its Symbol
API): ``a + b`` is ``elemwise_add`` in a node named ``_plus<k>``, ``a + 2`` is
``_plus_scalar`` (``_plusscalar<k>``), ``2 - a`` is ``_rminus_scalar``, ``-a`` is
``_mul_scalar(-1)``; comparisons give 0/1 arrays.  ``Symbol`` supplies ``_apply`` (its
``create``)."""
from __future__ import annotations

import numbers

import numpy as np


class SymbolOperators:
    """Mixin of Symbol: the arithmetic and comparison operators."""
    __slots__ = ()

    def _apply(self, op_name: str, args: tuple, params: dict, hint):
        raise NotImplementedError   # Symbol: ``create(op_name, args, params, hint=hint)``

    def _binary(self, other, op, scalar_op, hint, scalar_hint, reverse_op=None, reverse_hint=None,
                reflected=False):
        if isinstance(other, SymbolOperators):
            a, b = (other, self) if reflected else (self, other)
            return self._apply(op, (a, b), {}, hint)
        if isinstance(other, (numbers.Number, np.generic)) and not isinstance(other, bool):
            if reflected and reverse_op is not None:
                return self._apply(reverse_op, (self,), {"scalar": other}, reverse_hint)
            return self._apply(scalar_op, (self,), {"scalar": other}, scalar_hint)
        return NotImplemented

    def __add__(self, o):
        return self._binary(o, "elemwise_add", "_plus_scalar", "_plus", "_plusscalar")

    def __radd__(self, o):
        return self._binary(o, "elemwise_add", "_plus_scalar", "_plus", "_plusscalar", reflected=True)

    def __sub__(self, o):
        return self._binary(o, "elemwise_sub", "_minus_scalar", "_minus", "_minusscalar")

    def __rsub__(self, o):
        return self._binary(o, "elemwise_sub", "_minus_scalar", "_minus", "_minusscalar",
                            "_rminus_scalar", "_rminusscalar", reflected=True)

    def __mul__(self, o):
        return self._binary(o, "elemwise_mul", "_mul_scalar", "_mul", "_mulscalar")

    def __rmul__(self, o):
        return self._binary(o, "elemwise_mul", "_mul_scalar", "_mul", "_mulscalar", reflected=True)

    def __truediv__(self, o):
        return self._binary(o, "elemwise_div", "_div_scalar", "_div", "_divscalar")

    def __rtruediv__(self, o):
        return self._binary(o, "elemwise_div", "_div_scalar", "_div", "_divscalar",
                            "_rdiv_scalar", "_rdivscalar", reflected=True)

    def __mod__(self, o):
        return self._binary(o, "_mod", "_mod_scalar", "_mod", "_modscalar")

    def __rmod__(self, o):
        return self._binary(o, "_mod", "_mod_scalar", "_mod", "_modscalar",
                            "_rmod_scalar", "_rmodscalar", reflected=True)

    def __pow__(self, o):
        return self._binary(o, "_power", "_power_scalar", "_power", "_powerscalar")

    def __rpow__(self, o):
        return self._binary(o, "_power", "_power_scalar", "_power", "_powerscalar",
                            "_rpower_scalar", "_rpowerscalar", reflected=True)

    def __neg__(self):
        return self._apply("_mul_scalar", (self,), {"scalar": -1.0}, "_mulscalar")

    def __abs__(self):
        return self._apply("abs", (self,), {}, None)

    def __eq__(self, o):
        return self._binary(o, "_equal", "_equal_scalar", "_equal", "_equal_scalar")

    def __ne__(self, o):
        return self._binary(o, "_not_equal", "_not_equal_scalar", "_not_equal", "_not_equal_scalar")

    def __gt__(self, o):
        return self._binary(o, "_greater", "_greater_scalar", "_greater", "_greater_scalar")

    def __ge__(self, o):
        return self._binary(o, "_greater_equal", "_greater_equal_scalar", "_greater_equal",
                            "_greater_equal_scalar")

    def __lt__(self, o):
        return self._binary(o, "_lesser", "_lesser_scalar", "_lesser", "_lesser_scalar")

    def __le__(self, o):
        return self._binary(o, "_lesser_equal", "_lesser_equal_scalar", "_lesser_equal",
                            "_lesser_equal_scalar")

    __hash__ = object.__hash__
    __div__ = __truediv__
