"""Planning: what an executor computes, decided once at bind.

``Plan.build`` numbers every entry (one output of one node) with an integer *slot*, orders
the op nodes (MXNet's DFS order), and decides memory: which slots die after which node
(liveness) and which nodes may write their output into their dying first input (in-place).
``Plan.build`` also chooses the kernel each node runs with (``symnorm.runtime.kernels``),
and ``build_plan`` adds the optional batch-last kernels
(``symnorm.runtime.kernels.batch_last``).  The
inference helpers here turn a symbol and the shapes/types it is bound with into the
per-entry shapes and types a plan needs, with bind's error messages.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..core.errors import BindError
from ..core.graph import pinned_arguments
from ..core.ir import aux_variables, dfs_postorder
from ..core.shape import shape_entries, type_entries
from .kernels import batch_last as layout
from .kernels import choose


@dataclass(frozen=True)
class Plan:
    """Everything the executor needs, computed once at bind.

    Every entry (one output of one node) gets an integer *slot* in a value list.  ``op_nodes``
    is the execution order (MXNet's DFS order); ``in_slots``/``out_slots`` wire them;
    ``free_after[i]`` lists the slots whose last reader is op node ``i`` (released then
    unless they are outputs or bound arrays)."""
    symbol: object
    op_nodes: tuple
    in_slots: tuple
    out_slots: tuple
    arg_slot: dict          # argument name -> slot
    aux_slot: dict          # aux name -> slot
    head_slots: tuple
    head_nodes: tuple
    output_names: tuple
    slot_shape: tuple
    slot_dtype: tuple
    free_after: tuple
    pinned: tuple           # (arg name, value) pairs written at each forward (fix_gamma)
    inplace: tuple          # per op node: may its output overwrite its first input? (inference)
    inplace_train: tuple    # ... also when training (the backward state survives it)
    ops: tuple              # per op node: its op, completed from the inferred shapes
    kernels: tuple          # per op node: the kernel it runs with (``kernels.choose``)
    layouts: tuple          # per op node: the layout its kernel stores tensors in
    states: tuple           # per op node: what its kernel runs (``Kernel.state``: prepared once)

    @staticmethod
    def build(symbol, shapes: dict, dtypes: dict, chosen: dict | None = None,
              use_reference: bool = False) -> "Plan":
        """The plan of ``symbol`` with these per-entry shapes/dtypes; ``chosen``: kernels
        already chosen for some nodes (the batch-last pass's), ``use_reference``: run
        every other node with its op's reference forward/backward."""
        nodes = dfs_postorder(symbol.entries)
        slot_of, shape_l, dtype_l = {}, [], []
        for n in nodes:
            for j in range(n.num_outputs()):
                slot_of[(n, j)] = len(shape_l)
                shape_l.append(shapes[(n, j)])
                dtype_l.append(np.dtype(dtypes[(n, j)]))
        aux_vars = aux_variables(nodes)
        arg_slot = {n.name: slot_of[(n, 0)] for n in nodes if n.is_variable and n not in aux_vars}
        aux_slot = {n.name: slot_of[(n, 0)] for n in nodes if n in aux_vars}
        op_nodes = tuple(n for n in nodes if not n.is_variable)
        chosen = chosen or {}
        ops = tuple(n.op.complete(tuple(shapes[(n, j)] for j in range(n.num_outputs())))
                    for n in op_nodes)
        kernels = tuple(chosen.get(n) or choose(op, use_reference=use_reference)
                        for n, op in zip(op_nodes, ops))
        layouts = tuple("batch_last" if n in chosen else "standard" for n in op_nodes)
        in_slots = tuple(tuple(slot_of[(e.node, e.index)] for e in n.inputs) for n in op_nodes)
        out_slots = tuple(tuple(slot_of[(n, j)] for j in range(n.num_outputs())) for n in op_nodes)
        head_slots = tuple(slot_of[(e.node, e.index)] for e in symbol.entries)
        keep = set(head_slots) | set(arg_slot.values()) | set(aux_slot.values())
        free_after = _liveness(op_nodes, in_slots, out_slots, keep)
        inplace, inplace_train = _inplace(op_nodes, kernels, in_slots, out_slots, free_after,
                                          keep, shape_l, dtype_l)
        pinned = [(k, v) for k, v in pinned_arguments(symbol).items() if k in arg_slot]
        return Plan(symbol, op_nodes, in_slots, out_slots, arg_slot, aux_slot, head_slots,
                    tuple(e.node for e in symbol.entries), tuple(symbol.list_outputs()),
                    tuple(shape_l), tuple(dtype_l), free_after, tuple(pinned), inplace,
                    inplace_train, ops, kernels, layouts,
                    tuple(k.state(op, lay, tuple(shape_l[s] for s in ins))
                          for k, op, lay, ins in zip(kernels, ops, layouts, in_slots)))

    def kernel_of(self, name: str):
        """The kernel the op node called ``name`` runs with."""
        return self.kernels[self._index(name)]

    def layout_of(self, name: str) -> str:
        """The layout the op node called ``name`` stores its tensors in."""
        return self.layouts[self._index(name)]

    def _index(self, name):
        for i, n in enumerate(self.op_nodes):
            if n.name == name:
                return i
        raise KeyError(name)


def _liveness(op_nodes, in_slots, out_slots, keep) -> tuple:
    """Per op node, the slots it reads last (or writes and nobody reads): released after it."""
    last = {}
    for i, ins in enumerate(in_slots):
        for s in ins:
            last[s] = i
    free_after = [[] for _ in op_nodes]
    for s, i in last.items():
        if s not in keep:
            free_after[i].append(s)
    for i, outs in enumerate(out_slots):       # outputs nobody reads (hidden BN outputs)
        free_after[i].extend(s for s in outs if s not in last and s not in keep)
    return tuple(tuple(f) for f in free_after)


def _inplace(op_nodes, kernels, in_slots, out_slots, free_after, keep, shape_l, dtype_l):
    """(inference, training) flags per op node: may its kernel write its output into its
    first input?  Only into a buffer it owns: made fresh by a kernel, dying here, read once
    by it, of the output's shape and dtype."""
    producer = {s: i for i, outs in enumerate(out_slots) for s in outs}
    inplace = []
    for i, n in enumerate(op_nodes):
        ok = False
        if kernels[i].writes_into_input and n.inputs:
            s0 = in_slots[i][0]
            src = producer.get(s0)
            ok = (src is not None and kernels[src].fresh_outputs and s0 in free_after[i]
                  and s0 not in keep and in_slots[i].count(s0) == 1
                  and shape_l[s0] == shape_l[out_slots[i][0]]
                  and dtype_l[s0] == dtype_l[out_slots[i][0]])
        inplace.append(ok)
    # in training other readers of the input may have saved it for their backward:
    # only a sole reader may overwrite it
    readers = {}
    for ins in in_slots:
        for s in set(ins):
            readers[s] = readers.get(s, 0) + 1
    inplace_train = tuple(ok and readers[in_slots[i][0]] == 1
                          and kernels[i].inplace_in_training_of(n.op)
                          and not kernels[producer[in_slots[i][0]]].keeps_output_of(
                              op_nodes[producer[in_slots[i][0]]].op)
                          for i, (n, ok) in enumerate(zip(op_nodes, inplace)))
    return tuple(inplace), inplace_train


def nbytes(plan, s) -> int:
    """Bytes of slot ``s``'s value."""
    return int(np.prod(plan.slot_shape[s])) * plan.slot_dtype[s].itemsize


def inference_liveness(plan):
    """(peak live activation buffers, peak bytes) of an inference forward, from the plan."""
    live, peak, peak_bytes, cur = set(), 0, 0, 0
    for i in range(len(plan.op_nodes)):
        for s in plan.out_slots[i]:
            live.add(s)
            cur += nbytes(plan, s)
        peak, peak_bytes = max(peak, len(live)), max(peak_bytes, cur)
        for s in plan.free_after[i]:
            if s in live:
                live.discard(s)
                cur -= nbytes(plan, s)
    return peak, peak_bytes


# ====================================================================== inference for a plan

def infer_for_bind(symbol, shapes: dict, types: dict, where_text: str):
    """(shape state, type state, nodes) of ``symbol`` for these argument shapes/types;
    ``BindError`` naming what stays undecided."""
    state, nodes, _ = shape_entries(symbol, (), shapes)
    missing = [n.name for n in nodes if n.is_variable and
               (state.get((n, 0)) is None or None in state[(n, 0)])]
    if missing:
        raise BindError("%s: cannot decide the shapes of %s; give them as keyword shapes "
                        "(e.g. %s=(...))" % (where_text, ", ".join(missing), missing[0]))
    bad = [n for n in nodes for j in range(n.num_outputs())
           if state.get((n, j)) is None or None in state[(n, j)]]
    if bad:
        raise BindError("%s: cannot decide the output shapes of %s"
                        % (where_text, ", ".join(sorted({n.describe() for n in bad}))))
    tstate, _ = type_entries(symbol, (), types, default=np.float32)
    return state, tstate, nodes


def infer_bound(symbol, arg_dict, aux_dict):
    """(shape state, type state) of ``symbol`` bound to these arrays."""
    shapes = {k: v.shape for k, v in arg_dict.items()}
    shapes.update({k: v.shape for k, v in aux_dict.items()})
    types = {k: v.dtype for k, v in arg_dict.items()}
    state, tstate, _ = infer_for_bind(symbol, shapes, types, "bind")
    return state, tstate


def reference_kernels() -> bool:
    """Whether ``SYMNORM_KERNELS=reference`` asks to run every op with its reference
    forward/backward (debugging a kernel, or reading the plain formulas in a debugger)."""
    return os.environ.get("SYMNORM_KERNELS", "").strip().lower() == "reference"


def build_plan(symbol, state: dict, tstate: dict, layout_pass=None, use_reference=None) -> Plan:
    """The bind-time plan: with batch-last kernels for ``symbol``'s convolution regions
    (``symnorm.runtime.kernels.batch_last``) when the pass is on (``layout_pass``; None =
    ``layout.enabled()``) and finds a region, else for ``symbol`` as it is.
    ``state``/``tstate`` are ``symbol``'s inferred shapes/types; ``use_reference`` runs
    every op with its reference forward/backward (and no batch-last kernels)."""
    if layout_pass is None:
        layout_pass = layout.enabled()
    if use_reference is None:
        use_reference = reference_kernels()
    chosen = {}
    if layout_pass and not use_reference:
        symbol, state, tstate, chosen = layout.to_batch_last(symbol, state, tstate)
    return Plan.build(symbol, state, tstate, chosen, use_reference)


def plan_for_arrays(symbol, arg_dict, aux_dict, layout_pass, use_reference=None) -> Plan:
    """The plan of ``symbol`` bound to these arrays (reshape, a monitor's re-plan)."""
    state, tstate = infer_bound(symbol, arg_dict, aux_dict)
    return build_plan(symbol, state, tstate, layout_pass, use_reference)


__all__ = ["Plan", "build_plan", "plan_for_arrays", "infer_for_bind", "infer_bound",
           "inference_liveness", "nbytes"]
