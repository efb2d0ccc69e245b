"""The interpreter: one loop per direction over a step program (``symnorm.runtime.steps``).

``run_forward`` and ``run_backward`` are the only places ops run inside an executor; step
into either with a debugger and each iteration is one named ``ForwardStep``/``BackwardStep``.
An exception escaping an op is reported by ``steps.step_failure`` (node, text line, input
shapes), chained to the original.

Instrumentation is a ``Watch`` passed to the loops: the first-run checks (each op made
the outputs shape inference promised; each backward returned gradients of its inputs'
shapes), ``nan_check`` and the monitor callback.  With nothing to watch the executor passes
``None`` and a loop pays one ``is not None`` test per step.
"""
from __future__ import annotations


import numpy as np

from ..core.errors import OpError
from .steps import step_failure


# ====================================================================== forward

def run_forward(program, values: list, n_nodes: int, train: bool, watch=None):
    """Run ``program`` (``ForwardStep``s) over ``values`` (a list indexed by slot, the
    bound arrays filled in): the outputs are written into it and dead slots set to None.
    Returns ``(saved, staged)``: the backward state per op-node index (None where not
    kept) and the proposed aux values of a training pass per op-node index."""
    saved, staged = [None] * n_nodes, {}
    for step in program:
        ins = step.ins
        try:
            if len(ins) == 1:
                res = step.fn(values[ins[0]], train=train)
            else:
                res = step.fn(*[values[s] for s in ins], train=train)
        except Exception as exc:
            raise step_failure("forward", step, exc) from exc
        if watch is not None:
            watch.forward(step, values, res, train)
        outs = step.outs
        if len(outs) == 1:
            values[outs[0]] = res[0][0]
        else:
            for s, v in zip(outs, res[0]):
                values[s] = v
        if step.saves:
            saved[step.index] = res[2]
        if train and step.proposes and res[1] is not None:
            staged[step.index] = res[1]
        for s in step.frees:
            values[s] = None
    return saved, staged


# ====================================================================== backward

def run_backward(program, arg_slots, saved, head_grads: dict, buffers=None, watch=None) -> dict:
    """Gradients of the argument slots (``arg_slots``): ``{slot: array}``, slots with no
    gradient absent.

    ``program``: the ``BackwardStep``s; ``saved``: what the forward kept per op-node index;
    ``head_grads``: ``{head slot: array}``; ``buffers``: argument slots' final gradient
    buffers, which the last step may write into (``_direct_out``)."""
    grads, owned = dict(head_grads), set()
    pop = grads.pop
    last = program[-1] if (program and buffers) else None
    for step in program:
        gout = step.gout
        try:
            if len(gout) == 1:                      # the common case: no packing
                g = pop(gout[0], None)
                if g is None and not step.loss:
                    continue
                if step is not last:
                    in_grads = step.fn(saved[step.index], g)
                else:
                    in_grads = _last_step(step, grads, buffers, saved, (g,))
            else:
                ogs = [pop(s, None) for s in gout]
                if not step.loss and all(g is None for g in ogs):
                    continue
                if step is not last:
                    in_grads = step.fn(saved[step.index], *ogs)
                else:
                    in_grads = _last_step(step, grads, buffers, saved, ogs)
        except Exception as exc:
            raise step_failure("backward", step, exc) from exc
        if watch is not None:
            watch.backward(step, in_grads)
        for k, slot in step.gin:
            g = in_grads[k]
            if g is not None:
                if slot in grads:
                    _accumulate(grads, owned, slot, g)
                else:
                    grads[slot] = g
    return {s: grads[s] for s in arg_slots if s in grads}


def _accumulate(grads, owned, slot, g):
    """grads[slot] += g without writing into arrays we do not own (an op may return its
    head gradient or a saved array unchanged)."""
    if slot in owned:
        np.add(grads[slot], g, out=grads[slot])
    else:
        grads[slot] = grads[slot] + g
        owned.add(slot)


def _last_step(step, grads, buffers, saved, ogs):
    out = _direct_out(step, grads, buffers)
    return step.fn(saved[step.index], *ogs) if out is None else step.fn(saved[step.index], *ogs, out=out)


def _direct_out(step, grads_so_far, buffers: dict):
    """``out=`` for the last backward step: the final gradient buffers of its argument
    inputs that receive no other gradient.  Written in place, they save a full copy; only
    the last step may, so that a failure in any earlier step leaves every buffer untouched."""
    if not step.gin or not step.writes_out:
        return None
    slots = [s for _, s in step.gin]
    out = [None] * step.n_args
    for k, slot in step.gin:
        if slot in buffers and slot not in grads_so_far and slots.count(slot) == 1:
            out[k] = buffers[slot]
    return tuple(out) if any(o is not None for o in out) else None


# ====================================================================== instrumentation

