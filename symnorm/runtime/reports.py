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


def debug_str(plan, on_path, grad_dict: dict) -> str:
    """The plan: one line per op node with its output shapes (``[grad]`` on the grad path,
    ``on_path``), then the memory report."""
    lines = []
    for i, n in enumerate(plan.op_nodes):
        shapes = ", ".join(str(plan.slot_shape[s]) for s in plan.out_slots[i])
        mark = " [grad]" if i in on_path else ""
        lines.append("%s  -> %s%s" % (n.line(), shapes, mark))
    return "\n".join(lines + [memory_report(plan, grad_dict)])


__all__ = ["memory_report", "debug_str"]
