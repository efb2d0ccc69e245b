"""Common-subexpression elimination, as MXNet's executor runs it at bind
(``MXNET_ELIMINATE_COMMON_EXPR``, on by default): nodes of the same op with the same
attributes and the same inputs are one node.

Only ops whose outputs depend on nothing but their params and inputs are merged
(``Op.deterministic()``: not Dropout, not rrelu, not Custom, not ops updating aux states), and
ops without inputs never are (MXNet's rule).  Merging can make two heads one entry; as in
MXNet, each repeat then gets a copy node (of the op declaring ``copies``: ``_copy``) named
``<node>_<k>_copy``, so that the outputs stay distinct arrays.
"""
from __future__ import annotations

from .graph import rebuild_entries
from .ir import Entry, Node
from .registry import REGISTRY


def _key(node: Node, inputs) -> tuple:
    return (node.op.op_name, tuple(sorted(node.attrs.items())),
            tuple((id(e.node), e.index) for e in inputs))


def _merge_once(entries):
    """(new head entries, whether any node was merged): one sweep in depth-first order."""
    seen: dict = {}
    merged = []

    def transform(node, inputs):
        if node.is_variable or not node.inputs or not node.op.deterministic():
            return None
        key = _key(node, inputs)
        for other in seen.get(key, ()):
            if other.op == node.op:
                merged.append(node)
                return [Entry(other, i) for i in range(other.num_outputs())]
        # kept: rewired to the merged inputs (then a new node); later twins point at it
        same = all(a.node is b.node and a.index == b.index for a, b in zip(inputs, node.inputs))
        kept = node if same else Node(node.op, node.name, inputs, dict(node.attrs))
        seen.setdefault(key, []).append(kept)
        return [Entry(kept, i) for i in range(kept.num_outputs())]

    return rebuild_entries(entries, transform), bool(merged)


def eliminate_common_expr(symbol):
    """A copy of ``symbol`` with its common subexpressions merged (the first node in
    depth-first order is kept); the input graph is not changed.  Sweeps repeat until
    nothing merges, each inserting copies for repeated heads: the copies of one entry are
    themselves twins, so a third repeat ends up as ``<node>_0_copy_0_copy``, as in MXNet."""
    copy = next(cls for cls in REGISTRY.values() if cls.copies)
    entries = list(symbol.entries)
    while True:
        entries, merged = _merge_once(entries)
        if not merged:
            break
        heads, repeats = [], {}
        for e in entries:
            k = repeats.get((id(e.node), e.index))
            repeats[(id(e.node), e.index)] = 0 if k is None else k + 1
            if k is not None:
                e = Entry(Node(copy.create({}), "%s_%d_copy" % (e.node.name, k), (e,), {}), 0)
            heads.append(e)
        entries = heads
    return type(symbol)(entries)


__all__ = ["eliminate_common_expr"]
