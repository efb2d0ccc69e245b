"""``Symbol``, what users hold: a tuple of entries (NNVM's list of NodeEntry) with MXNet
1.x's methods, and the constructors ``Variable``, ``Group``, ``create`` (every op's
``sym.<Op>``), ``load`` and ``load_json``.

The IR itself (``Node``, ``Entry``, traversal) is ``ir``; behaviour lives elsewhere:
analysis and rebuilding in ``graph``, shape and type inference in ``shape``, execution in
the runtime, JSON in ``serialize``, Python's operators (``a + b``) in
``symbol_operators``.  This module keeps the MXNet-compatible methods on ``Symbol`` thin
and delegates.
"""
from __future__ import annotations

import numbers

from . import params as P
from .attribute import HIDDEN_KEYS, AttrScope
from .dims import check_shape
from .dtype import as_dtype, mx_flag
from .errors import GraphError, ParamError, where
from .ndarray_only import NDArrayOnly
from .symbol_operators import SymbolOperators
from .name import NameManager
from .graph import rebuild_entries
from .ir import Entry, Node, aux_variables, dfs_postorder
from .registry import get_op
from . import serialize
from . import op_args


class Symbol(NDArrayOnly, SymbolOperators):
    """A symbolic output (or group of outputs) of a graph, with MXNet 1.x's methods.

    >>> import symnorm as sn
    >>> data = sn.sym.Variable('data')
    >>> bn = sn.sym.BatchNorm(data, fix_gamma=False, name='bn')
    >>> bn.list_arguments(), bn.list_auxiliary_states()
    (['data', 'bn_gamma', 'bn_beta'], ['bn_moving_mean', 'bn_moving_var'])
    """

    __slots__ = ("_entries",)
    __array_priority__ = 1000.0   # make `ndarray + Symbol` defer to Symbol.__radd__

    def __init__(self, entries):
        self._entries = tuple(entries)

    # ------------------------------------------------------------------ identity and listing
    @property
    def entries(self) -> tuple:
        return self._entries

    @property
    def name(self) -> str | None:
        """The node's name when every output comes from one node (BatchNorm with
        output_mean_var too), None for a group of several nodes."""
        nodes = {e.node for e in self._entries}
        return self._entries[0].node.name if len(nodes) == 1 else None

    def _nodes(self):
        return dfs_postorder(self._entries)

    def list_outputs(self) -> list:
        """Names of the outputs: ``<node>_<output>`` for ops, the name for a variable."""
        return [e.node.output_name(e.index) for e in self._entries]

    def list_inputs(self) -> list:
        """Every variable (arguments and aux states) in MXNet's DFS order."""
        return [n.name for n in self._nodes() if n.is_variable]

    def list_arguments(self) -> list:
        """Variables that are not aux states, in MXNet's DFS order."""
        nodes = self._nodes()
        aux = aux_variables(nodes)
        return [n.name for n in nodes if n.is_variable and n not in aux]

    def list_auxiliary_states(self) -> list:
        """Variables that feed an aux slot (BatchNorm's moving_mean/moving_var).

        >>> import symnorm as sn
        >>> sn.sym.BatchNorm(sn.sym.Variable('x'), name='bn').list_auxiliary_states()
        ['bn_moving_mean', 'bn_moving_var']
        """
        nodes = self._nodes()
        aux = aux_variables(nodes)
        return [n.name for n in nodes if n in aux]

    def get_internals(self) -> "Symbol":
        """A group of every visible output of every node, in topological order."""
        return Symbol([Entry(n, i) for n in self._nodes() for i in range(n.num_visible())])

    def get_children(self) -> "Symbol | None":
        """The inputs of the (first) output's node as a group; None for a variable."""
        node = self._entries[0].node
        if node.is_variable:
            return None
        return Symbol(node.inputs)

    def __len__(self):
        return len(self._entries)

    def __iter__(self):
        return (Symbol([e]) for e in self._entries)

    def __getitem__(self, key) -> "Symbol":
        if isinstance(key, str):
            names = self.list_outputs()
            matches = [i for i, n in enumerate(names) if n == key]
            if not matches:
                raise ValueError('Cannot find output that matches name "%s"; outputs are: %s'
                                 % (key, ", ".join(names)))
            key = matches[0]
        if isinstance(key, slice):
            return Symbol(self._entries[key])
        if not isinstance(key, numbers.Integral):
            raise TypeError("Symbol index must be an int, a slice or an output name, got %r" % (key,))
        if not -len(self._entries) <= key < len(self._entries):
            raise IndexError("Symbol index %d out of range: it has %d output(s)"
                             % (key, len(self._entries)))
        return Symbol([self._entries[key]])

    # ------------------------------------------------------------------ attributes
    def attr(self, key: str):
        """The attribute ``key`` of this node (str), or None; ``lr_mult`` finds ``__lr_mult__``."""
        if len(self._entries) != 1:
            return None
        attrs = self._entries[0].node.attrs
        if key in attrs:
            return attrs[key]
        return attrs.get("__%s__" % key)

    def list_attr(self, recursive: bool = False) -> dict:
        """This node's attributes (``recursive`` gives every node's, keyed ``node$key``)."""
        if recursive:
            return {"%s$%s" % (n, k): v for n, d in self.attr_dict().items() for k, v in d.items()}
        if len(self._entries) != 1:
            return {}
        return _with_plain_mults(self._entries[0].node.attrs)

    def attr_dict(self) -> dict:
        """``{node name: {key: value}}`` for every node that has attributes."""
        return {n.name: _with_plain_mults(n.attrs) for n in self._nodes() if n.attrs}

    def _set_attr(self, **kwargs):
        """Set string attributes on this node, in place (as MXNet does)."""
        node = self._entries[0].node
        for k, v in kwargs.items():
            if not isinstance(v, str):
                raise ValueError("attribute %r must be a string, got %r" % (k, v))
            if node.op is not None and k in {f.name for f in node.op.param_fields()}:
                raise ParamError("%s: param %r cannot be changed by _set_attr; build a new op"
                                 % (node.describe(), k))
            node.attrs[k] = v

    # ------------------------------------------------------------------ composition
    def __call__(self, *args, **kwargs) -> "Symbol":
        """A copy with free variables replaced: ``net(data=other_symbol)``."""
        s = self.__copy__()
        s._compose(*args, **kwargs)
        return s

    def _compose(self, *args, name=None, **kwargs):
        """Replace the variables named in ``kwargs`` by the given symbols, in this symbol."""
        if args:
            raise TypeError("General composition only support kwargs for now: "
                            "call net(name_of_variable=symbol)")
        free = {n.name: n for n in self._nodes() if n.is_variable}
        for k, v in kwargs.items():
            if k not in free:
                raise GraphError("Symbol.Compose: keyword argument name %r not found; free "
                                 "variables are: %s" % (k, ", ".join(free)))
            if not isinstance(v, Symbol) or len(v) != 1:
                raise TypeError("compose: %r must be a single-output Symbol" % k)
        replace = {free[k]: v._entries[0] for k, v in kwargs.items()}
        self._entries = tuple(rebuild_entries(
            self._entries, lambda node, inputs: [replace[node]] if node in replace else None,
            copy_attrs=False))

    def __copy__(self) -> "Symbol":
        return self.__deepcopy__({})

    def __deepcopy__(self, memo) -> "Symbol":
        """A structurally identical graph with new nodes (attributes copied)."""
        clones: dict = {}
        for n in self._nodes():
            clones[n] = Node(n.op, n.name, tuple(Entry(clones[e.node], e.index) for e in n.inputs),
                             dict(n.attrs))
        return Symbol([Entry(clones[e.node], e.index) for e in self._entries])

    # ------------------------------------------------------------------ text
    def __str__(self):
        lines = [n.line() for n in self._nodes()]
        lines.append("return " + ", ".join(
            "%" + e.node.name + ("" if e.node.num_outputs() == 1 else "[%d]" % e.index)
            for e in self._entries))
        return "\n".join(lines)

    def __repr__(self):
        if len(self._entries) == 1:
            return "<Symbol %s>" % self.name
        return "<Symbol group [%s]>" % ", ".join(self.list_outputs())

    def debug_str(self) -> str:
        """The node listing, one line per node (op, params, inputs, aux)."""
        return str(self)

    # ------------------------------------------------------------------ delegation
    def infer_shape(self, *args, **kwargs):
        """``(arg_shapes, out_shapes, aux_shapes)`` from known input shapes.

        >>> import symnorm as sn
        >>> bn = sn.sym.BatchNorm(sn.sym.Variable('data'), name='bn')
        >>> bn.infer_shape(data=(2, 3, 4, 4))
        ([(2, 3, 4, 4), (3,), (3,)], [(2, 3, 4, 4)], [(3,), (3,)])
        """
        from .shape import infer_shape
        return infer_shape(self, args, kwargs, partial=False)

    def infer_shape_partial(self, *args, **kwargs):
        """Like ``infer_shape`` but returns what is known: ``()`` for an unknown shape, 0 for
        an unknown dim (MXNet's convention)."""
        from .shape import infer_shape
        return infer_shape(self, args, kwargs, partial=True)

    def infer_type(self, *args, **kwargs):
        """``(arg_types, out_types, aux_types)`` as numpy type classes."""
        from .shape import infer_type
        return infer_type(self, args, kwargs, partial=False)

    def infer_type_partial(self, *args, **kwargs):
        """Like ``infer_type`` but returns what is known (None for unknown)."""
        from .shape import infer_type
        return infer_type(self, args, kwargs, partial=True)

    def tojson(self) -> str:
        """MXNet 1.9.1's symbol JSON, byte for byte."""
        return serialize.tojson(self)

    def save(self, fname: str) -> None:
        """Write ``tojson()`` to ``fname`` atomically."""
        serialize.save(self, fname)

    def simple_bind(self, ctx=None, grad_req="write", type_dict=None, stype_dict=None,
                    group2ctx=None, shared_arg_names=None, shared_exec=None,
                    shared_buffer=None, **kwargs):
        """Infer shapes and types, allocate every array (zero-filled), return an Executor."""
        from ..runtime.executor import simple_bind
        return simple_bind(self, ctx=ctx, grad_req=grad_req, type_dict=type_dict,
                           stype_dict=stype_dict, group2ctx=group2ctx,
                           shared_arg_names=shared_arg_names, shared_exec=shared_exec,
                           shared_buffer=shared_buffer, **kwargs)

    def bind(self, ctx=None, args=None, args_grad=None, grad_req="write", aux_states=None,
             group2ctx=None, shared_exec=None, **kwargs):
        """Bind user-owned arrays (used in place, not copied) and return an Executor."""
        from ..runtime.executor import bind
        return bind(self, ctx=ctx, args=args, args_grad=args_grad, grad_req=grad_req,
                    aux_states=aux_states, group2ctx=group2ctx, shared_exec=shared_exec,
                    **kwargs)

    # ------------------------------------------------------------------ operators
    def _apply(self, op_name: str, args: tuple, params: dict, hint):
        """What the operators (``symbol_operators``) build: the op applied to ``args``."""
        return create(op_name, args, params, hint=hint)

    def eval(self, ctx=None, **kwargs):
        """Bind with the arrays in ``kwargs``, run a forward pass, return the outputs (a
        list): MXNet's one-call ``bind(ctx, kwargs).forward()``.

        >>> import numpy as np, symnorm as sn
        >>> a, b = sn.sym.var('a'), sn.sym.var('b')
        >>> (a + b).eval(a=np.ones((2, 3)), b=np.ones((2, 3)))[0].tolist()
        [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]
        """
        return self.bind(ctx, args=kwargs).forward()


