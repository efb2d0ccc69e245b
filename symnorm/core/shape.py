"""Shape and type inference: one fixed-point engine over the IR, driven by the ops' rules.

Unknown is ``None`` (a whole shape, or one dim inside a shape), never 0.  At the public API
shapes follow MXNet: 0 is an unknown dim and ``()`` an unknown shape (legacy semantics), or,
inside ``mx.np_shape()``, -1 and ``None`` (0 is then a zero-size dim).  Each sweep asks
every op node's rule for the shapes of its inputs and outputs given what is known, and
merges the answers; a rule may fill in inputs (gamma from the data's channel axis), so
information flows both ways through a node.  Sweeps repeat until nothing changes.

A contradiction raises ``ShapeError`` naming the node, the op, the input slot, the provided
and the inferred shape, and the shapes the user gave.  (MXNet silently overwrites a
user-given gamma shape that contradicts the data; symnorm refuses.)
"""
from __future__ import annotations

import numbers
import threading
import warnings
from collections import deque

import numpy as np

from .dims import check_inferred, check_shape, merge
from .dtype import as_dtype
from .errors import DTypeError, ShapeError, fmt_shape
from .ir import aux_variables, dfs_postorder
from .params import Shape, parse_value


_NP = threading.local()


def is_np_shape() -> bool:
    """Whether MXNet's NumPy shape semantics are on in this thread (``mx.np_shape()``):
    -1 is an unknown dim and 0 a zero-size one; off by default (0 = unknown)."""
    return getattr(_NP, "active", False)


def set_np_shape(active) -> bool:
    """Turn the NumPy shape semantics on or off in this thread; returns the previous state."""
    prev = is_np_shape()
    _NP.active = bool(active)
    return prev


def _check_user_shape(shape, what):
    """A user's shape with its unknown dims as None (0 legacy, -1 under np_shape)."""
    if not is_np_shape():
        return _unknown_zeros(check_shape(shape, what))
    minus = [isinstance(d, numbers.Integral) and not isinstance(d, bool) and d == -1
             for d in shape] if hasattr(shape, "__len__") and not isinstance(shape, (str, bytes)) \
        else []
    checked = check_shape(tuple(0 if m else d for m, d in zip(minus, shape)) if minus else shape,
                          what, unknown_zero=False)
    return tuple(None if m else d for m, d in zip(minus, checked))


def _user_shapes(symbol, args, kwargs, nodes):
    """{variable node: partial shape} from positional args, keywords and ``__shape__`` attrs."""
    variables = [n for n in nodes if n.is_variable]
    by_name = {}
    for n in variables:
        by_name.setdefault(n.name, []).append(n)
    given = {}
    if args:
        names = symbol.list_arguments()
        if len(args) > len(names):
            raise ShapeError("infer_shape: %d positional shapes given, the symbol has %d "
                             "arguments (%s)" % (len(args), len(names), ", ".join(names)))
        for k, s in zip(names, args):
            if s is not None:
                given[k] = s
    for k, s in kwargs.items():
        if k not in by_name:
            raise ShapeError("infer_shape: keyword argument name %r not found; inputs are: %s"
                             % (k, ", ".join(by_name)))
        if s is not None:
            given[k] = s
    out = {}
    for n in variables:
        if "__shape__" in n.attrs and n.attrs["__shape__"].strip() != "None":
            # "None": NumPy semantics' unknown shape (a legacy graph loaded under them)
            text = n.attrs["__shape__"]
            try:
                shape = parse_value(Shape, text)
            except ValueError as exc:
                raise ShapeError("variable %r: attribute __shape__ = %r is not a shape (%s)"
                                 % (n.name, text[:80], exc)) from None
            out[n] = _check_user_shape(shape, "variable %r: __shape__" % n.name)
    for k, s in given.items():
        shape = _check_user_shape(s, "infer_shape: shape of %r" % k)
        given[k] = tuple(-1 if d is None else d for d in shape) if is_np_shape() else \
            tuple(0 if d is None else d for d in shape)
        for n in by_name[k]:
            out[n] = shape
    return out, given


