"""MXNet's fluent methods on Symbol (``x.reshape(shape=(2, -1))``, ``x.sum(axis=1)``), made
from one table: method name -> the op (name or alias) it applies to ``self``.

The table is MXNet 1.9.1's list (python/mxnet/symbol/symbol.py); a method appears on
Symbol as soon as its op is registered (ops added later get theirs through the registry's
listener), so nothing here is written per op.  As in MXNet, extra positional arguments
fill the op's remaining inputs (Symbols) and then its params in declaration order:
``x.clip(0, 1)``, ``x.reshape((2, 3))``, ``x.expand_dims(1)``.
"""
from __future__ import annotations

import dataclasses

from ..core.errors import ParamError
from ..core.registry import ALIASES, LISTENERS, REGISTRY
from ..core.symbol import Symbol, create

FLUENT = {
    "reshape": "reshape", "reshape_like": "reshape_like", "astype": "cast",
    "zeros_like": "zeros_like", "ones_like": "ones_like", "broadcast_axes": "broadcast_axes",
    "repeat": "repeat", "pad": "pad", "swapaxes": "swapaxes", "split": "split",
    "split_v2": "split_v2", "slice": "slice", "slice_axis": "slice_axis",
    "slice_like": "slice_like", "take": "take", "one_hot": "one_hot", "pick": "pick",
    "sort": "sort", "topk": "topk", "argsort": "argsort", "argmax": "argmax",
    "argmax_channel": "argmax_channel", "argmin": "argmin", "clip": "clip", "abs": "abs",
    "sign": "sign", "flatten": "flatten", "shape_array": "shape_array",
    "size_array": "size_array", "expand_dims": "expand_dims", "broadcast_to": "broadcast_to",
    "broadcast_like": "broadcast_like", "tile": "tile", "transpose": "transpose",
    "flip": "flip", "depth_to_space": "depth_to_space", "space_to_depth": "space_to_depth",
    "diag": "diag", "sum": "sum", "nansum": "nansum", "prod": "prod", "nanprod": "nanprod",
    "mean": "mean", "max": "max", "min": "min", "norm": "norm", "round": "round",
    "rint": "rint", "fix": "fix", "floor": "floor", "ceil": "ceil", "trunc": "trunc",
    "sin": "sin", "cos": "cos", "tan": "tan", "arcsin": "arcsin", "arccos": "arccos",
    "arctan": "arctan", "degrees": "degrees", "radians": "radians", "sinh": "sinh",
    "cosh": "cosh", "tanh": "tanh", "arcsinh": "arcsinh", "arccosh": "arccosh",
    "arctanh": "arctanh", "exp": "exp", "expm1": "expm1", "log": "log", "log10": "log10",
    "log2": "log2", "log1p": "log1p", "sqrt": "sqrt", "rsqrt": "rsqrt", "cbrt": "cbrt",
    "rcbrt": "rcbrt", "square": "square", "reciprocal": "reciprocal", "relu": "relu",
    "sigmoid": "sigmoid", "softmax": "softmax", "log_softmax": "log_softmax",
    "softmin": "softmin", "squeeze": "squeeze",
}
"""Method name -> op name or alias (MXNet 1.9.1's fluent methods of Symbol)."""

# MXNet's own signatures for these three (the rest take ``*args, **kwargs``); ``inplace``
# is NDArray's and ignored on a Symbol
_FIXED = {"flatten": (), "expand_dims": ("axis",), "squeeze": ("axis",)}


def _method(method, public):
    cls = REGISTRY.get(public) or REGISTRY[ALIASES[public]]
    hint = cls.hint if (cls.hint and public == cls.op_name) else public.lower()
    fields = [f.name for f in dataclasses.fields(cls) if f.name != cls.variadic]

    def fluent(self, *args, **kwargs):
        kwargs.pop("inplace", None) if method in _FIXED else None
        inputs = [self]
        slots = list(cls.inputs[1:])
        args = list(args)
        while args and slots and isinstance(args[0], Symbol):
            inputs.append(args.pop(0))
            slots.pop(0)
        if len(args) > len(fields):
            raise ParamError("%s.%s takes at most %d positional params (%s), got %d"
                             % (type(self).__name__, method, len(fields), ", ".join(fields),
                                len(args)))
        for name, value in zip(fields, args):
            if name in kwargs:
                raise ParamError("%s.%s: param %r given both positionally and by keyword"
                                 % (type(self).__name__, method, name))
            kwargs[name] = value
        if method == "squeeze" and kwargs.get("axis", 0) is None:
            del kwargs["axis"]
        return create(cls.op_name, tuple(inputs), kwargs, hint=hint)

    fluent.__name__ = fluent.__qualname__ = method
    fluent.__doc__ = ("Fluent form of ``sym.%s(self, ...)``: the same arguments, with this "
                      "symbol as the first input." % public)
    return fluent


def _install(cls=None):
    """Add the fluent methods whose op is registered (all of them, or ``cls``'s)."""
    names = None if cls is None else {cls.op_name, *cls.aliases}
    for method, public in FLUENT.items():
        if names is not None and public not in names:
            continue
        if public in REGISTRY or public in ALIASES:
            if method not in Symbol.__dict__ or getattr(Symbol.__dict__[method], "_fluent", False):
                fn = _method(method, public)
                fn._fluent = True
                setattr(Symbol, method, fn)


_install()
LISTENERS.append(_install)

__all__ = ["FLUENT"]
