"""The batch-last layout pass: run regions of convolution and pooling with the batch axis
innermost, ``(N, C, *S)`` stored as ``(C, *S, N)``.

symnorm's convolution works batch-innermost (im2col copies then move runs of OW·N
contiguous elements instead of OW), and pooling's strided window reads are fastest that
way too.  Left alone, every convolution would transpose its input in and its output back
out, and pooling would read NCHW windows with two-element inner runs.  This pass finds the
connected regions of ops that can take batch-last tensors (each op says so in its
declaration: ``Op.batch_last``), keeps those containing an op that gains from it
(``batch_last_gain``: convolution, pooling), and rewrites them to run batch-last, with one
``transpose`` where a region is entered and one where it is left.

The rewritten graph has the same arguments, auxiliary states and outputs (heads are never
inside a region), so the executor uses it for its plan at bind time and nothing outside
changes.  Results equal the channels-first graph's up to float32 summation order.
``SYMNORM_LAYOUT=nchw`` (or ``layout_pass=False`` at bind) turns the pass off.
"""
from __future__ import annotations

import os

from ..core.ir import Entry, Node, dfs_postorder
from ..ops.tensor import transpose
from ..core.params import to_attr_string


def enabled() -> bool:
    """Whether executors apply the pass by default (``SYMNORM_LAYOUT=nchw`` turns it off)."""
    return os.environ.get("SYMNORM_LAYOUT", "").strip().lower() not in ("nchw", "off", "0")


def _layout_slots(node):
    """(input positions, output positions) that carry the data layout for this node's op."""
    op = node.op
    in_names, out_names = op.batch_last_slots()
    ins = tuple(i for i, n in enumerate(op.input_names()) if n in in_names)
    outs = tuple(j for j, n in enumerate(op.output_names()) if n in out_names)
    return ins, outs


def _regions(nodes, heads, shapes):
    """``({node: its batch-last op}, {node: (layout input positions, output positions)})``
    for the nodes of every region worth rewriting."""
    twin, slots = {}, {}
    for n in nodes:
        if n.is_variable or n in heads:
            continue
        ins, outs = _layout_slots(n)
        if not ins or not outs:
            continue
        ranks = {len(shapes[(n.inputs[i].node, n.inputs[i].index)]) for i in ins}
        ranks |= {len(shapes[(n, j)]) for j in outs}
        if len(ranks) != 1 or min(ranks) < 3:
            continue
        op = n.op.batch_last(ranks.pop())
        if op is not None:
            twin[n], slots[n] = op, (ins, outs)
    # connected components through layout-carrying edges (union-find)
    parent = {n: n for n in twin}

    def root(n):
        while parent[n] is not n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n
    for n in twin:
        for i in slots[n][0]:
            e = n.inputs[i]
            if e.node in twin and e.index in slots[e.node][1]:
                parent[root(n)] = root(e.node)
    gain = {root(n) for n in twin if twin[n].batch_last_gain}
    return {n: op for n, op in twin.items() if root(n) in gain}, slots


def _unique(name, taken):
    k, candidate = 0, name
    while candidate in taken:
        k += 1
        candidate = "%s%d" % (name, k)
    taken.add(candidate)
    return candidate


def _transposed(entry, axes, name, taken):
    op = transpose.create({"axes": axes})
    node = Node(op, _unique(name, taken), (entry,), {"axes": to_attr_string(op.axes)})
    return Entry(node, 0)


def to_batch_last(symbol, shapes: dict):
    """``symbol`` with its convolution/pooling regions rewritten batch-last (or ``symbol``
    itself when there is nothing to gain).  ``shapes`` maps ``(node, output index)`` to
    the inferred shapes of ``symbol`` (the executor's bind-time inference)."""
    nodes = dfs_postorder(symbol.entries)
    heads = {e.node for e in symbol.entries}
    region, slots = _regions(nodes, heads, shapes)
    if not region:
        return symbol
    taken = {n.name for n in nodes}
    mapping = {}                 # old node -> new entries (batch-last for region outputs)
    entering, leaving = {}, {}   # caches: one transpose per (old entry) each way

    def batch_last_entry(e):     # an old entry's value, batch-last
        if e.node in region and e.index in slots[e.node][1]:
            return mapping[e.node][e.index]
        key = (e.node, e.index)
        if key not in entering:
            rank = len(shapes[key])
            entering[key] = _transposed(mapping[e.node][e.index], tuple(range(1, rank)) + (0,),
                                        "%s_to_batch_last" % e.node.name, taken)
        return entering[key]

    def channels_first_entry(e):  # an old entry's value, as the original graph has it
        new = mapping[e.node][e.index]
        if not (e.node in region and e.index in slots[e.node][1]):
            return new
        key = (e.node, e.index)
        if key not in leaving:
            rank = len(shapes[key])
            leaving[key] = _transposed(new, (rank - 1,) + tuple(range(rank - 1)),
                                       "%s_to_batch_first" % e.node.name, taken)
        return leaving[key]

    for n in nodes:
        if n.is_variable:
            mapping[n] = [Entry(n, 0)]
            continue
        if n in region:
            ins = slots[n][0]
            inputs = tuple(batch_last_entry(e) if i in ins else channels_first_entry(e)
                           for i, e in enumerate(n.inputs))
            op = region[n]
            attrs = dict(n.attrs)
            attrs.update({k: v for k, v in op.param_strings().items()
                          if getattr(op, k) != getattr(n.op, k)})
            new = Node(op, n.name, inputs, attrs)
        else:
            inputs = tuple(channels_first_entry(e) for e in n.inputs)
            same = all(a.node is b.node and a.index == b.index for a, b in zip(inputs, n.inputs))
            new = n if same else Node(n.op, n.name, inputs, dict(n.attrs))
        mapping[n] = [Entry(new, j) for j in range(n.num_outputs())]
    # the same kind of Symbol, built from the rewritten heads (the runtime never imports
    # the Symbol class: it sits above the runtime, whose bind methods call in here)
    return type(symbol)([mapping[e.node][e.index] for e in symbol.entries])


__all__ = ["to_batch_last", "enabled"]
