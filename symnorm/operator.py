"""``mx.operator``: operators written in Python (MXNet 1.9.1's CustomOp API).

>>> import numpy as np, symnorm as mx
>>> class Sqr(mx.operator.CustomOp):
...     def forward(self, is_train, req, in_data, out_data, aux):
...         self.assign(out_data[0], req[0], in_data[0] * in_data[0])
...     def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
...         self.assign(in_grad[0], req[0], 2 * in_data[0] * out_grad[0])
>>> @mx.operator.register("doc_sqr")
... class SqrProp(mx.operator.CustomOpProp):
...     def create_operator(self, ctx, shapes, dtypes):
...         return Sqr()
>>> y = mx.sym.Custom(mx.sym.Variable('x'), op_type='doc_sqr', name='sq')
>>> ex = y.simple_bind(mx.cpu(), x=(2,))
>>> ex.forward(is_train=True, x=np.array([1., 3.]))[0].tolist()
[1.0, 9.0]

The arrays a CustomOp receives are numpy arrays for now (``symnorm.ops.custom.user_array``);
the graph side is the op ``Custom`` (``symnorm/ops/custom.py``).
"""
from __future__ import annotations

import collections
import warnings

import numpy as np

from .core import params as _P
from .core.errors import OpError, ParamError, ShapeError
from .core.registry import ALIASES, REGISTRY
from .ops.custom import PROPS

REQS = ("null", "write", "inplace", "add")


class CustomOp:
    """Base class of the computation of an operator written in Python."""

    def __init__(self):
        pass

    def forward(self, is_train, req, in_data, out_data, aux):
        """Compute ``out_data`` from ``in_data`` (and ``aux``, which it may update in place);
        ``req[i]`` says how to write ``out_data[i]``: use ``self.assign``."""

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        """Compute ``in_grad`` (the gradients of the arguments) from ``out_grad`` and the
        forward's arrays; ``req[i]`` says how to write ``in_grad[i]``."""

    def assign(self, dst, req, src):
        """Write ``src`` into ``dst`` as ``req`` says: 'null' does nothing, 'write' and
        'inplace' overwrite, 'add' accumulates."""
        if req not in REQS:
            raise ParamError("assign: req must be one of %s, got %r"
                             % (", ".join(map(repr, REQS)), req))
        if req == "null":
            return
        if hasattr(src, "asnumpy"):
            src = src.asnumpy()
        shape = np.shape(src)
        try:
            fits = np.broadcast_shapes(shape, np.shape(dst)) == np.shape(dst)
        except ValueError:
            fits = False
        if not fits:
            raise ShapeError("assign: src of shape %s does not fit dst of shape %s"
                             % (shape, np.shape(dst)))
        if req == "add":
            dst[...] += src
        else:
            dst[...] = src


class CustomOpProp:
    """Base class of the description of an operator written in Python: its slots, shape
    and type rules, gradient dependencies, and ``create_operator``.

    ``need_top_grad=False`` declares a loss: its backward needs no output gradients."""

    def __init__(self, need_top_grad=True):
        self.need_top_grad_ = need_top_grad

    def infer_shape(self, in_shape):
        """``(in_shapes, out_shapes[, aux_shapes])``; by default every output has the first
        input's shape."""
        return in_shape, (in_shape[0],) * len(self.list_outputs()), ()

    def infer_type(self, in_type):
        """``(in_types, out_types[, aux_types])``; by default everything has the first
        input's type (float32 for an op without inputs)."""
        t = in_type[0] if in_type else np.float32
        return in_type, [t] * len(self.list_outputs()), [t] * len(self.list_auxiliary_states())

    def infer_storage_type(self, in_stype):
        """Dense storage everywhere (symnorm has no sparse arrays)."""
        return in_stype, ["default"] * len(self.list_outputs()), \
            ["default"] * len(self.list_auxiliary_states())

    def list_outputs(self):
        return ["output"]

    def list_arguments(self):
        return ["data"]

    def list_auxiliary_states(self):
        return []

    def declare_backward_dependency(self, out_grad, in_data, out_data):
        """Ids of the arrays backward reads; leaving out ``out_grad`` makes the op a loss."""
        deps = []
        if self.need_top_grad_:
            deps.extend(out_grad)
        deps.extend(in_data)
        deps.extend(out_data)
        return deps

    def create_operator(self, ctx, in_shapes, in_dtypes):
        """The CustomOp doing the work, for inputs of these shapes and MXNet dtype flags."""
        return CustomOp()


