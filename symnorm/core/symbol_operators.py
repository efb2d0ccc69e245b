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

    def __neg__(self):
        return self._apply("_mul_scalar", (self,), {"scalar": -1.0}, "_mulscalar")

    def __abs__(self):
        return self._apply("abs", (self,), {}, None)

    __hash__ = object.__hash__


# Python operator -> (op on two Symbols, op on a Symbol and a number, their node-name hints,
# and for the non-commutative ones the op and hint of ``number <op> Symbol``)
_ARITHMETIC = {
    "add": ("elemwise_add", "_plus_scalar", "_plus", "_plusscalar", None, None),
    "sub": ("elemwise_sub", "_minus_scalar", "_minus", "_minusscalar", "_rminus_scalar", "_rminusscalar"),
    "mul": ("elemwise_mul", "_mul_scalar", "_mul", "_mulscalar", None, None),
    "truediv": ("elemwise_div", "_div_scalar", "_div", "_divscalar", "_rdiv_scalar", "_rdivscalar"),
    "mod": ("_mod", "_mod_scalar", "_mod", "_modscalar", "_rmod_scalar", "_rmodscalar"),
    "pow": ("_power", "_power_scalar", "_power", "_powerscalar", "_rpower_scalar", "_rpowerscalar"),
}
# comparisons (Python reflects them itself: 2 < x is x > 2); hints are the op names
_COMPARISONS = {"eq": "_equal", "ne": "_not_equal", "gt": "_greater", "ge": "_greater_equal",
                "lt": "_lesser", "le": "_lesser_equal"}


def _operator(op, scalar_op, hint, scalar_hint, reverse_op=None, reverse_hint=None,
              reflected=False):
    def method(self, other):
        return self._binary(other, op, scalar_op, hint, scalar_hint, reverse_op, reverse_hint,
                            reflected=reflected)
    return method


for _name, _spec in _ARITHMETIC.items():
    setattr(SymbolOperators, "__%s__" % _name, _operator(*_spec))
    setattr(SymbolOperators, "__r%s__" % _name, _operator(*_spec, reflected=True))
for _name, _op in _COMPARISONS.items():
    setattr(SymbolOperators, "__%s__" % _name, _operator(_op, _op + "_scalar", _op, _op + "_scalar"))
SymbolOperators.__div__ = SymbolOperators.__truediv__