def _with_plain_mults(attrs: dict) -> dict:
    """MXNet lists its hidden keys (``lr_mult``, ``ctx_group``, ...) under both spellings
    in list_attr/attr_dict."""
    out = dict(attrs)
    for k in HIDDEN_KEYS:
        if "__%s__" % k in attrs:
            out[k] = attrs["__%s__" % k]
    return out


# ====================================================================== construction

def Variable(name, attr=None, shape=None, lr_mult=None, wd_mult=None, dtype=None, init=None,
             stype=None, **kwargs) -> Symbol:
    """A free input of the graph: data, label, parameter or aux state.

    Everything is stored as MXNet's string attributes: ``__shape__``, ``__dtype__`` (MXNet
    type flag), ``__init__``, ``__lr_mult__``, ``__wd_mult__``, plus ``attr`` verbatim.

    >>> import symnorm as sn
    >>> w = sn.sym.Variable('w', shape=(2, 3), lr_mult=2.0)
    >>> w.attr('__shape__'), w.attr('lr_mult')
    ('(2, 3)', '2.0')
    """
    if not isinstance(name, str):
        raise TypeError("Expect a string for variable `name`, got %r" % (name,))
    attrs = AttrScope.current().get(attr)
    for k, v in list(attrs.items()):
        if not isinstance(v, str):
            raise ValueError("Variable %r: attribute %r must be a string, got %r" % (name, k, v))
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        check_shape((shape,), "Variable %r: shape" % name)
        attrs["__shape__"] = str(int(shape))        # MXNet stores '1' for shape=1: (1,)
    elif shape is not None:
        attrs["__shape__"] = str(check_shape(shape, "Variable %r: shape" % name))
    for key, mult in (("__lr_mult__", lr_mult), ("__wd_mult__", wd_mult)):
        if mult is not None:
            float(mult)                             # a number, or fail here
            attrs[key] = str(mult)                  # MXNet: str of what was given
    if dtype is not None:
        attrs["__dtype__"] = str(mx_flag(as_dtype(dtype, "Variable %r" % name)))
    if init is not None:
        attrs["__init__"] = init if isinstance(init, str) else init.dumps()
    if stype is not None:
        attrs["__storage_type__"] = str(stype)
    for k, v in kwargs.items():
        if k.startswith("__") and k.endswith("__"):
            attrs[k] = str(v)
        else:
            raise ValueError("Variable %r: attribute name=%s is not supported; additional "
                             "attributes must start and end with double underscores, e.g. "
                             "__yourattr__" % (name, k))
    return Symbol([Entry(Node(None, name, (), attrs), 0)])