def register(reg_name):
    """Class decorator: register a CustomOpProp subclass as op_type ``reg_name`` (a new
    registration replaces an old one, with a warning, as in MXNet)."""
    if not isinstance(reg_name, str) or not reg_name:
        raise ParamError("operator.register: the name must be a non-empty str, got %r" % (reg_name,))

    def do_register(prop_cls):
        if not (isinstance(prop_cls, type) and issubclass(prop_cls, CustomOpProp)):
            raise TypeError("operator.register(%r): %r is not a subclass of CustomOpProp"
                            % (reg_name, prop_cls))
        if reg_name in PROPS and PROPS[reg_name] is not prop_cls:
            warnings.warn("New registration is overriding existing custom operator %s" % reg_name,
                          stacklevel=2)
        PROPS[reg_name] = prop_cls
        return prop_cls
    return do_register


register("custom_op")(CustomOpProp)


# ============================================================ op introspection (MXNet's names)

OperatorArguments = collections.namedtuple("OperatorArguments", ["narg", "names", "types"])


def get_all_registered_operators():
    """Every op name symnorm knows, aliases included (``sym.<name>`` exists for each)."""
    return sorted(set(REGISTRY) | set(ALIASES))


def _type_text(field, tp):
    # MXNet's argument type strings: "int, required", "float, optional, default=0.5",
    # "{'a', 'b'}, required", "Shape(tuple), optional, default=[]", "... or None"
    base, optional = _P._base_type(tp)
    choices = field.metadata.get("choices")
    if choices:
        name = "{%s}" % ", ".join(repr(c) for c in sorted(choices))
    else:
        name = {bool: "boolean", int: "int", float: "float", str: "string",
                _P.Shape: "Shape(tuple)", _P.FloatTuple: "tuple of <float>",
                _P.OptShape: "Shape(tuple)"}.get(base, getattr(base, "__name__", str(base)))
    if optional:
        name += " or None"
    if field.default is _P.REQUIRED:
        return name + ", required"
    d = field.default
    text = ("1" if d else "0") if isinstance(d, bool) else \
        str(list(d)) if isinstance(d, tuple) else repr(d) if isinstance(d, str) else str(d)
    return "%s, optional, default=%s" % (name, text)


def get_operator_arguments(op_name):
    """``OperatorArguments(narg, names, types)`` of op ``op_name``: its input slots
    ('NDArray-or-Symbol'; a variadic op's one 'data' as 'NDArray-or-Symbol[]'), aux states,
    then its parameters with MXNet-style type strings."""
    cls = REGISTRY.get(ALIASES.get(op_name, op_name)) if isinstance(op_name, str) else None
    if cls is None:
        raise OpError("get_operator_arguments: no op named %r" % (op_name,))
    if cls.variadic or cls.dynamic_slots:
        names, types = ["data"], ["NDArray-or-Symbol[]"]
    else:
        names = list(cls.inputs) + list(cls.aux)
        types = ["NDArray-or-Symbol"] * len(names)
    ptypes = cls.param_types()
    for f in cls.param_fields():
        names.append(f.name)
        types.append(_type_text(f, ptypes[f.name]))
    return OperatorArguments(len(names), names, types)


__all__ = ["CustomOp", "CustomOpProp", "register", "OperatorArguments",
           "get_all_registered_operators", "get_operator_arguments"]