def _unknown_zeros(shape):
    # MXNet's convention for partial shapes: a 0 dim is unknown
    return tuple(None if d == 0 else d for d in shape)


def _describe_given(given):
    return ", ".join("%s=%s" % (k, fmt_shape(tuple(v))) for k, v in given.items()) or "none"


def _fixed_point(nodes, state, rule, merge_fn, fmt, what, given_text, check=None, back=None):
    """Run ``rule`` ('infer_shape' / 'infer_type') on op nodes until nothing changes;
    ``back`` ('infer_shape_backward') also fills a node's inputs from its known outputs.
    ``check(value)`` vets every value a rule returns.

    A worklist, not whole-graph sweeps: a node runs again only when one of the entries it
    reads or writes changed.  Merges only refine (unknown -> known), so every entry changes
    at most ndim + 1 times and the total work is linear in the graph, not quadratic (the
    engine runs at every bind and every Module reshape)."""
    op_nodes = [n for n in nodes if not n.is_variable]
    users = {}
    for n in op_nodes:
        for e in n.inputs:
            lst = users.setdefault(e.node, [])
            if not lst or lst[-1] is not n:
                lst.append(n)
    queue = deque(op_nodes)
    queued = set(op_nodes)
    current = [None]

    def touched(node):
        # an entry of ``node`` changed: its producer and its readers may now learn more
        # (not the node whose rule made the change: it runs its rules to a local fixed
        # point below, so requeueing it would only double the work)
        if not node.is_variable and node not in queued and node is not current[0]:
            queued.add(node)
            queue.append(node)
        for u in users.get(node, ()):
            if u not in queued and u is not current[0]:
                queued.add(u)
                queue.append(u)

    while queue:
        n = queue.popleft()
        queued.discard(n)
        current[0] = n
        n_out = len(n.op.output_names())
        for _ in range(4):
            ins = [state.get((e.node, e.index)) for e in n.inputs]
            res = _run_rule(n, rule, ins, None, fmt, what, given_text)
            if res is not None:
                _store(n, res[0], res[1], ins, state, merge_fn, fmt, what, given_text, check, touched)
            if back is None:
                break
            ins = [state.get((e.node, e.index)) for e in n.inputs]
            # nothing to learn when every input is known (the forward merge above has
            # already checked the outputs against what consumers said)
            if all(s is not None and None not in s for s in ins):
                break
            outs = [state.get((n, j)) for j in range(n_out)]
            if all(o is None for o in outs):
                break
            new_in = _run_rule(n, back, ins, outs, fmt, what, given_text)
            if new_in is None or not _store(n, new_in, (), ins, state, merge_fn, fmt, what,
                                            given_text, check, touched):
                break
        current[0] = None
    return state


def _run_rule(n, rule, ins, outs, fmt, what, given_text):
    """Call the rule of node ``n``; failures become ShapeError/DTypeError naming the node."""
    try:
        if outs is None:
            return getattr(n.op, rule)(*ins)
        return getattr(n.op, rule)(tuple(ins), tuple(outs))
    except (ShapeError, DTypeError) as exc:
        raise type(exc)("%s: %s; input %ss: %s%s; %ss you gave: %s"
                        % (n.describe(), exc, what, _slots_text(n, ins, fmt),
                           "" if outs is None else "; output %ss: %s" % (
                               what, ", ".join(fmt(o) for o in outs)),
                           what, given_text)) from None
    except Exception as exc:
        # a rule meeting input it was not written for (a rank it never checked):
        # still a problem with the user's shapes, named here, the cause chained
        exc_type = ShapeError if what == "shape" else DTypeError
        raise exc_type("%s: cannot infer %ss from input %ss %s (%s: %s); %ss you gave: %s"
                       % (n.describe(), what, what, _slots_text(n, ins, fmt),
                          type(exc).__name__, exc, what, given_text)) from exc