class Watch:
    """What the loops check or report besides running the ops.

    ``check``       verify every op's outputs (count, shapes) and gradients (count, shapes):
                    an executor does this on the first pass of each mode, since shapes do not
                    change after that
    ``nan_check``   raise ``FloatingPointError`` at the first non-finite output, proposed aux
                    value or argument gradient (the executor also turns off direct gradient
                    writes, so that nothing is changed when it raises)
    ``monitor``     ``callback(name, array)`` for every op output (and input, ``monitor_all``)
                    and every gradient a backward step returns
    """

    def __init__(self, check=False, nan_check=False, monitor=None, monitor_all=False):
        self.check, self.nan_check = check, nan_check
        self.monitor, self.monitor_all = monitor, monitor_all

    def forward(self, step, values, res, train):
        node, outs = step.node, res[0]
        if self.check:
            if len(outs) != len(step.outs):
                raise OpError("%s returned %d outputs, declared %d"
                              % (node.describe(), len(outs), len(step.outs)))
            for v, planned in zip(outs, step.out_shapes):
                if v.shape != planned:
                    raise OpError("%s produced shape %s, shape inference said %s"
                                  % (node.describe(), v.shape, planned))
        if self.nan_check:
            for j, v in enumerate(outs):
                if v.dtype.kind == "f" and not np.isfinite(v).all():
                    raise FloatingPointError("nan_check: %s produced a non-finite value in %r"
                                             % (node.describe(), node.output_name(j)))
        if self.monitor is not None:
            if self.monitor_all:
                # MXNet's order: a variable input under its own name, then every input as
                # "<node>_<slot>"
                for entry, name, s in zip(node.inputs, node.op.input_names(), step.ins):
                    if entry.node.is_variable:
                        self.monitor(entry.node.name, values[s])
                    self.monitor("%s_%s" % (node.name, name), values[s])
            for j in range(node.num_visible()):
                self.monitor(node.output_name(j), outs[j])
        if self.nan_check and train and step.proposes and res[1] is not None:
            for name, value in zip(node.op.aux, res[1]):
                if not all_finite(value):
                    raise FloatingPointError(
                        "nan_check: %s proposed a non-finite %r (the batch statistics are "
                        "not finite)" % (node.describe(), name))

    def backward(self, step, in_grads):
        if self.monitor is not None:
            self._monitor_backward(step, in_grads)
        if not self.check:
            return
        node = step.node
        if len(in_grads) != step.n_args:
            raise OpError("backward of %s returned %d gradients for %d arguments"
                          % (node.describe(), len(in_grads), step.n_args))
        names = node.op.arguments()
        for k, g in enumerate(in_grads):
            if g is not None and g.shape != step.in_shapes[k]:
                raise OpError("backward of %s returned a gradient of shape %s for input %r of "
                              "shape %s" % (node.describe(), g.shape, names[k], step.in_shapes[k]))

    def _monitor_backward(self, step, in_grads):
        # MXNet names a backward node's outputs (one per argument of the forward node, the
        # label's included) "<node>_backward_output", with the argument's position appended
        # when there are several; a gradient nobody asked for is reported as zeros
        base = step.node.name + "_backward_output"
        several = len(in_grads) > 1
        for k, g in enumerate(in_grads):
            if g is None:
                g = np.zeros(step.in_shapes[k], np.float32)
            self.monitor(base + str(k) if several else base, g)

    def gradients(self, arg_slot: dict, grads: dict):
        """nan_check: every argument gradient the backward pass made must be finite."""
        if not self.nan_check:
            return
        for s, g in grads.items():
            if g.dtype.kind == "f" and not np.isfinite(g).all():
                name = next(k for k, v in arg_slot.items() if v == s)
                raise FloatingPointError("nan_check: the gradient of %r is not finite" % name)


def all_finite(a) -> bool:
    """Whether every value of ``a`` is finite (non-float arrays always are)."""
    a = np.asarray(a)
    if a.dtype.kind not in "fc":
        return True
    return bool(np.logical_and.reduce(np.isfinite(a), axis=None))


def all_finite_each(arrays, zeros) -> bool:
    """Whether every value of every array is finite, ``zeros`` holding a zero vector of
    each array's shape (or None), as the executor's aux commit runs every step: one BLAS
    dot per array against its zeros, summed in C.  0·x is 0 for every finite x and NaN for
    inf or NaN, and BLAS raises no floating-point flags (0.3 µs on a C-sized statistic,
    against 1.7 µs for ``isfinite().all()``; a plain sum would overflow on large finite
    values).  Anything the dots do not take (no zero vector, another shape or type) is
    tested value by value."""
    try:
        # float(): a proposal of another rank would make the dots a vector (TypeError)
        return float(sum(map(np.ndarray.dot, arrays, zeros))) == 0.0
    except (TypeError, ValueError):
        return all([all_finite(a) for a in arrays])


__all__ = ["run_forward", "run_backward", "Watch", "all_finite", "all_finite_each"]
