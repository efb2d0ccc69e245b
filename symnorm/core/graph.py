"""Traversals and analysis over the IR: MXNet's node order, users, the aux variable set,
graph rebuilding, pinned arguments, networkx export, lint.

``dfs_postorder`` is NNVM's DFSVisit: from the heads in order, each node after its inputs,
inputs visited in slot order.  That one order is used by JSON node ids, ``list_arguments()``,
the executor plan and the DOT output, so all of them agree with MXNet.
"""
from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from .errors import GraphError
from .ir import Entry, Node, aux_variables, dfs_postorder, users  # noqa: F401  (public API)
from .shape import infer_entries

if TYPE_CHECKING:                 # networkx is imported on use, not at import time
    import networkx


def rebuild_entries(entries, transform, copy_attrs: bool = True) -> list:
    """The head entries of a copy of the graph under ``entries`` in which
    ``transform(node, new_inputs)`` may replace nodes.

    ``transform`` returns None (keep the node, rewired to the new inputs) or a list of
    entries standing for the node's outputs.  A kept node whose inputs did not change is
    reused as it is; one whose inputs changed is copied with its attribute dict copied (or
    shared, with ``copy_attrs=False``: ``Symbol._compose`` keeps the attributes of the
    nodes it rewires).  Iterative, in ``dfs_postorder``: no recursion limit."""
    mapping: dict = {}
    for node in dfs_postorder(entries):
        inputs = tuple(mapping[e.node][e.index] for e in node.inputs)
        new = transform(node, inputs)
        if new is None:
            same = all(a.node is b.node and a.index == b.index for a, b in zip(inputs, node.inputs))
            kept = node if same else Node(node.op, node.name, inputs,
                                          dict(node.attrs) if copy_attrs else node.attrs)
            new = [Entry(kept, i) for i in range(node.num_outputs())]
        mapping[node] = new
    return [mapping[e.node][e.index] for e in entries]


def rebuild(symbol, transform):
    """A copy of ``symbol`` (the same class) in which ``transform(node, new_inputs)`` may
    replace nodes (see ``rebuild_entries``); the graph passes are written with it."""
    return type(symbol)(rebuild_entries(symbol.entries, transform))


def pinned_arguments(symbol) -> dict:
    """``{argument name: constant}`` for the variables feeding a slot that its op overwrites
    at every forward (``Op.pinned_inputs()``: BatchNorm's gamma under ``fix_gamma``).  The
    op's declaration is the one source of this fact; the executor writes the constants,
    ``Module`` gives these arguments ``grad_req='null'``."""
    pinned = {}
    for node in dfs_postorder(getattr(symbol, "entries", symbol)):
        if node.is_variable:
            continue
        for slot, value in node.op.pinned_inputs().items():
            src = node.inputs[node.op.input_names().index(slot)].node
            if src.is_variable:
                pinned[src.name] = value
    return pinned


