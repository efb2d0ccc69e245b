"""What every view of a graph reads: nodes in MXNet's order with their role, label, colour,
output shapes and parameter counts, decided from graph structure and the registry.

Roles (structure, never name suffixes): a variable feeding an aux slot is an ``aux``
state; one feeding an argument slot other than the first that is not a no-gradient slot
(labels) is a ``param``; any other variable is ``data`` (inputs, labels)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..core.ir import dfs_postorder
from ..core.shape import shape_entries

VARIABLE_COLOR = "#8dd3c7"
AUX_COLOR = "#d9d9d9"


@dataclass
class ViewNode:
    """One node as the pictures and the summary show it: role, label, colour, shapes and
    parameter counts, read from the registry."""
    node: object
    name: str
    op: str                          # "null" for variables
    role: str                        # "op", "data", "param", "aux"
    label: str
    color: str
    shapes: list = field(default_factory=list)    # output shapes (None when unknown)
    params: int = 0                  # trainable parameter elements of this op
    aux: int = 0                     # aux-state elements of this op
    inputs: list = field(default_factory=list)    # (ViewNode, output index, slot name)
    unknown: bool = False            # an op not in the registry (viz.opaque): drawn grey
    key: str = ""                    # unique among the views: the name, or name#k for the
                                     # k-th repeat (only variables must have unique names)


def num_elements(shape) -> int:
    """Elements of a shape (1 for a 0-d shape), 0 when unknown."""
    if shape is None or None in shape:
        return 0
    n = 1
    for d in shape:
        n *= d
    return n


def describe(symbol, shape: dict | None = None) -> list:
    """ViewNodes for every node of ``symbol``, in MXNet's (DFS) order."""
    nodes = dfs_postorder(symbol.entries)
    state = shape_entries(symbol, (), shape)[0] if shape else {}
    roles = {}
    for n in nodes:
        if n.is_variable:
            continue
        aux_slots = set(n.aux_slots())
        blocked = set(n.op.no_grad_inputs)
        names = n.op.input_names()
        for i, e in enumerate(n.inputs):
            v = e.node
            if not v.is_variable:
                continue
            if i in aux_slots:
                roles[v] = "aux"
            elif i > 0 and names[i] not in blocked and roles.get(v) != "aux":
                roles.setdefault(v, "param")
            else:
                roles[v] = roles.get(v) if roles.get(v) in ("aux", "param") else "data"
    views, seen = {}, {}
    for n in nodes:
        if n.is_variable:
            role = roles.get(n, "data")
            v = ViewNode(n, n.name, "null", role, n.name,
                         AUX_COLOR if role == "aux" else VARIABLE_COLOR,
                         [state.get((n, 0))])
        else:
            unknown = getattr(n.op, "unknown", False)
            label = n.op.label(n.name)
            if unknown:     # its op name and attributes: all we know of it
                shown = ["%s=%s" % kv for kv in n.attrs.items() if not kv[0].startswith("__")]
                label = "\n".join([n.op.op_name] + shown) if shown else label
            v = ViewNode(n, n.name, n.op.op_name, "op", label, n.op.color,
                         [state.get((n, j)) for j in range(n.num_outputs())], unknown=unknown)
            names = n.op.input_names()
            for i, e in enumerate(n.inputs):
                src = views[e.node]
                v.inputs.append((src, e.index, names[i]))
                if src.role == "param":
                    v.params += num_elements(state.get((e.node, 0)))
                elif src.role == "aux":
                    v.aux += num_elements(state.get((e.node, 0)))
        seen[n.name] = seen.get(n.name, -1) + 1
        v.key = n.name if seen[n.name] == 0 else "%s#%d" % (n.name, seen[n.name])
        views[n] = v
    return [views[n] for n in nodes]


def fmt_shape(shape) -> str:
    """MXNet's shape text in viz: without the batch axis, joined by 'x'."""
    if not shape:
        return ""
    return "x".join(str(d) for d in shape[1:])