var = Variable


def Group(symbols) -> Symbol:
    """One symbol with the outputs of all ``symbols``, in order."""
    symbols = list(symbols)
    if not symbols or not all(isinstance(s, Symbol) for s in symbols):
        raise TypeError("Group expects a non-empty list of Symbols")
    return Symbol([e for s in symbols for e in s.entries])


def create(op_name: str, args: tuple, kwargs: dict, hint: str | None = None) -> Symbol:
    """Apply the registered op ``op_name`` to input symbols and parameters.

    Positional ``args`` follow MXNet's signature, inputs then params (all inputs for a
    variadic op such as Concat; see ``op_args``); keyword arguments naming a slot are
    inputs, hidden attributes (``lr_mult=``, ``__layout__=``) and ``attr`` are attributes,
    the rest are op params.  Missing inputs become Variables named ``<node>_<slot>`` that
    carry the explicit params and attributes (and ``__init__`` on aux slots), as in MXNet.
    """
    cls = get_op(op_name)
    kwargs = dict(kwargs)
    name = kwargs.pop("name", None)
    user_attr = op_args.check_user_attr(cls, kwargs.pop("attr", None), name)
    slot_names = set(cls.inputs + cls.aux)
    # an op whose slots come from its params (Custom): every Symbol keyword, checked below
    given_inputs = {k: kwargs.pop(k) for k in list(kwargs)
                    if (k in slot_names or cls.dynamic_slots) and isinstance(kwargs[k], Symbol)
                    or (k in slot_names and kwargs[k] is None)}
    for k, v in kwargs.items():
        if isinstance(v, Symbol):
            raise ParamError("%s: %r is not an input of %s (inputs: %s)"
                             % (where(cls.op_name, name), k, cls.op_name,
                                ", ".join(cls.inputs + cls.aux)))
    hidden = op_args.pop_hidden(kwargs)
    if cls.variadic:
        if given_inputs:
            raise ParamError("%s takes its inputs positionally" % cls.op_name)
        kwargs.setdefault(cls.variadic, len(args))
    elif cls.dynamic_slots and given_inputs and args:
        raise ParamError("%s: give the inputs either positionally or by keyword, not both"
                         % where(cls.op_name, name))
    elif not cls.dynamic_slots:
        op_args.place_positional(cls, args, kwargs, given_inputs, name)
        args = ()
    params = kwargs
    node_name = NameManager.current().get(name, hint or cls.hint or cls.op_name.lower())
    op = cls.create(params, node_name)
    # MXNet stores str(value) of what the user passed, for the params the user passed
    to_str = str if cls.extra_params else P.to_attr_string      # untyped: str(), as MXNet
    explicit = {k: v if isinstance(v, str) else to_str(v) for k, v in params.items()}
    explicit.update(hidden)
    scoped = AttrScope.current().get(user_attr)      # MXNet copies these to new variables too
    slots = op.input_names()
    if len(args) > len(slots):
        raise ParamError("%s takes at most %d inputs (%s), got %d positional"
                         % (where(cls.op_name, node_name), len(slots), ", ".join(slots), len(args)))
    for i, a in enumerate(args):
        if not isinstance(a, Symbol):
            raise TypeError("%s: positional input %d (%s) must be a Symbol, got %r"
                            % (where(cls.op_name, node_name), i, slots[i], a))
        given_inputs[slots[i]] = a      # (only variadic ops get here: no keyword inputs)
    slot_set = set(slots)               # Concat may have 65536 slots: no tuple scans
    for k in given_inputs:
        if k not in slot_set and given_inputs[k] is not None:
            raise ParamError("%s: input %r is not used with these params (inputs: %s)"
                             % (where(cls.op_name, node_name), k, ", ".join(slots)))
    aux_set = set(op.aux)
    entries = []
    for slot in slots:
        sym = given_inputs.get(slot)
        if sym is None:
            attrs = {**scoped, **explicit}
            if op.input_init_attr(slot):
                attrs["__init__"] = op.input_init_attr(slot)
            entries.append(Entry(Node(None, "%s_%s" % (node_name, slot), (), attrs), 0))
            continue
        if len(sym) != 1:
            raise GraphError("%s: input %r must be a single output, got a group of %d (%s)"
                             % (where(cls.op_name, node_name), slot, len(sym),
                                ", ".join(sym.list_outputs())))
        entry = sym.entries[0]
        if slot in aux_set:
            if not entry.node.is_variable:
                raise GraphError("%s: aux state %r must be a Variable, got the output of %s"
                                 % (where(cls.op_name, node_name), slot, entry.node.describe()))
        if entry.node.is_variable and op.input_init_attr(slot) and "__init__" not in entry.node.attrs:
            entry.node.attrs["__init__"] = op.input_init_attr(slot)
        entries.append(entry)
    attrs = dict(scoped)
    attrs.update(explicit)
    node = Node(op, node_name, tuple(entries), attrs)
    return Symbol([Entry(node, i) for i in range(op.num_visible_outputs())])


def load_json(json_str: str) -> Symbol:
    """A Symbol from MXNet symbol JSON (1.x ``attrs``, 0.x ``attr``/``param``, pre-0.9
    graphs); errors name the node (``serialize.parse_json``).

    >>> import symnorm as sn
    >>> s = sn.sym.BatchNorm(sn.sym.Variable('x'), name='bn')
    >>> sn.sym.load_json(s.tojson()).list_auxiliary_states()
    ['bn_moving_mean', 'bn_moving_var']
    """
    return Symbol(serialize.parse_json(json_str))


def load(fname: str) -> Symbol:
    """A Symbol from a symbol JSON file (``prefix-symbol.json``)."""
    return Symbol(serialize.read(fname))


__all__ = ["Symbol", "Node", "Entry", "Variable", "var", "Group", "create", "load", "load_json"]