def to_networkx(symbol, shapes: dict | None = None) -> "networkx.MultiDiGraph":
    """The graph as a ``networkx.MultiDiGraph`` for analysis (never the IR itself).

    Nodes are keyed by node name (made unique with ``#k`` if names repeat) and carry ``op``
    (``"null"`` for variables), ``params`` (dict), ``attrs``, ``is_aux``, and, when
    ``shapes`` (input shapes as for ``infer_shape``) are given, ``output_shapes`` and
    ``dtypes``.  Edges go from producer to consumer, keyed by the consumer's input slot,
    with ``slot``, ``slot_name`` and ``output_index``: ``x + x`` has two parallel edges.

    >>> import symnorm as sn
    >>> x = sn.sym.Variable('x')
    >>> g = sn.graph.to_networkx(x + x)
    >>> g.number_of_edges('x', '_plus0') if '_plus0' in g else 2
    2
    """
    import networkx as nx        # imported on use: running graphs never needs it
    nodes = dfs_postorder(symbol.entries)
    keys, count = {}, Counter()
    for n in nodes:
        count[n.name] += 1
        keys[n] = n.name if count[n.name] == 1 else "%s#%d" % (n.name, count[n.name] - 1)
    aux = aux_variables(nodes)
    entry_shapes, entry_types = {}, {}
    if shapes is not None:
        entry_shapes, entry_types = infer_entries(symbol, shapes)
    g = nx.MultiDiGraph()
    for n in nodes:
        data = {"name": n.name, "op": "null" if n.is_variable else n.op.op_name,
                "params": {} if n.is_variable else {f.name: getattr(n.op, f.name)
                                                     for f in n.op.param_fields()},
                "attrs": dict(n.attrs), "is_aux": n in aux}
        if shapes is not None:
            data["output_shapes"] = [entry_shapes.get((n, i)) for i in range(n.num_outputs())]
            data["dtypes"] = [entry_types.get((n, i)) for i in range(n.num_outputs())]
        g.add_node(keys[n], **data)
    for n in nodes:
        names = () if n.is_variable else n.op.input_names()
        for slot, e in enumerate(n.inputs):
            g.add_edge(keys[e.node], keys[n], key=slot, slot=slot, slot_name=names[slot],
                       output_index=e.index)
    return g


def lint(symbol) -> None:
    """Check the invariants a loaded or composed graph must hold; raise ``GraphError``.

    Acyclic; each op node has exactly the input slots its op declares; entries point at
    existing outputs; aux slots are fed by variables that feed no argument slot; variable
    names are unique (MXNet fails at bind with "Duplicate names detected")."""
    entries = getattr(symbol, "entries", symbol)       # a Symbol, or its head entries
    nodes = dfs_postorder(entries)
    if _has_cycle(entries):
        raise GraphError("the graph has a cycle")
    arg_vars, aux_vars = set(), set()
    for n in nodes:
        if n.is_variable:
            if n.inputs:
                raise GraphError("variable %r has inputs" % n.name)
            continue
        slots = n.op.input_names()
        if len(n.inputs) != len(slots):
            raise GraphError("%s has %d inputs, its op declares %d (%s)"
                             % (n.describe(), len(n.inputs), len(slots), ", ".join(slots)))
        aux_slots = set(n.aux_slots())
        for i, e in enumerate(n.inputs):
            if not 0 <= e.index < e.node.num_outputs():
                raise GraphError("%s input %r refers to output %d of %s, which has %d"
                                 % (n.describe(), slots[i], e.index, e.node.describe(),
                                    e.node.num_outputs()))
            if i in aux_slots:
                if not e.node.is_variable:
                    raise GraphError("%s aux input %r must be a variable, got %s"
                                     % (n.describe(), slots[i], e.node.describe()))
                aux_vars.add(e.node)
            elif e.node.is_variable:
                arg_vars.add(e.node)
    both = arg_vars & aux_vars
    if both:
        raise GraphError("variable(s) %s used both as an argument and as an aux state"
                         % ", ".join(sorted(v.name for v in both)))
    dup = [k for k, c in Counter(n.name for n in nodes if n.is_variable).items() if c > 1]
    if dup:
        raise GraphError("Duplicate names detected among variables: %s" % ", ".join(sorted(dup)))


def _has_cycle(entries) -> bool:
    """Iterative three-colour DFS (graphs built through the API cannot have cycles; a
    hand-made Node list could)."""
    state = {}
    for head in entries:
        if state.get(head.node) == 2:
            continue
        stack = [(head.node, 0)]
        state[head.node] = 1
        while stack:
            node, i = stack[-1]
            if i < len(node.inputs):
                stack[-1] = (node, i + 1)
                child = node.inputs[i].node
                if state.get(child) == 1:
                    return True
                if child not in state:
                    state[child] = 1
                    stack.append((child, 0))
            else:
                state[node] = 2
                stack.pop()
    return False


__all__ = ["dfs_postorder", "users", "aux_variables", "rebuild", "rebuild_entries",
           "pinned_arguments", "to_networkx", "lint"]