def _store(n, new_in, new_out, ins, state, merge_fn, fmt, what, given_text, check, touched):
    """Merge a rule's answer for node ``n`` into ``state``; a contradiction raises naming the
    node, the input slot, the provided and the inferred value."""
    if check is not None:
        for j, v in enumerate(tuple(new_in) + tuple(new_out)):
            try:
                check(v)
            except ShapeError as exc:
                raise ShapeError("%s, %s: %s" % (
                    n.describe(), "input %r" % n.op.input_names()[j] if j < len(new_in)
                    else "output %d" % (j - len(new_in)), exc)) from None
    slots = n.op.input_names()
    changed = False
    for i, (e, v) in enumerate(zip(n.inputs, new_in)):
        key = (e.node, e.index)
        old = state.get(key)
        try:
            merged = merge_fn(old, v)
        except (ShapeError, DTypeError):
            src = "variable %r" % e.node.name if e.node.is_variable else e.node.describe()
            exc_type = ShapeError if what == "shape" else DTypeError
            raise exc_type(
                "%s, input %r (%s): inconsistent %s, provided %s, inferred %s; input "
                "%ss: %s; %ss you gave: %s"
                % (n.describe(), slots[i], src, what, fmt(old), fmt(v), what,
                   _slots_text(n, ins, fmt), what, given_text)) from None
        if _differs(merged, old):
            state[key] = merged
            touched(e.node)
            changed = True
    for j, v in enumerate(new_out):
        key = (n, j)
        old = state.get(key)
        try:
            merged = merge_fn(old, v)
        except (ShapeError, DTypeError):
            exc_type = ShapeError if what == "shape" else DTypeError
            raise exc_type("%s output %d: inconsistent %s, %s (from its consumers) vs %s "
                           "(from its inputs); input %ss: %s; %ss you gave: %s"
                           % (n.describe(), j, what, fmt(old), fmt(v), what,
                              _slots_text(n, ins, fmt), what, given_text)) from None
        if _differs(merged, old):
            state[key] = merged
            touched(n)
            changed = True
    return changed


def _differs(new, old) -> bool:
    # not `new != old`: numpy says np.dtype('float64') == None (None means the default dtype)
    if old is None or new is None:
        return old is not new
    return new != old


def _slots_text(n, values, fmt):
    return ", ".join("%s=%s" % (s, fmt(v)) for s, v in zip(n.op.input_names(), values))


def _merge_dtype(a, b):
    if a is None:
        return b
    if b is None or a == b:
        return a
    raise DTypeError("%s vs %s" % (a, b))


def _fmt_dtype(d):
    return "unknown" if d is None else str(np.dtype(d))


def shape_entries(symbol, args=(), kwargs=None):
    """Partial shapes of every entry: ``({(node, index): shape}, nodes, given)``."""
    nodes = dfs_postorder(symbol.entries)
    init, given = _user_shapes(symbol, args, kwargs or {}, nodes)
    state = {(n, 0): s for n, s in init.items()}
    state = _fixed_point(nodes, state, "infer_shape", merge, fmt_shape, "shape",
                         _describe_given(given), check=check_inferred, back="infer_shape_backward")
    return state, nodes, given


