"""Every kernel equals its op's reference, for every capability it declares.

For each registry example and each kernel that can run the example's op (in the standard
layout and batch-last: ``symnorm.runtime.kernels.candidates``), in float64:

* forward outputs and proposed aux values, training and inference, equal the reference's
  (batch-last kernels get the layout-carrying inputs stored ``(C, *S, N)`` and give their
  outputs back that way);
* backward gradients equal the reference's, with every gradient wanted and with each one
  wanted alone (``ctx.need``);
* ``grad_into_buffer``: gradients written into offered buffers equal them too;
* ``writes_into_input``: writing output 0 into (a copy of) input 0 gives the same outputs
  (inference; and training with ``inplace_in_training``, gradients included);
* ``keeps_output`` False: scribbling over the outputs after forward leaves the gradients.
"""
from __future__ import annotations

import numpy as np

from symnorm.runtime.kernels import KernelContext, candidates
from symnorm.runtime.kernels.batch_last import layout_slots
from symnorm.runtime.buffers import workspace

import harness


def kernel_cases():
    """(kernel, layout, op name, example index, params, shapes) for every kernel that can
    run an example's op."""
    out = []
    for name, i, params, shapes in harness.cases():
        node = harness.build(name, params, shapes).entries[0].node
        for layout in ("standard", "batch_last"):
            for k in candidates(node.op, layout):
                if layout == "batch_last" and not _batch_last_applies(k, node, shapes):
                    continue
                out.append((k, layout, name, i, params, shapes))
    return out


def _batch_last_applies(k, node, shapes):
    ins, outs = layout_slots(k, node.op)
    if not ins or not outs:
        return False
    data = shapes.get(node.inputs[ins[0]].node.name)
    return data is not None and len(data) >= 3


def _to_bl(a):
    return np.ascontiguousarray(np.moveaxis(a, 0, -1))


def _from_bl(a):
    return np.moveaxis(a, -1, 0)


def _close(got, want, what):
    if want is None:
        return
    assert got is not None, "%s: the kernel gave None, the reference a value" % what
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11, err_msg=what)


def check_kernel(k, layout, name, params, shapes, rng):
    node, values = harness._op_and_values(name, params, shapes, rng)
    op = node.op
    lay_in, lay_out = layout_slots(k, op) if layout == "batch_last" else ((), ())
    to_k = (lambda i, v: _to_bl(v) if i in lay_in else v)
    from_k = (lambda j, v: _from_bl(v) if j in lay_out else v)
    in_shapes = tuple((_to_bl(v) if i in lay_in else v).shape for i, v in enumerate(values))
    state = k.state(op, layout, in_shapes)

    def run(train, inplace=False, need=None, scribble=False, plain=False):
        ctx = KernelContext(inplace=inplace, layout=layout, workspace=workspace, need=need)
        kv = [to_k(i, v.copy()) for i, v in enumerate(values)]
        if plain:                   # the kernel function itself, not its specialized step
            res = k.forward_fn(state, ctx, *kv, train=train)
        else:
            res = k.bind_forward(op, ctx, state)(*kv, train=train)
        outs = [from_k(j, o).copy() for j, o in enumerate(res[0])]
        if scribble:
            for o in res[0]:
                if o.dtype.kind == "f" and o.flags.writeable:
                    o[...] = np.nan
        return res, outs

    for train in (True, False):
        ref = op.forward(*[v.copy() for v in values], train=train)
        res, outs = run(train)
        what = "%s kernel %s (%s), train=%s" % (name, k.name, layout, train)
        assert len(outs) == len(ref[0]), what
        for j, (a, b) in enumerate(zip(ref[0], outs)):
            _close(b, a, "%s: output %d" % (what, j))
        if ref[1] is not None:
            for a, b in zip(ref[1], res[1]):
                _close(b, a, "%s: proposed aux" % what)
        for plain in ((False, True) if k.specialize else (False,)):
            if k.writes_into_input and (not train or k.inplace_in_training_of(op)):
                _, outs2 = run(train, inplace=True, plain=plain)
                for j, (a, b) in enumerate(zip(ref[0], outs2)):
                    _close(b, a, "%s in place (plain %s): output %d" % (what, plain, j))
            if plain:
                _, outs3 = run(train, plain=True)
                for j, (a, b) in enumerate(zip(ref[0], outs3)):
                    _close(b, a, "%s, the kernel function: output %d" % (what, j))
    if not op.differentiable or op.head_grad == "ignore":
        return
    names = op.arguments()
    ref = op.forward(*[v.copy() for v in values], train=True)
    dys = [rng.normal(0, 1, ref[0][j].shape) for j, n in enumerate(op.output_names())
           if n not in op.no_grad_outputs]
    grad_js = [j for j, n in enumerate(op.output_names()) if n not in op.no_grad_outputs]
    g_ref = op.backward(ref[2], *[d.copy() for d in dys])
    kdys = [(_to_bl(d) if j in lay_out else d) for j, d in zip(grad_js, dys)]
    masks = [tuple(True for _ in names)] + [tuple(i == w for i in range(len(names)))
                                             for w in range(len(names))]
    variants = [(m, False, False) for m in masks] + [(masks[0], True, False)] * k.grad_into_buffer
    if not k.keeps_output_of(op):
        variants.append((masks[0], False, True))
    if k.writes_into_input and k.inplace_in_training_of(op):
        variants.append((masks[0], "inplace", False))
    for need, buffers, scribble in variants:
        res, _ = run(True, inplace=buffers == "inplace", need=need, scribble=scribble)
        ctx = KernelContext(layout=layout, workspace=workspace, need=need)
        fn = k.bind_backward(op, ctx, state)
        if buffers is True:
            out = tuple(np.zeros(to_k(i, v).shape, v.dtype) for i, v in enumerate(values[:len(names)]))
            got = fn(res[2], *[d.copy() for d in kdys], out=out)
        else:
            got = fn(res[2], *[d.copy() for d in kdys])
        for i, (a, b) in enumerate(zip(g_ref, got)):
            if need[i]:
                _close(None if b is None else (_from_bl(b) if i in lay_in else b), a,
                       "%s kernel %s (%s): gradient of %r (need %s, buffers %s, scribbled %s)"
                       % (name, k.name, layout, names[i], need, buffers, scribble))
