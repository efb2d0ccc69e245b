"""``mx.nd.<Op>``: every registered op as a function on arrays, and NDArray's op methods.

The functions are generated from the registry (ops registered later get theirs through its
listener), with the signature of ``mx.sym.<Op>``: input slots then params, positionally or
by keyword, ``*args`` for variadic ops (Concat), plus ``out=`` (write the result into that
NDArray).  ``mx.nd.FullyConnected(x, w, b, num_hidden=3)`` gives what
``mx.sym.FullyConnected`` bound to those arrays gives from ``forward(is_train=False)``: it
runs through ``symnorm.runtime.imperative.invoke``.  One output comes back as an NDArray,
several as a list.

NDArray's fluent methods (``x.sum(axis=1)``, ``x.clip(0, 1)``) are made from the table
Symbol's are (``symnorm.ops.fluent.FLUENT``).  Where numpy's ndarray has a method of that
name, a call MXNet's signature cannot take (``x.round(decimals=2)``, ``x.transpose(1, 0)``)
runs numpy's, so numpy functions given an NDArray keep working (``np.sum(x)`` calls
``x.sum(axis=None, dtype=None, out=None)``).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..context import Context
from ..core import op_args
from ..core import sym as _sym
from ..core.errors import DTypeError, ParamError, ShapeError, where
from ..core.ndarray import NDArray, plain
from ..core.registry import ALIASES, LISTENERS, REGISTRY
from ..ops.fluent import FLUENT
from ..runtime.imperative import invoke

FUNCTIONS: dict = {}
"""Public op name or alias -> its ``mx.nd`` function (what ``symnorm.nd`` exports)."""


def _is_array(value) -> bool:
    return isinstance(value, np.ndarray)


def _input(value, op_name, slot):
    if isinstance(value, np.ndarray):
        return plain(value)
    raise DTypeError("%s: input %r must be an NDArray (or a numpy array), got %s"
                     % (op_name, slot, type(value).__name__))


def write_out(results: list, out):
    """Copy ``results`` into ``out`` (an NDArray, or a list of them) and return ``out``."""
    targets = list(out) if isinstance(out, (list, tuple)) else [out]
    if len(targets) != len(results):
        raise ParamError("out=: %d array(s) given for %d output(s)" % (len(targets), len(results)))
    for t, r in zip(targets, results):
        if not isinstance(t, np.ndarray):
            raise DTypeError("out= must be an NDArray, got %s" % type(t).__name__)
        if t.shape != r.shape:
            raise ShapeError("out=: the result has shape %s, out has %s" % (r.shape, t.shape))
    for t, r in zip(targets, results):
        np.copyto(plain(t), plain(r), casting="unsafe")
    return out


def _check_ctx(ctx, what):
    if ctx is not None and not isinstance(ctx, Context):
        raise ParamError("%s: ctx must be a Context such as mx.cpu(), got %r" % (what, ctx))


def call_op(cls, args: tuple, kwargs: dict, public: str):
    """Place ``args``/``kwargs`` by MXNet's signature, create the op, run it (``invoke``)."""
    kwargs = dict(kwargs)
    out = kwargs.pop("out", None)
    kwargs.pop("name", None)
    _check_ctx(kwargs.pop("ctx", None), public)
    op_args.pop_hidden(kwargs)              # lr_mult=, __layout__=: graph attributes only
    label = where(cls.op_name, None)
    slots = set(cls.inputs + cls.aux)
    dynamic = getattr(cls, "dynamic_slots", False)     # slots from params (Custom's prop)
    inputs = {k: kwargs.pop(k) for k in list(kwargs)
              if k in slots or (dynamic and _is_array(kwargs[k]))}
    if dynamic:
        positional = [a for a in args if _is_array(a)]
        if len(positional) != len(args):
            raise ParamError("%s takes its params by keyword" % label)
    elif cls.variadic:
        if inputs:
            raise ParamError("%s takes its inputs positionally" % label)
        kwargs.setdefault(cls.variadic, len(args))
    else:
        op_args.place_positional(cls, args, kwargs, inputs, None, is_input=_is_array,
                                 kind="an NDArray")
    op = cls.create(kwargs)
    names = op.input_names()
    if dynamic:                     # positional arrays fill the slots not given by keyword
        free = [k for k in names if k not in inputs]
        if len(positional) > len(free):
            raise ParamError("%s: %d arrays given positionally, %d inputs left (%s)"
                             % (label, len(positional), len(free), ", ".join(free)))
        inputs.update(zip(free, positional))
    elif cls.variadic:
        if len(args) != len(names):
            raise ParamError("%s: %s=%d but %d arrays were given"
                             % (label, cls.variadic, len(names), len(args)))
        inputs = dict(zip(names, args))
    unused = [k for k, v in inputs.items() if v is not None and k not in names]
    if unused:
        raise ParamError("%s: input %r is not used with these params (inputs: %s)"
                         % (label, unused[0], ", ".join(names)))
    missing = [k for k in names if inputs.get(k) is None]
    if missing:
        raise ParamError("%s: input %r was not given (inputs: %s)"
                         % (label, missing[0], ", ".join(names)))
    outs = invoke(op, [_input(inputs[k], label, k) for k in names])
    results = [o.view(NDArray) for o in outs]
    if out is not None:
        return write_out(results, out)
    return results[0] if len(results) == 1 else results