def type_entries(symbol, args=(), kwargs=None, default=None):
    """dtypes of every entry; variables without information get ``default`` if given."""
    nodes = dfs_postorder(symbol.entries)
    kwargs = dict(kwargs or {})
    names = symbol.list_arguments()
    for k, t in zip(names, args):
        if t is not None:
            kwargs[k] = t
    by_name = {n.name: n for n in nodes if n.is_variable}
    state = {}
    for n in by_name.values():
        if "__dtype__" in n.attrs:
            state[(n, 0)] = as_dtype(n.attrs["__dtype__"], "variable %r" % n.name)
    for k, t in kwargs.items():
        if k not in by_name:
            raise DTypeError("infer_type: keyword argument name %r not found; inputs are: %s"
                             % (k, ", ".join(by_name)))
        if t is not None:
            for n in nodes:
                if n.is_variable and n.name == k:
                    state[(n, 0)] = as_dtype(t, "infer_type(%s=...)" % k)
    given = ", ".join("%s=%s" % (k, np.dtype(v)) for k, v in kwargs.items() if v is not None)
    state = _fixed_point(nodes, state, "infer_type", _merge_dtype, _fmt_dtype, "type", given or "none")
    if default is not None:
        filled = False
        for n in nodes:
            if n.is_variable and state.get((n, 0)) is None:
                state[(n, 0)] = np.dtype(default)
                filled = True
        if filled:
            state = _fixed_point(nodes, state, "infer_type", _merge_dtype, _fmt_dtype, "type",
                                 given or "none")
    return state, nodes


def _lists(symbol, nodes):
    aux_vars = aux_variables(nodes)
    arg_nodes = [n for n in nodes if n.is_variable and n not in aux_vars]
    aux_nodes = [n for n in nodes if n in aux_vars]
    return arg_nodes, aux_nodes


def infer_shape(symbol, args, kwargs, partial: bool):
    """Implementation of ``Symbol.infer_shape`` / ``infer_shape_partial`` (see there)."""
    state, nodes, _ = shape_entries(symbol, args, kwargs)
    arg_nodes, aux_nodes = _lists(symbol, nodes)
    arg = [state.get((n, 0)) for n in arg_nodes]
    out = [state.get((e.node, e.index)) for e in symbol.entries]
    aux = [state.get((n, 0)) for n in aux_nodes]
    if partial:
        unknown_dim, unknown_shape = (-1, None) if is_np_shape() else (0, ())

        def mx(s):
            return unknown_shape if s is None else tuple(unknown_dim if d is None else d for d in s)
        return [mx(s) for s in arg], [mx(s) for s in out], [mx(s) for s in aux]
    unknown = [(n.name, s) for n, s in zip(arg_nodes + aux_nodes, arg + aux)
               if s is None or None in s]
    if unknown or any(s is None or None in s for s in out):
        warnings.warn("Cannot decide shape for the following arguments (unknown dims shown as "
                      "?). Consider providing them as input:\n\t"
                      + "\n\t".join("%s: %s" % (k, fmt_shape(s)) for k, s in unknown[:10]),
                      stacklevel=3)
        return None, None, None
    return arg, out, aux


def infer_type(symbol, args, kwargs, partial: bool):
    """Implementation of ``Symbol.infer_type``: numpy type classes in list order."""
    state, nodes = type_entries(symbol, args, kwargs)
    arg_nodes, aux_nodes = _lists(symbol, nodes)
    arg = [state.get((n, 0)) for n in arg_nodes]
    out = [state.get((e.node, e.index)) for e in symbol.entries]
    aux = [state.get((n, 0)) for n in aux_nodes]

    def cls(t):
        return None if t is None else np.dtype(t).type
    if not partial and any(t is None for t in arg + out + aux):
        warnings.warn("Cannot decide type for the following arguments. Consider providing them "
                      "as input:\n\t" + "\n\t".join(
                          n.name for n, t in zip(arg_nodes + aux_nodes, arg + aux) if t is None),
                      stacklevel=3)
        return None, None, None
    return [cls(t) for t in arg], [cls(t) for t in out], [cls(t) for t in aux]


def infer_entries(symbol, shapes: dict, default_dtype=np.float32):
    """Shapes and dtypes of every entry, for viz/networkx (partial results allowed)."""
    state, _, _ = shape_entries(symbol, (), shapes)
    types, _ = type_entries(symbol, (), {}, default=default_dtype)
    return state, types


__all__ = ["infer_shape", "infer_type", "shape_entries", "type_entries", "infer_entries",
           "is_np_shape", "set_np_shape"]
