"""Reverse-mode differentiation over an executor's plan.

Gradient facts come from the op declarations, so blocking is graph pruning, not arithmetic:

* an entry *wants* a gradient when it is an argument with ``grad_req != 'null'``, or an
  output (not in the op's ``no_grad_outputs``) of a node with at least one argument slot
  (not in ``no_grad_inputs``) whose entry wants one.  Aux slots never do.
* only nodes whose outputs want a gradient run backward (the *grad path*); everything else
  is never computed (MXNet's ``zero_ops``, tinygrad's "in target path").
* "no gradient" is ``None`` all the way: a node whose incoming gradients are all ``None`` is
  skipped (unless it is a loss head, which makes its own gradient).
"""
from __future__ import annotations

import functools

import numpy as np

from ..core.dtype import real_array
from ..core.errors import BindError, OpError


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


def _accumulate(grads, owned, slot, g):
    """grads[slot] += g without writing into arrays we do not own (an op may return its
    head gradient or a saved array unchanged)."""
    if slot not in grads:
        grads[slot] = g
        return
    if slot in owned:
        np.add(grads[slot], g, out=grads[slot])
    else:
        grads[slot] = grads[slot] + g
        owned.add(slot)


def backward_steps(plan, wants: set, on_path: list) -> list:
    """Per grad-path node, in reverse order, what the backward loop needs (built once at bind):
    (node index, bound backward, slots of gradient-carrying outputs, loss head?, and the
    (argument position, slot) pairs whose gradient is wanted)."""
    steps = []
    for i in reversed(on_path):
        node = plan.op_nodes[i]
        op = node.op
        outs = op.output_names()
        gout = tuple(s for j, s in enumerate(plan.out_slots[i]) if outs[j] not in op.no_grad_outputs)
        names = op.arguments()
        gin = tuple((k, plan.in_slots[i][k]) for k, n in enumerate(names)
                    if n not in op.no_grad_inputs and plan.in_slots[i][k] in wants)
        bwd = op.backward
        if op.backward_need:
            wanted = {k for k, _ in gin}
            bwd = functools.partial(bwd, need=tuple(k in wanted for k in range(len(names))))
        steps.append((i, bwd, gout, op.head_grad == "ignore", gin, len(names)))
    return steps


def direct_out(plan, steps, grads_so_far, buffers: dict):
    """``out=`` for the last backward step: the final gradient buffers of its argument
    inputs that receive no other gradient.  Written in place, they save a full copy; only
    the last step may, so that a failure in any earlier step leaves every buffer untouched."""
    i, _, _, _, gin, n_args = steps[-1]
    node = plan.op_nodes[i]
    if not gin:
        return None
    if not node.op.backward_out:
        return None
    slots = [s for _, s in gin]
    out = [None] * n_args
    for k, slot in gin:
        if slot in buffers and slot not in grads_so_far and slots.count(slot) == 1:
            out[k] = buffers[slot]
    return tuple(out) if any(o is not None for o in out) else None


def run_backward(plan, saved, head_grads: dict, steps: list, check: bool, buffers=None) -> dict:
    """Gradients of the argument slots: ``{slot: array}`` (slots with no gradient absent).

    ``head_grads`` maps head slots to the user's head gradients; ``saved`` maps op-node
    indices to what their forward saved; ``check`` verifies every gradient's shape (done on
    an executor's first backward: shapes do not change after that).  ``buffers`` maps
    argument slots to final gradient buffers the last step may write into (``direct_out``)."""
    grads, owned = dict(head_grads), set()
    pop = grads.pop
    last = steps[-1][0] if (steps and buffers) else None
    for i, bwd, gout, is_loss, gin, n_args in steps:
        try:
            if len(gout) == 1:                      # the common case: one call, no packing
                g = pop(gout[0], None)
                if g is None and not is_loss:
                    continue
                if i != last:
                    in_grads = bwd(saved[i], g)
                else:
                    in_grads = _last_step(plan, steps, grads, buffers, bwd, saved[i], (g,))
            else:
                ogs = [pop(s, None) for s in gout]
                if not is_loss and all(g is None for g in ogs):
                    continue
                if i != last:
                    in_grads = bwd(saved[i], *ogs)
                else:
                    in_grads = _last_step(plan, steps, grads, buffers, bwd, saved[i], ogs)
        except Exception as exc:
            node = plan.op_nodes[i]
            raise OpError("backward of %s failed: %s: %s\n  while executing %s"
                          % (node.describe(), type(exc).__name__, exc, node.line())) from exc
        if check:
            _check_grads(plan, i, in_grads, n_args)
        for k, slot in gin:
            g = in_grads[k]
            if g is None:
                continue
            if slot in grads:
                _accumulate(grads, owned, slot, g)
            else:
                grads[slot] = g
    return {s: grads[s] for s in plan.arg_slot.values() if s in grads}