def _function(cls, public):
    def function(*args, **kwargs):
        return call_op(cls, args, kwargs, public)
    function.__name__ = function.__qualname__ = public
    function.__module__ = "symnorm.ndarray"
    function.__doc__ = (_sym._doc(cls, public).replace(" : Symbol", " : NDArray")
                        .replace("name : str, optional", "out : NDArray, optional (the result "
                                 "is written there and it is returned)")
                        + "\n\nImperative: returns an NDArray (a list when the op has several "
                          "visible outputs).")
    return function


class _Namespace:
    """``nd.contrib``: the ``_contrib_<Name>`` ops under their short names."""
    def __repr__(self):
        return "<symnorm.nd.contrib: %s>" % ", ".join(sorted(vars(self)))


contrib = _Namespace()


# ---------------------------------------------------------------------- fluent methods
def _as_nd(result):
    # numpy's methods return plain arrays for subclasses in places (round with decimals)
    return result.view(NDArray) if type(result) is np.ndarray else result


def _fluent(method, public):
    cls = REGISTRY.get(public) or REGISTRY[ALIASES[public]]
    known = {f.name for f in dataclasses.fields(cls)} | set(cls.inputs + cls.aux) | {"out", "name"}
    numpy_method = getattr(np.ndarray, method, None)

    def fluent(self, *args, **kwargs):
        # numpy's functions pass their defaults explicitly (dtype=None, out=None)
        kwargs = {k: v for k, v in kwargs.items() if v is not None and k != "inplace"}
        if numpy_method is not None:
            if any(k not in known for k in kwargs):
                return _as_nd(numpy_method(self, *args, **kwargs))
            try:
                return FUNCTIONS[public](self, *args, **kwargs)
            except (ParamError, TypeError) as exc:
                try:
                    return _as_nd(numpy_method(self, *args, **kwargs))
                except Exception:
                    raise exc from None      # neither takes it: MXNet's complaint
        return FUNCTIONS[public](self, *args, **kwargs)

    fluent.__name__ = fluent.__qualname__ = method
    fluent.__doc__ = ("Fluent form of ``nd.%s(self, ...)``: the same arguments, with this array "
                      "as the first input%s." % (public, "" if numpy_method is None else
                                                 " (a call it cannot take runs numpy's %s)" % method))
    fluent._fluent = True
    return fluent


def reshape(self, *shape, **kwargs):
    """MXNet's reshape, a view where numpy can make one: ``x.reshape((2, -1))``,
    ``x.reshape(2, -1)``, ``x.reshape(shape=(0, -1), reverse=False)``, with MXNet's codes
    (0 copies a dim, -1 infers one, -2 copies the rest, -3 merges two, -4 splits one; the
    Reshape op's own rule).  numpy's ``order=``/``copy=`` calls run numpy's reshape."""
    if kwargs.get("order", "C") != "C" or kwargs.get("copy") is not None:
        return np.ndarray.reshape(self, *shape, **kwargs)
    kwargs.pop("order", None)
    kwargs.pop("copy", None)
    if len(shape) == 1 and isinstance(shape[0], (list, tuple)):
        shape = tuple(shape[0])
    if "shape" in kwargs:
        if shape:
            raise ParamError("reshape: the shape is given both positionally and as shape=")
        shape = kwargs.pop("shape")
    reverse = kwargs.pop("reverse", False)
    if kwargs:
        raise ParamError("reshape: unknown argument(s) %s (it takes a shape and reverse=)"
                         % ", ".join(map(repr, kwargs)))
    if not shape:
        return np.ndarray.reshape(self, ())
    cls = REGISTRY.get(FLUENT["reshape"]) or REGISTRY[ALIASES[FLUENT["reshape"]]]
    op = cls.create({"shape": tuple(shape), "reverse": reverse})
    try:
        new = op.infer_shape(self.shape)[1][0]
    except ShapeError as exc:
        raise ShapeError("reshape of an array of shape %s to %s: %s" % (self.shape, tuple(shape), exc)) from None
    return np.ndarray.reshape(self, tuple(new))


NDArray.reshape = reshape


def _install(cls):
    """``nd.<Name>`` (and its aliases) for one op class, and the NDArray methods its
    names carry in the fluent table."""
    names = (cls.op_name,) + tuple(cls.aliases)
    for public in names:
        FUNCTIONS[public] = _function(cls, public)
        if public.startswith("_contrib_"):
            setattr(contrib, public[len("_contrib_"):], FUNCTIONS[public])
    for method, public in FLUENT.items():
        if public in names and (method not in NDArray.__dict__ or
                                getattr(NDArray.__dict__[method], "_fluent", False)):
            setattr(NDArray, method, _fluent(method, public))
    for listener in ON_NEW:
        listener(cls)


ON_NEW: list = []
"""Called with each op class ``_install`` adds later (the package adds the functions to its
namespace)."""

for _cls in list(REGISTRY.values()):
    _install(_cls)
LISTENERS.append(_install)

__all__ = ["FUNCTIONS", "call_op", "contrib", "write_out"]
