"""TRANSITIONAL: kernels derived from the execution hints ops still declare (removed once
every op family has moved its fast paths into runtime/kernels)."""
from __future__ import annotations

from .registry import Kernel


def legacy(op, layout):
    cls = type(op)
    if layout == "batch_last":
        if getattr(cls, "batch_last", None) is None:
            return None
        probe = op.batch_last(4)
        if probe is None:
            return None
    needs_comm = getattr(cls, "needs_comm", False)
    inplace = getattr(cls, "inplace", False)
    bout = getattr(cls, "backward_out", False)
    bneed = getattr(cls, "backward_need", False)

    def prepare(op, layout, in_shapes):
        if layout == "batch_last":
            return op.batch_last(len(in_shapes[0]))
        return op

    def fwd(op, ctx, *a, train):
        kw = {}
        if needs_comm:
            kw["comm"] = ctx.comm
        if ctx.inplace:
            kw["out"] = a[0]
        return op.forward(*a, train=train, **kw)

    def bwd(op, ctx, saved, *g):
        kw = {}
        if needs_comm:
            kw["comm"] = ctx.comm
        if bneed:
            kw["need"] = ctx.need
        if bout and ctx.grad_out is not None:
            kw["out"] = ctx.grad_out
        return op.backward(saved, *g, **kw)

    return Kernel(cls, "legacy", fwd, bwd, layout=layout, writes_into_input=inplace,
                  inplace_in_training=lambda op: op.inplace_in_training(),
                  fresh_outputs=getattr(cls, "fresh_outputs", False),
                  keeps_output=lambda op: op.keeps_output(), grad_into_buffer=bout,
                  gain=getattr(cls, "batch_last_gain", False),
                  layout_slots=lambda op: op.batch_last_slots(), prepare=prepare)
