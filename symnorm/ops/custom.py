"""``Custom``: operators written in Python, as MXNet 1.9.1's ``mx.operator.CustomOp``.

The user registers a *prop* class under a name (``@mx.operator.register("softmax")``,
``symnorm.operator``); ``sym.Custom(data, op_type="softmax", **kwargs)`` builds a node whose
signature comes from that prop, built with the extra keywords as strings (as MXNet passes
them):

* argument, output and aux slots: ``list_arguments()``, ``list_outputs()``,
  ``list_auxiliary_states()``;
* shapes and dtypes: ``infer_shape(in_shapes)`` / ``infer_type(in_types)``, returning
  ``(in, out)`` or ``(in, out, aux)`` lists;
* whether the outputs' gradients are needed: ``declare_backward_dependency`` (by default
  ``need_top_grad``).  Without them the op is a loss head: ``backward`` needs no head
  gradient and gradients arriving at its outputs are dropped, as MXNet prunes them;
* the computation: ``create_operator(ctx, shapes, dtypes)`` returns a ``CustomOp`` whose
  ``forward(is_train, req, in_data, out_data, aux)`` and
  ``backward(req, out_grad, in_data, out_data, in_grad, aux)`` write their results into the
  arrays they are given (``self.assign(dst, req, src)``).

symnorm's ops are pure, so ``forward`` hands the user fresh output arrays each call,
read-only views of the inputs and *copies* of the aux states, which become the proposed new
aux values (committed by the executor like BatchNorm's); ``backward`` gets the same
``in_data``/``out_data``/``aux`` and fresh zero gradient arrays.  The CustomOp instance is
made once per input shapes and dtypes of a node (MXNet: once per bind).
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from ..core.dtype import as_dtype, mx_flag
from ..core.errors import DTypeError, ParamError, ShapeError, where
from ..core.ndarray import NDArray
from ..core.params import param
from ..core.registry import Op, Result, register

PROPS: dict = {}
"""op_type -> the registered CustomOpProp subclass (``symnorm.operator.register`` fills it)."""


def user_array(array: np.ndarray, writable: bool):
    """The array a CustomOp sees for ``array``: an NDArray view sharing its memory
    (read-only for inputs), so MXNet code calling ``.asnumpy()`` on it runs."""
    view = array.view(NDArray)
    view.flags.writeable = writable
    return view


@register
class Custom(Op):
    """Run the user's Python operator registered as ``op_type``: ``outputs, new aux =
    CustomOp.forward(in_data, aux)``; ``in_grad = CustomOp.backward(out_grad, in_data,
    out_data, aux)``.  Slots, shapes and dtypes come from its CustomOpProp; extra keyword
    arguments go to the prop's constructor as strings."""
    inputs = ()
    outputs = ()
    hint = "custom"
    dynamic_slots = True
    extra_params = True
    color = "#fccde5"
    op_type: str = param(doc="the name the CustomOpProp was registered under")
    extra: Optional[tuple] = param(None, doc="(key, str value) pairs for the prop's constructor")

    # ------------------------------------------------------------------ construction
    @classmethod
    def param_fields(cls):
        return tuple(f for f in dataclasses.fields(cls) if f.name == "op_type")

    @classmethod
    def create(cls, params: dict, node: str | None = None) -> "Custom":
        params = dict(params)
        op_type = params.pop("op_type", None)
        if op_type is None:
            raise ParamError("%s: required parameter 'op_type' (the name given to "
                             "mx.operator.register) was not given" % where(cls.op_name, node))
        if not isinstance(op_type, str):
            raise ParamError("%s: param 'op_type' expects str, got %r"
                             % (where(cls.op_name, node), op_type))
        extra = tuple(sorted((str(k), v if isinstance(v, str) else str(v))
                             for k, v in params.items()))
        try:
            return cls(op_type=op_type, extra=extra)
        except ParamError as exc:
            raise ParamError("%s: %s" % (where(cls.op_name, node), exc)) from exc.__cause__

    @classmethod
    def available(cls, attrs: dict) -> bool:
        return attrs.get("op_type") in PROPS

    def __post_init__(self):
        prop_cls = PROPS.get(self.op_type)
        if prop_cls is None:
            raise ParamError("no custom operator is registered as %r; registered: %s (register "
                             "one with @mx.operator.register(%r))"
                             % (self.op_type, ", ".join(sorted(PROPS)) or "none", self.op_type))
        kwargs = dict(self.extra or ())
        prop = self._call(lambda: prop_cls(**kwargs), "%s(%s)" % (
            prop_cls.__name__, ", ".join("%s=%r" % kv for kv in sorted(kwargs.items()))), ParamError)
        args = self._names(prop, "list_arguments")
        outs = self._names(prop, "list_outputs")
        aux = self._names(prop, "list_auxiliary_states")
        dup = sorted({n for n in args + aux if (args + aux).count(n) > 1} |
                     {n for n in outs if outs.count(n) > 1})
        if dup:
            raise ParamError("custom op %r: slot names must be unique, %s repeated"
                             % (self.op_type, ", ".join(map(repr, dup))))
        if not outs:
            raise ParamError("custom op %r: list_outputs() is empty; an op needs an output"
                             % self.op_type)
        n_a, n_o = len(args), len(outs)
        deps = self._call(lambda: list(prop.declare_backward_dependency(
            list(range(n_o)), list(range(n_o, n_o + n_a)), list(range(n_o + n_a, 2 * n_o + n_a)))),
            "declare_backward_dependency", ParamError)
        need_top_grad = any(isinstance(d, (int, np.integer)) and 0 <= d < n_o for d in deps)
        for key, value in (("_prop", prop), ("_args", args), ("_outs", outs), ("aux", aux),
                           ("_made", {})):
            object.__setattr__(self, key, value)
        if not need_top_grad:
            object.__setattr__(self, "no_grad_outputs", outs)
            object.__setattr__(self, "head_grad", "ignore")

    def __reduce__(self):
        # the prop and the CustomOp instances are the user's objects: rebuild from the params
        return (type(self), (self.op_type, self.extra))

    def _call(self, fn, what: str, error=ParamError):
        """Run one of the user's prop methods; its failure becomes ``error`` naming it."""
        try:
            return fn()
        except Exception as exc:
            raise error("custom op %r: %s failed: %s: %s"
                        % (self.op_type, what, type(exc).__name__, exc)) from exc

    def _names(self, prop, method: str) -> tuple:
        names = self._call(getattr(prop, method), method + "()", ParamError)
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            raise ParamError("custom op %r: %s() must return a list of str, got %r"
                             % (self.op_type, method, names))
        return tuple(names)

    # ------------------------------------------------------------------ signature
    def deterministic(self) -> bool:
        return False            # the user's operator may keep state or draw numbers

    def arguments(self) -> tuple:
        return self._args

    def output_names(self) -> tuple:
        return self._outs

    def text(self) -> str:
        return "Custom[%s]" % ", ".join(["op_type=%s" % self.op_type] +
                                        ["%s=%s" % kv for kv in self.extra or ()])

    def param_strings(self, only=None) -> dict:
        every = dict(self.extra or (), op_type=self.op_type)
        return every if only is None else {k: every[k] for k in only}

    # ------------------------------------------------------------------ shapes and dtypes
    def _lists(self, ret, method: str, error):
        """Split what infer_shape/infer_type returned into (in, out, aux) and check lengths."""
        if not isinstance(ret, (list, tuple)) or len(ret) not in (2, 3):
            raise error("custom op %r: %s must return 2 or 3 lists (in, out[, aux]), got %r"
                        % (self.op_type, method, ret))
        ins, outs, aux = (list(ret) + [[]])[:3]
        for got, want, what in ((ins, self._args, "input"), (outs, self._outs, "output"),
                                (aux, self.aux, "aux state")):
            if len(got) != len(want):
                raise error("custom op %r: %s returned %d %s entries, expected %d (%s)"
                            % (self.op_type, method, len(got), what, len(want), ", ".join(want)))
        return list(ins), list(outs), list(aux)

    def infer_shape(self, *shapes):
        n = len(self._args)
        known = all(s is not None and None not in s for s in shapes[:n])
        given = [[] if s is None else [0 if d is None else d for d in s] for s in shapes[:n]]
        try:
            ret = self._prop.infer_shape(given)
        except Exception as exc:
            if not known:
                return None             # written for complete shapes: ask again later
            raise ShapeError("custom op %r: infer_shape(%s) failed: %s: %s"
                             % (self.op_type, given, type(exc).__name__, exc)) from exc
        ins, outs, aux = self._lists(ret, "infer_shape", ShapeError)

        def shape(s, what):
            try:
                dims = tuple(int(d) for d in s)
            except (TypeError, ValueError):
                raise ShapeError("custom op %r: infer_shape gave %s %r, expected a list of "
                                 "ints" % (self.op_type, what, s)) from None
            if not known:               # MXNet 1.x: no dims, or a 0 dim, means unknown
                return None if not dims else tuple(None if d == 0 else d for d in dims)
            return dims
        names = self._args + self._outs + self.aux
        res = [shape(s, repr(w)) for s, w in zip(ins + outs + aux, names)]
        return tuple(res[:n]) + tuple(res[n + len(outs):]), tuple(res[n:n + len(outs)])

    def infer_type(self, *dtypes):
        n = len(self._args)
        known = all(d is not None for d in dtypes[:n])
        given = [None if d is None else np.dtype(d).type for d in dtypes[:n]]
        try:
            ret = self._prop.infer_type(given)
        except Exception as exc:
            if not known:
                return None
            raise DTypeError("custom op %r: infer_type(%s) failed: %s: %s"
                             % (self.op_type, given, type(exc).__name__, exc)) from exc
        ins, outs, aux = self._lists(ret, "infer_type", DTypeError)
        res = [None if t is None else as_dtype(t, "custom op %r: infer_type" % self.op_type)
               for t in ins + outs + aux]
        return tuple(res[:n]) + tuple(res[n + len(outs):]), tuple(res[n:n + len(outs)])

    # ------------------------------------------------------------------ computation
    def _operator(self, arrays):
        """(CustomOp, output shapes, output dtypes) for these inputs, made on first use."""
        key = tuple((a.shape, a.dtype.str) for a in arrays)
        made = self._made.get(key)
        if made is None:
            shapes = [a.shape for a in arrays]
            _, out_shapes = self.infer_shape(*shapes)
            _, out_types = self.infer_type(*[a.dtype for a in arrays])
            out_types = [np.dtype(np.float32) if t is None else t for t in out_types]
            from ..context import cpu
            op = self._call(lambda: self._prop.create_operator(
                cpu(), [list(s) for s in shapes], [mx_flag(a.dtype) for a in arrays]),
                "create_operator", ParamError)
            if not callable(getattr(op, "forward", None)):
                raise ParamError("custom op %r: create_operator returned %r, not a CustomOp"
                                 % (self.op_type, op))
            made = self._made[key] = (op, out_shapes, out_types)
        return made

    def forward(self, *arrays, train):
        op, out_shapes, out_types = self._operator(arrays)
        n = len(self._args)
        outs = [np.zeros(s, t) for s, t in zip(out_shapes, out_types)]
        aux = [np.array(a, copy=True) for a in arrays[n:]]
        in_data = [user_array(a, False) for a in arrays[:n]]
        aux_data = [user_array(a, True) for a in aux]
        op.forward(is_train=train, req=["write"] * len(outs), in_data=in_data,
                   out_data=[user_array(o, True) for o in outs], aux=aux_data)
        return Result(tuple(outs), tuple(aux) if aux else None, (op, in_data, outs, aux_data))

    def backward(self, saved, *out_grads):
        op, in_data, outs, aux_data = saved
        if len(out_grads) < len(outs):          # a loss head: no gradients come in
            out_grads = (None,) * len(outs)
        ograds = [user_array(np.zeros_like(o) if g is None else np.asarray(g), False)
                  for o, g in zip(outs, out_grads)]
        grads = [np.zeros(a.shape, a.dtype) for a in in_data]
        op.backward(req=["write"] * len(grads), out_grad=ograds, in_data=in_data,
                    out_data=[user_array(o, False) for o in outs],
                    in_grad=[user_array(g, True) for g in grads], aux=aux_data)
        return tuple(grads)

    @classmethod
    def examples(cls):
        # MXNet registers the base CustomOpProp as "custom_op" (symnorm.operator does too):
        # one input, one output, a CustomOp that writes nothing (zeros, zero gradients)
        yield {"op_type": "custom_op"}, {"data": (2, 3)}


__all__ = ["Custom", "PROPS", "user_array"]
