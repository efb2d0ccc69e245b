"""``symnorm.sym``: Variable, Group, load/load_json and one constructor per registered op.

The constructors (``sym.BatchNorm``, ``sym.FullyConnected``, their aliases such as
``sym.stop_gradient``) are generated from the registry at import, with docstrings made
from each op's declaration; nothing here lists ops by name.
"""
from __future__ import annotations


import builtins as _builtins

import numpy as _np

from .. import ops as _ops  # noqa: F401  (registers every op)
from . import params as _P
from .registry import ALIASES, LISTENERS, REGISTRY
from .symbol import Group, Symbol, Variable, create, load, load_json, var


def _doc(cls, public_name):
    types = cls.param_types()
    lines = [(cls.__doc__ or cls.op_name).strip(), "",
             "MXNet op ``%s``%s." % (cls.op_name, "" if public_name == cls.op_name else
                                      " (called here as ``%s``)" % public_name), "", "Inputs", "------"]
    slots = ["*data (variadic)"] if cls.variadic else \
        ["*data (the slots the op's params give, positionally or by keyword)"] \
        if cls.dynamic_slots else list(cls.inputs)
    lines += ["%s : Symbol%s" % (s, ", aux state" if s in cls.aux else "") for s in slots + list(cls.aux)]
    fields = [f for f in cls.param_fields() if f.name != cls.variadic]
    if fields:
        lines += ["", "Parameters", "----------"]
        lines += [_P.describe(f, types[f.name]) for f in fields]
    if cls.extra_params:
        lines += ["**kwargs : any other parameters, passed on as str(value)"]
    lines += ["name : str, optional", "attr : dict of str, optional (dunder keys)"]
    return "\n".join(lines)


def _constructor(cls, public_name):
    hint = cls.hint if (cls.hint and public_name == cls.op_name) else public_name.lower()

    def construct(*args, **kwargs):
        return create(cls.op_name, args, kwargs, hint=hint)
    construct.__name__ = construct.__qualname__ = public_name
    construct.__doc__ = _doc(cls, public_name)
    construct.__module__ = __name__
    return construct


class _Namespace:
    """``sym.contrib`` (the ``_contrib_<Name>`` ops under their short names) and
    ``sym._internal``."""
    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return "<symnorm.sym.%s: %s>" % (self._name, ", ".join(
            sorted(k for k in vars(self) if k != "_name")))


contrib = _Namespace("contrib")
_internal = _Namespace("_internal")
"""``sym._internal``: every op whose MXNet name starts with ``_`` (``_plus``,
``_identity_with_attr_like_rhs``), under that name, as MXNet's ``mx.sym._internal``."""


def _install_one(cls):
    """Add ``sym.<Name>`` (and its aliases) for one op class; also for ops registered later."""
    for public in (cls.op_name,) + tuple(cls.aliases):
        globals()[public] = _constructor(cls, public)
        if public.startswith("_contrib_"):
            setattr(contrib, public[len("_contrib_"):], globals()[public])
        elif public.startswith("_"):
            setattr(_internal, public, globals()[public])


for _cls in list(REGISTRY.values()):
    _install_one(_cls)
LISTENERS.append(_install_one)


def zeros(shape, dtype=None, **kwargs):
    """A symbol of zeros of ``shape`` (MXNet's ``sym.zeros``)."""
    return create("_zeros", (), dict(kwargs, shape=shape, dtype=dtype or "float32"))


def ones(shape, dtype=None, **kwargs):
    """A symbol of ones of ``shape`` (MXNet's ``sym.ones``)."""
    return create("_ones", (), dict(kwargs, shape=shape, dtype=dtype or "float32"))


def full(shape, val, dtype=None, **kwargs):
    """A symbol of ``shape`` filled with ``val`` (MXNet's ``sym.full``)."""
    return create("_full", (), dict(kwargs, shape=shape, value=val, dtype=dtype or "float32"))


def arange(start, stop=None, step=1.0, repeat=1, name=None, dtype=None):
    """MXNet's ``sym.arange``: values in [start, stop) by ``step``, each repeated."""
    return create("_arange", (), dict(start=start, stop=stop, step=step, repeat=repeat,
                                      name=name, dtype=dtype or "float32"))



def _lhs_rhs(name, op, scalar_op, rscalar_op, py):
    """MXNet's ``sym.<name>(lhs, rhs)``: two Symbols use ``op``; a Symbol and a number the
    scalar op (``rscalar_op`` when the number is on the left); two numbers give ``py``."""
    def function(lhs, rhs):
        if isinstance(lhs, Symbol) and isinstance(rhs, Symbol):
            return create(op, (lhs, rhs), {})
        if isinstance(lhs, Symbol) and isinstance(rhs, _Number):
            return create(scalar_op, (lhs,), {"scalar": rhs})
        if isinstance(rhs, Symbol) and isinstance(lhs, _Number):
            return create(rscalar_op, (rhs,), {"scalar": lhs})
        if isinstance(lhs, _Number) and isinstance(rhs, _Number):
            return py(lhs, rhs)
        raise TypeError("sym.%s: lhs and rhs must be Symbols or numbers, got %s and %s"
                        % (name, type(lhs).__name__, type(rhs).__name__))
    function.__name__ = function.__qualname__ = name
    function.__doc__ = ("MXNet's ``sym.%s``: Symbol or number on either side (op ``%s``, or "
                        "``%s`` with a number)." % (name, op, scalar_op))
    return function


_Number = (int, float, _np.generic)
maximum = _lhs_rhs("maximum", "_maximum", "_maximum_scalar", "_maximum_scalar", _builtins.max)
minimum = _lhs_rhs("minimum", "_minimum", "_minimum_scalar", "_minimum_scalar", _builtins.min)
power = _lhs_rhs("power", "_power", "_power_scalar", "_rpower_scalar", _builtins.pow)
pow = power  # noqa: A001  (MXNet's name)


__all__ = ["Variable", "var", "Group", "Symbol", "load", "load_json", "zeros", "ones", "full", "arange", "pow"] + sorted(REGISTRY) + sorted(ALIASES)
