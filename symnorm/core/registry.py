"""The op registry: one declaration per operator, read by every other part of symnorm.

An op is a frozen dataclass subclass of :class:`Op`.  Its *annotated* class attributes are its
parameters (type, default, validation, doc: see ``params.py``); its *unannotated* class
attributes are its static signature and flags; three methods hold its semantics::

    @register
    class Softsign(Op):
        '''y = x / (1 + |x|)'''
        def forward(self, data, *, train):
            return Result((data / (1 + np.abs(data)),), saved=data)
        def backward(self, saved, dy):
            return (dy / (1 + np.abs(saved)) ** 2,)

Constructors (``symnorm.sym.Softsign``), shape and type inference, autodiff, JSON, the
visualisation and the generated tests all iterate over ``REGISTRY``; nothing else lists ops.

Contract of the methods (``None`` always means "unknown" for shapes and "no gradient" for
gradients, never zeros):

``infer_shape(*shapes)``
    One (possibly partial) shape per input slot (arguments then aux).  Return ``None`` when
    nothing can be decided yet, else ``(input_shapes, output_shapes)`` with every output
    (hidden ones included); input shapes may fill in unknowns (gamma from data).  Raise
    ``ShapeError`` for shapes the op cannot take.
``infer_shape_backward(in_shapes, out_shapes)``
    The other direction, as MXNet's FInferShape runs it: given every (partial) input and
    output shape, return one shape per input slot (``None`` where nothing is learnt) or
    ``None``; e.g. FullyConnected's output ``(N, num_hidden)`` gives data's ``N``.  The
    engine merges the answer, so a rule may return partial shapes.  ``shape_back`` declares
    which dims it recovers (input slot -> axes); the registry harness holds it to that.
    Ops on the default elementwise rule get it for every input.
``forward(*arrays, train)``
    Pure: must not modify its arguments.  Returns ``Result(outputs, aux, saved)``: all
    outputs, the *proposed* new aux values (or ``None``), and what ``backward`` needs.
``backward(saved, *out_grads)``
    Receives the gradients of the outputs not listed in ``no_grad_outputs`` (each may be
    ``None``), returns one gradient per *argument* slot (never per aux); ``None`` = none.
    An op declaring ``differentiable = False`` (argmax, comparisons, shape_array) need not
    write one: the default passes no gradient back.

``forward`` and ``backward`` are the op's *reference*: plain numpy written for clarity,
taking nothing but the op's inputs.  How an op runs fast (writing into a dying input or a
gradient buffer, skipping unwanted gradients, batch-last storage, threads, collectives) is
a kernel registered apart, in ``symnorm.runtime.kernels``; the registry harness checks
every kernel against the reference.

Slots computed from params: ``arguments()`` and ``output_names()`` are methods, and every
other signature attribute the engine reads (``aux``, ``no_grad_outputs``, ``no_grad_inputs``,
``head_grad``) is read off the op *instance*, so an op whose signature depends on its params
beyond a count (``Custom``: the user's prop lists them) sets those per instance in
``__post_init__`` and declares ``dynamic_slots = True``; constructors then take every
Symbol keyword as an input and check its name against the built op.  ``extra_params = True``:
the op accepts keyword params beyond its fields (Custom passes them to the prop as strings);
it overrides ``create`` and ``param_strings``, and a JSON reader gives it every attribute
that is not a dunder key.
"""
from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Any, ClassVar


from . import params as P
from .errors import ParamError, ShapeError, OpError, where
from .dims import merge

MAX_INPUTS = MAX_OUTPUTS = 65536
"""Most input slots a variadic op (Concat's ``num_args``) and most outputs an op
(SliceChannel's ``num_outputs``) may declare: building a node costs time in its slot count,
so a 150-byte JSON saying ``"num_outputs": "2147483647"`` must fail, not run for minutes.
MXNet has no such bound."""

REGISTRY: dict[str, type["Op"]] = {}
"""Canonical MXNet op name -> op class."""

ALIASES: dict[str, str] = {}
"""Alias (``stop_gradient``, ``_Plus``) -> canonical op name."""

LISTENERS: list = []
"""Called with each newly registered op class (``symnorm.sym`` adds its constructors)."""


def Result(outputs: tuple, aux: tuple | None = None, saved: Any = None) -> tuple:
    """What a forward returns: ``(outputs, aux, saved)`` -- every output, the proposed aux
    values (or None), and the state backward needs.  A plain tuple, because the executor
    builds one per node per step (a NamedTuple costs 4x as much to create)."""
    return (outputs, aux, saved)


