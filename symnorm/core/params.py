"""Typed, defaulted, validated operator parameters and their MXNet string codecs.

An op declares each parameter once, as an annotated dataclass field::

    eps: float = param(1e-3, check=positive, doc="added to the variance")

From that one declaration come parsing (MXNet's JSON stores every attribute as a string),
validation at construction, the constructor's docstring and the JSON writer.

Supported annotations: ``bool``, ``int``, ``float``, ``str``, ``Shape`` (a tuple of ints,
written ``"(3, 3)"``), ``FloatTuple``, ``OptShape`` (ints or None: slice's ``(0, None)``)
and ``Optional[...]`` of any of them.
"""
from __future__ import annotations

import ast
import dataclasses
import numbers
import typing
from typing import Any, Callable, Optional

import numpy as np

from .dims import MAX_NDIM
from .errors import ParamError

INT_MIN, INT_MAX = -2 ** 63, 2 ** 63 - 1
"""Range of every int param and Shape entry (MXNet's are int32/int64 C fields)."""

Shape = typing.NewType("Shape", tuple)
FloatTuple = typing.NewType("FloatTuple", tuple)
OptShape = typing.NewType("OptShape", tuple)


class _Required:
    def __repr__(self):
        return "REQUIRED"


REQUIRED: Any = _Required()


def param(default=REQUIRED, *, check: Callable | None = None, choices: tuple | None = None,
          doc: str = "", alias: str | None = None):
    """Declare an op parameter: default (or ``REQUIRED``), a validator, an enum, a docstring."""
    return dataclasses.field(default=default, metadata={
        "check": check, "choices": choices, "doc": doc, "alias": alias})


# --------------------------------------------------------------------------- validators
# A validator returns None when the value is fine, or a phrase saying what was expected.

def positive(v):
    """Validator: the value must be > 0."""
    return None if v > 0 else "must be > 0"


def non_negative(v):
    """Validator: the value must be >= 0."""
    return None if v >= 0 else "must be >= 0"


def in_range(lo, hi, lo_open=False, hi_open=False):
    """Closed [lo, hi] by default; ``lo_open``/``hi_open`` exclude an end."""
    def check(v):
        ok_lo = v > lo if lo_open else v >= lo
        ok_hi = v < hi if hi_open else v <= hi
        if ok_lo and ok_hi:
            return None
        return "must be in %s%s, %s%s" % ("(" if lo_open else "[", lo, hi, ")" if hi_open else "]")
    return check


def all_positive(v):
    """Validator: every entry of a tuple must be > 0."""
    return None if all(d > 0 for d in v) else "must have every entry > 0"


def all_non_negative(v):
    """Validator: every entry of a tuple must be >= 0."""
    return None if all(d >= 0 for d in v) else "must have every entry >= 0"


# --------------------------------------------------------------------------- codecs

def _base_type(tp):
    """(base annotation, optional?) for ``Optional[X]`` or ``X``."""
    if typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0], True
    return tp, False


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError):
        # RecursionError/MemoryError: "((((...": nesting no param has; never a crash
        raise ValueError("cannot parse %s" % _clip(text)) from None