class AtNode(Exception):
    """An op's exception inside compiled code, with the failing node's index."""

    def __init__(self, index, exc):
        super().__init__(index, exc)
        self.index, self.exc = index, exc


def straight_line(signature: str, body: list, ns: dict, label: str):
    """Compile generated code: ``def run(<signature>)`` executing ``body`` (lines indented
    relative to the function body, with ``cur`` set to each node's index before its call),
    any exception re-raised as ``AtNode(cur, exc)``.  ``ns`` holds the names it uses."""
    src = ("def run(%s):\n    cur = -1\n    try:\n" % signature
           + "\n".join("        " + line for line in body)
           + "\n    except Exception as exc:\n        raise AtNode(cur, exc) from None\n")
    ns["AtNode"] = AtNode
    exec(compile(src, "<symnorm %s>" % label, "exec"), ns)
    return ns["run"]


def compile_backward(plan, steps: list):
    """``run_backward`` (without the shape check) unrolled for this plan into straight-line
    Python: gradients in local variables, accumulation code only for slots that receive
    more than one contribution.  ``run(saved, head_grads, buffers)`` returns what
    ``run_backward`` returns and raises ``AtNode`` when an op fails."""
    ns = {"np_add": np.add}
    contributions = {}
    for _, _, _, _, gin, _ in steps:
        for _, slot in gin:
            contributions[slot] = contributions.get(slot, 0) + 1
    heads = set(plan.head_slots)
    for s in heads:
        contributions[s] = contributions.get(s, 0) + 1
    used = sorted(set(contributions) | {s for st in steps for s in st[2]})
    body = ["g%d = heads.get(%d)" % (s, s) if s in heads else "g%d = None" % s for s in used]
    body += ["o%d = False" % s for s in used if contributions.get(s, 0) > 1]
    last = steps[-1][0] if steps else None
    for i, bwd, gout, is_loss, gin, n_args in steps:
        ns["b%d" % i] = bwd
        body.append("cur = %d" % i)
        ogs = ", ".join("t%d" % j for j in range(len(gout)))
        for j, s in enumerate(gout):
            body += ["t%d = g%d" % (j, s), "g%d = None" % s]      # taken (and freed)
        cond = "True" if is_loss else " or ".join("t%d is not None" % j for j in range(len(gout)))
        body.append("if %s:" % cond)
        call = "b%d(saved[%d], %s)" % (i, i, ogs)
        slots = [s for _, s in gin]
        direct = [(k, s) for k, s in gin if slots.count(s) == 1]
        if i == last and direct and plan.op_nodes[i].op.backward_out:
            # the last step may write straight into final gradient buffers (direct_out)
            outs = ["None"] * n_args
            for k, s in direct:
                outs[k] = "(buffers.get(%d) if g%d is None else None)" % (s, s)
            body += ["    if buffers:",
                     "        out = (%s,)" % ", ".join(outs),
                     "        r = b%d(saved[%d], %s, out=out) if any(x is not None for x in out) else %s"
                     % (i, i, ogs, call),
                     "    else:",
                     "        r = " + call]
        else:
            body.append("    r = " + call)
        for k, s in gin:
            if contributions[s] == 1:
                body.append("    g%d = r[%d]" % (s, k))
                continue
            body += ["    x = r[%d]" % k,
                     "    if x is not None:",
                     "        if g%d is None:" % s,
                     "            g%d = x" % s,
                     "        elif o%d:" % s,
                     "            np_add(g%d, x, out=g%d)" % (s, s),
                     "        else:",
                     "            g%d = g%d + x" % (s, s),
                     "            o%d = True" % s]
    result = ", ".join("%d: g%d" % (s, s) for s in sorted(set(plan.arg_slot.values())) if s in contributions)
    body.append("return {k: v for k, v in {%s}.items() if v is not None}" % result)
    return straight_line("saved, heads, buffers", body, ns, "backward plan")


def _last_step(plan, steps, grads, buffers, bwd, saved, ogs):
    out = direct_out(plan, steps, grads, buffers)
    return bwd(saved, *ogs) if out is None else bwd(saved, *ogs, out=out)


def _check_grads(plan, i, in_grads, n_args):
    node = plan.op_nodes[i]
    names = node.op.arguments()
    if len(in_grads) != n_args:
        raise OpError("backward of %s returned %d gradients for %d arguments"
                      % (node.describe(), len(in_grads), n_args))
    for k, g in enumerate(in_grads):
        slot = plan.in_slots[i][k]
        if g is not None and g.shape != plan.slot_shape[slot]:
            raise OpError("backward of %s returned a gradient of shape %s for input %r of "
                          "shape %s" % (node.describe(), g.shape, names[k], plan.slot_shape[slot]))


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