class Op:
    """Base class of every operator.  See the module docstring for the contract."""

    op_name: ClassVar[str] = ""
    inputs: ClassVar[tuple] = ("data",)
    aux: ClassVar[tuple] = ()
    outputs: ClassVar[tuple] = ("output",)
    no_grad_outputs: ClassVar[tuple] = ()   # head gradients arriving here are dropped
    no_grad_inputs: ClassVar[tuple] = ()    # never receive a gradient (labels)
    head_grad: ClassVar[str] = "required"   # "ignore": a loss head, backward() needs no out_grads
    aux_init: ClassVar[dict] = {}            # aux slot -> MXNet initializer name ("zero", "one")
    input_init: ClassVar[dict] = {}          # argument slot -> the __init__ attribute its variable gets
    aliases: ClassVar[tuple] = ()
    hint: ClassVar[str | None] = None        # auto-name prefix; default: op_name.lower()
    variadic: ClassVar[str | None] = None    # param holding the number of inputs (Concat: num_args)
    variadic_outputs: ClassVar[str | None] = None   # ... of outputs (SliceChannel: num_outputs)
    dynamic_slots: ClassVar[bool] = False   # slot names come from params (see the module doc)
    extra_params: ClassVar[bool] = False    # takes params beyond its fields (see the module doc)
    differentiable: ClassVar[bool] = True
    shape_back: ClassVar[dict] = {}         # input slot -> axes infer_shape_backward recovers
    color: ClassVar[str] = "#fccde5"         # fill colour in plot_network (MXNet's Set3 palette)
    input_range: ClassVar[dict] = {}         # slot -> (lo, hi) for generated test inputs
    summary_params: ClassVar[bool] = False   # counted in print_summary's "Param #" (MXNet's set)
    copies: ClassVar[bool] = False           # y = x into a new array: the op graph passes insert

    # ------------------------------------------------------------------ construction
    @classmethod
    def param_fields(cls) -> tuple:
        return dataclasses.fields(cls)

    @classmethod
    def param_types(cls) -> dict[str, Any]:
        """Field name -> annotation (computed once per class, at registration)."""
        types = cls.__dict__.get("_param_types")
        if types is None:
            types = typing.get_type_hints(cls)
            cls._param_types = types
        return types

    @classmethod
    def create(cls, params: dict, node: str | None = None) -> "Op":
        """Build an op from user values or MXNet attribute strings, validating every one."""
        fields = {f.name: f for f in cls.param_fields()}
        by_alias = {f.metadata.get("alias"): f.name for f in fields.values() if f.metadata.get("alias")}
        types = cls.param_types()
        values = {}
        for key, value in params.items():
            name = by_alias.get(key, key)
            if name not in fields:
                raise ParamError("%s: cannot find argument %r; the parameters of %s are: %s"
                                 % (where(cls.op_name, node), key, cls.op_name,
                                    ", ".join(fields) or "(none)"))
            try:
                values[name] = P.validate(fields[name], types[name], value)
            except ParamError as exc:
                raise ParamError("%s: %s" % (where(cls.op_name, node), exc)) from None
        # counts of slots are bounded here, once, before anything loops over them
        for pname, kind, limit in ((cls.variadic, "inputs", MAX_INPUTS),
                                   (cls.variadic_outputs, "outputs", MAX_OUTPUTS)):
            if pname and pname in values and values[pname] > limit:
                raise ParamError("%s: param %r is %d; an op may have at most %d %s"
                                 % (where(cls.op_name, node), pname, values[pname], limit, kind))
        for name, f in fields.items():
            if name not in values and f.default is P.REQUIRED:
                raise ParamError("%s: required parameter %r (%s) was not given"
                                 % (where(cls.op_name, node), name, P.type_name(types[name])))
        op = cls(**values)
        try:
            op.check()
        except ParamError as exc:
            raise ParamError("%s: %s" % (where(cls.op_name, node), exc)) from None
        return op

    @classmethod
    def available(cls, attrs: dict) -> bool:
        """Whether this process can build the op from these (JSON string) attributes.
        False -- a Custom op whose op_type nobody registered here -- makes a viewer draw
        the node as a placeholder, as it does an op symnorm lacks."""
        return True

    def check(self) -> None:
        """Cross-parameter validation; raise ``ParamError`` (without the op prefix)."""

    def param_strings(self, only: typing.Iterable[str] | None = None) -> dict[str, str]:
        """MXNet attribute strings of the params (all, or the names in ``only``)."""
        names = [f.name for f in self.param_fields()] if only is None else only
        return {n: P.to_attr_string(getattr(self, n)) for n in names}

    # ------------------------------------------------------------------ signature
    def arguments(self) -> tuple:
        """Names of the non-aux input slots; may depend on params (``no_bias``)."""
        if self.variadic:
            return tuple("arg%d" % i for i in range(getattr(self, self.variadic)))
        return self.inputs

    def input_names(self) -> tuple:
        """Every input slot in order: arguments, then aux states (MXNet's order)."""
        return self.arguments() + self.aux

    def output_names(self) -> tuple:
        return self.outputs

    def num_visible_outputs(self) -> int:
        return len(self.output_names())

    def input_init_attr(self, slot: str) -> str | None:
        """The ``__init__`` attribute composing this op gives the variable in input ``slot``
        unless it has one (MXNet's FSetInputVarAttrOnCompose): an aux slot's from
        ``aux_init``, an argument's from ``input_init`` (PReLU's gamma: 0.25), else None.
        Initializers obey it before any name rule (``*_gamma`` -> 1)."""
        if slot in self.input_init:
            return self.input_init[slot]
        return self.aux_init_attr(slot)

    def aux_init_attr(self, slot: str) -> str | None:
        """The ``__init__`` attribute MXNet gives the variable in aux ``slot``
        (``'["zero", {}]'``), or None when the op declares no initializer for it."""
        init = self.aux_init.get(slot)
        return None if init is None else '["%s", {}]' % init

    def deterministic(self) -> bool:
        """Whether two nodes of this op with the same params and inputs always compute the
        same outputs: no random draws, no state of its own, no aux states it updates.
        Common-subexpression elimination (``core.cse``) merges only such nodes."""
        return not self.aux

    def complete(self, out_shapes: tuple) -> "Op":
        """The op with params the graph left open filled in from its inferred output
        shapes (``sym.ones(shape=(-1, -1))`` used where (3, 2) is needed); the executor
        runs this one.  Default: the op itself."""
        return self

    def pinned_inputs(self) -> dict:
        """Argument slots the op overwrites with a constant at each forward (fix_gamma)."""
        return {}

    # ------------------------------------------------------------------ semantics
    def infer_shape(self, *shapes):
        """Default: elementwise; every input and output has one common shape."""
        common = None
        for i, s in enumerate(shapes):
            common = merge(common, s, "input %r" % self.input_names()[i])
        if common is None:
            return None
        return (common,) * len(shapes), (common,) * len(self.output_names())

    def infer_shape_backward(self, in_shapes, out_shapes):
        """Input shapes learnt from the outputs (see the module docstring).  Default: ops
        on the default elementwise rule give every input the outputs' common shape; other
        ops learn nothing unless they override this."""
        if type(self).infer_shape is not Op.infer_shape:
            return None
        common = None
        for i, s in enumerate(out_shapes):
            common = merge(common, s, "output %d" % i)
        return None if common is None else (common,) * len(in_shapes)

    def shape_back_axes(self) -> dict:
        """Input slot -> the axes (or "all") ``infer_shape_backward`` recovers from the
        outputs and the other inputs: ``shape_back``, every axis of every input for ops on
        the default elementwise rule.  Ops whose answer depends on params override it."""
        if type(self).infer_shape is Op.infer_shape and \
                type(self).infer_shape_backward is Op.infer_shape_backward:
            return {s: "all" for s in self.input_names()}
        return self.shape_back

    def infer_type(self, *dtypes):
        """Default: every input and output has the dtype of the first known input."""
        known = [d for d in dtypes if d is not None]
        if not known:
            return None
        dt = known[0]
        return (dt,) * len(dtypes), (dt,) * len(self.output_names())

    def forward(self, *arrays, train: bool) -> Result:
        raise NotImplementedError

    def backward(self, saved, *out_grads):
        """One gradient per argument; an op declared ``differentiable = False`` passes none
        back (None for every argument) without writing its own."""
        if not self.differentiable:
            return (None,) * len(self.arguments())
        raise OpError("%s does not support backward" % self.op_name)

    # ------------------------------------------------------------------ presentation
    def label(self, node_name: str) -> str:
        """Text of the node in plot_network; MXNet shows the node name for most ops."""
        return node_name

    def text(self) -> str:
        """``BatchNorm[eps=1e-05, fix_gamma=False]``: op name and non-default params."""
        shown = []
        for f in self.param_fields():
            v = getattr(self, f.name)
            if f.default is P.REQUIRED or v != f.default:
                shown.append("%s=%s" % (f.name, P.to_attr_string(v)))
        return "%s[%s]" % (self.op_name, ", ".join(shown)) if shown else self.op_name

    @classmethod
    def examples(cls):
        """Yield ``(params, {input name: shape})`` for the generated tests."""
        return iter(())


