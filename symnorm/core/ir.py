"""The graph IR's two data types and its canonical traversal.

A ``Node`` is a Variable (``op is None``) or an op applied to input entries; an ``Entry``
names one output of a node.  Nodes are built bottom-up and never rewired, so a graph cannot
contain a cycle; node identity is object identity.  The only mutable part is a node's dict
of *user* attributes (MXNet mutates attributes in place too); op parameters are frozen in
the op.  ``Symbol`` (``symbol.py``) is what users hold: a tuple of entries with MXNet's
methods.

``dfs_postorder`` is NNVM's DFSVisit: from the heads in order, each node after its inputs,
inputs visited in slot order.  That one order is used by JSON node ids, ``list_arguments()``,
the executor plan and the DOT output, so all of them agree with MXNet.

Everything else in symnorm builds on this module; it imports nothing above it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from .errors import where
from .registry import Op


class Entry(NamedTuple):
    """One output of a node: ``(node, index)``."""
    node: "Node"
    index: int


@dataclass(frozen=True, eq=False)
class Node:
    """A Variable (``op is None``) or an op applied to input entries.

    ``attrs`` holds MXNet's string attributes: the explicitly given op params, and the
    dunder attributes (``__shape__``, ``__lr_mult__``, ``__init__``...)."""
    op: Op | None
    name: str
    inputs: tuple = ()
    attrs: dict = field(default_factory=dict)

    @property
    def is_variable(self) -> bool:
        return self.op is None

    @property
    def op_name(self) -> str | None:
        return None if self.op is None else self.op.op_name

    def _output_names(self) -> tuple:
        # computed once per node: an op may have up to 65536 outputs (SliceChannel), and
        # every entry naming this node asks for them (lint, load_json, list_outputs)
        names = self.__dict__.get("_out_names")
        if names is None:
            names = self.op.output_names()
            object.__setattr__(self, "_out_names", names)
        return names

    def num_outputs(self) -> int:
        """All outputs, hidden ones included (BatchNorm: 3)."""
        return 1 if self.op is None else len(self._output_names())

    def num_visible(self) -> int:
        """Outputs a Symbol of this node exposes (1, or 3 for BatchNorm with output_mean_var)."""
        return 1 if self.op is None else self.op.num_visible_outputs()

    def output_name(self, index: int) -> str:
        """``<node>_<output>`` for ops, the name itself for a variable."""
        if self.op is None:
            return self.name
        return "%s_%s" % (self.name, self._output_names()[index])

    def aux_slots(self) -> range:
        """Input positions that hold aux states (mutated, never differentiated)."""
        if self.op is None:
            return range(0)
        slots = self.__dict__.get("_aux_slots")        # once per node, as _output_names
        if slots is None:
            n = len(self.op.arguments())
            slots = range(n, n + len(self.op.aux))
            object.__setattr__(self, "_aux_slots", slots)
        return slots

    def describe(self) -> str:
        """``"BatchNorm 'bn'"``: how messages name this node."""
        return where(self.op_name, self.name)

    def line(self) -> str:
        """One line of the text listing: ``%bn = BatchNorm[...](%data, ... | aux: ...)``."""
        if self.op is None:
            extra = {k: v for k, v in self.attrs.items() if k in ("__shape__", "__dtype__")}
            return "%%%s = Variable%s" % (self.name, "[%s]" % ", ".join(
                "%s=%s" % (k.strip("_"), v) for k, v in extra.items()) if extra else "")

        def ref(e):
            return "%" + e.node.name + ("" if e.node.num_outputs() == 1 else "[%d]" % e.index)
        args = [ref(e) for i, e in enumerate(self.inputs) if i not in self.aux_slots()]
        aux = [ref(self.inputs[i]) for i in self.aux_slots()]
        return "%%%s = %s(%s%s)" % (self.name, self.op.text(), ", ".join(args),
                                   (" | aux: " + ", ".join(aux)) if aux else "")


def dfs_postorder(entries) -> list:
    """Every node reachable from ``entries``, inputs before users (iterative: no recursion limit)."""
    order, seen = [], set()
    for head in entries:
        if head.node in seen:
            continue
        stack = [(head.node, 0)]
        seen.add(head.node)
        while stack:
            node, i = stack[-1]
            if i < len(node.inputs):
                stack[-1] = (node, i + 1)
                child = node.inputs[i].node
                if child not in seen:
                    seen.add(child)
                    stack.append((child, 0))
            else:
                stack.pop()
                order.append(node)
    return order


def aux_variables(nodes) -> set:
    """The variables among ``nodes`` that feed an aux slot (BatchNorm's moving_mean and
    moving_var): MXNet's auxiliary states.  Every other variable is an argument."""
    return {n.inputs[i].node for n in nodes for i in n.aux_slots()}


def users(nodes) -> dict:
    """node -> list of (user node, input slot) in order."""
    out = {n: [] for n in nodes}
    for n in nodes:
        for slot, e in enumerate(n.inputs):
            out[e.node].append((n, slot))
    return out


__all__ = ["Entry", "Node", "dfs_postorder", "aux_variables", "users"]
