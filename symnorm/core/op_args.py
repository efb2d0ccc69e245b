"""How a call of an op constructor maps onto MXNet 1.9.1's signature for that op.

MXNet generates ``sym.<Op>(data=None, weight=None, bias=None, kernel=_Null, ...,
name=None, attr=None, **kwargs)``: every input slot (aux states included) then every
parameter in declaration order, so scripts pass parameters positionally
(``Dropout(data, 0.5)``) and ``None`` for a slot they leave out
(``Convolution(x, w, None, no_bias=True)``).  Keywords it does not treat as parameters are
its hidden attributes (``lr_mult``, ``wd_mult``, ``ctx_group``, ...; stored as
``__lr_mult__`` etc.) and dunder keys (``__layout__='NC'``), stored as strings on the node
and on the variables the call creates.
"""
from __future__ import annotations

import dataclasses

from symnorm.core.attribute import HIDDEN_KEYS
from symnorm.core.errors import ParamError, where

def signature(cls) -> tuple:
    """The names MXNet's constructor of ``cls`` takes positionally, in order: the slots,
    then the params in declaration order, unless the op declares ``mx_positional`` (measured
    with inspect.signature on MXNet 1.9.1: only softmax and SyncBatchNorm differ)."""
    order = getattr(cls, "mx_positional", None)
    if order is None:
        order = cls.inputs + cls.aux + tuple(f.name for f in dataclasses.fields(cls))
    return order


def pop_hidden(kwargs: dict) -> dict:
    """Remove MXNet's hidden attributes and dunder keys from ``kwargs``; return them as
    ``{'__key__': str(value)}`` (MXNet stores ``str`` of what was given: ``lr_mult=2`` is
    ``'2'``)."""
    out = {}
    for k in list(kwargs):
        if k in HIDDEN_KEYS:
            out["__%s__" % k] = str(kwargs.pop(k))
        elif len(k) > 4 and k.startswith("__") and k.endswith("__"):
            out[k] = str(kwargs.pop(k))
    return out


def check_user_attr(cls, attr, name) -> dict:
    """``attr=``: dunder keys and MXNet's hidden keys only (anything else MXNet would try
    as an op parameter)."""
    attr = attr or {}
    for k in attr:
        if not (k.startswith("__") and k.endswith("__")) and k not in HIDDEN_KEYS:
            raise ParamError("%s: attribute %r given through attr= must be a dunder key such as "
                             "'__%s__'; op parameters are keyword arguments"
                             % (where(cls.op_name, name), k, k))
    return attr


def place_positional(cls, args: tuple, kwargs: dict, given_inputs: dict, name,
                     is_input=None, kind: str = "a Symbol") -> None:
    """Put positional ``args`` of a fixed-arity op where MXNet's signature puts them: an
    input slot (``None`` there means "not given": the slot gets its own variable, or none
    under ``no_bias``) or a parameter (into ``kwargs``; ``None`` leaves the default).
    ``is_input`` tells what an input may be (a Symbol; ``kind`` names it in messages):
    ``mx.nd``'s functions place arrays by the same signature."""
    is_input = is_input or _is_symbol
    order = signature(cls)
    if len(args) > len(order):
        raise ParamError("%s takes at most %d positional arguments (%s), got %d"
                         % (where(cls.op_name, name), len(order), ", ".join(order), len(args)))
    slots = set(cls.inputs + cls.aux)
    for i, (key, value) in enumerate(zip(order, args)):
        if value is None:
            continue
        if key in slots:
            if not is_input(value):
                raise TypeError("%s: positional input %d (%s) must be %s, got %r"
                                % (where(cls.op_name, name), i, key, kind, value))
            if given_inputs.get(key) is not None:
                raise ParamError("%s: input %r given twice" % (where(cls.op_name, name), key))
            given_inputs[key] = value
        else:
            if key in kwargs:
                raise ParamError("%s: got multiple values for %r (positional argument %d and "
                                 "keyword)" % (where(cls.op_name, name), key, i))
            kwargs[key] = value


def _is_symbol(value) -> bool:
    from symnorm.core.symbol import Symbol
    return isinstance(value, Symbol)