def _check_declaration(cls):
    """Fail at import time when a declaration is inconsistent."""
    name = cls.op_name
    outs = cls.outputs
    for flag in ("no_grad_outputs",):
        for o in getattr(cls, flag):
            if o not in outs:
                raise TypeError("%s.%s names unknown output %r" % (name, flag, o))
    for s in cls.no_grad_inputs:
        if s not in cls.inputs:
            raise TypeError("%s.no_grad_inputs names unknown input %r" % (name, s))
    for p in (cls.variadic, cls.variadic_outputs):
        if p and p not in {f.name for f in dataclasses.fields(cls)}:
            raise TypeError("%s: variadic count %r is not a param" % (name, p))
    for s in cls.aux_init:
        if s not in cls.aux:
            raise TypeError("%s.aux_init names unknown aux %r" % (name, s))
    for s in cls.input_init:
        if s not in cls.inputs:
            raise TypeError("%s.input_init names unknown input %r" % (name, s))
    if cls.head_grad not in ("required", "ignore"):
        raise TypeError("%s.head_grad must be 'required' or 'ignore'" % name)
    if cls.variadic is None:
        sig = inspect.signature(cls.forward)
        positional = [p for p in sig.parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][1:]
        has_var = any(p.kind == p.VAR_POSITIONAL for p in sig.parameters.values())
        if not has_var and [p.name for p in positional] != list(cls.inputs + cls.aux):
            raise TypeError("%s.forward takes %s, expected the input slots %s"
                            % (name, [p.name for p in positional], list(cls.inputs + cls.aux)))
    if cls.backward is not Op.backward:
        sig = inspect.signature(cls.backward)
        params = list(sig.parameters.values())[2:]          # after self, saved
        if not any(p.kind == p.VAR_POSITIONAL for p in params):
            required = [p for p in params if p.default is p.empty]
            n_grads = len(outs) - len(cls.no_grad_outputs)
            if not len(required) <= n_grads <= len(params):
                raise TypeError("%s.backward takes %d head gradients, but %d outputs carry "
                                "gradients (%s minus no_grad_outputs %s)"
                                % (name, len(params), n_grads, outs, cls.no_grad_outputs))
    types = cls.param_types()
    for f in dataclasses.fields(cls):
        try:
            if f.default is not P.REQUIRED and f.default is not None:
                P.parse_value(types[f.name], f.default)
        except (TypeError, ValueError) as exc:
            raise TypeError("%s.%s: bad declaration (%s)" % (name, f.name, exc)) from None


