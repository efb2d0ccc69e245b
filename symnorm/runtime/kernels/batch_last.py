"""The batch-last layout as a kernel choice: run regions of convolution and pooling with
the batch axis innermost, ``(N, C, *S)`` stored as ``(C, *S, N)``.

symnorm's convolution works batch-innermost (im2col copies then move runs of OW·N
contiguous elements instead of OW), and pooling's strided window reads are fastest that
way too.  Left alone, every convolution would transpose its input in and its output back
out.  This pass finds the connected regions of nodes that have a ``batch_last`` kernel
(``symnorm.runtime.kernels.registry``), keeps those containing a kernel that gains from it
(``gain``: convolution, pooling), and marks their nodes to run with those kernels, with
one ``transpose`` node where a region is entered and one where it is left.

The ops themselves are untouched: a node in a region keeps its op and params (nothing of
the layout can reach a JSON file); the plan records the kernel choice, and the stored
shapes of its layout-carrying values are the original shapes with the batch axis moved
last.  The rewritten graph has the same arguments, auxiliary states and outputs (heads are
never inside a region).  Results equal the channels-first graph's up to float32 summation
order.  ``SYMNORM_LAYOUT=nchw`` (or ``layout_pass=False`` at bind) turns the pass off.
"""
from __future__ import annotations

import os

from ...core.ir import Entry, Node, dfs_postorder
from ...core.params import to_attr_string
from ...ops.tensor import transpose
from .registry import choose


def enabled() -> bool:
    """Whether executors apply the pass by default (``SYMNORM_LAYOUT=nchw`` turns it off)."""
    return os.environ.get("SYMNORM_LAYOUT", "").strip().lower() not in ("nchw", "off", "0")


def layout_slots(kernel, op):
    """(input positions, output positions) that carry the data layout for ``op`` run by
    the batch-last ``kernel``."""
    in_names, out_names = kernel.slots(op)
    ins = tuple(i for i, n in enumerate(op.input_names()) if n in in_names)
    outs = tuple(j for j, n in enumerate(op.output_names()) if n in out_names)
    return ins, outs


def _regions(nodes, heads, shapes):
    """``({node: its batch-last kernel}, {node: (layout input positions, output
    positions)})`` for the nodes of every region worth running batch-last."""
    chosen, slots = {}, {}
    for n in nodes:
        if n.is_variable or n in heads:
            continue
        k = choose(n.op, "batch_last")
        if k is None:
            continue
        ins, outs = layout_slots(k, n.op)
        if not ins or not outs:
            continue
        ranks = {len(shapes[(n.inputs[i].node, n.inputs[i].index)]) for i in ins}
        ranks |= {len(shapes[(n, j)]) for j in outs}
        if len(ranks) != 1 or min(ranks) < 3:
            continue
        chosen[n], slots[n] = k, (ins, outs)
    # connected components through layout-carrying edges (union-find)
    parent = {n: n for n in chosen}

    def root(n):
        while parent[n] is not n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n
    for n in chosen:
        for i in slots[n][0]:
            e = n.inputs[i]
            if e.node in chosen and e.index in slots[e.node][1]:
                parent[root(n)] = root(e.node)
    gain = {root(n) for n in chosen if chosen[n].gain}
    return {n: k for n, k in chosen.items() if root(n) in gain}, slots


def _unique(name, taken):
    k, candidate = 0, name
    while candidate in taken:
        k += 1
        candidate = "%s%d" % (name, k)
    taken.add(candidate)
    return candidate


def to_batch_last_shape(shape) -> tuple:
    return tuple(shape[1:]) + tuple(shape[:1])


def to_batch_last(symbol, shapes: dict, dtypes: dict):
    """``(symbol, shapes, dtypes, kernels)`` with ``symbol``'s convolution/pooling regions
    marked batch-last: the graph with the boundary transposes, the stored shape and dtype
    of each of its entries, and ``{node: batch-last kernel}`` for the region's nodes.
    Returns ``symbol`` itself (and the given shapes/dtypes, no kernels) when there is
    nothing to gain.  ``shapes``/``dtypes`` map ``(node, output index)`` to ``symbol``'s
    inferred shapes and dtypes (the executor's bind-time inference)."""
    nodes = dfs_postorder(symbol.entries)
    heads = {e.node for e in symbol.entries}
    region, slots = _regions(nodes, heads, shapes)
    if not region:
        return symbol, shapes, dtypes, {}
    taken = {n.name for n in nodes}
    mapping = {}                 # old node -> new entries (batch-last for region outputs)
    new_shapes, new_dtypes, kernels = {}, {}, {}
    entering, leaving = {}, {}   # caches: one transpose per (old entry) each way

    def transposed(e_new, key, axes, name):
        op = transpose.create({"axes": axes})
        node = Node(op, _unique(name, taken), (e_new,), {"axes": to_attr_string(op.axes)})
        src = new_shapes[(e_new.node, e_new.index)]
        new_shapes[(node, 0)] = tuple(src[a] for a in axes)
        new_dtypes[(node, 0)] = dtypes[key]
        return Entry(node, 0)

    def batch_last_entry(e):     # an old entry's value, batch-last
        if e.node in region and e.index in slots[e.node][1]:
            return mapping[e.node][e.index]
        key = (e.node, e.index)
        if key not in entering:
            rank = len(shapes[key])
            entering[key] = transposed(mapping[e.node][e.index], key, tuple(range(1, rank)) + (0,),
                                       "%s_to_batch_last" % e.node.name)
        return entering[key]

    def channels_first_entry(e):  # an old entry's value, as the original graph has it
        new = mapping[e.node][e.index]
        if not (e.node in region and e.index in slots[e.node][1]):
            return new
        key = (e.node, e.index)
        if key not in leaving:
            rank = len(shapes[key])
            leaving[key] = transposed(new, key, (rank - 1,) + tuple(range(rank - 1)),
                                      "%s_to_batch_first" % e.node.name)
        return leaving[key]

    for n in nodes:
        if n.is_variable:
            new = n
        elif n in region:
            ins = slots[n][0]
            new = Node(n.op, n.name, tuple(batch_last_entry(e) if i in ins else channels_first_entry(e)
                                           for i, e in enumerate(n.inputs)), dict(n.attrs))
            kernels[new] = region[n]
        else:
            inputs = tuple(channels_first_entry(e) for e in n.inputs)
            same = all(a.node is b.node and a.index == b.index for a, b in zip(inputs, n.inputs))
            new = n if same else Node(n.op, n.name, inputs, dict(n.attrs))
        outs = slots[n][1] if n in region else ()
        for j in range(n.num_outputs()):
            s = shapes[(n, j)]
            new_shapes[(new, j)] = to_batch_last_shape(s) if j in outs else s
            new_dtypes[(new, j)] = dtypes[(n, j)]
        mapping[n] = [Entry(new, j) for j in range(n.num_outputs())]
    # the same kind of Symbol, built from the rewritten heads (the runtime never imports
    # the Symbol class: it sits above the runtime, whose bind methods call in here)
    fast = type(symbol)([mapping[e.node][e.index] for e in symbol.entries])
    return fast, new_shapes, new_dtypes, kernels


__all__ = ["to_batch_last", "enabled", "layout_slots"]
