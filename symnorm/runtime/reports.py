"""Reports on a bound executor's plan: its memory and its steps, as text."""
from __future__ import annotations

from .plan import inference_liveness, nbytes


def _mib(n):
    return "%.3f MiB" % (n / 2.0 ** 20)


def memory_report(plan, grad_dict: dict) -> str:
    """The planned value buffers of an inference forward: peak live activations, bytes."""
    peak, peak_bytes = inference_liveness(plan)
    bound = set(plan.arg_slot.values()) | set(plan.aux_slot.values())
    params = sum(nbytes(plan, s) for s in bound)
    grads = sum(g.nbytes for g in grad_dict.values() if g is not None)
    lines = ["arguments + aux: %d arrays, %s" % (len(bound), _mib(params)),
             "gradients: %s" % _mib(grads),
             "activations (inference): peak %d live buffers, %s" % (peak, _mib(peak_bytes)),
             "in place (inference): %d of %d op nodes reuse their input's buffer"
             % (sum(plan.inplace), len(plan.op_nodes))]
    return "\n".join(lines)


def _backward_nodes(plan, on_path) -> list:
    """The op nodes on the grad path that a gradient from a head actually reaches (a node
    feeding only BlockGrad is on the path but gets none)."""
    needed, nodes = set(plan.head_slots), []
    for i in sorted(on_path, reverse=True):
        if not any(s in needed for s in plan.out_slots[i]):
            continue
        nodes.append(i)
        op = plan.op_nodes[i].op
        needed.update(plan.in_slots[i][k] for k, name in enumerate(op.arguments())
                      if name not in op.no_grad_inputs)
    return nodes


def step_bytes(plan, on_path) -> int:
    """Bytes of activation memory one step needs beyond the bound arrays (MXNet's "Total N
    MB allocated").  Without a backward (no gradient reaches any op node): the inference
    forward's peak.  With one: every op output (a training forward keeps them for the
    backward) plus the largest backward step's gradient buffers (the gradients of a node's
    outputs and of its inputs made by other nodes are live together)."""
    backward = _backward_nodes(plan, on_path)
    if not backward:
        return inference_liveness(plan)[1]
    kept = sum(nbytes(plan, s) for outs in plan.out_slots for s in outs)
    producer = {s: i for i, outs in enumerate(plan.out_slots) for s in outs}
    widest = 0
    for i in backward:
        # arguments' gradients are bound arrays, not step memory
        ins = {e for e in plan.in_slots[i] if e in producer}
        widest = max(widest, sum(nbytes(plan, s) for s in set(plan.out_slots[i]) | ins))
    return kept + widest


def debug_str(plan, on_path, grad_dict: dict) -> str:
    """The plan: one line per op node with its output shapes (``[grad]`` on the grad path,
    ``on_path``), the memory report, and MXNet's ``Total N MB allocated`` line
    (``step_bytes``, in whole MiB as MXNet prints it)."""
    lines = []
    for i, n in enumerate(plan.op_nodes):
        shapes = ", ".join(str(plan.slot_shape[s]) for s in plan.out_slots[i])
        mark = " [grad]" if i in on_path else ""
        lines.append("%s  -> %s%s" % (n.line(), shapes, mark))
    total = "Total %d MB allocated" % (step_bytes(plan, on_path) >> 20)
    return "\n".join(lines + [memory_report(plan, grad_dict), total])


__all__ = ["memory_report", "debug_str", "step_bytes"]