def register(cls=None, *, name: str | None = None):
    """Class decorator: freeze the op as a dataclass, check it, add it to ``REGISTRY``."""
    def wrap(cls):
        cls.op_name = name or cls.__name__
        # shared bases (``_Scalar`` declaring ``scalar``) must be dataclasses too, or their
        # params would not be inherited as fields
        for base in reversed(cls.__mro__[1:]):
            if issubclass(base, Op) and base is not Op and "__dataclass_fields__" not in base.__dict__:
                dataclasses.dataclass(frozen=True)(base)
        cls = dataclasses.dataclass(frozen=True)(cls)
        _check_declaration(cls)
        if cls.op_name in REGISTRY:
            raise TypeError("op %r registered twice" % cls.op_name)
        REGISTRY[cls.op_name] = cls
        for alias in cls.aliases:
            ALIASES[alias] = cls.op_name
        for listener in LISTENERS:
            listener(cls)
        return cls
    return wrap(cls) if cls is not None else wrap


def get_op(name: str, node: str | None = None) -> type[Op]:
    """Look an op up by canonical name or alias; unknown names raise ``GraphError``."""
    from .errors import GraphError
    cls = REGISTRY.get(name) or REGISTRY.get(ALIASES.get(name, ""))
    if cls is None:
        import difflib
        close = difflib.get_close_matches(str(name), list(REGISTRY) + list(ALIASES), n=3)
        raise GraphError("unknown operator %r%s: not among symnorm's %d ops%s (the list: "
                         "sorted(symnorm.registry.REGISTRY))"
                         % (name, "" if node is None else " in node %r" % node, len(REGISTRY),
                            "; did you mean %s?" % " or ".join(close) if close else ""))
    return cls


__all__ = ["Op", "Result", "register", "get_op", "REGISTRY", "ALIASES", "ShapeError",
           "MAX_INPUTS", "MAX_OUTPUTS"]