def _clip(value, limit: int = 60) -> str:
    """``repr(value)``, cut short: a message must not echo a megabyte attribute back."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...(%d chars)" % len(text)


def _to_bool(v):
    if isinstance(v, (bool, int)) and not isinstance(v, float):
        if v in (0, 1):
            return bool(v)
    if isinstance(v, str) and v.strip().lower() in ("true", "1", "false", "0"):
        return v.strip().lower() in ("true", "1")
    if hasattr(v, "dtype") and getattr(v, "shape", None) == ():
        return _to_bool(v.item())
    raise ValueError("expected a bool (True/False)")


def _to_int(v):
    if isinstance(v, str):
        v = _literal(v.strip())
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, numbers.Integral):
        v = int(v)
    elif isinstance(v, numbers.Real) and float(v).is_integer():
        v = int(v)
    else:
        raise ValueError("expected an int")
    if not INT_MIN <= v <= INT_MAX:
        raise ValueError("%d is outside the int64 range" % v)
    return v


def _to_float(v):
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            raise ValueError("expected a number") from None
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        return float(v)
    raise ValueError("expected a number")


def _to_opt_int(v):
    return None if v is None or (isinstance(v, str) and v.strip() == "None") else _to_int(v)


def _to_tuple(v, conv):
    if isinstance(v, str):
        text = v.strip()
        if text in ("", "()", "[]"):
            return ()
        v = _literal(text)
    if isinstance(v, (list, tuple)):
        # every tuple param (shapes, kernels, axes) has at most one entry per dim
        if len(v) > MAX_NDIM:
            raise ValueError("%d entries; at most %d are allowed" % (len(v), MAX_NDIM))
        return tuple(conv(d) for d in v)
    if hasattr(v, "tolist"):
        return _to_tuple(v.tolist(), conv)
    return (conv(v),)      # a lone number is a 1-tuple, as MXNet reads "3" for a Shape


def parse_value(tp, value):
    """Convert a Python value or an MXNet attribute string to the declared type."""
    base, optional = _base_type(tp)
    if value is None or (optional and isinstance(value, str) and value.strip() == "None"):
        if optional:
            return None
        raise ValueError("None is not allowed")
    if base is bool:
        return _to_bool(value)
    if base is int:
        return _to_int(value)
    if base is float:
        return _to_float(value)
    if base is str:
        if _is_dtype_object(value):
            # a dtype given as numpy dtype / type (Cast(dtype=np.float16)): MXNet's
            # front end passes np.dtype(v).name
            return np.dtype(value).name
        if not isinstance(value, str):
            raise ValueError("expected a string")
        return value
    if base is Shape:
        return _to_tuple(value, _to_int)
    if base is FloatTuple:
        return _to_tuple(value, _to_float)
    if base is OptShape:
        return _to_tuple(value, _to_opt_int)
    raise TypeError("unsupported param annotation %r" % (tp,))


def to_attr_string(value) -> str:
    """MXNet's string form of a parameter value: ``str(value)``, tuples as ``(3, 3)``."""
    if isinstance(value, (list, tuple)):
        return str(tuple(value))
    if isinstance(value, np.generic):
        return str(value.item())
    if _is_dtype_object(value):
        return np.dtype(value).name
    return str(value)


def _is_dtype_object(value) -> bool:
    """A numpy dtype or a numpy/Python scalar type given where MXNet takes a dtype name."""
    return isinstance(value, np.dtype) or (isinstance(value, type) and
                                           issubclass(value, (np.generic, bool, int, float)))


def type_name(tp) -> str:
    """Readable name of a param annotation, for messages and docs."""
    base, optional = _base_type(tp)
    name = {Shape: "Shape(tuple of int)", FloatTuple: "tuple of float",
            OptShape: "tuple of int or None"}.get(base, getattr(base, "__name__", str(base)))
    return ("%s or None" % name) if optional else name


def validate(field: dataclasses.Field, tp, value):
    """Parse and check one value; raise ``ParamError`` (without op context) on failure."""
    try:
        value = parse_value(tp, value)
    except ValueError as exc:
        raise ParamError("param %r expects %s, got %s (%s)"
                         % (field.name, type_name(tp), _clip(value), exc)) from None
    if value is None:
        return value
    choices = field.metadata.get("choices")
    if choices is not None and value not in choices:
        raise ParamError("param %r: invalid value %r, valid values are: %s"
                         % (field.name, value, ", ".join(repr(c) for c in choices)))
    check = field.metadata.get("check")
    if check is not None:
        problem = check(value)
        if problem:
            raise ParamError("param %r %s, got %r" % (field.name, problem, value))
    return value


def describe(field: dataclasses.Field, tp) -> str:
    """One docstring line for a param: ``eps : float, default 0.001 -- doc``."""
    default = "required" if field.default is REQUIRED else "default %r" % (field.default,)
    choices = field.metadata.get("choices")
    extra = " {%s}" % ", ".join(repr(c) for c in choices) if choices else ""
    doc = field.metadata.get("doc") or ""
    return "%s : %s%s, %s%s" % (field.name, type_name(tp), extra, default, (" -- " + doc) if doc else "")


__all__ = ["param", "REQUIRED", "Shape", "FloatTuple", "OptShape", "Optional", "positive", "non_negative",
           "in_range", "all_positive", "all_non_negative", "parse_value", "to_attr_string",
           "validate", "describe"]
