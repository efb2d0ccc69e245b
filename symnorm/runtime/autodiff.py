"""Reverse-mode differentiation over an executor's plan.

Gradient facts come from the op declarations, so blocking is graph pruning, not arithmetic:

* an entry *wants* a gradient when it is an argument with ``grad_req != 'null'``, or an
  output (not in the op's ``no_grad_outputs``) of a node with at least one argument slot
  (not in ``no_grad_inputs``) whose entry wants one.  Aux slots never do.
* only nodes whose outputs want a gradient run backward (the *grad path*); everything else
  is never computed (MXNet's ``zero_ops``, tinygrad's "in target path").
* "no gradient" is ``None`` all the way: a node whose incoming gradients are all ``None`` is
  skipped (unless it is a loss head, which makes its own gradient).

The backward steps themselves are ``steps.backward_program``'s records, run by
``interpret.run_backward``.
"""
from __future__ import annotations

from ..core.dtype import real_array
from ..core.errors import BindError


def grad_path(plan, grad_req: dict) -> tuple[set, list]:
    """(slots that want a gradient, op-node indices on the grad path in forward order)."""
    wants = set()
    for name, slot in plan.arg_slot.items():
        if grad_req.get(name, "null") != "null":
            wants.add(slot)
    on_path = []
    for i, node in enumerate(plan.op_nodes):
        op = node.op
        blocked = set(op.no_grad_inputs)
        names = op.arguments()
        if any(plan.in_slots[i][k] in wants for k, n in enumerate(names) if n not in blocked):
            on_path.append(i)
            outs = node.op.output_names()       # once: SliceChannel may have 65536
            for j, s in enumerate(plan.out_slots[i]):
                if outs[j] not in op.no_grad_outputs:
                    wants.add(s)
    return wants, on_path


def head_gradients(plan, out_grads, wants) -> dict:
    """Normalize ``backward(out_grads)`` into ``{head slot: array}``; check what is needed.

    A list gives one gradient per output (surplus ignored, as MXNet does), a single array
    the first output's, a dict maps output names.  Loss heads need none and ignore any."""
    names = plan.output_names
    if out_grads is None:
        given = {}
    elif isinstance(out_grads, dict):
        unknown = [k for k in out_grads if k not in names]
        if unknown:
            raise BindError("backward: out_grads names unknown output(s) %s; outputs are: %s"
                            % (", ".join(map(repr, unknown)), ", ".join(names)))
        given = {names.index(k): v for k, v in out_grads.items()}
    elif isinstance(out_grads, (list, tuple)):
        given = dict(enumerate(out_grads[:len(names)]))
    else:
        given = {0: out_grads}
    result = {}
    for k, (node, slot) in enumerate(zip(plan.head_nodes, plan.head_slots)):
        if node.op is not None and node.op.head_grad == "ignore":
            continue                     # a loss makes its own gradient
        if slot not in wants:
            continue                     # nothing upstream wants a gradient (or blocked output)
        g = given.get(k)
        if g is None:
            raise BindError(
                "backward: output %r (%s) needs a head gradient: the last operator is not a "
                "loss function, so out_grads is required when calling backward (pass "
                "out_grads=[...] with one array per output)" % (names[k], node.describe()))
        g = real_array(g, "backward: head gradient for output %r" % names[k])
        if g.shape != plan.slot_shape[slot]:
            raise BindError("backward: head gradient for output %r has shape %s, expected %s"
                            % (names[k], g.shape, plan.slot_shape[slot]))
        dt = plan.slot_dtype[slot]
        g = g.astype(dt, copy=False)
        if slot in result:
            result[slot] = result[slot] + g
        else:
            result[slot] = g
    return result
